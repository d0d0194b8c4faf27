//! An axum 0.8 app with user accounts: a public page, a page for logged-in users only, and a
//! page that greets both, behind `AuthLayer`, which serves the account routes itself
//! (register `POST /users`, log in `POST /sessions`, log out `DELETE /sessions`, ...).
//!
//! Try it:
//!
//! ```text
//! cargo run --example axum --features axum        # on http://127.0.0.1:3000, file axum-example.redb
//! curl -i localhost:3000/public                   # 200 for anyone
//! curl -i localhost:3000/me                       # 401 {"message":"login required"}
//! curl -d email=ann@example.com -d password='correct horse battery staple' localhost:3000/users
//! curl -c jar -d email=ann@example.com -d password='correct horse battery staple' localhost:3000/sessions
//! curl -b jar localhost:3000/me                   # hello ann@example.com
//! curl -b jar localhost:3000/                     # welcome back, ann@example.com
//! curl -b jar -X DELETE localhost:3000/sessions   # log out
//! ```
//!
//! `cargo run --example axum --features axum -- --plain-axum` serves the same app with
//! `axum::serve` instead (see [`serve_with_axum`]).

use std::{io, net::SocketAddr};

use axum::{Router, routing::get};
use tower_user_auth::{Auth, AuthConfig, AuthLayer, AuthenticatedUser, serve::Server};

/// The app: `AuthenticatedUser` for a page that needs a login (401 JSON without one),
/// `Option<AuthenticatedUser>` for a page that serves both.
pub fn app(auth: Auth) -> Router {
    Router::new()
        .route("/public", get(|| async { "anyone can read this" }))
        .route("/me", get(me))
        .route("/", get(home))
        .layer(AuthLayer::new(auth))
}

async fn me(user: AuthenticatedUser) -> String {
    format!("hello {}", user.email)
}

async fn home(user: Option<AuthenticatedUser>) -> String {
    match user {
        Some(user) => format!("welcome back, {}", user.email),
        None => "welcome, stranger".to_owned(),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let auth = Auth::open("axum-example.redb", AuthConfig::default())?; // the hardened profile
    let app = app(auth);
    if std::env::args().any(|arg| arg == "--plain-axum") {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
        serve_with_axum(listener, app).await?;
        return Ok(());
    }
    // `tower_user_auth::serve`: header (20 s) and idle (60 s) timeouts, connection caps (256
    // per client, 10,000 in all), each request's client address (`PeerAddr`) for throttling,
    // graceful shutdown on Ctrl-C.
    Server::bind("127.0.0.1:3000")
        .await?
        .serve(app, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await;
    Ok(())
}

/// Serves `app` with plain `axum::serve`. `into_make_service_with_connect_info` is what lets
/// the layer see each client's address (`ConnectInfo<SocketAddr>`): without it every client
/// shares one throttling key, and the layer logs a warning. What `axum::serve` leaves open
/// compared with `tower_user_auth::serve`: no header-read or idle timeout (a client that
/// sends nothing holds its connection forever) and no connection caps, per client or in all.
pub async fn serve_with_axum(listener: tokio::net::TcpListener, app: Router) -> io::Result<()> {
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await
}
