//! Frames the server sends. One internally tagged enum: the `type` field names the variant.
//! Answers to a client frame carry `reply_to`; events (messages, typing, presence, membership)
//! do not.

use serde::{Deserialize, Serialize};

use crate::attachment::AttachmentInfo;
use crate::error::ErrorCode;
use crate::limits::Limits;
use crate::messaging::{
    Chats, Location, MessageKind, Reaction, Receipt, Receipts, ReplyPreview, SearchResults, Update,
};
use crate::rooms::{Role, RoomDetails, RoomEvent, Visibility};
use crate::social::{
    Contacts, Invitation, InvitationAnswered, Invitations, InviteInfo, InviteLink, InviteLinks,
    Profile,
};

/// A frame from server to client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    /// Sent once, right after authentication.
    Ready(Ready),
    /// Success for a frame that carried an `id`.
    Ack(Ack),
    /// Failure, answering a frame when `reply_to` is set.
    Error(ErrorFrame),
    /// A chat message in one of the user's conversations.
    Message(ChatMessage),
    /// A page of history.
    History(History),
    /// Someone is typing.
    Typing(TypingEvent),
    /// A user came online or went offline.
    Presence(Presence),
    /// Someone joined or left a room the user is in.
    Membership(Membership),
    /// The rooms on the server.
    Rooms(Rooms),
    /// The members of a room.
    Members(Members),
    /// A message changed: edited, deleted or reacted to.
    Update(Update),
    /// A member's delivered or read marker moved.
    Receipt(Receipt),
    /// Every member's markers in a conversation.
    Receipts(Receipts),
    /// The user's conversations.
    Chats(Chats),
    /// A page of search results.
    SearchResults(SearchResults),
    /// One room's settings, as the asker may see them.
    RoomInfo(RoomDetails),
    /// An owner or moderator acted on a room (kick, ban, mute, topic, ...).
    RoomEvent(RoomEvent),
    /// The answer to `ping`.
    Pong {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reply_to: Option<String>,
    },
    /// The last frame on a line transport (TCP), which has no close frame of its own: the
    /// WebSocket close code and reason the connection ends with.
    Close { code: u16, reason: String },
    /// A user's profile: the answer to `profile`, or the event when it changes.
    Profile(Profile),
    /// The user's contact list.
    Contacts(Contacts),
    /// A new invitation into a room (event).
    Invitation(Invitation),
    /// The user's pending invitations.
    Invitations(Invitations),
    /// An invitation was accepted or declined (event).
    InvitationAnswered(InvitationAnswered),
    /// A new invite link.
    InviteLink(InviteLink),
    /// A room's live invite links.
    InviteLinks(InviteLinks),
    /// What an invite code leads to.
    InviteInfo(InviteInfo),
}

/// `ready`: who the user is, what they belong to, and the limits in force.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ready {
    pub protocol: u32,
    /// This connection's session id (for logs and support).
    pub session: String,
    pub user: UserInfo,
    /// Rooms the user is a member of.
    pub rooms: Vec<ConversationInfo>,
    /// Direct-message conversations the user has.
    pub direct: Vec<ConversationInfo>,
    pub limits: Limits,
    /// A new session token, present only when the login was by username and password: keep it
    /// to reconnect without the password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// The `id` of the in-band `login` frame this answers, if it had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
    /// The Server-Sent Events stream this session runs on (`GET /api/v1/events` only): posts
    /// name it with `?stream=`, and its events' ids begin with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<String>,
}

/// A user as the protocol shows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserInfo {
    pub username: String,
}

/// One conversation and its newest sequence number, for catch-up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationInfo {
    /// What to put in `receiver` to talk there: `#room`, or the other user's name.
    pub receiver: String,
    /// The sequence number of the conversation's newest message (0 when empty).
    pub last_seq: u64,
}

/// `ack`. For a message it carries the server's id, sequence number and timestamp.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    pub reply_to: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receiver: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    /// True when this answers a resend of an already stored message.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub duplicate: bool,
}

/// `error`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorFrame {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
    pub code: ErrorCode,
    pub message: String,
}

/// A stored chat message.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// Server id: unique and time-sortable (26 characters, Crockford base32).
    pub id: String,
    /// Position in the conversation: 1, 2, 3... with no gaps.
    pub seq: u64,
    pub sender: String,
    /// `#room`, or for a direct message the user it was sent to.
    pub receiver: String,
    /// The text (a caption for attachments and locations); empty once deleted.
    pub content: String,
    /// When the server stored it, RFC 3339 UTC with milliseconds.
    pub timestamp: String,
    /// Absent for plain text.
    #[serde(default, skip_serializing_if = "MessageKind::is_text")]
    pub kind: MessageKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachment: Option<AttachmentInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    /// The message this one answers, as it is now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to_message: Option<ReplyPreview>,
    /// When the content was last edited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edited: Option<String>,
    /// A tombstone: the content, attachment and location are erased.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleted: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reactions: Vec<Reaction>,
}

/// `history`: messages oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct History {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
    pub receiver: String,
    pub messages: Vec<ChatMessage>,
    /// True when more messages lie beyond this page in the direction asked for.
    pub has_more: bool,
}

/// `typing`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypingEvent {
    pub sender: String,
    pub receiver: String,
}

/// `presence`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Presence {
    pub user: String,
    pub status: PresenceStatus,
}

/// Online when a user's first session opens, offline when the last one closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PresenceStatus {
    Online,
    Offline,
}

/// `membership`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Membership {
    pub room: String,
    pub user: String,
    pub change: MembershipChange,
}

/// What happened to a room's membership.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MembershipChange {
    Joined,
    Left,
}

/// `rooms`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rooms {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
    pub rooms: Vec<RoomInfo>,
}

/// One room in a `rooms` list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomInfo {
    pub name: String,
    pub members: u64,
    /// Whether the asking user is a member.
    pub joined: bool,
    /// The topic; absent when there is none.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub topic: String,
    /// `private` for a private room (listed to its members only); absent for a public one.
    #[serde(default, skip_serializing_if = "Visibility::is_public")]
    pub visibility: Visibility,
    /// `true` when joining needs a password; absent otherwise.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub has_password: bool,
}

/// `members`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Members {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
    pub room: String,
    pub members: Vec<MemberInfo>,
}

/// One member in a `members` list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberInfo {
    pub username: String,
    pub online: bool,
    /// `owner` or `moderator`; absent for a plain member.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    /// When the member's mute ends (RFC 3339); absent when they are not muted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub muted_until: Option<String>,
}

impl ServerFrame {
    /// An `error` frame.
    pub fn error(code: ErrorCode, message: impl Into<String>, reply_to: Option<String>) -> Self {
        Self::Error(ErrorFrame {
            reply_to,
            code,
            message: message.into(),
        })
    }

    /// Every frame `type` the server sends.
    pub const KINDS: [&'static str; 27] = [
        "ready",
        "ack",
        "error",
        "message",
        "history",
        "typing",
        "presence",
        "membership",
        "rooms",
        "members",
        "update",
        "receipt",
        "receipts",
        "chats",
        "search_results",
        "room_info",
        "room_event",
        "pong",
        "close",
        "profile",
        "contacts",
        "invitation",
        "invitations",
        "invitation_answered",
        "invite_link",
        "invite_links",
        "invite_info",
    ];

    /// The `type` of a frame already serialized by [`ServerFrame::to_json`] (which writes it
    /// first), without parsing the rest; `other` for anything else.
    pub fn kind_of_json(json: &[u8]) -> &'static str {
        json.strip_prefix(br#"{"type":""#)
            .and_then(|rest| rest.iter().position(|&b| b == b'"').map(|end| &rest[..end]))
            .and_then(|kind| Self::KINDS.iter().find(|k| k.as_bytes() == kind))
            .copied()
            .unwrap_or("other")
    }

    /// The frame's `type` as it appears on the wire.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Ready(_) => "ready",
            Self::Ack(_) => "ack",
            Self::Error(_) => "error",
            Self::Message(_) => "message",
            Self::History(_) => "history",
            Self::Typing(_) => "typing",
            Self::Presence(_) => "presence",
            Self::Membership(_) => "membership",
            Self::Rooms(_) => "rooms",
            Self::Members(_) => "members",
            Self::Update(_) => "update",
            Self::Receipt(_) => "receipt",
            Self::Receipts(_) => "receipts",
            Self::Chats(_) => "chats",
            Self::SearchResults(_) => "search_results",
            Self::RoomInfo(_) => "room_info",
            Self::RoomEvent(_) => "room_event",
            Self::Pong { .. } => "pong",
            Self::Close { .. } => "close",
            Self::Profile(_) => "profile",
            Self::Contacts(_) => "contacts",
            Self::Invitation(_) => "invitation",
            Self::Invitations(_) => "invitations",
            Self::InvitationAnswered(_) => "invitation_answered",
            Self::InviteLink(_) => "invite_link",
            Self::InviteLinks(_) => "invite_links",
            Self::InviteInfo(_) => "invite_info",
        }
    }

    /// The frame as JSON text.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("server frames always serialize")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_is_the_wire_type() {
        let frames = [
            ServerFrame::error(ErrorCode::Internal, "x", None),
            ServerFrame::Pong { reply_to: None },
            ServerFrame::Close {
                code: 1000,
                reason: String::new(),
            },
        ];
        for frame in frames {
            let text = frame.to_json();
            let json: serde_json::Value = serde_json::from_str(&text).unwrap();
            assert_eq!(json["type"], frame.kind());
            assert_eq!(ServerFrame::kind_of_json(text.as_bytes()), frame.kind());
            assert!(ServerFrame::KINDS.contains(&frame.kind()));
        }
        assert_eq!(ServerFrame::kind_of_json(b"{\"type\":\"nope\"}"), "other");
        assert_eq!(ServerFrame::kind_of_json(b"[]"), "other");
    }

    #[test]
    fn message_has_the_design_document_shape() {
        let frame = ServerFrame::Message(ChatMessage {
            id: "01J0000000000000000000000A".into(),
            seq: 3,
            sender: "vaibhav".into(),
            receiver: "rituja".into(),
            content: "Hello, world!".into(),
            timestamp: "2025-06-04T19:00:00.000Z".into(),
            ..ChatMessage::default()
        });
        assert_eq!(
            frame.to_json(),
            r#"{"type":"message","id":"01J0000000000000000000000A","seq":3,"sender":"vaibhav","receiver":"rituja","content":"Hello, world!","timestamp":"2025-06-04T19:00:00.000Z"}"#
        );
    }

    #[test]
    fn acks_and_errors_have_exact_shapes() {
        let ack = ServerFrame::Ack(Ack {
            reply_to: "c1".into(),
            id: Some("01J0000000000000000000000A".into()),
            seq: Some(1),
            receiver: Some("#general".into()),
            timestamp: Some("2025-06-04T19:00:00.000Z".into()),
            duplicate: false,
        });
        assert_eq!(
            ack.to_json(),
            r##"{"type":"ack","reply_to":"c1","id":"01J0000000000000000000000A","seq":1,"receiver":"#general","timestamp":"2025-06-04T19:00:00.000Z"}"##
        );
        let plain = ServerFrame::Ack(Ack {
            reply_to: "j".into(),
            ..Ack::default()
        });
        assert_eq!(plain.to_json(), r#"{"type":"ack","reply_to":"j"}"#);
        let error = ServerFrame::error(ErrorCode::Forbidden, "no", Some("x".into()));
        assert_eq!(
            error.to_json(),
            r#"{"type":"error","reply_to":"x","code":"forbidden","message":"no"}"#
        );
    }

    #[test]
    fn events_have_exact_shapes() {
        let typing = ServerFrame::Typing(TypingEvent {
            sender: "a".into(),
            receiver: "#ops".into(),
        });
        assert_eq!(
            typing.to_json(),
            r##"{"type":"typing","sender":"a","receiver":"#ops"}"##
        );
        let presence = ServerFrame::Presence(Presence {
            user: "a".into(),
            status: PresenceStatus::Offline,
        });
        assert_eq!(
            presence.to_json(),
            r#"{"type":"presence","user":"a","status":"offline"}"#
        );
        let membership = ServerFrame::Membership(Membership {
            room: "#ops".into(),
            user: "a".into(),
            change: MembershipChange::Joined,
        });
        assert_eq!(
            membership.to_json(),
            r##"{"type":"membership","room":"#ops","user":"a","change":"joined"}"##
        );
        assert_eq!(
            ServerFrame::Pong {
                reply_to: Some("p".into())
            }
            .to_json(),
            r#"{"type":"pong","reply_to":"p"}"#
        );
        assert_eq!(
            ServerFrame::Close {
                code: 4000,
                reason: "slow consumer".into()
            }
            .to_json(),
            r#"{"type":"close","code":4000,"reason":"slow consumer"}"#
        );
    }

    #[test]
    fn server_frames_parse_back() {
        let ready = ServerFrame::Ready(Ready {
            protocol: crate::PROTOCOL_VERSION,
            session: "s1".into(),
            user: UserInfo {
                username: "a".into(),
            },
            rooms: vec![ConversationInfo {
                receiver: "#general".into(),
                last_seq: 4,
            }],
            direct: vec![],
            limits: Limits::default(),
            token: None,
            reply_to: None,
            stream: Some("0123abcd".into()),
        });
        let text = ready.to_json();
        assert!(text.ends_with(r#","stream":"0123abcd"}"#), "{text}");
        assert_eq!(serde_json::from_str::<ServerFrame>(&text).unwrap(), ready);
    }
}
