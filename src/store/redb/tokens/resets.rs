//! Reset tokens: the `reset_tokens` table, the one live token per user, and the expiry index
//! the purge ranges over.

use redb::{ReadTransaction, ReadableTable, WriteTransaction};

use crate::store::redb::{
    records::StoredReset,
    schema::{RESET_EXPIRY, RESETS, USER_RESET},
    time_index::TimeIndexKey,
    users,
};
use crate::{
    error::StoreError,
    store::{AccountVersion, EndSessions, PasswordReset, ResetRecord},
    token::TokenDigest,
    user::User,
};

/// Stores `record` as the user's one reset token, replacing any earlier one, if the user is
/// still as `read`: [`StoreError::NotFound`] if the user does not exist,
/// [`StoreError::Conflict`] if its generation or email changed.
pub(in crate::store::redb) fn replace(
    txn: &WriteTransaction,
    token: TokenDigest,
    record: &ResetRecord,
    read: &AccountVersion,
) -> Result<(), StoreError> {
    let user = record.user_id.0;
    read.check(&users::get(txn, user)?)?;
    remove_of(txn, user)?;
    let stored = StoredReset::new(record);
    txn.open_table(RESETS)?.insert(token.0, stored)?;
    txn.open_table(USER_RESET)?.insert(user, token.0)?;
    txn.open_table(RESET_EXPIRY)?
        .insert(TimeIndexKey::new(stored.expires_ms, token.0), ())?;
    Ok(())
}

/// The reset token `token`, if stored.
pub(in crate::store::redb) fn get(
    txn: &ReadTransaction,
    token: TokenDigest,
) -> Result<Option<ResetRecord>, StoreError> {
    Ok(txn
        .open_table(RESETS)?
        .get(token.0)?
        .map(|v| v.value().record()))
}

/// Sets the new password if the token is live, the user's and of their current generation,
/// spending the token (and revoking their email tokens), and ends
/// the user's sessions if asked or moves them to the new generation
/// ([`users::set_password`]); [`StoreError::NotFound`] otherwise.
pub(in crate::store::redb) fn reset_password(
    txn: &WriteTransaction,
    reset: PasswordReset,
) -> Result<User, StoreError> {
    let record = txn
        .open_table(RESETS)?
        .get(reset.token.0)?
        .map(|v| v.value().record());
    let good = record.is_some_and(|r| r.user_id == reset.user_id && r.expires > reset.now);
    if !good {
        return Err(StoreError::NotFound);
    }
    let mut user = users::get(txn, reset.user_id.0)?;
    // Issued before a change of credentials: dead.
    if record.is_none_or(|r| r.generation != user.generation) {
        return Err(StoreError::NotFound);
    }
    let end = if reset.end_sessions {
        EndSessions::All
    } else {
        EndSessions::None
    };
    users::set_password(txn, &mut user, reset.hashed_password, end)?;
    if reset.confirm_email && !user.email_confirmed {
        // The token reached the address: it is proven, whoever registered it.
        crate::store::redb::email_tokens::remove_confirmation_of(txn, user.id.0)?;
        users::set_confirmed(txn, &mut user, true)?;
    }
    Ok(user)
}

/// Removes user `user`'s reset token, if any.
pub(in crate::store::redb) fn remove_of(
    txn: &WriteTransaction,
    user: u64,
) -> Result<(), StoreError> {
    let Some(digest) = txn.open_table(USER_RESET)?.remove(user)?.map(|v| v.value()) else {
        return Ok(());
    };
    if let Some(stored) = txn.open_table(RESETS)?.remove(digest)?.map(|v| v.value()) {
        txn.open_table(RESET_EXPIRY)?
            .remove(TimeIndexKey::new(stored.expires_ms, digest))?;
    }
    Ok(())
}

/// Removes the reset tokens that expired at or before `now_ms`; how many.
pub(in crate::store::redb) fn purge(
    txn: &WriteTransaction,
    now_ms: u64,
) -> Result<usize, StoreError> {
    let mut due: Vec<TimeIndexKey> = Vec::new();
    for entry in txn
        .open_table(RESET_EXPIRY)?
        .range(..=TimeIndexKey::last_at(now_ms))?
    {
        due.push(entry?.0.value());
    }
    let mut purged = 0;
    for key in due {
        txn.open_table(RESET_EXPIRY)?.remove(key)?;
        if let Some(stored) = txn
            .open_table(RESETS)?
            .remove(key.digest)?
            .map(|v| v.value())
        {
            let mut by_user = txn.open_table(USER_RESET)?;
            if by_user
                .get(stored.user_id)?
                .is_some_and(|v| v.value() == key.digest)
            {
                by_user.remove(stored.user_id)?;
            }
            purged += 1;
        }
    }
    Ok(purged)
}
