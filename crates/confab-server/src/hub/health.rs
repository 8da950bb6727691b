//! Readiness (`/readyz`): whether the server can store what it is sent right now. The store
//! commits a tiny write through the same path as every message, and the upload staging
//! directory takes a one-byte file. Checks run at most once per [`FRESH`]; concurrent callers
//! share one check.

use std::time::{Duration, Instant};

use super::Hub;

/// How long one check's answer is reused.
const FRESH: Duration = Duration::from_secs(1);
/// How long a check may take before the part is reported as not writable.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// What the last check found: `Err` holds why a part cannot be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Readiness {
    pub store: Result<(), String>,
    pub uploads: Result<(), String>,
}

impl Readiness {
    pub fn is_ready(&self) -> bool {
        self.store.is_ok() && self.uploads.is_ok()
    }
}

/// The last check, shared by every caller.
#[derive(Debug, Default)]
pub struct HealthCache(tokio::sync::Mutex<Option<(Instant, Readiness)>>);

impl Hub {
    /// Whether the store and the upload directory can be written now.
    pub async fn readiness(&self) -> Readiness {
        let mut last = self.inner.health.0.lock().await;
        if let Some((at, readiness)) = &*last {
            if at.elapsed() < FRESH {
                return readiness.clone();
            }
        }
        let store = match tokio::time::timeout(CHECK_TIMEOUT, self.store().probe_write()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(err)) => Err(err.to_string()),
            Err(_) => Err("a write did not commit within 2 s".to_owned()),
        };
        let staging = &self.inner.attachments.staging;
        let uploads = match tokio::time::timeout(CHECK_TIMEOUT, staging.probe()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(err)) => Err(format!("cannot write uploads: {err}")),
            Err(_) => Err("an upload write did not finish within 2 s".to_owned()),
        };
        let readiness = Readiness { store, uploads };
        if !readiness.is_ready() {
            tracing::warn!(?readiness, "not ready: storage cannot be written");
        }
        *last = Some((Instant::now(), readiness.clone()));
        readiness
    }
}
