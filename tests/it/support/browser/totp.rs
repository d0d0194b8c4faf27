//! The authenticator app of the browser tests: RFC 6238 TOTP codes (HMAC-SHA1, 6 digits,
//! 30-second steps) from a base32 secret, as a phone would compute them. Written out here
//! (SHA-1, HMAC, base32: a few dozen lines checked against the RFCs' own vectors) rather than
//! borrowed from the crate's TOTP dependency, so that the test does not verify the layer's
//! codes with the very code the layer uses.

use std::time::{SystemTime, UNIX_EPOCH};

/// The RFC 6238 step length, in seconds.
pub const STEP_SECS: u64 = 30;

/// The time step of now.
pub fn current_step() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
        / STEP_SECS
}

/// The 6-digit code of `secret` (RFC 4648 base32, upper case, no padding) at time step
/// `step`.
pub fn code_at(secret: &str, step: u64) -> String {
    let key = base32_decode(secret).unwrap_or_else(|| panic!("not base32: {secret:?}"));
    format!("{:06}", hotp(&key, step, 1_000_000))
}

/// RFC 4226 HOTP of `key` at `counter`, modulo `modulus` (10^digits).
fn hotp(key: &[u8], counter: u64, modulus: u32) -> u32 {
    let mac = hmac_sha1(key, &counter.to_be_bytes());
    let offset = usize::from(mac[19] & 0x0f);
    let binary = u32::from_be_bytes([
        mac[offset] & 0x7f,
        mac[offset + 1],
        mac[offset + 2],
        mac[offset + 3],
    ]);
    binary % modulus
}

/// RFC 4648 base32 (upper or lower case, padding and spaces ignored); `None` for another
/// character.
fn base32_decode(text: &str) -> Option<Vec<u8>> {
    let (mut bits, mut value, mut out) = (0_u32, 0_u32, Vec::new());
    for c in text.bytes().filter(|c| *c != b'=' && *c != b' ') {
        let v = match c.to_ascii_uppercase() {
            c @ b'A'..=b'Z' => c - b'A',
            c @ b'2'..=b'7' => c - b'2' + 26,
            _ => return None,
        };
        value = (value << 5) | u32::from(v);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from((value >> bits) & 0xff).expect("a byte"));
        }
    }
    Some(out)
}

/// RFC 2104 HMAC with SHA-1.
fn hmac_sha1(key: &[u8], message: &[u8]) -> [u8; 20] {
    let mut block = [0_u8; 64];
    if key.len() > 64 {
        block[..20].copy_from_slice(&sha1(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let inner: Vec<u8> = block
        .iter()
        .map(|b| b ^ 0x36)
        .chain(message.iter().copied())
        .collect();
    let outer: Vec<u8> = block.iter().map(|b| b ^ 0x5c).chain(sha1(&inner)).collect();
    sha1(&outer)
}

/// FIPS 180-4 SHA-1.
fn sha1(message: &[u8]) -> [u8; 20] {
    let mut h: [u32; 5] = [
        0x6745_2301,
        0xEFCD_AB89,
        0x98BA_DCFE,
        0x1032_5476,
        0xC3D2_E1F0,
    ];
    let mut data = message.to_vec();
    let bit_len = u64::try_from(message.len()).expect("length") * 8;
    data.push(0x80);
    while data.len() % 64 != 56 {
        data.push(0);
    }
    data.extend_from_slice(&bit_len.to_be_bytes());
    for chunk in data.chunks(64) {
        let mut w = [0_u32; 80];
        for (i, word) in chunk.chunks(4).enumerate() {
            w[i] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        for i in 16..80 {
            w[i] = (w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]).rotate_left(1);
        }
        let [mut a, mut b, mut c, mut d, mut e] = h;
        for (i, wi) in w.iter().enumerate() {
            let (f, k) = match i {
                0..=19 => ((b & c) | (!b & d), 0x5A82_7999),
                20..=39 => (b ^ c ^ d, 0x6ED9_EBA1),
                40..=59 => ((b & c) | (b & d) | (c & d), 0x8F1B_BCDC),
                _ => (b ^ c ^ d, 0xCA62_C1D6),
            };
            let t = a
                .rotate_left(5)
                .wrapping_add(f)
                .wrapping_add(e)
                .wrapping_add(k)
                .wrapping_add(*wi);
            e = d;
            d = c;
            c = b.rotate_left(30);
            b = a;
            a = t;
        }
        for (x, y) in h.iter_mut().zip([a, b, c, d, e]) {
            *x = x.wrapping_add(y);
        }
    }
    let mut out = [0_u8; 20];
    for (i, x) in h.iter().enumerate() {
        out[4 * i..4 * i + 4].copy_from_slice(&x.to_be_bytes());
    }
    out
}

/// Checks the functions against the standards' test vectors (run by the browser test file,
/// with or without a browser).
pub fn check_against_the_rfc_vectors() {
    // FIPS 180 examples.
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    assert_eq!(
        hex(&sha1(b"abc")),
        "a9993e364706816aba3e25717850c26c9cd0d89d"
    );
    assert_eq!(hex(&sha1(b"")), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    // RFC 4226 appendix D: HOTP of "12345678901234567890" at counters 0 and 9.
    let key = b"12345678901234567890";
    assert_eq!(hotp(key, 0, 1_000_000), 755_224);
    assert_eq!(hotp(key, 9, 1_000_000), 520_489);
    // RFC 6238 appendix B (SHA-1, 8 digits): T = 59 s and T = 1111111109 s.
    assert_eq!(hotp(key, 59 / STEP_SECS, 100_000_000), 94_287_082);
    assert_eq!(hotp(key, 1_111_111_109 / STEP_SECS, 100_000_000), 7_081_804);
    // The same key in base32 (RFC 4648 section 10's alphabet).
    assert_eq!(
        base32_decode("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ").as_deref(),
        Some(&key[..])
    );
    assert_eq!(code_at("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", 1), "287082");
}
