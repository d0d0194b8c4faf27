//! The account settings: email confirmation, the TOTP second factor and the key its secrets
//! are sealed under, email change, account deletion.

use std::{fmt, time::Duration};

use base64::Engine as _;

use super::AuthConfig;

/// The key that seals (encrypts and authenticates) the TOTP secrets in the store: 32 random
/// bytes, kept out of the database (in the demo, `AUTH_SECRET_KEY`). A copy of the database
/// without it does not give anyone a user's second factor. `Debug` shows nothing of it.
///
/// ```
/// use tower_user_auth::config::SecretKey;
///
/// // 32 bytes in standard base64 with padding (RFC 4648 §4): `openssl rand -base64 32`.
/// let key = SecretKey::from_base64("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")?;
/// assert_eq!(format!("{key:?}"), "SecretKey(<redacted>)");
/// assert!(SecretKey::from_base64("too short").is_err());
/// # Ok::<(), tower_user_auth::config::SecretKeyError>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct SecretKey(pub(crate) [u8; 32]);

impl SecretKey {
    /// The key of these 32 bytes.
    #[must_use]
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// Reads a key written as 32 bytes in standard base64 with padding (RFC 4648 §4);
    /// surrounding white space is ignored.
    ///
    /// # Errors
    /// [`SecretKeyError`] if it is not base64 or not 32 bytes long.
    pub fn from_base64(encoded: &str) -> Result<Self, SecretKeyError> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .map_err(|_| SecretKeyError::NotBase64)?;
        let bytes: [u8; 32] = bytes
            .try_into()
            .map_err(|b: Vec<u8>| SecretKeyError::Length(b.len()))?;
        Ok(Self(bytes))
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

/// Why a [`SecretKey`] could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SecretKeyError {
    /// Not standard base64 with padding.
    #[error("the secret key is not standard base64 (RFC 4648 section 4, with padding)")]
    NotBase64,
    /// Not 32 bytes once decoded.
    #[error("the secret key is {0} bytes long; it must be 32")]
    Length(usize),
}

/// How long an account whose email is not confirmed lives by default: 7 days
/// (`AUTH_UNCONFIRMED_LIFETIME=604800` in the demo).
pub const DEFAULT_UNCONFIRMED_LIFETIME: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// The account features, part of [`AuthConfig`].
#[derive(Clone)]
pub(crate) struct AccountFeatures {
    pub(crate) email_confirmation: bool,
    pub(crate) totp: bool,
    pub(crate) secret_key: Option<SecretKey>,
    /// The issuer named in `otpauth://` URIs (the app's name in the authenticator).
    pub(crate) totp_issuer: String,
    pub(crate) email_change: bool,
    pub(crate) account_deletion: bool,
    pub(crate) email_token_lifetime: Duration,
    pub(crate) unconfirmed_lifetime: Duration,
}

impl AccountFeatures {
    /// The hardened profile's: TOTP (once a key is given), email change and deletion on;
    /// email confirmation only when asked for.
    pub(crate) fn hardened() -> Self {
        Self {
            email_confirmation: false,
            totp: true,
            secret_key: None,
            totp_issuer: "tower-user-auth".into(),
            email_change: true,
            account_deletion: true,
            email_token_lifetime: Duration::from_secs(24 * 60 * 60),
            unconfirmed_lifetime: DEFAULT_UNCONFIRMED_LIFETIME,
        }
    }

    /// The compatibility profile's: everything off, so that its clients notice nothing.
    pub(crate) fn compat() -> Self {
        Self {
            totp: false,
            email_change: false,
            account_deletion: false,
            ..Self::hardened()
        }
    }
}

impl fmt::Debug for AccountFeatures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccountFeatures")
            .field("email_confirmation", &self.email_confirmation)
            .field("totp", &self.totp)
            .field("secret_key", &self.secret_key)
            .field("totp_issuer", &self.totp_issuer)
            .field("email_change", &self.email_change)
            .field("account_deletion", &self.account_deletion)
            .field("email_token_lifetime", &self.email_token_lifetime)
            .field("unconfirmed_lifetime", &self.unconfirmed_lifetime)
            .finish()
    }
}

impl AuthConfig {
    /// Whether a new account must confirm its email before it can log in (default: off in
    /// both profiles). When on, `POST /users` issues a confirmation token and gives it to the
    /// [mailer](Self::with_mailer); `POST /confirm_email` redeems it,
    /// `POST /confirm_email/resend` sends a new one; until then a login with the right
    /// password gets 403 `email not confirmed`. It also makes an email change wait for a
    /// token sent to the new address. Accounts registered while it was off count as
    /// confirmed.
    pub fn with_email_confirmation(mut self, on: bool) -> Self {
        self.account.email_confirmation = on;
        self
    }

    /// Whether email confirmation is on.
    #[must_use]
    pub fn email_confirmation(&self) -> bool {
        self.account.email_confirmation
    }

    /// Whether users may set up a TOTP second factor (`POST /profile/totp`, hardened: on;
    /// compatibility profile: off). It works only with a [secret key](Self::with_secret_key) to seal the
    /// secrets under: without one the TOTP routes are not served, and an account whose factor
    /// is on logs in only with a recovery code.
    pub fn with_totp(mut self, on: bool) -> Self {
        self.account.totp = on;
        self
    }

    /// Whether the TOTP routes are served: TOTP is on and a secret key is set.
    #[must_use]
    pub fn totp(&self) -> bool {
        self.account.totp && self.account.secret_key.is_some()
    }

    /// The key TOTP secrets are sealed under in the store (see [`SecretKey`]). Keep it out of
    /// the database and its backups; changing it makes every stored factor unusable (its
    /// users log in with a recovery code).
    pub fn with_secret_key(mut self, key: SecretKey) -> Self {
        self.account.secret_key = Some(key);
        self
    }

    /// The issuer named in `otpauth://` URIs: the name the authenticator app shows
    /// (default `tower-user-auth`).
    pub fn with_totp_issuer(mut self, issuer: impl Into<String>) -> Self {
        self.account.totp_issuer = issuer.into();
        self
    }

    /// The issuer named in `otpauth://` URIs.
    #[must_use]
    pub fn totp_issuer(&self) -> &str {
        &self.account.totp_issuer
    }

    /// Whether users may change their email (`PUT /profile/email`; hardened: on, compatibility
    /// profile: off).
    /// It decides whether the layer serves the routes; [`Auth::change_email`] stays callable
    /// either way, for an application that offers the change its own way.
    ///
    /// [`Auth::change_email`]: crate::Auth::change_email
    pub fn with_email_change(mut self, on: bool) -> Self {
        self.account.email_change = on;
        self
    }

    /// Whether email change is on.
    #[must_use]
    pub fn email_change(&self) -> bool {
        self.account.email_change
    }

    /// Whether users may delete their account (`DELETE /profile`; hardened: on, compatibility
    /// profile: off).
    /// It decides whether the layer serves the route; [`Auth::delete_account`] stays
    /// callable either way, for an application that offers deletion its own way.
    ///
    /// [`Auth::delete_account`]: crate::Auth::delete_account
    pub fn with_account_deletion(mut self, on: bool) -> Self {
        self.account.account_deletion = on;
        self
    }

    /// Whether account deletion is on.
    #[must_use]
    pub fn account_deletion(&self) -> bool {
        self.account.account_deletion
    }

    /// How long a confirmation or email-change token works (default 24 hours).
    pub fn with_email_token_lifetime(mut self, lifetime: Duration) -> Self {
        self.account.email_token_lifetime = lifetime;
        self
    }

    /// How long a confirmation or email-change token works.
    #[must_use]
    pub fn email_token_lifetime(&self) -> Duration {
        self.account.email_token_lifetime
    }

    /// How long an account whose email is not confirmed lives from its registration
    /// (default [`DEFAULT_UNCONFIRMED_LIFETIME`], 7 days; the demo reads
    /// `AUTH_UNCONFIRMED_LIFETIME`, in seconds). Its confirmation tokens expire with it
    /// (whatever the [email token lifetime](Self::with_email_token_lifetime)), a
    /// [purge](crate::Auth::purge_expired) removes it with everything of theirs, and a
    /// registration of its address replaces it: a squatter's account does not hold an
    /// address for ever.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tower_user_auth::AuthConfig;
    ///
    /// let config = AuthConfig::hardened().with_unconfirmed_lifetime(Duration::from_secs(3 * 86400));
    /// assert_eq!(config.unconfirmed_lifetime(), Duration::from_secs(259_200));
    /// assert_eq!(AuthConfig::hardened().unconfirmed_lifetime(), Duration::from_secs(604_800));
    /// ```
    pub fn with_unconfirmed_lifetime(mut self, lifetime: Duration) -> Self {
        self.account.unconfirmed_lifetime = lifetime;
        self
    }

    /// How long an unconfirmed account lives.
    #[must_use]
    pub fn unconfirmed_lifetime(&self) -> Duration {
        self.account.unconfirmed_lifetime
    }
}
