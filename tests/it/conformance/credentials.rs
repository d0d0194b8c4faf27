//! The credential rules: a new hash is a compare-and-set against the generation that
//! advances it, revokes the reset token and ends or moves the sessions, in one transaction;
//! a session is inserted only at the current generation; the re-hash is a compare-and-set
//! against the hash that keeps the generation; an email change revokes the reset token.
//! Every change of credentials (password, reset, email, second factor on or off) advances
//! the generation and kills the tokens issued before it (issue 21); verified deletions and
//! factor removals are compare-and-sets on the session and the generation.

use tower_user_auth::{
    StoreError, User,
    store::{
        AccountVersion, EmailTokenPurpose, EmailTokenRecord, EndSessions, PasswordReset,
        ResetRecord, SecondFactorChange, SessionRecord, UserQuery, UserUpdate, VerifiedSession,
        prelude::*,
    },
    token::TokenDigest,
};

use crate::conformance::{add_unconfirmed, email_token, now, reset, session};

/// A stale `expected_generation` is `Conflict` and changes nothing; the current one sets the
/// hash, advances the generation, removes the reset token, ends what it names and moves the
/// rest of the sessions to the new generation.
pub async fn a_new_hash_is_a_compare_and_set_that_advances_the_generation<S: Store>(store: S) {
    let at = now();
    let user = store.add_user("g@example.com", "$2b$04$a").await.unwrap();
    let (a, b) = (TokenDigest::of("a"), TokenDigest::of("b"));
    for d in [a, b] {
        store
            .insert_session(d, session(user.id, at, 60), None)
            .await
            .unwrap();
    }
    let r1 = TokenDigest::of("r1");
    store
        .replace_reset_token(r1, reset(user.id, at, 60), AccountVersion::of(&user))
        .await
        .unwrap();
    let stale = UserUpdate::new()
        .hashed_password("$2b$04$b")
        .end_sessions(EndSessions::All)
        .expected_generation(1);
    let refused = store.update_user(user.id, stale).await;
    assert!(matches!(refused, Err(StoreError::Conflict)), "{refused:?}");
    assert_eq!(
        store.find_user_by(UserQuery::Id(user.id)).await.unwrap(),
        user
    );
    assert!(store.reset_token(r1).await.unwrap().is_some());
    assert_eq!(store.sessions_of(user.id).await.unwrap().len(), 2);

    let change = UserUpdate::new()
        .hashed_password("$2b$04$b")
        .end_sessions(EndSessions::AllExcept(a))
        .expected_generation(0);
    let changed = store.update_user(user.id, change).await.unwrap();
    assert_eq!(
        (changed.hashed_password.as_str(), changed.generation),
        ("$2b$04$b", 1)
    );
    let kept = store.session(a).await.unwrap().unwrap();
    assert_eq!(
        kept.record,
        SessionRecord {
            generation: 1,
            ..session(user.id, at, 60)
        },
        "moved, same times"
    );
    assert_eq!(kept.email, changed.email);
    assert!(store.session(b).await.unwrap().is_none());
    assert!(store.reset_token(r1).await.unwrap().is_none());
    // Without `expected_generation` the change is unconditional.
    let plain = UserUpdate::new().hashed_password("$2b$04$c");
    assert_eq!(
        store.update_user(user.id, plain).await.unwrap().generation,
        2
    );
    // A new email is a change of credentials too: the generation advances once.
    let email = UserUpdate::new()
        .email("h@example.com")
        .expected_generation(2);
    assert_eq!(
        store.update_user(user.id, email).await.unwrap().generation,
        3
    );
    // An update that changes no credential keeps the generation.
    let same = UserUpdate::new()
        .email_confirmed(true)
        .expected_generation(3);
    assert_eq!(
        store.update_user(user.id, same).await.unwrap().generation,
        3
    );
    let stale_email = UserUpdate::new()
        .email("i@example.com")
        .expected_generation(1);
    let refused = store.update_user(user.id, stale_email).await;
    assert!(matches!(refused, Err(StoreError::Conflict)), "{refused:?}");
}

/// A session of another generation than the user's is `Conflict` and is not stored.
pub async fn sessions_are_inserted_only_at_the_current_generation<S: Store>(store: S) {
    let at = now();
    let user = store.add_user("gen@example.com", "$2b$04$a").await.unwrap();
    let update = UserUpdate::new().hashed_password("$2b$04$b");
    store.update_user(user.id, update).await.unwrap();
    let (old, future, current) = (
        TokenDigest::of("old"),
        TokenDigest::of("future"),
        TokenDigest::of("current"),
    );
    let record = session(user.id, at, 60);
    let refused = store.insert_session(old, record, Some(5)).await;
    assert!(matches!(refused, Err(StoreError::Conflict)), "{refused:?}");
    let ahead = SessionRecord {
        generation: 2,
        ..record
    };
    let refused = store.insert_session(future, ahead, None).await;
    assert!(matches!(refused, Err(StoreError::Conflict)), "{refused:?}");
    for d in [old, future] {
        assert!(store.session(d).await.unwrap().is_none());
    }
    let now_gen = SessionRecord {
        generation: 1,
        ..record
    };
    store.insert_session(current, now_gen, None).await.unwrap();
    assert_eq!(
        store.session(current).await.unwrap().unwrap().record,
        now_gen
    );
}

/// The re-hash replaces the hash only if it is still the one verified, and keeps the
/// generation, the sessions and the reset token.
pub async fn rehash_is_a_compare_and_set_on_the_hash<S: Store>(store: S) {
    let at = now();
    let user = store
        .add_user("rehash@example.com", "$2b$04$a")
        .await
        .unwrap();
    let s = TokenDigest::of("session");
    store
        .insert_session(s, session(user.id, at, 60), None)
        .await
        .unwrap();
    let r = TokenDigest::of("reset");
    store
        .replace_reset_token(r, reset(user.id, at, 60), AccountVersion::of(&user))
        .await
        .unwrap();
    let rehash = |old: &str, new: &str| store.rehash_password(user.id, old.into(), new.into());
    assert!(!rehash("$2b$04$other", "$2b$05$x").await.unwrap());
    assert_eq!(
        store.find_user_by(UserQuery::Id(user.id)).await.unwrap(),
        user
    );
    assert!(rehash("$2b$04$a", "$2b$05$a").await.unwrap());
    let found = store.find_user_by(UserQuery::Id(user.id)).await.unwrap();
    assert_eq!(
        (found.hashed_password.as_str(), found.generation),
        ("$2b$05$a", 0)
    );
    assert!(!rehash("$2b$04$a", "$2b$06$a").await.unwrap(), "once");
    assert_eq!(
        store.session(s).await.unwrap().unwrap().record.generation,
        0
    );
    assert!(store.reset_token(r).await.unwrap().is_some());
}

/// A reset that keeps the sessions moves them all to the new generation, keys and times
/// kept.
pub async fn a_reset_keeping_sessions_moves_them<S: Store>(store: S) {
    let at = now();
    let user = store
        .add_user("keep@example.com", "$2b$04$a")
        .await
        .unwrap();
    let digests = [TokenDigest::of("a"), TokenDigest::of("b")];
    for d in digests {
        store
            .insert_session(d, session(user.id, at, 60), None)
            .await
            .unwrap();
    }
    let token = TokenDigest::of("reset");
    store
        .replace_reset_token(token, reset(user.id, at, 60), AccountVersion::of(&user))
        .await
        .unwrap();
    let done = store
        .reset_password(PasswordReset {
            token,
            user_id: user.id,
            now: at,
            hashed_password: "$2b$04$c".into(),
            end_sessions: false,
            confirm_email: false,
        })
        .await
        .unwrap();
    assert_eq!(done.generation, 1);
    let sessions = store.sessions_of(user.id).await.unwrap();
    let mut kept: Vec<_> = sessions.iter().map(|(d, _)| d.0).collect();
    kept.sort_unstable();
    let mut expected: Vec<_> = digests.iter().map(|d| d.0).collect();
    expected.sort_unstable();
    assert_eq!(kept, expected);
    for (_, s) in sessions {
        assert_eq!(
            s,
            SessionRecord {
                generation: 1,
                ..session(user.id, at, 60)
            }
        );
    }
}

/// An email change revokes the reset token and advances the generation; a token issued for
/// the account as it was before is refused.
pub async fn an_email_change_revokes_the_reset_token<S: Store>(store: S) {
    let at = now();
    let user = store.add_user("g@example.com", "$2b$04$a").await.unwrap();
    let r = TokenDigest::of("r");
    store
        .replace_reset_token(r, reset(user.id, at, 60), AccountVersion::of(&user))
        .await
        .unwrap();
    let moved = store
        .update_user(user.id, UserUpdate::new().email("h@example.com"))
        .await
        .unwrap();
    assert_eq!(moved.generation, 1);
    assert!(store.reset_token(r).await.unwrap().is_none());
    let late = store
        .replace_reset_token(
            TokenDigest::of("late"),
            reset(user.id, at, 60),
            AccountVersion::of(&user),
        )
        .await;
    assert!(matches!(late, Err(StoreError::Conflict)), "{late:?}");
    assert!(
        store
            .reset_token(TokenDigest::of("late"))
            .await
            .unwrap()
            .is_none()
    );
}

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
