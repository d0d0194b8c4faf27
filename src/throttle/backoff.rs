//! The two schedules both throttles (in memory, [`super::limiter`]; shared in PostgreSQL,
//! `super::pg`) apply: the backoff after failures in a row, and how long the per-account count
//! of consecutive failures lasts.

use std::time::Duration;

use super::ThrottleConfig;

/// How long the per-account count of consecutive failures lasts after the last of them:
/// a day (see the module documentation of [`crate::throttle`]).
pub(super) const CONSECUTIVE_DECAY: Duration = Duration::from_secs(24 * 3600);

/// The backoff after `failures` failures in a row, when they are at least the free ones:
/// the first backoff, doubled for each failure beyond them, up to the longest.
pub(super) fn backoff(config: &ThrottleConfig, failures: u32) -> Duration {
    let doublings = failures
        .saturating_sub(config.free_failures().max(1))
        .min(30);
    config
        .backoff_start()
        .saturating_mul(1u32 << doublings)
        .min(config.backoff_max())
}
