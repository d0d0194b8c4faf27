//! Items 29 and 30 of `SECURITY.md`: the audit events, and what the log must never hold.
//!
//! This test installs a GLOBAL `tracing` subscriber (at TRACE, every target, every thread)
//! writing into an in-memory buffer, so it runs alone in a child process of the test binary
//! ([`support::alone::in_own_process`]): one full scenario in the
//! hardened profile (register, failed logins, login, profile, a pass-through request, the
//! sessions list, change of password, reset request with a hook, reset, logout, end of all
//! sessions, throttling), then a search of the captured text:
//!
//! - item 30: no password, no session cookie value, no reset token (in any form), no device
//!   token, no Cookie header, no form body, no password hash;
//! - item 29: the audit events `register`, `login`, `login_failed`, `login_throttled`,
//!   `logout`, `reset_requested`, `password_reset`, `password_changed`, `sessions_ended`,
//!   every one with the client address and at least one with the user's id; and a failing
//!   reset hook is logged.

use crate::support;

use std::time::{Duration, Instant};

use http::Method;
use support::*;
use tokio::sync::mpsc::UnboundedReceiver;
use tower_user_auth::{BoxError, hook::Mail};
use tracing_subscriber::util::SubscriberInitExt;

const EMAIL: &str = "audited.user@example.com";
const P1: &str = "first secret passphrase A1";
const P_WRONG: &str = "wrong secret guess B2";
const P2: &str = "second secret passphrase C3";
const P3: &str = "third secret passphrase D4";
/// The client address of every request (the harness's default peer).
const CLIENT: &str = "192.0.2.10";

const EVENTS: [&str; 9] = [
    "register",
    "login",
    "login_failed",
    "login_throttled",
    "logout",
    "reset_requested",
    "password_reset",
    "password_changed",
    "sessions_ended",
];

/// What the scenario handled that the log must not show.
struct Handled {
    cookies: Vec<String>,
    device: String,
    reset_token: String,
    first_hash: String,
}

/// Runs the whole scenario against `h`, whose reset hook sends its tokens to `from_hook`.
async fn scenario(h: &Harness, from_hook: &mut UnboundedReceiver<String>) -> Handled {
    // Register, fail once (and once on an unknown email), log in twice.
    assert_eq!(h.register(EMAIL, P1).await.status, 200);
    let uid = h.user(EMAIL).await.id;
    let first_hash = h.user(EMAIL).await.hashed_password;
    assert_eq!(h.login(EMAIL, P_WRONG).await.status, 401);
    assert_eq!(h.login("nobody@example.com", P_WRONG).await.status, 401);
    let c1 = h.session(EMAIL, P1).await;
    let c2 = h.session(EMAIL, P1).await;

    // Read the profile, pass through to the app, list the sessions.
    assert_eq!(h.profile(&c1).await.status, 200);
    let me = h.send(with_cookie(get("/me"), &c1)).await;
    assert_eq!(me.app_user().expect("a user")["id"], uid.0);
    assert_eq!(h.send(with_cookie(get("/sessions"), &c1)).await.status, 200);

    // Change the password (ends c2), log in again.
    assert_eq!(h.change_password(&c1, P1, P2).await.status, 200);
    let c3 = h.session(EMAIL, P2).await;

    // Reset: request (the token goes to the hook), reset (ends every session).
    assert_eq!(h.request_reset(EMAIL).await.status, 200);
    let token = tokio::time::timeout(Duration::from_secs(10), from_hook.recv())
        .await
        .expect("the hook was called")
        .expect("a token");
    let res = h.reset(EMAIL, &token, P3).await;
    assert_eq!(res.status, 200, "{}", res.text());

    // Log in and out; log in twice and end all sessions.
    let c4 = h.session(EMAIL, P3).await;
    assert_eq!(h.logout(&c4).await.status, 302);
    let c5 = h.session(EMAIL, P3).await;
    let c6 = h.session(EMAIL, P3).await;
    let res = h
        .send(with_cookie(empty(Method::DELETE, "/sessions/all"), &c5))
        .await;
    assert_eq!(res.status, 302);

    // Device cookies: a login sets one; a failure and a success presenting it, then five
    // failures in a row revoke it (counted against the token only, not the throttle).
    let device = h
        .login(EMAIL, P3)
        .await
        .cookie("device")
        .expect("a device cookie");
    let with_device = |pw: &str| {
        let req = form(
            Method::POST,
            "/sessions",
            &[("email", EMAIL), ("password", pw)],
        );
        with_header(req, "cookie", &format!("device={device}"))
    };
    assert_eq!(h.send(with_device(P_WRONG)).await.status, 401);
    assert_eq!(h.send(with_device(P3)).await.status, 200);
    for _ in 0..5 {
        assert_eq!(h.send(with_device(P_WRONG)).await.status, 401);
    }

    // Throttling: five failures, then 429.
    for _ in 0..5 {
        assert_eq!(h.login(EMAIL, P_WRONG).await.status, 401);
    }
    assert_eq!(h.login(EMAIL, P3).await.status, 429);
    Handled {
        cookies: vec![c1, c2, c3, c4, c5, c6],
        device,
        reset_token: token,
        first_hash,
    }
}

/// Item 30: the log holds none of `secrets` and no Cookie header, form body or hash.
fn assert_no_secret(text: &str, secrets: &[(String, String)]) {
    for (what, secret) in secrets {
        assert!(!text.contains(secret.as_str()), "the log holds the {what}");
    }
    for (what, marker) in [
        ("a Cookie header", "session_id="),
        ("a Cookie header", "cookie:"),
        ("a form body", "password="),
        ("a form body", "reset_token="),
        ("a form body", "email=audited.user%40"),
        ("a bcrypt hash", "$2b$"),
    ] {
        assert!(
            !text.to_lowercase().contains(&marker.to_lowercase()),
            "the log holds {what} ({marker:?})"
        );
    }
}

/// Item 29: every event is there, every line of it names the client, one names the user.
fn assert_audit_events(text: &str, user_id: &str) {
    let client = format!("client={CLIENT}");
    let mut missing = Vec::new();
    for event in EVENTS {
        let marker = format!("event=\"{event}\"");
        let lines: Vec<&str> = text.lines().filter(|l| l.contains(&marker)).collect();
        if lines.is_empty() {
            missing.push(format!("{event}: no event"));
        } else if let Some(line) = lines.iter().find(|l| !l.contains(&client)) {
            missing.push(format!("{event}: a line without {client}: {line}"));
        } else if !lines.iter().any(|l| l.contains(user_id)) {
            missing.push(format!("{event}: no line with {user_id}: {lines:?}"));
        }
    }
    // (The throttled attempt is an attempt on the account: which one must be known.)
    assert!(
        missing.is_empty(),
        "audit events missing or incomplete:\n{}\n\nthe log:\n{text}",
        missing.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn items_29_and_30_audit_events_name_user_and_client_and_no_secret_is_logged() {
    // The global subscriber would see every other test's events: alone in a process.
    let test = "items_29_and_30_audit_events_name_user_and_client_and_no_secret_is_logged";
    if support::alone::in_own_process(&format!("{}::{test}", module_path!())) {
        return;
    }
    let log = Captured::default();
    log.subscriber().init();

    // The mailer delivers the reset token, then fails (as a mailer might after a partial
    // send): the failure must be logged, the token not.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let mailer = move |_: &str, mail: &Mail| -> Result<(), BoxError> {
        let Mail::PasswordReset(token) = mail else {
            return Ok(());
        };
        tx.send(token.expose().to_owned()).expect("test alive");
        Err("smtp unavailable".into())
    };
    let h = Harness::new(hardened_config().with_mailer(mailer));
    let handled = scenario(&h, &mut rx).await;
    let token = handled.reset_token;
    let user = h.user(EMAIL).await;

    // The hook's failure is logged by a detached task: wait for it.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !log.text().contains("reset token hook failed") {
        assert!(
            Instant::now() < deadline,
            "the hook's failure was not logged:\n{}",
            log.text()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let text = log.text();
    assert!(text.contains("smtp unavailable"), "{text}");

    let mut secrets: Vec<(String, String)> = vec![
        ("password P1".into(), P1.into()),
        ("wrong password".into(), P_WRONG.into()),
        ("password P2".into(), P2.into()),
        ("password P3".into(), P3.into()),
        ("reset token".into(), token.clone()),
        ("device token".into(), handled.device.clone()),
        ("reset token without hyphens".into(), token.replace('-', "")),
        ("first password hash".into(), handled.first_hash),
        ("password hash".into(), user.hashed_password.clone()),
    ];
    for (i, c) in handled.cookies.iter().enumerate() {
        secrets.push((format!("session cookie {i}"), c.clone()));
        secrets.push((
            format!("session cookie {i} without hyphens"),
            c.replace('-', ""),
        ));
    }
    assert_no_secret(&text, &secrets);
    assert_audit_events(&text, &format!("user_id={}", user.id.0));

    // Deleting the account through the API is audited too (no client: no request).
    h.auth.delete_user(user.id).await.expect("delete");
    let text = log.text();
    let deleted = format!("user_id={}", user.id.0);
    assert!(
        text.lines()
            .any(|l| l.contains("event=\"user_deleted\"") && l.contains(&deleted)),
        "no user_deleted event:\n{text}"
    );
}
