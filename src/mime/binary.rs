//! Raw binary parts of an APPENDed message made base64, as the message
//! streams in.
//!
//! RFC 3516 §4.4 lets a client APPEND with a literal8 (`~{n}`), whose
//! message may hold parts with `Content-Transfer-Encoding: binary`: any
//! byte, NUL included, and line ends that mean nothing. Stored as they
//! came, such a part cannot be sent in an ordinary literal (RFC 3501 §4.3
//! forbids NUL there), and mending its bare LFs into CRLF (what the store
//! does to every message, `store::incoming::LineEnds`) changes its data.
//! RFC 3516 §4.4 lets the server change the transfer encoding of appended
//! data as long as nothing is lost (Dovecot converts too), so
//! [`BinaryParts`] rewrites every such part before the store sees it:
//!
//! - A *binary part* is a leaf (the structure pass's `Text` or `Other`
//!   kinds: not multipart/*, not message/rfc822) whose header, read the
//!   way `mime::structure` reads it, gives `Content-Transfer-Encoding:
//!   binary` (any case). Its Content-Transfer-Encoding field (every one,
//!   folded or not, so no later copy contradicts the first) becomes
//!   `Content-Transfer-Encoding: base64` with the field's own line ending,
//!   and its body is base64 (RFC 2045 §6.8: lines of 76 characters, CRLF
//!   between them, none after the last; the delimiter's own line ending
//!   follows).
//! - Its body runs to the enclosing multipart's next delimiter; the CRLF or
//!   LF before `--boundary` belongs to the delimiter (RFC 2046 §5.1.1) and
//!   is not encoded; a delimiter right after the header's blank line means
//!   an empty body. A top-level (or last, unterminated) binary part runs to
//!   the end of the message; its base64 ends the message, without a line
//!   end after it (as Dovecot 2.3 stores it).
//! - A multipart or message/rfc822 part labelled binary (RFC 2045 §6.4
//!   allows it: the label says what is inside) is followed, not encoded:
//!   its own header stays as it is and the leaves inside are converted.
//! - A message that is not MIME (no MIME-Version and no Content-Type at
//!   the top level) has no Content-* fields for the structure pass, so its
//!   Content-Transfer-Encoding is not looked at either.
//! - Everything else passes byte for byte (line ends are then mended by
//!   the store as for any message, which is harmless once the binary
//!   content is base64).
//!
//! Checked by hand against Dovecot 2.3.19 (literal8 APPEND, then BODY[],
//! BODYSTRUCTURE, BINARY): the stored messages are byte for byte the same
//! (field text, 76-character lines, no line end after a top-level part),
//! except where Dovecot recognises only a field whose value is exactly
//! `binary`: a folded one, one with a comment (`binary (raw)`) or with
//! trailing blanks it stores raw (and serves NUL as 0x80, losing it). Here
//! those are converted too: RFC 2045 §5.1 allows comments and folding, and
//! both servers' BODYSTRUCTURE read them as `binary`.
//!
//! Parts are found exactly as `mime::structure::StructureParser` finds
//! them (the same delimiter matcher, header reader and limits), so the
//! structure stored for the converted message has the same parts, and
//! BINARY / BINARY.SIZE of a converted part give back the original bytes.
//!
//! It streams: input arrives in pieces split anywhere (inside a CRLF, a
//! delimiter, a header), output is produced as soon as it is known. What
//! is held: the header of the part being read (at most
//! `structure::MAX_HEADER`, 64 KiB), the start of the current line while
//! it could be a delimiter (at most a boundary's length and four bytes),
//! and under 57 bytes awaiting a base64 line. Past the limits where the
//! structure pass stops following a message (a header longer than 64 KiB,
//! more than `MAX_PARTS` parts, header bytes beyond `MAX_PARSED_HEADERS`),
//! the rest of the message passes unchanged: such a message is broken or
//! hostile, and its raw bytes are stored as they came (as before this
//! pass existed).

use super::header;
use super::structure::{self, Kind, DELIMITER_PREFIX, MAX_DEPTH, MAX_HEADER, MAX_PARSED_HEADERS, MAX_PARTS};
use crate::util::base64;

/// Input bytes per base64 line: 57 bytes make 76 characters (RFC 2045
/// §6.8 allows at most 76).
const LINE_BYTES: usize = 57;

/// What is being read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// A part's header, held until its blank line (or a delimiter).
    Header,
    /// A body passed through unchanged, watched for delimiters.
    Body,
    /// A binary part's body, encoded; see [`Held`].
    Encoding,
    /// The rest of the message, unchanged (see the module documentation).
    Passthrough,
}

/// One open part, as the structure pass would see it.
#[derive(Clone, Copy, Debug)]
struct Frame {
    kind: Kind,
    /// A multipart/digest (its parts default to message/rfc822).
    digest: bool,
}

const NEW_FRAME: Frame = Frame { kind: Kind::Text, digest: false };

/// Converts one message; see the module documentation. Feed it the
/// message in pieces, then call [`BinaryParts::finish`].
pub struct BinaryParts {
    mode: Mode,
    /// Open parts, outermost first; the last is the one being read.
    open: Vec<Frame>,
    /// Active boundaries (index of the owning multipart in `open`,
    /// boundary), outermost first.
    boundaries: Vec<(usize, Vec<u8>)>,
    /// Parts seen so far (the structure pass's `parts.len()`).
    parts: usize,
    /// Header bytes parsed into fields so far, counted as the store will
    /// hold them (line ends mended), as the structure pass counts them.
    parsed_headers: usize,
    /// The header being read (Header mode).
    header: Vec<u8>,
    /// `header`'s length once its line ends are mended.
    header_mended: usize,
    /// `header.len()` when the current line began.
    header_at_line: usize,
    /// The first bytes of the current line (at most [`DELIMITER_PREFIX`]).
    /// In Encoding mode: the whole line so far, held, while it may still
    /// be a delimiter.
    line: Vec<u8>,
    /// Encoding mode: the current line may still be a delimiter.
    candidate: bool,
    /// Encoding mode: length (0, 1 or 2) of the line ending held before the
    /// current line; it is data unless a delimiter follows.
    newline: usize,
    /// Encoding mode: a CR held at the end of what was read, which is data
    /// unless an LF follows.
    cr: bool,
    /// The last byte read (to tell a bare LF).
    last_byte: u8,
    encoder: Encoder,
}

impl Default for BinaryParts {
    fn default() -> Self {
        Self::new()
    }
}

impl BinaryParts {
    pub fn new() -> BinaryParts {
        BinaryParts {
            mode: Mode::Header,
            open: vec![NEW_FRAME],
            boundaries: Vec::new(),
            parts: 1,
            parsed_headers: 0,
            header: Vec::new(),
            header_mended: 0,
            header_at_line: 0,
            line: Vec::new(),
            candidate: true,
            newline: 0,
            cr: false,
            last_byte: 0,
            encoder: Encoder::default(),
        }
    }

    /// Takes the next bytes of the message (any size, any split) and
    /// appends what can be written so far to `out`.
    pub fn feed(&mut self, mut bytes: &[u8], out: &mut Vec<u8>) {
        while !bytes.is_empty() {
            let used = match self.mode {
                Mode::Passthrough => {
                    out.extend_from_slice(bytes);
                    bytes.len()
                }
                Mode::Header => self.header_bytes(bytes, out),
                Mode::Body => self.body_bytes(bytes, out),
                Mode::Encoding => self.encoding_bytes(bytes, out),
            };
            if let Some(&last) = bytes[..used].last() {
                self.last_byte = last;
            }
            bytes = &bytes[used..];
        }
    }

    /// The end of the message: writes what was held.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        match self.mode {
            // A header without a blank line: the part has no body.
            Mode::Header => out.extend_from_slice(&std::mem::take(&mut self.header)),
            Mode::Encoding => {
                // No delimiter came: what was held is data.
                let held = self.held();
                self.encoder.feed(&held, out);
                self.encoder.finish(out);
            }
            Mode::Body | Mode::Passthrough => {}
        }
        self.mode = Mode::Passthrough;
    }

    /// One segment of the current line (to its LF or the end of `bytes`)
    /// to the header; returns how many bytes were taken.
    fn header_bytes(&mut self, bytes: &[u8], out: &mut Vec<u8>) -> usize {
        let (segment, complete) = segment(bytes);
        let mut previous = self.last_byte;
        for &byte in segment {
            self.header_mended += 1 + usize::from(byte == b'\n' && previous != b'\r');
            previous = byte;
        }
        self.header.extend_from_slice(segment);
        self.keep_line_start(segment);
        if self.header_mended > MAX_HEADER {
            // Longer than the structure pass keeps: give up on this message.
            out.extend_from_slice(&std::mem::take(&mut self.header));
            self.mode = Mode::Passthrough;
            return segment.len();
        }
        if complete {
            if let Some((found, close)) = self.delimiter() {
                // A delimiter inside a header ends it (as in the structure
                // pass): the part has no body, nothing to convert.
                let header = std::mem::take(&mut self.header);
                self.header_done(&header[..self.header_at_line], true);
                out.extend_from_slice(&header);
                if self.mode != Mode::Passthrough {
                    self.delimiter_line(found, close);
                }
            } else if self.line == b"\n" || self.line == b"\r\n" {
                let header = std::mem::take(&mut self.header);
                let rewritten = self.header_done(&header, false);
                out.extend_from_slice(rewritten.as_deref().unwrap_or(&header));
            } else {
                self.header_at_line = self.header.len();
            }
            self.line.clear();
        }
        segment.len()
    }

    /// One segment of a body passed through; returns its length.
    fn body_bytes(&mut self, bytes: &[u8], out: &mut Vec<u8>) -> usize {
        let (segment, complete) = segment(bytes);
        out.extend_from_slice(segment);
        self.keep_line_start(segment);
        if complete {
            if let Some((found, close)) = self.delimiter() {
                self.delimiter_line(found, close);
            }
            self.line.clear();
        }
        segment.len()
    }

    /// Bytes of a binary body; returns how many were taken (fewer than
    /// given when a delimiter ends the body).
    fn encoding_bytes(&mut self, bytes: &[u8], out: &mut Vec<u8>) -> usize {
        let mut used = 0;
        while used < bytes.len() {
            let rest = &bytes[used..];
            if self.candidate {
                let byte = rest[0];
                if byte == b'\n' {
                    // A whole line that is not a delimiter (one would have
                    // ended the body as soon as it was recognised): data,
                    // up to its line ending, which is held in turn.
                    let mut line = std::mem::take(&mut self.line);
                    let cr = line.last() == Some(&b'\r');
                    if cr {
                        line.pop();
                    }
                    let held_newline = &b"\r\n"[2 - self.newline..];
                    self.encoder.feed(held_newline, out);
                    self.encoder.feed(&line, out);
                    line.clear();
                    self.line = line;
                    self.newline = 1 + usize::from(cr);
                    used += 1;
                    continue;
                }
                self.line.push(byte);
                used += 1;
                if self.delimiter().is_some() {
                    // The body ends here: the held line ending belongs to
                    // the delimiter (RFC 2046 §5.1.1). The rest of the
                    // delimiter line is read as any body line, and its LF
                    // acts on the delimiter.
                    self.encoder.finish(out);
                    out.extend_from_slice(&b"\r\n"[2 - self.newline..]);
                    out.extend_from_slice(&self.line);
                    self.newline = 0;
                    self.mode = Mode::Body;
                    return used;
                }
                if !self.may_be_delimiter() {
                    let mut held = self.held();
                    self.cr = held.last() == Some(&b'\r');
                    if self.cr {
                        held.pop();
                    }
                    self.encoder.feed(&held, out);
                    self.candidate = false;
                    self.newline = 0;
                    self.line.clear();
                }
            } else {
                // Within a line that cannot be a delimiter: all data, to
                // its line ending (a final CR waits: it may be one).
                let (segment, complete) = segment(rest);
                let data = if complete { &segment[..segment.len() - 1] } else { segment };
                let ends_in_cr = data.last() == Some(&b'\r');
                let (data, cr_now) = if ends_in_cr { (&data[..data.len() - 1], true) } else { (data, false) };
                if self.cr && (!data.is_empty() || cr_now) {
                    // The held CR is followed by more data: it was data.
                    self.encoder.feed(b"\r", out);
                    self.cr = false;
                }
                self.encoder.feed(data, out);
                let cr = self.cr || cr_now;
                if complete {
                    self.newline = 1 + usize::from(cr);
                    self.cr = false;
                    self.candidate = true;
                } else {
                    self.cr = cr;
                }
                used += segment.len();
            }
        }
        used
    }

    /// What Encoding mode holds, in order: the line ending before the
    /// current line, the current line, a trailing CR.
    fn held(&mut self) -> Vec<u8> {
        let mut held = b"\r\n"[2 - self.newline..].to_vec();
        held.append(&mut self.line);
        if self.cr {
            held.push(b'\r');
        }
        self.newline = 0;
        self.cr = false;
        held
    }

    /// Keeps the first bytes of the current line, for [`Self::delimiter`].
    fn keep_line_start(&mut self, segment: &[u8]) {
        if self.line.len() < DELIMITER_PREFIX {
            let room = DELIMITER_PREFIX - self.line.len();
            self.line.extend_from_slice(&segment[..segment.len().min(room)]);
        }
    }

    /// Whether the current line is a delimiter of an active boundary.
    fn delimiter(&self) -> Option<(usize, bool)> {
        structure::delimiter(&self.line, self.boundaries.iter().map(|(_, boundary)| boundary.as_slice()))
    }

    /// Whether the current line, read so far, could still turn out to be
    /// a delimiter (it is the start of `--` and an active boundary).
    fn may_be_delimiter(&self) -> bool {
        let line = self.line.as_slice();
        self.boundaries.iter().any(|(_, boundary)| {
            let whole = line.len().min(2);
            b"--".starts_with(&line[..whole]) && boundary.starts_with(&line[whole..])
        })
    }

    /// The header of the current part is complete: `fields` (blank line
    /// included; `cut`: a delimiter line ended it instead). Returns the
    /// rewritten header when the part is a binary part, and sets the mode
    /// for what follows. Mirrors the structure pass's `header_done`, so
    /// both follow the same parts.
    fn header_done(&mut self, fields: &[u8], cut: bool) -> Option<Vec<u8>> {
        let length = mended_length(fields);
        let parent = self.open.len().checked_sub(2).map(|index| self.open[index]);
        let in_multipart = parent.is_some_and(|parent| parent.kind == Kind::Multipart);
        let digest_parent = parent.is_some_and(|parent| parent.digest);
        let budget = self.parsed_headers + length <= MAX_PARSED_HEADERS;
        let read = structure::read_header(if budget { fields } else { b"" }, in_multipart, digest_parent, false);
        let digest = read.kind == Kind::Multipart
            && read.content.subtype.as_deref().is_some_and(|subtype| subtype.eq_ignore_ascii_case(b"digest"));
        let current = self.open.len() - 1;
        self.open[current] = Frame { kind: read.kind, digest };
        self.mode = Mode::Body;
        let binary = read.content.encoding.as_deref().is_some_and(|encoding| encoding.eq_ignore_ascii_case(b"binary"));
        if !cut && binary && matches!(read.kind, Kind::Text | Kind::Other) {
            let rewritten = rewrite_encoding(fields);
            let new_length = mended_length(&rewritten);
            if self.parsed_headers + new_length > MAX_PARSED_HEADERS || new_length > MAX_HEADER {
                // The structure pass would not read the rewritten header.
                self.mode = Mode::Passthrough;
                return None;
            }
            self.parsed_headers += new_length;
            self.mode = Mode::Encoding;
            self.candidate = true;
            self.newline = 0;
            self.cr = false;
            self.line.clear();
            return Some(rewritten);
        }
        if budget {
            self.parsed_headers += length;
        }
        let room = self.open.len() < MAX_DEPTH;
        match read.kind {
            Kind::Multipart if room && !cut => {
                if let Some(boundary) = read.boundary {
                    self.boundaries.push((current, boundary));
                }
            }
            Kind::Message if room => {
                if self.parts >= MAX_PARTS {
                    self.mode = Mode::Passthrough;
                } else {
                    // The encapsulated message's header follows.
                    self.parts += 1;
                    self.open.push(NEW_FRAME);
                    self.start_header();
                }
            }
            _ => {}
        }
        None
    }

    /// A delimiter line of `boundaries[found]` (its LF read): the parts
    /// inside its multipart end; a new part starts or, after a close
    /// delimiter, the multipart's epilogue.
    fn delimiter_line(&mut self, found: usize, close: bool) {
        let owner = self.boundaries[found].0;
        self.open.truncate(owner + 1);
        if close {
            self.boundaries.truncate(found);
            self.mode = Mode::Body;
        } else {
            self.boundaries.truncate(found + 1);
            if self.parts >= MAX_PARTS {
                self.mode = Mode::Passthrough;
            } else {
                self.parts += 1;
                self.open.push(NEW_FRAME);
                self.start_header();
            }
        }
    }

    fn start_header(&mut self) {
        self.mode = Mode::Header;
        self.header.clear();
        self.header_mended = 0;
        self.header_at_line = 0;
    }
}

/// The bytes up to and including the first LF (and whether there was
/// one), or all of them.
fn segment(bytes: &[u8]) -> (&[u8], bool) {
    match bytes.iter().position(|&byte| byte == b'\n') {
        Some(at) => (&bytes[..=at], true),
        None => (bytes, false),
    }
}

/// The length of a header (which starts a line) once every bare LF is
/// made CRLF, as the store will hold it.
fn mended_length(bytes: &[u8]) -> usize {
    let mut previous = 0u8;
    let mut length = 0;
    for &byte in bytes {
        length += 1 + usize::from(byte == b'\n' && previous != b'\r');
        previous = byte;
    }
    length
}

/// A part header (blank line included) with every
/// Content-Transfer-Encoding field made `base64`, each keeping its last
/// line ending.
fn rewrite_encoding(header: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(header.len());
    let mut position = 0;
    for (raw, field) in header::lines(header) {
        position += raw.len();
        if field.is_some_and(|field| field.name.eq_ignore_ascii_case(b"Content-Transfer-Encoding")) {
            out.extend_from_slice(b"Content-Transfer-Encoding: base64");
            let ending: &[u8] = if raw.ends_with(b"\r\n") {
                b"\r\n"
            } else if raw.ends_with(b"\n") {
                b"\n"
            } else {
                b""
            };
            out.extend_from_slice(ending);
        } else {
            out.extend_from_slice(raw);
        }
    }
    out.extend_from_slice(&header[position.min(header.len())..]);
    out
}

/// Streaming base64 in lines of 76 characters.
#[derive(Default)]
struct Encoder {
    /// Bytes awaiting a whole line (fewer than [`LINE_BYTES`]).
    group: Vec<u8>,
    /// Lines written for the current body.
    lines: bool,
}

impl Encoder {
    fn feed(&mut self, mut data: &[u8], out: &mut Vec<u8>) {
        if !self.group.is_empty() {
            let take = (LINE_BYTES - self.group.len()).min(data.len());
            self.group.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.group.len() < LINE_BYTES {
                return;
            }
            let group = std::mem::take(&mut self.group);
            self.line(&group, out);
            self.group = group;
            self.group.clear();
        }
        while data.len() >= LINE_BYTES {
            self.line(&data[..LINE_BYTES], out);
            data = &data[LINE_BYTES..];
        }
        self.group.extend_from_slice(data);
    }

    fn line(&mut self, bytes: &[u8], out: &mut Vec<u8>) {
        if self.lines {
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(base64::encode(bytes).as_bytes());
        self.lines = true;
    }

    /// Ends the body (the last line padded).
    fn finish(&mut self, out: &mut Vec<u8>) {
        if !self.group.is_empty() {
            let group = std::mem::take(&mut self.group);
            self.line(&group, out);
        }
        self.lines = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mime::decode::{Decoder, TransferEncoding};
    use crate::mime::structure::{Structure, StructureParser};
    use proptest::prelude::*;

    /// Converts `message` fed in pieces cut at `cuts` (sorted offsets).
    fn convert_cut(message: &[u8], cuts: &[usize]) -> Vec<u8> {
        let mut converter = BinaryParts::new();
        let mut out = Vec::new();
        let mut start = 0;
        for &cut in cuts.iter().chain([&message.len()]) {
            let cut = cut.clamp(start, message.len());
            converter.feed(&message[start..cut], &mut out);
            start = cut;
        }
        converter.finish(&mut out);
        out
    }

    fn convert(message: &[u8]) -> Vec<u8> {
        convert_cut(message, &[])
    }

    fn parse(message: &[u8]) -> Structure {
        let mut parser = StructureParser::new();
        parser.feed(message);
        parser.finish()
    }

    fn body<'a>(message: &'a [u8], structure: &Structure, index: usize) -> &'a [u8] {
        let part = &structure.parts[index];
        &message[part.body_start as usize..part.body_end as usize]
    }

    fn decoded(bytes: &[u8], encoding: &[u8]) -> (Vec<u8>, bool) {
        let mut decoder = Decoder::new(TransferEncoding::from_header(Some(encoding)));
        let mut out = Vec::new();
        decoder.feed(bytes, &mut out);
        decoder.finish(&mut out);
        (out, decoder.is_damaged())
    }

    /// The converted message has the same parts as the original; each
    /// binary leaf with a body became base64 that decodes to the original
    /// bytes, in lines of at most 76 characters; every other leaf body is
    /// unchanged (`mended`: `out` had its line ends mended by the store,
    /// so other bodies are compared mended too).
    fn check_same_parts(message: &[u8], out: &[u8], mended: bool) -> Result<(), TestCaseError> {
        let before = parse(message);
        let after = parse(out);
        prop_assert_eq!(before.parts.len(), after.parts.len());
        for (index, (old, new)) in before.parts.iter().zip(&after.parts).enumerate() {
            prop_assert_eq!(old.kind, new.kind, "part {}", index);
            prop_assert_eq!(old.children, new.children, "part {}", index);
            prop_assert_eq!(&old.content.media_type, &new.content.media_type);
            // Multiparts (with or without parts) and messages are
            // followed, not encoded: their leaves are checked.
            if matches!(old.kind, Kind::Multipart | Kind::Message) {
                continue;
            }
            let binary = old.content.encoding.as_deref().is_some_and(|e| e.eq_ignore_ascii_case(b"binary"));
            let (old_body, new_body) = (body(message, &before, index), body(out, &after, index));
            if binary && !old_body.is_empty() {
                prop_assert_eq!(new.content.encoding.as_deref(), Some(&b"base64"[..]), "part {}", index);
                let (data, damaged) = decoded(new_body, b"base64");
                prop_assert!(!damaged, "part {}", index);
                prop_assert_eq!(&data, old_body, "part {}", index);
                for line in new_body.split(|&byte| byte == b'\n') {
                    prop_assert!(line.len() <= 77, "part {}: a line of {}", index, line.len());
                }
            } else if mended {
                prop_assert_eq!(new_body, mend(old_body), "part {}", index);
            } else {
                prop_assert_eq!(new_body, old_body, "part {}", index);
            }
        }
        Ok(())
    }

    fn mend(bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        crate::store::incoming::LineEnds::default().mend(bytes, &mut out);
        out
    }

    const NESTED: &[u8] = b"MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"outer\"\r\n\
\r\n\
preamble\r\n\
--outer\r\n\
Content-Type: text/plain\r\n\
\r\n\
hello\r\n\
--outer\r\n\
Content-Type: multipart/alternative; boundary=inner\r\n\
Content-Transfer-Encoding: binary\r\n\
\r\n\
--inner\r\n\
Content-Type: application/octet-stream\r\n\
Content-Transfer-Encoding: Binary\r\n\
\r\n\
\x00\x01\n\r\xff--oute\r\n\
--inner--\r\n\
--outer\r\n\
Content-Type: message/rfc822\r\n\
\r\n\
Subject: inside\r\n\
Content-Type: image/png\r\n\
Content-Transfer-Encoding: binary\r\n\
\r\n\
\x89PNG\r\n\x1a\n\x00\r\n\
--outer--\r\n\
epilogue\r\n";

    #[test]
    fn nested_binary_parts_become_base64() {
        let out = convert(NESTED);
        let expected: &[u8] = b"MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"outer\"\r\n\
\r\n\
preamble\r\n\
--outer\r\n\
Content-Type: text/plain\r\n\
\r\n\
hello\r\n\
--outer\r\n\
Content-Type: multipart/alternative; boundary=inner\r\n\
Content-Transfer-Encoding: binary\r\n\
\r\n\
--inner\r\n\
Content-Type: application/octet-stream\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
AAEKDf8tLW91dGU=\r\n\
--inner--\r\n\
--outer\r\n\
Content-Type: message/rfc822\r\n\
\r\n\
Subject: inside\r\n\
Content-Type: image/png\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
iVBORw0KGgoA\r\n\
--outer--\r\n\
epilogue\r\n";
        assert_eq!(String::from_utf8_lossy(&out), String::from_utf8_lossy(expected));
        check_same_parts(NESTED, &out, false).unwrap();
    }

    #[test]
    fn every_split_gives_the_same_output() {
        let whole = convert(NESTED);
        for cut in 0..=NESTED.len() {
            assert_eq!(convert_cut(NESTED, &[cut]), whole, "cut at {cut}");
        }
        for size in 1..8 {
            let cuts: Vec<usize> = (size..NESTED.len()).step_by(size).collect();
            assert_eq!(convert_cut(NESTED, &cuts), whole, "pieces of {size}");
        }
    }

    #[test]
    fn lf_only_input() {
        let message =
            b"Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Transfer-Encoding: binary\n\na\nb\r\n\n--b--\n";
        let out = convert(message);
        // "a\nb\r\n" is data; the LF before the delimiter is not.
        assert_eq!(
            out,
            b"Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Transfer-Encoding: base64\n\nYQpiDQo=\n--b--\n"
        );
        check_same_parts(message, &out, false).unwrap();
    }

    #[test]
    fn a_message_without_binary_parts_is_unchanged() {
        let message = b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n\
Content-Transfer-Encoding: 8bit\r\n\r\n\xc3\xa9\x00\n\r\n--x\r\nContent-Type: text/plain\nContent-Transfer-Encoding: base64\r\n\r\naGk=\r\n--x--";
        assert_eq!(convert(message), message);
        for cut in 0..=message.len() {
            assert_eq!(convert_cut(message, &[cut]), message, "cut at {cut}");
        }
    }

    #[test]
    fn a_folded_encoding_field_is_rewritten_whole() {
        let message = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: application/x-thing\r\n\
Content-Transfer-Encoding:\r\n  binary (raw bytes)\r\nContent-ID: <1@x>\r\n\r\n\x00\x00\x00\r\n--b--\r\n";
        let out = convert(message);
        assert_eq!(
            out,
            b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: application/x-thing\r\n\
Content-Transfer-Encoding: base64\r\nContent-ID: <1@x>\r\n\r\nAAAA\r\n--b--\r\n"
        );
        check_same_parts(message, &out, false).unwrap();
    }

    #[test]
    fn a_top_level_binary_message_is_encoded_to_its_end() {
        let message = b"MIME-Version: 1.0\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n\x00\n\r\n--x\r\n";
        let out = convert(message);
        assert_eq!(
            out,
            b"MIME-Version: 1.0\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\nAAoNCi0teA0K"
        );
        let structure = parse(&out);
        assert_eq!(decoded(body(&out, &structure, 0), b"base64").0, &message[message.len() - 9..]);
        // Not MIME: no Content-* field counts, for the structure nor here.
        let plain = b"Content-Transfer-Encoding: binary\r\n\r\n\x00\r\n";
        assert_eq!(convert(plain), plain);
    }

    #[test]
    fn long_binary_bodies_make_76_character_lines() {
        let data: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        let mut message =
            b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Transfer-Encoding: binary\r\n\r\n"
                .to_vec();
        message.extend_from_slice(&data);
        message.extend_from_slice(b"\r\n--b--\r\n");
        let out = convert(&message);
        let structure = parse(&out);
        let encoded = body(&out, &structure, 1);
        let lines: Vec<&[u8]> = encoded.split(|&byte| byte == b'\n').collect();
        assert_eq!(lines.len(), 1000usize.div_ceil(57));
        assert!(lines[..lines.len() - 1].iter().all(|line| line.len() == 77 && line.ends_with(b"\r")));
        assert_eq!(decoded(encoded, b"base64").0, data);
        for size in [1, 2, 3, 56, 57, 58, 100, 1000] {
            let cuts: Vec<usize> = (size..message.len()).step_by(size).collect();
            assert_eq!(convert_cut(&message, &cuts), out, "pieces of {size}");
        }
    }

    #[test]
    fn empty_bodies_and_cut_headers() {
        // A delimiter right after the blank line: the body is empty.
        let message =
            b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Transfer-Encoding: binary\r\n\r\n--b\r\n\
Content-Transfer-Encoding: binary\r\n--b--\r\n";
        let out = convert(message);
        assert_eq!(
            out,
            b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Transfer-Encoding: base64\r\n\r\n--b\r\n\
Content-Transfer-Encoding: binary\r\n--b--\r\n"
        );
        check_same_parts(message, &out, false).unwrap();
    }

    #[test]
    fn a_nested_multipart_reusing_its_parents_boundary() {
        // The innermost of equal boundaries delimits (as the structure
        // pass reads Outlook Express mail).
        let message = b"Content-Type: multipart/mixed; boundary=\"same\"\r\n\r\n--same\r\n\
Content-Type: multipart/alternative; boundary=\"same\"\r\n\r\n--same\r\nContent-Transfer-Encoding: binary\r\n\r\n\x00--sam\r\n\
--same\r\nContent-Type: text/html\r\n\r\n<p>\r\n--same--\r\n--same\r\nContent-Type: image/gif\r\n\
Content-Transfer-Encoding: binary\r\n\r\nGIF\x00\r\n--same--\r\n";
        let out = convert(message);
        check_same_parts(message, &out, false).unwrap();
        let structure = parse(&out);
        assert_eq!(structure.parts.len(), 5);
        assert_eq!(body(&out, &structure, 2), b"AC0tc2Ft");
        assert_eq!(body(&out, &structure, 4), b"R0lGAA==");
    }

    #[test]
    fn a_longer_boundary_sharing_a_prefix() {
        let message = b"Content-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\n\
Content-Type: multipart/mixed; boundary=ab\r\n\r\n--ab\r\nContent-Transfer-Encoding: binary\r\n\r\nx\r\n--a\r\n--abc\r\n--ab--\r\n--a--\r\n";
        let out = convert(message);
        check_same_parts(message, &out, false).unwrap();
    }

    #[test]
    fn an_overlong_header_passes_the_rest_unchanged() {
        let mut message =
            b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Transfer-Encoding: binary\r\n".to_vec();
        for _ in 0..MAX_HEADER / 20 {
            message.extend_from_slice(b"X-Filler: 123456789\r\n");
        }
        message.extend_from_slice(b"\r\n\x00\n\r\n--b\r\nContent-Transfer-Encoding: binary\r\n\r\n\x00\r\n--b--\r\n");
        assert_eq!(convert(&message), message);
    }

    /// Pieces that exercise every path of both passes: multipart, digest
    /// and message headers, binary and other encodings (folded too),
    /// delimiters of two boundaries that share a prefix, blank lines, LF,
    /// CR, CRLF, NUL and 8-bit bytes.
    fn message_strategy() -> impl Strategy<Value = Vec<u8>> {
        let piece = prop_oneof![
            Just(&b"Content-Type: multipart/mixed; boundary=a\r\n"[..]),
            Just(&b"Content-Type: multipart/mixed; boundary=ab\n"[..]),
            Just(&b"Content-Type: multipart/digest; boundary=\"a\"\r\n"[..]),
            Just(&b"Content-Type: message/rfc822\r\n"[..]),
            Just(&b"Content-Type: application/octet-stream\r\n"[..]),
            Just(&b"MIME-Version: 1.0\r\n"[..]),
            Just(&b"Content-Transfer-Encoding: binary\r\n"[..]),
            Just(&b"Content-Transfer-Encoding:\n BINARY\n"[..]),
            Just(&b"Content-Transfer-Encoding: 8bit\r\n"[..]),
            Just(&b"\r\n"[..]),
            Just(&b"\n"[..]),
            Just(&b"--a\r\n"[..]),
            Just(&b"--a--\r\n"[..]),
            Just(&b"--ab\n"[..]),
            Just(&b"--ab--"[..]),
            Just(&b"--a"[..]),
            Just(&b"data\x00\xff"[..]),
            Just(&b"\r"[..]),
            Just(&b"-"[..]),
        ];
        proptest::collection::vec(piece, 0..40).prop_map(|pieces| pieces.concat())
    }

    proptest! {
        #[test]
        fn splits_do_not_matter_and_parts_survive(
            message in message_strategy(),
            cuts in proptest::collection::vec(0usize..400, 0..6),
        ) {
            let whole = convert(&message);
            let mut cuts = cuts;
            cuts.sort_unstable();
            prop_assert_eq!(&convert_cut(&message, &cuts), &whole);
            check_same_parts(&message, &whole, false)?;
            // The store mends line ends afterwards: that must not change
            // the parts either.
            check_same_parts(&message, &mend(&whole), true)?;
            if !message.windows(6).any(|window| window.eq_ignore_ascii_case(b"binary")) {
                prop_assert_eq!(&whole, &message);
            }
        }

        #[test]
        fn every_single_split(message in message_strategy()) {
            let whole = convert(&message);
            for cut in 0..=message.len() {
                prop_assert_eq!(&convert_cut(&message, &[cut]), &whole, "cut at {}", cut);
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(message in proptest::collection::vec(any::<u8>(), 0..400), size in 1usize..40) {
            let cuts: Vec<usize> = (size..message.len()).step_by(size).collect();
            let _ = convert_cut(&message, &cuts);
        }
    }
}
