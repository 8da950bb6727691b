//! What every accepted connection goes through before HTTP or the TCP gateway reads it: the
//! per-address count ([`per_ip`]), `TCP_NODELAY`, and with TLS on a handshake under a
//! deadline. [`http`] is the HTTP listener's accept loop (hyper, HTTP/1.1 with upgrades, the
//! request head deadline, graceful shutdown); the TCP gateway accepts through the same
//! [`Transport`], so both count against one limit and serve one certificate.

pub mod http;
pub mod per_ip;
pub mod stream;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpStream;

use crate::config::TransportLimits;
use crate::metrics::Metrics;
use crate::tls::Acceptors;
pub use per_ip::{PerIp, Slot};
pub use stream::{Conn, Stream};

/// How a request reached the server, as a request extension (set by [`http`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Http,
    Https,
}

impl Scheme {
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

/// Which listener a connection came in on (they offer different TLS protocols).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Door {
    Http,
    Tcp,
}

/// The connection limits and the TLS acceptors, shared by the listeners.
pub struct Transport {
    per_ip: PerIp,
    tls: Option<Acceptors>,
    limits: TransportLimits,
    metrics: Arc<Metrics>,
}

impl Transport {
    pub fn new(limits: TransportLimits, tls: Option<Acceptors>, metrics: Arc<Metrics>) -> Self {
        Self {
            per_ip: PerIp::new(limits.max_connections_per_ip),
            tls,
            limits,
            metrics,
        }
    }

    pub fn limits(&self) -> &TransportLimits {
        &self.limits
    }

    /// Whether connections speak TLS.
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// Counts a new connection in, or `None` when its address has too many open: the caller
    /// drops the socket at once.
    pub fn admit(&self, peer: SocketAddr) -> Option<Slot> {
        let slot = self.per_ip.admit(peer.ip());
        if slot.is_none() {
            tracing::debug!(%peer, "connection refused: too many from this address");
            self.metrics.connection_refused("per_ip");
        }
        slot
    }

    /// Readies an admitted socket: `TCP_NODELAY` (chat frames are small: each batch goes at
    /// once rather than waiting on Nagle), then the TLS handshake if TLS is on. `None` when
    /// the handshake fails or takes longer than `transport.tls_handshake_timeout_secs`.
    pub async fn establish(
        &self,
        stream: TcpStream,
        peer: SocketAddr,
        slot: Slot,
        door: Door,
    ) -> Option<Conn> {
        if let Err(err) = stream.set_nodelay(true) {
            tracing::debug!(%err, "cannot set TCP_NODELAY");
        }
        let Some(acceptors) = &self.tls else {
            return Some(Conn::new(Stream::Plain(stream), slot));
        };
        let acceptor = match door {
            Door::Http => &acceptors.http,
            Door::Tcp => &acceptors.tcp,
        };
        let deadline = self.limits.tls_handshake_timeout();
        match tokio::time::timeout(deadline, acceptor.accept(stream)).await {
            Ok(Ok(tls)) => Some(Conn::new(Stream::Tls(Box::new(tls)), slot)),
            Ok(Err(err)) => {
                tracing::debug!(%peer, %err, "tls handshake failed");
                self.metrics.connection_refused("tls_handshake");
                None
            }
            Err(_) => {
                tracing::debug!(%peer, "tls handshake timed out");
                self.metrics.connection_refused("tls_handshake");
                None
            }
        }
    }
}
