//! The cache itself, [`SessionCache`]: the table under its lock, the epoch that keeps fills
//! exact, and (for a store whose changes reach it over a network) the lease that lets it
//! answer only while its notifications are vouched for.

use std::{
    sync::{
        PoisonError, RwLock,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use super::{notifications::SessionChanges, table::Table};
use crate::store::SessionEntry;

/// The session cache's default memory budget: 64 MiB.
pub(crate) const DEFAULT_SESSION_CACHE_BYTES: usize = 64 << 20;

/// The exact session cache (see the [module docs](super)).
#[derive(Debug)]
pub(crate) struct SessionCache {
    table: RwLock<Table>,
    epoch: AtomicU64,
    on: bool,
    /// `Some` when the cache answers only under a fresh lease ([`Coherence::Leased`]).
    ///
    /// [`Coherence::Leased`]: super::Coherence::Leased
    lease: Option<Lease>,
}

/// Until when a leased cache may answer.
#[derive(Debug)]
struct Lease {
    /// Where `until` counts from.
    base: Instant,
    /// Nanoseconds after `base` until which the cache may answer; 0 when it may not.
    until: AtomicU64,
}

impl Lease {
    fn nanos(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.base).as_nanos()).unwrap_or(u64::MAX)
    }

    fn live(&self) -> bool {
        self.nanos(Instant::now()) < self.until.load(Ordering::SeqCst)
    }
}

impl SessionCache {
    /// A cache that uses at most about `bytes` of memory (0: off), answering always
    /// (`leased` false) or only under a fresh lease.
    pub(crate) fn with_budget(bytes: usize, leased: bool) -> Self {
        let table = Table::with_budget(bytes);
        Self {
            on: table.capacity() > 0,
            table: RwLock::new(table),
            epoch: AtomicU64::new(0),
            lease: leased.then(|| Lease {
                base: Instant::now(),
                until: AtomicU64::new(0),
            }),
        }
    }

    /// Whether the cache holds anything at all (a budget too small for one slot: off).
    pub(crate) fn is_on(&self) -> bool {
        self.on
    }

    /// Whether the cache may answer now: always for an exact cache, under a fresh lease for
    /// a leased one.
    pub(crate) fn answers(&self) -> bool {
        self.on && self.lease.as_ref().is_none_or(Lease::live)
    }

    /// The cached session of `digest`, when the cache may answer.
    pub(crate) fn get(&self, digest: &[u8; 32]) -> Option<SessionEntry> {
        if !self.answers() {
            return None;
        }
        self.table
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(digest)
    }

    /// The epoch to pass to [`SessionCache::insert`] after reading the store; `None` (do not
    /// fill) when the cache may not answer.
    pub(crate) fn fill_epoch(&self) -> Option<u64> {
        self.answers().then(|| self.epoch())
    }

    /// The current epoch.
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::SeqCst)
    }

    /// Caches what was read, unless a change invalidated anything since `epoch`.
    pub(crate) fn insert(&self, epoch: u64, digest: [u8; 32], value: SessionEntry) {
        if !self.on {
            return;
        }
        let mut table = self.table.write().unwrap_or_else(PoisonError::into_inner);
        if self.epoch.load(Ordering::SeqCst) != epoch {
            return;
        }
        table.insert(digest, &value);
    }

    /// Called after a commit, before the writes it carried are answered (or on a
    /// notification of another instance's commit). Renewals update their entries in place;
    /// then changed or removed sessions are dropped by digest, then (by a scan of every slot)
    /// the sessions of changed users.
    pub(crate) fn invalidate(&self, changes: &SessionChanges) {
        if !changes.touches_cached() {
            return;
        }
        self.epoch.fetch_add(1, Ordering::SeqCst);
        let mut table = self.table.write().unwrap_or_else(PoisonError::into_inner);
        if changes.all {
            table.clear();
            return;
        }
        for (digest, last_seen_ms) in &changes.renewed {
            table.renew(digest, *last_seen_ms);
        }
        for digest in &changes.sessions {
            table.remove(digest);
        }
        if !changes.users.is_empty() {
            table.remove_users(|user| changes.users.contains(&user));
        }
    }

    /// How many sessions are cached.
    pub(crate) fn len(&self) -> usize {
        self.table
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// The cache's own accounting of the memory it uses, in bytes.
    pub(crate) fn bytes(&self) -> usize {
        self.table
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .bytes()
    }

    /// Whether [`get`](Self::get) would answer `digest` now.
    pub(crate) fn serves(&self, digest: &[u8; 32]) -> bool {
        self.answers()
            && self
                .table
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .contains(digest)
    }

    /// Forgets everything (after a commit whose effects are unknown to the cache, or a
    /// resubscription to notifications that may have missed some).
    pub(crate) fn clear(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        self.table
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    /// A leased cache's notifications are vouched for until `sent + lease` (a ping sent at
    /// `sent` came back through the notifications); nothing for an exact cache.
    pub(crate) fn extend_lease(&self, sent: Instant, lease: Duration) {
        if let Some(l) = &self.lease {
            let until = l.nanos(sent + lease);
            l.until.fetch_max(until, Ordering::SeqCst);
        }
    }

    /// Ends a leased cache's lease at once and forgets everything: its notifications are
    /// lost. Nothing for an exact cache.
    pub(crate) fn end_lease(&self) {
        if let Some(l) = &self.lease {
            l.until.store(0, Ordering::SeqCst);
            self.clear();
        }
    }
}
