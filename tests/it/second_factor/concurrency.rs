//! One code, many requests at once: exactly one of them gets what the code gives (a session,
//! an enabled factor). Each round releases its requests together from a barrier, each on its
//! own connection; rounds are bounded.

use crate::support::FormSite as _;
use std::sync::Arc;

use http::{Method, StatusCode};
use tokio::sync::Barrier;

use crate::second_factor::{
    site::{Site, code},
    support::{Answer, GOOD_PW, cookie_header, form, http, with_header},
};

/// Requests released together in a round.
const AT_ONCE: usize = 8;

/// Rounds per test.
const ROUNDS: usize = 6;

/// Sends `AT_ONCE` copies of `fields` to `POST path` (with `cookie` unless empty), released
/// together; returns the answers.
async fn together(site: &Site, path: &str, cookie: &str, fields: &[(&str, &str)]) -> Vec<Answer> {
    let requests = (0..AT_ONCE).map(|_| (Method::POST, path, cookie, fields));
    at_once(site, requests).await
}

/// Sends each `(method, path, cookie, fields)` on its own connection, released together
/// from a barrier; returns the answers in order.
async fn at_once<'a>(
    site: &Site,
    requests: impl ExactSizeIterator<Item = (Method, &'a str, &'a str, &'a [(&'a str, &'a str)])>,
) -> Vec<Answer> {
    let barrier = Arc::new(Barrier::new(requests.len()));
    let addr = site.server.addr;
    let mut tasks = Vec::new();
    for (method, path, cookie, fields) in requests {
        let barrier = Arc::clone(&barrier);
        let mut req = form(method, path, fields);
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
    let left = site.recovery_codes_left(email).await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_code_removes_the_factor_once_however_many_requests_present_it() {
    let site = Site::hardened().await;
    for round in 0..ROUNDS {
        let email = format!("race-remove-{round}@example.com");
        let enabled = site.enabled(&email).await;
        site.advance_steps(1);
        let otp = code(&enabled.secret, site.step());
        let fields = [("current_password", GOOD_PW), ("otp", otp.as_str())];
        let requests = (0..AT_ONCE).map(|_| {
            (
                Method::DELETE,
                "/profile/totp",
                enabled.cookie.as_str(),
                &fields[..],
            )
        });
        let answers = at_once(&site, requests).await;
        assert_eq!(
            count(&answers, StatusCode::OK),
            1,
            "round {round}: {answers:?}"
        );
        // The others: the code already used (401), or no factor left (409).
        let refused =
            count(&answers, StatusCode::UNAUTHORIZED) + count(&answers, StatusCode::CONFLICT);
        assert_eq!(refused, AT_ONCE - 1, "round {round}: {answers:?}");
        assert!(site.factor(&email).await.is_none(), "round {round}");
    }
}

/// Logins and removals of the factor with the same code: one of them uses it. When a removal
/// wins, the logins that come after it need no code any more (and may log in); when none
/// does, exactly one login has the code.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_code_serves_a_login_or_a_removal_not_both() {
    let site = Site::hardened().await;
    for round in 0..2 * ROUNDS {
        let email = format!("race-login-remove-{round}@example.com");
        let enabled = site.enabled(&email).await;
        site.advance_steps(1);
        let sessions = site.sessions(&email).await;
        let otp = code(&enabled.secret, site.step());
        let login = [
            ("email", email.as_str()),
            ("password", GOOD_PW),
            ("otp", otp.as_str()),
        ];
        let remove = [("current_password", GOOD_PW), ("otp", otp.as_str())];
        let requests = (0..AT_ONCE).map(|i| {
            if i % 2 == 0 {
                (Method::POST, "/sessions", "", &login[..])
            } else {
                (
                    Method::DELETE,
                    "/profile/totp",
                    enabled.cookie.as_str(),
                    &remove[..],
                )
            }
        });
        let answers = at_once(&site, requests).await;
        let ok = |parity: usize| {
            answers
                .iter()
                .skip(parity)
                .step_by(2)
                .filter(|a| a.status == StatusCode::OK)
                .count()
        };
        let (logins, removals) = (ok(0), ok(1));
        assert!(removals <= 1, "round {round}: {answers:?}");
        if removals == 0 {
            assert_eq!(logins, 1, "round {round}: {answers:?}");
            assert!(site.factor(&email).await.expect("kept").enabled);
        } else {
            assert!(site.factor(&email).await.is_none(), "round {round}");
        }
        assert_eq!(
            site.sessions(&email).await,
            sessions + logins,
            "round {round}"
        );
    }
}

/// Setting up many times at once leaves one pending secret: the one of the answers whose
/// code then confirms it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn setting_up_at_once_leaves_one_pending_secret() {
    let site = Site::hardened().await;
    for round in 0..ROUNDS {
        let email = format!("race-begin-{round}@example.com");
        site.register(&email).await;
        let cookie = site.session(&email).await;
        let answers = together(
            &site,
            "/profile/totp",
            &cookie,
            &[("current_password", GOOD_PW)],
        )
        .await;
        assert_eq!(
            count(&answers, StatusCode::OK),
            AT_ONCE,
            "round {round}: {answers:?}"
        );
        let mut confirmed = 0;
        for a in &answers {
            let secret = a.json()["secret"].as_str().expect("secret").to_owned();
            let answer = site.confirm(&cookie, &code(&secret, site.step())).await;
            match answer.status {
                StatusCode::OK => confirmed += 1,
                // Replaced by a later one (400), or another answer's secret confirmed (409).
                StatusCode::BAD_REQUEST | StatusCode::CONFLICT => {}
                other => panic!("round {round}: {other} {}", answer.body),
            }
        }
        assert_eq!(confirmed, 1, "round {round}");
        assert!(site.factor(&email).await.expect("factor").enabled);
    }
}

/// Issue 21, section 1: removing the factor is a compare-and-set against the session and the
/// credentials it verified. A removal racing the owner's reset, released together, never
/// goes through once the reset has answered: of the two, at most one is answered 200, and
/// when the reset is, the factor is still on (a removal that commits first revokes the
/// reset token instead).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_removal_racing_a_reset_never_lands_after_the_reset_answered() {
    use tower_user_auth::compat::SeedApi;
    let site = Site::hardened().await;
    let mut removed_after_reset = Vec::new();
    for round in 0..8 {
        let email = format!("race-reset-{round}@example.com");
        let enabled = site.enabled(&email).await;
        let token = site
            .auth
            .get_reset_password_token(&email)
            .await
            .expect("a reset token");
        let removal = [
            ("current_password", GOOD_PW),
            ("recovery_code", enabled.recovery_codes[0].as_str()),
        ];
        let reset = [
            ("email", email.as_str()),
            ("reset_token", token.expose()),
            ("new_password", "an entirely new passphrase"),
        ];
        let requests = [
            (
                Method::DELETE,
                "/profile/totp",
                enabled.cookie.as_str(),
                &removal[..],
            ),
            (Method::PUT, "/reset_password", "", &reset[..]),
        ];
        let answers = at_once(&site, requests.into_iter()).await;
        let (removed, reset) = (&answers[0], &answers[1]);
        assert!(
            removed.status.is_success() || removed.status.is_client_error(),
            "round {round}: {removed:?}"
        );
        assert!(
            reset.status.is_success() || reset.status.is_client_error(),
            "round {round}: {reset:?}"
        );
        let on = site.factor(&email).await.is_some_and(|f| f.enabled);
        if reset.status == StatusCode::OK && (removed.status == StatusCode::OK || !on) {
            removed_after_reset.push(round);
        }
    }
    assert!(
        removed_after_reset.is_empty(),
        "the factor was removed after the reset answered in rounds {removed_after_reset:?}"
    );
}

/// Of step-ups presented at once with one session (and the right password), exactly one
/// gets a new session; the old cookie dies with every round, and the others are answered as
/// requests whose session ended (403), with no cookie of their own: the account ends each
/// round with as many sessions as it began with.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn step_ups_at_once_with_one_session_leave_exactly_one_new_session() {
    let site = Site::hardened().await;
    let email = "race-stepup@example.com";
    site.register(email).await;
    let mut cookie = site.session(email).await;
    let fields = [("current_password", GOOD_PW)];
    for round in 0..ROUNDS {
        let before = site.sessions(email).await;
        let answers = together(&site, "/profile/reauth", &cookie, &fields).await;
        assert_eq!(
            count(&answers, StatusCode::OK),
            1,
            "round {round}: {answers:?}"
        );
        assert_eq!(
            count(&answers, StatusCode::FORBIDDEN),
            AT_ONCE - 1,
            "round {round}: {answers:?}"
        );
        let renewed: Vec<String> = answers
            .iter()
            .filter_map(|a| a.session_cookie_header())
            .filter(|c| c != "session_id=")
            .collect();
        assert_eq!(renewed.len(), 1, "round {round}: {answers:?}");
        assert_eq!(site.sessions(email).await, before, "round {round}");
        let a = site.http().get("/profile", &cookie).await;
        assert_eq!(
            a.status,
            StatusCode::FORBIDDEN,
            "round {round}: the old cookie"
        );
        let a = site.http().get("/profile", &renewed[0]).await;
        assert_eq!(a.status, StatusCode::OK, "round {round}: the new cookie");
        cookie = renewed[0].clone();
    }
}
