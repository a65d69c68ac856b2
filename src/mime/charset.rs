//! Charsets to UTF-8, streaming: for SEARCH over bodies and header words
//! in their declared charset, and for SEARCH CHARSET (RFC 3501 §6.4.4:
//! an unknown one is answered `NO [BADCHARSET]`).
//!
//! The tables come from `encoding_rs` (the WHATWG Encoding Standard, as
//! Firefox uses it): every ISO-8859 and Windows code page mail uses, KOI8,
//! and the CJK multi-byte ones, with a streaming decoder that keeps at
//! most a few bytes of state between chunks. Two things are ours:
//!
//! - UTF-8 and US-ASCII are read leniently ([`CharsetDecoder::lenient_utf8`]):
//!   UTF-8 where it is valid, each other byte as Windows-1252. Mail
//!   declared as either is often neither, and a Latin-1 word in it should
//!   still be found, not turned into U+FFFD.
//! - MIME labels the web does not use (`cp932`, `latin9`, `iso8859_1`,
//!   `unknown-8bit`...) are added, and "utf-16" without a byte order mark
//!   is big-endian (RFC 2781 §4.3), where the web says little-endian.
//!
//! WHATWG reads ISO-8859-1 as Windows-1252, ISO-8859-9 as Windows-1254
//! and ISO-8859-11 as Windows-874: supersets, which is what senders who
//! declare them mean. Labels WHATWG decodes to a single U+FFFD
//! (ISO-2022-KR, ISO-2022-CN, HZ) are unknown here.

use encoding_rs::{CoderResult, Encoding};

/// Longest label looked up; no real charset name comes close.
const MAX_LABEL: usize = 40;

/// Input handed to `encoding_rs` at once, which bounds the output space
/// reserved ahead of each call (three bytes of UTF-8 per input byte).
const SLICE: usize = 16 * 1024;

/// What a label names.
#[derive(Clone, Copy)]
enum Charset {
    LenientUtf8,
    /// A WHATWG encoding; `sniff` lets a byte order mark pick UTF-16LE,
    /// UTF-16BE or UTF-8 instead (for "utf-16", which has no fixed order).
    Whatwg {
        encoding: &'static Encoding,
        sniff: bool,
    },
}

/// Labels read as lenient UTF-8: UTF-8 itself, US-ASCII's names, and the
/// names mailers write when they do not know (RFC 1428 unknown-8bit).
const LENIENT_LABELS: [&str; 16] = [
    "utf-8",
    "utf8",
    "unicode-1-1-utf-8",
    "x-unicode20utf8",
    "us-ascii",
    "ascii",
    "ansi_x3.4-1968",
    "iso646-us",
    "iso-ir-6",
    "us",
    "cp367",
    "ibm367",
    "csascii",
    "646",
    "unknown-8bit",
    "x-unknown",
];

/// MIME labels (Microsoft code page numbers, spellings from other
/// libraries) that the WHATWG list lacks, with the WHATWG label they mean.
const EXTRA_LABELS: [(&str, &str); 14] = [
    ("cp874", "windows-874"),
    ("cp932", "shift_jis"),
    ("cp936", "gbk"),
    ("ms936", "gbk"),
    ("euc-cn", "gbk"),
    ("cp949", "euc-kr"),
    ("ms949", "euc-kr"),
    ("uhc", "euc-kr"),
    ("cp950", "big5"),
    ("ms950", "big5"),
    ("latin9", "iso-8859-15"),
    ("latin-9", "iso-8859-15"),
    ("latin-1", "iso-8859-1"),
    ("x-mac-roman", "macintosh"),
];

/// Labels for UTF-16 of either byte order (a BOM decides; big-endian
/// without one).
const UTF16_LABELS: [&str; 3] = ["utf-16", "utf16", "unicode"];

/// `label` as MIME and IMAP carry it: surrounding blanks and one pair of
/// quotes removed, lower case. None if empty or too long.
fn normalise(label: &[u8]) -> Option<([u8; MAX_LABEL], usize)> {
    let trim = |bytes: &[u8]| -> (usize, usize) {
        let start = bytes.iter().position(|byte| !byte.is_ascii_whitespace()).unwrap_or(bytes.len());
        let end = bytes.iter().rposition(|byte| !byte.is_ascii_whitespace()).map_or(start, |last| last + 1);
        (start, end)
    };
    let (start, end) = trim(label);
    let mut label = &label[start..end];
    if let [b'"', inner @ .., b'"'] = label {
        let (start, end) = trim(inner);
        label = &inner[start..end];
    }
    if label.is_empty() || label.len() > MAX_LABEL {
        return None;
    }
    let mut lower = [0u8; MAX_LABEL];
    for (into, byte) in lower.iter_mut().zip(label) {
        *into = byte.to_ascii_lowercase();
    }
    Some((lower, label.len()))
}

/// A WHATWG encoding we decode with (not the replacement or
/// x-user-defined oddities).
fn whatwg(label: &[u8]) -> Option<&'static Encoding> {
    let encoding = Encoding::for_label_no_replacement(label)?;
    (encoding != encoding_rs::X_USER_DEFINED).then_some(encoding)
}

fn lookup(label: &[u8]) -> Option<Charset> {
    let (buffer, length) = normalise(label)?;
    let label = &buffer[..length];
    let is = |name: &&str| name.as_bytes() == label;
    if LENIENT_LABELS.iter().any(is) {
        return Some(Charset::LenientUtf8);
    }
    if UTF16_LABELS.iter().any(is) {
        return Some(Charset::Whatwg { encoding: encoding_rs::UTF_16BE, sniff: true });
    }
    let encoding = whatwg(label)
        .or_else(|| {
            // "iso8859_1", "windows_1252": underscores for dashes.
            let mut dashed = buffer;
            dashed[..length].iter_mut().filter(|byte| **byte == b'_').for_each(|byte| *byte = b'-');
            whatwg(&dashed[..length])
        })
        .or_else(|| EXTRA_LABELS.iter().find(|(name, _)| is(name)).and_then(|(_, target)| whatwg(target.as_bytes())))?;
    if encoding == encoding_rs::UTF_8 {
        return Some(Charset::LenientUtf8);
    }
    Some(Charset::Whatwg { encoding, sniff: false })
}

/// Whether `label` names a charset we decode (SEARCH CHARSET, and
/// RFC 2047 words, which stay encoded when it does not).
pub fn is_known(label: &[u8]) -> bool {
    lookup(label).is_some()
}

/// A streaming decoder from one charset to UTF-8. Output does not depend
/// on how the input is cut into chunks; malformed input becomes U+FFFD
/// (or, for lenient UTF-8, Windows-1252 characters), never an error.
pub struct CharsetDecoder {
    inner: Inner,
}

enum Inner {
    Lenient(LenientUtf8),
    Whatwg { encoding: &'static Encoding, sniff: bool, decoder: encoding_rs::Decoder },
}

fn new_whatwg_decoder(encoding: &'static Encoding, sniff: bool) -> encoding_rs::Decoder {
    if sniff {
        encoding.new_decoder()
    } else {
        encoding.new_decoder_with_bom_removal()
    }
}

impl CharsetDecoder {
    /// A decoder for the charset `label` names (case-insensitive, MIME
    /// and WHATWG aliases, quotes and blanks around it tolerated), or
    /// None if we do not know it.
    pub fn for_label(label: &[u8]) -> Option<CharsetDecoder> {
        let inner = match lookup(label)? {
            Charset::LenientUtf8 => Inner::Lenient(LenientUtf8::default()),
            Charset::Whatwg { encoding, sniff } => {
                Inner::Whatwg { encoding, sniff, decoder: new_whatwg_decoder(encoding, sniff) }
            }
        };
        Some(CharsetDecoder { inner })
    }

    /// UTF-8 where the input is valid UTF-8, and each byte that is not
    /// part of a valid sequence as the Windows-1252 character it would
    /// be. For UTF-8 and US-ASCII labels, for text with no charset (8-bit
    /// header bytes), and as a caller's fallback for unknown charsets.
    pub fn lenient_utf8() -> CharsetDecoder {
        CharsetDecoder { inner: Inner::Lenient(LenientUtf8::default()) }
    }

    /// The charset's canonical name (WHATWG's, or "UTF-8").
    #[cfg(test)]
    pub fn name(&self) -> &'static str {
        match &self.inner {
            Inner::Lenient(_) => "UTF-8",
            Inner::Whatwg { encoding, .. } => encoding.name(),
        }
    }

    /// Decodes the next chunk, appending to `out`.
    pub fn feed(&mut self, bytes: &[u8], out: &mut String) {
        match &mut self.inner {
            Inner::Lenient(lenient) => lenient.feed(bytes, out),
            Inner::Whatwg { decoder, .. } => {
                for slice in bytes.chunks(SLICE) {
                    decode_whatwg(decoder, slice, out, false);
                }
            }
        }
    }

    /// Ends the input: a sequence cut short by the end is output (as
    /// U+FFFD, or Windows-1252 for lenient UTF-8). The decoder is then
    /// ready for a new input.
    pub fn finish(&mut self, out: &mut String) {
        match &mut self.inner {
            Inner::Lenient(lenient) => lenient.finish(out),
            Inner::Whatwg { encoding, sniff, decoder } => {
                decode_whatwg(decoder, &[], out, true);
                *decoder = new_whatwg_decoder(encoding, *sniff);
            }
        }
    }
}

fn decode_whatwg(decoder: &mut encoding_rs::Decoder, mut bytes: &[u8], out: &mut String, last: bool) {
    let mut extra = 0;
    loop {
        // Never None for a slice of at most SLICE bytes.
        let needed = decoder.max_utf8_buffer_length(bytes.len()).unwrap_or(3 * SLICE + 16);
        out.reserve(needed + extra);
        let (result, read, _replaced) = decoder.decode_to_string(bytes, out, last);
        bytes = &bytes[read..];
        match result {
            CoderResult::InputEmpty => return,
            // Should not happen with the space reserved; ask for more.
            CoderResult::OutputFull => extra += 64,
        }
    }
}

/// Windows-1252's characters for 0x80–0x9F (WHATWG: the five unassigned
/// bytes map to the C1 controls of the same value). 0xA0–0xFF are
/// Latin-1, the same code points as the bytes.
const WINDOWS_1252_HIGH: [char; 32] = [
    '\u{20AC}', '\u{0081}', '\u{201A}', '\u{0192}', '\u{201E}', '\u{2026}', '\u{2020}', '\u{2021}', '\u{02C6}',
    '\u{2030}', '\u{0160}', '\u{2039}', '\u{0152}', '\u{008D}', '\u{017D}', '\u{008F}', '\u{0090}', '\u{2018}',
    '\u{2019}', '\u{201C}', '\u{201D}', '\u{2022}', '\u{2013}', '\u{2014}', '\u{02DC}', '\u{2122}', '\u{0161}',
    '\u{203A}', '\u{0153}', '\u{009D}', '\u{017E}', '\u{0178}',
];

/// The Windows-1252 character of `byte`.
fn windows_1252(byte: u8) -> char {
    match byte {
        0x80..=0x9f => WINDOWS_1252_HIGH[usize::from(byte - 0x80)],
        _ => char::from(byte),
    }
}

/// UTF-8 with every byte outside a valid sequence read as Windows-1252.
/// Holds at most the three bytes of a sequence not yet complete.
#[derive(Default)]
struct LenientUtf8 {
    pending: [u8; 4],
    /// Bytes in `pending`; 0 when between characters.
    length: usize,
    /// Length of the sequence `pending` starts.
    needed: usize,
}

impl LenientUtf8 {
    fn feed(&mut self, mut bytes: &[u8], out: &mut String) {
        out.reserve(bytes.len());
        while let Some((&byte, rest)) = bytes.split_first() {
            if self.length == 0 {
                // Fast path: std validates the run of good UTF-8 at once.
                let valid = match std::str::from_utf8(bytes) {
                    Ok(text) => {
                        out.push_str(text);
                        return;
                    }
                    Err(error) => error.valid_up_to(),
                };
                if valid > 0 {
                    out.push_str(std::str::from_utf8(&bytes[..valid]).unwrap_or_default());
                    bytes = &bytes[valid..];
                    continue;
                }
            }
            self.step(byte, out);
            bytes = rest;
        }
    }

    /// Unicode's well-formed UTF-8 (Table 3-7), one byte at a time.
    fn step(&mut self, byte: u8, out: &mut String) {
        if self.length == 0 {
            self.needed = match byte {
                0x00..=0x7f => {
                    out.push(char::from(byte));
                    return;
                }
                0xc2..=0xdf => 2,
                0xe0..=0xef => 3,
                0xf0..=0xf4 => 4,
                _ => {
                    out.push(windows_1252(byte));
                    return;
                }
            };
            self.pending[0] = byte;
            self.length = 1;
            return;
        }
        let range = match (self.length, self.pending[0]) {
            (1, 0xe0) => 0xa0..=0xbf,
            (1, 0xed) => 0x80..=0x9f,
            (1, 0xf0) => 0x90..=0xbf,
            (1, 0xf4) => 0x80..=0x8f,
            _ => 0x80..=0xbf,
        };
        if !range.contains(&byte) {
            // Not a sequence after all: its bytes stand for themselves.
            self.release(out);
            self.step(byte, out);
            return;
        }
        self.pending[self.length] = byte;
        self.length += 1;
        if self.length == self.needed {
            out.push_str(std::str::from_utf8(&self.pending[..self.length]).unwrap_or_default());
            self.length = 0;
        }
    }

    /// The pending bytes, each as Windows-1252.
    fn release(&mut self, out: &mut String) {
        for &byte in &self.pending[..self.length] {
            out.push(windows_1252(byte));
        }
        self.length = 0;
    }

    fn finish(&mut self, out: &mut String) {
        self.release(out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn decode(label: &str, bytes: &[u8]) -> String {
        let mut decoder = CharsetDecoder::for_label(label.as_bytes()).unwrap_or_else(|| panic!("{label} unknown"));
        let mut out = String::new();
        decoder.feed(bytes, &mut out);
        decoder.finish(&mut out);
        out
    }

    fn decode_in_chunks(decoder: &mut CharsetDecoder, bytes: &[u8], cuts: &[usize]) -> String {
        let mut boundaries: Vec<usize> = cuts.iter().map(|cut| cut % (bytes.len() + 1)).collect();
        boundaries.sort_unstable();
        let mut out = String::new();
        let mut start = 0;
        for cut in boundaries.into_iter().chain([bytes.len()]) {
            decoder.feed(&bytes[start..cut], &mut out);
            start = cut;
        }
        decoder.finish(&mut out);
        out
    }

    #[test]
    fn labels() {
        for label in [
            "UTF-8",
            "utf8",
            " \"Utf-8\" ",
            "US-ASCII",
            "iso-8859-1",
            "ISO_8859-1",
            "iso8859_1",
            "latin1",
            "latin9",
            "cp1252",
            "windows-1250",
            "windows-1258",
            "iso-8859-2",
            "iso-8859-16",
            "koi8-r",
            "koi8-u",
            "gb2312",
            "gbk",
            "gb18030",
            "big5",
            "shift_jis",
            "cp932",
            "euc-jp",
            "iso-2022-jp",
            "euc-kr",
            "ks_c_5601-1987",
            "utf-16",
            "utf-16le",
            "unknown-8bit",
        ] {
            assert!(is_known(label.as_bytes()), "{label}");
        }
        for label in ["", "x-klingon", "iso-2022-kr", "hz-gb-2312", "x-user-defined", "utf-7", "utf-8x", "iso-8859-12"]
        {
            assert!(!is_known(label.as_bytes()), "{label}");
        }
        assert!(!is_known(&[b'a'; 200]));
        assert_eq!(CharsetDecoder::for_label(b"latin1").map(|decoder| decoder.name()), Some("windows-1252"));
        assert_eq!(CharsetDecoder::for_label(b"us-ascii").map(|decoder| decoder.name()), Some("UTF-8"));
    }

    #[test]
    fn single_byte_charsets() {
        for (label, bytes, expected) in [
            ("iso-8859-1", &b"\xe1\xe9\xed\xf3\xfa"[..], "áéíóú"),
            ("iso-8859-1", b"\x80 5", "€ 5"),
            ("iso-8859-2", b"\xb1\xe6\xea\xb3\xf1", "ąćęłń"),
            ("iso-8859-5", b"\xbf\xe0\xd8\xd2\xd5\xe2", "Привет"),
            ("iso-8859-7", b"\xc1\xe8\xde\xed\xe1", "Αθήνα"),
            ("iso-8859-9", b"\xddstanbul \xfd", "İstanbul ı"),
            ("iso-8859-15", b"\xa4 \xbd", "€ œ"),
            ("windows-1250", b"\x9a\xe8", "šč"),
            ("windows-1251", b"\xcf\xf0\xe8\xe2\xe5\xf2", "Привет"),
            ("windows-1252", b"\x93hi\x94", "“hi”"),
            ("koi8-r", b"\xf0\xd2\xc9\xd7\xc5\xd4", "Привет"),
        ] {
            assert_eq!(decode(label, bytes), expected, "{label}");
        }
    }

    #[test]
    fn multi_byte_charsets() {
        for (label, bytes, expected) in [
            ("shift_jis", &b"\x83n\x83\x8D\x81["[..], "ハロー"),
            ("euc-jp", b"\xa5\xcf\xa5\xed\xa1\xbc", "ハロー"),
            ("iso-2022-jp", b"\x1b$B%O%m!<\x1b(B", "ハロー"),
            ("gb2312", b"\xc4\xe3\xba\xc3", "你好"),
            ("big5", b"\xa7A\xa6n", "你好"),
            ("euc-kr", b"\xbe\xc8\xb3\xe7", "안녕"),
            ("utf-16", b"\x00h\x00i", "hi"),
            ("utf-16", b"\xff\xfeh\x00i\x00", "hi"),
            ("utf-16le", b"h\x00i\x00", "hi"),
        ] {
            assert_eq!(decode(label, bytes), expected, "{label}");
        }
        // A sequence cut by the end of the input.
        assert_eq!(decode("shift_jis", b"a\x83"), "a\u{FFFD}");
    }

    #[test]
    fn lenient_utf8() {
        assert_eq!(decode("utf-8", "Grüße €".as_bytes()), "Grüße €");
        assert_eq!(decode("utf-8", b"Gr\xfc\xdfe"), "Grüße");
        assert_eq!(decode("us-ascii", b"caf\xe9 \x93x\x94"), "café “x”");
        // Sequences broken in each way: every byte of them stands alone.
        assert_eq!(decode("utf-8", b"\xc3("), "Ã(");
        assert_eq!(decode("utf-8", b"\xe2\x82("), "â‚(");
        assert_eq!(decode("utf-8", b"\xe0\x80\x80"), "à€€");
        assert_eq!(decode("utf-8", b"\xed\xa0\x80"), "í\u{A0}€");
        assert_eq!(decode("utf-8", b"\xf4\x90\x80\x80"), "ô\u{90}€€");
        assert_eq!(decode("utf-8", b"end\xe2\x82"), "endâ‚");
        assert_eq!(decode("utf-8", b"\xf0\x9f\x98\x80!"), "😀!");
    }

    /// The same reading, whole and slow: at each position, a complete
    /// valid sequence is its character; any other byte is Windows-1252.
    fn plain_lenient(bytes: &[u8]) -> String {
        let mut out = String::new();
        let mut index = 0;
        while index < bytes.len() {
            let length = match bytes[index] {
                0xc2..=0xdf => 2,
                0xe0..=0xef => 3,
                0xf0..=0xf4 => 4,
                _ => 1,
            };
            if let Some(Ok(text)) = bytes.get(index..index + length).map(std::str::from_utf8) {
                out.push_str(text);
                index += length;
            } else {
                out.push(windows_1252(bytes[index]));
                index += 1;
            }
        }
        out
    }

    #[test]
    fn windows_1252_table_agrees_with_encoding_rs() {
        for byte in 0x80..=0xffu8 {
            let input = [byte];
            let (text, _, _) = encoding_rs::WINDOWS_1252.decode(&input);
            assert_eq!(text.chars().next(), Some(windows_1252(byte)), "{byte:#x}");
        }
    }

    #[test]
    fn decoder_is_reusable_after_finish() {
        let mut decoder = CharsetDecoder::for_label(b"shift_jis").unwrap();
        let mut out = String::new();
        decoder.feed(b"\x83", &mut out);
        decoder.finish(&mut out);
        decoder.feed(b"\x83n", &mut out);
        decoder.finish(&mut out);
        assert_eq!(out, "\u{FFFD}ハ");
    }

    proptest! {
        #[test]
        fn chunking_does_not_matter(
            bytes in proptest::collection::vec(any::<u8>(), 0..200),
            cuts in proptest::collection::vec(any::<usize>(), 0..8),
            which in 0usize..8,
        ) {
            let labels = ["utf-8", "iso-8859-1", "koi8-r", "shift_jis", "iso-2022-jp", "gb18030", "big5", "utf-16"];
            let label = labels[which];
            let mut whole = CharsetDecoder::for_label(label.as_bytes()).unwrap();
            let mut chunked = CharsetDecoder::for_label(label.as_bytes()).unwrap();
            prop_assert_eq!(decode_in_chunks(&mut chunked, &bytes, &cuts), decode_in_chunks(&mut whole, &bytes, &[]));
        }

        #[test]
        fn lenient_utf8_keeps_valid_text(
            text in any::<String>(),
            cuts in proptest::collection::vec(any::<usize>(), 0..8),
        ) {
            let mut decoder = CharsetDecoder::lenient_utf8();
            prop_assert_eq!(decode_in_chunks(&mut decoder, text.as_bytes(), &cuts), text);
        }

        #[test]
        fn lenient_utf8_agrees_with_a_plain_reading(
            bytes in proptest::collection::vec(prop_oneof![any::<u8>(), 0x80u8..0xc0, 0xc2u8..0xf5], 0..100),
            cuts in proptest::collection::vec(any::<usize>(), 0..8),
        ) {
            let mut decoder = CharsetDecoder::lenient_utf8();
            prop_assert_eq!(decode_in_chunks(&mut decoder, &bytes, &cuts), plain_lenient(&bytes));
        }

        #[test]
        fn labels_never_panic(label in proptest::collection::vec(any::<u8>(), 0..60)) {
            let _ = is_known(&label);
        }
    }
}
