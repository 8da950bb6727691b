//! Durable state behind the [`Store`] trait: users, tokens, conversations (rooms and direct
//! messages), members, messages and delivery cursors. The hub only talks to this trait, so a
//! PostgreSQL backend fits beside [`sqlite`] without touching it.
//!
//! Writes are group-committed: many callers' writes share one transaction. Messages that commit
//! are handed, in commit order, to the [`CommitFeed`] given when the store is opened; that order
//! is the order every session sees, whatever order the callers' futures wake up in.

pub mod attachments;
pub mod ids;
pub mod rooms;
pub mod social;
pub mod sqlite;

use async_trait::async_trait;
use futures_util::future::BoxFuture;

use crate::auth::TokenHash;
pub use attachments::AttachmentStore;
pub use rooms::RoomStore;
pub use social::SocialStore;

pub type UserId = i64;
pub type ConvId = i64;

/// A user as the rest of the server knows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub username: String,
}

/// A user with their password hash, for login only.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub user: User,
    pub password_hash: String,
}

/// What a conversation is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConversationKind {
    /// A room, by its `#name`.
    Room(String),
    /// Direct messages between two users (`a <= b`; equal for notes to self).
    Direct { a: UserId, b: UserId },
}

/// A conversation and its newest sequence number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversation {
    pub id: ConvId,
    pub kind: ConversationKind,
    pub last_seq: u64,
}

/// Everything the hub caches at start: users, conversations and who belongs to which.
#[derive(Debug, Default)]
pub struct Directory {
    pub users: Vec<User>,
    pub conversations: Vec<Conversation>,
    pub members: Vec<(ConvId, UserId)>,
}

/// A message to append.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub conv: ConvId,
    pub sender: User,
    /// `#room`, or the username a direct message was sent to.
    pub receiver: String,
    pub content: String,
    /// The client's frame id: the idempotency key, unique per sender.
    pub client_id: Option<String>,
    /// Opaque to the store: handed back in [`Committed`] (the hub puts the session id here).
    pub origin: u64,
}

/// A message as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    /// Time-sortable id, see [`ids`].
    pub id: String,
    pub conv: ConvId,
    pub seq: u64,
    pub sender: String,
    pub receiver: String,
    pub content: String,
    /// Milliseconds since the Unix epoch.
    pub created_ms: i64,
}

/// The outcome of an append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Appended {
    /// Stored now.
    New(StoredMessage),
    /// The sender already used this client id: the original message, nothing stored.
    Duplicate(StoredMessage),
}

/// A newly committed message, as handed to the [`CommitFeed`].
#[derive(Debug, Clone)]
pub struct Committed {
    pub message: StoredMessage,
    pub client_id: Option<String>,
    pub origin: u64,
}

/// Receives every committed message in commit order. Called on the store's writer; must not
/// block.
pub type CommitFeed = Box<dyn Fn(Committed) + Send + Sync>;

/// Which page of a conversation to read. Sequence bounds are exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    /// The newest messages.
    Latest,
    /// Messages with a smaller sequence number.
    Before(u64),
    /// Messages with a larger sequence number.
    After(u64),
}

/// A conversation of a user's where their delivery cursor lags its newest message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unread {
    pub conv: ConvId,
    pub cursor: u64,
    pub last_seq: u64,
}

/// Why a store call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("not found: {0}")]
    NotFound(String),
    #[error("storage failure: {0}")]
    Backend(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Durable state. Every method is safe to call from many tasks at once. Each area's methods
/// live in their own trait ([`AttachmentStore`], [`RoomStore`], [`SocialStore`]).
#[async_trait]
pub trait Store: AttachmentStore + RoomStore + SocialStore + Send + Sync + 'static {
    /// Creates a user and makes them a member of `default_room` (created if missing), in one
    /// transaction. A taken username is [`StoreError::Conflict`].
    async fn create_user(
        &self,
        username: &str,
        password_hash: &str,
        default_room: &str,
    ) -> StoreResult<(User, Conversation)>;
    async fn credentials(&self, username: &str) -> StoreResult<Option<Credentials>>;
    async fn create_token(&self, user: UserId, token: TokenHash) -> StoreResult<()>;
    async fn user_by_token(&self, token: TokenHash) -> StoreResult<Option<User>>;
    /// Whether a token existed (and is now revoked).
    async fn revoke_token(&self, token: TokenHash) -> StoreResult<bool>;
    /// All users, conversations and memberships.
    async fn directory(&self) -> StoreResult<Directory>;
    /// The room with this name, created (empty) if missing.
    async fn room(&self, name: &str) -> StoreResult<Conversation>;
    /// Adds a member; their cursor starts at the room's newest message. False if already one.
    async fn join(&self, conv: ConvId, user: UserId) -> StoreResult<bool>;
    /// Removes a member. False if they were not one.
    async fn leave(&self, conv: ConvId, user: UserId) -> StoreResult<bool>;
    /// The direct conversation of two users, created with both as members if missing.
    async fn direct(&self, a: UserId, b: UserId) -> StoreResult<Conversation>;
    /// Appends a message. The write is queued before this returns, so appends from one caller
    /// commit in call order; the future resolves after the commit.
    fn append(&self, message: NewMessage) -> BoxFuture<'static, StoreResult<Appended>>;
    /// Up to `limit` messages, oldest first, and whether more lie beyond in that direction.
    async fn page(
        &self,
        conv: ConvId,
        page: Page,
        limit: u32,
    ) -> StoreResult<(Vec<StoredMessage>, bool)>;
    /// The sequence number of a message in a conversation.
    async fn seq_of(&self, conv: ConvId, message_id: &str) -> StoreResult<Option<u64>>;
    /// The user's conversations where their cursor is behind.
    async fn unread(&self, user: UserId) -> StoreResult<Vec<Unread>>;
    /// Raises delivery cursors (never lowers them).
    async fn save_cursors(&self, cursors: Vec<(UserId, ConvId, u64)>) -> StoreResult<()>;
    /// Commits everything queued and stops the writer.
    async fn close(&self);
}
