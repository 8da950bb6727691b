//! An async client for confab, built on the protocol crate: [`accounts`] over REST (register,
//! log in) and [`Connection`], one session that sends [`ClientFrame`]s and receives
//! [`ServerFrame`]s, over a WebSocket or, where those are blocked, Server-Sent Events with
//! POSTs ([`sse`]). The bench, the terminal client and the tests use it.

#![forbid(unsafe_code)]

pub mod accounts;
mod connection;
mod endpoint;
pub mod sse;
mod tls;

pub use confab_protocol as protocol;
pub use connection::{connect_tcp_from, Connection, Receiver, Sender, Transport};
pub use endpoint::Endpoint;
pub use tls::TlsOptions;

use confab_protocol::{ErrorCode, ServerFrame};

/// What can go wrong talking to a server.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("bad server address {0}: expected ws://host:port or http://host:port")]
    BadAddress(String),
    #[error("cannot read {path}: {source}")]
    File {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot reach the server: {0}")]
    Io(#[from] std::io::Error),
    #[error("HTTP failed: {0}")]
    Http(String),
    #[error("TLS failed: {0}")]
    Tls(String),
    #[error("WebSocket failed: {0}")]
    WebSocket(#[from] tokio_tungstenite::tungstenite::Error),
    #[error("server said {code}: {message}")]
    Refused { code: ErrorCode, message: String },
    #[error("unexpected frame from the server: {0}")]
    Unexpected(String),
    #[error("the connection closed")]
    Closed,
}

impl ClientError {
    /// The error a refusing frame stands for.
    pub fn from_frame(frame: ServerFrame) -> Self {
        match frame {
            ServerFrame::Error(error) => Self::Refused {
                code: error.code,
                message: error.message,
            },
            other => Self::Unexpected(other.to_json()),
        }
    }
}
