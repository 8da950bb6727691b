//! Garbage collection: uploads nobody uses (no message that is not deleted carries them, no
//! profile shows them) are removed once older than `attachments.unposted_ttl_secs`, with every
//! blob no remaining upload refers to. Staged files a crash left behind are removed at start
//! and at every collection, once an hour old.

use std::time::Duration;

use super::Attachments;
use crate::error::AppError;
use crate::store::attachments::Removed;
use crate::store::Store;

/// Uploads removed per store transaction.
const BATCH: u32 = 256;

/// Staged files older than this are leftovers from a crash.
pub const STALE_STAGING: Duration = Duration::from_secs(60 * 60);

/// Removes every upload not in use made at or before `created_before_ms`, and the blobs that
/// leaves unreferenced. Returns how many uploads went.
pub async fn collect(
    attachments: &Attachments,
    store: &dyn Store,
    created_before_ms: i64,
) -> Result<usize, AppError> {
    let mut total = 0;
    loop {
        let removed = {
            let _refs = attachments.refs.lock().await;
            let removed = store.collect_unused(created_before_ms, BATCH).await?;
            delete_orphans(attachments, &removed).await;
            removed
        };
        total += removed.uploads.len();
        if removed.uploads.len() < BATCH as usize {
            break;
        }
    }
    if total > 0 {
        tracing::info!(uploads = total, "collected unused uploads");
    }
    Ok(total)
}

/// Deletes the blobs a removal left without a reference. Call with `refs` held.
pub(crate) async fn delete_orphans(attachments: &Attachments, removed: &Removed) {
    for sha in &removed.orphans {
        if let Err(err) = attachments.blobs.delete(sha).await {
            // The row is gone; the bytes stay until someone removes them by hand.
            tracing::error!(%err, blob = %sha, "cannot delete blob");
        }
    }
}

/// Removes staged files a crash left behind.
pub async fn clean_staging(attachments: &Attachments) {
    let staging = attachments.staging.clone();
    match tokio::task::spawn_blocking(move || staging.remove_older_than(STALE_STAGING)).await {
        Ok(Ok(0)) => {}
        Ok(Ok(removed)) => tracing::info!(removed, "removed stale staged uploads"),
        Ok(Err(err)) => tracing::warn!(%err, "cannot clean the upload staging directory"),
        Err(err) => tracing::warn!(%err, "staging clean-up failed"),
    }
}
