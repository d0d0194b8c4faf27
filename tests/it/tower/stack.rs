//! `examples/tower_stack.rs` on a real socket, served by `tower_user_auth::serve::Server` as
//! its `main` does: the public page, the `RequireAuth` guard on `/private` (401 JSON, 303 for
//! browsers), an account registered and logged in through the whole stack, and tower-http's
//! layers around the auth layer: gzip on the way out, 413 for a body over the stack's limit,
//! the timeout's 503 for a request that takes too long.

#![cfg(feature = "server")]

use crate::support;

#[path = "../../../examples/tower_stack.rs"]
#[allow(dead_code)]
mod example;

use std::{io::Read, time::Duration};

use bytes::Bytes;
use http::{Method, StatusCode, header, response::Parts};
use http_body_util::BodyExt;
use hyper_util::rt::TokioIo;
use support::*;
use tempfile::TempDir;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

const EMAIL: &str = "ann@example.com";
const PUBLIC_PAGE: &str = "welcome: this page is public; log in to see /private\n";

/// The example's stack over a fresh store (hardened profile, unthrottled), served on
/// 127.0.0.1 by the crate's accept loop, as the example's `main` does; stopped when dropped.
struct Running {
    server: Server,
    _dir: TempDir,
}

impl Running {
    /// With the example's own request timeout.
    async fn start() -> Self {
        Self::with_timeout(example::REQUEST_TIMEOUT).await
    }

    async fn with_timeout(timeout: Duration) -> Self {
        let (auth, dir) = auth(unthrottled(hardened_config()));
        let server = serve_with_server(example::stack(auth, timeout)).await;
        Self { server, _dir: dir }
    }

    async fn send(&self, req: http::Request<FullBody>) -> Answer {
        http(self.server.addr, req).await
    }

    /// Registers [`EMAIL`] and logs in, through the stack: the session cookie.
    async fn session(&self) -> String {
        let fields = [("email", EMAIL), ("password", GOOD_PW)];
        let registered = self.send(form(Method::POST, "/users", &fields)).await;
        assert_eq!(registered.status, StatusCode::OK, "{registered:?}");
        let logged_in = self.send(form(Method::POST, "/sessions", &fields)).await;
        assert_eq!(logged_in.status, StatusCode::OK, "{logged_in:?}");
        logged_in.session_cookie().expect("a session cookie")
    }

    /// Sends `req` and reads the answer's body as bytes, as they came (not decoded).
    async fn send_raw(&self, mut req: http::Request<FullBody>) -> (Parts, Bytes) {
        let stream = TcpStream::connect(self.server.addr).await.expect("connect");
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .expect("handshake");
        tokio::spawn(conn);
        let host = self.server.addr.to_string();
        req.headers_mut()
            .insert(header::HOST, host.parse().expect("host"));
        let res = sender.send_request(req).await.expect("response");
        let (parts, body) = res.into_parts();
        (parts, body.collect().await.expect("body").to_bytes())
    }
}

#[tokio::test]
async fn the_public_page_is_open_and_the_guard_refuses_private_without_a_login() {
    let app = Running::start().await;
    let public = app.send(get("/")).await;
    assert_eq!(public.status, StatusCode::OK);
    assert_eq!(public.body, PUBLIC_PAGE);

    // An API client: the guard's 401 JSON.
    let refused = app.send(get("/private")).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{refused:?}");
    assert_eq!(
        refused.json(),
        serde_json::json!({"message": "login required"})
    );
    assert_eq!(refused.header("cache-control"), Some("no-store"));

    // A browser: 303 to the login page, and back here afterwards.
    let browser = app
        .send(with_header(
            get("/private"),
            "accept",
            "text/html,application/xhtml+xml,*/*;q=0.8",
        ))
        .await;
    assert_eq!(browser.status, StatusCode::SEE_OTHER, "{browser:?}");
    assert_eq!(browser.header("location"), Some("/login?next=%2Fprivate"));
    let login = app.send(get("/login")).await;
    assert_eq!(login.status, StatusCode::OK);
    assert!(login.body.contains("action=/sessions"), "{}", login.body);

    // A cookie naming no session is no login either.
    let unknown = app
        .send(with_cookie(
            get("/private"),
            "00000000-0000-4000-8000-000000000000",
        ))
        .await;
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.send(get("/elsewhere")).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn an_account_registered_and_logged_in_through_the_stack_reaches_private() {
    let app = Running::start().await;
    let token = app.session().await;
    let private = app.send(with_cookie(get("/private"), &token)).await;
    assert_eq!(private.status, StatusCode::OK, "{private:?}");
    assert_eq!(
        private.body,
        format!("hello {EMAIL}: this page is for logged-in users only\n")
    );
    // Logged out, through the stack too: the guard refuses again.
    let out = app
        .send(with_cookie(empty(Method::DELETE, "/sessions"), &token))
        .await;
    assert!(
        out.status.is_success() || out.status.is_redirection(),
        "{out:?}"
    );
    let after = app.send(with_cookie(get("/private"), &token)).await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_apps_answers_are_gzipped_for_a_client_that_accepts_it() {
    let app = Running::start().await;
    let token = app.session().await;
    let expected = [
        (get("/"), PUBLIC_PAGE.to_owned()),
        (
            with_cookie(get("/private"), &token),
            format!("hello {EMAIL}: this page is for logged-in users only\n"),
        ),
    ];
    for (req, text) in expected {
        let path = req.uri().path().to_owned();
        let (parts, body) = app
            .send_raw(with_header(req, "accept-encoding", "gzip"))
            .await;
        assert_eq!(parts.status, StatusCode::OK, "{path}");
        assert_eq!(
            parts
                .headers
                .get(header::CONTENT_ENCODING)
                .map(|v| v.as_bytes()),
            Some(&b"gzip"[..]),
            "{path}: {parts:?}"
        );
        let mut decoded = String::new();
        flate2::read::GzDecoder::new(&body[..])
            .read_to_string(&mut decoded)
            .expect("a gzip body");
        assert_eq!(decoded, text, "{path}");
    }
    // Without `Accept-Encoding`, the answer is as the app wrote it.
    let plain = app.send(get("/")).await;
    assert_eq!(plain.header("content-encoding"), None);
    assert_eq!(plain.body, PUBLIC_PAGE);
}

#[tokio::test]
async fn a_body_over_the_stacks_limit_is_refused_with_413() {
    let app = Running::start().await;
    let post = |path: &str, len: usize| {
        request(
            Method::POST,
            path,
            &[],
            Body::Raw("application/octet-stream", vec![b'x'; len]),
        )
    };
    // tower-http's limit, before the app: the app's routes have no cap of their own.
    let over = app.send(post("/", example::BODY_LIMIT + 1)).await;
    assert_eq!(over.status, StatusCode::PAYLOAD_TOO_LARGE, "{over:?}");
    let within = app.send(post("/", example::BODY_LIMIT)).await;
    assert_eq!(within.status, StatusCode::OK, "{within:?}");
    // The auth routes keep their own, lower cap (16 KiB): 413 with the layer's JSON message,
    // under the stack's limit.
    let fields = vec![b'x'; 20 * 1024];
    let auth_route = app
        .send(request(
            Method::POST,
            "/users",
            &[],
            Body::Raw("application/x-www-form-urlencoded", fields),
        ))
        .await;
    assert_eq!(auth_route.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        auth_route.json()["message"]
            .as_str()
            .is_some_and(|m| m.contains("larger than")),
        "{auth_route:?}"
    );
}

/// The timeout layer bounds reading an auth route's body too: a client that sends its
/// headers and part of the body, then nothing, gets the example's 503 once the stack's
/// timeout (here 300 ms, under the auth layer's own 30 s body deadline) has passed.
#[tokio::test]
async fn the_timeout_layer_answers_as_configured_for_a_request_that_takes_too_long() {
    let timeout = Duration::from_millis(300);
    let app = Running::with_timeout(timeout).await;
    let mut stream = TcpStream::connect(app.server.addr).await.expect("connect");
    let started = tokio::time::Instant::now();
    stream
        .write_all(
            b"POST /sessions HTTP/1.1\r\nHost: localhost\r\n\
              Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nemail=",
        )
        .await
        .expect("write");
    let mut head = vec![0; 1024];
    let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut head))
        .await
        .expect("an answer before the test's own limit")
        .expect("read");
    let head = String::from_utf8_lossy(&head[..n]);
    assert!(
        head.starts_with(&format!("HTTP/1.1 {}", example::TIMEOUT_STATUS.as_u16())),
        "{head}"
    );
    assert!(started.elapsed() >= timeout, "{:?}", started.elapsed());
}

/// Issue 21, section 6: the app's own answers (the public page, the private one) carry the
/// headers the layer's answers do: `nosniff`, and `Strict-Transport-Security` where the
/// cookie is Secure (the hardened profile here).
#[tokio::test]
async fn the_apps_answers_carry_the_layers_security_headers() {
    let app = Running::start().await;
    let cookie = app.session().await;
    let layer = app.send(get("/profile")).await;
    for answer in [
        app.send(get("/")).await,
        app.send(with_cookie(get("/private"), &cookie)).await,
    ] {
        assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
        assert_eq!(answer.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(
            answer.header("strict-transport-security"),
            layer.header("strict-transport-security"),
        );
        assert_eq!(
            answer.header("strict-transport-security"),
            Some("max-age=31536000")
        );
    }
}
