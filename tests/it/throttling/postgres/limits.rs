//! Shared limits: the backoff, the failure ceilings per client and per account, concurrent
//! password changes with the right password, and device tokens, whichever instance is asked.

use crate::support;
use futures_util::future::join_all;
use std::{sync::Arc, time::Duration};
use tokio::sync::Barrier;
use tower_user_auth::auth::Login;
use tower_user_auth::{AuthError, ThrottleConfig};

use super::{ip, login, two_instances};

/// The account backoff trips after the 5th failure whichever instance each guess went to
/// (alternately A and B), is seen by both, doubles with the next failure, ends after its
/// wait, and a success on one instance clears it for both; another address is not held back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_backoff_trips_at_the_same_count_on_either_instance() {
    let Some(db) = support::postgres::database().await else {
        return;
    };
    let (a, b, clock) = two_instances(&db, support::hardened_config()).await;
    let (email, pw, attacker) = ("victim@example.com", support::GOOD_PW, "198.51.100.66");
    a.register(email, pw, None).await.unwrap();
    for i in 0..5 {
        let on = if i % 2 == 0 { &a } else { &b };
        assert_eq!(
            login(on, email, "wrong guess", attacker).await,
            Ok(false),
            "failure {i}"
        );
    }
    // The 6th attempt, the right password included, is held back on both, for 1 s.
    assert_eq!(login(&a, email, pw, attacker).await, Err(1));
    assert_eq!(login(&b, email, pw, attacker).await, Err(1));
    // The owner elsewhere is not.
    assert_eq!(login(&b, email, pw, "203.0.113.5").await, Ok(true));
    clock.advance(Duration::from_secs(1));
    assert_eq!(login(&b, email, "wrong guess", attacker).await, Ok(false));
    assert_eq!(login(&a, email, pw, attacker).await, Err(2));
    clock.advance(Duration::from_secs(2));
    assert_eq!(login(&a, email, pw, attacker).await, Ok(true));
    // Cleared for both: four failures in a row from the attacker are free again.
    for i in 0..4 {
        let on = if i % 2 == 0 { &b } else { &a };
        assert_eq!(
            login(on, email, "wrong guess", attacker).await,
            Ok(false),
            "failure {i}"
        );
    }
    assert_eq!(login(&b, email, pw, attacker).await, Ok(true));
}

/// The hourly ceilings count failures from both instances: per client across accounts, per
/// account across clients; an hour later they are lifted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_failure_ceilings_per_client_and_per_account() {
    let Some(db) = support::postgres::database().await else {
        return;
    };
    let throttle = ThrottleConfig::default().with_failure_ceilings(10, 7);
    let (a, b, clock) =
        two_instances(&db, support::hardened_config().with_throttle(throttle)).await;
    let pair = [&a, &b];
    // Successes are no failures: more than the ceilings, through both, all log in.
    a.register("ok@example.com", support::GOOD_PW, None)
        .await
        .unwrap();
    for i in 0..12 {
        let on = pair[i % 2];
        let ok = login(on, "ok@example.com", support::GOOD_PW, "192.0.2.9").await;
        assert_eq!(ok, Ok(true), "success {i}");
    }
    for i in 0..7 {
        let on = pair[i % 2];
        let email = format!("u{i}@example.com");
        assert_eq!(
            login(on, &email, "wrong guess", "192.0.2.9").await,
            Ok(false)
        );
    }
    for on in pair {
        assert!(
            login(on, "fresh@example.com", "x", "192.0.2.9")
                .await
                .is_err()
        );
        assert_eq!(
            login(on, "fresh@example.com", "x", "192.0.2.10").await,
            Ok(false)
        );
    }
    for i in 0..10 {
        let on = pair[i % 2];
        let client = format!("198.51.100.{}", 100 + i);
        assert_eq!(
            login(on, "target@example.com", "wrong", &client).await,
            Ok(false)
        );
    }
    // The account's ceiling counts failures in a row: still there an hour later, forgotten
    // a day after the last one; the client's is per hour.
    for hours in [0, 1] {
        clock.advance(Duration::from_secs(hours * 3600));
        for on in pair {
            let held = login(on, "target@example.com", "x", "203.0.113.99").await;
            assert!(held.is_err(), "{hours} h later");
        }
    }
    for on in pair {
        assert_eq!(
            login(on, "fresh@example.com", "x", "192.0.2.9").await,
            Ok(false)
        );
    }
    clock.advance(Duration::from_secs(23 * 3600));
    for on in pair {
        assert_eq!(
            login(on, "target@example.com", "x", "203.0.113.99").await,
            Ok(false)
        );
    }
}

/// The per-account ceiling counts consecutive failures on both instances (NIST SP 800-63B
/// 5.2.2), not failures per hour: a login of the owner on either starts it again; 4 in a row
/// hold everyone back, still two hours later; a reset through the mailbox starts it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_account_ceiling_counts_consecutive_failures() {
    let Some(db) = support::postgres::database().await else {
        return;
    };
    let throttle = ThrottleConfig::default().with_failure_ceilings(4, 1000);
    let config = support::hardened_config()
        .with_throttle(throttle)
        .with_reset_token_in_response(true);
    let (a, b, clock) = two_instances(&db, config).await;
    let pair = [&a, &b];
    let (email, pw) = ("row@example.com", support::GOOD_PW);
    a.register(email, pw, None).await.unwrap();
    let fail = |n: usize| {
        let on = pair[n % 2];
        async move {
            let client = format!("198.51.100.{n}");
            assert_eq!(
                login(on, email, "wrong guess", &client).await,
                Ok(false),
                "{n}"
            );
        }
    };
    for n in 0..3 {
        fail(n).await;
    }
    assert_eq!(login(&b, email, pw, "203.0.113.1").await, Ok(true));
    for n in 3..6 {
        fail(n).await;
    }
    assert_eq!(
        login(&a, email, pw, "203.0.113.2").await,
        Ok(true),
        "a success did not start the count again"
    );
    for n in 6..10 {
        fail(n).await;
    }
    clock.advance(Duration::from_secs(2 * 3600));
    for on in pair {
        assert!(login(on, email, pw, "203.0.113.3").await.is_err(), "lapsed");
    }
    let requested = b.request_password_reset(email, ip("203.0.113.4")).await;
    let Ok(tower_user_auth::ResetRequested::Token(token)) = requested else {
        panic!("{requested:?}");
    };
    let new_pw = "another good password 42";
    a.reset_password(email, token.expose(), new_pw, ip("203.0.113.4"))
        .await
        .expect("the reset is not held back by the ceiling");
    assert_eq!(login(&b, email, new_pw, "203.0.113.5").await, Ok(true));
}

/// Ten password changes at once on one session with the right current password, spread
/// over both instances, are not throttled: those beyond the free failures wait until the
/// attempts in flight are taken back; one changes the password, nine meet the changed
/// credentials. Several rounds (bcrypt cost 8, so that all ten read the account first).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn shared_concurrent_password_changes_with_the_right_password_are_not_throttled() {
    let Some(db) = support::postgres::database().await else {
        return;
    };
    let config = support::hardened_config().with_bcrypt_cost(8);
    let (a, b, _) = two_instances(&db, config).await;
    const N: usize = 10;
    for round in 0..3 {
        let email = format!("typist{round}@example.com");
        a.register(&email, support::GOOD_PW, None).await.unwrap();
        let session = a
            .log_in(Login::new(&email, support::GOOD_PW).with_client(ip("192.0.2.5")))
            .await
            .unwrap()
            .expect("logged in")
            .token;
        let session = Arc::new(session);
        let barrier = Arc::new(Barrier::new(N));
        let tasks = (0..N).map(|i| {
            let on = if i % 2 == 0 { a.clone() } else { b.clone() };
            let (session, barrier) = (Arc::clone(&session), Arc::clone(&barrier));
            tokio::spawn(async move {
                barrier.wait().await;
                let new = format!("a new good password {i}");
                on.change_password(&session, support::GOOD_PW, &new, None, ip("192.0.2.5"))
                    .await
                    .map(drop)
            })
        });
        let results: Vec<_> = join_all(tasks)
            .await
            .into_iter()
            .map(|r| r.expect("no panic"))
            .collect();
        let changed = results.iter().filter(|r| r.is_ok()).count();
        let conflicts = results
            .iter()
            .filter(|r| matches!(r, Err(AuthError::CredentialsChanged)))
            .count();
        assert_eq!(
            (changed, conflicts),
            (1, N - 1),
            "round {round}: {results:?}"
        );
    }
}

/// A device token issued through instance A spares its owner the per-account lockout on
/// instance B: after 20 addresses × 5 wrong guesses spread over both, the owner with the
/// token logs in on B, a fresh client without one is held back on either.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_token_from_one_instance_works_on_the_other() {
    let Some(db) = support::postgres::database().await else {
        return;
    };
    let throttle = ThrottleConfig::default().with_failure_ceilings(100, 100);
    let (a, b, _clock) =
        two_instances(&db, support::hardened_config().with_throttle(throttle)).await;
    let (email, pw) = ("owner@example.com", support::GOOD_PW);
    a.register(email, pw, None).await.unwrap();
    let first = a
        .log_in(Login::new(email, pw).with_client(ip("203.0.113.7")))
        .await
        .unwrap()
        .expect("logged in");
    let device = first.device.expect("a device token").token;
    for n in 0..20 {
        let client = format!("198.51.100.{n}");
        for i in 0..5 {
            let on = if (n + i) % 2 == 0 { &a } else { &b };
            assert_eq!(login(on, email, "wrong guess", &client).await, Ok(false));
        }
    }
    for on in [&a, &b] {
        assert!(
            login(on, email, pw, "192.0.2.200").await.is_err(),
            "a fresh client"
        );
    }
    let owner = b
        .log_in(
            Login::new(email, pw)
                .with_client(ip("203.0.113.7"))
                .with_device(Some(&device)),
        )
        .await
        .expect("no error")
        .expect("the owner logs in with the device token from A");
    assert_eq!(owner.user.email, email);

    // A login with the device token clears its address's backoff on every instance.
    let (email, home) = ("typist@example.com", "203.0.113.8");
    a.register(email, pw, None).await.unwrap();
    let first = b
        .log_in(Login::new(email, pw).with_client(ip(home)))
        .await
        .unwrap()
        .expect("logged in");
    let device = first.device.expect("a device token").token;
    for i in 0..5 {
        let on = if i % 2 == 0 { &a } else { &b };
        assert_eq!(login(on, email, "mistyped", home).await, Ok(false));
    }
    assert!(login(&a, email, pw, home).await.is_err(), "held back");
    let with_device = a
        .log_in(
            Login::new(email, pw)
                .with_client(ip(home))
                .with_device(Some(&device)),
        )
        .await;
    assert!(matches!(with_device, Ok(Some(_))), "{with_device:?}");
    assert_eq!(login(&b, email, "mistyped again", home).await, Ok(false));
}
