//! FETCH and UID FETCH (RFC 3501 §6.4.5, §7.4.2).
//!
//! Message bytes stream from the store chunk by chunk into the write
//! buffer, which is flushed at the board's size: fetching a 25 MiB message
//! never holds more than one buffer of it.

use std::io;

use crate::imap::encode;
use crate::imap::session::{Session, State, Status};
use crate::imap::types::{FetchItem, FetchModifiers, Section, SectionText, SequenceSet};
use crate::mime::decode::{Decoder, TransferEncoding};
use crate::mime::header;
use crate::mime::render;
use crate::mime::structure::{SectionKind, Structure, StructureParser};
use crate::net::Connection;
use crate::store::{BlobRecord, ChunkReader, FlagAction, Flags, MessageRecord, Op, Outcome, StoreError, PIECE};

/// Messages answered between explicit yields to other sessions.
const YIELD_EVERY: usize = 128;

pub async fn run(
    session: &mut Session,
    tag: &str,
    uid: bool,
    set: SequenceSet,
    mut items: Vec<FetchItem>,
    modifiers: FetchModifiers,
) -> io::Result<()> {
    // RFC 7162 §3.2.6: VANISHED only in UID FETCH, with CHANGEDSINCE,
    // once QRESYNC is enabled.
    if modifiers.vanished {
        let refusal = if !uid {
            Some("VANISHED needs UID FETCH")
        } else if modifiers.changed_since.is_none() {
            Some("VANISHED needs CHANGEDSINCE")
        } else if !session.qresync {
            Some("QRESYNC must be enabled first")
        } else {
            None
        };
        if let Some(text) = refusal {
            session.tagged(tag, Status::Bad, None, text);
            return Ok(());
        }
    }
    // RFC 3501 §6.4.8: UID FETCH answers always carry the UID.
    if uid && !items.contains(&FetchItem::Uid) {
        items.insert(0, FetchItem::Uid);
    }
    // RFC 7162 §3.1: MODSEQ and CHANGEDSINCE enable CONDSTORE; CHANGEDSINCE
    // implies MODSEQ (§3.1.4.1); and a FETCH that sets \Seen under
    // CONDSTORE reports UID and MODSEQ with the new flags.
    if modifiers.changed_since.is_some() || items.contains(&FetchItem::Modseq) {
        crate::imap::command::enable::condstore(session);
    }
    let wants_modseq =
        modifiers.changed_since.is_some() || (session.condstore && items.iter().any(FetchItem::sets_seen));
    if wants_modseq && !items.contains(&FetchItem::Modseq) {
        items.push(FetchItem::Modseq);
    }
    if session.condstore && items.iter().any(FetchItem::sets_seen) && !items.contains(&FetchItem::Uid) {
        items.insert(0, FetchItem::Uid);
    }
    let store = session.server.store.clone();
    let Some(ranges) = session.resolve_or_bad(tag, &set, uid) else { return Ok(()) };
    if let (true, Some(changed_since)) = (modifiers.vanished, modifiers.changed_since) {
        let Some(view) = session.view() else { return Ok(()) };
        let top = view.uid_next.saturating_sub(1).max(view.uids.last().copied().unwrap_or(0));
        let within = crate::imap::command::qresync::uid_ranges(&set, top);
        if let Err(error) =
            crate::imap::command::qresync::vanished_earlier(session, changed_since, Some(&within), None).await?
        {
            return session.store_failed(tag, error, false).await;
        }
    }
    let State::Selected(_, view) = &mut session.state else { return Ok(()) };
    // RFC 3501 §6.4.5: fetching a body section without .PEEK sets \Seen,
    // durably, before the data goes out.
    let mut seen_modseq = None;
    if !view.read_only && items.iter().any(FetchItem::sets_seen) && !ranges.is_empty() {
        let op = Op::Store {
            mailbox: view.mailbox,
            uids: view.uid_set(&ranges),
            action: FlagAction::Add,
            flags: Flags::SEEN,
            keywords: Vec::new(),
            unchanged_since: None,
        };
        match store.execute(op).await {
            Ok(Outcome::Stored { modseq, changed, .. }) if changed > 0 => {
                view.own_modseqs.push(modseq);
                seen_modseq = Some(modseq);
            }
            Ok(_) => {}
            Err(error) => return session.store_failed(tag, error, false).await,
        }
    }
    let result = respond(session, &ranges, &items, seen_modseq, modifiers.changed_since).await?;
    match result {
        Ok(Ended::All) => session.finish(tag, Status::Ok, None, "FETCH completed").await,
        // RFC 2180 §4.1.2 / RFC 5530: another session expunged some of them.
        Ok(Ended::SomeExpunged) => {
            session
                .finish(tag, Status::No, Some("EXPUNGEISSUED"), "Some of the requested messages no longer exist")
                .await
        }
        Ok(Ended::Refused(code, text)) => session.finish(tag, Status::No, Some(code), text).await,
        Err(error) => session.store_failed(tag, error, false).await,
    }
}

/// How a FETCH's responses ended.
pub(crate) enum Ended {
    All,
    SomeExpunged,
    /// A BINARY item could not be decoded (RFC 3516 §4.3): the response
    /// code and text; the messages before it were answered.
    Refused(&'static str, &'static str),
}

/// A BINARY section as a list of pieces: bytes of the message as stored,
/// bytes made up here (rewritten part headers), and encoded bodies to
/// decode. `size` is the decoded length, found by a first decoding pass
/// (the literal's length must come first).
struct Binary {
    segments: Vec<Segment>,
    size: u64,
    decoded: bool,
}

enum Segment {
    Stored(u64, u64),
    Made(Vec<u8>),
    Decoded(u64, u64, TransferEncoding),
}

/// Plans BINARY[part] / BINARY.SIZE[part] for one message, or says why it
/// cannot be decoded: RFC 3516 §4.3 UNKNOWN-CTE, or broken data (PARSE,
/// as Dovecot answers).
///
/// A leaf part is its body decoded. The whole message, a multipart or a
/// message part is sent as stored except that every encoded leaf inside
/// it is decoded and its header says `Content-Transfer-Encoding: binary`
/// (RFC 3516 §4.2 leaves the form open; this is what Dovecot sends).
fn plan_binary(message: &Message<'_>, part: &[u32]) -> Result<Result<Binary, Ended>, StoreError> {
    let Some(structure) = message.structure else {
        return Err(StoreError::Bug("BINARY without the structure".into()));
    };
    let size = message.record.size;
    let Some(index) = structure.section(part) else {
        return Ok(Ok(Binary { segments: Vec::new(), size: 0, decoded: false }));
    };
    let is_leaf = |index: usize| structure.parts[index].children == 0 && !structure.is_message(index);
    let encoding_of = |index: usize| TransferEncoding::from_header(structure.parts[index].content.encoding.as_deref());
    let target = &structure.parts[index];
    let mut segments = Vec::new();
    if !part.is_empty() && is_leaf(index) {
        segments.push(Segment::Decoded(target.body_start.min(size), target.body_end.min(size), encoding_of(index)));
    } else {
        // The parts inside: for the whole message, every part (the root
        // too when it is a leaf); else the target's descendants.
        let (start, end, first) =
            if part.is_empty() { (0, size, 0) } else { (target.body_start, target.body_end, index + 1) };
        let last = index + target.descendants as usize;
        let mut cursor = start;
        for inner in first..=last.min(structure.parts.len() - 1) {
            let encoding = encoding_of(inner);
            if !is_leaf(inner) || encoding == TransferEncoding::Identity {
                continue;
            }
            let leaf = &structure.parts[inner];
            let (header_start, body_start, body_end) =
                (leaf.header_start.min(size), leaf.body_start.min(size), leaf.body_end.min(size));
            if header_start < cursor {
                continue;
            }
            let mut header_bytes = Vec::new();
            message.chunks.read(message.record.blob, header_start, body_start, &mut header_bytes)?;
            segments.push(Segment::Stored(cursor, header_start));
            segments.push(Segment::Made(binary_header(&header_bytes)));
            segments.push(Segment::Decoded(body_start, body_end, encoding));
            cursor = body_end;
        }
        segments.push(Segment::Stored(cursor, end.min(size)));
    }
    let mut total = 0u64;
    let mut decoded_any = false;
    for segment in &segments {
        total += match segment {
            Segment::Stored(start, end) => end.saturating_sub(*start),
            Segment::Made(bytes) => bytes.len() as u64,
            Segment::Decoded(_, _, TransferEncoding::Unknown) => {
                return Ok(Err(Ended::Refused("UNKNOWN-CTE", "Unknown Content-Transfer-Encoding")));
            }
            Segment::Decoded(start, end, TransferEncoding::Identity) => end.saturating_sub(*start),
            Segment::Decoded(start, end, encoding) => {
                decoded_any = true;
                match decoded_size(message, *start, *end, *encoding)? {
                    Some(size) => size,
                    None => return Ok(Err(Ended::Refused("PARSE", "Invalid data in MIME part"))),
                }
            }
        };
    }
    Ok(Ok(Binary { segments, size: total, decoded: decoded_any || part.is_empty() }))
}

/// A part header with its Content-Transfer-Encoding fields taken out and
/// `Content-Transfer-Encoding: binary` added last, before the blank line.
fn binary_header(header_bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(header_bytes.len() + 36);
    let mut fields_end = 0;
    for field in header::fields(header_bytes) {
        fields_end = field.raw.as_ptr() as usize - header_bytes.as_ptr() as usize + field.raw.len();
        if field.name.eq_ignore_ascii_case(b"content-transfer-encoding") {
            continue;
        }
        out.extend_from_slice(field.raw);
        if !field.raw.ends_with(b"\n") {
            out.extend_from_slice(b"\r\n");
        }
    }
    out.extend_from_slice(b"Content-Transfer-Encoding: binary\r\n");
    out.extend_from_slice(&header_bytes[fields_end.min(header_bytes.len())..]);
    out
}

/// The decoded length of an encoded body, or None if it is damaged.
fn decoded_size(
    message: &Message<'_>,
    start: u64,
    end: u64,
    encoding: TransferEncoding,
) -> Result<Option<u64>, StoreError> {
    let mut decoder = Decoder::new(encoding);
    let (mut decoded, mut total) = (Vec::new(), 0u64);
    message.chunks.pieces(message.record.blob, start, end, |piece, _| {
        decoded.clear();
        decoder.feed(piece, &mut decoded);
        total += decoded.len() as u64;
        true
    })?;
    decoded.clear();
    decoder.finish(&mut decoded);
    total += decoded.len() as u64;
    Ok((!decoder.is_damaged()).then_some(total))
}

/// Sends a planned BINARY section, as a literal8 when anything was
/// decoded (RFC 3516 §4.2: decoded data may hold any byte), decoding again
/// as it goes, cut to `partial`.
async fn send_binary(
    conn: &mut Connection,
    message: &Message<'_>,
    binary: &Binary,
    partial: Option<(u32, u32)>,
) -> io::Result<Result<(), StoreError>> {
    let (from, until) = match partial {
        None => (0, binary.size),
        Some((origin, count)) => {
            let from = (origin as u64).min(binary.size);
            (from, (from + count as u64).min(binary.size))
        }
    };
    if binary.decoded {
        conn.write(b"~");
    }
    encode::literal_header(conn.out(), until - from);
    let mut window = Window { from, until, produced: 0 };
    let (mut piece, mut decoded) = (Vec::new(), Vec::new());
    for segment in &binary.segments {
        if window.produced >= until {
            break;
        }
        let (start, end, encoding) = match segment {
            Segment::Made(bytes) => {
                window.send(conn, bytes);
                continue;
            }
            Segment::Stored(start, end) => (*start, *end, TransferEncoding::Identity),
            Segment::Decoded(start, end, encoding) => (*start, *end, *encoding),
        };
        let mut decoder = Decoder::new(encoding);
        let mut position = start;
        while position < end && window.produced < until {
            let next = (position + PIECE).min(end);
            piece.clear();
            if let Err(error) = message.chunks.read(message.record.blob, position, next, &mut piece) {
                log::error!("message data unreadable mid-FETCH: {error}");
                return Err(io::Error::other("message data unreadable"));
            }
            if encoding == TransferEncoding::Identity {
                window.send(conn, &piece);
            } else {
                decoded.clear();
                decoder.feed(&piece, &mut decoded);
                if next == end {
                    decoder.finish(&mut decoded);
                }
                window.send(conn, &decoded);
            }
            position = next;
            conn.flush_if_full().await?;
        }
    }
    Ok(Ok(()))
}

/// The `<origin.count>` window over a stream of output bytes.
struct Window {
    from: u64,
    until: u64,
    produced: u64,
}

impl Window {
    /// Writes the part of `bytes` (the next ones of the stream) inside the window.
    fn send(&mut self, conn: &mut Connection, bytes: &[u8]) {
        let start = self.produced;
        let end = start + bytes.len() as u64;
        let keep_from = self.from.clamp(start, end) - start;
        let keep_until = self.until.clamp(start, end) - start;
        conn.write(&bytes[keep_from as usize..keep_until as usize]);
        self.produced = end;
    }
}

/// Writes the FETCH responses. Ok(false): some messages had been expunged.
pub(crate) async fn respond(
    session: &mut Session,
    ranges: &[std::ops::Range<usize>],
    items: &[FetchItem],
    seen_modseq: Option<u64>,
    changed_since: Option<u64>,
) -> io::Result<Result<Ended, StoreError>> {
    let store = session.server.store.clone();
    let reader = match store.read() {
        Ok(reader) => reader,
        Err(error) => return Ok(Err(error)),
    };
    let tables = reader.messages().and_then(|messages| Ok((messages, reader.blobs()?, reader.chunks()?)));
    let (messages, blobs, chunks) = match tables {
        Ok(tables) => tables,
        Err(error) => return Ok(Err(error)),
    };
    let State::Selected(_, view) = &session.state else { return Ok(Ok(Ended::All)) };
    let conn = &mut session.conn;
    let mut all_present = true;
    let mut answered = 0usize;
    let needs_structure = items.iter().any(needs_structure);
    let needs_blob = needs_structure
        || items.iter().any(|item| {
            matches!(
                item,
                FetchItem::Section { .. } | FetchItem::Rfc822 | FetchItem::Rfc822Header | FetchItem::Rfc822Text
            )
        });
    let needs_summary = items.iter().any(|item| match item {
        FetchItem::Section { section: Section { text: Some(text @ SectionText::HeaderFields { .. }), .. }, .. } => {
            summary_covers(text)
        }
        _ => false,
    });
    let mut blob_records = blobs.cursor();
    for range in ranges {
        let Some(&low) = view.uids.get(range.start) else { continue };
        let high = view.uids[range.end - 1];
        let mut records = match messages.cursor(view.mailbox, low, high) {
            Ok(cursor) => cursor,
            Err(error) => return Ok(Err(error)),
        };
        let mut summaries = match needs_summary.then(|| reader.summaries(view.mailbox, low, high)).transpose() {
            Ok(cursor) => cursor,
            Err(error) => return Ok(Err(error)),
        };
        for index in range.clone() {
            let uid = view.uids[index];
            let record = match records.find(uid) {
                Ok(Some(record)) => record,
                Ok(None) => {
                    all_present = false;
                    continue;
                }
                Err(error) => return Ok(Err(error)),
            };
            // RFC 7162 §3.1.4.1: only what changed after CHANGEDSINCE.
            if changed_since.is_some_and(|since| record.modseq <= since) {
                continue;
            }
            let blob = match needs_blob.then(|| blob_records.get(record.blob)).transpose() {
                Ok(blob) => blob,
                Err(error) => return Ok(Err(error)),
            };
            let summary = match summaries.as_mut().map(|cursor| cursor.find(uid)).transpose() {
                Ok(summary) => summary.flatten(),
                Err(error) => return Ok(Err(error)),
            };
            let structure = match blob.filter(|_| needs_structure) {
                Some(blob) => match structure_of(&record, blob, &chunks) {
                    Ok(structure) => Some(structure),
                    Err(error) => return Ok(Err(error)),
                },
                None => None,
            };
            let message =
                Message { uid, record: &record, blob, summary, structure: structure.as_ref(), chunks: &chunks };
            // BINARY items are decoded once before anything of this
            // message is sent: their lengths come first, and a part that
            // cannot be decoded refuses the command.
            let mut binaries = Vec::new();
            for item in items {
                let part = match item {
                    FetchItem::Section { binary: true, section, .. } => &section.part,
                    FetchItem::BinarySize { part } => part,
                    _ => continue,
                };
                match plan_binary(&message, part) {
                    Ok(Ok(binary)) => binaries.push(binary),
                    Ok(Err(refused)) => return Ok(Ok(refused)),
                    Err(error) => return Ok(Err(error)),
                }
            }
            let mut binaries = binaries.iter();
            let out = conn.out();
            out.extend_from_slice(b"* ");
            encode::number(out, (index + 1) as u64);
            out.extend_from_slice(b" FETCH (");
            let mut first = true;
            let mut flags_sent = false;
            for item in items {
                if !first {
                    conn.write(b" ");
                }
                first = false;
                let binary = match item {
                    FetchItem::Section { binary: true, .. } | FetchItem::BinarySize { .. } => binaries.next(),
                    _ => None,
                };
                if let Err(error) = write_item(conn, item, &message, binary, view, &mut flags_sent).await? {
                    return Ok(Err(error));
                }
            }
            // RFC 3501 §6.4.5: an implicit \Seen is reported with the data.
            if seen_modseq == Some(record.modseq) && !flags_sent {
                let out = conn.out();
                out.extend_from_slice(b" FLAGS ");
                encode::flag_list(out, record.flags, record.keywords, &view.keywords, view.is_recent(uid));
            }
            conn.write(b")\r\n");
            conn.flush_if_full().await?;
            answered += 1;
            if answered % YIELD_EVERY == 0 {
                // A long FETCH must not starve the other sessions on this thread.
                smol::future::yield_now().await;
            }
        }
    }
    Ok(Ok(if all_present { Ended::All } else { Ended::SomeExpunged }))
}

struct Message<'a> {
    uid: u32,
    record: &'a MessageRecord,
    /// Read when an item needs it (sections: the header size and summary).
    blob: Option<&'a BlobRecord>,
    /// The header summary, read when a HEADER.FIELDS item it covers is asked.
    summary: Option<&'a [u8]>,
    /// The MIME structure, decoded when an item needs it.
    structure: Option<&'a Structure>,
    chunks: &'a ChunkReader,
}

/// Items answered from the MIME structure.
fn needs_structure(item: &FetchItem) -> bool {
    match item {
        FetchItem::Envelope | FetchItem::BodyStructure | FetchItem::Body | FetchItem::BinarySize { .. } => true,
        FetchItem::Section { section, binary, .. } => {
            *binary || !section.part.is_empty() || section.text == Some(SectionText::Mime)
        }
        _ => false,
    }
}

/// The message's structure as stored at delivery; for a message stored
/// before roost kept structures (or with a damaged one), computed again
/// by streaming the message through the parser.
pub fn structure_of(record: &MessageRecord, blob: &BlobRecord, chunks: &ChunkReader) -> Result<Structure, StoreError> {
    if let Some(structure) = Structure::decode(&blob.structure) {
        return Ok(structure);
    }
    let mut parser = StructureParser::new();
    chunks.pieces(record.blob, 0, record.size, |piece, _| {
        parser.feed(piece);
        true
    })?;
    Ok(parser.finish())
}

async fn write_item(
    conn: &mut Connection,
    item: &FetchItem,
    message: &Message<'_>,
    binary: Option<&Binary>,
    view: &crate::imap::view::View,
    flags_sent: &mut bool,
) -> io::Result<Result<(), StoreError>> {
    let record = message.record;
    let out = conn.out();
    match item {
        FetchItem::Flags => {
            out.extend_from_slice(b"FLAGS ");
            encode::flag_list(out, record.flags, record.keywords, &view.keywords, view.is_recent(message.uid));
            *flags_sent = true;
        }
        FetchItem::Uid => {
            out.extend_from_slice(b"UID ");
            encode::number(out, message.uid);
        }
        FetchItem::InternalDate => {
            out.extend_from_slice(b"INTERNALDATE \"");
            record.internal_date.write_imap(out);
            out.push(b'"');
        }
        FetchItem::Rfc822Size => {
            out.extend_from_slice(b"RFC822.SIZE ");
            encode::number(out, record.size);
        }
        FetchItem::Rfc822 | FetchItem::Rfc822Header | FetchItem::Rfc822Text => {
            let (name, text) = match item {
                FetchItem::Rfc822 => ("RFC822 ", None),
                FetchItem::Rfc822Header => ("RFC822.HEADER ", Some(SectionText::Header)),
                _ => ("RFC822.TEXT ", Some(SectionText::Text)),
            };
            out.extend_from_slice(name.as_bytes());
            return send_section(conn, message, &text, None).await;
        }
        FetchItem::Section { section, partial, binary: true, .. } => {
            write_section_head(out, b"BINARY[", section, *partial);
            let Some(binary) = binary else {
                return Ok(Err(StoreError::Bug("BINARY without its plan".into())));
            };
            return send_binary(conn, message, binary, *partial).await;
        }
        FetchItem::Section { section, partial, .. } => {
            write_section_head(out, b"BODY[", section, *partial);
            if !section.part.is_empty() || section.text == Some(SectionText::Mime) {
                return send_part(conn, message, section, *partial).await;
            }
            return send_section(conn, message, &section.text, *partial).await;
        }
        FetchItem::Envelope | FetchItem::BodyStructure | FetchItem::Body => {
            let Some(structure) = message.structure else {
                return Ok(Err(StoreError::Bug("ENVELOPE or BODYSTRUCTURE without the structure".into())));
            };
            match item {
                FetchItem::Envelope => {
                    out.extend_from_slice(b"ENVELOPE ");
                    match structure.envelope(0) {
                        Some(envelope) => render::envelope(out, envelope),
                        None => out.extend_from_slice(b"(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)"),
                    }
                }
                FetchItem::BodyStructure => {
                    out.extend_from_slice(b"BODYSTRUCTURE ");
                    render::body_structure(out, structure, 0, true);
                }
                _ => {
                    out.extend_from_slice(b"BODY ");
                    render::body_structure(out, structure, 0, false);
                }
            }
        }
        FetchItem::Modseq => {
            out.extend_from_slice(b"MODSEQ (");
            encode::number(out, record.modseq);
            out.push(b')');
        }
        FetchItem::BinarySize { part } => {
            out.extend_from_slice(b"BINARY.SIZE[");
            write_section_name(out, &Section { part: part.clone(), text: None });
            out.extend_from_slice(b"] ");
            encode::number(out, binary.map_or(0, |binary| binary.size));
        }
    }
    Ok(Ok(()))
}

/// `BODY[section]<origin> ` / `BINARY[section]<origin> `, before the data.
fn write_section_head(out: &mut Vec<u8>, name: &[u8], section: &Section, partial: Option<(u32, u32)>) {
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
fn write_section_name(out: &mut Vec<u8>, section: &Section) {
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
async fn send_section(
    conn: &mut Connection,
    message: &Message<'_>,
    text: &Option<SectionText>,
    partial: Option<(u32, u32)>,
) -> io::Result<Result<(), StoreError>> {
    let Some(blob) = message.blob else {
        return Ok(Err(StoreError::Bug("a section fetched without its blob record".into())));
    };
    let size = message.record.size;
    let header_size = blob.header_size.min(size);
    let (start, end) = match text {
        None => (0, size),
        Some(SectionText::Header) => (0, header_size),
        Some(SectionText::Text) => (header_size, size),
        Some(asked @ SectionText::HeaderFields { not, fields }) => {
            let selected = match message.summary {
                Some(summary) if summary_covers(asked) => header::Summary(summary).select(fields),
                _ => {
                    let mut bytes = Vec::new();
                    if let Err(error) = message.chunks.read(message.record.blob, 0, header_size, &mut bytes) {
                        return Ok(Err(error));
                    }
                    select_fields(&bytes, *not, fields)
                }
            };
            let selected = cut(&selected, partial);
            encode::literal_header(conn.out(), selected.len() as u64);
            conn.write(selected);
            return Ok(Ok(()));
        }
        // Sent by send_part.
        Some(SectionText::Mime) => (0, 0),
    };
    send_range(conn, message, start, end, partial).await
}

/// Streams bytes `start..end` of the message as a literal, cut to `partial`.
async fn send_range(
    conn: &mut Connection,
    message: &Message<'_>,
    start: u64,
    end: u64,
    partial: Option<(u32, u32)>,
) -> io::Result<Result<(), StoreError>> {
    let (start, end) = match partial {
        None => (start, end),
        Some((origin, count)) => {
            let from = (start + origin as u64).min(end);
            (from, (from + count as u64).min(end))
        }
    };
    encode::literal_header(conn.out(), end - start);
    let step = conn.write_limit().max(crate::store::CHUNK_SIZE) as u64;
    let mut position = start;
    while position < end {
        let until = (position + step).min(end);
        if let Err(error) = message.chunks.read(message.record.blob, position, until, conn.out()) {
            // The literal's length is already promised: the connection
            // cannot continue honestly.
            log::error!("message data unreadable mid-FETCH: {error}");
            return Err(io::Error::other("message data unreadable"));
        }
        position = until;
        conn.flush_if_full().await?;
    }
    Ok(Ok(()))
}

/// Sends a section of a MIME part (`1.2`, `3.HEADER`, `2.MIME`...); a
/// part the message does not have is sent empty, as Dovecot does.
async fn send_part(
    conn: &mut Connection,
    message: &Message<'_>,
    section: &Section,
    partial: Option<(u32, u32)>,
) -> io::Result<Result<(), StoreError>> {
    let Some(structure) = message.structure else {
        return Ok(Err(StoreError::Bug("a part fetched without the structure".into())));
    };
    let kind = match &section.text {
        None => SectionKind::Body,
        Some(SectionText::Header | SectionText::HeaderFields { .. }) => SectionKind::Header,
        Some(SectionText::Text) => SectionKind::Text,
        Some(SectionText::Mime) => SectionKind::Mime,
    };
    let range = match structure.section(&section.part) {
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
    };
    let Some((start, end)) = range else {
        encode::literal_header(conn.out(), 0);
        return Ok(Ok(()));
    };
    let (start, end) = (start.min(message.record.size), end.min(message.record.size));
    if let Some(SectionText::HeaderFields { not, fields }) = &section.text {
        let mut bytes = Vec::new();
        if let Err(error) = message.chunks.read(message.record.blob, start, end, &mut bytes) {
            return Ok(Err(error));
        }
        let selected = select_fields(&bytes, *not, fields);
        let selected = cut(&selected, partial);
        encode::literal_header(conn.out(), selected.len() as u64);
        conn.write(selected);
        return Ok(Ok(()));
    }
    send_range(conn, message, start, end, partial).await
}

/// The summary holds every line of its fields, in order: when it covers all
/// the fields asked for, the message itself need not be read.
fn summary_covers(text: &SectionText) -> bool {
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
