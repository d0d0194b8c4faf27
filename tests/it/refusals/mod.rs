//! Every refusal of the layer, in process (the layer around [`support::Echo`] called with
//! `oneshot`, as tower-http tests its middleware), organised by what is refused:
//!
//! - [`routes`]: paths that are not the layer's pass through; wrong methods are 405 with
//!   `Allow`; configured routes and closed registration;
//! - [`bodies`]: bodies that do not parse, unsupported content types (415), bodies over the
//!   cap (413), bodies that fail midway;
//! - [`fields`]: fields missing, empty, duplicated or refused (emails, passwords, reset
//!   tokens);
//! - [`cookies`]: what the wrapped app receives for valid, unknown, malformed and duplicated
//!   cookies, and an identity injected further out.
//!
//! Each refusal is its 4xx with a JSON `{"message"}` body, never a 5xx, and leaves the store
//! as it was.

use crate::support;

mod bodies;
mod cookies;
mod fields;
mod routes;

use std::fmt::Debug;
use tower_user_auth::compat::SeedApi;

use bytes::Bytes;
use http::{Method, Request, StatusCode, header};
use http_body_util::Full;
use serde_json::{Value, json};
use support::{Answer, Body, Encoding, call, cookie_header, counts, echo_service};
use tower_user_auth::{Auth, token::ResetToken};

/// One request through the layer around [`support::Echo`]; never a 5xx.
async fn oneshot<B>(auth: &Auth, req: Request<B>) -> Answer
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<tower_user_auth::BoxError> + Debug,
{
    let what = format!("{} {}", req.method(), req.uri());
    let a = call(&echo_service(auth), req).await;
    assert!(
        !a.status.is_server_error(),
        "{what}: client input gave a {}: {}",
        a.status,
        a.body
    );
    a
}

/// [`oneshot`] of a request built by [`support::request`], with `cookie` as its `Cookie`
/// header unless it is empty.
async fn send(auth: &Auth, method: Method, path: &str, cookie: &str, body: Body<'_>) -> Answer {
    oneshot(
        auth,
        support::request(method, path, &cookie_header(cookie), body),
    )
    .await
}

/// A request with a raw body and content type.
fn raw(
    method: Method,
    path: &str,
    content_type: &str,
    body: impl Into<Bytes>,
) -> Request<Full<Bytes>> {
    Request::builder()
        .method(method)
        .uri(path)
        .header(header::CONTENT_TYPE, content_type)
        .body(Full::new(body.into()))
        .expect("request")
}

/// Asserts that the echo app answered, and returns what it saw.
#[track_caller]
fn echoed(a: &Answer) -> Value {
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.header("x-echo"), Some("1"), "the app answered: {a:?}");
    let v = a.json();
    assert_eq!(v["app"], json!(true));
    v
}

/// Asserts that the app got no user and no session cookie was set (one may be cleared).
#[track_caller]
fn passed_without_user(a: &Answer) {
    let v = echoed(a);
    assert_eq!(v["user"], Value::Null, "no user: {v}");
    if let Some(line) = a.set_cookie_line("session_id") {
        assert!(line.contains("Max-Age=0"), "only ever cleared: {line}");
    }
}

/// The state a refused request must leave alone: the store's counts, and the password.
struct Snapshot {
    counts: (u64, u64, u64),
    email: &'static str,
    password: &'static str,
}

impl Snapshot {
    async fn take(auth: &Auth, email: &'static str, password: &'static str) -> Self {
        assert!(
            auth.valid_login(email, password).await.expect("verify"),
            "{email} logs in before"
        );
        Self {
            counts: counts(auth),
            email,
            password,
        }
    }

    #[track_caller]
    fn check_counts(&self, auth: &Auth, what: &str) {
        assert_eq!(counts(auth), self.counts, "{what}: the store changed");
    }

    /// [`Snapshot::check`], and bob's reset `token` was neither replaced nor consumed.
    async fn check_with_token(&self, auth: &Auth, token: &ResetToken, what: &str) {
        self.check(auth, what).await;
        auth.update_password(token.expose(), "newpw")
            .await
            .expect("the token still works");
    }

    async fn check(&self, auth: &Auth, what: &str) {
        self.check_counts(auth, what);
        assert!(
            auth.valid_login(self.email, self.password)
                .await
                .expect("verify"),
            "{what}: {} no longer logs in with its password",
            self.email
        );
    }
}

fn seed_auth() -> (Auth, tempfile::TempDir) {
    support::auth(support::seed_config())
}

/// An `Auth` on `config` with "bob@bob.com" (password "pwd") registered and a reset token
/// issued for it, and a [`Snapshot`] of that state.
async fn bob_with_reset_token(
    config: tower_user_auth::AuthConfig,
) -> (Auth, tempfile::TempDir, ResetToken, Snapshot) {
    let (auth, dir) = support::auth(config);
    auth.register_user("bob@bob.com", "pwd")
        .await
        .expect("register");
    let token = auth
        .get_reset_password_token("bob@bob.com")
        .await
        .expect("token");
    let snapshot = Snapshot::take(&auth, "bob@bob.com", "pwd").await;
    (auth, dir, token, snapshot)
}

/// The content type and bytes of `fields` in `enc`.
fn encode(enc: Encoding, fields: &[(&str, &str)]) -> (String, Vec<u8>) {
    let (ct, bytes) = enc.body(fields).encode();
    (ct.expect("content type"), bytes)
}

/// A request with `fields` in `enc`.
fn form_request(
    method: Method,
    path: &str,
    enc: Encoding,
    fields: &[(&str, &str)],
) -> Request<Full<Bytes>> {
    support::request(method, path, &[], enc.body(fields))
}

/// Logs in through the layer and returns the session token.
async fn log_in(auth: &Auth, email: &str, password: &str) -> String {
    let a = send(
        auth,
        Method::POST,
        "/sessions",
        "",
        Body::Form(&[("email", email), ("password", password)]),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    a.cookie("session_id").expect("session cookie")
}

/// A route that reads a form, and a complete valid form for it.
type RouteForm = (Method, &'static str, Vec<(&'static str, String)>);

/// The four routes that read a form, each with a complete valid form for "bob@bob.com".
fn forms(token: &str) -> Vec<RouteForm> {
    vec![
        (
            Method::POST,
            "/users",
            vec![("email", "new@bob.com".into()), ("password", "pwd".into())],
        ),
        (
            Method::POST,
            "/sessions",
            vec![("email", "bob@bob.com".into()), ("password", "pwd".into())],
        ),
        (
            Method::POST,
            "/reset_password",
            vec![("email", "bob@bob.com".into())],
        ),
        (
            Method::PUT,
            "/reset_password",
            vec![
                ("email", "bob@bob.com".into()),
                ("reset_token", token.to_owned()),
                ("new_password", "newpw".into()),
            ],
        ),
    ]
}
