//! [`Throttle`]: the counters behind [`ThrottleConfig`]'s limits, shared by every clone of
//! an [`Auth`](crate::Auth), in tables of bounded size.

use std::{
    collections::HashMap,
    hash::Hash,
    net::IpAddr,
    sync::{Mutex, PoisonError},
    time::{Duration, SystemTime},
};

use super::{
    ThrottleConfig,
    keys::{Account, Quota, account_key, client_key},
};

const HOUR: Duration = Duration::from_secs(3600);

#[derive(Clone, Copy, Debug)]
struct Backoff {
    failures: u32,
    last_failure: SystemTime,
    blocked_until: SystemTime,
}

#[derive(Clone, Copy, Debug)]
struct Window {
    start: SystemTime,
    count: u32,
}

/// A table of bounded size: when full, expired entries are dropped, then arbitrary ones.
#[derive(Debug)]
struct Table<K, V> {
    map: HashMap<K, V>,
}

impl<K: Hash + Eq + Copy, V: Copy> Table<K, V> {
    fn new() -> Self {
        Self {
            map: HashMap::new(),
        }
    }

    fn make_room(&mut self, max: usize, expired: impl Fn(&V) -> bool) {
        if self.map.len() < max {
            return;
        }
        self.map.retain(|_, v| !expired(v));
        if self.map.len() >= max {
            // Still full of live entries: drop a tenth, so the sweep is amortised.
            let excess = self.map.len() + 1 - max * 9 / 10;
            let doomed: Vec<K> = self.map.keys().take(excess).copied().collect();
            for k in doomed {
                self.map.remove(&k);
            }
        }
    }
}

#[derive(Debug)]
struct State {
    pairs: Table<(Account, Option<IpAddr>), Backoff>,
    account_failures: Table<Account, Window>,
    client_failures: Table<IpAddr, Window>,
    registrations: Table<IpAddr, Window>,
    /// Request quotas (reset requests, confirmation resends), each family its own counters.
    quota_accounts: Table<(Quota, Account), Window>,
    quota_clients: Table<(Quota, IpAddr), Window>,
}

/// The throttle's state, shared by every clone of an [`Auth`](crate::Auth).
#[derive(Debug)]
pub(crate) struct Throttle {
    config: ThrottleConfig,
    state: Mutex<State>,
}

fn remaining(until: SystemTime, now: SystemTime) -> Duration {
    until.duration_since(now).unwrap_or(Duration::ZERO)
}

/// The backoff after `failures` failures in a row, when they are at least the free ones:
/// the first backoff, doubled for each failure beyond them, up to the longest.
pub(super) fn backoff(config: &ThrottleConfig, failures: u32) -> Duration {
    let doublings = failures
        .saturating_sub(config.free_failures().max(1))
        .min(30);
    config
        .backoff_start()
        .saturating_mul(1u32 << doublings)
        .min(config.backoff_max())
}

fn window_blocks(w: Option<&Window>, limit: u32, now: SystemTime) -> Option<Duration> {
    let w = w?;
    let end = w.start + HOUR;
    (now < end && w.count >= limit).then(|| remaining(end, now))
}

fn window_expired(w: &Window, now: SystemTime) -> bool {
    now >= w.start + HOUR
}

fn bump<K: Hash + Eq + Copy>(table: &mut Table<K, Window>, key: K, now: SystemTime, max: usize) {
    table.make_room(max, |w| window_expired(w, now));
    let w = table.map.entry(key).or_insert(Window {
        start: now,
        count: 0,
    });
    if window_expired(w, now) {
        *w = Window {
            start: now,
            count: 0,
        };
    }
    w.count = w.count.saturating_add(1);
}

impl Throttle {
    pub(crate) fn new(config: ThrottleConfig) -> Self {
        Self {
            config,
            state: Mutex::new(State {
                pairs: Table::new(),
                account_failures: Table::new(),
                client_failures: Table::new(),
                registrations: Table::new(),
                quota_accounts: Table::new(),
                quota_clients: Table::new(),
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The keys of an attempt on `email` from `client`; `None` when throttling is off.
    fn keys(&self, email: &str, client: Option<IpAddr>) -> Option<(Account, Option<IpAddr>)> {
        self.config
            .enabled()
            .then(|| (account_key(email), client.map(client_key)))
    }

    /// Whether an attempt on `email` from `client` may proceed; if not, for how long it is
    /// held back.
    pub(crate) fn check_failures(
        &self,
        email: &str,
        client: Option<IpAddr>,
        now: SystemTime,
    ) -> Result<(), Duration> {
        let Some((account, client)) = self.keys(email, client) else {
            return Ok(());
        };
        let state = self.state();
        let mut wait = Duration::ZERO;
        if let Some(b) = state.pairs.map.get(&(account, client)) {
            wait = wait.max(remaining(b.blocked_until, now));
        }
        if let Some(w) = window_blocks(
            state.account_failures.map.get(&account),
            self.config.account_failures_per_hour(),
            now,
        ) {
            wait = wait.max(w);
        }
        let per_client = client.and_then(|ip| {
            window_blocks(
                state.client_failures.map.get(&ip),
                self.config.client_failures_per_hour(),
                now,
            )
        });
        if let Some(w) = per_client {
            wait = wait.max(w);
        }
        if wait.is_zero() { Ok(()) } else { Err(wait) }
    }

    /// Counts a failed attempt.
    pub(crate) fn record_failure(&self, email: &str, client: Option<IpAddr>, now: SystemTime) {
        let Some((account, client)) = self.keys(email, client) else {
            return;
        };
        let config = &self.config;
        let max = config.max_entries();
        let mut state = self.state();
        let idle = config.backoff_max() + HOUR;
        state.pairs.make_room(max, |b| now >= b.last_failure + idle);
        let entry = state.pairs.map.entry((account, client)).or_insert(Backoff {
            failures: 0,
            last_failure: now,
            blocked_until: now,
        });
        if now >= entry.last_failure + idle {
            entry.failures = 0;
        }
        entry.failures = entry.failures.saturating_add(1);
        entry.last_failure = now;
        if entry.failures >= config.free_failures().max(1) {
            entry.blocked_until = now + backoff(config, entry.failures);
        }
        bump(&mut state.account_failures, account, now, max);
        if let Some(ip) = client {
            bump(&mut state.client_failures, ip, now, max);
        }
    }

    /// A successful attempt clears the backoff of its (account, client) pair; the ceilings
    /// keep their counts.
    pub(crate) fn record_success(&self, email: &str, client: Option<IpAddr>) {
        if let Some(pair) = self.keys(email, client) {
            self.state().pairs.map.remove(&pair);
        }
    }

    /// Counts a registration from `client`, or says how long it must wait.
    pub(crate) fn registration(
        &self,
        client: Option<IpAddr>,
        now: SystemTime,
    ) -> Result<(), Duration> {
        let client = client.map(client_key);
        let (true, Some(ip)) = (self.config.enabled(), client) else {
            return Ok(());
        };
        let mut state = self.state();
        if let Some(w) = window_blocks(
            state.registrations.map.get(&ip),
            self.config.registrations_per_client_per_hour(),
            now,
        ) {
            return Err(w);
        }
        bump(&mut state.registrations, ip, now, self.config.max_entries());
        Ok(())
    }

    /// Counts a request of the quota `family` (a reset request, a confirmation resend) for
    /// `email` from `client`, or says how long it must wait. Each family counts apart, with
    /// the per-email and per-client limits of reset requests.
    pub(crate) fn quota(
        &self,
        family: Quota,
        email: &str,
        client: Option<IpAddr>,
        now: SystemTime,
    ) -> Result<(), Duration> {
        let Some((account, client)) = self.keys(email, client) else {
            return Ok(());
        };
        let mut state = self.state();
        let mut wait = window_blocks(
            state.quota_accounts.map.get(&(family, account)),
            self.config.reset_requests_per_account_per_hour(),
            now,
        );
        if let Some(ip) = client {
            let w = window_blocks(
                state.quota_clients.map.get(&(family, ip)),
                self.config.reset_requests_per_client_per_hour(),
                now,
            );
            wait = wait.max(w);
        }
        if let Some(w) = wait {
            return Err(w);
        }
        let max = self.config.max_entries();
        bump(&mut state.quota_accounts, (family, account), now, max);
        if let Some(ip) = client {
            bump(&mut state.quota_clients, (family, ip), now, max);
        }
        Ok(())
    }

    /// How many entries the tables hold, for tests of the memory bound.
    #[cfg(test)]
    fn entries(&self) -> usize {
        let s = self.state();
        s.pairs.map.len()
            + s.account_failures.map.len()
            + s.client_failures.map.len()
            + s.registrations.map.len()
            + s.quota_accounts.map.len()
            + s.quota_clients.map.len()
    }
}

#[cfg(test)]
mod tests {
    use std::{net::Ipv4Addr, time::UNIX_EPOCH};

    use super::*;

    fn ip(n: u32) -> Option<IpAddr> {
        Some(IpAddr::V4(Ipv4Addr::from(n)))
    }

    #[test]
    fn backoff_starts_after_free_failures_and_doubles_to_a_cap() {
        let t = Throttle::new(ThrottleConfig::default());
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
        for _ in 0..4 {
            t.record_failure("bob@x.io", ip(1), now);
            assert_eq!(t.check_failures("bob@x.io", ip(1), now), Ok(()));
        }
        t.record_failure("bob@x.io", ip(1), now);
        assert_eq!(
            t.check_failures("BOB@x.io ", ip(1), now),
            Err(Duration::from_secs(1))
        );
        // Another address is not held back by this pair.
        assert_eq!(t.check_failures("bob@x.io", ip(2), now), Ok(()));
        t.record_failure("bob@x.io", ip(1), now);
        assert_eq!(
            t.check_failures("bob@x.io", ip(1), now),
            Err(Duration::from_secs(2))
        );
        for _ in 0..20 {
            t.record_failure("bob@x.io", ip(1), now);
        }
        assert_eq!(
            t.check_failures("bob@x.io", ip(1), now),
            Err(Duration::from_secs(900))
        );
        let later = now + Duration::from_secs(901);
        assert_eq!(t.check_failures("bob@x.io", ip(1), later), Ok(()));
        t.record_success("bob@x.io", ip(1));
        t.record_failure("bob@x.io", ip(1), later);
        assert_eq!(t.check_failures("bob@x.io", ip(1), later), Ok(()));
    }

    #[test]
    fn per_account_and_per_client_ceilings() {
        let t = Throttle::new(ThrottleConfig::default().with_failure_ceilings(10, 7));
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
        // Seven accounts from one address: the client ceiling.
        for i in 0..7 {
            t.record_failure(&format!("u{i}@x.io"), ip(9), now);
        }
        assert!(t.check_failures("fresh@x.io", ip(9), now).is_err());
        assert!(t.check_failures("fresh@x.io", ip(10), now).is_ok());
        // Ten addresses on one account: the account ceiling, from anywhere.
        for i in 0..10 {
            t.record_failure("target@x.io", ip(100 + i), now);
        }
        assert!(t.check_failures("target@x.io", ip(999), now).is_err());
        let later = now + HOUR;
        assert!(t.check_failures("target@x.io", ip(999), later).is_ok());
    }

    #[test]
    fn quotas_for_registration_and_reset_requests() {
        let t = Throttle::new(
            ThrottleConfig::default()
                .with_registrations_per_hour(2)
                .with_reset_requests_per_hour(2, 3),
        );
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
        assert!(t.registration(ip(1), now).is_ok());
        assert!(t.registration(ip(1), now).is_ok());
        assert!(t.registration(ip(1), now).is_err());
        assert!(t.registration(ip(2), now).is_ok());
        let reset = |email: &str, client| t.quota(Quota::ResetRequest, email, client, now);
        assert!(reset("a@x.io", ip(1)).is_ok());
        assert!(reset("a@x.io", ip(2)).is_ok());
        assert!(reset("a@x.io", ip(3)).is_err());
        assert!(reset("b@x.io", ip(1)).is_ok());
        assert!(reset("c@x.io", ip(1)).is_ok());
        assert!(reset("d@x.io", ip(1)).is_err());
        // Confirmation resends count apart, with the same limits.
        let resend = |email: &str, client| t.quota(Quota::ConfirmationResend, email, client, now);
        assert!(resend("a@x.io", ip(4)).is_ok());
        assert!(resend("a@x.io", ip(5)).is_ok());
        assert!(resend("A@x.io ", ip(6)).is_err());
        assert!(reset("a@x.io", ip(7)).is_err());
        // So do email-change tokens, per target address.
        let mail = |email: &str, client| t.quota(Quota::EmailChangeMail, email, client, now);
        assert!(mail("a@x.io", ip(8)).is_ok());
        assert!(mail("A@X.io", ip(9)).is_ok());
        assert!(mail(" a@x.io", ip(10)).is_err());
        assert!(mail("b@x.io", ip(10)).is_ok());
    }

    #[test]
    fn memory_stays_bounded_under_a_spray() {
        let t = Throttle::new(ThrottleConfig::default().with_max_entries(1000));
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
        for i in 0..50_000u32 {
            t.record_failure(&format!("user{i}@x.io"), ip(i), now);
            let _ = t.registration(ip(i), now);
            let _ = t.quota(Quota::ResetRequest, &format!("user{i}@x.io"), ip(i), now);
        }
        assert!(t.entries() <= 6 * 1000, "{}", t.entries());
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_64() {
        let t = Throttle::new(ThrottleConfig::default().with_failure_ceilings(100, 3));
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let addr = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        for (i, a) in ["2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:ffff::3"]
            .iter()
            .enumerate()
        {
            t.record_failure(&format!("v{i}@x.io"), addr(a), now);
        }
        assert!(
            t.check_failures("fresh@x.io", addr("2001:db8:1:2:abcd::9"), now)
                .is_err()
        );
        assert!(
            t.check_failures("fresh@x.io", addr("2001:db8:1:3::1"), now)
                .is_ok()
        );
        assert_eq!(
            client_key("::ffff:192.0.2.1".parse().unwrap()),
            "192.0.2.1".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn disabled_never_throttles() {
        let t = Throttle::new(ThrottleConfig::disabled());
        let now = UNIX_EPOCH;
        for _ in 0..100 {
            t.record_failure("a@x.io", ip(1), now);
        }
        assert!(t.check_failures("a@x.io", ip(1), now).is_ok());
    }
}
