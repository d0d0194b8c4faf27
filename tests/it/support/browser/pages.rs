//! The demo's pages as the browser tests walk them: the steps every browser test repeats
//! (start the hardened demo, register, log in, finish), typed into and submitted as a user
//! would.

use std::path::Path;

use super::Browser;
use crate::support::Demo;

/// The hardened demo, its cookie usable over `http://127.0.0.1`, unthrottled; `extra`
/// variables after those.
pub fn hardened_demo(db: &Path, extra: &[(&str, &str)]) -> Demo {
    let mut env = vec![
        ("AUTH_PROFILE", "hardened"),
        ("AUTH_COOKIE_SECURE", "false"),
        ("AUTH_THROTTLE", "false"),
    ];
    env.extend_from_slice(extra);
    Demo::start(db, &env)
}

/// Registers `email` through the register page and waits for `/login?notice=registered`.
pub async fn register(browser: &Browser, demo: &Demo, email: &str, password: &str) {
    browser.goto(&demo.url("/register")).await;
    browser
        .submit("register", &[("email", email), ("password", password)])
        .await;
    browser.wait_for_page("/login?notice=registered").await;
}

/// Submits the login form of the current page with `email` and `password` (no wait).
pub async fn submit_login(browser: &Browser, email: &str, password: &str) {
    browser
        .submit("login", &[("email", email), ("password", password)])
        .await;
}

/// Logs in through the login page and waits for the after-login page (`/`).
pub async fn log_in(browser: &Browser, demo: &Demo, email: &str, password: &str) {
    browser.goto(&demo.url("/login")).await;
    submit_login(browser, email, password).await;
    browser.wait_for_page("/").await;
}

/// Closes the browser and stops the demo, which must exit with 0; its standard error.
pub async fn finish(browser: Browser, demo: Demo) -> String {
    browser.close().await;
    let (status, stderr) = demo.terminate();
    assert_eq!(status.code(), Some(0), "{stderr}");
    stderr
}
