//! The records and tables of schema version 2 that version 3 changed, as version 2 defined
//! them: the version-1 step writes these, the version-2 step reads them.

use redb::{TableDefinition, TypeName, Value};

use super::super::records::{
    account_value, decode_account, encode_account, u64_fields_value, u64_le_at,
};

/// An account of version 2: no credential generation.
///
/// Layout: `created_ms` (u64 LE), the email's length (u32 LE), the email, the hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(in super::super) struct User {
    pub(in super::super) email: String,
    pub(in super::super) hashed_password: String,
    pub(in super::super) created_ms: u64,
}

account_value!(User, "tower_user_auth::StoredUser", [created_ms]);

/// A session of version 2: no credential generation.
///
/// Layout (32 bytes): `user_id`, `created_ms`, `last_seen_ms`, `expires_ms`, each a u64 LE.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(in super::super) struct Session {
    pub(in super::super) user_id: u64,
    pub(in super::super) created_ms: u64,
    pub(in super::super) last_seen_ms: u64,
    pub(in super::super) expires_ms: u64,
}

u64_fields_value!(
    Session,
    "tower_user_auth::StoredSession",
    [user_id, created_ms, last_seen_ms, expires_ms]
);

/// id → the account.
pub(in super::super) const USERS: TableDefinition<u64, User> = TableDefinition::new("users");
/// Token digest → the session.
pub(in super::super) const SESSIONS: TableDefinition<[u8; 32], Session> =
    TableDefinition::new("sessions");

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::redb::records::tests::{round_trip, survives_damage};

    #[test]
    fn version_2_records_round_trip_with_their_layout() {
        let user = User {
            email: "a@b".into(),
            hashed_password: "xy".into(),
            created_ms: 0x0102,
        };
        assert_eq!(
            User::as_bytes(&user),
            [
                2, 1, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, b'a', b'@', b'b', b'x', b'y'
            ]
        );
        assert_eq!(round_trip(&user), user);
        survives_damage::<User>(&User::as_bytes(&user));
        let session = Session {
            user_id: 3,
            created_ms: 1,
            last_seen_ms: 2,
            expires_ms: 4,
        };
        assert_eq!(round_trip(&session), session);
        assert_eq!(Session::as_bytes(&session).len(), 32);
    }
}
