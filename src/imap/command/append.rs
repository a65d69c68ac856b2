//! APPEND (RFC 3501 §6.3.11), with MULTIAPPEND (RFC 3502), LITERAL+
//! (RFC 7888), APPENDLIMIT (RFC 7889) and APPENDUID (RFC 4315); and
//! REPLACE / UID REPLACE (RFC 8508), an APPEND of one message that
//! expunges a message of the selected mailbox in the same transaction
//! (`Op::Replace`): a client saving a draft again never leaves both
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

use std::io;

use crate::imap::encode;
use crate::imap::parse::{self, AppendMessage, Parser, Replacing};
use crate::imap::session::{describe, Session, State, Status};
use crate::imap::types::Flag;
use crate::imap::types::SequenceNumber;
use crate::mime::binary::BinaryParts;
use crate::net::LineStatus;
use crate::store::incoming::Incoming;
use crate::store::{Flags, NewMessage, Op, Outcome, Store, StoreError};
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
    code: Option<&'static str>,
    text: String,
}

pub async fn run(
    session: &mut Session,
    tag: &str,
    raw_mailbox: &[u8],
    first: AppendMessage,
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
    if refusal.is_none() {
        refusal = check_target(session, raw_mailbox).err();
    }
    let mailbox = match &refusal {
        None => resolve(session, raw_mailbox),
        Some(_) => None,
    };
    let mut messages = Vec::new();
    let mut next = Some(first);
    while let Some(message) = next.take() {
        if refusal.is_none() {
            refusal = check_message(session, &message).err();
        }
        if let Some(refused) = &refusal {
            if !message.non_synchronizing {
                // The client waits for a continuation that will not come:
                // the command ends here.
                break;
            }
            // RFC 7888: the bytes are coming anyway; read and drop them.
            session.skip_literal(message.length).await?;
            if matches!(session.state, State::Logout) {
                return Ok(());
            }
            let _ = refused;
            next = read_next(session, message.utf8).await?.unwrap_or_default();
            continue;
        }
        if !message.non_synchronizing {
            session.conn.write(b"+ Ready for literal data\r\n");
            session.conn.flush().await?;
        }
        match receive(session, &store, &message).await? {
            Ok(received) => {
                pending.blobs.push(received.blob);
                messages.push(NewMessage {
                    flags: message.flags.iter().fold(Flags::default(), |flags, flag| match flag {
                        Flag::System(system) => flags.union(*system),
                        _ => flags,
                    }),
                    keywords: message
                        .flags
                        .iter()
                        .filter_map(|flag| match flag {
                            Flag::Keyword(keyword) => Some(keyword.clone()),
                            _ => None,
                        })
                        .collect(),
                    internal_date: message.date.unwrap_or_else(DateTime::now),
                    ..received
                });
            }
            Err(error) => {
                let (code, text) = describe(&error, false);
                refusal = Some(Refusal { status: Status::No, code: Some(code), text });
            }
        }
        next = match read_next(session, message.utf8).await? {
            // RFC 8508 §4.7: REPLACE takes one message, MULTIAPPEND or not.
            Ok(Some(next)) if replacing.is_some() => {
                if refusal.is_none() {
                    refusal =
                        Some(Refusal { status: Status::Bad, code: None, text: "REPLACE takes one message".into() });
                }
                Some(next)
            }
            Ok(next) => next,
            Err(text) => {
                if refusal.is_none() {
                    refusal = Some(Refusal { status: Status::Bad, code: None, text });
                }
                None
            }
        };
    }
    if let Some(refused) = refusal {
        session.tagged(tag, refused.status, refused.code, &refused.text);
        return Ok(());
    }
    let Some(mailbox) = mailbox else { return Ok(()) };
    if let Some((from, uid)) = replaced {
        let Some(message) = messages.pop() else { return Ok(()) };
        return replace(session, tag, &mut pending, mailbox, message, from, uid).await;
    }
    let count = messages.len();
    match store.execute(Op::Append { mailbox, messages }).await {
        Ok(Outcome::Appended { uid_validity, first_uid, last_uid }) => {
            pending.blobs.clear();
            let mut code = format!("APPENDUID {uid_validity} ").into_bytes();
            encode::number(&mut code, first_uid);
            if last_uid != first_uid {
                code.push(b':');
                encode::number(&mut code, last_uid);
            }
            let code = String::from_utf8_lossy(&code).into_owned();
            super::notify::own_messages(session, mailbox, first_uid..=last_uid);
            if let Some(user) = session.user() {
                log::debug!("{}: appended {count} message(s) for {}", session.peer, user.name);
            }
            session.finish(tag, Status::Ok, Some(&code), "APPEND completed").await
        }
        Ok(other) => session.unexpected(tag, "APPEND", other).await,
        Err(error) => session.store_failed(tag, error, true).await,
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
        return Err(Refusal { status: Status::No, code: Some("READ-ONLY"), text: "Mailbox is read-only".into() });
    }
    // RFC 9586 §3: under UIDONLY only UID REPLACE (command::uidonly).
    if view.uid_only && !replacing.uid {
        let text = "Message sequence numbers are not allowed once UIDONLY is enabled; use UID REPLACE";
        return Err(Refusal { status: Status::Bad, code: Some(super::uidonly::CODE), text: text.into() });
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
    match store.execute(Op::Replace { mailbox, message, from, uid }).await {
        Ok(Outcome::Appended { uid_validity, first_uid, .. }) => {
            pending.blobs.clear();
            let line = format!("* OK [APPENDUID {uid_validity} {first_uid}] Replacement message saved\r\n");
            session.conn.write(line.as_bytes());
            super::notify::own_messages(session, mailbox, first_uid..=first_uid);
            // The sync before the tagged answer reports the expunge (and
            // the new message, when it went to the selected mailbox).
            super::expunge::finish_removal(session, tag, &format!("{command} completed")).await
        }
        Ok(other) => session.unexpected(tag, command, other).await,
        Err(error) => session.store_failed(tag, error, true).await,
    }
}

/// APPEND is valid once authenticated, to a mailbox that exists.
fn check_target(session: &mut Session, raw_mailbox: &[u8]) -> Result<(), Refusal> {
    if session.user().is_none() {
        return Err(Refusal {
            status: Status::Bad,
            code: None,
            text: "APPEND not allowed now: Please log in first".into(),
        });
    }
    let name = match crate::imap::mailbox_name::decode_for(raw_mailbox, session.utf8_names()) {
        Ok(name) => name,
        // Not BAD: see command::mailbox::name_or_no.
        Err(text) => return Err(Refusal { status: Status::No, code: Some("NONEXISTENT"), text }),
    };
    match resolve_name(session, &name) {
        Some(_) => Ok(()),
        None => {
            let (code, text) = describe(&StoreError::NoSuchMailbox, true);
            Err(Refusal { status: Status::No, code: Some(code), text })
        }
    }
}

fn resolve(session: &mut Session, raw_mailbox: &[u8]) -> Option<u64> {
    let name = crate::imap::mailbox_name::decode_for(raw_mailbox, session.utf8_names()).ok()?;
    resolve_name(session, &name)
}

fn resolve_name(session: &Session, name: &str) -> Option<u64> {
    let user = session.user()?.id;
    let reader = session.server.store.read().ok()?;
    let id = reader.mailbox_id(user, name).ok()??;
    let record = reader.mailbox(id).ok()??;
    (!record.noselect).then_some(id)
}

/// RFC 7889: over APPENDLIMIT is TOOBIG, refused before the bytes are read.
fn check_message(session: &Session, message: &AppendMessage) -> Result<(), Refusal> {
    let limit = session.server.config.limits.literal_size;
    if message.length > limit {
        return Err(Refusal {
            status: Status::No,
            code: Some("TOOBIG"),
            text: format!("Message larger than the limit of {limit} bytes"),
        });
    }
    if message.length == 0 {
        return Err(Refusal { status: Status::No, code: None, text: "Cannot store an empty message".into() });
    }
    // RFC 6855 §4: the UTF8 data item is for clients that enabled UTF8=ACCEPT.
    if message.utf8 && !session.utf8_accept {
        return Err(Refusal { status: Status::Bad, code: None, text: "UTF8 needs ENABLE UTF8=ACCEPT first".into() });
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

/// After a message literal: the end of the command, or (MULTIAPPEND) the
/// next message's flags, date and literal. After `UTF8 (~{n}` (`utf8`)
/// the line begins with the closing `)`.
async fn read_next(session: &mut Session, utf8: bool) -> io::Result<Result<Option<AppendMessage>, String>> {
    let mut line = Vec::new();
    let max = session.server.config.limits.line_length;
    if let LineStatus::TooLong { .. } = session.conn.read_line(&mut line, max).await? {
        return Ok(Err("Command line too long".into()));
    }
    if utf8 {
        if line.first() != Some(&b')') {
            return Ok(Err("Error in IMAP command APPEND: expected ')' after the UTF8 literal".into()));
        }
        line.remove(0);
    }
    if line.is_empty() {
        return Ok(Ok(None));
    }
    let mut parser = Parser::new(&line);
    let parsed = parser.sp().and_then(|_| parse::append_message(&mut parser));
    match parsed {
        Ok(message) => Ok(Ok(Some(message))),
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
