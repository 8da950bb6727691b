//! argon2id password hashing (the crate's defaults: 19 MiB, 2 passes, 1 lane, as OWASP suggests).

use std::sync::Arc;

use argon2::password_hash::{PasswordHash, PasswordVerifier, SaltString};
use argon2::{Argon2, PasswordHasher as _};
use tokio::sync::Semaphore;

/// Hashes and verifies passwords off the async threads, a bounded number at a time.
#[derive(Clone)]
pub struct PasswordHasher {
    permits: Arc<Semaphore>,
}

/// Hashing failed for a reason that is not the caller's (no randomness, a task panic).
#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashError(String);

impl PasswordHasher {
    /// At most `concurrency` hashes run at once.
    pub fn new(concurrency: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
        }
    }

    /// A PHC-format argon2id hash of the password with a fresh random salt.
    pub async fn hash(&self, password: &str) -> Result<String, HashError> {
        let password = password.to_owned();
        self.run(move || {
            let mut salt = [0u8; 16];
            getrandom::fill(&mut salt).map_err(|e| HashError(e.to_string()))?;
            let salt = SaltString::encode_b64(&salt).map_err(|e| HashError(e.to_string()))?;
            Argon2::default()
                .hash_password(password.as_bytes(), &salt)
                .map(|hash| hash.to_string())
                .map_err(|e| HashError(e.to_string()))
        })
        .await?
    }

    /// Whether the password matches the stored hash. A malformed hash never matches.
    pub async fn verify(&self, password: &str, hash: &str) -> Result<bool, HashError> {
        let password = password.to_owned();
        let hash = hash.to_owned();
        self.run(move || match PasswordHash::new(&hash) {
            Ok(parsed) => Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok(),
            Err(_) => false,
        })
        .await
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, HashError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| HashError(e.to_string()))?;
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|e| HashError(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_are_argon2id_salted_and_verify() {
        let hasher = PasswordHasher::new(2);
        let a = hasher.hash("correct horse").await.unwrap();
        let b = hasher.hash("correct horse").await.unwrap();
        assert!(a.starts_with("$argon2id$"));
        assert_ne!(a, b, "salts differ");
        assert!(hasher.verify("correct horse", &a).await.unwrap());
        assert!(!hasher.verify("wrong horse", &a).await.unwrap());
        assert!(!hasher.verify("correct horse", "not a hash").await.unwrap());
    }
}
