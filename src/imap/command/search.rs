//! SEARCH and UID SEARCH (RFC 3501 §6.4.4).
//!
//! Messages are tested one at a time, loading only what the keys need (the
//! record, then the header, then the body, in chunks), and the scan yields
//! to other sessions as it goes: a search of a large mailbox neither holds
//! the mailbox in memory nor stalls the thread.

use std::io;
use std::ops::Range;

use crate::imap::command::fetch::structure_of;
use crate::imap::encode;
use crate::imap::session::{Session, State, Status};
use crate::imap::sort::{first_address, SortCriterion, SortInput, SortKey};
use crate::imap::thread::{Numbering, ThreadAlgorithm, Threader};
use crate::imap::types::{DateField, DateRelation, SearchKey, SearchReturn};
use crate::imap::view::View;
use crate::mime::charset::{self, CharsetDecoder};
use crate::mime::decode::{decode_header_value, Decoder, TransferEncoding};
use crate::mime::header;
use crate::mime::matcher::{self, Matcher};
use crate::mime::structure::Kind;
use crate::net::Connection;
use crate::store::{
    indexed_condition, BlobCursor, BlobRecord, ChunkReader, Flags, MessageCursor, MessageRecord, StoreError,
    SummaryCursor,
};
use crate::util::datetime::DateTime;

/// Messages tested between explicit yields to other sessions.
const YIELD_EVERY: usize = 256;

/// A search key compiled against the view: sets resolved to indexes,
/// keywords to their bits; every other key is tested as parsed.
enum Test {
    And(Vec<Test>),
    Or(Box<Test>, Box<Test>),
    Not(Box<Test>),
    Indices(Vec<Range<usize>>),
    /// Keyword bit (None: the mailbox has no such keyword), set or not.
    Keyword(Option<u32>, bool),
    /// A header field's decoded value contains the (decoded) needle.
    Header(Vec<u8>, Needle),
    /// The decoded text of the body contains it (BODY), or of the header
    /// or the body (TEXT).
    Body(Needle),
    Text(Needle),
    Key(SearchKey),
}

/// A search string in UTF-8, with what matching needs ready.
struct Needle {
    text: String,
    /// The folded needle when it is ASCII: ASCII haystacks are then matched
    /// by bytes, without decoding or folding (most header values).
    ascii: Option<Vec<u8>>,
}

impl Needle {
    fn new(raw: &[u8], charset: &[u8]) -> Needle {
        let mut text = String::new();
        let mut decoder = CharsetDecoder::for_label(charset).unwrap_or_else(CharsetDecoder::lenient_utf8);
        decoder.feed(raw, &mut text);
        decoder.finish(&mut text);
        let folded = matcher::fold(&text);
        let ascii = folded.is_ascii().then(|| folded.into_bytes());
        Needle { text, ascii }
    }

    /// Whether a header value (raw, possibly folded, possibly with
    /// RFC 2047 words) contains the needle once decoded.
    fn in_header_value(&self, value: &[u8]) -> bool {
        let value = join_folds(value);
        let plain = value.is_ascii() && !value.windows(2).any(|pair| pair == b"=?");
        if plain {
            return match &self.ascii {
                Some(needle) => contains(&value, needle),
                // A needle that folds to non-ASCII is not in ASCII text.
                None => false,
            };
        }
        matcher::contains(&decode_header_value(&value), &self.text)
    }
}

/// A header value with each fold (line break and the white space after
/// it) read as one space, and the final line break dropped, so a search
/// for "folded across" finds "folded\r\n\tacross" (as Dovecot does).
fn join_folds(value: &[u8]) -> std::borrow::Cow<'_, [u8]> {
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

fn compile(key: SearchKey, view: &View, charset: &[u8]) -> Test {
    let compile = |key: SearchKey| compile(key, view, charset);
    match key {
        SearchKey::And(keys) => Test::And(keys.into_iter().map(compile).collect()),
        SearchKey::Or(left, right) => Test::Or(Box::new(compile(*left)), Box::new(compile(*right))),
        SearchKey::Not(key) => Test::Not(Box::new(compile(*key))),
        SearchKey::Header { field, value } => Test::Header(field.into_bytes(), Needle::new(&value, charset)),
        SearchKey::Body(value) => Test::Body(Needle::new(&value, charset)),
        SearchKey::Text(value) => Test::Text(Needle::new(&value, charset)),
        SearchKey::Sequence(set) => Test::Indices(view.resolve_for_search(&set, false)),
        SearchKey::Uid(set) => Test::Indices(view.resolve_for_search(&set, true)),
        SearchKey::Keyword(name, set) => {
            let bit = view.keywords.iter().position(|known| known.eq_ignore_ascii_case(&name)).map(|bit| bit as u32);
            Test::Keyword(bit, set)
        }
        other => Test::Key(other),
    }
}

pub async fn run(
    session: &mut Session,
    tag: &str,
    uid: bool,
    ret: Option<SearchReturn>,
    charset: Option<String>,
    key: SearchKey,
) -> io::Result<()> {
    // RFC 5182 §2.1: a failed SEARCH ... RETURN (SAVE) leaves `$` empty.
    if ret.is_some_and(|ret| ret.save) {
        if let State::Selected(_, view) = &mut session.state {
            view.saved = Vec::new();
        }
    }
    // RFC 9051 §6.4.4: an IMAP4rev2 SEARCH answers with ESEARCH, ALL
    // when no RETURN option is given.
    let ret = if session.imap4rev2 {
        Some(ret.unwrap_or(SearchReturn { all: true, ..SearchReturn::default() }))
    } else {
        ret
    };
    let mut collect = match ret {
        None => Collect::Stream { uid },
        Some(ret) => Collect::Gather { uid, ret, gathered: Gathered::default() },
    };
    if !scan(session, tag, charset.as_deref(), key, &mut collect).await? {
        return Ok(());
    }
    match collect {
        Collect::Stream { .. } => session.conn.write(b"\r\n"),
        Collect::Gather { uid, ret, mut gathered } => {
            if ret.min || ret.max || ret.count || ret.all {
                gathered.write(session.conn.out(), tag, uid, &ret);
            }
            if ret.save {
                let saved = gathered.saved(&ret);
                if let State::Selected(_, view) = &mut session.state {
                    view.saved = saved;
                }
            }
        }
        Collect::Inputs { .. } | Collect::Thread { .. } => {}
    }
    session.finish(tag, Status::Ok, None, "SEARCH completed").await
}

/// SORT and UID SORT (RFC 5256 §3), with ESORT's RETURN (RFC 5267).
pub async fn sort(
    session: &mut Session,
    tag: &str,
    uid: bool,
    ret: Option<SearchReturn>,
    criteria: Vec<SortCriterion>,
    charset: String,
    key: SearchKey,
) -> io::Result<()> {
    // RFC 5182 §2.1, as for SEARCH: a failed SAVE leaves `$` empty.
    if ret.is_some_and(|ret| ret.save) {
        if let State::Selected(_, view) = &mut session.state {
            view.saved = Vec::new();
        }
    }
    let mut needs = Needs::default();
    for criterion in &criteria {
        match criterion.key {
            SortKey::Arrival | SortKey::Size => {}
            SortKey::Cc => needs.cc = true,
            SortKey::Date => needs.date = true,
            SortKey::From => needs.from = true,
            SortKey::To => needs.to = true,
            SortKey::Subject => needs.subject = true,
            SortKey::DisplayFrom => (needs.from, needs.display_from) = (true, true),
            SortKey::DisplayTo => (needs.to, needs.display_to) = (true, true),
        }
    }
    let mut collect = Collect::Inputs { needs, inputs: Vec::new() };
    if !scan(session, tag, Some(&charset), key, &mut collect).await? {
        return Ok(());
    }
    let Collect::Inputs { mut inputs, .. } = collect else { return Ok(()) };
    // Sorting 100,000 keys takes tens of milliseconds: off the executor,
    // so the other sessions go on meanwhile.
    let inputs = if inputs.len() <= INLINE_WORK {
        crate::imap::sort::sort(&criteria, &mut inputs);
        inputs
    } else {
        smol::unblock(move || {
            crate::imap::sort::sort(&criteria, &mut inputs);
            inputs
        })
        .await
    };
    let numbers = inputs.iter().map(|input| if uid { input.uid } else { input.sequence });
    let out = session.conn.out();
    match ret {
        None => {
            out.extend_from_slice(b"* SORT");
            for number in numbers {
                out.push(b' ');
                encode::number(out, number);
            }
            out.extend_from_slice(b"\r\n");
        }
        Some(ret) => {
            // RFC 5267 §3.2: MIN and MAX are the first and last in sort
            // order; ALL keeps the sort order (ranges only join numbers
            // that follow each other in it).
            let mut gathered = Gathered::default();
            for (number, input) in numbers.zip(&inputs) {
                gathered.add(&ret, number, input.uid);
            }
            if ret.min || ret.max || ret.count || ret.all {
                gathered.write(out, tag, uid, &ret);
            }
            if ret.save {
                let saved = gathered.saved(&ret);
                if let State::Selected(_, view) = &mut session.state {
                    view.saved = saved;
                }
            }
        }
    }
    session.finish(tag, Status::Ok, None, "SORT completed").await
}

/// SORT or THREAD of up to this many messages runs on the executor; more
/// go to a blocking thread (a few milliseconds of work at most inline).
const INLINE_WORK: usize = 2000;

/// THREAD and UID THREAD (RFC 5256 §3, §4).
pub async fn thread(
    session: &mut Session,
    tag: &str,
    uid: bool,
    algorithm: ThreadAlgorithm,
    charset: String,
    key: SearchKey,
) -> io::Result<()> {
    let references = algorithm == ThreadAlgorithm::References;
    let needs = Needs { date: true, subject: true, message_id: references, references, ..Needs::default() };
    let numbering = if uid { Numbering::Uid } else { Numbering::Sequence };
    let mut collect = Collect::Thread { needs, threader: Threader::new(algorithm, numbering) };
    if !scan(session, tag, Some(&charset), key, &mut collect).await? {
        return Ok(());
    }
    let Collect::Thread { threader, .. } = collect else { return Ok(()) };
    let threads =
        if threader.len() <= INLINE_WORK { threader.finish() } else { smol::unblock(move || threader.finish()).await };
    let out = session.conn.out();
    out.extend_from_slice(b"* THREAD ");
    crate::imap::thread::render(out, &threads);
    out.extend_from_slice(b"\r\n");
    session.finish(tag, Status::Ok, None, "THREAD completed").await
}

/// What a scan does with each matching message.
enum Collect {
    /// Plain SEARCH: numbers go out as they are found.
    Stream { uid: bool },
    /// SEARCH RETURN (...): gathered, answered at the end as ESEARCH.
    Gather { uid: bool, ret: SearchReturn, gathered: Gathered },
    /// SORT: the sort values of every match.
    Inputs { needs: Needs, inputs: Vec<SortInput> },
    /// THREAD: each match's values go to the threader, which keeps hashes.
    Thread { needs: Needs, threader: Threader },
}

/// The header fields SORT or THREAD reads (the rest stay unread).
#[derive(Clone, Copy, Default)]
struct Needs {
    date: bool,
    subject: bool,
    from: bool,
    to: bool,
    cc: bool,
    display_from: bool,
    display_to: bool,
    message_id: bool,
    references: bool,
}

impl Collect {
    fn add(&mut self, conn: &mut Connection, candidate: &mut Candidate) -> Result<(), StoreError> {
        let sequence = candidate.index as u32 + 1;
        match self {
            Collect::Stream { uid } => {
                let out = conn.out();
                out.push(b' ');
                encode::number(out, if *uid { candidate.uid } else { sequence });
            }
            Collect::Gather { uid, ret, gathered } => {
                gathered.add(ret, if *uid { candidate.uid } else { sequence }, candidate.uid)
            }
            Collect::Inputs { needs, inputs } => inputs.push(candidate.sort_input(needs)?),
            Collect::Thread { needs, threader } => threader.add(&candidate.sort_input(needs)?),
        }
        Ok(())
    }
}

/// Whether `key` tests \Recent anywhere (RECENT, OLD, NEW, KEYWORD \Recent).
fn names_recent(key: &SearchKey) -> bool {
    match key {
        SearchKey::Recent(_) | SearchKey::New => true,
        SearchKey::And(keys) => keys.iter().any(names_recent),
        SearchKey::Or(left, right) => names_recent(left) || names_recent(right),
        SearchKey::Not(key) => names_recent(key),
        _ => false,
    }
}

/// Tests every message of the selected mailbox against `key`, handing
/// matches to `collect`, yielding to other sessions as it goes. Ok(false):
/// the command has been answered (an error).
async fn scan(
    session: &mut Session,
    tag: &str,
    charset: Option<&str>,
    key: SearchKey,
    collect: &mut Collect,
) -> io::Result<bool> {
    if session.imap4rev2 && names_recent(&key) {
        // RFC 9051 §6.4.4: its search keys have no RECENT, NEW or OLD.
        session.tagged(tag, Status::Bad, None, "RECENT, NEW and OLD are not IMAP4rev2 search keys");
        return Ok(false);
    }
    let charset = charset.unwrap_or("UTF-8");
    // Mailers' "I don't know" labels decode leniently in messages, but a
    // client cannot have written its search string in them.
    let placeholder = ["x-unknown", "unknown-8bit"].iter().any(|label| charset.eq_ignore_ascii_case(label));
    if placeholder || !charset::is_known(charset.as_bytes()) {
        // RFC 3501 §6.4.4: the list of charsets is optional; Dovecot
        // gives none either (we know dozens).
        session.tagged(tag, Status::No, Some("BADCHARSET"), "Unknown charset");
        return Ok(false);
    }
    let store = session.server.store.clone();
    let State::Selected(_, view) = &session.state else { return Ok(false) };
    let test = compile(key, view, charset.as_bytes());
    let reader = match store.read() {
        Ok(reader) => reader,
        Err(error) => return session.store_failed(tag, error, false).await.map(|_| false),
    };
    let tables = reader.messages().and_then(|messages| Ok((messages, reader.blobs()?, reader.chunks()?)));
    let (messages, blobs, chunks) = match tables {
        Ok(tables) => tables,
        Err(error) => return session.store_failed(tag, error, false).await.map(|_| false),
    };
    let State::Selected(_, view) = &session.state else { return Ok(false) };
    let (low, high) = (view.uids.first().copied().unwrap_or(1), view.uids.last().copied().unwrap_or(0));
    let mut records = match messages.cursor(view.mailbox, low, high) {
        Ok(cursor) => cursor,
        Err(error) => return session.store_failed(tag, error, false).await.map(|_| false),
    };
    // The candidates: every message, or, when the search requires an
    // indexed flag condition (UNSEEN, FLAGGED...), those the index lists.
    let mut from_index = match required_condition(&test) {
        Some(condition) => match reader.flag_index(view.mailbox, condition, low, high) {
            Ok(uids) => Some(uids),
            Err(error) => return session.store_failed(tag, error, false).await.map(|_| false),
        },
        None => None,
    };
    // SEARCH UNSEEN and the like: the index is the whole answer.
    let index_answers = from_index.is_some() && matches!(test, Test::Key(SearchKey::Flag(..)));
    let mut blob_records = blobs.cursor();
    let mut summaries = match reader.summaries(view.mailbox, low, high) {
        Ok(cursor) => cursor,
        Err(error) => return session.store_failed(tag, error, false).await.map(|_| false),
    };
    let mut next = 0;
    let mut visited = 0usize;
    let streaming = matches!(collect, Collect::Stream { .. });
    if streaming {
        session.conn.write(b"* SEARCH");
    }
    loop {
        let index = match &mut from_index {
            None if next < view.uids.len() => {
                next += 1;
                next - 1
            }
            None => break,
            Some(uids) => match uids.find_map(|uid| uid.map(|uid| view.index_of(uid)).transpose()) {
                Some(Ok(index)) => index,
                Some(Err(error)) => {
                    if streaming {
                        session.conn.write(b"\r\n");
                    }
                    return session.store_failed(tag, error, false).await.map(|_| false);
                }
                None => break,
            },
        };
        let mut candidate = Candidate {
            index,
            uid: view.uids[index],
            view,
            records: &mut records,
            blobs: &mut blob_records,
            summaries: &mut summaries,
            chunks: &chunks,
            record: None,
            blob_loaded: false,
            header: None,
        };
        let mut result = if index_answers { Ok(true) } else { candidate.test(&test) };
        if let Ok(true) = result {
            result = collect.add(&mut session.conn, &mut candidate).map(|_| true);
        }
        match result {
            Ok(_) => {}
            // Expunged by another session since this one last synced.
            Err(StoreError::NoSuchMailbox) => {}
            Err(error) => {
                if streaming {
                    session.conn.write(b"\r\n");
                }
                return session.store_failed(tag, error, false).await.map(|_| false);
            }
        }
        visited += 1;
        if visited % YIELD_EVERY == 0 {
            session.conn.flush_if_full().await?;
            smol::future::yield_now().await;
        }
    }
    Ok(true)
}

/// What a SEARCH with result options collects as matches come, in
/// ascending order: only what the options ask for, numbers as ranges.
#[derive(Default)]
struct Gathered {
    count: u32,
    /// (number, UID) of the first and last match.
    first: Option<(u32, u32)>,
    last: Option<(u32, u32)>,
    /// Every match's number (ALL).
    numbers: Vec<(u32, u32)>,
    /// Every match's UID (SAVE, unless only MIN/MAX are asked for).
    uids: Vec<(u32, u32)>,
}

impl Gathered {
    fn add(&mut self, ret: &SearchReturn, number: u32, uid: u32) {
        self.count += 1;
        self.first.get_or_insert((number, uid));
        self.last = Some((number, uid));
        if ret.all {
            push_number(&mut self.numbers, number);
        }
        if ret.save && saves_all(ret) {
            push_number(&mut self.uids, uid);
        }
    }

    /// `* ESEARCH (TAG "t") [UID] [MIN n] [MAX n] [COUNT n] [ALL set]`;
    /// RFC 4731 §3.1: MIN, MAX and ALL are left out when nothing matched.
    fn write(&self, out: &mut Vec<u8>, tag: &str, uid: bool, ret: &SearchReturn) {
        out.extend_from_slice(b"* ESEARCH (TAG ");
        encode::string(out, tag.as_bytes());
        out.push(b')');
        if uid {
            out.extend_from_slice(b" UID");
        }
        if let (true, Some((number, _))) = (ret.min, self.first) {
            out.extend_from_slice(b" MIN ");
            encode::number(out, number);
        }
        if let (true, Some((number, _))) = (ret.max, self.last) {
            out.extend_from_slice(b" MAX ");
            encode::number(out, number);
        }
        if ret.count {
            out.extend_from_slice(b" COUNT ");
            encode::number(out, self.count);
        }
        if ret.all && !self.numbers.is_empty() {
            out.extend_from_slice(b" ALL ");
            write_set(out, &self.numbers);
        }
        out.extend_from_slice(b"\r\n");
    }

    /// The UIDs `$` keeps. RFC 5182 §2.4: with only MIN and/or MAX, just
    /// those messages; otherwise every match.
    fn saved(&mut self, ret: &SearchReturn) -> Vec<(u32, u32)> {
        if saves_all(ret) {
            return std::mem::take(&mut self.uids);
        }
        let mut saved = Vec::new();
        if let (true, Some((_, uid))) = (ret.min, self.first) {
            push_number(&mut saved, uid);
        }
        if let (true, Some((_, uid))) = (ret.max, self.last) {
            if saved.last() != Some(&(uid, uid)) {
                push_number(&mut saved, uid);
            }
        }
        saved
    }
}

fn saves_all(ret: &SearchReturn) -> bool {
    ret.all || ret.count || !(ret.min || ret.max)
}

/// Appends `number` (ascending) to a list of ranges, extending the last.
fn push_number(ranges: &mut Vec<(u32, u32)>, number: u32) {
    match ranges.last_mut() {
        Some(last) if last.1.checked_add(1) == Some(number) => last.1 = number,
        _ => ranges.push((number, number)),
    }
}

/// `1:3,7,9:10`.
fn write_set(out: &mut Vec<u8>, ranges: &[(u32, u32)]) {
    for (position, &(low, high)) in ranges.iter().enumerate() {
        if position > 0 {
            out.push(b',');
        }
        encode::number(out, low);
        if high != low {
            out.push(b':');
            encode::number(out, high);
        }
    }
}

/// An indexed flag condition every match must meet, if there is one: then
/// only the messages the flag index lists need testing.
fn required_condition(test: &Test) -> Option<u8> {
    match test {
        Test::Key(SearchKey::Flag(flag, set)) => indexed_condition(*flag, *set),
        // NEW is \Recent and not \Seen.
        Test::Key(SearchKey::New) => indexed_condition(Flags::SEEN, false),
        Test::And(tests) => tests.iter().find_map(required_condition),
        _ => None,
    }
}

/// One message under test, loading its parts on first use.
struct Candidate<'a, 'b> {
    index: usize,
    uid: u32,
    view: &'a View,
    /// Candidates come in ascending UID order, so one cursor serves all.
    records: &'a mut MessageCursor,
    blobs: &'a mut BlobCursor<'b>,
    summaries: &'a mut SummaryCursor,
    chunks: &'a ChunkReader,
    record: Option<MessageRecord>,
    /// Whether the cursor's current blob record is this message's.
    blob_loaded: bool,
    header: Option<Vec<u8>>,
}

impl Candidate<'_, '_> {
    /// What SORT or THREAD compares, read from the header summary.
    fn sort_input(&mut self, needs: &Needs) -> Result<SortInput, StoreError> {
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

    fn record(&mut self) -> Result<MessageRecord, StoreError> {
        if let Some(record) = self.record {
            return Ok(record);
        }
        // NoSuchMailbox stands for "this message is gone" inside the search.
        let record = self.records.find(self.uid)?.ok_or(StoreError::NoSuchMailbox)?;
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

    fn header(&mut self) -> Result<&[u8], StoreError> {
        if self.header.is_none() {
            let record = self.record()?;
            let size = self.header_size()?;
            let mut bytes = Vec::with_capacity(size as usize);
            self.chunks.read(record.blob, 0, size, &mut bytes)?;
            self.header = Some(bytes);
        }
        Ok(self.header.as_deref().unwrap_or_default())
    }

    /// Whether some `field` value, decoded, contains `needle`: from the
    /// summary when it holds that field, else from the whole header.
    fn field_contains(&mut self, field: &[u8], needle: &Needle) -> Result<bool, StoreError> {
        Ok(match self.summary_holding(field)? {
            Some(summary) => summary.values_of(field).any(|value| needle.in_header_value(value)),
            None => header::fields(self.header()?)
                .filter(|found| found.name.eq_ignore_ascii_case(field))
                .any(|found| needle.in_header_value(found.value)),
        })
    }

    /// TEXT: any header field's name or decoded value, or the body with
    /// the headers inside it (MIME part headers, attached messages').
    fn text_contains(&mut self, needle: &Needle) -> Result<bool, StoreError> {
        let in_header = header_contains(self.header()?, needle);
        Ok(in_header || self.body_contains(needle, true)?)
    }

    /// Whether the body's text contains `needle`: every text part's body
    /// with its transfer encoding and charset undone, read a piece at a
    /// time through a matcher that keeps only the needle's worth of state
    /// across pieces. As in Dovecot, non-text parts (images, archives...)
    /// and preambles are not searched; MIME part headers and attached
    /// messages' headers only for TEXT (`headers`).
    fn body_contains(&mut self, needle: &Needle, headers: bool) -> Result<bool, StoreError> {
        if needle.text.is_empty() {
            return Ok(true);
        }
        let record = self.record()?;
        let chunks = self.chunks;
        let structure = structure_of(&record, self.blob()?, chunks)?;
        let mut matcher = Matcher::new(&needle.text);
        let (mut decoded, mut text) = (Vec::new(), String::new());
        for (index, part) in structure.parts.iter().enumerate() {
            if headers && index > 0 {
                let start = part.header_start.min(record.size);
                let end = part.body_start.min(record.size).min(start + PART_HEADER_SEARCHED);
                decoded.clear();
                chunks.read(record.blob, start, end, &mut decoded)?;
                if header_contains(&decoded, needle) {
                    return Ok(true);
                }
            }
            if part.kind != Kind::Text || part.children != 0 {
                continue;
            }
            let (start, end) = (part.body_start, part.body_end);
            let label = part.content.params.iter().find(|(name, _)| name.eq_ignore_ascii_case(b"charset"));
            let mut charset = label
                .and_then(|(_, value)| CharsetDecoder::for_label(value))
                .unwrap_or_else(CharsetDecoder::lenient_utf8);
            let mut decoder = Decoder::new(TransferEncoding::from_header(part.content.encoding.as_deref()));
            matcher.reset();
            let found = !chunks.pieces(record.blob, start.min(record.size), end.min(record.size), |piece, last| {
                decoded.clear();
                decoder.feed(piece, &mut decoded);
                text.clear();
                charset.feed(&decoded, &mut text);
                if last {
                    decoded.clear();
                    decoder.finish(&mut decoded);
                    charset.feed(&decoded, &mut text);
                    charset.finish(&mut text);
                }
                !matcher.feed(&text)
            })?;
            if found {
                return Ok(true);
            }
        }
        Ok(false)
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

    fn test(&mut self, test: &Test) -> Result<bool, StoreError> {
        Ok(match test {
            Test::And(tests) => {
                for test in tests {
                    if !self.test(test)? {
                        return Ok(false);
                    }
                }
                true
            }
            Test::Or(left, right) => self.test(left)? || self.test(right)?,
            Test::Not(test) => !self.test(test)?,
            Test::Indices(ranges) => ranges.iter().any(|range| range.contains(&self.index)),
            Test::Keyword(None, set) => !*set,
            Test::Keyword(Some(bit), set) => (self.record()?.keywords & (1 << bit) != 0) == *set,
            Test::Header(field, needle) => self.field_contains(field, needle)?,
            Test::Body(needle) => self.body_contains(needle, false)?,
            Test::Text(needle) => self.text_contains(needle)?,
            Test::Key(key) => self.test_key(key)?,
        })
    }

    fn test_key(&mut self, key: &SearchKey) -> Result<bool, StoreError> {
        Ok(match key {
            SearchKey::All => true,
            SearchKey::Flag(flag, set) => self.record()?.flags.contains(*flag) == *set,
            SearchKey::Recent(set) => self.view.is_recent(self.uid) == *set,
            SearchKey::New => self.view.is_recent(self.uid) && !self.record()?.flags.contains(Flags::SEEN),
            SearchKey::Larger(size) => self.record()?.size > *size,
            SearchKey::Smaller(size) => self.record()?.size < *size,
            SearchKey::Date { field, relation, days } => {
                let date = match field {
                    DateField::Internal => Some(self.record()?.internal_date),
                    DateField::Sent => self.field_value(b"date")?.and_then(|value| DateTime::parse_rfc5322(&value)),
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
            // Compiled into the other kinds of test.
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

/// Case-insensitive substring test (RFC 3501 §6.4.4). ASCII needles
/// compare bytes with ASCII folding; others compare lower-cased UTF-8.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    if needle.is_empty() {
        return true;
    }
    if needle.is_ascii() {
        let (first, rest) = (needle[0].to_ascii_lowercase(), &needle[1..]);
        let Some(last_start) = haystack.len().checked_sub(needle.len()) else { return false };
        return (0..=last_start).any(|start| {
            haystack[start].to_ascii_lowercase() == first
                && haystack[start + 1..start + needle.len()].eq_ignore_ascii_case(rest)
        });
    }
    let needle = String::from_utf8_lossy(needle).to_lowercase();
    String::from_utf8_lossy(haystack).to_lowercase().contains(&needle)
}

/// Bytes of one part's header searched by TEXT (a header can be huge in
/// broken mail; real ones are a few KiB).
const PART_HEADER_SEARCHED: u64 = 64 * 1024;

/// Whether a header holds `needle` in a field name or decoded value.
fn header_contains(header_bytes: &[u8], needle: &Needle) -> bool {
    header::fields(header_bytes)
        .any(|found| contains(found.name, needle.text.as_bytes()) || needle.in_header_value(found.value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_insensitive_contains() {
        assert!(contains(b"Hello World", b"world"));
        assert!(contains(b"abc", b""));
        assert!(!contains(b"ab", b"abc"));
        assert!(!contains(b"Hello", b"hola"));
        assert!(contains("Crème brûlée".as_bytes(), "CRÈME".as_bytes()));
        assert!(contains("ÉTÉ".as_bytes(), "été".as_bytes()));
        assert!(!contains("été".as_bytes(), "ete".as_bytes()));
    }

    #[test]
    fn folds_read_as_one_space() {
        assert_eq!(&*join_folds(b"a folded\r\n\tacross\r\n  lines\r\n"), b"a folded across lines");
        assert_eq!(&*join_folds(b"one line\r\n"), b"one line");
        assert_eq!(&*join_folds(b"lf\n fold"), b"lf fold");
        let needle = Needle::new(b"FOLDED ACROSS", b"UTF-8");
        assert!(needle.in_header_value(b"This is folded\r\n\tacross lines\r\n"));
        assert!(needle.in_header_value(b"=?UTF-8?Q?folded?=\r\n across\r\n"));
        assert!(!needle.in_header_value(b"folded\r\n\r\nacross"));
    }
}
