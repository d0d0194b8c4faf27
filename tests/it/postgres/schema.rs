//! The schema on PostgreSQL: instances starting together migrate once, a newer schema is
//! refused unchanged, tokens (sessions, resets, confirmations) are stored only as digests,
//! every look-up uses an index and every index serves one.

use crate::support;
use futures_util::future::join_all;
use std::time::Duration;
use tower_user_auth::{
    Auth, StoreError,
    compat::SeedApi,
    store::{PgStore, UserQuery, prelude::*},
    token::TokenDigest,
};

use tower_user_auth::{BoxError, hook::Mail};

use super::instances;

/// Eight instances connecting at once to an empty database: all start, the migrations are
/// applied once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn instances_starting_together_migrate_once() {
    let Some(db) = support::postgres::database().await else {
        return;
    };
    let url = db.url().to_owned();
    let started = join_all((0..8).map(|_| {
        let url = url.clone();
        tokio::spawn(async move { PgStore::connect(&url).await })
    }))
    .await;
    for s in started {
        s.expect("no panic").expect("every instance starts");
    }
    let client = db.client().await;
    let versions: Vec<i64> = client
        .query("SELECT version FROM schema_version ORDER BY version", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(versions, [1, 2, 3, 4, 5]);
    assert_eq!(PgStore::schema_version(), 5);
}

/// A database migrated by a newer version of the crate is refused with both versions named,
/// and left as it was.
#[tokio::test]
async fn a_database_of_a_newer_version_is_refused_unchanged() {
    let Some(db) = support::postgres::database().await else {
        return;
    };
    let store = db.store().await;
    store.add_user("kept@x.io", "$2b$04$h").await.unwrap();
    let client = db.client().await;
    client
        .execute("INSERT INTO schema_version (version) VALUES (999)", &[])
        .await
        .unwrap();
    match PgStore::connect(db.url()).await {
        Err(
            e @ StoreError::SchemaVersion {
                found: 999,
                expected: 5,
            },
        ) => {
            let message = e.to_string();
            assert!(message.contains("schema version 999"), "{message}");
            assert!(message.contains("reads version 5"), "{message}");
        }
        other => panic!("expected a schema version error, got {other:?}"),
    }
    let found = store
        .find_user_by(UserQuery::Email("kept@x.io".into()))
        .await;
    assert!(found.is_ok(), "{found:?}");
}

/// Through `Auth`: the session, reset and device tokens it issues are nowhere in the
/// database; each is stored as its SHA-256 digest.
#[tokio::test]
async fn tokens_are_stored_only_as_digests() {
    let Some(db) = support::postgres::database().await else {
        return;
    };
    let auth = Auth::new(db.store().await, support::seed_config()).expect("valid configuration");
    let mut secrets = Vec::new();
    for i in 0..5 {
        let email = format!("user{i}@example.com");
        auth.register_user(&email, "pw").await.unwrap();
        let session = auth.create_session(&email).await.unwrap().unwrap();
        let reset = auth.get_reset_password_token(&email).await.unwrap();
        let stored = auth.store().session(session.digest()).await.unwrap();
        assert!(stored.is_some(), "stored under its digest");
        let stored = auth.store().reset_token(reset.digest()).await.unwrap();
        assert!(stored.is_some(), "stored under its digest");
        secrets.push(session.expose().to_owned());
        secrets.push(reset.expose().to_owned());
    }
    let client = db.client().await;
    let mut dump = String::new();
    for table in ["users", "sessions", "reset_tokens", "device_tokens"] {
        for row in client
            .query(&format!("SELECT t::text FROM {table} t"), &[])
            .await
            .unwrap()
        {
            dump.push_str(row.get(0));
            dump.push('\n');
        }
    }
    assert!(
        dump.contains("user3@example.com"),
        "the check sees stored text"
    );
    for secret in &secrets {
        let dashless: String = secret.chars().filter(|c| *c != '-').collect();
        assert!(
            !dump.contains(secret.as_str()),
            "a token is in the database"
        );
        assert!(!dump.contains(&dashless), "a token is in the database");
    }
    let digests: i64 = client
        .query_one(
            "SELECT count(*) FROM sessions WHERE length(digest) = 32",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(digests, 5);
}

/// The indexes are exactly those the schema documents, and every lookup the store makes is
/// answered by one (with sequential scans turned off, no plan falls back to one).
#[tokio::test]
async fn every_lookup_uses_an_index_and_every_index_serves_one() {
    let Some(db) = support::postgres::database().await else {
        return;
    };
    let _store = db.store().await;
    let client = db.client().await;
    let mut indexes: Vec<String> = client
        .query(
            "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()
             AND tablename <> 'schema_version' ORDER BY indexname",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    indexes.sort();
    assert_eq!(
        indexes,
        [
            "device_tokens_expires",
            "device_tokens_pkey",
            "device_tokens_user_created",
            "email_tokens_expires",
            "email_tokens_pkey",
            "email_tokens_user_kind",
            "reset_tokens_expires",
            "reset_tokens_pkey",
            "reset_tokens_user",
            "second_factors_pkey",
            "sessions_expires",
            "sessions_last_seen",
            "sessions_pkey",
            "sessions_user_created",
            "throttle_expires",
            "throttle_pkey",
            "users_email_key",
            "users_pkey",
            "users_unconfirmed_created",
        ]
    );
    client
        .batch_execute("SET enable_seqscan = off")
        .await
        .unwrap();
    let digest = "'\\x0000000000000000000000000000000000000000000000000000000000000000'::bytea";
    let lookups = [
        "SELECT * FROM users WHERE id = 1".to_owned(),
        "SELECT * FROM users WHERE email_key = 'a@b.io'".to_owned(),
        "SELECT * FROM users WHERE id > 5 ORDER BY id LIMIT 10".to_owned(),
        "DELETE FROM users WHERE NOT email_confirmed AND created <= now()".to_owned(),
        "UPDATE users SET contested = true WHERE email_key = 'a@b.io' AND NOT email_confirmed"
            .to_owned(),
        format!("SELECT * FROM sessions WHERE digest = {digest}"),
        "SELECT * FROM sessions WHERE user_id = 1 ORDER BY created, digest".to_owned(),
        "SELECT count(*) FROM sessions WHERE user_id = 1".to_owned(),
        "DELETE FROM sessions WHERE expires <= now() OR last_seen < now()".to_owned(),
        format!("SELECT * FROM reset_tokens WHERE digest = {digest}"),
        "DELETE FROM reset_tokens WHERE user_id = 1".to_owned(),
        "DELETE FROM reset_tokens WHERE expires <= now()".to_owned(),
        format!("SELECT * FROM device_tokens WHERE digest = {digest}"),
        "SELECT * FROM device_tokens WHERE user_id = 1 ORDER BY created, digest".to_owned(),
        "DELETE FROM device_tokens WHERE expires <= now()".to_owned(),
        format!("SELECT * FROM email_tokens WHERE digest = {digest}"),
        "DELETE FROM email_tokens WHERE user_id = 1 AND kind = 1".to_owned(),
        "DELETE FROM email_tokens WHERE user_id = 1".to_owned(),
        "DELETE FROM email_tokens WHERE expires <= now()".to_owned(),
        "SELECT * FROM second_factors WHERE user_id = 1".to_owned(),
        "SELECT * FROM throttle WHERE kind = 1 AND key = '\\x00'::bytea".to_owned(),
        "DELETE FROM throttle WHERE expires <= now()".to_owned(),
    ];
    for sql in lookups {
        let plan: Vec<String> = client
            .query(&format!("EXPLAIN {sql}"), &[])
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        let plan = plan.join("\n");
        assert!(!plan.contains("Seq Scan"), "{sql}:\n{plan}");
        assert!(plan.contains("Index"), "{sql}:\n{plan}");
    }
}

/// Through `Auth` with email confirmation on: the confirmation tokens it hands to the hook
/// are nowhere in the database (`email_tokens` holds their digests), each confirms its
/// account once, on either instance.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confirmation_tokens_are_stored_only_as_digests() {
    let Some(db) = crate::support::postgres::database().await else {
        return;
    };
    let (a, b) = instances(&db).await;
    let (sent, mut inbox) = tokio::sync::mpsc::unbounded_channel();
    let config = crate::support::seed_config()
        .with_email_confirmation(true)
        .with_mailer(move |to: &str, message: &Mail| {
            if let Mail::Confirmation(token) = message {
                let _ = sent.send((to.to_owned(), token.expose().to_owned()));
            }
            Ok::<(), BoxError>(())
        });
    let on_a = Auth::new(a, config.clone()).expect("valid configuration");
    let on_b = Auth::new(b.store().clone(), config).expect("valid configuration");
    for i in 0..4 {
        let user = on_a
            .register(&format!("c{i}@example.com"), "correct horse battery", None)
            .await
            .unwrap();
        assert!(!user.email_confirmed);
    }
    let mut tokens = Vec::new();
    for _ in 0..4 {
        let delivered = tokio::time::timeout(Duration::from_secs(2), inbox.recv()).await;
        tokens.push(delivered.expect("delivered within 2 s").expect("a token"));
    }
    let client = db.client().await;
    let mut dump = String::new();
    for row in client
        .query("SELECT t::text FROM email_tokens t", &[])
        .await
        .unwrap()
    {
        dump.push_str(row.get(0));
        dump.push('\n');
    }
    assert_eq!(dump.lines().count(), 4, "{dump}");
    for (_, token) in &tokens {
        let dashless: String = token.chars().filter(|c| *c != '-').collect();
        assert!(!dump.contains(token.as_str()), "a token is in the database");
        assert!(!dump.contains(&dashless), "a token is in the database");
        let hex: String = TokenDigest::of(token)
            .0
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert!(dump.contains(&hex), "stored under its digest");
    }
    for (n, (email, token)) in tokens.iter().enumerate() {
        let (first, second) = if n % 2 == 0 {
            (&on_a, &on_b)
        } else {
            (&on_b, &on_a)
        };
        let user = first.confirm_email(token, None, None).await.unwrap();
        assert_eq!(&user.email, email);
        assert!(user.email_confirmed);
        assert!(
            second.confirm_email(token, None, None).await.is_err(),
            "used once"
        );
    }
}
