//! Connections open at once per address: [`PerIp::admit`] counts a new connection in, or
//! refuses it when its address has `max` open already; the [`Slot`] it hands out counts it out
//! when dropped (with the connection, upgraded or not). IPv6 addresses count by their /64,
//! the block one site usually has; an IPv4-mapped IPv6 address counts as its IPv4 address.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex};

/// The open connections of every address. Cheap to clone; clones share the counts.
#[derive(Clone, Debug)]
pub struct PerIp {
    max: usize,
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

/// One counted connection; dropping it counts the connection out.
#[derive(Debug)]
pub struct Slot {
    key: IpAddr,
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

impl PerIp {
    pub fn new(max: usize) -> Self {
        Self {
            max,
            open: Arc::default(),
        }
    }

    /// Counts a connection from `ip` in, or `None` if its address is at the limit.
    pub fn admit(&self, ip: IpAddr) -> Option<Slot> {
        let key = key_of(ip);
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let count = open.entry(key).or_insert(0);
        if *count >= self.max {
            return None;
        }
        *count += 1;
        Some(Slot {
            key,
            open: self.open.clone(),
        })
    }

    /// Connections open from `ip`'s address now.
    pub fn open(&self, ip: IpAddr) -> usize {
        let open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        open.get(&key_of(ip)).copied().unwrap_or(0)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = open.get_mut(&self.key) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.key);
            }
        }
    }
}

/// What an address is counted as.
fn key_of(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_in_refuses_over_the_limit_and_counts_out_on_drop() {
        let per_ip = PerIp::new(2);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let first = per_ip.admit(a).unwrap();
        let _second = per_ip.admit(a).unwrap();
        assert!(per_ip.admit(a).is_none(), "a third from the same address");
        let _other = per_ip.admit(b).expect("another address has its own count");
        drop(first);
        assert_eq!(per_ip.open(a), 1);
        assert!(per_ip.admit(a).is_some());
    }

    #[test]
    fn ipv6_counts_by_its_64_and_mapped_ipv4_as_ipv4() {
        let per_ip = PerIp::new(1);
        let _one = per_ip.admit("2001:db8:1:2::1".parse().unwrap()).unwrap();
        assert!(per_ip
            .admit("2001:db8:1:2:ffff::9".parse().unwrap())
            .is_none());
        assert!(per_ip.admit("2001:db8:1:3::1".parse().unwrap()).is_some());
        let _v4 = per_ip.admit("198.51.100.7".parse().unwrap()).unwrap();
        assert!(per_ip
            .admit("::ffff:198.51.100.7".parse().unwrap())
            .is_none());
        // The /64 and the IPv4 address; the slot given back left no entry behind.
        assert_eq!(per_ip.open.lock().unwrap().len(), 2);
    }
}
