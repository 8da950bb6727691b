//! Small helpers over a pooled connection: prepared (and cached per connection) statements,
//! numbers between Rust's unsigned types and PostgreSQL's `BIGINT`, and the mapping of
//! driver errors onto [`StoreError`].

use deadpool_postgres::ClientWrapper;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use crate::store::{StoreError, StoreResult};

/// A connection: the writer's (inside its batch transaction) or a reader's.
pub type Conn = ClientWrapper;
pub type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

pub async fn rows(conn: &Conn, sql: &str, params: Params<'_>) -> StoreResult<Vec<Row>> {
    let stmt = conn.prepare_cached(sql).await.map_err(db)?;
    conn.query(&stmt, params).await.map_err(db)
}

pub async fn opt(conn: &Conn, sql: &str, params: Params<'_>) -> StoreResult<Option<Row>> {
    let stmt = conn.prepare_cached(sql).await.map_err(db)?;
    conn.query_opt(&stmt, params).await.map_err(db)
}

pub async fn one(conn: &Conn, sql: &str, params: Params<'_>) -> StoreResult<Row> {
    let stmt = conn.prepare_cached(sql).await.map_err(db)?;
    conn.query_one(&stmt, params).await.map_err(db)
}

/// Runs a statement; the number of rows it changed.
pub async fn exec(conn: &Conn, sql: &str, params: Params<'_>) -> StoreResult<u64> {
    let stmt = conn.prepare_cached(sql).await.map_err(db)?;
    conn.execute(&stmt, params).await.map_err(db)
}

/// An unsigned number as a `BIGINT` parameter (values past `i64::MAX` are capped there).
pub fn big(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// A `BIGINT` column that holds a count or a seq (never negative).
pub fn unsigned(row: &Row, index: usize) -> u64 {
    u64::try_from(row.get::<_, i64>(index)).unwrap_or(0)
}

pub fn unsigned32(row: &Row, index: usize) -> u32 {
    u32::try_from(row.get::<_, i64>(index)).unwrap_or(u32::MAX)
}

/// The driver's errors: a connection that cannot be made or was lost, a server shutting down
/// or out of resources, a deadlock or a lock wait given up are [`StoreError::Unavailable`]
/// (nothing was written; the caller may retry); unique violations are conflicts; the rest
/// are bugs.
pub fn db(err: tokio_postgres::Error) -> StoreError {
    let message = err.to_string();
    let Some(code) = err.code() else {
        // No SQLSTATE: the connection failed or closed, or the server's answer was cut.
        return StoreError::Unavailable(message);
    };
    let class = &code.code()[..2];
    if *code == SqlState::UNIQUE_VIOLATION {
        let detail = err
            .as_db_error()
            .map(|e| e.constraint().unwrap_or("unique").to_owned())
            .unwrap_or_default();
        return StoreError::Conflict(format!("already exists ({detail})"));
    }
    if matches!(class, "08" | "53" | "57" | "40" | "55" | "58")
        || *code == SqlState::LOCK_NOT_AVAILABLE
    {
        return StoreError::Unavailable(message);
    }
    StoreError::Backend(message)
}

/// The pool's errors: no connection could be had (the database is down or every connection
/// is busy) is [`StoreError::Unavailable`].
pub fn pool(err: deadpool_postgres::PoolError) -> StoreError {
    use deadpool_postgres::PoolError;
    match err {
        PoolError::Backend(err) => db(err),
        PoolError::Closed => StoreError::Backend("store closed".into()),
        other => StoreError::Unavailable(other.to_string()),
    }
}
