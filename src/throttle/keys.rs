//! The keys the throttle counts by: a digest of the account's email, and the client's
//! address (or its network).

use std::net::IpAddr;

use sha2::{Digest, Sha256};

use crate::user::email_key;

/// An account key: 128 bits of the SHA-256 of the email's [`email_key`] (trimmed, NFC,
/// lowercased: the store's notion of the same address), so that a key costs 16 bytes
/// however long the email a client sends.
pub(super) type Account = [u8; 16];

/// A family of request quotas: each counts its requests apart, per email and per client.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Quota {
    /// `POST /reset_password`.
    ResetRequest,
    /// `POST /confirm_email/resend`.
    ConfirmationResend,
    /// The email-change token that `PUT /profile/email` sends to the address it names,
    /// counted per target address (and per client).
    EmailChangeMail,
}

impl Quota {
    /// The byte that starts this family's keys in the shared counters, which count every
    /// family under the reset requests' kinds: `None` for reset requests (their keys as they
    /// always were), a tag for the others. A tagged key is one byte longer than any
    /// untagged key of the same kind, so the families never share a counter.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pub(super) fn shared_tag(self) -> Option<u8> {
        match self {
            Self::ResetRequest => None,
            Self::ConfirmationResend => Some(b'c'),
            Self::EmailChangeMail => Some(b'e'),
        }
    }
}

/// The key of a client address: an IPv6 host usually holds a whole /64 and can change
/// addresses within it at will, so IPv6 clients are counted by their /64 (and IPv4-mapped
/// addresses as IPv4).
pub(crate) fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut segments = v6.segments();
                segments[4..].fill(0);
                IpAddr::V6(segments.into())
            }
        },
    }
}

/// The key of the account an email names, whether or not it has an account.
pub(super) fn account_key(email: &str) -> Account {
    let digest = Sha256::digest(email_key(email).as_bytes());
    let mut key = [0u8; 16];
    key.copy_from_slice(&digest[..16]);
    key
}

/// A client key as bytes, for the shared counters: a tag (0 for no address, 4 or 6) and the
/// address of [`client_key`].
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
pub(super) fn client_bytes(client: Option<IpAddr>) -> Vec<u8> {
    match client.map(client_key) {
        None => vec![0],
        Some(IpAddr::V4(v4)) => [&[4][..], &v4.octets()].concat(),
        Some(IpAddr::V6(v6)) => [&[6][..], &v6.octets()].concat(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_is_keyed_by_its_64_and_emails_without_case() {
        let key = |s: &str| client_key(s.parse().unwrap());
        assert_eq!(key("2001:db8:1:2::1"), key("2001:db8:1:2:ffff::3"));
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
        assert_eq!(account_key(" Bob@X.io"), account_key("bob@x.io"));
    }

    #[test]
    fn emails_are_keyed_after_nfc_normalisation() {
        assert_eq!(account_key("zo\u{eb}@x.io"), account_key("ZOE\u{308}@X.io"));
        assert_ne!(account_key("zoe@x.io"), account_key("zo\u{eb}@x.io"));
    }
}
