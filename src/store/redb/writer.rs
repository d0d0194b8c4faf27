//! The writer thread: every write runs here, queued writes share one transaction (group
//! commit), and each caller is answered only after the commit that carried its write.
//!
//! A write is a closure over the batch's [`WriteTransaction`]. Should one fail in a way that
//! leaves the transaction unusable (or panic), the whole batch is rolled back and every
//! caller in it gets the error: nothing of a failed batch lands, nothing is answered as
//! stored that was not.

use std::{
    cell::RefCell,
    panic::{AssertUnwindSafe, catch_unwind},
    sync::mpsc::Receiver,
};

use redb::{Database, WriteTransaction};
use tokio::sync::oneshot;

use super::{live_digests::LiveDigests, snapshot::Snapshot};
use crate::{
    error::{BackendError, StoreError},
    store::cache::{Dirty, Subscribers},
};

/// At most this many writes share one commit.
const MAX_BATCH: usize = 256;

thread_local! {
    /// What the writer thread's current batch changed, for the session cache. Only the
    /// writer thread runs write operations.
    static DIRTY: RefCell<Dirty> = RefCell::new(Dirty::default());
}

/// Notes that the current batch changed the session with this digest (other than renewing it).
pub(super) fn dirty_session(digest: [u8; 32]) {
    DIRTY.with(|d| d.borrow_mut().sessions.insert(digest));
}

/// Notes that the current batch stored a new session with this digest.
pub(super) fn created_session(digest: [u8; 32]) {
    DIRTY.with(|d| d.borrow_mut().created.push(digest));
}

/// Notes that the current batch removed the session with this digest.
pub(super) fn removed_session(digest: [u8; 32]) {
    DIRTY.with(|d| {
        let mut d = d.borrow_mut();
        d.sessions.insert(digest);
        d.removed.push(digest);
    });
}

/// Notes that the current batch moved the last activity of the session with this digest
/// to `last_seen_ms` (and changed nothing else of it).
pub(super) fn renewed_session(digest: [u8; 32], last_seen_ms: u64) {
    DIRTY.with(|d| d.borrow_mut().renewed.push((digest, last_seen_ms)));
}

/// Notes that the current batch changed the user with this id.
pub(super) fn dirty_user(id: u64) {
    DIRTY.with(|d| d.borrow_mut().users.insert(id));
}

/// One queued write: applied inside the batch's transaction, answered after its commit.
pub(super) trait Job: Send {
    /// Runs the operation. An error that leaves the transaction unusable (anything but
    /// `NotFound`/`EmailTaken`/`Conflict`, which operations return before writing) aborts
    /// the batch.
    fn apply(&mut self, txn: &WriteTransaction) -> Result<(), StoreError>;
    /// Answers the caller: its outcome if the batch committed, else the commit's error.
    fn finish(self: Box<Self>, committed: Result<(), StoreError>);
}

/// A write operation waiting for its batch, and where to send its outcome.
pub(super) struct Pending<T, F> {
    op: Option<F>,
    outcome: Option<Result<T, StoreError>>,
    reply: oneshot::Sender<Result<T, StoreError>>,
}

impl<T, F> Pending<T, F> {
    /// The job of `op`, and where its answer will arrive.
    pub(super) fn new(op: F) -> (Self, oneshot::Receiver<Result<T, StoreError>>) {
        let (reply, answer) = oneshot::channel();
        let job = Self {
            op: Some(op),
            outcome: None,
            reply,
        };
        (job, answer)
    }
}

#[derive(Debug, thiserror::Error)]
#[error("a store operation panicked; its batch was rolled back")]
struct Panicked;

impl<T, F> Job for Pending<T, F>
where
    T: Send,
    F: FnOnce(&WriteTransaction) -> Result<T, StoreError> + Send,
{
    fn apply(&mut self, txn: &WriteTransaction) -> Result<(), StoreError> {
        let Some(op) = self.op.take() else {
            return Ok(());
        };
        let outcome = catch_unwind(AssertUnwindSafe(|| op(txn)))
            .unwrap_or_else(|_| Err(StoreError::Backend(BackendError::new(Panicked))));
        let fatal = match &outcome {
            Ok(_) | Err(StoreError::NotFound | StoreError::EmailTaken | StoreError::Conflict) => {
                None
            }
            Err(e) => Some(e.clone()),
        };
        self.outcome = Some(outcome);
        fatal.map_or(Ok(()), Err)
    }

    fn finish(self: Box<Self>, committed: Result<(), StoreError>) {
        let answer = match committed {
            Ok(()) => self.outcome.unwrap_or(Err(StoreError::Closed)),
            Err(e) => Err(e),
        };
        let _ = self.reply.send(answer);
    }
}

/// The writer thread's loop: takes what has queued up (at most [`MAX_BATCH`] writes), commits
/// it in one transaction, publishes a new snapshot of the sessions (see [`super::snapshot`]),
/// updates the filter of live digests and tells the session caches what changed, then answers. Ends when every
/// sender of `jobs` is gone and the queue is empty.
pub(super) fn run_writer(
    db: &Database,
    caches: &Subscribers,
    snapshot: &Snapshot,
    live: &LiveDigests,
    jobs: &Receiver<Box<dyn Job>>,
) {
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let committed = commit_batch(db, &mut batch);
        // Before the cache's epoch bump (in `invalidate`/`clear`) and before anyone is
        // answered: see the ordering in `snapshot`'s docs. After a failed commit too, from
        // the database as it is.
        snapshot.republish(db);
        let dirty = DIRTY.with(|d| d.take());
        // Before anyone is answered: an answered login is never refused by the filter.
        live.add(&dirty.created);
        match &committed {
            // Before anyone is answered: an answered logout is seen by every later request.
            Ok(()) => {
                live.remove(&dirty.removed);
                caches.invalidate(&dirty);
            }
            Err(e) => {
                caches.clear();
                tracing::error!(error = %e, writes = batch.len(), "store commit failed");
            }
        }
        for job in batch {
            job.finish(committed.clone());
        }
    }
}

/// Applies `batch` in one write transaction and commits it; on any error nothing is committed.
fn commit_batch(db: &Database, batch: &mut [Box<dyn Job>]) -> Result<(), StoreError> {
    let txn = db.begin_write()?;
    for job in batch.iter_mut() {
        // On error the transaction is dropped, which aborts it: nothing of the batch lands.
        job.apply(&txn)?;
    }
    txn.commit()?;
    Ok(())
}
