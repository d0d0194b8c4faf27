//! What the migration tests check on the fixtures of the release before issue 21
//! (`tests/fixtures/v5.redb`, `tests/fixtures/pg_v3.sql`: the same accounts), whichever
//! store migrated them: Dave's unconfirmed account (id 4), indexed for the purge by its
//! creation and not contested, with his confirmation token.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tower_user_auth::{
    StoreError, UserId,
    store::{UserQuery, prelude::*},
    token::TokenDigest,
};

/// Dave's confirmation token in both fixtures.
pub const DAVE_CONFIRM: &str = "v5-fixture-confirm-token-dave";

/// The fixtures' time (2026-01-01T00:00:00Z) plus two minutes: their tokens are live.
pub fn fixture_time() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_767_225_600 + 120)
}

/// On the migrated `store`: a purge up to just before Dave's creation keeps him; his account
/// can be contested (Carol's, confirmed, cannot); his token then confirms only with a new
/// password, which it sets.
pub async fn dave_is_contested_and_confirmed_with_a_new_password<S: ExpiredDeletion>(store: &S) {
    let at = fixture_time();
    let dave = store.find_user_by(UserQuery::Id(UserId(4))).await.unwrap();
    assert!(!dave.email_confirmed && !dave.contested, "{dave:?}");
    let before = dave.created - Duration::from_millis(1);
    let purged = store.purge_expired(at, UNIX_EPOCH, before).await.unwrap();
    assert_eq!(purged.unconfirmed_users, 0, "{purged:?}");
    assert!(store.contest_unconfirmed("dave@example.com").await.unwrap());
    let carol = store.contest_unconfirmed("carol@example.com").await;
    assert!(!carol.unwrap(), "a confirmed account is not contested");
    let token = TokenDigest::of(DAVE_CONFIRM);
    let refused = store.redeem_email_token(token, at).await;
    assert!(matches!(refused, Err(StoreError::Conflict)), "{refused:?}");
    let dave = store
        .confirm_with_new_password(token, at, "$2b$04$dave".into())
        .await
        .unwrap();
    assert!(dave.email_confirmed && !dave.contested, "{dave:?}");
    assert_eq!(dave.generation, 1);
}

/// On the migrated `store`: a purge up to Dave's creation removes him with his token, and
/// no other account.
pub async fn dave_is_purged_at_his_time<S: ExpiredDeletion>(store: &S) {
    let dave = store.find_user_by(UserQuery::Id(UserId(4))).await.unwrap();
    let purged = store
        .purge_expired(fixture_time(), UNIX_EPOCH, dave.created)
        .await
        .unwrap();
    assert_eq!(purged.unconfirmed_users, 1, "{purged:?}");
    let gone = store.find_user_by(UserQuery::Id(UserId(4))).await;
    assert!(matches!(gone, Err(StoreError::NotFound)), "{gone:?}");
    let token = TokenDigest::of(DAVE_CONFIRM);
    assert!(store.email_token(token).await.unwrap().is_none());
    assert_eq!(store.list_users(None, 10).await.unwrap().len(), 3);
}
