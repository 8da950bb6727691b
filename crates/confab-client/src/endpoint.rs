//! Where a server is: host and port, from `ws://`, `wss://`, `http://`, `https://` or a bare
//! `host:port`, and for the secure schemes the TLS configuration to reach it with.

use std::path::Path;
use std::sync::Arc;

use crate::tls::{self, TlsOptions};
use crate::ClientError;

/// A server's address, from which both the REST and the WebSocket URLs follow.
#[derive(Clone)]
pub struct Endpoint {
    /// `host:port`.
    pub authority: String,
    /// Set for `wss://` and `https://`.
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// Whether the server's certificate goes unchecked (`--insecure`, secure schemes only).
    pub insecure: bool,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("authority", &self.authority)
            .field("tls", &self.tls.is_some())
            .field("insecure", &self.insecure)
            .finish()
    }
}

impl Endpoint {
    /// Parses an address; secure schemes trust the system's roots.
    pub fn parse(raw: &str) -> Result<Self, ClientError> {
        Self::parse_with_ca(raw, None)
    }

    /// Parses an address; secure schemes also trust the certificates in `ca_file`.
    pub fn parse_with_ca(raw: &str, ca_file: Option<&Path>) -> Result<Self, ClientError> {
        Self::parse_with(
            raw,
            TlsOptions {
                ca_file,
                insecure: false,
            },
        )
    }

    /// Parses an address; secure schemes trust certificates as `options` say.
    pub fn parse_with(raw: &str, options: TlsOptions<'_>) -> Result<Self, ClientError> {
        let (secure, rest) = [
            ("ws://", false),
            ("http://", false),
            ("wss://", true),
            ("https://", true),
        ]
        .iter()
        .find_map(|(scheme, secure)| raw.strip_prefix(scheme).map(|rest| (*secure, rest)))
        .unwrap_or((false, raw));
        let authority = rest.split('/').next().unwrap_or_default();
        if authority.is_empty() || authority.contains(char::is_whitespace) {
            return Err(ClientError::BadAddress(raw.to_owned()));
        }
        // `wss://chat.example.com` means port 443, `ws://chat.example.com` port 80.
        let authority = if has_port(authority) {
            authority.to_owned()
        } else {
            format!("{authority}:{}", if secure { 443 } else { 80 })
        };
        let tls = if secure {
            Some(tls::config(options)?)
        } else {
            None
        };
        Ok(Self {
            authority,
            tls,
            insecure: secure && options.insecure,
        })
    }

    /// The host name, for TLS.
    pub fn host(&self) -> &str {
        match self.authority.rsplit_once(':') {
            Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) => {
                host.trim_start_matches('[').trim_end_matches(']')
            }
            _ => &self.authority,
        }
    }

    /// The WebSocket URL, with an optional token in the query.
    pub fn ws_url(&self, token: Option<&str>) -> String {
        let scheme = if self.tls.is_some() { "wss" } else { "ws" };
        match token {
            Some(token) => format!("{scheme}://{}/ws?token={token}", self.authority),
            None => format!("{scheme}://{}/ws", self.authority),
        }
    }
}

/// Whether `authority` ends in a port (`host:8080`, `[::1]:8080`; not `[::1]` or `host`).
fn has_port(authority: &str) -> bool {
    match authority.rsplit_once(':') {
        Some((host, port)) => {
            !port.is_empty()
                && port.chars().all(|c| c.is_ascii_digit())
                && (!host.contains(':') || host.ends_with(']'))
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_usual_forms() {
        for raw in [
            "ws://127.0.0.1:8080/ws",
            "http://127.0.0.1:8080",
            "127.0.0.1:8080",
        ] {
            let endpoint = Endpoint::parse(raw).unwrap();
            assert_eq!(endpoint.authority, "127.0.0.1:8080");
            assert!(endpoint.tls.is_none());
        }
        assert!(Endpoint::parse("ws://").is_err());
        assert_eq!(
            Endpoint::parse("localhost:1").unwrap().ws_url(Some("t")),
            "ws://localhost:1/ws?token=t"
        );
        let secure = Endpoint::parse("wss://chat.example:443").unwrap();
        assert_eq!(secure.ws_url(None), "wss://chat.example:443/ws");
        assert_eq!(secure.host(), "chat.example");
        assert!(!secure.insecure);
        assert_eq!(
            Endpoint::parse("wss://chat.example").unwrap().authority,
            "chat.example:443"
        );
        assert_eq!(
            Endpoint::parse("https://chat.example/").unwrap().authority,
            "chat.example:443"
        );
        assert_eq!(
            Endpoint::parse("ws://chat.example").unwrap().authority,
            "chat.example:80"
        );
        assert_eq!(Endpoint::parse("ws://[::1]").unwrap().authority, "[::1]:80");
        let v6 = Endpoint::parse("wss://[::1]:8443").unwrap();
        assert_eq!((v6.authority.as_str(), v6.host()), ("[::1]:8443", "::1"));
        let options = TlsOptions {
            ca_file: None,
            insecure: true,
        };
        assert!(
            Endpoint::parse_with("wss://chat.example", options)
                .unwrap()
                .insecure
        );
        assert!(
            !Endpoint::parse_with("ws://chat.example", options)
                .unwrap()
                .insecure,
            "nothing to skip without TLS"
        );
    }
}
