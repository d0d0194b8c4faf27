//! Email tokens: the `email_tokens` table, by token digest, at most one of each kind
//! (confirming the address, changing it) per user.

use std::time::SystemTime;

use deadpool_postgres::{Client, Transaction};
use tokio_postgres::Row;

use crate::store::postgres::{db_generation, db_time, errors::PgError, unsigned, users};
use crate::{
    error::StoreError,
    store::{AccountVersion, EmailRedeemed, EmailTokenPurpose, EmailTokenRecord, EndSessions},
    token::TokenDigest,
    user::{User, UserId},
};

/// The `kind` of a [`EmailTokenPurpose::Confirm`] token.
const CONFIRM: i16 = 1;
/// The `kind` of a [`EmailTokenPurpose::ChangeEmail`] token.
const CHANGE_EMAIL: i16 = 2;

/// The `kind` and `new_email` columns of `purpose`.
fn columns_of(purpose: &EmailTokenPurpose) -> (i16, Option<&str>) {
    match purpose {
        EmailTokenPurpose::Confirm => (CONFIRM, None),
        EmailTokenPurpose::ChangeEmail { new_email } => (CHANGE_EMAIL, Some(new_email.as_str())),
    }
}

/// The purpose in the `kind` and `new_email` columns of `row` from column `at`.
fn purpose_of(row: &Row, at: usize) -> Result<EmailTokenPurpose, StoreError> {
    let kind: i16 = row.try_get(at)?;
    let new_email: Option<String> = row.try_get(at + 1)?;
    match (kind, new_email) {
        (CONFIRM, None) => Ok(EmailTokenPurpose::Confirm),
        (CHANGE_EMAIL, Some(new_email)) => Ok(EmailTokenPurpose::ChangeEmail { new_email }),
        (kind, _) => Err(PgError::other(format!(
            "an email token of unknown kind {kind}"
        ))),
    }
}

/// Stores `record` under `token` for user `id`, replacing (revoking) the user's token of the
/// same kind: the caller holds the lock of the user's row.
pub(in crate::store::postgres) async fn insert(
    tx: &Transaction<'_>,
    id: i64,
    token: TokenDigest,
    record: &EmailTokenRecord,
) -> Result<(), StoreError> {
    let (kind, new_email) = columns_of(&record.purpose);
    let stmt = tx
        .prepare_cached("DELETE FROM email_tokens WHERE user_id = $1 AND kind = $2")
        .await?;
    tx.execute(&stmt, &[&id, &kind]).await?;
    // A digest stored for another user or kind (a 256-bit token drawn twice: never in
    // practice) is taken over, as the reset tokens do.
    let stmt = tx
        .prepare_cached(
            "INSERT INTO email_tokens (digest, user_id, kind, new_email, created, expires,
                 generation)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (digest) DO UPDATE SET user_id = excluded.user_id,
                 kind = excluded.kind, new_email = excluded.new_email,
                 created = excluded.created, expires = excluded.expires,
                 generation = excluded.generation",
        )
        .await?;
    tx.execute(
        &stmt,
        &[
            &&token.0[..],
            &id,
            &kind,
            &new_email,
            &db_time(record.created),
            &db_time(record.expires),
            &db_generation(record.generation)?,
        ],
    )
    .await?;
    Ok(())
}

/// Stores `record` as the user's token of its kind if the user is still as `read`, checked
/// under the lock of the user's row: [`StoreError::NotFound`] if the user does not exist,
/// [`StoreError::Conflict`] if its generation or email changed.
pub(in crate::store::postgres) async fn replace(
    tx: &Transaction<'_>,
    token: TokenDigest,
    record: &EmailTokenRecord,
    read: &AccountVersion,
) -> Result<(), StoreError> {
    let id = users::lock_as_read(tx, record.user_id, read).await?;
    insert(tx, id, token, record).await
}

/// The email token `token`, if stored, in one statement.
pub(in crate::store::postgres) async fn get(
    client: &Client,
    token: TokenDigest,
) -> Result<Option<EmailTokenRecord>, StoreError> {
    let stmt = client
        .prepare_cached(
            "SELECT user_id, kind, new_email, created, expires, generation FROM email_tokens
             WHERE digest = $1",
        )
        .await?;
    let Some(row) = client.query_opt(&stmt, &[&&token.0[..]]).await? else {
        return Ok(None);
    };
    Ok(Some(EmailTokenRecord {
        user_id: UserId(unsigned(row.try_get(0)?)),
        purpose: purpose_of(&row, 1)?,
        created: row.try_get(3)?,
        expires: row.try_get(4)?,
        generation: unsigned(row.try_get(5)?),
    }))
}

/// The user of the email token `token`, found by a plain read of the token, their row then
/// locked ([`users::lock`]): their id and the account as locked. [`StoreError::NotFound`]
/// for a token not stored. The caller spends the token by a conditional statement, which
/// re-checks that it is still this user's.
async fn lock_owner(tx: &Transaction<'_>, token: TokenDigest) -> Result<(i64, User), StoreError> {
    let stmt = tx
        .prepare_cached("SELECT user_id FROM email_tokens WHERE digest = $1")
        .await?;
    let Some(row) = tx.query_opt(&stmt, &[&&token.0[..]]).await? else {
        return Err(StoreError::NotFound);
    };
    let id: i64 = row.try_get(0)?;
    Ok((id, users::lock(tx, UserId(unsigned(id))).await?))
}

/// Redeems `token` under the lock of its user's row: the user is found by a plain read of
/// the token, their row locked, then the token spent by a conditional `DELETE` (still this
/// user's, not expired at `now`, issued at the user's current generation), the
/// compare-and-set of racing redemptions: the first to
/// lock the user deletes it, the others find it gone ([`StoreError::NotFound`]). The user's
/// row is locked before the token's, in the order every change of an account takes its
/// locks. Then a confirmation marks the account confirmed; an email change moves the account
/// ([`users::set_email`]: [`StoreError::EmailTaken`] rolls everything back, the token kept),
/// advances its generation with every session kept ([`users::new_generation`]) and marks it
/// confirmed.
pub(in crate::store::postgres) async fn redeem(
    tx: &Transaction<'_>,
    token: TokenDigest,
    now: SystemTime,
) -> Result<EmailRedeemed, StoreError> {
    let (id, mut user) = lock_owner(tx, token).await?;
    let stmt = tx
        .prepare_cached(
            "DELETE FROM email_tokens
             WHERE digest = $1 AND user_id = $2 AND expires > $3 AND generation = $4
             RETURNING kind, new_email",
        )
        .await?;
    let generation = db_generation(user.generation)?;
    let Some(spent) = tx
        .query_opt(&stmt, &[&&token.0[..], &id, &db_time(now), &generation])
        .await?
    else {
        return Err(StoreError::NotFound);
    };
    let purpose = purpose_of(&spent, 0)?;
    if purpose == EmailTokenPurpose::Confirm && user.contested {
        // Only a new password confirms it ([`confirm_with_password`]): rolled back, the
        // token kept.
        return Err(StoreError::Conflict);
    }
    let previous_email = user.email.clone();
    if let EmailTokenPurpose::ChangeEmail { new_email } = &purpose
        && users::set_email(tx, &mut user, new_email).await?
    {
        users::new_generation(tx, &mut user, EndSessions::None).await?;
    }
    users::set_confirmed(tx, &mut user, true).await?;
    Ok(EmailRedeemed {
        user,
        previous_email,
        purpose,
    })
}

/// Redeems the confirmation token `token` with the new password `hash`, under the lock of its
/// user's row as [`redeem`] does: spends it by a conditional `DELETE` (a confirmation token
/// of this user, not expired at `now`, issued at the user's current generation;
/// [`StoreError::NotFound`], rolled back, otherwise), sets the password
/// ([`users::set_password`]: next generation, reset token and every email token removed,
/// every session ended) and confirms the account (no longer contested).
pub(in crate::store::postgres) async fn confirm_with_password(
    tx: &Transaction<'_>,
    token: TokenDigest,
    now: SystemTime,
    hash: String,
) -> Result<User, StoreError> {
    let (id, mut user) = lock_owner(tx, token).await?;
    let stmt = tx
        .prepare_cached(
            "DELETE FROM email_tokens
             WHERE digest = $1 AND user_id = $2 AND kind = $3 AND expires > $4
                 AND generation = $5",
        )
        .await?;
    let generation = db_generation(user.generation)?;
    let spent = tx
        .execute(
            &stmt,
            &[&&token.0[..], &id, &CONFIRM, &db_time(now), &generation],
        )
        .await?;
    if spent == 0 {
        return Err(StoreError::NotFound);
    }
    users::set_password(tx, &mut user, hash, EndSessions::All).await?;
    users::set_confirmed(tx, &mut user, true).await?;
    Ok(user)
}

/// Removes user `id`'s confirmation token, if any.
pub(in crate::store::postgres) async fn remove_confirmation_of(
    tx: &Transaction<'_>,
    id: i64,
) -> Result<(), StoreError> {
    let stmt = tx
        .prepare_cached("DELETE FROM email_tokens WHERE user_id = $1 AND kind = $2")
        .await?;
    tx.execute(&stmt, &[&id, &CONFIRM]).await?;
    Ok(())
}

/// Removes every email token of user `id`.
pub(in crate::store::postgres) async fn remove_all_of(
    tx: &Transaction<'_>,
    id: i64,
) -> Result<(), StoreError> {
    let stmt = tx
        .prepare_cached("DELETE FROM email_tokens WHERE user_id = $1")
        .await?;
    tx.execute(&stmt, &[&id]).await?;
    Ok(())
}

/// Removes the email tokens that expired at or before `now`; how many.
pub(in crate::store::postgres) async fn purge(
    tx: &Transaction<'_>,
    now: SystemTime,
) -> Result<usize, StoreError> {
    super::purge_expired(tx, "email_tokens", now).await
}
