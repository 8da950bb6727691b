//! [`crate::store::RoomStore`] on SQLite.

use async_trait::async_trait;
use confab_protocol::{Role, Visibility};
use rusqlite::{params, Connection, OptionalExtension};

use super::{db, queries, SqliteStore};
use crate::clock;
use crate::store::rooms::{Admission, RoomSettings, RoomSnapshot, SettingsChange};
use crate::store::{
    ConvId, Conversation, ConversationKind, RoomStore, StoreError, StoreResult, UserId,
};

fn no_room() -> StoreError {
    StoreError::NotFound("no such room".into())
}

fn not_member() -> StoreError {
    StoreError::NotFound("not a member of the room".into())
}

/// The room's newest sequence number, if it exists and is not deleted.
fn live_room(conn: &Connection, conv: ConvId) -> StoreResult<u64> {
    conn.prepare_cached(
        "SELECT last_seq FROM conversations WHERE id = ?1 AND kind = 'room' AND deleted_ms IS NULL",
    )
    .and_then(|mut stmt| stmt.query_row([conv], |r| r.get(0)).optional())
    .map_err(db)?
    .ok_or_else(no_room)
}

fn visibility(raw: &str) -> Visibility {
    match raw {
        "private" => Visibility::Private,
        _ => Visibility::Public,
    }
}

fn snapshot(conn: &Connection, now: i64) -> rusqlite::Result<RoomSnapshot> {
    let rooms = conn
        .prepare(
            "SELECT id, visibility, password_hash, topic FROM conversations
             WHERE kind = 'room' AND deleted_ms IS NULL",
        )?
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                RoomSettings {
                    visibility: visibility(&r.get::<_, String>(1)?),
                    password_hash: r.get(2)?,
                    topic: r.get(3)?,
                },
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let roles = conn
        .prepare("SELECT conv_id, user_id, role FROM members WHERE role <> 'member'")?
        .query_map([], |r| {
            let role: String = r.get(2)?;
            Ok((r.get(0)?, r.get(1)?, Role::parse(&role).unwrap_or_default()))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mutes = conn
        .prepare("SELECT conv_id, user_id, until_ms FROM mutes WHERE until_ms > ?1")?
        .query_map([now], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let bans = conn
        .prepare("SELECT conv_id, user_id FROM bans")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let deleted = conn
        .prepare("SELECT id FROM conversations WHERE deleted_ms IS NOT NULL")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(RoomSnapshot {
        rooms,
        roles,
        mutes,
        bans,
        deleted,
    })
}

/// Erases a room's messages and what hangs off them; returns their attachment ids.
fn erase_messages(conn: &Connection, conv: ConvId) -> rusqlite::Result<Vec<String>> {
    let attachments = conn
        .prepare_cached(
            "SELECT DISTINCT attachment_id FROM messages
             WHERE conv_id = ?1 AND attachment_id IS NOT NULL",
        )?
        .query_map([conv], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<String>>>()?;
    conn.execute(
        "DELETE FROM reactions WHERE message_id IN (SELECT id FROM messages WHERE conv_id = ?1)",
        [conv],
    )?;
    // The search index (search.db) drops the room's range when the store tells the indexer.
    conn.execute("DELETE FROM messages WHERE conv_id = ?1", [conv])?;
    conn.execute("DELETE FROM members WHERE conv_id = ?1", [conv])?;
    Ok(attachments)
}

/// Erases everything about a room and leaves its emptied, renamed row.
fn erase_room(conn: &Connection, conv: ConvId, now: i64) -> rusqlite::Result<Vec<String>> {
    let attachments = erase_messages(conn, conv)?;
    // cursors and reads are keyed by user first: one scan each, for a rare owner action.
    for table in [
        "cursors",
        "reads",
        "mutes",
        "bans",
        "invitations",
        "invite_links",
    ] {
        conn.execute(&format!("DELETE FROM {table} WHERE conv_id = ?1"), [conv])?;
    }
    conn.execute(
        "UPDATE conversations SET name = '~' || id, visibility = 'public', password_hash = NULL,
             topic = '', last_seq = 0, deleted_ms = ?2
         WHERE id = ?1",
        params![conv, now],
    )?;
    Ok(attachments)
}

#[async_trait]
impl RoomStore for SqliteStore {
    async fn room_snapshot(&self) -> StoreResult<RoomSnapshot> {
        let now = clock::now_ms();
        self.read(move |conn| snapshot(conn, now)).await
    }

    async fn create_room(
        &self,
        name: &str,
        owner: UserId,
        settings: RoomSettings,
    ) -> StoreResult<Conversation> {
        let name = name.to_owned();
        self.write(move |ctx| {
            let now = clock::now_ms();
            let created = ctx
                .conn
                .execute(
                    "INSERT INTO conversations (kind, name, created_ms, visibility, password_hash, topic)
                     VALUES ('room', ?1, ?2, ?3, ?4, ?5) ON CONFLICT (name) DO NOTHING",
                    params![
                        name,
                        now,
                        settings.visibility.as_str(),
                        settings.password_hash,
                        settings.topic
                    ],
                )
                .map_err(db)?;
            if created == 0 {
                return Err(StoreError::Conflict(format!("room {name} already exists")));
            }
            let id = ctx.conn.last_insert_rowid();
            queries::add_member(&ctx.conn, id, owner, 0, now).map_err(db)?;
            ctx.conn
                .execute(
                    "UPDATE members SET role = 'owner' WHERE conv_id = ?1 AND user_id = ?2",
                    [id, owner],
                )
                .map_err(db)?;
            Ok(Conversation {
                id,
                kind: ConversationKind::Room(name),
                last_seq: 0,
            })
        })
        .await
    }

    async fn admit_member(&self, conv: ConvId, user: UserId) -> StoreResult<Admission> {
        self.write(move |ctx| {
            let last_seq = live_room(&ctx.conn, conv)?;
            let banned = ctx
                .conn
                .prepare_cached("SELECT 1 FROM bans WHERE conv_id = ?1 AND user_id = ?2")
                .and_then(|mut stmt| stmt.exists([conv, user]))
                .map_err(db)?;
            if banned {
                return Ok(Admission::Banned);
            }
            let added = queries::add_member(&ctx.conn, conv, user, last_seq, clock::now_ms())
                .map_err(db)?;
            Ok(if added {
                Admission::Joined
            } else {
                Admission::AlreadyMember
            })
        })
        .await
    }

    async fn ban_user(&self, conv: ConvId, user: UserId, by: UserId) -> StoreResult<(bool, bool)> {
        self.write(move |ctx| {
            live_room(&ctx.conn, conv)?;
            let removed = ctx
                .conn
                .execute(
                    "DELETE FROM members WHERE conv_id = ?1 AND user_id = ?2",
                    [conv, user],
                )
                .map_err(db)?;
            let banned = ctx
                .conn
                .execute(
                    "INSERT INTO bans (conv_id, user_id, by_user_id, created_ms)
                     VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
                    params![conv, user, by, clock::now_ms()],
                )
                .map_err(db)?;
            Ok((banned > 0, removed > 0))
        })
        .await
    }

    async fn unban_user(&self, conv: ConvId, user: UserId) -> StoreResult<bool> {
        self.write(move |ctx| {
            live_room(&ctx.conn, conv)?;
            let removed = ctx
                .conn
                .execute(
                    "DELETE FROM bans WHERE conv_id = ?1 AND user_id = ?2",
                    [conv, user],
                )
                .map_err(db)?;
            Ok(removed > 0)
        })
        .await
    }

    async fn mute_user(
        &self,
        conv: ConvId,
        user: UserId,
        until_ms: i64,
        by: UserId,
    ) -> StoreResult<()> {
        self.write(move |ctx| {
            live_room(&ctx.conn, conv)?;
            let member = ctx
                .conn
                .prepare_cached("SELECT 1 FROM members WHERE conv_id = ?1 AND user_id = ?2")
                .and_then(|mut stmt| stmt.exists([conv, user]))
                .map_err(db)?;
            if !member {
                return Err(not_member());
            }
            ctx.conn
                .execute(
                    "INSERT INTO mutes (conv_id, user_id, until_ms, by_user_id) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (conv_id, user_id)
                     DO UPDATE SET until_ms = excluded.until_ms, by_user_id = excluded.by_user_id",
                    params![conv, user, until_ms, by],
                )
                .map_err(db)?;
            Ok(())
        })
        .await
    }

    async fn unmute_user(&self, conv: ConvId, user: UserId) -> StoreResult<bool> {
        let now = clock::now_ms();
        self.write(move |ctx| {
            live_room(&ctx.conn, conv)?;
            let until: Option<i64> = ctx
                .conn
                .query_row(
                    "DELETE FROM mutes WHERE conv_id = ?1 AND user_id = ?2 RETURNING until_ms",
                    [conv, user],
                    |r| r.get(0),
                )
                .optional()
                .map_err(db)?;
            // An expired mute is no mute: removing it changes nothing anyone can see.
            Ok(until.is_some_and(|until| until > now))
        })
        .await
    }

    async fn change_settings(&self, conv: ConvId, change: SettingsChange) -> StoreResult<()> {
        self.write(move |ctx| {
            live_room(&ctx.conn, conv)?;
            if let Some(topic) = change.topic {
                ctx.conn
                    .execute(
                        "UPDATE conversations SET topic = ?2 WHERE id = ?1",
                        params![conv, topic],
                    )
                    .map_err(db)?;
            }
            if let Some(hash) = change.password_hash {
                ctx.conn
                    .execute(
                        "UPDATE conversations SET password_hash = ?2 WHERE id = ?1",
                        params![conv, hash],
                    )
                    .map_err(db)?;
            }
            Ok(())
        })
        .await
    }

    async fn set_role(&self, conv: ConvId, user: UserId, role: Role) -> StoreResult<()> {
        self.write(move |ctx| {
            live_room(&ctx.conn, conv)?;
            let changed = ctx
                .conn
                .execute(
                    "UPDATE members SET role = ?3
                     WHERE conv_id = ?1 AND user_id = ?2 AND role <> 'owner'",
                    params![conv, user, role.as_str()],
                )
                .map_err(db)?;
            if changed == 0 {
                return Err(not_member());
            }
            Ok(())
        })
        .await
    }

    async fn transfer_ownership(&self, conv: ConvId, from: UserId, to: UserId) -> StoreResult<()> {
        self.write(move |ctx| {
            live_room(&ctx.conn, conv)?;
            let stepped_down = ctx
                .conn
                .execute(
                    "UPDATE members SET role = 'moderator'
                     WHERE conv_id = ?1 AND user_id = ?2 AND role = 'owner'",
                    [conv, from],
                )
                .map_err(db)?;
            if stepped_down == 0 {
                return Err(StoreError::Conflict("not the owner of the room".into()));
            }
            let stepped_up = ctx
                .conn
                .execute(
                    "UPDATE members SET role = 'owner' WHERE conv_id = ?1 AND user_id = ?2",
                    [conv, to],
                )
                .map_err(db)?;
            if stepped_up == 0 {
                // The job fails, so its savepoint undoes the step down.
                return Err(not_member());
            }
            Ok(())
        })
        .await
    }

    async fn delete_room(&self, conv: ConvId) -> StoreResult<Vec<String>> {
        let erased = self
            .write(move |ctx| {
                live_room(&ctx.conn, conv)?;
                erase_room(&ctx.conn, conv, clock::now_ms()).map_err(db)
            })
            .await;
        self.index.notify(conv);
        erased
    }

    async fn sweep_deleted_rooms(&self) -> StoreResult<Vec<String>> {
        self.write(move |ctx| {
            let conn = &ctx.conn;
            let deleted = conn
                .prepare("SELECT id FROM conversations WHERE deleted_ms IS NOT NULL")
                .and_then(|mut stmt| {
                    stmt.query_map([], |r| r.get(0))?
                        .collect::<rusqlite::Result<Vec<ConvId>>>()
                })
                .map_err(db)?;
            if deleted.is_empty() {
                return Ok(Vec::new());
            }
            let mut attachments = Vec::new();
            for conv in deleted {
                attachments.extend(erase_messages(conn, conv).map_err(db)?);
            }
            for table in ["cursors", "reads"] {
                conn.execute(
                    &format!(
                        "DELETE FROM {table} WHERE conv_id IN
                         (SELECT id FROM conversations WHERE deleted_ms IS NOT NULL)"
                    ),
                    [],
                )
                .map_err(db)?;
            }
            Ok(attachments)
        })
        .await
    }
}
