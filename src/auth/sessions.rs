//! Sessions: log in, authenticate, log out, list and end sessions, and purge expired ones.

use std::{
    net::IpAddr,
    sync::PoisonError,
    time::{Duration, SystemTime},
};

use super::{
    Auth,
    audit::{Client, audit},
    devices::IssuedDevice,
};
use crate::{
    error::{AuthError, StoreError},
    store::{EndSessions, Purged, SessionEntry, SessionRecord, Store, UserQuery},
    token::{DeviceToken, SessionId, SessionToken, TokenDigest},
    user::{AuthenticatedUser, User, UserId},
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
    /// The device token to set as the device cookie, when device tokens are on (see
    /// [`AuthConfig::with_device_cookie`](crate::AuthConfig::with_device_cookie)).
    pub device: Option<IssuedDevice>,
}

/// One of a user's sessions, as listed to them: never its token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionInfo {
    /// Its public id.
    pub id: SessionId,
    /// The stored record.
    pub record: SessionRecord,
}

impl<S: Store> Auth<S> {
    /// Checks credentials and starts a session: `None` for wrong credentials (unknown email
    /// or wrong password alike, in the same time), and for a password changed or reset
    /// between the check and the session's insert (the session is stored only at the
    /// credential generation the check verified). A hash of a lower cost than configured is
    /// re-hashed.
    ///
    /// # Errors
    /// [`AuthError::Overloaded`], [`AuthError::Throttled`] or [`AuthError::Store`].
    pub async fn log_in(
        &self,
        email: &str,
        password: &str,
        client: Option<IpAddr>,
    ) -> Result<Option<LoggedIn>, AuthError> {
        self.log_in_with_device(email, password, client, None).await
    }

    /// As [`log_in`](Self::log_in), for a client that presents the device token `device`
    /// (its device cookie). When device tokens are on and `device` is a live token of this
    /// account, the login is not held back by the per-account lockout nor the per-client
    /// limits, only by the token's own failures (the 5th in a row revokes it); otherwise it
    /// is throttled as any login. A successful login returns the device token to set
    /// ([`LoggedIn::device`]): the layer sets it as a cookie that lives 90 days, `HttpOnly;
    /// SameSite=Strict; Path=/`, `Secure` as the session cookie is; at most 10 are kept per
    /// account (the oldest dropped).
    ///
    /// # Errors
    /// [`AuthError::EmailNotConfirmed`] (the right password, an unconfirmed email while
    /// [email confirmation](crate::AuthConfig::with_email_confirmation) is on: no session),
    /// [`AuthError::Overloaded`], [`AuthError::Throttled`] or [`AuthError::Store`].
    pub async fn log_in_with_device(
        &self,
        email: &str,
        password: &str,
        client: Option<IpAddr>,
        device: Option<&DeviceToken>,
    ) -> Result<Option<LoggedIn>, AuthError> {
        let throttle = &self.shared.throttle;
        let trusted = self.trusted_device(email, device).await?;
        let held_back = match trusted {
            Some(_) => Ok(throttle.exempt(email, client)),
            None => throttle.attempt(email, client, self.now()).await?,
        };
        let attempt = match held_back {
            Ok(attempt) => attempt,
            Err(retry_after) => {
                // A read, no bcrypt: the audit trail names the account when there is one.
                let user_id = self
                    .find(UserQuery::Email(email.to_owned()))
                    .await
                    .ok()
                    .flatten()
                    .map(|u| u.id);
                audit!(warn, "login_throttled", user_id = user_id.map(display), client = %Client(client), retry_after = retry_after.as_secs());
                return Err(AuthError::Throttled { retry_after });
            }
        };
        let (user, known) = match self.check_credentials(email, password).await {
            Ok(checked) => checked,
            Err(e) => {
                throttle.released(attempt).await;
                return Err(e);
            }
        };
        let Some(user) = user else {
            // With a trusted device token, the failure counts against the token only.
            match &trusted {
                Some(device) => self.device_failed(device).await?,
                None => throttle.failed(attempt, self.now()),
            }
            audit!(info, "login_failed", user_id = known.map(display), client = %Client(client), device_token = trusted.is_some());
            return Ok(None);
        };
        // The right password: refusals from here on are not failed guesses.
        if self.shared.config.email_confirmation() && !user.email_confirmed {
            throttle.released(attempt).await;
            audit!(info, "login_refused", reason = "email not confirmed", user_id = %user.id, client = %Client(client));
            return Err(AuthError::EmailNotConfirmed);
        }
        let mut logged_in = match self.start_session(user).await {
            Ok(logged_in) => logged_in,
            Err(AuthError::CredentialsChanged) => {
                throttle.released(attempt).await;
                audit!(info, "login_failed", reason = "credentials changed meanwhile", user_id = known.map(display), client = %Client(client));
                return Ok(None);
            }
            Err(e) => {
                throttle.released(attempt).await;
                return Err(e);
            }
        };
        throttle.succeeded(attempt).await;
        logged_in.device = self.device_after_login(&logged_in.user, trusted).await;
        let session = logged_in.token.digest().session_id();
        audit!(info, "login", user_id = %logged_in.user.id, session = %session, client = %Client(client));
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
        self.authenticate_digest(token.digest()).await
    }

    /// [`authenticate`](Self::authenticate) by the token's digest: the layer digests the
    /// cookie where it reads it, without copying the token.
    pub(crate) async fn authenticate_digest(
        &self,
        digest: TokenDigest,
    ) -> Result<Option<(AuthenticatedUser, SessionRecord)>, AuthError> {
        let entry = self.shared.store.session(digest).await?;
        Ok(entry.and_then(|entry| self.admit(digest, entry)))
    }

    /// [`authenticate_digest`](Self::authenticate_digest)'s answer when the store can give
    /// it without waiting ([`Store::session_without_waiting`]), with the same checks (expiry,
    /// idle timeout, renewal); `None` when the store would have to wait, and the caller then
    /// awaits `authenticate_digest`. The layer's synchronous fast path.
    pub(crate) fn authenticate_without_waiting(
        &self,
        digest: TokenDigest,
    ) -> Option<Option<AuthenticatedUser>> {
        let entry = self.shared.store.session_without_waiting(digest)?;
        Some(entry.and_then(|entry| self.admit(digest, entry).map(|(user, _)| user)))
    }

    /// The user of the stored session `entry` if it is live.
    fn admit(
        &self,
        digest: TokenDigest,
        entry: SessionEntry,
    ) -> Option<(AuthenticatedUser, SessionRecord)> {
        let SessionEntry { record, email } = self.live(digest, entry)?;
        let authenticated = AuthenticatedUser {
            id: record.user_id,
            email,
            session: digest.session_id(),
        };
        Some((authenticated, record))
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
        let Some(SessionEntry { record, .. }) = self.live_session(token).await? else {
            return Ok(false);
        };
        let ended = self.shared.store.delete_session(token.digest()).await?;
        if ended {
            audit!(info, "logout", user_id = %record.user_id, session = %token.digest().session_id(), client = %Client(client));
        }
        Ok(ended)
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
        audit!(info, "sessions_ended", user_id = %user_id, count = ended, client = %Client(client));
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
            audit!(info, "session_ended", user_id = %user_id, session = %session);
        }
        Ok(ended)
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

    /// Removes expired sessions, reset tokens and device tokens now.
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
                    Ok(p) if p.sessions + p.reset_tokens + p.device_tokens > 0 => {
                        tracing::debug!(
                            sessions = p.sessions,
                            reset_tokens = p.reset_tokens,
                            device_tokens = p.device_tokens,
                            "purged expired records"
                        );
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "purging expired records failed"),
                }
            }
        })
    }

    /// Stores a new session for `user` at the generation `user` was read (and its password
    /// verified) at; [`AuthError::CredentialsChanged`] if that is no longer current.
    pub(crate) async fn start_session(&self, user: User) -> Result<LoggedIn, AuthError> {
        let token = SessionToken::generate();
        let now = self.now();
        let session = SessionRecord {
            user_id: user.id,
            created: now,
            last_seen: now,
            expires: now + self.shared.config.session_lifetime,
            generation: user.generation,
        };
        let inserted = self
            .shared
            .store
            .insert_session(
                token.digest(),
                session,
                self.shared.config.max_sessions_per_user,
            )
            .await;
        match inserted {
            Ok(()) => {}
            // The password changed, or the account was deleted, since the login verified it:
            // answered like a wrong password.
            Err(StoreError::Conflict | StoreError::NotFound) => {
                return Err(AuthError::CredentialsChanged);
            }
            Err(e) => return Err(e.into()),
        }
        Ok(LoggedIn {
            user,
            token,
            session,
            device: None,
        })
    }

    fn is_live(&self, record: &SessionRecord, now: SystemTime) -> bool {
        now < record.expires && now < record.last_seen + self.shared.config.session_idle_timeout
    }

    /// The live session of `token` with its owner's email.
    pub(crate) async fn live_session(
        &self,
        token: &SessionToken,
    ) -> Result<Option<SessionEntry>, AuthError> {
        self.live_session_by_digest(token.digest()).await
    }

    /// The live session of `token` and its owner's whole account (with the password hash),
    /// read after the session: for the operations that need more than the email.
    pub(crate) async fn live_session_user(
        &self,
        token: &SessionToken,
    ) -> Result<Option<(SessionRecord, User)>, AuthError> {
        let Some(entry) = self.live_session(token).await? else {
            return Ok(None);
        };
        let user = match self
            .shared
            .store
            .find_user_by(UserQuery::Id(entry.record.user_id))
            .await
        {
            Ok(user) => user,
            Err(StoreError::NotFound) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        // A session of another credential generation cannot be stored (a change of password
        // ends or moves every session in its transaction); checked all the same.
        Ok((user.generation == entry.record.generation).then_some((entry.record, user)))
    }

    async fn live_session_by_digest(
        &self,
        digest: TokenDigest,
    ) -> Result<Option<SessionEntry>, AuthError> {
        let entry = self.shared.store.session(digest).await?;
        Ok(entry.and_then(|entry| self.live(digest, entry)))
    }

    /// `entry`, the stored session of `digest`, if it is live now (neither expired nor idle
    /// too long); records its activity, without waiting, once the renewal interval has
    /// passed since the last record.
    fn live(&self, digest: TokenDigest, entry: SessionEntry) -> Option<SessionEntry> {
        let now = self.now();
        if !self.is_live(&entry.record, now) {
            return None;
        }
        if now >= entry.record.last_seen + self.shared.config.session_renewal {
            self.renew_later(digest, now);
        }
        Some(entry)
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
}
