//! A database of schema version 3 (the release before issue 21, `tests/fixtures/pg_v3.sql`)
//! migrated in place: no account is contested, the unconfirmed one is found by the purge at
//! its creation time, its confirmation token still works (and needs a new password once
//! contested), and the result has exactly the schema of a new database.

use tower_user_auth::{store::Store, token::TokenDigest};

use super::lifecycle::{schema_of, versions};
use crate::support::fixture_v5;

/// The fixture: a database written by the previous release (schema version 3).
const PG_V3: &str = include_str!("../fixtures/pg_v3.sql");
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
    fixture_v5::dave_is_contested_and_confirmed_with_a_new_password(&store).await;

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
    let client = old.client().await;
    client.batch_execute(PG_V3).await.expect("load the fixture");
    fixture_v5::dave_is_purged_at_his_time(&old.store().await).await;
}
