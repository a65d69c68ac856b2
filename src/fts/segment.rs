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

    pub fn finish(self) -> Segment {
        let mut lists: Lists =
            self.lists.into_iter().map(|(key, (_, mut list))| (key, std::mem::take(&mut list))).collect();
        lists.sort_unstable_by_key(|(key, _)| *key);
        Segment { blobs: self.blobs, unindexed: self.unindexed, lists }
    }
}

/// Merges segments' lists (each in key order) into one, keeping only the
/// blobs `keep` accepts: for merging small segments and dropping deleted
/// mail's ids. Ids may interleave between segments (a reindex indexes old
/// mail again), so lists are united, not concatenated. None: a list is
/// damaged.
pub fn merge(segments: Vec<Lists>, blobs: Vec<u64>, keep: impl Fn(u64) -> bool) -> Option<Segment> {
    let mut by_key: std::collections::BTreeMap<(u8, u32), Vec<u64>> = std::collections::BTreeMap::new();
    for lists in segments {
        for (key, list) in lists {
            let mut decoded = postings::decode(&list);
            let ids: Vec<u64> = decoded.by_ref().filter(|&id| keep(id)).collect();
            if decoded.is_corrupt() {
                return None;
            }
            if ids.is_empty() {
                continue;
            }
            let merged = by_key.entry(key).or_default();
            if merged.is_empty() {
                *merged = ids;
            } else {
                let both: Vec<u64> = postings::union(merged.iter().copied(), ids.into_iter()).collect();
                *merged = both;
            }
        }
    }
    let mut blobs: Vec<u64> = blobs.into_iter().filter(|&id| keep(id)).collect();
    blobs.sort_unstable();
    blobs.dedup();
    let lists = by_key
        .into_iter()
        .map(|(key, ids)| {
            let mut list = Vec::new();
            postings::encode(&ids, &mut list);
            (key, list)
        })
        .collect();
    Some(Segment { blobs, unindexed: Vec::new(), lists })
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
}
