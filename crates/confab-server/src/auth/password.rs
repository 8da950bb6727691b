//! argon2id password hashing (the crate's defaults: 19 MiB, 2 passes, 1 lane, as OWASP suggests).

use std::sync::{Arc, Mutex};

use argon2::password_hash::{PasswordHash, PasswordVerifier, SaltString};
use argon2::{Argon2, PasswordHasher as _};
use tokio::sync::{mpsc, oneshot};

type Job = Box<dyn FnOnce() + Send>;

/// Hashes and verifies passwords on a few dedicated threads, so at most that many hashes run
/// at once. Dedicated threads matter for memory: each hash takes 19 MiB, and the allocator
/// keeps what a thread freed for that thread; on the blocking pool's many threads a few dozen
/// logins left hundreds of MiB resident.
#[derive(Clone)]
pub struct PasswordHasher {
    jobs: mpsc::Sender<Job>,
}

/// Hashing failed for a reason that is not the caller's (no randomness, the pool stopped).
#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashError(String);

/// Hashes waiting for a thread before callers wait to queue more.
const QUEUE: usize = 256;

impl PasswordHasher {
    /// Starts `threads` hashing threads; they stop once every clone is dropped.
    pub fn new(threads: usize) -> Self {
        let (jobs, rx) = mpsc::channel::<Job>(QUEUE);
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..threads.max(1) {
            let rx = rx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("confab-hash-{i}"))
                .spawn(move || loop {
                    let job = rx.lock().expect("hash queue lock").blocking_recv();
                    match job {
                        Some(job) => job(),
                        None => return,
                    }
                });
            if let Err(err) = spawned {
                tracing::error!(%err, "cannot start a hashing thread");
            }
        }
        Self { jobs }
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
        let (tx, rx) = oneshot::channel();
        self.jobs
            .send(Box::new(move || drop(tx.send(work()))))
            .await
            .map_err(|_| HashError("hashing threads stopped".into()))?;
        rx.await
            .map_err(|_| HashError("hashing thread failed".into()))
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
