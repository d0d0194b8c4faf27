//! An exact in-process cache of sessions for [`RedbStore`](super::RedbStore) (and, feature
//! `postgres`, for `PgStore`, which adds cross-instance invalidation in front of it):
//! validating a session cookie costs a hash-map look-up instead of a read transaction.
//!
//! Exact because the redb file has one writer, this process, and every committed change to a
//! session or a user invalidates what it touched before the write is answered:
//!
//! - the writer commits, then bumps `epoch`, then removes the touched entries;
//! - a reader that misses loads `epoch`, reads the database, and inserts what it read only if
//!   `epoch` is unchanged, checked under the same lock the writer removes under.
//!
//! A reader whose snapshot predates a commit therefore either inserts before the writer's
//! removal (and is removed) or sees the bumped epoch (and does not insert). A renewal (only
//! the last activity moved forward) updates the entry in place instead of dropping it, under
//! the same protocol.
//!
//! Layout ([`table`], [`slot`]): a slab of 128-byte slots (the digest, user id, times,
//! credential generation, a CLOCK reference bit and the email inline up to 46 bytes) and an
//! index keyed by the digest's first 4 bytes (linear probing over 8-byte buckets: one cache
//! line for most look-ups). A hit takes the read lock, sets the slot's
//! reference bit (an atomic, no write lock) and copies the entry out, which allocates once
//! (the email). Eviction is CLOCK. Invalidation by digest is one index look-up; invalidation
//! by user (`Dirty::users`, which `PgStore`'s notifications still send) scans every slot.
//!
//! Memory: [`SessionCache::with_budget`] takes the index's allocation off the budget, then
//! fits as many slots as the rest holds, counting emails longer than the slot's inline space
//! at what the allocator takes for them: 128 bytes a slot plus 10.7 to 21.3 of index (8-byte
//! buckets, at most 3/4 used, a power of two of them), at most about 150 bytes a session.

mod index;
mod slot;
mod table;
#[cfg(test)]
mod tests;

use std::{
    collections::HashSet,
    sync::{
        PoisonError, RwLock,
        atomic::{AtomicU64, Ordering},
    },
};

use self::table::Table;
use super::SessionEntry;

/// What a commit changed, for invalidation: sessions by digest, every session of some users,
/// or (`all`) everything; and, kept apart, the sessions it created, removed or renewed.
#[derive(Debug, Default)]
pub(crate) struct Dirty {
    /// Sessions changed or removed: dropped from the cache.
    pub(crate) sessions: HashSet<[u8; 32]>,
    /// Users whose every session is dropped from the cache.
    pub(crate) users: HashSet<u64>,
    /// Drop everything.
    pub(crate) all: bool,
    /// Sessions created.
    pub(crate) created: Vec<[u8; 32]>,
    /// Sessions removed (also in `sessions`).
    pub(crate) removed: Vec<[u8; 32]>,
    /// Sessions whose last activity moved forward to the given time (ms since the epoch),
    /// nothing else changed.
    pub(crate) renewed: Vec<([u8; 32], u64)>,
}

impl Dirty {
    /// Whether the commit changed nothing.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pub(crate) fn is_empty(&self) -> bool {
        !self.touches_cached() && self.created.is_empty()
    }

    /// Whether the commit changed anything a cache may hold (created sessions were not
    /// cached: their digests had no session).
    fn touches_cached(&self) -> bool {
        self.all || !self.sessions.is_empty() || !self.users.is_empty() || !self.renewed.is_empty()
    }
}

/// The session cache's default memory budget: 64 MiB.
pub(crate) const DEFAULT_SESSION_CACHE_BYTES: usize = 64 << 20;

/// The exact session cache (see the module docs).
#[derive(Debug)]
pub(crate) struct SessionCache {
    table: RwLock<Table>,
    epoch: AtomicU64,
    on: bool,
}

impl SessionCache {
    /// A cache that uses at most about `bytes` of memory (0: off).
    pub(crate) fn with_budget(bytes: usize) -> Self {
        let table = Table::with_budget(bytes);
        Self {
            on: table.capacity() > 0,
            table: RwLock::new(table),
            epoch: AtomicU64::new(0),
        }
    }

    /// The cached session of `digest`.
    pub(crate) fn get(&self, digest: &[u8; 32]) -> Option<SessionEntry> {
        if !self.on {
            return None;
        }
        self.table
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(digest)
    }

    /// The epoch to pass to [`SessionCache::insert`] after reading the database.
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::SeqCst)
    }

    /// Caches what was read, unless a commit invalidated anything since `epoch`.
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

    /// Called by the writer after a commit, before answering the writes it carried.
    /// Renewals update their entries in place; then changed or removed sessions are dropped
    /// by digest, then (by a scan of every slot) the sessions of changed users.
    pub(crate) fn invalidate(&self, dirty: &Dirty) {
        if !dirty.touches_cached() {
            return;
        }
        self.epoch.fetch_add(1, Ordering::SeqCst);
        let mut table = self.table.write().unwrap_or_else(PoisonError::into_inner);
        if dirty.all {
            table.clear();
            return;
        }
        for (digest, last_seen_ms) in &dirty.renewed {
            table.renew(digest, *last_seen_ms);
        }
        for digest in &dirty.sessions {
            table.remove(digest);
        }
        if !dirty.users.is_empty() {
            table.remove_users(|user| dirty.users.contains(&user));
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

    /// Whether the session of `digest` is cached.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pub(crate) fn contains(&self, digest: &[u8; 32]) -> bool {
        self.table
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(digest)
    }

    /// Forgets everything (after a failed commit, whose effects are unknown to the cache).
    pub(crate) fn clear(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        self.table
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}
