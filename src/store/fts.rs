//! The full-text index's tables (issue 18; what they hold and why is in
//! [`crate::fts`]'s docs): which stored messages wait for the indexer,
//! which are left unindexed, and the segments of posting lists.
//!
//! The index is per blob (one stored message, shared by its copies), and
//! it is exact by construction: a blob is *covered* once a segment lists
//! it; until then it waits in [`FTS_QUEUE`], and a blob the indexer could
//! not index sits in [`FTS_UNINDEXED`]; waiting and unindexed blobs are
//! candidates for every needle, so a search never misses one. The queue
//! row is written in the transaction that stores the message (APPEND,
//! LMTP, import), so a crash cannot leave a stored message neither queued
//! nor indexed. A segment and the removal of its blobs' queue rows commit
//! together. Deleted mail's ids stay in the lists until their segment is
//! merged: a search maps candidate blobs to the messages it walks, so an
//! id without a message is never an answer.
//!
//! The index's format and the Unicode version of the fold are kept in
//! META (`fts_format`); when they differ from this roost's (an upgrade, or
//! the board turning the index on), every stored blob is queued again at
//! start-up, and when the board turns the index off, its tables are
//! emptied.

use std::sync::atomic::{AtomicBool, Ordering};

use redb::ReadableTable;

use super::ops::Tables;
use super::reader::Reader;
use super::schema::{BLOBS, FTS_POSTINGS, FTS_QUEUE, FTS_SEGMENTS, FTS_UNINDEXED, META};
use super::StoreError;
use crate::fts::{decode, intersect, segment::Segment};

static ENABLED: AtomicBool = AtomicBool::new(true);

/// Turns the index on or off for this process (the board's
/// `search_index`); set before the store opens.
pub fn set_search_index(on: bool) {
    ENABLED.store(on, Ordering::Relaxed);
}

/// Whether this process keeps the index.
pub fn search_index() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Bumped when what the index holds changes (trigram values, streams).
const FORMAT: u64 = 1;

/// The META value saying the index is kept, and by which fold.
fn format() -> u64 {
    let (major, minor, update) = char::UNICODE_VERSION;
    FORMAT << 32 | u64::from(major) << 16 | u64::from(minor) << 8 | u64::from(update)
}

const FORMAT_KEY: &str = "fts_format";

/// At start-up, in the opening transaction: makes the index agree with
/// this process's setting (see the module docs). Returns the blobs queued.
pub(super) fn reconcile(tables: &mut Tables) -> Result<u64, StoreError> {
    let kept = tables.meta.get(FORMAT_KEY)?.map_or(0, |value| value.value());
    let wanted = if search_index() { format() } else { 0 };
    if kept == wanted {
        return Ok(0);
    }
    tables.fts_postings.retain(|_, _| false)?;
    tables.fts_segments.retain(|_, _| false)?;
    tables.fts_unindexed.retain(|_, ()| false)?;
    tables.fts_queue.retain(|_, ()| false)?;
    let mut queued = 0;
    if wanted != 0 {
        for entry in tables.blobs.iter()? {
            let (blob, _) = entry?;
            tables.fts_queue.insert(blob.value(), ())?;
            queued += 1;
        }
    }
    tables.meta.insert(FORMAT_KEY, wanted)?;
    Ok(queued)
}

/// A message's blob was just stored: it waits for the indexer.
pub(super) fn stored(tables: &mut Tables, blob: u64) -> Result<(), StoreError> {
    if search_index() {
        tables.fts_queue.insert(blob, ())?;
    }
    Ok(())
}

/// A blob's last reference went: it waits for nothing any more.
pub(super) fn released(tables: &mut Tables, blob: u64) -> Result<(), StoreError> {
    tables.fts_queue.remove(blob)?;
    tables.fts_unindexed.remove(blob)?;
    Ok(())
}

/// Writes `segment` as a new one; with `replacing`, removes those
/// segments (a merge), else takes its blobs off the queue (an indexing).
pub(super) fn write_segment(tables: &mut Tables, segment: &Segment, replacing: &[u64]) -> Result<(), StoreError> {
    if !search_index() {
        return Ok(());
    }
    for &old in replacing {
        tables.fts_segments.remove(old)?;
        tables.fts_postings.retain_in((old, 0, 0)..=(old, u8::MAX, u32::MAX), |_, _| false)?;
    }
    if replacing.is_empty() {
        for &blob in segment.blobs.iter().chain(&segment.unindexed) {
            tables.fts_queue.remove(blob)?;
        }
        for &blob in &segment.unindexed {
            if tables.blobs.get(blob)?.is_some() {
                tables.fts_unindexed.insert(blob, ())?;
            }
        }
    }
    if segment.blobs.is_empty() {
        return Ok(());
    }
    let id = tables.next_counter("next_fts_segment")?;
    for ((kind, trigram), list) in &segment.lists {
        tables.fts_postings.insert((id, *kind, *trigram), list.as_slice())?;
    }
    let mut blobs = Vec::new();
    crate::fts::encode(&segment.blobs, &mut blobs);
    tables.fts_segments.insert(id, (segment.bytes(), blobs.as_slice()))?;
    Ok(())
}

/// `roost reindex`: queues every blob of user `user`'s mailboxes (every
/// stored blob when None), the unindexed ones included. Returns how many.
pub(super) fn enqueue(tables: &mut Tables, user: Option<u32>) -> Result<u64, StoreError> {
    if !search_index() {
        return Ok(0);
    }
    let mut blobs = Vec::new();
    match user {
        None => {
            for entry in tables.blobs.iter()? {
                blobs.push(entry?.0.value());
            }
        }
        Some(user) => {
            let mut mailboxes = Vec::new();
            for entry in tables.mailboxes.range((user, "")..=(user, "\u{10ffff}"))? {
                mailboxes.push(entry?.1.value());
            }
            for mailbox in mailboxes {
                for entry in tables.messages.range((mailbox, 0)..=(mailbox, u32::MAX))? {
                    let (_, record) = entry?;
                    blobs.push(super::MessageRecord::decode(record.value())?.blob);
                }
            }
        }
    }
    blobs.sort_unstable();
    blobs.dedup();
    for &blob in &blobs {
        tables.fts_unindexed.remove(blob)?;
        tables.fts_queue.insert(blob, ())?;
    }
    Ok(blobs.len() as u64)
}

/// One segment as the merge planner sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentInfo {
    pub id: u64,
    /// Bytes of its encoded lists.
    pub bytes: u64,
    pub blobs: Vec<u64>,
}

/// What a search asks of the index: a needle's trigrams, in which kinds of
/// stream (see [`crate::fts::segment::BODY`]).
#[derive(Debug, Clone)]
pub struct Query {
    pub trigrams: Vec<u32>,
    pub kinds: Vec<u8>,
}

impl Reader {
    fn meta_value(&self, key: &str) -> Result<Option<u64>, StoreError> {
        Ok(self.table_if_any(META)?.map(|table| table.get(key)).transpose()?.flatten().map(|value| value.value()))
    }

    /// Every stored blob's id, ascending.
    pub fn blob_ids(&self) -> Result<Vec<u64>, StoreError> {
        let mut ids = Vec::new();
        for entry in self.table(BLOBS)?.iter()? {
            ids.push(entry?.0.value());
        }
        Ok(ids)
    }

    /// Whether the index is kept in this file (it may still be filling).
    pub fn fts_kept(&self) -> Result<bool, StoreError> {
        Ok(self.meta_value(FORMAT_KEY)?.is_some_and(|value| value == format()))
    }

    /// Blobs waiting for the indexer, at most `limit`, from `after` up.
    pub fn fts_waiting(&self, after: u64, limit: usize) -> Result<Vec<u64>, StoreError> {
        let Some(queue) = self.table_if_any(FTS_QUEUE)? else { return Ok(Vec::new()) };
        let mut blobs = Vec::new();
        for entry in queue.range(after..)? {
            if blobs.len() >= limit {
                break;
            }
            blobs.push(entry?.0.value());
        }
        Ok(blobs)
    }

    /// How many blobs wait for the indexer, and how many are unindexed.
    pub fn fts_counts(&self) -> Result<(u64, u64), StoreError> {
        let count = |table: Option<super::rows::ReadRows<u64, ()>>| table.map_or(Ok(0), |table| table.len());
        Ok((count(self.table_if_any(FTS_QUEUE)?)?, count(self.table_if_any(FTS_UNINDEXED)?)?))
    }

    /// Every segment, in id order.
    pub fn fts_segments(&self) -> Result<Vec<SegmentInfo>, StoreError> {
        let Some(table) = self.table_if_any(FTS_SEGMENTS)? else { return Ok(Vec::new()) };
        let mut segments = Vec::new();
        for entry in table.iter()? {
            let (id, value) = entry?;
            let (bytes, list) = value.value();
            let mut decoded = decode(list);
            let blobs: Vec<u64> = decoded.by_ref().collect();
            if decoded.is_corrupt() {
                return Err(StoreError::Corrupt(format!("search index segment {} is damaged", id.value())));
            }
            segments.push(SegmentInfo { id: id.value(), bytes, blobs });
        }
        Ok(segments)
    }

    /// Every list of segment `id`, in key order.
    pub fn fts_lists(&self, id: u64) -> Result<crate::fts::segment::Lists, StoreError> {
        let table = self.table(FTS_POSTINGS)?;
        let mut lists = Vec::new();
        for entry in table.range((id, 0, 0)..=(id, u8::MAX, u32::MAX))? {
            let (key, list) = entry?;
            let (_, kind, trigram) = key.value();
            lists.push(((kind, trigram), list.value().to_vec()));
        }
        Ok(lists)
    }

    /// The blobs that may hold each query's needle: those whose lists
    /// hold every trigram in some kind of stream asked, with every waiting
    /// and unindexed blob; ascending. None for a query when the index is
    /// not kept, is damaged, or more than `limit` blobs would be listed
    /// (the search then scans every message, as without an index).
    pub fn fts_candidates(&self, queries: &[Query], limit: usize) -> Result<Vec<Option<Vec<u64>>>, StoreError> {
        let mut answers = vec![None; queries.len()];
        if !self.fts_kept()? {
            return Ok(answers);
        }
        let segments = self.table(FTS_SEGMENTS)?;
        let postings = self.table(FTS_POSTINGS)?;
        let mut always = Vec::new();
        for table in [FTS_QUEUE, FTS_UNINDEXED] {
            for entry in self.table(table)?.iter()? {
                if always.len() > limit {
                    return Ok(answers);
                }
                always.push(entry?.0.value());
            }
        }
        'queries: for (query, answer) in queries.iter().zip(&mut answers) {
            let mut found = always.clone();
            for segment in segments.iter()? {
                let id = segment?.0.value();
                for &kind in &query.kinds {
                    let mut lists = Vec::with_capacity(query.trigrams.len());
                    for &trigram in &query.trigrams {
                        let Some(list) = postings.get((id, kind, trigram))? else {
                            lists.clear();
                            break;
                        };
                        lists.push(list.value().to_vec());
                    }
                    if lists.is_empty() {
                        continue;
                    }
                    let mut decoders: Vec<_> = lists.iter().map(|list| decode(list)).collect();
                    let ids: Vec<u64> = intersect(decoders.iter_mut().collect::<Vec<_>>()).collect();
                    if decoders.iter().any(crate::fts::Decode::is_corrupt) {
                        continue 'queries;
                    }
                    found.extend(ids);
                    if found.len() > limit {
                        continue 'queries;
                    }
                }
            }
            found.sort_unstable();
            found.dedup();
            *answer = Some(found);
        }
        Ok(answers)
    }
}

/// Stored messages' text checked against their lists, per segment, by
/// `roost check` (a sample: checking every one would read all the mail).
const CHECKED_PER_SEGMENT: usize = 8;

/// `roost check`: every stored blob is covered (queued, unindexed or in a
/// segment), no waiting row names a blob that is gone, every list decodes
/// and names only its segment's blobs, and for a sample of each segment's
/// messages, their text read again gives exactly the trigrams the lists
/// hold for them. Answers a summary line (None when no index is kept) and
/// the problems found.
pub fn verify(reader: &Reader) -> Result<(Option<String>, Vec<String>), StoreError> {
    let mut problems = Vec::new();
    if !reader.fts_kept()? {
        return Ok((None, problems));
    }
    let mut covered = std::collections::HashSet::new();
    let segments = reader.fts_segments()?;
    let chunks = reader.chunks()?;
    let mut indexed = 0u64;
    for segment in &segments {
        let label = format!("search index segment {}", segment.id);
        let listed: std::collections::HashSet<u64> = segment.blobs.iter().copied().collect();
        // The sample: blobs still stored, spread over the segment.
        let step = (segment.blobs.len() / CHECKED_PER_SEGMENT).max(1);
        let mut sample: std::collections::HashMap<u64, std::collections::BTreeSet<(u8, u32)>> =
            std::collections::HashMap::new();
        for (index, &blob) in segment.blobs.iter().enumerate() {
            covered.insert(blob);
            if index % step == 0 && sample.len() < CHECKED_PER_SEGMENT && reader.blob(blob)?.is_some() {
                sample.insert(blob, std::collections::BTreeSet::default());
            }
        }
        indexed += segment.blobs.len() as u64;
        for ((kind, trigram), list) in reader.fts_lists(segment.id)? {
            let mut decoded = decode(&list);
            let mut strangers = 0;
            for blob in decoded.by_ref() {
                if !listed.contains(&blob) {
                    strangers += 1;
                }
                if let Some(held) = sample.get_mut(&blob) {
                    held.insert((kind, trigram));
                }
            }
            if decoded.is_corrupt() {
                problems.push(format!("{label}: list {kind}/{trigram:#x} is damaged"));
            } else if strangers > 0 {
                problems
                    .push(format!("{label}: list {kind}/{trigram:#x} names {strangers} message(s) it does not hold"));
            }
        }
        for (blob, held) in sample {
            let Some(record) = reader.blob(blob)? else { continue };
            let text = crate::fts::walk::index_blob(&chunks, blob, &record, crate::fts::indexer::CAP, &mut 0)?;
            let mut expected = std::collections::BTreeSet::new();
            for (kind, indexed) in [(crate::fts::segment::BODY, text.body), (crate::fts::segment::HEADER, text.header)]
            {
                if let crate::fts::Indexed::Trigrams(trigrams) = indexed {
                    expected.extend(trigrams.into_iter().map(|trigram| (kind, trigram)));
                }
            }
            let missing = expected.difference(&held).count();
            let extra = held.difference(&expected).count();
            if missing > 0 || extra > 0 {
                problems.push(format!(
                    "{label}: message blob {blob}: its text has {missing} trigram(s) its lists lack, and they hold \
                     {extra} it has not (run `roost reindex`)"
                ));
            }
        }
    }
    let queue = reader.fts_waiting(0, usize::MAX)?;
    let unindexed: Vec<u64> = match reader.table_if_any(FTS_UNINDEXED)? {
        Some(table) => table.iter()?.map(|entry| entry.map(|(blob, _)| blob.value())).collect::<Result<_, _>>()?,
        None => Vec::new(),
    };
    for &blob in queue.iter().chain(&unindexed) {
        covered.insert(blob);
        if reader.blob(blob)?.is_none() {
            problems.push(format!("search index: blob {blob} is queued or unindexed but not stored"));
        }
    }
    let missing = reader.blob_ids()?.into_iter().filter(|blob| !covered.contains(blob)).count();
    if missing > 0 {
        problems.push(format!(
            "search index: {missing} stored message(s) neither indexed nor waiting (searches could miss them; \
             run `roost reindex`)"
        ));
    }
    let summary = format!(
        "{indexed} message(s) in {} segment(s), {} waiting, {} unindexed",
        segments.len(),
        queue.len(),
        unindexed.len()
    );
    Ok((Some(summary), problems))
}
