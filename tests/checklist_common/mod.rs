//! What the security tests share: an [`Auth`] on a real redb file in a temporary directory
//! with a [`ManualClock`], an echo app behind [`AuthLayer`] that reports the
//! [`AuthenticatedUser`] it receives, request builders, response readers, and a real TCP
//! server in the demo's style (peer address in the request extensions).

#![allow(dead_code)]

use std::{
    convert::Infallible,
    future::{Ready, ready},
    net::{IpAddr, SocketAddr},
    path::PathBuf,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    task::{Context, Poll},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;
use tempfile::TempDir;
use tokio::{net::TcpListener, sync::mpsc, task::JoinHandle};
use tower::{Layer, Service, ServiceExt};
use tower_user_auth::{
    Auth, AuthConfig, AuthLayer, AuthService, AuthenticatedUser, BoxError, ManualClock, PeerAddr,
    ThrottleConfig, User, UserId,
    store::{RedbStore, Store, UserQuery},
    token::{ResetToken, TokenDigest},
};

/// Where every test's clock starts: a plausible present.
pub const START_SECS: u64 = 1_700_000_000;

/// The client address requests come from unless a test says otherwise.
pub const DEFAULT_PEER: &str = "192.0.2.10:40000";

/// The name of the database file in the harness's temporary directory.
pub const DB_FILE: &str = "auth.redb";

pub type Body = Full<Bytes>;

pub fn start_time() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(START_SECS)
}

/// The seed profile at bcrypt cost 4.
pub fn seed_config() -> AuthConfig {
    AuthConfig::seed().with_bcrypt_cost(4).expect("cost 4")
}

/// The hardened profile (the library's `Default`) at bcrypt cost 4.
pub fn hardened_config() -> AuthConfig {
    AuthConfig::default().with_bcrypt_cost(4).expect("cost 4")
}

/// A strong password every profile accepts.
pub const GOOD_PW: &str = "correct horse battery staple";
/// Another one.
pub const OTHER_PW: &str = "purple monkey dishwasher 42";

// ---------------------------------------------------------------------------------------------
// The wrapped app.

/// The wrapped app: answers 200 with JSON naming the method, the path and the
/// `AuthenticatedUser` it received (or `null`), and counts its calls.
#[derive(Clone, Debug, Default)]
pub struct Echo {
    pub calls: Arc<AtomicUsize>,
}

impl<B> Service<Request<B>> for Echo {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Ready<Result<Response<Body>, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let user = req.extensions().get::<AuthenticatedUser>().map(|u| {
            serde_json::json!({
                "id": u.id.0,
                "email": u.email,
                "session": u.session.to_string(),
                "debug": format!("{u:?}"),
                "serialized": serde_json::to_value(u).expect("serialize"),
            })
        });
        let body = serde_json::json!({
            "app": true,
            "method": req.method().as_str(),
            "path": req.uri().path(),
            "user": user,
        });
        let mut res = Response::new(Full::new(Bytes::from(body.to_string())));
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        ready(Ok(res))
    }
}

// ---------------------------------------------------------------------------------------------
// Responses.

/// A response with its body read.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Resp {
    pub async fn read<B>(res: Response<B>) -> Self
    where
        B: http_body::Body,
        B::Error: std::fmt::Debug,
    {
        let (parts, body) = res.into_parts();
        let body = body.collect().await.expect("response body").to_bytes();
        Self {
            status: parts.status,
            headers: parts.headers,
            body,
        }
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {:?} (status {})",
                self.text(),
                self.status
            )
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(name)
            .map(|v| v.to_str().expect("ascii header"))
    }

    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().expect("ascii set-cookie").to_owned())
            .collect()
    }

    /// The `Set-Cookie` line for the cookie `name`, if any.
    pub fn set_cookie_for(&self, name: &str) -> Option<String> {
        self.set_cookies()
            .into_iter()
            .find(|c| cookie_name_value(c).0 == name)
    }

    /// The value the response sets the session cookie `session_id` to.
    pub fn session_cookie(&self) -> Option<String> {
        self.session_cookie_named("session_id")
    }

    pub fn session_cookie_named(&self, name: &str) -> Option<String> {
        self.set_cookie_for(name)
            .map(|c| cookie_name_value(&c).1.to_owned())
    }

    /// The answer is an application answer (the wrapped echo app), and the user it saw.
    pub fn app_user(&self) -> Option<Value> {
        let v = self.json();
        assert_eq!(v["app"], true, "not the wrapped app's answer: {v}");
        match &v["user"] {
            Value::Null => None,
            u => Some(u.clone()),
        }
    }

    pub fn retry_after(&self) -> Option<u64> {
        self.header("retry-after")
            .map(|v| v.parse().expect("Retry-After in seconds"))
    }
}

/// `("name", "value")` of a `Set-Cookie` line.
pub fn cookie_name_value(line: &str) -> (&str, &str) {
    let first = line.split(';').next().unwrap_or("").trim();
    first.split_once('=').unwrap_or((first, ""))
}

/// The attributes of a `Set-Cookie` line, lowercased, without the name=value pair.
pub fn cookie_attributes(line: &str) -> Vec<String> {
    line.split(';')
        .skip(1)
        .map(|a| a.trim().to_ascii_lowercase())
        .filter(|a| !a.is_empty())
        .collect()
}

/// The line clears the cookie: empty value and `Max-Age=0`.
pub fn clears(line: &str) -> bool {
    cookie_name_value(line).1.is_empty() && cookie_attributes(line).iter().any(|a| a == "max-age=0")
}

// ---------------------------------------------------------------------------------------------
// Requests.

pub fn urlencode(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                utf8_percent_encode(k, NON_ALPHANUMERIC),
                utf8_percent_encode(v, NON_ALPHANUMERIC)
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// A request with an urlencoded form body.
pub fn form(method: Method, path: &str, fields: &[(&str, &str)]) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(path)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Full::new(Bytes::from(urlencode(fields))))
        .expect("request")
}

/// A request without a body.
pub fn empty(method: Method, path: &str) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(path)
        .body(Full::default())
        .expect("request")
}

pub fn get(path: &str) -> Request<Body> {
    empty(Method::GET, path)
}

/// Adds `Cookie: session_id=<token>`.
pub fn with_cookie<B>(req: Request<B>, token: &str) -> Request<B> {
    with_header(req, "cookie", &format!("session_id={token}"))
}

pub fn with_header<B>(mut req: Request<B>, name: &'static str, value: &str) -> Request<B> {
    req.headers_mut()
        .append(name, HeaderValue::from_str(value).expect("header value"));
    req
}

/// Sets the client's address (the peer address the server would put in the extensions).
pub fn from_peer<B>(mut req: Request<B>, peer: &str) -> Request<B> {
    let addr: SocketAddr = peer
        .parse()
        .unwrap_or_else(|_| SocketAddr::new(peer.parse::<IpAddr>().expect("an address"), 40000));
    req.extensions_mut().insert(PeerAddr(addr));
    req
}

// ---------------------------------------------------------------------------------------------
// The harness.

/// An `Auth` over a real redb file in a temporary directory, with a manual clock, and an echo
/// app behind `AuthLayer`.
pub struct Harness {
    pub dir: TempDir,
    pub path: PathBuf,
    pub store: RedbStore,
    pub auth: Auth,
    pub clock: ManualClock,
    pub app: Echo,
}

impl Harness {
    pub fn new(config: AuthConfig) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join(DB_FILE);
        let store = RedbStore::open(&path).expect("open store");
        let clock = ManualClock::new(start_time());
        let auth = Auth::with_clock(store.clone(), config, clock.clone());
        Self {
            dir,
            path,
            store,
            auth,
            clock,
            app: Echo::default(),
        }
    }

    pub fn seed() -> Self {
        Self::new(seed_config())
    }

    pub fn hardened() -> Self {
        Self::new(hardened_config())
    }

    pub fn service(&self) -> AuthService<Echo, RedbStore> {
        AuthLayer::new(self.auth.clone()).layer(self.app.clone())
    }

    pub fn app_calls(&self) -> usize {
        self.app.calls.load(Ordering::SeqCst)
    }

    /// Sends `req` through the layer, from [`DEFAULT_PEER`] unless it names a peer.
    pub async fn send(&self, mut req: Request<Body>) -> Resp {
        if req.extensions().get::<PeerAddr>().is_none() {
            req.extensions_mut()
                .insert(PeerAddr(DEFAULT_PEER.parse().expect("peer")));
        }
        self.send_raw(req).await
    }

    /// Sends `req` as it is (no peer address added).
    pub async fn send_raw(&self, req: Request<Body>) -> Resp {
        let res = self.service().oneshot(req).await.expect("infallible");
        Resp::read(res).await
    }

    pub async fn register(&self, email: &str, password: &str) -> Resp {
        self.send(form(
            Method::POST,
            "/users",
            &[("email", email), ("password", password)],
        ))
        .await
    }

    /// Registers and asserts 200.
    pub async fn registered(&self, email: &str, password: &str) -> UserId {
        let res = self.register(email, password).await;
        assert_eq!(res.status, 200, "register {email}: {}", res.text());
        self.user(email).await.id
    }

    pub async fn login(&self, email: &str, password: &str) -> Resp {
        self.send(form(
            Method::POST,
            "/sessions",
            &[("email", email), ("password", password)],
        ))
        .await
    }

    pub async fn login_from(&self, email: &str, password: &str, peer: &str) -> Resp {
        self.send(from_peer(
            form(
                Method::POST,
                "/sessions",
                &[("email", email), ("password", password)],
            ),
            peer,
        ))
        .await
    }

    /// Logs in and returns the session cookie's value (asserts 200).
    pub async fn session(&self, email: &str, password: &str) -> String {
        let res = self.login(email, password).await;
        assert_eq!(res.status, 200, "login {email}: {}", res.text());
        res.session_cookie().expect("a session cookie")
    }

    pub async fn profile(&self, token: &str) -> Resp {
        self.send(with_cookie(get("/profile"), token)).await
    }

    pub async fn logout(&self, token: &str) -> Resp {
        self.send(with_cookie(empty(Method::DELETE, "/sessions"), token))
            .await
    }

    /// `GET /` through the layer with the cookie: the wrapped app's answer.
    pub async fn app_get(&self, token: &str) -> Resp {
        self.send(with_cookie(get("/"), token)).await
    }

    pub async fn request_reset(&self, email: &str) -> Resp {
        self.send(form(Method::POST, "/reset_password", &[("email", email)]))
            .await
    }

    pub async fn reset(&self, email: &str, token: &str, new_password: &str) -> Resp {
        self.send(form(
            Method::PUT,
            "/reset_password",
            &[
                ("email", email),
                ("reset_token", token),
                ("new_password", new_password),
            ],
        ))
        .await
    }

    pub async fn change_password(&self, cookie: &str, current: &str, new: &str) -> Resp {
        self.send(with_cookie(
            form(
                Method::PUT,
                "/profile/password",
                &[("current_password", current), ("new_password", new)],
            ),
            cookie,
        ))
        .await
    }

    pub async fn user(&self, email: &str) -> User {
        self.store
            .find_user_by(UserQuery::Email(email.to_owned()))
            .await
            .expect("user exists")
    }

    pub async fn user_exists(&self, email: &str) -> bool {
        self.store
            .find_user_by(UserQuery::Email(email.to_owned()))
            .await
            .is_ok()
    }

    /// (users, sessions, reset tokens) stored.
    pub fn counts(&self) -> (u64, u64, u64) {
        self.store.counts().expect("counts")
    }

    /// Whether the session of this cookie value is stored.
    pub async fn session_stored(&self, token: &str) -> bool {
        self.store
            .session(TokenDigest::of(token))
            .await
            .expect("read")
            .is_some()
    }

    pub fn advance(&self, by: Duration) {
        self.clock.advance(by);
    }

    /// Lets detached tasks (session renewal) run, then waits until the store's writer has
    /// committed everything they queued: a no-op write queued after theirs is answered only
    /// after their commit.
    pub async fn drain(&self) {
        for _ in 0..50 {
            tokio::task::yield_now().await;
        }
        self.store
            .delete_session(TokenDigest([0; 32]))
            .await
            .expect("no-op write");
        // And let those tasks see their answers (they then forget the session they renewed).
        for _ in 0..50 {
            tokio::task::yield_now().await;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Reset tokens delivered to a hook.

/// What the reset hook received, in order.
pub struct Inbox(pub mpsc::UnboundedReceiver<(String, String)>);

impl Inbox {
    /// A hook that sends `(email, token)` here.
    pub fn hook() -> (
        impl Fn(&str, &ResetToken) -> Result<(), BoxError> + Send + Sync + 'static,
        Self,
    ) {
        let (tx, rx) = mpsc::unbounded_channel();
        let hook = move |email: &str, token: &ResetToken| {
            tx.send((email.to_owned(), token.expose().to_owned()))
                .map_err(|e| -> BoxError { e.to_string().into() })
        };
        (hook, Self(rx))
    }

    /// The next delivery (waits up to 10 s for the detached hook).
    pub async fn next(&mut self) -> (String, String) {
        tokio::time::timeout(Duration::from_secs(10), self.0.recv())
            .await
            .expect("the hook was called within 10 s")
            .expect("hook channel open")
    }

    /// Nothing was delivered so far.
    pub fn is_empty(&mut self) -> bool {
        self.0.try_recv().is_err()
    }
}

/// A hardened harness whose reset hook delivers into an [`Inbox`].
pub fn hardened_with_inbox(config: AuthConfig) -> (Harness, Inbox) {
    let (hook, inbox) = Inbox::hook();
    (Harness::new(config.with_reset_token_hook(hook)), inbox)
}

/// No throttling, for tests that make many attempts on purpose.
pub fn unthrottled(config: AuthConfig) -> AuthConfig {
    config.with_throttle(ThrottleConfig::disabled())
}

// ---------------------------------------------------------------------------------------------
// A real TCP server and client.

/// Serves the layer over `auth` around [`Echo`] on 127.0.0.1, one HTTP/1 connection per task,
/// putting each connection's peer address in its requests' extensions as the demo does.
pub async fn serve(auth: Auth) -> (SocketAddr, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    let service = AuthLayer::new(auth).layer(Echo::default());
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, peer)) = listener.accept().await else {
                return;
            };
            let service = service.clone();
            let per_request =
                hyper::service::service_fn(move |mut req: Request<hyper::body::Incoming>| {
                    req.extensions_mut().insert(PeerAddr(peer));
                    service.clone().oneshot(req)
                });
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), per_request)
                    .await;
            });
        }
    });
    (addr, task)
}

/// Sends one request over a new TCP connection to `addr`.
pub async fn http(addr: SocketAddr, mut req: Request<Body>) -> Resp {
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(conn);
    if !req.headers().contains_key(header::HOST) {
        req.headers_mut().insert(
            header::HOST,
            HeaderValue::from_str(&addr.to_string()).expect("host"),
        );
    }
    let res = sender.send_request(req).await.expect("response");
    Resp::read(res).await
}

// ---------------------------------------------------------------------------------------------
// Small statistics for the timing tests.

pub fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// `a / b` as a float.
pub fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64().max(1e-9)
}
