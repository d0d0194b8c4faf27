//! The cookie settings: the session cookie's name and `Secure` attribute, and the device
//! cookie.

use super::AuthConfig;

impl AuthConfig {
    /// The session cookie's name (default `session_id`; validation requires an RFC 6265
    /// token). Names that start with `__Host-` or `__Secure-` (in any case) need
    /// [`with_secure_cookie(true)`](Self::with_secure_cookie), which validation checks;
    /// `__Host-` also needs `Path=/` and no `Domain`, which the cookie always has (its path
    /// is not configurable).
    pub fn with_cookie_name(mut self, name: impl Into<String>) -> Self {
        self.cookie_name = name.into();
        self
    }

    /// The session cookie's name.
    #[must_use]
    pub fn cookie_name(&self) -> &str {
        &self.cookie_name
    }

    /// Whether the cookie carries `Secure` (hardened: on; compatibility profile: off, for
    /// plain http on localhost).
    pub fn with_secure_cookie(mut self, on: bool) -> Self {
        self.secure_cookie = on;
        self
    }

    /// Whether the cookie carries `Secure`.
    #[must_use]
    pub fn secure_cookie(&self) -> bool {
        self.secure_cookie
    }

    /// Whether a successful login sets a device cookie (OWASP's device cookies; hardened: on,
    /// compatibility profile: off; no effect while throttling is off). See
    /// [`Login::with_device`](crate::auth::Login::with_device) and `SECURITY.md`.
    pub fn with_device_cookie(mut self, on: bool) -> Self {
        self.device_cookie = on;
        self
    }

    /// Whether a successful login sets a device cookie.
    #[must_use]
    pub fn device_cookie(&self) -> bool {
        self.device_cookie
    }

    /// The device cookie's name (default `device`; validated as the session cookie's name is,
    /// and must differ from it).
    pub fn with_device_cookie_name(mut self, name: impl Into<String>) -> Self {
        self.device_cookie_name = name.into();
        self
    }

    /// The device cookie's name.
    #[must_use]
    pub fn device_cookie_name(&self) -> &str {
        &self.device_cookie_name
    }

    /// Whether device tokens are in force: the device cookie and throttling are on.
    pub(crate) fn device_tokens(&self) -> bool {
        self.device_cookie && self.throttle.enabled()
    }
}
