//! Device tokens: the `device_tokens` table, its index by user (for the per-account cap and
//! for deleting a user), and its expiry index that the purge ranges over.

use redb::{ReadTransaction, ReadableMultimapTable, ReadableTable, WriteTransaction};

use crate::store::redb::{
    records::StoredDevice,
    schema::{DEVICE_EXPIRY, DEVICES, USER_DEVICES},
    time_index::{self, TimeIndexKey},
    users,
};
use crate::{error::StoreError, store::DeviceRecord, token::TokenDigest, user::UserId};

/// The digests of user `user`'s device tokens.
fn digests_of(txn: &WriteTransaction, user: u64) -> Result<Vec<[u8; 32]>, StoreError> {
    let index = txn.open_multimap_table(USER_DEVICES)?;
    let mut digests = Vec::new();
    for d in index.get(user)? {
        digests.push(d?.value());
    }
    Ok(digests)
}

/// Stores a device token, then removes the user's oldest beyond `max_per_user` (never the new
/// one). [`StoreError::NotFound`] if the user does not exist.
pub(in crate::store::redb) fn insert(
    txn: &WriteTransaction,
    token: TokenDigest,
    record: &DeviceRecord,
    max_per_user: usize,
) -> Result<(), StoreError> {
    let user = record.user_id.0;
    if !users::exists(txn, user)? {
        return Err(StoreError::NotFound);
    }
    let stored = StoredDevice::new(record);
    txn.open_table(DEVICES)?.insert(token.0, stored)?;
    txn.open_multimap_table(USER_DEVICES)?
        .insert(user, token.0)?;
    txn.open_table(DEVICE_EXPIRY)?
        .insert(TimeIndexKey::new(stored.expires_ms, token.0), ())?;
    let mut held: Vec<(u64, [u8; 32])> = Vec::new();
    {
        let table = txn.open_table(DEVICES)?;
        for digest in digests_of(txn, user)? {
            if let Some(v) = table.get(digest)? {
                held.push((v.value().created_ms, digest));
            }
        }
    }
    if held.len() > max_per_user {
        held.sort_unstable();
        let excess = held.len() - max_per_user;
        for (_, d) in held.into_iter().filter(|(_, d)| *d != token.0).take(excess) {
            remove(txn, d)?;
        }
    }
    Ok(())
}

/// The device token `token`, if stored.
pub(in crate::store::redb) fn get(
    txn: &ReadTransaction,
    token: TokenDigest,
) -> Result<Option<DeviceRecord>, StoreError> {
    Ok(txn
        .open_table(DEVICES)?
        .get(token.0)?
        .map(|v| v.value().record()))
}

/// Counts a failure on `token` if it is `user`'s: the new count; `None` if there is no such
/// token, or (and then it is removed) if it already had `limit`.
pub(in crate::store::redb) fn record_failure(
    txn: &WriteTransaction,
    token: TokenDigest,
    user: UserId,
    limit: u32,
) -> Result<Option<u32>, StoreError> {
    let mut table = txn.open_table(DEVICES)?;
    let Some(mut stored) = table.get(token.0)?.map(|v| v.value()) else {
        return Ok(None);
    };
    if stored.user_id != user.0 {
        return Ok(None);
    }
    if stored.failures >= u64::from(limit) {
        drop(table);
        remove(txn, token.0)?;
        return Ok(None);
    }
    stored.failures += 1;
    table.insert(token.0, stored)?;
    Ok(Some(u32::try_from(stored.failures).unwrap_or(u32::MAX)))
}

/// Sets the failure count of `token` back to zero; `false` if it is gone.
pub(in crate::store::redb) fn reset_failures(
    txn: &WriteTransaction,
    token: TokenDigest,
) -> Result<bool, StoreError> {
    let mut table = txn.open_table(DEVICES)?;
    let Some(mut stored) = table.get(token.0)?.map(|v| v.value()) else {
        return Ok(false);
    };
    if stored.failures != 0 {
        stored.failures = 0;
        table.insert(token.0, stored)?;
    }
    Ok(true)
}

/// Removes the device token `digest` and its index entries; `false` if there was none.
fn remove(txn: &WriteTransaction, digest: [u8; 32]) -> Result<bool, StoreError> {
    let Some(stored) = txn.open_table(DEVICES)?.remove(digest)?.map(|v| v.value()) else {
        return Ok(false);
    };
    txn.open_multimap_table(USER_DEVICES)?
        .remove(stored.user_id, digest)?;
    txn.open_table(DEVICE_EXPIRY)?
        .remove(TimeIndexKey::new(stored.expires_ms, digest))?;
    Ok(true)
}

/// Removes every device token of user `user`; how many there were.
pub(in crate::store::redb) fn remove_all_of(
    txn: &WriteTransaction,
    user: u64,
) -> Result<usize, StoreError> {
    time_index::remove_each(digests_of(txn, user)?, |digest| remove(txn, digest))
}

/// Removes the device tokens that expired at or before `now_ms`; how many.
pub(in crate::store::redb) fn purge(
    txn: &WriteTransaction,
    now_ms: u64,
) -> Result<usize, StoreError> {
    let due = time_index::due(txn, DEVICE_EXPIRY, now_ms)?;
    time_index::remove_each(due, |digest| remove(txn, digest))
}
