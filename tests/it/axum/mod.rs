//! The axum integration (feature `axum`), through `examples/axum.rs` on a real socket: the
//! `AuthenticatedUser` extractor and its 401, `Option<AuthenticatedUser>`, the layer on a
//! `Router`, `RequireAuth` on a group of routes (`Router::route_layer`: 401 JSON for API
//! clients, 303 to the login form for browsers), the login form and its escaped `next`, a
//! browser's whole round trip (guarded page, login form, `POST /sessions`, back to the page),
//! and the client address the layer throttles by, read from axum's `ConnectInfo` under plain
//! `axum::serve` and from `PeerAddr` under `tower_user_auth::serve`. The README's axum snippet
//! is checked to be an excerpt of the example, so these tests test it too.

#![cfg(all(feature = "axum", feature = "server"))]

mod extractor;
mod forms;
mod readme;

use crate::support;

#[path = "../../../examples/axum.rs"]
#[allow(dead_code)]
mod example;

use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr},
    sync::{Arc, Mutex},
    time::Duration,
};

use http::{Method, StatusCode};
use support::*;
use tempfile::TempDir;
use tokio::{net::TcpListener, task::JoinHandle};
use tower_user_auth::{AuthConfig, ThrottleConfig, serve::Server};
use tracing_subscriber::layer::SubscriberExt;

const EMAIL: &str = "ann@example.com";
const HOME: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1));
const ELSEWHERE: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
/// What a browser sends as `Accept` for a page.
const BROWSER: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

/// How the example's app is served.
#[derive(Clone, Copy, Debug)]
enum Serving {
    /// `tower_user_auth::serve::Server`, as the example's `main` does: `PeerAddr`.
    Crate,
    /// The example's `serve_with_axum`: `axum::serve` with `ConnectInfo<SocketAddr>`.
    PlainAxum,
}

/// The example's app over a fresh store, served on 127.0.0.1; stopped when dropped.
struct Running {
    addr: SocketAddr,
    task: JoinHandle<()>,
    _dir: TempDir,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Running {
    async fn start(config: AuthConfig, serving: Serving) -> Self {
        let (auth, dir) = auth(config);
        let app = example::app(auth);
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let task = match serving {
            Serving::Crate => {
                tokio::spawn(Server::from_listener(listener).serve(app, std::future::pending()))
            }
            Serving::PlainAxum => tokio::spawn(async move {
                example::serve_with_axum(listener, app)
                    .await
                    .expect("axum::serve");
            }),
        };
        Self {
            addr,
            task,
            _dir: dir,
        }
    }

    /// Sends `req` from the local address `from`.
    async fn send(&self, from: IpAddr, req: http::Request<FullBody>) -> Answer {
        http_from(from, self.addr, req).await
    }

    async fn get(&self, path: &str, session: Option<&str>) -> Answer {
        let req = match session {
            Some(token) => with_cookie(get(path), token),
            None => get(path),
        };
        self.send(HOME, req).await
    }

    /// `GET path` as a browser sends it.
    async fn browser_get(&self, path: &str, session: Option<&str>) -> Answer {
        let req = with_header(get(path), "accept", BROWSER);
        let req = match session {
            Some(token) => with_cookie(req, token),
            None => req,
        };
        self.send(HOME, req).await
    }

    /// A form posted by a browser from a page of this site (`Origin` and `Sec-Fetch-Site` as
    /// browsers send them).
    async fn browser_post(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        session: Option<&str>,
    ) -> Answer {
        let req = with_header(form(Method::POST, path, fields), "accept", BROWSER);
        let req = with_header(req, "origin", &format!("http://{}", self.addr));
        let req = with_header(req, "sec-fetch-site", "same-origin");
        let req = match session {
            Some(token) => with_cookie(req, token),
            None => req,
        };
        self.send(HOME, req).await
    }

    async fn register(&self) {
        let fields = [("email", EMAIL), ("password", GOOD_PW)];
        let registered = self.send(HOME, form(Method::POST, "/users", &fields)).await;
        assert_eq!(registered.status, StatusCode::OK, "{}", registered.body);
    }

    async fn log_in(&self, from: IpAddr, password: &str) -> Answer {
        let fields = [("email", EMAIL), ("password", password)];
        self.send(from, form(Method::POST, "/sessions", &fields))
            .await
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Warnings {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        if *event.metadata().level() == tracing::Level::WARN {
            let mut text = String::new();
            event.record(
                &mut |_: &tracing::field::Field, value: &dyn std::fmt::Debug| {
                    text.push_str(&format!("{value:?} "));
                },
            );
            self.0.lock().expect("not poisoned").push(text);
        }
    }
}

/// The warnings logged, as text.
#[derive(Clone, Default)]
struct Warnings(Arc<Mutex<Vec<String>>>);
