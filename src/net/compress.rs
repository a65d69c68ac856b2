//! COMPRESS=DEFLATE (RFC 4978): raw DEFLATE (RFC 1951, no zlib header)
//! both ways, layered inside [`super::Connection`] over whatever the
//! stream is, so over TLS the bytes are compressed first and then
//! encrypted (RFC 4978 §4 asks for that order).
//!
//! Memory is the constraint (a board runs hundreds of sessions in a few
//! MB), and the two directions differ:
//!
//! - Reading: the client's stream may refer back 32 KiB at any time, so a
//!   compressed session holds an inflater for its whole life (one 42 KiB
//!   box with miniz_oxide: the 32 KiB window and the Huffman tables). No
//!   inflater can do with less without refusing some clients' streams.
//! - Writing: ours is the side that chooses. Every batch of output ends with
//!   a sync flush (an empty stored block: byte-aligned, not final), which
//!   RFC 4978 §4 asks for anyway so the client never waits on bytes left in
//!   the compressor. After a sync flush the next block may start with an
//!   empty history, so the compressor (312 KiB with miniz_oxide) is
//!   dropped whenever the session goes back to waiting
//!   ([`Deflate::release`], called from `Connection::release_buffers`) and
//!   made again for the next response. An idle or IDLEing compressed
//!   session therefore holds only the inflater; one that is sending holds
//!   both. Matches across a wait are lost, a small price: a response
//!   batch is kilobytes of repetitive protocol text.
//!
//! A board caps the sessions compressed at once (`max_compressed_connections`,
//! 0: COMPRESS not offered); beyond it COMPRESS answers `NO [LIMIT]`. The
//! count lives in a thread-local: every session runs on the one session
//! thread (DESIGN.md), so it counts the whole server.

use std::cell::Cell;
use std::io;

use miniz_oxide::deflate::core::{create_comp_flags_from_zip_params, CompressorOxide};
use miniz_oxide::inflate::stream::InflateState;
use miniz_oxide::{DataFormat, MZError, MZFlush, MZStatus};

thread_local! {
    static COMPRESSED: Cell<usize> = const { Cell::new(0) };
}

/// One of the board's `max_compressed_connections` places; given back on drop.
pub struct Slot(());

impl Slot {
    /// A place if fewer than `max` sessions are compressed.
    pub fn take(max: usize) -> Option<Slot> {
        COMPRESSED.with(|count| {
            if count.get() >= max {
                return None;
            }
            count.set(count.get() + 1);
            Some(Slot(()))
        })
    }

    /// Sessions compressed now.
    #[cfg(test)]
    pub fn in_use() -> usize {
        COMPRESSED.with(Cell::get)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        COMPRESSED.with(|count| count.set(count.get().saturating_sub(1)));
    }
}

/// The compression state of one connection.
pub struct Deflate {
    inflater: Box<InflateState>,
    /// Compressed bytes from the client not inflated yet (`raw_start..raw_end`);
    /// released while empty.
    raw_in: Vec<u8>,
    raw_start: usize,
    raw_end: usize,
    /// The last inflate filled its output: the inflater may hold more
    /// output without any new input.
    inflater_full: bool,
    /// Only while a response is being written (see the module doc).
    compressor: Option<Box<CompressorOxide>>,
    /// Compressed output waiting to be written (`..raw_out_len`).
    raw_out: Vec<u8>,
    raw_out_len: usize,
    /// The board's `compress_level` (1-9): CPU against bytes, same memory.
    level: u8,
    _slot: Slot,
}

fn bad_data(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("invalid compressed data from the client: {what}"))
}

impl Deflate {
    /// Starts compression. `pipelined`: bytes the client sent after the
    /// COMPRESS command's CRLF (RFC 4978 §3: already compressed).
    pub fn new(slot: Slot, pipelined: &[u8], level: u8) -> Deflate {
        Deflate {
            inflater: InflateState::new_boxed(DataFormat::Raw),
            raw_in: pipelined.to_vec(),
            raw_start: 0,
            raw_end: pipelined.len(),
            inflater_full: false,
            compressor: None,
            raw_out: Vec::new(),
            raw_out_len: 0,
            level: level.clamp(1, 9),
            _slot: slot,
        }
    }

    /// Whether inflating may yield bytes without reading the socket.
    pub fn has_buffered(&self) -> bool {
        self.raw_start < self.raw_end || self.inflater_full
    }

    /// Inflates what is buffered into `out`: the count written, 0 if more
    /// compressed input is needed. A stream that is not valid DEFLATE, or
    /// that ends (RFC 4978 has no end but the connection's), is an error.
    pub fn inflate_into(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() || !self.has_buffered() {
            return Ok(0);
        }
        let input = &self.raw_in[self.raw_start..self.raw_end];
        let result = miniz_oxide::inflate::stream::inflate(&mut self.inflater, input, out, MZFlush::None);
        self.raw_start += result.bytes_consumed;
        self.inflater_full = result.bytes_written == out.len();
        match result.status {
            Ok(MZStatus::Ok) => {}
            Ok(MZStatus::StreamEnd) => return Err(bad_data("the client ended its compressed stream")),
            Ok(MZStatus::NeedDict) => return Err(bad_data("a preset dictionary was asked for")),
            // No progress possible without more input.
            Err(MZError::Buf) => {}
            Err(error) => return Err(bad_data(&format!("{error:?}"))),
        }
        if self.raw_start == self.raw_end {
            self.raw_start = 0;
            self.raw_end = 0;
        }
        Ok(result.bytes_written)
    }

    /// Adds compressed bytes read from the socket.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.raw_start > 0 {
            self.raw_in.copy_within(self.raw_start..self.raw_end, 0);
            self.raw_end -= self.raw_start;
            self.raw_start = 0;
        }
        self.raw_in.truncate(self.raw_end);
        self.raw_in.extend_from_slice(bytes);
        self.raw_end = self.raw_in.len();
    }

    /// Compresses as much of `input` as fits in `room` bytes of output, with
    /// a sync flush at the end of the input. Returns the bytes of `input`
    /// taken and whether the flush is complete; the compressed bytes are
    /// then in [`Deflate::compressed`].
    pub fn compress(&mut self, input: &[u8], room: usize) -> io::Result<(usize, bool)> {
        let level = self.level;
        let compressor = self.compressor.get_or_insert_with(|| {
            // Negative window bits: raw DEFLATE, no zlib header (RFC 4978 §3).
            Box::new(CompressorOxide::new(create_comp_flags_from_zip_params(level.into(), -15, 0)))
        });
        let room = room.max(64);
        if self.raw_out.len() < room {
            self.raw_out.resize(room, 0);
        }
        let result = miniz_oxide::deflate::stream::deflate(compressor, input, &mut self.raw_out[..room], MZFlush::Sync);
        if let Err(error) = result.status {
            return Err(io::Error::other(format!("compression failed: {error:?}")));
        }
        self.raw_out_len = result.bytes_written;
        // All input taken and room to spare: the flush marker is out too.
        Ok((result.bytes_consumed, result.bytes_consumed == input.len() && result.bytes_written < room))
    }

    pub fn compressed(&self) -> &[u8] {
        &self.raw_out[..self.raw_out_len]
    }

    /// The session waits: drop the compressor (the last output ended with
    /// a sync flush) and the empty buffers; the inflater stays.
    pub fn release(&mut self) {
        self.compressor = None;
        self.raw_out = Vec::new();
        self.raw_out_len = 0;
        if self.raw_start == self.raw_end {
            self.raw_in = Vec::new();
            self.raw_start = 0;
            self.raw_end = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Compresses `text` as one response batch, as the connection does.
    fn batch(deflate: &mut Deflate, text: &[u8], room: usize) -> Vec<u8> {
        let mut wire = Vec::new();
        let mut rest = text;
        loop {
            let (taken, done) = deflate.compress(rest, room).unwrap();
            rest = &rest[taken..];
            wire.extend_from_slice(deflate.compressed());
            if done {
                return wire;
            }
        }
    }

    /// Inflates everything buffered in `deflate` (as the client's side).
    fn inflate_all(deflate: &mut Deflate, wire: &[u8]) -> Vec<u8> {
        deflate.push(wire);
        let mut out = Vec::new();
        let mut chunk = [0u8; 7];
        loop {
            let count = deflate.inflate_into(&mut chunk).unwrap();
            if count == 0 {
                return out;
            }
            out.extend_from_slice(&chunk[..count]);
        }
    }

    fn deflate() -> Deflate {
        Deflate::new(Slot(()), b"", 6)
    }

    #[test]
    fn batches_round_trip_across_released_compressors() {
        let mut server = deflate();
        let mut client = deflate();
        let mut expected = Vec::new();
        for round in 0..20 {
            let text: Vec<u8> = (0..round * 300).map(|i| b"* 1 FETCH (FLAGS (\\Seen))\r\n"[i % 27]).collect();
            let wire = batch(&mut server, &text, 100);
            // Each batch ends with a sync flush's empty stored block.
            assert!(wire.ends_with(&[0, 0, 0xff, 0xff]), "round {round}");
            // Everything sent is readable at once: nothing stays in the compressor.
            assert_eq!(inflate_all(&mut client, &wire), text);
            expected.extend_from_slice(&text);
            if round % 3 == 0 {
                server.release();
                assert!(server.compressor.is_none());
            }
        }
        assert!(!expected.is_empty());
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let mut client = deflate();
        // BTYPE 11 is reserved (RFC 1951 §3.2.3).
        client.push(&[0xff, 0xff, 0xff, 0xff]);
        let error = client.inflate_into(&mut [0u8; 64]).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
    }

    #[test]
    fn a_final_block_ends_the_session() {
        let mut client = deflate();
        // A final stored block holding "a".
        let wire = [0x01, 0x01, 0x00, 0xfe, 0xff, b'a'];
        client.push(&wire);
        let mut out = [0u8; 16];
        let result = client.inflate_into(&mut out);
        assert!(result.is_err() || client.inflate_into(&mut out).is_err());
    }

    #[test]
    fn slots_are_counted_and_given_back() {
        let before = Slot::in_use();
        let first = Slot::take(before + 1).unwrap();
        assert!(Slot::take(before + 1).is_none());
        drop(first);
        assert!(Slot::take(before + 1).is_some());
        assert_eq!(Slot::in_use(), before);
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_any_chunking_round_trip(text in proptest::collection::vec(proptest::num::u8::ANY, 0..5000), room in 1usize..300, cut in 0usize..5000) {
            let mut server = deflate();
            let mut client = deflate();
            let cut = cut.min(text.len());
            let first = batch(&mut server, &text[..cut], room);
            server.release();
            let second = batch(&mut server, &text[cut..], room);
            let mut out = inflate_all(&mut client, &first);
            out.extend(inflate_all(&mut client, &second));
            proptest::prop_assert_eq!(out, text);
        }

        #[test]
        fn any_input_never_panics(wire in proptest::collection::vec(proptest::num::u8::ANY, 0..600)) {
            let mut client = deflate();
            client.push(&wire);
            let mut out = [0u8; 512];
            for _ in 0..wire.len() + 2 {
                match client.inflate_into(&mut out) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
            }
        }
    }
}
