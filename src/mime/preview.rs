//! Message previews (RFC 8970): a short plain-text view of a message, so
//! a phone can list a mailbox with a line of each message without
//! downloading bodies.
//!
//! RFC 8970 §3 leaves the algorithm to the server and asks for at most
//! 256 characters of UTF-8 plain text. roost's reading:
//! - The text comes from the first `text/plain` part of the message (a
//!   part without a Content-Type counts as text/plain, RFC 2045 §5.2), or,
//!   when there is none, from the first `text/html` part with its markup
//!   taken out (tags dropped, `<script>`, `<style>`, `<title>` and
//!   `<template>` with their content, comments, entities decoded). Parts
//!   marked `Content-Disposition: attachment` and the parts of an attached
//!   message (message/rfc822) are not the message's own text and are
//!   skipped. A message without such a part has the empty preview.
//! - The part is decoded (Content-Transfer-Encoding, then its charset,
//!   lenient UTF-8 when the charset is missing or unknown) with the
//!   decoders SEARCH uses; only its first [`MAX_PART_BYTES`] (as stored)
//!   are read: that is plenty for 256 characters of any real message, and
//!   bounds the work whatever the part.
//! - In plain text, lines quoted from an earlier message (starting with
//!   `>`) are skipped, as Dovecot does: a reply's preview shows the reply.
//! - White space (Unicode's, the no-break space included) and control
//!   characters become one space; nothing leads or trails. Invisible
//!   format characters that mailers pad preheaders with (zero-width
//!   joiners, soft hyphens, the byte-order mark, U+034F) are dropped.
//! - A candidate part with an empty body is passed over for the next.
//! - At most [`MAX_CHARS`] characters (not bytes) are kept, cut on a
//!   character boundary.
//!
//! The preview is computed once, at delivery ([`Collector`], fed as the
//! message streams into the store beside the structure pass, holding the
//! decoder state, the preview itself and the current line while it may
//! be a boundary delimiter: no copy of the message or of the part), and
//! stored per blob (`store::schema::PREVIEWS`; copies and multi-recipient
//! deliveries share it). For a message stored before roost kept previews,
//! FETCH computes it from the stored structure with [`part_for`] and
//! [`PartPreview`]: the same part, the same bytes, so the same text (a
//! property test holds the two ways to that).

use super::charset::CharsetDecoder;
use super::decode::{Decoder, TransferEncoding};
use super::structure::{Content, Kind, Part, Structure, StructureParser};

/// RFC 8970 §3: the preview is at most 256 characters.
pub const MAX_CHARS: usize = 256;
/// Bytes of the chosen part (as stored, before decoding) read for its
/// preview: 64 KiB covers the `<head>` and style sheet of a heavy HTML
/// newsletter before its first words; more is work for nothing.
pub const MAX_PART_BYTES: u64 = 64 * 1024;

/// Which kind of text a part offers for the preview.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    Plain,
    Html,
}

/// Whether the part's own content can give the preview: a leaf text part
/// (text/plain or text/html), not an attachment. `inside_message`: it is
/// part of an attached message.
pub fn source_of(part: &Part, inside_message: bool) -> Option<Source> {
    if part.kind != Kind::Text || part.children != 0 || inside_message {
        return None;
    }
    let content = &part.content;
    if content.disposition.as_deref().is_some_and(|value| value.eq_ignore_ascii_case(b"attachment")) {
        return None;
    }
    match (content.media_type.as_deref(), content.subtype.as_deref()) {
        // RFC 2045 §5.2: no Content-Type means text/plain.
        (None, _) => Some(Source::Plain),
        (Some(media), Some(subtype)) if media.eq_ignore_ascii_case(b"text") => {
            if subtype.eq_ignore_ascii_case(b"plain") {
                Some(Source::Plain)
            } else if subtype.eq_ignore_ascii_case(b"html") {
                Some(Source::Html)
            } else {
                None
            }
        }
        _ => None,
    }
}

/// The index of the part a stored message's preview comes from (see the
/// module docs) and its kind, or None: the preview is empty.
pub fn part_for(structure: &Structure) -> Option<(usize, Source)> {
    let mut html = None;
    // Parts in pre-order; `message_end` is where the innermost attached
    // message seen so far ends (its descendants follow it).
    let mut message_end = 0usize;
    for (index, part) in structure.parts.iter().enumerate() {
        let inside_message = index <= message_end && message_end > 0;
        // An empty part has no words: the next candidate is taken.
        let source = source_of(part, inside_message).filter(|_| part.body_end > part.body_start);
        match source {
            Some(Source::Plain) => return Some((index, Source::Plain)),
            Some(Source::Html) if html.is_none() => html = Some((index, Source::Html)),
            _ => {}
        }
        if part.kind == Kind::Message && index > 0 {
            message_end = message_end.max(index + part.descendants as usize);
        }
    }
    html
}

/// The preview of one part, built from its body bytes as stored, fed in
/// pieces of any size: [`PartPreview::feed`] until [`PartPreview::is_done`]
/// or the body ends, then [`PartPreview::finish`].
pub struct PartPreview {
    decoder: Decoder,
    charset: CharsetDecoder,
    html: Option<Html>,
    /// Raw bytes taken so far (at most [`MAX_PART_BYTES`]).
    taken: u64,
    text: Collapsed,
    /// Plain text: at the start of a line, and inside a quoted line.
    line_start: bool,
    quoted: bool,
    decoded: Vec<u8>,
    chars: String,
}

impl PartPreview {
    pub fn new(content: &Content, source: Source) -> PartPreview {
        let charset = content
            .params
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(b"charset"))
            .and_then(|(_, value)| CharsetDecoder::for_label(value))
            .unwrap_or_else(CharsetDecoder::lenient_utf8);
        PartPreview {
            decoder: Decoder::new(TransferEncoding::from_header(content.encoding.as_deref())),
            charset,
            html: (source == Source::Html).then(Html::default),
            taken: 0,
            text: Collapsed::default(),
            line_start: true,
            quoted: false,
            decoded: Vec::new(),
            chars: String::new(),
        }
    }

    /// Whether more bytes would change nothing (the preview is full, or
    /// [`MAX_PART_BYTES`] were read).
    pub fn is_done(&self) -> bool {
        self.text.full || self.taken >= MAX_PART_BYTES
    }

    /// Takes the next bytes of the part's body (as stored).
    pub fn feed(&mut self, bytes: &[u8]) {
        if self.is_done() {
            return;
        }
        let room = (MAX_PART_BYTES - self.taken).min(bytes.len() as u64) as usize;
        let bytes = &bytes[..room];
        self.taken += room as u64;
        self.decoded.clear();
        self.decoder.feed(bytes, &mut self.decoded);
        self.chars.clear();
        self.charset.feed(&self.decoded, &mut self.chars);
        self.take_chars();
    }

    fn take_chars(&mut self) {
        let chars = std::mem::take(&mut self.chars);
        for character in chars.chars() {
            if self.text.full {
                break;
            }
            match &mut self.html {
                Some(html) => html.push(character, &mut self.text),
                None => self.plain(character),
            }
        }
        self.chars = chars;
    }

    /// A character of plain text. Lines quoted from an earlier message
    /// (`>` first, RFC 3676 §4.5) are not this message's words: skipped,
    /// as Dovecot does.
    fn plain(&mut self, character: char) {
        if self.quoted {
            self.quoted = character != '\n';
            self.line_start = !self.quoted;
            return;
        }
        if self.line_start && character == '>' {
            self.quoted = true;
            self.text.gap();
            return;
        }
        self.line_start = character == '\n';
        self.text.push(character);
    }

    /// The preview: what was fed, decoded, markup taken out, white space
    /// collapsed and trimmed.
    pub fn finish(mut self) -> String {
        if !self.text.full {
            self.decoded.clear();
            self.decoder.finish(&mut self.decoded);
            self.chars.clear();
            self.charset.feed(&self.decoded, &mut self.chars);
            self.charset.finish(&mut self.chars);
            self.take_chars();
            if let Some(html) = &mut self.html {
                html.finish(&mut self.text);
            }
        }
        self.text.out
    }
}

/// Text with runs of white space made one space, none leading or
/// trailing, at most [`MAX_CHARS`] characters.
#[derive(Default)]
struct Collapsed {
    out: String,
    count: usize,
    /// White space seen since the last character kept.
    space: bool,
    full: bool,
}

impl Collapsed {
    fn push(&mut self, character: char) {
        if self.full || is_invisible(character) {
            return;
        }
        if character.is_whitespace() || character.is_control() {
            self.space = !self.out.is_empty();
            return;
        }
        // A space is written only with the character after it, so the
        // text never ends in one.
        let needed = 1 + usize::from(self.space);
        if self.count + needed > MAX_CHARS {
            self.full = true;
            return;
        }
        if self.space {
            self.out.push(' ');
            self.space = false;
        }
        self.out.push(character);
        self.count += needed;
        if self.count == MAX_CHARS {
            self.full = true;
        }
    }

    /// A break between words (a block element in HTML).
    fn gap(&mut self) {
        self.space = !self.out.is_empty();
    }
}

/// Format characters without a glyph that mailers pad with.
fn is_invisible(character: char) -> bool {
    matches!(character, '\u{00AD}' | '\u{034F}' | '\u{200B}'..='\u{200F}' | '\u{2060}' | '\u{FEFF}')
}

/// Longest tag name or entity kept while deciding what it is.
const MAX_NAME: usize = 32;

/// Elements whose content is not text to show.
const HIDDEN: [&str; 4] = ["script", "style", "title", "template"];
/// Elements that break a line (their tags are read as white space).
const BLOCKS: [&str; 31] = [
    "address",
    "article",
    "aside",
    "blockquote",
    "body",
    "br",
    "dd",
    "div",
    "dl",
    "dt",
    "footer",
    "form",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hr",
    "li",
    "main",
    "nav",
    "ol",
    "p",
    "pre",
    "section",
    "table",
    "td",
    "th",
    "tr",
];

/// Where the HTML reader is.
#[derive(Default, PartialEq, Eq)]
enum HtmlState {
    #[default]
    Text,
    /// After `<`: not yet known whether a tag begins.
    Open,
    /// In a tag's name (`name` so far, `closing` after `</`).
    Name,
    /// In a tag after its name, until `>`; `quote` inside a quoted value.
    Attributes,
    /// In `<!-- ... -->`; `dashes` counts the `-` just seen.
    Comment,
    /// In `<!...>` or `<?...>`.
    Declaration,
    /// After `&`.
    Entity,
}

/// Takes the markup out of HTML text, a character at a time (so it
/// streams): what is left is written to a [`Collapsed`].
#[derive(Default)]
struct Html {
    state: HtmlState,
    name: String,
    closing: bool,
    quote: Option<char>,
    dashes: u8,
    /// Inside this hidden element: text is dropped until its end tag.
    hidden: Option<&'static str>,
}

impl Html {
    fn push(&mut self, character: char, text: &mut Collapsed) {
        match self.state {
            HtmlState::Text => match character {
                '<' => self.state = HtmlState::Open,
                '&' if self.hidden.is_none() => {
                    self.name.clear();
                    self.state = HtmlState::Entity;
                }
                _ if self.hidden.is_none() => text.push(character),
                _ => {}
            },
            HtmlState::Open => {
                self.name.clear();
                self.closing = false;
                match character {
                    '/' => {
                        self.closing = true;
                        self.state = HtmlState::Name;
                    }
                    '!' if self.hidden.is_none() => {
                        self.dashes = 0;
                        self.state = HtmlState::Declaration;
                    }
                    '?' if self.hidden.is_none() => self.state = HtmlState::Declaration,
                    _ if character.is_ascii_alphabetic() && self.hidden.is_none() => {
                        self.name.push(character.to_ascii_lowercase());
                        self.state = HtmlState::Name;
                    }
                    _ => {
                        // Not a tag (`a < b`): the `<` is text.
                        self.state = HtmlState::Text;
                        if self.hidden.is_none() {
                            text.push('<');
                        }
                        self.push(character, text);
                    }
                }
            }
            HtmlState::Name => {
                if character.is_ascii_alphanumeric() || character == '-' || character == ':' {
                    if self.name.len() < MAX_NAME {
                        self.name.push(character.to_ascii_lowercase());
                    }
                } else if self.hidden.is_some() && !(self.closing && Some(self.name.as_str()) == self.hidden) {
                    // Inside a hidden element only its end tag counts
                    // (`</script>`); anything else is its content.
                    self.state = HtmlState::Text;
                } else {
                    self.state = HtmlState::Attributes;
                    self.quote = None;
                    self.push(character, text);
                }
            }
            HtmlState::Attributes => match (self.quote, character) {
                (Some(quote), _) if character == quote => self.quote = None,
                (Some(_), _) => {}
                (None, '"' | '\'') => self.quote = Some(character),
                (None, '>') => {
                    self.state = HtmlState::Text;
                    self.tag_done(text);
                }
                _ => {}
            },
            HtmlState::Declaration => {
                // `<!--` starts a comment; other `<!...>` end at `>`.
                if character == '-' && self.dashes < 2 && self.name.is_empty() {
                    self.dashes += 1;
                    if self.dashes == 2 {
                        self.dashes = 0;
                        self.state = HtmlState::Comment;
                    }
                } else if character == '>' {
                    self.state = HtmlState::Text;
                } else {
                    self.name.push('x');
                }
            }
            HtmlState::Comment => match character {
                '-' => self.dashes = self.dashes.saturating_add(1),
                '>' if self.dashes >= 2 => self.state = HtmlState::Text,
                _ => self.dashes = 0,
            },
            HtmlState::Entity => {
                let fits = self.name.len() < MAX_NAME;
                if fits && (character.is_ascii_alphanumeric() || (character == '#' && self.name.is_empty())) {
                    self.name.push(character);
                    return;
                }
                self.state = HtmlState::Text;
                let decoded = entity(&self.name);
                if let Some(value) = decoded {
                    text.push(value);
                } else {
                    text.push('&');
                    for name_character in std::mem::take(&mut self.name).chars() {
                        text.push(name_character);
                    }
                }
                // `;` ends the entity; anything else is text again (HTML
                // accepts `&amp` without it).
                if character != ';' || decoded.is_none() {
                    self.push(character, text);
                }
            }
        }
    }

    /// A tag named `name` (`closing` after `</`) just ended.
    fn tag_done(&mut self, text: &mut Collapsed) {
        if let Some(hidden) = self.hidden {
            if self.closing && self.name == hidden {
                self.hidden = None;
            }
            return;
        }
        if !self.closing {
            self.hidden = HIDDEN.iter().copied().find(|hidden| *hidden == self.name);
        }
        if self.hidden.is_some() || BLOCKS.contains(&self.name.as_str()) {
            text.gap();
        }
    }

    /// The end of the text: an entity cut off by it is text.
    fn finish(&mut self, text: &mut Collapsed) {
        if self.state == HtmlState::Entity {
            self.state = HtmlState::Text;
            if let Some(value) = entity(&self.name) {
                text.push(value);
            } else {
                text.push('&');
                for character in std::mem::take(&mut self.name).chars() {
                    text.push(character);
                }
            }
        }
    }
}

/// The character an HTML character reference names (`amp`, `#233`,
/// `#xE9`), for the numeric ones and the named ones mail uses.
fn entity(name: &str) -> Option<char> {
    if let Some(number) = name.strip_prefix('#') {
        let value = match number.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => number.parse::<u32>().ok()?,
        };
        // HTML: a reference to NUL, a surrogate or beyond Unicode is U+FFFD.
        return Some(char::from_u32(value).filter(|&c| c != '\0').unwrap_or('\u{FFFD}'));
    }
    Some(match name {
        "amp" | "AMP" => '&',
        "lt" | "LT" => '<',
        "gt" | "GT" => '>',
        "quot" | "QUOT" => '"',
        "apos" => '\'',
        "nbsp" => '\u{A0}',
        "copy" => '©',
        "reg" => '®',
        "trade" => '™',
        "hellip" => '…',
        "mdash" => '—',
        "ndash" => '–',
        "lsquo" => '‘',
        "rsquo" => '’',
        "sbquo" => '‚',
        "ldquo" => '“',
        "rdquo" => '”',
        "bdquo" => '„',
        "laquo" => '«',
        "raquo" => '»',
        "bull" => '•',
        "middot" => '·',
        "euro" => '€',
        "pound" => '£',
        "yen" => '¥',
        "cent" => '¢',
        "sect" => '§',
        "deg" => '°',
        "times" => '×',
        "shy" => '\u{AD}',
        "zwnj" => '\u{200C}',
        "zwj" => '\u{200D}',
        "ensp" => '\u{2002}',
        "emsp" => '\u{2003}',
        "thinsp" => '\u{2009}',
        "auml" => 'ä',
        "ouml" => 'ö',
        "uuml" => 'ü',
        "Auml" => 'Ä',
        "Ouml" => 'Ö',
        "Uuml" => 'Ü',
        "szlig" => 'ß',
        "eacute" => 'é',
        "egrave" => 'è',
        "agrave" => 'à',
        "ccedil" => 'ç',
        _ => return None,
    })
}

/// A part being read for the preview at delivery.
struct Reading {
    index: usize,
    builder: PartPreview,
    /// Bytes from offset `held_start` not given to the builder yet: the
    /// line being read when it may be a delimiter (it starts with `--`),
    /// with the line ending before it (RFC 2046 §5.1.1: both belong to the
    /// delimiter, not to the part). Which lines are delimiters is known
    /// only once the next line begins; other lines go through at once, so
    /// this holds a few bytes unless a long line starts with `--`.
    held: Vec<u8>,
    held_start: u64,
    body_start: u64,
    /// Bytes at the start of `held` that end the line before.
    ending: usize,
    /// The current line is known not to be a delimiter.
    settled: bool,
}

/// Length of the line ending `bytes` ends with (it ends with LF).
fn ending_length(bytes: &[u8]) -> usize {
    if bytes.ends_with(b"\r\n") {
        2
    } else {
        1
    }
}

impl Reading {
    /// Takes the line (or the piece of one) at `offset` of the message.
    fn take(&mut self, line: &[u8], offset: u64) {
        if self.builder.is_done() {
            return;
        }
        if offset != self.held_start + self.held.len() as u64 {
            // The rest of a line longer than the builder will read.
            return;
        }
        if self.held.last() == Some(&b'\n') {
            // A new line begins: all held before the last line ending is body.
            let ending = ending_length(&self.held);
            self.release(self.held.len() - ending);
            self.ending = ending;
            self.settled = false;
        }
        // The builder never reads more than its budget: keep no more.
        let room = (MAX_PART_BYTES + 2).saturating_sub(self.builder.taken + self.held.len() as u64) as usize;
        self.held.extend_from_slice(&line[..line.len().min(room)]);
        if !self.settled {
            let current = &self.held[self.ending..];
            self.settled = !current.starts_with(b"--") && (current.len() >= 2 || current.ends_with(b"\n"));
        }
        if self.settled {
            // Not a delimiter: body, all but its own line ending, which
            // the next line may claim (a CR may be the start of one).
            let trailing = match self.held.last() {
                Some(b'\n') => ending_length(&self.held),
                Some(b'\r') => 1,
                _ => 0,
            };
            self.release(self.held.len() - trailing);
            self.ending = 0;
        }
    }

    /// Gives the first `count` held bytes to the builder.
    fn release(&mut self, count: usize) {
        self.builder.feed(&self.held[..count]);
        self.held.drain(..count);
        self.held_start += count as u64;
    }

    /// The part ended at `body_end`: the held bytes before it are body.
    fn finish(mut self, body_end: u64) -> String {
        let keep = body_end.saturating_sub(self.held_start).min(self.held.len() as u64) as usize;
        self.release(keep);
        self.builder.finish()
    }
}

/// Where a kind of text stands at delivery.
enum Slot {
    /// No such part yet.
    Waiting,
    Reading(Box<Reading>),
    Done(String),
}

/// The preview computed as a message streams into the store: it watches
/// the structure pass (which it feeds, a line at a time, so it knows which
/// part each line belongs to) and reads the first text/plain part and,
/// until one is found, the first text/html part.
pub struct Collector {
    plain: Slot,
    html: Slot,
    offset: u64,
}

impl Default for Collector {
    fn default() -> Self {
        Collector { plain: Slot::Waiting, html: Slot::Waiting, offset: 0 }
    }
}

impl Collector {
    /// Feeds `bytes` (the next of the message, any size) to `structure`,
    /// reading the preview's part as they pass.
    pub fn feed(&mut self, structure: &mut StructureParser, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            if matches!(self.plain, Slot::Done(_)) {
                // Nothing more to learn: the structure pass alone.
                structure.feed(bytes);
                self.offset += bytes.len() as u64;
                return;
            }
            let length = bytes.iter().position(|&byte| byte == b'\n').map_or(bytes.len(), |at| at + 1);
            let line = &bytes[..length];
            self.observe(structure);
            for slot in [&mut self.plain, &mut self.html] {
                if let Slot::Reading(reading) = slot {
                    reading.take(line, self.offset);
                }
            }
            structure.feed(line);
            self.offset += length as u64;
            bytes = &bytes[length..];
        }
    }

    /// Before a line: ends a slot whose part ended, starts one whose part
    /// begins.
    fn observe(&mut self, structure: &StructureParser) {
        let current = structure.body_part();
        for slot in [&mut self.plain, &mut self.html] {
            if let Slot::Reading(reading) = slot {
                if current.map(|(index, _, _)| index) != Some(reading.index) {
                    let body_end = structure.part(reading.index).map_or(0, |part| part.body_end);
                    let Slot::Reading(reading) = std::mem::replace(slot, Slot::Waiting) else { unreachable!() };
                    // An empty part has no words: wait for the next one
                    // (as `part_for` skips it).
                    if body_end > reading.body_start {
                        *slot = Slot::Done(reading.finish(body_end));
                    }
                }
            }
        }
        let Some((index, part, inside_message)) = current else { return };
        let slot = match source_of(part, inside_message) {
            Some(Source::Plain) => &mut self.plain,
            Some(Source::Html) => &mut self.html,
            None => return,
        };
        if matches!(slot, Slot::Waiting) {
            *slot = Slot::Reading(Box::new(Reading {
                index,
                builder: PartPreview::new(&part.content, source_of(part, inside_message).unwrap_or(Source::Plain)),
                held: Vec::new(),
                held_start: self.offset,
                body_start: self.offset,
                ending: 0,
                settled: false,
            }));
        }
    }

    /// The preview, once the structure pass is finished.
    pub fn finish(self, structure: &Structure) -> String {
        let done = |slot: Slot| match slot {
            Slot::Waiting => None,
            Slot::Done(text) => Some(text),
            Slot::Reading(reading) => {
                let body_end = structure.parts.get(reading.index).map_or(0, |part| part.body_end);
                (body_end > reading.body_start).then(|| reading.finish(body_end))
            }
        };
        done(self.plain).or_else(|| done(self.html)).unwrap_or_default()
    }
}

/// The preview of a whole message held in memory.
#[cfg(test)]
fn of_message(message: &[u8]) -> String {
    let mut parser = StructureParser::new();
    let mut collector = Collector::default();
    collector.feed(&mut parser, message);
    let structure = parser.finish();
    collector.finish(&structure)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The preview as FETCH computes it for an old message: from the
    /// finished structure.
    fn from_structure(message: &[u8]) -> String {
        let mut parser = StructureParser::new();
        parser.feed(message);
        let structure = parser.finish();
        let Some((index, source)) = part_for(&structure) else { return String::new() };
        let part = &structure.parts[index];
        let mut builder = PartPreview::new(&part.content, source);
        let end = part.body_end.min(part.body_start + MAX_PART_BYTES) as usize;
        builder.feed(&message[part.body_start as usize..end]);
        builder.finish()
    }

    /// Both ways agree, whatever the pieces the message comes in.
    fn preview(message: &[u8]) -> String {
        let whole = of_message(message);
        assert_eq!(whole, from_structure(message), "delivery and FETCH disagree");
        for size in [1, 3, 7, 64] {
            let mut parser = StructureParser::new();
            let mut collector = Collector::default();
            for piece in message.chunks(size) {
                collector.feed(&mut parser, piece);
            }
            let structure = parser.finish();
            assert_eq!(collector.finish(&structure), whole, "pieces of {size}");
        }
        whole
    }

    #[test]
    fn plain_text_collapsed() {
        let message = b"Subject: hi\r\n\r\n  Hello,\r\n\r\n\tthis  is\r\n a test.  \r\n";
        assert_eq!(preview(message), "Hello, this is a test.");
    }

    #[test]
    fn quoted_lines_are_skipped() {
        let message = b"Subject: re\r\n\r\nOn Monday Bob wrote:\r\n> quoted line\r\n>> deeper\r\n\r\nMy answer, not > a quote.\r\n>last";
        assert_eq!(preview(message), "On Monday Bob wrote: My answer, not > a quote.");
    }

    #[test]
    fn no_content_type_is_plain_and_lf_only_works() {
        assert_eq!(preview(b"Subject: x\n\nJust text\nhere\n"), "Just text here");
    }

    #[test]
    fn empty_body_and_no_text_part() {
        assert_eq!(preview(b"Subject: x\r\n\r\n"), "");
        assert_eq!(preview(b"Subject: x\r\n"), "");
        let message = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n--b--\r\n";
        assert_eq!(preview(message), "");
    }

    #[test]
    fn html_tags_entities_scripts_styles() {
        let message = b"Content-Type: text/html; charset=utf-8\r\n\r\n<!DOCTYPE html><html><head><title>Title here</title>\
<style>p { color: red; } a > b {}</style><script>if (a < b) { x = '</p>'; }</script></head>\
<body><!-- a comment with <b>tags</b> --><p>Caf&eacute; &amp; cr&egrave;me&nbsp;br&ucirc;l&#233;e</p><p>x &lt; y &#x263A; \
<a href=\"http://e.x/?a=1&amp;b=>2\">link</a>text</p><div>AT&T &unknown; 5 < 6</div></body></html>\r\n";
        assert_eq!(preview(message), "Café & crème br&ucirc;lée x < y ☺ linktext AT&T &unknown; 5 < 6");
    }

    #[test]
    fn quoted_printable_and_base64() {
        let message = b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nCaf=C3=A9 au lait, soft=\r\n break=20\r\nend\r\n";
        assert_eq!(preview(message), "Café au lait, soft break end");
        let message =
            b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\nSMOpbGxvLAp3\r\nb3JsZCE=\r\n";
        assert_eq!(preview(message), "Héllo, world!");
    }

    #[test]
    fn charsets() {
        let message = b"Content-Type: text/plain; charset=iso-8859-1\r\n\r\nK\xf6ln \xe9t\xe9\r\n";
        assert_eq!(preview(message), "Köln été");
        let message = b"Content-Type: text/plain; charset=\"windows-1252\"\r\n\r\n\x93quoted\x94 \x80 5\r\n";
        assert_eq!(preview(message), "\u{201C}quoted\u{201D} € 5");
        // Unknown charset: lenient UTF-8.
        let message = b"Content-Type: text/plain; charset=x-nonsense\r\n\r\nna\xc3\xafve\r\n";
        assert_eq!(preview(message), "naïve");
    }

    #[test]
    fn cut_at_256_characters_on_a_character_boundary() {
        let mut message = b"Content-Type: text/plain; charset=utf-8\r\n\r\n".to_vec();
        for _ in 0..300 {
            message.extend_from_slice("é".as_bytes());
        }
        message.extend_from_slice(b"\r\n");
        let text = preview(&message);
        assert_eq!(text.chars().count(), MAX_CHARS);
        assert_eq!(text.len(), 2 * MAX_CHARS);
        // A space at the cut is not left trailing.
        let mut message = b"Subject: x\r\n\r\n".to_vec();
        message.extend_from_slice(&[b'a'; 255]);
        message.extend_from_slice(b" bcd\r\n");
        let text = preview(&message);
        assert_eq!(text, "a".repeat(255));
        // Exactly 256 fits whole.
        let mut message = b"Subject: x\r\n\r\n".to_vec();
        message.extend_from_slice(&[b'z'; 256]);
        assert_eq!(preview(&message).len(), 256);
    }

    #[test]
    fn alternative_prefers_plain_even_after_html() {
        let message = b"Content-Type: multipart/alternative; boundary=\"b\"\r\n\r\npreamble\r\n--b\r\nContent-Type: text/html\r\n\r\n<p>The HTML</p>\r\n--b\r\nContent-Type: text/plain\r\n\r\nThe plain text\r\n--b--\r\nepilogue\r\n";
        assert_eq!(preview(message), "The plain text");
        let message = b"Content-Type: multipart/alternative; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/html\r\n\r\n<p>Only HTML</p>\r\n--b\r\nContent-Type: image/gif\r\n\r\nGIF\r\n--b--\r\n";
        assert_eq!(preview(message), "Only HTML");
    }

    #[test]
    fn the_delimiter_is_not_text() {
        let message =
            b"Content-Type: multipart/mixed; boundary=XyZ\r\n\r\n--XyZ\r\n\r\nshort\r\n--XyZ\r\nContent-Type: text/plain\r\n\r\nsecond\r\n--XyZ--\r\n";
        assert_eq!(preview(message), "short");
    }

    #[test]
    fn attachments_and_attached_messages_are_skipped() {
        let message = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename=a.txt\r\n\r\nattached file\r\n--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\ninner text\r\n--b\r\nContent-Type: text/html\r\n\r\n<b>own</b> words\r\n--b--\r\n";
        assert_eq!(preview(message), "own words");
    }

    #[test]
    fn invisible_padding_is_dropped() {
        let message = b"Content-Type: text/html\r\n\r\n<div>Sale&nbsp;&zwnj;&#847;&zwnj; &#8203;now</div>\r\n";
        assert_eq!(preview(message), "Sale now");
    }

    #[test]
    fn only_the_first_64_kib_are_read() {
        let mut message = b"Content-Type: text/html\r\n\r\n<style>".to_vec();
        message.extend(std::iter::repeat_n(b'x', MAX_PART_BYTES as usize));
        message.extend_from_slice(b"</style>late words\r\n");
        assert_eq!(preview(&message), "");
    }

    proptest::proptest! {
        /// Delivery (streamed, any pieces) and FETCH (from the structure)
        /// give the same preview, within the rules.
        #[test]
        fn streamed_equals_stored(
            parts in proptest::collection::vec((0usize..4, proptest::collection::vec(proptest::sample::select(
                vec!["a", "b", " ", "\r", "\n", "\r\n", "-", "--", "--b", "--b--", "<p>", "<", ">", "&amp;", ";", "=",
                     "=C3=A9", "\u{e9}", "x\u{a0}"]), 0..60)), 0..5),
            nested in proptest::bool::ANY,
        ) {
            let types = ["text/plain", "text/html", "image/png", "message/rfc822"];
            let mut message = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n".to_vec();
            for (kind, body) in &parts {
                message.extend_from_slice(b"--b\r\nContent-Type: ");
                message.extend_from_slice(types[*kind].as_bytes());
                message.extend_from_slice(b"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n");
                if nested && *kind == 3 {
                    message.extend_from_slice(b"Content-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\n\r\n");
                }
                message.extend_from_slice(body.concat().as_bytes());
                message.extend_from_slice(b"\r\n");
            }
            message.extend_from_slice(b"--b--\r\n");
            let text = preview(&message);
            proptest::prop_assert!(text.chars().count() <= MAX_CHARS);
            proptest::prop_assert!(!text.starts_with(' ') && !text.ends_with(' ') && !text.contains("  "));
        }
    }
}
