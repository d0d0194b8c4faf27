//! Lost connections and outages: a terminated connection is an error and is replaced, a
//! database outage answers 500 with a JSON body and the store recovers by itself within 2 s,
//! bad URLs and absent servers are errors.

use crate::support;
use futures_util::future::join_all;
use http::{Method, StatusCode};
use std::time::{Duration, Instant};
use support::{Body, assert_error, call, cookie_header, request_from};
use tower_user_auth::{
    Auth, StoreError,
    store::{PgStore, UserQuery, prelude::*},
};

/// The server ends every connection of the store (`pg_terminate_backend`): calls answer or
/// fail with a `StoreError`, never a panic, and the pool replaces the connections by itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminated_connections_are_errors_then_replaced() {
    // Timings: no heavy load and no other measurement meanwhile.
    let _alone = crate::support::alone::measuring().await;
    let Some(db) = support::postgres::database().await else {
        return;
    };
    let store = db.store().await;
    let user = store.add_user("t@x.io", "$2b$04$h").await.unwrap();
    // Several connections in the pool.
    join_all((0..8).map(|_| store.find_user_by(UserQuery::Id(user.id)))).await;
    let client = db.client().await;
    let ended: i64 = client
        .query_one(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(ended >= 1, "the store's connections were ended");
    let since = Instant::now();
    let mut answered = 0;
    while answered < 20 {
        match store.find_user_by(UserQuery::Id(user.id)).await {
            Ok(found) => {
                assert_eq!(found.id, user.id);
                answered += 1;
            }
            Err(StoreError::Backend(_)) => {
                assert!(
                    since.elapsed() < Duration::from_secs(2),
                    "not recovered in 2 s"
                );
            }
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
}

/// A database outage: while the server is down the layer answers 500 with a JSON body (not a
/// hang, not a dropped connection); once it is back, the same store serves again within 2 s,
/// with no restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_answers_500_json_and_the_store_recovers_within_2_s() {
    // Timings: no heavy load and no other measurement meanwhile.
    let _alone = crate::support::alone::measuring().await;
    let Some(cluster) = support::postgres::own_cluster() else {
        return;
    };
    let store = PgStore::connect(&cluster.url()).await.expect("connect");
    let auth = Auth::new(store, support::seed_config()).expect("valid configuration");
    let svc = support::service(&auth);
    let send = |method: Method, path: &'static str, cookie: String, body: Body<'static>| {
        let svc = svc.clone();
        async move {
            let req = request_from("127.0.0.1", method, path, &cookie_header(&cookie), body);
            call(&svc, req).await
        }
    };
    const CREDS: &[(&str, &str)] = &[("email", "o@x.io"), ("password", "pw")];
    let a = send(Method::POST, "/users", String::new(), Body::Form(CREDS)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let login = send(Method::POST, "/sessions", String::new(), Body::Form(CREDS)).await;
    let cookie = format!("session_id={}", login.cookie("session_id").unwrap());
    let a = send(Method::GET, "/profile", cookie.clone(), Body::Empty).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);

    cluster.stop().expect("stop the cluster");
    for _ in 0..3 {
        let a = send(Method::GET, "/profile", cookie.clone(), Body::Empty).await;
        assert_error(&a, StatusCode::INTERNAL_SERVER_ERROR);
        let a = send(Method::POST, "/sessions", String::new(), Body::Form(CREDS)).await;
        assert_error(&a, StatusCode::INTERNAL_SERVER_ERROR);
    }

    cluster.start_again().expect("start the cluster again");
    let back = Instant::now();
    loop {
        let a = send(Method::GET, "/profile", cookie.clone(), Body::Empty).await;
        if a.status == StatusCode::OK {
            break;
        }
        assert_error(&a, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(
            back.elapsed() < Duration::from_secs(2),
            "not recovered 2 s after the database was back"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let login = send(Method::POST, "/sessions", String::new(), Body::Form(CREDS)).await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.body);
}

/// A URL that does not parse, and a server that is not there, are errors, soon.
#[tokio::test]
async fn bad_urls_and_absent_servers_are_errors() {
    // Timings: no heavy load and no other measurement meanwhile.
    let _alone = crate::support::alone::measuring().await;
    let bad = PgStore::connect("postgres://[not a url").await;
    assert!(matches!(bad, Err(StoreError::Backend(_))), "{bad:?}");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let since = Instant::now();
    let absent = PgStore::connect(&format!("postgres://nobody@127.0.0.1:{port}/none")).await;
    assert!(matches!(absent, Err(StoreError::Backend(_))), "{absent:?}");
    assert!(since.elapsed() < Duration::from_secs(5));
}
