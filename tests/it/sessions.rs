//! The layer's fast path: when the store answers a session cookie from memory
//! (`Store::session_without_waiting`, a cached session for `RedbStore`), `AuthService` calls
//! the wrapped app at once instead of awaiting the store in a boxed future. These tests put a
//! session in the cache first (and check that it is there), so that the request they judge
//! takes the fast path, and check that it answers as the slow path does: a session ended
//! between two requests is refused on the next one, expiry and the idle timeout (by the
//! injected `ManualClock`) refuse it and clear the cookie, activity is still recorded, and
//! a logout racing with requests is never followed by an accepted one.

use crate::support;

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use tokio::sync::Barrier;
use tower_user_auth::{store::prelude::*, token::TokenDigest};

use support::{Answer, GOOD_PW, Harness, clears, seed_config, unthrottled};

const EMAIL: &str = "fast@example.com";

/// A harness with `EMAIL` registered, and a session whose cookie the next request through
/// the layer finds in the cache (checked).
async fn cached_session(h: &Harness) -> String {
    h.registered(EMAIL, GOOD_PW).await;
    let token = h.session(EMAIL, GOOD_PW).await;
    warm(h, &token).await;
    token
}

/// Sends one app request with `token` (which reads the session and caches it), then checks
/// that the session cache now answers it from memory: the next request takes the fast path.
async fn warm(h: &Harness, token: &str) {
    let first = h.app_get(token).await;
    assert_eq!(first.app_user().expect("a user")["email"], EMAIL);
    assert!(
        answers_from_memory(h, token),
        "the session should be cached after a read"
    );
}

fn answers_from_memory(h: &Harness, token: &str) -> bool {
    matches!(
        h.auth
            .cached_sessions()
            .session_without_waiting(TokenDigest::of(token)),
        Some(Some(_))
    )
}

/// The wrapped app's answer without a user, and the cookie cleared (`no-store`).
#[track_caller]
fn refused_and_cleared(res: &Answer) {
    assert_eq!(res.status, 200);
    assert!(res.app_user().is_none(), "no user for a dead session");
    let line = res
        .set_cookie_line("session_id")
        .expect("the cookie cleared");
    assert!(clears(&line), "{line}");
    assert_eq!(res.header("cache-control"), Some("no-store"));
}

#[tokio::test]
async fn a_cached_session_is_accepted_through_the_fast_path_with_the_same_user() {
    let h = Harness::seed();
    let id = h.registered(EMAIL, GOOD_PW).await;
    let token = h.session(EMAIL, GOOD_PW).await;
    warm(&h, &token).await;
    let fast = h.app_get(&token).await;
    let user = fast.app_user().expect("a user");
    assert_eq!(user["id"], id.0);
    assert_eq!(user["email"], EMAIL);
    let session = TokenDigest::of(&token).session_id().to_string();
    assert_eq!(user["session"], session.as_str());
    assert!(fast.set_cookie_line("session_id").is_none());
}

#[tokio::test]
async fn a_session_ended_between_two_requests_is_refused_on_the_next_one() {
    let h = Harness::seed();
    let token = cached_session(&h).await;
    assert_eq!(h.logout(&token).await.status, 302);
    assert!(
        !answers_from_memory(&h, &token),
        "an ended session is no longer answered from memory"
    );
    refused_and_cleared(&h.app_get(&token).await);

    // Ended by another session (DELETE /sessions/all from a second device).
    let first = h.session(EMAIL, GOOD_PW).await;
    let second = h.session(EMAIL, GOOD_PW).await;
    warm(&h, &first).await;
    let all = h
        .send(support::with_cookie(
            support::empty(http::Method::DELETE, "/sessions/all"),
            &second,
        ))
        .await;
    assert_eq!(all.status, 302);
    refused_and_cleared(&h.app_get(&first).await);
}

#[tokio::test]
async fn the_idle_timeout_refuses_a_cached_session_by_the_injected_clock() {
    let h = Harness::new(seed_config().with_session_idle_timeout(Duration::from_secs(600)));
    let token = cached_session(&h).await;
    h.advance(Duration::from_secs(600));
    assert!(
        answers_from_memory(&h, &token),
        "still cached: the fast path judges it"
    );
    refused_and_cleared(&h.app_get(&token).await);
    assert!(h.session_stored(&token).await, "refused, not deleted");
}

#[tokio::test]
async fn the_lifetime_refuses_a_cached_session_by_the_injected_clock() {
    let config = seed_config()
        .with_session_idle_timeout(Duration::from_secs(3600))
        .with_session_lifetime(Duration::from_secs(120));
    let h = Harness::new(config);
    let token = cached_session(&h).await;
    // A request past the renewal interval records activity, which drops the cached entry:
    // once written, the next request caches the session again.
    h.advance(Duration::from_secs(119));
    assert!(h.app_get(&token).await.app_user().is_some());
    h.drain().await;
    warm(&h, &token).await;
    h.advance(Duration::from_secs(1));
    assert!(answers_from_memory(&h, &token));
    refused_and_cleared(&h.app_get(&token).await);
}

#[tokio::test]
async fn activity_through_the_fast_path_is_recorded_and_keeps_the_session() {
    let config = seed_config()
        .with_session_idle_timeout(Duration::from_secs(600))
        .with_session_renewal(Duration::from_secs(60));
    let h = Harness::new(config);
    let token = cached_session(&h).await;
    let digest = TokenDigest::of(&token);
    // Past the renewal interval, within the idle timeout: accepted, and the activity written.
    h.advance(Duration::from_secs(500));
    assert!(answers_from_memory(&h, &token));
    assert!(h.app_get(&token).await.app_user().is_some());
    h.drain().await;
    let stored = h
        .store
        .session(digest)
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(stored.record.last_seen, h.auth.now());
    // So the session outlives its first idle deadline.
    h.advance(Duration::from_secs(500));
    assert!(h.app_get(&token).await.app_user().is_some());
}

/// A logout racing with requests on the same session, the session cached: once the logout
/// is answered, no request sent after it is accepted. Two tasks send requests in a loop
/// while a third logs out, released together by a barrier; 40 rounds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_request_sent_after_a_logout_is_accepted_through_the_fast_path() {
    let h = Arc::new(Harness::new(unthrottled(seed_config())));
    h.registered(EMAIL, GOOD_PW).await;
    for round in 0..40 {
        let token = h.session(EMAIL, GOOD_PW).await;
        warm(&h, &token).await;
        let barrier = Arc::new(Barrier::new(3));
        let logged_out = Arc::new(AtomicBool::new(false));
        let readers = (0..2).map(|_| {
            let (h, token, barrier, logged_out) = (
                h.clone(),
                token.clone(),
                barrier.clone(),
                logged_out.clone(),
            );
            tokio::spawn(async move {
                barrier.wait().await;
                // Until one request has been sent after the logout was answered.
                loop {
                    let after_logout = logged_out.load(Ordering::SeqCst);
                    let accepted = h.app_get(&token).await.app_user().is_some();
                    assert!(
                        !(after_logout && accepted),
                        "round {round}: a request sent after the logout was accepted"
                    );
                    if after_logout {
                        return;
                    }
                }
            })
        });
        let readers: Vec<_> = readers.collect();
        barrier.wait().await;
        assert_eq!(h.logout(&token).await.status, 302, "round {round}");
        logged_out.store(true, Ordering::SeqCst);
        for reader in readers {
            reader.await.expect("reader");
        }
        assert!(!answers_from_memory(&h, &token), "round {round}");
    }
}
