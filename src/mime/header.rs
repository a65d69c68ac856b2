//! RFC 5322 header fields: finding them, and the end of the header.

/// One header field: its name and its raw lines (value with folding and
/// the line ending included).
#[derive(Debug, PartialEq, Eq)]
pub struct Field<'a> {
    pub name: &'a [u8],
    /// Everything after the colon, folding and line endings as sent.
    pub value: &'a [u8],
    /// The whole field, name to final line ending.
    pub raw: &'a [u8],
}

/// The fields of `header` (which may include the blank line that ends it).
/// Lines that are not fields (no colon) are skipped, as real mail has them.
pub fn fields(header: &[u8]) -> impl Iterator<Item = Field<'_>> {
    lines(header).filter_map(|(_, field)| field)
}

/// Every logical line of `header` up to its blank line, each with its
/// field when it is one (a line without a colon, or with an empty name,
/// is not).
pub fn lines(header: &[u8]) -> impl Iterator<Item = (&[u8], Option<Field<'_>>)> {
    let mut position = 0;
    std::iter::from_fn(move || {
        if position >= header.len() {
            return None;
        }
        let start = position;
        // A field runs to the first line ending not followed by a space or tab.
        let mut end = start;
        loop {
            match header[end..].iter().position(|&byte| byte == b'\n') {
                Some(offset) => {
                    end += offset + 1;
                    if end < header.len() && (header[end] == b' ' || header[end] == b'\t') {
                        continue;
                    }
                }
                None => end = header.len(),
            }
            break;
        }
        position = end;
        let raw = &header[start..end];
        if raw == b"\r\n" || raw == b"\n" {
            // The blank line: the header is over.
            position = header.len();
            return None;
        }
        let Some(colon) = raw.iter().position(|&byte| byte == b':') else { return Some((raw, None)) };
        let name = trim_end(&raw[..colon]);
        if name.is_empty() || name.contains(&b'\n') {
            return Some((raw, None));
        }
        Some((raw, Some(Field { name, value: &raw[colon + 1..], raw })))
    })
}

fn trim_end(bytes: &[u8]) -> &[u8] {
    let end = bytes.iter().rposition(|&byte| byte != b' ' && byte != b'\t').map_or(0, |last| last + 1);
    &bytes[..end]
}

/// A header value with each fold (line break and the white space after
/// it) read as one space, and the final line break dropped, so a search
/// for "folded across" finds "folded\r\n\tacross" (as Dovecot does).
pub fn join_folds(value: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    let value = value.strip_suffix(b"\r\n").or_else(|| value.strip_suffix(b"\n")).unwrap_or(value);
    if !value.contains(&b'\n') {
        return std::borrow::Cow::Borrowed(value);
    }
    let mut joined = Vec::with_capacity(value.len());
    let mut bytes = value.iter().copied().peekable();
    while let Some(byte) = bytes.next() {
        if byte == b'\r' && bytes.peek() == Some(&b'\n') {
            continue;
        }
        if byte == b'\n' {
            while bytes.next_if(|&next| next == b' ' || next == b'\t').is_some() {}
            joined.push(b' ');
            continue;
        }
        joined.push(byte);
    }
    std::borrow::Cow::Owned(joined)
}

/// A field value with folding removed (RFC 5322 §2.2.3) and outer
/// whitespace trimmed.
pub fn unfold(value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len());
    for &byte in value {
        if byte != b'\r' && byte != b'\n' {
            out.push(byte);
        }
    }
    let start = out.iter().position(|&byte| byte != b' ' && byte != b'\t').unwrap_or(out.len());
    let end = out.iter().rposition(|&byte| byte != b' ' && byte != b'\t').map_or(start, |last| last + 1);
    out[start..end].to_vec()
}

/// Tracks, across chunks, where the header ends: after the first empty
/// line (CRLF CRLF, or LF LF in mail that lost its CRs). Without one, the
/// whole message is header.
#[derive(Default)]
pub struct HeaderEnd {
    seen: u64,
    /// The two bytes before the current one: enough to see a blank line
    /// split across chunks.
    previous: [u8; 2],
    found: Option<u64>,
}

impl HeaderEnd {
    pub fn feed(&mut self, bytes: &[u8]) {
        for (index, &byte) in bytes.iter().enumerate() {
            if self.found.is_some() {
                self.seen += (bytes.len() - index) as u64;
                return;
            }
            self.seen += 1;
            let [before, last] = self.previous;
            // "\n\n" or "\n\r\n" ends the header; so does a message that
            // starts with an empty line (its header is empty).
            let blank = byte == b'\n'
                && (last == b'\n'
                    || (last == b'\r' && before == b'\n')
                    || self.seen == 1
                    || (self.seen == 2 && last == b'\r'));
            self.previous = [last, byte];
            if blank {
                self.found = Some(self.seen);
            }
        }
    }

    /// Header length, blank line included.
    pub fn header_size(&self) -> u64 {
        self.found.unwrap_or(self.seen)
    }
}

/// Header fields kept beside each message (in its blob record), as raw
/// lines in header order: what clients fetch for a message list and what
/// SEARCH looks at most. FETCH HEADER.FIELDS naming only these, and SEARCH
/// on them, then read a few hundred bytes from one record instead of the
/// message's first chunk. Lower case, sorted.
pub const SUMMARY_FIELDS: [&str; 18] = [
    "bcc",
    "cc",
    "content-type",
    "date",
    "from",
    "importance",
    "in-reply-to",
    "list-id",
    "message-id",
    "newsgroups",
    "priority",
    "references",
    "reply-to",
    "sender",
    "subject",
    "to",
    "x-priority",
    "x-tuid",
];

/// The index of `name` in [`SUMMARY_FIELDS`], if it is one.
pub fn summary_field(name: &[u8]) -> Option<u8> {
    if name.len() > 16 {
        return None;
    }
    let mut lower = [0u8; 16];
    for (into, byte) in lower.iter_mut().zip(name) {
        *into = byte.to_ascii_lowercase();
    }
    let lower = &lower[..name.len()];
    SUMMARY_FIELDS.binary_search_by(|field| field.as_bytes().cmp(lower)).ok().map(|index| index as u8)
}

pub fn in_summary(name: &[u8]) -> bool {
    summary_field(name).is_some()
}

/// A stored summary: entries of (field index, u32 length, raw field line
/// with its line ending), in header order. Kept structured so a search
/// goes straight to its field without scanning lines.
#[derive(Clone, Copy)]
pub struct Summary<'a>(pub &'a [u8]);

impl<'a> Summary<'a> {
    /// (field index, raw line) in header order.
    pub fn entries(self) -> impl Iterator<Item = (u8, &'a [u8])> {
        let mut rest = self.0;
        std::iter::from_fn(move || {
            let (&field, tail) = rest.split_first()?;
            let length = u32::from_le_bytes(tail.get(..4)?.try_into().ok()?) as usize;
            let raw = tail.get(4..4 + length)?;
            rest = &tail[4 + length..];
            Some((field, raw))
        })
    }

    /// Values (after the colon, folding kept) of the field `name`.
    pub fn values_of(self, name: &[u8]) -> impl Iterator<Item = &'a [u8]> {
        let wanted = summary_field(name);
        self.entries().filter(move |(field, _)| Some(*field) == wanted).map(|(_, raw)| {
            let colon = raw.iter().position(|&byte| byte == b':').map_or(raw.len(), |colon| colon + 1);
            &raw[colon..]
        })
    }

    /// HEADER.FIELDS over summary fields: their lines in header order, then
    /// the blank line (the same bytes a pass over the whole header gives).
    pub fn select(self, names: &[String]) -> Vec<u8> {
        let wanted: Vec<Option<u8>> = names.iter().map(|name| summary_field(name.as_bytes())).collect();
        let mut selected = Vec::new();
        for (field, raw) in self.entries() {
            if wanted.contains(&Some(field)) {
                selected.extend_from_slice(raw);
            }
        }
        selected.extend_from_slice(b"\r\n");
        selected
    }
}

/// Longest header whose summary is made; a longer one (rare, hostile or
/// broken) is read from the message when needed.
const SUMMARY_HEADER_LIMIT: usize = 64 * 1024;

/// Follows a message as it streams in: where its header ends, and the
/// summary of its header fields.
#[derive(Default)]
pub struct HeaderCollector {
    end: HeaderEnd,
    header: Vec<u8>,
    too_long: bool,
}

impl HeaderCollector {
    pub fn feed(&mut self, bytes: &[u8]) {
        let seen = self.end.seen;
        self.end.feed(bytes);
        if self.too_long || self.header.len() as u64 >= self.end.header_size() && self.end.found.is_some() {
            return;
        }
        let wanted = (self.end.header_size() - seen.min(self.end.header_size())) as usize;
        let take = wanted.min(bytes.len());
        if self.header.len() + take > SUMMARY_HEADER_LIMIT {
            self.too_long = true;
            self.header = Vec::new();
            return;
        }
        self.header.extend_from_slice(&bytes[..take]);
    }

    pub fn header_size(&self) -> u64 {
        self.end.header_size()
    }

    /// The summary fields' raw lines, in header order (None: header too long).
    pub fn summary(&self) -> Option<Vec<u8>> {
        if self.too_long {
            return None;
        }
        let mut summary = Vec::new();
        for field in fields(&self.header) {
            if let Some(index) = summary_field(field.name) {
                let ending: &[u8] = if field.raw.ends_with(b"\n") { b"" } else { b"\r\n" };
                summary.push(index);
                summary.extend_from_slice(&((field.raw.len() + ending.len()) as u32).to_le_bytes());
                summary.extend_from_slice(field.raw);
                summary.extend_from_slice(ending);
            }
        }
        Some(summary)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const HEADER: &[u8] = b"From: Alice <a@example.org>\r\nSubject: a long\r\n  folded subject\r\nX-Empty:\r\nnot a field\r\nTo : bob@example.org\r\n\r\nbody: not a field\r\n";

    #[test]
    fn fields_with_folding() {
        let found: Vec<(&[u8], Vec<u8>)> = fields(HEADER).map(|field| (field.name, unfold(field.value))).collect();
        assert_eq!(
            found,
            vec![
                (&b"From"[..], b"Alice <a@example.org>".to_vec()),
                (&b"Subject"[..], b"a long  folded subject".to_vec()),
                (&b"X-Empty"[..], b"".to_vec()),
                (&b"To"[..], b"bob@example.org".to_vec()),
            ]
        );
        let subject = fields(HEADER).nth(1).unwrap();
        assert_eq!(subject.raw, b"Subject: a long\r\n  folded subject\r\n");
    }

    #[test]
    fn summary_fields_are_sorted_lower_case() {
        assert!(SUMMARY_FIELDS.windows(2).all(|pair| pair[0] < pair[1]));
        assert!(SUMMARY_FIELDS.iter().all(|field| field.to_ascii_lowercase() == *field));
        assert!(in_summary(b"Message-ID") && in_summary(b"FROM") && !in_summary(b"Received"));
    }

    #[test]
    fn collector_summarises_across_chunks() {
        let message =
            b"Received: by x\r\nFrom: Alice <a@x>\r\nSubject: hi\r\n there\r\nX-Other: 1\r\n\r\nFrom: not a header\r\n";
        for chunk in 1..message.len() {
            let mut collector = HeaderCollector::default();
            for piece in message.chunks(chunk) {
                collector.feed(piece);
            }
            assert_eq!(collector.header_size(), 70, "chunk {chunk}");
            let summary = collector.summary().unwrap();
            let summary = Summary(&summary);
            let entries: Vec<(u8, &[u8])> = summary.entries().collect();
            assert_eq!(
                entries,
                vec![
                    (summary_field(b"from").unwrap(), &b"From: Alice <a@x>\r\n"[..]),
                    (summary_field(b"subject").unwrap(), &b"Subject: hi\r\n there\r\n"[..])
                ],
                "chunk {chunk}"
            );
            assert_eq!(summary.values_of(b"SUBJECT").collect::<Vec<_>>(), vec![&b" hi\r\n there\r\n"[..]]);
            assert_eq!(summary.select(&["subject".into(), "X-Other".into()]), b"Subject: hi\r\n there\r\n\r\n");
        }
    }

    fn header_end(message: &[u8], chunk: usize) -> u64 {
        let mut end = HeaderEnd::default();
        for piece in message.chunks(chunk.max(1)) {
            end.feed(piece);
        }
        end.header_size()
    }

    #[test]
    fn header_end_across_chunks() {
        let message = b"A: 1\r\nB: 2\r\n\r\nbody\r\n\r\nmore";
        for chunk in 1..message.len() {
            assert_eq!(header_end(message, chunk), 14, "chunk {chunk}");
        }
        assert_eq!(header_end(b"A: 1\n\nbody", 3), 6);
        assert_eq!(header_end(b"A: 1\r\nno blank line", 4), 19);
        assert_eq!(header_end(b"\r\nbody", 1), 2);
        assert_eq!(header_end(b"\nbody", 1), 1);
    }

    proptest! {
        #[test]
        fn header_end_is_chunking_independent(message in proptest::collection::vec(prop_oneof![Just(b'\r'), Just(b'\n'), Just(b'a')], 0..40), chunk in 1usize..8) {
            prop_assert_eq!(header_end(&message, chunk), header_end(&message, message.len().max(1)));
        }

        #[test]
        fn fields_never_panic(header in proptest::collection::vec(any::<u8>(), 0..200)) {
            for field in fields(&header) {
                let _ = unfold(field.value);
            }
        }
    }
}
