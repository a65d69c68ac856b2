//! FETCH data items (RFC 3501 §6.4.5, RFC 3516 BINARY, RFC 8474 EMAILID and
//! THREADID, RFC 8514 SAVEDATE).

use super::{Parser, Result};
use crate::imap::types::{FetchItem, FetchModifiers, Section, SectionText};

/// `ALL` / `FAST` / `FULL` / one item / `(item item ...)`.
pub fn fetch_items(parser: &mut Parser) -> Result<Vec<FetchItem>> {
    if parser.try_byte(b'(') {
        let mut items = Vec::new();
        loop {
            items.push(fetch_item(parser)?);
            if parser.try_byte(b')') {
                return Ok(items);
            }
            parser.sp()?;
        }
    }
    // The macros expand as RFC 3501 §6.4.5 defines them.
    for (name, expansion) in [
        ("ALL", &[FetchItem::Flags, FetchItem::InternalDate, FetchItem::Rfc822Size, FetchItem::Envelope][..]),
        ("FAST", &[FetchItem::Flags, FetchItem::InternalDate, FetchItem::Rfc822Size][..]),
        (
            "FULL",
            &[FetchItem::Flags, FetchItem::InternalDate, FetchItem::Rfc822Size, FetchItem::Envelope, FetchItem::Body][..],
        ),
    ] {
        if word_is(parser, name) {
            return Ok(expansion.to_vec());
        }
    }
    Ok(vec![fetch_item(parser)?])
}

/// `(CHANGEDSINCE n [VANISHED])`, after the items (RFC 7162 §3.1.4.1, §3.2.6).
pub fn fetch_modifiers(parser: &mut Parser) -> Result<FetchModifiers> {
    parser.byte(b'(')?;
    let mut modifiers = FetchModifiers::default();
    loop {
        let word = parser.atom()?.to_ascii_uppercase();
        match word.as_slice() {
            b"CHANGEDSINCE" if modifiers.changed_since.is_none() => {
                parser.sp()?;
                modifiers.changed_since = Some(parser.mod_sequence()?);
            }
            b"VANISHED" if !modifiers.vanished => modifiers.vanished = true,
            _ => return Err(format!("unknown or repeated FETCH modifier {}", String::from_utf8_lossy(&word))),
        }
        if parser.try_byte(b')') {
            return Ok(modifiers);
        }
        parser.sp()?;
    }
}

/// Consumes `name` only if it is a whole word (not the start of a longer one).
fn word_is(parser: &mut Parser, name: &str) -> bool {
    let rest = parser.rest();
    let matches = rest.len() >= name.len()
        && rest[..name.len()].eq_ignore_ascii_case(name.as_bytes())
        && !rest.get(name.len()).is_some_and(|&byte| byte.is_ascii_alphanumeric() || byte == b'.' || byte == b'[');
    if matches {
        parser.position += name.len();
    }
    matches
}

fn fetch_item(parser: &mut Parser) -> Result<FetchItem> {
    // Longest names first: BODY.PEEK before BODY, RFC822.SIZE before RFC822.
    if parser.try_keyword("BODY.PEEK[") {
        return section_item(parser, true, false);
    }
    if parser.try_keyword("BODY[") {
        return section_item(parser, false, false);
    }
    if parser.try_keyword("BINARY.PEEK[") {
        return section_item(parser, true, true);
    }
    if parser.try_keyword("BINARY.SIZE[") {
        let part = section_part(parser)?;
        parser.byte(b']')?;
        return Ok(FetchItem::BinarySize { part });
    }
    if parser.try_keyword("BINARY[") {
        return section_item(parser, false, true);
    }
    for (name, item) in [
        ("BODYSTRUCTURE", FetchItem::BodyStructure),
        ("BODY", FetchItem::Body),
        ("EMAILID", FetchItem::EmailId),
        ("ENVELOPE", FetchItem::Envelope),
        ("FLAGS", FetchItem::Flags),
        ("INTERNALDATE", FetchItem::InternalDate),
        ("MODSEQ", FetchItem::Modseq),
        ("RFC822.HEADER", FetchItem::Rfc822Header),
        ("RFC822.SIZE", FetchItem::Rfc822Size),
        ("RFC822.TEXT", FetchItem::Rfc822Text),
        ("RFC822", FetchItem::Rfc822),
        ("SAVEDATE", FetchItem::SaveDate),
        ("THREADID", FetchItem::ThreadId),
        ("UID", FetchItem::Uid),
    ] {
        if word_is(parser, name) {
            return Ok(item);
        }
    }
    let unknown = parser.take_while(|byte| byte != b' ' && byte != b')');
    Err(format!("unknown FETCH item {}", String::from_utf8_lossy(unknown)))
}

/// After `BODY[`, `BODY.PEEK[`, `BINARY[` or `BINARY.PEEK[`: the section,
/// `]`, and an optional `<origin.count>`.
fn section_item(parser: &mut Parser, peek: bool, binary: bool) -> Result<FetchItem> {
    let section = if binary { Section { part: section_part(parser)?, text: None } } else { section(parser)? };
    parser.byte(b']')?;
    let partial = if parser.try_byte(b'<') {
        let origin = parser.number()?;
        parser.byte(b'.')?;
        let count = parser.nz_number()?;
        parser.byte(b'>')?;
        Some((origin, count))
    } else {
        None
    };
    Ok(FetchItem::Section { section, peek, partial, binary })
}

/// `1.2.3` (possibly empty).
fn section_part(parser: &mut Parser) -> Result<Vec<u32>> {
    let mut part = Vec::new();
    while parser.peek().is_some_and(|byte| byte.is_ascii_digit()) {
        part.push(parser.nz_number()?);
        if part.len() > 64 {
            return Err("section part nested too deeply".into());
        }
        // A dot followed by a digit continues the part; a dot followed by
        // text starts the section text.
        let rest = parser.rest();
        if rest.len() >= 2 && rest[0] == b'.' && rest[1].is_ascii_digit() {
            parser.position += 1;
        } else {
            break;
        }
    }
    Ok(part)
}

fn section(parser: &mut Parser) -> Result<Section> {
    let part = section_part(parser)?;
    if parser.peek() == Some(b']') {
        return Ok(Section { part, text: None });
    }
    if !part.is_empty() {
        parser.byte(b'.')?;
    }
    let text = if parser.try_keyword("HEADER.FIELDS.NOT") {
        header_fields(parser, true)?
    } else if parser.try_keyword("HEADER.FIELDS") {
        header_fields(parser, false)?
    } else if parser.try_keyword("HEADER") {
        SectionText::Header
    } else if parser.try_keyword("TEXT") {
        SectionText::Text
    } else if !part.is_empty() && parser.try_keyword("MIME") {
        // RFC 3501: MIME only follows a part number.
        SectionText::Mime
    } else {
        return Err("invalid section".into());
    };
    Ok(Section { part, text: Some(text) })
}

fn header_fields(parser: &mut Parser, not: bool) -> Result<SectionText> {
    parser.sp()?;
    parser.byte(b'(')?;
    let mut fields = Vec::new();
    loop {
        let field = parser.astring()?;
        // RFC 5322 §2.2: field names are printable US-ASCII except ':'.
        if field.iter().any(|&byte| !(33..=126).contains(&byte) || byte == b':') {
            return Err("invalid header field name".into());
        }
        fields.push(String::from_utf8_lossy(&field).into_owned());
        if parser.try_byte(b')') {
            return Ok(SectionText::HeaderFields { not, fields });
        }
        parser.sp()?;
    }
}
