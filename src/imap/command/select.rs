//! SELECT and EXAMINE (RFC 3501 §6.3.1, §6.3.2).
//!
//! SELECT's own responses are a few lines, written after its reads are
//! done (no snapshot is open when they go out). The long part, QRESYNC's
//! VANISHED (EARLIER) and flag changes, is `qresync::select`, which reads
//! in batches from snapshots closed before each flush and yields on a time
//! slice. The UID list of a mailbox the hub does not hold (4 bytes a
//! message) is read in batches with yields between them (`Store::preload`)
//! before `View::open` takes it.

use std::io;

use crate::imap::code::{describe, Code};
use crate::imap::session::condstore;
use crate::imap::session::mailbox_arg::{self, name_or_no, Missing, Role};
use crate::imap::session::qresync;
use crate::imap::session::rights;
use crate::imap::session::{Session, Status};
use crate::imap::types::SelectArguments;
use crate::imap::view::View;
use crate::mail::rights::Rights;
use crate::mail::Flags;
use crate::store::{indexed_condition, Op};

pub async fn run(session: &mut Session, tag: &str, user_id: u32, arguments: SelectArguments) -> io::Result<()> {
    let SelectArguments { mailbox: raw, read_only, parameters } = arguments;
    let Ok(name) = name_or_no(session, tag, &raw, Role::Existing) else { return Ok(()) };
    if parameters.qresync.is_some() && !session.qresync {
        // RFC 7162 §3.2.5: only after ENABLE QRESYNC.
        session.tagged(tag, Status::Bad, None, "QRESYNC must be enabled first");
        return Ok(());
    }
    // RFC 3501 §6.3.1: a SELECT, even a failing one, first leaves the
    // selected mailbox (without expunging).
    if session.view().is_some() {
        // RFC 7162 §3.2.11: what follows is about the new mailbox.
        session.conn.write(b"* OK [CLOSED] Previous mailbox closed\r\n");
    }
    session.deselect();
    if parameters.condstore {
        condstore::condstore(session);
    }
    let store = session.server.store.clone();
    let imap4rev2 = session.imap4rev2;
    // RFC 9051 has no \Recent: an IMAP4rev2 session neither shows nor
    // takes it (opening as EXAMINE does not claim), so IMAP4rev1 sessions
    // on the same mailbox still see their new mail as \Recent.
    // Rights changed from here on are caught by the next recheck.
    let generation = store.hub().borrow().acl_generation();
    // Personal, Shared/<owner>/... or Family/... (imap::namespace); a
    // mailbox the user may not see is missing (RFC 4314 §6), and SELECT
    // and EXAMINE need `r` (§4).
    let Ok(access) = mailbox_arg::access_or_no(session, tag, &name, Rights::SELECT, Missing::NonExistent) else {
        return Ok(());
    };
    // RFC 4314 §5.2: without a right that changes something, READ-ONLY
    // (session::rights), and then exactly like EXAMINE.
    let read_only_view = read_only || !rights::read_write(access.rights);
    // A mailbox no session holds has its UID list read in steps first.
    let preloaded = store.preload(access.id).await;
    let opened =
        preloaded.and_then(|preloaded| View::open(&store, access, user_id, read_only_view || imap4rev2, preloaded));
    let (mut view, first_recent) = match opened {
        Ok(opened) => opened,
        Err(error) => {
            let (code, text) = describe(&error, false);
            session.tagged(tag, Status::No, Some(code), &text);
            return Ok(());
        }
    };
    if imap4rev2 {
        view.read_only = read_only_view;
        view.recent.clear();
    }
    if let Some(uid) = first_recent {
        store.submit(Op::SetFirstRecent { mailbox: view.mailbox, uid });
    }
    // RFC 9051 §6.3.2 drops the UNSEEN response code (clients search);
    // under UIDONLY it would be a sequence number (RFC 9586 §3).
    view.uid_only = session.uid_only;
    let first_unseen = if imap4rev2 || view.uid_only { None } else { first_unseen(&store, &view) };
    // RFC 3501 §6.3.2: nothing can be changed in an EXAMINEd mailbox;
    // RFC 4314 §5.1.1: otherwise what the rights allow.
    let mut lines = rights::flags_lines(&view.keywords, rights::settable(read_only_view, view.access.rights));
    lines.push_str(&format!("* {} EXISTS\r\n", view.exists()));
    if !imap4rev2 {
        lines.push_str(&format!("* {} RECENT\r\n", view.recent_count()));
    }
    if let Some(sequence) = first_unseen {
        lines.push_str(&format!("* OK [UNSEEN {sequence}] First unseen\r\n"));
    }
    lines.push_str(&format!(
        "* OK [UIDVALIDITY {}] UIDs valid\r\n* OK [UIDNEXT {}] Predicted next UID\r\n",
        view.uid_validity, view.uid_next
    ));
    // RFC 7162 §3.1.2.1: every message has a modseq, so every SELECT says
    // the highest (no NOMODSEQ ever).
    lines.push_str(&format!("* OK [HIGHESTMODSEQ {}] Highest\r\n", view.highest_modseq()));
    // RFC 8474 §4.2: SELECT and EXAMINE name the mailbox's id.
    lines.push_str(&format!("* OK [MAILBOXID ({})] Ok\r\n", crate::imap::object_id::mailbox_id(view.mailbox)));
    session.conn.write(lines.as_bytes());
    if imap4rev2 {
        // RFC 9051 §6.3.2: a LIST response for the mailbox, with accurate attributes.
        if let Ok(line) = crate::imap::list_line::mailbox_line(session, user_id, &name) {
            session.conn.write(&line);
        }
    }
    log::debug!("{}: selected {name}", session.peer);
    let uid_validity = view.uid_validity;
    session.examined = read_only;
    session.rights_generation = generation;
    let Some(mut session) = session.enter(view) else {
        // Dispatch runs SELECT logged in, and the deselect above kept the user.
        session.tagged(tag, Status::No, None, "Not logged in");
        return Ok(());
    };
    // RFC 7162 §3.2.5.1: with another UIDVALIDITY the client's cache is
    // void and the SELECT is an ordinary one.
    if let Some(resync) = parameters.qresync.filter(|resync| resync.uid_validity == uid_validity) {
        if let Err(error) = qresync::select(&mut session, &resync).await? {
            let session = session.deselect();
            let (code, text) = describe(&error, false);
            session.tagged(tag, Status::No, Some(code), &text);
            return Ok(());
        }
    }
    let code = if read_only_view { Code::ReadOnly } else { Code::ReadWrite };
    let done = if read_only { "EXAMINE completed" } else { "SELECT completed" };
    session.tagged(tag, Status::Ok, Some(code), done);
    Ok(())
}

/// Sequence number of the first message without \Seen, if any.
fn first_unseen(store: &crate::store::Store, view: &View) -> Option<usize> {
    if view.private_seen() {
        // A reader's \Seen is their own (the flag index has the owner's).
        return view.first_private_unseen(store);
    }
    let reader = store.read().ok()?;
    let unseen = indexed_condition(Flags::SEEN, false)?;
    let (first, last) = (*view.uids.first()?, *view.uids.last()?);
    for uid in reader.flag_index(view.mailbox, unseen, first, last).ok()? {
        if let Some(index) = view.index_of(uid.ok()?) {
            return Some(index + 1);
        }
    }
    None
}
