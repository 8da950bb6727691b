//! Receiving an upload: the request body is streamed into a staged file and hashed as it comes,
//! never held whole in memory, and cut off as soon as it passes the size limit. Also the
//! per-user bounds on uploads (how many at once, how many a minute).

use std::fmt::Display;
use std::time::Duration;

use bytes::Bytes;
use dashmap::DashMap;
use futures_util::{Stream, StreamExt};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use super::detect::HEAD_BYTES;
use super::staging::{Staged, Staging};
use crate::error::AppError;
use crate::hub::ratelimit::TokenBucket;
use crate::store::UserId;
use confab_protocol::ErrorCode;

/// Write buffer between the body and the staged file.
const WRITE_BUFFER: usize = 64 * 1024;

/// A body received whole.
#[derive(Debug)]
pub struct Received {
    pub staged: Staged,
    pub size: u64,
    /// Lowercase hex SHA-256.
    pub sha256: String,
    /// The first bytes, for type detection.
    pub head: Vec<u8>,
}

pub fn too_large(max_bytes: u64) -> AppError {
    AppError::new(
        ErrorCode::TooLarge,
        format!("an upload may have at most {max_bytes} bytes"),
    )
}

fn io_failure(err: std::io::Error) -> AppError {
    AppError::io("cannot stage upload", &err)
}

/// Streams `body` into a new staged file. Fails with `too_large` past `max_bytes`, with
/// `bad_request` if the body breaks off, is empty or stalls for `idle`; the staged file is
/// removed on every failure.
pub async fn receive<S, E>(
    staging: &Staging,
    mut body: S,
    max_bytes: u64,
    idle: Duration,
) -> Result<Received, AppError>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: Display,
{
    let (staged, file) = staging.create().await.map_err(io_failure)?;
    let mut file = tokio::io::BufWriter::with_capacity(WRITE_BUFFER, file);
    let mut hasher = Sha256::new();
    let mut head = Vec::new();
    let mut size: u64 = 0;
    loop {
        let chunk = match tokio::time::timeout(idle, body.next()).await {
            Err(_) => {
                return Err(AppError::bad_request(format!(
                    "the upload stalled for {}s",
                    idle.as_secs()
                )))
            }
            Ok(None) => break,
            Ok(Some(Err(err))) => {
                tracing::debug!(%err, "upload broke off");
                return Err(AppError::bad_request(format!(
                    "the upload broke off: {err}"
                )));
            }
            Ok(Some(Ok(chunk))) => chunk,
        };
        size += chunk.len() as u64;
        if size > max_bytes {
            return Err(too_large(max_bytes));
        }
        if head.len() < HEAD_BYTES {
            let take = (HEAD_BYTES - head.len()).min(chunk.len());
            head.extend_from_slice(&chunk[..take]);
        }
        hasher.update(&chunk);
        file.write_all(&chunk).await.map_err(io_failure)?;
    }
    if size == 0 {
        return Err(AppError::bad_request("the upload is empty"));
    }
    file.flush().await.map_err(io_failure)?;
    // On disk before the row that names it commits.
    file.get_ref().sync_all().await.map_err(io_failure)?;
    let sha256 = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok(Received {
        staged,
        size,
        sha256,
        head,
    })
}

/// Per-user bounds on uploads: at most `max_active` at once, and a token bucket on starts.
pub struct UploadSlots {
    max_active: usize,
    per_sec: f64,
    burst: f64,
    active: DashMap<UserId, usize>,
    starts: DashMap<UserId, TokenBucket>,
}

/// An upload in progress; frees its slot on drop.
pub struct Slot<'a> {
    slots: &'a UploadSlots,
    user: UserId,
}

impl UploadSlots {
    pub fn new(max_active: usize, per_minute: f64, burst: f64) -> Self {
        Self {
            max_active,
            per_sec: per_minute / 60.0,
            burst,
            active: DashMap::new(),
            starts: DashMap::new(),
        }
    }

    /// A slot for one more upload by `user`, or `rate_limited`.
    pub fn acquire(&self, user: UserId) -> Result<Slot<'_>, AppError> {
        {
            let mut active = self.active.entry(user).or_insert(0);
            if *active >= self.max_active {
                return Err(AppError::new(
                    ErrorCode::RateLimited,
                    format!(
                        "at most {} uploads at a time; wait for one to finish",
                        self.max_active
                    ),
                ));
            }
            let allowed = self
                .starts
                .entry(user)
                .or_insert_with(|| TokenBucket::new(self.per_sec, self.burst))
                .try_take();
            if !allowed {
                return Err(AppError::new(
                    ErrorCode::RateLimited,
                    "too many uploads; slow down",
                ));
            }
            *active += 1;
        }
        Ok(Slot { slots: self, user })
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.slots.active.remove_if_mut(&self.user, |_, active| {
            *active -= 1;
            *active == 0
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(
        parts: Vec<Result<&'static [u8], &'static str>>,
    ) -> impl Stream<Item = Result<Bytes, &'static str>> + Unpin {
        futures_util::stream::iter(parts.into_iter().map(|p| p.map(Bytes::from_static)))
    }

    #[tokio::test]
    async fn streams_hashes_and_cleans_up_on_failure() {
        let dir = tempfile::tempdir().unwrap();
        let staging = Staging::open(dir.path()).unwrap();
        let idle = Duration::from_secs(5);
        let got = receive(&staging, chunks(vec![Ok(b"hel"), Ok(b"lo")]), 10, idle)
            .await
            .unwrap();
        assert_eq!(got.size, 5);
        assert_eq!(
            got.sha256,
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
        assert_eq!(got.head, b"hello");
        assert_eq!(std::fs::read(got.staged.path()).unwrap(), b"hello");
        drop(got);
        let count = || std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(count(), 0);

        let err = receive(
            &staging,
            chunks(vec![Ok(b"123456"), Ok(b"78901")]),
            10,
            idle,
        )
        .await
        .unwrap_err();
        assert_eq!(err.code, ErrorCode::TooLarge);
        let err = receive(&staging, chunks(vec![Ok(b"12"), Err("reset")]), 10, idle)
            .await
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::BadRequest);
        let err = receive(&staging, chunks(vec![]), 10, idle)
            .await
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::BadRequest);
        assert_eq!(count(), 0);
    }

    #[test]
    fn slots_bound_concurrency_and_rate() {
        let slots = UploadSlots::new(2, 60.0, 3.0);
        let a = slots.acquire(1).unwrap();
        let _b = slots.acquire(1).unwrap();
        assert_eq!(slots.acquire(1).err().unwrap().code, ErrorCode::RateLimited);
        let _other = slots.acquire(2).unwrap();
        drop(a);
        let c = slots.acquire(1).unwrap();
        drop(c);
        // Three starts used the burst of 3.
        assert_eq!(slots.acquire(1).err().unwrap().code, ErrorCode::RateLimited);
    }
}
