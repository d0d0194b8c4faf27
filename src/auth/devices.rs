//! Device tokens (OWASP's "Slow Down Online Guessing Attacks with Device Cookies"): a
//! successful login gives the browser a token bound to the account; a login that presents a
//! valid one is spared the per-account lockout (and the per-client limits) that a distributed
//! guessing attack trips, and is held back only by the token's own failures: 5 in a row revoke
//! it. Logins without one are throttled as before.
//!
//! A token proves a browser that once logged in, not the password: a password change or
//! reset keeps the account's tokens (a stolen token still needs the password, and gives its
//! thief no more than 5 guesses). It never authenticates by itself.

use std::time::{Duration, SystemTime};

use super::{Auth, audit::audit};
use crate::{
    error::AuthError,
    store::{DeviceRecord, Store, UserQuery},
    token::{DeviceToken, TokenDigest},
    user::{User, UserId},
};

/// How long a device token counts (and its cookie lives): 90 days.
pub const DEVICE_TOKEN_LIFETIME: Duration = Duration::from_secs(90 * 24 * 60 * 60);

/// Device tokens kept per account; a login beyond it drops the oldest.
pub const MAX_DEVICE_TOKENS_PER_USER: usize = 10;

/// Failed logins in a row after which a device token is revoked.
pub const DEVICE_TOKEN_FAILURES: u32 = 5;

/// The device token a successful login gives the client: set it as the device cookie.
#[derive(Clone, Debug)]
pub struct IssuedDevice {
    /// The token (the one the client presented, if it was valid, or a new one).
    pub token: DeviceToken,
    /// When it stops counting: the cookie's end.
    pub expires: SystemTime,
}

/// A valid device token that a login presented, with its attempt counted.
pub(crate) struct TrustedDevice {
    token: DeviceToken,
    user_id: UserId,
    expires: SystemTime,
    /// The token's failures in a row, this attempt counted as one.
    failures: u32,
}

impl<S: Store> Auth<S> {
    /// The device token `device` if it is a live token of the account `email` names, with
    /// this attempt counted against it before the password is verified (so that concurrent
    /// attempts cannot exceed its limit; a success resets the count). `None` when device
    /// tokens are off, for no token, another account's, an expired one, or one that has had
    /// its 5 failures (which this revokes).
    pub(crate) async fn trusted_device(
        &self,
        email: &str,
        device: Option<&DeviceToken>,
    ) -> Result<Option<TrustedDevice>, AuthError> {
        let (true, Some(device)) = (self.shared.config.device_tokens(), device) else {
            return Ok(None);
        };
        let digest = device.digest();
        let store = &self.store();
        let Some(record) = store.device_token(digest).await? else {
            return Ok(None);
        };
        if record.expires <= self.now() {
            return Ok(None);
        }
        let Some(user) = self.find(UserQuery::Email(email.to_owned())).await? else {
            return Ok(None);
        };
        if user.id != record.user_id {
            return Ok(None);
        }
        let Some(failures) = store
            .record_device_failure(digest, user.id, DEVICE_TOKEN_FAILURES)
            .await?
        else {
            return Ok(None);
        };
        Ok(Some(TrustedDevice {
            token: device.clone(),
            user_id: user.id,
            expires: record.expires,
            failures,
        }))
    }

    /// A login with the trusted device token `trusted` failed: its attempt is counted
    /// already; the failure that is its 5th in a row revokes it.
    pub(crate) async fn device_failed(&self, trusted: &TrustedDevice) -> Result<(), AuthError> {
        if trusted.failures < DEVICE_TOKEN_FAILURES {
            return Ok(());
        }
        let digest = trusted.token.digest();
        self.store()
            .record_device_failure(digest, trusted.user_id, DEVICE_TOKEN_FAILURES)
            .await?;
        audit!(warn, "device_token_revoked", user_id = %trusted.user_id, failures = trusted.failures);
        Ok(())
    }

    /// The device token for the client after a successful login of `user`: the one it
    /// presented, its failures reset, or a new one (the account's oldest dropped beyond
    /// [`MAX_DEVICE_TOKENS_PER_USER`]). `None` when device tokens are off; a store error
    /// costs the client its device cookie, not its login.
    pub(crate) async fn device_after_login(
        &self,
        user: &User,
        trusted: Option<TrustedDevice>,
    ) -> Option<IssuedDevice> {
        if !self.shared.config.device_tokens() {
            return None;
        }
        let store = &self.store();
        if let Some(trusted) = trusted {
            match store.reset_device_failures(trusted.token.digest()).await {
                Ok(true) => {
                    return Some(IssuedDevice {
                        token: trusted.token,
                        expires: trusted.expires,
                    });
                }
                // Revoked meanwhile by concurrent failures: a new one follows.
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(user_id = %user.id, error = %e, "resetting a device token's failures failed");
                }
            }
        }
        let token = DeviceToken::generate();
        let now = self.now();
        let record = DeviceRecord {
            user_id: user.id,
            created: now,
            expires: now + DEVICE_TOKEN_LIFETIME,
            failures: 0,
        };
        let digest: TokenDigest = token.digest();
        match store
            .insert_device_token(digest, record, MAX_DEVICE_TOKENS_PER_USER)
            .await
        {
            Ok(()) => Some(IssuedDevice {
                token,
                expires: record.expires,
            }),
            Err(e) => {
                tracing::warn!(user_id = %user.id, error = %e, "storing a device token failed");
                None
            }
        }
    }
}
