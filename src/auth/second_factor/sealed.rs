//! Sealing a TOTP secret for the store: XChaCha20-Poly1305 (RustCrypto's
//! `chacha20poly1305`) under the application's [`SecretKey`], a fresh random 192-bit nonce
//! per sealing stored in front of the ciphertext, and a fixed associated-data string that
//! ties the ciphertext to this use. A copy of the store without the key gives neither the
//! secret nor a way to forge one.

use chacha20poly1305::{
    KeyInit, XChaCha20Poly1305, XNonce,
    aead::{Aead, Payload},
};

use crate::config::SecretKey;

/// The associated data every sealed TOTP secret is authenticated with.
const CONTEXT: &[u8] = b"tower-user-auth/totp-secret/v1";

/// Bytes of an XChaCha20 nonce.
const NONCE_LEN: usize = 24;

/// The operating system's random source failed.
#[derive(Clone, Debug, thiserror::Error)]
#[error("the operating system's random source failed: {0}")]
pub(crate) struct RandomError(String);

impl From<getrandom::Error> for RandomError {
    fn from(e: getrandom::Error) -> Self {
        Self(e.to_string())
    }
}

/// Why a secret could not be sealed.
#[derive(Clone, Debug, thiserror::Error)]
pub(crate) enum SealError {
    /// No nonce could be drawn.
    #[error(transparent)]
    Random(#[from] RandomError),
    /// The cipher refused the message (it cannot for a 20-byte secret).
    #[error("sealing the TOTP secret failed")]
    Cipher,
}

fn cipher(key: &SecretKey) -> XChaCha20Poly1305 {
    XChaCha20Poly1305::new(&key.0.into())
}

/// `secret` sealed under `key`: the nonce, then the ciphertext and its tag.
pub(crate) fn seal(key: &SecretKey, secret: &[u8]) -> Result<Vec<u8>, SealError> {
    let mut nonce = [0; NONCE_LEN];
    getrandom::fill(&mut nonce).map_err(RandomError::from)?;
    let payload = Payload {
        msg: secret,
        aad: CONTEXT,
    };
    let ciphertext = cipher(key)
        .encrypt(XNonce::from_slice(&nonce), payload)
        .map_err(|_| SealError::Cipher)?;
    let mut sealed = Vec::with_capacity(NONCE_LEN + ciphertext.len());
    sealed.extend_from_slice(&nonce);
    sealed.extend_from_slice(&ciphertext);
    Ok(sealed)
}

/// The secret `sealed` holds; `None` if it was not sealed under `key` (another key, or bytes
/// altered).
pub(crate) fn open(key: &SecretKey, sealed: &[u8]) -> Option<Vec<u8>> {
    if sealed.len() < NONCE_LEN {
        return None;
    }
    let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
    let payload = Payload {
        msg: ciphertext,
        aad: CONTEXT,
    };
    cipher(key).decrypt(XNonce::from_slice(nonce), payload).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"12345678901234567890";

    #[test]
    fn round_trip_with_a_fresh_nonce_each_time() {
        let key = SecretKey::from_bytes([7; 32]);
        let a = seal(&key, SECRET).expect("sealed");
        let b = seal(&key, SECRET).expect("sealed");
        assert_eq!(a.len(), NONCE_LEN + SECRET.len() + 16);
        assert_ne!(a, b, "a fresh nonce per sealing");
        assert_eq!(open(&key, &a).as_deref(), Some(SECRET));
        assert_eq!(open(&key, &b).as_deref(), Some(SECRET));
        assert!(
            !a.windows(SECRET.len()).any(|w| w == SECRET),
            "the secret is not in the sealed bytes"
        );
    }

    #[test]
    fn another_key_or_altered_bytes_open_nothing() {
        let key = SecretKey::from_bytes([7; 32]);
        let sealed = seal(&key, SECRET).expect("sealed");
        assert_eq!(open(&SecretKey::from_bytes([8; 32]), &sealed), None);
        for i in [0, NONCE_LEN, sealed.len() - 1] {
            let mut altered = sealed.clone();
            altered[i] ^= 1;
            assert_eq!(open(&key, &altered), None, "byte {i} altered");
        }
        assert_eq!(open(&key, &sealed[..NONCE_LEN - 1]), None);
        assert_eq!(open(&key, &sealed[..NONCE_LEN + 3]), None);
        assert_eq!(open(&key, &[]), None);
    }
}
