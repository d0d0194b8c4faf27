//! The audit trail of the lifecycle flows: an event for every outcome, naming the client
//! and the account, and never a token, a cookie or a password.

use crate::support::FormSite as _;
use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use http::Method;
use tower_user_auth::{BoxError, hook::Mail};

use crate::{
    email::Site,
    support,
    support::Body,
    support::{GOOD_PW, OTHER_PW, capture, hardened_config, lines},
};

/// On the current-thread runtime the server's tasks run on the test's thread, whose
/// subscriber (`set_default`) captures their events.
#[tokio::test(flavor = "current_thread")]
async fn every_outcome_is_audited_with_client_and_account_and_no_secret() {
    let (captured, _capturing) = capture();

    let mut site = Site::confirming().await;
    let mut secrets = vec![GOOD_PW.to_owned(), OTHER_PW.to_owned()];
    site.register("bob@example.com", GOOD_PW).await;
    secrets.push(site.mail.confirmation_for("bob@example.com").await);
    let res = site
        .send(
            Method::POST,
            "/confirm_email/resend",
            "",
            &[("email", "bob@example.com")],
        )
        .await;
    assert_eq!(res.status, 200);
    let token = site.mail.confirmation_for("bob@example.com").await;
    secrets.push(token.clone());
    let wrong = "00000000-0000-4000-8000-000000000000";
    assert_eq!(site.confirm(wrong, "").await.status, 403);
    assert_eq!(site.confirm(&token, "").await.status, 200);
    let cookie = site.session("bob@example.com").await;
    secrets.push(cookie.trim_start_matches("session_id=").to_owned());

    let change = |password: &'static str| {
        [
            ("current_password", password),
            ("new_email", "robert@example.com"),
        ]
    };
    let res = site
        .send(Method::PUT, "/profile/email", &cookie, &change(OTHER_PW))
        .await;
    assert_eq!(res.status, 403);
    let res = site
        .send(Method::PUT, "/profile/email", &cookie, &change(GOOD_PW))
        .await;
    assert_eq!(res.status, 200);
    let change_token = site.mail.change_token_for("robert@example.com").await;
    secrets.push(change_token.clone());
    let fields = [("token", change_token.as_str())];
    let res = site
        .send(Method::POST, "/profile/email/confirm", "", &fields)
        .await;
    assert_eq!(res.status, 200);
    site.mail.next().await;

    let id = site.harness.user("robert@example.com").await.id;
    let wrong_pw = [("current_password", OTHER_PW)];
    assert_eq!(
        site.send(Method::DELETE, "/profile", &cookie, &wrong_pw)
            .await
            .status,
        403
    );
    let right = [("current_password", GOOD_PW)];
    assert_eq!(
        site.send(Method::DELETE, "/profile", &cookie, &right)
            .await
            .status,
        200
    );

    let text = captured.text();
    let user = format!("user_id={}", id.0);
    let client = "client=127.0.0.1";
    for (event, names_user) in [
        ("register", true),
        ("confirmation_sent", true),
        ("confirmation_resent", true),
        ("email_confirm_refused", false),
        ("email_confirmed", true),
        ("email_change_refused", true),
        ("email_change_requested", true),
        ("email_changed", true),
        ("account_deletion_refused", true),
        ("account_deleted", true),
    ] {
        let found = lines(&text, event);
        assert!(!found.is_empty(), "no {event} event in:\n{text}");
        for line in found {
            assert!(line.contains(client), "{event} without the client: {line}");
            assert!(
                !names_user || line.contains(&user),
                "{event} without {user}: {line}"
            );
        }
    }
    for secret in &secrets {
        assert!(
            !text.contains(secret.as_str()),
            "a secret is in the log:\n{text}"
        );
    }
}

/// A hook that fails, or panics, is logged (never with the token) and changes no answer.
#[tokio::test(flavor = "current_thread")]
async fn a_failing_or_panicking_hook_is_logged_without_the_token() {
    let (captured, _capturing) = capture();
    let tokens = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&tokens);
    let hook = move |to: &str, message: &Mail| -> Result<(), BoxError> {
        if let Mail::Confirmation(token) = message {
            seen.lock()
                .expect("not poisoned")
                .push(token.expose().to_owned());
        }
        match to {
            "panics@example.com" => panic!("the mailer fell over"),
            _ => Err(format!("cannot send to {to}").into()),
        }
    };
    let config = hardened_config().with_email_confirmation(true);
    let auth = support::auth(config.with_mailer(hook));
    let server = support::serve_echo(&auth.0).await;
    for email in ["fails@example.com", "panics@example.com"] {
        let fields = [("email", email), ("password", GOOD_PW)];
        let res = server.http.post("/users", Body::Form(&fields)).await;
        assert_eq!(res.status, 200, "{}", res.text());
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !(captured.text().contains("the account email hook failed")
        && captured.text().contains("the account email hook panicked"))
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "not logged:\n{}",
            captured.text()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let text = captured.text();
    assert!(text.contains("cannot send to fails@example.com"), "{text}");
    let tokens = tokens.lock().expect("not poisoned").clone();
    assert_eq!(tokens.len(), 2);
    for token in &tokens {
        assert!(
            !text.contains(token.as_str()),
            "the token is in the log:\n{text}"
        );
    }
}
