//! Scale benchmark, in process: session validation through `Auth::authenticate` with 1,000 and
//! with N (default 1,000,000) users with one session each, uncached and with every session
//! cached, memory per cached session, disk per user and session after compaction, and
//! sessions created per second through the group-committed writer with validation latency
//! during that load and the disk's fsync latency beside it.
//!
//! ```text
//! cargo bench --bench scale -- 1000000
//! benches/scale.sh 1000000     # this, then the HTTP, criterion and start-up figures, as JSON
//! ```
//!
//! N is the first numeric argument (1,000,000 under `cargo bench`; a 2,000-record smoke run
//! when `cargo test --benches` runs this target, which passes no `--bench`).
//! `SCALE_KEEP=DIR` keeps the files in DIR for `benches/scale.sh`: `scale.redb` (N records,
//! compacted, plus the write load's sessions), `small.redb` (the first 1,000), `tokens.txt`
//! and `small_tokens.txt` (one session token a line), and `scale.json` (the figures).
//!
//! Records are written through the `Store` (group-committed, many writes in flight) with one
//! precomputed bcrypt hash: that shortcut is for this benchmark only.

mod disk;
mod latency;
mod memory;
#[cfg(feature = "postgres")]
mod pg;
mod populate;

use std::{path::PathBuf, sync::Arc, time::Duration};

use serde_json::json;
use tower_user_auth::{Auth, AuthConfig, store::RedbStore};

/// A session-cache budget that holds `sessions` (512 bytes each, at least 64 MiB): the budget of
/// the "every session cached" figures.
pub fn budget_holding(sessions: usize) -> usize {
    sessions.saturating_mul(512).max(64 << 20)
}

/// How much a run measures.
struct Plan {
    n: usize,
    samples: usize,
    writes: usize,
    fsync_rounds: usize,
}

impl Plan {
    /// N: the first numeric argument; else 1,000,000 when run by `cargo bench` (which passes
    /// `--bench`), or a quick smoke run when run as a test by `cargo test --benches`.
    fn from_args(args: impl Iterator<Item = String>) -> Self {
        let mut benching = false;
        let mut n = None;
        for arg in args {
            if let Ok(v) = arg.parse() {
                n = n.or(Some(v));
            }
            benching |= arg == "--bench";
        }
        let smoke = n.is_none() && !benching;
        let n = n.unwrap_or(if smoke { 2_000 } else { 1_000_000 }).max(1);
        if smoke {
            Self {
                n,
                samples: 2_000,
                writes: 1_000,
                fsync_rounds: 20,
            }
        } else {
            Self {
                n,
                samples: 200_000,
                writes: (n / 10).clamp(1_000, 100_000),
                fsync_rounds: 200,
            }
        }
    }
}

fn us(ns: u64) -> String {
    format!("{:.2} µs", ns as f64 / 1000.0)
}

/// The line of `sessions` sessions' validation latencies, uncached and cached, on either store.
fn print_latencies(sessions: usize, uncached: latency::Percentiles, cached: latency::Percentiles) {
    println!(
        "{sessions:>9} sessions: uncached p50 {} p99 {}; cached p50 {}",
        us(uncached.p50),
        us(uncached.p99),
        us(cached.p50)
    );
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Writing a million sessions takes over a minute; with the default renewal interval every
    // one of them would then be renewed (one write each) during the measurement. A running
    // server spreads those writes over time; here they are kept out of the read figures.
    let config = AuthConfig::compat()
        .with_bcrypt_cost(4)
        .with_session_renewal(Duration::from_secs(24 * 3600));
    if let Some(dir) = std::env::var_os(memory::PROBE) {
        return memory::probe(&PathBuf::from(dir), config).await;
    }
    let plan = Plan::from_args(std::env::args().skip(1));
    let (n, small) = (plan.n, 1_000.min(plan.n));
    let temp = tempfile::tempdir()?;
    let dir = std::env::var_os("SCALE_KEEP").map_or_else(|| temp.path().to_owned(), PathBuf::from);
    let path = dir.join("scale.redb");
    let hash = bcrypt::hash("scale-benchmark-password", 4)?;
    let all = budget_holding(n);
    println!(
        "scale: {n} users with one session each; {} samples a figure",
        plan.samples
    );

    // 1,000: no cache, then a cache holding every session.
    let store = RedbStore::builder()
        .with_session_cache_bytes(0)
        .open(&path)?;
    let (mut tokens, mut users) = populate::populate(&store, 0, small, &hash).await;
    let auth = Auth::new(store, config.clone())?;
    let uncached_1k = latency::measure(&auth, &tokens, plan.samples).await;
    drop(auth);
    std::fs::copy(&path, dir.join("small.redb"))?;
    memory::write_tokens(&dir.join("small_tokens.txt"), &tokens)?;
    let store = RedbStore::builder()
        .with_session_cache_bytes(all)
        .open(&path)?;
    let auth = Auth::new(store, config.clone())?;
    let cached_1k = latency::measure(&auth, &tokens, plan.samples).await;
    print_latencies(small, uncached_1k, cached_1k);

    // N: written, compacted, then no cache.
    let t0 = std::time::Instant::now();
    let (more_tokens, more_users) = populate::populate(auth.store(), small, n, &hash).await;
    tokens.extend(more_tokens);
    users.extend(more_users);
    drop(auth);
    println!(
        "seeded {} more users and sessions in {:.1?}",
        n - small,
        t0.elapsed()
    );
    let (disk, store) =
        disk::compact_and_open(&path, RedbStore::builder().with_session_cache_bytes(0))?;
    let stats = store.stats().await?;
    let auth = Auth::new(store, config.clone())?;
    let uncached_n = latency::measure(&auth, &tokens, plan.samples).await;
    let tokens = Arc::new(tokens);
    let writes = latency::write_load(&auth, Arc::clone(&tokens), &users, plan.writes).await;
    drop(auth);
    let fsync = disk::fsync_median(&dir, plan.fsync_rounds)?;
    println!(
        "{n:>9} sessions: uncached p50 {} p99 {}",
        us(uncached_n.p50),
        us(uncached_n.p99)
    );
    println!(
        "disk after compact(): {} bytes, {} per user+session ({} users, {} sessions)",
        disk,
        disk / n as u64,
        stats.users,
        stats.sessions
    );
    println!(
        "writes: {} new sessions at {:.0}/s (fsync p50 {:.2} ms); validation p99 {} during, {} idle",
        plan.writes,
        writes.sessions_per_s,
        fsync.as_secs_f64() * 1e3,
        us(writes.validation.p99),
        us(uncached_n.p99)
    );

    // N, every session cached; then the memory per cached session, in a fresh process.
    let store = RedbStore::builder()
        .with_session_cache_bytes(all)
        .open(&path)?;
    let auth = Auth::new(store, config.clone())?;
    let cached_n = latency::measure(&auth, &tokens, plan.samples).await;
    drop(auth);
    memory::write_tokens(&dir.join("tokens.txt"), &tokens)?;
    let cache = memory::run_probe(&dir)?;
    println!(
        "{n:>9} sessions: cached p50 {}; a cached session: {} bytes of resident memory, {} by the cache's accounting; the live-digest filter: {} bytes a session",
        us(cached_n.p50),
        cache.resident,
        cache.accounted,
        cache.filter
    );

    let figures = json!({
        "n": n,
        "uncached_p50_ns_1k": uncached_1k.p50,
        "uncached_p99_ns_1k": uncached_1k.p99,
        "uncached_p50_ns_n": uncached_n.p50,
        "uncached_p99_ns_n": uncached_n.p99,
        "cached_p50_ns_1k": cached_1k.p50,
        "cached_p50_ns_n": cached_n.p50,
        "cache_bytes_per_session": cache.resident,
        "cache_accounted_bytes_per_session": cache.accounted,
        "filter_bytes_per_session": cache.filter,
        "disk_bytes_per_user_session": disk / n as u64,
        "sessions_per_s": writes.sessions_per_s.round() as u64,
        "fsync_ms": (fsync.as_secs_f64() * 1e5).round() / 100.0,
        "validation_p99_ns_idle": uncached_n.p99,
        "validation_p99_ns_writes": writes.validation.p99,
    });
    std::fs::write(dir.join("scale.json"), figures.to_string())?;

    // SCALE_PG_URL (benches/scale.sh sets it from AUTH_DATABASE_URL): the same on PgStore.
    match std::env::var("SCALE_PG_URL") {
        #[cfg(feature = "postgres")]
        Ok(url) if !url.is_empty() => pg::run(&url, &plan, &dir, &config, &hash).await?,
        #[cfg(not(feature = "postgres"))]
        Ok(url) if !url.is_empty() => return Err("SCALE_PG_URL needs --features postgres".into()),
        _ => {}
    }
    Ok(())
}
