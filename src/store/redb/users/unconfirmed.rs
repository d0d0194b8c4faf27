//! Accounts not confirmed yet: the set of them (with the contested ones) and its index by
//! creation time, which the purge and a new registration of the address range over.

use std::time::SystemTime;

use redb::{ReadableTable, WriteTransaction};

use super::{Confirmation, delete, get, insert};
use crate::{
    error::StoreError,
    store::redb::{
        records::{StoredUser, millis},
        schema::{CONTESTED, EMAILS, UNCONFIRMED, UNCONFIRMED_BY_CREATED},
        time_index::UserTimeKey,
    },
    user::{User, UserId, email_key},
};

/// Adds an account whose email is not confirmed yet, created at `created`;
/// [`StoreError::EmailTaken`] if its key is, unless the account holding it is unconfirmed
/// and was created at or before `stale_before`: that one is then deleted ([`delete`]) first.
pub(super) fn add_unconfirmed(
    txn: &WriteTransaction,
    email: String,
    hashed_password: String,
    created: SystemTime,
    stale_before: SystemTime,
) -> Result<User, StoreError> {
    let holder = txn
        .open_table(EMAILS)?
        .get(email_key(&email).as_str())?
        .map(|v| v.value());
    if let Some(holder) = holder {
        let stale = get(txn, holder)?;
        if stale.email_confirmed || stale.created > stale_before {
            return Err(StoreError::EmailTaken);
        }
        delete(txn, stale.id)?;
    }
    let stored = StoredUser {
        email,
        hashed_password,
        created_ms: millis(created),
        generation: 0,
    };
    let unconfirmed = Confirmation {
        confirmed: false,
        contested: false,
    };
    insert(txn, stored, unconfirmed)
}

/// Marks the account of `email` contested if it is unconfirmed: whether it is (now).
pub(super) fn contest(txn: &WriteTransaction, email: &str) -> Result<bool, StoreError> {
    let id = txn
        .open_table(EMAILS)?
        .get(email_key(email).as_str())?
        .map(|v| v.value());
    let Some(id) = id else {
        return Ok(false);
    };
    if txn.open_table(UNCONFIRMED)?.get(id)?.is_none() {
        return Ok(false);
    }
    txn.open_table(CONTESTED)?.insert(id, ())?;
    Ok(true)
}

/// Deletes the unconfirmed accounts created at or before `before_ms` ([`delete`]); how many.
pub(in crate::store::redb) fn purge_unconfirmed(
    txn: &WriteTransaction,
    before_ms: u64,
) -> Result<usize, StoreError> {
    let mut due = Vec::new();
    for entry in txn
        .open_table(UNCONFIRMED_BY_CREATED)?
        .range(..=UserTimeKey::last_at(before_ms))?
    {
        due.push(entry?.0.value().id());
    }
    for &id in &due {
        delete(txn, UserId(id))?;
    }
    Ok(due.len())
}
