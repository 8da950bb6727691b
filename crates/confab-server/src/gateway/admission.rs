//! Connections per client IP address, over the stream transports (WebSocket connections,
//! Server-Sent Events streams, TCP connections), bounded by `session.max_connections_per_ip`.
//! A connection holds an [`IpSlot`] for as long as it lives (an event stream, for as long as
//! its session, grace period included); one more is refused with `rate_limited`.

use std::net::IpAddr;
use std::sync::Arc;

use confab_protocol::ErrorCode;
use dashmap::DashMap;

use crate::error::AppError;

#[derive(Debug, Clone, Default)]
pub struct PerIp {
    open: Arc<DashMap<IpAddr, usize>>,
    max: usize,
}

/// One admitted connection; dropping it frees its place.
#[derive(Debug)]
pub struct IpSlot {
    open: Arc<DashMap<IpAddr, usize>>,
    ip: IpAddr,
}

impl PerIp {
    pub fn new(max: usize) -> Self {
        Self {
            open: Arc::default(),
            max,
        }
    }

    /// A place for one more connection from `ip`, if it has fewer than the limit.
    pub fn admit(&self, ip: IpAddr) -> Result<IpSlot, AppError> {
        let mut open = self.open.entry(ip).or_insert(0);
        if *open >= self.max {
            return Err(AppError::new(
                ErrorCode::RateLimited,
                format!(
                    "too many connections from this address (at most {})",
                    self.max
                ),
            ));
        }
        *open += 1;
        Ok(IpSlot {
            open: self.open.clone(),
            ip,
        })
    }
}

impl Drop for IpSlot {
    fn drop(&mut self) {
        self.open.remove_if_mut(&self.ip, |_, open| {
            *open = open.saturating_sub(1);
            *open == 0
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_are_counted_per_address_while_they_live() {
        let limits = PerIp::new(2);
        let home: IpAddr = "127.0.0.1".parse().unwrap();
        let away: IpAddr = "127.0.0.2".parse().unwrap();
        let a = limits.admit(home).unwrap();
        let _b = limits.admit(home).unwrap();
        let refused = limits.admit(home).unwrap_err();
        assert_eq!(refused.code, ErrorCode::RateLimited);
        let _c = limits.admit(away).unwrap();
        drop(a);
        let _d = limits.admit(home).unwrap();
        drop(_d);
        drop(_b);
        assert!(limits.open.get(&home).is_none());
    }
}
