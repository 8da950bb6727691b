//! The SQL behind the store, as plain functions on a connection: the writer calls the mutating
//! ones inside its batch transaction, the read pool calls the rest.

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::writer::WriterCtx;
use crate::store::{
    Appended, ConvId, Conversation, ConversationKind, Directory, NewMessage, Page, StoredMessage,
    Unread, User, UserId,
};

const CONVERSATION_COLUMNS: &str = "id, kind, name, user_a, user_b, last_seq";

fn conversation(row: &Row<'_>) -> rusqlite::Result<Conversation> {
    let kind: String = row.get(1)?;
    let kind = if kind == "room" {
        ConversationKind::Room(row.get(2)?)
    } else {
        ConversationKind::Direct {
            a: row.get(3)?,
            b: row.get(4)?,
        }
    };
    Ok(Conversation {
        id: row.get(0)?,
        kind,
        last_seq: row.get(5)?,
    })
}

/// `SELECT` of message rows with their sender's name, as a macro so statements stay literals
/// (built once, no formatting per call).
macro_rules! select_messages {
    ($($rest:literal)*) => {
        concat!(
            "SELECT m.id, m.conv_id, m.seq, u.username, m.receiver, m.content, m.created_ms ",
            "FROM messages m JOIN users u ON u.id = m.sender_id ",
            $($rest),*
        )
    };
}

fn message(row: &Row<'_>) -> rusqlite::Result<StoredMessage> {
    Ok(StoredMessage {
        id: row.get(0)?,
        conv: row.get(1)?,
        seq: row.get(2)?,
        sender: row.get(3)?,
        receiver: row.get(4)?,
        content: row.get(5)?,
        created_ms: row.get(6)?,
    })
}

pub fn room_get_or_create(
    conn: &Connection,
    name: &str,
    now: i64,
) -> rusqlite::Result<Conversation> {
    conn.execute(
        "INSERT INTO conversations (kind, name, created_ms) VALUES ('room', ?1, ?2)
         ON CONFLICT (name) DO NOTHING",
        params![name, now],
    )?;
    conn.query_row(
        &format!("SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE name = ?1"),
        [name],
        conversation,
    )
}

pub fn direct_get_or_create(
    conn: &Connection,
    a: UserId,
    b: UserId,
    now: i64,
) -> rusqlite::Result<Conversation> {
    let select = format!(
        "SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE user_a = ?1 AND user_b = ?2"
    );
    if let Some(found) = conn.query_row(&select, [a, b], conversation).optional()? {
        return Ok(found);
    }
    conn.execute(
        "INSERT INTO conversations (kind, user_a, user_b, created_ms) VALUES ('direct', ?1, ?2, ?3)",
        params![a, b, now],
    )?;
    let id = conn.last_insert_rowid();
    for user in [a, b] {
        add_member(conn, id, user, 0, now)?;
    }
    conn.query_row(&select, [a, b], conversation)
}

/// Adds a member whose delivery cursor starts at `cursor`. False if already a member.
pub fn add_member(
    conn: &Connection,
    conv: ConvId,
    user: UserId,
    cursor: u64,
    now: i64,
) -> rusqlite::Result<bool> {
    let added = conn.execute(
        "INSERT INTO members (conv_id, user_id, joined_ms) VALUES (?1, ?2, ?3)
         ON CONFLICT DO NOTHING",
        params![conv, user, now],
    )? > 0;
    if added {
        save_cursors(conn, &[(user, conv, cursor)])?;
    }
    Ok(added)
}

pub fn save_cursors(conn: &Connection, cursors: &[(UserId, ConvId, u64)]) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO cursors (user_id, conv_id, seq) VALUES (?1, ?2, ?3)
         ON CONFLICT (user_id, conv_id) DO UPDATE SET seq = max(seq, excluded.seq)",
    )?;
    for (user, conv, seq) in cursors {
        stmt.execute(params![user, conv, seq])?;
    }
    Ok(())
}

/// Stores a message with the conversation's next sequence number, unless its sender already
/// used its client id.
pub fn append(ctx: &mut WriterCtx, new: &NewMessage, now: i64) -> rusqlite::Result<Appended> {
    let conn = &ctx.conn;
    if let Some(client_id) = &new.client_id {
        // The sender is the one sending now: no need to join their name.
        let existing = conn
            .prepare_cached(
                "SELECT id, conv_id, seq, receiver, content, created_ms FROM messages
                 WHERE sender_id = ?1 AND client_id = ?2",
            )?
            .query_row(params![new.sender.id, client_id], |r| {
                Ok(StoredMessage {
                    id: r.get(0)?,
                    conv: r.get(1)?,
                    seq: r.get(2)?,
                    sender: new.sender.username.clone(),
                    receiver: r.get(3)?,
                    content: r.get(4)?,
                    created_ms: r.get(5)?,
                })
            })
            .optional()?;
        if let Some(existing) = existing {
            return Ok(Appended::Duplicate(existing));
        }
    }
    let seq: u64 = conn
        .prepare_cached(
            "UPDATE conversations SET last_seq = last_seq + 1 WHERE id = ?1 RETURNING last_seq",
        )?
        .query_row([new.conv], |r| r.get(0))?;
    let id = ctx.ids.next(now);
    conn.prepare_cached(
        "INSERT INTO messages (conv_id, seq, id, sender_id, receiver, content, created_ms, client_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        new.conv,
        seq,
        id,
        new.sender.id,
        new.receiver,
        new.content,
        now,
        new.client_id
    ])?;
    Ok(Appended::New(StoredMessage {
        id,
        conv: new.conv,
        seq,
        sender: new.sender.username.clone(),
        receiver: new.receiver.clone(),
        content: new.content.clone(),
        created_ms: now,
    }))
}

pub fn page(
    conn: &Connection,
    conv: ConvId,
    page: Page,
    limit: u32,
) -> rusqlite::Result<(Vec<StoredMessage>, bool)> {
    let fetch = i64::from(limit) + 1;
    let rows = match page {
        Page::Latest => conn
            .prepare_cached(select_messages!(
                "WHERE m.conv_id = ?1 ORDER BY m.seq DESC LIMIT ?2"
            ))?
            .query_map(params![conv, fetch], message)?
            .collect::<rusqlite::Result<Vec<_>>>()?,
        Page::Before(seq) => conn
            .prepare_cached(select_messages!(
                "WHERE m.conv_id = ?1 AND m.seq < ?3 ORDER BY m.seq DESC LIMIT ?2"
            ))?
            .query_map(params![conv, fetch, seq], message)?
            .collect::<rusqlite::Result<Vec<_>>>()?,
        Page::After(seq) => conn
            .prepare_cached(select_messages!(
                "WHERE m.conv_id = ?1 AND m.seq > ?3 ORDER BY m.seq ASC LIMIT ?2"
            ))?
            .query_map(params![conv, fetch, seq], message)?
            .collect::<rusqlite::Result<Vec<_>>>()?,
    };
    let descending = !matches!(page, Page::After(_));
    let mut rows = rows;
    let has_more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    if descending {
        rows.reverse();
    }
    Ok((rows, has_more))
}

pub fn unread(conn: &Connection, user: UserId) -> rusqlite::Result<Vec<Unread>> {
    let mut stmt = conn.prepare_cached(
        "SELECT m.conv_id, COALESCE(c.seq, 0), v.last_seq
         FROM members m
         JOIN conversations v ON v.id = m.conv_id
         LEFT JOIN cursors c ON c.user_id = m.user_id AND c.conv_id = m.conv_id
         WHERE m.user_id = ?1 AND v.last_seq > COALESCE(c.seq, 0)",
    )?;
    let rows = stmt.query_map([user], |r| {
        Ok(Unread {
            conv: r.get(0)?,
            cursor: r.get(1)?,
            last_seq: r.get(2)?,
        })
    })?;
    rows.collect()
}

pub fn directory(conn: &Connection) -> rusqlite::Result<Directory> {
    let users = conn
        .prepare("SELECT id, username FROM users")?
        .query_map([], |r| {
            Ok(User {
                id: r.get(0)?,
                username: r.get(1)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let conversations = conn
        .prepare(&format!("SELECT {CONVERSATION_COLUMNS} FROM conversations"))?
        .query_map([], conversation)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let members = conn
        .prepare("SELECT conv_id, user_id FROM members")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(Directory {
        users,
        conversations,
        members,
    })
}
