//! The redb store and `Auth` on real files in temp dirs: persistence, racing registrations
//! through `Auth`, token digests at rest, schema versions and migrations of committed
//! fixtures, unopenable files. What every store must do (each method, its error paths, the
//! credential races, the purge) is the conformance suite's, `tests/conformance/`.
//!
//! - `live_filter`: the filter of live session digests that refuses unknown digests without
//!   a read;
//! - `migrations`: older schema versions migrated in place, on committed fixtures
//!   (`migration_v4`: the file of the release before the account lifecycle);
//! - `lifecycle`: the session cache and filter across the lifecycle's writes (deletion,
//!   email change by token).

use crate::support;

mod faults;
mod lifecycle;
mod live_filter;
mod migration_v4;
mod migration_v5;
mod migrations;

/// The schema version this build writes.
pub const CURRENT_VERSION: u64 = 7;

use std::{
    sync::Arc,
    time::{Duration, SystemTime},
};
use tower_user_auth::compat::SeedApi;

use tower_user_auth::{
    Auth, AuthError, StoreError, UserId,
    error::PasswordError,
    store::{RedbStore, UserQuery, prelude::*},
    token::ResetToken,
};

#[tokio::test]
async fn data_survives_closing_and_reopening_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("auth.redb");
    let (token, reset) = {
        let auth = Auth::open(&path, support::seed_config()).unwrap();
        auth.register_user("a@b.io", "pw1").await.unwrap();
        let token = auth.create_session("a@b.io").await.unwrap().unwrap();
        let reset = auth.get_reset_password_token("a@b.io").await.unwrap();
        (token, reset)
    };
    // Every handle is gone: the file can be opened again, with everything in it.
    let auth = Auth::open(&path, support::seed_config()).unwrap();
    assert!(auth.valid_login("A@B.io", "pw1").await.unwrap());
    let user = auth
        .get_user_from_session_id(Some(token.expose()))
        .await
        .unwrap();
    assert_eq!(user.map(|u| u.email), Some("a@b.io".to_owned()));
    auth.update_password(reset.expose(), "pw2").await.unwrap();
    assert!(auth.valid_login("a@b.io", "pw2").await.unwrap());
}

/// Racing registrations through `Auth`, with hashing in between (the store's own race is in
/// the conformance suite, `tests/conformance/races.rs`).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_racing_registrations_through_auth_make_one_account() {
    let (auth, _dir) = support::auth(support::seed_config());
    let results = futures_util::future::join_all((0..16).map(|_| {
        let auth = auth.clone();
        async move { auth.register_user("same@example.com", "pw").await }
    }))
    .await;
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);
    assert!(
        results
            .iter()
            .filter(|r| r.is_err())
            .all(|r| matches!(r, Err(AuthError::EmailTaken(_))))
    );
}

#[tokio::test]
async fn issued_tokens_never_reach_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("auth.redb");
    let mut secrets = Vec::new();
    {
        let auth = Auth::open(&path, support::seed_config()).unwrap();
        for i in 0..20 {
            let email = format!("user{i}@example.com");
            auth.register_user(&email, "pw").await.unwrap();
            secrets.push(
                auth.create_session(&email)
                    .await
                    .unwrap()
                    .unwrap()
                    .expose()
                    .to_owned(),
            );
            secrets.push(
                auth.get_reset_password_token(&email)
                    .await
                    .unwrap()
                    .expose()
                    .to_owned(),
            );
        }
    }
    let bytes = std::fs::read(&path).unwrap();
    let contains = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    assert!(
        contains(b"user7@example.com"),
        "the check can see stored text"
    );
    for secret in &secrets {
        assert!(!contains(secret.as_bytes()), "a token is in the file");
        let dashless: String = secret.chars().filter(|c| *c != '-').collect();
        assert!(!contains(dashless.as_bytes()));
    }
}

#[tokio::test]
async fn a_file_of_another_schema_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("future.redb");
    {
        let db = redb::Database::create(&path).unwrap();
        let txn = db.begin_write().unwrap();
        {
            let def: redb::TableDefinition<'_, &str, u64> = redb::TableDefinition::new("meta");
            txn.open_table(def)
                .unwrap()
                .insert("schema_version", 999)
                .unwrap();
        }
        txn.commit().unwrap();
    }
    match RedbStore::open(&path) {
        Err(
            e @ StoreError::SchemaVersion {
                found: 999,
                expected: CURRENT_VERSION,
            },
        ) => {
            assert!(e.to_string().contains("schema version 999"), "{e}");
        }
        other => panic!("expected a schema version error, got {other:?}"),
    }
}

#[tokio::test]
async fn unopenable_files_are_errors_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    assert!(RedbStore::open(dir.path().join("missing/dir/auth.redb")).is_err());
    let garbage = dir.path().join("garbage.redb");
    std::fs::write(&garbage, vec![0x42; 8192]).unwrap();
    assert!(RedbStore::open(&garbage).is_err());
    let path = dir.path().join("twice.redb");
    let first = RedbStore::open(&path).unwrap();
    assert!(
        RedbStore::open(&path).is_err(),
        "redb refuses a second open of one file"
    );
    drop(first);
    assert!(RedbStore::open(&path).is_ok());
}

#[tokio::test]
async fn in_memory_store_works() {
    let store = RedbStore::in_memory().unwrap();
    let auth = Auth::new(store, support::seed_config()).expect("valid configuration");
    auth.register_user("m@m.io", "pw").await.unwrap();
    assert!(auth.valid_login("m@m.io", "pw").await.unwrap());
}

#[tokio::test]
async fn auth_errors_of_the_seed_api() {
    let (auth, _dir) = support::auth(support::seed_config());
    auth.register_user("e@e.io", "pw").await.unwrap();
    assert!(
        matches!(auth.register_user("E@E.IO", "pw").await, Err(AuthError::EmailTaken(e)) if e == "E@E.IO")
    );
    assert!(!auth.valid_login("e@e.io", "nope").await.unwrap());
    assert!(!auth.valid_login("ghost@e.io", "pw").await.unwrap());
    assert!(auth.create_session("ghost@e.io").await.unwrap().is_none());
    for sid in [
        None,
        Some(""),
        Some("garbage"),
        Some("00000000-0000-4000-8000-000000000000"),
    ] {
        assert!(auth.get_user_from_session_id(sid).await.unwrap().is_none());
    }
    assert!(matches!(
        auth.get_reset_password_token("ghost@e.io").await,
        Err(AuthError::UnknownEmail)
    ));
    assert!(matches!(
        auth.update_password("not-a-token", "pw").await,
        Err(AuthError::InvalidToken)
    ));
    assert!(matches!(
        auth.update_password(ResetToken::generate().expose(), "pw")
            .await,
        Err(AuthError::InvalidToken)
    ));
    for (pw, err) in [
        ("", PasswordError::Empty),
        ("a\0b", PasswordError::ContainsNul),
    ] {
        assert!(
            matches!(auth.register_user("p@e.io", pw).await, Err(AuthError::InvalidPassword(e)) if e == err)
        );
    }
    assert!(matches!(
        auth.register_user("p@e.io", &"x".repeat(73)).await,
        Err(AuthError::InvalidPassword(PasswordError::TooLong {
            bytes: 73
        }))
    ));
    assert!(matches!(
        auth.register_user("not an email", "pw").await,
        Err(AuthError::InvalidEmail(_))
    ));

    // destroy_session ends every session of the user.
    let s1 = auth.create_session("e@e.io").await.unwrap().unwrap();
    let s2 = auth.create_session("e@e.io").await.unwrap().unwrap();
    let user = auth
        .get_user_from_session_id(Some(s1.expose()))
        .await
        .unwrap()
        .unwrap();
    auth.destroy_session(user.id).await.unwrap();
    for s in [s1, s2] {
        assert!(
            auth.get_user_from_session_id(Some(s.expose()))
                .await
                .unwrap()
                .is_none()
        );
    }
    // A token works once, and only the newest works.
    let old = auth.get_reset_password_token("e@e.io").await.unwrap();
    let new = auth.get_reset_password_token("e@e.io").await.unwrap();
    assert!(matches!(
        auth.update_password(old.expose(), "pw2").await,
        Err(AuthError::InvalidToken)
    ));
    auth.update_password(new.expose(), "pw2").await.unwrap();
    assert!(matches!(
        auth.update_password(new.expose(), "pw3").await,
        Err(AuthError::InvalidToken)
    ));
    assert!(auth.valid_login("e@e.io", "pw2").await.unwrap());
}

#[tokio::test]
async fn clones_share_one_state() {
    let (auth, _dir) = support::auth(support::seed_config());
    let clone = auth.clone();
    auth.register_user("c@c.io", "pw").await.unwrap();
    let token = clone.create_session("c@c.io").await.unwrap().unwrap();
    assert!(
        auth.get_user_from_session_id(Some(token.expose()))
            .await
            .unwrap()
            .is_some()
    );
    let shared = Arc::new(clone);
    assert!(shared.log_out(&token, None).await.unwrap());
    assert!(
        auth.get_user_from_session_id(Some(token.expose()))
            .await
            .unwrap()
            .is_none()
    );
}

/// Emails that are the same text once NFC-normalised (a precomposed "ë" and "e" followed by a
/// combining diaeresis) are one account: the second registration is refused, either form
/// finds and logs into the account, and answers echo the email as it was sent (trimmed).
#[tokio::test]
async fn emails_equal_after_nfc_normalisation_are_one_account() {
    let h = support::Harness::seed();
    let composed = "zo\u{eb}@example.com";
    let decomposed = "zoe\u{308}@example.com";
    let id = h.registered(composed, "pw").await;
    let res = h.register(decomposed, "pw").await;
    assert_eq!(res.status, 400, "{}", res.text());
    let res = h.login(&format!(" {decomposed} "), "pw").await;
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(res.json()["email"], decomposed);
    for email in [decomposed, "ZOE\u{308}@EXAMPLE.COM", composed] {
        let found = h.store.find_user_by(UserQuery::Email(email.into())).await;
        assert_eq!(found.unwrap().id, id, "{email:?}");
    }
    assert!(matches!(
        h.store.add_user("Zoe\u{308}@example.com", "$2b$04$x").await,
        Err(StoreError::EmailTaken)
    ));
    // The stored email is the one registered, as sent.
    assert_eq!(h.user(decomposed).await.email, composed);
}

/// With the session cache off every look-up reads the published snapshot of the sessions
/// table: a logout racing with look-ups of its session is seen by every look-up that starts
/// after `delete_session` has returned, and a new session by every one after
/// `insert_session` has returned. Many rounds, each released at once by a barrier.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn uncached_look_ups_see_every_answered_write() {
    use std::sync::atomic::{AtomicBool, Ordering};
    const READERS: usize = 3;
    let dir = tempfile::tempdir().unwrap();
    let store = RedbStore::builder()
        .with_session_cache_bytes(0)
        .open(dir.path().join("auth.redb"))
        .unwrap();
    let user = store
        .add_user("snap@example.com", "$2b$04$h")
        .await
        .unwrap();
    let now = SystemTime::now();
    let record = tower_user_auth::store::SessionRecord {
        user_id: user.id,
        created: now,
        last_seen: now,
        expires: now + Duration::from_secs(600),
        generation: 0,
    };
    let store = Arc::new(store);
    for round in 0..100 {
        let digest = tower_user_auth::token::TokenDigest::of(&format!("snapshot {round}"));
        store.insert_session(digest, record, None).await.unwrap();
        let found = store.session(digest).await.unwrap();
        assert_eq!(found.map(|e| e.email).as_deref(), Some("snap@example.com"));
        let barrier = Arc::new(tokio::sync::Barrier::new(READERS + 1));
        let ended = Arc::new(AtomicBool::new(false));
        let readers: Vec<_> = (0..READERS)
            .map(|_| {
                let (store, barrier, ended) =
                    (Arc::clone(&store), Arc::clone(&barrier), Arc::clone(&ended));
                tokio::spawn(async move {
                    barrier.wait().await;
                    let mut after = 0;
                    while after < 20 {
                        let returned = ended.load(Ordering::SeqCst);
                        let found = store.session(digest).await.unwrap();
                        if returned {
                            after += 1;
                            assert!(found.is_none(), "round {round}: a logged-out session");
                        }
                        tokio::task::yield_now().await;
                    }
                })
            })
            .collect();
        barrier.wait().await;
        assert!(store.delete_session(digest).await.unwrap());
        ended.store(true, Ordering::SeqCst);
        for reader in futures_util::future::join_all(readers).await {
            reader.expect("a reader panicked");
        }
    }
}

/// The redb store's session indexes hold 8-byte digest prefixes: sessions whose digests
/// share a prefix (and their times, and their owner) are still told apart by every query
/// and by the purge, whichever of them goes first.
#[tokio::test]
async fn sessions_sharing_a_digest_prefix_are_told_apart() {
    use tower_user_auth::{store::SessionRecord, token::TokenDigest};
    let dir = tempfile::tempdir().unwrap();
    let store = RedbStore::open(dir.path().join("auth.redb")).unwrap();
    let alice = store
        .add_user("alice@example.com", "$2b$04$h")
        .await
        .unwrap();
    let bob = store.add_user("bob@example.com", "$2b$04$h").await.unwrap();
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_225_600);
    let record = |user: UserId, expires: u64| SessionRecord {
        user_id: user,
        created: now,
        last_seen: now,
        expires: now + Duration::from_secs(expires),
        generation: 0,
    };
    let digest = |last: u8| {
        let mut d = [7; 32];
        d[31] = last;
        TokenDigest(d)
    };
    let (a1, a2, a3, b1) = (digest(1), digest(2), digest(3), digest(4));
    for (d, r) in [
        (a1, record(alice.id, 600)),
        (a2, record(alice.id, 600)),
        (a3, record(alice.id, 60)),
        (b1, record(bob.id, 600)),
    ] {
        store.insert_session(d, r, None).await.unwrap();
    }
    let of = |id: UserId| {
        let store = store.clone();
        async move {
            let mut d: Vec<_> = store.sessions_of(id).await.unwrap();
            d.sort_by_key(|(d, _)| d.0);
            d.into_iter().map(|(d, _)| d).collect::<Vec<_>>()
        }
    };
    assert_eq!(of(alice.id).await, [a1, a2, a3]);
    assert_eq!(of(bob.id).await, [b1]);
    // a1 goes: a2 (same user, same times) keeps every index entry it shares with it.
    assert!(store.delete_session(a1).await.unwrap());
    assert_eq!(of(alice.id).await, [a2, a3]);
    // a2 is renewed: a3's last-activity entry (the same moment) stays.
    store
        .touch_session(a2, now + Duration::from_secs(30))
        .await
        .unwrap();
    // At +100 s, a3 has expired; idle before +10 s catches b1 (never renewed), not a2.
    let purged = store
        .purge_expired(
            now + Duration::from_secs(100),
            now + Duration::from_secs(10),
            std::time::UNIX_EPOCH,
        )
        .await
        .unwrap();
    assert_eq!(purged.sessions, 2);
    assert_eq!(of(alice.id).await, [a2]);
    assert!(of(bob.id).await.is_empty());
    let entry = store.session(a2).await.unwrap().expect("a2 lives");
    assert_eq!(entry.email, "alice@example.com");
    // At +1000 s a2 has expired too: the purge still finds it.
    let purged = store
        .purge_expired(now + Duration::from_secs(1000), now, std::time::UNIX_EPOCH)
        .await
        .unwrap();
    assert_eq!(purged.sessions, 1);
    assert_eq!(store.counts().unwrap().1, 0);
}
