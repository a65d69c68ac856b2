//! ENVELOPE and BODY / BODYSTRUCTURE as IMAP sends them (RFC 3501 §7.4.2,
//! RFC 9051 §7.5.2), from the stored [`Structure`]. Field by field this
//! follows what Dovecot 2.3 answers, so clients see the same data whichever
//! server they talk to.

use super::address::Address;
use super::structure::{Content, Envelope, Kind, Structure};
use crate::imap::encode;

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
    nstring(out, env.subject.as_deref());
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
            match structure.envelope(index) {
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
