//! The account lifecycle in a real browser (a module of `tests/browser.rs`): confirmation,
//! a TOTP second factor set up through the page's script with codes computed here, a login
//! with a code, an email change confirmed with the token sent to the new address, and the
//! account deleted with a recovery code.

use http::StatusCode;

use super::{EMAIL, PASSWORD, log_in};
use crate::support::{
    self, Body, Browser,
    browser::{
        bounded, pages,
        totp::{self, code_at, current_step},
    },
};

/// The address the account moves to.
const NEW_EMAIL: &str = "ann.new@example.com";

/// A fixed key for the demo's TOTP secrets (32 bytes in standard base64).
const SECRET_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

/// The authenticator of the lifecycle test computes the codes the standards say.
#[test]
fn the_test_authenticator_matches_the_rfc_vectors() {
    totp::check_against_the_rfc_vectors();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_account_lifecycle_in_the_hardened_profile() {
    bounded(the_account_lifecycle_in_the_hardened_profile_steps()).await;
}

async fn the_account_lifecycle_in_the_hardened_profile_steps() {
    let Some(browser) = Browser::start_or_skip().await else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let demo = pages::hardened_demo(
        &dir.path().join("demo.redb"),
        &[
            ("AUTH_REQUIRE_EMAIL_CONFIRMATION", "1"),
            ("AUTH_SECRET_KEY", SECRET_KEY),
        ],
    );

    // Register: the account waits for its email to be confirmed.
    pages::register(&browser, &demo, EMAIL, PASSWORD).await;
    pages::submit_login(&browser, EMAIL, PASSWORD).await;
    browser
        .wait_for_page("/login?error=email_not_confirmed")
        .await;
    browser.wait_for("p#error").await;
    assert_eq!(browser.cookie("session_id").await, None, "no session");

    // The token from the development mailer, entered on the confirm page.
    let token = tokio::task::block_in_place(|| demo.printed_token("confirmation", EMAIL));
    browser.click("a#confirm-link").await;
    browser.submit("confirm-email", &[("token", &token)]).await;
    browser.wait_for_page("/login?notice=email_confirmed").await;
    browser.wait_for("p#notice").await;
    log_in(&browser, &demo, PASSWORD).await;

    // Set up the second factor: the page's script shows the secret, then the codes.
    browser.goto(&demo.url("/account/totp")).await;
    assert_eq!(
        browser.attr("p#totp-status", "data-state").await.as_deref(),
        Some("off")
    );
    browser
        .submit("totp-setup", &[("current_password", PASSWORD)])
        .await;
    let secret = browser.wait_for_text("code#totp-secret").await;
    assert_eq!(secret.len(), 32, "160 bits in base32: {secret}");
    assert!(
        secret
            .bytes()
            .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b)),
        "{secret}"
    );
    let uri = browser.wait_for_text("code#totp-uri-text").await;
    assert!(uri.starts_with("otpauth://totp/"), "{uri}");
    assert!(uri.contains(&format!("secret={secret}")), "{uri}");
    assert!(
        !browser.path_and_query().await.contains(&secret),
        "the secret is never in the URL"
    );
    let enabled_at = current_step();
    browser
        .submit("totp-confirm", &[("code", &code_at(&secret, enabled_at))])
        .await;
    browser
        .wait_for_text("ol#recovery-codes li.recovery-code")
        .await;
    let codes = browser
        .script(
            "return Array.from(document.querySelectorAll('ol#recovery-codes li'), \
             function (li) { return li.textContent; });",
            vec![],
        )
        .await;
    let codes: Vec<String> = codes
        .as_array()
        .expect("a list")
        .iter()
        .map(|c| c.as_str().expect("text").to_owned())
        .collect();
    assert_eq!(codes.len(), 10, "{codes:?}");
    let distinct: std::collections::HashSet<&String> = codes.iter().collect();
    assert_eq!(distinct.len(), 10, "{codes:?}");
    assert_eq!(
        browser.attr("p#totp-status", "data-state").await.as_deref(),
        Some("on")
    );
    browser
        .screenshot(&support::browser::artefacts_dir().join("recovery_codes.png"))
        .await;
    browser.goto(&demo.url("/account/totp")).await;
    assert_eq!(
        browser.attr("p#totp-status", "data-state").await.as_deref(),
        Some("on"),
        "the server says so too"
    );
    assert_eq!(browser.text("span#recovery-left").await, "10");

    // Log out; the password alone no longer opens the account, a code does.
    browser.click("form#logout-form button#logout").await;
    browser.wait_for_page("/").await;
    browser.goto(&demo.url("/login")).await;
    pages::submit_login(&browser, EMAIL, PASSWORD).await;
    browser
        .wait_for_page("/login?error=second_factor_required")
        .await;
    assert_eq!(browser.cookie("session_id").await, None, "no session");
    // A step after the one that enabled it (a code is never accepted twice), within the
    // step of skew the layer allows.
    let step = current_step().max(enabled_at + 1);
    browser
        .submit(
            "login",
            &[
                ("email", EMAIL),
                ("password", PASSWORD),
                ("otp", &code_at(&secret, step)),
            ],
        )
        .await;
    browser.wait_for_page("/").await;
    assert_eq!(browser.text("span#email").await, EMAIL);
    let old_cookie = format!(
        "session_id={}",
        browser.cookie("session_id").await.expect("a session")
    );
    let a = demo.http.get("/profile", &old_cookie).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);

    // Change the email: the change waits for the token sent to the new address.
    browser.goto(&demo.url("/account/email")).await;
    browser
        .submit(
            "email",
            &[("new_email", NEW_EMAIL), ("current_password", PASSWORD)],
        )
        .await;
    browser
        .wait_for_page("/account/email?notice=email_change_sent")
        .await;
    let change = tokio::task::block_in_place(|| demo.printed_token("email change", NEW_EMAIL));
    browser.submit("email-confirm", &[("token", &change)]).await;
    browser
        .wait_for_page("/account/email?notice=email_changed")
        .await;
    assert_eq!(
        browser.text("span#email").await,
        NEW_EMAIL,
        "the same session sees the new email"
    );

    // Delete the account, with a recovery code.
    browser.goto(&demo.url("/account/delete")).await;
    browser
        .submit(
            "delete",
            &[("current_password", PASSWORD), ("recovery_code", &codes[3])],
        )
        .await;
    browser.wait_for_page("/").await;
    assert_eq!(
        browser.cookie("session_id").await,
        None,
        "the cookie is cleared"
    );
    let a = demo.http.get("/profile", &old_cookie).await;
    assert_eq!(
        a.status,
        StatusCode::FORBIDDEN,
        "the old cookie: {}",
        a.body
    );
    let a = demo.http.get("/me", &old_cookie).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{}", a.body);
    let creds = [("email", NEW_EMAIL), ("password", PASSWORD)];
    let a = demo.http.post("/sessions", Body::Form(&creds)).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED, "gone: {}", a.body);
    let a = demo.http.post("/users", Body::Form(&creds)).await;
    assert_eq!(
        a.status,
        StatusCode::OK,
        "the email is free again: {}",
        a.body
    );

    let stderr = pages::finish(browser, demo).await;
    assert!(!stderr.contains(&secret), "the secret is never logged");
    assert!(!stderr.contains(&token), "nor the confirmation token");
    assert!(!stderr.contains(&change), "nor the email change token");
}
