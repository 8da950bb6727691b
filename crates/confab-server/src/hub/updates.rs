//! `edit`, `delete` and `react`: changes to a message already in a conversation. Each is
//! appended as an update entry with the conversation's next seq (so it reaches sessions that
//! were away, through catch-up), acked in commit order like a message, and delivered to every
//! member as an `update` frame carrying the message's state now.

use confab_protocol::messaging::{DeleteMessage, EditMessage, React};

use super::{Hub, Session};
use crate::error::AppError;
use crate::store::{ConvId, ConversationKind, NewEntry, StoredMessage};

/// Most different emoji one message may carry.
pub const MAX_REACTION_EMOJIS: usize = 20;

impl Hub {
    pub(super) async fn edit(&self, session: &Session, edit: EditMessage) -> Result<(), AppError> {
        let (target, conv) = self.target_message(session, &edit.message).await?;
        self.check_can_post(conv, session.user.id)?;
        if target.sender != session.user.username {
            return Err(AppError::forbidden("only the sender may edit a message"));
        }
        let has_body = target.attachment.is_some() || target.location.is_some();
        if !has_body && edit.content.trim().is_empty() {
            return Err(AppError::bad_request(
                "content is empty; delete the message instead",
            ));
        }
        let entry = NewEntry::Edit {
            target: target.id,
            content: edit.content,
        };
        let receiver = self.receiver_for(session, conv)?;
        self.submit(session, conv, receiver, entry, edit.id).await
    }

    pub(super) async fn delete(
        &self,
        session: &Session,
        delete: DeleteMessage,
    ) -> Result<(), AppError> {
        let (target, conv) = self.target_message(session, &delete.message).await?;
        let own = target.sender == session.user.username;
        let moderator = !own && self.is_moderator(conv, session.user.id);
        if !own && !moderator {
            return Err(AppError::forbidden(
                "only the sender or a room moderator may delete a message",
            ));
        }
        let entry = NewEntry::Delete {
            target: target.id,
            moderator,
        };
        let receiver = self.receiver_for(session, conv)?;
        self.submit(session, conv, receiver, entry, delete.id).await
    }

    pub(super) async fn react(&self, session: &Session, react: React) -> Result<(), AppError> {
        let (target, conv) = self.target_message(session, &react.message).await?;
        self.check_can_post(conv, session.user.id)?;
        let entry = NewEntry::React {
            target: target.id,
            emoji: react.emoji,
            max_emojis: MAX_REACTION_EMOJIS,
        };
        let receiver = self.receiver_for(session, conv)?;
        self.submit(session, conv, receiver, entry, react.id).await
    }

    /// The message an update names, if it is in one of the user's conversations and not
    /// deleted. A message elsewhere looks the same as none at all.
    async fn target_message(
        &self,
        session: &Session,
        id: &str,
    ) -> Result<(StoredMessage, ConvId), AppError> {
        let message = self
            .store()
            .message(id)
            .await?
            .filter(|m| self.directory().is_member(m.conv, session.user.id))
            .ok_or_else(|| AppError::not_found(format!("no message {id}")))?;
        if message.deleted {
            return Err(AppError::new(
                confab_protocol::ErrorCode::Gone,
                format!("message {id} was deleted"),
            ));
        }
        let conv = message.conv;
        Ok((message, conv))
    }

    /// What the user puts in `receiver` to talk in a conversation: `#room`, or the other user.
    pub(super) fn receiver_for(&self, session: &Session, conv: ConvId) -> Result<String, AppError> {
        match self.directory().kind(conv) {
            Some(ConversationKind::Room(name)) => Ok(name),
            Some(ConversationKind::Direct { a, b }) => {
                let peer = if a == session.user.id { b } else { a };
                self.directory()
                    .username(peer)
                    .ok_or_else(AppError::internal)
            }
            None => Err(AppError::internal()),
        }
    }
}
