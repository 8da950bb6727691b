//! `create_room`, `join`, `leave`, `rooms`, `members` and `room_info`, and the frames of the
//! host powers (handled in [`super::powers`]). Every method takes the acting user, so the
//! WebSocket (and the other gateways) and REST share them.

use confab_protocol::names::MAX_PASSWORD_BYTES;
use confab_protocol::{
    ClientFrame, CreateRoom, ErrorCode, MemberInfo, Members, Role, RoomAction, RoomDetails,
    RoomEvent, RoomInfo, RoomName, Rooms, ServerFrame, Visibility,
};

use super::powers::no_room;
use super::room_state::RoomState;
use super::{Hub, Session, DEFAULT_ROOM};
use crate::bus::{CacheSync, Event};
use crate::clock;
use crate::error::AppError;
use crate::store::rooms::{Admission, RoomSettings};
use crate::store::{ConvId, User, UserId};

impl Hub {
    /// The room frames of host powers, from a session: the action, then its `ack`
    /// (`room_info` answers with its own frame).
    pub(super) async fn room_frame(
        &self,
        session: &Session,
        frame: ClientFrame,
        reply_to: Option<&str>,
    ) -> Result<(), AppError> {
        let actor = &session.user;
        match frame {
            ClientFrame::CreateRoom(request) => drop(self.create_room(actor, request).await?),
            ClientFrame::RoomInfo(request) => {
                session.send(&self.room_info_frame(actor.id, &request.room, request.id)?);
                return Ok(());
            }
            ClientFrame::Kick(r) => self.kick(actor, &r.room, &r.user).await?,
            ClientFrame::Ban(r) => self.ban(actor, &r.room, &r.user).await?,
            ClientFrame::Unban(r) => self.unban(actor, &r.room, &r.user).await?,
            ClientFrame::Mute(r) => self.mute(actor, &r.room, &r.user, r.seconds).await?,
            ClientFrame::Unmute(r) => self.unmute(actor, &r.room, &r.user).await?,
            ClientFrame::SetTopic(r) => {
                self.change_room(actor, &r.room, Some(r.topic), None)
                    .await?
            }
            ClientFrame::SetPassword(r) => {
                self.change_room(actor, &r.room, None, Some(r.password))
                    .await?
            }
            ClientFrame::SetRole(r) => self.set_role(actor, &r.room, &r.user, r.role).await?,
            ClientFrame::Transfer(r) => self.transfer(actor, &r.room, &r.user).await?,
            ClientFrame::DeleteRoom(r) => self.delete_room(actor, &r.room).await?,
            other => {
                tracing::error!(kind = other.kind(), "not a room frame");
                return Err(AppError::internal());
            }
        }
        session.ack(reply_to);
        Ok(())
    }

    /// `create_room`: a new room with `user` as its owner and only member. A taken name is
    /// `conflict`.
    pub async fn create_room(&self, user: &User, request: CreateRoom) -> Result<ConvId, AppError> {
        request
            .validate()
            .map_err(|(code, message)| AppError::new(code, message))?;
        let password_hash = match &request.password {
            Some(password) => Some(self.hash_room_password(password).await?),
            None => None,
        };
        let settings = RoomSettings {
            visibility: request.visibility,
            password_hash,
            topic: request.topic.unwrap_or_default(),
        };
        self.found_room(user, &request.room, settings).await
    }

    /// Creates the room in the store and the caches, and announces it.
    async fn found_room(
        &self,
        user: &User,
        room: &RoomName,
        settings: RoomSettings,
    ) -> Result<ConvId, AppError> {
        if room.as_str() == DEFAULT_ROOM || self.directory().room(room.as_str()).is_some() {
            return Err(AppError::new(
                ErrorCode::Conflict,
                format!("room {room} already exists"),
            ));
        }
        let conv = self
            .store()
            .create_room(room.as_str(), user.id, settings.clone())
            .await?;
        let mut created =
            RoomEvent::new(room.as_str(), RoomAction::Created, user.username.as_str());
        created.visibility = Some(settings.visibility);
        created.has_password = Some(settings.password_hash.is_some());
        created.topic = Some(settings.topic.clone()).filter(|topic| !topic.is_empty());
        let mut state = RoomState::new(settings);
        state.owner = Some(user.id);
        // The state first: the room must never be seen without it (as public).
        self.rooms().insert(conv.id, state);
        self.directory().add_conversation(&conv);
        self.directory().add_member(conv.id, user.id);
        self.sync(CacheSync::conversation(&conv, vec![user.id]));
        self.publish(Event::Membership {
            conv: conv.id,
            user: user.id,
            joined: true,
        });
        self.announce(conv.id, created, None);
        tracing::info!(room = %room, by = %user.username, "room created");
        Ok(conv.id)
    }

    /// `join`: joins a room, creating it (public, `user` its owner) if it does not exist.
    /// Joining a room twice is fine. Refused: `banned`; a private room (`forbidden`: members
    /// get in by invitation); a password room without the right `password`
    /// (`wrong_password`; attempts are budgeted per user: `rate_limited`).
    pub async fn join_room(
        &self,
        user: &User,
        room: &RoomName,
        password: Option<&str>,
    ) -> Result<(), AppError> {
        let conv = match self.directory().room(room.as_str()) {
            Some(conv) => conv,
            None => match self.found_room(user, room, RoomSettings::default()).await {
                Ok(_) => return Ok(()),
                // Someone else created it meanwhile: join theirs.
                Err(err) if err.code == ErrorCode::Conflict => self
                    .directory()
                    .room(room.as_str())
                    .ok_or_else(|| no_room(room))?,
                Err(err) => return Err(err),
            },
        };
        if self.directory().is_member(conv, user.id) {
            return Ok(());
        }
        self.check_not_banned(conv, user.id)?;
        let (closing, visibility, password_hash) = self
            .rooms()
            .read(conv, |state| {
                (state.closing, state.visibility, state.password_hash.clone())
            })
            .unwrap_or_default();
        if closing {
            return Err(no_room(room));
        }
        if visibility == Visibility::Private {
            return Err(AppError::forbidden("private room: you need an invitation"));
        }
        if let Some(hash) = password_hash {
            let wrong = |message: String| AppError::new(ErrorCode::WrongPassword, message);
            let Some(password) = password else {
                return Err(wrong(format!("{room} needs a password")));
            };
            if !self.rooms().try_password_attempt(user.id) {
                return Err(AppError::new(
                    ErrorCode::RateLimited,
                    "too many room password attempts; wait and retry",
                ));
            }
            let right = password.len() <= MAX_PASSWORD_BYTES
                && self
                    .inner
                    .hasher
                    .verify(password, &hash)
                    .await
                    .map_err(|err| {
                        tracing::error!(%err, "cannot verify a room password");
                        AppError::internal()
                    })?;
            if !right {
                tracing::info!(room = %room, user = %user.username, "wrong room password");
                return Err(wrong(format!("wrong password for {room}")));
            }
        }
        if self.admit(conv, user.id).await? {
            tracing::info!(room = %room, user = %user.username, "joined");
        }
        Ok(())
    }

    /// Makes `user` a member of the room `conv` and announces it; false if they already were.
    /// Every way into a room (join, an accepted invitation, an invite link) ends here, after
    /// its own checks; a banned user is refused here too (`banned`), atomically with the
    /// insert. (Creating a room makes its owner the first member in the same transaction.)
    pub(crate) async fn admit(&self, conv: ConvId, user: UserId) -> Result<bool, AppError> {
        let _member = self.rooms().member_lock(conv, user).lock().await;
        if self
            .rooms()
            .read(conv, |room| room.closing)
            .unwrap_or(false)
        {
            return Err(AppError::not_found("the room is being deleted"));
        }
        match self.store().admit_member(conv, user).await? {
            Admission::Banned => {
                Err(self.check_not_banned(conv, user).err().unwrap_or_else(|| {
                    AppError::new(ErrorCode::Banned, "you are banned from the room")
                }))
            }
            Admission::AlreadyMember => Ok(false),
            Admission::Joined => {
                self.directory().add_member(conv, user);
                self.publish(Event::Membership {
                    conv,
                    user,
                    joined: true,
                });
                Ok(true)
            }
        }
    }

    /// `leave`. The owner cannot leave (`conflict`): they transfer the room or delete it.
    pub async fn leave_room(&self, user: &User, room: &RoomName) -> Result<(), AppError> {
        let conv = self.room_of_member(user.id, room.as_str())?;
        let _admin = self.rooms().admin_lock(conv).lock().await;
        if self.room_of_member(user.id, room.as_str())? != conv {
            return Err(no_room(room));
        }
        if self.rooms().role(conv, user.id) == Role::Owner {
            return Err(AppError::new(
                ErrorCode::Conflict,
                format!("you own {room}: transfer it or delete it before leaving"),
            ));
        }
        let _member = self.rooms().member_lock(conv, user.id).lock().await;
        if self.store().leave(conv, user.id).await? {
            self.directory().remove_member(conv, user.id);
            self.rooms().left(conv, user.id);
            self.publish(Event::Membership {
                conv,
                user: user.id,
                joined: false,
            });
            tracing::info!(room = %room, user = %user.username, "left");
        }
        Ok(())
    }

    /// Every room `user` may see (private rooms only to their members), with its member
    /// count, whether `user` is in it, and its topic, visibility and whether it has a password.
    pub fn rooms_frame(&self, user: UserId, reply_to: Option<String>) -> ServerFrame {
        let rooms = self
            .directory()
            .rooms()
            .into_iter()
            .filter_map(|(conv, name, members)| {
                let joined = self.directory().is_member(conv, user);
                let (topic, visibility, has_password) = self
                    .rooms()
                    .read(conv, |room| {
                        (
                            room.topic.clone(),
                            room.visibility,
                            room.password_hash.is_some(),
                        )
                    })
                    .unwrap_or_default();
                if visibility == Visibility::Private && !joined {
                    return None;
                }
                Some(RoomInfo {
                    joined,
                    name,
                    members: members as u64,
                    topic,
                    visibility,
                    has_password,
                })
            })
            .collect();
        ServerFrame::Rooms(Rooms { reply_to, rooms })
    }

    /// The room, if `user` may look at it: a private room only to its members.
    fn visible_room(&self, user: UserId, room: &RoomName) -> Result<(ConvId, RoomState), AppError> {
        let conv = self
            .directory()
            .room(room.as_str())
            .ok_or_else(|| no_room(room))?;
        let state = self.rooms().get(conv);
        if state.visibility == Visibility::Private && !self.directory().is_member(conv, user) {
            return Err(AppError::forbidden(format!(
                "{room} is private: members only"
            )));
        }
        Ok((conv, state))
    }

    /// A room's members, sorted by name, with who is online, their roles and mutes.
    pub fn members_frame(
        &self,
        user: UserId,
        room: &RoomName,
        reply_to: Option<String>,
    ) -> Result<ServerFrame, AppError> {
        let (conv, state) = self.visible_room(user, room)?;
        let now = clock::now_ms();
        let mut members: Vec<MemberInfo> = self
            .directory()
            .members(conv)
            .iter()
            .filter_map(|&member| {
                Some(MemberInfo {
                    username: self.directory().username(member)?,
                    online: self.is_online(member),
                    role: Some(state.role(member)).filter(|role| role.is_host()),
                    muted_until: state.muted_until(member, now).map(clock::rfc3339),
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

    /// `room_info`: a room's settings and owner, the asker's role and mute, and (for the
    /// owner and moderators) who is banned.
    pub fn room_info_frame(
        &self,
        user: UserId,
        room: &RoomName,
        reply_to: Option<String>,
    ) -> Result<ServerFrame, AppError> {
        let (conv, state) = self.visible_room(user, room)?;
        let member = self.directory().is_member(conv, user);
        let role = member.then(|| state.role(user));
        let banned = (member && self.is_moderator(conv, user)).then(|| {
            let mut names: Vec<String> = state
                .bans
                .iter()
                .filter_map(|&banned| self.directory().username(banned))
                .collect();
            names.sort();
            names
        });
        Ok(ServerFrame::RoomInfo(RoomDetails {
            reply_to,
            room: room.as_str().to_owned(),
            visibility: state.visibility,
            topic: state.topic.clone(),
            has_password: state.password_hash.is_some(),
            owner: state
                .owner
                .and_then(|owner| self.directory().username(owner)),
            members: self.directory().members(conv).len() as u64,
            role,
            muted_until: state.muted_until(user, clock::now_ms()).map(clock::rfc3339),
            banned,
        }))
    }
}
