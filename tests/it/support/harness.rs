//! In process: an `Auth` on a real redb file in a temporary directory, the layer called with
//! `oneshot`, and [`Harness`], which bundles them with a [`ManualClock`] and the [`Echo`] app.

use std::{
    convert::Infallible,
    path::PathBuf,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use http::{Method, Request, Response};
use tempfile::TempDir;
use tower::{Layer, ServiceBuilder, ServiceExt};
use tower_user_auth::{
    Auth, AuthConfig, AuthLayer, AuthService, ManualClock, PeerAddr, User, UserId,
    store::{RedbStore, UserQuery, prelude::*},
    token::TokenDigest,
};

use super::{
    Answer, DEFAULT_PEER, DemoApp, Echo, FullBody, demo_app, empty, form, from_peer, get,
    hardened_config, seed_config, with_cookie,
};

/// Where every [`Harness`]'s clock starts: a plausible present.
pub const START_SECS: u64 = 1_700_000_000;

/// The name of the database file in the temporary directory.
pub const DB_FILE: &str = "auth.redb";

/// [`START_SECS`] as a time.
pub fn start_time() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(START_SECS)
}

/// An `Auth` on a fresh redb file; the directory lives as long as the returned guard.
pub fn auth(config: AuthConfig) -> (Auth, TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let auth = Auth::open(dir.path().join(DB_FILE), config).expect("open store");
    (auth, dir)
}

/// As [`auth`], with a clock the test moves (starting now).
pub fn auth_with_clock(config: AuthConfig) -> (Auth, ManualClock, TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let clock = ManualClock::new(SystemTime::now());
    let store = RedbStore::open(dir.path().join(DB_FILE)).expect("open store");
    let auth = Auth::with_clock(store, config, clock.clone()).expect("valid configuration");
    (auth, clock, dir)
}

/// How many users, sessions and reset tokens the store holds.
pub fn counts(auth: &Auth) -> (u64, u64, u64) {
    auth.store().counts().expect("counts")
}

/// The layer around the demo's app ([`super::app`]), in process.
pub fn service<S: Store>(auth: &Auth<S>) -> AuthService<DemoApp, S> {
    ServiceBuilder::new()
        .layer(AuthLayer::new(auth.clone()))
        .service(demo_app())
}

/// The layer around [`Echo`], in process.
pub fn echo_service(auth: &Auth) -> AuthService<Echo, RedbStore> {
    AuthLayer::new(auth.clone()).layer(Echo::default())
}

/// Calls the in-process service once, and reads the answer (10 s at most for each).
pub async fn call<S, B, RB>(svc: &S, req: Request<B>) -> Answer
where
    S: tower::Service<Request<B>, Response = Response<RB>, Error = Infallible> + Clone,
    RB: http_body::Body,
    RB::Error: std::fmt::Debug,
{
    let what = format!("{} {}", req.method(), req.uri());
    let res = tokio::time::timeout(Duration::from_secs(10), svc.clone().oneshot(req))
        .await
        .unwrap_or_else(|_| panic!("{what}: no answer within 10 s"))
        .expect("infallible");
    tokio::time::timeout(Duration::from_secs(10), Answer::read(res))
        .await
        .unwrap_or_else(|_| panic!("{what}: no body within 10 s"))
}

/// An `Auth` over a real redb file in a temporary directory, with a manual clock starting at
/// [`START_SECS`], and the [`Echo`] app behind `AuthLayer`.
pub struct Harness {
    pub dir: TempDir,
    pub path: PathBuf,
    pub store: RedbStore,
    pub auth: Auth,
    pub clock: ManualClock,
    pub app: Echo,
}

impl Harness {
    pub fn new(config: AuthConfig) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join(DB_FILE);
        let store = RedbStore::open(&path).expect("open store");
        let clock = ManualClock::new(start_time());
        let auth =
            Auth::with_clock(store.clone(), config, clock.clone()).expect("valid configuration");
        Self {
            dir,
            path,
            store,
            auth,
            clock,
            app: Echo::default(),
        }
    }

    /// On [`seed_config`].
    pub fn seed() -> Self {
        Self::new(seed_config())
    }

    /// On [`hardened_config`].
    pub fn hardened() -> Self {
        Self::new(hardened_config())
    }

    /// The layer around the harness's [`Echo`].
    pub fn service(&self) -> AuthService<Echo, RedbStore> {
        AuthLayer::new(self.auth.clone()).layer(self.app.clone())
    }

    /// How many requests reached the app.
    pub fn app_calls(&self) -> usize {
        self.app.calls()
    }

    /// Sends `req` through the layer, from [`DEFAULT_PEER`] unless it names a peer.
    pub async fn send(&self, req: Request<FullBody>) -> Answer {
        if req.extensions().get::<PeerAddr>().is_some() {
            return self.send_raw(req).await;
        }
        self.send_raw(from_peer(req, DEFAULT_PEER)).await
    }

    /// Sends `req` as it is (no peer address added).
    pub async fn send_raw(&self, req: Request<FullBody>) -> Answer {
        let res = self.service().oneshot(req).await.expect("infallible");
        Answer::read(res).await
    }

    /// `POST /users`.
    pub async fn register(&self, email: &str, password: &str) -> Answer {
        self.send(credentials("/users", email, password)).await
    }

    /// Registers and asserts 200.
    pub async fn registered(&self, email: &str, password: &str) -> UserId {
        let res = self.register(email, password).await;
        assert_eq!(res.status, 200, "register {email}: {}", res.body);
        self.user(email).await.id
    }

    /// `POST /sessions`.
    pub async fn login(&self, email: &str, password: &str) -> Answer {
        self.send(credentials("/sessions", email, password)).await
    }

    /// `POST /sessions` from `peer`.
    pub async fn login_from(&self, email: &str, password: &str, peer: &str) -> Answer {
        self.send(from_peer(credentials("/sessions", email, password), peer))
            .await
    }

    /// Logs in and returns the session cookie's value (asserts 200).
    pub async fn session(&self, email: &str, password: &str) -> String {
        let res = self.login(email, password).await;
        assert_eq!(res.status, 200, "login {email}: {}", res.body);
        res.session_cookie().expect("a session cookie")
    }

    /// `GET /profile` with the session cookie.
    pub async fn profile(&self, token: &str) -> Answer {
        self.send(with_cookie(get("/profile"), token)).await
    }

    /// `DELETE /sessions` with the session cookie.
    pub async fn logout(&self, token: &str) -> Answer {
        self.send(with_cookie(empty(Method::DELETE, "/sessions"), token))
            .await
    }

    /// `GET /` through the layer with the cookie: the wrapped app's answer.
    pub async fn app_get(&self, token: &str) -> Answer {
        self.send(with_cookie(get("/"), token)).await
    }

    /// `POST /reset_password`.
    pub async fn request_reset(&self, email: &str) -> Answer {
        self.send(form(Method::POST, "/reset_password", &[("email", email)]))
            .await
    }

    /// `PUT /reset_password`.
    pub async fn reset(&self, email: &str, token: &str, new_password: &str) -> Answer {
        self.send(form(
            Method::PUT,
            "/reset_password",
            &[
                ("email", email),
                ("reset_token", token),
                ("new_password", new_password),
            ],
        ))
        .await
    }

    /// `PUT /profile/password` with the session cookie.
    pub async fn change_password(&self, cookie: &str, current: &str, new: &str) -> Answer {
        self.send(with_cookie(
            form(
                Method::PUT,
                "/profile/password",
                &[("current_password", current), ("new_password", new)],
            ),
            cookie,
        ))
        .await
    }

    /// The stored account of `email` (panics if there is none).
    pub async fn user(&self, email: &str) -> User {
        self.store
            .find_user_by(UserQuery::Email(email.to_owned()))
            .await
            .expect("user exists")
    }

    /// Whether an account of `email` is stored.
    pub async fn user_exists(&self, email: &str) -> bool {
        self.store
            .find_user_by(UserQuery::Email(email.to_owned()))
            .await
            .is_ok()
    }

    /// (users, sessions, reset tokens) stored.
    pub fn counts(&self) -> (u64, u64, u64) {
        counts(&self.auth)
    }

    /// Whether the session of this cookie value is stored.
    pub async fn session_stored(&self, token: &str) -> bool {
        self.store
            .session(TokenDigest::of(token))
            .await
            .expect("read")
            .is_some()
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        self.clock.advance(by);
    }

    /// Lets detached tasks (session renewal) run, then waits until the store's writer has
    /// committed everything they queued: a no-op write queued after theirs is answered only
    /// after their commit.
    pub async fn drain(&self) {
        for _ in 0..50 {
            tokio::task::yield_now().await;
        }
        self.store
            .delete_session(TokenDigest([0; 32]))
            .await
            .expect("no-op write");
        // And let those tasks see their answers (they then forget the session they renewed).
        for _ in 0..50 {
            tokio::task::yield_now().await;
        }
    }
}

/// A form with `email` and `password` posted to `path`.
fn credentials(path: &str, email: &str, password: &str) -> Request<FullBody> {
    form(
        Method::POST,
        path,
        &[("email", email), ("password", password)],
    )
}
