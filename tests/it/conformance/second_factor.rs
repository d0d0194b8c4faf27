//! The second factor: its compare-and-sets, what list and delete show of it, and an import
//! keeping it with the confirmation state.

use std::time::Duration;

use tower_user_auth::{
    StoreError, UserId,
    store::{ImportedUser, SecondFactorChange, SecondFactorRecord, UserQuery, prelude::*},
    token::TokenDigest,
};

use crate::conformance::now;

/// The second factor's changes are compare-and-sets: each applies only in the state it
/// requires, and otherwise answers `false` and changes nothing.
pub async fn second_factor_changes_are_compare_and_sets<S: Store>(store: S) {
    let user = store.add_user("tfa@example.com", "$2b$04$a").await.unwrap();
    let id = user.id;
    let apply = |change: SecondFactorChange| {
        let store = &store;
        async move { store.update_second_factor(id, change).await.unwrap() }
    };
    let (a, b) = (b"secret a".to_vec(), b"secret b".to_vec());
    let codes = vec![TokenDigest::of("r1"), TokenDigest::of("r2")];
    assert_eq!(store.second_factor(id).await.unwrap(), None);
    for change in [
        SecondFactorChange::UseStep(1),
        SecondFactorChange::UseRecoveryCode(codes[0]),
        SecondFactorChange::Remove,
        SecondFactorChange::Enable {
            sealed_secret: a.clone(),
            step: 1,
            recovery_codes: codes.clone(),
        },
    ] {
        assert!(!apply(change.clone()).await, "{change:?} without a factor");
    }
    assert_eq!(store.second_factor(id).await.unwrap(), None);

    // Pending: Begin replaces it; it is not enforced (no step, no code).
    assert!(
        apply(SecondFactorChange::Begin {
            sealed_secret: a.clone()
        })
        .await
    );
    assert!(
        apply(SecondFactorChange::Begin {
            sealed_secret: b.clone()
        })
        .await
    );
    let pending = SecondFactorRecord {
        sealed_secret: b.clone(),
        enabled: false,
        last_step: 0,
        recovery_codes: Vec::new(),
    };
    assert_eq!(
        store.second_factor(id).await.unwrap(),
        Some(pending.clone())
    );
    assert!(!apply(SecondFactorChange::UseStep(5)).await);
    assert!(!store.list_users(None, 10).await.unwrap()[0].second_factor);
    // Enable only with the pending secret.
    let enable = |secret: &Vec<u8>| SecondFactorChange::Enable {
        sealed_secret: secret.clone(),
        step: 100,
        recovery_codes: codes.clone(),
    };
    assert!(!apply(enable(&a)).await);
    assert_eq!(store.second_factor(id).await.unwrap(), Some(pending));
    assert!(apply(enable(&b)).await);
    let enabled = SecondFactorRecord {
        sealed_secret: b.clone(),
        enabled: true,
        last_step: 100,
        recovery_codes: codes.clone(),
    };
    assert_eq!(
        store.second_factor(id).await.unwrap(),
        Some(enabled.clone())
    );
    assert!(store.list_users(None, 10).await.unwrap()[0].second_factor);
    // Enabled: no new Begin, no second Enable.
    assert!(
        !apply(SecondFactorChange::Begin {
            sealed_secret: a.clone()
        })
        .await
    );
    assert!(!apply(enable(&b)).await);
    assert_eq!(store.second_factor(id).await.unwrap(), Some(enabled));
    // Steps: only after the last one.
    assert!(!apply(SecondFactorChange::UseStep(100)).await);
    assert!(!apply(SecondFactorChange::UseStep(99)).await);
    assert!(apply(SecondFactorChange::UseStep(102)).await);
    assert!(!apply(SecondFactorChange::UseStep(101)).await);
    // Recovery codes: each once, unknown ones never.
    assert!(!apply(SecondFactorChange::UseRecoveryCode(TokenDigest::of("r3"))).await);
    assert!(apply(SecondFactorChange::UseRecoveryCode(codes[1])).await);
    assert!(!apply(SecondFactorChange::UseRecoveryCode(codes[1])).await);
    let factor = store.second_factor(id).await.unwrap().expect("enabled");
    assert_eq!(
        (factor.last_step, factor.recovery_codes),
        (102, vec![codes[0]])
    );
    // Remove, once.
    assert!(apply(SecondFactorChange::Remove).await);
    assert!(!apply(SecondFactorChange::Remove).await);
    assert_eq!(store.second_factor(id).await.unwrap(), None);
    assert!(apply(SecondFactorChange::Begin { sealed_secret: a }).await);

    // An unknown user is not found.
    let missing = store.second_factor(UserId(999)).await;
    assert!(matches!(missing, Err(StoreError::NotFound)), "{missing:?}");
    let missing = store
        .update_second_factor(UserId(999), SecondFactorChange::Remove)
        .await;
    assert!(matches!(missing, Err(StoreError::NotFound)), "{missing:?}");
}

/// `import_user` keeps the confirmation state and the second factor.
pub async fn import_keeps_confirmation_and_second_factor<S: Store>(store: S) {
    let created = now() - Duration::from_secs(86_400);
    let factor = SecondFactorRecord {
        sealed_secret: vec![0, 1, 2, 255],
        enabled: true,
        last_step: 58_000_000,
        recovery_codes: vec![TokenDigest::of("i1"), TokenDigest::of("i2")],
    };
    let imported =
        |email: &str, confirmed: bool, factor: Option<SecondFactorRecord>| ImportedUser {
            email: email.into(),
            hashed_password: "$2b$04$i".into(),
            generation: 2,
            created,
            email_confirmed: confirmed,
            second_factor: factor,
            contested: false,
        };
    let with = store
        .import_user(imported("with@example.com", false, Some(factor.clone())))
        .await
        .unwrap();
    assert!(!with.email_confirmed);
    let without = store
        .import_user(imported("without@example.com", true, None))
        .await
        .unwrap();
    assert!(without.email_confirmed);
    let found = store.find_user_by(UserQuery::Id(with.id)).await.unwrap();
    assert_eq!(found, with);
    assert_eq!(store.second_factor(with.id).await.unwrap(), Some(factor));
    assert_eq!(store.second_factor(without.id).await.unwrap(), None);
    let listed: Vec<_> = store
        .list_users(None, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|l| (l.user.email_confirmed, l.second_factor))
        .collect();
    assert_eq!(listed, [(false, true), (true, false)]);
}
