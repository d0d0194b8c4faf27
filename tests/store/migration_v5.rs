//! Schema migration, on a file written by schema version 5, the release before issue 21
//! (see tests/fixtures/README.md): no account is contested, the unconfirmed one is indexed by
//! its creation (the purge finds it), and the tokens written then still work.

use tower_user_auth::{
    UserId,
    store::{Store, UserQuery},
    token::SessionToken,
};

use crate::{
    migrations::{fixture_auth, fixture_copy, version_and_tables, with_unconfirmed_tables},
    support::fixture_v5,
};

/// The confirmed accounts of `v5.redb` (Dave's, id 4, is not).
const V5_CONFIRMED: [&str; 3] = ["alice@example.com", "Bob@Example.com", "carol@example.com"];
/// Alice's live session in `v5.redb`.
const V5_ALICE_SESSION: &str = "f0130631-2bfc-4236-bb8e-6edaba79b157";

#[tokio::test]
async fn a_version_5_file_is_migrated_in_place() {
    let (_dir, path) = fixture_copy("v5.redb");
    let (version, v5_tables) = version_and_tables(&path);
    assert_eq!(version, Some(5));
    let v6_tables = with_unconfirmed_tables(v5_tables);
    {
        let auth = fixture_auth(&path);
        let store = auth.store();
        for (n, email) in V5_CONFIRMED.iter().enumerate() {
            let id = UserId(n as u64 + 1);
            let user = store.find_user_by(UserQuery::Id(id)).await.unwrap();
            assert_eq!(user.email, *email);
            assert!(user.email_confirmed && !user.contested, "{email}");
        }
        let digest = SessionToken::parse(V5_ALICE_SESSION).unwrap().digest();
        let entry = store
            .session(digest)
            .await
            .unwrap()
            .expect("Alice's session");
        assert_eq!(entry.email, "alice@example.com");
        fixture_v5::dave_is_contested_and_confirmed_with_a_new_password(store).await;
    }
    assert_eq!(
        version_and_tables(&path),
        (Some(crate::CURRENT_VERSION), v6_tables.clone())
    );
    // Opening the migrated file again changes nothing.
    let auth = fixture_auth(&path);
    let dave = auth.store().find_user_by(UserQuery::Id(UserId(4))).await;
    assert!(dave.unwrap().email_confirmed);
    drop(auth);
    assert_eq!(
        version_and_tables(&path),
        (Some(crate::CURRENT_VERSION), v6_tables)
    );
}

/// The index the migration fills finds the unconfirmed account of version 5.
#[tokio::test]
async fn a_migrated_unconfirmed_account_is_purged_at_its_time() {
    let (_dir, path) = fixture_copy("v5.redb");
    let auth = fixture_auth(&path);
    fixture_v5::dave_is_purged_at_his_time(auth.store()).await;
}
