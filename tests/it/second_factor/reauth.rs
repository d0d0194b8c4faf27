//! Re-authentication in one place (issue 21, sections 1 and 7): a login or a step-up
//! (`POST /profile/reauth` with every factor the account has) makes the session fresh for
//! the re-authentication window (300 s by default); a password or email change of an account
//! with a second factor needs a code or a recovery code unless the session is fresh. A
//! step-up replaces the session: a new cookie, the old one refused.

use crate::support::FormSite as _;
use std::time::Duration;

use http::{Method, StatusCode};

use crate::second_factor::site::{Site, assert_refused, code, config, cookie};
use crate::support::{Answer, GOOD_PW, OTHER_PW};

/// The default re-authentication window.
const WINDOW: Duration = Duration::from_secs(300);

const NEW_PW: &str = "a brand new passphrase";

/// Moves the clock past the window, to the start of a step no code was used at.
fn go_stale(site: &Site) {
    site.clock.advance(WINDOW + Duration::from_secs(1));
    site.set_time((site.step() + 1) * 30);
}

/// `PUT path` with the session `cookie`, the right current password, `field` and `extra`.
async fn put(
    site: &Site,
    path: &str,
    cookie: &str,
    field: (&str, &str),
    extra: &[(&str, &str)],
) -> Answer {
    let mut fields = vec![("current_password", GOOD_PW), field];
    fields.extend_from_slice(extra);
    site.send(Method::PUT, path, cookie, &fields).await
}

/// `PUT /profile/password` to [`NEW_PW`].
async fn change_password(site: &Site, cookie: &str, extra: &[(&str, &str)]) -> Answer {
    let field = ("new_password", NEW_PW);
    put(site, "/profile/password", cookie, field, extra).await
}

/// `PUT /profile/email` to `new_email`.
async fn change_email(
    site: &Site,
    cookie: &str,
    new_email: &str,
    extra: &[(&str, &str)],
) -> Answer {
    let field = ("new_email", new_email);
    put(site, "/profile/email", cookie, field, extra).await
}

async fn step_up(site: &Site, cookie: &str, fields: &[(&str, &str)]) -> Answer {
    site.send(Method::POST, "/profile/reauth", cookie, fields)
        .await
}

#[tokio::test]
async fn a_stale_session_changes_neither_password_nor_email_without_a_code() {
    let site = Site::hardened().await;
    let email = "stale@example.com";
    let enabled = site.enabled(email).await;
    go_stale(&site);
    let a = change_password(&site, &enabled.cookie, &[]).await;
    assert_refused(&a, StatusCode::UNAUTHORIZED, Some("second factor required"));
    let a = change_email(&site, &enabled.cookie, "moved@example.com", &[]).await;
    assert_refused(&a, StatusCode::UNAUTHORIZED, Some("second factor required"));
    // A wrong code is refused as a wrong code.
    let wrong = code(&enabled.secret, site.step() + 2);
    let a = change_password(&site, &enabled.cookie, &[("otp", &wrong)]).await;
    assert_refused(
        &a,
        StatusCode::UNAUTHORIZED,
        Some("wrong second factor code"),
    );
    // Both kinds at once, or one twice: 400.
    let both = [("otp", "123456"), ("recovery_code", "AAAA-BBBB-CCCC-DDDD")];
    let a = change_password(&site, &enabled.cookie, &both).await;
    assert_refused(&a, StatusCode::BAD_REQUEST, None);
    let twice = [("otp", "123456"), ("otp", "654321")];
    let a = change_email(&site, &enabled.cookie, "moved@example.com", &twice).await;
    assert_refused(&a, StatusCode::BAD_REQUEST, None);
    site.user_id(email).await; // still at its address

    // Nothing changed: the old password still logs in (with a code).
    let otp = code(&enabled.secret, site.step());
    let a = site.log_in(email, &[("otp", &otp)]).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
}

#[tokio::test]
async fn a_stale_session_changes_password_and_email_with_a_code_or_a_recovery_code() {
    let site = Site::hardened().await;
    let email = "coded@example.com";
    let enabled = site.enabled(email).await;
    go_stale(&site);
    let otp = code(&enabled.secret, site.step());
    let a = change_password(&site, &enabled.cookie, &[("otp", &otp)]).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let recovery = &enabled.recovery_codes[0];
    let fields = [
        ("current_password", NEW_PW),
        ("new_email", "coded-moved@example.com"),
        ("recovery_code", recovery.as_str()),
    ];
    let a = site
        .send(Method::PUT, "/profile/email", &enabled.cookie, &fields)
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.json()["email"], "coded-moved@example.com");
    assert_eq!(site.recovery_codes_left("coded-moved@example.com").await, 9);
}

#[tokio::test]
async fn a_login_makes_the_session_fresh_for_the_window_only() {
    let site = Site::hardened().await;
    let email = "fresh@example.com";
    let enabled = site.enabled(email).await;
    site.advance_steps(1);
    let otp = code(&enabled.secret, site.step());
    let login = site.log_in(email, &[("otp", &otp)]).await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.body);
    let fresh = cookie(&login);
    // Within the window: no code needed.
    site.clock.advance(WINDOW - Duration::from_secs(5));
    let a = change_email(&site, &fresh, "fresh-moved@example.com", &[]).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    // Past it: needed again.
    site.clock.advance(Duration::from_secs(10));
    let a = change_password(&site, &fresh, &[]).await;
    assert_refused(&a, StatusCode::UNAUTHORIZED, Some("second factor required"));
}

#[tokio::test]
async fn a_step_up_rotates_the_session_and_makes_it_fresh() {
    let site = Site::hardened().await;
    let email = "stepup@example.com";
    let enabled = site.enabled(email).await;
    go_stale(&site);
    let sessions = site.sessions(email).await;
    let otp = code(&enabled.secret, site.step());
    let a = step_up(
        &site,
        &enabled.cookie,
        &[("current_password", GOOD_PW), ("otp", &otp)],
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.json()["message"], "re-authenticated");
    let renewed = cookie(&a);
    assert_ne!(renewed, enabled.cookie, "a new session id");
    let line = a.set_cookie_line("session_id").expect("set-cookie");
    assert!(line.to_ascii_lowercase().contains("httponly"), "{line}");
    assert_eq!(site.sessions(email).await, sessions, "the old one ended");
    // The old cookie is refused everywhere; the new one works, and is fresh.
    let a = site.http().get("/profile", &enabled.cookie).await;
    assert_refused(&a, StatusCode::FORBIDDEN, None);
    let a = change_password(&site, &enabled.cookie, &[("otp", &otp)]).await;
    assert_refused(&a, StatusCode::FORBIDDEN, None);
    let a = site.http().get("/profile", &renewed).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let a = change_password(&site, &renewed, &[]).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    // Until the window ends.
    go_stale(&site);
    let fields = [
        ("current_password", NEW_PW),
        ("new_email", "late@example.com"),
    ];
    let a = site
        .send(Method::PUT, "/profile/email", &renewed, &fields)
        .await;
    assert_refused(&a, StatusCode::UNAUTHORIZED, Some("second factor required"));
}

#[tokio::test]
async fn a_step_up_needs_every_factor_of_the_account() {
    let site = Site::hardened().await;
    let email = "factors@example.com";
    let enabled = site.enabled(email).await;
    let cookie = enabled.cookie.as_str();
    go_stale(&site);
    let a = step_up(&site, "", &[("current_password", GOOD_PW)]).await;
    assert_refused(&a, StatusCode::FORBIDDEN, None);
    let a = step_up(&site, cookie, &[]).await;
    assert_refused(&a, StatusCode::BAD_REQUEST, None);
    assert_eq!(
        a.json()["message"],
        "missing field 'current_password'",
        "{}",
        a.body
    );
    // Even a fresh session steps up with every factor only.
    let a = step_up(&site, cookie, &[("current_password", GOOD_PW)]).await;
    assert_refused(&a, StatusCode::UNAUTHORIZED, Some("second factor required"));
    let otp = code(&enabled.secret, site.step());
    let a = step_up(
        &site,
        cookie,
        &[("current_password", OTHER_PW), ("otp", &otp)],
    )
    .await;
    assert_refused(&a, StatusCode::FORBIDDEN, None);
    let wrong = code(&enabled.secret, site.step() + 2);
    let a = step_up(
        &site,
        cookie,
        &[("current_password", GOOD_PW), ("otp", &wrong)],
    )
    .await;
    assert_refused(
        &a,
        StatusCode::UNAUTHORIZED,
        Some("wrong second factor code"),
    );
    let both = [
        ("current_password", GOOD_PW),
        ("otp", otp.as_str()),
        ("recovery_code", enabled.recovery_codes[0].as_str()),
    ];
    let a = step_up(&site, cookie, &both).await;
    assert_refused(&a, StatusCode::BAD_REQUEST, None);
    // The session is still the old one, still stale.
    let a = change_password(&site, cookie, &[]).await;
    assert_refused(&a, StatusCode::UNAUTHORIZED, Some("second factor required"));
    // A recovery code steps up, once.
    let recovery = [
        ("current_password", GOOD_PW),
        ("recovery_code", enabled.recovery_codes[0].as_str()),
    ];
    let a = step_up(&site, cookie, &recovery).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let renewed = crate::second_factor::site::cookie(&a);
    let a = step_up(&site, &renewed, &recovery).await;
    assert_refused(
        &a,
        StatusCode::UNAUTHORIZED,
        Some("wrong second factor code"),
    );
}

#[tokio::test]
async fn without_a_second_factor_the_password_steps_up_and_changes_need_no_code() {
    let site = Site::new(config()).await;
    let email = "plain@example.com";
    site.register(email).await;
    let old = site.session(email).await;
    go_stale(&site);
    let a = change_email(&site, &old, "plain-moved@example.com", &[]).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let a = step_up(&site, &old, &[("current_password", GOOD_PW)]).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let renewed = crate::second_factor::site::cookie(&a);
    assert_ne!(renewed, old);
    assert_refused(
        &site.http().get("/profile", &old).await,
        StatusCode::FORBIDDEN,
        None,
    );
    let a = site.http().get("/profile", &renewed).await;
    assert_eq!(a.json()["email"], "plain-moved@example.com");
}

#[tokio::test]
async fn a_browser_form_steps_up_and_goes_to_next() {
    let site = Site::hardened().await;
    let email = "browser-stepup@example.com";
    site.register(email).await;
    let old = site.session(email).await;
    let accept = [("accept", "text/html,application/xhtml+xml,*/*;q=0.8")];
    let fields = [("current_password", GOOD_PW), ("next", "/account/tokens")];
    let a = site
        .http()
        .send_form(Method::POST, "/profile/reauth", &old, &accept, &fields)
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    assert_eq!(a.header("location"), Some("/account/tokens"));
    assert!(a.session_cookie().is_some_and(|c| !c.is_empty()));
    let renewed = crate::second_factor::site::cookie(&a);
    let fields = [("current_password", OTHER_PW), ("next", "/account/tokens")];
    let a = site
        .http()
        .send_form(Method::POST, "/profile/reauth", &renewed, &accept, &fields)
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    assert_eq!(
        a.header("location"),
        Some("/account/reauth?error=wrong_password&next=%2Faccount%2Ftokens")
    );
}
