//! The records of the account lifecycle: email tokens and second factors, with their byte
//! encodings (the conventions of [`super`]: explicit layouts, decoding that never panics).

use redb::{TypeName, Value};

use super::{
    bytes_at, decode_prefixed, encode_prefixed, millis, time, u64_le_at, variable_width_value,
};
use crate::{
    store::{EmailTokenPurpose, EmailTokenRecord, SecondFactorRecord},
    token::TokenDigest,
    user::UserId,
};

/// The kind byte of an [`EmailTokenPurpose::Confirm`] token.
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
        let purpose = if u64_le_at(data, 24) == u64::from(KIND_CHANGE_EMAIL) {
            let rest = data.get(Self::FIXED..).unwrap_or_default();
            EmailTokenPurpose::ChangeEmail {
                new_email: String::from_utf8_lossy(rest).into_owned(),
            }
        } else {
            EmailTokenPurpose::Confirm
        };
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
        let new_email = match &self.purpose {
            EmailTokenPurpose::Confirm => "",
            EmailTokenPurpose::ChangeEmail { new_email } => new_email.as_str(),
        };
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

/// A second factor: the value of the `second_factors` table, keyed by user id.
///
/// Layout (variable width): `enabled` (u64 LE, 0 or 1), `last_step` (u64 LE), the sealed
/// secret's length in bytes (u32 LE), the sealed secret, then the unused recovery codes'
/// SHA-256 digests, 32 bytes each, to the end (a trailing partial digest is dropped).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(in crate::store::redb) struct StoredSecondFactor(pub(in crate::store::redb) SecondFactorRecord);

impl StoredSecondFactor {
    /// Decodes the layout above.
    fn decode(data: &[u8]) -> Self {
        let ([enabled, last_step], secret, codes) = decode_prefixed(data);
        Self(SecondFactorRecord {
            sealed_secret: secret.to_vec(),
            enabled: enabled != 0,
            last_step,
            recovery_codes: codes
                .chunks_exact(32)
                .map(|c| TokenDigest(bytes_at(c, 0)))
                .collect(),
        })
    }

    /// Encodes the layout above (a sealed secret is a few dozen bytes; one beyond 4 GiB
    /// would only be cut short).
    fn encode(&self) -> Vec<u8> {
        let factor = &self.0;
        let fields = [u64::from(factor.enabled), factor.last_step];
        let codes = 32 * factor.recovery_codes.len();
        let mut out = encode_prefixed(&fields, &factor.sealed_secret, codes);
        for code in &factor.recovery_codes {
            out.extend_from_slice(&code.0);
        }
        out
    }
}

variable_width_value!(StoredSecondFactor, "tower_user_auth::StoredSecondFactor");

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::redb::records::tests::{round_trip, survives_damage};

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
    fn second_factors_round_trip() {
        for factor in [
            SecondFactorRecord {
                sealed_secret: vec![1, 2, 3],
                enabled: true,
                last_step: 59_000_000,
                recovery_codes: vec![TokenDigest([9; 32]), TokenDigest([0; 32])],
            },
            SecondFactorRecord {
                sealed_secret: Vec::new(),
                enabled: false,
                last_step: 0,
                recovery_codes: Vec::new(),
            },
        ] {
            let stored = StoredSecondFactor(factor);
            assert_eq!(round_trip(&stored), stored);
            survives_damage::<StoredSecondFactor>(&StoredSecondFactor::as_bytes(&stored));
        }
    }

    #[test]
    fn user_kind_keys_keep_a_users_entries_adjacent() {
        assert!(user_kind_key(1, KIND_CHANGE_EMAIL) < user_kind_key(2, KIND_CONFIRM));
        assert!(user_kind_key(256, KIND_CONFIRM) < user_kind_key(256, KIND_CHANGE_EMAIL));
    }
}
