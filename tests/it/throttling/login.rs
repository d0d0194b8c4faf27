//! B. Login throttling: item 7.

mod clients;
mod devices;

use std::time::Duration;

use http::{HeaderValue, Method, Request};
use tower_user_auth::{
    ThrottleConfig,
    store::{DeviceRecord, prelude::*},
    token::DeviceToken,
};

use super::concurrency::at_once;
use crate::{
    security::{HOUR, SEC, message},
    support::{FullBody, Harness, form, from_peer, http, seed_config, serve_echo, with_header},
};

/// `n` failed logins on `email` from `peer`, each answered 401.
async fn fail(h: &Harness, email: &str, peer: &str, n: usize) {
    for i in 0..n {
        let res = h.login_from(email, "wrong guess", peer).await;
        assert_eq!(res.status, 401, "failure {i} from {peer}: {}", res.text());
    }
}

/// `POST /sessions` with `email` and `pw`.
fn login_request(email: &str, pw: &str) -> Request<FullBody> {
    form(
        Method::POST,
        "/sessions",
        &[("email", email), ("password", pw)],
    )
}

/// A login from the connection `peer` whose `X-Forwarded-For` says `xff`.
fn login_via(peer: &str, xff: &str, email: &str, pw: &str) -> Request<FullBody> {
    login_via_raw(peer, &[xff.as_bytes()], email, pw)
}

/// A login from the connection `peer` with one `X-Forwarded-For` header per item of `xffs`,
/// as raw bytes (a header value need not be UTF-8).
fn login_via_raw(peer: &str, xffs: &[&[u8]], email: &str, pw: &str) -> Request<FullBody> {
    let mut req = from_peer(login_request(email, pw), peer);
    for xff in xffs {
        let value = HeaderValue::from_bytes(xff).expect("header value");
        req.headers_mut().append("x-forwarded-for", value);
    }
    req
}

/// A harness that trusts the proxies of 10.0.0.0/8, with `email` registered (password `pw`).
async fn behind_proxies(email: &str) -> Harness {
    let h = Harness::new(seed_config().with_trusted_proxies(["10.0.0.0/8"]));
    h.registered(email, "pw").await;
    h
}

/// Item 7: after 5 failures from one address on one account, 429 with `Retry-After` in
/// seconds, the correct password included; the backoff starts at 1 s, doubles, and is capped
/// at 15 minutes; another address is not held back; it ends after the wait and a success
/// clears it.
#[tokio::test]
async fn item_07_backoff_after_five_failures_doubles_to_a_cap_correct_password_included() {
    let h = Harness::seed();
    let email = "victim@example.com";
    h.registered(email, "right").await;
    let attacker = "198.51.100.66";
    fail(&h, email, attacker, 5).await;
    let res = h.login_from(email, "right", attacker).await;
    assert_eq!(res.status, 429, "{}", res.text());
    assert_eq!(res.retry_after(), Some(1));
    assert!(res.session_cookie().is_none());
    assert!(!message(&res).is_empty());
    // The owner elsewhere is not held back.
    assert_eq!(
        h.login_from(email, "right", "203.0.113.5").await.status,
        200
    );

    // Each further failure doubles the wait, up to 900 s.
    let mut expected = 1u64;
    let mut seen = Vec::new();
    loop {
        h.advance(Duration::from_secs(expected));
        fail(&h, email, attacker, 1).await;
        let res = h.login_from(email, "right", attacker).await;
        assert_eq!(res.status, 429);
        let got = res.retry_after().expect("Retry-After");
        expected = (expected * 2).min(900);
        assert_eq!(got, expected, "after {seen:?}");
        seen.push(got);
        if seen.iter().filter(|&&s| s == 900).count() == 2 {
            break;
        }
    }
    assert_eq!(seen[..4], [2, 4, 8, 16]);
    // Not over yet one second before the end...
    h.advance(Duration::from_secs(899));
    assert_eq!(h.login_from(email, "right", attacker).await.status, 429);
    // ...over after it; the success clears the backoff.
    h.advance(SEC);
    assert_eq!(h.login_from(email, "right", attacker).await.status, 200);
    fail(&h, email, attacker, 4).await;
    assert_eq!(h.login_from(email, "right", attacker).await.status, 200);
}

/// Item 7: an attacker failing as fast as allowed, for `how_long`, from the addresses
/// `attacker(n)`, never locks the owner (at another address) out. Returns the number of
/// failures and of 429 answers the attacker got.
async fn attack_while_owner_logs_in(
    h: &Harness,
    attacker: impl Fn(u32) -> String,
    how_long: Duration,
) -> (u32, u32) {
    let email = "owner@example.com";
    h.registered(email, "owner-pw").await;
    let (mut elapsed, mut n, mut failures, mut throttled) = (Duration::ZERO, 0, 0, 0);
    while elapsed < how_long {
        n += 1;
        let res = h.login_from(email, "guess", &attacker(n)).await;
        match res.status.as_u16() {
            401 => failures += 1,
            429 => {
                throttled += 1;
                let wait = Duration::from_secs(res.retry_after().unwrap());
                h.advance(wait);
                elapsed += wait;
            }
            other => panic!("unexpected {other}"),
        }
        let owner = h.login_from(email, "owner-pw", "203.0.113.80").await;
        assert_eq!(
            owner.status, 200,
            "the owner was locked out after {n} attempts, {elapsed:?}"
        );
    }
    (failures, throttled)
}

/// Item 7: an attacker at one address failing as fast as allowed for two hours never locks
/// the owner out from another address, and its backoff keeps it far below the per-account
/// ceiling.
#[tokio::test]
async fn item_07_attacker_at_one_address_cannot_lock_out_owner_elsewhere() {
    let h = Harness::seed();
    let (failures, throttled) =
        attack_while_owner_logs_in(&h, |_| "198.51.100.7".to_owned(), 2 * HOUR).await;
    assert!(throttled > 10, "{throttled}");
    assert!(failures < 60, "{failures} failures in two hours");
}

/// Item 7: at most 100 consecutive failures per account, from any number of addresses; then
/// 429 for everyone, the correct password included: not lifted after an hour (the count is
/// of failures in a row, not per hour), forgotten a day after the last failure.
#[tokio::test]
async fn item_07_per_account_ceiling_across_addresses() {
    let h = Harness::seed();
    let email = "target@example.com";
    h.registered(email, "pw").await;
    for i in 0..25u32 {
        // Four failures per address: never the per-pair backoff.
        fail(&h, email, &format!("10.1.0.{}", i + 1), 4).await;
    }
    let res = h.login_from(email, "pw", "203.0.113.200").await;
    assert_eq!(res.status, 429, "{}", res.text());
    let wait = res.retry_after().unwrap();
    assert!((3600..=24 * 3600).contains(&wait), "{wait}");
    // Other accounts are not affected.
    h.registered("other@example.com", "pw").await;
    assert_eq!(
        h.login_from("other@example.com", "pw", "203.0.113.200")
            .await
            .status,
        200
    );
    h.advance(HOUR);
    assert_eq!(h.login_from(email, "pw", "203.0.113.200").await.status, 429);
    h.advance(23 * HOUR);
    assert_eq!(h.login_from(email, "pw", "203.0.113.200").await.status, 200);
}

/// Item 7: a per-client ceiling across accounts (credential stuffing): 100 failures from one
/// address on 100 accounts, then 429 on any account from that address only.
#[tokio::test]
async fn item_07_per_client_ceiling_across_accounts() {
    let h = Harness::seed();
    h.registered("real@example.com", "pw").await;
    let stuffer = "198.51.100.99";
    for i in 0..100 {
        fail(&h, &format!("victim{i}@example.com"), stuffer, 1).await;
    }
    let res = h.login_from("real@example.com", "pw", stuffer).await;
    assert_eq!(res.status, 429);
    assert!(res.retry_after().unwrap() <= 3600);
    let elsewhere = h.login_from("real@example.com", "pw", "203.0.113.1").await;
    assert_eq!(elsewhere.status, 200);
    h.advance(HOUR);
    let later = h.login_from("real@example.com", "pw", stuffer).await;
    assert_eq!(later.status, 200);
}

/// Item 7: both ceilings are configurable; once the per-account ceiling is reached the wait
/// runs until the consecutive count decays (far longer than the first backoff).
#[tokio::test]
async fn item_07_failure_ceilings_are_configurable() {
    let throttle = ThrottleConfig::default().with_failure_ceilings(8, 6);
    let h = Harness::new(seed_config().with_throttle(throttle));
    h.registered("w@example.com", "pw").await;
    // Credential stuffing from one address: one failure on each of six accounts.
    let stuffer = "203.0.113.7";
    for i in 0..6 {
        fail(&h, &format!("victim{i}@example.com"), stuffer, 1).await;
    }
    let res = h.login_from("w@example.com", "pw", stuffer).await;
    assert_eq!(res.status, 429, "per-client ceiling of 6");
    // Many addresses on one account: the account ceiling of 8 holds for everyone.
    for i in 0..8 {
        fail(&h, "w@example.com", &format!("192.0.2.{}", i + 20), 1).await;
    }
    let res = h.login_from("w@example.com", "pw", "192.0.2.200").await;
    assert_eq!(res.status, 429, "per-account ceiling of 8");
    assert!(res.retry_after().unwrap() > 60, "{:?}", res.retry_after());
}

/// Item 7: bounded memory. The bound itself is proven by the unit test
/// `src/throttle/limiter/tests.rs::memory_stays_bounded_under_a_spray` (it reads the tables' sizes);
/// here, with a table bound of 64 entries, a spray of 600 (account, address) pairs leaves
/// throttling working for a pair attacked afterwards, and legitimate logins unaffected.
#[tokio::test]
async fn item_07_throttling_keeps_working_with_bounded_tables_under_a_spray() {
    let h =
        Harness::new(seed_config().with_throttle(ThrottleConfig::default().with_max_entries(64)));
    h.registered("steady@example.com", "pw").await;
    for i in 0..600u32 {
        let peer = format!("10.2.{}.{}", i / 250, i % 250 + 1);
        fail(&h, &format!("spray{i}@example.com"), &peer, 1).await;
    }
    fail(&h, "steady@example.com", "198.51.100.5", 5).await;
    let attacked = h
        .login_from("steady@example.com", "pw", "198.51.100.5")
        .await;
    assert_eq!(attacked.status, 429);
    let other = h
        .login_from("steady@example.com", "pw", "198.51.100.6")
        .await;
    assert_eq!(other.status, 200);
}

/// Item 7: guessing the current password at PUT /profile/password (with a stolen session)
/// is throttled like a login: 5 failures, then 429 even with the right password.
#[tokio::test]
async fn item_07_password_change_guesses_throttled() {
    let h = Harness::seed();
    h.registered("pc@example.com", "right").await;
    let c = h.session("pc@example.com", "right").await;
    for _ in 0..5 {
        assert_eq!(h.change_password(&c, "guess", "new").await.status, 403);
    }
    let res = h.change_password(&c, "right", "new").await;
    assert_eq!(res.status, 429, "{}", res.text());
    assert_eq!(res.retry_after(), Some(1));
    let elsewhere = h.login_from("pc@example.com", "right", "203.0.113.3").await;
    assert_eq!(elsewhere.status, 200);
    h.advance(SEC);
    assert_eq!(h.change_password(&c, "right", "new").await.status, 200);
}
