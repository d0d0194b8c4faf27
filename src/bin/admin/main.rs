//! `tower-user-auth-admin`: the administrator's command line over a redb database file (the
//! feature `admin`), or, built with the feature `postgres` too, over a PostgreSQL database
//! (`--database-url postgres://…`, or `AUTH_DATABASE_URL` when `--db` is not given): export
//! from one and import into the other to move users between them. Every change (delete,
//! confirm, remove a second factor, end sessions, purge, import) emits an audit event
//! under the target `tower_user_auth::audit` with `actor = "admin-cli"`, written to stderr.
//!
//! Exit codes: 0 success, 1 operational error (message on stderr), 2 usage error.

mod commands;
mod transfer;

use std::{io::Write, path::PathBuf, process::ExitCode};

use clap::{Parser, Subcommand};
use tower_user_auth::{
    StoreError,
    store::{RedbStore, prelude::*},
};

/// Administer a tower-user-auth database: users, sessions, purge, statistics, export, import.
#[derive(Debug, Parser)]
#[command(name = "tower-user-auth-admin", version)]
struct Cli {
    /// The redb database file [default: auth.redb].
    #[arg(long, global = true)]
    db: Option<PathBuf>,
    /// A PostgreSQL database instead of a redb file (`postgres://user:password@host/db`;
    /// needs the feature `postgres`). Without `--db`, `AUTH_DATABASE_URL` is read too.
    #[arg(long, global = true, conflicts_with = "db")]
    database_url: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Users: list, show, delete, confirm, remove a second factor.
    #[command(subcommand)]
    Users(UsersCommand),
    /// A user's sessions: list, end.
    #[command(subcommand)]
    Sessions(SessionsCommand),
    /// Remove expired sessions, reset tokens, device tokens and email tokens, and the
    /// unconfirmed accounts past their lifetime; prints the counts of the first four on one
    /// line and the accounts' on the next (the audit event has all five).
    Purge {
        /// Also remove sessions idle for this many seconds.
        #[arg(long)]
        idle_secs: Option<u64>,
        /// The unconfirmed accounts' lifetime, in seconds (the app's
        /// `AUTH_UNCONFIRMED_LIFETIME`): those registered longer ago are removed.
        #[arg(long, default_value_t = 604_800)]
        unconfirmed_secs: u64,
    },
    /// Print the store's statistics.
    Stats,
    /// Every user as JSON lines on stdout (hash, creation time, generation, confirmation,
    /// sealed second factor and recovery code digests; not sessions).
    Export,
    /// Insert users from JSON lines on stdin (as `export` writes them), one transaction each.
    Import,
}

#[derive(Debug, Subcommand)]
enum UsersCommand {
    /// List users: id, email, created (UNIX seconds), generation, whether the email is
    /// confirmed and a second factor enabled.
    List {
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Show one user.
    Show {
        /// The user's id or email.
        user: String,
    },
    /// Delete a user with their sessions, tokens and second factor (one transaction).
    Delete {
        /// The user's id or email.
        user: String,
    },
    /// Mark a user's email confirmed, so that they can log in without the emailed token.
    Confirm {
        /// The user's id or email.
        user: String,
    },
    /// Remove a user's second factor (pending or enabled) with its recovery codes.
    RemoveFactor {
        /// The user's id or email.
        user: String,
    },
}

#[derive(Debug, Subcommand)]
enum SessionsCommand {
    /// List a user's sessions by public id (never their tokens).
    List {
        /// The user's id or email.
        user: String,
    },
    /// End one session of a user (`--session`) or all of them (`--all`).
    End {
        /// The user's id or email.
        user: String,
        /// The public id of the session to end.
        #[arg(long, conflicts_with = "all", required_unless_present = "all")]
        session: Option<String>,
        /// End every session of the user.
        #[arg(long)]
        all: bool,
    },
}

/// Why a command failed: the message printed on stderr, exit code 1.
#[derive(Debug, thiserror::Error)]
enum AdminError {
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Failed(String),
    /// A usage error found after parsing: exit 2.
    #[error("{0}")]
    Usage(String),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tower-user-auth-admin: {e}");
            if matches!(e, AdminError::Usage(_)) {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// Where the command works: `--database-url` (or `AUTH_DATABASE_URL` without `--db`), else
/// the file of `--db` (default `auth.redb`).
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
enum Target {
    File(PathBuf),
    Postgres(String),
}

impl Target {
    fn of(cli: &Cli) -> Result<Self, AdminError> {
        let url = match (&cli.database_url, &cli.db) {
            (Some(url), _) => Some(url.clone()),
            (None, None) => std::env::var("AUTH_DATABASE_URL")
                .ok()
                .filter(|u| !u.trim().is_empty()),
            (None, Some(_)) => None,
        };
        let Some(url) = url else {
            return Ok(Self::File(
                cli.db.clone().unwrap_or_else(|| PathBuf::from("auth.redb")),
            ));
        };
        let lower = url.trim().to_ascii_lowercase();
        if !(lower.starts_with("postgres://") || lower.starts_with("postgresql://")) {
            return Err(AdminError::Usage(
                "the database URL must be a postgres:// or postgresql:// URL \
                 (for a redb file, use --db)"
                    .into(),
            ));
        }
        if !cfg!(feature = "postgres") {
            return Err(AdminError::Usage(
                "a PostgreSQL database URL, but this command was built without PostgreSQL \
                 support: build it with `--features admin,postgres`"
                    .into(),
            ));
        }
        Ok(Self::Postgres(url.trim().to_owned()))
    }
}

fn run(cli: Cli) -> Result<(), AdminError> {
    let target = Target::of(&cli)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| AdminError::Failed(format!("runtime: {e}")))?;
    let mut out = std::io::stdout().lock();
    match target {
        Target::File(db) => {
            // Only import may create the file: any other command on a missing file is a
            // mistake.
            if !matches!(cli.command, Command::Import) && !db.exists() {
                return Err(AdminError::Failed(format!(
                    "no database at {}",
                    db.display()
                )));
            }
            let store = RedbStore::open(&db)?;
            runtime.block_on(async {
                match cli.command {
                    Command::Stats => commands::stats(&store, &mut out).await,
                    command => dispatch(&store, command, &mut out).await,
                }
            })
        }
        #[cfg(feature = "postgres")]
        Target::Postgres(url) => runtime.block_on(async {
            if matches!(cli.command, Command::Stats) {
                return Err(AdminError::Failed(
                    "stats reads a redb file; on PostgreSQL, ask the database \
                     (pg_stat_user_tables, pg_total_relation_size)"
                        .into(),
                ));
            }
            let store = tower_user_auth::store::PgStore::builder()
                .with_pool_size(2)
                .connect(&url)
                .await?;
            dispatch(&store, cli.command, &mut out).await
        }),
        #[cfg(not(feature = "postgres"))]
        Target::Postgres(_) => Err(AdminError::Usage(
            "build the command with `--features admin,postgres`".into(),
        )),
    }
}

/// Every command but `stats`, on any store.
async fn dispatch(
    store: &impl ExpiredDeletion,
    command: Command,
    out: &mut impl Write,
) -> Result<(), AdminError> {
    match command {
        Command::Users(UsersCommand::List { json }) => commands::list_users(store, json, out).await,
        Command::Users(UsersCommand::Show { user }) => commands::show_user(store, &user, out).await,
        Command::Users(UsersCommand::Delete { user }) => {
            commands::delete_user(store, &user, out).await
        }
        Command::Users(UsersCommand::Confirm { user }) => {
            commands::confirm_user(store, &user, out).await
        }
        Command::Users(UsersCommand::RemoveFactor { user }) => {
            commands::remove_second_factor(store, &user, out).await
        }
        Command::Sessions(SessionsCommand::List { user }) => {
            commands::list_sessions(store, &user, out).await
        }
        Command::Sessions(SessionsCommand::End { user, session, .. }) => {
            commands::end_sessions(store, &user, session.as_deref(), out).await
        }
        Command::Purge {
            idle_secs,
            unconfirmed_secs,
        } => commands::purge(store, idle_secs, unconfirmed_secs, out).await,
        Command::Stats => Err(AdminError::Failed("stats is redb's only".into())),
        Command::Export => transfer::export(store, out).await,
        Command::Import => transfer::import(store, std::io::stdin().lock(), out).await,
    }
}
