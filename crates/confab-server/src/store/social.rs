//! Profiles, contacts, room invitations and invite links.

use async_trait::async_trait;

/// Profiles, contacts, room invitations and invite links.
#[async_trait]
pub trait SocialStore: Send + Sync {}
