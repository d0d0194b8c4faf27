//! Validation latency through `Auth::authenticate` (the shipped path), idle and under a
//! write load of new sessions through the store's group-committed writer.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Instant,
};

use futures_util::{StreamExt, stream};
use tower_user_auth::{Auth, store::prelude::*, token::SessionToken};

use crate::populate::{IN_FLIGHT, PopulatedUser, session_of};

/// Median and 99th percentile, in ns.
#[derive(Clone, Copy, Debug, Default)]
pub struct Percentiles {
    pub p50: u64,
    pub p99: u64,
}

impl Percentiles {
    fn of(mut times: Vec<u64>) -> Self {
        if times.is_empty() {
            return Self::default();
        }
        times.sort_unstable();
        Self {
            p50: times[times.len() / 2],
            p99: times[times.len() * 99 / 100],
        }
    }
}

/// A xorshift index generator: random sessions without a dependency.
struct Draw(u64);

impl Draw {
    fn next(&mut self, len: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        usize::try_from(self.0 % len as u64).unwrap_or(0)
    }
}

/// Every session once, as a running server would have seen them: warms redb's page cache,
/// and fills the session cache when the store has one.
pub async fn warm<S: Store>(auth: &Auth<S>, tokens: &[SessionToken]) {
    for token in tokens {
        let found = auth.authenticate(token).await.expect("store read");
        assert!(found.is_some(), "a populated session must be live");
    }
}

/// `samples` calls of `Auth::authenticate` on uniformly random live sessions, after `warm`.
pub async fn measure<S: Store>(
    auth: &Auth<S>,
    tokens: &[SessionToken],
    samples: usize,
) -> Percentiles {
    warm(auth, tokens).await;
    sample(auth, tokens, samples).await
}

/// `samples` calls of `Auth::authenticate` on uniformly random live sessions.
pub async fn sample<S: Store>(
    auth: &Auth<S>,
    tokens: &[SessionToken],
    samples: usize,
) -> Percentiles {
    let mut draw = Draw(0x9E37_79B9_7F4A_7C15);
    let mut times = Vec::with_capacity(samples);
    for _ in 0..samples {
        times.push(time_one(auth, tokens, &mut draw).await);
    }
    Percentiles::of(times)
}

/// One call of `Auth::authenticate` on the live session `draw` picks: its latency in ns.
async fn time_one<S: Store>(auth: &Auth<S>, tokens: &[SessionToken], draw: &mut Draw) -> u64 {
    let token = &tokens[draw.next(tokens.len())];
    let t0 = Instant::now();
    let found = auth.authenticate(token).await.expect("store read");
    let nanos = u64::try_from(t0.elapsed().as_nanos()).unwrap_or(u64::MAX);
    assert!(found.is_some(), "a populated session must be live");
    nanos
}

/// What the write load measured.
#[derive(Clone, Copy, Debug)]
pub struct WriteLoad {
    pub sessions_per_s: f64,
    /// Validation latency on another thread while the sessions were being created.
    pub validation: Percentiles,
}

/// Creates `count` new sessions for the users of the population (round robin) through
/// `Store::insert_session`, [`IN_FLIGHT`] at a time, while another thread validates random
/// live sessions through `Auth::authenticate` on its own runtime.
pub async fn write_load<S: Store + Clone>(
    auth: &Auth<S>,
    tokens: Arc<Vec<SessionToken>>,
    users: &[PopulatedUser],
    count: usize,
) -> WriteLoad {
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (auth, done) = (auth.clone(), Arc::clone(&done));
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                let mut draw = Draw(0x2545_F491_4F6C_DD1D);
                let mut times = Vec::new();
                while !done.load(Ordering::Relaxed) {
                    times.push(time_one(&auth, &tokens, &mut draw).await);
                }
                Percentiles::of(times)
            })
        })
    };
    let store = auth.store();
    let t0 = Instant::now();
    stream::iter((0..count).map(|i| {
        let user = users[i % users.len()];
        async move {
            store
                .insert_session(SessionToken::generate().digest(), session_of(user), None)
                .await
        }
    }))
    .buffer_unordered(IN_FLIGHT)
    .for_each(|r| {
        r.expect("creating a session");
        async {}
    })
    .await;
    let elapsed = t0.elapsed();
    done.store(true, Ordering::Relaxed);
    let validation = sampler.join().expect("the sampling thread");
    WriteLoad {
        sessions_per_s: count as f64 / elapsed.as_secs_f64(),
        validation,
    }
}
