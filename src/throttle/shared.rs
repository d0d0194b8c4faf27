//! [`Limits`], what [`Auth`](crate::Auth) consults: the in-memory [`Throttle`] of each
//! process, or the counters that a store shares between the instances on its database
//! ([`SharedThrottle`]).

use std::{
    fmt,
    net::IpAddr,
    sync::Arc,
    time::{Duration, SystemTime},
};

#[cfg(feature = "postgres")]
use super::pg::{self, SharedAttempt};
use super::{
    ThrottleConfig,
    keys::Quota,
    limiter::{Outcome, Reservation, Reserve, Throttle},
};
use crate::error::StoreError;
#[cfg(feature = "postgres")]
use crate::store::postgres_throttle::Counters;

/// How long, at most, an attempt waits for attempts in flight that alone hold it back
/// (they may end well and give their places back); then it is held back (429).
pub(super) const WAIT: Duration = Duration::from_secs(5);

/// The wait announced (`Retry-After`) to an attempt held back after [`WAIT`].
pub(super) const WAITED_OUT: Duration = Duration::from_secs(1);

/// Throttle counters that a [`Store`](crate::store::Store) shares between every instance of
/// an app on its database, so that N instances do not allow N times the guesses: what
/// [`SharedThrottling::shared_throttle`](crate::store::SharedThrottling::shared_throttle) returns. `PgStore`
/// (feature `postgres`) provides one, counted in its database; an app does not make one.
pub struct SharedThrottle(Inner);

enum Inner {
    #[cfg(feature = "postgres")]
    Postgres(Counters),
}

impl SharedThrottle {
    #[cfg(feature = "postgres")]
    pub(crate) fn postgres(counters: Counters) -> Self {
        Self(Inner::Postgres(counters))
    }
}

impl fmt::Debug for SharedThrottle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedThrottle").finish_non_exhaustive()
    }
}

/// The limits of [`ThrottleConfig`], kept in this process's memory or in the store's
/// database.
#[derive(Debug)]
pub(crate) struct Limits {
    config: ThrottleConfig,
    backend: Backend,
}

#[derive(Debug)]
enum Backend {
    Memory(Arc<Throttle>),
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    Shared(SharedThrottle),
}

/// An attempt that [`Limits::attempt`] let through, reserved before its secret is checked:
/// report how it ended with [`Limits::failed`], [`Limits::succeeded`] or
/// [`Limits::released`].
///
/// Until then it counts against every limit as a failure would (in memory: as in flight;
/// in the shared counters: as a failure, taken back by a success or a release), so that
/// concurrent attempts cannot exceed a limit between them. An attempt dropped without a
/// report (its request cancelled midway) counts as a failure.
#[derive(Debug)]
#[must_use]
pub(crate) struct Attempt(Option<Counting>);

#[derive(Debug)]
enum Counting {
    /// Not counted (a trusted device token's attempt); a success still clears the pair's
    /// backoff and the account's consecutive failures.
    Exempt {
        email: String,
        client: Option<IpAddr>,
    },
    Memory {
        throttle: Arc<Throttle>,
        reservation: Reservation,
        at: SystemTime,
    },
    #[cfg(feature = "postgres")]
    Shared(SharedAttempt),
}

impl Drop for Attempt {
    fn drop(&mut self) {
        match self.0.take() {
            Some(Counting::Memory {
                throttle,
                reservation,
                at,
            }) => throttle.end(reservation, Outcome::Failure, at),
            #[cfg(feature = "postgres")]
            Some(Counting::Shared(attempt)) => attempt.failed(),
            _ => {}
        }
    }
}

impl Limits {
    /// The limits of `config`, counted by `shared` when the store provides it, otherwise in
    /// memory.
    pub(crate) fn new(config: ThrottleConfig, shared: Option<SharedThrottle>) -> Self {
        let backend = match shared {
            Some(shared) => Backend::Shared(shared),
            None => Backend::Memory(Arc::new(Throttle::new(config.clone()))),
        };
        Self { config, backend }
    }

    /// Lets an attempt on `email` from `client` (a login, a re-authentication, a second
    /// factor's code) through, reserved with the check of every limit, or says for how long
    /// it is held back (`Err`: nothing counted). While only attempts in flight hold it back,
    /// it waits for them to end (at most [`WAIT`]).
    ///
    /// # Errors
    /// The shared counters' database failed: the caller refuses the attempt (fails closed).
    pub(crate) async fn attempt(
        &self,
        email: &str,
        client: Option<IpAddr>,
        now: SystemTime,
    ) -> Result<Result<Attempt, Duration>, StoreError> {
        self.reserve(email, client, now, true).await
    }

    /// As [`attempt`](Self::attempt), for an attempt with a token sent to the mailbox of
    /// `email` (a password reset, an email token): the per-account ceiling neither holds it
    /// back nor counts it (the token is no guessable secret, and the mailbox is the owner's
    /// way out of a lockout), the (account, client) backoff and the per-client ceiling do.
    /// Its success starts the account's consecutive failures again.
    ///
    /// # Errors
    /// As [`attempt`](Self::attempt).
    pub(crate) async fn mailbox_attempt(
        &self,
        email: &str,
        client: Option<IpAddr>,
        now: SystemTime,
    ) -> Result<Result<Attempt, Duration>, StoreError> {
        self.reserve(email, client, now, false).await
    }

    async fn reserve(
        &self,
        email: &str,
        client: Option<IpAddr>,
        now: SystemTime,
        per_account: bool,
    ) -> Result<Result<Attempt, Duration>, StoreError> {
        if !self.config.enabled() {
            return Ok(Ok(Attempt(None)));
        }
        match &self.backend {
            Backend::Memory(throttle) => {
                let reserved = reserve_waiting(throttle, email, client, now, per_account).await;
                Ok(reserved.map(|reservation| {
                    Attempt(Some(Counting::Memory {
                        throttle: Arc::clone(throttle),
                        reservation,
                        at: now,
                    }))
                }))
            }
            Backend::Shared(shared) => match shared.0 {
                #[cfg(feature = "postgres")]
                Inner::Postgres(ref counters) => {
                    let counted = pg::attempt(pg::Ask {
                        config: &self.config,
                        counters,
                        email,
                        client,
                        now,
                        per_account,
                    })
                    .await?;
                    Ok(counted.map(|counted| Attempt(Some(Counting::Shared(counted)))))
                }
            },
        }
    }

    /// An attempt on `email` from `client` that the limits neither hold back nor count (a
    /// trusted device token's); its success still clears the (account, client) backoff and
    /// the account's consecutive failures.
    pub(crate) fn exempt(&self, email: &str, client: Option<IpAddr>) -> Attempt {
        Attempt(self.config.enabled().then(|| Counting::Exempt {
            email: email.to_owned(),
            client,
        }))
    }

    /// The attempt failed (a wrong password, code or token): a failure for every limit.
    pub(crate) fn failed(&self, mut attempt: Attempt, now: SystemTime) {
        match attempt.0.take() {
            Some(Counting::Memory {
                throttle,
                reservation,
                ..
            }) => throttle.end(reservation, Outcome::Failure, now),
            // Counted already; no longer in flight.
            #[cfg(feature = "postgres")]
            Some(Counting::Shared(attempt)) => attempt.failed(),
            _ => {}
        }
    }

    /// The attempt succeeded (every factor of the account, or a token from its mailbox):
    /// its (account, client) backoff and the account's consecutive failures start again;
    /// the per-client ceiling keeps its count of failures.
    pub(crate) async fn succeeded(&self, mut attempt: Attempt) {
        match (&self.backend, attempt.0.take()) {
            (
                _,
                Some(Counting::Memory {
                    throttle,
                    reservation,
                    at,
                }),
            ) => throttle.end(reservation, Outcome::Success, at),
            (Backend::Memory(throttle), Some(Counting::Exempt { email, client })) => {
                throttle.clear(&email, client);
            }
            #[cfg(feature = "postgres")]
            (Backend::Shared(shared), Some(Counting::Exempt { email, client })) => {
                let Inner::Postgres(counters) = &shared.0;
                pg::exempt_succeeded(counters, &email, client).await;
            }
            #[cfg(feature = "postgres")]
            (_, Some(Counting::Shared(attempt))) => attempt.succeeded().await,
            _ => {}
        }
    }

    /// The attempt ended neither way (an error, a credential change meanwhile): it counts
    /// for nothing.
    pub(crate) async fn released(&self, mut attempt: Attempt) {
        match attempt.0.take() {
            Some(Counting::Memory {
                throttle,
                reservation,
                at,
            }) => throttle.end(reservation, Outcome::Release, at),
            #[cfg(feature = "postgres")]
            Some(Counting::Shared(attempt)) => attempt.released().await,
            _ => {}
        }
    }

    /// Counts a registration from `client`, or says how long it must wait.
    ///
    /// # Errors
    /// The shared counters' database failed.
    pub(crate) async fn registration(
        &self,
        client: Option<IpAddr>,
        now: SystemTime,
    ) -> Result<Result<(), Duration>, StoreError> {
        match &self.backend {
            Backend::Memory(throttle) => Ok(throttle.registration(client, now)),
            Backend::Shared(shared) => match shared.0 {
                #[cfg(feature = "postgres")]
                Inner::Postgres(ref counters) => {
                    pg::registration(&self.config, counters, client, now).await
                }
            },
        }
    }

    /// Counts a reset request for `email` from `client`, or says how long it must wait.
    ///
    /// # Errors
    /// The shared counters' database failed.
    pub(crate) async fn reset_request(
        &self,
        email: &str,
        client: Option<IpAddr>,
        now: SystemTime,
    ) -> Result<Result<(), Duration>, StoreError> {
        self.quota(Quota::ResetRequest, email, client, now).await
    }

    /// Counts a request for a new confirmation token for `email` from `client`, or says how
    /// long it must wait: the reset requests' limits, counted apart.
    ///
    /// # Errors
    /// The shared counters' database failed.
    pub(crate) async fn confirmation_resend(
        &self,
        email: &str,
        client: Option<IpAddr>,
        now: SystemTime,
    ) -> Result<Result<(), Duration>, StoreError> {
        self.quota(Quota::ConfirmationResend, email, client, now)
            .await
    }

    /// Counts an email-change token to be sent to `new_email` at the request of `client`,
    /// or says how long it must wait: the reset requests' limits, per target address and per
    /// client, counted apart.
    ///
    /// # Errors
    /// The shared counters' database failed.
    pub(crate) async fn email_change_mail(
        &self,
        new_email: &str,
        client: Option<IpAddr>,
        now: SystemTime,
    ) -> Result<Result<(), Duration>, StoreError> {
        self.quota(Quota::EmailChangeMail, new_email, client, now)
            .await
    }

    async fn quota(
        &self,
        family: Quota,
        email: &str,
        client: Option<IpAddr>,
        now: SystemTime,
    ) -> Result<Result<(), Duration>, StoreError> {
        match &self.backend {
            Backend::Memory(throttle) => Ok(throttle.quota(family, email, client, now)),
            Backend::Shared(shared) => match shared.0 {
                #[cfg(feature = "postgres")]
                Inner::Postgres(ref counters) => {
                    pg::quota(&self.config, counters, family, email, client, now).await
                }
            },
        }
    }
}

/// Reserves an attempt in `throttle`, waiting (at most [`WAIT`]) while only attempts in
/// flight hold it back: each end of one wakes it to ask again.
async fn reserve_waiting(
    throttle: &Throttle,
    email: &str,
    client: Option<IpAddr>,
    now: SystemTime,
    per_account: bool,
) -> Result<Reservation, Duration> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        // Listening before asking: an end between the two is not missed.
        let ended = throttle.ended().notified();
        let mut ended = std::pin::pin!(ended);
        ended.as_mut().enable();
        match throttle.reserve(email, client, now, per_account) {
            Reserve::Granted(reservation) => return Ok(reservation),
            Reserve::Refused(wait) => return Err(wait),
            Reserve::Wait => {}
        }
        if tokio::time::timeout_at(deadline, ended).await.is_err() {
            return Err(WAITED_OUT);
        }
    }
}
