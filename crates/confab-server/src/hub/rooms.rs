//! `join`, `leave`, `rooms` and `members`.

use confab_protocol::{MemberInfo, Members, RoomInfo, RoomName, Rooms, ServerFrame};

use super::{Hub, Session};
use crate::bus::Event;
use crate::error::AppError;
use crate::store::{ConvId, UserId};

impl Hub {
    /// Joins a room, creating it if it does not exist. Joining a room twice is fine.
    pub(super) async fn join(
        &self,
        session: &Session,
        room: &RoomName,
        reply_to: Option<&str>,
    ) -> Result<(), AppError> {
        let conv = match self.directory().room(room.as_str()) {
            Some(conv) => conv,
            None => {
                let conv = self.store().room(room.as_str()).await?;
                self.directory().add_conversation(&conv);
                tracing::info!(room = %room, by = %session.user.username, "room created");
                conv.id
            }
        };
        if self.admit(conv, session.user.id).await? {
            tracing::info!(room = %room, user = %session.user.username, "joined");
        }
        session.ack(reply_to);
        Ok(())
    }

    /// Makes `user` a member of the room `conv` and announces it; false if they already were.
    /// Every way into a room (join, an accepted invitation, an invite link) ends here, after
    /// its own checks.
    pub(crate) async fn admit(&self, conv: ConvId, user: UserId) -> Result<bool, AppError> {
        if !self.store().join(conv, user).await? {
            return Ok(false);
        }
        self.directory().add_member(conv, user);
        self.publish(Event::Membership {
            conv,
            user,
            joined: true,
        });
        Ok(true)
    }

    pub(super) async fn leave(
        &self,
        session: &Session,
        room: &RoomName,
        reply_to: Option<&str>,
    ) -> Result<(), AppError> {
        let conv = self.room_of_member(session.user.id, room.as_str())?;
        let user = session.user.id;
        if self.store().leave(conv, user).await? {
            self.directory().remove_member(conv, user);
            self.publish(Event::Membership {
                conv,
                user,
                joined: false,
            });
            tracing::info!(room = %room, user = %session.user.username, "left");
        }
        session.ack(reply_to);
        Ok(())
    }

    /// Every room, with its member count and whether `user` is in it.
    pub fn rooms_frame(&self, user: UserId, reply_to: Option<String>) -> ServerFrame {
        let rooms = self
            .directory()
            .rooms()
            .into_iter()
            .map(|(conv, name, members)| RoomInfo {
                joined: self.directory().is_member(conv, user),
                name,
                members: members as u64,
            })
            .collect();
        ServerFrame::Rooms(Rooms { reply_to, rooms })
    }

    /// A room's members, sorted by name, with who is online.
    pub fn members_frame(
        &self,
        room: &RoomName,
        reply_to: Option<String>,
    ) -> Result<ServerFrame, AppError> {
        let conv = self
            .directory()
            .room(room.as_str())
            .ok_or_else(|| AppError::not_found(format!("no room {room}")))?;
        let mut members: Vec<MemberInfo> = self
            .directory()
            .members(conv)
            .iter()
            .filter_map(|&user| {
                Some(MemberInfo {
                    username: self.directory().username(user)?,
                    online: self.inner.sessions.is_online(user),
                })
            })
            .collect();
        members.sort_by(|a, b| a.username.cmp(&b.username));
        Ok(ServerFrame::Members(Members {
            reply_to,
            room: room.as_str().to_owned(),
            members,
        }))
    }
}
