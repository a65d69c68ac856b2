//! Base64 with the standard alphabet (RFC 4648 §4).
//!
//! SASL (RFC 4422, carried by IMAP AUTHENTICATE) needs the padded form; PHC
//! password-hash strings need the unpadded form. Both decoders are strict:
//! every input has exactly one accepted spelling, so nothing a client sends can
//! smuggle data in ignored bits or characters.

/// RFC 4648 §4, Table 1: the value of each character is its index here.
const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

const PAD: u8 = b'=';

/// Padded standard base64 (SASL, RFC 4648 §4; MIME bodies, RFC 2045 §6.8,
/// a line at a time).
pub fn encode(input: &[u8]) -> String {
    encode_with(input, true)
}

/// Unpadded standard base64 (PHC password-hash strings).
pub fn encode_unpadded(input: &[u8]) -> String {
    encode_with(input, false)
}

/// Strict padded decode: rejects bad characters, bad length, bad padding, non-zero trailing bits, whitespace. None on any error.
pub fn decode(input: &[u8]) -> Option<Vec<u8>> {
    // RFC 4648 §4: padded output is always a whole number of 4-character quanta.
    if input.len() % 4 != 0 {
        return None;
    }
    // RFC 4648 §4: at most two '=' and only at the very end. Anything else left
    // over contains a '=' that `decode_unpadded` rejects as a bad character.
    let body = input.strip_suffix(b"==").or_else(|| input.strip_suffix(b"=")).unwrap_or(input);
    // Because the total is a multiple of 4, the body length is now 4n, 4n+3 or
    // 4n+2 for zero, one or two '=', which is exactly what §4 prescribes.
    decode_unpadded(body)
}

/// Strict unpadded decode (length % 4 != 1, no '=' at all, trailing bits zero).
pub fn decode_unpadded(input: &[u8]) -> Option<Vec<u8>> {
    // One leftover character carries only 6 bits, less than one octet, so no
    // encoder can produce it.
    if input.len() % 4 == 1 {
        return None;
    }
    let mut output = Vec::with_capacity(input.len() / 4 * 3 + 2);
    for chunk in input.chunks(4) {
        let mut values = [0u8; 4];
        for (value, &character) in values.iter_mut().zip(chunk) {
            *value = sextet(character)?;
        }
        let [first, second, third, fourth] = values;
        output.push(first << 2 | second >> 4);
        match chunk.len() {
            4 => {
                output.push(second << 4 | third >> 2);
                output.push(third << 6 | fourth);
            }
            3 => {
                // RFC 4648 §3.5: the bits below the last octet must be zero,
                // otherwise two spellings would decode to the same bytes.
                if third & 0b11 != 0 {
                    return None;
                }
                output.push(second << 4 | third >> 2);
            }
            _ => {
                // Two characters: 12 bits, one octet; RFC 4648 §3.5 as above.
                if second & 0b1111 != 0 {
                    return None;
                }
            }
        }
    }
    Some(output)
}

fn encode_with(input: &[u8], pad: bool) -> String {
    let mut output = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let first = chunk[0];
        let second = chunk.get(1).copied().unwrap_or(0);
        let third = chunk.get(2).copied().unwrap_or(0);
        let indices =
            [first >> 2, (first & 0b11) << 4 | second >> 4, (second & 0b1111) << 2 | third >> 6, third & 0b11_1111];
        // n input octets yield n + 1 significant characters (RFC 4648 §4).
        let significant = chunk.len() + 1;
        for &index in &indices[..significant] {
            output.push(char::from(ALPHABET[usize::from(index)]));
        }
        if pad {
            for _ in significant..4 {
                output.push(char::from(PAD));
            }
        }
    }
    output
}

/// The 6-bit value of one alphabet character; `None` for anything else,
/// including '=' and whitespace (RFC 4648 §3.3 lets us reject them).
fn sextet(character: u8) -> Option<u8> {
    match character {
        b'A'..=b'Z' => Some(character - b'A'),
        b'a'..=b'z' => Some(character - b'a' + 26),
        b'0'..=b'9' => Some(character - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// RFC 4648 §10.
    const VECTORS: [(&str, &str); 7] = [
        ("", ""),
        ("f", "Zg=="),
        ("fo", "Zm8="),
        ("foo", "Zm9v"),
        ("foob", "Zm9vYg=="),
        ("fooba", "Zm9vYmE="),
        ("foobar", "Zm9vYmFy"),
    ];

    #[test]
    fn rfc_4648_vectors_padded() {
        for (plain, encoded) in VECTORS {
            assert_eq!(encode(plain.as_bytes()), encoded);
            assert_eq!(decode(encoded.as_bytes()).as_deref(), Some(plain.as_bytes()));
        }
    }

    #[test]
    fn rfc_4648_vectors_unpadded() {
        for (plain, encoded) in VECTORS {
            let unpadded = encoded.trim_end_matches('=');
            assert_eq!(encode_unpadded(plain.as_bytes()), unpadded);
            assert_eq!(decode_unpadded(unpadded.as_bytes()).as_deref(), Some(plain.as_bytes()));
        }
    }

    #[test]
    fn whole_alphabet() {
        let bytes: Vec<u8> = (0..=255).collect();
        let encoded = encode(&bytes);
        assert!(encoded.starts_with("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g"));
        assert!(encoded.ends_with("/P3+/w=="));
        assert_eq!(decode(encoded.as_bytes()), Some(bytes));
        assert_eq!(decode(b"+/+/").as_deref(), Some(&[0xfb, 0xff, 0xbf][..]));
    }

    #[test]
    fn padded_rejects_bad_length() {
        for input in ["Z", "Zg", "Zg=", "Zm9", "Zm9vY", "Zg===="] {
            assert_eq!(decode(input.as_bytes()), None, "{input}");
        }
    }

    #[test]
    fn padded_rejects_bad_padding() {
        for input in ["====", "Z===", "=Zg=", "Z=g=", "Zg=A", "Zg==Zg==", "Zm8=Zm8=", "Zm9v====", "Zm=="] {
            assert_eq!(decode(input.as_bytes()), None, "{input}");
        }
    }

    #[test]
    fn padded_rejects_bad_characters_and_whitespace() {
        for input in ["Zm9v\r\n", "Zm 9v", " Zm9v", "Zm9v\n", "Zm9\t", "Zm-_", "Zm9.", "Zm9\0"] {
            assert_eq!(decode(input.as_bytes()), None, "{input:?}");
        }
        assert_eq!(decode(b"Zm9\xc3"), None);
    }

    #[test]
    fn padded_rejects_non_zero_trailing_bits() {
        // "Zg==" is canonical for "f"; "Zh==" carries a stray bit.
        assert_eq!(decode(b"Zh=="), None);
        assert_eq!(decode(b"Zm9="), None);
        assert_eq!(decode(b"Zm8="), Some(b"fo".to_vec()));
    }

    #[test]
    fn unpadded_rejects_errors() {
        for input in ["Z", "Zm9vY", "Zg==", "Zm8=", "Zh", "Zm9", "Zm 9v", "Zm9v\n", "Zm-_", "="] {
            assert_eq!(decode_unpadded(input.as_bytes()), None, "{input:?}");
        }
    }

    proptest! {
        #[test]
        fn padded_round_trip(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
            let encoded = encode(&bytes);
            prop_assert_eq!(encoded.len() % 4, 0);
            prop_assert_eq!(decode(encoded.as_bytes()), Some(bytes));
        }

        #[test]
        fn unpadded_round_trip(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
            let encoded = encode_unpadded(&bytes);
            prop_assert!(!encoded.contains('='));
            prop_assert_eq!(decode_unpadded(encoded.as_bytes()), Some(bytes));
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
            if let Some(decoded) = decode(&bytes) {
                prop_assert_eq!(encode(&decoded).into_bytes(), bytes.clone());
            }
            if let Some(decoded) = decode_unpadded(&bytes) {
                prop_assert_eq!(encode_unpadded(&decoded).into_bytes(), bytes.clone());
            }
        }

        /// One edit to valid text lands right beside the valid forms, where
        /// a lax decoder would accept a second spelling.
        #[test]
        fn edited_encoding_is_canonical_or_rejected(
            input in prop::collection::vec(any::<u8>(), 1..16),
            index in any::<prop::sample::Index>(),
            replacement in prop::sample::select(b"=AQgw+/".to_vec()),
            edit in 0..3u8,
        ) {
            for padded in [true, false] {
                let mut bytes = encode_with(&input, padded).into_bytes();
                let at = index.index(bytes.len());
                match edit {
                    0 => bytes[at] = replacement,
                    1 => bytes.insert(at, replacement),
                    _ => {
                        bytes.remove(at);
                    }
                }
                if let Some(decoded) = decode(&bytes) {
                    prop_assert_eq!(encode(&decoded).into_bytes(), bytes.clone());
                }
                if let Some(decoded) = decode_unpadded(&bytes) {
                    prop_assert_eq!(encode_unpadded(&decoded).into_bytes(), bytes.clone());
                }
            }
        }

        /// Alphabet text with zero to three '=' appended decodes often, so
        /// this exercises the canonical-form guarantee far more than random
        /// bytes do.
        #[test]
        fn decode_is_canonical(
            body in prop::collection::vec(prop::sample::select(ALPHABET.to_vec()), 0..24),
            padding in 0..4usize,
        ) {
            let mut bytes = body;
            bytes.resize(bytes.len() + padding, PAD);
            if let Some(decoded) = decode(&bytes) {
                prop_assert_eq!(encode(&decoded).into_bytes(), bytes.clone());
            }
            if let Some(decoded) = decode_unpadded(&bytes) {
                prop_assert_eq!(encode_unpadded(&decoded).into_bytes(), bytes.clone());
            }
        }
    }
}
