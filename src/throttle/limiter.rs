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
    backoff::{CONSECUTIVE_DECAY, backoff},
    keys::{Account, Quota, account_key, client_key},
    table::{HOUR, Held, Table, Window, bump, remaining, window, window_blocks, window_expired},
};

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
mod tests;
