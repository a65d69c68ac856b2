//! The search engine, below the commands: the paced scan that SEARCH,
//! SORT and THREAD share (`command::search`, `command::sort`,
//! `command::thread`), the per-message evaluator (`eval`), what SEARCH and
//! SORT gather and answer as ESEARCH (`esearch`), and the searches kept
//! live (`live`: RFC 5267 contexts, PARTIAL windows). It may use the
//! session (its connection and view), `imap::sort` and `imap::thread`,
//! `mime` and the store's reads, never a command.
//!
//! Messages are tested one at a time, loading only what the keys need (the
//! record, then the header summary, then the header, then the body, a
//! piece at a time): a search of a large mailbox never holds the mailbox,
//! or a big message, in memory.
//!
//! # Fairness: a work budget on the executor, not a worker pool
//!
//! Every session shares one executor thread, so the scan pauses (yields to
//! the other sessions) whenever it has run about a millisecond
//! ([`STRETCH`]). Work is counted as it is done, one unit per message
//! tested and one per KiB read or decoded, and the clock is looked at every
//! 64 units, so the pause comes after a few thousand small messages, or a
//! few hundred KiB of one big message: BODY and TEXT are worked out one
//! 64 KiB piece at a time ([`ContentSearch`]), and the scan can pause
//! between any two pieces. Keys are evaluated three-valued (yes / no / not
//! known until a body is read), so `UNSEEN TEXT x` still reads no body of a
//! seen message, and `TEXT x SEEN` none of an unseen one.
//!
//! Why not run the scan on the worker pool (`util::pool`) instead: most
//! searches are of flags and summary fields (UNSEEN on 100,000 messages
//! takes about 14 ms, FROM about 55 ms, a few microseconds a message), and
//! a hand-off to another thread, with a copy of the view's UIDs, would cost
//! them more than it saves; a pool of one thread (a Pi Zero) would make one
//! user's 1 GB TEXT search hold up every other user's search for its whole
//! length, where pausing shares the thread between them; and the thread
//! that reads the snapshot is the one that writes the answer, so the rule
//! below (drop the snapshot before a write) stays simple. What pausing
//! does not do is make a body search cheaper: a TEXT search of a big
//! mailbox still takes the thread's time, only in slices.
//!
//! Measured by hand (x86 VM, 2 cores shared with other work, release
//! build; 400 messages of 768 KiB of text, 300 MB; another user sends NOOP
//! every 10 ms while `SEARCH TEXT` of an absent word runs 5 times in a
//! row; the script is described in the branch's report). Before (a pause
//! every 256 messages, whatever their size): each search 0.8-1.6 s, the
//! bystander's NOOP 0.47-0.78 s at the median, 0.85-1.0 s at worst (it
//! was answered only between searches). After: each search 0.7-1.8 s, the
//! NOOP 0.5-0.8 ms at the median, p99 3.9-4.9 ms, max 10-14 ms (machine
//! load about 2.5; at load 8 the p99 rose to about 90 ms, as it did for an
//! idle bystander: the server thread, runnable, waited for a core, its
//! scheduler statistics say so). A search paused 650-1,060 times, a
//! stretch of about 1.1 ms on average.
//!
//! # Snapshots
//!
//! The scan runs in stretches over one read snapshot each. Plain SEARCH
//! sends its numbers as it finds them; when the output buffer is full, the
//! snapshot is dropped, the buffer sent (which may wait on a slow client),
//! and a new snapshot opened from the next UID, so a client that stops
//! reading never pins a snapshot (redb reuses freed pages only once every
//! older snapshot has closed). A message expunged meanwhile is skipped,
//! as one expunged by another session before the search began. A pause
//! for other sessions between two messages ends a stretch too (a search of
//! a gigabyte takes seconds, and the pages other sessions' commits free
//! meanwhile could not be reused under one long snapshot); a pause inside
//! one big message's body keeps its snapshot until that message is done.
//!
//! # SORT, THREAD and long answers
//!
//! SORT keeps only each match's numbers and sort values ([`Keyed`]) and
//! THREAD only hashes (see `imap::thread`); sorting or threading more
//! than 2,000 messages runs on the worker pool (`util::pool`, as many
//! threads as the board's `workers`), a few milliseconds of work at most
//! staying inline. A job that panics fails its command with
//! `NO [SERVERBUG]`. Every long answer (SEARCH, SORT, THREAD, ESEARCH's
//! ALL) is written through the connection's bounded buffer and sent each
//! time it fills, so its size does not become the session's memory.
//!
//! # PARTIAL and UPDATE (RFC 9394, RFC 5267)
//!
//! `RETURN (PARTIAL m:n)` / `(PARTIAL -m:-n)` gathers the numbers as ALL
//! does (ranges) and answers one window of them, in list order: mailbox
//! order for SEARCH, sort order for SORT; MIN, MAX and COUNT stay those of
//! every match, and SAVE keeps the window (with MIN's and MAX's), or every
//! match with COUNT (RFC 9394 §3.2). `RETURN (UPDATE)` keeps the search
//! live: its matches go to [`live`], which later tests new and
//! changed messages one by one through [`evaluate`] (the scan's own
//! tester, budget and snapshot rules, over just those messages).
//!
//! # Long headers
//!
//! Of a header, only its first 64 KiB ([`HEADER_SEARCHED`], counted from
//! the header's first byte) is ever read, as for MIME part headers: a
//! header can be huge in broken or hostile mail, real ones are a few KiB.
//! For a message whose header is longer than that (it then has no stored
//! summary either), HEADER, FROM, TO, CC, BCC, SUBJECT and TEXT, and the
//! Date of SENTBEFORE/SENTON/SENTSINCE, see only the fields that start in
//! those first 64 KiB; a field that starts inside and runs past the limit
//! is searched up to the limit; a field that starts beyond it counts as
//! absent (`HEADER X-Late ""` does not match, `NOT HEADER X-Late x` does,
//! a Date beyond it makes the message "very old", as a missing Date
//! does). SORT and THREAD read their fields the same way. The body is
//! always searched whole (BODY, TEXT). TEXT searches each MIME part's
//! header (and attached messages' headers) up to the same limit.

use std::io;
use std::ops::Range;
use std::time::{Duration, Instant};

use crate::imap::code::Code;

use crate::imap::encode;
use crate::imap::session::{Replied, Selected, Session, Status};
use crate::imap::sort::{first_address, Keyed, SortCriterion, SortInput, SortKey};
use crate::imap::thread::Threader;
use crate::imap::types::{DateField, DateRelation, SearchKey, SearchReturn};
use crate::imap::view::View;
use crate::mail::Flags;
use crate::mime::charset::{self, CharsetDecoder};
use crate::mime::decode::{decode_header_value, Decoder, TransferEncoding};
use crate::mime::header;
use crate::mime::matcher::{self, Matcher};
use crate::mime::structure::Kind;
use crate::net::Connection;
use crate::store::{
    indexed_condition, structure_of, BlobCursor, BlobRecord, ChunkReader, MessageCursor, MessageRecord, PrivateCursor,
    Reader, SaveDateCursor, StoreError, SummaryCursor, PIECE,
};
use crate::util::datetime::DateTime;
use crate::util::pool::JobError;

mod esearch;
mod eval;
pub mod live;

pub(crate) use esearch::*;
use eval::{compile, decide, required_condition, Candidate, Test};

/// The header fields SORT reads for `criteria`.
pub(crate) fn needs_of(criteria: &[SortCriterion]) -> Needs {
    let mut needs = Needs::default();
    for criterion in criteria {
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
    needs
}

/// Answers a command whose worker job gave no result.
pub(crate) async fn job_failed(session: &mut Session, tag: &str, error: JobError) -> io::Result<()> {
    let code = match error {
        JobError::Panicked => Code::ServerBug,
        JobError::Unavailable => Code::Unavailable,
    };
    session.finish(tag, Status::No, Some(code), &error.to_string()).await
}

/// Appends " n" for each number, sending the buffer whenever it is full,
/// so a long answer never sits whole in memory.
pub(crate) async fn write_numbers(conn: &mut Connection, numbers: impl Iterator<Item = u32>) -> io::Result<()> {
    for number in numbers {
        let out = conn.out();
        out.push(b' ');
        encode::number(out, number);
        conn.flush_if_full().await?;
    }
    Ok(())
}

/// What a scan does with each matching message.
pub(crate) enum Collect {
    /// Plain SEARCH: numbers go out as they are found.
    Stream { uid: bool, highest: u64 },
    /// SEARCH RETURN (...): gathered, answered at the end as ESEARCH.
    Gather { uid: bool, ret: SearchReturn, gathered: Gathered },
    /// SORT: every match's numbers and sort values (see [`Keyed`]);
    /// `provoke`: a debug build's job must panic ([`PANIC_SUBJECT`]).
    Inputs { needs: Needs, criteria: Vec<SortCriterion>, keyed: Vec<Keyed>, highest: u64, provoke: bool },
    /// THREAD: each match's values go to the threader, which keeps hashes.
    Thread { needs: Needs, threader: Threader },
}

/// The header fields SORT or THREAD reads (the rest stay unread).
#[derive(Clone, Copy, Default)]
pub(crate) struct Needs {
    pub(crate) date: bool,
    pub(crate) subject: bool,
    pub(crate) from: bool,
    pub(crate) to: bool,
    pub(crate) cc: bool,
    pub(crate) display_from: bool,
    pub(crate) display_to: bool,
    pub(crate) message_id: bool,
    pub(crate) references: bool,
}

impl Collect {
    /// Takes a match; `modseq` is its modseq when the search has a MODSEQ
    /// key (RFC 7162 §3.1.5), else 0.
    fn add(&mut self, conn: &mut Connection, candidate: &mut Candidate, modseq: u64) -> Result<(), StoreError> {
        let sequence = candidate.index as u32 + 1;
        match self {
            Collect::Stream { uid, highest } => {
                let out = conn.out();
                out.push(b' ');
                encode::number(out, if *uid { candidate.uid } else { sequence });
                *highest = (*highest).max(modseq);
            }
            Collect::Gather { uid, ret, gathered } => {
                gathered.add(ret, if *uid { candidate.uid } else { sequence }, candidate.uid, modseq);
            }
            Collect::Inputs { needs, criteria, keyed, highest, provoke } => {
                let input = candidate.sort_input(needs)?;
                *provoke |= provokes_panic(&input);
                keyed.push(Keyed::new(criteria, &input));
                *highest = (*highest).max(modseq);
            }
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

/// SORT and THREAD name a charset always; once UTF8=ACCEPT is enabled it
/// must be UTF-8 (RFC 6855 erratum 4029, RFC 9755): else BAD, answered here.
pub(crate) fn utf8_charset_allowed(session: &mut Session, tag: &str, charset: &str) -> Result<(), Replied> {
    if session.utf8_accept && !charset.eq_ignore_ascii_case("UTF-8") {
        return Err(session.tagged(tag, Status::Bad, None, "Only UTF-8 once UTF8=ACCEPT is enabled"));
    }
    Ok(())
}

/// `[EXPUNGEISSUED]` on the OK of a SEARCH, SORT or THREAD that skipped
/// messages another session expunged while they still have sequence
/// numbers here (RFC 5530 gives this very example; RFC 2180 §4.1): the
/// client may want a NOOP soon. A UID command reports the expunges
/// before its tagged answer (RFC 3501 §7.4.1), so nothing is missing.
pub(crate) fn expunge_issued(uid: bool, skipped: bool) -> Option<Code> {
    (skipped && !uid).then_some(Code::ExpungeIssued)
}

/// Tests every message of the selected mailbox against `key`, handing
/// matches to `collect`, yielding to other sessions as it goes. Ok(Err(_)):
/// the command has been answered (an error); Ok(Ok(skipped)): done,
/// `skipped` telling whether messages expunged meanwhile were passed over.
///
/// The scan runs in stretches, each over one read snapshot: a stretch
/// ends when the output buffer is full (plain SEARCH streams its numbers),
/// the snapshot is dropped, the buffer sent, and a new snapshot opened
/// from the next UID. A message expunged meanwhile is skipped, as one
/// expunged by another session before the search began.
pub(crate) async fn scan(
    session: &mut Selected<'_>,
    tag: &str,
    charset: Option<&str>,
    key: SearchKey,
    collect: &mut Collect,
) -> io::Result<Result<bool, Replied>> {
    if session.imap4rev2 && names_recent(&key) {
        // RFC 9051 §6.4.4: its search keys have no RECENT, NEW or OLD.
        return Ok(Err(session.tagged(tag, Status::Bad, None, "RECENT, NEW and OLD are not IMAP4rev2 search keys")));
    }
    let charset = charset.unwrap_or("UTF-8");
    // Mailers' "I don't know" labels decode leniently in messages, but a
    // client cannot have written its search string in them.
    let placeholder = ["x-unknown", "unknown-8bit"].iter().any(|label| charset.eq_ignore_ascii_case(label));
    if placeholder || !charset::is_known(charset.as_bytes()) {
        // RFC 3501 §6.4.4: the list of charsets is optional; Dovecot
        // gives none either (we know dozens).
        return Ok(Err(session.tagged(tag, Status::No, Some(Code::BadCharset), "Unknown charset")));
    }
    let with_modseq = mentions_modseq(&key);
    if with_modseq {
        // RFC 7162 §3.1: a CONDSTORE enabling command.
        crate::imap::session::condstore::condstore(session);
    }
    let store = session.server.store.clone();
    let (view, _) = session.view_and_conn();
    let mut contents = Vec::new();
    let mut test = compile(key, view, charset.as_bytes(), &mut contents);
    narrow(&store, &mut test, &mut contents).await;
    let (view, conn) = session.view_and_conn();
    // A reader's \Seen is their own: the flag index holds the owner's.
    let condition = required_condition(&test)
        .filter(|&condition| view.private_user().is_none() || indexed_condition(Flags::SEEN, false) != Some(condition));
    // SEARCH UNSEEN and the like: the index is the whole answer.
    let index_answers = condition.is_some() && matches!(test, Test::Key(SearchKey::Flag(..)));
    let high = view.uids.last().copied().unwrap_or(0);
    let streaming = matches!(collect, Collect::Stream { .. });
    if streaming {
        conn.write(b"* SEARCH");
    }
    let mut budget = Budget::new();
    let mut found = vec![None; contents.len()];
    // Where the next stretch starts: an index into the view (every
    // message is a candidate) or a UID (the flag index lists them).
    let mut next = 0usize;
    let mut next_uid = view.uids.first().copied();
    let mut skipped = false;
    loop {
        let (view, conn) = session.view_and_conn();
        let low = if condition.is_some() { next_uid } else { view.uids.get(next).copied() };
        let Some(low) = low.filter(|&low| low <= high) else { break };
        let opened = store.read().and_then(|reader| {
            let snapshot = Snapshot::open(&reader, view, condition, low, high)?;
            let blobs = reader.blobs()?;
            Ok((reader, snapshot, blobs))
        });
        let (reader, mut snapshot, blobs) = match opened {
            Ok(snapshot) => snapshot,
            Err(error) => {
                if streaming {
                    conn.write(b"\r\n");
                }
                return Ok(Err(session.failed(tag, error, false).await?));
            }
        };
        let mut blob_records = blobs.cursor();
        let mut finished = false;
        let mut spent = false;
        let mut failure = None;
        loop {
            let index = match &mut snapshot.from_index {
                None if next < view.uids.len() => {
                    next += 1;
                    next - 1
                }
                None => {
                    finished = true;
                    break;
                }
                Some(uids) => match uids.find_map(|uid| uid.map(|uid| view.index_of(uid)).transpose()) {
                    Some(Ok(index)) => {
                        next_uid = view.uids[index].checked_add(1);
                        index
                    }
                    Some(Err(error)) => {
                        failure = Some(error);
                        break;
                    }
                    None => {
                        finished = true;
                        break;
                    }
                },
            };
            let mut candidate =
                Candidate::new(index, view.uids[index], view, &mut snapshot, &mut blob_records, &mut found);
            let mut result =
                if index_answers { Ok(true) } else { decide(&mut candidate, &test, &contents, &mut budget).await };
            if let Ok(true) = result {
                let modseq = if with_modseq { candidate.record().map(|record| record.modseq) } else { Ok(0) };
                result = modseq.and_then(|modseq| collect.add(conn, &mut candidate, modseq)).map(|()| true);
            }
            let work = candidate.work;
            match result {
                Ok(_) => {}
                // Expunged by another session since this one last synced.
                Err(StoreError::NoSuchMailbox) => skipped = true,
                Err(error) => {
                    failure = Some(error);
                    break;
                }
            }
            if budget.spend(work) {
                spent = true;
                break;
            }
            if conn.out().len() >= conn.write_limit() {
                break;
            }
        }
        // No snapshot stays open across a write that can wait on the
        // client, nor across a pause between messages: a search of a big
        // mailbox takes seconds, and the writes other sessions commit
        // meanwhile could reuse no freed page while it held one snapshot.
        // (A pause inside one big message's body keeps it: that is one
        // message's worth of time.)
        drop(blob_records);
        drop((snapshot, blobs, reader));
        if let Some(error) = failure {
            if streaming {
                session.conn.write(b"\r\n");
            }
            return Ok(Err(session.failed(tag, error, false).await?));
        }
        if finished {
            break;
        }
        if spent {
            budget.pause().await;
            continue;
        }
        budget.longest = budget.longest.max(budget.started.elapsed());
        session.conn.flush().await?;
        budget.started = Instant::now();
    }
    budget.longest = budget.longest.max(budget.started.elapsed());
    log::debug!("search scan: {} pauses, longest stretch {} µs", budget.pauses, budget.longest.as_micros());
    Ok(Ok(skipped))
}

/// Most candidate messages the index may name for one needle; past it the
/// needle is searched by scanning (a common word: the list would hold
/// most of the mail, and cost 8 bytes a message). 1 MiB.
const MOST_CANDIDATES: usize = 1 << 17;

/// Asks the full-text index (`fts`) which messages may hold each needle
/// it can narrow, on the worker pool (the lookups grow with the number of
/// segments). Any failure leaves the needles to the scan, which is always
/// right.
async fn narrow(store: &crate::store::Store, test: &mut Test, contents: &mut [eval::ContentKey]) {
    if !crate::store::fts::search_index() {
        return;
    }
    let mut queries = Vec::new();
    eval::indexed_needles(test, contents, &mut |needle, kinds| queries.push(eval::index_query(needle, kinds)));
    let asked: Vec<crate::store::fts::Query> = queries.iter().flatten().cloned().collect();
    if asked.is_empty() {
        return;
    }
    let Ok(reader) = store.read() else { return };
    let answers = crate::util::pool::run(move || reader.fts_candidates(&asked, MOST_CANDIDATES)).await;
    let mut answers = match answers {
        Ok(Ok(answers)) => answers.into_iter(),
        Ok(Err(error)) => {
            log::warn!("search index unusable, scanning: {error}");
            return;
        }
        Err(error) => {
            log::warn!("search index not asked, scanning: {error}");
            return;
        }
    };
    let mut queries = queries.into_iter();
    eval::indexed_needles(test, contents, &mut |needle, _| {
        if let Some(Some(_)) = queries.next() {
            let candidates = answers.next().flatten();
            match &candidates {
                Some(blobs) => log::debug!("search index: {} candidate message(s)", blobs.len()),
                None => log::debug!("search index: cannot narrow, scanning"),
            }
            eval::set_candidates(needle, candidates);
        }
    });
}

/// For RFC 5267 live searches (`live`): whether each of `uids`
/// (ascending, each in `view`) matches `key` now; None for a message gone
/// from the store (expunged elsewhere, not yet reported). Only these
/// messages are read, under the scan's budget: a stretch over one
/// snapshot, closed before each pause, the next stretch reopening from
/// the next UID.
pub(crate) async fn evaluate(
    store: &crate::store::Store,
    view: &View,
    key: &SearchKey,
    charset: &str,
    uids: &[u32],
) -> Result<Vec<Option<bool>>, StoreError> {
    let mut contents = Vec::new();
    let test = compile(key.clone(), view, charset.as_bytes(), &mut contents);
    let mut found = vec![None; contents.len()];
    let mut budget = Budget::new();
    let mut answers = Vec::with_capacity(uids.len());
    let Some(&high) = uids.last() else { return Ok(answers) };
    while let Some(&low) = uids.get(answers.len()) {
        let reader = store.read()?;
        let mut snapshot = Snapshot::open(&reader, view, None, low, high)?;
        let blobs = reader.blobs()?;
        let mut blob_records = blobs.cursor();
        let mut spent = false;
        while let Some(&uid) = uids.get(answers.len()) {
            let Some(index) = view.index_of(uid) else {
                answers.push(None);
                continue;
            };
            let mut candidate = Candidate::new(index, uid, view, &mut snapshot, &mut blob_records, &mut found);
            match decide(&mut candidate, &test, &contents, &mut budget).await {
                Ok(matched) => answers.push(Some(matched)),
                Err(StoreError::NoSuchMailbox) => answers.push(None),
                Err(error) => return Err(error),
            }
            if budget.spend(candidate.work) {
                spent = true;
                break;
            }
        }
        drop(blob_records);
        drop((snapshot, blobs, reader));
        if spent {
            budget.pause().await;
        }
    }
    Ok(answers)
}

/// For RFC 5267 live sorts (`live`): the sort key of message `uid` of
/// `view` under `criteria`, read from one short snapshot; None when the
/// message is gone. Keys are compared with [`crate::imap::sort::compare_keyed`].
pub(crate) fn sort_key(
    store: &crate::store::Store,
    view: &View,
    criteria: &[SortCriterion],
    uid: u32,
) -> Result<Option<Keyed>, StoreError> {
    let Some(index) = view.index_of(uid) else { return Ok(None) };
    let reader = store.read()?;
    let mut snapshot = Snapshot::open(&reader, view, None, uid, uid)?;
    let blobs = reader.blobs()?;
    let mut blob_records = blobs.cursor();
    let mut found = Vec::new();
    let mut candidate = Candidate::new(index, uid, view, &mut snapshot, &mut blob_records, &mut found);
    match candidate.sort_input(&needs_of(criteria)) {
        Ok(input) => Ok(Some(Keyed::new(criteria, &input))),
        Err(StoreError::NoSuchMailbox) => Ok(None),
        Err(error) => Err(error),
    }
}

/// The tables and cursors of one stretch of a scan, over one snapshot.
struct Snapshot {
    records: MessageCursor,
    summaries: SummaryCursor,
    save_dates: SaveDateCursor,
    chunks: ChunkReader,
    /// The reader's own \Seen and modseqs (store::acl), for a view that
    /// keeps them apart from the records (boxed: this lives in the
    /// scan's future, which every command's future holds).
    private: Option<Box<PrivateCursor>>,
    /// The candidates, when the flag index lists them.
    from_index: Option<Box<dyn Iterator<Item = Result<u32, StoreError>>>>,
}

impl Snapshot {
    fn open(reader: &Reader, view: &View, condition: Option<u8>, low: u32, high: u32) -> Result<Snapshot, StoreError> {
        let mailbox = view.mailbox;
        let from_index = match condition {
            Some(condition) => {
                Some(Box::new(reader.flag_index(mailbox, condition, low, high)?) as Box<dyn Iterator<Item = _>>)
            }
            None => None,
        };
        Ok(Snapshot {
            records: reader.messages()?.cursor(mailbox, low, high)?,
            summaries: reader.summaries(mailbox, low, high)?,
            save_dates: reader.save_dates(mailbox, low, high)?,
            chunks: reader.chunks()?,
            private: view
                .private_user()
                .map(|user| reader.private_cursor(mailbox, user, low, high).map(Box::new))
                .transpose()?,
            from_index,
        })
    }
}

/// How long the scan runs before letting other sessions in: about a
/// millisecond on the machines roost runs on (x86 or a Pi 4 alike), so a
/// bystander's command waits at most that long for a search to pause.
const STRETCH: Duration = Duration::from_millis(1);

/// Work units (one a message tested, one a KiB read) between looks at the
/// clock: a look costs tens of nanoseconds, a unit about a hundred.
const WORK_BETWEEN_CHECKS: u64 = 64;

/// The work budget of a scan: work is counted as it is done (messages
/// examined, bytes read and decoded), and the clock looked at every
/// [`WORK_BETWEEN_CHECKS`] units; the scan yields once a stretch has run
/// [`STRETCH`]. So a mailbox of small messages yields every few thousand
/// messages and one of big ones every few hundred KiB, inside a message
/// when it is big.
struct Budget {
    started: Instant,
    work: u64,
    /// The longest stretch seen and the number of pauses (logged at debug
    /// level, to check the budget holds).
    longest: Duration,
    pauses: u32,
}

impl Budget {
    fn new() -> Budget {
        Budget { started: Instant::now(), work: 0, longest: Duration::ZERO, pauses: 0 }
    }

    /// Counts `work`; true when the stretch is over (the caller then
    /// calls [`Budget::pause`]).
    fn spend(&mut self, work: u64) -> bool {
        self.work += work;
        if self.work < WORK_BETWEEN_CHECKS {
            return false;
        }
        self.work = 0;
        self.started.elapsed() >= STRETCH
    }

    /// Ends the stretch (the scan pauses now) and starts the next one
    /// once the pause is over.
    async fn pause(&mut self) {
        self.longest = self.longest.max(self.started.elapsed());
        self.pauses += 1;
        smol::future::yield_now().await;
        self.started = Instant::now();
    }
}

/// Whether a search key has a MODSEQ criterion anywhere in it.
pub(crate) fn mentions_modseq(key: &SearchKey) -> bool {
    match key {
        SearchKey::Modseq(_) => true,
        SearchKey::And(keys) => keys.iter().any(mentions_modseq),
        SearchKey::Or(left, right) => mentions_modseq(left) || mentions_modseq(right),
        SearchKey::Not(key) => mentions_modseq(key),
        _ => false,
    }
}

/// SORT or THREAD of up to this many messages runs on the executor (well
/// under a millisecond); more go to the worker pool.
pub(crate) const INLINE_WORK: usize = 2000;

/// Debug builds only: a SORT whose messages include one with this subject
/// has its job panic on the worker pool, so a test can check that such a
/// bug fails that command alone (`NO [SERVERBUG]`) and the server goes on.
#[cfg(debug_assertions)]
const PANIC_SUBJECT: &str = "roost test: panic in a worker job";

pub(crate) fn provokes_panic(input: &SortInput) -> bool {
    #[cfg(debug_assertions)]
    return input.subject.as_deref() == Some(PANIC_SUBJECT);
    #[cfg(not(debug_assertions))]
    {
        let _ = input;
        false
    }
}
