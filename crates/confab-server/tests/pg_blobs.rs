//! Attachments kept in PostgreSQL (`[attachments] blob_store`) through the real server: an
//! upload, ranged downloads across chunk boundaries and a thumbnail, with no blob on the local
//! disk. Uses the machine's PostgreSQL (`CONFAB_TEST_POSTGRES`, default
//! `postgres://postgres@127.0.0.1:5432/test`) in a fresh schema, dropped at the end.

mod common;

use std::io::Cursor;

use common::{read_reply, Reply, TestServer};
use confab_server::config::BlobStoreUrl;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

fn base_url() -> String {
    std::env::var("CONFAB_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

async fn get(server: &TestServer, path: &str, token: &str, range: Option<&str>) -> Reply {
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let range = range.map_or(String::new(), |r| format!("Range: {r}\r\n"));
    let head = format!(
        "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nAuthorization: Bearer {token}\r\n{range}\r\n",
        server.addr
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    read_reply(&mut stream).await
}

fn png(width: u32, height: u32) -> Vec<u8> {
    let picture = image::RgbImage::from_fn(width, height, |x, y| {
        let mut h = (u64::from(y) << 32 | u64::from(x)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        h ^= h >> 29;
        let [r, g, b, ..] = h.to_le_bytes();
        image::Rgb([r, g, b])
    });
    let mut out = Cursor::new(Vec::new());
    picture.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// Drops the test's schema when dropped, also when the test failed (on a thread with a runtime
/// of its own: the test's may be going away).
struct DropSchema(String);

impl Drop for DropSchema {
    fn drop(&mut self) {
        let sql = format!("DROP SCHEMA IF EXISTS {} CASCADE", self.0);
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                let wait = std::time::Duration::from_secs(10);
                let url = base_url();
                let connect = tokio_postgres::connect(&url, tokio_postgres::NoTls);
                let (client, connection) = tokio::time::timeout(wait, connect).await.ok()?.ok()?;
                tokio::spawn(connection);
                tokio::time::timeout(wait, client.batch_execute(&sql))
                    .await
                    .ok()?
                    .ok()
            })
        })
        .join();
    }
}

/// Files under the data dir's blob directory, staging left out.
fn local_blobs(server: &TestServer) -> usize {
    let root = server.dir.join("blobs");
    let Ok(shards) = std::fs::read_dir(&root) else {
        return 0;
    };
    shards
        .flatten()
        .filter(|shard| shard.file_name() != "tmp")
        .map(|shard| std::fs::read_dir(shard.path()).map_or(0, |d| d.count()))
        .sum()
}

#[tokio::test]
async fn uploads_are_kept_in_postgres_and_served_with_ranges() {
    let (admin, connection) = tokio_postgres::connect(&base_url(), tokio_postgres::NoTls)
        .await
        .expect("PostgreSQL at CONFAB_TEST_POSTGRES");
    tokio::spawn(connection);
    let mut random = [0u8; 8];
    getrandom::fill(&mut random).unwrap();
    let schema = format!(
        "confab_test_blobs_{}",
        random
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    admin
        .batch_execute(&format!("CREATE SCHEMA {schema}"))
        .await
        .unwrap();
    let _drop_schema = DropSchema(schema.clone());
    let url = format!("{}?options=-csearch_path%3D{schema}", base_url());

    let server = TestServer::start_with(|config| {
        config.attachments.blob_store = Some(BlobStoreUrl::parse(&url).unwrap());
    })
    .await;
    let token = server.register("alice").await;

    // Noise compresses badly, so the PNG spans several 256 KiB chunks.
    let bytes = png(640, 480);
    assert!(bytes.len() > 600 * 1024, "{}", bytes.len());
    let reply = common::upload(server.addr, &token, "big.png", &bytes).await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    let info = reply.json();
    let path = info["url"].as_str().unwrap().to_owned();

    let full = get(&server, &path, &token, None).await;
    assert_eq!((full.status, full.body == bytes), (200, true));
    let len = bytes.len();
    let boundary = 256 * 1024;
    for (start, end) in [
        (0, 9),
        (boundary - 10, boundary + 10),
        (2 * boundary, len - 1),
        (len - 16, len - 1),
    ] {
        let range = format!("bytes={start}-{end}");
        let part = get(&server, &path, &token, Some(&range)).await;
        assert_eq!(part.status, 206, "{range}");
        assert_eq!(
            part.header("content-range"),
            Some(format!("bytes {start}-{end}/{len}").as_str())
        );
        assert!(part.body == bytes[start..=end], "{range}");
    }

    let thumb = get(&server, &format!("{path}/thumbnail"), &token, None).await;
    assert_eq!(thumb.status, 200);
    let small = image::load_from_memory(&thumb.body).unwrap();
    assert_eq!((small.width(), small.height()), (320, 240));

    assert_eq!(local_blobs(&server), 0, "no blob on the local disk");
    let stored: i64 = admin
        .query_one(&format!("SELECT count(*) FROM {schema}.confab_blobs"), &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(stored, 2, "the picture and its thumbnail");
    server.stop().await;
}
