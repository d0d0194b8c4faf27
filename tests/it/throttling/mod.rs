//! Throttling: what counts as a failure and what is refused, per account, per client and per
//! address.

mod concurrency;
mod email_change;
mod login;
mod second_factor;
