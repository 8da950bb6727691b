//! `search`: full-text search over the messages the user can see (their rooms and direct
//! conversations, minus what they cleared), newest first, paged by message id, with the
//! matching pieces of each message marked.

use confab_protocol::messaging::{self, SearchHit, SearchRequest, SearchResults};
use confab_protocol::ServerFrame;

use super::Hub;
use crate::error::AppError;
use crate::store::{SearchQuery, User};

/// Results per page when the request names no limit.
pub const DEFAULT_SEARCH_LIMIT: u32 = 20;

impl Hub {
    /// A page of results for `user` (shared with REST).
    pub async fn search_frame(
        &self,
        user: &User,
        request: SearchRequest,
    ) -> Result<ServerFrame, AppError> {
        let terms = messaging::search_terms(&request.query);
        if terms.is_empty() {
            return Err(AppError::bad_request("query is empty"));
        }
        let conv = match &request.receiver {
            Some(receiver) => Some(self.conversation_of(user.id, receiver)?),
            None => None,
        };
        let limit = request
            .limit
            .unwrap_or(DEFAULT_SEARCH_LIMIT)
            .clamp(1, self.config().limits.max_history_limit.max(1));
        let mut found = self
            .store()
            .search(
                user.id,
                SearchQuery {
                    terms: terms.clone(),
                    conv,
                    before: request.before,
                    limit: limit + 1,
                },
            )
            .await?;
        let more = found.len() > limit as usize;
        found.truncate(limit as usize);
        let next = more.then(|| found.last().map(|m| m.id.clone())).flatten();
        let results = found
            .iter()
            .map(|message| SearchHit {
                highlight: messaging::highlight(&message.content, &terms),
                message: super::chat_message(message),
            })
            .collect();
        Ok(ServerFrame::SearchResults(SearchResults {
            reply_to: request.id,
            query: request.query,
            results,
            next,
        }))
    }
}
