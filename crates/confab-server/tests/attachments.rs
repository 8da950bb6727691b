//! Attachments against the real server: uploads over HTTP with real bytes (a PNG, a WAV, text,
//! HTML, SVG), downloads with ranges and their headers, thumbnails, limits, clean-up after
//! failures, who may read, and collection of unused uploads.

mod common;

use std::io::Cursor;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{read_reply, Reply, TestServer};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn request_head(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, String)]) -> String {
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    head
}

/// One request with a body of raw bytes (Content-Length set from it).
async fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    mut headers: Vec<(&str, String)>,
    body: &[u8],
) -> Reply {
    if method == "POST" {
        headers.push(("Content-Length", body.len().to_string()));
    }
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(request_head(addr, method, path, &headers).as_bytes())
        .await
        .unwrap();
    stream.write_all(body).await.unwrap();
    read_reply(&mut stream).await
}

fn bearer(token: &str) -> (&'static str, String) {
    ("Authorization", format!("Bearer {token}"))
}

async fn upload(server: &TestServer, token: &str, name: &str, bytes: &[u8]) -> Reply {
    upload_typed(server, token, name, bytes, "application/octet-stream").await
}

/// Uploads with a given (ignored) Content-Type.
async fn upload_typed(
    server: &TestServer,
    token: &str,
    name: &str,
    bytes: &[u8],
    content_type: &str,
) -> Reply {
    let path = format!("/api/v1/attachments?name={}", encode(name));
    let headers = vec![bearer(token), ("Content-Type", content_type.to_owned())];
    send(server.addr, "POST", &path, headers, bytes).await
}

/// Uploads and returns the `AttachmentInfo`, asserting 201.
async fn uploaded(server: &TestServer, token: &str, name: &str, bytes: &[u8]) -> Value {
    let reply = upload(server, token, name, bytes).await;
    assert_eq!(
        reply.status,
        201,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    reply.json()
}

async fn get(
    server: &TestServer,
    path: &str,
    token: Option<&str>,
    extra: &[(&str, &str)],
) -> Reply {
    let mut headers: Vec<(&str, String)> = token.map(bearer).into_iter().collect();
    headers.extend(extra.iter().map(|(n, v)| (*n, (*v).to_owned())));
    send(server.addr, "GET", path, headers, b"").await
}

/// Percent-encodes a query value.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn png(width: u32, height: u32) -> Vec<u8> {
    let picture = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x % 251) as u8, (y % 241) as u8, ((x + y) % 239) as u8])
    });
    let mut out = Cursor::new(Vec::new());
    picture.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// A real WAV file: a RIFF header and `samples` 16-bit mono PCM samples at 8 kHz.
fn wav(samples: usize) -> Vec<u8> {
    let data_len = (samples * 2) as u32;
    let mut bytes = Vec::new();
    bytes.extend_from_slice(b"RIFF");
    bytes.extend_from_slice(&(36 + data_len).to_le_bytes());
    bytes.extend_from_slice(b"WAVEfmt ");
    bytes.extend_from_slice(&16u32.to_le_bytes());
    bytes.extend_from_slice(&1u16.to_le_bytes()); // PCM
    bytes.extend_from_slice(&1u16.to_le_bytes()); // mono
    bytes.extend_from_slice(&8000u32.to_le_bytes());
    bytes.extend_from_slice(&16000u32.to_le_bytes());
    bytes.extend_from_slice(&2u16.to_le_bytes());
    bytes.extend_from_slice(&16u16.to_le_bytes());
    bytes.extend_from_slice(b"data");
    bytes.extend_from_slice(&data_len.to_le_bytes());
    for i in 0..samples {
        let sample = ((i as f64 * 0.2).sin() * 12_000.0) as i16;
        bytes.extend_from_slice(&sample.to_le_bytes());
    }
    bytes
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files_under(&path));
        } else {
            found.push(path);
        }
    }
    found
}

fn blobs_dir(server: &TestServer) -> PathBuf {
    server.dir.join("blobs")
}

fn staging_dir(server: &TestServer) -> PathBuf {
    blobs_dir(server).join("tmp")
}

fn blob_path(server: &TestServer, sha: &str) -> PathBuf {
    blobs_dir(server).join(&sha[..2]).join(sha)
}

/// Waits (bounded) until `done` holds.
async fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while !done() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting: {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Runs one SQL statement on the server's database (for references other areas make).
fn sql(server: &TestServer, statement: &str, params: &[&dyn rusqlite::ToSql]) -> usize {
    let conn = rusqlite::Connection::open(server.dir.join("confab.db")).unwrap();
    conn.busy_timeout(Duration::from_secs(5)).unwrap();
    conn.execute(statement, params).unwrap()
}

fn assert_safe_headers(reply: &Reply) {
    assert_eq!(reply.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(
        reply.header("content-security-policy"),
        Some("default-src 'none'; sandbox")
    );
    let content_type = reply.header("content-type").unwrap_or("");
    assert!(
        !content_type.contains("html") && !content_type.contains("svg"),
        "{content_type}"
    );
}

#[tokio::test]
async fn png_upload_reports_dimensions_and_has_a_thumbnail() {
    let server = TestServer::start().await;
    let token = server.register("alice").await;
    let bytes = png(640, 320);
    let info = uploaded(&server, &token, "holiday.png", &bytes).await;
    let id = info["id"].as_str().unwrap().to_owned();
    assert_eq!(
        info,
        json!({
            "id": id, "kind": "image", "name": "holiday.png", "mime": "image/png",
            "size": bytes.len(), "width": 640, "height": 320,
            "url": format!("/api/v1/attachments/{id}"),
            "thumbnail_url": format!("/api/v1/attachments/{id}/thumbnail"),
        })
    );
    let sha = sha256_hex(&bytes);
    assert_eq!(std::fs::read(blob_path(&server, &sha)).unwrap(), bytes);

    let reply = get(
        &server,
        &format!("/api/v1/attachments/{id}"),
        Some(&token),
        &[],
    )
    .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body, bytes);
    assert_safe_headers(&reply);
    assert_eq!(reply.header("content-type"), Some("image/png"));
    assert_eq!(
        reply.header("content-disposition"),
        Some("inline; filename=\"holiday.png\"; filename*=UTF-8''holiday.png")
    );
    assert_eq!(reply.header("etag"), Some(format!("\"{sha}\"").as_str()));
    assert_eq!(reply.header("accept-ranges"), Some("bytes"));
    assert_eq!(
        reply.header("cache-control"),
        Some("private, max-age=86400")
    );
    assert_eq!(
        reply.header("content-length"),
        Some(bytes.len().to_string().as_str())
    );

    let etag = format!("\"{sha}\"");
    let cached = get(
        &server,
        &format!("/api/v1/attachments/{id}"),
        Some(&token),
        &[("If-None-Match", &etag)],
    )
    .await;
    assert_eq!(cached.status, 304);
    assert!(cached.body.is_empty());
    assert_eq!(cached.header("etag"), Some(etag.as_str()));

    let thumb = get(
        &server,
        &format!("/api/v1/attachments/{id}/thumbnail"),
        Some(&token),
        &[],
    )
    .await;
    assert_eq!(thumb.status, 200);
    assert_safe_headers(&thumb);
    assert_eq!(thumb.header("content-type"), Some("image/jpeg"));
    let small = image::load_from_memory(&thumb.body).unwrap();
    assert_eq!((small.width(), small.height()), (320, 160));
    assert!(blob_path(&server, &sha256_hex(&thumb.body)).exists());

    let about = get(
        &server,
        &format!("/api/v1/attachments/{id}/info"),
        Some(&token),
        &[],
    )
    .await;
    assert_eq!((about.status, about.json()), (200, info));
    server.stop().await;
}

#[tokio::test]
async fn audio_is_served_inline_with_ranges() {
    let server = TestServer::start().await;
    let token = server.register("alice").await;
    let bytes = wav(4000);
    let len = bytes.len();
    let info = uploaded(&server, &token, "voice note.wav", &bytes).await;
    assert_eq!(info["kind"], "audio");
    assert_eq!(info["mime"], "audio/wav");
    assert!(
        info.get("width").is_none() && info.get("thumbnail_url").is_none(),
        "{info}"
    );
    let path = info["url"].as_str().unwrap().to_owned();

    let full = get(&server, &path, Some(&token), &[]).await;
    assert_eq!((full.status, full.body == bytes), (200, true));
    assert_eq!(full.header("content-type"), Some("audio/wav"));
    assert!(full
        .header("content-disposition")
        .unwrap()
        .starts_with("inline;"));
    assert_eq!(full.header("accept-ranges"), Some("bytes"));

    for (range, start, end) in [
        ("bytes=0-9", 0, 9),
        ("bytes=44-1043", 44, 1043),
        ("bytes=7000-", 7000, len - 1),
        ("bytes=-16", len - 16, len - 1),
        ("bytes=7990-100000", 7990, len - 1),
    ] {
        let part = get(&server, &path, Some(&token), &[("Range", range)]).await;
        assert_eq!(part.status, 206, "{range}");
        assert_eq!(
            part.header("content-range"),
            Some(format!("bytes {start}-{end}/{len}").as_str()),
            "{range}"
        );
        assert_eq!(part.body, bytes[start..=end], "{range}");
        assert_safe_headers(&part);
    }

    for range in [
        format!("bytes={len}-"),
        format!("bytes={}-{}", len + 5, len + 10),
        "bytes=-0".into(),
    ] {
        let refused = get(&server, &path, Some(&token), &[("Range", &range)]).await;
        assert_eq!(refused.status, 416, "{range}");
        assert_eq!(
            refused.header("content-range"),
            Some(format!("bytes */{len}").as_str())
        );
    }

    // Several ranges are answered with the whole body; so is a range for another version.
    let several = get(&server, &path, Some(&token), &[("Range", "bytes=0-1,5-6")]).await;
    assert_eq!((several.status, several.body.len()), (200, len));
    let stale = get(
        &server,
        &path,
        Some(&token),
        &[("Range", "bytes=0-1"), ("If-Range", "\"another\"")],
    )
    .await;
    assert_eq!((stale.status, stale.body.len()), (200, len));

    let none = get(&server, &format!("{path}/thumbnail"), Some(&token), &[]).await;
    assert_eq!(
        (none.status, none.json()["code"].as_str()),
        (404, Some("not_found"))
    );
    server.stop().await;
}

#[tokio::test]
async fn files_markup_and_fake_pictures_download_as_opaque_attachments() {
    let server = TestServer::start().await;
    let token = server.register("alice").await;
    let cases: &[(&str, &[u8], &str, &str)] = &[
        ("notes.txt", b"just some notes\n", "text/plain", "application/octet-stream"),
        (
            "page.html",
            b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>",
            "text/html",
            "application/octet-stream",
        ),
        (
            "logo.svg",
            b"<svg xmlns=\"http://www.w3.org/2000/svg\" onload=\"alert(1)\"><circle r=\"5\"/></svg>",
            "image/svg+xml",
            "application/octet-stream",
        ),
        (
            "drawing.svg",
            b"<?xml version=\"1.0\"?><svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>",
            "image/svg+xml",
            "application/octet-stream",
        ),
        ("fake.png", b"\x89PNG\r\n\x1a\nthis is no picture at all", "image/png", "application/octet-stream"),
        ("paper.pdf", b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n", "application/pdf", "application/pdf"),
    ];
    for (name, bytes, claimed, served) in cases {
        let reply = upload_typed(&server, &token, name, bytes, claimed).await;
        assert_eq!(reply.status, 201, "{name}");
        let info = reply.json();
        assert_eq!(info["kind"], "file", "{name}: {info}");
        assert_eq!(info["mime"], *served, "{name}");
        assert!(info.get("thumbnail_url").is_none(), "{name}");
        let download = get(&server, info["url"].as_str().unwrap(), Some(&token), &[]).await;
        assert_eq!(download.status, 200, "{name}");
        assert_eq!(download.body, *bytes, "{name}");
        assert_safe_headers(&download);
        assert_eq!(download.header("content-type"), Some(*served), "{name}");
        assert_eq!(
            download.header("content-disposition"),
            Some(format!("attachment; filename=\"{name}\"; filename*=UTF-8''{name}").as_str()),
            "{name}"
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn file_names_are_cleaned_of_paths() {
    let server = TestServer::start().await;
    let token = server.register("alice").await;
    for (raw, clean) in [
        ("../../../etc/passwd", "passwd"),
        ("..\\..\\Windows\\System32\\evil.dll", "evil.dll"),
        ("/absolute/path/.hidden", "hidden"),
        ("..", "file"),
        ("bad\u{0}\r\nname.txt", "badname.txt"),
        ("résumé 2025.txt", "résumé 2025.txt"),
    ] {
        let info = uploaded(&server, &token, raw, raw.as_bytes()).await;
        assert_eq!(info["name"], clean, "{raw:?}");
    }
    let reply = send(
        server.addr,
        "POST",
        "/api/v1/attachments",
        vec![bearer(&token)],
        b"no name given",
    )
    .await;
    assert_eq!(
        (reply.status, reply.json()["name"].as_str()),
        (201, Some("file"))
    );
    // Nothing was written outside the blob store.
    let outside: Vec<_> = files_under(&server.dir)
        .into_iter()
        .filter(|p| {
            let name = p.file_name().unwrap_or_default().to_string_lossy();
            !p.starts_with(blobs_dir(&server))
                && !name.starts_with("confab.db")
                && !name.starts_with("search.db")
        })
        .collect();
    assert!(outside.is_empty(), "{outside:?}");
    server.stop().await;
}

#[tokio::test]
async fn oversize_uploads_get_413_and_leave_nothing() {
    const MAX: usize = 64 * 1024;
    let server = TestServer::start_with(|c| c.attachments.max_bytes = MAX as u64).await;
    let token = server.register("alice").await;

    // Declared too large: refused from the headers, before a byte of the body.
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let head = request_head(
        server.addr,
        "POST",
        "/api/v1/attachments?name=big.bin",
        &[bearer(&token), ("Content-Length", (MAX + 1).to_string())],
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let reply = read_reply(&mut stream).await;
    assert_eq!(
        (reply.status, reply.json()["code"].as_str()),
        (413, Some("too_large"))
    );

    // Not declared (chunked): cut off once past the limit.
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let head = request_head(
        server.addr,
        "POST",
        "/api/v1/attachments?name=big.bin",
        &[bearer(&token), ("Transfer-Encoding", "chunked".into())],
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream
        .write_all(format!("{:x}\r\n", MAX + 1).as_bytes())
        .await
        .unwrap();
    // The chunk's end and the last chunk are never sent: everything sent is read.
    stream.write_all(&vec![7u8; MAX + 1]).await.unwrap();
    let reply = read_reply(&mut stream).await;
    assert_eq!(
        (reply.status, reply.json()["code"].as_str()),
        (413, Some("too_large"))
    );

    wait_for("no staged file", || {
        files_under(&staging_dir(&server)).is_empty()
    })
    .await;
    assert!(files_under(&blobs_dir(&server)).is_empty());

    // Exactly the limit is fine.
    let info = uploaded(&server, &token, "max.bin", &vec![9u8; MAX]).await;
    assert_eq!(info["size"], MAX);
    server.stop().await;
}

/// Starts an upload declaring `declared` bytes, sends `sent` of them, and waits until the
/// server is writing it to the staging directory.
async fn start_upload(server: &TestServer, token: &str, declared: usize, sent: usize) -> TcpStream {
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let head = request_head(
        server.addr,
        "POST",
        "/api/v1/attachments?name=partial.bin",
        &[bearer(token), ("Content-Length", declared.to_string())],
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&vec![1u8; sent]).await.unwrap();
    stream.flush().await.unwrap();
    wait_for("a staged file", || {
        !files_under(&staging_dir(server)).is_empty()
    })
    .await;
    stream
}

#[tokio::test]
async fn uploads_that_break_off_leave_nothing() {
    let server = TestServer::start().await;
    let token = server.register("alice").await;

    // The body is shorter than its Content-Length said: the client stops sending.
    let mut lie = start_upload(&server, &token, 1_000_000, 200_000).await;
    lie.shutdown().await.unwrap();
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(common::WAIT, lie.read_to_end(&mut rest)).await;
    wait_for("the lie's staged file removed", || {
        files_under(&staging_dir(&server)).is_empty()
    })
    .await;

    // The client goes away mid-upload.
    let aborted = start_upload(&server, &token, 1_000_000, 300_000).await;
    drop(aborted);
    wait_for("the abort's staged file removed", || {
        files_under(&staging_dir(&server)).is_empty()
    })
    .await;
    assert!(files_under(&blobs_dir(&server)).is_empty());
    server.stop().await;
}

#[tokio::test]
async fn a_user_streams_a_bounded_number_of_uploads_at_once() {
    let server = TestServer::start_with(|c| c.attachments.max_concurrent_uploads = 1).await;
    let alice = server.register("alice").await;
    let bob = server.register("bob").await;
    let first = start_upload(&server, &alice, 100_000, 10_000).await;
    let second = upload(&server, &alice, "second.bin", b"second").await;
    assert_eq!(
        (second.status, second.json()["code"].as_str()),
        (429, Some("rate_limited"))
    );
    // Another user is not held up.
    uploaded(&server, &bob, "bobs.bin", b"bob's").await;
    drop(first);
    wait_for("the first upload ended", || {
        files_under(&staging_dir(&server)).is_empty()
    })
    .await;
    // The slot is free again once the first upload ended.
    let mut tries = 0;
    loop {
        let again = upload(&server, &alice, "again.bin", b"again").await;
        if again.status == 201 {
            break;
        }
        tries += 1;
        assert!(tries < 100, "slot never freed: {}", again.status);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.stop().await;
}

#[tokio::test]
async fn only_the_uploader_reads_an_unposted_upload() {
    let server = TestServer::start().await;
    let alice = server.register("alice").await;
    let bob = server.register("bob").await;
    let info = uploaded(&server, &alice, "secret.png", &png(20, 10)).await;
    let id = info["id"].as_str().unwrap();
    let forged = "01JXB3K8Q4M6Z9T2V5N7R1C3DE";
    for path in [
        format!("/api/v1/attachments/{id}"),
        format!("/api/v1/attachments/{id}/thumbnail"),
        format!("/api/v1/attachments/{id}/info"),
    ] {
        let reply = get(&server, &path, Some(&bob), &[]).await;
        assert_eq!(
            (reply.status, reply.json()["code"].as_str()),
            (404, Some("not_found")),
            "{path}"
        );
        assert_eq!(reply.json()["message"], format!("no attachment {id}"));
        let reply = get(&server, &path, None, &[]).await;
        assert_eq!(
            (reply.status, reply.json()["code"].as_str()),
            (401, Some("unauthorized"))
        );
        let reply = get(&server, &path, Some("not-a-token"), &[]).await;
        assert_eq!(reply.status, 401);
        // `?token=` works, as an <img src> needs.
        let reply = get(&server, &format!("{path}?token={alice}"), None, &[]).await;
        assert_eq!(reply.status, 200, "{path}");
    }
    for id in [forged, "..%2F..%2Fconfab.db", "x"] {
        let reply = get(
            &server,
            &format!("/api/v1/attachments/{id}"),
            Some(&alice),
            &[],
        )
        .await;
        assert_eq!(
            (reply.status, reply.json()["code"].as_str()),
            (404, Some("not_found"))
        );
    }
    let reply = send(
        server.addr,
        "POST",
        "/api/v1/attachments?name=a",
        vec![],
        b"x",
    )
    .await;
    assert_eq!(reply.status, 401);
    let reply = upload(&server, &alice, "empty.bin", b"").await;
    assert_eq!(
        (reply.status, reply.json()["code"].as_str()),
        (400, Some("bad_request"))
    );
    server.stop().await;
}

#[tokio::test]
async fn members_read_what_a_live_message_carries_and_anyone_reads_an_avatar() {
    let server = TestServer::start().await;
    let (alice, mut alice_ws) = server.user("alice").await;
    let bob = server.register("bob").await;
    let carol = server.register("carol").await;
    let info = uploaded(&server, &alice, "for-bob.wav", &wav(100)).await;
    let id = info["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/attachments/{id}");
    assert_eq!(get(&server, &path, Some(&bob), &[]).await.status, 404);

    // The lead's message path sets messages.attachment_id; here it is set by hand on a real
    // direct message from alice to bob.
    let ack = alice_ws.say("bob", "listen to this").await;
    assert_eq!(ack["type"], "ack", "{ack}");
    let message = ack["id"].as_str().unwrap().to_owned();
    let set = "UPDATE messages SET attachment_id = ?1 WHERE id = ?2";
    assert_eq!(sql(&server, set, &[&id, &message]), 1);
    assert_eq!(get(&server, &path, Some(&bob), &[]).await.status, 200);
    assert_eq!(
        get(&server, &format!("{path}/info"), Some(&bob), &[])
            .await
            .json(),
        info
    );
    assert_eq!(get(&server, &path, Some(&carol), &[]).await.status, 404);

    // Deleted: only the uploader still reads it.
    sql(
        &server,
        "UPDATE messages SET deleted_ms = 1 WHERE id = ?1",
        &[&message],
    );
    assert_eq!(get(&server, &path, Some(&bob), &[]).await.status, 404);
    assert_eq!(get(&server, &path, Some(&alice), &[]).await.status, 200);

    // An avatar is for everyone logged in.
    sql(
        &server,
        "UPDATE users SET avatar_id = ?1 WHERE username = 'alice'",
        &[&id],
    );
    assert_eq!(get(&server, &path, Some(&carol), &[]).await.status, 200);
    assert_eq!(get(&server, &path, None, &[]).await.status, 401);
    server.stop().await;
}

#[tokio::test]
async fn the_collector_removes_unused_uploads_and_keeps_used_ones() {
    let server = TestServer::start_with(|c| {
        c.attachments.unposted_ttl_secs = 3;
        c.attachments.gc_interval_secs = 1;
    })
    .await;
    let (alice, mut alice_ws) = server.user("alice").await;
    let bob = server.register("bob").await;
    let unused = uploaded(&server, &alice, "unused.bin", b"nobody wants this").await;
    let avatar = uploaded(&server, &alice, "me.png", &png(8, 8)).await;
    let posted = uploaded(&server, &alice, "posted.bin", b"look at this").await;
    // The same bytes as the avatar, uploaded again and never used: its row goes, the shared
    // blob stays.
    let copy = uploaded(&server, &bob, "copy.png", &png(8, 8)).await;
    let id = |v: &Value| v["id"].as_str().unwrap().to_owned();
    sql(
        &server,
        "UPDATE users SET avatar_id = ?1 WHERE username = 'alice'",
        &[&id(&avatar)],
    );
    let ack = alice_ws.say("#general", "see attached").await;
    let message = ack["id"].as_str().unwrap().to_owned();
    sql(
        &server,
        "UPDATE messages SET attachment_id = ?1 WHERE id = ?2",
        &[&id(&posted), &message],
    );

    let unused_blob = blob_path(&server, &sha256_hex(b"nobody wants this"));
    let avatar_blob = blob_path(&server, &sha256_hex(&png(8, 8)));
    assert!(unused_blob.exists() && avatar_blob.exists());
    wait_for("the unused upload collected", || !unused_blob.exists()).await;
    let url = |v: &Value| v["url"].as_str().unwrap().to_owned();
    assert_eq!(
        get(&server, &url(&unused), Some(&alice), &[]).await.status,
        404
    );
    let copy_gone = || async { get(&server, &url(&copy), Some(&bob), &[]).await.status == 404 };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while !copy_gone().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the copy was never collected"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(avatar_blob.exists(), "shared with the avatar");
    assert_eq!(
        get(&server, &url(&avatar), Some(&bob), &[]).await.status,
        200
    );
    assert_eq!(
        get(&server, &url(&posted), Some(&bob), &[]).await.status,
        200
    );
    assert_eq!(
        get(&server, &url(&posted), Some(&alice), &[]).await.status,
        200
    );
    server.stop().await;
}

/// Needs the lead's messages with attachments (`attachment` on the `message` frame).
#[tokio::test]
async fn posting_an_upload_lets_the_conversation_read_it() {
    let server = TestServer::start().await;
    let (alice, mut alice_ws) = server.user("alice").await;
    let (bob, mut bob_ws) = server.user("bob").await;
    let carol = server.register("carol").await;
    let info = uploaded(&server, &alice, "photo.png", &png(64, 48)).await;
    let id = info["id"].as_str().unwrap().to_owned();

    // Bob may not post alice's upload: it is not his.
    let refused = bob_ws
        .request(json!({"type": "message", "receiver": "alice", "content": "", "attachment": id}))
        .await;
    assert_eq!(
        (refused["type"].as_str(), refused["code"].as_str()),
        (Some("error"), Some("not_found"))
    );

    let ack = alice_ws
        .request(json!({"type": "message", "receiver": "bob", "content": "look", "attachment": id}))
        .await;
    assert_eq!(ack["type"], "ack", "{ack}");
    let delivered = bob_ws.recv_type("message").await;
    assert_eq!(delivered["attachment"], info, "{delivered}");
    let path = info["url"].as_str().unwrap();
    assert_eq!(get(&server, path, Some(&bob), &[]).await.status, 200);
    assert_eq!(
        get(&server, &format!("{path}/thumbnail"), Some(&bob), &[])
            .await
            .status,
        200
    );
    assert_eq!(get(&server, path, Some(&carol), &[]).await.status, 404);
    assert_eq!(delivered["kind"], "image");

    // Deleting the message erases the upload and its bytes, for everyone.
    let message = delivered["id"].clone();
    let ack = alice_ws
        .request(json!({"type": "delete", "message": message}))
        .await;
    assert_eq!(ack["type"], "ack", "{ack}");
    let update = bob_ws.recv_type("update").await;
    assert!(update["message"].get("attachment").is_none(), "{update}");
    let erased = async {
        loop {
            if get(&server, path, Some(&alice), &[]).await.status == 404 {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(5), erased)
        .await
        .expect("the upload is erased after the delete");
    assert_eq!(get(&server, path, Some(&bob), &[]).await.status, 404);
    // The bytes go just after the row (the 404): wait for them too.
    let files = |root: std::path::PathBuf| {
        let mut left = Vec::new();
        let mut dirs = vec![root];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                } else {
                    left.push(path);
                }
            }
        }
        left
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let mut left = files(server.dir.join("blobs"));
    while !left.is_empty() && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        left = files(server.dir.join("blobs"));
    }
    assert!(left.is_empty(), "bytes left behind: {left:?}");
    server.stop().await;
}
