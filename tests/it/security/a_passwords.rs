//! A. Passwords: items 1 to 4.

use std::sync::{Arc, Mutex};
use tower_user_auth::compat::SeedApi;

use tower_user_auth::{
    Auth, AuthConfig, AuthError,
    auth::Login,
    error::PasswordError,
    password::{self, PasswordPolicy},
};

use crate::security::{
    message,
    support::{GOOD_PW, Harness, OTHER_PW, hardened_config, hardened_with_inbox},
};

/// Item 1: a password bcrypt cannot hash faithfully (over 72 bytes, multibyte text over 72
/// bytes, NUL) is refused with 400 and a message saying why, in both profiles, by the HTTP
/// routes and the Rust API; 72 bytes are accepted and hashed faithfully (a longer password
/// sharing the first 72 bytes does not log in).
#[tokio::test]
async fn item_01_passwords_never_truncated_over_72_bytes_or_nul_refused_with_reason() {
    let ascii73 = "x".repeat(73);
    let euro = "€".repeat(25); // 25 characters, 75 bytes: short in characters
    let acute = "é".repeat(37); // 37 characters, 74 bytes
    let nul = "abcdefghijkl\0mnopqrstuv";
    let refused = [
        (ascii73.as_str(), "72 bytes"),
        (&euro, "72 bytes"),
        (&acute, "72 bytes"),
        (nul, "NUL"),
    ];
    for h in [Harness::seed(), Harness::hardened()] {
        let profile = h.auth.config().profile();
        for (i, (pw, why)) in refused.iter().enumerate() {
            let email = format!("refused{i}@example.com");
            let res = h.register(&email, pw).await;
            assert_eq!(res.status, 400, "{profile} {pw:?}: {}", res.text());
            let m = message(&res);
            assert!(m.contains(why), "{profile} {pw:?}: {m}");
            assert!(!h.user_exists(&email).await);
        }

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
/// no composition rules, spaces and any Unicode allowed, used as given (not trimmed).
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
        "all lowercase words here", // words and spaces
        "ünïcödé pässwörd ✓",       // Unicode and a space
        "  spaces all around  ",    // leading and trailing spaces are kept
        "            12 spaces",    // mostly spaces
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
        "password1234",
        "1qaz2wsx3edc",
        "Q1W2E3R4T5Y6",
    ] {
        let res = h.register("common@example.com", pw).await;
        assert_eq!(res.status, 400, "{pw}: {}", res.text());
        assert!(message(&res).contains("too common"), "{pw}: {}", res.text());
    }
    assert!(!h.user_exists("common@example.com").await);

    for (email, pw) in [
        ("Someone.Long@Example.com", "someone.long@example.COM"),
        ("me@example.com", "Me@Example.com"),
    ] {
        let res = h.register(email, pw).await;
        assert_eq!(res.status, 400, "{}", res.text());
        assert!(message(&res).contains("email"), "{}", res.text());
        assert!(!h.user_exists(email).await);
    }
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

/// Item 2: the minimum length is configurable (by the HTTP routes and in the policy's own
/// answer); the seed profile accepts the seed client's five-character passwords.
#[tokio::test]
async fn item_02_min_length_configurable_and_seed_accepts_short() {
    let h = Harness::new(
        hardened_config().with_password_policy(PasswordPolicy::hardened().with_min_chars(16)),
    );
    let res = h.register("min@example.com", "zqxjvkwpmrtbnhg").await; // 15
    assert_eq!(res.status, 400);
    assert!(message(&res).contains("16"), "{}", res.text());
    h.registered("min@example.com", "zqxjvkwpmrtbnhgf").await;
    assert_eq!(
        PasswordPolicy::hardened()
            .with_min_chars(20)
            .check("nineteen characters", "a@b.c"),
        Err(PasswordError::TooShort { min: 20 })
    );

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
        ("password1234", "common"),
        ("Reset.Rules@example.com", "email"),
        (&*"x".repeat(73), "72"),
        (&*"x".repeat(80), "72"),
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
    let token = crate::security::seed_token(&h.request_reset("bob@bob.com").await);
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
    assert_eq!(AuthConfig::compat().bcrypt_cost(), 12);

    let log = LogBuf::default();
    let c = log.capture(|| {
        let c = AuthConfig::compat().with_bcrypt_cost(10);
        c.validate().expect("valid configuration");
        c
    });
    assert_eq!(c.bcrypt_cost(), 10);
    assert!(!log.text().contains("WARN"), "{}", log.text());

    let c = log.capture(|| {
        let c = AuthConfig::compat().with_bcrypt_cost(9);
        c.validate().expect("valid configuration");
        c
    });
    assert_eq!(c.bcrypt_cost(), 9);
    let text = log.text();
    assert!(
        text.contains("WARN") && text.contains("bcrypt cost below 10"),
        "{text}"
    );

    assert!(AuthConfig::compat().with_bcrypt_cost(3).validate().is_err());
    assert!(
        AuthConfig::compat()
            .with_bcrypt_cost(32)
            .validate()
            .is_err()
    );
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
        AuthConfig::compat().with_bcrypt_cost(5),
        h.clock.clone(),
    )
    .expect("valid configuration");
    assert!(
        stronger
            .log_in(Login::new(email, "wrong"))
            .await
            .unwrap()
            .is_none()
    );
    assert!(h.user(email).await.hashed_password.starts_with("$2b$04$"));
    assert!(
        stronger
            .log_in(Login::new(email, "pw-rehash"))
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
