//! Durable state behind the [`Store`] trait: users, tokens, conversations (rooms and direct
//! messages), members, messages and delivery cursors. The hub only talks to this trait; the
//! backends are [`sqlite`] (one node, the default) and [`postgres`] (several nodes on one
//! database), and the same test suite (`tests/`) runs against both.
//!
//! Writes are group-committed: many callers' writes share one transaction. Messages that commit
//! are handed, in commit order, to the [`CommitFeed`] given when the store is opened; that order
//! is the order every session sees, whatever order the callers' futures wake up in.

pub mod attachments;
pub mod ids;
pub mod postgres;
pub mod rooms;
pub mod sessions;
pub mod social;
pub mod sqlite;
#[cfg(test)]
mod tests;

use async_trait::async_trait;
use futures_util::future::BoxFuture;

use confab_protocol::messaging::{Change, Location, MessageKind, Reaction, ReplyPreview};
use confab_protocol::AttachmentInfo;

use crate::auth::TokenHash;
pub use attachments::AttachmentStore;
pub use rooms::RoomStore;
pub use sessions::SessionStore;
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

/// A message or a change to one, to append to a conversation. Every entry takes the
/// conversation's next sequence number, so catch-up replays changes like messages.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub conv: ConvId,
    pub sender: User,
    /// `#room`, or the username a direct message was sent to.
    pub receiver: String,
    pub entry: NewEntry,
    /// The client's frame id: the idempotency key, unique per sender.
    pub client_id: Option<String>,
    /// Opaque to the store: handed back in [`Committed`] (the hub puts the session id here).
    pub origin: u64,
}

/// What is appended.
#[derive(Debug, Clone)]
pub enum NewEntry {
    /// A new message.
    Post(Post),
    /// New content for the sender's own message `target`.
    Edit { target: String, content: String },
    /// Erase `target`: the sender's own, or anyone's when `moderator` is set.
    Delete { target: String, moderator: bool },
    /// Toggle the sender's `emoji` on `target`; at most `max_emojis` distinct ones per message.
    React {
        target: String,
        emoji: String,
        max_emojis: usize,
    },
}

/// A new message's body.
#[derive(Debug, Clone, Default)]
pub struct Post {
    pub kind: MessageKind,
    pub content: String,
    pub attachment: Option<AttachmentInfo>,
    pub location: Option<Location>,
    /// The id of a message in the same conversation that this one answers.
    pub reply_to: Option<String>,
}

/// A conversation entry as stored: a message, or an update about one.
#[derive(Debug, Clone, PartialEq)]
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
    pub kind: MessageKind,
    pub attachment: Option<AttachmentInfo>,
    pub location: Option<Location>,
    pub reply: Option<ReplyPreview>,
    pub edited_ms: Option<i64>,
    pub deleted: bool,
    pub reactions: Vec<Reaction>,
    /// Set when this entry is an update: what changed, and the message as it is now.
    pub update: Option<(Change, Box<StoredMessage>)>,
    /// For a delete: the upload the message carried, now unreferenced, to erase.
    pub erased_attachment: Option<String>,
}

impl StoredMessage {
    /// A plain text message (tests, and the shape every entry starts from).
    pub fn text(id: String, conv: ConvId, seq: u64, sender: String, receiver: String) -> Self {
        Self {
            id,
            conv,
            seq,
            sender,
            receiver,
            content: String::new(),
            created_ms: 0,
            kind: MessageKind::Text,
            attachment: None,
            location: None,
            reply: None,
            edited_ms: None,
            deleted: false,
            reactions: Vec::new(),
            update: None,
            erased_attachment: None,
        }
    }
}

/// The outcome of an append.
#[derive(Debug, Clone, PartialEq)]
pub enum Appended {
    /// Stored now.
    New(StoredMessage),
    /// The sender already used this client id: the original entry, nothing stored.
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

/// One of a user's conversations, for the chat list.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatRow {
    pub conv: ConvId,
    pub last_message: Option<StoredMessage>,
    pub unread: u64,
    pub read_seq: u64,
    pub last_seq: u64,
    /// The newest message's time, or when the user joined.
    pub activity_ms: i64,
}

/// A search: every term must occur in the message (case-insensitively, anywhere in a word).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchQuery {
    pub terms: Vec<String>,
    /// Only this conversation.
    pub conv: Option<ConvId>,
    /// Only messages with an id below this one (the previous page's last).
    pub before: Option<String>,
    pub limit: u32,
}

/// Why a store call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("not found: {0}")]
    NotFound(String),
    /// The target is no more (a deleted message).
    #[error("gone: {0}")]
    Gone(String),
    /// The caller may not do this (someone else's message).
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// A bound was reached (too many distinct reactions).
    #[error("too many: {0}")]
    TooMany(String),
    /// Nothing was written, for a reason that passes (the disk is full, the database cannot
    /// be reached): the caller may retry later.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    #[error("storage failure: {0}")]
    Backend(String),
}

/// Told about every batch a store commits (the server's metrics).
pub trait CommitObserver: Send + Sync {
    /// A batch of `jobs` writes took `took` to run and commit; `ok` is false when its commit
    /// failed (nothing in it was stored).
    fn batch_committed(&self, jobs: usize, took: std::time::Duration, ok: bool);
}

/// An observer that ignores everything (tests, tools).
impl CommitObserver for () {
    fn batch_committed(&self, _: usize, _: std::time::Duration, _: bool) {}
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Durable state. Every method is safe to call from many tasks at once. Each area's methods
/// live in their own trait ([`AttachmentStore`], [`RoomStore`], [`SocialStore`]).
#[async_trait]
pub trait Store:
    AttachmentStore + RoomStore + SessionStore + SocialStore + Send + Sync + 'static
{
    /// Creates a user and makes them a member of `default_room` (created if missing), in one
    /// transaction. A taken username is [`StoreError::Conflict`].
    async fn create_user(
        &self,
        username: &str,
        password_hash: &str,
        default_room: &str,
    ) -> StoreResult<(User, Conversation)>;
    async fn credentials(&self, username: &str) -> StoreResult<Option<Credentials>>;
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
    /// Up to `limit` messages (not updates), oldest first, and whether more lie beyond in
    /// that direction; only what `viewer` has not cleared from their view.
    async fn history(
        &self,
        conv: ConvId,
        viewer: UserId,
        page: Page,
        limit: u32,
    ) -> StoreResult<(Vec<StoredMessage>, bool)>;
    /// Up to `limit` entries (messages and updates) after `seq`, oldest first: the catch-up.
    async fn changes(
        &self,
        conv: ConvId,
        after: u64,
        limit: u32,
    ) -> StoreResult<Vec<StoredMessage>>;
    /// The sequence number of a message in a conversation.
    async fn seq_of(&self, conv: ConvId, message_id: &str) -> StoreResult<Option<u64>>;
    /// A message (not an update) by its id, as it is now.
    async fn message(&self, id: &str) -> StoreResult<Option<StoredMessage>>;
    /// Raises the user's read marker (never lowers it); returns the marker now.
    async fn mark_read(&self, user: UserId, conv: ConvId, seq: u64) -> StoreResult<u64>;
    /// Every member's (user, delivered, read) markers in a conversation, as stored.
    async fn receipts(&self, conv: ConvId) -> StoreResult<Vec<(UserId, u64, u64)>>;
    /// The user's conversations with their newest message and unread count.
    async fn chats(&self, user: UserId) -> StoreResult<Vec<ChatRow>>;
    /// Clears a conversation from the user's view up to its newest entry; returns that seq.
    async fn clear_chat(&self, user: UserId, conv: ConvId) -> StoreResult<u64>;
    /// Messages the user can see matching the query, newest first.
    async fn search(&self, user: UserId, query: SearchQuery) -> StoreResult<Vec<StoredMessage>>;
    /// The user's conversations where their cursor is behind.
    async fn unread(&self, user: UserId) -> StoreResult<Vec<Unread>>;
    /// Raises delivery cursors (never lowers them).
    async fn save_cursors(&self, cursors: Vec<(UserId, ConvId, u64)>) -> StoreResult<()>;
    /// Writes (and commits) a tiny record through the same path as every other write:
    /// [`StoreError::Unavailable`] when the store cannot write now (for `/readyz`).
    async fn probe_write(&self) -> StoreResult<()>;
    /// Commits everything queued and stops the writer.
    async fn close(&self);
}
