//! One code, many requests at once: exactly one of them gets what the code gives (a session,
//! an enabled factor). Each round releases its requests together from a barrier, each on its
//! own connection; rounds are bounded.

use std::sync::Arc;

use http::{Method, StatusCode};
use tokio::sync::Barrier;

use crate::{
    site::{Site, code},
    support::{Answer, GOOD_PW, cookie_header, form, http, with_header},
};

/// Requests released together in a round.
const AT_ONCE: usize = 8;

/// Rounds per test.
const ROUNDS: usize = 6;

/// Sends `AT_ONCE` copies of `fields` to `path` (with `cookie` unless empty), released
/// together; returns the answers.
async fn together(site: &Site, path: &str, cookie: &str, fields: &[(&str, &str)]) -> Vec<Answer> {
    let barrier = Arc::new(Barrier::new(AT_ONCE));
    let addr = site.server.addr;
    let mut tasks = Vec::new();
    for _ in 0..AT_ONCE {
        let barrier = Arc::clone(&barrier);
        let mut req = form(Method::POST, path, fields);
        for (name, value) in cookie_header(cookie) {
            req = with_header(req, name, value);
        }
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            http(addr, req).await
        }));
    }
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.expect("request task"));
    }
    answers
}

fn count(answers: &[Answer], status: StatusCode) -> usize {
    answers.iter().filter(|a| a.status == status).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_code_gives_one_session_however_many_logins_present_it() {
    let site = Site::hardened().await;
    let email = "race@example.com";
    let enabled = site.enabled(email).await;
    for round in 0..ROUNDS {
        // A step no code was accepted at yet.
        site.set_time(site.step() * 30 + 30 + round as u64 % 30);
        let before = site.sessions(email).await;
        let otp = code(&enabled.secret, site.step());
        let fields = [
            ("email", email),
            ("password", GOOD_PW),
            ("otp", otp.as_str()),
        ];
        let answers = together(&site, "/sessions", "", &fields).await;
        assert_eq!(
            count(&answers, StatusCode::OK),
            1,
            "round {round}: {answers:?}"
        );
        assert_eq!(
            count(&answers, StatusCode::UNAUTHORIZED),
            AT_ONCE - 1,
            "round {round}: {answers:?}"
        );
        assert_eq!(
            answers
                .iter()
                .filter(|a| a.session_cookie().is_some())
                .count(),
            1
        );
        assert_eq!(site.sessions(email).await, before + 1, "round {round}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_recovery_code_gives_one_session_however_many_logins_present_it() {
    let site = Site::hardened().await;
    let email = "race-recovery@example.com";
    let enabled = site.enabled(email).await;
    for (round, recovery) in enabled.recovery_codes.iter().take(ROUNDS).enumerate() {
        let before = site.sessions(email).await;
        let fields = [
            ("email", email),
            ("password", GOOD_PW),
            ("recovery_code", recovery.as_str()),
        ];
        let answers = together(&site, "/sessions", "", &fields).await;
        assert_eq!(
            count(&answers, StatusCode::OK),
            1,
            "round {round}: {answers:?}"
        );
        assert_eq!(count(&answers, StatusCode::UNAUTHORIZED), AT_ONCE - 1);
        assert_eq!(site.sessions(email).await, before + 1, "round {round}");
    }
    let left = site
        .factor(email)
        .await
        .expect("factor")
        .recovery_codes
        .len();
    assert_eq!(left, enabled.recovery_codes.len() - ROUNDS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_code_enables_the_factor_once_however_many_confirms_present_it() {
    let site = Site::hardened().await;
    for round in 0..ROUNDS {
        let email = format!("race-confirm-{round}@example.com");
        site.register(&email).await;
        let cookie = site.session(&email).await;
        let secret = site.begin(&cookie).await;
        let otp = code(&secret, site.step());
        let answers = together(&site, "/profile/totp/confirm", &cookie, &[("code", &otp)]).await;
        assert_eq!(
            count(&answers, StatusCode::OK),
            1,
            "round {round}: {answers:?}"
        );
        assert_eq!(
            count(&answers, StatusCode::CONFLICT),
            AT_ONCE - 1,
            "round {round}: {answers:?}"
        );
        // The stored recovery codes are those of the one answer that enabled it.
        let winner = answers
            .iter()
            .find(|a| a.status == StatusCode::OK)
            .expect("a winner")
            .json();
        let factor = site.factor(&email).await.expect("factor");
        assert!(factor.enabled);
        let codes = winner["recovery_codes"].as_array().expect("codes");
        assert_eq!(factor.recovery_codes.len(), codes.len());
        for c in codes {
            let normalized = c.as_str().expect("string").replace('-', "");
            let digest = tower_user_auth::token::TokenDigest::of(&normalized);
            assert!(factor.recovery_codes.contains(&digest), "{round}");
        }
    }
}
