//! FETCH and UID FETCH (RFC 3501 §6.4.5, §7.4.2).
//!
//! Message bytes stream from the store chunk by chunk into the write
//! buffer, which is flushed at the board's size: fetching a 25 MiB message
//! never holds more than one buffer of it.
//!
//! # Snapshots and fairness (issue 11)
//!
//! A FETCH reads through a [`Snapshot`] that is open only while the
//! answer is being written into the buffer: before every flush (which
//! waits as long as the client does not read, up to the board's
//! `write_timeout`) and every yield, [`Pace::pause`] closes it, and the
//! next read opens a newer one. A stalled client therefore pins no redb
//! pages; without this, every commit made while it sat there grew the
//! file (measured: +566 MB).
//!
//! The answer goes by UID: after a pause the next message is looked up
//! again, in the new snapshot. A message expunged in between is skipped,
//! as one already gone when the FETCH began: FETCH then ends with
//! `NO [EXPUNGEISSUED]` (RFC 2180 §4.1.2: the message still has its
//! sequence number), UID FETCH with OK after the EXPUNGEs (RFC 3501
//! §6.4.8: UIDs that do not exist are ignored). Inside one message, a literal
//! longer than the write buffer (a 25 MiB BODY[]) also spans pauses: its
//! bytes never change while the message exists, so reading goes on in the
//! new snapshot. If every message holding those bytes was expunged
//! meanwhile and the bytes were freed, the promised literal cannot be
//! completed: the connection gets `* BYE` (read as literal bytes by the
//! client, which then sees the connection end before the literal does)
//! and is closed, logged at info. This needs an expunge landing while a
//! client reads that very message slowly: rare, and the client refetches.
//! BINARY sizes are computed before the message's response starts, so a
//! message freed while its decoded size is counted is simply skipped.
//!
//! # PREVIEW (RFC 8970)
//!
//! The preview is read from the store, where delivery left it
//! (`mime::preview`). A message stored by a roost without previews has
//! none: `PREVIEW (LAZY)` answers NIL for it (RFC 8970 §4 allows that:
//! the client asks again later, or without LAZY), and `PREVIEW` computes
//! it then from the message's first text part, reading at most
//! `preview::MAX_PART_BYTES` of it, within the FETCH's pace. What FETCH
//! computes is not stored: that would make a read a durable write (a
//! commit on the store thread, an fsync on an SD card) for each old
//! message; the computation is small and bounded, and only old mail
//! needs it. Like BINARY sizes, the preview is found before the
//! message's response starts, so a message expunged meanwhile is simply
//! skipped.
//!
//! Work is budgeted by time, not by message count: [`Pace`] yields to the
//! other sessions once a slice (about a millisecond) of work is spent,
//! whether it went into FLAGS of 100,000 messages, ENVELOPEs of large
//! structures or decoding a BINARY part.

use std::io;
use std::net::SocketAddr;
use std::rc::Rc;

use crate::imap::code::Code;
use crate::imap::encode;
use crate::imap::pace::Pace;
use crate::imap::render;
use crate::imap::session::{Selected, Session, State, Status};
use crate::imap::types::{FetchArguments, FetchItem, Section, SectionText};
use crate::imap::view::View;
use crate::mail::{FlagAction, Flags};
use crate::mime::decode::{Decoder, TransferEncoding};
use crate::mime::header;
use crate::mime::preview::{self, PartPreview};
use crate::mime::structure::{SectionKind, Structure};
use crate::net::Connection;
use crate::store::{structure_of, MessageRecord, Op, Outcome, StoreError};
use crate::store::{CHUNK_SIZE, PIECE};

pub async fn run(mut session: Selected<'_>, tag: &str, arguments: FetchArguments) -> io::Result<()> {
    let FetchArguments { uid, set, mut items, modifiers } = arguments;
    // RFC 7162 §3.2.6: VANISHED only in UID FETCH, with CHANGEDSINCE,
    // once QRESYNC is enabled.
    if modifiers.vanished {
        let refusal = if !uid {
            Some("VANISHED needs UID FETCH")
        } else if modifiers.changed_since.is_none() {
            Some("VANISHED needs CHANGEDSINCE")
        } else if !session.qresync {
            Some("QRESYNC must be enabled first")
        } else {
            None
        };
        if let Some(text) = refusal {
            session.tagged(tag, Status::Bad, None, text);
            return Ok(());
        }
    }
    // RFC 3501 §6.4.8: UID FETCH answers always carry the UID (under
    // UIDONLY it leads every UIDFETCH, so only where asked by name).
    let uid_only = session.uid_only;
    if uid && !uid_only && !items.contains(&FetchItem::Uid) {
        items.insert(0, FetchItem::Uid);
    }
    // RFC 7162 §3.1: MODSEQ and CHANGEDSINCE enable CONDSTORE; CHANGEDSINCE
    // implies MODSEQ (§3.1.4.1); and a FETCH that sets \Seen under
    // CONDSTORE reports UID and MODSEQ with the new flags.
    if modifiers.changed_since.is_some() || items.contains(&FetchItem::Modseq) {
        crate::imap::command::enable::condstore(&mut session);
    }
    let wants_modseq =
        modifiers.changed_since.is_some() || (session.condstore && items.iter().any(FetchItem::sets_seen));
    if wants_modseq && !items.contains(&FetchItem::Modseq) {
        items.push(FetchItem::Modseq);
    }
    if session.condstore && !uid_only && items.iter().any(FetchItem::sets_seen) && !items.contains(&FetchItem::Uid) {
        items.insert(0, FetchItem::Uid);
    }
    let store = session.server.store.clone();
    let Ok(ranges) = session.resolve_or_bad(tag, &set, uid) else { return Ok(()) };
    // RFC 9394 §3.3: a window of the messages the set names (UID FETCH only).
    let ranges = match modifiers.partial {
        Some(_) if !uid => {
            session.tagged(tag, Status::Bad, None, "PARTIAL needs UID FETCH (RFC 9394)");
            return Ok(());
        }
        Some(partial) => crate::imap::command::context::window_indexes(&ranges, partial),
        None => ranges,
    };
    if let (true, Some(changed_since)) = (modifiers.vanished, modifiers.changed_since) {
        let view = session.view();
        let top = view.uid_next.saturating_sub(1).max(view.uids.last().copied().unwrap_or(0));
        let within = crate::imap::command::qresync::uid_ranges(&set, top);
        if let Err(error) =
            crate::imap::command::qresync::vanished_earlier(&mut session, changed_since, Some(&within), None).await?
        {
            return session.store_failed(tag, error, false).await;
        }
    }
    let view = session.view_mut();
    // RFC 3501 §6.4.5: fetching a body section without .PEEK sets \Seen,
    // durably, before the data goes out.
    let mut seen_modseq = None;
    if !view.read_only && items.iter().any(FetchItem::sets_seen) && !ranges.is_empty() {
        let op = Op::Store {
            mailbox: view.mailbox,
            uids: view.uid_set(&ranges),
            action: FlagAction::Add,
            flags: Flags::SEEN,
            keywords: Vec::new(),
            unchanged_since: None,
        };
        match store.execute(op).await {
            Ok(Outcome::Stored { modseq, changed, .. }) if changed > 0 => {
                view.own_modseqs.push(modseq);
                seen_modseq = Some(modseq);
            }
            // Every message had \Seen already.
            Ok(Outcome::Stored { .. }) => {}
            Ok(other) => return session.unexpected(tag, "FETCH", other).await,
            Err(error) => return session.store_failed(tag, error, false).await,
        }
    }
    let result = respond(&mut session, &ranges, &items, seen_modseq, modifiers.changed_since).await?;
    match result {
        Ok(Ended::All) => session.finish(tag, Status::Ok, None, "FETCH completed").await,
        // RFC 3501 §6.4.8: UIDs that do not exist are ignored. A UID FETCH
        // may report expunges (§7.4.1), so the sync before the tagged
        // answer sends EXPUNGE (or VANISHED) for what went: the client's
        // view then holds none of them, and the command succeeded for
        // every message it still has (as Dovecot answers).
        Ok(Ended::SomeExpunged) if uid => session.finish(tag, Status::Ok, None, "FETCH completed").await,
        // RFC 2180 §4.1.2 / RFC 5530: another session expunged some of
        // them, which still have sequence numbers (FETCH may not report
        // expunges): NO, and the client learns of them at its next command.
        Ok(Ended::SomeExpunged) => {
            session
                .finish(tag, Status::No, Some(Code::ExpungeIssued), "Some of the requested messages no longer exist")
                .await
        }
        Ok(Ended::Refused(code, text)) => session.finish(tag, Status::No, Some(code), text).await,
        Err(error) => unreadable(&mut session, error),
    }
}

/// A FETCH that could not read what it was asked for (issue 13, fault
/// 10). Decided as Dovecot does: `* BYE` with the response code, and the
/// connection closes, instead of a tagged NO. Clients answer a failed
/// FETCH by sending it again at once, on the same connection, for ever: a
/// damaged message would keep the client and the board busy in a loop,
/// while after a disconnect clients wait before they reconnect (and tell
/// the user). A literal already begun must end the connection anyway
/// ([`Answer::read_literal`]), so both cases now end alike. The log says
/// what could not be read (the blob and chunk), for `roost check` and the
/// admin. Failures
/// that are not a read (a full disk while \Seen is stored) stay NO.
fn unreadable(session: &mut Session, error: StoreError) -> io::Result<()> {
    let (code, text) = crate::imap::code::describe(&error, false);
    let user = session.user().map_or("-", |user| user.name.as_str()).to_string();
    log::error!("{user} ({}): FETCH could not read message data: {error}; closing the connection", session.peer);
    session.conn.write(format!("* BYE [{code}] {text}\r\n").as_bytes());
    Err(io::Error::new(io::ErrorKind::ConnectionAborted, "message data unreadable"))
}

/// How a FETCH's responses ended.
pub(crate) enum Ended {
    All,
    SomeExpunged,
    /// A BINARY item could not be decoded (RFC 3516 §4.3): the response
    /// code and text; the messages before it were answered.
    Refused(Code, &'static str),
}

/// A BINARY section as a list of pieces: bytes of the message as stored,
/// bytes made up here (rewritten part headers), and encoded bodies to
/// decode. `size` is the decoded length, found by a first decoding pass
/// (the literal's length must come first).
struct Binary {
    segments: Vec<Segment>,
    size: u64,
    decoded: bool,
}

enum Segment {
    Stored(u64, u64),
    Made(Vec<u8>),
    Decoded(u64, u64, TransferEncoding),
}

/// What planning a BINARY item found.
enum Planned {
    Binary(Binary),
    /// The part cannot be decoded (RFC 3516 §4.3): refuse the command.
    Refused(Ended),
    /// The message's bytes were freed while they were being counted.
    Gone,
}

/// Plans BINARY[part] / BINARY.SIZE[part] for one message, or says why it
/// cannot be decoded: RFC 3516 §4.3 UNKNOWN-CTE, or broken data (PARSE,
/// as Dovecot answers).
///
/// A leaf part is its body decoded. The whole message, a multipart or a
/// message part is sent as stored except that every encoded leaf inside
/// it is decoded and its header says `Content-Transfer-Encoding: binary`
/// (RFC 3516 §4.2 leaves the form open; this is what Dovecot sends).
async fn plan_binary(
    answer: &mut Answer<'_>,
    message: &Message,
    part: &[u32],
) -> io::Result<Result<Planned, StoreError>> {
    let Some(structure) = &message.structure else {
        return Ok(Err(StoreError::Bug("BINARY without the structure".into())));
    };
    let size = message.record.size;
    let Some(index) = structure.section(part) else {
        return Ok(Ok(Planned::Binary(Binary { segments: Vec::new(), size: 0, decoded: false })));
    };
    let is_leaf = |index: usize| structure.parts[index].children == 0 && !structure.is_message(index);
    let encoding_of = |index: usize| TransferEncoding::from_header(structure.parts[index].content.encoding.as_deref());
    let target = &structure.parts[index];
    let mut segments = Vec::new();
    if !part.is_empty() && is_leaf(index) {
        segments.push(Segment::Decoded(target.body_start.min(size), target.body_end.min(size), encoding_of(index)));
    } else {
        // The parts inside: for the whole message, every part (the root
        // too when it is a leaf); else the target's descendants.
        let (start, end, first) =
            if part.is_empty() { (0, size, 0) } else { (target.body_start, target.body_end, index + 1) };
        let last = index + target.descendants as usize;
        let mut cursor = start;
        for inner in first..=last.min(structure.parts.len() - 1) {
            let encoding = encoding_of(inner);
            if !is_leaf(inner) || encoding == TransferEncoding::Identity {
                continue;
            }
            let leaf = &structure.parts[inner];
            let (header_start, body_start, body_end) =
                (leaf.header_start.min(size), leaf.body_start.min(size), leaf.body_end.min(size));
            if header_start < cursor {
                continue;
            }
            let mut header_bytes = Vec::new();
            match answer.pace.snapshot.read(message.record.blob, header_start, body_start, &mut header_bytes) {
                Ok(true) => {}
                Ok(false) => return Ok(Ok(Planned::Gone)),
                Err(error) => return Ok(Err(error)),
            }
            segments.push(Segment::Stored(cursor, header_start));
            segments.push(Segment::Made(binary_header(&header_bytes)));
            segments.push(Segment::Decoded(body_start, body_end, encoding));
            cursor = body_end;
        }
        segments.push(Segment::Stored(cursor, end.min(size)));
    }
    let mut total = 0u64;
    let mut decoded_any = false;
    for segment in &segments {
        total += match segment {
            Segment::Stored(start, end) => end.saturating_sub(*start),
            Segment::Made(bytes) => bytes.len() as u64,
            Segment::Decoded(_, _, TransferEncoding::Unknown) => {
                return Ok(Ok(Planned::Refused(Ended::Refused(Code::UnknownCte, "Unknown Content-Transfer-Encoding"))));
            }
            Segment::Decoded(start, end, TransferEncoding::Identity) => {
                // Nothing to decode, but a body labelled 7bit or 8bit may
                // still hold NUL (broken mail): then it goes as a literal8
                // too (RFC 3516 §4.3), never NUL in an ordinary literal.
                match holds_nul(answer, message, *start, *end).await? {
                    Ok(Some(nul)) => decoded_any |= nul,
                    Ok(None) => return Ok(Ok(Planned::Gone)),
                    Err(error) => return Ok(Err(error)),
                }
                end.saturating_sub(*start)
            }
            Segment::Decoded(start, end, encoding) => {
                decoded_any = true;
                match decoded_size(answer, message, *start, *end, *encoding).await? {
                    Ok(Some(Some(size))) => size,
                    Ok(Some(None)) => {
                        return Ok(Ok(Planned::Refused(Ended::Refused(Code::Parse, "Invalid data in MIME part"))));
                    }
                    Ok(None) => return Ok(Ok(Planned::Gone)),
                    Err(error) => return Ok(Err(error)),
                }
            }
        };
    }
    Ok(Ok(Planned::Binary(Binary { segments, size: total, decoded: decoded_any || part.is_empty() })))
}

/// A part header with its Content-Transfer-Encoding fields taken out and
/// `Content-Transfer-Encoding: binary` added last, before the blank line.
fn binary_header(header_bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(header_bytes.len() + 36);
    let mut fields_end = 0;
    for field in header::fields(header_bytes) {
        fields_end = field.raw.as_ptr() as usize - header_bytes.as_ptr() as usize + field.raw.len();
        if field.name.eq_ignore_ascii_case(b"content-transfer-encoding") {
            continue;
        }
        out.extend_from_slice(field.raw);
        if !field.raw.ends_with(b"\n") {
            out.extend_from_slice(b"\r\n");
        }
    }
    out.extend_from_slice(b"Content-Transfer-Encoding: binary\r\n");
    out.extend_from_slice(&header_bytes[fields_end.min(header_bytes.len())..]);
    out
}

/// Reads bytes `start..end` of the message a piece at a time, pausing
/// between pieces like any long work, and hands each to `each`, which
/// returns false to stop early. Ok(None): the message's bytes were freed
/// meanwhile.
async fn each_piece(
    answer: &mut Answer<'_>,
    message: &Message,
    start: u64,
    end: u64,
    mut each: impl FnMut(&[u8]) -> bool,
) -> io::Result<Result<Option<()>, StoreError>> {
    let mut piece = Vec::new();
    let mut position = start;
    while position < end {
        let next = (position + PIECE).min(end);
        piece.clear();
        match answer.pace.snapshot.read(message.record.blob, position, next, &mut piece) {
            Ok(true) => {}
            Ok(false) => return Ok(Ok(None)),
            Err(error) => return Ok(Err(error)),
        }
        if !each(&piece) {
            break;
        }
        position = next;
        answer.pace.pause_checked(answer.conn).await?;
    }
    Ok(Ok(Some(())))
}

/// Whether bytes `start..end` of the message hold a NUL; None if the
/// message's bytes were freed meanwhile.
async fn holds_nul(
    answer: &mut Answer<'_>,
    message: &Message,
    start: u64,
    end: u64,
) -> io::Result<Result<Option<bool>, StoreError>> {
    let mut found = false;
    let read = each_piece(answer, message, start, end, |piece| {
        found = piece.contains(&0);
        !found
    })
    .await?;
    Ok(read.map(|read| read.map(|()| found)))
}

/// The decoded length of an encoded body: Some(None) if it is damaged,
/// None if the message's bytes were freed meanwhile. Decoding a large
/// part takes a while, so it pauses between pieces like any long work.
async fn decoded_size(
    answer: &mut Answer<'_>,
    message: &Message,
    start: u64,
    end: u64,
    encoding: TransferEncoding,
) -> io::Result<Result<Option<Option<u64>>, StoreError>> {
    let mut decoder = Decoder::new(encoding);
    let (mut decoded, mut total) = (Vec::new(), 0u64);
    let read = each_piece(answer, message, start, end, |piece| {
        decoded.clear();
        decoder.feed(piece, &mut decoded);
        total += decoded.len() as u64;
        true
    })
    .await?;
    match read {
        Ok(Some(())) => {}
        Ok(None) => return Ok(Ok(None)),
        Err(error) => return Ok(Err(error)),
    }
    decoded.clear();
    decoder.finish(&mut decoded);
    total += decoded.len() as u64;
    Ok(Ok(Some((!decoder.is_damaged()).then_some(total))))
}

/// Sends a planned BINARY section, as a literal8 when anything was
/// decoded (RFC 3516 §4.2: decoded data may hold any byte), decoding again
/// as it goes, cut to `partial`.
async fn send_binary(
    answer: &mut Answer<'_>,
    message: &Message,
    binary: &Binary,
    partial: Option<(u32, u32)>,
) -> io::Result<Result<(), StoreError>> {
    let (from, until) = match partial {
        None => (0, binary.size),
        Some((origin, count)) => {
            let from = (origin as u64).min(binary.size);
            (from, (from + count as u64).min(binary.size))
        }
    };
    if binary.decoded {
        answer.conn.write(b"~");
    }
    encode::literal_header(answer.conn.out(), until - from);
    let mut window = Window { from, until, produced: 0 };
    let (mut piece, mut decoded) = (Vec::new(), Vec::new());
    for segment in &binary.segments {
        if window.produced >= until {
            break;
        }
        let (start, end, encoding) = match segment {
            Segment::Made(bytes) => {
                window.send(answer.conn, bytes);
                continue;
            }
            Segment::Stored(start, end) => (*start, *end, TransferEncoding::Identity),
            Segment::Decoded(start, end, encoding) => (*start, *end, *encoding),
        };
        let mut decoder = Decoder::new(encoding);
        let mut position = start;
        while position < end && window.produced < until {
            let next = (position + PIECE).min(end);
            piece.clear();
            answer.read_literal(message, position, next, &mut piece)?;
            if encoding == TransferEncoding::Identity {
                window.send(answer.conn, &piece);
            } else {
                decoded.clear();
                decoder.feed(&piece, &mut decoded);
                if next == end {
                    decoder.finish(&mut decoded);
                }
                window.send(answer.conn, &decoded);
            }
            position = next;
            answer.pace.pause_checked(answer.conn).await?;
        }
    }
    Ok(Ok(()))
}

/// The `<origin.count>` window over a stream of output bytes.
struct Window {
    from: u64,
    until: u64,
    produced: u64,
}

impl Window {
    /// Writes the part of `bytes` (the next ones of the stream) inside the window.
    fn send(&mut self, conn: &mut Connection, bytes: &[u8]) {
        let start = self.produced;
        let end = start + bytes.len() as u64;
        let keep_from = self.from.clamp(start, end) - start;
        let keep_until = self.until.clamp(start, end) - start;
        conn.write(&bytes[keep_from as usize..keep_until as usize]);
        self.produced = end;
    }
}

/// What writing FETCH responses needs besides the message at hand.
struct Answer<'a> {
    conn: &'a mut Connection,
    pace: Pace,
    view: &'a View,
    peer: SocketAddr,
    /// The keyword names flags are written with: the view's, or a newer
    /// list announced during this answer (see [`Answer::know_keywords`]).
    keywords: Rc<Vec<String>>,
}

impl Answer<'_> {
    /// Makes sure every keyword set on `record` has a name, and that the
    /// client was told of it by a FLAGS response before the FETCH that
    /// shows it: a client ignores a FETCH whose MODSEQ it already has, so
    /// a keyword left out of it and announced later would be lost (RFC
    /// 3501 §7.2.6: FLAGS lists the keywords the mailbox uses). The
    /// session learns new keywords from the hub when the command starts;
    /// one added by a commit the hub has not caught up with yet is read
    /// here from the snapshot's mailbox record.
    fn know_keywords(&mut self, record: &MessageRecord) -> Result<(), StoreError> {
        let known = self.keywords.len().min(64);
        if known == 64 || record.keywords >> known == 0 {
            return Ok(());
        }
        let mailbox = self.pace.snapshot.reader()?.mailbox(self.view.mailbox)?;
        if let Some(mailbox) = mailbox {
            if mailbox.keywords.len() > self.keywords.len() {
                self.keywords = Rc::new(mailbox.keywords);
                let line = encode::flags_lines(&self.keywords);
                self.conn.write(line.as_bytes());
            }
        }
        Ok(())
    }

    /// Appends bytes `start..end` of the message, once its response has
    /// begun: failing now leaves a response half sent, so the connection
    /// cannot go on (the error ends it; see the module docs).
    fn read_literal(&mut self, message: &Message, start: u64, end: u64, out: &mut Vec<u8>) -> io::Result<()> {
        match self.pace.snapshot.read(message.record.blob, start, end, out) {
            Ok(true) => Ok(()),
            Ok(false) => {
                log::info!(
                    "{}: message UID {} was expunged while it was being sent; closing the connection (its response cannot be completed)",
                    self.peer,
                    message.uid
                );
                self.conn.write(b"\r\n* BYE Message expunged while it was being sent\r\n");
                Err(io::Error::new(io::ErrorKind::ConnectionAborted, "message expunged mid-response"))
            }
            Err(error) => {
                // The literal's length is already promised: the connection
                // cannot continue honestly. The BYE is read as literal
                // bytes by the client, which then sees the connection end.
                let (code, text) = crate::imap::code::describe(&error, false);
                log::error!(
                    "{}: message UID {} unreadable mid-FETCH: {error}; closing the connection",
                    self.peer,
                    message.uid
                );
                self.conn.write(format!("\r\n* BYE [{code}] {text}\r\n").as_bytes());
                Err(io::Error::new(io::ErrorKind::ConnectionAborted, "message data unreadable"))
            }
        }
    }
}

/// Writes the FETCH responses, pacing itself (see the module docs): how
/// they ended, or a store error.
pub(crate) async fn respond(
    session: &mut Session,
    ranges: &[std::ops::Range<usize>],
    items: &[FetchItem],
    seen_modseq: Option<u64>,
    changed_since: Option<u64>,
) -> io::Result<Result<Ended, StoreError>> {
    let store = session.server.store.clone();
    let peer = session.peer;
    session.announce_keywords();
    let State::Selected(_, view) = &session.state else { return Ok(Ok(Ended::All)) };
    let keywords = view.keywords.clone();
    let mut answer = Answer { conn: &mut session.conn, pace: Pace::new(&store), view, peer, keywords };
    let result = respond_with(&mut answer, ranges, items, seen_modseq, changed_since).await;
    let keywords = answer.keywords;
    if let State::Selected(_, view) = &mut session.state {
        view.keywords = keywords;
    }
    result
}

async fn respond_with(
    answer: &mut Answer<'_>,
    ranges: &[std::ops::Range<usize>],
    items: &[FetchItem],
    seen_modseq: Option<u64>,
    changed_since: Option<u64>,
) -> io::Result<Result<Ended, StoreError>> {
    let view = answer.view;
    let mut all_present = true;
    let needs_structure = items.iter().any(needs_structure);
    let needs_blob = needs_structure
        || items.iter().any(|item| {
            matches!(
                item,
                FetchItem::Section { .. } | FetchItem::Rfc822 | FetchItem::Rfc822Header | FetchItem::Rfc822Text
            )
        });
    let needs_summary = items.iter().any(|item| match item {
        FetchItem::Section { section: Section { text: Some(text @ SectionText::HeaderFields { .. }), .. }, .. } => {
            summary_covers(text)
        }
        _ => false,
    });
    let wants_save_date = items.contains(&FetchItem::SaveDate);
    for range in ranges {
        let Some(&high) = view.uids.get(range.end.wrapping_sub(1)) else { continue };
        'messages: for index in range.clone() {
            // Between messages: the buffer is sent when full and the
            // executor handed over when the slice is spent (snapshot closed).
            answer.pace.pause(answer.conn).await?;
            let uid = view.uids[index];
            let snapshot = &mut answer.pace.snapshot;
            // Read by UID from the current snapshot, whichever it is.
            let record = match snapshot.message(view.mailbox, uid, high) {
                Ok(Some(record)) => record,
                Ok(None) => {
                    all_present = false;
                    continue;
                }
                Err(error) => return Ok(Err(error)),
            };
            // RFC 7162 §3.1.4.1: only what changed after CHANGEDSINCE.
            if changed_since.is_some_and(|since| record.modseq <= since) {
                continue;
            }
            if let Err(error) = answer.know_keywords(&record) {
                return Ok(Err(error));
            }
            let snapshot = &mut answer.pace.snapshot;
            let (header_size, structure) = if needs_blob {
                match snapshot.blob(record.blob) {
                    Ok((blob, chunks)) => {
                        let structure = match needs_structure.then(|| structure_of(&record, blob, chunks)).transpose() {
                            Ok(structure) => structure,
                            Err(error) => return Ok(Err(error)),
                        };
                        (blob.header_size, structure)
                    }
                    Err(error) => return Ok(Err(error)),
                }
            } else {
                (0, None)
            };
            let summary = match needs_summary.then(|| snapshot.summary(view.mailbox, uid, high)).transpose() {
                Ok(summary) => summary.flatten().map(<[u8]>::to_vec),
                Err(error) => return Ok(Err(error)),
            };
            // RFC 8514: read only when asked (a row beside the record).
            let save_date = match wants_save_date.then(|| snapshot.save_date(view.mailbox, uid, high)).transpose() {
                Ok(saved) => saved.flatten(),
                Err(error) => return Ok(Err(error)),
            };
            let mut message = Message { uid, record, header_size, summary, structure, save_date, preview: None };
            if let Some(lazy) = preview_wanted(items) {
                match find_preview(answer, &message.record, lazy).await? {
                    Ok(Some(preview)) => message.preview = preview,
                    Ok(None) => {
                        all_present = false;
                        continue 'messages;
                    }
                    Err(error) => return Ok(Err(error)),
                }
            }
            // BINARY items are decoded once before anything of this
            // message is sent: their lengths come first, and a part that
            // cannot be decoded refuses the command.
            let mut binaries = Vec::new();
            for item in items {
                let part = match item {
                    FetchItem::Section { binary: true, section, .. } => &section.part,
                    FetchItem::BinarySize { part } => part,
                    _ => continue,
                };
                match plan_binary(answer, &message, part).await? {
                    Ok(Planned::Binary(binary)) => binaries.push(binary),
                    Ok(Planned::Refused(refused)) => return Ok(Ok(refused)),
                    Ok(Planned::Gone) => {
                        all_present = false;
                        continue 'messages;
                    }
                    Err(error) => return Ok(Err(error)),
                }
            }
            let mut binaries = binaries.iter();
            view.fetch_start(answer.conn.out(), index, uid);
            let mut first = true;
            let mut flags_sent = false;
            for item in items {
                if !first {
                    answer.conn.write(b" ");
                }
                first = false;
                let binary = match item {
                    FetchItem::Section { binary: true, .. } | FetchItem::BinarySize { .. } => binaries.next(),
                    _ => None,
                };
                if let Err(error) = write_item(answer, item, &message, binary, &mut flags_sent).await? {
                    return Ok(Err(error));
                }
            }
            // RFC 3501 §6.4.5: an implicit \Seen is reported with the data.
            let record = &message.record;
            if seen_modseq == Some(record.modseq) && !flags_sent {
                let out = answer.conn.out();
                out.extend_from_slice(b" FLAGS ");
                encode::flag_list(out, record.flags, record.keywords, &answer.keywords, view.is_recent(uid));
            }
            answer.conn.write(b")\r\n");
        }
    }
    Ok(Ok(if all_present { Ended::All } else { Ended::SomeExpunged }))
}

/// One message being answered: what was read of it, owned, so that its
/// snapshot can close while its response is written.
struct Message {
    uid: u32,
    record: MessageRecord,
    /// The header's length, read when an item needs the blob record.
    header_size: u64,
    /// The header summary, read when a HEADER.FIELDS item it covers is asked.
    summary: Option<Vec<u8>>,
    /// The MIME structure, decoded when an item needs it.
    structure: Option<Structure>,
    /// Unix seconds it was saved into the mailbox, read when SAVEDATE is
    /// asked; None also for a message stored before save dates were kept.
    save_date: Option<i64>,
    /// The preview, read (or computed) when a PREVIEW item is asked; None
    /// for NIL (LAZY, and not stored).
    preview: Option<String>,
}

/// Whether the items ask for PREVIEW: Some(true) if only lazily (RFC
/// 8970 §4: NIL may answer when the preview is not at hand).
fn preview_wanted(items: &[FetchItem]) -> Option<bool> {
    let mut wanted = None;
    for item in items {
        if let FetchItem::Preview { lazy } = item {
            wanted = Some(wanted.unwrap_or(true) && *lazy);
        }
    }
    wanted
}

/// The preview of the message `record`: the stored one; else, unless
/// `lazy`, computed now (see the module docs). Ok(Some(None)): NIL.
/// Ok(None): the message's bytes were freed meanwhile.
async fn find_preview(
    answer: &mut Answer<'_>,
    record: &MessageRecord,
    lazy: bool,
) -> io::Result<Result<Option<Option<String>>, StoreError>> {
    let snapshot = &mut answer.pace.snapshot;
    match snapshot.preview(record.blob) {
        Ok(Some(text)) => return Ok(Ok(Some(Some(text)))),
        Ok(None) if lazy => return Ok(Ok(Some(None))),
        Ok(None) => {}
        Err(error) => return Ok(Err(error)),
    }
    let structure = match snapshot.blob(record.blob) {
        Ok((blob, chunks)) => structure_of(record, blob, chunks),
        Err(error) => Err(error),
    };
    let structure = match structure {
        Ok(structure) => structure,
        Err(error) => return Ok(Err(error)),
    };
    let Some((index, source)) = preview::part_for(&structure) else { return Ok(Ok(Some(Some(String::new())))) };
    let part = &structure.parts[index];
    let start = part.body_start.min(record.size);
    let end = part.body_end.min(start + preview::MAX_PART_BYTES).min(record.size);
    let mut bytes = Vec::new();
    match snapshot.read(record.blob, start, end, &mut bytes) {
        Ok(true) => {}
        Ok(false) => return Ok(Ok(None)),
        Err(error) => return Ok(Err(error)),
    }
    let mut builder = PartPreview::new(&part.content, source);
    builder.feed(&bytes);
    let text = builder.finish();
    answer.pace.pause_checked(answer.conn).await?;
    Ok(Ok(Some(Some(text))))
}

/// Items answered from the MIME structure.
fn needs_structure(item: &FetchItem) -> bool {
    match item {
        FetchItem::Envelope | FetchItem::BodyStructure | FetchItem::Body | FetchItem::BinarySize { .. } => true,
        FetchItem::Section { section, binary, .. } => {
            *binary || !section.part.is_empty() || section.text == Some(SectionText::Mime)
        }
        _ => false,
    }
}

async fn write_item(
    answer: &mut Answer<'_>,
    item: &FetchItem,
    message: &Message,
    binary: Option<&Binary>,
    flags_sent: &mut bool,
) -> io::Result<Result<(), StoreError>> {
    let record = &message.record;
    let view = answer.view;
    let out = answer.conn.out();
    match item {
        FetchItem::Flags => {
            out.extend_from_slice(b"FLAGS ");
            encode::flag_list(out, record.flags, record.keywords, &answer.keywords, view.is_recent(message.uid));
            *flags_sent = true;
        }
        FetchItem::Uid => {
            out.extend_from_slice(b"UID ");
            encode::number(out, message.uid);
        }
        FetchItem::InternalDate => {
            out.extend_from_slice(b"INTERNALDATE \"");
            record.internal_date.write_imap(out);
            out.push(b'"');
        }
        FetchItem::Rfc822Size => {
            out.extend_from_slice(b"RFC822.SIZE ");
            encode::number(out, record.size);
        }
        FetchItem::Rfc822 | FetchItem::Rfc822Header | FetchItem::Rfc822Text => {
            let (name, text) = match item {
                FetchItem::Rfc822 => ("RFC822 ", None),
                FetchItem::Rfc822Header => ("RFC822.HEADER ", Some(SectionText::Header)),
                _ => ("RFC822.TEXT ", Some(SectionText::Text)),
            };
            out.extend_from_slice(name.as_bytes());
            return send_section(answer, message, &text, None).await;
        }
        FetchItem::Section { section, partial, binary: true, .. } => {
            write_section_head(out, b"BINARY[", section, *partial);
            let Some(binary) = binary else {
                return Ok(Err(StoreError::Bug("BINARY without its plan".into())));
            };
            return send_binary(answer, message, binary, *partial).await;
        }
        FetchItem::Section { section, partial, .. } => {
            write_section_head(out, b"BODY[", section, *partial);
            if !section.part.is_empty() || section.text == Some(SectionText::Mime) {
                return send_part(answer, message, section, *partial).await;
            }
            return send_section(answer, message, &section.text, *partial).await;
        }
        FetchItem::Envelope | FetchItem::BodyStructure | FetchItem::Body => {
            let Some(structure) = &message.structure else {
                return Ok(Err(StoreError::Bug("ENVELOPE or BODYSTRUCTURE without the structure".into())));
            };
            match item {
                FetchItem::Envelope => {
                    out.extend_from_slice(b"ENVELOPE ");
                    match structure.envelope(0) {
                        Some(envelope) => render::envelope(out, envelope),
                        None => out.extend_from_slice(b"(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)"),
                    }
                }
                FetchItem::BodyStructure => {
                    out.extend_from_slice(b"BODYSTRUCTURE ");
                    render::body_structure(out, structure, 0, true);
                }
                _ => {
                    out.extend_from_slice(b"BODY ");
                    render::body_structure(out, structure, 0, false);
                }
            }
        }
        FetchItem::Preview { .. } => {
            // RFC 8970 §7: `"PREVIEW" SP nstring`; 8-bit text goes as a
            // literal (RFC 3501 quoted strings are 7-bit).
            out.extend_from_slice(b"PREVIEW ");
            match &message.preview {
                Some(text) => encode::string(out, text.as_bytes()),
                None => out.extend_from_slice(b"NIL"),
            }
        }
        FetchItem::Modseq => {
            out.extend_from_slice(b"MODSEQ (");
            encode::number(out, record.modseq);
            out.push(b')');
        }
        // RFC 8474 §5 (see imap::object_id for what the ids are).
        FetchItem::EmailId => {
            out.extend_from_slice(b"EMAILID (");
            out.extend_from_slice(crate::imap::object_id::email_id(record.blob).as_bytes());
            out.push(b')');
        }
        FetchItem::ThreadId => out.extend_from_slice(b"THREADID NIL"),
        // RFC 8514 §3: NIL where the save date is not known.
        FetchItem::SaveDate => match message.save_date {
            Some(unix) => {
                out.extend_from_slice(b"SAVEDATE \"");
                crate::util::datetime::DateTime { unix, offset_minutes: 0 }.write_imap(out);
                out.push(b'"');
            }
            None => out.extend_from_slice(b"SAVEDATE NIL"),
        },
        FetchItem::BinarySize { part } => {
            out.extend_from_slice(b"BINARY.SIZE[");
            write_section_name(out, &Section { part: part.clone(), text: None });
            out.extend_from_slice(b"] ");
            encode::number(out, binary.map_or(0, |binary| binary.size));
        }
    }
    Ok(Ok(()))
}

/// `BODY[section]<origin> ` / `BINARY[section]<origin> `, before the data.
fn write_section_head(out: &mut Vec<u8>, name: &[u8], section: &Section, partial: Option<(u32, u32)>) {
    out.extend_from_slice(name);
    write_section_name(out, section);
    out.push(b']');
    if let Some((origin, _)) = partial {
        out.push(b'<');
        encode::number(out, origin);
        out.push(b'>');
    }
    out.push(b' ');
}

/// The section as the response names it (RFC 3501 §7.4.2: as requested).
fn write_section_name(out: &mut Vec<u8>, section: &Section) {
    let mut first = true;
    for part in &section.part {
        if !first {
            out.push(b'.');
        }
        first = false;
        encode::number(out, *part);
    }
    if let Some(text) = &section.text {
        if !first {
            out.push(b'.');
        }
        match text {
            SectionText::Header => out.extend_from_slice(b"HEADER"),
            SectionText::Text => out.extend_from_slice(b"TEXT"),
            SectionText::Mime => out.extend_from_slice(b"MIME"),
            SectionText::HeaderFields { not, fields } => {
                out.extend_from_slice(if *not { b"HEADER.FIELDS.NOT (" } else { b"HEADER.FIELDS (" });
                for (index, field) in fields.iter().enumerate() {
                    if index > 0 {
                        out.push(b' ');
                    }
                    encode::astring(out, field.as_bytes());
                }
                out.push(b')');
            }
        }
    }
}

/// Sends the literal for `text` of the whole message, cut to `partial`.
async fn send_section(
    answer: &mut Answer<'_>,
    message: &Message,
    text: &Option<SectionText>,
    partial: Option<(u32, u32)>,
) -> io::Result<Result<(), StoreError>> {
    let size = message.record.size;
    let header_size = message.header_size.min(size);
    let (start, end) = match text {
        None => (0, size),
        Some(SectionText::Header) => (0, header_size),
        Some(SectionText::Text) => (header_size, size),
        Some(asked @ SectionText::HeaderFields { not, fields }) => {
            let selected = match &message.summary {
                Some(summary) if summary_covers(asked) => header::Summary(summary).select(fields),
                _ => {
                    let mut bytes = Vec::new();
                    answer.read_literal(message, 0, header_size, &mut bytes)?;
                    select_fields(&bytes, *not, fields)
                }
            };
            let mut selected = cut(&selected, partial).to_vec();
            no_nul(&mut selected);
            encode::literal_header(answer.conn.out(), selected.len() as u64);
            answer.conn.write(&selected);
            return Ok(Ok(()));
        }
        // Sent by send_part.
        Some(SectionText::Mime) => (0, 0),
    };
    send_range(answer, message, start, end, partial).await
}

/// Streams bytes `start..end` of the message as a literal, cut to `partial`.
async fn send_range(
    answer: &mut Answer<'_>,
    message: &Message,
    start: u64,
    end: u64,
    partial: Option<(u32, u32)>,
) -> io::Result<Result<(), StoreError>> {
    let (start, end) = match partial {
        None => (start, end),
        Some((origin, count)) => {
            let from = (start + origin as u64).min(end);
            (from, (from + count as u64).min(end))
        }
    };
    encode::literal_header(answer.conn.out(), end - start);
    // A buffer's worth at a time, so that every step ends in a flush.
    let step = answer.conn.write_limit().max(CHUNK_SIZE) as u64;
    let mut position = start;
    let mut piece = Vec::new();
    while position < end {
        let until = (position + step).min(end);
        piece.clear();
        answer.read_literal(message, position, until, &mut piece)?;
        no_nul(&mut piece);
        answer.conn.write(&piece);
        position = until;
        answer.pace.pause(answer.conn).await?;
    }
    Ok(Ok(()))
}

/// A literal may not hold NUL (RFC 3501 §4.3: CHAR8 is 0x01-0xFF), yet a
/// message can: broken mail delivered over LMTP, or a non-MIME message
/// APPENDed as a literal8 (binary parts are stored base64, see
/// `mime::binary`). In BODY[] and the other non-BINARY sections a NUL is
/// sent as 0x80, as Dovecot does, so the length and the framing hold;
/// BINARY[] gives the bytes as stored.
fn no_nul(bytes: &mut [u8]) {
    for byte in bytes.iter_mut().filter(|byte| **byte == 0) {
        *byte = 0x80;
    }
}

/// Sends a section of a MIME part (`1.2`, `3.HEADER`, `2.MIME`...); a
/// part the message does not have is sent empty, as Dovecot does.
async fn send_part(
    answer: &mut Answer<'_>,
    message: &Message,
    section: &Section,
    partial: Option<(u32, u32)>,
) -> io::Result<Result<(), StoreError>> {
    let Some(structure) = &message.structure else {
        return Ok(Err(StoreError::Bug("a part fetched without the structure".into())));
    };
    let Some((start, end)) = part_range(structure, section) else {
        encode::literal_header(answer.conn.out(), 0);
        return Ok(Ok(()));
    };
    let (start, end) = (start.min(message.record.size), end.min(message.record.size));
    if let Some(SectionText::HeaderFields { not, fields }) = &section.text {
        let mut bytes = Vec::new();
        answer.read_literal(message, start, end, &mut bytes)?;
        let selected = select_fields(&bytes, *not, fields);
        let mut selected = cut(&selected, partial).to_vec();
        no_nul(&mut selected);
        encode::literal_header(answer.conn.out(), selected.len() as u64);
        answer.conn.write(&selected);
        return Ok(Ok(()));
    }
    send_range(answer, message, start, end, partial).await
}

/// Where a MIME part's section (`1.2`, `3.HEADER`, `2.MIME`...) lies in the
/// message; None for a part the message does not have. Also resolves
/// CATENATE's URLs (`command::append`).
pub(crate) fn part_range(structure: &Structure, section: &Section) -> Option<(u64, u64)> {
    let kind = match &section.text {
        None => SectionKind::Body,
        Some(SectionText::Header | SectionText::HeaderFields { .. }) => SectionKind::Header,
        Some(SectionText::Text) => SectionKind::Text,
        Some(SectionText::Mime) => SectionKind::Mime,
    };
    match structure.section(&section.part) {
        // Part 1 of a message that is not multipart is its body: its MIME
        // header is the message's header, and it has a HEADER and TEXT
        // only when it is itself a message (Dovecot answers so too).
        Some(0) => {
            let root = &structure.parts[0];
            match (kind, structure.parts.get(1).filter(|_| structure.is_message(0))) {
                (SectionKind::Body, _) => Some((root.body_start, root.body_end)),
                (SectionKind::Mime, _) => Some((root.header_start, root.body_start)),
                (SectionKind::Header, Some(inner)) => Some((inner.header_start, inner.body_start)),
                (SectionKind::Text, Some(inner)) => Some((inner.body_start, inner.body_end)),
                (_, None) => None,
            }
        }
        index => index.and_then(|index| structure.range(index, kind)),
    }
}

/// The summary holds every line of its fields, in order: when it covers all
/// the fields asked for, the message itself need not be read.
fn summary_covers(text: &SectionText) -> bool {
    match text {
        SectionText::HeaderFields { not: false, fields } => {
            fields.iter().all(|field| header::in_summary(field.as_bytes()))
        }
        _ => false,
    }
}

fn cut(bytes: &[u8], partial: Option<(u32, u32)>) -> &[u8] {
    match partial {
        None => bytes,
        Some((origin, count)) => {
            let from = (origin as usize).min(bytes.len());
            &bytes[from..(from + count as usize).min(bytes.len())]
        }
    }
}

/// HEADER.FIELDS / HEADER.FIELDS.NOT: the matching fields as they were
/// sent, then the blank line (RFC 3501 §6.4.5). Header lines that are not
/// fields at all are not "listed", so .NOT keeps them (as Dovecot does).
pub fn select_fields(header_bytes: &[u8], not: bool, names: &[String]) -> Vec<u8> {
    let mut selected = Vec::new();
    for (raw, field) in header::lines(header_bytes) {
        let listed = field
            .as_ref()
            .is_some_and(|field| names.iter().any(|name| name.as_bytes().eq_ignore_ascii_case(field.name)));
        if listed != not && (field.is_some() || not) {
            selected.extend_from_slice(raw);
            if !raw.ends_with(b"\n") {
                selected.extend_from_slice(b"\r\n");
            }
        }
    }
    selected.extend_from_slice(b"\r\n");
    selected
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_fields_selection() {
        let header = b"From: a\r\nTo: b\r\nSubject: c\r\n d\r\n\r\n";
        assert_eq!(
            select_fields(header, false, &["subject".into(), "FROM".into()]),
            b"From: a\r\nSubject: c\r\n d\r\n\r\n"
        );
        assert_eq!(select_fields(header, true, &["subject".into(), "FROM".into()]), b"To: b\r\n\r\n");
        assert_eq!(select_fields(header, false, &["X-None".into()]), b"\r\n");
        assert_eq!(select_fields(b"A: 1", false, &["A".into()]), b"A: 1\r\n\r\n");
    }

    #[test]
    fn partial_cuts() {
        assert_eq!(cut(b"0123456789", Some((2, 3))), b"234");
        assert_eq!(cut(b"0123", Some((10, 3))), b"");
        assert_eq!(cut(b"0123", Some((2, 30))), b"23");
    }
}
