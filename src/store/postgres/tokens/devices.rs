//! Device tokens: the `device_tokens` table, by token digest, with its failure counts.

use std::time::SystemTime;

use deadpool_postgres::{Client, Transaction};

use crate::store::postgres::{count, db_id, db_time, unsigned, users};
use crate::{error::StoreError, store::DeviceRecord, token::TokenDigest, user::UserId};

/// Stores a device token, then removes the user's oldest beyond `max_per_user` (never the
/// new one), under the lock of the user's row (so that racing inserts cannot exceed the
/// cap). [`StoreError::NotFound`] if the user does not exist.
pub(in crate::store::postgres) async fn insert(
    tx: &Transaction<'_>,
    token: TokenDigest,
    record: &DeviceRecord,
    max_per_user: usize,
) -> Result<(), StoreError> {
    let user = users::lock(tx, record.user_id).await?;
    let id = db_id(user.id).ok_or(StoreError::NotFound)?;
    let digest = &token.0[..];
    let failures = i32::try_from(record.failures).unwrap_or(i32::MAX);
    let stmt = tx
        .prepare_cached(
            "INSERT INTO device_tokens (digest, user_id, created, expires, failures)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (digest) DO UPDATE SET user_id = excluded.user_id,
                 created = excluded.created, expires = excluded.expires,
                 failures = excluded.failures",
        )
        .await?;
    tx.execute(
        &stmt,
        &[
            &digest,
            &id,
            &db_time(record.created),
            &db_time(record.expires),
            &failures,
        ],
    )
    .await?;
    let stmt = tx
        .prepare_cached("SELECT count(*) FROM device_tokens WHERE user_id = $1")
        .await?;
    let held: i64 = tx.query_one(&stmt, &[&id]).await?.try_get(0)?;
    let excess = held.saturating_sub(i64::try_from(max_per_user).unwrap_or(i64::MAX));
    if excess > 0 {
        let stmt = tx
            .prepare_cached(
                "DELETE FROM device_tokens WHERE digest IN (
                     SELECT digest FROM device_tokens WHERE user_id = $1 AND digest <> $2
                     ORDER BY created, digest LIMIT $3)",
            )
            .await?;
        tx.execute(&stmt, &[&id, &digest, &excess]).await?;
    }
    Ok(())
}

/// The device token `token`, if stored.
pub(in crate::store::postgres) async fn get(
    client: &Client,
    token: TokenDigest,
) -> Result<Option<DeviceRecord>, StoreError> {
    let stmt = client
        .prepare_cached(
            "SELECT user_id, created, expires, failures FROM device_tokens WHERE digest = $1",
        )
        .await?;
    let Some(row) = client.query_opt(&stmt, &[&&token.0[..]]).await? else {
        return Ok(None);
    };
    let failures: i32 = row.try_get(3)?;
    Ok(Some(DeviceRecord {
        user_id: UserId(unsigned(row.try_get(0)?)),
        created: row.try_get(1)?,
        expires: row.try_get(2)?,
        failures: failures.unsigned_abs(),
    }))
}

/// Counts a failure on `token` if it is `user`'s, under the lock of the token's row (racing
/// failures are counted one after the other): the new count; `None` if there is no such
/// token, or (and then it is removed) if it already had `limit`.
pub(in crate::store::postgres) async fn record_failure(
    tx: &Transaction<'_>,
    token: TokenDigest,
    user: UserId,
    limit: u32,
) -> Result<Option<u32>, StoreError> {
    let Some(user) = db_id(user) else {
        return Ok(None);
    };
    let digest = &token.0[..];
    let stmt = tx
        .prepare_cached(
            "SELECT failures FROM device_tokens WHERE digest = $1 AND user_id = $2 FOR UPDATE",
        )
        .await?;
    let Some(row) = tx.query_opt(&stmt, &[&digest, &user]).await? else {
        return Ok(None);
    };
    let failures: i32 = row.try_get(0)?;
    if failures.unsigned_abs() >= limit {
        let stmt = tx
            .prepare_cached("DELETE FROM device_tokens WHERE digest = $1")
            .await?;
        tx.execute(&stmt, &[&digest]).await?;
        return Ok(None);
    }
    let stmt = tx
        .prepare_cached(
            "UPDATE device_tokens SET failures = failures + 1 WHERE digest = $1
             RETURNING failures",
        )
        .await?;
    let failures: i32 = tx.query_one(&stmt, &[&digest]).await?.try_get(0)?;
    Ok(Some(failures.unsigned_abs()))
}

/// Sets the failure count of `token` back to zero, in one statement; `false` if it is gone.
pub(in crate::store::postgres) async fn reset_failures(
    client: &Client,
    token: TokenDigest,
) -> Result<bool, StoreError> {
    let stmt = client
        .prepare_cached("UPDATE device_tokens SET failures = 0 WHERE digest = $1")
        .await?;
    Ok(client.execute(&stmt, &[&&token.0[..]]).await? > 0)
}

/// Removes every device token of user `id`, in one statement (in a transaction, run again if
/// it is chosen as a deadlock victim against a purge); how many there were.
pub(in crate::store::postgres) async fn remove_all_of(
    tx: &Transaction<'_>,
    id: i64,
) -> Result<usize, StoreError> {
    let stmt = tx
        .prepare_cached("DELETE FROM device_tokens WHERE user_id = $1")
        .await?;
    Ok(count(tx.execute(&stmt, &[&id]).await?))
}

/// Removes the device tokens that expired at or before `now`; how many.
pub(in crate::store::postgres) async fn purge(
    tx: &Transaction<'_>,
    now: SystemTime,
) -> Result<usize, StoreError> {
    super::purge_expired(tx, "device_tokens", now).await
}
