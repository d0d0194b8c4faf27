//! What the shared throttle costs a failed login (an `#[ignore]`d measurement).

use crate::support;
use std::time::Instant;
use tower_user_auth::auth::Login;
use tower_user_auth::{Auth, ThrottleConfig};

use super::ip;

/// What the shared throttle costs a failed login: medians of failed logins on one `PgStore`
/// with the throttle in memory and with the shared one (in PostgreSQL), interleaved, at bcrypt
/// cost 4 (the throttle's cost stands out) and 12 (in context). Prints the figures; asserts
/// nothing about time. Run it with
/// `cargo test --release --all-features --test it -- --ignored --nocapture failed_login_cost`.
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

    use tower_user_auth::store::{CachePolicy, CacheSubscriber, PgStore, prelude::*};

    use crate::support::forward::{Forward, forward_store};

    pub struct MemoryThrottle(pub PgStore);

    impl Forward for MemoryThrottle {
        type Inner = PgStore;

        fn inner(&self) -> &PgStore {
            &self.0
        }
    }

    forward_store!(MemoryThrottle);

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
