//! The per-message evaluator of SEARCH (and of SORT's, THREAD's and live
//! searches' scans): a search key compiled into a [`Test`], tested against
//! one [`Candidate`] message at a time, loading only what the keys need
//! (record, header summary, header, then the body piece by piece through
//! [`ContentSearch`]), three-valued so a body is read only when the other
//! keys leave the answer open. How the scan around it paces itself and
//! keeps snapshots short is in the engine's docs (`imap::search`).

use super::{
    decode_header_value, first_address, header, indexed_condition, matcher, structure_of, BlobCursor, BlobRecord,
    Budget, CharsetDecoder, ChunkReader, DateField, DateRelation, DateTime, Decoder, Flags, Kind, Matcher,
    MessageCursor, MessageRecord, Needs, PrivateCursor, Range, SaveDateCursor, SearchKey, Snapshot, SortInput,
    StoreError, SummaryCursor, TransferEncoding, View, PIECE,
};

/// A search key compiled against the view: sets resolved to indexes,
/// keywords to their bits; every other key is tested as parsed.
pub(super) enum Test {
    And(Vec<Test>),
    Or(Box<Test>, Box<Test>),
    Not(Box<Test>),
    Indices(Vec<Range<usize>>),
    /// Keyword bit (None: the mailbox has no such keyword), set or not.
    Keyword(Option<u32>, bool),
    /// A header field's decoded value contains the (decoded) needle.
    Header(Vec<u8>, Needle),
    /// BODY or TEXT: the content key with this index (see [`ContentKey`]).
    Content(usize),
    /// RFC 8474 EMAILID: the message's blob is this one (None: the id is
    /// none of ours, nothing matches).
    EmailId(Option<u64>),
    Key(SearchKey),
}

/// A search string in UTF-8, with what matching needs ready.
pub(super) struct Needle {
    text: String,
    /// The folded needle when it is ASCII: ASCII haystacks are then matched
    /// by bytes, without decoding or folding (most header values).
    ascii: Option<Vec<u8>>,
    /// The blobs the full-text index says may hold it (ascending), when
    /// the index could answer: every other message is known not to.
    candidates: Option<Vec<u64>>,
}

impl Needle {
    fn new(raw: &[u8], charset: &[u8]) -> Needle {
        let mut text = String::new();
        let mut decoder = CharsetDecoder::for_label(charset).unwrap_or_else(CharsetDecoder::lenient_utf8);
        decoder.feed(raw, &mut text);
        decoder.finish(&mut text);
        let folded = matcher::fold(&text);
        let ascii = folded.is_ascii().then(|| folded.into_bytes());
        Needle { text, ascii, candidates: None }
    }

    /// Whether the index rules out the message stored as `blob`.
    fn ruled_out(&self, blob: u64) -> bool {
        self.candidates.as_ref().is_some_and(|candidates| candidates.binary_search(&blob).is_err())
    }

    /// Whether a header field name holds the needle (TEXT searches names
    /// too). Names are ASCII in real mail; an 8-bit one is read as UTF-8.
    fn in_field_name(&self, name: &[u8]) -> bool {
        match &self.ascii {
            Some(needle) if name.is_ascii() => contains_folded_ascii(name, needle),
            _ => matcher::contains(&String::from_utf8_lossy(name), &self.text),
        }
    }

    /// Whether a header value (raw, possibly folded, possibly with
    /// RFC 2047 words) contains the needle once decoded.
    fn in_header_value(&self, value: &[u8]) -> bool {
        let value = header::join_folds(value);
        let plain = value.is_ascii() && !value.windows(2).any(|pair| pair == b"=?");
        if plain {
            return match &self.ascii {
                Some(needle) => contains_folded_ascii(&value, needle),
                // A needle that folds to non-ASCII is not in ASCII text.
                None => false,
            };
        }
        matcher::contains(&decode_header_value(&value), &self.text)
    }

    /// Whether an address field holds the needle once its addresses are
    /// read as ENVELOPE reads them and written plainly, `Name
    /// <mailbox@host>` each, joined by `, `: comments and folding around
    /// the `@` (RFC 5322 §3.4.1) are gone, so `FROM user@domain.org` finds
    /// `<user (comment)@ (comment) domain.org>`, as Dovecot searches
    /// addresses. Tried after the raw value, so nothing found before is lost.
    fn in_addresses(&self, value: &[u8]) -> bool {
        let mut plain = Vec::new();
        for address in crate::mime::address::parse_list(&header::unfold(value)) {
            let (Some(mailbox), Some(host)) = (&address.mailbox, &address.host) else { continue };
            if !plain.is_empty() {
                plain.extend_from_slice(b", ");
            }
            if let Some(name) = address.name.as_deref().filter(|name| !name.is_empty()) {
                plain.extend_from_slice(name);
                plain.extend_from_slice(b" <");
            }
            plain.extend_from_slice(mailbox);
            plain.push(b'@');
            plain.extend_from_slice(host);
            if address.name.as_deref().is_some_and(|name| !name.is_empty()) {
                plain.push(b'>');
            }
        }
        matcher::contains(&decode_header_value(&plain), &self.text)
    }
}

/// Fields whose search also looks at the addresses as read (see
/// [`Needle::in_addresses`]).
pub(super) const ADDRESS_FIELDS: [&[u8]; 4] = [b"FROM", b"TO", b"CC", b"BCC"];

/// Most trigrams of one needle looked up in the index: of a long needle's
/// (sorted) trigrams, an even sample (fewer only add candidates), so a
/// client's 64 KiB search string costs a bounded number of lookups.
const TRIGRAMS_ASKED: usize = 12;

/// Visits every needle the full-text index can narrow, in a fixed order,
/// with the kinds of stream it is searched in: BODY's (bodies), TEXT's
/// (bodies and headers), and header keys on fields outside the header
/// summary (headers; summary fields also match address renderings no
/// stream holds, see `fts`).
pub(super) fn indexed_needles(
    test: &mut Test,
    contents: &mut [ContentKey],
    visit: &mut dyn FnMut(&mut Needle, &'static [u8]),
) {
    fn walk(test: &mut Test, visit: &mut dyn FnMut(&mut Needle, &'static [u8])) {
        match test {
            Test::And(tests) => tests.iter_mut().for_each(|test| walk(test, visit)),
            Test::Or(left, right) => {
                walk(left, visit);
                walk(right, visit);
            }
            Test::Not(test) => walk(test, visit),
            Test::Header(field, needle) if !header::in_summary(field) => visit(needle, &[HEADER]),
            _ => {}
        }
    }
    use crate::fts::segment::{BODY, HEADER};
    for key in contents.iter_mut() {
        visit(&mut key.needle, if key.headers { &[BODY, HEADER] } else { &[BODY] });
    }
    walk(test, visit);
}

/// What the index is asked for `needle`: None when it cannot narrow it
/// (under three folded characters).
pub(super) fn index_query(needle: &Needle, kinds: &[u8]) -> Option<crate::store::fts::Query> {
    let trigrams = crate::fts::needle_trigrams(&needle.text)?;
    let trigrams = if trigrams.len() <= TRIGRAMS_ASKED {
        trigrams
    } else {
        let last = trigrams.len() - 1;
        let mut picked: Vec<u32> =
            (0..TRIGRAMS_ASKED).map(|index| trigrams[index * last / (TRIGRAMS_ASKED - 1)]).collect();
        picked.dedup();
        picked
    };
    Some(crate::store::fts::Query { trigrams, kinds: kinds.to_vec() })
}

/// Gives `needle` the index's answer for it.
pub(super) fn set_candidates(needle: &mut Needle, candidates: Option<Vec<u64>>) {
    needle.candidates = candidates;
}

/// Compiles `key`; BODY and TEXT keys go to `contents`.
pub(super) fn compile(key: SearchKey, view: &View, charset: &[u8], contents: &mut Vec<ContentKey>) -> Test {
    let mut content = |needle: Needle, headers: bool| {
        contents.push(ContentKey { needle, headers });
        Test::Content(contents.len() - 1)
    };
    match key {
        SearchKey::And(keys) => Test::And(keys.into_iter().map(|key| compile(key, view, charset, contents)).collect()),
        SearchKey::Or(left, right) => {
            let left = compile(*left, view, charset, contents);
            Test::Or(Box::new(left), Box::new(compile(*right, view, charset, contents)))
        }
        SearchKey::Not(key) => Test::Not(Box::new(compile(*key, view, charset, contents))),
        SearchKey::Header { field, value } => Test::Header(field.into_bytes(), Needle::new(&value, charset)),
        SearchKey::Body(value) => content(Needle::new(&value, charset), false),
        SearchKey::Text(value) => content(Needle::new(&value, charset), true),
        SearchKey::Sequence(set) => Test::Indices(view.resolve_for_search(&set, false)),
        SearchKey::Uid(set) => Test::Indices(view.resolve_for_search(&set, true)),
        SearchKey::Keyword(name, set) => {
            let bit = view.keywords.iter().position(|known| known.eq_ignore_ascii_case(&name)).map(|bit| bit as u32);
            Test::Keyword(bit, set)
        }
        SearchKey::EmailId(id) => Test::EmailId(crate::imap::object_id::email_blob(&id)),
        other => Test::Key(other),
    }
}

/// Whether `candidate` matches `test`: the cheap keys first; a body or
/// TEXT key is worked out only when the answer still depends on it, a
/// piece at a time, yielding whenever the stretch's budget is spent.
pub(super) async fn decide(
    candidate: &mut Candidate<'_, '_>,
    test: &Test,
    contents: &[ContentKey],
    budget: &mut Budget,
) -> Result<bool, StoreError> {
    loop {
        candidate.pending = None;
        let pending = match candidate.test(test) {
            Ok(Some(matched)) => return Ok(matched),
            Ok(None) => candidate.pending.unwrap_or_default(),
            Err(error) => return Err(error),
        };
        if contents[pending].needle.ruled_out(candidate.record()?.blob) {
            candidate.found[pending] = Some(false);
            continue;
        }
        let mut search = ContentSearch::new(&contents[pending]);
        let outcome = loop {
            match search.step(candidate) {
                Ok(None) => {}
                outcome => break outcome,
            }
            if budget.spend(std::mem::take(&mut candidate.work)) {
                budget.pause().await;
            }
        };
        candidate.found[pending] = outcome?;
    }
}

/// A body or TEXT key: what it looks for.
pub(super) struct ContentKey {
    needle: Needle,
    /// TEXT: the headers too (the message's and its parts').
    headers: bool,
}

/// One content key being worked out for one message, one step at a time
/// (a header, or one [`PIECE`] of a text part), so the scan can pause
/// between any two steps, however big the message.
///
/// The body's text is every text part's body with its transfer encoding
/// and charset undone, read through a matcher that keeps only the needle's
/// worth of state across pieces. As in Dovecot, non-text parts (images,
/// archives...) and preambles are not searched; MIME part headers and
/// attached messages' headers only for TEXT.
pub(super) struct ContentSearch<'a> {
    key: &'a ContentKey,
    phase: Phase,
    structure: Option<crate::mime::structure::Structure>,
    part: usize,
    matcher: Matcher,
    piece: Vec<u8>,
    decoded: Vec<u8>,
    text: String,
}

pub(super) enum Phase {
    /// TEXT: the message's own header.
    Header,
    /// The next part: its header (TEXT), then its body if it is text.
    Part,
    /// A text part's body, from `position` to `end`.
    Body { decoder: Decoder, charset: CharsetDecoder, position: u64, end: u64 },
}

impl<'a> ContentSearch<'a> {
    fn new(key: &'a ContentKey) -> ContentSearch<'a> {
        ContentSearch {
            key,
            phase: if key.headers { Phase::Header } else { Phase::Part },
            structure: None,
            part: 0,
            matcher: Matcher::new(&key.needle.text),
            piece: Vec::new(),
            decoded: Vec::new(),
            text: String::new(),
        }
    }

    /// Does one step; Some(found) once the answer is known.
    fn step(&mut self, candidate: &mut Candidate) -> Result<Option<bool>, StoreError> {
        let needle = &self.key.needle;
        // RFC 3501: an empty string matches every message.
        if needle.text.is_empty() {
            return Ok(Some(true));
        }
        let record = candidate.record()?;
        let chunks = candidate.chunks;
        match &mut self.phase {
            Phase::Header => {
                let header = candidate.header()?;
                if header_contains(header, needle) {
                    return Ok(Some(true));
                }
                self.phase = Phase::Part;
            }
            Phase::Part => {
                if self.structure.is_none() {
                    self.structure = Some(structure_of(&record, candidate.blob()?, chunks)?);
                }
                let Some(part) = self.structure.as_ref().and_then(|structure| structure.parts.get(self.part)) else {
                    return Ok(Some(false));
                };
                self.part += 1;
                if self.key.headers && self.part > 1 {
                    let start = part.header_start.min(record.size);
                    let end = part.body_start.min(record.size).min(start + HEADER_SEARCHED);
                    self.decoded.clear();
                    chunks.read(record.blob, start, end, &mut self.decoded)?;
                    candidate.work += self.decoded.len() as u64 / 1024;
                    if header_contains(&self.decoded, needle) {
                        return Ok(Some(true));
                    }
                }
                if part.kind != Kind::Text || part.children != 0 {
                    return Ok(None);
                }
                let (start, end) = (part.body_start.min(record.size), part.body_end.min(record.size));
                if start >= end {
                    return Ok(None);
                }
                let label = part.content.params.iter().find(|(name, _)| name.eq_ignore_ascii_case(b"charset"));
                let charset = label
                    .and_then(|(_, value)| CharsetDecoder::for_label(value))
                    .unwrap_or_else(CharsetDecoder::lenient_utf8);
                let decoder = Decoder::new(TransferEncoding::from_header(part.content.encoding.as_deref()));
                self.matcher.reset();
                self.phase = Phase::Body { decoder, charset, position: start, end };
            }
            Phase::Body { decoder, charset, position, end } => {
                let until = (*position + PIECE).min(*end);
                self.piece.clear();
                chunks.read(record.blob, *position, until, &mut self.piece)?;
                candidate.work += (until - *position) / 1024;
                *position = until;
                let last = until == *end;
                self.decoded.clear();
                decoder.feed(&self.piece, &mut self.decoded);
                self.text.clear();
                charset.feed(&self.decoded, &mut self.text);
                if last {
                    self.decoded.clear();
                    decoder.finish(&mut self.decoded);
                    charset.feed(&self.decoded, &mut self.text);
                    charset.finish(&mut self.text);
                }
                if self.matcher.feed(&self.text) {
                    return Ok(Some(true));
                }
                if last {
                    self.phase = Phase::Part;
                }
            }
        }
        Ok(None)
    }
}

/// An indexed flag condition every match must meet, if there is one: then
/// only the messages the flag index lists need testing.
pub(super) fn required_condition(test: &Test) -> Option<u8> {
    match test {
        Test::Key(SearchKey::Flag(flag, set)) => indexed_condition(*flag, *set),
        // NEW is \Recent and not \Seen.
        Test::Key(SearchKey::New) => indexed_condition(Flags::SEEN, false),
        Test::And(tests) => tests.iter().find_map(required_condition),
        _ => None,
    }
}

/// One message under test, loading its parts on first use.
pub(super) struct Candidate<'a, 'b> {
    pub(super) index: usize,
    pub(super) uid: u32,
    view: &'a View,
    /// Candidates come in ascending UID order, so one cursor serves all.
    records: &'a mut MessageCursor,
    blobs: &'a mut BlobCursor<'b>,
    summaries: &'a mut SummaryCursor,
    save_dates: &'a mut SaveDateCursor,
    chunks: &'a ChunkReader,
    private: Option<&'a mut PrivateCursor>,
    record: Option<MessageRecord>,
    /// Whether the cursor's current blob record is this message's.
    blob_loaded: bool,
    header: Option<Vec<u8>>,
    /// What each content key (BODY, TEXT) gave for this message, once
    /// worked out (see [`ContentSearch`]).
    found: &'a mut Vec<Option<bool>>,
    /// The first content key a test needed and found not worked out.
    pending: Option<usize>,
    /// Work done since the scan last counted it (see [`Budget`]).
    pub(super) work: u64,
}

impl<'a, 'b> Candidate<'a, 'b> {
    /// Message `uid` at `index` of `view`, read through `snapshot`'s
    /// cursors; what content keys found for the previous candidate is
    /// forgotten.
    pub(super) fn new(
        index: usize,
        uid: u32,
        view: &'a View,
        snapshot: &'a mut Snapshot,
        blobs: &'a mut BlobCursor<'b>,
        found: &'a mut Vec<Option<bool>>,
    ) -> Candidate<'a, 'b> {
        found.fill(None);
        Candidate {
            index,
            uid,
            view,
            records: &mut snapshot.records,
            blobs,
            summaries: &mut snapshot.summaries,
            save_dates: &mut snapshot.save_dates,
            chunks: &snapshot.chunks,
            private: snapshot.private.as_deref_mut(),
            record: None,
            blob_loaded: false,
            header: None,
            found,
            pending: None,
            work: 1,
        }
    }
}

impl Candidate<'_, '_> {
    /// What SORT or THREAD compares, read from the header summary.
    pub(super) fn sort_input(&mut self, needs: &Needs) -> Result<SortInput, StoreError> {
        let record = self.record()?;
        let mut input = SortInput::new(self.index as u32 + 1, self.uid, record.internal_date, record.size);
        let read = |candidate: &mut Self, wanted: bool, field: &[u8]| {
            if wanted {
                candidate.field_value(field)
            } else {
                Ok(None)
            }
        };
        input.date = read(self, needs.date, b"date")?;
        input.from = read(self, needs.from, b"from")?;
        input.to = read(self, needs.to, b"to")?;
        input.cc = read(self, needs.cc, b"cc")?;
        input.message_id = read(self, needs.message_id, b"message-id")?;
        input.references = read(self, needs.references, b"references")?;
        input.in_reply_to = read(self, needs.references, b"in-reply-to")?;
        input.subject = read(self, needs.subject, b"subject")?.map(|raw| decode_header_value(&raw));
        let display = |raw: &Option<Vec<u8>>| {
            let name = first_address(raw.as_deref()?)?.name?;
            Some(decode_header_value(&name))
        };
        if needs.display_from {
            input.display_from = display(&input.from);
        }
        if needs.display_to {
            input.display_to = display(&input.to);
        }
        Ok(input)
    }

    pub(super) fn record(&mut self) -> Result<MessageRecord, StoreError> {
        if let Some(record) = self.record {
            return Ok(record);
        }
        // NoSuchMailbox stands for "this message is gone" inside the search.
        let mut record = self.records.find(self.uid)?.ok_or(StoreError::NoSuchMailbox)?;
        // SEEN, UNSEEN, NEW and MODSEQ test a reader's own (store::acl).
        if let Some(private) = &mut self.private {
            record = private.find(self.uid)?.apply(record);
        }
        self.record = Some(record);
        Ok(record)
    }

    fn blob(&mut self) -> Result<&BlobRecord, StoreError> {
        let record = self.record()?;
        if self.blob_loaded {
            return self.blobs.get_loaded();
        }
        self.blob_loaded = true;
        self.blobs.get(record.blob)
    }

    fn header_size(&mut self) -> Result<u64, StoreError> {
        let size = self.record()?.size;
        Ok(self.blob()?.header_size.min(size))
    }

    /// The message's header, its first [`HEADER_SEARCHED`] bytes at most.
    fn header(&mut self) -> Result<&[u8], StoreError> {
        if self.header.is_none() {
            let record = self.record()?;
            let size = self.header_size()?.min(HEADER_SEARCHED);
            let mut bytes = Vec::with_capacity(size as usize);
            self.chunks.read(record.blob, 0, size, &mut bytes)?;
            self.work += size / 1024;
            self.header = Some(bytes);
        }
        Ok(self.header.as_deref().unwrap_or_default())
    }

    /// Whether some `field` value, decoded, contains `needle`: from the
    /// summary when it holds that field, else from the whole header.
    fn field_contains(&mut self, field: &[u8], needle: &Needle) -> Result<bool, StoreError> {
        let addresses = ADDRESS_FIELDS.iter().any(|name| name.eq_ignore_ascii_case(field));
        let holds = |value: &[u8]| needle.in_header_value(value) || (addresses && needle.in_addresses(value));
        if !header::in_summary(field) && needle.ruled_out(self.record()?.blob) {
            return Ok(false);
        }
        Ok(match self.summary_holding(field)? {
            Some(summary) => summary.values_of(field).any(holds),
            None => header::fields(self.header()?)
                .filter(|found| found.name.eq_ignore_ascii_case(field))
                .any(|found| holds(found.value)),
        })
    }

    /// The first value of `field`, unfolded.
    fn field_value(&mut self, field: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(match self.summary_holding(field)? {
            Some(summary) => summary.values_of(field).next().map(header::unfold),
            None => header::fields(self.header()?)
                .find(|found| found.name.eq_ignore_ascii_case(field))
                .map(|found| header::unfold(found.value)),
        })
    }

    fn summary_holding(&mut self, field: &[u8]) -> Result<Option<header::Summary<'_>>, StoreError> {
        if !header::in_summary(field) {
            return Ok(None);
        }
        Ok(self.summaries.find(self.uid)?.map(header::Summary))
    }

    /// Whether the message matches; None when that depends on a content
    /// key not yet worked out (its index is then in `pending`). Keys are
    /// tried in order and the answer given as soon as it is known, so
    /// `UNSEEN TEXT x` reads no body of a seen message.
    fn test(&mut self, test: &Test) -> Result<Option<bool>, StoreError> {
        Ok(match test {
            Test::And(tests) => {
                let mut known = true;
                for test in tests {
                    match self.test(test)? {
                        Some(false) => return Ok(Some(false)),
                        Some(true) => {}
                        None => known = false,
                    }
                }
                known.then_some(true)
            }
            Test::Or(left, right) => match self.test(left)? {
                Some(true) => Some(true),
                // Unknown on the left: the right may still settle it.
                left => match self.test(right)? {
                    Some(true) => Some(true),
                    Some(false) => left,
                    None => None,
                },
            },
            Test::Not(test) => self.test(test)?.map(|matched| !matched),
            Test::Indices(ranges) => Some(ranges.iter().any(|range| range.contains(&self.index))),
            Test::Keyword(None, set) => Some(!*set),
            Test::Keyword(Some(bit), set) => Some((self.record()?.keywords & (1 << bit) != 0) == *set),
            Test::Header(field, needle) => Some(self.field_contains(field, needle)?),
            Test::Content(key) => {
                let found = self.found[*key];
                if found.is_none() {
                    self.pending.get_or_insert(*key);
                }
                found
            }
            Test::EmailId(None) => Some(false),
            Test::EmailId(Some(blob)) => Some(self.record()?.blob == *blob),
            Test::Key(key) => Some(self.test_key(key)?),
        })
    }

    fn test_key(&mut self, key: &SearchKey) -> Result<bool, StoreError> {
        Ok(match key {
            SearchKey::All => true,
            SearchKey::Flag(flag, set) => self.record()?.flags.contains(*flag) == *set,
            SearchKey::Recent(set) => self.view.is_recent(self.uid) == *set,
            SearchKey::New => self.view.is_recent(self.uid) && !self.record()?.flags.contains(Flags::SEEN),
            SearchKey::Larger(size) => self.record()?.size > *size,
            SearchKey::Modseq(modseq) => self.record()?.modseq >= *modseq,
            SearchKey::Smaller(size) => self.record()?.size < *size,
            SearchKey::Date { field, relation, days } => {
                let date = match field {
                    DateField::Internal => Some(self.record()?.internal_date),
                    DateField::Sent => self.field_value(b"date")?.and_then(|value| DateTime::parse_rfc5322(&value)),
                    // RFC 8514 §4.3, in UTC (the zone roost saves in). A
                    // message stored before save dates were kept goes by
                    // its INTERNALDATE: it was saved no earlier than it
                    // arrived, and a client expiring its Trash with
                    // SAVEDBEFORE then still finds the old messages.
                    DateField::Saved => Some(match self.save_dates.find(self.uid)? {
                        Some(unix) => DateTime { unix, offset_minutes: 0 },
                        None => self.record()?.internal_date,
                    }),
                };
                // RFC 3501: dates compare by day, disregarding time and zone.
                match date.map(|date| date.local_days()) {
                    // No or a broken Date: very old, as Dovecot counts it.
                    None => *relation == DateRelation::Before,
                    Some(day) => match relation {
                        DateRelation::Before => day < *days,
                        DateRelation::On => day == *days,
                        DateRelation::Since => day >= *days,
                    },
                }
            }
            // Every roost mailbox keeps save dates (RFC 8514 §4.3).
            SearchKey::SaveDateSupported => true,
            // RFC 8474 §5.2: no message has a THREADID (see imap::object_id).
            SearchKey::ThreadId(_) => false,
            // Compiled into the other kinds of test.
            SearchKey::EmailId(_) => false,
            SearchKey::Header { .. } | SearchKey::Body(_) | SearchKey::Text(_) => false,
            SearchKey::And(_)
            | SearchKey::Or(..)
            | SearchKey::Not(_)
            | SearchKey::Sequence(_)
            | SearchKey::Uid(_)
            | SearchKey::Keyword(..) => false,
        })
    }
}

/// Whether ASCII `haystack` holds `needle`, a needle already folded by
/// [`matcher::fold`] to ASCII: for ASCII text the fold is ASCII lower
/// case, so bytes compare without decoding. Everything else goes through
/// [`matcher::contains`]: one fold for all of SEARCH (and SORT, see
/// `imap::sort::casemap`).
pub(super) fn contains_folded_ascii(haystack: &[u8], needle: &[u8]) -> bool {
    if needle.is_empty() {
        return true;
    }
    let Some(last_start) = haystack.len().checked_sub(needle.len()) else { return false };
    (0..=last_start).any(|start| haystack[start..start + needle.len()].eq_ignore_ascii_case(needle))
}

/// Bytes of a header searched: the message's own (for TEXT, and for
/// header keys on fields the summary does not hold) and each part's (for
/// TEXT). A header can be huge in broken or hostile mail; real ones are a
/// few KiB. See the module docs for what a search beyond it finds.
pub(super) const HEADER_SEARCHED: u64 = 64 * 1024;

/// Whether a header holds `needle` in a field name or decoded value.
pub(super) fn header_contains(header_bytes: &[u8], needle: &Needle) -> bool {
    header::fields(header_bytes).any(|found| needle.in_field_name(found.name) || needle.in_header_value(found.value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_fold_for_names_values_and_the_ascii_path() {
        assert!(contains_folded_ascii(b"Hello World", b"world"));
        assert!(contains_folded_ascii(b"abc", b""));
        assert!(!contains_folded_ascii(b"ab", b"abc"));
        assert!(!contains_folded_ascii(b"Hello", b"hola"));
        // Needles that fold to ASCII take the byte path and still match
        // as the fold says ("ß" is "ss", "K" the Kelvin sign is "k").
        assert!(Needle::new("STRAßE".as_bytes(), b"UTF-8").in_header_value(b"Hauptstrasse 1"));
        assert!(Needle::new("\u{212A}ey".as_bytes(), b"UTF-8").in_field_name(b"X-Key"));
        assert!(Needle::new("CRÈME".as_bytes(), b"UTF-8").in_header_value("Crème brûlée".as_bytes()));
        assert!(Needle::new("été".as_bytes(), b"UTF-8").in_header_value("ÉTÉ".as_bytes()));
        assert!(!Needle::new("ete".as_bytes(), b"UTF-8").in_header_value("été".as_bytes()));
        // Field names used another fold before (issue 13, fault 9): "ẞ"
        // (capital sharp s) lower-cased is "ß", which never met "ss".
        assert!(Needle::new("X-STRAẞE".as_bytes(), b"UTF-8").in_field_name(b"X-Strasse"));
    }

    proptest::proptest! {
        /// The ASCII byte path answers as the matcher does for ASCII text.
        #[test]
        fn ascii_path_agrees_with_the_matcher(haystack in "[ -~]{0,40}", needle in "[ -~]{0,6}") {
            let folded = matcher::fold(&needle);
            proptest::prop_assert_eq!(
                contains_folded_ascii(haystack.as_bytes(), folded.as_bytes()),
                matcher::contains(&haystack, &needle)
            );
        }
    }

    #[test]
    fn folds_read_as_one_space() {
        assert_eq!(&*header::join_folds(b"a folded\r\n\tacross\r\n  lines\r\n"), b"a folded across lines");
        assert_eq!(&*header::join_folds(b"one line\r\n"), b"one line");
        assert_eq!(&*header::join_folds(b"lf\n fold"), b"lf fold");
        let needle = Needle::new(b"FOLDED ACROSS", b"UTF-8");
        assert!(needle.in_header_value(b"This is folded\r\n\tacross lines\r\n"));
        assert!(needle.in_header_value(b"=?UTF-8?Q?folded?=\r\n across\r\n"));
        assert!(!needle.in_header_value(b"folded\r\n\r\nacross"));
    }
}
