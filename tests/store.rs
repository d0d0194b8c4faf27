//! The redb store and `Auth` on real files in temp dirs: persistence, racing registrations
//! through `Auth`, token digests at rest, schema versions and migrations of committed
//! fixtures, unopenable files. What every store must do (each method, its error paths, the
//! credential races, the purge) is the conformance suite's, `tests/conformance/`.

mod support;

use std::{
    sync::Arc,
    time::{Duration, SystemTime},
};
use tower_user_auth::compat::SeedApi;

use tower_user_auth::{
    Auth, AuthError, StoreError, UserId,
    error::PasswordError,
    store::{RedbStore, Store, UserQuery},
    token::{ResetToken, SessionToken},
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
        .session_cache_bytes(0)
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
        .purge_expired(now + Duration::from_secs(1000), now)
        .await
        .unwrap();
    assert_eq!(purged.sessions, 1);
    assert_eq!(store.counts().unwrap().1, 0);
}

// ---------------------------------------------------------------------------------------------
// Schema migration, on a file written by schema version 1 (see tests/fixtures/README.md).

/// The time the fixture was written at (2026-01-01T00:00:00Z), plus two minutes.
fn fixture_now() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_225_600 + 120)
}

/// The fixture's accounts and their passwords.
const FIXTURE_USERS: [(&str, &str); 3] = [
    ("alice@example.com", "alice-password-1"),
    ("Bob@Example.com", "bob-password-2"),
    ("carol@example.com", "carol-password-3"),
];
/// The fixture's live sessions and their owners.
const FIXTURE_SESSIONS: [(&str, &str); 3] = [
    ("83b2d8e9-7dbd-4e75-9831-88dab19f23d0", "alice@example.com"),
    ("7b015318-dad9-4f88-8ef9-36dbfb7a7b17", "Bob@Example.com"),
    ("c66dd8ff-78f9-4360-a5cc-c4defa35f757", "carol@example.com"),
];
/// Bob's second session, logged out before the file was written.
const FIXTURE_LOGGED_OUT: &str = "205093c3-9649-4bca-98e1-2af5eefb18e2";
/// Carol's reset token.
const FIXTURE_RESET: &str = "8d8bdc97-748d-4767-80b9-e502cfe8ed64";

/// The schema version this build writes.
const CURRENT_VERSION: u64 = 4;

const META: redb::TableDefinition<'_, &str, u64> = redb::TableDefinition::new("meta");
/// The `users` table as schema version 1 defined it.
const V1_USERS: redb::TableDefinition<'_, u64, (&str, &str, u64)> =
    redb::TableDefinition::new("users");

/// A copy of the version-1 fixture in a temp dir.
fn v1_fixture() -> (tempfile::TempDir, std::path::PathBuf) {
    fixture_copy("v1.redb")
}

/// A copy of `tests/fixtures/NAME` in a temp dir.
fn fixture_copy(name: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("auth.redb");
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    std::fs::copy(fixtures.join(name), &path).unwrap();
    (dir, path)
}

/// The schema version a (closed) file records, and the names of its tables.
fn version_and_tables(path: &std::path::Path) -> (Option<u64>, Vec<String>) {
    use redb::{ReadableDatabase, TableHandle};
    let db = redb::Database::open(path).unwrap();
    let txn = db.begin_read().unwrap();
    let version = txn
        .open_table(META)
        .unwrap()
        .get("schema_version")
        .unwrap()
        .map(|v| v.value());
    let mut tables: Vec<String> = txn
        .list_tables()
        .unwrap()
        .map(|t| t.name().to_owned())
        .collect();
    tables.sort();
    (version, tables)
}

/// `tables` with the (non-multimap) device-token tables that version 3 adds, empty, sorted.
fn with_device_tables(mut tables: Vec<String>) -> Vec<String> {
    tables.extend(["device_tokens".into(), "device_tokens_by_expiry".into()]);
    tables.sort();
    tables
}

/// An `Auth` (seed profile) on `path` with the clock at the fixture's time.
fn fixture_auth(path: &std::path::Path) -> Auth {
    let clock = tower_user_auth::ManualClock::new(fixture_now());
    Auth::with_clock(
        RedbStore::open(path).unwrap(),
        support::seed_config(),
        clock,
    )
    .expect("valid configuration")
}

#[tokio::test]
async fn a_version_1_file_is_migrated_in_place() {
    let (_dir, path) = v1_fixture();
    let (version, v1_tables) = version_and_tables(&path);
    assert_eq!(version, Some(1));
    {
        let auth = fixture_auth(&path);
        assert_eq!(auth.store().counts().unwrap(), (3, 3, 1));
        for (email, password) in FIXTURE_USERS {
            assert!(auth.valid_login(email, password).await.unwrap(), "{email}");
            assert!(!auth.valid_login(email, "wrong").await.unwrap(), "{email}");
        }
        for (token, email) in FIXTURE_SESSIONS {
            let user = auth.get_user_from_session_id(Some(token)).await.unwrap();
            assert_eq!(user.map(|u| u.email).as_deref(), Some(email), "{token}");
        }
        let gone = auth.get_user_from_session_id(Some(FIXTURE_LOGGED_OUT));
        assert!(gone.await.unwrap().is_none());
        // Ids and the id counter survive: a new account gets the next id.
        let dave = auth.register_user("dave@example.com", "pw").await.unwrap();
        assert_eq!(dave.id, UserId(4));
        let carol = auth
            .update_password(FIXTURE_RESET, "carol-new")
            .await
            .unwrap();
        assert_eq!(carol.id, UserId(3));
        assert!(
            auth.valid_login("carol@example.com", "carol-new")
                .await
                .unwrap()
        );
        assert!(auth.update_password(FIXTURE_RESET, "again").await.is_err());
    }
    // The file now records the new version, with the same tables plus version 3's device-token
    // tables (no leftovers), and its tables no longer open with version 1's types.
    let v1_tables = with_device_tables(v1_tables);
    let (version, tables) = version_and_tables(&path);
    assert_eq!(version, Some(CURRENT_VERSION));
    assert_eq!(tables, v1_tables);
    {
        let db = redb::Database::open(&path).unwrap();
        let txn = redb::ReadableDatabase::begin_read(&db).unwrap();
        assert!(txn.open_table(V1_USERS).is_err());
    }
    // Opening the migrated file again changes nothing.
    let auth = fixture_auth(&path);
    assert_eq!(auth.store().counts().unwrap(), (4, 3, 0));
    assert!(
        auth.valid_login("carol@example.com", "carol-new")
            .await
            .unwrap()
    );
    assert!(
        auth.valid_login("BOB@example.com", "bob-password-2")
            .await
            .unwrap()
    );
    let alice = auth.get_user_from_session_id(Some(FIXTURE_SESSIONS[0].0));
    assert_eq!(alice.await.unwrap().map(|u| u.id), Some(UserId(1)));
    drop(auth);
    assert_eq!(
        version_and_tables(&path),
        (Some(CURRENT_VERSION), v1_tables)
    );
}

#[tokio::test]
async fn migrated_records_keep_their_times_and_indexes() {
    let (_dir, path) = v1_fixture();
    let store = RedbStore::open(&path).unwrap();
    let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_225_600);
    let bob = store
        .find_user_by(UserQuery::Email("bob@example.com".into()))
        .await
        .unwrap();
    let sessions = store.sessions_of(bob.id).await.unwrap();
    assert_eq!(sessions.len(), 1);
    let (digest, record) = sessions[0];
    assert_eq!(
        digest,
        SessionToken::parse(FIXTURE_SESSIONS[1].0).unwrap().digest()
    );
    assert_eq!(record.user_id, bob.id);
    assert_eq!(record.created, t0 + Duration::from_secs(60));
    assert_eq!(
        record.expires,
        record.created + Duration::from_secs(30 * 24 * 3600)
    );
    let reset = ResetToken::parse(FIXTURE_RESET).unwrap().digest();
    let reset = store.reset_token(reset).await.unwrap().unwrap();
    assert_eq!(reset.expires, t0 + Duration::from_secs(60 + 3600));
    // The time indexes were carried over: purging at the right moments finds each record.
    let just_before = reset.expires - Duration::from_millis(1);
    let purged = store.purge_expired(just_before, t0).await.unwrap();
    assert_eq!((purged.sessions, purged.reset_tokens), (0, 0));
    let purged = store.purge_expired(reset.expires, t0).await.unwrap();
    assert_eq!((purged.sessions, purged.reset_tokens), (0, 1));
    // Idle since before t0 + 61 s: all three live sessions (last seen at t0 or t0 + 60 s).
    let idle_before = t0 + Duration::from_secs(61);
    let purged = store.purge_expired(t0, idle_before).await.unwrap();
    assert_eq!((purged.sessions, purged.reset_tokens), (3, 0));
    assert_eq!(store.counts().unwrap(), (3, 0, 0));
}

#[tokio::test]
async fn a_failed_migration_leaves_the_file_as_it_was() {
    let (_dir, path) = v1_fixture();
    // Damage the last table the migration rewrites: it no longer opens with version 1's type,
    // so the migration fails after rewriting the others, inside its one transaction.
    let broken: redb::TableDefinition<'_, &str, &str> =
        redb::TableDefinition::new("reset_tokens_by_expiry");
    let v1_expiry: redb::TableDefinition<'_, (u64, [u8; 32]), ()> =
        redb::TableDefinition::new("reset_tokens_by_expiry");
    let saved: Vec<(u64, [u8; 32])> = {
        let db = redb::Database::open(&path).unwrap();
        let txn = db.begin_write().unwrap();
        let saved = {
            use redb::ReadableTable;
            let table = txn.open_table(v1_expiry).unwrap();
            table
                .iter()
                .unwrap()
                .map(|e| e.unwrap().0.value())
                .collect()
        };
        txn.delete_table(v1_expiry).unwrap();
        txn.open_table(broken).unwrap().insert("x", "y").unwrap();
        txn.commit().unwrap();
        saved
    };
    let (_, tables_before) = version_and_tables(&path);
    assert!(matches!(
        RedbStore::open(&path),
        Err(StoreError::Backend(_))
    ));
    // Nothing of the migration landed: still version 1, version 1's types, no temporary tables.
    assert_eq!(version_and_tables(&path), (Some(1), tables_before));
    {
        let db = redb::Database::open(&path).unwrap();
        let txn = db.begin_write().unwrap();
        assert_eq!(
            redb::ReadableTableMetadata::len(&txn.open_table(V1_USERS).unwrap()).unwrap(),
            3
        );
        // Repair the table; the next open migrates the whole file.
        txn.delete_table(broken).unwrap();
        let mut table = txn.open_table(v1_expiry).unwrap();
        for key in saved {
            table.insert(key, ()).unwrap();
        }
        drop(table);
        txn.commit().unwrap();
    }
    let auth = fixture_auth(&path);
    assert_eq!(auth.store().counts().unwrap(), (3, 3, 1));
    auth.update_password(FIXTURE_RESET, "carol-new")
        .await
        .unwrap();
    drop(auth);
    assert_eq!(version_and_tables(&path).0, Some(CURRENT_VERSION));
}

#[tokio::test]
async fn a_version_1_file_claiming_a_future_version_is_refused_untouched() {
    let (_dir, path) = v1_fixture();
    {
        let db = redb::Database::open(&path).unwrap();
        let txn = db.begin_write().unwrap();
        txn.open_table(META)
            .unwrap()
            .insert("schema_version", CURRENT_VERSION + 1)
            .unwrap();
        txn.commit().unwrap();
    }
    let before = version_and_tables(&path);
    match RedbStore::open(&path) {
        Err(StoreError::SchemaVersion { found, expected })
            if found == CURRENT_VERSION + 1 && expected == CURRENT_VERSION => {}
        other => panic!("expected a schema version error, got {other:?}"),
    }
    assert_eq!(version_and_tables(&path), before);
    let db = redb::Database::open(&path).unwrap();
    let txn = redb::ReadableDatabase::begin_read(&db).unwrap();
    let users = txn.open_table(V1_USERS).unwrap();
    assert_eq!(redb::ReadableTableMetadata::len(&users).unwrap(), 3);
}

// ---------------------------------------------------------------------------------------------
// Schema migration, on a file written by schema version 2 (see tests/fixtures/README.md).

/// Zoë's email in `v2.redb`: the diaeresis as a combining mark (NFD).
const V2_ZOE: &str = "zoe\u{308}@example.com";
/// The accounts of `v2.redb` and their passwords.
const V2_USERS: [(&str, &str); 4] = [
    ("alice@example.com", "alice-password-1"),
    ("Bob@Example.com", "bob-password-2"),
    ("carol@example.com", "carol-password-3"),
    (V2_ZOE, "zoe-password-4"),
];
/// The live sessions of `v2.redb` and their owners.
const V2_SESSIONS: [(&str, &str); 4] = [
    ("91b91c69-2588-453c-ae76-7b93bef121aa", "alice@example.com"),
    ("d0f1f14d-ebe4-4e8e-82a0-36597500986d", "Bob@Example.com"),
    ("9c01fc2b-70be-4674-af33-0f8d86af20b1", "carol@example.com"),
    ("c995fd4b-625a-469e-a29b-905e88cba1df", V2_ZOE),
];
/// Bob's second session in `v2.redb`, logged out before the file was written.
const V2_LOGGED_OUT: &str = "89ef9ac9-d79b-4bbd-9227-a207b0153185";
/// Carol's reset token in `v2.redb`.
const V2_RESET: &str = "c53016fd-a5bb-4a8f-9f3d-4a8e7c3f12ff";

/// Every live session of `v2.redb` is valid, for its owner.
async fn v2_sessions_are_valid(auth: &Auth) {
    for (token, email) in V2_SESSIONS {
        let user = auth.get_user_from_session_id(Some(token)).await.unwrap();
        assert_eq!(user.map(|u| u.email).as_deref(), Some(email), "{token}");
    }
    let gone = auth.get_user_from_session_id(Some(V2_LOGGED_OUT));
    assert!(gone.await.unwrap().is_none());
}

#[tokio::test]
async fn a_version_2_file_is_migrated_in_place() {
    let (_dir, path) = fixture_copy("v2.redb");
    let (version, v2_tables) = version_and_tables(&path);
    assert_eq!(version, Some(2));
    {
        let auth = fixture_auth(&path);
        assert_eq!(auth.store().counts().unwrap(), (4, 4, 1));
        // Every session stays valid: accounts and sessions start at generation 0.
        v2_sessions_are_valid(&auth).await;
        for (email, password) in V2_USERS {
            assert!(auth.valid_login(email, password).await.unwrap(), "{email}");
            assert!(!auth.valid_login(email, "wrong").await.unwrap(), "{email}");
        }
        // The email index was rebuilt with NFC keys: the composed form finds Zoë's account.
        let composed = "Zo\u{eb}@example.com";
        assert!(auth.valid_login(composed, "zoe-password-4").await.unwrap());
        assert!(matches!(
            auth.register_user(composed, "pw").await,
            Err(AuthError::EmailTaken(_))
        ));
        let dave = auth.register_user("dave@example.com", "pw").await.unwrap();
        assert_eq!(dave.id, UserId(5));
        // The reset token works once; the seed profile keeps Carol's session across it.
        let carol = auth.update_password(V2_RESET, "carol-new").await.unwrap();
        assert_eq!((carol.id, carol.generation), (UserId(3), 1));
        assert!(
            auth.valid_login("carol@example.com", "carol-new")
                .await
                .unwrap()
        );
        assert!(auth.update_password(V2_RESET, "again").await.is_err());
        v2_sessions_are_valid(&auth).await;
    }
    let v2_tables = with_device_tables(v2_tables);
    let (version, tables) = version_and_tables(&path);
    assert_eq!(version, Some(CURRENT_VERSION));
    assert_eq!(tables, v2_tables);
    // Opening the migrated file again changes nothing.
    let auth = fixture_auth(&path);
    assert_eq!(auth.store().counts().unwrap(), (5, 4, 0));
    v2_sessions_are_valid(&auth).await;
    drop(auth);
    assert_eq!(
        version_and_tables(&path),
        (Some(CURRENT_VERSION), v2_tables)
    );
}

// ---------------------------------------------------------------------------------------------
// Schema migration, on a file written by schema version 3 (see tests/fixtures/README.md).

/// The accounts of `v3.redb` and their passwords (the same as `v2.redb`'s).
const V3_USERS: [(&str, &str); 4] = V2_USERS;
/// The live sessions of `v3.redb` and their owners' emails as registered.
const V3_SESSIONS: [(&str, &str); 4] = [
    ("9a503156-887e-4009-b663-75acca8b509b", "alice@example.com"),
    ("8646eace-da39-491b-b7f3-97815c409678", "Bob@Example.com"),
    ("156a7a53-c009-483d-80b0-6aedf3518c0a", "carol@example.com"),
    ("b65036b6-69f1-4cda-85bd-e6a8e6d342bc", V2_ZOE),
];
/// Bob's second session in `v3.redb`, logged out before the file was written.
const V3_LOGGED_OUT: &str = "900cd16f-e3d8-4a79-8705-e648588fdd60";
/// Carol's reset token in `v3.redb`.
const V3_RESET: &str = "ec153474-4ea6-4855-b5b8-61b34b49b0a4";

/// Every live session of `v3.redb` answers [`Store::session`] with its owner's email, and
/// validates through `Auth`; the logged-out one answers nothing.
async fn v3_sessions_are_valid(auth: &Auth) {
    for (token, email) in V3_SESSIONS {
        let digest = SessionToken::parse(token).unwrap().digest();
        let entry = auth.store().session(digest).await.unwrap();
        assert_eq!(entry.map(|e| e.email).as_deref(), Some(email), "{token}");
        let user = auth.get_user_from_session_id(Some(token)).await.unwrap();
        assert_eq!(user.map(|u| u.email).as_deref(), Some(email), "{token}");
    }
    let digest = SessionToken::parse(V3_LOGGED_OUT).unwrap().digest();
    assert!(auth.store().session(digest).await.unwrap().is_none());
    let gone = auth.get_user_from_session_id(Some(V3_LOGGED_OUT));
    assert!(gone.await.unwrap().is_none());
}

#[tokio::test]
async fn a_version_3_file_is_migrated_in_place() {
    let (_dir, path) = fixture_copy("v3.redb");
    let (version, v3_tables) = version_and_tables(&path);
    assert_eq!(version, Some(3));
    {
        let auth = fixture_auth(&path);
        assert_eq!(auth.store().counts().unwrap(), (4, 4, 1));
        v3_sessions_are_valid(&auth).await;
        for (email, password) in V3_USERS {
            assert!(auth.valid_login(email, password).await.unwrap(), "{email}");
            assert!(!auth.valid_login(email, "wrong").await.unwrap(), "{email}");
        }
        let composed = "Zo\u{eb}@example.com";
        assert!(auth.valid_login(composed, "zoe-password-4").await.unwrap());
        // The reset token works once; the seed profile keeps Carol's session across it.
        let carol = auth.update_password(V3_RESET, "carol-new").await.unwrap();
        assert_eq!((carol.id, carol.generation), (UserId(3), 1));
        assert!(
            auth.valid_login("carol@example.com", "carol-new")
                .await
                .unwrap()
        );
        assert!(auth.update_password(V3_RESET, "again").await.is_err());
        v3_sessions_are_valid(&auth).await;
    }
    let (version, tables) = version_and_tables(&path);
    assert_eq!(version, Some(CURRENT_VERSION));
    assert_eq!(tables, v3_tables);
    // Opening the migrated file again changes nothing.
    let auth = fixture_auth(&path);
    assert_eq!(auth.store().counts().unwrap(), (4, 4, 0));
    v3_sessions_are_valid(&auth).await;
    drop(auth);
    assert_eq!(
        version_and_tables(&path),
        (Some(CURRENT_VERSION), v3_tables)
    );
}
