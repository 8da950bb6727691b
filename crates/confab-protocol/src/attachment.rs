//! Attachments as messages carry them: the upload's id and what the server found out about it.

use serde::{Deserialize, Serialize};

/// What kind of file an attachment is, detected by the server from its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttachmentKind {
    Image,
    Audio,
    Video,
    File,
}

impl AttachmentKind {
    /// The kind as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Image => "image",
            Self::Audio => "audio",
            Self::Video => "video",
            Self::File => "file",
        }
    }
}

/// An uploaded file, as it appears in a message or a profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachmentInfo {
    /// The upload's id, as `POST /api/v1/attachments` returned it.
    pub id: String,
    pub kind: AttachmentKind,
    /// The file name the uploader gave, cleaned of any path.
    pub name: String,
    /// The media type detected from the bytes.
    pub mime: String,
    /// Size in bytes.
    pub size: u64,
    /// Pixel dimensions, for images.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    /// Where to fetch the bytes (relative to the server; needs the bearer token).
    pub url: String,
    /// Where to fetch a small preview, for images.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumbnail_url: Option<String>,
}
