//! Running the integration tests on PostgreSQL: with `CONFAB_TEST_ON_POSTGRES=1`, every
//! [`super::TestServer`] stores on the PostgreSQL of `CONFAB_TEST_DATABASE` (default
//! `postgres://postgres@127.0.0.1:5432/test`, the one the store tests use) in a schema of its own, named in a
//! file in its data dir so a restart on the same dir finds its data again. The schema is
//! dropped once the data dir is gone (see [`SchemaGuard`]); what a run that ended early left
//! behind is dropped by a later run (schemas older than 30 minutes).

use std::path::{Path, PathBuf};
use std::time::Duration;

/// The database the integration tests run on, if not SQLite. Setting `CONFAB_TEST_DATABASE`
/// alone only says where the machine's PostgreSQL is; it does not move these tests onto it.
pub fn database() -> Option<String> {
    if std::env::var("CONFAB_TEST_ON_POSTGRES").ok().as_deref() != Some("1") {
        return None;
    }
    Some(
        std::env::var("CONFAB_TEST_DATABASE")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned()),
    )
}

/// Schemas older than this are left over (a run that ended before its last servers' schemas
/// were dropped): the next run drops them. No test server lives this long.
const STALE_SECS: u64 = 30 * 60;

/// The schema for a data dir, kept in a file in the dir so restarts reuse it. The name
/// carries its creation time (`confab_it_<unix secs>_<random>`) for the stale sweep.
fn schema_for(dir: &Path) -> String {
    let marker = dir.join(".pg-schema");
    if let Ok(name) = std::fs::read_to_string(&marker) {
        return name.trim().to_owned();
    }
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut bytes = [0u8; 6];
    getrandom::fill(&mut bytes).expect("randomness");
    let suffix: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let name = format!("confab_it_{secs}_{suffix}");
    let _ = std::fs::create_dir_all(dir);
    let _ = std::fs::write(&marker, &name);
    name
}

/// The URL a server on `dir` uses.
pub fn url_for(base: &str, dir: &Path) -> String {
    static SWEEP: std::sync::Once = std::sync::Once::new();
    SWEEP.call_once(|| sweep_stale(base.to_owned()));
    let join = if base.contains('?') { '&' } else { '?' };
    format!("{base}{join}schema={}", schema_for(dir))
}

/// Drops the dir's schema once the dir is gone: at once if it is when the guard is dropped,
/// else (a server stopped, its dir handed back to the test) within a minute of it going.
pub struct SchemaGuard {
    pub base: String,
    pub dir: PathBuf,
}

impl Drop for SchemaGuard {
    fn drop(&mut self) {
        let (base, dir) = (self.base.clone(), self.dir.clone());
        let Ok(name) = std::fs::read_to_string(dir.join(".pg-schema")) else {
            return;
        };
        let name = name.trim().to_owned();
        if !dir.exists() {
            run_sql(&base, &format!("DROP SCHEMA IF EXISTS \"{name}\" CASCADE"));
            return;
        }
        std::thread::spawn(move || {
            for _ in 0..600 {
                std::thread::sleep(Duration::from_millis(100));
                if !dir.exists() {
                    run_sql(&base, &format!("DROP SCHEMA IF EXISTS \"{name}\" CASCADE"));
                    return;
                }
            }
        });
    }
}

/// Drops `confab_it_*` schemas older than [`STALE_SECS`] (left by runs that ended early).
fn sweep_stale(base: String) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    std::thread::spawn(move || {
        let names = query_names(&base);
        for name in names {
            let born = name
                .strip_prefix("confab_it_")
                .and_then(|rest| rest.split('_').next())
                .and_then(|secs| secs.parse::<u64>().ok());
            if born.is_some_and(|born| born + STALE_SECS < now) {
                run_sql(&base, &format!("DROP SCHEMA IF EXISTS \"{name}\" CASCADE"));
            }
        }
    });
}

fn block_on<T>(work: impl std::future::Future<Output = Option<T>>) -> Option<T> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .ok()?
        .block_on(work)
}

async fn client(base: &str) -> Option<tokio_postgres::Client> {
    let config: tokio_postgres::Config = base.parse().ok()?;
    let (client, connection) = tokio::time::timeout(
        Duration::from_secs(5),
        config.connect(tokio_postgres::NoTls),
    )
    .await
    .ok()?
    .ok()?;
    tokio::spawn(connection);
    Some(client)
}

fn query_names(base: &str) -> Vec<String> {
    block_on(async {
        let client = client(base).await?;
        let rows = client
            .query(
                "SELECT nspname::text FROM pg_namespace WHERE nspname LIKE 'confab\\_it\\_%'",
                &[],
            )
            .await
            .ok()?;
        Some(rows.iter().map(|r| r.get(0)).collect())
    })
    .unwrap_or_default()
}

/// Runs `sql` on its own connection and runtime (callable from drop, inside or outside a
/// runtime), bounded in time.
fn run_sql(base: &str, sql: &str) {
    let (base, sql) = (base.to_owned(), format!("SET lock_timeout = '10s'; {sql}"));
    let _ = std::thread::spawn(move || {
        block_on(async move {
            let client = client(&base).await?;
            tokio::time::timeout(Duration::from_secs(15), client.batch_execute(&sql))
                .await
                .ok()?
                .ok()
        })
    })
    .join();
}
