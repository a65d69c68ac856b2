//! What the previous export into a directory wrote (`roost-export.state`),
//! the lock that keeps two exports out of one directory, and the moves of
//! renamed and deleted mailboxes' outputs.
//!
//! The state file is text: a first line `roost-export 1 FORMAT USER`, then
//! one line per mailbox, `ID UIDVALIDITY HIGHESTMODSEQ PATH`, PATH relative
//! to the directory (empty for a Maildir's INBOX, the directory itself).
//! It is replaced (temporary file and rename) only at the end of an
//! export, so an export stopped half-way is finished by the next one:
//! whatever it wrote is found again through the per-mailbox files (a
//! Maildir's `dovecot-uidlist`), or rewritten (an mbox).

use std::path::Path;

use super::{io_error, replace_file, Format, Mailbox, Summary, LOCK_FILE, MOVING_DIR, STATE_FILE};

const MAGIC: &str = "roost-export";
const VERSION: &str = "1";

/// One mailbox as the previous export left it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub id: u64,
    pub uid_validity: u32,
    pub modseq: u64,
    pub path: String,
}

#[derive(Debug)]
pub struct State {
    user: String,
    format: Format,
    entries: Vec<Entry>,
}

impl State {
    pub fn new(user: &str, format: Format) -> State {
        State { user: user.to_string(), format, entries: Vec::new() }
    }

    /// The state of `dir`, empty for a new or empty directory. Refuses a
    /// directory holding anything else (an export must not mix with, or
    /// later remove, files it did not write) and one exported for another
    /// user or in the other format.
    pub fn read(dir: &Path, user: &str, format: Format) -> Result<State, String> {
        let path = dir.join(STATE_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                let foreign = std::fs::read_dir(dir)
                    .map_err(|error| io_error("cannot read", dir, error))?
                    .filter_map(Result::ok)
                    .any(|entry| entry.file_name() != LOCK_FILE);
                if foreign {
                    return Err(format!(
                        "{} is not empty and holds no roost export ({STATE_FILE} is missing): choose a new or empty directory",
                        dir.display()
                    ));
                }
                return Ok(State::new(user, format));
            }
            Err(error) => return Err(io_error("cannot read", &path, error)),
        };
        let mut lines = text.lines();
        let header: Vec<&str> = lines.next().unwrap_or("").split(' ').collect();
        let [MAGIC, VERSION, word, owner] = header[..] else {
            return Err(format!("{} is not a state file this roost understands", path.display()));
        };
        if Format::from_word(word) != Some(format) {
            return Err(format!(
                "{} holds a {word} export; export {} into another directory",
                dir.display(),
                format.word()
            ));
        }
        if owner != user {
            return Err(format!("{} holds the export of user {owner}, not {user}", dir.display()));
        }
        let mut state = State::new(user, format);
        for line in lines {
            let mut fields = line.splitn(4, ' ');
            let parsed = (|| {
                Some(Entry {
                    id: fields.next()?.parse().ok()?,
                    uid_validity: fields.next()?.parse().ok()?,
                    modseq: fields.next()?.parse().ok()?,
                    path: fields.next()?.to_string(),
                })
            })();
            state.entries.push(parsed.ok_or_else(|| format!("{}: bad line {line:?}", path.display()))?);
        }
        Ok(state)
    }

    pub fn entry(&self, id: u64) -> Option<&Entry> {
        self.entries.iter().find(|entry| entry.id == id)
    }

    pub fn push(&mut self, entry: Entry) {
        self.entries.push(entry);
    }

    pub fn write(&self, dir: &Path) -> Result<(), String> {
        let mut text = format!("{MAGIC} {VERSION} {} {}\n", self.format.word(), self.user);
        for entry in &self.entries {
            text.push_str(&format!("{} {} {} {}\n", entry.id, entry.uid_validity, entry.modseq, entry.path));
        }
        replace_file(&dir.join(STATE_FILE), text.as_bytes()).map(|_| ())
    }
}

/// Holds the export lock of `dir` until dropped (an flock: a crashed
/// export leaves no stale lock behind).
pub fn lock(dir: &Path) -> Result<std::fs::File, String> {
    let path = dir.join(LOCK_FILE);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|error| io_error("cannot open", &path, error))?;
    rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive)
        .map_err(|_| format!("another export into {} is running", dir.display()))?;
    Ok(file)
}

/// Outputs of mailboxes renamed or deleted since the previous export,
/// moved aside into [`MOVING_DIR`] (as their mailbox id) before anything
/// is written, so a new mailbox may take a name an old one had; each is
/// brought back under its mailbox's new name, and what is left at the end
/// belonged to deleted mailboxes.
pub struct Moves {
    /// Paths left behind (for removing the parents they leave empty).
    vacated: Vec<String>,
    moved: usize,
}

impl Moves {
    pub fn begin(dir: &Path, previous: &State, placed: &[(Mailbox, String)]) -> Result<Moves, String> {
        let moving = dir.join(MOVING_DIR);
        // Left by an export that stopped half-way: only ever our own moves.
        if moving.exists() {
            std::fs::remove_dir_all(&moving).map_err(|error| io_error("cannot remove", &moving, error))?;
        }
        let mut moves = Moves { vacated: Vec::new(), moved: 0 };
        for entry in &previous.entries {
            let stays = placed.iter().any(|(mailbox, place)| mailbox.id == entry.id && *place == entry.path);
            // A Maildir's INBOX is the directory itself: never moved.
            if stays || entry.path.is_empty() {
                continue;
            }
            let from = dir.join(&entry.path);
            if from.exists() {
                std::fs::create_dir_all(&moving).map_err(|error| io_error("cannot create", &moving, error))?;
                let to = moving.join(entry.id.to_string());
                std::fs::rename(&from, &to).map_err(|error| io_error("cannot move", &from, error))?;
                moves.moved += 1;
            }
            moves.vacated.push(entry.path.clone());
        }
        Ok(moves)
    }

    /// Puts mailbox `id`'s previous output (if it was moved aside) at `place`.
    pub fn bring_back(&self, dir: &Path, id: u64, place: &str) -> Result<bool, String> {
        let from = dir.join(MOVING_DIR).join(id.to_string());
        if self.moved == 0 || !from.exists() {
            return Ok(false);
        }
        let to = dir.join(place);
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent).map_err(|error| io_error("cannot create", parent, error))?;
        }
        std::fs::rename(&from, &to).map_err(|error| io_error("cannot move into", &to, error))?;
        Ok(true)
    }

    /// Removes the outputs of deleted mailboxes and the directories their
    /// moves left empty (an mbox tree's `.sbd` folders).
    pub fn finish(self, dir: &Path, format: Format, summary: &mut Summary) -> Result<(), String> {
        let moving = dir.join(MOVING_DIR);
        if moving.exists() {
            let left = std::fs::read_dir(&moving).map_err(|error| io_error("cannot read", &moving, error))?.count();
            summary.mailboxes_removed += left;
            summary.mailboxes_renamed += self.moved - left;
            std::fs::remove_dir_all(&moving).map_err(|error| io_error("cannot remove", &moving, error))?;
        }
        if format == Format::Mbox {
            for path in &self.vacated {
                let mut parent = Path::new(path).parent();
                while let Some(folder) = parent.filter(|folder| !folder.as_os_str().is_empty()) {
                    // Fails (and stops) at the first folder that is not empty.
                    if std::fs::remove_dir(dir.join(folder)).is_err() {
                        break;
                    }
                    parent = folder.parent();
                }
            }
        }
        Ok(())
    }
}
