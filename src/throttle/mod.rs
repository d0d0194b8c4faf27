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
//! [`SharedThrottling::shared_throttle`](crate::store::SharedThrottling::shared_throttle) gives a
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
//! # Guesses are counted before they are checked
//!
//! Every check of a secret (a password at login and in every re-authentication, a second
//! factor's code or recovery code, a reset or email token) is an attempt that is reserved
//! atomically with the check of every limit, *before* the secret is verified: in memory,
//! under the throttle's lock, the attempt counts as in flight against the (account, client)
//! free failures, the per-account ceiling and the per-client ceiling; in the shared
//! counters, it is counted as a failure (and as in flight) in one transaction that checks
//! every limit and rolls back if one holds it back (a refused attempt counts nothing).
//! However many requests arrive at once, on however many instances, the checks started never
//! exceed the free failures of a pair (then one at a time, each after its backoff) nor the
//! ceilings. A failure turns the reservation into a counted failure; a success (every factor
//! the account has, or a token from its mailbox) clears the pair's backoff and the
//! account's consecutive failures (and the shared counters take the attempt back from the
//! per-client ceiling); an attempt that ends otherwise (a store error, a credential change
//! meanwhile, a missing second factor after the right password) counts for nothing. An
//! attempt whose request is dropped midway counts as a failure.
//!
//! While the limits hold an attempt back only because attempts in flight have reserved the
//! free failures (or the rest of a ceiling), it waits for them to end, at most 5 seconds,
//! instead of being refused at once: they may end well and give their places back, so that
//! concurrent requests with the right secret are not throttled (ten password changes at once
//! on one session: one changes it, nine meet the changed credentials). After 5 seconds it
//! is held back (429, `Retry-After: 1`). In memory a waiting attempt is woken by each end;
//! on the shared counters it waits only for attempts in flight of its own (account, client)
//! pair, and is counted again when one of its instance's attempts ends or every 100 ms (for
//! the other instances'); an attempt held back by failures alone is refused at once.
//!
//! # The per-account ceiling counts consecutive failures
//!
//! [`ThrottleConfig::with_failure_ceilings`]'s per-account ceiling (100 by default,
//! `AUTH_THROTTLE_ACCOUNT_FAILURES_PER_HOUR` in the demo: the names are kept from when it
//! was hourly) is the number of consecutive failed attempts on one account, from all
//! clients, that the account allows (NIST SP 800-63B §5.2.2), not failures per hour: a
//! success (a login or a step-up with every factor the account has; a right password with a
//! wrong code is a failure), or a reset through the mailbox, starts it again. While it holds,
//! only a client presenting the owner's device cookie gets a check (its attempts are not
//! counted by the account's limits, only by the device token's own failures), and a reset
//! with a token from the mailbox (which the ceiling neither holds back nor counts).
//!
//! The count also decays: it is forgotten 24 hours after the last failure counted (each
//! failure pushes the end back). Without a decay, anyone who knows an address could lock its
//! account for good (lockout as a denial of service, OWASP Authentication Cheat Sheet); with
//! an hour, a patient guesser would get about 2,400 guesses a day. With a day, a guesser gets
//! at most the ceiling (100) and must then stay silent for a day, so at most about 100 a day,
//! while the owner is never locked out for good and has two ways through meanwhile: a
//! device that logged in before, and a reset through the mailbox. The per-client ceiling
//! (credential stuffing) stays per hour.
//!
//! Times are the app's clock (the one [`Auth`](crate::Auth) reads), so the instances' clocks
//! should be kept in step (NTP): a skew shifts windows and backoffs by as much.
//!
//! **A database error fails closed:** when the shared counters cannot be read or written, the
//! attempt is refused with [`AuthError::Store`](crate::AuthError::Store) (the layer answers
//! 500 with a JSON body), never let through uncounted. A failure to take a count back after a
//! success is logged and leaves the count (the limits err on the side of holding back).

mod backoff;
mod config;
mod keys;
mod limiter;
#[cfg(feature = "postgres")]
mod pg;
mod shared;
mod table;

#[cfg(feature = "server")]
pub(crate) use self::keys::client_key;
pub(crate) use self::shared::{Attempt, Limits};
pub use self::{config::ThrottleConfig, shared::SharedThrottle};
