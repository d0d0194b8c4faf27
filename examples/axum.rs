//! An axum 0.8 app with user accounts, for API clients and browsers alike: public pages, pages
//! for logged-in users only behind the `RequireAuth` guard, and the forms a browser logs in
//! with. `AuthLayer` serves the account routes itself (register `POST /users`, log in
//! `POST /sessions`, log out `DELETE /sessions`, ...); the app renders the pages.
//!
//! Try it:
//!
//! ```text
//! cargo run --example axum --features axum        # on http://127.0.0.1:3000, file axum-example.redb
//! curl -i localhost:3000/public                   # 200 for anyone
//! curl -i localhost:3000/me                       # 401 {"message":"login required"}
//! curl -i localhost:3000/account                  # the guard: 401 {"message":"login required"}
//! curl -i -H 'Accept: text/html' localhost:3000/account  # the guard: 303 to /login?next=%2Faccount
//! curl -d email=ann@example.com -d password='correct horse battery staple' localhost:3000/users
//! curl -c jar -d email=ann@example.com -d password='correct horse battery staple' localhost:3000/sessions
//! curl -b jar localhost:3000/me                   # hello ann@example.com
//! curl -b jar localhost:3000/account              # the account page
//! curl -b jar -X DELETE localhost:3000/sessions   # log out
//! ```
//!
//! Or open <http://127.0.0.1:3000/account> in a browser: the guard sends it to the login form
//! (`/login?next=%2Faccount`, with a link to register), and logging in brings it back.
//!
//! `cargo run --example axum --features axum -- --plain-axum` serves the same app with
//! `axum::serve` instead (see [`serve_with_axum`]).

use std::{collections::HashMap, io, net::SocketAddr};

use axum::{Router, extract::Query, response::Html, routing::get};
use tower_user_auth::{
    Auth, AuthConfig, AuthLayer, AuthenticatedUser, RequireAuth, safe_next, serve::Server,
};

/// The app: `AuthenticatedUser` for a page that needs a login (401 JSON without one),
/// `Option<AuthenticatedUser>` for a page that serves both, and `RequireAuth` on a group of
/// pages (401 JSON for API clients, 303 to the login form for browsers).
pub fn app(auth: Auth) -> Router {
    let account = Router::new()
        .route("/account", get(account))
        .route("/account/password", get(change_password))
        .route_layer(RequireAuth::new().with_login_page("/login"));
    Router::new()
        .route("/public", get(|| async { "anyone can read this" }))
        .route("/me", get(me))
        .route("/", get(home))
        .route("/login", get(login_form))
        .route("/register", get(register_form))
        .merge(account)
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

/// `GET /login[?next=/account][&error=wrong_credentials]`: the form posts to the layer's
/// `POST /sessions`, which answers a browser with 303 to `next` (or `/`), or back here with
/// `error`.
async fn login_form(Query(query): Query<HashMap<String, String>>) -> Html<String> {
    let form = credentials_form("/sessions", "Log in", &query);
    page(
        "Log in",
        &format!("{form}<p><a href=\"/register\">Register</a></p>"),
    )
}

/// `GET /register`: the layer's `POST /users` sends a browser on to `/login?notice=registered`.
async fn register_form(Query(query): Query<HashMap<String, String>>) -> Html<String> {
    page("Register", &credentials_form("/users", "Register", &query))
}

/// An email and password form posting to `action`, carrying a `next` from the query (only a
/// path on this site, and HTML-escaped, like everything taken from the request).
fn credentials_form(action: &str, button: &str, query: &HashMap<String, String>) -> String {
    let next = match query.get("next").and_then(|next| safe_next(next)) {
        Some(next) => format!(
            "<input type=\"hidden\" name=\"next\" value=\"{}\">",
            escape(next)
        ),
        None => String::new(),
    };
    format!(
        "{}<form method=\"post\" action=\"{action}\">{next}\
         <label>Email <input name=\"email\" type=\"email\" autocomplete=\"username\"></label>\
         <label>Password <input name=\"password\" type=\"password\"></label>\
         <button>{button}</button></form>",
        message(query)
    )
}

async fn account(user: AuthenticatedUser) -> Html<String> {
    // An HTML form can only GET or POST: `_method` asks the layer for DELETE (or PUT).
    let body = format!(
        "<p>Logged in as {}.</p><p><a href=\"/account/password\">Change password</a></p>\
         <form method=\"post\" action=\"/sessions\">\
         <input type=\"hidden\" name=\"_method\" value=\"DELETE\"><button>Log out</button></form>",
        escape(&user.email)
    );
    page("Your account", &body)
}

async fn change_password(Query(query): Query<HashMap<String, String>>) -> Html<String> {
    let body = format!(
        "{}<form method=\"post\" action=\"/profile/password\">\
         <input type=\"hidden\" name=\"_method\" value=\"PUT\">\
         <label>Current password <input name=\"current_password\" type=\"password\"></label>\
         <label>New password <input name=\"new_password\" type=\"password\"></label>\
         <button>Change password</button></form>",
        message(&query)
    );
    page("Change password", &body)
}

/// The message for the `error` or `notice` code the layer's redirect carries; never the
/// query's text itself.
fn message(query: &HashMap<String, String>) -> &'static str {
    let code = |name: &str| query.get(name).map(String::as_str);
    match (code("error"), code("notice")) {
        (Some("wrong_credentials"), _) => "<p>Wrong email or password.</p>",
        (Some("wrong_password"), _) => "<p>The current password is wrong.</p>",
        (Some("weak_password"), _) => "<p>Choose a longer, less common password.</p>",
        (Some("email_taken"), _) => "<p>That email is already registered.</p>",
        (Some("throttled"), _) => "<p>Too many attempts: wait a little and try again.</p>",
        (Some(_), _) => "<p>That did not work: please check the form.</p>",
        (None, Some("registered")) => "<p>Registered: you can log in.</p>",
        (None, Some("password_changed")) => "<p>Password changed.</p>",
        (None, _) => "",
    }
}

fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{title}</title></head>\
         <body><h1>{title}</h1>{body}</body></html>"
    ))
}

/// HTML-escapes text for an element or a quoted attribute.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
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
