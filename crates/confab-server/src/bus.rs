//! How an event reaches the sessions it concerns. The hub publishes every event (committed
//! messages, typing, presence, membership, revocations) on a [`Bus`] and delivers what the bus
//! hands back. In one process the [`LocalBus`] hands events straight to the hub's dispatcher,
//! in publish order; a bus between nodes (Redis) fits the same trait.

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::auth::TokenHash;
use crate::store::{Committed, ConvId, UserId};

/// Who an ephemeral event is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
        // Fails only once the dispatcher has stopped, at shutdown.
        let _ = self.tx.send(event);
    }
}
