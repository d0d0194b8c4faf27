//! B. Login: items 5, 6 and 8 (item 7, throttling, is in `tests/it/throttling/`).

use std::time::Duration;
use tower_user_auth::compat::SeedApi;

use http::{Method, StatusCode};
use tower_user_auth::{AuthConfig, store::prelude::*};

use crate::security::{
    assert_alike, paired_medians,
    support::{GOOD_PW, Harness, empty, form, unthrottled, with_cookie},
};

/// Item 5: unknown email and wrong password: the same status (401), body and headers, in
/// both profiles; the Rust API says `false` for both.
#[tokio::test]
async fn item_05_unknown_email_and_wrong_password_same_401_and_body() {
    for h in [Harness::seed(), Harness::hardened()] {
        h.registered("known@example.com", GOOD_PW).await;
        let wrong = h.login("known@example.com", "not the password").await;
        let unknown = h.login("unknown@example.com", "not the password").await;
        assert_eq!(wrong.status, 401);
        assert_eq!(unknown.status, 401);
        assert_eq!(wrong.body, unknown.body);
        assert_eq!(wrong.headers, unknown.headers);
        assert!(wrong.session_cookie().is_none() && unknown.session_cookie().is_none());
        for (email, pw, valid) in [
            ("known@example.com", "nope", false),
            ("nobody@example.com", "nope", false),
            ("known@example.com", GOOD_PW, true),
        ] {
            assert_eq!(h.auth.valid_login(email, pw).await.unwrap(), valid);
        }
    }
}

/// Item 5 (with item 7): throttling answers 429 alike for known and unknown emails.
#[tokio::test]
async fn item_05_throttling_answers_alike_for_known_and_unknown_emails() {
    let h = Harness::seed();
    h.registered("known@example.com", "pw").await;
    let (known_peer, unknown_peer) = ("198.51.100.1", "198.51.100.2");
    for _ in 0..5 {
        for (email, peer) in [
            ("known@example.com", known_peer),
            ("ghost@example.com", unknown_peer),
        ] {
            assert_eq!(h.login_from(email, "x", peer).await.status, 401);
        }
    }
    let known = h.login_from("known@example.com", "x", known_peer).await;
    let unknown = h.login_from("ghost@example.com", "x", unknown_peer).await;
    assert_eq!(known.status, 429);
    assert_eq!(unknown.status, 429);
    assert_eq!(known.body, unknown.body);
    assert_eq!(known.headers, unknown.headers);
    assert_eq!(known.retry_after(), Some(1));
}

/// The medians of 15 interleaved samples each (after two warm-up rounds) of a login to
/// `email` with a wrong password and of one to an unknown email, both 401.
async fn wrong_and_unknown_medians(h: &Harness, email: &str) -> (Duration, Duration) {
    paired_medians(
        15,
        |_| async move {
            let res = h.login(email, "wrong-password").await;
            assert_eq!(res.status, StatusCode::UNAUTHORIZED);
        },
        |i| async move {
            let email = format!("nobody{i}@example.com");
            let res = h.login(&email, "wrong-password").await;
            assert_eq!(res.status, StatusCode::UNAUTHORIZED);
        },
    )
    .await
}

/// Item 6: an unknown email costs one bcrypt verify, so both failures take the same time.
/// Medians of 15 interleaved samples each (after two warm-up rounds) at bcrypt cost 8.
#[tokio::test]
async fn item_06_unknown_email_takes_as_long_as_wrong_password() {
    let config = unthrottled(AuthConfig::compat().with_bcrypt_cost(8));
    let h = Harness::new(config);
    h.registered("timed@example.com", "the-password").await;
    let (wrong, unknown) = wrong_and_unknown_medians(&h, "timed@example.com").await;
    assert_alike(
        "item 6",
        ("unknown email", unknown),
        ("wrong password", wrong),
    );
    // Both really did a bcrypt verify at cost 8 (several milliseconds even optimised).
    assert!(
        unknown >= Duration::from_millis(3),
        "unknown email median {unknown:?}"
    );
}

/// Item 6, whatever the stored hash's cost: after the configured cost is raised, a wrong
/// password for an account whose hash still has the old, lower cost takes as long as an
/// unknown email. The account is made at cost 4 and logged into at cost 10; medians of 15
/// interleaved samples each.
#[tokio::test]
async fn item_06_old_cost_hash_wrong_password_takes_as_long_as_unknown_email() {
    let h = Harness::new(unthrottled(AuthConfig::compat().with_bcrypt_cost(10)));
    let low = tower_user_auth::Auth::new(
        h.store.clone(),
        unthrottled(AuthConfig::compat().with_bcrypt_cost(4)),
    )
    .expect("valid configuration");
    low.register_user("old-cost@example.com", "the-password")
        .await
        .expect("registered at cost 4");
    let (wrong, unknown) = wrong_and_unknown_medians(&h, "old-cost@example.com").await;
    assert_alike(
        "item 6 (old-cost hash)",
        ("unknown email", unknown),
        ("wrong password, cost-4 hash", wrong),
    );
}

/// Item 8: credentials are read from the body only, never from the query string, at every
/// route that takes them.
#[tokio::test]
async fn item_08_credentials_only_in_the_body_never_the_query_string() {
    let h = Harness::seed();
    h.registered("bob@bob.com", "pw").await;

    for req in [
        empty(Method::POST, "/sessions?email=bob%40bob.com&password=pw"),
        form(
            Method::POST,
            "/sessions?password=pw",
            &[("email", "bob@bob.com")],
        ),
    ] {
        let res = h.send(req).await;
        assert_eq!(res.status, 400, "{}", res.text());
        assert!(res.session_cookie().is_none());
    }
    let uid = h.user("bob@bob.com").await.id;
    assert!(h.store.sessions_of(uid).await.unwrap().is_empty());

    let res = h
        .send(empty(Method::POST, "/users?email=q%40q.com&password=pw"))
        .await;
    assert_eq!(res.status, 400);
    assert!(!h.user_exists("q@q.com").await);

    let token = crate::security::seed_token(&h.request_reset("bob@bob.com").await);
    let res = h
        .send(form(
            Method::PUT,
            &format!("/reset_password?reset_token={token}&new_password=hacked"),
            &[("email", "bob@bob.com")],
        ))
        .await;
    assert_eq!(res.status, 400);
    assert_eq!(h.login("bob@bob.com", "pw").await.status, 200);

    let cookie = h.session("bob@bob.com", "pw").await;
    let query = "/profile/password?current_password=pw&new_password=hacked";
    let res = h
        .send(with_cookie(empty(Method::PUT, query), &cookie))
        .await;
    assert_eq!(res.status, 400);
    assert_eq!(h.login("bob@bob.com", "pw").await.status, 200);
}
