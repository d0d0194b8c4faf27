//! The account record: the value of the `users` table.

use redb::{TypeName, Value};

use super::{decode_prefixed, encode_prefixed, variable_width_value};
use crate::store::redb::hash_form;

/// An account: the value of the `users` table, keyed by user id.
///
/// Layout (schema version 4, variable width): `created_ms` (u64 LE), `generation` (u64 LE),
/// the email's length in bytes (u32 LE), the email (UTF-8, as registered), then the bcrypt
/// hash in its [stored form](crate::store::redb::hash_form) (42 bytes for a bcrypt hash, else a zero byte
/// and the text) to the end. Version 3 stored the hash as text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(in crate::store::redb) struct StoredUser {
    /// The email as registered (trimmed, case kept).
    pub(in crate::store::redb) email: String,
    /// The bcrypt hash.
    pub(in crate::store::redb) hashed_password: String,
    /// When the account was created.
    pub(in crate::store::redb) created_ms: u64,
    /// The credential generation: advanced by every change of password (and only then).
    pub(in crate::store::redb) generation: u64,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::redb::records::tests::{round_trip, survives_damage};

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
}
