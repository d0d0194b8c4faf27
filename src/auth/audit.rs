//! The audit trail: one `tracing` event per account event, under the target
//! `tower_user_auth::audit`, naming the account and the client, never a secret.

use std::{fmt, net::IpAddr};

/// Emits an audit event: `audit!(LEVEL, "event_name", field = value, ...)`, with `LEVEL` a
/// `tracing` macro name (`info`, `warn`) and the fields in `tracing`'s syntax. A field whose
/// value is `None` is left out of the event.
macro_rules! audit {
    ($level:ident, $event:literal $(, $($field:tt)+)?) => {
        tracing::$level!(target: "tower_user_auth::audit", event = $event $(, $($field)+)?)
    };
}
pub(crate) use audit;

/// How an audit event names the client: its address, or `-` when the server gave none.
pub(crate) struct Client(pub(crate) Option<IpAddr>);

impl fmt::Display for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(ip) => ip.fmt(f),
            None => f.write_str("-"),
        }
    }
}
