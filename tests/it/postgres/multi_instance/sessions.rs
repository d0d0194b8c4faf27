//! What one instance does, the other sees: a session made on one is valid on the other; a
//! logout, ending all sessions, a password change, a reset or a deletion through one is refused
//! by the other within the bound; an email change is seen by the other's wrapped app.

use crate::support;
use http::{Method, StatusCode};
use std::time::Instant;
use support::{Body, GOOD_PW, OTHER_PW};

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_made_on_one_instance_is_valid_on_the_other() {
    let Some((_db, a, b, _dir)) = setup(&[]).await else {
        return;
    };
    register(&a, "ann@example.com", GOOD_PW).await;
    let cookie = log_in(&b, "ann@example.com", GOOD_PW).await;
    assert_valid(&a, &cookie, "made on B, used on A").await;
    assert_valid(&b, &cookie, "made on B, used on B").await;
    let me = a.http.get("/me", &cookie).await;
    assert_eq!(me.json()["email"], "ann@example.com", "{}", me.body);
    let (_, log_a) = a.terminate();
    let (_, log_b) = b.terminate();
    for log in [log_a, log_b] {
        assert!(!log.contains(GOOD_PW), "no password in the log");
        assert!(
            !log.contains(cookie.trim_start_matches("session_id=")),
            "no token in the log"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logout_through_one_instance_ends_the_session_on_the_other() {
    // Timings: no heavy load and no other measurement meanwhile.
    let _alone = crate::support::alone::measuring().await;
    let Some((_db, a, b, _dir)) = setup(&[]).await else {
        return;
    };
    register(&a, "ann@example.com", GOOD_PW).await;
    let cookie = log_in(&a, "ann@example.com", GOOD_PW).await;
    // B serves it first: from now on it may answer from its cache.
    assert_valid(&b, &cookie, "warm on B").await;
    let out = a.http.delete("/sessions", &cookie).await;
    // 302 to the after-logout page, as the seed answered.
    assert!(
        out.status.is_success() || out.status.is_redirection(),
        "logout on A: {} {}",
        out.status,
        out.body
    );
    let since = Instant::now();
    refused_within_bound(&b, &cookie, since, "logout via A").await;
    assert!(refused(profile(&a, &cookie).await), "refused on A too");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ending_all_sessions_through_one_instance_ends_them_on_the_other() {
    // Timings: no heavy load and no other measurement meanwhile.
    let _alone = crate::support::alone::measuring().await;
    let Some((_db, a, b, _dir)) = setup(&[]).await else {
        return;
    };
    register(&a, "ann@example.com", GOOD_PW).await;
    let on_b = log_in(&b, "ann@example.com", GOOD_PW).await;
    let on_a = log_in(&a, "ann@example.com", GOOD_PW).await;
    assert_valid(&b, &on_b, "warm on B").await;
    assert_valid(&b, &on_a, "A's session warm on B").await;
    let ended = a.http.delete("/sessions/all", &on_a).await;
    assert!(
        ended.status.is_success() || ended.status.is_redirection(),
        "end all via A: {} {}",
        ended.status,
        ended.body
    );
    let since = Instant::now();
    refused_within_bound(&b, &on_b, since, "end all sessions via A (B's session)").await;
    refused_within_bound(&b, &on_a, since, "end all sessions via A (A's session)").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_change_through_one_instance_ends_the_other_sessions_there() {
    // Timings: no heavy load and no other measurement meanwhile.
    let _alone = crate::support::alone::measuring().await;
    let Some((_db, a, b, _dir)) = setup(&[]).await else {
        return;
    };
    register(&a, "ann@example.com", GOOD_PW).await;
    let other = log_in(&b, "ann@example.com", GOOD_PW).await;
    let changer = log_in(&a, "ann@example.com", GOOD_PW).await;
    assert_valid(&b, &other, "warm on B").await;
    let _changed = send_ok(
        &a,
        Method::PUT,
        "/profile/password",
        &changer,
        &[("current_password", GOOD_PW), ("new_password", OTHER_PW)],
        "change via A",
    )
    .await;
    let since = Instant::now();
    refused_within_bound(&b, &other, since, "password change via A").await;
    // The new password logs in on B, the old one no longer.
    log_in(&b, "ann@example.com", OTHER_PW).await;
    let old = b.http.log_in("ann@example.com", GOOD_PW).await;
    assert_eq!(old.status, StatusCode::UNAUTHORIZED, "{}", old.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_reset_through_one_instance_ends_the_sessions_on_the_other() {
    // Timings: no heavy load and no other measurement meanwhile.
    let _alone = crate::support::alone::measuring().await;
    let Some((_db, a, b, _dir)) = setup(&[]).await else {
        return;
    };
    let email = "ann@example.com";
    register(&a, email, GOOD_PW).await;
    let cookie = log_in(&b, email, GOOD_PW).await;
    assert_valid(&b, &cookie, "warm on B").await;
    // The token is asked for on B (its development mailer prints it) and used on A.
    let asked = b
        .http
        .post("/reset_password", Body::Form(&[("email", email)]))
        .await;
    assert_eq!(asked.status, StatusCode::OK, "{}", asked.body);
    let token = b.printed_reset_token(email);
    let reset = a.http.reset_password(email, &token, OTHER_PW).await;
    assert_eq!(reset.status, StatusCode::OK, "reset via A: {}", reset.body);
    let since = Instant::now();
    refused_within_bound(&b, &cookie, since, "password reset via A").await;
    log_in(&b, email, OTHER_PW).await;
    // The token was used once: B refuses it too.
    let again = b
        .http
        .reset_password(email, &token, "yet another long passphrase")
        .await;
    assert!(again.status.is_client_error(), "{}", again.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_the_account_through_one_instance_ends_its_sessions_on_the_other() {
    // Timings: no heavy load and no other measurement meanwhile.
    let _alone = crate::support::alone::measuring().await;
    let Some((_db, a, b, _dir)) = setup(&[]).await else {
        return;
    };
    let email = "ann@example.com";
    register(&a, email, GOOD_PW).await;
    let on_b = log_in(&b, email, GOOD_PW).await;
    let on_a = log_in(&a, email, GOOD_PW).await;
    assert_valid(&b, &on_b, "warm on B").await;
    assert_valid(&b, &on_a, "A's session warm on B").await;
    let deleted = send_ok(
        &a,
        Method::DELETE,
        "/profile",
        &on_a,
        &[("current_password", GOOD_PW)],
        "delete via A",
    )
    .await;
    let cleared = deleted
        .set_cookie_line("session_id")
        .expect("cookie cleared");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    let since = Instant::now();
    refused_within_bound(&b, &on_b, since, "account deleted via A (B's session)").await;
    refused_within_bound(&b, &on_a, since, "account deleted via A (A's session)").await;
    assert!(refused(profile(&a, &on_a).await), "refused on A too");
    // The old password logs in nowhere; the email can be registered again, on either.
    let old = b.http.log_in(email, GOOD_PW).await;
    assert_eq!(old.status, StatusCode::UNAUTHORIZED, "{}", old.body);
    register(&b, email, OTHER_PW).await;
    let again = log_in(&a, email, OTHER_PW).await;
    assert_valid(&b, &again, "the new account's session on B").await;
    assert!(
        refused(profile(&b, &on_b).await),
        "the old session stays dead"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_email_change_through_one_instance_is_seen_on_the_other() {
    // Timings: no heavy load and no other measurement meanwhile.
    let _alone = crate::support::alone::measuring().await;
    let Some((_db, a, b, _dir)) = setup(&[]).await else {
        return;
    };
    let (old, new) = ("ann@example.com", "Ann.Moved@example.com");
    register(&a, old, GOOD_PW).await;
    let on_b = log_in(&b, old, GOOD_PW).await;
    let on_a = log_in(&a, old, GOOD_PW).await;
    // B serves the session with its email first: from now on it may answer from its cache.
    let me = b.http.get("/me", &on_b).await;
    assert_eq!(me.json()["email"], old, "{}", me.body);
    let _changed = send_ok(
        &a,
        Method::PUT,
        "/profile/email",
        &on_a,
        &[("current_password", GOOD_PW), ("new_email", new)],
        "change via A",
    )
    .await;
    let since = Instant::now();
    loop {
        let me = b.http.get("/me", &on_b).await;
        assert_eq!(
            me.status,
            StatusCode::OK,
            "the session stays valid: {}",
            me.body
        );
        let delay = since.elapsed();
        if me.json()["email"] == new {
            println!("email change via A: seen by the other instance after {delay:?}");
            break;
        }
        assert!(
            delay <= BOUND,
            "B still shows the old email after {delay:?}: {}",
            me.body
        );
        tokio::time::sleep(POLL).await;
    }
    // The new address logs in on B, the old one no longer.
    log_in(&b, new, GOOD_PW).await;
    let by_old = b.http.log_in(old, GOOD_PW).await;
    assert_eq!(by_old.status, StatusCode::UNAUTHORIZED, "{}", by_old.body);
}
