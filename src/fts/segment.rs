//! A segment of the index: the posting lists of a batch of messages (blob
//! ids ascending), built in memory by the indexer off the executor and
//! written once by the store thread (`store::fts`). Lists are keyed by
//! (stream kind, trigram): [`BODY`] for text parts' bodies, [`HEADER`] for
//! header names and values.

use std::collections::HashMap;

use super::postings;
use super::walk::BlobText;
use super::Indexed;

/// The body streams (BODY, and TEXT's bodies).
pub const BODY: u8 = 0;
/// The header streams (TEXT's headers, header keys outside the summary).
pub const HEADER: u8 = 1;

/// Bytes a list costs in memory beyond its encoded ids (the map's entry,
/// the Vec's header and slack): what [`Builder::bytes`] counts.
const LIST_OVERHEAD: usize = 64;

/// A segment being built: blobs must come in ascending id order.
#[derive(Debug, Default)]
pub struct Builder {
    lists: HashMap<(u8, u32), (u64, Vec<u8>)>,
    blobs: Vec<u64>,
    unindexed: Vec<u64>,
    bytes: usize,
}

/// A segment's lists: (kind, trigram) → encoded blob ids, in key order.
pub type Lists = Vec<((u8, u32), Vec<u8>)>;

/// A built segment, ready to write.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Segment {
    /// Blobs indexed in it, ascending.
    pub blobs: Vec<u64>,
    /// Blobs over the trigram cap (or unreadable): candidates always.
    pub unindexed: Vec<u64>,
    /// (kind, trigram) → encoded blob ids, in key order.
    pub lists: Lists,
}

impl Segment {
    /// Bytes of encoded lists.
    pub fn bytes(&self) -> u64 {
        self.lists.iter().map(|(_, list)| list.len() as u64).sum()
    }
}

impl Builder {
    pub fn new() -> Builder {
        Builder::default()
    }

    /// The last blob added, if any.
    pub fn last(&self) -> Option<u64> {
        self.blobs.last().copied().max(self.unindexed.last().copied())
    }

    /// Adds blob `id` (above every blob added before).
    pub fn add(&mut self, id: u64, text: BlobText) {
        debug_assert!(self.last().is_none_or(|last| id > last));
        if text.unindexed() {
            self.unindexed.push(id);
            return;
        }
        self.blobs.push(id);
        for (kind, indexed) in [(BODY, text.body), (HEADER, text.header)] {
            let Indexed::Trigrams(trigrams) = indexed else { continue };
            for trigram in trigrams {
                self.push(kind, trigram, id);
            }
        }
    }

    /// Marks blob `id` unindexed (unreadable, or over the cap).
    pub fn add_unindexed(&mut self, id: u64) {
        self.unindexed.push(id);
    }

    fn push(&mut self, kind: u8, trigram: u32, id: u64) {
        let entry = self.lists.entry((kind, trigram)).or_insert_with(|| {
            self.bytes += LIST_OVERHEAD;
            (0, Vec::new())
        });
        let before = entry.1.len();
        let previous = (!entry.1.is_empty()).then_some(entry.0);
        postings::push(previous, id, &mut entry.1);
        entry.0 = id;
        self.bytes += entry.1.len() - before;
    }

    /// About how many bytes of memory the segment holds.
    pub fn bytes(&self) -> usize {
        self.bytes + 8 * (self.blobs.len() + self.unindexed.len())
    }

    pub fn is_empty(&self) -> bool {
        self.blobs.is_empty() && self.unindexed.is_empty()
    }

    /// Blobs added so far (indexed or not).
    pub fn len(&self) -> usize {
        self.blobs.len() + self.unindexed.len()
    }

    pub fn finish(mut self) -> Segment {
        // Keys sorted as numbers (a sort the binary has anyway), then
        // their lists taken out in that order.
        let mut keys: Vec<u64> =
            self.lists.keys().map(|&(kind, trigram)| u64::from(kind) << 32 | u64::from(trigram)).collect();
        keys.sort_unstable();
        let lists = keys
            .into_iter()
            .filter_map(|key| {
                let key = ((key >> 32) as u8, key as u32);
                self.lists.remove(&key).map(|(_, list)| (key, list))
            })
            .collect();
        Segment { blobs: self.blobs, unindexed: self.unindexed, lists }
    }
}

/// Merges segments' lists (each in key order) into one, keeping only the
/// blobs `keep` accepts: for merging small segments and dropping deleted
/// mail's ids. Ids may interleave between segments (a reindex indexes old
/// mail again), so lists are united, not concatenated. None: a list is
/// damaged.
pub fn merge(segments: Vec<Lists>, blobs: Vec<u64>, keep: impl Fn(u64) -> bool) -> Option<Segment> {
    // Every segment's lists are in key order: merge them as sorted
    // streams (no sort: fewer generic copies in the binary), uniting the
    // lists of equal keys.
    let mut heads: Vec<_> = segments.into_iter().map(|lists| lists.into_iter().peekable()).collect();
    let mut united: Vec<((u8, u32), Vec<u64>)> = Vec::new();
    while let Some(key) = heads.iter_mut().filter_map(|head| head.peek().map(|(key, _)| *key)).min() {
        let mut merged: Vec<u64> = Vec::new();
        for head in &mut heads {
            let Some((_, list)) = head.next_if(|(at, _)| *at == key) else { continue };
            let mut decoded = postings::decode(&list);
            let ids: Vec<u64> = decoded.by_ref().filter(|&id| keep(id)).collect();
            if decoded.is_corrupt() {
                return None;
            }
            merged =
                if merged.is_empty() { ids } else { postings::union(merged.into_iter(), ids.into_iter()).collect() };
        }
        if !merged.is_empty() {
            united.push((key, merged));
        }
    }
    let mut blobs: Vec<u64> = blobs.into_iter().filter(|&id| keep(id)).collect();
    blobs.sort_unstable();
    blobs.dedup();
    let lists = united
        .into_iter()
        .map(|(key, ids)| {
            let mut list = Vec::new();
            postings::encode(&ids, &mut list);
            (key, list)
        })
        .collect();
    Some(Segment { blobs, unindexed: Vec::new(), lists })
}

/// Bytes of one stored row of a segment's lists at most (with its tag
/// byte): rows fill 4 KiB pages of redb. One redb row per list costs more
/// than the lists themselves (measured: 1.09 GB of file for 271 MB of
/// lists, 100,000 messages), so lists are packed into rows this big.
pub const BLOCK: usize = 3_900;

/// The first byte of a row: [`PACKED`] holds whole lists, each `kind`,
/// `trigram` (4 bytes, big-endian), the list's length (a varint) and the
/// list; [`PIECE`] holds one piece of a list longer than a row, the
/// list's key and the piece's number in the row's key.
pub const PACKED: u8 = 0;
pub const PIECE: u8 = 1;

/// A stored row of a segment: (kind, trigram, piece) of its first list, and
/// its bytes.
pub type Row = ((u8, u32, u32), Vec<u8>);

/// Packs lists (in key order) into rows of at most [`BLOCK`] bytes.
pub fn pack(lists: &Lists) -> Vec<Row> {
    let mut rows = Vec::new();
    let mut current: Option<Row> = None;
    for ((kind, trigram), list) in lists {
        let mut length = Vec::new();
        postings::push(None, list.len() as u64, &mut length);
        let size = 5 + length.len() + list.len();
        if size + 1 > BLOCK {
            rows.extend(current.take());
            for (number, piece) in list.chunks(BLOCK - 1).enumerate() {
                let mut bytes = Vec::with_capacity(piece.len() + 1);
                bytes.push(PIECE);
                bytes.extend_from_slice(piece);
                rows.push(((*kind, *trigram, number as u32), bytes));
            }
            continue;
        }
        if current.as_ref().is_some_and(|(_, bytes)| bytes.len() + size > BLOCK) {
            rows.extend(current.take());
        }
        let (_, bytes) = current.get_or_insert_with(|| ((*kind, *trigram, 0), vec![PACKED]));
        bytes.push(*kind);
        bytes.extend_from_slice(&trigram.to_be_bytes());
        bytes.extend_from_slice(&length);
        bytes.extend_from_slice(list);
    }
    rows.extend(current);
    rows
}

/// Hands each list of a packed row to `visit` (its key and encoded ids),
/// until `visit` says true. Err when the row is damaged.
fn walk_packed<'a>(row: &'a [u8], mut visit: impl FnMut((u8, u32), &'a [u8]) -> bool) -> Result<(), ()> {
    let Some((&PACKED, mut rest)) = row.split_first() else { return Err(()) };
    while let Some((&kind, after)) = rest.split_first() {
        let trigram = u32::from_be_bytes(after.get(..4).ok_or(())?.try_into().map_err(|_| ())?);
        let mut decoded = postings::decode(&after[4..]);
        let length = usize::try_from(decoded.next().ok_or(())?).map_err(|_| ())?;
        let start = after.len() - decoded.remaining();
        let list = after.get(start..start.checked_add(length).ok_or(())?).ok_or(())?;
        if visit((kind, trigram), list) {
            return Ok(());
        }
        rest = &after[start + length..];
    }
    Ok(())
}

/// The lists of a packed row, in order; None when it is damaged.
pub fn unpack(row: &[u8]) -> Option<Lists> {
    let mut lists = Vec::new();
    walk_packed(row, |key, list| {
        lists.push((key, list.to_vec()));
        false
    })
    .ok()?;
    Some(lists)
}

/// The list of `key` in a packed row, if it holds one; Err when the row
/// is damaged.
pub fn find(row: &[u8], key: (u8, u32)) -> Result<Option<&[u8]>, ()> {
    let mut found = None;
    walk_packed(row, |at, list| {
        if at == key {
            found = Some(list);
        }
        at >= key
    })?;
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(body: &[u32], header: &[u32]) -> BlobText {
        BlobText { body: Indexed::Trigrams(body.to_vec()), header: Indexed::Trigrams(header.to_vec()) }
    }

    fn ids(segment: &Segment, key: (u8, u32)) -> Vec<u64> {
        let list = &segment.lists.iter().find(|(found, _)| *found == key).unwrap().1;
        postings::decode(list).collect()
    }

    #[test]
    fn lists_hold_each_blob_under_its_trigrams() {
        let mut builder = Builder::new();
        builder.add(3, text(&[1, 2], &[2]));
        builder.add(7, text(&[2], &[]));
        builder.add(9, BlobText { body: Indexed::Unindexed, header: Indexed::Trigrams(vec![1]) });
        assert_eq!(builder.last(), Some(9));
        let segment = builder.finish();
        assert_eq!(segment.blobs, vec![3, 7]);
        assert_eq!(segment.unindexed, vec![9]);
        assert_eq!(ids(&segment, (BODY, 1)), vec![3]);
        assert_eq!(ids(&segment, (BODY, 2)), vec![3, 7]);
        assert_eq!(ids(&segment, (HEADER, 2)), vec![3]);
        assert_eq!(segment.lists.len(), 3);
    }

    #[test]
    fn merging_unites_lists_and_drops_deleted_blobs() {
        let mut first = Builder::new();
        first.add(2, text(&[5], &[]));
        first.add(8, text(&[5, 6], &[]));
        let mut second = Builder::new();
        second.add(4, text(&[5], &[6]));
        let (first, second) = (first.finish(), second.finish());
        let blobs = [first.blobs.clone(), second.blobs.clone()].concat();
        let merged = merge(vec![first.lists, second.lists], blobs, |id| id != 8).unwrap();
        assert_eq!(merged.blobs, vec![2, 4]);
        assert_eq!(ids(&merged, (BODY, 5)), vec![2, 4]);
        assert_eq!(ids(&merged, (HEADER, 6)), vec![4]);
        assert!(merged.lists.iter().all(|(key, _)| *key != (BODY, 6)), "a list left empty is dropped");
        assert!(merge(vec![vec![((BODY, 1), vec![0x80])]], vec![], |_| true).is_none());
    }

    proptest::proptest! {
        /// A damaged row is refused or read as some lists, never a panic.
        #[test]
        fn damaged_rows_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
            let _ = unpack(&bytes);
            let _ = find(&bytes, (0, 0));
            let mut packed = vec![PACKED];
            packed.extend_from_slice(&bytes);
            let _ = unpack(&packed);
            let _ = find(&packed, (1, u32::MAX));
        }

        /// Packed rows give back every list, in order, whatever their sizes.
        #[test]
        fn packing_keeps_every_list(sizes in proptest::collection::vec(0usize..9_000, 0..40)) {
            let lists: Lists = sizes
                .iter()
                .enumerate()
                .map(|(index, &size)| (((index % 2) as u8, index as u32 * 7), (0..size).map(|byte| byte as u8).collect()))
                .collect();
            let mut lists = lists;
            lists.sort_by_key(|(key, _)| *key);
            let rows = pack(&lists);
            let mut back: Lists = Vec::new();
            for ((kind, trigram, number), bytes) in &rows {
                proptest::prop_assert!(bytes.len() <= BLOCK);
                if bytes[0] == PIECE {
                    if *number == 0 {
                        back.push(((*kind, *trigram), Vec::new()));
                    }
                    back.last_mut().unwrap().1.extend_from_slice(&bytes[1..]);
                } else {
                    proptest::prop_assert_eq!((*kind, *trigram, *number), {
                        let first = unpack(bytes).unwrap()[0].0;
                        (first.0, first.1, 0)
                    });
                    for (key, list) in unpack(bytes).unwrap() {
                        proptest::prop_assert_eq!(find(bytes, key).unwrap(), Some(list.as_slice()));
                        back.push((key, list));
                    }
                }
            }
            proptest::prop_assert_eq!(back, lists);
        }
    }
}
