//! Typed tables over redb tables of plain bytes.
//!
//! redb compiles its B-tree (insert, delete, rebalance, range cursors) once
//! for every distinct key and value type of a table. With a type per table
//! that was more than a third of the binary's code, so the small tables
//! all share one redb type, bytes to bytes, and this module gives them
//! their types back: [`Rows`] encodes keys and values on the way in and
//! decodes them on the way out, in a few inlined lines per call.
//!
//! Keys are encoded so that their bytes sort as the values do: integers big
//! endian, tuples as their fields one after the other, a string or byte
//! string only as the last field (it runs to the end). A range of typed keys
//! is then the same range of bytes, so ranges, `first`/`last` and deletions
//! by range keep their meaning. Values use the same encoding (order does not
//! matter there).
//!
//! The big tables (messages, summaries, blobs and their chunks) keep redb's
//! own typed tables: two more type pairs, and no rewrite of the mail when a
//! database from before this layout is opened (`store::migrate`).

use std::marker::PhantomData;
use std::ops::{Bound, RangeBounds};

use redb::{ReadOnlyTable, ReadTransaction, ReadableTable, StorageError, WriteTransaction};

/// The redb type every [`Rows`] table has.
pub type Bytes = &'static [u8];

/// A key or value type stored as bytes (see the module docs).
pub trait Field: 'static {
    /// The decoded value, borrowing the stored bytes where it can.
    type Of<'a>;
    /// Appends the encoding of `value`.
    fn put(value: &Self::Of<'_>, out: &mut Vec<u8>);
    /// Decodes a value from the front of `bytes`, returning the rest. A
    /// variable-width type takes every byte. Never panics: short or bad
    /// bytes (a file damaged past redb's checksums) decode to zeros or
    /// U+FFFD, and `roost check` is what reports damage.
    fn take(bytes: &[u8]) -> (Self::Of<'_>, &[u8]);
}

macro_rules! integer_field {
    ($($type:ty),*) => {$(
        impl Field for $type {
            type Of<'a> = $type;
            fn put(value: &$type, out: &mut Vec<u8>) {
                out.extend_from_slice(&value.to_be_bytes());
            }
            fn take(bytes: &[u8]) -> ($type, &[u8]) {
                const WIDTH: usize = std::mem::size_of::<$type>();
                let mut buffer = [0u8; WIDTH];
                let width = WIDTH.min(bytes.len());
                buffer[..width].copy_from_slice(&bytes[..width]);
                (<$type>::from_be_bytes(buffer), &bytes[width..])
            }
        }
    )*};
}
integer_field!(u8, u32, u64, i64);

impl Field for () {
    type Of<'a> = ();
    fn put((): &(), _: &mut Vec<u8>) {}
    fn take(bytes: &[u8]) -> ((), &[u8]) {
        ((), bytes)
    }
}

impl Field for &'static [u8] {
    type Of<'a> = &'a [u8];
    fn put(value: &&[u8], out: &mut Vec<u8>) {
        out.extend_from_slice(value);
    }
    fn take(bytes: &[u8]) -> (&[u8], &[u8]) {
        (bytes, &[])
    }
}

impl Field for &'static str {
    type Of<'a> = &'a str;
    fn put(value: &&str, out: &mut Vec<u8>) {
        out.extend_from_slice(value.as_bytes());
    }
    fn take(bytes: &[u8]) -> (&str, &[u8]) {
        (std::str::from_utf8(bytes).unwrap_or("\u{fffd}"), &[])
    }
}

macro_rules! tuple_field {
    ($($name:ident)+) => {
        impl<$($name: Field),+> Field for ($($name,)+) {
            type Of<'a> = ($($name::Of<'a>,)+);
            #[allow(non_snake_case)]
            fn put(value: &Self::Of<'_>, out: &mut Vec<u8>) {
                let ($($name,)+) = value;
                $($name::put($name, out);)+
            }
            #[allow(non_snake_case)]
            fn take(bytes: &[u8]) -> (Self::Of<'_>, &[u8]) {
                $(let ($name, bytes) = $name::take(bytes);)+
                (($($name,)+), bytes)
            }
        }
    };
}
tuple_field!(A B);
tuple_field!(A B C);
tuple_field!(A B C D);

pub(super) fn encode<T: Field>(value: &T::Of<'_>) -> Vec<u8> {
    let mut out = Vec::with_capacity(16);
    T::put(value, &mut out);
    out
}

fn decode<T: Field>(bytes: &[u8]) -> T::Of<'_> {
    T::take(bytes).0
}

/// A table's name and types: what [`TableDefinition`](redb::TableDefinition)
/// is for redb's own tables.
pub struct Def<K, V> {
    name: &'static str,
    types: PhantomData<fn() -> (K, V)>,
}

impl<K, V> Clone for Def<K, V> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<K, V> Copy for Def<K, V> {}

impl<K: Field, V: Field> Def<K, V> {
    pub const fn new(name: &'static str) -> Def<K, V> {
        Def { name, types: PhantomData }
    }

    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The redb table underneath.
    pub fn raw(&self) -> redb::TableDefinition<'static, Bytes, Bytes> {
        redb::TableDefinition::new(self.name)
    }

    /// Opens (creating it if missing) the table for writing.
    pub fn open<'txn>(&self, transaction: &'txn WriteTransaction) -> Result<Rows<'txn, K, V>, redb::TableError> {
        Ok(Typed { inner: transaction.open_table(self.raw())?, types: PhantomData })
    }

    /// Opens the table in a read snapshot.
    pub fn open_read(&self, transaction: &ReadTransaction) -> Result<ReadRows<K, V>, redb::TableError> {
        Ok(Typed { inner: transaction.open_table(self.raw())?, types: PhantomData })
    }
}

/// Either kind of table definition a reader opens: redb's typed ones (the
/// big tables) and [`Def`]s.
pub trait Opens {
    type Table;
    fn open_read(&self, transaction: &ReadTransaction) -> Result<Self::Table, redb::TableError>;
}

impl<K: redb::Key + 'static, V: redb::Value + 'static> Opens for redb::TableDefinition<'static, K, V> {
    type Table = ReadOnlyTable<K, V>;
    fn open_read(&self, transaction: &ReadTransaction) -> Result<ReadOnlyTable<K, V>, redb::TableError> {
        transaction.open_table(*self)
    }
}

impl<K: Field, V: Field> Opens for Def<K, V> {
    type Table = ReadRows<K, V>;
    fn open_read(&self, transaction: &ReadTransaction) -> Result<ReadRows<K, V>, redb::TableError> {
        Def::open_read(self, transaction)
    }
}

/// A typed view of a bytes table; `T` is redb's table (writable or not).
pub struct Typed<T, K, V> {
    inner: T,
    types: PhantomData<fn() -> (K, V)>,
}

/// A [`Def`] table opened for writing.
pub type Rows<'txn, K, V> = Typed<redb::Table<'txn, Bytes, Bytes>, K, V>;
/// A [`Def`] table in a read snapshot.
pub type ReadRows<K, V> = Typed<ReadOnlyTable<Bytes, Bytes>, K, V>;

/// A stored key or value; [`Guard::value`] decodes it.
pub struct Guard<'a, T> {
    inner: redb::AccessGuard<'a, Bytes>,
    types: PhantomData<fn() -> T>,
}

impl<'a, T: Field> Guard<'a, T> {
    fn new(inner: redb::AccessGuard<'a, Bytes>) -> Guard<'a, T> {
        Guard { inner, types: PhantomData }
    }

    pub fn value(&self) -> T::Of<'_> {
        decode::<T>(self.inner.value())
    }
}

type Entry<'a, K, V> = (Guard<'a, K>, Guard<'a, V>);

/// The rows of a range, in key order (or reversed).
pub struct Range<'a, K, V> {
    inner: redb::Range<'a, Bytes, Bytes>,
    types: PhantomData<fn() -> (K, V)>,
}

fn entry<'a, K: Field, V: Field>(
    item: Result<(redb::AccessGuard<'a, Bytes>, redb::AccessGuard<'a, Bytes>), StorageError>,
) -> Result<Entry<'a, K, V>, StorageError> {
    item.map(|(key, value)| (Guard::new(key), Guard::new(value)))
}

impl<'a, K: Field, V: Field> Iterator for Range<'a, K, V> {
    type Item = Result<Entry<'a, K, V>, StorageError>;
    fn next(&mut self) -> Option<Self::Item> {
        self.inner.next().map(entry)
    }
}

impl<K: Field, V: Field> DoubleEndedIterator for Range<'_, K, V> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.inner.next_back().map(entry)
    }
}

fn encode_bound<K: Field>(bound: Bound<&K::Of<'_>>) -> Bound<Vec<u8>> {
    match bound {
        Bound::Included(key) => Bound::Included(encode::<K>(key)),
        Bound::Excluded(key) => Bound::Excluded(encode::<K>(key)),
        Bound::Unbounded => Bound::Unbounded,
    }
}

fn encode_range<'k, K: Field>(range: &impl RangeBounds<K::Of<'k>>) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
    (encode_bound::<K>(range.start_bound()), encode_bound::<K>(range.end_bound()))
}

fn as_slices(bounds: &(Bound<Vec<u8>>, Bound<Vec<u8>>)) -> (Bound<&[u8]>, Bound<&[u8]>) {
    (bounds.0.as_ref().map(Vec::as_slice), bounds.1.as_ref().map(Vec::as_slice))
}

impl<T: ReadableTable<Bytes, Bytes>, K: Field, V: Field> Typed<T, K, V> {
    pub fn len(&self) -> Result<u64, StorageError> {
        self.inner.len()
    }

    /// Bytes of the file the table takes: its rows, the B-tree's own
    /// bytes, and the unused room in its pages.
    pub fn file_bytes(&self) -> Result<u64, StorageError> {
        let stats = self.inner.stats()?;
        Ok(stats.stored_bytes() + stats.metadata_bytes() + stats.fragmented_bytes())
    }
}

/// Reads in a snapshot: what they return keeps the snapshot alive, not
/// the table (redb's `ReadOnlyTable` does the same).
impl<K: Field, V: Field> ReadRows<K, V> {
    pub fn get(&self, key: K::Of<'_>) -> Result<Option<Guard<'static, V>>, StorageError> {
        let key = encode::<K>(&key);
        Ok(self.inner.get(key.as_slice())?.map(Guard::new))
    }

    pub fn range<'k>(&self, range: impl RangeBounds<K::Of<'k>>) -> Result<Range<'static, K, V>, StorageError> {
        let bounds = encode_range::<K>(&range);
        Ok(Range { inner: self.inner.range::<&[u8]>(as_slices(&bounds))?, types: PhantomData })
    }

    /// Every row, in key order (redb's name for it).
    #[allow(clippy::iter_not_returning_iterator)]
    pub fn iter(&self) -> Result<Range<'static, K, V>, StorageError> {
        Ok(Range { inner: self.inner.range::<&[u8]>(..)?, types: PhantomData })
    }
}

impl<K: Field, V: Field> Rows<'_, K, V> {
    pub fn get(&self, key: K::Of<'_>) -> Result<Option<Guard<'_, V>>, StorageError> {
        let key = encode::<K>(&key);
        Ok(self.inner.get(key.as_slice())?.map(Guard::new))
    }

    pub fn range<'k>(&self, range: impl RangeBounds<K::Of<'k>>) -> Result<Range<'_, K, V>, StorageError> {
        let bounds = encode_range::<K>(&range);
        Ok(Range { inner: self.inner.range::<&[u8]>(as_slices(&bounds))?, types: PhantomData })
    }

    /// Every row, in key order (redb's name for it).
    #[allow(clippy::iter_not_returning_iterator)]
    pub fn iter(&self) -> Result<Range<'_, K, V>, StorageError> {
        Ok(Range { inner: self.inner.range::<&[u8]>(..)?, types: PhantomData })
    }

    /// Stores `value` under `key`, returning what was there.
    pub fn insert(&mut self, key: K::Of<'_>, value: V::Of<'_>) -> Result<Option<Guard<'_, V>>, StorageError> {
        let key = encode::<K>(&key);
        let value = encode::<V>(&value);
        Ok(self.inner.insert(key.as_slice(), value.as_slice())?.map(Guard::new))
    }

    /// Removes the row of `key`, returning its value.
    pub fn remove(&mut self, key: K::Of<'_>) -> Result<Option<Guard<'_, V>>, StorageError> {
        let key = encode::<K>(&key);
        Ok(self.inner.remove(key.as_slice())?.map(Guard::new))
    }

    /// Keeps the rows `keep` says yes to.
    pub fn retain(&mut self, mut keep: impl FnMut(K::Of<'_>, V::Of<'_>) -> bool) -> Result<(), StorageError> {
        // One closure type for redb, whatever the caller's: redb compiles
        // its deletion walk once per predicate type.
        let keep: &mut dyn FnMut(&[u8], &[u8]) -> bool = &mut |key, value| keep(decode::<K>(key), decode::<V>(value));
        self.inner.retain(keep)
    }

    /// Keeps the rows of `range` that `keep` says yes to.
    pub fn retain_in<'k>(
        &mut self,
        range: impl RangeBounds<K::Of<'k>>,
        mut keep: impl FnMut(K::Of<'_>, V::Of<'_>) -> bool,
    ) -> Result<(), StorageError> {
        let bounds = encode_range::<K>(&range);
        let keep: &mut dyn FnMut(&[u8], &[u8]) -> bool = &mut |key, value| keep(decode::<K>(key), decode::<V>(value));
        self.inner.retain_in::<&[u8], _>(as_slices(&bounds), keep)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order_kept<'a, K: Field>(a: K::Of<'a>, b: K::Of<'a>) -> bool
    where
        K::Of<'a>: Ord,
    {
        a.cmp(&b) == encode::<K>(&a).cmp(&encode::<K>(&b))
    }

    #[test]
    fn encodings_sort_as_the_values_do() {
        assert!(order_kept::<(u32, &str)>((1, "zz"), (2, "")));
        assert!(order_kept::<(u32, &str)>((2, "a"), (2, "a/b")));
        assert!(order_kept::<(u64, u64, u32)>((1, 256, 0), (1, 255, u32::MAX)));
        assert!(order_kept::<(u64, u8, u32)>((u64::MAX, 0, 0), (0, u8::MAX, u32::MAX)));
        assert!(order_kept::<(u64, &[u8])>((7, &[0xff][..]), (8, &[][..])));
    }

    #[test]
    fn values_round_trip() {
        let key = (3u64, 9u32, 1u64 << 40, 77u32);
        assert_eq!(decode::<(u64, u32, u64, u32)>(&encode::<(u64, u32, u64, u32)>(&key)), key);
        assert_eq!(decode::<i64>(&encode::<i64>(&-5)), -5);
        assert_eq!(decode::<(u64, u64)>(&encode::<(u64, u64)>(&(1, 2))), (1, 2));
        assert_eq!(decode::<(u32, &str)>(&encode::<(u32, &str)>(&(4, "INBOX"))), (4, "INBOX"));
        // Damage decodes, it does not panic.
        assert_eq!(decode::<(u64, u32)>(&[1, 2]), (0x0102_0000_0000_0000, 0));
        assert_eq!(decode::<&str>(&[0xff]), "\u{fffd}");
    }

    proptest::proptest! {
        #[test]
        fn key_order_is_byte_order(a: (u32, String), b: (u32, String), c: (u64, u8, u32), d: (u64, u8, u32)) {
            proptest::prop_assert!(order_kept::<(u32, &str)>((a.0, &a.1), (b.0, &b.1)));
            proptest::prop_assert!(order_kept::<(u64, u8, u32)>(c, d));
        }
    }
}
