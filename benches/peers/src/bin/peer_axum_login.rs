//! The peer: the seed's contract as a Rust user would build it without this project, with axum
//! 0.8 and axum-login 0.18 over tower-sessions 0.14's `MemoryStore`. Users live in memory (two
//! hash maps behind an `RwLock`), bcrypt runs in `spawn_blocking`, the cookie is `session_id`
//! (not `Secure`, `SameSite=Lax`, as the seed's). Nothing here touches a disk, so the
//! comparison favours the peer.
//!
//! Reads `PORT` (5000) and `BCRYPT_COST` (12); listens on 127.0.0.1 only.

use std::{
    collections::HashMap,
    fmt,
    sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard},
};

use axum::{
    Form, Json, Router,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
};
use axum_login::{
    AuthManagerLayerBuilder, AuthSession, AuthUser, AuthnBackend, UserId,
    tower_sessions::{MemoryStore, SessionManagerLayer, cookie::SameSite},
};
use serde::Deserialize;
use serde_json::json;

/// One account. `Debug` leaves the hash out.
#[derive(Clone)]
struct User {
    id: u64,
    email: String,
    hash: String,
}

impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("email", &self.email)
            .finish_non_exhaustive()
    }
}

impl AuthUser for User {
    type Id = u64;

    fn id(&self) -> u64 {
        self.id
    }

    /// A password change invalidates the user's sessions, as axum-login intends.
    fn session_auth_hash(&self) -> &[u8] {
        self.hash.as_bytes()
    }
}

/// The accounts and the pending reset tokens.
#[derive(Default)]
struct Accounts {
    by_id: HashMap<u64, User>,
    by_email: HashMap<String, u64>,
    reset_tokens: HashMap<String, u64>,
}

/// axum-login's backend and the handlers' state.
#[derive(Clone)]
struct Backend {
    accounts: Arc<RwLock<Accounts>>,
    cost: u32,
}

impl Backend {
    fn read(&self) -> RwLockReadGuard<'_, Accounts> {
        self.accounts.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Accounts> {
        self.accounts
            .write()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// bcrypt off the async workers; `None` if hashing failed.
    async fn hash(&self, password: String) -> Option<String> {
        let cost = self.cost;
        tokio::task::spawn_blocking(move || bcrypt::hash(password, cost).ok())
            .await
            .ok()
            .flatten()
    }
}

/// The form fields of `POST /users` and `POST /sessions`.
#[derive(Clone, Deserialize)]
struct Credentials {
    email: String,
    password: String,
}

/// A failed bcrypt task (a panic in `spawn_blocking`).
#[derive(Debug)]
struct HashTaskFailed;

impl fmt::Display for HashTaskFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the bcrypt task failed")
    }
}

impl std::error::Error for HashTaskFailed {}

impl AuthnBackend for Backend {
    type User = User;
    type Credentials = Credentials;
    type Error = HashTaskFailed;

    async fn authenticate(&self, c: Credentials) -> Result<Option<User>, HashTaskFailed> {
        let user = {
            let accounts = self.read();
            accounts
                .by_email
                .get(&c.email)
                .and_then(|id| accounts.by_id.get(id))
                .cloned()
        };
        let Some(user) = user else { return Ok(None) };
        let hash = user.hash.clone();
        let ok =
            tokio::task::spawn_blocking(move || bcrypt::verify(c.password, &hash).unwrap_or(false))
                .await
                .map_err(|_| HashTaskFailed)?;
        Ok(ok.then_some(user))
    }

    async fn get_user(&self, id: &UserId<Self>) -> Result<Option<User>, HashTaskFailed> {
        Ok(self.read().by_id.get(id).cloned())
    }
}

type Session = AuthSession<Backend>;

fn already_registered() -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"message": "email already registered"})),
    )
        .into_response()
}

async fn index() -> Json<serde_json::Value> {
    Json(json!({"message": "Bienvenue"}))
}

async fn register(State(b): State<Backend>, Form(c): Form<Credentials>) -> Response {
    if b.read().by_email.contains_key(&c.email) {
        return already_registered();
    }
    let Some(hash) = b.hash(c.password).await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let mut accounts = b.write();
    if accounts.by_email.contains_key(&c.email) {
        return already_registered();
    }
    let id = accounts.by_id.len() as u64 + 1;
    accounts.by_email.insert(c.email.clone(), id);
    accounts.by_id.insert(
        id,
        User {
            id,
            email: c.email.clone(),
            hash,
        },
    );
    Json(json!({"email": c.email, "message": "user created"})).into_response()
}

async fn login(mut session: Session, Form(c): Form<Credentials>) -> Response {
    let email = c.email.clone();
    match session.authenticate(c).await {
        Ok(Some(user)) => match session.login(&user).await {
            Ok(()) => Json(json!({"email": email, "message": "logged in"})).into_response(),
            Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        },
        _ => StatusCode::UNAUTHORIZED.into_response(),
    }
}

async fn logout(mut session: Session) -> Response {
    if session.user.is_none() {
        return StatusCode::FORBIDDEN.into_response();
    }
    let _ = session.logout().await;
    Redirect::to("/").into_response()
}

async fn profile(session: Session) -> Response {
    match session.user {
        Some(user) => Json(json!({"email": user.email})).into_response(),
        None => StatusCode::FORBIDDEN.into_response(),
    }
}

#[derive(Deserialize)]
struct ResetRequest {
    email: String,
}

async fn reset_token(State(b): State<Backend>, Form(r): Form<ResetRequest>) -> Response {
    let mut accounts = b.write();
    let Some(&id) = accounts.by_email.get(&r.email) else {
        return StatusCode::FORBIDDEN.into_response();
    };
    let token = uuid::Uuid::new_v4().to_string();
    accounts.reset_tokens.retain(|_, owner| *owner != id);
    accounts.reset_tokens.insert(token.clone(), id);
    Json(json!({"email": r.email, "reset_token": token})).into_response()
}

#[derive(Deserialize)]
struct PasswordUpdate {
    email: String,
    reset_token: String,
    new_password: String,
}

async fn update_password(State(b): State<Backend>, Form(u): Form<PasswordUpdate>) -> Response {
    let Some(id) = b.write().reset_tokens.remove(&u.reset_token) else {
        return StatusCode::FORBIDDEN.into_response();
    };
    let Some(hash) = b.hash(u.new_password).await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    if let Some(user) = b.write().by_id.get_mut(&id) {
        user.hash = hash;
    }
    Json(json!({"email": u.email, "message": "Password updated"})).into_response()
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = env_or("PORT", 5000);
    let backend = Backend {
        accounts: Arc::default(),
        cost: env_or("BCRYPT_COST", 12),
    };
    let sessions = SessionManagerLayer::new(MemoryStore::default())
        .with_name("session_id")
        .with_secure(false)
        .with_same_site(SameSite::Lax);
    let auth = AuthManagerLayerBuilder::new(backend.clone(), sessions).build();
    let app = Router::new()
        .route("/", get(index))
        .route("/users", post(register))
        .route("/sessions", post(login).delete(logout))
        .route("/profile", get(profile))
        .route("/reset_password", post(reset_token).put(update_password))
        .with_state(backend)
        .layer(auth);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    axum::serve(listener, app).await
}
