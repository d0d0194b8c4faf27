//! Overload: shedding under load, graceful shutdown, slow clients.

mod shedding;
mod slow_clients;
