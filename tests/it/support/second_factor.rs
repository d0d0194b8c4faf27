//! A TOTP second factor enabled over HTTP, as a user with an authenticator app does it (the
//! app's codes: [`code_at`], written independently of the crate's TOTP dependency).

use http::{Method, StatusCode};
use serde_json::Value;

use super::{Answer, Client, GOOD_PW, browser::totp::code_at};

/// `POST /profile/totp` with [`GOOD_PW`] for the session `cookie`; asserts 200 and returns
/// the secret (base32).
pub async fn begin(http: &Client, cookie: &str) -> String {
    let fields = [("current_password", GOOD_PW)];
    let a = http
        .send_form(Method::POST, "/profile/totp", cookie, &[], &fields)
        .await;
    assert_eq!(a.status, StatusCode::OK, "begin: {}", a.body);
    a.json()["secret"].as_str().expect("secret").to_owned()
}

/// `POST /profile/totp/confirm` with `code` for the session `cookie`.
pub async fn confirm(http: &Client, cookie: &str, code: &str) -> Answer {
    http.send_form(
        Method::POST,
        "/profile/totp/confirm",
        cookie,
        &[],
        &[("code", code)],
    )
    .await
}

/// Sets up and enables a factor for the session `cookie` with the code of time step `step`;
/// the secret and the recovery codes.
pub async fn enable(http: &Client, cookie: &str, step: u64) -> (String, Vec<String>) {
    let secret = begin(http, cookie).await;
    let a = confirm(http, cookie, &code_at(&secret, step)).await;
    assert_eq!(a.status, StatusCode::OK, "confirm: {}", a.body);
    let recovery_codes = match &a.json()["recovery_codes"] {
        Value::Array(codes) => codes
            .iter()
            .map(|c| c.as_str().expect("a string").to_owned())
            .collect(),
        other => panic!("recovery_codes: {other}"),
    };
    (secret, recovery_codes)
}
