//! The response encoder: the only code that knows IMAP's quoting and
//! literal rules (RFC 3501 §4.3, §9).

use crate::mail::Flags;

/// Quoted strings longer than this go out as literals, which clients parse
/// without scanning for escapes.
const MAX_QUOTED: usize = 1024;

fn can_quote(value: &[u8]) -> bool {
    value.len() <= MAX_QUOTED && value.iter().all(|&byte| byte != 0 && byte != b'\r' && byte != b'\n' && byte < 0x80)
}

/// `value` as an IMAP string: quoted when it can be, else a literal.
pub fn string(out: &mut Vec<u8>, value: &[u8]) {
    if can_quote(value) {
        out.push(b'"');
        for &byte in value {
            if byte == b'"' || byte == b'\\' {
                out.push(b'\\');
            }
            out.push(byte);
        }
        out.push(b'"');
    } else {
        literal_header(out, value.len() as u64);
        out.extend_from_slice(value);
    }
}

/// `{n}` CRLF; the caller sends the n bytes next.
pub fn literal_header(out: &mut Vec<u8>, length: u64) {
    out.push(b'{');
    number(out, length);
    out.extend_from_slice(b"}\r\n");
}

/// The human-readable `text` of a status response (RFC 3501 §9:
/// `text = 1*TEXT-CHAR`, 7-bit, no CR or LF, and no NUL: CHAR is %x01-7F).
/// Parse errors quote the client's own bytes back, so a NUL, an 8-bit
/// byte or a line break inside a literal would otherwise go out as is (a
/// CRLF there even ends the response early, and the rest reads as another
/// response). Those bytes go out as `\xNN` instead, ASCII for every client
/// (RFC 9051 allows UTF-8 here but does not require it); so does a final
/// `}`, which clients would take for a literal's `{n}` announcement.
/// Found by the session fuzzer's response oracle (tests/fuzz_session.rs).
pub fn text(out: &mut Vec<u8>, value: &str) {
    let bytes = value.as_bytes();
    for (index, &byte) in bytes.iter().enumerate() {
        let last = index + 1 == bytes.len();
        if byte == 0 || byte == b'\r' || byte == b'\n' || byte >= 0x80 || (last && byte == b'}') {
            const HEX: &[u8; 16] = b"0123456789ABCDEF";
            out.extend_from_slice(&[b'\\', b'x', HEX[usize::from(byte >> 4)], HEX[usize::from(byte & 15)]]);
        } else {
            out.push(byte);
        }
    }
}

/// An atom when `value` is one (and is not `NIL`), else a string.
pub fn astring(out: &mut Vec<u8>, value: &[u8]) {
    let is_atom = !value.is_empty()
        && !value.eq_ignore_ascii_case(b"NIL")
        && value.iter().all(|&byte| byte > 0x20 && byte < 0x7f && !b"(){%*\"\\".contains(&byte));
    if is_atom {
        out.extend_from_slice(value);
    } else {
        string(out, value);
    }
}

/// A mailbox name: modified UTF-7 (RFC 3501 §5.1.3), always quoted so
/// names with spaces and wildcards read the same as any other.
pub fn mailbox(out: &mut Vec<u8>, name: &str) {
    string(out, crate::util::mutf7::encode(name).as_bytes());
}

/// A mailbox name in UTF-8 (RFC 9051 §5.1, once IMAP4rev2 is enabled),
/// quoted unless it needs a literal; RFC 9051's quoted strings carry UTF-8.
pub fn mailbox_utf8(out: &mut Vec<u8>, name: &str) {
    let quotable = name.len() <= MAX_QUOTED && !name.bytes().any(|byte| byte == 0 || byte == b'\r' || byte == b'\n');
    if quotable {
        out.push(b'"');
        for byte in name.bytes() {
            if byte == b'"' || byte == b'\\' {
                out.push(b'\\');
            }
            out.push(byte);
        }
        out.push(b'"');
    } else {
        string(out, name.as_bytes());
    }
}

/// A mailbox name as the session speaks: UTF-8 or modified UTF-7.
pub fn mailbox_for(out: &mut Vec<u8>, name: &str, utf8: bool) {
    if utf8 {
        mailbox_utf8(out, name);
    } else {
        mailbox(out, name);
    }
}

pub fn number(out: &mut Vec<u8>, value: impl Into<u64>) {
    let mut digits = [0u8; 20];
    let mut value = value.into();
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[start..]);
}

/// `(\Seen \Flagged $Junk ...)` for a message.
pub fn flag_list(out: &mut Vec<u8>, flags: Flags, keywords: u64, names: &[String], recent: bool) {
    out.push(b'(');
    let mut first = true;
    let mut item = |out: &mut Vec<u8>, text: &[u8]| {
        if !first {
            out.push(b' ');
        }
        first = false;
        out.extend_from_slice(text);
    };
    for (flag, name) in SYSTEM_FLAGS {
        if flags.contains(flag) {
            item(out, name.as_bytes());
        }
    }
    if recent {
        item(out, b"\\Recent");
    }
    for (index, name) in names.iter().enumerate().take(64) {
        if keywords & (1 << index) != 0 {
            item(out, name.as_bytes());
        }
    }
    out.push(b')');
}

/// System flags in the order clients usually see them.
pub const SYSTEM_FLAGS: [(Flags, &str); 5] = [
    (Flags::ANSWERED, "\\Answered"),
    (Flags::FLAGGED, "\\Flagged"),
    (Flags::DELETED, "\\Deleted"),
    (Flags::SEEN, "\\Seen"),
    (Flags::DRAFT, "\\Draft"),
];

/// Sorted UIDs as a compact set: `1:3,7,9:12`.
pub fn uid_set(out: &mut Vec<u8>, uids: &[u32]) {
    let mut index = 0;
    let mut first = true;
    while index < uids.len() {
        let start = uids[index];
        let mut end = start;
        while index + 1 < uids.len() && uids[index + 1] == end.wrapping_add(1) {
            index += 1;
            end = uids[index];
        }
        if !first {
            out.push(b',');
        }
        first = false;
        number(out, start);
        if end != start {
            out.push(b':');
            number(out, end);
        }
        index += 1;
    }
}

/// `* FLAGS` and `* OK [PERMANENTFLAGS]` for a mailbox's keywords.
pub fn flags_lines(keywords: &[String]) -> String {
    let mut defined = String::from("\\Answered \\Flagged \\Deleted \\Seen \\Draft");
    for keyword in keywords {
        defined.push(' ');
        defined.push_str(keyword);
    }
    // `\*`: clients may create keywords, until the mailbox holds the most it can.
    let more = if keywords.len() < crate::store::MAX_KEYWORDS { " \\*" } else { "" };
    format!("* FLAGS ({defined})\r\n* OK [PERMANENTFLAGS ({defined}{more})] Flags permitted\r\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn encoded(write: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut out = Vec::new();
        write(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    }

    #[test]
    fn strings_quote_or_literal() {
        assert_eq!(encoded(|out| string(out, b"hello")), "\"hello\"");
        assert_eq!(encoded(|out| string(out, b"")), "\"\"");
        assert_eq!(encoded(|out| string(out, br#"a"b\c"#)), r#""a\"b\\c""#);
        assert_eq!(encoded(|out| string(out, b"line\r\nbreak")), "{11}\r\nline\r\nbreak");
        assert_eq!(encoded(|out| string(out, "café".as_bytes())), "{5}\r\ncafé");
        assert_eq!(encoded(|out| string(out, b"nul\0")), "{4}\r\nnul\0");
        assert!(encoded(|out| string(out, &[b'x'; 2000])).starts_with("{2000}\r\n"));
    }

    #[test]
    fn nil_atoms_and_astrings() {
        assert_eq!(encoded(|out| astring(out, b"INBOX")), "INBOX");
        assert_eq!(encoded(|out| astring(out, b"nil")), "\"nil\"");
        assert_eq!(encoded(|out| astring(out, b"two words")), "\"two words\"");
        assert_eq!(encoded(|out| astring(out, b"")), "\"\"");
    }

    #[test]
    fn mailboxes_numbers_flags_sets() {
        assert_eq!(encoded(|out| mailbox(out, "Entwürfe")), "\"Entw&APw-rfe\"");
        assert_eq!(encoded(|out| number(out, 0u32)), "0");
        assert_eq!(encoded(|out| number(out, u64::MAX)), "18446744073709551615");
        let names = vec!["$Junk".to_string(), "Work".to_string()];
        assert_eq!(
            encoded(|out| flag_list(out, Flags::SEEN.union(Flags::ANSWERED), 0b10, &names, true)),
            "(\\Answered \\Seen \\Recent Work)"
        );
        assert_eq!(encoded(|out| flag_list(out, Flags::default(), 0, &names, false)), "()");
        assert_eq!(encoded(|out| uid_set(out, &[1, 2, 3, 7, 9, 10])), "1:3,7,9:10");
        assert_eq!(encoded(|out| uid_set(out, &[])), "");
    }

    #[test]
    fn texts_stay_one_line_of_ascii() {
        assert_eq!(encoded(|out| text(out, "Logged in")), "Logged in");
        assert_eq!(encoded(|out| text(out, "item B\0{3+}\r\nabc")), "item B\\x00{3+}\\x0D\\x0Aabc");
        assert_eq!(encoded(|out| text(out, "RFC 5465 §5: F\u{fffd}")), "RFC 5465 \\xC2\\xA75: F\\xEF\\xBF\\xBD");
        // Not a literal's announcement: the last `}` only.
        assert_eq!(encoded(|out| text(out, "item B{9}")), "item B{9\\x7D");
        assert_eq!(encoded(|out| text(out, "{1} (x) [y] \\ \"")), "{1} (x) [y] \\ \"");
    }

    proptest! {
        /// Whatever the text, it goes out as TEXT-CHARs (RFC 3501 §9) and
        /// does not end in `}`.
        #[test]
        fn texts_are_text_chars(value in any::<String>()) {
            let mut out = Vec::new();
            text(&mut out, &value);
            prop_assert!(out.iter().all(|&byte| (1..0x80).contains(&byte) && byte != b'\r' && byte != b'\n'));
            prop_assert_ne!(out.last(), Some(&b'}'));
        }

        /// Whatever the bytes, the encoding parses back to them.
        #[test]
        fn strings_parse_back(value in proptest::collection::vec(any::<u8>(), 0..300)) {
            let mut out = b"a LOGIN x ".to_vec();
            string(&mut out, &value);
            let command = crate::imap::parse::parse_command(&out).unwrap();
            let crate::imap::types::CommandBody::Login { password, .. } = command.body else { panic!() };
            prop_assert_eq!(password, value);
        }
    }
}
