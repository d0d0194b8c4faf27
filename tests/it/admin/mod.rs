//! The admin command line (`tower-user-auth-admin`, feature `admin`), run as a process on real
//! database files made through `Auth`: listing, showing and deleting users, listing and ending
//! sessions, purge, statistics, export and import into a second file; an audit event on
//! stderr for every change; exit 1 with a message for an unknown user, 2 for bad usage.
//! The account lifecycle's commands and fields (confirmation, second factor) are in
//! `admin_cli/lifecycle.rs`.

#![cfg(feature = "admin")]

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
use tower_user_auth::{
    Auth, ManualClock, StoreError, UserId,
    auth::{LoggedIn, Login},
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

#[tokio::test]
async fn users_list_gives_every_user_in_id_order_as_text_or_json_lines() {
    let (db, _dir, _) = two_users().await;
    let text = admin(&db, &["users", "list"], "");
    assert_eq!(text.code, Some(0), "{}", text.stderr);
    let lines = text.lines();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines[0].starts_with("1\talice@example.com\tcreated="),
        "{lines:?}"
    );
    assert!(lines[1].starts_with("2\tbob@example.com\t"), "{lines:?}");
    assert!(
        !text.stdout.contains("$2"),
        "no hash listed: {}",
        text.stdout
    );

    let json = admin(&db, &["users", "list", "--json"], "");
    assert_eq!(json.code, Some(0), "{}", json.stderr);
    let users: Vec<serde_json::Value> = json
        .lines()
        .iter()
        .map(|l| serde_json::from_str(l).expect("one JSON object a line"))
        .collect();
    assert_eq!(users[0]["id"], 1);
    assert_eq!(users[1]["email"], "bob@example.com");
    assert_eq!(users[1]["generation"], 0);
    assert!(users[0]["created"].as_u64().expect("created") > 1_700_000_000);
}

#[tokio::test]
async fn users_show_finds_a_user_by_id_or_by_email() {
    let (db, _dir, _) = two_users().await;
    for who in ["1", "ALICE@example.com"] {
        let run = admin(&db, &["users", "show", who], "");
        assert_eq!(run.code, Some(0), "{}", run.stderr);
        assert!(run.stdout.contains("id: 1\n"), "{}", run.stdout);
        assert!(run.stdout.contains("\ncreated: 1"), "{}", run.stdout);
        assert!(
            run.stdout.contains("email: alice@example.com\n"),
            "{}",
            run.stdout
        );
        assert!(run.stdout.contains("sessions: 2\n"), "{}", run.stdout);
    }
}

#[tokio::test]
async fn users_delete_removes_the_user_and_their_sessions_and_is_audited() {
    let (db, _dir, _) = two_users().await;
    let run = admin(&db, &["users", "delete", "alice@example.com"], "");
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(run.audited("user_deleted"), 1, "{}", run.stderr);

    let stats = admin(&db, &["stats"], "");
    assert!(stats.stdout.contains("users=1\n"), "{}", stats.stdout);
    assert!(stats.stdout.contains("sessions=1\n"), "{}", stats.stdout);
    let gone = admin(&db, &["users", "show", "1"], "");
    assert_eq!(gone.code, Some(1), "{}", gone.stdout);
}

#[tokio::test]
async fn sessions_list_names_sessions_by_public_id_never_by_token() {
    let (db, _dir, logins) = two_users().await;
    let run = admin(&db, &["sessions", "list", "alice@example.com"], "");
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let lines = run.lines();
    assert_eq!(lines.len(), 2, "{lines:?}");
    // Both made in one millisecond: in either order.
    for login in &logins[..2] {
        let public = login.token.digest().session_id().to_string();
        let line = lines
            .iter()
            .find(|l| l.starts_with(&format!("{public}\tcreated=")))
            .unwrap_or_else(|| panic!("{public} listed: {lines:?}"));
        assert!(
            line.contains("\tlast_seen=") && line.contains("\texpires="),
            "{line}"
        );
    }
    for login in &logins {
        assert!(
            !run.stdout.contains(login.token.expose()),
            "a token was printed"
        );
        assert!(
            !run.stderr.contains(login.token.expose()),
            "a token was logged"
        );
    }
}

#[tokio::test]
async fn sessions_end_ends_one_by_public_id_or_all_and_is_audited() {
    let (db, _dir, logins) = two_users().await;
    let first = logins[0].token.digest().session_id().to_string();
    let one = admin(&db, &["sessions", "end", "1", "--session", &first], "");
    assert_eq!(one.code, Some(0), "{}", one.stderr);
    assert_eq!(one.audited("session_ended"), 1, "{}", one.stderr);
    let left = admin(&db, &["sessions", "list", "1"], "");
    assert_eq!(left.lines().len(), 1, "{}", left.stdout);
    assert!(!left.stdout.contains(&first), "{}", left.stdout);

    let again = admin(&db, &["sessions", "end", "1", "--session", &first], "");
    assert_eq!(again.code, Some(1), "an ended session: {}", again.stdout);
    assert!(again.stderr.contains("no session"), "{}", again.stderr);
    let bad = admin(&db, &["sessions", "end", "1", "--session", "not-hex"], "");
    assert_eq!(bad.code, Some(1), "{}", bad.stderr);

    let all = admin(&db, &["sessions", "end", "bob@example.com", "--all"], "");
    assert_eq!(all.code, Some(0), "{}", all.stderr);
    assert_eq!(all.stdout, "ended 1 sessions\n");
    assert_eq!(all.audited("sessions_ended"), 1, "{}", all.stderr);
    let stats = admin(&db, &["stats"], "");
    assert!(
        stats.stdout.contains("sessions=1\n"),
        "alice's other one: {}",
        stats.stdout
    );
}

#[tokio::test]
async fn sessions_end_needs_a_session_or_all_a_usage_error() {
    let (db, _dir, _) = two_users().await;
    for args in [
        &["sessions", "end", "1"][..],
        &["sessions", "end", "1", "--all", "--session", "00"],
        &["users", "frobnicate"],
        &["users", "show"],
    ] {
        let run = admin(&db, args, "");
        assert_eq!(run.code, Some(2), "{args:?}: {}", run.stderr);
    }
}

#[tokio::test]
async fn purge_removes_expired_records_prints_the_counts_and_is_audited() {
    // Sessions made in 2023 (the harness's start time) have long expired.
    let (auth, db, _dir) = database(start_time());
    {
        auth.register("old@example.com", GOOD_PW, None)
            .await
            .expect("old");
        log_in(&auth, "old@example.com").await;
        log_in(&auth, "old@example.com").await;
        // An account registered unconfirmed in 2023: its confirmation token expired an
        // hour later, and the account is far past its unconfirmed lifetime (7 days by
        // default): both go, each counted.
        let created = start_time();
        auth.store()
            .add_unconfirmed_user(
                "unconfirmed@example.com",
                "not a hash: never checked here",
                TokenDigest::of("a confirmation token of 2023"),
                EmailTokenRecord {
                    user_id: UserId(0),
                    purpose: EmailTokenPurpose::Confirm,
                    created,
                    expires: created + Duration::from_secs(3600),
                    generation: 0,
                },
                std::time::UNIX_EPOCH,
            )
            .await
            .expect("unconfirmed account");
    }
    drop(auth);
    let run = admin(&db, &["purge"], "");
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(
        run.stdout,
        "sessions=2 reset_tokens=0 device_tokens=0 email_tokens=1\nunconfirmed_users=1\n"
    );
    assert_eq!(run.audited("purged"), 1, "{}", run.stderr);
    let stats = admin(&db, &["stats"], "");
    assert!(
        stats.stdout.contains("users=1\nsessions=0\n"),
        "{}",
        stats.stdout
    );
}

#[tokio::test]
async fn stats_prints_the_store_statistics() {
    let (db, _dir, _) = two_users().await;
    let run = admin(&db, &["stats"], "");
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(
        run.stdout
            .starts_with("users=2\nsessions=3\nreset_tokens=0\nstored_bytes="),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("allocated_bytes="), "{}", run.stdout);
}

#[tokio::test]
async fn export_then_import_into_a_second_file_keeps_passwords_and_generations() {
    let (auth, db, _dir) = database(SystemTime::now());
    {
        auth.register("alice@example.com", GOOD_PW, None)
            .await
            .expect("alice");
        auth.register("carol@example.com", OTHER_PW, None)
            .await
            .expect("carol");
        let session = auth
            .log_in(Login::new("carol@example.com", OTHER_PW))
            .await
            .expect("log in")
            .expect("right password");
        auth.change_password(&session.token, OTHER_PW, GOOD_PW, None, None)
            .await
            .expect("carol's new password");
    }
    drop(auth);
    let export = admin(&db, &["export"], "");
    assert_eq!(export.code, Some(0), "{}", export.stderr);
    assert_eq!(export.lines().len(), 2, "{}", export.stdout);
    assert!(
        export.stdout.contains("\"hashed_password\":\"$2"),
        "{}",
        export.stdout
    );
    assert!(
        !export.stderr.contains("$2"),
        "no hash logged: {}",
        export.stderr
    );

    let target_dir = tempfile::tempdir().expect("temp dir");
    let target = target_dir.path().join(DB_FILE);
    let import = admin(&target, &["import"], &export.stdout);
    assert_eq!(import.code, Some(0), "{}", import.stderr);
    assert_eq!(import.stdout, "imported 2 users\n");
    assert_eq!(import.audited("user_imported"), 2, "{}", import.stderr);

    let source: Vec<serde_json::Value> = export
        .lines()
        .iter()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    let listed = admin(&target, &["users", "list", "--json"], "");
    let imported: Vec<serde_json::Value> = listed
        .lines()
        .iter()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    for (from, to) in source.iter().zip(&imported) {
        assert_eq!(from["email"], to["email"]);
        assert_eq!(from["generation"], to["generation"]);
        assert_eq!(
            from["created_ms"].as_u64().map(|ms| ms / 1000),
            to["created"].as_u64()
        );
    }
    assert_eq!(
        imported[1]["generation"], 1,
        "carol changed her password once"
    );

    let auth = Auth::open(&target, unthrottled(hardened_config())).expect("open the import");
    for email in ["alice@example.com", "carol@example.com"] {
        let login = auth
            .log_in(Login::new(email, GOOD_PW))
            .await
            .expect("log in");
        let login = login.expect("the same password logs in");
        assert_eq!(login.session.generation, login.user.generation);
    }
    assert_eq!(
        auth.store().list_users(None, 10).await.expect("list").len(),
        2
    );
}

#[tokio::test]
async fn import_reports_each_failed_line_at_the_end_and_imports_the_rest() {
    let (db, _dir, _) = two_users().await;
    let export = admin(&db, &["export"], "");
    let target_dir = tempfile::tempdir().expect("temp dir");
    let target = target_dir.path().join(DB_FILE);
    let first = export.lines()[0].to_owned();
    let input = format!("{first}\nnot json\n{}\n", export.stdout.trim_end());
    let run = admin(&target, &["import"], &input);
    assert_eq!(run.code, Some(1), "{}", run.stdout);
    assert_eq!(run.stdout, "imported 2 users\n");
    assert!(run.stderr.contains("line 2: not a user"), "{}", run.stderr);
    assert!(
        run.stderr.contains("line 3: email already taken"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("2 lines not imported"),
        "{}",
        run.stderr
    );
    let stats = admin(&target, &["stats"], "");
    assert!(
        stats.stdout.starts_with("users=2\nsessions=0\n"),
        "{}",
        stats.stdout
    );
}

#[tokio::test]
async fn an_unknown_user_or_a_missing_database_exits_1_with_a_message() {
    let (db, _dir, _) = two_users().await;
    for args in [
        &["users", "show", "99"][..],
        &["users", "show", "nobody@example.com"],
        &["users", "delete", "99"],
        &["sessions", "list", "99"],
        &["sessions", "end", "nobody@example.com", "--all"],
    ] {
        let run = admin(&db, args, "");
        assert_eq!(run.code, Some(1), "{args:?}: {}", run.stdout);
        assert!(
            run.stderr.contains("no such user"),
            "{args:?}: {}",
            run.stderr
        );
        assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    }
    let missing = admin(&db.with_file_name("missing.redb"), &["users", "list"], "");
    assert_eq!(missing.code, Some(1));
    assert!(
        missing.stderr.contains("no database at"),
        "{}",
        missing.stderr
    );
    assert!(!db.with_file_name("missing.redb").exists(), "not created");
}

#[tokio::test]
async fn the_store_lists_users_by_page_and_imports_them_under_new_ids() {
    let (auth, _db, _dir) = database(SystemTime::now());
    let store = auth.store();
    for n in 0..5 {
        auth.register(&format!("user{n}@example.com"), GOOD_PW, None)
            .await
            .expect("register");
    }
    store.delete_user(UserId(3)).await.expect("delete 3");
    let first = store.list_users(None, 2).await.expect("page 1");
    let ids = |page: &[ListedUser]| page.iter().map(|l| l.user.id.0).collect::<Vec<_>>();
    assert_eq!(ids(&first), [1, 2]);
    let second = store.list_users(Some(UserId(2)), 2).await.expect("page 2");
    assert_eq!(ids(&second), [4, 5], "the deleted id is skipped");
    let end = store
        .list_users(Some(UserId(5)), 2)
        .await
        .expect("past the end");
    assert!(end.is_empty());
    assert!(
        store
            .list_users(Some(UserId(u64::MAX)), 2)
            .await
            .expect("max")
            .is_empty()
    );
    assert!(
        store
            .list_users(None, 0)
            .await
            .expect("none asked")
            .is_empty()
    );

    let created = start_time();
    let imported = ImportedUser {
        email: "  Imported@example.com ".into(),
        hashed_password: first[0].user.hashed_password.clone(),
        generation: 7,
        created,
        email_confirmed: true,
        second_factor: None,
        contested: false,
    };
    assert!(
        !format!("{imported:?}").contains("$2"),
        "Debug redacts the hash"
    );
    let user = store.import_user(imported.clone()).await.expect("import");
    assert_eq!(user.id, UserId(6), "a new id");
    assert_eq!(user.email, "Imported@example.com");
    assert_eq!(user.generation, 7);
    let listed = store.list_users(Some(UserId(5)), 1).await.expect("listed");
    assert_eq!(listed[0].created, created);
    let again = ImportedUser {
        email: "IMPORTED@example.com".into(),
        ..imported
    };
    assert!(matches!(
        store.import_user(again).await,
        Err(StoreError::EmailTaken)
    ));
    let login = auth
        .log_in(Login::new("imported@example.com", GOOD_PW))
        .await;
    let login = login.expect("log in").expect("the imported hash verifies");
    assert_eq!(login.session.generation, 7);
}

#[tokio::test]
async fn users_list_and_export_page_through_more_users_than_one_read() {
    let (auth, db, _dir) = database(SystemTime::now());
    let hash = auth
        .register("first@example.com", GOOD_PW, None)
        .await
        .expect("first")
        .hashed_password;
    for n in 0..1_100 {
        auth.store()
            .add_user(&format!("u{n}@example.com"), &hash)
            .await
            .expect("add");
    }
    drop(auth);
    for args in [&["users", "list"][..], &["export"]] {
        let run = admin(&db, args, "");
        assert_eq!(run.code, Some(0), "{args:?}: {}", run.stderr);
        assert_eq!(run.lines().len(), 1_101, "{args:?}: every user once");
    }
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

/// The admin command on PostgreSQL (features `admin` and `postgres`): users exported from a
/// redb file are imported into a PostgreSQL database (`--database-url`), exported from it
/// again (`AUTH_DATABASE_URL`) and imported into a second redb file; the hashes, credential
/// generations and creation times come through both moves unchanged, and the passwords log
/// in on both stores.
#[cfg(feature = "postgres")]
#[tokio::test]
async fn export_import_moves_users_from_a_redb_file_into_postgresql_and_back() {
    let Some(pg) = support::postgres::database().await else {
        return;
    };
    let (auth, db, _dir) = database(SystemTime::now());
    {
        auth.register("alice@example.com", GOOD_PW, None)
            .await
            .expect("alice");
        auth.register("carol@example.com", OTHER_PW, None)
            .await
            .expect("carol");
        let session = log_in_with(&auth, "carol@example.com", OTHER_PW).await;
        auth.change_password(&session.token, OTHER_PW, GOOD_PW, None, None)
            .await
            .expect("carol's new password");
    }
    drop(auth);
    let from_redb = admin(&db, &["export"], "");
    assert_eq!(from_redb.code, Some(0), "{}", from_redb.stderr);
    assert_eq!(from_redb.lines().len(), 2, "{}", from_redb.stdout);

    // Into PostgreSQL, named by --database-url (the migrations are applied on the way).
    let into_pg = admin_with(
        &["--database-url", pg.url(), "import"],
        &[],
        &from_redb.stdout,
    );
    assert_eq!(into_pg.code, Some(0), "{}", into_pg.stderr);
    assert_eq!(into_pg.stdout, "imported 2 users\n");
    assert_eq!(into_pg.audited("user_imported"), 2, "{}", into_pg.stderr);
    assert!(
        !into_pg.stderr.contains("$2"),
        "no hash logged: {}",
        into_pg.stderr
    );
    // A second import of the same lines finds the emails taken (the unique index).
    let again = admin_with(
        &["--database-url", pg.url(), "import"],
        &[],
        &from_redb.stdout,
    );
    assert_eq!(again.code, Some(1), "{}", again.stdout);
    assert!(
        again.stderr.contains("line 1: email already taken"),
        "{}",
        again.stderr
    );

    // The passwords log in on PostgreSQL; carol's generation is kept.
    {
        let pg_auth = Auth::new(pg.store().await, unthrottled(hardened_config()))
            .expect("valid configuration");
        for (email, generation) in [("alice@example.com", 0), ("carol@example.com", 1)] {
            let login = log_in_with(&pg_auth, email, GOOD_PW).await;
            assert_eq!(login.user.generation, generation, "{email}");
            assert_eq!(login.session.generation, generation, "{email}");
        }
    }

    // Back out of PostgreSQL, named by AUTH_DATABASE_URL: the same users, field for field.
    let from_pg = admin_with(&["export"], &[("AUTH_DATABASE_URL", pg.url())], "");
    assert_eq!(from_pg.code, Some(0), "{}", from_pg.stderr);
    assert_eq!(exported_users(&from_pg), exported_users(&from_redb));
    let listed = admin_with(&["--database-url", pg.url(), "users", "list"], &[], "");
    assert_eq!(listed.code, Some(0), "{}", listed.stderr);
    assert_eq!(listed.lines().len(), 2, "{}", listed.stdout);

    // Into a second redb file: again the same users, and the passwords log in there.
    let back_dir = tempfile::tempdir().expect("temp dir");
    let back = back_dir.path().join(DB_FILE);
    let into_redb = admin(&back, &["import"], &from_pg.stdout);
    assert_eq!(into_redb.code, Some(0), "{}", into_redb.stderr);
    assert_eq!(
        exported_users(&admin(&back, &["export"], "")),
        exported_users(&from_redb)
    );
    let auth = Auth::open(&back, unthrottled(hardened_config())).expect("open the import");
    for email in ["alice@example.com", "carol@example.com"] {
        log_in_with(&auth, email, GOOD_PW).await;
    }
}

/// A database URL that is not PostgreSQL's is a usage error (exit 2), and `stats`, redb's,
/// refuses PostgreSQL with a message (exit 1).
#[cfg(feature = "postgres")]
#[tokio::test]
async fn the_admin_command_refuses_a_url_that_is_not_postgresql_and_stats_on_postgresql() {
    let not_pg = admin_with(&["--database-url", "mysql://db/auth", "export"], &[], "");
    assert_eq!(not_pg.code, Some(2), "{}", not_pg.stderr);
    assert!(not_pg.stderr.contains("postgres://"), "{}", not_pg.stderr);
    let Some(pg) = support::postgres::database().await else {
        return;
    };
    let stats = admin_with(&["--database-url", pg.url(), "stats"], &[], "");
    assert_eq!(stats.code, Some(1), "{}", stats.stderr);
    assert!(stats.stderr.contains("redb"), "{}", stats.stderr);
}
