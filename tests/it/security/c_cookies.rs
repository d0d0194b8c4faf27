//! C. Cookies and what the app sees: items 13 to 16.

use std::collections::BTreeSet;

use http::{Method, Request, header};
use tower_user_auth::{
    Auth, AuthConfig, AuthenticatedUser, ConfigProblem, OpenError, UserId,
    token::{SessionId, TokenDigest},
};

use crate::security::{
    HOUR,
    support::{
        FullBody, GOOD_PW, Harness, clears, cookie_attributes, cookie_name_value, empty, get,
        hardened_config, with_cookie, with_header,
    },
};

fn assert_cookie_attributes(line: &str, name: &str, secure: bool) {
    let (n, v) = cookie_name_value(line);
    assert_eq!(n, name, "{line}");
    assert!(!v.is_empty(), "{line}");
    let attrs = cookie_attributes(line);
    for a in ["httponly", "samesite=lax", "path=/"] {
        assert!(attrs.contains(&a.to_owned()), "{a} missing: {line}");
    }
    assert!(!attrs.iter().any(|a| a.starts_with("domain")), "{line}");
    assert_eq!(attrs.contains(&"secure".to_owned()), secure, "{line}");
}

/// Item 13: `HttpOnly; SameSite=Lax; Path=/`, no `Domain`; `Secure` in the hardened profile
/// only; named `session_id` by default.
#[tokio::test]
async fn item_13_cookie_attributes_per_profile() {
    for (h, secure) in [(Harness::seed(), false), (Harness::hardened(), true)] {
        h.registered("attrs@example.com", GOOD_PW).await;
        let res = h.login("attrs@example.com", GOOD_PW).await;
        let line = res
            .set_cookie_line("session_id")
            .expect("session_id cookie");
        assert_cookie_attributes(&line, "session_id", secure);
        // The hardened profile sets the device cookie too (item 7; its own test below).
        assert_eq!(res.set_cookies().len(), 1 + usize::from(secure));
        let c = res.session_cookie().unwrap();
        let clear = h.logout(&c).await.set_cookie_line("session_id").unwrap();
        let attrs = cookie_attributes(&clear);
        assert_eq!(attrs.contains(&"secure".to_owned()), secure, "{clear}");
        assert!(attrs.contains(&"samesite=lax".to_owned()), "{clear}");
    }
}

/// Item 13: the cookie name is configurable, so that a deployment can use `__Host-`; the
/// layer reads only that name.
#[tokio::test]
async fn item_13_cookie_name_configurable_for_host_prefix() {
    let name = "__Host-session_id";
    let h = Harness::new(hardened_config().with_cookie_name(name));
    h.registered("host@example.com", GOOD_PW).await;
    let res = h.login("host@example.com", GOOD_PW).await;
    assert!(res.set_cookie_line("session_id").is_none());
    let line = res.set_cookie_line(name).expect("the configured name");
    assert_cookie_attributes(&line, name, true);
    let token = res.cookie(name).unwrap();
    let cookie = format!("{name}={token}");
    let ok = h
        .send(with_header(get("/profile"), "cookie", &cookie))
        .await;
    assert_eq!(ok.status, 200);
    // The default name is not read any more.
    assert_eq!(h.profile(&token).await.status, 403);
    assert!(
        AuthConfig::default()
            .with_cookie_name("bad name")
            .validate()
            .is_err()
    );
}

/// Item 13 (device cookies, item 7): a successful login in the hardened profile also sets
/// the device cookie, `device` by default: `HttpOnly; SameSite=Strict; Path=/`, no `Domain`,
/// `Secure` exactly as the session cookie is, `Max-Age` 90 days, holding 64 hex digits that
/// no answer body carries. Its name is configurable (a `__Host-` one included).
#[tokio::test]
async fn item_13_device_cookie_attributes() {
    let ninety_days = format!("max-age={}", 90 * 24 * 3600);
    for (config, name, secure) in [
        (hardened_config(), "device", true),
        (hardened_config().with_secure_cookie(false), "device", false),
        (
            hardened_config().with_device_cookie_name("__Host-device"),
            "__Host-device",
            true,
        ),
    ] {
        let h = Harness::new(config);
        h.registered("dev@example.com", GOOD_PW).await;
        let res = h.login("dev@example.com", GOOD_PW).await;
        assert_eq!(res.status, 200, "{}", res.text());
        let line = res.set_cookie_line(name).expect("the device cookie");
        let (_, token) = cookie_name_value(&line);
        assert_eq!(token.len(), 64, "{line}");
        assert!(token.bytes().all(|b| b.is_ascii_hexdigit()), "{line}");
        assert!(!res.text().contains(token), "the body carries the token");
        let attrs = cookie_attributes(&line);
        for a in ["httponly", "samesite=strict", "path=/", &ninety_days] {
            assert!(attrs.contains(&a.to_owned()), "{a} missing: {line}");
        }
        assert!(!attrs.iter().any(|a| a.starts_with("domain")), "{line}");
        assert_eq!(attrs.contains(&"secure".to_owned()), secure, "{line}");
        let session = res.set_cookie_line("session_id").expect("session cookie");
        let session_secure = cookie_attributes(&session).contains(&"secure".to_owned());
        assert_eq!(session_secure, secure, "{session}");
        // A device token is no session.
        assert_eq!(h.profile(token).await.status, 403);
        let as_session = format!("session_id={token}");
        let res = h
            .send(with_header(get("/profile"), "cookie", &as_session))
            .await;
        assert_eq!(res.status, 403);
        // Logout leaves the device cookie alone.
        let session = h.session("dev@example.com", GOOD_PW).await;
        assert!(h.logout(&session).await.set_cookie_line(name).is_none());
    }
}

/// Item 13 (device cookies): the device cookie's name must be a cookie name other than the
/// session cookie's, and a `__Host-` or `__Secure-` one needs `Secure`: refused at start-up,
/// every problem at once.
#[test]
fn item_13_device_cookie_name_is_validated_with_the_session_cookie() {
    let problems = |config: AuthConfig| {
        config
            .validate()
            .map_or_else(|e| e.problems().to_vec(), |()| Vec::new())
    };
    assert_eq!(
        problems(AuthConfig::hardened().with_device_cookie_name("session_id")),
        [ConfigProblem::CookieNamesClash("session_id".into())]
    );
    assert_eq!(
        problems(AuthConfig::hardened().with_device_cookie_name("a b")),
        [ConfigProblem::CookieName("a b".into())]
    );
    assert_eq!(
        problems(AuthConfig::compat().with_device_cookie_name("__Secure-device")),
        [ConfigProblem::CookiePrefixNeedsSecure {
            name: "__Secure-device".into(),
            prefix: "__Secure-",
        }]
    );
    let all = AuthConfig::compat()
        .with_cookie_name("__Host-x")
        .with_device_cookie_name("__Host-x");
    assert_eq!(problems(all).len(), 3);
    for ok in [
        AuthConfig::hardened().with_device_cookie_name("__Host-device"),
        AuthConfig::hardened().with_device_cookie_name("dev"),
        AuthConfig::compat().with_device_cookie(true),
    ] {
        assert_eq!(ok.validate(), Ok(()), "{ok:?}");
    }
    assert!(AuthConfig::hardened().device_cookie());
    assert!(!AuthConfig::compat().device_cookie());
    assert_eq!(AuthConfig::default().device_cookie_name(), "device");
}

/// Item 13: a `__Host-` or `__Secure-` cookie name without `Secure` cannot work (browsers
/// drop such a cookie): the configuration is refused when the service opens, before the
/// database file is created, with a message that names the cookie.
#[test]
fn item_13_prefixed_cookie_name_without_secure_is_refused_at_start() {
    for (name, secure) in [
        ("__Host-session_id", false),
        ("__Secure-session_id", false),
        ("__HOST-session_id", false),
    ] {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = dir.path().join("auth.redb");
        let config = AuthConfig::compat()
            .with_cookie_name(name)
            .with_secure_cookie(secure);
        let error = Auth::open(&db, config).expect_err(name);
        let OpenError::Config(error) = error else {
            panic!("{name}: {error}")
        };
        let message = error.to_string();
        assert!(
            message.contains(name) && message.contains("Secure"),
            "{message}"
        );
        assert!(!db.exists(), "{name}: the database was opened");
    }
    // With `Secure`, they are accepted.
    for name in ["__Host-session_id", "__Secure-session_id"] {
        let config = AuthConfig::compat()
            .with_cookie_name(name)
            .with_secure_cookie(true);
        assert_eq!(config.validate(), Ok(()), "{name}");
    }
}

/// Item 14: the session id is read from the `Cookie` header only (not the query string, not
/// `Authorization`, not another header).
#[tokio::test]
async fn item_14_session_id_read_from_the_cookie_header_only() {
    let h = Harness::seed();
    h.registered("only@example.com", "pw").await;
    let t = h.session("only@example.com", "pw").await;
    assert_eq!(h.profile(&t).await.status, 200);
    let attempts = [
        get(&format!("/profile?session_id={t}")),
        with_header(get("/profile"), "authorization", &format!("Bearer {t}")),
        with_header(get("/profile"), "authorization", &t),
        with_header(get("/profile"), "x-session-id", &t),
        with_header(get("/profile"), "set-cookie", &format!("session_id={t}")),
    ];
    for req in attempts {
        assert_eq!(h.send(req).await.status, 403);
    }
    let res = h.send(get(&format!("/?session_id={t}"))).await;
    assert!(res.app_user().is_none());
}

/// Item 14: a malformed or duplicated session cookie gives 403 (never 500) on /profile and
/// DELETE /sessions, and the answer clears it; on the wrapped app's routes it passes without
/// a user and is cleared.
#[tokio::test]
async fn item_14_malformed_or_duplicated_cookie_403_never_500_and_cleared() {
    let h = Harness::seed();
    h.registered("dup@example.com", "pw").await;
    let t = h.session("dup@example.com", "pw").await;
    let u = h.session("dup@example.com", "pw").await;
    let long = "a".repeat(8000);
    let cookie_lines: Vec<Vec<Vec<u8>>> = vec![
        vec![b"session_id=nope".to_vec()],
        vec![b"session_id=".to_vec()],
        vec![b"session_id=%%%".to_vec()],
        vec![b"session_id=0000".to_vec()],
        vec![format!("session_id={t}x").into_bytes()],
        vec![format!("session_id=\"{t}\"").into_bytes()],
        vec![format!("session_id={}", t.to_uppercase()).into_bytes()],
        vec![format!("session_id={t}; session_id={t}").into_bytes()],
        vec![format!("session_id={t}; session_id={u}").into_bytes()],
        vec![
            format!("session_id={t}").into_bytes(),
            format!("session_id={u}").into_bytes(),
        ],
        vec![b"session_id=\xff\xfe\xfd".to_vec()],
        vec![format!("theme=dark; session_id={long}").into_bytes()],
        vec![b"session_id=%00%00".to_vec()],
    ];
    for lines in &cookie_lines {
        let build = |mut req: Request<FullBody>| {
            for l in lines {
                req.headers_mut()
                    .append(header::COOKIE, http::HeaderValue::from_bytes(l).unwrap());
            }
            req
        };
        let shown: String = String::from_utf8_lossy(&lines[0])
            .chars()
            .take(60)
            .collect();
        for (req, status) in [
            (build(get("/profile")), 403),
            (build(empty(Method::DELETE, "/sessions")), 403),
            (build(get("/")), 200),
        ] {
            let what = format!("{} {}: {shown}", req.method(), req.uri());
            let res = h.send(req).await;
            assert_eq!(res.status, status, "{what}: {}", res.text());
            let line = res.set_cookie_line("session_id").unwrap_or_default();
            assert!(clears(&line), "{what}: not cleared ({line:?})");
            if status == 200 {
                assert!(res.app_user().is_none(), "{what}");
            }
        }
    }
    // A bare name without a value is no session cookie at all: 403, nothing to clear.
    let bare = with_header(get("/profile"), "cookie", "session_id");
    assert_eq!(h.send(bare).await.status, 403);
    // The real sessions were not ended by any of that.
    assert_eq!(h.profile(&t).await.status, 200);
    assert_eq!(h.profile(&u).await.status, 200);
}

/// Item 15: `Cache-Control: no-store` on every answer that sets the cookie or carries account
/// data.
#[tokio::test]
async fn item_15_cache_control_no_store_on_cookie_and_account_answers() {
    let h = Harness::seed();
    let mut answers = Vec::new();
    answers.push(("register", h.register("cache@example.com", "pw").await));
    let login = h.login("cache@example.com", "pw").await;
    let c = login.session_cookie().unwrap();
    answers.push(("login", login));
    answers.push(("login failed", h.login("cache@example.com", "no").await));
    answers.push(("profile", h.profile(&c).await));
    answers.push(("sessions", h.send(with_cookie(get("/sessions"), &c)).await));
    let reset = h.request_reset("cache@example.com").await;
    let token = crate::security::seed_token(&reset);
    answers.push(("reset request", reset));
    answers.push(("reset", h.reset("cache@example.com", &token, "pw2").await));
    answers.push(("change", h.change_password(&c, "pw2", "pw3").await));
    answers.push(("logout", h.logout(&c).await));
    answers.push(("dead cookie pass-through", h.app_get(&c).await));
    answers.push(("profile 403", h.profile(&c).await));
    for (what, res) in &answers {
        assert!(res.status.as_u16() < 500, "{what}");
        assert_eq!(
            res.header("cache-control"),
            Some("no-store"),
            "{what}: {}",
            res.status
        );
    }
    assert_eq!(answers[0].1.status, 200);
    assert_eq!(answers[6].1.status, 200, "{}", answers[6].1.text());
    assert_eq!(answers[7].1.status, 200, "{}", answers[7].1.text());
}

/// Item 16: the wrapped app receives only the user's id, email and public session id (never
/// the hash, never the token); nothing when the session is invalid; an `AuthenticatedUser`
/// already in the request's extensions is removed.
#[tokio::test]
async fn item_16_wrapped_app_gets_only_non_secret_user_fields() {
    let h = Harness::seed();
    let uid = h.registered("ext@example.com", "pw").await;
    let hash = h.user("ext@example.com").await.hashed_password;
    let t = h.session("ext@example.com", "pw").await;
    let res = h.app_get(&t).await;
    let user = res.app_user().expect("a user");
    assert_eq!(user["id"], uid.0);
    assert_eq!(user["email"], "ext@example.com");
    assert_eq!(
        user["session"],
        TokenDigest::of(&t).session_id().to_string()
    );
    let serialized = user["serialized"].as_object().unwrap();
    let keys: BTreeSet<&str> = serialized.keys().map(String::as_str).collect();
    assert_eq!(keys, BTreeSet::from(["email", "id"]));
    let everything = user.to_string();
    assert!(!everything.contains(&hash) && !everything.contains("$2b$"));
    assert!(!everything.contains(&t));
    assert!(!everything.contains(&t.replace('-', "")));

    // A forged extension is dropped, with or without a cookie.
    let forged = AuthenticatedUser {
        id: UserId(uid.0),
        email: "ext@example.com".into(),
        session: SessionId([7; 16]),
        authenticated_at: std::time::SystemTime::now(),
    };
    let unissued = uuid::Uuid::new_v4().to_string();
    for mut req in [
        get("/"),
        with_cookie(get("/"), &unissued),
        with_cookie(get("/"), "garbage"),
    ] {
        req.extensions_mut().insert(forged.clone());
        assert!(h.send(req).await.app_user().is_none());
    }

    // Nothing for an expired session.
    h.advance(31 * 24 * HOUR);
    assert!(h.app_get(&t).await.app_user().is_none());
}
