//! The session cache and the filter of live digests across the account lifecycle's writes:
//! a deleted user's cached sessions, and an email changed by redeeming a token, are seen by
//! the next look-up (from memory or from the file).

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, SystemTime},
};
use tower_user_auth::store::UnconfirmedUser;

use futures_util::future::join_all;
use tokio::sync::Barrier;

use crate::support::records::{email_change, email_token, now, session};
use tower_user_auth::{
    UserId,
    store::{AccountVersion, CachedSessions, EmailTokenPurpose, RedbStore, prelude::*},
    token::TokenDigest,
};

/// A store on a file in a temp dir, with a session cache in front of it.
fn store() -> (CachedSessions<RedbStore>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = RedbStore::builder()
        .with_session_cache_bytes(1 << 20)
        .open(dir.path().join("auth.redb"))
        .unwrap();
    (CachedSessions::new(store), dir)
}

/// Waits (bounded) until the store's filter of live digests is built.
async fn wait_until_built(store: &RedbStore) {
    for _ in 0..3000 {
        if store.stats().await.unwrap().session_filter_ready {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the session filter was not built in 30 s");
}

/// `n` sessions of `user`, each looked up once (so cached).
async fn cached_sessions(
    cache: &CachedSessions<RedbStore>,
    user: UserId,
    n: usize,
) -> Vec<TokenDigest> {
    let store = cache.store();
    let mut digests = Vec::new();
    for i in 0..n {
        let digest = TokenDigest::of(&format!("session {} {i}", user.0));
        store
            .insert_session(digest, session(user, now(), 600), None)
            .await
            .unwrap();
        assert!(cache.session(digest).await.unwrap().is_some());
        digests.push(digest);
    }
    digests
}

#[tokio::test]
async fn deleting_a_user_drops_their_cached_sessions() {
    let (cache, _dir) = store();
    let store = cache.store();
    wait_until_built(store).await;
    let gone = store
        .add_user("gone@example.com", "$2b$04$g")
        .await
        .unwrap();
    let kept = store
        .add_user("kept@example.com", "$2b$04$k")
        .await
        .unwrap();
    let gone_sessions = cached_sessions(&cache, gone.id, 3).await;
    let kept_sessions = cached_sessions(&cache, kept.id, 2).await;
    assert_eq!(store.stats().await.unwrap().cached_sessions, 5);
    store.delete_user(gone.id).await.unwrap();
    for digest in gone_sessions {
        // From memory: nothing cached, and the filter knows it absent.
        assert_eq!(cache.session_without_waiting(digest), Some(None));
        assert!(cache.session(digest).await.unwrap().is_none());
    }
    for digest in kept_sessions {
        let entry = cache.session(digest).await.unwrap().expect("kept");
        assert_eq!(entry.email, "kept@example.com");
    }
    assert_eq!(store.stats().await.unwrap().cached_sessions, 2);
}

#[tokio::test]
async fn an_email_changed_by_a_token_is_what_cached_sessions_answer_next() {
    let (cache, _dir) = store();
    let store = cache.store();
    let user = store
        .add_user("before@example.com", "$2b$04$b")
        .await
        .unwrap();
    let sessions = cached_sessions(&cache, user.id, 3).await;
    let token = TokenDigest::of("change");
    let now = SystemTime::now();
    let record = email_change(&user, "After@example.com", now);
    store
        .replace_email_token(token, record, AccountVersion::of(&user))
        .await
        .unwrap();
    store.redeem_email_token(token, now).await.unwrap();
    for digest in sessions {
        if let Some(answer) = cache.session_without_waiting(digest) {
            let entry = answer.expect("the session stays");
            assert_eq!(entry.email, "After@example.com");
        }
        let entry = cache.session(digest).await.unwrap().expect("the session");
        assert_eq!(entry.email, "After@example.com");
        // Cached again, with the new email.
        let again = cache.session_without_waiting(digest);
        assert_eq!(
            again.map(|a| a.map(|e| e.email)),
            Some(Some("After@example.com".to_owned()))
        );
    }
}

/// A deletion racing look-ups of the user's cached sessions, round after round: no look-up
/// that starts after `delete_user` has returned finds a session, from memory or from the
/// file.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_deletion_is_seen_by_every_later_cached_look_up() {
    const READERS: usize = 3;
    let (cache, _dir) = store();
    let cache = Arc::new(cache);
    let store = cache.store();
    wait_until_built(store).await;
    for round in 0..25 {
        let user = store
            .add_user(&format!("r{round}@example.com"), "$2b$04$r")
            .await
            .unwrap();
        let digests = Arc::new(cached_sessions(&cache, user.id, 3).await);
        let barrier = Arc::new(Barrier::new(READERS + 1));
        let deleted = Arc::new(AtomicBool::new(false));
        let readers: Vec<_> = (0..READERS)
            .map(|r| {
                let (cache, digests) = (Arc::clone(&cache), Arc::clone(&digests));
                let (barrier, deleted) = (Arc::clone(&barrier), Arc::clone(&deleted));
                tokio::spawn(async move {
                    barrier.wait().await;
                    let (mut after, mut i) = (0, r);
                    while after < 20 {
                        let returned = deleted.load(Ordering::SeqCst);
                        let digest = digests[i % digests.len()];
                        i += 1;
                        let fast = cache.session_without_waiting(digest);
                        let found = cache.session(digest).await.unwrap();
                        if returned {
                            after += 1;
                            assert_eq!(fast, Some(None), "round {round}: from memory");
                            assert!(found.is_none(), "round {round}: from the file");
                        }
                        tokio::task::yield_now().await;
                    }
                })
            })
            .collect();
        barrier.wait().await;
        store.delete_user(user.id).await.unwrap();
        deleted.store(true, Ordering::SeqCst);
        for reader in join_all(readers).await {
            reader.expect("a reader panicked");
        }
    }
}

#[tokio::test]
async fn stats_count_email_tokens_and_unconfirmed_accounts() {
    let (cache, _dir) = store();
    let store = cache.store();
    let now = SystemTime::now();
    let record = email_token(UserId(0), EmailTokenPurpose::Confirm, now, 600);
    let token = TokenDigest::of("stats confirm");
    store
        .add_unconfirmed_user(UnconfirmedUser {
            email: "stats@example.com",
            hashed_password: "$2b$04$s",
            token,
            record,
            stale_before: std::time::UNIX_EPOCH,
        })
        .await
        .unwrap();
    store
        .add_user("other@example.com", "$2b$04$o")
        .await
        .unwrap();
    let stats = store.stats().await.unwrap();
    assert_eq!(
        (stats.users, stats.email_tokens, stats.unconfirmed_users),
        (2, 1, 1)
    );
    store.redeem_email_token(token, now).await.unwrap();
    let stats = store.stats().await.unwrap();
    assert_eq!(
        (stats.users, stats.email_tokens, stats.unconfirmed_users),
        (2, 0, 0)
    );
}
