//! Room to delete mail on a full disk: the ballast, and how full the disk is.
//!
//! Deleting mail writes to the database too: redb never overwrites a live
//! page, so an EXPUNGE copies every b-tree page it changes (messages,
//! blobs, chunks, the change log, the freed-page list) before the old
//! ones are freed, and the freed pages are reusable only after the commit.
//! The file is sparse (redb grows it with `set_len` and doubles it while it
//! is below one 4 GiB region), so some of those copies land on pages the
//! disk never backed, and each needs a new block. With the disk at 0 bytes
//! free, that write fails with ENOSPC and redb refuses all further work
//! until the file is reopened: even deleting mail, the only way out, fails.
//!
//! Measured (`store::tests::measure_delete_commits`, a 62 MiB database of
//! 3,000 messages of 20 KB on a sparse disk that counts blocks): STORE
//! \Deleted on 1 or 300 messages took 0 new blocks, an EXPUNGE of 1 or of
//! 300 took 8 KiB, DELETE of a 1,500-message mailbox and `user del` of the
//! last 1,199 took none, while they wrote 64 KiB to 19 MiB (pages redb
//! rewrote, mostly on blocks it had freed before). What the disk must give
//! is small but not zero, and cannot be bounded from outside redb, whose
//! allocator may pick any free page, backed or not.
//!
//! Keeping that room *inside* the database file was the first idea (a table
//! of filler rows, dropped at a full disk), but redb 4 cannot use it: pages
//! freed by a commit are reusable only by the commits after it, and the
//! commit that drops the filler needs new pages itself (the table tree, the
//! freed list, the allocator state quick-repair stores), from the same
//! sparse file. Space preallocated past the end of the file
//! (`FALLOC_FL_KEEP_SIZE`) only serves growth, not the holes inside it, and
//! redb's trim (`set_len` down) gives it back silently.
//!
//! So the room is a ballast file beside the database (`roost.ballast`, the
//! board's `disk_ballast` bytes, 32 MiB by default: a thousand times the
//! measured need), its blocks allocated for real (`fallocate`, or zeros
//! written where that is unsupported). The store thread refuses new mail
//! below `min_free_disk` as before; when the disk is so full that even a
//! delete would be refused, and a delete comes ([`super::writer`]'s
//! `frees`), it deletes the ballast's blocks first (truncating it to zero)
//! and lets deletes through on that room. It makes the ballast again when
//! the disk has `min_free_disk` free beside it. The one window left: a
//! program filling the disk in the microseconds between the truncate and
//! redb's writes could take the room; then the commit fails as it would
//! have before (no damage: redb's commit is atomic), and roost restarts.
//!
//! On copy-on-write file systems (btrfs, ZFS) every write needs new blocks,
//! so the ballast is what a delete commit gets, with no guarantee beyond.
//!
//! [`disk_usage`] says how full the disk is, for the start-up log and
//! `roost status`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// The ballast's file name in the data directory, beside the database.
pub const BALLAST_FILE: &str = "roost.ballast";

/// The board's `disk_ballast` unless it says otherwise ([`set_ballast_size`]).
pub const DEFAULT_BALLAST: u64 = 32 << 20;

static BALLAST_SIZE: AtomicU64 = AtomicU64::new(DEFAULT_BALLAST);

/// Sets the size of the ballast the stores opened afterwards keep (the
/// board's `disk_ballast`; 0: none). Process-wide, like the expunge history.
pub fn set_ballast_size(bytes: u64) {
    BALLAST_SIZE.store(bytes, Ordering::Relaxed);
}

pub(super) fn ballast_size() -> u64 {
    BALLAST_SIZE.load(Ordering::Relaxed)
}

/// Where the ballast's blocks live: a file, or (in tests) the simulated disk.
pub(super) trait Space: Send + Sync {
    /// Bytes of disk the ballast holds now.
    fn held(&self) -> u64;
    /// Gives every block back to the file system.
    fn release(&self) -> std::io::Result<()>;
    /// Takes blocks until the ballast holds `size` bytes.
    fn fill(&self, size: u64) -> std::io::Result<()>;
}

/// The ballast the store thread keeps.
#[derive(Clone)]
pub(super) struct Ballast {
    space: Arc<dyn Space>,
    size: u64,
    /// A refill is running on its own thread.
    filling: Arc<AtomicBool>,
    /// Known to hold its size: spares the store thread a `stat` after
    /// every commit. Cleared when released.
    full: Arc<AtomicBool>,
}

impl Ballast {
    pub(super) fn new(space: Arc<dyn Space>, size: u64) -> Ballast {
        Ballast { space, size, filling: Arc::new(AtomicBool::new(false)), full: Arc::new(AtomicBool::new(false)) }
    }

    /// The ballast file beside the database at `database`.
    pub(super) fn beside(database: &Path, size: u64) -> Ballast {
        let path = database.with_file_name(BALLAST_FILE);
        Ballast::new(Arc::new(BallastFile(path)), size)
    }

    pub(super) fn held(&self) -> u64 {
        self.space.held()
    }

    /// Frees the ballast's blocks; answers the bytes freed (0: none held).
    pub(super) fn release(&self) -> u64 {
        self.full.store(false, Ordering::Release);
        let held = self.space.held();
        if held == 0 {
            return 0;
        }
        match self.space.release() {
            Ok(()) => {
                log::warn!(
                    "disk full: released the {} ballast so that deleting mail works; it is made again when the disk has room",
                    human_bytes(held)
                );
                held
            }
            Err(error) => {
                log::error!("disk full: cannot release the ballast: {error}");
                0
            }
        }
    }

    /// The bytes the ballast lacks.
    pub(super) fn missing(&self) -> u64 {
        if self.full.load(Ordering::Acquire) {
            return 0;
        }
        let missing = self.size.saturating_sub(self.space.held());
        if missing == 0 {
            self.full.store(true, Ordering::Release);
        }
        missing
    }

    /// Fills the ballast now (at start-up, before the store thread runs),
    /// if `free` leaves `reserve` beside it.
    pub(super) fn fill_now(&self, free: u64, reserve: u64) {
        let missing = self.missing();
        if missing == 0 {
            return;
        }
        if free < reserve.saturating_add(missing) {
            log::warn!(
                "disk: {} free, too little to keep the {} ballast beside the {} reserve; deleting mail on a full disk may fail",
                human_bytes(free),
                human_bytes(self.size),
                human_bytes(reserve)
            );
            return;
        }
        if let Err(error) = self.space.fill(self.size) {
            log::warn!("disk: cannot make the ballast: {error}");
        }
    }

    /// Fills the ballast on a thread of its own (writing it may take a
    /// while where `fallocate` is unsupported), if `free` leaves `reserve`
    /// beside it and no refill runs.
    pub(super) fn refill_later(&self, free: u64, reserve: u64) {
        let missing = self.missing();
        if missing == 0 || free < reserve.saturating_add(missing) || self.filling.swap(true, Ordering::AcqRel) {
            return;
        }
        let ballast = self.clone();
        let spawned = std::thread::Builder::new().name("roost-ballast".into()).spawn(move || {
            match ballast.space.fill(ballast.size) {
                Ok(()) => log::info!("disk: the {} ballast is made again", human_bytes(ballast.size)),
                Err(error) => log::warn!("disk: cannot make the ballast again: {error}"),
            }
            ballast.filling.store(false, Ordering::Release);
        });
        if spawned.is_err() {
            self.filling.store(false, Ordering::Release);
        }
    }
}

/// The ballast as a file whose blocks are allocated for real.
struct BallastFile(PathBuf);

impl Space for BallastFile {
    fn held(&self) -> u64 {
        use std::os::unix::fs::MetadataExt;
        // Blocks, not length: a sparse file would hold nothing.
        std::fs::metadata(&self.0).map_or(0, |metadata| metadata.blocks() * 512)
    }

    fn release(&self) -> std::io::Result<()> {
        // Truncating (not unlinking) frees the blocks even if another
        // process holds the file open.
        let file = std::fs::OpenOptions::new().write(true).open(&self.0)?;
        file.set_len(0)
    }

    fn fill(&self, size: u64) -> std::io::Result<()> {
        let mut file = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&self.0)?;
        match rustix::fs::fallocate(&file, rustix::fs::FallocateFlags::empty(), 0, size) {
            Ok(()) => {}
            Err(rustix::io::Errno::OPNOTSUPP) => {
                // Zeros written are blocks taken, on every file system.
                file.set_len(0)?;
                let zeros = vec![0u8; 64 * 1024];
                let mut written = 0;
                while written < size {
                    let piece = (size - written).min(zeros.len() as u64) as usize;
                    file.write_all(&zeros[..piece])?;
                    written += piece as u64;
                }
            }
            Err(error) => {
                // Whatever was taken goes back: a half ballast on a full
                // disk would only make the disk fuller.
                let _ = file.set_len(0);
                return Err(error.into());
            }
        }
        file.sync_all()
    }
}

/// How full the file system holding the database is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DiskUsage {
    /// Size of the file system.
    pub total: u64,
    /// Bytes in use (by anyone).
    pub used: u64,
    /// Bytes roost may still use (an unprivileged process's view: root's
    /// reserved blocks are not counted).
    pub free: u64,
}

impl DiskUsage {
    /// Used, in percent of what can be used (as `df` counts it).
    pub fn percent_used(&self) -> u64 {
        let usable = self.used + self.free;
        if usable == 0 {
            return 100;
        }
        (self.used * 100).div_ceil(usable)
    }
}

impl std::fmt::Display for DiskUsage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} used of {} ({}%), {} free",
            human_bytes(self.used),
            human_bytes(self.total),
            self.percent_used(),
            human_bytes(self.free)
        )
    }
}

/// How full the file system holding `path` (a file or a directory) is;
/// for a file that does not exist yet, its directory's.
pub fn disk_usage(path: &Path) -> std::io::Result<DiskUsage> {
    let directory = if path.is_dir() { path } else { path.parent().unwrap_or(Path::new(".")) };
    let directory = if directory.as_os_str().is_empty() { Path::new(".") } else { directory };
    let stats = rustix::fs::statvfs(directory)?;
    let total = stats.f_blocks.saturating_mul(stats.f_frsize);
    let free = stats.f_bavail.saturating_mul(stats.f_frsize);
    let used = stats.f_blocks.saturating_sub(stats.f_bfree).saturating_mul(stats.f_frsize);
    Ok(DiskUsage { total, used, free })
}

/// Logs how full the disk holding `database` is (at start-up), with a
/// warning when less than `reserve` (`min_free_disk`) is free: new mail is
/// refused then.
pub fn log_disk_usage(database: &Path, reserve: u64) {
    let usage = match disk_usage(database) {
        Ok(usage) => usage,
        Err(error) => {
            log::warn!("disk: cannot tell how full the disk is: {error}");
            return;
        }
    };
    let size = std::fs::metadata(database).map_or(0, |metadata| metadata.len());
    let held = Ballast::beside(database, 0).held();
    log::info!(
        "disk: {usage}; database {}, ballast {}, reserve (min_free_disk) {}",
        human_bytes(size),
        human_bytes(held),
        human_bytes(reserve)
    );
    if usage.free < reserve {
        log::warn!(
            "disk: only {} free, below the {} reserve (min_free_disk): new mail is refused until there is room",
            human_bytes(usage.free),
            human_bytes(reserve)
        );
    }
}

/// `bytes` for people: `512 B`, `3.1 MiB`, `28.4 GiB`.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut unit = 0;
    while unit + 1 < UNITS.len() && bytes >= 1u64 << (10 * (unit + 1)) {
        unit += 1;
    }
    if unit == 0 {
        return format!("{bytes} B");
    }
    // Tenths, rounded to the nearest, in integers.
    let scale = 1u128 << (10 * unit);
    let tenths = (u128::from(bytes) * 10 + scale / 2) / scale;
    format!("{}.{} {}", tenths / 10, tenths % 10, UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(label: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("roost-ballast-{label}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn the_ballast_file_takes_real_blocks_and_gives_them_back() {
        let dir = temp_dir("file");
        let ballast = Ballast::beside(&dir.join("roost.redb"), 1 << 20);
        assert_eq!(ballast.held(), 0);
        assert_eq!(ballast.missing(), 1 << 20);
        ballast.fill_now(u64::MAX, 0);
        assert!(ballast.held() >= 1 << 20, "blocks allocated, not a sparse file: {}", ballast.held());
        assert_eq!(ballast.missing(), 0);
        assert!(ballast.release() >= 1 << 20);
        assert_eq!(ballast.held(), 0);
        assert_eq!(ballast.release(), 0, "nothing left to release");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn no_ballast_is_made_where_it_would_eat_the_reserve() {
        let dir = temp_dir("reserve");
        let ballast = Ballast::beside(&dir.join("roost.redb"), 1 << 20);
        ballast.fill_now(1 << 20, 1);
        assert_eq!(ballast.held(), 0);
        ballast.refill_later(1 << 20, 1);
        assert!(!ballast.filling.load(Ordering::Acquire));
        assert_eq!(ballast.held(), 0);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn disk_usage_adds_up() {
        let usage = disk_usage(&std::env::temp_dir().join("no-such-file")).unwrap();
        assert!(usage.total > 0 && usage.used <= usage.total && usage.free <= usage.total, "{usage:?}");
        assert!(usage.percent_used() <= 100);
        assert!(usage.to_string().contains("%), "), "{usage}");
    }

    #[test]
    fn human_bytes_reads_well() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(32 << 20), "32.0 MiB");
        assert_eq!(human_bytes(3 << 30 | 1 << 29), "3.5 GiB");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1024), "1.0 KiB");
        assert_eq!(human_bytes(u64::MAX), "16777216.0 TiB");
    }
}
