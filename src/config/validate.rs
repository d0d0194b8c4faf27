//! [`AuthConfig::validate`]: the one step that checks the whole configuration.

use std::time::Duration;

use super::AuthConfig;
use crate::error::{ConfigError, ConfigProblem};

/// bcrypt costs below this are for tests and local demos: accepted with a warning.
const LOWEST_PRODUCTION_COST: u32 = 10;

impl AuthConfig {
    /// Checks the whole configuration and reports every problem at once.
    ///
    /// [`Auth::new`](crate::Auth::new), [`Auth::with_clock`](crate::Auth::with_clock) and
    /// [`Auth::open`](crate::Auth::open) call it; call it yourself to check a configuration
    /// before anything else starts. A valid configuration with a bcrypt cost below 10 is
    /// accepted with a warning in the log.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tower_user_auth::{AuthConfig, error::ConfigProblem};
    ///
    /// let error = AuthConfig::hardened()
    ///     .with_bcrypt_cost(40)
    ///     .with_session_lifetime(Duration::ZERO)
    ///     .with_trusted_proxies(["10.0.0.0/8", "not a network"])
    ///     .validate()
    ///     .unwrap_err();
    /// assert_eq!(error.problems().len(), 3);
    /// assert!(error.problems().contains(&ConfigProblem::Zero("session lifetime")));
    /// println!("{error}"); // invalid configuration (3 problems): bcrypt cost must be ...
    /// ```
    ///
    /// # Errors
    /// A [`ConfigError`] listing every [`ConfigProblem`] found.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        if !(4..=31).contains(&self.bcrypt_cost) {
            problems.push(ConfigProblem::BcryptCost(self.bcrypt_cost));
        }
        for (duration, what) in [
            (self.session_idle_timeout, "session idle timeout"),
            (self.session_lifetime, "session lifetime"),
            (self.reset_token_lifetime, "reset token lifetime"),
            (self.body_timeout, "body timeout"),
        ] {
            if duration == Duration::ZERO {
                problems.push(ConfigProblem::Zero(what));
            }
        }
        if !is_cookie_name(&self.cookie_name) {
            problems.push(ConfigProblem::CookieName(self.cookie_name.clone()));
        }
        problems.extend(self.routes.problems());
        if self.body_limit == 0 {
            problems.push(ConfigProblem::Zero("body limit"));
        }
        if self.hashing_threads == 0 {
            problems.push(ConfigProblem::Zero("hashing threads"));
        }
        problems.extend(
            self.rejected_origins
                .iter()
                .cloned()
                .map(ConfigProblem::Origin),
        );
        problems.extend(
            self.rejected_proxies
                .iter()
                .cloned()
                .map(ConfigProblem::TrustedProxy),
        );
        if let Some(error) = ConfigError::from_problems(problems) {
            return Err(error);
        }
        if self.bcrypt_cost < LOWEST_PRODUCTION_COST {
            tracing::warn!(
                target: "tower_user_auth::config",
                cost = self.bcrypt_cost,
                "bcrypt cost below 10: acceptable only for tests and local demos"
            );
        }
        Ok(())
    }
}

/// Whether `name` is an RFC 6265 token: visible ASCII without separators.
fn is_cookie_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Profile, Routes};

    fn problems(config: &AuthConfig) -> Vec<ConfigProblem> {
        config
            .validate()
            .map_or_else(|e| e.problems().to_vec(), |()| Vec::new())
    }

    #[test]
    fn bad_values_are_refused() {
        assert_eq!(
            problems(&AuthConfig::seed().with_bcrypt_cost(3)),
            [ConfigProblem::BcryptCost(3)]
        );
        assert!(
            AuthConfig::seed()
                .with_cookie_name("a b")
                .validate()
                .is_err()
        );
        assert!(AuthConfig::seed().with_cookie_name("").validate().is_err());
        assert!(
            AuthConfig::seed()
                .with_session_lifetime(Duration::ZERO)
                .validate()
                .is_err()
        );
        let clash = Routes {
            profile: "/users/".into(),
            ..Routes::default()
        };
        assert!(AuthConfig::seed().with_routes(clash).validate().is_err());
        assert!("bogus".parse::<Profile>().is_err());
        assert_eq!("seed".parse::<Profile>(), Ok(Profile::Seed));
    }

    #[test]
    fn the_presets_are_valid() {
        assert_eq!(AuthConfig::seed().validate(), Ok(()));
        assert_eq!(AuthConfig::hardened().validate(), Ok(()));
        assert_eq!(AuthConfig::seed().with_bcrypt_cost(4).validate(), Ok(()));
        assert_eq!(AuthConfig::seed().with_bcrypt_cost(31).validate(), Ok(()));
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let routes = Routes {
            sessions: "sessions".into(),
            after_logout: "home".into(),
            ..Routes::default()
        };
        let config = AuthConfig::hardened()
            .with_bcrypt_cost(32)
            .with_session_idle_timeout(Duration::ZERO)
            .with_session_lifetime(Duration::ZERO)
            .with_reset_token_lifetime(Duration::ZERO)
            .with_cookie_name("a;b")
            .with_routes(routes)
            .with_body_limit(0)
            .with_hashing_pool(0, 4)
            .with_allowed_origins(["https://ok.example", "no-scheme.example"])
            .with_trusted_proxies(["10.0.0.0/8", "10.0.0.0/99"]);
        let error = config.validate().unwrap_err();
        assert_eq!(
            error.problems(),
            [
                ConfigProblem::BcryptCost(32),
                ConfigProblem::Zero("session idle timeout"),
                ConfigProblem::Zero("session lifetime"),
                ConfigProblem::Zero("reset token lifetime"),
                ConfigProblem::CookieName("a;b".into()),
                ConfigProblem::RoutePath("sessions".into()),
                ConfigProblem::RoutePath("home".into()),
                ConfigProblem::Zero("body limit"),
                ConfigProblem::Zero("hashing threads"),
                ConfigProblem::Origin("no-scheme.example".into()),
                ConfigProblem::TrustedProxy("10.0.0.0/99".into()),
            ]
        );
        let message = error.to_string();
        assert!(
            message.starts_with("invalid configuration (11 problems): bcrypt cost"),
            "{message}"
        );
        assert!(
            message.ends_with("expected an IP address or network"),
            "{message}"
        );
        assert_eq!(
            ConfigError::from(ConfigProblem::BcryptCost(3)).to_string(),
            "invalid configuration: bcrypt cost must be between 4 and 31, got 3"
        );
    }
}
