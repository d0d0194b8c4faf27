//! [`RequireAuth`]: lets only logged-in requests through to the wrapped service;
//! [`RequireRecentAuth`]: only those whose session was authenticated recently (the rules are
//! in their docs).

mod future;
mod layer;
mod recent;
mod service;

pub use self::{
    future::RequireAuthFuture,
    layer::RequireAuth,
    recent::{RequireRecentAuth, RequireRecentAuthService},
    service::RequireAuthService,
};
