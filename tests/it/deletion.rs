//! Account deletion: `DELETE /profile`, the cookie cleared as at logout, every old cookie
//! refused at once (on the layer's fast path too), the email free again; deletion racing
//! logins.

use crate::support::FormSite as _;
use std::{sync::Arc, time::Duration};

use http::Method;
use serde_json::{Value, json};
use tokio::sync::Barrier;
use tower_user_auth::{
    config::SecretKey,
    store::{AccountVersion, ResetRecord, prelude::*},
    token::ResetToken,
};

use crate::{
    email::{Site, assert_4xx, assert_refused, cookie, step},
    support::{
        Answer, GOOD_PW, OTHER_PW, assert_ok, browser::totp::code_at, clears, hardened_config,
        second_factor, seed_config, unthrottled,
    },
};

/// `DELETE /profile` with `cookie` and `fields`.
async fn delete(site: &Site, cookie: &str, fields: &[(&str, &str)]) -> Answer {
    site.send(Method::DELETE, "/profile", cookie, fields).await
}

/// `DELETE /profile` with `cookie` and the current password `password`.
async fn delete_with(site: &Site, cookie: &str, password: &str) -> Answer {
    delete(site, cookie, &[("current_password", password)]).await
}

#[tokio::test]
async fn deleting_the_account_ends_everything_and_frees_the_email() {
    let mut site = Site::confirming().await;
    site.account("bob@example.com").await;
    site.account("ann@example.com").await;
    let this = site.session("bob@example.com").await;
    let other = site.session("bob@example.com").await;
    let ann = site.session("ann@example.com").await;
    // Both sessions are in the cache (the layer's fast path) before the deletion.
    for cookie in [&this, &other] {
        assert_eq!(site.app_user(cookie).await["email"], "bob@example.com");
    }
    let user = site.harness.user("bob@example.com").await;
    let id = user.id;
    // An outstanding reset token goes with the account.
    let now = site.harness.auth.now();
    let record = ResetRecord {
        user_id: id,
        created: now,
        expires: now + Duration::from_secs(60),
        generation: user.generation,
    };
    let reset = ResetToken::generate().digest();
    let store = &site.harness.store;
    let read = AccountVersion::of(&user);
    store
        .replace_reset_token(reset, record, read)
        .await
        .expect("a reset token");

    let res = delete_with(&site, &this, GOOD_PW).await;
    assert_ok(&res, &json!({"message": "account deleted"}));
    let line = res
        .set_cookie_line("session_id")
        .expect("the cookie cleared");
    assert!(clears(&line), "{line}");

    // At once, on the fast path and through the store: no user, 403 on the profile.
    for cookie in [&this, &other] {
        assert_eq!(site.app_user(cookie).await, Value::Null, "{cookie}");
        assert_4xx(&site.profile(cookie).await, 403);
    }
    assert!(!site.harness.user_exists("bob@example.com").await);
    assert!(
        site.harness
            .store
            .sessions_of(id)
            .await
            .expect("read")
            .is_empty()
    );
    // Ann is untouched; one user, one session (hers), no reset token left.
    assert_eq!(site.app_user(&ann).await["email"], "ann@example.com");
    assert_eq!(site.harness.counts(), (1, 1, 0));
    assert_eq!(site.login("bob@example.com", GOOD_PW).await.status, 401);

    // The email can be registered again: a new account, which old cookies do not open.
    let res = site.register("bob@example.com", OTHER_PW).await;
    assert_eq!(res.status, 200, "{}", res.text());
    let token = site.mail.confirmation_for("bob@example.com").await;
    assert_eq!(site.confirm(&token, "").await.status, 200);
    let res = site.login("bob@example.com", OTHER_PW).await;
    assert_eq!(res.status, 200, "{}", res.text());
    assert_ne!(site.harness.user("bob@example.com").await.id, id);
    for cookie in [&this, &other] {
        assert_eq!(site.app_user(cookie).await, Value::Null);
    }
}

#[tokio::test]
async fn refusals_are_4xx_with_a_message_and_delete_nothing() {
    let site = Site::hardened().await;
    site.register("bob@example.com", GOOD_PW).await;
    let bob = site.session("bob@example.com").await;
    assert_4xx(&delete_with(&site, "", GOOD_PW).await, 403);
    let stale = "session_id=00000000-0000-4000-8000-000000000000";
    assert_4xx(&delete_with(&site, stale, GOOD_PW).await, 403);
    assert_refused(
        &delete(&site, &bob, &[]).await,
        400,
        "missing field 'current_password'",
    );
    let both = [
        ("current_password", GOOD_PW),
        ("otp", "123456"),
        ("recovery_code", "x"),
    ];
    assert_4xx(&delete(&site, &bob, &both).await, 400);
    assert_4xx(&delete_with(&site, &bob, OTHER_PW).await, 403);
    assert!(site.harness.user_exists("bob@example.com").await);
    assert_eq!(site.app_user(&bob).await["email"], "bob@example.com");
    // A GET and a PUT are not served there; GET is the profile.
    let res = site.send(Method::PUT, "/profile", &bob, &[]).await;
    assert_eq!(res.status, 405);
    assert_eq!(res.header("allow"), Some("GET, HEAD, DELETE"));
}

/// The compatibility profile does not serve `DELETE /profile` (its `Allow` is the seed's).
#[tokio::test]
async fn the_compatibility_profile_does_not_serve_deletion() {
    let site = Site::new(seed_config()).await;
    site.register("bob@example.com", GOOD_PW).await;
    let bob = site.session("bob@example.com").await;
    let res = delete_with(&site, &bob, GOOD_PW).await;
    assert_eq!(res.status, 405, "{}", res.text());
    assert_eq!(res.header("allow"), Some("GET, HEAD"));
    assert!(site.harness.user_exists("bob@example.com").await);
}

/// A wrong password is a failed attempt: after five the backoff holds the right one too; a
/// deletion clears it for the address and this client.
#[tokio::test]
async fn wrong_passwords_are_failures_and_a_deletion_clears_the_backoff() {
    let site = Site::hardened().await;
    site.register("bob@example.com", GOOD_PW).await;
    let bob = site.session("bob@example.com").await;
    for _ in 0..5 {
        assert_eq!(delete_with(&site, &bob, OTHER_PW).await.status, 403);
    }
    assert_4xx(&delete_with(&site, &bob, GOOD_PW).await, 429);
    assert!(site.harness.user_exists("bob@example.com").await);
    site.harness.advance(Duration::from_secs(2));
    assert_eq!(delete_with(&site, &bob, GOOD_PW).await.status, 200);
    for _ in 0..4 {
        assert_eq!(site.login("bob@example.com", OTHER_PW).await.status, 401);
    }
}

/// A session of `email` (registered with [`GOOD_PW`]) whose account then enables a TOTP
/// factor over HTTP: the session's cookie, the secret, the recovery codes.
async fn with_factor(site: &Site, email: &str) -> (String, String, Vec<String>) {
    site.register(email, GOOD_PW).await;
    let cookie = site.session(email).await;
    let (secret, codes) = second_factor::enable(&site.server.http, &cookie, step(site)).await;
    (cookie, secret, codes)
}

/// With the second factor on, the password alone does not delete (401 "second factor
/// required", not a failed attempt); a wrong or replayed code is refused (a failed attempt);
/// the current code, or a recovery code, deletes the account with its factor.
#[tokio::test]
async fn with_a_second_factor_deletion_needs_a_code_or_a_recovery_code() {
    let config = hardened_config().with_secret_key(SecretKey::from_bytes([0x42; 32]));
    let site = Site::new(config).await;
    let (bob, secret, _) = with_factor(&site, "bob@example.com").await;
    let id = site.harness.user("bob@example.com").await.id;
    for _ in 0..6 {
        let res = delete_with(&site, &bob, GOOD_PW).await;
        assert_refused(&res, 401, "second factor required");
    }
    let used = code_at(&secret, step(&site));
    let replay = [("current_password", GOOD_PW), ("otp", used.as_str())];
    assert_4xx(&delete(&site, &bob, &replay).await, 401);
    let wrong = if used == "000000" { "111111" } else { "000000" };
    let res = delete(
        &site,
        &bob,
        &[("current_password", GOOD_PW), ("otp", wrong)],
    )
    .await;
    assert_4xx(&res, 401);
    assert!(site.harness.user_exists("bob@example.com").await);

    site.harness.advance(Duration::from_secs(30));
    let next = code_at(&secret, step(&site));
    let res = delete(
        &site,
        &bob,
        &[("current_password", GOOD_PW), ("otp", &next)],
    )
    .await;
    assert_ok(&res, &json!({"message": "account deleted"}));
    assert!(!site.harness.user_exists("bob@example.com").await);
    assert!(
        site.harness.store.second_factor(id).await.is_err(),
        "the factor went with it"
    );

    let (ann, _, codes) = with_factor(&site, "ann@example.com").await;
    let res = delete(
        &site,
        &ann,
        &[("current_password", GOOD_PW), ("recovery_code", "nope")],
    )
    .await;
    assert_4xx(&res, 401);
    let res = delete(
        &site,
        &ann,
        &[("current_password", GOOD_PW), ("recovery_code", &codes[3])],
    )
    .await;
    assert_ok(&res, &json!({"message": "account deleted"}));
    // The email is free again, without a factor.
    site.register("ann@example.com", OTHER_PW).await;
    assert_eq!(site.login("ann@example.com", OTHER_PW).await.status, 200);
}

/// "second factor required" with the right password is not a failed attempt; wrong codes
/// are.
#[tokio::test]
async fn second_factor_required_is_not_a_failure_and_wrong_codes_are() {
    let config = hardened_config().with_secret_key(SecretKey::from_bytes([0x42; 32]));
    let site = Site::new(config).await;
    let (bob, _, _) = with_factor(&site, "bob@example.com").await;
    for _ in 0..8 {
        assert_eq!(delete_with(&site, &bob, GOOD_PW).await.status, 401);
    }
    for _ in 0..5 {
        let res = delete(
            &site,
            &bob,
            &[("current_password", GOOD_PW), ("otp", "999999x")],
        )
        .await;
        assert_4xx(&res, 401);
    }
    assert_4xx(&delete_with(&site, &bob, GOOD_PW).await, 429);
    assert!(site.harness.user_exists("bob@example.com").await);
}

#[tokio::test]
async fn forms_are_answered_with_redirects_and_the_cookie_cleared() {
    let site = Site::hardened().await;
    site.register("bob@example.com", GOOD_PW).await;
    let bob = site.session("bob@example.com").await;
    let config = site.harness.auth.config();
    let wrong = [("_method", "DELETE"), ("current_password", OTHER_PW)];
    let res = site.post_as_browser("/profile", &bob, &wrong).await;
    assert_eq!(res.status, 303);
    let back = format!("{}?error=wrong_password", config.pages().delete_account);
    assert_eq!(res.header("location"), Some(back.as_str()));
    let right = [("_method", "DELETE"), ("current_password", GOOD_PW)];
    let res = site.post_as_browser("/profile", &bob, &right).await;
    assert_eq!(res.status, 303);
    assert_eq!(
        res.header("location"),
        Some(config.routes().after_logout.as_str())
    );
    let line = res
        .set_cookie_line("session_id")
        .expect("the cookie cleared");
    assert!(clears(&line), "{line}");
    assert!(!site.harness.user_exists("bob@example.com").await);
}

/// Logins with the right password racing the deletion of the account, many rounds: no
/// session survives for the deleted account, on the fast path or through the store; the
/// logins that lost are refused as wrong credentials.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletion_racing_logins_leaves_no_session() {
    let site = Site::new(unthrottled(hardened_config())).await;
    let mut survivors = Vec::new();
    let mut logged_in = 0;
    for round in 0..20 {
        let email = format!("racer{round}@example.com");
        site.register(&email, GOOD_PW).await;
        let victim = site.session(&email).await;
        let id = site.harness.user(&email).await.id;
        let barrier = Arc::new(Barrier::new(9));
        let logins = futures_util::future::join_all((0..8).map(|_| {
            let barrier = Arc::clone(&barrier);
            let site = &site;
            let email = &email;
            async move {
                barrier.wait().await;
                site.login(email, GOOD_PW).await
            }
        }));
        let deletion = async {
            barrier.wait().await;
            delete_with(&site, &victim, GOOD_PW).await
        };
        let (logins, deleted) = tokio::join!(logins, deletion);
        assert_eq!(deleted.status, 200, "round {round}: {}", deleted.text());
        for login in &logins {
            assert!(
                [200, 401].contains(&login.status.as_u16()),
                "{}",
                login.text()
            );
        }
        let cookies: Vec<String> = logins.iter().filter_map(cookie).collect();
        logged_in += cookies.len();
        for cookie in &cookies {
            let fast = site.app_user(cookie).await;
            let profile = site.profile(cookie).await.status;
            if fast != Value::Null || profile != 403 {
                survivors.push((round, fast, profile));
            }
        }
        let stored = site.harness.store.sessions_of(id).await.expect("read");
        assert!(
            stored.is_empty(),
            "round {round}: {} sessions stored",
            stored.len()
        );
    }
    assert!(
        survivors.is_empty(),
        "sessions of deleted accounts survived: {survivors:?}"
    );
    assert_eq!(site.harness.counts().1, 0, "no session stored at all");
    eprintln!("{logged_in} logins of 160 got a session before the deletion");
}

/// Issue 21, section 1: a self-deletion is a compare-and-set against the session and the
/// credentials it verified. A deletion racing the owner's reset, released together, never
/// goes through once the reset has answered "Password updated": of the two, at most one is
/// answered 200, and when the reset is, the account is still there and opens with the new
/// password (a deletion that commits first takes the reset token with it instead).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deletion_racing_a_reset_never_deletes_after_the_reset_answered() {
    let site = Site::new(unthrottled(hardened_config())).await;
    let mut deleted_after_reset = Vec::new();
    for round in 0..8 {
        let email = format!("reset-race{round}@example.com");
        site.register(&email, GOOD_PW).await;
        let thief = site.session(&email).await;
        let token = site.reset_token(&email).await;
        let barrier = Barrier::new(2);
        let deletion = async {
            barrier.wait().await;
            delete_with(&site, &thief, GOOD_PW).await
        };
        let reset = async {
            barrier.wait().await;
            site.reset(&email, &token, OTHER_PW).await
        };
        let (deleted, reset) = tokio::join!(deletion, reset);
        for answer in [&deleted, &reset] {
            assert!(
                [200, 401, 403, 409].contains(&answer.status.as_u16()),
                "round {round}: {}",
                answer.text()
            );
        }
        if reset.status == 200 {
            let exists = site.harness.user_exists(&email).await;
            if deleted.status == 200 || !exists {
                deleted_after_reset.push(round);
            } else {
                assert_eq!(site.login(&email, OTHER_PW).await.status, 200);
            }
        }
    }
    assert!(
        deleted_after_reset.is_empty(),
        "deleted after the reset answered in rounds {deleted_after_reset:?}"
    );
}
