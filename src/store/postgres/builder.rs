//! [`PgStoreBuilder`]: the pool's size and timeouts and the session cache's budget, before
//! [`connect`](PgStoreBuilder::connect) opens the pool and migrates the schema.

use std::{sync::Arc, time::Duration};

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::NoTls;

use super::{PgStore, errors::PgError, migrate, notify::Caches};
use crate::{error::StoreError, store::cache::DEFAULT_SESSION_CACHE_BYTES};

/// The default number of connections in the pool.
const DEFAULT_POOL_SIZE: usize = 16;
/// The default time allowed to open a connection, and to wait for a free one.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

/// Options of a [`PgStore`] before it connects.
///
/// ```no_run
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// use tower_user_auth::store::PgStore;
///
/// let store = PgStore::builder()
///     .with_pool_size(32)
///     .with_connect_timeout(Duration::from_secs(1))
///     .connect("postgres://auth@127.0.0.1/auth")
///     .await?;
/// # let _ = store;
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
#[must_use]
pub struct PgStoreBuilder {
    pool_size: usize,
    connect_timeout: Duration,
    wait_timeout: Duration,
    session_cache_bytes: usize,
}

impl Default for PgStoreBuilder {
    fn default() -> Self {
        Self {
            pool_size: DEFAULT_POOL_SIZE,
            connect_timeout: DEFAULT_TIMEOUT,
            wait_timeout: DEFAULT_TIMEOUT,
            session_cache_bytes: DEFAULT_SESSION_CACHE_BYTES,
        }
    }
}

impl PgStoreBuilder {
    /// How many connections the pool opens at most (default 16; at least 1). Count them
    /// against the server's `max_connections`, for every instance.
    ///
    /// ```
    /// use tower_user_auth::store::PgStore;
    ///
    /// let builder = PgStore::builder().with_pool_size(4);
    /// # let _ = builder;
    /// ```
    pub fn with_pool_size(mut self, connections: usize) -> Self {
        self.pool_size = connections.max(1);
        self
    }

    /// The old name of [`with_pool_size`](Self::with_pool_size); its field-named getter
    /// takes this name once this alias is removed.
    #[deprecated(since = "0.2.0", note = "renamed to `with_pool_size`")]
    pub fn pool_size(self, connections: usize) -> Self {
        self.with_pool_size(connections)
    }

    /// How long opening a connection may take before the call fails (default 2 s): a
    /// database that is down answers with an error this soon, not after a long backoff.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tower_user_auth::store::PgStore;
    ///
    /// let builder = PgStore::builder().with_connect_timeout(Duration::from_millis(500));
    /// # let _ = builder;
    /// ```
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The old name of [`with_connect_timeout`](Self::with_connect_timeout); its field-named getter
    /// takes this name once this alias is removed.
    #[deprecated(since = "0.2.0", note = "renamed to `with_connect_timeout`")]
    pub fn connect_timeout(self, timeout: Duration) -> Self {
        self.with_connect_timeout(timeout)
    }

    /// How long a call waits for a free connection when all are busy before it fails with
    /// [`StoreError::Busy`] (default 2 s), which the layer answers with 503.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tower_user_auth::store::PgStore;
    ///
    /// let builder = PgStore::builder().with_wait_timeout(Duration::from_millis(250));
    /// # let _ = builder;
    /// ```
    pub fn with_wait_timeout(mut self, timeout: Duration) -> Self {
        self.wait_timeout = timeout;
        self
    }

    /// The old name of [`with_wait_timeout`](Self::with_wait_timeout); its field-named getter
    /// takes this name once this alias is removed.
    #[deprecated(since = "0.2.0", note = "renamed to `with_wait_timeout`")]
    pub fn wait_timeout(self, timeout: Duration) -> Self {
        self.with_wait_timeout(timeout)
    }

    /// How much memory the in-process session cache may use, in bytes (default 64 MiB; 0
    /// turns it off). With the cache, validating a cookie whose session was read
    /// recently costs a hash-map look-up instead of a query.
    ///
    /// The cache is coherent across instances: every change to a session or a user is
    /// notified on the channel `tower_user_auth_sessions` from its transaction, and each
    /// store keeps one connection of its own (besides the pool) listening to it, which drops
    /// what other instances changed. The cache answers only while that connection has
    /// answered a ping within the last 200 ms; otherwise (start-up, a lost connection,
    /// resubscribing) every read goes to the database, and the cache is cleared once the
    /// subscription is back. So a session ended through any instance is refused by this one
    /// at most 200 ms after the end committed, usually within a millisecond or two. See
    /// [`PgStore`]'s docs for the payloads and the cost.
    ///
    /// Notifications are sent whatever this setting: other instances may cache.
    ///
    /// ```
    /// use tower_user_auth::store::PgStore;
    ///
    /// let builder = PgStore::builder().with_session_cache_bytes(0); // every read from the database
    /// # let _ = builder;
    /// ```
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

    /// Connects to the database at `url` (`postgres://user:password@host:port/database`,
    /// or the key-value form `host=… user=… dbname=…`), and applies the migrations.
    ///
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use tower_user_auth::store::PgStore;
    ///
    /// let store = PgStore::builder()
    ///     .with_pool_size(8)
    ///     .connect("host=/run/postgresql user=auth dbname=auth")
    ///     .await?;
    /// # let _ = store;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// As [`PgStore::connect`].
    pub async fn connect(self, url: &str) -> Result<PgStore, StoreError> {
        let mut config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| PgError::other(format!("invalid database URL: {e}")))?;
        config.connect_timeout(self.connect_timeout);
        if config.get_application_name().is_none() {
            config.application_name("tower-user-auth");
        }
        let listener_config = config.clone();
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(self.pool_size)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(self.wait_timeout))
            .create_timeout(Some(self.connect_timeout))
            .recycle_timeout(Some(self.connect_timeout))
            .build()
            .map_err(|e| PgError::other(format!("connection pool: {e}")))?;
        let mut client = pool.get().await?;
        migrate::migrate(&mut client).await?;
        let caches = Arc::new(Caches::new(self.session_cache_bytes, listener_config));
        Ok(PgStore { pool, caches })
    }
}
