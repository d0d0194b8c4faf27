//! [`Auth`]: the seed's `Auth` class (register, log in, sessions, password reset) over any
//! [`Store`], with expiry and bcrypt off the async runtime.

use std::{
    collections::HashSet,
    fmt,
    net::IpAddr,
    path::Path,
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, SystemTime},
};

use crate::{
    clock::{Clock, SystemClock},
    config::AuthConfig,
    error::{AuthError, StoreError},
    password::{PasswordHasher, check_hashable},
    store::{
        EndSessions, PasswordReset, Purged, RedbStore, ResetRecord, SessionRecord, Store,
        UserQuery, UserUpdate,
    },
    throttle::Throttle,
    token::{ResetToken, SessionId, SessionToken, TokenDigest},
    user::{AuthenticatedUser, User, UserId, check_email},
};

/// A successful login: the new session's token (for the cookie) and its record.
#[derive(Clone, Debug)]
pub struct LoggedIn {
    /// The account.
    pub user: User,
    /// The new session's token: give it to the client, then forget it.
    pub token: SessionToken,
    /// The new session.
    pub session: SessionRecord,
}

/// One of a user's sessions, as listed to them: never its token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionInfo {
    /// Its public id.
    pub id: SessionId,
    /// The stored record.
    pub record: SessionRecord,
}

/// The authentication service: accounts, sessions and password resets over a [`Store`].
///
/// Cheap to clone; clones share the store, the configuration and the bcrypt pool. Every
/// [`AuthLayer`](crate::AuthLayer) on one database should share one `Auth`.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use tower_user_auth::{Auth, AuthConfig};
///
/// let dir = tempfile::tempdir()?;
/// let auth = Auth::open(dir.path().join("auth.redb"), AuthConfig::seed().with_bcrypt_cost(4)?)?;
/// auth.register_user("bob@bob.com", "mySuperPwd").await?;
/// assert!(auth.valid_login("bob@bob.com", "mySuperPwd").await?);
/// let session = auth.create_session("bob@bob.com").await?.expect("known email");
/// let user = auth.get_user_from_session_id(Some(session.expose())).await?;
/// assert_eq!(user.map(|u| u.email).as_deref(), Some("bob@bob.com"));
/// # Ok(())
/// # }
/// ```
pub struct Auth<S = RedbStore> {
    shared: Arc<Shared<S>>,
}

struct Shared<S> {
    store: S,
    config: AuthConfig,
    clock: Arc<dyn Clock>,
    hasher: PasswordHasher,
    throttle: Throttle,
    /// Sessions whose activity is being written, so that concurrent requests on one session
    /// write it once.
    renewing: Mutex<HashSet<[u8; 32]>>,
}

/// How an audit event names the client: its address, or `-` when the server gave none.
struct Client(Option<IpAddr>);

impl fmt::Display for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(ip) => ip.fmt(f),
            None => f.write_str("-"),
        }
    }
}

/// What `POST /reset_password` led to.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum ResetRequested {
    /// The token, to put in the answer (seed profile).
    Token(ResetToken),
    /// Handed to a detached task that issues the token, if the email has an account, and
    /// gives it to the reset hook (hardened profile): the answer reveals nothing.
    Dispatched,
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
    /// Opens (or creates) the redb database at `path`.
    ///
    /// # Errors
    /// The database cannot be opened: see [`RedbStore::open`].
    pub fn open(path: impl AsRef<Path>, config: AuthConfig) -> Result<Self, StoreError> {
        Ok(Self::new(RedbStore::open(path)?, config))
    }
}

impl<S: Store> Auth<S> {
    /// An `Auth` over `store` with the system clock.
    ///
    /// Computes one bcrypt hash at the configured cost (the dummy hash that unknown emails
    /// are verified against), so it takes as long as one login.
    pub fn new(store: S, config: AuthConfig) -> Self {
        Self::with_clock(store, config, SystemClock)
    }

    /// An `Auth` reading the time from `clock` (a [`ManualClock`](crate::ManualClock) in
    /// tests).
    pub fn with_clock(store: S, config: AuthConfig, clock: impl Clock) -> Self {
        let hasher = PasswordHasher::new(
            config.bcrypt_cost,
            config.hashing_threads,
            config.hashing_queue,
        );
        let throttle = Throttle::new(config.throttle.clone());
        Self {
            shared: Arc::new(Shared {
                store,
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
        &self.shared.store
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

    // -----------------------------------------------------------------------------------------
    // The seed's API.

    /// Registers a user (the seed's `register_user`).
    ///
    /// # Errors
    /// [`AuthError::EmailTaken`] if the email (compared without regard to case) has an
    /// account; [`AuthError::InvalidEmail`] or [`AuthError::InvalidPassword`] when refused;
    /// [`AuthError::Overloaded`] or [`AuthError::Store`].
    pub async fn register_user(&self, email: &str, password: &str) -> Result<User, AuthError> {
        self.register(email, password, None).await
    }

    /// Registers a user for a client: as [`Auth::register_user`], with the per-client
    /// registration quota and an audit event.
    ///
    /// # Errors
    /// As [`Auth::register_user`], and [`AuthError::Throttled`].
    pub async fn register(
        &self,
        email: &str,
        password: &str,
        client: Option<IpAddr>,
    ) -> Result<User, AuthError> {
        let email = check_email(email)?;
        if let Err(retry_after) = self.shared.throttle.registration(client, self.now()) {
            tracing::warn!(target: "tower_user_auth::audit", event = "register_throttled", client = %Client(client));
            return Err(AuthError::Throttled { retry_after });
        }
        let user = self.insert_user(email, password).await.inspect_err(|e| {
            if let AuthError::EmailTaken(_) = e {
                tracing::info!(target: "tower_user_auth::audit", event = "register_refused", reason = "email taken", client = %Client(client));
            }
        })?;
        tracing::info!(target: "tower_user_auth::audit", event = "register", user_id = %user.id, client = %Client(client));
        Ok(user)
    }

    async fn insert_user(&self, email: &str, password: &str) -> Result<User, AuthError> {
        self.shared.config.password_policy.check(password, email)?;
        match self
            .shared
            .store
            .find_user_by(UserQuery::Email(email.to_owned()))
            .await
        {
            Ok(_) => return Err(AuthError::EmailTaken(email.to_owned())),
            Err(StoreError::NotFound) => {}
            Err(e) => return Err(e.into()),
        }
        let hash = self.shared.hasher.hash(password.to_owned()).await?;
        match self.shared.store.add_user(email, &hash).await {
            Ok(user) => Ok(user),
            Err(StoreError::EmailTaken) => Err(AuthError::EmailTaken(email.to_owned())),
            Err(e) => Err(e.into()),
        }
    }

    /// Whether `password` is the password of the account `email` (the seed's
    /// `valid_login`). An unknown email costs one bcrypt verify all the same.
    ///
    /// # Errors
    /// [`AuthError::Overloaded`] or [`AuthError::Store`].
    pub async fn valid_login(&self, email: &str, password: &str) -> Result<bool, AuthError> {
        Ok(self.check_credentials(email, password).await?.0.is_some())
    }

    /// Starts a new session for `email` without checking a password (the seed's
    /// `create_session`); `None` for an unknown email.
    ///
    /// # Errors
    /// [`AuthError::Store`].
    pub async fn create_session(&self, email: &str) -> Result<Option<SessionToken>, AuthError> {
        match self.find(UserQuery::Email(email.to_owned())).await? {
            Some(user) => Ok(Some(self.start_session(user).await?.token)),
            None => Ok(None),
        }
    }

    /// The user of a live session (the seed's `get_user_from_session_id`); `None` for `None`,
    /// a malformed, unknown or expired id.
    ///
    /// # Errors
    /// [`AuthError::Store`].
    pub async fn get_user_from_session_id(
        &self,
        session_id: Option<&str>,
    ) -> Result<Option<User>, AuthError> {
        let Some(token) = session_id.and_then(SessionToken::parse) else {
            return Ok(None);
        };
        Ok(self.live_session(&token).await?.map(|(_, user)| user))
    }

    /// Ends every session of the user (the seed's `destroy_session`: afterwards the user has
    /// no session).
    ///
    /// # Errors
    /// [`AuthError::Store`].
    pub async fn destroy_session(&self, user_id: UserId) -> Result<(), AuthError> {
        self.shared
            .store
            .delete_sessions_of(user_id, EndSessions::All)
            .await?;
        Ok(())
    }

    /// Issues a reset token for `email` (the seed's `get_reset_password_token`), replacing any
    /// earlier one. It expires after the configured lifetime and works once.
    ///
    /// # Errors
    /// [`AuthError::UnknownEmail`]; [`AuthError::Store`].
    pub async fn get_reset_password_token(&self, email: &str) -> Result<ResetToken, AuthError> {
        Ok(self.issue_reset_token(email).await?.1)
    }

    async fn issue_reset_token(&self, email: &str) -> Result<(User, ResetToken), AuthError> {
        let user = self
            .find(UserQuery::Email(email.to_owned()))
            .await?
            .ok_or(AuthError::UnknownEmail)?;
        let token = ResetToken::generate();
        let now = self.now();
        let record = ResetRecord {
            user_id: user.id,
            created: now,
            expires: now + self.shared.config.reset_token_lifetime,
        };
        match self
            .shared
            .store
            .replace_reset_token(token.digest(), record)
            .await
        {
            Ok(()) => Ok((user, token)),
            Err(StoreError::NotFound) => Err(AuthError::UnknownEmail),
            Err(e) => Err(e.into()),
        }
    }

    /// Sets a new password with a reset token (the seed's `update_password`) and consumes the
    /// token.
    ///
    /// # Errors
    /// [`AuthError::InvalidToken`] for an unknown, expired or used token (whatever the
    /// password); [`AuthError::InvalidPassword`] if the policy refuses the password (the
    /// token stays usable); [`AuthError::Overloaded`] or [`AuthError::Store`].
    pub async fn update_password(
        &self,
        reset_token: &str,
        password: &str,
    ) -> Result<User, AuthError> {
        self.reset(None, reset_token, password).await
    }

    /// Deletes every session of the user and returns how many there were.
    ///
    /// # Errors
    /// [`AuthError::Store`].
    pub async fn end_all_sessions(
        &self,
        user_id: UserId,
        client: Option<IpAddr>,
    ) -> Result<usize, AuthError> {
        let ended = self
            .shared
            .store
            .delete_sessions_of(user_id, EndSessions::All)
            .await?;
        tracing::info!(target: "tower_user_auth::audit", event = "sessions_ended", user_id = %user_id, count = ended, client = %Client(client));
        Ok(ended)
    }

    /// Ends one of a user's sessions, named by its public id; `false` if the user has no
    /// such session.
    ///
    /// # Errors
    /// [`AuthError::Store`].
    pub async fn end_session(
        &self,
        user_id: UserId,
        session: SessionId,
    ) -> Result<bool, AuthError> {
        let sessions = self.shared.store.sessions_of(user_id).await?;
        let Some((digest, _)) = sessions
            .into_iter()
            .find(|(d, _)| d.session_id() == session)
        else {
            return Ok(false);
        };
        let ended = self.shared.store.delete_session(digest).await?;
        if ended {
            tracing::info!(target: "tower_user_auth::audit", event = "session_ended", user_id = %user_id, session = %session);
        }
        Ok(ended)
    }

    // -----------------------------------------------------------------------------------------
    // What the HTTP layer uses.

    /// Checks credentials and starts a session: `None` for wrong credentials (unknown email
    /// or wrong password alike, in the same time). A hash of a lower cost than configured is
    /// re-hashed.
    ///
    /// # Errors
    /// [`AuthError::Overloaded`] or [`AuthError::Store`].
    pub async fn log_in(
        &self,
        email: &str,
        password: &str,
        client: Option<IpAddr>,
    ) -> Result<Option<LoggedIn>, AuthError> {
        let throttle = &self.shared.throttle;
        if let Err(retry_after) = throttle.check_failures(email, client, self.now()) {
            // A read, no bcrypt: the audit trail names the account when there is one.
            let user_id = self
                .find(UserQuery::Email(email.to_owned()))
                .await
                .ok()
                .flatten()
                .map(|u| u.id);
            match user_id {
                Some(id) => {
                    tracing::warn!(target: "tower_user_auth::audit", event = "login_throttled", user_id = %id, client = %Client(client), retry_after = retry_after.as_secs())
                }
                None => {
                    tracing::warn!(target: "tower_user_auth::audit", event = "login_throttled", client = %Client(client), retry_after = retry_after.as_secs())
                }
            }
            return Err(AuthError::Throttled { retry_after });
        }
        let (user, known) = self.check_credentials(email, password).await?;
        let Some(user) = user else {
            throttle.record_failure(email, client, self.now());
            match known {
                Some(id) => {
                    tracing::info!(target: "tower_user_auth::audit", event = "login_failed", user_id = %id, client = %Client(client))
                }
                None => {
                    tracing::info!(target: "tower_user_auth::audit", event = "login_failed", client = %Client(client))
                }
            }
            return Ok(None);
        };
        throttle.record_success(email, client);
        let logged_in = self.start_session(user).await?;
        tracing::info!(
            target: "tower_user_auth::audit",
            event = "login",
            user_id = %logged_in.user.id,
            session = %logged_in.token.digest().session_id(),
            client = %Client(client),
        );
        Ok(Some(logged_in))
    }

    /// The user of a live session, as the wrapped app receives it; `None` if the session is
    /// unknown or expired. Records activity at most once per renewal interval, without
    /// waiting for that write.
    ///
    /// # Errors
    /// [`AuthError::Store`].
    pub async fn authenticate(
        &self,
        token: &SessionToken,
    ) -> Result<Option<(AuthenticatedUser, SessionRecord)>, AuthError> {
        let digest = token.digest();
        let Some((record, user)) = self.live_session_by_digest(digest).await? else {
            return Ok(None);
        };
        let authenticated = AuthenticatedUser {
            id: user.id,
            email: user.email,
            session: digest.session_id(),
        };
        Ok(Some((authenticated, record)))
    }

    /// Ends the session of `token`; `false` if it was not live.
    ///
    /// # Errors
    /// [`AuthError::Store`].
    pub async fn log_out(
        &self,
        token: &SessionToken,
        client: Option<IpAddr>,
    ) -> Result<bool, AuthError> {
        let Some((record, _)) = self.live_session(token).await? else {
            return Ok(false);
        };
        let ended = self.shared.store.delete_session(token.digest()).await?;
        if ended {
            tracing::info!(target: "tower_user_auth::audit", event = "logout", user_id = %record.user_id, session = %token.digest().session_id(), client = %Client(client));
        }
        Ok(ended)
    }

    /// Resets the password of `email` with `reset_token`: the token must be live and belong
    /// to that email.
    ///
    /// # Errors
    /// As [`Auth::update_password`].
    pub async fn reset_password(
        &self,
        email: &str,
        reset_token: &str,
        new_password: &str,
        client: Option<IpAddr>,
    ) -> Result<User, AuthError> {
        let throttle = &self.shared.throttle;
        if let Err(retry_after) = throttle.check_failures(email, client, self.now()) {
            tracing::warn!(target: "tower_user_auth::audit", event = "reset_throttled", client = %Client(client));
            return Err(AuthError::Throttled { retry_after });
        }
        match self.reset(Some(email), reset_token, new_password).await {
            Ok(user) => {
                throttle.record_success(email, client);
                tracing::info!(target: "tower_user_auth::audit", event = "password_reset", user_id = %user.id, client = %Client(client));
                Ok(user)
            }
            Err(AuthError::InvalidToken) => {
                throttle.record_failure(email, client, self.now());
                tracing::info!(target: "tower_user_auth::audit", event = "password_reset_refused", reason = "invalid token", client = %Client(client));
                Err(AuthError::InvalidToken)
            }
            Err(e) => Err(e),
        }
    }

    /// Handles a reset request for `email` from `client`, after the per-email and per-client
    /// quotas: in the seed profile (token in the response) the token is issued now
    /// ([`AuthError::UnknownEmail`] if there is no account); otherwise everything that
    /// depends on the email (the look-up, the store write, the hook) runs detached, so that
    /// the answer and its timing are the same whether the email has an account or not.
    ///
    /// # Errors
    /// [`AuthError::Throttled`]; in the seed profile [`AuthError::UnknownEmail`] and
    /// [`AuthError::Store`].
    pub async fn request_password_reset(
        &self,
        email: &str,
        client: Option<IpAddr>,
    ) -> Result<ResetRequested, AuthError> {
        if let Err(retry_after) = self
            .shared
            .throttle
            .reset_request(email, client, self.now())
        {
            tracing::warn!(target: "tower_user_auth::audit", event = "reset_request_throttled", client = %Client(client));
            return Err(AuthError::Throttled { retry_after });
        }
        if self.shared.config.reset_token_in_response {
            let (user, token) = self.issue_reset_token(email).await.inspect_err(|e| {
                if let AuthError::UnknownEmail = e {
                    tracing::info!(target: "tower_user_auth::audit", event = "reset_requested", known = false, client = %Client(client));
                }
            })?;
            tracing::info!(target: "tower_user_auth::audit", event = "reset_requested", user_id = %user.id, client = %Client(client));
            self.deliver_detached(user.email, token.clone());
            return Ok(ResetRequested::Token(token));
        }
        let auth = self.clone();
        let email = email.to_owned();
        let work = async move {
            match auth.issue_reset_token(&email).await {
                Ok((user, token)) => {
                    tracing::info!(target: "tower_user_auth::audit", event = "reset_requested", user_id = %user.id, client = %Client(client));
                    auth.deliver_detached(user.email, token);
                }
                Err(AuthError::UnknownEmail) => {
                    tracing::info!(target: "tower_user_auth::audit", event = "reset_requested", known = false, client = %Client(client));
                }
                Err(e) => tracing::error!(error = %e, "issuing a reset token failed"),
            }
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => drop(runtime.spawn(work)),
            Err(_) => work.await,
        }
        Ok(ResetRequested::Dispatched)
    }

    /// Changes the password of the user of the session `token`, who proves it with the
    /// current password; ends the user's other sessions in the same transaction.
    ///
    /// # Errors
    /// [`AuthError::InvalidSession`], [`AuthError::InvalidPassword`] (the new one),
    /// [`AuthError::WrongPassword`] (the current one), [`AuthError::Throttled`],
    /// [`AuthError::Overloaded`], [`AuthError::Store`].
    pub async fn change_password(
        &self,
        token: &SessionToken,
        current_password: &str,
        new_password: &str,
        client: Option<IpAddr>,
    ) -> Result<User, AuthError> {
        let Some((_, user)) = self.live_session(token).await? else {
            return Err(AuthError::InvalidSession);
        };
        let throttle = &self.shared.throttle;
        if let Err(retry_after) = throttle.check_failures(&user.email, client, self.now()) {
            tracing::warn!(target: "tower_user_auth::audit", event = "password_change_throttled", user_id = %user.id, client = %Client(client));
            return Err(AuthError::Throttled { retry_after });
        }
        self.shared
            .config
            .password_policy
            .check(new_password, &user.email)?;
        let verified = self
            .shared
            .hasher
            .verify(
                current_password.to_owned(),
                Some(user.hashed_password.clone()),
            )
            .await?;
        if !verified.ok {
            throttle.record_failure(&user.email, client, self.now());
            tracing::info!(target: "tower_user_auth::audit", event = "password_change_refused", reason = "wrong password", user_id = %user.id, client = %Client(client));
            return Err(AuthError::WrongPassword);
        }
        throttle.record_success(&user.email, client);
        let hash = self.shared.hasher.hash(new_password.to_owned()).await?;
        let update = UserUpdate::new()
            .hashed_password(hash)
            .end_sessions(EndSessions::AllExcept(token.digest()));
        let user = match self.shared.store.update_user(user.id, update).await {
            Ok(user) => user,
            Err(StoreError::NotFound) => return Err(AuthError::InvalidSession),
            Err(e) => return Err(e.into()),
        };
        tracing::info!(target: "tower_user_auth::audit", event = "password_changed", user_id = %user.id, client = %Client(client));
        Ok(user)
    }

    /// A user's live sessions, oldest first.
    ///
    /// # Errors
    /// [`AuthError::Store`].
    pub async fn sessions_of(&self, user_id: UserId) -> Result<Vec<SessionInfo>, AuthError> {
        let now = self.now();
        Ok(self
            .shared
            .store
            .sessions_of(user_id)
            .await?
            .into_iter()
            .filter(|(_, record)| self.is_live(record, now))
            .map(|(digest, record)| SessionInfo {
                id: digest.session_id(),
                record,
            })
            .collect())
    }

    /// Deletes a user with their sessions and reset token, in one transaction.
    ///
    /// # Errors
    /// [`AuthError::Store`] (with [`StoreError::NotFound`] for an unknown id).
    pub async fn delete_user(&self, user_id: UserId) -> Result<(), AuthError> {
        Ok(self.shared.store.delete_user(user_id).await?)
    }

    /// Removes expired sessions and reset tokens now.
    ///
    /// # Errors
    /// [`AuthError::Store`].
    pub async fn purge_expired(&self) -> Result<Purged, AuthError> {
        let now = self.now();
        let idle_before = now
            .checked_sub(self.shared.config.session_idle_timeout)
            .unwrap_or(SystemTime::UNIX_EPOCH);
        Ok(self.shared.store.purge_expired(now, idle_before).await?)
    }

    /// Spawns a task on the current Tokio runtime that purges expired records every `every`.
    /// The application owns the handle: abort it to stop purging.
    ///
    /// # Panics
    /// Outside a Tokio runtime.
    pub fn spawn_purger(&self, every: Duration) -> tokio::task::JoinHandle<()> {
        let auth = self.clone();
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every.max(Duration::from_millis(10)));
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                match auth.purge_expired().await {
                    Ok(p) if p.sessions + p.reset_tokens > 0 => {
                        tracing::debug!(
                            sessions = p.sessions,
                            reset_tokens = p.reset_tokens,
                            "purged expired records"
                        );
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "purging expired records failed"),
                }
            }
        })
    }

    // -----------------------------------------------------------------------------------------

    async fn find(&self, query: UserQuery) -> Result<Option<User>, AuthError> {
        match self.shared.store.find_user_by(query).await {
            Ok(user) => Ok(Some(user)),
            Err(StoreError::NotFound) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The user if the credentials are right, and the id of the account the email names.
    async fn check_credentials(
        &self,
        email: &str,
        password: &str,
    ) -> Result<(Option<User>, Option<UserId>), AuthError> {
        let user = self.find(UserQuery::Email(email.to_owned())).await?;
        let known = user.as_ref().map(|u| u.id);
        let hash = user.as_ref().map(|u| u.hashed_password.clone());
        let verified = self.shared.hasher.verify(password.to_owned(), hash).await?;
        let Some(mut user) = user.filter(|_| verified.ok) else {
            return Ok((None, known));
        };
        if let Some(rehash) = verified.rehash {
            match self
                .shared
                .store
                .update_user(user.id, UserUpdate::new().hashed_password(rehash))
                .await
            {
                Ok(updated) => user = updated,
                Err(e) => {
                    tracing::warn!(user_id = %user.id, error = %e, "re-hashing a password at the configured cost failed");
                }
            }
        }
        Ok((Some(user), known))
    }

    /// Gives a reset token to the configured hook on a blocking thread, detached; logs a
    /// failure (never the token).
    fn deliver_detached(&self, email: String, token: ResetToken) {
        let Some(hook) = self.shared.config.reset_hook.clone() else {
            return;
        };
        let deliver = move || {
            if let Err(e) = hook.deliver(&email, &token) {
                tracing::error!(error = %e, "the reset token hook failed");
            }
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                let task = runtime.spawn_blocking(deliver);
                runtime.spawn(async move {
                    if task.await.is_err() {
                        tracing::error!("the reset token hook panicked");
                    }
                });
            }
            Err(_) => {
                if std::panic::catch_unwind(std::panic::AssertUnwindSafe(deliver)).is_err() {
                    tracing::error!("the reset token hook panicked");
                }
            }
        }
    }

    async fn start_session(&self, user: User) -> Result<LoggedIn, AuthError> {
        let token = SessionToken::generate();
        let now = self.now();
        let session = SessionRecord {
            user_id: user.id,
            created: now,
            last_seen: now,
            expires: now + self.shared.config.session_lifetime,
        };
        self.shared
            .store
            .insert_session(
                token.digest(),
                session,
                self.shared.config.max_sessions_per_user,
            )
            .await?;
        Ok(LoggedIn {
            user,
            token,
            session,
        })
    }

    fn is_live(&self, record: &SessionRecord, now: SystemTime) -> bool {
        now < record.expires && now < record.last_seen + self.shared.config.session_idle_timeout
    }

    async fn live_session(
        &self,
        token: &SessionToken,
    ) -> Result<Option<(SessionRecord, User)>, AuthError> {
        self.live_session_by_digest(token.digest()).await
    }

    async fn live_session_by_digest(
        &self,
        digest: TokenDigest,
    ) -> Result<Option<(SessionRecord, User)>, AuthError> {
        let Some((record, user)) = self.shared.store.session(digest).await? else {
            return Ok(None);
        };
        let now = self.now();
        if !self.is_live(&record, now) {
            return Ok(None);
        }
        if now >= record.last_seen + self.shared.config.session_renewal {
            self.renew_later(digest, now);
        }
        Ok(Some((record, user)))
    }

    fn renew_later(&self, digest: TokenDigest, now: SystemTime) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let first = self
            .shared
            .renewing
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(digest.0);
        if !first {
            return;
        }
        let auth = self.clone();
        runtime.spawn(async move {
            if let Err(e) = auth.shared.store.touch_session(digest, now).await {
                tracing::warn!(error = %e, "recording session activity failed");
            }
            auth.shared
                .renewing
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(&digest.0);
        });
    }

    async fn reset(
        &self,
        email: Option<&str>,
        token: &str,
        password: &str,
    ) -> Result<User, AuthError> {
        let token = ResetToken::parse(token).ok_or(AuthError::InvalidToken)?;
        let digest = token.digest();
        let now = self.now();
        let record = self
            .shared
            .store
            .reset_token(digest)
            .await?
            .filter(|r| r.expires > now)
            .ok_or(AuthError::InvalidToken)?;
        let user = self
            .find(UserQuery::Id(record.user_id))
            .await?
            .ok_or(AuthError::InvalidToken)?;
        if let Some(email) = email {
            let same =
                check_email(email).is_ok_and(|e| e.to_lowercase() == user.email.to_lowercase());
            if !same {
                return Err(AuthError::InvalidToken);
            }
        }
        self.shared
            .config
            .password_policy
            .check(password, &user.email)?;
        check_hashable(password)?;
        let hashed_password = self.shared.hasher.hash(password.to_owned()).await?;
        let reset = PasswordReset {
            token: digest,
            user_id: user.id,
            now,
            hashed_password,
            end_sessions: self.shared.config.end_sessions_on_reset,
        };
        match self.shared.store.reset_password(reset).await {
            Ok(user) => Ok(user),
            Err(StoreError::NotFound) => Err(AuthError::InvalidToken),
            Err(e) => Err(e.into()),
        }
    }
}
