//! Reset tokens: the `reset_tokens` table, one per user, by token digest.

use std::time::SystemTime;

use deadpool_postgres::{Client, Transaction};

use crate::store::postgres::{db_generation, db_id, db_time, unsigned, users};
use crate::{
    error::StoreError,
    store::{AccountVersion, EndSessions, PasswordReset, ResetRecord},
    token::TokenDigest,
    user::{User, UserId},
};

/// Stores `record` as the user's one reset token, replacing any earlier one, if the user is
/// still as `read`, checked under the lock of the user's row: [`StoreError::NotFound`] if
/// the user does not exist, [`StoreError::Conflict`] if its generation or email changed.
pub(in crate::store::postgres) async fn replace(
    tx: &Transaction<'_>,
    token: TokenDigest,
    record: &ResetRecord,
    read: &AccountVersion,
) -> Result<(), StoreError> {
    let id = users::lock_as_read(tx, record.user_id, read).await?;
    users::remove_reset_token(tx, id).await?;
    let stmt = tx
        .prepare_cached(
            "INSERT INTO reset_tokens (digest, user_id, created, expires, generation)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (digest) DO UPDATE SET user_id = excluded.user_id,
                 created = excluded.created, expires = excluded.expires,
                 generation = excluded.generation",
        )
        .await?;
    tx.execute(
        &stmt,
        &[
            &&token.0[..],
            &id,
            &db_time(record.created),
            &db_time(record.expires),
            &db_generation(record.generation)?,
        ],
    )
    .await?;
    Ok(())
}

/// The reset token `token`, if stored.
pub(in crate::store::postgres) async fn get(
    client: &Client,
    token: TokenDigest,
) -> Result<Option<ResetRecord>, StoreError> {
    let stmt = client
        .prepare_cached(
            "SELECT user_id, created, expires, generation FROM reset_tokens WHERE digest = $1",
        )
        .await?;
    let Some(row) = client.query_opt(&stmt, &[&&token.0[..]]).await? else {
        return Ok(None);
    };
    Ok(Some(ResetRecord {
        user_id: UserId(unsigned(row.try_get(0)?)),
        created: row.try_get(1)?,
        expires: row.try_get(2)?,
        generation: unsigned(row.try_get(3)?),
    }))
}

/// Under the lock of the user's row: spends the token if it is stored for `reset.user_id`,
/// has not expired and was issued at the user's current generation (a conditional `DELETE`, the compare-and-set on the token: of racing
/// resets with one token, the first to lock the user deletes it, the others find it gone),
/// then sets the new password and ends the user's sessions or moves them to the new
/// generation ([`users::set_password`]). [`StoreError::NotFound`] (rolled back) otherwise.
pub(in crate::store::postgres) async fn reset_password(
    tx: &Transaction<'_>,
    reset: &PasswordReset,
) -> Result<User, StoreError> {
    let mut user = users::lock(tx, reset.user_id).await?;
    let id = db_id(user.id).ok_or(StoreError::NotFound)?;
    let stmt = tx
        .prepare_cached(
            "DELETE FROM reset_tokens
             WHERE digest = $1 AND user_id = $2 AND expires > $3 AND generation = $4",
        )
        .await?;
    let generation = db_generation(user.generation)?;
    let spent = tx
        .execute(
            &stmt,
            &[&&reset.token.0[..], &id, &db_time(reset.now), &generation],
        )
        .await?;
    if spent == 0 {
        return Err(StoreError::NotFound);
    }
    let end = if reset.end_sessions {
        EndSessions::All
    } else {
        EndSessions::None
    };
    users::set_password(tx, &mut user, reset.hashed_password.clone(), end).await?;
    if reset.confirm_email && !user.email_confirmed {
        // The token reached the address: it is proven, whoever registered it.
        crate::store::postgres::email_tokens::remove_confirmation_of(tx, id).await?;
        users::set_confirmed(tx, &mut user, true).await?;
    }
    Ok(user)
}

/// Removes the reset tokens that expired at or before `now`; how many.
pub(in crate::store::postgres) async fn purge(
    tx: &Transaction<'_>,
    now: SystemTime,
) -> Result<usize, StoreError> {
    super::purge_expired(tx, "reset_tokens", now).await
}
