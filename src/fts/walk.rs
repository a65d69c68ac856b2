//! What the index reads of one stored message: the streams of decoded text
//! the scan of `imap::search::eval` reads, in the same pieces, with a
//! stream end wherever the scan's matcher starts afresh (see the module
//! docs of [`crate::fts`] for the definition). Reads a [`PIECE`] at a time:
//! no whole-message buffer.

use super::{Indexed, Trigrams};
use crate::mail::Flags;
use crate::mime::charset::CharsetDecoder;
use crate::mime::decode::{decode_header_value, Decoder, TransferEncoding};
use crate::mime::header;
use crate::mime::structure::Kind;
use crate::store::{structure_of, BlobRecord, ChunkReader, MessageRecord, StoreError, PIECE};
use crate::util::datetime::DateTime;

/// Bytes of a header read: the scan's `HEADER_SEARCHED` (the message's own
/// header and each MIME part's, from its first byte).
pub const HEADER_READ: u64 = 64 * 1024;

/// What one message's text gave: the trigrams of its text parts' bodies
/// (BODY) and of its headers (the message's and its parts', for TEXT and
/// header keys).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobText {
    pub body: Indexed,
    pub header: Indexed,
}

impl BlobText {
    /// Whether either set went over the cap: the message is then left
    /// unindexed (a candidate for every needle).
    pub fn unindexed(&self) -> bool {
        self.body == Indexed::Unindexed || self.header == Indexed::Unindexed
    }
}

/// Feeds every field of `bytes` (a header) to `out`: its name as one
/// stream, its value (folds joined, RFC 2047 words decoded, as the scan's
/// `Needle::in_header_value` reads it) as another.
pub fn header_streams(bytes: &[u8], out: &mut Trigrams) {
    for field in header::fields(bytes) {
        out.feed(&String::from_utf8_lossy(field.name));
        out.end_stream();
        let value = header::join_folds(field.value);
        let plain = value.is_ascii() && !value.windows(2).any(|pair| pair == b"=?");
        match std::str::from_utf8(&value) {
            Ok(text) if plain => out.feed(text),
            _ => out.feed(&decode_header_value(&value)),
        }
        out.end_stream();
    }
}

/// Reads blob `id` (described by `blob`) through `chunks` and collects its
/// trigrams, at most `cap` distinct ones per set. `read` counts the bytes
/// read (the indexer's work budget).
pub fn index_blob(
    chunks: &ChunkReader,
    id: u64,
    blob: &BlobRecord,
    cap: usize,
    read: &mut u64,
) -> Result<BlobText, StoreError> {
    let size = blob.size;
    let mut headers = Trigrams::new(cap);
    let mut body = Trigrams::new(cap);
    let mut bytes = Vec::new();
    chunks.read(id, 0, blob.header_size.min(size).min(HEADER_READ), &mut bytes)?;
    *read += bytes.len() as u64;
    header_streams(&bytes, &mut headers);
    let record = MessageRecord {
        blob: id,
        internal_date: DateTime { unix: 0, offset_minutes: 0 },
        size,
        flags: Flags::default(),
        keywords: 0,
        modseq: 0,
    };
    let structure = structure_of(&record, blob, chunks)?;
    let (mut piece, mut decoded, mut text) = (Vec::new(), Vec::new(), String::new());
    for (index, part) in structure.parts.iter().enumerate() {
        if headers.is_over() && body.is_over() {
            break;
        }
        if index > 0 {
            let start = part.header_start.min(size);
            let end = part.body_start.min(size).min(start + HEADER_READ);
            bytes.clear();
            chunks.read(id, start, end, &mut bytes)?;
            *read += bytes.len() as u64;
            header_streams(&bytes, &mut headers);
        }
        if part.kind != Kind::Text || part.children != 0 {
            continue;
        }
        let (start, end) = (part.body_start.min(size), part.body_end.min(size));
        if start >= end {
            continue;
        }
        let label = part.content.params.iter().find(|(name, _)| name.eq_ignore_ascii_case(b"charset"));
        let mut charset =
            label.and_then(|(_, value)| CharsetDecoder::for_label(value)).unwrap_or_else(CharsetDecoder::lenient_utf8);
        let mut decoder = Decoder::new(TransferEncoding::from_header(part.content.encoding.as_deref()));
        let mut position = start;
        while position < end && !body.is_over() {
            let until = (position + PIECE).min(end);
            piece.clear();
            chunks.read(id, position, until, &mut piece)?;
            *read += until - position;
            position = until;
            decoded.clear();
            decoder.feed(&piece, &mut decoded);
            text.clear();
            charset.feed(&decoded, &mut text);
            if position == end {
                decoded.clear();
                decoder.finish(&mut decoded);
                charset.feed(&decoded, &mut text);
                charset.finish(&mut text);
            }
            body.feed(&text);
        }
        body.end_stream();
    }
    Ok(BlobText { body: body.finish(), header: headers.finish() })
}
