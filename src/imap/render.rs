//! ENVELOPE and BODY / BODYSTRUCTURE as IMAP sends them (RFC 3501 §7.4.2,
//! RFC 9051 §7.5.2), from the stored [`Structure`]. IMAP's syntax, so it
//! lives in `imap/` and reads `mime` (the layer below); `mime` knows
//! nothing of IMAP (issue 14). Field by field this
//! follows what Dovecot 2.3 answers, so clients see the same data whichever
//! server they talk to.

use crate::imap::encode;
use crate::mime::address::Address;
use crate::mime::structure::{Content, Envelope, Kind, Structure};

/// The body of an empty multipart (Dovecot writes one, since the grammar
/// needs at least one part): a zero-length text/plain.
const EMPTY_BODY: &[u8] = b"(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0)";
const EMPTY_BODY_EXTENDED: &[u8] =
    b"(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL)";
const EMPTY_ENVELOPE: &[u8] = b"(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)";

/// `string` or NIL.
fn nstring(out: &mut Vec<u8>, value: Option<&[u8]>) {
    match value {
        Some(value) => encode::string(out, value),
        None => out.extend_from_slice(b"NIL"),
    }
}

/// `(date subject from sender reply-to to cc bcc in-reply-to message-id)`,
/// parentheses included. RFC 3501 §7.4.2: Sender and Reply-To default to
/// From when absent (or empty).
pub fn envelope(out: &mut Vec<u8>, env: &Envelope) {
    out.push(b'(');
    nstring(out, env.date.as_deref());
    out.push(b' ');
    nstring(out, env.subject.as_deref().map(for_humans).as_deref());
    let from = env.from.as_deref();
    for list in [from, env.sender.as_deref().or(from), env.reply_to.as_deref().or(from)] {
        out.push(b' ');
        addresses(out, list);
    }
    for list in [&env.to, &env.cc, &env.bcc] {
        out.push(b' ');
        addresses(out, list.as_deref());
    }
    out.push(b' ');
    nstring(out, env.in_reply_to.as_deref());
    out.push(b' ');
    nstring(out, env.message_id.as_deref());
    out.push(b')');
}

/// The subject as Dovecot shows it: runs of white space (line breaks
/// included) become one space, leading and trailing white space goes, and
/// NUL becomes 0x80 (a NUL cannot be sent in a string).
fn for_humans(value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len());
    let mut space = false;
    for &byte in value {
        if matches!(byte, b' ' | b'\t' | b'\r' | b'\n') {
            space = !out.is_empty();
            continue;
        }
        if space {
            out.push(b' ');
            space = false;
        }
        out.push(if byte == 0 { 0x80 } else { byte });
    }
    out
}

/// `((name adl mailbox host)...)`, or NIL for an absent or empty list.
fn addresses(out: &mut Vec<u8>, list: Option<&[Address]>) {
    let Some(list) = list.filter(|list| !list.is_empty()) else {
        out.extend_from_slice(b"NIL");
        return;
    };
    out.push(b'(');
    for address in list {
        out.push(b'(');
        nstring(out, address.name.as_deref());
        out.push(b' ');
        nstring(out, address.route.as_deref());
        out.push(b' ');
        nstring(out, address.mailbox.as_deref());
        out.push(b' ');
        nstring(out, address.host.as_deref());
        out.push(b')');
    }
    out.push(b')');
}

/// The `body` of the part at `index`, parentheses included: BODYSTRUCTURE
/// with `extensible`, BODY without (no extension data).
pub fn body_structure(out: &mut Vec<u8>, structure: &Structure, index: usize, extensible: bool) {
    let Some(part) = structure.parts.get(index) else {
        out.extend_from_slice(if extensible { EMPTY_BODY_EXTENDED } else { EMPTY_BODY });
        return;
    };
    out.push(b'(');
    if part.kind == Kind::Multipart {
        multipart(out, structure, index, extensible);
    } else {
        single(out, structure, index, extensible);
    }
    out.push(b')');
}

/// body-type-mpart: the parts, the subtype, then (BODYSTRUCTURE) params,
/// disposition, language, location.
fn multipart(out: &mut Vec<u8>, structure: &Structure, index: usize, extensible: bool) {
    let part = &structure.parts[index];
    if part.children == 0 {
        out.extend_from_slice(if extensible { EMPTY_BODY_EXTENDED } else { EMPTY_BODY });
    }
    let mut child = index + 1;
    for _ in 0..part.children {
        body_structure(out, structure, child, extensible);
        child += 1 + structure.parts.get(child).map_or(0, |child| child.descendants as usize);
    }
    out.push(b' ');
    encode::string(out, part.content.subtype.as_deref().unwrap_or(b""));
    if extensible {
        out.push(b' ');
        parameters(out, &part.content.params, false);
        common_extension(out, &part.content);
    }
}

/// body-type-1part: basic fields, then lines (text), envelope, body and
/// lines (message/rfc822), then (BODYSTRUCTURE) md5, disposition,
/// language, location.
fn single(out: &mut Vec<u8>, structure: &Structure, index: usize, extensible: bool) {
    let part = &structure.parts[index];
    let content = &part.content;
    let text;
    if part.kind == Kind::Message {
        // Dovecot writes this type in lower case whatever the header said.
        out.extend_from_slice(b"\"message\" \"rfc822\"");
        text = false;
    } else if let Some(media) = &content.media_type {
        text = media.eq_ignore_ascii_case(b"text");
        encode::string(out, media);
        out.push(b' ');
        nstring(out, content.subtype.as_deref());
    } else {
        // RFC 2045 §5.2: no Content-Type is text/plain; charset=us-ascii.
        text = true;
        out.extend_from_slice(b"\"text\" \"plain\"");
    }
    out.push(b' ');
    parameters(out, &content.params, text);
    out.push(b' ');
    nstring(out, content.id.as_deref());
    out.push(b' ');
    nstring(out, content.description.as_deref());
    out.push(b' ');
    encode::string(out, content.encoding.as_deref().unwrap_or(b"7bit"));
    out.push(b' ');
    encode::number(out, part.size());
    if text {
        out.push(b' ');
        encode::number(out, part.lines);
    } else if part.kind == Kind::Message {
        out.push(b' ');
        if structure.is_message(index) {
            // The encapsulated message's envelope (for a top-level
            // message/rfc822, not the outer message's).
            match structure.parts.get(index + 1).and_then(|inner| inner.envelope.as_deref()) {
                Some(env) => envelope(out, env),
                None => out.extend_from_slice(EMPTY_ENVELOPE),
            }
            out.push(b' ');
            body_structure(out, structure, index + 1, extensible);
        } else {
            // The part limit left it without its message: an empty one.
            out.extend_from_slice(EMPTY_ENVELOPE);
            out.push(b' ');
            out.extend_from_slice(if extensible { EMPTY_BODY_EXTENDED } else { EMPTY_BODY });
        }
        out.push(b' ');
        encode::number(out, part.lines);
    }
    if extensible {
        out.push(b' ');
        nstring(out, content.md5.as_deref());
        common_extension(out, content);
    }
}

/// ` dsp lang loc`, shared by both body types.
fn common_extension(out: &mut Vec<u8>, content: &Content) {
    out.push(b' ');
    match &content.disposition {
        None => out.extend_from_slice(b"NIL"),
        Some(disposition) => {
            out.push(b'(');
            encode::string(out, disposition);
            out.push(b' ');
            parameters(out, &content.disposition_params, false);
            out.push(b')');
        }
    }
    out.push(b' ');
    if content.language.is_empty() {
        out.extend_from_slice(b"NIL");
    } else {
        out.push(b'(');
        for (position, tag) in content.language.iter().enumerate() {
            if position > 0 {
                out.push(b' ');
            }
            encode::string(out, tag);
        }
        out.push(b')');
    }
    out.push(b' ');
    nstring(out, content.location.as_deref());
}

/// `("name" "value" ...)` or NIL. `default_charset`: a text part without
/// a charset gets `"charset" "us-ascii"` appended (RFC 2045 §5.2).
fn parameters(out: &mut Vec<u8>, params: &[(Vec<u8>, Vec<u8>)], default_charset: bool) {
    if params.is_empty() && !default_charset {
        out.extend_from_slice(b"NIL");
        return;
    }
    out.push(b'(');
    let mut charset = false;
    for (position, (name, value)) in params.iter().enumerate() {
        if position > 0 {
            out.push(b' ');
        }
        charset |= name.eq_ignore_ascii_case(b"charset");
        encode::string(out, name);
        out.push(b' ');
        encode::string(out, value);
    }
    if default_charset && !charset {
        if !params.is_empty() {
            out.push(b' ');
        }
        out.extend_from_slice(b"\"charset\" \"us-ascii\"");
    }
    out.push(b')');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mime::structure::{Structure, StructureParser};

    fn parse(message: &[u8]) -> Structure {
        let mut parser = StructureParser::new();
        parser.feed(message);
        parser.finish()
    }

    fn bodystructure(message: &[u8], extensible: bool) -> String {
        let mut out = Vec::new();
        body_structure(&mut out, &parse(message), 0, extensible);
        String::from_utf8(out).unwrap()
    }

    fn envelope_of(message: &[u8]) -> String {
        let structure = parse(message);
        let mut out = Vec::new();
        envelope(&mut out, structure.envelope(0).unwrap());
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn simple_text() {
        let message = b"From: Alice <alice@example.org>\r\nSubject: Hello\r\n\r\nHello Bob,\r\nbye.\r\n";
        assert_eq!(
            bodystructure(message, true),
            r#"("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 18 2 NIL NIL NIL NIL)"#
        );
        assert_eq!(bodystructure(message, false), r#"("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 18 2)"#);
        assert_eq!(
            envelope_of(message),
            r#"(NIL "Hello" (("Alice" NIL "alice" "example.org")) (("Alice" NIL "alice" "example.org")) (("Alice" NIL "alice" "example.org")) NIL NIL NIL NIL NIL)"#
        );
    }

    #[test]
    fn multipart_with_extension_data() {
        let message = b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Language: en\r\n\r\nhi\r\n--b\r\nContent-Type: application/pdf; name=\"a.pdf\"\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=\"a.pdf\"\r\nContent-ID: <c@x>\r\nContent-Description: the file\r\nContent-MD5: abc=\r\nContent-Location: http://x/a.pdf\r\n\r\nAAAA\r\n--b--\r\n";
        assert_eq!(
            bodystructure(message, true),
            concat!(
                r#"(("text" "plain" ("charset" "UTF-8") NIL NIL "7bit" 2 0 NIL NIL ("en") NIL)"#,
                r#"("application" "pdf" ("name" "a.pdf") "<c@x>" "the file" "base64" 4 "abc=" ("attachment" ("filename" "a.pdf")) NIL "http://x/a.pdf")"#,
                r#" "mixed" ("boundary" "b") NIL NIL NIL)"#
            )
        );
        assert_eq!(
            bodystructure(message, false),
            concat!(
                r#"(("text" "plain" ("charset" "UTF-8") NIL NIL "7bit" 2 0)"#,
                r#"("application" "pdf" ("name" "a.pdf") "<c@x>" "the file" "base64" 4) "mixed")"#
            )
        );
    }

    #[test]
    fn message_rfc822_and_empty_multipart() {
        let message = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\nFrom: a@b\r\n\r\nbody\r\n--b--\r\n";
        assert_eq!(
            bodystructure(message, false),
            concat!(
                r#"(("message" "rfc822" NIL NIL NIL "7bit" 33 "#,
                r#"(NIL "inner" ((NIL NIL "a" "b")) ((NIL NIL "a" "b")) ((NIL NIL "a" "b")) NIL NIL NIL NIL NIL) "#,
                r#"("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 4 0) 3) "mixed")"#
            )
        );
        assert_eq!(
            bodystructure(b"Content-Type: multipart/mixed\r\n\r\nno parts\r\n", true),
            r#"(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0 NIL NIL NIL NIL) "mixed" NIL NIL NIL NIL)"#
        );
    }

    #[test]
    fn envelope_defaults_groups_and_literals() {
        let message = "Date: Tue, 1 Jan 2030 00:00:00 +0000\r\nSubject: caf\u{e9} \"quoted\"\r\nFrom: a@b\r\nSender: s@b\r\nTo: undisclosed-recipients:;\r\nCc: \r\nIn-Reply-To: <x@y>\r\n\r\n";
        assert_eq!(
            envelope_of(message.as_bytes()),
            "(\"Tue, 1 Jan 2030 00:00:00 +0000\" {14}\r\ncaf\u{e9} \"quoted\" ((NIL NIL \"a\" \"b\")) ((NIL NIL \"s\" \"b\")) ((NIL NIL \"a\" \"b\")) ((NIL NIL \"undisclosed-recipients\" NIL)(NIL NIL NIL NIL)) NIL NIL \"<x@y>\" NIL)"
        );
        assert_eq!(envelope_of(b"\r\n"), "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
    }

    /// Writes ENVELOPE, BODYSTRUCTURE and BODY of every `*.eml` in
    /// `$ROOST_STRUCTURE_DUMP` to `roost-out.txt` there, one line each, in
    /// the form tests/compare scripts read beside Dovecot's answers.
    #[test]
    #[ignore = "writes a dump for the comparison scripts; run by hand"]
    fn dump_for_comparison() {
        let Ok(directory) = std::env::var("ROOST_STRUCTURE_DUMP") else { return };
        let mut names: Vec<String> = std::fs::read_dir(format!("{directory}/msgs"))
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        let mut out = Vec::new();
        for name in names {
            let message = std::fs::read(format!("{directory}/msgs/{name}")).unwrap();
            let structure = parse(&message);
            for item in ["ENVELOPE", "BODYSTRUCTURE", "BODY"] {
                out.extend_from_slice(format!("{name} {item} ").as_bytes());
                match item {
                    "ENVELOPE" => envelope(&mut out, structure.envelope(0).unwrap()),
                    "BODYSTRUCTURE" => body_structure(&mut out, &structure, 0, true),
                    _ => body_structure(&mut out, &structure, 0, false),
                }
                out.push(b'\n');
            }
        }
        std::fs::write(format!("{directory}/roost-out.txt"), out).unwrap();
    }

    proptest::proptest! {
        /// Whatever the parser makes of any bytes, and whatever a damaged
        /// stored record decodes to, renders without panicking.
        #[test]
        fn any_structure_renders(
            message in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600),
            record in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200),
        ) {
            let structure = parse(&message);
            for index in 0..structure.parts.len() {
                let mut out = Vec::new();
                body_structure(&mut out, &structure, index, true);
            }
            if let Some(structure) = Structure::decode(&record) {
                let mut out = Vec::new();
                body_structure(&mut out, &structure, 0, true);
            }
        }
    }
}
