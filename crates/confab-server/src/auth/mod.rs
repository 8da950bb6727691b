//! Credentials: argon2id password hashes ([`password`]) and opaque session tokens ([`token`]).
//! Hashing is CPU- and memory-heavy, so it runs on the blocking pool behind a semaphore that
//! bounds how many hashes run at once (a login flood cannot exhaust memory).

pub mod jwt;
pub mod password;
pub mod token;

pub use password::PasswordHasher;
pub use token::{Token, TokenHash};
