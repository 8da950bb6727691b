//! Error codes carried by `error` frames and by REST error bodies.

use serde::{Deserialize, Serialize};

/// What went wrong, as a stable machine-readable code. The human text travels beside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The frame or request is malformed: invalid JSON, a missing or mistyped field, an unknown
    /// type, a bad name, empty content, a binary frame.
    BadRequest,
    /// Not logged in, or the credentials are wrong.
    Unauthorized,
    /// Logged in, but not allowed: a spoofed sender, a room the user is not in.
    Forbidden,
    /// The receiver, room or message does not exist.
    NotFound,
    /// Content or a frame is over its size limit.
    TooLarge,
    /// Too many frames in too short a time; wait and retry.
    RateLimited,
    /// The request clashes with existing state (a username already taken).
    Conflict,
    /// The server failed; the request may be retried. Nothing was stored.
    Internal,
    /// The thing existed but is no more: an expired, used-up or revoked invite, a deleted
    /// message that cannot be edited or reacted to.
    Gone,
    /// The user is banned from the room.
    Banned,
    /// The user is muted in the room and may not post until the mute ends.
    Muted,
    /// The room's password is missing or wrong.
    WrongPassword,
    /// The server cannot store anything right now (its disk is full, its database cannot be
    /// reached). Nothing was stored; retry the same frame (with the same `id`) later.
    Unavailable,
}

impl ErrorCode {
    /// Every code.
    pub const ALL: [ErrorCode; 13] = [
        Self::BadRequest,
        Self::Unauthorized,
        Self::Forbidden,
        Self::NotFound,
        Self::TooLarge,
        Self::RateLimited,
        Self::Conflict,
        Self::Internal,
        Self::Gone,
        Self::Banned,
        Self::Muted,
        Self::WrongPassword,
        Self::Unavailable,
    ];

    /// The code as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BadRequest => "bad_request",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden => "forbidden",
            Self::NotFound => "not_found",
            Self::TooLarge => "too_large",
            Self::RateLimited => "rate_limited",
            Self::Conflict => "conflict",
            Self::Internal => "internal",
            Self::Gone => "gone",
            Self::Banned => "banned",
            Self::Muted => "muted",
            Self::WrongPassword => "wrong_password",
            Self::Unavailable => "unavailable",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_match_as_str() {
        for code in ErrorCode::ALL {
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
        }
    }
}
