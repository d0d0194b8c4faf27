//! The published snapshot of the `sessions` table that validation reads: a session look-up
//! walks one B-tree of an already open table, without `begin_read` and `open_table` per
//! request.
//!
//! redb's [`ReadOnlyTable`] owns its read transaction, so it can be kept and shared. The
//! writer thread replaces it after every commit (and the store publishes the first one when
//! it opens), in this order:
//!
//! 1. commit the batch;
//! 2. **publish** a table of a read transaction begun after that commit ([`Snapshot::republish`]);
//! 3. invalidate the session cache (which bumps its epoch, then removes what the batch
//!    touched);
//! 4. answer the callers.
//!
//! So a request that starts after a write was answered reads a snapshot that holds the write
//! (2 before 4). And the session cache stays exact (see its module docs): a reader that
//! misses loads the cache's epoch *before* it loads the snapshot; a reader that got a
//! snapshot older than a commit therefore loaded the epoch before that commit's bump (the
//! publication happens before the bump), so what it read is never cached past the removal.
//!
//! A failed commit changed nothing, but the snapshot is republished all the same, from the
//! database as it is. Should opening a snapshot fail, none is published and look-ups open a
//! read transaction each (logged), until a later commit publishes one again: a stale snapshot
//! is never left in place.
//!
//! A published snapshot pins the pages of its commit until the last reader drops it; the
//! next commit replaces it, so at most the readers in flight hold an older one.

use arc_swap::ArcSwapOption;
use redb::{Database, ReadOnlyTable, ReadableDatabase};

use super::{records::StoredSession, schema::SESSIONS, sessions};
use crate::{error::StoreError, store::SessionEntry, token::TokenDigest};

/// The `sessions` table as a snapshot holds it.
type SessionsTable = ReadOnlyTable<[u8; 32], StoredSession<'static>>;

/// The current snapshot of the `sessions` table, if one could be opened.
pub(super) struct Snapshot {
    table: ArcSwapOption<SessionsTable>,
}

impl Snapshot {
    /// The snapshot of `db` as it is now.
    pub(super) fn open(db: &Database) -> Result<Self, StoreError> {
        let table = open_table(db)?;
        Ok(Self {
            table: ArcSwapOption::from_pointee(table),
        })
    }

    /// Replaces the snapshot by one of `db` as it is now (the writer thread calls this after
    /// every commit, before invalidating the session cache). If that fails, no snapshot is
    /// left: look-ups read the database until the next commit publishes one.
    pub(super) fn republish(&self, db: &Database) {
        match open_table(db) {
            Ok(table) => self.table.store(Some(table.into())),
            Err(e) => {
                self.table.store(None);
                tracing::error!(error = %e, "could not open a read snapshot of the sessions");
            }
        }
    }

    /// The session of `token` with its owner's email, from the snapshot; from a read
    /// transaction of `db` when there is none.
    pub(super) fn session(
        &self,
        db: &Database,
        token: TokenDigest,
    ) -> Result<Option<SessionEntry>, StoreError> {
        match &*self.table.load() {
            Some(table) => sessions::get(&**table, token),
            None => sessions::get(&open_table(db)?, token),
        }
    }
}

/// The `sessions` table of a read transaction begun now.
fn open_table(db: &Database) -> Result<SessionsTable, StoreError> {
    Ok(db.begin_read()?.open_table(SESSIONS)?)
}
