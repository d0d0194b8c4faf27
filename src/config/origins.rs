//! The origins besides the request's own that may send state-changing requests.

use super::AuthConfig;

impl AuthConfig {
    /// Origins besides the request's own that may send state-changing requests
    /// (`https://app.example.com`), compared without regard to case. Replaces any earlier
    /// list; validation refuses a value that is not `scheme://host[:port]`.
    pub fn with_allowed_origins<I, T>(mut self, origins: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: Into<String>,
    {
        self.allowed_origins.clear();
        self.rejected_origins.clear();
        for origin in origins {
            let origin: String = origin.into();
            let origin = origin.trim().trim_end_matches('/').to_ascii_lowercase();
            let valid = origin.split_once("://").is_some_and(|(scheme, host)| {
                !scheme.is_empty() && !host.is_empty() && !host.contains('/')
            });
            if valid {
                self.allowed_origins.push(origin);
            } else {
                self.rejected_origins.push(origin);
            }
        }
        self
    }

    /// The allowed origins besides the request's own, normalised (trimmed, lowercased,
    /// without a trailing `/`); values that are not origins are left out (and refused by
    /// [`validate`](Self::validate)).
    #[must_use]
    pub fn allowed_origins(&self) -> &[String] {
        &self.allowed_origins
    }
}
