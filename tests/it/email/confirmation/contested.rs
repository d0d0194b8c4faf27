//! Pre-hijacking (issue 21 §3): a squatter's password never opens the account the owner
//! confirms; an uncontested confirmation stays token-only; an unconfirmed account turns on no
//! second factor; unconfirmed accounts and their tokens expire together; a registration attempt
//! racing the confirmation; a reset by mail confirms the account and ends the contest.

use super::*;
use crate::support::FormSite as _;

/// A fixed key for the TOTP secrets of the sites below.
const SECRET_KEY: [u8; 32] = [7; 32];

/// A confirming site that also offers TOTP (a secret key is set).
async fn confirming_with_totp() -> Site {
    let key = tower_user_auth::config::SecretKey::from_bytes(SECRET_KEY);
    let config = hardened_config()
        .with_email_confirmation(true)
        .with_secret_key(key);
    Site::new(config).await
}

/// `POST /confirm_email` with `token` and `new_password`.
async fn confirm_with(site: &Site, token: &str, new_password: &str) -> crate::support::Answer {
    let fields = [("token", token), ("new_password", new_password)];
    site.send(Method::POST, "/confirm_email", "", &fields).await
}

/// Pre-hijacking (issue 21 §3): a squatter registers the owner's address with a password of
/// their own. They cannot log in, so they turn nothing on; the owner, refused at
/// registration, asks for a new code and confirms: the confirmation needs a new password,
/// which replaces the squatter's. Afterwards only the owner's password opens the account.
#[tokio::test]
async fn a_squatters_password_never_opens_the_account_the_owner_confirms() {
    let mut site = confirming_with_totp().await;
    let owner = "owner@example.com";
    assert_eq!(site.register(owner, OTHER_PW).await.status, 200);
    // The squatter's confirmation token goes to the owner's mailbox, unread.
    site.mail.confirmation_for(owner).await;
    // Unconfirmed: no session, so no second factor either.
    let res = site.login(owner, OTHER_PW).await;
    assert_refused(&res, 403, "email not confirmed");
    assert!(res.set_cookies().is_empty(), "{:?}", res.set_cookies());
    let totp = [("current_password", OTHER_PW)];
    let res = site.send(Method::POST, "/profile/totp", "", &totp).await;
    assert_eq!(res.status, 403, "{}", res.text());

    // The owner's registration is refused exactly as today...
    let res = site.register(owner, GOOD_PW).await;
    assert_refused(&res, 400, "email already registered");
    site.mail.assert_nothing_more().await;
    // ... so they ask for a new code ("No code? Send a new code") and confirm with it.
    assert_eq!(resend(&site, owner).await.status, 200);
    let token = site.mail.confirmation_for(owner).await;
    let res = site.confirm(&token, "").await;
    assert_refused(&res, 400, "new password required");
    assert!(!site.harness.user(owner).await.email_confirmed);
    // The new password is checked as registration's is; the token stays usable.
    let res = confirm_with(&site, &token, "short").await;
    assert_eq!(res.status, 400, "{}", res.text());
    assert!(res.json()["message"].as_str().is_some(), "{}", res.text());
    let fields = [("token", token.as_str()), ("new_password", GOOD_PW)];
    let body = crate::support::Encoding::Json.body(&fields);
    let res = site.server.http.post("/confirm_email", body).await;
    assert_ok(
        &res,
        &json!({"email": "owner@example.com", "message": "email confirmed"}),
    );
    let user = site.harness.user(owner).await;
    assert!(user.email_confirmed);
    assert_eq!(user.generation, 1, "a new credential");

    assert_refused(
        &site.login(owner, OTHER_PW).await,
        401,
        "wrong email or password",
    );
    let cookie = site.session(owner).await;
    assert_eq!(site.app_user(&cookie).await["email"], owner);
    assert_invalid_token(&site.confirm(&token, "").await);
}

/// Nobody else tried the address: the confirmation stays token-only, and the registration
/// password logs in; a new password given anyway replaces it.
#[tokio::test]
async fn an_uncontested_confirmation_stays_token_only() {
    let mut site = Site::confirming().await;
    site.account("ann@example.com").await;
    assert_eq!(site.login("ann@example.com", GOOD_PW).await.status, 200);
    site.register("bob@example.com", GOOD_PW).await;
    let token = site.mail.confirmation_for("bob@example.com").await;
    assert_eq!(confirm_with(&site, &token, OTHER_PW).await.status, 200);
    assert_eq!(site.login("bob@example.com", OTHER_PW).await.status, 200);
    assert_eq!(site.login("bob@example.com", GOOD_PW).await.status, 401);
}

/// A session of an account whose email is not confirmed (an administrator took the
/// confirmation back) cannot set up or turn on a second factor.
#[tokio::test]
async fn an_unconfirmed_account_turns_on_no_second_factor() {
    use tower_user_auth::store::UserUpdate;
    let mut site = confirming_with_totp().await;
    site.account("bob@example.com").await;
    let cookie = site.session("bob@example.com").await;
    let id = site.harness.user("bob@example.com").await.id;
    let unconfirm = UserUpdate::new().email_confirmed(false);
    site.harness.store.update_user(id, unconfirm).await.unwrap();
    let fields = [("current_password", GOOD_PW)];
    let res = site
        .send(Method::POST, "/profile/totp", &cookie, &fields)
        .await;
    assert_refused(&res, 403, "email not confirmed");
    let code = [("code", "123456")];
    let res = site
        .send(Method::POST, "/profile/totp/confirm", &cookie, &code)
        .await;
    assert_refused(&res, 403, "email not confirmed");
}

/// An unconfirmed account lives `AUTH_UNCONFIRMED_LIFETIME` (7 days by default), and its
/// confirmation tokens no longer: a token resent on the last day stops with the account,
/// a resend afterwards sends nothing, and the address can be registered again.
#[tokio::test]
async fn unconfirmed_accounts_and_their_tokens_expire_together() {
    let mut site = Site::confirming().await;
    let day = Duration::from_secs(24 * 3600);
    site.register("bob@example.com", OTHER_PW).await;
    site.mail.confirmation_for("bob@example.com").await;
    site.harness.advance(day * 6 + day / 2);
    assert_eq!(resend(&site, "bob@example.com").await.status, 200);
    let late = site.mail.confirmation_for("bob@example.com").await;
    site.harness.advance(day / 2 + Duration::from_secs(1));
    assert_invalid_token(&site.confirm(&late, "").await);
    assert_eq!(resend(&site, "bob@example.com").await.status, 200);
    site.mail.assert_nothing_more().await;
    // The stale account is replaced by a new registration.
    let res = site.register("bob@example.com", GOOD_PW).await;
    assert_eq!(res.status, 200, "{}", res.text());
    let token = site.mail.confirmation_for("bob@example.com").await;
    assert_eq!(site.confirm(&token, "").await.status, 200);
    assert_eq!(site.login("bob@example.com", GOOD_PW).await.status, 200);
    assert_eq!(site.login("bob@example.com", OTHER_PW).await.status, 401);
}

/// The owner's registration attempt races the confirmation of the squatter's account (the
/// owner following the unsolicited mail), many rounds: the confirmation goes through
/// token-only only if it came first (the account then never shows a contest), and otherwise
/// needs the owner's new password, after which the squatter's password is dead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registration_attempt_racing_the_confirmation_never_lets_the_squatter_in() {
    let mut site = Site::new(unthrottled(hardened_config()).with_email_confirmation(true)).await;
    for round in 0..12 {
        let email = format!("owner{round}@example.com");
        assert_eq!(site.register(&email, OTHER_PW).await.status, 200);
        let token = site.mail.confirmation_for(&email).await;
        let barrier = tokio::sync::Barrier::new(2);
        let (attempt, confirmed) = tokio::join!(
            async {
                barrier.wait().await;
                site.register(&email, GOOD_PW).await
            },
            async {
                barrier.wait().await;
                site.confirm(&token, "").await
            }
        );
        assert_refused(&attempt, 400, "email already registered");
        let user = site.harness.user(&email).await;
        if confirmed.status == 200 {
            // First: the account was confirmed uncontested, and stays so.
            assert!(user.email_confirmed && !user.contested, "round {round}");
            continue;
        }
        assert_refused(&confirmed, 400, "new password required");
        assert!(!user.email_confirmed && user.contested, "round {round}");
        assert_eq!(confirm_with(&site, &token, GOOD_PW).await.status, 200);
        assert_eq!(
            site.login(&email, OTHER_PW).await.status,
            401,
            "round {round}"
        );
        assert_eq!(
            site.login(&email, GOOD_PW).await.status,
            200,
            "round {round}"
        );
    }
}

/// A password set through a reset counts as proven: the reset mail reaches the address, so a
/// reset of an unconfirmed (even contested) account confirms it, and the reset password
/// alone logs in.
#[tokio::test]
async fn a_reset_by_mail_confirms_the_account_and_ends_the_contest() {
    let config = hardened_config().with_email_confirmation(true);
    let (mut site, mut inbox) = Site::with_reset_inbox(config).await;
    let owner = "owner@example.com";
    site.register(owner, OTHER_PW).await;
    let token = site.mail.confirmation_for(owner).await;
    site.register(owner, GOOD_PW).await;
    assert!(site.harness.user(owner).await.contested);
    let asked = [("email", owner)];
    let res = site.send(Method::POST, "/reset_password", "", &asked).await;
    assert_eq!(res.status, 200, "{}", res.text());
    let (to, reset) = inbox.next().await;
    assert_eq!(to, owner);
    let fields = [
        ("email", owner),
        ("reset_token", reset.as_str()),
        ("new_password", GOOD_PW),
    ];
    let res = site.send(Method::PUT, "/reset_password", "", &fields).await;
    assert_eq!(res.status, 200, "{}", res.text());
    let user = site.harness.user(owner).await;
    assert!(user.email_confirmed && !user.contested, "{user:?}");
    assert_eq!(site.login(owner, GOOD_PW).await.status, 200);
    assert_eq!(site.login(owner, OTHER_PW).await.status, 401);
    // The confirmation token is spent with the contest.
    assert_invalid_token(&site.confirm(&token, "").await);
}
