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
use super::schema::{BLOBS, FTS_BLOCKS, FTS_QUEUE, FTS_SEGMENTS, FTS_UNINDEXED, META};
use super::StoreError;
use crate::fts::decode;
use crate::fts::segment::{self, Segment};

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

/// The META value saying the index is kept, and by which fold: the fold
/// lower-cases by the standard library's Unicode tables and decomposes by
/// unicode-normalization's, so either's version changing rebuilds it.
fn format() -> u64 {
    let version =
        |(major, minor, update): (u8, u8, u8)| u64::from(major) << 16 | u64::from(minor) << 8 | u64::from(update);
    FORMAT << 48 | version(char::UNICODE_VERSION) << 24 | version(unicode_normalization::UNICODE_VERSION)
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
    clear(tables)?;
    let mut queued = 0;
    if wanted != 0 {
        for entry in tables.blobs.iter()? {
            let (blob, _) = entry?;
            tables.fts.queue.insert(blob.value(), ())?;
            queued += 1;
        }
    }
    tables.meta.insert(FORMAT_KEY, wanted)?;
    Ok(queued)
}

/// A message's blob was just stored: it waits for the indexer.
pub(super) fn stored(tables: &mut Tables, blob: u64) -> Result<(), StoreError> {
    if search_index() {
        tables.fts.queue.insert(blob, ())?;
    }
    Ok(())
}

/// A blob's last reference went: it waits for nothing any more.
pub(super) fn released(tables: &mut Tables, blob: u64) -> Result<(), StoreError> {
    tables.fts.queue.remove(blob)?;
    tables.fts.unindexed.remove(blob)?;
    Ok(())
}

/// Writes `segment` as a new one; with `replacing`, removes those
/// segments (a merge), else takes its blobs off the queue (an indexing).
pub(super) fn write_segment(tables: &mut Tables, segment: &Segment, replacing: &[u64]) -> Result<(), StoreError> {
    if !search_index() {
        return Ok(());
    }
    for &old in replacing {
        tables.fts.segments.remove(old)?;
        tables.fts.blocks.retain_in((old, 0, 0, 0)..=(old, u8::MAX, u32::MAX, u32::MAX), |_, _| false)?;
    }
    if replacing.is_empty() {
        for &blob in segment.blobs.iter().chain(&segment.unindexed) {
            tables.fts.queue.remove(blob)?;
        }
        for &blob in &segment.unindexed {
            if tables.blobs.get(blob)?.is_some() {
                tables.fts.unindexed.insert(blob, ())?;
            }
        }
    }
    if segment.blobs.is_empty() {
        return Ok(());
    }
    let id = tables.next_counter("next_fts_segment")?;
    for ((kind, trigram, piece), row) in crate::fts::segment::pack(&segment.lists) {
        tables.fts.blocks.insert((id, kind, trigram, piece), row.as_slice())?;
    }
    let mut blobs = Vec::new();
    crate::fts::encode(&segment.blobs, &mut blobs);
    tables.fts.segments.insert(id, (segment.bytes(), blobs.as_slice()))?;
    Ok(())
}

/// Empties the index's tables.
fn clear(tables: &mut Tables) -> Result<(), StoreError> {
    tables.fts.blocks.retain(|_, _| false)?;
    tables.fts.segments.retain(|_, _| false)?;
    tables.fts.unindexed.retain(|_, ()| false)?;
    tables.fts.queue.retain(|_, ()| false)?;
    Ok(())
}

/// `roost reindex`: queues every blob of user `user`'s mailboxes, the
/// unindexed ones included; for everyone (None), the index is dropped
/// and every stored blob queued (a rebuild from nothing). Their entries
/// in older segments stay valid until the indexer supersedes them (see
/// `fts::indexer`'s compaction). Returns how many were queued.
pub(super) fn enqueue(tables: &mut Tables, user: Option<u32>) -> Result<u64, StoreError> {
    if !search_index() {
        return Ok(0);
    }
    let mut blobs = Vec::new();
    match user {
        None => {
            clear(tables)?;
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
        tables.fts.unindexed.remove(blob)?;
        tables.fts.queue.insert(blob, ())?;
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
        let damaged = || StoreError::Corrupt(format!("search index segment {id} is damaged"));
        let table = self.table(FTS_BLOCKS)?;
        let mut lists: crate::fts::segment::Lists = Vec::new();
        for entry in table.range((id, 0, 0, 0)..=(id, u8::MAX, u32::MAX, u32::MAX))? {
            let (key, row) = entry?;
            let (_, kind, trigram, piece) = key.value();
            let row = row.value();
            match row.first() {
                Some(&segment::PIECE) if piece == 0 => lists.push(((kind, trigram), row[1..].to_vec())),
                Some(&segment::PIECE) => match lists.last_mut() {
                    Some((key, list)) if *key == (kind, trigram) => list.extend_from_slice(&row[1..]),
                    _ => return Err(damaged()),
                },
                _ => lists.extend(segment::unpack(row).ok_or_else(damaged)?),
            }
        }
        Ok(lists)
    }

    /// The list of (`kind`, `trigram`) in segment `id`, if any.
    fn fts_list(
        table: &super::rows::ReadRows<(u64, u8, u32, u32), &'static [u8]>,
        id: u64,
        kind: u8,
        trigram: u32,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let damaged = || StoreError::Corrupt(format!("search index segment {id} is damaged"));
        let Some(entry) = table.range((id, 0, 0, 0)..=(id, kind, trigram, u32::MAX))?.next_back() else {
            return Ok(None);
        };
        let (key, row) = entry?;
        let (_, at_kind, at_trigram, _) = key.value();
        let row = row.value();
        if row.first() == Some(&segment::PIECE) {
            if (at_kind, at_trigram) != (kind, trigram) {
                return Ok(None);
            }
            let mut list = Vec::new();
            for entry in table.range((id, kind, trigram, 0)..=(id, kind, trigram, u32::MAX))? {
                list.extend_from_slice(&entry?.1.value()[1..]);
            }
            return Ok(Some(list));
        }
        Ok(segment::find(row, (kind, trigram)).map_err(|()| damaged())?.map(<[u8]>::to_vec))
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
        let blocks = self.table(FTS_BLOCKS)?;
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
                    // Intersected list by list, so a segment where the
                    // needle is absent costs a lookup or two, not all.
                    let mut ids: Option<Vec<u64>> = None;
                    for &trigram in &query.trigrams {
                        let Some(list) = Reader::fts_list(&blocks, id, kind, trigram)? else {
                            ids = Some(Vec::new());
                            break;
                        };
                        let mut decoded = decode(&list);
                        let next: Vec<u64> = match &ids {
                            None => decoded.by_ref().collect(),
                            Some(before) => decoded.by_ref().filter(|id| before.binary_search(id).is_ok()).collect(),
                        };
                        if decoded.is_corrupt() {
                            continue 'queries;
                        }
                        let empty = next.is_empty();
                        ids = Some(next);
                        if empty {
                            break;
                        }
                    }
                    let ids = ids.unwrap_or_default();
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
    // Sorted vectors rather than sets: fewer generic copies in the binary
    // (issue 17's size goal), and check is not in a hurry.
    let mut covered: Vec<u64> = Vec::new();
    let segments = reader.fts_segments()?;
    let chunks = reader.chunks()?;
    let mut indexed = 0u64;
    let bytes: u64 = segments.iter().map(|segment| segment.bytes).sum();
    for segment in &segments {
        let label = format!("search index segment {}", segment.id);
        // The sample: blobs still stored, spread over the segment, with
        // the (kind, trigram) of every list that names them.
        let step = (segment.blobs.len() / CHECKED_PER_SEGMENT).max(1);
        let mut sample: Vec<(u64, Vec<(u8, u32)>)> = Vec::new();
        for (index, &blob) in segment.blobs.iter().enumerate() {
            covered.push(blob);
            if index % step == 0 && sample.len() < CHECKED_PER_SEGMENT && reader.blob(blob)?.is_some() {
                sample.push((blob, Vec::new()));
            }
        }
        indexed += segment.blobs.len() as u64;
        for ((kind, trigram), list) in reader.fts_lists(segment.id)? {
            let mut decoded = decode(&list);
            let mut strangers = 0;
            for blob in decoded.by_ref() {
                if segment.blobs.binary_search(&blob).is_err() {
                    strangers += 1;
                }
                if let Some((_, held)) = sample.iter_mut().find(|(sampled, _)| *sampled == blob) {
                    held.push((kind, trigram));
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
            let mut expected = Vec::new();
            for (kind, indexed) in [(segment::BODY, text.body), (segment::HEADER, text.header)] {
                if let crate::fts::Indexed::Trigrams(trigrams) = indexed {
                    expected.extend(trigrams.into_iter().map(|trigram| (kind, trigram)));
                }
            }
            // Both in (kind, trigram) order: lists are read in key order,
            // and each kind's trigrams come sorted.
            let missing = expected.iter().filter(|key| held.binary_search(key).is_err()).count();
            let extra = held.iter().filter(|key| expected.binary_search(key).is_err()).count();
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
        covered.push(blob);
        if reader.blob(blob)?.is_none() {
            problems.push(format!("search index: blob {blob} is queued or unindexed but not stored"));
        }
    }
    covered.sort_unstable();
    let missing = reader.blob_ids()?.into_iter().filter(|blob| covered.binary_search(blob).is_err()).count();
    if missing > 0 {
        problems.push(format!(
            "search index: {missing} stored message(s) neither indexed nor waiting (searches could miss them; \
             run `roost reindex`)"
        ));
    }
    let mut file_bytes = 0;
    if let Some(table) = reader.table_if_any(FTS_BLOCKS)? {
        file_bytes += table.file_bytes()?;
    }
    if let Some(table) = reader.table_if_any(FTS_SEGMENTS)? {
        file_bytes += table.file_bytes()?;
    }
    let summary = format!(
        "{indexed} message(s) in {} segment(s) ({bytes} byte(s) of lists, {file_bytes} byte(s) of the file), {} \
         waiting, {} unindexed",
        segments.len(),
        queue.len(),
        unindexed.len()
    );
    Ok((Some(summary), problems))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fts::segment::Builder;
    use crate::store::{FlagAction, FlagChange, Flags, NewMessage, Op, Store, UidSet};
    use crate::util::datetime::DateTime;

    use crate::store::reader::tests::with_alice_inbox as with_inbox;

    async fn append(store: &Store, inbox: u64, text: &str) -> u64 {
        let data = text.as_bytes().to_vec();
        let size = data.len() as u64;
        let header_size = text.find("\r\n\r\n").map_or(size, |at| at as u64 + 4);
        let blob = store.write_blob(None, 0, data).await.unwrap();
        let message = NewMessage {
            blob,
            size,
            header_size,
            structure: Vec::new(),
            summary: None,
            preview: None,
            flags: Flags::default(),
            keywords: Vec::new(),
            internal_date: DateTime::now(),
        };
        store.append(inbox, vec![message]).await.unwrap();
        blob
    }

    /// What the indexer does, inline: every waiting blob into one segment.
    async fn index_waiting(store: &Store) {
        let reader = store.read().unwrap();
        let chunks = reader.chunks().unwrap();
        let mut builder = Builder::new();
        for blob in reader.fts_waiting(0, usize::MAX).unwrap() {
            let record = reader.blob(blob).unwrap().unwrap();
            builder.add(blob, crate::fts::walk::index_blob(&chunks, blob, &record, 1 << 16, &mut 0).unwrap());
        }
        drop(reader);
        store.execute(Op::FtsSegment { segment: Box::new(builder.finish()), replacing: Vec::new() }).await.unwrap();
    }

    fn candidates(store: &Store, needle: &str, kinds: &[u8]) -> Option<Vec<u64>> {
        let query = Query { trigrams: crate::fts::needle_trigrams(needle).unwrap(), kinds: kinds.to_vec() };
        store.read().unwrap().fts_candidates(&[query], 1000).unwrap().remove(0)
    }

    fn problems(store: &Store) -> Vec<String> {
        verify(&store.read().unwrap()).unwrap().1
    }

    #[test]
    fn stored_mail_waits_then_is_indexed_and_deleted_mail_never_answers() {
        use crate::fts::segment::{BODY, HEADER};
        with_inbox("lifecycle", |store, inbox| async move {
            let first = append(&store, inbox, "Subject: hello\r\n\r\nA zebra crossing\r\n").await;
            let second =
                append(&store, inbox, "Subject: zebra\r\nX-Note: =?utf-8?q?cr=C3=A8me?=\r\n\r\nplain\r\n").await;
            let third = append(
                &store,
                inbox,
                "Subject: other\r\nMIME-Version: 1.0\r\nContent-Transfer-Encoding: base64\r\n\r\nWmVCUmE=\r\n",
            )
            .await;
            // Waiting: every blob is a candidate, the index cannot miss it.
            assert_eq!(store.read().unwrap().fts_waiting(0, 10).unwrap(), vec![first, second, third]);
            assert_eq!(candidates(&store, "zebra", &[BODY]), Some(vec![first, second, third]));
            assert!(problems(&store).is_empty());
            index_waiting(&store).await;
            assert!(store.read().unwrap().fts_waiting(0, 10).unwrap().is_empty());
            // "WmVCUmE=" is base64 for "ZeBRa": bodies are decoded first.
            assert_eq!(candidates(&store, "ZEBRA", &[BODY]), Some(vec![first, third]));
            assert_eq!(candidates(&store, "zebra", &[HEADER]), Some(vec![second]));
            assert_eq!(candidates(&store, "CRÈME", &[BODY, HEADER]), Some(vec![second]));
            assert_eq!(candidates(&store, "absent", &[BODY, HEADER]), Some(vec![]));
            assert!(problems(&store).is_empty(), "{:?}", problems(&store));
            let summary = verify(&store.read().unwrap()).unwrap().0.unwrap();
            assert!(summary.starts_with("3 message(s) in 1 segment(s)"), "{summary}");
            // Expunged: its queue rows are gone with it, its stale entries
            // name a blob no message has (searches walk messages).
            let deleted = FlagChange {
                action: FlagAction::Add,
                flags: Flags::DELETED,
                keywords: Vec::new(),
                unchanged_since: None,
            };
            store.set_flags(inbox, UidSet(vec![(1, 1)]), deleted).await.unwrap();
            store.expunge(inbox, None).await.unwrap();
            assert!(store.read().unwrap().blob(first).unwrap().is_none());
            assert!(problems(&store).is_empty(), "{:?}", problems(&store));
            // A reindex of everyone starts again from nothing.
            store.execute(Op::FtsEnqueue { user: None }).await.unwrap();
            assert_eq!(store.read().unwrap().fts_waiting(0, 10).unwrap(), vec![second, third]);
            assert!(store.read().unwrap().fts_segments().unwrap().is_empty());
            index_waiting(&store).await;
            assert_eq!(candidates(&store, "zebra", &[BODY]), Some(vec![third]));
        });
    }

    #[test]
    fn eight_small_segments_merge_into_one_that_answers_the_same() {
        use crate::fts::segment::BODY;
        with_inbox("merge", |store, inbox| async move {
            let mut blobs = Vec::new();
            for number in 0..8 {
                let text = format!("Subject: {number}\r\n\r\ncommon words and tag{number}\r\n");
                blobs.push(append(&store, inbox, &text).await);
                index_waiting(&store).await;
            }
            assert_eq!(store.read().unwrap().fts_segments().unwrap().len(), 8);
            let before = candidates(&store, "common", &[BODY]);
            assert_eq!(before, Some(blobs.clone()));
            let planned = crate::fts::indexer::plan_merge(&store.read().unwrap(), 4 << 20, false).unwrap();
            let (replacing, segment) = planned.expect("eight small segments in a row merge");
            assert_eq!(replacing.len(), 8);
            store.execute(Op::FtsSegment { segment: Box::new(segment), replacing }).await.unwrap();
            assert_eq!(store.read().unwrap().fts_segments().unwrap().len(), 1);
            assert_eq!(candidates(&store, "common", &[BODY]), before);
            assert_eq!(candidates(&store, "tag3", &[BODY]), Some(vec![blobs[3]]));
            assert!(problems(&store).is_empty(), "{:?}", problems(&store));
            assert!(crate::fts::indexer::plan_merge(&store.read().unwrap(), 4 << 20, false).unwrap().is_none());
        });
    }

    #[test]
    fn check_finds_mail_neither_indexed_nor_waiting_and_damaged_lists() {
        with_inbox("damage", |store, inbox| async move {
            let blob = append(&store, inbox, "Subject: a\r\n\r\nsome words here\r\n").await;
            index_waiting(&store).await;
            assert!(problems(&store).is_empty());
            let database = store.database();
            // The segment lost: the message is neither indexed nor waiting.
            let transaction = database.begin_write().unwrap();
            let saved: Vec<(u64, (u64, Vec<u8>))> = {
                let mut segments = FTS_SEGMENTS.open(&transaction).unwrap();
                let saved = segments
                    .iter()
                    .unwrap()
                    .map(|entry| {
                        let (id, value) = entry.unwrap();
                        let (bytes, list) = value.value();
                        (id.value(), (bytes, list.to_vec()))
                    })
                    .collect();
                segments.retain(|_, _| false).unwrap();
                saved
            };
            transaction.commit().unwrap();
            let found = problems(&store);
            assert!(found.iter().any(|problem| problem.contains("neither indexed nor waiting")), "{found:?}");
            // Back, but with a list naming a blob its segment does not hold.
            let transaction = database.begin_write().unwrap();
            {
                let mut segments = FTS_SEGMENTS.open(&transaction).unwrap();
                for (id, (bytes, list)) in &saved {
                    segments.insert(*id, (*bytes, list.as_slice())).unwrap();
                }
                let mut blocks = FTS_BLOCKS.open(&transaction).unwrap();
                let (key, row) = {
                    let first = blocks.iter().unwrap().next().unwrap().unwrap();
                    (first.0.value(), first.1.value().to_vec())
                };
                let mut lists = crate::fts::segment::unpack(&row).unwrap();
                lists[0].1.clear();
                crate::fts::encode(&[blob + 1000], &mut lists[0].1);
                let packed = crate::fts::segment::pack(&lists);
                blocks.insert(key, packed[0].1.as_slice()).unwrap();
            }
            transaction.commit().unwrap();
            let found = problems(&store);
            assert!(found.iter().any(|problem| problem.contains("it does not hold")), "{found:?}");
            // And the sample's text no longer agrees with the lists.
            assert!(found.iter().any(|problem| problem.contains("its text has")), "{found:?}");
        });
    }
}
