//! Memory per cached session: resident-memory growth while filling the session cache with
//! every session, divided by the sessions, measured in a fresh process (this bench binary
//! started again with `SCALE_CACHE_PROBE`), so that memory an earlier phase freed cannot be
//! reused unseen. redb's own page cache is kept small there (`redb::Builder::set_cache_size`,
//! handed to `RedbStoreBuilder::open_database`) so that its growth is not counted as the
//! session cache's, and the filter of live digests is built before the fill starts. The
//! cache's own accounting (`StoreStats`) is reported beside.

use std::path::{Path, PathBuf};

use tower_user_auth::{Auth, AuthConfig, store::RedbStore, token::SessionToken};

use crate::latency::warm;

/// The environment variable that makes this binary a probe: `DIR` holding `scale.redb` and
/// `tokens.txt`.
pub const PROBE: &str = "SCALE_CACHE_PROBE";

/// redb's page cache in the probe.
const REDB_CACHE: usize = 1 << 20;

/// Resident memory of this process in bytes, from /proc/self/status (`VmRSS`).
pub fn resident_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// The tokens written by [`write_tokens`].
pub fn read_tokens(path: &Path) -> Vec<SessionToken> {
    std::fs::read_to_string(path)
        .expect("the tokens file")
        .lines()
        .map(|l| SessionToken::parse(l).expect("a token written by this harness"))
        .collect()
}

/// One token a line: the sessions the HTTP measurements draw from.
pub fn write_tokens(path: &Path, tokens: &[SessionToken]) -> std::io::Result<()> {
    let mut text = String::with_capacity(tokens.len() * 37);
    for token in tokens {
        text.push_str(token.expose());
        text.push('\n');
    }
    std::fs::write(path, text)
}

/// The probe's side: prints the resident-memory growth per session while filling a cache
/// whose budget holds every session.
pub async fn probe(dir: &Path, config: AuthConfig) -> Result<(), Box<dyn std::error::Error>> {
    let tokens = read_tokens(&dir.join("tokens.txt"));
    let db = redb::Builder::new()
        .set_cache_size(REDB_CACHE)
        .create(dir.join("scale.redb"))?;
    let store = RedbStore::builder()
        .with_session_cache_bytes(crate::budget_holding(tokens.len()))
        .open_database(db)?;
    // The filter of live digests is built in the background at open: wait for it, so that
    // its memory is not counted as the cache's.
    let t0 = std::time::Instant::now();
    while !store.stats().await?.session_filter_ready && t0.elapsed().as_secs() < 120 {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let auth = Auth::new(store, config)?;
    let before = resident_bytes();
    warm(&auth, &tokens).await;
    let after = resident_bytes();
    let stats = auth.store().stats().await?;
    if stats.cached_sessions < tokens.len() as u64 {
        return Err(format!(
            "the budget held {} of {} sessions: raise budget_holding",
            stats.cached_sessions,
            tokens.len()
        )
        .into());
    }
    let per = |bytes: u64, entries: u64| bytes / entries.max(1);
    println!(
        "{} {} {}",
        per(after.saturating_sub(before), tokens.len() as u64),
        per(stats.session_cache_bytes, stats.cached_sessions),
        per(stats.session_filter_bytes, stats.session_filter_entries),
    );
    Ok(())
}

/// Memory per session, in bytes.
#[derive(Clone, Copy, Debug)]
pub struct CacheMemory {
    /// Resident-memory growth while filling the cache, ÷ sessions.
    pub resident: u64,
    /// The cache's own accounting (`StoreStats::session_cache_bytes` ÷ `cached_sessions`).
    pub accounted: u64,
    /// The live-digest filter's table ÷ its entries (built before the fill, not in it).
    pub filter: u64,
}

/// The parent's side: runs the probe on `dir` and reads its answer.
pub fn run_probe(dir: &Path) -> Result<CacheMemory, Box<dyn std::error::Error>> {
    let exe: PathBuf = std::env::current_exe()?;
    let out = std::process::Command::new(exe).env(PROBE, dir).output()?;
    if !out.status.success() {
        return Err(format!(
            "the cache probe failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    let text = String::from_utf8(out.stdout)?;
    let figures: Vec<u64> = text
        .lines()
        .last()
        .unwrap_or("")
        .split_whitespace()
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    match figures[..] {
        [resident, accounted, filter] => Ok(CacheMemory {
            resident,
            accounted,
            filter,
        }),
        _ => Err(format!("the cache probe answered {text:?}").into()),
    }
}
