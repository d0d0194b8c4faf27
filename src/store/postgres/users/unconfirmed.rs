//! Accounts not confirmed yet: contesting one, replacing one past its lifetime, and the purge
//! of those past it.

use std::time::SystemTime;

use deadpool_postgres::{Client, Transaction};

use crate::{error::StoreError, store::postgres::db_time, user::email_key};

/// Removes the unconfirmed account holding `email`'s key if it was created at or before
/// `stale_before` (its row locked, then deleted: the cascade takes everything of theirs);
/// its id, for the caches. A confirmed or live holder stays: the insert after this finds
/// the key taken.
pub(super) async fn remove_stale(
    tx: &Transaction<'_>,
    email: &str,
    stale_before: SystemTime,
) -> Result<Option<i64>, StoreError> {
    let stmt = tx
        .prepare_cached(
            "SELECT id FROM users WHERE email_key = $1 AND NOT email_confirmed
                 AND created <= $2 FOR UPDATE",
        )
        .await?;
    let Some(row) = tx
        .query_opt(&stmt, &[&email_key(email), &db_time(stale_before)])
        .await?
    else {
        return Ok(None);
    };
    let id: i64 = row.try_get(0)?;
    let stmt = tx.prepare_cached("DELETE FROM users WHERE id = $1").await?;
    tx.execute(&stmt, &[&id]).await?;
    Ok(Some(id))
}

/// Marks the account of `email` contested if it is unconfirmed, in one conditional `UPDATE`
/// (which re-checks the condition on the row it may have waited for): whether it is (now).
pub(super) async fn contest(client: &Client, email: &str) -> Result<bool, StoreError> {
    let stmt = client
        .prepare_cached(
            "UPDATE users SET contested = true WHERE email_key = $1 AND NOT email_confirmed",
        )
        .await?;
    Ok(client.execute(&stmt, &[&email_key(email)]).await? == 1)
}

/// Deletes the unconfirmed accounts created at or before `before` in one statement (the
/// cascade takes everything of theirs); their ids.
pub(in crate::store::postgres) async fn purge_unconfirmed(
    tx: &Transaction<'_>,
    before: SystemTime,
) -> Result<Vec<i64>, StoreError> {
    let stmt = tx
        .prepare_cached(
            "DELETE FROM users WHERE NOT email_confirmed AND created <= $1 RETURNING id",
        )
        .await?;
    let rows = tx.query(&stmt, &[&db_time(before)]).await?;
    rows.iter().map(|row| Ok(row.try_get(0)?)).collect()
}
