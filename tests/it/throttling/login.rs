//! B. Login throttling: item 7.

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

/// Item 7: the client address is the connection's (the `PeerAddr` in the extensions); an
/// `X-Forwarded-For` header is ignored when no proxy is trusted.
#[tokio::test]
async fn item_07_client_is_the_peer_address_forwarded_header_ignored_by_default() {
    let h = Harness::seed();
    let email = "xff@example.com";
    h.registered(email, "pw").await;
    for i in 0..5 {
        let xff = format!("203.0.113.{i}");
        let res = h.send(login_via("198.51.100.8", &xff, email, "x")).await;
        assert_eq!(res.status, 401);
    }
    let res = h
        .send(login_via("198.51.100.8", "203.0.113.250", email, "pw"))
        .await;
    assert_eq!(
        res.status, 429,
        "a forged X-Forwarded-For evaded throttling"
    );
}

/// Item 7: "an attacker at one address cannot lock the owner out from another for more
/// than minutes", and a per-client ceiling against credential stuffing. An IPv6 host
/// routinely holds a whole /64 (SLAAC privacy addresses; 2^64 addresses), so one attacking
/// host that rotates its address within its /64 must count as one client: its failures must
/// meet the pair backoff and the per-client ceiling, and must not be able to drive the
/// owner's account into the per-account ceiling.
#[tokio::test]
async fn item_07_ipv6_host_rotating_addresses_in_its_64_meets_the_per_client_ceiling() {
    let h = Harness::seed();
    h.registered("v6owner@example.com", "owner-pw").await;
    let attacker = |n: u32| format!("2001:db8:aaaa:bbbb::{:x}", n + 1);

    // Credential stuffing from one /64: the per-client ceiling must hold.
    for i in 0..100u32 {
        fail(&h, &format!("stuffed{i}@example.com"), &attacker(i), 1).await;
    }
    let res = h
        .login_from("v6owner@example.com", "owner-pw", &attacker(5000))
        .await;
    assert_eq!(
        res.status, 429,
        "100 failures from one IPv6 /64 did not reach the per-client ceiling: the client is \
         keyed by its full 128-bit address"
    );
}

/// Item 7 (see the test above): one IPv6 host rotating addresses within its /64 on one
/// account, as fast as it is allowed, for an hour: the owner elsewhere must keep access.
#[tokio::test]
async fn item_07_ipv6_host_rotating_addresses_in_its_64_cannot_lock_out_owner() {
    let h = Harness::seed();
    let attacker = |n: u32| format!("2001:db8:aaaa:bbbb::{n:x}");
    attack_while_owner_logs_in(&h, attacker, HOUR).await;
}

/// Item 7: with trusted proxies configured, `X-Forwarded-For` from a trusted peer decides the
/// client (its rightmost untrusted hop); from an untrusted peer it is ignored.
#[tokio::test]
async fn item_07_trusted_proxies_decide_which_forwarded_for_is_believed() {
    let email = "proxied@example.com";
    let h = behind_proxies(email).await;

    // Behind the proxy, client 203.0.113.7 fails five times (its leftmost hop is forged).
    for i in 0..5 {
        let xff = format!("6.6.6.{i}, 203.0.113.7");
        let res = h.send(login_via("10.0.0.1", &xff, email, "x")).await;
        assert_eq!(res.status, 401);
    }
    // That client is throttled, whichever forged hop it puts first and whichever proxy.
    let res = h
        .send(login_via("10.0.0.2", "9.9.9.9, 203.0.113.7", email, "pw"))
        .await;
    assert_eq!(res.status, 429);
    // Another client behind the same proxy is not.
    let res = h
        .send(login_via("10.0.0.1", "203.0.113.8", email, "pw"))
        .await;
    assert_eq!(res.status, 200, "{}", res.text());

    // An untrusted peer cannot pick its address with the header.
    for i in 0..5 {
        let xff = format!("203.0.113.{}", 100 + i);
        let res = h.send(login_via("198.51.100.1", &xff, email, "x")).await;
        assert_eq!(res.status, 401);
    }
    let res = h
        .send(login_via("198.51.100.1", "203.0.113.200", email, "pw"))
        .await;
    assert_eq!(res.status, 429);
}

/// Item 7: a request from a trusted proxy with no parseable untrusted `X-Forwarded-For` entry
/// (none at all, garbage, or only trusted hops) is counted as "an unknown client behind that
/// proxy": such requests meet their own per-client ceiling, and never the key of the proxy's
/// own address (an IPv6 proxy's /64, where other clients may be), nor another proxy's.
#[tokio::test]
async fn item_07_unknown_clients_behind_a_proxy_have_their_own_key_not_the_proxys() {
    let throttle = ThrottleConfig::default().with_failure_ceilings(1000, 6);
    let config = seed_config()
        .with_trusted_proxies(["10.0.0.1", "10.0.0.2", "2001:db8:ffff:1::1"])
        .with_throttle(throttle);
    let h = Harness::new(config);
    h.registered("own@example.com", "pw").await;
    let proxy = "2001:db8:ffff:1::1";
    let unknown: [&[&[u8]]; 6] = [
        &[],
        &[b"unknown"],
        &[b"\xff\xfe"],
        &[b"10.0.0.2"],
        &[b"203.0.113.7, _hidden"],
        &[b"[2001:db8::1"],
    ];
    for (i, xff) in unknown.iter().enumerate() {
        let email = format!("stuffed{i}@example.com");
        let res = h.send(login_via_raw(proxy, xff, &email, "x")).await;
        assert_eq!(res.status, 401, "{xff:?}");
    }
    // Unknown clients behind that proxy have met their ceiling, whatever garbage they send.
    for xff in unknown {
        let res = h
            .send(login_via_raw(proxy, xff, "own@example.com", "pw"))
            .await;
        assert_eq!(res.status, 429, "{xff:?}");
    }
    // A client in the proxy's /64, connecting directly, is not held back by them...
    let res = h
        .login_from("own@example.com", "pw", "2001:db8:ffff:1::99")
        .await;
    assert_eq!(
        res.status, 200,
        "unknown clients behind the proxy were counted as the proxy itself"
    );
    // ...nor is a client that the proxy names, nor unknown clients behind other proxies.
    let res = h
        .send(login_via_raw(
            proxy,
            &[b"203.0.113.9"],
            "own@example.com",
            "pw",
        ))
        .await;
    assert_eq!(res.status, 200);
    for other in ["10.0.0.1", "10.0.0.2"] {
        let res = h
            .send(login_via_raw(other, &[b"garbage"], "own@example.com", "pw"))
            .await;
        assert_eq!(res.status, 200, "behind {other}");
    }
}

/// Item 7: the client behind a trusted proxy is the rightmost untrusted `X-Forwarded-For`
/// entry (ports allowed; several headers are one list); whatever a throttled client puts to
/// its left (garbage, non-ASCII or non-UTF-8 bytes, another header) it stays throttled.
#[tokio::test]
async fn item_07_garbage_left_of_the_client_cannot_escape_its_throttle() {
    let email = "garbage@example.com";
    let h = behind_proxies(email).await;
    for _ in 0..5 {
        let res = h
            .send(login_via_raw("10.0.0.1", &[b"203.0.113.7"], email, "x"))
            .await;
        assert_eq!(res.status, 401);
    }
    let escapes: [&[&[u8]]; 8] = [
        &[b"203.0.113.7"],
        &[b"nonsense, 203.0.113.7"],
        &[b"\xff\xfe, 203.0.113.7"],
        &[b"caf\xc3\xa9, 203.0.113.7, 10.0.0.9"],
        &[b"\x80", b"203.0.113.7"],
        &[b"203.0.113.7:5678"],
        &[b"unknown, 203.0.113.7:1, 10.0.0.5:443"],
        &[b"[::1]:x, 203.0.113.7", b""],
    ];
    for xff in escapes {
        let res = h.send(login_via_raw("10.0.0.2", xff, email, "pw")).await;
        assert_eq!(res.status, 429, "escaped with {xff:?}: {}", res.text());
    }
    // An IPv6 client with a port, behind the proxy, is throttled as itself (its /64).
    let v6 = |xff: &'static [u8], pw| h.send(login_via_raw("10.0.0.1", &[xff], email, pw));
    for _ in 0..5 {
        assert_eq!(v6(b"[2001:db8:1:2::7]:443", "x").await.status, 401);
    }
    assert_eq!(v6(b"\xff, 2001:db8:1:2::8", "pw").await.status, 429);
}

/// Item 7, over a real TCP socket: the server puts the peer address in the extensions (as
/// the demo does) and throttling keys on it.
#[tokio::test]
async fn item_07_throttling_over_a_real_socket_uses_the_connection_address() {
    let h = Harness::seed();
    let email = "tcp@example.com";
    h.registered(email, "pw").await;
    let server = serve_echo(&h.auth).await;
    let addr = server.addr;
    let login = |pw: &str| {
        form(
            Method::POST,
            "/sessions",
            &[("email", email), ("password", pw)],
        )
    };
    for i in 0..5 {
        let req = with_header(login("x"), "x-forwarded-for", &format!("203.0.113.{i}"));
        assert_eq!(http(addr, req).await.status, 401);
    }
    let res = http(addr, login("pw")).await;
    assert_eq!(res.status, 429, "{}", res.text());
    assert_eq!(res.retry_after(), Some(1));
    // The same account from another address (not over this socket) is fine.
    assert_eq!(h.login_from(email, "pw", "203.0.113.9").await.status, 200);
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

/// The owner's password in the device-cookie tests (long enough for the hardened policy).
const OWNER_PW: &str = "correct horse battery staple";

/// `POST /sessions` from `peer`, presenting the device cookie `device` if given.
async fn login_with_device(
    h: &Harness,
    email: &str,
    pw: &str,
    peer: &str,
    device: Option<&str>,
) -> crate::support::Answer {
    let mut req = from_peer(login_request(email, pw), peer);
    if let Some(device) = device {
        req = with_header(req, "cookie", &format!("device={device}"));
    }
    h.send(req).await
}

/// 20 addresses × 5 wrong guesses on `email`: the per-account ceiling (100 an hour).
async fn distributed_attack(h: &Harness, email: &str) {
    for i in 0..20u32 {
        fail(h, email, &format!("198.18.{i}.1"), 5).await;
    }
}

/// Item 7 (OWASP device cookies): a distributed guessing attack that trips the per-account
/// ceiling does not lock out the owner: a login presenting the device token that an earlier
/// successful login set is not subject to the per-account lockout (200), while a fresh client
/// without one is (429).
#[tokio::test]
async fn item_07_owner_with_a_device_token_logs_in_through_a_distributed_attack() {
    let h = Harness::hardened();
    let email = "owner@example.com";
    h.registered(email, OWNER_PW).await;
    let owner = "203.0.113.5";
    let first = login_with_device(&h, email, OWNER_PW, owner, None).await;
    assert_eq!(first.status, 200, "{}", first.text());
    let device = first.cookie("device").expect("a device cookie");
    distributed_attack(&h, email).await;
    let fresh = login_with_device(&h, email, OWNER_PW, "192.0.2.77", None).await;
    assert_eq!(fresh.status, 429, "{}", fresh.text());
    let res = login_with_device(&h, email, OWNER_PW, owner, Some(&device)).await;
    assert_eq!(res.status, 200, "{}", res.text());
    assert!(res.session_cookie().is_some());
}

/// The stored record of the device token `device`, if any.
async fn device_record(h: &Harness, device: &str) -> Option<DeviceRecord> {
    let digest = DeviceToken::parse(device).expect("a device token").digest();
    h.store.device_token(digest).await.expect("store")
}

/// Item 7 (device cookies): a device token's own backoff: failures in a row count against
/// it, a success resets them (and the account's consecutive failures), and the 5th in a row
/// revokes it: a 6th attempt with it counts as one without a token (the per-account lockout
/// applies again).
#[tokio::test]
async fn item_07_a_device_token_failing_five_times_in_a_row_is_revoked() {
    let h = Harness::hardened();
    let email = "owner@example.com";
    h.registered(email, OWNER_PW).await;
    let owner = "203.0.113.5";
    let first = login_with_device(&h, email, OWNER_PW, owner, None).await;
    let device = first.cookie("device").expect("a device cookie");
    distributed_attack(&h, email).await;
    let guess = |pw: &'static str| login_with_device(&h, email, pw, owner, Some(&device));
    for i in 0..4 {
        let res = guess("wrong guess").await;
        assert_eq!(res.status, 401, "failure {i}: {}", res.text());
    }
    assert_eq!(device_record(&h, &device).await.expect("kept").failures, 4);
    // A success resets the count (and gives the same token back).
    let ok = guess(OWNER_PW).await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert_eq!(ok.cookie("device").as_deref(), Some(device.as_str()));
    assert_eq!(device_record(&h, &device).await.expect("kept").failures, 0);
    // The owner's success started the account's consecutive failures again: a new attack
    // trips the ceiling again.
    for i in 0..20u32 {
        fail(&h, email, &format!("198.19.{i}.1"), 5).await;
    }
    for i in 0..5 {
        let res = guess("wrong guess").await;
        assert_eq!(res.status, 401, "failure {i}: {}", res.text());
    }
    assert!(device_record(&h, &device).await.is_none(), "not revoked");
    let sixth = guess(OWNER_PW).await;
    assert_eq!(sixth.status, 429, "{}", sixth.text());
    assert!(sixth.cookie("device").is_none());
}

/// Item 7 (device cookies): a device token issued for another account counts as none: it
/// spares no one the lockout of this account, and is not charged for this account's failures.
#[tokio::test]
async fn item_07_a_device_token_of_another_account_gives_no_exemption() {
    let h = Harness::hardened();
    let (owner, other) = ("owner@example.com", "other@example.com");
    h.registered(owner, OWNER_PW).await;
    h.registered(other, OWNER_PW).await;
    let peer = "203.0.113.5";
    let res = login_with_device(&h, other, OWNER_PW, peer, None).await;
    let foreign = res.cookie("device").expect("a device cookie");
    distributed_attack(&h, owner).await;
    let res = login_with_device(&h, owner, OWNER_PW, peer, Some(&foreign)).await;
    assert_eq!(res.status, 429, "{}", res.text());
    let record = device_record(&h, &foreign).await.expect("kept");
    assert_eq!(record.failures, 0);
    // It still serves its own account.
    let res = login_with_device(&h, other, OWNER_PW, peer, Some(&foreign)).await;
    assert_eq!(res.status, 200, "{}", res.text());
}

/// Item 7 (device cookies), concurrency over real sockets: guesses sent at once with one
/// device token, while the account is locked, get at most 5 answers of 401 between them
/// (each attempt is counted before its password is checked); the others are 429, and the
/// token ends revoked. Repeated with fresh tokens.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn item_07_parallel_guesses_with_one_device_token_cannot_exceed_five_failures() {
    const ROUNDS: usize = 8;
    const PARALLEL: usize = 12;
    let h = Harness::hardened();
    let email = "owner@example.com";
    h.registered(email, OWNER_PW).await;
    let mut devices = Vec::new();
    for _ in 0..ROUNDS {
        let res = login_with_device(&h, email, OWNER_PW, "203.0.113.5", None).await;
        devices.push(res.cookie("device").expect("a device cookie"));
    }
    distributed_attack(&h, email).await;
    let server = serve_echo(&h.auth).await;
    for device in devices {
        let cookie = format!("device={device}");
        let requests = (0..PARALLEL)
            .map(|_| with_header(login_request(email, "wrong guess"), "cookie", &cookie))
            .collect();
        let statuses = at_once(server.addr, requests).await;
        let failures = statuses.iter().filter(|&&s| s == 401).count();
        assert!(failures <= 5, "{failures} guesses checked: {statuses:?}");
        assert!(
            statuses.iter().all(|&s| s == 401 || s == 429),
            "{statuses:?}"
        );
        assert!(device_record(&h, &device).await.is_none(), "not revoked");
    }
}
