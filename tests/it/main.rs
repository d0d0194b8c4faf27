//! The integration tests: one binary, one module per concern, so that [`support`] compiles
//! once. `cargo test --all-features --test it` runs them all, `... --test it -- <concern>::`
//! one concern (a filter matches the test's path, `concern::file::name`). Each module's doc
//! says what it tests.
//!
//! Every test of this binary runs in one process, two at a time on two cores: what is
//! process-wide (a global `tracing` subscriber) or measures time goes through
//! [`support::alone`].

mod support;

mod admin;
mod audit;
mod axum;
mod conformance;
mod crash;
mod credentials;
mod deletion;
mod demo;
mod email;
mod overload;
mod pages;
#[cfg(feature = "postgres")]
mod postgres;
mod refusals;
mod second_factor;
mod security;
mod sessions;
mod store;
mod throttling;
mod tower;
