//! Login sessions: the tokens a user holds, with the device and address they were minted for
//! and when they were last used, for `GET /api/v1/sessions` and revoking them.

use async_trait::async_trait;

use super::{StoreResult, UserId};
use crate::auth::TokenHash;

/// Where and when a token was minted and last used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenOrigin {
    /// The client's name for itself (`device` at login, else its User-Agent), at most 64 chars.
    pub device: String,
    /// The client's address when the token was minted.
    pub ip: String,
}

/// One stored token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRow {
    pub hash: TokenHash,
    pub origin: TokenOrigin,
    pub created_ms: i64,
    pub last_seen_ms: i64,
}

#[async_trait]
pub trait SessionStore {
    /// Stores a new token for `user`.
    async fn create_session(
        &self,
        user: UserId,
        token: TokenHash,
        origin: TokenOrigin,
    ) -> StoreResult<()>;
    /// The user's tokens, most recently used first.
    async fn sessions(&self, user: UserId) -> StoreResult<Vec<TokenRow>>;
    /// Records when tokens were last used: (token, Unix ms).
    async fn touch_sessions(&self, uses: Vec<(TokenHash, i64)>) -> StoreResult<()>;
    /// Revokes every token of `user` but `keep`; returns those revoked.
    async fn revoke_sessions(
        &self,
        user: UserId,
        keep: Option<TokenHash>,
    ) -> StoreResult<Vec<TokenHash>>;
    /// Replaces the user's password hash and revokes every token but `keep`, in one
    /// transaction; returns the tokens revoked.
    async fn change_password(
        &self,
        user: UserId,
        password_hash: String,
        keep: TokenHash,
    ) -> StoreResult<Vec<TokenHash>>;
}
