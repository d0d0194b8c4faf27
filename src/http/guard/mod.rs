//! [`RequireAuth`]: lets only logged-in requests through to the wrapped service.
//!
//! Put it inside [`AuthLayer`](crate::AuthLayer), around the routes to protect (or on axum's
//! `route_layer`): it reads the [`AuthenticatedUser`](crate::AuthenticatedUser) that
//! `AuthLayer` put into the request extensions, and needs nothing else. A request with a user
//! reaches the wrapped service untouched; one without gets, without calling it:
//! - a browser (its `Accept` prefers `text/html` to `application/json`): `303 See Other` to
//!   the login page, with the request's path and query, percent-encoded, in a `next` query
//!   parameter (left out when the path is not a [`safe_next`](crate::safe_next) one);
//! - any other client: `401` with the JSON body `{"message": "not logged in"}`.
//!
//! Both answers carry `Cache-Control: no-store` and `X-Content-Type-Options: nosniff`.

mod future;
mod layer;
mod service;

pub use self::{future::RequireAuthFuture, layer::RequireAuth, service::RequireAuthService};
