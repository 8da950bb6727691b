//! Room settings and host powers: visibility, password, topic, roles, mutes and bans.

use async_trait::async_trait;

/// Room settings and host powers: visibility, password, topic, roles, mutes and bans.
#[async_trait]
pub trait RoomStore: Send + Sync {}
