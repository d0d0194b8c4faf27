//! The HTTP side: [`AuthLayer`] and the [`AuthService`] it makes.
//!
//! A request to an auth route is answered by the layer (`routes`); any other request goes to
//! the wrapped service, with an [`AuthenticatedUser`](crate::AuthenticatedUser) in its
//! extensions when its session cookie names a live session.

mod body;
mod cookie;
mod extract;
mod future;
mod layer;
mod response;
mod routes;
mod service;

use std::net::SocketAddr;

pub use self::{body::AuthBody, future::ResponseFuture, layer::AuthLayer, service::AuthService};

/// The address of the client's end of the connection. The server puts it in each request's
/// extensions (hyper does not do so by itself; see the demo); the layer reads it for audit
/// events and throttling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerAddr(pub SocketAddr);
