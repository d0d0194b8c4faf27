//! Load and soak: a mixed workload of concurrent clients against the demo, with session and
//! token lifetimes of seconds; no 5xx, no lost write, and memory and database size that level
//! off once expired records are purged. Alone in its binary so that its load does not skew
//! the latency checks of other tests. `SOAK_SECONDS` sets its length (60 by default, for CI).

mod common;

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use common::{Body, Http, demo::Demo};
use http::{Method, StatusCode};

#[derive(Default)]
struct Tally {
    requests: AtomicU64,
    server_errors: AtomicU64,
    lost_writes: AtomicU64,
}

/// One client of the mixed workload: registrations (over a fixed pool of emails), logins,
/// profile reads, logouts and password resets, until `stop`.
async fn worker(base: String, id: u64, stop: Arc<AtomicBool>, tally: Arc<Tally>) {
    let http = Http::new();
    let mut n: u64 = id * 7919;
    let mut sessions: Vec<String> = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        n = n
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let user = (n >> 33) % 50;
        let email = format!("soak{user}-{id}@load.test");
        let password = format!("pw-{user}-{id}");
        let creds = [("email", email.as_str()), ("password", password.as_str())];
        let answer = match (n >> 20) % 10 {
            0 => {
                http.try_send(
                    Method::POST,
                    &format!("{base}/users"),
                    &[],
                    Body::Form(&creds),
                )
                .await
            }
            1..=3 => {
                let a = http
                    .try_send(
                        Method::POST,
                        &format!("{base}/sessions"),
                        &[],
                        Body::Form(&creds),
                    )
                    .await;
                if let Ok(a) = &a
                    && let Some(c) = a.cookie("session_id")
                {
                    // An acknowledged login is usable at once.
                    let header = format!("session_id={c}");
                    let p = http
                        .try_send(
                            Method::GET,
                            &format!("{base}/profile"),
                            &[("cookie", &header)],
                            Body::Empty,
                        )
                        .await;
                    if p.map(|p| p.status) != Ok(StatusCode::OK) {
                        tally.lost_writes.fetch_add(1, Ordering::Relaxed);
                    }
                    sessions.push(header);
                }
                a
            }
            4..=7 => match sessions.last() {
                Some(c) => {
                    http.try_send(
                        Method::GET,
                        &format!("{base}/profile"),
                        &[("cookie", c)],
                        Body::Empty,
                    )
                    .await
                }
                None => {
                    http.try_send(Method::GET, &format!("{base}/"), &[], Body::Empty)
                        .await
                }
            },
            8 => match sessions.pop() {
                Some(c) => {
                    let a = http
                        .try_send(
                            Method::DELETE,
                            &format!("{base}/sessions"),
                            &[("cookie", &c)],
                            Body::Empty,
                        )
                        .await;
                    if let Ok(a) = &a
                        && a.status == StatusCode::FOUND
                    {
                        let p = http
                            .try_send(
                                Method::GET,
                                &format!("{base}/profile"),
                                &[("cookie", &c)],
                                Body::Empty,
                            )
                            .await;
                        if p.map(|p| p.status) != Ok(StatusCode::FORBIDDEN) {
                            tally.lost_writes.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    a
                }
                None => continue,
            },
            _ => {
                let a = http
                    .try_send(
                        Method::POST,
                        &format!("{base}/reset_password"),
                        &[],
                        Body::Form(&[("email", &email)]),
                    )
                    .await;
                if let Ok(r) = &a
                    && let Some(token) = r.json().get("reset_token").and_then(|t| t.as_str())
                {
                    let body = [
                        ("email", email.as_str()),
                        ("reset_token", token),
                        ("new_password", password.as_str()),
                    ];
                    let _ = http
                        .try_send(
                            Method::PUT,
                            &format!("{base}/reset_password"),
                            &[],
                            Body::Form(&body),
                        )
                        .await;
                }
                a
            }
        };
        sessions.truncate(20);
        tally.requests.fetch_add(1, Ordering::Relaxed);
        match answer {
            Ok(a) if a.status.is_server_error() => {
                tally.server_errors.fetch_add(1, Ordering::Relaxed);
            }
            Ok(_) => {}
            Err(e) => panic!("the server failed to answer: {e}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_memory_and_database_size_level_off() {
    let seconds: u64 = std::env::var("SOAK_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("soak.redb");
    let demo = Demo::start(
        &db,
        &[
            ("AUTH_THROTTLE", "false"),
            ("AUTH_SESSION_LIFETIME", "3"),
            ("AUTH_SESSION_IDLE_TIMEOUT", "2"),
            ("AUTH_RESET_TOKEN_LIFETIME", "2"),
            ("AUTH_PURGE_INTERVAL", "1"),
        ],
    );
    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Tally::default());
    let workers: Vec<_> = (0..8)
        .map(|i| {
            tokio::spawn(worker(
                demo.base.clone(),
                i,
                Arc::clone(&stop),
                Arc::clone(&tally),
            ))
        })
        .collect();
    let samples = Arc::new(Mutex::new(Vec::new()));
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(seconds) {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let rss = demo.rss_kib().unwrap_or(0);
        let size = std::fs::metadata(&db).map_or(0, |m| m.len());
        samples
            .lock()
            .unwrap()
            .push((start.elapsed().as_secs(), rss, size));
    }
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.await.expect("a worker failed");
    }
    let samples = samples.lock().unwrap().clone();
    let half = samples.len() / 2;
    let (_, rss_mid, size_mid) = samples[half];
    let rss_max = samples[half..].iter().map(|s| s.1).max().unwrap();
    let size_max = samples[half..].iter().map(|s| s.2).max().unwrap();
    let requests = tally.requests.load(Ordering::Relaxed);
    println!("soak: {seconds} s, {requests} requests");
    println!("resident memory: {rss_mid} KiB at mid-run, {rss_max} KiB max in the second half");
    println!("database file: {size_mid} bytes at mid-run, {size_max} bytes max in the second half");
    for (t, rss, size) in &samples {
        println!("  t={t:>3}s rss={rss} KiB db={size} B");
    }
    assert_eq!(tally.server_errors.load(Ordering::Relaxed), 0, "no 5xx");
    assert_eq!(
        tally.lost_writes.load(Ordering::Relaxed),
        0,
        "no lost writes"
    );
    assert!(requests > seconds * 50, "the workload ran: {requests}");
    assert!(
        (rss_max as f64) < rss_mid as f64 * 1.10,
        "memory grew over 10% in the second half"
    );
    assert!(
        (size_max as f64) < size_mid as f64 * 1.10,
        "the database grew over 10% in the second half"
    );
}
