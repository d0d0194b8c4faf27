//! Email confirmation: the token sent at registration, `POST /confirm_email`, the login
//! refused until then, `POST /confirm_email/resend`, and their throttling.

mod contested;

use crate::support::FormSite as _;
use std::time::Duration;

use http::Method;
use serde_json::json;
use tower_user_auth::{Auth, store::prelude::*};

use super::{
    Site, assert_4xx, assert_invalid_token, assert_refused, at_once,
    support::{
        GOOD_PW, OTHER_PW, assert_ok, hardened_config, seed_config, serve_echo, unthrottled,
    },
};

const RESENT: &str =
    "if an unconfirmed account has this email, a new confirmation token has been sent";

/// `POST /confirm_email/resend` for `email`.
async fn resend(site: &Site, email: &str) -> super::Answer {
    site.send(
        Method::POST,
        "/confirm_email/resend",
        "",
        &[("email", email)],
    )
    .await
}

#[tokio::test]
async fn registration_sends_a_token_and_the_login_waits_for_it() {
    let mut site = Site::confirming().await;
    let res = site.register("  Bob@Example.com ", GOOD_PW).await;
    assert_ok(
        &res,
        &json!({"email": "Bob@Example.com", "message": "user created"}),
    );
    // To the address as sent, trimmed.
    let token = site.mail.confirmation_for("Bob@Example.com").await;
    assert!(!site.harness.user("bob@example.com").await.email_confirmed);

    let res = site.login("bob@example.com", GOOD_PW).await;
    assert_refused(&res, 403, "email not confirmed");
    assert!(res.set_cookies().is_empty(), "{:?}", res.set_cookies());
    assert_refused(
        &site.login("bob@example.com", OTHER_PW).await,
        401,
        "wrong email or password",
    );
    assert_eq!(site.harness.counts().1, 0, "no session");

    let res = site.confirm(&token, "").await;
    assert_ok(
        &res,
        &json!({"email": "Bob@Example.com", "message": "email confirmed"}),
    );
    assert!(site.harness.user("bob@example.com").await.email_confirmed);
    let cookie = site.session("bob@example.com").await;
    assert_eq!(site.app_user(&cookie).await["email"], "Bob@Example.com");

    // Single-use, with or without a session.
    assert_invalid_token(&site.confirm(&token, "").await);
    assert_invalid_token(&site.confirm(&token, &cookie).await);
    site.mail.assert_nothing_more().await;
}

#[tokio::test]
async fn bad_input_is_a_4xx_with_a_message() {
    let site = Site::confirming().await;
    assert_refused(
        &site.send(Method::POST, "/confirm_email", "", &[]).await,
        400,
        "missing field 'token'",
    );
    assert_4xx(&site.confirm("", "").await, 400);
    for garbage in [
        "x",
        "00000000-0000-0000-0000-000000000000",
        "'; drop table users",
    ] {
        assert_invalid_token(&site.confirm(garbage, "").await);
    }
    assert_4xx(
        &site
            .send(Method::POST, "/confirm_email/resend", "", &[])
            .await,
        400,
    );
    assert_4xx(&resend(&site, "not an address").await, 400);
    let res = site.server.http.get("/confirm_email", "").await;
    assert_eq!(res.status, 405, "{}", res.text());
    assert_eq!(res.header("allow"), Some("POST"));
    // JSON bodies too.
    let body = super::Body::Json(json!({"token": 7}));
    let res = site.server.http.post("/confirm_email", body).await;
    assert!(res.status.is_client_error(), "{}", res.text());
}

#[tokio::test]
async fn a_token_of_another_account_is_refused_while_logged_in_and_stays_usable() {
    let mut site = Site::confirming().await;
    site.account("bob@example.com").await;
    let bob = site.session("bob@example.com").await;
    site.register("ann@example.com", GOOD_PW).await;
    let ann_token = site.mail.confirmation_for("ann@example.com").await;

    assert_invalid_token(&site.confirm(&ann_token, &bob).await);
    assert!(!site.harness.user("ann@example.com").await.email_confirmed);
    // Without a session, the token alone decides.
    let fields = [("token", ann_token.as_str())];
    let body = super::support::Encoding::Json.body(&fields);
    let res = site.server.http.post("/confirm_email", body).await;
    assert_ok(
        &res,
        &json!({"email": "ann@example.com", "message": "email confirmed"}),
    );
    // A stale cookie counts as no session.
    site.register("cid@example.com", GOOD_PW).await;
    let cid_token = site.mail.confirmation_for("cid@example.com").await;
    let stale = "session_id=00000000-0000-4000-8000-000000000000";
    assert_eq!(site.confirm(&cid_token, stale).await.status, 200);
}

#[tokio::test]
async fn an_expired_token_is_refused_and_a_resent_one_works() {
    let mut site = Site::confirming().await;
    site.register("bob@example.com", GOOD_PW).await;
    let token = site.mail.confirmation_for("bob@example.com").await;
    site.harness.advance(Duration::from_secs(24 * 3600 + 1));
    assert_invalid_token(&site.confirm(&token, "").await);
    assert_ok(
        &resend(&site, "bob@example.com").await,
        &json!({"message": RESENT}),
    );
    let fresh = site.mail.confirmation_for("bob@example.com").await;
    site.harness.advance(Duration::from_secs(24 * 3600 - 1));
    assert_eq!(site.confirm(&fresh, "").await.status, 200);
}

#[tokio::test]
async fn resending_revokes_the_older_token_and_answers_alike_for_any_email() {
    let mut site = Site::confirming().await;
    site.register("bob@example.com", GOOD_PW).await;
    let first = site.mail.confirmation_for("bob@example.com").await;

    let res = resend(&site, " BOB@example.com").await;
    assert_ok(&res, &json!({"message": RESENT}));
    assert!(!res.text().to_lowercase().contains("bob"), "{}", res.text());
    // Sent to the account's address as registered.
    let second = site.mail.confirmation_for("bob@example.com").await;
    assert_ne!(first, second);
    assert_invalid_token(&site.confirm(&first, "").await);

    // No account, or a confirmed one: the same answer, nothing sent.
    assert_ok(
        &resend(&site, "nobody@example.com").await,
        &json!({"message": RESENT}),
    );
    site.mail.assert_nothing_more().await;
    assert_eq!(site.confirm(&second, "").await.status, 200);
    assert_ok(
        &resend(&site, "bob@example.com").await,
        &json!({"message": RESENT}),
    );
    site.mail.assert_nothing_more().await;
}

#[tokio::test]
async fn resending_is_limited_per_account_apart_from_reset_requests() {
    let mut site = Site::confirming().await;
    site.register("bob@example.com", GOOD_PW).await;
    site.mail.confirmation_for("bob@example.com").await;
    // The reset requests' quota of the address is used up first: it does not count here.
    for _ in 0..5 {
        let res = site
            .send(
                Method::POST,
                "/reset_password",
                "",
                &[("email", "bob@example.com")],
            )
            .await;
        assert_eq!(res.status, 200, "{}", res.text());
    }
    for _ in 0..5 {
        assert_eq!(resend(&site, "bob@example.com").await.status, 200);
        site.mail.confirmation_for("bob@example.com").await;
    }
    let res = resend(&site, "Bob@Example.com").await;
    assert_4xx(&res, 429);
    assert!(res.retry_after().is_some_and(|s| s > 0));
    site.mail.assert_nothing_more().await;
    // Per account: another address from the same client is served.
    assert_eq!(resend(&site, "ann@example.com").await.status, 200);
    site.harness.advance(Duration::from_secs(3601));
    assert_eq!(resend(&site, "bob@example.com").await.status, 200);
    site.mail.confirmation_for("bob@example.com").await;
}

/// Wrong tokens count as failed attempts (per client): five free, then the backoff; a
/// confirmation clears it. "email not confirmed" is not a failure.
#[tokio::test]
async fn wrong_tokens_are_failures_and_email_not_confirmed_is_not() {
    let mut site = Site::confirming().await;
    site.register("bob@example.com", GOOD_PW).await;
    let token = site.mail.confirmation_for("bob@example.com").await;
    for _ in 0..10 {
        let res = site.login("bob@example.com", GOOD_PW).await;
        assert_refused(&res, 403, "email not confirmed");
    }
    let wrong = "00000000-0000-4000-8000-000000000000";
    for _ in 0..5 {
        assert_eq!(site.confirm(wrong, "").await.status, 403);
    }
    let res = site.confirm(&token, "").await;
    assert_4xx(&res, 429);
    assert!(res.retry_after().is_some());
    site.harness.advance(Duration::from_secs(2));
    assert_eq!(site.confirm(&token, "").await.status, 200);
    // Cleared: five more wrong tokens are answered 403 again, not 429.
    for _ in 0..5 {
        assert_eq!(site.confirm(wrong, "").await.status, 403);
    }
    // And the ten right-password logins counted nothing: the account logs in.
    assert_eq!(site.login("bob@example.com", GOOD_PW).await.status, 200);
}

#[tokio::test]
async fn accounts_registered_while_confirmation_was_off_count_as_confirmed() {
    let site = Site::hardened().await;
    assert_eq!(site.register("bob@example.com", GOOD_PW).await.status, 200);
    let on = hardened_config().with_email_confirmation(true);
    let auth = Auth::new(site.harness.store.clone(), on).expect("valid");
    let server = serve_echo(&auth).await;
    let fields = [("email", "bob@example.com"), ("password", GOOD_PW)];
    let res = server
        .http
        .post("/sessions", super::Body::Form(&fields))
        .await;
    assert_eq!(res.status, 200, "{}", res.text());
}

/// Off (the hardened default, and the compatibility profile): the paths are the app's, and
/// registering sends nothing.
#[tokio::test]
async fn without_confirmation_the_routes_are_the_apps_and_nothing_is_sent() {
    for config in [hardened_config(), seed_config()] {
        let mut site = super::Site::new(config).await;
        assert_eq!(site.register("bob@example.com", GOOD_PW).await.status, 200);
        assert_eq!(site.login("bob@example.com", GOOD_PW).await.status, 200);
        for path in ["/confirm_email", "/confirm_email/resend"] {
            let res = site.send(Method::POST, path, "", &[("token", "x")]).await;
            assert_eq!(res.json()["app"], true, "{path}: {}", res.text());
        }
        site.mail.assert_nothing_more().await;
        assert!(site.harness.user("bob@example.com").await.email_confirmed);
    }
}

/// The HTML form flow: a browser is sent on with a notice, or back to the form with the
/// refusal's code.
#[tokio::test]
async fn forms_are_answered_with_redirects() {
    let mut site = Site::confirming().await;
    site.register("bob@example.com", GOOD_PW).await;
    let token = site.mail.confirmation_for("bob@example.com").await;
    let res = site
        .post_as_browser("/confirm_email", "", &[("token", "nope")])
        .await;
    assert_eq!(res.status, 303);
    let pages = site.harness.auth.config().pages().clone();
    assert_eq!(
        res.header("location"),
        Some(format!("{}?error=invalid_token", pages.confirm_email).as_str())
    );
    let res = site
        .post_as_browser("/confirm_email", "", &[("token", &token)])
        .await;
    assert_eq!(res.status, 303);
    assert_eq!(
        res.header("location"),
        Some(format!("{}?notice=email_confirmed", pages.login).as_str())
    );
    let res = site
        .post_as_browser("/confirm_email/resend", "", &[("email", "x@example.com")])
        .await;
    assert_eq!(res.status, 303);
    assert_eq!(
        res.header("location"),
        Some(format!("{}?notice=confirmation_sent", pages.confirm_email).as_str())
    );
    // The store holds the token's digest only, and no longer once used.
    let digest = tower_user_auth::token::TokenDigest::of(&token);
    assert_eq!(
        site.harness.store.email_token(digest).await.expect("read"),
        None
    );
}

/// One token presented by eight requests at once, many rounds: exactly one confirms.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_presented_concurrently_confirms_once() {
    let mut site = Site::new(unthrottled(hardened_config()).with_email_confirmation(true)).await;
    for round in 0..10 {
        let email = format!("racer{round}@example.com");
        site.register(&email, GOOD_PW).await;
        let token = site.mail.confirmation_for(&email).await;
        let answers = at_once(8, || async {
            site.confirm(&token, "").await.status.as_u16()
        })
        .await;
        let confirmed = answers.iter().filter(|&&s| s == 200).count();
        assert_eq!(confirmed, 1, "round {round}: {answers:?}");
        assert!(
            answers.iter().all(|s| [200, 403].contains(s)),
            "{answers:?}"
        );
        assert!(site.harness.user(&email).await.email_confirmed);
    }
}

/// Issue 21, section 1: a confirmation token records the credential generation it was issued
/// at; one issued before a change of credentials (here a reset) confirms nothing.
#[tokio::test]
async fn a_confirmation_token_issued_before_a_reset_is_dead() {
    let mut site = Site::confirming().await;
    site.register("bob@example.com", GOOD_PW).await;
    let token = site.mail.confirmation_for("bob@example.com").await;
    let reset = site.reset_token("bob@example.com").await;
    let res = site.reset("bob@example.com", &reset, OTHER_PW).await;
    assert_eq!(res.status, 200, "{}", res.text());
    assert_invalid_token(&site.confirm(&token, "").await);
}
