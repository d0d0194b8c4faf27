//! The wrapped apps the layer is tested around.

use std::{
    convert::Infallible,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    task::{Context, Poll},
};

use bytes::Bytes;
use http::{HeaderValue, Request, Response, header};
use http_body_util::{BodyExt, Full};
use tower::Service;
use tower_user_auth::AuthenticatedUser;

#[path = "../../../examples/common/app.rs"]
mod demo_app;

pub use demo_app::Routes;

/// The demo's app with the test routes ([`Routes::Test`]): `GET /`, `GET /me` (id, email and
/// the session's public id) and `POST /echo`.
pub async fn app<B>(req: Request<B>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(demo_app::answer(&req, Routes::Test))
}

/// The future of [`DemoApp`].
pub type AppFuture =
    Pin<Box<dyn Future<Output = Result<Response<Full<Bytes>>, Infallible>> + Send>>;

/// [`app`] as a nameable service type.
pub type DemoApp = tower::util::ServiceFn<fn(Request<Full<Bytes>>) -> AppFuture>;

/// [`app`] as a [`DemoApp`].
pub fn demo_app() -> DemoApp {
    let f: fn(Request<Full<Bytes>>) -> AppFuture = |req| Box::pin(app(req));
    tower::service_fn(f)
}

/// The recording app: answers every request 200 with JSON naming the method, the path, the
/// body and the `AuthenticatedUser` it received (or `null`), marked `"app": true` and
/// `X-Echo: 1`; counts its calls.
#[derive(Clone, Debug, Default)]
pub struct Echo {
    /// How many requests reached the app.
    pub calls: Arc<AtomicUsize>,
}

impl<B> Service<Request<B>> for Echo
where
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: std::fmt::Debug,
{
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = AppFuture;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Box::pin(echo(req))
    }
}

/// What [`Echo`] answers.
async fn echo<B>(req: Request<B>) -> Result<Response<Full<Bytes>>, Infallible>
where
    B: http_body::Body,
    B::Error: std::fmt::Debug,
{
    let (parts, body) = req.into_parts();
    let user = parts.extensions.get::<AuthenticatedUser>().map(|u| {
        // Exhaustive: a field added to what the app receives (a hash, a token) fails here.
        let AuthenticatedUser {
            id,
            email,
            session,
            authenticated_at,
        } = u.clone();
        let authenticated_at = authenticated_at
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        serde_json::json!({
            "id": id.0,
            "email": email,
            "session": session.to_string(),
            "authenticated_at": authenticated_at,
            "debug": format!("{u:?}"),
            "serialized": serde_json::to_value(u).expect("serialize"),
        })
    });
    let body = match body.collect().await {
        Ok(c) => String::from_utf8_lossy(&c.to_bytes()).into_owned(),
        Err(e) => format!("<body error {e:?}>"),
    };
    let answer = serde_json::json!({
        "app": true,
        "method": parts.method.as_str(),
        "path": parts.uri.path(),
        "user": user,
        "body": body,
    });
    let mut res = Response::new(Full::new(Bytes::from(answer.to_string())));
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res.headers_mut()
        .insert("x-echo", HeaderValue::from_static("1"));
    Ok(res)
}

impl Echo {
    /// How many requests reached the app so far.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}
