//! Second factors: [`SecondFactorStore`] for [`PgStore`] over the `second_factors` table,
//! one row per user who has one (pending or enabled), with the digests of its unused recovery
//! codes in an array.
//!
//! Every change ([`change`]) runs under the lock of the user's row, like every other change
//! of an account, and is itself one conditional statement (`INSERT … ON CONFLICT DO UPDATE
//! … WHERE`, `UPDATE … WHERE … RETURNING`, `DELETE`) whose condition is the compare-and-set:
//! PostgreSQL re-checks it on the row it waited for, so that of racing uses of one code (or
//! of one recovery code) exactly one applies.

use deadpool_postgres::{Client, Transaction};
use tokio_postgres::Row;

use super::{db_id, digest_of, errors::PgError, unsigned, users};
use crate::{
    error::StoreError,
    store::{EndSessions, SecondFactorChange, SecondFactorRecord},
    token::TokenDigest,
    user::UserId,
};

use crate::store::postgres::{PgStore, dirty_user};
use crate::store::{SecondFactorStore, cache::Dirty};

impl SecondFactorStore for PgStore {
    async fn second_factor(&self, id: UserId) -> Result<Option<SecondFactorRecord>, StoreError> {
        get(&self.client().await?, id).await
    }

    async fn update_second_factor(
        &self,
        id: UserId,
        change: SecondFactorChange,
    ) -> Result<bool, StoreError> {
        self.write(move |tx| {
            let change = change.clone();
            Box::pin(async move {
                let (applied, turned) = self::change(tx, id, &change).await?;
                // Turning the factor on or off moves every session of the user to a new
                // generation: every cache drops them.
                let dirty = match (turned, db_id(id)) {
                    (true, Some(db)) => dirty_user(db),
                    _ => Dirty::default(),
                };
                Ok((applied, dirty))
            })
        })
        .await
    }
}

/// A time step as the `bigint` column holds it.
fn db_step(step: u64) -> Result<i64, StoreError> {
    i64::try_from(step).map_err(|_| PgError::other(format!("time step {step} is out of range")))
}

/// Recovery code digests as a `bytea[]` parameter.
fn db_codes(codes: &[TokenDigest]) -> Vec<&[u8]> {
    codes.iter().map(|code| &code.0[..]).collect()
}

/// The factor in a row of `sealed_secret, enabled, last_step, recovery_codes` from column
/// `at`.
fn record_of(row: &Row, at: usize) -> Result<SecondFactorRecord, StoreError> {
    let codes: Vec<&[u8]> = row.try_get(at + 3)?;
    Ok(SecondFactorRecord {
        sealed_secret: row.try_get(at)?,
        enabled: row.try_get(at + 1)?,
        last_step: unsigned(row.try_get(at + 2)?),
        recovery_codes: codes
            .into_iter()
            .map(|code| digest_of(code).map(TokenDigest))
            .collect::<Result<_, _>>()?,
    })
}

/// The factor of user `id`, in one statement; `None` if they have none,
/// [`StoreError::NotFound`] if there is no such user.
pub(super) async fn get(
    client: &Client,
    id: UserId,
) -> Result<Option<SecondFactorRecord>, StoreError> {
    let Some(id) = db_id(id) else {
        return Err(StoreError::NotFound);
    };
    let stmt = client
        .prepare_cached(
            "SELECT f.user_id IS NOT NULL, f.sealed_secret, f.enabled, f.last_step,
                 f.recovery_codes
             FROM users LEFT JOIN second_factors f ON f.user_id = users.id
             WHERE users.id = $1",
        )
        .await?;
    let Some(row) = client.query_opt(&stmt, &[&id]).await? else {
        return Err(StoreError::NotFound);
    };
    let has: bool = row.try_get(0)?;
    has.then(|| record_of(&row, 1)).transpose()
}

/// Stores `record` as user `id`'s factor (an import: the user was inserted in this
/// transaction).
pub(super) async fn insert(
    tx: &Transaction<'_>,
    id: i64,
    record: &SecondFactorRecord,
) -> Result<(), StoreError> {
    let stmt = tx
        .prepare_cached(
            "INSERT INTO second_factors (user_id, sealed_secret, enabled, last_step,
                 recovery_codes)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .await?;
    tx.execute(
        &stmt,
        &[
            &id,
            &record.sealed_secret,
            &record.enabled,
            &db_step(record.last_step)?,
            &db_codes(&record.recovery_codes),
        ],
    )
    .await?;
    Ok(())
}

/// Applies `change` to user `id`'s factor under the lock of the user's row
/// ([`StoreError::NotFound`] if there is no such user); whether it applied, and whether it
/// turned the factor on or off: a change of credentials, made in the same transaction
/// ([`users::new_generation`], every session kept), whose caller notifies the caches of the
/// user.
pub(super) async fn change(
    tx: &Transaction<'_>,
    id: UserId,
    change: &SecondFactorChange,
) -> Result<(bool, bool), StoreError> {
    let mut user = users::lock(tx, id).await?;
    let id = db_id(user.id).ok_or(StoreError::NotFound)?;
    let (applied, turned) = match change {
        SecondFactorChange::Begin { sealed_secret } => {
            // A pending factor is replaced (a new secret, no step used, no codes); an enabled
            // one is not: the upsert's WHERE leaves its row and returns nothing.
            let stmt = tx
                .prepare_cached(
                    "INSERT INTO second_factors (user_id, sealed_secret, enabled, last_step,
                         recovery_codes)
                     VALUES ($1, $2, false, 0, '{}')
                     ON CONFLICT (user_id) DO UPDATE SET sealed_secret = excluded.sealed_secret,
                         last_step = 0, recovery_codes = '{}'
                     WHERE NOT second_factors.enabled
                     RETURNING 1",
                )
                .await?;
            (tx.query_opt(&stmt, &[&id, sealed_secret]).await?, false)
        }
        SecondFactorChange::Enable {
            sealed_secret,
            step,
            recovery_codes,
        } => {
            let stmt = tx
                .prepare_cached(
                    "UPDATE second_factors SET enabled = true, last_step = $3,
                         recovery_codes = $4
                     WHERE user_id = $1 AND NOT enabled AND sealed_secret = $2
                     RETURNING 1",
                )
                .await?;
            let applied = tx
                .query_opt(
                    &stmt,
                    &[
                        &id,
                        sealed_secret,
                        &db_step(*step)?,
                        &db_codes(recovery_codes),
                    ],
                )
                .await?;
            let turned = applied.is_some();
            (applied, turned)
        }
        SecondFactorChange::UseStep(step) => {
            let stmt = tx
                .prepare_cached(
                    "UPDATE second_factors SET last_step = $2
                     WHERE user_id = $1 AND enabled AND last_step < $2
                     RETURNING 1",
                )
                .await?;
            (tx.query_opt(&stmt, &[&id, &db_step(*step)?]).await?, false)
        }
        SecondFactorChange::UseRecoveryCode(code) => {
            // One occurrence removed (the codes are distinct), the others kept in order.
            let stmt = tx
                .prepare_cached(
                    "UPDATE second_factors SET recovery_codes =
                         recovery_codes[:array_position(recovery_codes, $2) - 1]
                         || recovery_codes[array_position(recovery_codes, $2) + 1:]
                     WHERE user_id = $1 AND enabled AND $2 = ANY (recovery_codes)
                     RETURNING 1",
                )
                .await?;
            (tx.query_opt(&stmt, &[&id, &&code.0[..]]).await?, false)
        }
        SecondFactorChange::Remove => remove(tx, id).await?,
        SecondFactorChange::RemoveVerified(verified) => {
            users::check_verified(tx, &user, *verified).await?;
            remove(tx, id).await?
        }
    };
    if turned {
        users::new_generation(tx, &mut user, EndSessions::None).await?;
    }
    Ok((applied.is_some(), turned))
}

/// Removes user `id`'s factor: the row removed, if any, and whether it was enabled (turned
/// off).
async fn remove(tx: &Transaction<'_>, id: i64) -> Result<(Option<Row>, bool), StoreError> {
    let stmt = tx
        .prepare_cached("DELETE FROM second_factors WHERE user_id = $1 RETURNING enabled")
        .await?;
    let removed = tx.query_opt(&stmt, &[&id]).await?;
    let turned_off = match &removed {
        Some(row) => row.try_get(0)?,
        None => false,
    };
    Ok((removed, turned_off))
}
