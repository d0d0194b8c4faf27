//! The configuration: one builder, with the hardened profile as its `Default` and the seed
//! profile as a named preset.

use std::{fmt, net::IpAddr, str::FromStr, sync::Arc, time::Duration};

use ipnet::IpNet;

use crate::{
    error::ConfigError, hook::ResetTokenHook, password::PasswordPolicy, throttle::ThrottleConfig,
};

/// A named set of defaults. See the crate docs for what differs between them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Profile {
    /// Secure defaults: the library's `Default`.
    #[default]
    Hardened,
    /// The behaviour of the seed service, for clients written for it: reset tokens in the
    /// response body, short passwords accepted, no `Secure` cookie attribute, sessions kept
    /// across a password reset.
    Seed,
}

impl FromStr for Profile {
    type Err = ConfigError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "hardened" => Ok(Self::Hardened),
            "seed" => Ok(Self::Seed),
            other => Err(ConfigError::Profile(other.to_owned())),
        }
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Hardened => "hardened",
            Self::Seed => "seed",
        })
    }
}

/// Where the auth routes are served. Every path starts with `/`; a trailing slash on a
/// request is accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Routes {
    /// `POST`: register (`/users`).
    pub register: String,
    /// `POST`: log in, `DELETE`: log out, `GET`: list the user's sessions (`/sessions`).
    pub sessions: String,
    /// `DELETE`: end all the user's sessions (`/sessions/all`).
    pub all_sessions: String,
    /// `GET`: the logged-in user's profile (`/profile`).
    pub profile: String,
    /// `PUT`: change the password while logged in (`/profile/password`).
    pub password: String,
    /// `POST`: ask for a reset token, `PUT`: reset the password (`/reset_password`).
    pub reset_password: String,
    /// Where logout redirects (`/`).
    pub after_logout: String,
}

impl Default for Routes {
    fn default() -> Self {
        Self {
            register: "/users".into(),
            sessions: "/sessions".into(),
            all_sessions: "/sessions/all".into(),
            profile: "/profile".into(),
            password: "/profile/password".into(),
            reset_password: "/reset_password".into(),
            after_logout: "/".into(),
        }
    }
}

/// Everything configurable about [`Auth`](crate::Auth) and [`AuthLayer`](crate::AuthLayer).
///
/// ```
/// use std::time::Duration;
/// use tower_user_auth::AuthConfig;
///
/// let config = AuthConfig::seed()
///     .with_bcrypt_cost(10)?
///     .with_session_idle_timeout(Duration::from_secs(3600))?
///     .with_cookie_name("__Host-session_id")?
///     .with_secure_cookie(true);
/// assert_eq!(config.cookie_name(), "__Host-session_id");
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
    pub(crate) max_sessions_per_user: Option<usize>,
    pub(crate) reset_token_lifetime: Duration,
    pub(crate) reset_token_in_response: bool,
    pub(crate) end_sessions_on_reset: bool,
    pub(crate) cookie_name: String,
    pub(crate) secure_cookie: bool,
    pub(crate) routes: Routes,
    pub(crate) registration: bool,
    pub(crate) body_limit: usize,
    pub(crate) hashing_threads: usize,
    pub(crate) hashing_queue: usize,
    pub(crate) throttle: ThrottleConfig,
    pub(crate) reset_hook: Option<Arc<dyn ResetTokenHook>>,
    pub(crate) allowed_origins: Vec<String>,
    pub(crate) trusted_proxies: Vec<IpNet>,
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
            .field("reset_token_lifetime", &self.reset_token_lifetime)
            .field("reset_token_in_response", &self.reset_token_in_response)
            .field("end_sessions_on_reset", &self.end_sessions_on_reset)
            .field("cookie_name", &self.cookie_name)
            .field("secure_cookie", &self.secure_cookie)
            .field("routes", &self.routes)
            .field("registration", &self.registration)
            .field("body_limit", &self.body_limit)
            .field("hashing_threads", &self.hashing_threads)
            .field("hashing_queue", &self.hashing_queue)
            .field("throttle", &self.throttle)
            .field("reset_hook", &self.reset_hook.as_ref().map(|_| "<hook>"))
            .field("allowed_origins", &self.allowed_origins)
            .field("trusted_proxies", &self.trusted_proxies)
            .finish()
    }
}

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
            session_renewal: Duration::from_secs(60),
            max_sessions_per_user: Some(32),
            reset_token_lifetime: Duration::from_secs(60 * 60),
            reset_token_in_response: false,
            end_sessions_on_reset: true,
            cookie_name: "session_id".into(),
            secure_cookie: true,
            routes: Routes::default(),
            registration: true,
            body_limit: 16 * 1024,
            hashing_threads: threads,
            hashing_queue: 16 * threads,
            throttle: ThrottleConfig::default(),
            reset_hook: None,
            allowed_origins: Vec::new(),
            trusted_proxies: Vec::new(),
        }
    }

    /// The seed profile: what the seed service's clients expect.
    pub fn seed() -> Self {
        Self {
            profile: Profile::Seed,
            password_policy: PasswordPolicy::seed(),
            session_idle_timeout: Duration::from_secs(14 * 24 * 60 * 60),
            session_lifetime: Duration::from_secs(30 * 24 * 60 * 60),
            max_sessions_per_user: None,
            reset_token_in_response: true,
            end_sessions_on_reset: false,
            secure_cookie: false,
            ..Self::hardened()
        }
    }

    /// The preset of a profile.
    pub fn for_profile(profile: Profile) -> Self {
        match profile {
            Profile::Hardened => Self::hardened(),
            Profile::Seed => Self::seed(),
        }
    }

    /// The profile this configuration started from.
    #[must_use]
    pub fn profile(&self) -> Profile {
        self.profile
    }

    /// bcrypt cost for new hashes (default 12). Costs below 10 are for tests and local demos:
    /// they are accepted with a warning in the log.
    ///
    /// # Errors
    /// [`ConfigError::BcryptCost`] outside 4..=31.
    pub fn with_bcrypt_cost(mut self, cost: u32) -> Result<Self, ConfigError> {
        if !(4..=31).contains(&cost) {
            return Err(ConfigError::BcryptCost(cost));
        }
        if cost < 10 {
            tracing::warn!(
                cost,
                "bcrypt cost below 10: acceptable only for tests and local demos"
            );
        }
        self.bcrypt_cost = cost;
        Ok(self)
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

    /// A session not used for this long ends (default 30 minutes hardened, 14 days seed).
    ///
    /// # Errors
    /// [`ConfigError::Zero`] for a zero duration.
    pub fn with_session_idle_timeout(mut self, timeout: Duration) -> Result<Self, ConfigError> {
        self.session_idle_timeout = non_zero(timeout, "session idle timeout")?;
        Ok(self)
    }

    /// A session ends this long after login whatever its activity (default 12 hours
    /// hardened, 30 days seed).
    ///
    /// # Errors
    /// [`ConfigError::Zero`] for a zero duration.
    pub fn with_session_lifetime(mut self, lifetime: Duration) -> Result<Self, ConfigError> {
        self.session_lifetime = non_zero(lifetime, "session lifetime")?;
        Ok(self)
    }

    /// A session's last activity is written at most once per this interval (default 60 s),
    /// so the idle timeout is enforced to within it and reads do not write.
    pub fn with_session_renewal(mut self, interval: Duration) -> Self {
        self.session_renewal = interval;
        self
    }

    /// At most this many sessions per user; a login beyond it ends the oldest (`None`: no
    /// cap; default 32 hardened, none seed).
    pub fn with_max_sessions_per_user(mut self, max: Option<usize>) -> Self {
        self.max_sessions_per_user = max.map(|m| m.max(1));
        self
    }

    /// A reset token works for this long (default one hour).
    ///
    /// # Errors
    /// [`ConfigError::Zero`] for a zero duration.
    pub fn with_reset_token_lifetime(mut self, lifetime: Duration) -> Result<Self, ConfigError> {
        self.reset_token_lifetime = non_zero(lifetime, "reset token lifetime")?;
        Ok(self)
    }

    /// Whether `POST /reset_password` returns the token in its body, as the seed did (seed:
    /// on; hardened: off).
    pub fn with_reset_token_in_response(mut self, on: bool) -> Self {
        self.reset_token_in_response = on;
        self
    }

    /// Whether a password reset ends all the user's sessions (hardened: on; seed: off).
    pub fn with_end_sessions_on_reset(mut self, on: bool) -> Self {
        self.end_sessions_on_reset = on;
        self
    }

    /// The session cookie's name (default `session_id`); `__Host-` names need
    /// [`with_secure_cookie(true)`](Self::with_secure_cookie).
    ///
    /// # Errors
    /// [`ConfigError::CookieName`] if it is not an RFC 6265 token.
    pub fn with_cookie_name(mut self, name: impl Into<String>) -> Result<Self, ConfigError> {
        let name = name.into();
        let valid = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b));
        if !valid {
            return Err(ConfigError::CookieName(name));
        }
        self.cookie_name = name;
        Ok(self)
    }

    /// The session cookie's name.
    #[must_use]
    pub fn cookie_name(&self) -> &str {
        &self.cookie_name
    }

    /// Whether the cookie carries `Secure` (hardened: on; seed: off, for plain http on
    /// localhost).
    pub fn with_secure_cookie(mut self, on: bool) -> Self {
        self.secure_cookie = on;
        self
    }

    /// Where the auth routes are served.
    ///
    /// # Errors
    /// [`ConfigError::RoutePath`] if a path does not start with `/` or two routes share one.
    pub fn with_routes(mut self, routes: Routes) -> Result<Self, ConfigError> {
        let paths = [
            &routes.register,
            &routes.sessions,
            &routes.all_sessions,
            &routes.profile,
            &routes.password,
            &routes.reset_password,
        ];
        for (i, p) in paths.iter().enumerate() {
            let clash = paths[..i]
                .iter()
                .any(|q| q.trim_end_matches('/') == p.trim_end_matches('/'));
            if !p.starts_with('/') || clash {
                return Err(ConfigError::RoutePath((*p).clone()));
            }
        }
        if !routes.after_logout.starts_with('/') {
            return Err(ConfigError::RoutePath(routes.after_logout));
        }
        self.routes = routes;
        Ok(self)
    }

    /// Where the auth routes are served.
    #[must_use]
    pub fn routes(&self) -> &Routes {
        &self.routes
    }

    /// Whether `POST /users` registers (on by default); off, it answers 403.
    pub fn with_registration(mut self, on: bool) -> Self {
        self.registration = on;
        self
    }

    /// Request bodies on auth routes above this many bytes are refused with 413 before
    /// parsing (default 16 KiB).
    ///
    /// # Errors
    /// [`ConfigError::Zero`] for zero.
    pub fn with_body_limit(mut self, bytes: usize) -> Result<Self, ConfigError> {
        if bytes == 0 {
            return Err(ConfigError::Zero("body limit"));
        }
        self.body_limit = bytes;
        Ok(self)
    }

    /// bcrypt runs on this many dedicated threads (default: the available cores), with at
    /// most `queue` hashes waiting; beyond that, requests that need a hash get 503.
    ///
    /// # Errors
    /// [`ConfigError::Zero`] for zero threads.
    pub fn with_hashing_pool(mut self, threads: usize, queue: usize) -> Result<Self, ConfigError> {
        if threads == 0 {
            return Err(ConfigError::Zero("hashing threads"));
        }
        self.hashing_threads = threads;
        self.hashing_queue = queue;
        Ok(self)
    }
}

impl AuthConfig {
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

    /// The hook that delivers reset tokens (an e-mail sender). Without one, in the hardened
    /// profile a token is stored but reaches nobody: configure one.
    pub fn with_reset_token_hook(mut self, hook: impl ResetTokenHook) -> Self {
        self.reset_hook = Some(Arc::new(hook));
        self
    }

    /// Origins besides the request's own that may send state-changing requests
    /// (`https://app.example.com`), compared without regard to case.
    ///
    /// # Errors
    /// [`ConfigError::Origin`] for a value that is not `scheme://host[:port]`.
    pub fn with_allowed_origins<I, T>(mut self, origins: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = T>,
        T: Into<String>,
    {
        let mut list = Vec::new();
        for origin in origins {
            let origin: String = origin.into();
            let origin = origin.trim().trim_end_matches('/').to_ascii_lowercase();
            let valid = origin.split_once("://").is_some_and(|(scheme, host)| {
                !scheme.is_empty() && !host.is_empty() && !host.contains('/')
            });
            if !valid {
                return Err(ConfigError::Origin(origin));
            }
            list.push(origin);
        }
        self.allowed_origins = list;
        Ok(self)
    }

    /// Proxies whose `X-Forwarded-For` is believed: when the peer address is one of these
    /// (an address or a network such as `10.0.0.0/8`), the client address is the rightmost
    /// address of `X-Forwarded-For` that is not a trusted proxy. By default none is trusted
    /// and the peer address is the client.
    ///
    /// # Errors
    /// [`ConfigError::TrustedProxy`] for a value that is neither an address nor a network.
    pub fn with_trusted_proxies<I, T>(mut self, proxies: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<str>,
    {
        let mut list = Vec::new();
        for p in proxies {
            let p = p.as_ref().trim();
            let net = p
                .parse::<IpNet>()
                .or_else(|_| p.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| ConfigError::TrustedProxy(p.to_owned()))?;
            list.push(net);
        }
        self.trusted_proxies = list;
        Ok(self)
    }
}

fn non_zero(d: Duration, what: &'static str) -> Result<Duration, ConfigError> {
    if d.is_zero() {
        Err(ConfigError::Zero(what))
    } else {
        Ok(d)
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
        assert_eq!(c.password_policy.min_chars, 12);
    }

    #[test]
    fn seed_preset_matches_the_contract() {
        let c = AuthConfig::seed();
        assert!(!c.secure_cookie);
        assert!(c.reset_token_in_response);
        assert!(!c.end_sessions_on_reset);
        assert_eq!(c.cookie_name(), "session_id");
        assert_eq!(c.bcrypt_cost(), 12);
    }

    #[test]
    fn bad_values_are_refused() {
        assert_eq!(
            AuthConfig::seed().with_bcrypt_cost(3).unwrap_err(),
            ConfigError::BcryptCost(3)
        );
        assert!(AuthConfig::seed().with_cookie_name("a b").is_err());
        assert!(AuthConfig::seed().with_cookie_name("").is_err());
        assert!(
            AuthConfig::seed()
                .with_session_lifetime(Duration::ZERO)
                .is_err()
        );
        let clash = Routes {
            profile: "/users/".into(),
            ..Routes::default()
        };
        assert!(AuthConfig::seed().with_routes(clash).is_err());
        assert!("bogus".parse::<Profile>().is_err());
        assert_eq!("seed".parse::<Profile>(), Ok(Profile::Seed));
    }
}
