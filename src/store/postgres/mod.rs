//! The PostgreSQL store, [`PgStore`] (feature `postgres`): accounts, sessions, reset tokens,
//! device tokens, email tokens and second factors in a PostgreSQL database, for apps that already run one, and for several
//! app instances on one database (a session cache kept coherent by `LISTEN`/`NOTIFY`, the
//! throttle's counters shared in the database).
//!
//! # Driver
//!
//! [`tokio-postgres`](tokio_postgres) with a [`deadpool-postgres`](deadpool_postgres) pool:
//! an async driver without a compile-time database, a pool that drops broken connections by
//! itself (a connection the server closed is discarded when it is next taken, so the store
//! recovers as soon as the database is back, with no backoff), per-connection statement
//! caches, and `LISTEN`/`NOTIFY` on a dedicated connection, whose notifications tokio-postgres
//! hands over as they arrive (the session cache's cross-instance invalidation, [`notify`]).
//! `sqlx` would also do; its compile-time checked queries need a database at build time,
//! which this crate's builds do not have. Connections are made without TLS: run the database
//! on loopback or a private network.
//!
//! # Files
//!
//! - [`builder`]: [`PgStoreBuilder`], the pool's size and timeouts and the session cache's
//!   budget, and `connect`;
//! - [`migrate`]: the versioned migrations (`migrations/*.sql`), applied at start-up under
//!   an advisory lock;
//! - by concern, each the store trait it implements beside its operations on the tables
//!   (one statement on a pooled connection, or one transaction; see each operation's comment
//!   for its locks): [`users`] ([`UserStore`](super::UserStore)), [`sessions`]
//!   ([`SessionStore`](super::SessionStore)), [`tokens`]
//!   ([`TokenStore`](super::TokenStore): [`resets`], [`email_tokens`], [`devices`]),
//!   [`second_factor`] ([`SecondFactorStore`](super::SecondFactorStore)), [`expired`]
//!   ([`ExpiredDeletion`](super::ExpiredDeletion)) and [`throttle`]
//!   ([`SharedThrottling`](super::SharedThrottling): the shared throttle's counters,
//!   `UNLOGGED`, counted with atomic upserts). Those that change sessions or users notify the
//!   other instances' caches from their transaction and invalidate this instance's after it;
//! - [`notify`]: what keeps the session caches in front of the store coherent (its
//!   notifications, the listener, the lease) and its [`ChangeNotifications`] implementation;
//! - [`errors`]: PostgreSQL's and the pool's errors as [`StoreError`]s.
//!
//! The schema, its indexes and the transactions (`schema.md`, also in [`PgStore`]'s docs):
//!
#![doc = include_str!("schema.md")]

mod builder;
mod errors;
mod expired;
mod migrate;
mod notify;
mod second_factor;
mod sessions;
pub(crate) mod throttle;
mod tokens;
mod users;

use std::{
    fmt,
    future::Future,
    pin::Pin,
    sync::Arc,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use deadpool_postgres::{Pool, Transaction};
use tokio_postgres::Row;

pub use self::builder::PgStoreBuilder;
use self::{
    errors::PgError,
    notify::Caches,
    tokens::{devices, email_tokens, resets},
};
use crate::{
    error::StoreError,
    store::cache::Dirty,
    token::TokenDigest,
    user::{User, UserId},
};

/// How many times a transaction aborted as a deadlock victim or a serialisation failure is
/// run in all.
const ATTEMPTS: usize = 3;

/// The PostgreSQL store: accounts, sessions, reset tokens, device tokens, email tokens and
/// second factors in one database, through a pool of connections.
///
/// Cheap to clone: clones share the pool. [`connect`](Self::connect) applies the schema's
/// migrations before it returns (once, even when several instances start together).
///
/// ```no_run
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use tower_user_auth::{Auth, AuthConfig, store::PgStore};
///
/// let store = PgStore::connect("postgres://auth:secret@127.0.0.1:5432/auth").await?;
/// let auth = Auth::new(store, AuthConfig::hardened())?;
/// # let _ = auth;
/// # Ok(())
/// # }
/// ```
///
#[doc = include_str!("schema.md")]
#[derive(Clone)]
pub struct PgStore {
    pool: Pool,
    /// The session caches in front of the store, and their listener.
    caches: Arc<Caches>,
}

impl fmt::Debug for PgStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = self.pool.status();
        f.debug_struct("PgStore")
            .field("pool_size", &status.size)
            .field("pool_max_size", &status.max_size)
            .field("cached_sessions", &self.caches.len())
            .finish_non_exhaustive()
    }
}

impl PgStore {
    /// Connects to the database at `url` with the default pool (16 connections, 2 s
    /// timeouts), and brings its schema to this version's, creating the tables in an empty
    /// database.
    ///
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use tower_user_auth::store::{PgStore, prelude::*};
    ///
    /// let store = PgStore::connect("postgres://auth:secret@127.0.0.1/auth").await?;
    /// let user = store.add_user("ann@example.com", "$2b$12$...").await?;
    /// # let _ = user;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// The URL is invalid, the server cannot be reached or refuses the login
    /// ([`StoreError::Backend`]), or the database has a newer schema version
    /// ([`StoreError::SchemaVersion`], the database left unchanged).
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        PgStoreBuilder::default().connect(url).await
    }

    /// A builder to size the pool and set its timeouts before connecting (see
    /// [`PgStoreBuilder`]).
    pub fn builder() -> PgStoreBuilder {
        PgStoreBuilder::default()
    }

    /// The schema version this build of the crate reads and writes (`schema_version` holds
    /// the versions a database has been migrated to).
    ///
    /// ```
    /// assert_eq!(tower_user_auth::store::PgStore::schema_version(), 5);
    /// ```
    #[must_use]
    pub fn schema_version() -> u64 {
        migrate::SCHEMA_VERSION.unsigned_abs()
    }

    /// Whether a session cache in front of this store (this instance's
    /// [`CachedSessions`](crate::store::CachedSessions), which `Auth` puts there) would now
    /// answer `token` without a query: it is on, the store's notification connection vouches
    /// for it (see [`PgStoreBuilder::with_session_cache_bytes`]) and it holds the session. For
    /// diagnostics and tests.
    ///
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use tower_user_auth::{
    ///     Auth, AuthConfig,
    ///     store::{PgStore, SessionStore},
    ///     token::TokenDigest,
    /// };
    ///
    /// let store = PgStore::connect("postgres://auth@127.0.0.1/auth").await?;
    /// let auth = Auth::new(store, AuthConfig::hardened())?;
    /// let token = TokenDigest([7; 32]);
    /// auth.cached_sessions().session(token).await?;
    /// println!("cached: {}", auth.store().is_session_cached(token));
    /// # Ok(())
    /// # }
    /// ```
    #[must_use]
    pub fn is_session_cached(&self, token: TokenDigest) -> bool {
        self.caches.serves(&token.0)
    }

    /// Drops what a committed change named from this instance's cache (other instances drop
    /// it on its notification).
    fn invalidate(&self, dirty: &Dirty) {
        self.caches.invalidate(dirty);
    }

    /// Drops this instance's whole cache: a change of unknown outcome.
    fn clear_cache(&self) {
        self.caches.clear();
    }

    /// A connection from the pool, for one statement (atomic on its own).
    async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        Ok(self.pool.get().await?)
    }

    /// Runs `op` in a transaction (READ COMMITTED) and commits it; runs it again if
    /// PostgreSQL aborted it as a deadlock victim or a serialisation failure. An error from
    /// `op` rolls the transaction back.
    async fn transaction<T, F>(&self, mut op: F) -> Result<T, StoreError>
    where
        T: Send,
        F: for<'t> FnMut(&'t Transaction<'t>) -> BoxFuture<'t, Result<T, StoreError>> + Send,
    {
        let mut attempt = 1;
        loop {
            let mut client = self.client().await?;
            let result = async {
                let tx = client.transaction().await?;
                let value = op(&tx).await?;
                tx.commit().await?;
                Ok(value)
            }
            .await;
            match result {
                Err(e) if attempt < ATTEMPTS && errors::retryable(&e) => attempt += 1,
                other => return other,
            }
        }
    }
}

impl PgStore {
    /// As [`transaction`](Self::transaction), for changes that may touch cached sessions:
    /// `op` also answers what it changed ([`Dirty`]), which is notified from the transaction
    /// (`pg_notify`, delivered at its commit) and dropped from this instance's cache right
    /// after the commit. A commit whose outcome is unknown (the connection lost during it)
    /// clears this instance's cache.
    async fn write<T, F>(&self, mut op: F) -> Result<T, StoreError>
    where
        T: Send,
        F: for<'t> FnMut(&'t Transaction<'t>) -> BoxFuture<'t, Result<(T, Dirty), StoreError>>
            + Send,
    {
        let mut attempt = 1;
        loop {
            let mut client = self.client().await?;
            let result = async {
                let tx = client.transaction().await?;
                let (value, dirty) = op(&tx).await?;
                notify::send(&tx, &dirty).await?;
                if let Err(e) = tx.commit().await {
                    self.clear_cache();
                    return Err(e.into());
                }
                Ok((value, dirty))
            }
            .await;
            match result {
                Ok((value, dirty)) => {
                    self.invalidate(&dirty);
                    return Ok(value);
                }
                Err(e) if attempt < ATTEMPTS && errors::retryable(&e) => attempt += 1,
                Err(e) => return Err(e),
            }
        }
    }
}

/// What changed a user (and so every session of theirs, which carries the user).
fn dirty_user(id: i64) -> Dirty {
    let mut dirty = Dirty::default();
    dirty.users.insert(unsigned(id));
    dirty
}

/// A boxed future borrowing a transaction: what [`PgStore::transaction`] runs.
type BoxFuture<'t, T> = Pin<Box<dyn Future<Output = T> + Send + 't>>;

/// `t` to the millisecond (what both stores keep), no earlier than the UNIX epoch.
fn db_time(t: SystemTime) -> SystemTime {
    let ms = t
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    UNIX_EPOCH + Duration::from_millis(ms)
}

/// A user id as the `bigint` column holds it; `None` beyond its range (no such user).
fn db_id(id: UserId) -> Option<i64> {
    i64::try_from(id.0).ok()
}

/// A credential generation as the `bigint` column holds it.
fn db_generation(generation: u64) -> Result<i64, StoreError> {
    i64::try_from(generation)
        .map_err(|_| PgError::other(format!("generation {generation} is out of range")))
}

/// A non-negative `bigint` column (ids and generations; the schema checks the sign).
fn unsigned(v: i64) -> u64 {
    v.unsigned_abs()
}

/// The columns [`user_of`] reads, in a `SELECT`.
const USER_COLUMNS: &str = "users.id, users.email, users.hashed_password, users.generation, \
     users.email_confirmed, users.contested, users.created";

/// How many columns [`USER_COLUMNS`] names: the first column after them in a `SELECT`.
const USER_COLUMN_COUNT: usize = 7;

/// The user in a row of [`USER_COLUMNS`].
fn user_of(row: &Row) -> Result<User, StoreError> {
    Ok(User {
        id: UserId(unsigned(row.try_get(0)?)),
        email: row.try_get(1)?,
        hashed_password: row.try_get(2)?,
        generation: unsigned(row.try_get(3)?),
        email_confirmed: row.try_get(4)?,
        contested: row.try_get(5)?,
        created: row.try_get(6)?,
    })
}

/// A 32-byte digest read from a `bytea` column.
fn digest_of(bytes: &[u8]) -> Result<[u8; 32], StoreError> {
    bytes
        .try_into()
        .map_err(|_| PgError::other(format!("a stored digest has {} bytes, not 32", bytes.len())))
}

/// An `UPDATE`'s or `DELETE`'s row count as a `usize`.
fn count(rows: u64) -> usize {
    usize::try_from(rows).unwrap_or(usize::MAX)
}
