//! Device tokens: the owner presenting one logs in through a distributed attack; one failing
//! five times in a row is revoked, also under parallel guesses; another account's gives no
//! exemption.

use super::*;

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
