//! What the throttle counts: a wrong password, a wrong or replayed code and a wrong recovery
//! code are failures; "second factor required" after the right password is not; a full
//! success clears the backoff. Three free failures, then the (account, client) pair waits,
//! and each attempt held back is an audit event.

use crate::support::FormSite as _;
use std::time::Duration;

use http::{Method, StatusCode};
use tower_user_auth::{AuthConfig, ThrottleConfig, config::SecretKey};

use crate::{
    second_factor::site::{KEY, STEP, Site, assert_refused, code},
    support::{Body, GOOD_PW, OTHER_PW, capture, hardened_config, lines},
};

const FREE_FAILURES: u32 = 3;
const BACKOFF_MAX: Duration = Duration::from_secs(600);

fn throttled_config() -> AuthConfig {
    let throttle = ThrottleConfig::default()
        .with_free_failures(FREE_FAILURES)
        .with_backoff(Duration::from_secs(60), BACKOFF_MAX);
    hardened_config()
        .with_secret_key(SecretKey::from_bytes(KEY))
        .with_throttle(throttle)
}

/// Past any backoff, at the start of a step.
fn wait_out(site: &Site) {
    site.clock.advance(BACKOFF_MAX);
    site.set_time((site.step() + 1) * STEP);
}

async fn wrong_password(site: &Site, email: &str) {
    let fields = [("email", email), ("password", OTHER_PW)];
    let a = site.http().post("/sessions", Body::Form(&fields)).await;
    assert_refused(
        &a,
        StatusCode::UNAUTHORIZED,
        Some("wrong email or password"),
    );
}

async fn held_back(site: &Site, email: &str, extra: &[(&str, &str)]) {
    let a = site.log_in(email, extra).await;
    assert_refused(&a, StatusCode::TOO_MANY_REQUESTS, None);
    assert!(a.retry_after().is_some_and(|s| s > 0), "{:?}", a.headers);
}

#[tokio::test]
async fn wrong_and_replayed_codes_and_wrong_recovery_codes_are_failures() {
    let site = Site::new(throttled_config()).await;
    let email = "counted@example.com";
    let enabled = site.enabled(email).await;
    site.advance_steps(1);
    let otp = code(&enabled.secret, site.step());
    assert_eq!(
        site.log_in(email, &[("otp", &otp)]).await.status,
        StatusCode::OK
    );

    let wrong = code(&enabled.secret, site.step() + 2);
    let a = site.log_in(email, &[("otp", &wrong)]).await; // 1
    assert_refused(&a, StatusCode::UNAUTHORIZED, None);
    let a = site.log_in(email, &[("otp", &otp)]).await; // 2: replayed
    assert_refused(&a, StatusCode::UNAUTHORIZED, None);
    let bad = [("recovery_code", "AAAA-BBBB-CCCC-DDDD")];
    let a = site.log_in(email, &bad).await; // 3
    assert_refused(&a, StatusCode::UNAUTHORIZED, None);
    // Held back, even with the right code (which stays unspent).
    site.advance_steps(1);
    let fresh = code(&enabled.secret, site.step());
    held_back(&site, email, &[("otp", &fresh)]).await;

    wait_out(&site);
    let fresh = code(&enabled.secret, site.step());
    assert_eq!(
        site.log_in(email, &[("otp", &fresh)]).await.status,
        StatusCode::OK
    );

    // A wrong code removing the factor counts too, with the wrong passwords.
    wrong_password(&site, email).await; // 1
    site.advance_steps(1);
    let wrong = code(&enabled.secret, site.step() + 2);
    let fields = [("current_password", GOOD_PW), ("otp", wrong.as_str())];
    let a = site
        .send(Method::DELETE, "/profile/totp", &enabled.cookie, &fields)
        .await; // 2
    assert_refused(&a, StatusCode::UNAUTHORIZED, None);
    wrong_password(&site, email).await; // 3
    held_back(
        &site,
        email,
        &[("recovery_code", &enabled.recovery_codes[0])],
    )
    .await;
    assert_eq!(
        site.recovery_codes_left(email).await,
        10,
        "the recovery code held back was not spent"
    );
}

#[tokio::test]
async fn second_factor_required_is_not_a_failure_and_a_success_clears_the_backoff() {
    let site = Site::new(throttled_config()).await;
    let email = "required@example.com";
    let enabled = site.enabled(email).await;

    wrong_password(&site, email).await; // 1
    wrong_password(&site, email).await; // 2
    for _ in 0..2 * FREE_FAILURES {
        let a = site.log_in(email, &[]).await;
        assert_refused(&a, StatusCode::UNAUTHORIZED, Some("second factor required"));
    }
    wrong_password(&site, email).await; // 3
    held_back(&site, email, &[]).await;

    // Past the backoff the pair's failures still count (the next one is held back again)
    // until a full success clears them: then the free failures are free again, each time.
    wait_out(&site);
    for round in 0..3 {
        site.advance_steps(1);
        let otp = code(&enabled.secret, site.step());
        let a = site.log_in(email, &[("otp", &otp)]).await;
        assert_eq!(a.status, StatusCode::OK, "round {round}: {}", a.body);
        for _ in 1..FREE_FAILURES {
            wrong_password(&site, email).await;
        }
    }
    wrong_password(&site, email).await; // 3
    held_back(&site, email, &[]).await;
}

/// On the current-thread runtime the server's tasks run on the test's thread, whose
/// subscriber captures their events (see `tests/it/audit/accounts.rs`).
#[tokio::test(flavor = "current_thread")]
async fn a_wrong_password_setting_up_and_a_wrong_code_confirming_are_failures() {
    let (captured, _capturing) = capture();
    let site = Site::new(throttled_config()).await;
    let email = "setup@example.com";
    site.register(email).await;
    let cookie = site.session(email).await;
    let wrong = [("current_password", OTHER_PW)];
    let a = site
        .send(Method::POST, "/profile/totp", &cookie, &wrong)
        .await; // 1
    assert_refused(&a, StatusCode::FORBIDDEN, None);
    let secret = site.begin(&cookie).await; // a success: cleared
    let a = site
        .send(Method::POST, "/profile/totp", &cookie, &wrong)
        .await; // 1
    assert_refused(&a, StatusCode::FORBIDDEN, None);
    let a = site.confirm(&cookie, &code(&secret, site.step() + 2)).await; // 2
    assert_refused(&a, StatusCode::BAD_REQUEST, None);
    wrong_password(&site, email).await; // 3
    let a = site.confirm(&cookie, &code(&secret, site.step())).await;
    assert_refused(&a, StatusCode::TOO_MANY_REQUESTS, None);
    assert!(!site.factor(email).await.expect("pending").enabled);
    let right = [("current_password", GOOD_PW)];
    let a = site
        .send(Method::POST, "/profile/totp", &cookie, &right)
        .await;
    assert_refused(&a, StatusCode::TOO_MANY_REQUESTS, None);

    // Each attempt held back is audited, naming the step, the account and the client.
    let text = captured.text();
    let held = lines(&text, "second_factor_throttled");
    let user = format!("user_id={}", site.user_id(email).await);
    for action in ["confirm", "begin"] {
        let action = format!("action=\"{action}\"");
        assert!(
            held.iter().any(|l| l.contains(&action)
                && l.contains(&user)
                && l.contains("client=127.0.0.1")),
            "no second_factor_throttled event with {action}, {user} and the client in:\n{text}"
        );
    }
    assert_eq!(held.len(), 2, "one event per attempt held back:\n{text}");
}

/// 40 wrong codes sent at once from one client, with the right password: each attempt is
/// reserved with the limit check before its password and code are checked, so at most the
/// free failures are checked (401), the others held back (429). Several rounds.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_wrong_codes_check_at_most_the_free_failures() {
    const PARALLEL: usize = 40;
    let site = Site::new(throttled_config()).await;
    for round in 0..4 {
        let email = format!("parallel{round}@example.com");
        let enabled = site.enabled(&email).await;
        let wrong = code(&enabled.secret, site.step() + 2);
        let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(PARALLEL));
        let tasks: Vec<_> = (0..PARALLEL)
            .map(|_| {
                let (http, barrier) = (site.http().clone(), barrier.clone());
                let (email, wrong) = (email.clone(), wrong.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    crate::second_factor::site::log_in_at(&http, &email, &[("otp", &wrong)])
                        .await
                        .status
                })
            })
            .collect();
        let mut statuses = Vec::new();
        for task in tasks {
            statuses.push(task.await.expect("no panic"));
        }
        let checked = statuses
            .iter()
            .filter(|&&s| s == StatusCode::UNAUTHORIZED)
            .count();
        let held = statuses
            .iter()
            .filter(|&&s| s == StatusCode::TOO_MANY_REQUESTS)
            .count();
        assert!(
            checked <= FREE_FAILURES as usize,
            "round {round}: {checked} codes checked: {statuses:?}"
        );
        assert_eq!(checked + held, PARALLEL, "round {round}: {statuses:?}");
        assert!(site.factor(&email).await.expect("kept").enabled);
        wait_out(&site);
    }
}

/// A step-up (`POST /profile/reauth`) is counted as a login is: a wrong password and a right
/// password with a wrong code are failures on the account's and client's counters, which
/// then hold back a login and a step-up alike; a missing code is not a failure.
#[tokio::test]
async fn a_step_up_s_wrong_guesses_are_counted_as_a_login_s() {
    let site = Site::new(throttled_config()).await;
    let email = "stepup-counted@example.com";
    let enabled = site.enabled(email).await;
    let step_up = |fields: Vec<(&'static str, String)>| {
        let site = &site;
        let cookie = enabled.cookie.clone();
        async move {
            let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            site.send(Method::POST, "/profile/reauth", &cookie, &fields)
                .await
        }
    };
    site.advance_steps(1);
    let wrong = code(&enabled.secret, site.step() + 2);
    for _ in 0..2 * FREE_FAILURES {
        let a = step_up(vec![("current_password", GOOD_PW.into())]).await;
        assert_refused(&a, StatusCode::UNAUTHORIZED, Some("second factor required"));
    }
    let a = step_up(vec![
        ("current_password", OTHER_PW.into()),
        ("otp", wrong.clone()),
    ])
    .await; // 1
    assert_refused(&a, StatusCode::FORBIDDEN, None);
    let a = step_up(vec![
        ("current_password", GOOD_PW.into()),
        ("otp", wrong.clone()),
    ])
    .await; // 2
    assert_refused(
        &a,
        StatusCode::UNAUTHORIZED,
        Some("wrong second factor code"),
    );
    wrong_password(&site, email).await; // 3
    // Held back, a step-up and a login alike, even with the right code.
    let otp = code(&enabled.secret, site.step());
    let a = step_up(vec![
        ("current_password", GOOD_PW.into()),
        ("otp", otp.clone()),
    ])
    .await;
    assert_refused(&a, StatusCode::TOO_MANY_REQUESTS, None);
    held_back(&site, email, &[("otp", &otp)]).await;

    // Past the backoff a full step-up is a success: it clears the failures.
    wait_out(&site);
    let otp = code(&enabled.secret, site.step());
    let a = step_up(vec![("current_password", GOOD_PW.into()), ("otp", otp)]).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    for _ in 1..FREE_FAILURES {
        wrong_password(&site, email).await;
    }
    site.advance_steps(1);
    let otp = code(&enabled.secret, site.step());
    let a = site.log_in(email, &[("otp", &otp)]).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
}
