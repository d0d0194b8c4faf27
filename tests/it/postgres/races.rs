//! Compare-and-sets raced over two instances (two pools): email tokens and second factors
//! applied once.

use super::instances;
use crate::support::records::{email_change, email_token};
use std::{sync::Arc, time::SystemTime};
use tokio::sync::Barrier;
use tower_user_auth::store::UnconfirmedUser;
use tower_user_auth::{
    StoreError, UserId,
    store::{
        AccountVersion, EmailTokenPurpose, PgStore, SecondFactorChange, UserQuery, prelude::*,
    },
    token::TokenDigest,
};

/// A user on `store` with an enabled factor at step 100 and `codes` recovery codes
/// (`TokenDigest::of("code-<round>-<i>")`).
async fn with_factor(store: &PgStore, email: &str, round: usize, codes: usize) -> UserId {
    let user = store.add_user(email, "$2b$04$h").await.unwrap();
    let secret = vec![9; 40];
    let begin = SecondFactorChange::Begin {
        sealed_secret: secret.clone(),
    };
    assert!(store.update_second_factor(user.id, begin).await.unwrap());
    let enable = SecondFactorChange::Enable {
        sealed_secret: secret,
        step: 100,
        recovery_codes: (0..codes)
            .map(|i| TokenDigest::of(&format!("code-{round}-{i}")))
            .collect(),
    };
    assert!(store.update_second_factor(user.id, enable).await.unwrap());
    user.id
}

/// Runs `each(instance, n)` for `n` in 0..`tasks`, alternately on A and B, all released
/// together by one barrier; their answers in order.
async fn race<T, F, Fut>(a: &PgStore, b: &PgStore, tasks: usize, each: F) -> Vec<T>
where
    T: Send + 'static,
    F: Fn(PgStore, usize) -> Fut,
    Fut: std::future::Future<Output = T> + Send + 'static,
{
    let barrier = Arc::new(Barrier::new(tasks));
    let handles: Vec<_> = (0..tasks)
        .map(|n| {
            let store = if n % 2 == 0 { a.clone() } else { b.clone() };
            let (barrier, run) = (Arc::clone(&barrier), each(store, n));
            tokio::spawn(async move {
                barrier.wait().await;
                run.await
            })
        })
        .collect();
    let mut answers = Vec::new();
    for handle in handles {
        answers.push(handle.await.expect("no panic"));
    }
    answers
}

/// Over two instances, 20 rounds each: 6 uses of one TOTP step race (exactly one is
/// accepted, the step is recorded once); 6 uses of one recovery code race (exactly one,
/// the other codes kept); 6 redemptions of one confirmation token race (exactly one);
/// two users' email-change tokens to one new address race (exactly one moves, the other is
/// `EmailTaken` and keeps its token).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn compare_and_sets_raced_over_two_instances_apply_once() {
    let Some(db) = crate::support::postgres::database().await else {
        return;
    };
    let (a, b) = instances(&db).await;
    for round in 0..20 {
        let id = with_factor(&a, &format!("f{round}@x.io"), round, 3).await;
        let steps = race(&a, b.store(), 6, move |s, _| async move {
            s.update_second_factor(id, SecondFactorChange::UseStep(101))
                .await
                .unwrap()
        })
        .await;
        assert_eq!(steps.iter().filter(|ok| **ok).count(), 1, "{steps:?}");
        let code = TokenDigest::of(&format!("code-{round}-1"));
        let codes = race(&a, b.store(), 6, move |s, _| async move {
            s.update_second_factor(id, SecondFactorChange::UseRecoveryCode(code))
                .await
                .unwrap()
        })
        .await;
        assert_eq!(codes.iter().filter(|ok| **ok).count(), 1, "{codes:?}");
        let factor = b.second_factor(id).await.unwrap().expect("enabled");
        assert_eq!(factor.last_step, 101);
        assert_eq!(
            factor.recovery_codes,
            [
                TokenDigest::of(&format!("code-{round}-0")),
                TokenDigest::of(&format!("code-{round}-2"))
            ]
        );

        let now = SystemTime::now();
        let confirm = TokenDigest::of(&format!("confirm-{round}"));
        let record = email_token(UserId(0), EmailTokenPurpose::Confirm, now, 600);
        let user = a
            .add_unconfirmed_user(UnconfirmedUser {
                email: &format!("u{round}@x.io"),
                hashed_password: "$2b$04$h",
                token: confirm,
                record,
                stale_before: std::time::UNIX_EPOCH,
            })
            .await
            .unwrap();
        let redeemed = race(&a, b.store(), 6, move |s, _| async move {
            s.redeem_email_token(confirm, now).await
        })
        .await;
        let ok = redeemed.iter().filter(|r| r.is_ok()).count();
        assert_eq!(ok, 1, "{redeemed:?}");
        assert!(
            redeemed
                .iter()
                .all(|r| matches!(r, Ok(_) | Err(StoreError::NotFound))),
            "{redeemed:?}"
        );
        let user = a.find_user_by(UserQuery::Id(user.id)).await.unwrap();
        assert!(user.email_confirmed);

        let target = format!("target{round}@x.io");
        let mut tokens = Vec::new();
        for who in 0..2 {
            let user = a
                .add_user(&format!("c{round}-{who}@x.io"), "$2b$04$h")
                .await
                .unwrap();
            let token = TokenDigest::of(&format!("move-{round}-{who}"));
            let record = email_change(&user, &target, now);
            a.replace_email_token(token, record, AccountVersion::of(&user))
                .await
                .unwrap();
            tokens.push(token);
        }
        let tokens = Arc::new(tokens);
        let moved = race(&a, b.store(), 2, {
            let tokens = Arc::clone(&tokens);
            move |s, n| {
                let token = tokens[n];
                async move { s.redeem_email_token(token, now).await }
            }
        })
        .await;
        let winners: Vec<_> = moved.iter().filter_map(|r| r.as_ref().ok()).collect();
        assert_eq!(winners.len(), 1, "{moved:?}");
        assert_eq!(winners[0].user.email, target);
        let loser = moved.iter().position(Result::is_err).expect("one lost");
        assert!(
            matches!(moved[loser], Err(StoreError::EmailTaken)),
            "{moved:?}"
        );
        assert!(
            a.email_token(tokens[loser]).await.unwrap().is_some(),
            "the loser's token is kept"
        );
    }
}
