//! Sessions under concurrency: none is left behind by a password change or a deletion racing
//! its insert, an email change (direct or by token) is seen by every later look-up, step-ups at
//! once leave one fresh session.

use std::{sync::Arc, time::Duration};

use futures_util::future::join_all;
use tokio::sync::Barrier;
use tower_user_auth::auth::Login;
use tower_user_auth::{
    Auth, AuthError, ManualClock, StoreError,
    auth::Reauthentication,
    store::{
        AccountVersion, EmailTokenPurpose, EmailTokenRecord, UserQuery, UserUpdate, prelude::*,
    },
    token::TokenDigest,
};

use crate::conformance::{
    email_token, now,
    race_harness::{ROUNDS, at_once, look_ups_racing_an_email_change, user_with_sessions},
    session, support,
};

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

/// Step-ups released together in a round.
const AT_ONCE: usize = 8;

/// A session is fresh for the window after its login, then needs the factors; step-ups at
/// once with one session: one gets a new, fresh session, the others find the session ended,
/// and the user has as many sessions as before. Round after round.
pub async fn step_ups_at_once_leave_one_fresh_session<S: Store>(store: S) {
    let clock = ManualClock::new(now());
    let config = support::unthrottled(support::hardened_config());
    let auth = Auth::with_clock(store, config, clock.clone()).expect("valid configuration");
    let pw = "correct horse battery staple";
    auth.register("step@b.io", pw, None).await.unwrap();
    let mut token = auth
        .log_in(Login::new("step@b.io", pw))
        .await
        .unwrap()
        .expect("logged in")
        .token;
    let user = auth
        .require_recent_authentication(&token, None, None)
        .await
        .unwrap();
    for round in 0..4 {
        clock.advance(Duration::from_secs(301));
        let stale = auth.require_recent_authentication(&token, None, None).await;
        assert!(
            matches!(stale, Err(AuthError::ReauthenticationRequired)),
            "round {round}: {stale:?}"
        );
        let before = auth.sessions_of(user.id).await.unwrap().len();
        let barrier = Arc::new(Barrier::new(AT_ONCE));
        let tasks: Vec<_> = (0..AT_ONCE)
            .map(|_| {
                let (auth, token, barrier) = (auth.clone(), token.clone(), Arc::clone(&barrier));
                tokio::spawn(async move {
                    barrier.wait().await;
                    auth.step_up(&token, Reauthentication::new(pw), None).await
                })
            })
            .collect();
        let mut renewed = Vec::new();
        for result in join_all(tasks).await {
            match result.expect("the task panicked") {
                Ok(stepped_up) => renewed.push(stepped_up.token),
                Err(AuthError::InvalidSession) => {}
                Err(e) => panic!("round {round}: {e:?}"),
            }
        }
        assert_eq!(renewed.len(), 1, "round {round}: one new session");
        assert_eq!(
            auth.sessions_of(user.id).await.unwrap().len(),
            before,
            "round {round}"
        );
        assert!(
            auth.authenticate(&token).await.unwrap().is_none(),
            "round {round}: the old one"
        );
        let new = renewed.pop().expect("one");
        let (seen, _) = auth.authenticate(&new).await.unwrap().expect("the new one");
        assert_eq!(seen.authenticated_at, auth.now(), "round {round}");
        assert!(auth.is_recently_authenticated(&seen));
        auth.require_recent_authentication(&new, None, None)
            .await
            .unwrap();
        token = new;
    }
}
