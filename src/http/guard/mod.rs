//! [`RequireAuth`]: lets only logged-in requests through to the wrapped service (the rule is
//! in its docs).

mod future;
mod layer;
mod service;

pub use self::{future::RequireAuthFuture, layer::RequireAuth, service::RequireAuthService};
