//! Tokens under concurrency, on a multi-thread runtime: racing resets with one token, device
//! failures at the limit, single-use email tokens, an email change racing a registration, a
//! deletion racing the writes of tokens and factors. Each round releases its tasks at once
//! with a barrier; the rounds are bounded.

use std::sync::Arc;
use tower_user_auth::store::UnconfirmedUser;

use tower_user_auth::{
    StoreError, UserId,
    store::{
        AccountVersion, EmailTokenPurpose, EmailTokenRecord, PasswordReset, SecondFactorChange,
        UserQuery, prelude::*,
    },
    token::TokenDigest,
};

use crate::conformance::{
    add_unconfirmed, device, email_token, now,
    race_harness::{ROUNDS, at_once},
    reset,
};

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

/// Deleting a user racing the writes of tokens and factors for them (an email token issued, one
/// redeemed, a second factor begun), round after round: each of those applies before the
/// deletion or is `NotFound`, and no email token of the deleted user is left.
pub async fn delete_user_racing_token_and_factor_writes_leaves_no_token<S: Store>(store: S) {
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
            .add_unconfirmed_user(UnconfirmedUser {
                email: &email,
                hashed_password: "$2b$04$a",
                token: confirm,
                record,
                stale_before: std::time::UNIX_EPOCH,
            })
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

/// Eight resets with one token at once: exactly one sets its password, the others are
/// `NotFound`; the generation advanced once.
pub async fn racing_resets_with_one_token_one_wins<S: Store>(store: S) {
    let at = now();
    let user = store
        .add_user("reset@example.com", "$2b$04$a")
        .await
        .unwrap();
    let token = TokenDigest::of("the token");
    store
        .replace_reset_token(token, reset(user.id, at, 600), AccountVersion::of(&user))
        .await
        .unwrap();
    let store = Arc::new(store);
    let id = user.id;
    let results = at_once(&store, 8, |store, i| async move {
        let reset = PasswordReset {
            token,
            user_id: id,
            now: at,
            hashed_password: format!("$2b$04$reset{i}"),
            end_sessions: i % 2 == 0,
            confirm_email: false,
        };
        store.reset_password(reset).await
    })
    .await;
    let winners: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    for r in &results {
        assert!(matches!(r, Ok(_) | Err(StoreError::NotFound)), "{r:?}");
    }
    let found = store.find_user_by(UserQuery::Id(id)).await.unwrap();
    assert_eq!(&found, winners[0]);
    assert_eq!(found.generation, 1);
}

/// Sixteen failures counted on one device token at once, limit 5: the counts 1 to 5 each
/// once, the token removed, every other attempt `None`.
pub async fn racing_device_failures_never_exceed_the_limit<S: Store>(store: S) {
    let user = store
        .add_user("device@example.com", "$2b$04$a")
        .await
        .unwrap();
    let token = TokenDigest::of("device");
    store
        .insert_device_token(token, device(user.id, now(), 0), 10)
        .await
        .unwrap();
    let store = Arc::new(store);
    let id = user.id;
    let results = at_once(&store, 16, |store, _| async move {
        store.record_device_failure(token, id, 5).await
    })
    .await;
    let mut counts: Vec<u32> = results
        .iter()
        .map(|r| r.as_ref().expect("no store error"))
        .filter_map(|c| *c)
        .collect();
    counts.sort_unstable();
    assert_eq!(counts, [1, 2, 3, 4, 5], "{results:?}");
    assert!(store.device_token(token).await.unwrap().is_none());
}
