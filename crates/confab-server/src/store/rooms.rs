//! Room settings and host powers: visibility, password, topic, roles, mutes and bans.

use async_trait::async_trait;
use confab_protocol::{Role, Visibility};

use super::{ConvId, Conversation, StoreResult, UserId};

/// A room's settings.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct RoomSettings {
    pub visibility: Visibility,
    /// argon2id hash (PHC string); `None` when the room has no password.
    pub password_hash: Option<String>,
    pub topic: String,
}

impl std::fmt::Debug for RoomSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoomSettings")
            .field("visibility", &self.visibility)
            .field("has_password", &self.password_hash.is_some())
            .field("topic", &self.topic)
            .finish()
    }
}

/// Everything the hub caches about rooms at start.
#[derive(Debug, Default)]
pub struct RoomSnapshot {
    /// Every room that is not deleted, with its settings.
    pub rooms: Vec<(ConvId, RoomSettings)>,
    /// Owners and moderators (plain members are left out).
    pub roles: Vec<(ConvId, UserId, Role)>,
    /// Mutes still running: room, user, end in ms since the epoch.
    pub mutes: Vec<(ConvId, UserId, i64)>,
    pub bans: Vec<(ConvId, UserId)>,
    /// Rooms that were deleted (their emptied rows stay so the ids are never reused).
    pub deleted: Vec<ConvId>,
}

/// What asking to let a user into a room did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// They are a member now.
    Joined,
    /// They already were one.
    AlreadyMember,
    /// They are banned from the room: nothing changed.
    Banned,
}

/// A change to a room's settings; `None` leaves a setting as it is.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SettingsChange {
    pub topic: Option<String>,
    /// `Some(None)` clears the password.
    pub password_hash: Option<Option<String>>,
}

/// Room settings and host powers: visibility, password, topic, roles, mutes and bans. Methods
/// on a room that does not exist (or was deleted) fail with `NotFound`.
#[async_trait]
pub trait RoomStore: Send + Sync {
    /// Settings, roles, running mutes, bans and deleted rooms.
    async fn room_snapshot(&self) -> StoreResult<RoomSnapshot>;
    /// Creates a room with `owner` as its owner and only member, in one transaction. A taken
    /// name is `Conflict`.
    async fn create_room(
        &self,
        name: &str,
        owner: UserId,
        settings: RoomSettings,
    ) -> StoreResult<Conversation>;
    /// Adds a member (cursor at the room's newest message) unless they are banned; the ban
    /// check and the insert are one transaction.
    async fn admit_member(&self, conv: ConvId, user: UserId) -> StoreResult<Admission>;
    /// Bans a user, removing their membership. Returns (newly banned, was a member).
    async fn ban_user(&self, conv: ConvId, user: UserId, by: UserId) -> StoreResult<(bool, bool)>;
    /// Lifts a ban; false if there was none.
    async fn unban_user(&self, conv: ConvId, user: UserId) -> StoreResult<bool>;
    /// Mutes a member until `until_ms` (replacing a running mute). `NotFound` if not a member.
    async fn mute_user(
        &self,
        conv: ConvId,
        user: UserId,
        until_ms: i64,
        by: UserId,
    ) -> StoreResult<()>;
    /// Ends a mute; false if there was none.
    async fn unmute_user(&self, conv: ConvId, user: UserId) -> StoreResult<bool>;
    /// Changes the topic and/or the password.
    async fn change_settings(&self, conv: ConvId, change: SettingsChange) -> StoreResult<()>;
    /// Sets a member's role (moderator or member; never the owner's). `NotFound` if `user` is
    /// not a member or is the owner.
    async fn set_role(&self, conv: ConvId, user: UserId, role: Role) -> StoreResult<()>;
    /// Makes member `to` the owner and the owner `from` a moderator, in one transaction.
    async fn transfer_ownership(&self, conv: ConvId, from: UserId, to: UserId) -> StoreResult<()>;
    /// Erases the room: its messages (and their reactions, search entries), members, cursors,
    /// read markers, mutes, bans, invitations and invite links; frees the name. Returns the
    /// attachment ids its messages carried, for the blob store to forget.
    async fn delete_room(&self, conv: ConvId) -> StoreResult<Vec<String>>;
    /// Erases what reached deleted rooms after their deletion (a message committed in the same
    /// instant). Run at start; returns attachment ids as `delete_room` does.
    async fn sweep_deleted_rooms(&self) -> StoreResult<Vec<String>>;
}
