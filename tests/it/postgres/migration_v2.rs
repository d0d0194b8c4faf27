//! A database of the previous release (schema version 2, `tests/fixtures/pg_v2.sql`) migrated
//! in place: its sessions, tokens and accounts as they were, with the tables of version 3.

use std::time::SystemTime;
use tower_user_auth::store::UnconfirmedUser;

use crate::support::records::{email_change, email_token};
use tower_user_auth::{
    UserId,
    store::{AccountVersion, EmailTokenPurpose, SecondFactorChange, UserQuery, prelude::*},
    token::TokenDigest,
};

/// The fixture: a database written by the previous release (schema version 2).
const PG_V2: &str = include_str!("../../fixtures/pg_v2.sql");

/// The fixture's live sessions: token and owner's email.
const V2_SESSIONS: [(&str, &str); 3] = [
    ("bc5d019a-f84c-43a3-84ee-2410b472d10a", "alice@example.com"),
    ("b05ed173-8f2f-45f1-9adb-0df99236d16a", "Bob@Example.com"),
    ("12cedcea-1295-436f-acd0-be1586d166eb", "carol@example.com"),
];
/// Bob's session that was logged out before the dump.
const V2_LOGGED_OUT: &str = "e4081957-3a14-4978-9dfc-6e3cfeaf5176";
/// Carol's reset token.
const V2_RESET: &str = "71706a42-418c-4d25-8cd8-09df2024b7de";

/// The schema versions applied to the database of `client`.
pub(super) async fn versions(client: &tokio_postgres::Client) -> Vec<i64> {
    client
        .query("SELECT version FROM schema_version ORDER BY version", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// The schema as the catalog describes it: every column (type, nullability, default), every
/// constraint and every index of the store's tables, sorted.
pub(super) async fn schema_of(client: &tokio_postgres::Client) -> Vec<String> {
    let mut described = Vec::new();
    for sql in [
        "SELECT table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable
             || ' ' || coalesce(column_default, '')
         FROM information_schema.columns WHERE table_schema = current_schema()",
        "SELECT conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid)
         FROM pg_constraint WHERE connamespace = current_schema()::regnamespace",
        "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema()",
        "SELECT relname || ' ' || relpersistence::text FROM pg_class
         WHERE relnamespace = current_schema()::regnamespace AND relkind = 'r'",
    ] {
        for row in client.query(sql, &[]).await.unwrap() {
            described.push(row.get::<_, String>(0));
        }
    }
    described.sort();
    described
}

/// A database of the previous release (schema version 2, written by its code) is migrated in
/// place on connecting: its accounts count as confirmed and have no factor, its sessions,
/// reset token and device token are kept, the new tables work for its accounts, ids go on
/// from where they were, and the result has exactly the schema of a new database.
#[tokio::test]
async fn a_database_of_the_previous_release_is_migrated_in_place() {
    let Some(old) = crate::support::postgres::database().await else {
        return;
    };
    let client = old.client().await;
    client.batch_execute(PG_V2).await.expect("load the fixture");
    assert_eq!(versions(&client).await, [1, 2], "the fixture is version 2");

    let store = old.store().await;
    assert_eq!(versions(&client).await, [1, 2, 3, 4, 5]);

    let listed = store.list_users(None, 10).await.unwrap();
    let emails: Vec<&str> = listed.iter().map(|l| l.user.email.as_str()).collect();
    assert_eq!(
        emails,
        ["alice@example.com", "Bob@Example.com", "carol@example.com"]
    );
    for entry in &listed {
        assert!(
            entry.user.email_confirmed,
            "{entry:?}: existing = confirmed"
        );
        assert!(!entry.second_factor, "{entry:?}");
        assert_eq!(entry.user.generation, 0);
        assert_eq!(store.second_factor(entry.user.id).await.unwrap(), None);
    }
    let bob = store
        .find_user_by(UserQuery::Email("bob@example.com".into()))
        .await
        .unwrap();
    assert!(bob.email_confirmed);
    for (token, email) in V2_SESSIONS {
        let entry = store
            .session(TokenDigest::of(token))
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{email}'s session is kept"));
        assert_eq!(entry.email, email);
    }
    assert_eq!(
        store.session(TokenDigest::of(V2_LOGGED_OUT)).await.unwrap(),
        None
    );
    let reset = store.reset_token(TokenDigest::of(V2_RESET)).await.unwrap();
    assert_eq!(reset.map(|r| r.user_id), Some(UserId(3)));
    let device = store
        .device_token(TokenDigest::of("alice-device"))
        .await
        .unwrap();
    assert_eq!(device.map(|d| d.user_id), Some(UserId(1)));

    // The new records work for the old accounts.
    let alice = listed[0].user.clone();
    let begin = SecondFactorChange::Begin {
        sealed_secret: vec![1; 40],
    };
    assert!(store.update_second_factor(alice.id, begin).await.unwrap());
    let now = SystemTime::now();
    let change = TokenDigest::of("bob-change");
    let record = email_change(&bob, "robert@example.com", now);
    store
        .replace_email_token(change, record, AccountVersion::of(&bob))
        .await
        .unwrap();
    let redeemed = store.redeem_email_token(change, now).await.unwrap();
    assert_eq!(redeemed.previous_email, "Bob@Example.com");
    assert_eq!(redeemed.user.email, "robert@example.com");
    let confirm = email_token(UserId(0), EmailTokenPurpose::Confirm, now, 600);
    let dave = store
        .add_unconfirmed_user(UnconfirmedUser {
            email: "dave@example.com",
            hashed_password: "$2b$04$d",
            token: TokenDigest::of("dave"),
            record: confirm,
            stale_before: std::time::UNIX_EPOCH,
        })
        .await
        .unwrap();
    assert_eq!(dave.id, UserId(4), "ids go on after the fixture's");
    assert!(!dave.email_confirmed);

    // Same schema as a database made new by this version.
    let fresh = crate::support::postgres::database().await.unwrap();
    let _fresh_store = fresh.store().await;
    assert_eq!(
        schema_of(&client).await,
        schema_of(&fresh.client().await).await
    );
}
