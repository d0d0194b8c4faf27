//! Email tokens: unconfirmed accounts and their confirmation, email-change tokens, and what
//! update, delete, list and the deletion of expired records do with them (the second factor
//! is in `second_factor.rs`).

use std::time::Duration;
use tower_user_auth::store::UnconfirmedUser;

use tower_user_auth::{
    StoreError, UserId,
    store::{
        AccountVersion, EmailTokenPurpose, SecondFactorChange, UserQuery, UserUpdate, prelude::*,
    },
    token::TokenDigest,
};

use crate::conformance::{add_unconfirmed, email_token, now, reset, session};

fn change_to(email: &str) -> EmailTokenPurpose {
    EmailTokenPurpose::ChangeEmail {
        new_email: email.into(),
    }
}

/// `add_unconfirmed_user` stores an unconfirmed account with its token (under the new id,
/// whatever `record.user_id` said), refuses a taken key without storing the token; redeeming
/// the token confirms the account once; `add_user` makes confirmed accounts.
pub async fn unconfirmed_accounts_are_confirmed_by_their_token<S: Store>(store: S) {
    let at = now();
    let confirmed = store.add_user("old@example.com", "$2b$04$o").await.unwrap();
    assert!(confirmed.email_confirmed);
    let token = TokenDigest::of("confirm");
    let user = add_unconfirmed(&store, " New@Example.com ", "$2b$04$n", token, at, 600).await;
    assert_eq!(user.email, "New@Example.com");
    assert!(!user.email_confirmed);
    assert_eq!(user.generation, 0);
    let found = store.find_user_by(UserQuery::Id(user.id)).await.unwrap();
    assert_eq!(found, user);
    let listed = store.list_users(None, 10).await.unwrap();
    let flags: Vec<_> = listed
        .iter()
        .map(|l| (l.user.email_confirmed, l.second_factor))
        .collect();
    assert_eq!(flags, [(true, false), (false, false)]);
    let stored = store.email_token(token).await.unwrap().expect("stored");
    assert_eq!(stored.user_id, user.id);
    assert_eq!(stored.purpose, EmailTokenPurpose::Confirm);
    assert_eq!(
        (stored.created, stored.expires),
        (at, at + Duration::from_secs(600))
    );

    let other = TokenDigest::of("confirm taken");
    let taken = store
        .add_unconfirmed_user(UnconfirmedUser {
            email: "NEW@example.com",
            hashed_password: "$2b$04$t",
            token: other,
            record: email_token(UserId(0), EmailTokenPurpose::Confirm, at, 600),
            stale_before: std::time::UNIX_EPOCH,
        })
        .await;
    assert!(matches!(taken, Err(StoreError::EmailTaken)), "{taken:?}");
    assert!(store.email_token(other).await.unwrap().is_none());

    // Expired (at its expiry exactly), unknown: not found, nothing changed.
    let late = store
        .redeem_email_token(token, at + Duration::from_secs(600))
        .await;
    assert!(matches!(late, Err(StoreError::NotFound)), "{late:?}");
    let unknown = store.redeem_email_token(TokenDigest::of("nope"), at).await;
    assert!(matches!(unknown, Err(StoreError::NotFound)), "{unknown:?}");
    assert!(store.email_token(token).await.unwrap().is_some());

    let redeemed = store.redeem_email_token(token, at).await.unwrap();
    assert_eq!(redeemed.purpose, EmailTokenPurpose::Confirm);
    assert_eq!(redeemed.previous_email, "New@Example.com");
    assert!(redeemed.user.email_confirmed);
    assert_eq!(redeemed.user.id, user.id);
    let found = store.find_user_by(UserQuery::Id(user.id)).await.unwrap();
    assert_eq!(found, redeemed.user);
    assert!(store.email_token(token).await.unwrap().is_none());
    let again = store.redeem_email_token(token, at).await;
    assert!(matches!(again, Err(StoreError::NotFound)), "{again:?}");
}

/// `replace_email_token` keeps one token per user and kind (the earlier one of the kind
/// revoked, the other kind kept), and only for the account as read.
pub async fn email_tokens_are_one_per_kind_and_issued_for_the_account_as_read<S: Store>(store: S) {
    let at = now();
    let user = store
        .add_user("kinds@example.com", "$2b$04$k")
        .await
        .unwrap();
    let read = AccountVersion::of(&user);
    let (c1, c2, e1, e2) = (
        TokenDigest::of("c1"),
        TokenDigest::of("c2"),
        TokenDigest::of("e1"),
        TokenDigest::of("e2"),
    );
    let confirm = email_token(user.id, EmailTokenPurpose::Confirm, at, 600);
    let change = email_token(user.id, change_to("new@example.com"), at, 600);
    store
        .replace_email_token(c1, confirm.clone(), read.clone())
        .await
        .unwrap();
    store
        .replace_email_token(e1, change.clone(), read.clone())
        .await
        .unwrap();
    assert_eq!(store.email_token(c1).await.unwrap(), Some(confirm.clone()));
    assert_eq!(store.email_token(e1).await.unwrap(), Some(change.clone()));
    store
        .replace_email_token(c2, confirm.clone(), read.clone())
        .await
        .unwrap();
    assert!(store.email_token(c1).await.unwrap().is_none());
    assert_eq!(store.email_token(e1).await.unwrap(), Some(change.clone()));
    store
        .replace_email_token(e2, change.clone(), read.clone())
        .await
        .unwrap();
    assert!(store.email_token(e1).await.unwrap().is_none());
    assert_eq!(store.email_token(c2).await.unwrap(), Some(confirm.clone()));

    // Not as read: a changed generation or email is a conflict, nothing stored.
    let stale = TokenDigest::of("stale");
    for read in [
        AccountVersion {
            generation: 1,
            email: "kinds@example.com".into(),
        },
        AccountVersion {
            generation: 0,
            email: "other@example.com".into(),
        },
    ] {
        let r = store
            .replace_email_token(stale, confirm.clone(), read)
            .await;
        assert!(matches!(r, Err(StoreError::Conflict)), "{r:?}");
    }
    // The email compared by its key.
    let same_key = AccountVersion {
        generation: 0,
        email: " KINDS@example.com".into(),
    };
    store
        .replace_email_token(c1, confirm.clone(), same_key)
        .await
        .unwrap();
    assert!(store.email_token(c2).await.unwrap().is_none());
    assert!(store.email_token(stale).await.unwrap().is_none());
    let gone = email_token(UserId(999), EmailTokenPurpose::Confirm, at, 600);
    let r = store.replace_email_token(stale, gone, read).await;
    assert!(matches!(r, Err(StoreError::NotFound)), "{r:?}");
    assert!(store.email_token(stale).await.unwrap().is_none());
}

/// Redeeming an email-change token moves the account as `update_user` does (index,
/// sessions' email, reset token and other email tokens revoked) and confirms it; a taken
/// address is `EmailTaken`, nothing changed, the token kept.
pub async fn an_email_change_token_moves_the_account<S: Store>(store: S) {
    let at = now();
    let other = store
        .add_user("taken@example.com", "$2b$04$t")
        .await
        .unwrap();
    let token = TokenDigest::of("first confirm");
    let user = add_unconfirmed(&store, "mover@example.com", "$2b$04$m", token, at, 600).await;
    let read = AccountVersion::of(&user);
    let s = TokenDigest::of("mover session");
    store
        .insert_session(s, session(user.id, at, 600), None)
        .await
        .unwrap();
    let r = TokenDigest::of("mover reset");
    store
        .replace_reset_token(r, reset(user.id, at, 600), read.clone())
        .await
        .unwrap();

    let to_taken = TokenDigest::of("to taken");
    store
        .replace_email_token(
            to_taken,
            email_token(user.id, change_to(" TAKEN@example.com"), at, 600),
            read.clone(),
        )
        .await
        .unwrap();
    let refused = store.redeem_email_token(to_taken, at).await;
    assert!(
        matches!(refused, Err(StoreError::EmailTaken)),
        "{refused:?}"
    );
    assert!(store.email_token(to_taken).await.unwrap().is_some());
    assert_eq!(
        store.find_user_by(UserQuery::Id(user.id)).await.unwrap(),
        user
    );
    assert!(store.reset_token(r).await.unwrap().is_some());
    assert!(store.email_token(token).await.unwrap().is_some());

    let change = TokenDigest::of("to moved");
    store
        .replace_email_token(
            change,
            email_token(user.id, change_to("Moved@example.com"), at, 600),
            read,
        )
        .await
        .unwrap();
    assert!(store.email_token(to_taken).await.unwrap().is_none());
    let redeemed = store.redeem_email_token(change, at).await.unwrap();
    assert_eq!(redeemed.previous_email, "mover@example.com");
    assert_eq!(redeemed.purpose, change_to("Moved@example.com"));
    assert_eq!(redeemed.user.email, "Moved@example.com");
    assert!(redeemed.user.email_confirmed);
    assert_eq!(redeemed.user.generation, 1, "a change of credentials");
    let found = store
        .find_user_by(UserQuery::Email("moved@EXAMPLE.com".into()))
        .await
        .unwrap();
    assert_eq!(found, redeemed.user);
    let entry = store.session(s).await.unwrap().expect("the session stays");
    assert_eq!(entry.email, "Moved@example.com");
    assert_eq!(entry.record.generation, 1, "moved to the new generation");
    assert!(store.reset_token(r).await.unwrap().is_none());
    assert!(store.email_token(token).await.unwrap().is_none());
    assert!(store.email_token(change).await.unwrap().is_none());
    // The old address is free again, the taken one still the other's.
    store
        .add_user("MOVER@example.com", "$2b$04$x")
        .await
        .unwrap();
    let owner = store
        .find_user_by(UserQuery::Email("taken@example.com".into()))
        .await;
    assert_eq!(owner.unwrap().id, other.id);
}

/// `update_user` sets the confirmation both ways, and a new email revokes both kinds of
/// email token.
pub async fn update_confirms_and_a_new_email_revokes_email_tokens<S: Store>(store: S) {
    let at = now();
    let token = TokenDigest::of("confirm me");
    let user = add_unconfirmed(&store, "admin@example.com", "$2b$04$a", token, at, 600).await;
    let confirmed = store
        .update_user(user.id, UserUpdate::new().email_confirmed(true))
        .await
        .unwrap();
    assert!(confirmed.email_confirmed);
    let found = store.find_user_by(UserQuery::Id(user.id)).await.unwrap();
    assert!(found.email_confirmed);
    let unconfirmed = store
        .update_user(user.id, UserUpdate::new().email_confirmed(false))
        .await
        .unwrap();
    assert!(!unconfirmed.email_confirmed);
    // Neither changes the email tokens.
    assert!(store.email_token(token).await.unwrap().is_some());
    let change = TokenDigest::of("change me");
    store
        .replace_email_token(
            change,
            email_token(user.id, change_to("elsewhere@example.com"), at, 600),
            AccountVersion::of(&unconfirmed),
        )
        .await
        .unwrap();
    let moved = store
        .update_user(user.id, UserUpdate::new().email("next@example.com"))
        .await
        .unwrap();
    assert!(!moved.email_confirmed, "a new email is not confirmed by it");
    assert!(store.email_token(token).await.unwrap().is_none());
    assert!(store.email_token(change).await.unwrap().is_none());
}

/// `delete_user` removes the user's email tokens and second factor with the account; the
/// email registered again starts with none.
pub async fn delete_removes_email_tokens_and_the_factor<S: Store>(store: S) {
    let at = now();
    let token = TokenDigest::of("delete confirm");
    let user = add_unconfirmed(&store, "del@example.com", "$2b$04$a", token, at, 600).await;
    let change = TokenDigest::of("delete change");
    store
        .replace_email_token(
            change,
            email_token(user.id, change_to("there@example.com"), at, 600),
            AccountVersion::of(&user),
        )
        .await
        .unwrap();
    let begin = SecondFactorChange::Begin {
        sealed_secret: b"s".to_vec(),
    };
    assert!(store.update_second_factor(user.id, begin).await.unwrap());
    store.delete_user(user.id).await.unwrap();
    assert!(store.email_token(token).await.unwrap().is_none());
    assert!(store.email_token(change).await.unwrap().is_none());
    let factor = store.second_factor(user.id).await;
    assert!(matches!(factor, Err(StoreError::NotFound)), "{factor:?}");
    let again = store.add_user("del@example.com", "$2b$04$b").await.unwrap();
    assert!(again.email_confirmed);
    assert_eq!(store.second_factor(again.id).await.unwrap(), None);
    let redeem = store.redeem_email_token(token, at).await;
    assert!(matches!(redeem, Err(StoreError::NotFound)), "{redeem:?}");
}

/// The purge removes expired email tokens (at their expiry exactly) and counts them; live
/// ones stay.
pub async fn purge_removes_expired_email_tokens<S: ExpiredDeletion>(store: S) {
    let at = now();
    let user = store
        .add_user("purge@example.com", "$2b$04$a")
        .await
        .unwrap();
    let (old, live) = (TokenDigest::of("old token"), TokenDigest::of("live token"));
    store
        .replace_email_token(
            old,
            email_token(user.id, EmailTokenPurpose::Confirm, at, 60),
            AccountVersion::of(&user),
        )
        .await
        .unwrap();
    store
        .replace_email_token(
            live,
            email_token(user.id, change_to("later@example.com"), at, 600),
            AccountVersion::of(&user),
        )
        .await
        .unwrap();
    let when = at + Duration::from_secs(60);
    let purged = store
        .purge_expired(when, at, std::time::UNIX_EPOCH)
        .await
        .unwrap();
    assert_eq!(purged.email_tokens, 1);
    assert!(store.email_token(old).await.unwrap().is_none());
    assert!(store.email_token(live).await.unwrap().is_some());
    let again = store
        .purge_expired(when, at, std::time::UNIX_EPOCH)
        .await
        .unwrap();
    assert_eq!(again.email_tokens, 0);
    // The purged kind can be issued again.
    store
        .replace_email_token(
            old,
            email_token(user.id, EmailTokenPurpose::Confirm, at, 600),
            AccountVersion::of(&user),
        )
        .await
        .unwrap();
    assert!(store.email_token(old).await.unwrap().is_some());
}
