//! A database of schema version 3 (the release before issue 21, `tests/fixtures/pg_v3.sql`)
//! migrated in place: no account is contested, the unconfirmed one is found by the purge at
//! its creation time, its confirmation token still works (and needs a new password once
//! contested), and the result has exactly the schema of a new database.

use std::time::{Duration, UNIX_EPOCH};

use tower_user_auth::{
    StoreError, UserId,
    store::{Store, UserQuery},
    token::TokenDigest,
};

use super::lifecycle::{schema_of, versions};

/// The fixture: a database written by the previous release (schema version 3).
const PG_V3: &str = include_str!("../fixtures/pg_v3.sql");
/// Dave's confirmation token in the fixture.
const DAVE_CONFIRM: &str = "v5-fixture-confirm-token-dave";
/// Alice's live session in the fixture.
const ALICE_SESSION: &str = "955625c1-e2e3-4c7a-92fd-3b868b4ace39";

#[tokio::test]
async fn a_version_3_database_is_migrated_in_place() {
    let Some(old) = crate::support::postgres::database().await else {
        return;
    };
    let client = old.client().await;
    client.batch_execute(PG_V3).await.expect("load the fixture");
    assert_eq!(
        versions(&client).await,
        [1, 2, 3],
        "the fixture is version 3"
    );
    let store = old.store().await;
    assert_eq!(versions(&client).await, [1, 2, 3, 4]);

    let listed = store.list_users(None, 10).await.unwrap();
    let states: Vec<_> = listed
        .iter()
        .map(|l| {
            (
                l.user.email.as_str(),
                l.user.email_confirmed,
                l.user.contested,
            )
        })
        .collect();
    assert_eq!(
        states,
        [
            ("alice@example.com", true, false),
            ("Bob@Example.com", true, false),
            ("carol@example.com", true, false),
            ("dave@example.com", false, false),
        ]
    );
    let alice = store.session(TokenDigest::of(ALICE_SESSION)).await.unwrap();
    assert_eq!(alice.map(|e| e.email).as_deref(), Some("alice@example.com"));

    // At the fixture's time (its tokens live a day from 2026-01-01).
    let at = UNIX_EPOCH + Duration::from_secs(1_767_225_600 + 120);
    let dave = store.find_user_by(UserQuery::Id(UserId(4))).await.unwrap();
    let before = dave.created - Duration::from_millis(1);
    let purged = store.purge_expired(at, UNIX_EPOCH, before).await.unwrap();
    assert_eq!(purged.unconfirmed_users, 0, "{purged:?}");
    assert!(store.contest_unconfirmed("dave@example.com").await.unwrap());
    assert!(
        !store
            .contest_unconfirmed("carol@example.com")
            .await
            .unwrap()
    );
    let token = TokenDigest::of(DAVE_CONFIRM);
    let refused = store.redeem_email_token(token, at).await;
    assert!(matches!(refused, Err(StoreError::Conflict)), "{refused:?}");
    let confirmed = store
        .confirm_with_new_password(token, at, "$2b$04$dave".into())
        .await
        .unwrap();
    assert!(confirmed.email_confirmed && !confirmed.contested);

    // Same schema as a database made new by this version.
    let fresh = crate::support::postgres::database().await.unwrap();
    let _fresh_store = fresh.store().await;
    assert_eq!(
        schema_of(&client).await,
        schema_of(&fresh.client().await).await
    );
}

/// The migrated unconfirmed account goes in a purge up to its creation, with its token.
#[tokio::test]
async fn a_migrated_unconfirmed_account_is_purged_at_its_time() {
    let Some(old) = crate::support::postgres::database().await else {
        return;
    };
    old.client()
        .await
        .batch_execute(PG_V3)
        .await
        .expect("load the fixture");
    let store = old.store().await;
    let dave = store.find_user_by(UserQuery::Id(UserId(4))).await.unwrap();
    let purged = store
        .purge_expired(dave.created, UNIX_EPOCH, dave.created)
        .await
        .unwrap();
    assert_eq!(purged.unconfirmed_users, 1, "{purged:?}");
    let gone = store.find_user_by(UserQuery::Id(UserId(4))).await;
    assert!(matches!(gone, Err(StoreError::NotFound)), "{gone:?}");
    let token = TokenDigest::of(DAVE_CONFIRM);
    assert!(store.email_token(token).await.unwrap().is_none());
    assert_eq!(store.list_users(None, 10).await.unwrap().len(), 3);
}
