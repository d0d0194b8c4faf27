//! Passwords: the [`PasswordPolicy`] that accepts or refuses a new one, and bcrypt, which
//! runs on a pool of dedicated threads.

mod hasher;

pub use self::hasher::HashingPriority;

use std::{collections::HashSet, sync::LazyLock};

pub(crate) use self::hasher::PasswordHasher;
use crate::error::PasswordError;

/// bcrypt reads at most this many bytes of a password.
pub const BCRYPT_MAX_BYTES: usize = 72;

/// The 19,640 most common passwords, from Django (BSD licence, in
/// `LICENSE-common-passwords.txt` beside the list), compared lowercased and trimmed.
static COMMON_PASSWORDS: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    include_str!("common-passwords.txt")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect()
});

/// Whether `password` is on the shipped list of common passwords (compared lowercased and
/// trimmed, as Django does).
#[must_use]
pub fn is_common(password: &str) -> bool {
    COMMON_PASSWORDS.contains(password.trim().to_lowercase().as_str())
}

/// Which passwords are accepted. The same rules apply on every route that sets a password.
///
/// Whatever the policy, a password bcrypt cannot hash faithfully (over 72 bytes, or with a NUL
/// character) is refused rather than truncated. There are no composition rules (NIST SP
/// 800-63B §5.1.1.2): spaces and any Unicode are allowed.
///
/// ```
/// use tower_user_auth::{error::PasswordError, password::PasswordPolicy};
///
/// let policy = PasswordPolicy::hardened();
/// assert_eq!(policy.check("short", "bob@example.com"), Err(PasswordError::TooShort { min: 12 }));
/// assert_eq!(policy.check("password1234", "bob@example.com"), Err(PasswordError::TooCommon));
/// assert!(policy.check("correct horse battery staple", "bob@example.com").is_ok());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PasswordPolicy {
    min_chars: usize,
    reject_common: bool,
    reject_email: bool,
}

impl PasswordPolicy {
    /// The compatibility profile's policy ([`AuthConfig::compat`](crate::AuthConfig::compat)):
    /// anything non-empty that bcrypt can hash faithfully.
    #[must_use]
    pub fn compat() -> Self {
        Self {
            min_chars: 1,
            reject_common: false,
            reject_email: false,
        }
    }

    /// The compatibility profile's policy.
    #[deprecated(since = "0.2.0", note = "renamed to `PasswordPolicy::compat`")]
    #[must_use]
    pub fn seed() -> Self {
        Self::compat()
    }

    /// OWASP ASVS 2.1 / NIST SP 800-63B: at least 12 characters, not a common password, not
    /// the email.
    #[must_use]
    pub fn hardened() -> Self {
        Self {
            min_chars: 12,
            reject_common: true,
            reject_email: true,
        }
    }

    /// The same policy with another minimum length in characters (Unicode scalar values;
    /// at least 1).
    #[must_use]
    pub fn with_min_chars(mut self, min: usize) -> Self {
        self.min_chars = min.max(1);
        self
    }

    /// The same policy, refusing passwords on the shipped list of common passwords or not.
    #[must_use]
    pub fn with_reject_common(mut self, on: bool) -> Self {
        self.reject_common = on;
        self
    }

    /// The same policy, refusing a password equal to the account's email (compared without
    /// regard to case) or not.
    #[must_use]
    pub fn with_reject_email(mut self, on: bool) -> Self {
        self.reject_email = on;
        self
    }

    /// The minimum length in characters.
    #[must_use]
    pub fn min_chars(&self) -> usize {
        self.min_chars
    }

    /// Whether common passwords are refused.
    #[must_use]
    pub fn reject_common(&self) -> bool {
        self.reject_common
    }

    /// Whether a password equal to the email is refused.
    #[must_use]
    pub fn reject_email(&self) -> bool {
        self.reject_email
    }

    /// Checks a new password for the account `email`.
    ///
    /// # Errors
    /// The first rule the password breaks.
    pub fn check(&self, password: &str, email: &str) -> Result<(), PasswordError> {
        check_hashable(password)?;
        if password.chars().count() < self.min_chars {
            return Err(PasswordError::TooShort {
                min: self.min_chars,
            });
        }
        if self.reject_email && password.trim().to_lowercase() == email.trim().to_lowercase() {
            return Err(PasswordError::SameAsEmail);
        }
        if self.reject_common && is_common(password) {
            return Err(PasswordError::TooCommon);
        }
        Ok(())
    }
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self::hardened()
    }
}

/// Whether bcrypt can hash `password` without losing any of it.
///
/// # Errors
/// [`PasswordError::Empty`], [`PasswordError::TooLong`] or [`PasswordError::ContainsNul`].
pub fn check_hashable(password: &str) -> Result<(), PasswordError> {
    if password.is_empty() {
        Err(PasswordError::Empty)
    } else if password.len() > BCRYPT_MAX_BYTES {
        Err(PasswordError::TooLong {
            bytes: password.len(),
        })
    } else if password.contains('\0') {
        Err(PasswordError::ContainsNul)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_is_shipped_and_large() {
        assert!(COMMON_PASSWORDS.len() >= 10_000);
        assert!(is_common("password"));
        assert!(is_common("  PassWord "));
        assert!(!is_common("a very unusual passphrase indeed"));
    }

    #[test]
    fn never_truncates() {
        let long = "x".repeat(73);
        assert_eq!(
            check_hashable(&long),
            Err(PasswordError::TooLong { bytes: 73 })
        );
        assert!(check_hashable(&"x".repeat(72)).is_ok());
        // 25 three-byte characters: 75 bytes, over the limit although only 25 characters.
        assert!(matches!(
            check_hashable(&"€".repeat(25)),
            Err(PasswordError::TooLong { .. })
        ));
        assert_eq!(check_hashable("ab\0cd"), Err(PasswordError::ContainsNul));
        assert_eq!(check_hashable(""), Err(PasswordError::Empty));
    }

    #[test]
    fn hardened_rules() {
        let p = PasswordPolicy::hardened();
        assert_eq!(
            p.check("elevenchars", "a@b.c"),
            Err(PasswordError::TooShort { min: 12 })
        );
        assert_eq!(
            p.check("Bob@Example.com", "bob@example.com"),
            Err(PasswordError::SameAsEmail)
        );
        assert!(p.check("ünïcödé pässwörd", "a@b.c").is_ok());
        assert!(p.check("  spaces are fine too  ", "a@b.c").is_ok());
        let compat = PasswordPolicy::compat();
        assert!(compat.check("pwd", "a@b.c").is_ok());
        assert!(compat.check("password", "a@b.c").is_ok());
    }
}
