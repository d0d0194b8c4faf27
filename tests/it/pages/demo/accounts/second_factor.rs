//! The pages with a second factor on: its removal offered with a code asked for, the change
//! forms asking for a code, the re-authentication page stepping up.

use super::*;

/// With a factor on, the second factor page offers its removal (a plain form, no script) and
/// the delete form asks for a code; the removal form, posted as a browser does, removes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_factor_on_the_pages_offer_its_removal_and_ask_for_a_code() {
    let dir = tempfile::tempdir().expect("temp dir");
    let demo = start(
        &dir.path().join("a.redb"),
        "hardened",
        &[("AUTH_SECRET_KEY", SECRET_KEY), ("AUTH_THROTTLE", "false")],
    );
    let cookie = log_in(&demo, "", "hal@example.com").await;
    let recovery = enable_factor(&demo, &cookie).await;

    let a = browse(&demo, "/account/totp", &cookie).await;
    assert_account_page(&a);
    assert!(!a.body.contains("<script"), "no script to run: {}", a.body);
    assert!(
        a.body.contains("id=\"totp-status\" data-state=\"on\""),
        "{}",
        a.body
    );
    assert!(!a.body.contains("totp-setup-form"), "{}", a.body);
    assert!(a.body.contains("<span id=\"recovery-left\">10</span>"));
    assert_form(
        &a.body,
        "totp-remove-form",
        "/profile/totp",
        &[
            HIDDEN_DELETE,
            PASSWORD_FIELD,
            ("otp", &["autocomplete=\"one-time-code\""]),
            ("recovery_code", &["type=\"text\""]),
        ],
        "id=\"totp-remove-submit\"",
    );
    let a = browse(&demo, "/account/delete", &cookie).await;
    let delete = form(&a.body, "delete-form");
    assert!(delete.contains("name=\"otp\""), "{delete}");
    assert!(delete.contains("name=\"recovery_code\""), "{delete}");

    // The removal form as a browser posts it.
    let fields = [
        ("_method", "DELETE"),
        ("current_password", GOOD_PW),
        ("otp", ""),
        ("recovery_code", recovery.as_str()),
    ];
    let a = post_as_browser(&demo, "/profile/totp", &cookie, &fields).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    assert_eq!(
        a.header("location"),
        Some("/account/totp?notice=second_factor_removed")
    );
    let a = browse(&demo, "/account/totp?notice=second_factor_removed", &cookie).await;
    assert!(
        a.body.contains("id=\"totp-status\" data-state=\"off\""),
        "{}",
        a.body
    );
    assert!(a.body.contains("has been removed"), "{}", a.body);
}

/// Issue 21: with a factor on, the change-password and change-email forms carry the code
/// fields (the routes need one unless the session is fresh), and the re-authentication page
/// (`/account/reauth`) steps up with `POST /profile/reauth` and goes on to its `next`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_change_forms_ask_for_a_code_with_a_factor_on_and_the_reauth_page_steps_up() {
    let dir = tempfile::tempdir().expect("temp dir");
    let demo = start(
        &dir.path().join("a.redb"),
        "hardened",
        &[("AUTH_SECRET_KEY", SECRET_KEY), ("AUTH_THROTTLE", "false")],
    );
    let cookie = log_in(&demo, "", "rea@example.com").await;
    let has_code = |body: &str, id: &str| {
        let f = form(body, id);
        f.contains("name=\"otp\"") && f.contains("name=\"recovery_code\"")
    };
    for (page, id) in [
        ("/account/password", "password-form"),
        ("/account/email", "email-form"),
        ("/account/reauth?next=%2Faccount%2Femail", "reauth-form"),
    ] {
        let a = browse(&demo, page, &cookie).await;
        assert_account_page(&a);
        assert!(!has_code(&a.body, id), "no factor, no code: {}", a.body);
    }
    let a = browse(&demo, "/account/reauth?next=%2Faccount%2Femail", &cookie).await;
    assert_form(
        &a.body,
        "reauth-form",
        "/profile/reauth",
        &[
            PASSWORD_FIELD,
            ("next", &["type=\"hidden\"", "value=\"/account/email\""]),
        ],
        "id=\"reauth-submit\"",
    );
    let a = browse(&demo, "/account/reauth", "").await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "needs a session");

    let recovery = enable_factor(&demo, &cookie).await;
    for (page, id) in [
        ("/account/password", "password-form"),
        ("/account/email", "email-form"),
        ("/account/reauth", "reauth-form"),
    ] {
        let a = browse(&demo, page, &cookie).await;
        assert!(has_code(&a.body, id), "a factor, a code: {}", a.body);
    }

    // The re-authentication form as a browser posts it: a new session, then `next`.
    let fields = [
        ("current_password", GOOD_PW),
        ("otp", ""),
        ("recovery_code", recovery.as_str()),
        ("next", "/account/email"),
    ];
    let a = post_as_browser(&demo, "/profile/reauth", &cookie, &fields).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    assert_eq!(a.header("location"), Some("/account/email"));
    let renewed = format!("session_id={}", a.session_cookie().expect("a new session"));
    assert_ne!(renewed, cookie);
    let a = browse(&demo, "/account/email", &renewed).await;
    assert!(
        a.body.contains("<span id=\"email\">rea@example.com</span>"),
        "{}",
        a.body
    );
    let a = browse(
        &demo,
        "/account/reauth?error=reauthentication_required",
        &renewed,
    )
    .await;
    assert!(a.body.contains("confirm it is you"), "{}", a.body);
}
