//! The store test suite, written once and run against every backend: each test is an
//! `async fn(Harness)`, and [`both_backends!`] makes a `sqlite::NAME` and a `postgres::NAME`
//! test of it. The PostgreSQL tests connect to `CONFAB_TEST_DATABASE` (default
//! `postgres://postgres@127.0.0.1:5432/test`), each in a fresh schema of a random name that is
//! dropped when the test ends. Every test is bounded in time.

mod core;
mod postgres;
mod rooms;
mod social;

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::store::postgres::PgStore;
use crate::store::sqlite::SqliteStore;
use crate::store::{CommitObserver, Committed, Store};

/// Longest a store test may run.
const TEST_DEADLINE: Duration = Duration::from_secs(120);
/// Connections per PostgreSQL store in tests (many tests run at once).
const TEST_POOL: usize = 4;

/// The database the PostgreSQL tests use.
pub fn test_database() -> String {
    std::env::var("CONFAB_TEST_DATABASE")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A schema of its own for one test, dropped (with everything in it) on drop.
pub struct PgSchema {
    pub name: String,
    base: String,
}

impl PgSchema {
    pub fn new() -> Self {
        let mut bytes = [0u8; 8];
        getrandom::fill(&mut bytes).expect("randomness");
        let suffix: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        Self {
            name: format!("confab_test_{suffix}"),
            base: test_database(),
        }
    }

    /// The database URL with this schema (our `schema` parameter).
    pub fn url(&self) -> String {
        let join = if self.base.contains('?') { '&' } else { '?' };
        format!("{}{join}schema={}", self.base, self.name)
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        let (base, name) = (self.base.clone(), self.name.clone());
        // Its own thread and runtime: drop may run inside (or after) the test's runtime.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                let config: tokio_postgres::Config = base.parse().ok()?;
                let (client, connection) = tokio::time::timeout(
                    Duration::from_secs(5),
                    config.connect(tokio_postgres::NoTls),
                )
                .await
                .ok()?
                .ok()?;
                tokio::spawn(connection);
                let sql =
                    format!("SET lock_timeout = '10s'; DROP SCHEMA IF EXISTS \"{name}\" CASCADE");
                tokio::time::timeout(Duration::from_secs(15), client.batch_execute(&sql))
                    .await
                    .ok()?
                    .ok()
            })
        })
        .join();
        if !matches!(dropped, Ok(Some(()))) {
            eprintln!("could not drop test schema {}", self.name);
        }
    }
}

enum Backend {
    Sqlite(tempfile::TempDir),
    Postgres(PgSchema),
}

/// A store under test, what its feed received, and where its data lives (to reopen it).
pub struct Harness {
    pub store: Arc<dyn Store>,
    pub fed: Arc<Mutex<Vec<Committed>>>,
    backend: Backend,
}

fn feed_into(fed: &Arc<Mutex<Vec<Committed>>>) -> crate::store::CommitFeed {
    let sink = fed.clone();
    Box::new(move |c| sink.lock().unwrap().push(c))
}

impl Harness {
    pub async fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let fed = Arc::new(Mutex::new(Vec::new()));
        let store = SqliteStore::open(dir.path(), 64, feed_into(&fed)).unwrap();
        Self {
            store: Arc::new(store),
            fed,
            backend: Backend::Sqlite(dir),
        }
    }

    pub async fn postgres() -> Self {
        let schema = PgSchema::new();
        let fed = Arc::new(Mutex::new(Vec::new()));
        let store = open_pg(&schema.url(), 64, feed_into(&fed), Arc::new(())).await;
        Self {
            store: Arc::new(store),
            fed,
            backend: Backend::Postgres(schema),
        }
    }

    /// A second store on the same data (the first is left as it is).
    pub async fn open_again(&self) -> Arc<dyn Store> {
        match &self.backend {
            Backend::Sqlite(dir) => {
                Arc::new(SqliteStore::open(dir.path(), 64, Box::new(|_| {})).unwrap())
            }
            Backend::Postgres(schema) => {
                Arc::new(open_pg(&schema.url(), 64, Box::new(|_| {}), Arc::new(())).await)
            }
        }
    }
}

pub async fn open_pg(
    url: &str,
    max_batch: usize,
    feed: crate::store::CommitFeed,
    observer: Arc<dyn CommitObserver>,
) -> PgStore {
    tokio::time::timeout(
        Duration::from_secs(30),
        PgStore::open_observed(url, max_batch, TEST_POOL, feed, observer),
    )
    .await
    .expect("opening the postgres store timed out")
    .unwrap_or_else(|e| panic!("cannot open the postgres store (is PostgreSQL running?): {e}"))
}

/// Runs one test on one backend, within [`TEST_DEADLINE`].
pub async fn run<F: Future<Output = ()>>(
    harness: impl Future<Output = Harness>,
    test: impl FnOnce(Harness) -> F,
) {
    tokio::time::timeout(TEST_DEADLINE, async move { test(harness.await).await })
        .await
        .expect("the store test timed out");
}

/// `sqlite::NAME` and `postgres::NAME` tests for each `async fn NAME(Harness)` given.
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    $crate::store::tests::run($crate::store::tests::Harness::sqlite(), super::$name)
                        .await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    $crate::store::tests::run(
                        $crate::store::tests::Harness::postgres(),
                        super::$name,
                    )
                    .await
                }
            )*
        }
    };
}
pub(crate) use both_backends;
