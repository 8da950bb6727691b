//! Profiles, contacts, room invitations and invite links.

use async_trait::async_trait;

use super::{ConvId, StoreResult, UserId};

/// A user's profile as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoredProfile {
    /// Empty when the user has none.
    pub display_name: String,
    pub status_text: String,
    /// The avatar's upload id.
    pub avatar_id: Option<String>,
    /// The avatar's upload as the protocol shows it (JSON), captured when it was set.
    pub avatar_json: Option<String>,
}

/// What `set_profile` changes; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfileChange {
    pub display_name: Option<String>,
    pub status_text: Option<String>,
    /// `Some(None)` removes the avatar; `Some(Some((id, json)))` sets it.
    pub avatar: Option<Option<(String, String)>>,
}

/// The outcome of adding a contact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContactAdded {
    Added,
    /// Already a contact: nothing changed.
    Already,
    /// The user has the most contacts allowed: nothing changed.
    Full,
}

/// A pending invitation into a room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredInvitation {
    pub id: String,
    pub conv: ConvId,
    pub inviter: UserId,
    pub invitee: UserId,
    pub created_ms: i64,
}

/// The outcome of inviting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invited {
    New(StoredInvitation),
    /// The user already had an invitation into that room: it stays as it was.
    Existing(StoredInvitation),
    /// The user has the most pending invitations allowed: nothing stored.
    Full,
}

/// An invite link to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLink {
    pub code: String,
    pub conv: ConvId,
    pub creator: UserId,
    pub expires_ms: i64,
    pub max_uses: u32,
}

/// An invite link as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredLink {
    pub code: String,
    pub conv: ConvId,
    pub creator: UserId,
    pub created_ms: i64,
    pub expires_ms: i64,
    pub max_uses: u32,
    pub uses: u32,
    pub revoked: bool,
}

/// The outcome of creating an invite link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkCreated {
    Created(StoredLink),
    /// The room has the most live links allowed: nothing stored.
    Full,
}

/// The outcome of taking one use of an invite link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkUse {
    /// One use counted; the link as it is now.
    Taken(StoredLink),
    /// Expired, used up or revoked: nothing counted.
    Dead(StoredLink),
    /// No such code.
    Unknown,
}

/// Profiles, contacts, room invitations and invite links.
#[async_trait]
pub trait SocialStore: Send + Sync {
    /// A user's profile (`None` if there is no such user).
    async fn profile(&self, user: UserId) -> StoreResult<Option<StoredProfile>>;
    /// Changes the fields given and returns the whole profile as it now is.
    async fn set_profile(&self, user: UserId, change: ProfileChange) -> StoreResult<StoredProfile>;
    /// The user's contacts with their profiles (in no particular order).
    async fn contacts(&self, user: UserId) -> StoreResult<Vec<(UserId, StoredProfile)>>;
    /// Every (user, contact) pair, to load the hub's directory.
    async fn contact_pairs(&self) -> StoreResult<Vec<(UserId, UserId)>>;
    /// Adds a contact unless the user already has `max` of them, counted in the same write.
    async fn add_contact(
        &self,
        user: UserId,
        contact: UserId,
        max: usize,
    ) -> StoreResult<ContactAdded>;
    /// Removes a contact. False if it was not one.
    async fn remove_contact(&self, user: UserId, contact: UserId) -> StoreResult<bool>;
    /// Invites `invitee` into `conv` unless they already have an invitation there, or
    /// `max_pending` of them.
    async fn invite(
        &self,
        conv: ConvId,
        inviter: UserId,
        invitee: UserId,
        max_pending: usize,
    ) -> StoreResult<Invited>;
    /// The user's pending invitations, oldest first.
    async fn invitations(&self, invitee: UserId) -> StoreResult<Vec<StoredInvitation>>;
    async fn invitation(&self, id: &str) -> StoreResult<Option<StoredInvitation>>;
    /// Deletes an invitation. False if it was already gone.
    async fn delete_invitation(&self, id: &str) -> StoreResult<bool>;
    /// Creates an invite link unless the room has `max_live` live links at `now_ms`.
    async fn create_link(
        &self,
        link: NewLink,
        max_live: usize,
        now_ms: i64,
    ) -> StoreResult<LinkCreated>;
    /// A room's links that are live at `now_ms`, oldest first.
    async fn live_links(&self, conv: ConvId, now_ms: i64) -> StoreResult<Vec<StoredLink>>;
    async fn link(&self, code: &str) -> StoreResult<Option<StoredLink>>;
    /// Marks a link revoked. False if there is no such code.
    async fn revoke_link(&self, code: &str) -> StoreResult<bool>;
    /// Counts one use if the link is live at `now_ms`: check and count in one write, so two
    /// redeemers of a link's last use cannot both get it.
    async fn take_link_use(&self, code: &str, now_ms: i64) -> StoreResult<LinkUse>;
    /// Gives back a use taken by [`SocialStore::take_link_use`] when what it was for failed.
    async fn release_link_use(&self, code: &str) -> StoreResult<()>;
}
