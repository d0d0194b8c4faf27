//! Sessions: insert, read with the owner, the per-user cap, touch, list and delete.

use std::time::Duration;

use tower_user_auth::{
    StoreError, UserId,
    store::{EndSessions, SessionRecord, UserQuery, UserUpdate, prelude::*},
    token::TokenDigest,
};

use crate::conformance::{now, session};

/// A stored session reads back exactly, with its user; `find_user_by(Session)` finds the
/// owner; an unknown digest is `None`.
pub async fn insert_get_and_find_the_owner<S: Store>(store: S) {
    let at = now();
    let user = store.add_user("s@s.io", "$2b$04$h").await.unwrap();
    let d = TokenDigest::of("session");
    let record = SessionRecord {
        user_id: user.id,
        created: at - Duration::from_secs(30),
        last_seen: at - Duration::from_secs(10),
        expires: at + Duration::from_secs(3600),
        generation: 0,
    };
    store.insert_session(d, record, None).await.unwrap();
    let got = store.session(d).await.unwrap().unwrap();
    assert_eq!(got.record, record);
    assert_eq!(got.email, user.email);
    let found = store.find_user_by(UserQuery::Session(d)).await.unwrap();
    assert_eq!(found, user);
    assert!(
        store
            .session(TokenDigest::of("other"))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(store.sessions_of(user.id).await.unwrap(), vec![(d, record)]);
}

/// With `max_per_user`, the oldest sessions beyond the cap are ended in the inserting
/// transaction, never the new one; `sessions_of` lists oldest first.
pub async fn cap_evicts_the_oldest<S: Store>(store: S) {
    let t0 = now();
    let user = store.add_user("cap@s.io", "$2b$04$h").await.unwrap();
    let other = store.add_user("other@s.io", "$2b$04$h").await.unwrap();
    let others = TokenDigest::of("other's");
    store
        .insert_session(others, session(other.id, t0, 600), Some(1))
        .await
        .unwrap();
    let digests: Vec<TokenDigest> = (0..4).map(|i| TokenDigest::of(&format!("s{i}"))).collect();
    for (i, d) in digests.iter().enumerate() {
        let created = t0 + Duration::from_secs(i as u64);
        store
            .insert_session(*d, session(user.id, created, 600), Some(3))
            .await
            .unwrap();
    }
    assert!(
        store.session(digests[0]).await.unwrap().is_none(),
        "the oldest went"
    );
    let listed: Vec<_> = store
        .sessions_of(user.id)
        .await
        .unwrap()
        .into_iter()
        .map(|(d, _)| d)
        .collect();
    assert_eq!(listed, digests[1..]);
    // A new session created before the others is still never the one evicted.
    let early = TokenDigest::of("early");
    store
        .insert_session(
            early,
            session(user.id, t0 - Duration::from_secs(60), 600),
            Some(3),
        )
        .await
        .unwrap();
    assert!(store.session(early).await.unwrap().is_some());
    assert!(store.session(digests[1]).await.unwrap().is_none());
    assert_eq!(store.sessions_of(user.id).await.unwrap().len(), 3);
    assert!(store.session(others).await.unwrap().is_some(), "per user");
    // Without a cap, nothing is evicted.
    store
        .insert_session(TokenDigest::of("more"), session(user.id, t0, 600), None)
        .await
        .unwrap();
    assert_eq!(store.sessions_of(user.id).await.unwrap().len(), 4);
}

/// `touch_session` moves the last activity forward, never back, and keeps everything else;
/// touching a session that is gone does nothing.
pub async fn touch_moves_forward_only<S: Store>(store: S) {
    let t0 = now();
    let user = store.add_user("touch@s.io", "$2b$04$h").await.unwrap();
    let d = TokenDigest::of("touched");
    let record = session(user.id, t0, 600);
    store.insert_session(d, record, None).await.unwrap();
    store
        .touch_session(d, t0 + Duration::from_secs(100))
        .await
        .unwrap();
    let got = store.session(d).await.unwrap().unwrap().record;
    assert_eq!(
        got,
        SessionRecord {
            last_seen: t0 + Duration::from_secs(100),
            ..record
        }
    );
    store
        .touch_session(d, t0 + Duration::from_secs(50))
        .await
        .unwrap();
    let got = store.session(d).await.unwrap().unwrap().record;
    assert_eq!(got.last_seen, t0 + Duration::from_secs(100), "never back");
    store
        .touch_session(TokenDigest::of("gone"), t0)
        .await
        .unwrap();
    assert!(
        store
            .session(TokenDigest::of("gone"))
            .await
            .unwrap()
            .is_none()
    );
}

/// `delete_session` answers whether there was one; `delete_sessions_of` ends what it names
/// and counts them.
pub async fn delete_one_and_delete_of_user<S: Store>(store: S) {
    let t0 = now();
    let user = store.add_user("del@s.io", "$2b$04$h").await.unwrap();
    let other = store.add_user("other@s.io", "$2b$04$h").await.unwrap();
    let digests: Vec<TokenDigest> = (0..4).map(|i| TokenDigest::of(&format!("d{i}"))).collect();
    for d in &digests {
        store
            .insert_session(*d, session(user.id, t0, 600), None)
            .await
            .unwrap();
    }
    let others = TokenDigest::of("other's");
    store
        .insert_session(others, session(other.id, t0, 600), None)
        .await
        .unwrap();
    assert!(store.delete_session(digests[0]).await.unwrap());
    assert!(!store.delete_session(digests[0]).await.unwrap());
    let none = store.delete_sessions_of(user.id, EndSessions::None).await;
    assert_eq!(none.unwrap(), 0);
    let except = store
        .delete_sessions_of(user.id, EndSessions::AllExcept(digests[3]))
        .await
        .unwrap();
    assert_eq!(except, 2);
    assert!(store.session(digests[3]).await.unwrap().is_some());
    // Naming another user's session as the one kept keeps nothing of this user.
    let all = store
        .delete_sessions_of(user.id, EndSessions::AllExcept(others))
        .await
        .unwrap();
    assert_eq!(all, 1);
    assert!(store.sessions_of(user.id).await.unwrap().is_empty());
    assert!(store.session(others).await.unwrap().is_some());
    let all = store.delete_sessions_of(other.id, EndSessions::All).await;
    assert_eq!(all.unwrap(), 1);
}

/// A session for a user that does not exist is `NotFound`, and is not stored.
pub async fn insert_for_an_unknown_user_is_not_found<S: Store>(store: S) {
    let d = TokenDigest::of("orphan");
    let refused = store
        .insert_session(d, session(UserId(77), now(), 60), None)
        .await;
    assert!(matches!(refused, Err(StoreError::NotFound)), "{refused:?}");
    assert!(store.session(d).await.unwrap().is_none());
    let user = store.add_user("u@s.io", "$2b$04$h").await.unwrap();
    store.delete_user(user.id).await.unwrap();
    let refused = store
        .insert_session(d, session(user.id, now(), 60), Some(3))
        .await;
    assert!(matches!(refused, Err(StoreError::NotFound)), "{refused:?}");
}

/// `session_without_waiting`, when it answers, answers what `session` answers at that moment:
/// after a read (which may cache), an activity record, an email change, a password change
/// that moves the session, and its end; and for a digest never stored.
pub async fn the_answer_without_waiting_is_the_answer_of_session<S: Store>(store: S) {
    async fn agree<S: Store>(store: &S, d: TokenDigest, when: &str) {
        let read = store.session(d).await.unwrap();
        if let Some(now) = store.session_without_waiting(d) {
            assert_eq!(now, read, "{when}");
        }
    }
    let at = now();
    let user = store.add_user("fast@s.io", "$2b$04$h").await.unwrap();
    let d = TokenDigest::of("fast");
    agree(&store, d, "before the insert").await;
    store
        .insert_session(d, session(user.id, at, 600), None)
        .await
        .unwrap();
    agree(&store, d, "inserted").await;
    agree(&store, d, "read twice").await;
    store
        .touch_session(d, at + Duration::from_secs(5))
        .await
        .unwrap();
    agree(&store, d, "touched").await;
    let update = UserUpdate::new().email("moved@s.io");
    store.update_user(user.id, update).await.unwrap();
    agree(&store, d, "email changed").await;
    let update = UserUpdate::new().hashed_password("$2b$04$other");
    store.update_user(user.id, update).await.unwrap();
    agree(&store, d, "password changed, session moved").await;
    assert!(store.delete_session(d).await.unwrap());
    agree(&store, d, "ended").await;
    agree(&store, TokenDigest::of("never stored"), "never stored").await;
}
