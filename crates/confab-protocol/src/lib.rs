//! The confab wire protocol: every frame a client may send ([`ClientFrame`]) and every frame the
//! server sends ([`ServerFrame`]), the names of users and rooms ([`names`]), validation against
//! configurable [`Limits`], the error codes ([`ErrorCode`]) and the WebSocket close codes
//! ([`close`]).
//!
//! Pure data: no I/O and no async runtime, so the server, the terminal client and the bench all
//! share it and cannot drift apart. `docs/protocol.md` is the prose version of this crate.

#![forbid(unsafe_code)]

mod attachment;
mod client;
pub mod close;
mod decode;
mod error;
mod limits;
pub mod messaging;
pub mod names;
pub mod rooms;
mod server;
pub mod social;

pub use attachment::{AttachmentInfo, AttachmentKind};
pub use client::{
    ClientFrame, HistoryRequest, Login, MembersRequest, Refresh, RoomRequest, SendMessage, Typing,
};
pub use decode::{decode_client_frame, FrameError};
pub use error::ErrorCode;
pub use limits::Limits;
pub use names::{NameError, Receiver, RoomName, Username};
pub use rooms::{
    CreateRoom, JoinRequest, MuteRequest, Role, RoomAction, RoomDetails, RoomEvent,
    RoomUserRequest, SetPassword, SetRole, SetTopic, Visibility,
};
pub use server::{
    Ack, ChatMessage, ConversationInfo, ErrorFrame, History, MemberInfo, Members, Membership,
    MembershipChange, Presence, PresenceStatus, Ready, RoomInfo, Rooms, ServerFrame, TypingEvent,
    UserInfo,
};
pub use social::{
    CodeRequest, ContactInfo, Contacts, CreateInvite, Invitation, InvitationAnswered, Invitations,
    Invite, InviteInfo, InviteLink, InviteLinks, InviteReply, InviteState, Profile, SetProfile,
    UserRequest,
};

/// The protocol version the server announces in `ready`. Bumped on incompatible changes only.
pub const PROTOCOL_VERSION: u32 = 1;
