//! The SQL of conversation entries: appending messages and the updates about them (edits,
//! deletes, reactions), each with the conversation's next seq, and reading them back with
//! their current state (reply previews, reactions). The writer runs the appends inside its
//! batch transaction; the read pool runs the rest.

use confab_protocol::messaging::{Change, Location, MessageKind, Reaction, ReplyPreview};
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::writer::WriterCtx;
use crate::store::{
    Appended, ConvId, NewEntry, NewMessage, Page, Post, StoreError, StoreResult, StoredMessage,
};

/// Entry kinds that are updates about another message (`target_id`), not messages.
const EDIT: &str = "edit";
const DELETE: &str = "delete";
const REACTION: &str = "reaction";

/// The columns of an entry row, its sender's name and the answered message (`entry_row`
/// reads them), and the joins they need after `messages m`. Macros, so statements stay
/// literals (prepared once per connection).
macro_rules! entry_columns {
    () => {
        concat!(
            "SELECT m.id, m.conv_id, m.seq, u.username, m.receiver, m.content, m.created_ms, ",
            "m.kind, m.target_id, m.attachment_json, m.latitude, m.longitude, m.location_label, ",
            "m.edited_ms, m.deleted_ms, r.id, ru.username, r.content, r.deleted_ms "
        )
    };
}
macro_rules! entry_joins {
    () => {
        concat!(
            "JOIN users u ON u.id = m.sender_id ",
            "LEFT JOIN messages r ON r.id = m.reply_to_id ",
            "LEFT JOIN users ru ON ru.id = r.sender_id "
        )
    };
}

/// `SELECT` of entry rows from `messages m`, followed by the given clauses.
macro_rules! select_entries {
    ($($rest:literal)*) => {
        concat!(
            $crate::store::sqlite::messages::entry_columns!(),
            "FROM messages m ",
            $crate::store::sqlite::messages::entry_joins!(),
            $($rest),*
        )
    };
}
pub(super) use select_entries;
pub(super) use {entry_columns, entry_joins};

/// A row and, for an update, the kind of update and the id of its target.
pub(super) struct EntryRow {
    message: StoredMessage,
    update: Option<(Change, String)>,
}

pub(super) fn entry_row(row: &Row<'_>) -> rusqlite::Result<EntryRow> {
    let kind: String = row.get(7)?;
    let target: Option<String> = row.get(8)?;
    let attachment: Option<String> = row.get(9)?;
    let latitude: Option<f64> = row.get(10)?;
    let longitude: Option<f64> = row.get(11)?;
    let reply_id: Option<String> = row.get(15)?;
    let reply = match reply_id {
        Some(id) => {
            let deleted = row.get::<_, Option<i64>>(18)?.is_some();
            let content: String = row.get(17)?;
            Some(ReplyPreview {
                id,
                sender: row.get(16)?,
                excerpt: content
                    .chars()
                    .take(confab_protocol::messaging::REPLY_EXCERPT_CHARS)
                    .collect(),
                deleted,
            })
        }
        None => None,
    };
    let message = StoredMessage {
        id: row.get(0)?,
        conv: row.get(1)?,
        seq: row.get(2)?,
        sender: row.get(3)?,
        receiver: row.get(4)?,
        content: row.get(5)?,
        created_ms: row.get(6)?,
        kind: MessageKind::parse(&kind).unwrap_or_default(),
        attachment: attachment.and_then(|json| serde_json::from_str(&json).ok()),
        location: match (latitude, longitude) {
            (Some(latitude), Some(longitude)) => Some(Location {
                latitude,
                longitude,
                label: row.get(12)?,
            }),
            _ => None,
        },
        reply,
        edited_ms: row.get(13)?,
        deleted: row.get::<_, Option<i64>>(14)?.is_some(),
        reactions: Vec::new(),
        update: None,
        erased_attachment: None,
    };
    let update = target.map(|target| {
        let change = match kind.as_str() {
            EDIT => Change::Edited,
            DELETE => Change::Deleted,
            _ => Change::Reactions,
        };
        (change, target)
    });
    Ok(EntryRow { message, update })
}

/// Completes rows into entries: reactions on messages, the target's state on updates.
pub(super) fn complete(
    conn: &Connection,
    rows: Vec<EntryRow>,
) -> rusqlite::Result<Vec<StoredMessage>> {
    rows.into_iter()
        .map(|row| {
            let mut message = row.message;
            match row.update {
                None => message.reactions = reactions(conn, &message.id)?,
                Some((change, target)) => {
                    if let Some(target) = by_id(conn, &target)? {
                        message.update = Some((change, Box::new(target)));
                    }
                }
            }
            Ok(message)
        })
        .collect()
}

/// A message (not an update) as it is now.
pub fn by_id(conn: &Connection, id: &str) -> rusqlite::Result<Option<StoredMessage>> {
    let row = conn
        .prepare_cached(select_entries!("WHERE m.id = ?1 AND m.target_id IS NULL"))?
        .query_row([id], entry_row)
        .optional()?;
    Ok(complete(conn, row.into_iter().collect())?.pop())
}

fn reactions(conn: &Connection, message: &str) -> rusqlite::Result<Vec<Reaction>> {
    let mut stmt = conn.prepare_cached(
        "SELECT r.emoji, u.username FROM reactions r JOIN users u ON u.id = r.user_id
         WHERE r.message_id = ?1 ORDER BY r.created_ms, u.username",
    )?;
    let mut out: Vec<Reaction> = Vec::new();
    for row in stmt.query_map([message], |r| Ok((r.get::<_, String>(0)?, r.get(1)?)))? {
        let (emoji, user) = row?;
        match out.iter_mut().find(|r| r.emoji == emoji) {
            Some(reaction) => {
                reaction.count += 1;
                reaction.users.push(user);
            }
            None => out.push(Reaction {
                emoji,
                count: 1,
                users: vec![user],
            }),
        }
    }
    Ok(out)
}

/// Appends an entry with the conversation's next sequence number, unless its sender already
/// used its client id.
pub fn append(ctx: &mut WriterCtx, new: &NewMessage, now: i64) -> StoreResult<Appended> {
    let conn = &ctx.conn;
    if let Some(client_id) = &new.client_id {
        let existing = conn
            .prepare_cached(select_entries!(
                "WHERE m.sender_id = ?1 AND m.client_id = ?2"
            ))
            .and_then(|mut stmt| {
                stmt.query_row(params![new.sender.id, client_id], entry_row)
                    .optional()
            })
            .map_err(db)?;
        if let Some(existing) = existing {
            let mut done = complete(conn, vec![existing]).map_err(db)?;
            return Ok(Appended::Duplicate(done.pop().expect("one entry")));
        }
    }
    match &new.entry {
        NewEntry::Post(post) => append_post(ctx, new, post, now),
        NewEntry::Edit { target, content } => {
            let target_row = target_of(conn, new, target)?;
            if target_row.sender_id != new.sender.id {
                return Err(StoreError::Forbidden(
                    "only the sender may edit a message".into(),
                ));
            }
            conn.prepare_cached("UPDATE messages SET content = ?2, edited_ms = ?3 WHERE id = ?1")
                .and_then(|mut s| s.execute(params![target, content, now]))
                .map_err(db)?;
            append_update(ctx, new, EDIT, Change::Edited, target, now, None)
        }
        NewEntry::Delete { target, moderator } => {
            let target_row = target_of(conn, new, target)?;
            if target_row.sender_id != new.sender.id && !moderator {
                return Err(StoreError::Forbidden(
                    "only the sender or a room moderator may delete a message".into(),
                ));
            }
            conn.prepare_cached(
                "UPDATE messages SET content = '', attachment_id = NULL, attachment_json = NULL,
                 latitude = NULL, longitude = NULL, location_label = NULL, edited_ms = NULL,
                 deleted_ms = ?2 WHERE id = ?1",
            )
            .and_then(|mut s| s.execute(params![target, now]))
            .map_err(db)?;
            conn.prepare_cached("DELETE FROM reactions WHERE message_id = ?1")
                .and_then(|mut s| s.execute([target]))
                .map_err(db)?;
            let erased = target_row.attachment_id;
            append_update(ctx, new, DELETE, Change::Deleted, target, now, erased)
        }
        NewEntry::React {
            target,
            emoji,
            max_emojis,
        } => {
            target_of(conn, new, target)?;
            let removed = conn
                .prepare_cached(
                    "DELETE FROM reactions WHERE message_id = ?1 AND emoji = ?2 AND user_id = ?3",
                )
                .and_then(|mut s| s.execute(params![target, emoji, new.sender.id]))
                .map_err(db)?;
            if removed == 0 {
                let (distinct, present): (usize, bool) = conn
                    .prepare_cached(
                        "SELECT count(DISTINCT emoji), coalesce(max(emoji = ?2), 0)
                         FROM reactions WHERE message_id = ?1",
                    )
                    .and_then(|mut s| {
                        s.query_row(params![target, emoji], |r| Ok((r.get(0)?, r.get(1)?)))
                    })
                    .map_err(db)?;
                if !present && distinct >= *max_emojis {
                    return Err(StoreError::TooMany(format!(
                        "a message holds at most {max_emojis} different reactions"
                    )));
                }
                conn.prepare_cached(
                    "INSERT INTO reactions (message_id, emoji, user_id, created_ms)
                     VALUES (?1, ?2, ?3, ?4)",
                )
                .and_then(|mut s| s.execute(params![target, emoji, new.sender.id, now]))
                .map_err(db)?;
            }
            append_update(ctx, new, REACTION, Change::Reactions, target, now, None)
        }
    }
}

fn append_post(
    ctx: &mut WriterCtx,
    new: &NewMessage,
    post: &Post,
    now: i64,
) -> StoreResult<Appended> {
    let conn = &ctx.conn;
    if let Some(reply) = &post.reply_to {
        let found: Option<ConvId> = conn
            .prepare_cached("SELECT conv_id FROM messages WHERE id = ?1 AND target_id IS NULL")
            .and_then(|mut s| s.query_row([reply], |r| r.get(0)).optional())
            .map_err(db)?;
        if found != Some(new.conv) {
            return Err(StoreError::NotFound(format!(
                "no message {reply} in this conversation"
            )));
        }
    }
    let seq = next_seq(conn, new.conv)?;
    let id = ctx.ids.next(now);
    let attachment_json = post
        .attachment
        .as_ref()
        .map(|a| serde_json::to_string(a).expect("attachments serialize"));
    let location = post.location.as_ref();
    conn.prepare_cached(
        "INSERT INTO messages (conv_id, seq, id, sender_id, receiver, content, created_ms,
         client_id, kind, reply_to_id, attachment_id, attachment_json, latitude, longitude,
         location_label)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
    )
    .and_then(|mut s| {
        s.execute(params![
            new.conv,
            seq,
            id,
            new.sender.id,
            new.receiver,
            post.content,
            now,
            new.client_id,
            post.kind.as_str(),
            post.reply_to,
            post.attachment.as_ref().map(|a| &a.id),
            attachment_json,
            location.map(|l| l.latitude),
            location.map(|l| l.longitude),
            location.and_then(|l| l.label.as_ref()),
        ])
    })
    .map_err(db)?;
    let mut stored = StoredMessage::text(
        id,
        new.conv,
        seq,
        new.sender.username.clone(),
        new.receiver.clone(),
    );
    stored.content = post.content.clone();
    stored.created_ms = now;
    stored.kind = post.kind;
    stored.attachment = post.attachment.clone();
    stored.location = post.location.clone();
    if post.reply_to.is_some() {
        // Read back for the reply preview.
        if let Some(read) = by_id(conn, &stored.id).map_err(db)? {
            stored.reply = read.reply;
        }
    }
    Ok(Appended::New(stored))
}

fn next_seq(conn: &Connection, conv: ConvId) -> StoreResult<u64> {
    conn.prepare_cached(
        "UPDATE conversations SET last_seq = last_seq + 1 WHERE id = ?1 RETURNING last_seq",
    )
    .and_then(|mut s| s.query_row([conv], |r| r.get(0)))
    .map_err(db)
}

fn append_update(
    ctx: &mut WriterCtx,
    new: &NewMessage,
    kind: &str,
    change: Change,
    target: &str,
    now: i64,
    erased_attachment: Option<String>,
) -> StoreResult<Appended> {
    let conn = &ctx.conn;
    let seq = next_seq(conn, new.conv)?;
    let id = ctx.ids.next(now);
    conn.prepare_cached(
        "INSERT INTO messages (conv_id, seq, id, sender_id, receiver, content, created_ms,
         client_id, kind, target_id) VALUES (?1, ?2, ?3, ?4, ?5, '', ?6, ?7, ?8, ?9)",
    )
    .and_then(|mut s| {
        s.execute(params![
            new.conv,
            seq,
            id,
            new.sender.id,
            new.receiver,
            now,
            new.client_id,
            kind,
            target
        ])
    })
    .map_err(db)?;
    let state = by_id(conn, target)
        .map_err(db)?
        .ok_or_else(|| StoreError::NotFound(format!("no message {target}")))?;
    let mut stored = StoredMessage::text(
        id,
        new.conv,
        seq,
        new.sender.username.clone(),
        new.receiver.clone(),
    );
    stored.created_ms = now;
    stored.update = Some((change, Box::new(state)));
    stored.erased_attachment = erased_attachment;
    Ok(Appended::New(stored))
}

struct TargetRow {
    sender_id: i64,
    attachment_id: Option<String>,
}

/// The message an update is about: it must be a message of this conversation, not deleted.
fn target_of(conn: &Connection, new: &NewMessage, target: &str) -> StoreResult<TargetRow> {
    let row = conn
        .prepare_cached(
            "SELECT conv_id, deleted_ms, sender_id, attachment_id FROM messages
             WHERE id = ?1 AND target_id IS NULL",
        )
        .and_then(|mut s| {
            s.query_row([target], |r| {
                Ok((
                    r.get::<_, ConvId>(0)?,
                    r.get::<_, Option<i64>>(1)?,
                    TargetRow {
                        sender_id: r.get(2)?,
                        attachment_id: r.get(3)?,
                    },
                ))
            })
            .optional()
        })
        .map_err(db)?;
    let Some((conv, deleted, target_row)) = row else {
        return Err(StoreError::NotFound(format!("no message {target}")));
    };
    if conv != new.conv {
        return Err(StoreError::NotFound(format!("no message {target}")));
    }
    if deleted.is_some() {
        return Err(StoreError::Gone(format!("message {target} was deleted")));
    }
    Ok(target_row)
}

/// A page of messages (no updates) above `floor`, oldest first, and whether more lie beyond.
pub fn history(
    conn: &Connection,
    conv: ConvId,
    floor: u64,
    page: Page,
    limit: u32,
) -> rusqlite::Result<(Vec<StoredMessage>, bool)> {
    let fetch = i64::from(limit) + 1;
    let (sql, bound) = match page {
        Page::Latest => (
            select_entries!(
                "WHERE m.conv_id = ?1 AND m.target_id IS NULL AND m.seq > ?3 "
                "ORDER BY m.seq DESC LIMIT ?2"
            ),
            0,
        ),
        Page::Before(seq) => (
            select_entries!(
                "WHERE m.conv_id = ?1 AND m.target_id IS NULL AND m.seq > ?3 AND m.seq < ?4 "
                "ORDER BY m.seq DESC LIMIT ?2"
            ),
            seq,
        ),
        Page::After(seq) => (
            select_entries!(
                "WHERE m.conv_id = ?1 AND m.target_id IS NULL AND m.seq > ?3 AND m.seq > ?4 "
                "ORDER BY m.seq ASC LIMIT ?2"
            ),
            seq,
        ),
    };
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = if matches!(page, Page::Latest) {
        stmt.query_map(params![conv, fetch, floor], entry_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?
    } else {
        stmt.query_map(params![conv, fetch, floor, bound], entry_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?
    };
    let mut rows = complete(conn, rows)?;
    let has_more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    if !matches!(page, Page::After(_)) {
        rows.reverse();
    }
    Ok((rows, has_more))
}

/// Entries (messages and updates) after `seq`, oldest first.
pub fn changes(
    conn: &Connection,
    conv: ConvId,
    after: u64,
    limit: u32,
) -> rusqlite::Result<Vec<StoredMessage>> {
    let rows = conn
        .prepare_cached(select_entries!(
            "WHERE m.conv_id = ?1 AND m.seq > ?2 ORDER BY m.seq ASC LIMIT ?3"
        ))?
        .query_map(params![conv, after, limit], entry_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    complete(conn, rows)
}

fn db(err: rusqlite::Error) -> StoreError {
    StoreError::Backend(err.to_string())
}
