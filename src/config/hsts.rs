//! `Strict-Transport-Security` (RFC 6797): what the layer's answers carry where the session
//! cookie is `Secure`.

use std::time::Duration;

use http::HeaderValue;

use super::AuthConfig;

/// The HSTS policy: how long a browser keeps to https, and whether subdomains too.
#[derive(Clone, Debug)]
pub(crate) struct Hsts {
    max_age: Duration,
    include_subdomains: bool,
    /// The header's value, made once; `None` for a max-age of zero (no header).
    header: Option<HeaderValue>,
}

impl Hsts {
    /// `max_age` (whole seconds), with `includeSubDomains` if `include_subdomains`.
    pub(crate) fn new(max_age: Duration, include_subdomains: bool) -> Self {
        let secs = max_age.as_secs();
        let header = (secs > 0).then(|| {
            let value = if include_subdomains {
                format!("max-age={secs}; includeSubDomains")
            } else {
                format!("max-age={secs}")
            };
            HeaderValue::try_from(value).expect("digits and ASCII letters make a header value")
        });
        Self {
            max_age: Duration::from_secs(secs),
            include_subdomains,
            header,
        }
    }

    /// The default: a year (31,536,000 s), without `includeSubDomains`.
    pub(crate) fn year() -> Self {
        Self::new(Duration::from_secs(365 * 24 * 60 * 60), false)
    }
}

impl AuthConfig {
    /// The `Strict-Transport-Security` policy the layer's answers carry where the session
    /// cookie is `Secure` ([`with_secure_cookie`](Self::with_secure_cookie): the hardened
    /// profile): `max-age` in whole seconds (default a year, 31,536,000 s; zero sends no
    /// header), with `includeSubDomains` only if `include_subdomains` (default off: it binds
    /// every subdomain of the site to https, which only the site's owner can promise).
    /// Where the cookie is not `Secure` (the compatibility profile, plain http) no answer
    /// carries it whatever is set here. The wrapped app's answers are its own:
    /// [`hsts_header`](Self::hsts_header) gives it the same value.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tower_user_auth::AuthConfig;
    ///
    /// let config = AuthConfig::hardened();
    /// assert_eq!(config.hsts_header().unwrap(), "max-age=31536000");
    /// let config = config.with_hsts(Duration::from_secs(600), true);
    /// assert_eq!(config.hsts_header().unwrap(), "max-age=600; includeSubDomains");
    /// assert_eq!(config.hsts_max_age(), Duration::from_secs(600));
    /// assert!(config.hsts_include_subdomains());
    /// assert!(config.with_hsts(Duration::ZERO, false).hsts_header().is_none());
    /// assert!(AuthConfig::compat().hsts_header().is_none());
    /// ```
    pub fn with_hsts(mut self, max_age: Duration, include_subdomains: bool) -> Self {
        self.hsts = Hsts::new(max_age, include_subdomains);
        self
    }

    /// The HSTS `max-age` (whole seconds; zero: no header).
    #[must_use]
    pub fn hsts_max_age(&self) -> Duration {
        self.hsts.max_age
    }

    /// Whether the HSTS header says `includeSubDomains`.
    #[must_use]
    pub fn hsts_include_subdomains(&self) -> bool {
        self.hsts.include_subdomains
    }

    /// The `Strict-Transport-Security` value the layer's own answers carry: `None` where the
    /// session cookie is not `Secure`, or the max-age is zero. For the wrapped app's answers,
    /// e.g. with tower-http's `SetResponseHeaderLayer::if_not_present` (see the demo).
    #[must_use]
    pub fn hsts_header(&self) -> Option<HeaderValue> {
        self.hsts.header.clone().filter(|_| self.secure_cookie)
    }
}
