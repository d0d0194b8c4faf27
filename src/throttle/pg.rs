//! The limits of [`ThrottleConfig`] over the counters that `PgStore` shares between the
//! instances on its database ([`Counters`]): an attempt is counted as a failure, and as in
//! flight, before its secret is checked, in one transaction that checks every limit and
//! rolls back if one holds it back.
//!
//! An attempt held back while attempts of its (account, client) pair are in flight (which
//! may still be taken back: the right secret, a conflict) is counted again when one of this
//! instance's attempts ends, or every [`POLL`] (for the other instances'), until
//! [`WAIT`](super::shared::WAIT) has passed.

use std::{
    sync::atomic::{AtomicBool, Ordering},
    time::{Duration, SystemTime},
};

use super::{
    ThrottleConfig,
    backoff::{CONSECUTIVE_DECAY, backoff},
    keys::{Quota, account_key, client_bytes},
    shared::{WAIT, WAITED_OUT},
};
use crate::{
    error::StoreError,
    store::postgres_throttle::{Bump, Counted, Counters, Uncount, kind},
};

const HOUR: Duration = Duration::from_secs(3600);

/// How often an attempt held back by attempts in flight is counted again, at most.
const POLL: Duration = Duration::from_millis(100);

/// How long a pair's count of attempts in flight lasts after its last attempt: a lease, so
/// that the attempts of an instance that died midway are forgotten.
const IN_FLIGHT_LEASE: Duration = Duration::from_secs(60);

/// The bit that marks the key of a pair's count of attempts in flight (under
/// [`kind::BACKOFF`]): the pair's own key with this bit set in its client's tag (0, 4 or 6
/// in a pair's key), so that the two never share a counter, within the table's 33 bytes.
const IN_FLIGHT_BIT: u8 = 0x80;

/// An attempt counted in the shared counters: a failure, and in flight, until it ends.
#[derive(Debug)]
pub(super) struct SharedAttempt {
    counters: Counters,
    backoff: Vec<u8>,
    in_flight: Vec<u8>,
    account: Vec<u8>,
    /// Whether the per-account ceiling counted it (not a token from the mailbox).
    per_account: bool,
    client: Option<(Vec<u8>, SystemTime)>,
}

impl SharedAttempt {
    fn in_flight(&self) -> Uncount {
        sliding(kind::BACKOFF, self.in_flight.clone())
    }

    /// A failure (counted already): no longer in flight, which a task of its own records
    /// (the callers report failures without waiting). Also what a dropped attempt does.
    pub(super) fn failed(self) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            // No runtime to take it back on: the lease ends it.
            return;
        };
        let uncount = [self.in_flight()];
        runtime.spawn(async move { uncount_logged(&self.counters, &uncount, &[]).await });
    }

    /// A success: the pair's backoff and the account's consecutive failures start again,
    /// the per-client ceiling takes the count back.
    pub(super) async fn succeeded(self) {
        let mut uncount = vec![self.in_flight()];
        uncount.extend(self.client_window());
        let remove = [
            (kind::BACKOFF, self.backoff),
            (kind::ACCOUNT_FAILURES, self.account),
        ];
        uncount_logged(&self.counters, &uncount, &remove).await;
    }

    /// Neither a failure nor a success: every count taken back.
    pub(super) async fn released(self) {
        let mut uncount = vec![
            self.in_flight(),
            sliding(kind::BACKOFF, self.backoff.clone()),
        ];
        if self.per_account {
            uncount.push(sliding(kind::ACCOUNT_FAILURES, self.account.clone()));
        }
        uncount.extend(self.client_window());
        uncount_logged(&self.counters, &uncount, &[]).await;
    }

    fn client_window(&self) -> Option<Uncount> {
        self.client.as_ref().map(|(key, since)| Uncount {
            kind: kind::CLIENT_FAILURES,
            key: key.clone(),
            since: Some(*since),
        })
    }
}

/// A trusted device's success (not counted): the pair's backoff and the account's
/// consecutive failures start again.
pub(super) async fn exempt_succeeded(
    counters: &Counters,
    email: &str,
    client: Option<std::net::IpAddr>,
) {
    let account = account_key(email).to_vec();
    let backoff = [&account[..], &client_bytes(client)].concat();
    let remove = [(kind::BACKOFF, backoff), (kind::ACCOUNT_FAILURES, account)];
    uncount_logged(counters, &[], &remove).await;
}

/// An attempt to count: on `email` from `client` at `now`, the per-account ceiling too
/// when `per_account`.
pub(super) struct Ask<'a> {
    pub(super) config: &'a ThrottleConfig,
    pub(super) counters: &'a Counters,
    pub(super) email: &'a str,
    pub(super) client: Option<std::net::IpAddr>,
    pub(super) now: SystemTime,
    pub(super) per_account: bool,
}

/// Counts the attempt `ask`, waiting while only attempts in flight of its pair hold it back.
///
/// # Errors
/// The database failed.
pub(super) async fn attempt(ask: Ask<'_>) -> Result<Result<SharedAttempt, Duration>, StoreError> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let ended = ask.counters.ended().notified();
        let mut ended = std::pin::pin!(ended);
        ended.as_mut().enable();
        let wait = match count_once(&ask).await? {
            Ok(attempt) => return Ok(Ok(attempt)),
            Err((wait, false)) => return Ok(Err(wait)),
            Err((wait, true)) => wait,
        };
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        if left.is_zero() {
            return Ok(Err(wait.max(WAITED_OUT)));
        }
        // An end on this instance, or a poll for the others'.
        let _ = tokio::time::timeout(POLL.min(left), ended).await;
    }
}

/// One count of `ask`: `Err((wait, in_flight))` when held back, `in_flight` when attempts
/// of its pair were in flight.
async fn count_once(ask: &Ask<'_>) -> Result<Result<SharedAttempt, (Duration, bool)>, StoreError> {
    let &Ask {
        config,
        counters,
        email,
        client,
        now,
        per_account,
    } = ask;
    let account = account_key(email).to_vec();
    let client_key = client.map(|_| client_bytes(client));
    let backoff_key = [&account[..], &client_bytes(client)].concat();
    let mut in_flight_key = backoff_key.clone();
    in_flight_key[account.len()] |= IN_FLIGHT_BIT;
    let mut bumps = vec![
        bump(
            kind::BACKOFF,
            backoff_key.clone(),
            config.backoff_max() + HOUR,
        ),
        bump(kind::BACKOFF, in_flight_key.clone(), IN_FLIGHT_LEASE),
    ];
    if per_account {
        bumps.push(bump(
            kind::ACCOUNT_FAILURES,
            account.clone(),
            CONSECUTIVE_DECAY,
        ));
    }
    if let Some(key) = &client_key {
        bumps.push(bump(kind::CLIENT_FAILURES, key.clone(), HOUR));
    }
    let free = config.free_failures().max(1);
    let others_in_flight = AtomicBool::new(false);
    let decide = |counted: &[Counted]| {
        let mut wait = Duration::ZERO;
        let until = |t: SystemTime| t.duration_since(now).unwrap_or_default();
        for c in counted {
            // The count before this attempt's.
            let before = c.count.saturating_sub(1);
            match c.kind {
                kind::BACKOFF if c.key == in_flight_key => {
                    others_in_flight.store(before > 0, Ordering::Relaxed);
                }
                kind::BACKOFF => {
                    // The backoff the attempt met: that of the failures before it.
                    if let (Some(last), true) = (c.prev, before >= free) {
                        wait = wait.max(until(last + backoff(config, before)));
                    }
                }
                kind::ACCOUNT_FAILURES if c.count > config.account_failures_per_hour() => {
                    let last = c.prev.unwrap_or(now);
                    wait = wait.max(until(last + CONSECUTIVE_DECAY).max(WAITED_OUT));
                }
                kind::CLIENT_FAILURES if c.count > config.client_failures_per_hour() => {
                    wait = wait.max(until(c.expires));
                }
                _ => {}
            }
        }
        if wait.is_zero() { Ok(()) } else { Err(wait) }
    };
    let counted = match counters.count(&bumps, now, decide).await? {
        Ok(counted) => counted,
        Err(wait) => return Ok(Err((wait, others_in_flight.load(Ordering::Relaxed)))),
    };
    let since = |k: i16| {
        counted
            .iter()
            .find(|c| c.kind == k)
            .map_or(now, |c| c.since)
    };
    Ok(Ok(SharedAttempt {
        counters: counters.clone(),
        backoff: backoff_key,
        in_flight: in_flight_key,
        account,
        per_account,
        client: client_key.map(|key| (key, since(kind::CLIENT_FAILURES))),
    }))
}

/// Counts a registration from `client`, or says how long it must wait.
///
/// # Errors
/// The database failed.
pub(super) async fn registration(
    config: &ThrottleConfig,
    counters: &Counters,
    client: Option<std::net::IpAddr>,
    now: SystemTime,
) -> Result<Result<(), Duration>, StoreError> {
    let (true, Some(_)) = (config.enabled(), client) else {
        return Ok(Ok(()));
    };
    let bumps = [bump(kind::REGISTRATIONS, client_bytes(client), HOUR)];
    let limit = config.registrations_per_client_per_hour();
    let decide = |counted: &[Counted]| over(counted, now, |_| limit);
    Ok(counters.count(&bumps, now, decide).await?.map(drop))
}

/// Counts a request of the quota `family` for `email` from `client`, or says how long it
/// must wait.
///
/// # Errors
/// The database failed.
pub(super) async fn quota(
    config: &ThrottleConfig,
    counters: &Counters,
    family: Quota,
    email: &str,
    client: Option<std::net::IpAddr>,
    now: SystemTime,
) -> Result<Result<(), Duration>, StoreError> {
    if !config.enabled() {
        return Ok(Ok(()));
    }
    let tagged = |key: Vec<u8>| match family.shared_tag() {
        Some(tag) => [&[tag][..], &key].concat(),
        None => key,
    };
    let account = tagged(account_key(email).to_vec());
    let mut bumps = vec![bump(kind::RESET_ACCOUNT, account, HOUR)];
    if client.is_some() {
        let client = tagged(client_bytes(client));
        bumps.push(bump(kind::RESET_CLIENT, client, HOUR));
    }
    let decide = |counted: &[Counted]| {
        over(counted, now, |k| match k {
            kind::RESET_ACCOUNT => config.reset_requests_per_account_per_hour(),
            _ => config.reset_requests_per_client_per_hour(),
        })
    };
    Ok(counters.count(&bumps, now, decide).await?.map(drop))
}

/// Takes counts back; a failure is logged (the counts stay: the limits err on the side of
/// holding back).
async fn uncount_logged(counters: &Counters, uncount: &[Uncount], remove: &[(i16, Vec<u8>)]) {
    if let Err(e) = counters.uncount(uncount, remove).await {
        tracing::warn!(error = %e, "taking back a throttle count failed");
    }
}

fn bump(kind: i16, key: Vec<u8>, life: Duration) -> Bump {
    Bump { kind, key, life }
}

/// One count of a sliding counter to take back, whatever its times.
fn sliding(kind: i16, key: Vec<u8>) -> Uncount {
    Uncount {
        kind,
        key,
        since: None,
    }
}

/// `Err` with the longest wait if a window's count, this request included, is over its
/// kind's limit.
fn over(counted: &[Counted], now: SystemTime, limit: impl Fn(i16) -> u32) -> Result<(), Duration> {
    let wait = counted
        .iter()
        .filter(|c| c.count > limit(c.kind))
        .map(|c| c.expires.duration_since(now).unwrap_or_default())
        .max()
        .unwrap_or_default();
    if wait.is_zero() { Ok(()) } else { Err(wait) }
}
