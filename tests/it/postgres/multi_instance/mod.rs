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
//! `REQUIRE_POSTGRES=1` (the harness, `tests/it/support/postgres.rs`).
//!
//! The `#[ignore]`d test `invalidation_delay_over_many_logouts` is the benchmark of the
//! cross-instance invalidation delay (p50/p99 over `LOGOUTS`, default 1,000), run explicitly:
//!
//! ```text
//! cargo test --release --all-features --test it -- --ignored --nocapture multi_instance
//! ```
//!
//! `.ci/run` runs it short (`LOGOUTS=50`, debug build) so that it cannot rot.

use crate::support;

mod delay;
mod sessions;
mod shared;

use std::{
    sync::{Arc, Barrier},
    time::{Duration, Instant},
};

use http::{Method, StatusCode};
use support::{Body, Demo, cookie_header, postgres::TestDatabase};

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
    let a = demo.http.register(email, password).await;
    assert_eq!(a.status, StatusCode::OK, "register {email}: {}", a.body);
}

/// Logs `email` in through `demo`; the session's `Cookie` header value.
async fn log_in(demo: &Demo, email: &str, password: &str) -> String {
    let a = demo.http.log_in(email, password).await;
    assert_eq!(a.status, StatusCode::OK, "log in {email}: {}", a.body);
    let sid = a.session_cookie().expect("a session cookie");
    format!("session_id={sid}")
}

/// `method path` on `demo` with `cookie` and the form `fields`, answered 200 (asserted, with
/// `what` in the message).
async fn send_ok(
    demo: &Demo,
    method: Method,
    path: &str,
    cookie: &str,
    fields: &[(&str, &str)],
    what: &str,
) -> support::Answer {
    let a = demo
        .http
        .send(method, path, &cookie_header(cookie), Body::Form(fields))
        .await;
    assert_eq!(a.status, StatusCode::OK, "{what}: {}", a.body);
    a
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
