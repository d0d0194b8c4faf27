//! Slow clients cannot hold the server (issue 9 P5), on loopback with real sockets: a
//! connection stuck in its headers is closed (the real 20 s default, once), a body that never
//! completes is answered 408, and while 1,000 stalled connections from 127.0.0.2 are open,
//! requests from 127.0.0.1 are still answered; idle kept-alive connections are closed and a
//! client address is capped. Against the demo as a child process (its `AUTH_*` variables
//! inject short durations), and in process for the layer's body deadline at its 30 s default.

#![cfg(feature = "server")]

use crate::support;

use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};

use bytes::Bytes;
use http::{Request, StatusCode, header};
use http_body_util::StreamBody;
use support::{Answer, Body, Demo};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpSocket, TcpStream},
};
use tower::ServiceExt;
use tower_user_auth::{AuthConfig, ConfigProblem, serve::Server};

/// The start of a request whose headers never end.
const PARTIAL_HEADERS: &[u8] = b"GET / HTTP/1.1\r\nHost: localhost\r\nX-Slow: 1";

/// The demo's address.
fn addr(demo: &Demo) -> SocketAddr {
    demo.base
        .strip_prefix("http://")
        .and_then(|a| a.parse().ok())
        .expect("the demo's address")
}

/// A connection to `to` from the loopback address `from` (127.0.0.0/8 is all loopback).
async fn connect_from(from: &str, to: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("socket");
    socket
        .bind(format!("{from}:0").parse().expect("address"))
        .expect("bind the client socket");
    socket.connect(to).await.expect("connect")
}

/// Reads until the server closes the connection, at most `limit`: what it sent and when it
/// closed, or `None` if it was still open at `limit`.
async fn until_closed(stream: &mut TcpStream, limit: Duration) -> Option<(Vec<u8>, Duration)> {
    let started = Instant::now();
    let mut got = Vec::new();
    let read = async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(limit, read).await.ok()?;
    Some((got, started.elapsed()))
}

/// Whether the server still holds `stream` open (nothing to read, no end of stream).
fn still_open(stream: &TcpStream) -> bool {
    let mut buf = [0u8; 1];
    matches!(stream.try_read(&mut buf), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stuck_headers_and_bodies_are_cut_while_other_clients_are_served() {
    // Timings: no heavy load and no other measurement meanwhile.
    let _alone = crate::support::alone::measuring().await;
    let dir = tempfile::tempdir().expect("temp dir");
    // The real header read timeout (20 s); a short body deadline (its 30 s default is checked
    // in process below); a per-client cap that lets 127.0.0.2 open its 1,000.
    let demo = Demo::start(
        &dir.path().join("slow.redb"),
        &[
            ("AUTH_BODY_TIMEOUT", "3"),
            ("AUTH_MAX_CONNECTIONS_PER_CLIENT", "1100"),
        ],
    );
    let to = addr(&demo);
    let started = Instant::now();

    // 1,000 connections from 127.0.0.2, each stuck in its headers.
    let mut stalled = Vec::new();
    for _ in 0..1000 {
        let mut s = connect_from("127.0.0.2", to).await;
        s.write_all(PARTIAL_HEADERS).await.expect("write");
        stalled.push(s);
    }
    // One more stuck in its headers, watched alone: closed within 30 s.
    let headers = tokio::spawn(async move {
        let mut s = connect_from("127.0.0.3", to).await;
        s.write_all(PARTIAL_HEADERS).await.expect("write");
        until_closed(&mut s, Duration::from_secs(30)).await
    });
    // A body that never completes: answered 408 (within 60 s; 3 s here).
    let body = tokio::spawn(async move {
        let mut s = connect_from("127.0.0.4", to).await;
        s.write_all(
            b"POST /users HTTP/1.1\r\nHost: localhost\r\n\
              Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nemail=",
        )
        .await
        .expect("write");
        until_closed(&mut s, Duration::from_secs(60)).await
    });

    // Meanwhile 127.0.0.1 is served, promptly.
    let creds = [("email", "fast@client.test"), ("password", "pw")];
    for (path, status) in [("/users", 200), ("/sessions", 200)] {
        let t = Instant::now();
        let a = demo.http.post(path, Body::Form(&creds)).await;
        assert_eq!(a.status, status, "{path}: {}", a.body);
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "{path}: {:?}",
            t.elapsed()
        );
    }
    for _ in 0..20 {
        let t = Instant::now();
        let a = demo.http.get("/", "").await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "GET /: {:?}",
            t.elapsed()
        );
    }
    assert!(
        stalled.iter().all(still_open),
        "the 1,000 were still open while 127.0.0.1 was served ({:?} in)",
        started.elapsed()
    );

    let (sent, after) = body
        .await
        .expect("task")
        .expect("a stalled body is answered within 60 s");
    let sent = String::from_utf8_lossy(&sent);
    assert!(sent.starts_with("HTTP/1.1 408"), "{sent}");
    assert!(sent.contains("x-content-type-options: nosniff"), "{sent}");
    assert!(after < Duration::from_secs(15), "answered after {after:?}");

    let (sent, after) = headers
        .await
        .expect("task")
        .expect("a connection stuck in its headers is closed within 30 s");
    assert!(
        after >= Duration::from_secs(15),
        "closed by the header timeout (20 s), not before: {after:?} ({sent:?})"
    );
    // The 1,000 stuck in their headers went the same way.
    for s in &mut stalled {
        assert!(
            until_closed(s, Duration::from_secs(5)).await.is_some(),
            "a stalled connection outlived the header timeout"
        );
    }
    let (status, stderr) = demo.terminate();
    assert_eq!(status.code(), Some(0), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_are_closed_and_each_client_is_capped() {
    // A heavy load: never beside a measurement.
    let _alone = crate::support::alone::loading().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let demo = Demo::start(
        &dir.path().join("idle.redb"),
        &[
            ("AUTH_IDLE_TIMEOUT", "2"),
            ("AUTH_HEADER_READ_TIMEOUT", "10"),
            ("AUTH_MAX_CONNECTIONS_PER_CLIENT", "4"),
        ],
    );
    let to = addr(&demo);
    // 127.0.0.2 holds its 4: a fifth is closed at once, unanswered.
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(connect_from("127.0.0.2", to).await);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(held.iter().all(still_open), "the first 4 are served");
    let mut fifth = connect_from("127.0.0.2", to).await;
    let _ = fifth.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
    let (sent, after) = until_closed(&mut fifth, Duration::from_secs(1))
        .await
        .expect("a fifth connection from the same client is closed at once");
    assert!(
        sent.is_empty(),
        "unanswered: {:?}",
        String::from_utf8_lossy(&sent)
    );
    assert!(after < Duration::from_secs(1), "{after:?}");
    // Another client is served meanwhile.
    assert_eq!(demo.http.get("/", "").await.status, StatusCode::OK);

    // A kept-alive connection idle after its answer is closed after the idle timeout (2 s),
    // well before the header timeout (10 s).
    let mut kept = connect_from("127.0.0.1", to).await;
    kept.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .expect("write");
    let mut buf = [0u8; 1024];
    let n = kept.read(&mut buf).await.expect("an answer");
    assert!(
        buf[..n].starts_with(b"HTTP/1.1 200"),
        "{:?}",
        String::from_utf8_lossy(&buf[..n])
    );
    let (_, after) = until_closed(&mut kept, Duration::from_secs(8))
        .await
        .expect("an idle kept-alive connection is closed");
    assert!(
        after >= Duration::from_millis(1500) && after < Duration::from_secs(6),
        "closed after {after:?}"
    );
    let (status, stderr) = demo.terminate();
    assert_eq!(status.code(), Some(0), "{stderr}");
}

/// The layer's own deadline on an auth route's body, at its default: 408 at 30 s (time is
/// paused and jumps ahead: the test takes no real time), with a JSON message.
#[tokio::test(start_paused = true)]
async fn a_body_that_never_completes_is_408_at_the_default_30_s() {
    // Timings: no heavy load and no other measurement meanwhile.
    let _alone = crate::support::alone::measuring().await;
    let (auth, _dir) = support::auth(support::seed_config());
    let never = StreamBody::new(futures_util::stream::pending::<
        Result<http_body::Frame<Bytes>, std::convert::Infallible>,
    >());
    let req = Request::post("/users")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::CONTENT_LENGTH, "100")
        .body(never)
        .expect("request");
    let started = tokio::time::Instant::now();
    let res = tokio::time::timeout(
        Duration::from_secs(60),
        support::echo_service(&auth).oneshot(req),
    )
    .await
    .expect("answered within 60 s")
    .expect("infallible");
    assert_eq!(started.elapsed(), Duration::from_secs(30));
    let a = Answer::read(res).await;
    support::assert_error(&a, StatusCode::REQUEST_TIMEOUT);
    assert_eq!(support::counts(&auth).0, 0, "nothing registered");
}

/// The library's loop: beyond `max_connections`, a new connection waits (in the listen
/// backlog) until one ends, then is served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beyond_the_total_cap_connections_wait_for_a_free_place() {
    // A heavy load: never beside a measurement.
    let _alone = crate::support::alone::loading().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let server = Server::from_listener(listener)
        .with_max_connections(2)
        .with_header_read_timeout(Duration::from_secs(10));
    let to = server.local_addr().expect("address");
    let app = tower::service_fn(|_req: Request<hyper::body::Incoming>| async {
        Ok::<_, std::convert::Infallible>(http::Response::new(http_body_util::Full::new(
            Bytes::from_static(b"ok"),
        )))
    });
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.serve(app, async {
        let _ = stopped.await;
    }));
    let first = connect_from("127.0.0.2", to).await;
    let _second = connect_from("127.0.0.3", to).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut third = connect_from("127.0.0.1", to).await;
    third
        .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .expect("write");
    assert!(
        until_closed(&mut third, Duration::from_millis(500))
            .await
            .is_none(),
        "the third waits while two are open"
    );
    drop(first);
    let (sent, _) = until_closed(&mut third, Duration::from_secs(5))
        .await
        .expect("served once a place is free");
    assert!(
        sent.starts_with(b"HTTP/1.1 200"),
        "{:?}",
        String::from_utf8_lossy(&sent)
    );
    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(5), serving)
        .await
        .expect("the loop stops on shutdown")
        .expect("task");
}

/// The body deadline joins the configuration's validation: zero is a problem.
#[test]
fn a_zero_body_timeout_is_refused_by_validation() {
    let problems = AuthConfig::hardened()
        .with_body_timeout(Duration::ZERO)
        .validate()
        .expect_err("refused")
        .problems()
        .to_vec();
    assert_eq!(problems, vec![ConfigProblem::Zero("body timeout")]);
    assert!(
        AuthConfig::hardened()
            .with_body_timeout(Duration::from_secs(1))
            .validate()
            .is_ok()
    );
}
