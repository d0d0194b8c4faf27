//! The demo's pages (`examples/common/pages`) as a browser gets them from the demo binary:
//! every page's forms (ids, field names, actions), the security headers, the login redirect
//! of the pages that need a session, the error and notice messages, HTML escaping, the route
//! prefix and the `AUTH_PAGE_*` paths, in both profiles; and API clients still getting the
//! seed's exact JSON. The account lifecycle's pages are tested in `demo/accounts.rs`.

mod every_page;
mod forms;
mod messages;
mod paths;

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
