//! The benchmark of the cross-instance invalidation delay (`#[ignore]`d; p50/p99 over
//! `LOGOUTS`, default 1,000).

use crate::support;
use std::time::{Duration, Instant};
use support::GOOD_PW;

use super::*;

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
