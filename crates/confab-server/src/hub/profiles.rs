//! Profiles (display name, status text, avatar) and contact lists. A profile change is
//! broadcast to the user's circle: their own sessions and everyone their presence goes to
//! (contacts and those sharing a conversation, with the presence cap on room size).

use bytes::Bytes;
use confab_protocol::names::Username;
use confab_protocol::{
    AttachmentInfo, AttachmentKind, ContactInfo, Contacts, ErrorCode, Profile, ServerFrame,
    SetProfile,
};

use super::Hub;
use crate::bus::{Audience, CacheSync, Event};
use crate::error::AppError;
use crate::store::social::{ContactAdded, ProfileChange, StoredProfile};
use crate::store::{User, UserId};

/// The avatar a stored profile carries, as the protocol shows it.
fn avatar_of(profile: &StoredProfile) -> Option<AttachmentInfo> {
    let json = profile.avatar_json.as_deref()?;
    match serde_json::from_str(json) {
        Ok(info) => Some(info),
        Err(err) => {
            tracing::warn!(%err, avatar = ?profile.avatar_id, "unreadable stored avatar");
            None
        }
    }
}

impl Hub {
    fn profile_of(&self, username: String, user: UserId, stored: StoredProfile) -> Profile {
        Profile {
            reply_to: None,
            username,
            avatar: avatar_of(&stored),
            display_name: stored.display_name,
            status_text: stored.status_text,
            online: self.is_online(user),
        }
    }

    /// `profile`: anyone's profile, to any logged-in user.
    pub async fn profile_frame(
        &self,
        user: &Username,
        reply_to: Option<String>,
    ) -> Result<ServerFrame, AppError> {
        let id = self.user_id(user)?;
        let stored = self
            .store()
            .profile(id)
            .await?
            .ok_or_else(|| AppError::not_found(format!("no user {user}")))?;
        let mut profile = self.profile_of(user.as_str().to_owned(), id, stored);
        profile.reply_to = reply_to;
        Ok(ServerFrame::Profile(profile))
    }

    /// `set_profile`: changes the fields given, broadcasts the new profile to the user's circle
    /// and returns it. An avatar must be an image the user uploaded.
    pub async fn set_profile(
        &self,
        user: &User,
        mut change: SetProfile,
    ) -> Result<ServerFrame, AppError> {
        change
            .normalize()
            .map_err(|(code, message)| AppError::new(code, message))?;
        let avatar = match change.avatar {
            None => None,
            Some(None) => Some(None),
            Some(Some(id)) => {
                let info = self.attachment_for_post(user.id, &id).await?;
                if info.kind != AttachmentKind::Image {
                    return Err(AppError::bad_request(format!(
                        "the avatar must be an image, and {id} is {}",
                        info.kind.as_str()
                    )));
                }
                let json = serde_json::to_string(&info).map_err(|_| AppError::internal())?;
                Some(Some((id, json)))
            }
        };
        let stored = self
            .store()
            .set_profile(
                user.id,
                ProfileChange {
                    display_name: change.display_name,
                    status_text: change.status_text,
                    avatar,
                },
            )
            .await?;
        let frame = ServerFrame::Profile(self.profile_of(user.username.clone(), user.id, stored));
        self.publish(Event::Notice {
            audience: Audience::Circle(user.id),
            frame: Bytes::from(frame.to_json()),
        });
        tracing::info!(user = %user.username, "profile changed");
        Ok(frame)
    }

    /// `contacts` (getContactList): the user's contacts with their profiles and who is online,
    /// sorted by username.
    pub async fn contacts_frame(
        &self,
        user: UserId,
        reply_to: Option<String>,
    ) -> Result<ServerFrame, AppError> {
        let mut contacts: Vec<ContactInfo> = self
            .store()
            .contacts(user)
            .await?
            .into_iter()
            .filter_map(|(id, stored)| {
                let profile = self.profile_of(self.directory().username(id)?, id, stored);
                Some(ContactInfo {
                    username: profile.username,
                    display_name: profile.display_name,
                    status_text: profile.status_text,
                    avatar: profile.avatar,
                    online: profile.online,
                })
            })
            .collect();
        contacts.sort_by(|a, b| a.username.cmp(&b.username));
        Ok(ServerFrame::Contacts(Contacts { reply_to, contacts }))
    }

    /// `add_contact`: idempotent; not yourself, not an unknown user, not beyond the bound.
    pub async fn add_contact(&self, user: &User, contact: &Username) -> Result<(), AppError> {
        let id = self.user_id(contact)?;
        if id == user.id {
            return Err(AppError::bad_request(
                "you cannot add yourself as a contact",
            ));
        }
        let max = self.config().social.max_contacts;
        match self.store().add_contact(user.id, id, max).await? {
            ContactAdded::Added => {
                self.directory().add_contact(user.id, id);
                self.sync(CacheSync::Contact {
                    user: user.id,
                    contact: id,
                    added: true,
                });
                tracing::info!(user = %user.username, contact = %contact, "contact added");
                Ok(())
            }
            ContactAdded::Already => Ok(()),
            ContactAdded::Full => Err(AppError::new(
                ErrorCode::TooLarge,
                format!("at most {max} contacts"),
            )),
        }
    }

    /// `remove_contact`: idempotent; an unknown user is `not_found`.
    pub async fn remove_contact(&self, user: &User, contact: &Username) -> Result<(), AppError> {
        let id = self.user_id(contact)?;
        if self.store().remove_contact(user.id, id).await? {
            self.directory().remove_contact(user.id, id);
            self.sync(CacheSync::Contact {
                user: user.id,
                contact: id,
                added: false,
            });
            tracing::info!(user = %user.username, contact = %contact, "contact removed");
        }
        Ok(())
    }
}
