//! The MIME structure of a message, computed once while it streams into
//! the store (APPEND, LMTP) and kept with it, so FETCH answers ENVELOPE,
//! BODYSTRUCTURE and BODY[section] without reading or parsing the message.
//!
//! [`StructureParser`] takes the message in chunks of any size and keeps
//! only what boundary detection needs (the first bytes of the current line)
//! plus the header of the part being read (capped). Parts are found the
//! way RFC 2046 §5.1 says and the way Dovecot reads broken mail: a line
//! that starts with `--` and an active boundary (the longest one if
//! several match) is a delimiter, whatever follows it (RFC 2046 allows
//! transport padding, and Dovecot accepts any trailing bytes); the line
//! ending before a delimiter belongs to the delimiter; a missing end
//! delimiter lets the parts run to the end of the enclosing body.

use super::address::{self, Address};
use super::header;

/// Longest part header kept for parsing (64 KiB). Fields beyond it are
/// ignored (offsets are still counted): real headers are a few KiB, and a
/// longer one is broken or hostile.
pub const MAX_HEADER: usize = 64 * 1024;
/// Most nested levels (multipart and message/rfc822 parts inside each
/// other). Deeper structure is read as the body of the deepest part.
/// Keeps the boundary stack and the renderer's recursion small.
pub const MAX_DEPTH: usize = 64;
/// Most parts in one message. After that the rest of the message is body
/// of the part being read. Bounds the stored structure (and FETCH's work)
/// whatever the message; Dovecot stops at 10000, but real mail has tens.
pub const MAX_PARTS: usize = 1000;
/// Longest boundary parameter taken (RFC 2046 §5.1.1 allows 70; some
/// senders exceed it a little). A multipart with a longer one has no parts.
pub const MAX_BOUNDARY: usize = 200;
/// Total header bytes of all parts that are parsed into stored fields
/// (1 MiB). Parts beyond this budget keep their offsets and default
/// Content-* values only, so the stored structure stays bounded.
pub const MAX_PARSED_HEADERS: usize = 1024 * 1024;

/// Bytes of each line kept for boundary detection: `--`, the longest
/// boundary, and `--` of a close delimiter.
const LINE_PREFIX: usize = MAX_BOUNDARY + 4;

/// What a part is, as the structure pass decided from its Content-Type
/// (or its defaults).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `text/*`, and any part without a usable Content-Type outside a
    /// multipart/digest (RFC 2045 §5.2).
    Text,
    /// `multipart/*`; its children are its body parts.
    Multipart,
    /// `message/rfc822` (or the default inside multipart/digest, RFC 2046
    /// §5.1.5); its one child is the encapsulated message's root.
    Message,
    /// Anything else (images, applications, other message types...).
    Other,
}

/// The Content-* data of a part, as BODYSTRUCTURE shows it. Values are
/// raw (unfolded, not decoded); absent fields are None.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Content {
    /// Media type (`text`), as sent (case kept); None without a
    /// Content-Type or when the part is not MIME.
    pub media_type: Option<Vec<u8>>,
    /// Subtype (`plain`), as sent; None when the Content-Type had none.
    pub subtype: Option<Vec<u8>>,
    /// Content-Type parameters in header order; RFC 2231 continuations
    /// merged (see [`parameters`]).
    pub params: Vec<(Vec<u8>, Vec<u8>)>,
    pub id: Option<Vec<u8>>,
    pub description: Option<Vec<u8>>,
    /// Content-Transfer-Encoding token.
    pub encoding: Option<Vec<u8>>,
    pub md5: Option<Vec<u8>>,
    /// Content-Disposition type (`attachment`).
    pub disposition: Option<Vec<u8>>,
    pub disposition_params: Vec<(Vec<u8>, Vec<u8>)>,
    /// Content-Language tags; empty when absent.
    pub language: Vec<Vec<u8>>,
    pub location: Option<Vec<u8>>,
}

/// ENVELOPE data of one message (RFC 3501 §7.4.2). Strings are raw
/// unfolded header values; address lists are parsed. None: the field is
/// absent (NIL). Sender and Reply-To are stored as sent; the renderer
/// applies the default to From.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Envelope {
    pub date: Option<Vec<u8>>,
    pub subject: Option<Vec<u8>>,
    pub from: Option<Vec<Address>>,
    pub sender: Option<Vec<Address>>,
    pub reply_to: Option<Vec<Address>>,
    pub to: Option<Vec<Address>>,
    pub cc: Option<Vec<Address>>,
    pub bcc: Option<Vec<Address>>,
    pub in_reply_to: Option<Vec<u8>>,
    pub message_id: Option<Vec<u8>>,
}

/// One MIME part. Offsets are byte positions in the message as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Part {
    /// Start of the part's header (for the root, 0; for a body part, just
    /// after its delimiter line; for an encapsulated message, the body
    /// start of its message/rfc822 part).
    pub header_start: u64,
    /// Start of the body: after the blank line that ends the header (or
    /// where the header was cut off by a delimiter or the end).
    pub body_start: u64,
    /// End of the body: before the line ending that precedes the next
    /// delimiter, or the end of the enclosing body.
    pub body_end: u64,
    /// Line endings (LF) in `body_start..body_end`.
    pub lines: u64,
    pub kind: Kind,
    /// Direct children (body parts of a multipart; 1 for a message/rfc822
    /// part, 0 if the part limit left it without one).
    pub children: u32,
    /// All parts below this one (children and theirs): the pre-order
    /// subtree after this part is `parts[index + 1..=index + descendants]`.
    pub descendants: u32,
    pub content: Content,
    /// For message roots (parts[0] and the child of each message/rfc822
    /// part): the envelope of that message.
    pub envelope: Option<Box<Envelope>>,
}

impl Part {
    fn new(header_start: u64) -> Part {
        Part {
            header_start,
            body_start: header_start,
            body_end: header_start,
            lines: 0,
            kind: Kind::Text,
            children: 0,
            descendants: 0,
            content: Content::default(),
            envelope: None,
        }
    }

    /// Body size in bytes (BODYSTRUCTURE's body-fld-octets).
    pub fn size(&self) -> u64 {
        self.body_end - self.body_start
    }
}

/// A message's parts in pre-order; `parts[0]` is the whole message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Structure {
    pub parts: Vec<Part>,
}

/// Which bytes of a part FETCH sends; see [`Structure::range`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SectionKind {
    /// `BODY[]` (index 0) or `BODY[part]`: the part's body. For a
    /// message/rfc822 part that is the whole encapsulated message.
    Body,
    /// `HEADER` (and the base of `HEADER.FIELDS`): the header of the
    /// message at `index` (the root, or a message/rfc822 part's
    /// encapsulated message), blank line included.
    Header,
    /// `TEXT`: the body of the message at `index` (as for `Header`).
    Text,
    /// `MIME`: the part's own MIME header, blank line included.
    Mime,
}

impl Structure {
    /// Index in `parts` of an IMAP section part number (RFC 3501 §6.4.5):
    /// `[]` is the whole message (0); in a non-multipart message, part 1
    /// is its body (the same index as the message root); a message/rfc822
    /// part `n` is itself, and `n.m...` continue in its encapsulated
    /// message. None: no such part.
    pub fn section(&self, part: &[u32]) -> Option<usize> {
        let mut current = 0usize;
        // Whether `current` is a message root, whose body is part 1 when
        // it is not multipart.
        let mut at_message = true;
        for (position, &number) in part.iter().enumerate() {
            let container = self.parts.get(current)?;
            let selected = if container.kind == Kind::Multipart {
                self.child(current, number)?
            } else if at_message && number == 1 {
                current
            } else {
                return None;
            };
            current = selected;
            at_message = false;
            let more = position + 1 < part.len();
            if more && self.parts[selected].kind == Kind::Message {
                current = self.child(selected, 1)?;
                at_message = true;
            }
        }
        Some(current)
    }

    /// The `number`th (1-based) child of `parent`.
    fn child(&self, parent: usize, number: u32) -> Option<usize> {
        let part = self.parts.get(parent)?;
        if number == 0 || number > part.children {
            return None;
        }
        let mut child = parent + 1;
        for _ in 1..number {
            child += 1 + self.parts.get(child)?.descendants as usize;
        }
        (child < self.parts.len()).then_some(child)
    }

    /// Whether the part at `index` is a message/rfc822 part with its
    /// encapsulated message (the parts for which `HEADER` and `TEXT` are
    /// defined besides the root).
    pub fn is_message(&self, index: usize) -> bool {
        self.parts.get(index).is_some_and(|part| part.kind == Kind::Message && part.children == 1)
    }

    /// The byte range `(start, end)` (end exclusive) FETCH sends for the
    /// part at `index`:
    /// - `Body`: `body_start..body_end` of that part (for index 0, the
    ///   whole message is `header_start..body_end` of parts[0]: use 0 and
    ///   the message size).
    /// - `Header` / `Text`: for index 0 the top-level header / body; for
    ///   a message/rfc822 part, its encapsulated message's header / body;
    ///   for any other part None (RFC 3501 §6.4.5 defines HEADER and TEXT
    ///   only for the message and its message/rfc822 parts).
    /// - `Mime`: `header_start..body_start` of that part; None for index 0
    ///   (RFC 3501: MIME is not defined for the top level).
    pub fn range(&self, index: usize, kind: SectionKind) -> Option<(u64, u64)> {
        let part = self.parts.get(index)?;
        match kind {
            SectionKind::Body => Some((part.body_start, part.body_end)),
            SectionKind::Mime => (index != 0).then_some((part.header_start, part.body_start)),
            SectionKind::Header | SectionKind::Text => {
                let message = if index == 0 {
                    part
                } else if self.is_message(index) {
                    self.parts.get(index + 1)?
                } else {
                    return None;
                };
                Some(match kind {
                    SectionKind::Header => (message.header_start, message.body_start),
                    _ => (message.body_start, message.body_end),
                })
            }
        }
    }

    /// The envelope of the message at `index` (0, or a message/rfc822
    /// part: its encapsulated message's).
    pub fn envelope(&self, index: usize) -> Option<&Envelope> {
        let root = if index == 0 { 0 } else { index + 1 };
        if index != 0 && !self.is_message(index) {
            return None;
        }
        self.parts.get(root)?.envelope.as_deref()
    }
}

/// Whether a part is read as its header or its body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Header,
    Body,
}

/// Streaming structure pass; see the module documentation.
pub struct StructureParser {
    parts: Vec<Part>,
    /// Open parts, outermost first; the last is the one being read.
    open: Vec<usize>,
    /// Active boundaries (owning multipart, boundary), outermost first.
    boundaries: Vec<(usize, Vec<u8>)>,
    /// LF count at each part's body start (parallel to `parts`).
    body_lines_start: Vec<u64>,
    mode: Mode,
    /// Header bytes of the part being read, whole lines only, capped.
    header: Vec<u8>,
    header_full: bool,
    /// `header.len()` when the current line began.
    header_at_line: usize,
    /// The first bytes of the current line.
    line: Vec<u8>,
    line_start: u64,
    /// LFs seen before the current line.
    lines_before: u64,
    /// Length of the previous line's ending (0 at the start, 1 or 2).
    previous_newline: u64,
    /// Whether the previous line was a delimiter (its line ending is then
    /// part of it, and not taken again by the next delimiter).
    previous_delimiter: bool,
    /// The last byte taken (to tell CRLF from LF at a line end).
    last_byte: u8,
    offset: u64,
    /// The part limit was reached: no more parts, no more delimiters.
    frozen: bool,
    /// Header bytes parsed into stored fields so far.
    parsed_headers: usize,
    /// The previous line was the blank line that ended the header of this
    /// part: (part, where the blank line began, LFs before it).
    blank: Option<(usize, u64, u64)>,
}

impl Default for StructureParser {
    fn default() -> Self {
        Self::new()
    }
}

impl StructureParser {
    pub fn new() -> StructureParser {
        StructureParser {
            parts: vec![Part::new(0)],
            open: vec![0],
            boundaries: Vec::new(),
            body_lines_start: vec![0],
            mode: Mode::Header,
            header: Vec::new(),
            header_full: false,
            header_at_line: 0,
            line: Vec::new(),
            line_start: 0,
            lines_before: 0,
            previous_newline: 0,
            previous_delimiter: false,
            last_byte: 0,
            offset: 0,
            frozen: false,
            parsed_headers: 0,
            blank: None,
        }
    }

    /// Takes the next bytes of the message (any size, any split).
    pub fn feed(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let (segment, complete) = match bytes.iter().position(|&byte| byte == b'\n') {
                Some(at) => (&bytes[..=at], true),
                None => (bytes, false),
            };
            self.take(segment);
            if complete {
                self.end_line(true);
            }
            bytes = &bytes[segment.len()..];
        }
    }

    /// Bytes of one line (no LF except possibly as the last byte).
    fn take(&mut self, segment: &[u8]) {
        if self.line.len() < LINE_PREFIX {
            let room = LINE_PREFIX - self.line.len();
            self.line.extend_from_slice(&segment[..segment.len().min(room)]);
        }
        if self.mode == Mode::Header && !self.header_full {
            if self.header.len() + segment.len() <= MAX_HEADER {
                self.header.extend_from_slice(segment);
            } else {
                // Keep whole lines only; later fields are ignored.
                self.header_full = true;
                self.header.truncate(self.header_at_line);
            }
        }
        self.offset += segment.len() as u64;
        if let Some(&last) = segment.last() {
            if last == b'\n' && segment.len() == 1 {
                // `last_byte` still holds the byte before this LF.
            } else if last == b'\n' {
                self.last_byte = segment[segment.len() - 2];
            } else {
                self.last_byte = last;
            }
        }
    }

    /// The current line is complete: ended by LF (`has_lf`), or by the
    /// end of input.
    fn end_line(&mut self, has_lf: bool) {
        let line_end = self.offset;
        let newline = match has_lf {
            true if line_end - self.line_start >= 2 && self.last_byte == b'\r' => 2,
            true => 1,
            false => 0,
        };
        let lines_after = self.lines_before + u64::from(has_lf);
        let delimiter = self.delimiter();
        let blank = self.blank.take();
        if let Some((found, close)) = delimiter {
            // (A multipart's own first delimiter right after its header
            // leaves that header whole.)
            if let Some((index, start, lines)) = blank.filter(|blank| self.boundaries[found].0 != blank.0) {
                self.unblank(index, start, lines);
            }
            if self.mode == Mode::Header {
                // A delimiter inside a header ends it; the line ending
                // before the delimiter belongs to the delimiter.
                let index = self.current();
                let cut = if self.line_start > self.parts[index].header_start {
                    self.line_start - self.previous_newline
                } else {
                    self.line_start
                };
                let lines = self.lines_before - u64::from(cut < self.line_start);
                self.header.truncate(self.header_at_line);
                self.header_done(cut, lines, true);
            }
            self.delimiter_line(found, close, line_end, lines_after);
        } else if self.mode == Mode::Header && (self.line.as_slice() == b"\n" || self.line.as_slice() == b"\r\n") {
            let index = self.current();
            self.header_done(line_end, lines_after, false);
            self.blank = Some((index, self.line_start, self.lines_before));
        }
        self.line.clear();
        self.line_start = line_end;
        self.lines_before = lines_after;
        self.previous_newline = newline;
        self.previous_delimiter = delimiter.is_some();
        self.header_at_line = self.header.len();
    }

    /// While a body is being read (the next byte belongs to it): that
    /// part's index, the part, and whether it lies inside an attached
    /// message (below a message/rfc822 part). None while a header is
    /// read. For passes that ride along, such as `preview::Collector`.
    pub fn body_part(&self) -> Option<(usize, &Part, bool)> {
        if self.mode != Mode::Body {
            return None;
        }
        let index = self.current();
        // The root (open[0]) and the part itself do not count.
        let within = self.open.get(1..self.open.len().saturating_sub(1)).unwrap_or(&[]);
        let inside_message = within.iter().any(|&open| self.parts[open].kind == Kind::Message);
        Some((index, &self.parts[index], inside_message))
    }

    /// The part at `index` as far as it is known (a closed part is final).
    pub fn part(&self, index: usize) -> Option<&Part> {
        self.parts.get(index)
    }

    fn current(&self) -> usize {
        self.open.last().copied().unwrap_or(0)
    }

    /// If the current line is a delimiter of an active boundary: (its
    /// index in `boundaries`, whether it is a close delimiter).
    fn delimiter(&self) -> Option<(usize, bool)> {
        if self.frozen {
            return None;
        }
        delimiter(&self.line, self.boundaries.iter().map(|(_, boundary)| boundary.as_slice()))
    }

    /// A delimiter follows the blank line that ended the header of part
    /// `index`: that line ending belongs to the delimiter (RFC 2046
    /// §5.1.1), so the header has no blank line and the body is empty (an
    /// attached message's header too). Dovecot cuts it so as well.
    fn unblank(&mut self, index: usize, start: u64, lines: u64) {
        let mut at = index;
        loop {
            let part = &mut self.parts[at];
            if at != index {
                part.header_start = start;
            }
            part.body_start = start;
            part.body_end = start;
            self.body_lines_start[at] = lines;
            if part.kind != Kind::Message || at + 1 >= self.parts.len() {
                break;
            }
            at += 1;
        }
    }

    /// A delimiter line of `boundaries[found]` ended at `line_end`.
    fn delimiter_line(&mut self, found: usize, close: bool, line_end: u64, lines_after: u64) {
        let owner = self.boundaries[found].0;
        // The line ending before the delimiter belongs to the delimiter
        // (RFC 2046 §5.1.1), unless the body is empty or that line ending
        // ended a delimiter line already (a close delimiter followed by an
        // outer one: Dovecot leaves it in the inner multipart, and so the
        // sizes and line counts match).
        let innermost = self.current();
        let body_start = self.parts[innermost].body_start;
        let trimmed = self.line_start.saturating_sub(self.previous_newline);
        let takes_newline = self.previous_newline > 0 && !self.previous_delimiter;
        let (end, end_lines) = if takes_newline && trimmed >= body_start && self.line_start > body_start {
            (trimmed, self.lines_before - 1)
        } else {
            (self.line_start.max(body_start), self.lines_before)
        };
        while let Some(&open) = self.open.last() {
            if open == owner {
                break;
            }
            self.open.pop();
            self.close(open, end, end_lines);
        }
        if close {
            // Forget this boundary and any inner ones; the rest up to an
            // outer delimiter is the multipart's epilogue.
            self.boundaries.truncate(found);
            self.mode = Mode::Body;
        } else {
            // Forget inner boundaries whose end delimiter never came.
            self.boundaries.truncate(found + 1);
            if self.parts.len() >= MAX_PARTS {
                self.frozen = true;
                self.mode = Mode::Body;
            } else {
                self.parts[owner].children += 1;
                self.start_part(line_end, lines_after);
            }
        }
    }

    /// A new part begins at `header_start` (its header is read next).
    fn start_part(&mut self, header_start: u64, lines: u64) {
        self.parts.push(Part::new(header_start));
        self.body_lines_start.push(lines);
        self.open.push(self.parts.len() - 1);
        self.mode = Mode::Header;
        self.header.clear();
        self.header_full = false;
        self.header_at_line = 0;
    }

    /// Closes a part whose body ends at `end` with `lines` LFs before it.
    fn close(&mut self, index: usize, end: u64, lines: u64) {
        let part = &mut self.parts[index];
        part.body_end = end.max(part.body_start);
        part.lines = lines.saturating_sub(self.body_lines_start[index]);
    }

    /// The header of the current part ended; its body starts at
    /// `body_start`, after `lines` LFs. `cut`: a delimiter ended it.
    fn header_done(&mut self, body_start: u64, lines: u64, cut: bool) {
        let index = self.current();
        let parent = (self.open.len() >= 2).then(|| self.open[self.open.len() - 2]);
        let parent_kind = parent.map(|parent| self.parts[parent].kind);
        let message_root = index == 0 || parent_kind == Some(Kind::Message);
        let header = std::mem::take(&mut self.header);
        let budget = self.parsed_headers + header.len() <= MAX_PARSED_HEADERS;
        let fields: &[u8] = if budget { &header } else { b"" };
        self.parsed_headers += fields.len();
        let digest_parent = parent.is_some_and(|parent| self.digest(parent));
        let read = read_header(fields, parent_kind == Some(Kind::Multipart), digest_parent, message_root);
        let part = &mut self.parts[index];
        part.body_start = body_start;
        part.body_end = body_start;
        part.kind = read.kind;
        part.content = read.content;
        part.envelope = read.envelope;
        self.body_lines_start[index] = lines;
        self.header = header;
        self.header.clear();
        self.mode = Mode::Body;
        let room = self.open.len() < MAX_DEPTH && !self.frozen;
        match read.kind {
            Kind::Multipart if room && !cut => {
                if let Some(boundary) = read.boundary {
                    self.boundaries.push((index, boundary));
                }
            }
            Kind::Message if room => {
                if self.parts.len() >= MAX_PARTS {
                    self.frozen = true;
                } else {
                    self.parts[index].children = 1;
                    self.start_part(body_start, lines);
                }
            }
            _ => {}
        }
    }

    /// Whether the part at `index` is a multipart/digest.
    fn digest(&self, index: usize) -> bool {
        let part = &self.parts[index];
        part.kind == Kind::Multipart
            && part.content.subtype.as_deref().is_some_and(|s| s.eq_ignore_ascii_case(b"digest"))
    }

    /// The end of the message: closes every open part there.
    pub fn finish(mut self) -> Structure {
        if self.line_start < self.offset {
            self.end_line(false);
        }
        // A header never ended by a blank line: everything was header.
        while self.mode == Mode::Header {
            let lines = self.lines_before;
            self.header_done(self.offset, lines, false);
        }
        while let Some(open) = self.open.pop() {
            self.close(open, self.offset, self.lines_before);
        }
        let mut structure = Structure { parts: self.parts };
        let valid = count_descendants(&mut structure.parts);
        debug_assert!(valid, "the parser builds one tree within the depth limit");
        structure
    }
}

/// Whether `line` (its first bytes, at least [`LINE_PREFIX`] of them when
/// it is that long) is a delimiter of one of `boundaries` (active ones,
/// outermost first): Some((index of the boundary, whether it is a close
/// delimiter)). Also used by `mime::binary`, so both passes see the same
/// parts.
pub(crate) fn delimiter<'a>(line: &[u8], boundaries: impl Iterator<Item = &'a [u8]>) -> Option<(usize, bool)> {
    let rest = line.strip_prefix(b"--")?;
    // The longest boundary that prefixes the line; of equal ones, the
    // innermost (`>=`, walking outermost first): real mail (Outlook
    // Express, Mac OE) nests a multipart with its parent's boundary,
    // whose delimiters are the inner one's until its close delimiter,
    // as Dovecot reads them.
    let mut best: Option<(usize, usize)> = None;
    for (index, boundary) in boundaries.enumerate() {
        let longer = best.is_none_or(|(_, length)| boundary.len() >= length);
        if rest.starts_with(boundary) && longer {
            best = Some((index, boundary.len()));
        }
    }
    let (found, length) = best?;
    Some((found, rest[length..].starts_with(b"--")))
}

/// Bytes of a line [`delimiter`] needs to see.
pub(crate) const DELIMITER_PREFIX: usize = LINE_PREFIX;

/// What a part's header says, as the structure needs it.
pub(crate) struct HeaderRead {
    pub(crate) kind: Kind,
    pub(crate) content: Content,
    envelope: Option<Box<Envelope>>,
    pub(crate) boundary: Option<Vec<u8>>,
}

/// Reads a part's header. `in_multipart`: the part is a body part, so it
/// is MIME without a MIME-Version (RFC 2045 §4). `digest_parent`: its
/// default type is message/rfc822 (RFC 2046 §5.1.5). `message_root`: it
/// heads a message, so its envelope is read too.
pub(crate) fn read_header(header: &[u8], in_multipart: bool, digest_parent: bool, message_root: bool) -> HeaderRead {
    let mut content = Content::default();
    let mut envelope = message_root.then(Envelope::default);
    let mut mime = in_multipart;
    let mut seen_type = false;
    let mut boundary = None;
    for field in header::fields(header) {
        let name = field.name;
        if name.eq_ignore_ascii_case(b"MIME-Version") {
            mime = true;
        }
        if let Some(envelope) = envelope.as_mut() {
            envelope_field(envelope, name, field.value);
        }
        if name.len() > 8 && name[..8].eq_ignore_ascii_case(b"Content-") {
            let name = &name[8..];
            if name.eq_ignore_ascii_case(b"Type") {
                if !seen_type {
                    seen_type = true;
                    boundary = content_type(&mut content, field.value);
                }
            } else {
                content_field(&mut content, name, field.value);
            }
        }
    }
    // Like Dovecot (and RFC 2045 §4 read loosely): a Content-Type makes a
    // message MIME even without MIME-Version; with neither, the Content-*
    // fields of a top-level or encapsulated message are ignored.
    if !(mime || seen_type) {
        content = Content::default();
        boundary = None;
    }
    let kind = match (&content.media_type, &content.subtype) {
        (None, _) if digest_parent => Kind::Message,
        (None, _) => Kind::Text,
        (Some(media), Some(sub)) if media.eq_ignore_ascii_case(b"message") && sub.eq_ignore_ascii_case(b"rfc822") => {
            Kind::Message
        }
        (Some(media), _) if media.eq_ignore_ascii_case(b"text") => Kind::Text,
        (Some(media), _) if media.eq_ignore_ascii_case(b"multipart") => Kind::Multipart,
        _ => Kind::Other,
    };
    HeaderRead { kind, content, envelope: envelope.map(Box::new), boundary }
}

/// Content-Type: type, subtype and parameters into `content`; returns the
/// boundary parameter if it is usable.
fn content_type(content: &mut Content, value: &[u8]) -> Option<Vec<u8>> {
    let mut cursor = Cursor { bytes: value, at: 0 };
    cursor.skip_cfws();
    // Like Dovecot, a broken Content-Type is kept as well as it reads (an
    // empty type or subtype shows as ""), so the part is not silently
    // turned into text/plain; parameters are read only after a `/`.
    content.media_type = Some(cursor.token().to_vec());
    cursor.skip_cfws();
    if cursor.peek() != Some(b'/') {
        content.subtype = Some(Vec::new());
        return None;
    }
    cursor.at += 1;
    cursor.skip_cfws();
    content.subtype = Some(cursor.token().to_vec());
    content.params = parameters(&mut cursor);
    let boundary = content.params.iter().find(|(name, _)| name.eq_ignore_ascii_case(b"boundary"));
    boundary.map(|(_, value)| value.clone()).filter(|value| !value.is_empty() && value.len() <= MAX_BOUNDARY)
}

/// A field value the way Dovecot keeps unstructured ones: leading white
/// space dropped, line breaks removed (a line break not followed by white
/// space becomes a space), trailing white space kept.
fn raw_value(value: &[u8]) -> Vec<u8> {
    let start = value.iter().position(|&byte| byte != b' ' && byte != b'\t').unwrap_or(value.len());
    let value = &value[start..];
    let mut out = Vec::with_capacity(value.len());
    for (index, &byte) in value.iter().enumerate() {
        if byte != b'\r' && byte != b'\n' {
            out.push(byte);
        } else if value.get(index + 1).is_some_and(|next| !b" \t\r\n".contains(next)) {
            out.push(b' ');
        }
    }
    out
}

/// Any other Content-* field (name without the `Content-` prefix). The
/// first occurrence of each wins, as in Dovecot.
fn content_field(content: &mut Content, name: &[u8], value: &[u8]) {
    let raw = || Some(raw_value(value));
    if name.eq_ignore_ascii_case(b"Transfer-Encoding") {
        if content.encoding.is_none() {
            let mut cursor = Cursor { bytes: value, at: 0 };
            cursor.skip_cfws();
            let token = cursor.token().to_vec();
            cursor.skip_cfws();
            if !token.is_empty() && cursor.at >= value.len() {
                content.encoding = Some(token);
            }
        }
    } else if name.eq_ignore_ascii_case(b"ID") {
        if content.id.is_none() {
            content.id = raw();
        }
    } else if name.eq_ignore_ascii_case(b"Description") {
        if content.description.is_none() {
            content.description = raw();
        }
    } else if name.eq_ignore_ascii_case(b"MD5") {
        if content.md5.is_none() {
            content.md5 = raw();
        }
    } else if name.eq_ignore_ascii_case(b"Location") {
        if content.location.is_none() {
            content.location = raw();
        }
    } else if name.eq_ignore_ascii_case(b"Disposition") {
        if content.disposition.is_none() {
            let mut cursor = Cursor { bytes: value, at: 0 };
            cursor.skip_cfws();
            let token = cursor.token();
            if !token.is_empty() {
                content.disposition = Some(token.to_vec());
                content.disposition_params = parameters(&mut cursor);
            }
        }
    } else if name.eq_ignore_ascii_case(b"Language") && content.language.is_empty() {
        // RFC 3282: 1#Language-tag, comma separated.
        let mut cursor = Cursor { bytes: value, at: 0 };
        cursor.skip_cfws();
        loop {
            let atom = cursor.atom();
            if atom.is_empty() || content.language.len() >= MAX_LANGUAGES {
                break;
            }
            content.language.push(atom.to_vec());
            cursor.skip_cfws();
            if cursor.peek() != Some(b',') {
                break;
            }
            cursor.at += 1;
            cursor.skip_cfws();
        }
    }
}

/// Most Content-Language tags kept.
const MAX_LANGUAGES: usize = 64;

/// One envelope field, if `name` is one. A repeated text field replaces
/// the earlier one; a repeated address field adds its addresses to the
/// earlier ones (both as Dovecot does).
fn envelope_field(envelope: &mut Envelope, name: &[u8], value: &[u8]) {
    let text = || Some(raw_value(value));
    let add = |slot: &mut Option<Vec<Address>>| {
        let list = address::parse_list(&header::unfold(value));
        // An empty list is NIL (and lets Sender/Reply-To fall back to From).
        if list.is_empty() {
            return;
        }
        let addresses = slot.get_or_insert_with(Vec::new);
        let room = address::MAX_ADDRESSES.saturating_sub(addresses.len());
        addresses.extend(list.into_iter().take(room));
    };
    let is = |wanted: &[u8]| name.eq_ignore_ascii_case(wanted);
    if is(b"Date") {
        envelope.date = text();
    } else if is(b"Subject") {
        envelope.subject = text();
    } else if is(b"From") {
        add(&mut envelope.from);
    } else if is(b"Sender") {
        add(&mut envelope.sender);
    } else if is(b"Reply-To") {
        add(&mut envelope.reply_to);
    } else if is(b"To") {
        add(&mut envelope.to);
    } else if is(b"Cc") {
        add(&mut envelope.cc);
    } else if is(b"Bcc") {
        add(&mut envelope.bcc);
    } else if is(b"In-Reply-To") {
        envelope.in_reply_to = text();
    } else if is(b"Message-ID") {
        envelope.message_id = text();
    }
}

/// A position in a structured header value (RFC 2045 §5.1 grammar).
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    /// Skips white space, line breaks and (nested) comments.
    fn skip_cfws(&mut self) {
        while let Some(byte) = self.peek() {
            match byte {
                b' ' | b'\t' | b'\r' | b'\n' => self.at += 1,
                b'(' => {
                    let mut level = 0usize;
                    while let Some(byte) = self.peek() {
                        self.at += 1;
                        match byte {
                            b'(' => level += 1,
                            b')' => {
                                level -= 1;
                                if level == 0 {
                                    break;
                                }
                            }
                            b'\\' => self.at += 1,
                            _ => {}
                        }
                    }
                    self.at = self.at.min(self.bytes.len());
                }
                _ => return,
            }
        }
    }

    /// A MIME token (RFC 2045 §5.1): no controls, space or tspecials.
    /// 8-bit bytes are accepted, as real mail has them.
    fn token(&mut self) -> &'a [u8] {
        self.run(|byte| byte > b' ' && byte != 0x7f && !b"()<>@,;:\\\"/[]?=".contains(&byte))
    }

    /// An RFC 5322 atom (atext), for language tags.
    fn atom(&mut self) -> &'a [u8] {
        self.run(|byte| byte > b' ' && byte != 0x7f && !b"()<>@,;:\\\".[]".contains(&byte))
    }

    fn run(&mut self, keep: impl Fn(u8) -> bool) -> &'a [u8] {
        let start = self.at;
        while self.peek().is_some_and(&keep) {
            self.at += 1;
        }
        &self.bytes[start..self.at]
    }

    /// A quoted string from its opening quote: escapes and folding removed.
    fn quoted(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        self.at += 1;
        while let Some(byte) = self.peek() {
            self.at += 1;
            match byte {
                b'"' => break,
                b'\\' => {
                    if let Some(next) = self.peek() {
                        out.push(next);
                        self.at += 1;
                    }
                }
                b'\r' | b'\n' => {}
                _ => out.push(byte),
            }
        }
        out
    }

    /// Skips to the next `;` (junk in a parameter list).
    fn skip_to_semicolon(&mut self) {
        while self.peek().is_some_and(|byte| byte != b';') {
            if self.peek() == Some(b'"') {
                self.quoted();
            } else {
                self.at += 1;
            }
        }
    }
}

/// Most parameters kept from one field.
const MAX_PARAMETERS: usize = 64;

/// `*(";" attribute "=" value)` (RFC 2045 §5.1), tolerant of junk: an
/// unreadable parameter is skipped up to the next `;`. RFC 2231
/// continuations are merged the way Dovecot shows them: `name*0`,
/// `name*1`... join into `name`; if any segment is extended (`*0*`), the
/// result is `name*` with the value still percent-encoded (`charset'lang'
/// text`), unencoded segments escaped, so the client decodes it. Plain
/// parameters come first, in header order, then the merged ones by name.
/// Segments with a gap in their numbers stay as they were.
fn parameters(cursor: &mut Cursor) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut plain = Vec::new();
    // (name, segment number, extended, value)
    let mut segments: Vec<(Vec<u8>, u32, bool, Vec<u8>)> = Vec::new();
    loop {
        cursor.skip_cfws();
        match cursor.peek() {
            None => break,
            Some(b';') => cursor.at += 1,
            Some(_) => {
                cursor.skip_to_semicolon();
                continue;
            }
        }
        cursor.skip_cfws();
        let name = cursor.token().to_vec();
        cursor.skip_cfws();
        if name.is_empty() || cursor.peek() != Some(b'=') {
            cursor.skip_to_semicolon();
            continue;
        }
        cursor.at += 1;
        cursor.skip_cfws();
        let value = match cursor.peek() {
            Some(b'"') => cursor.quoted(),
            // Broken senders write `name==?utf-8?b?...?=`: take it whole.
            Some(b'=') => cursor.run(|byte| !b"; \t\r\n".contains(&byte)).to_vec(),
            _ => cursor.token().to_vec(),
        };
        if plain.len() + segments.len() >= MAX_PARAMETERS {
            continue;
        }
        match continuation(&name) {
            Some((base, number, extended)) => segments.push((base.to_vec(), number, extended, value)),
            None => plain.push((name, value)),
        }
    }
    segments.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
    let mut start = 0;
    while start < segments.len() {
        let end = (start..segments.len())
            .find(|&index| !segments[index].0.eq_ignore_ascii_case(&segments[start].0))
            .unwrap_or(segments.len());
        let group = &segments[start..end];
        let complete = group.iter().enumerate().all(|(index, segment)| segment.1 as usize == index);
        let extended = group.iter().any(|segment| segment.2);
        if complete {
            let mut value = Vec::new();
            if extended && !group[0].2 {
                value.extend_from_slice(b"''");
            }
            for segment in group {
                if extended && !segment.2 {
                    for &byte in &segment.3 {
                        if byte == b'%' {
                            value.extend_from_slice(b"%25");
                        } else {
                            value.push(byte);
                        }
                    }
                } else {
                    value.extend_from_slice(&segment.3);
                }
            }
            let mut name = group[0].0.clone();
            if extended {
                name.push(b'*');
            }
            plain.push((name, value));
        } else {
            for (base, number, is_extended, value) in group {
                let mut name = base.clone();
                name.push(b'*');
                name.extend_from_slice(number.to_string().as_bytes());
                if *is_extended {
                    name.push(b'*');
                }
                plain.push((name, value.clone()));
            }
        }
        start = end;
    }
    plain
}

/// `name*`, `name*N` or `name*N*` (RFC 2231 §3, §4): (name, N, extended).
fn continuation(name: &[u8]) -> Option<(&[u8], u32, bool)> {
    let star = name.iter().position(|&byte| byte == b'*')?;
    let (base, rest) = (&name[..star], &name[star + 1..]);
    if rest.is_empty() {
        return Some((base, 0, true));
    }
    let digits = rest.iter().take_while(|byte| byte.is_ascii_digit()).count();
    let number = std::str::from_utf8(&rest[..digits]).ok().and_then(|text| text.parse().ok());
    match (&rest[digits..], number) {
        (b"", Some(number)) => Some((base, number, false)),
        (b"*", Some(number)) => Some((base, number, true)),
        _ => None,
    }
}

/// Fills `descendants` from `children` (pre-order: a part's children and
/// their subtrees follow it). Returns false if the counts do not describe
/// exactly one tree of at most [`MAX_DEPTH`] + 1 levels.
pub(crate) fn count_descendants(parts: &mut [Part]) -> bool {
    let mut remaining: Vec<u32> = Vec::new();
    for (index, part) in parts.iter().enumerate() {
        if index > 0 {
            loop {
                match remaining.last_mut() {
                    None => return false,
                    Some(0) => {
                        remaining.pop();
                    }
                    Some(count) => {
                        *count -= 1;
                        break;
                    }
                }
            }
        }
        remaining.push(part.children);
        if remaining.len() > MAX_DEPTH + 1 {
            return false;
        }
    }
    if remaining.iter().any(|&count| count != 0) {
        return false;
    }
    for index in (0..parts.len()).rev() {
        let mut child = index + 1;
        for _ in 0..parts[index].children {
            match parts.get(child) {
                Some(part) => child += 1 + part.descendants as usize,
                None => return false,
            }
        }
        parts[index].descendants = (child - index - 1) as u32;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    pub(crate) fn parse(message: &[u8]) -> Structure {
        let mut parser = StructureParser::new();
        parser.feed(message);
        parser.finish()
    }

    fn parse_chunked(message: &[u8], sizes: &[usize]) -> Structure {
        let mut parser = StructureParser::new();
        let mut rest = message;
        let mut turn = 0;
        while !rest.is_empty() {
            let size = sizes.get(turn % sizes.len().max(1)).copied().unwrap_or(1).clamp(1, rest.len());
            parser.feed(&rest[..size]);
            rest = &rest[size..];
            turn += 1;
        }
        parser.finish()
    }

    /// (header_start, body_start, body_end, lines) of each part.
    fn offsets(structure: &Structure) -> Vec<(u64, u64, u64, u64)> {
        structure.parts.iter().map(|part| (part.header_start, part.body_start, part.body_end, part.lines)).collect()
    }

    fn slice(message: &[u8], range: (u64, u64)) -> &[u8] {
        &message[range.0 as usize..range.1 as usize]
    }

    const SIMPLE: &[u8] = b"From: Alice <alice@example.org>\r\nTo: bob@example.org\r\nSubject: Hello\r\nDate: Mon, 7 Feb 1994 21:52:25 -0800\r\nMessage-ID: <1@example.org>\r\n\r\nHello Bob,\r\nbye.\r\n";

    #[test]
    fn single_part() {
        let structure = parse(SIMPLE);
        assert_eq!(structure.parts.len(), 1);
        let root = &structure.parts[0];
        assert_eq!((root.header_start, root.body_start, root.body_end, root.lines), (0, 139, 157, 2));
        assert_eq!(root.kind, Kind::Text);
        assert_eq!(root.content, Content::default());
        let envelope = root.envelope.as_deref().unwrap();
        assert_eq!(envelope.subject.as_deref(), Some(&b"Hello"[..]));
        assert_eq!(envelope.message_id.as_deref(), Some(&b"<1@example.org>"[..]));
        assert_eq!(envelope.from.as_ref().unwrap()[0].mailbox.as_deref(), Some(&b"alice"[..]));
        assert!(envelope.sender.is_none());
        assert_eq!(structure.section(&[]), Some(0));
        assert_eq!(structure.section(&[1]), Some(0));
        assert_eq!(structure.section(&[2]), None);
        assert_eq!(structure.section(&[1, 1]), None);
        assert_eq!(slice(SIMPLE, structure.range(0, SectionKind::Text).unwrap()), b"Hello Bob,\r\nbye.\r\n");
        assert!(slice(SIMPLE, structure.range(0, SectionKind::Header).unwrap()).ends_with(b"example.org>\r\n\r\n"));
        assert_eq!(structure.range(0, SectionKind::Mime), None);
    }

    const NESTED: &[u8] = b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"outer\"\r\n\r\npreamble\r\n--outer\r\nContent-Type: multipart/alternative; boundary=inner\r\n\r\n--inner\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nplain\r\n--inner\r\nContent-Type: text/html\r\n\r\n<p>html</p>\r\n--inner--\r\n--outer\r\nContent-Type: message/rfc822\r\nContent-Disposition: attachment; filename=\"fwd.eml\"\r\n\r\nSubject: inner message\r\nFrom: carol@example.org\r\nContent-Type: multipart/mixed; boundary=deep\r\n\r\n--deep\r\n\r\ndeep text\r\n--deep--\r\n--outer\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n--outer--\r\nepilogue\r\n";

    #[test]
    fn nested_multipart_and_message() {
        let structure = parse(NESTED);
        let kinds: Vec<Kind> = structure.parts.iter().map(|part| part.kind).collect();
        assert_eq!(
            kinds,
            vec![
                Kind::Multipart, // 0 root
                Kind::Multipart, // 1 alternative
                Kind::Text,      // 2 1.1
                Kind::Text,      // 3 1.2
                Kind::Message,   // 4 2
                Kind::Multipart, // 5 2 encapsulated root
                Kind::Text,      // 6 2.1
                Kind::Other,     // 7 3
            ]
        );
        let children: Vec<u32> = structure.parts.iter().map(|part| part.children).collect();
        assert_eq!(children, vec![3, 2, 0, 0, 1, 1, 0, 0]);
        let descendants: Vec<u32> = structure.parts.iter().map(|part| part.descendants).collect();
        assert_eq!(descendants, vec![7, 2, 0, 0, 2, 1, 0, 0]);
        let body = |index: usize| slice(NESTED, structure.range(index, SectionKind::Body).unwrap());
        assert_eq!(body(2), b"plain");
        assert_eq!(body(3), b"<p>html</p>");
        assert_eq!(body(6), b"deep text");
        assert_eq!(body(7), b"iVBORw0KGgo=");
        assert!(body(4).starts_with(b"Subject: inner message\r\n") && body(4).ends_with(b"--deep--\r\n"));
        // Dovecot: 128 bytes (the close delimiter's line ending stays inside).
        assert_eq!(body(4).len(), 128);
        assert_eq!(
            slice(NESTED, structure.range(2, SectionKind::Mime).unwrap()),
            b"Content-Type: text/plain; charset=utf-8\r\n\r\n"
        );
        assert_eq!(slice(NESTED, structure.range(6, SectionKind::Mime).unwrap()), b"\r\n");
        assert_eq!(structure.section(&[1]), Some(1));
        assert_eq!(structure.section(&[1, 1]), Some(2));
        assert_eq!(structure.section(&[1, 2]), Some(3));
        assert_eq!(structure.section(&[1, 3]), None);
        assert_eq!(structure.section(&[2]), Some(4));
        assert_eq!(structure.section(&[2, 1]), Some(6));
        assert_eq!(structure.section(&[2, 2]), None);
        assert_eq!(structure.section(&[3]), Some(7));
        assert_eq!(structure.section(&[3, 1]), None);
        assert_eq!(structure.section(&[4]), None);
        assert_eq!(structure.section(&[0]), None);
        assert!(structure.is_message(4));
        assert_eq!(
            slice(NESTED, structure.range(4, SectionKind::Header).unwrap()),
            b"Subject: inner message\r\nFrom: carol@example.org\r\nContent-Type: multipart/mixed; boundary=deep\r\n\r\n"
        );
        assert_eq!(
            slice(NESTED, structure.range(4, SectionKind::Text).unwrap()),
            b"--deep\r\n\r\ndeep text\r\n--deep--\r\n"
        );
        assert_eq!(structure.range(2, SectionKind::Header), None);
        assert_eq!(structure.envelope(4).unwrap().subject.as_deref(), Some(&b"inner message"[..]));
        assert!(structure.envelope(2).is_none());
        // The root's body runs to the end, epilogue included.
        assert_eq!(structure.parts[0].body_end, NESTED.len() as u64);
        // Lines of the message/rfc822 part: those of the whole encapsulated message.
        assert_eq!(structure.parts[4].lines, 8);
        assert_eq!(structure.parts[7].content.encoding.as_deref(), Some(&b"base64"[..]));
        assert_eq!(structure.parts[4].content.disposition.as_deref(), Some(&b"attachment"[..]));
    }

    #[test]
    fn digest_defaults_to_message() {
        let message = b"Content-Type: multipart/digest; boundary=d\r\n\r\n--d\r\n\r\nSubject: one\r\n\r\nbody one\r\n--d\r\nContent-Type: text/plain\r\n\r\nnot a message\r\n--d--\r\n";
        let structure = parse(message);
        let kinds: Vec<Kind> = structure.parts.iter().map(|part| part.kind).collect();
        assert_eq!(kinds, vec![Kind::Multipart, Kind::Message, Kind::Text, Kind::Text]);
        assert_eq!(structure.envelope(1).unwrap().subject.as_deref(), Some(&b"one"[..]));
        assert_eq!(structure.section(&[1, 1]), Some(2));
        assert_eq!(slice(message, structure.range(2, SectionKind::Body).unwrap()), b"body one");
    }

    #[test]
    fn broken_boundaries() {
        // No end delimiter: the last part runs to the end.
        let message = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\none\r\n--b\r\n\r\ntwo\r\n";
        let structure = parse(message);
        assert_eq!(structure.parts.len(), 3);
        assert_eq!(slice(message, structure.range(2, SectionKind::Body).unwrap()), b"two\r\n");
        assert_eq!(structure.parts[2].lines, 1);
        // No boundary parameter: a multipart without parts.
        let structure = parse(b"Content-Type: multipart/mixed\r\n\r\n--b\r\n\r\none\r\n");
        assert_eq!(structure.parts.len(), 1);
        assert_eq!(structure.parts[0].kind, Kind::Multipart);
        assert_eq!(structure.parts[0].children, 0);
        // Transport padding after a delimiter, and a longer boundary sharing a prefix.
        let message =
            b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b  \r\n\r\none\r\n--bb\r\nstill one\r\n--b-- \r\n";
        // Dovecot matches boundaries by prefix, so `--bb` delimits too
        // (RFC 2046 §5.1.1 forbids a boundary that prefixes a line of the
        // body, so only broken mail sees the difference).
        let structure = parse(message);
        assert_eq!(structure.parts.len(), 3, "{:?}", offsets(&structure));
        assert_eq!(slice(message, structure.range(1, SectionKind::Body).unwrap()), b"one");
        // `still one` is the header of the part `--bb` began, cut off by the
        // close delimiter; its body is empty (Dovecot: 0 bytes, 0 lines).
        assert_eq!(slice(message, structure.range(2, SectionKind::Body).unwrap()), b"");
        assert_eq!(slice(message, structure.range(2, SectionKind::Mime).unwrap()), b"still one");
        // An inner multipart never closed: the outer delimiter ends both.
        let message = b"Content-Type: multipart/mixed; boundary=o\r\n\r\n--o\r\nContent-Type: multipart/mixed; boundary=i\r\n\r\n--i\r\n\r\ninner\r\n--o\r\n\r\nouter two\r\n--o--\r\n";
        let structure = parse(message);
        let children: Vec<u32> = structure.parts.iter().map(|part| part.children).collect();
        assert_eq!(children, vec![2, 1, 0, 0]);
        assert_eq!(slice(message, structure.range(2, SectionKind::Body).unwrap()), b"inner");
        assert_eq!(slice(message, structure.range(3, SectionKind::Body).unwrap()), b"outer two");
    }

    #[test]
    fn no_blank_line_lf_only_empty() {
        let structure = parse(b"Subject: all header\r\nFrom: a@b\r\n");
        assert_eq!(offsets(&structure), vec![(0, 32, 32, 0)]);
        assert_eq!(structure.parts[0].envelope.as_deref().unwrap().subject.as_deref(), Some(&b"all header"[..]));
        let structure = parse(b"Subject: no end");
        assert_eq!(offsets(&structure), vec![(0, 15, 15, 0)]);
        let message = b"Content-Type: multipart/mixed; boundary=x\n\n--x\nContent-Type: text/plain\n\nline one\nline two\n--x--\n";
        let structure = parse(message);
        assert_eq!(structure.parts.len(), 2);
        assert_eq!(slice(message, structure.range(1, SectionKind::Body).unwrap()), b"line one\nline two");
        assert_eq!(structure.parts[1].lines, 1);
        assert_eq!(offsets(&parse(b"")), vec![(0, 0, 0, 0)]);
        assert_eq!(offsets(&parse(b"\r\n")), vec![(0, 2, 2, 0)]);
        // An empty part, and a part header cut off by a delimiter.
        let message =
            b"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n\r\n--x\r\nContent-Type: text/html\r\n--x--\r\n";
        let structure = parse(message);
        assert_eq!(structure.parts.len(), 3);
        assert_eq!(structure.parts[1].size(), 0);
        assert_eq!(structure.parts[2].size(), 0);
        assert_eq!(structure.parts[2].content.subtype.as_deref(), Some(&b"html"[..]));
        assert_eq!(slice(message, structure.range(2, SectionKind::Mime).unwrap()), b"Content-Type: text/html");
    }

    #[test]
    fn a_nested_multipart_may_reuse_its_parents_boundary() {
        // multipart/mixed and, inside it, multipart/alternative, both with
        // boundary "b": the alternative keeps its two parts, and after its
        // close delimiter the next "--b" is the mixed one's again.
        let message = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nplain\r\n--b\r\nContent-Type: text/html\r\n\r\n<p>html</p>\r\n--b--\r\n--b\r\nContent-Type: image/png\r\n\r\npng\r\n--b--\r\n";
        let structure = parse(message);
        let kinds: Vec<_> =
            structure.parts.iter().map(|part| part.content.subtype.clone().unwrap_or_default()).collect();
        assert_eq!(kinds, [&b"mixed"[..], b"alternative", b"plain", b"html", b"png"].map(<[u8]>::to_vec));
        assert_eq!(structure.parts[0].children, 2);
        assert_eq!(structure.parts[1].children, 2);
        assert_eq!(slice(message, structure.range(2, SectionKind::Body).unwrap()), b"plain");
        assert_eq!(slice(message, structure.range(3, SectionKind::Body).unwrap()), b"<p>html</p>");
        assert_eq!(slice(message, structure.range(4, SectionKind::Body).unwrap()), b"png");
        // Sibling multiparts sharing one boundary each keep their parts.
        let message = b"Content-Type: multipart/mixed; boundary=o\r\n\r\n--o\r\nContent-Type: multipart/alternative; boundary=s\r\n\r\n--s\r\n\r\none\r\n--s--\r\n--o\r\nContent-Type: multipart/alternative; boundary=s\r\n\r\n--s\r\n\r\ntwo\r\n--s\r\n\r\nthree\r\n--s--\r\n--o--\r\n";
        let structure = parse(message);
        let children: Vec<_> = structure.parts.iter().map(|part| part.children).collect();
        assert_eq!(children, [2, 1, 0, 2, 0, 0]);
    }

    #[test]
    fn a_blank_line_right_before_a_delimiter_belongs_to_the_delimiter() {
        // An empty part whose only line is blank; an attached message with
        // nothing after its part header. Neither header keeps that line.
        let message = b"Content-Type: multipart/mixed; boundary=e\r\n\r\n--e\r\n\r\n--e\r\nContent-Type: message/rfc822\r\n\r\n--e\r\nContent-Type: text/plain\r\n\r\nbody\r\n--e--\r\n";
        let structure = parse(message);
        assert_eq!(slice(message, structure.range(1, SectionKind::Mime).unwrap()), b"");
        assert_eq!(structure.parts[1].size(), 0);
        assert_eq!(slice(message, structure.range(2, SectionKind::Mime).unwrap()), b"Content-Type: message/rfc822\r\n");
        assert_eq!(structure.parts[2].size(), 0);
        assert_eq!(structure.range(2, SectionKind::Header).map(|range| slice(message, range).len()), Some(0));
        // A blank line followed by text is the header's end as usual.
        assert_eq!(slice(message, structure.range(4, SectionKind::Mime).unwrap()), b"Content-Type: text/plain\r\n\r\n");
        assert_eq!(slice(message, structure.range(4, SectionKind::Body).unwrap()), b"body");
    }

    #[test]
    fn content_fields() {
        let message = b"Content-Type: TEXT/Plain (comment); CHARSET=\"UTF-8\"; format=flowed\r\nContent-Transfer-Encoding: Quoted-Printable\r\nContent-ID: <id@x>\r\nContent-Description: a\r\n  folded description\r\nContent-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\r\nContent-Disposition: inline; filename*0*=utf-8''a%20b; filename*1=\"c d\"\r\nContent-Language: en-US, de\r\nContent-Location: http://x/y\r\n\r\nbody\r\n";
        let content = parse(message).parts.remove(0).content;
        assert_eq!(content.media_type.as_deref(), Some(&b"TEXT"[..]));
        assert_eq!(content.subtype.as_deref(), Some(&b"Plain"[..]));
        assert_eq!(
            content.params,
            vec![(b"CHARSET".to_vec(), b"UTF-8".to_vec()), (b"format".to_vec(), b"flowed".to_vec())]
        );
        assert_eq!(content.encoding.as_deref(), Some(&b"Quoted-Printable"[..]));
        assert_eq!(content.id.as_deref(), Some(&b"<id@x>"[..]));
        assert_eq!(content.description.as_deref(), Some(&b"a  folded description"[..]));
        assert_eq!(content.md5.as_deref(), Some(&b"Q2hlY2sgSW50ZWdyaXR5IQ=="[..]));
        assert_eq!(content.disposition.as_deref(), Some(&b"inline"[..]));
        assert_eq!(content.disposition_params, vec![(b"filename*".to_vec(), b"utf-8''a%20bc d".to_vec())]);
        assert_eq!(content.language, vec![b"en-US".to_vec(), b"de".to_vec()]);
        assert_eq!(content.location.as_deref(), Some(&b"http://x/y"[..]));
        // Without MIME-Version or Content-Type, Content-* fields are ignored.
        let content = parse(b"Content-Transfer-Encoding: base64\r\n\r\nx").parts.remove(0).content;
        assert_eq!(content, Content::default());
        let content = parse(b"MIME-Version: 1.0\r\nContent-Transfer-Encoding: base64\r\n\r\nx").parts.remove(0).content;
        assert_eq!(content.encoding.as_deref(), Some(&b"base64"[..]));
    }

    #[test]
    fn rfc2231_parameters() {
        let read = |value: &[u8]| parameters(&mut Cursor { bytes: value, at: 0 });
        let pairs = |list: &[(&str, &str)]| -> Vec<(Vec<u8>, Vec<u8>)> {
            list.iter().map(|(name, value)| (name.as_bytes().to_vec(), value.as_bytes().to_vec())).collect()
        };
        assert_eq!(read(b"; title*=us-ascii'en-us'This%20is"), pairs(&[("title*", "us-ascii'en-us'This%20is")]));
        assert_eq!(read(b"; a*1=\"b\"; x=1; a*0=\"a\""), pairs(&[("x", "1"), ("a", "ab")]));
        assert_eq!(read(b"; a*0*=utf-8''%41; a*1=50%"), pairs(&[("a*", "utf-8''%4150%25")]));
        assert_eq!(read(b"; a*0=x; a*2=z"), pairs(&[("a*0", "x"), ("a*2", "z")]));
        assert_eq!(read(b"; junk; name=my file.txt; ok=\"1\""), pairs(&[("name", "my"), ("ok", "1")]));
        assert_eq!(read(b"; name==?utf-8?b?YQ==?=; x=y"), pairs(&[("name", "=?utf-8?b?YQ==?="), ("x", "y")]));
    }

    #[test]
    fn caps_hold() {
        // Many parts: stops at MAX_PARTS, the rest is body.
        let mut message = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n".to_vec();
        for _ in 0..MAX_PARTS + 50 {
            message.extend_from_slice(b"--b\r\n\r\nx\r\n");
        }
        let structure = parse(&message);
        assert_eq!(structure.parts.len(), MAX_PARTS);
        assert_eq!(structure.parts[0].body_end, message.len() as u64);
        // Deep nesting: stops at MAX_DEPTH.
        let mut message = Vec::new();
        for level in 0..MAX_DEPTH + 20 {
            message.extend_from_slice(
                format!("Content-Type: multipart/mixed; boundary=b{level:03}\r\n\r\n--b{level:03}\r\n").as_bytes(),
            );
        }
        let structure = parse(&message);
        assert!(structure.parts.len() <= MAX_DEPTH);
        assert_eq!(Structure::decode(&structure.encode()), Some(structure));
        // A huge header keeps the fields within the cap only.
        let mut message = b"Subject: kept\r\n".to_vec();
        for _ in 0..MAX_HEADER / 10 {
            message.extend_from_slice(b"X-Pad: 12\r\n");
        }
        message.extend_from_slice(b"From: lost@x\r\n\r\nbody");
        let structure = parse(&message);
        let envelope = structure.parts[0].envelope.as_deref().unwrap();
        assert_eq!(envelope.subject.as_deref(), Some(&b"kept"[..]));
        assert!(envelope.from.is_none());
        assert_eq!(structure.parts[0].size(), 4);
        // A long line is not buffered whole.
        let mut parser = StructureParser::new();
        parser.feed(b"Content-Type: multipart/mixed; boundary=b\r\n\r\n");
        for _ in 0..1000 {
            parser.feed(&[b'a'; 1000]);
        }
        assert!(parser.line.len() <= LINE_PREFIX);
        assert!(parser.header.capacity() <= MAX_HEADER * 2);
    }

    /// Messages built from pieces that exercise every path: headers,
    /// delimiters (open, close, padded, unknown), blank lines, LF and CRLF.
    fn message_strategy() -> impl Strategy<Value = Vec<u8>> {
        let piece = prop_oneof![
            Just(&b"Content-Type: multipart/mixed; boundary=a\r\n"[..]),
            Just(&b"Content-Type: multipart/digest; boundary=\"b\"\n"[..]),
            Just(&b"Content-Type: message/rfc822\r\n"[..]),
            Just(&b"Content-Type: text/plain; charset=utf-8\r\n"[..]),
            Just(&b"Subject: hi\r\n"[..]),
            Just(&b"From: A <a@b>\r\n"[..]),
            Just(&b"\r\n"[..]),
            Just(&b"\n"[..]),
            Just(&b"--a\r\n"[..]),
            Just(&b"--a--\r\n"[..]),
            Just(&b"--b \n"[..]),
            Just(&b"--b--"[..]),
            Just(&b"text line\r\n"[..]),
            Just(&b"\r"[..]),
            Just(&b"-"[..]),
        ];
        proptest::collection::vec(piece, 0..40).prop_map(|pieces| pieces.concat())
    }

    fn check_bounds(structure: &Structure, length: u64) -> Result<(), TestCaseError> {
        prop_assert!(!structure.parts.is_empty() && structure.parts.len() <= MAX_PARTS);
        prop_assert_eq!(structure.parts[0].body_end, length);
        for part in &structure.parts {
            prop_assert!(part.header_start <= part.body_start && part.body_start <= part.body_end);
            prop_assert!(part.body_end <= length);
        }
        Ok(())
    }

    proptest! {
        #[test]
        fn chunking_does_not_matter(message in message_strategy(), sizes in proptest::collection::vec(1usize..12, 1..8)) {
            let whole = parse(&message);
            prop_assert_eq!(&parse_chunked(&message, &sizes), &whole);
            prop_assert_eq!(&parse_chunked(&message, &[1]), &whole);
            check_bounds(&whole, message.len() as u64)?;
            prop_assert_eq!(Structure::decode(&whole.encode()), Some(whole.clone()));
        }

        #[test]
        fn arbitrary_bytes_never_panic(message in proptest::collection::vec(any::<u8>(), 0..600), size in 1usize..50) {
            let structure = parse_chunked(&message, &[size]);
            check_bounds(&structure, message.len() as u64)?;
            prop_assert_eq!(Structure::decode(&structure.encode()), Some(structure.clone()));
        }

        #[test]
        fn section_never_panics(message in message_strategy(), path in proptest::collection::vec(0u32..4, 0..5)) {
            let structure = parse(&message);
            if let Some(index) = structure.section(&path) {
                prop_assert!(index < structure.parts.len());
                for kind in [SectionKind::Body, SectionKind::Header, SectionKind::Text, SectionKind::Mime] {
                    if let Some((start, end)) = structure.range(index, kind) {
                        prop_assert!(start <= end && end <= message.len() as u64);
                    }
                }
            }
        }
    }
}
