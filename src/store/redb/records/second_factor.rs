//! The second factor record: the value of the `second_factors` table.

use redb::{TypeName, Value};

use super::{bytes_at, decode_prefixed, encode_prefixed, variable_width_value};
use crate::{store::SecondFactorRecord, token::TokenDigest};

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
}
