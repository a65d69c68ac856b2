//! APPEND (RFC 3501 §6.3.11), with MULTIAPPEND (RFC 3502), LITERAL+
//! (RFC 7888), APPENDLIMIT (RFC 7889) and APPENDUID (RFC 4315).
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
use crate::imap::parse::{self, AppendMessage, Parser};
use crate::imap::session::{describe, Session, State, Status};
use crate::imap::types::Flag;
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

pub async fn run(session: &mut Session, tag: &str, raw_mailbox: &[u8], first: AppendMessage) -> io::Result<()> {
    let store = session.server.store.clone();
    let mut pending = Pending { store: &store, blobs: Vec::new() };
    let mut refusal = check_target(session, raw_mailbox).err();
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
