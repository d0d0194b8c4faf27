//! [`AuthConfig::validate`]: the one step that checks the whole configuration.

use std::time::Duration;

use super::AuthConfig;
use crate::error::{ConfigError, ConfigProblem};

/// The longest duration a setting may have (100 years): any longer could not be added to the
/// current time, and means "never" in practice anyway.
pub const MAX_DURATION: Duration = Duration::from_secs(100 * 365 * 24 * 60 * 60);

/// Cookie name prefixes that browsers accept only on a `Secure` cookie (RFC 6265bis,
/// section 4.1.3), matched without regard to case. `__Host-` also requires `Path=/` and no
/// `Domain`, which this crate's cookie always has (its path is not configurable).
const SECURE_ONLY_PREFIXES: [&str; 2] = ["__Secure-", "__Host-"];

impl AuthConfig {
    /// Checks the whole configuration and reports every problem at once.
    ///
    /// [`Auth::new`](crate::Auth::new), [`Auth::with_clock`](crate::Auth::with_clock) and
    /// [`Auth::open`](crate::Auth::open) call it; call it yourself to check a configuration
    /// before anything else starts. Besides values that are wrong in themselves, it refuses
    /// values that cannot work together: a `__Host-` or `__Secure-` cookie name without
    /// `Secure`, a session renewal interval not shorter than the idle timeout, an
    /// after-logout target that is an auth route, a trusted proxy network of every address.
    /// A valid configuration that is merely risky (see [`warnings`](Self::warnings), such as
    /// a bcrypt cost below 10) is accepted with a warning in the log.
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
            (self.account.email_token_lifetime, "email token lifetime"),
            (self.account.unconfirmed_lifetime, "unconfirmed lifetime"),
            (self.body_timeout, "body timeout"),
        ] {
            if duration == Duration::ZERO {
                problems.push(ConfigProblem::Zero(what));
            } else if duration > MAX_DURATION {
                problems.push(ConfigProblem::TooLong(what));
            }
        }
        // Zero is a window: no session is ever fresh.
        if self.reauth_window > MAX_DURATION {
            problems.push(ConfigProblem::TooLong("re-authentication window"));
        }
        if !self.session_idle_timeout.is_zero() && self.session_renewal >= self.session_idle_timeout
        {
            problems.push(ConfigProblem::SessionRenewal {
                renewal: self.session_renewal,
                idle: self.session_idle_timeout,
            });
        }
        for name in [&self.cookie_name, &self.device_cookie_name] {
            if !is_cookie_name(name) {
                problems.push(ConfigProblem::CookieName(name.clone()));
            }
            problems.extend(self.cookie_prefix_problem(name));
        }
        if self.device_cookie_name == self.cookie_name {
            problems.push(ConfigProblem::CookieNamesClash(self.cookie_name.clone()));
        }
        problems.extend(self.route_problems());
        problems.extend(self.page_problems());
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
        problems.extend(
            self.trusted_proxies
                .iter()
                .filter(|net| net.prefix_len() == 0)
                .map(|net| ConfigProblem::TrustsEveryone(net.to_string())),
        );
        if let Some(error) = ConfigError::from_problems(problems) {
            return Err(error);
        }
        for warning in self.warnings() {
            tracing::warn!(target: "tower_user_auth::config", "{warning}");
        }
        Ok(())
    }

    /// A cookie name that browsers accept only with `Secure`, on a cookie without it (both
    /// cookies have `Secure` as configured).
    fn cookie_prefix_problem(&self, cookie_name: &str) -> Option<ConfigProblem> {
        if self.secure_cookie {
            return None;
        }
        let name = cookie_name.as_bytes();
        let prefix = SECURE_ONLY_PREFIXES.into_iter().find(|prefix| {
            name.get(..prefix.len())
                .is_some_and(|start| start.eq_ignore_ascii_case(prefix.as_bytes()))
        })?;
        Some(ConfigProblem::CookiePrefixNeedsSecure {
            name: cookie_name.to_owned(),
            prefix,
        })
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
    fn durations_beyond_a_century_are_refused() {
        let huge = Duration::from_secs(u64::MAX);
        let config = AuthConfig::hardened()
            .with_session_lifetime(huge)
            .with_session_idle_timeout(huge)
            .with_reset_token_lifetime(huge)
            .with_email_token_lifetime(huge)
            .with_unconfirmed_lifetime(huge)
            .with_body_timeout(huge);
        let problems = config.validate().expect_err("refused").problems().to_vec();
        for what in [
            "session idle timeout",
            "session lifetime",
            "reset token lifetime",
            "email token lifetime",
            "unconfirmed lifetime",
            "body timeout",
        ] {
            assert!(
                problems.contains(&ConfigProblem::TooLong(what)),
                "{what}: {problems:?}"
            );
        }
        let century = AuthConfig::hardened().with_session_lifetime(MAX_DURATION);
        assert!(century.validate().is_ok());
    }

    #[test]
    fn bad_values_are_refused() {
        assert_eq!(
            problems(&AuthConfig::compat().with_bcrypt_cost(3)),
            [ConfigProblem::BcryptCost(3)]
        );
        assert!(
            AuthConfig::compat()
                .with_cookie_name("a b")
                .validate()
                .is_err()
        );
        assert!(
            AuthConfig::compat()
                .with_cookie_name("")
                .validate()
                .is_err()
        );
        assert!(
            AuthConfig::compat()
                .with_session_lifetime(Duration::ZERO)
                .validate()
                .is_err()
        );
        let clash = Routes {
            profile: "/users/".into(),
            ..Routes::default()
        };
        assert!(AuthConfig::compat().with_routes(clash).validate().is_err());
        assert!("bogus".parse::<Profile>().is_err());
        assert_eq!("seed".parse::<Profile>(), Ok(Profile::Compat));
    }

    #[test]
    fn the_presets_are_valid() {
        assert_eq!(AuthConfig::compat().validate(), Ok(()));
        assert_eq!(AuthConfig::hardened().validate(), Ok(()));
        assert_eq!(AuthConfig::compat().with_bcrypt_cost(4).validate(), Ok(()));
        assert_eq!(AuthConfig::compat().with_bcrypt_cost(31).validate(), Ok(()));
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

    /// Values that only fail together are refused, each with its own message, all at once:
    /// a `__Host-` or `__Secure-` cookie name (matched without regard to case, as RFC
    /// 6265bis does) without `Secure`, a renewal interval not shorter than the idle timeout,
    /// an after-logout target that is an auth route, a trusted network of every address.
    #[test]
    fn combinations_that_cannot_work_are_refused_together() {
        let refused = |config: AuthConfig, needles: &[&str]| {
            let error = config.validate().expect_err(needles[0]);
            let message = error.to_string();
            for needle in needles {
                assert!(message.contains(needle), "{needle:?} not in {message}");
            }
            error.problems().len()
        };
        let compat = AuthConfig::compat;
        assert_eq!(
            refused(
                compat().with_cookie_name("__Host-sid"),
                &["__Host-sid", "Secure"]
            ),
            1
        );
        assert_eq!(
            refused(compat().with_cookie_name("__host-sid"), &["__host-sid"]),
            1
        );
        let plain = AuthConfig::hardened().with_secure_cookie(false);
        assert_eq!(
            refused(
                plain.with_cookie_name("__Secure-sid"),
                &["__Secure-sid", "Secure"]
            ),
            1
        );
        let day = Duration::from_secs(24 * 3600);
        assert_eq!(
            refused(
                compat().with_session_renewal(14 * day),
                &["renewal", "idle"]
            ),
            1
        );
        let slow = AuthConfig::hardened().with_session_renewal(Duration::from_secs(3600));
        assert_eq!(refused(slow, &["renewal"]), 1);
        for target in ["/sessions", "/profile/", "/reset_password"] {
            let routes = Routes {
                after_logout: target.into(),
                ..Routes::default()
            };
            assert_eq!(
                refused(compat().with_routes(routes), &[target, "logout"]),
                1
            );
        }
        for everyone in ["0.0.0.0/0", "::/0"] {
            let config = compat().with_trusted_proxies(["10.0.0.0/8", everyone]);
            assert_eq!(refused(config, &[everyone]), 1);
        }
        let routes = Routes {
            after_logout: "/sessions".into(),
            ..Routes::default()
        };
        let all = compat()
            .with_cookie_name("__Secure-session_id")
            .with_session_renewal(14 * day)
            .with_routes(routes)
            .with_trusted_proxies(["0.0.0.0/0"]);
        assert_eq!(
            refused(
                all.clone(),
                &["__Secure-", "renewal", "/sessions", "0.0.0.0/0"]
            ),
            4
        );
        assert_eq!(
            problems(&all),
            [
                ConfigProblem::SessionRenewal {
                    renewal: 14 * day,
                    idle: 14 * day
                },
                ConfigProblem::CookiePrefixNeedsSecure {
                    name: "__Secure-session_id".into(),
                    prefix: "__Secure-"
                },
                ConfigProblem::AfterLogoutOnRoute("/sessions".into()),
                ConfigProblem::TrustsEveryone("0.0.0.0/0".into()),
            ]
        );
    }

    /// Merely risky values pass (the log warns of some): only what cannot work is refused.
    #[test]
    fn risky_combinations_are_accepted() {
        let hour = Duration::from_secs(3600);
        for config in [
            AuthConfig::hardened().with_cookie_name("__Host-session_id"),
            AuthConfig::hardened().with_cookie_name("__Secure-session_id"),
            AuthConfig::compat().with_cookie_name("my__Host-sid"),
            AuthConfig::compat().with_session_renewal(Duration::ZERO),
            AuthConfig::hardened()
                .with_session_idle_timeout(48 * hour)
                .with_session_lifetime(hour),
            AuthConfig::compat().with_body_limit(64),
            AuthConfig::hardened().with_reset_token_in_response(true),
            AuthConfig::compat().with_trusted_proxies(["0.0.0.0/1", "10.0.0.0/8"]),
            AuthConfig::compat().with_routes(Routes {
                after_logout: "/goodbye".into(),
                ..Routes::default()
            }),
        ] {
            assert_eq!(config.validate(), Ok(()), "{config:?}");
        }
    }
}
