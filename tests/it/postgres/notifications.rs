//! Lost notifications: while B's notification connection is down, B never serves a stale
//! session (it bypasses its cache until it listens again).

use crate::support;
use std::time::{Duration, Instant};
use tower_user_auth::{StoreError, store::prelude::*, token::TokenDigest};

use super::{B_NAME, cache, instances, live_session, until};

/// Terminates every connection of instance B (its pool's and its notification connection);
/// with `wait`, returns once they are gone (`pg_terminate_backend(pid, 5000)`), otherwise at
/// once (the harshest order: A may commit before B's backends have even exited). How many
/// there were.
async fn terminate_b(admin: &tokio_postgres::Client, wait: bool) -> i64 {
    let sql = if wait {
        "SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity
         WHERE datname = current_database() AND application_name = $1"
    } else {
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
         WHERE datname = current_database() AND application_name = $1"
    };
    admin.query_one(sql, &[&B_NAME]).await.unwrap().get(0)
}

/// B loses its connections (`pg_terminate_backend`, its notification connection among them)
/// and a session it has cached is ended through A at once, while another is deleted behind
/// every store's back (plain SQL: never notified).
///
/// - Once B's connections are gone (the termination waited for), B never serves either:
///   it reads from the database until it has resubscribed, then starts from an empty cache.
/// - Terminated without waiting (A may commit before B's backends have exited, so before B
///   can know), B may still answer from its cache until it sees the loss; it refuses both
///   within 250 ms of the loss (the lease bounds it at 200 ms), and never serves them again
///   once it has refused them. The window is printed as a `figure:`.
/// - Either way B caches again within 2 s of the loss, and is coherent again.
///
/// Six rounds, alternating.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn b_never_serves_a_stale_session_when_its_notifications_are_lost() {
    // Timings: no heavy load and no other measurement meanwhile.
    let _alone = crate::support::alone::measuring().await;
    let Some(db) = support::postgres::database().await else {
        return;
    };
    let (a, b) = instances(&db).await;
    let admin = db.client().await;
    let user = a.add_user("lost@x.io", "$2b$04$h").await.unwrap();
    for round in 0..6 {
        let waited = round % 2 == 0;
        let ended = TokenDigest::of(&format!("ended-{round}"));
        let behind = TokenDigest::of(&format!("behind-{round}"));
        for token in [ended, behind] {
            a.insert_session(token, live_session(user.id, 0), None)
                .await
                .unwrap();
            cache(&b, token).await;
        }
        let terminated = terminate_b(&admin, waited).await;
        assert!(
            terminated >= 2,
            "B's pool and notification connections: {terminated}"
        );
        let lost = Instant::now();
        assert!(a.delete_session(ended).await.unwrap());
        admin
            .execute("DELETE FROM sessions WHERE digest = $1", &[&&behind.0[..]])
            .await
            .unwrap();
        // A session B has not seen yet, to tell when B caches again.
        let fresh = TokenDigest::of(&format!("fresh-{round}"));
        a.insert_session(fresh, live_session(user.id, 0), None)
            .await
            .unwrap();
        // Probed for 500 ms, and until B caches again (within 2 s).
        let mut refused: [Option<Duration>; 2] = [None, None];
        let mut served: [Option<Duration>; 2] = [None, None];
        let mut recovered: Option<Duration> = None;
        let mut reads = 0;
        while recovered.is_none() || lost.elapsed() < Duration::from_millis(500) {
            for (i, token) in [ended, behind].into_iter().enumerate() {
                let read = b.session(token).await;
                let at = lost.elapsed();
                match read {
                    // A failure while B's pool reconnects is no answer, not a refusal.
                    Err(StoreError::Backend(_)) => {}
                    Ok(None) => {
                        refused[i].get_or_insert(at);
                    }
                    Ok(Some(_)) => {
                        let which = ["the session ended through A", "the session deleted"][i];
                        assert!(
                            !waited,
                            "round {round}: B served {which} after its connections were gone \
                             ({at:?} after)"
                        );
                        assert!(
                            refused[i].is_none(),
                            "round {round}: B served {which} again, {at:?} after the loss, \
                             having refused it at {:?}",
                            refused[i]
                        );
                        assert!(
                            at <= Duration::from_millis(250),
                            "round {round}: B still served {which} {at:?} after the loss"
                        );
                        served[i] = Some(at);
                    }
                    Err(e) => panic!("unexpected {e:?}"),
                }
                reads += 1;
            }
            if recovered.is_none() {
                let _ = b.session(fresh).await;
                if b.is_cached(fresh) {
                    recovered = Some(lost.elapsed());
                }
            }
            assert!(
                recovered.is_some() || lost.elapsed() < Duration::from_secs(2),
                "round {round}: B does not cache again 2 s after losing its connections"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        assert!(reads > 0);
        assert!(
            refused.iter().all(Option::is_some),
            "round {round}: B never refused them"
        );
        println!(
            "figure: round {round} ({}): B served the ended/deleted sessions last at {:?}/{:?}, \
             first refused them at {:?}/{:?}, cached again at {:?} after the loss",
            if waited { "waited" } else { "not waited" },
            served[0],
            served[1],
            refused[0].unwrap_or_default(),
            refused[1].unwrap_or_default(),
            recovered.unwrap_or_default()
        );
        // And coherent again: ending it through A is seen on B.
        assert!(a.delete_session(fresh).await.unwrap());
        let delay = until(&b, fresh, Instant::now(), Option::is_none)
            .await
            .expect("B refuses the ended session");
        assert!(delay <= Duration::from_millis(250), "{delay:?}");
    }
}
