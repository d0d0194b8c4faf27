//! `users list`, `users show` and `users delete`; an unknown user or a missing database exits 1; the
//! store lists users by page, and list and export page through more users than one read.

use super::*;

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
