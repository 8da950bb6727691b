//! Rooms with host powers: the frames to create a room, join one with a password, ask about
//! it, and act as its owner or a moderator (kick, ban, unban, mute, unmute, topic, password,
//! roles, ownership, deletion), and the `room_info` and `room_event` frames the server sends.
//!
//! Frames that carry a password redact it in their `Debug` output, so a logged frame never
//! shows one.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

use crate::error::ErrorCode;
use crate::names::{check_password, RoomName, Username, MAX_PASSWORD_BYTES, MIN_PASSWORD_BYTES};

/// Longest room topic, in characters (not bytes).
pub const MAX_TOPIC_CHARS: usize = 512;

/// Whether a room is listed and open to everyone (`public`) or only to its members and those
/// they invite (`private`; also how a group conversation works).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    #[default]
    Public,
    Private,
}

impl Visibility {
    /// The visibility as it appears on the wire (and in storage).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Private => "private",
        }
    }

    /// Whether this is the default, `public` (such fields are left out of room lists).
    pub fn is_public(&self) -> bool {
        *self == Self::Public
    }
}

/// A member's role in a room.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Holds every power; one per room (none in `#general`).
    Owner,
    /// Kicks, bans, mutes, sets the topic and password; cannot act on the owner or another
    /// moderator.
    Moderator,
    #[default]
    Member,
}

impl Role {
    /// The role as it appears on the wire (and in storage).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::Moderator => "moderator",
            Self::Member => "member",
        }
    }

    /// Parses the stored form.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "owner" => Some(Self::Owner),
            "moderator" => Some(Self::Moderator),
            "member" => Some(Self::Member),
            _ => None,
        }
    }

    /// Owner or moderator.
    pub fn is_host(self) -> bool {
        matches!(self, Self::Owner | Self::Moderator)
    }
}

/// Why a room frame was refused: the code and the text for the `error` frame.
pub type RoomInvalid = (ErrorCode, String);

/// Checks a topic's length (it may be empty: that clears it).
pub fn check_topic(topic: &str) -> Result<(), RoomInvalid> {
    if topic.chars().count() > MAX_TOPIC_CHARS {
        return Err((
            ErrorCode::TooLarge,
            format!("a topic is at most {MAX_TOPIC_CHARS} characters"),
        ));
    }
    Ok(())
}

/// Checks a room password (the same length rule as account passwords).
pub fn check_room_password(password: &str) -> Result<(), RoomInvalid> {
    check_password(password).map_err(|_| {
        (
            ErrorCode::BadRequest,
            format!("a room password must be {MIN_PASSWORD_BYTES} to {MAX_PASSWORD_BYTES} bytes"),
        )
    })
}

/// `create_room`: creates a room with the sender as its owner.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateRoom {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub room: RoomName,
    #[serde(default, skip_serializing_if = "Visibility::is_public")]
    pub visibility: Visibility,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
}

impl CreateRoom {
    /// Checks the password and topic.
    pub fn validate(&self) -> Result<(), RoomInvalid> {
        if let Some(password) = &self.password {
            check_room_password(password)?;
        }
        if let Some(topic) = &self.topic {
            check_topic(topic)?;
        }
        Ok(())
    }
}

impl fmt::Debug for CreateRoom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CreateRoom")
            .field("id", &self.id)
            .field("room", &self.room)
            .field("visibility", &self.visibility)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("topic", &self.topic)
            .finish()
    }
}

/// `join`: joins a room, creating it (public, with the sender as owner) if it does not exist.
/// A room with a password needs `password`.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct JoinRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub room: RoomName,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

impl fmt::Debug for JoinRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinRequest")
            .field("id", &self.id)
            .field("room", &self.room)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// `kick`, `ban`, `unban`, `unmute` and `transfer`: an action on one user of a room.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoomUserRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub room: RoomName,
    pub user: Username,
}

/// `mute`: the member may not post for `seconds`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MuteRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub room: RoomName,
    pub user: Username,
    pub seconds: u64,
}

impl MuteRequest {
    /// A mute lasts at least a second (the upper bound is the server's `rooms.max_mute_secs`).
    pub fn validate(&self) -> Result<(), RoomInvalid> {
        if self.seconds == 0 {
            return Err((ErrorCode::BadRequest, "seconds must be at least 1".into()));
        }
        Ok(())
    }
}

/// `set_topic`: an empty topic clears it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetTopic {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub room: RoomName,
    pub topic: String,
}

impl SetTopic {
    pub fn validate(&self) -> Result<(), RoomInvalid> {
        check_topic(&self.topic)
    }
}

/// `set_password`: `password` must be present; `null` clears it.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct SetPassword {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub room: RoomName,
    #[serde(deserialize_with = "required_nullable")]
    pub password: Option<String>,
}

impl SetPassword {
    pub fn validate(&self) -> Result<(), RoomInvalid> {
        match &self.password {
            Some(password) => check_room_password(password),
            None => Ok(()),
        }
    }
}

impl fmt::Debug for SetPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SetPassword")
            .field("id", &self.id)
            .field("room", &self.room)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// A field that must be present but may be `null` (serde treats a missing `Option` as `None`
/// unless it is deserialized by hand).
fn required_nullable<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Option::<String>::deserialize(d)
}

/// `set_role`: the owner makes a member a moderator or back. `owner` is refused: ownership
/// moves with `transfer`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetRole {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub room: RoomName,
    pub user: Username,
    pub role: Role,
}

impl SetRole {
    pub fn validate(&self) -> Result<(), RoomInvalid> {
        if self.role == Role::Owner {
            return Err((
                ErrorCode::BadRequest,
                "role is moderator or member; ownership moves with transfer".into(),
            ));
        }
        Ok(())
    }
}

/// `room_info`: everything about one room, as the asker may see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomDetails {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
    pub room: String,
    pub visibility: Visibility,
    pub topic: String,
    pub has_password: bool,
    /// The owner's name; `null` for a room without one (`#general`).
    pub owner: Option<String>,
    /// How many members it has.
    pub members: u64,
    /// The asker's role; absent when they are not a member.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    /// When the asker's mute ends (RFC 3339); absent when they are not muted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub muted_until: Option<String>,
    /// Who is banned, sorted; shown to the owner and moderators only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub banned: Option<Vec<String>>,
}

/// What a `room_event` reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoomAction {
    Created,
    Kicked,
    Banned,
    Unbanned,
    Muted,
    Unmuted,
    TopicChanged,
    PasswordChanged,
    RoleChanged,
    OwnershipTransferred,
    RoomDeleted,
}

/// `room_event`: something an owner or moderator did, sent to the room's members and to the
/// user it was done to. Never carries a password.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomEvent {
    pub room: String,
    pub action: RoomAction,
    /// Who did it.
    pub actor: String,
    /// Who it was done to (kick, ban, unban, mute, unmute, role, transfer: the new owner).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// The user's new role (`role_changed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    /// The new topic (`topic_changed`, and `created` when it has one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    /// When the mute ends, RFC 3339 (`muted`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
    /// Whether the room now has a password (`password_changed`, `created`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub has_password: Option<bool>,
    /// The room's visibility (`created`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visibility: Option<Visibility>,
}

impl RoomEvent {
    /// An event with only the room, the action and the actor set.
    pub fn new(room: impl Into<String>, action: RoomAction, actor: impl Into<String>) -> Self {
        Self {
            room: room.into(),
            action,
            actor: actor.into(),
            user: None,
            role: None,
            topic: None,
            until: None,
            has_password: None,
            visibility: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::ServerFrame;

    #[test]
    fn passwords_are_redacted_in_debug() {
        let join = JoinRequest {
            id: None,
            room: RoomName::parse("#a").unwrap(),
            password: Some("hunter2hunter2".into()),
        };
        assert!(!format!("{join:?}").contains("hunter2"));
        let set = SetPassword {
            id: None,
            room: RoomName::parse("#a").unwrap(),
            password: Some("hunter2hunter2".into()),
        };
        assert!(!format!("{set:?}").contains("hunter2"));
        let create = CreateRoom {
            id: None,
            room: RoomName::parse("#a").unwrap(),
            visibility: Visibility::Private,
            password: Some("hunter2hunter2".into()),
            topic: None,
        };
        assert!(!format!("{create:?}").contains("hunter2"));
    }

    #[test]
    fn topics_and_passwords_are_bounded() {
        assert!(check_topic(&"é".repeat(MAX_TOPIC_CHARS)).is_ok());
        assert_eq!(
            check_topic(&"t".repeat(MAX_TOPIC_CHARS + 1)).unwrap_err().0,
            ErrorCode::TooLarge
        );
        assert_eq!(
            check_room_password("short").unwrap_err(),
            (
                ErrorCode::BadRequest,
                "a room password must be 8 to 1024 bytes".into()
            )
        );
    }

    #[test]
    fn room_events_have_exact_shapes() {
        let mut event = RoomEvent::new("#ops", RoomAction::Muted, "alice");
        event.user = Some("bob".into());
        event.until = Some("2025-06-04T19:00:00.000Z".into());
        assert_eq!(
            ServerFrame::RoomEvent(event).to_json(),
            r##"{"type":"room_event","room":"#ops","action":"muted","actor":"alice","user":"bob","until":"2025-06-04T19:00:00.000Z"}"##
        );
        let info = ServerFrame::RoomInfo(RoomDetails {
            reply_to: Some("i".into()),
            room: "#ops".into(),
            visibility: Visibility::Private,
            topic: "deploys".into(),
            has_password: true,
            owner: None,
            members: 2,
            role: Some(Role::Member),
            muted_until: None,
            banned: None,
        });
        assert_eq!(
            info.to_json(),
            r##"{"type":"room_info","reply_to":"i","room":"#ops","visibility":"private","topic":"deploys","has_password":true,"owner":null,"members":2,"role":"member"}"##
        );
    }
}
