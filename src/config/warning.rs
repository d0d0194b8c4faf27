//! [`ConfigWarning`]: what works but deserves a line in the log.

use std::{fmt, net::SocketAddr, time::Duration};

use super::AuthConfig;
use crate::{Profile, password::BCRYPT_MAX_BYTES};

/// bcrypt costs below this are for tests and local demos: accepted with a warning.
const LOWEST_PRODUCTION_COST: u32 = 10;

/// The largest body a valid request needs, its values unescaped: a password reset in JSON
/// with the longest email (254 bytes), a reset token (36) and the longest password.
const LARGEST_VALID_BODY: usize =
    r#"{"email":"","reset_token":"","new_password":""}"#.len() + 254 + 36 + BCRYPT_MAX_BYTES;

/// A configuration that works but is risky. [`AuthConfig::validate`] logs each of
/// [`AuthConfig::warnings`]; [`AuthConfig::plain_http_warning`] is for the server, which
/// alone knows how it listens.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigWarning {
    /// A bcrypt cost below 10: for tests and local demos only.
    LowBcryptCost(u32),
    /// An idle timeout longer than the session lifetime, which always comes first.
    IdleTimeoutBeyondLifetime {
        /// The idle timeout.
        idle: Duration,
        /// The session lifetime.
        lifetime: Duration,
    },
    /// A body limit below what some valid requests need (a long email and password).
    SmallBodyLimit {
        /// The limit.
        limit: usize,
        /// The largest valid request, values unescaped.
        needed: usize,
    },
    /// Reset tokens are neither returned nor given to a [mailer](AuthConfig::with_mailer):
    /// they reach nobody.
    ResetTokensReachNobody,
    /// A `Secure` cookie served over plain http on an address other than loopback:
    /// browsers drop it (they accept it over http only from localhost).
    SecureCookieOverPlainHttp(SocketAddr),
    /// TOTP is on but no [secret key](AuthConfig::with_secret_key) is set: the TOTP routes
    /// are off, and accounts whose factor is on log in only with a recovery code.
    TotpWithoutKey,
    /// Email confirmation is on but no [mailer](AuthConfig::with_mailer) is set:
    /// confirmation tokens reach nobody, and new accounts cannot log in.
    ConfirmationTokensReachNobody,
}

impl fmt::Display for ConfigWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::LowBcryptCost(cost) => write!(
                f,
                "bcrypt cost below 10: acceptable only for tests and local demos (cost {cost})"
            ),
            Self::IdleTimeoutBeyondLifetime { idle, lifetime } => write!(
                f,
                "session idle timeout ({idle:?}) is longer than the session lifetime \
                 ({lifetime:?}), which always ends a session first"
            ),
            Self::SmallBodyLimit { limit, needed } => write!(
                f,
                "body limit of {limit} bytes is below the {needed} bytes a password reset \
                 with the longest email and password takes: such requests get 413"
            ),
            Self::ResetTokensReachNobody => f.write_str(
                "reset tokens are not returned and no mailer is configured \
                 (AuthConfig::with_mailer): \
                 password resets cannot reach anyone",
            ),
            Self::SecureCookieOverPlainHttp(addr) => write!(
                f,
                "the session cookie is Secure but served over plain http on {addr}, not \
                 loopback: browsers will drop it, so nobody stays logged in; serve over https \
                 (or behind a TLS proxy) or turn the Secure attribute off"
            ),
            Self::TotpWithoutKey => f.write_str(
                "TOTP is off: no secret key is set to seal TOTP secrets with \
                 (AuthConfig::with_secret_key; the demo reads AUTH_SECRET_KEY, 32 random bytes \
                 in standard base64: openssl rand -base64 32); accounts that have a second \
                 factor can log in only with a recovery code",
            ),
            Self::ConfirmationTokensReachNobody => f.write_str(
                "email confirmation is on but no mailer is configured (AuthConfig::with_mailer): \
                 confirmation tokens cannot reach anyone, so new accounts cannot log in",
            ),
        }
    }
}

impl AuthConfig {
    /// What works in this configuration but is risky; [`validate`](Self::validate) logs
    /// each at the warning level.
    #[must_use]
    pub fn warnings(&self) -> Vec<ConfigWarning> {
        let mut warnings = Vec::new();
        if self.bcrypt_cost < LOWEST_PRODUCTION_COST {
            warnings.push(ConfigWarning::LowBcryptCost(self.bcrypt_cost));
        }
        if self.session_idle_timeout > self.session_lifetime {
            warnings.push(ConfigWarning::IdleTimeoutBeyondLifetime {
                idle: self.session_idle_timeout,
                lifetime: self.session_lifetime,
            });
        }
        if (1..LARGEST_VALID_BODY).contains(&self.body_limit) {
            warnings.push(ConfigWarning::SmallBodyLimit {
                limit: self.body_limit,
                needed: LARGEST_VALID_BODY,
            });
        }
        if self.profile == Profile::Hardened
            && !self.reset_token_in_response
            && !self.mailers.resets()
        {
            warnings.push(ConfigWarning::ResetTokensReachNobody);
        }
        if self.account.totp && self.account.secret_key.is_none() {
            warnings.push(ConfigWarning::TotpWithoutKey);
        }
        if self.account.email_confirmation && !self.mailers.account_mail() {
            warnings.push(ConfigWarning::ConfirmationTokensReachNobody);
        }
        warnings
    }

    /// The warning for a server that serves this configuration over plain http (no TLS) on
    /// `local`, its listening address: with a `Secure` cookie on an address other than
    /// loopback, browsers drop the session cookie. `None` otherwise. A server behind a TLS
    /// proxy has no need of it.
    ///
    /// ```
    /// use tower_user_auth::AuthConfig;
    ///
    /// let hardened = AuthConfig::hardened();
    /// assert!(hardened.plain_http_warning("0.0.0.0:8080".parse()?).is_some());
    /// assert!(hardened.plain_http_warning("127.0.0.1:8080".parse()?).is_none());
    /// assert!(AuthConfig::compat().plain_http_warning("0.0.0.0:8080".parse()?).is_none());
    /// # Ok::<(), std::net::AddrParseError>(())
    /// ```
    #[must_use]
    pub fn plain_http_warning(&self, local: SocketAddr) -> Option<ConfigWarning> {
        let loopback = match local {
            SocketAddr::V4(v4) => v4.ip().is_loopback(),
            SocketAddr::V6(v6) => {
                v6.ip().is_loopback() || v6.ip().to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
            }
        };
        (self.secure_cookie && !loopback).then_some(ConfigWarning::SecureCookieOverPlainHttp(local))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn risky_values_are_warned_of() {
        let hour = Duration::from_secs(3600);
        assert_eq!(AuthConfig::compat().warnings(), []);
        assert_eq!(
            AuthConfig::hardened().warnings(),
            [
                ConfigWarning::ResetTokensReachNobody,
                ConfigWarning::TotpWithoutKey
            ]
        );
        let key = crate::config::SecretKey::from_bytes([7; 32]);
        let confirming = AuthConfig::hardened()
            .with_secret_key(key)
            .with_email_confirmation(true);
        assert_eq!(
            confirming.clone().warnings(),
            [
                ConfigWarning::ResetTokensReachNobody,
                ConfigWarning::ConfirmationTokensReachNobody
            ]
        );
        let mailed = confirming.with_mailer(|_: &str, _: &crate::hook::Mail| Ok(()));
        assert_eq!(mailed.warnings(), []);
        let risky = AuthConfig::compat()
            .with_bcrypt_cost(4)
            .with_session_idle_timeout(2 * hour)
            .with_session_lifetime(hour)
            .with_body_limit(64);
        assert_eq!(
            risky.warnings(),
            [
                ConfigWarning::LowBcryptCost(4),
                ConfigWarning::IdleTimeoutBeyondLifetime {
                    idle: 2 * hour,
                    lifetime: hour
                },
                ConfigWarning::SmallBodyLimit {
                    limit: 64,
                    needed: 409
                },
            ]
        );
        assert!(
            risky.warnings()[2].to_string().contains("413"),
            "{}",
            risky.warnings()[2]
        );
    }

    #[test]
    fn plain_http_beyond_loopback_warns_of_a_secure_cookie() {
        let addr = |s: &str| s.parse::<SocketAddr>().unwrap();
        let hardened = AuthConfig::hardened();
        for local in [
            "0.0.0.0:80",
            "192.0.2.1:5000",
            "[::]:80",
            "[2001:db8::1]:80",
        ] {
            let warning = hardened.plain_http_warning(addr(local));
            assert_eq!(
                warning,
                Some(ConfigWarning::SecureCookieOverPlainHttp(addr(local)))
            );
        }
        for local in [
            "127.0.0.1:80",
            "127.0.0.2:80",
            "[::1]:80",
            "[::ffff:127.0.0.1]:80",
        ] {
            assert_eq!(hardened.plain_http_warning(addr(local)), None, "{local}");
        }
        assert_eq!(
            AuthConfig::compat().plain_http_warning(addr("0.0.0.0:80")),
            None
        );
        let message = hardened
            .plain_http_warning(addr("0.0.0.0:80"))
            .unwrap()
            .to_string();
        assert!(
            message.contains("Secure") && message.contains("plain http"),
            "{message}"
        );
    }
}
