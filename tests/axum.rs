//! The axum integration (feature `axum`), through `examples/axum.rs` on a real socket: the
//! `AuthenticatedUser` extractor and its 401, `Option<AuthenticatedUser>`, the layer on a
//! `Router`, and the client address the layer throttles by, read from axum's `ConnectInfo`
//! under plain `axum::serve` and from `PeerAddr` under `tower_user_auth::serve`. The README's
//! axum snippet is checked to be an excerpt of the example, so these tests test it too.

#![cfg(all(feature = "axum", feature = "server"))]

mod support;

#[path = "../examples/axum.rs"]
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

    async fn log_in(&self, from: IpAddr, password: &str) -> Answer {
        let fields = [("email", EMAIL), ("password", password)];
        self.send(from, form(Method::POST, "/sessions", &fields))
            .await
    }
}

#[tokio::test]
async fn public_and_protected_routes_answer_as_the_extractor_says() {
    for serving in [Serving::Crate, Serving::PlainAxum] {
        let app = Running::start(unthrottled(hardened_config()), serving).await;
        let public = app.get("/public", None).await;
        assert_eq!(public.status, StatusCode::OK, "{serving:?}");
        assert_eq!(public.body, "anyone can read this");

        // `AuthenticatedUser` without a session: the layer's 401 JSON answer.
        let refused = app.get("/me", None).await;
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{serving:?}");
        assert_eq!(
            refused.json(),
            serde_json::json!({"message": "login required"})
        );
        assert_eq!(refused.header("content-type"), Some("application/json"));
        assert_eq!(refused.header("cache-control"), Some("no-store"));
        assert_eq!(refused.header("x-content-type-options"), Some("nosniff"));
        // A cookie naming no session is no login either.
        let unknown = app
            .get("/me", Some("00000000-0000-4000-8000-000000000000"))
            .await;
        assert_eq!(unknown.status, StatusCode::UNAUTHORIZED, "{serving:?}");
        // `Option<AuthenticatedUser>` without a session.
        assert_eq!(app.get("/", None).await.body, "welcome, stranger");

        let fields = [("email", EMAIL), ("password", GOOD_PW)];
        let registered = app.send(HOME, form(Method::POST, "/users", &fields)).await;
        assert_eq!(registered.status, StatusCode::OK, "{}", registered.body);
        let logged_in = app.log_in(HOME, GOOD_PW).await;
        assert_eq!(logged_in.status, StatusCode::OK, "{}", logged_in.body);
        let token = logged_in.session_cookie().expect("a session cookie");

        let me = app.get("/me", Some(&token)).await;
        assert_eq!(me.status, StatusCode::OK, "{serving:?}: {}", me.body);
        assert_eq!(me.body, format!("hello {EMAIL}"));
        let home = app.get("/", Some(&token)).await;
        assert_eq!(home.body, format!("welcome back, {EMAIL}"));

        // Logged out, the session is no login any more.
        let out = app
            .send(
                HOME,
                with_cookie(empty(Method::DELETE, "/sessions"), &token),
            )
            .await;
        assert!(
            out.status.is_success() || out.status.is_redirection(),
            "{out:?}"
        );
        assert_eq!(
            app.get("/me", Some(&token)).await.status,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(app.get("/", Some(&token)).await.body, "welcome, stranger");
    }
}

/// The issue's headline defect: under `axum::serve` with `ConnectInfo` (and under the crate's
/// server with `PeerAddr`) failures from 127.0.0.2 put 127.0.0.2 in backoff on the account,
/// not the owner logging in from 127.0.0.1. Were the client address lost, both would share
/// one key and the owner would be refused too.
#[tokio::test]
async fn throttling_sees_each_clients_own_address() {
    let throttle = ThrottleConfig::default()
        .with_free_failures(2)
        .with_backoff(Duration::from_secs(600), Duration::from_secs(600));
    for serving in [Serving::PlainAxum, Serving::Crate] {
        let app = Running::start(hardened_config().with_throttle(throttle.clone()), serving).await;
        let fields = [("email", EMAIL), ("password", GOOD_PW)];
        let registered = app.send(HOME, form(Method::POST, "/users", &fields)).await;
        assert_eq!(registered.status, StatusCode::OK, "{}", registered.body);
        for _ in 0..2 {
            let wrong = app.log_in(ELSEWHERE, OTHER_PW).await;
            assert_eq!(
                wrong.status,
                StatusCode::UNAUTHORIZED,
                "{serving:?}: {wrong:?}"
            );
        }
        // 127.0.0.2 is in backoff, even with the right password...
        let throttled = app.log_in(ELSEWHERE, GOOD_PW).await;
        assert_eq!(
            throttled.status,
            StatusCode::TOO_MANY_REQUESTS,
            "{serving:?}: {throttled:?}"
        );
        // ...and the owner, from 127.0.0.1, is not.
        let owner = app.log_in(HOME, GOOD_PW).await;
        assert_eq!(owner.status, StatusCode::OK, "{serving:?}: {owner:?}");
    }
}

/// Served by plain `axum::serve` without `into_make_service_with_connect_info`, requests
/// carry no client address: the layer says so, once, naming the fix, however many requests
/// come. (The test's runtime is single-threaded, so the server's tasks log to this thread's
/// subscriber; no other test of this binary serves without an address.)
#[tokio::test]
async fn without_connect_info_the_layer_warns_once_naming_the_fix() {
    let warnings = Warnings::default();
    let _guard =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(warnings.clone()));
    let (auth, _dir) = auth(unthrottled(hardened_config()));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let app = example::app(auth);
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.expect("axum::serve");
    });
    for _ in 0..3 {
        let fields = [("email", EMAIL), ("password", GOOD_PW)];
        let res = http(addr, form(Method::POST, "/sessions", &fields)).await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{res:?}");
    }
    task.abort();
    let seen: Vec<String> = (warnings.0.lock().expect("not poisoned").iter())
        .filter(|w| w.contains("client address"))
        .cloned()
        .collect();
    assert_eq!(seen.len(), 1, "{seen:?}");
    for fix in [
        "into_make_service_with_connect_info",
        "PeerAddr",
        "serve::Server",
    ] {
        assert!(seen[0].contains(fix), "{fix} not named: {}", seen[0]);
    }
}

/// The warnings logged, as text.
#[derive(Clone, Default)]
struct Warnings(Arc<Mutex<Vec<String>>>);

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

/// The README's axum section shows an exact excerpt of `examples/axum.rs`, which the tests
/// above drive: the snippet a reader copies is the tested one.
#[test]
fn the_readme_axum_snippet_is_an_excerpt_of_the_example() {
    let root = env!("CARGO_MANIFEST_DIR");
    let readme = std::fs::read_to_string(format!("{root}/README.md")).expect("README.md");
    let example = std::fs::read_to_string(format!("{root}/examples/axum.rs")).expect("example");
    let section = readme
        .split("\n## Use it with axum\n")
        .nth(1)
        .expect("a section \"Use it with axum\"");
    let snippet = section
        .split("```rust\n")
        .nth(1)
        .and_then(|rest| rest.split("\n```").next())
        .expect("a rust snippet in the axum section");
    assert!(snippet.lines().count() > 20, "{snippet}");
    assert!(
        example.contains(snippet),
        "the README's axum snippet is not an excerpt of examples/axum.rs:\n{snippet}"
    );
    // The axum section comes before the plain tower/hyper one.
    let axum_at = readme
        .find("\n## Use it with axum\n")
        .expect("axum section");
    let tower_at = readme
        .find("\n## Use it with tower or hyper\n")
        .expect("tower section");
    assert!(axum_at < tower_at);
}
