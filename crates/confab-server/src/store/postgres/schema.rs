//! The PostgreSQL schema and its migrations, applied in order at open and tracked in the
//! table `confab_migrations`. Several nodes may start at once: each takes a session-level
//! advisory lock around the migration, so exactly one applies what is missing and the others
//! find it done. Append new migrations; never edit a released one.

use std::time::Duration;

use deadpool_postgres::{Object, Pool};

use super::sql::db;
use crate::clock;
use crate::store::{StoreError, StoreResult};

/// The migrations, in order; each file says what it adds.
const MIGRATIONS: &[(&str, &str)] = &[
    ("0001_core", include_str!("migrations/0001_core.sql")),
    (
        "0002_messaging",
        include_str!("migrations/0002_messaging.sql"),
    ),
    (
        "0003_attachments",
        include_str!("migrations/0003_attachments.sql"),
    ),
    ("0004_rooms", include_str!("migrations/0004_rooms.sql")),
    ("0005_social", include_str!("migrations/0005_social.sql")),
    ("0006_health", include_str!("migrations/0006_health.sql")),
];

/// The advisory lock's key ("confab" in ASCII): one migration at a time per database.
const MIGRATION_LOCK: i64 = 0x636f_6e66_6162;

/// How long a node waits for another node's migration.
const LOCK_WAIT: Duration = Duration::from_secs(60);

/// Creates `schema` if given and applies the migrations the database does not have yet.
pub async fn migrate(pool: &Pool, schema: Option<&str>) -> StoreResult<()> {
    let client = pool.get().await.map_err(super::sql::pool)?;
    match migrate_on(&client, schema).await {
        Ok(()) => {
            let _ = client
                .batch_execute(
                    "SELECT pg_advisory_unlock_all(); RESET lock_timeout; RESET client_min_messages",
                )
                .await;
            Ok(())
        }
        Err(err) => {
            // Closing the connection releases the advisory lock and any open transaction.
            drop(Object::take(client));
            Err(err)
        }
    }
}

async fn migrate_on(client: &Object, schema: Option<&str>) -> StoreResult<()> {
    client
        .batch_execute(&format!(
            "SET client_min_messages = warning; SET lock_timeout = '{}s';
             SELECT pg_advisory_lock({MIGRATION_LOCK})",
            LOCK_WAIT.as_secs()
        ))
        .await
        .map_err(db)?;
    if let Some(schema) = schema {
        client
            .batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""))
            .await
            .map_err(db)?;
    }
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS confab_migrations (
                 version    INTEGER PRIMARY KEY,
                 name       TEXT NOT NULL,
                 applied_ms BIGINT NOT NULL
             )",
        )
        .await
        .map_err(db)?;
    let current: i32 = client
        .query_one(
            "SELECT COALESCE(max(version), 0) FROM confab_migrations",
            &[],
        )
        .await
        .map_err(db)?
        .get(0);
    let current = usize::try_from(current).unwrap_or(0);
    if current > MIGRATIONS.len() {
        return Err(StoreError::Backend(format!(
            "the database is at migration {current}, newer than this confab ({})",
            MIGRATIONS.len()
        )));
    }
    for (index, (name, sql)) in MIGRATIONS.iter().enumerate().skip(current) {
        let version = i32::try_from(index + 1).unwrap_or(i32::MAX);
        let applied = async {
            client.batch_execute("BEGIN").await?;
            client.batch_execute(sql).await?;
            client
                .execute(
                    "INSERT INTO confab_migrations (version, name, applied_ms) VALUES ($1, $2, $3)",
                    &[&version, name, &clock::now_ms()],
                )
                .await?;
            client.batch_execute("COMMIT").await
        }
        .await;
        if let Err(err) = applied {
            let _ = client.batch_execute("ROLLBACK").await;
            return Err(db(err));
        }
        tracing::info!(version, name, "applied postgres migration");
    }
    Ok(())
}
