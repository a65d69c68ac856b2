//! FETCH and UID FETCH (RFC 3501 §6.4.5, §7.4.2): the command. It checks
//! the arguments (VANISHED, PARTIAL, the implied UID and MODSEQ items),
//! resolves the set, stores an implicit \Seen durably before any data goes
//! out, has the engine (`imap::fetch`) write the responses, and sends the
//! tagged reply: OK, or `NO [EXPUNGEISSUED]` when another session expunged
//! some of the messages (RFC 2180 §4.1.2), or the code of a BINARY part
//! that cannot be decoded (RFC 3516 §4.3).
//!
//! How the responses are written (streaming, snapshots closed across
//! pauses, BINARY, PREVIEW) is the engine's, documented in `imap::fetch`.
//! This file may use the session, the engine, the store's operations, and
//! what lies below the commands: `imap::session::qresync` for VANISHED
//! (EARLIER), `imap::session::condstore`, and `imap::search::live` for the
//! PARTIAL window.

use std::io;

use crate::imap::code::Code;
use crate::imap::fetch::{respond, Ended};
use crate::imap::session::{Selected, Session, Status};
use crate::imap::types::{FetchArguments, FetchItem};
use crate::mail::{FlagAction, Flags};
use crate::store::{FlagChange, StoreError, Stored};

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
        crate::imap::session::condstore::condstore(&mut session);
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
        Some(partial) => crate::imap::search::live::window_indexes(&ranges, partial),
        None => ranges,
    };
    if let (true, Some(changed_since)) = (modifiers.vanished, modifiers.changed_since) {
        let view = session.view();
        let top = view.uid_next.saturating_sub(1).max(view.uids.last().copied().unwrap_or(0));
        let within = crate::imap::session::qresync::uid_ranges(&set, top);
        if let Err(error) =
            crate::imap::session::qresync::vanished_earlier(&mut session, changed_since, Some(&within), None).await?
        {
            return session.store_failed(tag, error, false).await;
        }
    }
    let view = session.view_mut();
    // RFC 3501 §6.4.5: fetching a body section without .PEEK sets \Seen,
    // durably, before the data goes out. A reader's is their own, and only
    // with the `s` right (RFC 4314 §4: without it, no \Seen and no error).
    let mut seen_modseq = None;
    if view.sets_seen() && items.iter().any(FetchItem::sets_seen) && !ranges.is_empty() {
        let change =
            FlagChange { action: FlagAction::Add, flags: Flags::SEEN, keywords: Vec::new(), unchanged_since: None };
        let stored = match view.private_user() {
            // Boxed: the session's future would outgrow clippy's bound.
            Some(user) => Box::pin(store.set_private_seen(view.mailbox, user, view.uid_set(&ranges), true)).await,
            None => store.set_flags(view.mailbox, view.uid_set(&ranges), change).await,
        };
        match stored {
            Ok(Stored { modseq, changed, .. }) if changed > 0 => {
                view.own_modseqs.push(modseq);
                seen_modseq = Some(modseq);
            }
            // Every message had \Seen already.
            Ok(Stored { .. }) => {}
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
/// (`imap::fetch`'s `Answer::read_literal`), so both cases now end alike. The log says
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
