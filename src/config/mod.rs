//! The configuration: one builder, [`AuthConfig`], with the hardened profile as its `Default`
//! and the compatibility profile ([`AuthConfig::compat`]) as a named preset.
//!
//! Every builder of the crate ([`AuthConfig`], [`ThrottleConfig`], [`PasswordPolicy`], the
//! store builders, the [server](crate::serve::Server)) follows one convention: `with_*`
//! setters that consume and return `Self` and never fail, a getter named for the value
//! (`with_session_idle_timeout` sets what `session_idle_timeout()` reads), and one step that
//! checks the whole: [`AuthConfig::validate`] (run by [`Auth::new`](crate::Auth::new) and
//! [`Auth::open`](crate::Auth::open)), or the store's constructor, with errors that name the
//! option.

mod account;
mod cookies;
mod hsts;
mod mail;
mod origins;
mod pages;
mod profile;
mod proxies;
mod reset;
mod routes;
mod sessions;
mod validate;
mod warning;

use std::{fmt, time::Duration};

use ipnet::IpNet;

pub use self::{
    account::{DEFAULT_UNCONFIRMED_LIFETIME, SecretKey, SecretKeyError},
    pages::Pages,
    profile::Profile,
    routes::Routes,
    validate::MAX_DURATION,
    warning::ConfigWarning,
};
use crate::{
    password::{HashingPriority, PasswordPolicy},
    throttle::ThrottleConfig,
};

/// Everything configurable about [`Auth`](crate::Auth) and [`AuthLayer`](crate::AuthLayer).
///
/// Start from a profile ([`AuthConfig::hardened`], also `Default`, or the compatibility
/// preset [`AuthConfig::compat`]) and change what you need with the `with_*` setters. The
/// setters never fail: [`AuthConfig::validate`] checks the whole configuration at once and
/// reports every problem in one [`ConfigError`](crate::ConfigError). [`Auth::new`](crate::Auth::new),
/// [`Auth::with_clock`](crate::Auth::with_clock) and [`Auth::open`](crate::Auth::open) run it,
/// so an invalid configuration never reaches a running service.
///
/// Validating once, rather than in each setter, is a deliberate choice (fallible setters,
/// as many tower crates have, see one value at a time): one step that sees the whole
/// configuration can check values that only make sense together, and a deployment with
/// several mistakes hears of all of them in one run.
///
/// ```
/// use std::time::Duration;
/// use tower_user_auth::AuthConfig;
///
/// let config = AuthConfig::hardened()
///     .with_bcrypt_cost(10)
///     .with_session_idle_timeout(Duration::from_secs(3600))
///     .with_cookie_name("__Host-session_id");
/// config.validate()?;
/// assert_eq!(config.cookie_name(), "__Host-session_id");
/// assert_eq!(config.session_idle_timeout(), Duration::from_secs(3600));
/// # Ok::<(), tower_user_auth::ConfigError>(())
/// ```
#[derive(Clone)]
#[must_use]
pub struct AuthConfig {
    pub(crate) profile: Profile,
    pub(crate) bcrypt_cost: u32,
    pub(crate) password_policy: PasswordPolicy,
    pub(crate) session_idle_timeout: Duration,
    pub(crate) session_lifetime: Duration,
    pub(crate) session_renewal: Duration,
    /// Whether [`with_session_renewal`](Self::with_session_renewal) set the renewal interval;
    /// if not, it follows the idle timeout.
    pub(crate) session_renewal_set: bool,
    pub(crate) max_sessions_per_user: Option<usize>,
    /// How long after its authentication a session counts as fresh (re-authenticated).
    pub(crate) reauth_window: Duration,
    pub(crate) reset_token_lifetime: Duration,
    pub(crate) reset_token_in_response: bool,
    pub(crate) end_sessions_on_reset: bool,
    pub(crate) cookie_name: String,
    pub(crate) secure_cookie: bool,
    /// `Strict-Transport-Security`, sent where the cookie is `Secure`.
    pub(crate) hsts: hsts::Hsts,
    pub(crate) device_cookie: bool,
    pub(crate) device_cookie_name: String,
    pub(crate) routes: Routes,
    /// The path every auth route is mounted under (`""`: none).
    pub(crate) route_prefix: String,
    /// The app's pages the browser form flow redirects to.
    pub(crate) pages: Pages,
    /// The routes under the prefix ([`Routes::mounted_under`]), computed by the setters of
    /// the routes and of the prefix.
    pub(crate) mounted: Routes,
    pub(crate) registration: bool,
    pub(crate) body_limit: usize,
    pub(crate) body_timeout: Duration,
    pub(crate) hashing_threads: usize,
    pub(crate) hashing_queue: usize,
    pub(crate) hashing_priority: HashingPriority,
    pub(crate) throttle: ThrottleConfig,
    /// Where the messages for an account's owner go.
    pub(crate) mailers: mail::Mailers,
    /// Email confirmation, TOTP, email change, account deletion.
    pub(crate) account: account::AccountFeatures,
    /// The allowed origins, normalised (trimmed, lowercased, no trailing `/`).
    pub(crate) allowed_origins: Vec<String>,
    /// Values given as origins that are not `scheme://host[:port]`, for validation.
    pub(crate) rejected_origins: Vec<String>,
    pub(crate) trusted_proxies: Vec<IpNet>,
    /// Values given as trusted proxies that are neither an address nor a network, for
    /// validation.
    pub(crate) rejected_proxies: Vec<String>,
}

impl fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthConfig")
            .field("profile", &self.profile)
            .field("bcrypt_cost", &self.bcrypt_cost)
            .field("password_policy", &self.password_policy)
            .field("session_idle_timeout", &self.session_idle_timeout)
            .field("session_lifetime", &self.session_lifetime)
            .field("session_renewal", &self.session_renewal)
            .field("max_sessions_per_user", &self.max_sessions_per_user)
            .field("reauth_window", &self.reauth_window)
            .field("reset_token_lifetime", &self.reset_token_lifetime)
            .field("reset_token_in_response", &self.reset_token_in_response)
            .field("end_sessions_on_reset", &self.end_sessions_on_reset)
            .field("cookie_name", &self.cookie_name)
            .field("secure_cookie", &self.secure_cookie)
            .field("hsts", &self.hsts)
            .field("device_cookie", &self.device_cookie)
            .field("device_cookie_name", &self.device_cookie_name)
            .field("routes", &self.routes)
            .field("route_prefix", &self.route_prefix)
            .field("pages", &self.pages)
            .field("registration", &self.registration)
            .field("body_limit", &self.body_limit)
            .field("body_timeout", &self.body_timeout)
            .field("hashing_threads", &self.hashing_threads)
            .field("hashing_queue", &self.hashing_queue)
            .field("hashing_priority", &self.hashing_priority)
            .field("throttle", &self.throttle)
            .field("mailers", &self.mailers)
            .field("account", &self.account)
            .field("allowed_origins", &self.allowed_origins)
            .field("rejected_origins", &self.rejected_origins)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("rejected_proxies", &self.rejected_proxies)
            .finish()
    }
}

/// The default re-authentication window: five minutes.
pub const DEFAULT_REAUTH_WINDOW: Duration = Duration::from_secs(300);

/// The default session renewal interval, unless half the idle timeout is shorter.
const DEFAULT_RENEWAL: Duration = Duration::from_secs(60);

impl Default for AuthConfig {
    fn default() -> Self {
        Self::hardened()
    }
}

impl AuthConfig {
    /// The hardened profile (also `AuthConfig::default()`).
    pub fn hardened() -> Self {
        let threads = std::thread::available_parallelism().map_or(1, usize::from);
        Self {
            profile: Profile::Hardened,
            bcrypt_cost: bcrypt::DEFAULT_COST,
            password_policy: PasswordPolicy::hardened(),
            session_idle_timeout: Duration::from_secs(30 * 60),
            session_lifetime: Duration::from_secs(12 * 60 * 60),
            session_renewal: DEFAULT_RENEWAL,
            session_renewal_set: false,
            max_sessions_per_user: Some(32),
            reauth_window: DEFAULT_REAUTH_WINDOW,
            reset_token_lifetime: Duration::from_secs(60 * 60),
            reset_token_in_response: false,
            end_sessions_on_reset: true,
            cookie_name: "session_id".into(),
            secure_cookie: true,
            hsts: hsts::Hsts::year(),
            device_cookie: true,
            device_cookie_name: "device".into(),
            routes: Routes::default(),
            pages: Pages::default(),
            route_prefix: String::new(),
            mounted: Routes::default().mounted_under(""),
            registration: true,
            body_limit: 16 * 1024,
            body_timeout: Duration::from_secs(30),
            hashing_threads: threads,
            hashing_queue: 16 * threads,
            hashing_priority: HashingPriority::Idle,
            throttle: ThrottleConfig::default(),
            mailers: mail::Mailers::default(),
            account: account::AccountFeatures::hardened(),
            allowed_origins: Vec::new(),
            rejected_origins: Vec::new(),
            trusted_proxies: Vec::new(),
            rejected_proxies: Vec::new(),
        }
    }

    /// The compatibility profile ([`Profile::Compat`]): what clients of the service this
    /// crate re-creates (the seed) expect. Reset tokens come back in the answer, any
    /// non-empty password is accepted, the cookie has no `Secure` attribute, sessions last
    /// 14 days idle and 30 in all, a password reset keeps them, and no device cookie is set.
    pub fn compat() -> Self {
        Self {
            profile: Profile::Compat,
            password_policy: PasswordPolicy::compat(),
            session_idle_timeout: Duration::from_secs(14 * 24 * 60 * 60),
            session_lifetime: Duration::from_secs(30 * 24 * 60 * 60),
            max_sessions_per_user: None,
            reset_token_in_response: true,
            end_sessions_on_reset: false,
            secure_cookie: false,
            device_cookie: false,
            account: account::AccountFeatures::compat(),
            ..Self::hardened()
        }
    }

    /// The compatibility profile.
    #[deprecated(since = "0.2.0", note = "renamed to `AuthConfig::compat`")]
    pub fn seed() -> Self {
        Self::compat()
    }

    /// The preset of a profile.
    pub fn for_profile(profile: Profile) -> Self {
        match profile {
            Profile::Hardened => Self::hardened(),
            Profile::Compat => Self::compat(),
        }
    }

    /// The profile this configuration started from.
    #[must_use]
    pub fn profile(&self) -> Profile {
        self.profile
    }

    /// bcrypt cost for new hashes (default 12; validation accepts 4..=31). Costs below 10
    /// are for tests and local demos: validation accepts them with a warning in the log.
    pub fn with_bcrypt_cost(mut self, cost: u32) -> Self {
        self.bcrypt_cost = cost;
        self
    }

    /// The bcrypt cost.
    #[must_use]
    pub fn bcrypt_cost(&self) -> u32 {
        self.bcrypt_cost
    }

    /// The rules for new passwords.
    pub fn with_password_policy(mut self, policy: PasswordPolicy) -> Self {
        self.password_policy = policy;
        self
    }

    /// The rules for new passwords.
    #[must_use]
    pub fn password_policy(&self) -> &PasswordPolicy {
        &self.password_policy
    }

    /// Whether `POST /users` registers (on by default); off, it answers 403.
    pub fn with_registration(mut self, on: bool) -> Self {
        self.registration = on;
        self
    }

    /// Whether `POST /users` registers.
    #[must_use]
    pub fn registration(&self) -> bool {
        self.registration
    }

    /// Request bodies on auth routes above this many bytes are refused with 413 before
    /// parsing (default 16 KiB; validation refuses zero).
    pub fn with_body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    /// The largest request body an auth route reads, in bytes.
    #[must_use]
    pub fn body_limit(&self) -> usize {
        self.body_limit
    }

    /// A request body on an auth route must arrive whole within this time, or the layer
    /// answers 408 with a JSON message (default 30 s; validation refuses zero). The server in
    /// front bounds the wait for the headers (see `serve`); this bounds the body, whatever
    /// the server. The timer is Tokio's: the runtime must have time enabled (as
    /// `#[tokio::main]` has).
    pub fn with_body_timeout(mut self, timeout: Duration) -> Self {
        self.body_timeout = timeout;
        self
    }

    /// How long a request body on an auth route may take to arrive.
    #[must_use]
    pub fn body_timeout(&self) -> Duration {
        self.body_timeout
    }

    /// bcrypt runs on this many dedicated threads (default: the available cores; validation
    /// refuses zero), with at most `queue` hashes waiting; beyond that, requests that need a
    /// hash get 503.
    pub fn with_hashing_pool(mut self, threads: usize, queue: usize) -> Self {
        self.hashing_threads = threads;
        self.hashing_queue = queue;
        self
    }

    /// The bcrypt threads.
    #[must_use]
    pub fn hashing_threads(&self) -> usize {
        self.hashing_threads
    }

    /// The hashes that may wait for a bcrypt thread.
    #[must_use]
    pub fn hashing_queue(&self) -> usize {
        self.hashing_queue
    }

    /// How the bcrypt threads are scheduled against the app's: [`HashingPriority::Idle`]
    /// (the default: the app keeps its throughput in a login storm, logins wait),
    /// [`HashingPriority::Low`] (nice 19: logins keep a small share of a busy core) or
    /// [`HashingPriority::Normal`] (logins keep their speed, other requests slow down).
    ///
    /// ```
    /// use tower_user_auth::{AuthConfig, password::HashingPriority};
    ///
    /// let config = AuthConfig::hardened().with_hashing_priority(HashingPriority::Low);
    /// assert_eq!(config.hashing_priority(), HashingPriority::Low);
    /// ```
    pub fn with_hashing_priority(mut self, priority: HashingPriority) -> Self {
        self.hashing_priority = priority;
        self
    }

    /// How the bcrypt threads are scheduled.
    #[must_use]
    pub fn hashing_priority(&self) -> HashingPriority {
        self.hashing_priority
    }

    /// Limits on failed attempts and request rates (on by default in both profiles).
    pub fn with_throttle(mut self, throttle: ThrottleConfig) -> Self {
        self.throttle = throttle;
        self
    }

    /// The throttling limits.
    #[must_use]
    pub fn throttle(&self) -> &ThrottleConfig {
        &self.throttle
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_hardened() {
        let c = AuthConfig::default();
        assert_eq!(c.profile(), Profile::Hardened);
        assert!(c.secure_cookie);
        assert!(!c.reset_token_in_response);
        assert_eq!(c.password_policy.min_chars(), 12);
    }

    #[test]
    fn compat_preset_matches_the_contract() {
        let c = AuthConfig::compat();
        assert!(!c.secure_cookie);
        assert!(c.reset_token_in_response);
        assert!(!c.end_sessions_on_reset);
        assert_eq!(c.cookie_name(), "session_id");
        assert_eq!(c.bcrypt_cost(), 12);
    }

    #[test]
    fn the_default_renewal_follows_a_short_idle_timeout() {
        let secs = Duration::from_secs;
        let short = AuthConfig::compat().with_session_idle_timeout(secs(2));
        assert_eq!(short.session_renewal, secs(1));
        assert_eq!(short.validate(), Ok(()));
        assert_eq!(AuthConfig::hardened().session_renewal, secs(60));
        // Set, it stays, whichever setter comes first.
        for config in [
            AuthConfig::compat()
                .with_session_renewal(secs(90))
                .with_session_idle_timeout(secs(2)),
            AuthConfig::compat()
                .with_session_idle_timeout(secs(2))
                .with_session_renewal(secs(90)),
        ] {
            assert_eq!(config.session_renewal, secs(90));
            assert!(config.validate().is_err());
        }
    }

    #[test]
    fn a_later_list_replaces_an_earlier_one() {
        let c = AuthConfig::compat()
            .with_trusted_proxies(["bogus"])
            .with_trusted_proxies(["10.0.0.0/8", "::1"])
            .with_allowed_origins(["nope"])
            .with_allowed_origins([" HTTPS://App.Example.com/ "]);
        assert_eq!(c.trusted_proxies.len(), 2);
        assert_eq!(c.allowed_origins, ["https://app.example.com"]);
        assert_eq!(c.validate(), Ok(()));
    }
}
