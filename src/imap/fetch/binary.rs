//! `BINARY[part]` and `BINARY.SIZE[part]` (RFC 3516): the planner that finds
//! what to decode and its decoded size before the message's response
//! starts, and the stream that decodes it again as it is sent. Part of the
//! FETCH engine (`imap::fetch`); uses `mime::decode` and the engine's
//! [`Answer`] for reading and pacing.

use std::io;

use super::{Answer, Ended, Message};
use crate::imap::code::Code;
use crate::imap::encode;
use crate::mime::decode::{Decoder, TransferEncoding};
use crate::mime::header;
use crate::net::Connection;
use crate::store::StoreError;
use crate::store::PIECE;

/// A BINARY section as a list of pieces: bytes of the message as stored,
/// bytes made up here (rewritten part headers), and encoded bodies to
/// decode. `size` is the decoded length, found by a first decoding pass
/// (the literal's length must come first).
pub(super) struct Binary {
    segments: Vec<Segment>,
    pub(super) size: u64,
    decoded: bool,
}

enum Segment {
    Stored(u64, u64),
    Made(Vec<u8>),
    Decoded(u64, u64, TransferEncoding),
}

/// What planning a BINARY item found.
pub(super) enum Planned {
    Binary(Binary),
    /// The part cannot be decoded (RFC 3516 §4.3): refuse the command.
    Refused(Ended),
    /// The message's bytes were freed while they were being counted.
    Gone,
}

/// Plans BINARY[part] / BINARY.SIZE[part] for one message, or says why it
/// cannot be decoded: RFC 3516 §4.3 UNKNOWN-CTE, or broken data (PARSE,
/// as Dovecot answers).
///
/// A leaf part is its body decoded. The whole message, a multipart or a
/// message part is sent as stored except that every encoded leaf inside
/// it is decoded and its header says `Content-Transfer-Encoding: binary`
/// (RFC 3516 §4.2 leaves the form open; this is what Dovecot sends).
pub(super) async fn plan_binary(
    answer: &mut Answer<'_>,
    message: &Message,
    part: &[u32],
) -> io::Result<Result<Planned, StoreError>> {
    let Some(structure) = &message.structure else {
        return Ok(Err(StoreError::Bug("BINARY without the structure".into())));
    };
    let size = message.record.size;
    let Some(index) = structure.section(part) else {
        return Ok(Ok(Planned::Binary(Binary { segments: Vec::new(), size: 0, decoded: false })));
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
            match answer.pace.snapshot.read(message.record.blob, header_start, body_start, &mut header_bytes) {
                Ok(true) => {}
                Ok(false) => return Ok(Ok(Planned::Gone)),
                Err(error) => return Ok(Err(error)),
            }
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
                return Ok(Ok(Planned::Refused(Ended::Refused(Code::UnknownCte, "Unknown Content-Transfer-Encoding"))));
            }
            Segment::Decoded(start, end, TransferEncoding::Identity) => {
                // Nothing to decode, but a body labelled 7bit or 8bit may
                // still hold NUL (broken mail): then it goes as a literal8
                // too (RFC 3516 §4.3), never NUL in an ordinary literal.
                match holds_nul(answer, message, *start, *end).await? {
                    Ok(Some(nul)) => decoded_any |= nul,
                    Ok(None) => return Ok(Ok(Planned::Gone)),
                    Err(error) => return Ok(Err(error)),
                }
                end.saturating_sub(*start)
            }
            Segment::Decoded(start, end, encoding) => {
                decoded_any = true;
                match decoded_size(answer, message, *start, *end, *encoding).await? {
                    Ok(Some(Some(size))) => size,
                    Ok(Some(None)) => {
                        return Ok(Ok(Planned::Refused(Ended::Refused(Code::Parse, "Invalid data in MIME part"))));
                    }
                    Ok(None) => return Ok(Ok(Planned::Gone)),
                    Err(error) => return Ok(Err(error)),
                }
            }
        };
    }
    Ok(Ok(Planned::Binary(Binary { segments, size: total, decoded: decoded_any || part.is_empty() })))
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

/// Reads bytes `start..end` of the message a piece at a time, pausing
/// between pieces like any long work, and hands each to `each`, which
/// returns false to stop early. Ok(None): the message's bytes were freed
/// meanwhile.
async fn each_piece(
    answer: &mut Answer<'_>,
    message: &Message,
    start: u64,
    end: u64,
    mut each: impl FnMut(&[u8]) -> bool,
) -> io::Result<Result<Option<()>, StoreError>> {
    let mut piece = Vec::new();
    let mut position = start;
    while position < end {
        let next = (position + PIECE).min(end);
        piece.clear();
        match answer.pace.snapshot.read(message.record.blob, position, next, &mut piece) {
            Ok(true) => {}
            Ok(false) => return Ok(Ok(None)),
            Err(error) => return Ok(Err(error)),
        }
        if !each(&piece) {
            break;
        }
        position = next;
        answer.pace.pause_checked(answer.conn).await?;
    }
    Ok(Ok(Some(())))
}

/// Whether bytes `start..end` of the message hold a NUL; None if the
/// message's bytes were freed meanwhile.
async fn holds_nul(
    answer: &mut Answer<'_>,
    message: &Message,
    start: u64,
    end: u64,
) -> io::Result<Result<Option<bool>, StoreError>> {
    let mut found = false;
    let read = each_piece(answer, message, start, end, |piece| {
        found = piece.contains(&0);
        !found
    })
    .await?;
    Ok(read.map(|read| read.map(|()| found)))
}

/// The decoded length of an encoded body: Some(None) if it is damaged,
/// None if the message's bytes were freed meanwhile. Decoding a large
/// part takes a while, so it pauses between pieces like any long work.
async fn decoded_size(
    answer: &mut Answer<'_>,
    message: &Message,
    start: u64,
    end: u64,
    encoding: TransferEncoding,
) -> io::Result<Result<Option<Option<u64>>, StoreError>> {
    let mut decoder = Decoder::new(encoding);
    let (mut decoded, mut total) = (Vec::new(), 0u64);
    let read = each_piece(answer, message, start, end, |piece| {
        decoded.clear();
        decoder.feed(piece, &mut decoded);
        total += decoded.len() as u64;
        true
    })
    .await?;
    match read {
        Ok(Some(())) => {}
        Ok(None) => return Ok(Ok(None)),
        Err(error) => return Ok(Err(error)),
    }
    decoded.clear();
    decoder.finish(&mut decoded);
    total += decoded.len() as u64;
    Ok(Ok(Some((!decoder.is_damaged()).then_some(total))))
}

/// Sends a planned BINARY section, as a literal8 when anything was
/// decoded (RFC 3516 §4.2: decoded data may hold any byte), decoding again
/// as it goes, cut to `partial`.
pub(super) async fn send_binary(
    answer: &mut Answer<'_>,
    message: &Message,
    binary: &Binary,
    partial: Option<(u32, u32)>,
) -> io::Result<Result<(), StoreError>> {
    let (from, until) = match partial {
        None => (0, binary.size),
        Some((origin, count)) => {
            let from = u64::from(origin).min(binary.size);
            (from, (from + u64::from(count)).min(binary.size))
        }
    };
    if binary.decoded {
        answer.conn.write(b"~");
    }
    encode::literal_header(answer.conn.out(), until - from);
    let mut window = Window { from, until, produced: 0 };
    let (mut piece, mut decoded) = (Vec::new(), Vec::new());
    for segment in &binary.segments {
        if window.produced >= until {
            break;
        }
        let (start, end, encoding) = match segment {
            Segment::Made(bytes) => {
                window.send(answer.conn, bytes);
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
            answer.read_literal(message, position, next, &mut piece)?;
            if encoding == TransferEncoding::Identity {
                window.send(answer.conn, &piece);
            } else {
                decoded.clear();
                decoder.feed(&piece, &mut decoded);
                if next == end {
                    decoder.finish(&mut decoded);
                }
                window.send(answer.conn, &decoded);
            }
            position = next;
            answer.pace.pause_checked(answer.conn).await?;
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
