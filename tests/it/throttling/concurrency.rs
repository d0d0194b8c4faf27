//! B. Login throttling, item 7, under concurrency: guesses are counted before they are
//! checked (each attempt reserved with the limit check), so however many arrive at once no
//! more than the free failures and the ceilings reach bcrypt; attempts with the right secret
//! wait for those in flight instead of being refused; and the per-account ceiling counts
//! consecutive failures. Over real sockets (the server puts the peer address in the
//! extensions; every request comes from 127.0.0.1).

use std::{sync::Arc, time::Duration};

use http::{Method, Request};
use tokio::sync::Barrier;
use tower_user_auth::ThrottleConfig;

use crate::{
    security::{HOUR, seed_token},
    support::{FullBody, Harness, form, http, seed_config, serve_echo, with_cookie},
};

/// Sends `requests` at once (released together by a barrier) to `addr`, each on its own
/// connection: the statuses of the answers.
pub(crate) async fn at_once(
    addr: std::net::SocketAddr,
    requests: Vec<Request<FullBody>>,
) -> Vec<u16> {
    let barrier = Arc::new(Barrier::new(requests.len()));
    let tasks: Vec<_> = requests
        .into_iter()
        .map(|req| {
            let barrier = Arc::clone(&barrier);
            tokio::spawn(async move {
                barrier.wait().await;
                http(addr, req).await.status.as_u16()
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.expect("no panic"));
    }
    statuses
}

fn count(statuses: &[u16], status: u16) -> usize {
    statuses.iter().filter(|&&s| s == status).count()
}

fn login(email: &str, pw: &str) -> Request<FullBody> {
    form(
        Method::POST,
        "/sessions",
        &[("email", email), ("password", pw)],
    )
}

/// Registers `email` with the password `right`: a session's cookie.
async fn account_with_session(h: &Harness, email: &str) -> String {
    h.registered(email, "right").await;
    h.session(email, "right").await
}

fn change_password(cookie: &str, current: &str, new: &str) -> Request<FullBody> {
    let fields = [("current_password", current), ("new_password", new)];
    with_cookie(form(Method::PUT, "/profile/password", &fields), cookie)
}

/// Item 7: 200 wrong guesses sent at once from one client, with a deep hashing queue (64,
/// the demo's `AUTH_HASHING_QUEUE=64`, so that many could wait for bcrypt together): at
/// most the 5 free failures are checked (401), every other one is held back (429), never
/// an overload. Several rounds, each on a fresh account.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn item_07_two_hundred_guesses_at_once_check_at_most_the_free_failures() {
    let h = Harness::new(seed_config().with_hashing_pool(2, 64));
    let server = serve_echo(&h.auth).await;
    for round in 0..3 {
        let email = format!("flood{round}@example.com");
        h.registered(&email, "right").await;
        let requests = (0..200).map(|_| login(&email, "wrong guess")).collect();
        let statuses = at_once(server.addr, requests).await;
        let checked = count(&statuses, 401);
        assert!(
            checked <= 5,
            "round {round}: {checked} guesses checked at once"
        );
        assert_eq!(
            checked + count(&statuses, 429),
            200,
            "round {round}: {statuses:?}"
        );
    }
}

/// Item 7: 40 wrong current passwords sent at once to `PUT /profile/password` with a stolen
/// session (the re-authentication of a sensitive route): at most the 5 free failures are
/// checked (403), the others are held back (429).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn item_07_reauthentication_guesses_at_once_check_at_most_the_free_failures() {
    let h = Harness::seed();
    let server = serve_echo(&h.auth).await;
    for round in 0..4 {
        let cookie = account_with_session(&h, &format!("stolen{round}@example.com")).await;
        let requests = (0..40)
            .map(|i| change_password(&cookie, &format!("guess {i}"), "new password"))
            .collect();
        let statuses = at_once(server.addr, requests).await;
        let checked = count(&statuses, 403);
        assert!(
            checked <= 5,
            "round {round}: {checked} checked: {statuses:?}"
        );
        assert_eq!(checked + count(&statuses, 429), 40, "{statuses:?}");
    }
}

/// Item 7: 10 password changes sent at once on one session with the right current password
/// are not throttled: the attempts beyond the free failures wait for those in flight, so one
/// changes the password (200) and the nine others meet the changed credentials (409), none
/// 429. Several rounds (bcrypt cost 8, so that the ten read the account before the first
/// change commits).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn item_07_concurrent_password_changes_with_the_right_password_are_not_throttled() {
    let h = Harness::new(seed_config().with_bcrypt_cost(8));
    let server = serve_echo(&h.auth).await;
    for round in 0..3 {
        let cookie = account_with_session(&h, &format!("typist{round}@example.com")).await;
        let requests = (0..10)
            .map(|i| change_password(&cookie, "right", &format!("new password {i}")))
            .collect();
        let statuses = at_once(server.addr, requests).await;
        assert_eq!(
            (count(&statuses, 200), count(&statuses, 409)),
            (1, 9),
            "round {round}: {statuses:?}"
        );
    }
}

/// `n` failed logins on `email`, each from its own address (never a pair backoff).
async fn fail_from_many(h: &Harness, email: &str, from: u32, n: u32) {
    for i in from..from + n {
        let peer = format!("198.18.{}.{}", i / 250, i % 250 + 1);
        let res = h.login_from(email, "wrong guess", &peer).await;
        assert_eq!(res.status, 401, "failure {i}: {}", res.text());
    }
}

/// Item 7 (NIST SP 800-63B 5.2.2): the per-account ceiling counts consecutive failures, not
/// failures per hour: a login of the owner starts it again (7 + 7 failures under a ceiling
/// of 8 lock nobody out); 8 in a row hold everyone back, still two hours later; the owner's
/// reset through the mailbox starts it again, and it decays a day after the last failure.
#[tokio::test]
async fn item_07_per_account_ceiling_counts_consecutive_failures_a_success_resets_it() {
    let throttle = ThrottleConfig::default().with_failure_ceilings(8, 1000);
    let h = Harness::new(seed_config().with_throttle(throttle));
    let email = "consecutive@example.com";
    h.registered(email, "owner-pw").await;
    fail_from_many(&h, email, 0, 7).await;
    let owner = h.login_from(email, "owner-pw", "203.0.113.5").await;
    assert_eq!(owner.status, 200, "{}", owner.text());
    fail_from_many(&h, email, 7, 7).await;
    let res = h.login_from(email, "owner-pw", "203.0.113.6").await;
    assert_eq!(res.status, 200, "a success did not start the count again");

    // Eight in a row: everyone is held back, for longer than an hour.
    fail_from_many(&h, email, 14, 8).await;
    let res = h.login_from(email, "owner-pw", "203.0.113.7").await;
    assert_eq!(res.status, 429, "{}", res.text());
    h.advance(2 * HOUR);
    let res = h.login_from(email, "owner-pw", "203.0.113.7").await;
    assert_eq!(
        res.status, 429,
        "the consecutive count lapsed after an hour"
    );

    // The owner's reset through the mailbox starts it again.
    let token = seed_token(&h.request_reset(email).await);
    let res = h.reset(email, &token, "new-owner-pw").await;
    assert_eq!(res.status, 200, "the reset was held back: {}", res.text());
    let res = h.login_from(email, "new-owner-pw", "203.0.113.8").await;
    assert_eq!(res.status, 200, "{}", res.text());

    // Eight in a row again; a day after the last one they are forgotten.
    fail_from_many(&h, email, 22, 8).await;
    assert_eq!(
        h.login_from(email, "new-owner-pw", "203.0.113.9")
            .await
            .status,
        429
    );
    h.advance(Duration::from_secs(24 * 3600));
    assert_eq!(
        h.login_from(email, "new-owner-pw", "203.0.113.9")
            .await
            .status,
        200
    );
}
