//! The size limits the protocol enforces. The server fills them from its configuration and
//! announces them in `ready`, so clients can check before sending.

use serde::{Deserialize, Serialize};

/// Size limits applied while decoding client frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Limits {
    /// Largest frame accepted, in bytes. Bigger frames close the connection (1009).
    pub max_frame_bytes: usize,
    /// Largest message content, in bytes of UTF-8. Bigger content gets `too_large`.
    pub max_content_bytes: usize,
    /// Most messages one history page returns; larger `limit`s are capped to it.
    pub max_history_limit: u32,
}

impl Limits {
    /// Default frame limit: 64 KiB.
    pub const DEFAULT_MAX_FRAME_BYTES: usize = 64 * 1024;
    /// Default content limit: 4096 bytes.
    pub const DEFAULT_MAX_CONTENT_BYTES: usize = 4096;
    /// Default (and suggested) history page cap: 100.
    pub const DEFAULT_MAX_HISTORY_LIMIT: u32 = 100;
    /// Longest client-chosen frame `id`, in bytes.
    pub const MAX_CLIENT_ID_BYTES: usize = 64;
    /// Longest token (a session token or a JWT) accepted, in bytes.
    pub const MAX_TOKEN_BYTES: usize = 8192;
    /// Most `cursors` one `login` may carry.
    pub const MAX_LOGIN_CURSORS: usize = 1000;
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_frame_bytes: Self::DEFAULT_MAX_FRAME_BYTES,
            max_content_bytes: Self::DEFAULT_MAX_CONTENT_BYTES,
            max_history_limit: Self::DEFAULT_MAX_HISTORY_LIMIT,
        }
    }
}
