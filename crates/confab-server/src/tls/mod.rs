//! TLS with rustls (the ring provider; no OpenSSL): the server configuration the HTTP listener
//! (https and wss) and the TCP gateway share. TLS 1.2 and 1.3 only. The certificate sits in a
//! [`ReloadingCert`] that every handshake asks, so a renewed certificate ([`reload`]) is used
//! from the next handshake on while connections already open keep theirs. [`dev`] makes a
//! self-signed certificate for local use (`confab cert dev`).

pub mod certs;
pub mod dev;
pub mod reload;

use std::path::PathBuf;
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;

pub use certs::{load_pair, ReloadingCert};

/// Why TLS cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Pem { path: PathBuf, message: String },
    #[error("the key does not fit the certificate: {0}")]
    Key(String),
    #[error("cannot make a certificate: {0}")]
    Generate(String),
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("TLS configuration: {0}")]
    Config(String),
}

/// The one crypto provider confab uses.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The acceptors for the listeners: the HTTP one offers ALPN `http/1.1`; the TCP gateway's
/// offers none (its lines are not HTTP). Both ask `cert` for the certificate.
#[derive(Clone)]
pub struct Acceptors {
    pub http: TlsAcceptor,
    pub tcp: TlsAcceptor,
    pub cert: Arc<ReloadingCert>,
}

impl Acceptors {
    pub fn new(cert: Arc<ReloadingCert>) -> Result<Self, TlsError> {
        let mut http = server_config(cert.clone())?;
        http.alpn_protocols = vec![b"http/1.1".to_vec()];
        let tcp = server_config(cert.clone())?;
        Ok(Self {
            http: TlsAcceptor::from(Arc::new(http)),
            tcp: TlsAcceptor::from(Arc::new(tcp)),
            cert,
        })
    }
}

fn server_config(cert: Arc<ReloadingCert>) -> Result<ServerConfig, TlsError> {
    let config = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_no_client_auth()
        .with_cert_resolver(cert);
    Ok(config)
}
