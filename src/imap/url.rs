//! IMAP URLs (RFC 5092), the subset CATENATE (RFC 4469) needs: one
//! message, or one section of it, or a range of that section.
//!
//! ```text
//! /INBOX;UIDVALIDITY=5/;UID=20/;SECTION=1.2/;PARTIAL=0.1024   (relative)
//! imap://alice@mail.example.org/Sent/;UID=7                    (absolute)
//! ```
//!
//! What is parsed here is the URL's shape only; whether it names a
//! message this session may read (the logged-in user on this server, a
//! mailbox with that UIDVALIDITY, a UID that exists, a section the
//! message has) is decided where it is resolved, `command::append`.
//!
//! Decisions:
//! - Relative URLs are taken against the session's own server and user
//!   (RFC 4469 §3: the base URL is `imap://user@server/`, and in the
//!   selected state `imap://user@server/mailbox`): `/mailbox...` (RFC 5092
//!   `iabsolute-path`), or `;UID=n...` for a message of the selected
//!   mailbox (`mailbox` None here; Dovecot takes that form too).
//! - The mailbox name is percent-decoded and must then be UTF-8 (RFC 5092,
//!   Multinational Considerations: the name as UTF-8, percent-encoded); the section
//!   is percent-decoded and parsed by the FETCH section grammar.
//! - URLAUTH (`;EXPIRE=`, `;URLAUTH=`, RFC 4467) and search URLs (`?...`)
//!   are not supported: such a URL is refused as not resolvable.
//! - Raw characters outside RFC 5092's `bchar` (space, `"`, `%` not
//!   followed by two hex digits, 8-bit bytes) make the URL invalid.

use crate::imap::types::Section;

/// A parsed message URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageUrl {
    /// `imap://user@host[:port]`: None for a relative URL.
    pub server: Option<Server>,
    /// The mailbox name, decoded (UTF-8); None for `;UID=n...`, relative to
    /// the selected mailbox.
    pub mailbox: Option<String>,
    pub uid_validity: Option<u32>,
    pub uid: u32,
    /// `;SECTION=`: None for the whole message.
    pub section: Option<Section>,
    /// `;PARTIAL=offset[.length]` (RFC 5092 `ipartial`, URL-PARTIAL RFC 5550).
    pub partial: Option<(u32, Option<u32>)>,
}

/// The server part of an absolute URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Server {
    /// The user, decoded; None when the URL names none (anonymous).
    pub user: Option<String>,
    /// Lower-cased host name, or an address (IPv6 without its brackets).
    pub host: String,
    pub port: Option<u16>,
}

/// Longest URL accepted: a message URL is short; this bounds the work.
pub const MAX_URL: usize = 4096;

/// Parses a message URL (relative or absolute).
pub fn parse(url: &[u8]) -> Result<MessageUrl, String> {
    if url.len() > MAX_URL {
        return Err("URL too long".into());
    }
    let (server, path) = if url.len() >= 7 && url[..7].eq_ignore_ascii_case(b"imap://") {
        let (server, path) = authority(&url[7..])?;
        (Some(server), path)
    } else if let Some(rest) = url.strip_prefix(b"//") {
        // RFC 3986 network-path reference: a server, no scheme.
        let (server, path) = authority(rest)?;
        (Some(server), path)
    } else {
        (None, url)
    };
    if path.contains(&b'?') {
        return Err("search URLs are not supported".into());
    }
    match path.strip_prefix(b"/") {
        Some(path) => message_path(path, server, false),
        // RFC 4469 §3: in the selected state the base URL is the selected
        // mailbox's, so `;UID=n...` names a message there.
        None if server.is_none() && path.first() == Some(&b';') => message_path(path, None, true),
        None => Err("URL must name a mailbox (begin with /) or a UID (;UID=)".into()),
    }
}

/// `[user[;AUTH=...]@]host[:port]`, up to the `/` that starts the path.
fn authority(input: &[u8]) -> Result<(Server, &[u8]), String> {
    let end = input.iter().position(|&byte| byte == b'/').unwrap_or(input.len());
    let (authority, path) = input.split_at(end);
    let (user, host_port) = match authority.iter().rposition(|&byte| byte == b'@') {
        Some(at) => {
            let userinfo = &authority[..at];
            // RFC 5092 iauth: ";AUTH=" ("*" / enc-auth-type); how the
            // user logged in does not change which messages are theirs.
            let user = match find_ignore_case(userinfo, b";AUTH=") {
                Some(auth) => &userinfo[..auth],
                None => userinfo,
            };
            let user = if user.is_empty() { None } else { Some(utf8(decode(user)?, "user")?) };
            (user, &authority[at + 1..])
        }
        None => (None, authority),
    };
    let (host, port) = if let Some(rest) = host_port.strip_prefix(b"[") {
        let close = rest.iter().position(|&byte| byte == b']').ok_or("unterminated IPv6 address")?;
        (&rest[..close], &rest[close + 1..])
    } else {
        let colon = host_port.iter().position(|&byte| byte == b':').unwrap_or(host_port.len());
        (&host_port[..colon], &host_port[colon..])
    };
    let port = match port {
        [] => None,
        [b':', digits @ ..] if !digits.is_empty() && digits.len() <= 5 && digits.iter().all(u8::is_ascii_digit) => {
            let port = std::str::from_utf8(digits).ok().and_then(|digits| digits.parse().ok());
            Some(port.ok_or("invalid port")?)
        }
        _ => return Err("invalid port".into()),
    };
    let host = utf8(decode(host)?, "host")?;
    if host.is_empty() || host.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("invalid host".into());
    }
    Ok((Server { user, host: host.to_ascii_lowercase(), port }, path))
}

/// `mailbox[;UIDVALIDITY=n]/;UID=n[/;SECTION=s][/;PARTIAL=o[.l]]`, or
/// (`relative`) the same from `;UID=` on.
fn message_path(path: &[u8], server: Option<Server>, relative: bool) -> Result<MessageUrl, String> {
    // `;` is not a bchar (RFC 5092): the parameters are found by it, and
    // each part before a `/;` loses that slash.
    let mut pieces = path.split(|&byte| byte == b';');
    let mailbox_raw = pieces.next().unwrap_or_default();
    if !relative && mailbox_raw.strip_suffix(b"/").unwrap_or(mailbox_raw).is_empty() {
        return Err("URL names no mailbox".into());
    }
    let mut uid_validity = None;
    let mut uid = None;
    let mut section = None;
    let mut partial = None;
    // The order RFC 5092 gives: UIDVALIDITY, UID, SECTION, PARTIAL; each
    // but UIDVALIDITY starts a path segment, so what precedes it ends in `/`.
    let mut stage = 0;
    // `;UID=` right at the start of a relative URL needs no `/` before it.
    let mut previous_ends_with_slash = relative || mailbox_raw.ends_with(b"/");
    let mailbox_raw = mailbox_raw.strip_suffix(b"/").unwrap_or(mailbox_raw);
    for piece in pieces {
        let (name, value) = match piece.iter().position(|&byte| byte == b'=') {
            Some(equals) => (&piece[..equals], &piece[equals + 1..]),
            None => return Err("URL parameter without a value".into()),
        };
        let ends_with_slash = value.ends_with(b"/");
        let value = if ends_with_slash { &value[..value.len() - 1] } else { value };
        let name = name.to_ascii_uppercase();
        let (next_stage, segment) = match name.as_slice() {
            b"UIDVALIDITY" => (1, false),
            b"UID" => (2, true),
            b"SECTION" => (3, true),
            b"PARTIAL" => (4, true),
            b"EXPIRE" | b"URLAUTH" => return Err("URLAUTH is not supported".into()),
            _ => return Err(format!("unknown URL parameter {}", String::from_utf8_lossy(&name))),
        };
        if next_stage <= stage {
            return Err("URL parameters out of order".into());
        }
        if segment != previous_ends_with_slash {
            return Err(format!("misplaced '/' before ;{}", String::from_utf8_lossy(&name)));
        }
        if (next_stage == 4 && ends_with_slash) || (next_stage == 1 && !ends_with_slash) {
            return Err("misplaced '/' in URL".into());
        }
        stage = next_stage;
        previous_ends_with_slash = ends_with_slash;
        match next_stage {
            1 => uid_validity = Some(nz_number(value)?),
            2 => uid = Some(nz_number(value)?),
            3 => section = Some(crate::imap::parse::url_section(&decode(value)?)?),
            _ => partial = Some(partial_range(value)?),
        }
    }
    if previous_ends_with_slash && stage != 0 {
        return Err("URL ends with '/'".into());
    }
    let uid = uid.ok_or("URL names no message (;UID=)")?;
    let mailbox =
        if relative { None } else { Some(utf8(decode(mailbox_raw)?, "mailbox name")?).filter(|name| !name.is_empty()) };
    if mailbox.is_none() && !relative {
        return Err("URL names no mailbox".into());
    }
    Ok(MessageUrl { server, mailbox, uid_validity, uid, section, partial })
}

/// `nz-number`: 1 to 4294967295, no leading zero.
fn nz_number(digits: &[u8]) -> Result<u32, String> {
    match number(digits)? {
        0 => Err("expected a number above zero".into()),
        value => Ok(value),
    }
}

/// `number` (RFC 3501 §9): 0 to 4294967295, digits only.
fn number(digits: &[u8]) -> Result<u32, String> {
    if digits.is_empty() || digits.len() > 10 || !digits.iter().all(u8::is_ascii_digit) {
        return Err("expected a number".into());
    }
    if digits.len() > 1 && digits[0] == b'0' {
        return Err("number with a leading zero".into());
    }
    std::str::from_utf8(digits).ok().and_then(|digits| digits.parse().ok()).ok_or_else(|| "number too large".into())
}

/// `partial-range = number ["." nz-number]`.
fn partial_range(value: &[u8]) -> Result<(u32, Option<u32>), String> {
    match value.iter().position(|&byte| byte == b'.') {
        Some(dot) => Ok((number(&value[..dot])?, Some(nz_number(&value[dot + 1..])?))),
        None => Ok((number(value)?, None)),
    }
}

/// Characters a URL may hold raw (RFC 5092 `bchar` and the delimiters
/// the caller has already split on), besides `%XX`.
fn is_url_char(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"-._~!$'()*+,&=:@/".contains(&byte)
}

/// Percent-decoding (RFC 3986 §2.1), refusing raw bytes outside `bchar`.
pub fn decode(raw: &[u8]) -> Result<Vec<u8>, String> {
    let mut decoded = Vec::with_capacity(raw.len());
    let mut at = 0;
    while at < raw.len() {
        let byte = raw[at];
        if byte == b'%' {
            let hex = raw.get(at + 1..at + 3).ok_or("truncated %-escape")?;
            let value = std::str::from_utf8(hex).ok().and_then(|hex| u8::from_str_radix(hex, 16).ok());
            let value = value.filter(|_| hex.iter().all(u8::is_ascii_hexdigit)).ok_or("invalid %-escape")?;
            decoded.push(value);
            at += 3;
        } else if is_url_char(byte) {
            decoded.push(byte);
            at += 1;
        } else {
            return Err(format!("character {:?} not allowed in a URL", byte as char));
        }
    }
    Ok(decoded)
}

fn utf8(bytes: Vec<u8>, what: &str) -> Result<String, String> {
    String::from_utf8(bytes).map_err(|_| format!("{what} is not UTF-8"))
}

fn find_ignore_case(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|window| window.eq_ignore_ascii_case(needle))
}

/// The URL as a BADURL response code may carry it (RFC 4469 §5:
/// `url-resp-text`, any TEXT-CHAR but `]`): anything else percent-encoded.
pub fn for_response(url: &[u8]) -> String {
    let mut text = String::new();
    for &byte in url.iter().take(MAX_URL) {
        if (0x20..0x7f).contains(&byte) && byte != b']' && byte != b'%' {
            text.push(byte as char);
        } else {
            text.push_str(&format!("%{byte:02X}"));
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::imap::types::SectionText;

    fn ok(url: &str) -> MessageUrl {
        parse(url.as_bytes()).unwrap_or_else(|error| panic!("{url}: {error}"))
    }

    #[test]
    fn relative_message_urls() {
        let url = ok("/INBOX;UIDVALIDITY=5/;UID=20");
        assert_eq!(url.mailbox.as_deref(), Some("INBOX"));
        assert_eq!((url.uid_validity, url.uid, url.section, url.partial), (Some(5), 20, None, None));
        assert!(url.server.is_none());
        let url = ok("/INBOX/;UID=3");
        assert_eq!((url.mailbox.as_deref(), url.uid_validity, url.uid), (Some("INBOX"), None, 3));
        let url = ok("/Archive/2024;uidvalidity=9/;uid=1/;section=TEXT");
        assert_eq!(url.mailbox.as_deref(), Some("Archive/2024"));
        assert_eq!(url.section, Some(Section { part: vec![], text: Some(SectionText::Text) }));
        let url = ok("/INBOX;UIDVALIDITY=5/;UID=20/;SECTION=1.2.MIME/;PARTIAL=10.20");
        assert_eq!(url.section, Some(Section { part: vec![1, 2], text: Some(SectionText::Mime) }));
        assert_eq!(url.partial, Some((10, Some(20))));
        let url = ok("/INBOX/;UID=20/;PARTIAL=0");
        assert_eq!((url.section, url.partial), (None, Some((0, None))));
        let url = ok("/INBOX/;UID=1/;SECTION=HEADER.FIELDS%20(FROM%20To)");
        assert_eq!(
            url.section,
            Some(Section {
                part: vec![],
                text: Some(SectionText::HeaderFields { not: false, fields: vec!["FROM".into(), "To".into()] })
            })
        );
    }

    #[test]
    fn urls_relative_to_the_selected_mailbox() {
        let url = ok(";UID=20/;SECTION=2/;PARTIAL=0.5");
        assert_eq!((url.mailbox, url.uid, url.partial), (None, 20, Some((0, Some(5)))));
        for bad in [";UIDVALIDITY=5/;UID=20", ";UID=20/", "/;UID=20", "imap://a@b;UID=1", ";SECTION=1"] {
            assert!(parse(bad.as_bytes()).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn mailbox_names_are_percent_decoded_utf8() {
        assert_eq!(ok("/Caf%C3%A9/;UID=1").mailbox.as_deref(), Some("Café"));
        assert_eq!(ok("/a%20b/;UID=1").mailbox.as_deref(), Some("a b"));
        assert!(parse(b"/Caf%E9/;UID=1").is_err(), "not UTF-8");
        assert!(parse(b"/a b/;UID=1").is_err(), "raw space");
        assert!(parse(b"/a%2/;UID=1").is_err());
        assert!(parse(b"/a%zz/;UID=1").is_err());
    }

    #[test]
    fn absolute_urls() {
        let url = ok("imap://alice@mail.Example.org/INBOX;UIDVALIDITY=5/;UID=20");
        let server = url.server.unwrap();
        assert_eq!(
            (server.user.as_deref(), server.host.as_str(), server.port),
            (Some("alice"), "mail.example.org", None)
        );
        let server = ok("IMAP://bob;AUTH=*@127.0.0.1:1143/INBOX/;UID=1").server.unwrap();
        assert_eq!((server.user.as_deref(), server.host.as_str(), server.port), (Some("bob"), "127.0.0.1", Some(1143)));
        let server = ok("imap://a%40b@[::1]/INBOX/;UID=1").server.unwrap();
        assert_eq!((server.user.as_deref(), server.host.as_str()), (Some("a@b"), "::1"));
        assert_eq!(ok("imap://host/INBOX/;UID=1").server.unwrap().user, None);
        assert_eq!(ok("//alice@host/INBOX/;UID=1").server.unwrap().user.as_deref(), Some("alice"));
    }

    #[test]
    fn malformed_urls() {
        for bad in [
            "",
            "INBOX/;UID=1",
            "/INBOX",
            "/INBOX/",
            "/;UID=1",
            "/INBOX;UID=1",
            "/INBOX/;UIDVALIDITY=5/;UID=1",
            "/INBOX;UIDVALIDITY=5;UID=1",
            "/INBOX/;UID=0",
            "/INBOX/;UID=01",
            "/INBOX/;UID=4294967296",
            "/INBOX/;UID=1/",
            "/INBOX/;UID=1;SECTION=TEXT",
            "/INBOX/;UID=1/;SECTION=BOGUS",
            "/INBOX/;UID=1/;SECTION=",
            "/INBOX/;UID=1/;PARTIAL=1.0",
            "/INBOX/;UID=1/;PARTIAL=x",
            "/INBOX/;UID=1/;PARTIAL=1/;SECTION=TEXT",
            "/INBOX/;UID=1/;UID=2",
            "/INBOX/;UID=1;EXPIRE=2030-01-01T00:00:00Z;URLAUTH=anonymous:internal:00",
            "/INBOX?SUBJECT%20x",
            "/INBOX/;UID=1/;FOO=1",
            "/INBOX/;UID",
            "imap://alice@/INBOX/;UID=1",
            "imap://alice@host:99999/INBOX/;UID=1",
            "imap://alice@host:/INBOX/;UID=1",
            "imap://alice@[::1/INBOX/;UID=1",
            "imap://alice@host",
        ] {
            assert!(parse(bad.as_bytes()).is_err(), "{bad:?} should be refused");
        }
        assert!(parse(&vec![b'a'; MAX_URL + 1]).is_err());
    }

    #[test]
    fn response_text_has_no_bracket_or_control() {
        assert_eq!(for_response(b"/a]b\r\n%\xff"), "/a%5Db%0D%0A%25%FF");
    }

    proptest::proptest! {
        #[test]
        fn never_panics(input in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
            let _ = parse(&input);
        }

        #[test]
        fn structured_input_never_panics(parts in proptest::collection::vec(
            proptest::sample::select(vec!["/", ";", "UID=", "UIDVALIDITY=", "SECTION=", "PARTIAL=", "1", "0", ".", "%", "%41",
                "INBOX", "imap://", "@", ":", "[", "]", "TEXT", "HEADER", "MIME", "2"]), 0..16)) {
            let _ = parse(parts.concat().as_bytes());
        }

        #[test]
        fn generated_urls_round_trip(mailbox in "[A-Za-z0-9 é/]{1,12}", validity in proptest::option::of(1u32..),
                                     uid in 1u32.., part in proptest::collection::vec(1u32..20, 0..3),
                                     partial in proptest::option::of((0u32.., proptest::option::of(1u32..)))) {
            proptest::prop_assume!(!mailbox.starts_with('/') && !mailbox.ends_with('/') && !mailbox.contains("//"));
            let mut url = String::from("/");
            for byte in mailbox.bytes() {
                if is_url_char(byte) { url.push(byte as char) } else { url.push_str(&format!("%{byte:02X}")) }
            }
            if let Some(validity) = validity { url.push_str(&format!(";UIDVALIDITY={validity}")) }
            url.push_str(&format!("/;UID={uid}"));
            if !part.is_empty() {
                let part: Vec<String> = part.iter().map(u32::to_string).collect();
                url.push_str(&format!("/;SECTION={}", part.join(".")));
            }
            if let Some((offset, length)) = partial {
                url.push_str(&format!("/;PARTIAL={offset}"));
                if let Some(length) = length { url.push_str(&format!(".{length}")) }
            }
            let parsed = parse(url.as_bytes()).map_err(|error| proptest::test_runner::TestCaseError::fail(format!("{url}: {error}")))?;
            proptest::prop_assert_eq!(parsed.mailbox, Some(mailbox));
            proptest::prop_assert_eq!(parsed.uid_validity, validity);
            proptest::prop_assert_eq!(parsed.uid, uid);
            proptest::prop_assert_eq!(parsed.section.map(|section| section.part).unwrap_or_default(), part);
            proptest::prop_assert_eq!(parsed.partial, partial);
        }
    }
}
