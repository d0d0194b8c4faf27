//! The redb store and `Auth` on real files in temp dirs: persistence, racing registrations,
//! token digests at rest, transactions, schema versions, and every error path.

mod support;

use std::{
    sync::Arc,
    time::{Duration, SystemTime},
};
use tower_user_auth::compat::SeedApi;

use tower_user_auth::{
    Auth, AuthError, StoreError, UserId,
    auth::DEVICE_TOKEN_LIFETIME,
    error::PasswordError,
    store::{
        AccountVersion, DeviceRecord, EndSessions, PasswordReset, RedbStore, ResetRecord,
        SessionRecord, Store, UserQuery, UserUpdate,
    },
    token::{DeviceToken, ResetToken, SessionToken, TokenDigest},
};

fn session(user: UserId, now: SystemTime, secs: u64) -> SessionRecord {
    SessionRecord {
        user_id: user,
        created: now,
        last_seen: now,
        expires: now + Duration::from_secs(secs),
        generation: 0,
    }
}

#[tokio::test]
async fn data_survives_closing_and_reopening_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("auth.redb");
    let (token, reset) = {
        let auth = Auth::open(&path, support::seed_config()).unwrap();
        auth.register_user("a@b.io", "pw1").await.unwrap();
        let token = auth.create_session("a@b.io").await.unwrap().unwrap();
        let reset = auth.get_reset_password_token("a@b.io").await.unwrap();
        (token, reset)
    };
    // Every handle is gone: the file can be opened again, with everything in it.
    let auth = Auth::open(&path, support::seed_config()).unwrap();
    assert!(auth.valid_login("A@B.io", "pw1").await.unwrap());
    let user = auth
        .get_user_from_session_id(Some(token.expose()))
        .await
        .unwrap();
    assert_eq!(user.map(|u| u.email), Some("a@b.io".to_owned()));
    auth.update_password(reset.expose(), "pw2").await.unwrap();
    assert!(auth.valid_login("a@b.io", "pw2").await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_racing_registrations_of_one_email_make_one_account() {
    let dir = tempfile::tempdir().unwrap();
    let store = RedbStore::open(dir.path().join("auth.redb")).unwrap();
    let mut tasks = Vec::new();
    for i in 0..16 {
        let store = store.clone();
        let email = if i % 2 == 0 {
            "race@example.com"
        } else {
            " RACE@example.com"
        };
        tasks.push(tokio::spawn(async move {
            store.add_user(email, "$2b$04$x").await
        }));
    }
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => ok += 1,
            Err(StoreError::EmailTaken) => {}
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert_eq!(ok, 1);
    assert_eq!(store.counts().unwrap().0, 1);

    // The same through Auth, with hashing in between.
    let (auth, _dir) = support::auth(support::seed_config());
    let results = futures_util::future::join_all((0..16).map(|_| {
        let auth = auth.clone();
        async move { auth.register_user("same@example.com", "pw").await }
    }))
    .await;
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);
    assert!(
        results
            .iter()
            .filter(|r| r.is_err())
            .all(|r| matches!(r, Err(AuthError::EmailTaken(_))))
    );
}

#[tokio::test]
async fn issued_tokens_never_reach_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("auth.redb");
    let mut secrets = Vec::new();
    {
        let auth = Auth::open(&path, support::seed_config()).unwrap();
        for i in 0..20 {
            let email = format!("user{i}@example.com");
            auth.register_user(&email, "pw").await.unwrap();
            secrets.push(
                auth.create_session(&email)
                    .await
                    .unwrap()
                    .unwrap()
                    .expose()
                    .to_owned(),
            );
            secrets.push(
                auth.get_reset_password_token(&email)
                    .await
                    .unwrap()
                    .expose()
                    .to_owned(),
            );
        }
    }
    let bytes = std::fs::read(&path).unwrap();
    let contains = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    assert!(
        contains(b"user7@example.com"),
        "the check can see stored text"
    );
    for secret in &secrets {
        assert!(!contains(secret.as_bytes()), "a token is in the file");
        let dashless: String = secret.chars().filter(|c| *c != '-').collect();
        assert!(!contains(dashless.as_bytes()));
    }
}

#[tokio::test]
async fn find_update_and_delete_users() {
    let (auth, _dir) = support::auth(support::seed_config());
    let store = auth.store();
    let user = store.add_user(" Mixed@Case.io ", "$2b$04$h").await.unwrap();
    assert_eq!(user.email, "Mixed@Case.io");
    for q in [
        UserQuery::Id(user.id),
        UserQuery::Email("mixed@case.IO".into()),
    ] {
        assert_eq!(store.find_user_by(q).await.unwrap().id, user.id);
    }
    assert!(matches!(
        store.find_user_by(UserQuery::Id(UserId(999))).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.find_user_by(UserQuery::Email("x@y.z".into())).await,
        Err(StoreError::NotFound)
    ));
    let token = SessionToken::generate();
    let now = SystemTime::now();
    store
        .insert_session(token.digest(), session(user.id, now, 60), None)
        .await
        .unwrap();
    assert_eq!(
        store
            .find_user_by(UserQuery::Session(token.digest()))
            .await
            .unwrap()
            .id,
        user.id
    );
    let reset = ResetToken::generate();
    let record = ResetRecord {
        user_id: user.id,
        created: now,
        expires: now + Duration::from_secs(60),
    };
    store
        .replace_reset_token(reset.digest(), record, AccountVersion::of(&user))
        .await
        .unwrap();
    assert_eq!(
        store
            .find_user_by(UserQuery::ResetToken(reset.digest()))
            .await
            .unwrap()
            .id,
        user.id
    );

    let other = store.add_user("other@case.io", "$2b$04$o").await.unwrap();
    assert!(matches!(
        store
            .update_user(other.id, UserUpdate::new().email("MIXED@case.io"))
            .await,
        Err(StoreError::EmailTaken)
    ));
    let moved = store
        .update_user(other.id, UserUpdate::new().email("new@case.io"))
        .await
        .unwrap();
    assert_eq!(moved.email, "new@case.io");
    assert!(
        store
            .find_user_by(UserQuery::Email("other@case.io".into()))
            .await
            .is_err()
    );
    assert!(matches!(
        store.update_user(UserId(999), UserUpdate::new()).await,
        Err(StoreError::NotFound)
    ));

    let updated = store
        .update_user(
            user.id,
            UserUpdate::new()
                .hashed_password("$2b$04$new")
                .end_sessions(EndSessions::All),
        )
        .await
        .unwrap();
    assert_eq!(updated.hashed_password, "$2b$04$new");
    assert!(
        store.session(token.digest()).await.unwrap().is_none(),
        "ended in the same update"
    );

    store.delete_user(user.id).await.unwrap();
    assert!(
        store
            .find_user_by(UserQuery::ResetToken(reset.digest()))
            .await
            .is_err()
    );
    assert!(store.reset_token(reset.digest()).await.unwrap().is_none());
    assert!(matches!(
        store.delete_user(user.id).await,
        Err(StoreError::NotFound)
    ));
    // The email is free again.
    store.add_user("mixed@case.io", "$2b$04$h").await.unwrap();
}

#[tokio::test]
async fn sessions_cap_touch_list_and_delete() {
    let (auth, _dir) = support::auth(support::seed_config());
    let store = auth.store();
    let user = store.add_user("s@s.io", "$2b$04$h").await.unwrap();
    // Whole seconds: the store keeps milliseconds.
    let secs = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(secs);
    let tokens: Vec<SessionToken> = (0..4).map(|_| SessionToken::generate()).collect();
    for (i, t) in tokens.iter().enumerate() {
        let created = t0 + Duration::from_secs(i as u64);
        store
            .insert_session(t.digest(), session(user.id, created, 600), Some(3))
            .await
            .unwrap();
    }
    assert!(
        store.session(tokens[0].digest()).await.unwrap().is_none(),
        "the oldest was evicted"
    );
    let listed = store.sessions_of(user.id).await.unwrap();
    assert_eq!(
        listed.iter().map(|(d, _)| *d).collect::<Vec<_>>(),
        tokens[1..]
            .iter()
            .map(SessionToken::digest)
            .collect::<Vec<_>>()
    );
    store
        .touch_session(tokens[1].digest(), t0 + Duration::from_secs(100))
        .await
        .unwrap();
    let (rec, _) = store.session(tokens[1].digest()).await.unwrap().unwrap();
    assert_eq!(rec.last_seen, t0 + Duration::from_secs(100));
    assert!(store.delete_session(tokens[1].digest()).await.unwrap());
    assert!(!store.delete_session(tokens[1].digest()).await.unwrap());
    assert_eq!(
        store
            .delete_sessions_of(user.id, EndSessions::AllExcept(tokens[3].digest()))
            .await
            .unwrap(),
        1
    );
    assert!(store.session(tokens[3].digest()).await.unwrap().is_some());
    assert!(matches!(
        store
            .insert_session(
                SessionToken::generate().digest(),
                session(UserId(77), t0, 1),
                None
            )
            .await,
        Err(StoreError::NotFound)
    ));
}

#[tokio::test]
async fn a_refused_reset_changes_nothing_and_a_good_one_is_one_transaction() {
    let (auth, _dir) = support::auth(support::seed_config());
    let store = auth.store();
    let alice = store.add_user("alice@x.io", "$2b$04$alice").await.unwrap();
    let bob = store.add_user("bob@x.io", "$2b$04$bob").await.unwrap();
    let now = SystemTime::now();
    let s = SessionToken::generate();
    store
        .insert_session(s.digest(), session(alice.id, now, 600), None)
        .await
        .unwrap();
    let first = ResetToken::generate();
    let rec = ResetRecord {
        user_id: alice.id,
        created: now,
        expires: now + Duration::from_secs(60),
    };
    store
        .replace_reset_token(first.digest(), rec, AccountVersion::of(&alice))
        .await
        .unwrap();
    let second = ResetToken::generate();
    store
        .replace_reset_token(second.digest(), rec, AccountVersion::of(&alice))
        .await
        .unwrap();
    assert!(
        store.reset_token(first.digest()).await.unwrap().is_none(),
        "only the newest lives"
    );

    let attempt = |token: &ResetToken, user: UserId, at: SystemTime| PasswordReset {
        token: token.digest(),
        user_id: user,
        now: at,
        hashed_password: "$2b$04$evil".into(),
        end_sessions: true,
    };
    for bad in [
        attempt(&first, alice.id, now),
        attempt(&second, bob.id, now),
        attempt(&second, alice.id, now + Duration::from_secs(61)),
        attempt(&ResetToken::generate(), alice.id, now),
    ] {
        assert!(matches!(
            store.reset_password(bad).await,
            Err(StoreError::NotFound)
        ));
    }
    let alice_now = store.find_user_by(UserQuery::Id(alice.id)).await.unwrap();
    assert_eq!(alice_now.hashed_password, "$2b$04$alice");
    assert!(store.reset_token(second.digest()).await.unwrap().is_some());
    assert!(store.session(s.digest()).await.unwrap().is_some());

    let done = store
        .reset_password(attempt(&second, alice.id, now))
        .await
        .unwrap();
    assert_eq!(done.hashed_password, "$2b$04$evil");
    assert!(
        store.reset_token(second.digest()).await.unwrap().is_none(),
        "used once"
    );
    assert!(
        store.session(s.digest()).await.unwrap().is_none(),
        "sessions ended with it"
    );
    assert!(matches!(
        store.reset_password(attempt(&second, alice.id, now)).await,
        Err(StoreError::NotFound)
    ));
}

#[tokio::test]
async fn purge_removes_only_expired_records() {
    let (auth, _dir) = support::auth(support::seed_config());
    let store = auth.store();
    let user = store.add_user("p@p.io", "$2b$04$h").await.unwrap();
    let now = SystemTime::now();
    let (old, idle, live) = (
        SessionToken::generate(),
        SessionToken::generate(),
        SessionToken::generate(),
    );
    store
        .insert_session(
            old.digest(),
            session(user.id, now - Duration::from_secs(100), 50),
            None,
        )
        .await
        .unwrap();
    let mut idle_rec = session(user.id, now - Duration::from_secs(100), 1000);
    idle_rec.last_seen = now - Duration::from_secs(90);
    store
        .insert_session(idle.digest(), idle_rec, None)
        .await
        .unwrap();
    store
        .insert_session(live.digest(), session(user.id, now, 1000), None)
        .await
        .unwrap();
    let dead_token = ResetToken::generate();
    let r = ResetRecord {
        user_id: user.id,
        created: now - Duration::from_secs(100),
        expires: now - Duration::from_secs(1),
    };
    store
        .replace_reset_token(dead_token.digest(), r, AccountVersion::of(&user))
        .await
        .unwrap();

    let purged = store
        .purge_expired(now, now - Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!((purged.sessions, purged.reset_tokens), (2, 1));
    assert!(store.session(live.digest()).await.unwrap().is_some());
    assert!(store.session(old.digest()).await.unwrap().is_none());
    assert!(store.session(idle.digest()).await.unwrap().is_none());
    assert_eq!(store.counts().unwrap(), (1, 1, 0));
    let again = store
        .purge_expired(now, now - Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!((again.sessions, again.reset_tokens), (0, 0));
}

#[tokio::test]
async fn a_file_of_another_schema_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("future.redb");
    {
        let db = redb::Database::create(&path).unwrap();
        let txn = db.begin_write().unwrap();
        {
            let def: redb::TableDefinition<'_, &str, u64> = redb::TableDefinition::new("meta");
            txn.open_table(def)
                .unwrap()
                .insert("schema_version", 999)
                .unwrap();
        }
        txn.commit().unwrap();
    }
    match RedbStore::open(&path) {
        Err(
            e @ StoreError::SchemaVersion {
                found: 999,
                expected: CURRENT_VERSION,
            },
        ) => {
            assert!(e.to_string().contains("schema version 999"), "{e}");
        }
        other => panic!("expected a schema version error, got {other:?}"),
    }
}

#[tokio::test]
async fn unopenable_files_are_errors_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    assert!(RedbStore::open(dir.path().join("missing/dir/auth.redb")).is_err());
    let garbage = dir.path().join("garbage.redb");
    std::fs::write(&garbage, vec![0x42; 8192]).unwrap();
    assert!(RedbStore::open(&garbage).is_err());
    let path = dir.path().join("twice.redb");
    let first = RedbStore::open(&path).unwrap();
    assert!(
        RedbStore::open(&path).is_err(),
        "redb refuses a second open of one file"
    );
    drop(first);
    assert!(RedbStore::open(&path).is_ok());
}

#[tokio::test]
async fn in_memory_store_works() {
    let store = RedbStore::in_memory().unwrap();
    let auth = Auth::new(store, support::seed_config()).expect("valid configuration");
    auth.register_user("m@m.io", "pw").await.unwrap();
    assert!(auth.valid_login("m@m.io", "pw").await.unwrap());
}

#[tokio::test]
async fn auth_errors_of_the_seed_api() {
    let (auth, _dir) = support::auth(support::seed_config());
    auth.register_user("e@e.io", "pw").await.unwrap();
    assert!(
        matches!(auth.register_user("E@E.IO", "pw").await, Err(AuthError::EmailTaken(e)) if e == "E@E.IO")
    );
    assert!(!auth.valid_login("e@e.io", "nope").await.unwrap());
    assert!(!auth.valid_login("ghost@e.io", "pw").await.unwrap());
    assert!(auth.create_session("ghost@e.io").await.unwrap().is_none());
    for sid in [
        None,
        Some(""),
        Some("garbage"),
        Some("00000000-0000-4000-8000-000000000000"),
    ] {
        assert!(auth.get_user_from_session_id(sid).await.unwrap().is_none());
    }
    assert!(matches!(
        auth.get_reset_password_token("ghost@e.io").await,
        Err(AuthError::UnknownEmail)
    ));
    assert!(matches!(
        auth.update_password("not-a-token", "pw").await,
        Err(AuthError::InvalidToken)
    ));
    assert!(matches!(
        auth.update_password(ResetToken::generate().expose(), "pw")
            .await,
        Err(AuthError::InvalidToken)
    ));
    for (pw, err) in [
        ("", PasswordError::Empty),
        ("a\0b", PasswordError::ContainsNul),
    ] {
        assert!(
            matches!(auth.register_user("p@e.io", pw).await, Err(AuthError::InvalidPassword(e)) if e == err)
        );
    }
    assert!(matches!(
        auth.register_user("p@e.io", &"x".repeat(73)).await,
        Err(AuthError::InvalidPassword(PasswordError::TooLong {
            bytes: 73
        }))
    ));
    assert!(matches!(
        auth.register_user("not an email", "pw").await,
        Err(AuthError::InvalidEmail(_))
    ));

    // destroy_session ends every session of the user.
    let s1 = auth.create_session("e@e.io").await.unwrap().unwrap();
    let s2 = auth.create_session("e@e.io").await.unwrap().unwrap();
    let user = auth
        .get_user_from_session_id(Some(s1.expose()))
        .await
        .unwrap()
        .unwrap();
    auth.destroy_session(user.id).await.unwrap();
    for s in [s1, s2] {
        assert!(
            auth.get_user_from_session_id(Some(s.expose()))
                .await
                .unwrap()
                .is_none()
        );
    }
    // A token works once, and only the newest works.
    let old = auth.get_reset_password_token("e@e.io").await.unwrap();
    let new = auth.get_reset_password_token("e@e.io").await.unwrap();
    assert!(matches!(
        auth.update_password(old.expose(), "pw2").await,
        Err(AuthError::InvalidToken)
    ));
    auth.update_password(new.expose(), "pw2").await.unwrap();
    assert!(matches!(
        auth.update_password(new.expose(), "pw3").await,
        Err(AuthError::InvalidToken)
    ));
    assert!(auth.valid_login("e@e.io", "pw2").await.unwrap());
}

#[tokio::test]
async fn clones_share_one_state() {
    let (auth, _dir) = support::auth(support::seed_config());
    let clone = auth.clone();
    auth.register_user("c@c.io", "pw").await.unwrap();
    let token = clone.create_session("c@c.io").await.unwrap().unwrap();
    assert!(
        auth.get_user_from_session_id(Some(token.expose()))
            .await
            .unwrap()
            .is_some()
    );
    let shared = Arc::new(clone);
    assert!(shared.log_out(&token, None).await.unwrap());
    assert!(
        auth.get_user_from_session_id(Some(token.expose()))
            .await
            .unwrap()
            .is_none()
    );
}

/// The credential contract of every store: a new hash is a compare-and-set against the
/// generation, advances it, revokes the reset token, and ends or moves the sessions, in one
/// transaction; a session is inserted only at the current generation; the re-hash is a
/// compare-and-set against the hash and keeps the generation; an email change revokes the
/// reset token.
#[tokio::test]
async fn credential_changes_are_compare_and_sets_that_advance_the_generation() {
    let store = RedbStore::in_memory().unwrap();
    let now = SystemTime::now();
    let user = store.add_user("g@example.com", "$2b$04$a").await.unwrap();
    assert_eq!(user.generation, 0);
    let (a, b, c) = (
        TokenDigest::of("a"),
        TokenDigest::of("b"),
        TokenDigest::of("c"),
    );
    for digest in [a, b] {
        store
            .insert_session(digest, session(user.id, now, 60), None)
            .await
            .unwrap();
    }
    // A reset token issued for the account as read at `generation` and `email`.
    let reset = |token: &str, generation: u64, email: &str| {
        let record = ResetRecord {
            user_id: user.id,
            created: now,
            expires: now + Duration::from_secs(60),
        };
        let read = AccountVersion {
            generation,
            email: email.to_owned(),
        };
        store.replace_reset_token(TokenDigest::of(token), record, read)
    };
    let token_stored = |name: &'static str| {
        let store = &store;
        async move {
            let stored = store.reset_token(TokenDigest::of(name)).await.unwrap();
            stored.is_some()
        }
    };
    reset("r1", 0, "g@example.com").await.unwrap();
    // A stale generation: nothing changes.
    let stale = UserUpdate::new()
        .hashed_password("$2b$04$b")
        .expected_generation(1);
    assert!(matches!(
        store.update_user(user.id, stale).await,
        Err(StoreError::Conflict)
    ));
    let found = store.find_user_by(UserQuery::Id(user.id)).await.unwrap();
    assert_eq!(
        (found.hashed_password.as_str(), found.generation),
        ("$2b$04$a", 0)
    );
    assert!(token_stored("r1").await);
    // The current one: the hash, the next generation, the token gone, `b` ended, `a` moved.
    let change = UserUpdate::new()
        .hashed_password("$2b$04$b")
        .end_sessions(EndSessions::AllExcept(a))
        .expected_generation(0);
    let changed = store.update_user(user.id, change).await.unwrap();
    assert_eq!(changed.generation, 1);
    assert_eq!(store.session(a).await.unwrap().unwrap().0.generation, 1);
    assert!(store.session(b).await.unwrap().is_none());
    assert!(!token_stored("r1").await);
    // A session of the old generation is refused; of the current one, stored.
    let old = session(user.id, now, 60);
    assert!(matches!(
        store.insert_session(c, old, None).await,
        Err(StoreError::Conflict)
    ));
    let current = SessionRecord {
        generation: 1,
        ..old
    };
    store.insert_session(c, current, None).await.unwrap();
    // The re-hash: against the hash verified, keeping the generation.
    let rehash =
        |old: &str, new: &str| store.rehash_password(user.id, old.to_owned(), new.to_owned());
    assert!(!rehash("$2b$04$a", "$2b$05$a").await.unwrap());
    assert!(rehash("$2b$04$b", "$2b$05$b").await.unwrap());
    let found = store.find_user_by(UserQuery::Id(user.id)).await.unwrap();
    assert_eq!(
        (found.hashed_password.as_str(), found.generation),
        ("$2b$05$b", 1)
    );
    // A reset that keeps sessions moves them all to the next generation, ids kept.
    // A token issued for the account as it was before the change is refused.
    assert!(matches!(
        reset("r2", 0, "g@example.com").await,
        Err(StoreError::Conflict)
    ));
    reset("r2", 1, "G@example.com").await.unwrap();
    let reset_user = store
        .reset_password(PasswordReset {
            token: TokenDigest::of("r2"),
            user_id: user.id,
            now,
            hashed_password: "$2b$04$c".into(),
            end_sessions: false,
        })
        .await
        .unwrap();
    assert_eq!(reset_user.generation, 2);
    let sessions = store.sessions_of(user.id).await.unwrap();
    let mut digests: Vec<_> = sessions.iter().map(|(d, _)| *d).collect();
    digests.sort_unstable_by_key(|d| d.0);
    let mut expected = vec![a, c];
    expected.sort_unstable_by_key(|d| d.0);
    assert_eq!(digests, expected);
    assert!(sessions.iter().all(|(_, s)| s.generation == 2));
    // An email change revokes the reset token and keeps the generation.
    reset("r3", 2, "g@example.com").await.unwrap();
    let moved = store
        .update_user(user.id, UserUpdate::new().email("h@example.com"))
        .await
        .unwrap();
    assert_eq!(moved.generation, 2);
    assert!(!token_stored("r3").await);
    // A token issued for the account as it was before the email change is refused.
    assert!(matches!(
        reset("r4", 2, "g@example.com").await,
        Err(StoreError::Conflict)
    ));
    assert!(!token_stored("r4").await);
}

/// Emails that are the same text once NFC-normalised (a precomposed "ë" and "e" followed by a
/// combining diaeresis) are one account: the second registration is refused, either form
/// finds and logs into the account, and answers echo the email as it was sent (trimmed).
#[tokio::test]
async fn emails_equal_after_nfc_normalisation_are_one_account() {
    let h = support::Harness::seed();
    let composed = "zo\u{eb}@example.com";
    let decomposed = "zoe\u{308}@example.com";
    let id = h.registered(composed, "pw").await;
    let res = h.register(decomposed, "pw").await;
    assert_eq!(res.status, 400, "{}", res.text());
    let res = h.login(&format!(" {decomposed} "), "pw").await;
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(res.json()["email"], decomposed);
    for email in [decomposed, "ZOE\u{308}@EXAMPLE.COM", composed] {
        let found = h.store.find_user_by(UserQuery::Email(email.into())).await;
        assert_eq!(found.unwrap().id, id, "{email:?}");
    }
    assert!(matches!(
        h.store.add_user("Zoe\u{308}@example.com", "$2b$04$x").await,
        Err(StoreError::EmailTaken)
    ));
    // The stored email is the one registered, as sent.
    assert_eq!(h.user(decomposed).await.email, composed);
}

// ---------------------------------------------------------------------------------------------
// Schema migration, on a file written by schema version 1 (see tests/fixtures/README.md).

/// The time the fixture was written at (2026-01-01T00:00:00Z), plus two minutes.
fn fixture_now() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_225_600 + 120)
}

/// The fixture's accounts and their passwords.
const FIXTURE_USERS: [(&str, &str); 3] = [
    ("alice@example.com", "alice-password-1"),
    ("Bob@Example.com", "bob-password-2"),
    ("carol@example.com", "carol-password-3"),
];
/// The fixture's live sessions and their owners.
const FIXTURE_SESSIONS: [(&str, &str); 3] = [
    ("83b2d8e9-7dbd-4e75-9831-88dab19f23d0", "alice@example.com"),
    ("7b015318-dad9-4f88-8ef9-36dbfb7a7b17", "Bob@Example.com"),
    ("c66dd8ff-78f9-4360-a5cc-c4defa35f757", "carol@example.com"),
];
/// Bob's second session, logged out before the file was written.
const FIXTURE_LOGGED_OUT: &str = "205093c3-9649-4bca-98e1-2af5eefb18e2";
/// Carol's reset token.
const FIXTURE_RESET: &str = "8d8bdc97-748d-4767-80b9-e502cfe8ed64";

/// The schema version this build writes.
const CURRENT_VERSION: u64 = 3;

const META: redb::TableDefinition<'_, &str, u64> = redb::TableDefinition::new("meta");
/// The `users` table as schema version 1 defined it.
const V1_USERS: redb::TableDefinition<'_, u64, (&str, &str, u64)> =
    redb::TableDefinition::new("users");

/// A copy of the version-1 fixture in a temp dir.
fn v1_fixture() -> (tempfile::TempDir, std::path::PathBuf) {
    fixture_copy("v1.redb")
}

/// A copy of `tests/fixtures/NAME` in a temp dir.
fn fixture_copy(name: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("auth.redb");
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    std::fs::copy(fixtures.join(name), &path).unwrap();
    (dir, path)
}

/// The schema version a (closed) file records, and the names of its tables.
fn version_and_tables(path: &std::path::Path) -> (Option<u64>, Vec<String>) {
    use redb::{ReadableDatabase, TableHandle};
    let db = redb::Database::open(path).unwrap();
    let txn = db.begin_read().unwrap();
    let version = txn
        .open_table(META)
        .unwrap()
        .get("schema_version")
        .unwrap()
        .map(|v| v.value());
    let mut tables: Vec<String> = txn
        .list_tables()
        .unwrap()
        .map(|t| t.name().to_owned())
        .collect();
    tables.sort();
    (version, tables)
}

/// `tables` with the (non-multimap) device-token tables that version 3 adds, empty, sorted.
fn with_device_tables(mut tables: Vec<String>) -> Vec<String> {
    tables.extend(["device_tokens".into(), "device_tokens_by_expiry".into()]);
    tables.sort();
    tables
}

/// An `Auth` (seed profile) on `path` with the clock at the fixture's time.
fn fixture_auth(path: &std::path::Path) -> Auth {
    let clock = tower_user_auth::ManualClock::new(fixture_now());
    Auth::with_clock(
        RedbStore::open(path).unwrap(),
        support::seed_config(),
        clock,
    )
    .expect("valid configuration")
}

#[tokio::test]
async fn a_version_1_file_is_migrated_in_place() {
    let (_dir, path) = v1_fixture();
    let (version, v1_tables) = version_and_tables(&path);
    assert_eq!(version, Some(1));
    {
        let auth = fixture_auth(&path);
        assert_eq!(auth.store().counts().unwrap(), (3, 3, 1));
        for (email, password) in FIXTURE_USERS {
            assert!(auth.valid_login(email, password).await.unwrap(), "{email}");
            assert!(!auth.valid_login(email, "wrong").await.unwrap(), "{email}");
        }
        for (token, email) in FIXTURE_SESSIONS {
            let user = auth.get_user_from_session_id(Some(token)).await.unwrap();
            assert_eq!(user.map(|u| u.email).as_deref(), Some(email), "{token}");
        }
        let gone = auth.get_user_from_session_id(Some(FIXTURE_LOGGED_OUT));
        assert!(gone.await.unwrap().is_none());
        // Ids and the id counter survive: a new account gets the next id.
        let dave = auth.register_user("dave@example.com", "pw").await.unwrap();
        assert_eq!(dave.id, UserId(4));
        let carol = auth
            .update_password(FIXTURE_RESET, "carol-new")
            .await
            .unwrap();
        assert_eq!(carol.id, UserId(3));
        assert!(
            auth.valid_login("carol@example.com", "carol-new")
                .await
                .unwrap()
        );
        assert!(auth.update_password(FIXTURE_RESET, "again").await.is_err());
    }
    // The file now records the new version, with the same tables plus version 3's device-token
    // tables (no leftovers), and its tables no longer open with version 1's types.
    let v1_tables = with_device_tables(v1_tables);
    let (version, tables) = version_and_tables(&path);
    assert_eq!(version, Some(CURRENT_VERSION));
    assert_eq!(tables, v1_tables);
    {
        let db = redb::Database::open(&path).unwrap();
        let txn = redb::ReadableDatabase::begin_read(&db).unwrap();
        assert!(txn.open_table(V1_USERS).is_err());
    }
    // Opening the migrated file again changes nothing.
    let auth = fixture_auth(&path);
    assert_eq!(auth.store().counts().unwrap(), (4, 3, 0));
    assert!(
        auth.valid_login("carol@example.com", "carol-new")
            .await
            .unwrap()
    );
    assert!(
        auth.valid_login("BOB@example.com", "bob-password-2")
            .await
            .unwrap()
    );
    let alice = auth.get_user_from_session_id(Some(FIXTURE_SESSIONS[0].0));
    assert_eq!(alice.await.unwrap().map(|u| u.id), Some(UserId(1)));
    drop(auth);
    assert_eq!(
        version_and_tables(&path),
        (Some(CURRENT_VERSION), v1_tables)
    );
}

#[tokio::test]
async fn migrated_records_keep_their_times_and_indexes() {
    let (_dir, path) = v1_fixture();
    let store = RedbStore::open(&path).unwrap();
    let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_225_600);
    let bob = store
        .find_user_by(UserQuery::Email("bob@example.com".into()))
        .await
        .unwrap();
    let sessions = store.sessions_of(bob.id).await.unwrap();
    assert_eq!(sessions.len(), 1);
    let (digest, record) = sessions[0];
    assert_eq!(
        digest,
        SessionToken::parse(FIXTURE_SESSIONS[1].0).unwrap().digest()
    );
    assert_eq!(record.user_id, bob.id);
    assert_eq!(record.created, t0 + Duration::from_secs(60));
    assert_eq!(
        record.expires,
        record.created + Duration::from_secs(30 * 24 * 3600)
    );
    let reset = ResetToken::parse(FIXTURE_RESET).unwrap().digest();
    let reset = store.reset_token(reset).await.unwrap().unwrap();
    assert_eq!(reset.expires, t0 + Duration::from_secs(60 + 3600));
    // The time indexes were carried over: purging at the right moments finds each record.
    let just_before = reset.expires - Duration::from_millis(1);
    let purged = store.purge_expired(just_before, t0).await.unwrap();
    assert_eq!((purged.sessions, purged.reset_tokens), (0, 0));
    let purged = store.purge_expired(reset.expires, t0).await.unwrap();
    assert_eq!((purged.sessions, purged.reset_tokens), (0, 1));
    // Idle since before t0 + 61 s: all three live sessions (last seen at t0 or t0 + 60 s).
    let idle_before = t0 + Duration::from_secs(61);
    let purged = store.purge_expired(t0, idle_before).await.unwrap();
    assert_eq!((purged.sessions, purged.reset_tokens), (3, 0));
    assert_eq!(store.counts().unwrap(), (3, 0, 0));
}

#[tokio::test]
async fn a_failed_migration_leaves_the_file_as_it_was() {
    let (_dir, path) = v1_fixture();
    // Damage the last table the migration rewrites: it no longer opens with version 1's type,
    // so the migration fails after rewriting the others, inside its one transaction.
    let broken: redb::TableDefinition<'_, &str, &str> =
        redb::TableDefinition::new("reset_tokens_by_expiry");
    let v1_expiry: redb::TableDefinition<'_, (u64, [u8; 32]), ()> =
        redb::TableDefinition::new("reset_tokens_by_expiry");
    let saved: Vec<(u64, [u8; 32])> = {
        let db = redb::Database::open(&path).unwrap();
        let txn = db.begin_write().unwrap();
        let saved = {
            use redb::ReadableTable;
            let table = txn.open_table(v1_expiry).unwrap();
            table
                .iter()
                .unwrap()
                .map(|e| e.unwrap().0.value())
                .collect()
        };
        txn.delete_table(v1_expiry).unwrap();
        txn.open_table(broken).unwrap().insert("x", "y").unwrap();
        txn.commit().unwrap();
        saved
    };
    let (_, tables_before) = version_and_tables(&path);
    assert!(matches!(
        RedbStore::open(&path),
        Err(StoreError::Backend(_))
    ));
    // Nothing of the migration landed: still version 1, version 1's types, no temporary tables.
    assert_eq!(version_and_tables(&path), (Some(1), tables_before));
    {
        let db = redb::Database::open(&path).unwrap();
        let txn = db.begin_write().unwrap();
        assert_eq!(
            redb::ReadableTableMetadata::len(&txn.open_table(V1_USERS).unwrap()).unwrap(),
            3
        );
        // Repair the table; the next open migrates the whole file.
        txn.delete_table(broken).unwrap();
        let mut table = txn.open_table(v1_expiry).unwrap();
        for key in saved {
            table.insert(key, ()).unwrap();
        }
        drop(table);
        txn.commit().unwrap();
    }
    let auth = fixture_auth(&path);
    assert_eq!(auth.store().counts().unwrap(), (3, 3, 1));
    auth.update_password(FIXTURE_RESET, "carol-new")
        .await
        .unwrap();
    drop(auth);
    assert_eq!(version_and_tables(&path).0, Some(CURRENT_VERSION));
}

#[tokio::test]
async fn a_version_1_file_claiming_a_future_version_is_refused_untouched() {
    let (_dir, path) = v1_fixture();
    {
        let db = redb::Database::open(&path).unwrap();
        let txn = db.begin_write().unwrap();
        txn.open_table(META)
            .unwrap()
            .insert("schema_version", CURRENT_VERSION + 1)
            .unwrap();
        txn.commit().unwrap();
    }
    let before = version_and_tables(&path);
    match RedbStore::open(&path) {
        Err(StoreError::SchemaVersion { found, expected })
            if found == CURRENT_VERSION + 1 && expected == CURRENT_VERSION => {}
        other => panic!("expected a schema version error, got {other:?}"),
    }
    assert_eq!(version_and_tables(&path), before);
    let db = redb::Database::open(&path).unwrap();
    let txn = redb::ReadableDatabase::begin_read(&db).unwrap();
    let users = txn.open_table(V1_USERS).unwrap();
    assert_eq!(redb::ReadableTableMetadata::len(&users).unwrap(), 3);
}

// ---------------------------------------------------------------------------------------------
// Schema migration, on a file written by schema version 2 (see tests/fixtures/README.md).

/// Zoë's email in `v2.redb`: the diaeresis as a combining mark (NFD).
const V2_ZOE: &str = "zoe\u{308}@example.com";
/// The accounts of `v2.redb` and their passwords.
const V2_USERS: [(&str, &str); 4] = [
    ("alice@example.com", "alice-password-1"),
    ("Bob@Example.com", "bob-password-2"),
    ("carol@example.com", "carol-password-3"),
    (V2_ZOE, "zoe-password-4"),
];
/// The live sessions of `v2.redb` and their owners.
const V2_SESSIONS: [(&str, &str); 4] = [
    ("91b91c69-2588-453c-ae76-7b93bef121aa", "alice@example.com"),
    ("d0f1f14d-ebe4-4e8e-82a0-36597500986d", "Bob@Example.com"),
    ("9c01fc2b-70be-4674-af33-0f8d86af20b1", "carol@example.com"),
    ("c995fd4b-625a-469e-a29b-905e88cba1df", V2_ZOE),
];
/// Bob's second session in `v2.redb`, logged out before the file was written.
const V2_LOGGED_OUT: &str = "89ef9ac9-d79b-4bbd-9227-a207b0153185";
/// Carol's reset token in `v2.redb`.
const V2_RESET: &str = "c53016fd-a5bb-4a8f-9f3d-4a8e7c3f12ff";

/// Every live session of `v2.redb` is valid, for its owner.
async fn v2_sessions_are_valid(auth: &Auth) {
    for (token, email) in V2_SESSIONS {
        let user = auth.get_user_from_session_id(Some(token)).await.unwrap();
        assert_eq!(user.map(|u| u.email).as_deref(), Some(email), "{token}");
    }
    let gone = auth.get_user_from_session_id(Some(V2_LOGGED_OUT));
    assert!(gone.await.unwrap().is_none());
}

#[tokio::test]
async fn a_version_2_file_is_migrated_in_place() {
    let (_dir, path) = fixture_copy("v2.redb");
    let (version, v2_tables) = version_and_tables(&path);
    assert_eq!(version, Some(2));
    {
        let auth = fixture_auth(&path);
        assert_eq!(auth.store().counts().unwrap(), (4, 4, 1));
        // Every session stays valid: accounts and sessions start at generation 0.
        v2_sessions_are_valid(&auth).await;
        for (email, password) in V2_USERS {
            assert!(auth.valid_login(email, password).await.unwrap(), "{email}");
            assert!(!auth.valid_login(email, "wrong").await.unwrap(), "{email}");
        }
        // The email index was rebuilt with NFC keys: the composed form finds Zoë's account.
        let composed = "Zo\u{eb}@example.com";
        assert!(auth.valid_login(composed, "zoe-password-4").await.unwrap());
        assert!(matches!(
            auth.register_user(composed, "pw").await,
            Err(AuthError::EmailTaken(_))
        ));
        let dave = auth.register_user("dave@example.com", "pw").await.unwrap();
        assert_eq!(dave.id, UserId(5));
        // The reset token works once; the seed profile keeps Carol's session across it.
        let carol = auth.update_password(V2_RESET, "carol-new").await.unwrap();
        assert_eq!((carol.id, carol.generation), (UserId(3), 1));
        assert!(
            auth.valid_login("carol@example.com", "carol-new")
                .await
                .unwrap()
        );
        assert!(auth.update_password(V2_RESET, "again").await.is_err());
        v2_sessions_are_valid(&auth).await;
    }
    let v2_tables = with_device_tables(v2_tables);
    let (version, tables) = version_and_tables(&path);
    assert_eq!(version, Some(CURRENT_VERSION));
    assert_eq!(tables, v2_tables);
    // Opening the migrated file again changes nothing.
    let auth = fixture_auth(&path);
    assert_eq!(auth.store().counts().unwrap(), (5, 4, 0));
    v2_sessions_are_valid(&auth).await;
    drop(auth);
    assert_eq!(
        version_and_tables(&path),
        (Some(CURRENT_VERSION), v2_tables)
    );
}

/// A device token record for `user`, issued `age_secs` before `now`, living 90 days.
fn device(user: UserId, now: SystemTime, age_secs: u64) -> DeviceRecord {
    let created = now - Duration::from_secs(age_secs);
    DeviceRecord {
        user_id: user,
        created,
        expires: created + DEVICE_TOKEN_LIFETIME,
        failures: 0,
    }
}

/// Device tokens (`Store` contract): at most `max_per_user` per account, the oldest evicted in
/// the inserting transaction; failures counted per token for its own account only, the
/// token removed when a failure finds it at the limit, reset by a success; a password change
/// keeps them; deleting the user removes them; the purge removes expired ones.
#[tokio::test]
async fn device_tokens_cap_count_failures_and_go_with_their_user() {
    let (auth, _dir) = support::auth(support::seed_config());
    let store = auth.store();
    let alice = store.add_user("alice@d.io", "$2b$04$h").await.unwrap();
    let bob = store.add_user("bob@d.io", "$2b$04$h").await.unwrap();
    let now = SystemTime::now();
    let tokens: Vec<DeviceToken> = (0..12).map(|_| DeviceToken::generate()).collect();
    for (i, t) in tokens.iter().enumerate() {
        let age = 1000 - u64::try_from(i).unwrap();
        store
            .insert_device_token(t.digest(), device(alice.id, now, age), 10)
            .await
            .unwrap();
    }
    // The two oldest were dropped, the ten newest kept.
    for (i, t) in tokens.iter().enumerate() {
        let kept = store.device_token(t.digest()).await.unwrap().is_some();
        assert_eq!(kept, i >= 2, "token {i}");
    }
    let unknown = store
        .insert_device_token(
            DeviceToken::generate().digest(),
            device(UserId(99), now, 0),
            10,
        )
        .await;
    assert!(matches!(unknown, Err(StoreError::NotFound)), "{unknown:?}");

    // Failures: counted for the token's account only; at the limit the next one revokes.
    let t = tokens[5].digest();
    assert_eq!(
        store.record_device_failure(t, bob.id, 5).await.unwrap(),
        None
    );
    for n in 1..=3 {
        let counted = store.record_device_failure(t, alice.id, 5).await.unwrap();
        assert_eq!(counted, Some(n));
    }
    assert!(store.reset_device_failures(t).await.unwrap());
    assert_eq!(store.device_token(t).await.unwrap().unwrap().failures, 0);
    for n in 1..=5 {
        let counted = store.record_device_failure(t, alice.id, 5).await.unwrap();
        assert_eq!(counted, Some(n));
    }
    assert_eq!(
        store.record_device_failure(t, alice.id, 5).await.unwrap(),
        None
    );
    assert!(store.device_token(t).await.unwrap().is_none());
    assert!(!store.reset_device_failures(t).await.unwrap());

    // A password change keeps them (they prove a device, not the password).
    let update = UserUpdate::new().hashed_password("$2b$04$other");
    store.update_user(alice.id, update).await.unwrap();
    assert!(
        store
            .device_token(tokens[6].digest())
            .await
            .unwrap()
            .is_some()
    );

    // The purge removes the expired ones only.
    let old = DeviceToken::generate();
    store
        .insert_device_token(old.digest(), device(bob.id, now, 91 * 24 * 3600), 10)
        .await
        .unwrap();
    let fresh = DeviceToken::generate();
    store
        .insert_device_token(fresh.digest(), device(bob.id, now, 0), 10)
        .await
        .unwrap();
    let purged = store.purge_expired(now, now).await.unwrap();
    assert_eq!(purged.device_tokens, 1);
    assert!(store.device_token(old.digest()).await.unwrap().is_none());
    assert!(store.device_token(fresh.digest()).await.unwrap().is_some());

    // Deleting a user removes its device tokens in the same transaction.
    store.delete_user(alice.id).await.unwrap();
    for t in &tokens {
        assert!(store.device_token(t.digest()).await.unwrap().is_none());
    }
    assert_eq!(store.delete_device_tokens_of(bob.id).await.unwrap(), 1);
    assert!(store.device_token(fresh.digest()).await.unwrap().is_none());
}
