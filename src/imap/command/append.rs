//! APPEND (RFC 3501 §6.3.11), with MULTIAPPEND (RFC 3502), LITERAL+
//! (RFC 7888), APPENDLIMIT (RFC 7889) and APPENDUID (RFC 4315); and
//! REPLACE / UID REPLACE (RFC 8508), an APPEND of one message that
//! expunges a message of the selected mailbox in the same transaction
//! (`Store::replace`): a client saving a draft again never leaves both
//! versions, nor neither.
//!
//! The message literal streams from the socket to the store in
//! board-sized pieces; it is never held whole. The pieces land in a
//! pending blob, and only the final APPEND operation — durable — makes
//! them a message. A client that vanishes half-way leaves a pending blob
//! that is discarded at once (or at the next start, after a crash).
//!
//! A message sent as a literal8 (`~{n}`, RFC 3516 §4.4) passes through
//! `mime::binary` first: its `Content-Transfer-Encoding: binary` parts
//! are stored base64, so FETCH never sends NUL in an ordinary literal and
//! the store's line-end mending never touches binary data; BINARY[part]
//! gives back the original bytes. APPENDLIMIT limits the literal; the
//! stored message, and its RFC822.SIZE, are what the conversion made.
//!
//! # Rights (RFC 4314 §4, spec §1.7)
//!
//! The target resolves through `imap::namespace` and needs `i`, checked
//! once before any message is read (MULTIAPPEND too); a hidden mailbox
//! answers `[TRYCREATE]` as a missing one does. Flags the user may not
//! set there are dropped, never refused: \Seen needs `s`, \Deleted `t`,
//! the others and keywords `w`. Without `r` there is no APPENDUID: a drop
//! box does not learn the UIDs it cannot read (Dovecot answers the same).
//! REPLACE also needs `e` in the selected mailbox, whose message it
//! expunges. A CATENATE URL needs `r` on its mailbox; a hidden one is a
//! missing one (`[BADURL]` with the same text).
//!
//! # CATENATE (RFC 4469)
//!
//! A message may instead be made of parts: `TEXT` literals from the client
//! and `URL`s naming messages, or sections of them, already in the user's
//! mailboxes (`imap::url`, RFC 5092, with `;PARTIAL=` as URL-PARTIAL, RFC
//! 5550). The command is read as a stream of events
//! (`parse::append_line`): each part streams, in order, into the same
//! pending blob a literal goes to ([`Incoming`]), so a catenated message
//! is never held whole either. A URL's bytes are read from the store a
//! board-sized piece at a time, each piece through a snapshot closed
//! before the piece is written (a write may wait for the store thread)
//! and before any yield (see `imap::pace::Pace`), as FETCH does; a section is
//! found with the FETCH engine's own machinery (`imap::fetch::part_range`,
//! `fetch::select_fields`). URLs read like BODY.PEEK: no \Seen is set.
//!
//! Decisions:
//! - A URL must name the logged-in user on this server: relative
//!   (`/mailbox;UIDVALIDITY=n/;UID=n...`, or `;UID=n...` in the selected
//!   mailbox: RFC 4469 §3's base URLs), or absolute with
//!   this user and one of this server's names or addresses (the configured
//!   TLS host names and addresses, localhost, the address the client
//!   connected to) and, if a port is given, one of ours. Anything else,
//!   an unknown mailbox, a UIDVALIDITY that differs, a UID that is gone, a
//!   section the message does not have, is `NO [BADURL url]` (RFC 4469
//!   §4.1). RFC 4469 §3 leaves absolute URLs to extensions (a server
//!   implementing only it answers NO, as Dovecot does for all of them);
//!   one naming this very session's user and server names the same
//!   message as the relative URL, so it is accepted.
//!   Without `;UIDVALIDITY` the UID is taken in the mailbox as it is.
//! - Every catenated message passes through `mime::binary`, whether or not
//!   a part came as a literal8: a `TEXT ~{n}` part may bring raw binary
//!   content into any later part's body, and a message without binary
//!   parts passes byte for byte. So a URL's octets are copied unchanged
//!   (RFC 4469 §3) unless the client's own text labels the part they land
//!   in `Content-Transfer-Encoding: binary`; stored mail holds no such raw
//!   part (APPEND converts them, LMTP refuses BINARYMIME), and stored line
//!   ends are already CRLF, so the store's mending changes nothing either.
//! - APPENDLIMIT applies to the whole catenated message (RFC 4469 §4.2:
//!   `NO [TOOBIG]`), counted as each part is announced: a TEXT literal
//!   before its continuation is sent, a URL before its bytes are read.
//! - A failure leaves nothing stored, for every message of a MULTIAPPEND:
//!   the messages go to the store in one `Store::append` at the end. After a
//!   NO decided mid-command, the rest of the command is still read: its
//!   non-synchronizing literals are skipped (RFC 7888), and the command
//!   ends at the first synchronizing one: the tagged NO goes "in place of
//!   any continuation request" (RFC 4469 Appendix A, example 4).
//! - `TEXT ~{n}` (a literal8) is accepted as Dovecot accepts it: RFC 4469
//!   §5 has only `TEXT SP literal`, but a message's data may be a literal8
//!   wherever APPEND takes one (RFC 3516 §4.4).
//! - `UTF8 (~{n})` (RFC 6855) stays a whole-message form; it is not a
//!   CATENATE part here.

use std::collections::VecDeque;
use std::io;
use std::net::{IpAddr, SocketAddr};

use crate::imap::code::{describe, Code};
use crate::imap::encode;
use crate::imap::fetch;
use crate::imap::namespace::Access;
use crate::imap::pace::Pace;
use crate::imap::parse::{self, AppendEvent, AppendLine, AppendMessage, AppendState, Literal, Parser, Replacing};
use crate::imap::session::mailbox_arg::{self, Missing};
use crate::imap::session::{Session, State, Status};
use crate::imap::types::{Flag, SectionText, SequenceNumber};
use crate::imap::url::{self, MessageUrl};
use crate::mail::rights::Rights;
use crate::mail::Flags;
use crate::mime::binary::BinaryParts;
use crate::net::{LineStatus, Stream};
use crate::store::incoming::Incoming;
use crate::store::{Appended, KeptFlags, NewMessage, Op, Store, StoreError, CHUNK_SIZE};
use crate::util::datetime::DateTime;

/// Blobs written for this command; discarded unless the APPEND commits.
struct Pending<'a> {
    store: &'a Store,
    blobs: Vec<u64>,
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        if !self.blobs.is_empty() {
            self.store.submit(Op::DiscardBlobs { blobs: std::mem::take(&mut self.blobs) });
        }
    }
}

/// Why the command cannot succeed, decided before or while reading.
struct Refusal {
    status: Status,
    code: Option<Code>,
    text: String,
}

impl Refusal {
    fn bad(text: impl Into<String>) -> Refusal {
        Refusal { status: Status::Bad, code: None, text: text.into() }
    }

    fn no(code: Code, text: impl Into<String>) -> Refusal {
        Refusal { status: Status::No, code: Some(code), text: text.into() }
    }

    /// RFC 4469 §4.1: a URL the server cannot resolve.
    fn bad_url(url: &[u8], text: impl Into<String>) -> Refusal {
        Refusal {
            status: Status::No,
            code: Some(Code::Data(format!("BADURL {}", url::for_response(url)))),
            text: text.into(),
        }
    }

    fn too_big(limit: u64) -> Refusal {
        Refusal::no(Code::TooBig, format!("Message larger than the limit of {limit} bytes"))
    }

    fn empty() -> Refusal {
        Refusal { status: Status::No, code: None, text: "Cannot store an empty message".into() }
    }
}

/// A CATENATE message being assembled (RFC 4469).
struct Building<'a> {
    flags: Vec<Flag>,
    date: Option<DateTime>,
    incoming: Incoming<'a>,
    converter: BinaryParts,
    /// Bytes taken in so far, before conversion (APPENDLIMIT counts these).
    size: u64,
    converted: Vec<u8>,
}

impl Building<'_> {
    async fn feed(&mut self, bytes: &[u8]) {
        self.size += bytes.len() as u64;
        self.converted.clear();
        self.converter.feed(bytes, &mut self.converted);
        self.incoming.write(&self.converted).await;
    }
}

pub async fn run(
    session: &mut Session,
    tag: &str,
    raw_mailbox: &[u8],
    first: AppendLine,
    replacing: Option<Replacing>,
) -> io::Result<()> {
    let store = session.server.store.clone();
    let mut pending = Pending { store: &store, blobs: Vec::new() };
    // REPLACE: the message to expunge, found first (RFC 8508 §3.2).
    let mut refusal = None;
    let replaced = match replacing.map(|replacing| find_replaced(session, replacing)) {
        None => None,
        Some(Ok(found)) => Some(found),
        Some(Err(refused)) => {
            refusal = Some(refused);
            None
        }
    };
    // One check, before any message is read (spec §1.7: MULTIAPPEND too).
    let mut target = None;
    if refusal.is_none() {
        match check_target(session, raw_mailbox) {
            Ok(access) => target = Some(access),
            Err(refused) => refusal = Some(refused),
        }
    }
    // RFC 4314 §4: flags the user may not set there are dropped, not
    // refused; and the record's \Seen is the owner's (store::acl), so one
    // appending into another's mailbox leaves it out.
    let user = session.user().map_or(0, |user| user.id);
    let target_rights = target.map_or(Rights::NONE, |target| target.rights);
    let keep =
        target.map_or(KeptFlags { flags: Flags::default(), keywords: false, copier: None }, |target| KeptFlags {
            flags: target.record_flags(user),
            keywords: target.rights.contains(Rights::STORE_OTHER),
            copier: None,
        });
    let limit = session.server.config.limits.literal_size;
    let mut messages = Vec::new();
    // Which messages the client gave \Seen (kept privately below when the
    // record's \Seen is not the user's).
    let mut seen_wanted: Vec<bool> = Vec::new();
    let mut started = 0;
    let mut building: Option<Building> = None;
    let mut events: VecDeque<AppendEvent> = first.events.into();
    let mut state = first.state;
    loop {
        let Some(event) = events.pop_front() else {
            // The line ended at a literal, now read: the command goes on.
            match read_line(session, state).await? {
                Ok(line) => {
                    events = line.events.into();
                    state = line.state;
                }
                Err(text) => {
                    refusal.get_or_insert(Refusal::bad(text));
                    break;
                }
            }
            continue;
        };
        // Every literal is announced by the event that ends its line; one
        // refused is skipped or, if synchronizing, ends the command.
        let literal = match &event {
            AppendEvent::Message(message) => Some(Literal {
                length: message.length,
                non_synchronizing: message.non_synchronizing,
                binary: message.binary,
            }),
            AppendEvent::UrlLiteral(literal) | AppendEvent::Text(literal) => Some(*literal),
            _ => None,
        };
        if matches!(event, AppendEvent::Message(_) | AppendEvent::Catenate { .. }) {
            started += 1;
            // RFC 8508 §4.7: REPLACE takes one message, MULTIAPPEND or not.
            if started > 1 && replacing.is_some() && refusal.is_none() {
                refusal = Some(Refusal::bad("REPLACE takes one message"));
            }
        }
        if refusal.is_none() {
            refusal = check_literal(session, &event, building.as_ref()).err();
        }
        if let (Some(_), Some(literal)) = (&refusal, literal) {
            if !literal.non_synchronizing {
                // The client waits for a continuation that will not come:
                // the command ends here.
                break;
            }
            // RFC 7888: the bytes are coming anyway; read and drop them.
            session.skip_literal(literal.length).await?;
            if matches!(session.state, State::Logout) {
                return Ok(());
            }
            continue;
        }
        if let Some(literal) = literal {
            if !literal.non_synchronizing {
                session.conn.write(b"+ Ready for literal data\r\n");
                session.conn.flush().await?;
            }
        }
        match event {
            AppendEvent::End => break,
            AppendEvent::Message(message) => match receive(session, &store, &message).await? {
                Ok(received) => {
                    pending.blobs.push(received.blob);
                    seen_wanted.push(asks_seen(&message.flags));
                    messages.push(new_message(&message.flags, message.date, received, keep));
                }
                Err(error) => {
                    let (code, text) = describe(&error, false);
                    refusal = Some(Refusal::no(code, text));
                }
            },
            AppendEvent::Catenate { flags, date } => {
                let piece = session.server.config.limits.append_chunk;
                building = Some(Building {
                    flags,
                    date,
                    incoming: Incoming::new(&store, piece, CHUNK_SIZE as u64),
                    converter: BinaryParts::new(),
                    size: 0,
                    converted: Vec::new(),
                });
            }
            AppendEvent::Url(raw) => {
                if let (None, Some(building)) = (&refusal, building.as_mut()) {
                    refusal = add_url(session, building, &raw, limit).await?.err();
                }
            }
            AppendEvent::UrlLiteral(literal) => {
                let mut raw = Vec::new();
                session.conn.read_exact_into(literal.length as usize, &mut raw).await?;
                if let Some(building) = building.as_mut() {
                    refusal = add_url(session, building, &raw, limit).await?.err();
                }
            }
            AppendEvent::Text(literal) => {
                if let Some(building) = building.as_mut() {
                    read_text(session, building, literal.length).await?;
                }
            }
            AppendEvent::CatenateEnd => {
                let Some(mut building) = building.take() else { continue };
                if refusal.is_some() {
                    continue;
                }
                let mut tail = Vec::new();
                building.converter.finish(&mut tail);
                building.incoming.write(&tail).await;
                if building.incoming.size() == 0 {
                    refusal = Some(Refusal::empty());
                    continue;
                }
                match building.incoming.finish().await {
                    Ok(received) => {
                        pending.blobs.push(received.blob);
                        seen_wanted.push(asks_seen(&building.flags));
                        messages.push(new_message(&building.flags, building.date, received, keep));
                    }
                    Err(error) => {
                        let (code, text) = describe(&error, false);
                        refusal = Some(Refusal::no(code, text));
                    }
                }
            }
        }
    }
    drop(building);
    if let Some(refused) = refusal {
        session.tagged(tag, refused.status, refused.code, &refused.text);
        return Ok(());
    }
    // Found by `check_target` just before, unless the store failed between.
    let Some(mailbox) = target.map(|target| target.id) else {
        return session.store_failed(tag, StoreError::NoSuchMailbox, true).await;
    };
    if let Some((from, uid)) = replaced {
        let Some(message) = messages.pop() else {
            // An empty message is refused above: a server bug, said so.
            return session.finish(tag, Status::No, Some(Code::ServerBug), "REPLACE has no message").await;
        };
        return replace(session, tag, &mut pending, mailbox, message, from, uid).await;
    }
    let count = messages.len();
    // In another's (or a public) mailbox the record's \Seen is the
    // owner's: the appender's own \Seen, which `s` lets them keep (RFC
    // 4314 §4), goes to their private rows once the messages are in.
    let private_seen =
        target.as_ref().is_some_and(|target| target.private_seen(user) && target.rights.contains(Rights::KEEP_SEEN));
    match store.append(mailbox, messages).await {
        Ok(Appended { uid_validity, first_uid, last_uid }) => {
            pending.blobs.clear();
            if private_seen {
                keep_own_seen(session, mailbox, user, first_uid, &seen_wanted).await;
            }
            let mut code = format!("APPENDUID {uid_validity} ").into_bytes();
            encode::number(&mut code, first_uid);
            if last_uid != first_uid {
                code.push(b':');
                encode::number(&mut code, last_uid);
            }
            let code = String::from_utf8_lossy(&code).into_owned();
            // Spec §1.7: no APPENDUID without `r` (a drop box does not
            // learn the UIDs it cannot read; Dovecot does the same).
            let code = target_rights.contains(Rights::READ).then_some(Code::Data(code));
            crate::imap::session::notify::own_messages(session, mailbox, first_uid..=last_uid);
            if let Some(user) = session.user() {
                log::debug!("{}: appended {count} message(s) for {}", session.peer, user.name);
            }
            session.finish(tag, Status::Ok, code, "APPEND completed").await
        }
        Err(error) => session.store_failed(tag, error, true).await,
    }
}

/// Whether the client's flags for a message hold \Seen.
fn asks_seen(flags: &[Flag]) -> bool {
    flags.iter().any(|flag| matches!(flag, Flag::System(system) if *system == Flags::SEEN))
}

/// Sets `user`'s private \Seen on the appended messages (from UID
/// `first_uid`, in order) the client gave \Seen. The messages are stored
/// already: a failure here is logged, and the APPEND still succeeds (its
/// mail is safe; only the read state is missing).
async fn keep_own_seen(session: &Session, mailbox: u64, user: u32, first_uid: u32, wanted: &[bool]) {
    let uids: Vec<u32> =
        wanted.iter().enumerate().filter(|(_, seen)| **seen).map(|(index, _)| first_uid + index as u32).collect();
    if uids.is_empty() {
        return;
    }
    let set = crate::store::UidSet::from_sorted(uids);
    if let Err(error) = session.server.store.set_private_seen(mailbox, user, set, true).await {
        log::warn!("{}: appended, but the appender's own \\Seen was not kept: {error}", session.peer);
    }
}

/// What must hold before a literal is invited or read: a message within
/// APPENDLIMIT, a catenated one whose TEXT keeps it within (RFC 4469 §4.2),
/// a URL literal of a URL's size.
fn check_literal(session: &Session, event: &AppendEvent, building: Option<&Building>) -> Result<(), Refusal> {
    let limit = session.server.config.limits.literal_size;
    match event {
        AppendEvent::Message(message) => check_message(session, message),
        AppendEvent::Text(literal) => {
            let size = building.map_or(0, |building| building.size);
            if size.saturating_add(literal.length) > limit {
                return Err(Refusal::too_big(limit));
            }
            Ok(())
        }
        AppendEvent::UrlLiteral(literal) if literal.length > url::MAX_URL as u64 => Err(Refusal::bad("URL too long")),
        _ => Ok(()),
    }
}

/// The message to store: what was received, with the flags and date the
/// client gave, less the flags the user may not set in the record (RFC
/// 4314 §4: \Seen needs `s`, \Deleted `t`, the others and keywords `w`;
/// [`Access::record_flags`](crate::imap::namespace::Access::record_flags)).
fn new_message(flags: &[Flag], date: Option<DateTime>, received: NewMessage, keep: KeptFlags) -> NewMessage {
    let (settable, keywords) = (keep.flags, keep.keywords);
    NewMessage {
        flags: flags.iter().fold(Flags::default(), |flags, flag| match flag {
            Flag::System(system) if settable.contains(*system) => flags.union(*system),
            _ => flags,
        }),
        keywords: flags
            .iter()
            .filter_map(|flag| match flag {
                Flag::Keyword(keyword) if keywords => Some(keyword.clone()),
                _ => None,
            })
            .collect(),
        internal_date: date.unwrap_or_else(DateTime::now),
        ..received
    }
}

/// The message a REPLACE names in the selected mailbox: (mailbox, UID).
fn find_replaced(session: &Session, replacing: Replacing) -> Result<(u64, u32), Refusal> {
    let refuse = |status, text: &str| Err(Refusal { status, code: None, text: text.into() });
    // RFC 8508 §3.5: REPLACE is valid in the selected state only.
    let State::Selected(_, view) = &session.state else {
        return refuse(Status::Bad, "REPLACE needs a selected mailbox");
    };
    // The replaced message is expunged: not in a mailbox opened with EXAMINE.
    if view.read_only {
        return Err(Refusal::no(Code::ReadOnly, "Mailbox is read-only"));
    }
    // Spec §1.7 (as MOVE): REPLACE expunges from the selected mailbox, so
    // it needs `e` there; `i` on the target is APPEND's check.
    if !view.access.rights.contains(Rights::EXPUNGE) {
        return Err(Refusal::no(Code::NoPerm, mailbox_arg::refusal_text(Rights::EXPUNGE)));
    }
    // RFC 9586 §3: under UIDONLY only UID REPLACE (command::uidonly).
    if view.uid_only && !replacing.uid {
        let text = "Message sequence numbers are not allowed once UIDONLY is enabled; use UID REPLACE";
        return Err(Refusal { status: Status::Bad, code: Some(Code::UidRequired), text: text.into() });
    }
    let last = view.uids.last().copied();
    let uid = match (replacing.uid, replacing.number) {
        (_, SequenceNumber::Star) => last,
        (true, SequenceNumber::Value(uid)) => view.index_of(uid).map(|_| uid),
        // RFC 3501 §9: a sequence number past the last message is BAD.
        (false, SequenceNumber::Value(number)) => match view.uids.get(number as usize - 1) {
            Some(&uid) => Some(uid),
            None => return refuse(Status::Bad, "Invalid message sequence number"),
        },
        (_, SequenceNumber::Saved) => return refuse(Status::Bad, "REPLACE takes one message number"),
    };
    match uid {
        Some(uid) => Ok((view.mailbox, uid)),
        // RFC 8508 §3.2: NO when the message to replace cannot be removed.
        None => refuse(Status::No, "No such message"),
    }
}

/// Stores a REPLACE's message and expunges the replaced one, in one
/// transaction; the new UID goes out in an untagged OK before the EXPUNGE
/// (RFC 8508 §4.3, with UIDPLUS's APPENDUID).
async fn replace(
    session: &mut Session,
    tag: &str,
    pending: &mut Pending<'_>,
    mailbox: u64,
    message: NewMessage,
    from: u64,
    uid: u32,
) -> io::Result<()> {
    let store = session.server.store.clone();
    let command = if session.uid_command { "UID REPLACE" } else { "REPLACE" };
    match store.replace(mailbox, message, from, uid).await {
        Ok(Appended { uid_validity, first_uid, .. }) => {
            pending.blobs.clear();
            let line = format!("* OK [APPENDUID {uid_validity} {first_uid}] Replacement message saved\r\n");
            session.conn.write(line.as_bytes());
            crate::imap::session::notify::own_messages(session, mailbox, first_uid..=first_uid);
            // `find_replaced` found the session selected before the message
            // was read, and nothing since changes its state.
            let Some(session) = session.selected() else {
                session.tagged(tag, Status::Bad, None, "REPLACE needs a selected mailbox");
                return Ok(());
            };
            // The sync before the tagged answer reports the expunge (and
            // the new message, when it went to the selected mailbox).
            super::expunge::finish_removal(session, tag, &format!("{command} completed")).await
        }
        Err(error) => session.store_failed(tag, error, true).await,
    }
}

/// APPEND is valid once authenticated, to a mailbox that exists, with
/// `i` there (RFC 4314 §4; a hidden one answers as a missing one).
fn check_target(session: &mut Session, raw_mailbox: &[u8]) -> Result<Access, Refusal> {
    if session.user().is_none() {
        return Err(Refusal {
            status: Status::Bad,
            code: None,
            text: "APPEND not allowed now: Please log in first".into(),
        });
    }
    let name = match crate::imap::mailbox_name::decode_for(raw_mailbox, session.utf8_names()) {
        Ok(name) => name,
        // Not BAD: see session::mailbox_arg::name_or_no.
        Err(text) => return Err(Refusal::no(Code::NonExistent, text)),
    };
    let access = mailbox_arg::access(session, &name, Rights::APPEND, Missing::TryCreate)
        .map_err(|refused| Refusal::no(refused.code, refused.text))?;
    let selectable = session.server.store.read().ok().and_then(|reader| reader.mailbox(access.id).ok().flatten());
    if selectable.is_some_and(|record| !record.noselect) {
        Ok(access)
    } else {
        let (code, text) = describe(&StoreError::NoSuchMailbox, true);
        Err(Refusal::no(code, text))
    }
}

/// RFC 7889: over APPENDLIMIT is TOOBIG, refused before the bytes are read.
fn check_message(session: &Session, message: &AppendMessage) -> Result<(), Refusal> {
    let limit = session.server.config.limits.literal_size;
    if message.length > limit {
        return Err(Refusal::too_big(limit));
    }
    if message.length == 0 {
        return Err(Refusal::empty());
    }
    // RFC 6855 §4: the UTF8 data item is for clients that enabled UTF8=ACCEPT.
    if message.utf8 && !session.utf8_accept {
        return Err(Refusal::bad("UTF8 needs ENABLE UTF8=ACCEPT first"));
    }
    Ok(())
}

/// Streams one message literal into a new blob. A literal8's binary
/// parts are made base64 on the way (see `mime::binary`), so the stored
/// message (and RFC822.SIZE) may be larger than the literal; APPENDLIMIT
/// applies to the literal, which is what the client sends.
async fn receive(
    session: &mut Session,
    store: &Store,
    message: &AppendMessage,
) -> io::Result<Result<NewMessage, StoreError>> {
    let mut incoming = Incoming::new(store, session.server.config.limits.append_chunk, message.length);
    let mut remaining = message.length;
    // RFC 3516 §4.4: only a literal8 may hold binary content, and the
    // server may change its encoding as long as no data is lost.
    let mut converter = message.binary.then(BinaryParts::new);
    let (mut raw, mut converted) = (Vec::new(), Vec::new());
    while remaining > 0 {
        let want = incoming.room().min(remaining.min(usize::MAX as u64) as usize);
        let read = match converter.as_mut() {
            None => {
                let before = incoming.buffer().len();
                let read = session.conn.read_some(want, incoming.buffer()).await?;
                incoming.accept(before).await;
                read
            }
            Some(converter) => {
                raw.clear();
                let read = session.conn.read_some(want, &mut raw).await?;
                converted.clear();
                converter.feed(&raw, &mut converted);
                incoming.write(&converted).await;
                read
            }
        };
        remaining -= read as u64;
    }
    if let Some(mut converter) = converter {
        converted.clear();
        converter.finish(&mut converted);
        incoming.write(&converted).await;
    }
    Ok(incoming.finish().await)
}

/// The next line of the command, after a literal's bytes, read from
/// where the grammar stood (`state`).
async fn read_line(session: &mut Session, state: AppendState) -> io::Result<Result<AppendLine, String>> {
    let mut line = Vec::new();
    let max = session.server.config.limits.line_length;
    if let LineStatus::TooLong { .. } = session.conn.read_line(&mut line, max).await? {
        return Ok(Err("Command line too long".into()));
    }
    let mut parser = Parser::new(&line);
    match parse::append_line(&mut parser, state) {
        Ok(parsed) => Ok(Ok(parsed)),
        Err(text) => {
            // Keep the connection in step: a non-synchronizing literal at
            // the end of a bad line is on its way regardless.
            if let Some((length, true)) = parse::trailing_literal(&line) {
                session.skip_literal(length).await?;
            }
            Ok(Err(format!("Error in IMAP command APPEND: {text}")))
        }
    }
}

/// Streams a CATENATE `TEXT` literal into the message being built.
async fn read_text(session: &mut Session, building: &mut Building<'_>, length: u64) -> io::Result<()> {
    let piece = session.server.config.limits.append_chunk.max(CHUNK_SIZE);
    let mut remaining = length;
    let mut raw = Vec::new();
    while remaining > 0 {
        raw.clear();
        let read = session.conn.read_some(piece.min(remaining.min(usize::MAX as u64) as usize), &mut raw).await?;
        building.feed(&raw).await;
        remaining -= read as u64;
    }
    Ok(())
}

/// Resolves a CATENATE URL and streams the bytes it names into the
/// message being built; Err: why it cannot (BADURL, TOOBIG, a store
/// failure).
async fn add_url(
    session: &mut Session,
    building: &mut Building<'_>,
    raw: &[u8],
    limit: u64,
) -> io::Result<Result<(), Refusal>> {
    let store = session.server.store.clone();
    let mut pace = Pace::new(&store);
    let found = match find_url(session, &mut pace, raw) {
        Ok(found) => found,
        Err(refusal) => return Ok(Err(refusal)),
    };
    pace.snapshot.close();
    let (blob, range) = match found {
        Found::Bytes(bytes) => {
            if building.size.saturating_add(bytes.len() as u64) > limit {
                return Ok(Err(Refusal::too_big(limit)));
            }
            building.feed(&bytes).await;
            return Ok(Ok(()));
        }
        Found::Range { blob, start, end } => (blob, start..end),
    };
    if building.size.saturating_add(range.end - range.start) > limit {
        return Ok(Err(Refusal::too_big(limit)));
    }
    // A board-sized piece at a time, each read in a snapshot closed before
    // the piece goes to the store (which may wait) and before any yield.
    let step = session.server.config.limits.append_chunk.max(CHUNK_SIZE) as u64;
    let mut position = range.start;
    let mut piece = Vec::new();
    while position < range.end {
        let until = (position + step).min(range.end);
        piece.clear();
        let read = pace.snapshot.read(blob, position, until, &mut piece);
        pace.snapshot.close();
        match read {
            Ok(true) => {}
            // Every message holding these bytes was expunged meanwhile.
            Ok(false) => return Ok(Err(Refusal::bad_url(raw, "Message expunged while it was being read"))),
            Err(error) => {
                let (code, text) = describe(&error, false);
                return Ok(Err(Refusal::no(code, text)));
            }
        }
        building.feed(&piece).await;
        position = until;
        pace.pause_checked(&mut session.conn).await?;
    }
    Ok(Ok(()))
}

/// What a URL names: bytes of a stored message, or (HEADER.FIELDS) bytes
/// selected from its header.
enum Found {
    Range { blob: u64, start: u64, end: u64 },
    Bytes(Vec<u8>),
}

/// Parses and resolves a URL in one snapshot (the caller closes it).
fn find_url(session: &Session, pace: &mut Pace, raw: &[u8]) -> Result<Found, Refusal> {
    let url = url::parse(raw).map_err(|text| Refusal::bad_url(raw, format!("Invalid URL: {text}")))?;
    let user = session.user().ok_or_else(|| Refusal::bad_url(raw, "Not logged in"))?;
    if let Some(server) = &url.server {
        if server.user.as_deref() != Some(user.name.as_str()) {
            return Err(Refusal::bad_url(raw, "URL names another user"));
        }
        if !names_this_server(session, server) {
            return Err(Refusal::bad_url(raw, "URL names another server"));
        }
    }
    let failed = |error: StoreError| {
        let (code, text) = describe(&error, false);
        Refusal::no(code, text)
    };
    let snapshot = &mut pace.snapshot;
    let reader = snapshot.reader().map_err(failed)?;
    let mailbox = match &url.mailbox {
        Some(name) => {
            let name = crate::imap::mailbox_name::decode_for(name.as_bytes(), true)
                .map_err(|_| Refusal::bad_url(raw, "No such mailbox"))?;
            // Spec §1.7: `r` on the URL's mailbox; a hidden one is a missing one.
            match mailbox_arg::access(session, &name, Rights::READ, Missing::NonExistent) {
                Ok(access) => Some(access.id),
                Err(refused) if refused.code == Code::NoPerm => return Err(Refusal::bad_url(raw, refused.text)),
                Err(_) => None,
            }
        }
        // RFC 4469 §3: relative to the selected mailbox.
        None => Some(session.view().ok_or_else(|| Refusal::bad_url(raw, "No mailbox selected"))?.mailbox),
    };
    let record = match mailbox {
        Some(id) => reader.mailbox(id).map_err(failed)?.map(|record| (id, record)),
        None => None,
    };
    let Some((mailbox, record)) = record.filter(|(_, record)| !record.noselect) else {
        return Err(Refusal::bad_url(raw, "No such mailbox"));
    };
    if url.uid_validity.is_some_and(|validity| validity != record.uid_validity) {
        return Err(Refusal::bad_url(raw, "UIDVALIDITY does not match"));
    }
    let message = snapshot.message_at(mailbox, url.uid).map_err(failed)?;
    let message = message.ok_or_else(|| Refusal::bad_url(raw, "No such message"))?;
    locate(snapshot, &url, &message).map_err(failed)?.ok_or_else(|| Refusal::bad_url(raw, "No such section"))
}

/// Where the URL's section (and partial range) lies in `message`, as
/// BODY.PEEK[section]<partial> reads it; None: the message has no such part.
fn locate(
    snapshot: &mut crate::store::Snapshot,
    url: &MessageUrl,
    message: &crate::store::MessageRecord,
) -> Result<Option<Found>, StoreError> {
    let size = message.size;
    let (blob_record, chunks) = snapshot.blob(message.blob)?;
    let header_size = blob_record.header_size.min(size);
    let (start, end) = match &url.section {
        None => (0, size),
        Some(section) if section.part.is_empty() => match &section.text {
            Some(SectionText::Text) => (header_size, size),
            _ => (0, header_size),
        },
        Some(section) => {
            let structure = crate::store::structure_of(message, blob_record, chunks)?;
            match fetch::part_range(&structure, section) {
                Some((start, end)) => (start.min(size), end.min(size)),
                None => return Ok(None),
            }
        }
    };
    let partial = |length: u64| -> (u64, u64) {
        match url.partial {
            None => (0, length),
            Some((offset, count)) => {
                let from = u64::from(offset).min(length);
                (from, count.map_or(length, |count| (from + u64::from(count)).min(length)))
            }
        }
    };
    if let Some(SectionText::HeaderFields { not, fields }) =
        url.section.as_ref().and_then(|section| section.text.as_ref())
    {
        let mut header = Vec::new();
        if !snapshot.read(message.blob, start, end, &mut header)? {
            return Ok(None);
        }
        let selected = fetch::select_fields(&header, *not, fields);
        let (from, to) = partial(selected.len() as u64);
        return Ok(Some(Found::Bytes(selected[from as usize..to as usize].to_vec())));
    }
    let (from, to) = partial(end - start);
    Ok(Some(Found::Range { blob: message.blob, start: start + from, end: start + to }))
}

/// Whether an absolute URL's host (and port) is this server.
fn names_this_server(session: &Session, server: &url::Server) -> bool {
    let config = &session.server.config;
    let local = local_address(&session.conn.stream);
    let host = server.host.as_str();
    let by_name = host == "localhost" || config.tls_hostnames.iter().any(|name| name.eq_ignore_ascii_case(host));
    let by_address = host.parse::<IpAddr>().is_ok_and(|address| {
        address.is_loopback()
            || config.tls_addresses.contains(&address)
            || local.is_some_and(|local| local.ip() == address)
    });
    let port = server.port.is_none_or(|port| {
        local.is_some_and(|local| local.port() == port)
            || config.imap_listen.iter().chain(&config.imaps_listen).any(|listen| listen.port() == port)
    });
    (by_name || by_address) && port
}

/// The address the client connected to.
fn local_address(stream: &Stream) -> Option<SocketAddr> {
    match stream {
        Stream::Plain(tcp) => tcp.get_ref().local_addr().ok(),
        Stream::Tls(tls) => tls.get_ref().0.get_ref().local_addr().ok(),
        _ => None,
    }
}
