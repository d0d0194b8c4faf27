//! The demo's account lifecycle settings and its development mailer (a module of
//! `tests/demo_process.rs`): `AUTH_SECRET_KEY` (without it TOTP is off, said in one log
//! line; a bad one stops the demo without echoing it), `AUTH_REQUIRE_EMAIL_CONFIRMATION`, and
//! the confirmation and email-change tokens printed on standard output, never logged.

use http::{Method, StatusCode};

use super::{assert_clean_exit, assert_refused_to_start, start};
use crate::support::{Answer, Body, Demo};

/// A fixed key for the demo's TOTP secrets (32 bytes in standard base64).
const SECRET_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const PASSWORD: &str = "a long enough passphrase";

/// The hardened demo on plain http, with `env`.
fn hardened(dir: &tempfile::TempDir, env: &[(&str, &str)]) -> Demo {
    let mut all = vec![
        ("AUTH_PROFILE", "hardened"),
        ("AUTH_COOKIE_SECURE", "false"),
    ];
    all.extend_from_slice(env);
    start(&dir.path().join("demo.redb"), &all)
}

/// `method path` with `fields` as a form and `cookie`.
async fn send(
    demo: &Demo,
    method: Method,
    path: &str,
    cookie: &str,
    fields: &[(&str, &str)],
) -> Answer {
    demo.http
        .send(method, path, &[("cookie", cookie)], Body::Form(fields))
        .await
}

/// Registers and logs in `email`: the session's `Cookie` header.
async fn registered(demo: &Demo, email: &str) -> String {
    let creds = [("email", email), ("password", PASSWORD)];
    let a = demo.http.post("/users", Body::Form(&creds)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let a = demo.http.post("/sessions", Body::Form(&creds)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    format!("session_id={}", a.session_cookie().expect("session cookie"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_secret_key_totp_is_off_and_one_log_line_says_why() {
    for (env, off) in [
        (vec![], true),
        (vec![("AUTH_SECRET_KEY", SECRET_KEY)], false),
    ] {
        let dir = tempfile::tempdir().expect("temp dir");
        let demo = hardened(&dir, &env);
        let cookie = registered(&demo, "kay@example.com").await;
        let a = send(
            &demo,
            Method::POST,
            "/profile/totp",
            &cookie,
            &[("current_password", PASSWORD)],
        )
        .await;
        if off {
            // Not served: the path is the app's, which has no such route.
            assert_eq!(a.status, StatusCode::NOT_FOUND, "{}", a.body);
        } else {
            assert_eq!(a.status, StatusCode::OK, "{}", a.body);
            let secret = a.json()["secret"].as_str().expect("secret").to_owned();
            assert_eq!(secret.len(), 32, "{secret}");
        }
        let (status, stderr) = demo.terminate();
        assert_clean_exit(status, &stderr);
        let said: Vec<&str> = stderr
            .lines()
            .filter(|l| l.contains("AUTH_SECRET_KEY"))
            .collect();
        if off {
            assert_eq!(said.len(), 1, "exactly one line: {stderr}");
            assert!(said[0].contains("TOTP"), "{stderr}");
        } else {
            assert!(said.is_empty(), "{stderr}");
        }
    }
    // The seed profile has no TOTP to turn off: nothing to say.
    let dir = tempfile::tempdir().expect("temp dir");
    let demo = start(&dir.path().join("demo.redb"), &[]);
    let (status, stderr) = demo.terminate();
    assert_clean_exit(status, &stderr);
    assert!(!stderr.contains("AUTH_SECRET_KEY"), "{stderr}");
}

#[test]
fn a_bad_secret_key_or_confirmation_flag_stops_the_demo_without_echoing_the_key() {
    let short = "AAECAwQFBgcICQoLDA0ODw=="; // 16 bytes
    for (key, expect) in [
        ("not base64 at all!", "not standard base64"),
        (short, "16 bytes"),
        (
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
            "not standard base64",
        ),
    ] {
        let stderr = assert_refused_to_start(
            &[("AUTH_PROFILE", "hardened"), ("AUTH_SECRET_KEY", key)],
            &["AUTH_SECRET_KEY", expect],
        );
        assert!(!stderr.contains(key), "the key is not echoed: {stderr}");
    }
    assert_refused_to_start(
        &[("AUTH_REQUIRE_EMAIL_CONFIRMATION", "maybe")],
        &["AUTH_REQUIRE_EMAIL_CONFIRMATION"],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confirmation_and_email_change_tokens_are_printed_on_stdout_only() {
    let dir = tempfile::tempdir().expect("temp dir");
    let demo = hardened(
        &dir,
        &[
            ("AUTH_REQUIRE_EMAIL_CONFIRMATION", "1"),
            ("AUTH_THROTTLE", "false"),
        ],
    );
    // The email as sent, trimmed.
    let creds = [("email", "  Lee@Example.com "), ("password", PASSWORD)];
    let a = demo.http.post("/users", Body::Form(&creds)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let first = demo.printed_token("confirmation", "Lee@Example.com");
    let a = demo.http.post("/sessions", Body::Form(&creds)).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "{}", a.body);
    assert_eq!(a.json()["message"], "email not confirmed");

    // A new token revokes the first.
    let a = demo
        .http
        .post(
            "/confirm_email/resend",
            Body::Form(&[("email", "Lee@Example.com")]),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let second = demo.printed_token("confirmation", "Lee@Example.com");
    assert_ne!(first, second);
    let a = demo
        .http
        .post("/confirm_email", Body::Form(&[("token", &first)]))
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "revoked: {}", a.body);
    let a = demo
        .http
        .post("/confirm_email", Body::Form(&[("token", &second)]))
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.json()["message"], "email confirmed");
    let a = demo.http.post("/sessions", Body::Form(&creds)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let cookie = format!("session_id={}", a.session_cookie().expect("session cookie"));

    // An email change waits for the token sent to the new address.
    let a = send(
        &demo,
        Method::PUT,
        "/profile/email",
        &cookie,
        &[
            ("current_password", PASSWORD),
            ("new_email", " Lee.New@Example.com "),
        ],
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let change = demo.printed_token("email change", "Lee.New@Example.com");
    let a = demo
        .http
        .post("/profile/email/confirm", Body::Form(&[("token", &change)]))
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let notice = demo
        .stdout
        .recv_timeout(std::time::Duration::from_secs(10))
        .expect("the notice to the old address");
    assert!(
        notice.starts_with("email changed for ") && notice.ends_with("now Lee.New@Example.com"),
        "{notice}"
    );
    let a = demo.http.get("/me", &cookie).await;
    assert_eq!(a.status, StatusCode::OK, "the session stays: {}", a.body);
    assert_eq!(a.json()["email"], "Lee.New@Example.com");

    let (status, log) = demo.terminate();
    assert_clean_exit(status, &log);
    for token in [&first, &second, &change] {
        assert!(
            !log.contains(token.as_str()),
            "a token is never logged: {log}"
        );
    }
}

/// The next lines on the demo's standard output that start with `security notice for `,
/// `n` of them within 10 s (other lines are skipped), sorted (notices of one request are
/// delivered detached, in any order).
fn printed_notices(demo: &Demo, n: usize) -> Vec<String> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut notices = Vec::new();
    while notices.len() < n {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let line = demo
            .stdout
            .recv_timeout(left)
            .unwrap_or_else(|e| panic!("no security notice on stdout ({e}); got {notices:?}"));
        if line.starts_with("security notice for ") {
            notices.push(line);
        }
    }
    notices.sort();
    notices
}

/// The development mailer prints one `security notice for <email>: <what>` line per notice:
/// a password changed, a password reset, the second factor on, a recovery code used (at a
/// login and to turn the factor off), the factor off.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn security_notices_are_printed_one_line_each() {
    use crate::support::browser::totp::{code_at, current_step};

    let dir = tempfile::tempdir().expect("temp dir");
    let demo = hardened(
        &dir,
        &[("AUTH_SECRET_KEY", SECRET_KEY), ("AUTH_THROTTLE", "false")],
    );
    let email = "kay@example.com";
    let notice = |what: &str| vec![format!("security notice for {email}: {what}")];
    let cookie = registered(&demo, email).await;
    let new_password = "another long passphrase";
    let fields = [
        ("current_password", PASSWORD),
        ("new_password", new_password),
    ];
    let a = send(&demo, Method::PUT, "/profile/password", &cookie, &fields).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(printed_notices(&demo, 1), notice("password changed"));

    let a = demo
        .http
        .post("/reset_password", Body::Form(&[("email", email)]))
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let token = demo.printed_reset_token(email);
    let fields = [
        ("email", email),
        ("reset_token", token.as_str()),
        ("new_password", PASSWORD),
    ];
    let a = send(&demo, Method::PUT, "/reset_password", "", &fields).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(printed_notices(&demo, 1), notice("password reset"));

    let creds = [("email", email), ("password", PASSWORD)];
    let a = demo.http.post("/sessions", Body::Form(&creds)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let cookie = format!("session_id={}", a.session_cookie().expect("session cookie"));
    let fields = [("current_password", PASSWORD)];
    let a = send(&demo, Method::POST, "/profile/totp", &cookie, &fields).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let secret = a.json()["secret"].as_str().expect("secret").to_owned();
    let now = code_at(&secret, current_step());
    let fields = [("code", now.as_str())];
    let a = send(
        &demo,
        Method::POST,
        "/profile/totp/confirm",
        &cookie,
        &fields,
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(printed_notices(&demo, 1), notice("second factor enabled"));
    let codes = a.json()["recovery_codes"].clone();
    let code = |i: usize| codes[i].as_str().expect("a recovery code").to_owned();

    let first = code(0);
    let fields = [
        ("email", email),
        ("password", PASSWORD),
        ("recovery_code", first.as_str()),
    ];
    let a = send(&demo, Method::POST, "/sessions", "", &fields).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(
        printed_notices(&demo, 1),
        notice("recovery code used (9 left)")
    );

    let second = code(1);
    let fields = [
        ("current_password", PASSWORD),
        ("recovery_code", second.as_str()),
    ];
    let a = send(&demo, Method::DELETE, "/profile/totp", &cookie, &fields).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let mut both = notice("recovery code used (8 left)");
    both.extend(notice("second factor disabled"));
    assert_eq!(printed_notices(&demo, 2), both);

    let (status, log) = demo.terminate();
    assert_clean_exit(status, &log);
}
