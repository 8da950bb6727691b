//! Frames a client sends. One internally tagged enum: the `type` field names the variant.
//! Every frame may carry an `id` (a string the client picks); the server answers a frame that
//! has one with exactly one frame whose `reply_to` is that id.

use std::collections::BTreeMap;

use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};

use crate::messaging::{
    ConversationRequest, DeleteMessage, EditMessage, Location, MarkRead, React, SearchRequest,
};
use crate::names::{Receiver, RoomName};
use crate::rooms::{
    CreateRoom, JoinRequest, MuteRequest, RoomUserRequest, SetPassword, SetRole, SetTopic,
};
use crate::social::{CodeRequest, CreateInvite, Invite, InviteReply, SetProfile, UserRequest};

/// A frame from client to server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientFrame {
    /// In-band authentication: a token, or a username and password.
    Login(Login),
    /// Revokes the session's token and closes the connection (1000).
    Logout {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
    },
    /// A chat message to a room or a user.
    Message(SendMessage),
    /// Joins a room, creating it (public, the sender its owner) if it does not exist.
    Join(JoinRequest),
    /// Leaves a room.
    Leave(RoomRequest),
    /// Asks for a page of a conversation's history.
    History(HistoryRequest),
    /// Tells the receiver that the user is typing.
    Typing(Typing),
    /// Lists the rooms on the server.
    Rooms {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
    },
    /// Lists a room's members.
    Members(MembersRequest),
    /// Changes the content of one of the user's messages.
    Edit(EditMessage),
    /// Deletes a message, leaving a tombstone.
    Delete(DeleteMessage),
    /// Toggles a reaction on a message.
    React(React),
    /// Moves the user's read marker in a conversation.
    Read(MarkRead),
    /// Asks for every member's delivered and read markers in a conversation.
    Receipts(ConversationRequest),
    /// Lists the user's conversations, most recent first, with unread counts.
    Chats {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
    },
    /// Removes a direct conversation from the user's own list and history.
    DeleteChat(ConversationRequest),
    /// Full-text search over the messages the user can see.
    Search(SearchRequest),
    /// Replaces the JWT a session was opened with by a newer one of the same user, before the
    /// old one expires (else the session closes with 4003).
    Refresh(Refresh),
    /// Asks for a `pong`; useful to measure round trips or keep a connection busy.
    Ping {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
    },
    /// Asks for a user's profile.
    Profile(UserRequest),
    /// Changes the user's own profile.
    SetProfile(SetProfile),
    /// Lists the user's contacts (getContactList).
    Contacts {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
    },
    /// Adds a user to the contact list.
    AddContact(UserRequest),
    /// Removes a user from the contact list.
    RemoveContact(UserRequest),
    /// Invites a user into a room.
    Invite(Invite),
    /// Lists the user's pending invitations.
    Invitations {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
    },
    /// Accepts or declines an invitation.
    InviteReply(InviteReply),
    /// Creates an invite link for a room.
    CreateInvite(CreateInvite),
    /// Lists a room's live invite links.
    InviteLinks(RoomRequest),
    /// Revokes an invite link.
    RevokeInvite(CodeRequest),
    /// Joins the room an invite link leads to.
    RedeemInvite(CodeRequest),
    /// Tells what an invite code leads to and whether it still works.
    InviteInfo(CodeRequest),
    /// Creates a room with the sender as its owner.
    CreateRoom(CreateRoom),
    /// Asks about one room (answered with `room_info`).
    RoomInfo(RoomRequest),
    /// Removes a member (owner, moderators); they may join again.
    Kick(RoomUserRequest),
    /// Removes a member and keeps them out (owner, moderators).
    Ban(RoomUserRequest),
    /// Lets a banned user in again (owner, moderators).
    Unban(RoomUserRequest),
    /// Stops a member posting for a while (owner, moderators).
    Mute(MuteRequest),
    /// Ends a mute (owner, moderators).
    Unmute(RoomUserRequest),
    /// Sets or clears the topic (owner, moderators).
    SetTopic(SetTopic),
    /// Sets or clears the room password (owner, moderators).
    SetPassword(SetPassword),
    /// Makes a member a moderator or back (owner).
    SetRole(SetRole),
    /// Hands the room to another member; the old owner becomes a moderator (owner).
    Transfer(RoomUserRequest),
    /// Deletes the room and everything in it (owner).
    DeleteRoom(RoomRequest),
}

impl ClientFrame {
    /// The frame's client-chosen id, if any.
    pub fn id(&self) -> Option<&str> {
        match self {
            Self::Login(Login { id, .. })
            | Self::Logout { id }
            | Self::Message(SendMessage { id, .. })
            | Self::Join(JoinRequest { id, .. })
            | Self::Leave(RoomRequest { id, .. })
            | Self::History(HistoryRequest { id, .. })
            | Self::Typing(Typing { id, .. })
            | Self::Rooms { id }
            | Self::Members(MembersRequest { id, .. })
            | Self::Edit(EditMessage { id, .. })
            | Self::Delete(DeleteMessage { id, .. })
            | Self::React(React { id, .. })
            | Self::Read(MarkRead { id, .. })
            | Self::Receipts(ConversationRequest { id, .. })
            | Self::Chats { id }
            | Self::DeleteChat(ConversationRequest { id, .. })
            | Self::Search(SearchRequest { id, .. })
            | Self::Ping { id }
            | Self::Refresh(Refresh { id, .. })
            | Self::Profile(UserRequest { id, .. })
            | Self::SetProfile(SetProfile { id, .. })
            | Self::Contacts { id }
            | Self::AddContact(UserRequest { id, .. })
            | Self::RemoveContact(UserRequest { id, .. })
            | Self::Invite(Invite { id, .. })
            | Self::Invitations { id }
            | Self::InviteReply(InviteReply { id, .. })
            | Self::CreateInvite(CreateInvite { id, .. })
            | Self::InviteLinks(RoomRequest { id, .. })
            | Self::RevokeInvite(CodeRequest { id, .. })
            | Self::RedeemInvite(CodeRequest { id, .. })
            | Self::InviteInfo(CodeRequest { id, .. })
            | Self::CreateRoom(CreateRoom { id, .. })
            | Self::RoomInfo(RoomRequest { id, .. })
            | Self::DeleteRoom(RoomRequest { id, .. })
            | Self::Kick(RoomUserRequest { id, .. })
            | Self::Ban(RoomUserRequest { id, .. })
            | Self::Unban(RoomUserRequest { id, .. })
            | Self::Unmute(RoomUserRequest { id, .. })
            | Self::Transfer(RoomUserRequest { id, .. })
            | Self::Mute(MuteRequest { id, .. })
            | Self::SetTopic(SetTopic { id, .. })
            | Self::SetPassword(SetPassword { id, .. })
            | Self::SetRole(SetRole { id, .. }) => id.as_deref(),
        }
    }

    /// The frame's `type` as it appears on the wire.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Login(_) => "login",
            Self::Logout { .. } => "logout",
            Self::Message(_) => "message",
            Self::Join(_) => "join",
            Self::Leave(_) => "leave",
            Self::History(_) => "history",
            Self::Typing(_) => "typing",
            Self::Rooms { .. } => "rooms",
            Self::Members(_) => "members",
            Self::Edit(_) => "edit",
            Self::Delete(_) => "delete",
            Self::React(_) => "react",
            Self::Read(_) => "read",
            Self::Receipts(_) => "receipts",
            Self::Chats { .. } => "chats",
            Self::DeleteChat(_) => "delete_chat",
            Self::Search(_) => "search",
            Self::Ping { .. } => "ping",
            Self::Refresh(_) => "refresh",
            Self::Profile(_) => "profile",
            Self::SetProfile(_) => "set_profile",
            Self::Contacts { .. } => "contacts",
            Self::AddContact(_) => "add_contact",
            Self::RemoveContact(_) => "remove_contact",
            Self::Invite(_) => "invite",
            Self::Invitations { .. } => "invitations",
            Self::InviteReply(_) => "invite_reply",
            Self::CreateInvite(_) => "create_invite",
            Self::InviteLinks(_) => "invite_links",
            Self::RevokeInvite(_) => "revoke_invite",
            Self::RedeemInvite(_) => "redeem_invite",
            Self::InviteInfo(_) => "invite_info",
            Self::CreateRoom(_) => "create_room",
            Self::RoomInfo(_) => "room_info",
            Self::Kick(_) => "kick",
            Self::Ban(_) => "ban",
            Self::Unban(_) => "unban",
            Self::Mute(_) => "mute",
            Self::Unmute(_) => "unmute",
            Self::SetTopic(_) => "set_topic",
            Self::SetPassword(_) => "set_password",
            Self::SetRole(_) => "set_role",
            Self::Transfer(_) => "transfer",
            Self::DeleteRoom(_) => "delete_room",
        }
    }
}

/// `refresh`: a newer JWT for the session's user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refresh {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub token: String,
}

/// `login`: either `token`, or `username` and `password`. `cursors` (receiver to the last
/// sequence number the client holds) makes the catch-up after `ready` start exactly there.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Login {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub cursors: BTreeMap<Receiver, u64>,
    /// With a password login: the client's name for this device, for the user's session list
    /// (at most 64 characters are kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
}

/// `message`: content for a room or a user. `sender` and `timestamp` may be present for
/// compatibility with the design document's shape; the server sets both. A message holds
/// text, or an attachment (with optional text as its caption), or a location; it may answer
/// another message of the same conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SendMessage {
    /// Also the idempotency key: a resend with the same id returns the first ack.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub receiver: Receiver,
    /// The text; may be empty when the message carries an attachment or a location.
    #[serde(default)]
    pub content: String,
    /// The id of an upload of the user's (`POST /api/v1/attachments`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    /// The server id of the message this one answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to_message: Option<String>,
    /// If present, must be the logged-in user, or the frame is refused with `forbidden`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender: Option<String>,
    /// Ignored: the server stamps the time.
    #[serde(default, skip_serializing)]
    pub timestamp: Option<IgnoredAny>,
}

/// `leave`, `room_info` and `delete_room` (`join` is a [`JoinRequest`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoomRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub room: RoomName,
}

/// `members`: who is in a room.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MembersRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub room: RoomName,
}

/// `history`: a page of a conversation, oldest first. `before` pages backwards from a message
/// id; `after` pages forwards from one (the catch-up cursor). Without either, the newest page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub receiver: Receiver,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
}

/// `typing`: a short-lived notice, not stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Typing {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub receiver: Receiver,
}
