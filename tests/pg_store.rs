//! What is PostgreSQL's own in `PgStore` (feature `postgres`), on a real server (see
//! `tests/support/postgres.rs`): migrations applied once by instances starting together, a
//! newer schema refused, tokens only as digests, lost connections and a database outage as
//! errors (500 with a JSON body) with recovery by itself. What every store must do is the
//! conformance suite's, `tests/conformance/`.
#![cfg(feature = "postgres")]

mod support;

use std::time::{Duration, Instant};

use futures_util::future::join_all;
use http::{Method, StatusCode};
use support::{Body, assert_error, call, cookie_header, request_from};
use tower_user_auth::{
    Auth, StoreError,
    compat::SeedApi,
    store::{PgStore, Store, UserQuery},
};

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
    assert_eq!(versions, [1]);
    assert_eq!(PgStore::schema_version(), 1);
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
                expected: 1,
            },
        ) => {
            let message = e.to_string();
            assert!(message.contains("schema version 999"), "{message}");
            assert!(message.contains("reads version 1"), "{message}");
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

/// The server ends every connection of the store (`pg_terminate_backend`): calls answer or
/// fail with a `StoreError`, never a panic, and the pool replaces the connections by itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminated_connections_are_errors_then_replaced() {
    let Some(db) = support::postgres::database().await else {
        return;
    };
    let store = db.store().await;
    let user = store.add_user("t@x.io", "$2b$04$h").await.unwrap();
    // Several connections in the pool.
    join_all((0..8).map(|_| store.find_user_by(UserQuery::Id(user.id)))).await;
    let client = db.client().await;
    let ended: i64 = client
        .query_one(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(ended >= 1, "the store's connections were ended");
    let since = Instant::now();
    let mut answered = 0;
    while answered < 20 {
        match store.find_user_by(UserQuery::Id(user.id)).await {
            Ok(found) => {
                assert_eq!(found.id, user.id);
                answered += 1;
            }
            Err(StoreError::Backend(_)) => {
                assert!(
                    since.elapsed() < Duration::from_secs(2),
                    "not recovered in 2 s"
                );
            }
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
}

/// A database outage: while the server is down the layer answers 500 with a JSON body (not a
/// hang, not a dropped connection); once it is back, the same store serves again within 2 s,
/// with no restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_answers_500_json_and_the_store_recovers_within_2_s() {
    let Some(cluster) = support::postgres::own_cluster() else {
        return;
    };
    let store = PgStore::connect(&cluster.url()).await.expect("connect");
    let auth = Auth::new(store, support::seed_config()).expect("valid configuration");
    let svc = support::service(&auth);
    let send = |method: Method, path: &'static str, cookie: String, body: Body<'static>| {
        let svc = svc.clone();
        async move {
            let req = request_from("127.0.0.1", method, path, &cookie_header(&cookie), body);
            call(&svc, req).await
        }
    };
    const CREDS: &[(&str, &str)] = &[("email", "o@x.io"), ("password", "pw")];
    let a = send(Method::POST, "/users", String::new(), Body::Form(CREDS)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let login = send(Method::POST, "/sessions", String::new(), Body::Form(CREDS)).await;
    let cookie = format!("session_id={}", login.cookie("session_id").unwrap());
    let a = send(Method::GET, "/profile", cookie.clone(), Body::Empty).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);

    cluster.stop().expect("stop the cluster");
    for _ in 0..3 {
        let a = send(Method::GET, "/profile", cookie.clone(), Body::Empty).await;
        assert_error(&a, StatusCode::INTERNAL_SERVER_ERROR);
        let a = send(Method::POST, "/sessions", String::new(), Body::Form(CREDS)).await;
        assert_error(&a, StatusCode::INTERNAL_SERVER_ERROR);
    }

    cluster.start_again().expect("start the cluster again");
    let back = Instant::now();
    loop {
        let a = send(Method::GET, "/profile", cookie.clone(), Body::Empty).await;
        if a.status == StatusCode::OK {
            break;
        }
        assert_error(&a, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(
            back.elapsed() < Duration::from_secs(2),
            "not recovered 2 s after the database was back"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let login = send(Method::POST, "/sessions", String::new(), Body::Form(CREDS)).await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.body);
}

/// A URL that does not parse, and a server that is not there, are errors, soon.
#[tokio::test]
async fn bad_urls_and_absent_servers_are_errors() {
    let bad = PgStore::connect("postgres://[not a url").await;
    assert!(matches!(bad, Err(StoreError::Backend(_))), "{bad:?}");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let since = Instant::now();
    let absent = PgStore::connect(&format!("postgres://nobody@127.0.0.1:{port}/none")).await;
    assert!(matches!(absent, Err(StoreError::Backend(_))), "{absent:?}");
    assert!(since.elapsed() < Duration::from_secs(5));
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
            "reset_tokens_expires",
            "reset_tokens_pkey",
            "reset_tokens_user",
            "sessions_expires",
            "sessions_last_seen",
            "sessions_pkey",
            "sessions_user_created",
            "users_email_key",
            "users_pkey",
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
