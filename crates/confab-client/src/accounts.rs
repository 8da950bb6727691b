//! `POST /api/v1/register` and `/login` over HTTP/1.1 (hyper's client connection).

use bytes::Bytes;
use confab_protocol::ErrorCode;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
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
    let stream = TcpStream::connect(&endpoint.authority).await?;
    let request = Request::post(path)
        .header("host", &endpoint.authority)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))
        .map_err(http)?;
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
    Ok((
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    ))
}

async fn send<T>(
    io: TokioIo<T>,
    request: Request<Full<Bytes>>,
) -> Result<hyper::Response<hyper::body::Incoming>, ClientError>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
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
