//! The dispatcher: one task taking bus events in order and handing them to local sessions.
//! A message is serialized once and the same bytes go to every recipient; the sending session
//! gets the ack instead, at the same point in the stream, so acks and messages reach every
//! session in commit order.

use std::collections::HashSet;

use bytes::Bytes;
use confab_protocol::{
    close, Ack, Membership, MembershipChange, Presence, PresenceStatus, ServerFrame,
};
use tokio::sync::mpsc;

use super::sessions::Outbound;
use super::Hub;
use crate::bus::{Audience, Event};
use crate::store::{Committed, ConversationKind};

pub(super) async fn run(hub: Hub, mut events: mpsc::UnboundedReceiver<Event>) {
    loop {
        let event = tokio::select! {
            event = events.recv() => event,
            () = hub.inner.stop.cancelled() => None,
        };
        let Some(event) = event else { return };
        match event {
            Event::Message(committed) => hub.deliver_message(*committed),
            Event::Typing {
                sender,
                audience,
                frame,
            } => hub.deliver_frame(audience, frame, Some(sender)),
            Event::Notice { audience, frame } => hub.deliver_frame(audience, frame, None),
            Event::Presence { user, online } => hub.deliver_presence(user, online),
            Event::Membership { conv, user, joined } => hub.deliver_membership(conv, user, joined),
            Event::Revoked {
                user,
                token,
                except,
            } => hub.inner.sessions.for_sessions(user, |session| {
                if session.token == token && session.id != except {
                    session.control.close(close::REVOKED, "token revoked");
                }
            }),
        }
    }
}

impl Hub {
    fn deliver_message(&self, committed: Committed) {
        let message = &committed.message;
        self.directory().saw_seq(message.conv, message.seq);
        tracing::debug!(conv = message.conv, seq = message.seq, sender = %message.sender, "message committed");
        let frame = Bytes::from(super::entry_frame(message).to_json());
        let ack = committed.client_id.map(|reply_to| {
            Bytes::from(
                ServerFrame::Ack(Ack {
                    reply_to,
                    id: Some(message.id.clone()),
                    seq: Some(message.seq),
                    receiver: Some(message.receiver.clone()),
                    timestamp: Some(crate::clock::rfc3339(message.created_ms)),
                    duplicate: false,
                })
                .to_json(),
            )
        });
        let (conv, seq) = (message.conv, message.seq);
        let mut deliveries = 0;
        let mut acked = false;
        for member in self.directory().members(conv).iter() {
            self.inner.sessions.for_sessions(*member, |session| {
                deliveries += 1;
                if session.id != committed.origin {
                    let frame = frame.clone();
                    session.push(Outbound::Message { conv, seq, frame });
                } else if let Some(ack) = &ack {
                    acked = true;
                    let frame = ack.clone();
                    session.push(Outbound::Ack { conv, seq, frame });
                } else {
                    // No id, no ack: the sender has the message all the same.
                    self.cursors().advance(session.user, conv, seq);
                }
            });
        }
        if let (Some(ack), false) = (ack, acked) {
            // The sender left (or was removed from) the conversation meanwhile: the ack is
            // still theirs, and it returns the session's in-flight permit.
            if let Some(sender) = self.directory().user_id(&message.sender) {
                self.inner.sessions.for_sessions(sender, |session| {
                    if session.id == committed.origin {
                        let frame = ack.clone();
                        session.push(Outbound::Ack { conv, seq, frame });
                    }
                });
            }
        }
        self.metrics().message_committed(deliveries);
    }

    /// Pushes a ready frame to everyone in the audience but `except` (typing skips the
    /// typist's own sessions; notices go to everyone).
    fn deliver_frame(&self, audience: Audience, frame: Bytes, except: Option<i64>) {
        let push = |user: i64| {
            if Some(user) != except {
                self.inner
                    .sessions
                    .for_sessions(user, |s| s.push(Outbound::Frame(frame.clone())));
            }
        };
        match audience {
            Audience::Conversation(conv) => self
                .directory()
                .members(conv)
                .iter()
                .copied()
                .for_each(push),
            Audience::User(user) => push(user),
            Audience::Circle(user) => self.circle(user).into_iter().for_each(push),
        }
    }

    /// A user and everyone their presence goes to.
    fn circle(&self, user: i64) -> HashSet<i64> {
        let max_room = self.config().session.presence_max_room;
        let mut circle = self.directory().contacts(user, max_room);
        circle.insert(user);
        circle
    }

    fn deliver_presence(&self, user: i64, online: bool) {
        let Some(username) = self.directory().username(user) else {
            return;
        };
        let frame = Bytes::from(
            ServerFrame::Presence(Presence {
                user: username,
                status: if online {
                    PresenceStatus::Online
                } else {
                    PresenceStatus::Offline
                },
            })
            .to_json(),
        );
        let max_room = self.config().session.presence_max_room;
        for contact in self.directory().contacts(user, max_room) {
            self.inner
                .sessions
                .for_sessions(contact, |s| s.push(Outbound::Frame(frame.clone())));
        }
    }

    fn deliver_membership(&self, conv: i64, user: i64, joined: bool) {
        let (Some(ConversationKind::Room(room)), Some(username)) =
            (self.directory().kind(conv), self.directory().username(user))
        else {
            return;
        };
        let frame = Bytes::from(
            ServerFrame::Membership(Membership {
                room,
                user: username,
                change: if joined {
                    MembershipChange::Joined
                } else {
                    MembershipChange::Left
                },
            })
            .to_json(),
        );
        let mut audience = (*self.directory().members(conv)).clone();
        audience.insert(user);
        for member in audience {
            self.inner
                .sessions
                .for_sessions(member, |s| s.push(Outbound::Frame(frame.clone())));
        }
    }
}
