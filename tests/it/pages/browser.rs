//! The demo in a real browser: headless Chromium driven over WebDriver
//! ([`support::browser`]), against the demo binary as a child process.
//!
//! - `a_user_s_journey_in_the_hardened_profile`: the browser form flow end to end, through
//!   the demo's pages (typed into and submitted, no script): register, a wrong password then
//!   log in, the session cookie invisible to `document.cookie`, the profile (screenshot in
//!   `target/browser/profile.png`), the sessions list (ending another session, made by the
//!   HTTP client, which is then refused), a password change, log out, a password reset with
//!   the token from the demo's standard output, log in with the new password.
//! - `a_password_reset_in_the_seed_profile`: register, log in, and the seed profile's reset,
//!   where the reset request redirects to `/new_password?email=..&token=..`.
//! - `lifecycle::the_account_lifecycle_in_the_hardened_profile` (`demo_lifecycle/browser.rs`):
//!   with email confirmation on and a secret key, register, a login refused until the email is confirmed, the confirmation
//!   token read from the demo's standard output and entered on the confirm page, log in; set
//!   up TOTP on the second factor page (its script shows the secret and, once confirmed with
//!   a code computed here as an authenticator app would, the ten recovery codes), log out, a
//!   login refused without a code then accepted with one; change the email (the token sent
//!   to the new address, from standard output); delete the account with a recovery code: the cookie is cleared, the old cookie refused, the email free again.
//!
//! Without chromedriver or Chromium each test prints `skipped: <reason>` and passes, unless
//! `REQUIRE_BROWSER=1`, where it fails.

use crate::support;

mod accounts;

use http::StatusCode;
use serde_json::json;
use support::{
    Body, Browser, Demo,
    browser::{bounded, pages},
};

const EMAIL: &str = "ann@example.com";
const PASSWORD: &str = support::GOOD_PW;
const CHANGED: &str = support::OTHER_PW;
const RESET: &str = "violet lantern harbour 77";

/// Logs `EMAIL` in through the login page and waits for the after-login page (`/`).
async fn log_in(browser: &Browser, demo: &Demo, password: &str) {
    pages::log_in(browser, demo, EMAIL, password).await;
}

/// The session cookie is in the browser, and not where the page's scripts can read it.
async fn assert_http_only_session(browser: &Browser) {
    assert!(
        browser.cookie("session_id").await.is_some(),
        "the browser holds the session cookie"
    );
    let visible = browser.document_cookie().await;
    assert!(
        !visible.contains("session_id"),
        "HttpOnly: document.cookie must not show the session: {visible:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_s_journey_in_the_hardened_profile() {
    bounded(a_user_s_journey_in_the_hardened_profile_steps()).await;
}

async fn a_user_s_journey_in_the_hardened_profile_steps() {
    let Some(browser) = Browser::start_or_skip().await else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let demo = pages::hardened_demo(&dir.path().join("demo.redb"), &[]);

    // Register.
    pages::register(&browser, &demo, EMAIL, PASSWORD).await;
    browser.wait_for("p#notice").await;

    // A wrong password, then the right one.
    pages::submit_login(&browser, EMAIL, "not the password at all").await;
    browser
        .wait_for_path("/login?error=wrong_credentials", |pq| {
            pq.starts_with("/login?error=wrong_credentials")
        })
        .await;
    browser.wait_for("p#error").await;
    log_in(&browser, &demo, PASSWORD).await;
    assert_http_only_session(&browser).await;

    // The profile.
    browser.goto(&demo.url("/me")).await;
    let shown = browser.text("span#email").await;
    assert_eq!(shown, EMAIL);
    browser
        .screenshot(&support::browser::artefacts_dir().join("profile.png"))
        .await;

    // Another session of the same user, by the HTTP client; ended from the browser's list.
    let creds = [("email", EMAIL), ("password", PASSWORD)];
    let a = demo.http.post("/sessions", Body::Form(&creds)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let other = format!("session_id={}", a.cookie("session_id").expect("cookie"));
    let a = demo.http.get("/sessions", &other).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let list = a.json();
    let other_id = list
        .as_array()
        .and_then(|l| l.iter().find(|s| s["current"] == json!(true)))
        .and_then(|s| s["id"].as_str())
        .unwrap_or_else(|| panic!("the other session in {list}"))
        .to_owned();
    browser.goto(&demo.url("/account/sessions")).await;
    let row = format!("ul#sessions li.session[data-session-id=\"{other_id}\"]");
    assert_eq!(
        browser.attr(&row, "data-current").await.as_deref(),
        Some("false")
    );
    browser
        .wait_for("ul#sessions li.session[data-current=\"true\"]")
        .await;
    browser.wait_for("button#end-all").await;
    browser.click(&format!("{row} button.end-session")).await;
    browser
        .wait_for_page("/account/sessions?notice=session_ended")
        .await;
    browser.wait_for("p#notice").await;
    let left = browser
        .script(
            "return document.querySelectorAll(arguments[0]).length;",
            vec![json!(row)],
        )
        .await;
    assert_eq!(left, json!(0), "the ended session is no longer listed");
    let a = demo.http.get("/profile", &other).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "{}", a.body);

    // Change the password.
    browser.goto(&demo.url("/account/password")).await;
    browser
        .submit(
            "password",
            &[("current_password", PASSWORD), ("new_password", CHANGED)],
        )
        .await;
    browser
        .wait_for_page("/account/password?notice=password_changed")
        .await;
    browser.wait_for("p#notice").await;

    // Log out.
    browser.goto(&demo.url("/me")).await;
    browser.wait_for("form#logout-form").await;
    browser.click("form#logout-form button#logout").await;
    browser.wait_for_page("/").await;
    assert_eq!(
        browser.cookie("session_id").await,
        None,
        "the cookie is cleared"
    );

    // Forgot the password: the token arrives on the demo's standard output.
    browser.goto(&demo.url("/forgot_password")).await;
    browser.submit("forgot", &[("email", EMAIL)]).await;
    browser
        .wait_for_page("/forgot_password?notice=reset_sent")
        .await;
    let token = tokio::task::block_in_place(|| demo.printed_reset_token(EMAIL));
    browser.goto(&demo.url("/new_password")).await;
    browser
        .submit(
            "new-password",
            &[
                ("email", EMAIL),
                ("reset_token", &token),
                ("new_password", RESET),
            ],
        )
        .await;
    browser.wait_for_page("/login?notice=password_reset").await;

    // The new password opens the account.
    log_in(&browser, &demo, RESET).await;
    browser.goto(&demo.url("/me")).await;
    assert_eq!(browser.text("span#email").await, EMAIL);
    assert_http_only_session(&browser).await;

    pages::finish(browser, demo).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_reset_in_the_seed_profile() {
    bounded(a_password_reset_in_the_seed_profile_steps()).await;
}

async fn a_password_reset_in_the_seed_profile_steps() {
    let Some(browser) = Browser::start_or_skip().await else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let demo = Demo::start(&dir.path().join("demo.redb"), &[]);

    pages::register(&browser, &demo, EMAIL, PASSWORD).await;
    log_in(&browser, &demo, PASSWORD).await;
    browser.goto(&demo.url("/me")).await;
    assert_eq!(browser.text("span#email").await, EMAIL);

    // The seed profile hands the token over: the reset request lands on the prefilled form.
    browser.goto(&demo.url("/forgot_password")).await;
    browser.submit("forgot", &[("email", EMAIL)]).await;
    let at = browser
        .wait_for_path("/new_password?email=..&token=..", |pq| {
            pq.starts_with("/new_password?") && pq.contains("token=")
        })
        .await;
    let url = browser.url().await;
    let query: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    let param = |k: &str| {
        query
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("no {k} in {at}"))
    };
    assert_eq!(param("email"), EMAIL);
    let token = param("token");
    assert!(!token.is_empty(), "{at}");
    let value = |name: &'static str| {
        let browser = &browser;
        async move {
            let css = format!("form#new-password-form [name=\"{name}\"]");
            let e = browser.wait_for(&css).await;
            e.prop("value").await.expect("value").unwrap_or_default()
        }
    };
    assert_eq!(value("email").await, EMAIL, "prefilled from ?email=");
    assert_eq!(value("reset_token").await, token, "prefilled from ?token=");
    browser
        .submit("new-password", &[("new_password", CHANGED)])
        .await;
    browser.wait_for_page("/login?notice=password_reset").await;

    log_in(&browser, &demo, CHANGED).await;
    browser.goto(&demo.url("/me")).await;
    assert_eq!(browser.text("span#email").await, EMAIL);

    pages::finish(browser, demo).await;
}
