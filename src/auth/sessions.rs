//! Sessions: start one (for a login), authenticate, log out, list and end sessions, and
//! purge expired ones.

use std::{
    net::IpAddr,
    sync::PoisonError,
    time::{Duration, SystemTime},
};

use super::{
    Auth,
    audit::{Client, audit},
    login::LoggedIn,
};
use crate::{
    error::{AuthError, StoreError},
    store::{EndSessions, ExpiredDeletion, Purged, SessionEntry, SessionRecord, Store, UserQuery},
    token::{SessionId, SessionToken, TokenDigest},
    user::{AuthenticatedUser, User, UserId},
};

/// One of a user's sessions, as listed to them: never its token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionInfo {
    /// Its public id.
    pub id: SessionId,
    /// The stored record.
    pub record: SessionRecord,
}

impl<S: Store> Auth<S> {
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
        let entry = self.shared.sessions.session(digest).await?;
        Ok(entry.and_then(|entry| self.admit(digest, entry)))
    }

    /// [`authenticate_digest`](Self::authenticate_digest)'s answer when the store can give
    /// it without waiting ([`SessionStore::session_without_waiting`](crate::store::SessionStore::session_without_waiting)), with the same checks (expiry,
    /// idle timeout, renewal); `None` when the store would have to wait, and the caller then
    /// awaits `authenticate_digest`. The layer's synchronous fast path.
    pub(crate) fn authenticate_without_waiting(
        &self,
        digest: TokenDigest,
    ) -> Option<Option<AuthenticatedUser>> {
        let entry = self.shared.sessions.session_without_waiting(digest)?;
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
            authenticated_at: record.created,
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
        let ended = self.store().delete_session(token.digest()).await?;
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
            .store()
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
        let sessions = self.store().sessions_of(user_id).await?;
        let Some((digest, _)) = sessions
            .into_iter()
            .find(|(d, _)| d.session_id() == session)
        else {
            return Ok(false);
        };
        let ended = self.store().delete_session(digest).await?;
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
            .store()
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
            .store()
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
    ///
    /// A change of credentials (a password, an email, the second factor turned on or off)
    /// moves the sessions it keeps to the new generation in its transaction, so a session
    /// read just before that commit and its user read just after it disagree: the session is
    /// read again (a few times, within 30 ms at most) rather than refused, so that a request racing its
    /// own session's change is not answered as if its session had ended.
    pub(crate) async fn live_session_user(
        &self,
        token: &SessionToken,
    ) -> Result<Option<(SessionRecord, User)>, AuthError> {
        for retry in 0..5u32 {
            if retry > 0 {
                // The change is committed; its invalidation of the cached session is a
                // moment behind (the store's writer does it before answering anyone).
                tokio::time::sleep(Duration::from_millis(1 << retry)).await;
            }
            let Some(entry) = self.live_session(token).await? else {
                return Ok(None);
            };
            let user = match self
                .store()
                .find_user_by(UserQuery::Id(entry.record.user_id))
                .await
            {
                Ok(user) => user,
                Err(StoreError::NotFound) => return Ok(None),
                Err(e) => return Err(e.into()),
            };
            if user.generation == entry.record.generation {
                return Ok(Some((entry.record, user)));
            }
        }
        // Still of another generation: a session that the change ended.
        Ok(None)
    }

    async fn live_session_by_digest(
        &self,
        digest: TokenDigest,
    ) -> Result<Option<SessionEntry>, AuthError> {
        let entry = self.shared.sessions.session(digest).await?;
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
            if let Err(e) = auth.store().touch_session(digest, now).await {
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

/// Purging, over a store that deletes expired records.
impl<S: ExpiredDeletion> Auth<S> {
    /// Removes expired sessions, reset tokens, device tokens and email tokens now, and the
    /// unconfirmed accounts past their [lifetime](crate::AuthConfig::with_unconfirmed_lifetime)
    /// with everything of theirs. Needs a store that deletes expired records
    /// ([`ExpiredDeletion`], both shipped stores do).
    ///
    /// # Errors
    /// [`AuthError::Store`].
    pub async fn purge_expired(&self) -> Result<Purged, AuthError> {
        let now = self.now();
        let idle_before = now
            .checked_sub(self.shared.config.session_idle_timeout)
            .unwrap_or(SystemTime::UNIX_EPOCH);
        let unconfirmed_before = self.unconfirmed_stale_before();
        Ok(self
            .store()
            .purge_expired(now, idle_before, unconfirmed_before)
            .await?)
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
                    Ok(p)
                        if p.sessions + p.reset_tokens + p.device_tokens + p.unconfirmed_users
                            > 0 =>
                    {
                        tracing::debug!(
                            sessions = p.sessions,
                            reset_tokens = p.reset_tokens,
                            device_tokens = p.device_tokens,
                            unconfirmed_users = p.unconfirmed_users,
                            "purged expired records"
                        );
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "purging expired records failed"),
                }
            }
        })
    }
}
