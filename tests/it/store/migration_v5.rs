//! Schema migration, on a file written by schema version 5, the release before tokens were
//! bound to the credential generation (see tests/fixtures/README.md): each reset and email
//! token is stamped with its user's generation, so every token of the file stays as good as
//! it was, and from then on dies with the next change of credentials; and the release before
//! issue 21's pre-hijacking rules: no account is contested, the unconfirmed one is indexed
//! by its creation (the purge finds it).

use tower_user_auth::{
    Auth, UserId,
    compat::SeedApi,
    store::{EmailTokenPurpose, SecondFactorChange, UserQuery, UserUpdate, prelude::*},
    token::{ResetToken, SessionToken, TokenDigest},
};

use crate::store::{
    migrations::{
        fixture_auth, fixture_copy, fixture_now, version_and_tables, with_unconfirmed_tables,
    },
    support::fixture_v5,
};

/// The confirmed accounts of `v5.redb` (Dave's, id 4, is not).
const V5_CONFIRMED: [&str; 3] = ["alice@example.com", "Bob@Example.com", "carol@example.com"];

/// The live sessions of `v5.redb` and their owners' emails as registered.
const V5_SESSIONS: [(&str, &str); 3] = [
    ("f0130631-2bfc-4236-bb8e-6edaba79b157", "alice@example.com"),
    ("de71acd0-615d-4e60-9284-bfdc518c7f3c", "Bob@Example.com"),
    ("c1c37579-81e5-4be3-823b-85e0c368860b", "carol@example.com"),
];
/// Bob's second session in `v5.redb`, logged out before the file was written.
const V5_LOGGED_OUT: &str = "118659d5-242f-4f6b-bcc1-8a6d442de54d";
/// Carol's reset token in `v5.redb`.
const V5_RESET: &str = "874d07de-1eb9-48db-8565-e722bab3278e";
/// The seeds of Dave's confirmation token and Alice's email-change token.
const V5_CONFIRM: &str = "v5-fixture-confirm-token-dave";
const V5_CHANGE: &str = "v5-fixture-change-token-alice";

/// Every live session of `v5.redb` answers with its owner's email; the logged-out one
/// answers nothing.
async fn v5_sessions_are_valid(auth: &Auth) {
    for (token, email) in V5_SESSIONS {
        let user = auth.get_user_from_session_id(Some(token)).await.unwrap();
        assert_eq!(user.map(|u| u.email).as_deref(), Some(email), "{token}");
    }
    let digest = SessionToken::parse(V5_LOGGED_OUT).unwrap().digest();
    assert!(auth.store().session(digest).await.unwrap().is_none());
}

#[tokio::test]
async fn a_version_5_file_is_migrated_in_place() {
    let (_dir, path) = fixture_copy("v5.redb");
    let (version, v5_tables) = version_and_tables(&path);
    assert_eq!(version, Some(5));
    let v7_tables = with_unconfirmed_tables(v5_tables);
    {
        let auth = fixture_auth(&path);
        let store = auth.store();
        v5_sessions_are_valid(&auth).await;
        for (n, email) in V5_CONFIRMED.iter().enumerate() {
            let id = UserId(n as u64 + 1);
            let user = store.find_user_by(UserQuery::Id(id)).await.unwrap();
            assert_eq!(user.email, *email);
            assert!(user.email_confirmed && !user.contested, "{email}");
        }
        let dave = store.find_user_by(UserQuery::Id(UserId(4))).await.unwrap();
        assert!(!dave.email_confirmed && !dave.contested, "{dave:?}");
        // Each token is stamped with its user's generation (0 in the fixture).
        let reset = ResetToken::parse(V5_RESET).unwrap().digest();
        let record = store.reset_token(reset).await.unwrap().expect("Carol's");
        assert_eq!((record.user_id, record.generation), (UserId(3), 0));
        let confirm = TokenDigest::of(V5_CONFIRM);
        let record = store.email_token(confirm).await.unwrap().expect("Dave's");
        assert_eq!((record.user_id, record.generation), (UserId(4), 0));
        assert_eq!(record.purpose, EmailTokenPurpose::Confirm);
        let change = TokenDigest::of(V5_CHANGE);
        let record = store.email_token(change).await.unwrap().expect("Alice's");
        assert_eq!((record.user_id, record.generation), (UserId(1), 0));
        let new_email = EmailTokenPurpose::ChangeEmail {
            new_email: "alice@new.example".into(),
        };
        assert_eq!(record.purpose, new_email);
        // Bob's factor came through.
        let bob = store
            .second_factor(UserId(2))
            .await
            .unwrap()
            .expect("Bob's");
        assert!(bob.enabled && bob.recovery_codes.len() == 2);

        // The migrated tokens work as before: Dave's confirms, Carol's resets once.
        let confirmed = store.redeem_email_token(confirm, fixture_now()).await;
        assert!(confirmed.unwrap().user.email_confirmed);
        let carol = auth.update_password(V5_RESET, "carol-new").await.unwrap();
        assert_eq!((carol.id, carol.generation), (UserId(3), 1));
        assert!(auth.update_password(V5_RESET, "again").await.is_err());
        // ... and die with the next change of credentials: Alice's password changes, her
        // pending email change is dead.
        let update = UserUpdate::new().hashed_password("$2b$04$alice-new");
        let alice = store.update_user(UserId(1), update).await.unwrap();
        assert_eq!(alice.generation, 1);
        let dead = store.redeem_email_token(change, fixture_now()).await;
        assert!(dead.is_err(), "{dead:?}");
        let alice = store.find_user_by(UserQuery::Id(UserId(1))).await.unwrap();
        assert_eq!(alice.email, "alice@example.com");
        // Turning Bob's factor off is a change of credentials too; his session is kept.
        assert!(
            store
                .update_second_factor(UserId(2), SecondFactorChange::Remove)
                .await
                .unwrap()
        );
        let bob = store.find_user_by(UserQuery::Id(UserId(2))).await.unwrap();
        assert_eq!(bob.generation, 1);
        v5_sessions_are_valid(&auth).await;
    }
    // The same tables and those of unconfirmed accounts, at the current version; opening again changes nothing.
    let migrated = version_and_tables(&path);
    assert_eq!(migrated, (Some(crate::store::CURRENT_VERSION), v7_tables));
    let auth = fixture_auth(&path);
    v5_sessions_are_valid(&auth).await;
    let reset = auth.get_reset_password_token("carol@example.com").await;
    let record = auth
        .store()
        .reset_token(reset.unwrap().digest())
        .await
        .unwrap();
    assert_eq!(record.map(|r| r.generation), Some(1));
    drop(auth);
    assert_eq!(version_and_tables(&path), migrated);
}

/// Dave's unconfirmed account of version 5 can be contested; his token then confirms only
/// with a new password.
#[tokio::test]
async fn a_migrated_unconfirmed_account_is_confirmed_with_a_new_password_once_contested() {
    let (_dir, path) = fixture_copy("v5.redb");
    let auth = fixture_auth(&path);
    fixture_v5::dave_is_contested_and_confirmed_with_a_new_password(auth.store()).await;
}

/// The index the migration fills finds the unconfirmed account of version 5.
#[tokio::test]
async fn a_migrated_unconfirmed_account_is_purged_at_its_time() {
    let (_dir, path) = fixture_copy("v5.redb");
    let auth = fixture_auth(&path);
    fixture_v5::dave_is_purged_at_his_time(auth.store()).await;
}
