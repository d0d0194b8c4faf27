//! [`Throttle`]: the counters behind [`ThrottleConfig`]'s limits in this process's memory,
//! shared by every clone of an [`Auth`](crate::Auth), in tables of bounded size.
//!
//! An attempt is reserved with the limit check, in one critical section ([`Throttle::reserve`]),
//! and counts as in flight until it ends ([`Throttle::end`]): a failure turns it into a
//! counted failure, a success or a release takes it back. Every limit counts the attempts
//! in flight with its failures, so that however many attempts arrive at once, no more are
//! let through to the check of the secret than the limits allow; an attempt that only the
//! attempts in flight hold back is told to wait ([`Reserve::Wait`]) for one of them to end
//! ([`Throttle::ended`]).

use std::{
    net::IpAddr,
    sync::{Mutex, PoisonError},
    time::{Duration, SystemTime},
};

use tokio::sync::Notify;

use super::{
    ThrottleConfig,
    keys::{Account, Quota, account_key, client_key},
    table::{HOUR, Held, Table, Window, bump, remaining, window, window_blocks, window_expired},
};

/// How long the per-account count of consecutive failures lasts after the last of them:
/// a day (see the module documentation of [`crate::throttle`]).
pub(super) const CONSECUTIVE_DECAY: Duration = Duration::from_secs(24 * 3600);

#[derive(Clone, Copy, Debug)]
struct Backoff {
    failures: u32,
    last_failure: SystemTime,
    blocked_until: SystemTime,
    in_flight: u32,
}

impl Held for Backoff {
    fn held(&self) -> bool {
        self.in_flight > 0
    }
}

/// Consecutive failures on an account, forgotten [`CONSECUTIVE_DECAY`] after the last.
#[derive(Clone, Copy, Debug)]
struct Consecutive {
    failures: u32,
    last_failure: SystemTime,
    in_flight: u32,
}

impl Held for Consecutive {
    fn held(&self) -> bool {
        self.in_flight > 0
    }
}

impl Consecutive {
    fn live_failures(&self, now: SystemTime) -> u32 {
        if now >= self.last_failure + CONSECUTIVE_DECAY {
            0
        } else {
            self.failures
        }
    }
}

#[derive(Debug)]
struct State {
    pairs: Table<(Account, Option<IpAddr>), Backoff>,
    account_failures: Table<Account, Consecutive>,
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
    ended: Notify,
}

/// What [`Throttle::reserve`] decided.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Reserve {
    /// Let through, and counted as in flight until [`Throttle::end`].
    Granted(Reservation),
    /// Held back only by attempts in flight: ask again when one ends.
    Wait,
    /// Held back by failures counted: for this long.
    Refused(Duration),
}

/// The keys of an attempt in flight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Reservation {
    account: Account,
    client: Option<IpAddr>,
    /// Whether the per-account ceiling counts it (not a token from the mailbox).
    per_account: bool,
}

/// How an attempt in flight ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// A wrong secret: a failure for every limit.
    Failure,
    /// The right secrets: the (account, client) backoff and the account's consecutive
    /// failures start again.
    Success,
    /// Neither (an error, a conflict): it counts for nothing.
    Release,
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

/// Folds one limit's verdict into `refused` (the longest wait of the limits that hold the
/// attempt back) and `wait` (a limit that only attempts in flight fill).
fn assess(counted: u32, in_flight: u32, limit: u32, until: SystemTime, now: SystemTime) -> Verdict {
    if counted >= limit {
        Verdict::Refused(remaining(until, now).max(Duration::from_secs(1)))
    } else if counted.saturating_add(in_flight) >= limit {
        Verdict::Wait
    } else {
        Verdict::Free
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verdict {
    Free,
    Wait,
    Refused(Duration),
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
            ended: Notify::new(),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Notified (every waiter) each time an attempt in flight ends.
    pub(crate) fn ended(&self) -> &Notify {
        &self.ended
    }

    /// The idle time after which a pair's failures are forgotten.
    fn pair_idle(&self) -> Duration {
        self.config.backoff_max() + HOUR
    }

    /// Checks every limit for an attempt on `email` from `client` and, if none holds it
    /// back, reserves it (counted as in flight), in one critical section. `per_account`:
    /// whether the per-account ceiling applies (not to a token from the account's mailbox).
    pub(crate) fn reserve(
        &self,
        email: &str,
        client: Option<IpAddr>,
        now: SystemTime,
        per_account: bool,
    ) -> Reserve {
        let (account, client) = (account_key(email), client.map(client_key));
        let config = &self.config;
        let mut state = self.state();
        let mut verdicts = Vec::with_capacity(4);
        let idle = self.pair_idle();
        if let Some(b) = state.pairs.map.get(&(account, client)) {
            let failures = if now >= b.last_failure + idle {
                0
            } else {
                b.failures
            };
            let wait = remaining(b.blocked_until, now);
            if failures > 0 && !wait.is_zero() {
                verdicts.push(Verdict::Refused(wait));
            }
            // Within the free failures, as many in flight as are left of them; beyond
            // them (the backoff over), one at a time.
            let free = config.free_failures().max(1);
            verdicts.push(assess(
                0,
                b.in_flight,
                free.saturating_sub(failures).max(1),
                now,
                now,
            ));
        }
        if per_account {
            let limit = config.account_failures_per_hour();
            let (failures, in_flight, until) = match state.account_failures.map.get(&account) {
                Some(c) => (
                    c.live_failures(now),
                    c.in_flight,
                    c.last_failure + CONSECUTIVE_DECAY,
                ),
                None => (0, 0, now + CONSECUTIVE_DECAY),
            };
            verdicts.push(assess(failures, in_flight, limit, until, now));
        }
        if let Some(ip) = client {
            let limit = config.client_failures_per_hour();
            let (count, in_flight, until) = match state.client_failures.map.get(&ip) {
                Some(w) if !window_expired(w, now) => (w.count, w.in_flight, w.start + HOUR),
                Some(w) => (0, w.in_flight, now + HOUR),
                None => (0, 0, now + HOUR),
            };
            verdicts.push(assess(count, in_flight, limit, until, now));
        }
        let refused = verdicts
            .iter()
            .filter_map(|v| match v {
                Verdict::Refused(wait) => Some(*wait),
                _ => None,
            })
            .max();
        if let Some(wait) = refused {
            return Reserve::Refused(wait);
        }
        if verdicts.contains(&Verdict::Wait) {
            return Reserve::Wait;
        }
        let max = config.max_entries();
        let pair = pair_entry(&mut state.pairs, (account, client), now, idle, max);
        pair.in_flight += 1;
        if per_account {
            account_entry(&mut state.account_failures, account, now, max).in_flight += 1;
        }
        if let Some(ip) = client {
            window(&mut state.client_failures, ip, now, max).in_flight += 1;
        }
        Reserve::Granted(Reservation {
            account,
            client,
            per_account,
        })
    }

    /// Ends the attempt in flight `reservation` with `outcome` at `now`, and wakes the
    /// attempts waiting.
    pub(crate) fn end(&self, reservation: Reservation, outcome: Outcome, now: SystemTime) {
        let Reservation {
            account,
            client,
            per_account,
        } = reservation;
        {
            let mut state = self.state();
            let state = &mut *state;
            if let Some(b) = state.pairs.map.get_mut(&(account, client)) {
                b.in_flight = b.in_flight.saturating_sub(1);
            }
            if per_account && let Some(c) = state.account_failures.map.get_mut(&account) {
                c.in_flight = c.in_flight.saturating_sub(1);
            }
            if let Some(w) = client.and_then(|ip| state.client_failures.map.get_mut(&ip)) {
                w.in_flight = w.in_flight.saturating_sub(1);
            }
            match outcome {
                Outcome::Failure => self.record_failure_in(state, reservation, now),
                Outcome::Success => clear_in(state, account, client),
                Outcome::Release => {}
            }
        }
        self.ended.notify_waiters();
    }

    fn record_failure_in(&self, state: &mut State, reservation: Reservation, now: SystemTime) {
        let Reservation {
            account,
            client,
            per_account,
        } = reservation;
        let config = &self.config;
        let max = config.max_entries();
        let entry = pair_entry(
            &mut state.pairs,
            (account, client),
            now,
            self.pair_idle(),
            max,
        );
        entry.failures = entry.failures.saturating_add(1);
        entry.last_failure = now;
        if entry.failures >= config.free_failures().max(1) {
            entry.blocked_until = now + backoff(config, entry.failures);
        }
        if per_account {
            let c = account_entry(&mut state.account_failures, account, now, max);
            c.failures = c.failures.saturating_add(1);
            c.last_failure = now;
        }
        if let Some(ip) = client {
            bump(&mut state.client_failures, ip, now, max);
        }
    }

    /// A success that was not reserved (a trusted device's attempt): the backoff of its
    /// (account, client) pair and the account's consecutive failures start again; the
    /// per-client ceiling keeps its count.
    pub(crate) fn clear(&self, email: &str, client: Option<IpAddr>) {
        if self.config.enabled() {
            clear_in(
                &mut self.state(),
                account_key(email),
                client.map(client_key),
            );
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
        if !self.config.enabled() {
            return Ok(());
        }
        let (account, client) = (account_key(email), client.map(client_key));
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

    /// Whether an attempt on `email` from `client` would be let through at once; if not,
    /// for how long it is held back (`ZERO`: only by attempts in flight). Reserves nothing.
    #[cfg(test)]
    fn check_failures(
        &self,
        email: &str,
        client: Option<IpAddr>,
        now: SystemTime,
    ) -> Result<(), Duration> {
        match self.reserve(email, client, now, true) {
            Reserve::Granted(r) => {
                self.end(r, Outcome::Release, now);
                Ok(())
            }
            Reserve::Wait => Err(Duration::ZERO),
            Reserve::Refused(wait) => Err(wait),
        }
    }

    /// Counts a failed attempt (reserved and failed at once).
    #[cfg(test)]
    fn record_failure(&self, email: &str, client: Option<IpAddr>, now: SystemTime) {
        let reservation = Reservation {
            account: account_key(email),
            client: client.map(client_key),
            per_account: true,
        };
        if self.config.enabled() {
            self.record_failure_in(&mut self.state(), reservation, now);
        }
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

/// The pair's entry, made if absent, its failures forgotten after `idle` without one.
fn pair_entry(
    pairs: &mut Table<(Account, Option<IpAddr>), Backoff>,
    key: (Account, Option<IpAddr>),
    now: SystemTime,
    idle: Duration,
    max: usize,
) -> &mut Backoff {
    pairs.make_room(max, |b| now >= b.last_failure + idle);
    let entry = pairs.map.entry(key).or_insert(Backoff {
        failures: 0,
        last_failure: now,
        blocked_until: now,
        in_flight: 0,
    });
    if now >= entry.last_failure + idle {
        entry.failures = 0;
    }
    entry
}

/// The account's entry, made if absent, its failures forgotten after the decay.
fn account_entry(
    accounts: &mut Table<Account, Consecutive>,
    account: Account,
    now: SystemTime,
    max: usize,
) -> &mut Consecutive {
    accounts.make_room(max, |c| c.live_failures(now) == 0);
    let entry = accounts.map.entry(account).or_insert(Consecutive {
        failures: 0,
        last_failure: now,
        in_flight: 0,
    });
    entry.failures = entry.live_failures(now);
    entry
}

/// A success: the pair's failures and the account's consecutive failures start again
/// (entries that attempts in flight hold are kept, with no failures).
fn clear_in(state: &mut State, account: Account, client: Option<IpAddr>) {
    let pair = (account, client);
    match state.pairs.map.get_mut(&pair) {
        Some(b) if b.in_flight > 0 => {
            b.failures = 0;
            b.blocked_until = b.last_failure;
        }
        Some(_) => {
            state.pairs.map.remove(&pair);
        }
        None => {}
    }
    match state.account_failures.map.get_mut(&account) {
        Some(c) if c.in_flight > 0 => c.failures = 0,
        Some(_) => {
            state.account_failures.map.remove(&account);
        }
        None => {}
    }
}

#[cfg(test)]
mod tests {
    use std::{net::Ipv4Addr, time::UNIX_EPOCH};

    use super::*;
    use crate::throttle::Limits;

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
        t.clear("bob@x.io", ip(1));
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
        // The client's ceiling is per hour; the account's counts failures in a row, until
        // a day after the last.
        let later = now + HOUR;
        assert!(t.check_failures("fresh@x.io", ip(9), later).is_ok());
        assert!(t.check_failures("target@x.io", ip(999), later).is_err());
        let later = now + CONSECUTIVE_DECAY;
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

    /// Whom the attempts of [`parallel_failures`] are on and from.
    #[derive(Clone, Copy, Debug)]
    enum Spread {
        /// One account, one client.
        Pair,
        /// One account, a client each.
        Clients,
        /// An account each, one client.
        Accounts,
    }

    /// `PARALLEL` attempts released together on `limits`, spread as `spread` over keys of
    /// their own (`round`), each checking for a while and failing: how many were let through.
    async fn parallel_failures(
        limits: &std::sync::Arc<Limits>,
        spread: Spread,
        round: u32,
        now: SystemTime,
    ) -> usize {
        const PARALLEL: u32 = 48;
        let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(PARALLEL as usize));
        let base = 1000 * (round + 1) * 64;
        let tasks: Vec<_> = (0..PARALLEL)
            .map(|i| {
                let (limits, barrier) = (limits.clone(), barrier.clone());
                let (email, client) = match spread {
                    Spread::Pair => (format!("pair{round}@x.io"), ip(base)),
                    Spread::Clients => (format!("account{round}@x.io"), ip(base + 1 + i)),
                    Spread::Accounts => (format!("spray{round}-{i}@x.io"), ip(base + 999)),
                };
                tokio::spawn(async move {
                    barrier.wait().await;
                    match limits.attempt(&email, client, now).await.expect("memory") {
                        Ok(attempt) => {
                            // The check of the secret (bcrypt, a code): other attempts
                            // arrive meanwhile.
                            tokio::time::sleep(Duration::from_millis(5)).await;
                            limits.failed(attempt, now);
                            1
                        }
                        Err(_) => 0,
                    }
                })
            })
            .collect();
        let mut through = 0;
        for task in tasks {
            through += task.await.expect("no panic");
        }
        through
    }

    /// However many attempts arrive at once, on many threads, no more are let through to
    /// the check than the free failures of the (account, client) pair, the per-account
    /// ceiling across clients, and the per-client ceiling across accounts: each attempt is
    /// reserved with the limit check. Many rounds, each on fresh keys.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn reservations_never_exceed_the_free_failures_nor_the_ceilings() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let low_ceilings = ThrottleConfig::default()
            .with_free_failures(5)
            .with_failure_ceilings(4, 3);
        let cases = [
            // The lowest limit binds: one client on one account, the client's ceiling;
            // many clients on one account, the account's; one client on many accounts,
            // the client's again; with high ceilings, the pair's free failures.
            (low_ceilings.clone(), Spread::Pair, 3),
            (low_ceilings.clone(), Spread::Clients, 4),
            (low_ceilings, Spread::Accounts, 3),
            (ThrottleConfig::default(), Spread::Pair, 5),
        ];
        for (config, spread, limit) in cases {
            let limits = std::sync::Arc::new(Limits::new(config, None));
            for round in 0..10 {
                let through = parallel_failures(&limits, spread, round, now).await;
                assert_eq!(through, limit, "{spread:?}, round {round}");
            }
        }
    }

    /// Attempts that all end well (the right secret: a success, or a conflict released) are
    /// never refused for the reservations of each other: those beyond the free failures
    /// wait for the ones in flight instead of getting 429.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn attempts_beyond_the_free_failures_wait_for_those_in_flight() {
        const PARALLEL: usize = 24;
        let config = ThrottleConfig::default().with_free_failures(3);
        let limits = std::sync::Arc::new(Limits::new(config, None));
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(PARALLEL));
        let tasks: Vec<_> = (0..PARALLEL)
            .map(|i| {
                let (limits, barrier) = (limits.clone(), barrier.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    let attempt = limits.attempt("right@x.io", ip(1), now).await;
                    let attempt = attempt.expect("memory").expect("not held back");
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    if i == 0 {
                        limits.succeeded(attempt).await;
                    } else {
                        limits.released(attempt).await;
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.expect("every attempt let through");
        }
    }

    /// An attempt dropped without a report (its request cancelled midway) counts as a
    /// failure, as the shared counters count it.
    #[tokio::test]
    async fn an_attempt_dropped_without_a_report_is_a_failure() {
        let limits = Limits::new(ThrottleConfig::default(), None);
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
        for i in 0..5 {
            let attempt = limits
                .attempt("drop@x.io", ip(1), now)
                .await
                .expect("memory");
            drop(attempt.unwrap_or_else(|wait| panic!("attempt {i} held back for {wait:?}")));
        }
        let sixth = limits
            .attempt("drop@x.io", ip(1), now)
            .await
            .expect("memory");
        assert_eq!(sixth.err(), Some(Duration::from_secs(1)));
    }

    /// The per-account ceiling counts consecutive failures (NIST SP 800-63B 5.2.2): a success
    /// starts it again, an hour does not; past the ceiling only an exempt attempt (a trusted
    /// device) goes through, and its success starts the count again too. The count decays
    /// after a day without a failure.
    #[tokio::test]
    async fn the_account_ceiling_counts_consecutive_failures_a_success_starts_it_again() {
        let config = ThrottleConfig::default().with_failure_ceilings(3, 1000);
        let limits = Limits::new(config, None);
        let mut now = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let fail = |client: u32, now: SystemTime| {
            let limits = &limits;
            async move {
                let attempt = limits
                    .attempt("c@x.io", ip(client), now)
                    .await
                    .expect("memory");
                limits.failed(attempt.expect("not held back"), now);
            }
        };
        fail(1, now).await;
        fail(2, now).await;
        let ok = limits.attempt("c@x.io", ip(3), now).await.expect("memory");
        limits.succeeded(ok.expect("not held back")).await;
        // Two more in a row, then the third: the ceiling holds for everyone.
        fail(4, now).await;
        fail(5, now).await;
        fail(6, now).await;
        let held = limits.attempt("c@x.io", ip(7), now).await.expect("memory");
        assert!(
            held.is_err(),
            "the 3rd consecutive failure reached the ceiling"
        );
        // Not per hour: two hours later it still holds.
        now += 2 * HOUR;
        let held = limits.attempt("c@x.io", ip(7), now).await.expect("memory");
        assert!(held.is_err(), "the ceiling lifted after an hour");
        // The owner's device: let through, and its success starts the count again.
        limits.succeeded(limits.exempt("c@x.io", ip(8))).await;
        fail(9, now).await;
        fail(10, now).await;
        let ok = limits.attempt("c@x.io", ip(11), now).await.expect("memory");
        limits
            .released(ok.expect("two consecutive failures, under the ceiling"))
            .await;
        fail(12, now).await;
        assert!(
            limits
                .attempt("c@x.io", ip(13), now)
                .await
                .expect("memory")
                .is_err()
        );
        // A day without a failure: forgotten.
        now += 24 * HOUR;
        assert!(
            limits
                .attempt("c@x.io", ip(13), now)
                .await
                .expect("memory")
                .is_ok()
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
