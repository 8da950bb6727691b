//! Running the integration tests on PostgreSQL: with `CONFAB_TEST_DATABASE` set (a
//! `postgres://` URL), every [`super::TestServer`] stores in a schema of its own, named after
//! its data dir so a restart on the same dir finds its data again. The schema is dropped when
//! the server is dropped after its data dir is gone (the usual end of a test); a restarted
//! server's schema is dropped by the last server on it in the same way.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// The database the integration tests run on, if not SQLite.
pub fn database() -> Option<String> {
    std::env::var("CONFAB_TEST_DATABASE")
        .ok()
        .filter(|url| url.starts_with("postgres://") || url.starts_with("postgresql://"))
}

/// The schema for a data dir (a stable name, so restarts reuse it).
fn schema_for(dir: &Path) -> String {
    // FNV-1a over the path: short, stable, and unique enough among one run's temp dirs.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in dir.as_os_str().as_encoded_bytes() {
        hash = (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3);
    }
    format!("confab_it_{hash:016x}")
}

/// The URL a server on `dir` uses.
pub fn url_for(base: &str, dir: &Path) -> String {
    let join = if base.contains('?') { '&' } else { '?' };
    format!("{base}{join}schema={}", schema_for(dir))
}

/// Drops the dir's schema when dropped, if the dir is gone by then.
pub struct SchemaGuard {
    pub base: String,
    pub dir: PathBuf,
}

impl Drop for SchemaGuard {
    fn drop(&mut self) {
        if self.dir.exists() {
            return;
        }
        let (base, name) = (self.base.clone(), schema_for(&self.dir));
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
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
    }
}
