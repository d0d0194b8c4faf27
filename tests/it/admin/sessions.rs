//! `sessions list` (by public id, never by token) and `sessions end`; `purge` and `stats`.

use super::*;
use tower_user_auth::store::UnconfirmedUser;

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
            .add_unconfirmed_user(UnconfirmedUser {
                email: "unconfirmed@example.com",
                hashed_password: "not a hash: never checked here",
                token: TokenDigest::of("a confirmation token of 2023"),
                record: EmailTokenRecord {
                    user_id: UserId(0),
                    purpose: EmailTokenPurpose::Confirm,
                    created,
                    expires: created + Duration::from_secs(3600),
                    generation: 0,
                },
                stale_before: std::time::UNIX_EPOCH,
            })
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
