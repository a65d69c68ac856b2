//! Posting lists: strictly ascending ids (blob ids, UIDs) as deltas in
//! LEB128 varints, decoded lazily, intersected and merged as streams.
//!
//! Encoding: the first id as is, then each id less the one before it,
//! less one (ids are strictly ascending, so the gap is at least one):
//! consecutive ids take one byte each. Ids are u64; u32 ones (UIDs) widen.

/// Appends the encoding of `ids` (strictly ascending) to `out`.
///
/// # Panics
/// When `ids` is not strictly ascending: a caller's bug, which would
/// otherwise store a list that decodes to other ids.
pub fn encode(ids: &[u64], out: &mut Vec<u8>) {
    let mut previous: Option<u64> = None;
    for &id in ids {
        let value = match previous {
            None => id,
            Some(before) => {
                assert!(id > before, "posting ids must be strictly ascending");
                id - before - 1
            }
        };
        put_varint(value, out);
        previous = Some(id);
    }
}

/// Appends `id` to an encoded list whose last id is `previous` (None: the
/// list is empty); `id` must be above `previous`.
pub fn push(previous: Option<u64>, id: u64, out: &mut Vec<u8>) {
    match previous {
        None => put_varint(id, out),
        Some(before) => {
            assert!(id > before, "posting ids must be strictly ascending");
            put_varint(id - before - 1, out);
        }
    }
}

fn put_varint(mut value: u64, out: &mut Vec<u8>) {
    while value >= 0x80 {
        out.push(value as u8 | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// The ids of an encoded list, one at a time.
pub fn decode(bytes: &[u8]) -> Decode<'_> {
    Decode { bytes, previous: None, corrupt: false }
}

/// Iterator over an encoded list (see [`decode`]). A damaged list (a
/// varint cut short or too long, an id past u64) ends the iteration and
/// sets [`Decode::is_corrupt`]: a caller that must not lose candidates
/// then treats the list as unusable (scan), never as complete.
#[derive(Debug, Clone)]
pub struct Decode<'a> {
    bytes: &'a [u8],
    previous: Option<u64>,
    corrupt: bool,
}

impl Decode<'_> {
    pub fn is_corrupt(&self) -> bool {
        self.corrupt
    }

    fn varint(&mut self) -> Option<u64> {
        let mut value = 0u64;
        for (index, &byte) in self.bytes.iter().enumerate() {
            let shift = 7 * index as u32;
            let bits = u64::from(byte & 0x7f);
            if shift >= 64 || (shift == 63 && bits > 1) {
                return None;
            }
            value |= bits << shift;
            if byte & 0x80 == 0 {
                self.bytes = &self.bytes[index + 1..];
                return Some(value);
            }
        }
        None
    }
}

impl Iterator for Decode<'_> {
    type Item = u64;

    fn next(&mut self) -> Option<u64> {
        if self.bytes.is_empty() || self.corrupt {
            return None;
        }
        let Some(value) = self.varint() else {
            self.corrupt = true;
            return None;
        };
        let id = match self.previous {
            None => Some(value),
            Some(before) => before.checked_add(value).and_then(|id| id.checked_add(1)),
        };
        let Some(id) = id else {
            self.corrupt = true;
            return None;
        };
        self.previous = Some(id);
        Some(id)
    }
}

/// The ids in every one of `lists` (each strictly ascending), ascending,
/// reading each list only as far as needed. No lists: no ids.
pub fn intersect<I: Iterator<Item = u64>>(lists: Vec<I>) -> Intersection<I> {
    Intersection { done: lists.is_empty(), lists }
}

/// See [`intersect`].
#[derive(Debug)]
pub struct Intersection<I> {
    lists: Vec<I>,
    done: bool,
}

impl<I: Iterator<Item = u64>> Intersection<I> {
    fn advance(&mut self) -> Option<u64> {
        let count = self.lists.len();
        let mut target = self.lists[0].next()?;
        // Lists known to hold `target`; the others are behind it.
        let mut agreed = 1;
        let mut index = 1 % count;
        while agreed < count {
            let list = &mut self.lists[index];
            let found = loop {
                let id = list.next()?;
                if id >= target {
                    break id;
                }
            };
            if found == target {
                agreed += 1;
            } else {
                target = found;
                agreed = 1;
            }
            index = (index + 1) % count;
        }
        Some(target)
    }
}

impl<I: Iterator<Item = u64>> Iterator for Intersection<I> {
    type Item = u64;

    fn next(&mut self) -> Option<u64> {
        if self.done {
            return None;
        }
        let next = self.advance();
        self.done = next.is_none();
        next
    }
}

/// The ids in either of two ascending lists, ascending, each once (TEXT:
/// the body's candidates or the headers').
pub fn union<A: Iterator<Item = u64>, B: Iterator<Item = u64>>(left: A, right: B) -> Union<A, B> {
    Union { left: left.peekable(), right: right.peekable() }
}

/// See [`union`].
pub struct Union<A: Iterator<Item = u64>, B: Iterator<Item = u64>> {
    left: std::iter::Peekable<A>,
    right: std::iter::Peekable<B>,
}

impl<A: Iterator<Item = u64>, B: Iterator<Item = u64>> Iterator for Union<A, B> {
    type Item = u64;

    fn next(&mut self) -> Option<u64> {
        match (self.left.peek().copied(), self.right.peek().copied()) {
            (None, None) => None,
            (Some(_), None) => self.left.next(),
            (None, Some(_)) => self.right.next(),
            (Some(left), Some(right)) => {
                if left <= right {
                    self.left.next();
                }
                if right <= left {
                    self.right.next();
                }
                Some(left.min(right))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    fn encoded(ids: &[u64]) -> Vec<u8> {
        let mut out = Vec::new();
        encode(ids, &mut out);
        out
    }

    #[test]
    fn small_gaps_take_one_byte() {
        assert_eq!(encoded(&[]), Vec::<u8>::new());
        assert_eq!(encoded(&[0]), vec![0]);
        assert_eq!(encoded(&[5, 6, 7, 8]), vec![5, 0, 0, 0]);
        assert_eq!(encoded(&[1, 200]), vec![1, 0xc6, 0x01]);
        assert_eq!(decode(&encoded(&[u64::MAX])).collect::<Vec<_>>(), vec![u64::MAX]);
        assert_eq!(decode(&encoded(&[0, u64::MAX])).collect::<Vec<_>>(), vec![0, u64::MAX]);
    }

    #[test]
    #[should_panic(expected = "strictly ascending")]
    fn unsorted_ids_are_refused() {
        encoded(&[3, 3]);
    }

    #[test]
    fn damaged_lists_say_so() {
        // Cut in the middle of a varint.
        let mut cut = decode(&[1, 0x80]);
        assert_eq!(cut.next(), Some(1));
        assert_eq!(cut.next(), None);
        assert!(cut.is_corrupt());
        // Eleven continuation bytes: past 64 bits.
        let mut long = decode(&[0xff; 11]);
        assert_eq!(long.next(), None);
        assert!(long.is_corrupt());
        // A gap that passes u64::MAX.
        let mut bytes = encoded(&[u64::MAX - 1]);
        bytes.push(5);
        let mut past = decode(&bytes);
        assert_eq!(past.next(), Some(u64::MAX - 1));
        assert_eq!(past.next(), None);
        assert!(past.is_corrupt());
        // A whole list is not corrupt.
        let mut whole = decode(&[1, 2]);
        assert_eq!(whole.by_ref().count(), 2);
        assert!(!whole.is_corrupt());
    }

    #[test]
    fn intersections_and_unions() {
        let none: Vec<std::vec::IntoIter<u64>> = Vec::new();
        assert_eq!(intersect(none).count(), 0);
        let lists = vec![vec![1, 3, 5, 7, 9].into_iter(), vec![3, 4, 5, 9, 10].into_iter(), vec![0, 5, 9].into_iter()];
        assert_eq!(intersect(lists).collect::<Vec<_>>(), vec![5, 9]);
        assert_eq!(intersect(vec![vec![2, 4].into_iter()]).collect::<Vec<_>>(), vec![2, 4]);
        assert_eq!(intersect(vec![vec![2, 4].into_iter(), vec![].into_iter()]).count(), 0);
        assert_eq!(
            union(vec![1, 3, 5].into_iter(), vec![2, 3, 6].into_iter()).collect::<Vec<_>>(),
            vec![1, 2, 3, 5, 6]
        );
        assert_eq!(union(Vec::new().into_iter(), vec![4].into_iter()).collect::<Vec<_>>(), vec![4]);
    }

    fn id_set() -> impl Strategy<Value = BTreeSet<u64>> {
        prop_oneof![
            proptest::collection::btree_set(0u64..64, 0..40),
            proptest::collection::btree_set(0u64..5000, 0..200),
            proptest::collection::btree_set(any::<u64>(), 0..20),
        ]
    }

    proptest! {
        #[test]
        fn decode_inverts_encode(ids in id_set()) {
            let ids: Vec<u64> = ids.into_iter().collect();
            let bytes = encoded(&ids);
            let mut decoded = decode(&bytes);
            prop_assert_eq!(decoded.by_ref().collect::<Vec<_>>(), ids);
            prop_assert!(!decoded.is_corrupt());
        }

        #[test]
        fn intersection_is_the_set_intersection(sets in proptest::collection::vec(id_set(), 1..5)) {
            let expected: Vec<u64> = sets[0]
                .iter()
                .copied()
                .filter(|id| sets.iter().all(|set| set.contains(id)))
                .collect();
            let encodings: Vec<Vec<u8>> =
                sets.iter().map(|set| encoded(&set.iter().copied().collect::<Vec<_>>())).collect();
            let lists: Vec<Decode> = encodings.iter().map(|bytes| decode(bytes)).collect();
            prop_assert_eq!(intersect(lists).collect::<Vec<_>>(), expected);
        }

        #[test]
        fn union_is_the_set_union(left in id_set(), right in id_set()) {
            let expected: Vec<u64> = left.union(&right).copied().collect();
            let merged: Vec<u64> = union(left.into_iter(), right.into_iter()).collect();
            prop_assert_eq!(merged, expected);
        }

        #[test]
        fn damaged_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let ids: Vec<u64> = decode(&bytes).collect();
            prop_assert!(ids.windows(2).all(|pair| pair[0] < pair[1]));
        }
    }
}
