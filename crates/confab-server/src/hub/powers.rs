//! Who may do what in a room: roles, mutes and bans, checked on every path that changes a
//! conversation (WebSocket, REST and the gateways all come through the hub), and the host
//! actions themselves: kick, ban, unban, mute, unmute, topic and password (owner and
//! moderators); roles, transfer and deletion (owner only).
//!
//! Rules: a moderator acts on plain members only, the owner on everyone but themselves;
//! nobody kicks, bans, mutes or unmutes themselves. `#general` has no owner, so nobody holds
//! powers there. Every action that changes something is announced as a `room_event` to the
//! room's members and to the user it was done to; one that changes nothing (a second ban, an
//! unmute of someone not muted) is acknowledged without an event.
//!
//! Each action holds its room's admin lock across its checks, the store write and the cache
//! update, so two actions on one room never interleave and the cache never disagrees with
//! the store.

use bytes::Bytes;
use confab_protocol::names::Username;
use confab_protocol::rooms::{check_room_password, check_topic};
use confab_protocol::{
    ErrorCode, Membership, MembershipChange, Role, RoomAction, RoomEvent, RoomName, ServerFrame,
};

use super::Hub;
use crate::bus::{Audience, CacheSync, Event};
use crate::clock;
use crate::error::AppError;
use crate::store::rooms::SettingsChange;
use crate::store::{ConvId, User, UserId};

pub(super) fn no_room(room: &RoomName) -> AppError {
    AppError::not_found(format!("no room {room}"))
}

impl Hub {
    /// Whether the user is an owner or moderator of the conversation (a room).
    pub(crate) fn is_moderator(&self, conv: ConvId, user: UserId) -> bool {
        self.rooms()
            .read(conv, |room| room.role(user).is_host())
            .unwrap_or(false)
    }

    /// Refuses entry to a user banned from the room (`banned`).
    pub(crate) fn check_not_banned(&self, conv: ConvId, user: UserId) -> Result<(), AppError> {
        let banned = self
            .rooms()
            .read(conv, |room| room.bans.contains(&user))
            .unwrap_or(false);
        if banned {
            return Err(self.banned(conv));
        }
        Ok(())
    }

    /// Refuses a post from a muted or banned member (`muted` says until when). Direct
    /// conversations and rooms without powers always pass.
    pub(crate) fn check_can_post(&self, conv: ConvId, user: UserId) -> Result<(), AppError> {
        enum Refusal {
            Gone,
            Banned,
            Muted(i64),
        }
        let refusal = self
            .rooms()
            .read(conv, |room| {
                if room.closing {
                    Some(Refusal::Gone)
                } else if room.bans.contains(&user) {
                    Some(Refusal::Banned)
                } else if room.mutes.is_empty() {
                    None
                } else {
                    room.muted_until(user, clock::now_ms()).map(Refusal::Muted)
                }
            })
            .flatten();
        match refusal {
            None => Ok(()),
            Some(Refusal::Gone) => Err(AppError::not_found(format!(
                "{} is being deleted",
                self.room_label(conv)
            ))),
            Some(Refusal::Banned) => Err(self.banned(conv)),
            Some(Refusal::Muted(until)) => Err(AppError::new(
                ErrorCode::Muted,
                format!(
                    "you are muted in {} until {}",
                    self.room_label(conv),
                    clock::rfc3339(until)
                ),
            )),
        }
    }

    fn banned(&self, conv: ConvId) -> AppError {
        AppError::new(
            ErrorCode::Banned,
            format!("you are banned from {}", self.room_label(conv)),
        )
    }

    /// The room's name, for messages.
    fn room_label(&self, conv: ConvId) -> String {
        match self.directory().kind(conv) {
            Some(crate::store::ConversationKind::Room(name)) => name,
            _ => "this conversation".to_owned(),
        }
    }

    /// Takes the room's admin lock; the room must still be the same one once it is held.
    async fn lock_room(
        &self,
        room: &RoomName,
    ) -> Result<(tokio::sync::MutexGuard<'_, ()>, ConvId), AppError> {
        let conv = self
            .directory()
            .room(room.as_str())
            .ok_or_else(|| no_room(room))?;
        let guard = self.rooms().admin_lock(conv).lock().await;
        if self.directory().room(room.as_str()) != Some(conv) {
            return Err(no_room(room));
        }
        Ok((guard, conv))
    }

    /// The actor's role in a room they act on: a non-member gets `banned` if banned there,
    /// `forbidden` otherwise.
    pub(super) fn role_of_actor(
        &self,
        conv: ConvId,
        actor: UserId,
        room: &RoomName,
    ) -> Result<Role, AppError> {
        if !self.directory().is_member(conv, actor) {
            self.check_not_banned(conv, actor)?;
            return Err(AppError::forbidden(format!("not a member of {room}")));
        }
        Ok(self.rooms().role(conv, actor))
    }

    /// The actor must be the owner or a moderator; returns their role.
    fn require_host(
        &self,
        conv: ConvId,
        actor: UserId,
        room: &RoomName,
        what: &str,
    ) -> Result<Role, AppError> {
        let role = self.role_of_actor(conv, actor, room)?;
        if !role.is_host() {
            return Err(AppError::forbidden(format!(
                "only the owner or a moderator of {room} may {what}"
            )));
        }
        Ok(role)
    }

    fn require_owner(
        &self,
        conv: ConvId,
        actor: UserId,
        room: &RoomName,
        what: &str,
    ) -> Result<(), AppError> {
        if self.role_of_actor(conv, actor, room)? != Role::Owner {
            return Err(AppError::forbidden(format!(
                "only the owner of {room} may {what}"
            )));
        }
        Ok(())
    }

    /// The user an action is done to: an existing user other than the actor.
    fn target(&self, actor: &User, user: &Username, what: &str) -> Result<UserId, AppError> {
        let target = self.user_id(user)?;
        if target == actor.id {
            return Err(AppError::forbidden(format!("you cannot {what} yourself")));
        }
        Ok(target)
    }

    fn require_member(
        &self,
        conv: ConvId,
        target: UserId,
        user: &Username,
        room: &RoomName,
    ) -> Result<(), AppError> {
        if !self.directory().is_member(conv, target) {
            return Err(AppError::not_found(format!(
                "{user} is not a member of {room}"
            )));
        }
        Ok(())
    }

    /// A moderator acts on plain members only.
    fn require_outranks(
        &self,
        actor_role: Role,
        conv: ConvId,
        target: UserId,
        what: &str,
    ) -> Result<(), AppError> {
        if actor_role == Role::Moderator && self.rooms().role(conv, target).is_host() {
            return Err(AppError::forbidden(format!(
                "a moderator cannot {what} the owner or another moderator"
            )));
        }
        Ok(())
    }

    /// Sends a `room_event` to the room's members and, if they are not one (any more), to
    /// `also`.
    pub(super) fn announce(&self, conv: ConvId, event: RoomEvent, also: Option<UserId>) {
        let frame = Bytes::from(ServerFrame::RoomEvent(event).to_json());
        if let Some(user) = also.filter(|&user| !self.directory().is_member(conv, user)) {
            self.publish(Event::Notice {
                audience: Audience::User(user),
                frame: frame.clone(),
            });
        }
        self.publish(Event::Notice {
            audience: Audience::Conversation(conv),
            frame,
        });
    }

    fn event(
        room: &RoomName,
        action: RoomAction,
        actor: &User,
        user: Option<&Username>,
    ) -> RoomEvent {
        let mut event = RoomEvent::new(room.as_str(), action, actor.username.as_str());
        event.user = user.map(|user| user.as_str().to_owned());
        event
    }

    /// `kick`: removes a member; a public room they may join again.
    pub async fn kick(
        &self,
        actor: &User,
        room: &RoomName,
        user: &Username,
    ) -> Result<(), AppError> {
        let (_admin, conv) = self.lock_room(room).await?;
        let role = self.require_host(conv, actor.id, room, "kick")?;
        let target = self.target(actor, user, "kick")?;
        self.require_member(conv, target, user, room)?;
        self.require_outranks(role, conv, target, "kick")?;
        let removed = {
            let _member = self.rooms().member_lock(conv, target).lock().await;
            let removed = self.store().leave(conv, target).await?;
            if removed {
                self.directory().remove_member(conv, target);
                self.rooms().left(conv, target);
            }
            removed
        };
        if removed {
            let event = Self::event(room, RoomAction::Kicked, actor, Some(user));
            self.announce(conv, event, Some(target));
            self.publish(Event::Membership {
                conv,
                user: target,
                joined: false,
            });
            tracing::info!(room = %room, by = %actor.username, user = %user, "kicked");
        }
        Ok(())
    }

    /// `ban`: removes the user if they are a member and keeps them out (join, invitations,
    /// invite links) until `unban`. A user who is not a member may be banned too.
    pub async fn ban(
        &self,
        actor: &User,
        room: &RoomName,
        user: &Username,
    ) -> Result<(), AppError> {
        let (_admin, conv) = self.lock_room(room).await?;
        let role = self.require_host(conv, actor.id, room, "ban")?;
        let target = self.target(actor, user, "ban")?;
        self.require_outranks(role, conv, target, "ban")?;
        let (banned, removed) = {
            let _member = self.rooms().member_lock(conv, target).lock().await;
            let (banned, removed) = self.store().ban_user(conv, target, actor.id).await?;
            self.rooms().update(conv, |room| room.bans.insert(target));
            if removed {
                self.directory().remove_member(conv, target);
                self.rooms().left(conv, target);
            }
            self.sync(CacheSync::Room { conv });
            (banned, removed)
        };
        if banned || removed {
            let event = Self::event(room, RoomAction::Banned, actor, Some(user));
            self.announce(conv, event, Some(target));
            tracing::info!(room = %room, by = %actor.username, user = %user, "banned");
        }
        if removed {
            self.publish(Event::Membership {
                conv,
                user: target,
                joined: false,
            });
        }
        Ok(())
    }

    /// `unban`: lets a banned user in again (they still have to join).
    pub async fn unban(
        &self,
        actor: &User,
        room: &RoomName,
        user: &Username,
    ) -> Result<(), AppError> {
        let (_admin, conv) = self.lock_room(room).await?;
        self.require_host(conv, actor.id, room, "unban")?;
        let target = self.target(actor, user, "unban")?;
        if self.store().unban_user(conv, target).await? {
            self.rooms().update(conv, |room| room.bans.remove(&target));
            self.sync(CacheSync::Room { conv });
            let event = Self::event(room, RoomAction::Unbanned, actor, Some(user));
            self.announce(conv, event, Some(target));
            tracing::info!(room = %room, by = %actor.username, user = %user, "unbanned");
        }
        Ok(())
    }

    /// `mute`: the member stays but cannot post for `seconds` (1 to `rooms.max_mute_secs`).
    /// Muting a muted member sets the new end.
    pub async fn mute(
        &self,
        actor: &User,
        room: &RoomName,
        user: &Username,
        seconds: u64,
    ) -> Result<(), AppError> {
        let max = self.config().rooms.max_mute_secs;
        if seconds == 0 || seconds > max {
            return Err(AppError::bad_request(format!("seconds must be 1 to {max}")));
        }
        let (_admin, conv) = self.lock_room(room).await?;
        let role = self.require_host(conv, actor.id, room, "mute")?;
        let target = self.target(actor, user, "mute")?;
        self.require_member(conv, target, user, room)?;
        self.require_outranks(role, conv, target, "mute")?;
        let now = clock::now_ms();
        let until = i64::try_from(seconds)
            .unwrap_or(i64::MAX)
            .saturating_mul(1000)
            .saturating_add(now);
        self.store()
            .mute_user(conv, target, until, actor.id)
            .await?;
        self.rooms().update(conv, |room| {
            room.mutes.retain(|_, &mut end| end > now);
            room.mutes.insert(target, until)
        });
        self.sync(CacheSync::Room { conv });
        let mut event = Self::event(room, RoomAction::Muted, actor, Some(user));
        event.until = Some(clock::rfc3339(until));
        self.announce(conv, event, Some(target));
        tracing::info!(room = %room, by = %actor.username, user = %user, seconds, "muted");
        Ok(())
    }

    /// `unmute`: ends a running mute (the user need not be a member any more).
    pub async fn unmute(
        &self,
        actor: &User,
        room: &RoomName,
        user: &Username,
    ) -> Result<(), AppError> {
        let (_admin, conv) = self.lock_room(room).await?;
        let role = self.require_host(conv, actor.id, room, "unmute")?;
        let target = self.target(actor, user, "unmute")?;
        self.require_outranks(role, conv, target, "unmute")?;
        let running = self.store().unmute_user(conv, target).await?;
        self.rooms().update(conv, |room| room.mutes.remove(&target));
        self.sync(CacheSync::Room { conv });
        if running {
            let event = Self::event(room, RoomAction::Unmuted, actor, Some(user));
            self.announce(conv, event, Some(target));
            tracing::info!(room = %room, by = %actor.username, user = %user, "unmuted");
        }
        Ok(())
    }

    /// `set_topic` and `set_password` (and REST `PATCH`, which may change both at once):
    /// `topic` replaces the topic (empty clears it); `password` `Some(None)` clears the
    /// password. Everything is checked before anything changes.
    pub async fn change_room(
        &self,
        actor: &User,
        room: &RoomName,
        topic: Option<String>,
        password: Option<Option<String>>,
    ) -> Result<(), AppError> {
        let invalid = |(code, message): (ErrorCode, String)| AppError::new(code, message);
        if topic.is_none() && password.is_none() {
            return Err(AppError::bad_request(
                "nothing to change: give topic or password",
            ));
        }
        if let Some(topic) = &topic {
            check_topic(topic).map_err(invalid)?;
        }
        if let Some(Some(password)) = &password {
            check_room_password(password).map_err(invalid)?;
        }
        let what = if topic.is_some() {
            "set the topic"
        } else {
            "set the password"
        };
        // Checked before hashing too, so nobody else can make the server hash for them.
        {
            let conv = self
                .directory()
                .room(room.as_str())
                .ok_or_else(|| no_room(room))?;
            self.require_host(conv, actor.id, room, what)?;
        }
        let password_hash = match password {
            Some(Some(password)) => Some(Some(self.hash_room_password(&password).await?)),
            Some(None) => Some(None),
            None => None,
        };
        let (_admin, conv) = self.lock_room(room).await?;
        self.require_host(conv, actor.id, room, what)?;
        let change = SettingsChange {
            topic: topic.clone(),
            password_hash: password_hash.clone(),
        };
        self.store().change_settings(conv, change).await?;
        self.rooms().update(conv, |state| {
            if let Some(topic) = &topic {
                state.topic.clone_from(topic);
            }
            if let Some(hash) = password_hash.clone() {
                state.password_hash = hash.map(Into::into);
            }
        });
        self.sync(CacheSync::Room { conv });
        if let Some(topic) = topic {
            let mut event = Self::event(room, RoomAction::TopicChanged, actor, None);
            event.topic = Some(topic);
            self.announce(conv, event, None);
            tracing::info!(room = %room, by = %actor.username, "topic changed");
        }
        if let Some(hash) = password_hash {
            let mut event = Self::event(room, RoomAction::PasswordChanged, actor, None);
            event.has_password = Some(hash.is_some());
            self.announce(conv, event, None);
            tracing::info!(room = %room, by = %actor.username, set = hash.is_some(), "password changed");
        }
        Ok(())
    }

    /// `set_role`: the owner makes a member a moderator, or a moderator a member again.
    pub async fn set_role(
        &self,
        actor: &User,
        room: &RoomName,
        user: &Username,
        role: Role,
    ) -> Result<(), AppError> {
        if role == Role::Owner {
            return Err(AppError::bad_request(
                "role is moderator or member; ownership moves with transfer",
            ));
        }
        let (_admin, conv) = self.lock_room(room).await?;
        self.require_owner(conv, actor.id, room, "set roles")?;
        let target = self.target(actor, user, "change the role of")?;
        self.require_member(conv, target, user, room)?;
        if self.rooms().role(conv, target) == role {
            return Ok(());
        }
        self.store().set_role(conv, target, role).await?;
        self.rooms()
            .update(conv, |state| state.set_role(target, role));
        self.sync(CacheSync::Room { conv });
        let mut event = Self::event(room, RoomAction::RoleChanged, actor, Some(user));
        event.role = Some(role);
        self.announce(conv, event, Some(target));
        tracing::info!(room = %room, by = %actor.username, user = %user, role = role.as_str(), "role changed");
        Ok(())
    }

    /// `transfer`: makes a member the owner; the old owner becomes a moderator.
    pub async fn transfer(
        &self,
        actor: &User,
        room: &RoomName,
        user: &Username,
    ) -> Result<(), AppError> {
        let (_admin, conv) = self.lock_room(room).await?;
        self.require_owner(conv, actor.id, room, "transfer it")?;
        let target = self.target(actor, user, "transfer the room to")?;
        self.require_member(conv, target, user, room)?;
        self.store()
            .transfer_ownership(conv, actor.id, target)
            .await?;
        self.rooms().update(conv, |state| {
            state.set_role(target, Role::Owner);
            state.set_role(actor.id, Role::Moderator);
        });
        self.sync(CacheSync::Room { conv });
        let event = Self::event(room, RoomAction::OwnershipTransferred, actor, Some(user));
        self.announce(conv, event, Some(target));
        tracing::info!(room = %room, from = %actor.username, to = %user, "ownership transferred");
        Ok(())
    }

    /// `delete_room`: erases the room and everything in it; every member gets
    /// `room_event` `room_deleted` and then `membership` `left`. The name is free afterwards.
    pub async fn delete_room(&self, actor: &User, room: &RoomName) -> Result<(), AppError> {
        let (_admin, conv) = self.lock_room(room).await?;
        self.require_owner(conv, actor.id, room, "delete it")?;
        // Nobody posts or joins while the erasure commits.
        self.rooms().update(conv, |state| state.closing = true);
        let attachments = match self.store().delete_room(conv).await {
            Ok(attachments) => attachments,
            Err(err) => {
                self.rooms().update(conv, |state| state.closing = false);
                return Err(err.into());
            }
        };
        let former = self.directory().remove_conversation(conv);
        self.cursors().forget_conversation(conv);
        self.rooms().remove(conv);
        self.sync(CacheSync::Removed { conv });
        let event = Bytes::from(
            ServerFrame::RoomEvent(Self::event(room, RoomAction::RoomDeleted, actor, None))
                .to_json(),
        );
        for user in &former {
            self.publish(Event::Notice {
                audience: Audience::User(*user),
                frame: event.clone(),
            });
            let Some(username) = self.directory().username(*user) else {
                continue;
            };
            let left = ServerFrame::Membership(Membership {
                room: room.as_str().to_owned(),
                user: username,
                change: MembershipChange::Left,
            });
            self.publish(Event::Notice {
                audience: Audience::User(*user),
                frame: Bytes::from(left.to_json()),
            });
        }
        tracing::info!(room = %room, by = %actor.username, members = former.len(), "room deleted");
        for id in attachments {
            if let Err(err) = self.erase_attachment(&id).await {
                tracing::warn!(%err, attachment = %id, "cannot erase an attachment of a deleted room");
            }
        }
        Ok(())
    }

    /// An argon2id hash of a room password.
    pub(super) async fn hash_room_password(&self, password: &str) -> Result<String, AppError> {
        self.inner.hasher.hash(password).await.map_err(|err| {
            tracing::error!(%err, "cannot hash a room password");
            AppError::internal()
        })
    }
}
