//! The demo's pages (`examples/common/pages`) as a browser gets them from the demo binary:
//! every page's forms (ids, field names, actions), the security headers, the login redirect
//! of the pages that need a session, the error and notice messages, HTML escaping, the route
//! prefix and the `AUTH_PAGE_*` paths, in both profiles; and API clients still getting the
//! seed's exact JSON. The account lifecycle's pages are tested in `demo_lifecycle/pages.rs`.

use crate::support;

mod accounts;

use std::{path::Path, process::Stdio, time::Duration};

use http::{Method, StatusCode};
use support::{Answer, Body, Demo, GOOD_PW, demo};

/// A browser's `Accept` header (Firefox's).
const BROWSER: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

/// The security headers every page answer carries.
const SECURITY_HEADERS: [(&str, &str); 5] = [
    ("content-type", "text/html; charset=utf-8"),
    ("cache-control", "no-store"),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "strict-origin"),
    (
        "content-security-policy",
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; \
         frame-ancestors 'none'; base-uri 'none'",
    ),
];

const PROFILES: [&str; 2] = ["seed", "hardened"];

/// The error codes of the form-flow contract.
const ERROR_CODES: [&str; 18] = [
    "missing_field",
    "invalid_email",
    "weak_password",
    "email_taken",
    "wrong_credentials",
    "wrong_password",
    "registration_closed",
    "unknown_email",
    "invalid_token",
    "no_such_session",
    "conflict",
    "throttled",
    "bad_request",
    "too_large",
    "unsupported",
    "timeout",
    "busy",
    "error",
];

/// Its notice codes.
const NOTICE_CODES: [&str; 5] = [
    "registered",
    "password_changed",
    "session_ended",
    "reset_sent",
    "password_reset",
];

fn start(db: &Path, profile: &str, env: &[(&str, &str)]) -> Demo {
    let mut all = vec![("AUTH_PROFILE", profile)];
    all.extend_from_slice(env);
    Demo::start(db, &all)
}

/// `GET path` as a browser, with `cookie` (a `Cookie` header) unless empty.
async fn browse(demo: &Demo, path: &str, cookie: &str) -> Answer {
    let mut headers = vec![("accept", BROWSER)];
    if !cookie.is_empty() {
        headers.push(("cookie", cookie));
    }
    demo.http
        .send(Method::GET, path, &headers, Body::Empty)
        .await
}

/// Registers `email` through the API and logs in: the `Cookie` header of the session.
async fn log_in(demo: &Demo, prefix: &str, email: &str) -> String {
    let creds = [("email", email), ("password", GOOD_PW)];
    let a = demo
        .http
        .post(&format!("{prefix}/users"), Body::Form(&creds))
        .await;
    assert!(
        a.status == StatusCode::OK || a.body.contains("already"),
        "{}",
        a.body
    );
    let a = demo
        .http
        .post(&format!("{prefix}/sessions"), Body::Form(&creds))
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    format!("session_id={}", a.session_cookie().expect("session cookie"))
}

#[track_caller]
fn assert_secure(a: &Answer) {
    for (name, value) in SECURITY_HEADERS {
        if name == "content-type" && a.status == StatusCode::SEE_OTHER {
            continue;
        }
        assert_eq!(a.header(name), Some(value), "{name}: {:?}", a.headers);
    }
}

/// A 200 page with the security headers.
#[track_caller]
fn assert_page(a: &Answer) {
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_secure(a);
    assert!(a.body.starts_with("<!DOCTYPE html>"), "{}", a.body);
    assert!(!a.body.contains("<script"), "no JavaScript: {}", a.body);
}

/// The element `<form id="id" ...>...</form>` of `body`.
#[track_caller]
fn form<'a>(body: &'a str, id: &str) -> &'a str {
    let start = body
        .find(&format!("<form id=\"{id}\""))
        .unwrap_or_else(|| panic!("no form {id}: {body}"));
    let end = body[start..].find("</form>").expect("form closed") + start;
    &body[start..end]
}

/// The tag (`<input ...>`, `<button ...>`) of `html` that holds `attr`.
#[track_caller]
fn tag<'a>(html: &'a str, attr: &str) -> &'a str {
    let at = html
        .find(attr)
        .unwrap_or_else(|| panic!("no {attr} in {html}"));
    let start = html[..at].rfind('<').expect("tag start");
    let end = html[at..].find('>').expect("tag end") + at;
    &html[start..=end]
}

/// Asserts the form `id` posts to `action`, holds the `fields` (name, then attributes its
/// input has) and the submit button `button` (`id="..."` or `class="..."`).
#[track_caller]
fn assert_form(body: &str, id: &str, action: &str, fields: &[(&str, &[&str])], button: &str) {
    let f = form(body, id);
    let head = tag(f, &format!("id=\"{id}\""));
    assert!(head.contains("method=\"post\""), "{head}");
    assert!(
        head.contains(&format!("action=\"{action}\"")),
        "{id}: {head}"
    );
    for (name, attrs) in fields {
        let input = tag(f, &format!("name=\"{name}\""));
        for attr in *attrs {
            assert!(input.contains(attr), "{id}: {attr} in {input}");
        }
    }
    assert!(tag(f, button).starts_with("<button"), "{id}: {button}");
}

const HIDDEN_DELETE: (&str, &[&str]) = ("_method", &["type=\"hidden\"", "value=\"DELETE\""]);
const HIDDEN_PUT: (&str, &[&str]) = ("_method", &["type=\"hidden\"", "value=\"PUT\""]);

/// The text of `<p id="{id}" role="{role}">...</p>`, if the page has one.
fn paragraph(body: &str, id: &str, role: &str) -> Option<String> {
    let open = format!("<p id=\"{id}\" role=\"{role}\">");
    let start = body.find(&open)? + open.len();
    let end = body[start..].find("</p>")? + start;
    Some(body[start..end].to_owned())
}

/// The pages a logged-out browser gets, under `prefix`.
async fn assert_logged_out_pages(demo: &Demo, prefix: &str) {
    let a = browse(demo, "/", "").await;
    assert_page(&a);
    assert!(a.body.contains("href=\"/login\""), "{}", a.body);
    assert!(a.body.contains("href=\"/register\""), "{}", a.body);
    assert!(!a.body.contains("logout-form"), "{}", a.body);

    let a = browse(demo, "/login?next=%2Faccount%2Fsessions", "").await;
    assert_page(&a);
    let email: (&str, &[&str]) = ("email", &["type=\"email\"", "autocomplete=\"username\""]);
    assert_form(
        &a.body,
        "login-form",
        &format!("{prefix}/sessions"),
        &[
            email,
            (
                "password",
                &["type=\"password\"", "autocomplete=\"current-password\""],
            ),
            ("next", &["type=\"hidden\"", "value=\"/account/sessions\""]),
        ],
        "id=\"login-submit\"",
    );
    assert!(
        a.body
            .contains("href=\"/register?next=%2Faccount%2Fsessions\"")
    );
    assert!(a.body.contains("href=\"/forgot_password\""), "{}", a.body);
    // Without a `next`, no hidden field.
    let a = browse(demo, "/login", "").await;
    assert!(!form(&a.body, "login-form").contains("name=\"next\""));

    let a = browse(demo, "/register?next=%2Fme", "").await;
    assert_page(&a);
    assert_form(
        &a.body,
        "register-form",
        &format!("{prefix}/users"),
        &[
            email,
            (
                "password",
                &["type=\"password\"", "autocomplete=\"new-password\""],
            ),
            ("next", &["type=\"hidden\"", "value=\"/me\""]),
        ],
        "id=\"register-submit\"",
    );

    let a = browse(demo, "/forgot_password", "").await;
    assert_page(&a);
    let reset = format!("{prefix}/reset_password");
    assert_form(
        &a.body,
        "forgot-form",
        &reset,
        &[email],
        "id=\"forgot-submit\"",
    );

    let a = browse(
        demo,
        "/new_password?email=ann%40example.com&token=abc123",
        "",
    )
    .await;
    assert_page(&a);
    assert_form(
        &a.body,
        "new-password-form",
        &reset,
        &[
            HIDDEN_PUT,
            ("email", &["value=\"ann@example.com\""]),
            ("reset_token", &["value=\"abc123\""]),
            (
                "new_password",
                &["type=\"password\"", "autocomplete=\"new-password\""],
            ),
        ],
        "id=\"new-password-submit\"",
    );
}

/// The pages a logged-in browser gets, under `prefix`.
async fn assert_logged_in_pages(demo: &Demo, prefix: &str, email: &str, cookie: &str) {
    let logout = |body: &str| {
        assert_form(
            body,
            "logout-form",
            &format!("{prefix}/sessions"),
            &[HIDDEN_DELETE],
            "id=\"logout\"",
        );
    };
    let a = browse(demo, "/", cookie).await;
    assert_page(&a);
    assert!(
        a.body
            .contains(&format!("Logged in as <span id=\"email\">{email}</span>")),
        "{}",
        a.body
    );
    for link in ["/me", "/account/sessions", "/account/password"] {
        assert!(a.body.contains(&format!("href=\"{link}\"")), "{link}");
    }
    logout(&a.body);

    let a = browse(demo, "/me", cookie).await;
    assert_page(&a);
    assert!(
        a.body
            .contains(&format!("<span id=\"email\">{email}</span>"))
    );
    logout(&a.body);

    let a = browse(demo, "/account/password", cookie).await;
    assert_page(&a);
    assert_form(
        &a.body,
        "password-form",
        &format!("{prefix}/profile/password"),
        &[
            HIDDEN_PUT,
            (
                "current_password",
                &["type=\"password\"", "autocomplete=\"current-password\""],
            ),
            (
                "new_password",
                &["type=\"password\"", "autocomplete=\"new-password\""],
            ),
        ],
        "id=\"password-submit\"",
    );

    let a = browse(demo, "/account/sessions", cookie).await;
    assert_page(&a);
    assert!(a.body.contains("<ul id=\"sessions\">"), "{}", a.body);
    assert_form(
        &a.body,
        "end-all-form",
        &format!("{prefix}/sessions/all"),
        &[HIDDEN_DELETE],
        "id=\"end-all\"",
    );
    let li = tag(&a.body, "class=\"session\"");
    let id = li
        .split("data-session-id=\"")
        .nth(1)
        .and_then(|s| s.get(..32))
        .expect("a session id");
    assert!(li.contains("data-current=\"true\""), "{li}");
    let end = format!("action=\"{prefix}/sessions/{id}\"");
    let end_form = tag(&a.body, &end);
    assert!(end_form.starts_with("<form method=\"post\""), "{end_form}");
    assert!(
        a.body
            .contains("<button class=\"end-session\" type=\"submit\">End</button>")
    );
    assert!(a.body.contains("This device"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_renders_for_a_browser_in_both_profiles() {
    for profile in PROFILES {
        let dir = tempfile::tempdir().expect("temp dir");
        let demo = start(&dir.path().join("a.redb"), profile, &[]);
        assert_logged_out_pages(&demo, "").await;
        let cookie = log_in(&demo, "", "ann@example.com").await;
        assert_logged_in_pages(&demo, "", "ann@example.com", &cookie).await;
        // A browser at a path that is no page: a 404 page.
        let a = browse(&demo, "/nowhere", &cookie).await;
        assert_eq!(a.status, StatusCode::NOT_FOUND);
        assert_secure(&a);
        // Pages are only read.
        let headers = [("accept", BROWSER), ("cookie", cookie.as_str())];
        let a = demo
            .http
            .send(Method::POST, "/login", &headers, Body::Empty)
            .await;
        assert_eq!(a.status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(a.header("allow"), Some("GET, HEAD"));
        assert_secure(&a);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_clients_still_get_the_exact_json() {
    let dir = tempfile::tempdir().expect("temp dir");
    let demo = start(&dir.path().join("a.redb"), "seed", &[]);
    let cookie = log_in(&demo, "", "ann@example.com").await;
    for accept in [
        None,
        Some("*/*"),
        Some("application/json"),
        Some("application/json, text/html"),
    ] {
        for (path, cookie, status, body) in [
            ("/", "", 200, r#"{"message":"Bienvenue"}"#),
            ("/me", "", 401, r#"{"message":"not logged in"}"#),
            (
                "/me",
                cookie.as_str(),
                200,
                r#"{"email":"ann@example.com","id":1}"#,
            ),
            ("/login", "", 404, r#"{"message":"not found"}"#),
            (
                "/account/sessions",
                cookie.as_str(),
                404,
                r#"{"message":"not found"}"#,
            ),
            ("/nowhere", "", 404, r#"{"message":"not found"}"#),
        ] {
            let mut headers: Vec<(&str, &str)> =
                accept.map(|a| ("accept", a)).into_iter().collect();
            if !cookie.is_empty() {
                headers.push(("cookie", cookie));
            }
            let a = demo
                .http
                .send(Method::GET, path, &headers, Body::Empty)
                .await;
            assert_eq!(a.status.as_u16(), status, "{accept:?} {path}: {}", a.body);
            assert_eq!(a.body, body, "{accept:?} {path}");
            assert_eq!(a.header("content-type"), Some("application/json"));
            assert_eq!(a.header("content-security-policy"), None, "{path}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_needing_a_session_send_the_browser_to_log_in_with_next() {
    let dir = tempfile::tempdir().expect("temp dir");
    let demo = start(&dir.path().join("a.redb"), "hardened", &[]);
    for cookie in ["", "session_id=00000000-0000-4000-8000-000000000000"] {
        for (path, location) in [
            ("/me", "/login?next=%2Fme"),
            ("/account/sessions", "/login?next=%2Faccount%2Fsessions"),
            ("/account/password", "/login?next=%2Faccount%2Fpassword"),
            (
                "/account/sessions?notice=session_ended",
                "/login?next=%2Faccount%2Fsessions%3Fnotice%3Dsession_ended",
            ),
        ] {
            let a = browse(&demo, path, cookie).await;
            assert_eq!(a.status, StatusCode::SEE_OTHER, "{path}: {}", a.body);
            assert_eq!(a.header("location"), Some(location), "{path}");
            assert_secure(&a);
        }
    }
    // The pages anyone may see need no session.
    for path in [
        "/",
        "/login",
        "/register",
        "/forgot_password",
        "/new_password",
    ] {
        assert_page(&browse(&demo, path, "").await);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_and_notice_codes_render_messages_a_person_understands() {
    let dir = tempfile::tempdir().expect("temp dir");
    let demo = start(&dir.path().join("a.redb"), "seed", &[]);
    let hostile = "%3Cscript%3Ealert(1)%3C%2Fscript%3E";
    let a = browse(
        &demo,
        &format!("/login?error={hostile}&notice={hostile}"),
        "",
    )
    .await;
    assert_page(&a);
    let generic = paragraph(&a.body, "error", "alert").expect("a generic message");
    assert!(
        !generic.is_empty() && !generic.contains("script"),
        "{generic}"
    );
    assert!(
        !a.body.contains("alert(1)"),
        "never the raw code: {}",
        a.body
    );
    assert!(
        !a.body.contains("id=\"notice\""),
        "an unknown notice shows nothing"
    );

    let mut seen = Vec::new();
    for code in ERROR_CODES {
        let a = browse(&demo, &format!("/register?error={code}"), "").await;
        assert_page(&a);
        let message = paragraph(&a.body, "error", "alert").unwrap_or_else(|| panic!("{code}"));
        assert_ne!(message, generic, "{code} has a message of its own");
        assert!(
            !message.contains('_') && message.ends_with('.'),
            "{code}: {message}"
        );
        assert!(!seen.contains(&message), "{code}: {message} twice");
        seen.push(message);
    }
    for code in NOTICE_CODES {
        let a = browse(&demo, &format!("/login?notice={code}"), "").await;
        let message = paragraph(&a.body, "notice", "status").unwrap_or_else(|| panic!("{code}"));
        assert!(
            !message.contains('_') && message.ends_with('.'),
            "{code}: {message}"
        );
        assert!(!seen.contains(&message), "{code}: {message} twice");
        seen.push(message);
    }
    // Every page shows them.
    let cookie = log_in(&demo, "", "ann@example.com").await;
    for path in [
        "/",
        "/me",
        "/login",
        "/register",
        "/account/sessions",
        "/account/password",
        "/forgot_password",
        "/new_password",
    ] {
        let a = browse(
            &demo,
            &format!("{path}?error=throttled&notice=reset_sent"),
            &cookie,
        )
        .await;
        assert_page(&a);
        assert!(paragraph(&a.body, "error", "alert").is_some(), "{path}");
        assert!(paragraph(&a.body, "notice", "status").is_some(), "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_data_is_escaped_in_the_pages() {
    let dir = tempfile::tempdir().expect("temp dir");
    let demo = start(&dir.path().join("a.redb"), "seed", &[]);
    let email = "<i>\"x\"&'y</i>@example.com";
    let escaped = "&lt;i&gt;&quot;x&quot;&amp;'y&lt;/i&gt;@example.com";
    let cookie = log_in(&demo, "", email).await;
    for path in ["/", "/me"] {
        let a = browse(&demo, path, &cookie).await;
        assert_page(&a);
        assert!(a.body.contains(escaped), "{path}: {}", a.body);
        assert!(!a.body.contains("<i>"), "{path}: {}", a.body);
    }
    // Query parameters copied into the forms.
    let next = "/x?a=%22%3E%3Cscript%3Ealert(1)%3C/script%3E";
    let a = browse(
        &demo,
        &format!("/login?next={}", next.replace('%', "%25")),
        "",
    )
    .await;
    assert_page(&a);
    let hidden = tag(form(&a.body, "login-form"), "name=\"next\"");
    assert!(hidden.contains(&format!("value=\"{next}\"")), "{hidden}");
    let a = browse(
        &demo,
        "/new_password?email=%22%3E%3Cb%3E%40x.io&token=%22%3E%3Cscript%3E",
        "",
    )
    .await;
    assert_page(&a);
    let f = form(&a.body, "new-password-form");
    assert!(f.contains("value=\"&quot;&gt;&lt;b&gt;@x.io\""), "{f}");
    assert!(f.contains("value=\"&quot;&gt;&lt;script&gt;\""), "{f}");
    // A `next` that is not a path on this site is not kept.
    let a = browse(&demo, "/login?next=https%3A%2F%2Fevil.example", "").await;
    assert!(!a.body.contains("evil.example"), "{}", a.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_route_prefix_moves_the_form_actions() {
    for profile in PROFILES {
        let dir = tempfile::tempdir().expect("temp dir");
        let env = [("AUTH_ROUTE_PREFIX", "/auth")];
        let demo = start(&dir.path().join("a.redb"), profile, &env);
        assert_logged_out_pages(&demo, "/auth").await;
        let cookie = log_in(&demo, "/auth", "bob@example.com").await;
        assert_logged_in_pages(&demo, "/auth", "bob@example.com", &cookie).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_paths_come_from_the_environment() {
    let dir = tempfile::tempdir().expect("temp dir");
    let env = [
        ("AUTH_PAGE_LOGIN", "/signin"),
        ("AUTH_PAGE_REGISTER", "/signup"),
        ("AUTH_PAGE_AFTER_LOGIN", "/dashboard"),
        ("AUTH_PAGE_SESSIONS", "/my/sessions"),
        ("AUTH_PAGE_CHANGE_PASSWORD", "/my/password"),
        ("AUTH_PAGE_FORGOT_PASSWORD", "/lost"),
        ("AUTH_PAGE_NEW_PASSWORD", "/found"),
    ];
    let demo = start(&dir.path().join("a.redb"), "hardened", &env);
    for (path, form_id) in [
        ("/signin", "login-form"),
        ("/signup", "register-form"),
        ("/lost", "forgot-form"),
        ("/found", "new-password-form"),
    ] {
        let a = browse(&demo, path, "").await;
        assert_page(&a);
        form(&a.body, form_id);
    }
    let a = browse(&demo, "/", "").await;
    assert!(a.body.contains("href=\"/signin\"") && a.body.contains("href=\"/signup\""));
    let a = browse(&demo, "/signin", "").await;
    assert!(a.body.contains("href=\"/lost\""), "{}", a.body);
    for old in [
        "/login",
        "/register",
        "/forgot_password",
        "/new_password",
        "/account/sessions",
    ] {
        let a = browse(&demo, old, "").await;
        assert_eq!(a.status, StatusCode::NOT_FOUND, "{old}");
        assert_secure(&a);
    }
    let a = browse(&demo, "/my/sessions", "").await;
    assert_eq!(a.header("location"), Some("/signin?next=%2Fmy%2Fsessions"));
    let cookie = log_in(&demo, "", "cy@example.com").await;
    for (path, form_id) in [
        ("/my/sessions", "end-all-form"),
        ("/my/password", "password-form"),
    ] {
        let a = browse(&demo, path, &cookie).await;
        assert_page(&a);
        form(&a.body, form_id);
    }
    let a = browse(&demo, "/dashboard", &cookie).await;
    assert_page(&a);
    assert!(a.body.contains("href=\"/my/sessions\""), "{}", a.body);
    assert!(a.body.contains("Logged in as"), "{}", a.body);
}

#[test]
fn a_page_path_that_is_not_a_path_stops_the_demo() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut child = demo::command(&dir.path().join("x.redb"), &[("AUTH_PAGE_LOGIN", "login")])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the demo");
    let stderr = demo::read_to_end(child.stderr.take().expect("stderr"));
    let status = demo::wait_for(&mut child, Duration::from_secs(20)).expect("it stops");
    let stderr = stderr.join().unwrap_or_default();
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("\"login\""), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sessions_page_lists_every_session_and_marks_this_device() {
    let dir = tempfile::tempdir().expect("temp dir");
    let demo = start(&dir.path().join("a.redb"), "hardened", &[]);
    let first = log_in(&demo, "", "dee@example.com").await;
    let second = log_in(&demo, "", "dee@example.com").await;
    let listed = demo.http.get("/sessions", &first).await.json();
    let ids: Vec<&str> = listed
        .as_array()
        .expect("a list")
        .iter()
        .map(|s| s["id"].as_str().expect("id"))
        .collect();
    assert_eq!(ids.len(), 2, "{listed}");
    let a = browse(&demo, "/account/sessions", &first).await;
    assert_page(&a);
    assert_eq!(
        a.body.matches("<li class=\"session\"").count(),
        2,
        "{}",
        a.body
    );
    assert_eq!(a.body.matches("This device").count(), 1);
    for s in listed.as_array().expect("a list") {
        let id = s["id"].as_str().expect("id");
        let li = tag(&a.body, &format!("data-session-id=\"{id}\""));
        let current = s["current"].as_bool().expect("current");
        assert!(li.contains(&format!("data-current=\"{current}\"")), "{li}");
        assert!(a.body.contains(&format!("action=\"/sessions/{id}\"")));
    }
    // Dates in a readable UTC form.
    assert!(a.body.contains(" UTC</time>"), "{}", a.body);
    // The other session logs out: one left.
    let a = demo.http.delete("/sessions", &second).await;
    assert!(a.status.is_redirection(), "{}", a.body);
    let a = browse(&demo, "/account/sessions", &first).await;
    assert_eq!(
        a.body.matches("<li class=\"session\"").count(),
        1,
        "{}",
        a.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_register_and_login_forms_post_what_the_layer_reads() {
    for profile in PROFILES {
        let dir = tempfile::tempdir().expect("temp dir");
        let demo = start(&dir.path().join("a.redb"), profile, &[]);
        let origin = demo.base.clone();
        let headers = [
            ("accept", BROWSER),
            ("origin", origin.as_str()),
            ("sec-fetch-site", "same-origin"),
        ];
        let fields = [
            ("email", "eve@example.com"),
            ("password", GOOD_PW),
            ("next", "/me"),
        ];
        for form_id in ["register-form", "login-form"] {
            let page = if form_id == "login-form" {
                "/login"
            } else {
                "/register"
            };
            let a = browse(&demo, &format!("{page}?next=%2Fme"), "").await;
            let head = tag(form(&a.body, form_id), "method=\"post\"");
            let action = head
                .split("action=\"")
                .nth(1)
                .and_then(|s| s.split('"').next());
            let a = demo
                .http
                .send(
                    Method::POST,
                    action.expect("action"),
                    &headers,
                    Body::Form(&fields),
                )
                .await;
            // The layer answers a browser's form with a redirect: registering leads to the
            // login page with `next` kept, logging in to `next`.
            assert_eq!(
                a.status,
                StatusCode::SEE_OTHER,
                "{profile} {form_id}: {}",
                a.body
            );
            let expected = if form_id == "login-form" {
                "/me"
            } else {
                "/login?notice=registered&next=%2Fme"
            };
            assert_eq!(a.header("location"), Some(expected), "{profile} {form_id}");
            if form_id == "login-form" {
                let cookie = format!("session_id={}", a.session_cookie().expect("cookie"));
                let a = browse(&demo, "/me", &cookie).await;
                assert_page(&a);
                assert!(a.body.contains("<span id=\"email\">eve@example.com</span>"));
            }
        }
    }
}

/// Issue 21, section 6: the demo's own JSON answers (`/`, `/me`) say `nosniff` in both
/// profiles; in the hardened one (a `Secure` cookie) they, its pages and the layer's answers
/// carry `Strict-Transport-Security`: a year by default, `AUTH_HSTS_MAX_AGE` seconds and
/// `AUTH_HSTS_INCLUDE_SUBDOMAINS=1` as set, none with 0; the compatibility profile none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demos_answers_say_nosniff_and_hsts_where_the_cookie_is_secure() {
    /// A profile, its environment, and the HSTS value its answers carry.
    type Case = (
        &'static str,
        &'static [(&'static str, &'static str)],
        Option<&'static str>,
    );
    let cases: [Case; 4] = [
        ("seed", &[], None),
        ("hardened", &[], Some("max-age=31536000")),
        (
            "hardened",
            &[
                ("AUTH_HSTS_MAX_AGE", "600"),
                ("AUTH_HSTS_INCLUDE_SUBDOMAINS", "1"),
            ],
            Some("max-age=600; includeSubDomains"),
        ),
        ("hardened", &[("AUTH_HSTS_MAX_AGE", "0")], None),
    ];
    for (profile, env, hsts) in cases {
        let dir = tempfile::tempdir().expect("temp dir");
        let demo = start(&dir.path().join("a.redb"), profile, env);
        let cookie = log_in(&demo, "", "ann@example.com").await;
        let what = format!("{profile} {env:?}");
        for (path, cookie) in [("/", ""), ("/me", ""), ("/me", cookie.as_str())] {
            let a = demo.http.get(path, cookie).await;
            assert_eq!(
                a.header("x-content-type-options"),
                Some("nosniff"),
                "{what} {path}"
            );
            assert_eq!(a.header("strict-transport-security"), hsts, "{what} {path}");
        }
        let page = browse(&demo, "/login", "").await;
        assert_eq!(
            page.header("strict-transport-security"),
            hsts,
            "{what} page"
        );
        let layer = demo.http.get("/profile", "").await;
        assert_eq!(layer.status, StatusCode::FORBIDDEN, "{what}");
        assert_eq!(
            layer.header("strict-transport-security"),
            hsts,
            "{what} layer"
        );
    }
}
