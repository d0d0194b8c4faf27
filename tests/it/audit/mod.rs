//! The audit trail: every outcome an audit event naming the account and the client, and no
//! secret in the log or in `Debug`.

mod accounts;
mod disclosure;
mod log;
mod second_factor;
