//! The SQL of conversations, memberships, cursors and the directory, as plain async functions
//! on a connection: the writer calls the mutating ones inside its batch transaction, reads
//! call the rest on a pooled connection.

use tokio_postgres::Row;

use super::sql::{big, exec, one, opt, rows, unsigned, Conn};
use crate::store::{
    ConvId, Conversation, ConversationKind, Directory, StoreResult, Unread, User, UserId,
};

const SELECT_CONVERSATION: &str =
    "SELECT id, kind, name, user_a, user_b, last_seq FROM conversations";

fn conversation(row: &Row) -> Conversation {
    let kind: String = row.get(1);
    let kind = if kind == "room" {
        ConversationKind::Room(row.get(2))
    } else {
        ConversationKind::Direct {
            a: row.get(3),
            b: row.get(4),
        }
    };
    Conversation {
        id: row.get(0),
        kind,
        last_seq: unsigned(row, 5),
    }
}

pub async fn room_get_or_create(conn: &Conn, name: &str, now: i64) -> StoreResult<Conversation> {
    exec(
        conn,
        "INSERT INTO conversations (kind, name, created_ms) VALUES ('room', $1, $2)
         ON CONFLICT (name) DO NOTHING",
        &[&name, &now],
    )
    .await?;
    let row = one(
        conn,
        &format!("{SELECT_CONVERSATION} WHERE name = $1"),
        &[&name],
    )
    .await?;
    Ok(conversation(&row))
}

pub async fn direct_get_or_create(
    conn: &Conn,
    a: UserId,
    b: UserId,
    now: i64,
) -> StoreResult<Conversation> {
    let select = format!("{SELECT_CONVERSATION} WHERE user_a = $1 AND user_b = $2");
    if let Some(found) = opt(conn, &select, &[&a, &b]).await? {
        return Ok(conversation(&found));
    }
    // Another node may create it at the same moment: its insert wins, ours does nothing.
    let created = opt(
        conn,
        "INSERT INTO conversations (kind, user_a, user_b, created_ms)
         VALUES ('direct', $1, $2, $3) ON CONFLICT (user_a, user_b) DO NOTHING RETURNING id",
        &[&a, &b, &now],
    )
    .await?;
    if let Some(row) = created {
        let id: ConvId = row.get(0);
        for user in [a, b] {
            add_member(conn, id, user, 0, now).await?;
        }
    }
    let row = one(conn, &select, &[&a, &b]).await?;
    Ok(conversation(&row))
}

/// Adds a member whose delivery cursor starts at `cursor`. False if already a member.
pub async fn add_member(
    conn: &Conn,
    conv: ConvId,
    user: UserId,
    cursor: u64,
    now: i64,
) -> StoreResult<bool> {
    let added = exec(
        conn,
        "INSERT INTO members (conv_id, user_id, joined_ms) VALUES ($1, $2, $3)
         ON CONFLICT DO NOTHING",
        &[&conv, &user, &now],
    )
    .await?
        > 0;
    if added {
        save_cursors(conn, &[(user, conv, cursor)]).await?;
    }
    Ok(added)
}

pub async fn save_cursors(conn: &Conn, cursors: &[(UserId, ConvId, u64)]) -> StoreResult<()> {
    for (user, conv, seq) in cursors {
        exec(
            conn,
            "INSERT INTO cursors (user_id, conv_id, seq) VALUES ($1, $2, $3)
             ON CONFLICT (user_id, conv_id) DO UPDATE SET seq = GREATEST(cursors.seq, excluded.seq)",
            &[user, conv, &big(*seq)],
        )
        .await?;
    }
    Ok(())
}

pub async fn unread(conn: &Conn, user: UserId) -> StoreResult<Vec<Unread>> {
    let found = rows(
        conn,
        "SELECT m.conv_id, COALESCE(c.seq, 0), v.last_seq
         FROM members m
         JOIN conversations v ON v.id = m.conv_id
         LEFT JOIN cursors c ON c.user_id = m.user_id AND c.conv_id = m.conv_id
         WHERE m.user_id = $1 AND v.last_seq > COALESCE(c.seq, 0)",
        &[&user],
    )
    .await?;
    Ok(found
        .iter()
        .map(|r| Unread {
            conv: r.get(0),
            cursor: unsigned(r, 1),
            last_seq: unsigned(r, 2),
        })
        .collect())
}

pub async fn directory(conn: &Conn) -> StoreResult<Directory> {
    let users = rows(conn, "SELECT id, username FROM users", &[])
        .await?
        .iter()
        .map(|r| User {
            id: r.get(0),
            username: r.get(1),
        })
        .collect();
    let conversations = rows(conn, SELECT_CONVERSATION, &[])
        .await?
        .iter()
        .map(conversation)
        .collect();
    let members = rows(conn, "SELECT conv_id, user_id FROM members", &[])
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    Ok(Directory {
        users,
        conversations,
        members,
    })
}
