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
    device,
    lifecycle_races::{ROUNDS, with_factor},
    now,
    race_harness::{at_once, look_ups_racing_an_email_change, user_with_sessions},
    reset, session,
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

/// A login's session insert racing a password change, many times: whichever commits first,
/// no session is left at a generation that is not the user's (inserted first, it is moved;
/// inserted after, it is refused with `Conflict`).
pub async fn insert_session_racing_a_password_change_leaves_no_old_session<S: Store>(store: S) {
    let at = now();
    let user = store
        .add_user("login@example.com", "$2b$04$a")
        .await
        .unwrap();
    let store = Arc::new(store);
    let id = user.id;
    let (mut inserted, mut refused) = (0, 0);
    for round in 0..20_u64 {
        let results = at_once(&store, 2, |store, i| async move {
            if i == 0 {
                let mut record = session(id, at, 600);
                record.generation = round;
                let digest = TokenDigest::of(&format!("login {round}"));
                store
                    .insert_session(digest, record, None)
                    .await
                    .map(|()| None)
            } else {
                let update = UserUpdate::new()
                    .hashed_password(format!("$2b$04$round{round}"))
                    .expected_generation(round);
                store.update_user(id, update).await.map(Some)
            }
        })
        .await;
        match &results[0] {
            Ok(_) => inserted += 1,
            Err(StoreError::Conflict) => refused += 1,
            Err(e) => panic!("round {round}: {e:?}"),
        }
        let changed = results[1].as_ref().expect("the change has no rival");
        assert_eq!(changed.as_ref().map(|u| u.generation), Some(round + 1));
        for (digest, s) in store.sessions_of(id).await.unwrap() {
            assert_eq!(
                s.generation,
                round + 1,
                "round {round}: {digest:?} left behind"
            );
        }
    }
    assert_eq!(inserted + refused, 20);
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

/// An email change racing with look-ups of the user's sessions: every look-up answers the old
/// or the new email, and none that starts after `update_user` has returned answers the old
/// one (the store keeps the owner's email with each session and must rewrite it in the
/// change's transaction). Many rounds, each released at once by a barrier.
pub async fn an_email_change_is_seen_by_every_later_session_look_up<S: Store>(store: S) {
    let (user, digests) = user_with_sessions(&store, "round0@example.com", "email race").await;
    let store = Arc::new(store);
    for round in 0..100_u64 {
        let (old, new) = (
            format!("round{round}@example.com"),
            format!("round{}@example.com", round + 1),
        );
        let change = async {
            let updated = store
                .update_user(user.id, UserUpdate::new().email(new.clone()))
                .await
                .unwrap();
            assert_eq!(updated.email, new);
        };
        look_ups_racing_an_email_change(&store, &digests, round, (&old, &new), change).await;
    }
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
