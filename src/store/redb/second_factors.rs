//! Second factors: the `second_factors` table (one per user, pending or enabled, with the
//! unused recovery codes), and the compare-and-sets that change it.

use redb::{ReadTransaction, ReadableTable, WriteTransaction};

use super::{
    records::StoredSecondFactor,
    schema::{SECOND_FACTORS, USERS},
    users,
};
use crate::{
    error::StoreError,
    store::{SecondFactorChange, SecondFactorRecord},
    user::UserId,
};

/// The second factor of user `id`, if any; [`StoreError::NotFound`] for an unknown user.
pub(super) fn get(
    txn: &ReadTransaction,
    id: UserId,
) -> Result<Option<SecondFactorRecord>, StoreError> {
    if txn.open_table(USERS)?.get(id.0)?.is_none() {
        return Err(StoreError::NotFound);
    }
    Ok(txn
        .open_table(SECOND_FACTORS)?
        .get(id.0)?
        .map(|v| v.value().0))
}

/// Whether user `id` has an enabled second factor, in `table`.
pub(super) fn is_enabled(
    table: &impl ReadableTable<u64, StoredSecondFactor>,
    id: u64,
) -> Result<bool, StoreError> {
    Ok(table.get(id)?.is_some_and(|v| v.value().0.enabled))
}

/// Stores `factor` as user `user`'s (an import); the caller has checked the user exists.
pub(super) fn put(
    txn: &WriteTransaction,
    user: u64,
    factor: SecondFactorRecord,
) -> Result<(), StoreError> {
    txn.open_table(SECOND_FACTORS)?
        .insert(user, StoredSecondFactor(factor))?;
    Ok(())
}

/// Removes user `user`'s second factor, if any; whether there was one.
pub(super) fn remove_of(txn: &WriteTransaction, user: u64) -> Result<bool, StoreError> {
    Ok(txn.open_table(SECOND_FACTORS)?.remove(user)?.is_some())
}

/// Applies `change` to user `id`'s second factor if it is in the state the change requires
/// (see [`SecondFactorChange`]); `false` and nothing changed otherwise.
/// [`StoreError::NotFound`] for an unknown user.
pub(super) fn update(
    txn: &WriteTransaction,
    id: UserId,
    change: SecondFactorChange,
) -> Result<bool, StoreError> {
    if !users::exists(txn, id.0)? {
        return Err(StoreError::NotFound);
    }
    let mut table = txn.open_table(SECOND_FACTORS)?;
    let current = table.get(id.0)?.map(|v| v.value().0);
    let next = match (change, current) {
        (SecondFactorChange::Remove, current) => {
            drop(table);
            return Ok(current.is_some() && remove_of(txn, id.0)?);
        }
        (SecondFactorChange::Begin { .. }, Some(current)) if current.enabled => return Ok(false),
        (SecondFactorChange::Begin { sealed_secret }, _) => SecondFactorRecord {
            sealed_secret,
            enabled: false,
            last_step: 0,
            recovery_codes: Vec::new(),
        },
        (
            SecondFactorChange::Enable {
                sealed_secret,
                step,
                recovery_codes,
            },
            Some(current),
        ) if !current.enabled && current.sealed_secret == sealed_secret => SecondFactorRecord {
            sealed_secret,
            enabled: true,
            last_step: step,
            recovery_codes,
        },
        (SecondFactorChange::UseStep(step), Some(mut current))
            if current.enabled && step > current.last_step =>
        {
            current.last_step = step;
            current
        }
        (SecondFactorChange::UseRecoveryCode(code), Some(mut current)) if current.enabled => {
            let Some(at) = current.recovery_codes.iter().position(|c| *c == code) else {
                return Ok(false);
            };
            current.recovery_codes.remove(at);
            current
        }
        _ => return Ok(false),
    };
    table.insert(id.0, StoredSecondFactor(next))?;
    Ok(true)
}
