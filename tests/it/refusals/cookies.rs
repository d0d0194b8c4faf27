//! Cookies: what the wrapped app receives for a valid session cookie, for unknown, malformed
//! and duplicated ones, and for an identity injected further out.

use bytes::Bytes;
use http::{HeaderValue, Method, Request, StatusCode, header};
use http_body_util::Full;
use serde_json::{Value, json};
use tower_user_auth::compat::SeedApi;
use tower_user_auth::{AuthenticatedUser, UserId, token::SessionToken};

use super::{
    Snapshot, echoed, log_in, oneshot, passed_without_user, seed_auth, send,
    support::{Body, assert_error},
};

#[tokio::test]
async fn a_valid_cookie_hands_the_app_its_user_and_nothing_secret() {
    let (auth, _dir) = seed_auth();
    let user = auth
        .register_user("Ann@Example.com", "abcde")
        .await
        .expect("register");
    let token = log_in(&auth, "ann@example.COM", "abcde").await;
    let session = SessionToken::parse(&token)
        .expect("a token")
        .digest()
        .session_id();
    for (method, path, cookie) in [
        (Method::GET, "/", format!("session_id={token}")),
        (
            Method::POST,
            "/orders",
            format!("a=1; session_id={token}; b=2"),
        ),
        (Method::DELETE, "/things/3", format!("session_id={token}")),
    ] {
        let a = send(&auth, method.clone(), path, &cookie, Body::Empty).await;
        let v = echoed(&a);
        let u = &v["user"];
        assert_eq!(u["id"], json!(user.id.0), "{method} {path}");
        assert_eq!(
            u["email"],
            json!("Ann@Example.com"),
            "the email as registered"
        );
        assert_eq!(
            u["session"],
            json!(session.to_string()),
            "the session's public id"
        );
        assert_ne!(u["session"], json!(token));
        let debug = u["debug"].as_str().expect("debug");
        assert!(!debug.contains("$2"), "no hash: {debug}");
        assert!(
            !a.body.contains(&user.hashed_password),
            "no hash: {}",
            a.body
        );
        assert!(!a.body.contains(&token), "never the token: {}", a.body);
        assert!(
            a.headers.get(header::SET_COOKIE).is_none(),
            "a live session's cookie stays"
        );
    }
    // A second session of the same user is told apart.
    let other = log_in(&auth, "Ann@Example.com", "abcde").await;
    let a = send(
        &auth,
        Method::GET,
        "/",
        &format!("session_id={other}"),
        Body::Empty,
    )
    .await;
    let v = echoed(&a);
    assert_eq!(v["user"]["id"], json!(user.id.0));
    assert_ne!(v["user"]["session"], json!(session.to_string()));
}

/// The `Cookie` lines, readable.
fn shown(cookies: &[Vec<u8>]) -> Vec<String> {
    cookies
        .iter()
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect()
}

/// A request with one `Cookie` header per line, as bytes.
fn with_cookie_lines(method: Method, path: &str, cookies: &[Vec<u8>]) -> Request<Full<Bytes>> {
    let mut req = Request::builder().method(method).uri(path);
    for c in cookies {
        req = req.header("cookie", HeaderValue::from_bytes(c).expect("header"));
    }
    req.body(Full::new(Bytes::new())).expect("request")
}

#[tokio::test]
async fn unknown_malformed_and_duplicated_cookies_pass_through_without_a_user() {
    let (auth, _dir) = seed_auth();
    auth.register_user("bob@bob.com", "pwd")
        .await
        .expect("register");
    let token = log_in(&auth, "bob@bob.com", "pwd").await;
    let snapshot = Snapshot::take(&auth, "bob@bob.com", "pwd").await;
    let unknown = SessionToken::generate();
    let cases: Vec<Vec<Vec<u8>>> = vec![
        vec![format!("session_id={}", unknown.expose()).into_bytes()],
        vec![b"session_id=garbage".to_vec()],
        vec![b"session_id=".to_vec()],
        vec![format!("session_id={}", token.to_uppercase()).into_bytes()],
        vec![format!("session_id={token}x").into_bytes()],
        vec![format!("session_id=\"{token}\"").into_bytes()],
        vec![format!("session_id={token}; session_id={token}").into_bytes()],
        vec![format!("session_id={token}; session_id={}", unknown.expose()).into_bytes()],
        vec![
            format!("session_id={token}").into_bytes(),
            format!("session_id={token}").into_bytes(),
        ],
        vec![b"session_id=\xff\xfe".to_vec()],
        vec![
            format!("session_id={token}").into_bytes(),
            b"session_id=\xff".to_vec(),
        ],
    ];
    // Unknown, garbage, empty, quoted and doubled session ids are cleared.
    let cleared = [0, 1, 2, 5, 6];
    for (i, cookies) in cases.iter().enumerate() {
        let shown = shown(cookies);
        let build = |method: Method, path: &str| with_cookie_lines(method, path, cookies);
        let a = oneshot(&auth, build(Method::GET, "/")).await;
        passed_without_user(&a);
        if cleared.contains(&i) {
            assert!(
                a.set_cookie_line("session_id").is_some(),
                "{shown:?}: the cookie is cleared"
            );
        }
        let a = oneshot(&auth, build(Method::POST, "/orders")).await;
        passed_without_user(&a);
        let a = oneshot(&auth, build(Method::GET, "/profile")).await;
        assert_error(&a, StatusCode::FORBIDDEN);
        let a = oneshot(&auth, build(Method::DELETE, "/sessions")).await;
        assert_error(&a, StatusCode::FORBIDDEN);
        snapshot.check_counts(&auth, &format!("{shown:?}"));
    }
    // Names are case-sensitive and exact: these are other cookies.
    for cookie in [
        format!("Session_id={token}"),
        format!("session_idx={token}"),
        format!("xsession_id={token}"),
    ] {
        let a = send(&auth, Method::GET, "/", &cookie, Body::Empty).await;
        let v = echoed(&a);
        assert_eq!(v["user"], Value::Null, "{cookie}");
    }
    // The live session survived all that.
    let a = send(
        &auth,
        Method::GET,
        "/",
        &format!("session_id={token}"),
        Body::Empty,
    )
    .await;
    assert_eq!(echoed(&a)["user"]["email"], json!("bob@bob.com"));
    snapshot.check(&auth, "after the bad cookies").await;
}

#[tokio::test]
async fn a_user_injected_further_out_is_removed() {
    let (auth, _dir) = seed_auth();
    let bob = auth
        .register_user("bob@bob.com", "pwd")
        .await
        .expect("register");
    let token = log_in(&auth, "bob@bob.com", "pwd").await;
    let forged = AuthenticatedUser {
        id: UserId(bob.id.0 + 1000),
        email: "forged@evil.io".into(),
        session: SessionToken::generate().digest().session_id(),
        authenticated_at: std::time::SystemTime::now(),
    };
    for cookie in [
        None,
        Some("session_id=garbage".to_owned()),
        Some(format!("session_id={token}")),
    ] {
        let mut req = Request::get("/");
        if let Some(c) = &cookie {
            req = req.header("cookie", c.as_str());
        }
        let mut req = req.body(Full::new(Bytes::new())).expect("request");
        req.extensions_mut().insert(forged.clone());
        let a = oneshot(&auth, req).await;
        let v = echoed(&a);
        match cookie.as_deref() {
            Some(c) if c.contains(&token) => {
                assert_eq!(v["user"]["email"], json!("bob@bob.com"), "the real user");
                assert_eq!(v["user"]["id"], json!(bob.id.0));
            }
            _ => assert_eq!(
                v["user"],
                Value::Null,
                "{cookie:?}: the forged user is gone"
            ),
        }
        assert!(!a.body.contains("forged@evil.io"), "{}", a.body);
    }
}

/// Issue 9 P4: other cookies in the same `Cookie` header (or in another one) never cost the
/// user a valid session: not with non-ASCII bytes, not with odd quoting, not with names that
/// merely contain ours.
#[tokio::test]
async fn someone_elses_cookies_never_end_a_valid_session() {
    let (auth, _dir) = seed_auth();
    auth.register_user("bob@bob.com", "pwd")
        .await
        .expect("register");
    let token = log_in(&auth, "bob@bob.com", "pwd").await;
    let ours = format!("session_id={token}");
    let cases: Vec<Vec<Vec<u8>>> = vec![
        vec![format!("theme=caf\u{e9}; {ours}").into_bytes()],
        vec![format!("{ours}; xsession_id=\u{202e}1").into_bytes()],
        vec![b"xsession_id=\xff\xfe".to_vec(), ours.clone().into_bytes()],
        vec![ours.clone().into_bytes(), b"session_id_old=\xff".to_vec()],
        vec![format!("xsession_id=1; {ours}; session_id_old=2").into_bytes()],
        vec![format!("a=\"b c; {ours}; q=\"x").into_bytes()],
        vec![format!("pref=\"\u{e9}t\u{e9}\"; {ours}; =odd; \"q\"=1").into_bytes()],
        vec![
            [
                b"x\xc3=\"\xff;\"; ".as_slice(),
                ours.as_bytes(),
                b"; y=\x80",
            ]
            .concat(),
        ],
    ];
    for cookies in &cases {
        let shown = shown(cookies);
        let build = |method: Method, path: &str| with_cookie_lines(method, path, cookies);
        let a = oneshot(&auth, build(Method::GET, "/")).await;
        assert_eq!(
            echoed(&a)["user"]["email"],
            json!("bob@bob.com"),
            "{shown:?}: the session is read"
        );
        assert!(
            a.set_cookie_line("session_id").is_none(),
            "{shown:?}: the session cookie is not cleared"
        );
        let a = oneshot(&auth, build(Method::GET, "/profile")).await;
        assert_eq!(a.status, StatusCode::OK, "{shown:?}: {}", a.body);
        assert!(a.set_cookie_line("session_id").is_none(), "{shown:?}");
    }
}
