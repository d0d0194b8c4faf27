//! RFC 6238 time-based one-time passwords as this crate uses them: HMAC-SHA1, 6 digits,
//! 30-second steps, one step of clock skew accepted each way; the shared secret (160 random
//! bits) and the `otpauth://` URI an authenticator app reads it from.
//!
//! The HMAC and the truncation are `totp-rs`'s; this module decides which steps a code may
//! be for, and says which one it matched (the caller records it, so that a code is never
//! accepted twice: RFC 6238 §5.2).

use std::{
    fmt,
    time::{SystemTime, UNIX_EPOCH},
};

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use subtle::ConstantTimeEq;
use totp_rs::{Algorithm, TOTP};

use super::sealed::RandomError;

/// Digits of a code.
pub(crate) const DIGITS: usize = 6;

/// Seconds of a time step (RFC 6238's X).
pub(crate) const STEP_SECS: u64 = 30;

/// Steps of clock skew accepted each way.
const SKEW_STEPS: u64 = 1;

/// Bytes of a secret: 160 bits, the length RFC 4226 §4 recommends.
pub(crate) const SECRET_LEN: usize = 20;

/// What an `otpauth://` label and parameter value keep as they are: RFC 3986's unreserved
/// characters.
const URI_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A TOTP shared secret. `Debug` shows nothing of it.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct TotpSecret([u8; SECRET_LEN]);

impl TotpSecret {
    /// 160 bits from the operating system's random source.
    pub(crate) fn generate() -> Result<Self, RandomError> {
        let mut bytes = [0; SECRET_LEN];
        getrandom::fill(&mut bytes).map_err(RandomError::from)?;
        Ok(Self(bytes))
    }

    /// The secret of these bytes; `None` unless there are exactly 20.
    pub(crate) fn from_bytes(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(Self)
    }

    /// The raw secret.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.0
    }

    fn totp(&self) -> TOTP {
        TOTP::new_unchecked(
            Algorithm::SHA1,
            DIGITS,
            // `check` is not used (it underflows at the epoch and does not say which step
            // matched): `matching_step` does the skew.
            0,
            STEP_SECS,
            self.0.to_vec(),
        )
    }

    /// The secret as an authenticator app takes it typed in: upper-case RFC 4648 base32
    /// without padding (32 characters).
    pub(crate) fn base32(&self) -> String {
        self.totp().get_secret_base32()
    }

    /// The code of time step `step`.
    #[cfg(test)]
    pub(crate) fn code_at_step(&self, step: u64) -> String {
        self.totp().generate(step.saturating_mul(STEP_SECS))
    }

    /// The time step `code` is the code of, among the step of `now` and one step either
    /// side; `None` if it matches none (or is not 6 digits, spaces aside). Every candidate
    /// is compared, in constant time.
    pub(crate) fn matching_step(&self, code: &str, now: SystemTime) -> Option<u64> {
        let code = normalize_code(code)?;
        let current = step_of(now);
        let totp = self.totp();
        let mut matched = None;
        for step in current.saturating_sub(SKEW_STEPS)..=current.saturating_add(SKEW_STEPS) {
            let expected = totp.generate(step.saturating_mul(STEP_SECS));
            if bool::from(expected.as_bytes().ct_eq(code.as_bytes())) {
                matched = Some(step);
            }
        }
        matched
    }

    /// The `otpauth://totp/` URI of this secret for `account` at `issuer` (Google
    /// Authenticator's key URI format), every parameter spelled out.
    pub(crate) fn otpauth_uri(&self, issuer: &str, account: &str) -> String {
        let issuer = utf8_percent_encode(issuer, URI_COMPONENT);
        let account = utf8_percent_encode(account, URI_COMPONENT);
        format!(
            "otpauth://totp/{issuer}:{account}?secret={}&issuer={issuer}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECS}",
            self.base32()
        )
    }
}

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSecret(<redacted>)")
    }
}

/// The RFC 6238 time step of `now`: whole 30-second periods since the Unix epoch (0 before
/// it).
pub(crate) fn step_of(now: SystemTime) -> u64 {
    now.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / STEP_SECS)
}

/// `code` without the spaces an app shows in its middle: `Some` only for 6 ASCII digits.
fn normalize_code(code: &str) -> Option<String> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    (code.len() == DIGITS && code.bytes().all(|b| b.is_ascii_digit())).then_some(code)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// RFC 6238's SHA-1 seed: the ASCII of "12345678901234567890".
    fn rfc_secret() -> TotpSecret {
        TotpSecret::from_bytes(b"12345678901234567890").expect("20 bytes")
    }

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    /// RFC 6238 appendix B, SHA-1 rows: (time, 8-digit TOTP). A 6-digit code is the same
    /// truncated value modulo 10^6: the last 6 digits.
    const APPENDIX_B: [(u64, &str); 6] = [
        (59, "94287082"),
        (1_111_111_109, "07081804"),
        (1_111_111_111, "14050471"),
        (1_234_567_890, "89005924"),
        (2_000_000_000, "69279037"),
        (20_000_000_000, "65353130"),
    ];

    #[test]
    fn rfc_6238_appendix_b_vectors() {
        let secret = rfc_secret();
        for (time, eight) in APPENDIX_B {
            let six = &eight[2..];
            assert_eq!(secret.code_at_step(time / STEP_SECS), six, "T = {time}");
            assert_eq!(
                secret.matching_step(six, at(time)),
                Some(time / STEP_SECS),
                "T = {time}"
            );
        }
    }

    #[test]
    fn one_step_of_skew_each_way_and_no_more() {
        let secret = rfc_secret();
        let now = at(1_111_111_111);
        let step = step_of(now);
        for (offset, accepted) in [
            (-2_i64, false),
            (-1, true),
            (0, true),
            (1, true),
            (2, false),
        ] {
            let other = step.checked_add_signed(offset).expect("in range");
            let code = secret.code_at_step(other);
            let expected = accepted.then_some(other);
            assert_eq!(
                secret.matching_step(&code, now),
                expected,
                "offset {offset}"
            );
        }
    }

    #[test]
    fn step_boundaries() {
        let secret = rfc_secret();
        // The last second of step 100 and the first of step 101.
        let last = at(101 * STEP_SECS - 1);
        let first = at(101 * STEP_SECS);
        assert_eq!(step_of(last), 100);
        assert_eq!(step_of(first), 101);
        let code_102 = secret.code_at_step(102);
        assert_eq!(secret.matching_step(&code_102, last), None);
        assert_eq!(secret.matching_step(&code_102, first), Some(102));
        let code_99 = secret.code_at_step(99);
        assert_eq!(secret.matching_step(&code_99, last), Some(99));
        assert_eq!(secret.matching_step(&code_99, first), None);
    }

    #[test]
    fn malformed_codes_match_nothing() {
        let secret = rfc_secret();
        let now = at(59);
        let good = secret.code_at_step(1);
        assert_eq!(good, "287082");
        assert_eq!(secret.matching_step("287 082", now), Some(1));
        for bad in ["", "28708", "2870822", "28708a", "٢٨٧٠٨٢", "+28708"] {
            assert_eq!(secret.matching_step(bad, now), None, "{bad:?}");
        }
        // At the epoch the previous step does not exist: no underflow.
        assert_eq!(
            secret.matching_step(&secret.code_at_step(0), at(0)),
            Some(0)
        );
    }

    #[test]
    fn base32_and_uri() {
        let secret = rfc_secret();
        assert_eq!(secret.base32(), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        assert_eq!(
            secret.otpauth_uri("Acme Co", "bob+2fa@example.com"),
            "otpauth://totp/Acme%20Co:bob%2B2fa%40example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\
             &issuer=Acme%20Co&algorithm=SHA1&digits=6&period=30"
        );
        let fresh = TotpSecret::generate().expect("random");
        assert_eq!(fresh.base32().len(), 32);
        assert_ne!(fresh, TotpSecret::generate().expect("random"));
        assert_eq!(format!("{fresh:?}"), "TotpSecret(<redacted>)");
    }
}
