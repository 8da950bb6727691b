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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::store::Store;

    async fn open() -> (tempfile::TempDir, Arc<SqliteStore>) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path(), 64, Box::new(|_| {})).unwrap();
        (dir, Arc::new(store))
    }

    #[tokio::test]
    async fn profiles_change_only_the_fields_given() {
        let (_dir, store) = open().await;
        let (alice, _) = store.create_user("alice", "h", "#general").await.unwrap();
        assert_eq!(
            store.profile(alice.id).await.unwrap(),
            Some(StoredProfile::default())
        );
        let change = ProfileChange {
            display_name: Some("Alice".into()),
            avatar: Some(Some(("01AV".into(), "{}".into()))),
            ..ProfileChange::default()
        };
        let after = store.set_profile(alice.id, change).await.unwrap();
        assert_eq!(after.display_name, "Alice");
        assert_eq!(after.avatar_id.as_deref(), Some("01AV"));
        let status = ProfileChange {
            status_text: Some("away".into()),
            ..ProfileChange::default()
        };
        let after = store.set_profile(alice.id, status).await.unwrap();
        assert_eq!(
            (after.display_name.as_str(), after.status_text.as_str()),
            ("Alice", "away")
        );
        let clear = ProfileChange {
            avatar: Some(None),
            ..ProfileChange::default()
        };
        let after = store.set_profile(alice.id, clear).await.unwrap();
        assert_eq!((after.avatar_id, after.avatar_json), (None, None));
        assert_eq!(store.profile(9999).await.unwrap(), None);
    }

    #[tokio::test]
    async fn contacts_are_idempotent_and_bounded() {
        let (_dir, store) = open().await;
        let (a, _) = store.create_user("a", "h", "#general").await.unwrap();
        let (b, _) = store.create_user("b", "h", "#general").await.unwrap();
        let (c, _) = store.create_user("c", "h", "#general").await.unwrap();
        assert_eq!(
            store.add_contact(a.id, b.id, 1).await.unwrap(),
            ContactAdded::Added
        );
        assert_eq!(
            store.add_contact(a.id, b.id, 1).await.unwrap(),
            ContactAdded::Already
        );
        assert_eq!(
            store.add_contact(a.id, c.id, 1).await.unwrap(),
            ContactAdded::Full
        );
        assert_eq!(store.contact_pairs().await.unwrap(), vec![(a.id, b.id)]);
        assert_eq!(store.contacts(a.id).await.unwrap().len(), 1);
        assert!(store.remove_contact(a.id, b.id).await.unwrap());
        assert!(!store.remove_contact(a.id, b.id).await.unwrap());
    }

    #[tokio::test]
    async fn invitations_are_one_per_room_and_bounded() {
        let (_dir, store) = open().await;
        let (a, general) = store.create_user("a", "h", "#general").await.unwrap();
        let (b, _) = store.create_user("b", "h", "#general").await.unwrap();
        let ops = store.room("#ops").await.unwrap();
        let Invited::New(first) = store.invite(ops.id, a.id, b.id, 1).await.unwrap() else {
            panic!("not new")
        };
        assert_eq!(first.id.len(), 26);
        assert_eq!(
            store.invite(ops.id, a.id, b.id, 1).await.unwrap(),
            Invited::Existing(first.clone())
        );
        assert_eq!(
            store.invite(general.id, a.id, b.id, 1).await.unwrap(),
            Invited::Full
        );
        assert_eq!(store.invitations(b.id).await.unwrap(), vec![first.clone()]);
        assert_eq!(
            store.invitation(&first.id).await.unwrap(),
            Some(first.clone())
        );
        assert!(store.delete_invitation(&first.id).await.unwrap());
        assert!(!store.delete_invitation(&first.id).await.unwrap());
        assert!(store.invitations(b.id).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn link_uses_are_counted_atomically() {
        let (_dir, store) = open().await;
        let (a, general) = store.create_user("a", "h", "#general").await.unwrap();
        let now = clock::now_ms();
        let link = NewLink {
            code: "one-use".into(),
            conv: general.id,
            creator: a.id,
            expires_ms: now + 60_000,
            max_uses: 1,
        };
        assert!(matches!(
            store.create_link(link.clone(), 1, now).await.unwrap(),
            LinkCreated::Created(_)
        ));
        let second = NewLink {
            code: "two".into(),
            ..link.clone()
        };
        assert_eq!(
            store.create_link(second, 1, now).await.unwrap(),
            LinkCreated::Full
        );
        let (x, y) = tokio::join!(
            store.take_link_use("one-use", now),
            store.take_link_use("one-use", now)
        );
        let taken = [x.unwrap(), y.unwrap()];
        assert_eq!(
            taken
                .iter()
                .filter(|u| matches!(u, LinkUse::Taken(_)))
                .count(),
            1,
            "{taken:?}"
        );
        assert!(taken
            .iter()
            .any(|u| matches!(u, LinkUse::Dead(l) if l.uses == 1)));
        assert!(store.live_links(general.id, now).await.unwrap().is_empty());
        store.release_link_use("one-use").await.unwrap();
        assert_eq!(store.live_links(general.id, now).await.unwrap().len(), 1);
        assert!(matches!(
            store.take_link_use("one-use", now + 60_000).await.unwrap(),
            LinkUse::Dead(_)
        ));
        assert!(store.revoke_link("one-use").await.unwrap());
        assert!(matches!(
            store.take_link_use("one-use", now).await.unwrap(),
            LinkUse::Dead(StoredLink { revoked: true, .. })
        ));
        assert_eq!(
            store.take_link_use("nope", now).await.unwrap(),
            LinkUse::Unknown
        );
        assert!(!store.revoke_link("nope").await.unwrap());
    }
}
