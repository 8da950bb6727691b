//! Profiles, contacts, room invitations and invite links: the client frames that ask for them,
//! the server frames that answer, and the rules their fields follow.

use serde::{Deserialize, Deserializer, Serialize};

use crate::attachment::AttachmentInfo;
use crate::error::ErrorCode;
use crate::names::{RoomName, Username};

/// Longest display name, in characters (Unicode scalar values) after trimming.
pub const MAX_DISPLAY_NAME_CHARS: usize = 64;
/// Longest status text, in characters after trimming.
pub const MAX_STATUS_TEXT_CHARS: usize = 140;
/// Longest attachment id, invitation id or invite code, in bytes.
pub const MAX_SOCIAL_ID_BYTES: usize = 64;

/// Why a social frame's field was refused: the code and the human text.
pub type Invalid = (ErrorCode, String);

// ---------------------------------------------------------------------------------------------
// Client frames

/// `profile`, `add_contact` and `remove_contact`: a frame about one user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub user: Username,
}

/// `set_profile`: the fields to change; fields left out stay as they are. `display_name` and
/// `status_text` are cleared by `""` or `null`; `avatar` is an image attachment id, or `null`
/// to remove the avatar.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SetProfile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(
        default,
        deserialize_with = "null_is_empty",
        skip_serializing_if = "Option::is_none"
    )]
    pub display_name: Option<String>,
    #[serde(
        default,
        deserialize_with = "null_is_empty",
        skip_serializing_if = "Option::is_none"
    )]
    pub status_text: Option<String>,
    /// `None`: unchanged; `Some(None)`: remove; `Some(Some(id))`: set.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub avatar: Option<Option<String>>,
}

/// A present field, even when it is `null` (which a plain `Option` reads as absent).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// A present text field; `null` reads as the empty string.
fn null_is_empty<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Option::<String>::deserialize(d).map(|text| Some(text.unwrap_or_default()))
}

impl SetProfile {
    /// Checks the fields and trims the texts. Refuses a frame that changes nothing.
    pub fn normalize(&mut self) -> Result<(), Invalid> {
        if self.display_name.is_none() && self.status_text.is_none() && self.avatar.is_none() {
            return Err((
                ErrorCode::BadRequest,
                "set_profile needs display_name, status_text or avatar".into(),
            ));
        }
        if let Some(name) = &mut self.display_name {
            *name = check_text("display_name", name, MAX_DISPLAY_NAME_CHARS)?;
        }
        if let Some(status) = &mut self.status_text {
            *status = check_text("status_text", status, MAX_STATUS_TEXT_CHARS)?;
        }
        if let Some(Some(avatar)) = &self.avatar {
            check_id("avatar", avatar)?;
        }
        Ok(())
    }
}

/// Trims a profile text and checks its length and characters.
fn check_text(what: &str, text: &str, max: usize) -> Result<String, Invalid> {
    let text = text.trim();
    if text.chars().any(char::is_control) {
        return Err((
            ErrorCode::BadRequest,
            format!("{what} may not hold control characters"),
        ));
    }
    if text.chars().count() > max {
        return Err((
            ErrorCode::TooLarge,
            format!("{what} is over {max} characters"),
        ));
    }
    Ok(text.to_owned())
}

/// Checks an attachment id or invitation id: 1 to 64 ASCII letters, digits, `-` or `_`.
pub fn check_id(what: &str, id: &str) -> Result<(), Invalid> {
    let ok = !id.is_empty()
        && id.len() <= MAX_SOCIAL_ID_BYTES
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err((
            ErrorCode::BadRequest,
            format!("{what} must be 1 to {MAX_SOCIAL_ID_BYTES} ASCII letters, digits, '-' or '_'"),
        ))
    }
}

/// `invite`: invites a user into a room the sender is a member of.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Invite {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub room: RoomName,
    pub user: Username,
}

/// `invite_reply`: accepts or declines one of the user's pending invitations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InviteReply {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub invitation: String,
    pub accept: bool,
}

/// `create_invite`: a new invite link for a room. Left out, `expires_in_secs` and `max_uses`
/// take the server's defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateInvite {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub room: RoomName,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in_secs: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_uses: Option<u32>,
}

impl CreateInvite {
    /// Checks what does not depend on the server's configuration.
    pub fn check(&self) -> Result<(), Invalid> {
        if self.expires_in_secs == Some(0) {
            return Err((
                ErrorCode::BadRequest,
                "expires_in_secs must be at least 1".into(),
            ));
        }
        if self.max_uses == Some(0) {
            return Err((ErrorCode::BadRequest, "max_uses must be at least 1".into()));
        }
        Ok(())
    }
}

/// `revoke_invite`, `redeem_invite` and `invite_info`: a frame about one invite code.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CodeRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub code: String,
}

// ---------------------------------------------------------------------------------------------
// Server frames

/// `profile`: the answer to `profile` (with `reply_to`), and the event sent when a user changes
/// theirs (without).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
    pub username: String,
    /// Empty when the user has none.
    pub display_name: String,
    pub status_text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar: Option<AttachmentInfo>,
    pub online: bool,
}

/// `contacts`: the user's contact list, sorted by username.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contacts {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
    pub contacts: Vec<ContactInfo>,
}

/// One contact in a `contacts` list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactInfo {
    pub username: String,
    pub display_name: String,
    pub status_text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar: Option<AttachmentInfo>,
    pub online: bool,
}

/// `invitation`: an invitation into a room, as the live event and in `invitations` lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invitation {
    pub id: String,
    pub room: String,
    /// Who invited.
    pub from: String,
    /// When, RFC 3339 UTC with milliseconds.
    pub created: String,
}

/// `invitations`: the user's pending invitations, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invitations {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
    pub invitations: Vec<Invitation>,
}

/// `invitation_answered`: the invitee accepted or declined; sent to the inviter and to the
/// invitee's own sessions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitationAnswered {
    pub id: String,
    pub room: String,
    /// The invitee.
    pub user: String,
    pub accepted: bool,
}

/// `invite_link`: a link or code that lets anyone holding it join a room.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviteLink {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
    pub code: String,
    pub room: String,
    /// `/invite/<code>`: where a client's link points (the server does not serve it).
    pub url_path: String,
    /// When the link stops working, RFC 3339 UTC with milliseconds.
    pub expires: String,
    pub max_uses: u32,
    pub uses: u32,
    pub creator: String,
}

/// `invite_links`: a room's live links (not expired, used up or revoked), oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviteLinks {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
    pub room: String,
    pub links: Vec<InviteLink>,
}

/// Why an invite link no longer works.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InviteState {
    Expired,
    UsedUp,
    Revoked,
}

impl InviteState {
    /// The state as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Expired => "expired",
            Self::UsedUp => "used_up",
            Self::Revoked => "revoked",
        }
    }
}

/// `invite_info`: what a code leads to, so a client can ask "join #room?" before redeeming.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviteInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
    pub code: String,
    pub room: String,
    /// Whether redeeming it would work now.
    pub valid: bool,
    /// Why not, when it is not valid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<InviteState>,
    pub expires: String,
    pub max_uses: u32,
    pub uses: u32,
    /// Whether the asking user is already a member of the room.
    pub member: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ServerFrame;

    fn set(text: &str) -> SetProfile {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn set_profile_tells_absent_from_null() {
        let absent = set(r#"{"status_text":"away"}"#);
        assert_eq!(absent.display_name, None);
        assert_eq!(absent.avatar, None);
        let cleared = set(r#"{"display_name":null,"avatar":null}"#);
        assert_eq!(cleared.display_name.as_deref(), Some(""));
        assert_eq!(cleared.avatar, Some(None));
        let avatar = set(r#"{"avatar":"01ABC"}"#);
        assert_eq!(avatar.avatar, Some(Some("01ABC".into())));
    }

    #[test]
    fn profile_texts_are_trimmed_and_bounded() {
        let mut ok = set(r#"{"display_name":"  Alice Ä  ","status_text":" hi "}"#);
        ok.normalize().unwrap();
        assert_eq!(ok.display_name.as_deref(), Some("Alice Ä"));
        assert_eq!(ok.status_text.as_deref(), Some("hi"));

        let exact = format!(r#"{{"display_name":"{}"}}"#, "é".repeat(64));
        assert!(set(&exact).normalize().is_ok());
        let long = format!(r#"{{"display_name":"{}"}}"#, "é".repeat(65));
        assert_eq!(set(&long).normalize().unwrap_err().0, ErrorCode::TooLarge);
        let status = format!(r#"{{"status_text":"{}"}}"#, "s".repeat(141));
        assert_eq!(set(&status).normalize().unwrap_err().0, ErrorCode::TooLarge);
        let control = set(r#"{"display_name":"a\u0007b"}"#);
        assert_eq!(
            control.clone().normalize().unwrap_err().0,
            ErrorCode::BadRequest
        );
        let newline = set(r#"{"status_text":"one\ntwo"}"#);
        assert_eq!(
            newline.clone().normalize().unwrap_err().0,
            ErrorCode::BadRequest
        );
        assert_eq!(set("{}").normalize().unwrap_err().0, ErrorCode::BadRequest);
        assert_eq!(
            set(r#"{"avatar":"../etc"}"#).normalize().unwrap_err().0,
            ErrorCode::BadRequest
        );
    }

    #[test]
    fn create_invite_refuses_zero_bounds() {
        let mut invite = CreateInvite {
            id: None,
            room: RoomName::parse("#ops").unwrap(),
            expires_in_secs: Some(0),
            max_uses: None,
        };
        assert!(invite.check().is_err());
        invite.expires_in_secs = Some(60);
        assert!(invite.check().is_ok());
        invite.max_uses = Some(0);
        assert!(invite.check().is_err());
    }

    #[test]
    fn social_server_frames_have_exact_shapes() {
        let profile = ServerFrame::Profile(Profile {
            reply_to: Some("p".into()),
            username: "bob".into(),
            display_name: "Bob".into(),
            status_text: "".into(),
            avatar: None,
            online: true,
        });
        assert_eq!(
            profile.to_json(),
            r#"{"type":"profile","reply_to":"p","username":"bob","display_name":"Bob","status_text":"","online":true}"#
        );
        let link = ServerFrame::InviteLink(InviteLink {
            reply_to: None,
            code: "c0de".into(),
            room: "#ops".into(),
            url_path: "/invite/c0de".into(),
            expires: "2025-06-04T19:00:00.000Z".into(),
            max_uses: 1,
            uses: 0,
            creator: "alice".into(),
        });
        assert_eq!(
            link.to_json(),
            r##"{"type":"invite_link","code":"c0de","room":"#ops","url_path":"/invite/c0de","expires":"2025-06-04T19:00:00.000Z","max_uses":1,"uses":0,"creator":"alice"}"##
        );
        let answered = ServerFrame::InvitationAnswered(InvitationAnswered {
            id: "01A".into(),
            room: "#ops".into(),
            user: "bob".into(),
            accepted: false,
        });
        assert_eq!(
            answered.to_json(),
            r##"{"type":"invitation_answered","id":"01A","room":"#ops","user":"bob","accepted":false}"##
        );
        let info = ServerFrame::InviteInfo(InviteInfo {
            reply_to: None,
            code: "c".into(),
            room: "#ops".into(),
            valid: false,
            reason: Some(InviteState::UsedUp),
            expires: "2025-06-04T19:00:00.000Z".into(),
            max_uses: 1,
            uses: 1,
            member: false,
        });
        let text = info.to_json();
        assert!(text.contains(r#""reason":"used_up""#), "{text}");
        assert_eq!(serde_json::from_str::<ServerFrame>(&text).unwrap(), info);
    }
}
