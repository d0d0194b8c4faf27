//! Store faults injected on demand by a wrapper around the real redb store (I/O errors, a
//! full disk, corruption on read): the layer answers 500 with a JSON body, keeps serving what
//! does not need the store, and recovers when the store does.

use crate::support;

use std::{
    sync::{
        Arc,
        atomic::{AtomicU8, Ordering},
    },
    time::SystemTime,
};
use tower_user_auth::compat::SeedApi;

use http::{Method, StatusCode};
use support::{Answer, Body, DemoApp, call, cookie_header, request_from};
use tower_user_auth::{
    Auth, AuthService, StoreError, User, UserId,
    error::BackendError,
    store::{
        AccountVersion, DeviceRecord, EmailRedeemed, EmailTokenRecord, EndSessions, ImportedUser,
        ListedUser, PasswordReset, Purged, RedbStore, ResetRecord, SecondFactorChange,
        SecondFactorRecord, SessionEntry, SessionRecord, UserQuery, UserUpdate, VerifiedSession,
        prelude::*,
    },
    token::TokenDigest,
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

impl UserStore for Faulty {
    async fn add_user(&self, email: &str, hash: &str) -> Result<User, StoreError> {
        self.write()?;
        self.inner.add_user(email, hash).await
    }

    async fn find_user_by(&self, q: UserQuery) -> Result<User, StoreError> {
        self.read()?;
        self.inner.find_user_by(q).await
    }

    async fn update_user(&self, id: UserId, u: UserUpdate) -> Result<User, StoreError> {
        self.write()?;
        self.inner.update_user(id, u).await
    }

    async fn list_users(
        &self,
        after: Option<UserId>,
        limit: usize,
    ) -> Result<Vec<ListedUser>, StoreError> {
        self.read()?;
        self.inner.list_users(after, limit).await
    }

    async fn import_user(&self, user: ImportedUser) -> Result<User, StoreError> {
        self.write()?;
        self.inner.import_user(user).await
    }

    async fn delete_user(&self, id: UserId) -> Result<(), StoreError> {
        self.write()?;
        self.inner.delete_user(id).await
    }

    async fn delete_user_verified(
        &self,
        id: UserId,
        verified: VerifiedSession,
    ) -> Result<(), StoreError> {
        self.write()?;
        self.inner.delete_user_verified(id, verified).await
    }

    async fn rehash_password(
        &self,
        id: UserId,
        old: String,
        new: String,
    ) -> Result<bool, StoreError> {
        self.write()?;
        self.inner.rehash_password(id, old, new).await
    }

    async fn add_unconfirmed_user(
        &self,
        email: &str,
        hash: &str,
        t: TokenDigest,
        r: EmailTokenRecord,
        stale: SystemTime,
    ) -> Result<User, StoreError> {
        self.write()?;
        self.inner
            .add_unconfirmed_user(email, hash, t, r, stale)
            .await
    }

    async fn contest_unconfirmed(&self, email: &str) -> Result<bool, StoreError> {
        self.write()?;
        self.inner.contest_unconfirmed(email).await
    }
}

impl SessionStore for Faulty {
    async fn insert_session(
        &self,
        t: TokenDigest,
        s: SessionRecord,
        m: Option<usize>,
    ) -> Result<(), StoreError> {
        self.write()?;
        self.inner.insert_session(t, s, m).await
    }

    async fn session(&self, t: TokenDigest) -> Result<Option<SessionEntry>, StoreError> {
        self.read()?;
        self.inner.session(t).await
    }

    async fn touch_session(&self, t: TokenDigest, at: SystemTime) -> Result<(), StoreError> {
        self.write()?;
        self.inner.touch_session(t, at).await
    }

    async fn delete_session(&self, t: TokenDigest) -> Result<bool, StoreError> {
        self.write()?;
        self.inner.delete_session(t).await
    }

    async fn sessions_of(
        &self,
        id: UserId,
    ) -> Result<Vec<(TokenDigest, SessionRecord)>, StoreError> {
        self.read()?;
        self.inner.sessions_of(id).await
    }

    async fn delete_sessions_of(&self, id: UserId, w: EndSessions) -> Result<usize, StoreError> {
        self.write()?;
        self.inner.delete_sessions_of(id, w).await
    }
}

impl TokenStore for Faulty {
    async fn replace_reset_token(
        &self,
        t: TokenDigest,
        r: ResetRecord,
        read: AccountVersion,
    ) -> Result<(), StoreError> {
        self.write()?;
        self.inner.replace_reset_token(t, r, read).await
    }

    async fn reset_token(&self, t: TokenDigest) -> Result<Option<ResetRecord>, StoreError> {
        self.read()?;
        self.inner.reset_token(t).await
    }

    async fn reset_password(&self, r: PasswordReset) -> Result<User, StoreError> {
        self.write()?;
        self.inner.reset_password(r).await
    }

    async fn replace_email_token(
        &self,
        t: TokenDigest,
        r: EmailTokenRecord,
        read: AccountVersion,
    ) -> Result<(), StoreError> {
        self.write()?;
        self.inner.replace_email_token(t, r, read).await
    }

    async fn email_token(&self, t: TokenDigest) -> Result<Option<EmailTokenRecord>, StoreError> {
        self.read()?;
        self.inner.email_token(t).await
    }

    async fn redeem_email_token(
        &self,
        t: TokenDigest,
        now: SystemTime,
    ) -> Result<EmailRedeemed, StoreError> {
        self.write()?;
        self.inner.redeem_email_token(t, now).await
    }

    async fn confirm_with_new_password(
        &self,
        t: TokenDigest,
        now: SystemTime,
        hash: String,
    ) -> Result<User, StoreError> {
        self.write()?;
        self.inner.confirm_with_new_password(t, now, hash).await
    }

    async fn insert_device_token(
        &self,
        t: TokenDigest,
        r: DeviceRecord,
        max: usize,
    ) -> Result<(), StoreError> {
        self.write()?;
        self.inner.insert_device_token(t, r, max).await
    }

    async fn device_token(&self, t: TokenDigest) -> Result<Option<DeviceRecord>, StoreError> {
        self.read()?;
        self.inner.device_token(t).await
    }

    async fn record_device_failure(
        &self,
        t: TokenDigest,
        id: UserId,
        limit: u32,
    ) -> Result<Option<u32>, StoreError> {
        self.write()?;
        self.inner.record_device_failure(t, id, limit).await
    }

    async fn reset_device_failures(&self, t: TokenDigest) -> Result<bool, StoreError> {
        self.write()?;
        self.inner.reset_device_failures(t).await
    }

    async fn delete_device_tokens_of(&self, id: UserId) -> Result<usize, StoreError> {
        self.write()?;
        self.inner.delete_device_tokens_of(id).await
    }
}

impl SecondFactorStore for Faulty {
    async fn second_factor(&self, id: UserId) -> Result<Option<SecondFactorRecord>, StoreError> {
        self.read()?;
        self.inner.second_factor(id).await
    }

    async fn update_second_factor(
        &self,
        id: UserId,
        change: SecondFactorChange,
    ) -> Result<bool, StoreError> {
        self.write()?;
        self.inner.update_second_factor(id, change).await
    }
}

impl ExpiredDeletion for Faulty {
    async fn purge_expired(
        &self,
        now: SystemTime,
        idle: SystemTime,
        unconfirmed: SystemTime,
    ) -> Result<Purged, StoreError> {
        self.write()?;
        self.inner.purge_expired(now, idle, unconfirmed).await
    }
}

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
