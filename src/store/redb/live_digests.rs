//! A filter of the live session digests of a [`RedbStore`](super::RedbStore), so that an
//! unknown cookie is refused without a read of the database: it answers "surely absent" or
//! "maybe present", never "absent" for a session that exists.
//!
//! It holds the first 8 bytes of every stored session's digest as a multiset
//! ([`PrefixSet`], one element per session: two sessions sharing a prefix are two
//! elements; one cache line read per look-up), about 11 to 21 bytes a session. A false
//! "maybe" costs what every look-up cost before: one read.
//!
//! How it stays a superset of the stored sessions:
//! - [`LiveDigestFilter::start`] takes a read snapshot before the writer thread starts, then
//!   a background thread inserts the snapshot's digests; until it is done the filter answers
//!   "maybe" to everything;
//! - the writer thread adds the digests of the sessions a batch created after its commit and
//!   before answering it (whether or not the commit succeeded: a failed one leaves harmless
//!   false "maybe"s), and removes the digests of removed sessions only after a successful
//!   commit. A removal that finds no element (its digest not inserted by the builder yet) is
//!   a no-op, and the builder inserts it later: again a false "maybe".
//!
//! So the filter holds at least one element for every session stored: those of the snapshot
//! (inserted by the builder) and those created since (inserted by the writer), less at most
//! one element for each session removed since the snapshot.
//!
//! `PgStore` has no such filter: other instances insert sessions it has not seen.

use std::{
    sync::{
        Arc, Mutex, PoisonError, RwLock,
        atomic::{AtomicBool, Ordering},
    },
    thread::{self, JoinHandle},
};

use redb::{ReadTransaction, ReadableTable, ReadableTableMetadata};

use super::{prefix_set::PrefixSet, schema::SESSIONS};
use crate::error::{BackendError, StoreError};

/// Digests the builder inserts per write lock: the writer is never kept waiting long.
const BUILD_CHUNK: usize = 4096;

fn prefix(digest: &[u8; 32]) -> u64 {
    let mut prefix = [0; 8];
    prefix.copy_from_slice(&digest[..8]);
    // SHA-256 output is uniformly random: the prefix is its own hash.
    u64::from_le_bytes(prefix)
}

/// The prefixes of the stored sessions, and whether they are all in yet.
#[derive(Debug, Default)]
pub(super) struct LiveDigests {
    prefixes: RwLock<PrefixSet>,
    built: AtomicBool,
    stop: AtomicBool,
}

impl LiveDigests {
    /// `false` only if no session with this digest is stored.
    pub(super) fn maybe_present(&self, digest: &[u8; 32]) -> bool {
        if !self.built.load(Ordering::Acquire) {
            return true;
        }
        let p = prefix(digest);
        self.prefixes
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(p)
    }

    /// Adds the digests of new sessions (the writer, before answering their batch).
    pub(super) fn add(&self, digests: &[[u8; 32]]) {
        self.each(digests, PrefixSet::insert);
    }

    /// Removes one element for each removed session (the writer, after a successful commit).
    pub(super) fn remove(&self, digests: &[[u8; 32]]) {
        self.each(digests, PrefixSet::remove);
    }

    /// Applies `change` to the prefix of each digest, under one write lock.
    fn each(&self, digests: &[[u8; 32]], change: fn(&mut PrefixSet, u64)) {
        if digests.is_empty() {
            return;
        }
        let mut prefixes = self
            .prefixes
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        for digest in digests {
            change(&mut prefixes, prefix(digest));
        }
    }

    /// Whether the build is done (before that, every answer is "maybe").
    pub(super) fn is_built(&self) -> bool {
        self.built.load(Ordering::Acquire)
    }

    /// Elements held, and the bytes of their table.
    pub(super) fn size(&self) -> (u64, u64) {
        let prefixes = self.prefixes.read().unwrap_or_else(PoisonError::into_inner);
        (prefixes.len() as u64, prefixes.bytes() as u64)
    }

    /// Inserts the digests of the snapshot's sessions, a chunk per write lock; `built` once
    /// all are in (not if stopped or if the snapshot cannot be read: the filter then keeps
    /// answering "maybe").
    fn build(&self, snapshot: &ReadTransaction) -> Result<(), StoreError> {
        let table = snapshot.open_table(SESSIONS)?;
        self.prefixes
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .reserve(usize::try_from(table.len()?).unwrap_or(0));
        let mut chunk = Vec::with_capacity(BUILD_CHUNK);
        let mut keys = table.iter()?;
        loop {
            chunk.clear();
            for entry in keys.by_ref().take(BUILD_CHUNK) {
                chunk.push(entry?.0.value());
            }
            if self.stop.load(Ordering::Relaxed) {
                return Ok(());
            }
            if chunk.is_empty() {
                break;
            }
            self.add(&chunk);
        }
        self.built.store(true, Ordering::Release);
        Ok(())
    }
}

/// The filter of a store and its builder thread, which is stopped and joined when the store
/// is dropped (it holds a read transaction: the file stays open until it ends).
#[derive(Debug)]
pub(super) struct LiveDigestFilter {
    digests: Arc<LiveDigests>,
    builder: Mutex<Option<JoinHandle<()>>>,
}

impl LiveDigestFilter {
    /// A filter that answers "maybe" until a background thread has inserted the sessions of
    /// `snapshot`, which must be taken before the writer thread starts.
    pub(super) fn start(snapshot: ReadTransaction) -> Result<Self, StoreError> {
        let digests = Arc::new(LiveDigests::default());
        let building = Arc::clone(&digests);
        let builder = thread::Builder::new()
            .name("user-auth-session-filter".into())
            .spawn(move || {
                if let Err(e) = building.build(&snapshot) {
                    tracing::error!(error = %e, "session filter: build failed, filter off");
                }
            })
            .map_err(|e| StoreError::Backend(BackendError::new(e)))?;
        Ok(Self {
            digests,
            builder: Mutex::new(Some(builder)),
        })
    }

    pub(super) fn digests(&self) -> &Arc<LiveDigests> {
        &self.digests
    }
}

impl Drop for LiveDigestFilter {
    fn drop(&mut self) {
        self.digests.stop.store(true, Ordering::Relaxed);
        let builder = self
            .builder
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(builder) = builder {
            let _ = builder.join();
        }
    }
}
