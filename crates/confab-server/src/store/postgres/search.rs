//! Full-text search over the messages a user can see: every term must occur in the message,
//! case-insensitively, anywhere in a word (`ILIKE '%term%'`), which also finds Chinese,
//! Japanese and Korean text. Unlike SQLite's trigram index this scans the messages of the
//! user's conversations; a `pg_trgm` GIN index on `messages.content` speeds it up where the
//! extension may be installed (see docs/postgres.md).

use tokio_postgres::types::ToSql;

use super::messages::{complete, entry_row, SELECT_ENTRIES};
use super::sql::{rows, Conn};
use crate::store::{SearchQuery, StoreResult, StoredMessage, UserId};

pub async fn search(
    conn: &Conn,
    user: UserId,
    query: &SearchQuery,
) -> StoreResult<Vec<StoredMessage>> {
    let mut values: Vec<Box<dyn ToSql + Sync + Send>> = vec![Box::new(user)];
    let mut sql = format!(
        "{SELECT_ENTRIES} JOIN members mb ON mb.conv_id = m.conv_id AND mb.user_id = $1 \
         WHERE m.target_id IS NULL AND m.deleted_ms IS NULL AND m.seq > mb.cleared_seq "
    );
    for term in &query.terms {
        let escaped = term
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        values.push(Box::new(format!("%{escaped}%")));
        sql.push_str(&format!(
            "AND m.content ILIKE ${} ESCAPE '\\' ",
            values.len()
        ));
    }
    if let Some(conv) = query.conv {
        values.push(Box::new(conv));
        sql.push_str(&format!("AND m.conv_id = ${} ", values.len()));
    }
    if let Some(before) = &query.before {
        values.push(Box::new(before.clone()));
        sql.push_str(&format!("AND m.id < ${} ", values.len()));
    }
    values.push(Box::new(i64::from(query.limit)));
    sql.push_str(&format!("ORDER BY m.id DESC LIMIT ${}", values.len()));
    let params: Vec<&(dyn ToSql + Sync)> = values
        .iter()
        .map(|v| v.as_ref() as &(dyn ToSql + Sync))
        .collect();
    let found = rows(conn, &sql, &params).await?;
    complete(conn, found.iter().map(entry_row).collect()).await
}
