//! [`Auth`]: the authentication service (register, log in, sessions, password change and
//! reset) over any [`Store`], with expiry and bcrypt off the async runtime.
//!
//! Its operations live by concern: accounts, sessions, credentials, device tokens, password
//! reset, and the audit trail they all write to. The names of the Python service this crate re-creates
//! are in [`compat`](crate::compat).

mod accounts;
mod audit;
mod confirmation;
mod credentials;
mod delivery;
mod devices;
mod email_change;
mod email_tokens;
mod login;
mod notices;
mod reauth;
mod recent;
mod reset;
mod second_factor;
mod sessions;

use std::{
    collections::HashSet,
    fmt,
    path::Path,
    sync::{Arc, Mutex},
    time::SystemTime,
};

pub use self::{
    devices::{
        DEVICE_TOKEN_FAILURES, DEVICE_TOKEN_LIFETIME, IssuedDevice, MAX_DEVICE_TOKENS_PER_USER,
    },
    email_change::EmailChange,
    login::{LoggedIn, Login},
    recent::Reauthentication,
    reset::ResetRequested,
    second_factor::{RECOVERY_CODES, RecoveryCodes, SecondFactorProof, TotpSetup},
    sessions::SessionInfo,
};
use crate::{
    clock::{Clock, SystemClock},
    config::AuthConfig,
    error::{AuthError, ConfigError, OpenError, StoreError},
    password::PasswordHasher,
    store::{CachedSessions, RedbStore, Store, UserQuery},
    throttle::Limits,
    user::User,
};

/// The authentication service: accounts, sessions and password resets over a [`Store`].
///
/// Cheap to clone; clones share the store, the configuration and the bcrypt pool. Every
/// [`AuthLayer`](crate::AuthLayer) on one database should share one `Auth`.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use tower_user_auth::{Auth, AuthConfig, auth::Login};
///
/// let dir = tempfile::tempdir()?;
/// let auth = Auth::open(dir.path().join("auth.redb"), AuthConfig::hardened().with_bcrypt_cost(4))?;
/// auth.register("bob@example.com", "correct horse battery staple", None).await?;
/// let logged_in = auth
///     .log_in(Login::new("bob@example.com", "correct horse battery staple"))
///     .await?
///     .expect("right credentials");
/// let (user, _session) = auth.authenticate(&logged_in.token).await?.expect("live session");
/// assert_eq!(user.email, "bob@example.com");
/// assert!(auth.log_out(&logged_in.token, None).await?);
/// # Ok(())
/// # }
/// ```
pub struct Auth<S = RedbStore> {
    shared: Arc<Shared<S>>,
}

struct Shared<S> {
    /// The store, behind the session cache that every session look-up goes through.
    sessions: CachedSessions<S>,
    config: AuthConfig,
    clock: Arc<dyn Clock>,
    hasher: PasswordHasher,
    throttle: Limits,
    /// Sessions whose activity is being written, so that concurrent requests on one session
    /// write it once.
    renewing: Mutex<HashSet<[u8; 32]>>,
}

impl<S> Clone for Auth<S> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<S> fmt::Debug for Auth<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Auth")
            .field("config", &self.shared.config)
            .field("clock", &self.shared.clock)
            .finish_non_exhaustive()
    }
}

impl Auth<RedbStore> {
    /// Validates `config` ([`AuthConfig::validate`]), then opens (or creates) the redb
    /// database at `path`.
    ///
    /// # Errors
    /// [`OpenError::Config`] with every problem of the configuration (the database is not
    /// opened); [`OpenError::Store`] if the database cannot be opened: see
    /// [`RedbStore::open`].
    pub fn open(path: impl AsRef<Path>, config: AuthConfig) -> Result<Self, OpenError> {
        config.validate()?;
        Ok(Self::from_valid(
            RedbStore::open(path)?,
            config,
            SystemClock,
        ))
    }
}

impl<S: Store> Auth<S> {
    /// An `Auth` over `store` with the system clock, once `config` is validated
    /// ([`AuthConfig::validate`]).
    ///
    /// Computes one bcrypt hash at the configured cost (the dummy hash that unknown emails
    /// are verified against), so it takes as long as one login.
    ///
    /// # Errors
    /// A [`ConfigError`] with every problem of the configuration.
    pub fn new(store: S, config: AuthConfig) -> Result<Self, ConfigError> {
        Self::with_clock(store, config, SystemClock)
    }

    /// As [`Auth::new`], reading the time from `clock` (a [`ManualClock`](crate::ManualClock)
    /// in tests).
    ///
    /// # Errors
    /// A [`ConfigError`] with every problem of the configuration.
    pub fn with_clock(
        store: S,
        config: AuthConfig,
        clock: impl Clock,
    ) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(Self::from_valid(store, config, clock))
    }

    fn from_valid(store: S, config: AuthConfig, clock: impl Clock) -> Self {
        let hasher = PasswordHasher::new(
            config.bcrypt_cost,
            config.hashing_threads,
            config.hashing_queue,
            config.hashing_priority,
        );
        let throttle = Limits::new(config.throttle.clone(), store.shared_throttle());
        Self {
            shared: Arc::new(Shared {
                sessions: CachedSessions::new(store),
                config,
                clock: Arc::new(clock),
                hasher,
                throttle,
                renewing: Mutex::new(HashSet::new()),
            }),
        }
    }

    /// The store.
    #[must_use]
    pub fn store(&self) -> &S {
        self.shared.sessions.store()
    }

    /// The session cache in front of the store, which every session look-up goes through
    /// (see [`CachedSessions`]; its budget is set on the store's builder).
    #[must_use]
    pub fn cached_sessions(&self) -> &CachedSessions<S> {
        &self.shared.sessions
    }

    /// The configuration.
    pub fn config(&self) -> &AuthConfig {
        &self.shared.config
    }

    /// The current time by the configured clock.
    #[must_use]
    pub fn now(&self) -> SystemTime {
        self.shared.clock.now()
    }

    /// The configured clock, shared: for the guards that tell the time as this `Auth` does.
    pub(crate) fn clock(&self) -> Arc<dyn Clock> {
        Arc::clone(&self.shared.clock)
    }

    pub(crate) async fn find(&self, query: UserQuery) -> Result<Option<User>, AuthError> {
        match self.store().find_user_by(query).await {
            Ok(user) => Ok(Some(user)),
            Err(StoreError::NotFound) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}
