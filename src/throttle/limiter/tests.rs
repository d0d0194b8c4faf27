//! The in-memory throttle's unit tests: backoff, ceilings, quotas, reservations, memory bound.
use std::{net::Ipv4Addr, time::UNIX_EPOCH};

use super::*;
use crate::throttle::Limits;

fn ip(n: u32) -> Option<IpAddr> {
    Some(IpAddr::V4(Ipv4Addr::from(n)))
}

#[test]
fn backoff_starts_after_free_failures_and_doubles_to_a_cap() {
    let t = Throttle::new(ThrottleConfig::default());
    let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
    for _ in 0..4 {
        t.record_failure("bob@x.io", ip(1), now);
        assert_eq!(t.check_failures("bob@x.io", ip(1), now), Ok(()));
    }
    t.record_failure("bob@x.io", ip(1), now);
    assert_eq!(
        t.check_failures("BOB@x.io ", ip(1), now),
        Err(Duration::from_secs(1))
    );
    // Another address is not held back by this pair.
    assert_eq!(t.check_failures("bob@x.io", ip(2), now), Ok(()));
    t.record_failure("bob@x.io", ip(1), now);
    assert_eq!(
        t.check_failures("bob@x.io", ip(1), now),
        Err(Duration::from_secs(2))
    );
    for _ in 0..20 {
        t.record_failure("bob@x.io", ip(1), now);
    }
    assert_eq!(
        t.check_failures("bob@x.io", ip(1), now),
        Err(Duration::from_secs(900))
    );
    let later = now + Duration::from_secs(901);
    assert_eq!(t.check_failures("bob@x.io", ip(1), later), Ok(()));
    t.clear("bob@x.io", ip(1));
    t.record_failure("bob@x.io", ip(1), later);
    assert_eq!(t.check_failures("bob@x.io", ip(1), later), Ok(()));
}

#[test]
fn per_account_and_per_client_ceilings() {
    let t = Throttle::new(ThrottleConfig::default().with_failure_ceilings(10, 7));
    let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
    // Seven accounts from one address: the client ceiling.
    for i in 0..7 {
        t.record_failure(&format!("u{i}@x.io"), ip(9), now);
    }
    assert!(t.check_failures("fresh@x.io", ip(9), now).is_err());
    assert!(t.check_failures("fresh@x.io", ip(10), now).is_ok());
    // Ten addresses on one account: the account ceiling, from anywhere.
    for i in 0..10 {
        t.record_failure("target@x.io", ip(100 + i), now);
    }
    assert!(t.check_failures("target@x.io", ip(999), now).is_err());
    // The client's ceiling is per hour; the account's counts failures in a row, until
    // a day after the last.
    let later = now + HOUR;
    assert!(t.check_failures("fresh@x.io", ip(9), later).is_ok());
    assert!(t.check_failures("target@x.io", ip(999), later).is_err());
    let later = now + CONSECUTIVE_DECAY;
    assert!(t.check_failures("target@x.io", ip(999), later).is_ok());
}

#[test]
fn quotas_for_registration_and_reset_requests() {
    let t = Throttle::new(
        ThrottleConfig::default()
            .with_registrations_per_hour(2)
            .with_reset_requests_per_hour(2, 3),
    );
    let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
    assert!(t.registration(ip(1), now).is_ok());
    assert!(t.registration(ip(1), now).is_ok());
    assert!(t.registration(ip(1), now).is_err());
    assert!(t.registration(ip(2), now).is_ok());
    let reset = |email: &str, client| t.quota(Quota::ResetRequest, email, client, now);
    assert!(reset("a@x.io", ip(1)).is_ok());
    assert!(reset("a@x.io", ip(2)).is_ok());
    assert!(reset("a@x.io", ip(3)).is_err());
    assert!(reset("b@x.io", ip(1)).is_ok());
    assert!(reset("c@x.io", ip(1)).is_ok());
    assert!(reset("d@x.io", ip(1)).is_err());
    // Confirmation resends count apart, with the same limits.
    let resend = |email: &str, client| t.quota(Quota::ConfirmationResend, email, client, now);
    assert!(resend("a@x.io", ip(4)).is_ok());
    assert!(resend("a@x.io", ip(5)).is_ok());
    assert!(resend("A@x.io ", ip(6)).is_err());
    assert!(reset("a@x.io", ip(7)).is_err());
    // So do email-change tokens, per target address.
    let mail = |email: &str, client| t.quota(Quota::EmailChangeMail, email, client, now);
    assert!(mail("a@x.io", ip(8)).is_ok());
    assert!(mail("A@X.io", ip(9)).is_ok());
    assert!(mail(" a@x.io", ip(10)).is_err());
    assert!(mail("b@x.io", ip(10)).is_ok());
}

#[test]
fn memory_stays_bounded_under_a_spray() {
    let t = Throttle::new(ThrottleConfig::default().with_max_entries(1000));
    let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
    for i in 0..50_000u32 {
        t.record_failure(&format!("user{i}@x.io"), ip(i), now);
        let _ = t.registration(ip(i), now);
        let _ = t.quota(Quota::ResetRequest, &format!("user{i}@x.io"), ip(i), now);
    }
    assert!(t.entries() <= 6 * 1000, "{}", t.entries());
}

#[test]
fn ipv6_clients_are_counted_by_their_64() {
    let t = Throttle::new(ThrottleConfig::default().with_failure_ceilings(100, 3));
    let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
    let addr = |s: &str| Some(s.parse::<IpAddr>().unwrap());
    for (i, a) in ["2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:ffff::3"]
        .iter()
        .enumerate()
    {
        t.record_failure(&format!("v{i}@x.io"), addr(a), now);
    }
    assert!(
        t.check_failures("fresh@x.io", addr("2001:db8:1:2:abcd::9"), now)
            .is_err()
    );
    assert!(
        t.check_failures("fresh@x.io", addr("2001:db8:1:3::1"), now)
            .is_ok()
    );
    assert_eq!(
        client_key("::ffff:192.0.2.1".parse().unwrap()),
        "192.0.2.1".parse::<IpAddr>().unwrap()
    );
}

/// Whom the attempts of [`parallel_failures`] are on and from.
#[derive(Clone, Copy, Debug)]
enum Spread {
    /// One account, one client.
    Pair,
    /// One account, a client each.
    Clients,
    /// An account each, one client.
    Accounts,
}

/// `PARALLEL` attempts released together on `limits`, spread as `spread` over keys of
/// their own (`round`), each checking for a while and failing: how many were let through.
async fn parallel_failures(
    limits: &std::sync::Arc<Limits>,
    spread: Spread,
    round: u32,
    now: SystemTime,
) -> usize {
    const PARALLEL: u32 = 48;
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(PARALLEL as usize));
    let base = 1000 * (round + 1) * 64;
    let tasks: Vec<_> = (0..PARALLEL)
        .map(|i| {
            let (limits, barrier) = (limits.clone(), barrier.clone());
            let (email, client) = match spread {
                Spread::Pair => (format!("pair{round}@x.io"), ip(base)),
                Spread::Clients => (format!("account{round}@x.io"), ip(base + 1 + i)),
                Spread::Accounts => (format!("spray{round}-{i}@x.io"), ip(base + 999)),
            };
            tokio::spawn(async move {
                barrier.wait().await;
                match limits.attempt(&email, client, now).await.expect("memory") {
                    Ok(attempt) => {
                        // The check of the secret (bcrypt, a code): other attempts
                        // arrive meanwhile.
                        tokio::time::sleep(Duration::from_millis(5)).await;
                        limits.failed(attempt, now);
                        1
                    }
                    Err(_) => 0,
                }
            })
        })
        .collect();
    let mut through = 0;
    for task in tasks {
        through += task.await.expect("no panic");
    }
    through
}

/// However many attempts arrive at once, on many threads, no more are let through to
/// the check than the free failures of the (account, client) pair, the per-account
/// ceiling across clients, and the per-client ceiling across accounts: each attempt is
/// reserved with the limit check. Many rounds, each on fresh keys.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reservations_never_exceed_the_free_failures_nor_the_ceilings() {
    let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
    let low_ceilings = ThrottleConfig::default()
        .with_free_failures(5)
        .with_failure_ceilings(4, 3);
    let cases = [
        // The lowest limit binds: one client on one account, the client's ceiling;
        // many clients on one account, the account's; one client on many accounts,
        // the client's again; with high ceilings, the pair's free failures.
        (low_ceilings.clone(), Spread::Pair, 3),
        (low_ceilings.clone(), Spread::Clients, 4),
        (low_ceilings, Spread::Accounts, 3),
        (ThrottleConfig::default(), Spread::Pair, 5),
    ];
    for (config, spread, limit) in cases {
        let limits = std::sync::Arc::new(Limits::new(config, None));
        for round in 0..10 {
            let through = parallel_failures(&limits, spread, round, now).await;
            assert_eq!(through, limit, "{spread:?}, round {round}");
        }
    }
}

/// Attempts that all end well (the right secret: a success, or a conflict released) are
/// never refused for the reservations of each other: those beyond the free failures
/// wait for the ones in flight instead of getting 429.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn attempts_beyond_the_free_failures_wait_for_those_in_flight() {
    const PARALLEL: usize = 24;
    let config = ThrottleConfig::default().with_free_failures(3);
    let limits = std::sync::Arc::new(Limits::new(config, None));
    let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(PARALLEL));
    let tasks: Vec<_> = (0..PARALLEL)
        .map(|i| {
            let (limits, barrier) = (limits.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                let attempt = limits.attempt("right@x.io", ip(1), now).await;
                let attempt = attempt.expect("memory").expect("not held back");
                tokio::time::sleep(Duration::from_millis(5)).await;
                if i == 0 {
                    limits.succeeded(attempt).await;
                } else {
                    limits.released(attempt).await;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("every attempt let through");
    }
}

/// An attempt dropped without a report (its request cancelled midway) counts as a
/// failure, as the shared counters count it.
#[tokio::test]
async fn an_attempt_dropped_without_a_report_is_a_failure() {
    let limits = Limits::new(ThrottleConfig::default(), None);
    let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
    for i in 0..5 {
        let attempt = limits
            .attempt("drop@x.io", ip(1), now)
            .await
            .expect("memory");
        drop(attempt.unwrap_or_else(|wait| panic!("attempt {i} held back for {wait:?}")));
    }
    let sixth = limits
        .attempt("drop@x.io", ip(1), now)
        .await
        .expect("memory");
    assert_eq!(sixth.err(), Some(Duration::from_secs(1)));
}

/// The per-account ceiling counts consecutive failures (NIST SP 800-63B 5.2.2): a success
/// starts it again, an hour does not; past the ceiling only an exempt attempt (a trusted
/// device) goes through, and its success starts the count again too. The count decays
/// after a day without a failure.
#[tokio::test]
async fn the_account_ceiling_counts_consecutive_failures_a_success_starts_it_again() {
    let config = ThrottleConfig::default().with_failure_ceilings(3, 1000);
    let limits = Limits::new(config, None);
    let mut now = UNIX_EPOCH + Duration::from_secs(1_000_000);
    let fail = |client: u32, now: SystemTime| {
        let limits = &limits;
        async move {
            let attempt = limits
                .attempt("c@x.io", ip(client), now)
                .await
                .expect("memory");
            limits.failed(attempt.expect("not held back"), now);
        }
    };
    fail(1, now).await;
    fail(2, now).await;
    let ok = limits.attempt("c@x.io", ip(3), now).await.expect("memory");
    limits.succeeded(ok.expect("not held back")).await;
    // Two more in a row, then the third: the ceiling holds for everyone.
    fail(4, now).await;
    fail(5, now).await;
    fail(6, now).await;
    let held = limits.attempt("c@x.io", ip(7), now).await.expect("memory");
    assert!(
        held.is_err(),
        "the 3rd consecutive failure reached the ceiling"
    );
    // Not per hour: two hours later it still holds.
    now += 2 * HOUR;
    let held = limits.attempt("c@x.io", ip(7), now).await.expect("memory");
    assert!(held.is_err(), "the ceiling lifted after an hour");
    // The owner's device: let through, and its success starts the count again.
    limits.succeeded(limits.exempt("c@x.io", ip(8))).await;
    fail(9, now).await;
    fail(10, now).await;
    let ok = limits.attempt("c@x.io", ip(11), now).await.expect("memory");
    limits
        .released(ok.expect("two consecutive failures, under the ceiling"))
        .await;
    fail(12, now).await;
    assert!(
        limits
            .attempt("c@x.io", ip(13), now)
            .await
            .expect("memory")
            .is_err()
    );
    // A day without a failure: forgotten.
    now += 24 * HOUR;
    assert!(
        limits
            .attempt("c@x.io", ip(13), now)
            .await
            .expect("memory")
            .is_ok()
    );
}

#[test]
fn disabled_never_throttles() {
    let t = Throttle::new(ThrottleConfig::disabled());
    let now = UNIX_EPOCH;
    for _ in 0..100 {
        t.record_failure("a@x.io", ip(1), now);
    }
    assert!(t.check_failures("a@x.io", ip(1), now).is_ok());
}
