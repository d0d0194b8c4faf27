//! [`Limits`], what [`Auth`](crate::Auth) consults: the in-memory [`Throttle`] of each
//! process, or the counters that a store shares between the instances on its database
//! ([`SharedThrottle`]).

use std::{
    fmt,
    net::IpAddr,
    time::{Duration, SystemTime},
};

use super::{ThrottleConfig, keys::Quota, limiter::Throttle};
#[cfg(feature = "postgres")]
use super::{
    keys::{account_key, client_bytes},
    limiter::backoff,
};
use crate::error::StoreError;
#[cfg(feature = "postgres")]
use crate::store::postgres_throttle::{Bump, Counted, Counters, Uncount, kind};

/// Throttle counters that a [`Store`](crate::store::Store) shares between every instance of
/// an app on its database, so that N instances do not allow N times the guesses: what
/// [`Store::shared_throttle`](crate::store::Store::shared_throttle) returns. `PgStore`
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
    Memory(Box<Throttle>),
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    Shared(SharedThrottle),
}

/// An attempt that [`Limits::attempt`] let through: report how it ended with
/// [`Limits::failed`], [`Limits::succeeded`] or [`Limits::released`].
///
/// The shared counters count the attempt as a failure before the password is verified (so
/// that concurrent attempts, on any instance, cannot exceed a limit between them); a success
/// or an attempt that ended otherwise (an error, a conflict) takes it back. An attempt whose
/// request is dropped midway stays counted as a failure.
#[derive(Debug)]
#[must_use]
pub(crate) struct Attempt(Option<Counting>);

#[derive(Debug)]
enum Counting {
    /// Not counted (a trusted device token's attempt); a success still clears the pair's
    /// backoff.
    Exempt {
        email: String,
        client: Option<IpAddr>,
    },
    Memory {
        email: String,
        client: Option<IpAddr>,
    },
    #[cfg(feature = "postgres")]
    Shared {
        backoff: Vec<u8>,
        account: (Vec<u8>, SystemTime),
        client: Option<(Vec<u8>, SystemTime)>,
    },
}

#[cfg(feature = "postgres")]
const HOUR: Duration = Duration::from_secs(3600);

impl Limits {
    /// The limits of `config`, counted by `shared` when the store provides it, otherwise in
    /// memory.
    pub(crate) fn new(config: ThrottleConfig, shared: Option<SharedThrottle>) -> Self {
        let backend = match shared {
            Some(shared) => Backend::Shared(shared),
            None => Backend::Memory(Box::new(Throttle::new(config.clone()))),
        };
        Self { config, backend }
    }

    /// Lets an attempt on `email` from `client` (a login, a reset, a password change)
    /// through, or says for how long it is held back (`Err`: nothing counted).
    ///
    /// # Errors
    /// The shared counters' database failed: the caller refuses the attempt (fails closed).
    pub(crate) async fn attempt(
        &self,
        email: &str,
        client: Option<IpAddr>,
        now: SystemTime,
    ) -> Result<Result<Attempt, Duration>, StoreError> {
        if !self.config.enabled() {
            return Ok(Ok(Attempt(None)));
        }
        match &self.backend {
            Backend::Memory(throttle) => {
                Ok(throttle.check_failures(email, client, now).map(|()| {
                    Attempt(Some(Counting::Memory {
                        email: email.to_owned(),
                        client,
                    }))
                }))
            }
            Backend::Shared(shared) => match shared.0 {
                #[cfg(feature = "postgres")]
                Inner::Postgres(ref counters) => {
                    self.count_attempt(counters, email, client, now).await
                }
            },
        }
    }

    /// An attempt on `email` from `client` that the limits neither hold back nor count (a
    /// trusted device token's); its success still clears the (account, client) backoff.
    pub(crate) fn exempt(&self, email: &str, client: Option<IpAddr>) -> Attempt {
        Attempt(self.config.enabled().then(|| Counting::Exempt {
            email: email.to_owned(),
            client,
        }))
    }

    /// The attempt failed (a wrong password or token).
    pub(crate) fn failed(&self, attempt: Attempt, now: SystemTime) {
        if let (Backend::Memory(throttle), Some(Counting::Memory { email, client })) =
            (&self.backend, attempt.0)
        {
            throttle.record_failure(&email, client, now);
        }
        // Shared: counted already.
    }

    /// The attempt succeeded: its (account, client) backoff is cleared; the ceilings keep
    /// their counts of failures.
    pub(crate) async fn succeeded(&self, attempt: Attempt) {
        match (&self.backend, attempt.0) {
            (
                Backend::Memory(throttle),
                Some(Counting::Memory { email, client } | Counting::Exempt { email, client }),
            ) => {
                throttle.record_success(&email, client);
            }
            #[cfg(feature = "postgres")]
            (Backend::Shared(shared), Some(Counting::Exempt { email, client })) => {
                let backoff = [&account_key(&email)[..], &client_bytes(client)].concat();
                shared.uncount(&[], &[(kind::BACKOFF, backoff)]).await;
            }
            #[cfg(feature = "postgres")]
            (
                Backend::Shared(shared),
                Some(Counting::Shared {
                    backoff,
                    account,
                    client,
                }),
            ) => {
                let uncount = windows(account, client);
                let remove = [(kind::BACKOFF, backoff)];
                shared.uncount(&uncount, &remove).await;
            }
            _ => {}
        }
    }

    /// The attempt ended neither way (an error, a credential change meanwhile): it counts
    /// for nothing.
    pub(crate) async fn released(&self, attempt: Attempt) {
        #[cfg(feature = "postgres")]
        if let (
            Backend::Shared(shared),
            Some(Counting::Shared {
                backoff,
                account,
                client,
            }),
        ) = (&self.backend, attempt.0)
        {
            let mut uncount = windows(account, client);
            uncount.push(Uncount {
                kind: kind::BACKOFF,
                key: backoff,
                since: None,
            });
            shared.uncount(&uncount, &[]).await;
        }
        #[cfg(not(feature = "postgres"))]
        let _ = attempt;
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
                    let (true, Some(_)) = (self.config.enabled(), client) else {
                        return Ok(Ok(()));
                    };
                    let bumps = [bump(kind::REGISTRATIONS, client_bytes(client), HOUR)];
                    let limit = self.config.registrations_per_client_per_hour();
                    let decide = |counted: &[Counted]| over(counted, now, |_| limit);
                    Ok(counters.count(&bumps, now, decide).await?.map(drop))
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
                    if !self.config.enabled() {
                        return Ok(Ok(()));
                    }
                    let tagged = |key: Vec<u8>| match family.shared_tag() {
                        Some(tag) => [&[tag][..], &key].concat(),
                        None => key,
                    };
                    let account = tagged(account_key(email).to_vec());
                    let mut bumps = vec![bump(kind::RESET_ACCOUNT, account, HOUR)];
                    if client.is_some() {
                        let client = tagged(client_bytes(client));
                        bumps.push(bump(kind::RESET_CLIENT, client, HOUR));
                    }
                    let config = &self.config;
                    let decide = |counted: &[Counted]| {
                        over(counted, now, |k| match k {
                            kind::RESET_ACCOUNT => config.reset_requests_per_account_per_hour(),
                            _ => config.reset_requests_per_client_per_hour(),
                        })
                    };
                    Ok(counters.count(&bumps, now, decide).await?.map(drop))
                }
            },
        }
    }

    #[cfg(feature = "postgres")]
    async fn count_attempt(
        &self,
        counters: &Counters,
        email: &str,
        client: Option<IpAddr>,
        now: SystemTime,
    ) -> Result<Result<Attempt, Duration>, StoreError> {
        let config = &self.config;
        let account = account_key(email).to_vec();
        let client_key = client.map(|_| client_bytes(client));
        let backoff_key = [&account[..], &client_bytes(client)].concat();
        let mut bumps = vec![
            bump(
                kind::BACKOFF,
                backoff_key.clone(),
                config.backoff_max() + HOUR,
            ),
            bump(kind::ACCOUNT_FAILURES, account.clone(), HOUR),
        ];
        if let Some(key) = &client_key {
            bumps.push(bump(kind::CLIENT_FAILURES, key.clone(), HOUR));
        }
        let free = config.free_failures().max(1);
        let decide = |counted: &[Counted]| {
            let mut wait = match over(counted, now, |k| match k {
                kind::ACCOUNT_FAILURES => config.account_failures_per_hour(),
                kind::CLIENT_FAILURES => config.client_failures_per_hour(),
                _ => u32::MAX,
            }) {
                Ok(()) => Duration::ZERO,
                Err(wait) => wait,
            };
            for c in counted.iter().filter(|c| c.kind == kind::BACKOFF) {
                // The backoff the attempt met: that of the failures before it.
                let before = c.count.saturating_sub(1);
                if let (Some(last), true) = (c.prev, before >= free) {
                    let until = last + backoff(config, before);
                    wait = wait.max(until.duration_since(now).unwrap_or_default());
                }
            }
            if wait.is_zero() { Ok(()) } else { Err(wait) }
        };
        let counted = match counters.count(&bumps, now, decide).await? {
            Ok(counted) => counted,
            Err(wait) => return Ok(Err(wait)),
        };
        let since = |k: i16| {
            counted
                .iter()
                .find(|c| c.kind == k)
                .map_or(now, |c| c.since)
        };
        Ok(Ok(Attempt(Some(Counting::Shared {
            backoff: backoff_key,
            account: (account, since(kind::ACCOUNT_FAILURES)),
            client: client_key.map(|key| (key, since(kind::CLIENT_FAILURES))),
        }))))
    }
}

#[cfg(feature = "postgres")]
impl SharedThrottle {
    /// Takes counts back; a failure is logged (the counts stay: the limits err on the side
    /// of holding back).
    async fn uncount(&self, uncount: &[Uncount], remove: &[(i16, Vec<u8>)]) {
        let Inner::Postgres(counters) = &self.0;
        if let Err(e) = counters.uncount(uncount, remove).await {
            tracing::warn!(error = %e, "taking back a throttle count failed");
        }
    }
}

#[cfg(feature = "postgres")]
fn bump(kind: i16, key: Vec<u8>, life: Duration) -> Bump {
    Bump { kind, key, life }
}

/// The account and client windows of an attempt, to take its count back.
#[cfg(feature = "postgres")]
fn windows(account: (Vec<u8>, SystemTime), client: Option<(Vec<u8>, SystemTime)>) -> Vec<Uncount> {
    let account = Some((kind::ACCOUNT_FAILURES, account));
    let client = client.map(|c| (kind::CLIENT_FAILURES, c));
    [account, client]
        .into_iter()
        .flatten()
        .map(|(kind, (key, since))| Uncount {
            kind,
            key,
            since: Some(since),
        })
        .collect()
}

/// `Err` with the longest wait if a window's count, this request included, is over its
/// kind's limit.
#[cfg(feature = "postgres")]
fn over(counted: &[Counted], now: SystemTime, limit: impl Fn(i16) -> u32) -> Result<(), Duration> {
    let wait = counted
        .iter()
        .filter(|c| c.kind != kind::BACKOFF && c.count > limit(c.kind))
        .map(|c| c.expires.duration_since(now).unwrap_or_default())
        .max()
        .unwrap_or_default();
    if wait.is_zero() { Ok(()) } else { Err(wait) }
}
