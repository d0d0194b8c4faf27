//! Scale benchmark: session validation latency with 1,000 and with N (default 1,000,000)
//! live sessions and users, and the database size per user and per session.
//!
//! ```text
//! cargo bench --bench scale -- 1000000                        # every look-up reads redb
//! SESSION_CACHE=2000000 cargo bench --bench scale -- 1000000  # all sessions cached
//! ```
//!
//! Options: N, the first numeric argument (1,000,000 under `cargo bench`; a 2,000-record smoke
//! run when `cargo test --benches` runs this target, which passes no `--bench`);
//! `SESSION_CACHE` (entries of the in-process session cache, default 0: every look-up reads
//! the database); `SCALE_KEEP=DIR` keeps the database (`DIR/scale.redb`) and writes the
//! tokens to `DIR/tokens.txt`, for `benches/scale_http.sh`.
//!
//! Records are seeded through the `Store` (group-committed, many writes in flight) with one
//! precomputed bcrypt hash: that shortcut is for this benchmark only.

use std::{
    path::Path,
    time::{Duration, Instant, SystemTime},
};

use futures_util::future::join_all;
use tower_user_auth::{
    Auth, AuthConfig,
    store::{RedbStore, SessionRecord, Store},
    token::SessionToken,
};

const CHUNK: usize = 2048;
const SAMPLES: usize = 200_000;

async fn seed(store: &RedbStore, from: usize, to: usize, hash: &str) -> Vec<SessionToken> {
    let mut tokens = Vec::with_capacity(to - from);
    let now = SystemTime::now();
    let mut start = from;
    while start < to {
        let end = (start + CHUNK).min(to);
        let users =
            join_all((start..end).map(|i| async move {
                store.add_user(&format!("user{i}@scale.test"), hash).await
            }))
            .await;
        let chunk: Vec<(SessionToken, SessionRecord)> = users
            .into_iter()
            .map(|u| {
                let user = u.expect("seeding a user");
                let record = SessionRecord {
                    user_id: user.id,
                    created: now,
                    last_seen: now,
                    expires: now + Duration::from_secs(24 * 3600),
                    generation: user.generation,
                };
                (SessionToken::generate(), record)
            })
            .collect();
        join_all(
            chunk
                .iter()
                .map(|(t, r)| store.insert_session(t.digest(), *r, None)),
        )
        .await
        .into_iter()
        .for_each(|r| r.expect("seeding a session"));
        tokens.extend(chunk.into_iter().map(|(t, _)| t));
        start = end;
    }
    tokens
}

/// Median and 99th percentile of `Auth::authenticate` over random live tokens, in ns.
async fn measure(auth: &Auth, tokens: &[SessionToken]) -> (u128, u128) {
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        usize::try_from(state % tokens.len() as u64).unwrap_or(0)
    };
    // Warm up the page and session caches as a running server would be: every session once.
    for token in tokens {
        let _ = auth.authenticate(token).await;
    }
    let mut times: Vec<u128> = Vec::with_capacity(SAMPLES);
    for _ in 0..SAMPLES {
        let token = &tokens[next()];
        let t0 = Instant::now();
        let found = auth.authenticate(token).await.expect("store read");
        times.push(t0.elapsed().as_nanos());
        assert!(found.is_some(), "a seeded session must be live");
    }
    times.sort_unstable();
    (times[times.len() / 2], times[times.len() * 99 / 100])
}

/// N: the first numeric argument; else 1,000,000 when run by `cargo bench` (which passes
/// `--bench`), or a quick smoke run when run as a test by `cargo test --benches`.
fn records_from_args(args: impl Iterator<Item = String>) -> usize {
    let mut benching = false;
    for arg in args {
        if let Ok(n) = arg.parse() {
            return n;
        }
        benching |= arg == "--bench";
    }
    if benching { 1_000_000 } else { 2_000 }
}

fn file_size(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n = records_from_args(std::env::args().skip(1));
    let small = 1_000.min(n);
    // SCALE_KEEP=DIR: see the module documentation.
    let keep = std::env::var("SCALE_KEEP")
        .ok()
        .map(std::path::PathBuf::from);
    let dir = tempfile::tempdir()?;
    let path = keep
        .as_ref()
        .map_or_else(|| dir.path().join("scale.redb"), |k| k.join("scale.redb"));
    // Seeding a million sessions takes over a minute; with the default renewal interval every
    // one of them would then be renewed (one write each) during the measurement. A running
    // server spreads those writes over time; here they are kept out of the read figures.
    let config = AuthConfig::seed()
        .with_bcrypt_cost(4)
        .with_session_renewal(Duration::from_secs(24 * 3600));
    let hash = bcrypt::hash("scale-benchmark-password", 4)?;
    let cache: usize = std::env::var("SESSION_CACHE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    println!(
        "session cache: {cache} entries (SESSION_CACHE; 0 = every look-up reads the database)"
    );
    let store = RedbStore::builder()
        .session_cache_bytes(cache)
        .open(&path)?;

    let t0 = Instant::now();
    let mut tokens = seed(&store, 0, small, &hash).await;
    let auth = Auth::new(store.clone(), config.clone())?;
    let (p50_small, p99_small) = measure(&auth, &tokens).await;
    let size_small = file_size(&path);
    println!(
        "{small:>9} users+sessions: authenticate p50 {p50_small} ns, p99 {p99_small} ns (seeded in {:.1?})",
        t0.elapsed()
    );

    let t1 = Instant::now();
    tokens.extend(seed(&store, small, n, &hash).await);
    println!(
        "seeded {} more users and sessions in {:.1?}",
        n - small,
        t1.elapsed()
    );
    let (p50_big, p99_big) = measure(&auth, &tokens).await;
    let size_big = file_size(&path);
    println!("{n:>9} users+sessions: authenticate p50 {p50_big} ns, p99 {p99_big} ns");
    if let Some(keep) = &keep {
        let lines: Vec<&str> = tokens.iter().map(SessionToken::expose).collect();
        std::fs::write(keep.join("tokens.txt"), lines.join("\n") + "\n")?;
    }
    println!(
        "ratio p50 {:.2}x, p99 {:.2}x; file {} MiB, {:.0} bytes per user+session",
        p50_big as f64 / p50_small as f64,
        p99_big as f64 / p99_small as f64,
        size_big / (1 << 20),
        (size_big - size_small) as f64 / (n - small) as f64
    );
    Ok(())
}
