//! The crate's error types, one enum per layer.

use std::{error::Error as StdError, fmt, sync::Arc};

/// Why the store could not do what it was asked.
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// No record matches.
    #[error("no matching record")]
    NotFound,
    /// Another account already has this email (compared by its
    /// [`email_key`](crate::user::email_key): without regard to case or Unicode normalisation).
    #[error("email already registered")]
    EmailTaken,
    /// A compare-and-set found the user's credentials changed since the caller read them
    /// (another password change or reset came first): nothing was changed.
    #[error("the credentials changed since they were read")]
    Conflict,
    /// A database file of an older schema version cannot be migrated as it is; the file was
    /// left unchanged. The message says why and what to do.
    #[error("the database file cannot be migrated: {0}")]
    Migration(String),
    /// The store's write queue is full: the caller should shed the request (503).
    #[error("the store is overloaded")]
    Busy,
    /// The database (a redb file, a PostgreSQL database) was written by a different schema
    /// version of this crate: a newer one, which this build cannot read (it was left
    /// unchanged).
    #[error(
        "the database has schema version {found}, this version of tower-user-auth reads \
         version {expected}; open it with a matching version or migrate it"
    )]
    SchemaVersion {
        /// The version recorded in the file.
        found: u64,
        /// The version this build reads and writes.
        expected: u64,
    },
    /// The store has shut down.
    #[error("the store is closed")]
    Closed,
    /// The storage backend failed (I/O error, full disk, corruption...).
    #[error("storage failure: {0}")]
    Backend(#[source] BackendError),
}

/// A storage backend's own error, shared so that one failed commit can be reported to every
/// request whose write it carried.
#[derive(Clone)]
pub struct BackendError(pub Arc<dyn StdError + Send + Sync>);

impl BackendError {
    /// Wraps a backend error.
    pub fn new(error: impl StdError + Send + Sync + 'static) -> Self {
        Self(Arc::new(error))
    }
}

impl fmt::Debug for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl StdError for BackendError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.0.source()
    }
}

/// Why a password was refused. The message says why, so that the user can choose another.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PasswordError {
    /// The password is empty.
    #[error("password must not be empty")]
    Empty,
    /// bcrypt only reads 72 bytes; a longer password would be silently truncated.
    #[error(
        "password is {bytes} bytes long; at most 72 bytes (UTF-8) are accepted, since bcrypt ignores the rest"
    )]
    TooLong {
        /// The password's length in bytes.
        bytes: usize,
    },
    /// bcrypt stops at a NUL byte.
    #[error("password must not contain a NUL character")]
    ContainsNul,
    /// Shorter than the policy's minimum.
    #[error("password must be at least {min} characters long")]
    TooShort {
        /// The minimum, in characters.
        min: usize,
    },
    /// On the list of commonly used passwords.
    #[error("password is too common; choose one that is not on lists of common passwords")]
    TooCommon,
    /// The same as the account's email.
    #[error("password must not be the same as the email")]
    SameAsEmail,
}

/// Why an email was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EmailError {
    /// Empty after trimming.
    #[error("email must not be empty")]
    Empty,
    /// Longer than 254 bytes (RFC 5321).
    #[error("email must be at most 254 bytes long")]
    TooLong,
    /// Not of the form `local@domain`.
    #[error("email is not a valid address")]
    Invalid,
}

/// Why an [`Auth`](crate::Auth) operation failed.
///
/// The HTTP layer answers each with the status the contract names: `EmailTaken`,
/// `InvalidEmail`, `InvalidPassword`, `NewPasswordRequired` 400; `SecondFactorRequired`, `WrongSecondFactor` 401;
/// `WrongPassword`, `InvalidSession`, `UnknownEmail`, `InvalidToken`, `EmailNotConfirmed`,
/// `ReauthenticationRequired` 403; `CredentialsChanged`, `SecondFactorEnabled`, `NoSecondFactor` 409; `TotpUnavailable` 404; `Throttled` 429;
/// `Overloaded` 503; `Store` 500. Routes may answer otherwise where the contract says so (an
/// address taken by an email change is 409, a wrong code confirming a factor 400).
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// Registration of an email that has an account (compared by its
    /// [`email_key`](crate::user::email_key): without regard to case or Unicode normalisation).
    #[error("user {0} already exists")]
    EmailTaken(String),
    /// No account has this email.
    #[error("no user with this email")]
    UnknownEmail,
    /// The reset token is unknown, expired, used, superseded or not this email's.
    #[error("invalid or expired reset token")]
    InvalidToken,
    /// The email was refused.
    #[error(transparent)]
    InvalidEmail(#[from] EmailError),
    /// The password was refused by the policy.
    #[error(transparent)]
    InvalidPassword(#[from] PasswordError),
    /// The current password given to change it is wrong.
    #[error("wrong password")]
    WrongPassword,
    /// The session is unknown or has expired.
    #[error("no valid session")]
    InvalidSession,
    /// The password was changed or reset by another request after this one verified it:
    /// nothing was changed (409).
    #[error("the password was changed by another request meanwhile; nothing was changed")]
    CredentialsChanged,
    /// The password is right but the account's email is not confirmed yet (403, no
    /// session).
    #[error("email not confirmed")]
    EmailNotConfirmed,
    /// The confirmation of a contested account (someone else tried to register its address,
    /// [`User::contested`](crate::User::contested)) gave no new password (400): the old one
    /// was chosen before the address was proven.
    #[error("new password required")]
    NewPasswordRequired,
    /// The password is right but the account has a second factor and the login gave no code
    /// (401, no session).
    #[error("second factor required")]
    SecondFactorRequired,
    /// The operation needs a recent authentication: the session is older than the
    /// [re-authentication window](crate::AuthConfig::with_reauth_window) and the request
    /// gave no factors (403 `{"message": "re-authentication required"}`): step up
    /// (`POST /profile/reauth`) or give them.
    #[error("re-authentication required")]
    ReauthenticationRequired,
    /// The one-time code or recovery code is wrong, or was used already (a replayed code).
    #[error("wrong second factor code")]
    WrongSecondFactor,
    /// A second factor is already enabled: remove it before setting up another (409).
    #[error("a second factor is already enabled")]
    SecondFactorEnabled,
    /// No second factor is set up (or pending, to confirm) on this account (409).
    #[error("no second factor is set up")]
    NoSecondFactor,
    /// TOTP is off, or no secret key is configured to seal its secrets: no factor can be set
    /// up (404: the routes are not served).
    #[error("TOTP is off: no secret key is configured")]
    TotpUnavailable,
    /// Too many attempts: retry after the given time (429 with `Retry-After`).
    #[error("too many attempts; retry in {} s", retry_after.as_secs().max(1))]
    Throttled {
        /// How long to wait.
        retry_after: std::time::Duration,
    },
    /// Too many password hashes are queued: shed the request (503).
    #[error("the server is busy hashing passwords; retry later")]
    Overloaded,
    /// The store failed.
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for AuthError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Busy => Self::Overloaded,
            other => Self::Store(other),
        }
    }
}

/// One configuration value that cannot be used, as [`AuthConfig::validate`] reports it.
///
/// [`AuthConfig::validate`]: crate::AuthConfig::validate
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigProblem {
    /// bcrypt accepts costs from 4 to 31.
    #[error("bcrypt cost must be between 4 and 31, got {0}")]
    BcryptCost(u32),
    /// A route path must start with `/` and differ from the other routes' paths.
    #[error("route path {0:?} must start with '/' and be distinct from the others")]
    RoutePath(String),
    /// A route prefix must be empty or start with `/`, and must not end with `/` or hold a
    /// `?`, `#`, whitespace or control character.
    #[error(
        "route prefix {0:?} must start with '/', must not end with '/', and must hold no '?', \
         '#', whitespace or control character"
    )]
    RoutePrefix(String),
    /// A page of the browser form flow ([`Pages`](crate::Pages)) must be a path starting
    /// with one `/` or an `http(s)://` URL, of visible ASCII characters, without a fragment.
    #[error(
        "page {0:?} must be a path starting with one '/' or an http(s):// URL, of visible \
         ASCII characters, without a fragment"
    )]
    PagePath(String),
    /// Not a valid cookie name (RFC 6265 token).
    #[error("invalid cookie name {0:?}")]
    CookieName(String),
    /// A duration or size that must be positive was zero.
    #[error("{0} must be greater than zero")]
    Zero(&'static str),
    /// A duration beyond [`MAX_DURATION`](crate::config::MAX_DURATION) (about a century),
    /// which could not be added to the current time.
    #[error("{0} must be at most 100 years")]
    TooLong(&'static str),
    /// Not an IP address or network (`10.0.0.0/8`, `::1`).
    #[error("invalid trusted proxy {0:?}: expected an IP address or network")]
    TrustedProxy(String),
    /// An allowed origin must be `scheme://host[:port]`.
    #[error("invalid origin {0:?}: expected scheme://host[:port]")]
    Origin(String),
    /// An unknown profile name.
    #[error("unknown profile {0:?}: expected \"seed\" or \"hardened\"")]
    Profile(String),
    /// A cookie name with a prefix that browsers accept only on a cookie with the `Secure`
    /// attribute (`__Host-`, `__Secure-`; matched without regard to case, as RFC 6265bis
    /// does), configured without `Secure`: browsers would drop the cookie.
    #[error(
        "cookie name {name:?} starts with {prefix}, which browsers accept only on a Secure \
         cookie: turn the Secure attribute on or choose another name"
    )]
    CookiePrefixNeedsSecure {
        /// The cookie name.
        name: String,
        /// The prefix, as the standard spells it.
        prefix: &'static str,
    },
    /// The device cookie has the session cookie's name: each would overwrite the other.
    #[error(
        "the device cookie and the session cookie are both named {0:?}: give them different names"
    )]
    CookieNamesClash(String),
    /// A session renewal interval not shorter than the idle timeout: the last activity
    /// would never be written in time, so an active session would end at its idle timeout.
    #[error(
        "session renewal interval ({renewal:?}) must be shorter than the idle timeout \
         ({idle:?}): an active session would still end at its idle timeout"
    )]
    SessionRenewal {
        /// The renewal interval.
        renewal: std::time::Duration,
        /// The idle timeout.
        idle: std::time::Duration,
    },
    /// An after-logout target that is an auth route: the redirect after logout would end on
    /// that route's refusal of a logged-out client.
    #[error(
        "after-logout path {0:?} is an auth route: the redirect after logout would end on an error"
    )]
    AfterLogoutOnRoute(String),
    /// A page of the form flow whose path is an auth route once mounted: the layer answers
    /// that path, so the page could never be shown (a browser sent there would meet the
    /// route's 405).
    #[error(
        "page {0:?} is an auth route once mounted: the layer answers it, so the page could \
         never be shown; give the page another path"
    )]
    PageOnRoute(String),
    /// A trusted proxy network that holds every address (`0.0.0.0/0`, `::/0`): every
    /// `X-Forwarded-For` entry would be a trusted proxy, so no client could ever be found.
    #[error(
        "trusted proxy {0} holds every address, so no client address could ever be found: \
         list your proxies' addresses or networks"
    )]
    TrustsEveryone(String),
}

/// A configuration that cannot be used: every problem found, not only the first.
///
/// ```
/// use tower_user_auth::{AuthConfig, error::ConfigProblem};
///
/// let error = AuthConfig::default()
///     .with_bcrypt_cost(3)
///     .with_cookie_name("a b")
///     .validate()
///     .unwrap_err();
/// assert_eq!(
///     error.problems(),
///     [ConfigProblem::BcryptCost(3), ConfigProblem::CookieName("a b".into())]
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    problems: Vec<ConfigProblem>,
}

impl ConfigError {
    /// An error of these problems; `None` if there are none.
    pub(crate) fn from_problems(problems: Vec<ConfigProblem>) -> Option<Self> {
        (!problems.is_empty()).then_some(Self { problems })
    }

    /// Every problem found, in the order of the configuration's options.
    #[must_use]
    pub fn problems(&self) -> &[ConfigProblem] {
        &self.problems
    }
}

impl From<ConfigProblem> for ConfigError {
    fn from(problem: ConfigProblem) -> Self {
        Self {
            problems: vec![problem],
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid configuration")?;
        if self.problems.len() > 1 {
            write!(f, " ({} problems)", self.problems.len())?;
        }
        for (i, problem) in self.problems.iter().enumerate() {
            f.write_str(if i == 0 { ": " } else { "; " })?;
            problem.fmt(f)?;
        }
        Ok(())
    }
}

impl StdError for ConfigError {}

/// Why [`Auth::open`](crate::Auth::open) failed: the configuration or the database.
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// The configuration has problems; the database was not opened.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The database cannot be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
}
