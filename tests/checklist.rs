//! One or more tests per item of `SECURITY.md` (the 31-item checklist), named
//! `item_NN_...`. Items 29 and 30 (the audit log) are proven in `tests/audit_log.rs`, which
//! installs a global `tracing` subscriber and so runs in its own test binary; this file
//! checks the parts of them that need no global subscriber.
//!
//! Everything runs against a real redb file in a temporary directory, at bcrypt cost 4, with
//! a `ManualClock` for expiry and backoff (no sleeps), through `AuthLayer` around an echo app
//! (`tower::ServiceExt::oneshot`) or over a real TCP socket with hyper. The two timing tests
//! (items 6 and 17) use bcrypt cost 8 and compare medians with a generous margin.

mod checklist_common;

use std::{
    collections::BTreeSet,
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use bytes::Bytes;
use checklist_common::*;
use http::{Method, Request, StatusCode, header};
use http_body::Frame;
use http_body_util::StreamBody;
use serde_json::Value;
use tower::{Layer, ServiceExt};
use tower_user_auth::{
    Auth, AuthConfig, AuthError, AuthLayer, AuthenticatedUser, BoxError, ThrottleConfig, UserId,
    error::PasswordError,
    password::{self, PasswordPolicy},
    store::{EndSessions, PasswordReset, RedbStore, ResetRecord, Store, UserUpdate},
    token::{ResetToken, SessionId, SessionToken, TokenDigest},
};

const SEC: Duration = Duration::from_secs(1);
const MIN: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);

fn message(res: &Resp) -> String {
    res.json()["message"]
        .as_str()
        .unwrap_or_else(|| panic!("no message in {}", res.text()))
        .to_owned()
}

fn assert_no_5xx(res: &Resp, what: &str) {
    assert!(
        !res.status.is_server_error(),
        "{what}: {} {}",
        res.status,
        res.text()
    );
}

// =============================================================================================
// A. Passwords
// =============================================================================================

/// Item 1: a password bcrypt cannot hash faithfully (over 72 bytes, multibyte text over 72
/// bytes, NUL) is refused with 400 and a message saying why, in both profiles; 72 bytes are
/// accepted and hashed faithfully (a longer password sharing the first 72 bytes does not log
/// in).
#[tokio::test]
async fn item_01_passwords_never_truncated_over_72_bytes_or_nul_refused_with_reason() {
    for h in [Harness::seed(), Harness::hardened()] {
        let profile = h.auth.config().profile();
        let ascii73 = "x".repeat(73);
        let res = h.register("long@example.com", &ascii73).await;
        assert_eq!(res.status, 400, "{profile}: {}", res.text());
        let m = message(&res);
        assert!(m.contains("72") && m.contains("bytes"), "{profile}: {m}");
        assert!(!h.user_exists("long@example.com").await);

        // 25 characters, 75 bytes: over the limit although short in characters.
        let euro = "€".repeat(25);
        let res = h.register("euro@example.com", &euro).await;
        assert_eq!(res.status, 400, "{profile}: {}", res.text());
        assert!(message(&res).contains("72"), "{profile}: {}", res.text());
        assert!(!h.user_exists("euro@example.com").await);

        let nul = "abcdefghijkl\0mnopqrstuv";
        let res = h.register("nul@example.com", nul).await;
        assert_eq!(res.status, 400, "{profile}: {}", res.text());
        assert!(message(&res).contains("NUL"), "{profile}: {}", res.text());
        assert!(!h.user_exists("nul@example.com").await);

        // Exactly 72 bytes: accepted, and only that password logs in.
        let pw72 = "x".repeat(72);
        h.registered("edge@example.com", &pw72).await;
        assert_eq!(h.login("edge@example.com", &pw72).await.status, 200);
        let longer = format!("{pw72}anything");
        assert_eq!(h.login("edge@example.com", &longer).await.status, 401);
        assert_eq!(
            h.login("edge@example.com", &"x".repeat(71)).await.status,
            401
        );

        // The Rust API refuses the same way.
        let err = h
            .auth
            .register_user("api@example.com", &ascii73)
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                AuthError::InvalidPassword(PasswordError::TooLong { bytes: 73 })
            ),
            "{err:?}"
        );

        // And so does the change of password.
        let cookie = h.session("edge@example.com", &pw72).await;
        let res = h.change_password(&cookie, &pw72, &ascii73).await;
        assert_eq!(res.status, 400, "{}", res.text());
        assert!(message(&res).contains("72"));
        let res = h.change_password(&cookie, &pw72, nul).await;
        assert_eq!(res.status, 400, "{}", res.text());
        assert_eq!(h.login("edge@example.com", &pw72).await.status, 200);
    }
}

/// Item 2: the hardened policy: at least 12 characters (counted as characters, not bytes),
/// no composition rules, spaces and any Unicode allowed, common passwords and the email
/// refused with the reason in the message; the minimum is configurable.
#[tokio::test]
async fn item_02_hardened_policy_min_12_chars_no_composition_unicode_ok() {
    let h = Harness::hardened();
    let res = h.register("short@example.com", "zqxjvkwpmrt").await; // 11
    assert_eq!(res.status, 400, "{}", res.text());
    assert!(
        message(&res).contains("at least 12 characters"),
        "{}",
        res.text()
    );
    assert!(!h.user_exists("short@example.com").await);

    // 11 two-byte characters (22 bytes) are still too short: characters count.
    let res = h.register("short2@example.com", &"é".repeat(11)).await;
    assert_eq!(res.status, 400, "{}", res.text());

    for (i, pw) in [
        "zqxjvkwpmrtb",             // 12 lowercase letters: no composition rules
        "ünïcödé pässwörd",         // Unicode and a space
        "  spaces all around  ",    // leading and trailing spaces are kept
        "🔑🔑🔑🔑🔑🔑🔑🔑🔑🔑🔑🔑", // 12 characters, 48 bytes
        &"é".repeat(12),
    ]
    .into_iter()
    .enumerate()
    {
        let email = format!("ok{i}@example.com");
        h.registered(&email, pw).await;
        assert_eq!(h.login(&email, pw).await.status, 200, "{pw:?}");
        // The password is used as given, not trimmed.
        if pw.starts_with(' ') {
            assert_eq!(h.login(&email, pw.trim()).await.status, 401);
        }
    }
}

/// Item 2: common passwords (from a shipped list of at least 10,000) and the email itself
/// are refused, with the reason in the message.
#[tokio::test]
async fn item_02_hardened_refuses_common_passwords_and_the_email() {
    let h = Harness::hardened();
    for pw in [
        "qwerty123456",
        "1q2w3e4r5t6y",
        "123456654321",
        "QWERTY123456",
        "  qazwsxedcrfv ",
    ] {
        let res = h.register("common@example.com", pw).await;
        assert_eq!(res.status, 400, "{pw}: {}", res.text());
        assert!(message(&res).contains("common"), "{pw}: {}", res.text());
    }
    assert!(!h.user_exists("common@example.com").await);

    let res = h
        .register("Someone.Long@Example.com", "someone.long@example.COM")
        .await;
    assert_eq!(res.status, 400, "{}", res.text());
    assert!(message(&res).contains("email"), "{}", res.text());
    assert!(!h.user_exists("someone.long@example.com").await);
}

/// Item 2: the shipped list holds at least 10,000 passwords and the policy refuses every one.
#[test]
fn item_02_the_shipped_common_password_list_is_large_and_used() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/src/password/common-passwords.txt"
    );
    let list = std::fs::read_to_string(path).expect("the shipped list of common passwords");
    let entries: Vec<&str> = list
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    assert!(entries.len() >= 10_000, "{} entries", entries.len());
    let policy = PasswordPolicy::hardened().with_min_chars(1);
    for e in &entries {
        assert!(password::is_common(e), "{e:?}");
        if password::check_hashable(e).is_ok() {
            assert_eq!(
                policy.check(e, "nobody@example.com"),
                Err(PasswordError::TooCommon),
                "{e:?}"
            );
        }
    }
}

/// Item 2: the minimum length is configurable; the seed profile accepts the seed client's
/// five-character passwords.
#[tokio::test]
async fn item_02_min_length_configurable_and_seed_accepts_short() {
    let h = Harness::new(
        hardened_config().with_password_policy(PasswordPolicy::hardened().with_min_chars(16)),
    );
    let res = h.register("min@example.com", "zqxjvkwpmrtbnhg").await; // 15
    assert_eq!(res.status, 400);
    assert!(message(&res).contains("16"), "{}", res.text());
    h.registered("min@example.com", "zqxjvkwpmrtbnhgf").await;

    let seed = Harness::seed();
    seed.registered("bob@bob.com", "b0bpw").await;
    seed.registered("alice@bob.com", "password").await;
    assert_eq!(seed.login("bob@bob.com", "b0bpw").await.status, 200);
    let res = seed.register("empty@bob.com", "").await;
    assert_eq!(res.status, 400);
}

/// Item 3: the same rules apply to `new_password` at PUT /reset_password (and at PUT
/// /profile/password); a refused password gives 400 and leaves the token usable.
#[tokio::test]
async fn item_03_reset_password_applies_the_same_rules_hardened() {
    let (h, mut inbox) = hardened_with_inbox(hardened_config());
    let email = "reset.rules@example.com";
    h.registered(email, GOOD_PW).await;
    assert_eq!(h.request_reset(email).await.status, 200);
    let (to, token) = inbox.next().await;
    assert_eq!(to, email);

    for (pw, why) in [
        ("shortpw", "at least 12"),
        ("qwerty123456", "common"),
        ("Reset.Rules@example.com", "email"),
        (&*"x".repeat(73), "72"),
        ("abcdefghijklmn\0op", "NUL"),
    ] {
        let res = h.reset(email, &token, pw).await;
        assert_eq!(res.status, 400, "{pw:?}: {}", res.text());
        assert!(message(&res).contains(why), "{pw:?}: {}", res.text());
        assert_eq!(h.login(email, GOOD_PW).await.status, 200);
    }
    // The token is still good after the refusals.
    let res = h.reset(email, &token, OTHER_PW).await;
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(h.login(email, OTHER_PW).await.status, 200);

    // PUT /profile/password: the same rules.
    let cookie = h.session(email, OTHER_PW).await;
    for pw in ["shortpw", "qwerty123456", "reset.rules@example.com"] {
        let res = h.change_password(&cookie, OTHER_PW, pw).await;
        assert_eq!(res.status, 400, "{pw}: {}", res.text());
    }
    assert_eq!(h.login(email, OTHER_PW).await.status, 200);
}

/// Item 3, seed profile: short passwords are fine, unfaithful ones refused, token kept.
#[tokio::test]
async fn item_03_reset_password_applies_the_same_rules_seed() {
    let h = Harness::seed();
    h.registered("bob@bob.com", "b0bpw").await;
    let res = h.request_reset("bob@bob.com").await;
    assert_eq!(res.status, 200);
    let token = res.json()["reset_token"].as_str().unwrap().to_owned();
    for pw in [&*"y".repeat(73), "nul\0pw", &*"€".repeat(25)] {
        let res = h.reset("bob@bob.com", &token, pw).await;
        assert_eq!(res.status, 400, "{pw:?}: {}", res.text());
    }
    let res = h.reset("bob@bob.com", &token, "n3wpw").await;
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(h.login("bob@bob.com", "n3wpw").await.status, 200);
}

/// A `MakeWriter` into a shared buffer, for a subscriber scoped to one thread.
#[derive(Clone, Default)]
struct LogBuf(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogBuf {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl LogBuf {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }

    /// Runs `f` with a subscriber writing here, on this thread only.
    fn capture<T>(&self, f: impl FnOnce() -> T) -> T {
        let writer = self.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::TRACE)
            .finish();
        tracing::subscriber::with_default(subscriber, f)
    }
}

/// Item 4: bcrypt cost 12 by default in both profiles, configurable; below 10 accepted with
/// a warning in the log, 10 and above without; outside 4..=31 refused.
#[test]
fn item_04_bcrypt_cost_default_12_configurable_low_cost_warns() {
    assert_eq!(AuthConfig::default().bcrypt_cost(), 12);
    assert_eq!(AuthConfig::hardened().bcrypt_cost(), 12);
    assert_eq!(AuthConfig::seed().bcrypt_cost(), 12);

    let log = LogBuf::default();
    let c = log.capture(|| AuthConfig::seed().with_bcrypt_cost(10).unwrap());
    assert_eq!(c.bcrypt_cost(), 10);
    assert!(!log.text().contains("WARN"), "{}", log.text());

    let c = log.capture(|| AuthConfig::seed().with_bcrypt_cost(9).unwrap());
    assert_eq!(c.bcrypt_cost(), 9);
    let text = log.text();
    assert!(
        text.contains("WARN") && text.contains("bcrypt cost below 10"),
        "{text}"
    );

    assert!(AuthConfig::seed().with_bcrypt_cost(3).is_err());
    assert!(AuthConfig::seed().with_bcrypt_cost(32).is_err());
}

/// Item 4: new hashes use the configured cost; a stored hash of lower cost is re-hashed at
/// the next successful login (not at a failed one), a higher one is kept.
#[tokio::test]
async fn item_04_lower_cost_hash_rehashed_at_next_successful_login() {
    let h = Harness::seed(); // cost 4
    let email = "rehash@example.com";
    h.registered(email, "pw-rehash").await;
    assert!(h.user(email).await.hashed_password.starts_with("$2b$04$"));

    let stronger = Auth::with_clock(
        h.store.clone(),
        AuthConfig::seed().with_bcrypt_cost(5).unwrap(),
        h.clock.clone(),
    );
    assert!(
        stronger
            .log_in(email, "wrong", None)
            .await
            .unwrap()
            .is_none()
    );
    assert!(h.user(email).await.hashed_password.starts_with("$2b$04$"));
    assert!(
        stronger
            .log_in(email, "pw-rehash", None)
            .await
            .unwrap()
            .is_some()
    );
    let hash = h.user(email).await.hashed_password;
    assert!(hash.starts_with("$2b$05$"), "{hash}");
    assert!(bcrypt::verify("pw-rehash", &hash).unwrap());

    // A cost-4 Auth does not downgrade it.
    assert_eq!(h.login(email, "pw-rehash").await.status, 200);
    assert!(h.user(email).await.hashed_password.starts_with("$2b$05$"));
}

// =============================================================================================
// B. Login and throttling
// =============================================================================================

/// Item 5: unknown email and wrong password: the same status (401), body and headers, in
/// both profiles; the Rust API says `false` for both.
#[tokio::test]
async fn item_05_unknown_email_and_wrong_password_same_401_and_body() {
    for h in [Harness::seed(), Harness::hardened()] {
        h.registered("known@example.com", GOOD_PW).await;
        let wrong = h.login("known@example.com", "not the password").await;
        let unknown = h.login("unknown@example.com", "not the password").await;
        assert_eq!(wrong.status, 401);
        assert_eq!(unknown.status, 401);
        assert_eq!(wrong.body, unknown.body);
        assert_eq!(wrong.headers, unknown.headers);
        assert!(wrong.session_cookie().is_none() && unknown.session_cookie().is_none());
        assert!(
            !h.auth
                .valid_login("known@example.com", "nope")
                .await
                .unwrap()
        );
        assert!(
            !h.auth
                .valid_login("nobody@example.com", "nope")
                .await
                .unwrap()
        );
        assert!(
            h.auth
                .valid_login("known@example.com", GOOD_PW)
                .await
                .unwrap()
        );
    }
}

/// Item 5 (with item 7): throttling answers 429 alike for known and unknown emails.
#[tokio::test]
async fn item_05_throttling_answers_alike_for_known_and_unknown_emails() {
    let h = Harness::seed();
    h.registered("known@example.com", "pw").await;
    for _ in 0..5 {
        assert_eq!(
            h.login_from("known@example.com", "x", "198.51.100.1")
                .await
                .status,
            401
        );
        assert_eq!(
            h.login_from("ghost@example.com", "x", "198.51.100.2")
                .await
                .status,
            401
        );
    }
    let known = h.login_from("known@example.com", "x", "198.51.100.1").await;
    let unknown = h.login_from("ghost@example.com", "x", "198.51.100.2").await;
    assert_eq!(known.status, 429);
    assert_eq!(unknown.status, 429);
    assert_eq!(known.body, unknown.body);
    assert_eq!(known.headers, unknown.headers);
    assert_eq!(known.retry_after(), Some(1));
}

/// Item 6: an unknown email costs one bcrypt verify, so both failures take the same time.
/// Medians of 15 interleaved samples each at bcrypt cost 8, within a factor of 2.
#[tokio::test]
async fn item_06_unknown_email_takes_as_long_as_wrong_password() {
    let config = unthrottled(AuthConfig::seed().with_bcrypt_cost(8).unwrap());
    let h = Harness::new(config);
    h.registered("timed@example.com", "the-password").await;
    let (mut wrong, mut unknown) = (Vec::new(), Vec::new());
    for i in 0..17 {
        let t = Instant::now();
        let a = h.login("timed@example.com", "wrong-password").await;
        let ta = t.elapsed();
        let t = Instant::now();
        let b = h
            .login(&format!("nobody{i}@example.com"), "wrong-password")
            .await;
        let tb = t.elapsed();
        assert_eq!(
            (a.status, b.status),
            (StatusCode::UNAUTHORIZED, StatusCode::UNAUTHORIZED)
        );
        if i >= 2 {
            // The first two are warm-up.
            wrong.push(ta);
            unknown.push(tb);
        }
    }
    let (w, u) = (median(wrong), median(unknown));
    let r = ratio(u, w);
    eprintln!("item 6: unknown email median {u:?}, wrong password median {w:?}, ratio {r:.2}");
    assert!(
        (0.5..=2.0).contains(&r),
        "unknown email median {u:?}, wrong password median {w:?}, ratio {r:.2}"
    );
    // Both really did a bcrypt verify at cost 8 (several milliseconds even optimised).
    assert!(u >= Duration::from_millis(3), "unknown email median {u:?}");
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
    for i in 0..5 {
        let res = h.login_from(email, "wrong", attacker).await;
        assert_eq!(res.status, 401, "failure {i}");
    }
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
        assert_eq!(h.login_from(email, "wrong", attacker).await.status, 401);
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
    for _ in 0..4 {
        assert_eq!(h.login_from(email, "wrong", attacker).await.status, 401);
    }
    assert_eq!(h.login_from(email, "right", attacker).await.status, 200);
}

/// Item 7: an attacker at one address failing as fast as allowed for two hours never locks
/// the owner out from another address.
#[tokio::test]
async fn item_07_attacker_at_one_address_cannot_lock_out_owner_elsewhere() {
    let h = Harness::seed();
    let email = "owner@example.com";
    h.registered(email, "owner-pw").await;
    let (attacker, owner) = ("198.51.100.7", "203.0.113.77");
    let mut elapsed = Duration::ZERO;
    let mut throttled = 0;
    let mut failures = 0;
    while elapsed < 2 * HOUR {
        let res = h.login_from(email, "guess", attacker).await;
        match res.status.as_u16() {
            401 => failures += 1,
            429 => {
                throttled += 1;
                let owner_try = h.login_from(email, "owner-pw", owner).await;
                assert_eq!(owner_try.status, 200, "owner locked out after {elapsed:?}");
                let wait = Duration::from_secs(res.retry_after().unwrap());
                h.advance(wait);
                elapsed += wait;
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert!(throttled > 10, "{throttled}");
    // The backoff keeps one address far below the per-account ceiling.
    assert!(failures < 60, "{failures} failures in two hours");
}

/// Item 7: at most 100 failures per hour per account, from any number of addresses; then
/// 429 for everyone, the correct password included, until the hour has passed.
#[tokio::test]
async fn item_07_per_account_ceiling_across_addresses() {
    let h = Harness::seed();
    let email = "target@example.com";
    h.registered(email, "pw").await;
    for i in 0..100u32 {
        // Four failures per address: never the per-pair backoff.
        let peer = format!("10.1.{}.{}", i / 4 / 250, i / 4 % 250 + 1);
        let res = h.login_from(email, "wrong", &peer).await;
        assert_eq!(res.status, 401, "failure {i}");
    }
    let res = h.login_from(email, "pw", "203.0.113.200").await;
    assert_eq!(res.status, 429, "{}", res.text());
    let wait = res.retry_after().unwrap();
    assert!((1..=3600).contains(&wait), "{wait}");
    // Other accounts are not affected.
    h.registered("other@example.com", "pw").await;
    assert_eq!(
        h.login_from("other@example.com", "pw", "203.0.113.200")
            .await
            .status,
        200
    );
    h.advance(HOUR);
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
        let res = h
            .login_from(&format!("victim{i}@example.com"), "123456", stuffer)
            .await;
        assert_eq!(res.status, 401, "attempt {i}");
    }
    let res = h.login_from("real@example.com", "pw", stuffer).await;
    assert_eq!(res.status, 429);
    assert!(res.retry_after().unwrap() <= 3600);
    assert_eq!(
        h.login_from("real@example.com", "pw", "203.0.113.1")
            .await
            .status,
        200
    );
    h.advance(HOUR);
    assert_eq!(
        h.login_from("real@example.com", "pw", stuffer).await.status,
        200
    );
}

/// Item 7: bounded memory. The bound itself is proven by the unit test
/// `src/throttle.rs::tests::memory_stays_bounded_under_a_spray` (it reads the tables' sizes);
/// here, with a table bound of 64 entries, a spray of 600 (account, address) pairs leaves
/// throttling working for a pair attacked afterwards, and legitimate logins unaffected.
#[tokio::test]
async fn item_07_throttling_keeps_working_with_bounded_tables_under_a_spray() {
    let h =
        Harness::new(seed_config().with_throttle(ThrottleConfig::default().with_max_entries(64)));
    h.registered("steady@example.com", "pw").await;
    for i in 0..600u32 {
        let peer = format!("10.2.{}.{}", i / 250, i % 250 + 1);
        let res = h
            .login_from(&format!("spray{i}@example.com"), "x", &peer)
            .await;
        assert_eq!(res.status, 401);
    }
    for _ in 0..5 {
        assert_eq!(
            h.login_from("steady@example.com", "x", "198.51.100.5")
                .await
                .status,
            401
        );
    }
    assert_eq!(
        h.login_from("steady@example.com", "pw", "198.51.100.5")
            .await
            .status,
        429
    );
    assert_eq!(
        h.login_from("steady@example.com", "pw", "198.51.100.6")
            .await
            .status,
        200
    );
}

/// Item 7: the client address is the connection's (the `PeerAddr` in the extensions); an
/// `X-Forwarded-For` header is ignored when no proxy is trusted.
#[tokio::test]
async fn item_07_client_is_the_peer_address_forwarded_header_ignored_by_default() {
    let h = Harness::seed();
    h.registered("xff@example.com", "pw").await;
    for i in 0..5 {
        let req = with_header(
            from_peer(
                form(
                    Method::POST,
                    "/sessions",
                    &[("email", "xff@example.com"), ("password", "x")],
                ),
                "198.51.100.8",
            ),
            "x-forwarded-for",
            &format!("203.0.113.{i}"),
        );
        assert_eq!(h.send(req).await.status, 401);
    }
    let req = with_header(
        from_peer(
            form(
                Method::POST,
                "/sessions",
                &[("email", "xff@example.com"), ("password", "pw")],
            ),
            "198.51.100.8",
        ),
        "x-forwarded-for",
        "203.0.113.250",
    );
    assert_eq!(
        h.send(req).await.status,
        429,
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
        let res = h
            .login_from(&format!("stuffed{i}@example.com"), "123456", &attacker(i))
            .await;
        assert_eq!(res.status, 401);
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
    h.registered("v6owner@example.com", "owner-pw").await;
    let attacker = |n: u32| format!("2001:db8:aaaa:bbbb::{:x}", n + 1);
    let mut elapsed = Duration::ZERO;
    let mut n = 0;
    while elapsed < HOUR {
        n += 1;
        let res = h
            .login_from("v6owner@example.com", "guess", &attacker(n))
            .await;
        match res.status.as_u16() {
            401 => {}
            429 => {
                let wait = Duration::from_secs(res.retry_after().unwrap());
                h.advance(wait);
                elapsed += wait;
            }
            other => panic!("unexpected {other}"),
        }
        let owner = h
            .login_from("v6owner@example.com", "owner-pw", "203.0.113.80")
            .await;
        assert_eq!(
            owner.status, 200,
            "one IPv6 host rotating through {n} addresses of its /64 locked the owner out \
             (per-account ceiling reached after {elapsed:?})"
        );
    }
}

fn login_via(peer: &str, xff: &str, email: &str, pw: &str) -> Request<Body> {
    with_header(
        from_peer(
            form(
                Method::POST,
                "/sessions",
                &[("email", email), ("password", pw)],
            ),
            peer,
        ),
        "x-forwarded-for",
        xff,
    )
}

/// Item 7: with trusted proxies configured, `X-Forwarded-For` from a trusted peer decides the
/// client (its rightmost untrusted hop); from an untrusted peer it is ignored.
#[tokio::test]
async fn item_07_trusted_proxies_decide_which_forwarded_for_is_believed() {
    let config = seed_config().with_trusted_proxies(["10.0.0.0/8"]).unwrap();
    let h = Harness::new(config);
    let email = "proxied@example.com";
    h.registered(email, "pw").await;

    // Behind the proxy, client 203.0.113.7 fails five times (its leftmost hop is forged).
    for i in 0..5 {
        let xff = format!("6.6.6.{i}, 203.0.113.7");
        assert_eq!(
            h.send(login_via("10.0.0.1", &xff, email, "x")).await.status,
            401
        );
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
        assert_eq!(
            h.send(login_via("198.51.100.1", &xff, email, "x"))
                .await
                .status,
            401
        );
    }
    let res = h
        .send(login_via("198.51.100.1", "203.0.113.200", email, "pw"))
        .await;
    assert_eq!(res.status, 429);
}

/// Item 7, over a real TCP socket: the server puts the peer address in the extensions (as
/// the demo does) and throttling keys on it.
#[tokio::test]
async fn item_07_throttling_over_a_real_socket_uses_the_connection_address() {
    let h = Harness::seed();
    h.registered("tcp@example.com", "pw").await;
    let (addr, server) = serve(h.auth.clone()).await;
    for i in 0..5 {
        let req = with_header(
            form(
                Method::POST,
                "/sessions",
                &[("email", "tcp@example.com"), ("password", "x")],
            ),
            "x-forwarded-for",
            &format!("203.0.113.{i}"),
        );
        assert_eq!(http(addr, req).await.status, 401);
    }
    let req = form(
        Method::POST,
        "/sessions",
        &[("email", "tcp@example.com"), ("password", "pw")],
    );
    let res = http(addr, req).await;
    assert_eq!(res.status, 429, "{}", res.text());
    assert_eq!(res.retry_after(), Some(1));
    // The same account from another address (not over this socket) is fine.
    assert_eq!(
        h.login_from("tcp@example.com", "pw", "203.0.113.9")
            .await
            .status,
        200
    );
    server.abort();
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
    assert_eq!(
        h.login_from("pc@example.com", "right", "203.0.113.3")
            .await
            .status,
        200
    );
    h.advance(SEC);
    assert_eq!(h.change_password(&c, "right", "new").await.status, 200);
}

/// Item 8: credentials are read from the body only, never from the query string.
#[tokio::test]
async fn item_08_credentials_only_in_the_body_never_the_query_string() {
    let h = Harness::seed();
    h.registered("bob@bob.com", "pw").await;

    let res = h
        .send(empty(
            Method::POST,
            "/sessions?email=bob%40bob.com&password=pw",
        ))
        .await;
    assert_eq!(res.status, 400, "{}", res.text());
    assert!(res.session_cookie().is_none());

    let res = h
        .send(form(
            Method::POST,
            "/sessions?password=pw",
            &[("email", "bob@bob.com")],
        ))
        .await;
    assert_eq!(res.status, 400, "{}", res.text());
    assert!(res.session_cookie().is_none());
    assert!(
        h.store
            .sessions_of(h.user("bob@bob.com").await.id)
            .await
            .unwrap()
            .is_empty()
    );

    let res = h
        .send(empty(Method::POST, "/users?email=q%40q.com&password=pw"))
        .await;
    assert_eq!(res.status, 400);
    assert!(!h.user_exists("q@q.com").await);

    let token = h.request_reset("bob@bob.com").await.json()["reset_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = h
        .send(form(
            Method::PUT,
            &format!("/reset_password?reset_token={token}&new_password=hacked"),
            &[("email", "bob@bob.com")],
        ))
        .await;
    assert_eq!(res.status, 400);
    assert_eq!(h.login("bob@bob.com", "pw").await.status, 200);

    let cookie = h.session("bob@bob.com", "pw").await;
    let res = h
        .send(with_cookie(
            empty(
                Method::PUT,
                "/profile/password?current_password=pw&new_password=hacked",
            ),
            &cookie,
        ))
        .await;
    assert_eq!(res.status, 400);
    assert_eq!(h.login("bob@bob.com", "pw").await.status, 200);
}

// =============================================================================================
// C. Sessions and cookies
// =============================================================================================

/// Item 9: every login issues a new session id; an id the server never issued is never
/// accepted; a session id planted before login is not adopted (no fixation).
#[tokio::test]
async fn item_09_new_session_id_at_every_login_unissued_ids_refused_no_fixation() {
    let h = Harness::seed();
    h.registered("bob@bob.com", "pw").await;
    let a = h.session("bob@bob.com", "pw").await;
    let b = h.session("bob@bob.com", "pw").await;
    assert_ne!(a, b);
    assert!(SessionToken::parse(&a).is_some() && SessionToken::parse(&b).is_some());
    assert_eq!(h.profile(&a).await.status, 200);
    assert_eq!(h.profile(&b).await.status, 200);

    // Well-formed ids never issued.
    for forged in [
        uuid::Uuid::new_v4().to_string(),
        "00000000-0000-4000-8000-000000000000".to_owned(),
        a.to_uppercase(),
    ] {
        let res = h.profile(&forged).await;
        assert_eq!(res.status, 403, "{forged}");
        assert!(h.app_get(&forged).await.app_user().is_none(), "{forged}");
    }

    // Fixation: the attacker plants a cookie, the victim logs in carrying it.
    let planted = uuid::Uuid::new_v4().to_string();
    let res = h
        .send(with_cookie(
            form(
                Method::POST,
                "/sessions",
                &[("email", "bob@bob.com"), ("password", "pw")],
            ),
            &planted,
        ))
        .await;
    assert_eq!(res.status, 200);
    let issued = res.session_cookie().unwrap();
    assert_ne!(issued, planted);
    assert_eq!(h.profile(&planted).await.status, 403);
    assert_eq!(h.profile(&issued).await.status, 200);
    assert!(!h.session_stored(&planted).await);
}

/// Item 10: one record per session: several devices; logging out one leaves the others;
/// GET /sessions lists them (exactly one `current`, no token); DELETE /sessions/all ends
/// them all (302, cookie cleared).
#[tokio::test]
async fn item_10_several_devices_logout_one_list_and_end_all() {
    let h = Harness::seed();
    let uid = h.registered("multi@example.com", "pw").await;
    let mut cookies = Vec::new();
    for _ in 0..3 {
        cookies.push(h.session("multi@example.com", "pw").await);
        h.advance(SEC);
    }
    assert_eq!(h.store.sessions_of(uid).await.unwrap().len(), 3);

    let res = h.logout(&cookies[0]).await;
    assert_eq!(res.status, 302);
    assert_eq!(h.profile(&cookies[0]).await.status, 403);
    assert_eq!(h.profile(&cookies[1]).await.status, 200);
    assert_eq!(h.profile(&cookies[2]).await.status, 200);

    let res = h.send(with_cookie(get("/sessions"), &cookies[1])).await;
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(res.header("cache-control"), Some("no-store"));
    let list = res.json();
    let list = list.as_array().expect("a JSON array");
    assert_eq!(list.len(), 2);
    let current: Vec<&Value> = list.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1, "{list:?}");
    assert!(list.iter().all(|s| s["current"].is_boolean()));
    for s in list {
        let id = s["id"].as_str().unwrap();
        assert!(SessionId::parse(id).is_some(), "{id}");
        for k in ["created", "last_seen", "expires"] {
            assert!(s[k].is_u64(), "{k} in {s}");
        }
    }
    // The current one is the session the request came with.
    let seen = h.app_get(&cookies[1]).await.app_user().unwrap();
    assert_eq!(current[0]["id"], seen["session"]);
    for c in &cookies {
        assert!(!res.text().contains(c.as_str()), "a token in the list");
        assert!(!res.text().contains(&c.replace('-', "")));
    }
    // Without a session: 403.
    assert_eq!(h.send(get("/sessions")).await.status, 403);

    let res = h
        .send(with_cookie(
            empty(Method::DELETE, "/sessions/all"),
            &cookies[2],
        ))
        .await;
    assert_eq!(res.status, 302, "{}", res.text());
    assert_eq!(res.header("location"), Some("/"));
    assert!(clears(&res.set_cookie_for("session_id").unwrap()));
    for c in &cookies {
        assert_eq!(h.profile(c).await.status, 403);
    }
    assert!(h.store.sessions_of(uid).await.unwrap().is_empty());
    // Without a session: 403.
    let res = h
        .send(with_cookie(
            empty(Method::DELETE, "/sessions/all"),
            &cookies[2],
        ))
        .await;
    assert_eq!(res.status, 403);
}

/// Item 10: the Rust API: end one session by its public id, or all of them.
#[tokio::test]
async fn item_10_end_one_session_by_id_or_all_through_the_api() {
    let h = Harness::seed();
    let uid = h.registered("api@example.com", "pw").await;
    let a = h.session("api@example.com", "pw").await;
    let b = h.session("api@example.com", "pw").await;
    let id_a = TokenDigest::of(&a).session_id();
    assert!(h.auth.end_session(uid, id_a).await.unwrap());
    assert!(!h.auth.end_session(uid, id_a).await.unwrap());
    assert_eq!(h.profile(&a).await.status, 403);
    assert_eq!(h.profile(&b).await.status, 200);
    // Another user's session cannot be ended by naming it.
    let other = h.registered("other@example.com", "pw").await;
    let id_b = TokenDigest::of(&b).session_id();
    assert!(!h.auth.end_session(other, id_b).await.unwrap());
    assert_eq!(h.profile(&b).await.status, 200);
    let sessions = h.auth.sessions_of(uid).await.unwrap();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].id, id_b);
    assert_eq!(h.auth.end_all_sessions(uid, None).await.unwrap(), 1);
    assert_eq!(h.profile(&b).await.status, 403);
    let c = h.session("api@example.com", "pw").await;
    h.auth.destroy_session(uid).await.unwrap();
    assert_eq!(h.profile(&c).await.status, 403);
}

/// Item 10: at most N sessions per user: a login beyond it ends the oldest.
#[tokio::test]
async fn item_10_max_sessions_per_user_evicts_the_oldest() {
    let h = Harness::new(hardened_config().with_max_sessions_per_user(Some(3)));
    let uid = h.registered("cap@example.com", GOOD_PW).await;
    let mut cookies = Vec::new();
    for _ in 0..5 {
        cookies.push(h.session("cap@example.com", GOOD_PW).await);
        h.advance(SEC);
    }
    assert_eq!(h.store.sessions_of(uid).await.unwrap().len(), 3);
    for (i, c) in cookies.iter().enumerate() {
        let expected = if i < 2 { 403 } else { 200 };
        assert_eq!(h.profile(c).await.status, expected, "session {i}");
    }
}

/// Item 10, PUT /profile/password: 200 `{"email","message":"Password changed"}`; the other
/// sessions end, the current one is kept; a wrong current password 403; a refused new one
/// 400; no session 403.
#[tokio::test]
async fn item_10_change_password_ends_other_sessions_keeps_current() {
    let h = Harness::hardened();
    let email = "changer@example.com";
    let uid = h.registered(email, GOOD_PW).await;
    let current = h.session(email, GOOD_PW).await;
    let other = h.session(email, GOOD_PW).await;

    let res = h
        .change_password(&current, "not my password", OTHER_PW)
        .await;
    assert_eq!(res.status, 403, "{}", res.text());
    assert_eq!(h.profile(&other).await.status, 200);
    let res = h.change_password(&current, GOOD_PW, "tooshort").await;
    assert_eq!(res.status, 400);
    let res = h
        .send(form(
            Method::PUT,
            "/profile/password",
            &[("current_password", GOOD_PW), ("new_password", OTHER_PW)],
        ))
        .await;
    assert_eq!(res.status, 403);
    let res = h
        .change_password(&uuid::Uuid::new_v4().to_string(), GOOD_PW, OTHER_PW)
        .await;
    assert_eq!(res.status, 403);
    assert_eq!(h.login(email, GOOD_PW).await.status, 200);

    let res = h.change_password(&current, GOOD_PW, OTHER_PW).await;
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(
        res.json(),
        serde_json::json!({"email": email, "message": "Password changed"})
    );
    assert_eq!(res.header("cache-control"), Some("no-store"));
    assert_eq!(h.profile(&current).await.status, 200);
    assert_eq!(h.profile(&other).await.status, 403);
    assert_eq!(h.login(email, GOOD_PW).await.status, 401);
    assert_eq!(h.login(email, OTHER_PW).await.status, 200);
    // current + the login just above
    assert_eq!(h.store.sessions_of(uid).await.unwrap().len(), 2);
}

/// Item 11: idle timeout enforced by the server (hardened default 30 minutes), activity
/// keeps a session alive.
#[tokio::test]
async fn item_11_idle_timeout_enforced_activity_keeps_alive() {
    let h = Harness::hardened();
    h.registered("idle@example.com", GOOD_PW).await;
    let c = h.session("idle@example.com", GOOD_PW).await;
    h.advance(29 * MIN);
    assert_eq!(h.profile(&c).await.status, 200);
    h.drain().await;
    h.advance(29 * MIN);
    assert_eq!(h.profile(&c).await.status, 200, "activity did not renew");
    h.drain().await;
    h.advance(30 * MIN + SEC);
    let res = h.profile(&c).await;
    assert_eq!(res.status, 403);
    assert!(clears(&res.set_cookie_for("session_id").unwrap()));
    assert!(h.app_get(&c).await.app_user().is_none());
}

/// Item 11: absolute lifetime enforced whatever the activity (hardened default 12 hours);
/// the cookie's Max-Age is the remaining absolute lifetime.
#[tokio::test]
async fn item_11_absolute_lifetime_enforced_despite_activity() {
    let h = Harness::hardened();
    h.registered("abs@example.com", GOOD_PW).await;
    let res = h.login("abs@example.com", GOOD_PW).await;
    let line = res.set_cookie_for("session_id").unwrap();
    assert!(
        cookie_attributes(&line).contains(&"max-age=43200".to_owned()),
        "{line}"
    );
    let c = res.session_cookie().unwrap();
    let mut t = Duration::ZERO;
    while t + 20 * MIN < 12 * HOUR {
        h.advance(20 * MIN);
        t += 20 * MIN;
        assert_eq!(h.profile(&c).await.status, 200, "at {t:?}");
        h.drain().await;
    }
    h.advance(12 * HOUR - t - SEC);
    assert_eq!(h.profile(&c).await.status, 200);
    h.advance(SEC);
    assert_eq!(h.profile(&c).await.status, 403);

    let seed = Harness::seed();
    seed.registered("abs@example.com", "pw").await;
    let line = seed
        .login("abs@example.com", "pw")
        .await
        .set_cookie_for("session_id")
        .unwrap();
    assert!(
        cookie_attributes(&line).contains(&"max-age=2592000".to_owned()),
        "{line}"
    );
}

/// Item 11: both limits are configurable.
#[tokio::test]
async fn item_11_idle_timeout_and_lifetime_configurable() {
    let config = seed_config()
        .with_session_idle_timeout(5 * MIN)
        .unwrap()
        .with_session_lifetime(HOUR)
        .unwrap();
    let h = Harness::new(config);
    h.registered("conf@example.com", "pw").await;
    let idle = h.session("conf@example.com", "pw").await;
    let active = h.session("conf@example.com", "pw").await;
    let res = h.login("conf@example.com", "pw").await;
    assert!(
        cookie_attributes(&res.set_cookie_for("session_id").unwrap())
            .contains(&"max-age=3600".to_owned())
    );
    for _ in 0..14 {
        h.advance(4 * MIN);
        assert_eq!(h.profile(&active).await.status, 200);
        h.drain().await;
    }
    assert_eq!(h.profile(&idle).await.status, 403);
    h.advance(4 * MIN); // 60 minutes after login, 4 minutes idle
    assert_eq!(h.profile(&active).await.status, 403);
}

/// Item 11: renewal writes the session's `last_seen` at most once per renewal interval
/// (60 s by default), not on every request.
#[tokio::test]
async fn item_11_sliding_renewal_writes_at_most_once_per_interval() {
    let h = Harness::hardened();
    let uid = h.registered("slide@example.com", GOOD_PW).await;
    let c = h.session("slide@example.com", GOOD_PW).await;
    let t0 = start_time();
    let last_seen = || async { h.store.sessions_of(uid).await.unwrap()[0].1.last_seen };
    assert_eq!(last_seen().await, t0);

    for _ in 0..10 {
        h.advance(5 * SEC);
        assert!(h.app_get(&c).await.app_user().is_some());
    }
    h.drain().await;
    assert_eq!(last_seen().await, t0, "written within the renewal interval");

    h.advance(15 * SEC); // 65 s
    assert!(h.app_get(&c).await.app_user().is_some());
    h.drain().await;
    assert_eq!(last_seen().await, t0 + 65 * SEC);

    for _ in 0..5 {
        h.advance(10 * SEC); // up to 115 s: within 60 s of the last write
        assert_eq!(h.profile(&c).await.status, 200);
    }
    h.drain().await;
    assert_eq!(last_seen().await, t0 + 65 * SEC);

    h.advance(20 * SEC); // 135 s
    assert_eq!(h.profile(&c).await.status, 200);
    h.drain().await;
    assert_eq!(last_seen().await, t0 + 135 * SEC);
}

/// Item 12: logout deletes the record and expires the cookie (`Max-Age=0`); the old cookie is
/// refused afterwards and cleared on a pass-through answer.
#[tokio::test]
async fn item_12_logout_deletes_the_record_and_expires_the_cookie() {
    for h in [Harness::seed(), Harness::hardened()] {
        h.registered("out@example.com", GOOD_PW).await;
        let c = h.session("out@example.com", GOOD_PW).await;
        assert!(h.session_stored(&c).await);
        let res = h.logout(&c).await;
        assert_eq!(res.status, 302);
        assert_eq!(res.header("location"), Some("/"));
        let line = res.set_cookie_for("session_id").expect("a Set-Cookie");
        assert!(clears(&line), "{line}");
        let attrs = cookie_attributes(&line);
        assert!(attrs.contains(&"path=/".to_owned()) && attrs.contains(&"httponly".to_owned()));
        assert!(!h.session_stored(&c).await);
        assert_eq!(h.profile(&c).await.status, 403);
        assert_eq!(h.logout(&c).await.status, 403);
        assert_eq!(h.send(empty(Method::DELETE, "/sessions")).await.status, 403);

        // A dead session cookie on the wrapped app's routes: passes without a user, and the
        // answer clears it.
        let calls = h.app_calls();
        let res = h.app_get(&c).await;
        assert_eq!(res.status, 200);
        assert_eq!(h.app_calls(), calls + 1);
        assert!(res.app_user().is_none());
        assert!(clears(&res.set_cookie_for("session_id").expect("cleared")));
        assert_eq!(res.header("cache-control"), Some("no-store"));
    }
}

/// Item 12, over a real socket as the seed's client does it: DELETE /sessions redirects to
/// GET /, which answers without a user.
#[tokio::test]
async fn item_12_logout_redirect_followed_over_a_real_socket() {
    let h = Harness::seed();
    h.registered("sock@example.com", "pw").await;
    let (addr, server) = serve(h.auth.clone()).await;
    let res = http(
        addr,
        form(
            Method::POST,
            "/sessions",
            &[("email", "sock@example.com"), ("password", "pw")],
        ),
    )
    .await;
    assert_eq!(res.status, 200);
    let c = res.session_cookie().unwrap();
    let res = http(addr, with_cookie(empty(Method::DELETE, "/sessions"), &c)).await;
    assert_eq!(res.status, 302);
    let location = res.header("location").unwrap().to_owned();
    assert!(clears(&res.set_cookie_for("session_id").unwrap()));
    let res = http(addr, get(&location)).await;
    assert_eq!(res.status, 200);
    assert!(res.app_user().is_none());
    assert_eq!(
        http(addr, with_cookie(get("/profile"), &c)).await.status,
        403
    );
    server.abort();
}

fn assert_cookie_attributes(line: &str, name: &str, secure: bool) {
    let (n, v) = cookie_name_value(line);
    assert_eq!(n, name, "{line}");
    assert!(!v.is_empty(), "{line}");
    let attrs = cookie_attributes(line);
    for a in ["httponly", "samesite=lax", "path=/"] {
        assert!(attrs.contains(&a.to_owned()), "{a} missing: {line}");
    }
    assert!(!attrs.iter().any(|a| a.starts_with("domain")), "{line}");
    assert_eq!(attrs.contains(&"secure".to_owned()), secure, "{line}");
}

/// Item 13: `HttpOnly; SameSite=Lax; Path=/`, no `Domain`; `Secure` in the hardened profile
/// only; named `session_id` by default.
#[tokio::test]
async fn item_13_cookie_attributes_per_profile() {
    for (h, secure) in [(Harness::seed(), false), (Harness::hardened(), true)] {
        h.registered("attrs@example.com", GOOD_PW).await;
        let res = h.login("attrs@example.com", GOOD_PW).await;
        let line = res.set_cookie_for("session_id").expect("session_id cookie");
        assert_cookie_attributes(&line, "session_id", secure);
        assert_eq!(res.set_cookies().len(), 1);
        let c = res.session_cookie().unwrap();
        let clear = h.logout(&c).await.set_cookie_for("session_id").unwrap();
        let attrs = cookie_attributes(&clear);
        assert_eq!(attrs.contains(&"secure".to_owned()), secure, "{clear}");
        assert!(attrs.contains(&"samesite=lax".to_owned()), "{clear}");
    }
}

/// Item 13: the cookie name is configurable, so that a deployment can use `__Host-`; the
/// layer reads only that name.
#[tokio::test]
async fn item_13_cookie_name_configurable_for_host_prefix() {
    let name = "__Host-session_id";
    let h = Harness::new(hardened_config().with_cookie_name(name).unwrap());
    h.registered("host@example.com", GOOD_PW).await;
    let res = h.login("host@example.com", GOOD_PW).await;
    assert!(res.set_cookie_for("session_id").is_none());
    let line = res.set_cookie_for(name).expect("the configured name");
    assert_cookie_attributes(&line, name, true);
    let token = res.session_cookie_named(name).unwrap();
    let ok = h
        .send(with_header(
            get("/profile"),
            "cookie",
            &format!("{name}={token}"),
        ))
        .await;
    assert_eq!(ok.status, 200);
    // The default name is not read any more.
    assert_eq!(h.profile(&token).await.status, 403);
    assert!(AuthConfig::default().with_cookie_name("bad name").is_err());
}

/// Item 14: the session id is read from the `Cookie` header only (not the query string, not
/// `Authorization`, not another header).
#[tokio::test]
async fn item_14_session_id_read_from_the_cookie_header_only() {
    let h = Harness::seed();
    h.registered("only@example.com", "pw").await;
    let t = h.session("only@example.com", "pw").await;
    assert_eq!(h.profile(&t).await.status, 200);
    let attempts = [
        get(&format!("/profile?session_id={t}")),
        with_header(get("/profile"), "authorization", &format!("Bearer {t}")),
        with_header(get("/profile"), "x-session-id", &t),
        with_header(get("/profile"), "set-cookie", &format!("session_id={t}")),
    ];
    for req in attempts {
        assert_eq!(h.send(req).await.status, 403);
    }
    let res = h.send(get(&format!("/?session_id={t}"))).await;
    assert!(res.app_user().is_none());
}

/// Item 14: a malformed or duplicated session cookie gives 403 (never 500) on /profile and
/// DELETE /sessions, and the answer clears it; on the wrapped app's routes it passes without
/// a user and is cleared.
#[tokio::test]
async fn item_14_malformed_or_duplicated_cookie_403_never_500_and_cleared() {
    let h = Harness::seed();
    h.registered("dup@example.com", "pw").await;
    let t = h.session("dup@example.com", "pw").await;
    let u = h.session("dup@example.com", "pw").await;
    let long = "a".repeat(8000);
    let cookie_lines: Vec<Vec<Vec<u8>>> = vec![
        vec![b"session_id=nope".to_vec()],
        vec![b"session_id=".to_vec()],
        vec![format!("session_id={t}x").into_bytes()],
        vec![format!("session_id=\"{t}\"").into_bytes()],
        vec![format!("session_id={}", t.to_uppercase()).into_bytes()],
        vec![format!("session_id={t}; session_id={t}").into_bytes()],
        vec![format!("session_id={t}; session_id={u}").into_bytes()],
        vec![
            format!("session_id={t}").into_bytes(),
            format!("session_id={u}").into_bytes(),
        ],
        vec![b"session_id=\xff\xfe\xfd".to_vec()],
        vec![format!("theme=dark; session_id={long}").into_bytes()],
        vec![b"session_id=%00%00".to_vec()],
    ];
    for lines in &cookie_lines {
        let build = |mut req: Request<Body>| {
            for l in lines {
                req.headers_mut()
                    .append(header::COOKIE, http::HeaderValue::from_bytes(l).unwrap());
            }
            req
        };
        let shown = String::from_utf8_lossy(&lines[0])
            .chars()
            .take(60)
            .collect::<String>();
        let res = h.send(build(get("/profile"))).await;
        assert_no_5xx(&res, &shown);
        assert_eq!(res.status, 403, "{shown}");
        let line = res.set_cookie_for("session_id").unwrap_or_default();
        assert!(clears(&line), "{shown}: not cleared ({line:?})");

        let res = h.send(build(empty(Method::DELETE, "/sessions"))).await;
        assert_eq!(res.status, 403, "{shown}");
        assert!(clears(
            &res.set_cookie_for("session_id").unwrap_or_default()
        ));

        let res = h.send(build(get("/"))).await;
        assert_eq!(res.status, 200, "{shown}");
        assert!(res.app_user().is_none(), "{shown}");
        assert!(
            clears(&res.set_cookie_for("session_id").unwrap_or_default()),
            "{shown}"
        );
    }
    // The real sessions were not ended by any of that.
    assert_eq!(h.profile(&t).await.status, 200);
    assert_eq!(h.profile(&u).await.status, 200);
}

/// Item 15: `Cache-Control: no-store` on every answer that sets the cookie or carries account
/// data.
#[tokio::test]
async fn item_15_cache_control_no_store_on_cookie_and_account_answers() {
    let h = Harness::seed();
    let mut answers = Vec::new();
    answers.push(("register", h.register("cache@example.com", "pw").await));
    let login = h.login("cache@example.com", "pw").await;
    let c = login.session_cookie().unwrap();
    answers.push(("login", login));
    answers.push(("login failed", h.login("cache@example.com", "no").await));
    answers.push(("profile", h.profile(&c).await));
    answers.push(("sessions", h.send(with_cookie(get("/sessions"), &c)).await));
    let reset = h.request_reset("cache@example.com").await;
    let token = reset.json()["reset_token"].as_str().unwrap().to_owned();
    answers.push(("reset request", reset));
    answers.push(("reset", h.reset("cache@example.com", &token, "pw2").await));
    answers.push(("change", h.change_password(&c, "pw2", "pw3").await));
    answers.push(("logout", h.logout(&c).await));
    answers.push(("dead cookie pass-through", h.app_get(&c).await));
    answers.push(("profile 403", h.profile(&c).await));
    for (what, res) in &answers {
        assert!(res.status.as_u16() < 500, "{what}");
        assert_eq!(
            res.header("cache-control"),
            Some("no-store"),
            "{what}: {}",
            res.status
        );
    }
    assert_eq!(answers[0].1.status, 200);
    assert_eq!(answers[6].1.status, 200, "{}", answers[6].1.text());
    assert_eq!(answers[7].1.status, 200, "{}", answers[7].1.text());
}

/// Item 16: the wrapped app receives only the user's id, email and public session id (never
/// the hash, never the token); nothing when the session is invalid; an `AuthenticatedUser`
/// already in the request's extensions is removed.
#[tokio::test]
async fn item_16_wrapped_app_gets_only_non_secret_user_fields() {
    let h = Harness::seed();
    let uid = h.registered("ext@example.com", "pw").await;
    let hash = h.user("ext@example.com").await.hashed_password;
    let t = h.session("ext@example.com", "pw").await;
    let res = h.app_get(&t).await;
    let user = res.app_user().expect("a user");
    assert_eq!(user["id"], uid.0);
    assert_eq!(user["email"], "ext@example.com");
    assert_eq!(
        user["session"],
        TokenDigest::of(&t).session_id().to_string()
    );
    let serialized = user["serialized"].as_object().unwrap();
    let keys: BTreeSet<&str> = serialized.keys().map(String::as_str).collect();
    assert_eq!(keys, BTreeSet::from(["email", "id"]));
    let everything = user.to_string();
    assert!(!everything.contains(&hash) && !everything.contains("$2b$"));
    assert!(!everything.contains(&t));
    assert!(!everything.contains(&t.replace('-', "")));

    // A forged extension is dropped, with or without a cookie.
    let forged = AuthenticatedUser {
        id: UserId(uid.0),
        email: "ext@example.com".into(),
        session: SessionId([7; 16]),
    };
    let mut req = get("/");
    req.extensions_mut().insert(forged.clone());
    assert!(h.send(req).await.app_user().is_none());
    let mut req = with_cookie(get("/"), &uuid::Uuid::new_v4().to_string());
    req.extensions_mut().insert(forged.clone());
    assert!(h.send(req).await.app_user().is_none());
    let mut req = with_cookie(get("/"), "garbage");
    req.extensions_mut().insert(forged);
    assert!(h.send(req).await.app_user().is_none());

    // Nothing for an expired session.
    h.advance(31 * 24 * HOUR);
    assert!(h.app_get(&t).await.app_user().is_none());
}

// =============================================================================================
// D. Password reset
// =============================================================================================

/// Item 17: in the hardened profile the token goes to the hook, never into the answer; the
/// answer is the same (200, same body but the email) for known and unknown emails; the hook
/// is called for the known one only.
#[tokio::test]
async fn item_17_hardened_token_only_to_the_hook_same_answer_known_or_unknown() {
    let (h, mut inbox) = hardened_with_inbox(hardened_config());
    h.registered("known@example.com", GOOD_PW).await;
    let known = h.request_reset("known@example.com").await;
    let unknown = h.request_reset("unknown@example.com").await;
    assert_eq!(known.status, 200);
    assert_eq!(unknown.status, 200);
    let (kj, uj) = (known.json(), unknown.json());
    assert_eq!(kj["email"], "known@example.com");
    assert_eq!(uj["email"], "unknown@example.com");
    let strip = |mut v: Value| {
        v.as_object_mut().unwrap().remove("email");
        v
    };
    assert_eq!(strip(kj.clone()), strip(uj.clone()));
    assert!(kj.get("reset_token").is_none());
    assert_eq!(known.headers, unknown.headers);

    let (to, token) = inbox.next().await;
    assert_eq!(to, "known@example.com");
    assert!(ResetToken::parse(&token).is_some());
    assert!(!known.text().contains(&token));
    for v in known.headers.values() {
        assert!(!v.to_str().unwrap_or("").contains(&token));
    }
    // Nothing for the unknown email (the detached work has had ample time).
    let more = tokio::time::timeout(Duration::from_millis(300), inbox.0.recv()).await;
    assert!(
        more.is_err(),
        "the hook was called for an unknown email: {more:?}"
    );
    assert_eq!(
        h.reset("known@example.com", &token, OTHER_PW).await.status,
        200
    );
}

/// Item 17: a failing or panicking hook changes neither the answer nor the stored token.
#[tokio::test]
async fn item_17_failing_or_panicking_hook_changes_nothing_in_the_answer() {
    let failing = |_: &str, _: &ResetToken| -> Result<(), BoxError> { Err("smtp down".into()) };
    let panicking = |_: &str, _: &ResetToken| -> Result<(), BoxError> { panic!("mailer bug") };
    let configs = [
        hardened_config().with_reset_token_hook(failing),
        hardened_config().with_reset_token_hook(panicking),
    ];
    for config in configs {
        let h = Harness::new(config);
        h.registered("hook@example.com", GOOD_PW).await;
        let known = h.request_reset("hook@example.com").await;
        let unknown = h.request_reset("nohook@example.com").await;
        assert_eq!(known.status, 200);
        assert_eq!(unknown.status, 200);
        assert_eq!(known.headers, unknown.headers);
        assert_eq!(
            known.text().replace("hook@example.com", "E"),
            unknown.text().replace("nohook@example.com", "E")
        );
        // The token was stored all the same (by the detached task).
        let deadline = Instant::now() + Duration::from_secs(10);
        while h.counts().2 != 1 {
            assert!(Instant::now() < deadline, "no reset token stored");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        // And the service goes on.
        assert_eq!(h.login("hook@example.com", GOOD_PW).await.status, 200);
    }
}

/// Item 17: the same timing for known and unknown emails, with a hook that takes 200 ms:
/// the hook and the store write are detached from the answer. Medians of 15 samples each,
/// within a factor of 2.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn item_17_same_timing_known_or_unknown_email_slow_hook_detached() {
    let delivered = Arc::new(AtomicUsize::new(0));
    let d = Arc::clone(&delivered);
    let slow_hook = move |_: &str, _: &ResetToken| -> Result<(), BoxError> {
        std::thread::sleep(Duration::from_millis(200));
        d.fetch_add(1, Ordering::SeqCst);
        Ok(())
    };
    let config = unthrottled(AuthConfig::default().with_bcrypt_cost(8).unwrap())
        .with_reset_token_hook(slow_hook);
    let h = Harness::new(config);
    h.registered("slow@example.com", GOOD_PW).await;
    let (mut known, mut unknown) = (Vec::new(), Vec::new());
    for i in 0..17 {
        let t = Instant::now();
        let a = h.request_reset("slow@example.com").await;
        let ta = t.elapsed();
        let t = Instant::now();
        let b = h.request_reset(&format!("nobody{i}@example.com")).await;
        let tb = t.elapsed();
        assert_eq!((a.status.as_u16(), b.status.as_u16()), (200, 200));
        if i >= 2 {
            known.push(ta);
            unknown.push(tb);
        }
    }
    let (k, u) = (median(known), median(unknown));
    let r = ratio(k, u);
    eprintln!("item 17: known email median {k:?}, unknown median {u:?}, ratio {r:.2}");
    assert!(
        (0.5..=2.0).contains(&r),
        "known median {k:?}, unknown median {u:?}, ratio {r:.2}"
    );
    assert!(
        k < Duration::from_millis(100),
        "the answer waited for the hook: {k:?}"
    );
    // The hook did run, detached.
    let deadline = Instant::now() + Duration::from_secs(20);
    while delivered.load(Ordering::SeqCst) < 17 {
        assert!(
            Instant::now() < deadline,
            "the hook ran {} times",
            delivered.load(Ordering::SeqCst)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Item 17 (contract): the seed profile puts the token in the answer, and answers 403 for an
/// unknown email.
#[tokio::test]
async fn item_17_seed_profile_token_in_body_unknown_email_403() {
    let h = Harness::seed();
    h.registered("bob@bob.com", "pw").await;
    let res = h.request_reset("bob@bob.com").await;
    assert_eq!(res.status, 200);
    let j = res.json();
    assert_eq!(j["email"], "bob@bob.com");
    assert!(ResetToken::parse(j["reset_token"].as_str().unwrap()).is_some());
    assert_eq!(h.request_reset("nobody@bob.com").await.status, 403);
}

fn seed_token(res: &Resp) -> String {
    assert_eq!(res.status, 200, "{}", res.text());
    res.json()["reset_token"].as_str().unwrap().to_owned()
}

/// Item 18: a token works once, only the newest works, and only with its own email.
#[tokio::test]
async fn item_18_token_single_use_newest_only_own_email_only() {
    let h = Harness::seed();
    h.registered("a@example.com", "pw-a").await;
    h.registered("b@example.com", "pw-b").await;
    let t1 = seed_token(&h.request_reset("a@example.com").await);
    let t2 = seed_token(&h.request_reset("a@example.com").await);
    assert_ne!(t1, t2);
    assert_eq!(h.reset("a@example.com", &t1, "new-a").await.status, 403);
    // A's token with B's email: refused, nothing changed for either.
    assert_eq!(h.reset("b@example.com", &t2, "new-b").await.status, 403);
    assert_eq!(h.login("a@example.com", "pw-a").await.status, 200);
    assert_eq!(h.login("b@example.com", "pw-b").await.status, 200);
    // A's own email (compared without regard to case) works, once.
    assert_eq!(h.reset("A@Example.com", &t2, "new-a").await.status, 200);
    assert_eq!(h.reset("a@example.com", &t2, "newer-a").await.status, 403);
    assert_eq!(h.login("a@example.com", "new-a").await.status, 200);
    // Nonsense and a session id are not tokens.
    let c = h.session("b@example.com", "pw-b").await;
    assert_eq!(h.reset("b@example.com", &c, "x").await.status, 403);
    assert_eq!(
        h.reset("b@example.com", "not-a-token", "x").await.status,
        403
    );
    assert_eq!(h.login("b@example.com", "pw-b").await.status, 200);
}

/// Item 18: the token expires after one hour by default; the lifetime is configurable.
#[tokio::test]
async fn item_18_token_expires_default_one_hour_configurable() {
    let h = Harness::seed();
    h.registered("early@example.com", "pw").await;
    h.registered("late@example.com", "pw").await;
    let early = seed_token(&h.request_reset("early@example.com").await);
    let late = seed_token(&h.request_reset("late@example.com").await);
    h.advance(HOUR - SEC);
    assert_eq!(
        h.reset("early@example.com", &early, "new").await.status,
        200
    );
    h.advance(SEC);
    assert_eq!(h.reset("late@example.com", &late, "new").await.status, 403);
    assert_eq!(h.login("late@example.com", "pw").await.status, 200);

    let h = Harness::new(seed_config().with_reset_token_lifetime(10 * MIN).unwrap());
    h.registered("a@example.com", "pw").await;
    h.registered("b@example.com", "pw").await;
    let a = seed_token(&h.request_reset("a@example.com").await);
    let b = seed_token(&h.request_reset("b@example.com").await);
    h.advance(9 * MIN);
    assert_eq!(h.reset("a@example.com", &a, "new").await.status, 200);
    h.advance(2 * MIN);
    assert_eq!(h.reset("b@example.com", &b, "new").await.status, 403);
}

/// Item 18, hardened: the hook's token works once, an earlier one dies.
#[tokio::test]
async fn item_18_hardened_hook_token_single_use_newest_only() {
    let (h, mut inbox) = hardened_with_inbox(hardened_config());
    h.registered("hh@example.com", GOOD_PW).await;
    h.request_reset("hh@example.com").await;
    let (_, first) = inbox.next().await;
    h.request_reset("hh@example.com").await;
    let (_, second) = inbox.next().await;
    assert_eq!(
        h.reset("hh@example.com", &first, OTHER_PW).await.status,
        403
    );
    assert_eq!(
        h.reset("hh@example.com", &second, OTHER_PW).await.status,
        200
    );
    assert_eq!(
        h.reset("hh@example.com", &second, GOOD_PW).await.status,
        403
    );
    assert_eq!(h.login("hh@example.com", OTHER_PW).await.status, 200);
}

/// Item 19: hardened: a successful reset ends all the user's sessions; it does not log the
/// user in.
#[tokio::test]
async fn item_19_hardened_reset_ends_all_sessions_and_does_not_log_in() {
    let (h, mut inbox) = hardened_with_inbox(hardened_config());
    let uid = h.registered("ends@example.com", GOOD_PW).await;
    let a = h.session("ends@example.com", GOOD_PW).await;
    let b = h.session("ends@example.com", GOOD_PW).await;
    h.request_reset("ends@example.com").await;
    let (_, token) = inbox.next().await;
    let res = h.reset("ends@example.com", &token, OTHER_PW).await;
    assert_eq!(res.status, 200);
    assert_eq!(
        res.json(),
        serde_json::json!({"email": "ends@example.com", "message": "Password updated"})
    );
    assert!(res.set_cookies().is_empty(), "the reset logged the user in");
    assert_eq!(h.profile(&a).await.status, 403);
    assert_eq!(h.profile(&b).await.status, 403);
    assert!(h.store.sessions_of(uid).await.unwrap().is_empty());
    assert_eq!(h.counts().2, 0, "the token was not removed");
    assert_eq!(h.login("ends@example.com", GOOD_PW).await.status, 401);
    assert_eq!(h.login("ends@example.com", OTHER_PW).await.status, 200);
}

/// Item 19: seed: sessions are kept across a reset (as the seed did); the reset does not log
/// the user in; the token dies.
#[tokio::test]
async fn item_19_seed_reset_keeps_sessions_and_does_not_log_in() {
    let h = Harness::seed();
    h.registered("keeps@example.com", "pw").await;
    let a = h.session("keeps@example.com", "pw").await;
    let token = seed_token(&h.request_reset("keeps@example.com").await);
    let res = h.reset("keeps@example.com", &token, "pw2").await;
    assert_eq!(res.status, 200);
    assert!(res.set_cookies().is_empty());
    assert_eq!(h.profile(&a).await.status, 200);
    assert_eq!(h.counts().2, 0);
    assert_eq!(
        h.reset("keeps@example.com", &token, "pw3").await.status,
        403
    );
    // The configuration can turn it on in the seed profile too.
    let h = Harness::new(seed_config().with_end_sessions_on_reset(true));
    h.registered("k@example.com", "pw").await;
    let a = h.session("k@example.com", "pw").await;
    let token = seed_token(&h.request_reset("k@example.com").await);
    assert_eq!(h.reset("k@example.com", &token, "pw2").await.status, 200);
    assert_eq!(h.profile(&a).await.status, 403);
}

/// Item 20: requesting a reset changes nothing else: the old password and the sessions keep
/// working until the PUT, the hash is untouched.
#[tokio::test]
async fn item_20_requesting_a_reset_changes_nothing_else() {
    let (hard, mut inbox) = hardened_with_inbox(hardened_config());
    for (h, pw) in [(Harness::seed(), "pw"), (hard, GOOD_PW)] {
        let uid = h.registered("req@example.com", pw).await;
        let c = h.session("req@example.com", pw).await;
        let before = h.user("req@example.com").await.hashed_password;
        let sessions = h.store.sessions_of(uid).await.unwrap();
        assert_eq!(h.request_reset("req@example.com").await.status, 200);
        if h.auth.config().profile() == tower_user_auth::Profile::Hardened {
            inbox.next().await;
        }
        assert_eq!(h.user("req@example.com").await.hashed_password, before);
        assert_eq!(h.store.sessions_of(uid).await.unwrap(), sessions);
        assert_eq!(h.profile(&c).await.status, 200);
        assert_eq!(h.login("req@example.com", pw).await.status, 200);
        assert_eq!(h.counts().2, 1);
    }
}

/// Item 21: POST /reset_password is limited per email (5 per hour) and per client (20 per
/// hour), in both profiles, for known and unknown emails alike.
#[tokio::test]
async fn item_21_reset_requests_rate_limited_per_email_and_per_client() {
    let (hard, _inbox) = hardened_with_inbox(hardened_config());
    for h in [Harness::seed(), hard] {
        h.registered("lim@example.com", GOOD_PW).await;
        for i in 0..5 {
            let req = from_peer(
                form(
                    Method::POST,
                    "/reset_password",
                    &[("email", "lim@example.com")],
                ),
                &format!("198.51.100.{}", i + 1),
            );
            assert_eq!(h.send(req).await.status, 200);
        }
        let req = from_peer(
            form(
                Method::POST,
                "/reset_password",
                &[("email", "LIM@example.com")],
            ),
            "198.51.100.77",
        );
        let res = h.send(req).await;
        assert_eq!(res.status, 429, "{}", res.text());
        assert!(res.retry_after().unwrap() > 0);

        // Per client, across emails (unknown ones included).
        let client = "203.0.113.44";
        for i in 0..20 {
            let req = from_peer(
                form(
                    Method::POST,
                    "/reset_password",
                    &[("email", &*format!("n{i}@example.com"))],
                ),
                client,
            );
            let res = h.send(req).await;
            assert_ne!(res.status, 429, "request {i}");
        }
        let req = from_peer(
            form(
                Method::POST,
                "/reset_password",
                &[("email", "n99@example.com")],
            ),
            client,
        );
        assert_eq!(h.send(req).await.status, 429);
        h.advance(HOUR);
        assert_eq!(h.request_reset("lim@example.com").await.status, 200);
    }
}

/// Item 21: PUT /reset_password is throttled like a login: 5 wrong tokens from one address,
/// then 429 even with the right token, while another address may use it.
#[tokio::test]
async fn item_21_reset_put_rate_limited() {
    let h = Harness::seed();
    h.registered("put@example.com", "pw").await;
    let token = seed_token(&h.request_reset("put@example.com").await);
    let attacker = "198.51.100.50";
    for _ in 0..5 {
        let bogus = uuid::Uuid::new_v4().to_string();
        let req = from_peer(
            form(
                Method::PUT,
                "/reset_password",
                &[
                    ("email", "put@example.com"),
                    ("reset_token", &bogus),
                    ("new_password", "x"),
                ],
            ),
            attacker,
        );
        assert_eq!(h.send(req).await.status, 403);
    }
    let req = |peer: &str| {
        from_peer(
            form(
                Method::PUT,
                "/reset_password",
                &[
                    ("email", "put@example.com"),
                    ("reset_token", &token),
                    ("new_password", "new"),
                ],
            ),
            peer,
        )
    };
    let res = h.send(req(attacker)).await;
    assert_eq!(res.status, 429);
    assert!(res.retry_after().is_some());
    assert_eq!(h.send(req("203.0.113.60")).await.status, 200);
}

// =============================================================================================
// E. Requests
// =============================================================================================

const HOST: &str = "app.example:8080";

fn with_site<B>(req: Request<B>, headers: &[(&'static str, &str)]) -> Request<B> {
    let mut req = with_header(req, "host", HOST);
    for (k, v) in headers {
        req = with_header(req, k, v);
    }
    req
}

fn cross_site_variants() -> Vec<Vec<(&'static str, &'static str)>> {
    vec![
        vec![("sec-fetch-site", "cross-site")],
        vec![("origin", "https://evil.example")],
        vec![("origin", "null")],
        vec![("origin", "http://app.example:9090")],
        vec![("origin", "http://app.example:8080.evil.example")],
        vec![
            ("origin", "http://app.example:8080"),
            ("sec-fetch-site", "cross-site"),
        ],
    ]
}

/// Item 22: POST /users and POST /sessions (login CSRF) are refused cross-site even without
/// a cookie: 403 and nothing changed.
#[tokio::test]
async fn item_22_cross_site_register_and_login_refused_without_cookie() {
    let h = Harness::seed();
    let uid = h.registered("csrf@example.com", "pw").await;
    for v in cross_site_variants() {
        let res = h
            .send(with_site(
                form(
                    Method::POST,
                    "/users",
                    &[("email", "new@example.com"), ("password", "pw")],
                ),
                &v,
            ))
            .await;
        assert_eq!(res.status, 403, "{v:?}");
        assert!(!h.user_exists("new@example.com").await, "{v:?}");

        let res = h
            .send(with_site(
                form(
                    Method::POST,
                    "/sessions",
                    &[("email", "csrf@example.com"), ("password", "pw")],
                ),
                &v,
            ))
            .await;
        assert_eq!(res.status, 403, "{v:?}");
        assert!(res.session_cookie().is_none(), "{v:?}");
        assert!(h.store.sessions_of(uid).await.unwrap().is_empty(), "{v:?}");

        let res = h
            .send(with_site(
                form(
                    Method::POST,
                    "/reset_password",
                    &[("email", "csrf@example.com")],
                ),
                &v,
            ))
            .await;
        assert_eq!(res.status, 403, "{v:?}");
        assert_eq!(h.counts().2, 0, "{v:?}");
    }
}

/// Item 22: state-changing requests that carry the session cookie are refused cross-site,
/// the wrapped app's included (it is not called), and the auth routes' (nothing changes).
#[tokio::test]
async fn item_22_cross_site_requests_with_the_cookie_refused_app_included() {
    let h = Harness::seed();
    let uid = h.registered("victim@example.com", "pw").await;
    let c = h.session("victim@example.com", "pw").await;
    let token = seed_token(&h.request_reset("victim@example.com").await);
    for v in cross_site_variants() {
        for method in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
            let calls = h.app_calls();
            let res = h
                .send(with_site(
                    with_cookie(form(method.clone(), "/transfer", &[("to", "eve")]), &c),
                    &v,
                ))
                .await;
            assert_eq!(res.status, 403, "{method} {v:?}");
            assert_eq!(h.app_calls(), calls, "the app was called: {method} {v:?}");
        }
        let res = h
            .send(with_site(
                with_cookie(empty(Method::DELETE, "/sessions"), &c),
                &v,
            ))
            .await;
        assert_eq!(res.status, 403);
        let res = h
            .send(with_site(
                with_cookie(empty(Method::DELETE, "/sessions/all"), &c),
                &v,
            ))
            .await;
        assert_eq!(res.status, 403);
        let res = h
            .send(with_site(
                with_cookie(
                    form(
                        Method::PUT,
                        "/profile/password",
                        &[("current_password", "pw"), ("new_password", "evil")],
                    ),
                    &c,
                ),
                &v,
            ))
            .await;
        assert_eq!(res.status, 403);
        let res = h
            .send(with_site(
                with_cookie(
                    form(
                        Method::PUT,
                        "/reset_password",
                        &[
                            ("email", "victim@example.com"),
                            ("reset_token", &token),
                            ("new_password", "evil"),
                        ],
                    ),
                    &c,
                ),
                &v,
            ))
            .await;
        assert_eq!(res.status, 403);
    }
    assert_eq!(h.profile(&c).await.status, 200);
    assert_eq!(h.store.sessions_of(uid).await.unwrap().len(), 1);
    assert_eq!(h.login("victim@example.com", "pw").await.status, 200);
    assert_eq!(
        h.reset("victim@example.com", &token, "new").await.status,
        200
    );
}

/// Item 22: same-origin requests (Origin matching Host, either scheme), allow-listed origins,
/// `Sec-Fetch-Site` same-origin/same-site/none, safe methods, and requests with neither
/// header pass.
#[tokio::test]
async fn item_22_same_origin_allow_listed_and_headerless_requests_pass() {
    let config = seed_config()
        .with_allowed_origins(["https://admin.example"])
        .unwrap();
    let h = Harness::new(config);
    let passing: Vec<Vec<(&'static str, &'static str)>> = vec![
        vec![],
        vec![("origin", "http://app.example:8080")],
        vec![("origin", "https://app.example:8080")],
        vec![("origin", "https://APP.example:8080")],
        vec![("origin", "https://admin.example")],
        vec![("origin", "https://Admin.Example")],
        vec![("sec-fetch-site", "same-origin")],
        vec![("sec-fetch-site", "same-site")],
        vec![("sec-fetch-site", "none")],
        vec![
            ("sec-fetch-site", "same-origin"),
            ("origin", "http://app.example:8080"),
        ],
    ];
    for (i, v) in passing.iter().enumerate() {
        let email = format!("ok{i}@example.com");
        let res = h
            .send(with_site(
                form(
                    Method::POST,
                    "/users",
                    &[("email", &email), ("password", "pw")],
                ),
                v,
            ))
            .await;
        assert_eq!(res.status, 200, "{v:?}: {}", res.text());
        let res = h
            .send(with_site(
                form(
                    Method::POST,
                    "/sessions",
                    &[("email", &email), ("password", "pw")],
                ),
                v,
            ))
            .await;
        assert_eq!(res.status, 200, "{v:?}");
        let c = res.session_cookie().unwrap();
        let calls = h.app_calls();
        let res = h
            .send(with_site(
                with_cookie(form(Method::POST, "/transfer", &[]), &c),
                v,
            ))
            .await;
        assert_eq!(res.status, 200, "{v:?}");
        assert_eq!(h.app_calls(), calls + 1);
        assert!(res.app_user().is_some());
        let res = h
            .send(with_site(
                with_cookie(empty(Method::DELETE, "/sessions"), &c),
                v,
            ))
            .await;
        assert_eq!(res.status, 302, "{v:?}");
    }
    // Safe methods pass cross-site; a state-changing request without the cookie is the app's
    // business.
    let c = h.session("ok0@example.com", "pw").await;
    let evil = [
        ("origin", "https://evil.example"),
        ("sec-fetch-site", "cross-site"),
    ];
    let res = h.send(with_site(with_cookie(get("/"), &c), &evil)).await;
    assert!(res.app_user().is_some());
    let res = h
        .send(with_site(with_cookie(get("/profile"), &c), &evil))
        .await;
    assert_eq!(res.status, 200);
    let calls = h.app_calls();
    let res = h
        .send(with_site(form(Method::POST, "/webhook", &[]), &evil))
        .await;
    assert_eq!(res.status, 200);
    assert_eq!(h.app_calls(), calls + 1);
}

/// Item 23: GET and HEAD never change state; a wrong method on an auth path gets 405 with
/// `Allow`.
#[tokio::test]
async fn item_23_wrong_methods_405_with_allow_and_get_head_change_nothing() {
    let h = Harness::seed();
    let uid = h.registered("m@example.com", "pw").await;
    let c = h.session("m@example.com", "pw").await;
    let hash = h.user("m@example.com").await.hashed_password;
    let before = h.counts();
    let cases = [
        ("GET", "/users", "POST"),
        ("HEAD", "/users", "POST"),
        ("PUT", "/users/", "POST"),
        ("DELETE", "/users", "POST"),
        ("PUT", "/sessions", "GET, HEAD, POST, DELETE"),
        ("PATCH", "/sessions/", "GET, HEAD, POST, DELETE"),
        ("GET", "/sessions/all", "DELETE"),
        ("HEAD", "/sessions/all", "DELETE"),
        ("POST", "/sessions/all", "DELETE"),
        ("POST", "/profile", "GET, HEAD"),
        ("DELETE", "/profile", "GET, HEAD"),
        ("PATCH", "/profile", "GET, HEAD"),
        ("GET", "/profile/password", "PUT"),
        ("HEAD", "/profile/password", "PUT"),
        ("POST", "/profile/password", "PUT"),
        ("GET", "/reset_password", "POST, PUT"),
        ("HEAD", "/reset_password", "POST, PUT"),
        ("DELETE", "/reset_password/", "POST, PUT"),
    ];
    let fields = [
        ("email", "m@example.com"),
        ("password", "pw"),
        ("new_password", "hacked"),
        ("current_password", "pw"),
    ];
    let calls = h.app_calls();
    for (method, path, allow) in cases {
        let query = urlencode(&fields);
        let req = with_cookie(
            form(method.parse().unwrap(), &format!("{path}?{query}"), &fields),
            &c,
        );
        let res = h.send(req).await;
        assert_eq!(res.status, 405, "{method} {path}");
        let got: BTreeSet<&str> = res.header("allow").expect("Allow").split(", ").collect();
        let want: BTreeSet<&str> = allow.split(", ").collect();
        assert_eq!(got, want, "{method} {path}");
        assert!(res.set_cookies().is_empty(), "{method} {path}");
        assert!(res.json()["message"].is_string());
    }
    assert_eq!(h.app_calls(), calls, "a 405 reached the app");
    // GET/HEAD on the routes that serve them, with credentials around: no change.
    for (method, path) in [
        ("GET", "/profile"),
        ("HEAD", "/profile"),
        ("GET", "/sessions"),
        ("HEAD", "/sessions"),
    ] {
        let req = with_cookie(
            form(
                method.parse().unwrap(),
                &format!("{path}?{}", urlencode(&fields)),
                &fields,
            ),
            &c,
        );
        let res = h.send(req).await;
        assert_eq!(res.status, 200, "{method} {path}");
        assert!(res.set_cookies().is_empty());
    }
    let res = h.send(get(&format!("/?{}", urlencode(&fields)))).await;
    assert!(res.set_cookies().is_empty());
    assert_eq!(h.counts(), before);
    assert_eq!(h.user("m@example.com").await.hashed_password, hash);
    assert_eq!(h.store.sessions_of(uid).await.unwrap().len(), 1);
}

/// Item 24: bodies are capped before parsing: 413 for a large body, for a declared
/// `Content-Length` over the cap (without reading it), and for an endless stream; the cap is
/// configurable.
#[tokio::test]
async fn item_24_bodies_capped_413_before_parsing() {
    let h = Harness::seed();
    let big = "p".repeat(20 * 1024);
    let res = h.register("big@example.com", &big).await;
    assert_eq!(res.status, 413, "{}", res.text());
    assert!(!h.user_exists("big@example.com").await);

    let req = with_header(
        form(
            Method::POST,
            "/users",
            &[("email", "cl@example.com"), ("password", "pw")],
        ),
        "content-length",
        "1000000000",
    );
    let res = h.send(req).await;
    assert_eq!(res.status, 413);
    assert!(!h.user_exists("cl@example.com").await);

    // An endless body: answered 413 once the cap is passed, not read to the end.
    let pulled = Arc::new(AtomicUsize::new(0));
    let p = Arc::clone(&pulled);
    let endless = futures_util::stream::repeat_with(move || {
        p.fetch_add(1, Ordering::SeqCst);
        Ok::<_, std::convert::Infallible>(Frame::data(Bytes::from(vec![b'a'; 1024])))
    });
    let req = Request::post("/sessions")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(StreamBody::new(endless))
        .unwrap();
    let service = AuthLayer::new(h.auth.clone()).layer(Echo::default());
    let res = tokio::time::timeout(Duration::from_secs(10), service.oneshot(req))
        .await
        .expect("answered")
        .unwrap();
    let res = Resp::read(res).await;
    assert_eq!(res.status, 413);
    assert!(
        pulled.load(Ordering::SeqCst) <= 20,
        "{} KiB read",
        pulled.load(Ordering::SeqCst)
    );

    let small = Harness::new(seed_config().with_body_limit(64).unwrap());
    small.registered("s@x.io", "pw").await;
    let res = small.login("s@x.io", &"q".repeat(60)).await;
    assert_eq!(res.status, 413);
    assert_eq!(small.login("s@x.io", "pw").await.status, 200);
}

/// Item 24: bcrypt runs off the async runtime with bounded concurrency: with one hashing
/// thread and a queue of one, a burst of logins gets 503 + `Retry-After` beyond what the
/// pool takes (never another 5xx), and a pass-through request during the burst answers at
/// once, on a single-threaded runtime.
#[tokio::test(flavor = "current_thread")]
async fn item_24_login_burst_sheds_503_and_pass_through_stays_fast() {
    let config = unthrottled(AuthConfig::seed().with_bcrypt_cost(10).unwrap())
        .with_hashing_pool(1, 1)
        .unwrap();
    let h = Arc::new(Harness::new(config));
    h.registered("burst@example.com", "pw").await;
    let done = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for i in 0..16 {
        let h = Arc::clone(&h);
        let done = Arc::clone(&done);
        tasks.push(tokio::spawn(async move {
            let pw = if i % 2 == 0 { "pw" } else { "wrong" };
            let res = h.login("burst@example.com", pw).await;
            done.fetch_add(1, Ordering::SeqCst);
            res
        }));
    }
    // Let every login reach the pool (admitted) or be shed.
    for _ in 0..100 {
        tokio::task::yield_now().await;
    }
    let shed_early = done.load(Ordering::SeqCst);
    let t = Instant::now();
    let res = h.send(get("/")).await;
    let took = t.elapsed();
    let finished_by_then = done.load(Ordering::SeqCst);
    assert_eq!(res.status, 200);
    assert!(
        took < Duration::from_millis(50),
        "pass-through took {took:?}"
    );
    assert!(
        finished_by_then < 16,
        "every login had finished before the pass-through answered: hashing is not concurrent"
    );
    assert!(shed_early >= 1, "nothing was shed before hashing finished");

    let mut statuses = Vec::new();
    for task in tasks {
        let res = task.await.unwrap();
        if res.status == 503 {
            assert!(res.retry_after().is_some(), "503 without Retry-After");
            assert!(res.json()["message"].is_string());
        }
        statuses.push(res.status.as_u16());
    }
    assert!(
        statuses.iter().all(|s| [200, 401, 503].contains(s)),
        "{statuses:?}"
    );
    assert!(statuses.contains(&503), "{statuses:?}");
    assert!(
        statuses.iter().any(|s| *s == 200 || *s == 401),
        "{statuses:?}"
    );
    // Afterwards the service works normally.
    assert_eq!(h.login("burst@example.com", "pw").await.status, 200);
}

// =============================================================================================
// F. Storage at rest
// =============================================================================================

/// Item 25: passwords are stored only as bcrypt hashes, each with its own salt.
#[tokio::test]
async fn item_25_passwords_only_as_bcrypt_hashes_with_unique_salts() {
    let h = Harness::seed();
    let mut hashes = Vec::new();
    for i in 0..5 {
        let email = format!("salt{i}@example.com");
        h.registered(&email, "same password").await;
        let hash = h.user(&email).await.hashed_password;
        assert!(hash.starts_with("$2b$04$") && hash.len() == 60, "{hash}");
        assert!(!hash.contains("same password"));
        assert!(bcrypt::verify("same password", &hash).unwrap());
        hashes.push(hash);
    }
    let salts: BTreeSet<&str> = hashes.iter().map(|h| &h[7..29]).collect();
    assert_eq!(salts.len(), hashes.len(), "salts repeat: {hashes:?}");
    // A new password gets a new salt too.
    let c = h.session("salt0@example.com", "same password").await;
    assert_eq!(
        h.change_password(&c, "same password", "same password")
            .await
            .status,
        200
    );
    let again = h.user("salt0@example.com").await.hashed_password;
    assert_ne!(&again[7..29], &hashes[0][7..29]);
}

/// Item 26 (with 25): after a scenario in both profiles, with every handle dropped, the raw
/// database file contains none of the issued session ids or reset tokens (live, used,
/// superseded, logged out) and no password; it does contain the SHA-256 digests of the live
/// ones (so the scan does see the records).
#[test]
fn item_26_database_file_holds_no_issued_token_or_password_only_digests() {
    const PW: [&str; 3] = ["first password 1", "second password 2", "third password 3"];
    for hardened in [false, true] {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let (dir, path, secrets, live) = rt.block_on(async {
            let (h, mut inbox) = if hardened {
                hardened_with_inbox(hardened_config())
            } else {
                (Harness::seed(), Inbox::hook().1)
            };
            let mut secrets = Vec::new();
            let mut live = Vec::new();
            for (i, email) in ["a@example.com", "b@example.com"].into_iter().enumerate() {
                h.registered(email, PW[0]).await;
                for _ in 0..3 {
                    secrets.push(h.session(email, PW[0]).await);
                }
                let used = issue_reset_token(&h, &mut inbox, email).await;
                assert_eq!(h.reset(email, &used, PW[1]).await.status, 200);
                let superseded = issue_reset_token(&h, &mut inbox, email).await;
                let current = issue_reset_token(&h, &mut inbox, email).await;
                let pw = if i == 0 {
                    assert_eq!(h.reset(email, &current, PW[2]).await.status, 200);
                    PW[2]
                } else {
                    live.push(current.clone());
                    PW[1]
                };
                let out = h.session(email, pw).await;
                assert_eq!(h.logout(&out).await.status, 302);
                let still = h.session(email, pw).await;
                assert!(h.session_stored(&still).await);
                live.push(still.clone());
                secrets.extend([used, superseded, current, out, still]);
            }
            let Harness { dir, path, .. } = h;
            (dir, path, secrets, live)
        });
        // Every handle on the database (including detached tasks' clones) is gone.
        drop(rt);
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(secrets.len(), 16);
        for s in &secrets {
            let bare = s.replace('-', "");
            // The token, its forms without hyphens or in capitals, and any 16 hex digits of
            // it (a part of it stored would be found too).
            let mut shown = vec![s.clone(), s.to_uppercase(), bare.clone()];
            shown.extend(
                (0..=bare.len() - 16)
                    .step_by(4)
                    .map(|i| bare[i..i + 16].to_owned()),
            );
            for needle in shown {
                assert!(
                    find(&bytes, needle.as_bytes()).is_none(),
                    "an issued token (or 16 digits of it) is in the database file \
                     (hardened: {hardened})"
                );
            }
        }
        for p in PW {
            assert!(
                find(&bytes, p.as_bytes()).is_none(),
                "a password in the file"
            );
        }
        // Positive control: the live records' digests are there, as raw bytes.
        assert_eq!(live.len(), 3);
        for l in &live {
            assert!(
                find(&bytes, &TokenDigest::of(l).0).is_some(),
                "the scan does not see the stored digests (hardened: {hardened})"
            );
        }
        // The file opens again and still knows the users.
        let store = RedbStore::open(&path).unwrap();
        assert_eq!(store.counts().unwrap().0, 2);
        drop(store);
        drop(dir);
    }
}

async fn issue_reset_token(h: &Harness, inbox: &mut Inbox, email: &str) -> String {
    let res = h.request_reset(email).await;
    assert_eq!(res.status, 200, "{}", res.text());
    if h.auth.config().profile() == tower_user_auth::Profile::Hardened {
        inbox.next().await.1
    } else {
        seed_token(&res)
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Item 27: expired sessions (idle or past their lifetime) and expired reset tokens are
/// purged, live ones kept.
#[tokio::test]
async fn item_27_purge_expired_removes_idle_old_sessions_and_expired_tokens() {
    let config = seed_config()
        .with_session_idle_timeout(30 * MIN)
        .unwrap()
        .with_session_lifetime(2 * HOUR)
        .unwrap();
    let h = Harness::new(config);
    h.registered("purge@example.com", "pw").await;
    let active = h.session("purge@example.com", "pw").await;
    let idle = h.session("purge@example.com", "pw").await;
    h.auth
        .get_reset_password_token("purge@example.com")
        .await
        .unwrap();
    assert_eq!(h.counts(), (1, 2, 1));

    let purged = h.auth.purge_expired().await.unwrap();
    assert_eq!((purged.sessions, purged.reset_tokens), (0, 0));

    h.advance(20 * MIN);
    assert_eq!(h.profile(&active).await.status, 200);
    h.drain().await;
    h.advance(20 * MIN); // 40 min: idle is 40 min idle, active 20
    let purged = h.auth.purge_expired().await.unwrap();
    assert_eq!((purged.sessions, purged.reset_tokens), (1, 0));
    assert!(!h.session_stored(&idle).await);
    assert!(h.session_stored(&active).await);
    assert_eq!(h.counts(), (1, 1, 1));

    h.advance(5 * MIN);
    assert_eq!(h.profile(&active).await.status, 200);
    h.drain().await;
    h.advance(16 * MIN); // 61 min: the token is past its hour
    let purged = h.auth.purge_expired().await.unwrap();
    assert_eq!((purged.sessions, purged.reset_tokens), (0, 1));
    assert_eq!(h.counts(), (1, 1, 0));

    // Keep it active until its absolute lifetime passes.
    let mut t = 61 * MIN;
    while t < 2 * HOUR {
        h.advance(10 * MIN);
        t += 10 * MIN;
        let _ = h.profile(&active).await;
        h.drain().await;
    }
    let purged = h.auth.purge_expired().await.unwrap();
    assert_eq!((purged.sessions, purged.reset_tokens), (1, 0));
    assert_eq!(h.counts(), (1, 0, 0));
}

/// Item 27: `Auth::spawn_purger` purges periodically in the background.
#[tokio::test]
async fn item_27_spawn_purger_purges_in_the_background() {
    let h = Harness::seed();
    h.registered("bg@example.com", "pw").await;
    let c = h.session("bg@example.com", "pw").await;
    h.auth
        .get_reset_password_token("bg@example.com")
        .await
        .unwrap();
    let purger = h.auth.spawn_purger(Duration::from_millis(20));
    // Nothing expired: nothing purged after a few rounds.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(h.counts(), (1, 1, 1));
    h.advance(31 * 24 * HOUR);
    let deadline = Instant::now() + Duration::from_secs(10);
    while h.counts() != (1, 0, 0) {
        assert!(Instant::now() < deadline, "not purged: {:?}", h.counts());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(!h.session_stored(&c).await);
    purger.abort();
}

/// Item 28: a password reset is one transaction: hash, token and sessions change together;
/// a refused reset (wrong user, expired, unknown token) changes nothing.
#[tokio::test]
async fn item_28_store_reset_is_all_or_nothing() {
    let h = Harness::seed();
    let uid = h.registered("tx@example.com", "pw").await;
    let other = h.registered("other@example.com", "pw").await;
    h.session("tx@example.com", "pw").await;
    h.session("tx@example.com", "pw").await;
    let token = ResetToken::generate();
    let now = start_time();
    h.store
        .replace_reset_token(
            token.digest(),
            ResetRecord {
                user_id: uid,
                created: now,
                expires: now + HOUR,
            },
        )
        .await
        .unwrap();
    let hash = h.user("tx@example.com").await.hashed_password;
    let snapshot = || async {
        (
            h.user("tx@example.com").await.hashed_password,
            h.store.sessions_of(uid).await.unwrap().len(),
            h.store.reset_token(token.digest()).await.unwrap().is_some(),
        )
    };
    let before = snapshot().await;
    assert_eq!(before, (hash.clone(), 2, true));
    let new_hash = bcrypt::hash("new", 4).unwrap();
    let attempt = |user_id: UserId, digest: TokenDigest, at| PasswordReset {
        token: digest,
        user_id,
        now: at,
        hashed_password: new_hash.clone(),
        end_sessions: true,
    };
    for refused in [
        attempt(other, token.digest(), now),
        attempt(uid, token.digest(), now + HOUR),
        attempt(uid, ResetToken::generate().digest(), now),
    ] {
        assert!(h.store.reset_password(refused).await.is_err());
        assert_eq!(snapshot().await, before);
    }
    h.store
        .reset_password(attempt(uid, token.digest(), now))
        .await
        .unwrap();
    assert_eq!(snapshot().await, (new_hash, 0, false));

    // A change of password ending the other sessions: one update.
    let keep = h.session("tx@example.com", "new").await;
    h.session("tx@example.com", "new").await;
    let third = bcrypt::hash("third", 4).unwrap();
    h.store
        .update_user(
            uid,
            UserUpdate::new()
                .hashed_password(third.clone())
                .end_sessions(EndSessions::AllExcept(TokenDigest::of(&keep))),
        )
        .await
        .unwrap();
    let sessions = h.store.sessions_of(uid).await.unwrap();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].0, TokenDigest::of(&keep));
    assert_eq!(h.user("tx@example.com").await.hashed_password, third);
    let _ = hash;
}

/// Item 28 through the HTTP layer: a reset refused for its password (400) changes nothing:
/// the token, the password and the sessions all stay.
#[tokio::test]
async fn item_28_refused_reset_changes_nothing() {
    let (h, mut inbox) = hardened_with_inbox(hardened_config());
    let uid = h.registered("nochange@example.com", GOOD_PW).await;
    let c = h.session("nochange@example.com", GOOD_PW).await;
    h.request_reset("nochange@example.com").await;
    let (_, token) = inbox.next().await;
    let hash = h.user("nochange@example.com").await.hashed_password;
    assert_eq!(
        h.reset("nochange@example.com", &token, "short")
            .await
            .status,
        400
    );
    assert_eq!(
        h.reset("other@example.com", &token, OTHER_PW).await.status,
        403
    );
    assert_eq!(h.user("nochange@example.com").await.hashed_password, hash);
    assert_eq!(h.store.sessions_of(uid).await.unwrap().len(), 1);
    assert_eq!(h.counts().2, 1);
    assert_eq!(h.profile(&c).await.status, 200);
    assert_eq!(
        h.reset("nochange@example.com", &token, OTHER_PW)
            .await
            .status,
        200
    );
}

/// Item 28 (with 10): deleting a user removes the account, its sessions and its reset token
/// in one transaction; the email can be registered again.
#[tokio::test]
async fn item_28_delete_user_removes_account_sessions_and_token() {
    let h = Harness::seed();
    let uid = h.registered("gone@example.com", "pw").await;
    let keep = h.registered("stay@example.com", "pw").await;
    let c = h.session("gone@example.com", "pw").await;
    let s = h.session("stay@example.com", "pw").await;
    let token = seed_token(&h.request_reset("gone@example.com").await);
    assert_eq!(h.counts(), (2, 2, 1));
    h.auth.delete_user(uid).await.unwrap();
    assert_eq!(h.counts(), (1, 1, 0));
    assert_eq!(h.profile(&c).await.status, 403);
    assert!(h.app_get(&c).await.app_user().is_none());
    assert_eq!(h.reset("gone@example.com", &token, "x").await.status, 403);
    assert_eq!(h.login("gone@example.com", "pw").await.status, 401);
    assert!(h.auth.delete_user(uid).await.is_err());
    assert_eq!(h.profile(&s).await.status, 200);
    assert_eq!(h.user("stay@example.com").await.id, keep);
    let again = h.registered("gone@example.com", "pw2").await;
    assert_ne!(again, uid);
}

const CRASH_CHILD_ENV: &str = "TOWER_USER_AUTH_CRASH_CHILD_DB";
const CRASH_EMAIL: &str = "crash@example.com";

fn crash_password(i: u64) -> String {
    format!("crash test password {i:06}")
}

fn crash_config() -> AuthConfig {
    // Hardened: a reset ends the sessions, in the same transaction.
    unthrottled(hardened_config())
}

/// Not a test of its own: the child process of
/// `item_28_crash_at_any_point_leaves_old_or_new_state_and_the_file_opens`. It does nothing
/// unless that test starts it (with the database path in the environment). It loops: three
/// sessions, a reset token, a reset (new hash, token removed, sessions ended), printing
/// `committed <i>` after each reset, until it is killed.
#[test]
fn item_28_crash_child_process() {
    let Ok(path) = std::env::var(CRASH_CHILD_ENV) else {
        return;
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let auth = Auth::open(&path, crash_config()).unwrap();
        for i in 1.. {
            for _ in 0..3 {
                auth.create_session(CRASH_EMAIL).await.unwrap().unwrap();
            }
            let token = auth.get_reset_password_token(CRASH_EMAIL).await.unwrap();
            auth.update_password(token.expose(), &crash_password(i))
                .await
                .unwrap();
            println!("committed {i}");
        }
    });
}

/// Item 28: a crash (SIGKILL of a process writing) at an arbitrary point leaves either the
/// old or the new state of each multi-record change, and the file opens.
#[test]
fn item_28_crash_at_any_point_leaves_old_or_new_state_and_the_file_opens() {
    for round in 0..5u64 {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DB_FILE);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let auth = Auth::open(&path, crash_config()).unwrap();
            auth.register_user(CRASH_EMAIL, &crash_password(0))
                .await
                .unwrap();
        });
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "item_28_crash_child_process",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CRASH_CHILD_ENV, &path)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut last = 0u64;
        let target = 2 + round * 3;
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap();
            if let Some(n) = line.strip_prefix("committed ") {
                last = n.trim().parse().unwrap();
                if last >= target {
                    break;
                }
            }
        }
        assert!(last >= target, "the child stopped early at {last}");
        // Land the kill at a different point of the next iteration each round (this is a
        // crash test: the delay only varies where the process dies).
        std::thread::sleep(Duration::from_micros(round * 900));
        child.kill().unwrap();
        child.wait().unwrap();

        rt.block_on(async {
            let store = RedbStore::open(&path).expect("the file opens after a crash");
            let auth = Auth::new(store.clone(), crash_config());
            let old = auth
                .valid_login(CRASH_EMAIL, &crash_password(last))
                .await
                .unwrap();
            let new = auth
                .valid_login(CRASH_EMAIL, &crash_password(last + 1))
                .await
                .unwrap();
            assert!(
                old ^ new,
                "round {round}: neither or both of the passwords {last}/{} work",
                last + 1
            );
            let uid = store
                .find_user_by(tower_user_auth::store::UserQuery::Email(CRASH_EMAIL.into()))
                .await
                .unwrap()
                .id;
            let sessions = store.sessions_of(uid).await.unwrap();
            let (users, all_sessions, resets) = store.counts().unwrap();
            assert_eq!(users, 1);
            // A reset ends the sessions in its transaction: never more than one round's.
            assert!(
                sessions.len() <= 3,
                "round {round}: {} sessions",
                sessions.len()
            );
            assert_eq!(
                all_sessions as usize,
                sessions.len(),
                "round {round}: index out of step"
            );
            assert!(resets <= 1, "round {round}: {resets} reset tokens");
            // The database is fully usable.
            let token = auth.get_reset_password_token(CRASH_EMAIL).await.unwrap();
            auth.update_password(token.expose(), "after the crash 123")
                .await
                .unwrap();
            assert!(
                auth.valid_login(CRASH_EMAIL, "after the crash 123")
                    .await
                    .unwrap()
            );
            assert_eq!(store.counts().unwrap(), (1, 0, 0));
        });
    }
}

// =============================================================================================
// G. Audit (the log itself is checked in tests/audit_log.rs)
// =============================================================================================

/// Items 29 and 30 are proven by `tests/audit_log.rs::audit_log_full_scenario` (a global
/// subscriber). Here: the types that could reach a log redact their secrets in `Debug`.
#[tokio::test]
async fn item_30_debug_output_never_shows_tokens_or_hashes() {
    let h = Harness::seed();
    h.registered("dbg@example.com", "pw").await;
    let user = h.user("dbg@example.com").await;
    assert!(!format!("{user:?}").contains(&user.hashed_password));
    let s = SessionToken::generate();
    assert!(!format!("{s:?}").contains(s.expose()));
    let r = ResetToken::generate();
    assert!(!format!("{r:?}").contains(r.expose()));
    let digest = s.digest();
    assert!(!format!("{digest:?}").contains(s.expose()));
    let config =
        hardened_config().with_reset_token_hook(|_: &str, _: &ResetToken| Ok::<(), BoxError>(()));
    assert!(format!("{config:?}").contains("<hook>"));
    assert!(!format!("{:?}", h.auth).contains("$2b$"));
}

/// Item 31: registration tells whether an email is taken (400 "email already registered",
/// without regard to case or surrounding space).
#[tokio::test]
async fn item_31_registration_reveals_taken_email_with_400() {
    let h = Harness::seed();
    let res = h.register(" Bob@Bob.com ", "pw").await;
    assert_eq!(res.status, 200);
    assert_eq!(
        res.json(),
        serde_json::json!({"email": "Bob@Bob.com", "message": "user created"})
    );
    for again in ["bob@bob.com", "BOB@BOB.COM", "  bob@bob.com"] {
        let res = h.register(again, "other").await;
        assert_eq!(res.status, 400, "{again}");
        assert_eq!(
            res.json(),
            serde_json::json!({"message": "email already registered"})
        );
    }
    assert_eq!(h.login("bob@bob.com", "pw").await.status, 200);
}

/// Item 31: POST /users is throttled per client (20 per hour), taken-email probes included.
#[tokio::test]
async fn item_31_registration_throttled_per_client() {
    let h = Harness::seed();
    h.registered("taken@example.com", "pw").await; // from DEFAULT_PEER
    let prober = "198.51.100.31";
    for i in 0..20 {
        let email = if i % 2 == 0 {
            "taken@example.com".to_owned()
        } else {
            format!("new{i}@example.com")
        };
        let res = h
            .send(from_peer(
                form(
                    Method::POST,
                    "/users",
                    &[("email", &email), ("password", "pw")],
                ),
                prober,
            ))
            .await;
        assert!(
            res.status == 200 || res.status == 400,
            "{i}: {}",
            res.status
        );
    }
    let res = h
        .send(from_peer(
            form(
                Method::POST,
                "/users",
                &[("email", "taken@example.com"), ("password", "pw")],
            ),
            prober,
        ))
        .await;
    assert_eq!(res.status, 429);
    let wait = res.retry_after().unwrap();
    assert!((1..=3600).contains(&wait));
    let res = h
        .send(from_peer(
            form(
                Method::POST,
                "/users",
                &[("email", "fresh@example.com"), ("password", "pw")],
            ),
            prober,
        ))
        .await;
    assert_eq!(res.status, 429);
    assert!(!h.user_exists("fresh@example.com").await);
    let res = h
        .send(from_peer(
            form(
                Method::POST,
                "/users",
                &[("email", "fresh@example.com"), ("password", "pw")],
            ),
            "203.0.113.31",
        ))
        .await;
    assert_eq!(res.status, 200);
    h.advance(HOUR);
    let res = h
        .send(from_peer(
            form(
                Method::POST,
                "/users",
                &[("email", "fresh2@example.com"), ("password", "pw")],
            ),
            prober,
        ))
        .await;
    assert_eq!(res.status, 200);
}

/// Item 31: the documentation (README.md or the crate's doc comments) says that
/// registration reveals whether an email is taken.
#[test]
fn item_31_docs_say_registration_reveals_taken_emails() {
    fn rust_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                rust_files(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    // Paragraphs of prose: README.md's, and the doc comments' (`//!`, `///`).
    let mut paragraphs: Vec<String> = std::fs::read_to_string(root.join("README.md"))
        .unwrap_or_default()
        .split("\n\n")
        .map(str::to_lowercase)
        .collect();
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let mut para = String::new();
        for line in text.lines() {
            let line = line.trim_start();
            match line
                .strip_prefix("//!")
                .or_else(|| line.strip_prefix("///"))
            {
                Some(doc) if !doc.trim().is_empty() => {
                    para.push_str(&doc.to_lowercase());
                    para.push(' ');
                }
                _ => paragraphs.push(std::mem::take(&mut para)),
            }
        }
        paragraphs.push(para);
    }
    let says_so = paragraphs.iter().any(|p| {
        p.contains("regist")
            && (p.contains("taken") || p.contains("already registered") || p.contains("enumerat"))
            && (p.contains("reveal") || p.contains("tell") || p.contains("enumerat"))
    });
    assert!(
        says_so,
        "neither README.md nor the crate docs say that POST /users reveals whether an email \
         is taken (SECURITY.md item 31)"
    );
}
