//! How an event reaches the sessions it concerns. The hub publishes every event (committed
//! messages, typing, presence, membership, revocations, changes to what it caches) on a
//! [`Bus`] and delivers what the bus hands back. In one process the [`LocalBus`] hands events
//! straight to the hub's dispatcher, in publish order. Between nodes, [`redis::RedisBus`] also
//! hands them to the local dispatcher at once (a node never waits on Redis to deliver its own
//! commits) and carries them to every other node, which receives them as [`Event::Remote`].
//!
//! The bus is never the only copy: every message is in the store with its sequence number, so a
//! node that missed bus traffic fills the gap from the store ([`Event::Resync`]).

pub mod redis;
pub mod wire;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::auth::TokenHash;
use crate::store::{Committed, ConvId, Conversation, User, UserId};

/// Who an ephemeral event is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Audience {
    /// Every member of a conversation.
    Conversation(ConvId),
    /// Every session of one user.
    User(UserId),
    /// A user's own sessions and everyone their presence goes to (see
    /// `Directory::contacts`): for profile changes.
    Circle(UserId),
}

/// Something that happened, for the sessions it concerns.
#[derive(Debug, Clone)]
pub enum Event {
    /// A message was committed.
    Message(Box<Committed>),
    /// Someone is typing: the frame is ready to send; the sender's own sessions are skipped.
    Typing {
        sender: UserId,
        audience: Audience,
        frame: Bytes,
    },
    /// A ready frame for everyone in the audience, the sender's own sessions included (room
    /// events, invitations, profile changes, receipts).
    Notice { audience: Audience, frame: Bytes },
    /// A user's first session opened or last one closed.
    Presence { user: UserId, online: bool },
    /// A user joined or left a room.
    Membership {
        conv: ConvId,
        user: UserId,
        joined: bool,
    },
    /// A token was revoked: its sessions (but `except`) close.
    Revoked {
        user: UserId,
        token: TokenHash,
        except: u64,
    },
    /// A change to what every node caches (users, conversations, rooms, contacts), made on
    /// this node: for the other nodes only (the local bus drops it).
    Sync(CacheSync),
    /// An event another node published.
    Remote(Remote),
    /// This node was off the bus (just started, or Redis was away) and is back: reload the
    /// caches and fill every gap from the store.
    Resync {
        /// Who is online on every other live node, by node.
        presence: Vec<(String, Vec<UserId>)>,
    },
}

/// A change to a node's caches, replayed by the other nodes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "sync", rename_all = "snake_case")]
pub enum CacheSync {
    /// A user was created.
    User { id: UserId, username: String },
    /// A conversation was created, with these members (a direct one, or a new room).
    Conversation {
        id: ConvId,
        room: Option<String>,
        direct: Option<(UserId, UserId)>,
        members: Vec<UserId>,
    },
    /// A room's settings or powers changed (topic, password, roles, mutes, bans): reload it.
    Room { conv: ConvId },
    /// A room was deleted.
    Removed { conv: ConvId },
    /// `user` added or removed `contact`.
    Contact {
        user: UserId,
        contact: UserId,
        added: bool,
    },
    /// One use of an abuse limit (a password attempt, a failed login, a handshake) for `key`:
    /// every node counts it.
    Hit {
        limit: crate::hub::abuse::Limit,
        key: String,
    },
}

impl CacheSync {
    pub fn user(user: &User) -> Self {
        Self::User {
            id: user.id,
            username: user.username.clone(),
        }
    }

    pub fn conversation(conv: &Conversation, members: Vec<UserId>) -> Self {
        let (room, direct) = match &conv.kind {
            crate::store::ConversationKind::Room(name) => (Some(name.clone()), None),
            crate::store::ConversationKind::Direct { a, b } => (None, Some((*a, *b))),
        };
        Self::Conversation {
            id: conv.id,
            room,
            direct,
            members,
        }
    }
}

/// What another node published, as this node applies it.
#[derive(Debug, Clone)]
pub enum Remote {
    /// Entry `seq` of `conv` committed there; the frame is ready to send. `sender` (a
    /// username) is who made it: it counts toward their message budget here too.
    Message {
        conv: ConvId,
        seq: u64,
        frame: Bytes,
        sender: String,
    },
    /// A user's first session on `node` opened, or its last one closed.
    Presence {
        node: String,
        user: UserId,
        online: bool,
    },
    /// The other nodes still alive: the users of any node not listed are offline there.
    LiveNodes(Vec<String>),
    /// A user joined or left a room there.
    Membership {
        conv: ConvId,
        user: UserId,
        joined: bool,
    },
    /// A token was revoked there: every session on it closes here.
    Revoked { user: UserId, token: TokenHash },
    /// A cache change made there.
    Sync(CacheSync),
}

/// Carries events to every node's dispatcher.
pub trait Bus: Send + Sync + 'static {
    /// Publishes an event. Never blocks; events from one caller arrive in publish order.
    fn publish(&self, event: Event);
}

/// The in-process bus.
pub struct LocalBus {
    tx: mpsc::UnboundedSender<Event>,
}

impl LocalBus {
    /// A bus and the receiving end the dispatcher reads.
    pub fn new() -> (Self, mpsc::UnboundedReceiver<Event>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Self { tx }, rx)
    }
}

impl Bus for LocalBus {
    fn publish(&self, event: Event) {
        if matches!(event, Event::Sync(_)) {
            return;
        }
        // Fails only once the dispatcher has stopped, at shutdown.
        let _ = self.tx.send(event);
    }
}
