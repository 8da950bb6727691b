//! `chats` (getAllChats): the user's conversations with their newest message and unread
//! count, most recent first; and `delete_chat`, which removes a direct conversation from the
//! user's own list and history (the other user keeps theirs; a new message brings it back).

use confab_protocol::messaging::{ChatKind, ChatSummary, Chats, ConversationRequest};
use confab_protocol::{Receiver, ServerFrame};

use super::{Hub, Session};
use crate::error::AppError;
use crate::store::{ConversationKind, UserId};

impl Hub {
    /// The chat list of `user` (shared with REST).
    pub async fn chats_frame(
        &self,
        user: UserId,
        reply_to: Option<String>,
    ) -> Result<ServerFrame, AppError> {
        let mut rows = self.store().chats(user).await?;
        rows.sort_by(|a, b| b.activity_ms.cmp(&a.activity_ms).then(b.conv.cmp(&a.conv)));
        let chats = rows
            .into_iter()
            .filter_map(|row| {
                let (receiver, kind, online) = match self.directory().kind(row.conv)? {
                    ConversationKind::Room(name) => (name, ChatKind::Room, None),
                    ConversationKind::Direct { a, b } => {
                        // A cleared direct chat stays hidden until something new arrives.
                        row.last_message.as_ref()?;
                        let peer = if a == user { b } else { a };
                        let online = self.is_online(peer);
                        (
                            self.directory().username(peer)?,
                            ChatKind::Direct,
                            Some(online),
                        )
                    }
                };
                Some(ChatSummary {
                    receiver,
                    kind,
                    last_message: row.last_message.as_ref().map(super::chat_message),
                    unread: row.unread,
                    read_seq: row.read_seq,
                    last_seq: row.last_seq,
                    last_activity: crate::clock::rfc3339(row.activity_ms),
                    online,
                })
            })
            .collect();
        Ok(ServerFrame::Chats(Chats { reply_to, chats }))
    }

    pub(super) async fn delete_chat(
        &self,
        session: &Session,
        request: ConversationRequest,
    ) -> Result<(), AppError> {
        self.clear_chat(session.user.id, &request.receiver).await?;
        session.ack(request.id.as_deref());
        Ok(())
    }

    /// Clears a direct conversation from `user`'s list and history (shared with REST).
    pub async fn clear_chat(&self, user: UserId, receiver: &Receiver) -> Result<(), AppError> {
        if matches!(receiver, Receiver::Room(_)) {
            return Err(AppError::bad_request(
                "delete_chat is for direct conversations; leave a room instead",
            ));
        }
        let conv = self.conversation_of(user, receiver)?;
        let seq = self.store().clear_chat(user, conv).await?;
        self.cursors().advance(user, conv, seq);
        Ok(())
    }
}
