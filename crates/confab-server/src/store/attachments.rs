//! Uploads and the blob-store index: which upload is whose, and who may read it.

use async_trait::async_trait;

/// Uploads and the blob-store index: which upload is whose, and who may read it.
#[async_trait]
pub trait AttachmentStore: Send + Sync {}
