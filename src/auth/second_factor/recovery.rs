//! Recovery codes: ten single-use codes given once when a second factor is enabled, for the
//! day the authenticator is lost. Each is 80 random bits written as 16 base32 characters in
//! groups of four (`ABCD-EFGH-IJKL-MNOP`); the store keeps only their SHA-256 digests.

use std::fmt;

use totp_rs::Secret;

use super::sealed::RandomError;
use crate::token::TokenDigest;

/// How many recovery codes enabling a factor gives.
pub const RECOVERY_CODES: usize = 10;

/// Random bytes of a code: 80 bits.
const CODE_BYTES: usize = 10;

/// Base32 characters of a code (grouping aside).
const CODE_CHARS: usize = 16;

/// The recovery codes of a newly enabled second factor: show them to the user once (they
/// are stored only as digests). `Debug` shows how many there are, never a code.
#[derive(Clone, PartialEq, Eq)]
pub struct RecoveryCodes(Vec<String>);

impl RecoveryCodes {
    /// Draws [`RECOVERY_CODES`] distinct codes.
    pub(crate) fn generate() -> Result<Self, RandomError> {
        let mut codes: Vec<String> = Vec::with_capacity(RECOVERY_CODES);
        while codes.len() < RECOVERY_CODES {
            let mut bytes = [0; CODE_BYTES];
            getrandom::fill(&mut bytes).map_err(RandomError::from)?;
            let code = group(&Secret::Raw(bytes.to_vec()).to_encoded().to_string());
            if !codes.contains(&code) {
                codes.push(code);
            }
        }
        Ok(Self(codes))
    }

    /// The codes, as the user is to write them down.
    #[must_use]
    pub fn codes(&self) -> &[String] {
        &self.0
    }

    /// The digests the store keeps, in the codes' order.
    pub(crate) fn digests(&self) -> Vec<TokenDigest> {
        self.0
            .iter()
            .filter_map(|code| recovery_digest(code))
            .collect()
    }
}

impl fmt::Debug for RecoveryCodes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RecoveryCodes(<{} redacted>)", self.0.len())
    }
}

/// `code` (16 characters) in groups of four joined by hyphens.
fn group(code: &str) -> String {
    code.as_bytes()
        .chunks(4)
        .filter_map(|chunk| std::str::from_utf8(chunk).ok())
        .collect::<Vec<_>>()
        .join("-")
}

/// The digest of a recovery code as a user may type it (in either case, with or without the
/// hyphens and spaces); `None` when it cannot be one (not 16 base32 characters), so that no
/// store write is spent on it.
pub(crate) fn recovery_digest(typed: &str) -> Option<TokenDigest> {
    let code: String = typed
        .chars()
        .filter(|c| *c != '-' && !c.is_whitespace())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let base32 = |b: u8| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b);
    (code.len() == CODE_CHARS && code.bytes().all(base32)).then(|| TokenDigest::of(&code))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ten_distinct_well_formed_codes() {
        let codes = RecoveryCodes::generate().expect("random");
        assert_eq!(codes.codes().len(), RECOVERY_CODES);
        let mut sorted = codes.codes().to_vec();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), RECOVERY_CODES, "distinct");
        for code in codes.codes() {
            assert_eq!(code.len(), 19, "{code}");
            assert_eq!(code.matches('-').count(), 3, "{code}");
            assert!(recovery_digest(code).is_some(), "{code}");
        }
        assert_eq!(codes.digests().len(), RECOVERY_CODES);
        assert_eq!(format!("{codes:?}"), "RecoveryCodes(<10 redacted>)");
    }

    #[test]
    fn typing_variants_digest_alike() {
        let code = "ABCD-EFGH-IJKL-MN27";
        let digest = recovery_digest(code).expect("well formed");
        for typed in [
            "abcd-efgh-ijkl-mn27",
            "ABCDEFGHIJKLMN27",
            " abcd efgh ijkl mn27 ",
        ] {
            assert_eq!(recovery_digest(typed), Some(digest), "{typed:?}");
        }
        for bad in [
            "",
            "ABCD-EFGH-IJKL-MN2",
            "ABCD-EFGH-IJKL-MN278",
            "ABCD-EFGH-IJKL-MN18",
        ] {
            assert_eq!(recovery_digest(bad), None, "{bad:?}");
        }
    }
}
