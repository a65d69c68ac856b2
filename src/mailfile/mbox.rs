//! mbox files: one file of messages, each opened by a `From ` line.
//!
//! Read as a stream, a line (or a piece of a very long line) at a time,
//! so a 10 GB Google Takeout file costs a few buffers. What every mbox
//! writer does differently, and what is read here:
//! - **Separators**: a line starting `From ` opens a message when it
//!   follows a blank line (or opens the file), or when what follows the
//!   sender parses as a date (Thunderbird's `From - Sat Jan  3 01:05:34
//!   1996`, Takeout's `From 1234@xxx Mon May 29 14:38:21 +0000 2023`, a
//!   writer that puts no blank line between messages). The blank line
//!   before a separator (and at the end of the file) belongs to the file,
//!   not the message, and is dropped, as Dovecot and mutt drop it.
//! - **Content-Length** (Dovecot, mboxcl2 writers such as Solaris mail):
//!   Dovecot quotes nothing and counts the body instead. A message whose
//!   header has a `Content-Length` that ends the body exactly where the
//!   file ends or the next `From ` line starts (checked with a probe of
//!   the file, [`Mbox::with_probe`]) has that many body bytes taken as
//!   they are: no separator looked for, nothing unquoted. A length that
//!   does not end there (the file was edited) is ignored, as Dovecot
//!   ignores it, and the body is read as mboxrd.
//! - **Quoting**: mboxrd writers quote every `>*From ` line of a body with
//!   one more `>`, mboxo writers only `From `. One `>` is removed from
//!   every `>+From ` line: exact for mboxrd (what Dovecot, Thunderbird and
//!   `roost export` write), and for mboxo the only reading that gives back
//!   the `From ` lines (a body line that really was `>From ` in an mboxo
//!   file cannot be told apart; it loses its `>`).
//! - **Line ends** are passed as they are (LF or CRLF); the store makes
//!   them CRLF as it does for APPEND.
//! - **State headers**: Dovecot's and mutt's `Status` (R: \Seen), `X-Status`
//!   (A: \Answered, F: \Flagged, T: \Draft, D: \Deleted), `X-Keywords`
//!   (keywords, separated by spaces or commas), and the bookkeeping
//!   `X-UID`, `X-IMAPbase`, `X-IMAP`, `Content-Length` are read and
//!   removed from the message's header, as Dovecot removes them when it
//!   reads an mbox (they describe the file, not the mail). Thunderbird's
//!   `X-Mozilla-Status` (0x1 read, 0x2 replied, 0x4 flagged, 0x8 deleted,
//!   0x1000 forwarded) and `X-Mozilla-Keys` are read and kept: they are
//!   ordinary header fields to every other reader.
//! - **Dates**: the separator's date (when the message arrived); else
//!   the `Date:` header (the caller decides what stands for neither).

use std::io::{self, BufRead};

use crate::mail::Flags;
use crate::util::datetime::DateTime;

use super::{is_keyword, FORWARDED};

/// Longest piece of a line handed out at once; a longer line (a huge
/// base64 line without breaks) comes in several pieces.
pub const MAX_PIECE: usize = 64 * 1024;
/// Longest header value kept for reading (Date, X-Keywords, ...).
const MAX_FIELD: usize = 8 * 1024;

/// Header fields removed from the message (see the module docs).
const REMOVED: [&str; 7] = ["status", "x-status", "x-keywords", "x-uid", "x-imapbase", "x-imap", "content-length"];

/// What a message's separator and header said.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Meta {
    /// The date on the `From ` line, when it parses.
    pub separator_date: Option<DateTime>,
    /// The `Date:` header, when it parses.
    pub date_header: Option<DateTime>,
    pub flags: Flags,
    pub keywords: Vec<String>,
    /// Keywords that are no IMAP atom, left out.
    pub bad_keywords: Vec<String>,
    /// Whether the header ended (a blank line) before the message did.
    pub header_ended: bool,
    /// Whether the message's last line had no line end (a cut file).
    pub unterminated: bool,
    /// Bytes of the message as read (after unquoting and header removal).
    pub size: u64,
}

impl Meta {
    /// The internal date the source gives: the separator's, else `Date:`.
    pub fn source_date(&self) -> Option<DateTime> {
        self.separator_date.or(self.date_header)
    }
}

/// What was last read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Line {
    /// A line (or its first piece) of the current message.
    Start,
    /// A later piece of a line too long for one.
    Continued,
}

/// Which header field the current header line belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Field {
    Other,
    /// Removed from the message, its value read.
    Removed(usize),
    Date,
    MozillaStatus,
    MozillaKeys,
}

/// A reader of an mbox file's messages. [`Mbox::next_message`] moves to
/// a message; [`Mbox::read`] gives its bytes a piece at a time;
/// [`Mbox::meta`] then says what its separator and header held.
pub struct Mbox<R> {
    reader: R,
    /// Bytes consumed from `reader`.
    position: u64,
    /// A blank line held back: if a separator follows, it is the file's.
    held_blank: Option<Vec<u8>>,
    /// A line read but not yet handed out (a separator, or what follows
    /// a held blank line).
    ahead: Option<(Vec<u8>, Line)>,
    /// Inside a message (between a separator and the next).
    in_message: bool,
    /// Nothing read yet.
    at_start: bool,
    in_header: bool,
    field: Field,
    field_value: Vec<u8>,
    /// The last piece handed out ended a line (a cut file's does not).
    line_ended: bool,
    /// The last piece read from the file ended a line (the next starts one).
    file_line_ended: bool,
    meta: Meta,
    /// Where the current message's first line starts.
    message_offset: u64,
    piece: Vec<u8>,
    /// The current header's `Content-Length`, when it parses.
    content_length: Option<u64>,
    /// Body bytes left to take as they are (see the module docs).
    counted: Option<u64>,
    /// Whether the file holds, at an offset, the end of a message
    /// (end of file, or a `From ` line after at most one line end).
    probe: Option<Probe>,
}

/// See [`Mbox::with_probe`].
pub type Probe = Box<dyn Fn(u64) -> bool>;

/// Whether `bytes` (read from where a counted body should end) start the
/// next message or end the file: what a [`Probe`] checks.
pub fn ends_message(bytes: &[u8]) -> bool {
    let rest = bytes.strip_prefix(b"\r\n").or_else(|| bytes.strip_prefix(b"\n")).unwrap_or(bytes);
    rest.is_empty() || rest.starts_with(b"From ")
}

/// Why a file is not read as an mbox.
#[derive(Debug)]
pub enum MboxError {
    Io(io::Error),
    /// The first line is no `From ` line: not an mbox file.
    NotMbox(String),
}

impl std::fmt::Display for MboxError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MboxError::Io(error) => write!(f, "{error}"),
            MboxError::NotMbox(line) => write!(f, "not an mbox file: it starts with {line:?}, not a \"From \" line"),
        }
    }
}

impl From<io::Error> for MboxError {
    fn from(error: io::Error) -> MboxError {
        MboxError::Io(error)
    }
}

impl<R: BufRead> Mbox<R> {
    /// A reader at the start of an mbox file.
    pub fn new(reader: R) -> Mbox<R> {
        Mbox {
            reader,
            position: 0,
            held_blank: None,
            ahead: None,
            in_message: false,
            at_start: true,
            in_header: false,
            field: Field::Other,
            field_value: Vec::new(),
            line_ended: true,
            file_line_ended: true,
            meta: Meta::default(),
            message_offset: 0,
            piece: Vec::new(),
            content_length: None,
            counted: None,
            probe: None,
        }
    }

    /// A reader placed at the first line of a message (at `offset`, what
    /// [`Mbox::message_offset`] gave), reading only that message: how a
    /// second pass reads it again without the messages before it. Give it
    /// the same probe as the first pass, so it reads the same bytes.
    pub fn resume(reader: R, offset: u64, separator_date: Option<DateTime>, probe: Option<Probe>) -> Mbox<R> {
        let mut mbox = Mbox::new(reader);
        mbox.probe = probe;
        mbox.position = offset;
        mbox.at_start = false;
        mbox.begin(separator_date);
        mbox
    }

    /// Lets `Content-Length` count bodies: `probe(offset)` says whether
    /// the file holds the end of a message at that offset (see
    /// [`ends_message`]). Without a probe the header is not trusted and
    /// every body is read as mboxrd.
    pub fn with_probe(mut self, probe: Probe) -> Mbox<R> {
        self.probe = Some(probe);
        self
    }

    /// Where the current message's first line starts in the file.
    pub fn message_offset(&self) -> u64 {
        self.message_offset
    }

    /// What the current message's separator and header said; complete
    /// once [`Mbox::read`] has returned false.
    pub fn meta(&self) -> &Meta {
        &self.meta
    }

    fn begin(&mut self, separator_date: Option<DateTime>) {
        self.in_message = true;
        self.in_header = true;
        self.field = Field::Other;
        self.field_value.clear();
        self.meta = Meta { separator_date, ..Meta::default() };
        self.message_offset = self.position;
        self.content_length = None;
        self.counted = None;
    }

    /// Moves to the next message, skipping what is left of the current
    /// one; false at the end of the file. The first line must be a
    /// separator (blank lines before it aside).
    pub fn next_message(&mut self) -> Result<bool, MboxError> {
        while self.in_message {
            if !self.read_line_piece()? {
                break;
            }
        }
        loop {
            let Some((line, kind)) = self.take_line()? else { return Ok(false) };
            if kind == Line::Start && line.starts_with(b"From ") {
                self.at_start = false;
                let date = separator_date(&line);
                self.begin(date);
                return Ok(true);
            }
            if self.at_start && kind == Line::Start && is_blank(&line) {
                continue;
            }
            let shown: String = String::from_utf8_lossy(&line[..line.len().min(60)]).trim_end().to_string();
            return Err(MboxError::NotMbox(shown));
        }
    }

    /// Appends the current message's next piece (at most [`MAX_PIECE`]
    /// bytes) to `out`; false at the message's end.
    pub fn read(&mut self, out: &mut Vec<u8>) -> io::Result<bool> {
        while self.in_message {
            let before = out.len();
            if !self.next_piece(out)? {
                return Ok(false);
            }
            if out.len() > before {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// One step: a piece appended to `out` (perhaps nothing: a removed
    /// header line), or false at the message's end.
    fn next_piece(&mut self, out: &mut Vec<u8>) -> io::Result<bool> {
        if let Some(left) = self.counted.filter(|left| *left > 0 && self.ahead.is_none()) {
            let Some(bytes) = self.take_bytes(left)? else {
                self.end_message();
                return Ok(false);
            };
            self.counted = Some(left - bytes.len() as u64);
            self.line_ended = bytes.ends_with(b"\n");
            self.meta.size += bytes.len() as u64;
            out.extend_from_slice(&bytes);
            return Ok(true);
        }
        let Some((line, kind)) = self.take_line()? else {
            // End of file: a held blank line is the file's last separator.
            self.held_blank = None;
            self.end_message();
            return Ok(false);
        };
        if kind == Line::Start && is_blank(&line) && !self.in_header {
            if let Some(held) = self.held_blank.replace(line) {
                self.emit(&held, Line::Start, out);
            }
            return Ok(true);
        }
        if kind == Line::Start && line.starts_with(b"From ") {
            let date = separator_date(&line);
            if self.held_blank.is_some() || date.is_some() {
                self.held_blank = None;
                self.ahead = Some((line, kind));
                self.end_message();
                return Ok(false);
            }
        }
        if let Some(held) = self.held_blank.take() {
            self.emit(&held, Line::Start, out);
        }
        self.emit(&line, kind, out);
        Ok(true)
    }

    /// Reads (and drops) one piece of the current message; false at its end.
    fn read_line_piece(&mut self) -> io::Result<bool> {
        let mut sink = std::mem::take(&mut self.piece);
        sink.clear();
        let more = self.next_piece(&mut sink)?;
        self.piece = sink;
        Ok(more)
    }

    fn end_message(&mut self) {
        if self.in_header {
            self.finish_field();
        }
        self.in_message = false;
        self.meta.unterminated = !self.line_ended;
    }

    /// Hands one line (or piece) of the message on: unquoted, and in the
    /// header, the removed fields left out and the fields we read, read.
    fn emit(&mut self, line: &[u8], kind: Line, out: &mut Vec<u8>) {
        self.line_ended = line.ends_with(b"\n");
        let line = if kind == Line::Start { unquote(line) } else { line };
        if !self.in_header {
            out.extend_from_slice(line);
            self.meta.size += line.len() as u64;
            return;
        }
        if kind == Line::Start {
            if is_blank(line) {
                self.finish_field();
                self.in_header = false;
                self.meta.header_ended = true;
                out.extend_from_slice(line);
                self.meta.size += line.len() as u64;
                if let (Some(length), Some(probe)) = (self.content_length, self.probe.as_ref()) {
                    if probe(self.position.saturating_add(length)) {
                        self.counted = Some(length);
                    }
                }
                return;
            }
            if !matches!(line.first(), Some(b' ' | b'\t')) {
                self.finish_field();
                self.field = classify(line);
            }
        }
        if matches!(self.field, Field::Other) {
            out.extend_from_slice(line);
            self.meta.size += line.len() as u64;
            return;
        }
        let room = MAX_FIELD.saturating_sub(self.field_value.len());
        self.field_value.extend_from_slice(&line[..line.len().min(room)]);
        if !matches!(self.field, Field::Removed(_)) {
            out.extend_from_slice(line);
            self.meta.size += line.len() as u64;
        }
    }

    /// Reads what the field just ended said.
    fn finish_field(&mut self) {
        let field = std::mem::replace(&mut self.field, Field::Other);
        if field == Field::Other {
            return;
        }
        let raw = std::mem::take(&mut self.field_value);
        let value = match raw.iter().position(|&byte| byte == b':') {
            Some(colon) => crate::mime::header::unfold(&raw[colon + 1..]),
            None => Vec::new(),
        };
        let text = String::from_utf8_lossy(&value);
        let text = text.trim();
        match field {
            Field::Other => {}
            Field::Date => self.meta.date_header = self.meta.date_header.or(DateTime::parse_rfc5322(text.as_bytes())),
            Field::Removed(0) => {
                if text.contains('R') {
                    self.meta.flags = self.meta.flags.union(Flags::SEEN);
                }
            }
            Field::Removed(1) => {
                for (letter, flag) in
                    [('A', Flags::ANSWERED), ('F', Flags::FLAGGED), ('T', Flags::DRAFT), ('D', Flags::DELETED)]
                {
                    if text.contains(letter) {
                        self.meta.flags = self.meta.flags.union(flag);
                    }
                }
            }
            Field::Removed(2) | Field::MozillaKeys => {
                for keyword in text.split([' ', ',', '\t']).filter(|word| !word.is_empty()) {
                    self.add_keyword(keyword);
                }
            }
            Field::Removed(6) => self.content_length = text.parse().ok(),
            Field::Removed(_) => {}
            Field::MozillaStatus => {
                let bits = u32::from_str_radix(text.trim_start_matches("0x"), 16).unwrap_or(0);
                for (bit, flag) in
                    [(0x1, Flags::SEEN), (0x2, Flags::ANSWERED), (0x4, Flags::FLAGGED), (0x8, Flags::DELETED)]
                {
                    if bits & bit != 0 {
                        self.meta.flags = self.meta.flags.union(flag);
                    }
                }
                if bits & 0x1000 != 0 {
                    self.add_keyword(FORWARDED);
                }
            }
        }
    }

    fn add_keyword(&mut self, keyword: &str) {
        if !is_keyword(keyword) {
            self.meta.bad_keywords.push(keyword.to_string());
        } else if !self.meta.keywords.iter().any(|known| known.eq_ignore_ascii_case(keyword)) {
            self.meta.keywords.push(keyword.to_string());
        }
    }

    /// At most `limit` bytes (and at most [`MAX_PIECE`]) of a counted
    /// body; None at the end of the file.
    fn take_bytes(&mut self, limit: u64) -> io::Result<Option<Vec<u8>>> {
        let bytes = self.read_from_file(limit.min(MAX_PIECE as u64) as usize, false)?;
        Ok((!bytes.is_empty()).then_some(bytes))
    }

    /// The next line (or piece of one), from `ahead` or the file; None at
    /// the end of the file.
    fn take_line(&mut self) -> io::Result<Option<(Vec<u8>, Line)>> {
        if let Some(ahead) = self.ahead.take() {
            return Ok(Some(ahead));
        }
        let kind = if self.file_line_ended { Line::Start } else { Line::Continued };
        let line = self.read_from_file(MAX_PIECE, true)?;
        Ok((!line.is_empty()).then_some((line, kind)))
    }

    /// Up to `limit` bytes from the file, ending after a line end when
    /// `one_line`; empty at the end of the file.
    fn read_from_file(&mut self, limit: usize, one_line: bool) -> io::Result<Vec<u8>> {
        let mut bytes = Vec::new();
        while bytes.len() < limit {
            let available = match self.reader.fill_buf() {
                Ok(available) => available,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => return Err(error),
            };
            if available.is_empty() {
                break;
            }
            let room = (limit - bytes.len()).min(available.len());
            let line_end = if one_line { available[..room].iter().position(|&byte| byte == b'\n') } else { None };
            let take = line_end.map_or(room, |end| end + 1);
            bytes.extend_from_slice(&available[..take]);
            self.reader.consume(take);
            self.position += take as u64;
            if line_end.is_some() {
                break;
            }
        }
        self.file_line_ended = bytes.last() == Some(&b'\n');
        Ok(bytes)
    }
}

fn is_blank(line: &[u8]) -> bool {
    line == b"\n" || line == b"\r\n"
}

/// One `>` less on a `>+From ` line (see the module docs).
fn unquote(line: &[u8]) -> &[u8] {
    let quotes = line.iter().take_while(|&&byte| byte == b'>').count();
    if quotes > 0 && line[quotes..].starts_with(b"From ") {
        &line[1..]
    } else {
        line
    }
}

/// Quotes a message's lines for an mbox (mboxrd: one more `>` on every
/// `>*From ` line): what [`Mbox`] undoes. Tests and the benchmark's
/// generator use it.
pub fn quote(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 16);
    for line in message.split_inclusive(|&byte| byte == b'\n') {
        let quotes = line.iter().take_while(|&&byte| byte == b'>').count();
        if line[quotes..].starts_with(b"From ") {
            out.push(b'>');
        }
        out.extend_from_slice(line);
    }
    out
}

/// Which field a header line starts.
fn classify(line: &[u8]) -> Field {
    let Some(colon) = line.iter().position(|&byte| byte == b':') else { return Field::Other };
    let name = String::from_utf8_lossy(&line[..colon]).trim_end().to_ascii_lowercase();
    if let Some(index) = REMOVED.iter().position(|removed| *removed == name) {
        return Field::Removed(index);
    }
    match name.as_str() {
        "date" => Field::Date,
        "x-mozilla-status" => Field::MozillaStatus,
        "x-mozilla-keys" => Field::MozillaKeys,
        _ => Field::Other,
    }
}

/// The date of a `From sender date` line, when it has one that parses.
fn separator_date(line: &[u8]) -> Option<DateTime> {
    let rest = line.strip_prefix(b"From ")?;
    let rest = trim_end(rest);
    // The sender is one word (`-` for Thunderbird, MAILER-DAEMON, an
    // address); what follows is an asctime() date, perhaps with a zone.
    let space = rest.iter().position(|&byte| byte == b' ')?;
    let date = &rest[space..];
    let start = date.iter().position(|&byte| byte != b' ')?;
    DateTime::parse_rfc5322(&date[start..])
}

fn trim_end(line: &[u8]) -> &[u8] {
    let end = line.iter().rposition(|&byte| !byte.is_ascii_whitespace()).map_or(0, |end| end + 1);
    &line[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every message of `file`, with its meta, read in one pass.
    fn split(file: &[u8]) -> Result<Vec<(Vec<u8>, Meta)>, String> {
        let mut mbox = Mbox::new(file).with_probe(probe_of(file));
        let mut messages = Vec::new();
        while mbox.next_message().map_err(|error| error.to_string())? {
            let mut bytes = Vec::new();
            while mbox.read(&mut bytes).unwrap() {}
            messages.push((bytes, mbox.meta().clone()));
        }
        Ok(messages)
    }

    #[test]
    fn messages_are_split_unquoted_and_stripped() {
        let file = b"From alice@example.org Sat Jan  3 01:05:34 1996\n\
X-UID: 7\n\
Date: Fri, 2 Jan 1996 10:00:00 +0100\n\
X-Keywords: $Junk work\n\
Content-Length: 99\n\
Status: RO\n\
Subject: one\n\
X-Status: AF\n\
\n\
>From the start\n\
>>From quoted twice\n\
From a body line, unquoted by a sloppy writer\n\
\n\
From - Mon May 29 14:38:21 +0000 2023\r\n\
Subject: two\r\n\
\r\n\
body\r\n\
\r\n";
        let messages = split(file).unwrap();
        assert_eq!(messages.len(), 2);
        let (one, meta) = &messages[0];
        assert_eq!(
            String::from_utf8_lossy(one),
            "Date: Fri, 2 Jan 1996 10:00:00 +0100\nSubject: one\n\nFrom the start\n>From quoted twice\nFrom a body line, unquoted by a sloppy writer\n"
        );
        assert_eq!(meta.flags, Flags::SEEN.union(Flags::ANSWERED).union(Flags::FLAGGED));
        assert_eq!(meta.keywords, vec!["$Junk".to_string(), "work".to_string()]);
        assert_eq!(meta.separator_date.unwrap().unix, 820631134);
        assert_eq!(meta.date_header.unwrap().unix, 820573200);
        assert_eq!(meta.size, one.len() as u64);
        assert!(meta.header_ended && !meta.unterminated);
        let (two, meta) = &messages[1];
        assert_eq!(two, b"Subject: two\r\n\r\nbody\r\n");
        assert_eq!(meta.separator_date.unwrap().unix, 1685371101);
    }

    /// A probe over an mbox held in memory.
    fn probe_of(file: &[u8]) -> Probe {
        let file = file.to_vec();
        Box::new(move |offset| {
            let at = (offset as usize).min(file.len());
            offset as usize <= file.len() && ends_message(&file[at..file.len().min(at + 7)])
        })
    }

    #[test]
    fn dovecot_counts_bodies_and_quotes_nothing() {
        // As Dovecot 2.3 writes a message it saved into an mbox.
        let file = b"From bench@vm  Sun Dec 06 18:11:22 2026\n\
Subject: four\n\
X-UID: 3\n\
Status: \n\
X-Keywords:                      \n\
Content-Length: 68\n\
\n\
before\n\
\n\
From x Sat Jan  3 01:05:34 1996\n\
Subject: fake\n\
\n\
>From quoted\n\
\n\
From bench@vm  Sun Dec 06 18:11:23 2026\n\
Subject: five\n\
Content-Length: 2\n\
\n\
b\n\
\n";
        let messages = split(file).unwrap();
        assert_eq!(messages.len(), 2);
        assert_eq!(
            String::from_utf8_lossy(&messages[0].0),
            "Subject: four\n\nbefore\n\nFrom x Sat Jan  3 01:05:34 1996\nSubject: fake\n\n>From quoted\n"
        );
        assert_eq!(messages[1].0, b"Subject: five\n\nb\n");
        // A length the file does not bear out is ignored (mboxrd again).
        let edited = String::from_utf8_lossy(file).replace("Content-Length: 68", "Content-Length: 60");
        let messages = split(edited.as_bytes()).unwrap();
        assert_eq!(messages.len(), 3);
        assert!(messages[1].0.ends_with(b"From quoted\n"));
        // Read again from its offset, a counted message is the same.
        let mut mbox = Mbox::new(&file[..]).with_probe(probe_of(file));
        assert!(mbox.next_message().unwrap());
        let offset = mbox.message_offset();
        let mut again = Mbox::resume(&file[offset as usize..], offset, None, Some(probe_of(file)));
        let mut bytes = Vec::new();
        while again.read(&mut bytes).unwrap() {}
        assert_eq!(bytes, split(file).unwrap()[0].0);
    }

    #[test]
    fn thunderbird_status_is_read_and_kept() {
        let file =
            b"From - Sat Jan  3 01:05:34 1996\nX-Mozilla-Status: 0x1005\nX-Mozilla-Keys: $label1 \nSubject: s\n\nb\n";
        let messages = split(file).unwrap();
        let meta = &messages[0].1;
        assert_eq!(meta.flags, Flags::SEEN.union(Flags::FLAGGED));
        assert_eq!(meta.keywords, vec![FORWARDED.to_string(), "$label1".to_string()]);
        assert!(messages[0].0.starts_with(b"X-Mozilla-Status: 0x1005\n"));
    }

    #[test]
    fn broken_files_say_so() {
        assert!(split(b"").unwrap().is_empty());
        assert!(split(b"\n\n").unwrap().is_empty());
        let error = split(b"\x7fELF\x02\x01binary").unwrap_err();
        assert!(error.contains("not an mbox file"), "{error}");
        let cut = split(b"From x Sat Jan  3 01:05:34 1996\nSubject: cut\n\nhalf a li").unwrap();
        assert!(cut[0].1.unterminated && cut[0].1.header_ended);
        assert_eq!(cut[0].0, b"Subject: cut\n\nhalf a li");
        let header_only = split(b"From x Sat Jan  3 01:05:34 1996\nSubject: cut\n").unwrap();
        assert!(!header_only[0].1.header_ended);
    }

    #[test]
    fn folded_removed_fields_go_whole() {
        let file = b"From x Sat Jan  3 01:05:34 1996\nX-Keywords: a,\n b\nSubject: s\n\n";
        let messages = split(file).unwrap();
        assert_eq!(messages[0].0, b"Subject: s\n\n");
        assert_eq!(messages[0].1.keywords, vec!["a".to_string(), "b".to_string()]);
    }

    #[test]
    fn long_lines_come_in_pieces_and_are_not_separators() {
        let mut file = b"From x Sat Jan  3 01:05:34 1996\nSubject: s\n\n".to_vec();
        let long = vec![b'x'; MAX_PIECE + 10];
        file.extend_from_slice(&long[..MAX_PIECE]);
        file.extend_from_slice(b"From inside a line\n");
        let messages = split(&file).unwrap();
        assert_eq!(messages.len(), 1);
        assert!(messages[0].0.ends_with(b"xFrom inside a line\n"));
    }

    #[test]
    fn resume_reads_one_message_again() {
        let file = b"From a Sat Jan  3 01:05:34 1996\nSubject: 1\n\nx\n\nFrom b Sat Jan  3 01:05:35 1996\nSubject: 2\nStatus: R\n\ny\n>From z\n\nFrom c Sat Jan  3 01:05:36 1996\nSubject: 3\n\n";
        let mut mbox = Mbox::new(&file[..]).with_probe(probe_of(file));
        let mut offsets = Vec::new();
        let mut firsts = Vec::new();
        while mbox.next_message().unwrap() {
            offsets.push((mbox.message_offset(), mbox.meta().separator_date));
            let mut bytes = Vec::new();
            while mbox.read(&mut bytes).unwrap() {}
            firsts.push((bytes, mbox.meta().clone()));
        }
        for ((offset, date), (bytes, meta)) in offsets.into_iter().zip(firsts) {
            let mut again = Mbox::resume(&file[offset as usize..], offset, date, Some(probe_of(file)));
            let mut second = Vec::new();
            while again.read(&mut second).unwrap() {}
            assert_eq!(second, bytes);
            assert_eq!(again.meta(), &meta);
        }
    }

    /// A message as a writer would hand it over: a header, a blank line,
    /// a body of lines that may start with `From ` or `>From `.
    fn message_strategy() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
        use proptest::prelude::*;
        let line = prop_oneof![
            "[a-z ]{0,12}".prop_map(|text| text),
            "[a-z ]{0,12}".prop_map(|text| format!("From {text}")),
            ("[>]{1,3}", "[a-z ]{0,8}").prop_map(|(quotes, text)| format!("{quotes}From {text}")),
            Just("From x Sat Jan  3 01:05:34 1996".to_string()),
            Just(String::new()),
        ];
        (proptest::collection::vec(line, 0..12), proptest::bool::ANY).prop_map(|(lines, crlf)| {
            let end = if crlf { "\r\n" } else { "\n" };
            let mut message = format!("Subject: test{end}{end}");
            for line in lines {
                message.push_str(&line);
                message.push_str(end);
            }
            message.into_bytes()
        })
    }

    proptest::proptest! {
        #[test]
        fn quoted_messages_split_back_to_themselves(
            messages in proptest::collection::vec(message_strategy(), 1..5),
            piece in 1usize..64,
        ) {
            let mut file = Vec::new();
            for message in &messages {
                file.extend_from_slice(b"From someone@example.org Sat Jan  3 01:05:34 1996\n");
                file.extend_from_slice(&quote(message));
                file.extend_from_slice(b"\n");
            }
            // Read through a small buffer, so lines cross its refills.
            let reader = std::io::BufReader::with_capacity(piece, &file[..]);
            let mut mbox = Mbox::new(reader);
            let mut split = Vec::new();
            while mbox.next_message().unwrap() {
                let mut bytes = Vec::new();
                while mbox.read(&mut bytes).unwrap() {}
                split.push(bytes);
            }
            proptest::prop_assert_eq!(split, messages);
        }

        #[test]
        fn any_bytes_split_without_panic(file in proptest::collection::vec(proptest::sample::select(
            vec![b'F', b'r', b'o', b'm', b' ', b'\n', b'\r', b'>', b':', b'S', b'x', b'1']), 0..400)) {
            let mut mbox = Mbox::new(&file[..]);
            let mut total = 0;
            while let Ok(true) = mbox.next_message() {
                let mut bytes = Vec::new();
                while mbox.read(&mut bytes).unwrap() {}
                total += bytes.len();
                proptest::prop_assert_eq!(mbox.meta().size, bytes.len() as u64);
            }
            proptest::prop_assert!(total <= file.len());
        }
    }
}
