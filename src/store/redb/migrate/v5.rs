//! The records and tables of schema version 5 that version 6 changed, as version 5 defined
//! them (the reset tokens since version 2, the email tokens since version 5): the earlier
//! steps write these, [`to_v6`] reads and replaces them.

use redb::{ReadableTable, TableDefinition, TypeName, Value, WriteTransaction};

use super::{
    super::{
        records::{
            StoredEmailToken, StoredReset, new_email_of, purpose_from, u64_fields_value, u64_le_at,
            variable_width_value,
        },
        schema::{
            EMAIL_TOKEN_EXPIRY, EMAIL_TOKENS, RESETS, SECOND_FACTORS, UNCONFIRMED,
            USER_EMAIL_TOKENS, USERS,
        },
    },
    rewrite,
};
use crate::{error::StoreError, store::EmailTokenPurpose};

/// A reset token of versions 2 to 5: no generation.
///
/// Layout (24 bytes): `user_id`, `created_ms`, `expires_ms`, each a u64 LE.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(in super::super) struct Reset {
    pub(in super::super) user_id: u64,
    pub(in super::super) created_ms: u64,
    pub(in super::super) expires_ms: u64,
}

u64_fields_value!(
    Reset,
    "tower_user_auth::StoredReset",
    [user_id, created_ms, expires_ms]
);

/// Token digest → the reset token, as versions 2 to 5 stored it.
pub(in super::super) const RESETS_V5: TableDefinition<[u8; 32], Reset> =
    TableDefinition::new("reset_tokens");

/// The kind of a version-5 change-of-email token (as in version 6).
const KIND_CHANGE_EMAIL: u64 = 1;

/// An email token of version 5: no generation.
///
/// Layout (variable width): `user_id`, `created_ms`, `expires_ms`, `kind` (0: confirm, 1:
/// change of email), each a u64 LE (32 bytes), then for a change of email the new address
/// (UTF-8) to the end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(in super::super) struct EmailToken {
    pub(in super::super) user_id: u64,
    pub(in super::super) created_ms: u64,
    pub(in super::super) expires_ms: u64,
    pub(in super::super) purpose: EmailTokenPurpose,
}

impl EmailToken {
    /// The width of the fixed fields, before the new address.
    const FIXED: usize = 32;

    /// Decodes the layout above.
    fn decode(data: &[u8]) -> Self {
        let purpose = purpose_from(
            u64_le_at(data, 24) == KIND_CHANGE_EMAIL,
            data.get(Self::FIXED..).unwrap_or_default(),
        );
        Self {
            user_id: u64_le_at(data, 0),
            created_ms: u64_le_at(data, 8),
            expires_ms: u64_le_at(data, 16),
            purpose,
        }
    }

    /// Encodes the layout above.
    fn encode(&self) -> Vec<u8> {
        let kind = match &self.purpose {
            EmailTokenPurpose::Confirm => 0,
            EmailTokenPurpose::ChangeEmail { .. } => KIND_CHANGE_EMAIL,
        };
        let new_email = new_email_of(&self.purpose);
        let mut out = Vec::with_capacity(Self::FIXED + new_email.len());
        for field in [self.user_id, self.created_ms, self.expires_ms, kind] {
            out.extend_from_slice(&field.to_le_bytes());
        }
        out.extend_from_slice(new_email.as_bytes());
        out
    }
}

variable_width_value!(EmailToken, "tower_user_auth::StoredEmailToken");

/// Token digest → the email token, as version 5 stored it.
pub(in super::super) const EMAIL_TOKENS_V5: TableDefinition<[u8; 32], EmailToken> =
    TableDefinition::new("email_tokens");

/// Opens the tables version 5 added (the account lifecycle), as version 5 defined them,
/// creating them empty: the step from version 4.
pub(super) fn create_added_tables(txn: &WriteTransaction) -> Result<(), StoreError> {
    txn.open_table(EMAIL_TOKENS_V5)?;
    txn.open_table(USER_EMAIL_TOKENS)?;
    txn.open_table(EMAIL_TOKEN_EXPIRY)?;
    txn.open_table(SECOND_FACTORS)?;
    txn.open_table(UNCONFIRMED)?;
    Ok(())
}

/// Version 5 → 6: every reset token and email token records the credential generation it
/// was issued at. A version-5 token is stamped with its user's generation as the file has it
/// (every token version 5 kept was issued at it, or revoked by the change that moved it
/// past: version 5 removed a user's reset token at every change of password or email), so
/// each stays as good as it was. A token whose user is gone (which version 5 never left
/// behind) is stamped 0 and redeems nothing. The keys and the indexes (by user, by expiry)
/// do not change.
pub(super) fn to_v6(txn: &WriteTransaction) -> Result<(), StoreError> {
    let users = txn.open_table(USERS)?;
    let generation_of = |user: u64| -> Result<u64, StoreError> {
        Ok(users.get(user)?.map_or(0, |v| v.value().generation))
    };
    rewrite(txn, RESETS_V5, RESETS, |new, digest, old| {
        let reset = StoredReset {
            user_id: old.user_id,
            created_ms: old.created_ms,
            expires_ms: old.expires_ms,
            generation: generation_of(old.user_id)?,
        };
        new.insert(digest, reset)?;
        Ok(())
    })?;
    rewrite(txn, EMAIL_TOKENS_V5, EMAIL_TOKENS, |new, digest, old| {
        let token = StoredEmailToken {
            generation: generation_of(old.user_id)?,
            user_id: old.user_id,
            created_ms: old.created_ms,
            expires_ms: old.expires_ms,
            purpose: old.purpose,
        };
        new.insert(digest, &token)?;
        Ok(())
    })
}
