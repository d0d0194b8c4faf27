//! The HTTP side: [`AuthLayer`] and the [`AuthService`] it makes.
//!
//! A request to an auth route is answered by the layer (`routes`); any other request goes to
//! the wrapped service, with an [`AuthenticatedUser`](crate::AuthenticatedUser) in its
//! extensions when its session cookie names a live session. [`RequireAuth`] lets only such
//! requests through, [`RequireRecentAuth`] only those of a recently authenticated session.

mod body;
mod client;
mod cookie;
mod csrf;
mod deadline;
mod extract;
mod future;
mod guard;
mod layer;
mod negotiate;
mod redirect;
mod response;
mod routes;
mod service;

#[cfg(feature = "axum")]
pub(crate) use self::response::Rejection;
pub use self::{
    body::AuthBody,
    client::PeerAddr,
    future::ResponseFuture,
    guard::{
        RequireAuth, RequireAuthFuture, RequireAuthService, RequireRecentAuth,
        RequireRecentAuthService,
    },
    layer::AuthLayer,
    negotiate::prefers_html,
    redirect::safe_next,
    service::AuthService,
};
