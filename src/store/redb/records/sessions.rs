//! The session record: the value of the `sessions` table, with its owner's email.

use std::borrow::Cow;

use redb::{TypeName, Value};

use super::{millis, time, u64_le_at};
use crate::{
    store::{SessionEntry, SessionRecord},
    user::UserId,
};

/// A session: the value of the `sessions` table, keyed by the token's digest. It carries its
/// owner's email, so that validating a request reads one table (a change of email rewrites
/// the user's sessions in its transaction).
///
/// Layout (schema version 4, variable width): `user_id`, `created_ms`, `last_seen_ms`,
/// `expires_ms`, `generation`, each a u64 LE (40 bytes), then the owner's email as registered
/// (UTF-8) to the end. Decoding borrows the email from the stored bytes (`Cow::Borrowed`)
/// unless it has to replace invalid UTF-8.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(in crate::store::redb) struct StoredSession<'a> {
    /// The owner.
    pub(in crate::store::redb) user_id: u64,
    /// When it was created.
    pub(in crate::store::redb) created_ms: u64,
    /// When it was last seen.
    pub(in crate::store::redb) last_seen_ms: u64,
    /// When it ends whatever its activity.
    pub(in crate::store::redb) expires_ms: u64,
    /// The owner's credential generation the session belongs to.
    pub(in crate::store::redb) generation: u64,
    /// The owner's email, as registered.
    pub(in crate::store::redb) email: Cow<'a, str>,
}

impl StoredSession<'_> {
    /// The width of the fixed fields, before the email.
    const FIXED: usize = 40;

    /// The stored form of `record`, owned by the user with `email`.
    pub(in crate::store::redb) fn new(
        record: &SessionRecord,
        email: String,
    ) -> StoredSession<'static> {
        StoredSession {
            user_id: record.user_id.0,
            created_ms: millis(record.created),
            last_seen_ms: millis(record.last_seen),
            expires_ms: millis(record.expires),
            generation: record.generation,
            email: Cow::Owned(email),
        }
    }

    /// The record the [`Store`](crate::store::Store) trait speaks of.
    pub(in crate::store::redb) fn record(&self) -> SessionRecord {
        SessionRecord {
            user_id: UserId(self.user_id),
            created: time(self.created_ms),
            last_seen: time(self.last_seen_ms),
            expires: time(self.expires_ms),
            generation: self.generation,
        }
    }

    /// The same session, owning its email.
    pub(in crate::store::redb) fn into_owned(self) -> StoredSession<'static> {
        StoredSession {
            user_id: self.user_id,
            created_ms: self.created_ms,
            last_seen_ms: self.last_seen_ms,
            expires_ms: self.expires_ms,
            generation: self.generation,
            email: Cow::Owned(self.email.into_owned()),
        }
    }

    /// What [`SessionStore::session`](crate::store::SessionStore::session) answers: the record and the
    /// email (its one allocation).
    pub(in crate::store::redb) fn into_entry(self) -> SessionEntry {
        SessionEntry {
            record: self.record(),
            email: self.email.into_owned(),
        }
    }
}

impl<'s> Value for StoredSession<'s> {
    type SelfType<'a>
        = StoredSession<'a>
    where
        Self: 'a;
    type AsBytes<'a>
        = Vec<u8>
    where
        Self: 'a;

    fn fixed_width() -> Option<usize> {
        None
    }

    fn from_bytes<'a>(data: &'a [u8]) -> StoredSession<'a>
    where
        Self: 'a,
    {
        StoredSession {
            user_id: u64_le_at(data, 0),
            created_ms: u64_le_at(data, 8),
            last_seen_ms: u64_le_at(data, 16),
            expires_ms: u64_le_at(data, 24),
            generation: u64_le_at(data, 32),
            email: String::from_utf8_lossy(data.get(Self::FIXED..).unwrap_or_default()),
        }
    }

    fn as_bytes<'a, 'b: 'a>(value: &'a StoredSession<'b>) -> Vec<u8>
    where
        Self: 'b,
    {
        let email = value.email.as_bytes();
        let mut out = Vec::with_capacity(Self::FIXED + email.len());
        for field in [
            value.user_id,
            value.created_ms,
            value.last_seen_ms,
            value.expires_ms,
            value.generation,
        ] {
            out.extend_from_slice(&field.to_le_bytes());
        }
        out.extend_from_slice(email);
        out
    }

    fn type_name() -> TypeName {
        TypeName::new("tower_user_auth::StoredSession.v4")
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use redb::Value;

    use super::StoredSession;

    #[test]
    fn sessions_round_trip() {
        for session in [
            StoredSession {
                user_id: 3,
                created_ms: 1_767_225_600_000,
                last_seen_ms: 1_767_225_660_000,
                expires_ms: u64::MAX,
                generation: 2,
                email: "Bob@Example.com".into(),
            },
            StoredSession {
                user_id: 0,
                created_ms: 0,
                last_seen_ms: 0,
                expires_ms: 0,
                generation: 0,
                email: "".into(),
            },
        ] {
            let bytes = StoredSession::as_bytes(&session);
            let decoded = StoredSession::from_bytes(&bytes);
            assert!(matches!(decoded.email, Cow::Borrowed(_)), "no copy");
            assert_eq!(decoded, session);
            let owned = StoredSession::new(&session.record(), session.email.to_string());
            assert_eq!(owned, session);
            assert_eq!(bytes[..8], session.user_id.to_le_bytes());
            assert_eq!(&bytes[40..], session.email.as_bytes());
            survives_damage_borrowed(&bytes);
        }
        assert_eq!(StoredSession::from_bytes(&[]).user_id, 0);
        let mut odd = vec![0; 40];
        odd.push(0xc3);
        assert_eq!(StoredSession::from_bytes(&odd).email, "\u{fffd}");
    }

    /// As [`survives_damage`], for the session record (which borrows from its bytes).
    fn survives_damage_borrowed(bytes: &[u8]) {
        for n in 0..=bytes.len() {
            let _ = StoredSession::from_bytes(&bytes[..n]);
        }
        for fill in [0x00, 0xff, 0x80] {
            let _ = StoredSession::from_bytes(&vec![fill; bytes.len() + 7]);
        }
    }
}
