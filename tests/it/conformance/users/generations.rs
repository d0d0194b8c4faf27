//! The credential generation: every change of credentials (password, reset, email, second
//! factor) advances it and kills the tokens issued before; a token of another generation
//! redeems nothing.

use crate::conformance::{add_unconfirmed, email_token, now, reset, session};
use tower_user_auth::{
    StoreError, User,
    store::{
        AccountVersion, EmailTokenPurpose, EmailTokenRecord, EndSessions, PasswordReset,
        ResetRecord, SecondFactorChange, SessionRecord, UserQuery, UserUpdate, VerifiedSession,
        prelude::*,
    },
    token::TokenDigest,
};

/// A change of credentials, as the store is asked for it.
#[derive(Clone, Copy, Debug)]
enum Change {
    Password,
    Reset,
    Email,
    EmailByToken,
    FactorOn,
    FactorOff,
}

/// Applies `change` to `user` (who has the session `kept`; for `FactorOff` an enabled
/// factor with the secret `b"sealed"`; for `FactorOn` a pending one; for `Reset` and
/// `EmailByToken` the tokens `reset_token` and `change_token`).
async fn apply<S: Store>(store: &S, user: &User, change: Change, kept: TokenDigest) {
    let at = now();
    match change {
        Change::Password => {
            let update = UserUpdate::new()
                .hashed_password("$2b$04$changed")
                .end_sessions(EndSessions::AllExcept(kept))
                .expected_generation(user.generation);
            store.update_user(user.id, update).await.unwrap();
        }
        Change::Reset => {
            let reset = PasswordReset {
                token: TokenDigest::of("reset token"),
                user_id: user.id,
                now: at,
                hashed_password: "$2b$04$reset".into(),
                end_sessions: false,
                confirm_email: false,
            };
            store.reset_password(reset).await.unwrap();
        }
        Change::Email => {
            let update = UserUpdate::new().email(format!("moved-{}@example.com", user.id));
            store.update_user(user.id, update).await.unwrap();
        }
        Change::EmailByToken => {
            let token = TokenDigest::of("change token");
            store.redeem_email_token(token, at).await.unwrap();
        }
        Change::FactorOn => {
            let enable = SecondFactorChange::Enable {
                sealed_secret: b"sealed".to_vec(),
                step: 1,
                recovery_codes: Vec::new(),
            };
            assert!(store.update_second_factor(user.id, enable).await.unwrap());
        }
        Change::FactorOff => {
            let remove = SecondFactorChange::RemoveVerified(VerifiedSession {
                session: kept,
                generation: user.generation,
            });
            assert!(store.update_second_factor(user.id, remove).await.unwrap());
        }
    }
}

/// Issue 21: a change of password, a reset, a change of email (directly or by token) and
/// turning the second factor on or off each advance the generation by one and, in their
/// transaction, revoke every reset and email token issued before and move every session
/// they keep to the new generation; such a token, read before the change, then redeems
/// nothing. A confirmation is no change of credentials.
pub async fn every_change_of_credentials_advances_the_generation_and_kills_earlier_tokens<
    S: Store,
>(
    store: S,
) {
    let at = now();
    let changes = [
        Change::Password,
        Change::Reset,
        Change::Email,
        Change::EmailByToken,
        Change::FactorOn,
        Change::FactorOff,
    ];
    for (n, change) in changes.into_iter().enumerate() {
        let email = format!("cred{n}@example.com");
        let user = store.add_user(&email, "$2b$04$a").await.unwrap();
        if let Change::FactorOn | Change::FactorOff = change {
            let begin = SecondFactorChange::Begin {
                sealed_secret: b"sealed".to_vec(),
            };
            assert!(store.update_second_factor(user.id, begin).await.unwrap());
        }
        if let Change::FactorOff = change {
            let enable = SecondFactorChange::Enable {
                sealed_secret: b"sealed".to_vec(),
                step: 1,
                recovery_codes: Vec::new(),
            };
            assert!(store.update_second_factor(user.id, enable).await.unwrap());
        }
        let user = store.find_user_by(UserQuery::Id(user.id)).await.unwrap();
        let g = user.generation;
        let (kept, other) = (
            TokenDigest::of(&format!("kept{n}")),
            TokenDigest::of(&format!("other{n}")),
        );
        for s in [kept, other] {
            let record = SessionRecord {
                generation: g,
                ..session(user.id, at, 600)
            };
            store.insert_session(s, record, None).await.unwrap();
        }
        let read = AccountVersion::of(&user);
        let reset_token = TokenDigest::of("reset token");
        let record = ResetRecord {
            generation: g,
            ..reset(user.id, at, 600)
        };
        store
            .replace_reset_token(reset_token, record, read.clone())
            .await
            .unwrap();
        // An earlier confirmation token (an administrator's test of it) and a change token.
        let (confirm, change_token) = (
            TokenDigest::of("confirm token"),
            TokenDigest::of("change token"),
        );
        let purposes = [
            (confirm, EmailTokenPurpose::Confirm),
            (
                change_token,
                EmailTokenPurpose::ChangeEmail {
                    new_email: format!("token-moved-{n}@example.com"),
                },
            ),
        ];
        for (token, purpose) in purposes {
            let record = EmailTokenRecord {
                generation: g,
                ..email_token(user.id, purpose, at, 600)
            };
            store
                .replace_email_token(token, record, read.clone())
                .await
                .unwrap();
        }

        apply(&store, &user, change, kept).await;

        let after = store.find_user_by(UserQuery::Id(user.id)).await.unwrap();
        assert_eq!(after.generation, g + 1, "{change:?}");
        for token in [reset_token] {
            assert!(
                store.reset_token(token).await.unwrap().is_none(),
                "{change:?}"
            );
        }
        for token in [confirm, change_token] {
            assert!(
                store.email_token(token).await.unwrap().is_none(),
                "{change:?}"
            );
            let dead = store.redeem_email_token(token, at).await;
            assert!(
                matches!(dead, Err(StoreError::NotFound)),
                "{change:?}: {dead:?}"
            );
        }
        let kept_entry = store
            .session(kept)
            .await
            .unwrap()
            .expect("the session kept");
        assert_eq!(kept_entry.record.generation, g + 1, "{change:?}");
        let other_entry = store.session(other).await.unwrap();
        match change {
            Change::Password => assert!(other_entry.is_none(), "{change:?}"),
            _ => assert_eq!(
                other_entry.expect("kept").record.generation,
                g + 1,
                "{change:?}"
            ),
        }
    }
    // A confirmation changes no credential.
    let token = TokenDigest::of("confirmation");
    let user = add_unconfirmed(
        &store,
        "unconfirmed@example.com",
        "$2b$04$u",
        token,
        at,
        600,
    )
    .await;
    let redeemed = store.redeem_email_token(token, at).await.unwrap();
    assert_eq!(redeemed.user.generation, user.generation);
}

/// A token stored with another generation than its user's (issued before a change that,
/// in a store that kept it, did not revoke it) redeems nothing: a reset and a redemption
/// are `NotFound` and change nothing, the token stays.
pub async fn a_token_of_another_generation_redeems_nothing<S: Store>(store: S) {
    let at = now();
    let user = store
        .add_user("stale@example.com", "$2b$04$a")
        .await
        .unwrap();
    let read = AccountVersion::of(&user);
    let stale_reset = TokenDigest::of("stale reset");
    let record = ResetRecord {
        generation: 7,
        ..reset(user.id, at, 600)
    };
    store
        .replace_reset_token(stale_reset, record, read.clone())
        .await
        .unwrap();
    let reset = PasswordReset {
        token: stale_reset,
        user_id: user.id,
        now: at,
        hashed_password: "$2b$04$new".into(),
        end_sessions: true,
        confirm_email: false,
    };
    let refused = store.reset_password(reset).await;
    assert!(matches!(refused, Err(StoreError::NotFound)), "{refused:?}");
    assert_eq!(store.reset_token(stale_reset).await.unwrap(), Some(record));
    for (n, purpose) in [
        EmailTokenPurpose::Confirm,
        EmailTokenPurpose::ChangeEmail {
            new_email: "elsewhere@example.com".into(),
        },
    ]
    .into_iter()
    .enumerate()
    {
        let token = TokenDigest::of(&format!("stale email {n}"));
        let record = EmailTokenRecord {
            generation: 7,
            ..email_token(user.id, purpose, at, 600)
        };
        store
            .replace_email_token(token, record.clone(), read.clone())
            .await
            .unwrap();
        let refused = store.redeem_email_token(token, at).await;
        assert!(matches!(refused, Err(StoreError::NotFound)), "{refused:?}");
        assert_eq!(store.email_token(token).await.unwrap(), Some(record));
    }
    let unchanged = store.find_user_by(UserQuery::Id(user.id)).await.unwrap();
    assert_eq!(unchanged, user);
}
