//! The in-process figures on `PgStore` (feature `postgres`), when `benches/scale.sh` is given
//! `AUTH_DATABASE_URL`: the same population and `Auth::authenticate` measurements as on redb, in
//! the throwaway database the script made, written to `pg_scale.json` beside `scale.json`,
//! with the token files the HTTP rounds draw from (`pg_tokens.txt`, `pg_small_tokens.txt`).
//! Every look-up without a cache is a round trip to the server, so the uncached figures take
//! a tenth of the samples and skip the warming pass (the server's buffers warm as they go).

use std::{path::Path, sync::Arc, time::Instant};

use serde_json::json;
use tower_user_auth::{Auth, AuthConfig, store::PgStore};

use crate::{
    Plan, budget_holding, latency, memory::write_tokens, populate::populate, print_latencies, us,
};

async fn connect(url: &str, cache_bytes: usize) -> Result<PgStore, Box<dyn std::error::Error>> {
    Ok(PgStore::builder()
        .with_session_cache_bytes(cache_bytes)
        .connect(url)
        .await?)
}

/// Populates and measures on the database at `url`; the figures go to `dir/pg_scale.json`.
pub async fn run(
    url: &str,
    plan: &Plan,
    dir: &Path,
    config: &AuthConfig,
    hash: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    let (n, small, all) = (plan.n, 1_000.min(plan.n), budget_holding(plan.n));
    let samples = (plan.samples / 10).max(1_000);
    println!("PgStore: {n} users with one session each");

    let store = connect(url, 0).await?;
    let (mut tokens, mut users) = populate(&store, 0, small, hash).await;
    let auth = Auth::new(store, config.clone())?;
    let uncached_1k = latency::sample(&auth, &tokens, samples).await;
    drop(auth);
    write_tokens(&dir.join("pg_small_tokens.txt"), &tokens)?;
    let auth = Auth::new(connect(url, all).await?, config.clone())?;
    let cached_1k = latency::measure(&auth, &tokens, plan.samples).await;
    print_latencies(small, uncached_1k, cached_1k);

    let t0 = Instant::now();
    let (more_tokens, more_users) = populate(auth.store(), small, n, hash).await;
    tokens.extend(more_tokens);
    users.extend(more_users);
    drop(auth);
    println!("seeded {} more in {:.1?}", n - small, t0.elapsed());
    write_tokens(&dir.join("pg_tokens.txt"), &tokens)?;
    let auth = Auth::new(connect(url, 0).await?, config.clone())?;
    let uncached_n = latency::sample(&auth, &tokens, samples).await;
    let tokens = Arc::new(tokens);
    let writes = latency::write_load(&auth, Arc::clone(&tokens), &users, plan.writes).await;
    drop(auth);
    let auth = Auth::new(connect(url, all).await?, config.clone())?;
    let cached_n = latency::measure(&auth, &tokens, plan.samples).await;
    drop(auth);
    print_latencies(n, uncached_n, cached_n);
    println!(
        "writes: {} new sessions at {:.0}/s; validation p99 {} during, {} idle",
        plan.writes,
        writes.sessions_per_s,
        us(writes.validation.p99),
        us(uncached_n.p99)
    );
    let figures = json!({
        "n": n,
        "uncached_p50_ns_1k": uncached_1k.p50,
        "uncached_p50_ns_n": uncached_n.p50,
        "uncached_p99_ns_n": uncached_n.p99,
        "cached_p50_ns_1k": cached_1k.p50,
        "cached_p50_ns_n": cached_n.p50,
        "sessions_per_s": writes.sessions_per_s.round() as u64,
        "validation_p99_ns_idle": uncached_n.p99,
        "validation_p99_ns_writes": writes.validation.p99,
    });
    std::fs::write(dir.join("pg_scale.json"), figures.to_string())?;
    Ok(())
}
