//! [`PgBlobStore`]: blobs in PostgreSQL, so that every node behind a load balancer serves every
//! upload. A blob is a header row in `confab_blobs` (its length and chunk size) and its bytes in
//! `confab_blob_chunks`, one row of at most [`CHUNK`] bytes per `(sha256, n)`. A ranged
//! [`BlobStore::open`] reads only the chunks from the offset on, one query per chunk, each on a
//! connection taken from the pool and given back at once: a 24 MiB blob is never held in memory
//! whole, and a slow download holds no connection while its client is not reading.
//!
//! `put_file` streams the staged file in chunks inside one transaction, header first; the
//! header's primary key makes a concurrent put of the same hash wait for the first to commit
//! and then find it, so a second put is a no-op returning false. Nobody sees a half-written
//! blob: the rows become visible together at commit. The chunk column is stored uncompressed
//! (`STORAGE EXTERNAL`): attachments are mostly compressed media already.
//!
//! The tables are made on first use (`CREATE TABLE IF NOT EXISTS` under an advisory lock, so
//! nodes starting together do not race), which keeps [`PgBlobStore::connect`] synchronous: the
//! pool connects lazily. They live in the connection's `search_path` (by default `public`; a
//! URL's `options=-csearch_path%3Dname` picks another schema).

use std::io;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::OnceCell;
use tokio_postgres::types::ToSql;
use tokio_postgres::NoTls;

use super::blob::{is_blob_name, BlobReader, BlobStore};

/// Bytes per chunk row.
pub const CHUNK: usize = 256 * 1024;

/// Connections the store's own pool keeps at most.
const POOL_SIZE: usize = 8;
/// How long a query waits for a pooled connection, or for a new one to be made, at most.
const POOL_TIMEOUT: Duration = Duration::from_secs(10);

/// Any key `pg_advisory_xact_lock` takes, as long as it is this store's own.
const SCHEMA_LOCK: i64 = 0x636f_6e66_6162_626c; // "confabbl"

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS confab_blobs (
    sha256 TEXT PRIMARY KEY,
    len BIGINT NOT NULL CHECK (len >= 0),
    chunk_size INTEGER NOT NULL CHECK (chunk_size > 0)
);
CREATE TABLE IF NOT EXISTS confab_blob_chunks (
    sha256 TEXT NOT NULL REFERENCES confab_blobs (sha256) ON DELETE CASCADE,
    n INTEGER NOT NULL CHECK (n >= 0),
    data BYTEA NOT NULL,
    PRIMARY KEY (sha256, n)
);
ALTER TABLE confab_blob_chunks ALTER COLUMN data SET STORAGE EXTERNAL;
";

/// Blobs in PostgreSQL. Cheap to clone: clones share the pool.
#[derive(Clone)]
pub struct PgBlobStore {
    pool: Pool,
    ready: std::sync::Arc<OnceCell<()>>,
}

impl std::fmt::Debug for PgBlobStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The pool's configuration holds the password; show nothing of it.
        f.debug_struct("PgBlobStore").finish_non_exhaustive()
    }
}

impl PgBlobStore {
    /// A store on a pool someone else made.
    pub fn new(pool: Pool) -> Self {
        Self {
            pool,
            ready: Default::default(),
        }
    }

    /// A store on its own pool for `url` (`postgres://user:password@host:port/db?options`).
    /// Synchronous: nothing connects until the first use, so a bad address shows up then.
    pub fn connect(url: &str) -> io::Result<Self> {
        let config = tokio_postgres::Config::from_str(url).map_err(|err| {
            // The parser's message names the bad part, never the whole URL.
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("bad blob store URL: {err}"),
            )
        })?;
        Self::with_config(config)
    }

    /// A store on its own pool for a parsed configuration.
    pub fn with_config(mut config: tokio_postgres::Config) -> io::Result<Self> {
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(POOL_TIMEOUT);
        }
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(POOL_TIMEOUT))
            .create_timeout(Some(POOL_TIMEOUT))
            .recycle_timeout(Some(POOL_TIMEOUT))
            .build()
            .map_err(io::Error::other)?;
        Ok(Self::new(pool))
    }

    /// A pooled connection, the tables made first if this is the first use. (The tables are
    /// made before a connection is held, so first callers cannot take the whole pool.)
    async fn client(&self) -> io::Result<deadpool_postgres::Client> {
        self.ready
            .get_or_try_init(|| async {
                let mut client = self.pool.get().await.map_err(pool_error)?;
                let tx = client.transaction().await.map_err(pg_error)?;
                tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK])
                    .await
                    .map_err(pg_error)?;
                tx.batch_execute(SCHEMA).await.map_err(pg_error)?;
                tx.commit().await.map_err(pg_error)
            })
            .await?;
        self.pool.get().await.map_err(pool_error)
    }

    /// Stores `len` bytes read from `source` under `sha256`, in one transaction. What arrives
    /// is checked against `len`.
    async fn put_from(
        &self,
        sha256: &str,
        len: u64,
        source: &mut (dyn AsyncRead + Unpin + Send),
    ) -> io::Result<bool> {
        check_name(sha256)?;
        let len_sql = i64::try_from(len).map_err(|_| io::Error::other("blob too large"))?;
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_error)?;
        let inserted = tx
            .execute(
                "INSERT INTO confab_blobs (sha256, len, chunk_size) VALUES ($1, $2, $3) \
                 ON CONFLICT (sha256) DO NOTHING",
                &[&sha256, &len_sql, &(CHUNK as i32)],
            )
            .await
            .map_err(pg_error)?;
        if inserted == 0 {
            // Already stored (or just committed by a concurrent put, which this one waited for).
            return Ok(false);
        }
        let insert = tx
            .prepare_cached("INSERT INTO confab_blob_chunks (sha256, n, data) VALUES ($1, $2, $3)")
            .await
            .map_err(pg_error)?;
        let mut written: u64 = 0;
        let mut n: i32 = 0;
        let mut chunk = read_chunk(source).await?;
        while !chunk.is_empty() {
            written += chunk.len() as u64;
            if written > len {
                return Err(changed_under_us(sha256));
            }
            // The next chunk is read while this one is on its way to the server.
            let params: [&(dyn ToSql + Sync); 3] = [&sha256, &n, &chunk];
            let (sent, next) = tokio::join!(tx.execute(&insert, &params), read_chunk(source));
            sent.map_err(pg_error)?;
            chunk = next?;
            n += 1;
        }
        if written != len {
            return Err(changed_under_us(sha256));
        }
        tx.commit().await.map_err(pg_error)?;
        Ok(true)
    }

    /// Reads chunk `n` of a blob from byte `skip` of the chunk on.
    async fn chunk(&self, sha256: &str, n: i32, skip: usize) -> io::Result<Bytes> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                // substr counts from 1; reading from the middle of a chunk sends only the rest.
                "SELECT substr(data, $3) FROM confab_blob_chunks WHERE sha256 = $1 AND n = $2",
                &[&sha256, &n, &(skip as i32 + 1)],
            )
            .await
            .map_err(pg_error)?;
        match row {
            Some(row) => Ok(Bytes::from(row.get::<_, Vec<u8>>(0))),
            None => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("blob {sha256} lost chunk {n} (deleted while being read?)"),
            )),
        }
    }
}

#[async_trait]
impl BlobStore for PgBlobStore {
    async fn put_file(&self, sha256: &str, source: &Path) -> io::Result<bool> {
        check_name(sha256)?;
        let mut file = tokio::fs::File::open(source).await?;
        let len = file.metadata().await?.len();
        let put = self.put_from(sha256, len, &mut file).await?;
        // Stored (or there already): the staged copy is no longer needed.
        tokio::fs::remove_file(source).await?;
        Ok(put)
    }

    async fn put_bytes(&self, sha256: &str, bytes: Vec<u8>) -> io::Result<bool> {
        self.put_from(sha256, bytes.len() as u64, &mut &bytes[..])
            .await
    }

    async fn open(&self, sha256: &str, from: u64) -> io::Result<Option<BlobReader>> {
        check_name(sha256)?;
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT len, chunk_size FROM confab_blobs WHERE sha256 = $1",
                &[&sha256],
            )
            .await
            .map_err(pg_error)?;
        drop(client);
        let Some(row) = row else { return Ok(None) };
        let len = u64::try_from(row.get::<_, i64>(0)).map_err(io::Error::other)?;
        let chunk_size = u64::try_from(row.get::<_, i32>(1)).map_err(io::Error::other)?;
        let from = from.min(len);
        let chunks = len.div_ceil(chunk_size);
        let first = from / chunk_size;
        let skip = (from % chunk_size) as usize;

        let store = self.clone();
        let name = sha256.to_owned();
        let stream = futures_util::stream::try_unfold(first, move |n| {
            let store = store.clone();
            let name = name.clone();
            async move {
                if n >= chunks {
                    return Ok::<_, io::Error>(None);
                }
                let skip = if n == first { skip } else { 0 };
                let n_sql = i32::try_from(n).map_err(io::Error::other)?;
                let bytes = store.chunk(&name, n_sql, skip).await?;
                Ok(Some((bytes, n + 1)))
            }
        });
        Ok(Some(BlobReader {
            len,
            reader: Box::pin(tokio_util::io::StreamReader::new(stream)),
        }))
    }

    async fn len(&self, sha256: &str) -> io::Result<Option<u64>> {
        check_name(sha256)?;
        let client = self.client().await?;
        let row = client
            .query_opt("SELECT len FROM confab_blobs WHERE sha256 = $1", &[&sha256])
            .await
            .map_err(pg_error)?;
        row.map(|row| u64::try_from(row.get::<_, i64>(0)).map_err(io::Error::other))
            .transpose()
    }

    async fn delete(&self, sha256: &str) -> io::Result<bool> {
        check_name(sha256)?;
        let client = self.client().await?;
        // The chunks go with the header (ON DELETE CASCADE), in the same statement.
        let deleted = client
            .execute("DELETE FROM confab_blobs WHERE sha256 = $1", &[&sha256])
            .await
            .map_err(pg_error)?;
        Ok(deleted > 0)
    }
}

/// Up to [`CHUNK`] bytes from `source`; empty at its end.
async fn read_chunk(source: &mut (dyn AsyncRead + Unpin + Send)) -> io::Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(CHUNK);
    source.take(CHUNK as u64).read_to_end(&mut buf).await?;
    Ok(buf)
}

fn check_name(name: &str) -> io::Result<()> {
    if is_blob_name(name) {
        Ok(())
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("not a blob name: {name:?}"),
        ))
    }
}

fn changed_under_us(sha256: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("the staged file for blob {sha256} changed while it was stored"),
    )
}

/// PostgreSQL's errors name tables and constraints, never the password.
fn pg_error(err: tokio_postgres::Error) -> io::Error {
    io::Error::other(format!("blob store: {err}"))
}

fn pool_error(err: deadpool_postgres::PoolError) -> io::Error {
    io::Error::other(format!("blob store: {err}"))
}

#[cfg(test)]
mod tests;
