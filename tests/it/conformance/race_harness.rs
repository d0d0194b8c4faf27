//! The race harness of `races.rs` and `lifecycle_races.rs`: tasks released at once by a
//! barrier, and session look-ups racing an email change.

use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

use futures_util::future::join_all;
use tokio::sync::Barrier;
use tower_user_auth::{User, store::prelude::*, token::TokenDigest};

use crate::conformance::{now, session};

/// Runs `n` copies of `f(store, i)` at once on the runtime's threads: each task waits on one
/// barrier before it calls the store. Their results, in order.
pub async fn at_once<S, T, F, Fut>(store: &Arc<S>, n: usize, f: F) -> Vec<T>
where
    S: Store,
    T: Send + 'static,
    F: Fn(Arc<S>, usize) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
{
    let barrier = Arc::new(Barrier::new(n));
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let (barrier, call) = (Arc::clone(&barrier), f(Arc::clone(store), i));
            tokio::spawn(async move {
                barrier.wait().await;
                call.await
            })
        })
        .collect();
    join_all(tasks)
        .await
        .into_iter()
        .map(|r| r.expect("the task panicked"))
        .collect()
}

/// How many sessions the user of an email-change race has.
const SESSIONS: usize = 3;
/// How many tasks look the sessions up during each change.
const READERS: usize = 3;

/// A user `email` with [`SESSIONS`] live sessions (digests of `"{label} {i}"`).
pub async fn user_with_sessions<S: Store>(
    store: &S,
    email: &str,
    label: &str,
) -> (User, Arc<Vec<TokenDigest>>) {
    let at = now();
    let user = store.add_user(email, "$2b$04$a").await.unwrap();
    let digests: Vec<TokenDigest> = (0..SESSIONS)
        .map(|i| TokenDigest::of(&format!("{label} {i}")))
        .collect();
    for digest in &digests {
        store
            .insert_session(*digest, session(user.id, at, 600), None)
            .await
            .unwrap();
    }
    (user, Arc::new(digests))
}

/// One round of an email change racing look-ups of the user's sessions `digests`:
/// [`READERS`] tasks and `change` are released at once by a barrier; every look-up answers
/// `old` or `new`, and none that starts after `change` has returned answers `old` (each
/// reader makes 20 such look-ups).
pub async fn look_ups_racing_an_email_change<S: Store>(
    store: &Arc<S>,
    digests: &Arc<Vec<TokenDigest>>,
    round: u64,
    (old, new): (&str, &str),
    change: impl Future<Output = ()>,
) {
    let barrier = Arc::new(Barrier::new(READERS + 1));
    let changed = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..READERS)
        .map(|r| {
            let (store, digests) = (Arc::clone(store), Arc::clone(digests));
            let (barrier, changed) = (Arc::clone(&barrier), Arc::clone(&changed));
            let (old, new) = (old.to_owned(), new.to_owned());
            tokio::spawn(async move {
                barrier.wait().await;
                let (mut after, mut i) = (0, r);
                while after < 20 {
                    let returned = changed.load(Ordering::SeqCst);
                    let digest = digests[i % SESSIONS];
                    i += 1;
                    let email = store.session(digest).await.unwrap().map(|e| e.email);
                    let email = email.expect("a live session");
                    if returned {
                        after += 1;
                        assert_eq!(email, new, "round {round}: stale");
                    } else {
                        assert!(email == old || email == new, "round {round}: {email}");
                    }
                    tokio::task::yield_now().await;
                }
            })
        })
        .collect();
    barrier.wait().await;
    change.await;
    changed.store(true, Ordering::SeqCst);
    for reader in join_all(readers).await {
        reader.expect("a reader panicked");
    }
}
