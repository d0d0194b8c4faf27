//! The TOTP second factor: setting it up, enabling it, checking a code or a recovery code,
//! removing it.
//!
//! The crypto and the codes live apart: [`totp`] (RFC 6238 codes, the secret, the
//! `otpauth://` URI), [`sealed`] (the secret encrypted under the application's key for the
//! store), [`recovery`] (the single-use recovery codes). Every change to a stored factor is
//! one compare-and-set of [`SecondFactorStore::update_second_factor`](crate::store::SecondFactorStore::update_second_factor), so that a code or a recovery code
//! is accepted once however many requests present it at the same time.

mod recovery;
mod sealed;
mod totp;

use std::{fmt, net::IpAddr};

pub use self::recovery::{RECOVERY_CODES, RecoveryCodes};
use self::{
    recovery::recovery_digest,
    sealed::{SealError, open, seal},
    totp::TotpSecret,
};
use super::{
    Auth,
    audit::{Client, audit},
    reauth::{Reauthenticated, Sensitive},
};
use crate::{
    config::SecretKey,
    error::{AuthError, BackendError, StoreError},
    hook::NoticeKind,
    store::{SecondFactorChange, SecondFactorRecord, Store, VerifiedSession},
    token::SessionToken,
    user::{User, UserId},
};

/// What a client presents as its second factor. `Debug` never shows the code.
#[derive(Clone, Copy)]
pub enum SecondFactorProof<'a> {
    /// The current one-time code (6 digits; spaces are ignored).
    Otp(&'a str),
    /// One of the recovery codes (in either case, hyphens and spaces ignored).
    RecoveryCode(&'a str),
}

impl fmt::Debug for SecondFactorProof<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Otp(_) => "Otp(<redacted>)",
            Self::RecoveryCode(_) => "RecoveryCode(<redacted>)",
        })
    }
}

/// A second factor set up and pending: what the user enters in their authenticator app.
/// Nothing is enforced until it is confirmed with a code
/// ([`Auth::confirm_second_factor`]). `Debug` shows nothing of the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpSetup {
    secret: String,
    otpauth_uri: String,
}

impl TotpSetup {
    /// The shared secret: 160 bits in upper-case RFC 4648 base32 without padding (32
    /// characters), for typing in.
    #[must_use]
    pub fn secret(&self) -> &str {
        &self.secret
    }

    /// `otpauth://totp/<issuer>:<email>?secret=...&issuer=...&algorithm=SHA1&digits=6&period=30`
    /// (issuer and email percent-encoded): the URI an app reads from a QR code.
    #[must_use]
    pub fn otpauth_uri(&self) -> &str {
        &self.otpauth_uri
    }
}

impl fmt::Debug for TotpSetup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSetup(<redacted>)")
    }
}

/// A failure of the machine (its random source) rather than of the request: answered 500.
fn internal(e: SealError) -> AuthError {
    AuthError::Store(StoreError::Backend(BackendError::new(e)))
}

/// A store error of a user's factor: their account went away meanwhile.
fn account_gone(e: StoreError) -> AuthError {
    match e {
        StoreError::NotFound => AuthError::InvalidSession,
        e => e.into(),
    }
}

impl<S: Store> Auth<S> {
    /// Sets up a TOTP second factor for the user of the session `token`, who proves it with
    /// their current password: draws a new secret, stores it sealed under the
    /// [secret key](crate::AuthConfig::with_secret_key) as a pending factor (replacing a
    /// pending one), and returns it for the authenticator app. Nothing is enforced until
    /// [`confirm_second_factor`](Self::confirm_second_factor).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::UNIX_EPOCH;
    /// use tower_user_auth::{
    ///     Auth, AuthConfig,
    ///     auth::{Login, SecondFactorProof},
    ///     config::SecretKey,
    /// };
    ///
    /// let dir = tempfile::tempdir()?;
    /// let config = AuthConfig::hardened()
    ///     .with_bcrypt_cost(4)
    ///     .with_secret_key(SecretKey::from_bytes([42; 32]));
    /// let auth = Auth::open(dir.path().join("auth.redb"), config)?;
    /// let pw = "correct horse battery staple";
    /// auth.register("bob@example.com", pw, None).await?;
    /// let session = auth.log_in(Login::new("bob@example.com", pw)).await?.expect("logged in").token;
    ///
    /// let setup = auth.begin_second_factor(&session, pw, None).await?;
    /// assert!(setup.otpauth_uri().starts_with("otpauth://totp/tower-user-auth:bob%40example.com?"));
    /// // What the authenticator app computes (RFC 6238: HMAC-SHA1, 6 digits, 30 s).
    /// let app = totp_rs::TOTP::new(
    ///     totp_rs::Algorithm::SHA1, 6, 1, 30,
    ///     totp_rs::Secret::Encoded(setup.secret().to_owned()).to_bytes()?,
    /// )?;
    /// let now = auth.now().duration_since(UNIX_EPOCH)?.as_secs();
    /// let recovery = auth.confirm_second_factor(&session, &app.generate(now), None).await?;
    /// assert_eq!(recovery.codes().len(), 10);
    ///
    /// // The password alone no longer logs in; a recovery code does, once.
    /// assert!(auth.log_in(Login::new("bob@example.com", pw)).await.is_err());
    /// let code = SecondFactorProof::RecoveryCode(&recovery.codes()[0]);
    /// let login = Login::new("bob@example.com", pw).with_second_factor(Some(code));
    /// assert!(auth.log_in(login).await?.is_some());
    /// assert!(auth.log_in(login).await.is_err());
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`AuthError::InvalidSession`], [`AuthError::WrongPassword`] (a failure for
    /// throttling), [`AuthError::EmailNotConfirmed`] for an unconfirmed account
    /// ([`require_confirmed`](Self::require_confirmed)), [`AuthError::SecondFactorEnabled`] (remove it first),
    /// [`AuthError::TotpUnavailable`] when TOTP is off or no secret key is set (no factor can
    /// be set up), [`AuthError::Throttled`], [`AuthError::Overloaded`], [`AuthError::Store`]
    /// (also if the system's random source fails).
    pub async fn begin_second_factor(
        &self,
        token: &SessionToken,
        current_password: &str,
        client: Option<IpAddr>,
    ) -> Result<TotpSetup, AuthError> {
        let Some(key) = self.totp_key() else {
            return Err(AuthError::TotpUnavailable);
        };
        let what = Sensitive::SecondFactor("begin");
        let Reauthenticated { user, attempt } = self
            .reauthenticate_session(token, current_password, client, what)
            .await?;
        let throttle = &self.shared.throttle;
        throttle.succeeded(attempt).await;
        self.require_confirmed(&user)?;
        let existing = self
            .store()
            .second_factor(user.id)
            .await
            .map_err(account_gone)?;
        if existing.is_some_and(|f| f.enabled) {
            return Err(AuthError::SecondFactorEnabled);
        }
        let secret = TotpSecret::generate().map_err(|e| internal(e.into()))?;
        let sealed_secret = seal(key, secret.bytes()).map_err(internal)?;
        let begun = self
            .store()
            .update_second_factor(user.id, SecondFactorChange::Begin { sealed_secret })
            .await
            .map_err(account_gone)?;
        if !begun {
            return Err(AuthError::SecondFactorEnabled);
        }
        audit!(info, "second_factor_begun", user_id = %user.id, client = %Client(client));
        Ok(TotpSetup {
            secret: secret.base32(),
            otpauth_uri: secret.otpauth_uri(&self.shared.config.account.totp_issuer, &user.email),
        })
    }

    /// Enables the pending second factor of the user of the session `token` with a code of
    /// its secret (`code`, from the app; that code is then used up), and returns the
    /// [`RECOVERY_CODES`] recovery codes, which are stored only as digests: show them once.
    /// From then on every login needs a code or a recovery code. See
    /// [`begin_second_factor`](Self::begin_second_factor) for an example.
    ///
    /// # Errors
    /// [`AuthError::InvalidSession`], [`AuthError::WrongSecondFactor`] for a wrong code (a
    /// failure for throttling; the factor stays pending), or when the pending secret was
    /// replaced meanwhile; [`AuthError::EmailNotConfirmed`] for an unconfirmed account;
    /// [`AuthError::NoSecondFactor`] when none is pending,
    /// [`AuthError::TotpUnavailable`] when TOTP is off or has no key, [`AuthError::SecondFactorEnabled`], [`AuthError::Throttled`],
    /// [`AuthError::Store`].
    pub async fn confirm_second_factor(
        &self,
        token: &SessionToken,
        code: &str,
        client: Option<IpAddr>,
    ) -> Result<RecoveryCodes, AuthError> {
        if self.totp_key().is_none() {
            return Err(AuthError::TotpUnavailable);
        }
        let Some((_, user)) = self.live_session_user(token).await? else {
            return Err(AuthError::InvalidSession);
        };
        self.require_confirmed(&user)?;
        let pending = self.pending_factor(user.id).await?;
        let throttle = &self.shared.throttle;
        let attempt = match throttle.attempt(&user.email, client, self.now()).await? {
            Ok(attempt) => attempt,
            Err(retry_after) => {
                audit!(warn, "second_factor_throttled", action = "confirm", user_id = %user.id, client = %Client(client));
                return Err(AuthError::Throttled { retry_after });
            }
        };
        let step = self
            .open_secret(&pending)
            .and_then(|secret| secret.matching_step(code, self.now()));
        let Some(step) = step else {
            throttle.failed(attempt, self.now());
            audit!(info, "second_factor_refused", action = "confirm", reason = "wrong code", user_id = %user.id, client = %Client(client));
            return Err(AuthError::WrongSecondFactor);
        };
        let codes = match RecoveryCodes::generate() {
            Ok(codes) => codes,
            Err(e) => {
                throttle.released(attempt).await;
                return Err(internal(e.into()));
            }
        };
        let enable = SecondFactorChange::Enable {
            sealed_secret: pending.sealed_secret,
            step,
            recovery_codes: codes.digests(),
        };
        let enabled = match self.store().update_second_factor(user.id, enable).await {
            Ok(enabled) => enabled,
            Err(e) => {
                throttle.released(attempt).await;
                return Err(account_gone(e));
            }
        };
        if !enabled {
            // Another request enabled it, or set up a new secret, meanwhile.
            throttle.released(attempt).await;
            self.pending_factor(user.id).await?;
            return Err(AuthError::WrongSecondFactor);
        }
        throttle.succeeded(attempt).await;
        audit!(info, "second_factor_enabled", user_id = %user.id, client = %Client(client));
        self.notify(&user, NoticeKind::SecondFactorEnabled, client);
        Ok(codes)
    }

    /// Removes the second factor of the user of the session `token`, who proves it with
    /// their current password and, when the factor is enabled, `proof` (a code or a
    /// recovery code, used up). A pending factor needs the password only. The removal is
    /// made only if this session is still stored and the account's credentials are still
    /// those verified (a reset, or a change of password, email or second factor, that
    /// commits first refuses it); removing an enabled factor is itself a change of
    /// credentials: tokens issued before it are revoked, every session is kept.
    ///
    /// # Errors
    /// [`AuthError::InvalidSession`] (also when the session ended before the removal
    /// committed), [`AuthError::CredentialsChanged`] (the credentials changed after this
    /// request verified them: nothing removed), [`AuthError::WrongPassword`],
    /// [`AuthError::SecondFactorRequired`] (no proof: not a failure),
    /// [`AuthError::WrongSecondFactor`] (a wrong or replayed one), both failures for
    /// throttling; [`AuthError::NoSecondFactor`] when there is none, [`AuthError::Throttled`],
    /// [`AuthError::Overloaded`], [`AuthError::Store`].
    pub async fn disable_second_factor(
        &self,
        token: &SessionToken,
        current_password: &str,
        proof: Option<SecondFactorProof<'_>>,
        client: Option<IpAddr>,
    ) -> Result<(), AuthError> {
        let what = Sensitive::SecondFactor("disable");
        let Reauthenticated { user, attempt } = self
            .reauthenticate_session(token, current_password, client, what)
            .await?;
        let throttle = &self.shared.throttle;
        let factor = match self.store().second_factor(user.id).await {
            Ok(Some(factor)) => factor,
            Ok(None) => {
                throttle.succeeded(attempt).await;
                return Err(AuthError::NoSecondFactor);
            }
            Err(e) => {
                throttle.released(attempt).await;
                return Err(account_gone(e));
            }
        };
        if factor.enabled {
            match self.verify_proof(&user, &factor, proof, client).await {
                Ok(()) => {}
                Err(AuthError::WrongSecondFactor) => {
                    throttle.failed(attempt, self.now());
                    audit!(info, "second_factor_refused", action = "disable", reason = "wrong code", user_id = %user.id, client = %Client(client));
                    return Err(AuthError::WrongSecondFactor);
                }
                Err(e) => {
                    throttle.released(attempt).await;
                    return Err(e);
                }
            }
        }
        // A compare-and-set against what was verified: a reset (or any change of
        // credentials) that commits first, or the end of this session, refuses it.
        let verified = VerifiedSession {
            session: token.digest(),
            generation: user.generation,
        };
        let removed = match self
            .store()
            .update_second_factor(user.id, SecondFactorChange::RemoveVerified(verified))
            .await
        {
            Ok(removed) => removed,
            Err(e) => {
                throttle.released(attempt).await;
                return Err(match e {
                    StoreError::Conflict => {
                        audit!(info, "second_factor_refused", action = "disable", reason = "credentials changed meanwhile", user_id = %user.id, client = %Client(client));
                        AuthError::CredentialsChanged
                    }
                    e => account_gone(e),
                });
            }
        };
        throttle.succeeded(attempt).await;
        if !removed {
            return Err(AuthError::NoSecondFactor);
        }
        audit!(info, "second_factor_removed", user_id = %user.id, client = %Client(client));
        if factor.enabled {
            self.notify(&user, NoticeKind::SecondFactorDisabled, client);
        }
        Ok(())
    }

    /// Checks `proof` against `user`'s second factor, consuming it (a code is accepted once,
    /// a recovery code once): `Ok(())` when the user has no enabled factor, or the proof is
    /// good. Enforced whatever the configuration: a factor that is on is never skipped.
    /// Throttling is the caller's.
    ///
    /// # Errors
    /// [`AuthError::SecondFactorRequired`] without a proof, [`AuthError::WrongSecondFactor`]
    /// for a wrong or replayed one (and for a code when the secret cannot be opened: no key
    /// or another key), [`AuthError::CredentialsChanged`] if the account is gone,
    /// [`AuthError::Store`].
    pub(crate) async fn check_second_factor(
        &self,
        user: &User,
        proof: Option<SecondFactorProof<'_>>,
        client: Option<IpAddr>,
    ) -> Result<(), AuthError> {
        let factor = match self.store().second_factor(user.id).await {
            Ok(factor) => factor,
            Err(StoreError::NotFound) => return Err(AuthError::CredentialsChanged),
            Err(e) => return Err(e.into()),
        };
        match factor.filter(|f| f.enabled) {
            None => Ok(()),
            Some(factor) => self.verify_proof(user, &factor, proof, client).await,
        }
    }

    /// Checks `proof` against the enabled `factor` and consumes it with a compare-and-set:
    /// of concurrent requests with one code, one wins.
    async fn verify_proof(
        &self,
        user: &User,
        factor: &SecondFactorRecord,
        proof: Option<SecondFactorProof<'_>>,
        client: Option<IpAddr>,
    ) -> Result<(), AuthError> {
        let change = match proof {
            None => return Err(AuthError::SecondFactorRequired),
            Some(SecondFactorProof::Otp(code)) => {
                let Some(secret) = self.open_secret(factor) else {
                    tracing::warn!(user_id = %user.id, "a second factor cannot be opened: no secret key is set, or it is not the key it was sealed under");
                    return Err(AuthError::WrongSecondFactor);
                };
                match secret.matching_step(code, self.now()) {
                    // A step after the last one used; the store checks it again.
                    Some(step) if step > factor.last_step => SecondFactorChange::UseStep(step),
                    _ => return Err(AuthError::WrongSecondFactor),
                }
            }
            Some(SecondFactorProof::RecoveryCode(code)) => {
                let Some(digest) = recovery_digest(code) else {
                    return Err(AuthError::WrongSecondFactor);
                };
                let unused = factor
                    .recovery_codes
                    .iter()
                    .fold(false, |found, d| found | d.ct_eq(&digest));
                if !unused {
                    return Err(AuthError::WrongSecondFactor);
                }
                SecondFactorChange::UseRecoveryCode(digest)
            }
        };
        let recovery = matches!(change, SecondFactorChange::UseRecoveryCode(_));
        let kind = if recovery { "recovery_code" } else { "otp" };
        match self.store().update_second_factor(user.id, change).await {
            Ok(true) => {
                audit!(info, "second_factor_used", kind = kind, user_id = %user.id, client = %Client(client));
                if recovery {
                    let remaining = self.recovery_codes_left(user.id, factor).await;
                    self.notify(user, NoticeKind::RecoveryCodeUsed { remaining }, client);
                }
                Ok(())
            }
            Ok(false) => Err(AuthError::WrongSecondFactor),
            Err(StoreError::NotFound) => Err(AuthError::CredentialsChanged),
            Err(e) => Err(e.into()),
        }
    }

    /// How many recovery codes `user_id` has left once one of those of `factor` (as read
    /// before it was used) is used: as stored now (other requests may have used some
    /// meanwhile), or one fewer than read if the store cannot say.
    async fn recovery_codes_left(&self, user_id: UserId, factor: &SecondFactorRecord) -> usize {
        match self.store().second_factor(user_id).await {
            Ok(Some(now)) => now.recovery_codes.len(),
            _ => factor.recovery_codes.len().saturating_sub(1),
        }
    }

    /// The key to seal new secrets under, when TOTP is on and one is set.
    fn totp_key(&self) -> Option<&SecretKey> {
        let config = &self.shared.config;
        config
            .totp()
            .then_some(config.account.secret_key.as_ref())
            .flatten()
    }

    /// The secret of `factor`, if the configured key opens it.
    fn open_secret(&self, factor: &SecondFactorRecord) -> Option<TotpSecret> {
        let key = self.shared.config.account.secret_key.as_ref()?;
        TotpSecret::from_bytes(&open(key, &factor.sealed_secret)?)
    }

    /// The user's pending factor: [`AuthError::SecondFactorEnabled`] if it is enabled,
    /// [`AuthError::NoSecondFactor`] if there is none.
    async fn pending_factor(&self, user_id: UserId) -> Result<SecondFactorRecord, AuthError> {
        match self.store().second_factor(user_id).await {
            Ok(Some(factor)) if factor.enabled => Err(AuthError::SecondFactorEnabled),
            Ok(Some(factor)) => Ok(factor),
            Ok(None) => Err(AuthError::NoSecondFactor),
            Err(e) => Err(account_gone(e)),
        }
    }
}
