//! Several app instances on one PostgreSQL database (feature `postgres`): two demo processes
//! (the hardened profile, bcrypt cost 4, `AUTH_COOKIE_SECURE=false`) started at the same
//! moment on a fresh, empty database (the migrations are applied once), driven over TCP.
//!
//! - a session made on one instance is valid on the other;
//! - a logout, a password reset, a password change, ending all sessions and deleting the
//!   account through one instance take effect on the other, also when the other has just
//!   served the session (and so may hold it in its cache): the other refuses it within a
//!   bounded poll (2 s), and the delay is printed (`--nocapture`); an email change through one
//!   instance is seen by the other's wrapped app (`GET /me`) within the same bound, the
//!   session kept;
//! - 16 registrations of one email racing over both instances make exactly one account;
//! - the login throttle trips after the same number of wrong guesses whichever instance the
//!   guesses go to.
//!
//! Without a PostgreSQL server each test prints `skipped: <reason>` and passes, unless
//! `REQUIRE_POSTGRES=1` (the harness, `tests/support/postgres.rs`).
//!
//! The `#[ignore]`d test `invalidation_delay_over_many_logouts` is the benchmark of the
//! cross-instance invalidation delay (p50/p99 over `LOGOUTS`, default 1,000), run explicitly:
//!
//! ```text
//! cargo test --release --features postgres --test multi_instance -- --ignored --nocapture
//! ```
//!
//! `.ci/run` runs it short (`LOGOUTS=50`, debug build) so that it cannot rot.

#![cfg(feature = "postgres")]

use crate::support;

use std::{
    sync::{Arc, Barrier},
    time::{Duration, Instant},
};

use http::{Method, StatusCode};
use support::{Body, Demo, GOOD_PW, OTHER_PW, cookie_header, postgres::TestDatabase};

/// How long the other instance may keep accepting an ended session.
const BOUND: Duration = Duration::from_secs(2);
/// How often the other instance is asked while waiting.
const POLL: Duration = Duration::from_millis(5);
/// The first backoff the throttle tests configure: long enough that it cannot expire during
/// the test, so a guess is refused exactly when the throttle tripped.
const BACKOFF: &str = "600";

/// Two demos on `db`'s database, started at the same moment (a barrier releases both
/// spawns together) on the empty database, with the extra `env`.
fn two_demos(db: &TestDatabase, env: &[(&str, &str)]) -> (Demo, Demo, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let barrier = Arc::new(Barrier::new(2));
    // Later entries win: `env` overrides these.
    let env: Vec<(String, String)> = [
        ("AUTH_DATABASE_URL", db.url()),
        ("AUTH_DATABASE_POOL", "4"),
        ("AUTH_PROFILE", "hardened"),
        ("AUTH_COOKIE_SECURE", "false"),
        ("AUTH_THROTTLE_BACKOFF_START", BACKOFF),
    ]
    .iter()
    .chain(env)
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    let spawn = |name: &str| {
        let (barrier, env) = (Arc::clone(&barrier), env.clone());
        // AUTH_DB names a file that must never be made: the demo opens no redb file on
        // PostgreSQL.
        let redb = dir.path().join(format!("{name}.redb"));
        std::thread::spawn(move || {
            let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (&**k, &**v)).collect();
            barrier.wait();
            Demo::start(&redb, &env)
        })
    };
    let (a, b) = (spawn("a"), spawn("b"));
    let a = a.join().expect("instance A started");
    let b = b.join().expect("instance B started");
    for name in ["a", "b"] {
        let file = dir.path().join(format!("{name}.redb"));
        assert!(
            !file.exists(),
            "no redb file on PostgreSQL: {}",
            file.display()
        );
    }
    (a, b, dir)
}

/// A fresh database and two demos on it; `None` (skipped) without PostgreSQL.
async fn setup(env: &[(&str, &str)]) -> Option<(TestDatabase, Demo, Demo, tempfile::TempDir)> {
    let db = support::postgres::database().await?;
    let (a, b, dir) = two_demos(&db, env);
    Some((db, a, b, dir))
}

/// Registers `email` with `password` through `demo`.
async fn register(demo: &Demo, email: &str, password: &str) {
    let a = demo
        .http
        .post(
            "/users",
            Body::Form(&[("email", email), ("password", password)]),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "register {email}: {}", a.body);
}

/// Logs `email` in through `demo`; the session's `Cookie` header value.
async fn log_in(demo: &Demo, email: &str, password: &str) -> String {
    let a = demo
        .http
        .post(
            "/sessions",
            Body::Form(&[("email", email), ("password", password)]),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "log in {email}: {}", a.body);
    let sid = a.session_cookie().expect("a session cookie");
    format!("session_id={sid}")
}

/// `GET /profile` on `demo` with `cookie`: its status.
async fn profile(demo: &Demo, cookie: &str) -> StatusCode {
    demo.http.get("/profile", cookie).await.status
}

/// Whether `GET /profile` refused the session: 403, as the seed answered without a session.
fn refused(status: StatusCode) -> bool {
    status == StatusCode::FORBIDDEN
}

/// `demo` serves `cookie`'s session (and so may hold it in its cache).
async fn assert_valid(demo: &Demo, cookie: &str, what: &str) {
    let a = demo.http.get("/profile", cookie).await;
    assert_eq!(a.status, StatusCode::OK, "{what}: {}", a.body);
}

/// Polls `demo` with `cookie` until it refuses it (403), at most [`BOUND`]; the delay since
/// `since` (when the change through the other instance was answered). Panics past the bound.
async fn refused_within_bound(demo: &Demo, cookie: &str, since: Instant, what: &str) -> Duration {
    loop {
        let status = profile(demo, cookie).await;
        let delay = since.elapsed();
        if refused(status) {
            println!("{what}: refused by the other instance after {delay:?}");
            return delay;
        }
        assert_eq!(
            status,
            StatusCode::OK,
            "{what}: 200 until it is refused with 403"
        );
        assert!(
            delay <= BOUND,
            "{what}: the other instance still accepts the session after {delay:?}"
        );
        tokio::time::sleep(POLL).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn started_together_on_an_empty_database_the_migrations_run_once() {
    let Some((db, a, b, _dir)) = setup(&[]).await else {
        return;
    };
    let client = db.client().await;
    let rows = client
        .query("SELECT version FROM schema_version ORDER BY version", &[])
        .await
        .expect("schema_version");
    let versions: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
    let expected: Vec<i64> = (1..=i64::try_from(tower_user_auth::store::PgStore::schema_version())
        .expect("small"))
        .collect();
    assert_eq!(versions, expected, "each version applied once");
    for demo in [a, b] {
        let (status, stderr) = demo.terminate();
        assert_eq!(status.code(), Some(0), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_made_on_one_instance_is_valid_on_the_other() {
    let Some((_db, a, b, _dir)) = setup(&[]).await else {
        return;
    };
    register(&a, "ann@example.com", GOOD_PW).await;
    let cookie = log_in(&b, "ann@example.com", GOOD_PW).await;
    assert_valid(&a, &cookie, "made on B, used on A").await;
    assert_valid(&b, &cookie, "made on B, used on B").await;
    let me = a.http.get("/me", &cookie).await;
    assert_eq!(me.json()["email"], "ann@example.com", "{}", me.body);
    let (_, log_a) = a.terminate();
    let (_, log_b) = b.terminate();
    for log in [log_a, log_b] {
        assert!(!log.contains(GOOD_PW), "no password in the log");
        assert!(
            !log.contains(cookie.trim_start_matches("session_id=")),
            "no token in the log"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logout_through_one_instance_ends_the_session_on_the_other() {
    // Timings: no heavy load and no other measurement meanwhile.
    let _alone = crate::support::alone::measuring().await;
    let Some((_db, a, b, _dir)) = setup(&[]).await else {
        return;
    };
    register(&a, "ann@example.com", GOOD_PW).await;
    let cookie = log_in(&a, "ann@example.com", GOOD_PW).await;
    // B serves it first: from now on it may answer from its cache.
    assert_valid(&b, &cookie, "warm on B").await;
    let out = a.http.delete("/sessions", &cookie).await;
    // 302 to the after-logout page, as the seed answered.
    assert!(
        out.status.is_success() || out.status.is_redirection(),
        "logout on A: {} {}",
        out.status,
        out.body
    );
    let since = Instant::now();
    refused_within_bound(&b, &cookie, since, "logout via A").await;
    assert!(refused(profile(&a, &cookie).await), "refused on A too");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ending_all_sessions_through_one_instance_ends_them_on_the_other() {
    // Timings: no heavy load and no other measurement meanwhile.
    let _alone = crate::support::alone::measuring().await;
    let Some((_db, a, b, _dir)) = setup(&[]).await else {
        return;
    };
    register(&a, "ann@example.com", GOOD_PW).await;
    let on_b = log_in(&b, "ann@example.com", GOOD_PW).await;
    let on_a = log_in(&a, "ann@example.com", GOOD_PW).await;
    assert_valid(&b, &on_b, "warm on B").await;
    assert_valid(&b, &on_a, "A's session warm on B").await;
    let ended = a.http.delete("/sessions/all", &on_a).await;
    assert!(
        ended.status.is_success() || ended.status.is_redirection(),
        "end all via A: {} {}",
        ended.status,
        ended.body
    );
    let since = Instant::now();
    refused_within_bound(&b, &on_b, since, "end all sessions via A (B's session)").await;
    refused_within_bound(&b, &on_a, since, "end all sessions via A (A's session)").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_change_through_one_instance_ends_the_other_sessions_there() {
    // Timings: no heavy load and no other measurement meanwhile.
    let _alone = crate::support::alone::measuring().await;
    let Some((_db, a, b, _dir)) = setup(&[]).await else {
        return;
    };
    register(&a, "ann@example.com", GOOD_PW).await;
    let other = log_in(&b, "ann@example.com", GOOD_PW).await;
    let changer = log_in(&a, "ann@example.com", GOOD_PW).await;
    assert_valid(&b, &other, "warm on B").await;
    let changed = a
        .http
        .send(
            Method::PUT,
            "/profile/password",
            &cookie_header(&changer),
            Body::Form(&[("current_password", GOOD_PW), ("new_password", OTHER_PW)]),
        )
        .await;
    assert_eq!(
        changed.status,
        StatusCode::OK,
        "change via A: {}",
        changed.body
    );
    let since = Instant::now();
    refused_within_bound(&b, &other, since, "password change via A").await;
    // The new password logs in on B, the old one no longer.
    log_in(&b, "ann@example.com", OTHER_PW).await;
    let old = b
        .http
        .post(
            "/sessions",
            Body::Form(&[("email", "ann@example.com"), ("password", GOOD_PW)]),
        )
        .await;
    assert_eq!(old.status, StatusCode::UNAUTHORIZED, "{}", old.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_reset_through_one_instance_ends_the_sessions_on_the_other() {
    // Timings: no heavy load and no other measurement meanwhile.
    let _alone = crate::support::alone::measuring().await;
    let Some((_db, a, b, _dir)) = setup(&[]).await else {
        return;
    };
    let email = "ann@example.com";
    register(&a, email, GOOD_PW).await;
    let cookie = log_in(&b, email, GOOD_PW).await;
    assert_valid(&b, &cookie, "warm on B").await;
    // The token is asked for on B (its development mailer prints it) and used on A.
    let asked = b
        .http
        .post("/reset_password", Body::Form(&[("email", email)]))
        .await;
    assert_eq!(asked.status, StatusCode::OK, "{}", asked.body);
    let token = b.printed_reset_token(email);
    let reset = a
        .http
        .put(
            "/reset_password",
            Body::Form(&[
                ("email", email),
                ("reset_token", &token),
                ("new_password", OTHER_PW),
            ]),
        )
        .await;
    assert_eq!(reset.status, StatusCode::OK, "reset via A: {}", reset.body);
    let since = Instant::now();
    refused_within_bound(&b, &cookie, since, "password reset via A").await;
    log_in(&b, email, OTHER_PW).await;
    // The token was used once: B refuses it too.
    let again = b
        .http
        .put(
            "/reset_password",
            Body::Form(&[
                ("email", email),
                ("reset_token", &token),
                ("new_password", "yet another long passphrase"),
            ]),
        )
        .await;
    assert!(again.status.is_client_error(), "{}", again.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_the_account_through_one_instance_ends_its_sessions_on_the_other() {
    // Timings: no heavy load and no other measurement meanwhile.
    let _alone = crate::support::alone::measuring().await;
    let Some((_db, a, b, _dir)) = setup(&[]).await else {
        return;
    };
    let email = "ann@example.com";
    register(&a, email, GOOD_PW).await;
    let on_b = log_in(&b, email, GOOD_PW).await;
    let on_a = log_in(&a, email, GOOD_PW).await;
    assert_valid(&b, &on_b, "warm on B").await;
    assert_valid(&b, &on_a, "A's session warm on B").await;
    let deleted = a
        .http
        .send(
            Method::DELETE,
            "/profile",
            &cookie_header(&on_a),
            Body::Form(&[("current_password", GOOD_PW)]),
        )
        .await;
    assert_eq!(
        deleted.status,
        StatusCode::OK,
        "delete via A: {}",
        deleted.body
    );
    let cleared = deleted
        .set_cookie_line("session_id")
        .expect("cookie cleared");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    let since = Instant::now();
    refused_within_bound(&b, &on_b, since, "account deleted via A (B's session)").await;
    refused_within_bound(&b, &on_a, since, "account deleted via A (A's session)").await;
    assert!(refused(profile(&a, &on_a).await), "refused on A too");
    // The old password logs in nowhere; the email can be registered again, on either.
    let old = b
        .http
        .post(
            "/sessions",
            Body::Form(&[("email", email), ("password", GOOD_PW)]),
        )
        .await;
    assert_eq!(old.status, StatusCode::UNAUTHORIZED, "{}", old.body);
    register(&b, email, OTHER_PW).await;
    let again = log_in(&a, email, OTHER_PW).await;
    assert_valid(&b, &again, "the new account's session on B").await;
    assert!(
        refused(profile(&b, &on_b).await),
        "the old session stays dead"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_email_change_through_one_instance_is_seen_on_the_other() {
    // Timings: no heavy load and no other measurement meanwhile.
    let _alone = crate::support::alone::measuring().await;
    let Some((_db, a, b, _dir)) = setup(&[]).await else {
        return;
    };
    let (old, new) = ("ann@example.com", "Ann.Moved@example.com");
    register(&a, old, GOOD_PW).await;
    let on_b = log_in(&b, old, GOOD_PW).await;
    let on_a = log_in(&a, old, GOOD_PW).await;
    // B serves the session with its email first: from now on it may answer from its cache.
    let me = b.http.get("/me", &on_b).await;
    assert_eq!(me.json()["email"], old, "{}", me.body);
    let changed = a
        .http
        .send(
            Method::PUT,
            "/profile/email",
            &cookie_header(&on_a),
            Body::Form(&[("current_password", GOOD_PW), ("new_email", new)]),
        )
        .await;
    assert_eq!(
        changed.status,
        StatusCode::OK,
        "change via A: {}",
        changed.body
    );
    let since = Instant::now();
    loop {
        let me = b.http.get("/me", &on_b).await;
        assert_eq!(
            me.status,
            StatusCode::OK,
            "the session stays valid: {}",
            me.body
        );
        let delay = since.elapsed();
        if me.json()["email"] == new {
            println!("email change via A: seen by the other instance after {delay:?}");
            break;
        }
        assert!(
            delay <= BOUND,
            "B still shows the old email after {delay:?}: {}",
            me.body
        );
        tokio::time::sleep(POLL).await;
    }
    // The new address logs in on B, the old one no longer.
    log_in(&b, new, GOOD_PW).await;
    let by_old = b
        .http
        .post(
            "/sessions",
            Body::Form(&[("email", old), ("password", GOOD_PW)]),
        )
        .await;
    assert_eq!(by_old.status, StatusCode::UNAUTHORIZED, "{}", by_old.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixteen_racing_registrations_of_one_email_over_both_instances_make_one_account() {
    let Some((db, a, b, _dir)) = setup(&[]).await else {
        return;
    };
    let start = Arc::new(tokio::sync::Barrier::new(16));
    let mut racers = Vec::new();
    for i in 0..16 {
        let client = if i % 2 == 0 { &a.http } else { &b.http }.clone();
        let start = Arc::clone(&start);
        racers.push(tokio::spawn(async move {
            start.wait().await;
            let a = client
                .post(
                    "/users",
                    Body::Form(&[("email", "race@example.com"), ("password", GOOD_PW)]),
                )
                .await;
            (a.status, a.body)
        }));
    }
    let mut created = 0;
    for racer in racers {
        let (status, body) = racer.await.expect("racer");
        if status == StatusCode::OK {
            created += 1;
        } else {
            assert!(status.is_client_error(), "{status}: {body}");
        }
    }
    assert_eq!(created, 1, "exactly one registration wins");
    let count: i64 = db
        .client()
        .await
        .query_one("SELECT count(*) FROM users", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(count, 1, "one account in the database");
    log_in(&a, "race@example.com", GOOD_PW).await;
    log_in(&b, "race@example.com", GOOD_PW).await;
}

/// Wrong guesses at `email`'s password, the `i`-th sent to `route(i)`, until one is refused
/// with 429; how many guesses that took (the refused one included), or `None` within `max`.
async fn guesses_until_throttled(
    demos: [&Demo; 2],
    email: &str,
    route: impl Fn(usize) -> usize,
    max: usize,
) -> Option<usize> {
    for i in 0..max {
        let a = demos[route(i)]
            .http
            .post(
                "/sessions",
                Body::Form(&[("email", email), ("password", "not the password at all")]),
            )
            .await;
        match a.status {
            StatusCode::TOO_MANY_REQUESTS => return Some(i + 1),
            StatusCode::UNAUTHORIZED => {}
            other => panic!("guess {}: {other}: {}", i + 1, a.body),
        }
    }
    None
}

/// The throttle is shared through the database: the guesses it lets through before it
/// trips are the same whether they all go to A, all to B, or alternate. Fails while the
/// throttle is per process (each instance then lets its own free failures through): it
/// passes once the shared throttle (`src/store/postgres/throttle.rs`, branch wp11-p2) is in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_throttle_trips_at_the_same_count_whichever_instance_the_guesses_go_to() {
    let Some((_db, a, b, _dir)) = setup(&[]).await else {
        return;
    };
    for email in ["a@example.com", "b@example.com", "both@example.com"] {
        register(&a, email, GOOD_PW).await;
    }
    let max = 24;
    let only_a = guesses_until_throttled([&a, &b], "a@example.com", |_| 0, max).await;
    let only_b = guesses_until_throttled([&a, &b], "b@example.com", |_| 1, max).await;
    let spread = guesses_until_throttled([&a, &b], "both@example.com", |i| i % 2, max).await;
    println!("throttled at guess: only A {only_a:?}, only B {only_b:?}, alternating {spread:?}");
    assert!(only_a.is_some(), "the throttle trips on one instance");
    assert_eq!(only_a, only_b, "the same on either instance");
    assert_eq!(
        spread, only_a,
        "alternating over two instances gives no more guesses"
    );
}

/// The benchmark of the cross-instance invalidation delay, run explicitly (`--ignored
/// --nocapture`): `LOGOUTS` times (default 1,000) log in on A, serve the session on B (its
/// cache warm), log out through A, and poll B until it refuses the session; prints the
/// p50, p99 and the largest delay (from A's logout answer to B's first refusal).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark, run on purpose (BENCHMARKS.md); .ci/run runs it short with LOGOUTS=50"]
async fn invalidation_delay_over_many_logouts() {
    // Timings: no heavy load and no other measurement meanwhile.
    let _alone = crate::support::alone::measuring().await;
    let Some((_db, a, b, _dir)) = setup(&[("AUTH_THROTTLE", "false"), ("RUST_LOG", "error")]).await
    else {
        return;
    };
    let logouts: usize = std::env::var("LOGOUTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    register(&a, "bench@example.com", GOOD_PW).await;
    let mut delays = Vec::with_capacity(logouts);
    let mut polls = 0_usize;
    for _ in 0..logouts {
        let cookie = log_in(&a, "bench@example.com", GOOD_PW).await;
        assert_valid(&b, &cookie, "warm on B").await;
        let out = a.http.delete("/sessions", &cookie).await;
        assert!(
            out.status.is_success() || out.status.is_redirection(),
            "{}",
            out.body
        );
        let since = Instant::now();
        loop {
            polls += 1;
            let status = profile(&b, &cookie).await;
            if refused(status) {
                delays.push(since.elapsed());
                break;
            }
            assert!(
                since.elapsed() <= BOUND,
                "B still serves it after {BOUND:?}"
            );
        }
    }
    delays.sort();
    let at = |q: f64| {
        let i = ((delays.len() as f64 - 1.0) * q).round() as usize;
        delays[i.min(delays.len() - 1)]
    };
    println!(
        "invalidation delay over {} logouts: p50 {:?}, p99 {:?}, max {:?}; {} polls of B ({:.2} per logout); over 250 ms: {}",
        delays.len(),
        at(0.50),
        at(0.99),
        delays.last().copied().unwrap_or_default(),
        polls,
        polls as f64 / delays.len() as f64,
        delays
            .iter()
            .filter(|d| **d > Duration::from_millis(250))
            .count()
    );
}
