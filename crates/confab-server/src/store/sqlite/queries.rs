//! The SQL behind the store, as plain functions on a connection: the writer calls the mutating
//! ones inside its batch transaction, the read pool calls the rest.

use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::store::{ConvId, Conversation, ConversationKind, Directory, Unread, User, UserId};

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
