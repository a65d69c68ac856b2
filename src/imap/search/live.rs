//! RFC 5267 contexts: searches and sorts kept live (`RETURN (UPDATE)`;
//! `CANCELUPDATE` is `command::context`), and RFC 9394 PARTIAL windows
//! over result lists. Part of the search engine (`imap::search`), below
//! the commands: SEARCH and SORT register live searches here, the
//! session's sync reports their updates, UID FETCH cuts its PARTIAL
//! window with [`window_indexes`].
//!
//! # Live searches
//!
//! `SEARCH RETURN (UPDATE ...)`, `SORT RETURN (UPDATE ...)` and their UID
//! forms leave a [`LiveSearch`] on the selected mailbox's view: its search
//! key (sequence-number and UID sets frozen to the UIDs they named when
//! the search ran, so a later expunge does not shift them), and its
//! results. From then on, whenever the session tells the client about
//! changes (every command's sync, IDLE, NOTIFY: all go through
//! `Session::sync_selected`), the results are brought up to date and the
//! differences go out as unsolicited `* ESEARCH (TAG "t") [UID] ADDTO
//! (...)` / `REMOVEFROM (...)` (RFC 5267 §4.3.2-§4.3.4):
//!
//! - an expunged match: REMOVEFROM before the EXPUNGE (or VANISHED), in
//!   the numbering the client still has (§4.3.4), from
//!   [`before_expunges`], which needs no store read;
//! - new messages (deliveries, APPENDs, COPY/MOVE in, from any session):
//!   each is tested once, and a match is sent as ADDTO after the EXISTS
//!   (§4.3.3), from [`report`];
//! - flag changes, only for searches whose key tests flags, keywords or
//!   MODSEQ: the messages the change index lists since the search last
//!   looked, and only those, are tested again; one that starts or stops
//!   matching is sent as ADDTO or REMOVEFROM.
//!
//! Testing goes through the SEARCH scan's own evaluator
//! (`search::evaluate`), with its budget: the session yields to the
//! others every millisecond of work, and no snapshot stays open across a
//! pause. The change index is read 256 rows at a time. Nothing ever
//! re-runs a whole search.
//!
//! SEARCH contexts use context position 0 (RFC 5267 §4.3.3 allows it for
//! SEARCH) and sets in mailbox order. SORT contexts keep their results in
//! sort order and give real positions: a removal's position comes from
//! the kept order; an addition's from a binary search over it, reading
//! the sort values of about log2(n) kept messages (sort values never
//! change, so a flag change never moves a message). That makes a live
//! SORT cost per new match about 17 summary reads on 100,000 results;
//! a change that adds thousands of matches at once (a STORE on the whole
//! mailbox under `SORT RETURN (UPDATE) ... UNSEEN`) is paced but slow.
//!
//! Measured (x86 VM shared with other builds, release build, 10,000
//! messages, another session storing `\Seen` on all of them, the live
//! session's NOOP timed, which also carries the 10,000 FETCHes): no live
//! search 15-28 ms; with a live `SEARCH RETURN (UPDATE) UNSEEN` 20 ms,
//! the update one line, `REMOVEFROM (0 1:10000)`. A live `UID SORT RETURN
//! (UPDATE) (SUBJECT) ... UNSEEN`: 100 new matches 5 ms; 9,900 at once
//! 1.7 s, during which another session's NOOP every 10 ms took 0.3 ms at
//! the median and 15 ms at most.
//!
//! # Bounds
//!
//! A session keeps at most the board's `search_updates` live searches
//! (at least 1, RFC 5267 §4.3.1); one more is refused with `* NO
//! [NOUPDATE "tag"]`, its other return options still answered. A live
//! SEARCH keeps its matches as UID ranges (8 bytes a range, so at most
//! 8 bytes a matching message, one range for a run of matches), a live
//! SORT one UID per match (4 bytes) in sort order; each is bounded by the
//! mailbox the view already holds (4 bytes a message), so a session's
//! live searches cost at most `search_updates` x 2 x its view. They end
//! with the view (UNSELECT, CLOSE, SELECT, EXAMINE, LOGOUT) or with
//! CANCELUPDATE.
//!
//! # PARTIAL
//!
//! RFC 9394 supersedes RFC 5267 §4.4: `PARTIAL m:n` counts from the first
//! result, `PARTIAL -m:-n` from the last; [`window`] cuts one out of a
//! result list kept as ranges. UID FETCH takes the same modifier
//! (RFC 9394 §3.3), cut from the messages its set names ([`window_indexes`]).

use std::io;
use std::ops::Range;

use crate::imap::encode;
use crate::imap::search::{self, push_number, write_set};
use crate::imap::session::{Replied, Selected, Status};
use crate::imap::sort::{compare_keyed, SortCriterion};
use crate::imap::types::{PartialRange, SearchKey, SearchReturn, SequenceNumber, SequenceSet};
use crate::imap::view::View;
use crate::net::Connection;
use crate::store::{Store, StoreError};

/// The live searches of one selected mailbox (kept on its view).
#[derive(Default)]
pub struct LiveSearches {
    pub(crate) list: Vec<LiveSearch>,
}

impl LiveSearches {
    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}

/// One search kept live (RFC 5267 §4.3).
pub(crate) struct LiveSearch {
    pub(crate) tag: String,
    /// UID SEARCH / UID SORT: updates carry UIDs, else sequence numbers
    /// (RFC 5267 §4.3.2).
    uid: bool,
    key: SearchKey,
    charset: String,
    /// Whether a flag change can change what matches.
    by_flags: bool,
    results: Results,
    /// Messages up to this UID have been tested; those above are new.
    tested_top: u32,
    /// Flag changes up to this modseq have been tested.
    modseq: u64,
}

/// What a live search matches now.
pub enum Results {
    /// SEARCH: UID ranges, ascending.
    Search(Vec<(u32, u32)>),
    /// SORT: the matches' UIDs in sort order.
    Sort { criteria: Vec<SortCriterion>, order: Vec<u32> },
}

/// Decides, before a SEARCH or SORT runs, whether it will be kept live.
/// Err: the command has been answered (BAD: its tag already names a
/// live search, RFC 5267 §4.3). Ok(None): not live (no UPDATE, or
/// refused with NOUPDATE, which is written now). Ok(Some(key)): live,
/// with the key frozen to UIDs.
pub fn admit(
    session: &mut Selected<'_>,
    tag: &str,
    ret: Option<&SearchReturn>,
    key: &SearchKey,
) -> Result<Option<SearchKey>, Replied> {
    if !ret.is_some_and(|ret| ret.update) {
        return Ok(None);
    }
    let limit = session.server.config.limits.search_updates;
    let (view, conn) = session.view_and_conn();
    if view.live_searches.list.iter().any(|live| live.tag == tag) {
        // RFC 5267 §4.3: a tag that names a live search cannot name another.
        return Err(session.tagged(tag, Status::Bad, None, "This tag already names a live search (RFC 5267)"));
    }
    if view.live_searches.len() >= limit {
        // RFC 5267 §4.3.1: an untagged NO [NOUPDATE "tag"]; the other
        // return options are still answered.
        let out = conn.out();
        out.extend_from_slice(b"* NO [NOUPDATE \"");
        out.extend_from_slice(tag.as_bytes());
        out.extend_from_slice(b"\"] Too many live searches, CANCELUPDATE one first\r\n");
        return Ok(None);
    }
    Ok(Some(freeze(key, view)))
}

/// Keeps a search live from now on; `results` are its matches as the
/// command answered them.
pub fn register(session: &mut Selected<'_>, tag: &str, uid: bool, key: SearchKey, charset: String, results: Results) {
    let view = session.view_mut();
    let live = LiveSearch {
        tag: tag.to_string(),
        uid,
        by_flags: tests_flags(&key),
        key,
        charset,
        results,
        tested_top: view.uids.last().copied().unwrap_or(0),
        // Flag changes the client has not been told about yet may have
        // been seen by the scan or not: they are tested again.
        modseq: view.flags_modseq,
    };
    view.live_searches.list.push(live);
}

/// The key with what would shift under it fixed now: a sequence set
/// becomes the UIDs it names, and in a UID set `*` becomes the highest UID
/// and `$` the saved UIDs; explicit UIDs stay as given (a new message with
/// a UID inside `UID 100:900` still matches it). Later expunges and
/// arrivals then do not change which messages the key means.
fn freeze(key: &SearchKey, view: &View) -> SearchKey {
    let nothing = || SearchKey::Not(Box::new(SearchKey::All));
    let value = SequenceNumber::Value;
    match key {
        SearchKey::Sequence(set) => {
            let ranges = view.resolve_for_search(set, false);
            if ranges.is_empty() {
                return nothing();
            }
            let uid = |index: usize| value(view.uids[index]);
            SearchKey::Uid(SequenceSet(ranges.iter().map(|range| (uid(range.start), uid(range.end - 1))).collect()))
        }
        SearchKey::Uid(set) => {
            let top = view.uids.last().copied();
            let mut fixed = Vec::with_capacity(set.0.len());
            for &(first, second) in &set.0 {
                if first == SequenceNumber::Saved {
                    fixed.extend(view.saved.iter().map(|&(low, high)| (value(low), value(high))));
                    continue;
                }
                // `*` in an empty mailbox names nothing.
                let end = |number| match number {
                    SequenceNumber::Star => top.map(value),
                    other => Some(other),
                };
                if let (Some(first), Some(second)) = (end(first), end(second)) {
                    fixed.push((first, second));
                }
            }
            if fixed.is_empty() {
                return nothing();
            }
            SearchKey::Uid(SequenceSet(fixed))
        }
        SearchKey::And(keys) => SearchKey::And(keys.iter().map(|key| freeze(key, view)).collect()),
        SearchKey::Or(left, right) => SearchKey::Or(Box::new(freeze(left, view)), Box::new(freeze(right, view))),
        SearchKey::Not(key) => SearchKey::Not(Box::new(freeze(key, view))),
        other => other.clone(),
    }
}

/// Whether a flag change can change whether a message matches `key`.
fn tests_flags(key: &SearchKey) -> bool {
    match key {
        SearchKey::Flag(..) | SearchKey::Keyword(..) | SearchKey::Modseq(_) | SearchKey::New => true,
        SearchKey::And(keys) => keys.iter().any(tests_flags),
        SearchKey::Or(left, right) => tests_flags(left) || tests_flags(right),
        SearchKey::Not(key) => tests_flags(key),
        _ => false,
    }
}

/// Called by the sync before it reports expunges: every live search loses
/// the messages of the view that are no longer in `uids`, and says so with
/// REMOVEFROM now, while the client's numbering still has them (RFC 5267
/// §4.3.4). Reads no store; one pass over the view.
pub async fn before_expunges(conn: &mut Connection, view: &mut View, uids: &[u32]) -> io::Result<()> {
    if view.live_searches.is_empty() {
        return Ok(());
    }
    // Both lists ascend: one merge pass finds what went.
    let mut gone = Vec::new();
    let mut remaining = uids.iter().peekable();
    for (index, &uid) in view.uids.iter().enumerate() {
        if index % 4096 == 4095 {
            smol::future::yield_now().await;
        }
        while remaining.next_if(|&&next| next < uid).is_some() {}
        if remaining.next_if_eq(&&uid).is_none() {
            gone.push(uid);
        }
    }
    if gone.is_empty() {
        return Ok(());
    }
    let mut list = std::mem::take(&mut view.live_searches.list);
    for live in &mut list {
        let removed: Vec<u32> = match &live.results {
            Results::Search(ranges) => gone.iter().copied().filter(|&uid| contains(ranges, uid)).collect(),
            Results::Sort { order, .. } => {
                let held = members(order, &gone).await;
                gone.iter().zip(held).filter(|(_, held)| *held).map(|(&uid, _)| uid).collect()
            }
        };
        if !removed.is_empty() {
            start_line(conn, live);
            write_removals(conn, view, live, &removed).await?;
            conn.out().extend_from_slice(b"\r\n");
            conn.flush_if_full().await?;
        }
    }
    view.live_searches.list = list;
    Ok(())
}

/// Called at the end of each sync: tests the messages that are new or
/// whose flags changed since each live search last looked, and sends what
/// starts or stops matching (after EXISTS, RFC 5267 §4.3.3). The sync
/// hands over the view it holds.
pub async fn report(store: &Store, conn: &mut Connection, view: &mut View) -> io::Result<()> {
    if view.live_searches.is_empty() {
        return Ok(());
    }
    let mut list = std::mem::take(&mut view.live_searches.list);
    let mut outcome = Ok(());
    for live in &mut list {
        outcome = bring_up_to_date(store, conn, view, live).await;
        if outcome.is_err() {
            break;
        }
    }
    view.live_searches.list = list;
    outcome
}

/// Rows of the change index read at a time, and messages tested at a time.
const BATCH: usize = 256;

async fn bring_up_to_date(store: &Store, conn: &mut Connection, view: &View, live: &mut LiveSearch) -> io::Result<()> {
    let top = view.uids.last().copied().unwrap_or(0);
    let mut changes = Changes::default();
    // Flag changes of messages tested before, a batch of the index at a time.
    if live.by_flags && live.modseq < view.flags_modseq {
        let mut snapshot = store.snapshot();
        // A reader's own \Seen changes too (store::acl).
        let mut walk = crate::imap::view::ChangeWalk::new(view, live.modseq, view.flags_modseq);
        let mut rows = Vec::with_capacity(BATCH);
        loop {
            match walk.next_batch(&mut snapshot, BATCH, &mut rows) {
                Ok(true) => {}
                Ok(false) => break,
                Err(error) => {
                    log_failure(view, error);
                    return Ok(());
                }
            }
            snapshot.close();
            let mut changed: Vec<u32> =
                rows.iter().filter(|&&(_, uid)| uid <= live.tested_top).map(|&(_, uid)| uid).collect();
            changed.sort_unstable();
            changed.dedup();
            retest(store, conn, view, live, &changed, &mut changes).await?;
        }
    }
    live.modseq = live.modseq.max(view.flags_modseq);
    // New messages, a batch at a time.
    let start = view.uids.partition_point(|&uid| uid <= live.tested_top);
    for batch in view.uids[start..].chunks(BATCH) {
        retest(store, conn, view, live, batch, &mut changes).await?;
    }
    live.tested_top = live.tested_top.max(top);
    if changes.removed.is_empty() && changes.added.is_empty() {
        return Ok(());
    }
    // A SEARCH context's changes go out as one line, in mailbox order.
    start_line(conn, live);
    for (name, uids) in [(&b" REMOVEFROM (0 "[..], &changes.removed), (&b" ADDTO (0 "[..], &changes.added)] {
        if uids.is_empty() {
            continue;
        }
        let numbers = numbers_of(view, live.uid, uids).await;
        conn.out().extend_from_slice(name);
        write_set(conn, &numbers).await?;
        conn.out().push(b')');
    }
    conn.out().extend_from_slice(b"\r\n");
    conn.flush_if_full().await
}

/// What a SEARCH context gained and lost over one report, as UID ranges
/// (SORT contexts send each batch at once: their positions depend on it).
#[derive(Default)]
struct Changes {
    removed: Vec<(u32, u32)>,
    added: Vec<(u32, u32)>,
}

/// UID ranges as the numbers the client knows them by, in ranges.
async fn numbers_of(view: &View, by_uid: bool, uids: &[(u32, u32)]) -> Vec<(u32, u32)> {
    if by_uid {
        return uids.to_vec();
    }
    let mut numbers = Vec::new();
    for (count, uid) in uids.iter().flat_map(|&(low, high)| low..=high).enumerate() {
        if count % 4096 == 4095 {
            smol::future::yield_now().await;
        }
        push_number(&mut numbers, number(view, false, uid));
    }
    numbers
}

fn log_failure(view: &View, error: StoreError) {
    log::error!("live search of mailbox {}: {error}", view.mailbox);
}

/// Tests `uids` (ascending) again: a SEARCH context notes what changed in
/// `changes`, a SORT context reports it now.
async fn retest(
    store: &Store,
    conn: &mut Connection,
    view: &View,
    live: &mut LiveSearch,
    uids: &[u32],
    changes: &mut Changes,
) -> io::Result<()> {
    if uids.is_empty() {
        return Ok(());
    }
    let answers = match search::evaluate(store, view, &live.key, &live.charset, uids).await {
        Ok(answers) => answers,
        Err(error) => {
            log_failure(view, error);
            return Ok(());
        }
    };
    let known = match &live.results {
        Results::Search(ranges) => uids.iter().map(|&uid| contains(ranges, uid)).collect(),
        Results::Sort { order, .. } => members(order, uids).await,
    };
    let mut added = Vec::new();
    let mut removed = Vec::new();
    for ((&uid, answer), known) in uids.iter().zip(answers).zip(known) {
        // Gone meanwhile: reported when the expunge is (before_expunges).
        let Some(matches) = answer else { continue };
        if matches && !known {
            added.push(uid);
        } else if !matches && known {
            removed.push(uid);
        }
    }
    if removed.is_empty() && added.is_empty() {
        return Ok(());
    }
    if let Results::Search(ranges) = &mut live.results {
        for &uid in &removed {
            remove(ranges, uid);
            insert(&mut changes.removed, uid);
        }
        for &uid in &added {
            insert(ranges, uid);
            insert(&mut changes.added, uid);
        }
        return Ok(());
    }
    // A live sort: one line, removals first: the client applies them in
    // order (RFC 5267 §4.3.2), and the additions' positions count without
    // them.
    start_line(conn, live);
    if !removed.is_empty() {
        write_removals(conn, view, live, &removed).await?;
    }
    let by_uid = live.uid;
    if let Results::Sort { criteria, order } = &mut live.results {
        let pairs = insert_sorted(store, view, criteria, order, &added).await;
        if !pairs.is_empty() {
            write_additions(conn, view, by_uid, &pairs).await?;
        }
    }
    conn.out().extend_from_slice(b"\r\n");
    conn.flush_if_full().await
}

/// `* ESEARCH (TAG "t") [UID] ` of a live search's update line.
fn start_line(conn: &mut Connection, live: &LiveSearch) {
    let out = conn.out();
    out.extend_from_slice(b"* ESEARCH (TAG ");
    encode::string(out, live.tag.as_bytes());
    out.push(b')');
    if live.uid {
        out.extend_from_slice(b" UID");
    }
}

/// The number the client knows `uid` by in this search's updates.
fn number(view: &View, by_uid: bool, uid: u32) -> u32 {
    if by_uid {
        uid
    } else {
        view.index_of(uid).map_or(0, |index| index as u32 + 1)
    }
}

/// Which of `uids` (ascending) a live sort's `order` holds: one pass over
/// the order (it is not sorted by UID), yielding now and then.
async fn members(order: &[u32], uids: &[u32]) -> Vec<bool> {
    let mut held = vec![false; uids.len()];
    for (index, uid) in order.iter().enumerate() {
        if index % 4096 == 4095 {
            smol::future::yield_now().await;
        }
        if let Ok(at) = uids.binary_search(uid) {
            held[at] = true;
        }
    }
    held
}

/// Drops `removed` (ascending, each a current match) from the results and
/// writes ` REMOVEFROM (...)`.
async fn write_removals(conn: &mut Connection, view: &View, live: &mut LiveSearch, removed: &[u32]) -> io::Result<()> {
    let by_uid = live.uid;
    conn.out().extend_from_slice(b" REMOVEFROM (");
    match &mut live.results {
        Results::Search(ranges) => {
            // RFC 5267 §4.3.4: position 0, the set in mailbox order.
            let mut numbers = Vec::new();
            for &uid in removed {
                remove(ranges, uid);
                push_number(&mut numbers, number(view, by_uid, uid));
            }
            conn.out().extend_from_slice(b"0 ");
            write_set(conn, &numbers).await?;
        }
        Results::Sort { order, .. } => {
            // One pass over the sort order: each run of removed neighbours
            // is one pair, its position counted after the pairs before it
            // are removed (RFC 5267 §4.3.2: pairs apply in order).
            let mut kept = Vec::with_capacity(order.len() - removed.len().min(order.len()));
            let mut in_run = false;
            let mut pairs = 0usize;
            for (index, &uid) in order.iter().enumerate() {
                if index % 4096 == 4095 {
                    conn.flush_if_full().await?;
                }
                if removed.binary_search(&uid).is_err() {
                    in_run = false;
                    kept.push(uid);
                    continue;
                }
                let out = conn.out();
                if in_run {
                    out.push(b',');
                } else {
                    if pairs > 0 {
                        out.push(b' ');
                    }
                    pairs += 1;
                    in_run = true;
                    encode::number(out, kept.len() as u64 + 1);
                    out.push(b' ');
                }
                encode::number(out, u64::from(number(view, by_uid, uid)));
            }
            *order = kept;
        }
    }
    conn.out().push(b')');
    Ok(())
}

/// Puts `added` (ascending, none a current match) into a live sort's
/// `order`; returns the ADDTO pairs (context position, UID). Each new match
/// goes where a binary search over the kept order puts it; pairs apply in
/// order (RFC 5267 §4.3.2), so each position counts the ones added before.
async fn insert_sorted(
    store: &Store,
    view: &View,
    criteria: &[SortCriterion],
    order: &mut Vec<u32>,
    added: &[u32],
) -> Vec<(u32, u32)> {
    let mut pairs = Vec::with_capacity(added.len());
    for &uid in added {
        let Some(key) = sort_key(store, view, criteria, uid) else { continue };
        let (mut low, mut high) = (0usize, order.len());
        while low < high {
            let middle = usize::midpoint(low, high);
            let before = match sort_key(store, view, criteria, order[middle]) {
                Some(other) => compare_keyed(criteria, &other, &key).is_lt(),
                // Gone meanwhile (its expunge is reported later): by UID.
                None => order[middle] < uid,
            };
            if before {
                low = middle + 1;
            } else {
                high = middle;
            }
        }
        order.insert(low, uid);
        pairs.push((low as u32 + 1, uid));
        smol::future::yield_now().await;
    }
    pairs
}

/// ` ADDTO (position number ...)` of a live sort.
async fn write_additions(conn: &mut Connection, view: &View, by_uid: bool, pairs: &[(u32, u32)]) -> io::Result<()> {
    conn.out().extend_from_slice(b" ADDTO (");
    for (index, &(position, uid)) in pairs.iter().enumerate() {
        let out = conn.out();
        if index > 0 {
            out.push(b' ');
        }
        encode::number(out, u64::from(position));
        out.push(b' ');
        encode::number(out, u64::from(number(view, by_uid, uid)));
        conn.flush_if_full().await?;
    }
    conn.out().push(b')');
    Ok(())
}

/// The sort key of `uid`, None if it is gone or cannot be read (logged).
fn sort_key(store: &Store, view: &View, criteria: &[SortCriterion], uid: u32) -> Option<crate::imap::sort::Keyed> {
    match search::sort_key(store, view, criteria, uid) {
        Ok(key) => key,
        Err(error) => {
            log_failure(view, error);
            None
        }
    }
}

/// Whether ascending, disjoint `ranges` hold `uid`.
fn contains(ranges: &[(u32, u32)], uid: u32) -> bool {
    let at = ranges.partition_point(|&(_, high)| high < uid);
    ranges.get(at).is_some_and(|&(low, _)| low <= uid)
}

/// Adds `uid` to ascending, disjoint, non-adjacent `ranges`.
fn insert(ranges: &mut Vec<(u32, u32)>, uid: u32) {
    let at = ranges.partition_point(|&(_, high)| high < uid);
    if ranges.get(at).is_some_and(|&(low, _)| low <= uid) {
        return;
    }
    let joins_before = at > 0 && ranges[at - 1].1.checked_add(1) == Some(uid);
    let joins_after = ranges.get(at).is_some_and(|&(low, _)| uid.checked_add(1) == Some(low));
    match (joins_before, joins_after) {
        (true, true) => {
            ranges[at - 1].1 = ranges[at].1;
            ranges.remove(at);
        }
        (true, false) => ranges[at - 1].1 = uid,
        (false, true) => ranges[at].0 = uid,
        (false, false) => ranges.insert(at, (uid, uid)),
    }
}

/// Removes `uid` from ascending, disjoint `ranges`.
fn remove(ranges: &mut Vec<(u32, u32)>, uid: u32) {
    let at = ranges.partition_point(|&(_, high)| high < uid);
    let Some(&(low, high)) = ranges.get(at) else { return };
    if uid < low {
        return;
    }
    match (low == uid, high == uid) {
        (true, true) => {
            ranges.remove(at);
        }
        (true, false) => ranges[at].0 = uid + 1,
        (false, true) => ranges[at].1 = uid - 1,
        (false, false) => {
            ranges[at].1 = uid - 1;
            ranges.insert(at + 1, (uid + 1, high));
        }
    }
}

/// The window `partial` of a result list kept as ranges in list order
/// (each range ascending), as ranges in the same order (RFC 9394 §3.1).
pub fn window(list: &[(u32, u32)], partial: PartialRange) -> Vec<(u32, u32)> {
    let total: usize = list.iter().map(|&(low, high)| (high - low) as usize + 1).sum();
    let wanted = partial.indexes(total);
    let mut window = Vec::new();
    let mut position = 0usize;
    for &(low, high) in list {
        let length = (high - low) as usize + 1;
        let (start, end) = (wanted.start.max(position), wanted.end.min(position + length));
        if start < end {
            window.push((low + (start - position) as u32, low + (end - 1 - position) as u32));
        }
        position += length;
        if position >= wanted.end {
            break;
        }
    }
    window
}

/// The window `partial` of the messages `ranges` (view indexes, ascending)
/// name: UID FETCH's PARTIAL modifier (RFC 9394 §3.3).
pub fn window_indexes(ranges: &[Range<usize>], partial: PartialRange) -> Vec<Range<usize>> {
    let total: usize = ranges.iter().map(std::iter::ExactSizeIterator::len).sum();
    let wanted = partial.indexes(total);
    let mut window = Vec::new();
    let mut position = 0usize;
    for range in ranges {
        let (start, end) = (wanted.start.max(position), wanted.end.min(position + range.len()));
        if start < end {
            window.push(range.start + (start - position)..range.start + (end - position));
        }
        position += range.len();
    }
    window
}

/// Sorts ranges and merges those that overlap or touch.
pub fn normalize(ranges: &mut Vec<(u32, u32)>) {
    ranges.sort_unstable();
    let mut merged: Vec<(u32, u32)> = Vec::with_capacity(ranges.len());
    for &(low, high) in ranges.iter() {
        match merged.last_mut() {
            Some(last) if low <= last.1.saturating_add(1) => last.1 = last.1.max(high),
            _ => merged.push((low, high)),
        }
    }
    *ranges = merged;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_from_either_end() {
        let list = [(1, 3), (7, 7), (9, 12)];
        assert_eq!(window(&list, PartialRange::First(1, 2)), vec![(1, 2)]);
        assert_eq!(window(&list, PartialRange::First(3, 5)), vec![(3, 3), (7, 7), (9, 9)]);
        assert_eq!(window(&list, PartialRange::Last(1, 2)), vec![(11, 12)]);
        assert_eq!(window(&list, PartialRange::Last(5, 8)), vec![(1, 3), (7, 7)]);
        assert_eq!(window(&list, PartialRange::First(8, 100)), vec![(12, 12)]);
        assert_eq!(window(&list, PartialRange::First(9, 100)), vec![]);
        assert_eq!(window(&list, PartialRange::Last(9, 10)), vec![]);
        assert_eq!(window(&list, PartialRange::Last(8, 10)), vec![(1, 1)]);
        assert_eq!(window(&[], PartialRange::First(1, 1)), vec![]);
    }

    #[test]
    fn windows_of_view_indexes() {
        let ranges = [0..3, 5..6, 9..12];
        assert_eq!(window_indexes(&ranges, PartialRange::First(2, 4)), vec![1..3, 5..6]);
        assert_eq!(window_indexes(&ranges, PartialRange::Last(1, 2)), vec![10..12]);
        assert_eq!(window_indexes(&ranges, PartialRange::Last(7, 9)), vec![0..1]);
        assert_eq!(window_indexes(&ranges, PartialRange::Last(8, 9)), vec![]);
    }

    #[test]
    fn ranges_take_and_lose_numbers() {
        let mut ranges = vec![(1, 3), (7, 7)];
        insert(&mut ranges, 5);
        assert_eq!(ranges, vec![(1, 3), (5, 5), (7, 7)]);
        insert(&mut ranges, 6);
        assert_eq!(ranges, vec![(1, 3), (5, 7)]);
        insert(&mut ranges, 4);
        assert_eq!(ranges, vec![(1, 7)]);
        remove(&mut ranges, 4);
        assert_eq!(ranges, vec![(1, 3), (5, 7)]);
        remove(&mut ranges, 1);
        remove(&mut ranges, 7);
        remove(&mut ranges, 9);
        assert_eq!(ranges, vec![(2, 3), (5, 6)]);
        assert!(contains(&ranges, 5) && !contains(&ranges, 4) && !contains(&ranges, 1));
        let mut messy = vec![(9, 9), (1, 2), (3, 4), (8, 8)];
        normalize(&mut messy);
        assert_eq!(messy, vec![(1, 4), (8, 9)]);
    }

    proptest::proptest! {
        /// Ranges kept by insert/remove hold exactly the numbers a set would.
        #[test]
        fn ranges_match_a_set(steps in proptest::collection::vec((proptest::bool::ANY, 1u32..40), 0..80)) {
            let mut ranges = Vec::new();
            let mut set = std::collections::BTreeSet::new();
            for (add, number) in steps {
                if add {
                    insert(&mut ranges, number);
                    set.insert(number);
                } else {
                    remove(&mut ranges, number);
                    set.remove(&number);
                }
            }
            let expanded: Vec<u32> = ranges.iter().flat_map(|&(low, high)| low..=high).collect();
            proptest::prop_assert_eq!(expanded, set.into_iter().collect::<Vec<_>>());
            proptest::prop_assert!(ranges.windows(2).all(|pair| pair[0].1 + 1 < pair[1].0));
        }

        /// A window cut from ranges is the same slice of the expanded list.
        #[test]
        fn windows_match_slices(numbers in proptest::collection::btree_set(1u32..60, 0..40), a in 1u32..50, b in 1u32..50, last in proptest::bool::ANY) {
            let numbers: Vec<u32> = numbers.into_iter().collect();
            let mut ranges = Vec::new();
            for &number in &numbers {
                push_number(&mut ranges, number);
            }
            let (low, high) = (a.min(b), a.max(b));
            let partial = if last { PartialRange::Last(low, high) } else { PartialRange::First(low, high) };
            let expected: Vec<u32> = numbers[partial.indexes(numbers.len())].to_vec();
            let got: Vec<u32> = window(&ranges, partial).iter().flat_map(|&(low, high)| low..=high).collect();
            proptest::prop_assert_eq!(got, expected);
        }
    }
}
