//! The embedded store: one redb file, reads inline, writes group-committed by one thread.

use std::{
    fmt,
    panic::{AssertUnwindSafe, catch_unwind},
    path::Path,
    sync::{
        Arc, Mutex, PoisonError,
        mpsc::{self, Receiver, SyncSender, TrySendError},
    },
    thread::{self, JoinHandle},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use redb::{
    Database, MultimapTableDefinition, ReadTransaction, ReadableDatabase, ReadableMultimapTable,
    ReadableTable, ReadableTableMetadata, TableDefinition, WriteTransaction,
};
use tokio::sync::oneshot;

use super::{
    EndSessions, PasswordReset, Purged, ResetRecord, SessionRecord, Store, UserQuery, UserUpdate,
    session_cache::{Dirty, SessionCache},
};
use crate::{
    error::{BackendError, StoreError},
    token::TokenDigest,
    user::{User, UserId},
};

/// The schema this build reads and writes. A file recording another version is refused.
pub(crate) const SCHEMA_VERSION: u64 = 1;

const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
/// id → (email as registered, bcrypt hash, created ms).
const USERS: TableDefinition<u64, (&str, &str, u64)> = TableDefinition::new("users");
/// Lowercased email → id: the unique index.
const EMAILS: TableDefinition<&str, u64> = TableDefinition::new("users_by_email");
/// Token digest → (user id, created ms, last seen ms, expires ms).
const SESSIONS: TableDefinition<[u8; 32], (u64, u64, u64, u64)> = TableDefinition::new("sessions");
/// User id → digests of their sessions.
const USER_SESSIONS: MultimapTableDefinition<u64, [u8; 32]> =
    MultimapTableDefinition::new("sessions_by_user");
/// (expires ms, digest): sessions by absolute expiry, for purging.
const SESSION_EXPIRY: TableDefinition<(u64, [u8; 32]), ()> =
    TableDefinition::new("sessions_by_expiry");
/// (last seen ms, digest): sessions by last activity, for purging idle ones.
const SESSION_IDLE: TableDefinition<(u64, [u8; 32]), ()> =
    TableDefinition::new("sessions_by_last_seen");
/// Token digest → (user id, created ms, expires ms).
const RESETS: TableDefinition<[u8; 32], (u64, u64, u64)> = TableDefinition::new("reset_tokens");
/// User id → digest of their one live reset token.
const USER_RESET: TableDefinition<u64, [u8; 32]> = TableDefinition::new("reset_tokens_by_user");
/// (expires ms, digest): reset tokens by expiry, for purging.
const RESET_EXPIRY: TableDefinition<(u64, [u8; 32]), ()> =
    TableDefinition::new("reset_tokens_by_expiry");

thread_local! {
    /// What the writer thread's current batch changed, for the session cache. Only the
    /// writer thread runs write operations.
    static DIRTY: std::cell::RefCell<Dirty> = std::cell::RefCell::new(Dirty::default());
}

fn dirty_session(digest: [u8; 32]) {
    DIRTY.with(|d| d.borrow_mut().sessions.insert(digest));
}

fn dirty_user(id: u64) {
    DIRTY.with(|d| d.borrow_mut().users.insert(id));
}

/// Sessions kept in the in-process cache.
const SESSION_CACHE_ENTRIES: usize = 100_000;

/// At most this many writes share one commit.
const MAX_BATCH: usize = 256;
/// Writes waiting for the writer thread beyond which new ones are refused with
/// [`StoreError::Busy`].
const DEFAULT_WRITE_QUEUE: usize = 4096;

fn millis(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn time(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

fn email_key(email: &str) -> String {
    email.trim().to_lowercase()
}

fn session_record((user, created, last_seen, expires): (u64, u64, u64, u64)) -> SessionRecord {
    SessionRecord {
        user_id: UserId(user),
        created: time(created),
        last_seen: time(last_seen),
        expires: time(expires),
    }
}

fn reset_record((user, created, expires): (u64, u64, u64)) -> ResetRecord {
    ResetRecord {
        user_id: UserId(user),
        created: time(created),
        expires: time(expires),
    }
}

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
/// use tower_user_auth::store::{RedbStore, Store, UserQuery};
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

struct Shared {
    db: Arc<Database>,
    cache: Arc<SessionCache>,
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
    /// Bytes of keys and values stored.
    pub stored_bytes: u64,
    /// Bytes of the pages redb has allocated (the file may be larger: redb grows it in steps
    /// and reuses freed pages).
    pub allocated_bytes: u64,
}

/// Options of a [`RedbStore`] before it opens.
///
/// ```
/// use tower_user_auth::store::RedbStore;
///
/// let dir = tempfile::tempdir()?;
/// let store = RedbStore::builder()
///     .session_cache_entries(1_000_000)
///     .write_queue(8192)
///     .open(dir.path().join("auth.redb"))?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
#[must_use]
pub struct RedbStoreBuilder {
    session_cache_entries: usize,
    write_queue: usize,
}

impl Default for RedbStoreBuilder {
    fn default() -> Self {
        Self {
            session_cache_entries: SESSION_CACHE_ENTRIES,
            write_queue: DEFAULT_WRITE_QUEUE,
        }
    }
}

impl RedbStoreBuilder {
    /// How many validated sessions to keep in memory (default 100,000; about 250 bytes each;
    /// 0 turns the cache off). The cache is exact: every change to a session or a user
    /// invalidates it before the change is answered.
    pub fn session_cache_entries(mut self, entries: usize) -> Self {
        self.session_cache_entries = entries;
        self
    }

    /// How many writes may wait for the writer thread before further ones are refused with
    /// [`StoreError::Busy`] (default 4096).
    pub fn write_queue(mut self, writes: usize) -> Self {
        self.write_queue = writes;
        self
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
    pub fn with_database(self, db: Database) -> Result<RedbStore, StoreError> {
        RedbStore::start(db, &self)
    }
}

impl fmt::Debug for RedbStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedbStore").finish_non_exhaustive()
    }
}

impl RedbStore {
    /// Opens the database at `path`, creating it if needed.
    ///
    /// # Errors
    /// The file cannot be created or opened (permissions, already open in this or another
    /// process, not a redb file), or it records another schema version.
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
    /// backend). Creates the tables and checks the schema version.
    ///
    /// # Errors
    /// As [`RedbStore::open`].
    pub fn with_database(db: Database) -> Result<Self, StoreError> {
        RedbStoreBuilder::default().with_database(db)
    }

    fn start(db: Database, options: &RedbStoreBuilder) -> Result<Self, StoreError> {
        init_schema(&db)?;
        let db = Arc::new(db);
        let cache = Arc::new(SessionCache::new(options.session_cache_entries));
        let (jobs, receiver) = mpsc::sync_channel(options.write_queue.max(1));
        let writer_db = Arc::clone(&db);
        let writer_cache = Arc::clone(&cache);
        let writer = thread::Builder::new()
            .name("user-auth-redb-writer".into())
            .spawn(move || run_writer(&writer_db, &writer_cache, &receiver))
            .map_err(|e| StoreError::Backend(BackendError::new(e)))?;
        Ok(Self {
            shared: Arc::new(Shared {
                db,
                cache,
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

    async fn write<T: Send + 'static>(
        &self,
        op: impl FnOnce(&WriteTransaction) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (reply, answer) = oneshot::channel();
        let job = Box::new(Pending {
            op: Some(op),
            outcome: None,
            reply,
        });
        let jobs = self.shared.jobs.as_ref().ok_or(StoreError::Closed)?;
        match jobs.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => return Err(StoreError::Busy),
            Err(TrySendError::Disconnected(_)) => return Err(StoreError::Closed),
        }
        answer.await.map_err(|_| StoreError::Closed)?
    }

    /// Storage statistics, for monitoring: record counts and the bytes redb has in use. Runs
    /// as a (read-only) job of the writer thread.
    ///
    /// # Errors
    /// The store failed.
    pub async fn stats(&self) -> Result<StoreStats, StoreError> {
        self.write(|txn| {
            let stats = txn.stats()?;
            Ok(StoreStats {
                users: txn.open_table(USERS)?.len()?,
                sessions: txn.open_table(SESSIONS)?.len()?,
                reset_tokens: txn.open_table(RESETS)?.len()?,
                stored_bytes: stats.stored_bytes(),
                allocated_bytes: stats.allocated_pages() * stats.page_size() as u64,
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

fn init_schema(db: &Database) -> Result<(), StoreError> {
    let txn = db.begin_write()?;
    {
        let mut meta = txn.open_table(META)?;
        let users = txn.open_table(USERS)?;
        txn.open_table(EMAILS)?;
        txn.open_table(SESSIONS)?;
        txn.open_multimap_table(USER_SESSIONS)?;
        txn.open_table(SESSION_EXPIRY)?;
        txn.open_table(SESSION_IDLE)?;
        txn.open_table(RESETS)?;
        txn.open_table(USER_RESET)?;
        txn.open_table(RESET_EXPIRY)?;
        let recorded = meta.get("schema_version")?.map(|v| v.value());
        match recorded {
            Some(SCHEMA_VERSION) => {}
            Some(found) => {
                return Err(StoreError::SchemaVersion {
                    found,
                    expected: SCHEMA_VERSION,
                });
            }
            None if !users.is_empty()? => {
                return Err(StoreError::SchemaVersion {
                    found: 0,
                    expected: SCHEMA_VERSION,
                });
            }
            None => {
                meta.insert("schema_version", SCHEMA_VERSION)?;
                meta.insert("next_user_id", 1)?;
            }
        }
    }
    txn.commit()?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The writer thread.

/// One queued write: applied inside the batch's transaction, answered after its commit.
trait Job: Send {
    /// Runs the operation. An error that leaves the transaction unusable (anything but
    /// `NotFound`/`EmailTaken`, which operations return before writing) aborts the batch.
    fn apply(&mut self, txn: &WriteTransaction) -> Result<(), StoreError>;
    /// Answers the caller: its outcome if the batch committed, else the commit's error.
    fn finish(self: Box<Self>, committed: Result<(), StoreError>);
}

struct Pending<T, F> {
    op: Option<F>,
    outcome: Option<Result<T, StoreError>>,
    reply: oneshot::Sender<Result<T, StoreError>>,
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
            Ok(_) | Err(StoreError::NotFound | StoreError::EmailTaken) => None,
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

fn run_writer(db: &Database, cache: &SessionCache, jobs: &Receiver<Box<dyn Job>>) {
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let committed = commit_batch(db, &mut batch);
        let dirty = DIRTY.with(|d| std::mem::take(&mut *d.borrow_mut()));
        match &committed {
            // Before anyone is answered: an answered logout is seen by every later request.
            Ok(()) => cache.invalidate(&dirty),
            Err(e) => {
                cache.clear();
                tracing::error!(error = %e, writes = batch.len(), "store commit failed");
            }
        }
        for job in batch {
            job.finish(committed.clone());
        }
    }
}

fn commit_batch(db: &Database, batch: &mut [Box<dyn Job>]) -> Result<(), StoreError> {
    let txn = db.begin_write()?;
    for job in batch.iter_mut() {
        // On error the transaction is dropped, which aborts it: nothing of the batch lands.
        job.apply(&txn)?;
    }
    txn.commit()?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Operations inside a write transaction.

fn get_user(txn: &WriteTransaction, id: u64) -> Result<Option<User>, StoreError> {
    let users = txn.open_table(USERS)?;
    let user = users.get(id)?.map(|v| {
        let (email, hash, _) = v.value();
        User {
            id: UserId(id),
            email: email.to_owned(),
            hashed_password: hash.to_owned(),
        }
    });
    Ok(user)
}

fn remove_session(txn: &WriteTransaction, digest: [u8; 32]) -> Result<bool, StoreError> {
    let Some((user, _, last_seen, expires)) =
        txn.open_table(SESSIONS)?.remove(digest)?.map(|v| v.value())
    else {
        return Ok(false);
    };
    dirty_session(digest);
    txn.open_multimap_table(USER_SESSIONS)?
        .remove(user, digest)?;
    txn.open_table(SESSION_EXPIRY)?.remove((expires, digest))?;
    txn.open_table(SESSION_IDLE)?.remove((last_seen, digest))?;
    Ok(true)
}

fn remove_sessions_of(
    txn: &WriteTransaction,
    user: u64,
    which: EndSessions,
) -> Result<usize, StoreError> {
    let keep = match which {
        EndSessions::None => return Ok(0),
        EndSessions::All => None,
        EndSessions::AllExcept(d) => Some(d.0),
    };
    let digests: Vec<[u8; 32]> = {
        let index = txn.open_multimap_table(USER_SESSIONS)?;
        let mut digests = Vec::new();
        for d in index.get(user)? {
            digests.push(d?.value());
        }
        digests
    };
    let mut removed = 0;
    for digest in digests.into_iter().filter(|d| Some(*d) != keep) {
        if remove_session(txn, digest)? {
            removed += 1;
        }
    }
    Ok(removed)
}

fn remove_reset_of(txn: &WriteTransaction, user: u64) -> Result<(), StoreError> {
    let Some(digest) = txn.open_table(USER_RESET)?.remove(user)?.map(|v| v.value()) else {
        return Ok(());
    };
    if let Some((_, _, expires)) = txn.open_table(RESETS)?.remove(digest)?.map(|v| v.value()) {
        txn.open_table(RESET_EXPIRY)?.remove((expires, digest))?;
    }
    Ok(())
}

fn set_hash(txn: &WriteTransaction, user: &User, hash: &str) -> Result<(), StoreError> {
    dirty_user(user.id.0);
    let mut users = txn.open_table(USERS)?;
    let created = users.get(user.id.0)?.map_or(0, |v| v.value().2);
    users.insert(user.id.0, (user.email.as_str(), hash, created))?;
    Ok(())
}

impl Store for RedbStore {
    async fn add_user(&self, email: &str, hashed_password: &str) -> Result<User, StoreError> {
        let email = email.trim().to_owned();
        let hash = hashed_password.to_owned();
        self.write(move |txn| {
            let key = email_key(&email);
            let mut emails = txn.open_table(EMAILS)?;
            if emails.get(key.as_str())?.is_some() {
                return Err(StoreError::EmailTaken);
            }
            let mut meta = txn.open_table(META)?;
            let id = meta.get("next_user_id")?.map_or(1, |v| v.value());
            meta.insert("next_user_id", id + 1)?;
            emails.insert(key.as_str(), id)?;
            txn.open_table(USERS)?.insert(
                id,
                (email.as_str(), hash.as_str(), millis(SystemTime::now())),
            )?;
            Ok(User {
                id: UserId(id),
                email,
                hashed_password: hash,
            })
        })
        .await
    }

    async fn find_user_by(&self, query: UserQuery) -> Result<User, StoreError> {
        self.read(|txn| {
            let id = match query {
                UserQuery::Id(id) => Some(id.0),
                UserQuery::Email(email) => txn
                    .open_table(EMAILS)?
                    .get(email_key(&email).as_str())?
                    .map(|v| v.value()),
                UserQuery::Session(d) => txn.open_table(SESSIONS)?.get(d.0)?.map(|v| v.value().0),
                UserQuery::ResetToken(d) => txn.open_table(RESETS)?.get(d.0)?.map(|v| v.value().0),
            };
            let Some(id) = id else {
                return Err(StoreError::NotFound);
            };
            let users = txn.open_table(USERS)?;
            let v = users.get(id)?.ok_or(StoreError::NotFound)?;
            let (email, hash, _) = v.value();
            Ok(User {
                id: UserId(id),
                email: email.to_owned(),
                hashed_password: hash.to_owned(),
            })
        })
    }

    async fn update_user(&self, id: UserId, update: UserUpdate) -> Result<User, StoreError> {
        self.write(move |txn| {
            let mut user = get_user(txn, id.0)?.ok_or(StoreError::NotFound)?;
            let mut emails = txn.open_table(EMAILS)?;
            if let Some(email) = &update.email {
                let email = email.trim();
                let (old_key, new_key) = (email_key(&user.email), email_key(email));
                if old_key != new_key {
                    if emails.get(new_key.as_str())?.is_some() {
                        return Err(StoreError::EmailTaken);
                    }
                    emails.remove(old_key.as_str())?;
                    emails.insert(new_key.as_str(), id.0)?;
                }
                email.clone_into(&mut user.email);
            }
            drop(emails);
            if let Some(hash) = update.hashed_password {
                user.hashed_password = hash;
            }
            set_hash(txn, &user, &user.hashed_password)?;
            remove_sessions_of(txn, id.0, update.end_sessions)?;
            Ok(user)
        })
        .await
    }

    async fn delete_user(&self, id: UserId) -> Result<(), StoreError> {
        self.write(move |txn| {
            let user = get_user(txn, id.0)?.ok_or(StoreError::NotFound)?;
            remove_sessions_of(txn, id.0, EndSessions::All)?;
            remove_reset_of(txn, id.0)?;
            dirty_user(id.0);
            txn.open_table(EMAILS)?
                .remove(email_key(&user.email).as_str())?;
            txn.open_table(USERS)?.remove(id.0)?;
            Ok(())
        })
        .await
    }

    async fn insert_session(
        &self,
        token: TokenDigest,
        session: SessionRecord,
        max_per_user: Option<usize>,
    ) -> Result<(), StoreError> {
        self.write(move |txn| {
            let user = session.user_id.0;
            if txn.open_table(USERS)?.get(user)?.is_none() {
                return Err(StoreError::NotFound);
            }
            let (created, last_seen, expires) = (
                millis(session.created),
                millis(session.last_seen),
                millis(session.expires),
            );
            txn.open_table(SESSIONS)?
                .insert(token.0, (user, created, last_seen, expires))?;
            txn.open_multimap_table(USER_SESSIONS)?
                .insert(user, token.0)?;
            txn.open_table(SESSION_EXPIRY)?
                .insert((expires, token.0), ())?;
            txn.open_table(SESSION_IDLE)?
                .insert((last_seen, token.0), ())?;
            if let Some(max) = max_per_user {
                let mut sessions: Vec<(u64, [u8; 32])> = {
                    let index = txn.open_multimap_table(USER_SESSIONS)?;
                    let table = txn.open_table(SESSIONS)?;
                    let mut all = Vec::new();
                    for d in index.get(user)? {
                        let d = d?.value();
                        if let Some(v) = table.get(d)? {
                            all.push((v.value().1, d));
                        }
                    }
                    all
                };
                if sessions.len() > max {
                    sessions.sort_unstable();
                    let excess = sessions.len() - max;
                    for (_, d) in sessions
                        .into_iter()
                        .filter(|(_, d)| *d != token.0)
                        .take(excess)
                    {
                        remove_session(txn, d)?;
                    }
                }
            }
            Ok(())
        })
        .await
    }

    async fn session(
        &self,
        token: TokenDigest,
    ) -> Result<Option<(SessionRecord, User)>, StoreError> {
        let cache = &self.shared.cache;
        if let Some(hit) = cache.get(&token.0) {
            return Ok(Some(hit));
        }
        let epoch = cache.epoch();
        let found = self.read(|txn| {
            let Some(record) = txn
                .open_table(SESSIONS)?
                .get(token.0)?
                .map(|v| session_record(v.value()))
            else {
                return Ok(None);
            };
            let users = txn.open_table(USERS)?;
            let Some(v) = users.get(record.user_id.0)? else {
                return Ok(None);
            };
            let (email, hash, _) = v.value();
            Ok(Some((
                record,
                User {
                    id: record.user_id,
                    email: email.to_owned(),
                    hashed_password: hash.to_owned(),
                },
            )))
        })?;
        if let Some(found) = &found {
            cache.insert(epoch, token.0, found.clone());
        }
        Ok(found)
    }

    async fn touch_session(
        &self,
        token: TokenDigest,
        last_seen: SystemTime,
    ) -> Result<(), StoreError> {
        self.write(move |txn| {
            let mut sessions = txn.open_table(SESSIONS)?;
            let Some((user, created, old_seen, expires)) =
                sessions.get(token.0)?.map(|v| v.value())
            else {
                return Ok(());
            };
            let seen = millis(last_seen).max(old_seen);
            dirty_session(token.0);
            sessions.insert(token.0, (user, created, seen, expires))?;
            let mut idle = txn.open_table(SESSION_IDLE)?;
            idle.remove((old_seen, token.0))?;
            idle.insert((seen, token.0), ())?;
            Ok(())
        })
        .await
    }

    async fn delete_session(&self, token: TokenDigest) -> Result<bool, StoreError> {
        self.write(move |txn| remove_session(txn, token.0)).await
    }

    async fn sessions_of(
        &self,
        id: UserId,
    ) -> Result<Vec<(TokenDigest, SessionRecord)>, StoreError> {
        self.read(|txn| {
            let index = txn.open_multimap_table(USER_SESSIONS)?;
            let table = txn.open_table(SESSIONS)?;
            let mut all = Vec::new();
            for d in index.get(id.0)? {
                let d = d?.value();
                if let Some(v) = table.get(d)? {
                    all.push((TokenDigest(d), session_record(v.value())));
                }
            }
            all.sort_by_key(|(_, s)| s.created);
            Ok(all)
        })
    }

    async fn delete_sessions_of(
        &self,
        id: UserId,
        which: EndSessions,
    ) -> Result<usize, StoreError> {
        self.write(move |txn| remove_sessions_of(txn, id.0, which))
            .await
    }

    async fn replace_reset_token(
        &self,
        token: TokenDigest,
        record: ResetRecord,
    ) -> Result<(), StoreError> {
        self.write(move |txn| {
            let user = record.user_id.0;
            if txn.open_table(USERS)?.get(user)?.is_none() {
                return Err(StoreError::NotFound);
            }
            remove_reset_of(txn, user)?;
            let expires = millis(record.expires);
            txn.open_table(RESETS)?
                .insert(token.0, (user, millis(record.created), expires))?;
            txn.open_table(USER_RESET)?.insert(user, token.0)?;
            txn.open_table(RESET_EXPIRY)?
                .insert((expires, token.0), ())?;
            Ok(())
        })
        .await
    }

    async fn reset_token(&self, token: TokenDigest) -> Result<Option<ResetRecord>, StoreError> {
        self.read(|txn| {
            Ok(txn
                .open_table(RESETS)?
                .get(token.0)?
                .map(|v| reset_record(v.value())))
        })
    }

    async fn reset_password(&self, reset: PasswordReset) -> Result<User, StoreError> {
        self.write(move |txn| {
            let record = txn
                .open_table(RESETS)?
                .get(reset.token.0)?
                .map(|v| reset_record(v.value()));
            let good = record.is_some_and(|r| r.user_id == reset.user_id && r.expires > reset.now);
            if !good {
                return Err(StoreError::NotFound);
            }
            let mut user = get_user(txn, reset.user_id.0)?.ok_or(StoreError::NotFound)?;
            user.hashed_password = reset.hashed_password;
            set_hash(txn, &user, &user.hashed_password)?;
            remove_reset_of(txn, user.id.0)?;
            if reset.end_sessions {
                remove_sessions_of(txn, user.id.0, EndSessions::All)?;
            }
            Ok(user)
        })
        .await
    }

    async fn purge_expired(
        &self,
        now: SystemTime,
        idle_before: SystemTime,
    ) -> Result<Purged, StoreError> {
        self.write(move |txn| {
            let (now, idle_before) = (millis(now), millis(idle_before));
            let mut purged = Purged::default();
            let mut doomed: Vec<[u8; 32]> = Vec::new();
            for entry in txn
                .open_table(SESSION_EXPIRY)?
                .range(..=(now, [0xff; 32]))?
            {
                doomed.push(entry?.0.value().1);
            }
            for entry in txn
                .open_table(SESSION_IDLE)?
                .range(..(idle_before, [0; 32]))?
            {
                doomed.push(entry?.0.value().1);
            }
            for digest in doomed {
                if remove_session(txn, digest)? {
                    purged.sessions += 1;
                }
            }
            let mut tokens: Vec<(u64, [u8; 32])> = Vec::new();
            for entry in txn.open_table(RESET_EXPIRY)?.range(..=(now, [0xff; 32]))? {
                tokens.push(entry?.0.value());
            }
            for (expires, digest) in tokens {
                txn.open_table(RESET_EXPIRY)?.remove((expires, digest))?;
                if let Some((user, _, _)) =
                    txn.open_table(RESETS)?.remove(digest)?.map(|v| v.value())
                {
                    let mut by_user = txn.open_table(USER_RESET)?;
                    if by_user.get(user)?.is_some_and(|v| v.value() == digest) {
                        by_user.remove(user)?;
                    }
                    purged.reset_tokens += 1;
                }
            }
            Ok(purged)
        })
        .await
    }
}
