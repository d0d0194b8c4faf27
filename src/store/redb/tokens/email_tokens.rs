//! Email tokens (confirming an address, changing it): the `email_tokens` table, the one live
//! token per user and kind, and the expiry index the purge ranges over.

use std::time::SystemTime;

use redb::{ReadTransaction, ReadableTable, WriteTransaction};

use crate::store::redb::{
    records::{KIND_CHANGE_EMAIL, KIND_CONFIRM, StoredEmailToken, kind_of, millis, user_kind_key},
    schema::{EMAIL_TOKEN_EXPIRY, EMAIL_TOKENS, USER_EMAIL_TOKENS},
    time_index::{self, TimeIndexKey},
    users,
};
use crate::{
    error::StoreError,
    store::{AccountVersion, EmailRedeemed, EmailTokenPurpose, EmailTokenRecord, EndSessions},
    token::TokenDigest,
    user::User,
};

/// Stores `record` under `token` as the user's one token of its kind, replacing an earlier
/// one. The caller has checked that the user exists.
pub(in crate::store::redb) fn insert(
    txn: &WriteTransaction,
    token: TokenDigest,
    record: &EmailTokenRecord,
) -> Result<(), StoreError> {
    let user = record.user_id.0;
    let kind = kind_of(&record.purpose);
    remove_kind_of(txn, user, kind)?;
    let stored = StoredEmailToken::new(record);
    let expires_ms = stored.expires_ms;
    // A digest already stored (for whichever user) is replaced: its index entries go first.
    remove(txn, token.0)?;
    txn.open_table(EMAIL_TOKENS)?.insert(token.0, &stored)?;
    txn.open_table(USER_EMAIL_TOKENS)?
        .insert(user_kind_key(user, kind), token.0)?;
    txn.open_table(EMAIL_TOKEN_EXPIRY)?
        .insert(TimeIndexKey::new(expires_ms, token.0), ())?;
    Ok(())
}

/// Stores `record` as the user's one token of its kind if the user is still as `read`:
/// [`StoreError::NotFound`] if the user does not exist, [`StoreError::Conflict`] if its
/// generation or email changed.
pub(in crate::store::redb) fn replace(
    txn: &WriteTransaction,
    token: TokenDigest,
    record: &EmailTokenRecord,
    read: &AccountVersion,
) -> Result<(), StoreError> {
    read.check(&users::get(txn, record.user_id.0)?)?;
    insert(txn, token, record)
}

/// The email token `token`, if stored.
pub(in crate::store::redb) fn get(
    txn: &ReadTransaction,
    token: TokenDigest,
) -> Result<Option<EmailTokenRecord>, StoreError> {
    Ok(txn
        .open_table(EMAIL_TOKENS)?
        .get(token.0)?
        .map(|v| v.value().record()))
}

/// Redeems `token` if it is stored, expires after `now` and was issued at its user's
/// current generation: removes it and confirms the account, or moves it to the new address
/// ([`users::change_email`], which revokes the user's other email tokens; then
/// [`users::new_generation`], every session kept) and confirms it; a contested account's
/// confirmation token is refused ([`StoreError::Conflict`], nothing written).
/// [`StoreError::NotFound`] for a token not good, [`StoreError::EmailTaken`] (the token kept) for an address another account has.
pub(in crate::store::redb) fn redeem(
    txn: &WriteTransaction,
    token: TokenDigest,
    now: SystemTime,
) -> Result<EmailRedeemed, StoreError> {
    let Some(stored) = txn
        .open_table(EMAIL_TOKENS)?
        .get(token.0)?
        .map(|v| v.value())
    else {
        return Err(StoreError::NotFound);
    };
    if stored.expires_ms <= millis(now) {
        return Err(StoreError::NotFound);
    }
    let mut user = users::get(txn, stored.user_id)?;
    // Issued before a change of credentials: dead.
    if stored.generation != user.generation {
        return Err(StoreError::NotFound);
    }
    if stored.purpose == EmailTokenPurpose::Confirm && user.contested {
        // Only a new password confirms it ([`confirm_with_password`]): nothing written.
        return Err(StoreError::Conflict);
    }
    let previous_email = user.email.clone();
    if let EmailTokenPurpose::ChangeEmail { new_email } = &stored.purpose {
        // Checked before anything is written: refused, the token stays.
        if users::change_email(txn, &mut user, new_email)? {
            users::new_generation(txn, &mut user, EndSessions::None)?;
        }
    }
    remove(txn, token.0)?;
    users::set_confirmed(txn, &mut user, true)?;
    Ok(EmailRedeemed {
        user,
        previous_email,
        purpose: stored.purpose,
    })
}

/// Redeems the confirmation token `token` if it is stored, expires after `now` and was
/// issued at its user's current generation ([`StoreError::NotFound`] otherwise, and for an
/// email-change token) with the new password `hash`: sets the password
/// ([`users::set_password`]: next generation, reset token and every email token, this one
/// included, removed) ending every session, and confirms the account (no longer contested).
pub(in crate::store::redb) fn confirm_with_password(
    txn: &WriteTransaction,
    token: TokenDigest,
    now: SystemTime,
    hash: String,
) -> Result<User, StoreError> {
    let stored = txn
        .open_table(EMAIL_TOKENS)?
        .get(token.0)?
        .map(|v| v.value())
        .filter(|s| s.purpose == EmailTokenPurpose::Confirm && s.expires_ms > millis(now))
        .ok_or(StoreError::NotFound)?;
    let mut user = users::get(txn, stored.user_id)?;
    // Issued before a change of credentials: dead.
    if stored.generation != user.generation {
        return Err(StoreError::NotFound);
    }
    users::set_password(txn, &mut user, hash, EndSessions::All)?;
    users::set_confirmed(txn, &mut user, true)?;
    Ok(user)
}

/// Removes user `user`'s confirmation token, if any.
pub(in crate::store::redb) fn remove_confirmation_of(
    txn: &WriteTransaction,
    user: u64,
) -> Result<(), StoreError> {
    remove_kind_of(txn, user, KIND_CONFIRM)
}

/// Removes the email token `digest` and its index entries; `false` if there was none.
fn remove(txn: &WriteTransaction, digest: [u8; 32]) -> Result<bool, StoreError> {
    let Some(stored) = txn
        .open_table(EMAIL_TOKENS)?
        .remove(digest)?
        .map(|v| v.value())
    else {
        return Ok(false);
    };
    let key = user_kind_key(stored.user_id, kind_of(&stored.purpose));
    let mut by_user = txn.open_table(USER_EMAIL_TOKENS)?;
    if by_user.get(key)?.is_some_and(|v| v.value() == digest) {
        by_user.remove(key)?;
    }
    txn.open_table(EMAIL_TOKEN_EXPIRY)?
        .remove(TimeIndexKey::new(stored.expires_ms, digest))?;
    Ok(true)
}

/// Removes user `user`'s token of kind `kind`, if any.
fn remove_kind_of(txn: &WriteTransaction, user: u64, kind: u8) -> Result<(), StoreError> {
    let digest = txn
        .open_table(USER_EMAIL_TOKENS)?
        .get(user_kind_key(user, kind))?
        .map(|v| v.value());
    if let Some(digest) = digest {
        remove(txn, digest)?;
    }
    Ok(())
}

/// Removes every email token of user `user` (both kinds).
pub(in crate::store::redb) fn remove_all_of(
    txn: &WriteTransaction,
    user: u64,
) -> Result<(), StoreError> {
    remove_kind_of(txn, user, KIND_CONFIRM)?;
    remove_kind_of(txn, user, KIND_CHANGE_EMAIL)
}

/// Removes the email tokens that expired at or before `now_ms`; how many.
pub(in crate::store::redb) fn purge(
    txn: &WriteTransaction,
    now_ms: u64,
) -> Result<usize, StoreError> {
    let due = time_index::due(txn, EMAIL_TOKEN_EXPIRY, now_ms)?;
    time_index::remove_each(due, |digest| remove(txn, digest))
}
