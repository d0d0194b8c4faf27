//! The admin command line and the account lifecycle (a module of `tests/it/admin/`): `users
//! list` and `users show` say whether an account is confirmed and has a second factor; `users
//! confirm` and `users remove-factor` change them, audited; export and import carry the
//! confirmation state, the sealed TOTP secret and the recovery code digests between two
//! files, and read the lines of an older export.

use std::time::{Duration, SystemTime};
use tower_user_auth::store::UnconfirmedUser;

use tower_user_auth::{
    AuthError,
    auth::Login,
    store::{
        EmailTokenPurpose, EmailTokenRecord, RedbStore, SecondFactorChange, SecondFactorRecord,
        UserQuery, prelude::*,
    },
    token::TokenDigest,
};

use super::{DB_FILE, GOOD_PW, admin, database, hardened_config, unthrottled};

/// A sealed secret as the store keeps it: opaque bytes (the tests never open it).
fn sealed(seed: u8) -> Vec<u8> {
    (0..40).map(|i| seed.wrapping_add(i)).collect()
}

/// Two recovery code digests.
fn codes(tag: &str) -> Vec<TokenDigest> {
    vec![
        TokenDigest::of(&format!("{tag}-first-code")),
        TokenDigest::of(&format!("{tag}-second-code")),
    ]
}

/// A file with, in id order: alice (confirmed, factor enabled at step 123 with two recovery
/// codes), bob (not confirmed, a pending factor), carol (confirmed, no factor). The path,
/// its directory, and alice's and bob's factors as stored.
async fn lifecycle_users() -> (
    std::path::PathBuf,
    tempfile::TempDir,
    SecondFactorRecord,
    SecondFactorRecord,
) {
    let (auth, db, dir) = database(SystemTime::now());
    let store = auth.store();
    let alice = auth
        .register("alice@example.com", GOOD_PW, None)
        .await
        .expect("alice");
    assert!(alice.email_confirmed, "registered with confirmation off");
    let now = SystemTime::now();
    let bob = store
        .add_unconfirmed_user(UnconfirmedUser {
            email: "bob@example.com",
            hashed_password: &alice.hashed_password,
            token: TokenDigest::of("bob's confirmation token"),
            record: EmailTokenRecord {
                user_id: alice.id,
                purpose: EmailTokenPurpose::Confirm,
                created: now,
                expires: now + Duration::from_secs(3600),
                generation: 0,
            },
            stale_before: std::time::UNIX_EPOCH,
        })
        .await
        .expect("bob");
    assert!(!bob.email_confirmed);
    auth.register("carol@example.com", GOOD_PW, None)
        .await
        .expect("carol");

    let begin = |seed| SecondFactorChange::Begin {
        sealed_secret: sealed(seed),
    };
    assert!(
        store
            .update_second_factor(alice.id, begin(1))
            .await
            .expect("begin")
    );
    let enable = SecondFactorChange::Enable {
        sealed_secret: sealed(1),
        step: 123,
        recovery_codes: codes("alice"),
    };
    assert!(
        store
            .update_second_factor(alice.id, enable)
            .await
            .expect("enable")
    );
    assert!(
        store
            .update_second_factor(bob.id, begin(9))
            .await
            .expect("pending")
    );
    let alice_factor = store
        .second_factor(alice.id)
        .await
        .expect("read")
        .expect("on");
    let bob_factor = store
        .second_factor(bob.id)
        .await
        .expect("read")
        .expect("pending");
    assert_eq!(
        alice_factor,
        SecondFactorRecord {
            sealed_secret: sealed(1),
            enabled: true,
            last_step: 123,
            recovery_codes: codes("alice"),
        }
    );
    assert!(!bob_factor.enabled);
    drop(auth);
    (db, dir, alice_factor, bob_factor)
}

#[tokio::test]
async fn list_and_show_say_whether_an_account_is_confirmed_and_has_a_second_factor() {
    let (db, _dir, _, _) = lifecycle_users().await;
    let text = admin(&db, &["users", "list"], "");
    assert_eq!(text.code, Some(0), "{}", text.stderr);
    let lines = text.lines();
    assert!(
        lines[0].ends_with("\tconfirmed=true\tsecond_factor=true"),
        "{lines:?}"
    );
    assert!(
        lines[1].ends_with("\tconfirmed=false\tsecond_factor=false"),
        "a pending factor is not a factor: {lines:?}"
    );
    assert!(
        lines[2].ends_with("\tconfirmed=true\tsecond_factor=false"),
        "{lines:?}"
    );
    let json = admin(&db, &["users", "list", "--json"], "");
    let users: Vec<serde_json::Value> = json
        .lines()
        .iter()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    let states: Vec<(bool, bool)> = users
        .iter()
        .map(|u| {
            (
                u["email_confirmed"].as_bool().expect("email_confirmed"),
                u["second_factor"].as_bool().expect("second_factor"),
            )
        })
        .collect();
    assert_eq!(states, [(true, true), (false, false), (true, false)]);

    let stats = admin(&db, &["stats"], "");
    assert_eq!(stats.code, Some(0), "{}", stats.stderr);
    assert!(
        stats
            .stdout
            .ends_with("\nemail_tokens=1\nunconfirmed_users=1\n"),
        "bob's confirmation token: {}",
        stats.stdout
    );

    for (who, confirmed, factor) in [
        ("alice@example.com", "true", "on (2 recovery codes left)"),
        ("bob@example.com", "false", "pending"),
        ("3", "true", "none"),
    ] {
        let run = admin(&db, &["users", "show", who], "");
        assert_eq!(run.code, Some(0), "{}", run.stderr);
        assert!(
            run.stdout
                .contains(&format!("\nemail confirmed: {confirmed}\n")),
            "{who}: {}",
            run.stdout
        );
        assert!(
            run.stdout.contains(&format!("\nsecond factor: {factor}\n")),
            "{who}: {}",
            run.stdout
        );
        assert!(!run.stdout.contains("$2"), "no hash shown: {}", run.stdout);
    }
}

#[tokio::test]
async fn users_confirm_lets_an_unconfirmed_account_log_in_and_is_audited() {
    let (db, _dir, _, _) = lifecycle_users().await;
    let confirming = || {
        let store = RedbStore::open(&db).expect("open");
        tower_user_auth::Auth::new(
            store,
            unthrottled(hardened_config()).with_email_confirmation(true),
        )
        .expect("valid configuration")
    };
    {
        let auth = confirming();
        let refused = auth.log_in(Login::new("bob@example.com", GOOD_PW)).await;
        assert!(
            matches!(refused, Err(AuthError::EmailNotConfirmed)),
            "{refused:?}"
        );
    }

    let run = admin(&db, &["users", "confirm", "bob@example.com"], "");
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(run.stdout, "confirmed user 2\n");
    assert_eq!(run.audited("email_confirmed"), 1, "{}", run.stderr);
    assert!(run.stderr.contains("user_id=2"), "{}", run.stderr);

    let again = admin(&db, &["users", "confirm", "2"], "");
    assert_eq!(again.code, Some(0), "{}", again.stderr);
    assert_eq!(again.stdout, "user 2 is already confirmed\n");
    assert_eq!(again.audited("email_confirmed"), 0, "nothing changed");

    let unknown = admin(&db, &["users", "confirm", "nobody@example.com"], "");
    assert_eq!(unknown.code, Some(1));
    assert!(
        unknown.stderr.contains("no such user"),
        "{}",
        unknown.stderr
    );

    let auth = confirming();
    let store = auth.store();
    let bob = store
        .find_user_by(UserQuery::Email("bob@example.com".into()))
        .await
        .expect("bob");
    assert!(bob.email_confirmed);
    assert_eq!(bob.generation, 0, "confirming is not a credential change");
    let login = auth.log_in(Login::new("bob@example.com", GOOD_PW)).await;
    assert!(matches!(login, Ok(Some(_))), "{login:?}");
}

#[tokio::test]
async fn users_remove_factor_removes_it_with_its_recovery_codes_and_is_audited() {
    let (db, _dir, _, _) = lifecycle_users().await;
    for who in ["alice@example.com", "2"] {
        let run = admin(&db, &["users", "remove-factor", who], "");
        assert_eq!(run.code, Some(0), "{who}: {}", run.stderr);
        assert!(
            run.stdout.starts_with("removed the second factor of user "),
            "{}",
            run.stdout
        );
        // No mailer here: the notice for the owner, to forward.
        assert!(
            run.stdout.contains("\nsecurity notice for ")
                && run.stdout.ends_with(": second factor disabled\n"),
            "{}",
            run.stdout
        );
        assert_eq!(run.audited("second_factor_removed"), 1, "{}", run.stderr);
        let show = admin(&db, &["users", "show", who], "");
        assert!(
            show.stdout.contains("\nsecond factor: none\n"),
            "{}",
            show.stdout
        );
    }
    let none = admin(&db, &["users", "remove-factor", "carol@example.com"], "");
    assert_eq!(none.code, Some(1), "{}", none.stdout);
    assert!(
        none.stderr.contains("user 3 has no second factor"),
        "{}",
        none.stderr
    );
    assert_eq!(none.audited("second_factor_removed"), 0);
    let unknown = admin(&db, &["users", "remove-factor", "99"], "");
    assert_eq!(unknown.code, Some(1));
    assert!(
        unknown.stderr.contains("no such user"),
        "{}",
        unknown.stderr
    );

    let store = RedbStore::open(&db).expect("open");
    let alice = store
        .find_user_by(UserQuery::Email("alice@example.com".into()))
        .await
        .expect("alice");
    assert_eq!(store.second_factor(alice.id).await.expect("read"), None);
    let listed = store.list_users(None, 10).await.expect("list");
    assert!(listed.iter().all(|l| !l.second_factor), "{listed:?}");
}

#[tokio::test]
async fn export_and_import_carry_confirmation_the_sealed_secret_and_recovery_digests() {
    let (db, _dir, alice_factor, bob_factor) = lifecycle_users().await;
    let export = admin(&db, &["export"], "");
    assert_eq!(export.code, Some(0), "{}", export.stderr);
    let lines: Vec<serde_json::Value> = export
        .lines()
        .iter()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    assert_eq!(lines.len(), 3, "{}", export.stdout);
    let alice = &lines[0]["second_factor"];
    assert_eq!(alice["enabled"], true);
    assert_eq!(alice["last_step"], 123);
    let digests: Vec<&str> = alice["recovery_codes"]
        .as_array()
        .expect("codes")
        .iter()
        .map(|c| c.as_str().expect("hex"))
        .collect();
    assert_eq!(digests.len(), 2);
    assert!(
        digests.iter().all(|d| d.len() == 64
            && d.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())),
        "{digests:?}"
    );
    assert!(
        !export.stdout.contains("alice-first-code"),
        "only digests are exported"
    );
    let secret = alice["sealed_secret"].as_str().expect("base64");
    assert!(
        secret.ends_with('='),
        "standard base64 with padding: {secret}"
    );
    assert_eq!(lines[1]["email_confirmed"], false);
    assert_eq!(lines[1]["second_factor"]["enabled"], false);
    assert_eq!(lines[2]["email_confirmed"], true);
    assert!(lines[2].get("second_factor").is_none(), "{}", lines[2]);

    let target_dir = tempfile::tempdir().expect("temp dir");
    let target = target_dir.path().join(DB_FILE);
    let import = admin(&target, &["import"], &export.stdout);
    assert_eq!(import.code, Some(0), "{}", import.stderr);
    assert_eq!(import.stdout, "imported 3 users\n");

    let store = RedbStore::open(&target).expect("open the import");
    let expected = [
        ("alice@example.com", true, Some(alice_factor)),
        ("bob@example.com", false, Some(bob_factor)),
        ("carol@example.com", true, None),
    ];
    for (email, confirmed, factor) in expected {
        let user = store
            .find_user_by(UserQuery::Email(email.into()))
            .await
            .expect("imported");
        assert_eq!(user.email_confirmed, confirmed, "{email}");
        let stored = store.second_factor(user.id).await.expect("read");
        assert_eq!(stored, factor, "{email}: the same record, byte for byte");
    }
    drop(store);
    let again = admin(&target, &["export"], "");
    assert_eq!(
        super::exported_users(&again),
        super::exported_users(&export),
        "a second export gives the same lines"
    );
}

#[tokio::test]
async fn import_reads_older_lines_as_confirmed_and_refuses_a_garbled_factor() {
    let (db, _dir, _, _) = lifecycle_users().await;
    let export = admin(&db, &["export"], "");
    let mut alice: serde_json::Value =
        serde_json::from_str(export.lines()[0]).expect("alice's line");
    let old = serde_json::json!({
        "id": 7,
        "email": "old@example.com",
        "hashed_password": alice["hashed_password"],
        "generation": 2,
        "created_ms": 1_700_000_000_000_u64,
    });
    alice["second_factor"]["sealed_secret"] = "not base64!".into();
    let mut carol: serde_json::Value =
        serde_json::from_str(export.lines()[2]).expect("carol's line");
    carol["email"] = "carol2@example.com".into();
    carol["second_factor"] = serde_json::json!({
        "sealed_secret": "AAAA",
        "enabled": true,
        "last_step": 1,
        "recovery_codes": ["abc"],
    });
    let input = format!("{old}\n{alice}\n{carol}\n");
    let target_dir = tempfile::tempdir().expect("temp dir");
    let target = target_dir.path().join(DB_FILE);
    let run = admin(&target, &["import"], &input);
    assert_eq!(run.code, Some(1), "{}", run.stdout);
    assert_eq!(run.stdout, "imported 1 users\n");
    assert!(
        run.stderr
            .contains("line 2: the sealed secret is not standard base64"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("line 3: not a recovery code digest"),
        "{}",
        run.stderr
    );
    let store = RedbStore::open(&target).expect("open");
    let user = store
        .find_user_by(UserQuery::Email("old@example.com".into()))
        .await
        .expect("the older line");
    assert!(user.email_confirmed, "older exports count as confirmed");
    assert_eq!(user.generation, 2);
    assert_eq!(store.second_factor(user.id).await.expect("read"), None);
}

/// The lifecycle fields through PostgreSQL and back (features `admin` and `postgres`): a redb
/// file's export imported into PostgreSQL, exported again, imported into a second file: the
/// same lines, the same records; and `users confirm` and `users remove-factor` on PostgreSQL.
#[cfg(feature = "postgres")]
#[tokio::test]
async fn the_lifecycle_fields_go_through_postgresql_and_back() {
    let Some(pg) = crate::support::postgres::database().await else {
        return;
    };
    let (db, _dir, alice_factor, bob_factor) = lifecycle_users().await;
    let from_redb = admin(&db, &["export"], "");
    assert_eq!(from_redb.code, Some(0), "{}", from_redb.stderr);
    let into_pg = super::admin_with(
        &["--database-url", pg.url(), "import"],
        &[],
        &from_redb.stdout,
    );
    assert_eq!(into_pg.code, Some(0), "{}", into_pg.stderr);
    let from_pg = super::admin_with(&["--database-url", pg.url(), "export"], &[], "");
    assert_eq!(from_pg.code, Some(0), "{}", from_pg.stderr);
    assert_eq!(
        super::exported_users(&from_pg),
        super::exported_users(&from_redb)
    );

    let back_dir = tempfile::tempdir().expect("temp dir");
    let back = back_dir.path().join(DB_FILE);
    let into_redb = admin(&back, &["import"], &from_pg.stdout);
    assert_eq!(into_redb.code, Some(0), "{}", into_redb.stderr);
    {
        let store = RedbStore::open(&back).expect("open");
        for (email, confirmed, factor) in [
            ("alice@example.com", true, Some(alice_factor)),
            ("bob@example.com", false, Some(bob_factor)),
            ("carol@example.com", true, None),
        ] {
            let user = store
                .find_user_by(UserQuery::Email(email.into()))
                .await
                .expect("imported");
            assert_eq!(user.email_confirmed, confirmed, "{email}");
            assert_eq!(store.second_factor(user.id).await.expect("read"), factor);
        }
    }

    let on_pg = |args: &[&str]| {
        let mut all = vec!["--database-url", pg.url()];
        all.extend_from_slice(args);
        super::admin_with(&all, &[], "")
    };
    let confirm = on_pg(&["users", "confirm", "bob@example.com"]);
    assert_eq!(confirm.code, Some(0), "{}", confirm.stderr);
    assert_eq!(confirm.audited("email_confirmed"), 1, "{}", confirm.stderr);
    let remove = on_pg(&["users", "remove-factor", "alice@example.com"]);
    assert_eq!(remove.code, Some(0), "{}", remove.stderr);
    assert_eq!(remove.audited("second_factor_removed"), 1);
    let listed = on_pg(&["users", "list"]);
    let lines = listed.lines();
    assert!(
        lines.iter().all(|l| l.contains("\tconfirmed=true\t")),
        "{lines:?}"
    );
    assert!(
        lines.iter().all(|l| l.ends_with("second_factor=false")),
        "{lines:?}"
    );
}
