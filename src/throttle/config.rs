//! [`ThrottleConfig`]: the limits the throttle enforces.

use std::time::Duration;

/// Limits on failed attempts and on request rates (OWASP ASVS 2.2.1, NIST SP 800-63B
/// §5.2.2), set with the `with_*` methods and read with the getters of the same name.
///
/// ```
/// use std::time::Duration;
/// use tower_user_auth::ThrottleConfig;
///
/// let throttle = ThrottleConfig::default()
///     .with_free_failures(3)
///     .with_backoff(Duration::from_secs(2), Duration::from_secs(600));
/// assert_eq!(throttle.free_failures(), 3);
/// assert_eq!(throttle.backoff_max(), Duration::from_secs(600));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ThrottleConfig {
    enabled: bool,
    free_failures: u32,
    backoff_start: Duration,
    backoff_max: Duration,
    account_failures_per_hour: u32,
    client_failures_per_hour: u32,
    registrations_per_client_per_hour: u32,
    reset_requests_per_account_per_hour: u32,
    reset_requests_per_client_per_hour: u32,
    max_entries: usize,
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            free_failures: 5,
            backoff_start: Duration::from_secs(1),
            backoff_max: Duration::from_secs(15 * 60),
            account_failures_per_hour: 100,
            client_failures_per_hour: 100,
            registrations_per_client_per_hour: 20,
            reset_requests_per_account_per_hour: 5,
            reset_requests_per_client_per_hour: 20,
            max_entries: 100_000,
        }
    }
}

impl ThrottleConfig {
    /// No throttling at all: for tests and benchmarks only.
    #[must_use]
    pub fn disabled() -> Self {
        Self::default().with_enabled(false)
    }

    /// Whether throttling is on at all (on by default; off only for tests and benchmarks).
    #[must_use]
    pub fn with_enabled(mut self, on: bool) -> Self {
        self.enabled = on;
        self
    }

    /// Failures from one client address on one account before backoff starts (default 5).
    #[must_use]
    pub fn with_free_failures(mut self, n: u32) -> Self {
        self.free_failures = n;
        self
    }

    /// The first backoff (default 1 s), which each further failure doubles, up to the
    /// longest (default 15 minutes; never below the first).
    #[must_use]
    pub fn with_backoff(mut self, start: Duration, max: Duration) -> Self {
        self.backoff_start = start;
        self.backoff_max = max.max(start);
        self
    }

    /// The ceilings on failures: on one account from all addresses, consecutive failures
    /// (default 100, NIST SP 800-63B §5.2.2: a success or a reset through the mailbox starts
    /// the count again, and it is forgotten a day after the last failure; see
    /// [`crate::throttle`]), and from one address across all accounts, per hour (default
    /// 100: credential stuffing). The per-account ceiling's name and its getter's are kept
    /// from when it was hourly.
    #[must_use]
    pub fn with_failure_ceilings(mut self, per_account: u32, per_client: u32) -> Self {
        self.account_failures_per_hour = per_account;
        self.client_failures_per_hour = per_client;
        self
    }

    /// Registrations from one client address per hour (default 20). The email changes that
    /// learn whether an address is taken count against it too (one per request, taken or
    /// free), so that one client learns no more about which addresses have accounts.
    #[must_use]
    pub fn with_registrations_per_hour(mut self, n: u32) -> Self {
        self.registrations_per_client_per_hour = n;
        self
    }

    /// Reset requests per hour for one email (default 5) and from one client address
    /// (default 20). Requests for a new confirmation token (`POST /confirm_email/resend`),
    /// and the email-change tokens sent to the address a change names (per target address
    /// and per requesting client), have the same limits, each counted apart.
    #[must_use]
    pub fn with_reset_requests_per_hour(mut self, per_account: u32, per_client: u32) -> Self {
        self.reset_requests_per_account_per_hour = per_account;
        self.reset_requests_per_client_per_hour = per_client;
        self
    }

    /// Entries kept per table (default 100,000; at least 16); the oldest are dropped beyond
    /// it, so that a spray of many accounts or addresses cannot exhaust memory.
    #[must_use]
    pub fn with_max_entries(mut self, n: usize) -> Self {
        self.max_entries = n.max(16);
        self
    }

    /// Whether throttling is on.
    #[must_use]
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Failures allowed per (account, client address) before backoff starts.
    #[must_use]
    pub fn free_failures(&self) -> u32 {
        self.free_failures
    }

    /// The first backoff.
    #[must_use]
    pub fn backoff_start(&self) -> Duration {
        self.backoff_start
    }

    /// The longest backoff.
    #[must_use]
    pub fn backoff_max(&self) -> Duration {
        self.backoff_max
    }

    /// Consecutive failures on one account from all addresses (the name is kept from when
    /// the ceiling was hourly): see [`with_failure_ceilings`](Self::with_failure_ceilings).
    #[must_use]
    pub fn account_failures_per_hour(&self) -> u32 {
        self.account_failures_per_hour
    }

    /// Failures from one address across all accounts per hour.
    #[must_use]
    pub fn client_failures_per_hour(&self) -> u32 {
        self.client_failures_per_hour
    }

    /// Registrations from one address per hour.
    #[must_use]
    pub fn registrations_per_client_per_hour(&self) -> u32 {
        self.registrations_per_client_per_hour
    }

    /// Reset requests for one email per hour.
    #[must_use]
    pub fn reset_requests_per_account_per_hour(&self) -> u32 {
        self.reset_requests_per_account_per_hour
    }

    /// Reset requests from one address per hour.
    #[must_use]
    pub fn reset_requests_per_client_per_hour(&self) -> u32 {
        self.reset_requests_per_client_per_hour
    }

    /// Entries kept per table.
    #[must_use]
    pub fn max_entries(&self) -> usize {
        self.max_entries
    }
}
