//! Quick resynchronisation (RFC 7162 §3.2): what SELECT (QRESYNC ...) and
//! UID FETCH ... (CHANGEDSINCE n VANISHED) tell a client about expunges
//! and flag changes since a modseq it knows.
//!
//! Expunged UIDs come from the store's bounded expunge history. A client
//! that asks from before the history's start gets a superset instead
//! (RFC 7162 §3.2.5.2 allows it, and never missing an expunge matters more
//! than a longer line): every UID it may know of that no longer exists,
//! narrowed by the sequence-number/UID pairs it sent.
//!
//! Both answers can be long (up to the whole mailbox). They read the
//! expunge history and the change index in batches, each from a snapshot
//! that is closed before any flush or yield ([`Pace`]), going on from the
//! key after the last; the messages are looked up by UID in whichever
//! snapshot is current. Yields come from a time slice, not a count.
//!
//! A message changed again while `changed_since` runs moves in the change
//! index to a modseq above the mailbox's HIGHESTMODSEQ the client was
//! given, possibly into the part not read yet: it is then reported twice
//! (newest flags both times), which RFC 7162 allows, or only by the next
//! sync, which reports every change above the view's modseq.
//!
//! It lives beside the session's sync (`session::sync`, which writes its
//! VANISHED lines with [`VanishedLine`]), below the commands that ask for
//! it (SELECT and UID FETCH): it may use the view, [`Pace`] and the
//! store's reads, never a command.

use std::io;

use crate::imap::encode;
use crate::imap::pace::Pace;
use crate::imap::session::Selected;
use crate::imap::types::{Qresync, SequenceNumber, SequenceSet};
use crate::imap::view::View;
use crate::store::StoreError;

/// Rows of an index read from one snapshot before the next pause.
const BATCH: usize = 256;

/// After SELECT's own responses: VANISHED (EARLIER) for the known UIDs
/// expunged since the client's modseq, then FETCH (UID FLAGS MODSEQ) for
/// every message (among the known ones, if given) changed since then.
pub async fn select(session: &mut Selected<'_>, resync: &Qresync) -> io::Result<Result<(), StoreError>> {
    let known = {
        let view = session.view();
        resync.known_uids.as_ref().map(|set| uid_ranges(set, top_uid(view)))
    };
    if let Err(error) =
        vanished_earlier(session, resync.modseq, known.as_deref(), resync.sequence_match.as_ref()).await?
    {
        return Ok(Err(error));
    }
    changed_since(session, resync.modseq, known.as_deref()).await
}

/// The highest UID a client may know of: the last one handed out.
fn top_uid(view: &View) -> u32 {
    view.uid_next.saturating_sub(1).max(view.uids.last().copied().unwrap_or(0))
}

/// A UID set as sorted, merged inclusive ranges, `*` standing for the
/// last UID handed out (for VANISHED, UIDs that no longer exist count).
pub fn uid_ranges(set: &SequenceSet, top: u32) -> Vec<(u32, u32)> {
    let value = |number: SequenceNumber| match number {
        SequenceNumber::Value(value) => value,
        SequenceNumber::Star | SequenceNumber::Saved => top,
    };
    let mut ranges: Vec<(u32, u32)> = set
        .0
        .iter()
        .filter(|(first, _)| *first != SequenceNumber::Saved)
        .map(|&(first, second)| {
            let (first, second) = (value(first), value(second));
            (first.min(second), first.max(second))
        })
        .collect();
    ranges.sort_unstable();
    let mut merged: Vec<(u32, u32)> = Vec::with_capacity(ranges.len());
    for (low, high) in ranges {
        match merged.last_mut() {
            Some(last) if low <= last.1.saturating_add(1) => last.1 = last.1.max(high),
            _ => merged.push((low, high)),
        }
    }
    merged
}

fn contains(ranges: &[(u32, u32)], uid: u32) -> bool {
    let index = ranges.partition_point(|&(_, high)| high < uid);
    ranges.get(index).is_some_and(|&(low, _)| low <= uid)
}

/// Writes `* VANISHED [(EARLIER) ]set` as UIDs come in ascending order,
/// joining consecutive ones; nothing at all if none come.
pub struct VanishedLine {
    pending: Option<(u32, u32)>,
    started: bool,
    earlier: bool,
}

impl VanishedLine {
    pub fn new(earlier: bool) -> VanishedLine {
        VanishedLine { pending: None, started: false, earlier }
    }

    pub fn add(&mut self, out: &mut Vec<u8>, low: u32, high: u32) {
        match &mut self.pending {
            Some(pending) if pending.1.checked_add(1) == Some(low) => pending.1 = high,
            _ => {
                self.write_pending(out);
                self.pending = Some((low, high));
            }
        }
    }

    fn write_pending(&mut self, out: &mut Vec<u8>) {
        let Some((low, high)) = self.pending.take() else { return };
        out.extend_from_slice(match (self.started, self.earlier) {
            (true, _) => b",",
            (false, true) => b"* VANISHED (EARLIER) ",
            (false, false) => b"* VANISHED ",
        });
        self.started = true;
        encode::number(out, low);
        if high != low {
            out.push(b':');
            encode::number(out, high);
        }
    }

    pub fn finish(mut self, out: &mut Vec<u8>) {
        self.write_pending(out);
        if self.started {
            out.extend_from_slice(b"\r\n");
        }
    }
}

/// `* VANISHED (EARLIER)` for the UIDs in `within` (every UID if None)
/// expunged after `modseq` that this session's view no longer holds (the
/// ones it still holds are reported by the next sync, as VANISHED).
pub async fn vanished_earlier(
    session: &mut Selected<'_>,
    modseq: u64,
    within: Option<&[(u32, u32)]>,
    sequence_match: Option<&(SequenceSet, SequenceSet)>,
) -> io::Result<Result<(), StoreError>> {
    let store = session.server.store.clone();
    let mut pace = Pace::new(&store);
    let (view, conn) = session.view_and_conn();
    let record = match pace.snapshot.reader().and_then(|reader| reader.mailbox(view.mailbox)) {
        Ok(Some(record)) => record,
        Ok(None) => return Ok(Err(StoreError::NoSuchMailbox)),
        Err(error) => return Ok(Err(error)),
    };
    let top = top_uid(view);
    let everything = [(1, top)];
    let within = within.unwrap_or(&everything);
    let mut line = VanishedLine::new(true);
    let mut uids = Vec::new();
    let mut from_history = modseq >= record.expunge_floor;
    if from_history {
        // The history covers everything after `modseq`. It is in modseq
        // order; the line wants UIDs in order, so they are gathered (at
        // most the history's bound of them), a batch per snapshot.
        let mut from = Some((modseq.saturating_add(1), 0));
        let mut batch = Vec::with_capacity(BATCH);
        while let Some(start) = from {
            from = match pace.snapshot.index_batch(view.mailbox, true, start, BATCH, &mut batch) {
                Ok(next) => next,
                Err(error) => return Ok(Err(error)),
            };
            uids.extend(
                batch.iter().map(|&(_, uid)| uid).filter(|&uid| contains(within, uid) && view.index_of(uid).is_none()),
            );
            pace.pause(conn).await?;
        }
        // Read in steps, the history may have been cut meanwhile (a mass
        // expunge elsewhere): then it no longer covers `modseq`, and the
        // superset below is the answer. The floor only rises, so a floor
        // still at or below `modseq` now means nothing was missed.
        match pace.snapshot.reader().and_then(|reader| reader.mailbox(view.mailbox)) {
            Ok(Some(record)) => from_history = modseq >= record.expunge_floor,
            Ok(None) => return Ok(Err(StoreError::NoSuchMailbox)),
            Err(error) => return Ok(Err(error)),
        }
    }
    if from_history {
        uids.sort_unstable();
        uids.dedup();
        for (position, uid) in uids.into_iter().enumerate() {
            line.add(conn.out(), uid, uid);
            if position % BATCH == BATCH - 1 {
                pace.pause(conn).await?;
            }
        }
    } else {
        // Older than the history: every UID the client may know that is
        // not in the mailbox, above the UIDs its sequence numbers prove
        // unchanged (RFC 7162 §3.2.5.2).
        let proven = sequence_match.map_or(0, |(sequences, uids)| proven_unchanged(view, sequences, uids));
        let mut examined = 0usize;
        for &(low, high) in within {
            let (low, high) = (low.max(proven.saturating_add(1)).max(1), high.min(top));
            if low > high {
                continue;
            }
            // The gaps between the UIDs the mailbox holds in low..=high.
            let mut next = u64::from(low);
            let start = view.uids.partition_point(|&uid| uid < low);
            for &uid in view.uids[start..].iter().take_while(|&&uid| uid <= high) {
                if u64::from(uid) > next {
                    line.add(conn.out(), next as u32, uid - 1);
                }
                next = u64::from(uid) + 1;
                examined += 1;
                if examined % BATCH == 0 {
                    pace.pause(conn).await?;
                }
            }
            if next <= u64::from(high) {
                line.add(conn.out(), next as u32, high);
            }
            pace.pause(conn).await?;
        }
    }
    line.finish(conn.out());
    Ok(Ok(()))
}

/// The highest UID up to which the client's sequence numbers still match
/// the mailbox (pairs taken in order, up to the first that does not):
/// no message at or below it can have been expunged, since the client
/// knew as many of them as there are now and UIDs only grow.
fn proven_unchanged(view: &View, sequences: &SequenceSet, uids: &SequenceSet) -> u32 {
    let mut proven = 0;
    let sequence_numbers = sequences.0.iter().flat_map(|range| numbers(*range));
    let uid_numbers = uids.0.iter().flat_map(|range| numbers(*range));
    for (sequence, uid) in sequence_numbers.zip(uid_numbers) {
        match view.uids.get((sequence as usize).wrapping_sub(1)) {
            Some(&found) if found == uid && uid > proven => proven = uid,
            _ => break,
        }
    }
    proven
}

/// The numbers of one range of a set (ascending, whichever end came first).
fn numbers((first, second): (SequenceNumber, SequenceNumber)) -> std::ops::RangeInclusive<u32> {
    let value = |number: SequenceNumber| match number {
        SequenceNumber::Value(value) => value,
        // The parser refuses `*` and `$` here.
        SequenceNumber::Star | SequenceNumber::Saved => 0,
    };
    let (first, second) = (value(first), value(second));
    first.min(second)..=first.max(second)
}

/// `* n FETCH (UID u FLAGS (...) MODSEQ (m))` for every message of the
/// view (in `within`, if given) changed after `modseq`, in modseq order.
pub async fn changed_since(
    session: &mut Selected<'_>,
    modseq: u64,
    within: Option<&[(u32, u32)]>,
) -> io::Result<Result<(), StoreError>> {
    let store = session.server.store.clone();
    let mut pace = Pace::new(&store);
    let (view, conn) = session.view_and_conn();
    let reader = view.private_user();
    let mut batch = Vec::with_capacity(BATCH);
    // The shared change index, then a reader's own (store::acl): other
    // users' private \Seen changes are not theirs to resynchronise.
    let mut walk = crate::imap::view::ChangeWalk::new(view, modseq, u64::MAX);
    loop {
        match walk.next_batch(&mut pace.snapshot, BATCH, &mut batch) {
            Ok(true) => {}
            Ok(false) => break,
            Err(error) => return Ok(Err(error)),
        }
        let private = walk.in_private();
        for &(change_modseq, uid) in &batch {
            if within.is_some_and(|within| !contains(within, uid)) {
                continue;
            }
            let Some(index) = view.index_of(uid) else { continue };
            if private {
                // One modseq with a shared change: reported from that row.
                match pace.snapshot.message_at(view.mailbox, uid) {
                    Ok(Some(record)) if record.modseq != change_modseq => {}
                    Ok(_) => continue,
                    Err(error) => return Ok(Err(error)),
                }
            }
            let message = match pace.snapshot.message_at_as(view.mailbox, uid, reader) {
                Ok(Some(message)) => message,
                Ok(None) => continue,
                Err(error) => return Ok(Err(error)),
            };
            // Changed again since this row: reported from the newer row
            // (later in this walk, or by the next sync).
            if (reader.is_some() && message.modseq != change_modseq) || !view.knows_keywords(&message) {
                continue;
            }
            view.write_flags(conn.out(), index, uid, &message, true, true);
            pace.pause(conn).await?;
        }
    }
    Ok(Ok(()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uid_sets_become_sorted_ranges() {
        let set = SequenceSet(vec![
            (SequenceNumber::Value(9), SequenceNumber::Value(7)),
            (SequenceNumber::Value(1), SequenceNumber::Value(2)),
            (SequenceNumber::Value(3), SequenceNumber::Value(3)),
            (SequenceNumber::Value(20), SequenceNumber::Star),
        ]);
        assert_eq!(uid_ranges(&set, 15), vec![(1, 3), (7, 9), (15, 20)]);
        assert!(contains(&[(1, 3), (7, 9)], 8));
        assert!(!contains(&[(1, 3), (7, 9)], 5));
        assert!(!contains(&[], 1));
    }

    #[test]
    fn vanished_lines_join_consecutive_uids() {
        let mut out = Vec::new();
        let mut line = VanishedLine::new(true);
        for uid in [2, 3, 4, 7, 9, 10] {
            line.add(&mut out, uid, uid);
        }
        line.add(&mut out, 11, 15);
        line.finish(&mut out);
        assert_eq!(out, b"* VANISHED (EARLIER) 2:4,7,9:15\r\n");
        let mut out = Vec::new();
        VanishedLine::new(true).finish(&mut out);
        assert!(out.is_empty());
        let mut out = Vec::new();
        let mut line = VanishedLine::new(false);
        line.add(&mut out, 5, 5);
        line.finish(&mut out);
        assert_eq!(out, b"* VANISHED 5\r\n");
    }
}
