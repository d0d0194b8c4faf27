//! The seed's app behind `AuthLayer`: a hyper server whose own routes are `GET /` and
//! `GET /me`, with the auth routes served by the layer; and, for a person in a browser
//! (`Accept` preferring `text/html`), pages to register, confirm the email, log in (with a
//! second factor) and out, see the profile, list and end sessions, change the password and
//! reset it, set up and remove a TOTP second factor, change the email and delete the account
//! (`examples/common/pages`; no JavaScript but the second factor page's own script). API
//! clients keep getting the seed's JSON.
//!
//! Try it:
//!
//! ```text
//! cargo run --release --example demo              # on http://127.0.0.1:5000, file auth.redb
//! curl -i localhost:5000/                         # {"message":"Bienvenue"}
//! curl -i localhost:5000/me                       # 401 without a session
//! curl -d email=ann@example.com -d password='correct horse battery staple' localhost:5000/users
//! curl -c jar -d email=ann@example.com -d password='correct horse battery staple' localhost:5000/sessions
//! curl -b jar localhost:5000/me                   # {"email":"ann@example.com","id":...}
//! curl -b jar localhost:5000/profile              # the auth layer's profile route
//! curl -b jar -X DELETE localhost:5000/sessions   # log out
//! ```
//!
//! Or open <http://127.0.0.1:5000/login> in a browser. Every account feature (email
//! confirmation, TOTP second factor, email change, account deletion), with the tokens printed
//! on standard output:
//!
//! ```text
//! AUTH_PROFILE=hardened AUTH_COOKIE_SECURE=false AUTH_REQUIRE_EMAIL_CONFIRMATION=1 \
//!   AUTH_SECRET_KEY="$(openssl rand -base64 32)" cargo run --release --example demo
//! ```
//!
//! then register at <http://127.0.0.1:5000/register>, enter the `confirmation token for ...`
//! line's token at <http://127.0.0.1:5000/confirm>, log in, and see `/account/totp`,
//! `/account/email` and `/account/delete`.
//!
//! Configured from the environment: `HOST` (127.0.0.1), `PORT` (5000; 0 picks a free port),
//! `AUTH_DB` (auth.redb), or `AUTH_DATABASE_URL` (a `postgres://` URL, with the feature
//! `postgres`; the pool size in `AUTH_DATABASE_POOL`: `examples/common/store.rs`),
//! `BCRYPT_COST` (12), `AUTH_PROFILE` (`seed` or `hardened`),
//! `AUTH_REQUIRE_EMAIL_CONFIRMATION` (off), `AUTH_UNCONFIRMED_LIFETIME` (seconds an
//! unconfirmed account and its tokens live, 604800), `AUTH_SECRET_KEY` (the key TOTP secrets are
//! sealed under, 32 random bytes in standard base64: `openssl rand -base64 32`; without it
//! TOTP is off, said in one log line) and the `AUTH_*` options listed in
//! `docs/configuration.md` (the guide's configuration page).
//! Its development mailer prints tokens on standard output (`examples/common/mailer.rs`). Every problem with them is reported at once, before
//! the server starts (exit code 2). Serves through `tower_user_auth::serve::Server` (header
//! and idle timeouts, connection caps: `AUTH_HEADER_READ_TIMEOUT`, `AUTH_IDLE_TIMEOUT`,
//! `AUTH_MAX_CONNECTIONS`, `AUTH_MAX_CONNECTIONS_PER_CLIENT`), raising its open-file limit to
//! fit the connection cap. Stops gracefully on Ctrl-C or SIGTERM.
//!
//! In the compatibility profile (the default) it warns on standard error at start-up: that
//! profile hands any account's reset token to whoever asks for it.

mod common;
// By path, not in `common`: the benchmark's peer server includes `common` without maud.
#[path = "common/env_config.rs"]
mod env_config;
#[path = "common/mailer.rs"]
mod mailer;
#[path = "common/pages/mod.rs"]
mod pages;
#[path = "common/store.rs"]
mod store;

use std::{net::SocketAddr, process::ExitCode, time::Duration};

use env_config::{Env, config_from_env, problem_lines};
use http::{HeaderValue, header};
use store::StoreChoice;
use tower::{ServiceBuilder, service_fn};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_user_auth::{
    Auth, AuthConfig, AuthLayer, OpenError, Profile,
    serve::{self, Server},
    store::{RedbStore, prelude::*},
};

/// The demo's start-up warning in the compatibility profile, one line on standard error.
const COMPAT_WARNING: &str = "demo: WARNING: compatibility profile (AUTH_PROFILE=seed): \
    POST /reset_password answers with the account's reset token, to whoever asks, so anyone \
    can take over any account; use it only for clients written for the seed service, and \
    AUTH_PROFILE=hardened for anything else";

/// Problems with the environment, reported together before the server starts: one line
/// each on standard error, then exit code 2.
#[derive(Debug)]
struct Setup(Vec<String>);

impl<E: std::fmt::Display> From<E> for Setup {
    fn from(e: E) -> Self {
        Self(vec![e.to_string()])
    }
}

/// What the demo reads from its environment.
struct Settings {
    config: AuthConfig,
    purge_every: Duration,
    stats_every: Option<Duration>,
    host: String,
    port: u16,
    store: StoreChoice,
    /// `AUTH_SESSION_CACHE_MB`: the memory the store's session cache may use, in MiB (0:
    /// no cache), in bytes; the store's default (64 MiB) without it.
    session_cache: Option<usize>,
    bounds: Bounds,
}

/// The server's bounds, from `AUTH_HEADER_READ_TIMEOUT`, `AUTH_IDLE_TIMEOUT` (seconds),
/// `AUTH_MAX_CONNECTIONS` and `AUTH_MAX_CONNECTIONS_PER_CLIENT`; the library's defaults
/// otherwise.
struct Bounds {
    header_read_timeout: Duration,
    idle_timeout: Duration,
    max_connections: usize,
    max_connections_per_client: usize,
}

impl Bounds {
    fn from_env(env: &mut Env) -> Self {
        Self {
            header_read_timeout: env
                .positive("AUTH_HEADER_READ_TIMEOUT")
                .map_or(serve::DEFAULT_HEADER_READ_TIMEOUT, Duration::from_secs),
            idle_timeout: env
                .positive("AUTH_IDLE_TIMEOUT")
                .map_or(serve::DEFAULT_IDLE_TIMEOUT, Duration::from_secs),
            max_connections: env
                .positive("AUTH_MAX_CONNECTIONS")
                .unwrap_or(serve::DEFAULT_MAX_CONNECTIONS),
            max_connections_per_client: env
                .positive("AUTH_MAX_CONNECTIONS_PER_CLIENT")
                .unwrap_or(serve::DEFAULT_MAX_CONNECTIONS_PER_CLIENT),
        }
    }

    /// The server on `listener` address, within these bounds; the connection cap lowered to
    /// what the open-file limit allows, if it cannot be raised to fit.
    async fn server(&self, host: &str, port: u16) -> Result<Server, Setup> {
        let server = Server::bind((host, port))
            .await
            .map_err(|e| Setup::from(format!("cannot listen on {host}:{port}: {e}")))?;
        Ok(server
            .with_header_read_timeout(self.header_read_timeout)
            .with_idle_timeout(self.idle_timeout)
            .with_max_connections(fit_open_files(self.max_connections))
            .with_max_connections_per_client(self.max_connections_per_client))
    }
}

/// Raises the open-file soft limit to fit `max` connections, with room for the database, the
/// listener and the standard streams; where the hard limit is lower, returns the cap that
/// fits below it, and says so in the log.
fn fit_open_files(max: usize) -> usize {
    #[cfg(unix)]
    {
        const SPARE: u64 = 64;
        let want = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(SPARE);
        match rlimit::increase_nofile_limit(want) {
            Ok(got) if got >= want => max,
            Ok(got) => {
                let capped = usize::try_from(got.saturating_sub(SPARE).max(1)).unwrap_or(max);
                tracing::warn!(
                    max_connections = capped,
                    open_files = got,
                    "the open-file limit cannot fit AUTH_MAX_CONNECTIONS={max}: connections capped below it"
                );
                capped
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot raise the open-file limit");
                max
            }
        }
    }
    #[cfg(not(unix))]
    max
}

/// Every setting, or every problem with the environment and the configuration at once.
fn settings_from_env() -> Result<Settings, Setup> {
    let mut env = Env::default();
    let config = config_from_env(&mut env);
    let settings = Settings {
        config,
        purge_every: env
            .seconds("AUTH_PURGE_INTERVAL")
            .unwrap_or(Duration::from_secs(60)),
        stats_every: env.seconds("AUTH_STATS_INTERVAL"),
        host: Env::var("HOST").unwrap_or_else(|| "127.0.0.1".into()),
        port: env.parse("PORT").unwrap_or(5000),
        store: store::choose(
            Env::var("AUTH_DATABASE_URL"),
            Env::var("AUTH_DATABASE_POOL"),
            Env::var("AUTH_DB"),
            &mut env.problems,
        ),
        session_cache: env
            .parse::<usize>("AUTH_SESSION_CACHE_MB")
            .map(|mb| mb.saturating_mul(1 << 20)),
        bounds: Bounds::from_env(&mut env),
    };
    // Auth::open validates the configuration too; check it here only to report its
    // problems together with the environment's.
    if !env.problems.is_empty()
        && let Err(e) = settings.config.validate()
    {
        env.note(&e);
    }
    env.finish().map_err(Setup)?;
    Ok(settings)
}

async fn run() -> Result<(), Setup> {
    // Without AUTH_SECRET_KEY the configuration's validation logs the one line that says
    // TOTP is off and why (`ConfigWarning::TotpWithoutKey`).
    let settings = settings_from_env()?;
    match &settings.store {
        StoreChoice::Redb(db) => {
            let auth = match settings.session_cache {
                None => Auth::open(db, settings.config.clone()).map_err(|e| match e {
                    OpenError::Store(e) => {
                        Setup::from(format!("cannot open the database {db:?}: {e}"))
                    }
                    OpenError::Config(e) => Setup(problem_lines(&e)),
                    other => Setup::from(other),
                })?,
                Some(bytes) => {
                    // As `Auth::open`: the configuration is checked before any file is made.
                    settings
                        .config
                        .validate()
                        .map_err(|e| Setup(problem_lines(&e)))?;
                    let store = RedbStore::builder()
                        .with_session_cache_bytes(bytes)
                        .open(db)
                        .map_err(|e| {
                            Setup::from(format!("cannot open the database {db:?}: {e}"))
                        })?;
                    Auth::new(store, settings.config.clone())
                        .map_err(|e| Setup(problem_lines(&e)))?
                }
            };
            // Once the address line is out (the first line the tests read).
            let stats = (auth.store().clone(), settings.stats_every);
            let after_listening = move || {
                if let (store, Some(every)) = stats {
                    store::print_stats_every(store, every);
                }
            };
            serve_auth(auth, settings, after_listening).await
        }
        #[cfg(feature = "postgres")]
        StoreChoice::Postgres { url, pool } => {
            let pg = store::connect(url, *pool, settings.session_cache)
                .await
                .map_err(|e| {
                    Setup::from(format!(
                        "cannot use the database {}: {e}",
                        store::redacted(url)
                    ))
                })?;
            let auth =
                Auth::new(pg, settings.config.clone()).map_err(|e| Setup(problem_lines(&e)))?;
            if settings.stats_every.is_some() {
                tracing::warn!(
                    "AUTH_STATS_INTERVAL: storage statistics are redb's, not printed on PostgreSQL"
                );
            }
            serve_auth(auth, settings, || ()).await
        }
        // settings_from_env has already refused a PostgreSQL URL without the feature.
        #[cfg(not(feature = "postgres"))]
        StoreChoice::Postgres { .. } => {
            Err(Setup::from("build the demo with `--features postgres`"))
        }
    }
}

/// Serves the demo's app behind the layer of `auth`, whichever its store, until Ctrl-C or
/// SIGTERM; calls `after_listening` once it has printed its address.
async fn serve_auth<S: Store + ExpiredDeletion>(
    auth: Auth<S>,
    settings: Settings,
    after_listening: impl FnOnce(),
) -> Result<(), Setup> {
    let Settings {
        purge_every,
        host,
        port,
        store,
        bounds,
        ..
    } = settings;
    let profile = auth.config().profile();
    // Browsers drop a Secure cookie served over plain http beyond loopback: warn once the
    // listening address is known.
    let plain_http_warning = {
        let config = auth.config().clone();
        move |addr| config.plain_http_warning(addr)
    };
    let purger = auth.spawn_purger(purge_every);
    // The app: the pages for a browser, the seed's JSON for every other client.
    let app = {
        let auth = auth.clone();
        service_fn(move |req: http::Request<_>| {
            let auth = auth.clone();
            async move {
                if let Some(script) = pages::asset(&req) {
                    return Ok(script);
                }
                match pages::answer(&auth, &req).await {
                    Some(page) => Ok(page),
                    None => common::app(req).await,
                }
            }
        })
    };
    // The app's own answers (its JSON and its pages) get the headers the layer's answers
    // carry: `nosniff`, and `Strict-Transport-Security` where the layer sends it (a Secure
    // cookie). `if_not_present`: an answer that sets one itself keeps its own.
    let hsts = auth.config().hsts_header();
    let service = ServiceBuilder::new()
        .layer(AuthLayer::new(auth))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::STRICT_TRANSPORT_SECURITY,
            move |_: &http::Response<_>| hsts.clone(),
        ))
        .service(app);

    let server = bounds.server(&host, port).await?;
    let addr: SocketAddr = server.local_addr()?;
    let shutdown = common::shutdown_signal();
    if let Some(warning) = plain_http_warning(addr) {
        tracing::warn!("{warning} (here: AUTH_COOKIE_SECURE=false)");
    }
    if profile == Profile::Compat {
        eprintln!("{COMPAT_WARNING}");
    }
    println!("listening on http://{addr}");
    after_listening();
    tracing::info!(%addr, %profile, store = %store, "serving");

    server.serve(service.clone(), shutdown).await;
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
        Err(Setup(problems)) => {
            for problem in problems {
                eprintln!("demo: {problem}");
            }
            ExitCode::from(2)
        }
    }
}
