//! Over TCP: the layer on a real socket (each connection's peer address in its requests'
//! extensions, as the demo does), and two clients: [`Http`] (by URL, pooled, optionally
//! following redirects) and [`http`] (one prepared request on a new connection).

use std::{convert::Infallible, net::SocketAddr, time::Duration};

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, header};
use http_body_util::{BodyExt, Full};
use hyper::{body::Incoming, server::conn::http1};
use hyper_util::{
    client::legacy::{Client as HyperClient, connect::HttpConnector},
    rt::{TokioExecutor, TokioIo},
};
use tokio::net::TcpListener;
use tower::{Layer, Service, ServiceExt};
use tower_user_auth::{Auth, AuthLayer, PeerAddr};

use super::{Answer, Body, Echo, FullBody, app, cookie_header, try_request};

/// A server on 127.0.0.1:0; stopped when dropped.
pub struct Server {
    /// `http://ADDR`.
    pub base: String,
    pub addr: SocketAddr,
    /// A client of this server.
    pub http: Client,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Server {
    /// Binds 127.0.0.1:0 and spawns `accept_loop` on the listener.
    async fn spawn<F>(accept_loop: impl FnOnce(TcpListener) -> F) -> Self
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let task = tokio::spawn(accept_loop(listener));
        let base = format!("http://{addr}");
        Self {
            http: Client::new(&base),
            base,
            addr,
            task,
        }
    }

    /// The URL of `path` on this server.
    pub fn url(&self, path: &str) -> String {
        self.http.url(path)
    }
}

/// Serves the demo's app ([`app`]) behind the layer over `auth`.
pub async fn serve(auth: &Auth) -> Server {
    serve_app(auth, tower::service_fn(app::<Incoming>)).await
}

/// Serves [`Echo`] behind the layer over `auth`.
pub async fn serve_echo(auth: &Auth) -> Server {
    serve_app(auth, Echo::default()).await
}

/// Serves `app` behind the layer over `auth` on 127.0.0.1, one HTTP/1 connection per task.
pub async fn serve_app<A>(auth: &Auth, app: A) -> Server
where
    A: Service<Request<Incoming>, Response = Response<Full<Bytes>>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    A::Future: Send + 'static,
{
    serve_service(AuthLayer::new(auth.clone()).layer(app)).await
}

/// Serves `service` (a whole stack, the layer included) on 127.0.0.1, one HTTP/1 connection
/// per task, each request carrying its connection's [`PeerAddr`].
pub async fn serve_service<S, B>(service: S) -> Server
where
    S: Service<Request<Incoming>, Response = Response<B>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    Server::spawn(|listener| async move {
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
    })
    .await
}

/// Serves `service` on 127.0.0.1 through the crate's own accept loop,
/// `tower_user_auth::serve::Server`, with its default timeouts and caps, as the examples'
/// `main` do (the bounds are that loop's).
#[cfg(feature = "server")]
pub async fn serve_with_server<S, B>(service: S) -> Server
where
    S: Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<tower_user_auth::BoxError>,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<tower_user_auth::BoxError>,
{
    Server::spawn(|listener| {
        tower_user_auth::serve::Server::from_listener(listener)
            .serve(service, std::future::pending())
    })
    .await
}

/// Sends one request over a new TCP connection to `addr` (adds `Host` if missing).
pub async fn http(addr: SocketAddr, req: Request<FullBody>) -> Answer {
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    send_on(stream, addr, req).await
}

/// As [`http`], from the local address `from` (such as 127.0.0.2: any of 127.0.0.0/8 reaches
/// a server on 127.0.0.1), so that the server sees another client.
pub async fn http_from(from: std::net::IpAddr, addr: SocketAddr, req: Request<FullBody>) -> Answer {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket
        .bind(SocketAddr::new(from, 0))
        .expect("bind the client");
    let stream = socket.connect(addr).await.expect("connect");
    send_on(stream, addr, req).await
}

async fn send_on(
    stream: tokio::net::TcpStream,
    addr: SocketAddr,
    mut req: Request<FullBody>,
) -> Answer {
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
    Answer::read(res).await
}

/// An HTTP client over TCP that never follows redirects unless asked, with a 10 s limit per
/// request.
#[derive(Clone)]
pub struct Http {
    client: HyperClient<HttpConnector, FullBody>,
}

impl Default for Http {
    fn default() -> Self {
        Self::new()
    }
}

impl Http {
    pub fn new() -> Self {
        Self {
            client: HyperClient::builder(TokioExecutor::new()).build_http(),
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
        let req = try_request(method, url, headers, body).map_err(|e| e.to_string())?;
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
        Ok(Answer::from_parts(parts, &body))
    }
}

/// An [`Http`] client of one site (a [`Server`], a [`Demo`](super::Demo)): requests name
/// paths, not URLs; clones share the connection pool.
#[derive(Clone)]
pub struct Client {
    pub http: Http,
    /// `http://ADDR`.
    pub base: String,
    /// Appended to every path (`"/"` to send the routes with a trailing slash).
    pub suffix: &'static str,
}

impl Client {
    /// A client of `base` (`http://ADDR`).
    pub fn new(base: &str) -> Self {
        Self {
            http: Http::new(),
            base: base.to_owned(),
            suffix: "",
        }
    }

    /// The same client, sending every path with a trailing slash.
    pub fn with_trailing_slash(&self) -> Self {
        Self {
            suffix: "/",
            ..self.clone()
        }
    }

    /// The URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}{}", self.base, self.suffix)
    }

    /// [`Http::send`] to `path`.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Body<'_>,
    ) -> Answer {
        self.http.send(method, &self.url(path), headers, body).await
    }

    /// `method path` with the form `fields`, the `Cookie` header `cookie` (none if empty)
    /// and the `extra` headers.
    pub async fn send_form(
        &self,
        method: Method,
        path: &str,
        cookie: &str,
        extra: &[(&str, &str)],
        fields: &[(&str, &str)],
    ) -> Answer {
        let mut headers = cookie_header(cookie);
        headers.extend_from_slice(extra);
        self.send(method, path, &headers, Body::Form(fields)).await
    }

    /// [`Http::try_send`] to `path`.
    pub async fn try_send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Body<'_>,
    ) -> Result<Answer, String> {
        self.http
            .try_send(method, &self.url(path), headers, body)
            .await
    }

    /// `DELETE path` with `cookie`, following redirects ([`Http::send_following`]).
    pub async fn delete_following(&self, path: &str, cookie: &str) -> Vec<Answer> {
        let url = self.url(path);
        self.http
            .send_following(Method::DELETE, &url, &cookie_header(cookie), Body::Empty)
            .await
    }

    /// `GET path`, with `cookie` as the `Cookie` header unless it is empty.
    pub async fn get(&self, path: &str, cookie: &str) -> Answer {
        self.without_body(Method::GET, path, cookie).await
    }

    /// `DELETE path`, with `cookie` as the `Cookie` header unless it is empty.
    pub async fn delete(&self, path: &str, cookie: &str) -> Answer {
        self.without_body(Method::DELETE, path, cookie).await
    }

    /// `POST path` with `body`, without a cookie.
    pub async fn post(&self, path: &str, body: Body<'_>) -> Answer {
        self.send(Method::POST, path, &[], body).await
    }

    /// `PUT path` with `body`, without a cookie.
    pub async fn put(&self, path: &str, body: Body<'_>) -> Answer {
        self.send(Method::PUT, path, &[], body).await
    }

    async fn without_body(&self, method: Method, path: &str, cookie: &str) -> Answer {
        self.send(method, path, &cookie_header(cookie), Body::Empty)
            .await
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
