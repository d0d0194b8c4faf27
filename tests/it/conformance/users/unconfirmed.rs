//! Unconfirmed accounts against pre-hijacking (issue 21 §3): the contest a registration
//! attempt marks, the confirmation of a contested account with a new password (one
//! transaction), a reset by mail that confirms, the expiry of unconfirmed accounts (the purge,
//! a registration replacing a stale one), and the contest racing a token-only confirmation.

use std::{sync::Arc, time::Duration};
use tower_user_auth::store::UnconfirmedUser;

use tower_user_auth::{
    StoreError, UserId,
    store::{
        AccountVersion, EmailTokenPurpose, ImportedUser, PasswordReset, UserQuery, prelude::*,
    },
    token::TokenDigest,
};

use crate::conformance::{
    add_unconfirmed, email_token, now, race_harness::at_once, reset, session,
};

/// An unconfirmed account `email` (hash `$2b$04$old`) created at `at`, with its confirmation
/// token (digest of `"{email} confirm"`, living `secs`), created nothing stale.
async fn unconfirmed<S: Store>(
    store: &S,
    email: &str,
    at: std::time::SystemTime,
    secs: u64,
) -> (tower_user_auth::User, TokenDigest) {
    let token = TokenDigest::of(&format!("{email} confirm"));
    let user = add_unconfirmed(store, email, "$2b$04$old", token, at, secs).await;
    (user, token)
}

/// `contest_unconfirmed` marks an unconfirmed account contested (and says so), changes
/// nothing of a confirmed account or an unknown address; a token-only redemption of a
/// contested account's confirmation is refused (`Conflict`), nothing changed, the token kept.
pub async fn a_registration_attempt_marks_an_unconfirmed_account_contested<S: Store>(store: S) {
    let at = now();
    let confirmed = store.add_user("ann@u.io", "$2b$04$a").await.unwrap();
    assert!(!confirmed.contested);
    let (bob, token) = unconfirmed(&store, "bob@u.io", at, 600).await;
    assert!(!bob.contested);
    assert_eq!(
        bob.created, at,
        "an unconfirmed account is created with its token"
    );

    assert!(!store.contest_unconfirmed("ANN@u.io").await.unwrap());
    assert!(!store.contest_unconfirmed("nobody@u.io").await.unwrap());
    assert!(store.contest_unconfirmed(" Bob@U.io").await.unwrap());
    assert!(
        store.contest_unconfirmed("bob@u.io").await.unwrap(),
        "again"
    );
    let found = store.find_user_by(UserQuery::Id(bob.id)).await.unwrap();
    assert!(found.contested && !found.email_confirmed);
    let ann = store
        .find_user_by(UserQuery::Id(confirmed.id))
        .await
        .unwrap();
    assert_eq!(ann, confirmed);
    let listed = store.list_users(None, 10).await.unwrap();
    assert_eq!(listed[1].user, found);

    let refused = store.redeem_email_token(token, at).await;
    assert!(matches!(refused, Err(StoreError::Conflict)), "{refused:?}");
    assert_eq!(
        store.find_user_by(UserQuery::Id(bob.id)).await.unwrap(),
        found
    );
    assert!(store.email_token(token).await.unwrap().is_some());
}

/// Confirming with a new password, in one transaction: the token spent, the new hash at the
/// next generation, the account confirmed and no longer contested, its sessions ended, its
/// reset token and other email tokens revoked. A token not good changes nothing.
pub async fn confirming_with_a_new_password_is_one_transaction<S: Store>(store: S) {
    let at = now();
    let (bob, token) = unconfirmed(&store, "bob@u.io", at, 600).await;
    assert!(store.contest_unconfirmed("bob@u.io").await.unwrap());
    let squatter = TokenDigest::of("squatter session");
    store
        .insert_session(squatter, session(bob.id, at, 600), None)
        .await
        .unwrap();
    let read = AccountVersion::of(&bob);
    let reset_digest = TokenDigest::of("bob reset");
    store
        .replace_reset_token(reset_digest, reset(bob.id, at, 600), read.clone())
        .await
        .unwrap();
    let change = TokenDigest::of("bob change");
    let purpose = EmailTokenPurpose::ChangeEmail {
        new_email: "elsewhere@u.io".into(),
    };
    store
        .replace_email_token(change, email_token(bob.id, purpose, at, 600), read)
        .await
        .unwrap();

    // Expired, unknown, or not a confirmation: not found, nothing changed.
    for (digest, when) in [
        (token, at + Duration::from_secs(600)),
        (TokenDigest::of("unknown"), at),
        (change, at),
    ] {
        let refused = store
            .confirm_with_new_password(digest, when, "$2b$04$new".into())
            .await;
        assert!(matches!(refused, Err(StoreError::NotFound)), "{refused:?}");
    }
    let unchanged = store.find_user_by(UserQuery::Id(bob.id)).await.unwrap();
    assert!(unchanged.contested && unchanged.hashed_password == "$2b$04$old");

    let user = store
        .confirm_with_new_password(token, at, "$2b$04$new".into())
        .await
        .unwrap();
    assert_eq!(user.hashed_password, "$2b$04$new");
    assert_eq!(user.generation, bob.generation + 1);
    assert!(user.email_confirmed && !user.contested);
    assert_eq!(
        store.find_user_by(UserQuery::Id(bob.id)).await.unwrap(),
        user
    );
    assert!(store.email_token(token).await.unwrap().is_none());
    assert!(store.email_token(change).await.unwrap().is_none());
    assert!(store.reset_token(reset_digest).await.unwrap().is_none());
    assert!(store.session(squatter).await.unwrap().is_none());
    let again = store
        .confirm_with_new_password(token, at, "$2b$04$x".into())
        .await;
    assert!(matches!(again, Err(StoreError::NotFound)), "{again:?}");

    // Uncontested accounts may choose a new password at confirmation too.
    let (cid, token) = unconfirmed(&store, "cid@u.io", at, 600).await;
    let user = store
        .confirm_with_new_password(token, at, "$2b$04$cid".into())
        .await
        .unwrap();
    assert_eq!((user.id, user.generation), (cid.id, 1));
    assert!(user.email_confirmed);
}

/// A reset that confirms (its token went by mail) marks the account confirmed and ends the
/// contest, in its transaction; one that does not confirm leaves both as they were. Either
/// is a change of credentials: the confirmation token is revoked with every email token.
pub async fn a_reset_by_mail_confirms_and_ends_the_contest<S: Store>(store: S) {
    let at = now();
    for (email, confirm_email) in [("kept@u.io", false), ("proven@u.io", true)] {
        let (user, token) = unconfirmed(&store, email, at, 600).await;
        assert!(store.contest_unconfirmed(email).await.unwrap());
        let digest = TokenDigest::of(&format!("{email} reset"));
        store
            .replace_reset_token(digest, reset(user.id, at, 600), AccountVersion::of(&user))
            .await
            .unwrap();
        let reset = PasswordReset {
            token: digest,
            user_id: user.id,
            now: at,
            hashed_password: "$2b$04$reset".into(),
            end_sessions: true,
            confirm_email,
        };
        let after = store.reset_password(reset).await.unwrap();
        assert_eq!(after.email_confirmed, confirm_email, "{email}");
        assert_eq!(after.contested, !confirm_email, "{email}");
        assert_eq!(
            store.find_user_by(UserQuery::Id(user.id)).await.unwrap(),
            after
        );
        let kept = store.email_token(token).await.unwrap();
        assert!(kept.is_none(), "{email}: {kept:?}");
    }
}

/// The purge removes the unconfirmed accounts created at or before `unconfirmed_before`
/// with everything of theirs, and no other account; a second purge finds nothing.
pub async fn the_purge_removes_expired_unconfirmed_accounts<S: ExpiredDeletion>(store: S) {
    let at = now();
    let secs = Duration::from_secs;
    let confirmed = store.add_user("old@u.io", "$2b$04$a").await.unwrap();
    let (stale, stale_token) = unconfirmed(&store, "stale@u.io", at - secs(100), 1000).await;
    let (edge, _) = unconfirmed(&store, "edge@u.io", at - secs(60), 1000).await;
    let (fresh, fresh_token) = unconfirmed(&store, "fresh@u.io", at, 1000).await;
    assert!(store.contest_unconfirmed("stale@u.io").await.unwrap());
    let stale_session = TokenDigest::of("stale session");
    store
        .insert_session(stale_session, session(stale.id, at, 1000), None)
        .await
        .unwrap();
    let purged = store
        .purge_expired(at, std::time::UNIX_EPOCH, at - secs(60))
        .await
        .unwrap();
    assert_eq!(purged.unconfirmed_users, 2, "{purged:?}");
    assert_eq!(purged.sessions, 0, "{purged:?}");
    for gone in [stale.id, edge.id] {
        let found = store.find_user_by(UserQuery::Id(gone)).await;
        assert!(matches!(found, Err(StoreError::NotFound)), "{found:?}");
    }
    assert!(store.email_token(stale_token).await.unwrap().is_none());
    assert!(store.session(stale_session).await.unwrap().is_none());
    for kept in [confirmed.id, fresh.id] {
        store.find_user_by(UserQuery::Id(kept)).await.unwrap();
    }
    assert!(store.email_token(fresh_token).await.unwrap().is_some());
    // The address is free again.
    store.add_user("stale@u.io", "$2b$04$b").await.unwrap();
    let again = store
        .purge_expired(at, std::time::UNIX_EPOCH, at - secs(60))
        .await
        .unwrap();
    assert_eq!(again.unconfirmed_users, 0, "{again:?}");
}

/// A registration on the address of an unconfirmed account created at or before
/// `stale_before` replaces it, in one transaction (the old account goes with its token); a
/// live unconfirmed account or a confirmed one keeps its address.
pub async fn a_registration_replaces_an_expired_unconfirmed_account<S: Store>(store: S) {
    let at = now();
    let secs = Duration::from_secs;
    store.add_user("ann@u.io", "$2b$04$a").await.unwrap();
    let (old, old_token) = unconfirmed(&store, "bob@u.io", at - secs(100), 1000).await;
    let token = TokenDigest::of("new bob");
    let record = email_token(UserId(0), EmailTokenPurpose::Confirm, at, 600);
    for (email, stale_before) in [("ann@u.io", at), ("bob@u.io", at - secs(101))] {
        let taken = store
            .add_unconfirmed_user(UnconfirmedUser {
                email,
                hashed_password: "$2b$04$n",
                token,
                record: record.clone(),
                stale_before,
            })
            .await;
        assert!(matches!(taken, Err(StoreError::EmailTaken)), "{taken:?}");
    }
    assert!(store.email_token(token).await.unwrap().is_none());
    let new = store
        .add_unconfirmed_user(UnconfirmedUser {
            email: "BOB@u.io",
            hashed_password: "$2b$04$n",
            token,
            record,
            stale_before: at - secs(100),
        })
        .await
        .unwrap();
    assert_ne!(new.id, old.id);
    assert!(!new.contested && !new.email_confirmed);
    let found = store
        .find_user_by(UserQuery::Email("bob@u.io".into()))
        .await
        .unwrap();
    assert_eq!(found, new);
    let gone = store.find_user_by(UserQuery::Id(old.id)).await;
    assert!(matches!(gone, Err(StoreError::NotFound)), "{gone:?}");
    assert!(store.email_token(old_token).await.unwrap().is_none());
    assert_eq!(
        store.email_token(token).await.unwrap().unwrap().user_id,
        new.id
    );
}

/// An import keeps the contest of an unconfirmed account.
pub async fn import_keeps_the_contest<S: Store>(store: S) {
    let imported = store
        .import_user(ImportedUser {
            email: "bob@u.io".into(),
            hashed_password: "$2b$04$h".into(),
            generation: 0,
            created: now(),
            email_confirmed: false,
            contested: true,
            second_factor: None,
        })
        .await
        .unwrap();
    assert!(imported.contested && !imported.email_confirmed);
    let found = store
        .find_user_by(UserQuery::Id(imported.id))
        .await
        .unwrap();
    assert_eq!(found, imported);
}

/// A contest racing a token-only confirmation, many rounds: either the confirmation came
/// first (the account confirmed, never contested) or the contest did (the confirmation
/// refused, the account contested and unconfirmed, its token kept).
pub async fn a_contest_racing_a_confirmation_is_one_or_the_other<S: Store>(store: S) {
    let store = Arc::new(store);
    let at = now();
    for round in 0..25 {
        let email = format!("racer{round}@u.io");
        let (user, token) = unconfirmed(&*store, &email, at, 600).await;
        let answers = at_once(&store, 2, |store, i| {
            let email = email.clone();
            async move {
                if i == 0 {
                    Err(store.contest_unconfirmed(&email).await)
                } else {
                    Ok(store.redeem_email_token(token, at).await)
                }
            }
        })
        .await;
        let after = store.find_user_by(UserQuery::Id(user.id)).await.unwrap();
        let contested = matches!(answers[0], Err(Ok(true)));
        match &answers[1] {
            Ok(Ok(_)) => {
                assert!(
                    after.email_confirmed && !after.contested,
                    "{round}: {after:?}"
                );
                assert!(matches!(answers[0], Err(Ok(false))), "{round}: {answers:?}");
            }
            Ok(Err(StoreError::Conflict)) => {
                assert!(contested, "{round}: {answers:?}");
                assert!(!after.email_confirmed && after.contested, "{round}");
                assert!(store.email_token(token).await.unwrap().is_some());
            }
            other => panic!("round {round}: {other:?}"),
        }
    }
}
