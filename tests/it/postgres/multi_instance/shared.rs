//! What the instances share: the migrations run once when they start together on an empty
//! database, racing registrations of one email make one account, the login throttle trips at
//! the same count whichever instance the guesses go to.

use crate::support;
use http::StatusCode;
use std::sync::Arc;
use support::{Body, Demo, GOOD_PW};

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn started_together_on_an_empty_database_the_migrations_run_once() {
    let Some((db, a, b, _dir)) = setup(&[]).await else {
        return;
    };
    let client = db.client().await;
    let rows = client
        .query("SELECT version FROM schema_version ORDER BY version", &[])
        .await
        .expect("schema_version");
    let versions: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
    let expected: Vec<i64> = (1..=i64::try_from(tower_user_auth::store::PgStore::schema_version())
        .expect("small"))
        .collect();
    assert_eq!(versions, expected, "each version applied once");
    for demo in [a, b] {
        let (status, stderr) = demo.terminate();
        assert_eq!(status.code(), Some(0), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixteen_racing_registrations_of_one_email_over_both_instances_make_one_account() {
    let Some((db, a, b, _dir)) = setup(&[]).await else {
        return;
    };
    let start = Arc::new(tokio::sync::Barrier::new(16));
    let mut racers = Vec::new();
    for i in 0..16 {
        let client = if i % 2 == 0 { &a.http } else { &b.http }.clone();
        let start = Arc::clone(&start);
        racers.push(tokio::spawn(async move {
            start.wait().await;
            let a = client
                .post(
                    "/users",
                    Body::Form(&[("email", "race@example.com"), ("password", GOOD_PW)]),
                )
                .await;
            (a.status, a.body)
        }));
    }
    let mut created = 0;
    for racer in racers {
        let (status, body) = racer.await.expect("racer");
        if status == StatusCode::OK {
            created += 1;
        } else {
            assert!(status.is_client_error(), "{status}: {body}");
        }
    }
    assert_eq!(created, 1, "exactly one registration wins");
    let count: i64 = db
        .client()
        .await
        .query_one("SELECT count(*) FROM users", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(count, 1, "one account in the database");
    log_in(&a, "race@example.com", GOOD_PW).await;
    log_in(&b, "race@example.com", GOOD_PW).await;
}

/// Wrong guesses at `email`'s password, the `i`-th sent to `route(i)`, until one is refused
/// with 429; how many guesses that took (the refused one included), or `None` within `max`.
async fn guesses_until_throttled(
    demos: [&Demo; 2],
    email: &str,
    route: impl Fn(usize) -> usize,
    max: usize,
) -> Option<usize> {
    for i in 0..max {
        let a = demos[route(i)]
            .http
            .post(
                "/sessions",
                Body::Form(&[("email", email), ("password", "not the password at all")]),
            )
            .await;
        match a.status {
            StatusCode::TOO_MANY_REQUESTS => return Some(i + 1),
            StatusCode::UNAUTHORIZED => {}
            other => panic!("guess {}: {other}: {}", i + 1, a.body),
        }
    }
    None
}

/// The throttle is shared through the database: the guesses it lets through before it
/// trips are the same whether they all go to A, all to B, or alternate. Fails while the
/// throttle is per process (each instance then lets its own free failures through): it
/// passes once the shared throttle (`src/store/postgres/throttle.rs`, branch wp11-p2) is in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_throttle_trips_at_the_same_count_whichever_instance_the_guesses_go_to() {
    let Some((_db, a, b, _dir)) = setup(&[]).await else {
        return;
    };
    for email in ["a@example.com", "b@example.com", "both@example.com"] {
        register(&a, email, GOOD_PW).await;
    }
    let max = 24;
    let only_a = guesses_until_throttled([&a, &b], "a@example.com", |_| 0, max).await;
    let only_b = guesses_until_throttled([&a, &b], "b@example.com", |_| 1, max).await;
    let spread = guesses_until_throttled([&a, &b], "both@example.com", |i| i % 2, max).await;
    println!("throttled at guess: only A {only_a:?}, only B {only_b:?}, alternating {spread:?}");
    assert!(only_a.is_some(), "the throttle trips on one instance");
    assert_eq!(only_a, only_b, "the same on either instance");
    assert_eq!(
        spread, only_a,
        "alternating over two instances gives no more guesses"
    );
}
