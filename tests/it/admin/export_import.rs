//! Export and import: into a second file keeping passwords and generations, failed lines
//! reported at the end, from a redb file into PostgreSQL and back.

use super::*;

/// alice (with [`GOOD_PW`]) and carol, who changed her password from [`OTHER_PW`] to
/// [`GOOD_PW`] (her generation moved on).
async fn alice_and_carol<S: Store>(auth: &Auth<S>) {
    auth.register("alice@example.com", GOOD_PW, None)
        .await
        .expect("alice");
    auth.register("carol@example.com", OTHER_PW, None)
        .await
        .expect("carol");
    let session = log_in_with(auth, "carol@example.com", OTHER_PW).await;
    auth.change_password(&session.token, OTHER_PW, GOOD_PW, None, None)
        .await
        .expect("carol's new password");
}

#[tokio::test]
async fn export_then_import_into_a_second_file_keeps_passwords_and_generations() {
    let (auth, db, _dir) = database(SystemTime::now());
    alice_and_carol(&auth).await;
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
    alice_and_carol(&auth).await;
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
