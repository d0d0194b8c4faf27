//! The records and tables of schema version 3 that version 4 changed, as version 3 defined
//! them: the earlier steps write these, the version-3 step reads and replaces them.

use redb::{MultimapTableDefinition, TableDefinition, TypeName, Value};

use super::super::{
    records::{account_value, decode_account, encode_account, u64_fields_value, u64_le_at},
    time_index::TimeIndexKey,
};

/// An account of version 3: the hash as text.
///
/// Layout: `created_ms`, `generation` (u64 LE each), the email's length (u32 LE), the email,
/// the hash (UTF-8) to the end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(in super::super) struct User {
    pub(in super::super) email: String,
    pub(in super::super) hashed_password: String,
    pub(in super::super) created_ms: u64,
    pub(in super::super) generation: u64,
}

account_value!(
    User,
    "tower_user_auth::StoredUser.v3",
    [created_ms, generation]
);

/// id → the account.
pub(in super::super) const USERS: TableDefinition<u64, User> = TableDefinition::new("users");

/// A session of version 3: no email.
///
/// Layout (40 bytes): `user_id`, `created_ms`, `last_seen_ms`, `expires_ms`, `generation`,
/// each a u64 LE.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(in super::super) struct Session {
    pub(in super::super) user_id: u64,
    pub(in super::super) created_ms: u64,
    pub(in super::super) last_seen_ms: u64,
    pub(in super::super) expires_ms: u64,
    pub(in super::super) generation: u64,
}

u64_fields_value!(
    Session,
    "tower_user_auth::StoredSession.v3",
    [user_id, created_ms, last_seen_ms, expires_ms, generation]
);

/// Token digest → the session.
pub(in super::super) const SESSIONS: TableDefinition<[u8; 32], Session> =
    TableDefinition::new("sessions");
/// User id → digests of their sessions.
pub(in super::super) const USER_SESSIONS: MultimapTableDefinition<u64, [u8; 32]> =
    MultimapTableDefinition::new("sessions_by_user");
/// Sessions by absolute expiry (whole digests).
pub(in super::super) const SESSION_EXPIRY: TableDefinition<TimeIndexKey, ()> =
    TableDefinition::new("sessions_by_expiry");
/// Sessions by last activity (whole digests).
pub(in super::super) const SESSION_IDLE: TableDefinition<TimeIndexKey, ()> =
    TableDefinition::new("sessions_by_last_seen");

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::redb::records::tests::{round_trip, survives_damage};

    #[test]
    fn version_3_sessions_round_trip() {
        let session = Session {
            user_id: 3,
            created_ms: 1_767_225_600_000,
            last_seen_ms: 1_767_225_660_000,
            expires_ms: u64::MAX,
            generation: 2,
        };
        assert_eq!(round_trip(&session), session);
        let bytes = Session::as_bytes(&session);
        assert_eq!(bytes.len(), 40);
        survives_damage::<Session>(&bytes);
    }
}
