//! `message` and `typing`: who may send where, the rate limit, and the hand-off to the store.
//! A message's ack is not sent here: the dispatcher sends it, in commit order, once the
//! message is durable (see [`super::dispatch`]). Only a duplicate or a failure is answered here.

use bytes::Bytes;
use confab_protocol::messaging::MessageKind;
use confab_protocol::names::Username;
use confab_protocol::{
    Ack, AttachmentKind, ErrorCode, Receiver, SendMessage, ServerFrame, TypingEvent,
};

use super::{Hub, Session};
use crate::bus::{Audience, CacheSync, Event};
use crate::error::AppError;
use crate::store::{Appended, ConvId, NewEntry, NewMessage, Post, UserId};

impl Hub {
    pub(super) async fn send_message(
        &self,
        session: &Session,
        message: SendMessage,
    ) -> Result<(), AppError> {
        if let Some(claimed) = &message.sender {
            let claimed = Username::parse(claimed).ok();
            if claimed.as_ref().map(Username::as_str) != Some(session.user.username.as_str()) {
                return Err(AppError::forbidden("sender must be the logged-in user"));
            }
        }
        let conv = self
            .conversation_for(session, &message.receiver, true)
            .await?
            .ok_or_else(AppError::internal)?;
        self.check_can_post(conv, session.user.id)?;
        let attachment = match &message.attachment {
            Some(id) => Some(self.attachment_for_post(session.user.id, id).await?),
            None => None,
        };
        let kind = match (&attachment, &message.location) {
            (Some(attachment), _) => match attachment.kind {
                AttachmentKind::Image => MessageKind::Image,
                AttachmentKind::Audio => MessageKind::Audio,
                AttachmentKind::Video => MessageKind::Video,
                AttachmentKind::File => MessageKind::File,
            },
            (None, Some(_)) => MessageKind::Location,
            (None, None) => MessageKind::Text,
        };
        let post = Post {
            kind,
            content: message.content,
            attachment,
            location: message.location,
            reply_to: message.reply_to_message,
        };
        let receiver = message.receiver.as_str().to_owned();
        self.submit(session, conv, receiver, NewEntry::Post(post), message.id)
            .await
    }

    /// Appends an entry under the user's message rate limit. The ack comes from the
    /// dispatcher once it is committed; a duplicate or a failure is answered from here.
    pub(super) async fn submit(
        &self,
        session: &Session,
        conv: ConvId,
        receiver: String,
        entry: NewEntry,
        client_id: Option<String>,
    ) -> Result<(), AppError> {
        let started = std::time::Instant::now();
        let allowed = self
            .inner
            .sessions
            .message_bucket(session.user.id)
            .is_none_or(|bucket| bucket.lock().expect("bucket lock").try_take());
        if !allowed {
            self.metrics().rate_limited("messages");
            return Err(AppError::new(
                ErrorCode::RateLimited,
                "too many messages; slow down",
            ));
        }
        let session_permit = session
            .handle
            .in_flight
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| AppError::internal())?;
        let permit = self
            .inner
            .writes
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| AppError::internal())?;
        let pending = self.store().append(NewMessage {
            conv,
            sender: session.user.clone(),
            receiver,
            entry,
            client_id: client_id.clone(),
            origin: session.handle.id,
        });
        let handle = session.handle.clone();
        let reply_to = client_id;
        let hub = self.clone();
        tokio::spawn(async move {
            let outcome = pending.await;
            drop(permit);
            hub.metrics().ack_latency(started.elapsed());
            let frame = match outcome {
                Ok(Appended::New(stored)) => {
                    if reply_to.is_some() {
                        // The dispatcher acks it; the permit returns when the ack is sent.
                        session_permit.forget();
                    }
                    if let Some(erased) = stored.erased_attachment {
                        if let Err(err) = hub.erase_attachment(&erased).await {
                            tracing::error!(%err, "erasing a deleted message's attachment failed");
                        }
                    }
                    return;
                }
                Ok(Appended::Duplicate(original)) => match reply_to {
                    Some(reply_to) => ServerFrame::Ack(Ack {
                        reply_to,
                        id: Some(original.id),
                        seq: Some(original.seq),
                        receiver: Some(original.receiver),
                        timestamp: Some(crate::clock::rfc3339(original.created_ms)),
                        duplicate: true,
                    }),
                    None => return,
                },
                Err(err) => {
                    let err = AppError::from(err);
                    hub.metrics().error_sent(err.code);
                    ServerFrame::error(err.code, err.message, reply_to)
                }
            };
            handle.push(super::sessions::Outbound::Frame(Bytes::from(
                frame.to_json(),
            )));
        });
        Ok(())
    }

    pub(super) fn typing(&self, session: &Session, receiver: &Receiver) -> Result<(), AppError> {
        let audience = match receiver {
            Receiver::Room(room) => {
                let conv = self.room_of_member(session.user.id, room.as_str())?;
                Audience::Conversation(conv)
            }
            Receiver::User(user) => Audience::User(self.user_id(user)?),
        };
        let frame = ServerFrame::Typing(TypingEvent {
            sender: session.user.username.clone(),
            receiver: receiver.as_str().to_owned(),
        });
        self.publish(Event::Typing {
            sender: session.user.id,
            audience,
            frame: Bytes::from(frame.to_json()),
        });
        Ok(())
    }

    /// The conversation a receiver names for this user: a room they are in, or the direct
    /// conversation with that user (created when `create` is set and it does not exist yet).
    pub(super) async fn conversation_for(
        &self,
        session: &Session,
        receiver: &Receiver,
        create: bool,
    ) -> Result<Option<ConvId>, AppError> {
        match receiver {
            Receiver::Room(room) => self
                .room_of_member(session.user.id, room.as_str())
                .map(Some),
            Receiver::User(user) => {
                let peer = self.user_id(user)?;
                if let Some(conv) = self.directory().direct(session.user.id, peer) {
                    return Ok(Some(conv));
                }
                if !create {
                    return Ok(None);
                }
                let conv = self.store().direct(session.user.id, peer).await?;
                self.directory().add_conversation(&conv);
                self.directory().add_member(conv.id, session.user.id);
                self.directory().add_member(conv.id, peer);
                self.sync(CacheSync::conversation(&conv, vec![session.user.id, peer]));
                Ok(Some(conv.id))
            }
        }
    }

    /// The room's conversation, if it exists and the user is a member.
    pub(super) fn room_of_member(&self, user: UserId, room: &str) -> Result<ConvId, AppError> {
        let conv = self
            .directory()
            .room(room)
            .ok_or_else(|| AppError::not_found(format!("no room {room}")))?;
        if !self.directory().is_member(conv, user) {
            return Err(AppError::forbidden(format!("not a member of {room}")));
        }
        Ok(conv)
    }

    pub(super) fn user_id(&self, user: &Username) -> Result<UserId, AppError> {
        self.directory()
            .user_id(user.as_str())
            .ok_or_else(|| AppError::not_found(format!("no user {user}")))
    }
}
