//! The purge: what has expired goes, what is live stays.

use std::time::Duration;

use tower_user_auth::{
    store::{AccountVersion, Purged, SessionRecord, prelude::*},
    token::TokenDigest,
};

use crate::conformance::{device, now, reset};

/// Sessions past their absolute expiry (at it included) or idle since before `idle_before`
/// go; reset and device tokens past their expiry go; the rest stays; a second purge finds
/// nothing.
pub async fn removes_what_is_expired_and_keeps_what_is_live<S: ExpiredDeletion>(store: S) {
    let at = now();
    let secs = Duration::from_secs;
    let alice = store.add_user("alice@p.io", "$2b$04$h").await.unwrap();
    let bob = store.add_user("bob@p.io", "$2b$04$h").await.unwrap();
    let idle_before = at - secs(60);
    let record = |created: u64, seen: u64, expires_in: i64| SessionRecord {
        user_id: alice.id,
        created: at - secs(created),
        last_seen: at - secs(seen),
        expires: if expires_in >= 0 {
            at + secs(expires_in.unsigned_abs())
        } else {
            at - secs(expires_in.unsigned_abs())
        },
        generation: 0,
    };
    let sessions = [
        ("expired", record(100, 10, -50), false),
        ("expires now", record(100, 10, 0), false),
        ("idle", record(100, 90, 1000), false),
        ("idle exactly at the limit", record(100, 60, 1000), true),
        ("live", record(0, 0, 1000), true),
    ];
    for (name, s, _) in sessions {
        store
            .insert_session(TokenDigest::of(name), s, None)
            .await
            .unwrap();
    }
    let (dead, live) = (TokenDigest::of("dead reset"), TokenDigest::of("live reset"));
    store
        .replace_reset_token(
            dead,
            reset(alice.id, at - secs(100), 100),
            AccountVersion::of(&alice),
        )
        .await
        .unwrap();
    store
        .replace_reset_token(live, reset(bob.id, at, 100), AccountVersion::of(&bob))
        .await
        .unwrap();
    let (old_device, new_device) = (TokenDigest::of("old device"), TokenDigest::of("new"));
    store
        .insert_device_token(old_device, device(bob.id, at, 91 * 24 * 3600), 10)
        .await
        .unwrap();
    store
        .insert_device_token(new_device, device(bob.id, at, 0), 10)
        .await
        .unwrap();

    let purged = store
        .purge_expired(at, idle_before, std::time::UNIX_EPOCH)
        .await
        .unwrap();
    assert_eq!(
        purged,
        Purged {
            sessions: 3,
            reset_tokens: 1,
            device_tokens: 1,
            email_tokens: 0,
            unconfirmed_users: 0,
        }
    );
    for (name, _, kept) in sessions {
        let found = store.session(TokenDigest::of(name)).await.unwrap();
        assert_eq!(found.is_some(), kept, "{name}");
    }
    assert!(store.reset_token(dead).await.unwrap().is_none());
    assert!(store.reset_token(live).await.unwrap().is_some());
    assert!(store.device_token(old_device).await.unwrap().is_none());
    assert!(store.device_token(new_device).await.unwrap().is_some());
    let again = store
        .purge_expired(at, idle_before, std::time::UNIX_EPOCH)
        .await
        .unwrap();
    assert_eq!(again, Purged::default());
}
