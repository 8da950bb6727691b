//! The web surface against the real server: cross-site WebSocket hijacking refused (a valid
//! token does not help a foreign page), the security headers on every page and on every
//! other response, and no file-serving route (the web client, `--web-dir`, attachments,
//! thumbnails) that serves anything outside what it should, by path or by symbolic link.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use common::tls::{self, DevCert};
use common::{read_reply, upload, Reply, TestServer};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::client::Request;
use tokio_tungstenite::tungstenite::http::HeaderValue;

/// A raw GET of `target` (sent as is), with an optional bearer token.
async fn get(addr: SocketAddr, target: &str, token: Option<&str>) -> Reply {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let head = format!("GET {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{auth}\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    read_reply(&mut stream).await
}

fn with_origin(url: &str, origin: Option<&str>, bearer: Option<&str>) -> Request {
    let mut request = url.into_client_request().unwrap();
    if let Some(origin) = origin {
        request
            .headers_mut()
            .insert("origin", HeaderValue::from_str(origin).unwrap());
    }
    if let Some(token) = bearer {
        let value = HeaderValue::from_str(&format!("Bearer {token}")).unwrap();
        request.headers_mut().insert("authorization", value);
    }
    request
}

/// The status a handshake was refused with, or 101 if it went through (and `ready` came).
async fn handshake(request: Request) -> u16 {
    match tokio_tungstenite::connect_async(request).await {
        Ok((ws, _)) => {
            opened(common::Client {
                ws,
                ready: serde_json::Value::Null,
            })
            .await
        }
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            let body = String::from_utf8_lossy(response.body().as_deref().unwrap_or_default())
                .into_owned();
            if response.status() == 403 {
                assert!(body.contains("\"forbidden\""), "{body}");
            }
            response.status().as_u16()
        }
        Err(other) => panic!("{other}"),
    }
}

async fn opened(mut client: common::Client) -> u16 {
    let ready = client.recv().await;
    assert_eq!(ready["type"], "ready", "{ready}");
    101
}

#[tokio::test]
async fn a_foreign_page_cannot_open_a_websocket_even_with_a_valid_token() {
    let server =
        TestServer::start_with(|c| c.allowed_origins = vec!["https://chat.example".into()]).await;
    let token = server.register("alice").await;
    let with_token = format!("{}?token={token}", server.ws_url());
    let own = format!("http://{}", server.addr);
    for (origin, expected) in [
        (Some("https://evil.example"), 403),
        (Some("null"), 403),
        (Some(format!("https://{}", server.addr).as_str()), 403),
        (
            Some(format!("http://{}.evil.example", server.addr).as_str()),
            403,
        ),
        (Some(own.as_str()), 101),
        (Some("https://chat.example"), 101),
        (None, 101),
    ] {
        let status = handshake(with_origin(&with_token, origin, None)).await;
        assert_eq!(status, expected, "token in the query, origin {origin:?}");
        let status = handshake(with_origin(&server.ws_url(), origin, Some(&token))).await;
        assert_eq!(status, expected, "token in the header, origin {origin:?}");
    }
    // The origin is judged before the token: a foreign page learns nothing about tokens.
    let forged = format!("{}?token={}", server.ws_url(), "0".repeat(64));
    assert_eq!(
        handshake(with_origin(&forged, Some("https://evil.example"), None)).await,
        403
    );
    assert_eq!(handshake(with_origin(&forged, None, None)).await, 401);
    server.stop().await;
}

#[tokio::test]
async fn over_tls_the_own_origin_is_the_https_one() {
    let cert = DevCert::new();
    let server = TestServer::start_with(|c| cert.configure(c)).await;
    let token = tls::register(server.addr, cert.client(), "alice").await;
    let path = format!("/ws?token={token}");
    let port = server.addr.port();
    for (origin, refused) in [
        (format!("http://localhost:{port}"), true),
        (format!("https://localhost:{port}"), false),
    ] {
        let mut request = tls::wss_request(server.addr, &path);
        request
            .headers_mut()
            .insert("origin", HeaderValue::from_str(&origin).unwrap());
        match tls::wss(server.addr, cert.client(), request).await {
            Ok(client) => {
                assert!(!refused, "{origin} was let in");
                opened(client).await;
            }
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                assert!(refused, "{origin}: {}", response.status());
                assert_eq!(response.status(), 403);
            }
            Err(other) => panic!("{other}"),
        }
    }
    server.stop().await;
}

/// Asserts the headers every page of the client has.
fn assert_page_headers(reply: &Reply, what: &str) {
    assert!(
        reply
            .header("content-type")
            .is_some_and(|t| t.starts_with("text/html")),
        "{what}"
    );
    let csp = reply.header("content-security-policy").unwrap_or_default();
    assert!(csp.contains("script-src 'self'"), "{what}: {csp}");
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{what}: {csp}"
    );
    assert!(csp.contains("frame-ancestors 'none'"), "{what}: {csp}");
    assert_eq!(
        reply.header("x-content-type-options"),
        Some("nosniff"),
        "{what}"
    );
    assert!(reply.header("referrer-policy").is_some(), "{what}");
}

#[tokio::test]
async fn every_page_and_every_other_response_carries_the_security_headers() {
    let server = TestServer::start().await;
    for path in ["/", "/index.html", "/invite/abc123"] {
        let reply = get(server.addr, path, None).await;
        assert_eq!(reply.status, 200, "{path}");
        assert_page_headers(&reply, path);
        assert!(reply.text().contains("<html"), "{path}");
        assert!(
            !reply.text().contains("<script>"),
            "{path}: no inline script"
        );
    }
    let token = server.register("alice").await;
    for (path, token, status) in [
        ("/healthz", None, 200),
        ("/api/v1/rooms", Some(token.as_str()), 200),
        ("/api/v1/rooms", None, 401),
        ("/api/v1/openapi.json", None, 200),
        ("/no/such/page", None, 404),
    ] {
        let reply = get(server.addr, path, token).await;
        assert_eq!(reply.status, status, "{path}");
        assert_eq!(
            reply.header("x-content-type-options"),
            Some("nosniff"),
            "{path}"
        );
        assert_eq!(
            reply.header("content-security-policy"),
            Some("default-src 'none'; frame-ancestors 'none'"),
            "{path}"
        );
        assert_eq!(
            reply.header("referrer-policy"),
            Some("no-referrer"),
            "{path}"
        );
        assert_eq!(
            reply.header("strict-transport-security"),
            None,
            "{path}: no TLS"
        );
    }
    server.stop().await;
}

/// Request targets that try to leave the client's files or the upload store.
const ESCAPES: &[&str] = &[
    "/../../../../etc/passwd",
    "/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/js/../../Cargo.toml",
    "/js/%2e%2e/%2e%2e/Cargo.toml",
    "/js/..%2f..%2fCargo.toml",
    "/icons/..%5c..%5cCargo.toml",
    "//etc/passwd",
    "/app.css%00.html",
    "/app.css/",
    "/APP.CSS",
    "/secret.txt",
    "/%2fsecret.txt",
    "/js/../secret.txt",
    "/index.html/../secret.txt",
];

fn assert_not_served(reply: &Reply, target: &str) {
    assert!(
        [400, 404].contains(&reply.status),
        "{target}: {} {}",
        reply.status,
        reply.text()
    );
    let text = reply.text();
    assert!(
        !text.contains("root:") && !text.contains("[package]") && !text.contains("SECRET"),
        "{target}"
    );
}

/// A copy of the client's files in a new directory, with a secret file beside it.
fn web_copy() -> (tempfile::TempDir, PathBuf) {
    let temp = tempfile::tempdir().unwrap();
    let web = temp.path().join("web");
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("web");
    let mut dirs = vec![PathBuf::new()];
    while let Some(relative) = dirs.pop() {
        std::fs::create_dir_all(web.join(&relative)).unwrap();
        for entry in std::fs::read_dir(source.join(&relative)).unwrap() {
            let entry = entry.unwrap();
            let name = relative.join(entry.file_name());
            if entry.file_type().unwrap().is_dir() {
                dirs.push(name);
            } else {
                std::fs::copy(entry.path(), web.join(&name)).unwrap();
            }
        }
    }
    std::fs::write(temp.path().join("secret.txt"), "SECRET outside the web dir").unwrap();
    (temp, web)
}

#[tokio::test]
async fn no_request_path_leaves_the_embedded_client() {
    let server = TestServer::start().await;
    for target in ESCAPES {
        assert_not_served(&get(server.addr, target, None).await, target);
    }
    server.stop().await;
}

#[cfg(unix)]
#[tokio::test]
async fn the_web_dir_serves_its_files_and_refuses_paths_out_and_symbolic_links() {
    let (temp, web) = web_copy();
    std::fs::write(
        web.join("index.html"),
        "<!doctype html><html>from the web dir</html>",
    )
    .unwrap();
    let secret = temp.path().join("secret.txt");
    std::fs::remove_file(web.join("app.css")).unwrap();
    std::os::unix::fs::symlink(&secret, web.join("app.css")).unwrap();
    let elsewhere = temp.path().join("elsewhere");
    std::fs::rename(web.join("icons"), &elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, web.join("icons")).unwrap();
    let server = TestServer::start_with(|c| c.web_dir = Some(web.clone())).await;

    let page = get(server.addr, "/", None).await;
    assert_eq!(page.status, 200);
    assert!(
        page.text().contains("from the web dir"),
        "served from the directory"
    );
    assert_page_headers(&page, "/ from web_dir");
    assert_eq!(get(server.addr, "/js/main.js", None).await.status, 200);
    for target in ["/app.css", "/icons/pin.svg"] {
        assert_not_served(&get(server.addr, target, None).await, target);
    }
    for target in ESCAPES {
        assert_not_served(&get(server.addr, target, None).await, target);
    }
    server.stop().await;
}

fn blob_path(server: &TestServer, sha256: &str) -> PathBuf {
    server.dir.join("blobs").join(&sha256[..2]).join(sha256)
}

/// A small PNG, so the upload gets a thumbnail.
fn png() -> Vec<u8> {
    let image = image::RgbImage::from_pixel(400, 300, image::Rgb([200, 40, 90]));
    let mut bytes = std::io::Cursor::new(Vec::new());
    image.write_to(&mut bytes, image::ImageFormat::Png).unwrap();
    bytes.into_inner()
}

#[cfg(unix)]
#[tokio::test]
async fn attachments_and_thumbnails_never_follow_a_symbolic_link_or_an_odd_id() {
    let server = TestServer::start().await;
    let token = server.register("alice").await;
    let outside = server.dir.join("outside.txt");
    std::fs::write(&outside, "SECRET outside the blob store").unwrap();

    let bytes = b"plain notes".to_vec();
    let reply = upload(server.addr, &token, "notes.txt", &bytes).await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    let file_url = reply.json()["url"].as_str().unwrap().to_owned();
    let picture = png();
    let reply = upload(server.addr, &token, "red.png", &picture).await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    let thumb_url = reply.json()["thumbnail_url"].as_str().unwrap().to_owned();
    assert_eq!(get(server.addr, &thumb_url, Some(&token)).await.status, 200);

    // Each blob file swapped for a link to a file outside the store.
    let file_blob = blob_path(&server, &format!("{:x}", Sha256::digest(&bytes)));
    let picture_hash = format!("{:x}", Sha256::digest(&picture));
    let thumb_blob = walk(&server.dir.join("blobs"))
        .into_iter()
        .find(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            name.len() == 64 && name != picture_hash && p != &file_blob
        })
        .expect("the thumbnail's blob");
    for blob in [&file_blob, &thumb_blob] {
        std::fs::remove_file(blob).unwrap();
        std::os::unix::fs::symlink(&outside, blob).unwrap();
    }
    for url in [&file_url, &thumb_url] {
        let reply = get(server.addr, url, Some(&token)).await;
        assert_ne!(reply.status, 200, "{url}");
        assert!(!reply.text().contains("SECRET"), "{url}");
    }

    let id = file_url.rsplit('/').next().unwrap();
    for target in [
        "/api/v1/attachments/..%2F..%2Fconfab.db".to_owned(),
        "/api/v1/attachments/%2e%2e".to_owned(),
        "/api/v1/attachments/../../confab.db".to_owned(),
        format!("/api/v1/attachments/{id}/../../../confab.db"),
        format!("/api/v1/attachments/{id}%00"),
        format!("/api/v1/attachments/{}", id.to_lowercase()),
        "/api/v1/attachments/..%2F..%2Foutside.txt/thumbnail".to_owned(),
    ] {
        let reply = get(server.addr, &target, Some(&token)).await;
        assert!(
            [400, 404].contains(&reply.status),
            "{target}: {}",
            reply.status
        );
        assert!(
            !reply.text().contains("SECRET") && !reply.text().contains("SQLite"),
            "{target}"
        );
    }
    server.stop().await;
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut dirs = vec![dir.to_owned()];
    while let Some(at) = dirs.pop() {
        for entry in std::fs::read_dir(&at).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_dir() {
                dirs.push(entry.path());
            } else {
                found.push(entry.path());
            }
        }
    }
    found
}
