//! Moving a database written before `store::rows` to its layout.
//!
//! Until 2026-12-07 (roost f4b3c7f and before) every table had its own redb
//! key and value types. Most now share one (bytes to bytes, see
//! `store::rows`), and redb keeps each table's type names in the file and
//! refuses to open a table with other ones. So the first start of a newer roost on an older file moves each
//! small table, in the one transaction that opens the store: the old table
//! is renamed aside, its rows are written into the new one, and the old one
//! is deleted. Either all of it commits or none does: a crash or a full
//! disk in the middle leaves the old file, which the next start moves
//! again. The mail itself (messages, summaries, blobs and their chunks)
//! kept its types and is not touched: the move rewrites per-message index
//! rows of a few dozen bytes (changes, flags, save dates), not the mail.
//!
//! An older roost cannot open a moved file (it says which table's types
//! differ); restore the backup taken before the upgrade to go back.

use std::cell::RefCell;
use std::cmp::Ordering;

use redb::{ReadableTable, TableDefinition, TableError, TableHandle, TypeName, WriteTransaction};

use super::StoreError;

/// The old types of the table being moved, which [`OldKey`] and
/// [`OldValue`] stand for while it is read.
struct Shape {
    key: TypeName,
    key_width: Option<usize>,
    compare: fn(&[u8], &[u8]) -> Ordering,
    value: TypeName,
    value_width: Option<usize>,
}

thread_local! {
    static SHAPE: RefCell<Option<Shape>> = const { RefCell::new(None) };
}

fn shape<T>(read: impl FnOnce(&Shape) -> T) -> T {
    SHAPE.with(|shape| read(shape.borrow().as_ref().expect("a table shape is set while a table is moved")))
}

/// Makes [`OldKey`] and [`OldValue`] stand for `K` and `V`.
fn set_shape<K: redb::Key + 'static, V: redb::Value + 'static>() {
    let shape = Shape {
        key: K::type_name(),
        key_width: K::fixed_width(),
        compare: K::compare,
        value: V::type_name(),
        value_width: V::fixed_width(),
    };
    SHAPE.with(|current| *current.borrow_mut() = Some(shape));
}

/// Any old key (`Raw<true>`) or value (`Raw<false>`), as its stored
/// bytes. redb compiles its B-tree reader once per key and value type;
/// reading all 28 old tables through their own types cost about 400 KB of
/// code (x86-64) for a move done once. These pass the old table's type
/// names, widths and key order through from [`Shape`] (which redb checks
/// when the table is opened), so the reader is compiled once and each table
/// decodes its rows with its old types' `from_bytes` alone.
#[derive(Debug)]
enum Raw<const KEY: bool> {}
type OldKey = Raw<true>;
type OldValue = Raw<false>;

impl<const KEY: bool> redb::Value for Raw<KEY> {
    type SelfType<'a> = &'a [u8];
    type AsBytes<'a> = &'a [u8];
    fn fixed_width() -> Option<usize> {
        shape(|shape| if KEY { shape.key_width } else { shape.value_width })
    }
    fn from_bytes<'a>(data: &'a [u8]) -> &'a [u8]
    where
        Self: 'a,
    {
        data
    }
    fn as_bytes<'a, 'b: 'a>(value: &'a &'b [u8]) -> &'a [u8]
    where
        Self: 'b,
    {
        value
    }
    fn type_name() -> TypeName {
        shape(|shape| if KEY { shape.key.clone() } else { shape.value.clone() })
    }
}

impl redb::Key for OldKey {
    fn compare(data1: &[u8], data2: &[u8]) -> Ordering {
        shape(|shape| (shape.compare)(data1, data2))
    }
}

type Old<'a> = TableDefinition<'a, OldKey, OldValue>;

/// Whether the table `name` still has the types [`set_shape`] was given
/// (the layout before `store::rows`).
fn is_old(transaction: &WriteTransaction, name: &str) -> Result<bool, StoreError> {
    match transaction.open_table(Old::new(name)) {
        Ok(_) => Ok(true),
        Err(TableError::TableTypeMismatch { .. }) => Ok(false),
        Err(error) => Err(error.into()),
    }
}

/// What a move did: tables moved and rows written.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Moved {
    pub tables: usize,
    pub rows: u64,
}

/// [`run`] in a transaction of its own, committed: for a file opened
/// outside the store thread (`roost check --repair`, a restored backup).
pub(super) fn upgrade(database: &redb::Database) -> Result<Moved, StoreError> {
    let transaction = database.begin_write()?;
    let moved = run(&transaction)?;
    transaction.commit()?;
    Ok(moved)
}

macro_rules! legacy_tables {
    ($($name:ident: $key:ty => $value:ty,)*) => {
        /// Moves every table still in its old layout to the new one,
        /// inside `transaction` (which must be the first thing done to the
        /// file: no table may be open).
        pub(super) fn run(transaction: &WriteTransaction) -> Result<Moved, StoreError> {
            let present: Vec<String> =
                transaction.list_tables()?.map(|table| table.name().to_string()).collect();
            let mut moved = Moved::default();
            $({
                let new = super::schema::$name;
                let name = new.name();
                set_shape::<$key, $value>();
                if present.iter().any(|present| present == name) && is_old(transaction, name)? {
                    let parked = format!("{name}.before-rows");
                    transaction.rename_table(Old::new(name), Old::new(&parked))?;
                    {
                        let old = transaction.open_table(Old::new(&parked))?;
                        let mut rows = new.open(transaction)?;
                        for entry in old.iter()? {
                            let (key, value) = entry?;
                            let key = <$key as redb::Value>::from_bytes(key.value());
                            let value = <$value as redb::Value>::from_bytes(value.value());
                            rows.insert(key, value)?;
                            moved.rows += 1;
                        }
                    }
                    transaction.delete_table(Old::new(&parked))?;
                    moved.tables += 1;
                }
            })*
            SHAPE.with(|shape| shape.borrow_mut().take());
            Ok(moved)
        }

        /// Fills every table of the old layout with `rows` rows of sample
        /// values, in `transaction`; returns each table's rows as the new
        /// layout must give them back (encoded with `store::rows`), in key
        /// order.
        #[cfg(test)]
        fn fill_old_layout(transaction: &WriteTransaction, rows: u64) -> Vec<(&'static str, Vec<(Vec<u8>, Vec<u8>)>)> {
            use tests::Sample;
            let mut expected = Vec::new();
            $({
                let name = super::schema::$name.name();
                let mut table = transaction.open_table(TableDefinition::<$key, $value>::new(name)).unwrap();
                for seed in 0..rows {
                    table.insert(<$key>::sample(seed), <$value>::sample(seed * 7 + 1)).unwrap();
                }
                let mut kept = Vec::new();
                for entry in table.iter().unwrap() {
                    let (key, value) = entry.unwrap();
                    kept.push((
                        super::rows::encode::<$key>(&key.value()),
                        super::rows::encode::<$value>(&value.value()),
                    ));
                }
                expected.push((name, kept));
            })*
            expected
        }
    };
}

legacy_tables! {
    META: &str => u64,
    USERS: &str => &[u8],
    MAILBOXES: (u32, &str) => u64,
    SUBSCRIPTIONS: (u32, &str) => (),
    CHANGES: (u64, u64, u32) => (),
    EXPUNGED: (u64, u64, u32) => (),
    FLAG_INDEX: (u64, u8, u32) => (),
    SAVE_DATES: (u64, u32) => i64,
    PENDING_BLOBS: u64 => i64,
    BANS: &str => &[u8],
    DEVICES: (u32, &str) => &[u8],
    USER_SETTINGS: u32 => &[u8],
    LOGIN_HISTORY: (u32, u64) => &[u8],
    KNOWN_ADDRESSES: (u32, &str) => u64,
    KNOWN_DEVICES: (u32, &str) => u64,
    ALERTS_SENT: (u32, u8) => u64,
    ACL: (u64, u32) => u32,
    ACL_GRANTEES: (u32, u64) => (),
    PRIVATE_SEEN: (u64, u32, u32) => (),
    PRIVATE_SEEN_MAILBOXES: (u32, u64) => (),
    PRIVATE_FLAGS: (u64, u32, u32) => u64,
    PRIVATE_CHANGES: (u64, u32, u64, u32) => (),
    SHARED_MODSEQ: u64 => (u64, u64),
    IMPORTED: (u64, &[u8]) => u32,
    QUOTA_USAGE: u32 => (u64, u64),
    QUOTA_LIMITS: u32 => (u64, u64),
    QUOTA_WARNED: u32 => u8,
    DELETED_SIZES: u64 => u64,
}

#[cfg(test)]
mod tests {
    use redb::ReadableDatabase;

    use super::*;

    /// A value made from a number, for every key and value type the old
    /// layout had; different numbers give different values.
    pub(super) trait Sample {
        fn sample(seed: u64) -> Self;
    }

    macro_rules! sample_integer {
        ($($type:ty),*) => {$(
            impl Sample for $type {
                fn sample(seed: u64) -> $type {
                    // Spread over the type's range, high bytes included, so
                    // byte order would show if it were wrong.
                    (seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - 8 * std::mem::size_of::<$type>())) as $type
                }
            }
        )*};
    }
    sample_integer!(u8, u32, u64, i64);

    impl Sample for () {
        fn sample(_: u64) {}
    }
    impl Sample for &'static str {
        fn sample(seed: u64) -> &'static str {
            Box::leak(format!("n\u{e9}{seed}/{}", "x".repeat((seed % 5) as usize)).into_boxed_str())
        }
    }
    impl Sample for &'static [u8] {
        fn sample(seed: u64) -> &'static [u8] {
            Box::leak(seed.to_le_bytes()[..(seed % 9) as usize].to_vec().into_boxed_slice())
        }
    }
    impl<A: Sample, B: Sample> Sample for (A, B) {
        fn sample(seed: u64) -> (A, B) {
            (A::sample(seed / 3), B::sample(seed))
        }
    }
    impl<A: Sample, B: Sample, C: Sample> Sample for (A, B, C) {
        fn sample(seed: u64) -> (A, B, C) {
            (A::sample(seed / 5), B::sample(seed / 2), C::sample(seed))
        }
    }
    impl<A: Sample, B: Sample, C: Sample, D: Sample> Sample for (A, B, C, D) {
        fn sample(seed: u64) -> (A, B, C, D) {
            (A::sample(seed / 7), B::sample(seed / 5), C::sample(seed / 2), D::sample(seed))
        }
    }

    fn rows_of(database: &redb::Database, name: &str) -> Vec<(Vec<u8>, Vec<u8>)> {
        let transaction = database.begin_read().unwrap();
        let table = transaction.open_table(redb::TableDefinition::<&[u8], &[u8]>::new(name)).unwrap();
        table
            .iter()
            .unwrap()
            .map(|entry| entry.unwrap())
            .map(|(k, v)| (k.value().to_vec(), v.value().to_vec()))
            .collect()
    }

    /// What the move costs for a big mailbox: 100,000 messages' rows in
    /// each of the per-message tables (changes, flag index, save dates,
    /// one mailbox), on disk. Run by hand:
    /// `cargo test --release --lib move_cost -- --ignored --nocapture`.
    #[test]
    #[ignore = "a cost measurement; run by hand"]
    fn move_cost() {
        let path = std::env::temp_dir().join(format!("roost-move-cost-{}.redb", std::process::id()));
        let database = redb::Database::create(&path).unwrap();
        let transaction = database.begin_write().unwrap();
        {
            let changes = TableDefinition::<(u64, u64, u32), ()>::new("changes");
            let flags = TableDefinition::<(u64, u8, u32), ()>::new("flag_index");
            let dates = TableDefinition::<(u64, u32), i64>::new("save_dates");
            let (mut changes, mut flags, mut dates) = (
                transaction.open_table(changes).unwrap(),
                transaction.open_table(flags).unwrap(),
                transaction.open_table(dates).unwrap(),
            );
            for uid in 1..=100_000u32 {
                changes.insert((7, u64::from(uid) + 1, uid), ()).unwrap();
                flags.insert((7, 0, uid), ()).unwrap();
                dates.insert((7, uid), 1_700_000_000 + i64::from(uid)).unwrap();
            }
        }
        transaction.commit().unwrap();
        let before = std::fs::metadata(&path).unwrap().len();
        let started = std::time::Instant::now();
        let transaction = database.begin_write().unwrap();
        let moved = run(&transaction).unwrap();
        transaction.commit().unwrap();
        eprintln!(
            "moved {moved:?} in {:?}; file {before} -> {} bytes",
            started.elapsed(),
            std::fs::metadata(&path).unwrap().len()
        );
        drop(database);
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn every_old_table_moves_row_for_row_and_in_key_order() {
        let database = redb::Database::builder().create_with_backend(redb::backends::InMemoryBackend::new()).unwrap();
        let transaction = database.begin_write().unwrap();
        let expected = fill_old_layout(&transaction, 300);
        transaction.commit().unwrap();

        // A move that does not commit (a crash, a full disk) leaves the
        // old layout as it was.
        let transaction = database.begin_write().unwrap();
        assert_eq!(run(&transaction).unwrap().tables, 28);
        transaction.abort().unwrap();

        let transaction = database.begin_write().unwrap();
        let moved = run(&transaction).unwrap();
        transaction.commit().unwrap();
        let rows: usize = expected.iter().map(|(_, rows)| rows.len()).sum();
        assert_eq!(moved, Moved { tables: 28, rows: rows as u64 });
        for (name, rows) in &expected {
            assert!(rows.len() > 30, "{name}: samples must differ");
            assert_eq!(&rows_of(&database, name), rows, "{name}");
        }
        let transaction = database.begin_read().unwrap();
        let left: Vec<String> = transaction.list_tables().unwrap().map(|table| table.name().to_string()).collect();
        assert!(left.iter().all(|name| !name.contains("before-rows")), "{left:?}");

        // Nothing left to move the second time.
        let transaction = database.begin_write().unwrap();
        assert_eq!(run(&transaction).unwrap(), Moved::default());
        transaction.commit().unwrap();
    }
}
