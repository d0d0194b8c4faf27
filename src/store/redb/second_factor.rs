//! Second factors: [`SecondFactorStore`] for [`RedbStore`] over the `second_factors` table
//! (one per user, pending or enabled, with the unused recovery codes), and the
//! compare-and-sets that change it.

use redb::{ReadTransaction, ReadableTable, WriteTransaction};

use super::{
    RedbStore,
    records::StoredSecondFactor,
    schema::{SECOND_FACTORS, USERS},
    users,
};
use crate::{
    error::StoreError,
    store::{EndSessions, SecondFactorChange, SecondFactorRecord, SecondFactorStore},
    user::{User, UserId},
};

impl SecondFactorStore for RedbStore {
    async fn second_factor(&self, id: UserId) -> Result<Option<SecondFactorRecord>, StoreError> {
        self.read(|txn| get(txn, id))
    }

    async fn update_second_factor(
        &self,
        id: UserId,
        change: SecondFactorChange,
    ) -> Result<bool, StoreError> {
        self.write(move |txn| update(txn, id, change)).await
    }
}

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
/// [`StoreError::NotFound`] for an unknown user. Turning the factor on or off is a change of
/// credentials ([`users::new_generation`], every session kept).
pub(super) fn update(
    txn: &WriteTransaction,
    id: UserId,
    change: SecondFactorChange,
) -> Result<bool, StoreError> {
    let mut user = users::get(txn, id.0)?;
    let mut table = txn.open_table(SECOND_FACTORS)?;
    let current = table.get(id.0)?.map(|v| v.value().0);
    let next = match (change, current) {
        (SecondFactorChange::RemoveVerified(verified), current) => {
            drop(table);
            users::check_verified(txn, &user, verified)?;
            return remove_turning_off(txn, &mut user, current);
        }
        (SecondFactorChange::Remove, current) => {
            drop(table);
            return remove_turning_off(txn, &mut user, current);
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
        ) if !current.enabled && current.sealed_secret == sealed_secret => {
            let enabled = SecondFactorRecord {
                sealed_secret,
                enabled: true,
                last_step: step,
                recovery_codes,
            };
            table.insert(id.0, StoredSecondFactor(enabled))?;
            drop(table);
            users::new_generation(txn, &mut user, EndSessions::None)?;
            return Ok(true);
        }
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

/// Removes `user`'s factor, `current` as read (`false` if there is none); removing an enabled
/// one turns it off, a change of credentials ([`users::new_generation`]).
fn remove_turning_off(
    txn: &WriteTransaction,
    user: &mut User,
    current: Option<SecondFactorRecord>,
) -> Result<bool, StoreError> {
    let Some(current) = current else {
        return Ok(false);
    };
    remove_of(txn, user.id.0)?;
    if current.enabled {
        users::new_generation(txn, user, EndSessions::None)?;
    }
    Ok(true)
}
