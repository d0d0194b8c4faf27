//! Micro-benchmarks of the per-request path: token parse and digest, session look-up (cached
//! and from the database), user load, and the layer's pass-through overhead.
//!
//! ```text
//! cargo bench --bench hot_path
//! cargo bench --bench hot_path -- pass-through     # only the layer's overhead
//! ```
//!
//! # The layer's own cost (issue 12, goal 5: at most 250 ns)
//!
//! The group `pass-through` sends `GET /me` with a valid session cookie, the session cached,
//! to an echo app (it reads the `AuthenticatedUser` the layer inserts), on a current-thread
//! Tokio runtime. Its ids are stable; criterion writes each one's estimates (in ns, the
//! median under `median.point_estimate`) to `target/criterion/<group>/<id>/new/estimates.json`:
//!
//! | id | what | estimates |
//! | --- | --- | --- |
//! | `app alone` | the app, no layer (the request carries the cookie too) | `target/criterion/pass-through/app alone/new/estimates.json` |
//! | `app behind AuthLayer, no cookie` | the layer passing a request without a cookie | `target/criterion/pass-through/app behind AuthLayer, no cookie/new/estimates.json` |
//! | `app behind AuthLayer, valid cookie` | the layer authenticating the cookie | `target/criterion/pass-through/app behind AuthLayer, valid cookie/new/estimates.json` |
//!
//! The layer's own cost is the median of `app behind AuthLayer, valid cookie` minus the median
//! of `app alone`; the group ends by printing it as one line, `layer overhead (valid cookie -
//! app alone): D ns (L ns - A ns)`. Criterion measures wall time: on a loaded machine both
//! medians grow, and the difference with them; compare figures of one quiet run.

use std::{
    convert::Infallible,
    hint::black_box,
    path::PathBuf,
    time::{Duration, SystemTime},
};
use tower_user_auth::compat::SeedApi;

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use futures_util::FutureExt;
use http::{Request, Response, header};
use http_body_util::Full;
use tower::{Layer, Service, ServiceExt, service_fn};
use tower_user_auth::{
    Auth, AuthConfig, AuthLayer, AuthenticatedUser,
    store::{CachedSessions, RedbStore, UserQuery, prelude::*},
    token::SessionToken,
};

async fn echo(req: Request<Full<Bytes>>) -> Result<Response<Full<Bytes>>, Infallible> {
    let id = req
        .extensions()
        .get::<AuthenticatedUser>()
        .map_or(0, |u| u.id.0);
    Ok(Response::new(Full::new(Bytes::from(id.to_string()))))
}

fn hot_path(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let config = AuthConfig::compat().with_bcrypt_cost(4);
    let store = RedbStore::open(dir.path().join("bench.redb")).expect("store");
    let auth = Auth::new(store.clone(), config).expect("valid configuration");
    let token = rt.block_on(async {
        auth.register_user("bench@example.com", "bench-password")
            .await
            .expect("register");
        auth.create_session("bench@example.com")
            .await
            .expect("session")
            .expect("known")
    });
    let user_id = rt
        .block_on(auth.get_user_from_session_id(Some(token.expose())))
        .expect("read")
        .expect("user")
        .id;
    let raw = token.expose().to_owned();
    let cookie = format!("theme=dark; session_id={raw}");

    c.bench_function("token parse", |b| {
        b.iter(|| SessionToken::parse(black_box(&raw)))
    });
    c.bench_function("token digest (SHA-256)", |b| {
        b.iter(|| black_box(&token).digest())
    });
    let digest = token.digest();
    let sessions = auth.cached_sessions();
    c.bench_function("session look-up (cached)", |b| {
        b.iter(|| sessions.session(black_box(digest)).now_or_never())
    });
    c.bench_function("session look-up without waiting (cached)", |b| {
        b.iter(|| sessions.session_without_waiting(black_box(digest)))
    });
    let unknown = SessionToken::generate().digest();
    c.bench_function("session look-up (miss, database read)", |b| {
        b.iter(|| sessions.session(black_box(unknown)).now_or_never())
    });
    c.bench_function("user load by id (database read)", |b| {
        b.iter(|| {
            store
                .find_user_by(UserQuery::Id(black_box(user_id)))
                .now_or_never()
        })
    });
    c.bench_function(
        "authenticate (parse + digest + cached session + expiry)",
        |b| b.iter(|| rt.block_on(auth.authenticate(black_box(&token)))),
    );

    let request = |with_cookie: bool| {
        let mut req = Request::get("/me").body(Full::default()).expect("request");
        if with_cookie {
            req.headers_mut()
                .insert(header::COOKIE, cookie.parse().expect("header"));
        }
        req
    };
    let mut bare = service_fn(echo);
    let mut layered = AuthLayer::new(auth.clone()).layer(service_fn(echo));
    let started = SystemTime::now();
    let mut group = c.benchmark_group("pass-through");
    group.measurement_time(Duration::from_secs(3));
    group.bench_function("app alone", |b| {
        b.iter(|| rt.block_on(bare.ready().then(|s| s.expect("ready").call(request(true)))))
    });
    group.bench_function("app behind AuthLayer, no cookie", |b| {
        b.iter(|| {
            rt.block_on(
                layered
                    .ready()
                    .then(|s| s.expect("ready").call(request(false))),
            )
        })
    });
    group.bench_function("app behind AuthLayer, valid cookie", |b| {
        b.iter(|| {
            rt.block_on(
                layered
                    .ready()
                    .then(|s| s.expect("ready").call(request(true))),
            )
        })
    });
    group.finish();
    report_layer_overhead(started);

    // The bound on logins: one verify at the default cost, on one core.
    let hash = bcrypt::hash("bench-password", bcrypt::DEFAULT_COST).expect("hash");
    let mut group = c.benchmark_group("bcrypt");
    group.sample_size(10);
    group.bench_function("verify at cost 12", |b| {
        b.iter(|| bcrypt::verify(black_box("bench-password"), &hash))
    });
    group.finish();
}

/// Prints the layer's own cost from the medians criterion wrote since `started` (a filter may
/// have skipped them: older estimates are not reported).
fn report_layer_overhead(started: SystemTime) {
    let dir = std::env::var_os("CRITERION_HOME").map_or_else(
        || {
            std::env::var_os("CARGO_TARGET_DIR")
                .map_or_else(|| PathBuf::from("target"), PathBuf::from)
                .join("criterion")
        },
        PathBuf::from,
    );
    let median = |id: &str| -> Option<f64> {
        let path = dir.join("pass-through").join(id).join("new/estimates.json");
        if std::fs::metadata(&path).ok()?.modified().ok()? < started {
            return None;
        }
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
        json["median"]["point_estimate"].as_f64()
    };
    if let (Some(layered), Some(alone)) = (
        median("app behind AuthLayer, valid cookie"),
        median("app alone"),
    ) {
        println!(
            "layer overhead (valid cookie - app alone): {:.0} ns ({layered:.0} ns - {alone:.0} ns)",
            layered - alone
        );
    }
}

criterion_group!(benches, hot_path);
criterion_main!(benches, filter_benches);

/// Session look-ups through the store at `FILTER_BENCH_N` sessions (default 20,000), all
/// cached: a cached session, against an unknown digest that the filter of live digests
/// refuses (issue 12, goal 7: refusing costs no more than accepting).
/// `FILTER_BENCH_N=1000000 cargo bench --bench hot_path -- "store session"`
fn unknown_vs_cached(c: &mut Criterion) {
    let n: usize = std::env::var("FILTER_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let store = RedbStore::builder()
        .with_session_cache_bytes(n * 200 + (1 << 20))
        .open(dir.path().join("filter.redb"))
        .expect("store");
    let sessions = CachedSessions::new(store.clone());
    let digests = rt.block_on(async {
        let user = store
            .add_user("filter@bench.test", "$2b$04$hash")
            .await
            .expect("user");
        let now = std::time::SystemTime::now();
        let record = tower_user_auth::store::SessionRecord {
            user_id: user.id,
            created: now,
            last_seen: now,
            expires: now + Duration::from_secs(24 * 3600),
            generation: user.generation,
        };
        let digests: Vec<_> = (0..n).map(|_| SessionToken::generate().digest()).collect();
        for chunk in digests.chunks(2048) {
            futures_util::future::join_all(
                chunk.iter().map(|d| store.insert_session(*d, record, None)),
            )
            .await;
        }
        while !store.stats().await.expect("stats").session_filter_ready {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        for d in &digests {
            let _ = sessions.session(*d).await;
        }
        digests
    });
    let stats = rt.block_on(store.stats()).expect("stats");
    println!(
        "{n} sessions: {} cached, {:.0} cache bytes/session, filter {:.1} bytes/session",
        stats.cached_sessions,
        stats.session_cache_bytes as f64 / stats.cached_sessions.max(1) as f64,
        stats.session_filter_bytes as f64 / stats.session_filter_entries.max(1) as f64
    );
    let mut group = c.benchmark_group(format!("store session, {n} sessions"));
    let mut i = 0_usize;
    group.bench_function("cached session", |b| {
        b.iter(|| {
            i = (i + 7919) % digests.len();
            let found = sessions.session(digests[i]).now_or_never();
            black_box(found)
        });
    });
    // A fresh random digest each time (xorshift): none of them cached, none in a CPU cache.
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    group.bench_function("unknown digest", |b| {
        b.iter(|| {
            let mut digest = [0_u8; 32];
            for chunk in digest.chunks_mut(8) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                chunk.copy_from_slice(&state.to_le_bytes());
            }
            let digest = tower_user_auth::token::TokenDigest(digest);
            let found = sessions.session(digest).now_or_never();
            black_box(found)
        });
    });
    group.finish();
}

criterion_group!(filter_benches, unknown_vs_cached);
