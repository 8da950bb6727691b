//! [`crate::store::SocialStore`] on PostgreSQL.

use async_trait::async_trait;
use tokio_postgres::Row;

use super::sql::{exec, one, opt, rows, unsigned, unsigned32, Conn};
use super::PgStore;
use crate::clock;
use crate::store::social::{
    ContactAdded, Invited, LinkCreated, LinkUse, NewLink, ProfileChange, StoredInvitation,
    StoredLink, StoredProfile,
};
use crate::store::{ConvId, SocialStore, StoreError, StoreResult, UserId};

const PROFILE_COLUMNS: &str = "display_name, status_text, avatar_id, avatar_json";

fn profile_row(row: &Row, at: usize) -> StoredProfile {
    StoredProfile {
        display_name: row.get(at),
        status_text: row.get(at + 1),
        avatar_id: row.get(at + 2),
        avatar_json: row.get(at + 3),
    }
}

async fn read_profile(conn: &Conn, user: UserId) -> StoreResult<Option<StoredProfile>> {
    let sql = format!("SELECT {PROFILE_COLUMNS} FROM users WHERE id = $1");
    Ok(opt(conn, &sql, &[&user]).await?.map(|r| profile_row(&r, 0)))
}

const INVITATION_COLUMNS: &str = "id, conv_id, inviter_id, invitee_id, created_ms";

fn invitation_row(row: &Row) -> StoredInvitation {
    StoredInvitation {
        id: row.get(0),
        conv: row.get(1),
        inviter: row.get(2),
        invitee: row.get(3),
        created_ms: row.get(4),
    }
}

const LINK_COLUMNS: &str =
    "code, conv_id, creator_id, created_ms, expires_ms, max_uses, uses, revoked";

fn link_row(row: &Row) -> StoredLink {
    StoredLink {
        code: row.get(0),
        conv: row.get(1),
        creator: row.get(2),
        created_ms: row.get(3),
        expires_ms: row.get(4),
        max_uses: unsigned32(row, 5),
        uses: unsigned32(row, 6),
        revoked: row.get(7),
    }
}

async fn read_link(conn: &Conn, code: &str) -> StoreResult<Option<StoredLink>> {
    let sql = format!("SELECT {LINK_COLUMNS} FROM invite_links WHERE code = $1");
    Ok(opt(conn, &sql, &[&code]).await?.as_ref().map(link_row))
}

#[async_trait]
impl SocialStore for PgStore {
    async fn profile(&self, user: UserId) -> StoreResult<Option<StoredProfile>> {
        let c = self.conn().await?;
        read_profile(&c, user).await
    }

    async fn set_profile(&self, user: UserId, change: ProfileChange) -> StoreResult<StoredProfile> {
        self.write(None, move |ctx| {
            Box::pin(async move {
                let c = &ctx.client;
                if let Some(name) = &change.display_name {
                    exec(
                        c,
                        "UPDATE users SET display_name = $2 WHERE id = $1",
                        &[&user, name],
                    )
                    .await?;
                }
                if let Some(status) = &change.status_text {
                    exec(
                        c,
                        "UPDATE users SET status_text = $2 WHERE id = $1",
                        &[&user, status],
                    )
                    .await?;
                }
                if let Some(avatar) = &change.avatar {
                    let (id, json) = match avatar {
                        Some((id, json)) => (Some(id), Some(json)),
                        None => (None, None),
                    };
                    exec(
                        c,
                        "UPDATE users SET avatar_id = $2, avatar_json = $3 WHERE id = $1",
                        &[&user, &id, &json],
                    )
                    .await?;
                }
                read_profile(c, user)
                    .await?
                    .ok_or_else(|| StoreError::NotFound("no such user".into()))
            })
        })
        .await
    }

    async fn contacts(&self, user: UserId) -> StoreResult<Vec<(UserId, StoredProfile)>> {
        let c = self.conn().await?;
        let sql = format!(
            "SELECT u.id, {PROFILE_COLUMNS} FROM contacts c JOIN users u ON u.id = c.contact_id
             WHERE c.user_id = $1"
        );
        Ok(rows(&c, &sql, &[&user])
            .await?
            .iter()
            .map(|r| (r.get(0), profile_row(r, 1)))
            .collect())
    }

    async fn contact_pairs(&self) -> StoreResult<Vec<(UserId, UserId)>> {
        let c = self.conn().await?;
        Ok(rows(&c, "SELECT user_id, contact_id FROM contacts", &[])
            .await?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect())
    }

    async fn add_contact(
        &self,
        user: UserId,
        contact: UserId,
        max: usize,
    ) -> StoreResult<ContactAdded> {
        self.write(None, move |ctx| {
            Box::pin(async move {
                let c = &ctx.client;
                // The user's row lock makes the count and the insert one step across nodes.
                exec(c, "SELECT 1 FROM users WHERE id = $1 FOR UPDATE", &[&user]).await?;
                let exists = opt(
                    c,
                    "SELECT 1 FROM contacts WHERE user_id = $1 AND contact_id = $2",
                    &[&user, &contact],
                )
                .await?
                .is_some();
                if exists {
                    return Ok(ContactAdded::Already);
                }
                let count = one(
                    c,
                    "SELECT COUNT(*) FROM contacts WHERE user_id = $1",
                    &[&user],
                )
                .await?;
                if unsigned(&count, 0) >= max as u64 {
                    return Ok(ContactAdded::Full);
                }
                exec(
                    c,
                    "INSERT INTO contacts (user_id, contact_id, created_ms) VALUES ($1, $2, $3)",
                    &[&user, &contact, &clock::now_ms()],
                )
                .await?;
                Ok(ContactAdded::Added)
            })
        })
        .await
    }

    async fn remove_contact(&self, user: UserId, contact: UserId) -> StoreResult<bool> {
        self.write(None, move |ctx| {
            Box::pin(async move {
                let removed = exec(
                    &ctx.client,
                    "DELETE FROM contacts WHERE user_id = $1 AND contact_id = $2",
                    &[&user, &contact],
                )
                .await?;
                Ok(removed > 0)
            })
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
        self.write(None, move |ctx| {
            Box::pin(async move {
                let c = &ctx.client;
                exec(
                    c,
                    "SELECT 1 FROM users WHERE id = $1 FOR UPDATE",
                    &[&invitee],
                )
                .await?;
                let sql = format!(
                    "SELECT {INVITATION_COLUMNS} FROM invitations
                     WHERE conv_id = $1 AND invitee_id = $2"
                );
                if let Some(existing) = opt(c, &sql, &[&conv, &invitee]).await? {
                    return Ok(Invited::Existing(invitation_row(&existing)));
                }
                let pending = one(
                    c,
                    "SELECT COUNT(*) FROM invitations WHERE invitee_id = $1",
                    &[&invitee],
                )
                .await?;
                if unsigned(&pending, 0) >= max_pending as u64 {
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
                exec(
                    &ctx.client,
                    "INSERT INTO invitations (id, conv_id, inviter_id, invitee_id, created_ms)
                     VALUES ($1, $2, $3, $4, $5)",
                    &[&invitation.id, &conv, &inviter, &invitee, &now],
                )
                .await?;
                Ok(Invited::New(invitation))
            })
        })
        .await
    }

    async fn invitations(&self, invitee: UserId) -> StoreResult<Vec<StoredInvitation>> {
        let c = self.conn().await?;
        let sql = format!(
            "SELECT {INVITATION_COLUMNS} FROM invitations WHERE invitee_id = $1
             ORDER BY created_ms, id"
        );
        Ok(rows(&c, &sql, &[&invitee])
            .await?
            .iter()
            .map(invitation_row)
            .collect())
    }

    async fn invitation(&self, id: &str) -> StoreResult<Option<StoredInvitation>> {
        let c = self.conn().await?;
        let sql = format!("SELECT {INVITATION_COLUMNS} FROM invitations WHERE id = $1");
        Ok(opt(&c, &sql, &[&id]).await?.as_ref().map(invitation_row))
    }

    async fn delete_invitation(&self, id: &str) -> StoreResult<bool> {
        let id = id.to_owned();
        self.write(None, move |ctx| {
            Box::pin(async move {
                let removed =
                    exec(&ctx.client, "DELETE FROM invitations WHERE id = $1", &[&id]).await?;
                Ok(removed > 0)
            })
        })
        .await
    }

    async fn create_link(
        &self,
        link: NewLink,
        max_live: usize,
        now_ms: i64,
    ) -> StoreResult<LinkCreated> {
        // The room's row lock (taken with the batch's others, in order) makes the count and
        // the insert one step across nodes.
        let room = link.conv;
        self.write(Some(room), move |ctx| {
            Box::pin(async move {
                let c = &ctx.client;
                let live = one(
                    c,
                    "SELECT COUNT(*) FROM invite_links WHERE conv_id = $1 AND NOT revoked
                     AND expires_ms > $2 AND uses < max_uses",
                    &[&link.conv, &now_ms],
                )
                .await?;
                if unsigned(&live, 0) >= max_live as u64 {
                    return Ok(LinkCreated::Full);
                }
                exec(
                    c,
                    "INSERT INTO invite_links (code, conv_id, creator_id, created_ms, expires_ms, max_uses)
                     VALUES ($1, $2, $3, $4, $5, $6)",
                    &[
                        &link.code,
                        &link.conv,
                        &link.creator,
                        &now_ms,
                        &link.expires_ms,
                        &i64::from(link.max_uses),
                    ],
                )
                .await?;
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
        })
        .await
    }

    async fn live_links(&self, conv: ConvId, now_ms: i64) -> StoreResult<Vec<StoredLink>> {
        let c = self.conn().await?;
        let sql = format!(
            "SELECT {LINK_COLUMNS} FROM invite_links WHERE conv_id = $1 AND NOT revoked
             AND expires_ms > $2 AND uses < max_uses ORDER BY created_ms, code"
        );
        Ok(rows(&c, &sql, &[&conv, &now_ms])
            .await?
            .iter()
            .map(link_row)
            .collect())
    }

    async fn link(&self, code: &str) -> StoreResult<Option<StoredLink>> {
        let c = self.conn().await?;
        read_link(&c, code).await
    }

    async fn revoke_link(&self, code: &str) -> StoreResult<bool> {
        let code = code.to_owned();
        self.write(None, move |ctx| {
            Box::pin(async move {
                let found = exec(
                    &ctx.client,
                    "UPDATE invite_links SET revoked = TRUE WHERE code = $1",
                    &[&code],
                )
                .await?;
                Ok(found > 0)
            })
        })
        .await
    }

    async fn take_link_use(&self, code: &str, now_ms: i64) -> StoreResult<LinkUse> {
        let code = code.to_owned();
        self.write(None, move |ctx| {
            Box::pin(async move {
                let sql = format!(
                    "UPDATE invite_links SET uses = uses + 1
                     WHERE code = $1 AND NOT revoked AND expires_ms > $2 AND uses < max_uses
                     RETURNING {LINK_COLUMNS}"
                );
                if let Some(link) = opt(&ctx.client, &sql, &[&code, &now_ms]).await? {
                    return Ok(LinkUse::Taken(link_row(&link)));
                }
                Ok(match read_link(&ctx.client, &code).await? {
                    Some(link) => LinkUse::Dead(link),
                    None => LinkUse::Unknown,
                })
            })
        })
        .await
    }

    async fn release_link_use(&self, code: &str) -> StoreResult<()> {
        let code = code.to_owned();
        self.write(None, move |ctx| {
            Box::pin(async move {
                exec(
                    &ctx.client,
                    "UPDATE invite_links SET uses = uses - 1 WHERE code = $1 AND uses > 0",
                    &[&code],
                )
                .await
                .map(drop)
            })
        })
        .await
    }
}
