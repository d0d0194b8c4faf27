//! Session, reset, email and device tokens: generation, the SHA-256 digest that is all the store keeps, and
//! the public id of a session.

use std::fmt;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use uuid::Uuid;

/// The length of a token as issued: a hyphenated UUID v4.
const TOKEN_LEN: usize = 36;

macro_rules! secret_token {
    ($(#[$meta:meta])* $name:ident, draw: $draw:expr, well_formed: $well_formed:expr) => {
        $(#[$meta])*
        ///
        /// Its `Debug` is redacted; only its [`TokenDigest`] is ever stored.
        #[derive(Clone, PartialEq, Eq)]
        pub struct $name(String);

        impl $name {
            /// Draws a fresh random token.
            #[must_use]
            pub fn generate() -> Self {
                Self($draw)
            }

            /// Takes a token a client sent. Returns `None` when it cannot be one we issued,
            /// so that no store look-up is spent on it.
            #[must_use]
            pub fn parse(raw: &str) -> Option<Self> {
                let well_formed: fn(&str) -> bool = $well_formed;
                well_formed(raw).then(|| Self(raw.to_owned()))
            }

            /// The token as given to the client.
            #[must_use]
            pub fn expose(&self) -> &str {
                &self.0
            }

            /// The SHA-256 digest under which the store keeps it.
            #[must_use]
            pub fn digest(&self) -> TokenDigest {
                TokenDigest::of(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "(<redacted>)"))
            }
        }
    };
}

/// Whether `raw` is a lowercase hyphenated UUID (`8-4-4-4-12` lowercase hex digits): the form
/// of session and reset tokens. A table look-up per byte: it runs on every request with a
/// session cookie.
fn is_uuid_token(raw: &str) -> bool {
    is_uuid_form(raw.as_bytes())
}

/// [`is_uuid_token`] on bytes (which then are ASCII).
fn is_uuid_form(bytes: &[u8]) -> bool {
    bytes.len() == TOKEN_LEN
        && bytes.iter().zip(UUID_TOKEN_FORM).all(|(&b, hyphen)| {
            if hyphen {
                b == b'-'
            } else {
                LOWER_HEX[usize::from(b)]
            }
        })
}

/// Where a hyphenated UUID has its hyphens.
const UUID_TOKEN_FORM: [bool; TOKEN_LEN] = {
    let mut form = [false; TOKEN_LEN];
    form[8] = true;
    form[13] = true;
    form[18] = true;
    form[23] = true;
    form
};

/// The bytes that are lowercase hex digits.
const LOWER_HEX: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = matches!(b as u8, b'0'..=b'9' | b'a'..=b'f');
        b += 1;
    }
    table
};

/// Whether `raw` is 64 lowercase hex digits: the form of device tokens.
fn is_device_token(raw: &str) -> bool {
    raw.len() == DEVICE_TOKEN_LEN
        && raw
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

secret_token!(
    /// A session token: the value of the session cookie.
    ///
    /// A random UUID v4 (122 random bits, above the 64 of OWASP ASVS 4.0.3 §3.2.2), in its
    /// lowercase hyphenated form.
    SessionToken,
    draw: Uuid::new_v4().to_string(),
    well_formed: is_uuid_token
);
impl SessionToken {
    /// The digest of `raw` (a cookie's bytes) if it is a well-formed session token, computed
    /// from the borrowed bytes (no copy of the token is made): what the layer looks a
    /// cookie's session up by.
    pub(crate) fn digest_of(raw: &[u8]) -> Option<TokenDigest> {
        is_uuid_form(raw).then(|| TokenDigest(Sha256::digest(raw).into()))
    }
}

secret_token!(
    /// A password-reset token.
    ///
    /// A random UUID v4 (122 random bits, above the 64 of OWASP ASVS 4.0.3 §3.2.2), in its
    /// lowercase hyphenated form.
    ResetToken,
    draw: Uuid::new_v4().to_string(),
    well_formed: is_uuid_token
);

secret_token!(
    /// An email token: proof that its holder reads mail at an address, to confirm an
    /// account's address or to move the account to a new one. Single-use, with an expiry.
    ///
    /// A random UUID v4 (122 random bits), in its lowercase hyphenated form.
    EmailToken,
    draw: Uuid::new_v4().to_string(),
    well_formed: is_uuid_token
);

/// The length of a device token: 64 lowercase hex digits.
const DEVICE_TOKEN_LEN: usize = 64;

secret_token!(
    /// A device token: the value of the device cookie, proof that this browser once logged in
    /// to an account (OWASP's device cookies). It never authenticates by itself.
    ///
    /// Two random UUID v4s in their simple form, 64 lowercase hex digits: 244 random bits (at
    /// least the 128 the design asks for).
    DeviceToken,
    draw: format!("{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple()),
    well_formed: is_device_token
);

/// The SHA-256 digest of a token: what the store keys sessions and reset tokens by, so that a
/// copy of the database hands out no live credential.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenDigest(pub [u8; 32]);

impl TokenDigest {
    /// Digests a token.
    #[must_use]
    pub fn of(token: &str) -> Self {
        Self(Sha256::digest(token.as_bytes()).into())
    }

    /// Compares two digests in constant time.
    #[must_use]
    pub fn ct_eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }

    /// The public id of the session stored under this digest.
    #[must_use]
    pub fn session_id(&self) -> SessionId {
        let mut id = [0u8; 16];
        id.copy_from_slice(&self.0[..16]);
        SessionId(id)
    }
}

impl fmt::Debug for TokenDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenDigest({})", self.session_id())
    }
}

/// The public id of a session: the first 128 bits of its token's digest, shown as hex.
///
/// It names a session (in logs, in a list of a user's sessions) without being usable as one:
/// the token cannot be recovered from it.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionId(pub [u8; 16]);

impl SessionId {
    /// Parses the 32-hex-digit form produced by `Display`.
    #[must_use]
    pub fn parse(hex: &str) -> Option<Self> {
        if hex.len() != 32 {
            return None;
        }
        let mut id = [0u8; 16];
        for (i, byte) in id.iter_mut().enumerate() {
            *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        Some(Self(id))
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionId({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_tokens_are_long_random_hex_and_parse_back() {
        let a = DeviceToken::generate();
        assert_eq!(a.expose().len(), 64);
        assert_ne!(a, DeviceToken::generate());
        assert_eq!(DeviceToken::parse(a.expose()), Some(a.clone()));
        assert_eq!(format!("{a:?}"), "DeviceToken(<redacted>)");
        for raw in [
            "",
            "abc",
            &a.expose().to_uppercase(),
            &format!("{}0", a.expose()),
        ] {
            assert!(DeviceToken::parse(raw).is_none(), "{raw:?}");
        }
    }

    #[test]
    fn generated_tokens_parse_and_differ() {
        let a = SessionToken::generate();
        let b = SessionToken::generate();
        assert_ne!(a, b);
        assert_eq!(SessionToken::parse(a.expose()), Some(a.clone()));
        assert_ne!(a.digest(), b.digest());
    }

    #[test]
    fn malformed_tokens_are_refused() {
        for raw in [
            "",
            "abc",
            "00000000-0000-4000-8000-00000000000",
            "00000000-0000-4000-8000-0000000000000",
            "0000000000000000000000000000000000000",
            "ABCDEF00-0000-4000-8000-000000000000",
            "zzzzzzzz-0000-4000-8000-000000000000",
            "00000000-0000-4000-8000-00000000000é",
        ] {
            assert!(SessionToken::parse(raw).is_none(), "{raw:?}");
        }
    }

    #[test]
    fn digest_is_sha256_of_the_token() {
        // echo -n 00000000-0000-4000-8000-000000000000 | sha256sum
        let d = TokenDigest::of("00000000-0000-4000-8000-000000000000");
        assert_eq!(d.0.len(), 32);
        assert!(d.ct_eq(&TokenDigest::of("00000000-0000-4000-8000-000000000000")));
        assert!(!d.ct_eq(&TokenDigest::of("00000000-0000-4000-8000-000000000001")));
    }

    #[test]
    fn debug_never_shows_the_token() {
        let t = ResetToken::generate();
        assert!(!format!("{t:?}").contains(t.expose()));
    }

    #[test]
    fn a_session_token_is_exactly_a_lowercase_hyphenated_uuid() {
        // The definition the one-pass check replaces: lowercase, and a UUID by `uuid`'s parser.
        let by_uuid = |raw: &str| {
            raw.len() == TOKEN_LEN
                && raw
                    .bytes()
                    .all(|b| b == b'-' || b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
                && Uuid::try_parse(raw).is_ok()
        };
        let token = SessionToken::generate();
        let good = token.expose();
        let mut cases = vec![
            good.to_owned(),
            good.to_uppercase(),
            format!("{{{}}}", &good[1..35]),
            good.replace('-', "0"),
            format!("{}-", &good[..35]),
            format!("-{}", &good[1..]),
            format!("{}g{}", &good[..5], &good[6..]),
            "00000000-0000-0000-0000-000000000000".to_owned(),
            "ffffffff-ffff-ffff-ffff-ffffffffffff".to_owned(),
            "00000000-0000-4000-8000-00000000000".to_owned(),
            "0000000-00000-4000-8000-000000000000".to_owned(),
            "00000000-0000-4000-8000-0000000000é".to_owned(),
            format!("urn:uuid:{good}"),
        ];
        // Every position holding every byte class.
        for i in 0..TOKEN_LEN {
            for b in ["-", "0", "a", "f", "g", "A", " ", "{"] {
                let mut s = good.to_owned();
                s.replace_range(i..=i, b);
                cases.push(s);
            }
        }
        for raw in &cases {
            assert_eq!(is_uuid_token(raw), by_uuid(raw), "{raw:?}");
        }
        assert!(is_uuid_token(good));
        assert_eq!(
            SessionToken::digest_of(good.as_bytes()),
            Some(token.digest())
        );
        assert_eq!(
            SessionToken::digest_of(good.to_uppercase().as_bytes()),
            None
        );
        assert_eq!(SessionToken::digest_of(b"\xff\xfe"), None);
    }

    #[test]
    fn session_id_round_trips() {
        let id = SessionToken::generate().digest().session_id();
        assert_eq!(SessionId::parse(&id.to_string()), Some(id));
        assert_eq!(SessionId::parse("xyz"), None);
    }
}
