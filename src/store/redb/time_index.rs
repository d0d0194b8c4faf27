//! The keys of the time indexes, with their byte encodings: see [`super::records`] for
//! the conventions (explicit layouts, decoding that never panics).

use std::cmp::Ordering;

use redb::{Key, ReadableTable, TableDefinition, TypeName, Value, WriteTransaction};

use super::records::bytes_at;
use crate::error::StoreError;

/// `redb::Value` and `redb::Key` for a time-index key type: `at_ms` as a u64 big-endian,
/// then its `$tail` field of `$len` bytes, compared as bytes (big-endian time first: the
/// bytes sort as the pair does). `$name` is the type name redb records with the table.
macro_rules! time_key_encoding {
    ($key:ident, $tail:ident, $len:literal, $name:literal) => {
        impl Value for $key {
            type SelfType<'a> = Self;
            type AsBytes<'a> = [u8; 8 + $len];

            fn fixed_width() -> Option<usize> {
                Some(8 + $len)
            }

            fn from_bytes<'a>(data: &'a [u8]) -> Self
            where
                Self: 'a,
            {
                Self {
                    at_ms: u64::from_be_bytes(bytes_at(data, 0)),
                    $tail: bytes_at(data, 8),
                }
            }

            fn as_bytes<'a, 'b: 'a>(value: &'a Self) -> [u8; 8 + $len]
            where
                Self: 'b,
            {
                let mut out = [0; 8 + $len];
                out[..8].copy_from_slice(&value.at_ms.to_be_bytes());
                out[8..].copy_from_slice(&value.$tail);
                out
            }

            fn type_name() -> TypeName {
                TypeName::new($name)
            }
        }

        impl Key for $key {
            fn compare(data1: &[u8], data2: &[u8]) -> Ordering {
                data1.cmp(data2)
            }
        }
    };
}

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
}

time_key_encoding!(TimeIndexKey, digest, 32, "tower_user_auth::TimeIndexKey");

/// The first 8 bytes of a session's digest: what the session indexes hold instead of the
/// whole 32-byte digest (a quarter of the space). The `sessions` table is ordered by digest,
/// so the sessions with a prefix are one short range of it ([`prefix_range`]); the indexes'
/// users check the candidates' fields, so two sessions that share a prefix (about one pair in
/// 10¹³ among a million sessions) are still told apart.
pub(super) fn prefix(digest: &[u8; 32]) -> [u8; 8] {
    bytes_at(digest, 0)
}

/// The digests that start with `prefix`, first and last.
pub(super) fn prefix_range(prefix: [u8; 8]) -> ([u8; 32], [u8; 32]) {
    let (mut first, mut last) = ([0; 32], [0xff; 32]);
    first[..8].copy_from_slice(&prefix);
    last[..8].copy_from_slice(&prefix);
    (first, last)
}

/// The key of the session time indexes (`sessions_by_expiry`, `sessions_by_last_seen`): a
/// moment, then the session's digest [`prefix`]. The tables hold no value (`()`).
///
/// Layout (16 bytes): `at_ms` as a u64 **big**-endian, then the 8-byte prefix, so that the
/// bytes sort by time, then by prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct SessionTimeKey {
    /// The moment (expiry or last activity).
    pub(super) at_ms: u64,
    /// The session digest's prefix.
    pub(super) prefix: [u8; 8],
}

impl SessionTimeKey {
    /// The key of the session `digest` at `at_ms`.
    pub(super) fn new(at_ms: u64, digest: &[u8; 32]) -> Self {
        Self {
            at_ms,
            prefix: prefix(digest),
        }
    }

    /// The greatest key at `at_ms`.
    pub(super) fn last_at(at_ms: u64) -> Self {
        Self {
            at_ms,
            prefix: [0xff; 8],
        }
    }

    /// The least key at `at_ms`.
    pub(super) fn first_at(at_ms: u64) -> Self {
        Self {
            at_ms,
            prefix: [0; 8],
        }
    }
}

time_key_encoding!(SessionTimeKey, prefix, 8, "tower_user_auth::SessionTimeKey");

/// The key of the index of unconfirmed accounts by creation (`unconfirmed_users_by_created`):
/// a moment, then the user id. The table holds no value (`()`).
///
/// Layout (16 bytes): `at_ms` as a u64 **big**-endian, then the id as a u64 **big**-endian,
/// so that the bytes sort by time, then by id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct UserTimeKey {
    /// The moment (the account's creation).
    pub(super) at_ms: u64,
    /// The user id, big-endian.
    pub(super) user: [u8; 8],
}

impl UserTimeKey {
    /// The key of user `id` at `at_ms`.
    pub(super) fn new(at_ms: u64, id: u64) -> Self {
        Self {
            at_ms,
            user: id.to_be_bytes(),
        }
    }

    /// The greatest key at `at_ms`.
    pub(super) fn last_at(at_ms: u64) -> Self {
        Self::new(at_ms, u64::MAX)
    }

    /// The user id.
    pub(super) fn id(self) -> u64 {
        u64::from_be_bytes(self.user)
    }
}

time_key_encoding!(UserTimeKey, user, 8, "tower_user_auth::UserTimeKey");

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

    #[test]
    fn session_time_keys_round_trip_and_sort_by_time_then_prefix() {
        let mut digest = [0x11; 32];
        digest[..8].copy_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8]);
        let keys = [
            SessionTimeKey::first_at(0),
            SessionTimeKey::new(1, &[0xff; 32]),
            SessionTimeKey::new(256, &[0; 32]),
            SessionTimeKey::new(256, &digest),
            SessionTimeKey::last_at(u64::MAX),
        ];
        assert_eq!(keys[3].prefix, [1, 2, 3, 4, 5, 6, 7, 8]);
        for key in keys {
            assert_eq!(round_trip(&key), key);
        }
        for a in keys {
            for b in keys {
                let (ea, eb) = (SessionTimeKey::as_bytes(&a), SessionTimeKey::as_bytes(&b));
                assert_eq!(SessionTimeKey::compare(&ea, &eb), a.cmp(&b), "{a:?} {b:?}");
            }
        }
        survives_damage::<SessionTimeKey>(&SessionTimeKey::as_bytes(&keys[3]));
        let users = [
            UserTimeKey::new(0, 0),
            UserTimeKey::new(0, 256),
            UserTimeKey::new(1, 1),
            UserTimeKey::last_at(u64::MAX),
        ];
        for a in users {
            assert_eq!(round_trip(&a), a);
            for b in users {
                let (ea, eb) = (UserTimeKey::as_bytes(&a), UserTimeKey::as_bytes(&b));
                assert_eq!(UserTimeKey::compare(&ea, &eb), a.cmp(&b), "{a:?} {b:?}");
            }
        }
        assert_eq!(users[1].id(), 256);
        let (first, last) = prefix_range(prefix(&digest));
        assert!(first <= digest && digest <= last);
        assert!(last < [0xff; 32] && first > [0; 32]);
    }
}
