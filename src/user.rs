//! Accounts: the stored [`User`] and the [`AuthenticatedUser`] the wrapped app receives.

use std::{
    fmt,
    time::{Duration, SystemTime},
};

use serde::Serialize;
use unicode_normalization::UnicodeNormalization;

use crate::token::SessionId;

/// A user's numeric id, assigned in increasing order at registration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct UserId(pub u64);

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A stored account: its id, email, password hash and credential generation. Sessions and
/// reset tokens live in their own records.
///
/// `Debug` redacts the password hash.
#[derive(Clone, PartialEq, Eq)]
pub struct User {
    /// The account's id.
    pub id: UserId,
    /// The email as the user registered it, trimmed.
    pub email: String,
    /// The bcrypt hash of the password (`$2b$...`).
    pub hashed_password: String,
    /// The credential generation (security stamp): advanced by every change of password (a
    /// password change or a reset), in the transaction that changes it, and not by a re-hash
    /// of the same password. A session is valid only at its user's current generation.
    pub generation: u64,
    /// Whether the owner proved they receive mail at the address (always `true` for accounts
    /// registered while email confirmation was off, and for those that existed before it).
    pub email_confirmed: bool,
    /// Whether someone else tried to register this unconfirmed account's address (a
    /// registration attempt marked it, see [`UserStore::contest_unconfirmed`]): the password was
    /// chosen before anyone proved the address, by whoever registered first, so confirming
    /// needs a new password. Always `false` once the email is confirmed.
    ///
    /// [`UserStore::contest_unconfirmed`]: crate::store::UserStore::contest_unconfirmed
    pub contested: bool,
    /// When the account was created (to the millisecond). An unconfirmed account is created
    /// when its first confirmation token is issued, by the service's clock, and expires
    /// with its [unconfirmed lifetime](crate::AuthConfig::with_unconfirmed_lifetime).
    pub created: SystemTime,
}

impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("email", &self.email)
            .field("hashed_password", &"<redacted>")
            .field("generation", &self.generation)
            .field("email_confirmed", &self.email_confirmed)
            .field("contested", &self.contested)
            .field("created", &self.created)
            .finish()
    }
}

/// What the wrapped service finds in the request extensions when the request carries a valid
/// session cookie: the user's id and email, the public id of the session and when it was
/// authenticated. Never the password hash, never the session token.
///
/// ```
/// use http::Request;
/// use tower_user_auth::AuthenticatedUser;
///
/// fn greet<B>(req: &Request<B>) -> String {
///     match req.extensions().get::<AuthenticatedUser>() {
///         Some(user) => format!("hello {}", user.email),
///         None => "hello stranger".to_owned(),
///     }
/// }
/// assert_eq!(greet(&Request::new(())), "hello stranger");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AuthenticatedUser {
    /// The account's id.
    pub id: UserId,
    /// The email as registered.
    pub email: String,
    /// The public id of the session the request came with (not its token).
    #[serde(skip)]
    pub session: SessionId,
    /// When the session was authenticated: the login that started it, or the step-up
    /// (`POST /profile/reauth`) that replaced it with this one. A session authenticated
    /// within the [re-authentication window](crate::AuthConfig::with_reauth_window) is
    /// fresh: see [`authenticated_within`](Self::authenticated_within),
    /// [`Auth::is_recently_authenticated`](crate::Auth::is_recently_authenticated) and
    /// [`RequireRecentAuth`](crate::RequireRecentAuth).
    #[serde(skip)]
    pub authenticated_at: SystemTime,
}

impl AuthenticatedUser {
    /// Whether the session was authenticated less than `window` before `now` (the app's
    /// clock; a time before the authentication counts as within it).
    ///
    /// ```
    /// use std::time::{Duration, SystemTime};
    /// use tower_user_auth::{AuthenticatedUser, UserId, token::SessionToken};
    ///
    /// let login = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    /// let user = AuthenticatedUser {
    ///     id: UserId(1),
    ///     email: "bob@example.com".into(),
    ///     session: SessionToken::generate().digest().session_id(),
    ///     authenticated_at: login,
    /// };
    /// let window = Duration::from_secs(300);
    /// assert!(user.authenticated_within(window, login + Duration::from_secs(299)));
    /// assert!(!user.authenticated_within(window, login + Duration::from_secs(300)));
    /// ```
    #[must_use]
    pub fn authenticated_within(&self, window: Duration, now: SystemTime) -> bool {
        is_within(self.authenticated_at, window, now)
    }
}

/// Whether `authenticated_at` is less than `window` before `now`.
pub(crate) fn is_within(authenticated_at: SystemTime, window: Duration, now: SystemTime) -> bool {
    !window.is_zero()
        && now
            .duration_since(authenticated_at)
            .map_or(true, |elapsed| elapsed < window)
}

/// The key that identifies an email address: trimmed, NFC-normalised (Unicode canonical
/// composition), lowercased (Unicode's full lowercase mapping) and NFC-normalised again.
///
/// Two emails with one key are the same address: one account (the unique index of every
/// store is keyed by it) and one throttling key. So "Zoë@Example.com" written with a
/// precomposed "ë" and with "e" followed by a combining diaeresis are the same. Not the
/// same: compatibility forms (a full-width "ｂ" is not "b", NFKC is not applied), look-alike
/// letters of other scripts (Cyrillic "а" is not Latin "a"), dots or `+tags` in the local
/// part, and the ASCII and punycode (`xn--`) forms of an internationalised domain.
#[must_use]
pub fn email_key(email: &str) -> String {
    let composed: String = email.trim().nfc().collect();
    composed.to_lowercase().nfc().collect()
}

/// Trims `raw` and checks that it can be an address: at most 254 bytes, one `@` with text on
/// both sides, no white space, control or invisible format characters (see
/// `has_format_character`), a domain of dot-separated labels.
///
/// # Errors
/// Why it cannot be an address.
pub fn check_email(raw: &str) -> Result<&str, crate::error::EmailError> {
    use crate::error::EmailError;
    let email = raw.trim();
    if email.is_empty() {
        return Err(EmailError::Empty);
    }
    if email.len() > 254 {
        return Err(EmailError::TooLong);
    }
    let Some((local, domain)) = email.rsplit_once('@') else {
        return Err(EmailError::Invalid);
    };
    let clean = |s: &str| {
        !s.is_empty()
            && !s.chars().any(|c| c.is_whitespace() || c.is_control())
            && !has_format_character(s)
    };
    let domain_ok =
        clean(domain) && !domain.contains('@') && domain.split('.').all(|label| !label.is_empty());
    if !clean(local) || local.contains('@') || !domain_ok {
        return Err(EmailError::Invalid);
    }
    Ok(email)
}

/// Whether `s` holds an invisible format character (Unicode category Cf: bidirectional
/// overrides and isolates, zero-width joiners and spaces, the soft hyphen, the byte-order
/// mark...). Such a character makes two addresses that look alike differ, or one look like
/// another: no email may hold one.
pub(crate) fn has_format_character(s: &str) -> bool {
    use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};
    s.chars()
        .any(|c| c.general_category() == GeneralCategory::Format)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::EmailError;

    #[test]
    fn emails_are_trimmed_and_checked() {
        assert_eq!(check_email("  bob@bob.com \n"), Ok("bob@bob.com"));
        assert_eq!(check_email("Foo@Example.COM"), Ok("Foo@Example.COM"));
        assert_eq!(check_email("   "), Err(EmailError::Empty));
        for bad in [
            "bob",
            "@bob.com",
            "bob@",
            "bob@@bob.com",
            "b ob@bob.com",
            "bob@bob..com",
            "bob@.com",
            "a@b@c",
            "bob\u{202e}@bob.com",
            "bob@bob.com\u{200b}",
            "\u{feff}bob@bob.com",
            "b\u{ad}ob@bob.com",
        ] {
            assert_eq!(check_email(bad), Err(EmailError::Invalid), "{bad}");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert_eq!(check_email(&long), Err(EmailError::TooLong));
    }

    #[test]
    fn email_keys_are_nfc_and_lowercase() {
        let composed = "Zo\u{eb}@Example.com";
        let decomposed = " zoe\u{308}@example.COM ";
        assert_eq!(email_key(composed), email_key(decomposed));
        assert_eq!(email_key(composed), "zo\u{eb}@example.com");
        // Compatibility forms and other scripts stay distinct.
        assert_ne!(email_key("\u{ff42}ob@x.io"), email_key("bob@x.io"));
        assert_ne!(email_key("\u{430}@x.io"), email_key("a@x.io"));
    }

    #[test]
    fn debug_redacts_the_hash() {
        let u = User {
            id: UserId(1),
            email: "a@b.c".into(),
            hashed_password: "$2b$04$secret".into(),
            generation: 0,
            email_confirmed: true,
            contested: false,
            created: SystemTime::UNIX_EPOCH,
        };
        assert!(!format!("{u:?}").contains("secret"));
    }
}
