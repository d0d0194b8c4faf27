//! Concurrency of the account lifecycle, on a multi-thread runtime: the compare-and-sets of
//! the second factor, single-use email tokens, an email change racing a registration, and a
//! deletion racing a login. Each round releases its tasks at once with a barrier; the
//! rounds are bounded.

use std::sync::Arc;

use tower_user_auth::{
    StoreError, UserId,
    store::{
        AccountVersion, EmailTokenPurpose, EmailTokenRecord, SecondFactorChange,
        SecondFactorRecord, UserQuery, prelude::*,
    },
    token::TokenDigest,
};

use crate::conformance::{
    add_unconfirmed, email_token, now,
    race_harness::{at_once, look_ups_racing_an_email_change, user_with_sessions},
    session,
};

/// Rounds of each race.
pub const ROUNDS: u64 = 25;

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

/// Four redemptions of one confirmation token at once, round after round: exactly one
/// succeeds, the others are `NotFound`; the account is confirmed.
pub async fn an_email_token_redeemed_at_once_is_redeemed_once<S: Store>(store: S) {
    let store = Arc::new(store);
    let at = now();
    for round in 0..ROUNDS {
        let token = TokenDigest::of(&format!("confirm {round}"));
        let email = format!("c{round}@example.com");
        let user = add_unconfirmed(&*store, &email, "$2b$04$a", token, at, 600).await;
        let results = at_once(&store, 4, |store, _| async move {
            store.redeem_email_token(token, at).await
        })
        .await;
        let redeemed: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
        assert_eq!(redeemed.len(), 1, "round {round}: {results:?}");
        assert!(
            results
                .iter()
                .all(|r| matches!(r, Ok(_) | Err(StoreError::NotFound))),
            "{results:?}"
        );
        assert_eq!(redeemed[0].user.id, user.id);
        let found = store.find_user_by(UserQuery::Id(user.id)).await.unwrap();
        assert!(found.email_confirmed);
        assert!(store.email_token(token).await.unwrap().is_none());
    }
}

/// Redeeming an email-change token racing a registration of the new address, round after
/// round: exactly one owns the address. If the registration won, the redemption is
/// `EmailTaken` and keeps the token; if the redemption won, the registration is
/// `EmailTaken`.
pub async fn an_email_change_racing_a_registration_of_the_address_one_owns_it<S: Store>(store: S) {
    let at = now();
    let user = store
        .add_user("mover@example.com", "$2b$04$a")
        .await
        .unwrap();
    let id = user.id;
    let store = Arc::new(store);
    let (mut moved, mut registered) = (0, 0);
    for round in 0..ROUNDS {
        let target = format!("target{round}@example.com");
        let token = TokenDigest::of(&format!("change {round}"));
        let current = store.find_user_by(UserQuery::Id(id)).await.unwrap();
        let purpose = EmailTokenPurpose::ChangeEmail {
            new_email: target.clone(),
        };
        store
            .replace_email_token(
                token,
                EmailTokenRecord {
                    generation: current.generation,
                    ..email_token(id, purpose, at, 600)
                },
                AccountVersion::of(&current),
            )
            .await
            .unwrap();
        let t = target.clone();
        let results = at_once(&store, 2, move |store, i| {
            let t = t.clone();
            async move {
                if i == 0 {
                    store.redeem_email_token(token, at).await.map(|r| r.user.id)
                } else {
                    store.add_user(&t, "$2b$04$b").await.map(|u| u.id)
                }
            }
        })
        .await;
        let owner = store
            .find_user_by(UserQuery::Email(target.clone()))
            .await
            .unwrap();
        match (&results[0], &results[1]) {
            (Ok(mover), Err(StoreError::EmailTaken)) => {
                moved += 1;
                assert_eq!((*mover, owner.id), (id, id), "round {round}");
                assert_eq!(owner.email, target);
                assert!(store.email_token(token).await.unwrap().is_none());
            }
            (Err(StoreError::EmailTaken), Ok(newcomer)) => {
                registered += 1;
                assert_eq!(owner.id, *newcomer, "round {round}");
                let mover = store.find_user_by(UserQuery::Id(id)).await.unwrap();
                assert_ne!(mover.email, target);
                assert!(store.email_token(token).await.unwrap().is_some());
            }
            other => panic!("round {round}: {other:?}"),
        }
    }
    assert_eq!(moved + registered, ROUNDS);
}

/// Deleting a user racing a login's session insert, round after round: whichever commits
/// first, no session of the deleted user is left (inserted first, the deletion removes it;
/// after, the insert is `NotFound`), and a session looked up (so cached) before is gone.
pub async fn delete_user_racing_insert_session_leaves_no_session<S: Store>(store: S) {
    let at = now();
    let store = Arc::new(store);
    for round in 0..ROUNDS {
        let user = store
            .add_user(&format!("gone{round}@example.com"), "$2b$04$a")
            .await
            .unwrap();
        let id = user.id;
        let earlier = TokenDigest::of(&format!("earlier {round}"));
        store
            .insert_session(earlier, session(id, at, 600), None)
            .await
            .unwrap();
        assert!(store.session(earlier).await.unwrap().is_some());
        let digest = TokenDigest::of(&format!("racing login {round}"));
        let results = at_once(&store, 2, move |store, i| async move {
            if i == 0 {
                store.delete_user(id).await
            } else {
                store
                    .insert_session(digest, session(id, at, 600), None)
                    .await
            }
        })
        .await;
        assert!(results[0].is_ok(), "round {round}: {results:?}");
        assert!(
            matches!(results[1], Ok(()) | Err(StoreError::NotFound)),
            "round {round}: {results:?}"
        );
        for d in [earlier, digest] {
            assert!(store.session(d).await.unwrap().is_none(), "round {round}");
            assert!(
                matches!(store.session_without_waiting(d), None | Some(None)),
                "round {round}"
            );
        }
        assert!(store.sessions_of(id).await.unwrap().is_empty());
    }
}

/// An email change by token racing look-ups of the user's sessions, round after round: every
/// look-up answers the old or the new email, and none that starts after
/// `redeem_email_token` has returned answers the old one (the redemption rewrites the
/// sessions' email in its transaction, as `update_user` does).
pub async fn an_email_change_by_token_is_seen_by_every_later_session_look_up<S: Store>(store: S) {
    let at = now();
    let (user, digests) =
        user_with_sessions(&store, "token0@example.com", "token email race").await;
    let store = Arc::new(store);
    for round in 0..ROUNDS {
        let (old, new) = (
            format!("token{round}@example.com"),
            format!("token{}@example.com", round + 1),
        );
        let current = store.find_user_by(UserQuery::Id(user.id)).await.unwrap();
        assert_eq!(current.email, old);
        let token = TokenDigest::of(&format!("move {round}"));
        let purpose = EmailTokenPurpose::ChangeEmail {
            new_email: new.clone(),
        };
        store
            .replace_email_token(
                token,
                EmailTokenRecord {
                    generation: current.generation,
                    ..email_token(user.id, purpose, at, 600)
                },
                AccountVersion::of(&current),
            )
            .await
            .unwrap();
        let change = async {
            let redeemed = store.redeem_email_token(token, at).await.unwrap();
            assert_eq!(redeemed.user.email, new);
        };
        look_ups_racing_an_email_change(&store, &digests, round, (&old, &new), change).await;
    }
}

/// Deleting a user racing the lifecycle's writes for them (an email token issued, one
/// redeemed, a second factor begun), round after round: each of those applies before the
/// deletion or is `NotFound`, and no email token of the deleted user is left.
pub async fn delete_user_racing_lifecycle_writes_leaves_no_token<S: Store>(store: S) {
    let at = now();
    let store = Arc::new(store);
    for round in 0..ROUNDS {
        let email = format!("racing{round}@example.com");
        let (confirm, change) = (
            TokenDigest::of(&format!("racing confirm {round}")),
            TokenDigest::of(&format!("racing change {round}")),
        );
        let record = email_token(UserId(0), EmailTokenPurpose::Confirm, at, 600);
        let user = store
            .add_unconfirmed_user(&email, "$2b$04$a", confirm, record, std::time::UNIX_EPOCH)
            .await
            .unwrap();
        let (id, read) = (user.id, AccountVersion::of(&user));
        let results = at_once(&store, 4, move |store, i| {
            let read = read.clone();
            async move {
                match i {
                    0 => store.delete_user(id).await.map(|()| "deleted"),
                    1 => {
                        let purpose = EmailTokenPurpose::ChangeEmail {
                            new_email: format!("elsewhere{round}@example.com"),
                        };
                        let record = email_token(id, purpose, at, 600);
                        let issued = store.replace_email_token(change, record, read).await;
                        issued.map(|()| "issued")
                    }
                    2 => store
                        .redeem_email_token(confirm, at)
                        .await
                        .map(|_| "redeemed"),
                    _ => {
                        let begin = SecondFactorChange::Begin {
                            sealed_secret: b"sealed".to_vec(),
                        };
                        store.update_second_factor(id, begin).await.map(|_| "begun")
                    }
                }
            }
        })
        .await;
        assert!(results[0].is_ok(), "round {round}: {results:?}");
        for r in &results[1..] {
            assert!(
                matches!(r, Ok(_) | Err(StoreError::NotFound)),
                "round {round}: {results:?}"
            );
        }
        for token in [confirm, change] {
            assert!(
                store.email_token(token).await.unwrap().is_none(),
                "round {round}"
            );
        }
        let gone = store.second_factor(id).await;
        assert!(matches!(gone, Err(StoreError::NotFound)), "{gone:?}");
        // The address is free again, for an account with nothing of the old one.
        let again = store.add_user(&email, "$2b$04$b").await.unwrap();
        assert!(again.email_confirmed);
        assert_eq!(store.second_factor(again.id).await.unwrap(), None);
    }
}
