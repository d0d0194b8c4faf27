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
//! removal (and is removed) or sees the bumped epoch (and does not insert).

use std::{
    collections::{HashMap, HashSet},
    sync::{
        PoisonError, RwLock,
        atomic::{AtomicU64, Ordering},
    },
};

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
    pub(crate) fn is_empty(&self) -> bool {
        !self.all
            && self.sessions.is_empty()
            && self.users.is_empty()
            && self.created.is_empty()
            && self.renewed.is_empty()
    }
}

/// The session cache's default memory budget: 64 MiB.
pub(crate) const DEFAULT_SESSION_CACHE_BYTES: usize = 64 << 20;

#[derive(Debug)]
pub(crate) struct SessionCache {
    entries: RwLock<HashMap<[u8; 32], SessionEntry>>,
    epoch: AtomicU64,
    capacity: usize,
}

impl SessionCache {
    /// A cache that uses at most about `bytes` of memory (0: off).
    pub(crate) fn with_budget(bytes: usize) -> Self {
        // Interim: about 256 bytes per entry.
        let capacity = bytes / 256;
        Self {
            entries: RwLock::new(HashMap::new()),
            epoch: AtomicU64::new(0),
            capacity,
        }
    }

    pub(crate) fn get(&self, digest: &[u8; 32]) -> Option<SessionEntry> {
        if self.capacity == 0 {
            return None;
        }
        self.entries
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(digest)
            .cloned()
    }

    /// The epoch to pass to [`SessionCache::insert`] after reading the database.
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::SeqCst)
    }

    /// Caches what was read, unless a commit invalidated anything since `epoch`.
    pub(crate) fn insert(&self, epoch: u64, digest: [u8; 32], value: SessionEntry) {
        if self.capacity == 0 {
            return;
        }
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        if self.epoch.load(Ordering::SeqCst) != epoch {
            return;
        }
        if entries.len() >= self.capacity {
            // Drop an arbitrary tenth: cheaper than tracking recency on every hit.
            let excess = entries.len() + 1 - self.capacity * 9 / 10;
            let doomed: Vec<[u8; 32]> = entries.keys().take(excess).copied().collect();
            for key in doomed {
                entries.remove(&key);
            }
        }
        entries.insert(digest, value);
    }

    /// Called by the writer after a commit, before answering the writes it carried.
    pub(crate) fn invalidate(&self, dirty: &Dirty) {
        if dirty.is_empty() {
            return;
        }
        self.epoch.fetch_add(1, Ordering::SeqCst);
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        if dirty.all {
            entries.clear();
            return;
        }
        for digest in dirty
            .sessions
            .iter()
            .chain(dirty.renewed.iter().map(|(d, _)| d))
        {
            entries.remove(digest);
        }
        if !dirty.users.is_empty() {
            entries.retain(|_, entry| !dirty.users.contains(&entry.record.user_id.0));
        }
    }

    /// How many sessions are cached.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pub(crate) fn len(&self) -> usize {
        self.entries
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether the session of `digest` is cached.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pub(crate) fn contains(&self, digest: &[u8; 32]) -> bool {
        self.entries
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .contains_key(digest)
    }

    /// Forgets everything (after a failed commit, whose effects are unknown to the cache).
    pub(crate) fn clear(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        self.entries
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}
