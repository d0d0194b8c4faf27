//! Device tokens: a per-account cap, failures counted per token for its own account, the
//! token revoked at the limit, kept by a password change, removed with the user.

use tower_user_auth::{
    StoreError, UserId,
    store::{UserUpdate, prelude::*},
    token::TokenDigest,
};

use crate::conformance::{device, now};

/// At most `max_per_user` per account, the oldest (by creation) evicted in the inserting
/// transaction, never the new one; an unknown user is `NotFound`.
pub async fn cap_evicts_the_oldest<S: Store>(store: S) {
    let at = now();
    let alice = store.add_user("alice@d.io", "$2b$04$h").await.unwrap();
    let bob = store.add_user("bob@d.io", "$2b$04$h").await.unwrap();
    let bobs = TokenDigest::of("bob's");
    store
        .insert_device_token(bobs, device(bob.id, at, 5000), 1)
        .await
        .unwrap();
    let tokens: Vec<TokenDigest> = (0..12).map(|i| TokenDigest::of(&format!("t{i}"))).collect();
    for (i, t) in tokens.iter().enumerate() {
        let record = device(alice.id, at, 1000 - i as u64);
        store.insert_device_token(*t, record, 10).await.unwrap();
        assert_eq!(store.device_token(*t).await.unwrap(), Some(record));
    }
    for (i, t) in tokens.iter().enumerate() {
        let kept = store.device_token(*t).await.unwrap().is_some();
        assert_eq!(kept, i >= 2, "token {i}");
    }
    // The newest is kept even when it is the oldest by creation.
    let late = TokenDigest::of("old but new");
    store
        .insert_device_token(late, device(alice.id, at, 9999), 10)
        .await
        .unwrap();
    assert!(store.device_token(late).await.unwrap().is_some());
    assert!(store.device_token(tokens[2]).await.unwrap().is_none());
    assert!(
        store.device_token(bobs).await.unwrap().is_some(),
        "per account"
    );
    let unknown = store
        .insert_device_token(TokenDigest::of("nobody's"), device(UserId(99), at, 0), 10)
        .await;
    assert!(matches!(unknown, Err(StoreError::NotFound)), "{unknown:?}");
    assert!(
        store
            .device_token(TokenDigest::of("nobody's"))
            .await
            .unwrap()
            .is_none()
    );
}

/// Failures count for the token's own account only; a success resets them; the failure
/// that finds the token at the limit removes it.
pub async fn failures_count_per_account_and_revoke_at_the_limit<S: Store>(store: S) {
    let at = now();
    let alice = store.add_user("alice@d.io", "$2b$04$h").await.unwrap();
    let bob = store.add_user("bob@d.io", "$2b$04$h").await.unwrap();
    let t = TokenDigest::of("device");
    store
        .insert_device_token(t, device(alice.id, at, 0), 10)
        .await
        .unwrap();
    assert_eq!(
        store.record_device_failure(t, bob.id, 5).await.unwrap(),
        None
    );
    let unknown = store.record_device_failure(TokenDigest::of("unknown"), alice.id, 5);
    assert_eq!(unknown.await.unwrap(), None);
    for n in 1..=3 {
        let counted = store.record_device_failure(t, alice.id, 5).await.unwrap();
        assert_eq!(counted, Some(n));
    }
    assert_eq!(store.device_token(t).await.unwrap().unwrap().failures, 3);
    assert!(store.reset_device_failures(t).await.unwrap());
    assert_eq!(store.device_token(t).await.unwrap().unwrap().failures, 0);
    for n in 1..=5 {
        let counted = store.record_device_failure(t, alice.id, 5).await.unwrap();
        assert_eq!(counted, Some(n));
    }
    assert_eq!(
        store.record_device_failure(t, alice.id, 5).await.unwrap(),
        None
    );
    assert!(store.device_token(t).await.unwrap().is_none(), "revoked");
    assert!(!store.reset_device_failures(t).await.unwrap());
    assert_eq!(
        store.record_device_failure(t, alice.id, 5).await.unwrap(),
        None
    );
}

/// A password change keeps a user's device tokens; `delete_device_tokens_of` and deleting
/// the user remove them.
pub async fn they_survive_a_password_change_and_go_with_their_user<S: Store>(store: S) {
    let at = now();
    let alice = store.add_user("alice@d.io", "$2b$04$h").await.unwrap();
    let bob = store.add_user("bob@d.io", "$2b$04$h").await.unwrap();
    let (a1, a2, b1) = (
        TokenDigest::of("a1"),
        TokenDigest::of("a2"),
        TokenDigest::of("b1"),
    );
    for (t, user) in [(a1, alice.id), (a2, alice.id), (b1, bob.id)] {
        store
            .insert_device_token(t, device(user, at, 0), 10)
            .await
            .unwrap();
    }
    let update = UserUpdate::new().hashed_password("$2b$04$other");
    store.update_user(alice.id, update).await.unwrap();
    assert!(store.device_token(a1).await.unwrap().is_some());
    store.delete_user(alice.id).await.unwrap();
    assert!(store.device_token(a1).await.unwrap().is_none());
    assert!(store.device_token(a2).await.unwrap().is_none());
    assert_eq!(store.delete_device_tokens_of(bob.id).await.unwrap(), 1);
    assert!(store.device_token(b1).await.unwrap().is_none());
    assert_eq!(store.delete_device_tokens_of(bob.id).await.unwrap(), 0);
}
