//! Configuration presets and the passwords the tests use.

use tower_user_auth::{AuthConfig, ThrottleConfig};

/// A strong password every profile accepts.
pub const GOOD_PW: &str = "correct horse battery staple";
/// Another one.
pub const OTHER_PW: &str = "purple monkey dishwasher 42";

/// The seed profile at bcrypt cost 4.
pub fn seed_config() -> AuthConfig {
    AuthConfig::compat().with_bcrypt_cost(4)
}

/// The hardened profile (the library's `Default`) at bcrypt cost 4.
pub fn hardened_config() -> AuthConfig {
    AuthConfig::hardened().with_bcrypt_cost(4)
}

/// No throttling, for tests that make many attempts on purpose.
pub fn unthrottled(config: AuthConfig) -> AuthConfig {
    config.with_throttle(ThrottleConfig::disabled())
}
