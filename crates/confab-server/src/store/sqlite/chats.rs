//! The SQL of a user's view of their conversations: read markers, receipts, the chat list
//! with unread counts, and clearing a chat.

use rusqlite::{params, Connection, OptionalExtension};

use super::messages::{complete, entry_row, select_entries};
use crate::store::{ChatRow, ConvId, UserId};

/// Unread counts stop at this many (clients show "9999+").
pub const MAX_UNREAD_COUNT: u64 = 9999;

pub fn mark_read(conn: &Connection, user: UserId, conv: ConvId, seq: u64) -> rusqlite::Result<u64> {
    conn.prepare_cached(
        "INSERT INTO reads (user_id, conv_id, seq) VALUES (?1, ?2, ?3)
         ON CONFLICT (user_id, conv_id) DO UPDATE SET seq = max(seq, excluded.seq)
         RETURNING seq",
    )?
    .query_row(params![user, conv, seq], |r| r.get(0))
}

pub fn receipts(conn: &Connection, conv: ConvId) -> rusqlite::Result<Vec<(UserId, u64, u64)>> {
    conn.prepare_cached(
        "SELECT mb.user_id, COALESCE(c.seq, 0), COALESCE(r.seq, 0) FROM members mb
         LEFT JOIN cursors c ON c.user_id = mb.user_id AND c.conv_id = mb.conv_id
         LEFT JOIN reads r ON r.user_id = mb.user_id AND r.conv_id = mb.conv_id
         WHERE mb.conv_id = ?1",
    )?
    .query_map([conv], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
    .collect()
}

pub fn chats(conn: &Connection, user: UserId) -> rusqlite::Result<Vec<ChatRow>> {
    let memberships = conn
        .prepare_cached(
            "SELECT mb.conv_id, c.last_seq, mb.cleared_seq, mb.joined_ms, COALESCE(r.seq, 0)
             FROM members mb JOIN conversations c ON c.id = mb.conv_id
             LEFT JOIN reads r ON r.user_id = mb.user_id AND r.conv_id = mb.conv_id
             WHERE mb.user_id = ?1",
        )?
        .query_map([user], |r| {
            Ok((
                r.get::<_, ConvId>(0)?,
                r.get::<_, u64>(1)?,
                r.get::<_, u64>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, u64>(4)?,
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut rows = Vec::with_capacity(memberships.len());
    for (conv, last_seq, cleared, joined_ms, read) in memberships {
        let last = conn
            .prepare_cached(select_entries!(
                "WHERE m.conv_id = ?1 AND m.target_id IS NULL AND m.seq > ?2 "
                "ORDER BY m.seq DESC LIMIT 1"
            ))?
            .query_row(params![conv, cleared], entry_row)
            .optional()?;
        let last_message = complete(conn, last.into_iter().collect())?.pop();
        let floor = read.max(cleared);
        let unread: u64 = conn
            .prepare_cached(
                "SELECT count(*) FROM (SELECT 1 FROM messages
                 WHERE conv_id = ?1 AND seq > ?2 AND target_id IS NULL AND deleted_ms IS NULL
                 AND sender_id <> ?3 LIMIT ?4)",
            )?
            .query_row(params![conv, floor, user, MAX_UNREAD_COUNT], |r| r.get(0))?;
        rows.push(ChatRow {
            conv,
            activity_ms: last_message.as_ref().map_or(joined_ms, |m| m.created_ms),
            last_message,
            unread,
            read_seq: read,
            last_seq,
        });
    }
    Ok(rows)
}

/// Clears the conversation from the user's view up to its newest entry, and marks it read
/// and delivered there.
pub fn clear_chat(conn: &Connection, user: UserId, conv: ConvId) -> rusqlite::Result<u64> {
    let last_seq: u64 = conn.query_row(
        "SELECT last_seq FROM conversations WHERE id = ?1",
        [conv],
        |r| r.get(0),
    )?;
    conn.execute(
        "UPDATE members SET cleared_seq = ?3 WHERE conv_id = ?1 AND user_id = ?2",
        params![conv, user, last_seq],
    )?;
    mark_read(conn, user, conv, last_seq)?;
    super::queries::save_cursors(conn, &[(user, conv, last_seq)])?;
    Ok(last_seq)
}
