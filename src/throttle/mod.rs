//! Throttling: exponential backoff of failures per (account, client address), ceilings per
//! account and per client, and request quotas for registration and reset requests, in
//! bounded memory.
//!
//! Accounts are keyed by a digest of the normalised email whether or not an account has it,
//! so that throttling answers alike for known and unknown emails.

mod config;
mod keys;
mod limiter;
mod shared;

#[cfg(feature = "server")]
pub(crate) use self::keys::client_key;
pub(crate) use self::shared::{Attempt, Limits};
pub use self::{config::ThrottleConfig, shared::SharedThrottle};
