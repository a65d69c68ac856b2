//! `BODY[section]` and `RFC822.*`: where a section lies in a message
//! ([`part_range`], also CATENATE's URLs), its name as the response
//! writes it, HEADER.FIELDS selection, and streaming the bytes as a
//! literal a buffer at a time. Part of the FETCH engine (`imap::fetch`);
//! uses `mime` (header fields, the structure) and the engine's [`Answer`]
//! for reading and pacing.

use std::io;

use super::{Answer, Message};
use crate::imap::encode;
use crate::imap::types::{Section, SectionText};
use crate::mime::header;
use crate::mime::structure::{SectionKind, Structure};
use crate::store::StoreError;
use crate::store::CHUNK_SIZE;

/// `BODY[section]<origin> ` / `BINARY[section]<origin> `, before the data.
pub(super) fn write_section_head(out: &mut Vec<u8>, name: &[u8], section: &Section, partial: Option<(u32, u32)>) {
    out.extend_from_slice(name);
    write_section_name(out, section);
    out.push(b']');
    if let Some((origin, _)) = partial {
        out.push(b'<');
        encode::number(out, origin);
        out.push(b'>');
    }
    out.push(b' ');
}

/// The section as the response names it (RFC 3501 §7.4.2: as requested).
pub(super) fn write_section_name(out: &mut Vec<u8>, section: &Section) {
    let mut first = true;
    for part in &section.part {
        if !first {
            out.push(b'.');
        }
        first = false;
        encode::number(out, *part);
    }
    if let Some(text) = &section.text {
        if !first {
            out.push(b'.');
        }
        match text {
            SectionText::Header => out.extend_from_slice(b"HEADER"),
            SectionText::Text => out.extend_from_slice(b"TEXT"),
            SectionText::Mime => out.extend_from_slice(b"MIME"),
            SectionText::HeaderFields { not, fields } => {
                out.extend_from_slice(if *not { b"HEADER.FIELDS.NOT (" } else { b"HEADER.FIELDS (" });
                for (index, field) in fields.iter().enumerate() {
                    if index > 0 {
                        out.push(b' ');
                    }
                    encode::astring(out, field.as_bytes());
                }
                out.push(b')');
            }
        }
    }
}

/// Sends the literal for `text` of the whole message, cut to `partial`.
pub(super) async fn send_section(
    answer: &mut Answer<'_>,
    message: &Message,
    text: Option<&SectionText>,
    partial: Option<(u32, u32)>,
) -> io::Result<Result<(), StoreError>> {
    let size = message.record.size;
    let header_size = message.header_size.min(size);
    let (start, end) = match text {
        None => (0, size),
        Some(SectionText::Header) => (0, header_size),
        Some(SectionText::Text) => (header_size, size),
        Some(asked @ SectionText::HeaderFields { not, fields }) => {
            let selected = match &message.summary {
                Some(summary) if summary_covers(asked) => header::Summary(summary).select(fields),
                _ => {
                    let mut bytes = Vec::new();
                    answer.read_literal(message, 0, header_size, &mut bytes)?;
                    select_fields(&bytes, *not, fields)
                }
            };
            let mut selected = cut(&selected, partial).to_vec();
            no_nul(&mut selected);
            encode::literal_header(answer.conn.out(), selected.len() as u64);
            answer.conn.write(&selected);
            return Ok(Ok(()));
        }
        // Sent by send_part.
        Some(SectionText::Mime) => (0, 0),
    };
    send_range(answer, message, start, end, partial).await
}

/// Streams bytes `start..end` of the message as a literal, cut to `partial`.
async fn send_range(
    answer: &mut Answer<'_>,
    message: &Message,
    start: u64,
    end: u64,
    partial: Option<(u32, u32)>,
) -> io::Result<Result<(), StoreError>> {
    let (start, end) = match partial {
        None => (start, end),
        Some((origin, count)) => {
            let from = (start + u64::from(origin)).min(end);
            (from, (from + u64::from(count)).min(end))
        }
    };
    encode::literal_header(answer.conn.out(), end - start);
    // A buffer's worth at a time, so that every step ends in a flush.
    let step = answer.conn.write_limit().max(CHUNK_SIZE) as u64;
    let mut position = start;
    let mut piece = Vec::new();
    while position < end {
        let until = (position + step).min(end);
        piece.clear();
        answer.read_literal(message, position, until, &mut piece)?;
        no_nul(&mut piece);
        answer.conn.write(&piece);
        position = until;
        answer.pace.pause(answer.conn).await?;
    }
    Ok(Ok(()))
}

/// A literal may not hold NUL (RFC 3501 §4.3: CHAR8 is 0x01-0xFF), yet a
/// message can: broken mail delivered over LMTP, or a non-MIME message
/// APPENDed as a literal8 (binary parts are stored base64, see
/// `mime::binary`). In BODY[] and the other non-BINARY sections a NUL is
/// sent as 0x80, as Dovecot does, so the length and the framing hold;
/// BINARY[] gives the bytes as stored.
fn no_nul(bytes: &mut [u8]) {
    for byte in bytes.iter_mut().filter(|byte| **byte == 0) {
        *byte = 0x80;
    }
}

/// Sends a section of a MIME part (`1.2`, `3.HEADER`, `2.MIME`...); a
/// part the message does not have is sent empty, as Dovecot does.
pub(super) async fn send_part(
    answer: &mut Answer<'_>,
    message: &Message,
    section: &Section,
    partial: Option<(u32, u32)>,
) -> io::Result<Result<(), StoreError>> {
    let Some(structure) = &message.structure else {
        return Ok(Err(StoreError::Bug("a part fetched without the structure".into())));
    };
    let Some((start, end)) = part_range(structure, section) else {
        encode::literal_header(answer.conn.out(), 0);
        return Ok(Ok(()));
    };
    let (start, end) = (start.min(message.record.size), end.min(message.record.size));
    if let Some(SectionText::HeaderFields { not, fields }) = &section.text {
        let mut bytes = Vec::new();
        answer.read_literal(message, start, end, &mut bytes)?;
        let selected = select_fields(&bytes, *not, fields);
        let mut selected = cut(&selected, partial).to_vec();
        no_nul(&mut selected);
        encode::literal_header(answer.conn.out(), selected.len() as u64);
        answer.conn.write(&selected);
        return Ok(Ok(()));
    }
    send_range(answer, message, start, end, partial).await
}

/// Where a MIME part's section (`1.2`, `3.HEADER`, `2.MIME`...) lies in the
/// message; None for a part the message does not have. Also resolves
/// CATENATE's URLs (`command::append`).
pub(crate) fn part_range(structure: &Structure, section: &Section) -> Option<(u64, u64)> {
    let kind = match &section.text {
        None => SectionKind::Body,
        Some(SectionText::Header | SectionText::HeaderFields { .. }) => SectionKind::Header,
        Some(SectionText::Text) => SectionKind::Text,
        Some(SectionText::Mime) => SectionKind::Mime,
    };
    match structure.section(&section.part) {
        // Part 1 of a message that is not multipart is its body: its MIME
        // header is the message's header, and it has a HEADER and TEXT
        // only when it is itself a message (Dovecot answers so too).
        Some(0) => {
            let root = &structure.parts[0];
            match (kind, structure.parts.get(1).filter(|_| structure.is_message(0))) {
                (SectionKind::Body, _) => Some((root.body_start, root.body_end)),
                (SectionKind::Mime, _) => Some((root.header_start, root.body_start)),
                (SectionKind::Header, Some(inner)) => Some((inner.header_start, inner.body_start)),
                (SectionKind::Text, Some(inner)) => Some((inner.body_start, inner.body_end)),
                (_, None) => None,
            }
        }
        index => index.and_then(|index| structure.range(index, kind)),
    }
}

/// The summary holds every line of its fields, in order: when it covers all
/// the fields asked for, the message itself need not be read.
pub(super) fn summary_covers(text: &SectionText) -> bool {
    match text {
        SectionText::HeaderFields { not: false, fields } => {
            fields.iter().all(|field| header::in_summary(field.as_bytes()))
        }
        _ => false,
    }
}

fn cut(bytes: &[u8], partial: Option<(u32, u32)>) -> &[u8] {
    match partial {
        None => bytes,
        Some((origin, count)) => {
            let from = (origin as usize).min(bytes.len());
            &bytes[from..(from + count as usize).min(bytes.len())]
        }
    }
}

/// HEADER.FIELDS / HEADER.FIELDS.NOT: the matching fields as they were
/// sent, then the blank line (RFC 3501 §6.4.5). Header lines that are not
/// fields at all are not "listed", so .NOT keeps them (as Dovecot does).
pub fn select_fields(header_bytes: &[u8], not: bool, names: &[String]) -> Vec<u8> {
    let mut selected = Vec::new();
    for (raw, field) in header::lines(header_bytes) {
        let listed = field
            .as_ref()
            .is_some_and(|field| names.iter().any(|name| name.as_bytes().eq_ignore_ascii_case(field.name)));
        if listed != not && (field.is_some() || not) {
            selected.extend_from_slice(raw);
            if !raw.ends_with(b"\n") {
                selected.extend_from_slice(b"\r\n");
            }
        }
    }
    selected.extend_from_slice(b"\r\n");
    selected
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_fields_selection() {
        let header = b"From: a\r\nTo: b\r\nSubject: c\r\n d\r\n\r\n";
        assert_eq!(
            select_fields(header, false, &["subject".into(), "FROM".into()]),
            b"From: a\r\nSubject: c\r\n d\r\n\r\n"
        );
        assert_eq!(select_fields(header, true, &["subject".into(), "FROM".into()]), b"To: b\r\n\r\n");
        assert_eq!(select_fields(header, false, &["X-None".into()]), b"\r\n");
        assert_eq!(select_fields(b"A: 1", false, &["A".into()]), b"A: 1\r\n\r\n");
    }

    #[test]
    fn partial_cuts() {
        assert_eq!(cut(b"0123456789", Some((2, 3))), b"234");
        assert_eq!(cut(b"0123", Some((10, 3))), b"");
        assert_eq!(cut(b"0123", Some((2, 30))), b"23");
    }
}
