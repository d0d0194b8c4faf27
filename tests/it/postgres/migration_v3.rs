//! A database of schema version 3 (`tests/fixtures/pg_v3.sql`, the release before tokens
//! were bound to the credential generation, and before issue 21's pre-hijacking rules)
//! migrated in place: every reset and email token is stamped with its user's generation,
//! stays as good as it was, and dies with the next change of credentials; no account is
//! contested, the unconfirmed one is found by the purge at its creation time, its
//! confirmation token needs a new password once contested; and the result has exactly the
//! schema of a new database.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tower_user_auth::{
    UserId,
    store::{
        EmailTokenPurpose, PasswordReset, SecondFactorChange, UserQuery, UserUpdate, prelude::*,
    },
    token::{ResetToken, TokenDigest},
};

use super::accounts::{schema_of, versions};
use crate::support::fixture_v5;

/// The fixture: a database written by the previous release (schema version 3).
const PG_V3: &str = include_str!("../../fixtures/pg_v3.sql");

/// The fixture's live sessions and their owners' emails.
const V3_SESSIONS: [(&str, &str); 3] = [
    ("955625c1-e2e3-4c7a-92fd-3b868b4ace39", "alice@example.com"),
    ("0d67ca34-06f6-4d4a-8a68-7e8e5f0f445a", "Bob@Example.com"),
    ("b98ed92a-0e1d-41cb-86fe-5a69cbb379de", "carol@example.com"),
];
/// Carol's reset token.
const V3_RESET: &str = "b4985f07-860a-4905-b6f5-abb17c36e715";

/// A moment at which the fixture's tokens are live: 2026-01-01T00:02:00Z.
fn fixture_now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_767_225_600 + 120)
}

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
    assert_eq!(versions(&client).await, [1, 2, 3, 4, 5]);

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
    let now = fixture_now();

    for (token, email) in V3_SESSIONS {
        let entry = store.session(TokenDigest::of(token)).await.unwrap();
        assert_eq!(entry.map(|e| e.email).as_deref(), Some(email), "{token}");
    }
    // Each token stamped with its user's generation (0 in the fixture).
    let reset = ResetToken::parse(V3_RESET).unwrap().digest();
    let record = store.reset_token(reset).await.unwrap().expect("Carol's");
    assert_eq!((record.user_id, record.generation), (UserId(3), 0));
    let confirm = TokenDigest::of("v5-fixture-confirm-token-dave");
    let record = store.email_token(confirm).await.unwrap().expect("Dave's");
    assert_eq!((record.user_id, record.generation), (UserId(4), 0));
    let change = TokenDigest::of("v5-fixture-change-token-alice");
    let record = store.email_token(change).await.unwrap().expect("Alice's");
    assert_eq!((record.user_id, record.generation), (UserId(1), 0));
    let moved = EmailTokenPurpose::ChangeEmail {
        new_email: "alice@new.example".into(),
    };
    assert_eq!(record.purpose, moved);

    // They work as before: Dave's confirms, Carol's resets once.
    let confirmed = store.redeem_email_token(confirm, now).await.unwrap();
    assert!(confirmed.user.email_confirmed);
    let reset_with = |hash: &str| PasswordReset {
        token: reset,
        user_id: UserId(3),
        now,
        hashed_password: hash.into(),
        end_sessions: false,
        confirm_email: false,
    };
    let carol = store
        .reset_password(reset_with("$2b$04$new"))
        .await
        .unwrap();
    assert_eq!(carol.generation, 1);
    assert!(
        store
            .reset_password(reset_with("$2b$04$again"))
            .await
            .is_err()
    );
    // ... and die with the next change of credentials.
    let update = UserUpdate::new().hashed_password("$2b$04$alice-new");
    assert_eq!(
        store
            .update_user(UserId(1), update)
            .await
            .unwrap()
            .generation,
        1
    );
    assert!(store.redeem_email_token(change, now).await.is_err());
    let alice = store.find_user_by(UserQuery::Id(UserId(1))).await.unwrap();
    assert_eq!(alice.email, "alice@example.com");
    let off = SecondFactorChange::Remove;
    assert!(store.update_second_factor(UserId(2), off).await.unwrap());
    let bob = store.find_user_by(UserQuery::Id(UserId(2))).await.unwrap();
    assert_eq!(bob.generation, 1);
    let bobs = store
        .session(TokenDigest::of(V3_SESSIONS[1].0))
        .await
        .unwrap();
    assert_eq!(bobs.map(|e| e.record.generation), Some(1), "kept, moved");

    // Same schema as a database made new by this version.
    let fresh = crate::support::postgres::database().await.unwrap();
    let _fresh_store = fresh.store().await;
    assert_eq!(
        schema_of(&client).await,
        schema_of(&fresh.client().await).await
    );
}

/// The migrated unconfirmed account can be contested; its token then confirms only with a
/// new password.
#[tokio::test]
async fn a_migrated_unconfirmed_account_is_confirmed_with_a_new_password_once_contested() {
    let Some(old) = crate::support::postgres::database().await else {
        return;
    };
    let client = old.client().await;
    client.batch_execute(PG_V3).await.expect("load the fixture");
    fixture_v5::dave_is_contested_and_confirmed_with_a_new_password(&old.store().await).await;
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
