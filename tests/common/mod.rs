//! Shared helpers: an `Auth` on a real redb file in a temp dir, the demo's app behind
//! `AuthLayer` on a real TCP socket, a small HTTP client, and an in-process echo service.

#![allow(dead_code, unreachable_pub)]

use std::{convert::Infallible, net::SocketAddr, time::Duration};

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper::{body::Incoming, server::conn::http1};
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::{TokioExecutor, TokioIo},
};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use tempfile::TempDir;
use tokio::net::TcpListener;
use tower::{ServiceBuilder, ServiceExt, service_fn};
use tower_user_auth::{
    Auth, AuthBody, AuthConfig, AuthLayer, AuthService, AuthenticatedUser, ManualClock, PeerAddr,
    store::RedbStore,
};

pub mod demo;

/// An `Auth` on a fresh redb file; the directory lives as long as the returned guard.
pub fn auth(config: AuthConfig) -> (Auth, TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let auth = Auth::open(dir.path().join("auth.redb"), config).expect("open store");
    (auth, dir)
}

/// As [`auth`], with a clock the test moves.
pub fn auth_with_clock(config: AuthConfig) -> (Auth, ManualClock, TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let clock = ManualClock::new(std::time::SystemTime::now());
    let store = RedbStore::open(dir.path().join("auth.redb")).expect("open store");
    let auth = Auth::with_clock(store, config, clock.clone());
    (auth, clock, dir)
}

/// The seed profile at bcrypt cost 4.
pub fn seed() -> AuthConfig {
    AuthConfig::seed().with_bcrypt_cost(4).expect("cost")
}

/// The hardened profile at bcrypt cost 4.
pub fn hardened() -> AuthConfig {
    AuthConfig::hardened().with_bcrypt_cost(4).expect("cost")
}

/// The demo's app: `GET /`, `GET /me`, and `POST /echo` (a state-changing app route).
pub async fn app<B>(req: Request<B>) -> Result<Response<Full<Bytes>>, Infallible> {
    let (status, body) = match (req.method().as_str(), req.uri().path()) {
        ("GET", "/") => (
            StatusCode::OK,
            serde_json::json!({ "message": "Bienvenue" }),
        ),
        ("GET", "/me") | ("POST", "/echo") => match req.extensions().get::<AuthenticatedUser>() {
            Some(user) => (
                StatusCode::OK,
                serde_json::json!({ "id": user.id, "email": user.email, "session": user.session.to_string() }),
            ),
            None => (
                StatusCode::UNAUTHORIZED,
                serde_json::json!({ "message": "not logged in" }),
            ),
        },
        _ => (
            StatusCode::NOT_FOUND,
            serde_json::json!({ "message": "not found" }),
        ),
    };
    let mut res = Response::new(Full::new(Bytes::from(body.to_string())));
    *res.status_mut() = status;
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        "application/json".parse().expect("value"),
    );
    Ok(res)
}

/// The in-process app type.
pub type App = tower::util::ServiceFn<fn(Request<Full<Bytes>>) -> AppFuture>;

/// The layer around [`app`], in process.
pub fn service(auth: &Auth) -> AuthService<App, RedbStore> {
    let f: fn(Request<Full<Bytes>>) -> AppFuture = |req| Box::pin(app(req));
    ServiceBuilder::new()
        .layer(AuthLayer::new(auth.clone()))
        .service(service_fn(f))
}

pub type AppFuture = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<Response<Full<Bytes>>, Infallible>> + Send>,
>;

/// A server on 127.0.0.1:0 serving [`app`] behind the layer, as the demo does.
pub struct Server {
    pub base: String,
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Server {
    /// The URL of `path` on this server.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

pub async fn serve(auth: &Auth) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let service = ServiceBuilder::new()
        .layer(AuthLayer::new(auth.clone()))
        .service(service_fn(app::<Incoming>));
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, peer)) = listener.accept().await else {
                continue;
            };
            let service = service.clone();
            tokio::spawn(async move {
                let per_request = hyper::service::service_fn(move |mut req: Request<Incoming>| {
                    req.extensions_mut().insert(PeerAddr(peer));
                    service.clone().oneshot(req)
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), per_request)
                    .await;
            });
        }
    });
    Server {
        base: format!("http://{addr}"),
        addr,
        task,
    }
}

/// The boundary style of curl's `-F`.
pub const CURL_BOUNDARY: &str = "------------------------d74496d66958873e";

/// A request body.
pub enum Body<'a> {
    Empty,
    Form(&'a [(&'a str, &'a str)]),
    Multipart(&'a [(&'a str, &'a str)]),
    Json(serde_json::Value),
    Raw(&'a str, Vec<u8>),
}

impl Body<'_> {
    /// Content type and bytes.
    pub fn encode(&self) -> (Option<String>, Vec<u8>) {
        match self {
            Body::Empty => (None, Vec::new()),
            Body::Form(fields) => {
                let s = fields
                    .iter()
                    .map(|(k, v)| {
                        format!(
                            "{}={}",
                            utf8_percent_encode(k, NON_ALPHANUMERIC),
                            utf8_percent_encode(v, NON_ALPHANUMERIC)
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("&");
                (
                    Some("application/x-www-form-urlencoded".into()),
                    s.into_bytes(),
                )
            }
            Body::Multipart(fields) => {
                // As `curl -F name=value` sends it.
                let mut s = String::new();
                for (k, v) in *fields {
                    s.push_str(&format!(
                        "--{CURL_BOUNDARY}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
                    ));
                }
                s.push_str(&format!("--{CURL_BOUNDARY}--\r\n"));
                (
                    Some(format!("multipart/form-data; boundary={CURL_BOUNDARY}")),
                    s.into_bytes(),
                )
            }
            Body::Json(v) => (Some("application/json".into()), v.to_string().into_bytes()),
            Body::Raw(ct, bytes) => (Some((*ct).to_owned()), bytes.clone()),
        }
    }
}

/// An answer, read whole.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }

    /// The value the answer's `Set-Cookie` gives `name`, if any.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|v| {
                let first = v.split(';').next()?.trim();
                let (k, val) = first.split_once('=')?;
                (k == name).then(|| val.to_owned())
            })
    }

    /// The whole `Set-Cookie` line for `name`.
    pub fn set_cookie_line(&self, name: &str) -> Option<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with(&format!("{name}=")))
            .map(str::to_owned)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// An HTTP client over TCP that never follows redirects, with a 10 s limit per request.
#[derive(Clone)]
pub struct Http {
    client: Client<HttpConnector, Full<Bytes>>,
}

impl Default for Http {
    fn default() -> Self {
        Self::new()
    }
}

impl Http {
    pub fn new() -> Self {
        Self {
            client: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    /// As [`Http::try_send`], panicking on a connection error or a timeout.
    pub async fn send(
        &self,
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
        body: Body<'_>,
    ) -> Answer {
        self.try_send(method, url, headers, body)
            .await
            .unwrap_or_else(|e| panic!("request failed: {e}"))
    }

    /// Sends a request and follows redirects as Python `requests` does: after a 302 or 303
    /// (and a 301 answering a POST) the next request is a GET (HEAD stays HEAD) without a
    /// body; otherwise the method and body are kept; the
    /// other headers, the `Cookie` header included, are sent again. Returns every answer in
    /// order, the last one final; at most 5 redirects.
    pub async fn send_following(
        &self,
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
        body: Body<'_>,
    ) -> Vec<Answer> {
        let (ct, bytes) = body.encode();
        let mut method = method;
        let mut url = url.to_owned();
        let mut body = ct.map(|ct| (ct, bytes));
        let mut answers = Vec::new();
        for _ in 0..=5 {
            let this_body = match &body {
                Some((ct, bytes)) => Body::Raw(ct.as_str(), bytes.clone()),
                None => Body::Empty,
            };
            let a = self.send(method.clone(), &url, headers, this_body).await;
            let status = a.status.as_u16();
            let location = a.header("location").map(str::to_owned);
            answers.push(a);
            let Some(location) = location.filter(|_| matches!(status, 301..=303 | 307 | 308))
            else {
                return answers;
            };
            url = resolve(&url, &location);
            // requests' `rebuild_method`.
            let to_get = match status {
                302 | 303 => method != Method::HEAD,
                301 => method == Method::POST,
                _ => false,
            };
            if to_get {
                method = Method::GET;
                body = None;
            }
        }
        panic!("more than 5 redirects: {answers:?}");
    }

    /// Sends a request; a connection error or a timeout (10 s) is an `Err`, for servers that
    /// may be killed mid-request.
    pub async fn try_send(
        &self,
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
        body: Body<'_>,
    ) -> Result<Answer, String> {
        let (ct, bytes) = body.encode();
        let mut req = Request::builder().method(method).uri(url);
        if let Some(ct) = ct {
            req = req.header(header::CONTENT_TYPE, ct);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req
            .body(Full::new(Bytes::from(bytes)))
            .map_err(|e| e.to_string())?;
        let res = tokio::time::timeout(Duration::from_secs(10), self.client.request(req))
            .await
            .map_err(|_| "timeout".to_owned())?
            .map_err(|e| e.to_string())?;
        let (parts, body) = res.into_parts();
        let body = tokio::time::timeout(Duration::from_secs(10), body.collect())
            .await
            .map_err(|_| "timeout".to_owned())?
            .map_err(|e| e.to_string())?
            .to_bytes();
        Ok(Answer {
            status: parts.status,
            headers: parts.headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        })
    }
}

/// `location` resolved against `base` (absolute URLs and absolute paths).
pub fn resolve(base: &str, location: &str) -> String {
    if location.starts_with("http://") || location.starts_with("https://") {
        return location.to_owned();
    }
    assert!(
        location.starts_with('/'),
        "relative Location not supported: {location}"
    );
    let after_scheme = base.find("://").map_or(0, |i| i + 3);
    let origin_end = base[after_scheme..]
        .find('/')
        .map_or(base.len(), |i| after_scheme + i);
    format!("{}{location}", &base[..origin_end])
}

/// How many users, sessions and reset tokens the store holds.
pub fn counts(auth: &Auth) -> (u64, u64, u64) {
    auth.store().counts().expect("counts")
}

/// Asserts that `a` is a refusal with `status`: a JSON body `{"message": "..."}` and nothing
/// else, with `Content-Type: application/json`.
#[track_caller]
pub fn assert_error(a: &Answer, status: StatusCode) {
    assert_eq!(a.status, status, "{}", a.body);
    assert_eq!(
        a.header("content-type"),
        Some("application/json"),
        "{status}: {}",
        a.body
    );
    let v = a.json();
    let message = v.get("message").and_then(serde_json::Value::as_str);
    assert!(
        message.is_some_and(|m| !m.is_empty()),
        "{status}: no message in {v}"
    );
    assert_eq!(
        v.as_object().map(serde_json::Map::len),
        Some(1),
        "{status}: only a message: {v}"
    );
}

/// Calls the in-process service once.
pub async fn call<S>(svc: &S, req: Request<Full<Bytes>>) -> Answer
where
    S: tower::Service<
            Request<Full<Bytes>>,
            Response = Response<AuthBody<Full<Bytes>>>,
            Error = Infallible,
        > + Clone,
{
    let res = tokio::time::timeout(Duration::from_secs(10), svc.clone().oneshot(req))
        .await
        .expect("answer within 10 s")
        .expect("infallible");
    let (parts, body) = res.into_parts();
    let body = body.collect().await.expect("body").to_bytes();
    Answer {
        status: parts.status,
        headers: parts.headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

/// Builds an in-process request.
pub fn request(
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Body<'_>,
) -> Request<Full<Bytes>> {
    let (ct, bytes) = body.encode();
    let mut req = Request::builder().method(method).uri(path);
    if let Some(ct) = ct {
        req = req.header(header::CONTENT_TYPE, ct);
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.body(Full::new(Bytes::from(bytes))).expect("request")
}

/// As [`request`], from a client address.
pub fn request_from(
    peer: &str,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Body<'_>,
) -> Request<Full<Bytes>> {
    let mut req = request(method, path, headers, body);
    req.extensions_mut()
        .insert(PeerAddr(peer.parse().expect("socket address")));
    req
}
