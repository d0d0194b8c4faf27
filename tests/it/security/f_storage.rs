//! F. Storage at rest: items 25 to 28.

mod crash;

use std::{
    collections::BTreeSet,
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    time::{Duration, Instant},
};
use tower_user_auth::compat::SeedApi;

use tower_user_auth::{
    Auth, AuthConfig, Profile, UserId,
    store::{
        AccountVersion, EndSessions, PasswordReset, RedbStore, ResetRecord, UserQuery, UserUpdate,
        prelude::*,
    },
    token::{ResetToken, TokenDigest},
};

use crate::security::{
    HOUR, MIN, find, seed_token,
    support::{
        DB_FILE, GOOD_PW, Harness, Inbox, OTHER_PW, hardened_config, hardened_with_inbox,
        seed_config, start_time, unthrottled,
    },
};

/// Runs of 16 hex digits of `hex`, every 4th: a part of a token stored would show as one.
fn sixteen_digit_runs(hex: &str) -> impl Iterator<Item = String> + '_ {
    (0..=hex.len() - 16)
        .step_by(4)
        .map(|i| hex[i..i + 16].to_owned())
}

/// A runtime on this thread, for tests that must outlive it (and every handle it holds).
fn current_thread_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

/// Item 25: passwords are stored only as bcrypt hashes, each with its own salt (a new
/// password too).
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
    let c = h.session("salt0@example.com", "same password").await;
    let res = h
        .change_password(&c, "same password", "same password")
        .await;
    assert_eq!(res.status, 200);
    let again = h.user("salt0@example.com").await.hashed_password;
    assert_ne!(&again[7..29], &hashes[0][7..29]);
}

/// A reset token for `email`: from the answer (seed) or the hook (hardened).
async fn issue_reset_token(h: &Harness, inbox: &mut Inbox, email: &str) -> String {
    let res = h.request_reset(email).await;
    assert_eq!(res.status, 200, "{}", res.text());
    if h.auth.config().profile() == Profile::Hardened {
        inbox.next().await.1
    } else {
        seed_token(&res)
    }
}

/// Item 26 (with 25): after a scenario in both profiles, with every handle dropped, the raw
/// database file contains none of the issued session ids or reset tokens (live, used,
/// superseded, logged out) and no password; it does contain the users' emails and the
/// SHA-256 digests of the live tokens (so the scan does see the records).
/// Item 26 (device cookies, item 7): device tokens too are stored only as SHA-256 digests:
/// with every handle dropped, none of the issued device tokens (nor 16 hex digits of one) is
/// in the database file, while the digests of the live ones are.
#[test]
fn item_26_device_tokens_only_as_digests() {
    let rt = current_thread_runtime();
    let (_dir, path, tokens) = rt.block_on(async {
        let h = Harness::new(hardened_config());
        let mut tokens = Vec::new();
        for email in ["d1@example.com", "d2@example.com"] {
            h.registered(email, GOOD_PW).await;
            for _ in 0..3 {
                let res = h.login(email, GOOD_PW).await;
                tokens.push(res.cookie("device").expect("a device cookie"));
            }
        }
        let Harness { dir, path, .. } = h;
        (dir, path, tokens)
    });
    drop(rt);
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(tokens.len(), 6);
    for t in &tokens {
        let mut shown = vec![t.clone(), t.to_uppercase()];
        shown.extend(sixteen_digit_runs(t));
        for needle in shown {
            assert!(
                find(&bytes, needle.as_bytes()).is_none(),
                "a device token (or 16 digits of it) is in the database file"
            );
        }
        assert!(
            find(&bytes, &TokenDigest::of(t).0).is_some(),
            "the scan does not see the stored digests"
        );
    }
}

#[test]
fn item_26_database_file_holds_no_issued_token_or_password_only_digests() {
    const PW: [&str; 3] = ["first password 1", "second password 2", "third password 3"];
    const EMAILS: [&str; 2] = ["a@example.com", "b@example.com"];
    for hardened in [false, true] {
        let rt = current_thread_runtime();
        let (dir, path, secrets, live) = rt.block_on(async {
            let (h, mut inbox) = if hardened {
                hardened_with_inbox(hardened_config())
            } else {
                (Harness::seed(), Inbox::mailer().1)
            };
            let mut secrets = Vec::new();
            let mut live = Vec::new();
            for (i, email) in EMAILS.into_iter().enumerate() {
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
            shown.extend(sixteen_digit_runs(&bare));
            for needle in shown {
                assert!(
                    find(&bytes, needle.as_bytes()).is_none(),
                    "an issued token (or 16 digits of it) is in the database file \
                     (hardened: {hardened})"
                );
            }
        }
        for p in PW {
            let found = find(&bytes, p.as_bytes());
            assert!(found.is_none(), "a password in the file");
        }
        // Positive controls: the emails, and the live records' digests as raw bytes.
        for e in EMAILS {
            assert!(find(&bytes, e.as_bytes()).is_some(), "{e} not in the file");
        }
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

/// Item 27: expired sessions (idle or past their lifetime) and expired reset tokens are
/// purged, live ones kept.
#[tokio::test]
async fn item_27_purge_expired_removes_idle_old_sessions_and_expired_tokens() {
    let config = seed_config()
        .with_session_idle_timeout(30 * MIN)
        .with_session_lifetime(2 * HOUR);
    let h = Harness::new(config);
    h.registered("purge@example.com", "pw").await;
    let active = h.session("purge@example.com", "pw").await;
    let idle = h.session("purge@example.com", "pw").await;
    h.auth
        .get_reset_password_token("purge@example.com")
        .await
        .unwrap();
    assert_eq!(h.counts(), (1, 2, 1));
    let purge = || async {
        let purged = h.auth.purge_expired().await.unwrap();
        (purged.sessions, purged.reset_tokens)
    };
    let use_active = |by: Duration| {
        h.advance(by);
        async {
            assert_eq!(h.profile(&active).await.status, 200);
            h.drain().await;
        }
    };
    assert_eq!(purge().await, (0, 0));

    use_active(20 * MIN).await;
    h.advance(20 * MIN); // 40 min: idle is 40 min idle, active 20
    assert_eq!(purge().await, (1, 0));
    assert!(!h.session_stored(&idle).await);
    assert!(h.session_stored(&active).await);
    assert_eq!(h.counts(), (1, 1, 1));

    use_active(5 * MIN).await;
    h.advance(16 * MIN); // 61 min: the token is past its hour
    assert_eq!(purge().await, (0, 1));
    assert_eq!(h.counts(), (1, 1, 0));

    // Keep it active until its absolute lifetime passes.
    let mut t = 61 * MIN;
    while t < 2 * HOUR {
        h.advance(10 * MIN);
        t += 10 * MIN;
        let _ = h.profile(&active).await;
        h.drain().await;
    }
    assert_eq!(purge().await, (1, 0));
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
/// a refused reset (wrong user, expired, unknown token) changes nothing; a change of password
/// that ends the other sessions is one update.
#[tokio::test]
async fn item_28_store_reset_is_all_or_nothing() {
    let h = Harness::seed();
    let uid = h.registered("tx@example.com", "pw").await;
    let other = h.registered("other@example.com", "pw").await;
    h.session("tx@example.com", "pw").await;
    h.session("tx@example.com", "pw").await;
    let token = ResetToken::generate();
    let now = start_time();
    let record = ResetRecord {
        user_id: uid,
        created: now,
        expires: now + HOUR,
        generation: 0,
    };
    let read = AccountVersion::of(&h.user("tx@example.com").await);
    h.store
        .replace_reset_token(token.digest(), record, read)
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
    assert_eq!(before, (hash, 2, true));
    let new_hash = bcrypt::hash("new", 4).unwrap();
    let attempt = |user_id: UserId, digest: TokenDigest, at| PasswordReset {
        token: digest,
        user_id,
        now: at,
        hashed_password: new_hash.clone(),
        end_sessions: true,
        confirm_email: false,
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
    let update = UserUpdate::new()
        .hashed_password(third.clone())
        .end_sessions(EndSessions::AllExcept(TokenDigest::of(&keep)));
    h.store.update_user(uid, update).await.unwrap();
    let sessions = h.store.sessions_of(uid).await.unwrap();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].0, TokenDigest::of(&keep));
    assert_eq!(h.user("tx@example.com").await.hashed_password, third);
}

/// Item 28 through the HTTP layer: a reset refused for its password (400) or its email (403)
/// changes nothing: the token, the password and the sessions all stay.
#[tokio::test]
async fn item_28_refused_reset_changes_nothing() {
    let (h, mut inbox) = hardened_with_inbox(hardened_config());
    let email = "nochange@example.com";
    let uid = h.registered(email, GOOD_PW).await;
    let c = h.session(email, GOOD_PW).await;
    h.request_reset(email).await;
    let (_, token) = inbox.next().await;
    let hash = h.user(email).await.hashed_password;
    assert_eq!(h.reset(email, &token, "short").await.status, 400);
    let wrong_email = h.reset("other@example.com", &token, OTHER_PW).await;
    assert_eq!(wrong_email.status, 403);
    assert_eq!(h.user(email).await.hashed_password, hash);
    assert_eq!(h.store.sessions_of(uid).await.unwrap().len(), 1);
    assert_eq!(h.counts().2, 1);
    assert_eq!(h.profile(&c).await.status, 200);
    assert_eq!(h.reset(email, &token, OTHER_PW).await.status, 200);
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
