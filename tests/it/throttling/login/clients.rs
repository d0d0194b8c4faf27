//! Which client a guess counts against: the peer address (the forwarded header ignored by
//! default), trusted proxies and the rightmost untrusted entry, unknown clients behind a proxy,
//! garbage left of the client, IPv6 hosts by their /64, the connection's address over a socket.

use super::*;

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
