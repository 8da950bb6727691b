//! The abuse limits (`[abuse]` in the configuration): password attempts (logins and
//! registrations) per address, failed logins per username, and WebSocket handshakes per
//! address. Addresses count per IPv4 address and per IPv6 /64 (one host usually holds a whole
//! /64). Every refusal is `rate_limited` with the seconds to wait.
//!
//! With several nodes, each node counts what it sees and tells the others (a
//! `CacheSync::Hit` on the bus), which count it too ([`Abuse::hit`]): a guesser spreading
//! attempts over the nodes draws on one budget, give or take the bus's few milliseconds.

use std::net::IpAddr;
use std::time::Duration;

use super::ratelimit::Keyed;
use crate::config::AbuseLimits;
use crate::error::AppError;

/// Which limit a use counts against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Limit {
    /// Password attempts per address.
    Attempts,
    /// Failed logins per username.
    FailedLogin,
    /// WebSocket handshakes per address.
    Handshake,
}

#[derive(Debug)]
pub struct Abuse {
    attempts: Keyed<IpAddr>,
    failed_logins: Keyed<String>,
    handshakes: Keyed<IpAddr>,
}

impl Abuse {
    pub fn new(limits: &AbuseLimits) -> Self {
        let window = Duration::from_secs(limits.failed_login_window_secs).as_secs_f64();
        let failures = f64::from(limits.failed_logins_per_user);
        Self {
            attempts: Keyed::new(
                limits.attempts_per_ip_per_min / 60.0,
                limits.attempts_per_ip_burst,
            ),
            failed_logins: Keyed::new(failures / window, failures),
            handshakes: Keyed::new(
                limits.handshakes_per_ip_per_sec,
                limits.handshakes_per_ip_burst,
            ),
        }
    }

    /// Counts a password login or registration from `from`.
    pub fn attempt(&self, from: IpAddr) -> Result<(), AppError> {
        self.attempts.take(&address_key(from)).map_err(|wait| {
            AppError::rate_limited("too many login attempts from your address", wait)
        })
    }

    /// Whether `username` may try a password now (its failures are not used up).
    pub fn may_try(&self, username: &str) -> Result<(), AppError> {
        self.failed_logins
            .check(&username.to_owned())
            .map_err(|wait| {
                AppError::rate_limited(&format!("too many failed logins as {username}"), wait)
            })
    }

    /// Counts a failed login as `username`.
    pub fn failed(&self, username: &str) {
        let _ = self.failed_logins.take(&username.to_owned());
    }

    /// Counts a use another node saw (`key`: an address key, or a username).
    pub fn hit(&self, limit: Limit, key: &str) {
        match limit {
            Limit::FailedLogin => self.failed(key),
            Limit::Attempts | Limit::Handshake => {
                let Ok(ip) = key.parse::<IpAddr>() else {
                    return;
                };
                let keyed = if limit == Limit::Attempts {
                    &self.attempts
                } else {
                    &self.handshakes
                };
                let _ = keyed.take(&address_key(ip));
            }
        }
    }

    /// Counts a WebSocket handshake from `from`.
    pub fn handshake(&self, from: IpAddr) -> Result<(), AppError> {
        self.handshakes
            .take(&address_key(from))
            .map_err(|wait| AppError::rate_limited("too many connections from your address", wait))
    }
}

/// The key an address is limited by: itself for IPv4 (and IPv4-mapped IPv6), its /64 for IPv6.
pub fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let bits = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(bits.into())
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_counts_per_64_and_mapped_ipv4_as_ipv4() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(address_key(a), address_key(b));
        assert_ne!(address_key(a), address_key(c));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(address_key(mapped), "192.0.2.7".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn failed_logins_per_user_are_bounded_and_successes_do_not_count() {
        let limits = AbuseLimits {
            failed_logins_per_user: 3,
            ..AbuseLimits::default()
        };
        let abuse = Abuse::new(&limits);
        for _ in 0..3 {
            abuse.may_try("alice").unwrap();
            abuse.failed("alice");
        }
        let refused = abuse.may_try("alice").unwrap_err();
        assert_eq!(refused.code, confab_protocol::ErrorCode::RateLimited);
        // One failure back every window / 3 = 200 s.
        let wait = refused.retry_after.unwrap();
        assert!((1..=200).contains(&wait), "{wait}");
        abuse.may_try("bob").unwrap();
    }

    #[test]
    fn uses_seen_by_other_nodes_draw_on_the_same_budget() {
        let limits = AbuseLimits {
            failed_logins_per_user: 2,
            attempts_per_ip_burst: 2.0,
            ..AbuseLimits::default()
        };
        let abuse = Abuse::new(&limits);
        abuse.hit(Limit::FailedLogin, "carol");
        abuse.hit(Limit::FailedLogin, "carol");
        assert!(abuse.may_try("carol").is_err());
        abuse.hit(Limit::Attempts, "192.0.2.1");
        abuse.hit(Limit::Attempts, "192.0.2.1");
        assert!(abuse.attempt("192.0.2.1".parse().unwrap()).is_err());
        // Nonsense from the bus is ignored.
        abuse.hit(Limit::Handshake, "not an address");
    }
}
