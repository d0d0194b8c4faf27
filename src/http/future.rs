//! The response future of [`AuthService`](super::AuthService).

use std::{
    fmt,
    future::Future,
    pin::Pin,
    task::{Context, Poll, ready},
};

use http::{HeaderValue, Response, header};
use pin_project_lite::pin_project;

use super::{body::AuthBody, response::OwnResponse};

pub(crate) type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

pin_project! {
    /// Response future of [`AuthService`](super::AuthService).
    pub struct ResponseFuture<F, B, E> {
        #[pin]
        kind: Kind<F, B, E>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F, B, E> {
        // The wrapped service's future: a request without a valid session cookie. Not
        // boxed. A cookie that cannot name a session is cleared in the answer.
        Inner { #[pin] future: F, clear_cookie: Option<HeaderValue> },
        // An auth route, answered by the layer.
        Route { future: BoxFuture<OwnResponse> },
        // A session to validate before the wrapped service is called.
        Authenticated { future: BoxFuture<Result<Response<AuthBody<B>>, E>> },
        // An answer known at once.
        Ready { response: Option<OwnResponse> },
    }
}

impl<F, B, E> ResponseFuture<F, B, E> {
    pub(crate) fn inner(future: F, clear_cookie: Option<HeaderValue>) -> Self {
        Self {
            kind: Kind::Inner {
                future,
                clear_cookie,
            },
        }
    }

    pub(crate) fn route(future: BoxFuture<OwnResponse>) -> Self {
        Self {
            kind: Kind::Route { future },
        }
    }

    pub(crate) fn authenticated(future: BoxFuture<Result<Response<AuthBody<B>>, E>>) -> Self {
        Self {
            kind: Kind::Authenticated { future },
        }
    }

    pub(crate) fn ready(response: OwnResponse) -> Self {
        Self {
            kind: Kind::Ready {
                response: Some(response),
            },
        }
    }
}

impl<F, B, E> fmt::Debug for ResponseFuture<F, B, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl<F, B, E> Future for ResponseFuture<F, B, E>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<AuthBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Inner {
                future,
                clear_cookie,
            } => {
                let mut response = ready!(future.poll(cx))?;
                if let Some(cookie) = clear_cookie.take() {
                    clear_session_cookie(&mut response, cookie);
                }
                Poll::Ready(Ok(response.map(AuthBody::inner)))
            }
            KindProj::Route { future } => {
                Poll::Ready(Ok(ready!(future.as_mut().poll(cx)).map(AuthBody::own)))
            }
            KindProj::Authenticated { future } => future.as_mut().poll(cx),
            KindProj::Ready { response } => {
                let response = response.take().expect("future polled after completion");
                Poll::Ready(Ok(response.map(AuthBody::own)))
            }
        }
    }
}

/// Adds a `Set-Cookie` that drops the session cookie to a response of the wrapped service,
/// which then must not be stored by a shared cache.
pub(crate) fn clear_session_cookie<B>(response: &mut Response<B>, cookie: HeaderValue) {
    let headers = response.headers_mut();
    headers.append(header::SET_COOKIE, cookie);
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}
