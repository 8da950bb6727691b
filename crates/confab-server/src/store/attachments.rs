//! Uploads and the blob-store index: which upload is whose, and who may read it.
//!
//! A row is one upload; its bytes are a blob named by their SHA-256 (see
//! [`crate::attachments::BlobStore`]). Rows may share a blob. The store never touches blobs: the
//! calls that remove rows say which blobs no row refers to any more, and the caller deletes them.

use async_trait::async_trait;
use confab_protocol::{AttachmentInfo, AttachmentKind};

use super::{StoreResult, UserId};

/// An upload as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAttachment {
    pub id: String,
    pub uploader: UserId,
    /// Lowercase hex SHA-256 of the bytes: the blob's name.
    pub sha256: String,
    pub size: u64,
    /// The media type detected from the bytes (never the client's word).
    pub mime: String,
    pub kind: AttachmentKind,
    /// The cleaned file name.
    pub name: String,
    /// Pixel dimensions, for images.
    pub width: Option<u32>,
    pub height: Option<u32>,
    /// The preview, for images.
    pub thumbnail: Option<Thumbnail>,
    /// Milliseconds since the Unix epoch.
    pub created_ms: i64,
}

/// An image's preview: a blob of its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thumbnail {
    pub sha256: String,
    pub mime: String,
}

impl StoredAttachment {
    /// The upload as clients see it.
    pub fn info(&self) -> AttachmentInfo {
        AttachmentInfo {
            id: self.id.clone(),
            kind: self.kind,
            name: self.name.clone(),
            mime: self.mime.clone(),
            size: self.size,
            width: self.width,
            height: self.height,
            url: format!("/api/v1/attachments/{}", self.id),
            thumbnail_url: self
                .thumbnail
                .as_ref()
                .map(|_| format!("/api/v1/attachments/{}/thumbnail", self.id)),
        }
    }

    /// Every blob the upload refers to.
    pub fn blobs(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.sha256.as_str())
            .chain(self.thumbnail.iter().map(|t| t.sha256.as_str()))
    }
}

/// What a removal took away.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Removed {
    /// The upload ids whose rows are gone.
    pub uploads: Vec<String>,
    /// Blobs that no remaining row refers to (bytes or thumbnail): the caller deletes them.
    pub orphans: Vec<String>,
}

/// Uploads and the blob-store index: which upload is whose, and who may read it.
///
/// An upload is *in use* while a message that is not deleted carries it
/// (`messages.attachment_id`, `deleted_ms IS NULL`) or it is some user's avatar
/// (`users.avatar_id`).
#[async_trait]
pub trait AttachmentStore: Send + Sync {
    /// Records an upload whose blobs are already stored. An existing id is a conflict.
    async fn insert_attachment(&self, upload: StoredAttachment) -> StoreResult<()>;
    /// The upload with this id, whoever may read it.
    async fn attachment(&self, id: &str) -> StoreResult<Option<StoredAttachment>>;
    /// The upload with this id if `reader` may fetch it: they uploaded it, or they are a member
    /// of a conversation where a message that is not deleted carries it, or it is some user's
    /// avatar. `None` otherwise, exactly as if it did not exist.
    async fn readable_attachment(
        &self,
        id: &str,
        reader: UserId,
    ) -> StoreResult<Option<StoredAttachment>>;
    /// Removes the upload unless it is still in use.
    async fn erase_attachment(&self, id: &str) -> StoreResult<Removed>;
    /// Removes up to `limit` uploads made at or before `created_before_ms` that are not in use.
    async fn collect_unused(&self, created_before_ms: i64, limit: u32) -> StoreResult<Removed>;
    /// Whether some upload refers to this blob (as its bytes or its thumbnail).
    async fn blob_in_use(&self, sha256: &str) -> StoreResult<bool>;
}
