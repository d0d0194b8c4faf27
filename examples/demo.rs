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
//! Or open <http://127.0.0.1:5000/login> in a browser.
//!
//! Configured from the environment: `HOST` (127.0.0.1), `PORT` (5000; 0 picks a free port),
//! `AUTH_DB` (auth.redb), or `AUTH_DATABASE_URL` (a `postgres://` URL, with the feature
//! `postgres`; the pool size in `AUTH_DATABASE_POOL`: `examples/common/store.rs`),
//! `BCRYPT_COST` (12), `AUTH_PROFILE` (`seed` or `hardened`),
//! `AUTH_REQUIRE_EMAIL_CONFIRMATION` (off), `AUTH_SECRET_KEY` (the key TOTP secrets are
//! sealed under, 32 random bytes in standard base64: `openssl rand -base64 32`; without it
//! TOTP is off, said in one log line) and the `AUTH_*` options listed in the README.
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
#[path = "common/pages/mod.rs"]
mod pages;
#[path = "common/mailer.rs"]
mod mailer;
#[path = "common/store.rs"]
mod store;

use std::{env, net::SocketAddr, process::ExitCode, str::FromStr, time::Duration};

use store::StoreChoice;
use tower::{ServiceBuilder, service_fn};
use tower_user_auth::{
    Auth, AuthConfig, AuthLayer, ConfigError, OpenError, Pages, Profile, Routes, ThrottleConfig,
    config::SecretKey,
    password::{HashingPriority, PasswordPolicy},
    serve::{self, Server},
    store::{RedbStore, Store},
};

/// The demo's start-up warning in the compatibility profile, one line on standard error.
const SEED_WARNING: &str = "demo: WARNING: compatibility profile (AUTH_PROFILE=seed): \
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

/// Reads the environment, noting every value it cannot use instead of stopping at the first.
#[derive(Default)]
struct Env {
    problems: Vec<String>,
}

impl Env {
    fn var(name: &str) -> Option<String> {
        env::var(name).ok().filter(|v| !v.trim().is_empty())
    }

    fn parse<T: FromStr>(&mut self, name: &str) -> Option<T> {
        let v = Self::var(name)?;
        let parsed = v.trim().parse().ok();
        if parsed.is_none() {
            self.problems
                .push(format!("{name}={v:?} is not a valid value"));
        }
        parsed
    }

    fn flag(&mut self, name: &str) -> Option<bool> {
        let v = Self::var(name)?;
        match v.trim().to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => Some(true),
            "0" | "false" | "no" | "off" => Some(false),
            _ => {
                self.problems
                    .push(format!("{name}={v:?}: expected true or false"));
                None
            }
        }
    }

    fn seconds(&mut self, name: &str) -> Option<Duration> {
        self.parse::<u64>(name).map(Duration::from_secs)
    }

    /// A value that must not be zero (the server's bounds).
    fn positive<T: FromStr + Default + PartialEq>(&mut self, name: &str) -> Option<T> {
        let v = self.parse::<T>(name)?;
        if v == T::default() {
            self.problems.push(format!("{name} must not be zero"));
            return None;
        }
        Some(v)
    }

    /// Notes every problem of a configuration error.
    fn note(&mut self, e: &ConfigError) {
        self.problems.extend(problem_lines(e));
    }

    /// The problems noted, if any.
    fn finish(self) -> Result<(), Setup> {
        if self.problems.is_empty() {
            Ok(())
        } else {
            Err(Setup(self.problems))
        }
    }
}

/// One line per problem of a configuration error.
fn problem_lines(e: &ConfigError) -> Vec<String> {
    e.problems().iter().map(ToString::to_string).collect()
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
            .header_read_timeout(self.header_read_timeout)
            .idle_timeout(self.idle_timeout)
            .max_connections(fit_open_files(self.max_connections))
            .max_connections_per_client(self.max_connections_per_client))
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
    env.finish()?;
    Ok(settings)
}

/// The configuration from `AUTH_PROFILE`, `BCRYPT_COST` and the `AUTH_*` variables.
fn config_from_env(env: &mut Env) -> AuthConfig {
    let profile = match Env::var("AUTH_PROFILE").map(|p| p.parse::<Profile>()) {
        Some(Ok(profile)) => profile,
        Some(Err(e)) => {
            env.note(&e);
            Profile::Seed
        }
        None => Profile::Seed,
    };
    let mut c = AuthConfig::for_profile(profile);
    if let Some(cost) = env.parse("BCRYPT_COST") {
        c = c.with_bcrypt_cost(cost);
    }
    if let Some(v) = Env::var("AUTH_COOKIE_NAME") {
        c = c.with_cookie_name(v);
    }
    if let Some(v) = env.flag("AUTH_COOKIE_SECURE") {
        c = c.with_secure_cookie(v);
    }
    if let Some(v) = env.flag("AUTH_DEVICE_COOKIE") {
        c = c.with_device_cookie(v);
    }
    if let Some(v) = Env::var("AUTH_DEVICE_COOKIE_NAME") {
        c = c.with_device_cookie_name(v);
    }
    if let Some(v) = env.seconds("AUTH_SESSION_IDLE_TIMEOUT") {
        c = c.with_session_idle_timeout(v);
    }
    if let Some(v) = env.seconds("AUTH_SESSION_LIFETIME") {
        c = c.with_session_lifetime(v);
    }
    if let Some(v) = env.seconds("AUTH_SESSION_RENEWAL") {
        c = c.with_session_renewal(v);
    }
    if let Some(v) = env.parse::<usize>("AUTH_MAX_SESSIONS_PER_USER") {
        c = c.with_max_sessions_per_user((v > 0).then_some(v));
    }
    if let Some(v) = env.seconds("AUTH_RESET_TOKEN_LIFETIME") {
        c = c.with_reset_token_lifetime(v);
    }
    let token_in_answer = env.flag("AUTH_RESET_TOKEN_IN_RESPONSE");
    if let Some(v) = token_in_answer {
        c = c.with_reset_token_in_response(v);
    }
    if let Some(v) = env.flag("AUTH_END_SESSIONS_ON_RESET") {
        c = c.with_end_sessions_on_reset(v);
    }
    if let Some(v) = env.flag("AUTH_REGISTRATION") {
        c = c.with_registration(v);
    }
    if let Some(v) = env.parse("AUTH_BODY_LIMIT") {
        c = c.with_body_limit(v);
    }
    if let Some(v) = env.seconds("AUTH_BODY_TIMEOUT") {
        c = c.with_body_timeout(v);
    }
    let threads = env.parse::<usize>("AUTH_HASHING_THREADS");
    let queue = env.parse::<usize>("AUTH_HASHING_QUEUE");
    if threads.is_some() || queue.is_some() {
        let threads =
            threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from));
        c = c.with_hashing_pool(threads, queue.unwrap_or(16 * threads));
    }
    if let Some(v) = env.parse::<HashingPriority>("AUTH_HASHING_PRIORITY") {
        c = c.with_hashing_priority(v);
    }
    let policy = password_policy_from_env(env, c.password_policy().clone());
    let throttle = throttle_from_env(env, c.throttle().clone());
    let routes = routes_from_env(c.routes().clone());
    let pages = pages_from_env(c.pages().clone());
    c = c
        .with_password_policy(policy)
        .with_throttle(throttle)
        .with_routes(routes)
        .with_pages(pages);
    if let Some(v) = Env::var("AUTH_ROUTE_PREFIX") {
        c = c.with_route_prefix(v);
    }
    c = confirm_page_apart_from_its_route(c);
    if let Some(v) = Env::var("AUTH_ALLOWED_ORIGINS") {
        c = c.with_allowed_origins(list(&v));
    }
    if let Some(v) = Env::var("AUTH_TRUSTED_PROXIES") {
        c = c.with_trusted_proxies(list(&v));
    }
    c = account_from_env(env, c);
    // The development mailer: tokens printed on standard output (never in the tracing log);
    // reset tokens only where they do not go back in the answer.
    if !token_in_answer.unwrap_or(profile == Profile::Seed) {
        c = c.with_reset_token_hook(mailer::deliver_reset_token);
    }
    c.with_account_email_hook(mailer::deliver_account_email)
}

/// The account lifecycle settings: `AUTH_REQUIRE_EMAIL_CONFIRMATION` and `AUTH_SECRET_KEY`
/// (the key TOTP secrets are sealed under: 32 random bytes in standard base64 with padding,
/// `openssl rand -base64 32`). A key that cannot be read is a problem like any other bad
/// value, reported without the value (it is a secret).
fn account_from_env(env: &mut Env, mut c: AuthConfig) -> AuthConfig {
    if let Some(v) = env.flag("AUTH_REQUIRE_EMAIL_CONFIRMATION") {
        c = c.with_email_confirmation(v);
    }
    if let Some(v) = Env::var("AUTH_SECRET_KEY") {
        match SecretKey::from_base64(&v) {
            Ok(key) => c = c.with_secret_key(key),
            Err(e) => env.problems.push(format!(
                "AUTH_SECRET_KEY: {e} (32 random bytes: openssl rand -base64 32)"
            )),
        }
    }
    c
}

/// Why TOTP is off although the profile offers it, for the one log line at start-up: the
/// hardened profile without `AUTH_SECRET_KEY`.
fn totp_off_reason(config: &AuthConfig) -> Option<&'static str> {
    (config.profile() == Profile::Hardened && !config.totp()).then_some(
        "TOTP second factors are off: AUTH_SECRET_KEY is not set (32 random bytes in \
         standard base64: openssl rand -base64 32); accounts that have one log in with a \
         recovery code",
    )
}

fn list(v: &str) -> Vec<String> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn password_policy_from_env(env: &mut Env, mut p: PasswordPolicy) -> PasswordPolicy {
    if let Some(v) = env.parse::<usize>("AUTH_PASSWORD_MIN_LENGTH") {
        p = p.with_min_chars(v);
    }
    if let Some(v) = env.flag("AUTH_PASSWORD_REJECT_COMMON") {
        p = p.with_reject_common(v);
    }
    if let Some(v) = env.flag("AUTH_PASSWORD_REJECT_EMAIL") {
        p = p.with_reject_email(v);
    }
    p
}

fn throttle_from_env(env: &mut Env, mut t: ThrottleConfig) -> ThrottleConfig {
    if let Some(v) = env.flag("AUTH_THROTTLE") {
        t = t.with_enabled(v);
    }
    if let Some(v) = env.parse("AUTH_THROTTLE_FREE_FAILURES") {
        t = t.with_free_failures(v);
    }
    let start = env
        .seconds("AUTH_THROTTLE_BACKOFF_START")
        .unwrap_or(t.backoff_start());
    let max = env
        .seconds("AUTH_THROTTLE_BACKOFF_MAX")
        .unwrap_or(t.backoff_max());
    t = t.with_backoff(start, max);
    let per_account = env
        .parse("AUTH_THROTTLE_ACCOUNT_FAILURES_PER_HOUR")
        .unwrap_or(t.account_failures_per_hour());
    let per_client = env
        .parse("AUTH_THROTTLE_CLIENT_FAILURES_PER_HOUR")
        .unwrap_or(t.client_failures_per_hour());
    t = t.with_failure_ceilings(per_account, per_client);
    if let Some(v) = env.parse("AUTH_THROTTLE_REGISTRATIONS_PER_HOUR") {
        t = t.with_registrations_per_hour(v);
    }
    let reset_account = env
        .parse("AUTH_THROTTLE_RESET_REQUESTS_PER_ACCOUNT_PER_HOUR")
        .unwrap_or(t.reset_requests_per_account_per_hour());
    let reset_client = env
        .parse("AUTH_THROTTLE_RESET_REQUESTS_PER_CLIENT_PER_HOUR")
        .unwrap_or(t.reset_requests_per_client_per_hour());
    t = t.with_reset_requests_per_hour(reset_account, reset_client);
    if let Some(v) = env.parse("AUTH_THROTTLE_MAX_ENTRIES") {
        t = t.with_max_entries(v);
    }
    t
}

fn routes_from_env(mut r: Routes) -> Routes {
    for (name, slot) in [
        ("AUTH_ROUTE_REGISTER", &mut r.register),
        ("AUTH_ROUTE_SESSIONS", &mut r.sessions),
        ("AUTH_ROUTE_ALL_SESSIONS", &mut r.all_sessions),
        ("AUTH_ROUTE_PROFILE", &mut r.profile),
        ("AUTH_ROUTE_PASSWORD", &mut r.password),
        ("AUTH_ROUTE_RESET_PASSWORD", &mut r.reset_password),
        ("AUTH_ROUTE_CONFIRM_EMAIL", &mut r.confirm_email),
        ("AUTH_ROUTE_RESEND_CONFIRMATION", &mut r.resend_confirmation),
        ("AUTH_ROUTE_TOTP", &mut r.totp),
        ("AUTH_ROUTE_TOTP_CONFIRM", &mut r.totp_confirm),
        ("AUTH_ROUTE_EMAIL", &mut r.email),
        ("AUTH_ROUTE_EMAIL_CONFIRM", &mut r.email_confirm),
        ("AUTH_ROUTE_AFTER_LOGOUT", &mut r.after_logout),
    ] {
        if let Some(v) = Env::var(name) {
            *slot = v;
        }
    }
    r
}

/// Where the confirm-email page is served when its configured path is the very path of the
/// route its form posts to (`/confirm_email`, both by default): the layer answers every
/// method there (405 for a `GET`), so the page could never be shown. The demo serves it at
/// [`CONFIRM_PAGE`] then; `AUTH_PAGE_CONFIRM_EMAIL` sets another path.
fn confirm_page_apart_from_its_route(c: AuthConfig) -> AuthConfig {
    let route = format!("{}{}", c.route_prefix(), c.routes().confirm_email);
    let page = c.pages().confirm_email.split('?').next().unwrap_or_default();
    if page.trim_end_matches('/') != route.trim_end_matches('/') {
        return c;
    }
    let pages = Pages {
        confirm_email: CONFIRM_PAGE.into(),
        ..c.pages().clone()
    };
    c.with_pages(pages)
}

/// The demo's confirm-email page when the default path is taken by the route.
const CONFIRM_PAGE: &str = "/confirm";

/// The pages' paths, from `AUTH_PAGE_*` (the configuration validates them).
fn pages_from_env(mut p: Pages) -> Pages {
    for (name, slot) in [
        ("AUTH_PAGE_LOGIN", &mut p.login),
        ("AUTH_PAGE_REGISTER", &mut p.register),
        ("AUTH_PAGE_AFTER_LOGIN", &mut p.after_login),
        ("AUTH_PAGE_SESSIONS", &mut p.sessions),
        ("AUTH_PAGE_CHANGE_PASSWORD", &mut p.change_password),
        ("AUTH_PAGE_FORGOT_PASSWORD", &mut p.forgot_password),
        ("AUTH_PAGE_NEW_PASSWORD", &mut p.new_password),
        ("AUTH_PAGE_CONFIRM_EMAIL", &mut p.confirm_email),
        ("AUTH_PAGE_SECOND_FACTOR", &mut p.second_factor),
        ("AUTH_PAGE_CHANGE_EMAIL", &mut p.change_email),
        ("AUTH_PAGE_DELETE_ACCOUNT", &mut p.delete_account),
    ] {
        if let Some(v) = Env::var(name) {
            *slot = v;
        }
    }
    p
}

async fn run() -> Result<(), Setup> {
    let settings = settings_from_env()?;
    if let Some(reason) = totp_off_reason(&settings.config) {
        tracing::warn!("{reason}");
    }
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
                        .session_cache_bytes(bytes)
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
async fn serve_auth<S: Store>(
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
    let service = ServiceBuilder::new()
        .layer(AuthLayer::new(auth))
        .service(app);

    let server = bounds.server(&host, port).await?;
    let addr: SocketAddr = server.local_addr()?;
    let shutdown = common::shutdown_signal();
    if let Some(warning) = plain_http_warning(addr) {
        tracing::warn!("{warning} (here: AUTH_COOKIE_SECURE=false)");
    }
    if profile == Profile::Seed {
        eprintln!("{SEED_WARNING}");
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
