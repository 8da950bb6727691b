//! [`crate::store::RoomStore`] on PostgreSQL.

use async_trait::async_trait;
use confab_protocol::{Role, Visibility};

use super::sql::{exec, opt, rows, unsigned, Conn};
use super::{queries, PgStore};
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
async fn live_room(conn: &Conn, conv: ConvId) -> StoreResult<u64> {
    opt(
        conn,
        "SELECT last_seq FROM conversations WHERE id = $1 AND kind = 'room' AND deleted_ms IS NULL",
        &[&conv],
    )
    .await?
    .map(|r| unsigned(&r, 0))
    .ok_or_else(no_room)
}

fn visibility(raw: &str) -> Visibility {
    match raw {
        "private" => Visibility::Private,
        _ => Visibility::Public,
    }
}

async fn snapshot(conn: &Conn, now: i64) -> StoreResult<RoomSnapshot> {
    let rooms = rows(
        conn,
        "SELECT id, visibility, password_hash, topic FROM conversations
         WHERE kind = 'room' AND deleted_ms IS NULL",
        &[],
    )
    .await?
    .iter()
    .map(|r| {
        (
            r.get(0),
            RoomSettings {
                visibility: visibility(r.get(1)),
                password_hash: r.get(2),
                topic: r.get(3),
            },
        )
    })
    .collect();
    let roles = rows(
        conn,
        "SELECT conv_id, user_id, role FROM members WHERE role <> 'member'",
        &[],
    )
    .await?
    .iter()
    .map(|r| {
        (
            r.get(0),
            r.get(1),
            Role::parse(r.get(2)).unwrap_or_default(),
        )
    })
    .collect();
    let mutes = rows(
        conn,
        "SELECT conv_id, user_id, until_ms FROM mutes WHERE until_ms > $1",
        &[&now],
    )
    .await?
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2)))
    .collect();
    let bans = rows(conn, "SELECT conv_id, user_id FROM bans", &[])
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let deleted = rows(
        conn,
        "SELECT id FROM conversations WHERE deleted_ms IS NOT NULL",
        &[],
    )
    .await?
    .iter()
    .map(|r| r.get(0))
    .collect();
    Ok(RoomSnapshot {
        rooms,
        roles,
        mutes,
        bans,
        deleted,
    })
}

/// Erases a room's messages and what hangs off them; returns their attachment ids.
async fn erase_messages(conn: &Conn, conv: ConvId) -> StoreResult<Vec<String>> {
    let attachments = rows(
        conn,
        "SELECT DISTINCT attachment_id FROM messages
         WHERE conv_id = $1 AND attachment_id IS NOT NULL",
        &[&conv],
    )
    .await?
    .iter()
    .map(|r| r.get(0))
    .collect();
    exec(
        conn,
        "DELETE FROM reactions WHERE message_id IN (SELECT id FROM messages WHERE conv_id = $1)",
        &[&conv],
    )
    .await?;
    exec(conn, "DELETE FROM messages WHERE conv_id = $1", &[&conv]).await?;
    exec(conn, "DELETE FROM members WHERE conv_id = $1", &[&conv]).await?;
    Ok(attachments)
}

/// Erases everything about a room and leaves its emptied, renamed row.
async fn erase_room(conn: &Conn, conv: ConvId, now: i64) -> StoreResult<Vec<String>> {
    let attachments = erase_messages(conn, conv).await?;
    for table in [
        "cursors",
        "reads",
        "mutes",
        "bans",
        "invitations",
        "invite_links",
    ] {
        exec(
            conn,
            &format!("DELETE FROM {table} WHERE conv_id = $1"),
            &[&conv],
        )
        .await?;
    }
    exec(
        conn,
        "UPDATE conversations SET name = '~' || id, visibility = 'public', password_hash = NULL,
             topic = '', last_seq = 0, deleted_ms = $2
         WHERE id = $1",
        &[&conv, &now],
    )
    .await?;
    Ok(attachments)
}

#[async_trait]
impl RoomStore for PgStore {
    async fn room_snapshot(&self) -> StoreResult<RoomSnapshot> {
        let c = self.conn().await?;
        snapshot(&c, clock::now_ms()).await
    }

    async fn create_room(
        &self,
        name: &str,
        owner: UserId,
        settings: RoomSettings,
    ) -> StoreResult<Conversation> {
        let name = name.to_owned();
        self.write(None, move |ctx| {
            Box::pin(async move {
                let now = clock::now_ms();
                let c = &ctx.client;
                let created = opt(
                    c,
                    "INSERT INTO conversations (kind, name, created_ms, visibility, password_hash, topic)
                     VALUES ('room', $1, $2, $3, $4, $5) ON CONFLICT (name) DO NOTHING RETURNING id",
                    &[
                        &name,
                        &now,
                        &settings.visibility.as_str(),
                        &settings.password_hash,
                        &settings.topic,
                    ],
                )
                .await?;
                let Some(row) = created else {
                    return Err(StoreError::Conflict(format!("room {name} already exists")));
                };
                let id: ConvId = row.get(0);
                queries::add_member(c, id, owner, 0, now).await?;
                exec(
                    c,
                    "UPDATE members SET role = 'owner' WHERE conv_id = $1 AND user_id = $2",
                    &[&id, &owner],
                )
                .await?;
                Ok(Conversation {
                    id,
                    kind: ConversationKind::Room(name),
                    last_seq: 0,
                })
            })
        })
        .await
    }

    async fn admit_member(&self, conv: ConvId, user: UserId) -> StoreResult<Admission> {
        self.write(None, move |ctx| {
            Box::pin(async move {
                let c = &ctx.client;
                let last_seq = live_room(c, conv).await?;
                let banned = opt(
                    c,
                    "SELECT 1 FROM bans WHERE conv_id = $1 AND user_id = $2",
                    &[&conv, &user],
                )
                .await?
                .is_some();
                if banned {
                    return Ok(Admission::Banned);
                }
                let added = queries::add_member(c, conv, user, last_seq, clock::now_ms()).await?;
                Ok(if added {
                    Admission::Joined
                } else {
                    Admission::AlreadyMember
                })
            })
        })
        .await
    }

    async fn ban_user(&self, conv: ConvId, user: UserId, by: UserId) -> StoreResult<(bool, bool)> {
        self.write(None, move |ctx| {
            Box::pin(async move {
                let c = &ctx.client;
                live_room(c, conv).await?;
                let removed = exec(
                    c,
                    "DELETE FROM members WHERE conv_id = $1 AND user_id = $2",
                    &[&conv, &user],
                )
                .await?;
                let banned = exec(
                    c,
                    "INSERT INTO bans (conv_id, user_id, by_user_id, created_ms)
                     VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                    &[&conv, &user, &by, &clock::now_ms()],
                )
                .await?;
                Ok((banned > 0, removed > 0))
            })
        })
        .await
    }

    async fn unban_user(&self, conv: ConvId, user: UserId) -> StoreResult<bool> {
        self.write(None, move |ctx| {
            Box::pin(async move {
                let c = &ctx.client;
                live_room(c, conv).await?;
                let removed = exec(
                    c,
                    "DELETE FROM bans WHERE conv_id = $1 AND user_id = $2",
                    &[&conv, &user],
                )
                .await?;
                Ok(removed > 0)
            })
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
        self.write(None, move |ctx| {
            Box::pin(async move {
                let c = &ctx.client;
                live_room(c, conv).await?;
                let member = opt(
                    c,
                    "SELECT 1 FROM members WHERE conv_id = $1 AND user_id = $2",
                    &[&conv, &user],
                )
                .await?
                .is_some();
                if !member {
                    return Err(not_member());
                }
                exec(
                    c,
                    "INSERT INTO mutes (conv_id, user_id, until_ms, by_user_id) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (conv_id, user_id)
                     DO UPDATE SET until_ms = excluded.until_ms, by_user_id = excluded.by_user_id",
                    &[&conv, &user, &until_ms, &by],
                )
                .await?;
                Ok(())
            })
        })
        .await
    }

    async fn unmute_user(&self, conv: ConvId, user: UserId) -> StoreResult<bool> {
        let now = clock::now_ms();
        self.write(None, move |ctx| {
            Box::pin(async move {
                let c = &ctx.client;
                live_room(c, conv).await?;
                let until = opt(
                    c,
                    "DELETE FROM mutes WHERE conv_id = $1 AND user_id = $2 RETURNING until_ms",
                    &[&conv, &user],
                )
                .await?
                .map(|r| r.get::<_, i64>(0));
                // An expired mute is no mute: removing it changes nothing anyone can see.
                Ok(until.is_some_and(|until| until > now))
            })
        })
        .await
    }

    async fn change_settings(&self, conv: ConvId, change: SettingsChange) -> StoreResult<()> {
        self.write(None, move |ctx| {
            Box::pin(async move {
                let c = &ctx.client;
                live_room(c, conv).await?;
                if let Some(topic) = &change.topic {
                    exec(
                        c,
                        "UPDATE conversations SET topic = $2 WHERE id = $1",
                        &[&conv, topic],
                    )
                    .await?;
                }
                if let Some(hash) = &change.password_hash {
                    exec(
                        c,
                        "UPDATE conversations SET password_hash = $2 WHERE id = $1",
                        &[&conv, hash],
                    )
                    .await?;
                }
                Ok(())
            })
        })
        .await
    }

    async fn set_role(&self, conv: ConvId, user: UserId, role: Role) -> StoreResult<()> {
        self.write(None, move |ctx| {
            Box::pin(async move {
                let c = &ctx.client;
                live_room(c, conv).await?;
                let changed = exec(
                    c,
                    "UPDATE members SET role = $3
                     WHERE conv_id = $1 AND user_id = $2 AND role <> 'owner'",
                    &[&conv, &user, &role.as_str()],
                )
                .await?;
                if changed == 0 {
                    return Err(not_member());
                }
                Ok(())
            })
        })
        .await
    }

    async fn transfer_ownership(&self, conv: ConvId, from: UserId, to: UserId) -> StoreResult<()> {
        self.write(None, move |ctx| {
            Box::pin(async move {
                let c = &ctx.client;
                live_room(c, conv).await?;
                let stepped_down = exec(
                    c,
                    "UPDATE members SET role = 'moderator'
                     WHERE conv_id = $1 AND user_id = $2 AND role = 'owner'",
                    &[&conv, &from],
                )
                .await?;
                if stepped_down == 0 {
                    return Err(StoreError::Conflict("not the owner of the room".into()));
                }
                let stepped_up = exec(
                    c,
                    "UPDATE members SET role = 'owner' WHERE conv_id = $1 AND user_id = $2",
                    &[&conv, &to],
                )
                .await?;
                if stepped_up == 0 {
                    // The job fails, so its savepoint undoes the step down.
                    return Err(not_member());
                }
                Ok(())
            })
        })
        .await
    }

    async fn delete_room(&self, conv: ConvId) -> StoreResult<Vec<String>> {
        // Locked like an append: a message racing the deletion on another node commits
        // before (and is erased) or after (and is swept at the next start).
        self.write(Some(conv), move |ctx| {
            Box::pin(async move {
                live_room(&ctx.client, conv).await?;
                erase_room(&ctx.client, conv, clock::now_ms()).await
            })
        })
        .await
    }

    async fn sweep_deleted_rooms(&self) -> StoreResult<Vec<String>> {
        self.write(None, move |ctx| {
            Box::pin(async move {
                let c = &ctx.client;
                let deleted: Vec<ConvId> = rows(
                    c,
                    "SELECT id FROM conversations WHERE deleted_ms IS NOT NULL",
                    &[],
                )
                .await?
                .iter()
                .map(|r| r.get(0))
                .collect();
                if deleted.is_empty() {
                    return Ok(Vec::new());
                }
                let mut attachments = Vec::new();
                for conv in deleted {
                    attachments.extend(erase_messages(c, conv).await?);
                }
                for table in ["cursors", "reads"] {
                    exec(
                        c,
                        &format!(
                            "DELETE FROM {table} WHERE conv_id IN
                             (SELECT id FROM conversations WHERE deleted_ms IS NOT NULL)"
                        ),
                        &[],
                    )
                    .await?;
                }
                Ok(attachments)
            })
        })
        .await
    }
}
