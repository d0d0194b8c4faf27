//! Schema migration, on a file written by schema version 5, the release before issue 21
//! (see tests/fixtures/README.md): the unconfirmed account is indexed by its creation (the
//! purge finds it) and not contested, the confirmed ones are not contested, and every token
//! written then still works.

use std::time::UNIX_EPOCH;

use tower_user_auth::{
    StoreError, UserId,
    store::{Store, UserQuery},
    token::{SessionToken, TokenDigest},
};

use crate::migrations::{
    fixture_auth, fixture_copy, fixture_now, version_and_tables, with_unconfirmed_tables,
};

/// The accounts of `v5.redb`, and whether each is confirmed.
const V5_USERS: [(&str, bool); 4] = [
    ("alice@example.com", true),
    ("Bob@Example.com", true),
    ("carol@example.com", true),
    ("dave@example.com", false),
];
/// Alice's live session in `v5.redb`.
const V5_ALICE_SESSION: &str = "f0130631-2bfc-4236-bb8e-6edaba79b157";
/// Dave's confirmation token in `v5.redb`.
const V5_DAVE_CONFIRM: &str = "v5-fixture-confirm-token-dave";

#[tokio::test]
async fn a_version_5_file_is_migrated_in_place() {
    let (_dir, path) = fixture_copy("v5.redb");
    let (version, v5_tables) = version_and_tables(&path);
    assert_eq!(version, Some(5));
    let v6_tables = with_unconfirmed_tables(v5_tables);
    {
        let auth = fixture_auth(&path);
        let store = auth.store();
        for (n, (email, confirmed)) in V5_USERS.iter().enumerate() {
            let user = store
                .find_user_by(UserQuery::Id(UserId(n as u64 + 1)))
                .await
                .unwrap();
            assert_eq!(user.email, *email);
            assert_eq!(
                (user.email_confirmed, user.contested),
                (*confirmed, false),
                "{email}"
            );
        }
        let digest = SessionToken::parse(V5_ALICE_SESSION).unwrap().digest();
        let entry = store
            .session(digest)
            .await
            .unwrap()
            .expect("Alice's session");
        assert_eq!(entry.email, "alice@example.com");
        // Dave's account was indexed by its creation: a purge up to just before it keeps
        // it, and his token still confirms (here: contested, with a new password).
        let dave = store.find_user_by(UserQuery::Id(UserId(4))).await.unwrap();
        let before = dave.created - std::time::Duration::from_millis(1);
        let purged = store
            .purge_expired(fixture_now(), UNIX_EPOCH, before)
            .await
            .unwrap();
        assert_eq!(purged.unconfirmed_users, 0, "{purged:?}");
        assert!(store.contest_unconfirmed("dave@example.com").await.unwrap());
        assert!(
            !store
                .contest_unconfirmed("carol@example.com")
                .await
                .unwrap()
        );
        let token = TokenDigest::of(V5_DAVE_CONFIRM);
        let refused = store.redeem_email_token(token, fixture_now()).await;
        assert!(matches!(refused, Err(StoreError::Conflict)), "{refused:?}");
        let dave = store
            .confirm_with_new_password(token, fixture_now(), "$2b$04$dave".into())
            .await
            .unwrap();
        assert!(dave.email_confirmed && !dave.contested);
        assert_eq!(dave.generation, 1);
    }
    assert_eq!(
        version_and_tables(&path),
        (Some(crate::CURRENT_VERSION), v6_tables.clone())
    );
    // Opening the migrated file again changes nothing.
    let auth = fixture_auth(&path);
    let dave = auth
        .store()
        .find_user_by(UserQuery::Id(UserId(4)))
        .await
        .unwrap();
    assert!(dave.email_confirmed);
    drop(auth);
    assert_eq!(
        version_and_tables(&path),
        (Some(crate::CURRENT_VERSION), v6_tables)
    );
}

/// The index the migration fills finds the unconfirmed account of version 5: a purge up
/// to its creation removes it with its token, and no other account.
#[tokio::test]
async fn a_migrated_unconfirmed_account_is_purged_at_its_time() {
    let (_dir, path) = fixture_copy("v5.redb");
    let auth = fixture_auth(&path);
    let store = auth.store();
    let dave = store.find_user_by(UserQuery::Id(UserId(4))).await.unwrap();
    let purged = store
        .purge_expired(fixture_now(), UNIX_EPOCH, dave.created)
        .await
        .unwrap();
    assert_eq!(purged.unconfirmed_users, 1, "{purged:?}");
    let gone = store.find_user_by(UserQuery::Id(UserId(4))).await;
    assert!(matches!(gone, Err(StoreError::NotFound)), "{gone:?}");
    let token = TokenDigest::of(V5_DAVE_CONFIRM);
    assert!(store.email_token(token).await.unwrap().is_none());
    for id in 1..=3 {
        store.find_user_by(UserQuery::Id(UserId(id))).await.unwrap();
    }
}
