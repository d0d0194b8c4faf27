//! Caps on concurrent connections: in total, and per client address.

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::{Arc, Mutex, PoisonError},
};

use crate::throttle::client_key;

/// How many connections each client address holds, capped.
#[derive(Clone, Debug)]
pub(crate) struct PerClient {
    cap: usize,
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

impl PerClient {
    pub(crate) fn new(cap: usize) -> Self {
        Self {
            cap: cap.max(1),
            open: Arc::default(),
        }
    }

    /// A slot for one more connection from `ip`, or `None` if it holds `cap` already. The
    /// slot is given back when dropped.
    pub(crate) fn enter(&self, ip: IpAddr) -> Option<Slot> {
        // Counted as the throttle counts clients: an IPv6 host by its /64, which it can roam
        // at will, and an IPv4-mapped address as IPv4.
        let ip = client_key(ip);
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let count = open.entry(ip).or_insert(0);
        if *count >= self.cap {
            return None;
        }
        *count += 1;
        Some(Slot {
            ip,
            open: Arc::clone(&self.open),
        })
    }
}

/// One connection's place in [`PerClient`].
#[derive(Debug)]
pub(crate) struct Slot {
    ip: IpAddr,
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = open.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_address_is_capped_and_slots_come_back() {
        let caps = PerClient::new(2);
        let a: IpAddr = "127.0.0.2".parse().unwrap();
        let mapped: IpAddr = "::ffff:127.0.0.2".parse().unwrap();
        let b: IpAddr = "127.0.0.1".parse().unwrap();
        let first = caps.enter(a).expect("first");
        let _second = caps.enter(mapped).expect("second, the same client");
        assert!(caps.enter(a).is_none(), "a third is refused");
        assert!(caps.enter(b).is_some(), "another client is not");
        let host: IpAddr = "2001:db8::1".parse().unwrap();
        let same_64: IpAddr = "2001:db8::ffff:2".parse().unwrap();
        let _h = caps.enter(host).expect("an IPv6 host");
        let _h2 = caps.enter(same_64).expect("the same /64");
        assert!(
            caps.enter("2001:db8::3".parse().unwrap()).is_none(),
            "its /64 is one client"
        );
        assert!(
            caps.enter("2001:db8:0:1::1".parse().unwrap()).is_some(),
            "another /64 is not"
        );
        drop(first);
        assert!(caps.enter(a).is_some(), "a slot came back");
        assert!(caps.open.lock().unwrap().len() <= 4);
    }
}
