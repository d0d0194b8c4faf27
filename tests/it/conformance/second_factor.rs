//! The second factor: its compare-and-sets, what list and delete show of it, an import keeping
//! it with the confirmation state; and under concurrency, a step accepted once, a recovery
//! code consumed once, an enable racing a new begin.

use std::{sync::Arc, time::Duration};

use tower_user_auth::{
    StoreError, UserId,
    store::{ImportedUser, SecondFactorChange, SecondFactorRecord, UserQuery, prelude::*},
    token::TokenDigest,
};

use crate::conformance::{
    now,
    race_harness::{ROUNDS, at_once},
};

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

/// A user with an enabled factor (secret `secret`, last step `step`, `codes` as recovery
/// codes).
pub async fn with_factor<S: Store>(
    store: &S,
    email: &str,
    step: u64,
    codes: &[TokenDigest],
) -> UserId {
    let user = store.add_user(email, "$2b$04$a").await.unwrap();
    let secret = b"sealed".to_vec();
    let begin = SecondFactorChange::Begin {
        sealed_secret: secret.clone(),
    };
    assert!(store.update_second_factor(user.id, begin).await.unwrap());
    let enable = SecondFactorChange::Enable {
        sealed_secret: secret,
        step,
        recovery_codes: codes.to_vec(),
    };
    assert!(store.update_second_factor(user.id, enable).await.unwrap());
    user.id
}

/// Four `UseStep` with one time step at once, round after round: exactly one is accepted
/// each round (a TOTP code is used once), and the last step recorded is that step.
pub async fn racing_use_steps_accept_a_step_once<S: Store>(store: S) {
    let id = with_factor(&store, "totp@example.com", 1000, &[]).await;
    let store = Arc::new(store);
    for round in 0..ROUNDS {
        let step = 1001 + round;
        let results = at_once(&store, 4, |store, _| async move {
            store
                .update_second_factor(id, SecondFactorChange::UseStep(step))
                .await
        })
        .await;
        let accepted = results.iter().filter(|r| matches!(r, Ok(true))).count();
        assert_eq!(accepted, 1, "round {round}: {results:?}");
        assert!(results.iter().all(Result::is_ok), "{results:?}");
        let factor = store.second_factor(id).await.unwrap().expect("the factor");
        assert_eq!(factor.last_step, step);
    }
}

/// Four uses of one recovery code at once, for each of eight codes: each is consumed exactly
/// once; none is left.
pub async fn a_recovery_code_used_at_once_is_consumed_once<S: Store>(store: S) {
    let codes: Vec<TokenDigest> = (0..8)
        .map(|i| TokenDigest::of(&format!("recovery {i}")))
        .collect();
    let id = with_factor(&store, "codes@example.com", 5, &codes).await;
    let store = Arc::new(store);
    for (n, code) in codes.iter().copied().enumerate() {
        let results = at_once(&store, 4, |store, _| async move {
            store
                .update_second_factor(id, SecondFactorChange::UseRecoveryCode(code))
                .await
        })
        .await;
        let used = results.iter().filter(|r| matches!(r, Ok(true))).count();
        assert_eq!(used, 1, "code {n}: {results:?}");
        let mut left = store
            .second_factor(id)
            .await
            .unwrap()
            .expect("the factor")
            .recovery_codes;
        // The contract names the unused codes, not their order.
        left.sort_unstable_by_key(|c| c.0);
        let mut expected = codes[n + 1..].to_vec();
        expected.sort_unstable_by_key(|c| c.0);
        assert_eq!(left, expected, "code {n}");
    }
}

/// Enabling a pending factor racing the start of a new one: exactly one applies, and the
/// factor is then as that one left it (enabled with the old secret, or pending with the new).
pub async fn enable_racing_a_new_begin_one_applies<S: Store>(store: S) {
    let user = store
        .add_user("enable@example.com", "$2b$04$a")
        .await
        .unwrap();
    let id = user.id;
    let store = Arc::new(store);
    for round in 0..ROUNDS {
        let (old, new) = (
            format!("old {round}").into_bytes(),
            format!("new {round}").into_bytes(),
        );
        let _ = store
            .update_second_factor(id, SecondFactorChange::Remove)
            .await
            .unwrap();
        let begin = SecondFactorChange::Begin {
            sealed_secret: old.clone(),
        };
        assert!(store.update_second_factor(id, begin).await.unwrap());
        let (o, n) = (old.clone(), new.clone());
        let results = at_once(&store, 2, move |store, i| {
            let change = if i == 0 {
                SecondFactorChange::Enable {
                    sealed_secret: o.clone(),
                    step: 7,
                    recovery_codes: vec![TokenDigest::of("code")],
                }
            } else {
                SecondFactorChange::Begin {
                    sealed_secret: n.clone(),
                }
            };
            async move { store.update_second_factor(id, change).await }
        })
        .await;
        let factor = store.second_factor(id).await.unwrap().expect("a factor");
        match (&results[0], &results[1]) {
            (Ok(true), Ok(false)) => {
                assert!(factor.enabled, "round {round}");
                assert_eq!(factor.sealed_secret, old);
            }
            (Ok(false), Ok(true)) => {
                let pending = SecondFactorRecord {
                    sealed_secret: new,
                    enabled: false,
                    last_step: 0,
                    recovery_codes: Vec::new(),
                };
                assert_eq!(factor, pending, "round {round}");
            }
            other => panic!("round {round}: {other:?}"),
        }
    }
}
