//! The web client, served at `/` from files embedded in the binary (so the binary is the whole
//! deployment), or from a directory when `web_dir` is configured (for working on the client
//! without rebuilding). Every page and asset gets the security headers: a strict
//! Content-Security-Policy (scripts, styles and connections only from this server; no inline
//! code, no frames), `nosniff`, no referrer, and no framing. Assets are revalidated by ETag, so
//! a new binary's client is picked up at once while an unchanged one costs a 304. Text is
//! sent gzip-compressed to browsers that take it.
//!
//! This is the router's fallback, outside the recorded API routes: a path that is neither an
//! asset nor a client route (`/invite/<code>`) gets the same bare 404 as before. Only the
//! paths in [`ASSETS`] are ever served, so a request path never becomes a file path; from
//! `web_dir`, a file that is (or lies under) a symbolic link is refused with a 404 too.

use std::path::{Path, PathBuf};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use super::AppState;

/// One embedded file: the URL path it answers and its type.
pub struct Asset {
    pub path: &'static str,
    pub file: &'static str,
    pub mime: &'static str,
    pub body: &'static [u8],
}

macro_rules! assets {
    ($($path:literal => $file:literal as $mime:literal),* $(,)?) => {
        &[$(Asset {
            path: $path,
            file: $file,
            mime: $mime,
            body: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/web/", $file)),
        }),*]
    };
}

/// Every file of the client (`crates/confab-server/web/`); a test checks none is left out.
pub const ASSETS: &[Asset] = assets! {
    "/" => "index.html" as "text/html; charset=utf-8",
    "/app.css" => "app.css" as "text/css; charset=utf-8",
    "/i18n/en.json" => "i18n/en.json" as "application/json",
    "/i18n/es.json" => "i18n/es.json" as "application/json",
    "/i18n/hi.json" => "i18n/hi.json" as "application/json",
    "/icons/attach.svg" => "icons/attach.svg" as "image/svg+xml",
    "/icons/pin.svg" => "icons/pin.svg" as "image/svg+xml",
    "/icons/icon-192.png" => "icons/icon-192.png" as "image/png",
    "/icons/icon-512.png" => "icons/icon-512.png" as "image/png",
    "/js/api.js" => "js/api.js" as "text/javascript; charset=utf-8",
    "/js/composer.js" => "js/composer.js" as "text/javascript; charset=utf-8",
    "/js/connection.js" => "js/connection.js" as "text/javascript; charset=utf-8",
    "/js/conversation.js" => "js/conversation.js" as "text/javascript; charset=utf-8",
    "/js/db.js" => "js/db.js" as "text/javascript; charset=utf-8",
    "/js/dialogs.js" => "js/dialogs.js" as "text/javascript; charset=utf-8",
    "/js/i18n.js" => "js/i18n.js" as "text/javascript; charset=utf-8",
    "/js/link-sse.js" => "js/link-sse.js" as "text/javascript; charset=utf-8",
    "/js/link-ws.js" => "js/link-ws.js" as "text/javascript; charset=utf-8",
    "/js/login.js" => "js/login.js" as "text/javascript; charset=utf-8",
    "/js/main.js" => "js/main.js" as "text/javascript; charset=utf-8",
    "/js/outbox.js" => "js/outbox.js" as "text/javascript; charset=utf-8",
    "/js/sidebar.js" => "js/sidebar.js" as "text/javascript; charset=utf-8",
    "/js/store.js" => "js/store.js" as "text/javascript; charset=utf-8",
    "/js/ui.js" => "js/ui.js" as "text/javascript; charset=utf-8",
    "/manifest.webmanifest" => "manifest.webmanifest" as "application/manifest+json",
    "/sw.js" => "sw.js" as "text/javascript; charset=utf-8",
};

/// The policy for the client's pages. `connect-src 'self'` covers the same-origin WebSocket and
/// its fallback (the event stream and the POSTs); `blob:` is for previews of files being
/// uploaded; attachments come from this server.
const CSP: &str =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; \
     media-src 'self' blob:; connect-src 'self'; font-src 'self'; manifest-src 'self'; \
     worker-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// Paths the client handles itself: they get the app's page.
fn is_client_route(path: &str) -> bool {
    path.starts_with("/invite/") || path == "/index.html"
}

/// The fallback handler: an asset, the app for a client route, or a bare 404.
pub async fn serve(State(state): State<AppState>, request: Request) -> Response {
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return StatusCode::NOT_FOUND.into_response();
    }
    let path = request.uri().path();
    let path = if is_client_route(path) { "/" } else { path };
    let Some(asset) = ASSETS.iter().find(|a| a.path == path) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let body: Vec<u8> = match &state.hub.config().web_dir {
        Some(dir) => match read_from(dir, asset.file).await {
            Some(bytes) => bytes,
            None => return StatusCode::NOT_FOUND.into_response(),
        },
        None => asset.body.to_vec(),
    };
    respond(asset.mime, body, request.headers())
}

/// Reads `file` (a path from [`ASSETS`]) under `dir`, unless it or a directory on the way to
/// it under `dir` is a symbolic link, or it is not a regular file.
async fn read_from(dir: &Path, file: &'static str) -> Option<Vec<u8>> {
    let dir = dir.to_owned();
    let read = tokio::task::spawn_blocking(move || {
        let mut at: PathBuf = dir;
        for part in Path::new(file).components() {
            at.push(part);
            let meta = std::fs::symlink_metadata(&at).ok()?;
            if meta.file_type().is_symlink() {
                tracing::warn!(path = %at.display(), "web_dir: a symbolic link is not served");
                return None;
            }
        }
        std::fs::metadata(&at).ok()?.is_file().then_some(())?;
        std::fs::read(&at).ok()
    });
    read.await.ok()?
}

fn respond(mime: &'static str, body: Vec<u8>, request: &HeaderMap) -> Response {
    // Text compresses to about a third; pictures are compressed already.
    let gzip = accepts_gzip(request) && !mime.starts_with("image/png") && body.len() > 1024;
    let digest = hex(&Sha256::digest(&body)[..12]);
    let etag = if gzip {
        format!("\"{digest}-gz\"")
    } else {
        format!("\"{digest}\"")
    };
    let fresh = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|tag| tag.trim() == etag));
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let body = if gzip { compress(&body) } else { body };
        let mut response = Response::new(Body::from(body));
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
        if gzip {
            headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
        response
    };
    let headers = response.headers_mut();
    headers.insert(
        header::ETAG,
        HeaderValue::from_str(&etag).expect("hex is a valid header"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    security_headers(headers);
    response
}

/// Whether the request takes gzip (`Accept-Encoding: gzip`, not with `q=0`).
fn accepts_gzip(request: &HeaderMap) -> bool {
    request
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|coding| {
            let mut parts = coding.split(';').map(str::trim);
            let name = parts.next().unwrap_or_default();
            let refused = parts.any(|p| p.replace(' ', "") == "q=0" || p == "q=0.0");
            name.eq_ignore_ascii_case("gzip") && !refused
        })
}

fn compress(body: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder
        .write_all(body)
        .and_then(|()| encoder.finish())
        .expect("compressing into memory cannot fail")
}

/// The headers every page and asset of the client carries.
pub fn security_headers(headers: &mut HeaderMap) {
    for (name, value) in [
        ("content-security-policy", CSP),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
        ("x-frame-options", "DENY"),
        ("cross-origin-opener-policy", "same-origin"),
        ("cross-origin-resource-policy", "same-origin"),
        (
            "permissions-policy",
            "geolocation=(self), camera=(), microphone=(), payment=(), usb=()",
        ),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_of_the_client_is_embedded() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("web");
        let mut files = Vec::new();
        let mut dirs = vec![dir.clone()];
        while let Some(at) = dirs.pop() {
            for entry in std::fs::read_dir(&at).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                } else {
                    let relative = path.strip_prefix(&dir).unwrap();
                    files.push(relative.to_string_lossy().replace('\\', "/"));
                }
            }
        }
        for file in &files {
            assert!(
                ASSETS.iter().any(|a| a.file == file.as_str()),
                "web/{file} is not in ASSETS"
            );
        }
        let mut paths: Vec<_> = ASSETS.iter().map(|a| a.path).collect();
        paths.sort_unstable();
        paths.dedup();
        assert_eq!(paths.len(), ASSETS.len(), "two assets share a path");
    }

    #[test]
    fn gzip_is_used_when_accepted_and_not_refused() {
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(
                header::ACCEPT_ENCODING,
                HeaderValue::from_str(value).unwrap(),
            );
            accepts_gzip(&headers)
        };
        assert!(with("gzip, deflate, br"));
        assert!(with("br;q=1.0, gzip;q=0.8"));
        assert!(!with("gzip;q=0"));
        assert!(!with("br"));
        assert!(!accepts_gzip(&HeaderMap::new()));
        let text = "confab ".repeat(500);
        let packed = compress(text.as_bytes());
        assert!(packed.len() < text.len() / 10);
        let mut unpacked = String::new();
        std::io::Read::read_to_string(
            &mut flate2::read::GzDecoder::new(&packed[..]),
            &mut unpacked,
        )
        .unwrap();
        assert_eq!(unpacked, text);
    }

    #[test]
    fn client_routes_get_the_page_and_nothing_else_does() {
        assert!(is_client_route("/invite/abc"));
        assert!(!is_client_route("/api/v1/nope"));
        assert!(!is_client_route("/../etc/passwd"));
    }
}
