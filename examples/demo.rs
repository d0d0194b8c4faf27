//! The seed's app behind `AuthLayer`: a hyper server whose own routes are `GET /` and
//! `GET /me`, with the auth routes served by the layer.
//!
//! ```text
//! cargo run --release --example demo
//! ```
//!
//! Configured from the environment: `HOST` (127.0.0.1), `PORT` (5000; 0 picks a free port),
//! `AUTH_DB` (auth.redb), `BCRYPT_COST` (12), `AUTH_PROFILE` (`seed` or `hardened`) and the
//! `AUTH_*` options listed in the README. Stops gracefully on Ctrl-C or SIGTERM.

use std::{
    convert::Infallible, env, net::SocketAddr, process::ExitCode, str::FromStr, time::Duration,
};

use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::{body::Incoming, server::conn::http1};
use hyper_util::{rt::TokioIo, server::graceful::GracefulShutdown};
use tokio::net::TcpListener;
use tower::{ServiceBuilder, ServiceExt, service_fn};
use tower_user_auth::{Auth, AuthConfig, AuthLayer, AuthenticatedUser, PeerAddr, Profile};

/// The wrapped app: the seed's `GET /`, and `GET /me`, which reads the injected user.
async fn app(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let (status, body) = match (req.method().as_str(), req.uri().path()) {
        ("GET", "/") => (
            StatusCode::OK,
            serde_json::json!({ "message": "Bienvenue" }),
        ),
        ("GET", "/me") => match req.extensions().get::<AuthenticatedUser>() {
            Some(user) => (
                StatusCode::OK,
                serde_json::json!({ "id": user.id, "email": user.email }),
            ),
            None => (
                StatusCode::UNAUTHORIZED,
                serde_json::json!({ "message": "not logged in" }),
            ),
        },
        _ => (
            StatusCode::NOT_FOUND,
            serde_json::json!({ "message": "not found" }),
        ),
    };
    let mut res = Response::new(Full::new(Bytes::from(body.to_string())));
    *res.status_mut() = status;
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    Ok(res)
}

/// A problem with the environment, reported before the server starts.
#[derive(Debug)]
struct Setup(String);

impl<E: std::fmt::Display> From<E> for Setup {
    fn from(e: E) -> Self {
        Self(e.to_string())
    }
}

fn var(name: &str) -> Option<String> {
    env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn parse<T: FromStr>(name: &str) -> Result<Option<T>, Setup> {
    var(name)
        .map(|v| {
            v.trim()
                .parse()
                .map_err(|_| Setup(format!("{name}={v:?} is not a valid value")))
        })
        .transpose()
}

fn flag(name: &str) -> Result<Option<bool>, Setup> {
    var(name)
        .map(|v| match v.trim().to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => Ok(true),
            "0" | "false" | "no" | "off" => Ok(false),
            _ => Err(Setup(format!("{name}={v:?}: expected true or false"))),
        })
        .transpose()
}

fn seconds(name: &str) -> Result<Option<Duration>, Setup> {
    Ok(parse::<u64>(name)?.map(Duration::from_secs))
}

/// The configuration from `AUTH_PROFILE`, `BCRYPT_COST` and the `AUTH_*` variables.
fn config_from_env() -> Result<(AuthConfig, Duration), Setup> {
    let profile = match var("AUTH_PROFILE") {
        Some(p) => p.parse::<Profile>()?,
        None => Profile::Seed,
    };
    let mut c = AuthConfig::for_profile(profile);
    if let Some(cost) = parse("BCRYPT_COST")? {
        c = c.with_bcrypt_cost(cost)?;
    }
    if let Some(v) = var("AUTH_COOKIE_NAME") {
        c = c.with_cookie_name(v)?;
    }
    if let Some(v) = flag("AUTH_COOKIE_SECURE")? {
        c = c.with_secure_cookie(v);
    }
    if let Some(v) = seconds("AUTH_SESSION_IDLE_TIMEOUT")? {
        c = c.with_session_idle_timeout(v)?;
    }
    if let Some(v) = seconds("AUTH_SESSION_LIFETIME")? {
        c = c.with_session_lifetime(v)?;
    }
    if let Some(v) = seconds("AUTH_SESSION_RENEWAL")? {
        c = c.with_session_renewal(v);
    }
    if let Some(v) = parse::<usize>("AUTH_MAX_SESSIONS_PER_USER")? {
        c = c.with_max_sessions_per_user((v > 0).then_some(v));
    }
    if let Some(v) = seconds("AUTH_RESET_TOKEN_LIFETIME")? {
        c = c.with_reset_token_lifetime(v)?;
    }
    if let Some(v) = flag("AUTH_RESET_TOKEN_IN_RESPONSE")? {
        c = c.with_reset_token_in_response(v);
    }
    if let Some(v) = flag("AUTH_END_SESSIONS_ON_RESET")? {
        c = c.with_end_sessions_on_reset(v);
    }
    if let Some(v) = flag("AUTH_REGISTRATION")? {
        c = c.with_registration(v);
    }
    if let Some(v) = parse("AUTH_BODY_LIMIT")? {
        c = c.with_body_limit(v)?;
    }
    let threads = parse::<usize>("AUTH_HASHING_THREADS")?;
    let queue = parse::<usize>("AUTH_HASHING_QUEUE")?;
    if threads.is_some() || queue.is_some() {
        let threads =
            threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from));
        c = c.with_hashing_pool(threads, queue.unwrap_or(16 * threads))?;
    }
    let purge_every = seconds("AUTH_PURGE_INTERVAL")?.unwrap_or(Duration::from_secs(60));
    Ok((c, purge_every))
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

async fn run() -> Result<(), Setup> {
    let (config, purge_every) = config_from_env()?;
    let host = var("HOST").unwrap_or_else(|| "127.0.0.1".into());
    let port: u16 = parse("PORT")?.unwrap_or(5000);
    let db = var("AUTH_DB").unwrap_or_else(|| "auth.redb".into());
    let profile = config.profile();

    let auth = Auth::open(&db, config)
        .map_err(|e| Setup(format!("cannot open the database {db:?}: {e}")))?;
    let purger = auth.spawn_purger(purge_every);
    let service = ServiceBuilder::new()
        .layer(AuthLayer::new(auth))
        .service(service_fn(app));

    let listener = TcpListener::bind((host.as_str(), port))
        .await
        .map_err(|e| Setup(format!("cannot listen on {host}:{port}: {e}")))?;
    let addr: SocketAddr = listener.local_addr()?;
    println!("listening on http://{addr}");
    tracing::info!(%addr, %profile, db = %db, "serving");

    let graceful = GracefulShutdown::new();
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let service = service.clone();
                let per_request = hyper::service::service_fn(move |mut req: Request<Incoming>| {
                    req.extensions_mut().insert(PeerAddr(peer));
                    service.clone().oneshot(req)
                });
                let connection = http1::Builder::new().serve_connection(TokioIo::new(stream), per_request);
                let connection = graceful.watch(connection);
                tokio::spawn(async move {
                    if let Err(e) = connection.await {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                });
            }
            () = &mut shutdown => break,
        }
    }
    tracing::info!("shutting down: finishing in-flight requests");
    drop(listener);
    purger.abort();
    if tokio::time::timeout(Duration::from_secs(30), graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("some connections did not finish within 30 s");
    }
    drop(service);
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(Setup(message)) => {
            eprintln!("demo: {message}");
            ExitCode::from(2)
        }
    }
}
