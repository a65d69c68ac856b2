//! Mailbox names as clients send them → the names the store keeps.

use crate::util::mutf7;
use unicode_normalization::{IsNormalized, UnicodeNormalization};

/// Longest name, in bytes of UTF-8.
const MAX_NAME: usize = 512;

/// Decodes a mailbox argument (modified UTF-7, RFC 3501 §5.1.3) into its
/// canonical name.
pub fn decode(raw: &[u8]) -> Result<String, String> {
    let name = mutf7::decode(raw).map_err(|error| format!("Mailbox name is not valid modified UTF-7: {error}"))?;
    canonical(name)
}

/// Decodes a mailbox argument as the session speaks: UTF-8 once IMAP4rev2
/// is enabled (RFC 9051 §5.1), modified UTF-7 before.
pub fn decode_for(raw: &[u8], utf8: bool) -> Result<String, String> {
    if !utf8 {
        return decode(raw);
    }
    let name = std::str::from_utf8(raw).map_err(|_| "Mailbox name is not valid UTF-8".to_string())?;
    canonical(name.to_string())
}

/// Unicode Normalization Form C. RFC 9051 §5.1 wants mailbox names in
/// Net-Unicode (RFC 5198: NFC) and lets a server convert a name that is
/// not; we do, in both UTF-8 and modified UTF-7 sessions, so "Café" typed
/// on a device that sends decomposed accents (`e` + U+0301, as macOS
/// does) names the same mailbox as everywhere else.
pub fn nfc(name: String) -> String {
    if unicode_normalization::is_nfc_quick(name.chars()) == IsNormalized::Yes {
        return name;
    }
    name.nfc().collect()
}

/// INBOX in any case is INBOX (RFC 3501 §5.1), and so is the INBOX of
/// "inbox/child"; one trailing delimiter is dropped ("CREATE foo/" makes "foo").
pub fn canonical(name: String) -> Result<String, String> {
    // Net-Unicode also excludes the line and paragraph separators.
    if name.chars().any(|c| c.is_control() || c == '\u{2028}' || c == '\u{2029}') {
        return Err("Mailbox name contains control characters".into());
    }
    let mut name = nfc(name);
    if name.len() > 1 && name.ends_with('/') {
        name.pop();
    }
    if name.is_empty() {
        return Err("Empty mailbox name".into());
    }
    if name.len() > MAX_NAME {
        return Err("Mailbox name too long".into());
    }
    if name.starts_with('/') || name.contains("//") {
        return Err("Mailbox name has an empty level".into());
    }
    if name.eq_ignore_ascii_case("INBOX") {
        return Ok("INBOX".into());
    }
    if name.get(..6).is_some_and(|prefix| prefix.eq_ignore_ascii_case("INBOX/")) {
        return Ok(format!("INBOX/{}", &name[6..]));
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_names() {
        assert_eq!(decode(b"inbox").unwrap(), "INBOX");
        assert_eq!(decode(b"InBox/Work").unwrap(), "INBOX/Work");
        assert_eq!(decode(b"INBOXES").unwrap(), "INBOXES");
        assert_eq!(decode(b"Archive/").unwrap(), "Archive");
        assert_eq!(decode(b"Entw&APw-rfe").unwrap(), "Entwürfe");
        assert_eq!(decode(b"&ZeVnLIqe-").unwrap(), "日本語");
        for bad in [&b""[..], b"/", b"a//b", b"/a", b"caf\xc3\xa9", b"&Jjo", b"tab\tname"] {
            assert!(decode(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn utf8_names_once_imap4rev2_is_enabled() {
        assert_eq!(decode_for("Entwürfe".as_bytes(), true).unwrap(), "Entwürfe");
        assert_eq!(decode_for(b"A&B", true).unwrap(), "A&B");
        assert_eq!(decode_for(b"inbox/x", true).unwrap(), "INBOX/x");
        assert!(decode_for(b"caf\xe9", true).is_err());
        assert!(decode_for("caf\u{e9}".as_bytes(), false).is_err());
        assert_eq!(decode_for(b"Entw&APw-rfe", false).unwrap(), "Entwürfe");
    }

    #[test]
    fn names_are_normalized_to_nfc() {
        // "Café" with a combining acute, as UTF-8 and as modified UTF-7.
        assert_eq!(decode_for("Cafe\u{301}".as_bytes(), true).unwrap(), "Caf\u{e9}");
        assert_eq!(decode_for(b"Cafe&AwE-", false).unwrap(), "Caf\u{e9}");
        assert_eq!(decode_for("Caf\u{e9}".as_bytes(), true).unwrap(), "Caf\u{e9}");
        // Hangul jamo compose; singletons (Angstrom sign) map to their NFC.
        assert_eq!(decode_for("\u{1112}\u{1161}\u{11AB}".as_bytes(), true).unwrap(), "한");
        assert_eq!(decode_for("\u{212B}".as_bytes(), true).unwrap(), "\u{c5}");
        for bad in ["a\u{2028}b", "a\u{2029}b", "a\u{85}b", "a\u{7f}b"] {
            assert!(decode_for(bad.as_bytes(), true).is_err(), "{bad:?}");
        }
    }
}
