//! Accounts: add, find, update, delete (also as a compare-and-set by a session), list and
//! import, with their error paths.

use std::time::Duration;

use tower_user_auth::{
    StoreError, UserId,
    store::{
        AccountVersion, EndSessions, ImportedUser, SecondFactorChange, UserQuery, UserUpdate,
        VerifiedSession, prelude::*,
    },
    token::TokenDigest,
};

use crate::conformance::{device, now, reset, session};

/// `add_user` trims the email and keeps its case, starts at generation 0; `find_user_by`
/// finds by id and by email key (case, white space, Unicode normalisation ignored).
pub async fn add_find_and_trim<S: Store>(store: S) {
    let user = store.add_user(" Mixed@Case.io ", "$2b$04$h").await.unwrap();
    assert_eq!(user.email, "Mixed@Case.io");
    assert_eq!(user.hashed_password, "$2b$04$h");
    assert_eq!(user.generation, 0);
    for q in [
        UserQuery::Id(user.id),
        UserQuery::Email("mixed@case.IO".into()),
        UserQuery::Email("  MIXED@CASE.IO\t".into()),
    ] {
        assert_eq!(store.find_user_by(q).await.unwrap(), user);
    }
    let zoe = store
        .add_user("zo\u{eb}@example.com", "$2b$04$z")
        .await
        .unwrap();
    for email in ["zoe\u{308}@example.com", "ZOE\u{308}@EXAMPLE.COM"] {
        let found = store.find_user_by(UserQuery::Email(email.into())).await;
        assert_eq!(found.unwrap().id, zoe.id, "{email:?}");
    }
    let other = store.add_user("other@case.io", "$2b$04$o").await.unwrap();
    assert!(other.id > user.id, "ids increase");
}

/// Every query for something that is not there is `NotFound`.
pub async fn unknown_users_are_not_found<S: Store>(store: S) {
    store.add_user("someone@x.io", "$2b$04$h").await.unwrap();
    for q in [
        UserQuery::Id(UserId(999)),
        UserQuery::Id(UserId(u64::MAX)),
        UserQuery::Email("x@y.z".into()),
        UserQuery::Session(TokenDigest::of("no session")),
        UserQuery::ResetToken(TokenDigest::of("no token")),
    ] {
        let found = store.find_user_by(q.clone()).await;
        assert!(
            matches!(found, Err(StoreError::NotFound)),
            "{q:?}: {found:?}"
        );
    }
    let update = store.update_user(UserId(999), UserUpdate::new()).await;
    assert!(matches!(update, Err(StoreError::NotFound)), "{update:?}");
    let delete = store.delete_user(UserId(999)).await;
    assert!(matches!(delete, Err(StoreError::NotFound)), "{delete:?}");
    let rehash = store
        .rehash_password(UserId(999), "$2b$04$h".into(), "$2b$05$h".into())
        .await;
    assert!(matches!(rehash, Ok(false)), "{rehash:?}");
    let listed = store.sessions_of(UserId(999)).await.unwrap();
    assert!(listed.is_empty());
    let ended = store
        .delete_sessions_of(UserId(999), EndSessions::All)
        .await;
    assert_eq!(ended.unwrap(), 0);
    assert_eq!(store.delete_device_tokens_of(UserId(999)).await.unwrap(), 0);
}

/// One account per email key: `add_user`, `import_user` and an email change to a taken key
/// are `EmailTaken` and change nothing; a change of the email's case is not a conflict.
pub async fn emails_are_unique_by_their_key<S: Store>(store: S) {
    let user = store.add_user("taken@x.io", "$2b$04$h").await.unwrap();
    for email in ["taken@x.io", " TAKEN@x.IO ", "Taken@X.io"] {
        let again = store.add_user(email, "$2b$04$other").await;
        assert!(matches!(again, Err(StoreError::EmailTaken)), "{again:?}");
    }
    let imported = store
        .import_user(ImportedUser {
            email_confirmed: true,
            second_factor: None,
            email: "TAKEN@x.io".into(),
            hashed_password: "$2b$04$i".into(),
            generation: 3,
            created: now(),
            contested: false,
        })
        .await;
    assert!(
        matches!(imported, Err(StoreError::EmailTaken)),
        "{imported:?}"
    );
    let other = store.add_user("other@x.io", "$2b$04$o").await.unwrap();
    let moved = store
        .update_user(other.id, UserUpdate::new().email("TAKEN@x.io"))
        .await;
    assert!(matches!(moved, Err(StoreError::EmailTaken)), "{moved:?}");
    let found = store.find_user_by(UserQuery::Id(other.id)).await.unwrap();
    assert_eq!(found.email, "other@x.io");
    // The owner may change the case of their own email.
    let recased = store
        .update_user(user.id, UserUpdate::new().email(" Taken@X.io "))
        .await
        .unwrap();
    assert_eq!(recased.email, "Taken@X.io");
    let found = store
        .find_user_by(UserQuery::Email("taken@x.io".into()))
        .await;
    assert_eq!(found.unwrap().id, user.id);
}

/// An email change moves the key (the old one is free, the new one finds the user), revokes
/// the reset token and keeps the generation; `end_sessions` ends what it names.
pub async fn update_changes_email_and_ends_sessions<S: Store>(store: S) {
    let at = now();
    let user = store.add_user("old@x.io", "$2b$04$h").await.unwrap();
    let (a, b) = (TokenDigest::of("a"), TokenDigest::of("b"));
    for d in [a, b] {
        store
            .insert_session(d, session(user.id, at, 600), None)
            .await
            .unwrap();
    }
    let token = TokenDigest::of("reset");
    store
        .replace_reset_token(token, reset(user.id, at, 600), AccountVersion::of(&user))
        .await
        .unwrap();
    let moved = store
        .update_user(
            user.id,
            UserUpdate::new()
                .email("new@x.io")
                .end_sessions(EndSessions::AllExcept(a)),
        )
        .await
        .unwrap();
    assert_eq!((moved.email.as_str(), moved.generation), ("new@x.io", 1));
    assert_eq!(moved.hashed_password, "$2b$04$h");
    let old = store
        .find_user_by(UserQuery::Email("old@x.io".into()))
        .await;
    assert!(matches!(old, Err(StoreError::NotFound)), "{old:?}");
    let new = store
        .find_user_by(UserQuery::Email("NEW@x.io".into()))
        .await;
    assert_eq!(new.unwrap(), moved);
    assert!(store.reset_token(token).await.unwrap().is_none());
    let kept = store.session(a).await.unwrap().expect("kept");
    assert_eq!(kept.record.generation, 1, "moved to the new generation");
    assert!(store.session(b).await.unwrap().is_none());
    // The old email is free again.
    store.add_user("old@x.io", "$2b$04$h").await.unwrap();
    // Ending all without another change.
    let ended = store
        .update_user(user.id, UserUpdate::new().end_sessions(EndSessions::All))
        .await
        .unwrap();
    assert_eq!(ended, moved);
    assert!(store.sessions_of(user.id).await.unwrap().is_empty());
}

/// `EndSessions::AllExcept` names the session asking for the change: if it has ended, or is
/// another user's, the change is `NotFound` and nothing changes.
pub async fn update_refuses_an_ended_requesting_session<S: Store>(store: S) {
    let at = now();
    let alice = store.add_user("alice@x.io", "$2b$04$a").await.unwrap();
    let bob = store.add_user("bob@x.io", "$2b$04$b").await.unwrap();
    let (mine, bobs) = (TokenDigest::of("alice's"), TokenDigest::of("bob's"));
    store
        .insert_session(mine, session(alice.id, at, 600), None)
        .await
        .unwrap();
    store
        .insert_session(bobs, session(bob.id, at, 600), None)
        .await
        .unwrap();
    for kept in [TokenDigest::of("ended"), bobs] {
        let update = UserUpdate::new()
            .hashed_password("$2b$04$new")
            .email("changed@x.io")
            .end_sessions(EndSessions::AllExcept(kept));
        let refused = store.update_user(alice.id, update).await;
        assert!(matches!(refused, Err(StoreError::NotFound)), "{refused:?}");
    }
    assert_eq!(
        store.find_user_by(UserQuery::Id(alice.id)).await.unwrap(),
        alice
    );
    assert!(store.session(mine).await.unwrap().is_some());
    assert!(store.session(bobs).await.unwrap().is_some());
}

/// Deleting a user removes their sessions, reset token and device tokens, frees the email,
/// and leaves other users alone; a second delete is `NotFound`.
pub async fn delete_removes_everything_of_the_user<S: Store>(store: S) {
    let at = now();
    let user = store.add_user("gone@x.io", "$2b$04$h").await.unwrap();
    let other = store.add_user("stays@x.io", "$2b$04$h").await.unwrap();
    let (s, r, d) = (
        TokenDigest::of("s"),
        TokenDigest::of("r"),
        TokenDigest::of("d"),
    );
    store
        .insert_session(s, session(user.id, at, 600), None)
        .await
        .unwrap();
    store
        .replace_reset_token(r, reset(user.id, at, 600), AccountVersion::of(&user))
        .await
        .unwrap();
    store
        .insert_device_token(d, device(user.id, at, 0), 10)
        .await
        .unwrap();
    let others = TokenDigest::of("other's");
    store
        .insert_session(others, session(other.id, at, 600), None)
        .await
        .unwrap();

    store.delete_user(user.id).await.unwrap();
    assert!(store.session(s).await.unwrap().is_none());
    assert!(store.reset_token(r).await.unwrap().is_none());
    assert!(store.device_token(d).await.unwrap().is_none());
    for q in [
        UserQuery::Id(user.id),
        UserQuery::Session(s),
        UserQuery::ResetToken(r),
    ] {
        assert!(matches!(
            store.find_user_by(q).await,
            Err(StoreError::NotFound)
        ));
    }
    let again = store.delete_user(user.id).await;
    assert!(matches!(again, Err(StoreError::NotFound)), "{again:?}");
    assert!(store.session(others).await.unwrap().is_some());
    let back = store.add_user("GONE@x.io", "$2b$04$h").await.unwrap();
    assert_ne!(back.id, user.id, "ids are not reused");
}

/// `list_users` pages in id order after `after`, up to `limit`, with creation times.
pub async fn list_pages_in_id_order<S: Store>(store: S) {
    let before = now();
    let mut ids = Vec::new();
    for i in 0..7 {
        let user = store
            .add_user(&format!("u{i}@list.io"), "$2b$04$h")
            .await
            .unwrap();
        ids.push(user.id);
    }
    let deleted = ids.remove(3);
    store.delete_user(deleted).await.unwrap();
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = store.list_users(after, 4).await.unwrap();
        assert!(page.len() <= 4);
        let Some(last) = page.last() else { break };
        after = Some(last.user.id);
        for listed in &page {
            assert!(listed.created >= before);
            assert!(listed.created <= now() + Duration::from_secs(1));
            assert_eq!(listed.user.hashed_password, "$2b$04$h");
        }
        seen.extend(page.into_iter().map(|l| l.user.id));
    }
    assert_eq!(seen, ids);
    assert!(store.list_users(None, 0).await.unwrap().is_empty());
    assert!(
        store
            .list_users(Some(UserId(u64::MAX)), 10)
            .await
            .unwrap()
            .is_empty()
    );
    let first = store.list_users(None, 1).await.unwrap();
    assert_eq!(first[0].user.email, "u0@list.io");
}

/// `import_user` inserts under a new id, keeping the hash, the generation and the creation
/// time; the email is trimmed.
pub async fn import_keeps_hash_generation_and_creation<S: Store>(store: S) {
    let existing = store.add_user("first@x.io", "$2b$04$f").await.unwrap();
    let created = now() - Duration::from_secs(86_400 * 400);
    let user = store
        .import_user(ImportedUser {
            email_confirmed: true,
            second_factor: None,
            email: " Imported@X.io ".into(),
            hashed_password: "$2b$12$imported".into(),
            generation: 7,
            created,
            contested: false,
        })
        .await
        .unwrap();
    assert_ne!(user.id, existing.id);
    assert_eq!(user.email, "Imported@X.io");
    assert_eq!(user.hashed_password, "$2b$12$imported");
    assert_eq!(user.generation, 7);
    let found = store
        .find_user_by(UserQuery::Email("imported@x.io".into()))
        .await;
    assert_eq!(found.unwrap(), user);
    let listed = store.list_users(Some(existing.id), 10).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!((&listed[0].user, listed[0].created), (&user, created));
    // A session at the imported generation is current.
    let s = TokenDigest::of("imported session");
    let mut record = session(user.id, now(), 60);
    record.generation = 7;
    store.insert_session(s, record, None).await.unwrap();
}

/// A verified deletion or factor removal is a compare-and-set against the session and the
/// generation it verified: `NotFound` once that session is gone, `Conflict` once the
/// generation moved, and nothing changed; with both as verified it applies.
pub async fn verified_changes_are_compare_and_sets_on_the_session_and_the_generation<S: Store>(
    store: S,
) {
    let at = now();
    let user = store
        .add_user("verified@example.com", "$2b$04$a")
        .await
        .unwrap();
    let (mine, gone) = (TokenDigest::of("mine"), TokenDigest::of("gone"));
    store
        .insert_session(mine, session(user.id, at, 600), None)
        .await
        .unwrap();
    let begin = SecondFactorChange::Begin {
        sealed_secret: b"s".to_vec(),
    };
    assert!(store.update_second_factor(user.id, begin).await.unwrap());
    let verified = |session, generation| VerifiedSession {
        session,
        generation,
    };
    for (v, expected) in [
        (verified(gone, 0), "NotFound"),
        (verified(mine, 1), "Conflict"),
    ] {
        let refused = store.delete_user_verified(user.id, v).await;
        let removal = SecondFactorChange::RemoveVerified(v);
        let refused_removal = store.update_second_factor(user.id, removal).await;
        for r in [refused.map(|()| true), refused_removal] {
            let name = match r {
                Err(StoreError::NotFound) => "NotFound",
                Err(StoreError::Conflict) => "Conflict",
                _ => "other",
            };
            assert_eq!(name, expected, "{v:?}: {r:?}");
        }
    }
    assert!(store.second_factor(user.id).await.unwrap().is_some());
    assert!(store.session(mine).await.unwrap().is_some());
    // As verified: a pending factor's removal changes no credential, the deletion applies.
    let removal = SecondFactorChange::RemoveVerified(verified(mine, 0));
    assert!(store.update_second_factor(user.id, removal).await.unwrap());
    let still = store.find_user_by(UserQuery::Id(user.id)).await.unwrap();
    assert_eq!(still.generation, 0);
    store
        .delete_user_verified(user.id, verified(mine, 0))
        .await
        .unwrap();
    let gone = store.find_user_by(UserQuery::Id(user.id)).await;
    assert!(matches!(gone, Err(StoreError::NotFound)), "{gone:?}");
    let again = store.delete_user_verified(user.id, verified(mine, 0)).await;
    assert!(matches!(again, Err(StoreError::NotFound)), "{again:?}");
}
