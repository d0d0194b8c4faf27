//! A deadline on reading an auth route's request body
//! ([`AuthConfig::with_body_timeout`](crate::AuthConfig::with_body_timeout)): a client that
//! sends its body slowly, or never finishes it, is answered 408 instead of holding the route.

use std::{
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep};

use crate::BoxError;

/// The error of a [`Deadline`] body whose time ran out.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive in time")]
pub(crate) struct BodyTimeout;

pin_project! {
    /// A request body that fails with [`BodyTimeout`] once its deadline has passed. The
    /// timer is armed on the first read, so a route that never reads the body costs nothing.
    pub(crate) struct Deadline<B> {
        #[pin]
        body: B,
        // `None`: a timeout too large to add to now, which never comes.
        deadline: Option<Instant>,
        sleep: Option<Pin<Box<Sleep>>>,
    }
}

impl<B> Deadline<B> {
    /// `body`, to be read whole within `timeout` from now.
    pub(crate) fn new(body: B, timeout: Duration) -> Self {
        Self {
            body,
            deadline: Instant::now().checked_add(timeout),
            sleep: None,
        }
    }
}

impl<B> Body for Deadline<B>
where
    B: Body,
    B::Error: Into<BoxError>,
{
    type Data = B::Data;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        if let Poll::Ready(frame) = this.body.poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        let Some(deadline) = *this.deadline else {
            return Poll::Pending;
        };
        let sleep = this
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        match sleep.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(BodyTimeout.into()))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use http_body_util::{BodyExt, StreamBody};

    #[tokio::test(start_paused = true)]
    async fn a_body_that_never_ends_fails_at_its_deadline() {
        let stalled = StreamBody::new(futures_util::stream::pending::<
            Result<Frame<Bytes>, std::convert::Infallible>,
        >());
        let started = Instant::now();
        let err = Deadline::new(stalled, Duration::from_secs(30))
            .collect()
            .await
            .unwrap_err();
        assert!(err.is::<BodyTimeout>(), "{err}");
        assert_eq!(started.elapsed(), Duration::from_secs(30));
        let whole = Deadline::new(http_body_util::Full::new(Bytes::from("x")), Duration::ZERO);
        assert_eq!(whole.collect().await.unwrap().to_bytes(), "x");
    }
}
