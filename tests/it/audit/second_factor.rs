//! The audit trail of the second factor: every outcome of setting one up, logging in with
//! it and removing it is an event naming the account (and the client where the request
//! has one), and the log never holds the secret, a code, a recovery code or the password.

use crate::support::FormSite as _;
use http::{Method, StatusCode};
use serde_json::Value;

use crate::{
    second_factor::site::{Site, assert_refused, code, cookie},
    support::{GOOD_PW, OTHER_PW, capture, lines},
};

/// A six-digit code that is none of the codes of the steps around `step` (so surely wrong).
fn wrong_code(secret: &str, step: u64) -> String {
    let near: Vec<String> = (step - 1..=step + 1).map(|s| code(secret, s)).collect();
    (0..)
        .map(|n: u32| format!("{n:06}"))
        .find(|c| !near.contains(c))
        .expect("a code outside three steps")
}

/// Whether `code` (digits) is in `text` as a whole run of digits: a longer number that
/// merely contains it (a port, a user id) is not the code.
fn holds_code(text: &str, code: &str) -> bool {
    text.split(|c: char| !c.is_ascii_digit())
        .any(|run| run == code)
}

/// On the current-thread runtime the server's tasks run on the test's thread, whose
/// subscriber (`set_default`) captures their events (see `tests/it/audit/accounts.rs`).
#[tokio::test(flavor = "current_thread")]
async fn every_second_factor_outcome_is_audited_with_user_and_client_and_no_secret() {
    let (captured, _capturing) = capture();
    let site = Site::hardened().await;
    let email = "audited@example.com";
    site.register(email).await;
    let session = site.session(email).await;
    let mut texts = vec![
        GOOD_PW.to_owned(),
        OTHER_PW.to_owned(),
        session.trim_start_matches("session_id=").to_owned(),
    ];
    let mut codes = Vec::new();

    // Set up: a wrong password, then the right one.
    let wrong_pw = [("current_password", OTHER_PW)];
    let a = site
        .send(Method::POST, "/profile/totp", &session, &wrong_pw)
        .await;
    assert_refused(&a, StatusCode::FORBIDDEN, None);
    let right_pw = [("current_password", GOOD_PW)];
    let a = site
        .send(Method::POST, "/profile/totp", &session, &right_pw)
        .await;
    assert_eq!(a.status, StatusCode::OK, "begin: {}", a.body);
    let secret = a.json()["secret"].as_str().expect("secret").to_owned();
    let uri = a.json()["otpauth_uri"].as_str().expect("uri").to_owned();
    let uri_secret = uri
        .split(['?', '&'])
        .find_map(|p| p.strip_prefix("secret="))
        .expect("the URI's secret")
        .to_owned();
    texts.extend([secret.clone(), uri.clone(), uri_secret]);

    // Confirm: a wrong code, then the right one.
    let wrong = wrong_code(&secret, site.step());
    let a = site.confirm(&session, &wrong).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "confirm: {}", a.body);
    let right = code(&secret, site.step());
    let a = site.confirm(&session, &right).await;
    assert_eq!(a.status, StatusCode::OK, "confirm: {}", a.body);
    let Value::Array(recovery) = &a.json()["recovery_codes"] else {
        panic!("no recovery codes: {}", a.body);
    };
    let recovery: Vec<String> = recovery
        .iter()
        .map(|c| c.as_str().expect("a string").to_owned())
        .collect();
    codes.extend([wrong.clone(), right]);
    for c in &recovery {
        texts.extend([c.clone(), c.replace('-', "")]);
    }

    // Log in: the password alone, a wrong code, the right code, a recovery code.
    let a = site.log_in(email, &[]).await;
    assert_refused(&a, StatusCode::UNAUTHORIZED, Some("second factor required"));
    let a = site.log_in(email, &[("otp", &wrong)]).await;
    assert_refused(
        &a,
        StatusCode::UNAUTHORIZED,
        Some("wrong second factor code"),
    );
    site.advance_steps(1);
    let login_code = code(&secret, site.step());
    let a = site.log_in(email, &[("otp", &login_code)]).await;
    assert_eq!(a.status, StatusCode::OK, "login with a code: {}", a.body);
    texts.push(cookie(&a).trim_start_matches("session_id=").to_owned());
    let a = site.log_in(email, &[("recovery_code", &recovery[0])]).await;
    assert_eq!(a.status, StatusCode::OK, "login with recovery: {}", a.body);
    texts.push(cookie(&a).trim_start_matches("session_id=").to_owned());
    codes.push(login_code);

    // Remove it, with a fresh code.
    site.advance_steps(1);
    let remove_code = code(&secret, site.step());
    let fields = [("current_password", GOOD_PW), ("otp", remove_code.as_str())];
    let a = site
        .send(Method::DELETE, "/profile/totp", &session, &fields)
        .await;
    assert_eq!(a.status, StatusCode::OK, "remove: {}", a.body);
    codes.push(remove_code);

    let text = captured.text();
    let user = format!("user_id={}", site.user_id(email).await);
    let client = "client=127.0.0.1";
    // (event, what one of its lines says, whether it names the client): a code is checked
    // in the login or removal that presented it, which name the client.
    for (event, says, names_client) in [
        (
            "second_factor_refused",
            "action=\"begin\" reason=\"wrong password\"",
            true,
        ),
        ("second_factor_begun", "", true),
        (
            "second_factor_refused",
            "action=\"confirm\" reason=\"wrong code\"",
            true,
        ),
        ("second_factor_enabled", "", true),
        ("login_refused", "reason=\"second factor required\"", true),
        ("login_failed", "reason=\"wrong second factor\"", true),
        ("second_factor_used", "kind=\"otp\"", true),
        ("second_factor_used", "kind=\"recovery_code\"", true),
        ("second_factor_removed", "", true),
    ] {
        let found = lines(&text, event);
        assert!(
            found.iter().any(|l| l.contains(says)),
            "no {event} event with {says} in:\n{text}"
        );
        for line in found {
            assert!(line.contains(&user), "{event} without {user}: {line}");
            assert!(
                !names_client || line.contains(client),
                "{event} without the client: {line}"
            );
        }
    }
    for secret in &texts {
        assert!(
            !text.contains(secret.as_str()),
            "{secret:?} is in the log:\n{text}"
        );
    }
    for code in &codes {
        assert!(
            !holds_code(&text, code),
            "code {code} is in the log:\n{text}"
        );
    }
}
