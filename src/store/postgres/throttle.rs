//! The counters of the throttle that the instances on one database share: the `UNLOGGED`
//! table `throttle` (schema version 2), counted with atomic upserts.
//!
//! This file knows counters, not limits: [`Counters::count`] counts one or more counters in
//! one transaction (an `INSERT … ON CONFLICT … DO UPDATE … RETURNING` of them all, whose row
//! locks serialise concurrent counts of one key) and commits only if the policy's `decide`
//! accepts the counts it returns, so that a refused attempt counts nothing and concurrent
//! attempts, on any instance, each see the counts of the ones before. The limits themselves
//! are [`crate::throttle`]'s.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use deadpool_postgres::{GenericClient, Pool};
use tokio::sync::Notify;

use super::{PgStore, db_time, errors};
use crate::{error::StoreError, store::SharedThrottling, throttle::SharedThrottle};

/// A counter's kind, the table's `kind` column.
pub(crate) mod kind {
    /// The backoff of an (account, client) pair: its expiry slides with each failure. Also,
    /// under keys of their own (the pair's, its client's tag marked), the attempts in flight
    /// of a pair, whose expiry (a lease) slides with each attempt.
    pub(crate) const BACKOFF: i16 = 1;
    /// Consecutive failures on an account: a success removes the counter; its expiry, which
    /// slides with each failure, is the decay of the count.
    pub(crate) const ACCOUNT_FAILURES: i16 = 2;
    /// Failures from a client per hour.
    pub(crate) const CLIENT_FAILURES: i16 = 3;
    /// Registrations from a client per hour.
    pub(crate) const REGISTRATIONS: i16 = 4;
    /// Reset requests for an account per hour.
    pub(crate) const RESET_ACCOUNT: i16 = 5;
    /// Reset requests from a client per hour.
    pub(crate) const RESET_CLIENT: i16 = 6;
}

/// How many times a count aborted as a deadlock victim is run in all.
const ATTEMPTS: usize = 3;
/// How often, at most, one instance purges expired counters by itself.
const PURGE_EVERY: Duration = Duration::from_secs(60);
/// Expired counters removed by one opportunistic purge, at most.
const PURGE_BATCH: i64 = 10_000;

/// A counter to count: `kind` and `key`, and how long it lives from now (a window's length;
/// a backoff's idle time before it is forgotten).
#[derive(Clone, Debug)]
pub(crate) struct Bump {
    pub(crate) kind: i16,
    pub(crate) key: Vec<u8>,
    pub(crate) life: Duration,
}

/// A counter as counted: `count` includes this count (1 if it was absent or expired).
#[derive(Clone, Debug)]
pub(crate) struct Counted {
    pub(crate) kind: i16,
    pub(crate) key: Vec<u8>,
    pub(crate) count: u32,
    /// The window's start, or (a sliding counter: a backoff, consecutive failures, attempts
    /// in flight) this count's time (now).
    pub(crate) since: SystemTime,
    /// The `since` before this count (a sliding counter's previous count's time); `None`
    /// when `count` is 1.
    pub(crate) prev: Option<SystemTime>,
    pub(crate) expires: SystemTime,
}

/// Taking back one count of a counter: in the window that started at `since` (a window), or
/// whatever its times (a sliding counter: `None`).
#[derive(Clone, Debug)]
pub(crate) struct Uncount {
    pub(crate) kind: i16,
    pub(crate) key: Vec<u8>,
    pub(crate) since: Option<SystemTime>,
}

/// The shared counters, on the store's pool.
#[derive(Clone)]
pub(crate) struct Counters {
    pool: Pool,
    /// Notified (every waiter) after each [`uncount`](Self::uncount) of this instance: an
    /// attempt in flight ended, and one held back for it may be let through now.
    ended: Arc<Notify>,
    /// When (seconds since the epoch) this instance next purges expired counters by itself.
    next_purge: Arc<AtomicU64>,
}

impl std::fmt::Debug for Counters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Counters").finish_non_exhaustive()
    }
}

const COUNT: &str = "INSERT INTO throttle AS t (kind, key, count, since, prev, expires)
     SELECT u.kind, u.key, 1, $1, NULL, u.expires
     FROM unnest($2::smallint[], $3::bytea[], $4::timestamptz[]) AS u(kind, key, expires)
     ORDER BY u.kind, u.key
     ON CONFLICT (kind, key) DO UPDATE SET
         count = CASE WHEN t.expires <= $1 THEN 1 ELSE least(t.count, 2147483646) + 1 END,
         prev = CASE WHEN t.expires <= $1 THEN NULL ELSE t.since END,
         since = CASE WHEN t.expires <= $1 OR t.kind IN (1, 2) THEN $1 ELSE t.since END,
         expires = CASE WHEN t.expires <= $1 OR t.kind IN (1, 2) THEN excluded.expires
                        ELSE t.expires END
     RETURNING kind, key, count, since, prev, expires";

const UNCOUNT: &str = "WITH u AS (
         SELECT * FROM unnest($1::smallint[], $2::bytea[], $3::timestamptz[])
             AS u(kind, key, since)
     ), gone AS (
         DELETE FROM throttle t USING unnest($4::smallint[], $5::bytea[]) AS d(kind, key)
         WHERE t.kind = d.kind AND t.key = d.key
     )
     UPDATE throttle t SET count = t.count - 1 FROM u
     WHERE t.kind = u.kind AND t.key = u.key AND t.count > 0
         AND (u.since IS NULL OR t.since = u.since)";

const PURGE: &str = "DELETE FROM throttle WHERE (kind, key) IN (
         SELECT kind, key FROM throttle WHERE expires <= $1 LIMIT $2)";

impl Counters {
    pub(super) fn new(pool: Pool) -> Self {
        Self {
            pool,
            ended: Arc::new(Notify::new()),
            next_purge: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Notified after each [`uncount`](Self::uncount) of this instance.
    pub(crate) fn ended(&self) -> &Notify {
        &self.ended
    }

    /// Counts every counter of `bumps` at `now`, in one transaction that commits only if
    /// `decide` accepts the counts (`Ok`); otherwise rolls back (nothing counted) and
    /// answers `decide`'s wait.
    pub(crate) async fn count(
        &self,
        bumps: &[Bump],
        now: SystemTime,
        decide: impl Fn(&[Counted]) -> Result<(), Duration> + Send + Sync,
    ) -> Result<Result<Vec<Counted>, Duration>, StoreError> {
        let now = db_time(now);
        self.purge_now_and_then(now);
        let kinds: Vec<i16> = bumps.iter().map(|b| b.kind).collect();
        let keys: Vec<&[u8]> = bumps.iter().map(|b| &b.key[..]).collect();
        let expires: Vec<SystemTime> = bumps.iter().map(|b| db_time(now + b.life)).collect();
        let mut attempt = 1;
        loop {
            let result = async {
                let mut client = self.pool.get().await?;
                let tx = client.transaction().await?;
                let stmt = tx.prepare_cached(COUNT).await?;
                let rows = tx.query(&stmt, &[&now, &kinds, &keys, &expires]).await?;
                let counted = rows
                    .iter()
                    .map(|row| {
                        Ok(Counted {
                            kind: row.try_get(0)?,
                            key: row.try_get(1)?,
                            count: u32::try_from(row.try_get::<_, i32>(2)?).unwrap_or(0),
                            since: row.try_get(3)?,
                            prev: row.try_get(4)?,
                            expires: row.try_get(5)?,
                        })
                    })
                    .collect::<Result<Vec<_>, StoreError>>()?;
                match decide(&counted) {
                    Ok(()) => {
                        tx.commit().await?;
                        Ok(Ok(counted))
                    }
                    Err(wait) => {
                        tx.rollback().await?;
                        Ok(Err(wait))
                    }
                }
            }
            .await;
            match result {
                Err(e) if attempt < ATTEMPTS && errors::retryable(&e) => attempt += 1,
                other => return other,
            }
        }
    }

    /// Takes back one count of each counter of `uncount`, and removes the counters of
    /// `remove`, in one statement.
    pub(crate) async fn uncount(
        &self,
        uncount: &[Uncount],
        remove: &[(i16, Vec<u8>)],
    ) -> Result<(), StoreError> {
        let kinds: Vec<i16> = uncount.iter().map(|u| u.kind).collect();
        let keys: Vec<&[u8]> = uncount.iter().map(|u| &u.key[..]).collect();
        let since: Vec<Option<SystemTime>> = uncount.iter().map(|u| u.since).collect();
        let remove_kinds: Vec<i16> = remove.iter().map(|r| r.0).collect();
        let remove_keys: Vec<&[u8]> = remove.iter().map(|r| &r.1[..]).collect();
        // The statement locks the rows in an order of the planner's, which may cross a
        // concurrent `count`'s (kind order): PostgreSQL then ends one of them as a deadlock
        // victim, retried here as `count` retries, so that a success is not left counted.
        let mut attempt = 1;
        loop {
            let result = async {
                let client = self.pool.get().await?;
                let stmt = client.prepare_cached(UNCOUNT).await?;
                client
                    .execute(&stmt, &[&kinds, &keys, &since, &remove_kinds, &remove_keys])
                    .await?;
                Ok(())
            }
            .await;
            match result {
                Err(e) if attempt < ATTEMPTS && errors::retryable(&e) => attempt += 1,
                other => {
                    self.ended.notify_waiters();
                    return other;
                }
            }
        }
    }

    /// At most once a minute per instance: purges expired counters (a batch of them) on a
    /// task of its own, so that the table stays small even if the app never calls
    /// [`purge_expired`](crate::store::ExpiredDeletion::purge_expired).
    fn purge_now_and_then(&self, now: SystemTime) {
        let secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let due = self.next_purge.load(Ordering::Relaxed);
        if secs < due
            || self
                .next_purge
                .compare_exchange(
                    due,
                    secs + PURGE_EVERY.as_secs(),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_err()
        {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let pool = self.pool.clone();
        runtime.spawn(async move {
            let purged = async {
                let client = pool.get().await?;
                purge(&client, now, PURGE_BATCH).await
            };
            if let Err(e) = purged.await {
                tracing::warn!(error = %e, "purging expired throttle counters failed");
            }
        });
    }
}

/// Removes up to `limit` counters expired at `now`; how many.
pub(super) async fn purge(
    client: &impl GenericClient,
    now: SystemTime,
    limit: i64,
) -> Result<u64, StoreError> {
    let stmt = client.prepare_cached(PURGE).await?;
    Ok(client.execute(&stmt, &[&db_time(now), &limit]).await?)
}

impl SharedThrottling for PgStore {
    /// The `throttle` table's counters: every instance on this database enforces the same
    /// limits.
    fn shared_throttle(&self) -> Option<SharedThrottle> {
        Some(SharedThrottle::postgres(Counters::new(self.pool.clone())))
    }
}
