//! `POST /sessions` for an account with a second factor: the password alone is refused, a
//! code is accepted once within one step of skew, a recovery code once; a password reset
//! keeps the factor.

use crate::support::FormSite as _;
use http::{Method, StatusCode};
use tower_user_auth::{AuthError, auth::Login};

use crate::second_factor::{
    site::{STEP, Site, T0, assert_refused, code, config, cookie},
    support::{Body, GOOD_PW, Inbox, OTHER_PW},
};

#[tokio::test]
async fn the_password_alone_or_a_wrong_code_gives_no_session() {
    let site = Site::hardened().await;
    let email = "alone@example.com";
    let enabled = site.enabled(email).await;
    let before = site.sessions(email).await;
    site.advance_steps(1);
    let now = site.step();

    let a = site.log_in(email, &[]).await;
    assert_refused(&a, StatusCode::UNAUTHORIZED, Some("second factor required"));
    for empty in [[("otp", "")], [("recovery_code", "")]] {
        let a = site.log_in(email, &empty).await;
        assert_refused(&a, StatusCode::UNAUTHORIZED, Some("second factor required"));
    }
    let wrong = [
        ("otp", code(&enabled.secret, now + 2)),
        ("otp", "000000".into()),
        ("otp", "not a code".into()),
        ("recovery_code", "AAAA-BBBB-CCCC-DDDD".into()),
        ("recovery_code", "nonsense".into()),
    ];
    for (field, value) in &wrong {
        let a = site.log_in(email, &[(field, value)]).await;
        assert_refused(
            &a,
            StatusCode::UNAUTHORIZED,
            Some("wrong second factor code"),
        );
    }
    // A wrong password with the right code: the wrong-credentials answer, the code unspent.
    let otp = code(&enabled.secret, now);
    let a = site
        .http()
        .post(
            "/sessions",
            Body::Form(&[("email", email), ("password", OTHER_PW), ("otp", &otp)]),
        )
        .await;
    assert_refused(
        &a,
        StatusCode::UNAUTHORIZED,
        Some("wrong email or password"),
    );
    // Both fields: 400.
    let both = [
        ("otp", otp.as_str()),
        ("recovery_code", enabled.recovery_codes[0].as_str()),
    ];
    assert_refused(
        &site.log_in(email, &both).await,
        StatusCode::BAD_REQUEST,
        None,
    );
    assert_eq!(site.sessions(email).await, before, "no session was stored");

    let a = site.log_in(email, &[("otp", &otp)]).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    // The session works.
    let profile = site.http().get("/profile", &cookie(&a)).await;
    assert_eq!(profile.status, StatusCode::OK, "{}", profile.body);
    assert_eq!(site.sessions(email).await, before + 1);
    // The public API's password-only login is refused as well.
    let refused = site.auth.log_in(Login::new(email, GOOD_PW)).await;
    assert!(
        matches!(refused, Err(AuthError::SecondFactorRequired)),
        "{refused:?}"
    );
}

#[tokio::test]
async fn a_code_is_accepted_once_even_in_the_next_step() {
    let site = Site::hardened().await;
    let email = "replay@example.com";
    let enabled = site.enabled(email).await;
    site.advance_steps(2);
    let now = site.step();
    let otp = code(&enabled.secret, now);
    assert_eq!(
        site.log_in(email, &[("otp", &otp)]).await.status,
        StatusCode::OK
    );
    // The same step.
    let a = site.log_in(email, &[("otp", &otp)]).await;
    assert_refused(
        &a,
        StatusCode::UNAUTHORIZED,
        Some("wrong second factor code"),
    );
    // The next step, where the code is still within the skew.
    site.advance_steps(1);
    let a = site.log_in(email, &[("otp", &otp)]).await;
    assert_refused(
        &a,
        StatusCode::UNAUTHORIZED,
        Some("wrong second factor code"),
    );
    // An earlier step's code, after a later one was used.
    let earlier = code(&enabled.secret, now - 1);
    let a = site.log_in(email, &[("otp", &earlier)]).await;
    assert_refused(&a, StatusCode::UNAUTHORIZED, None);
    // The current code works.
    let current = code(&enabled.secret, site.step());
    assert_eq!(
        site.log_in(email, &[("otp", &current)]).await.status,
        StatusCode::OK
    );
}

/// Codes at the edges of steps: the last second of a step and the first of the next; one
/// step early or late accepted, two refused. Accepted steps only go forward (each accepted
/// code uses its step up), so the cases run in order.
#[tokio::test]
async fn codes_at_step_boundaries() {
    let site = Site::hardened().await;
    let email = "edges@example.com";
    let enabled = site.enabled(email).await;
    let secret = enabled.secret.as_str();
    // Step s ends at `last`; s + 1 starts at `last + 1`.
    let s = T0 / STEP + 10;
    let last = (s + 1) * STEP - 1;
    let cases: [(u64, u64, bool); 14] = [
        // (time, step of the code, accepted)
        (last, s - 2, false),
        (last, s + 2, false),
        (last, s - 1, true),
        (last, s, true),
        (last + 1, s, false), // replayed in the next step
        (last + 1, s + 1, true),
        (last + 1, s + 2, true), // one step early
        (last + 1, s + 3, false),
        ((s + 4) * STEP, s + 2, false), // two steps late
        ((s + 4) * STEP, s + 3, true),  // one step late
        ((s + 5) * STEP - 1, s + 5, true),
        ((s + 5) * STEP - 1, s + 4, false), // after a later step was used
        ((s + 5) * STEP, s + 6, true),
        ((s + 5) * STEP, s + 7, false),
    ];
    for (time, step, accepted) in cases {
        site.set_time(time);
        let a = site.log_in(email, &[("otp", &code(secret, step))]).await;
        let expected = if accepted {
            StatusCode::OK
        } else {
            StatusCode::UNAUTHORIZED
        };
        assert_eq!(
            a.status,
            expected,
            "time {time} (step {}), code of step {step}: {}",
            time / STEP,
            a.body
        );
    }
}

#[tokio::test]
async fn each_recovery_code_works_once() {
    let site = Site::hardened().await;
    let email = "recovery@example.com";
    let enabled = site.enabled(email).await;
    let first = enabled.recovery_codes[0].as_str();
    let a = site.log_in(email, &[("recovery_code", first)]).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let a = site.log_in(email, &[("recovery_code", first)]).await;
    assert_refused(
        &a,
        StatusCode::UNAUTHORIZED,
        Some("wrong second factor code"),
    );
    // As typed: lower case, without hyphens.
    let second = enabled.recovery_codes[1].to_lowercase().replace('-', " ");
    let a = site.log_in(email, &[("recovery_code", &second)]).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let a = site.log_in(email, &[("recovery_code", &second)]).await;
    assert_refused(&a, StatusCode::UNAUTHORIZED, None);
    let left = site.recovery_codes_left(email).await;
    assert_eq!(left, 8);
    // A used recovery code does not remove the factor either.
    let fields = [("current_password", GOOD_PW), ("recovery_code", first)];
    let a = site
        .send(Method::DELETE, "/profile/totp", &enabled.cookie, &fields)
        .await;
    assert_refused(&a, StatusCode::UNAUTHORIZED, None);
    assert!(site.factor(email).await.expect("kept").enabled);
}

#[tokio::test]
async fn a_password_reset_keeps_the_factor() {
    let (mailer, mut inbox) = Inbox::mailer();
    let site = Site::new(config().with_mailer(mailer)).await;
    let email = "reset@example.com";
    let enabled = site.enabled(email).await;
    let a = site
        .http()
        .post("/reset_password", Body::Form(&[("email", email)]))
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let (_, token) = inbox.next().await;
    let fields = [
        ("email", email),
        ("reset_token", token.as_str()),
        ("new_password", OTHER_PW),
    ];
    let a = site
        .http()
        .put("/reset_password", Body::Form(&fields))
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let factor = site.factor(email).await.expect("kept");
    assert!(factor.enabled);
    assert_eq!(factor.recovery_codes.len(), 10);

    let log_in = |extra: Vec<(&'static str, String)>| {
        let mut fields = vec![
            ("email", email.to_owned()),
            ("password", OTHER_PW.to_owned()),
        ];
        fields.extend(extra);
        let site = &site;
        async move {
            let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            site.http().post("/sessions", Body::Form(&fields)).await
        }
    };
    let a = log_in(vec![]).await;
    assert_refused(&a, StatusCode::UNAUTHORIZED, Some("second factor required"));
    site.advance_steps(1);
    let a = log_in(vec![("otp", code(&enabled.secret, site.step()))]).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
}
