//! [`AuthService`]: answers the auth routes or passes the request on.

use std::{
    fmt,
    task::{Context, Poll},
};

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, header};
use http_body::Body;
use tower_service::Service;

use super::{
    body::AuthBody,
    cookie::{self, SessionCookie},
    csrf, extract,
    future::{ResponseFuture, clear_session_cookie},
    response::{OwnResponse, Rejection},
    routes::{self, Target},
};
use crate::{BoxError, auth::Auth, store::Store, user::AuthenticatedUser};

/// The service made by [`AuthLayer`](super::AuthLayer).
pub struct AuthService<T, S> {
    inner: T,
    auth: Auth<S>,
}

impl<T, S> AuthService<T, S> {
    /// Wraps `inner`.
    pub fn new(inner: T, auth: Auth<S>) -> Self {
        Self { inner, auth }
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &T {
        &self.inner
    }

    /// The wrapped service, mutably.
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.inner
    }

    /// Unwraps the wrapped service.
    pub fn into_inner(self) -> T {
        self.inner
    }
}

impl<T: Clone, S> Clone for AuthService<T, S> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            auth: self.auth.clone(),
        }
    }
}

impl<T: fmt::Debug, S> fmt::Debug for AuthService<T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthService")
            .field("inner", &self.inner)
            .field("auth", &self.auth)
            .finish()
    }
}

impl<T, S, ReqBody, ResBody> Service<Request<ReqBody>> for AuthService<T, S>
where
    T: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    T::Future: Send + 'static,
    T::Error: Send + 'static,
    S: Store,
    ReqBody: Body + Send + 'static,
    ReqBody::Data: Send,
    ReqBody::Error: Into<BoxError>,
    ResBody: Body<Data = Bytes> + Send + 'static,
{
    type Response = Response<AuthBody<ResBody>>;
    type Error = T::Error;
    type Future = ResponseFuture<T::Future, ResBody, T::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        let config = self.auth.config();
        let resource = routes::match_resource(&config.mounted, req.uri().path())
            .and_then(|resource| resource.served_by(config));
        if let Some(resource) = resource {
            let method = req.method();
            // An HTML form's POST may ask for PUT or DELETE in its body (`_method`).
            let target = if method == Method::POST
                && resource.takes_method_override()
                && extract::is_html_form(req.headers())
            {
                Target::Form(resource)
            } else {
                match resource.route(method) {
                    Ok(route) => Target::Route(route),
                    Err(allow) => {
                        let refusal = Rejection::method_not_allowed(allow).into_response();
                        return ResponseFuture::ready(with_hsts(refusal, config));
                    }
                }
            };
            let hsts = config.hsts_header();
            let answer = routes::handle(self.auth.clone(), target, req);
            return ResponseFuture::route(Box::pin(async move { add_hsts(answer.await, hsts) }));
        }
        // Only this layer says who the user is.
        req.extensions_mut().remove::<AuthenticatedUser>();
        let digest = match cookie::session_digest(req.headers(), config.cookie_name()) {
            SessionCookie::Absent => return ResponseFuture::inner(self.inner.call(req), None),
            _ if csrf::is_state_changing(req.method())
                && csrf::is_cross_site(req.headers(), req.uri(), &config.allowed_origins) =>
            {
                tracing::warn!(target: "tower_user_auth::audit", event = "cross_site_refused", path = req.uri().path());
                let refusal = Rejection::cross_site().into_response();
                return ResponseFuture::ready(with_hsts(refusal, config));
            }
            SessionCookie::Invalid => {
                let clear = cookie::clear_session(config);
                return ResponseFuture::inner(self.inner.call(req), Some(clear));
            }
            SessionCookie::Token(digest) => digest,
        };
        // The fast path: the store answers from memory (a cached session), so the wrapped
        // service is called now, with the service driven to readiness, and its future is
        // returned unboxed. The same checks and answers as the path below.
        if let Some(user) = self.auth.authenticate_without_waiting(digest) {
            let clear = match user {
                Some(user) => {
                    req.extensions_mut().insert(user);
                    None
                }
                None => Some(cookie::clear_session(config)),
            };
            return ResponseFuture::inner(self.inner.call(req), clear);
        }
        // The inner service is called from inside the future: take the one that was driven to
        // readiness and leave a clone in its place (see tower's "Be careful when cloning inner
        // services" in the `Service` docs).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let auth = self.auth.clone();
        ResponseFuture::authenticated(Box::pin(async move {
            let live = match auth.authenticate_digest(digest).await {
                Ok(Some((user, _))) => {
                    req.extensions_mut().insert(user);
                    true
                }
                Ok(None) => false,
                Err(e) => {
                    let refusal = with_hsts(Rejection::from(e).into_response(), auth.config());
                    return Ok(refusal.map(AuthBody::own));
                }
            };
            let mut res = inner.call(req).await?;
            if !live {
                clear_session_cookie(&mut res, cookie::clear_session(auth.config()));
            }
            Ok(res.map(AuthBody::inner))
        }))
    }
}

/// `response` (one of the layer's own) with `Strict-Transport-Security` where `config` sends
/// it ([`AuthConfig::hsts_header`](crate::AuthConfig::hsts_header)).
fn with_hsts(response: OwnResponse, config: &crate::AuthConfig) -> OwnResponse {
    add_hsts(response, config.hsts_header())
}

/// `response` with `Strict-Transport-Security: hsts`, if any.
fn add_hsts(mut response: OwnResponse, hsts: Option<HeaderValue>) -> OwnResponse {
    if let Some(hsts) = hsts {
        response
            .headers_mut()
            .insert(header::STRICT_TRANSPORT_SECURITY, hsts);
    }
    response
}
