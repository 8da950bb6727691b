//! Small helpers over a pooled connection: prepared (and cached per connection) statements,
//! numbers between Rust's unsigned types and PostgreSQL's `BIGINT`, and the mapping of
//! driver errors onto [`StoreError`].

use std::time::Duration;

use deadpool_postgres::ClientWrapper;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use crate::store::{StoreError, StoreResult};

/// A connection: the writer's (inside its batch transaction) or a reader's.
pub type Conn = ClientWrapper;
pub type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

/// Longest one statement may take (preparing it included) before the caller hears
/// [`StoreError::Unavailable`]: a database that stopped answering without closing its
/// connections (paused, or a network that drops packets) must not hold callers forever. The
/// connection stays usable: the driver discards the late answer.
pub const STATEMENT_DEADLINE: Duration = Duration::from_secs(10);

pub async fn bounded<T>(
    work: impl std::future::Future<Output = Result<T, tokio_postgres::Error>>,
) -> StoreResult<T> {
    match tokio::time::timeout(STATEMENT_DEADLINE, work).await {
        Ok(done) => done.map_err(db),
        Err(_) => Err(StoreError::Unavailable(
            "the database did not answer in time".into(),
        )),
    }
}

/// Runs statements with the simple protocol (transaction control, savepoints), bounded.
pub async fn simple(conn: &Conn, sql: &str) -> StoreResult<()> {
    bounded(conn.batch_execute(sql)).await
}

pub async fn rows(conn: &Conn, sql: &str, params: Params<'_>) -> StoreResult<Vec<Row>> {
    bounded(async {
        let stmt = conn.prepare_cached(sql).await?;
        conn.query(&stmt, params).await
    })
    .await
}

pub async fn opt(conn: &Conn, sql: &str, params: Params<'_>) -> StoreResult<Option<Row>> {
    bounded(async {
        let stmt = conn.prepare_cached(sql).await?;
        conn.query_opt(&stmt, params).await
    })
    .await
}

pub async fn one(conn: &Conn, sql: &str, params: Params<'_>) -> StoreResult<Row> {
    bounded(async {
        let stmt = conn.prepare_cached(sql).await?;
        conn.query_one(&stmt, params).await
    })
    .await
}

/// Runs a statement; the number of rows it changed.
pub async fn exec(conn: &Conn, sql: &str, params: Params<'_>) -> StoreResult<u64> {
    bounded(async {
        let stmt = conn.prepare_cached(sql).await?;
        conn.execute(&stmt, params).await
    })
    .await
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
