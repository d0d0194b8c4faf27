//! The token records: reset tokens, device tokens and email tokens (confirmation, email
//! change), the values of the `reset_tokens`, `device_tokens` and `email_tokens` tables.

use redb::{TypeName, Value};

use super::{millis, time, u64_fields_value, u64_le_at, variable_width_value};
use crate::{
    store::{DeviceRecord, EmailTokenPurpose, EmailTokenRecord, ResetRecord},
    user::UserId,
};

/// A reset token: the value of the `reset_tokens` table, keyed by the token's digest.
///
/// Layout (schema version 6, 32 bytes): `user_id`, `created_ms`, `expires_ms`,
/// `generation`, each a u64 LE. Version 5 had no `generation` (24 bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(in crate::store::redb) struct StoredReset {
    /// Whose password it resets.
    pub(in crate::store::redb) user_id: u64,
    /// When it was issued.
    pub(in crate::store::redb) created_ms: u64,
    /// When it stops working.
    pub(in crate::store::redb) expires_ms: u64,
    /// The user's credential generation when it was issued.
    pub(in crate::store::redb) generation: u64,
}

impl StoredReset {
    /// The stored form of `record`.
    pub(in crate::store::redb) fn new(record: &ResetRecord) -> Self {
        Self {
            user_id: record.user_id.0,
            created_ms: millis(record.created),
            expires_ms: millis(record.expires),
            generation: record.generation,
        }
    }

    /// The record the [`Store`](crate::store::Store) trait speaks of.
    pub(in crate::store::redb) fn record(self) -> ResetRecord {
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
pub(in crate::store::redb) struct StoredDevice {
    /// The account it was issued for.
    pub(in crate::store::redb) user_id: u64,
    /// When it was issued.
    pub(in crate::store::redb) created_ms: u64,
    /// When it stops counting.
    pub(in crate::store::redb) expires_ms: u64,
    /// Failed logins in a row that presented it.
    pub(in crate::store::redb) failures: u64,
}

impl StoredDevice {
    /// The stored form of `record`.
    pub(in crate::store::redb) fn new(record: &DeviceRecord) -> Self {
        Self {
            user_id: record.user_id.0,
            created_ms: millis(record.created),
            expires_ms: millis(record.expires),
            failures: u64::from(record.failures),
        }
    }

    /// The record the [`Store`](crate::store::Store) trait speaks of.
    pub(in crate::store::redb) fn record(self) -> DeviceRecord {
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

pub(in crate::store::redb) const KIND_CONFIRM: u8 = 0;
/// The kind byte of an [`EmailTokenPurpose::ChangeEmail`] token.
pub(in crate::store::redb) const KIND_CHANGE_EMAIL: u8 = 1;

/// The kind byte of `purpose`: a user has at most one token of each kind.
pub(in crate::store::redb) fn kind_of(purpose: &EmailTokenPurpose) -> u8 {
    match purpose {
        EmailTokenPurpose::Confirm => KIND_CONFIRM,
        EmailTokenPurpose::ChangeEmail { .. } => KIND_CHANGE_EMAIL,
    }
}

/// The purpose of an email token from the parts its layout stores, whichever layout: a
/// change of email to `new_email` (UTF-8, a damaged byte replaced) if `change_email`, else a
/// confirmation (whose address bytes, if any, are ignored).
pub(in crate::store::redb) fn purpose_from(
    change_email: bool,
    new_email: &[u8],
) -> EmailTokenPurpose {
    if change_email {
        EmailTokenPurpose::ChangeEmail {
            new_email: String::from_utf8_lossy(new_email).into_owned(),
        }
    } else {
        EmailTokenPurpose::Confirm
    }
}

/// The new address an email token of `purpose` stores: empty for a confirmation.
pub(in crate::store::redb) fn new_email_of(purpose: &EmailTokenPurpose) -> &str {
    match purpose {
        EmailTokenPurpose::Confirm => "",
        EmailTokenPurpose::ChangeEmail { new_email } => new_email.as_str(),
    }
}

/// The key of the `email_tokens_by_user` index: the user id as a u64 **big**-endian, then the
/// kind byte (9 bytes), so that a user's entries are adjacent.
pub(in crate::store::redb) fn user_kind_key(user: u64, kind: u8) -> [u8; 9] {
    let mut key = [0; 9];
    key[..8].copy_from_slice(&user.to_be_bytes());
    key[8] = kind;
    key
}

/// An email token: the value of the `email_tokens` table, keyed by the token's digest.
///
/// Layout (schema version 6, variable width): `user_id`, `created_ms`, `expires_ms`, `kind`
/// (0: confirm, 1: change of email), `generation`, each a u64 LE (40 bytes), then for a
/// change of email the new address (UTF-8) to the end. An unknown kind decodes as a
/// confirmation. Version 5 had no `generation` (32 fixed bytes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(in crate::store::redb) struct StoredEmailToken {
    /// The account it was issued for.
    pub(in crate::store::redb) user_id: u64,
    /// When it was issued.
    pub(in crate::store::redb) created_ms: u64,
    /// When it stops working.
    pub(in crate::store::redb) expires_ms: u64,
    /// What redeeming it does.
    pub(in crate::store::redb) purpose: EmailTokenPurpose,
    /// The user's credential generation when it was issued.
    pub(in crate::store::redb) generation: u64,
}

impl StoredEmailToken {
    /// The width of the fixed fields, before the new address.
    const FIXED: usize = 40;

    /// The stored form of `record`.
    pub(in crate::store::redb) fn new(record: &EmailTokenRecord) -> Self {
        Self {
            user_id: record.user_id.0,
            created_ms: millis(record.created),
            expires_ms: millis(record.expires),
            purpose: record.purpose.clone(),
            generation: record.generation,
        }
    }

    /// The record the [`Store`](crate::store::Store) trait speaks of.
    pub(in crate::store::redb) fn record(self) -> EmailTokenRecord {
        EmailTokenRecord {
            user_id: UserId(self.user_id),
            purpose: self.purpose,
            created: time(self.created_ms),
            expires: time(self.expires_ms),
            generation: self.generation,
        }
    }
}

impl StoredEmailToken {
    /// Decodes the layout above.
    fn decode(data: &[u8]) -> Self {
        let purpose = purpose_from(
            u64_le_at(data, 24) == u64::from(KIND_CHANGE_EMAIL),
            data.get(Self::FIXED..).unwrap_or_default(),
        );
        Self {
            user_id: u64_le_at(data, 0),
            created_ms: u64_le_at(data, 8),
            expires_ms: u64_le_at(data, 16),
            purpose,
            generation: u64_le_at(data, 32),
        }
    }

    /// Encodes the layout above.
    fn encode(&self) -> Vec<u8> {
        let new_email = new_email_of(&self.purpose);
        let mut out = Vec::with_capacity(Self::FIXED + new_email.len());
        let kind = u64::from(kind_of(&self.purpose));
        let fields = [
            self.user_id,
            self.created_ms,
            self.expires_ms,
            kind,
            self.generation,
        ];
        for field in fields {
            out.extend_from_slice(&field.to_le_bytes());
        }
        out.extend_from_slice(new_email.as_bytes());
        out
    }
}

variable_width_value!(StoredEmailToken, "tower_user_auth::StoredEmailToken.v6");

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::redb::records::tests::{round_trip, survives_damage};

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
    fn email_tokens_round_trip() {
        for purpose in [
            EmailTokenPurpose::Confirm,
            EmailTokenPurpose::ChangeEmail {
                new_email: "Ünï@example.com".into(),
            },
            EmailTokenPurpose::ChangeEmail {
                new_email: String::new(),
            },
        ] {
            let token = StoredEmailToken {
                user_id: 7,
                created_ms: 1,
                expires_ms: u64::MAX,
                purpose,
                generation: 3,
            };
            assert_eq!(round_trip(&token), token);
            assert_eq!(StoredEmailToken::new(&token.clone().record()), token);
            survives_damage::<StoredEmailToken>(&StoredEmailToken::as_bytes(&token));
        }
    }

    #[test]
    fn user_kind_keys_keep_a_users_entries_adjacent() {
        assert!(user_kind_key(1, KIND_CHANGE_EMAIL) < user_kind_key(2, KIND_CONFIRM));
        assert!(user_kind_key(256, KIND_CONFIRM) < user_kind_key(256, KIND_CHANGE_EMAIL));
    }
}
