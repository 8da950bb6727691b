//! `history`: pages of a conversation, oldest first, by message-id cursors.

use confab_protocol::{History, HistoryRequest, Limits, Receiver, ServerFrame};

use super::{Hub, Session};
use crate::error::AppError;
use crate::store::{Page, User};

/// Page size when the request names none.
pub const DEFAULT_HISTORY_LIMIT: u32 = 50;

impl Hub {
    pub(super) async fn history(
        &self,
        session: &Session,
        request: HistoryRequest,
    ) -> Result<(), AppError> {
        let frame = self.history_frame(&session.user, request).await?;
        session.send(&frame);
        Ok(())
    }

    /// A page of the conversation `request.receiver` names for `user` (shared with REST).
    pub async fn history_frame(
        &self,
        user: &User,
        request: HistoryRequest,
    ) -> Result<ServerFrame, AppError> {
        let limit = request
            .limit
            .unwrap_or(DEFAULT_HISTORY_LIMIT)
            .clamp(1, self.config().limits.max_history_limit.max(1));
        let receiver = request.receiver.as_str().to_owned();
        let conv = match &request.receiver {
            Receiver::Room(room) => Some(self.room_of_member(user.id, room.as_str())?),
            Receiver::User(peer) => {
                let peer = self.user_id(peer)?;
                self.directory().direct(user.id, peer)
            }
        };
        let (messages, has_more) = match conv {
            None => (Vec::new(), false),
            Some(conv) => {
                let page = match (&request.before, &request.after) {
                    (Some(id), _) => Page::Before(self.seq_of(conv, id).await?),
                    (None, Some(id)) => Page::After(self.seq_of(conv, id).await?),
                    (None, None) => Page::Latest,
                };
                self.store().history(conv, user.id, page, limit).await?
            }
        };
        Ok(ServerFrame::History(History {
            reply_to: request.id,
            receiver,
            messages: messages.iter().map(super::chat_message).collect(),
            has_more,
        }))
    }

    pub(super) async fn seq_of(&self, conv: i64, id: &str) -> Result<u64, AppError> {
        if id.is_empty() || id.len() > Limits::MAX_CLIENT_ID_BYTES {
            return Err(AppError::bad_request("not a message id"));
        }
        self.store()
            .seq_of(conv, id)
            .await?
            .ok_or_else(|| AppError::not_found(format!("no message {id} in this conversation")))
    }
}
