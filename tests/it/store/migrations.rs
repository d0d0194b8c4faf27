//! Schema versions and migrations, on committed fixtures written by earlier releases (see
//! tests/fixtures/README.md): each older file is migrated in place to the current version.

use std::time::{Duration, SystemTime};

use tower_user_auth::{
    Auth, AuthError, StoreError, UserId,
    compat::SeedApi,
    store::{RedbStore, UserQuery, prelude::*},
    token::{ResetToken, SessionToken},
};

use crate::support;

// Schema migration, on a file written by schema version 1 (see tests/fixtures/README.md).

/// The time the fixture was written at (2026-01-01T00:00:00Z), plus two minutes.
pub(crate) fn fixture_now() -> SystemTime {
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

const META: redb::TableDefinition<'_, &str, u64> = redb::TableDefinition::new("meta");
/// The `users` table as schema version 1 defined it.
const V1_USERS: redb::TableDefinition<'_, u64, (&str, &str, u64)> =
    redb::TableDefinition::new("users");

/// A copy of the version-1 fixture in a temp dir.
fn v1_fixture() -> (tempfile::TempDir, std::path::PathBuf) {
    fixture_copy("v1.redb")
}

/// A copy of `tests/fixtures/NAME` in a temp dir.
pub(crate) fn fixture_copy(name: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("auth.redb");
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    std::fs::copy(fixtures.join(name), &path).unwrap();
    (dir, path)
}

/// The schema version a (closed) file records, and the names of its tables.
pub(crate) fn version_and_tables(path: &std::path::Path) -> (Option<u64>, Vec<String>) {
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

/// `tables` with the (non-multimap) device-token tables that version 3 adds, empty, and
/// the lifecycle tables of version 5, sorted.
fn with_device_tables(tables: Vec<String>) -> Vec<String> {
    let mut tables = with_lifecycle_tables(tables);
    tables.extend(["device_tokens".into(), "device_tokens_by_expiry".into()]);
    tables.sort();
    tables
}

/// `tables` with the tables of the account lifecycle that version 5 adds, empty, and those
/// of the versions after it, sorted.
pub(crate) fn with_lifecycle_tables(mut tables: Vec<String>) -> Vec<String> {
    tables.extend(
        [
            "email_tokens",
            "email_tokens_by_expiry",
            "email_tokens_by_user",
            "second_factors",
            "unconfirmed_users",
        ]
        .map(String::from),
    );
    with_unconfirmed_tables(tables)
}

/// `tables` with the tables of unconfirmed accounts (the contested set, the index by
/// creation) that version 7 adds, sorted.
pub(crate) fn with_unconfirmed_tables(mut tables: Vec<String>) -> Vec<String> {
    tables.extend(["contested_users", "unconfirmed_users_by_created"].map(String::from));
    tables.sort();
    tables
}

/// An `Auth` (seed profile) on `path` with the clock at the fixture's time.
pub(crate) fn fixture_auth(path: &std::path::Path) -> Auth {
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
    assert_eq!(version, Some(crate::store::CURRENT_VERSION));
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
        (Some(crate::store::CURRENT_VERSION), v1_tables)
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
    let purged = store
        .purge_expired(just_before, t0, std::time::UNIX_EPOCH)
        .await
        .unwrap();
    assert_eq!((purged.sessions, purged.reset_tokens), (0, 0));
    let purged = store
        .purge_expired(reset.expires, t0, std::time::UNIX_EPOCH)
        .await
        .unwrap();
    assert_eq!((purged.sessions, purged.reset_tokens), (0, 1));
    // Idle since before t0 + 61 s: all three live sessions (last seen at t0 or t0 + 60 s).
    let idle_before = t0 + Duration::from_secs(61);
    let purged = store
        .purge_expired(t0, idle_before, std::time::UNIX_EPOCH)
        .await
        .unwrap();
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
    assert_eq!(
        version_and_tables(&path).0,
        Some(crate::store::CURRENT_VERSION)
    );
}

#[tokio::test]
async fn a_version_1_file_claiming_a_future_version_is_refused_untouched() {
    let (_dir, path) = v1_fixture();
    {
        let db = redb::Database::open(&path).unwrap();
        let txn = db.begin_write().unwrap();
        txn.open_table(META)
            .unwrap()
            .insert("schema_version", crate::store::CURRENT_VERSION + 1)
            .unwrap();
        txn.commit().unwrap();
    }
    let before = version_and_tables(&path);
    match RedbStore::open(&path) {
        Err(StoreError::SchemaVersion { found, expected })
            if found == crate::store::CURRENT_VERSION + 1
                && expected == crate::store::CURRENT_VERSION => {}
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
    assert_eq!(version, Some(crate::store::CURRENT_VERSION));
    assert_eq!(tables, v2_tables);
    // Opening the migrated file again changes nothing.
    let auth = fixture_auth(&path);
    assert_eq!(auth.store().counts().unwrap(), (5, 4, 0));
    v2_sessions_are_valid(&auth).await;
    drop(auth);
    assert_eq!(
        version_and_tables(&path),
        (Some(crate::store::CURRENT_VERSION), v2_tables)
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
    let v3_tables = with_lifecycle_tables(v3_tables);
    let (version, tables) = version_and_tables(&path);
    assert_eq!(version, Some(crate::store::CURRENT_VERSION));
    assert_eq!(tables, v3_tables);
    // Opening the migrated file again changes nothing.
    let auth = fixture_auth(&path);
    assert_eq!(auth.store().counts().unwrap(), (4, 4, 0));
    v3_sessions_are_valid(&auth).await;
    drop(auth);
    assert_eq!(
        version_and_tables(&path),
        (Some(crate::store::CURRENT_VERSION), v3_tables)
    );
}
