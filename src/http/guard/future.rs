//! [`RequireAuthFuture`]: the wrapped service's future, or the refusal.

use std::{
    fmt,
    future::Future,
    pin::Pin,
    task::{Context, Poll, ready},
};

use http::Response;
use pin_project_lite::pin_project;

use crate::http::{body::AuthBody, response::OwnResponse};

pin_project! {
    /// Response future of [`RequireAuthService`](super::RequireAuthService).
    pub struct RequireAuthFuture<F> {
        #[pin]
        kind: Kind<F>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F> {
        // A request with a user: the wrapped service's future, not boxed.
        Inner { #[pin] future: F },
        // A request without one: the refusal.
        Refused { response: Option<OwnResponse> },
    }
}

impl<F> RequireAuthFuture<F> {
    pub(super) fn inner(future: F) -> Self {
        Self {
            kind: Kind::Inner { future },
        }
    }

    pub(super) fn refused(response: OwnResponse) -> Self {
        Self {
            kind: Kind::Refused {
                response: Some(response),
            },
        }
    }
}

impl<F> fmt::Debug for RequireAuthFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequireAuthFuture").finish_non_exhaustive()
    }
}

impl<F, B, E> Future for RequireAuthFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<AuthBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Inner { future } => {
                Poll::Ready(Ok(ready!(future.poll(cx))?.map(AuthBody::inner)))
            }
            KindProj::Refused { response } => {
                let response = response.take().expect("future polled after completion");
                Poll::Ready(Ok(response.map(AuthBody::own)))
            }
        }
    }
}
