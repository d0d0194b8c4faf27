//! Which store the demo runs on: PostgreSQL when `AUTH_DATABASE_URL` holds a `postgres://`
//! (or `postgresql://`) URL, with `AUTH_DATABASE_POOL` connections at most (feature
//! `postgres`); otherwise the redb file at `AUTH_DB`.
//!
//! Not declared in `examples/common/mod.rs`: the load benchmark's peer server includes that
//! module, and its crate has no `postgres` feature. The demo declares it by path.

use std::{fmt, time::Duration};

use tower_user_auth::store::RedbStore;

/// Where the demo keeps its accounts.
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
pub enum StoreChoice {
    /// The redb file at this path (`AUTH_DB`, default `auth.redb`).
    Redb(String),
    /// The PostgreSQL database at this URL (`AUTH_DATABASE_URL`), with at most this many
    /// pooled connections (`AUTH_DATABASE_POOL`; the store's default without it).
    Postgres { url: String, pool: Option<usize> },
}

impl fmt::Display for StoreChoice {
    /// For the log: the file, or the database URL without its password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Redb(path) => write!(f, "redb file {path}"),
            Self::Postgres { url, .. } => write!(f, "PostgreSQL {}", redacted(url)),
        }
    }
}

/// Whether `url` names a PostgreSQL database (`postgres://` or `postgresql://`).
pub fn is_postgres_url(url: &str) -> bool {
    let lower = url.trim().to_ascii_lowercase();
    lower.starts_with("postgres://") || lower.starts_with("postgresql://")
}

/// The store from `AUTH_DATABASE_URL` (when it is a PostgreSQL URL), `AUTH_DATABASE_POOL`
/// and `AUTH_DB`. The problems found go to `problems`: a URL that is not PostgreSQL's, a
/// PostgreSQL URL in a demo built without the `postgres` feature, a pool size that is not a
/// positive number, a pool size without a URL.
pub fn choose(
    url: Option<String>,
    pool: Option<String>,
    db: Option<String>,
    problems: &mut Vec<String>,
) -> StoreChoice {
    let pool = pool.and_then(|p| match p.trim().parse::<usize>() {
        Ok(n) if n > 0 => Some(n),
        _ => {
            problems.push(format!(
                "AUTH_DATABASE_POOL={p:?}: expected a number of connections, at least 1"
            ));
            None
        }
    });
    let redb = || StoreChoice::Redb(db.clone().unwrap_or_else(|| "auth.redb".into()));
    let Some(url) = url else {
        if pool.is_some() {
            problems.push("AUTH_DATABASE_POOL is set but AUTH_DATABASE_URL is not".into());
        }
        return redb();
    };
    if !is_postgres_url(&url) {
        problems.push(
            "AUTH_DATABASE_URL must be a postgres:// or postgresql:// URL \
             (for a redb file, set AUTH_DB instead)"
                .into(),
        );
        return redb();
    }
    if !cfg!(feature = "postgres") {
        problems.push(
            "AUTH_DATABASE_URL is a PostgreSQL URL, but this demo was built without \
             PostgreSQL support: build it with `--features postgres` \
             (cargo run --release --features postgres --example demo)"
                .into(),
        );
    }
    StoreChoice::Postgres {
        url: url.trim().to_owned(),
        pool,
    }
}

/// `url` with its password replaced by `***`, for messages and the log.
pub fn redacted(url: &str) -> String {
    // postgres://user:password@host/...: the password sits between the first ':' after the
    // scheme and the last '@' before the path.
    let Some((scheme, rest)) = url.split_once("://") else {
        return "the database URL".into();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{scheme}://{user}:***@{host}{path}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

/// `AUTH_STATS_INTERVAL` (seconds): prints redb's storage statistics on standard output every
/// `every`, for the soak test and for watching a development server.
pub fn print_stats_every(store: RedbStore, every: Duration) {
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

#[cfg(feature = "postgres")]
pub use pg::connect;

#[cfg(feature = "postgres")]
mod pg {
    use tower_user_auth::{StoreError, store::PgStore};

    /// Connects to the database at `url` (migrating it), with at most `pool` connections and
    /// a session cache of `cache` bytes (0: none).
    pub async fn connect(
        url: &str,
        pool: Option<usize>,
        cache: Option<usize>,
    ) -> Result<PgStore, StoreError> {
        let mut builder = PgStore::builder();
        if let Some(pool) = pool {
            builder = builder.with_pool_size(pool);
        }
        if let Some(cache) = cache {
            builder = builder.with_session_cache_bytes(cache);
        }
        builder.connect(url).await
    }
}
