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

mod common;

use std::{env, net::SocketAddr, process::ExitCode, str::FromStr, time::Duration};

use tokio::net::TcpListener;
use tower::{ServiceBuilder, service_fn};
use tower_user_auth::{
    Auth, AuthConfig, AuthLayer, BoxError, Profile, Routes, ThrottleConfig,
    password::PasswordPolicy, token::ResetToken,
};

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
    let policy = password_policy_from_env(c.password_policy().clone())?;
    let throttle = throttle_from_env(c.throttle().clone())?;
    let routes = routes_from_env(c.routes().clone());
    c = c
        .with_password_policy(policy)
        .with_throttle(throttle)
        .with_routes(routes)?;
    if let Some(v) = var("AUTH_ALLOWED_ORIGINS") {
        c = c.with_allowed_origins(list(&v))?;
    }
    if let Some(v) = var("AUTH_TRUSTED_PROXIES") {
        c = c.with_trusted_proxies(list(&v))?;
    }
    // The development mailer: where the token does not go back in the answer, print it on
    // standard output (never in the tracing log).
    let token_in_answer = flag("AUTH_RESET_TOKEN_IN_RESPONSE")?.unwrap_or(profile == Profile::Seed);
    if !token_in_answer {
        c = c.with_reset_token_hook(|email: &str, token: &ResetToken| {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            writeln!(out, "reset token for {email}: {}", token.expose())?;
            out.flush()?;
            Ok::<(), BoxError>(())
        });
    }
    let purge_every = seconds("AUTH_PURGE_INTERVAL")?.unwrap_or(Duration::from_secs(60));
    Ok((c, purge_every))
}

fn list(v: &str) -> Vec<String> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn password_policy_from_env(mut p: PasswordPolicy) -> Result<PasswordPolicy, Setup> {
    if let Some(v) = parse::<usize>("AUTH_PASSWORD_MIN_LENGTH")? {
        p = p.with_min_chars(v);
    }
    if let Some(v) = flag("AUTH_PASSWORD_REJECT_COMMON")? {
        p = p.with_reject_common(v);
    }
    if let Some(v) = flag("AUTH_PASSWORD_REJECT_EMAIL")? {
        p = p.with_reject_email(v);
    }
    Ok(p)
}

fn throttle_from_env(mut t: ThrottleConfig) -> Result<ThrottleConfig, Setup> {
    if let Some(v) = flag("AUTH_THROTTLE")? {
        t.enabled = v;
    }
    if let Some(v) = parse("AUTH_THROTTLE_FREE_FAILURES")? {
        t = t.with_free_failures(v);
    }
    let start = seconds("AUTH_THROTTLE_BACKOFF_START")?.unwrap_or(t.backoff_start);
    let max = seconds("AUTH_THROTTLE_BACKOFF_MAX")?.unwrap_or(t.backoff_max);
    t = t.with_backoff(start, max);
    let per_account =
        parse("AUTH_THROTTLE_ACCOUNT_FAILURES_PER_HOUR")?.unwrap_or(t.account_failures_per_hour);
    let per_client =
        parse("AUTH_THROTTLE_CLIENT_FAILURES_PER_HOUR")?.unwrap_or(t.client_failures_per_hour);
    t = t.with_failure_ceilings(per_account, per_client);
    if let Some(v) = parse("AUTH_THROTTLE_REGISTRATIONS_PER_HOUR")? {
        t = t.with_registrations_per_hour(v);
    }
    let reset_account = parse("AUTH_THROTTLE_RESET_REQUESTS_PER_ACCOUNT_PER_HOUR")?
        .unwrap_or(t.reset_requests_per_account_per_hour);
    let reset_client = parse("AUTH_THROTTLE_RESET_REQUESTS_PER_CLIENT_PER_HOUR")?
        .unwrap_or(t.reset_requests_per_client_per_hour);
    t = t.with_reset_requests_per_hour(reset_account, reset_client);
    if let Some(v) = parse("AUTH_THROTTLE_MAX_ENTRIES")? {
        t = t.with_max_entries(v);
    }
    Ok(t)
}

fn routes_from_env(mut r: Routes) -> Routes {
    for (name, slot) in [
        ("AUTH_ROUTE_REGISTER", &mut r.register),
        ("AUTH_ROUTE_SESSIONS", &mut r.sessions),
        ("AUTH_ROUTE_ALL_SESSIONS", &mut r.all_sessions),
        ("AUTH_ROUTE_PROFILE", &mut r.profile),
        ("AUTH_ROUTE_PASSWORD", &mut r.password),
        ("AUTH_ROUTE_RESET_PASSWORD", &mut r.reset_password),
        ("AUTH_ROUTE_AFTER_LOGOUT", &mut r.after_logout),
    ] {
        if let Some(v) = var(name) {
            *slot = v;
        }
    }
    r
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
    // AUTH_STATS_INTERVAL (seconds): print storage statistics on standard output, for the soak
    // test and for watching a development server.
    if let Some(every) = seconds("AUTH_STATS_INTERVAL")? {
        let store = auth.store().clone();
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every.max(Duration::from_millis(100)));
            loop {
                ticks.tick().await;
                if let Ok(s) = store.stats().await {
                    println!(
                        "stats users={} sessions={} reset_tokens={} stored_bytes={} allocated_bytes={}",
                        s.users, s.sessions, s.reset_tokens, s.stored_bytes, s.allocated_bytes
                    );
                }
            }
        });
    }
    let service = ServiceBuilder::new()
        .layer(AuthLayer::new(auth))
        .service(service_fn(common::app));

    let listener = TcpListener::bind((host.as_str(), port))
        .await
        .map_err(|e| Setup(format!("cannot listen on {host}:{port}: {e}")))?;
    let addr: SocketAddr = listener.local_addr()?;
    println!("listening on http://{addr}");
    tracing::info!(%addr, %profile, db = %db, "serving");

    common::serve(listener, service.clone(), common::shutdown_signal()).await;
    purger.abort();
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
