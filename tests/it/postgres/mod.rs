//! What is PostgreSQL's own in `PgStore` (feature `postgres`), on a real server (see
//! `tests/support/postgres.rs`): migrations applied once by instances starting together, a
//! newer schema refused, tokens only as digests, lost connections and a database outage as
//! errors (500 with a JSON body) with recovery by itself; the session cache kept coherent
//! across instances (notifications, the bypass while they are lost). What every store must
//! do is the conformance suite's, `tests/conformance/`.
#![cfg(feature = "postgres")]

use crate::support;

mod accounts;
mod migration_v3;
mod multi_instance;

use std::{
    net::IpAddr,
    sync::Arc,
    time::{Duration, Instant, SystemTime},
};

use futures_util::future::join_all;
use http::{Method, StatusCode};
use support::{Body, assert_error, call, cookie_header, request_from};
use tokio::sync::Barrier;
use tower_user_auth::{
    Auth, AuthConfig, AuthError, ManualClock, StoreError, ThrottleConfig, UserId,
    auth::Login,
    compat::SeedApi,
    store::{
        AccountVersion, CachedSessions, EndSessions, PasswordReset, PgStore, ResetRecord,
        SessionEntry, SessionRecord, UserQuery, UserUpdate, prelude::*,
    },
    token::TokenDigest,
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

/// A session whose credential generation is not its user's (which no store operation leaves:
/// written here by SQL) is not answered: the look-up's statement refuses it, as the redb store
/// does by construction.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_behind_its_users_generation_is_not_answered() {
    let Some(db) = support::postgres::database().await else {
        return;
    };
    let store = db.store().await;
    let user = store.add_user("gen@example.com", "$2b$04$h").await.unwrap();
    let (kept, behind) = (TokenDigest::of("kept"), TokenDigest::of("behind"));
    for digest in [kept, behind] {
        store
            .insert_session(digest, live_session(user.id, 0), None)
            .await
            .unwrap();
    }
    let entry = store.session(kept).await.unwrap().expect("a live session");
    assert_eq!(entry.email, "gen@example.com");
    let client = db.client().await;
    let id = i64::try_from(user.id.0).unwrap();
    client
        .execute("UPDATE users SET generation = 1 WHERE id = $1", &[&id])
        .await
        .unwrap();
    assert!(store.session(behind).await.unwrap().is_none());
}

/// The server ends every connection of the store (`pg_terminate_backend`): calls answer or
/// fail with a `StoreError`, never a panic, and the pool replaces the connections by itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminated_connections_are_errors_then_replaced() {
    // Timings: no heavy load and no other measurement meanwhile.
    let _alone = crate::support::alone::measuring().await;
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
    // Timings: no heavy load and no other measurement meanwhile.
    let _alone = crate::support::alone::measuring().await;
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
    // Timings: no heavy load and no other measurement meanwhile.
    let _alone = crate::support::alone::measuring().await;
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

// The session cache across instances: two `PgStore`s (two pools, two notification
// connections) on one database stand for two app instances, A and B.

/// The application name of instance B's connections, so that they can be told apart (and
/// terminated) in `pg_stat_activity`.
const B_NAME: &str = "tua_instance_b";

/// Two instances on `db`: A, and B whose connections are named [`B_NAME`], with a session
/// cache in front of it (as `Auth` puts there).
async fn instances(
    db: &support::postgres::TestDatabase,
) -> (PgStore, std::sync::Arc<CachedSessions<PgStore>>) {
    let a = db.store().await;
    let mut url = url::Url::parse(db.url()).expect("a URL");
    url.query_pairs_mut()
        .append_pair("application_name", B_NAME);
    let b = PgStore::connect(url.as_str()).await.expect("connect B");
    (a, std::sync::Arc::new(CachedSessions::new(b)))
}

/// A session of `user` at generation `generation`, living an hour.
fn live_session(user: UserId, generation: u64) -> SessionRecord {
    let now = SystemTime::now();
    SessionRecord {
        user_id: user,
        created: now,
        last_seen: now,
        expires: now + Duration::from_secs(3600),
        generation,
    }
}

/// Reads `token` on `store` until its cache serves it (the first read fills the cache once
/// the notification connection vouches for it); fails after 2 s.
async fn cache(store: &CachedSessions<PgStore>, token: TokenDigest) {
    let since = Instant::now();
    loop {
        let found = store.session(token).await.expect("read the session");
        assert!(found.is_some(), "the session is stored");
        if store.is_cached(token) {
            return;
        }
        assert!(
            since.elapsed() < Duration::from_secs(2),
            "the session was not cached within 2 s"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Polls `store` until `refused(read)` holds, for at most 2 s: spinning for the first 5 ms,
/// then every millisecond. How long after `since` it held; `None` if it did not in 2 s.
async fn until<F>(
    store: &CachedSessions<PgStore>,
    token: TokenDigest,
    since: Instant,
    refused: F,
) -> Option<Duration>
where
    F: Fn(&Option<SessionEntry>) -> bool,
{
    loop {
        let found = store.session(token).await.expect("read the session");
        let elapsed = since.elapsed();
        if refused(&found) {
            return Some(elapsed);
        }
        if elapsed > Duration::from_secs(2) {
            return None;
        }
        if elapsed < Duration::from_millis(5) {
            tokio::task::yield_now().await;
        } else {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
}

/// The `q` quantile of sorted `delays`.
fn quantile(delays: &[Duration], q: f64) -> Duration {
    let last = delays.len().saturating_sub(1);
    // Nearest rank; the index is within 0..len.
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let at = ((last as f64) * q).round() as usize;
    delays[at.min(last)]
}

/// What ends a session on A, in the invalidation test.
#[derive(Clone, Copy, Debug)]
enum Ending {
    Logout,
    EndAllSessions,
    PasswordChange,
    Reset,
    DeleteUser,
}

/// A session cached on B is refused on B right after it is ended through A: by a logout,
/// ending all the user's sessions, a password change (which ends the others and moves the
/// changer's, whose new generation B must then see), a reset, deleting the user. 200 endings,
/// 40 of each; any single delay over 250 ms fails; the p50/p99 are printed as a `figure:`
/// line. The delay is measured from A's call returning to B's first refusal (B polled
/// spinning for 5 ms, then every millisecond).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_ended_through_a_is_refused_on_b_at_once() {
    // Timings: no heavy load and no other measurement meanwhile.
    let _alone = crate::support::alone::measuring().await;
    let Some(db) = support::postgres::database().await else {
        return;
    };
    let (a, b) = instances(&db).await;
    let kinds = [
        Ending::Logout,
        Ending::EndAllSessions,
        Ending::PasswordChange,
        Ending::Reset,
        Ending::DeleteUser,
    ];
    let mut delays = Vec::new();
    let mut by_kind: Vec<(Ending, Vec<Duration>)> =
        kinds.iter().map(|k| (*k, Vec::new())).collect();
    for round in 0..200 {
        let kind = kinds[round % kinds.len()];
        let user = a
            .add_user(&format!("i{round}@x.io"), "$2b$04$old")
            .await
            .unwrap();
        let ended = TokenDigest::of(&format!("ended-{round}"));
        let kept = TokenDigest::of(&format!("kept-{round}"));
        for token in [ended, kept] {
            a.insert_session(token, live_session(user.id, 0), None)
                .await
                .unwrap();
            cache(&b, token).await;
        }
        match kind {
            Ending::Logout => assert!(a.delete_session(ended).await.unwrap()),
            Ending::EndAllSessions => {
                let n = a
                    .delete_sessions_of(user.id, EndSessions::AllExcept(kept))
                    .await
                    .unwrap();
                assert_eq!(n, 1);
            }
            Ending::PasswordChange => {
                let update = UserUpdate::new()
                    .hashed_password("$2b$04$new")
                    .end_sessions(EndSessions::AllExcept(kept))
                    .expected_generation(0);
                a.update_user(user.id, update).await.unwrap();
            }
            Ending::Reset => {
                let reset = TokenDigest::of(&format!("reset-{round}"));
                let now = SystemTime::now();
                let record = ResetRecord {
                    user_id: user.id,
                    created: now,
                    expires: now + Duration::from_secs(60),
                    generation: user.generation,
                };
                a.replace_reset_token(reset, record, AccountVersion::of(&user))
                    .await
                    .unwrap();
                // Re-cache: the reset token's insert changes no session.
                cache(&b, ended).await;
                a.reset_password(PasswordReset {
                    token: reset,
                    user_id: user.id,
                    now,
                    hashed_password: "$2b$04$new".to_owned(),
                    end_sessions: true,
                    confirm_email: false,
                })
                .await
                .unwrap();
            }
            Ending::DeleteUser => a.delete_user(user.id).await.unwrap(),
        }
        let since = Instant::now();
        let delay = until(&b, ended, since, Option::is_none)
            .await
            .unwrap_or_else(|| panic!("{kind:?}: B still serves the ended session after 2 s"));
        assert!(
            delay <= Duration::from_millis(250),
            "{kind:?}: B served the ended session for {delay:?} (> 250 ms: a defect)"
        );
        if let Ending::PasswordChange = kind {
            // The changer's session was moved to generation 1: B must not keep the old one.
            let moved = until(&b, kept, since, |found| {
                found
                    .as_ref()
                    .is_some_and(|entry| entry.record.generation == 1)
            })
            .await
            .expect("B sees the kept session at the new generation");
            assert!(moved <= Duration::from_millis(250), "{moved:?}");
        }
        delays.push(delay);
        by_kind[round % kinds.len()].1.push(delay);
    }
    delays.sort();
    println!(
        "figure: invalidation delay p50={:?} p99={:?} max={:?} (n={}, A's call returned -> B refuses)",
        quantile(&delays, 0.5),
        quantile(&delays, 0.99),
        delays[delays.len() - 1],
        delays.len()
    );
    for (kind, mut d) in by_kind {
        d.sort();
        println!(
            "figure: invalidation delay {kind:?} p50={:?} p99={:?} (n={})",
            quantile(&d, 0.5),
            quantile(&d, 0.99),
            d.len()
        );
    }
}

/// Terminates every connection of instance B (its pool's and its notification connection);
/// with `wait`, returns once they are gone (`pg_terminate_backend(pid, 5000)`), otherwise at
/// once (the harshest order: A may commit before B's backends have even exited). How many
/// there were.
async fn terminate_b(admin: &tokio_postgres::Client, wait: bool) -> i64 {
    let sql = if wait {
        "SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity
         WHERE datname = current_database() AND application_name = $1"
    } else {
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
         WHERE datname = current_database() AND application_name = $1"
    };
    admin.query_one(sql, &[&B_NAME]).await.unwrap().get(0)
}

/// B loses its connections (`pg_terminate_backend`, its notification connection among them)
/// and a session it has cached is ended through A at once, while another is deleted behind
/// every store's back (plain SQL: never notified).
///
/// - Once B's connections are gone (the termination waited for), B never serves either:
///   it reads from the database until it has resubscribed, then starts from an empty cache.
/// - Terminated without waiting (A may commit before B's backends have exited, so before B
///   can know), B may still answer from its cache until it sees the loss; it refuses both
///   within 250 ms of the loss (the lease bounds it at 200 ms), and never serves them again
///   once it has refused them. The window is printed as a `figure:`.
/// - Either way B caches again within 2 s of the loss, and is coherent again.
///
/// Six rounds, alternating.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn b_never_serves_a_stale_session_when_its_notifications_are_lost() {
    // Timings: no heavy load and no other measurement meanwhile.
    let _alone = crate::support::alone::measuring().await;
    let Some(db) = support::postgres::database().await else {
        return;
    };
    let (a, b) = instances(&db).await;
    let admin = db.client().await;
    let user = a.add_user("lost@x.io", "$2b$04$h").await.unwrap();
    for round in 0..6 {
        let waited = round % 2 == 0;
        let ended = TokenDigest::of(&format!("ended-{round}"));
        let behind = TokenDigest::of(&format!("behind-{round}"));
        for token in [ended, behind] {
            a.insert_session(token, live_session(user.id, 0), None)
                .await
                .unwrap();
            cache(&b, token).await;
        }
        let terminated = terminate_b(&admin, waited).await;
        assert!(
            terminated >= 2,
            "B's pool and notification connections: {terminated}"
        );
        let lost = Instant::now();
        assert!(a.delete_session(ended).await.unwrap());
        admin
            .execute("DELETE FROM sessions WHERE digest = $1", &[&&behind.0[..]])
            .await
            .unwrap();
        // A session B has not seen yet, to tell when B caches again.
        let fresh = TokenDigest::of(&format!("fresh-{round}"));
        a.insert_session(fresh, live_session(user.id, 0), None)
            .await
            .unwrap();
        // Probed for 500 ms, and until B caches again (within 2 s).
        let mut refused: [Option<Duration>; 2] = [None, None];
        let mut served: [Option<Duration>; 2] = [None, None];
        let mut recovered: Option<Duration> = None;
        let mut reads = 0;
        while recovered.is_none() || lost.elapsed() < Duration::from_millis(500) {
            for (i, token) in [ended, behind].into_iter().enumerate() {
                let read = b.session(token).await;
                let at = lost.elapsed();
                match read {
                    // A failure while B's pool reconnects is no answer, not a refusal.
                    Err(StoreError::Backend(_)) => {}
                    Ok(None) => {
                        refused[i].get_or_insert(at);
                    }
                    Ok(Some(_)) => {
                        let which = ["the session ended through A", "the session deleted"][i];
                        assert!(
                            !waited,
                            "round {round}: B served {which} after its connections were gone \
                             ({at:?} after)"
                        );
                        assert!(
                            refused[i].is_none(),
                            "round {round}: B served {which} again, {at:?} after the loss, \
                             having refused it at {:?}",
                            refused[i]
                        );
                        assert!(
                            at <= Duration::from_millis(250),
                            "round {round}: B still served {which} {at:?} after the loss"
                        );
                        served[i] = Some(at);
                    }
                    Err(e) => panic!("unexpected {e:?}"),
                }
                reads += 1;
            }
            if recovered.is_none() {
                let _ = b.session(fresh).await;
                if b.is_cached(fresh) {
                    recovered = Some(lost.elapsed());
                }
            }
            assert!(
                recovered.is_some() || lost.elapsed() < Duration::from_secs(2),
                "round {round}: B does not cache again 2 s after losing its connections"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        assert!(reads > 0);
        assert!(
            refused.iter().all(Option::is_some),
            "round {round}: B never refused them"
        );
        println!(
            "figure: round {round} ({}): B served the ended/deleted sessions last at {:?}/{:?}, \
             first refused them at {:?}/{:?}, cached again at {:?} after the loss",
            if waited { "waited" } else { "not waited" },
            served[0],
            served[1],
            refused[0].unwrap_or_default(),
            refused[1].unwrap_or_default(),
            recovered.unwrap_or_default()
        );
        // And coherent again: ending it through A is seen on B.
        assert!(a.delete_session(fresh).await.unwrap());
        let delay = until(&b, fresh, Instant::now(), Option::is_none)
            .await
            .expect("B refuses the ended session");
        assert!(delay <= Duration::from_millis(250), "{delay:?}");
    }
}

/// Validations on B racing a logout through A, 30 rounds (half with the session cached on
/// B, half with B's cache filling while the logout commits): once A's logout has returned,
/// no validation on B that started more than 250 ms later succeeds. The latest success
/// relative to the logout's return is printed as a `figure:`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validations_on_b_racing_a_logout_through_a_stop_succeeding() {
    // Timings: no heavy load and no other measurement meanwhile.
    let _alone = crate::support::alone::measuring().await;
    let Some(db) = support::postgres::database().await else {
        return;
    };
    let (a, b) = instances(&db).await;
    let user = a.add_user("race@x.io", "$2b$04$h").await.unwrap();
    let mut latest = Vec::new();
    for round in 0..30 {
        let token = TokenDigest::of(&format!("race-{round}"));
        a.insert_session(token, live_session(user.id, 0), None)
            .await
            .unwrap();
        if round % 2 == 0 {
            cache(&b, token).await;
        }
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let validators: Vec<_> = (0..3)
            .map(|_| {
                let (b, stop) = (b.clone(), std::sync::Arc::clone(&stop));
                tokio::spawn(async move {
                    let mut seen = Vec::new();
                    while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                        let started = Instant::now();
                        let ok = matches!(b.session(token).await, Ok(Some(_)));
                        seen.push((started, ok));
                        tokio::time::sleep(Duration::from_micros(300)).await;
                    }
                    seen
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(3 + round % 5)).await;
        assert!(a.delete_session(token).await.unwrap());
        let returned = Instant::now();
        tokio::time::sleep(Duration::from_millis(300)).await;
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        let mut last_ok: Option<Duration> = None;
        let mut after = 0;
        for v in validators {
            for (started, ok) in v.await.expect("no panic") {
                if ok && started > returned {
                    let late = started - returned;
                    last_ok = Some(last_ok.map_or(late, |l| l.max(late)));
                }
                if started > returned {
                    after += 1;
                }
            }
        }
        assert!(
            after > 10,
            "round {round}: too few validations after the logout ({after})"
        );
        if let Some(late) = last_ok {
            assert!(
                late <= Duration::from_millis(250),
                "round {round}: a validation started {late:?} after the logout returned succeeded"
            );
        }
        latest.push(last_ok.unwrap_or_default());
    }
    latest.sort();
    println!(
        "figure: racing validations: latest success after the logout returned p50={:?} max={:?} (n={} rounds)",
        quantile(&latest, 0.5),
        latest[latest.len() - 1],
        latest.len()
    );
}

/// Evicting many sessions at once (a login with a per-user cap over a user with hundreds of
/// sessions) names them all to the other instances: split into several notifications under
/// PostgreSQL's 8000-byte payload limit (150 digests: two), or, beyond eight of those, one
/// `all` (1,200 digests), which empties B's cache.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evicting_many_sessions_reaches_b_in_chunks_or_as_all() {
    let Some(db) = support::postgres::database().await else {
        return;
    };
    let (a, b) = instances(&db).await;
    let admin = db.client().await;
    let bystander = a.add_user("bystander@x.io", "$2b$04$h").await.unwrap();
    let other = TokenDigest::of("bystander");
    a.insert_session(other, live_session(bystander.id, 0), None)
        .await
        .unwrap();
    for n in [150_i32, 1_200] {
        let user = a
            .add_user(&format!("many{n}@x.io"), "$2b$04$h")
            .await
            .unwrap();
        let id = i64::try_from(user.id.0).unwrap();
        // Older sessions, inserted behind the stores' back (new rows: nothing to notify).
        admin
            .execute(
                "INSERT INTO sessions (digest, user_id, created, last_seen, expires, generation)
                 SELECT sha256(convert_to('many-' || $2::text || '-' || i, 'UTF8')), $1,
                        now() - interval '1 hour' + i * interval '1 ms', now(),
                        now() + interval '1 hour', 0
                 FROM generate_series(1, $2) AS i",
                &[&id, &n],
            )
            .await
            .unwrap();
        let watched: Vec<TokenDigest> = [1, n / 2, n]
            .iter()
            .map(|i| TokenDigest::of(&format!("many-{n}-{i}")))
            .collect();
        for token in &watched {
            cache(&b, *token).await;
        }
        cache(&b, other).await;
        let newest = TokenDigest::of(&format!("newest-{n}"));
        a.insert_session(newest, live_session(user.id, 0), Some(1))
            .await
            .unwrap();
        let since = Instant::now();
        assert_eq!(a.sessions_of(user.id).await.unwrap().len(), 1);
        for token in &watched {
            let delay = until(&b, *token, since, Option::is_none)
                .await
                .expect("B refuses an evicted session");
            assert!(delay <= Duration::from_millis(250), "{n}: {delay:?}");
        }
        if n > 1_000 {
            // `all`: the bystander's session left B's cache too (read again, it is still
            // valid).
            assert!(!b.is_cached(other), "{n}: `all` empties the cache");
            assert!(b.session(other).await.unwrap().is_some());
        }
    }
}

// Limits across instances: two `Auth`s over two `PgStore`s on one database, as two app
// instances, share the throttle's counters (the `throttle` table). Both read one
// `ManualClock`, so that backoffs and hourly windows pass without sleeping.

/// Two instances on `db` with `config`, reading one manual clock.
async fn two_instances(
    db: &support::postgres::TestDatabase,
    config: AuthConfig,
) -> (Auth<PgStore>, Auth<PgStore>, ManualClock) {
    let clock = ManualClock::new(support::start_time());
    let a = Auth::with_clock(db.store().await, config.clone(), clock.clone()).expect("valid");
    let b = Auth::with_clock(db.store().await, config, clock.clone()).expect("valid");
    (a, b, clock)
}

fn ip(s: &str) -> Option<IpAddr> {
    Some(s.parse().expect("an address"))
}

/// A login on `auth`: `Ok(true)` logged in, `Ok(false)` refused (401), `Err(wait)` throttled
/// (429); any other error fails the test.
async fn login(auth: &Auth<PgStore>, email: &str, pw: &str, client: &str) -> Result<bool, u64> {
    match auth
        .log_in(Login::new(email, pw).with_client(ip(client)))
        .await
    {
        Ok(found) => Ok(found.is_some()),
        Err(AuthError::Throttled { retry_after }) => Err(retry_after.as_secs()),
        Err(e) => panic!("login of {email} from {client}: {e}"),
    }
}

/// The account backoff trips after the 5th failure whichever instance each guess went to
/// (alternately A and B), is seen by both, doubles with the next failure, ends after its
/// wait, and a success on one instance clears it for both; another address is not held back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_backoff_trips_at_the_same_count_on_either_instance() {
    let Some(db) = support::postgres::database().await else {
        return;
    };
    let (a, b, clock) = two_instances(&db, support::hardened_config()).await;
    let (email, pw, attacker) = ("victim@example.com", support::GOOD_PW, "198.51.100.66");
    a.register(email, pw, None).await.unwrap();
    for i in 0..5 {
        let on = if i % 2 == 0 { &a } else { &b };
        assert_eq!(
            login(on, email, "wrong guess", attacker).await,
            Ok(false),
            "failure {i}"
        );
    }
    // The 6th attempt, the right password included, is held back on both, for 1 s.
    assert_eq!(login(&a, email, pw, attacker).await, Err(1));
    assert_eq!(login(&b, email, pw, attacker).await, Err(1));
    // The owner elsewhere is not.
    assert_eq!(login(&b, email, pw, "203.0.113.5").await, Ok(true));
    clock.advance(Duration::from_secs(1));
    assert_eq!(login(&b, email, "wrong guess", attacker).await, Ok(false));
    assert_eq!(login(&a, email, pw, attacker).await, Err(2));
    clock.advance(Duration::from_secs(2));
    assert_eq!(login(&a, email, pw, attacker).await, Ok(true));
    // Cleared for both: four failures in a row from the attacker are free again.
    for i in 0..4 {
        let on = if i % 2 == 0 { &b } else { &a };
        assert_eq!(
            login(on, email, "wrong guess", attacker).await,
            Ok(false),
            "failure {i}"
        );
    }
    assert_eq!(login(&b, email, pw, attacker).await, Ok(true));
}

/// The hourly ceilings count failures from both instances: per client across accounts, per
/// account across clients; an hour later they are lifted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_failure_ceilings_per_client_and_per_account() {
    let Some(db) = support::postgres::database().await else {
        return;
    };
    let throttle = ThrottleConfig::default().with_failure_ceilings(10, 7);
    let (a, b, clock) =
        two_instances(&db, support::hardened_config().with_throttle(throttle)).await;
    let pair = [&a, &b];
    // Successes are no failures: more than the ceilings, through both, all log in.
    a.register("ok@example.com", support::GOOD_PW, None)
        .await
        .unwrap();
    for i in 0..12 {
        let on = pair[i % 2];
        let ok = login(on, "ok@example.com", support::GOOD_PW, "192.0.2.9").await;
        assert_eq!(ok, Ok(true), "success {i}");
    }
    for i in 0..7 {
        let on = pair[i % 2];
        let email = format!("u{i}@example.com");
        assert_eq!(
            login(on, &email, "wrong guess", "192.0.2.9").await,
            Ok(false)
        );
    }
    for on in pair {
        assert!(
            login(on, "fresh@example.com", "x", "192.0.2.9")
                .await
                .is_err()
        );
        assert_eq!(
            login(on, "fresh@example.com", "x", "192.0.2.10").await,
            Ok(false)
        );
    }
    for i in 0..10 {
        let on = pair[i % 2];
        let client = format!("198.51.100.{}", 100 + i);
        assert_eq!(
            login(on, "target@example.com", "wrong", &client).await,
            Ok(false)
        );
    }
    // The account's ceiling counts failures in a row: still there an hour later, forgotten
    // a day after the last one; the client's is per hour.
    for hours in [0, 1] {
        clock.advance(Duration::from_secs(hours * 3600));
        for on in pair {
            let held = login(on, "target@example.com", "x", "203.0.113.99").await;
            assert!(held.is_err(), "{hours} h later");
        }
    }
    for on in pair {
        assert_eq!(
            login(on, "fresh@example.com", "x", "192.0.2.9").await,
            Ok(false)
        );
    }
    clock.advance(Duration::from_secs(23 * 3600));
    for on in pair {
        assert_eq!(
            login(on, "target@example.com", "x", "203.0.113.99").await,
            Ok(false)
        );
    }
}

/// The per-account ceiling counts consecutive failures on both instances (NIST SP 800-63B
/// 5.2.2), not failures per hour: a login of the owner on either starts it again; 4 in a row
/// hold everyone back, still two hours later; a reset through the mailbox starts it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_account_ceiling_counts_consecutive_failures() {
    let Some(db) = support::postgres::database().await else {
        return;
    };
    let throttle = ThrottleConfig::default().with_failure_ceilings(4, 1000);
    let config = support::hardened_config()
        .with_throttle(throttle)
        .with_reset_token_in_response(true);
    let (a, b, clock) = two_instances(&db, config).await;
    let pair = [&a, &b];
    let (email, pw) = ("row@example.com", support::GOOD_PW);
    a.register(email, pw, None).await.unwrap();
    let fail = |n: usize| {
        let on = pair[n % 2];
        async move {
            let client = format!("198.51.100.{n}");
            assert_eq!(
                login(on, email, "wrong guess", &client).await,
                Ok(false),
                "{n}"
            );
        }
    };
    for n in 0..3 {
        fail(n).await;
    }
    assert_eq!(login(&b, email, pw, "203.0.113.1").await, Ok(true));
    for n in 3..6 {
        fail(n).await;
    }
    assert_eq!(
        login(&a, email, pw, "203.0.113.2").await,
        Ok(true),
        "a success did not start the count again"
    );
    for n in 6..10 {
        fail(n).await;
    }
    clock.advance(Duration::from_secs(2 * 3600));
    for on in pair {
        assert!(login(on, email, pw, "203.0.113.3").await.is_err(), "lapsed");
    }
    let requested = b.request_password_reset(email, ip("203.0.113.4")).await;
    let Ok(tower_user_auth::ResetRequested::Token(token)) = requested else {
        panic!("{requested:?}");
    };
    let new_pw = "another good password 42";
    a.reset_password(email, token.expose(), new_pw, ip("203.0.113.4"))
        .await
        .expect("the reset is not held back by the ceiling");
    assert_eq!(login(&b, email, new_pw, "203.0.113.5").await, Ok(true));
}

/// Ten password changes at once on one session with the right current password, spread
/// over both instances, are not throttled: those beyond the free failures wait until the
/// attempts in flight are taken back; one changes the password, nine meet the changed
/// credentials. Several rounds (bcrypt cost 8, so that all ten read the account first).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn shared_concurrent_password_changes_with_the_right_password_are_not_throttled() {
    let Some(db) = support::postgres::database().await else {
        return;
    };
    let config = support::hardened_config().with_bcrypt_cost(8);
    let (a, b, _) = two_instances(&db, config).await;
    const N: usize = 10;
    for round in 0..3 {
        let email = format!("typist{round}@example.com");
        a.register(&email, support::GOOD_PW, None).await.unwrap();
        let session = a
            .log_in(Login::new(&email, support::GOOD_PW).with_client(ip("192.0.2.5")))
            .await
            .unwrap()
            .expect("logged in")
            .token;
        let session = Arc::new(session);
        let barrier = Arc::new(Barrier::new(N));
        let tasks = (0..N).map(|i| {
            let on = if i % 2 == 0 { a.clone() } else { b.clone() };
            let (session, barrier) = (Arc::clone(&session), Arc::clone(&barrier));
            tokio::spawn(async move {
                barrier.wait().await;
                let new = format!("a new good password {i}");
                on.change_password(&session, support::GOOD_PW, &new, None, ip("192.0.2.5"))
                    .await
                    .map(drop)
            })
        });
        let results: Vec<_> = join_all(tasks)
            .await
            .into_iter()
            .map(|r| r.expect("no panic"))
            .collect();
        let changed = results.iter().filter(|r| r.is_ok()).count();
        let conflicts = results
            .iter()
            .filter(|r| matches!(r, Err(AuthError::CredentialsChanged)))
            .count();
        assert_eq!(
            (changed, conflicts),
            (1, N - 1),
            "round {round}: {results:?}"
        );
    }
}

/// The registration quota per client and the reset-request quotas per email and per client
/// count requests on both instances.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_registration_and_reset_request_quotas() {
    let Some(db) = support::postgres::database().await else {
        return;
    };
    let throttle = ThrottleConfig::default()
        .with_registrations_per_hour(3)
        .with_reset_requests_per_hour(2, 3);
    let (a, b, clock) =
        two_instances(&db, support::hardened_config().with_throttle(throttle)).await;
    let pw = support::GOOD_PW;
    let c1 = ip("192.0.2.1");
    a.register("r1@example.com", pw, c1).await.unwrap();
    b.register("r2@example.com", pw, c1).await.unwrap();
    a.register("r3@example.com", pw, c1).await.unwrap();
    for on in [&a, &b] {
        let refused = on.register("r4@example.com", pw, c1).await;
        assert!(
            matches!(refused, Err(AuthError::Throttled { .. })),
            "{refused:?}"
        );
    }
    // Refused requests were not counted: another address registers, and an hour later
    // the first one can again, three times.
    b.register("r4@example.com", pw, ip("192.0.2.2"))
        .await
        .unwrap();
    clock.advance(Duration::from_secs(3600));
    for (i, on) in [&a, &b, &a].into_iter().enumerate() {
        on.register(&format!("later{i}@example.com"), pw, c1)
            .await
            .unwrap();
    }

    let reset = |on: &Auth<PgStore>, email: &'static str, client: &'static str| {
        let on = on.clone();
        async move {
            match on.request_password_reset(email, ip(client)).await {
                Ok(_) => true,
                Err(AuthError::Throttled { .. }) => false,
                Err(e) => panic!("reset request: {e}"),
            }
        }
    };
    // Per email: 2 an hour, from any address, through either instance.
    assert!(reset(&a, "r1@example.com", "192.0.2.1").await);
    assert!(reset(&b, "r1@example.com", "192.0.2.2").await);
    assert!(!reset(&a, "r1@example.com", "192.0.2.3").await);
    assert!(!reset(&b, "R1@Example.com", "192.0.2.4").await);
    // Per client: 3 an hour (r1's two from 192.0.2.1 and .2 count one each).
    assert!(reset(&b, "r2@example.com", "192.0.2.1").await);
    assert!(reset(&a, "r3@example.com", "192.0.2.1").await);
    assert!(!reset(&b, "r4@example.com", "192.0.2.1").await);
    assert!(!reset(&a, "nobody@example.com", "192.0.2.1").await);
}

/// The email-change quotas count on both instances: the tokens sent to one address (2 an
/// hour here, whatever the spelling) and the taken-or-free answers to one client
/// (registration's quota, 4 an hour here); past either, 429 and nothing sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_email_change_mail_and_oracle_quotas() {
    let Some(db) = support::postgres::database().await else {
        return;
    };
    let sent = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let hook = {
        let sent = Arc::clone(&sent);
        move |_: &str, message: &tower_user_auth::hook::Mail| {
            if let tower_user_auth::hook::Mail::EmailChange(_) = message {
                sent.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
            Ok::<(), tower_user_auth::BoxError>(())
        }
    };
    let throttle = ThrottleConfig::default()
        .with_registrations_per_hour(4)
        .with_reset_requests_per_hour(2, 20);
    let config = support::hardened_config()
        .with_throttle(throttle)
        .with_email_confirmation(true)
        .with_mailer(hook)
        // The session outlives the hour the test waits.
        .with_session_idle_timeout(Duration::from_secs(2 * 3600));
    let (a, b, clock) = two_instances(&db, config).await;
    let pw = support::GOOD_PW;
    for email in ["bob@example.com", "ann@example.com"] {
        a.register(email, pw, None).await.unwrap();
        let id = a
            .store()
            .find_user_by(UserQuery::Email(email.into()))
            .await
            .unwrap()
            .id;
        a.store()
            .update_user(id, UserUpdate::default().email_confirmed(true))
            .await
            .unwrap();
    }
    let session = a
        .log_in(Login::new("bob@example.com", pw))
        .await
        .unwrap()
        .unwrap()
        .token;
    let change = |on: &Auth<PgStore>, to: &'static str, client: &'static str| {
        let (on, session) = (on.clone(), session.clone());
        async move {
            match on.change_email(&session, pw, to, None, ip(client)).await {
                Ok(_) => "sent",
                Err(AuthError::EmailTaken(_)) => "taken",
                Err(AuthError::Throttled { .. }) => "throttled",
                Err(e) => panic!("change to {to}: {e}"),
            }
        }
    };
    assert_eq!(change(&a, "t@example.org", "192.0.2.1").await, "sent");
    assert_eq!(change(&b, " T@Example.org", "192.0.2.2").await, "sent");
    assert_eq!(change(&a, "t@EXAMPLE.ORG", "192.0.2.3").await, "throttled");
    assert_eq!(change(&b, "t@example.org", "192.0.2.4").await, "throttled");
    // Per client: 4 answers an hour, taken or free, through either instance.
    let c = "198.51.100.9";
    assert_eq!(change(&a, "ann@example.com", c).await, "taken");
    assert_eq!(change(&b, "ANN@example.com", c).await, "taken");
    assert_eq!(change(&a, "free1@example.org", c).await, "sent");
    assert_eq!(change(&b, "free2@example.org", c).await, "sent");
    assert_eq!(change(&a, "ann@example.com", c).await, "throttled");
    assert_eq!(change(&b, "free3@example.org", c).await, "throttled");
    assert_eq!(
        change(&b, "ann@example.com", "198.51.100.10").await,
        "taken"
    );
    clock.advance(Duration::from_secs(3600));
    assert_eq!(change(&b, "t@example.org", c).await, "sent");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sent.load(std::sync::atomic::Ordering::SeqCst), 5);
}

/// A device token issued through instance A spares its owner the per-account lockout on
/// instance B: after 20 addresses × 5 wrong guesses spread over both, the owner with the
/// token logs in on B, a fresh client without one is held back on either.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_token_from_one_instance_works_on_the_other() {
    let Some(db) = support::postgres::database().await else {
        return;
    };
    let throttle = ThrottleConfig::default().with_failure_ceilings(100, 100);
    let (a, b, _clock) =
        two_instances(&db, support::hardened_config().with_throttle(throttle)).await;
    let (email, pw) = ("owner@example.com", support::GOOD_PW);
    a.register(email, pw, None).await.unwrap();
    let first = a
        .log_in(Login::new(email, pw).with_client(ip("203.0.113.7")))
        .await
        .unwrap()
        .expect("logged in");
    let device = first.device.expect("a device token").token;
    for n in 0..20 {
        let client = format!("198.51.100.{n}");
        for i in 0..5 {
            let on = if (n + i) % 2 == 0 { &a } else { &b };
            assert_eq!(login(on, email, "wrong guess", &client).await, Ok(false));
        }
    }
    for on in [&a, &b] {
        assert!(
            login(on, email, pw, "192.0.2.200").await.is_err(),
            "a fresh client"
        );
    }
    let owner = b
        .log_in(
            Login::new(email, pw)
                .with_client(ip("203.0.113.7"))
                .with_device(Some(&device)),
        )
        .await
        .expect("no error")
        .expect("the owner logs in with the device token from A");
    assert_eq!(owner.user.email, email);

    // A login with the device token clears its address's backoff on every instance.
    let (email, home) = ("typist@example.com", "203.0.113.8");
    a.register(email, pw, None).await.unwrap();
    let first = b
        .log_in(Login::new(email, pw).with_client(ip(home)))
        .await
        .unwrap()
        .expect("logged in");
    let device = first.device.expect("a device token").token;
    for i in 0..5 {
        let on = if i % 2 == 0 { &a } else { &b };
        assert_eq!(login(on, email, "mistyped", home).await, Ok(false));
    }
    assert!(login(&a, email, pw, home).await.is_err(), "held back");
    let with_device = a
        .log_in(
            Login::new(email, pw)
                .with_client(ip(home))
                .with_device(Some(&device)),
        )
        .await;
    assert!(matches!(with_device, Ok(Some(_))), "{with_device:?}");
    assert_eq!(login(&b, email, "mistyped again", home).await, Ok(false));
}

/// Concurrent wrong guesses released together (a barrier), spread over both instances, never
/// get more than the limit through to the password check: from one address on one account,
/// exactly the 5 free failures, the rest held back; from 16 addresses on one account with a
/// ceiling of 4 per hour, exactly 4. Many rounds, each on a fresh account.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_guesses_over_both_instances_never_exceed_the_limit() {
    let Some(db) = support::postgres::database().await else {
        return;
    };
    // The free failures from one address; the account ceiling (4 here) from 16 addresses.
    let (a, b, _) = two_instances(&db, support::hardened_config()).await;
    let throttle = ThrottleConfig::default().with_failure_ceilings(4, 1000);
    let (c, d, _) = two_instances(&db, support::hardened_config().with_throttle(throttle)).await;
    const N: usize = 16;
    for round in 0..12 {
        for spread in [false, true] {
            let email = format!("race{round}-{spread}@example.com");
            let (a, b) = if spread { (&c, &d) } else { (&a, &b) };
            let barrier = Arc::new(Barrier::new(N));
            let tasks = (0..N).map(|i| {
                let on = if i % 2 == 0 { a.clone() } else { b.clone() };
                let (email, barrier) = (email.clone(), Arc::clone(&barrier));
                let client = if spread {
                    format!("198.51.{round}.{i}")
                } else {
                    "192.0.2.77".to_owned()
                };
                tokio::spawn(async move {
                    barrier.wait().await;
                    login(&on, &email, "wrong guess", &client).await
                })
            });
            let results: Vec<_> = join_all(tasks)
                .await
                .into_iter()
                .map(|r| r.expect("no panic"))
                .collect();
            let checked = results.iter().filter(|r| **r == Ok(false)).count();
            let held = results.iter().filter(|r| r.is_err()).count();
            let limit = if spread { 4 } else { 5 };
            assert_eq!(
                (checked, held),
                (limit, N - limit),
                "round {round}: {results:?}"
            );
        }
    }
}

/// 96 wrong guesses at once from one client on one account, spread over both instances,
/// each with a deep hashing queue (64, the demo's `AUTH_HASHING_QUEUE=64`): exactly the 5
/// free failures reach bcrypt, every other one is held back (those that waited for the
/// attempts in flight too), never an overload. Several rounds, each on a fresh account.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flood_of_guesses_with_a_deep_hashing_queue_checks_only_the_free_failures() {
    let Some(db) = support::postgres::database().await else {
        return;
    };
    let config = support::hardened_config().with_hashing_pool(2, 64);
    let (a, b, _) = two_instances(&db, config).await;
    const N: usize = 96;
    for round in 0..3 {
        let email = format!("flood{round}@example.com");
        a.register(&email, support::GOOD_PW, None).await.unwrap();
        let barrier = Arc::new(Barrier::new(N));
        let tasks = (0..N).map(|i| {
            let on = if i % 2 == 0 { a.clone() } else { b.clone() };
            let (email, barrier) = (email.clone(), Arc::clone(&barrier));
            tokio::spawn(async move {
                barrier.wait().await;
                login(&on, &email, "wrong guess", "192.0.2.66").await
            })
        });
        let results: Vec<_> = join_all(tasks)
            .await
            .into_iter()
            .map(|r| r.expect("no panic"))
            .collect();
        let checked = results.iter().filter(|r| **r == Ok(false)).count();
        let held = results.iter().filter(|r| r.is_err()).count();
        assert_eq!((checked, held), (5, N - 5), "round {round}");
    }
}

/// The counters are keyed by a digest of the email (never the email, never a password) and
/// an address; expired ones are purged by `purge_expired`.
#[tokio::test]
async fn throttle_counters_hold_no_email_nor_password_and_are_purged() {
    let Some(db) = support::postgres::database().await else {
        return;
    };
    let (a, _b, clock) = two_instances(&db, support::hardened_config()).await;
    let secret = "a guess nobody should store";
    for client in ["192.0.2.1", "2001:db8::1"] {
        assert_eq!(
            login(&a, "Someone@Example.com", secret, client).await,
            Ok(false)
        );
    }
    let _ = a
        .request_password_reset("someone@example.com", ip("192.0.2.1"))
        .await;
    let _ = a
        .register("new@example.com", support::GOOD_PW, ip("192.0.2.1"))
        .await;
    let client = db.client().await;
    let rows = client
        .query("SELECT t::text, kind FROM throttle t", &[])
        .await
        .unwrap();
    let kinds: std::collections::BTreeSet<i16> = rows.iter().map(|r| r.get(1)).collect();
    assert_eq!(kinds.into_iter().collect::<Vec<_>>(), [1, 2, 3, 4, 5, 6]);
    let dump: String = rows.iter().map(|r| r.get::<_, String>(0)).collect();
    for needle in ["omeone", "xample", secret, "new@"] {
        assert!(
            !dump.to_lowercase().contains(&needle.to_lowercase()),
            "{needle} in {dump}"
        );
    }
    let hex = |s: &str| s.bytes().map(|b| format!("{b:02x}")).collect::<String>();
    assert!(!dump.contains(&hex("someone")), "an email in {dump}");
    // An hour and the longest backoff later, every counter but the account's consecutive
    // failures has expired; a day after the failure, that one too: the purge removes them.
    clock.advance(Duration::from_secs(3600 + 15 * 60 + 1));
    a.purge_expired().await.unwrap();
    let kinds: Vec<i16> = client
        .query("SELECT DISTINCT kind FROM throttle", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(kinds, [2]);
    clock.advance(Duration::from_secs(24 * 3600));
    a.purge_expired().await.unwrap();
    let left: i64 = client
        .query_one("SELECT count(*) FROM throttle", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(left, 0);
}

/// When the throttle's table cannot be used, logins, registrations and reset requests fail
/// closed: 500 with a JSON body, not an unthrottled attempt; once it is back they work.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttle_database_error_fails_closed_with_500_json() {
    let Some(db) = support::postgres::database().await else {
        return;
    };
    let auth = Auth::new(db.store().await, support::seed_config()).expect("valid");
    let svc = support::service(&auth);
    const CREDS: &[(&str, &str)] = &[("email", "o@x.io"), ("password", "pw")];
    const OTHER: &[(&str, &str)] = &[("email", "p@x.io"), ("password", "pw")];
    let send = |path: &'static str, body: &'static [(&'static str, &'static str)]| {
        let svc = svc.clone();
        async move {
            let req = request_from("192.0.2.1", Method::POST, path, &[], Body::Form(body));
            call(&svc, req).await
        }
    };
    assert_eq!(send("/users", CREDS).await.status, StatusCode::OK);
    let client = db.client().await;
    client
        .batch_execute("ALTER TABLE throttle RENAME TO throttle_away")
        .await
        .unwrap();
    assert_error(
        &send("/sessions", CREDS).await,
        StatusCode::INTERNAL_SERVER_ERROR,
    );
    assert_error(
        &send("/users", OTHER).await,
        StatusCode::INTERNAL_SERVER_ERROR,
    );
    assert_error(
        &send("/reset_password", &[("email", "o@x.io")]).await,
        StatusCode::INTERNAL_SERVER_ERROR,
    );
    assert!(
        auth.store()
            .find_user_by(UserQuery::Email("p@x.io".into()))
            .await
            .is_err()
    );
    client
        .batch_execute("ALTER TABLE throttle_away RENAME TO throttle")
        .await
        .unwrap();
    let back = send("/sessions", CREDS).await;
    assert_eq!(back.status, StatusCode::OK, "{}", back.body);
}

/// What the shared throttle costs a failed login: medians of failed logins on one `PgStore`
/// with the throttle in memory and with the shared one (in PostgreSQL), interleaved, at bcrypt
/// cost 4 (the throttle's cost stands out) and 12 (in context). Prints the figures; asserts
/// nothing about time. Run it with
/// `cargo test --release --all-features --test pg_store -- --ignored --nocapture failed_login_cost`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, run on purpose (BENCHMARKS.md); .ci/run runs it short with FAILED_LOGIN_SAMPLES=20"]
async fn failed_login_cost() {
    // Timings: no heavy load and no other measurement meanwhile.
    let _alone = crate::support::alone::measuring().await;
    let Some(db) = support::postgres::database().await else {
        return;
    };
    // `FAILED_LOGIN_SAMPLES` shortens the run (CI's smoke run of this measurement).
    let samples: usize = std::env::var("FAILED_LOGIN_SAMPLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(400);
    for (cost, samples) in [(4, samples), (12, (samples / 10).max(2))] {
        // Generous ceilings so that no attempt is held back: every sample is a failed login.
        let throttle = ThrottleConfig::default()
            .with_free_failures(1_000_000)
            .with_failure_ceilings(1_000_000, 1_000_000);
        let config = support::hardened_config()
            .with_bcrypt_cost(cost)
            .with_throttle(throttle);
        let store = memory_throttle::MemoryThrottle(db.store().await);
        let memory = Auth::new(store, config.clone()).unwrap();
        let shared = Auth::new(db.store().await, config).unwrap();
        let email = format!("cost{cost}@example.com");
        memory
            .register(&email, support::GOOD_PW, None)
            .await
            .unwrap();
        let (mut m, mut p) = (Vec::new(), Vec::new());
        for i in 0..samples + 10 {
            let client = ip(&format!("10.{}.{}.1", i / 250, i % 250));
            let t = Instant::now();
            assert!(
                memory
                    .log_in(Login::new(&email, "wrong guess").with_client(client))
                    .await
                    .unwrap()
                    .is_none()
            );
            let tm = t.elapsed();
            let t = Instant::now();
            assert!(
                shared
                    .log_in(Login::new(&email, "wrong guess").with_client(client))
                    .await
                    .unwrap()
                    .is_none()
            );
            let tp = t.elapsed();
            if i >= 10 {
                m.push(tm);
                p.push(tp);
            }
        }
        let (m, p) = (support::median(m), support::median(p));
        println!(
            "figure: failed login p50 (bcrypt cost {cost}, {samples} samples) in-memory={:.3} ms pg={:.3} ms (+{:.3} ms)",
            m.as_secs_f64() * 1e3,
            p.as_secs_f64() * 1e3,
            (p.as_secs_f64() - m.as_secs_f64()) * 1e3,
        );
    }
}

/// `PgStore` without its shared throttle (the trait's default: limits in memory), for
/// [`failed_login_cost`]: the same store, the throttle in memory or shared.
mod memory_throttle {
    use std::time::SystemTime;

    use tower_user_auth::{
        StoreError, User, UserId,
        store::{
            AccountVersion, CachePolicy, CacheSubscriber, DeviceRecord, EmailRedeemed,
            EmailTokenRecord, EndSessions, ImportedUser, ListedUser, PasswordReset, PgStore,
            Purged, ResetRecord, SecondFactorChange, SecondFactorRecord, SessionEntry,
            SessionRecord, UserQuery, UserUpdate, VerifiedSession, prelude::*,
        },
        token::TokenDigest,
    };

    pub struct MemoryThrottle(pub PgStore);

    impl UserStore for MemoryThrottle {
        async fn add_user(&self, email: &str, hashed_password: &str) -> Result<User, StoreError> {
            self.0.add_user(email, hashed_password).await
        }

        async fn find_user_by(&self, query: UserQuery) -> Result<User, StoreError> {
            self.0.find_user_by(query).await
        }

        async fn update_user(&self, id: UserId, update: UserUpdate) -> Result<User, StoreError> {
            self.0.update_user(id, update).await
        }

        async fn list_users(
            &self,
            after: Option<UserId>,
            limit: usize,
        ) -> Result<Vec<ListedUser>, StoreError> {
            self.0.list_users(after, limit).await
        }

        async fn import_user(&self, user: ImportedUser) -> Result<User, StoreError> {
            self.0.import_user(user).await
        }

        async fn delete_user(&self, id: UserId) -> Result<(), StoreError> {
            self.0.delete_user(id).await
        }

        async fn delete_user_verified(
            &self,
            id: UserId,
            verified: VerifiedSession,
        ) -> Result<(), StoreError> {
            self.0.delete_user_verified(id, verified).await
        }

        async fn rehash_password(
            &self,
            id: UserId,
            verified_hash: String,
            new_hash: String,
        ) -> Result<bool, StoreError> {
            self.0.rehash_password(id, verified_hash, new_hash).await
        }

        async fn add_unconfirmed_user(
            &self,
            email: &str,
            hash: &str,
            t: TokenDigest,
            r: EmailTokenRecord,
            stale: SystemTime,
        ) -> Result<User, StoreError> {
            self.0.add_unconfirmed_user(email, hash, t, r, stale).await
        }

        async fn contest_unconfirmed(&self, email: &str) -> Result<bool, StoreError> {
            self.0.contest_unconfirmed(email).await
        }
    }

    impl SessionStore for MemoryThrottle {
        async fn insert_session(
            &self,
            token: TokenDigest,
            session: SessionRecord,
            max_per_user: Option<usize>,
        ) -> Result<(), StoreError> {
            self.0.insert_session(token, session, max_per_user).await
        }

        async fn session(&self, token: TokenDigest) -> Result<Option<SessionEntry>, StoreError> {
            self.0.session(token).await
        }

        async fn touch_session(
            &self,
            token: TokenDigest,
            last_seen: SystemTime,
        ) -> Result<(), StoreError> {
            self.0.touch_session(token, last_seen).await
        }

        async fn delete_session(&self, token: TokenDigest) -> Result<bool, StoreError> {
            self.0.delete_session(token).await
        }

        async fn sessions_of(
            &self,
            id: UserId,
        ) -> Result<Vec<(TokenDigest, SessionRecord)>, StoreError> {
            self.0.sessions_of(id).await
        }

        async fn delete_sessions_of(
            &self,
            id: UserId,
            which: EndSessions,
        ) -> Result<usize, StoreError> {
            self.0.delete_sessions_of(id, which).await
        }
    }

    impl TokenStore for MemoryThrottle {
        async fn replace_reset_token(
            &self,
            token: TokenDigest,
            record: ResetRecord,
            read: AccountVersion,
        ) -> Result<(), StoreError> {
            self.0.replace_reset_token(token, record, read).await
        }

        async fn reset_token(&self, token: TokenDigest) -> Result<Option<ResetRecord>, StoreError> {
            self.0.reset_token(token).await
        }

        async fn reset_password(&self, reset: PasswordReset) -> Result<User, StoreError> {
            self.0.reset_password(reset).await
        }

        async fn replace_email_token(
            &self,
            t: TokenDigest,
            r: EmailTokenRecord,
            read: AccountVersion,
        ) -> Result<(), StoreError> {
            self.0.replace_email_token(t, r, read).await
        }

        async fn email_token(
            &self,
            t: TokenDigest,
        ) -> Result<Option<EmailTokenRecord>, StoreError> {
            self.0.email_token(t).await
        }

        async fn redeem_email_token(
            &self,
            t: TokenDigest,
            now: SystemTime,
        ) -> Result<EmailRedeemed, StoreError> {
            self.0.redeem_email_token(t, now).await
        }

        async fn confirm_with_new_password(
            &self,
            t: TokenDigest,
            now: SystemTime,
            hash: String,
        ) -> Result<User, StoreError> {
            self.0.confirm_with_new_password(t, now, hash).await
        }

        async fn insert_device_token(
            &self,
            token: TokenDigest,
            record: DeviceRecord,
            max_per_user: usize,
        ) -> Result<(), StoreError> {
            self.0
                .insert_device_token(token, record, max_per_user)
                .await
        }

        async fn device_token(
            &self,
            token: TokenDigest,
        ) -> Result<Option<DeviceRecord>, StoreError> {
            self.0.device_token(token).await
        }

        async fn record_device_failure(
            &self,
            token: TokenDigest,
            user: UserId,
            limit: u32,
        ) -> Result<Option<u32>, StoreError> {
            self.0.record_device_failure(token, user, limit).await
        }

        async fn reset_device_failures(&self, token: TokenDigest) -> Result<bool, StoreError> {
            self.0.reset_device_failures(token).await
        }

        async fn delete_device_tokens_of(&self, id: UserId) -> Result<usize, StoreError> {
            self.0.delete_device_tokens_of(id).await
        }
    }

    impl SecondFactorStore for MemoryThrottle {
        async fn second_factor(
            &self,
            id: UserId,
        ) -> Result<Option<SecondFactorRecord>, StoreError> {
            self.0.second_factor(id).await
        }

        async fn update_second_factor(
            &self,
            id: UserId,
            change: SecondFactorChange,
        ) -> Result<bool, StoreError> {
            self.0.update_second_factor(id, change).await
        }
    }

    impl ExpiredDeletion for MemoryThrottle {
        async fn purge_expired(
            &self,
            now: SystemTime,
            idle_before: SystemTime,
            unconfirmed_before: SystemTime,
        ) -> Result<Purged, StoreError> {
            self.0
                .purge_expired(now, idle_before, unconfirmed_before)
                .await
        }
    }

    impl SharedThrottling for MemoryThrottle {}

    /// The PostgreSQL store's own caches, fed by its notifications.
    impl ChangeNotifications for MemoryThrottle {
        fn cache_policy(&self) -> Option<CachePolicy> {
            self.0.cache_policy()
        }
        fn subscribe(&self, subscriber: CacheSubscriber) {
            self.0.subscribe(subscriber);
        }
    }
}
