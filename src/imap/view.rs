//! A session's view of its selected mailbox: the UIDs its client knows, in
//! sequence-number order, and how far it has been told of changes.
//!
//! The UID list is shared with the hub (and every up-to-date session) until
//! the mailbox changes; see `store::hub`.

use std::ops::Range;
use std::rc::Rc;

use super::encode;
use super::namespace::Access;
use super::types::{SequenceNumber, SequenceSet};
use crate::mail::rights::Rights;
use crate::store::{MessageRecord, Snapshot, Store, StoreError, UidSet};

/// Stops watching the mailbox when the view goes, however the session ends.
struct Watch {
    store: Rc<Store>,
    mailbox: u64,
}

impl Drop for Watch {
    fn drop(&mut self) {
        if let Ok(mut hub) = self.store.hub().try_borrow_mut() {
            hub.unwatch(self.mailbox);
        }
    }
}

pub struct View {
    _watch: Watch,
    pub mailbox: u64,
    pub read_only: bool,
    pub uid_validity: u32,
    pub uids: Rc<Vec<u32>>,
    pub uid_next: u32,
    /// The UID list reflects the mailbox as of this modseq.
    pub modseq: u64,
    /// Flag changes have been reported up to this modseq.
    pub flags_modseq: u64,
    pub keywords: Rc<Vec<String>>,
    /// UID ranges that are \Recent in this session: sorted, disjoint and
    /// not adjacent (see [`View::add_recent`]), so a session that saw
    /// deliveries one by one holds one range, not one per delivery.
    pub recent: Vec<(u32, u32)>,
    /// Modseqs of this session's own flag changes since the last sync: the
    /// client already has those flags (RFC 3501 §7.4.2 STORE responses).
    pub own_modseqs: Vec<u64>,
    /// The saved search result `$` (RFC 5182) as UID ranges. Expunged
    /// UIDs are not removed: `$` is resolved against the current UIDs, so
    /// they simply match nothing.
    pub saved: Vec<(u32, u32)>,
    /// RFC 9586 UIDONLY is enabled in the session: FETCH responses are
    /// `* uid UIDFETCH (...)`, expunges VANISHED (see `command::uidonly`).
    pub uid_only: bool,
    /// RFC 5267 searches kept live (RETURN (UPDATE)); they end with the
    /// view (UNSELECT, CLOSE, SELECT). See `imap::search::live`.
    pub live_searches: crate::imap::search::live::LiveSearches,
    /// HIGHESTMODSEQ as this session's user sees it (store::acl: other
    /// users' private \Seen changes take modseqs they never see), as of
    /// `flags_modseq`, and as of `modseq` in `uids_highest`; both only
    /// grow. See [`View::highest_modseq`].
    pub highest: u64,
    pub uids_highest: u64,
    /// The mailbox's owner and what this session's user may do in it
    /// (RFC 4314), as of SELECT or the last recheck; see
    /// `imap::namespace`. The owner holds every right.
    pub access: Access,
    /// The session's user: their \Seen is their own, not the message's,
    /// in a mailbox they do not own ([`View::private_seen`]).
    pub viewer: u32,
}

impl View {
    /// Watches `mailbox` in the hub and takes its current state. With
    /// `claim_recent` (SELECT, not EXAMINE) this session takes the \Recent
    /// messages; the caller persists the returned first-recent UID.
    pub fn open(
        store: &Rc<Store>,
        access: Access,
        viewer: u32,
        read_only: bool,
        preloaded: Option<crate::store::Preloaded>,
    ) -> Result<(View, Option<u32>), crate::store::StoreError> {
        let mailbox = access.id;
        let reader = store.read()?;
        let mut hub = store.hub().borrow_mut();
        let state = hub.watch(mailbox, &reader, preloaded)?;
        // The user's own changes up to the hub's point (their other
        // sessions' \Seen), or none for the owner (who has no private rows).
        let own = if access.private_seen(viewer) {
            reader.highest_private_modseq(mailbox, viewer, state.modseq)?
        } else {
            0
        };
        let highest = state.shared_modseq.max(own);
        let mut view = View {
            _watch: Watch { store: store.clone(), mailbox },
            mailbox,
            read_only,
            uid_validity: state.uid_validity,
            uids: state.uids.clone(),
            uid_next: state.uid_next,
            modseq: state.modseq,
            flags_modseq: state.modseq,
            keywords: state.keywords.clone(),
            recent: Vec::new(),
            own_modseqs: Vec::new(),
            saved: Vec::new(),
            uid_only: false,
            live_searches: crate::imap::search::live::LiveSearches::default(),
            highest,
            uids_highest: highest,
            access,
            viewer,
        };
        let mut persist = None;
        if read_only {
            // EXAMINE shows what is recent without taking it (RFC 3501 §6.3.2).
            if state.first_recent_uid < state.uid_next {
                view.add_recent((state.first_recent_uid, state.uid_next - 1));
            }
        } else if let Some((range, first_recent)) = hub.claim_recent(mailbox) {
            view.add_recent(range);
            persist = Some(first_recent);
        }
        Ok((view, persist))
    }

    /// Whether this session's \Seen is kept apart from the message's flag
    /// (a reader who is not the owner; everyone in a public mailbox).
    pub fn private_seen(&self) -> bool {
        self.access.private_seen(self.viewer)
    }

    /// The user whose own \Seen and modseqs this view shows (see
    /// `store::acl`), for the store's `*_as` reads; None for the owner,
    /// who sees the message records as they are.
    pub fn private_user(&self) -> Option<u32> {
        self.private_seen().then_some(self.viewer)
    }

    /// Whether a FETCH of a body sets \Seen here: not in a read-only
    /// view, and for a reader only with the `s` right (RFC 4314 §4: without
    /// it, no \Seen and no error). The owner holds every right.
    pub fn sets_seen(&self) -> bool {
        !self.read_only && self.access.rights.contains(Rights::STORE_SEEN)
    }

    /// The HIGHESTMODSEQ to tell the client: every change visible to this
    /// user up to it has been reported (RFC 7162 §3.1.2.1). The lower of
    /// the two points, as the UID list and the flags may be reported up to
    /// different ones; only grows, so no user sees it go down.
    pub fn highest_modseq(&self) -> u64 {
        self.highest.min(self.uids_highest)
    }

    /// SELECT's `OK [UNSEEN n]` for a reader who keeps their own \Seen:
    /// the sequence number of the first message without their row. One
    /// walk of their rows beside the UID list (at most the mailbox).
    pub fn first_private_unseen(&self, store: &Store) -> Option<usize> {
        let user = self.private_user()?;
        let (first, last) = (*self.uids.first()?, *self.uids.last()?);
        let seen = store.read().ok()?.private_seen(self.mailbox, user, first, last).ok()?;
        let mut seen = seen.iter().peekable();
        for (index, uid) in self.uids.iter().enumerate() {
            while seen.next_if(|&&found| found < *uid).is_some() {}
            if seen.next_if_eq(&uid).is_none() {
                return Some(index + 1);
            }
        }
        None
    }

    pub fn exists(&self) -> u32 {
        self.uids.len() as u32
    }

    /// Whether `uid` is \Recent in this session: a binary search of the
    /// sorted ranges (FETCH FLAGS and SEARCH RECENT ask once per message).
    pub fn is_recent(&self, uid: u32) -> bool {
        let after = self.recent.partition_point(|&(low, _)| low <= uid);
        after > 0 && uid <= self.recent[after - 1].1
    }

    /// Adds the inclusive UID range `(low, high)` to the \Recent ones,
    /// merged with any range it overlaps or touches. Claims normally come
    /// in UID order (each starts where the last ended), so this is usually
    /// an extension of the last range.
    pub fn add_recent(&mut self, (low, high): (u32, u32)) {
        if low > high {
            return;
        }
        // The ranges that overlap or touch (low, high): from the first whose
        // end reaches low - 1 to the last whose start is at most high + 1.
        let first = self.recent.partition_point(|&(_, end)| end.saturating_add(1) < low);
        let last = self.recent.partition_point(|&(start, _)| start <= high.saturating_add(1));
        if first == last {
            self.recent.insert(first, (low, high));
            return;
        }
        let merged = (low.min(self.recent[first].0), high.max(self.recent[last - 1].1));
        self.recent[first] = merged;
        self.recent.drain(first + 1..last);
    }

    /// Messages shown as \Recent. The ranges never overlap, so each is
    /// counted by two binary searches rather than a walk over the mailbox.
    pub fn recent_count(&self) -> u32 {
        let count = |&(low, high): &(u32, u32)| {
            self.uids.partition_point(|&uid| uid <= high) - self.uids.partition_point(|&uid| uid < low)
        };
        self.recent.iter().map(count).sum::<usize>() as u32
    }

    /// Index (sequence number − 1) of `uid`.
    pub fn index_of(&self, uid: u32) -> Option<usize> {
        self.uids.binary_search(&uid).ok()
    }

    /// Resolves a sequence or UID set to sorted, merged index ranges.
    ///
    /// RFC 3501 §6.4.8 / §9: UIDs that do not exist are ignored; a sequence
    /// number above the message count is an error. `*` is the last message
    /// (or the highest UID); in an empty mailbox it matches nothing.
    pub fn resolve(&self, set: &SequenceSet, by_uid: bool) -> Result<Vec<Range<usize>>, &'static str> {
        let count = self.uids.len();
        let mut ranges: Vec<Range<usize>> = Vec::new();
        for &(first, second) in &set.0 {
            if first == SequenceNumber::Saved {
                ranges
                    .extend(self.saved.iter().map(|&(low, high)| self.uid_range(low, high)).filter(|r| !r.is_empty()));
                continue;
            }
            if count == 0 {
                if !by_uid && (first != SequenceNumber::Star || second != SequenceNumber::Star) {
                    // `1:*` in an empty mailbox is harmless; a number is not.
                    let names_number =
                        matches!(first, SequenceNumber::Value(_)) && matches!(second, SequenceNumber::Value(_));
                    if names_number {
                        return Err("Invalid message sequence number");
                    }
                }
                continue;
            }
            let range = if by_uid {
                let top = *self.uids.last().expect("not empty");
                let value = |number: SequenceNumber| match number {
                    SequenceNumber::Value(uid) => uid,
                    // Saved was handled above.
                    SequenceNumber::Star | SequenceNumber::Saved => top,
                };
                let (low, high) = ordered(value(first), value(second));
                self.uid_range(low, high)
            } else {
                let value = |number: SequenceNumber| match number {
                    SequenceNumber::Value(sequence) => sequence as usize,
                    SequenceNumber::Star | SequenceNumber::Saved => count,
                };
                let (low, high) = ordered(value(first), value(second));
                if high > count {
                    return Err("Invalid message sequence number");
                }
                low - 1..high
            };
            if !range.is_empty() {
                ranges.push(range);
            }
        }
        ranges.sort_by_key(|range| range.start);
        let mut merged: Vec<Range<usize>> = Vec::with_capacity(ranges.len());
        for range in ranges {
            match merged.last_mut() {
                Some(last) if range.start <= last.end => last.end = last.end.max(range.end),
                _ => merged.push(range),
            }
        }
        Ok(merged)
    }

    /// The indexes of the UIDs from `low` to `high`.
    fn uid_range(&self, low: u32, high: u32) -> Range<usize> {
        self.uids.partition_point(|&uid| uid < low)..self.uids.partition_point(|&uid| uid <= high)
    }

    /// Like [`View::resolve`] for a SEARCH key: sequence numbers past the
    /// end simply match nothing (Dovecot parses them without a range check).
    pub fn resolve_for_search(&self, set: &SequenceSet, by_uid: bool) -> Vec<Range<usize>> {
        if by_uid {
            return self.resolve(set, true).unwrap_or_default();
        }
        let count = self.uids.len() as u32;
        let clamped: Vec<(SequenceNumber, SequenceNumber)> = set
            .0
            .iter()
            .filter_map(|&(first, second)| {
                if first == SequenceNumber::Saved {
                    return Some((first, second));
                }
                let value = |number: SequenceNumber| match number {
                    SequenceNumber::Value(sequence) => sequence,
                    SequenceNumber::Star | SequenceNumber::Saved => count,
                };
                let (low, high) = ordered(value(first), value(second));
                (count > 0 && low <= count)
                    .then_some((SequenceNumber::Value(low), SequenceNumber::Value(high.min(count))))
            })
            .collect();
        self.resolve(&SequenceSet(clamped), false).unwrap_or_default()
    }

    /// Whether every keyword set on `message` has a name in this view. A
    /// record read from a snapshot can be newer than what the session was
    /// told (a commit the hub has not applied yet), with a keyword the
    /// client has not seen in FLAGS: such a message is left for the next
    /// sync, which reports it after the FLAGS line, rather than sent with
    /// the new MODSEQ and without the keyword (a client ignores a FETCH
    /// whose MODSEQ it already has, and would keep the wrong flags).
    pub fn knows_keywords(&self, message: &MessageRecord) -> bool {
        let known = self.keywords.len().min(64);
        known == 64 || message.keywords >> known == 0
    }

    /// `* n FETCH ([UID u ]FLAGS (...)[ MODSEQ (m)])` for the message at
    /// `index`. With `with_modseq` (CONDSTORE enabled) the UID comes too:
    /// RFC 7162 §3.1 wants both in every such FETCH. Under UIDONLY it is
    /// `* u UIDFETCH (FLAGS (...)[ MODSEQ (m)])`: the UID leads already.
    pub fn write_flags(
        &self,
        out: &mut Vec<u8>,
        index: usize,
        uid: u32,
        message: &MessageRecord,
        with_uid: bool,
        with_modseq: bool,
    ) {
        self.fetch_start(out, index, uid);
        if (with_uid || with_modseq) && !self.uid_only {
            out.extend_from_slice(b"UID ");
            encode::number(out, uid);
            out.push(b' ');
        }
        out.extend_from_slice(b"FLAGS ");
        encode::flag_list(out, message.flags, message.keywords, &self.keywords, self.is_recent(uid));
        if with_modseq {
            out.extend_from_slice(b" MODSEQ (");
            encode::number(out, message.modseq);
            out.push(b')');
        }
        out.extend_from_slice(b")\r\n");
    }

    /// Starts a FETCH response: `* n FETCH (`, or under UIDONLY `* uid
    /// UIDFETCH (` (RFC 9586 §3.3: `uniqueid SP "UIDFETCH" SP msg-att`).
    pub fn fetch_start(&self, out: &mut Vec<u8>, index: usize, uid: u32) {
        out.extend_from_slice(b"* ");
        if self.uid_only {
            encode::number(out, uid);
            out.extend_from_slice(b" UIDFETCH (");
        } else {
            encode::number(out, (index + 1) as u64);
            out.extend_from_slice(b" FETCH (");
        }
    }

    /// The UIDs at `ranges`, as a compact set for a store operation.
    pub fn uid_set(&self, ranges: &[Range<usize>]) -> UidSet {
        UidSet::from_sorted(ranges.iter().flat_map(|range| self.uids[range.clone()].iter().copied()))
    }
}

/// A walk over the change indexes a view's user sees, in batches: the
/// shared one (`CHANGES`), then, for a reader who keeps their own \Seen,
/// their own (`store::acl`), each from a modseq on (and up to a modseq,
/// if given). Rows come in modseq order within each index; a message may
/// come from both. Each batch is read from the caller's snapshot, which
/// the caller closes between batches ([`crate::imap::pace::Pace`]).
pub struct ChangeWalk {
    mailbox: u64,
    /// The reader's own index still to walk after the shared one.
    private: Option<u32>,
    /// Walking the reader's own index now.
    in_private: bool,
    since: u64,
    until: u64,
    next: Option<(u64, u32)>,
}

impl ChangeWalk {
    /// Changes of `view`'s mailbox after `since` and up to `until`.
    pub fn new(view: &View, since: u64, until: u64) -> ChangeWalk {
        let first = Some((since.saturating_add(1), 0));
        ChangeWalk { mailbox: view.mailbox, private: view.private_user(), in_private: false, since, until, next: first }
    }

    /// Whether the rows come from the reader's own index (private \Seen).
    pub fn in_private(&self) -> bool {
        self.in_private
    }

    /// Reads the next batch of at most `limit` rows into `batch`; false
    /// once both indexes are done (`batch` is then empty).
    pub fn next_batch(
        &mut self,
        snapshot: &mut Snapshot,
        limit: usize,
        batch: &mut Vec<(u64, u32)>,
    ) -> Result<bool, StoreError> {
        loop {
            let Some(start) = self.next else {
                batch.clear();
                match self.private {
                    Some(_) if !self.in_private => {
                        self.in_private = true;
                        self.next = Some((self.since.saturating_add(1), 0));
                        continue;
                    }
                    _ => return Ok(false),
                }
            };
            self.next = match (self.in_private, self.private) {
                (true, Some(user)) => snapshot.private_batch(self.mailbox, user, start, limit, batch)?,
                _ => snapshot.index_batch(self.mailbox, false, start, limit, batch)?,
            };
            // In modseq order: the rest is past `until`.
            if let Some(past) = batch.iter().position(|&(modseq, _)| modseq > self.until) {
                batch.truncate(past);
                self.next = None;
            }
            if !batch.is_empty() {
                return Ok(true);
            }
        }
    }
}

fn ordered<T: Ord>(first: T, second: T) -> (T, T) {
    if first <= second {
        (first, second)
    } else {
        (second, first)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::imap::types::SequenceNumber::{Star, Value};

    fn view(uids: Vec<u32>) -> View {
        // One database per call: tests run side by side, and the store locks its file.
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let unique = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let directory = std::env::temp_dir().join(format!("roost-view-{}-{unique}", std::process::id()));
        let _ = std::fs::create_dir_all(&directory);
        let (store, _pump) = Store::open(&directory.join("db"), 1 << 20, 0).unwrap();
        View {
            _watch: Watch { store, mailbox: 1 },
            mailbox: 1,
            read_only: false,
            uid_validity: 1,
            uid_next: uids.last().map_or(1, |last| last + 1),
            uids: Rc::new(uids),
            modseq: 1,
            flags_modseq: 1,
            keywords: Rc::new(Vec::new()),
            recent: vec![(9, 10)],
            own_modseqs: Vec::new(),
            saved: Vec::new(),
            uid_only: false,
            live_searches: crate::imap::search::live::LiveSearches::default(),
            highest: 1,
            uids_highest: 1,
            access: Access { id: 1, owner: 1, rights: crate::mail::rights::Rights::ALL },
            viewer: 1,
        }
    }

    fn set(ranges: &[(crate::imap::types::SequenceNumber, crate::imap::types::SequenceNumber)]) -> SequenceSet {
        SequenceSet(ranges.to_vec())
    }

    #[test]
    fn sequence_sets_resolve_to_merged_ranges() {
        let view = view(vec![2, 4, 6, 8, 10]);
        assert_eq!(view.resolve(&set(&[(Value(1), Star)]), false).unwrap(), vec![0..5]);
        assert_eq!(view.resolve(&set(&[(Value(4), Value(2)), (Value(1), Value(1))]), false).unwrap(), vec![0..4]);
        assert_eq!(view.resolve(&set(&[(Star, Star)]), false).unwrap(), vec![4..5]);
        assert!(view.resolve(&set(&[(Value(6), Value(6))]), false).is_err());
        assert_eq!(view.resolve_for_search(&set(&[(Value(4), Value(9)), (Value(7), Value(7))]), false), vec![3..5]);
        assert_eq!(view.recent_count(), 1);
    }

    #[test]
    fn uid_sets_ignore_missing_uids() {
        let view = view(vec![2, 4, 6, 8, 10]);
        assert_eq!(view.resolve(&set(&[(Value(3), Value(7))]), true).unwrap(), vec![1..3]);
        assert_eq!(view.resolve(&set(&[(Value(11), Value(20))]), true).unwrap(), Vec::<Range<usize>>::new());
        // `n:*` with n above every UID still matches the highest one (RFC 3501 §6.4.8).
        assert_eq!(view.resolve(&set(&[(Value(50), Star)]), true).unwrap(), vec![4..5]);
        assert_eq!(view.uid_set(&[1..3, 4..5]), UidSet(vec![(4, 4), (6, 6), (10, 10)]));
    }

    #[test]
    fn recent_ranges_merge_as_they_are_added() {
        let mut view = view((1..=20_000).collect());
        view.recent.clear();
        // 10,000 deliveries claimed one by one: one range.
        for uid in 1..=10_000 {
            view.add_recent((uid, uid));
        }
        assert_eq!(view.recent, vec![(1, 10_000)]);
        assert_eq!(view.recent_count(), 10_000);
        assert!(view.is_recent(1) && view.is_recent(10_000) && !view.is_recent(10_001) && !view.is_recent(0));
        // Out of order, overlapping, touching and apart.
        view.add_recent((10_005, 10_010));
        view.add_recent((10_020, 10_020));
        assert_eq!(view.recent, vec![(1, 10_000), (10_005, 10_010), (10_020, 10_020)]);
        assert!(!view.is_recent(10_003) && view.is_recent(10_007) && !view.is_recent(10_015));
        view.add_recent((10_001, 10_004));
        assert_eq!(view.recent, vec![(1, 10_010), (10_020, 10_020)]);
        view.add_recent((5, 10_030));
        assert_eq!(view.recent, vec![(1, 10_030)]);
        view.add_recent((3, 2));
        assert_eq!(view.recent, vec![(1, 10_030)], "an empty range adds nothing");
        view.add_recent((u32::MAX - 1, u32::MAX));
        view.add_recent((u32::MAX, u32::MAX));
        assert_eq!(view.recent, vec![(1, 10_030), (u32::MAX - 1, u32::MAX)]);
        assert_eq!(view.recent_count(), 10_030);
    }

    #[test]
    fn recent_lookup_agrees_with_a_scan() {
        let mut view = view(vec![]);
        view.recent.clear();
        let mut added = Vec::new();
        // A fixed pseudo-random sequence of small ranges.
        let mut seed = 7u32;
        for _ in 0..300 {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            let low = (seed >> 8) % 500;
            let high = low + (seed >> 20) % 4;
            view.add_recent((low, high));
            added.push((low, high));
            assert!(view.recent.windows(2).all(|pair| pair[0].1 + 1 < pair[1].0), "{:?}", view.recent);
        }
        for uid in 0..510 {
            let scanned = added.iter().any(|&(low, high)| low <= uid && uid <= high);
            assert_eq!(view.is_recent(uid), scanned, "uid {uid}");
        }
    }

    #[test]
    fn empty_mailbox_star_matches_nothing() {
        let view = view(vec![]);
        assert!(view.resolve(&set(&[(Value(1), Star)]), false).unwrap().is_empty());
        assert!(view.resolve(&set(&[(Value(1), Value(1))]), false).is_err());
        assert!(view.resolve(&set(&[(Value(1), Value(5))]), true).unwrap().is_empty());
    }
}
