//! The stored form of a bcrypt hash: 42 bytes instead of its 60 characters of text, when the
//! text has the shape every bcrypt hash has, else the text itself. Exact either way: decoding
//! gives back the very string that was encoded.
//!
//! A bcrypt hash is `$2?$CC$` (`?` the variant: `a`, `b`, `x` or `y`; `CC` the cost, two
//! digits) then 53 characters of bcrypt's radix-64 alphabet (the salt, then the hash). Packed
//! form: the byte `1`, the variant letter, the cost (one byte), then the 53 characters' 6-bit
//! values packed most significant bit first into 40 bytes (318 bits, two zero bits of
//! padding). Every character is kept as it was, including the salt's and the hash's last
//! ones, whose low bits bcrypt does not use: no encoding is normalised. Any other text: the
//! byte `0`, then the text (UTF-8).

/// bcrypt's radix-64 alphabet, in value order.
const ALPHABET: &[u8; 64] = b"./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
/// The length of a bcrypt hash's text.
const TEXT_LEN: usize = 60;
/// The radix-64 characters after `$2?$CC$`.
const SYMBOLS: usize = 53;
/// The bytes the 53 characters pack into.
const PACKED: usize = 40;
/// The first byte of the text form.
const TEXT: u8 = 0;
/// The first byte of the packed form.
const PACKED_FORM: u8 = 1;

/// The 6-bit value of radix-64 character `c`.
fn value_of(c: u8) -> Option<u8> {
    ALPHABET
        .iter()
        .position(|&a| a == c)
        .and_then(|p| u8::try_from(p).ok())
}

/// Appends the stored form of `hash` to `out`.
pub(super) fn encode(hash: &str, out: &mut Vec<u8>) {
    match pack(hash.as_bytes()) {
        Some(packed) => out.extend_from_slice(&packed),
        None => {
            out.push(TEXT);
            out.extend_from_slice(hash.as_bytes());
        }
    }
}

/// The packed form of `text`, if it has a bcrypt hash's shape.
fn pack(text: &[u8]) -> Option<[u8; 3 + PACKED]> {
    let (head, symbols) = (text.get(..7)?, text.get(7..)?);
    if text.len() != TEXT_LEN || &head[..2] != b"$2" || head[3] != b'$' || head[6] != b'$' {
        return None;
    }
    let variant = head[2];
    if !matches!(variant, b'a' | b'b' | b'x' | b'y') {
        return None;
    }
    let (tens, ones) = (head[4], head[5]);
    if !tens.is_ascii_digit() || !ones.is_ascii_digit() {
        return None;
    }
    let mut out = [0; 3 + PACKED];
    out[0] = PACKED_FORM;
    out[1] = variant;
    out[2] = (tens - b'0') * 10 + (ones - b'0');
    for (i, &c) in symbols.iter().enumerate() {
        let v = value_of(c)?;
        for bit in 0..6 {
            if v & (0x20 >> bit) != 0 {
                let at = i * 6 + bit;
                out[3 + at / 8] |= 0x80 >> (at % 8);
            }
        }
    }
    Some(out)
}

/// The hash whose stored form is `data` (a damaged form decodes to some string, never a
/// panic).
pub(super) fn decode(data: &[u8]) -> String {
    match data.split_first() {
        Some((&PACKED_FORM, rest)) if rest.len() == 2 + PACKED => {
            let (variant, cost, bits) = (rest[0], rest[1], &rest[2..]);
            let mut text = String::with_capacity(TEXT_LEN);
            text.push_str("$2");
            text.push(char::from(variant));
            text.push('$');
            text.push_str(&format!("{:02}", cost % 100));
            text.push('$');
            for i in 0..SYMBOLS {
                let mut v: u8 = 0;
                for bit in 0..6 {
                    let at = i * 6 + bit;
                    if bits[at / 8] & (0x80 >> (at % 8)) != 0 {
                        v |= 0x20 >> bit;
                    }
                }
                text.push(char::from(ALPHABET[usize::from(v)]));
            }
            text
        }
        Some((_, rest)) => String::from_utf8_lossy(rest).into_owned(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(hash: &str) -> Vec<u8> {
        let mut out = Vec::new();
        encode(hash, &mut out);
        assert_eq!(decode(&out), hash);
        out
    }

    #[test]
    fn real_hashes_pack_into_43_bytes_and_come_back_exactly() {
        for cost in [4, 5] {
            let hash = bcrypt::hash("password", cost).expect("hash");
            assert_eq!(round_trip(&hash).len(), 43, "{hash}");
            assert!(bcrypt::verify("password", &decode(&round_trip(&hash))).expect("verify"));
        }
        let hashes = [
            "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy".to_owned(),
            format!("$2y$12${}", "u".repeat(SYMBOLS)),
            format!("$2x$31${}", "/".repeat(SYMBOLS)),
            format!("$2b$00${}", ".".repeat(SYMBOLS)),
            format!("$2b$99${}", "9".repeat(SYMBOLS)),
        ];
        for hash in hashes {
            assert_eq!(round_trip(&hash).len(), 43, "{hash}");
        }
        // The salt's last character carries bits bcrypt ignores: `.` and `/` both stay.
        let (a, b) = (
            "$2b$04$abcdefghijklmnopqrstu.abcdefghijklmnopqrstuvwxyz01234",
            "$2b$04$abcdefghijklmnopqrstu/abcdefghijklmnopqrstuvwxyz01234",
        );
        assert_ne!(round_trip(a), round_trip(b));
    }

    #[test]
    fn other_text_is_kept_as_text() {
        for text in [
            "",
            "$2b$04$short",
            "$2c$04$abcdefghijklmnopqrstuuabcdefghijklmnopqrstuvwxyz01234",
            "$2b$4x$abcdefghijklmnopqrstuuabcdefghijklmnopqrstuvwxyz01234",
            "$2b$04$abcdefghijklmnopqrstuuabcdefghijklmnopqrstuvwxyz0123!",
            "$2b$04$abcdefghijklmnopqrstuuabcdefghijklmnopqrstuvwxyz01234x",
            "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA",
            "ünïcødé",
        ] {
            assert_eq!(round_trip(text)[0], TEXT, "{text}");
        }
    }

    #[test]
    fn damaged_forms_decode_without_panicking() {
        let packed = round_trip("$2b$04$abcdefghijklmnopqrstuuabcdefghijklmnopqrstuvwxyz01234");
        for n in 0..=packed.len() {
            let _ = decode(&packed[..n]);
        }
        for fill in [0x00, 0x01, 0xff, 0x80] {
            let _ = decode(&[fill; 43]);
            let _ = decode(&[fill; 50]);
        }
    }
}
