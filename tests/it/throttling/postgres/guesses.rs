//! Guesses counted before they are checked, over both instances: concurrent guesses never
//! exceed the limit, a deep hashing queue checks only the free failures; the counters hold no
//! email nor password and are purged; a throttle database error fails closed.

use crate::support;
use futures_util::future::join_all;
use http::{Method, StatusCode};
use std::{sync::Arc, time::Duration};
use support::{Body, assert_error, call, request_from};
use tokio::sync::Barrier;
use tower_user_auth::{
    Auth, ThrottleConfig,
    store::{UserQuery, prelude::*},
};

use super::{ip, login, two_instances};

/// The wrong guesses' results once every task has ended, with how many reached the password
/// check (`Ok(false)`) and how many were held back (an error).
async fn tally(
    tasks: impl IntoIterator<Item = tokio::task::JoinHandle<Result<bool, u64>>>,
) -> (Vec<Result<bool, u64>>, usize, usize) {
    let results: Vec<_> = join_all(tasks)
        .await
        .into_iter()
        .map(|r| r.expect("no panic"))
        .collect();
    let checked = results.iter().filter(|r| **r == Ok(false)).count();
    let held = results.iter().filter(|r| r.is_err()).count();
    (results, checked, held)
}

/// Concurrent wrong guesses released together (a barrier), spread over both instances, never
/// get more than the limit through to the password check: from one address on one account,
/// exactly the 5 free failures, the rest held back; from 16 addresses on one account with a
/// ceiling of 4 per hour, exactly 4. Many rounds, each on a fresh account.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_guesses_over_both_instances_never_exceed_the_limit() {
    let Some(db) = support::postgres::database().await else {
        return;
    };
    // The free failures from one address; the account ceiling (4 here) from 16 addresses.
    let (a, b, _) = two_instances(&db, support::hardened_config()).await;
    let throttle = ThrottleConfig::default().with_failure_ceilings(4, 1000);
    let (c, d, _) = two_instances(&db, support::hardened_config().with_throttle(throttle)).await;
    const N: usize = 16;
    for round in 0..12 {
        for spread in [false, true] {
            let email = format!("race{round}-{spread}@example.com");
            let (a, b) = if spread { (&c, &d) } else { (&a, &b) };
            let barrier = Arc::new(Barrier::new(N));
            let tasks = (0..N).map(|i| {
                let on = if i % 2 == 0 { a.clone() } else { b.clone() };
                let (email, barrier) = (email.clone(), Arc::clone(&barrier));
                let client = if spread {
                    format!("198.51.{round}.{i}")
                } else {
                    "192.0.2.77".to_owned()
                };
                tokio::spawn(async move {
                    barrier.wait().await;
                    login(&on, &email, "wrong guess", &client).await
                })
            });
            let (results, checked, held) = tally(tasks).await;
            let limit = if spread { 4 } else { 5 };
            assert_eq!(
                (checked, held),
                (limit, N - limit),
                "round {round}: {results:?}"
            );
        }
    }
}

/// 96 wrong guesses at once from one client on one account, spread over both instances,
/// each with a deep hashing queue (64, the demo's `AUTH_HASHING_QUEUE=64`): exactly the 5
/// free failures reach bcrypt, every other one is held back (those that waited for the
/// attempts in flight too), never an overload. Several rounds, each on a fresh account.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flood_of_guesses_with_a_deep_hashing_queue_checks_only_the_free_failures() {
    let Some(db) = support::postgres::database().await else {
        return;
    };
    let config = support::hardened_config().with_hashing_pool(2, 64);
    let (a, b, _) = two_instances(&db, config).await;
    const N: usize = 96;
    for round in 0..3 {
        let email = format!("flood{round}@example.com");
        a.register(&email, support::GOOD_PW, None).await.unwrap();
        let barrier = Arc::new(Barrier::new(N));
        let tasks = (0..N).map(|i| {
            let on = if i % 2 == 0 { a.clone() } else { b.clone() };
            let (email, barrier) = (email.clone(), Arc::clone(&barrier));
            tokio::spawn(async move {
                barrier.wait().await;
                login(&on, &email, "wrong guess", "192.0.2.66").await
            })
        });
        let (_, checked, held) = tally(tasks).await;
        assert_eq!((checked, held), (5, N - 5), "round {round}");
    }
}

/// The counters are keyed by a digest of the email (never the email, never a password) and
/// an address; expired ones are purged by `purge_expired`.
#[tokio::test]
async fn throttle_counters_hold_no_email_nor_password_and_are_purged() {
    let Some(db) = support::postgres::database().await else {
        return;
    };
    let (a, _b, clock) = two_instances(&db, support::hardened_config()).await;
    let secret = "a guess nobody should store";
    for client in ["192.0.2.1", "2001:db8::1"] {
        assert_eq!(
            login(&a, "Someone@Example.com", secret, client).await,
            Ok(false)
        );
    }
    let _ = a
        .request_password_reset("someone@example.com", ip("192.0.2.1"))
        .await;
    let _ = a
        .register("new@example.com", support::GOOD_PW, ip("192.0.2.1"))
        .await;
    let client = db.client().await;
    let rows = client
        .query("SELECT t::text, kind FROM throttle t", &[])
        .await
        .unwrap();
    let kinds: std::collections::BTreeSet<i16> = rows.iter().map(|r| r.get(1)).collect();
    assert_eq!(kinds.into_iter().collect::<Vec<_>>(), [1, 2, 3, 4, 5, 6]);
    let dump: String = rows.iter().map(|r| r.get::<_, String>(0)).collect();
    for needle in ["omeone", "xample", secret, "new@"] {
        assert!(
            !dump.to_lowercase().contains(&needle.to_lowercase()),
            "{needle} in {dump}"
        );
    }
    let hex = |s: &str| s.bytes().map(|b| format!("{b:02x}")).collect::<String>();
    assert!(!dump.contains(&hex("someone")), "an email in {dump}");
    // An hour and the longest backoff later, every counter but the account's consecutive
    // failures has expired; a day after the failure, that one too: the purge removes them.
    clock.advance(Duration::from_secs(3600 + 15 * 60 + 1));
    a.purge_expired().await.unwrap();
    let kinds: Vec<i16> = client
        .query("SELECT DISTINCT kind FROM throttle", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(kinds, [2]);
    clock.advance(Duration::from_secs(24 * 3600));
    a.purge_expired().await.unwrap();
    let left: i64 = client
        .query_one("SELECT count(*) FROM throttle", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(left, 0);
}

/// When the throttle's table cannot be used, logins, registrations and reset requests fail
/// closed: 500 with a JSON body, not an unthrottled attempt; once it is back they work.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttle_database_error_fails_closed_with_500_json() {
    let Some(db) = support::postgres::database().await else {
        return;
    };
    let auth = Auth::new(db.store().await, support::seed_config()).expect("valid");
    let svc = support::service(&auth);
    const CREDS: &[(&str, &str)] = &[("email", "o@x.io"), ("password", "pw")];
    const OTHER: &[(&str, &str)] = &[("email", "p@x.io"), ("password", "pw")];
    let send = |path: &'static str, body: &'static [(&'static str, &'static str)]| {
        let svc = svc.clone();
        async move {
            let req = request_from("192.0.2.1", Method::POST, path, &[], Body::Form(body));
            call(&svc, req).await
        }
    };
    assert_eq!(send("/users", CREDS).await.status, StatusCode::OK);
    let client = db.client().await;
    client
        .batch_execute("ALTER TABLE throttle RENAME TO throttle_away")
        .await
        .unwrap();
    assert_error(
        &send("/sessions", CREDS).await,
        StatusCode::INTERNAL_SERVER_ERROR,
    );
    assert_error(
        &send("/users", OTHER).await,
        StatusCode::INTERNAL_SERVER_ERROR,
    );
    assert_error(
        &send("/reset_password", &[("email", "o@x.io")]).await,
        StatusCode::INTERNAL_SERVER_ERROR,
    );
    assert!(
        auth.store()
            .find_user_by(UserQuery::Email("p@x.io".into()))
            .await
            .is_err()
    );
    client
        .batch_execute("ALTER TABLE throttle_away RENAME TO throttle")
        .await
        .unwrap();
    let back = send("/sessions", CREDS).await;
    assert_eq!(back.status, StatusCode::OK, "{}", back.body);
}
