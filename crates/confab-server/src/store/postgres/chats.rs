//! The SQL of a user's view of their conversations: read markers, receipts, the chat list
//! with unread counts, and clearing a chat.

use super::messages::{complete, entry_row, SELECT_ENTRIES};
use super::sql::{big, one, opt, rows, unsigned, Conn};
use crate::store::{ChatRow, ConvId, StoreError, StoreResult, UserId};

/// Unread counts stop at this many (clients show "9999+").
pub const MAX_UNREAD_COUNT: i64 = 9999;

pub async fn mark_read(conn: &Conn, user: UserId, conv: ConvId, seq: u64) -> StoreResult<u64> {
    let row = one(
        conn,
        "INSERT INTO reads (user_id, conv_id, seq) VALUES ($1, $2, $3)
         ON CONFLICT (user_id, conv_id) DO UPDATE SET seq = GREATEST(reads.seq, excluded.seq)
         RETURNING seq",
        &[&user, &conv, &big(seq)],
    )
    .await?;
    Ok(unsigned(&row, 0))
}

pub async fn receipts(conn: &Conn, conv: ConvId) -> StoreResult<Vec<(UserId, u64, u64)>> {
    let found = rows(
        conn,
        "SELECT mb.user_id, COALESCE(c.seq, 0), COALESCE(r.seq, 0) FROM members mb
         LEFT JOIN cursors c ON c.user_id = mb.user_id AND c.conv_id = mb.conv_id
         LEFT JOIN reads r ON r.user_id = mb.user_id AND r.conv_id = mb.conv_id
         WHERE mb.conv_id = $1",
        &[&conv],
    )
    .await?;
    Ok(found
        .iter()
        .map(|r| (r.get(0), unsigned(r, 1), unsigned(r, 2)))
        .collect())
}

pub async fn chats(conn: &Conn, user: UserId) -> StoreResult<Vec<ChatRow>> {
    let memberships = rows(
        conn,
        "SELECT mb.conv_id, c.last_seq, mb.cleared_seq, mb.joined_ms, COALESCE(r.seq, 0)
         FROM members mb JOIN conversations c ON c.id = mb.conv_id
         LEFT JOIN reads r ON r.user_id = mb.user_id AND r.conv_id = mb.conv_id
         WHERE mb.user_id = $1",
        &[&user],
    )
    .await?;
    let last_sql = format!(
        "{SELECT_ENTRIES} WHERE m.conv_id = $1 AND m.target_id IS NULL AND m.seq > $2
         ORDER BY m.seq DESC LIMIT 1"
    );
    let mut out = Vec::with_capacity(memberships.len());
    for row in memberships {
        let conv: ConvId = row.get(0);
        let (last_seq, cleared, read) = (unsigned(&row, 1), unsigned(&row, 2), unsigned(&row, 4));
        let joined_ms: i64 = row.get(3);
        let last = opt(conn, &last_sql, &[&conv, &big(cleared)]).await?;
        let last = last.as_ref().map(entry_row).into_iter().collect();
        let last_message = complete(conn, last).await?.pop();
        let floor = big(read.max(cleared));
        let unread = one(
            conn,
            "SELECT count(*) FROM (SELECT 1 FROM messages
             WHERE conv_id = $1 AND seq > $2 AND target_id IS NULL AND deleted_ms IS NULL
             AND sender_id <> $3 LIMIT $4) AS u",
            &[&conv, &floor, &user, &MAX_UNREAD_COUNT],
        )
        .await?;
        out.push(ChatRow {
            conv,
            activity_ms: last_message.as_ref().map_or(joined_ms, |m| m.created_ms),
            last_message,
            unread: unsigned(&unread, 0),
            read_seq: read,
            last_seq,
        });
    }
    Ok(out)
}

/// Clears the conversation from the user's view up to its newest entry, and marks it read
/// and delivered there.
pub async fn clear_chat(conn: &Conn, user: UserId, conv: ConvId) -> StoreResult<u64> {
    let last_seq = opt(
        conn,
        "SELECT last_seq FROM conversations WHERE id = $1",
        &[&conv],
    )
    .await?
    .map(|r| unsigned(&r, 0))
    .ok_or_else(|| StoreError::NotFound("no such conversation".into()))?;
    super::sql::exec(
        conn,
        "UPDATE members SET cleared_seq = $3 WHERE conv_id = $1 AND user_id = $2",
        &[&conv, &user, &big(last_seq)],
    )
    .await?;
    mark_read(conn, user, conv, last_seq).await?;
    super::queries::save_cursors(conn, &[(user, conv, last_seq)]).await?;
    Ok(last_seq)
}
