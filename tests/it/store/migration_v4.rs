//! Schema migration, on a file written by schema version 4, the release before the account
//! lifecycle (see tests/fixtures/README.md): every account counts as confirmed with no
//! second factor, and the sessions, reset token and device token written then still work.

use tower_user_auth::store::UnconfirmedUser;
use tower_user_auth::{
    Auth, UserId,
    compat::SeedApi,
    store::{
        EmailTokenPurpose, EmailTokenRecord, RedbStore, SecondFactorChange, UserQuery, prelude::*,
    },
    token::{SessionToken, TokenDigest},
};

use crate::store::migrations::{
    fixture_auth, fixture_copy, version_and_tables, with_lifecycle_tables,
};

/// The accounts of `v4.redb` and their passwords (Zoë's email in NFD, as registered).
const V4_USERS: [(&str, &str); 4] = [
    ("alice@example.com", "alice-password-1"),
    ("Bob@Example.com", "bob-password-2"),
    ("carol@example.com", "carol-password-3"),
    ("zoe\u{308}@example.com", "zoe-password-4"),
];
/// The live sessions of `v4.redb` and their owners' emails as registered.
const V4_SESSIONS: [(&str, &str); 4] = [
    ("22ef3946-aad9-4a03-b204-5230d82ad2b8", "alice@example.com"),
    ("9455b93d-f2b0-4c0e-83a6-d5a7e9db8aa3", "Bob@Example.com"),
    ("d33a52da-c253-4527-ab89-7cad41962284", "carol@example.com"),
    (
        "b64fc4d7-ea20-4ca1-9043-9169c2075f42",
        "zoe\u{308}@example.com",
    ),
];
/// Bob's second session in `v4.redb`, logged out before the file was written.
const V4_LOGGED_OUT: &str = "d2211705-c831-4b63-ab85-151ac21f88a2";
/// Carol's reset token in `v4.redb`.
const V4_RESET: &str = "1c0e8421-7994-4831-a32e-b3cd856dbe6e";
/// Alice's device token in `v4.redb` (one failure counted).
const V4_DEVICE: &str = "v4-fixture-device-token-alice";

/// Every live session of `v4.redb` answers with its owner's email, through the store and
/// through `Auth`; the logged-out one answers nothing.
async fn v4_sessions_are_valid(auth: &Auth) {
    for (token, email) in V4_SESSIONS {
        let digest = SessionToken::parse(token).unwrap().digest();
        let entry = auth.store().session(digest).await.unwrap();
        assert_eq!(entry.map(|e| e.email).as_deref(), Some(email), "{token}");
        let user = auth.get_user_from_session_id(Some(token)).await.unwrap();
        assert_eq!(user.map(|u| u.email).as_deref(), Some(email), "{token}");
    }
    let digest = SessionToken::parse(V4_LOGGED_OUT).unwrap().digest();
    assert!(auth.store().session(digest).await.unwrap().is_none());
}

/// Every account of `v4.redb` is confirmed and has no second factor.
async fn v4_accounts_are_confirmed_without_a_factor(store: &RedbStore) {
    for (n, (email, _)) in V4_USERS.iter().enumerate() {
        let id = UserId(n as u64 + 1);
        let user = store.find_user_by(UserQuery::Id(id)).await.unwrap();
        assert_eq!((user.email.as_str(), user.email_confirmed), (*email, true));
        assert_eq!(store.second_factor(id).await.unwrap(), None, "{email}");
    }
    for listed in store
        .list_users(None, 10)
        .await
        .unwrap()
        .into_iter()
        .take(4)
    {
        assert!(listed.user.email_confirmed && !listed.second_factor);
    }
}

#[tokio::test]
async fn a_version_4_file_is_migrated_in_place() {
    let (_dir, path) = fixture_copy("v4.redb");
    let (version, v4_tables) = version_and_tables(&path);
    assert_eq!(version, Some(4));
    {
        let auth = fixture_auth(&path);
        let store = auth.store();
        assert_eq!(store.counts().unwrap(), (4, 4, 1));
        v4_accounts_are_confirmed_without_a_factor(store).await;
        v4_sessions_are_valid(&auth).await;
        for (email, password) in V4_USERS {
            assert!(auth.valid_login(email, password).await.unwrap(), "{email}");
            assert!(!auth.valid_login(email, "wrong").await.unwrap(), "{email}");
        }
        let device = store
            .device_token(TokenDigest::of(V4_DEVICE))
            .await
            .unwrap()
            .expect("Alice's device token");
        assert_eq!((device.user_id, device.failures), (UserId(1), 1));
        // The reset token works once; the seed profile keeps Carol's session across it.
        let carol = auth.update_password(V4_RESET, "carol-new").await.unwrap();
        assert_eq!((carol.id, carol.generation), (UserId(3), 1));
        assert!(carol.email_confirmed);
        assert!(auth.update_password(V4_RESET, "again").await.is_err());
        v4_sessions_are_valid(&auth).await;
        // The new tables work: an unconfirmed account (the next id), a factor for Alice.
        let record = EmailTokenRecord {
            user_id: UserId(0),
            purpose: EmailTokenPurpose::Confirm,
            created: crate::store::migrations::fixture_now(),
            expires: crate::store::migrations::fixture_now() + std::time::Duration::from_secs(600),
            generation: 0,
        };
        let dave = store
            .add_unconfirmed_user(UnconfirmedUser {
                email: "dave@example.com",
                hashed_password: "$2b$04$d",
                token: TokenDigest::of("d"),
                record,
                stale_before: std::time::UNIX_EPOCH,
            })
            .await
            .unwrap();
        assert_eq!((dave.id, dave.email_confirmed), (UserId(5), false));
        let begin = SecondFactorChange::Begin {
            sealed_secret: b"sealed".to_vec(),
        };
        assert!(store.update_second_factor(UserId(1), begin).await.unwrap());
    }
    let v5_tables = with_lifecycle_tables(v4_tables);
    assert_eq!(
        version_and_tables(&path),
        (Some(crate::store::CURRENT_VERSION), v5_tables.clone())
    );
    // Opening the migrated file again changes nothing.
    let auth = fixture_auth(&path);
    assert_eq!(auth.store().counts().unwrap(), (5, 4, 0));
    v4_sessions_are_valid(&auth).await;
    let dave = auth.store().find_user_by(UserQuery::Id(UserId(5))).await;
    assert!(!dave.unwrap().email_confirmed);
    let alice = auth.store().second_factor(UserId(1)).await.unwrap();
    assert!(alice.is_some_and(|f| !f.enabled));
    drop(auth);
    assert_eq!(
        version_and_tables(&path),
        (Some(crate::store::CURRENT_VERSION), v5_tables)
    );
}
