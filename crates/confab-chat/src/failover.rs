//! Several servers for one deployment (`confab chat ws://a,ws://b` or `--server` repeated):
//! [`Servers`] says which one to try next. A connection that drops or a connect that fails moves
//! on to the next one, round robin; the session waits its backoff before each try, and the
//! backoff only grows once a whole round has failed, so a dead node costs one short wait, not
//! a growing one. The session logs in again with the same token and resumes from its cursors
//! wherever it lands, so nothing is missed and nothing is shown twice.

use confab_client::{ClientError, Endpoint, TlsOptions};

/// The servers in the order given, and where the session stands among them.
#[derive(Debug, Clone)]
pub struct Servers {
    list: Vec<Endpoint>,
    at: usize,
    /// Tries that failed since the last connection or the last whole failed round.
    failed: usize,
}

impl Servers {
    /// At least one endpoint.
    pub fn new(list: Vec<Endpoint>) -> Option<Self> {
        (!list.is_empty()).then_some(Self {
            list,
            at: 0,
            failed: 0,
        })
    }

    /// Parses every address (each may hold several, comma-separated); empty ones are skipped.
    pub fn parse<S: AsRef<str>>(raw: &[S], options: TlsOptions<'_>) -> Result<Self, ClientError> {
        let mut list = Vec::new();
        for address in raw.iter().flat_map(|r| r.as_ref().split(',')) {
            let address = address.trim();
            if !address.is_empty() {
                list.push(Endpoint::parse_with(address, options)?);
            }
        }
        Self::new(list).ok_or_else(|| ClientError::BadAddress(String::new()))
    }

    /// The server to try now.
    pub fn current(&self) -> &Endpoint {
        &self.list[self.at]
    }

    pub fn all(&self) -> &[Endpoint] {
        &self.list
    }

    /// A session is up on the current server.
    pub fn connected(&mut self) {
        self.failed = 0;
    }

    /// The current server failed (or its connection dropped): moves on to the next. Returns
    /// whether a whole round has now failed, so the backoff should grow.
    pub fn failed(&mut self) -> bool {
        self.at = (self.at + 1) % self.list.len();
        self.failed += 1;
        if self.failed < self.list.len() {
            return false;
        }
        self.failed = 0;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn servers(raw: &[&str]) -> Servers {
        Servers::parse(raw, TlsOptions::default()).unwrap()
    }

    #[test]
    fn addresses_come_repeated_or_comma_separated() {
        let all = servers(&["ws://a:1,ws://b:2", " ws://c:3 ", ""]);
        let names: Vec<_> = all.all().iter().map(|e| e.authority.as_str()).collect();
        assert_eq!(names, ["a:1", "b:2", "c:3"]);
        assert!(Servers::parse(&[",", ""], TlsOptions::default()).is_err());
        assert!(Servers::parse(&["ws://a:1,ws:// b"], TlsOptions::default()).is_err());
    }

    #[test]
    fn failures_go_round_robin_and_grow_the_backoff_once_a_round() {
        let mut all = servers(&["ws://a:1,ws://b:2,ws://c:3"]);
        assert_eq!(all.current().authority, "a:1");
        assert!(!all.failed());
        assert_eq!(all.current().authority, "b:2");
        assert!(!all.failed());
        assert!(all.failed(), "a, b and c failed: back off");
        assert_eq!(all.current().authority, "a:1");
        all.connected();
        assert!(!all.failed(), "a connection starts a new round");
        assert_eq!(all.current().authority, "b:2");

        let mut one = servers(&["ws://a:1"]);
        assert!(
            one.failed(),
            "one server: every failure backs off, as before"
        );
        assert_eq!(one.current().authority, "a:1");
    }
}
