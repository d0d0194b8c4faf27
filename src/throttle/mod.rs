//! Throttling: exponential backoff of failures per (account, client address), ceilings per
//! account and per client, and request quotas for registration and reset requests, in
//! bounded memory.
//!
//! Accounts are keyed by a digest of the normalised email whether or not an account has it,
//! so that throttling answers alike for known and unknown emails.
//!
//! # Where the counters live
//!
//! [`Auth`](crate::Auth) takes them from its store: if
//! [`Store::shared_throttle`](crate::store::Store::shared_throttle) gives a
//! [`SharedThrottle`], the counters are in the store's database and every app instance on it
//! enforces the same limits (N instances do not give an attacker N times the guesses);
//! otherwise (the default, and [`RedbStore`](crate::store::RedbStore)'s) they are in the
//! process's memory, in tables of at most [`ThrottleConfig::max_entries`] entries each. `PgStore`
//! (feature `postgres`) shares them, so `Auth::new(pg_store, config)` needs nothing more. The
//! limits, and the answers (429 with `Retry-After`), are the same either way.
//!
//! The store decides, not a setting, because sharing is a property of where the data lives:
//! instances that share accounts and sessions must share the limits on them, and an app that
//! moves to several instances on PostgreSQL cannot forget to switch the throttle too. The
//! counters use the store's connection pool.
//!
//! The shared counters count an attempt (a login, a password reset with a token, a password
//! change) as a failure *before* its password or token is checked, in one transaction that
//! checks every limit and rolls back if one holds the attempt back (a refused attempt counts
//! nothing); a success then clears the (account, client) backoff and takes the count back from
//! the hourly ceilings, an attempt that ends otherwise (a store error, a credential change
//! meanwhile) takes it all back. So concurrent guesses, spread over any number of instances,
//! never get more than the limit through to the password check. (The in-memory throttle
//! checks, then counts the failure after the check, as it always has: within one process,
//! concurrent guesses in flight can pass its check together.) An attempt whose request is
//! dropped midway stays counted as a failure.
//!
//! Times are the app's clock (the one [`Auth`](crate::Auth) reads), so the instances' clocks
//! should be kept in step (NTP): a skew shifts windows and backoffs by as much.
//!
//! **A database error fails closed:** when the shared counters cannot be read or written, the
//! attempt is refused with [`AuthError::Store`](crate::AuthError::Store) (the layer answers
//! 500 with a JSON body), never let through uncounted. A failure to take a count back after a
//! success is logged and leaves the count (the limits err on the side of holding back).

mod config;
mod keys;
mod limiter;
mod shared;

#[cfg(feature = "server")]
pub(crate) use self::keys::client_key;
pub(crate) use self::shared::{Attempt, Limits};
pub use self::{config::ThrottleConfig, shared::SharedThrottle};
