//! Where a server is: host and port, from `ws://`, `http://` or a bare `host:port`.

use crate::ClientError;

/// A server's address, from which both the REST and the WebSocket URLs follow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `host:port`.
    pub authority: String,
}

impl Endpoint {
    /// Parses `ws://host:port[/ws]`, `http://host:port[/]` or `host:port`.
    pub fn parse(raw: &str) -> Result<Self, ClientError> {
        let rest = ["ws://", "http://"]
            .iter()
            .find_map(|scheme| raw.strip_prefix(scheme))
            .unwrap_or(raw);
        let authority = rest.split('/').next().unwrap_or_default();
        if authority.is_empty() || authority.contains(char::is_whitespace) {
            return Err(ClientError::BadAddress(raw.to_owned()));
        }
        Ok(Self {
            authority: authority.to_owned(),
        })
    }

    /// The WebSocket URL, with an optional token in the query.
    pub fn ws_url(&self, token: Option<&str>) -> String {
        match token {
            Some(token) => format!("ws://{}/ws?token={token}", self.authority),
            None => format!("ws://{}/ws", self.authority),
        }
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
            assert_eq!(Endpoint::parse(raw).unwrap().authority, "127.0.0.1:8080");
        }
        assert!(Endpoint::parse("ws://").is_err());
        assert_eq!(
            Endpoint::parse("localhost:1").unwrap().ws_url(Some("t")),
            "ws://localhost:1/ws?token=t"
        );
    }
}
