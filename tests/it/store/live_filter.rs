//! The redb store's filter of live session digests (`src/store/redb/live_digests.rs`): an
//! unknown digest is refused without a read, and a stored session is never refused, whether
//! it was inserted a moment ago, while the filter was still being built on a reopened file,
//! or concurrently with look-ups. `PgStore` has no such filter.

use std::{
    sync::Arc,
    time::{Duration, SystemTime},
};

use futures_util::future::join_all;
use tokio::sync::Barrier;
use tower_user_auth::{
    UserId,
    store::{RedbStore, SessionRecord, prelude::*},
    token::{SessionToken, TokenDigest},
};

fn record(user: UserId, generation: u64) -> SessionRecord {
    let now = SystemTime::now();
    SessionRecord {
        user_id: user,
        created: now,
        last_seen: now,
        expires: now + Duration::from_secs(3600),
        generation,
    }
}

async fn new_user(store: &RedbStore, email: &str) -> (UserId, u64) {
    let user = store
        .add_user(email, "$2b$04$hash")
        .await
        .expect("add user");
    (user.id, user.generation)
}

/// `n` sessions of one user, inserted many at a time; their digests.
async fn seed(store: &RedbStore, user: (UserId, u64), n: usize) -> Vec<TokenDigest> {
    let digests: Vec<TokenDigest> = (0..n).map(|_| SessionToken::generate().digest()).collect();
    for chunk in digests.chunks(2048) {
        join_all(
            chunk
                .iter()
                .map(|d| store.insert_session(*d, record(user.0, user.1), None)),
        )
        .await
        .into_iter()
        .for_each(|r| r.expect("seed a session"));
    }
    digests
}

async fn wait_until_built(store: &RedbStore) {
    for _ in 0..3000 {
        if store.stats().await.expect("stats").session_filter_ready {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the session filter was not built in 30 s");
}

/// Tasks released together: writers insert sessions and look each up as soon as its insert
/// returns, others log out sessions and look them up after, others send unknown digests.
async fn insert_look_up_delete_race(store: &RedbStore, user: (UserId, u64), round: usize) {
    const TASKS: usize = 8;
    let barrier = Arc::new(Barrier::new(TASKS));
    let tasks = (0..TASKS).map(|task| {
        let (store, barrier) = (store.clone(), Arc::clone(&barrier));
        tokio::spawn(async move {
            let mine = SessionToken::generate().digest();
            let doomed = SessionToken::generate().digest();
            if task % 4 == 1 {
                store
                    .insert_session(doomed, record(user.0, user.1), None)
                    .await
                    .expect("insert");
            }
            barrier.wait().await;
            match task % 4 {
                0 | 2 => {
                    store
                        .insert_session(mine, record(user.0, user.1), None)
                        .await
                        .expect("insert");
                    let found = store.session(mine).await.expect("look up");
                    assert!(found.is_some(), "round {round}: a new session was refused");
                }
                1 => {
                    assert!(store.delete_session(doomed).await.expect("delete"));
                    let found = store.session(doomed).await.expect("look up");
                    assert!(found.is_none(), "round {round}: a deleted session answered");
                }
                _ => {
                    for _ in 0..16 {
                        let unknown = SessionToken::generate().digest();
                        let found = store.session(unknown).await.expect("look up");
                        assert!(found.is_none(), "round {round}: an unknown digest answered");
                    }
                }
            }
        })
    });
    for task in join_all(tasks).await {
        task.expect("a task panicked");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sessions_inserted_during_look_ups_are_never_refused_and_deleted_ones_are() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = RedbStore::open(dir.path().join("auth.redb")).expect("open");
    let user = new_user(&store, "racer@example.com").await;
    wait_until_built(&store).await;
    for round in 0..200 {
        insert_look_up_delete_race(&store, user, round).await;
    }
    let stats = store.stats().await.expect("stats");
    // One element a stored session: the filter follows inserts and deletes exactly.
    assert_eq!(stats.session_filter_entries, stats.sessions);
}

/// A file with many sessions is reopened again and again; at once, stored sessions are
/// looked up, new ones inserted and looked up, and old ones deleted, while the filter's
/// builder is still scanning the file (in at least some rounds: the stats say which).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn while_the_filter_builds_no_stored_session_is_refused() {
    const STORED: usize = 30_000;
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("auth.redb");
    let (user, mut stored) = {
        let store = RedbStore::open(&path).expect("open");
        let user = new_user(&store, "many@example.com").await;
        (user, seed(&store, user, STORED).await)
    };
    let mut rounds_building = 0;
    for round in 0..12 {
        let store = RedbStore::open(&path).expect("reopen");
        let barrier = Arc::new(Barrier::new(3));
        let readers = (0..2).map(|half| {
            let (store, barrier) = (store.clone(), Arc::clone(&barrier));
            let sample: Vec<TokenDigest> = stored.iter().skip(half).step_by(97).copied().collect();
            tokio::spawn(async move {
                barrier.wait().await;
                for digest in sample {
                    let found = store.session(digest).await.expect("look up");
                    assert!(
                        found.is_some(),
                        "round {round}: a stored session was refused"
                    );
                }
            })
        });
        let readers: Vec<_> = readers.collect();
        barrier.wait().await;
        if !store.stats().await.expect("stats").session_filter_ready {
            rounds_building += 1;
        }
        insert_look_up_delete_race(&store, user, round).await;
        for reader in join_all(readers).await {
            reader.expect("a reader panicked");
        }
        // Some of the old sessions go, and must then be refused, built or not.
        let gone = stored.split_off(stored.len() - 10);
        for digest in gone {
            assert!(store.delete_session(digest).await.expect("delete"));
            assert!(store.session(digest).await.expect("look up").is_none());
        }
        wait_until_built(&store).await;
        for digest in stored.iter().step_by(101) {
            assert!(store.session(*digest).await.expect("look up").is_some());
        }
        let stats = store.stats().await.expect("stats");
        assert!(stats.session_filter_entries >= stats.sessions, "{stats:?}");
    }
    println!("rounds with the filter still building at their start: {rounds_building} of 12");
}

#[tokio::test]
async fn the_filter_costs_a_few_bytes_a_session() {
    let store = RedbStore::in_memory().expect("store");
    let user = new_user(&store, "few@example.com").await;
    seed(&store, user, 10_000).await;
    wait_until_built(&store).await;
    let stats = store.stats().await.expect("stats");
    assert_eq!(stats.session_filter_entries, 10_000);
    assert!(stats.session_filter_bytes <= 10_000 * 24, "{stats:?}");
}
