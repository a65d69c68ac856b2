//! IMAP modified UTF-7 mailbox names (RFC 3501 §5.1.3).
//!
//! The decoder is strict: it accepts only the one spelling `encode` produces,
//! so two different wire names can never map to the same stored mailbox.

use super::base64;
use std::fmt;

/// Why a wire mailbox name is not valid modified UTF-7.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mutf7Error {
    /// A byte of 0x80 or above; modified UTF-7 is 7-bit.
    EightBit,
    /// A raw control character (0x00-0x1f, 0x7f) outside a shift.
    UnencodedControl,
    /// An '&' with no closing '-'.
    UnterminatedShift,
    /// A shift that is not valid modified base64: a character outside the
    /// alphabet, an impossible length, or non-zero bits after the last octet.
    BadBase64,
    /// A shift that decodes to half a UTF-16 unit or an unpaired surrogate.
    BadUtf16,
    /// A shift that encodes printable US-ASCII, which must stand for itself.
    EncodedPrintable,
    /// Two shifts back to back, where one shift must hold both.
    AdjacentShifts,
}

impl fmt::Display for Mutf7Error {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            Self::EightBit => "8-bit byte",
            Self::UnencodedControl => "unencoded control character",
            Self::UnterminatedShift => "'&' without closing '-'",
            Self::BadBase64 => "invalid modified base64",
            Self::BadUtf16 => "invalid UTF-16",
            Self::EncodedPrintable => "printable ASCII inside '&' shift",
            Self::AdjacentShifts => "adjacent '&' shifts",
        })
    }
}

impl std::error::Error for Mutf7Error {}

/// UTF-8 mailbox name -> modified UTF-7 as sent on the wire.
pub fn encode(name: &str) -> String {
    let mut output = String::with_capacity(name.len());
    // UTF-16 units of the run of non-printable characters not yet written.
    let mut pending: Vec<u16> = Vec::new();
    for character in name.chars() {
        if is_printable(character) {
            flush_shift(&mut pending, &mut output);
            // RFC 3501 §5.1.3: "&" is represented by the two-octet sequence "&-".
            if character == '&' {
                output.push_str("&-");
            } else {
                output.push(character);
            }
        } else {
            // RFC 3501 §5.1.3: everything else is UTF-16 in modified base64.
            let mut units = [0u16; 2];
            pending.extend_from_slice(character.encode_utf16(&mut units));
        }
    }
    flush_shift(&mut pending, &mut output);
    output
}

/// Wire bytes -> UTF-8 name. Strict: rejects 8-bit bytes, '&' shifts that are unterminated, bad modified-base64, bad UTF-16 (unpaired surrogates), encoded printable US-ASCII (0x20-0x7e must be represented as themselves), two adjacent encoded runs ("&AGE-&AGE-" style: must be one run), non-zero trailing bits, empty run "&-" is the literal '&'.
pub fn decode(input: &[u8]) -> Result<String, Mutf7Error> {
    let mut output = String::with_capacity(input.len());
    // Where the last non-empty shift ended, to catch a second one starting
    // right there.
    let mut last_shift_end = None;
    let mut position = 0;
    while position < input.len() {
        let byte = input[position];
        match byte {
            b'&' => {
                let body_start = position + 1;
                // RFC 3501 §5.1.3: there is no implicit shift back to
                // US-ASCII (unlike RFC 2152 UTF-7); only "-" ends a shift.
                let body_length =
                    input[body_start..].iter().position(|&candidate| candidate == b'-').ok_or_else(|| {
                        // Report 8-bit data ahead of the missing "-" so the
                        // error names the more basic problem.
                        if input[body_start..].iter().any(|other| !other.is_ascii()) {
                            Mutf7Error::EightBit
                        } else {
                            Mutf7Error::UnterminatedShift
                        }
                    })?;
                let body = &input[body_start..body_start + body_length];
                let next = body_start + body_length + 1;
                if body.is_empty() {
                    // RFC 3501 §5.1.3: "&-" is the literal "&".
                    output.push('&');
                } else {
                    // RFC 3501 §5.1.3: null shifts ("-&" while in base64)
                    // are not permitted, so "&Jjo-&Jjo-" must be "&JjomOg-".
                    if last_shift_end == Some(position) {
                        return Err(Mutf7Error::AdjacentShifts);
                    }
                    decode_shift(body, &mut output)?;
                    last_shift_end = Some(next);
                }
                position = next;
            }
            0x20..=0x7e => {
                output.push(char::from(byte));
                position += 1;
            }
            // RFC 3501 §5.1.3: octets 0x00-0x1f and 0x7f are represented in
            // modified base64, never as themselves.
            0x00..=0x1f | 0x7f => return Err(Mutf7Error::UnencodedControl),
            _ => return Err(Mutf7Error::EightBit),
        }
    }
    Ok(output)
}

/// RFC 3501 §5.1.3: printable US-ASCII, 0x20-0x7e, represents itself (with
/// "&" escaped); every other character goes inside a shift.
fn is_printable(character: char) -> bool {
    matches!(character, ' '..='~')
}

/// Writes `pending` as one "&...-" shift and empties it; nothing if empty.
fn flush_shift(pending: &mut Vec<u16>, output: &mut String) {
    if pending.is_empty() {
        return;
    }
    // RFC 3501 §5.1.3: UTF-16 (big-endian, as RFC 2152 UTF-7 uses) in
    // modified base64, i.e. RFC 2152 base64 with "," for "/" and no padding.
    let bytes: Vec<u8> = pending.iter().flat_map(|unit| unit.to_be_bytes()).collect();
    output.push('&');
    output.push_str(&base64::encode_unpadded(&bytes).replace('/', ","));
    output.push('-');
    pending.clear();
}

/// Decodes the text between "&" and "-" of a non-empty shift into `output`.
fn decode_shift(body: &[u8], output: &mut String) -> Result<(), Mutf7Error> {
    let mut standard = Vec::with_capacity(body.len());
    for &byte in body {
        match byte {
            // RFC 3501 §5.1.3: "," replaces "/"; a real "/" is not in the
            // modified alphabet.
            b',' => standard.push(b'/'),
            b'/' => return Err(Mutf7Error::BadBase64),
            _ if !byte.is_ascii() => return Err(Mutf7Error::EightBit),
            _ => standard.push(byte),
        }
    }
    // The strict decoder also rejects "=" (modified base64 has no padding)
    // and non-zero trailing bits, which would give a second spelling.
    let bytes = base64::decode_unpadded(&standard).ok_or(Mutf7Error::BadBase64)?;
    if bytes.len() % 2 != 0 {
        return Err(Mutf7Error::BadUtf16);
    }
    let units = bytes.chunks_exact(2).map(|pair| u16::from_be_bytes([pair[0], pair[1]]));
    for decoded in char::decode_utf16(units) {
        let character = decoded.map_err(|_| Mutf7Error::BadUtf16)?;
        if is_printable(character) {
            return Err(Mutf7Error::EncodedPrintable);
        }
        output.push(character);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn round_trip(name: &str, wire: &str) {
        assert_eq!(encode(name), wire, "encode {name:?}");
        assert_eq!(decode(wire.as_bytes()).as_deref(), Ok(name), "decode {wire:?}");
    }

    #[test]
    fn rfc_3501_example() {
        round_trip("~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-");
    }

    #[test]
    fn ampersand() {
        round_trip("&", "&-");
        round_trip("a&b&&c", "a&-b&-&-c");
        round_trip("Tom & Jerry", "Tom &- Jerry");
    }

    #[test]
    fn plain_ascii_is_unchanged() {
        round_trip("", "");
        round_trip("INBOX", "INBOX");
        round_trip(" !\"#$%'()*+,-./09:;<=>?@AZ[\\]^_`az{|}~", " !\"#$%'()*+,-./09:;<=>?@AZ[\\]^_`az{|}~");
    }

    #[test]
    fn non_ascii() {
        round_trip("Entwürfe", "Entw&APw-rfe");
        round_trip("Gelöschte Elemente", "Gel&APY-schte Elemente");
        round_trip("☺", "&Jjo-");
        round_trip("☺☺", "&JjomOg-");
        // The shift ends before printable text and before an escaped "&".
        round_trip("é&", "&AOk-&-");
        round_trip("&é", "&-&AOk-");
        // A run whose base64 contains "/" must use ",".
        round_trip("台", "&U,A-");
    }

    #[test]
    fn emoji_surrogate_pairs() {
        // U+1F600 is D83D DE00 in UTF-16.
        round_trip("😀", "&2D3eAA-");
        round_trip("Fotos 📷 2024", "Fotos &2D3c9w- 2024");
        round_trip("😀😀", "&2D3eANg93gA-");
        round_trip("a😀é", "a&2D3eAADp-");
    }

    #[test]
    fn control_characters_are_shifted() {
        round_trip("\u{0}", "&AAA-");
        round_trip("a\tb", "a&AAk-b");
        round_trip("\u{7f}", "&AH8-");
        round_trip("\u{80}", "&AIA-");
    }

    #[test]
    fn rejects_eight_bit() {
        assert_eq!(decode("ü".as_bytes()), Err(Mutf7Error::EightBit));
        assert_eq!(decode(b"abc\xff"), Err(Mutf7Error::EightBit));
        assert_eq!(decode(b"&AP\xfc-"), Err(Mutf7Error::EightBit));
        assert_eq!(decode(b"&\xfc"), Err(Mutf7Error::EightBit));
    }

    #[test]
    fn rejects_unencoded_control() {
        assert_eq!(decode(b"a\tb"), Err(Mutf7Error::UnencodedControl));
        assert_eq!(decode(b"\x00"), Err(Mutf7Error::UnencodedControl));
        assert_eq!(decode(b"\x7f"), Err(Mutf7Error::UnencodedControl));
    }

    #[test]
    fn rejects_unterminated_shift() {
        for input in ["&", "a&", "&Jjo", "&U,BTFw/abc", "&AGE"] {
            assert_eq!(decode(input.as_bytes()), Err(Mutf7Error::UnterminatedShift), "{input:?}");
        }
    }

    #[test]
    fn rejects_bad_base64() {
        for input in [
            // "/" instead of ",".
            "&U/BTFw-", // Padding.
            "&Jjo=-", "&AOk=-", // Characters outside the alphabet.
            "&Jj o-", "&Jj.o-", "&&-", // Length % 4 == 1.
            "&A-", "&JjomO-", // Non-zero trailing bits: "&Jjo-" is canonical, "&Jjp-" is not.
            "&Jjp-", "&AOl-",
        ] {
            assert_eq!(decode(input.as_bytes()), Err(Mutf7Error::BadBase64), "{input:?}");
        }
    }

    #[test]
    fn rejects_bad_utf16() {
        for input in [
            // One byte: half a UTF-16 unit.
            "&AA-",     // Three bytes.
            "&AOkA-",   // Lone high surrogate D83D.
            "&2D0-",    // Lone low surrogate DE00.
            "&3gA-",    // Low then high.
            "&3gDYPQ-", // High surrogate followed by a non-surrogate.
            "&2D0A6Q-",
        ] {
            assert_eq!(decode(input.as_bytes()), Err(Mutf7Error::BadUtf16), "{input:?}");
        }
    }

    #[test]
    fn rejects_encoded_printable() {
        for input in [
            // "a"
            "&AGE-", // "&" must be "&-".
            "&ACY-", // " " and "~", the ends of the printable range.
            "&ACA-", "&AH4-", // "é" then "a" in one shift.
            "&AOkAYQ-",
        ] {
            assert_eq!(decode(input.as_bytes()), Err(Mutf7Error::EncodedPrintable), "{input:?}");
        }
    }

    #[test]
    fn rejects_adjacent_shifts() {
        assert_eq!(decode(b"&Jjo-&Jjo-"), Err(Mutf7Error::AdjacentShifts));
        assert_eq!(decode(b"a&AOk-&AOk-b"), Err(Mutf7Error::AdjacentShifts));
        // A surrogate pair split over two shifts fails on the first half.
        assert_eq!(decode(b"&2D0-&3gA-"), Err(Mutf7Error::BadUtf16));
        // An escaped "&" between shifts is fine: it is printable text.
        assert_eq!(decode(b"&AOk-&-&AOk-").as_deref(), Ok("é&é"));
        assert_eq!(decode(b"&AOk-a&AOk-").as_deref(), Ok("éaé"));
    }

    #[test]
    fn display_is_short_text() {
        assert_eq!(Mutf7Error::AdjacentShifts.to_string(), "adjacent '&' shifts");
        assert_eq!(Mutf7Error::BadUtf16.to_string(), "invalid UTF-16");
    }

    /// Wire text built from pieces that often form real mUTF-7 (printable
    /// bytes, "&-", "&...-" shifts) and some that break it, so the
    /// canonical-form property sees many successful decodes, shifts included.
    fn wire_bytes() -> impl Strategy<Value = Vec<u8>> {
        let shift_body = prop::collection::vec(
            prop::sample::select(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,/=&".to_vec()),
            0..9,
        );
        let piece = prop_oneof![
            prop::sample::select(b" a-~&\t\x7f\xc3".to_vec()).prop_map(|byte| vec![byte]),
            Just(b"&-".to_vec()),
            // Valid shifts, and shifts hiding printable ASCII ("a", "&").
            prop::sample::select(vec![&b"&AOk-"[..], b"&2D3eAA-", b"&JjomOg-", b"&AGE-", b"&ACY-", b"&AOkAYQ-",])
                .prop_map(<[u8]>::to_vec),
            shift_body.prop_map(|body| [&b"&"[..], &body, b"-"].concat()),
        ];
        prop::collection::vec(piece, 0..8).prop_map(|pieces| pieces.concat())
    }

    proptest! {
        #[test]
        fn encode_then_decode_is_identity(name in any::<String>()) {
            let wire = encode(&name);
            prop_assert_eq!(decode(wire.as_bytes()), Ok(name));
        }

        #[test]
        fn encode_output_is_printable_ascii(name in any::<String>()) {
            prop_assert!(encode(&name).bytes().all(|byte| (0x20..=0x7e).contains(&byte)));
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
            if let Ok(name) = decode(&bytes) {
                prop_assert_eq!(encode(&name).into_bytes(), bytes.clone());
            }
        }

        #[test]
        fn decode_is_canonical(bytes in wire_bytes()) {
            if let Ok(name) = decode(&bytes) {
                prop_assert_eq!(encode(&name).into_bytes(), bytes.clone());
            }
        }

        /// One edit to valid wire text lands right beside the valid forms,
        /// where a lax decoder would accept a second spelling.
        #[test]
        fn edited_wire_is_canonical_or_rejected(
            characters in prop::collection::vec(
                prop::sample::select(vec!['a', '&', ' ', '\0', 'é', '台', '😀']),
                1..8,
            ),
            index in any::<prop::sample::Index>(),
            replacement in prop::sample::select(b"&-,/=AQgw".to_vec()),
            edit in 0..3u8,
        ) {
            let name: String = characters.into_iter().collect();
            let mut bytes = encode(&name).into_bytes();
            let at = index.index(bytes.len());
            match edit {
                0 => bytes[at] = replacement,
                1 => bytes.insert(at, replacement),
                _ => {
                    bytes.remove(at);
                }
            }
            if let Ok(decoded) = decode(&bytes) {
                prop_assert_eq!(encode(&decoded).into_bytes(), bytes.clone());
            }
        }

        /// Names mixing printable, "&", controls and astral characters, which
        /// `any::<String>()` rarely combines.
        #[test]
        fn mixed_names_round_trip(
            characters in prop::collection::vec(
                prop::sample::select(vec!['a', '&', '-', ' ', '\0', '\u{7f}', 'é', '台', '😀', '\u{ffff}']),
                0..16,
            )
        ) {
            let name: String = characters.into_iter().collect();
            let wire = encode(&name);
            prop_assert_eq!(decode(wire.as_bytes()), Ok(name));
        }
    }
}
