//! The FETCH engine: one message's FETCH response at a time, below the
//! commands. FETCH (`command::fetch`) and NOTIFY's unsolicited FETCHes
//! (`command::notify`) write responses with [`respond`]; CATENATE
//! (`command::append`) finds the sections its URLs name with
//! [`part_range`] and [`select_fields`].
//!
//! - this file: [`respond`], the paced walk over the messages, each one
//!   read from the current snapshot, and the writer of every item;
//! - `binary`: the BINARY planner (RFC 3516) and its decoding stream;
//! - `section`: BODY[section] streaming, section names, [`part_range`].
//!
//! It may use the session's connection and view, the IMAP writers
//! (`encode`, `render`, `pace`), `mime` and the store's reads; never a
//! command.
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
use crate::imap::session::{Session, State};
use crate::imap::types::{FetchItem, Section, SectionText};
use crate::imap::view::View;
use crate::mime::preview::{self, PartPreview};
use crate::mime::structure::Structure;
use crate::net::Connection;
use crate::store::{structure_of, MessageRecord, StoreError};

mod binary;
mod section;

use binary::{plan_binary, send_binary, Binary, Planned};
pub(crate) use section::{part_range, select_fields};
use section::{send_part, send_section, summary_covers, write_section_head, write_section_name};

/// How a FETCH's responses ended.
pub(crate) enum Ended {
    All,
    SomeExpunged,
    /// A BINARY item could not be decoded (RFC 3516 §4.3): the response
    /// code and text; the messages before it were answered.
    Refused(Code, &'static str),
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
                let line = crate::imap::session::rights::view_flags_lines(&self.keywords, self.view);
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
            // Read by UID from the current snapshot, whichever it is; a
            // reader sees their own \Seen and modseq (store::acl).
            let record = match snapshot.message_as(view.mailbox, uid, high, view.private_user()) {
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
            return send_section(answer, message, text.as_ref(), None).await;
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
            return send_section(answer, message, section.text.as_ref(), *partial).await;
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
