//! The site every test drives: the layer around `Echo` over a real redb file, served on a
//! real socket, with a manual clock; and an authenticator app (the shared harness's RFC 6238
//! codes, [`support::browser::totp`](crate::support::browser::totp), checked against the
//! RFC's vectors by the browser suite).

use std::{
    path::PathBuf,
    time::{Duration, UNIX_EPOCH},
};

use http::StatusCode;
use tempfile::TempDir;
use tower_user_auth::{
    Auth, AuthConfig, ManualClock,
    config::SecretKey,
    store::{RedbStore, SecondFactorRecord, UserQuery, prelude::*},
    user::UserId,
};

use crate::support::{
    Answer, Body, Client, DB_FILE, FormSite, GOOD_PW, Server, hardened_config, second_factor,
    serve_echo, unthrottled,
};

/// The key the site seals secrets under.
pub const KEY: [u8; 32] = [0x5a; 32];

/// Another key.
pub const OTHER_KEY: [u8; 32] = [0xa5; 32];

/// Seconds of a TOTP step.
pub const STEP: u64 = 30;

/// Where the clock starts: the first second of a step.
pub const T0: u64 = 1_700_000_010;

/// The hardened profile at bcrypt cost 4, unthrottled, sealing under [`KEY`].
pub fn config() -> AuthConfig {
    unthrottled(hardened_config()).with_secret_key(SecretKey::from_bytes(KEY))
}

/// An authenticator app holding `secret` (base32): the code of step `step`.
pub use crate::support::browser::totp::code_at as code;

/// A factor enabled over HTTP.
pub struct Enabled {
    /// The session that enabled it.
    pub cookie: String,
    /// The shared secret, base32.
    pub secret: String,
    pub recovery_codes: Vec<String>,
}

/// The layer over a redb file on a socket, with a manual clock at [`T0`].
pub struct Site {
    /// Keeps the database's directory as long as the site.
    _dir: TempDir,
    pub path: PathBuf,
    pub store: RedbStore,
    pub auth: Auth,
    pub clock: ManualClock,
    pub server: Server,
}

impl FormSite for Site {
    fn http(&self) -> &Client {
        &self.server.http
    }
}

impl Site {
    pub async fn new(config: AuthConfig) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join(DB_FILE);
        let store = RedbStore::open(&path).expect("open store");
        let clock = ManualClock::new(UNIX_EPOCH + Duration::from_secs(T0));
        let auth = Auth::with_clock(store.clone(), config, clock.clone()).expect("valid config");
        let server = serve_echo(&auth).await;
        Self {
            _dir: dir,
            path,
            store,
            auth,
            clock,
            server,
        }
    }

    /// On [`config`].
    pub async fn hardened() -> Self {
        Self::new(config()).await
    }

    /// Another instance of the layer over the same database and clock, on `config` (another
    /// key, or none), on its own socket.
    pub async fn instance(&self, config: AuthConfig) -> Server {
        let auth =
            Auth::with_clock(self.store.clone(), config, self.clock.clone()).expect("valid config");
        serve_echo(&auth).await
    }

    /// Sets the clock to `secs` after the epoch.
    pub fn set_time(&self, secs: u64) {
        self.clock.set(UNIX_EPOCH + Duration::from_secs(secs));
    }

    /// Moves the clock `n` steps forward.
    pub fn advance_steps(&self, n: u64) {
        self.clock.advance(Duration::from_secs(n * STEP));
    }

    /// The current step by the site's clock.
    pub fn step(&self) -> u64 {
        self.auth
            .now()
            .duration_since(UNIX_EPOCH)
            .expect("after the epoch")
            .as_secs()
            / STEP
    }

    /// Registers `email` with [`GOOD_PW`].
    pub async fn register(&self, email: &str) {
        let a = self
            .http()
            .post(
                "/users",
                Body::Form(&[("email", email), ("password", GOOD_PW)]),
            )
            .await;
        assert_eq!(a.status, StatusCode::OK, "register {email}: {}", a.body);
    }

    /// `POST /sessions` with [`GOOD_PW`] and `extra` fields.
    pub async fn log_in(&self, email: &str, extra: &[(&str, &str)]) -> Answer {
        log_in_at(self.http(), email, extra).await
    }

    /// Logs in with the password alone and returns the `Cookie` header of the session.
    pub async fn session(&self, email: &str) -> String {
        let a = self.log_in(email, &[]).await;
        assert_eq!(a.status, StatusCode::OK, "login {email}: {}", a.body);
        cookie(&a)
    }

    /// `POST /profile/totp` with the right password; asserts 200 and returns the secret.
    pub async fn begin(&self, cookie: &str) -> String {
        second_factor::begin(self.http(), cookie).await
    }

    /// `POST /profile/totp/confirm` with `code`.
    pub async fn confirm(&self, cookie: &str, code: &str) -> Answer {
        second_factor::confirm(self.http(), cookie, code).await
    }

    /// Registers `email`, logs in, sets up and enables a factor with the current code.
    pub async fn enabled(&self, email: &str) -> Enabled {
        self.register(email).await;
        let cookie = self.session(email).await;
        let (secret, recovery_codes) =
            second_factor::enable(self.http(), &cookie, self.step()).await;
        Enabled {
            cookie,
            secret,
            recovery_codes,
        }
    }

    pub async fn user_id(&self, email: &str) -> UserId {
        self.store
            .find_user_by(UserQuery::Email(email.to_owned()))
            .await
            .expect("user exists")
            .id
    }

    /// The stored factor of `email`.
    pub async fn factor(&self, email: &str) -> Option<SecondFactorRecord> {
        let id = self.user_id(email).await;
        self.store.second_factor(id).await.expect("read factor")
    }

    /// How many unused recovery codes the stored factor of `email` has (it must have one).
    pub async fn recovery_codes_left(&self, email: &str) -> usize {
        let factor = self.factor(email).await.expect("factor");
        factor.recovery_codes.len()
    }

    /// How many sessions `email` has stored.
    pub async fn sessions(&self, email: &str) -> usize {
        let id = self.user_id(email).await;
        self.store.sessions_of(id).await.expect("sessions").len()
    }
}

/// The `Cookie` header (`session_id=...`) of a login's answer (asserts there is one).
pub fn cookie(login: &Answer) -> String {
    login.session_cookie_header().expect("a session cookie")
}

/// `POST /sessions` on `http` with [`GOOD_PW`] and `extra` fields.
pub async fn log_in_at(http: &Client, email: &str, extra: &[(&str, &str)]) -> Answer {
    let mut fields = vec![("email", email), ("password", GOOD_PW)];
    fields.extend_from_slice(extra);
    http.post("/sessions", Body::Form(&fields)).await
}

/// Asserts a refusal: `status`, `message` when given, and no session cookie set.
pub fn assert_refused(a: &Answer, status: StatusCode, message: Option<&str>) {
    assert_eq!(a.status, status, "{}", a.body);
    if let Some(message) = message {
        assert_eq!(a.json()["message"], message, "{}", a.body);
    }
    // A refusal may clear a cookie it was sent (`session_id=`), never set one.
    let session = a.session_cookie().filter(|value| !value.is_empty());
    assert_eq!(session, None, "no session cookie: {:?}", a.headers);
}
