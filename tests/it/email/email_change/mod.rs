//! Email change: `PUT /profile/email`, immediate (confirmation off) or made by the token sent
//! to the new address (`POST /profile/email/confirm`); the sessions see the new email, the
//! old address is told; a change racing a registration of the same address.

mod races;

use crate::support::FormSite as _;
use std::{sync::Arc, time::Duration};

use http::Method;
use serde_json::json;
use tokio::sync::Barrier;
use tower_user_auth::{
    User,
    compat::SeedApi,
    config::SecretKey,
    store::{UserQuery, prelude::*},
};

use super::{
    Answer, Site, assert_4xx, assert_invalid_token, assert_refused, at_once,
    mail::Mail,
    step,
    support::{
        GOOD_PW, OTHER_PW, assert_ok, browser::totp::code_at, hardened_config, second_factor,
        unthrottled,
    },
};

const SENT: &str = "a token to confirm the change has been sent to the new address";

/// `PUT /profile/email` with `cookie`.
pub(crate) async fn change(site: &Site, cookie: &str, password: &str, new_email: &str) -> Answer {
    let fields = [("current_password", password), ("new_email", new_email)];
    site.send(Method::PUT, "/profile/email", cookie, &fields)
        .await
}

/// `POST /profile/email/confirm` with `token` and `cookie`.
async fn confirm_change(site: &Site, token: &str, cookie: &str) -> Answer {
    site.send(
        Method::POST,
        "/profile/email/confirm",
        cookie,
        &[("token", token)],
    )
    .await
}

/// The account of `email`, if there is one.
pub(crate) async fn account(site: &Site, email: &str) -> Option<User> {
    site.harness
        .store
        .find_user_by(UserQuery::Email(email.to_owned()))
        .await
        .ok()
}

#[tokio::test]
async fn without_confirmation_the_change_is_immediate_and_every_session_sees_it() {
    let mut site = Site::hardened().await;
    site.account("bob@example.com").await;
    let this = site.session("bob@example.com").await;
    let other = site.session("bob@example.com").await;
    // The other session is in the cache (the layer's fast path) before the change.
    assert_eq!(site.app_user(&other).await["email"], "bob@example.com");

    let reset = site
        .harness
        .auth
        .get_reset_password_token("bob@example.com")
        .await
        .expect("a reset token");

    let res = change(&site, &this, GOOD_PW, " Robert@Example.com ").await;
    assert_ok(
        &res,
        &json!({"email": "Robert@Example.com", "message": "email changed"}),
    );
    let told = site.mail.next().await;
    assert_eq!(
        told,
        Mail::EmailChanged {
            to: "bob@example.com".into(),
            new_email: "Robert@Example.com".into()
        }
    );
    for cookie in [&this, &other] {
        assert_eq!(site.app_user(cookie).await["email"], "Robert@Example.com");
        assert_ok(
            &site.profile(cookie).await,
            &json!({"email": "Robert@Example.com"}),
        );
    }
    assert_eq!(site.login("bob@example.com", GOOD_PW).await.status, 401);
    assert_eq!(site.login("robert@example.com", GOOD_PW).await.status, 200);
    // The reset token issued for the old address is dead, whichever email comes with it.
    for email in ["bob@example.com", "robert@example.com"] {
        let fields = [
            ("email", email),
            ("reset_token", reset.expose()),
            ("new_password", OTHER_PW),
        ];
        let res = site.send(Method::PUT, "/reset_password", "", &fields).await;
        assert_eq!(res.status, 403, "{}", res.text());
    }
    // The old address is free.
    assert_eq!(site.register("bob@example.com", OTHER_PW).await.status, 200);
    site.mail.assert_nothing_more().await;
}

#[tokio::test]
async fn refusals_are_4xx_with_a_message_and_change_nothing() {
    let mut site = Site::hardened().await;
    site.account("bob@example.com").await;
    site.account("ann@example.com").await;
    let bob = site.session("bob@example.com").await;

    let no_session = change(&site, "", GOOD_PW, "new@example.com").await;
    assert_4xx(&no_session, 403);
    let stale = "session_id=00000000-0000-4000-8000-000000000000";
    assert_4xx(&change(&site, stale, GOOD_PW, "new@example.com").await, 403);
    let missing = site
        .send(
            Method::PUT,
            "/profile/email",
            &bob,
            &[("new_email", "new@example.com")],
        )
        .await;
    assert_refused(&missing, 400, "missing field 'current_password'");
    let missing = site
        .send(
            Method::PUT,
            "/profile/email",
            &bob,
            &[("current_password", GOOD_PW)],
        )
        .await;
    assert_refused(&missing, 400, "missing field 'new_email'");
    assert_4xx(&change(&site, &bob, GOOD_PW, "not an address").await, 400);
    assert_4xx(
        &change(&site, &bob, GOOD_PW, "new\u{200b}@example.com").await,
        400,
    );
    assert_4xx(&change(&site, &bob, OTHER_PW, "new@example.com").await, 403);
    // Taken by another account, or this one's own: 409 at once.
    assert_refused(
        &change(&site, &bob, GOOD_PW, "ANN@example.com").await,
        409,
        "email already registered",
    );
    assert_refused(
        &change(&site, &bob, GOOD_PW, "bob@example.com").await,
        409,
        "email already registered",
    );
    // The confirmation route is not served while confirmation is off.
    let res = confirm_change(&site, "00000000-0000-4000-8000-000000000000", &bob).await;
    assert_eq!(res.json()["app"], true, "{}", res.text());

    assert_ok(
        &site.profile(&bob).await,
        &json!({"email": "bob@example.com"}),
    );
    site.mail.assert_nothing_more().await;
}

/// A wrong password is a failed attempt: after five, the backoff holds even the right one;
/// a change clears it (for the account's address as it was, and this client).
#[tokio::test]
async fn wrong_passwords_are_failures_and_a_change_clears_the_backoff() {
    let site = Site::hardened().await;
    site.register("bob@example.com", GOOD_PW).await;
    let bob = site.session("bob@example.com").await;
    for _ in 0..5 {
        assert_eq!(
            change(&site, &bob, OTHER_PW, "new@example.com")
                .await
                .status,
            403
        );
    }
    assert_4xx(&change(&site, &bob, GOOD_PW, "new@example.com").await, 429);
    site.harness.advance(Duration::from_secs(2));
    assert_eq!(
        change(&site, &bob, GOOD_PW, "new@example.com").await.status,
        200
    );
    // Cleared: the pair (bob@example.com, this client) starts again from zero, so four
    // wrong logins are all answered 401 (not cleared, the second would be held back).
    for _ in 0..4 {
        assert_eq!(site.login("bob@example.com", OTHER_PW).await.status, 401);
    }
}

#[tokio::test]
async fn with_confirmation_a_token_goes_to_the_new_address_and_makes_the_change() {
    let mut site = Site::confirming().await;
    site.account("bob@example.com").await;
    let bob = site.session("bob@example.com").await;
    assert_eq!(site.app_user(&bob).await["email"], "bob@example.com");

    let res = change(&site, &bob, GOOD_PW, "robert@example.com").await;
    assert_ok(
        &res,
        &json!({"email": "robert@example.com", "message": SENT}),
    );
    let token = site.mail.change_token_for("robert@example.com").await;
    // Nothing changes until the token comes back.
    assert_ok(
        &site.profile(&bob).await,
        &json!({"email": "bob@example.com"}),
    );
    // Not a confirmation token.
    assert_invalid_token(&site.confirm(&token, "").await);

    let res = confirm_change(&site, &token, "").await;
    assert_ok(
        &res,
        &json!({"email": "robert@example.com", "message": "email changed"}),
    );
    assert_eq!(
        site.mail.next().await,
        Mail::EmailChanged {
            to: "bob@example.com".into(),
            new_email: "robert@example.com".into()
        }
    );
    assert_eq!(site.app_user(&bob).await["email"], "robert@example.com");
    let user = account(&site, "robert@example.com").await.expect("moved");
    assert!(user.email_confirmed);
    assert_invalid_token(&confirm_change(&site, &token, "").await);
    assert_eq!(site.login("robert@example.com", GOOD_PW).await.status, 200);
    assert_eq!(site.login("bob@example.com", GOOD_PW).await.status, 401);
    site.mail.assert_nothing_more().await;
}

#[tokio::test]
async fn change_tokens_are_refused_when_expired_superseded_or_another_accounts() {
    let mut site = Site::confirming().await;
    site.account("bob@example.com").await;
    site.account("ann@example.com").await;
    let bob = site.session("bob@example.com").await;
    let ann = site.session("ann@example.com").await;

    change(&site, &bob, GOOD_PW, "first@example.com").await;
    let first = site.mail.change_token_for("first@example.com").await;
    change(&site, &bob, GOOD_PW, "second@example.com").await;
    let second = site.mail.change_token_for("second@example.com").await;
    assert_invalid_token(&confirm_change(&site, &first, "").await);
    // Logged in as another account: refused, and kept.
    assert_invalid_token(&confirm_change(&site, &second, &ann).await);
    assert_invalid_token(&confirm_change(&site, "nonsense", &bob).await);
    assert_refused(
        &site
            .send(Method::POST, "/profile/email/confirm", "", &[])
            .await,
        400,
        "missing field 'token'",
    );
    site.harness.advance(Duration::from_secs(24 * 3600 + 1));
    // (The sessions have expired too: log in again.)
    let bob = site.session("bob@example.com").await;
    assert_invalid_token(&confirm_change(&site, &second, &bob).await);
    assert_ok(
        &site.profile(&bob).await,
        &json!({"email": "bob@example.com"}),
    );

    change(&site, &bob, GOOD_PW, "third@example.com").await;
    let third = site.mail.change_token_for("third@example.com").await;
    let res = confirm_change(&site, &third, &bob).await;
    assert_ok(
        &res,
        &json!({"email": "third@example.com", "message": "email changed"}),
    );
}

#[tokio::test]
async fn an_address_taken_before_the_token_comes_back_is_409_and_nothing_changes() {
    let mut site = Site::confirming().await;
    site.account("bob@example.com").await;
    let bob = site.session("bob@example.com").await;
    change(&site, &bob, GOOD_PW, "wanted@example.com").await;
    let token = site.mail.change_token_for("wanted@example.com").await;
    assert_eq!(
        site.register("Wanted@example.com", OTHER_PW).await.status,
        200
    );
    site.mail.confirmation_for("Wanted@example.com").await;

    assert_refused(
        &confirm_change(&site, &token, &bob).await,
        409,
        "email already registered",
    );
    assert_ok(
        &site.profile(&bob).await,
        &json!({"email": "bob@example.com"}),
    );
    let other = account(&site, "wanted@example.com")
        .await
        .expect("registered");
    assert_ne!(
        other.id,
        account(&site, "bob@example.com").await.expect("bob").id
    );
    site.mail.assert_nothing_more().await;
}

#[tokio::test]
async fn forms_reach_the_routes_with_method_override() {
    let mut site = Site::confirming().await;
    site.account("bob@example.com").await;
    let bob = site.session("bob@example.com").await;
    let pages = site.harness.auth.config().pages().clone();
    let fields = [
        ("_method", "PUT"),
        ("current_password", GOOD_PW),
        ("new_email", "robert@example.com"),
    ];
    let res = site.post_as_browser("/profile/email", &bob, &fields).await;
    assert_eq!(res.status, 303, "{}", res.text());
    let sent = format!("{}?notice=email_change_sent", pages.change_email);
    assert_eq!(res.header("location"), Some(sent.as_str()));
    let token = site.mail.change_token_for("robert@example.com").await;
    let wrong = [
        ("_method", "PUT"),
        ("current_password", OTHER_PW),
        ("new_email", "x@example.com"),
    ];
    let res = site.post_as_browser("/profile/email", &bob, &wrong).await;
    let refused = format!("{}?error=wrong_password", pages.change_email);
    assert_eq!(res.header("location"), Some(refused.as_str()));
    let res = site
        .post_as_browser("/profile/email/confirm", "", &[("token", &token)])
        .await;
    let changed = format!("{}?notice=email_changed", pages.change_email);
    assert_eq!(res.header("location"), Some(changed.as_str()));
    assert_eq!(site.app_user(&bob).await["email"], "robert@example.com");
}

/// How the owner takes the account back from a thief.
#[derive(Clone, Copy, Debug)]
enum Recovery {
    /// `PUT /profile/password` from the owner's session.
    PasswordChange,
    /// `PUT /reset_password` with a token from the mailbox.
    Reset,
    /// Turning the second factor on.
    FactorOn,
    /// Turning the second factor off (it was on before the thief's request).
    FactorOff,
}
