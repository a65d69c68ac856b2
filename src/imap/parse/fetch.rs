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

/// `(CHANGEDSINCE n [VANISHED])`, after the items (RFC 7162 §3.1.4.1, §3.2.6),
/// and `PARTIAL range` (RFC 9394 §3.3).
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
            // RFC 9394 §3.3.
            b"PARTIAL" if modifiers.partial.is_none() => {
                parser.sp()?;
                modifiers.partial = Some(super::search::partial_range(parser)?);
            }
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
    if word_is(parser, "PREVIEW") {
        return preview_item(parser);
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

/// After `PREVIEW`: its optional modifiers (RFC 8970 §7:
/// `"PREVIEW" [SP "(" preview-mod *(SP preview-mod) ")"]`, and `LAZY` is
/// the only one defined). As the last item of a FETCH without
/// parentheses, `PREVIEW (CHANGEDSINCE 5)` is PREVIEW followed by the
/// FETCH modifiers (RFC 7162), not a preview modifier: those are left for
/// the command. Any other modifier is outside the grammar: BAD.
fn preview_item(parser: &mut Parser) -> Result<FetchItem> {
    let rest = parser.rest();
    if !rest.starts_with(b" (") {
        return Ok(FetchItem::Preview { lazy: false });
    }
    let after = &rest[2..];
    let word_end = after.iter().position(|&byte| byte == b' ' || byte == b')').unwrap_or(after.len());
    let word = &after[..word_end];
    if word.eq_ignore_ascii_case(b"CHANGEDSINCE") || word.eq_ignore_ascii_case(b"VANISHED") {
        return Ok(FetchItem::Preview { lazy: false });
    }
    parser.position += 2;
    let mut lazy = false;
    loop {
        let modifier = parser.atom()?.to_ascii_uppercase();
        match modifier.as_slice() {
            b"LAZY" if !lazy => lazy = true,
            _ => return Err(format!("unknown or repeated PREVIEW modifier {}", String::from_utf8_lossy(&modifier))),
        }
        if parser.try_byte(b')') {
            return Ok(FetchItem::Preview { lazy });
        }
        parser.sp()?;
    }
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

pub(super) fn section(parser: &mut Parser) -> Result<Section> {
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

#[cfg(test)]
mod preview_tests {
    use crate::imap::parse::parse_command;
    use crate::imap::types::{CommandBody, FetchArguments, FetchItem};
    use proptest::prelude::*;

    fn items(line: &str) -> Result<(Vec<FetchItem>, Option<u64>), String> {
        match parse_command(line.as_bytes()) {
            Ok(command) => match command.body {
                CommandBody::Fetch(FetchArguments { items, modifiers, .. }) => Ok((items, modifiers.changed_since)),
                other => Err(format!("not a FETCH: {other:?}")),
            },
            Err(error) => Err(error.message),
        }
    }

    #[test]
    fn preview_and_its_modifiers() {
        let plain = FetchItem::Preview { lazy: false };
        let lazy = FetchItem::Preview { lazy: true };
        assert_eq!(items("a FETCH 1 PREVIEW").unwrap().0, vec![plain.clone()]);
        assert_eq!(items("a FETCH 1 preview (lazy)").unwrap().0, vec![lazy.clone()]);
        assert_eq!(items("a FETCH 1:* (UID PREVIEW)").unwrap().0, vec![FetchItem::Uid, plain.clone()]);
        assert_eq!(items("a UID FETCH 1:* (PREVIEW (LAZY) FLAGS)").unwrap().0, vec![lazy.clone(), FetchItem::Flags]);
        assert_eq!(items("a FETCH 1 (PREVIEW (LAZY))").unwrap().0, vec![lazy]);
        // The FETCH modifiers after a bare PREVIEW are the command's.
        assert_eq!(items("a FETCH 1 PREVIEW (CHANGEDSINCE 5)").unwrap(), (vec![plain.clone()], Some(5)));
        assert_eq!(items("a FETCH 1 (PREVIEW) (CHANGEDSINCE 7)").unwrap(), (vec![plain], Some(7)));
    }

    #[test]
    fn bad_preview_modifiers() {
        for bad in [
            "a FETCH 1 PREVIEW (FUZZY)",
            "a FETCH 1 (PREVIEW (LAZY LAZY))",
            "a FETCH 1 (PREVIEW ())",
            "a FETCH 1 (PREVIEW (LAZY)",
            "a FETCH 1 (PREVIEW (LAZY FUZZY))",
            "a FETCH 1 (PREVIEW(LAZY))",
            "a FETCH 1 PREVIEWS",
            "a FETCH 1 (PREVIEW.PEEK)",
        ] {
            assert!(items(bad).is_err(), "{bad}");
        }
        assert!(items("a FETCH 1 PREVIEW (FUZZY)").unwrap_err().contains("PREVIEW modifier"));
    }

    proptest! {
        /// Any list of PREVIEW modifiers: accepted exactly when it is one LAZY.
        #[test]
        fn preview_modifier_lists(
            modifiers in proptest::collection::vec(proptest::sample::select(vec!["LAZY", "lazy", "FUZZY", "", "1"]), 0..4),
            in_list in any::<bool>(),
        ) {
            let list = format!("PREVIEW ({})", modifiers.join(" "));
            let line = if in_list { format!("a FETCH 1 (UID {list})") } else { format!("a FETCH 1 {list}") };
            let valid = modifiers.len() == 1 && modifiers[0].eq_ignore_ascii_case("LAZY");
            match items(&line) {
                Ok((items, _)) => {
                    prop_assert!(valid, "{line} accepted");
                    prop_assert_eq!(items.last(), Some(&FetchItem::Preview { lazy: true }));
                }
                Err(_) => prop_assert!(!valid, "{line} refused"),
            }
        }
    }
}
