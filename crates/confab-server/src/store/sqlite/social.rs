//! [`crate::store::SocialStore`] on SQLite.

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::{db, SqliteStore};
use crate::clock;
use crate::store::social::{
    ContactAdded, Invited, LinkCreated, LinkUse, NewLink, ProfileChange, StoredInvitation,
    StoredLink, StoredProfile,
};
use crate::store::{ConvId, SocialStore, StoreError, StoreResult, UserId};

const PROFILE_COLUMNS: &str = "display_name, status_text, avatar_id, avatar_json";

fn profile_row(row: &Row<'_>, at: usize) -> rusqlite::Result<StoredProfile> {
    Ok(StoredProfile {
        display_name: row.get(at)?,
        status_text: row.get(at + 1)?,
        avatar_id: row.get(at + 2)?,
        avatar_json: row.get(at + 3)?,
    })
}

fn read_profile(conn: &Connection, user: UserId) -> rusqlite::Result<Option<StoredProfile>> {
    conn.prepare_cached(&format!(
        "SELECT {PROFILE_COLUMNS} FROM users WHERE id = ?1"
    ))?
    .query_row([user], |r| profile_row(r, 0))
    .optional()
}

const INVITATION_COLUMNS: &str = "id, conv_id, inviter_id, invitee_id, created_ms";

fn invitation_row(row: &Row<'_>) -> rusqlite::Result<StoredInvitation> {
    Ok(StoredInvitation {
        id: row.get(0)?,
        conv: row.get(1)?,
        inviter: row.get(2)?,
        invitee: row.get(3)?,
        created_ms: row.get(4)?,
    })
}

const LINK_COLUMNS: &str =
    "code, conv_id, creator_id, created_ms, expires_ms, max_uses, uses, revoked";

fn link_row(row: &Row<'_>) -> rusqlite::Result<StoredLink> {
    Ok(StoredLink {
        code: row.get(0)?,
        conv: row.get(1)?,
        creator: row.get(2)?,
        created_ms: row.get(3)?,
        expires_ms: row.get(4)?,
        max_uses: row.get(5)?,
        uses: row.get(6)?,
        revoked: row.get(7)?,
    })
}

fn read_link(conn: &Connection, code: &str) -> rusqlite::Result<Option<StoredLink>> {
    conn.prepare_cached(&format!(
        "SELECT {LINK_COLUMNS} FROM invite_links WHERE code = ?1"
    ))?
    .query_row([code], link_row)
    .optional()
}

#[async_trait]
impl SocialStore for SqliteStore {
    async fn profile(&self, user: UserId) -> StoreResult<Option<StoredProfile>> {
        self.read(move |conn| read_profile(conn, user)).await
    }

    async fn set_profile(&self, user: UserId, change: ProfileChange) -> StoreResult<StoredProfile> {
        self.write(move |ctx| {
            let conn = &ctx.conn;
            if let Some(name) = &change.display_name {
                conn.execute(
                    "UPDATE users SET display_name = ?2 WHERE id = ?1",
                    params![user, name],
                )
                .map_err(db)?;
            }
            if let Some(status) = &change.status_text {
                conn.execute(
                    "UPDATE users SET status_text = ?2 WHERE id = ?1",
                    params![user, status],
                )
                .map_err(db)?;
            }
            if let Some(avatar) = &change.avatar {
                let (id, json) = match avatar {
                    Some((id, json)) => (Some(id), Some(json)),
                    None => (None, None),
                };
                conn.execute(
                    "UPDATE users SET avatar_id = ?2, avatar_json = ?3 WHERE id = ?1",
                    params![user, id, json],
                )
                .map_err(db)?;
            }
            read_profile(conn, user)
                .map_err(db)?
                .ok_or_else(|| StoreError::NotFound("no such user".into()))
        })
        .await
    }

    async fn contacts(&self, user: UserId) -> StoreResult<Vec<(UserId, StoredProfile)>> {
        self.read(move |conn| {
            conn.prepare_cached(&format!(
                "SELECT u.id, {PROFILE_COLUMNS} FROM contacts c JOIN users u ON u.id = c.contact_id
                 WHERE c.user_id = ?1"
            ))?
            .query_map([user], |r| Ok((r.get(0)?, profile_row(r, 1)?)))?
            .collect()
        })
        .await
    }

    async fn contact_pairs(&self) -> StoreResult<Vec<(UserId, UserId)>> {
        self.read(|conn| {
            conn.prepare("SELECT user_id, contact_id FROM contacts")?
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect()
        })
        .await
    }

    async fn add_contact(
        &self,
        user: UserId,
        contact: UserId,
        max: usize,
    ) -> StoreResult<ContactAdded> {
        self.write(move |ctx| {
            let conn = &ctx.conn;
            let exists: bool = conn
                .query_row(
                    "SELECT EXISTS (SELECT 1 FROM contacts WHERE user_id = ?1 AND contact_id = ?2)",
                    [user, contact],
                    |r| r.get(0),
                )
                .map_err(db)?;
            if exists {
                return Ok(ContactAdded::Already);
            }
            let count: usize = conn
                .query_row(
                    "SELECT COUNT(*) FROM contacts WHERE user_id = ?1",
                    [user],
                    |r| r.get(0),
                )
                .map_err(db)?;
            if count >= max {
                return Ok(ContactAdded::Full);
            }
            conn.execute(
                "INSERT INTO contacts (user_id, contact_id, created_ms) VALUES (?1, ?2, ?3)",
                params![user, contact, clock::now_ms()],
            )
            .map_err(db)?;
            Ok(ContactAdded::Added)
        })
        .await
    }

    async fn remove_contact(&self, user: UserId, contact: UserId) -> StoreResult<bool> {
        self.write(move |ctx| {
            let removed = ctx
                .conn
                .execute(
                    "DELETE FROM contacts WHERE user_id = ?1 AND contact_id = ?2",
                    [user, contact],
                )
                .map_err(db)?;
            Ok(removed > 0)
        })
        .await
    }

    async fn invite(
        &self,
        conv: ConvId,
        inviter: UserId,
        invitee: UserId,
        max_pending: usize,
    ) -> StoreResult<Invited> {
        self.write(move |ctx| {
            let existing = ctx
                .conn
                .query_row(
                    &format!(
                        "SELECT {INVITATION_COLUMNS} FROM invitations
                         WHERE conv_id = ?1 AND invitee_id = ?2"
                    ),
                    [conv, invitee],
                    invitation_row,
                )
                .optional()
                .map_err(db)?;
            if let Some(existing) = existing {
                return Ok(Invited::Existing(existing));
            }
            let pending: usize = ctx
                .conn
                .query_row(
                    "SELECT COUNT(*) FROM invitations WHERE invitee_id = ?1",
                    [invitee],
                    |r| r.get(0),
                )
                .map_err(db)?;
            if pending >= max_pending {
                return Ok(Invited::Full);
            }
            let now = clock::now_ms();
            let invitation = StoredInvitation {
                id: ctx.ids.next(now),
                conv,
                inviter,
                invitee,
                created_ms: now,
            };
            ctx.conn
                .execute(
                    "INSERT INTO invitations (id, conv_id, inviter_id, invitee_id, created_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![invitation.id, conv, inviter, invitee, now],
                )
                .map_err(db)?;
            Ok(Invited::New(invitation))
        })
        .await
    }

    async fn invitations(&self, invitee: UserId) -> StoreResult<Vec<StoredInvitation>> {
        self.read(move |conn| {
            conn.prepare_cached(&format!(
                "SELECT {INVITATION_COLUMNS} FROM invitations WHERE invitee_id = ?1
                 ORDER BY created_ms, id"
            ))?
            .query_map([invitee], invitation_row)?
            .collect()
        })
        .await
    }

    async fn invitation(&self, id: &str) -> StoreResult<Option<StoredInvitation>> {
        let id = id.to_owned();
        self.read(move |conn| {
            conn.prepare_cached(&format!(
                "SELECT {INVITATION_COLUMNS} FROM invitations WHERE id = ?1"
            ))?
            .query_row([id], invitation_row)
            .optional()
        })
        .await
    }

    async fn delete_invitation(&self, id: &str) -> StoreResult<bool> {
        let id = id.to_owned();
        self.write(move |ctx| {
            let removed = ctx
                .conn
                .execute("DELETE FROM invitations WHERE id = ?1", [id])
                .map_err(db)?;
            Ok(removed > 0)
        })
        .await
    }

    async fn create_link(
        &self,
        link: NewLink,
        max_live: usize,
        now_ms: i64,
    ) -> StoreResult<LinkCreated> {
        self.write(move |ctx| {
            let live: usize = ctx
                .conn
                .query_row(
                    "SELECT COUNT(*) FROM invite_links WHERE conv_id = ?1 AND revoked = 0
                     AND expires_ms > ?2 AND uses < max_uses",
                    params![link.conv, now_ms],
                    |r| r.get(0),
                )
                .map_err(db)?;
            if live >= max_live {
                return Ok(LinkCreated::Full);
            }
            ctx.conn
                .execute(
                    "INSERT INTO invite_links (code, conv_id, creator_id, created_ms, expires_ms, max_uses)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![
                        link.code,
                        link.conv,
                        link.creator,
                        now_ms,
                        link.expires_ms,
                        link.max_uses
                    ],
                )
                .map_err(db)?;
            Ok(LinkCreated::Created(StoredLink {
                code: link.code,
                conv: link.conv,
                creator: link.creator,
                created_ms: now_ms,
                expires_ms: link.expires_ms,
                max_uses: link.max_uses,
                uses: 0,
                revoked: false,
            }))
        })
        .await
    }

    async fn live_links(&self, conv: ConvId, now_ms: i64) -> StoreResult<Vec<StoredLink>> {
        self.read(move |conn| {
            conn.prepare_cached(&format!(
                "SELECT {LINK_COLUMNS} FROM invite_links WHERE conv_id = ?1 AND revoked = 0
                 AND expires_ms > ?2 AND uses < max_uses ORDER BY created_ms, code"
            ))?
            .query_map(params![conv, now_ms], link_row)?
            .collect()
        })
        .await
    }

    async fn link(&self, code: &str) -> StoreResult<Option<StoredLink>> {
        let code = code.to_owned();
        self.read(move |conn| read_link(conn, &code)).await
    }

    async fn revoke_link(&self, code: &str) -> StoreResult<bool> {
        let code = code.to_owned();
        self.write(move |ctx| {
            let found = ctx
                .conn
                .execute(
                    "UPDATE invite_links SET revoked = 1 WHERE code = ?1",
                    [code],
                )
                .map_err(db)?;
            Ok(found > 0)
        })
        .await
    }

    async fn take_link_use(&self, code: &str, now_ms: i64) -> StoreResult<LinkUse> {
        let code = code.to_owned();
        self.write(move |ctx| {
            let taken = ctx
                .conn
                .prepare_cached(&format!(
                    "UPDATE invite_links SET uses = uses + 1
                     WHERE code = ?1 AND revoked = 0 AND expires_ms > ?2 AND uses < max_uses
                     RETURNING {LINK_COLUMNS}"
                ))
                .and_then(|mut stmt| stmt.query_row(params![code, now_ms], link_row).optional())
                .map_err(db)?;
            if let Some(link) = taken {
                return Ok(LinkUse::Taken(link));
            }
            Ok(match read_link(&ctx.conn, &code).map_err(db)? {
                Some(link) => LinkUse::Dead(link),
                None => LinkUse::Unknown,
            })
        })
        .await
    }

    async fn release_link_use(&self, code: &str) -> StoreResult<()> {
        let code = code.to_owned();
        self.write(move |ctx| {
            ctx.conn
                .execute(
                    "UPDATE invite_links SET uses = uses - 1 WHERE code = ?1 AND uses > 0",
                    [code],
                )
                .map_err(db)?;
            Ok(())
        })
        .await
    }
}
