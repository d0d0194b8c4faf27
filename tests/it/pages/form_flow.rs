//! The browser form flow: a browser (its `Accept` prefers `text/html`) posting the auth
//! routes' HTML forms gets `303 See Other` to the app's pages (`tower_user_auth::Pages`),
//! with a short error code on failure; forms reach `PUT` and `DELETE` with a `_method` field;
//! API clients keep their JSON answers byte for byte.

mod methods;
mod round_trips;

use crate::support;

use http::{Method, Request, StatusCode};
use serde_json::json;
use tower_user_auth::{AuthConfig, Pages, token::TokenDigest};

use support::{
    Body, FullBody, GOOD_PW, Harness, OTHER_PW, as_browser, empty, form, get, hardened_config,
    request, seed_config, serve_echo, unthrottled, with_cookie, with_header,
};

/// `req` as a browser's, sent through the layer: its status and `Location`.
async fn browse(h: &Harness, req: Request<FullBody>) -> support::Answer {
    h.send(as_browser(req)).await
}

fn location(a: &support::Answer) -> &str {
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{a:?}");
    assert!(a.body.is_empty(), "a redirect has no body: {}", a.body);
    assert_eq!(a.header("cache-control"), Some("no-store"));
    a.header("location").expect("a Location")
}

fn login_form<'a>(email: &'a str, password: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![("email", email), ("password", password)]
}

#[tokio::test]
async fn log_in_goes_to_a_safe_next_or_the_landing_page_with_the_cookie() {
    let h = Harness::seed();
    h.registered("ann@example.com", GOOD_PW).await;
    let fields = login_form("ann@example.com", GOOD_PW);
    let res = browse(&h, form(Method::POST, "/sessions", &fields)).await;
    assert_eq!(location(&res), "/");
    let cookie = res.session_cookie().expect("the session cookie is set");
    assert_eq!(h.profile(&cookie).await.status, 200);

    for (next, expected) in [
        ("/account?tab=1", "/account?tab=1"),
        ("//evil.example", "/"),
        ("https://evil.example/", "/"),
        ("/%2F%2Fevil.example", "/"),
        ("/\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
    ] {
        let mut with_next = fields.clone();
        with_next.push(("next", next));
        let res = browse(&h, form(Method::POST, "/sessions", &with_next)).await;
        assert_eq!(location(&res), expected, "next={next:?}");
        assert!(res.session_cookie().is_some());
    }
    // `next` in the form's action, as `action="/sessions?next=..."` sends it.
    let res = browse(
        &h,
        form(Method::POST, "/sessions?next=%2Fme%3Fx%3D1", &fields),
    )
    .await;
    assert_eq!(location(&res), "/me?x=1");
}

/// A form's action, its fields, and the code its failure comes back with.
type FailedForm<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);

#[tokio::test]
async fn failed_forms_go_back_with_a_code_and_keep_next() {
    let h = Harness::new(unthrottled(hardened_config()));
    h.registered("ann@example.com", GOOD_PW).await;
    let cases: [FailedForm<'_>; 7] = [
        (
            "/sessions",
            &[
                ("email", "ann@example.com"),
                ("password", "wrong"),
                ("next", "/me"),
            ],
            "/login?error=wrong_credentials&next=%2Fme",
        ),
        (
            "/sessions",
            &[("email", "ann@example.com"), ("next", "//evil.example")],
            "/login?error=missing_field",
        ),
        (
            "/users",
            &[("email", "ann@example.com"), ("password", GOOD_PW)],
            "/register?error=email_taken",
        ),
        (
            "/users",
            &[
                ("email", "bob@example.com"),
                ("password", "short"),
                ("next", "/x"),
            ],
            "/register?error=weak_password&next=%2Fx",
        ),
        (
            "/users",
            &[("email", "not an email"), ("password", GOOD_PW)],
            "/register?error=invalid_email",
        ),
        (
            "/users",
            &[
                ("email", "x@example.com"),
                ("password", GOOD_PW),
                ("password", GOOD_PW),
            ],
            "/register?error=missing_field",
        ),
        (
            "/reset_password",
            &[("email", "")],
            "/forgot_password?error=missing_field",
        ),
    ];
    for (path, fields, expected) in cases {
        let res = browse(&h, form(Method::POST, path, fields)).await;
        assert_eq!(location(&res), expected, "{path} {fields:?}");
        assert!(res.session_cookie().is_none());
    }
    assert!(!h.user_exists("bob@example.com").await);
    // A body over the limit, a type no form sends.
    let big = "x".repeat(20_000);
    let res = browse(&h, form(Method::POST, "/users", &[("email", &big)])).await;
    assert_eq!(location(&res), "/register?error=too_large");
    let res = browse(
        &h,
        request(
            Method::POST,
            "/users",
            &[],
            Body::Raw("text/plain", b"hi".to_vec()),
        ),
    )
    .await;
    assert_eq!(location(&res), "/register?error=unsupported");
}

#[tokio::test]
async fn throttling_and_closed_registration_have_their_codes() {
    let h = Harness::hardened();
    h.registered("ann@example.com", GOOD_PW).await;
    let mut last = String::new();
    for _ in 0..10 {
        let fields = login_form("ann@example.com", "wrong");
        let res = browse(&h, form(Method::POST, "/sessions", &fields)).await;
        last = location(&res).to_owned();
    }
    assert_eq!(last, "/login?error=throttled");

    let h = Harness::new(seed_config().with_registration(false));
    let fields = login_form("new@example.com", GOOD_PW);
    let res = browse(&h, form(Method::POST, "/users", &fields)).await;
    assert_eq!(location(&res), "/register?error=registration_closed");
}

#[tokio::test]
async fn register_sends_to_log_in_with_next_kept() {
    let h = Harness::seed();
    let fields = [
        ("email", "ann@example.com"),
        ("password", GOOD_PW),
        ("next", "/me"),
    ];
    let res = browse(&h, form(Method::POST, "/users", &fields)).await;
    assert_eq!(location(&res), "/login?notice=registered&next=%2Fme");
    assert!(h.user_exists("ann@example.com").await);
    assert!(
        res.session_cookie().is_none(),
        "registering does not log in"
    );
}
