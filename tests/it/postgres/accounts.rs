//! The account lifecycle on PostgreSQL (schema version 3): a database of the previous
//! release migrated in place (`tests/fixtures/pg_v2.sql`), an email change or a deletion
//! through instance A reaching instance B's session cache within the bound, and the
//! compare-and-sets of email tokens and second factors raced over two instances (two pools).
//! What every store must do is the conformance suite's.

use std::{
    sync::Arc,
    time::{Duration, Instant, SystemTime},
};

use tokio::sync::Barrier;
use tower_user_auth::{
    Auth, BoxError, StoreError, UserId,
    hook::Mail,
    store::{
        AccountVersion, EmailTokenPurpose, EmailTokenRecord, PgStore, SecondFactorChange,
        UserQuery, UserUpdate, prelude::*,
    },
    token::TokenDigest,
};

use super::{cache, instances, live_session, quantile, until};

/// The fixture: a database written by the previous release (schema version 2).
const PG_V2: &str = include_str!("../../fixtures/pg_v2.sql");

/// The fixture's live sessions: token and owner's email.
const V2_SESSIONS: [(&str, &str); 3] = [
    ("bc5d019a-f84c-43a3-84ee-2410b472d10a", "alice@example.com"),
    ("b05ed173-8f2f-45f1-9adb-0df99236d16a", "Bob@Example.com"),
    ("12cedcea-1295-436f-acd0-be1586d166eb", "carol@example.com"),
];
/// Bob's session that was logged out before the dump.
const V2_LOGGED_OUT: &str = "e4081957-3a14-4978-9dfc-6e3cfeaf5176";
/// Carol's reset token.
const V2_RESET: &str = "71706a42-418c-4d25-8cd8-09df2024b7de";

/// The schema versions applied to the database of `client`.
pub(super) async fn versions(client: &tokio_postgres::Client) -> Vec<i64> {
    client
        .query("SELECT version FROM schema_version ORDER BY version", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// The schema as the catalog describes it: every column (type, nullability, default), every
/// constraint and every index of the store's tables, sorted.
pub(super) async fn schema_of(client: &tokio_postgres::Client) -> Vec<String> {
    let mut described = Vec::new();
    for sql in [
        "SELECT table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable
             || ' ' || coalesce(column_default, '')
         FROM information_schema.columns WHERE table_schema = current_schema()",
        "SELECT conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid)
         FROM pg_constraint WHERE connamespace = current_schema()::regnamespace",
        "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema()",
        "SELECT relname || ' ' || relpersistence::text FROM pg_class
         WHERE relnamespace = current_schema()::regnamespace AND relkind = 'r'",
    ] {
        for row in client.query(sql, &[]).await.unwrap() {
            described.push(row.get::<_, String>(0));
        }
    }
    described.sort();
    described
}

/// A database of the previous release (schema version 2, written by its code) is migrated in
/// place on connecting: its accounts count as confirmed and have no factor, its sessions,
/// reset token and device token are kept, the new tables work for its accounts, ids go on
/// from where they were, and the result has exactly the schema of a new database.
#[tokio::test]
async fn a_database_of_the_previous_release_is_migrated_in_place() {
    let Some(old) = crate::support::postgres::database().await else {
        return;
    };
    let client = old.client().await;
    client.batch_execute(PG_V2).await.expect("load the fixture");
    assert_eq!(versions(&client).await, [1, 2], "the fixture is version 2");

    let store = old.store().await;
    assert_eq!(versions(&client).await, [1, 2, 3, 4, 5]);

    let listed = store.list_users(None, 10).await.unwrap();
    let emails: Vec<&str> = listed.iter().map(|l| l.user.email.as_str()).collect();
    assert_eq!(
        emails,
        ["alice@example.com", "Bob@Example.com", "carol@example.com"]
    );
    for entry in &listed {
        assert!(
            entry.user.email_confirmed,
            "{entry:?}: existing = confirmed"
        );
        assert!(!entry.second_factor, "{entry:?}");
        assert_eq!(entry.user.generation, 0);
        assert_eq!(store.second_factor(entry.user.id).await.unwrap(), None);
    }
    let bob = store
        .find_user_by(UserQuery::Email("bob@example.com".into()))
        .await
        .unwrap();
    assert!(bob.email_confirmed);
    for (token, email) in V2_SESSIONS {
        let entry = store
            .session(TokenDigest::of(token))
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{email}'s session is kept"));
        assert_eq!(entry.email, email);
    }
    assert_eq!(
        store.session(TokenDigest::of(V2_LOGGED_OUT)).await.unwrap(),
        None
    );
    let reset = store.reset_token(TokenDigest::of(V2_RESET)).await.unwrap();
    assert_eq!(reset.map(|r| r.user_id), Some(UserId(3)));
    let device = store
        .device_token(TokenDigest::of("alice-device"))
        .await
        .unwrap();
    assert_eq!(device.map(|d| d.user_id), Some(UserId(1)));

    // The new records work for the old accounts.
    let alice = listed[0].user.clone();
    let begin = SecondFactorChange::Begin {
        sealed_secret: vec![1; 40],
    };
    assert!(store.update_second_factor(alice.id, begin).await.unwrap());
    let now = SystemTime::now();
    let change = TokenDigest::of("bob-change");
    let record = EmailTokenRecord {
        user_id: bob.id,
        purpose: EmailTokenPurpose::ChangeEmail {
            new_email: "robert@example.com".into(),
        },
        created: now,
        expires: now + Duration::from_secs(600),
        generation: bob.generation,
    };
    store
        .replace_email_token(change, record, AccountVersion::of(&bob))
        .await
        .unwrap();
    let redeemed = store.redeem_email_token(change, now).await.unwrap();
    assert_eq!(redeemed.previous_email, "Bob@Example.com");
    assert_eq!(redeemed.user.email, "robert@example.com");
    let confirm = EmailTokenRecord {
        user_id: UserId(0),
        purpose: EmailTokenPurpose::Confirm,
        created: now,
        expires: now + Duration::from_secs(600),
        generation: 0,
    };
    let dave = store
        .add_unconfirmed_user(
            "dave@example.com",
            "$2b$04$d",
            TokenDigest::of("dave"),
            confirm,
            std::time::UNIX_EPOCH,
        )
        .await
        .unwrap();
    assert_eq!(dave.id, UserId(4), "ids go on after the fixture's");
    assert!(!dave.email_confirmed);

    // Same schema as a database made new by this version.
    let fresh = crate::support::postgres::database().await.unwrap();
    let _fresh_store = fresh.store().await;
    assert_eq!(
        schema_of(&client).await,
        schema_of(&fresh.client().await).await
    );
}

/// How the email or the account changes on A, in the invalidation test.
#[derive(Clone, Copy, Debug)]
enum Lifecycle {
    /// `update_user` with a new email.
    UpdateEmail,
    /// An email-change token redeemed.
    RedeemToken,
    /// The user deleted, with their email tokens and second factor.
    DeleteUser,
}

/// A session cached on B shows the new email on B right after the email is changed through
/// A (by `update_user` or by redeeming an email-change token), and is refused on B right
/// after the user is deleted through A (a user with a second factor and email tokens). 90
/// changes, 30 of each; any single delay over 250 ms (the cache's 200 ms lease, plus the
/// polling) fails; the p50/p99 are printed as `figure:` lines, measured from A's call
/// returning to B's first answer that reflects it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_email_change_or_deletion_through_a_reaches_b_at_once() {
    // Timings: no heavy load and no other measurement meanwhile.
    let _alone = crate::support::alone::measuring().await;
    let Some(db) = crate::support::postgres::database().await else {
        return;
    };
    let (a, b) = instances(&db).await;
    let kinds = [
        Lifecycle::UpdateEmail,
        Lifecycle::RedeemToken,
        Lifecycle::DeleteUser,
    ];
    let mut by_kind: Vec<(Lifecycle, Vec<Duration>)> =
        kinds.iter().map(|k| (*k, Vec::new())).collect();
    for round in 0..90 {
        let kind = kinds[round % kinds.len()];
        let user = a
            .add_user(&format!("e{round}@x.io"), "$2b$04$h")
            .await
            .unwrap();
        let token = TokenDigest::of(&format!("session-{round}"));
        a.insert_session(token, live_session(user.id, 0), None)
            .await
            .unwrap();
        let new_email = format!("moved{round}@x.io");
        let now = SystemTime::now();
        let email_token = TokenDigest::of(&format!("change-{round}"));
        let record = EmailTokenRecord {
            user_id: user.id,
            purpose: EmailTokenPurpose::ChangeEmail {
                new_email: new_email.clone(),
            },
            created: now,
            expires: now + Duration::from_secs(600),
            generation: user.generation,
        };
        a.replace_email_token(email_token, record, AccountVersion::of(&user))
            .await
            .unwrap();
        cache(&b, token).await;
        let since = match kind {
            Lifecycle::UpdateEmail => {
                a.update_user(user.id, UserUpdate::new().email(new_email.clone()))
                    .await
                    .unwrap();
                Instant::now()
            }
            Lifecycle::RedeemToken => {
                a.redeem_email_token(email_token, now).await.unwrap();
                Instant::now()
            }
            Lifecycle::DeleteUser => {
                let begin = SecondFactorChange::Begin {
                    sealed_secret: vec![7; 40],
                };
                assert!(a.update_second_factor(user.id, begin).await.unwrap());
                // Re-cache: neither the token nor the factor changes a session.
                cache(&b, token).await;
                a.delete_user(user.id).await.unwrap();
                Instant::now()
            }
        };
        let delay = match kind {
            Lifecycle::DeleteUser => until(&b, token, since, Option::is_none).await,
            _ => {
                until(&b, token, since, |found| {
                    found.as_ref().is_some_and(|entry| entry.email == new_email)
                })
                .await
            }
        }
        .unwrap_or_else(|| panic!("{kind:?}: B still answers as before after 2 s"));
        assert!(
            delay <= Duration::from_millis(250),
            "{kind:?}: B answered as before for {delay:?} (> 250 ms: a defect)"
        );
        if let Lifecycle::DeleteUser = kind {
            let factor = b.second_factor(user.id).await;
            assert!(matches!(factor, Err(StoreError::NotFound)), "{factor:?}");
            assert_eq!(b.email_token(email_token).await.unwrap(), None);
            // The email can be registered again.
            b.add_user(&format!("e{round}@x.io"), "$2b$04$h")
                .await
                .unwrap();
        }
        by_kind[round % kinds.len()].1.push(delay);
    }
    for (kind, mut delays) in by_kind {
        delays.sort();
        println!(
            "figure: lifecycle invalidation delay {kind:?} p50={:?} p99={:?} max={:?} (n={}, \
             A's call returned -> B answers the change)",
            quantile(&delays, 0.5),
            quantile(&delays, 0.99),
            delays[delays.len() - 1],
            delays.len()
        );
    }
}

/// A user on `store` with an enabled factor at step 100 and `codes` recovery codes
/// (`TokenDigest::of("code-<round>-<i>")`).
async fn with_factor(store: &PgStore, email: &str, round: usize, codes: usize) -> UserId {
    let user = store.add_user(email, "$2b$04$h").await.unwrap();
    let secret = vec![9; 40];
    let begin = SecondFactorChange::Begin {
        sealed_secret: secret.clone(),
    };
    assert!(store.update_second_factor(user.id, begin).await.unwrap());
    let enable = SecondFactorChange::Enable {
        sealed_secret: secret,
        step: 100,
        recovery_codes: (0..codes)
            .map(|i| TokenDigest::of(&format!("code-{round}-{i}")))
            .collect(),
    };
    assert!(store.update_second_factor(user.id, enable).await.unwrap());
    user.id
}

/// Runs `each(instance, n)` for `n` in 0..`tasks`, alternately on A and B, all released
/// together by one barrier; their answers in order.
async fn race<T, F, Fut>(a: &PgStore, b: &PgStore, tasks: usize, each: F) -> Vec<T>
where
    T: Send + 'static,
    F: Fn(PgStore, usize) -> Fut,
    Fut: std::future::Future<Output = T> + Send + 'static,
{
    let barrier = Arc::new(Barrier::new(tasks));
    let handles: Vec<_> = (0..tasks)
        .map(|n| {
            let store = if n % 2 == 0 { a.clone() } else { b.clone() };
            let (barrier, run) = (Arc::clone(&barrier), each(store, n));
            tokio::spawn(async move {
                barrier.wait().await;
                run.await
            })
        })
        .collect();
    let mut answers = Vec::new();
    for handle in handles {
        answers.push(handle.await.expect("no panic"));
    }
    answers
}

/// Over two instances, 20 rounds each: 6 uses of one TOTP step race (exactly one is
/// accepted, the step is recorded once); 6 uses of one recovery code race (exactly one,
/// the other codes kept); 6 redemptions of one confirmation token race (exactly one);
/// two users' email-change tokens to one new address race (exactly one moves, the other is
/// `EmailTaken` and keeps its token).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn compare_and_sets_raced_over_two_instances_apply_once() {
    let Some(db) = crate::support::postgres::database().await else {
        return;
    };
    let (a, b) = instances(&db).await;
    for round in 0..20 {
        let id = with_factor(&a, &format!("f{round}@x.io"), round, 3).await;
        let steps = race(&a, b.store(), 6, move |s, _| async move {
            s.update_second_factor(id, SecondFactorChange::UseStep(101))
                .await
                .unwrap()
        })
        .await;
        assert_eq!(steps.iter().filter(|ok| **ok).count(), 1, "{steps:?}");
        let code = TokenDigest::of(&format!("code-{round}-1"));
        let codes = race(&a, b.store(), 6, move |s, _| async move {
            s.update_second_factor(id, SecondFactorChange::UseRecoveryCode(code))
                .await
                .unwrap()
        })
        .await;
        assert_eq!(codes.iter().filter(|ok| **ok).count(), 1, "{codes:?}");
        let factor = b.second_factor(id).await.unwrap().expect("enabled");
        assert_eq!(factor.last_step, 101);
        assert_eq!(
            factor.recovery_codes,
            [
                TokenDigest::of(&format!("code-{round}-0")),
                TokenDigest::of(&format!("code-{round}-2"))
            ]
        );

        let now = SystemTime::now();
        let confirm = TokenDigest::of(&format!("confirm-{round}"));
        let record = EmailTokenRecord {
            user_id: UserId(0),
            purpose: EmailTokenPurpose::Confirm,
            created: now,
            expires: now + Duration::from_secs(600),
            generation: 0,
        };
        let user = a
            .add_unconfirmed_user(
                &format!("u{round}@x.io"),
                "$2b$04$h",
                confirm,
                record,
                std::time::UNIX_EPOCH,
            )
            .await
            .unwrap();
        let redeemed = race(&a, b.store(), 6, move |s, _| async move {
            s.redeem_email_token(confirm, now).await
        })
        .await;
        let ok = redeemed.iter().filter(|r| r.is_ok()).count();
        assert_eq!(ok, 1, "{redeemed:?}");
        assert!(
            redeemed
                .iter()
                .all(|r| matches!(r, Ok(_) | Err(StoreError::NotFound))),
            "{redeemed:?}"
        );
        let user = a.find_user_by(UserQuery::Id(user.id)).await.unwrap();
        assert!(user.email_confirmed);

        let target = format!("target{round}@x.io");
        let mut tokens = Vec::new();
        for who in 0..2 {
            let user = a
                .add_user(&format!("c{round}-{who}@x.io"), "$2b$04$h")
                .await
                .unwrap();
            let token = TokenDigest::of(&format!("move-{round}-{who}"));
            let record = EmailTokenRecord {
                user_id: user.id,
                purpose: EmailTokenPurpose::ChangeEmail {
                    new_email: target.clone(),
                },
                created: now,
                expires: now + Duration::from_secs(600),
                generation: user.generation,
            };
            a.replace_email_token(token, record, AccountVersion::of(&user))
                .await
                .unwrap();
            tokens.push(token);
        }
        let tokens = Arc::new(tokens);
        let moved = race(&a, b.store(), 2, {
            let tokens = Arc::clone(&tokens);
            move |s, n| {
                let token = tokens[n];
                async move { s.redeem_email_token(token, now).await }
            }
        })
        .await;
        let winners: Vec<_> = moved.iter().filter_map(|r| r.as_ref().ok()).collect();
        assert_eq!(winners.len(), 1, "{moved:?}");
        assert_eq!(winners[0].user.email, target);
        let loser = moved.iter().position(Result::is_err).expect("one lost");
        assert!(
            matches!(moved[loser], Err(StoreError::EmailTaken)),
            "{moved:?}"
        );
        assert!(
            a.email_token(tokens[loser]).await.unwrap().is_some(),
            "the loser's token is kept"
        );
    }
}

/// Through `Auth` with email confirmation on: the confirmation tokens it hands to the hook
/// are nowhere in the database (`email_tokens` holds their digests), each confirms its
/// account once, on either instance.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confirmation_tokens_are_stored_only_as_digests() {
    let Some(db) = crate::support::postgres::database().await else {
        return;
    };
    let (a, b) = instances(&db).await;
    let (sent, mut inbox) = tokio::sync::mpsc::unbounded_channel();
    let config = crate::support::seed_config()
        .with_email_confirmation(true)
        .with_mailer(move |to: &str, message: &Mail| {
            if let Mail::Confirmation(token) = message {
                let _ = sent.send((to.to_owned(), token.expose().to_owned()));
            }
            Ok::<(), BoxError>(())
        });
    let on_a = Auth::new(a, config.clone()).expect("valid configuration");
    let on_b = Auth::new(b.store().clone(), config).expect("valid configuration");
    for i in 0..4 {
        let user = on_a
            .register(&format!("c{i}@example.com"), "correct horse battery", None)
            .await
            .unwrap();
        assert!(!user.email_confirmed);
    }
    let mut tokens = Vec::new();
    for _ in 0..4 {
        let delivered = tokio::time::timeout(Duration::from_secs(2), inbox.recv()).await;
        tokens.push(delivered.expect("delivered within 2 s").expect("a token"));
    }
    let client = db.client().await;
    let mut dump = String::new();
    for row in client
        .query("SELECT t::text FROM email_tokens t", &[])
        .await
        .unwrap()
    {
        dump.push_str(row.get(0));
        dump.push('\n');
    }
    assert_eq!(dump.lines().count(), 4, "{dump}");
    for (_, token) in &tokens {
        let dashless: String = token.chars().filter(|c| *c != '-').collect();
        assert!(!dump.contains(token.as_str()), "a token is in the database");
        assert!(!dump.contains(&dashless), "a token is in the database");
        let hex: String = TokenDigest::of(token)
            .0
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert!(dump.contains(&hex), "stored under its digest");
    }
    for (n, (email, token)) in tokens.iter().enumerate() {
        let (first, second) = if n % 2 == 0 {
            (&on_a, &on_b)
        } else {
            (&on_b, &on_a)
        };
        let user = first.confirm_email(token, None, None).await.unwrap();
        assert_eq!(&user.email, email);
        assert!(user.email_confirmed);
        assert!(
            second.confirm_email(token, None, None).await.is_err(),
            "used once"
        );
    }
}
