//! `POST /api/v1/register` and `/login`, and uploads (`POST /api/v1/attachments`), over
//! HTTP/1.1 (hyper's client connection), plain or TLS as the endpoint says.

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use confab_protocol::{AttachmentInfo, ErrorCode};
use futures_util::TryStreamExt;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Frame;
use hyper::Request;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

use crate::{ClientError, Endpoint};

/// Creates an account; returns its first token.
pub async fn register(
    endpoint: &Endpoint,
    username: &str,
    password: &str,
) -> Result<String, ClientError> {
    token_from(endpoint, "/api/v1/register", username, password).await
}

/// Logs in; returns a new token.
pub async fn login(
    endpoint: &Endpoint,
    username: &str,
    password: &str,
) -> Result<String, ClientError> {
    token_from(endpoint, "/api/v1/login", username, password).await
}

async fn token_from(
    endpoint: &Endpoint,
    path: &str,
    username: &str,
    password: &str,
) -> Result<String, ClientError> {
    let body = json!({ "username": username, "password": password }).to_string();
    let (status, reply) = post(endpoint, path, body).await?;
    if (200..300).contains(&status) {
        if let Some(token) = reply["token"].as_str() {
            return Ok(token.to_owned());
        }
    }
    Err(refusal(status, &reply))
}

/// One JSON `POST`; returns the status and the parsed body (`Null` if not JSON).
pub async fn post(
    endpoint: &Endpoint,
    path: &str,
    body: String,
) -> Result<(u16, Value), ClientError> {
    let request = Request::post(path)
        .header("host", &endpoint.authority)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))
        .map_err(http)?;
    let (status, bytes) = exchange(endpoint, request).await?;
    Ok((
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    ))
}

/// How much of a file is read per chunk of an upload.
const UPLOAD_CHUNK: usize = 64 * 1024;
/// How long an upload waits for `100 Continue` before it sends the body regardless.
const CONTINUE_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// Uploads a file (`POST /api/v1/attachments?name=<its file name>`), streamed from disk in
/// chunks, never read whole. `progress(sent, total)` is called with 0 first, then after each
/// chunk goes out.
/// Returns what the server made of it; a refusal (`too_large` for 413, `rate_limited` for 429,
/// ...) is [`ClientError::Refused`].
pub async fn upload(
    endpoint: &Endpoint,
    token: &str,
    path: &Path,
    mut progress: impl FnMut(u64, u64) + Send + 'static,
) -> Result<AttachmentInfo, ClientError> {
    let unreadable = |source: std::io::Error| ClientError::File {
        path: path.display().to_string(),
        source,
    };
    let file = tokio::fs::File::open(path).await.map_err(unreadable)?;
    let metadata = file.metadata().await.map_err(unreadable)?;
    if !metadata.is_file() {
        return Err(unreadable(std::io::Error::other("not a regular file")));
    }
    let total = metadata.len();
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".to_owned());
    progress(0, total);
    // `Expect: 100-continue`: the body waits for the server's go-ahead, so a refusal decided
    // from the headers alone (too large, too many uploads) comes back as its answer instead
    // of a connection reset in the middle of the body.
    let go_ahead = Arc::new(tokio::sync::Notify::new());
    let mut sent = 0u64;
    let start = (file, Some(go_ahead.clone()));
    let chunks = futures_util::stream::try_unfold(start, |(mut file, wait)| async move {
        if let Some(go_ahead) = wait {
            // A server that ignores the expectation is given the body after a while anyway.
            let _ = tokio::time::timeout(CONTINUE_WAIT, go_ahead.notified()).await;
        }
        let mut buffer = vec![0; UPLOAD_CHUNK];
        let read = file.read(&mut buffer).await?;
        if read == 0 {
            return Ok::<_, std::io::Error>(None);
        }
        buffer.truncate(read);
        Ok(Some((Bytes::from(buffer), (file, None))))
    })
    .map_ok(move |chunk| {
        sent += chunk.len() as u64;
        progress(sent.min(total), total);
        Frame::data(chunk)
    });
    let mut request = Request::post(format!("/api/v1/attachments?name={}", query_escape(&name)))
        .header("host", &endpoint.authority)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/octet-stream")
        .header("content-length", total)
        .header("expect", "100-continue")
        .body(StreamBody::new(chunks))
        .map_err(http)?;
    hyper::ext::on_informational(&mut request, move |response| {
        if response.status() == hyper::StatusCode::CONTINUE {
            go_ahead.notify_one();
        }
    });
    let (status, bytes) = exchange(endpoint, request).await?;
    if status == 201 {
        return serde_json::from_slice(&bytes)
            .map_err(|_| ClientError::Unexpected(String::from_utf8_lossy(&bytes).into_owned()));
    }
    let reply = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Err(refusal(status, &reply))
}

/// A query value with everything but the unreserved characters percent-encoded.
pub(crate) fn query_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Sends one request on a new connection (TLS when the endpoint says so); returns the
/// status and the whole answer body.
async fn exchange<B>(endpoint: &Endpoint, request: Request<B>) -> Result<(u16, Bytes), ClientError>
where
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let stream = TcpStream::connect(&endpoint.authority).await?;
    let response = match &endpoint.tls {
        None => send(TokioIo::new(stream), request).await?,
        Some(config) => {
            let name = rustls_pki_types::ServerName::try_from(endpoint.host().to_owned())
                .map_err(|e| ClientError::Tls(e.to_string()))?;
            let stream = tokio_rustls::TlsConnector::from(config.clone())
                .connect(name, stream)
                .await
                .map_err(|e| ClientError::Tls(e.to_string()))?;
            send(TokioIo::new(stream), request).await?
        }
    };
    let status = response.status().as_u16();
    let bytes = response
        .into_body()
        .collect()
        .await
        .map_err(http)?
        .to_bytes();
    Ok((status, bytes))
}

async fn send<T, B>(
    io: TokioIo<T>,
    request: Request<B>,
) -> Result<hyper::Response<hyper::body::Incoming>, ClientError>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(http)?;
    tokio::spawn(connection);
    sender.send_request(request).await.map_err(http)
}

fn http(err: impl std::fmt::Display) -> ClientError {
    ClientError::Http(err.to_string())
}

fn refusal(status: u16, reply: &Value) -> ClientError {
    let code = serde_json::from_value::<ErrorCode>(reply["code"].clone());
    match code {
        Ok(code) => ClientError::Refused {
            code,
            message: reply["message"].as_str().unwrap_or_default().to_owned(),
        },
        Err(_) => ClientError::Http(format!("status {status}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_escaped_for_the_query() {
        assert_eq!(query_escape("plan v2.png"), "plan%20v2.png");
        assert_eq!(query_escape("a&b=c#d?.txt"), "a%26b%3Dc%23d%3F.txt");
        assert_eq!(query_escape("Café.jpg"), "Caf%C3%A9.jpg");
    }
}
