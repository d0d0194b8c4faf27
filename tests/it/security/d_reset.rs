//! D. Password reset: items 17 to 21.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use http::Method;
use serde_json::Value;
use tower_user_auth::{
    AuthConfig, AuthError, BoxError, Profile, store::prelude::*, token::ResetToken,
};

use crate::security::{
    HOUR, MIN, assert_alike, paired_medians, post_from, seed_token,
    support::{
        GOOD_PW, Harness, OTHER_PW, form, from_peer, hardened_config, hardened_with_inbox,
        resets_only, seed_config, unthrottled,
    },
};

/// Item 17: in the hardened profile the token goes to the hook, never into the answer; the
/// answer is the same (200, same body but the email, same headers) for known and unknown
/// emails; the hook is called for the known one only.
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

/// Item 17: a failing, panicking, or slow and failing hook changes neither the answer (nor
/// its speed: it is detached) nor the stored token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn item_17_failing_or_panicking_hook_changes_nothing_in_the_answer() {
    let failing = |_: &str, _: &ResetToken| -> Result<(), BoxError> { Err("smtp down".into()) };
    let panicking = |_: &str, _: &ResetToken| -> Result<(), BoxError> { panic!("mailer bug") };
    let slow_failing = |_: &str, _: &ResetToken| -> Result<(), BoxError> {
        std::thread::sleep(Duration::from_millis(300));
        Err("the mail server is down".into())
    };
    let configs = [
        hardened_config().with_mailer(resets_only(failing)),
        hardened_config().with_mailer(resets_only(panicking)),
        hardened_config().with_mailer(resets_only(slow_failing)),
    ];
    for config in configs {
        let h = Harness::new(config);
        h.registered("hook@example.com", GOOD_PW).await;
        let t = Instant::now();
        let known = h.request_reset("hook@example.com").await;
        let took = t.elapsed();
        let unknown = h.request_reset("nohook@example.com").await;
        assert_eq!(known.status, 200);
        assert_eq!(unknown.status, 200);
        assert!(
            took < Duration::from_millis(250),
            "the hook is not detached: {took:?}"
        );
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
/// the hook and the store write are detached from the answer. Medians of 15 interleaved
/// samples each (after two warm-up rounds).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn item_17_same_timing_known_or_unknown_email_slow_hook_detached() {
    let delivered = Arc::new(AtomicUsize::new(0));
    let d = Arc::clone(&delivered);
    let slow_hook = move |_: &str, _: &ResetToken| -> Result<(), BoxError> {
        std::thread::sleep(Duration::from_millis(200));
        d.fetch_add(1, Ordering::SeqCst);
        Ok(())
    };
    let config =
        unthrottled(AuthConfig::default().with_bcrypt_cost(8)).with_mailer(resets_only(slow_hook));
    let h = Harness::new(config);
    h.registered("slow@example.com", GOOD_PW).await;
    let h = &h;
    let (known, unknown) = paired_medians(
        15,
        |_| async move {
            assert_eq!(h.request_reset("slow@example.com").await.status, 200);
        },
        |i| async move {
            let email = format!("nobody{i}@example.com");
            assert_eq!(h.request_reset(&email).await.status, 200);
        },
    )
    .await;
    assert_alike(
        "item 17",
        ("known email", known),
        ("unknown email", unknown),
    );
    assert!(
        known < Duration::from_millis(100) && unknown < Duration::from_millis(100),
        "the answer waited for the hook: {known:?} {unknown:?}"
    );
    // The hook did run, detached, once per known-email request.
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
    assert_eq!(res.json()["email"], "bob@bob.com");
    assert!(ResetToken::parse(&seed_token(&res)).is_some());
    assert_eq!(h.request_reset("nobody@bob.com").await.status, 403);
}

/// Item 18: a token works once, only the newest works, and only with its own email; the
/// Rust API refuses a spent token with `AuthError::InvalidToken`.
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
    let spent = h.auth.reset_password("a@example.com", &t2, "newer-a", None);
    assert!(matches!(spent.await, Err(AuthError::InvalidToken)));
    assert_eq!(h.login("a@example.com", "new-a").await.status, 200);
    // Nonsense and a session id are not tokens.
    let c = h.session("b@example.com", "pw-b").await;
    assert_eq!(h.reset("b@example.com", &c, "x").await.status, 403);
    let nonsense = h.reset("b@example.com", "not-a-token", "x").await;
    assert_eq!(nonsense.status, 403);
    assert_eq!(h.login("b@example.com", "pw-b").await.status, 200);
}

/// Item 18: the token expires after one hour by default; the lifetime is configurable.
#[tokio::test]
async fn item_18_token_expires_default_one_hour_configurable() {
    let default = Harness::seed();
    let configured = Harness::new(seed_config().with_reset_token_lifetime(10 * MIN));
    for (h, lifetime) in [(default, HOUR), (configured, 10 * MIN)] {
        h.registered("early@example.com", "pw").await;
        h.registered("late@example.com", "pw").await;
        let early = seed_token(&h.request_reset("early@example.com").await);
        let late = seed_token(&h.request_reset("late@example.com").await);
        h.advance(lifetime - crate::security::SEC);
        let res = h.reset("early@example.com", &early, "new").await;
        assert_eq!(res.status, 200, "{lifetime:?}");
        h.advance(crate::security::SEC);
        let res = h.reset("late@example.com", &late, "new").await;
        assert_eq!(res.status, 403, "{lifetime:?}");
        assert_eq!(h.login("late@example.com", "pw").await.status, 200);
    }
}

/// Item 18, hardened: the hook's token works once, an earlier one dies.
#[tokio::test]
async fn item_18_hardened_hook_token_single_use_newest_only() {
    let (h, mut inbox) = hardened_with_inbox(hardened_config());
    let email = "hh@example.com";
    h.registered(email, GOOD_PW).await;
    h.request_reset(email).await;
    let (_, first) = inbox.next().await;
    h.request_reset(email).await;
    let (_, second) = inbox.next().await;
    assert_eq!(h.reset(email, &first, OTHER_PW).await.status, 403);
    assert_eq!(h.reset(email, &second, OTHER_PW).await.status, 200);
    assert_eq!(h.reset(email, &second, GOOD_PW).await.status, 403);
    assert_eq!(h.login(email, OTHER_PW).await.status, 200);
}

/// Item 19: hardened: a successful reset ends all the user's sessions; it does not log the
/// user in; the token dies.
#[tokio::test]
async fn item_19_hardened_reset_ends_all_sessions_and_does_not_log_in() {
    let (h, mut inbox) = hardened_with_inbox(hardened_config());
    let email = "ends@example.com";
    let uid = h.registered(email, GOOD_PW).await;
    let a = h.session(email, GOOD_PW).await;
    let b = h.session(email, GOOD_PW).await;
    h.request_reset(email).await;
    let (_, token) = inbox.next().await;
    let res = h.reset(email, &token, OTHER_PW).await;
    assert_eq!(res.status, 200);
    assert_eq!(
        res.json(),
        serde_json::json!({"email": email, "message": "Password updated"})
    );
    assert!(res.set_cookies().is_empty(), "the reset logged the user in");
    assert_eq!(h.profile(&a).await.status, 403);
    assert_eq!(h.profile(&b).await.status, 403);
    assert!(h.store.sessions_of(uid).await.unwrap().is_empty());
    assert_eq!(h.counts().2, 0, "the token was not removed");
    assert_eq!(h.login(email, GOOD_PW).await.status, 401);
    assert_eq!(h.login(email, OTHER_PW).await.status, 200);
}

/// Item 19: seed: sessions are kept across a reset (as the seed did); the reset does not log
/// the user in; the token dies; the configuration can end the sessions in the seed profile
/// too.
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
    let again = h.reset("keeps@example.com", &token, "pw3").await;
    assert_eq!(again.status, 403);

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
        if h.auth.config().profile() == Profile::Hardened {
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
        let request =
            |email: &str, peer: &str| post_from("/reset_password", &[("email", email)], peer);
        for i in 0..5 {
            let peer = format!("198.51.100.{}", i + 1);
            assert_eq!(h.send(request("lim@example.com", &peer)).await.status, 200);
        }
        let res = h.send(request("LIM@example.com", "198.51.100.77")).await;
        assert_eq!(res.status, 429, "{}", res.text());
        assert!(res.retry_after().unwrap() > 0);

        // Per client, across emails (unknown ones included).
        let client = "203.0.113.44";
        for i in 0..20 {
            let res = h.send(request(&format!("n{i}@example.com"), client)).await;
            assert_ne!(res.status, 429, "request {i}");
        }
        let res = h.send(request("n99@example.com", client)).await;
        assert_eq!(res.status, 429);
        h.advance(HOUR);
        assert_eq!(h.request_reset("lim@example.com").await.status, 200);
    }
}

/// Item 21: PUT /reset_password is throttled like a login: 5 wrong tokens from one address,
/// then 429 (with `Retry-After`) even with the right token, while another address may use
/// it.
#[tokio::test]
async fn item_21_reset_put_rate_limited() {
    let h = Harness::seed();
    h.registered("put@example.com", "pw").await;
    let token = seed_token(&h.request_reset("put@example.com").await);
    let attacker = "198.51.100.50";
    let put = |token: &str, peer: &str| {
        let fields = [
            ("email", "put@example.com"),
            ("reset_token", token),
            ("new_password", "new"),
        ];
        from_peer(form(Method::PUT, "/reset_password", &fields), peer)
    };
    for _ in 0..5 {
        let bogus = uuid::Uuid::new_v4().to_string();
        assert_eq!(h.send(put(&bogus, attacker)).await.status, 403);
    }
    let res = h.send(put(&token, attacker)).await;
    assert_eq!(res.status, 429);
    assert!(res.retry_after().is_some());
    assert_eq!(h.send(put(&token, "203.0.113.60")).await.status, 200);
}

/// What changes an account's credentials before its reset token comes back.
#[derive(Clone, Copy, Debug)]
enum CredentialChange {
    Password,
    Email,
    FactorOn,
    FactorOff,
}

/// Issue 21, section 1 (beside item 18): a reset token records the credential generation it was
/// issued at; a change of password, of email, or turning the second factor on or off, made
/// after it was issued, kills it (refused as any bad token, the password unchanged).
#[tokio::test]
async fn a_reset_token_dies_with_every_change_of_credentials() {
    use tower_user_auth::{compat::SeedApi, config::SecretKey};

    use crate::support::{
        browser::totp::{STEP_SECS, code_at},
        second_factor, serve_echo,
    };

    let config = hardened_config().with_secret_key(SecretKey::from_bytes([0x42; 32]));
    let h = Harness::new(unthrottled(config));
    let server = serve_echo(&h.auth).await;
    let step = || {
        let now = h.auth.now().duration_since(std::time::UNIX_EPOCH);
        now.expect("after 1970").as_secs() / STEP_SECS
    };
    let changes = [
        CredentialChange::Password,
        CredentialChange::Email,
        CredentialChange::FactorOn,
        CredentialChange::FactorOff,
    ];
    for (n, change) in changes.into_iter().enumerate() {
        let email = format!("change{n}@example.com");
        h.registered(&email, GOOD_PW).await;
        let login = [("email", email.as_str()), ("password", GOOD_PW)];
        let res = server
            .http
            .send_form(Method::POST, "/sessions", "", &[], &login)
            .await;
        let cookie = res.session_cookie_header().expect("a session");
        let codes = match change {
            CredentialChange::FactorOff => {
                second_factor::enable(&server.http, &cookie, step()).await.1
            }
            _ => Vec::new(),
        };
        let token = h
            .auth
            .get_reset_password_token(&email)
            .await
            .expect("a reset token");
        let moved = format!("moved{n}@example.com");
        let (method, path, fields): (Method, &str, Vec<(&str, &str)>) = match change {
            CredentialChange::Password => (
                Method::PUT,
                "/profile/password",
                vec![("current_password", GOOD_PW), ("new_password", OTHER_PW)],
            ),
            CredentialChange::Email => (
                Method::PUT,
                "/profile/email",
                vec![("current_password", GOOD_PW), ("new_email", moved.as_str())],
            ),
            CredentialChange::FactorOn => {
                let secret = second_factor::begin(&server.http, &cookie).await;
                let code = code_at(&secret, step());
                let res = second_factor::confirm(&server.http, &cookie, &code).await;
                assert_eq!(res.status, 200, "{change:?}: {}", res.body);
                (Method::GET, "/profile", Vec::new())
            }
            CredentialChange::FactorOff => (
                Method::DELETE,
                "/profile/totp",
                vec![
                    ("current_password", GOOD_PW),
                    ("recovery_code", codes[0].as_str()),
                ],
            ),
        };
        let res = server
            .http
            .send_form(method, path, &cookie, &[], &fields)
            .await;
        assert_eq!(res.status, 200, "{change:?}: {}", res.body);
        let now_email = match change {
            CredentialChange::Email => moved.as_str(),
            _ => email.as_str(),
        };
        let before = h.user(now_email).await;
        let res = h
            .reset(now_email, token.expose(), "a third passphrase here")
            .await;
        assert_eq!(res.status, 403, "{change:?}: {}", res.body);
        let after = h.user(now_email).await;
        assert_eq!(after.hashed_password, before.hashed_password, "{change:?}");
    }
}
