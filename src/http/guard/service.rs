//! [`RequireAuthService`]: calls the wrapped service for logged-in requests only.

use http::{HeaderValue, Request};

use super::RequireAuth;
use crate::{
    http::{
        negotiate,
        redirect::{safe_next, see_other, with_next},
        response::{OwnResponse, Rejection},
    },
    user::AuthenticatedUser,
};

/// The service made by [`RequireAuth`].
#[derive(Clone, Debug)]
pub struct RequireAuthService<S> {
    inner: S,
    guard: RequireAuth,
}

impl<S> RequireAuthService<S> {
    /// Guards `inner`.
    pub fn new(inner: S, guard: RequireAuth) -> Self {
        Self { inner, guard }
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the wrapped service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl RequireAuth {
    /// The answer to a request without a user; `None` lets a request with one through.
    fn refusal<B>(&self, req: &Request<B>) -> Option<OwnResponse> {
        if req.extensions().get::<AuthenticatedUser>().is_some() {
            return None;
        }
        Some(refuse_logged_out(&self.settings.login_page, req))
    }
}

/// The answer of a guard to a request without a user: 401 JSON, or for a browser a 303 to
/// `login_page`.
pub(super) fn refuse_logged_out<B>(login_page: &str, req: &Request<B>) -> OwnResponse {
    if !negotiate::prefers_html(req.headers()) {
        return Rejection::login_required().into_response();
    }
    to_page(login_page, req)
}

/// `303 See Other` to `page`, with the request's path and query as `next`.
pub(super) fn to_page<B>(page: &str, req: &Request<B>) -> OwnResponse {
    let here = req.uri().path_and_query().map(|pq| pq.as_str());
    // A request target that is no safe path (`//evil.example`, `/../x`) is not offered
    // back: the login flow then goes to its landing page.
    let location = match here.and_then(safe_next) {
        Some(next) => with_next(page, next),
        None => page.to_owned(),
    };
    // Both parts are visible ASCII: the page was checked when set, `next` is encoded.
    let location =
        HeaderValue::try_from(location).unwrap_or_else(|_| HeaderValue::from_static("/"));
    see_other(location)
}

guard_service!(RequireAuthService);
