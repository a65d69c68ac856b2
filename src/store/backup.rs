//! Online backups: a consistent copy of the database while the server runs
//! (`roost backup`, and the schedule in `crate::backup`), and `roost
//! restore`.
//!
//! Copying `roost.redb` with `cp` while the store thread commits can copy a
//! torn file: redb rewrites its header in place at every commit, and pages
//! the copy already passed may be reused meanwhile. So a backup is made
//! from ONE read transaction: redb's snapshot of every table at one commit,
//! which stays unchanged however long the copy takes while the store
//! thread keeps committing. Its rows are written, table by table and in
//! key order, into a new redb file (`DEST.tmp`) by write transactions of
//! at most [`BATCH_BYTES`] each, committed without an fsync
//! ([`redb::Durability::None`]: the file is not in use until it is
//! complete), then one durable commit. The copy is then verified: every
//! table of the snapshot is in it with the same number of rows (a table
//! this module does not know fails the backup, it is never skipped), and
//! `store::check` (the checks of `roost check`) finds no damage. Only then
//! is the file fsynced, renamed to `DEST` and its directory fsynced: a
//! `DEST` that exists is a complete, checked backup; a crash leaves at
//! most a `DEST.tmp`, removed by the next backup to the same name.
//!
//! The copy runs on a dedicated std thread (`roost-backup`), never on the
//! session executor; the store thread goes on committing meanwhile. What it
//! costs the running server: a share of the CPU and of the disk's
//! bandwidth, a page cache that fills with the pages it reads, and file
//! growth: while the snapshot is open redb cannot reuse a page freed after
//! it, so everything the household changes during the backup takes new
//! pages (reused once the backup ends).
//!
//! Measured (`cargo bench --bench backup`, x86 VM with 2 shared cores, a
//! 1 GiB store of 11,111 messages, a bystander sending NOOP every 10 ms and
//! a session looping APPEND + STORE + EXPUNGE): the backup (1.1 GiB) took
//! 9-12 s, 90-120 MiB/s, so about 1.5-2 minutes for 10 GiB here; on a Pi
//! the disk sets the pace (a USB stick writing 20 MB/s: about 9 minutes).
//! NOOP p50 stayed at 0.18 ms, p99 went from 12 to 16 ms (a noisy shared
//! machine: 4 to 15 ms in another run); the writing session managed about
//! 40 % fewer rounds (the copy's writes share the disk with its fsyncs).
//! The cost in file growth: 364 rounds (about 1,100 durable commits) took
//! 345 MiB of new pages while the snapshot was held, about 300 KiB a
//! commit (each commit's copy-on-write pages across the tables it
//! touches), against none without a backup. A household makes a few
//! commits a minute, so a backup costs it a few MiB; a store under heavy
//! writes during a long backup needs that room on its disk.
//!
//! Why a copy and not redb's own savepoints or `compact`: a savepoint stays
//! inside the same file (no use when the SD card dies), and a copy written
//! fresh in key order is itself compact, typically smaller than the live
//! file.
//!
//! Restore (`restore`) only runs with the server stopped: it verifies the
//! source with the same checks, copies it beside the live file, fsyncs,
//! renames the current database aside (kept, never deleted) and the copy
//! into place, and fsyncs the directory.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use redb::{
    Database, Durability, Key, MultimapTableHandle, ReadTransaction, ReadableDatabase, ReadableTableMetadata,
    TableDefinition, TableHandle, Value,
};

use super::check;
use super::schema::{
    ACL, ACL_GRANTEES, ALERTS_SENT, BANS, BLOBS, BLOB_CHUNKS, CHANGES, DELETED_SIZES, DEVICES, EXPUNGED, FLAG_INDEX,
    IMPORTED, KNOWN_ADDRESSES, KNOWN_DEVICES, LOGIN_HISTORY, MAILBOXES, MAILBOX_INFO, MESSAGES, META, PENDING_BLOBS,
    PREVIEWS, PRIVATE_CHANGES, PRIVATE_FLAGS, PRIVATE_SEEN, PRIVATE_SEEN_MAILBOXES, QUOTA_LIMITS, QUOTA_USAGE,
    QUOTA_WARNED, SAVE_DATES, SHARED_MODSEQ, SUBSCRIPTIONS, SUMMARIES, USERS, USER_SETTINGS,
};
use super::schema::{FTS_POSTINGS, FTS_QUEUE, FTS_SEGMENTS, FTS_UNINDEXED};
use super::{Reader, StoreError};

/// Bytes of keys and values in one write transaction of the copy: bounds
/// the memory the copy holds in dirty pages (a few MiB on a 512 MiB board)
/// while keeping the number of commits small.
const BATCH_BYTES: usize = 4 << 20;

/// Page cache of the copy being written: it only appends, so a small one
/// does.
const COPY_CACHE_BYTES: usize = 8 << 20;

/// What a finished backup holds.
#[derive(Debug)]
pub struct Backup {
    pub path: PathBuf,
    /// Size of the backup file.
    pub bytes: u64,
    pub tables: usize,
    pub rows: u64,
    /// The time the copy and its verification took.
    pub elapsed: Duration,
    /// `roost check` of the copy (clean, or there would be no backup).
    pub report: check::Report,
}

impl Backup {
    /// One line for the log and the CLI.
    pub fn summary(&self) -> String {
        // In KiB, as a u32 (up to 4 TiB), which f64 holds exactly.
        let mib = f64::from(u32::try_from(self.bytes >> 10).unwrap_or(u32::MAX)) / 1024.0;
        let seconds = self.elapsed.as_secs_f64();
        format!(
            "backup {} written and verified: {mib:.1} MiB, {} message(s) of {} user(s), {} table(s), {} row(s), in {seconds:.1} s ({:.1} MiB/s)",
            self.path.display(),
            self.report.messages,
            self.report.users,
            self.tables,
            self.rows,
            mib / seconds.max(0.001),
        )
    }
}

/// Copies the snapshot `source` into a new database at `dest` (see the
/// module docs); `cancel` stops it between batches (the server is
/// stopping). `dest` must not exist.
pub(super) fn copy_snapshot(source: ReadTransaction, dest: &Path, cancel: &AtomicBool) -> Result<Backup, StoreError> {
    let started = Instant::now();
    if dest.exists() {
        return Err(StoreError::Io(format!("{} exists: a backup never overwrites a file", dest.display())));
    }
    let temporary = temporary_path(dest);
    // A leftover of a backup that crashed or was stopped.
    remove_if_present(&temporary)?;
    let result = copy_into(&source, &temporary, cancel).and_then(|(tables, rows)| {
        drop(source);
        let report = verify(&temporary)?;
        // redb fsynced at the durable commit; this covers the file's own
        // metadata too before the name makes it a backup.
        File::open(&temporary)?.sync_all()?;
        std::fs::rename(&temporary, dest)?;
        sync_directory(dest)?;
        let bytes = std::fs::metadata(dest)?.len();
        Ok(Backup { path: dest.to_path_buf(), bytes, tables, rows, elapsed: started.elapsed(), report })
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    result
}

/// The copy itself: every table of the snapshot, then the checks that
/// nothing was left out. Answers (tables, rows).
fn copy_into(source: &ReadTransaction, path: &Path, cancel: &AtomicBool) -> Result<(usize, u64), StoreError> {
    let database = redb::Builder::new().set_cache_size(COPY_CACHE_BYTES).create(path)?;
    let mut copier = Copier { source, database: &database, cancel, copied: Vec::new() };
    copy_every_table(&mut copier)?;
    let copied = copier.copied;
    // The durable commit: what the non-durable ones wrote reaches the disk.
    let mut transaction = database.begin_write()?;
    transaction.set_durability(Durability::Immediate).map_err(|error| StoreError::Io(error.to_string()))?;
    transaction.commit()?;

    // Nothing left out: every table of the snapshot was copied, whole.
    let mut rows = 0;
    if let Some(table) = source.list_multimap_tables()?.next() {
        return Err(StoreError::Bug(format!(
            "table {:?} is a multimap table, which backups do not copy",
            table.name()
        )));
    }
    let names: Vec<String> = source.list_tables()?.map(|table| table.name().to_string()).collect();
    let check = database.begin_read()?;
    for name in &names {
        let Some((_, copied_rows)) = copied.iter().find(|(copied, _)| copied == name) else {
            return Err(StoreError::Bug(format!(
                "table {name:?} is not known to the backup (add it to store::backup::copy_every_table)"
            )));
        };
        let in_source = source.open_untyped_table(redb::TableDefinition::<&str, &[u8]>::new(name))?.len()?;
        let in_copy = check.open_untyped_table(redb::TableDefinition::<&str, &[u8]>::new(name))?.len()?;
        if in_source != in_copy || in_copy != *copied_rows {
            return Err(StoreError::Corrupt(format!(
                "table {name}: {in_source} row(s) in the database, {in_copy} in the copy"
            )));
        }
        rows += in_copy;
    }
    Ok((names.len(), rows))
}

/// Every table `schema` defines. A table added there and not here makes
/// every backup fail (see `copy_into`) and the unit test
/// `every_table_is_copied` with it: typed copies need the definitions.
fn copy_every_table(copier: &mut Copier) -> Result<(), StoreError> {
    copier.table(META.raw())?;
    copier.table(USERS.raw())?;
    copier.table(MAILBOXES.raw())?;
    copier.table(MAILBOX_INFO)?;
    copier.table(SUBSCRIPTIONS.raw())?;
    copier.table(MESSAGES)?;
    copier.table(CHANGES.raw())?;
    copier.table(EXPUNGED.raw())?;
    copier.table(FLAG_INDEX.raw())?;
    copier.table(SUMMARIES)?;
    copier.table(SAVE_DATES.raw())?;
    copier.table(PREVIEWS)?;
    copier.table(BLOBS)?;
    copier.table(BLOB_CHUNKS)?;
    copier.table(PENDING_BLOBS.raw())?;
    copier.table(FTS_QUEUE.raw())?;
    copier.table(FTS_UNINDEXED.raw())?;
    copier.table(FTS_SEGMENTS.raw())?;
    copier.table(FTS_POSTINGS.raw())?;
    copier.table(BANS.raw())?;
    copier.table(DEVICES.raw())?;
    copier.table(USER_SETTINGS.raw())?;
    copier.table(LOGIN_HISTORY.raw())?;
    copier.table(KNOWN_ADDRESSES.raw())?;
    copier.table(KNOWN_DEVICES.raw())?;
    copier.table(ALERTS_SENT.raw())?;
    copier.table(ACL.raw())?;
    copier.table(ACL_GRANTEES.raw())?;
    copier.table(PRIVATE_SEEN.raw())?;
    copier.table(PRIVATE_SEEN_MAILBOXES.raw())?;
    copier.table(PRIVATE_FLAGS.raw())?;
    copier.table(PRIVATE_CHANGES.raw())?;
    copier.table(SHARED_MODSEQ.raw())?;
    copier.table(QUOTA_USAGE.raw())?;
    copier.table(QUOTA_LIMITS.raw())?;
    copier.table(QUOTA_WARNED.raw())?;
    copier.table(DELETED_SIZES.raw())?;
    copier.table(IMPORTED.raw())?;
    Ok(())
}

struct Copier<'a> {
    source: &'a ReadTransaction,
    database: &'a Database,
    cancel: &'a AtomicBool,
    /// (table name, rows copied).
    copied: Vec<(String, u64)>,
}

impl Copier<'_> {
    /// Copies one table in key order, [`BATCH_BYTES`] per transaction. A
    /// table the snapshot lacks (a database from an older roost) is
    /// skipped: the checks compare with the snapshot's own list.
    fn table<K: Key + 'static, V: Value + 'static>(
        &mut self,
        definition: TableDefinition<K, V>,
    ) -> Result<(), StoreError> {
        let table = match self.source.open_table(definition) {
            Ok(table) => table,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(()),
            Err(error) => return Err(error.into()),
        };
        let mut entries = redb::ReadableTable::iter(&table)?;
        let mut rows = 0u64;
        let mut finished = false;
        while !finished {
            if self.cancel.load(Ordering::Relaxed) {
                return Err(StoreError::Io("the backup was cancelled: the server is stopping".into()));
            }
            let mut transaction = self.database.begin_write()?;
            transaction.set_durability(Durability::None).map_err(|error| StoreError::Io(error.to_string()))?;
            {
                let mut copy = transaction.open_table(definition)?;
                let mut bytes = 0;
                while bytes < BATCH_BYTES {
                    let Some(entry) = entries.next() else {
                        finished = true;
                        break;
                    };
                    let (key, value) = entry?;
                    let (key, value) = (key.value(), value.value());
                    bytes += K::as_bytes(&key).as_ref().len() + V::as_bytes(&value).as_ref().len() + 16;
                    copy.insert(key, value)?;
                    rows += 1;
                }
            }
            transaction.commit()?;
        }
        self.copied.push((definition.name().to_string(), rows));
        Ok(())
    }
}

/// `roost check` of a finished copy (opened read-only).
fn verify(path: &Path) -> Result<check::Report, StoreError> {
    let database = redb::Builder::new().set_cache_size(COPY_CACHE_BYTES).open_read_only(path)?;
    let report = check::run(&Reader::new(database.begin_read()?))?;
    if !report.is_clean() {
        return Err(StoreError::Corrupt(format!(
            "the copy failed its check: {}",
            report.summary().replace('\n', "; ")
        )));
    }
    Ok(report)
}

/// Moves a copy written by an older roost to this one's table layout
/// (nothing to do for a current one).
fn upgrade(path: &Path, cache_bytes: usize) -> Result<(), StoreError> {
    let database = redb::Builder::new().set_cache_size(cache_bytes).create(path)?;
    let moved = super::migrate::upgrade(&database)?;
    if moved.tables > 0 {
        log::info!("the backup's {} table(s) moved to this roost's layout", moved.tables);
    }
    Ok(())
}

/// `DEST.tmp`, beside `dest` so the final rename stays on one file system.
fn temporary_path(dest: &Path) -> PathBuf {
    let mut name = dest.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    dest.with_file_name(name)
}

fn remove_if_present(path: &Path) -> Result<(), StoreError> {
    match std::fs::remove_file(path) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(error.into()),
        _ => Ok(()),
    }
}

/// fsync of the directory holding `path`, so a rename in it is durable.
fn sync_directory(path: &Path) -> Result<(), StoreError> {
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    File::open(directory)?.sync_all()?;
    Ok(())
}

/// A backup of the database at `path` while no server holds it (`roost
/// backup` with the server stopped): read-only, so the source is never
/// written.
pub fn backup_offline(path: &Path, dest: &Path, cache_bytes: usize) -> Result<Backup, StoreError> {
    let database = redb::Builder::new().set_cache_size(cache_bytes).open_read_only(path)?;
    copy_snapshot(database.begin_read()?, dest, &AtomicBool::new(false))
}

/// What `restore` did.
#[derive(Debug)]
pub struct Restored {
    /// The database as it was before, renamed (None: there was none).
    pub kept: Option<PathBuf>,
    pub report: check::Report,
}

/// Puts the backup `source` in place of the database at `live` (the
/// server stopped: the caller checked, and redb's lock is taken here
/// too). The backup is verified first; the current database is renamed
/// to `roost.redb.before-restore-DATE`, never deleted.
pub fn restore(source: &Path, live: &Path, cache_bytes: usize, date: &str) -> Result<Restored, StoreError> {
    if !source.is_file() {
        return Err(StoreError::Io(format!("{} is not a file", source.display())));
    }
    if live.exists() {
        // Takes redb's lock: refuses while any roost holds the file. A
        // file that needs repair, or is damaged, is what a restore is for.
        if let Err(redb::DatabaseError::DatabaseAlreadyOpen) =
            redb::Builder::new().set_cache_size(cache_bytes).open_read_only(live)
        {
            return Err(StoreError::Locked);
        }
    }
    let temporary = temporary_path(live);
    remove_if_present(&temporary)?;
    let copied = std::fs::copy(source, &temporary).and_then(|_| File::open(&temporary)?.sync_all());
    if let Err(error) = copied {
        let _ = std::fs::remove_file(&temporary);
        return Err(error.into());
    }
    // The copy is what gets checked and put in place: a backup an older
    // roost wrote is moved to this one's layout there (`store::migrate`),
    // and the backup itself is never written to.
    let report = upgrade(&temporary, cache_bytes).and_then(|()| verify(&temporary)).map_err(|error| {
        let _ = std::fs::remove_file(&temporary);
        match error {
            StoreError::Corrupt(why) => {
                StoreError::Corrupt(format!("{} is not a sound backup: {why}", source.display()))
            }
            StoreError::Io(why) => StoreError::Io(format!("{} is not a readable backup: {why}", source.display())),
            other => other,
        }
    })?;
    let kept = if live.exists() {
        let mut name = live.file_name().unwrap_or_default().to_os_string();
        name.push(format!(".before-restore-{date}"));
        let mut kept = live.with_file_name(&name);
        let mut attempt = 1;
        while kept.exists() {
            attempt += 1;
            kept = live.with_file_name(format!("{}-{attempt}", name.to_string_lossy()));
        }
        std::fs::rename(live, &kept)?;
        Some(kept)
    } else {
        None
    };
    std::fs::rename(&temporary, live)?;
    sync_directory(live)?;
    Ok(Restored { kept, report })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::ops::Tables;
    use crate::store::writer::open_database;

    /// A fresh database in a scratch directory of its own (every table the
    /// store creates), with what `write` adds in one more transaction.
    fn database(label: &str, write: impl FnOnce(&redb::WriteTransaction)) -> (PathBuf, Database) {
        let dir = std::env::temp_dir().join(format!("roost-backup-{label}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let database = open_database(&dir.join("live.redb"), 1 << 20).unwrap();
        let transaction = database.begin_write().unwrap();
        write(&transaction);
        transaction.commit().unwrap();
        (dir, database)
    }

    fn copy(snapshot: ReadTransaction, dest: &Path) -> Result<Backup, StoreError> {
        copy_snapshot(snapshot, dest, &AtomicBool::new(false))
    }

    /// The guard for `copy_every_table`: a database with every table the
    /// store creates (`writer::prepare`, through `ops::Tables::open`) is
    /// copied whole, so a table added to the schema and not to the backup
    /// fails here.
    #[test]
    fn every_table_is_copied() {
        // A row in a few tables, so that row counts are compared on real data.
        let (dir, database) = database("every", |transaction| {
            let mut tables = Tables::open(transaction).unwrap();
            tables.bans.insert("192.0.2.7", b"x".as_slice()).unwrap();
            tables.pending.insert(99, 1).unwrap();
        });
        let dest = dir.join("copy.redb");
        let backup = copy(database.begin_read().unwrap(), &dest).unwrap();
        let names = database.begin_read().unwrap().list_tables().unwrap().count();
        assert_eq!(backup.tables, names);
        // meta's rows (schema version, markers), the ban, the pending blob.
        assert_eq!(backup.rows, meta_rows(&database) + 2);
        assert!(!temporary_path(&dest).exists());
        // No overwriting.
        let again = copy(database.begin_read().unwrap(), &dest);
        assert!(matches!(again, Err(StoreError::Io(why)) if why.contains("never overwrites")));
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Rows `writer::prepare` keeps in META (schema version, markers).
    fn meta_rows(database: &Database) -> u64 {
        META.open_read(&database.begin_read().unwrap()).unwrap().len().unwrap()
    }

    /// A table the backup has no definition for is an error, not a skip.
    #[test]
    fn an_unknown_table_fails_the_backup() {
        let (dir, database) = database("unknown", |transaction| {
            let mut table = transaction.open_table(TableDefinition::<u64, u64>::new("added_later")).unwrap();
            table.insert(1, 2).unwrap();
        });
        let dest = dir.join("copy.redb");
        let result = copy(database.begin_read().unwrap(), &dest);
        assert!(matches!(result, Err(StoreError::Bug(ref why)) if why.contains("added_later")), "{result:?}");
        assert!(!dest.exists() && !temporary_path(&dest).exists());
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// The snapshot is what is copied: rows written after it began are not.
    #[test]
    fn the_copy_is_the_snapshot() {
        let (dir, database) = database("snapshot", |_| {});
        let snapshot = database.begin_read().unwrap();
        let transaction = database.begin_write().unwrap();
        Tables::open(&transaction).unwrap().bans.insert("192.0.2.8", b"x".as_slice()).unwrap();
        transaction.commit().unwrap();
        // meta's rows only.
        let meta = meta_rows(&database);
        assert_eq!(copy(snapshot, &dir.join("copy.redb")).unwrap().rows, meta);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_cancelled_backup_leaves_nothing() {
        let (dir, database) = database("cancel", |_| {});
        let dest = dir.join("copy.redb");
        let result = copy_snapshot(database.begin_read().unwrap(), &dest, &AtomicBool::new(true));
        assert!(matches!(result, Err(StoreError::Io(why)) if why.contains("cancelled")));
        assert!(!dest.exists() && !temporary_path(&dest).exists());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
