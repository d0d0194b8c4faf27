//! The password reset settings: how long a token works, where it goes, what a reset ends.

use std::time::Duration;

use super::AuthConfig;

impl AuthConfig {
    /// A reset token works for this long (default one hour; validation refuses zero).
    pub fn with_reset_token_lifetime(mut self, lifetime: Duration) -> Self {
        self.reset_token_lifetime = lifetime;
        self
    }

    /// How long a reset token works.
    #[must_use]
    pub fn reset_token_lifetime(&self) -> Duration {
        self.reset_token_lifetime
    }

    /// Whether `POST /reset_password` returns the token in its body (compatibility profile:
    /// on; hardened: off, the token goes to the [mailer](Self::with_mailer) only).
    pub fn with_reset_token_in_response(mut self, on: bool) -> Self {
        self.reset_token_in_response = on;
        self
    }

    /// Whether `POST /reset_password` returns the token in its body.
    #[must_use]
    pub fn reset_token_in_response(&self) -> bool {
        self.reset_token_in_response
    }

    /// Whether a password reset ends all the user's sessions (hardened: on; compatibility
    /// profile: off).
    ///
    /// ```
    /// use tower_user_auth::AuthConfig;
    ///
    /// assert!(AuthConfig::hardened().end_sessions_on_reset());
    /// assert!(!AuthConfig::compat().end_sessions_on_reset());
    /// assert!(AuthConfig::compat().reset_token_in_response());
    /// ```
    pub fn with_end_sessions_on_reset(mut self, on: bool) -> Self {
        self.end_sessions_on_reset = on;
        self
    }

    /// Whether a password reset ends all the user's sessions.
    #[must_use]
    pub fn end_sessions_on_reset(&self) -> bool {
        self.end_sessions_on_reset
    }
}
