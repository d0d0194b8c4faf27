//! One or more tests per numbered item of the security checklist (`SECURITY.md`), named
//! `item_NN_...`. The README maps each item to its tests.

mod common;

use std::time::{Duration, Instant};

use common::{Answer, Body, call, request, request_from};
use http::{Method, StatusCode};
use serde_json::json;
use tower_user_auth::{
    Auth, AuthConfig, AuthError, BoxError, ThrottleConfig, error::PasswordError,
    password::PasswordPolicy, store::Store, token::ResetToken,
};

const PEER: &str = "203.0.113.7:4000";
const GOOD: &str = "correct horse battery staple";

fn form<'a>(fields: &'a [(&'a str, &'a str)]) -> Body<'a> {
    Body::Form(fields)
}

async fn register(svc: &impl Svc, email: &str, pw: &str) -> Answer {
    call(
        svc,
        request_from(
            PEER,
            Method::POST,
            "/users",
            &[],
            form(&[("email", email), ("password", pw)]),
        ),
    )
    .await
}

async fn login_from(svc: &impl Svc, peer: &str, email: &str, pw: &str) -> Answer {
    call(
        svc,
        request_from(
            peer,
            Method::POST,
            "/sessions",
            &[],
            form(&[("email", email), ("password", pw)]),
        ),
    )
    .await
}

fn cookie_of(a: &Answer) -> String {
    format!(
        "session_id={}",
        a.cookie("session_id").expect("session cookie")
    )
}

trait Svc:
    tower::Service<
        http::Request<http_body_util::Full<bytes::Bytes>>,
        Response = http::Response<tower_user_auth::AuthBody<http_body_util::Full<bytes::Bytes>>>,
        Error = std::convert::Infallible,
    > + Clone
{
}
impl<T> Svc for T where
    T: tower::Service<
            http::Request<http_body_util::Full<bytes::Bytes>>,
            Response = http::Response<
                tower_user_auth::AuthBody<http_body_util::Full<bytes::Bytes>>,
            >,
            Error = std::convert::Infallible,
        > + Clone
{
}

// ---- A. Passwords -------------------------------------------------------------------------

#[tokio::test]
async fn item_01_passwords_are_never_truncated_in_either_profile() {
    for config in [common::seed(), common::hardened()] {
        let (auth, _dir) = common::auth(config);
        let svc = common::service(&auth);
        let over = format!("{}x", "a".repeat(72));
        let multibyte = "é".repeat(37); // 74 bytes, 37 characters
        for pw in [over.as_str(), multibyte.as_str(), "correct horse\0battery"] {
            let a = register(&svc, "t@x.io", pw).await;
            assert_eq!(a.status, StatusCode::BAD_REQUEST);
            let m = a.json()["message"].as_str().unwrap().to_owned();
            assert!(m.contains("72 bytes") || m.contains("NUL"), "{m}");
        }
        assert_eq!(auth.store().counts().unwrap().0, 0);
        // 72 bytes exactly is hashed faithfully: a 73rd byte does not log in.
        let exact = "b".repeat(72);
        assert_eq!(
            register(&svc, "t@x.io", &exact).await.status,
            StatusCode::OK
        );
        assert!(auth.valid_login("t@x.io", &exact).await.unwrap());
        assert!(
            !auth
                .valid_login("t@x.io", &format!("{exact}b"))
                .await
                .unwrap()
        );
    }
}

#[tokio::test]
async fn item_02_hardened_policy_length_common_list_and_email() {
    let (auth, _dir) = common::auth(common::hardened());
    let svc = common::service(&auth);
    let cases = [
        ("elevenchars", "at least 12"),
        ("password1234", "too common"),
        ("1qaz2wsx3edc", "too common"),
        ("Q1W2E3R4T5Y6", "too common"),
        ("Me@Example.com", "email"),
    ];
    for (pw, why) in cases {
        let a = register(&svc, "me@example.com", pw).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{pw}");
        assert!(
            a.json()["message"].as_str().unwrap().contains(why),
            "{pw}: {}",
            a.body
        );
    }
    // No composition rules: spaces and any Unicode are fine.
    for (i, pw) in [
        "all lowercase words here",
        "ünïcödé pässwörd ✓",
        "            12 spaces",
    ]
    .iter()
    .enumerate()
    {
        let a = register(&svc, &format!("u{i}@example.com"), pw).await;
        assert_eq!(a.status, StatusCode::OK, "{pw}: {}", a.body);
    }
    let policy = PasswordPolicy::hardened().with_min_chars(20);
    assert_eq!(
        policy.check("nineteen characters", "a@b.c"),
        Err(PasswordError::TooShort { min: 20 })
    );
}

#[tokio::test]
async fn item_03_the_same_rules_apply_to_every_password_setting_route() {
    let (auth, _dir) = common::auth(common::hardened());
    let svc = common::service(&auth);
    assert_eq!(
        register(&svc, "me@example.com", GOOD).await.status,
        StatusCode::OK
    );
    let token = auth
        .get_reset_password_token("me@example.com")
        .await
        .unwrap();
    for pw in ["short", "password1234", &"x".repeat(80)] {
        let a = call(
            &svc,
            request_from(
                PEER,
                Method::PUT,
                "/reset_password",
                &[],
                form(&[
                    ("email", "me@example.com"),
                    ("reset_token", token.expose()),
                    ("new_password", pw),
                ]),
            ),
        )
        .await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{pw}");
    }
    let login = login_from(&svc, PEER, "me@example.com", GOOD).await;
    let cookie = cookie_of(&login);
    for pw in ["short", "password1234", "me@example.com"] {
        let a = call(
            &svc,
            request_from(
                PEER,
                Method::PUT,
                "/profile/password",
                &[("cookie", &cookie)],
                form(&[("current_password", GOOD), ("new_password", pw)]),
            ),
        )
        .await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{pw}");
    }
    assert!(auth.valid_login("me@example.com", GOOD).await.unwrap());
}

#[tokio::test]
async fn item_04_cost_default_low_cost_warning_and_rehash_at_login() {
    assert_eq!(AuthConfig::default().bcrypt_cost(), 12);
    assert!(AuthConfig::default().with_bcrypt_cost(3).is_err());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("auth.redb");
    {
        let auth = Auth::open(&path, common::seed()).unwrap();
        let user = auth.register_user("r@x.io", "pw").await.unwrap();
        assert!(user.hashed_password.starts_with("$2b$04$"));
    }
    let auth = Auth::open(&path, AuthConfig::seed().with_bcrypt_cost(5).unwrap()).unwrap();
    assert!(auth.log_in("r@x.io", "pw", None).await.unwrap().is_some());
    let user = auth
        .store()
        .find_user_by(tower_user_auth::store::UserQuery::Email("r@x.io".into()))
        .await
        .unwrap();
    assert!(
        user.hashed_password.starts_with("$2b$05$"),
        "re-hashed at the configured cost"
    );
    assert!(auth.valid_login("r@x.io", "pw").await.unwrap());
}

// ---- B. Login and throttling ---------------------------------------------------------------

#[tokio::test]
async fn item_05_unknown_email_and_wrong_password_answer_alike() {
    let (auth, _dir) = common::auth(common::seed());
    let svc = common::service(&auth);
    register(&svc, "known@x.io", "pw").await;
    let wrong = login_from(&svc, PEER, "known@x.io", "nope").await;
    let unknown = login_from(&svc, PEER, "ghost@x.io", "nope").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        (wrong.status, wrong.body.clone()),
        (unknown.status, unknown.body.clone())
    );
    // Throttled alike too.
    for _ in 0..5 {
        login_from(&svc, PEER, "known@x.io", "nope").await;
        login_from(&svc, PEER, "ghost@x.io", "nope").await;
    }
    let a = login_from(&svc, PEER, "known@x.io", "nope").await;
    let b = login_from(&svc, PEER, "ghost@x.io", "nope").await;
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!((a.status, a.body), (b.status, b.body));
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn item_06_unknown_email_costs_one_bcrypt_verify() {
    // A statistical check with a generous margin, not a tight timing assertion.
    let config = AuthConfig::seed()
        .with_bcrypt_cost(9)
        .unwrap()
        .with_throttle(ThrottleConfig::disabled());
    let (auth, _dir) = common::auth(config);
    auth.register_user("known@x.io", "pw").await.unwrap();
    let (mut wrong, mut unknown) = (Vec::new(), Vec::new());
    for _ in 0..15 {
        let t = Instant::now();
        assert!(
            auth.log_in("known@x.io", "nope", None)
                .await
                .unwrap()
                .is_none()
        );
        wrong.push(t.elapsed());
        let t = Instant::now();
        assert!(
            auth.log_in("ghost@x.io", "nope", None)
                .await
                .unwrap()
                .is_none()
        );
        unknown.push(t.elapsed());
    }
    let (w, u) = (median(wrong), median(unknown));
    let ratio = u.as_secs_f64() / w.as_secs_f64();
    assert!(
        (0.5..2.0).contains(&ratio),
        "wrong password {w:?}, unknown email {u:?}"
    );
    // And far above a plain look-up: a bcrypt verify really ran.
    assert!(u > Duration::from_millis(5), "{u:?}");
}

#[tokio::test]
async fn item_07_backoff_per_account_and_client_with_retry_after() {
    let (auth, clock, _dir) = common::auth_with_clock(common::seed());
    let svc = common::service(&auth);
    register(&svc, "v@x.io", "pw").await;
    for _ in 0..5 {
        assert_eq!(
            login_from(&svc, PEER, "v@x.io", "bad").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    let a = login_from(&svc, PEER, "v@x.io", "pw").await;
    assert_eq!(
        a.status,
        StatusCode::TOO_MANY_REQUESTS,
        "the right password too, while it lasts"
    );
    assert_eq!(a.header("retry-after"), Some("1"));
    // The owner, from another address, is not locked out.
    assert_eq!(
        login_from(&svc, "198.51.100.1:1", "v@x.io", "pw")
            .await
            .status,
        StatusCode::OK
    );
    clock.advance(Duration::from_secs(1));
    assert_eq!(
        login_from(&svc, PEER, "v@x.io", "bad").await.status,
        StatusCode::UNAUTHORIZED
    );
    let a = login_from(&svc, PEER, "v@x.io", "pw").await;
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(a.header("retry-after"), Some("2"), "exponential");
    clock.advance(Duration::from_secs(2));
    assert_eq!(
        login_from(&svc, PEER, "v@x.io", "pw").await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn item_07_ceilings_per_account_and_per_client_and_bounded_memory() {
    let throttle = ThrottleConfig::default()
        .with_failure_ceilings(8, 6)
        .with_max_entries(64);
    let (auth, _dir) = common::auth(common::seed().with_throttle(throttle));
    let svc = common::service(&auth);
    register(&svc, "w@x.io", "pw").await;
    // Credential stuffing from one address: one failure on each of six accounts.
    for i in 0..6 {
        login_from(&svc, PEER, &format!("victim{i}@x.io"), "guess").await;
    }
    assert_eq!(
        login_from(&svc, PEER, "w@x.io", "pw").await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    // Many addresses on one account: the account ceiling holds for everyone.
    for i in 0..8 {
        login_from(&svc, &format!("192.0.2.{i}:9"), "w@x.io", "guess").await;
    }
    let a = login_from(&svc, "192.0.2.200:9", "w@x.io", "pw").await;
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(a.header("retry-after").unwrap().parse::<u64>().unwrap() > 60);
    // A spray of many accounts and addresses does not grow memory without bound; answers
    // stay correct (a unit test in src/throttle.rs counts the entries).
    for i in 0..500 {
        login_from(
            &svc,
            &format!("10.1.{}.{}:1", i / 250, i % 250),
            &format!("s{i}@x.io"),
            "x",
        )
        .await;
    }
}

#[tokio::test]
async fn item_07_client_address_from_forwarded_header_only_behind_a_trusted_proxy() {
    let plain = common::seed();
    let proxied = common::seed().with_trusted_proxies(["10.0.0.0/8"]).unwrap();
    for (config, trusted) in [(plain, false), (proxied, true)] {
        let (auth, _dir) = common::auth(config);
        let svc = common::service(&auth);
        register(&svc, "p@x.io", "pw").await;
        let from = |xff: &'static str| {
            let svc = svc.clone();
            async move {
                call(
                    &svc,
                    request_from(
                        "10.0.0.5:1",
                        Method::POST,
                        "/sessions",
                        &[("x-forwarded-for", xff)],
                        form(&[("email", "p@x.io"), ("password", "bad")]),
                    ),
                )
                .await
            }
        };
        for _ in 0..5 {
            from("198.51.100.9").await;
        }
        // Another client behind the same proxy.
        let a = call(
            &svc,
            request_from(
                "10.0.0.5:1",
                Method::POST,
                "/sessions",
                &[("x-forwarded-for", "198.51.100.10")],
                form(&[("email", "p@x.io"), ("password", "pw")]),
            ),
        )
        .await;
        if trusted {
            assert_eq!(a.status, StatusCode::OK, "told apart by X-Forwarded-For");
        } else {
            assert_eq!(
                a.status,
                StatusCode::TOO_MANY_REQUESTS,
                "the header is not believed"
            );
        }
    }
}

#[tokio::test]
async fn item_08_credentials_only_from_the_body() {
    let (auth, _dir) = common::auth(common::seed());
    let svc = common::service(&auth);
    register(&svc, "q@x.io", "pw").await;
    let a = call(
        &svc,
        request_from(
            PEER,
            Method::POST,
            "/sessions?email=q%40x.io&password=pw",
            &[],
            Body::Empty,
        ),
    )
    .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert!(a.cookie("session_id").is_none());
    let a = call(
        &svc,
        request_from(
            PEER,
            Method::POST,
            "/users?email=z%40x.io&password=pw",
            &[],
            Body::Empty,
        ),
    )
    .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
}

// ---- C. Sessions and cookies ---------------------------------------------------------------

#[tokio::test]
async fn item_09_new_id_at_every_login_and_no_fixation() {
    let (auth, _dir) = common::auth(common::seed());
    let svc = common::service(&auth);
    register(&svc, "f@x.io", "pw").await;
    let planted = "session_id=11111111-2222-4333-8444-555555555555";
    let a = call(
        &svc,
        request_from(
            PEER,
            Method::POST,
            "/sessions",
            &[("cookie", planted)],
            form(&[("email", "f@x.io"), ("password", "pw")]),
        ),
    )
    .await;
    let first = a.cookie("session_id").unwrap();
    assert_ne!(
        format!("session_id={first}"),
        planted,
        "the server never adopts a client's id"
    );
    let second = login_from(&svc, PEER, "f@x.io", "pw")
        .await
        .cookie("session_id")
        .unwrap();
    assert_ne!(first, second);
    let a = call(
        &svc,
        request(Method::GET, "/profile", &[("cookie", planted)], Body::Empty),
    )
    .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn item_10_several_sessions_logout_one_end_all_and_list() {
    let (auth, _dir) = common::auth(common::seed());
    let svc = common::service(&auth);
    register(&svc, "m@x.io", "pw").await;
    let cookies: Vec<String> =
        futures_util::future::join_all((0..3).map(|_| login_from(&svc, PEER, "m@x.io", "pw")))
            .await
            .iter()
            .map(cookie_of)
            .collect();
    let a = call(
        &svc,
        request(
            Method::GET,
            "/sessions",
            &[("cookie", &cookies[0])],
            Body::Empty,
        ),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK);
    let list = a.json();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 3);
    assert_eq!(
        list.iter().filter(|s| s["current"] == json!(true)).count(),
        1
    );
    for s in list {
        assert!(
            s["id"].as_str().unwrap().len() == 32
                && s["created"].is_u64()
                && s["last_seen"].is_u64()
        );
    }
    for c in &cookies {
        assert!(
            !a.body.contains(c.trim_start_matches("session_id=")),
            "no token in the list"
        );
    }
    assert_eq!(a.header("cache-control"), Some("no-store"));
    let a = call(
        &svc,
        request(
            Method::DELETE,
            "/sessions",
            &[("cookie", &cookies[0])],
            Body::Empty,
        ),
    )
    .await;
    assert_eq!(a.status, StatusCode::FOUND);
    let a = call(
        &svc,
        request(
            Method::GET,
            "/profile",
            &[("cookie", &cookies[1])],
            Body::Empty,
        ),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "the others live on");
    let a = call(
        &svc,
        request(
            Method::DELETE,
            "/sessions/all",
            &[("cookie", &cookies[1])],
            Body::Empty,
        ),
    )
    .await;
    assert_eq!(a.status, StatusCode::FOUND);
    assert!(
        a.set_cookie_line("session_id")
            .unwrap()
            .contains("Max-Age=0")
    );
    for c in &cookies {
        let a = call(
            &svc,
            request(Method::GET, "/profile", &[("cookie", c)], Body::Empty),
        )
        .await;
        assert_eq!(a.status, StatusCode::FORBIDDEN);
    }
    let a = call(
        &svc,
        request(Method::DELETE, "/sessions/all", &[], Body::Empty),
    )
    .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn item_10_session_cap_evicts_the_oldest_and_one_session_can_be_ended_by_id() {
    let (auth, clock, _dir) =
        common::auth_with_clock(common::seed().with_max_sessions_per_user(Some(2)));
    auth.register_user("cap@x.io", "pw").await.unwrap();
    let mut tokens = Vec::new();
    for _ in 0..3 {
        tokens.push(
            auth.log_in("cap@x.io", "pw", None)
                .await
                .unwrap()
                .unwrap()
                .token,
        );
        clock.advance(Duration::from_secs(1));
    }
    assert!(
        auth.authenticate(&tokens[0]).await.unwrap().is_none(),
        "oldest evicted"
    );
    let (user, _) = auth.authenticate(&tokens[2]).await.unwrap().unwrap();
    let listed = auth.sessions_of(user.id).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert!(
        auth.end_session(user.id, tokens[1].digest().session_id())
            .await
            .unwrap()
    );
    assert!(auth.authenticate(&tokens[1]).await.unwrap().is_none());
    assert!(auth.authenticate(&tokens[2]).await.unwrap().is_some());
}

#[tokio::test]
async fn item_11_idle_timeout_absolute_lifetime_and_renewal_without_writes_per_request() {
    let config = common::seed()
        .with_session_idle_timeout(Duration::from_secs(600))
        .unwrap()
        .with_session_lifetime(Duration::from_secs(3600))
        .unwrap()
        .with_session_renewal(Duration::from_secs(60));
    let (auth, clock, _dir) = common::auth_with_clock(config);
    auth.register_user("i@x.io", "pw").await.unwrap();
    let token = auth
        .log_in("i@x.io", "pw", None)
        .await
        .unwrap()
        .unwrap()
        .token;
    let (user, rec0) = auth.authenticate(&token).await.unwrap().unwrap();
    let last_seen = || async {
        auth.store().sessions_of(user.id).await.unwrap()[0]
            .1
            .last_seen
    };
    // Within the renewal interval: reads never write.
    clock.advance(Duration::from_secs(30));
    for _ in 0..50 {
        auth.authenticate(&token).await.unwrap().unwrap();
    }
    tokio::task::yield_now().await;
    assert_eq!(last_seen().await, rec0.last_seen);
    // Past it: one write, in the background.
    clock.advance(Duration::from_secs(40));
    auth.authenticate(&token).await.unwrap().unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while last_seen().await == rec0.last_seen {
        assert!(Instant::now() < deadline, "renewal was not written");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Idle for longer than the timeout: dead.
    clock.advance(Duration::from_secs(601));
    assert!(auth.authenticate(&token).await.unwrap().is_none());
    // Absolute lifetime: dead however active.
    let token = auth
        .log_in("i@x.io", "pw", None)
        .await
        .unwrap()
        .unwrap()
        .token;
    for _ in 0..8 {
        clock.advance(Duration::from_secs(500));
        if auth.authenticate(&token).await.unwrap().is_none() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(auth.authenticate(&token).await.unwrap().is_none());
}

#[tokio::test]
async fn item_12_logout_deletes_the_record_and_expires_the_cookie() {
    let (auth, _dir) = common::auth(common::seed());
    let svc = common::service(&auth);
    register(&svc, "l@x.io", "pw").await;
    let cookie = cookie_of(&login_from(&svc, PEER, "l@x.io", "pw").await);
    assert_eq!(auth.store().counts().unwrap().1, 1);
    let a = call(
        &svc,
        request(
            Method::DELETE,
            "/sessions",
            &[("cookie", &cookie)],
            Body::Empty,
        ),
    )
    .await;
    assert!(
        a.set_cookie_line("session_id")
            .unwrap()
            .contains("Max-Age=0")
    );
    assert_eq!(auth.store().counts().unwrap().1, 0, "the record is gone");
}

#[tokio::test]
async fn item_13_cookie_attributes_and_configurable_name() {
    let (auth, _dir) = common::auth(
        common::hardened()
            .with_cookie_name("__Host-session_id")
            .unwrap(),
    );
    let svc = common::service(&auth);
    assert_eq!(register(&svc, "c@x.io", GOOD).await.status, StatusCode::OK);
    let a = login_from(&svc, PEER, "c@x.io", GOOD).await;
    let line = a.set_cookie_line("__Host-session_id").unwrap();
    for attr in ["HttpOnly", "SameSite=Lax", "Path=/", "Secure", "Max-Age="] {
        assert!(line.contains(attr), "{line}");
    }
    assert!(!line.contains("Domain"), "{line}");
    let cookie = format!(
        "__Host-session_id={}",
        a.cookie("__Host-session_id").unwrap()
    );
    let a = call(
        &svc,
        request(Method::GET, "/profile", &[("cookie", &cookie)], Body::Empty),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK);
    let (seed, _d) = common::auth(common::seed());
    let svc = common::service(&seed);
    register(&svc, "c@x.io", "pw").await;
    let line = login_from(&svc, PEER, "c@x.io", "pw")
        .await
        .set_cookie_line("session_id")
        .unwrap();
    assert!(
        !line.contains("Secure"),
        "seed profile: plain http on localhost"
    );
}

#[tokio::test]
async fn item_14_malformed_or_duplicated_cookie_is_403_never_500() {
    let (auth, _dir) = common::auth(common::seed());
    let svc = common::service(&auth);
    register(&svc, "d@x.io", "pw").await;
    let token = login_from(&svc, PEER, "d@x.io", "pw")
        .await
        .cookie("session_id")
        .unwrap();
    let dup = format!("session_id={token}; session_id={token}");
    for bad in [
        dup.as_str(),
        "session_id=%%%",
        "session_id=0000",
        "session_id",
    ] {
        let a = call(
            &svc,
            request(Method::GET, "/profile", &[("cookie", bad)], Body::Empty),
        )
        .await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{bad}");
    }
    // A token in the query string or another header is not a session.
    let a = call(
        &svc,
        request(
            Method::GET,
            &format!("/profile?session_id={token}"),
            &[("authorization", &token)],
            Body::Empty,
        ),
    )
    .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn item_15_no_store_on_cookie_and_account_answers() {
    let (auth, _dir) = common::auth(common::seed());
    let svc = common::service(&auth);
    let a = register(&svc, "n@x.io", "pw").await;
    assert_eq!(a.header("cache-control"), Some("no-store"));
    let login = login_from(&svc, PEER, "n@x.io", "pw").await;
    assert_eq!(login.header("cache-control"), Some("no-store"));
    let cookie = cookie_of(&login);
    for (m, p) in [
        (Method::GET, "/profile"),
        (Method::GET, "/sessions"),
        (Method::DELETE, "/sessions"),
    ] {
        let a = call(&svc, request(m, p, &[("cookie", &cookie)], Body::Empty)).await;
        assert_eq!(a.header("cache-control"), Some("no-store"), "{p}");
    }
    let a = call(
        &svc,
        request_from(
            PEER,
            Method::POST,
            "/reset_password",
            &[],
            form(&[("email", "n@x.io")]),
        ),
    )
    .await;
    assert_eq!(a.header("cache-control"), Some("no-store"));
    // A wrapped-app answer that clears a dead cookie must not be cached either.
    let a = call(
        &svc,
        request(Method::GET, "/", &[("cookie", &cookie)], Body::Empty),
    )
    .await;
    assert_eq!(a.header("cache-control"), Some("no-store"));
}

#[tokio::test]
async fn item_16_the_app_gets_only_non_secret_fields() {
    let (auth, _dir) = common::auth(common::seed());
    let svc = common::service(&auth);
    register(&svc, "e@x.io", "pw").await;
    let login = login_from(&svc, PEER, "e@x.io", "pw").await;
    let token = login.cookie("session_id").unwrap();
    let a = call(
        &svc,
        request(
            Method::GET,
            "/me",
            &[("cookie", &cookie_of(&login))],
            Body::Empty,
        ),
    )
    .await;
    let v = a.json();
    assert_eq!(v["email"], "e@x.io");
    assert!(!a.body.contains(&token) && !a.body.contains("$2b$"));
    let debug = format!(
        "{:?}",
        auth.authenticate(&tower_user_auth::token::SessionToken::parse(&token).unwrap())
            .await
            .unwrap()
    );
    assert!(
        !debug.contains(&token) && !debug.contains("$2b$"),
        "{debug}"
    );
    let a = call(
        &svc,
        request(
            Method::GET,
            "/me",
            &[("cookie", "session_id=00000000-0000-4000-8000-000000000000")],
            Body::Empty,
        ),
    )
    .await;
    assert_eq!(
        a.status,
        StatusCode::UNAUTHORIZED,
        "nothing for an invalid session"
    );
}

// ---- D. Password reset ---------------------------------------------------------------------

fn hardened_with_hook(
    delay: Duration,
) -> (AuthConfig, std::sync::mpsc::Receiver<(String, String)>) {
    let (tx, rx) = std::sync::mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    let config =
        common::hardened().with_reset_token_hook(move |email: &str, token: &ResetToken| {
            std::thread::sleep(delay);
            let _ = tx
                .lock()
                .unwrap()
                .send((email.to_owned(), token.expose().to_owned()));
            Err::<(), BoxError>("the mail server is down".into())
        });
    (config, rx)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn item_17_hardened_reset_token_goes_to_the_hook_never_the_answer() {
    let (config, rx) = hardened_with_hook(Duration::from_millis(300));
    let (auth, _dir) = common::auth(config.with_throttle(ThrottleConfig::disabled()));
    let svc = common::service(&auth);
    register(&svc, "k@x.io", GOOD).await;
    let t = Instant::now();
    let known = call(
        &svc,
        request_from(
            PEER,
            Method::POST,
            "/reset_password",
            &[],
            form(&[("email", "k@x.io")]),
        ),
    )
    .await;
    let known_time = t.elapsed();
    let t = Instant::now();
    let unknown = call(
        &svc,
        request_from(
            PEER,
            Method::POST,
            "/reset_password",
            &[],
            form(&[("email", "u@x.io")]),
        ),
    )
    .await;
    let unknown_time = t.elapsed();
    assert_eq!(
        (known.status, unknown.status),
        (StatusCode::OK, StatusCode::OK)
    );
    assert_eq!(
        known.body.replace("k@x.io", "E"),
        unknown.body.replace("u@x.io", "E"),
        "the same body but for the email"
    );
    assert!(known.json().get("reset_token").is_none());
    assert!(
        known_time < Duration::from_millis(250),
        "the slow, failing hook is detached: {known_time:?}"
    );
    assert!(unknown_time < Duration::from_millis(250));
    let (email, token) = rx.recv_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(email, "k@x.io");
    assert!(!known.body.contains(&token));
    assert!(
        rx.recv_timeout(Duration::from_millis(500)).is_err(),
        "no hook call for an unknown email"
    );
    // Timing: medians of known and unknown within a generous margin.
    let (mut k, mut u) = (Vec::new(), Vec::new());
    for _ in 0..15 {
        let t = Instant::now();
        call(
            &svc,
            request_from(
                PEER,
                Method::POST,
                "/reset_password",
                &[],
                form(&[("email", "k@x.io")]),
            ),
        )
        .await;
        k.push(t.elapsed());
        let t = Instant::now();
        call(
            &svc,
            request_from(
                PEER,
                Method::POST,
                "/reset_password",
                &[],
                form(&[("email", "u@x.io")]),
            ),
        )
        .await;
        u.push(t.elapsed());
    }
    let (k, u) = (median(k), median(u));
    assert!(
        k < Duration::from_millis(100) && u < Duration::from_millis(100),
        "{k:?} {u:?}"
    );
}

#[tokio::test]
async fn item_18_tokens_expire_work_once_newest_only_and_with_their_email() {
    let config = common::seed()
        .with_reset_token_lifetime(Duration::from_secs(3600))
        .unwrap();
    let (auth, clock, _dir) = common::auth_with_clock(config);
    auth.register_user("a@x.io", "pw").await.unwrap();
    auth.register_user("b@x.io", "pw").await.unwrap();
    let t = auth.get_reset_password_token("a@x.io").await.unwrap();
    assert!(matches!(
        auth.reset_password("b@x.io", t.expose(), "new", None).await,
        Err(AuthError::InvalidToken)
    ));
    clock.advance(Duration::from_secs(3601));
    assert!(
        matches!(
            auth.reset_password("a@x.io", t.expose(), "new", None).await,
            Err(AuthError::InvalidToken)
        ),
        "expired"
    );
    let old = auth.get_reset_password_token("a@x.io").await.unwrap();
    let new = auth.get_reset_password_token("a@x.io").await.unwrap();
    assert!(matches!(
        auth.reset_password("a@x.io", old.expose(), "new", None)
            .await,
        Err(AuthError::InvalidToken)
    ));
    auth.reset_password("a@x.io", new.expose(), "new", None)
        .await
        .unwrap();
    assert!(
        matches!(
            auth.reset_password("a@x.io", new.expose(), "newer", None)
                .await,
            Err(AuthError::InvalidToken)
        ),
        "once"
    );
}

#[tokio::test]
async fn item_19_reset_ends_sessions_in_hardened_keeps_them_in_seed_and_never_logs_in() {
    for (config, ends) in [(common::hardened(), true), (common::seed(), false)] {
        let (auth, _dir) = common::auth(config);
        let svc = common::service(&auth);
        register(&svc, "s@x.io", GOOD).await;
        let cookie = cookie_of(&login_from(&svc, PEER, "s@x.io", GOOD).await);
        let token = auth.get_reset_password_token("s@x.io").await.unwrap();
        let other = auth.get_reset_password_token("s@x.io").await;
        let token = other.unwrap_or(token);
        let a = call(
            &svc,
            request_from(
                PEER,
                Method::PUT,
                "/reset_password",
                &[],
                form(&[
                    ("email", "s@x.io"),
                    ("reset_token", token.expose()),
                    ("new_password", "a brand new passphrase"),
                ]),
            ),
        )
        .await;
        assert_eq!(a.status, StatusCode::OK);
        assert!(a.cookie("session_id").is_none(), "a reset does not log in");
        let p = call(
            &svc,
            request(Method::GET, "/profile", &[("cookie", &cookie)], Body::Empty),
        )
        .await;
        assert_eq!(p.status == StatusCode::FORBIDDEN, ends);
        assert_eq!(auth.store().counts().unwrap().2, 0, "the token is gone");
    }
}

#[tokio::test]
async fn item_20_requesting_a_reset_changes_nothing_else() {
    let (auth, _dir) = common::auth(common::seed());
    let svc = common::service(&auth);
    register(&svc, "o@x.io", "pw").await;
    let cookie = cookie_of(&login_from(&svc, PEER, "o@x.io", "pw").await);
    call(
        &svc,
        request_from(
            PEER,
            Method::POST,
            "/reset_password",
            &[],
            form(&[("email", "o@x.io")]),
        ),
    )
    .await;
    assert!(auth.valid_login("o@x.io", "pw").await.unwrap());
    let p = call(
        &svc,
        request(Method::GET, "/profile", &[("cookie", &cookie)], Body::Empty),
    )
    .await;
    assert_eq!(p.status, StatusCode::OK);
}

#[tokio::test]
async fn item_21_both_reset_routes_are_rate_limited() {
    let (auth, _dir) = common::auth(common::seed());
    let svc = common::service(&auth);
    register(&svc, "rl@x.io", "pw").await;
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(
            call(
                &svc,
                request_from(
                    PEER,
                    Method::POST,
                    "/reset_password",
                    &[],
                    form(&[("email", "rl@x.io")]),
                ),
            )
            .await
            .status,
        );
    }
    assert_eq!(statuses[..5], [StatusCode::OK; 5]);
    assert_eq!(statuses[5], StatusCode::TOO_MANY_REQUESTS);
    for _ in 0..5 {
        let a = call(
            &svc,
            request_from(
                PEER,
                Method::PUT,
                "/reset_password",
                &[],
                form(&[
                    ("email", "rl@x.io"),
                    ("reset_token", "00000000-0000-4000-8000-000000000000"),
                    ("new_password", "x"),
                ]),
            ),
        )
        .await;
        assert_eq!(a.status, StatusCode::FORBIDDEN);
    }
    let a = call(
        &svc,
        request_from(
            PEER,
            Method::PUT,
            "/reset_password",
            &[],
            form(&[
                ("email", "rl@x.io"),
                ("reset_token", "00000000-0000-4000-8000-000000000000"),
                ("new_password", "x"),
            ]),
        ),
    )
    .await;
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(a.header("retry-after").is_some());
}

// ---- E. Requests ---------------------------------------------------------------------------

#[tokio::test]
async fn item_22_cross_site_state_changes_are_refused() {
    let config = common::seed()
        .with_allowed_origins(["https://admin.example.com"])
        .unwrap();
    let (auth, _dir) = common::auth(config);
    let svc = common::service(&auth);
    register(&svc, "x@x.io", "pw").await;
    let cookie = cookie_of(&login_from(&svc, PEER, "x@x.io", "pw").await);
    let before = auth.store().counts().unwrap();
    let hostile: [&[(&str, &str)]; 3] = [
        &[("sec-fetch-site", "cross-site")],
        &[
            ("host", "app.example.com"),
            ("origin", "https://evil.example"),
        ],
        &[("host", "app.example.com"), ("origin", "null")],
    ];
    for headers in hostile {
        let a = call(
            &svc,
            request_from(
                PEER,
                Method::POST,
                "/users",
                headers,
                form(&[("email", "new@x.io"), ("password", "pw")]),
            ),
        )
        .await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{headers:?}");
        let a = call(
            &svc,
            request_from(
                PEER,
                Method::POST,
                "/sessions",
                headers,
                form(&[("email", "x@x.io"), ("password", "pw")]),
            ),
        )
        .await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "login CSRF");
        let mut with_cookie = headers.to_vec();
        with_cookie.push(("cookie", &cookie));
        let a = call(
            &svc,
            request(Method::POST, "/echo", &with_cookie, Body::Empty),
        )
        .await;
        assert_eq!(
            a.status,
            StatusCode::FORBIDDEN,
            "the wrapped app's state change"
        );
        let a = call(
            &svc,
            request(Method::DELETE, "/sessions", &with_cookie, Body::Empty),
        )
        .await;
        assert_eq!(a.status, StatusCode::FORBIDDEN);
    }
    assert_eq!(auth.store().counts().unwrap(), before, "nothing changed");
    let friendly: [&[(&str, &str)]; 4] = [
        &[],
        &[
            ("sec-fetch-site", "same-origin"),
            ("host", "app.example.com"),
            ("origin", "https://app.example.com"),
        ],
        &[
            ("host", "app.example.com:8080"),
            ("origin", "http://app.example.com:8080"),
        ],
        &[
            ("host", "app.example.com"),
            ("origin", "https://admin.example.com"),
        ],
    ];
    for headers in friendly {
        let mut with_cookie = headers.to_vec();
        with_cookie.push(("cookie", &cookie));
        let a = call(
            &svc,
            request(Method::POST, "/echo", &with_cookie, Body::Empty),
        )
        .await;
        assert_eq!(a.status, StatusCode::OK, "{headers:?}");
    }
    // A cross-site GET is no state change: it passes.
    let a = call(
        &svc,
        request(
            Method::GET,
            "/me",
            &[("sec-fetch-site", "cross-site"), ("cookie", &cookie)],
            Body::Empty,
        ),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK);
}

#[tokio::test]
async fn item_23_get_and_head_never_change_state_and_wrong_methods_are_405() {
    let (auth, _dir) = common::auth(common::seed());
    let svc = common::service(&auth);
    register(&svc, "g@x.io", "pw").await;
    let cookie = cookie_of(&login_from(&svc, PEER, "g@x.io", "pw").await);
    let before = auth.store().counts().unwrap();
    for p in [
        "/users",
        "/sessions",
        "/profile",
        "/reset_password",
        "/sessions/all",
        "/profile/password",
    ] {
        for m in [Method::GET, Method::HEAD] {
            let a = call(
                &svc,
                request(m.clone(), p, &[("cookie", &cookie)], Body::Empty),
            )
            .await;
            assert!(
                a.status == StatusCode::OK || a.status == StatusCode::METHOD_NOT_ALLOWED,
                "{m} {p}: {}",
                a.status
            );
            if a.status == StatusCode::METHOD_NOT_ALLOWED {
                assert!(a.header("allow").is_some());
            }
        }
    }
    assert_eq!(auth.store().counts().unwrap(), before);
    let a = call(
        &svc,
        request(Method::GET, "/profile", &[("cookie", &cookie)], Body::Empty),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "still logged in");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn item_24_body_cap_and_bounded_hashing_sheds_load() {
    let config = AuthConfig::seed()
        .with_bcrypt_cost(10)
        .unwrap()
        .with_hashing_pool(1, 1)
        .unwrap()
        .with_throttle(ThrottleConfig::disabled());
    let (auth, _dir) = common::auth(config);
    let svc = common::service(&auth);
    auth.register_user("h@x.io", "pw").await.unwrap();
    let burst =
        futures_util::future::join_all((0..12).map(|_| login_from(&svc, PEER, "h@x.io", "pw")));
    let probe = async {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let t = Instant::now();
        let a = call(&svc, request(Method::GET, "/", &[], Body::Empty)).await;
        (a.status, t.elapsed())
    };
    let (answers, (probe_status, probe_time)) = tokio::join!(burst, probe);
    let ok = answers
        .iter()
        .filter(|a| a.status == StatusCode::OK)
        .count();
    let shed: Vec<_> = answers
        .iter()
        .filter(|a| a.status == StatusCode::SERVICE_UNAVAILABLE)
        .collect();
    assert!(ok >= 1 && !shed.is_empty(), "ok {ok}, shed {}", shed.len());
    assert_eq!(ok + shed.len(), answers.len(), "only 200 or 503");
    assert!(shed.iter().all(|a| a.header("retry-after").is_some()));
    assert_eq!(probe_status, StatusCode::OK);
    assert!(
        probe_time < Duration::from_millis(500),
        "a request without bcrypt is not starved: {probe_time:?}"
    );
    let big = "x".repeat(20_000);
    let a = register(&svc, "big@x.io", &big).await;
    assert_eq!(a.status, StatusCode::PAYLOAD_TOO_LARGE);
}

// ---- F. Storage at rest --------------------------------------------------------------------

#[tokio::test]
async fn item_25_passwords_only_as_salted_bcrypt_hashes() {
    let (auth, _dir) = common::auth(common::seed());
    let a = auth
        .register_user("s1@x.io", "same password")
        .await
        .unwrap();
    let b = auth
        .register_user("s2@x.io", "same password")
        .await
        .unwrap();
    assert!(a.hashed_password.starts_with("$2b$04$") && b.hashed_password.starts_with("$2b$04$"));
    assert_ne!(a.hashed_password, b.hashed_password, "unique salts");
    assert!(!a.hashed_password.contains("same password"));
}

#[tokio::test]
async fn item_26_tokens_only_as_digests_in_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("auth.redb");
    let mut secrets = Vec::new();
    {
        let auth = Auth::open(&path, common::seed()).unwrap();
        auth.register_user("d@x.io", "pw").await.unwrap();
        for _ in 0..5 {
            secrets.push(
                auth.create_session("d@x.io")
                    .await
                    .unwrap()
                    .unwrap()
                    .expose()
                    .to_owned(),
            );
        }
        secrets.push(
            auth.get_reset_password_token("d@x.io")
                .await
                .unwrap()
                .expose()
                .to_owned(),
        );
    }
    let bytes = std::fs::read(&path).unwrap();
    assert!(bytes.windows(6).any(|w| w == b"d@x.io"));
    for s in secrets {
        assert!(!bytes.windows(s.len()).any(|w| w == s.as_bytes()));
    }
}

#[tokio::test]
async fn item_27_expired_sessions_and_tokens_are_purged() {
    let config = common::seed()
        .with_session_lifetime(Duration::from_secs(60))
        .unwrap()
        .with_reset_token_lifetime(Duration::from_secs(60))
        .unwrap();
    let (auth, clock, _dir) = common::auth_with_clock(config);
    auth.register_user("p@x.io", "pw").await.unwrap();
    auth.create_session("p@x.io").await.unwrap();
    auth.get_reset_password_token("p@x.io").await.unwrap();
    assert_eq!(auth.store().counts().unwrap(), (1, 1, 1));
    clock.advance(Duration::from_secs(61));
    let purged = auth.purge_expired().await.unwrap();
    assert_eq!((purged.sessions, purged.reset_tokens), (1, 1));
    assert_eq!(auth.store().counts().unwrap(), (1, 0, 0));
    // The background purger the application owns.
    auth.create_session("p@x.io").await.unwrap();
    clock.advance(Duration::from_secs(61));
    let purger = auth.spawn_purger(Duration::from_millis(20));
    let deadline = Instant::now() + Duration::from_secs(5);
    while auth.store().counts().unwrap().1 != 0 {
        assert!(Instant::now() < deadline, "the purger did not run");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    purger.abort();
}

#[tokio::test]
async fn item_28_multi_record_changes_are_one_transaction() {
    // A password change ends the other sessions in the same write; a refused one changes
    // nothing. (Crash consistency of redb commits is exercised by the reopen tests.)
    let (auth, _dir) = common::auth(common::seed());
    let svc = common::service(&auth);
    register(&svc, "t@x.io", "pw").await;
    let keep = cookie_of(&login_from(&svc, PEER, "t@x.io", "pw").await);
    let other = cookie_of(&login_from(&svc, PEER, "t@x.io", "pw").await);
    let a = call(
        &svc,
        request_from(
            PEER,
            Method::PUT,
            "/profile/password",
            &[("cookie", &keep)],
            form(&[("current_password", "wrong"), ("new_password", "pw2")]),
        ),
    )
    .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert_eq!(auth.store().counts().unwrap().1, 2, "nothing changed");
    let a = call(
        &svc,
        request_from(
            PEER,
            Method::PUT,
            "/profile/password",
            &[("cookie", &keep)],
            form(&[("current_password", "pw"), ("new_password", "pw2")]),
        ),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(
        a.json(),
        json!({"email": "t@x.io", "message": "Password changed"})
    );
    let p = call(
        &svc,
        request(Method::GET, "/profile", &[("cookie", &keep)], Body::Empty),
    )
    .await;
    assert_eq!(p.status, StatusCode::OK, "the current session stays");
    let p = call(
        &svc,
        request(Method::GET, "/profile", &[("cookie", &other)], Body::Empty),
    )
    .await;
    assert_eq!(p.status, StatusCode::FORBIDDEN, "the others end");
    assert!(auth.valid_login("t@x.io", "pw2").await.unwrap());
    let a = call(
        &svc,
        request_from(
            PEER,
            Method::PUT,
            "/profile/password",
            &[],
            form(&[("current_password", "pw2"), ("new_password", "pw3")]),
        ),
    )
    .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "no session");
    // Deleting a user takes everything attached with it.
    let user = auth
        .authenticate(
            &tower_user_auth::token::SessionToken::parse(keep.trim_start_matches("session_id="))
                .unwrap(),
        )
        .await
        .unwrap()
        .unwrap()
        .0;
    auth.get_reset_password_token("t@x.io").await.unwrap();
    auth.delete_user(user.id).await.unwrap();
    assert_eq!(auth.store().counts().unwrap(), (0, 0, 0));
}

// ---- G. Audit ------------------------------------------------------------------------------
// Items 29 and 30 are in tests/audit_log.rs (a global log capture needs its own process).

#[tokio::test]
async fn item_31_registration_tells_whether_an_email_is_taken_and_is_throttled_per_client() {
    let (auth, _dir) = common::auth(common::seed());
    let svc = common::service(&auth);
    assert_eq!(
        register(&svc, "taken@x.io", "pw").await.status,
        StatusCode::OK
    );
    let a = register(&svc, "taken@x.io", "pw").await;
    assert_eq!(a.json(), json!({"message": "email already registered"}));
    let mut last = StatusCode::OK;
    for i in 0..20 {
        last = register(&svc, &format!("n{i}@x.io"), "pw").await.status;
    }
    assert_eq!(
        last,
        StatusCode::TOO_MANY_REQUESTS,
        "20 per hour per client"
    );
    let other = call(
        &svc,
        request_from(
            "198.51.100.77:1",
            Method::POST,
            "/users",
            &[],
            form(&[("email", "else@x.io"), ("password", "pw")]),
        ),
    )
    .await;
    assert_eq!(other.status, StatusCode::OK, "other clients are unaffected");
}
