//! The records the tables hold, as named types with explicit byte encodings.
//!
//! The session record, which borrows its email from the stored bytes, is in [`session`].
//!
//! Each implements redb's [`Value`] by hand (the key of the time indexes is in
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

use redb::{TypeName, Value};

use super::hash_form;
use crate::{
    store::{DeviceRecord, ResetRecord},
    user::UserId,
};

mod lifecycle;
mod session;

pub(super) use self::{
    lifecycle::{
        KIND_CHANGE_EMAIL, KIND_CONFIRM, StoredEmailToken, StoredSecondFactor, kind_of,
        user_kind_key,
    },
    session::StoredSession,
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

/// An account: the value of the `users` table, keyed by user id.
///
/// Layout (schema version 4, variable width): `created_ms` (u64 LE), `generation` (u64 LE),
/// the email's length in bytes (u32 LE), the email (UTF-8, as registered), then the bcrypt
/// hash in its [stored form](super::hash_form) (42 bytes for a bcrypt hash, else a zero byte
/// and the text) to the end. Version 3 stored the hash as text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct StoredUser {
    /// The email as registered (trimmed, case kept).
    pub(super) email: String,
    /// The bcrypt hash.
    pub(super) hashed_password: String,
    /// When the account was created.
    pub(super) created_ms: u64,
    /// The credential generation: advanced by every change of password (and only then).
    pub(super) generation: u64,
}

impl StoredUser {
    /// Decodes the layout above.
    fn decode(data: &[u8]) -> Self {
        let ([created_ms, generation], email, hash) = decode_prefixed(data);
        Self {
            email: String::from_utf8_lossy(email).into_owned(),
            hashed_password: hash_form::decode(hash),
            created_ms,
            generation,
        }
    }

    /// Encodes the layout above.
    fn encode(&self) -> Vec<u8> {
        let mut out = encode_prefixed(
            &[self.created_ms, self.generation],
            self.email.as_bytes(),
            0,
        );
        hash_form::encode(&self.hashed_password, &mut out);
        out
    }
}

variable_width_value!(StoredUser, "tower_user_auth::StoredUser.v4");

/// A reset token: the value of the `reset_tokens` table, keyed by the token's digest.
///
/// Layout (schema version 6, 32 bytes): `user_id`, `created_ms`, `expires_ms`,
/// `generation`, each a u64 LE. Version 5 had no `generation` (24 bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct StoredReset {
    /// Whose password it resets.
    pub(super) user_id: u64,
    /// When it was issued.
    pub(super) created_ms: u64,
    /// When it stops working.
    pub(super) expires_ms: u64,
    /// The user's credential generation when it was issued.
    pub(super) generation: u64,
}

impl StoredReset {
    /// The stored form of `record`.
    pub(super) fn new(record: &ResetRecord) -> Self {
        Self {
            user_id: record.user_id.0,
            created_ms: millis(record.created),
            expires_ms: millis(record.expires),
            generation: record.generation,
        }
    }

    /// The record the [`Store`](crate::store::Store) trait speaks of.
    pub(super) fn record(self) -> ResetRecord {
        ResetRecord {
            user_id: UserId(self.user_id),
            created: time(self.created_ms),
            expires: time(self.expires_ms),
            generation: self.generation,
        }
    }
}

u64_fields_value!(
    StoredReset,
    "tower_user_auth::StoredReset.v6",
    [user_id, created_ms, expires_ms, generation]
);

/// A device token: the value of the `device_tokens` table, keyed by the token's digest.
///
/// Layout (32 bytes): `user_id`, `created_ms`, `expires_ms`, `failures`, each a u64 LE.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct StoredDevice {
    /// The account it was issued for.
    pub(super) user_id: u64,
    /// When it was issued.
    pub(super) created_ms: u64,
    /// When it stops counting.
    pub(super) expires_ms: u64,
    /// Failed logins in a row that presented it.
    pub(super) failures: u64,
}

impl StoredDevice {
    /// The stored form of `record`.
    pub(super) fn new(record: &DeviceRecord) -> Self {
        Self {
            user_id: record.user_id.0,
            created_ms: millis(record.created),
            expires_ms: millis(record.expires),
            failures: u64::from(record.failures),
        }
    }

    /// The record the [`Store`](crate::store::Store) trait speaks of.
    pub(super) fn record(self) -> DeviceRecord {
        DeviceRecord {
            user_id: UserId(self.user_id),
            created: time(self.created_ms),
            expires: time(self.expires_ms),
            failures: u32::try_from(self.failures).unwrap_or(u32::MAX),
        }
    }
}

u64_fields_value!(
    StoredDevice,
    "tower_user_auth::StoredDevice",
    [user_id, created_ms, expires_ms, failures]
);

#[cfg(test)]
pub(super) mod tests {
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
    fn users_round_trip() {
        for user in [
            StoredUser {
                email: "Bob@Example.com".into(),
                hashed_password: "$2b$04$abcdefghijklmnopqrstuv".into(),
                created_ms: 1_767_225_600_000,
                generation: 3,
            },
            StoredUser {
                email: String::new(),
                hashed_password: String::new(),
                created_ms: 0,
                generation: 0,
            },
            StoredUser {
                email: "ünï@çødé.example".into(),
                hashed_password: "h".into(),
                created_ms: u64::MAX,
                generation: u64::MAX,
            },
        ] {
            assert_eq!(round_trip(&user), user);
        }
    }

    #[test]
    fn user_layout_is_as_documented() {
        let user = StoredUser {
            email: "a@b".into(),
            hashed_password: "xy".into(),
            created_ms: 0x0102,
            generation: 5,
        };
        assert_eq!(
            StoredUser::as_bytes(&user),
            [
                2, 1, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, b'a', b'@', b'b', 0,
                b'x', b'y'
            ]
        );
        let bcrypt = StoredUser {
            hashed_password: format!("$2b$04${}", "a".repeat(53)),
            ..user
        };
        let bytes = StoredUser::as_bytes(&bcrypt);
        assert_eq!(bytes.len(), 23 + 43);
        assert_eq!(bytes[23..26], [1, b'b', 4]);
        assert_eq!(round_trip(&bcrypt), bcrypt);
    }

    #[test]
    fn damaged_users_decode_without_panicking() {
        let user = StoredUser {
            email: "a@b.io".into(),
            hashed_password: "$2b$04$hash".into(),
            created_ms: 7,
            generation: 1,
        };
        survives_damage::<StoredUser>(&StoredUser::as_bytes(&user));
        // A length beyond the data and invalid UTF-8.
        let mut odd = [0; 21];
        odd[16..].copy_from_slice(&[0xff, 0xff, 0xff, 0xff, 0xc3]);
        let odd = StoredUser::from_bytes(&odd);
        assert_eq!(odd.hashed_password, "");
        assert_eq!(odd.email, "\u{fffd}");
    }

    #[test]
    fn resets_round_trip() {
        let reset = StoredReset {
            user_id: u64::MAX,
            created_ms: 1,
            expires_ms: 3_600_001,
            generation: 7,
        };
        assert_eq!(round_trip(&reset), reset);
        assert_eq!(StoredReset::new(&reset.record()), reset);
        let bytes = StoredReset::as_bytes(&reset);
        assert_eq!(bytes[16..24], 3_600_001u64.to_le_bytes());
        assert_eq!(bytes[24..], 7u64.to_le_bytes());
        survives_damage::<StoredReset>(&bytes);
    }

    #[test]
    fn times_convert_to_milliseconds_and_back() {
        let t = UNIX_EPOCH + Duration::from_millis(1_767_225_600_123);
        assert_eq!(time(millis(t)), t);
        assert_eq!(millis(UNIX_EPOCH - Duration::from_secs(1)), 0);
    }
}
