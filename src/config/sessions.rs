//! The session settings: how long a session lives, idle and in all, how often its activity
//! is written, how many a user may hold, and how long it counts as freshly authenticated.

use std::time::Duration;

use super::{AuthConfig, DEFAULT_RENEWAL};

impl AuthConfig {
    /// A session not used for this long ends (default 30 minutes hardened, 14 days in the
    /// compatibility profile; validation refuses zero).
    pub fn with_session_idle_timeout(mut self, timeout: Duration) -> Self {
        self.session_idle_timeout = timeout;
        if !self.session_renewal_set {
            self.session_renewal = DEFAULT_RENEWAL.min(timeout / 2);
        }
        self
    }

    /// How long an unused session lives.
    #[must_use]
    pub fn session_idle_timeout(&self) -> Duration {
        self.session_idle_timeout
    }

    /// A session ends this long after login whatever its activity (default 12 hours
    /// hardened, 30 days in the compatibility profile; validation refuses zero).
    pub fn with_session_lifetime(mut self, lifetime: Duration) -> Self {
        self.session_lifetime = lifetime;
        self
    }

    /// How long a session lives whatever its activity.
    #[must_use]
    pub fn session_lifetime(&self) -> Duration {
        self.session_lifetime
    }

    /// A session's last activity is written at most once per this interval (default 60 s,
    /// or half the idle timeout if that is shorter), so the idle timeout is enforced to
    /// within it and reads do not write; validation requires it shorter than the idle
    /// timeout.
    pub fn with_session_renewal(mut self, interval: Duration) -> Self {
        self.session_renewal = interval;
        self.session_renewal_set = true;
        self
    }

    /// How often at most a session's last activity is written.
    #[must_use]
    pub fn session_renewal(&self) -> Duration {
        self.session_renewal
    }

    /// At most this many sessions per user; a login beyond it ends the oldest (`None`: no
    /// cap; default 32 hardened, none in the compatibility profile).
    pub fn with_max_sessions_per_user(mut self, max: Option<usize>) -> Self {
        self.max_sessions_per_user = max.map(|m| m.max(1));
        self
    }

    /// The cap on sessions per user (`None`: none).
    #[must_use]
    pub fn max_sessions_per_user(&self) -> Option<usize> {
        self.max_sessions_per_user
    }

    /// A session counts as freshly authenticated for this long after the login that
    /// started it, or after the step-up (`POST /profile/reauth`, [`Auth::step_up`]) that
    /// renewed it (default [`DEFAULT_REAUTH_WINDOW`](super::DEFAULT_REAUTH_WINDOW), five minutes, in both profiles; zero:
    /// never, every sensitive operation asks for the factors; validation refuses more than
    /// [`MAX_DURATION`](super::MAX_DURATION)). Within it, a password or email change of an account with a second
    /// factor needs no code, [`Auth::require_recent_authentication`] and
    /// [`RequireRecentAuth`](crate::RequireRecentAuth) let the session through.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tower_user_auth::AuthConfig;
    ///
    /// let config = AuthConfig::hardened().with_reauth_window(Duration::from_secs(600));
    /// assert_eq!(config.reauth_window(), Duration::from_secs(600));
    /// assert_eq!(AuthConfig::compat().reauth_window(), Duration::from_secs(300));
    /// ```
    ///
    /// [`Auth::step_up`]: crate::Auth::step_up
    /// [`Auth::require_recent_authentication`]: crate::Auth::require_recent_authentication
    pub fn with_reauth_window(mut self, window: Duration) -> Self {
        self.reauth_window = window;
        self
    }

    /// The re-authentication window: see [`with_reauth_window`](Self::with_reauth_window).
    #[must_use]
    pub fn reauth_window(&self) -> Duration {
        self.reauth_window
    }
}
