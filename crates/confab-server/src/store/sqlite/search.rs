//! Full-text search over the messages a user can see. The index (kept in `search.db` by the
//! [`super::indexer`], attached to every read connection as `search`) is FTS5 with the trigram
//! tokenizer, so any part of a word matches and Chinese, Japanese and Korean text (which has
//! no spaces between words) is found as well. Terms shorter than three characters cannot use
//! trigrams; they are matched with `LIKE` on the messages the other terms (or the user's
//! conversations) narrow down to.

use rusqlite::types::Value;
use rusqlite::{params_from_iter, Connection};

use super::messages::{complete, entry_columns, entry_joins, entry_row};
use crate::store::{SearchQuery, StoredMessage, UserId};

pub fn search(
    conn: &Connection,
    user: UserId,
    query: &SearchQuery,
) -> rusqlite::Result<Vec<StoredMessage>> {
    let mut values: Vec<Value> = vec![Value::Integer(user)];
    let (long, short): (Vec<&String>, Vec<&String>) =
        query.terms.iter().partition(|t| t.chars().count() >= 3);
    let mut sql = String::new();
    if long.is_empty() {
        // No trigram to look up: scan the user's conversations.
        sql.push_str(concat!(
            entry_columns!(),
            "FROM messages m ",
            entry_joins!()
        ));
    } else {
        // The index finds the candidates; each is then one primary-key lookup. (Driving the
        // query from the messages table instead scans all of it when nothing matches.)
        let phrase = long
            .iter()
            .map(|t| format!("\"{}\"", t.replace('"', "\"\"")))
            .collect::<Vec<_>>()
            .join(" ");
        values.push(Value::Text(phrase));
        sql.push_str(&format!(
            "WITH hits(conv, seq) AS MATERIALIZED \
             (SELECT rowid >> 32, rowid & 4294967295 FROM search.message_search \
              WHERE message_search MATCH ?{}) ",
            values.len()
        ));
        sql.push_str(concat!(
            entry_columns!(),
            "FROM hits h CROSS JOIN messages m ON m.conv_id = h.conv AND m.seq = h.seq ",
            entry_joins!()
        ));
    }
    sql.push_str(
        "JOIN members mb ON mb.conv_id = m.conv_id AND mb.user_id = ?1 \
         WHERE m.target_id IS NULL AND m.deleted_ms IS NULL AND m.seq > mb.cleared_seq ",
    );
    for term in short {
        let escaped = term
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        values.push(Value::Text(format!("%{escaped}%")));
        sql.push_str(&format!(
            "AND m.content LIKE ?{} ESCAPE '\\' ",
            values.len()
        ));
    }
    if let Some(conv) = query.conv {
        values.push(Value::Integer(conv));
        sql.push_str(&format!("AND m.conv_id = ?{} ", values.len()));
    }
    if let Some(before) = &query.before {
        values.push(Value::Text(before.clone()));
        sql.push_str(&format!("AND m.id < ?{} ", values.len()));
    }
    values.push(Value::Integer(i64::from(query.limit)));
    sql.push_str(&format!("ORDER BY m.id DESC LIMIT ?{}", values.len()));
    let rows = conn
        .prepare(&sql)?
        .query_map(params_from_iter(values), entry_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    complete(conn, rows)
}
