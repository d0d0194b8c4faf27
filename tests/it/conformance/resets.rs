//! Reset tokens: one per user, issued only for the account as read, spent by one good reset.

use std::time::Duration;

use tower_user_auth::{
    StoreError, UserId,
    store::{AccountVersion, PasswordReset, UserQuery, prelude::*},
    token::TokenDigest,
};

use crate::conformance::{now, reset, session};

/// A reset of `token` for `user` at `at` to the hash `$2b$04$new`.
fn attempt(token: TokenDigest, user: UserId, at: std::time::SystemTime) -> PasswordReset {
    PasswordReset {
        token,
        user_id: user,
        now: at,
        hashed_password: "$2b$04$new".into(),
        end_sessions: true,
        confirm_email: false,
    }
}

/// A new token replaces the user's earlier one; each reads back exactly and finds its user.
pub async fn only_the_newest_token_lives<S: Store>(store: S) {
    let at = now();
    let user = store.add_user("r@r.io", "$2b$04$h").await.unwrap();
    let other = store.add_user("o@r.io", "$2b$04$h").await.unwrap();
    let (first, second, others) = (
        TokenDigest::of("first"),
        TokenDigest::of("second"),
        TokenDigest::of("other's"),
    );
    let record = reset(user.id, at, 600);
    store
        .replace_reset_token(first, record, AccountVersion::of(&user))
        .await
        .unwrap();
    assert_eq!(store.reset_token(first).await.unwrap(), Some(record));
    store
        .replace_reset_token(others, reset(other.id, at, 600), AccountVersion::of(&other))
        .await
        .unwrap();
    store
        .replace_reset_token(second, record, AccountVersion::of(&user))
        .await
        .unwrap();
    assert!(store.reset_token(first).await.unwrap().is_none());
    assert_eq!(store.reset_token(second).await.unwrap(), Some(record));
    assert!(
        store.reset_token(others).await.unwrap().is_some(),
        "per user"
    );
    let found = store.find_user_by(UserQuery::ResetToken(second)).await;
    assert_eq!(found.unwrap().id, user.id);
    let found = store.find_user_by(UserQuery::ResetToken(first)).await;
    assert!(matches!(found, Err(StoreError::NotFound)), "{found:?}");
}

/// A token is stored only if the account's generation and email (by key) are as read:
/// `Conflict` otherwise, `NotFound` for a user that is gone; the earlier token stays.
pub async fn a_token_is_issued_only_for_the_account_as_read<S: Store>(store: S) {
    let at = now();
    let user = store.add_user("read@r.io", "$2b$04$h").await.unwrap();
    let live = TokenDigest::of("live");
    store
        .replace_reset_token(live, reset(user.id, at, 600), AccountVersion::of(&user))
        .await
        .unwrap();
    let stale = [
        AccountVersion {
            generation: 1,
            email: "read@r.io".into(),
        },
        AccountVersion {
            generation: 0,
            email: "moved@r.io".into(),
        },
    ];
    for read in stale {
        let refused = store
            .replace_reset_token(TokenDigest::of("stale"), reset(user.id, at, 600), read)
            .await;
        assert!(matches!(refused, Err(StoreError::Conflict)), "{refused:?}");
    }
    assert!(
        store
            .reset_token(TokenDigest::of("stale"))
            .await
            .unwrap()
            .is_none()
    );
    assert!(store.reset_token(live).await.unwrap().is_some());
    // The email compared by its key.
    let same = AccountVersion {
        generation: 0,
        email: " READ@r.io".into(),
    };
    store
        .replace_reset_token(TokenDigest::of("same"), reset(user.id, at, 600), same)
        .await
        .unwrap();
    let gone = store
        .replace_reset_token(
            TokenDigest::of("nobody's"),
            reset(UserId(999), at, 600),
            AccountVersion {
                generation: 0,
                email: "nobody@r.io".into(),
            },
        )
        .await;
    assert!(matches!(gone, Err(StoreError::NotFound)), "{gone:?}");
}

/// A reset with a token that is superseded, another user's, expired (at its expiry too) or
/// unknown is `NotFound` and changes nothing.
pub async fn a_refused_reset_changes_nothing<S: Store>(store: S) {
    let at = now();
    let alice = store.add_user("alice@r.io", "$2b$04$alice").await.unwrap();
    let bob = store.add_user("bob@r.io", "$2b$04$bob").await.unwrap();
    let s = TokenDigest::of("alice's session");
    store
        .insert_session(s, session(alice.id, at, 600), None)
        .await
        .unwrap();
    let (first, second) = (TokenDigest::of("first"), TokenDigest::of("second"));
    for t in [first, second] {
        store
            .replace_reset_token(t, reset(alice.id, at, 60), AccountVersion::of(&alice))
            .await
            .unwrap();
    }
    for bad in [
        attempt(first, alice.id, at),
        attempt(second, bob.id, at),
        attempt(second, alice.id, at + Duration::from_secs(60)),
        attempt(second, alice.id, at + Duration::from_secs(61)),
        attempt(TokenDigest::of("unknown"), alice.id, at),
    ] {
        let refused = store.reset_password(bad).await;
        assert!(matches!(refused, Err(StoreError::NotFound)), "{refused:?}");
    }
    let found = store.find_user_by(UserQuery::Id(alice.id)).await.unwrap();
    assert_eq!(found, alice);
    assert!(store.reset_token(second).await.unwrap().is_some());
    assert!(store.session(s).await.unwrap().is_some());
    let found = store.find_user_by(UserQuery::Id(bob.id)).await.unwrap();
    assert_eq!(found, bob);
}

/// A good reset sets the hash, advances the generation, spends the token and ends the
/// sessions, in one transaction; the token works once.
pub async fn a_good_reset_is_one_transaction<S: Store>(store: S) {
    let at = now();
    let user = store.add_user("good@r.io", "$2b$04$old").await.unwrap();
    let s = TokenDigest::of("session");
    store
        .insert_session(s, session(user.id, at, 600), None)
        .await
        .unwrap();
    let token = TokenDigest::of("token");
    store
        .replace_reset_token(token, reset(user.id, at, 60), AccountVersion::of(&user))
        .await
        .unwrap();
    let done = store
        .reset_password(attempt(token, user.id, at + Duration::from_secs(59)))
        .await
        .unwrap();
    assert_eq!(done.hashed_password, "$2b$04$new");
    assert_eq!(done.generation, 1);
    assert_eq!(
        store.find_user_by(UserQuery::Id(user.id)).await.unwrap(),
        done
    );
    assert!(store.reset_token(token).await.unwrap().is_none(), "spent");
    assert!(store.session(s).await.unwrap().is_none(), "ended with it");
    let again = store.reset_password(attempt(token, user.id, at)).await;
    assert!(matches!(again, Err(StoreError::NotFound)), "{again:?}");
}
