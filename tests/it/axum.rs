//! The axum integration (feature `axum`), through `examples/axum.rs` on a real socket: the
//! `AuthenticatedUser` extractor and its 401, `Option<AuthenticatedUser>`, the layer on a
//! `Router`, `RequireAuth` on a group of routes (`Router::route_layer`: 401 JSON for API
//! clients, 303 to the login form for browsers), the login form and its escaped `next`, a
//! browser's whole round trip (guarded page, login form, `POST /sessions`, back to the page),
//! and the client address the layer throttles by, read from axum's `ConnectInfo` under plain
//! `axum::serve` and from `PeerAddr` under `tower_user_auth::serve`. The README's axum snippet
//! is checked to be an excerpt of the example, so these tests test it too.

#![cfg(all(feature = "axum", feature = "server"))]

use crate::support;

#[path = "../../examples/axum.rs"]
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

/// `RequireAuth` on the example's `/account` pages (`Router::route_layer`): an API client
/// without a session gets the 401 JSON answer, a browser a 303 to the login form with where
/// it was going in `next`; neither reaches the handler. With a session the pages answer.
#[tokio::test]
async fn the_guard_answers_api_clients_401_and_browsers_303_to_the_login_form() {
    for serving in [Serving::Crate, Serving::PlainAxum] {
        let app = Running::start(unthrottled(hardened_config()), serving).await;
        for path in ["/account", "/account/password?tab=1"] {
            let api = app.get(path, None).await;
            assert_eq!(
                api.status,
                StatusCode::UNAUTHORIZED,
                "{serving:?} {path}: {api:?}"
            );
            assert_eq!(api.json(), serde_json::json!({"message": "login required"}));
            assert_eq!(api.header("content-type"), Some("application/json"));
            assert_eq!(api.header("cache-control"), Some("no-store"));
        }
        let browser = app.browser_get("/account", None).await;
        assert_eq!(
            browser.status,
            StatusCode::SEE_OTHER,
            "{serving:?}: {browser:?}"
        );
        assert_eq!(browser.header("location"), Some("/login?next=%2Faccount"));
        assert_eq!(browser.header("cache-control"), Some("no-store"));
        let deeper = app.browser_get("/account/password?tab=1", None).await;
        assert_eq!(deeper.status, StatusCode::SEE_OTHER, "{deeper:?}");
        assert_eq!(
            deeper.header("location"),
            Some("/login?next=%2Faccount%2Fpassword%3Ftab%3D1")
        );
        // Pages outside the group are not guarded.
        assert_eq!(
            app.browser_get("/public", None).await.status,
            StatusCode::OK
        );
        assert_eq!(app.browser_get("/login", None).await.status, StatusCode::OK);

        app.register().await;
        let logged_in = app.log_in(HOME, GOOD_PW).await;
        let token = logged_in.session_cookie().expect("a session cookie");
        for path in ["/account", "/account/password"] {
            let page = app.browser_get(path, Some(&token)).await;
            assert_eq!(page.status, StatusCode::OK, "{serving:?} {path}: {page:?}");
            assert!(
                page.header("content-type")
                    .is_some_and(|ct| ct.starts_with("text/html"))
            );
        }
        let account = app.get("/account", Some(&token)).await;
        assert!(
            account.body.contains(&format!("Logged in as {EMAIL}.")),
            "{}",
            account.body
        );
        // The logout form: a POST the layer reads as DELETE.
        assert!(account.body.contains(
            "<form method=\"post\" action=\"/sessions\">\
             <input type=\"hidden\" name=\"_method\" value=\"DELETE\">"
        ));
    }
}

/// `GET /login` renders the form that posts to the layer's `POST /sessions`, with the `next`
/// of its query in a hidden field: HTML-escaped, and left out unless it is a path on this
/// site. The `error` of the query is shown as a fixed message, never echoed.
#[tokio::test]
async fn the_login_form_carries_next_escaped() {
    let app = Running::start(unthrottled(hardened_config()), Serving::PlainAxum).await;
    let form = app.browser_get("/login?next=%2Faccount", None).await;
    assert_eq!(form.status, StatusCode::OK, "{form:?}");
    assert_eq!(
        form.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    for part in [
        "<form method=\"post\" action=\"/sessions\">",
        "<input type=\"hidden\" name=\"next\" value=\"/account\">",
        "<input name=\"email\"",
        "<input name=\"password\" type=\"password\">",
    ] {
        assert!(form.body.contains(part), "{part} not in {}", form.body);
    }

    // A `next` that would close the attribute and open a script: escaped, inert.
    let hostile = "/account\"><script>alert(1)</script>&x='y'";
    let path = format!("/login?next={}", urlencode_value(hostile));
    let escaped = app.browser_get(&path, None).await;
    assert_eq!(escaped.status, StatusCode::OK, "{escaped:?}");
    assert!(
        escaped.body.contains(
            "<input type=\"hidden\" name=\"next\" \
             value=\"/account&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;&amp;x=&#39;y&#39;\">"
        ),
        "{}",
        escaped.body
    );
    assert!(!escaped.body.contains("<script>"), "{}", escaped.body);

    // No `next`, or one that leaves the site: no hidden field at all.
    for path in [
        "/login",
        "/login?next=%2F%2Fevil.example",
        "/login?next=https%3A%2F%2Fevil.example%2F",
    ] {
        let page = app.browser_get(path, None).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        assert!(
            !page.body.contains("name=\"next\""),
            "{path}: {}",
            page.body
        );
        assert!(!page.body.contains("evil"), "{path}: {}", page.body);
    }

    // The error code picks a fixed message; unknown codes a generic one; nothing is echoed.
    let wrong = app
        .browser_get("/login?error=wrong_credentials", None)
        .await;
    assert!(
        wrong.body.contains("Wrong email or password."),
        "{}",
        wrong.body
    );
    let odd = app
        .browser_get("/login?error=%3Cscript%3Ealert(1)%3C%2Fscript%3E", None)
        .await;
    assert!(!odd.body.contains("script"), "{}", odd.body);
    assert!(odd.body.contains("That did not work"), "{}", odd.body);
    let notice = app.browser_get("/login?notice=password_reset", None).await;
    assert!(!notice.body.contains("did not work"), "{}", notice.body);
}

/// A browser's whole trip through the example: the guarded page sends it to the login form,
/// the form's `next` carries the page, the layer answers the form's POST with 303 to it and a
/// session cookie, and the page answers; the logout form (`_method=DELETE`) ends the session
/// and the guard sends the browser to log in again. (The 303 answers to the form POSTs are
/// the layer's browser form flow.)
#[tokio::test]
async fn a_browser_logs_in_through_the_form_and_lands_back_on_the_guarded_page() {
    for serving in [Serving::Crate, Serving::PlainAxum] {
        let app = Running::start(unthrottled(hardened_config()), serving).await;
        app.register().await;

        let guarded = app.browser_get("/account", None).await;
        assert_eq!(
            guarded.status,
            StatusCode::SEE_OTHER,
            "{serving:?}: {guarded:?}"
        );
        let login_page = guarded.header("location").expect("a Location").to_owned();
        let form = app.browser_get(&login_page, None).await;
        assert_eq!(form.status, StatusCode::OK, "{form:?}");
        let next = hidden_field(&form.body, "next").expect("the form carries next");
        assert_eq!(next, "/account");

        // A wrong password: back to the form, `next` kept.
        let fields = [
            ("email", EMAIL),
            ("password", OTHER_PW),
            ("next", next.as_str()),
        ];
        let refused = app.browser_post("/sessions", &fields, None).await;
        assert_eq!(
            refused.status,
            StatusCode::SEE_OTHER,
            "{serving:?}: the layer answers a browser's login form with 303: {refused:?}"
        );
        assert_eq!(
            location(&refused),
            (
                "/login".to_owned(),
                vec![
                    query("error", "wrong_credentials"),
                    query("next", "/account")
                ]
            )
        );
        assert!(refused.session_cookie().is_none());

        let fields = [
            ("email", EMAIL),
            ("password", GOOD_PW),
            ("next", next.as_str()),
        ];
        let logged_in = app.browser_post("/sessions", &fields, None).await;
        assert_eq!(
            logged_in.status,
            StatusCode::SEE_OTHER,
            "{serving:?}: {logged_in:?}"
        );
        assert_eq!(logged_in.header("location"), Some("/account"));
        let token = logged_in.session_cookie().expect("a session cookie");

        let landed = app.browser_get("/account", Some(&token)).await;
        assert_eq!(landed.status, StatusCode::OK, "{landed:?}");
        assert!(
            landed.body.contains(&format!("Logged in as {EMAIL}.")),
            "{}",
            landed.body
        );

        // The logout form: POST with `_method=DELETE`.
        let out = app
            .browser_post("/sessions", &[("_method", "DELETE")], Some(&token))
            .await;
        assert_eq!(out.status, StatusCode::SEE_OTHER, "{serving:?}: {out:?}");
        assert_eq!(out.header("location"), Some("/"));
        let again = app.browser_get("/account", Some(&token)).await;
        assert_eq!(again.status, StatusCode::SEE_OTHER, "{again:?}");
        assert_eq!(again.header("location"), Some("/login?next=%2Faccount"));
    }
}

/// The register form posts to the layer's `POST /users`, which sends a browser on to the
/// login form with `notice=registered`; the form says so.
#[tokio::test]
async fn a_browser_registers_through_the_form() {
    let app = Running::start(unthrottled(hardened_config()), Serving::Crate).await;
    let form = app.browser_get("/register", None).await;
    assert_eq!(form.status, StatusCode::OK, "{form:?}");
    assert!(
        form.body
            .contains("<form method=\"post\" action=\"/users\">"),
        "{}",
        form.body
    );

    let fields = [("email", EMAIL), ("password", GOOD_PW)];
    let registered = app.browser_post("/users", &fields, None).await;
    assert_eq!(
        registered.status,
        StatusCode::SEE_OTHER,
        "the layer answers a browser's register form with 303: {registered:?}"
    );
    assert_eq!(
        registered.header("location"),
        Some("/login?notice=registered")
    );
    let notice = app.browser_get("/login?notice=registered", None).await;
    assert!(
        notice.body.contains("Registered: you can log in."),
        "{}",
        notice.body
    );

    let again = app.browser_post("/users", &fields, None).await;
    assert_eq!(again.status, StatusCode::SEE_OTHER, "{again:?}");
    assert_eq!(
        again.header("location"),
        Some("/register?error=email_taken")
    );
    let taken = app.browser_get("/register?error=email_taken", None).await;
    assert!(taken.body.contains("already registered"), "{}", taken.body);
}

/// The value of the hidden field `name` in `html`, unescaped.
fn hidden_field(html: &str, name: &str) -> Option<String> {
    let start = format!("<input type=\"hidden\" name=\"{name}\" value=\"");
    let rest = &html[html.find(&start)? + start.len()..];
    let value = &rest[..rest.find('"')?];
    Some(
        value
            .replace("&quot;", "\"")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&#39;", "'")
            .replace("&amp;", "&"),
    )
}

/// The `Location` of `answer`: its path and its query's decoded pairs.
fn location(answer: &Answer) -> (String, Vec<(String, String)>) {
    let target = answer.header("location").expect("a Location");
    let url = url::Url::parse("http://site.test")
        .and_then(|base| base.join(target))
        .expect("a URL");
    let pairs = url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()));
    (url.path().to_owned(), pairs.collect())
}

/// A query pair, as [`location`] gives them.
fn query(name: &str, value: &str) -> (String, String) {
    (name.to_owned(), value.to_owned())
}

/// `value` percent-encoded for a query string.
fn urlencode_value(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
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

/// The README is a front page (at most ~200 lines) that leads with its axum section, whose
/// Rust snippet is an exact excerpt of `examples/axum.rs`, which the tests above drive: the
/// snippet a reader copies is the tested one. It shows the extractor, the optional extractor
/// and the guard on a group of routes; the login form and serving with `ConnectInfo` are on
/// the guide's axum page (`docs/axum.md`, whose snippets are doctests). The plain tower/hyper
/// section that follows is an excerpt of `examples/readme.rs`.
#[test]
fn the_readme_axum_snippet_is_an_excerpt_of_the_example() {
    let root = env!("CARGO_MANIFEST_DIR");
    let read = |path: &str| {
        std::fs::read_to_string(format!("{root}/{path}")).unwrap_or_else(|e| panic!("{path}: {e}"))
    };
    let readme = read("README.md");
    assert!(
        readme.lines().count() <= 200,
        "the README is a front page: {} lines",
        readme.lines().count()
    );
    let axum_at = readme
        .find("\n## Use it with axum\n")
        .expect("a section \"Use it with axum\"");
    let tower_at = readme
        .find("\n## Use it with tower or hyper\n")
        .expect("a section \"Use it with tower or hyper\"");
    assert!(axum_at < tower_at, "the axum section comes first");
    assert!(
        readme.find("```rust\n").expect("a rust snippet") > axum_at,
        "the README's first Rust snippet is the axum one"
    );

    let example = read("examples/axum.rs");
    let axum = snippets(section(&readme, axum_at));
    assert!(!axum.is_empty(), "no rust snippet in the axum section");
    for snippet in &axum {
        assert!(
            example.contains(snippet),
            "the README's axum snippet is not an excerpt of examples/axum.rs:\n{snippet}"
        );
    }
    assert!((15..=30).contains(&axum[0].lines().count()), "{}", axum[0]);
    for shown in [
        "Option<AuthenticatedUser>",
        "user: AuthenticatedUser",
        ".route_layer(RequireAuth::new().with_login_page(\"/login\"))",
        ".layer(AuthLayer::new(auth))",
    ] {
        assert!(
            axum[0].contains(shown),
            "the axum snippet does not show {shown}"
        );
    }
    let guide = read("docs/axum.md");
    for shown in [
        "into_make_service_with_connect_info::<SocketAddr>()",
        "safe_next",
    ] {
        assert!(
            guide.contains(shown),
            "the guide's axum page does not show {shown}"
        );
    }

    let tower_example = read("examples/readme.rs");
    let tower = snippets(section(&readme, tower_at));
    assert!(
        (10..=25).contains(&tower[0].lines().count()),
        "{}",
        tower[0]
    );
    assert!(
        tower_example.contains(tower[0]),
        "the README's tower snippet is not an excerpt of examples/readme.rs:\n{}",
        tower[0]
    );
}

/// The Markdown section of `text` whose heading starts at `at`, up to the next `## `.
fn section(text: &str, at: usize) -> &str {
    let rest = &text[at + 1..];
    &rest[..rest.find("\n## ").unwrap_or(rest.len())]
}

/// The bodies of the ```rust blocks of `text`.
fn snippets(text: &str) -> Vec<&str> {
    (text.split("```rust\n").skip(1))
        .filter_map(|rest| rest.split("\n```").next())
        .collect()
}
