//! TLS for the tests: a development certificate made by the server's own `confab cert dev`
//! code, a client that trusts only it, and HTTP and WebSocket connections over it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use confab_server::Config;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use serde_json::Value;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::client::Request;
use tokio_tungstenite::Connector;

use super::{read_reply, Client, Reply, WAIT};

/// A development certificate and key in a directory of their own.
pub struct DevCert {
    _dir: tempfile::TempDir,
    pub dir: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl DevCert {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().to_owned();
        let made = confab_server::tls::dev::write(&path, &[], 30).unwrap();
        Self {
            _dir: dir,
            dir: path,
            cert: made.cert,
            key: made.key,
        }
    }

    /// Writes a new pair over the old one (a renewal).
    pub fn renew(&self) {
        confab_server::tls::dev::write(&self.dir, &[], 30).unwrap();
    }

    /// Serve this pair.
    pub fn configure(&self, config: &mut Config) {
        config.tls.cert = Some(self.cert.clone());
        config.tls.key = Some(self.key.clone());
    }

    /// The certificate in the file now.
    pub fn der(&self) -> CertificateDer<'static> {
        CertificateDer::from_pem_file(&self.cert).unwrap()
    }

    /// A client that trusts the certificate in the file now, and nothing else.
    pub fn client(&self) -> Arc<ClientConfig> {
        client_with(self, None)
    }
}

/// A client trusting `cert`, speaking only `version` if given.
pub fn client_with(
    cert: &DevCert,
    version: Option<&'static rustls::SupportedProtocolVersion>,
) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    roots.add(cert.der()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider);
    let builder = match version {
        Some(version) => builder.with_protocol_versions(&[version]),
        None => builder.with_safe_default_protocol_versions(),
    };
    let config = builder
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(config)
}

/// A TLS connection to `addr` for the name `localhost`.
pub async fn connect(addr: SocketAddr, client: Arc<ClientConfig>) -> TlsStream<TcpStream> {
    try_connect(addr, client).await.expect("tls handshake")
}

pub async fn try_connect(
    addr: SocketAddr,
    client: Arc<ClientConfig>,
) -> std::io::Result<TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    let name = ServerName::try_from("localhost").unwrap();
    tokio::time::timeout(
        WAIT,
        tokio_rustls::TlsConnector::from(client).connect(name, tcp),
    )
    .await
    .expect("handshake in time")
}

/// The certificate the server presented.
pub fn presented(stream: &TlsStream<TcpStream>) -> CertificateDer<'static> {
    stream.get_ref().1.peer_certificates().unwrap()[0].clone()
}

/// One HTTP/1.1 request over TLS (`Connection: close`), read to the end.
pub async fn https(
    addr: SocketAddr,
    client: Arc<ClientConfig>,
    method: &str,
    path: &str,
    body: Option<&str>,
    token: Option<&str>,
) -> Reply {
    let mut stream = connect(addr, client).await;
    let body = body.unwrap_or("");
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost:{}\r\nConnection: close\r\n{auth}\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        addr.port(),
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    read_reply(&mut stream).await
}

/// Registers over https and returns the token.
pub async fn register(addr: SocketAddr, client: Arc<ClientConfig>, username: &str) -> String {
    let body = serde_json::json!({"username": username, "password": super::PASSWORD}).to_string();
    let reply = https(addr, client, "POST", "/api/v1/register", Some(&body), None).await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    reply.json()["token"].as_str().unwrap().to_owned()
}

/// The wss request for `path_and_query` on `addr` (as `localhost`).
pub fn wss_request(addr: SocketAddr, path_and_query: &str) -> Request {
    format!("wss://localhost:{}{path_and_query}", addr.port())
        .into_client_request()
        .unwrap()
}

/// Opens a WebSocket over TLS.
pub async fn wss(
    addr: SocketAddr,
    client: Arc<ClientConfig>,
    request: Request,
) -> Result<Client, tokio_tungstenite::tungstenite::Error> {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (ws, _) = tokio_tungstenite::client_async_tls_with_config(
        request,
        tcp,
        None,
        Some(Connector::Rustls(client)),
    )
    .await?;
    Ok(Client {
        ws,
        ready: Value::Null,
    })
}

/// Opens a WebSocket over TLS with `?token=` and reads `ready`.
pub async fn wss_user(addr: SocketAddr, client: Arc<ClientConfig>, token: &str) -> Client {
    let request = wss_request(addr, &format!("/ws?token={token}"));
    let mut client = wss(addr, client, request).await.unwrap();
    let ready = client.recv().await;
    assert_eq!(ready["type"], "ready", "{ready}");
    client.ready = ready;
    client
}
