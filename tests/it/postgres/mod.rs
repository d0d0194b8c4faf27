//! What is PostgreSQL's own in `PgStore` (feature `postgres`), on a real server (see
//! `tests/it/support/postgres.rs`); what every store must do is the conformance suite's,
//! `tests/it/conformance/`, and the throttle shared by the instances is `throttling::postgres`.
//!
//! - [`schema`]: migrations applied once by instances starting together, a newer schema
//!   refused, tokens only as digests, every look-up on an index;
//! - [`migration_v2`], [`migration_v3`]: databases of earlier releases migrated in place;
//! - [`outages`]: lost connections and a database outage as errors (500 with a JSON body),
//!   recovery by itself;
//! - [`session_cache`], [`notifications`]: the session cache kept coherent across instances
//!   (notifications, the bypass while they are lost);
//! - [`races`]: compare-and-sets raced over two instances;
//! - [`multi_instance`]: two demo processes on one database.

use crate::support;

use support::records::live_session;

mod migration_v2;
mod migration_v3;
mod multi_instance;
mod notifications;
mod outages;
mod races;
mod schema;
mod session_cache;

use std::time::{Duration, Instant};

use tower_user_auth::{
    store::{CachedSessions, PgStore, SessionEntry},
    token::TokenDigest,
};

// Two `PgStore`s (two pools, two notification connections) on one database stand for two
// app instances, A and B.

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

// Limits across instances: two `Auth`s over two `PgStore`s on one database, as two app
// instances, share the throttle's counters (the `throttle` table). Both read one
// `ManualClock`, so that backoffs and hourly windows pass without sleeping.
