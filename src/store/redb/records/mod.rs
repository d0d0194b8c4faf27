//! The records the tables hold, as named types with explicit byte encodings.
//!
//! One module a kind of record: [`users`], [`sessions`] (which borrows its email from the
//! stored bytes), [`tokens`] (reset, device and email tokens) and [`second_factor`]; here,
//! the encoding conventions they share.
//!
//! Each implements redb's [`Value`](redb::Value) by hand (the key of the time indexes is in
//! [`super::time_index`]), with a fixed,
//! documented layout, so that what is on disk does not depend on how redb encodes tuples.
//! All integers are times in milliseconds since the UNIX epoch or user ids.
//!
//! Decoding never panics: redb only hands back bytes that the same type encoded, but should a
//! slice be short or garbled anyway, missing integer bytes read as zero and invalid UTF-8 is
//! replaced, so a damaged file gives wrong records, not a crashed process.
//!
//! A record's redb type name is part of the table's identity in the file: changing a layout
//! means a new type name, a new schema version and a migration step (see `migrate.rs`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

mod second_factor;
mod sessions;
mod tokens;
mod users;

pub(super) use self::{
    second_factor::StoredSecondFactor,
    sessions::StoredSession,
    tokens::{
        KIND_CHANGE_EMAIL, KIND_CONFIRM, StoredDevice, StoredEmailToken, StoredReset, kind_of,
        new_email_of, purpose_from, user_kind_key,
    },
    users::StoredUser,
};

/// Milliseconds since the UNIX epoch, as stored (0 before the epoch, saturating far after).
pub(super) fn millis(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The moment `ms` milliseconds after the UNIX epoch.
pub(super) fn time(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

/// The `N` bytes of `data` at `at`, zero-filled where `data` is shorter.
pub(super) fn bytes_at<const N: usize>(data: &[u8], at: usize) -> [u8; N] {
    let mut out = [0; N];
    if let Some(have) = data.get(at..) {
        let n = have.len().min(N);
        out[..n].copy_from_slice(&have[..n]);
    }
    out
}

/// The little-endian `u64` at byte `at` of `data` (missing bytes read as zero).
pub(super) fn u64_le_at(data: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes_at(data, at))
}

/// Implements [`Value`] for a struct of `u64` fields, stored as consecutive little-endian
/// u64s in the order listed (fixed width: 8 bytes a field) under the type name given.
macro_rules! u64_fields_value {
    ($record:ty, $type_name:literal, [$($field:ident),+ $(,)?]) => {
        impl $record {
            /// The encoded width: 8 bytes a field.
            const WIDTH: usize = [$(stringify!($field)),+].len() * 8;
        }

        impl Value for $record {
            type SelfType<'a> = Self;
            type AsBytes<'a> = [u8; Self::WIDTH];

            fn fixed_width() -> Option<usize> {
                Some(Self::WIDTH)
            }

            fn from_bytes<'a>(data: &'a [u8]) -> Self
            where
                Self: 'a,
            {
                let mut fields = (0..).step_by(8).map(|at| u64_le_at(data, at));
                Self {
                    $($field: fields.next().unwrap_or_default()),+
                }
            }

            fn as_bytes<'a, 'b: 'a>(value: &'a Self) -> [u8; Self::WIDTH]
            where
                Self: 'b,
            {
                let mut out = [0; Self::WIDTH];
                for (chunk, field) in out.chunks_exact_mut(8).zip([$(value.$field),+]) {
                    chunk.copy_from_slice(&field.to_le_bytes());
                }
                out
            }

            fn type_name() -> TypeName {
                TypeName::new($type_name)
            }
        }
    };
}
pub(super) use u64_fields_value;

/// Fields then a length-prefixed byte string: `fields` little-endian u64s (8 bytes each),
/// the length of `prefixed` in bytes (u32 LE, 4 bytes), `prefixed`; room for `more` bytes
/// after it. A byte string beyond 4 GiB cannot reach the store (the HTTP layer caps bodies)
/// and would only be cut short here, never panic.
pub(super) fn encode_prefixed(fields: &[u64], prefixed: &[u8], more: usize) -> Vec<u8> {
    let len = u32::try_from(prefixed.len()).unwrap_or(u32::MAX);
    let prefixed = &prefixed[..len as usize];
    let mut out = Vec::with_capacity(fields.len() * 8 + 4 + prefixed.len() + more);
    for field in fields {
        out.extend_from_slice(&field.to_le_bytes());
    }
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(prefixed);
    out
}

/// Decodes what [`encode_prefixed`] wrote with `N` fields: the fields, the length-prefixed
/// bytes (cut short where `data` is), and whatever follows them.
pub(super) fn decode_prefixed<const N: usize>(data: &[u8]) -> ([u64; N], &[u8], &[u8]) {
    let fields = std::array::from_fn(|i| u64_le_at(data, i * 8));
    let len = u32::from_le_bytes(bytes_at(data, N * 8)) as usize;
    let rest = data.get(N * 8 + 4..).unwrap_or_default();
    let (prefixed, after) = rest.split_at(len.min(rest.len()));
    (fields, prefixed, after)
}

/// The stored form of an account's fields: `fields` little-endian u64s (8 bytes each), the
/// email's length in bytes (u32 LE, 4 bytes), the email (UTF-8), then the bcrypt hash (UTF-8)
/// to the end ([`encode_prefixed`]). Schema version 2 had one field (the creation time),
/// version 3 has two.
pub(super) fn encode_account(fields: &[u64], email: &str, hash: &str) -> Vec<u8> {
    let mut out = encode_prefixed(fields, email.as_bytes(), hash.len());
    out.extend_from_slice(hash.as_bytes());
    out
}

/// Decodes what [`encode_account`] wrote with `N` fields: the fields, the email, the hash.
pub(super) fn decode_account<const N: usize>(data: &[u8]) -> ([u64; N], String, String) {
    let (fields, email, hash) = decode_prefixed(data);
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (fields, text(email), text(hash))
}

/// Implements [`Value`] (variable width) for a record with an inherent `decode(&[u8]) ->
/// Self` and `encode(&self) -> Vec<u8>`, under the type name given.
macro_rules! variable_width_value {
    ($record:ty, $type_name:literal) => {
        impl Value for $record {
            type SelfType<'a> = Self;
            type AsBytes<'a> = Vec<u8>;

            fn fixed_width() -> Option<usize> {
                None
            }

            fn from_bytes<'a>(data: &'a [u8]) -> Self
            where
                Self: 'a,
            {
                Self::decode(data)
            }

            fn as_bytes<'a, 'b: 'a>(value: &'a Self) -> Vec<u8>
            where
                Self: 'b,
            {
                value.encode()
            }

            fn type_name() -> TypeName {
                TypeName::new($type_name)
            }
        }
    };
}
pub(super) use variable_width_value;

/// Implements [`Value`] for an account struct (fields `email`, `hashed_password` and the
/// `u64`s listed) as [`encode_account`] lays it out, the `u64`s in the order listed, under
/// the type name given.
macro_rules! account_value {
    ($record:ty, $type_name:literal, [$($field:ident),+ $(,)?]) => {
        impl $record {
            /// Decodes what [`encode_account`] wrote.
            fn decode(data: &[u8]) -> Self {
                let ([$($field),+], email, hashed_password) = decode_account(data);
                Self {
                    email,
                    hashed_password,
                    $($field),+
                }
            }

            /// The [`encode_account`] form.
            fn encode(&self) -> Vec<u8> {
                encode_account(&[$(self.$field),+], &self.email, &self.hashed_password)
            }
        }

        $crate::store::redb::records::variable_width_value!($record, $type_name);
    };
}
pub(super) use account_value;

#[cfg(test)]
pub(super) mod tests {
    use redb::Value;

    use super::*;

    /// Encodes and decodes `value` through redb's trait, as a table would.
    pub(in crate::store::redb) fn round_trip<T>(value: &T) -> T
    where
        T: for<'a> Value<SelfType<'a> = T>,
    {
        let bytes = T::as_bytes(value);
        if let Some(width) = T::fixed_width() {
            assert_eq!(bytes.as_ref().len(), width);
        }
        T::from_bytes(bytes.as_ref())
    }

    /// Every prefix of `bytes`, and a few garbled versions, decode without panicking.
    pub(in crate::store::redb) fn survives_damage<T>(bytes: &[u8])
    where
        T: for<'a> Value<SelfType<'a> = T>,
    {
        for n in 0..=bytes.len() {
            let _ = T::from_bytes(&bytes[..n]);
        }
        for fill in [0x00, 0xff, 0x80] {
            let _ = T::from_bytes(&vec![fill; bytes.len() + 7]);
        }
    }

    #[test]
    fn times_convert_to_milliseconds_and_back() {
        let t = UNIX_EPOCH + Duration::from_millis(1_767_225_600_123);
        assert_eq!(time(millis(t)), t);
        assert_eq!(millis(UNIX_EPOCH - Duration::from_secs(1)), 0);
    }
}
