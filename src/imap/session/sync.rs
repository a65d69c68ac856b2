//! Telling a session what changed in its selected mailbox (RFC 3501
//! §7.4.1, §5.2): EXPUNGE or VANISHED, EXISTS, RECENT, FLAGS and FETCH
//! (FLAGS), then live searches' updates, as far as the current command
//! allows. Dovecot keeps this in `imap-sync.c`; here it is an `impl
//! Session` of its own, split from the connection loop (issue 14).
//!
//! Per user (issue 15, `store::acl`): a reader who keeps their own \Seen
//! in a mailbox they do not own is told of the shared changes and of
//! their own private ones (their phone's \Seen reaches their laptop),
//! never of another user's; flags and MODSEQs are theirs
//! (`Snapshot::message_as`), and so is the HIGHESTMODSEQ they are given
//! ([`crate::imap::view::View::highest_modseq`]), which other users'
//! private changes never move.

use std::io;
use std::rc::Rc;

use super::{encode, Session, State, SyncMode};
use crate::imap::pace::Pace;
use crate::imap::view::{ChangeWalk, View};
use crate::net::Connection;
use crate::store::Op;

impl Session {
    /// Brings the view's keyword list up to the mailbox's and, when it
    /// grew, tells the client with FLAGS (and PERMANENTFLAGS) now, before
    /// any FETCH that shows a new keyword; see `fetch::Answer::know_keywords`.
    pub fn announce_keywords(&mut self) {
        let State::Selected(_, view) = &mut self.state else { return };
        let keywords = match self.server.store.hub().borrow().get(view.mailbox) {
            Some(state) if !Rc::ptr_eq(&state.keywords, &view.keywords) => state.keywords.clone(),
            _ => return,
        };
        view.keywords = keywords;
        let line = super::rights::view_flags_lines(&view.keywords, view);
        self.conn.write(line.as_bytes());
    }

    /// Tells the client what changed in the selected mailbox since it was
    /// last told: EXPUNGE, EXISTS, RECENT, FLAGS and FETCH (FLAGS), as far
    /// as the current command allows (RFC 3501 §7.4.1, §5.2).
    pub async fn sync(&mut self) -> io::Result<()> {
        self.sync_selected(true).await
    }

    /// [`Session::sync`], reporting flag changes only with `flags` (NOTIFY
    /// without FlagChange; they are then reported by the next command).
    ///
    /// Long reports (many expunges, many flag changes) pace themselves like
    /// FETCH ([`crate::imap::pace::Pace`]): the change index is read in
    /// batches, each from a snapshot closed before any flush or yield, and
    /// the next batch goes on from the key after the last. A message
    /// changed again meanwhile leaves the part of the index not read yet
    /// for a modseq above the one this sync reports up to, and is reported
    /// by the next sync: nothing is lost.
    pub async fn sync_selected(&mut self, flags: bool) -> io::Result<()> {
        let store = self.server.store.clone();
        let mut pace = crate::imap::pace::Pace::new(&store);
        let State::Selected(_, view) = &mut self.state else { return Ok(()) };
        let (deleted, uids, modseq, shared_modseq, keywords) = {
            let hub = store.hub().borrow();
            let Some(state) = hub.get(view.mailbox) else { return Ok(()) };
            (state.deleted, state.uids.clone(), state.modseq, state.shared_modseq, state.keywords.clone())
        };
        if deleted {
            // Dovecot does the same: the mailbox is gone, so is the session's view of it.
            self.conn.write(b"* BYE Selected mailbox was deleted, have to disconnect\r\n");
            self.state = State::Logout;
            return Ok(());
        }
        if modseq == view.flags_modseq && Rc::ptr_eq(&uids, &view.uids) {
            return Ok(());
        }
        let full = self.sync_mode == SyncMode::Full;
        let imap4rev2 = self.imap4rev2;
        let old_top = view.uids.last().copied().unwrap_or(0);
        let mut grew = false;
        let mut expunged = false;
        if !full && !Rc::ptr_eq(&uids, &view.uids) && uids.last().is_some_and(|&top| top > old_top) {
            // EXISTS may come while answering FETCH, STORE or SEARCH, EXPUNGE
            // may not: the view keeps what was expunged meanwhile (reported at
            // the next full sync) and gains the new messages now.
            let start = uids.partition_point(|&uid| uid <= old_top);
            let mut list = Vec::with_capacity(view.uids.len() + uids.len() - start);
            list.extend_from_slice(&view.uids);
            list.extend_from_slice(&uids[start..]);
            view.uids = Rc::new(list);
            grew = true;
        }
        if full && !Rc::ptr_eq(&uids, &view.uids) {
            // RFC 5267 §4.3.4: live searches lose expunged matches first.
            crate::imap::search::live::before_expunges(&mut self.conn, view, &uids).await?;
            // Both lists ascend: one merge pass finds what went and what came.
            let mut removed = 0usize;
            let mut new = uids.iter().peekable();
            // RFC 7162 §3.2.10: once QRESYNC is enabled, VANISHED replaces
            // EXPUNGE; RFC 9586 §3.4: once UIDONLY is, too.
            let mut vanished = (self.qresync || view.uid_only).then(|| super::qresync::VanishedLine::new(false));
            for (index, uid) in view.uids.iter().enumerate() {
                if index % 32 == 31 {
                    // Cheap steps: a pause (no snapshot here) per 32 UIDs.
                    pace.pause(&mut self.conn).await?;
                }
                while new.next_if(|&&next| next < *uid).is_some() {}
                if new.next_if_eq(&uid).is_none() {
                    let out = self.conn.out();
                    if let Some(line) = &mut vanished {
                        line.add(out, *uid, *uid);
                    } else {
                        out.extend_from_slice(b"* ");
                        encode::number(out, (index - removed + 1) as u64);
                        out.extend_from_slice(b" EXPUNGE\r\n");
                    }
                    removed += 1;
                }
            }
            if let Some(line) = vanished {
                line.finish(self.conn.out());
            }
            expunged = removed > 0;
            grew = uids.len() + removed != view.uids.len();
            view.uids = uids;
            view.modseq = modseq;
            view.uids_highest = view.uids_highest.max(shared_modseq);
        }
        if grew {
            let (uid_next, first_recent) = {
                let mut hub = store.hub().borrow_mut();
                let uid_next = hub.get(view.mailbox).map_or(view.uid_next, |state| state.uid_next);
                // RFC 9051 has no \Recent: IMAP4rev2 sessions leave it to others.
                let claimed = if view.read_only || imap4rev2 { None } else { hub.claim_recent(view.mailbox) };
                (uid_next, claimed)
            };
            if let Some((range, first_recent_uid)) = first_recent {
                view.add_recent(range);
                store.submit(Op::SetFirstRecent { mailbox: view.mailbox, uid: first_recent_uid });
            }
            view.uid_next = uid_next;
            let out = self.conn.out();
            out.extend_from_slice(b"* ");
            encode::number(out, view.uids.len() as u64);
            out.extend_from_slice(b" EXISTS\r\n");
            if !imap4rev2 {
                out.extend_from_slice(b"* ");
                encode::number(out, u64::from(view.recent_count()));
                out.extend_from_slice(b" RECENT\r\n");
            }
        }
        if !Rc::ptr_eq(&keywords, &view.keywords) {
            view.keywords = keywords;
            let line = super::rights::view_flags_lines(&view.keywords, view);
            self.conn.write(line.as_bytes());
        }
        if !flags {
            // RFC 5267 §4.3.3: live searches, after EXISTS.
            return crate::imap::search::live::report(&store, &mut self.conn, view).await;
        }
        // Flag changes of messages the client already knows about (boxed:
        // the walk's state would make every command's future outgrow
        // clippy's bound, and it runs only when something changed).
        let walked =
            report_flag_changes(&mut self.conn, &mut pace, view, old_top, modseq, self.uid_command, self.condstore);
        let Some(own_highest) = Box::pin(walked).await? else { return Ok(()) };
        view.flags_modseq = modseq;
        view.highest = view.highest.max(shared_modseq).max(own_highest);
        if view.modseq == modseq {
            view.uids_highest = view.uids_highest.max(view.highest);
        }
        view.own_modseqs.clear();
        // RFC 7162 §3.2.10 and RFC 5162 erratum 1810: expunges carry no
        // modseq, so after VANISHED the client is told how far it is now
        // in step; a client that disconnects then resyncs from there and
        // loses nothing (Dovecot sends the same). Only here, once every
        // flag change up to `modseq` has gone out.
        if expunged && self.qresync {
            let out = self.conn.out();
            out.extend_from_slice(b"* OK [HIGHESTMODSEQ ");
            encode::number(out, view.highest_modseq());
            out.extend_from_slice(b"] Highest\r\n");
        }
        // RFC 5267 §4.3: live searches, after EXISTS and the flag changes.
        crate::imap::search::live::report(&store, &mut self.conn, view).await
    }
}

/// Writes FETCH (FLAGS) for the flag changes of `view`'s mailbox after its
/// `flags_modseq` and up to `modseq`, of messages up to `old_top` the
/// client knows about, in batches of the change index (see
/// [`Session::sync_selected`]); for a reader who keeps their own \Seen,
/// then their own changes too (their other sessions' \Seen; nobody
/// else's: store::acl). Answers the highest modseq of those own changes
/// (0: none), or None when the store failed (logged; nothing is lost, the
/// next sync starts from the same point).
async fn report_flag_changes(
    conn: &mut Connection,
    pace: &mut Pace,
    view: &View,
    old_top: u32,
    modseq: u64,
    with_uid: bool,
    with_modseq: bool,
) -> io::Result<Option<u64>> {
    // Flag changes are read from the change index this many at a time.
    const BATCH: usize = 256;
    let reader = view.private_user();
    let mut walk = ChangeWalk::new(view, view.flags_modseq, modseq);
    let mut own_highest = 0;
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        match walk.next_batch(&mut pace.snapshot, BATCH, &mut batch) {
            Ok(true) => {}
            Ok(false) => return Ok(Some(own_highest)),
            Err(error) => {
                log::error!("sync of mailbox {}: {error}", view.mailbox);
                return Ok(None);
            }
        }
        let private = walk.in_private();
        for &(change_modseq, uid) in &batch {
            if private {
                own_highest = own_highest.max(change_modseq);
            }
            if uid > old_top || view.own_modseqs.contains(&change_modseq) {
                continue;
            }
            let Some(index) = view.index_of(uid) else { continue };
            if private {
                // A STORE that changed shared flags too gave both one
                // modseq: the shared row reported the message already.
                match pace.snapshot.message_at(view.mailbox, uid) {
                    Ok(Some(record)) if record.modseq != change_modseq => {}
                    _ => continue,
                }
            }
            let Ok(Some(message)) = pace.snapshot.message_at_as(view.mailbox, uid, reader) else { continue };
            // Changed again since (shared or privately): reported from the
            // row of its newest change, in this walk or (above `modseq`)
            // by the next sync.
            if message.modseq != change_modseq || !view.knows_keywords(&message) {
                continue;
            }
            view.write_flags(conn.out(), index, uid, &message, with_uid, with_modseq);
            pace.pause(conn).await?;
        }
    }
}
