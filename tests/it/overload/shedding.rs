//! Overload and graceful shutdown, against the demo as a child process.

use crate::support;

use std::time::{Duration, Instant};

use http::{Method, StatusCode};
use support::{Body, Demo, Http};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overload_sheds_logins_and_keeps_cheap_requests_fast() {
    // Timings: no heavy load and no other measurement meanwhile.
    let _alone = crate::support::alone::measuring().await;
    let dir = tempfile::tempdir().unwrap();
    let demo = Demo::start(
        &dir.path().join("over.redb"),
        &[
            ("BCRYPT_COST", "11"),
            ("AUTH_THROTTLE", "false"),
            ("AUTH_HASHING_THREADS", "1"),
            ("AUTH_HASHING_QUEUE", "2"),
        ],
    );
    let http = Http::new();
    let creds = [("email", "o@load.test"), ("password", "pw")];
    assert_eq!(
        demo.http.post("/users", Body::Form(&creds)).await.status,
        StatusCode::OK
    );
    let idle = {
        let mut t = Vec::new();
        for _ in 0..20 {
            let s = Instant::now();
            demo.http.get("/", "").await;
            t.push(s.elapsed());
        }
        t.sort();
        t[10]
    };
    let burst = futures_util::future::join_all((0..24).map(|_| {
        let http = http.clone();
        let url = demo.url("/sessions");
        async move { http.send(Method::POST, &url, &[], Body::Form(&creds)).await }
    }));
    let probe = async {
        tokio::time::sleep(Duration::from_millis(30)).await;
        let mut t = Vec::new();
        for _ in 0..20 {
            let s = Instant::now();
            let a = demo.http.get("/", "").await;
            assert_eq!(a.status, StatusCode::OK);
            t.push(s.elapsed());
        }
        t.sort();
        t[10]
    };
    let (answers, busy) = tokio::join!(burst, probe);
    let shed = answers
        .iter()
        .filter(|a| a.status == StatusCode::SERVICE_UNAVAILABLE)
        .count();
    let ok = answers
        .iter()
        .filter(|a| a.status == StatusCode::OK)
        .count();
    println!(
        "overload: {ok} logins served, {shed} shed; GET / median {idle:?} idle, {busy:?} during the burst"
    );
    assert_eq!(ok + shed, answers.len(), "only 200 or 503");
    assert!(shed > 0 && ok > 0);
    assert!(
        answers
            .iter()
            .filter(|a| a.status == StatusCode::SERVICE_UNAVAILABLE)
            .all(|a| a.header("retry-after").is_some())
    );
    assert!(
        busy < Duration::from_millis(50),
        "cheap requests keep their latency: {busy:?} (idle {idle:?})"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_finishes_in_flight_requests_durably() {
    // A heavy load: never beside a measurement.
    let _alone = crate::support::alone::loading().await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("graceful.redb");
    let mut demo = Demo::start(&db, &[("BCRYPT_COST", "11"), ("AUTH_THROTTLE", "false")]);
    let http = Http::new();
    let creds = [("email", "g@load.test"), ("password", "pw")];
    assert_eq!(
        demo.http.post("/users", Body::Form(&creds)).await.status,
        StatusCode::OK
    );
    let url = demo.url("/sessions");
    let in_flight: Vec<_> = (0..4)
        .map(|_| {
            let http = http.clone();
            let url = url.clone();
            tokio::spawn(
                async move { http.send(Method::POST, &url, &[], Body::Form(&creds)).await },
            )
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(40)).await;
    demo.signal("TERM");
    let mut cookies = Vec::new();
    for t in in_flight {
        let a = t.await.unwrap();
        assert_eq!(a.status, StatusCode::OK, "an in-flight request was cut off");
        cookies.push(a.cookie("session_id").unwrap());
    }
    let status = tokio::task::spawn_blocking(move || demo.wait())
        .await
        .unwrap();
    assert!(status.success(), "exit 0 after draining");
    let demo = Demo::start(&db, &[]);
    for c in cookies {
        let header = format!("session_id={c}");
        let a = demo.http.get("/profile", &header).await;
        assert_eq!(
            a.status,
            StatusCode::OK,
            "the writes of drained requests are durable"
        );
    }
}
