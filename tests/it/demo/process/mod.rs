//! The demo as its users run it: the real binary as a child process on a real redb file,
//! driven over TCP with the seed's scenario, stopped with SIGTERM (exit 0) and restarted on
//! the same file; and the demo refusing a bad environment with a message, without a panic.
//! The account lifecycle's settings and printed tokens: `process/accounts.rs`.

mod refusals;
mod settings;

use crate::support;

mod accounts;

use std::{
    path::Path,
    process::{ExitStatus, Stdio},
    time::{Duration, Instant},
};

use http::StatusCode;
use serde_json::json;
use support::{Body, Demo, assert_error, assert_ok, demo};

/// Starts the demo with `RUST_LOG=info` (the log the tests search for secrets) and `env`.
fn start(db: &Path, env: &[(&str, &str)]) -> Demo {
    let mut all = vec![("RUST_LOG", "info")];
    all.extend_from_slice(env);
    Demo::start(db, &all)
}

#[track_caller]
fn assert_clean_exit(status: ExitStatus, stderr: &str) {
    assert_eq!(
        status.code(),
        Some(0),
        "exit 0 on SIGTERM; stderr:\n{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

const EMAIL: &str = "guillaume@holberton.io";
const PASSWORD: &str = "b4l0u";
const NEW_PASSWORD: &str = "t4rt1fl3tt3";

/// The seed scenario's steps 7 to 9 on the routes under `prefix`: ask for a reset token,
/// set the new password with it, log in with the new password. The token and the new
/// session's `Cookie` header.
async fn reset_then_log_in(demo: &Demo, prefix: &str) -> (String, String) {
    // 7.
    let a = demo
        .http
        .post(
            &format!("{prefix}/reset_password"),
            Body::Multipart(&[("email", EMAIL)]),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.json()["email"], json!(EMAIL));
    let token = a.json()["reset_token"]
        .as_str()
        .expect("token in the seed profile")
        .to_owned();
    // 8.
    let a = demo
        .http
        .put(
            &format!("{prefix}/reset_password"),
            Body::Json(json!({"email": EMAIL, "reset_token": token, "new_password": NEW_PASSWORD})),
        )
        .await;
    assert_ok(&a, &json!({"email": EMAIL, "message": "Password updated"}));
    // 9.
    let new_creds = [("email", EMAIL), ("password", NEW_PASSWORD)];
    let a = demo
        .http
        .post(&format!("{prefix}/sessions"), Body::Form(&new_creds))
        .await;
    assert_ok(&a, &json!({"email": EMAIL, "message": "logged in"}));
    let live = format!("session_id={}", a.cookie("session_id").expect("cookie"));
    (token, live)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_client_against_the_demo_then_sigterm_and_a_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("demo.redb");
    let creds = [("email", EMAIL), ("password", PASSWORD)];
    let new_creds = [("email", EMAIL), ("password", NEW_PASSWORD)];

    let demo = start(&db, &[]);
    let a = demo.http.get("/", "").await;
    assert_ok(&a, &json!({"message": "Bienvenue"}));
    // 1.
    let a = demo.http.post("/users", Body::Form(&creds)).await;
    assert_ok(&a, &json!({"email": EMAIL, "message": "user created"}));
    let a = demo.http.post("/users", Body::Multipart(&creds)).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(a.json(), json!({"message": "email already registered"}));
    // 2.
    let a = demo.http.log_in(EMAIL, "NoNo").await;
    assert_error(&a, StatusCode::UNAUTHORIZED);
    // 3.
    let a = demo.http.get("/profile", "").await;
    assert_error(&a, StatusCode::FORBIDDEN);
    // 4.
    let a = demo.http.post("/sessions", Body::Form(&creds)).await;
    assert_ok(&a, &json!({"email": EMAIL, "message": "logged in"}));
    let line = a.set_cookie_line("session_id").expect("session cookie");
    for attr in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age="] {
        assert!(line.contains(attr), "{attr}: {line}");
    }
    assert!(!line.contains("Secure"), "seed profile by default: {line}");
    let cookie = format!("session_id={}", a.cookie("session_id").expect("cookie"));
    // 5.
    let a = demo.http.get("/profile", &cookie).await;
    assert_ok(&a, &json!({"email": EMAIL}));
    // The demo's own route that reads the injected user: exactly id and email.
    let a = demo.http.get("/me", &cookie).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let me = a.json();
    assert_eq!(me["email"], json!(EMAIL));
    assert!(me["id"].is_u64(), "{me}");
    assert_eq!(me.as_object().map(serde_json::Map::len), Some(2), "{me}");
    let a = demo.http.get("/me", "").await;
    assert_error(&a, StatusCode::UNAUTHORIZED);
    // 6.
    let answers = demo.http.delete_following("/sessions", &cookie).await;
    assert_eq!(answers.len(), 2, "{answers:?}");
    assert_eq!(answers[0].status, StatusCode::FOUND);
    assert_eq!(answers[0].header("location"), Some("/"));
    assert!(
        answers[0]
            .set_cookie_line("session_id")
            .is_some_and(|l| l.contains("Max-Age=0")),
        "{:?}",
        answers[0].headers
    );
    assert_ok(&answers[1], &json!({"message": "Bienvenue"}));
    // 7. to 9.
    let (token, live) = reset_then_log_in(&demo, "").await;

    let (status, stderr) = demo.terminate();
    assert_clean_exit(status, &stderr);
    assert!(
        !stderr.contains(&token) && !stderr.contains(NEW_PASSWORD) && !stderr.contains(PASSWORD),
        "no secret in the log:\n{stderr}"
    );

    // The same file, a new process: the account, its new password and its session are there.
    let demo = start(&db, &[]);
    let a = demo.http.post("/sessions", Body::Form(&new_creds)).await;
    assert_ok(&a, &json!({"email": EMAIL, "message": "logged in"}));
    let a = demo.http.post("/sessions", Body::Form(&creds)).await;
    assert_error(&a, StatusCode::UNAUTHORIZED);
    let a = demo.http.get("/profile", &live).await;
    assert_ok(&a, &json!({"email": EMAIL}));
    let a = demo.http.get("/me", &live).await;
    assert_eq!(a.json(), me, "the same user, the same id");
    let a = demo.http.post("/users", Body::Form(&creds)).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "still registered");
    let a = demo.http.reset_password(EMAIL, &token, "again").await;
    assert_error(&a, StatusCode::FORBIDDEN);
    let (status, stderr) = demo.terminate();
    assert_clean_exit(status, &stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_a_request_in_flight_finish() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let dir = tempfile::tempdir().expect("temp dir");
    let demo = start(&dir.path().join("demo.redb"), &[]);
    let addr = demo.base.trim_start_matches("http://").to_owned();
    // Half a request: the headers and part of the body.
    let body = "email=inflight%40example.com&password=abcde";
    let (head, tail) = body.split_at(10);
    let mut stream = tokio::time::timeout(
        Duration::from_secs(10),
        tokio::net::TcpStream::connect(&addr),
    )
    .await
    .expect("connect in time")
    .expect("connect");
    let request = format!(
        "POST /users HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{head}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    stream.flush().await.expect("flush");
    tokio::time::sleep(Duration::from_millis(500)).await;
    demo.signal("TERM");
    tokio::time::sleep(Duration::from_millis(500)).await;
    stream
        .write_all(tail.as_bytes())
        .await
        .expect("write the rest");
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_string(&mut answer))
        .await
        .expect("the answer in time")
        .expect("read");
    assert!(
        answer.starts_with("HTTP/1.1 200"),
        "the request in flight was answered: {answer:?}"
    );
    assert!(answer.contains("user created"), "{answer}");
    let (status, stderr) = demo.terminated();
    assert_clean_exit(status, &stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hardened_demo_prints_the_reset_token_on_stdout_only() {
    let dir = tempfile::tempdir().expect("temp dir");
    let demo = start(
        &dir.path().join("demo.redb"),
        &[
            ("AUTH_PROFILE", "hardened"),
            ("AUTH_COOKIE_SECURE", "false"),
        ],
    );
    let (email, password) = ("h@example.com", "a long enough passphrase");
    let a = demo.http.register(email, password).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let a = demo
        .http
        .post("/reset_password", Body::Form(&[("email", email)]))
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert!(a.json().get("reset_token").is_none(), "never in the answer");
    let token = demo.printed_reset_token(email);
    let a = demo
        .http
        .reset_password(email, &token, "another long passphrase")
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let (status, log) = demo.terminate();
    assert_clean_exit(status, &log);
    assert!(
        log.contains("reset_requested"),
        "the audit log has the event:\n{log}"
    );
    assert!(!log.contains(&token), "the token is never logged");
    assert!(!log.contains(password), "nor the password");
}

/// Runs the demo with `env` and expects it to stop at once with a message naming `expect`;
/// its standard error.
fn assert_refused_to_start(env: &[(&str, &str)], expect: &[&str]) -> String {
    let dir = tempfile::tempdir().expect("temp dir");
    let started = Instant::now();
    let mut child = demo::command(&dir.path().join("x.redb"), env)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the demo");
    let stdout = demo::read_to_end(child.stdout.take().expect("stdout"));
    let stderr = demo::read_to_end(child.stderr.take().expect("stderr"));
    let status = demo::wait_for(&mut child, Duration::from_secs(20));
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    let status = status.unwrap_or_else(|| {
        panic!("{env:?}: the demo did not stop (stdout {stdout:?}, stderr {stderr:?})")
    });
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{env:?}: took {:?}",
        started.elapsed()
    );
    let code = status.code();
    assert!(
        code.is_some_and(|c| c != 0),
        "{env:?}: a non-zero exit, not a signal: {status}; stderr {stderr:?}"
    );
    assert_ne!(code, Some(101), "{env:?}: a panic's exit code: {stderr}");
    assert!(!stderr.contains("panicked"), "{env:?}: {stderr}");
    for e in expect {
        assert!(
            stderr.contains(e),
            "{env:?}: {e:?} not in stderr {stderr:?}"
        );
    }
    assert!(
        !stdout.contains("listening on"),
        "{env:?}: it never served: {stdout}"
    );
    stderr
}
