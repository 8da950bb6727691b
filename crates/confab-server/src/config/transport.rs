//! The `[tls]` and `[transport]` sections: the certificate the listeners serve and how it is
//! reloaded, and the limits every accepted connection meets before HTTP or the TCP gateway
//! sees a byte of it (connections per address, the TLS handshake and request head deadlines).

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::ConfigError;

/// TLS for the HTTP listener (https and wss) and the TCP gateway. Off unless both files are
/// set.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsSettings {
    /// PEM file with the certificate chain, leaf first (`--tls-cert`, `CONFAB_TLS_CERT`).
    pub cert: Option<PathBuf>,
    /// PEM file with the private key: PKCS#8, PKCS#1 (RSA) or SEC1 (EC) (`--tls-key`,
    /// `CONFAB_TLS_KEY`).
    pub key: Option<PathBuf>,
    /// Seconds between two looks at the files; a changed pair is loaded, a bad one logged and
    /// the old certificate kept. 0 reloads on SIGHUP only. Default 1.
    pub reload_interval_secs: u64,
    /// `max-age` of the `Strict-Transport-Security` header every response carries with TLS
    /// on. Default 31536000 (a year).
    pub hsts_max_age_secs: u64,
}

impl Default for TlsSettings {
    fn default() -> Self {
        Self {
            cert: None,
            key: None,
            reload_interval_secs: 1,
            hsts_max_age_secs: 365 * 24 * 3600,
        }
    }
}

impl TlsSettings {
    /// Whether the listeners speak TLS.
    pub fn enabled(&self) -> bool {
        self.cert.is_some() && self.key.is_some()
    }

    /// How often the files are polled; `None` for SIGHUP only.
    pub fn reload_interval(&self) -> Option<Duration> {
        (self.reload_interval_secs > 0).then(|| Duration::from_secs(self.reload_interval_secs))
    }

    /// The `Strict-Transport-Security` value.
    pub fn hsts(&self) -> String {
        format!("max-age={}", self.hsts_max_age_secs)
    }

    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.cert.is_some() != self.key.is_some() {
            return Err(ConfigError::Invalid(
                "tls.cert and tls.key go together: set both or neither".into(),
            ));
        }
        Ok(())
    }
}

/// Limits on connections, applied as they are accepted, on the HTTP listener and the TCP
/// gateway alike.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TransportLimits {
    /// Connections open at once from one address (IPv6: one /64), over HTTP, WebSocket and
    /// the TCP gateway together; one more is closed at once. Behind a reverse proxy every
    /// connection comes from the proxy: raise it. Default 256.
    pub max_connections_per_ip: usize,
    /// Seconds a client has to send a whole HTTP request head, counted from the connection
    /// (or the end of the previous request); a slower one is dropped. Default 10.
    pub header_timeout_secs: u64,
    /// Seconds a TLS handshake may take. Default 10.
    pub tls_handshake_timeout_secs: u64,
}

impl Default for TransportLimits {
    fn default() -> Self {
        Self {
            max_connections_per_ip: 256,
            header_timeout_secs: 10,
            tls_handshake_timeout_secs: 10,
        }
    }
}

impl TransportLimits {
    pub fn header_timeout(&self) -> Duration {
        Duration::from_secs(self.header_timeout_secs)
    }

    pub fn tls_handshake_timeout(&self) -> Duration {
        Duration::from_secs(self.tls_handshake_timeout_secs)
    }

    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.max_connections_per_ip == 0
            || self.header_timeout_secs == 0
            || self.tls_handshake_timeout_secs == 0
        {
            return Err(ConfigError::Invalid(
                "transport limits must be positive".into(),
            ));
        }
        Ok(())
    }
}

/// Each allowed origin must be what a browser sends: `http://` or `https://` and a host, with
/// an optional port and nothing after it (a trailing `/` would never match).
pub(super) fn validate_origins(origins: &[String]) -> Result<(), ConfigError> {
    for origin in origins {
        let authority = origin
            .strip_prefix("https://")
            .or_else(|| origin.strip_prefix("http://"));
        let fine = authority.is_some_and(|a| {
            !a.is_empty() && !a.contains(['/', '?', '#', ' ', '@']) && !a.starts_with(':')
        });
        if !fine {
            return Err(ConfigError::Invalid(format!(
                "allowed origin {origin:?} is not scheme://host[:port] (http or https, no path)"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    #[test]
    fn tls_needs_both_files_and_transport_limits_are_positive() {
        let config: Config = toml::from_str("[tls]\ncert = \"c.pem\"\n").unwrap();
        assert!(!config.tls.enabled());
        assert!(config.validate().is_err());
        let config: Config =
            toml::from_str("[tls]\ncert = \"c.pem\"\nkey = \"k.pem\"\nreload_interval_secs = 0\n")
                .unwrap();
        assert!(config.tls.enabled());
        assert_eq!(config.tls.reload_interval(), None);
        assert_eq!(config.tls.hsts(), "max-age=31536000");
        config.validate().unwrap();
        let config: Config = toml::from_str("[transport]\nheader_timeout_secs = 3\n").unwrap();
        assert_eq!(config.transport.header_timeout_secs, 3);
        assert_eq!(config.transport.max_connections_per_ip, 256);
        config.validate().unwrap();
        let config: Config = toml::from_str("[transport]\nmax_connections_per_ip = 0\n").unwrap();
        assert!(config.validate().is_err());
    }

    #[test]
    fn allowed_origins_must_look_like_what_browsers_send() {
        let mut config = Config::default();
        for good in [
            "https://chat.example.com",
            "http://127.0.0.1:8080",
            "https://ab12.ngrok-free.app",
        ] {
            config.allowed_origins = vec![good.into()];
            config.validate().unwrap();
        }
        for bad in [
            "chat.example.com",
            "https://chat.example.com/",
            "https://",
            "ftp://chat.example.com",
            "https://chat.example.com/path",
        ] {
            config.allowed_origins = vec![bad.into()];
            assert!(config.validate().is_err(), "{bad}");
        }
    }
}
