//! Session tokens: 32 random bytes shown to the client once as 64 hex characters. The store only
//! ever sees their SHA-256, so a leaked database holds no usable token. `Token` does not print
//! itself, so a token cannot end up in a log by accident.

use std::fmt;

use sha2::{Digest, Sha256};

/// A token as the client holds it.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

/// The SHA-256 of a token: what the store keeps and looks up.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenHash(pub [u8; 32]);

impl Token {
    /// A fresh random token.
    pub fn generate() -> Result<Self, getrandom::Error> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes)?;
        Ok(Self(hex(&bytes)))
    }

    /// Wraps a token a client presented.
    pub fn from_client(raw: &str) -> Self {
        Self(raw.trim().to_owned())
    }

    /// The token text, for the one response that hands it to its owner.
    pub fn reveal(&self) -> &str {
        &self.0
    }

    pub fn hash(&self) -> TokenHash {
        TokenHash(Sha256::digest(self.0.as_bytes()).into())
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenHash({}…)", &hex(&self.0[..4]))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_hex_and_hash_stably() {
        let a = Token::generate().unwrap();
        let b = Token::generate().unwrap();
        assert_eq!(a.reveal().len(), 64);
        assert!(a.reveal().bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
        assert_eq!(a.hash(), Token::from_client(a.reveal()).hash());
        assert_ne!(a.hash(), b.hash());
        assert!(!format!("{a:?}").contains(a.reveal()));
    }
}
