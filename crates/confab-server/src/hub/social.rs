//! The profile, contact and invitation frames from a session: each calls the hub method that
//! REST calls too ([`super::profiles`], [`super::invites`]) and answers the frame.

use confab_protocol::{Ack, ClientFrame, ServerFrame};

use super::{Hub, Session};
use crate::error::AppError;

impl Hub {
    pub(super) async fn social(
        &self,
        session: &Session,
        frame: ClientFrame,
        reply_to: Option<&str>,
    ) -> Result<(), AppError> {
        let user = &session.user;
        let id = reply_to.map(str::to_owned);
        let answer = match frame {
            ClientFrame::Profile(r) => Some(self.profile_frame(&r.user, id).await?),
            ClientFrame::SetProfile(change) => {
                self.set_profile(user, change).await.map(|_| None)?
            }
            ClientFrame::Contacts { .. } => Some(self.contacts_frame(user.id, id).await?),
            ClientFrame::AddContact(r) => self.add_contact(user, &r.user).await.map(|()| None)?,
            ClientFrame::RemoveContact(r) => {
                self.remove_contact(user, &r.user).await.map(|()| None)?
            }
            ClientFrame::Invite(r) => self.invite(user, &r.room, &r.user).await.map(|()| None)?,
            ClientFrame::Invitations { .. } => Some(self.invitations_frame(user.id, id).await?),
            ClientFrame::InviteReply(r) => self
                .answer_invitation(user, &r.invitation, r.accept)
                .await
                .map(|()| None)?,
            ClientFrame::CreateInvite(r) => Some(self.create_invite(user, &r, id).await?),
            ClientFrame::InviteLinks(r) => {
                Some(self.invite_links_frame(user.id, &r.room, id).await?)
            }
            ClientFrame::RevokeInvite(r) => {
                self.revoke_invite(user, &r.code).await.map(|()| None)?
            }
            ClientFrame::RedeemInvite(r) => {
                let room = self.redeem_invite(user, &r.code).await?;
                // The ack names the room joined.
                Some(ServerFrame::Ack(Ack {
                    reply_to: id.unwrap_or_default(),
                    receiver: Some(room),
                    ..Ack::default()
                }))
                .filter(|_| reply_to.is_some())
            }
            ClientFrame::InviteInfo(r) => Some(self.invite_info(user.id, &r.code, id).await?),
            other => {
                return Err(AppError::bad_request(format!(
                    "{} is not a social frame",
                    other.kind()
                )))
            }
        };
        match answer {
            Some(frame) => session.send(&frame),
            None => session.ack(reply_to),
        }
        Ok(())
    }
}
