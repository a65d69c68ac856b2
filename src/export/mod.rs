//! `roost export`: one user's mailboxes written out as files other mail
//! software reads, for leaving roost or for a browsable nightly backup.
//!
//! Two formats ([`Format`]):
//! - **Maildir++** ([`maildir`]), the tree Dovecot 2.3 reads as it is:
//!   INBOX in `DIR/{cur,new,tmp}`, every other mailbox in `DIR/.Name`,
//!   flags and keywords in the file names, `dovecot-uidlist` with roost's
//!   UIDVALIDITY, UIDNEXT and every message's UID, so a client moved to
//!   Dovecot keeps its cache and downloads nothing again;
//! - **mbox** ([`mbox`]), one mboxrd file per mailbox, with the headers
//!   Dovecot's mbox driver reads flags, keywords and UIDs from.
//!
//! Exporting again into the same directory writes only what changed. How
//! change is found: `DIR/roost-export.state` names, per exported mailbox,
//! its id, UIDVALIDITY, HIGHESTMODSEQ at that export and where it was
//! written. A mailbox whose HIGHESTMODSEQ did not move (every append, flag
//! change and expunge raises it, RFC 7162 §3.1) is not even walked; a
//! changed one is walked record by record (no message bytes read) and
//! compared with its previous output: in a Maildir, through the UIDs our
//! file names carry (see [`maildir`]), so new messages are written, flag
//! changes become renames, and expunged messages' files are removed; an
//! mbox file is rewritten whole. A mailbox renamed in
//! roost (same id, new name) has its directory or file renamed, not
//! rewritten; one deleted in roost has its output removed. Only what the
//! state file names is ever removed or renamed, and a first export
//! refuses a directory that is not empty, so an export never eats files it
//! did not write.
//!
//! Where it runs: with the server up, the control request `export`
//! ([`crate::control::export`]) hands the work to a std thread of its own,
//! never the session executor; with the server stopped, the CLI opens the
//! database itself. Either way the reads go through a [`Snapshot`], closed
//! after every batch of [`BATCH`] records or [`BATCH_BYTES`] of message
//! bytes, so a long export never pins the database's old pages (redb
//! reuses freed pages only once every older read transaction has ended).
//! What changes during an export is found by the next one: the state
//! keeps the HIGHESTMODSEQ read when the mailbox's walk began.
//!
//! Files are written in `tmp/` (Maildir) or as a hidden temporary beside
//! the target (mbox) and renamed into place, so a reader never sees half a
//! message; one `syncfs` at the end makes the whole export durable (one
//! flush instead of one `fsync` per message, which costs tens of
//! milliseconds each on an SD card). Only the user's own mailboxes are
//! exported: shared and public ones belong to someone else.

pub mod maildir;
pub mod mbox;
mod state;

use std::path::{Path, PathBuf};

use crate::store::{MailboxRecord, MessageRecord, Snapshot, StoreError};

pub use state::State;

/// Records read per snapshot.
pub const BATCH: usize = 256;
/// Message bytes read per snapshot, at most (a batch ends early past it).
pub const BATCH_BYTES: u64 = 8 << 20;
/// The state file in the export directory (see the module docs).
pub const STATE_FILE: &str = "roost-export.state";
/// Held (flock) while an export writes into the directory.
pub const LOCK_FILE: &str = "roost-export.lock";
/// Where outputs of renamed or deleted mailboxes wait during an export.
pub const MOVING_DIR: &str = "roost-export.moving";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Maildir,
    Mbox,
}

impl Format {
    pub fn word(self) -> &'static str {
        match self {
            Format::Maildir => "maildir",
            Format::Mbox => "mbox",
        }
    }

    pub fn from_word(word: &str) -> Option<Format> {
        match word {
            "maildir" => Some(Format::Maildir),
            "mbox" => Some(Format::Mbox),
            _ => None,
        }
    }
}

/// What an export did, for the CLI and the log.
#[derive(Debug, Default)]
pub struct Summary {
    pub mailboxes: usize,
    /// Mailboxes not walked: nothing changed since the last export.
    pub unchanged: usize,
    pub written: u64,
    pub renamed: u64,
    pub removed: u64,
    pub mailboxes_renamed: usize,
    pub mailboxes_removed: usize,
    /// Things the format cannot hold, in words.
    pub warnings: Vec<String>,
}

impl Summary {
    pub fn text(&self, user: &str, dir: &Path, format: Format) -> String {
        let mut text = format!(
            "exported {user} to {} ({}): {} mailbox(es), {} unchanged; {} message(s) written, {} renamed (flags), {} removed; {} mailbox(es) renamed, {} removed",
            dir.display(),
            format.word(),
            self.mailboxes,
            self.unchanged,
            self.written,
            self.renamed,
            self.removed,
            self.mailboxes_renamed,
            self.mailboxes_removed
        );
        for warning in &self.warnings {
            text.push_str("\nwarning: ");
            text.push_str(warning);
        }
        text
    }
}

/// One mailbox to export.
pub struct Mailbox {
    pub id: u64,
    pub record: MailboxRecord,
}

fn failed(error: StoreError) -> String {
    error.to_string()
}

pub fn io_error(what: &str, path: &Path, error: std::io::Error) -> String {
    use std::io::ErrorKind::{PermissionDenied, ReadOnlyFilesystem};
    // With a server running, the server writes the files: as its own user,
    // and under systemd's ProtectSystem=strict only where the unit allows.
    let hint = if matches!(error.kind(), PermissionDenied | ReadOnlyFilesystem) {
        " (the running server writes the export: its user needs write access there, and with the systemd unit the directory must be listed in ReadWritePaths=)"
    } else if error.raw_os_error() == Some(rustix::io::Errno::INVAL.raw_os_error()) {
        // FAT and exFAT (most USB sticks) refuse ':' in a name, and every
        // Maildir file name has one (`:2,`).
        " (a FAT or exFAT file system cannot hold Maildir's names: use ext4, or --mbox)"
    } else {
        ""
    };
    format!("{what} {}: {error}{hint}", path.display())
}

/// The database side of an export: reads in short snapshots.
pub struct Source {
    snapshot: Snapshot,
    /// Message bytes read in the current snapshot.
    bytes: u64,
}

impl Source {
    pub fn new(snapshot: Snapshot) -> Source {
        Source { snapshot, bytes: 0 }
    }

    /// The user's own selectable mailboxes (by name) and subscriptions.
    pub fn mailboxes(&mut self, user: &str) -> Result<(Vec<Mailbox>, Vec<String>), String> {
        let reader = self.snapshot.reader().map_err(failed)?;
        let record = reader.user(user).map_err(failed)?.ok_or_else(|| format!("no user {user:?}"))?;
        let mut mailboxes = Vec::new();
        for (_, id) in reader.mailboxes(record.id).map_err(failed)? {
            let Some(mailbox) = reader.mailbox(id).map_err(failed)? else { continue };
            // A \Noselect name holds no messages; a Maildir++ or mbox
            // reader shows the parent of an exported child anyway.
            if !mailbox.noselect {
                mailboxes.push(Mailbox { id, record: mailbox });
            }
        }
        let subscriptions = reader.subscriptions(record.id).map_err(failed)?;
        self.close();
        Ok((mailboxes, subscriptions))
    }

    /// Up to [`BATCH`] messages of `mailbox` with `from <= uid < until`.
    fn batch(&mut self, mailbox: u64, from: u32, until: u32) -> Result<Vec<(u32, MessageRecord)>, String> {
        if from >= until {
            return Ok(Vec::new());
        }
        let reader = self.snapshot.reader().map_err(failed)?;
        let messages = reader.messages().map_err(failed)?;
        let mut batch = Vec::new();
        for entry in messages.range(mailbox, from, until - 1).map_err(failed)?.take(BATCH) {
            batch.push(entry.map_err(failed)?);
        }
        Ok(batch)
    }

    /// Calls `visit` with each message of `mailbox` below UID `until`, in
    /// UID order, [`BATCH`] records a snapshot.
    pub fn walk(
        &mut self,
        mailbox: u64,
        until: u32,
        mut visit: impl FnMut(&mut Source, u32, &MessageRecord) -> Result<(), String>,
    ) -> Result<(), String> {
        let mut from = 1;
        loop {
            let batch = self.batch(mailbox, from, until)?;
            let Some(&(last, _)) = batch.last() else { return Ok(()) };
            for (uid, message) in &batch {
                visit(self, *uid, message)?;
            }
            self.close();
            from = last + 1;
        }
    }

    /// Hands the bytes of a message to `visit`, a piece at a time, from
    /// one snapshot. Ok(false): the message is gone (expunged since).
    pub fn message(
        &mut self,
        record: &MessageRecord,
        mut visit: impl FnMut(&[u8]) -> std::io::Result<()>,
    ) -> Result<bool, String> {
        if self.bytes >= BATCH_BYTES {
            self.close();
        }
        let reader = self.snapshot.reader().map_err(failed)?;
        let chunks = reader.chunks().map_err(failed)?;
        let mut written = Ok(());
        let read = chunks.pieces(record.blob, 0, record.size, |piece, _| {
            written = visit(piece);
            written.is_ok()
        });
        match read {
            Ok(_) => {}
            Err(StoreError::Corrupt(_)) if reader.blob(record.blob).ok().flatten().is_none() => return Ok(false),
            Err(error) => return Err(failed(error)),
        }
        written.map_err(|error| format!("cannot write a message: {error}"))?;
        self.bytes += record.size;
        Ok(true)
    }

    /// Ends the current snapshot (the next read opens a newer one).
    pub fn close(&mut self) {
        self.snapshot.close();
        self.bytes = 0;
    }
}

/// Runs one export of `user` into `dir`; blocking (a std thread's work).
pub fn run(snapshot: Snapshot, user: &str, dir: &Path, format: Format) -> Result<Summary, String> {
    let mut source = Source::new(snapshot);
    let (mailboxes, subscriptions) = source.mailboxes(user)?;
    std::fs::create_dir_all(dir).map_err(|error| io_error("cannot create", dir, error))?;
    let _lock = state::lock(dir)?;
    let previous = State::read(dir, user, format)?;
    let mut summary = Summary { mailboxes: mailboxes.len(), ..Summary::default() };
    let mut next = State::new(user, format);
    // Where each mailbox goes; a name the format cannot hold is skipped.
    let mut placed = Vec::new();
    for mailbox in mailboxes {
        let place = match format {
            Format::Maildir => maildir::folder_path(&mailbox.record.name),
            Format::Mbox => mbox::file_path(&mailbox.record.name),
        };
        match place {
            Ok(place) => placed.push((mailbox, place)),
            Err(why) => summary.warnings.push(format!("mailbox {:?} not exported: {why}", mailbox.record.name)),
        }
    }
    let moves = state::Moves::begin(dir, &previous, &placed)?;
    for (mailbox, place) in &placed {
        moves.bring_back(dir, mailbox.id, place)?;
        let record = &mailbox.record;
        let entry = state::Entry {
            id: mailbox.id,
            uid_validity: record.uid_validity,
            modseq: record.highest_modseq,
            path: place.clone(),
        };
        // RFC 7162 §3.1: every change to a mailbox's messages raises its
        // HIGHESTMODSEQ, so an equal one means nothing to write.
        let unchanged = previous.entry(mailbox.id).is_some_and(|before| *before == entry);
        let written = match format {
            Format::Maildir => maildir::written(&dir.join(place)),
            Format::Mbox => dir.join(place).is_file(),
        };
        if unchanged && written {
            summary.unchanged += 1;
        } else {
            match format {
                Format::Maildir => maildir::export(&mut source, mailbox, &dir.join(place), &mut summary)?,
                Format::Mbox => mbox::export(&mut source, mailbox, &dir.join(place), &mut summary)?,
            }
        }
        next.push(entry);
    }
    moves.finish(dir, format, &mut summary)?;
    if format == Format::Maildir {
        maildir::write_subscriptions(dir, &subscriptions)?;
    }
    next.write(dir)?;
    sync(dir)?;
    Ok(summary)
}

/// One flush of everything written on `dir`'s file system.
fn sync(dir: &Path) -> Result<(), String> {
    let file = std::fs::File::open(dir).map_err(|error| io_error("cannot open", dir, error))?;
    rustix::fs::syncfs(&file).map_err(|error| io_error("cannot flush", dir, error.into()))
}

/// Writes `bytes` to `path` through a temporary beside it and a rename,
/// unless the file already holds exactly them. Returns whether it wrote.
pub fn replace_file(path: &Path, bytes: &[u8]) -> Result<bool, String> {
    if std::fs::read(path).is_ok_and(|current| current == bytes) {
        return Ok(false);
    }
    let temporary = temporary_beside(path);
    std::fs::write(&temporary, bytes).map_err(|error| io_error("cannot write", &temporary, error))?;
    std::fs::rename(&temporary, path).map_err(|error| io_error("cannot rename into", path, error))?;
    Ok(true)
}

/// A hidden name beside `path` for writing it before a rename.
pub fn temporary_beside(path: &Path) -> PathBuf {
    let name = path.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!(".{name}.roost-tmp"))
}

/// Sets a file's modification time to a unix time (the internal date).
pub fn set_mtime(file: &std::fs::File, unix: i64) -> std::io::Result<()> {
    let time = if unix >= 0 {
        std::time::UNIX_EPOCH + std::time::Duration::from_secs(unix as u64)
    } else {
        std::time::UNIX_EPOCH - std::time::Duration::from_secs(unix.unsigned_abs())
    };
    file.set_times(std::fs::FileTimes::new().set_modified(time).set_accessed(time))
}
