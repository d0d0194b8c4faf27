//! The embedded store: one redb file, reads inline, writes group-committed by one thread.
//!
//! - [`schema`]: the tables, the schema version, and what opening a file does;
//! - [`migrate`]: the chain of in-place migrations from older schema versions;
//! - [`records`], [`time_index`], [`hash_form`]: the typed records and keys the tables hold,
//!   with their byte encodings (the bcrypt hash's packed form);
//! - [`writer`]: the writer thread and its group commit;
//! - [`live_digests`]: the filter that refuses unknown session digests without a read, over
//!   [`prefix_set`], its multiset of digest prefixes;
//! - [`snapshot`]: the snapshot of the `sessions` table that session look-ups read, which the
//!   writer republishes after every commit, before it invalidates the session cache and
//!   answers (the ordering is in that module's docs);
//! - by concern, each the store trait it implements beside its operations inside a
//!   transaction (reads on the caller's thread, writes on the writer thread): [`users`]
//!   ([`UserStore`](super::UserStore)), [`sessions`] ([`SessionStore`](super::SessionStore)),
//!   [`tokens`] ([`TokenStore`](super::TokenStore): [`resets`], [`email_tokens`],
//!   [`devices`]), [`second_factor`] ([`SecondFactorStore`](super::SecondFactorStore)) and
//!   [`expired`] ([`ExpiredDeletion`](super::ExpiredDeletion));
//! - `errors`: redb's errors as [`StoreError`].

mod errors;
mod expired;
mod hash_form;
mod live_digests;
mod migrate;
mod prefix_set;
mod records;
mod schema;
mod second_factor;
mod sessions;
mod snapshot;
mod time_index;
mod tokens;
mod users;
mod writer;

use std::{
    fmt,
    path::Path,
    sync::{
        Arc, Mutex, PoisonError,
        mpsc::{self, SyncSender, TrySendError},
    },
    thread::{self, JoinHandle},
};

use redb::{Database, ReadTransaction, ReadableDatabase, ReadableTableMetadata, WriteTransaction};

use self::{
    live_digests::LiveDigestFilter,
    schema::{EMAIL_TOKENS, RESETS, SESSIONS, UNCONFIRMED, USERS},
    snapshot::Snapshot,
    tokens::{devices, email_tokens, resets},
    writer::{Job, Pending},
};
use super::SessionEntry;
use super::cache::{
    CachePolicy, CacheSubscriber, ChangeNotifications, Coherence, DEFAULT_SESSION_CACHE_BYTES,
    Subscribers,
};
use crate::{
    error::{BackendError, StoreError},
    token::TokenDigest,
};

/// Writes waiting for the writer thread beyond which new ones are refused with
/// [`StoreError::Busy`].
const DEFAULT_WRITE_QUEUE: usize = 4096;

/// The embedded store: accounts, sessions and reset tokens in one redb file.
///
/// Cheap to clone: clones share the database, which redb lets one process open only once. Reads
/// run on the caller's thread; writes go to one writer thread that commits whatever has queued
/// up in one transaction with immediate durability (group commit) and answers each caller only
/// after that commit, so an answered write survives a crash.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use tower_user_auth::store::{RedbStore, UserQuery, prelude::*};
///
/// let dir = tempfile::tempdir()?;
/// let store = RedbStore::open(dir.path().join("auth.redb"))?;
/// let user = store.add_user("bob@example.com", "$2b$04$...").await?;
/// let found = store.find_user_by(UserQuery::Email("BOB@example.com".into())).await?;
/// assert_eq!(found.id, user.id);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct RedbStore {
    shared: Arc<Shared>,
}

/// What every clone of a [`RedbStore`] shares: the database, the session caches it feeds,
/// the filter of live session digests, the writer thread and its queue.
struct Shared {
    /// First: dropped (its builder stopped and joined) before the database.
    live: LiveDigestFilter,
    /// Before the database too: it holds a read transaction.
    snapshot: Arc<Snapshot>,
    db: Arc<Database>,
    /// The session caches in front of the store, which the writer tells what each commit
    /// changed.
    caches: Arc<Subscribers>,
    /// The memory budget of each of them.
    cache_bytes: usize,
    jobs: Option<SyncSender<Box<dyn Job>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        // Closing the queue lets the writer finish what is queued and stop; waiting for it
        // means the file is closed when the last handle is gone and can be opened again.
        self.jobs = None;
        let writer = self
            .writer
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(writer) = writer {
            let _ = writer.join();
        }
    }
}

/// What [`RedbStore::stats`] reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoreStats {
    /// Accounts.
    pub users: u64,
    /// Sessions, live or awaiting the purge.
    pub sessions: u64,
    /// Reset tokens, live or awaiting the purge.
    pub reset_tokens: u64,
    /// Email tokens (confirmation, change of email), live or awaiting the purge.
    pub email_tokens: u64,
    /// Accounts whose email is not confirmed yet.
    pub unconfirmed_users: u64,
    /// Bytes of keys and values stored.
    pub stored_bytes: u64,
    /// Bytes of the pages redb has allocated (the file may be larger: redb grows it in steps
    /// and reuses freed pages).
    pub allocated_bytes: u64,
    /// Sessions in the in-process session cache.
    pub cached_sessions: u64,
    /// Memory the session cache accounts for, in bytes: its slots in use (128 bytes each,
    /// emails up to 46 bytes inline), its index, and emails too long for their slot.
    pub session_cache_bytes: u64,
    /// Elements of the filter of live session digests (one per stored session, more for a
    /// while after a failed commit).
    pub session_filter_entries: u64,
    /// Memory of that filter's table, in bytes.
    pub session_filter_bytes: u64,
    /// Whether that filter is built: until then it refuses nothing and every unknown
    /// digest reads the database.
    pub session_filter_ready: bool,
}

/// Options of a [`RedbStore`] before it opens.
///
/// ```
/// use tower_user_auth::store::RedbStore;
///
/// let dir = tempfile::tempdir()?;
/// let store = RedbStore::builder()
///     .with_session_cache_bytes(256 << 20)
///     .with_write_queue(8192)
///     .open(dir.path().join("auth.redb"))?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
#[must_use]
pub struct RedbStoreBuilder {
    session_cache_bytes: usize,
    write_queue: usize,
}

impl Default for RedbStoreBuilder {
    fn default() -> Self {
        Self {
            session_cache_bytes: DEFAULT_SESSION_CACHE_BYTES,
            write_queue: DEFAULT_WRITE_QUEUE,
        }
    }
}

impl RedbStoreBuilder {
    /// How much memory the session cache in front of the store
    /// ([`CachedSessions`](crate::store::CachedSessions), which [`Auth`](crate::Auth) puts there) may
    /// use, in bytes (default 64 MiB; 0 turns the cache off). The cache is exact: every
    /// change to a session or a user invalidates it before the change is answered.
    pub fn with_session_cache_bytes(mut self, bytes: usize) -> Self {
        self.session_cache_bytes = bytes;
        self
    }

    /// The memory budget of each session cache in front of the store, in bytes.
    pub fn session_cache_budget(&self) -> usize {
        self.session_cache_bytes
    }

    /// Renamed [`with_session_cache_bytes`](Self::with_session_cache_bytes).
    #[deprecated(since = "0.2.0", note = "renamed to `with_session_cache_bytes`")]
    pub fn session_cache_bytes(self, bytes: usize) -> Self {
        self.with_session_cache_bytes(bytes)
    }

    /// How many writes may wait for the writer thread before further ones are refused with
    /// [`StoreError::Busy`] (default 4096).
    pub fn with_write_queue(mut self, writes: usize) -> Self {
        self.write_queue = writes;
        self
    }

    /// The old name of [`with_write_queue`](Self::with_write_queue); its field-named getter
    /// takes this name once this alias is removed.
    #[deprecated(since = "0.2.0", note = "renamed to `with_write_queue`")]
    pub fn write_queue(self, writes: usize) -> Self {
        self.with_write_queue(writes)
    }

    /// Opens (or creates) the database at `path`.
    ///
    /// # Errors
    /// As [`RedbStore::open`].
    pub fn open(self, path: impl AsRef<Path>) -> Result<RedbStore, StoreError> {
        RedbStore::start(Database::create(path)?, &self)
    }

    /// Uses an open redb database.
    ///
    /// # Errors
    /// As [`RedbStore::open`].
    pub fn open_database(self, db: Database) -> Result<RedbStore, StoreError> {
        RedbStore::start(db, &self)
    }

    /// Uses an open redb database: a `with_*` name on what opens the store, not a setter.
    ///
    /// # Errors
    /// As [`RedbStore::open`].
    #[deprecated(since = "0.2.0", note = "renamed to `open_database`")]
    pub fn with_database(self, db: Database) -> Result<RedbStore, StoreError> {
        self.open_database(db)
    }
}

/// Not shared: the file belongs to one process, so the throttle's counters stay in its
/// memory ([`shared_throttle`](super::SharedThrottling::shared_throttle) is `None`).
impl super::SharedThrottling for RedbStore {}

impl fmt::Debug for RedbStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedbStore").finish_non_exhaustive()
    }
}

impl RedbStore {
    /// Opens the database at `path`, creating it if needed. A file of an older schema version
    /// is migrated in place, in one transaction, before this returns.
    ///
    /// # Errors
    /// The file cannot be created or opened (permissions, already open in this or another
    /// process, not a redb file), or it records a newer schema version
    /// ([`StoreError::SchemaVersion`]), or its migration failed (the file is then unchanged).
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        RedbStoreBuilder::default().open(path)
    }

    /// A builder to set the session cache and the write queue before opening.
    pub fn builder() -> RedbStoreBuilder {
        RedbStoreBuilder::default()
    }

    /// A store on a database held in memory: for tests and examples.
    ///
    /// # Errors
    /// Never in practice; the signature matches [`RedbStore::open`].
    pub fn in_memory() -> Result<Self, StoreError> {
        let db = Database::builder().create_with_backend(redb::backends::InMemoryBackend::new())?;
        Self::with_database(db)
    }

    /// A store on an open redb database (for example one built with a custom storage
    /// backend). Creates the tables, or checks the schema version and migrates an older file.
    ///
    /// # Errors
    /// As [`RedbStore::open`].
    pub fn with_database(db: Database) -> Result<Self, StoreError> {
        RedbStoreBuilder::default().open_database(db)
    }

    fn start(db: Database, options: &RedbStoreBuilder) -> Result<Self, StoreError> {
        schema::open_schema(&db)?;
        let snapshot = Arc::new(Snapshot::open(&db)?);
        let db = Arc::new(db);
        let caches = Arc::new(Subscribers::default());
        // The snapshot is taken before the writer starts: see `live_digests`.
        let live = LiveDigestFilter::start(db.begin_read()?)?;
        let writer_live = Arc::clone(live.digests());
        let (jobs, receiver) = mpsc::sync_channel(options.write_queue.max(1));
        let writer_db = Arc::clone(&db);
        let writer_caches = Arc::clone(&caches);
        let writer_snapshot = Arc::clone(&snapshot);
        let writer = thread::Builder::new()
            .name("user-auth-redb-writer".into())
            .spawn(move || {
                writer::run_writer(
                    &writer_db,
                    &writer_caches,
                    &writer_snapshot,
                    &writer_live,
                    &receiver,
                );
            })
            .map_err(|e| StoreError::Backend(BackendError::new(e)))?;
        Ok(Self {
            shared: Arc::new(Shared {
                live,
                snapshot,
                db,
                caches,
                cache_bytes: options.session_cache_bytes,
                jobs: Some(jobs),
                writer: Mutex::new(Some(writer)),
            }),
        })
    }

    fn read<T>(
        &self,
        f: impl FnOnce(&ReadTransaction) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let txn = self.shared.db.begin_read()?;
        f(&txn)
    }

    /// The session of `token` with its owner's email, from the published snapshot of the
    /// `sessions` table (see [`snapshot`]): one B-tree walk, no read transaction begun. A
    /// cache that caches the answer loads its epoch before calling this.
    pub(crate) fn read_session(
        &self,
        token: TokenDigest,
    ) -> Result<Option<SessionEntry>, StoreError> {
        self.shared.snapshot.session(&self.shared.db, token)
    }

    async fn write<T: Send + 'static>(
        &self,
        op: impl FnOnce(&WriteTransaction) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (job, answer) = Pending::new(op);
        let job: Box<dyn Job> = Box::new(job);
        let jobs = self.shared.jobs.as_ref().ok_or(StoreError::Closed)?;
        match jobs.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => return Err(StoreError::Busy),
            Err(TrySendError::Disconnected(_)) => return Err(StoreError::Closed),
        }
        answer.await.map_err(|_| StoreError::Closed)?
    }

    /// Storage statistics, for monitoring: record counts and the bytes redb has in use (read
    /// as a job of the writer thread), and the memory of the session cache and of the filter
    /// of live session digests.
    ///
    /// # Errors
    /// The store failed.
    pub async fn stats(&self) -> Result<StoreStats, StoreError> {
        let (cached, cache_bytes) = self.shared.caches.size();
        let (cached_sessions, session_cache_bytes) = (cached as u64, cache_bytes as u64);
        let filter = self.shared.live.digests();
        let session_filter_ready = filter.is_built();
        let (session_filter_entries, session_filter_bytes) = filter.size();
        self.write(move |txn| {
            let stats = txn.stats()?;
            Ok(StoreStats {
                users: txn.open_table(USERS)?.len()?,
                sessions: txn.open_table(SESSIONS)?.len()?,
                reset_tokens: txn.open_table(RESETS)?.len()?,
                email_tokens: txn.open_table(EMAIL_TOKENS)?.len()?,
                unconfirmed_users: txn.open_table(UNCONFIRMED)?.len()?,
                stored_bytes: stats.stored_bytes(),
                allocated_bytes: stats.allocated_pages() * stats.page_size() as u64,
                cached_sessions,
                session_cache_bytes,
                session_filter_entries,
                session_filter_bytes,
                session_filter_ready,
            })
        })
        .await
    }

    /// Statistics for benchmarks and monitoring: how many users, sessions and reset tokens
    /// are stored.
    ///
    /// # Errors
    /// The read failed.
    pub fn counts(&self) -> Result<(u64, u64, u64), StoreError> {
        self.read(|txn| {
            Ok((
                txn.open_table(USERS)?.len()?,
                txn.open_table(SESSIONS)?.len()?,
                txn.open_table(RESETS)?.len()?,
            ))
        })
    }
}

/// The writer tells every cache in front of the store what each commit changed, after the
/// commit and before it answers the writes (see `writer::run_writer`): the store is the
/// only writer of its file, so its caches are exact.
impl ChangeNotifications for RedbStore {
    fn cache_policy(&self) -> Option<CachePolicy> {
        Some(CachePolicy {
            coherence: Coherence::Exact,
            budget_bytes: self.shared.cache_bytes,
        })
    }

    fn subscribe(&self, subscriber: CacheSubscriber) {
        self.shared.caches.add(subscriber);
    }
}
