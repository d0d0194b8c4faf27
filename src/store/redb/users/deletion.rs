//! Deleting an account with everything of theirs, and the self-deletion by a session holder
//! as a compare-and-set against what they verified.

use redb::WriteTransaction;

use super::*;

/// As [`delete`], if `verified.session` is still user `id`'s ([`StoreError::NotFound`]
/// otherwise) and their generation still `verified.generation` ([`StoreError::Conflict`]
/// otherwise).
pub(in crate::store::redb) fn delete_verified(
    txn: &WriteTransaction,
    id: UserId,
    verified: VerifiedSession,
) -> Result<(), StoreError> {
    check_verified(txn, &get(txn, id.0)?, verified)?;
    delete(txn, id)
}

/// Whether `user` is still as `verified` saw them: [`StoreError::NotFound`] if the session
/// is not theirs any more, [`StoreError::Conflict`] if their generation moved.
pub(in crate::store::redb) fn check_verified(
    txn: &WriteTransaction,
    user: &User,
    verified: VerifiedSession,
) -> Result<(), StoreError> {
    if !sessions::belongs_to(txn, verified.session, user.id.0)? {
        return Err(StoreError::NotFound);
    }
    if user.generation != verified.generation {
        return Err(StoreError::Conflict);
    }
    Ok(())
}

/// Deletes user `id` with their sessions, reset token, device tokens, email tokens, second
/// factor and confirmation state.
pub(in crate::store::redb) fn delete(txn: &WriteTransaction, id: UserId) -> Result<(), StoreError> {
    let user = get(txn, id.0)?;
    sessions::remove_all_of(txn, id.0, EndSessions::All)?;
    super::super::resets::remove_of(txn, id.0)?;
    super::super::devices::remove_all_of(txn, id.0)?;
    email_tokens::remove_all_of(txn, id.0)?;
    second_factor::remove_of(txn, id.0)?;
    txn.open_table(UNCONFIRMED)?.remove(id.0)?;
    txn.open_table(UNCONFIRMED_BY_CREATED)?
        .remove(UserTimeKey::new(millis(user.created), id.0))?;
    txn.open_table(CONTESTED)?.remove(id.0)?;
    writer::dirty_user(id.0);
    txn.open_table(EMAILS)?
        .remove(email_key(&user.email).as_str())?;
    txn.open_table(USERS)?.remove(id.0)?;
    Ok(())
}
