//! Store faults injected on demand by a wrapper around the real redb store (I/O errors, a
//! full disk, corruption on read): the layer answers 500 with a JSON body, keeps serving what
//! does not need the store, and recovers when the store does.

use crate::support::{
    self,
    forward::{Forward, forward_store},
};

use std::sync::{
    Arc,
    atomic::{AtomicU8, Ordering},
};
use tower_user_auth::compat::SeedApi;

use http::{Method, StatusCode};
use support::{Answer, Body, DemoApp, call, cookie_header, request_from};
use tower_user_auth::{
    Auth, AuthService, StoreError,
    error::BackendError,
    store::{RedbStore, prelude::*},
};

const HEALTHY: u8 = 0;
const WRITES_FAIL: u8 = 1;
const EVERYTHING_FAILS: u8 = 2;

/// The real store, with faults switched on and off by the test.
#[derive(Clone)]
struct Faulty {
    inner: RedbStore,
    mode: Arc<AtomicU8>,
}

fn fault(what: &str) -> StoreError {
    let kind = if what == "write" {
        std::io::ErrorKind::StorageFull
    } else {
        std::io::ErrorKind::InvalidData
    };
    StoreError::Backend(BackendError::new(std::io::Error::new(
        kind,
        format!("injected {what} fault"),
    )))
}

impl Faulty {
    fn read(&self) -> Result<(), StoreError> {
        if self.mode.load(Ordering::SeqCst) == EVERYTHING_FAILS {
            Err(fault("read"))
        } else {
            Ok(())
        }
    }
    fn write(&self) -> Result<(), StoreError> {
        if self.mode.load(Ordering::SeqCst) == HEALTHY {
            Ok(())
        } else {
            Err(fault("write"))
        }
    }
}

impl Forward for Faulty {
    type Inner = RedbStore;

    fn inner(&self) -> &RedbStore {
        &self.inner
    }

    fn before_read(&self) -> Result<(), StoreError> {
        self.read()
    }

    fn before_write(&self) -> Result<(), StoreError> {
        self.write()
    }
}

forward_store!(Faulty);

impl SharedThrottling for Faulty {}

/// No session cache in front of it: every session look-up reaches the injected faults, as
/// each one did when the cache was inside the store.
impl ChangeNotifications for Faulty {}

const PEER: &str = "192.0.2.50:1000";

/// One request from [`PEER`], with `cookie` as the `Cookie` header unless it is empty.
async fn send(
    svc: &AuthService<DemoApp, Faulty>,
    method: Method,
    path: &str,
    cookie: &str,
    body: Body<'_>,
) -> Answer {
    call(
        svc,
        request_from(PEER, method, path, &cookie_header(cookie), body),
    )
    .await
}

#[tokio::test]
async fn faults_answer_500_json_and_the_layer_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let mode = Arc::new(AtomicU8::new(HEALTHY));
    let store = Faulty {
        inner: RedbStore::open(dir.path().join("auth.redb")).unwrap(),
        mode: Arc::clone(&mode),
    };
    let auth = Auth::new(store, support::seed_config()).expect("valid configuration");
    let svc = support::service(&auth);
    let creds = [("email", "f@x.io"), ("password", "pw")];
    let a = send(&svc, Method::POST, "/users", "", Body::Form(&creds)).await;
    assert_eq!(a.status, StatusCode::OK);
    let login = send(&svc, Method::POST, "/sessions", "", Body::Form(&creds)).await;
    let cookie = format!("session_id={}", login.cookie("session_id").unwrap());

    // A full disk: writes fail, reads work.
    mode.store(WRITES_FAIL, Ordering::SeqCst);
    for (m, p, body) in [
        (
            Method::POST,
            "/users",
            Body::Form(&[("email", "g@x.io"), ("password", "pw")]),
        ),
        (Method::POST, "/sessions", Body::Form(&creds)),
        (
            Method::POST,
            "/reset_password",
            Body::Form(&[("email", "f@x.io")]),
        ),
    ] {
        let a = send(&svc, m, p, "", body).await;
        assert_eq!(
            a.status,
            StatusCode::INTERNAL_SERVER_ERROR,
            "{p}: {}",
            a.body
        );
        assert_eq!(a.json(), serde_json::json!({"message": "internal error"}));
        assert!(
            !a.body.contains("injected"),
            "no internals leak to the client"
        );
    }
    let a = send(&svc, Method::GET, "/profile", &cookie, Body::Empty).await;
    assert_eq!(a.status, StatusCode::OK, "reads still work");
    let a = send(&svc, Method::DELETE, "/sessions", &cookie, Body::Empty).await;
    assert_eq!(a.status, StatusCode::INTERNAL_SERVER_ERROR);

    // I/O errors or corruption on read: every store access fails.
    mode.store(EVERYTHING_FAILS, Ordering::SeqCst);
    for (m, p) in [
        (Method::GET, "/profile"),
        (Method::GET, "/me"),
        (Method::GET, "/sessions"),
    ] {
        let a = send(&svc, m, p, &cookie, Body::Empty).await;
        assert_eq!(a.status, StatusCode::INTERNAL_SERVER_ERROR, "{p}");
        assert!(a.json()["message"].is_string());
    }
    // What needs no store keeps being served.
    let a = send(&svc, Method::GET, "/", "", Body::Empty).await;
    assert_eq!(a.status, StatusCode::OK);
    let a = send(
        &svc,
        Method::POST,
        "/users",
        "",
        Body::Form(&[("email", "x")]),
    )
    .await;
    assert_eq!(
        a.status,
        StatusCode::BAD_REQUEST,
        "bad input is still told apart"
    );

    // Recovery.
    mode.store(HEALTHY, Ordering::SeqCst);
    let a = send(&svc, Method::GET, "/profile", &cookie, Body::Empty).await;
    assert_eq!(a.status, StatusCode::OK, "the session survived the outage");
    let a = send(
        &svc,
        Method::POST,
        "/users",
        "",
        Body::Form(&[("email", "g@x.io"), ("password", "pw")]),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(auth.valid_login("f@x.io", "pw").await.unwrap());
}
