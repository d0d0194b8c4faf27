//! The session cache across instances: two `PgStore`s (two pools, two notification
//! connections) on one database stand for two app instances, A and B. A session ended, its
//! user's generation advanced, its user's email changed or the user deleted through A is
//! refused (or seen) on B at once; validations racing a logout stop succeeding; many
//! evictions reach B in chunks or as all.

use crate::support;
use crate::support::records::email_change;
use std::time::{Duration, Instant, SystemTime};
use tower_user_auth::{
    StoreError,
    store::{AccountVersion, EndSessions, PasswordReset, ResetRecord, UserUpdate, prelude::*},
    token::TokenDigest,
};

use tower_user_auth::store::SecondFactorChange;

use super::{cache, instances, live_session, quantile, until};

/// A session whose credential generation is not its user's (which no store operation leaves:
/// written here by SQL) is not answered: the look-up's statement refuses it, as the redb store
/// does by construction.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_behind_its_users_generation_is_not_answered() {
    let Some(db) = support::postgres::database().await else {
        return;
    };
    let store = db.store().await;
    let user = store.add_user("gen@example.com", "$2b$04$h").await.unwrap();
    let (kept, behind) = (TokenDigest::of("kept"), TokenDigest::of("behind"));
    for digest in [kept, behind] {
        store
            .insert_session(digest, live_session(user.id, 0), None)
            .await
            .unwrap();
    }
    let entry = store.session(kept).await.unwrap().expect("a live session");
    assert_eq!(entry.email, "gen@example.com");
    let client = db.client().await;
    let id = i64::try_from(user.id.0).unwrap();
    client
        .execute("UPDATE users SET generation = 1 WHERE id = $1", &[&id])
        .await
        .unwrap();
    assert!(store.session(behind).await.unwrap().is_none());
}

/// What ends a session on A, in the invalidation test.
#[derive(Clone, Copy, Debug)]
enum Ending {
    Logout,
    EndAllSessions,
    PasswordChange,
    Reset,
    DeleteUser,
}

/// A session cached on B is refused on B right after it is ended through A: by a logout,
/// ending all the user's sessions, a password change (which ends the others and moves the
/// changer's, whose new generation B must then see), a reset, deleting the user. 200 endings,
/// 40 of each; any single delay over 250 ms fails; the p50/p99 are printed as a `figure:`
/// line. The delay is measured from A's call returning to B's first refusal (B polled
/// spinning for 5 ms, then every millisecond).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_ended_through_a_is_refused_on_b_at_once() {
    // Timings: no heavy load and no other measurement meanwhile.
    let _alone = crate::support::alone::measuring().await;
    let Some(db) = support::postgres::database().await else {
        return;
    };
    let (a, b) = instances(&db).await;
    let kinds = [
        Ending::Logout,
        Ending::EndAllSessions,
        Ending::PasswordChange,
        Ending::Reset,
        Ending::DeleteUser,
    ];
    let mut delays = Vec::new();
    let mut by_kind: Vec<(Ending, Vec<Duration>)> =
        kinds.iter().map(|k| (*k, Vec::new())).collect();
    for round in 0..200 {
        let kind = kinds[round % kinds.len()];
        let user = a
            .add_user(&format!("i{round}@x.io"), "$2b$04$old")
            .await
            .unwrap();
        let ended = TokenDigest::of(&format!("ended-{round}"));
        let kept = TokenDigest::of(&format!("kept-{round}"));
        for token in [ended, kept] {
            a.insert_session(token, live_session(user.id, 0), None)
                .await
                .unwrap();
            cache(&b, token).await;
        }
        match kind {
            Ending::Logout => assert!(a.delete_session(ended).await.unwrap()),
            Ending::EndAllSessions => {
                let n = a
                    .delete_sessions_of(user.id, EndSessions::AllExcept(kept))
                    .await
                    .unwrap();
                assert_eq!(n, 1);
            }
            Ending::PasswordChange => {
                let update = UserUpdate::new()
                    .hashed_password("$2b$04$new")
                    .end_sessions(EndSessions::AllExcept(kept))
                    .expected_generation(0);
                a.update_user(user.id, update).await.unwrap();
            }
            Ending::Reset => {
                let reset = TokenDigest::of(&format!("reset-{round}"));
                let now = SystemTime::now();
                let record = ResetRecord {
                    user_id: user.id,
                    created: now,
                    expires: now + Duration::from_secs(60),
                    generation: user.generation,
                };
                a.replace_reset_token(reset, record, AccountVersion::of(&user))
                    .await
                    .unwrap();
                // Re-cache: the reset token's insert changes no session.
                cache(&b, ended).await;
                a.reset_password(PasswordReset {
                    token: reset,
                    user_id: user.id,
                    now,
                    hashed_password: "$2b$04$new".to_owned(),
                    end_sessions: true,
                    confirm_email: false,
                })
                .await
                .unwrap();
            }
            Ending::DeleteUser => a.delete_user(user.id).await.unwrap(),
        }
        let since = Instant::now();
        let delay = until(&b, ended, since, Option::is_none)
            .await
            .unwrap_or_else(|| panic!("{kind:?}: B still serves the ended session after 2 s"));
        assert!(
            delay <= Duration::from_millis(250),
            "{kind:?}: B served the ended session for {delay:?} (> 250 ms: a defect)"
        );
        if let Ending::PasswordChange = kind {
            // The changer's session was moved to generation 1: B must not keep the old one.
            let moved = until(&b, kept, since, |found| {
                found
                    .as_ref()
                    .is_some_and(|entry| entry.record.generation == 1)
            })
            .await
            .expect("B sees the kept session at the new generation");
            assert!(moved <= Duration::from_millis(250), "{moved:?}");
        }
        delays.push(delay);
        by_kind[round % kinds.len()].1.push(delay);
    }
    delays.sort();
    println!(
        "figure: invalidation delay p50={:?} p99={:?} max={:?} (n={}, A's call returned -> B refuses)",
        quantile(&delays, 0.5),
        quantile(&delays, 0.99),
        delays[delays.len() - 1],
        delays.len()
    );
    for (kind, mut d) in by_kind {
        d.sort();
        println!(
            "figure: invalidation delay {kind:?} p50={:?} p99={:?} (n={})",
            quantile(&d, 0.5),
            quantile(&d, 0.99),
            d.len()
        );
    }
}

/// Validations on B racing a logout through A, 30 rounds (half with the session cached on
/// B, half with B's cache filling while the logout commits): once A's logout has returned,
/// no validation on B that started more than 250 ms later succeeds. The latest success
/// relative to the logout's return is printed as a `figure:`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validations_on_b_racing_a_logout_through_a_stop_succeeding() {
    // Timings: no heavy load and no other measurement meanwhile.
    let _alone = crate::support::alone::measuring().await;
    let Some(db) = support::postgres::database().await else {
        return;
    };
    let (a, b) = instances(&db).await;
    let user = a.add_user("race@x.io", "$2b$04$h").await.unwrap();
    let mut latest = Vec::new();
    for round in 0..30 {
        let token = TokenDigest::of(&format!("race-{round}"));
        a.insert_session(token, live_session(user.id, 0), None)
            .await
            .unwrap();
        if round % 2 == 0 {
            cache(&b, token).await;
        }
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let validators: Vec<_> = (0..3)
            .map(|_| {
                let (b, stop) = (b.clone(), std::sync::Arc::clone(&stop));
                tokio::spawn(async move {
                    let mut seen = Vec::new();
                    while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                        let started = Instant::now();
                        let ok = matches!(b.session(token).await, Ok(Some(_)));
                        seen.push((started, ok));
                        tokio::time::sleep(Duration::from_micros(300)).await;
                    }
                    seen
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(3 + round % 5)).await;
        assert!(a.delete_session(token).await.unwrap());
        let returned = Instant::now();
        tokio::time::sleep(Duration::from_millis(300)).await;
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        let mut last_ok: Option<Duration> = None;
        let mut after = 0;
        for v in validators {
            for (started, ok) in v.await.expect("no panic") {
                if ok && started > returned {
                    let late = started - returned;
                    last_ok = Some(last_ok.map_or(late, |l| l.max(late)));
                }
                if started > returned {
                    after += 1;
                }
            }
        }
        assert!(
            after > 10,
            "round {round}: too few validations after the logout ({after})"
        );
        if let Some(late) = last_ok {
            assert!(
                late <= Duration::from_millis(250),
                "round {round}: a validation started {late:?} after the logout returned succeeded"
            );
        }
        latest.push(last_ok.unwrap_or_default());
    }
    latest.sort();
    println!(
        "figure: racing validations: latest success after the logout returned p50={:?} max={:?} (n={} rounds)",
        quantile(&latest, 0.5),
        latest[latest.len() - 1],
        latest.len()
    );
}

/// Evicting many sessions at once (a login with a per-user cap over a user with hundreds of
/// sessions) names them all to the other instances: split into several notifications under
/// PostgreSQL's 8000-byte payload limit (150 digests: two), or, beyond eight of those, one
/// `all` (1,200 digests), which empties B's cache.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evicting_many_sessions_reaches_b_in_chunks_or_as_all() {
    let Some(db) = support::postgres::database().await else {
        return;
    };
    let (a, b) = instances(&db).await;
    let admin = db.client().await;
    let bystander = a.add_user("bystander@x.io", "$2b$04$h").await.unwrap();
    let other = TokenDigest::of("bystander");
    a.insert_session(other, live_session(bystander.id, 0), None)
        .await
        .unwrap();
    for n in [150_i32, 1_200] {
        let user = a
            .add_user(&format!("many{n}@x.io"), "$2b$04$h")
            .await
            .unwrap();
        let id = i64::try_from(user.id.0).unwrap();
        // Older sessions, inserted behind the stores' back (new rows: nothing to notify).
        admin
            .execute(
                "INSERT INTO sessions (digest, user_id, created, last_seen, expires, generation)
                 SELECT sha256(convert_to('many-' || $2::text || '-' || i, 'UTF8')), $1,
                        now() - interval '1 hour' + i * interval '1 ms', now(),
                        now() + interval '1 hour', 0
                 FROM generate_series(1, $2) AS i",
                &[&id, &n],
            )
            .await
            .unwrap();
        let watched: Vec<TokenDigest> = [1, n / 2, n]
            .iter()
            .map(|i| TokenDigest::of(&format!("many-{n}-{i}")))
            .collect();
        for token in &watched {
            cache(&b, *token).await;
        }
        cache(&b, other).await;
        let newest = TokenDigest::of(&format!("newest-{n}"));
        a.insert_session(newest, live_session(user.id, 0), Some(1))
            .await
            .unwrap();
        let since = Instant::now();
        assert_eq!(a.sessions_of(user.id).await.unwrap().len(), 1);
        for token in &watched {
            let delay = until(&b, *token, since, Option::is_none)
                .await
                .expect("B refuses an evicted session");
            assert!(delay <= Duration::from_millis(250), "{n}: {delay:?}");
        }
        if n > 1_000 {
            // `all`: the bystander's session left B's cache too (read again, it is still
            // valid).
            assert!(!b.is_cached(other), "{n}: `all` empties the cache");
            assert!(b.session(other).await.unwrap().is_some());
        }
    }
}

/// A session cached on B shows the new email on B right after the email is changed through
/// A (by `update_user` or by redeeming an email-change token), and is refused on B right
/// after the user is deleted through A (a user with a second factor and email tokens). 90
/// changes, 30 of each; any single delay over 250 ms (the cache's 200 ms lease, plus the
/// polling) fails; the p50/p99 are printed as `figure:` lines, measured from A's call
/// returning to B's first answer that reflects it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_email_change_or_deletion_through_a_reaches_b_at_once() {
    // Timings: no heavy load and no other measurement meanwhile.
    let _alone = crate::support::alone::measuring().await;
    let Some(db) = crate::support::postgres::database().await else {
        return;
    };
    let (a, b) = instances(&db).await;
    let kinds = [
        AccountChange::UpdateEmail,
        AccountChange::RedeemToken,
        AccountChange::DeleteUser,
    ];
    let mut by_kind: Vec<(AccountChange, Vec<Duration>)> =
        kinds.iter().map(|k| (*k, Vec::new())).collect();
    for round in 0..90 {
        let kind = kinds[round % kinds.len()];
        let user = a
            .add_user(&format!("e{round}@x.io"), "$2b$04$h")
            .await
            .unwrap();
        let token = TokenDigest::of(&format!("session-{round}"));
        a.insert_session(token, live_session(user.id, 0), None)
            .await
            .unwrap();
        let new_email = format!("moved{round}@x.io");
        let now = SystemTime::now();
        let email_token = TokenDigest::of(&format!("change-{round}"));
        let record = email_change(&user, &new_email, now);
        a.replace_email_token(email_token, record, AccountVersion::of(&user))
            .await
            .unwrap();
        cache(&b, token).await;
        let since = match kind {
            AccountChange::UpdateEmail => {
                a.update_user(user.id, UserUpdate::new().email(new_email.clone()))
                    .await
                    .unwrap();
                Instant::now()
            }
            AccountChange::RedeemToken => {
                a.redeem_email_token(email_token, now).await.unwrap();
                Instant::now()
            }
            AccountChange::DeleteUser => {
                let begin = SecondFactorChange::Begin {
                    sealed_secret: vec![7; 40],
                };
                assert!(a.update_second_factor(user.id, begin).await.unwrap());
                // Re-cache: neither the token nor the factor changes a session.
                cache(&b, token).await;
                a.delete_user(user.id).await.unwrap();
                Instant::now()
            }
        };
        let delay = match kind {
            AccountChange::DeleteUser => until(&b, token, since, Option::is_none).await,
            _ => {
                until(&b, token, since, |found| {
                    found.as_ref().is_some_and(|entry| entry.email == new_email)
                })
                .await
            }
        }
        .unwrap_or_else(|| panic!("{kind:?}: B still answers as before after 2 s"));
        assert!(
            delay <= Duration::from_millis(250),
            "{kind:?}: B answered as before for {delay:?} (> 250 ms: a defect)"
        );
        if let AccountChange::DeleteUser = kind {
            let factor = b.second_factor(user.id).await;
            assert!(matches!(factor, Err(StoreError::NotFound)), "{factor:?}");
            assert_eq!(b.email_token(email_token).await.unwrap(), None);
            // The email can be registered again.
            b.add_user(&format!("e{round}@x.io"), "$2b$04$h")
                .await
                .unwrap();
        }
        by_kind[round % kinds.len()].1.push(delay);
    }
    for (kind, mut delays) in by_kind {
        delays.sort();
        println!(
            "figure: lifecycle invalidation delay {kind:?} p50={:?} p99={:?} max={:?} (n={}, \
             A's call returned -> B answers the change)",
            quantile(&delays, 0.5),
            quantile(&delays, 0.99),
            delays[delays.len() - 1],
            delays.len()
        );
    }
}

/// How the email or the account changes on A, in the invalidation test.
#[derive(Clone, Copy, Debug)]
enum AccountChange {
    /// `update_user` with a new email.
    UpdateEmail,
    /// An email-change token redeemed.
    RedeemToken,
    /// The user deleted, with their email tokens and second factor.
    DeleteUser,
}
