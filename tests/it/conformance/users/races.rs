//! Concurrency, on a multi-thread runtime: what must hold whichever request commits first
//! (registrations, credential changes, and the verified changes racing a reset).

use std::sync::Arc;

use tower_user_auth::{
    StoreError,
    store::{
        AccountVersion, PasswordReset, ResetRecord, SecondFactorChange, SessionRecord, UserQuery,
        UserUpdate, VerifiedSession, prelude::*,
    },
    token::TokenDigest,
};

use crate::conformance::{
    now,
    race_harness::{ROUNDS, at_once},
    reset,
    second_factor::with_factor,
    session,
};

/// Sixteen registrations of one email (as two spellings of one key) at once: exactly one
/// account, the others `EmailTaken`.
pub async fn sixteen_racing_registrations_of_one_email_make_one_account<S: Store>(store: S) {
    let store = Arc::new(store);
    let results = at_once(&store, 16, |store, i| async move {
        let email = if i % 2 == 0 {
            "race@example.com"
        } else {
            " RACE@example.com"
        };
        store.add_user(email, "$2b$04$x").await
    })
    .await;
    let won = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(won, 1, "{results:?}");
    for r in &results {
        assert!(matches!(r, Ok(_) | Err(StoreError::EmailTaken)), "{r:?}");
    }
    assert_eq!(store.list_users(None, 100).await.unwrap().len(), 1);
    let found = store
        .find_user_by(UserQuery::Email("race@example.com".into()))
        .await;
    assert!(found.is_ok());
}

/// Eight password changes against the same expected generation at once: exactly one wins,
/// the others are `Conflict`; the stored hash is the winner's, at the next generation.
pub async fn racing_password_changes_one_wins<S: Store>(store: S) {
    let user = store
        .add_user("change@example.com", "$2b$04$a")
        .await
        .unwrap();
    let store = Arc::new(store);
    let id = user.id;
    let results = at_once(&store, 8, |store, i| async move {
        let update = UserUpdate::new()
            .hashed_password(format!("$2b$04$new{i}"))
            .expected_generation(0);
        store.update_user(id, update).await
    })
    .await;
    let winners: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    for r in &results {
        assert!(matches!(r, Ok(_) | Err(StoreError::Conflict)), "{r:?}");
    }
    let found = store.find_user_by(UserQuery::Id(id)).await.unwrap();
    assert_eq!(&found, winners[0]);
    assert_eq!(found.generation, 1);
}

/// What a verified change racing a reset asks for.
#[derive(Clone, Copy, Debug)]
enum Verified {
    Deletion,
    FactorRemoval,
}

/// A verified deletion or factor removal (against the session and generation read before)
/// racing a reset of the same account, round after round: exactly one of the two applies.
/// A reset that commits first moves the generation (and here ends every session), so the
/// change is refused; a change that commits first revokes the reset token (a deletion takes
/// it with the account), so the reset is `NotFound`. Never both: nothing is deleted or
/// removed after the reset answered.
async fn a_verified_change_racing_a_reset_never_follows_it<S: Store>(store: S, what: Verified) {
    let at = now();
    let store = Arc::new(store);
    for round in 0..ROUNDS {
        let email = format!("verified-{what:?}-{round}@example.com");
        let id = with_factor(&*store, &email, 1, &[]).await;
        let user = store.find_user_by(UserQuery::Id(id)).await.unwrap();
        let digest = TokenDigest::of(&email);
        let record = SessionRecord {
            generation: user.generation,
            ..session(id, at, 600)
        };
        store.insert_session(digest, record, None).await.unwrap();
        let token = TokenDigest::of(&format!("reset {email}"));
        let reset = ResetRecord {
            generation: user.generation,
            ..reset(id, at, 600)
        };
        store
            .replace_reset_token(token, reset, AccountVersion::of(&user))
            .await
            .unwrap();
        let verified = VerifiedSession {
            session: digest,
            generation: user.generation,
        };
        let results = at_once(&store, 2, move |store, i| async move {
            if i == 0 {
                let reset = PasswordReset {
                    token,
                    user_id: id,
                    now: at,
                    hashed_password: "$2b$04$reset".into(),
                    end_sessions: round % 2 == 0,
                    confirm_email: false,
                };
                store.reset_password(reset).await.map(|_| true)
            } else {
                match what {
                    Verified::Deletion => store
                        .delete_user_verified(id, verified)
                        .await
                        .map(|()| true),
                    Verified::FactorRemoval => {
                        let removal = SecondFactorChange::RemoveVerified(verified);
                        store.update_second_factor(id, removal).await
                    }
                }
            }
        })
        .await;
        let applied: Vec<bool> = results.iter().map(|r| matches!(r, Ok(true))).collect();
        assert_eq!(
            applied.iter().filter(|a| **a).count(),
            1,
            "round {round}: {results:?}"
        );
        for r in &results {
            assert!(
                matches!(
                    r,
                    Ok(true) | Err(StoreError::NotFound | StoreError::Conflict)
                ),
                "round {round}: {r:?}"
            );
        }
        let account = store.find_user_by(UserQuery::Id(id)).await;
        let factor = store.second_factor(id).await;
        if applied[0] {
            let after = account.expect("the reset's account is there");
            assert_eq!(after.generation, user.generation + 1, "round {round}");
            assert!(factor.unwrap().is_some_and(|f| f.enabled), "round {round}");
        } else {
            match what {
                Verified::Deletion => assert!(account.is_err(), "round {round}"),
                Verified::FactorRemoval => assert!(factor.unwrap().is_none(), "round {round}"),
            }
        }
    }
}

/// [`a_verified_change_racing_a_reset_never_follows_it`] for a self-deletion.
pub async fn a_verified_deletion_racing_a_reset_never_follows_it<S: Store>(store: S) {
    a_verified_change_racing_a_reset_never_follows_it(store, Verified::Deletion).await;
}

/// [`a_verified_change_racing_a_reset_never_follows_it`] for a factor removal.
pub async fn a_verified_factor_removal_racing_a_reset_never_follows_it<S: Store>(store: S) {
    a_verified_change_racing_a_reset_never_follows_it(store, Verified::FactorRemoval).await;
}
