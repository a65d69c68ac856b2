//! Backups on the server's side: `roost backup` through the control
//! socket, and the schedule of the `[backup]` table (`dir`, `every`,
//! `keep`). The copy itself is `store::backup` (one read snapshot copied
//! on a thread of its own, verified before it gets its name).
//!
//! One backup at a time: a request or a scheduled run that finds one in
//! progress is refused (said so, and logged), never started twice. Two at
//! once would only halve the speed of each and double what the running
//! store cannot reuse while their snapshots are held.
//!
//! Scheduled backups are named `roost-YYYY-MM-DDTHHMM.redb` in UTC (names
//! sort in time order and never repeat across a clock change), with the
//! seconds added when that name is taken (an `every` under a minute). The
//! first one is due `every` after the newest already in `dir` (at once,
//! after a minute's grace, when there is none or it is older), then every
//! `every`. Once a new backup is verified, the oldest beyond `keep` are
//! removed: only files with exactly that name shape, never anything else
//! in `dir`. A failure is logged and told to the `[alerts] admin` by a
//! notice in their INBOX, in plain words (a missing `dir` is most often a
//! USB disk that is not mounted: roost does not create it, or the backup
//! would silently land on the SD card it is meant to protect).

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::rc::{Rc, Weak};
use std::time::Duration;

use crate::alert::Notice;
use crate::server::Server;
use crate::store::backup::Backup;
use crate::util::datetime::{civil_from_days, DateTime};

/// The grace after start before an overdue scheduled backup runs: the
/// server's own start (clients reconnecting) goes first.
const FIRST_DELAY: Duration = Duration::from_secs(60);

/// Whether a backup is running (one at a time).
#[derive(Default)]
pub struct Backups {
    running: Cell<bool>,
}

/// Clears the running mark however the backup ends (an error, or its
/// future dropped when the server stops).
struct Running<'a>(&'a Cell<bool>);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.set(false);
    }
}

/// Makes a backup into `dest` (a file that must not exist, or a directory
/// that gets a dated name), unless one is running. Logs the outcome.
pub async fn run(server: &Server, dest: &Path) -> Result<Backup, String> {
    if server.backups.running.get() {
        log::warn!("backup to {} refused: another backup is in progress", dest.display());
        return Err("a backup is already in progress; try again when it has finished".into());
    }
    let _running = {
        server.backups.running.set(true);
        Running(&server.backups.running)
    };
    // File-system calls on the backup disk (a USB disk may take seconds to
    // spin up, or hang when it is failing) stay off the executor.
    let (database, requested, now) = (server.config.database_path(), dest.to_path_buf(), DateTime::now().unix);
    let (dest, warning) = smol::unblock(move || {
        let dest = destination(&requested, now)?;
        let warning = same_disk_warning(&database, &dest);
        Ok::<_, String>((dest, warning))
    })
    .await?;
    log::info!("backup to {} started", dest.display());
    if let Some(warning) = warning {
        log::warn!("{warning}");
    }
    match server.store.backup(dest.clone()).await {
        Ok(backup) => {
            log::info!("{}", backup.summary());
            Ok(backup)
        }
        Err(error) => {
            let (owned, error) = (dest.clone(), error.to_string());
            let why = smol::unblock(move || explain(&owned, &error)).await;
            log::error!("backup to {} failed: {why}", dest.display());
            Err(why)
        }
    }
}

/// `dest` itself, or, when it is a directory, the dated name of a backup
/// made at `unix` inside it (with seconds when the minute's name is
/// taken).
pub fn destination(dest: &Path, unix: i64) -> Result<PathBuf, String> {
    if !dest.is_dir() {
        return Ok(dest.to_path_buf());
    }
    let (minute, second) = dated_names(unix);
    for name in [minute, second] {
        let path = dest.join(name);
        if !path.exists() {
            return Ok(path);
        }
    }
    Err(format!("{}: a backup of this second exists already", dest.display()))
}

/// `roost-YYYY-MM-DDTHHMM.redb` and the same with seconds, in UTC.
fn dated_names(unix: i64) -> (String, String) {
    let stamp = stamp(unix);
    (format!("roost-{}.redb", &stamp[..15]), format!("roost-{stamp}.redb"))
}

/// `YYYY-MM-DDTHHMMSS` in UTC: backups' names, and the name `roost
/// restore` keeps the replaced database under.
pub fn stamp(unix: i64) -> String {
    let (year, month, day) = civil_from_days(unix.div_euclid(86400));
    let seconds = unix.rem_euclid(86400);
    format!("{year:04}-{month:02}-{day:02}T{:02}{:02}{:02}", seconds / 3600, seconds / 60 % 60, seconds % 60)
}

/// Whether `name` is one of the dated names the schedule gives (and so
/// may be removed by `keep`).
fn is_dated_name(name: &str) -> bool {
    let Some(stem) = name.strip_prefix("roost-").and_then(|rest| rest.strip_suffix(".redb")) else { return false };
    let bytes = stem.as_bytes();
    let digits = |range: std::ops::Range<usize>| bytes[range].iter().all(u8::is_ascii_digit);
    (bytes.len() == 15 || bytes.len() == 17)
        && digits(0..4)
        && bytes[4] == b'-'
        && digits(5..7)
        && bytes[7] == b'-'
        && digits(8..10)
        && bytes[10] == b'T'
        && digits(11..bytes.len())
}

/// The scheduled backups in `dir`, oldest first (dated names sort so).
fn scheduled_backups(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut names: Vec<String> = std::fs::read_dir(dir)?
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| is_dated_name(name))
        .collect();
    names.sort();
    Ok(names.into_iter().map(|name| dir.join(name)).collect())
}

/// Removes the oldest scheduled backups beyond `keep`; answers those removed.
fn prune(dir: &Path, keep: usize) -> std::io::Result<Vec<PathBuf>> {
    let backups = scheduled_backups(dir)?;
    let excess = backups.len().saturating_sub(keep);
    let mut removed = Vec::new();
    for path in backups.into_iter().take(excess) {
        std::fs::remove_file(&path)?;
        removed.push(path);
    }
    Ok(removed)
}

/// Refuses a backup directory that is missing or not a directory: roost
/// never creates it (see the module docs).
pub fn require_directory(dir: &Path) -> Result<(), String> {
    if dir.is_dir() {
        Ok(())
    } else if dir.exists() {
        Err(format!("the backup directory {} is not a directory", dir.display()))
    } else {
        Err(format!(
            "the backup directory {} does not exist: if it is a USB disk, is it plugged in and mounted? \
             (roost does not create it, so that backups never land on the disk they protect)",
            dir.display()
        ))
    }
}

/// The error in words an administrator acts on.
fn explain(dest: &Path, error: &str) -> String {
    let dir = dest.parent().unwrap_or(Path::new("."));
    if !dir.exists() {
        format!(
            "the backup directory {} does not exist (if it is a USB disk, is it plugged in and mounted?); {error}",
            dir.display()
        )
    } else if !dir.is_dir() {
        format!("{} is not a directory; {error}", dir.display())
    } else {
        error.to_string()
    }
}

/// A warning when `dest` is on the same file system as the database: a
/// dead SD card would take both (often a USB disk that is not mounted,
/// leaving its empty mount point on the SD card).
fn same_disk_warning(database: &Path, dest: &Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let device = |path: &Path| std::fs::metadata(path).ok().map(|metadata| metadata.dev());
    let database_device = device(database.parent()?)?;
    let dest_device = device(dest.parent()?)?;
    (database_device == dest_device).then(|| {
        format!(
            "backup {} is on the same disk as the database: it protects against mistakes, not against that disk failing",
            dest.display()
        )
    })
}

/// The schedule (`[backup] every`), spawned by the server when set.
pub async fn schedule(server: Weak<Server>) {
    let Some((dir, every, keep)) = server.upgrade().and_then(|server| {
        let backup = &server.config.backup;
        Some((backup.dir.clone()?, backup.every?, backup.keep))
    }) else {
        return;
    };
    let every = Duration::from_secs(every);
    let mut wait = {
        let dir = dir.clone();
        smol::unblock(move || first_wait(&dir, every)).await
    };
    log::info!(
        "scheduled backups into {} every {} s, keeping {keep}; the next in {} s",
        dir.display(),
        every.as_secs(),
        wait.as_secs()
    );
    loop {
        smol::Timer::after(wait).await;
        wait = every;
        let Some(server) = server.upgrade() else { return };
        scheduled_once(&server, &dir, keep).await;
    }
}

/// How long until the first scheduled backup: `every` after the newest in
/// `dir`, or [`FIRST_DELAY`] (at most `every`) when that is past or there
/// is none.
fn first_wait(dir: &Path, every: Duration) -> Duration {
    let soon = FIRST_DELAY.min(every);
    let newest = scheduled_backups(dir).ok().and_then(|backups| backups.last().cloned());
    let Some(age) = newest
        .and_then(|path| std::fs::metadata(path).ok()?.modified().ok())
        .and_then(|modified| modified.elapsed().ok())
    else {
        return soon;
    };
    every.checked_sub(age).map_or(soon, |left| left.max(soon))
}

/// One scheduled backup, its pruning and, on failure, the admin's notice.
async fn scheduled_once(server: &Rc<Server>, dir: &Path, keep: usize) {
    // As in `run`: the backup disk's file-system calls off the executor.
    let owned = dir.to_path_buf();
    let made = match smol::unblock(move || require_directory(&owned)).await {
        Ok(()) => run(server, dir).await,
        Err(why) => {
            log::error!("scheduled backup failed: {why}");
            Err(why)
        }
    };
    let owned = dir.to_path_buf();
    match made {
        Ok(_) => match smol::unblock(move || prune(&owned, keep)).await {
            Ok(removed) => {
                for path in removed {
                    log::info!("old backup {} removed (keep = {keep})", path.display());
                }
            }
            Err(error) => log::warn!("cannot remove old backups in {}: {error}", dir.display()),
        },
        Err(why) => tell_admin(server, dir, &why).await,
    }
}

/// The notice of a failed scheduled backup, to `[alerts] admin`.
async fn tell_admin(server: &Server, dir: &Path, why: &str) {
    let Some(admin) = server.config.alerts.admin.clone() else {
        log::warn!("no [alerts] admin is set, so nobody was told of the failed backup by mail");
        return;
    };
    let notice = Notice {
        name: admin.clone(),
        subject: "A scheduled backup failed".into(),
        paragraphs: vec![
            format!("roost could not make the scheduled backup into {}.", dir.display()),
            format!("What went wrong: {why}"),
            "The mail itself is safe on the server; only the copy is missing. The backups already made are kept. \
             roost tries again at the next scheduled time; `roost backup` makes one now."
                .into(),
        ],
        copy_admin: false,
    };
    match crate::alert::send_notice(server, &notice).await {
        Ok(true) => log::info!("the failed backup was told to {admin}"),
        Ok(false) => log::warn!("[alerts] admin {admin} has no INBOX: nobody was told of the failed backup by mail"),
        Err(error) => log::warn!("cannot tell {admin} of the failed backup: {error}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dated_names_sort_in_time_order_and_are_recognized() {
        // 2026-12-06 03:00:05 UTC.
        let unix = 1_796_526_005;
        let (minute, second) = dated_names(unix);
        assert_eq!(minute, "roost-2026-12-06T0300.redb");
        assert_eq!(second, "roost-2026-12-06T030005.redb");
        let (later, _) = dated_names(unix + 60);
        let mut names = vec![later.clone(), second.clone(), minute.clone()];
        names.sort();
        assert_eq!(names, vec![minute.clone(), second.clone(), later]);
        assert!(is_dated_name(&minute) && is_dated_name(&second));
        for other in ["roost.redb", "roost-2026-12-06T0300.redb.tmp", "roost-holiday.redb", "roost-2026-12-06T03.redb"]
        {
            assert!(!is_dated_name(other), "{other}");
        }
    }

    #[test]
    fn prune_removes_only_the_oldest_dated_backups() {
        let dir = std::env::temp_dir().join(format!("roost-prune-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let names = ["roost-2026-12-01T0300.redb", "roost-2026-12-02T0300.redb", "roost-2026-12-03T0300.redb"];
        for name in names.iter().chain(&["notes.txt", "roost-mine.redb"]) {
            std::fs::write(dir.join(name), b"x").unwrap();
        }
        let removed = prune(&dir, 2).unwrap();
        assert_eq!(removed, vec![dir.join(names[0])]);
        assert!(dir.join("notes.txt").exists() && dir.join("roost-mine.redb").exists());
        assert_eq!(scheduled_backups(&dir).unwrap().len(), 2);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
