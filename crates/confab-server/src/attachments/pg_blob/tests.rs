//! [`PgBlobStore`] against the machine's PostgreSQL (`CONFAB_TEST_POSTGRES`, default
//! `postgres://postgres@127.0.0.1:5432/test`), each test in a fresh schema dropped at its end.

use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;
use tokio_postgres::NoTls;

use super::*;

const NAME: &str = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
/// Every test finishes in this or fails.
const BOUND: Duration = Duration::from_secs(120);

fn base_url() -> String {
    std::env::var("CONFAB_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// A schema of its own for one test.
struct Scratch {
    admin: tokio_postgres::Client,
    schema: String,
}

impl Scratch {
    async fn new() -> Self {
        let (admin, connection) = tokio_postgres::connect(&base_url(), NoTls)
            .await
            .expect("PostgreSQL at CONFAB_TEST_POSTGRES (default 127.0.0.1:5432, database test)");
        tokio::spawn(connection);
        let mut random = [0u8; 8];
        getrandom::fill(&mut random).unwrap();
        let schema = format!(
            "confab_test_blob_{}",
            random
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        );
        admin
            .batch_execute(&format!("CREATE SCHEMA {schema}"))
            .await
            .unwrap();
        Self { admin, schema }
    }

    /// A store with its own pool, in this schema.
    fn store(&self) -> PgBlobStore {
        let mut config = tokio_postgres::Config::from_str(&base_url()).unwrap();
        config.options(format!("-c search_path={}", self.schema));
        PgBlobStore::with_config(config).unwrap()
    }

    /// The same schema given in a URL, as an operator would.
    fn url(&self) -> String {
        format!("{}?options=-csearch_path%3D{}", base_url(), self.schema)
    }

    async fn chunk_rows(&self, sha256: &str) -> i64 {
        self.admin
            .query_one(
                &format!(
                    "SELECT count(*) FROM {}.confab_blob_chunks WHERE sha256 = $1",
                    self.schema
                ),
                &[&sha256],
            )
            .await
            .unwrap()
            .get(0)
    }
}

/// Drops a test's schema, also when the test failed: on a thread of its own with a runtime of
/// its own, since the test's runtime may be going away.
fn drop_schema(schema: &str) {
    let schema = schema.to_owned();
    let dropped = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .ok()?;
        runtime.block_on(async {
            let url = base_url();
            let connect = tokio_postgres::connect(&url, NoTls);
            let (client, connection) = tokio::time::timeout(Duration::from_secs(10), connect)
                .await
                .ok()?
                .ok()?;
            tokio::spawn(connection);
            let sql = format!("DROP SCHEMA IF EXISTS {schema} CASCADE");
            tokio::time::timeout(Duration::from_secs(10), client.batch_execute(&sql))
                .await
                .ok()?
                .ok()
        })
    })
    .join();
    if !matches!(dropped, Ok(Some(()))) {
        eprintln!("could not drop the test schema");
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        drop_schema(&self.schema);
    }
}

fn sha_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Bytes that differ from chunk to chunk, so a chunk read out of order shows.
fn pattern(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u64).wrapping_mul(2_654_435_761).rotate_right(13) as u8)
        .collect()
}

async fn read_all(store: &PgBlobStore, sha256: &str, from: u64) -> (u64, Vec<u8>) {
    let mut blob = store.open(sha256, from).await.unwrap().expect("a blob");
    let mut bytes = Vec::new();
    blob.reader.read_to_end(&mut bytes).await.unwrap();
    (blob.len, bytes)
}

async fn bounded<F: std::future::Future<Output = ()>>(test: F) {
    tokio::time::timeout(BOUND, test)
        .await
        .expect("the test finished in time");
}

#[tokio::test]
async fn puts_opens_ranges_and_deletes() {
    bounded(async {
        let scratch = Scratch::new().await;
        let store = scratch.store();
        assert!(!store.exists(NAME).await.unwrap());
        assert!(store.open(NAME, 0).await.unwrap().is_none());
        assert_eq!(store.len(NAME).await.unwrap(), None);
        assert!(!store.delete(NAME).await.unwrap());

        let dir = tempfile::tempdir().unwrap();
        let staged = dir.path().join("staged");
        std::fs::write(&staged, b"hello").unwrap();
        assert!(store.put_file(NAME, &staged).await.unwrap());
        assert!(!staged.exists(), "the staged file is taken");
        std::fs::write(&staged, b"hello").unwrap();
        assert!(
            !store.put_file(NAME, &staged).await.unwrap(),
            "deduplicated"
        );
        assert!(!staged.exists());
        assert!(!store.put_bytes(NAME, b"hello".to_vec()).await.unwrap());

        assert!(store.exists(NAME).await.unwrap());
        assert_eq!(store.len(NAME).await.unwrap(), Some(5));
        assert_eq!(read_all(&store, NAME, 0).await, (5, b"hello".to_vec()));
        assert_eq!(read_all(&store, NAME, 2).await, (5, b"llo".to_vec()));
        assert_eq!(read_all(&store, NAME, 5).await, (5, Vec::new()));
        assert_eq!(read_all(&store, NAME, 99).await, (5, Vec::new()));

        assert!(store.delete(NAME).await.unwrap());
        assert!(!store.delete(NAME).await.unwrap());
        assert!(!store.exists(NAME).await.unwrap());
        assert_eq!(scratch.chunk_rows(NAME).await, 0, "the chunks went too");

        let empty = sha_hex(b"");
        assert!(store.put_bytes(&empty, Vec::new()).await.unwrap());
        assert_eq!(read_all(&store, &empty, 0).await, (0, Vec::new()));
        drop(scratch);
    })
    .await;
}

#[tokio::test]
async fn ranged_opens_read_only_from_the_chunk_they_need() {
    bounded(async {
        let scratch = Scratch::new().await;
        let store = scratch.store();
        let bytes = pattern(3 * CHUNK + 100);
        let sha = sha_hex(&bytes);
        assert!(store.put_bytes(&sha, bytes.clone()).await.unwrap());
        assert_eq!(scratch.chunk_rows(&sha).await, 4);
        for from in [
            0,
            1,
            CHUNK - 1,
            CHUNK,
            CHUNK + 1,
            2 * CHUNK + 7,
            3 * CHUNK,
            bytes.len() - 1,
        ] {
            let (len, got) = read_all(&store, &sha, from as u64).await;
            assert_eq!(len, bytes.len() as u64);
            assert!(got == bytes[from..], "from {from}");
        }
        drop(scratch);
    })
    .await;
}

#[tokio::test]
async fn a_24_mib_blob_round_trips_through_a_staged_file() {
    bounded(async {
        let scratch = Scratch::new().await;
        let store = scratch.store();
        let dir = tempfile::tempdir().unwrap();
        let staged = dir.path().join("big");
        let bytes = pattern(24 * 1024 * 1024);
        let sha = sha_hex(&bytes);
        std::fs::write(&staged, &bytes).unwrap();
        drop(bytes);

        assert!(store.put_file(&sha, &staged).await.unwrap());
        assert!(!staged.exists());
        assert_eq!(scratch.chunk_rows(&sha).await, 96);
        assert_eq!(store.len(&sha).await.unwrap(), Some(24 * 1024 * 1024));

        // Read back in small pieces, hashed as they come: never the whole blob in memory.
        let mut blob = store.open(&sha, 0).await.unwrap().unwrap();
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 64 * 1024];
        let mut total = 0u64;
        loop {
            let n = blob.reader.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            total += n as u64;
        }
        assert_eq!(total, blob.len);
        let got: String = hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(got, sha);

        let tail = 24 * 1024 * 1024 - 1000;
        let (_, end) = read_all(&store, &sha, tail).await;
        assert_eq!(end, pattern(24 * 1024 * 1024)[tail as usize..]);
        assert!(store.delete(&sha).await.unwrap());
        assert_eq!(scratch.chunk_rows(&sha).await, 0);
        drop(scratch);
    })
    .await;
}

#[tokio::test]
async fn concurrent_puts_of_one_hash_from_two_stores_store_it_once() {
    bounded(async {
        let scratch = Scratch::new().await;
        // Two pools, as two nodes would have; neither has made the tables yet.
        let (a, b) = (scratch.store(), scratch.store());
        let dir = tempfile::tempdir().unwrap();
        let bytes = pattern(2 * 1024 * 1024 + 3);
        let sha = sha_hex(&bytes);
        for round in 0..3 {
            let (one, two) = (dir.path().join("one"), dir.path().join("two"));
            std::fs::write(&one, &bytes).unwrap();
            std::fs::write(&two, &bytes).unwrap();
            let (put_a, put_b) = tokio::join!(a.put_file(&sha, &one), b.put_file(&sha, &two));
            let new = [put_a.unwrap(), put_b.unwrap()];
            assert_eq!(
                new.iter().filter(|n| **n).count(),
                1,
                "round {round}: {new:?}"
            );
            assert!(!one.exists() && !two.exists());
            assert_eq!(scratch.chunk_rows(&sha).await, 9);
            assert!(read_all(&b, &sha, 0).await.1 == bytes);
            assert!(a.delete(&sha).await.unwrap());
        }
        drop(scratch);
    })
    .await;
}

#[tokio::test]
async fn a_blob_deleted_while_read_is_an_error_not_a_short_read() {
    bounded(async {
        let scratch = Scratch::new().await;
        let store = scratch.store();
        let bytes = pattern(2 * CHUNK);
        let sha = sha_hex(&bytes);
        store.put_bytes(&sha, bytes).await.unwrap();
        let mut blob = store.open(&sha, 0).await.unwrap().unwrap();
        let mut first = vec![0u8; CHUNK];
        blob.reader.read_exact(&mut first).await.unwrap();
        store.delete(&sha).await.unwrap();
        let mut rest = Vec::new();
        let err = blob.reader.read_to_end(&mut rest).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        drop(scratch);
    })
    .await;
}

#[tokio::test]
async fn bad_names_and_urls_are_errors() {
    bounded(async {
        let scratch = Scratch::new().await;
        let store = scratch.store();
        for name in ["../../etc/passwd", "", &NAME.to_uppercase(), &NAME[1..]] {
            assert!(store.open(name, 0).await.is_err(), "{name}");
            assert!(store.delete(name).await.is_err(), "{name}");
            assert!(
                store.put_bytes(name, b"x".to_vec()).await.is_err(),
                "{name}"
            );
        }
        let err = PgBlobStore::connect("postgres://u:s3cret@host:notaport/db").unwrap_err();
        assert!(!err.to_string().contains("s3cret"), "{err}");
        // Nothing listens there: the first use fails, in bounded time, with no panic.
        let nowhere = PgBlobStore::connect("postgres://postgres@127.0.0.1:9/test").unwrap();
        assert!(nowhere.len(NAME).await.is_err());
        drop(scratch);
    })
    .await;
}

#[tokio::test]
async fn attachments_open_uses_the_configured_store() {
    bounded(async {
        let scratch = Scratch::new().await;
        let dir = tempfile::tempdir().unwrap();
        let limits = crate::config::AttachmentLimits {
            blob_store: Some(crate::config::BlobStoreUrl::parse(&scratch.url()).unwrap()),
            ..Default::default()
        };
        let attachments = crate::attachments::Attachments::open(dir.path(), &limits).unwrap();
        assert!(attachments
            .blobs
            .put_bytes(NAME, b"hello".to_vec())
            .await
            .unwrap());
        // Another node's store on the same database sees it.
        assert_eq!(read_all(&scratch.store(), NAME, 1).await.1, b"ello");
        assert!(
            !dir.path().join("blobs/2c").join(NAME).exists(),
            "not on disk"
        );
        assert!(dir.path().join("blobs/tmp").is_dir(), "staging stays local");
        drop(scratch);
    })
    .await;
}
