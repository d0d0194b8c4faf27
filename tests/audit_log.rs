//! Items 29 and 30 of the security checklist: audit events for every account event, with
//! user id and client address, and no secret in the log. Captures the whole log of a full
//! scenario (every level, every thread), so it runs alone in this test binary.

mod common;

use std::{
    io::Write,
    sync::{Arc, Mutex},
    time::Duration,
};

use common::{Body, call, request_from};
use http::{Method, StatusCode};
use tower_user_auth::{BoxError, token::ResetToken};

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

const PEER: &str = "203.0.113.9:5555";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn items_29_30_audit_events_without_secrets() {
    let capture = Capture::default();
    let writer = capture.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();

    let tokens = Arc::new(Mutex::new(Vec::<String>::new()));
    let hook_tokens = Arc::clone(&tokens);
    let config = common::hardened().with_reset_token_hook(move |_: &str, token: &ResetToken| {
        hook_tokens.lock().unwrap().push(token.expose().to_owned());
        Ok::<(), BoxError>(())
    });
    let (auth, _dir) = common::auth(config);
    let svc = common::service(&auth);
    let (email, pw, pw2, pw3) = (
        "audit@example.com",
        "first secret passphrase",
        "second secret passphrase",
        "third secret passphrase",
    );
    let send = |m: Method,
                p: &'static str,
                h: Vec<(&'static str, String)>,
                fields: Vec<(&'static str, &'static str)>| {
        let svc = svc.clone();
        async move {
            let headers: Vec<(&str, &str)> = h.iter().map(|(k, v)| (*k, v.as_str())).collect();
            call(
                &svc,
                request_from(PEER, m, p, &headers, Body::Form(&fields)),
            )
            .await
        }
    };

    assert_eq!(
        send(
            Method::POST,
            "/users",
            vec![],
            vec![("email", email), ("password", pw)]
        )
        .await
        .status,
        StatusCode::OK
    );
    assert_eq!(
        send(
            Method::POST,
            "/sessions",
            vec![],
            vec![("email", email), ("password", "wrong passphrase!")]
        )
        .await
        .status,
        StatusCode::UNAUTHORIZED
    );
    let login = send(
        Method::POST,
        "/sessions",
        vec![],
        vec![("email", email), ("password", pw)],
    )
    .await;
    let sid = login.cookie("session_id").unwrap();
    let second = send(
        Method::POST,
        "/sessions",
        vec![],
        vec![("email", email), ("password", pw)],
    )
    .await
    .cookie("session_id")
    .unwrap();
    let cookie = format!("session_id={sid}");
    for p in ["/profile", "/me", "/sessions"] {
        send(Method::GET, p, vec![("cookie", cookie.clone())], vec![]).await;
    }
    let a = send(
        Method::PUT,
        "/profile/password",
        vec![("cookie", cookie.clone())],
        vec![("current_password", pw), ("new_password", pw2)],
    )
    .await;
    assert_eq!(a.status, StatusCode::OK);
    send(
        Method::POST,
        "/reset_password",
        vec![],
        vec![("email", email)],
    )
    .await;
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let token = loop {
        if let Some(t) = tokens.lock().unwrap().first().cloned() {
            break t;
        }
        assert!(std::time::Instant::now() < deadline, "hook not called");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let reset_body: Vec<(&'static str, &'static str)> = vec![
        ("email", email),
        ("reset_token", Box::leak(token.clone().into_boxed_str())),
        ("new_password", pw3),
    ];
    assert_eq!(
        send(Method::PUT, "/reset_password", vec![], reset_body)
            .await
            .status,
        StatusCode::OK
    );
    let login = send(
        Method::POST,
        "/sessions",
        vec![],
        vec![("email", email), ("password", pw3)],
    )
    .await;
    let sid3 = login.cookie("session_id").unwrap();
    let cookie3 = format!("session_id={sid3}");
    let a = send(
        Method::DELETE,
        "/sessions",
        vec![("cookie", cookie3.clone())],
        vec![],
    )
    .await;
    assert_eq!(a.status, StatusCode::FOUND);
    let again = send(
        Method::POST,
        "/sessions",
        vec![],
        vec![("email", email), ("password", pw3)],
    )
    .await
    .cookie("session_id")
    .unwrap();
    send(
        Method::DELETE,
        "/sessions/all",
        vec![("cookie", format!("session_id={again}"))],
        vec![],
    )
    .await;
    for _ in 0..6 {
        send(
            Method::POST,
            "/sessions",
            vec![],
            vec![("email", email), ("password", "wrong passphrase!")],
        )
        .await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;

    let log = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    // Item 29: every account event, with user id and client address.
    for event in [
        "\"register\"",
        "\"login\"",
        "\"login_failed\"",
        "\"login_throttled\"",
        "\"logout\"",
        "\"reset_requested\"",
        "\"password_reset\"",
        "\"password_changed\"",
        "\"sessions_ended\"",
    ] {
        let line = log
            .lines()
            .find(|l| l.contains(&format!("event={event}")))
            .unwrap_or_else(|| panic!("no {event} event in:\n{log}"));
        assert!(line.contains("client=203.0.113.9"), "{line}");
        assert!(line.contains("user_id=1"), "{line}");
    }
    // Item 30: no password, token, raw session id, cookie header or form body.
    for secret in [
        pw,
        pw2,
        pw3,
        "wrong passphrase!",
        &sid,
        &second,
        &sid3,
        &again,
        &token,
        "session_id=",
        "password=",
    ] {
        assert!(!log.contains(secret), "{secret:?} is in the log:\n{log}");
    }
}
