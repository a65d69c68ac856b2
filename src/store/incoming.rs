//! A message on its way into the store: bytes arrive in whatever pieces
//! the network gives, line ends are made CRLF, the header summary, the
//! MIME structure and the preview (RFC 8970, `mime::preview`) are computed
//! as they pass, and whole board-sized pieces go to a pending blob. The message is never held whole; only the final
//! (durable) Append makes the blob a message.
//!
//! Used by APPEND and by LMTP delivery. The bare-LF mending applies to
//! every byte; raw binary content reaches it only base64-encoded (APPEND
//! converts a literal8's binary parts first, `mime::binary`; LMTP refuses
//! BINARYMIME).

use super::{NewMessage, Op, Store, StoreError, CHUNK_SIZE};
use crate::mime::header::HeaderCollector;
use crate::mime::preview::Collector;
use crate::mime::structure::StructureParser;
use crate::store::Flags;
use crate::util::datetime::DateTime;

/// Turns every bare LF into CRLF (RFC 5322 §2.3: lines end in CRLF; IMAP
/// clients count on it for RFC822.SIZE and section offsets). A bare CR is
/// left alone, as Dovecot does.
#[derive(Default)]
pub struct LineEnds {
    last_was_cr: bool,
}

impl LineEnds {
    /// Does `data` (following what came before) hold a bare LF?
    pub fn needs_mending(&self, data: &[u8]) -> bool {
        let mut previous_cr = self.last_was_cr;
        for &byte in data {
            if byte == b'\n' && !previous_cr {
                return true;
            }
            previous_cr = byte == b'\r';
        }
        false
    }

    /// Appends `data` to `out` with bare LFs made CRLF.
    pub fn mend(&mut self, data: &[u8], out: &mut Vec<u8>) {
        for &byte in data {
            if byte == b'\n' && !self.last_was_cr {
                out.push(b'\r');
            }
            out.push(byte);
            self.last_was_cr = byte == b'\r';
        }
    }

    /// Notes `data` as passed through unchanged.
    pub fn pass(&mut self, data: &[u8]) {
        if let Some(&last) = data.last() {
            self.last_was_cr = last == b'\r';
        }
    }
}

pub struct Incoming<'a> {
    store: &'a Store,
    piece: usize,
    buffer: Vec<u8>,
    blob: Option<u64>,
    next_chunk: u32,
    size: u64,
    lines: LineEnds,
    header: HeaderCollector,
    structure: StructureParser,
    preview: Collector,
    failure: Option<StoreError>,
}

impl<'a> Incoming<'a> {
    /// `piece` is the board's write size (rounded to whole chunks, so chunk
    /// numbers line up); `expected` a size hint for the first buffer.
    pub fn new(store: &'a Store, piece: usize, expected: u64) -> Self {
        let piece = (piece / CHUNK_SIZE).max(1) * CHUNK_SIZE;
        Incoming {
            store,
            piece,
            buffer: Vec::with_capacity(piece.min(expected.min(usize::MAX as u64) as usize)),
            blob: None,
            next_chunk: 0,
            size: 0,
            lines: LineEnds::default(),
            header: HeaderCollector::default(),
            structure: StructureParser::new(),
            preview: Collector::default(),
            failure: None,
        }
    }

    /// How many bytes the next read may add without passing a piece.
    pub fn room(&self) -> usize {
        self.piece.saturating_sub(self.buffer.len()).max(1)
    }

    /// Where a read may append directly; call [`Incoming::accept`] after.
    pub fn buffer(&mut self) -> &mut Vec<u8> {
        &mut self.buffer
    }

    /// Takes in `data` (LMTP, whose bytes come out of a dot-unstuffing pass
    /// rather than straight off the socket).
    pub async fn write(&mut self, data: &[u8]) {
        let before = self.buffer.len();
        self.buffer.extend_from_slice(data);
        self.accept(before).await;
    }

    /// Bytes taken in so far, line ends mended.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Takes in what was appended to the buffer since `before`.
    pub async fn accept(&mut self, before: usize) {
        if self.lines.needs_mending(&self.buffer[before..]) {
            let raw = self.buffer.split_off(before);
            self.lines.mend(&raw, &mut self.buffer);
        } else {
            self.lines.pass(&self.buffer[before..]);
        }
        let new = &self.buffer[before..];
        self.size += new.len() as u64;
        self.header.feed(new);
        // The preview pass feeds the structure pass, a line at a time.
        self.preview.feed(&mut self.structure, new);
        while self.buffer.len() >= self.piece {
            let rest = self.buffer.split_off(self.piece);
            let data = std::mem::replace(&mut self.buffer, rest);
            self.send(data).await;
        }
        if self.buffer.capacity() < self.piece.min(4 * CHUNK_SIZE) {
            self.buffer.reserve(self.piece.min(4 * CHUNK_SIZE) - self.buffer.len());
        }
    }

    async fn send(&mut self, data: Vec<u8>) {
        if self.failure.is_some() {
            // Keep taking what the client sends, but store nothing more.
            return;
        }
        let chunks = data.len().div_ceil(CHUNK_SIZE) as u32;
        match self.store.write_blob(self.blob, self.next_chunk, data).await {
            Ok(id) => {
                self.blob.get_or_insert(id);
                self.next_chunk += chunks;
            }
            Err(error) => self.failure = Some(error),
        }
    }

    /// Writes the tail and gives the message, ready for an Append; its
    /// blob is pending until then (the caller discards it on failure).
    pub async fn finish(mut self) -> Result<NewMessage, StoreError> {
        if !self.buffer.is_empty() {
            let data = std::mem::take(&mut self.buffer);
            self.send(data).await;
        }
        if let Some(error) = self.failure.take() {
            self.abandon();
            return Err(error);
        }
        let Some(blob) = self.blob.take() else {
            return Err(StoreError::Bug("empty message reached the store".into()));
        };
        let structure = std::mem::take(&mut self.structure).finish();
        let preview = std::mem::take(&mut self.preview).finish(&structure);
        Ok(NewMessage {
            blob,
            size: self.size,
            header_size: self.header.header_size(),
            structure: structure.encode(),
            summary: self.header.summary(),
            preview: Some(preview),
            flags: Flags::default(),
            keywords: Vec::new(),
            internal_date: DateTime::now(),
        })
    }

    /// Drops what was written (a client gone, a refused message).
    pub fn abandon(&mut self) {
        if let Some(blob) = self.blob.take() {
            self.store.submit(Op::DiscardBlobs { blobs: vec![blob] });
        }
    }
}

impl Drop for Incoming<'_> {
    fn drop(&mut self) {
        self.abandon();
    }
}

#[cfg(test)]
mod tests {
    use super::LineEnds;

    fn mend_in_pieces(input: &[u8], piece: usize) -> Vec<u8> {
        let mut lines = LineEnds::default();
        let mut out = Vec::new();
        for part in input.chunks(piece.max(1)) {
            if lines.needs_mending(part) {
                lines.mend(part, &mut out);
            } else {
                lines.pass(part);
                out.extend_from_slice(part);
            }
        }
        out
    }

    #[test]
    fn bare_lf_becomes_crlf_and_bare_cr_stays() {
        let input = b"a\nb\r\nc\rd\n\n";
        for piece in 1..=input.len() {
            assert_eq!(mend_in_pieces(input, piece), b"a\r\nb\r\nc\rd\r\n\r\n", "piece {piece}");
        }
    }

    #[test]
    fn crlf_split_across_reads_is_not_doubled() {
        let mut lines = LineEnds::default();
        let mut out = Vec::new();
        assert!(!lines.needs_mending(b"x\r"));
        lines.pass(b"x\r");
        assert!(!lines.needs_mending(b"\ny"));
        lines.mend(b"\ny", &mut out);
        assert_eq!(out, b"\ny");
    }

    proptest::proptest! {
        #[test]
        fn mended_text_has_only_crlf_line_ends(input in proptest::collection::vec(
            proptest::sample::select(vec![b'a', b'\r', b'\n']), 0..64), piece in 1usize..9) {
            let out = mend_in_pieces(&input, piece);
            for (at, &byte) in out.iter().enumerate() {
                if byte == b'\n' {
                    proptest::prop_assert!(at > 0 && out[at - 1] == b'\r');
                }
            }
            let without: Vec<u8> = out.iter().copied().filter(|&b| b != b'\r').collect();
            let original: Vec<u8> = input.iter().copied().filter(|&b| b != b'\r').collect();
            proptest::prop_assert_eq!(without, original);
        }
    }
}
