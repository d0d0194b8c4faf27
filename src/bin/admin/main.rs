//! `tower-user-auth-admin`: the administrator's command line over a redb database file (the
//! feature `admin`). Every change (delete, end sessions, purge, import) emits an audit event
//! under the target `tower_user_auth::audit` with `actor = "admin-cli"`, written to stderr.
//!
//! Exit codes: 0 success, 1 operational error (message on stderr), 2 usage error.

mod commands;
mod transfer;

use std::{path::PathBuf, process::ExitCode};

use clap::{Parser, Subcommand};
use tower_user_auth::{StoreError, store::RedbStore};

/// Administer a tower-user-auth database: users, sessions, purge, statistics, export, import.
#[derive(Debug, Parser)]
#[command(name = "tower-user-auth-admin", version)]
struct Cli {
    /// The redb database file.
    #[arg(long, global = true, default_value = "auth.redb")]
    db: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Users: list, show, delete.
    #[command(subcommand)]
    Users(UsersCommand),
    /// A user's sessions: list, end.
    #[command(subcommand)]
    Sessions(SessionsCommand),
    /// Remove expired sessions, reset tokens and device tokens; prints the counts.
    Purge {
        /// Also remove sessions idle for this many seconds.
        #[arg(long)]
        idle_secs: Option<u64>,
    },
    /// Print the store's statistics.
    Stats,
    /// Every user as JSON lines on stdout (hash, creation time, generation; not sessions).
    Export,
    /// Insert users from JSON lines on stdin (as `export` writes them), one transaction each.
    Import,
}

#[derive(Debug, Subcommand)]
enum UsersCommand {
    /// List users: id, email, created (UNIX seconds), generation.
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
    /// Delete a user with their sessions, reset token and device tokens (one transaction).
    Delete {
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
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), AdminError> {
    // Only import may create the file: any other command on a missing file is a mistake.
    if !matches!(cli.command, Command::Import) && !cli.db.exists() {
        return Err(AdminError::Failed(format!(
            "no database at {}",
            cli.db.display()
        )));
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| AdminError::Failed(format!("runtime: {e}")))?;
    let store = RedbStore::open(&cli.db)?;
    let mut out = std::io::stdout().lock();
    runtime.block_on(async {
        match cli.command {
            Command::Users(UsersCommand::List { json }) => {
                commands::list_users(&store, json, &mut out).await
            }
            Command::Users(UsersCommand::Show { user }) => {
                commands::show_user(&store, &user, &mut out).await
            }
            Command::Users(UsersCommand::Delete { user }) => {
                commands::delete_user(&store, &user, &mut out).await
            }
            Command::Sessions(SessionsCommand::List { user }) => {
                commands::list_sessions(&store, &user, &mut out).await
            }
            Command::Sessions(SessionsCommand::End { user, session, .. }) => {
                commands::end_sessions(&store, &user, session.as_deref(), &mut out).await
            }
            Command::Purge { idle_secs } => commands::purge(&store, idle_secs, &mut out).await,
            Command::Stats => commands::stats(&store, &mut out).await,
            Command::Export => transfer::export(&store, &mut out).await,
            Command::Import => transfer::import(&store, std::io::stdin().lock(), &mut out).await,
        }
    })
}
