//! Base64 with the standard alphabet (RFC 4648 §4), from the `base64`
//! crate (already in the tree through rcgen's PEM support; issue 14 asks
//! us to use it rather than keep our own).
//!
//! SASL (RFC 4422, carried by IMAP AUTHENTICATE) needs the padded form; PHC
//! password-hash strings and modified UTF-7 need the unpadded form. Both
//! decoders are strict, which is what the crate's standard engines do by
//! default (canonical padding, no stray trailing bits, no white space):
//! every input has exactly one accepted spelling, so nothing a client sends
//! can smuggle data in ignored bits or characters. The tests below hold the
//! crate to that. Message bodies are not decoded here: transfer decoding
//! streams (`mime::decode`).

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use base64::Engine;

/// Padded encoding.
pub fn encode(input: &[u8]) -> String {
    STANDARD.encode(input)
}

/// Unpadded encoding.
pub fn encode_unpadded(input: &[u8]) -> String {
    STANDARD_NO_PAD.encode(input)
}

/// Strict padded decode: bad characters, length, padding, non-zero
/// trailing bits or white space give None.
pub fn decode(input: &[u8]) -> Option<Vec<u8>> {
    STANDARD.decode(input).ok()
}

/// Strict unpadded decode: no `=` at all, length % 4 != 1, trailing bits
/// zero.
pub fn decode_unpadded(input: &[u8]) -> Option<Vec<u8>> {
    STANDARD_NO_PAD.decode(input).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// RFC 4648 §4, Table 1.
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

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
                let mut bytes = if padded { encode(&input) } else { encode_unpadded(&input) }.into_bytes();
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
            bytes.resize(bytes.len() + padding, b'=');
            if let Some(decoded) = decode(&bytes) {
                prop_assert_eq!(encode(&decoded).into_bytes(), bytes.clone());
            }
            if let Some(decoded) = decode_unpadded(&bytes) {
                prop_assert_eq!(encode_unpadded(&decoded).into_bytes(), bytes.clone());
            }
        }
    }
}
