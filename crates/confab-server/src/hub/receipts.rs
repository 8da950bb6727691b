//! Receipts: per user and conversation, delivered-up-to (the delivery cursor, moved as
//! frames are written) and read-up-to (moved by the client's `read`). A `receipt` event tells
//! the others: in a direct conversation the peer sees both markers; in a room every member
//! sees read markers (rooms over the presence cap only tell the reader's own sessions, so
//! their other devices stay in step).

use bytes::Bytes;
use confab_protocol::messaging::{ConversationRequest, MarkRead, MemberReceipt, Receipt, Receipts};
use confab_protocol::{Receiver, ServerFrame};

use super::{Hub, Session};
use crate::bus::{Audience, Event};
use crate::error::AppError;
use crate::store::{ConvId, ConversationKind, User, UserId};

impl Hub {
    pub(super) async fn read(&self, session: &Session, read: MarkRead) -> Result<(), AppError> {
        let conv = self.conversation_of(session.user.id, &read.receiver)?;
        let seq = read.seq.min(self.directory().last_seq(conv));
        let seq = self.store().mark_read(session.user.id, conv, seq).await?;
        self.cursors().advance(session.user.id, conv, seq);
        self.announce_receipt(&session.user, conv, None, Some(seq));
        session.ack(read.id.as_deref());
        Ok(())
    }

    pub(super) async fn receipts(
        &self,
        session: &Session,
        request: ConversationRequest,
    ) -> Result<(), AppError> {
        let frame = self
            .receipts_frame(session.user.id, &request.receiver, request.id)
            .await?;
        session.send(&frame);
        Ok(())
    }

    /// Every member's markers in the conversation `receiver` names for `user` (shared with
    /// REST).
    pub async fn receipts_frame(
        &self,
        user: UserId,
        receiver: &Receiver,
        reply_to: Option<String>,
    ) -> Result<ServerFrame, AppError> {
        let conv = self.conversation_of(user, receiver)?;
        let mut members: Vec<MemberReceipt> = self
            .store()
            .receipts(conv)
            .await?
            .into_iter()
            .filter_map(|(member, delivered, read)| {
                let delivered = delivered
                    .max(self.cursors().get(member, conv).unwrap_or(0))
                    .max(read);
                Some(MemberReceipt {
                    user: self.directory().username(member)?,
                    delivered_seq: delivered,
                    read_seq: read,
                })
            })
            .collect();
        members.sort_by(|a, b| a.user.cmp(&b.user));
        Ok(ServerFrame::Receipts(Receipts {
            reply_to,
            receiver: receiver.as_str().to_owned(),
            members,
        }))
    }

    /// Tells who should know that `user`'s markers moved in `conv`.
    pub(super) fn announce_receipt(
        &self,
        user: &User,
        conv: ConvId,
        delivered_seq: Option<u64>,
        read_seq: Option<u64>,
    ) {
        let receipt = |receiver: String| {
            Bytes::from(
                ServerFrame::Receipt(Receipt {
                    receiver,
                    user: user.username.clone(),
                    delivered_seq,
                    read_seq,
                })
                .to_json(),
            )
        };
        match self.directory().kind(conv) {
            Some(ConversationKind::Room(room)) => {
                if read_seq.is_none() {
                    return;
                }
                let everyone =
                    self.directory().members(conv).len() <= self.config().session.presence_max_room;
                let audience = if everyone {
                    Audience::Conversation(conv)
                } else {
                    Audience::User(user.id)
                };
                self.publish(Event::Notice {
                    audience,
                    frame: receipt(room),
                });
            }
            Some(ConversationKind::Direct { a, b }) => {
                let peer = if a == user.id { b } else { a };
                self.publish(Event::Notice {
                    audience: Audience::User(peer),
                    frame: receipt(user.username.clone()),
                });
                if peer != user.id && read_seq.is_some() {
                    if let Some(peer_name) = self.directory().username(peer) {
                        self.publish(Event::Notice {
                            audience: Audience::User(user.id),
                            frame: receipt(peer_name),
                        });
                    }
                }
            }
            None => {}
        }
    }

    /// Delivery cursors that moved in direct conversations become `receipt`s for the peer.
    pub(super) fn announce_deliveries(&self, moved: &[(UserId, ConvId, u64)]) {
        for &(user, conv, seq) in moved {
            if !matches!(
                self.directory().kind(conv),
                Some(ConversationKind::Direct { a, b }) if a != b
            ) {
                continue;
            }
            if let Some(username) = self.directory().username(user) {
                let user = User { id: user, username };
                self.announce_receipt(&user, conv, Some(seq), None);
            }
        }
    }

    /// The conversation a receiver names for `user`, which must exist and have them as a
    /// member.
    pub(super) fn conversation_of(
        &self,
        user: UserId,
        receiver: &Receiver,
    ) -> Result<ConvId, AppError> {
        match receiver {
            Receiver::Room(room) => self.room_of_member(user, room.as_str()),
            Receiver::User(peer) => {
                let peer = self.user_id(peer)?;
                self.directory()
                    .direct(user, peer)
                    .ok_or_else(|| AppError::not_found(format!("no conversation with {receiver}")))
            }
        }
    }
}
