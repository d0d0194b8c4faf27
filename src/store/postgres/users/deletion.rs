//! Deleting an account with everything of theirs (the cascade), and the check a
//! self-deletion or a factor removal makes against what the session holder verified.

use super::*;

/// Whether `user` (locked) is still as `verified` saw them, under the lock of the session's
/// row too (so that a logout cannot end it before the change commits):
/// [`StoreError::NotFound`] if the session is not theirs any more, [`StoreError::Conflict`]
/// if their generation moved.
pub(in crate::store::postgres) async fn check_verified(
    tx: &Transaction<'_>,
    user: &User,
    verified: VerifiedSession,
) -> Result<(), StoreError> {
    let id = db_id(user.id).ok_or(StoreError::NotFound)?;
    if !sessions::lock_of_user(tx, verified.session, id).await? {
        return Err(StoreError::NotFound);
    }
    if user.generation != verified.generation {
        return Err(StoreError::Conflict);
    }
    Ok(())
}

/// Deletes user `id` in one statement (in a transaction, so that it is run again if it is
/// chosen as a deadlock victim against a purge); the foreign keys' `ON DELETE CASCADE`
/// removes their sessions, reset token, device tokens, email tokens and second factor (with
/// its recovery codes) in it.
pub(in crate::store::postgres) async fn delete(
    tx: &Transaction<'_>,
    id: UserId,
) -> Result<(), StoreError> {
    let Some(id) = db_id(id) else {
        return Err(StoreError::NotFound);
    };
    let stmt = tx.prepare_cached("DELETE FROM users WHERE id = $1").await?;
    match tx.execute(&stmt, &[&id]).await? {
        0 => Err(StoreError::NotFound),
        _ => Ok(()),
    }
}
