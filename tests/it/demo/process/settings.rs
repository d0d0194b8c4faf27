//! Settings read and warned about at start-up: plain http beyond loopback, the compatibility
//! profile, the device cookie, the session cache size, a route prefix.

use super::*;

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
