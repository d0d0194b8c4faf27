//! The key of the time indexes, with its byte encoding: see [`super::records`] for
//! the conventions (explicit layouts, decoding that never panics).

use std::cmp::Ordering;

use redb::{Key, ReadableTable, TableDefinition, TypeName, Value, WriteTransaction};

use super::records::bytes_at;
use crate::error::StoreError;

/// The key of a time index (`sessions_by_expiry`, `sessions_by_last_seen`,
/// `reset_tokens_by_expiry`): a moment, then the digest of the token it concerns. The tables
/// hold no value (`()`); ranges over the key find what is due.
///
/// Layout (40 bytes): `at_ms` as a u64 **big**-endian, then the 32-byte digest, so that the
/// bytes sort as the pair does: by time, then by digest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct TimeIndexKey {
    /// The moment (expiry or last activity).
    pub(super) at_ms: u64,
    /// The token's digest.
    pub(super) digest: [u8; 32],
}

impl TimeIndexKey {
    /// The key of `digest` at `at_ms`.
    pub(super) fn new(at_ms: u64, digest: [u8; 32]) -> Self {
        Self { at_ms, digest }
    }

    /// The greatest key at `at_ms`: `..=TimeIndexKey::last_at(t)` is everything at or before `t`.
    pub(super) fn last_at(at_ms: u64) -> Self {
        Self::new(at_ms, [0xff; 32])
    }

    /// The least key at `at_ms`: `..TimeIndexKey::first_at(t)` is everything before `t`.
    pub(super) fn first_at(at_ms: u64) -> Self {
        Self::new(at_ms, [0; 32])
    }
}

impl Value for TimeIndexKey {
    type SelfType<'a> = Self;
    type AsBytes<'a> = [u8; 40];

    fn fixed_width() -> Option<usize> {
        Some(40)
    }

    fn from_bytes<'a>(data: &'a [u8]) -> Self
    where
        Self: 'a,
    {
        Self {
            at_ms: u64::from_be_bytes(bytes_at(data, 0)),
            digest: bytes_at(data, 8),
        }
    }

    fn as_bytes<'a, 'b: 'a>(value: &'a Self) -> [u8; 40]
    where
        Self: 'b,
    {
        let mut out = [0; 40];
        out[..8].copy_from_slice(&value.at_ms.to_be_bytes());
        out[8..].copy_from_slice(&value.digest);
        out
    }

    fn type_name() -> TypeName {
        TypeName::new("tower_user_auth::TimeIndexKey")
    }
}

impl Key for TimeIndexKey {
    fn compare(data1: &[u8], data2: &[u8]) -> Ordering {
        // Big-endian time first: byte order is the pair's order.
        data1.cmp(data2)
    }
}

/// The digests that the time index `index` lists at or before `at_ms`: the records due for
/// purging.
pub(super) fn due(
    txn: &WriteTransaction,
    index: TableDefinition<'_, TimeIndexKey, ()>,
    at_ms: u64,
) -> Result<Vec<[u8; 32]>, StoreError> {
    let mut due = Vec::new();
    for entry in txn
        .open_table(index)?
        .range(..=TimeIndexKey::last_at(at_ms))?
    {
        due.push(entry?.0.value().digest);
    }
    Ok(due)
}

/// Applies `remove` to each of `digests`; how many it removed.
pub(super) fn remove_each(
    digests: Vec<[u8; 32]>,
    mut remove: impl FnMut([u8; 32]) -> Result<bool, StoreError>,
) -> Result<usize, StoreError> {
    let mut removed = 0;
    for digest in digests {
        if remove(digest)? {
            removed += 1;
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::redb::records::tests::{round_trip, survives_damage};

    #[test]
    fn time_index_keys_round_trip_and_sort_as_pairs() {
        let keys = [
            TimeIndexKey::new(0, [0; 32]),
            TimeIndexKey::new(1, [0xff; 32]),
            TimeIndexKey::new(256, [0; 32]),
            TimeIndexKey::new(256, [1; 32]),
            TimeIndexKey::last_at(u64::MAX),
        ];
        for key in keys {
            assert_eq!(round_trip(&key), key);
        }
        for a in keys {
            for b in keys {
                let (ea, eb) = (TimeIndexKey::as_bytes(&a), TimeIndexKey::as_bytes(&b));
                assert_eq!(TimeIndexKey::compare(&ea, &eb), a.cmp(&b), "{a:?} {b:?}");
            }
        }
        survives_damage::<TimeIndexKey>(&TimeIndexKey::as_bytes(&keys[3]));
        assert!(TimeIndexKey::compare(&[1], &[1, 0]).is_lt());
    }
}
