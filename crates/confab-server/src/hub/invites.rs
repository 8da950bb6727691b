//! Getting people into rooms: invitations (one user invites another, who accepts or declines)
//! and invite links (a code anyone holding it may redeem, bounded in time and uses). Every way
//! in checks `check_not_banned` and then goes through `admit`.

use bytes::Bytes;
use confab_protocol::names::Username;
use confab_protocol::social::check_id;
use confab_protocol::{
    CreateInvite, ErrorCode, Invitation, InvitationAnswered, Invitations, InviteInfo, InviteLink,
    InviteLinks, InviteState, RoomName, ServerFrame,
};

use super::Hub;
use crate::bus::{Audience, Event};
use crate::clock;
use crate::error::AppError;
use crate::store::social::{Invited, LinkCreated, LinkUse, NewLink, StoredInvitation, StoredLink};
use crate::store::{ConvId, ConversationKind, User, UserId};

/// Random bytes in an invite code: 128 bits, shown as 22 characters of base64url.
const CODE_BYTES: usize = 16;

/// A fresh random invite code, URL-safe.
fn new_code() -> Result<String, AppError> {
    let mut bytes = [0u8; CODE_BYTES];
    getrandom::fill(&mut bytes).map_err(|err| {
        tracing::error!(%err, "no randomness for an invite code");
        AppError::internal()
    })?;
    Ok(base64url(&bytes))
}

/// Base64url without padding (RFC 4648 section 5).
fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

/// Why a link cannot be redeemed at `now_ms`, if it cannot.
fn link_state(link: &StoredLink, now_ms: i64) -> Option<InviteState> {
    if link.revoked {
        Some(InviteState::Revoked)
    } else if now_ms >= link.expires_ms {
        Some(InviteState::Expired)
    } else if link.uses >= link.max_uses {
        Some(InviteState::UsedUp)
    } else {
        None
    }
}

fn gone(state: InviteState) -> AppError {
    let why = match state {
        InviteState::Expired => "this invite has expired",
        InviteState::UsedUp => "this invite has been used up",
        InviteState::Revoked => "this invite was revoked",
    };
    AppError::new(ErrorCode::Gone, why)
}

fn checked_code(code: &str) -> Result<&str, AppError> {
    check_id("code", code).map_err(|(code, message)| AppError::new(code, message))?;
    Ok(code)
}

impl Hub {
    /// The `#name` of a room.
    fn room_name(&self, conv: ConvId) -> String {
        match self.directory().kind(conv) {
            Some(ConversationKind::Room(name)) => name,
            _ => String::new(),
        }
    }

    fn name_of(&self, user: UserId) -> String {
        self.directory().username(user).unwrap_or_default()
    }

    fn invitation_of(&self, stored: &StoredInvitation) -> Invitation {
        Invitation {
            id: stored.id.clone(),
            room: self.room_name(stored.conv),
            from: self.name_of(stored.inviter),
            created: clock::rfc3339(stored.created_ms),
        }
    }

    fn link_of(&self, link: &StoredLink) -> InviteLink {
        InviteLink {
            reply_to: None,
            code: link.code.clone(),
            room: self.room_name(link.conv),
            url_path: format!("/invite/{}", link.code),
            expires: clock::rfc3339(link.expires_ms),
            max_uses: link.max_uses,
            uses: link.uses,
            creator: self.name_of(link.creator),
        }
    }

    fn notify(&self, user: UserId, frame: &ServerFrame) {
        self.publish(Event::Notice {
            audience: Audience::User(user),
            frame: Bytes::from(frame.to_json()),
        });
    }

    /// `invite`: a member invites a user who is not in the room yet. Repeating it is fine.
    pub async fn invite(
        &self,
        inviter: &User,
        room: &RoomName,
        invitee: &Username,
    ) -> Result<(), AppError> {
        let conv = self.room_of_member(inviter.id, room.as_str())?;
        let invitee_id = self.user_id(invitee)?;
        if self.directory().is_member(conv, invitee_id) {
            return Err(AppError::new(
                ErrorCode::Conflict,
                format!("{invitee} is already in {room}"),
            ));
        }
        self.check_not_banned(conv, invitee_id)?;
        let max = self.config().social.max_pending_invitations;
        match self
            .store()
            .invite(conv, inviter.id, invitee_id, max)
            .await?
        {
            Invited::New(stored) => {
                self.notify(
                    invitee_id,
                    &ServerFrame::Invitation(self.invitation_of(&stored)),
                );
                tracing::info!(room = %room, by = %inviter.username, user = %invitee, "invited");
                Ok(())
            }
            Invited::Existing(_) => Ok(()),
            Invited::Full => Err(AppError::new(
                ErrorCode::TooLarge,
                format!("{invitee} has {max} pending invitations already"),
            )),
        }
    }

    /// `invitations`: the user's pending invitations, oldest first.
    pub async fn invitations_frame(
        &self,
        user: UserId,
        reply_to: Option<String>,
    ) -> Result<ServerFrame, AppError> {
        let invitations = self
            .store()
            .invitations(user)
            .await?
            .iter()
            .map(|stored| self.invitation_of(stored))
            .collect();
        Ok(ServerFrame::Invitations(Invitations {
            reply_to,
            invitations,
        }))
    }

    /// `invite_reply`: accepting admits the user (unless banned); either answer deletes the
    /// invitation and tells the inviter and the invitee's sessions.
    pub async fn answer_invitation(
        &self,
        user: &User,
        id: &str,
        accept: bool,
    ) -> Result<(), AppError> {
        check_id("invitation", id).map_err(|(code, message)| AppError::new(code, message))?;
        let stored = self
            .store()
            .invitation(id)
            .await?
            .filter(|stored| stored.invitee == user.id)
            .ok_or_else(|| AppError::not_found(format!("no invitation {id}")))?;
        if accept {
            self.check_not_banned(stored.conv, user.id)?;
            self.admit(stored.conv, user.id).await?;
        }
        // Admitted first, deleted second: a failure in between leaves a harmless invitation,
        // never an accepted one that did not admit. Of two answers at once, one deletes it.
        if !self.store().delete_invitation(id).await? {
            return if accept {
                Ok(())
            } else {
                Err(AppError::not_found(format!("no invitation {id}")))
            };
        }
        let room = self.room_name(stored.conv);
        tracing::info!(room = %room, user = %user.username, accept, "invitation answered");
        let answered = ServerFrame::InvitationAnswered(InvitationAnswered {
            id: stored.id,
            room,
            user: user.username.clone(),
            accepted: accept,
        });
        self.notify(stored.inviter, &answered);
        self.notify(user.id, &answered);
        Ok(())
    }

    /// `create_invite`: any member may create a link to the room.
    pub async fn create_invite(
        &self,
        user: &User,
        request: &CreateInvite,
        reply_to: Option<String>,
    ) -> Result<ServerFrame, AppError> {
        request
            .check()
            .map_err(|(code, message)| AppError::new(code, message))?;
        let conv = self.room_of_member(user.id, request.room.as_str())?;
        let limits = self.config().social;
        let lifetime = request
            .expires_in_secs
            .unwrap_or(limits.invite_default_expiry_secs);
        if lifetime > limits.invite_max_expiry_secs {
            return Err(AppError::bad_request(format!(
                "expires_in_secs must be 1 to {}",
                limits.invite_max_expiry_secs
            )));
        }
        let max_uses = request.max_uses.unwrap_or(limits.invite_max_uses);
        if max_uses > limits.invite_max_uses {
            return Err(AppError::bad_request(format!(
                "max_uses must be 1 to {}",
                limits.invite_max_uses
            )));
        }
        let now = clock::now_ms();
        let link = NewLink {
            code: new_code()?,
            conv,
            creator: user.id,
            expires_ms: now.saturating_add((lifetime as i64).saturating_mul(1000)),
            max_uses,
        };
        match self
            .store()
            .create_link(link, limits.max_invite_links, now)
            .await?
        {
            LinkCreated::Created(link) => {
                tracing::info!(room = %request.room, by = %user.username, "invite link created");
                let mut frame = self.link_of(&link);
                frame.reply_to = reply_to;
                Ok(ServerFrame::InviteLink(frame))
            }
            LinkCreated::Full => Err(AppError::new(
                ErrorCode::TooLarge,
                format!(
                    "{} has {} live invite links already",
                    request.room, limits.max_invite_links
                ),
            )),
        }
    }

    /// `invite_links`: a room's live links, for its members.
    pub async fn invite_links_frame(
        &self,
        user: UserId,
        room: &RoomName,
        reply_to: Option<String>,
    ) -> Result<ServerFrame, AppError> {
        let conv = self.room_of_member(user, room.as_str())?;
        let links = self
            .store()
            .live_links(conv, clock::now_ms())
            .await?
            .iter()
            .map(|link| self.link_of(link))
            .collect();
        Ok(ServerFrame::InviteLinks(InviteLinks {
            reply_to,
            room: room.as_str().to_owned(),
            links,
        }))
    }

    /// `revoke_invite`: by the link's creator or a moderator of its room. Repeating it is fine.
    pub async fn revoke_invite(&self, user: &User, code: &str) -> Result<(), AppError> {
        let code = checked_code(code)?;
        let link = self
            .store()
            .link(code)
            .await?
            .ok_or_else(|| AppError::not_found("no such invite"))?;
        if link.creator != user.id && !self.is_moderator(link.conv, user.id) {
            return Err(AppError::forbidden(
                "only the invite's creator or a room moderator may revoke it",
            ));
        }
        self.store().revoke_link(code).await?;
        tracing::info!(room = %self.room_name(link.conv), by = %user.username, "invite link revoked");
        Ok(())
    }

    /// `invite_info`: the room a code leads to and whether it still works.
    pub async fn invite_info(
        &self,
        user: UserId,
        code: &str,
        reply_to: Option<String>,
    ) -> Result<ServerFrame, AppError> {
        let code = checked_code(code)?;
        let link = self
            .store()
            .link(code)
            .await?
            .ok_or_else(|| AppError::not_found("no such invite"))?;
        let reason = link_state(&link, clock::now_ms());
        Ok(ServerFrame::InviteInfo(InviteInfo {
            reply_to,
            code: link.code,
            room: self.room_name(link.conv),
            valid: reason.is_none(),
            reason,
            expires: clock::rfc3339(link.expires_ms),
            max_uses: link.max_uses,
            uses: link.uses,
            member: self.directory().is_member(link.conv, user),
        }))
    }

    /// `redeem_invite`: joins the room the code leads to and returns its name. A member
    /// redeeming a live link is told the room and counts no use.
    pub async fn redeem_invite(&self, user: &User, code: &str) -> Result<String, AppError> {
        let link = self.live_link(code).await?;
        if self.directory().is_member(link.conv, user.id) {
            return Ok(self.room_name(link.conv));
        }
        self.check_not_banned(link.conv, user.id)?;
        let link = self.take_invite_use(code).await?;
        self.admit_by_link(&link, user).await?;
        Ok(self.room_name(link.conv))
    }

    /// The link behind a code if it can be redeemed now: `not_found` or `gone` otherwise.
    /// Counts nothing: registration checks with it before creating the account.
    pub(super) async fn live_link(&self, code: &str) -> Result<StoredLink, AppError> {
        let code = checked_code(code)?;
        let link = self
            .store()
            .link(code)
            .await?
            .ok_or_else(|| AppError::not_found("no such invite"))?;
        match link_state(&link, clock::now_ms()) {
            Some(state) => Err(gone(state)),
            None => Ok(link),
        }
    }

    /// Takes one use of a link, atomically: of two redeemers of its last use, one gets it.
    pub(super) async fn take_invite_use(&self, code: &str) -> Result<StoredLink, AppError> {
        let now = clock::now_ms();
        match self.store().take_link_use(code, now).await? {
            LinkUse::Taken(link) => Ok(link),
            LinkUse::Dead(link) => Err(gone(link_state(&link, now).unwrap_or(InviteState::UsedUp))),
            LinkUse::Unknown => Err(AppError::not_found("no such invite")),
        }
    }

    /// Admits a just-registered user with the use taken for them. The account exists by now,
    /// so a failure here does not fail the registration: it is logged, the use given back,
    /// and the room left out of the answer (the user can redeem the code again).
    pub(super) async fn join_by_invite_at_registration(
        &self,
        link: &StoredLink,
        user: &User,
    ) -> Option<String> {
        let admitted = match self.check_not_banned(link.conv, user.id) {
            Ok(()) => self.admit_by_link(link, user).await,
            Err(err) => {
                self.release_invite_use(&link.code).await;
                Err(err)
            }
        };
        match admitted {
            Ok(()) => Some(self.room_name(link.conv)),
            Err(err) => {
                tracing::error!(%err, user = %user.username, "cannot admit a new user by invite");
                None
            }
        }
    }

    /// Gives back a use taken for something that then failed (best effort).
    pub(super) async fn release_invite_use(&self, code: &str) {
        if let Err(err) = self.store().release_link_use(code).await {
            tracing::error!(%err, "cannot give back an invite use");
        }
    }

    /// Admits a user with a use already taken of `link`; gives the use back if they were a
    /// member already (a race with another way in) or admitting failed.
    pub(super) async fn admit_by_link(
        &self,
        link: &StoredLink,
        user: &User,
    ) -> Result<(), AppError> {
        match self.admit(link.conv, user.id).await {
            Ok(true) => {
                tracing::info!(room = %self.room_name(link.conv), user = %user.username, "joined by invite link");
                Ok(())
            }
            Ok(false) => {
                self.release_invite_use(&link.code).await;
                Ok(())
            }
            Err(err) => {
                self.release_invite_use(&link.code).await;
                Err(err)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64url_matches_rfc_4648() {
        assert_eq!(base64url(b""), "");
        assert_eq!(base64url(b"f"), "Zg");
        assert_eq!(base64url(b"fo"), "Zm8");
        assert_eq!(base64url(b"foo"), "Zm9v");
        assert_eq!(base64url(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64url(&[0xfb, 0xff]), "-_8");
    }

    #[test]
    fn codes_are_random_url_safe_and_long_enough() {
        let a = new_code().unwrap();
        let b = new_code().unwrap();
        assert_eq!(a.len(), 22);
        assert_ne!(a, b);
        assert!(check_id("code", &a).is_ok());
    }

    #[test]
    fn link_state_names_the_first_reason() {
        let link = StoredLink {
            code: "c".into(),
            conv: 1,
            creator: 1,
            created_ms: 0,
            expires_ms: 1000,
            max_uses: 1,
            uses: 0,
            revoked: false,
        };
        assert_eq!(link_state(&link, 999), None);
        assert_eq!(link_state(&link, 1000), Some(InviteState::Expired));
        let used = StoredLink {
            uses: 1,
            ..link.clone()
        };
        assert_eq!(link_state(&used, 0), Some(InviteState::UsedUp));
        let revoked = StoredLink {
            revoked: true,
            ..used
        };
        assert_eq!(link_state(&revoked, 5000), Some(InviteState::Revoked));
    }
}
