//! A full tower stack: `AuthLayer` and the `RequireAuth` guard inside tower-http's trace,
//! timeout, compression and body-limit layers, the layer's security headers set on the app's
//! answers too, served by `tower_user_auth::serve::Server`
//! with its header-read and idle timeouts. The app is a plain `service_fn` routing by path:
//! `/` is public, `/private` answers the logged-in user's email, `/login` is a login form.
//!
//! Try it:
//!
//! ```text
//! cargo run --example tower_stack                 # on http://127.0.0.1:3000, file tower-stack.redb
//! curl -i localhost:3000/                         # 200 for anyone
//! curl -i localhost:3000/private                  # 401 {"message":"login required"}
//! curl -i -H 'Accept: text/html' localhost:3000/private   # 303 to /login?next=%2Fprivate
//! curl -d email=ann@example.com -d password='correct horse battery staple' localhost:3000/users
//! curl -c jar -d email=ann@example.com -d password='correct horse battery staple' localhost:3000/sessions
//! curl -b jar localhost:3000/private              # hello ann@example.com ...
//! curl -b jar --compressed -i localhost:3000/private      # content-encoding: gzip
//! head -c 100000 /dev/zero | curl -i --data-binary @- localhost:3000/   # 413
//! RUST_LOG=tower_http=trace cargo run --example tower_stack   # more of each request's trace
//! ```

use std::{convert::Infallible, time::Duration};

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode, header};
use http_body::Body;
use http_body_util::{BodyExt, Full, combinators::UnsyncBoxBody};
use hyper::body::Incoming;
use tower::{Layer, Service, ServiceBuilder, ServiceExt, service_fn};
use tower_http::{
    compression::CompressionLayer, limit::RequestBodyLimitLayer,
    set_header::SetResponseHeaderLayer, timeout::TimeoutLayer, trace::TraceLayer,
};
use tower_user_auth::{
    Auth, AuthConfig, AuthLayer, AuthenticatedUser, BoxError, RequireAuth, serve::Server,
};

/// How long the whole stack may take to answer a request: past it, [`TIMEOUT_STATUS`].
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// The answer of the timeout layer: 503, the server did not answer in time. (A client that is
/// slow to send an auth route's body meets the auth layer's own deadline first, 10 s here, and
/// gets 408.)
pub const TIMEOUT_STATUS: StatusCode = StatusCode::SERVICE_UNAVAILABLE;
/// The largest request body the stack lets through, to any route: 64 KiB. The auth routes keep
/// their own, lower cap (16 KiB by default, `AuthConfig::with_body_limit`).
pub const BODY_LIMIT: usize = 64 * 1024;

/// A response body any layer can make empty (`Default`, which tower-http's timeout needs for
/// its own answer) and any branch of the app can share.
pub type BoxBody = UnsyncBoxBody<Bytes, BoxError>;

/// The whole stack around the app, outermost layer first. `timeout` is how long a request
/// may take ([`REQUEST_TIMEOUT`] in `main`).
pub fn stack(
    auth: Auth,
    timeout: Duration,
) -> impl Service<
    Request<Incoming>,
    Response = Response<impl Body<Data = Bytes, Error: Into<BoxError>> + Send + 'static>,
    Error = Infallible,
    Future: Send + 'static,
> + Clone
+ Send
+ 'static {
    let hsts = auth.config().hsts_header();
    ServiceBuilder::new()
        // 1. Trace, outermost: one span per request, and the status every layer below gave,
        //    the timeout's 503 and the body limit's 413 included.
        .layer(TraceLayer::new_for_http())
        // 2. Timeout: bounds everything below (reading an auth route's body, bcrypt, the
        //    app) until the response head. It does not bound sending the response body, and
        //    the server's header-read timeout has already bounded the request head.
        .layer(TimeoutLayer::with_status_code(TIMEOUT_STATUS, timeout))
        // The timeout answers with an empty body of the type below it: boxed, which has one.
        .map_response(boxed)
        // 3. Compression, on the way out: gzip for clients that accept it, on the app's
        //    answers and on the auth layer's alike (tower-http skips bodies under 32 bytes).
        //    Above the auth layer, so that it sees the final headers the auth layer set. The
        //    secrets stay out of what is compressed: the session id travels in `Set-Cookie`,
        //    a header, and the hardened profile sends reset tokens through its mailer, not in
        //    a body (mind BREACH before compressing pages that echo input next to a secret).
        .layer(CompressionLayer::new())
        // 4. Body limit, outside the auth layer: a body over 64 KiB is refused 413 before
        //    the auth layer or the app reads any of it (by `Content-Length`; a streamed body
        //    fails its reader at the limit). The auth routes' own cap is lower and still
        //    applies to them; this one covers the app's routes, which have none.
        .layer(RequestBodyLimitLayer::new(BODY_LIMIT))
        // 5. The auth layer: serves the account routes (`POST /users`, `POST /sessions`, ...)
        //    itself and puts the `AuthenticatedUser` of a valid session cookie into the
        //    request extensions for the app.
        .layer(AuthLayer::new(auth))
        // 6. The security headers of the layer's own answers, on the app's: `nosniff`, and
        //    `Strict-Transport-Security` where the layer sends it (a Secure cookie; the value
        //    of `AuthConfig::hsts_header`). `if_not_present`: an app answer that sets one
        //    keeps its own.
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::STRICT_TRANSPORT_SECURITY,
            move |_: &Response<BoxBody>| hsts.clone(),
        ))
        .service(app())
}

/// The app: routes by path. Only `/private` is behind the guard, which reads the user the
/// auth layer put into the request: 401 JSON for API clients, 303 to `/login` for browsers.
pub fn app<B: Send + 'static>()
-> impl Service<Request<B>, Response = Response<BoxBody>, Error = Infallible, Future: Send + 'static>
+ Clone
+ Send
+ 'static {
    let private = RequireAuth::new()
        .with_login_page("/login")
        .layer(service_fn(private_page));
    service_fn(move |req: Request<B>| {
        let private = private.clone();
        async move {
            Ok(match req.uri().path() {
                "/" => boxed(page(
                    StatusCode::OK,
                    "text/plain; charset=utf-8",
                    "welcome: this page is public; log in to see /private\n".into(),
                )),
                "/login" => boxed(page(
                    StatusCode::OK,
                    "text/html; charset=utf-8",
                    LOGIN_FORM.into(),
                )),
                "/private" => boxed(private.oneshot(req).await?),
                _ => boxed(page(
                    StatusCode::NOT_FOUND,
                    "text/plain; charset=utf-8",
                    "not found\n".into(),
                )),
            })
        }
    })
}

/// The protected page: the guard lets only logged-in requests through.
async fn private_page<B>(req: Request<B>) -> Result<Response<Full<Bytes>>, Infallible> {
    let email = req
        .extensions()
        .get::<AuthenticatedUser>()
        .map_or("", |user| user.email.as_str());
    Ok(page(
        StatusCode::OK,
        "text/plain; charset=utf-8",
        format!("hello {email}: this page is for logged-in users only\n"),
    ))
}

/// A login form posting to the auth layer's `POST /sessions`.
const LOGIN_FORM: &str = "<!doctype html><title>Log in</title>\
    <form method=post action=/sessions>\
    <input name=email type=email placeholder=email> \
    <input name=password type=password placeholder=password> \
    <button>Log in</button></form>\n";

fn page(status: StatusCode, content_type: &'static str, body: String) -> Response<Full<Bytes>> {
    let mut res = Response::new(Full::new(Bytes::from(body)));
    *res.status_mut() = status;
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(content_type),
    );
    res
}

/// `res` with its body boxed.
fn boxed<B>(res: Response<B>) -> Response<BoxBody>
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    res.map(|body| body.map_err(Into::into).boxed_unsync())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,tower_http=debug".into()),
        )
        .init();
    // The hardened profile; a client gets 10 s to send an auth route's body (408 after).
    let config = AuthConfig::default().with_body_timeout(Duration::from_secs(10));
    let auth = Auth::open("tower-stack.redb", config)?;
    // The accept loop: the request head within 20 s, a connection idle for 60 s closed, at
    // most 256 connections per client and 10,000 in all, each request's client address
    // (`PeerAddr`) for the auth layer's throttling, graceful shutdown on Ctrl-C.
    Server::bind("127.0.0.1:3000")
        .await?
        .with_header_read_timeout(Duration::from_secs(20))
        .with_idle_timeout(Duration::from_secs(60))
        .with_max_connections_per_client(256)
        .with_max_connections(10_000)
        .serve(stack(auth, REQUEST_TIMEOUT), async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await;
    Ok(())
}
