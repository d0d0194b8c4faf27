//! The admin command line (`tower-user-auth-admin`, feature `admin`), run as a process on real
//! database files made through `Auth`: listing, showing and deleting users, listing and ending
//! sessions, purge, statistics, export and import into a second file; an audit event on
//! stderr for every change; exit 1 with a message for an unknown user, 2 for bad usage.
//! The account lifecycle's commands and fields (confirmation, second factor) are in
//! `account_states.rs`.

#![cfg(feature = "admin")]

mod export_import;
mod sessions;
mod users;

use crate::support;

mod account_states;

use std::{
    io::Write,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, SystemTime},
};

use support::{DB_FILE, GOOD_PW, OTHER_PW, hardened_config, start_time, unthrottled};
use tempfile::TempDir;
use tower_user_auth::auth::Login;
use tower_user_auth::{
    Auth, ManualClock, StoreError, UserId,
    auth::LoggedIn,
    store::{EmailTokenPurpose, EmailTokenRecord, ImportedUser, ListedUser, RedbStore, prelude::*},
    token::TokenDigest,
};

/// What one run of the binary gave.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn lines(&self) -> Vec<&str> {
        self.stdout.lines().collect()
    }

    /// The audit events of stderr named `event`, each from the admin command line.
    fn audited(&self, event: &str) -> usize {
        self.stderr
            .lines()
            .filter(|l| {
                l.contains("tower_user_auth::audit") && l.contains(&format!("event=\"{event}\""))
            })
            .inspect(|l| assert!(l.contains("actor=\"admin-cli\""), "{l}"))
            .count()
    }
}

/// Runs the admin binary on `db` with `args`, `stdin` as its input.
fn admin(db: &Path, args: &[&str], stdin: &str) -> Run {
    let db = db.to_str().expect("UTF-8 temp path");
    let all: Vec<&str> = ["--db", db].iter().chain(args).copied().collect();
    admin_with(&all, &[], stdin)
}

/// Runs the admin binary with `args` and `env` (no `AUTH_DATABASE_URL` from the test's
/// environment unless in `env`), `stdin` as its input.
fn admin_with(args: &[&str], env: &[(&str, &str)], stdin: &str) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tower-user-auth-admin"));
    command
        .args(args)
        .env_remove("RUST_LOG")
        .env_remove("AUTH_DATABASE_URL")
        .env("NO_COLOR", "1");
    for (k, v) in env {
        command.env(k, v);
    }
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the admin binary");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    let out = child.wait_with_output().expect("admin binary output");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8(out.stdout).expect("utf-8 stdout"),
        stderr: String::from_utf8(out.stderr).expect("utf-8 stderr"),
    }
}

/// An `Auth` on a database file in a fresh directory, its clock at `clock`. Drop it before
/// running the binary (which opens the file).
fn database(clock: SystemTime) -> (Auth, PathBuf, TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join(DB_FILE);
    let store = RedbStore::open(&path).expect("open store");
    let auth = Auth::with_clock(
        store,
        unthrottled(hardened_config()),
        ManualClock::new(clock),
    )
    .expect("valid configuration");
    (auth, path, dir)
}

async fn log_in(auth: &Auth, email: &str) -> LoggedIn {
    log_in_with(auth, email, GOOD_PW).await
}

/// Logs `email` in with `password` on any store.
async fn log_in_with<S: Store>(auth: &Auth<S>, email: &str, password: &str) -> LoggedIn {
    auth.log_in(Login::new(email, password))
        .await
        .expect("log in")
        .expect("right password")
}

/// alice (id 1, two sessions) and bob (id 2, one session), at the present time.
async fn two_users() -> (PathBuf, TempDir, Vec<LoggedIn>) {
    let mut logins = Vec::new();
    let (auth, path, dir) = database(SystemTime::now());
    {
        auth.register("alice@example.com", GOOD_PW, None)
            .await
            .expect("alice");
        auth.register("bob@example.com", GOOD_PW, None)
            .await
            .expect("bob");
        logins.push(log_in(&auth, "alice@example.com").await);
        logins.push(log_in(&auth, "alice@example.com").await);
        logins.push(log_in(&auth, "bob@example.com").await);
    }
    drop(auth);
    (path, dir, logins)
}

/// The export's lines as JSON, each without its source id (an import assigns new ones).
fn exported_users(run: &Run) -> Vec<serde_json::Value> {
    run.lines()
        .iter()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).expect("json");
            v.as_object_mut().expect("an object").remove("id");
            v
        })
        .collect()
}
