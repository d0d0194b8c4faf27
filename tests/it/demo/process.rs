//! The demo as its users run it: the real binary as a child process on a real redb file,
//! driven over TCP with the seed's scenario, stopped with SIGTERM (exit 0) and restarted on
//! the same file; and the demo refusing a bad environment with a message, without a panic.
//! The account lifecycle's settings and printed tokens: `demo_lifecycle/process.rs`.

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
    let a = demo
        .http
        .post(
            "/sessions",
            Body::Form(&[("email", EMAIL), ("password", "NoNo")]),
        )
        .await;
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
    let a = demo
        .http
        .put(
            "/reset_password",
            Body::Form(&[
                ("email", EMAIL),
                ("reset_token", &token),
                ("new_password", "again"),
            ]),
        )
        .await;
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
    let a = demo
        .http
        .post(
            "/users",
            Body::Form(&[("email", email), ("password", password)]),
        )
        .await;
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
        .put(
            "/reset_password",
            Body::Form(&[
                ("email", email),
                ("reset_token", &token),
                ("new_password", "another long passphrase"),
            ]),
        )
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

#[test]
fn an_unknown_profile_stops_the_demo_with_a_message() {
    assert_refused_to_start(&[("AUTH_PROFILE", "bogus")], &["bogus", "profile"]);
}

#[test]
fn a_database_in_a_missing_directory_stops_the_demo_with_a_message() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("no/such/dir/auth.redb");
    let db = db.to_str().expect("utf-8 path");
    assert_refused_to_start(&[("AUTH_DB", db)], &["cannot open the database", db]);
    assert!(!dir.path().join("no").exists(), "nothing was created");
}

#[test]
fn other_bad_settings_stop_the_demo_with_a_message() {
    for (env, expect) in [
        (("BCRYPT_COST", "99"), "bcrypt cost"),
        (("BCRYPT_COST", "twelve"), "BCRYPT_COST"),
        (("PORT", "99999"), "PORT"),
        (("AUTH_SESSION_LIFETIME", "soon"), "AUTH_SESSION_LIFETIME"),
        (("AUTH_COOKIE_SECURE", "maybe"), "AUTH_COOKIE_SECURE"),
        (("AUTH_TRUSTED_PROXIES", "not-an-ip"), "not-an-ip"),
        (("AUTH_BODY_TIMEOUT", "0"), "body timeout"),
        (
            ("AUTH_HEADER_READ_TIMEOUT", "0"),
            "AUTH_HEADER_READ_TIMEOUT",
        ),
        (("AUTH_IDLE_TIMEOUT", "-1"), "AUTH_IDLE_TIMEOUT"),
        (("AUTH_MAX_CONNECTIONS", "0"), "AUTH_MAX_CONNECTIONS"),
        (
            ("AUTH_MAX_CONNECTIONS_PER_CLIENT", "many"),
            "AUTH_MAX_CONNECTIONS_PER_CLIENT",
        ),
    ] {
        assert_refused_to_start(&[env], &[expect]);
    }
}

/// `AUTH_DATABASE_URL` must be PostgreSQL's, and `AUTH_DATABASE_POOL` a positive number
/// that goes with it; a PostgreSQL URL in a demo built without the feature `postgres` stops
/// it with a message naming the feature; with the feature, a server it cannot reach stops it
/// before it listens, without the URL's password in the message.
#[test]
fn the_database_url_and_pool_are_checked_before_the_demo_listens() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("never.redb");
    let db = db.to_str().expect("utf-8 path");
    assert_refused_to_start(
        &[("AUTH_DB", db), ("AUTH_DATABASE_URL", "mysql://db/auth")],
        &["AUTH_DATABASE_URL", "postgres://"],
    );
    assert_refused_to_start(&[("AUTH_DATABASE_POOL", "4")], &["AUTH_DATABASE_POOL"]);
    // Port 1 on loopback: nothing listens there.
    let unreachable = "postgres://auth:s3cret-pw@127.0.0.1:1/auth";
    assert_refused_to_start(
        &[
            ("AUTH_DB", db),
            ("AUTH_DATABASE_URL", unreachable),
            ("AUTH_DATABASE_POOL", "none"),
        ],
        &["AUTH_DATABASE_POOL"],
    );
    // The demo binary may have been built with or without the feature (`cargo test --test`
    // runs the one built last): either answer, never the password.
    let stderr =
        assert_refused_to_start(&[("AUTH_DB", db), ("AUTH_DATABASE_URL", unreachable)], &[]);
    assert!(
        stderr.contains("build it with `--features postgres`")
            || (stderr.contains("cannot use the database")
                && stderr.contains("postgres://auth:***@127.0.0.1:1/auth")),
        "{stderr}"
    );
    assert!(
        !stderr.contains("s3cret-pw"),
        "no password in the message: {stderr}"
    );
    assert!(!Path::new(db).exists(), "no redb file opened");
}

#[test]
fn a_port_in_use_stops_the_demo_with_a_message() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port().to_string();
    assert_refused_to_start(&[("PORT", &port)], &["cannot listen", &port]);
}

/// Settings that cannot work together stop the demo before it listens, every one reported:
/// a `__Host-` cookie without `Secure` (the demo's default profile has none), a renewal
/// interval longer than the idle timeout, an after-logout target that is an auth route, and
/// a trusted network of every address.
#[test]
fn settings_that_cannot_work_together_stop_the_demo_with_every_message() {
    assert_refused_to_start(
        &[
            ("AUTH_COOKIE_NAME", "__Host-sid"),
            ("AUTH_SESSION_IDLE_TIMEOUT", "600"),
            ("AUTH_SESSION_RENEWAL", "3600"),
            ("AUTH_ROUTE_AFTER_LOGOUT", "/sessions"),
            ("AUTH_TRUSTED_PROXIES", "0.0.0.0/0"),
        ],
        &["__Host-sid", "renewal", "\"/sessions\"", "0.0.0.0/0"],
    );
    assert_refused_to_start(
        &[
            ("AUTH_PROFILE", "hardened"),
            ("AUTH_COOKIE_SECURE", "false"),
            ("AUTH_COOKIE_NAME", "__Secure-sid"),
        ],
        &["__Secure-sid", "Secure"],
    );
}

/// The demo's address line and its standard error until then, started with `env`
/// (`HOST` may be any address: [`Demo::start`] insists on loopback).
fn start_on(db: &Path, env: &[(&str, &str)]) -> (String, String) {
    use std::io::{BufRead, BufReader};
    let mut child = demo::command(db, env)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the demo");
    let stderr = demo::read_to_end(child.stderr.take().expect("stderr"));
    let mut line = String::new();
    let read = BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line);
    // The warning is written before the address line; stop the demo to read it.
    let _ = child.kill();
    let _ = child.wait();
    let stderr = stderr.join().unwrap_or_default();
    assert!(
        read.is_ok_and(|n| n > 0),
        "no address line; stderr {stderr:?}"
    );
    (line, stderr)
}

/// A `Secure` cookie served over plain http beyond loopback is dropped by browsers: the
/// hardened demo listening on such an address warns at start-up, on standard error (the
/// address line stays the first of standard output); on loopback, where browsers accept it,
/// and in the compatibility profile (no `Secure`), it does not.
#[test]
fn the_hardened_demo_on_plain_http_beyond_loopback_warns_that_browsers_drop_the_cookie() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("auth.redb");
    let warned = |stderr: &str| stderr.contains("Secure") && stderr.contains("plain http");
    let (line, stderr) = start_on(&db, &[("AUTH_PROFILE", "hardened"), ("HOST", "0.0.0.0")]);
    assert!(line.starts_with("listening on http://0.0.0.0:"), "{line}");
    assert!(warned(&stderr), "no warning: {stderr:?}");
    assert!(stderr.contains("WARN"), "{stderr}");
    for env in [
        &[("AUTH_PROFILE", "hardened")][..],
        &[("AUTH_PROFILE", "seed"), ("HOST", "0.0.0.0")],
    ] {
        let (line, stderr) = start_on(&db, env);
        assert!(line.starts_with("listening on http://"), "{line}");
        assert!(!warned(&stderr), "{env:?}: {stderr}");
    }
}

/// Issue 9 P11: the compatibility profile (the demo's default) hands any account's reset
/// token to whoever asks; the demo says so in one warning line on standard error at start-up,
/// whatever `RUST_LOG` says, and `listening on http://ADDR` stays the first line of standard
/// output. The hardened profile prints no such warning.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_compatibility_profile_warns_on_stderr_at_start_up() {
    let dir = tempfile::tempdir().expect("temp dir");
    for (env, warns) in [
        (vec![("RUST_LOG", "off")], true),
        (vec![("RUST_LOG", "off"), ("AUTH_PROFILE", "seed")], true),
        (
            vec![
                ("RUST_LOG", "off"),
                ("AUTH_PROFILE", "hardened"),
                ("AUTH_COOKIE_SECURE", "false"),
            ],
            false,
        ),
    ] {
        // Demo::start asserts that the first line of standard output is the address.
        let demo = Demo::start(&dir.path().join("warn.redb"), &env);
        let (status, stderr) = demo.terminate();
        assert_clean_exit(status, &stderr);
        let warnings: Vec<&str> = stderr
            .lines()
            .filter(|l| l.contains("compatibility profile"))
            .collect();
        if warns {
            assert_eq!(warnings.len(), 1, "{env:?}: one warning line: {stderr:?}");
            assert!(
                warnings[0].contains("WARNING") && warnings[0].contains("reset token"),
                "{env:?}: {stderr:?}"
            );
        } else {
            assert!(warnings.is_empty(), "{env:?}: {stderr:?}");
        }
    }
}

/// The demo reads `AUTH_DEVICE_COOKIE` and `AUTH_DEVICE_COOKIE_NAME`: the hardened demo sets
/// the device cookie under the configured name, or none when it is off, and a name equal to
/// the session cookie's stops it before it listens.
#[tokio::test]
async fn the_device_cookie_settings_are_read_and_checked() {
    let (email, password) = ("dev@example.com", "a long enough passphrase");
    for (switch, name) in [("true", "dev_cookie"), ("false", "dev_cookie")] {
        let dir = tempfile::tempdir().expect("temp dir");
        let demo = start(
            &dir.path().join("demo.redb"),
            &[
                ("AUTH_PROFILE", "hardened"),
                ("AUTH_COOKIE_SECURE", "false"),
                ("AUTH_DEVICE_COOKIE", switch),
                ("AUTH_DEVICE_COOKIE_NAME", name),
            ],
        );
        let fields = [("email", email), ("password", password)];
        let a = demo.http.post("/users", Body::Form(&fields)).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
        let a = demo.http.post("/sessions", Body::Form(&fields)).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
        assert_eq!(
            a.cookie(name).is_some(),
            switch == "true",
            "{:?}",
            a.headers
        );
        assert!(a.cookie("device").is_none());
        let (status, stderr) = demo.terminate();
        assert_clean_exit(status, &stderr);
    }
    assert_refused_to_start(
        &[("AUTH_DEVICE_COOKIE_NAME", "session_id")],
        &["device cookie", "session_id"],
    );
}

/// `AUTH_SESSION_CACHE_MB` sizes the store's session cache: with `0` (every session read
/// from the file) and with a small cache, a session works until logout and is refused after it;
/// a value that is not a number stops the demo before it listens.
#[tokio::test]
async fn the_session_cache_size_is_read_and_checked() {
    let fields = [("email", EMAIL), ("password", PASSWORD)];
    for mib in ["0", "1"] {
        let dir = tempfile::tempdir().expect("temp dir");
        let demo = start(
            &dir.path().join("demo.redb"),
            &[("AUTH_SESSION_CACHE_MB", mib)],
        );
        let a = demo.http.post("/users", Body::Form(&fields)).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
        let a = demo.http.post("/sessions", Body::Form(&fields)).await;
        let cookie = format!("session_id={}", a.session_cookie().expect("a session"));
        for _ in 0..3 {
            assert_eq!(demo.http.get("/profile", &cookie).await.status, 200);
        }
        assert_eq!(demo.http.delete("/sessions", &cookie).await.status, 302);
        assert_eq!(demo.http.get("/profile", &cookie).await.status, 403);
        let (status, stderr) = demo.terminate();
        assert_clean_exit(status, &stderr);
    }
    assert_refused_to_start(
        &[("AUTH_SESSION_CACHE_MB", "lots")],
        &["AUTH_SESSION_CACHE_MB"],
    );
    assert_refused_to_start(
        &[("AUTH_HASHING_PRIORITY", "high")],
        &["AUTH_HASHING_PRIORITY"],
    );
}

/// Issue 10: `AUTH_ROUTE_PREFIX=/auth` mounts every auth route under `/auth`: the seed's
/// scenario works over the prefixed paths, `GET /` is still the app's, the unprefixed paths
/// are the app's (its 404 here), logout still redirects to `/`, and `AUTH_ROUTE_*` paths are
/// relative to the prefix. A bad prefix stops the demo with a message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_route_prefix_mounts_the_seed_scenario_under_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let creds = [("email", EMAIL), ("password", PASSWORD)];
    let demo = start(
        &dir.path().join("demo.redb"),
        &[
            ("AUTH_ROUTE_PREFIX", "/auth"),
            ("AUTH_ROUTE_PROFILE", "/me"),
        ],
    );
    let a = demo.http.get("/", "").await;
    assert_ok(&a, &json!({"message": "Bienvenue"}));
    let a = demo.http.post("/users", Body::Form(&creds)).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND, "the app's: {}", a.body);
    let a = demo.http.post("/auth/users", Body::Form(&creds)).await;
    assert_ok(&a, &json!({"email": EMAIL, "message": "user created"}));
    let a = demo.http.get("/auth/me", "").await;
    assert_error(&a, StatusCode::FORBIDDEN);
    let a = demo.http.post("/auth/sessions/", Body::Form(&creds)).await;
    assert_ok(&a, &json!({"email": EMAIL, "message": "logged in"}));
    let cookie = format!("session_id={}", a.cookie("session_id").expect("cookie"));
    let a = demo.http.get("/auth/me", &cookie).await;
    assert_ok(&a, &json!({"email": EMAIL}));
    // The app's own `/me` is no longer shadowed by a route of the layer's.
    let a = demo.http.get("/me", &cookie).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.json()["email"], json!(EMAIL));
    assert!(a.json()["id"].is_u64(), "{}", a.body);
    let a = demo.http.get("/profile", &cookie).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND, "the app's: {}", a.body);
    let a = demo.http.get("/auth/users", "").await;
    assert_error(&a, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(a.header("allow"), Some("POST"));
    let answers = demo.http.delete_following("/auth/sessions", &cookie).await;
    assert_eq!(answers.len(), 2, "{answers:?}");
    assert_eq!(answers[0].status, StatusCode::FOUND);
    assert_eq!(
        answers[0].header("location"),
        Some("/"),
        "not under the prefix"
    );
    assert_ok(&answers[1], &json!({"message": "Bienvenue"}));
    reset_then_log_in(&demo, "/auth").await;
    let (status, stderr) = demo.terminate();
    assert_clean_exit(status, &stderr);

    assert_refused_to_start(
        &[("AUTH_ROUTE_PREFIX", "/auth/"), ("AUTH_COOKIE_NAME", "a;b")],
        &["route prefix \"/auth/\"", "cookie name \"a;b\""],
    );
    assert_refused_to_start(
        &[
            ("AUTH_ROUTE_PREFIX", "/auth"),
            ("AUTH_ROUTE_AFTER_LOGOUT", "/auth/sessions"),
        ],
        &["after-logout path \"/auth/sessions\""],
    );
}
