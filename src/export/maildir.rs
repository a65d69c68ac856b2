//! The Maildir++ side of `roost export`: the layout Dovecot 2.3 reads as
//! it is (`mail_location = maildir:DIR`), checked against Dovecot's
//! documentation of its Maildir format and its own reading code.
//!
//! - Folders: INBOX is `DIR` itself (`cur/`, `new/`, `tmp/`); mailbox
//!   `A/B` is `DIR/.A.B`, with a `maildirfolder` file as Maildir++ marks
//!   subfolders. Each level of a name is written in modified UTF-7
//!   (RFC 3501 §5.1.3), as Dovecot's default (non-UTF8) layout stores
//!   names. A `.` inside a roost name cannot be told from Maildir++'s
//!   hierarchy dot, so it is written `\2e` (and `\` itself `\5c`, a `~`
//!   that starts a level `\7e`): the escapes of Dovecot's `listescape`
//!   plugin, which turns them back into the same name; without the plugin
//!   Dovecot shows the escape as it is, still one folder with a clear name.
//! - Messages: `cur/<stem>,S=<size>,W=<vsize>:2,<flags>`, the stem
//!   `<internal date>.V<uidvalidity>U<uid>.roost` (unique, and stable
//!   across exports), S= the file's size and W= its size with bare LFs
//!   counted as CRLF (RFC822.SIZE, which Dovecot then takes from the name
//!   instead of reading the file), counted while the bytes are written.
//!   The bytes are the stored message, unchanged. The file's mtime is the
//!   internal date: Dovecot's INTERNALDATE for a Maildir message.
//! - Flags: after `:2,`, the letters in ASCII order as the Maildir spec
//!   asks: `D` \Draft, `F` \Flagged, `R` \Answered, `S` \Seen,
//!   `T` \Deleted, then `a`..`z` for the mailbox's first 26 keywords, named
//!   in `dovecot-keywords` (`0 name` is `a`). A Maildir holds no more than
//!   26; further keywords are reported, not exported.
//! - `dovecot-uidlist`, version 3: `3 V<uidvalidity> N<uidnext>`, then
//!   `<uid> :<file name>` per message in UID order. Dovecot keeps those
//!   UIDs and that UIDVALIDITY, so a client that moves over keeps its
//!   cache. (HIGHESTMODSEQ is Dovecot's own, in its index; a CONDSTORE
//!   client resynchronises flags once, not bodies.)
//! - `subscriptions` in `DIR`: Dovecot's version 2 file, `V\t2\n\n` then
//!   one name a line, its levels separated by tabs, each level as the
//!   folder names spell it.
//!
//! On a second export the directory listing says which file holds which
//! UID: the stem of our names carries the UIDVALIDITY and the UID, and a
//! Maildir reader that changes flags keeps the stem (only the `:2,` info
//! changes), so the files are found wherever Dovecot or another reader
//! moved them (`new/` or `cur/`, other flags). One map entry per file is
//! held, and the new uidlist is written as the walk goes: about 100 bytes
//! of memory per message. A file that is not ours (another UIDVALIDITY, a
//! name we did not write) is removed from a folder being exported: the tree
//! is roost's copy.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use super::{io_error, replace_file, set_mtime, temporary_beside, Mailbox, Source, Summary};
use crate::store::{Flags, INBOX};

/// Keywords a Maildir file name can hold (`a`..`z`).
pub const MAX_KEYWORDS: usize = 26;
/// Longest file name most file systems take.
const NAME_MAX: usize = 255;

/// Maildir's flag letters (the Maildir spec; Dovecot's mapping), in the
/// ASCII order the spec asks them to be written in.
const LETTERS: [(char, Flags); 5] =
    [('D', Flags::DRAFT), ('F', Flags::FLAGGED), ('R', Flags::ANSWERED), ('S', Flags::SEEN), ('T', Flags::DELETED)];

/// The folder (relative to the export directory) of mailbox `name`:
/// empty for INBOX, `.A.B` for `A/B`; an error for a name no file name can
/// hold.
pub fn folder_path(name: &str) -> Result<String, String> {
    if name == INBOX {
        return Ok(String::new());
    }
    let path = format!(".{}", levels(name)?.join("."));
    if path.len() > NAME_MAX {
        return Err(format!("its folder name would be {} bytes long (at most {NAME_MAX})", path.len()));
    }
    Ok(path)
}

/// Each level of `name` as a folder name spells it (escaped, then
/// modified UTF-7).
fn levels(name: &str) -> Result<Vec<String>, String> {
    name.split(crate::store::DELIMITER)
        .map(|level| {
            if level.is_empty() {
                return Err("it has an empty level".to_string());
            }
            Ok(crate::util::mutf7::encode(&escape(level)))
        })
        .collect()
}

/// `listescape`'s `\NN` escapes for the characters Maildir++ cannot hold
/// in a level (see the module docs).
fn escape(level: &str) -> String {
    let mut escaped = String::with_capacity(level.len());
    for (index, character) in level.char_indices() {
        match character {
            '.' | '\\' => escaped.push_str(&format!("\\{:02x}", character as u32)),
            '~' if index == 0 => escaped.push_str("\\7e"),
            other => escaped.push(other),
        }
    }
    escaped
}

/// The `:2,` info of a message: its flag letters, then its keywords'
/// (bit i of `keywords` is keyword i of the mailbox, of which there are
/// `defined`).
pub fn info(flags: Flags, keywords: u64, defined: usize) -> String {
    let mut info = String::from(":2,");
    for (letter, flag) in LETTERS {
        if flags.contains(flag) {
            info.push(letter);
        }
    }
    for index in 0..defined.min(MAX_KEYWORDS) {
        if keywords & (1 << index) != 0 {
            info.push(char::from(b'a' + index as u8));
        }
    }
    info
}

/// The UID a file name of ours holds (`<date>.V<uidvalidity>U<uid>.roost`
/// then `,S=..` or `:2,..`), if it is ours and of this UIDVALIDITY.
fn uid_of(name: &str, uid_validity: u32) -> Option<u32> {
    let stem = name.split([',', ':']).next()?.strip_suffix(".roost")?;
    let (_, id) = stem.rsplit_once('.')?;
    let (validity, uid) = id.strip_prefix('V')?.split_once('U')?;
    (validity.parse() == Ok(uid_validity)).then(|| uid.parse().ok())?
}

/// The message files in `cur/` and `new/`: ours by UID (folder, file
/// name), and the paths of any others.
type Listing = (HashMap<u32, (&'static str, Box<str>)>, Vec<std::path::PathBuf>);

fn list_messages(folder: &Path, uid_validity: u32) -> Result<Listing, String> {
    let (mut ours, mut others) = (HashMap::new(), Vec::new());
    for sub in ["new", "cur"] {
        let path = folder.join(sub);
        for entry in std::fs::read_dir(&path).map_err(|error| io_error("cannot read", &path, error))? {
            let entry = entry.map_err(|error| io_error("cannot read", &path, error))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            match uid_of(&name, uid_validity) {
                Some(uid) => {
                    if let Some((sub, twin)) = ours.insert(uid, (sub, name.into_boxed_str())) {
                        others.push(folder.join(sub).join(&*twin));
                    }
                }
                None => others.push(entry.path()),
            }
        }
    }
    Ok((ours, others))
}

/// Whether a folder holds a previous export (its uidlist).
pub fn written(folder: &Path) -> bool {
    folder.join("dovecot-uidlist").exists()
}

/// Exports one mailbox into `folder` (the export directory itself for
/// INBOX, which is no Maildir++ subfolder).
pub fn export(source: &mut Source, mailbox: &Mailbox, folder: &Path, summary: &mut Summary) -> Result<(), String> {
    let record = &mailbox.record;
    let uidlist_path = folder.join("dovecot-uidlist");
    for sub in ["cur", "new", "tmp"] {
        let path = folder.join(sub);
        std::fs::create_dir_all(&path).map_err(|error| io_error("cannot create", &path, error))?;
    }
    if record.name != INBOX {
        let marker = folder.join("maildirfolder");
        if !marker.exists() {
            std::fs::write(&marker, b"").map_err(|error| io_error("cannot write", &marker, error))?;
        }
    }
    // Left in tmp/ by an export that stopped half-way (the lock says no
    // other export runs): only our own names.
    let temporary = folder.join("tmp");
    for entry in std::fs::read_dir(&temporary).map_err(|error| io_error("cannot read", &temporary, error))? {
        let entry = entry.map_err(|error| io_error("cannot read", &temporary, error))?;
        if entry.file_name().to_string_lossy().ends_with(".roost") {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    // What the previous export wrote, found by the UIDs in our file names
    // (which keep their stem whoever renames them for flags): a UIDVALIDITY
    // that differs (a name deleted and made again) makes every file a
    // stranger. One map entry per file: the uidlist is not read back.
    let (mut files, strangers) = list_messages(folder, record.uid_validity)?;
    let defined = record.keywords.len();
    let mut beyond = 0u64;
    // Written as the walk goes, not held: one line per message.
    let uidlist_temporary = temporary_beside(&uidlist_path);
    let file = std::fs::File::create(&uidlist_temporary)
        .map_err(|error| io_error("cannot create", &uidlist_temporary, error))?;
    let mut uidlist = std::io::BufWriter::new(file);
    let failed = |error| io_error("cannot write", &uidlist_temporary, error);
    writeln!(uidlist, "3 V{} N{}", record.uid_validity, record.uid_next).map_err(failed)?;
    source.walk(mailbox.id, record.uid_next, |source, uid, message| {
        if defined > MAX_KEYWORDS && message.keywords >> MAX_KEYWORDS != 0 {
            beyond += 1;
        }
        let info = info(message.flags, message.keywords, defined);
        let name = match files.remove(&uid) {
            Some((sub, current)) => {
                let stem = current.split(':').next().unwrap_or(&current);
                let wanted = format!("{stem}{info}");
                if sub != "cur" || *current != *wanted {
                    let from = folder.join(sub).join(&*current);
                    let to = folder.join("cur").join(&wanted);
                    std::fs::rename(&from, &to).map_err(|error| io_error("cannot rename", &from, error))?;
                    summary.renamed += 1;
                }
                wanted
            }
            None => match write_message(source, folder, record.uid_validity, uid, message, &info)? {
                Some(name) => {
                    summary.written += 1;
                    name
                }
                None => return Ok(()),
            },
        };
        writeln!(uidlist, "{uid} :{name}").map_err(failed)
    })?;
    uidlist.flush().map_err(failed)?;
    drop(uidlist);
    // What is left was expunged, or was never ours.
    let expunged = files.into_values().map(|(sub, name)| folder.join(sub).join(&*name));
    for path in expunged.chain(strangers) {
        std::fs::remove_file(&path).map_err(|error| io_error("cannot remove", &path, error))?;
        summary.removed += 1;
    }
    if beyond > 0 {
        summary.warnings.push(format!(
            "mailbox {:?}: {beyond} message(s) have keywords beyond the {MAX_KEYWORDS} a Maildir holds; those keywords were left out",
            record.name
        ));
    }
    let mut keywords = String::new();
    for (index, keyword) in record.keywords.iter().take(MAX_KEYWORDS).enumerate() {
        keywords.push_str(&format!("{index} {keyword}\n"));
    }
    replace_file(&folder.join("dovecot-keywords"), keywords.as_bytes())?;
    std::fs::rename(&uidlist_temporary, &uidlist_path)
        .map_err(|error| io_error("cannot rename into", &uidlist_path, error))?;
    Ok(())
}

/// Writes one message into `tmp/`, sets its mtime to the internal date and
/// renames it into `cur/`; answers its file name (None: expunged meanwhile).
fn write_message(
    source: &mut Source,
    folder: &Path,
    uid_validity: u32,
    uid: u32,
    message: &crate::store::MessageRecord,
    info: &str,
) -> Result<Option<String>, String> {
    let stem = format!("{}.V{uid_validity}U{uid}.roost", message.internal_date.unix.max(0));
    let temporary = folder.join("tmp").join(&stem);
    let file = std::fs::File::create(&temporary).map_err(|error| io_error("cannot create", &temporary, error))?;
    let mut writer = std::io::BufWriter::with_capacity(64 * 1024, &file);
    let (mut size, mut virtual_size, mut previous) = (0u64, 0u64, 0u8);
    let found = source.message(message, |piece| {
        for &byte in piece {
            // RFC822.SIZE counts a bare LF as CRLF (what IMAP sends).
            if byte == b'\n' && previous != b'\r' {
                virtual_size += 1;
            }
            previous = byte;
        }
        size += piece.len() as u64;
        virtual_size += piece.len() as u64;
        writer.write_all(piece)
    })?;
    writer.flush().map_err(|error| io_error("cannot write", &temporary, error))?;
    drop(writer);
    if !found {
        let _ = std::fs::remove_file(&temporary);
        return Ok(None);
    }
    set_mtime(&file, message.internal_date.unix).map_err(|error| io_error("cannot date", &temporary, error))?;
    let name = format!("{stem},S={size},W={virtual_size}{info}");
    let target = folder.join("cur").join(&name);
    std::fs::rename(&temporary, &target).map_err(|error| io_error("cannot rename into", &target, error))?;
    Ok(Some(name))
}

/// Dovecot's `subscriptions` file (version 2) for the names in `names`.
pub fn write_subscriptions(dir: &Path, names: &[String]) -> Result<(), String> {
    let mut text = String::from("V\t2\n\n");
    for name in names {
        let line = if name == INBOX {
            INBOX.to_string()
        } else {
            let Ok(levels) = levels(name) else { continue };
            levels.iter().map(|level| tab_escape(level)).collect::<Vec<_>>().join("\t")
        };
        text.push_str(&line);
        text.push('\n');
    }
    replace_file(&dir.join("subscriptions"), text.as_bytes()).map(|_| ())
}

/// Dovecot's tab escaping of one level in the subscriptions file (\001
/// then a letter for \001, tab, CR and LF).
fn tab_escape(level: &str) -> String {
    let mut escaped = String::with_capacity(level.len());
    for character in level.chars() {
        match character {
            '\u{1}' => escaped.push_str("\u{1}1"),
            '\t' => escaped.push_str("\u{1}t"),
            '\r' => escaped.push_str("\u{1}r"),
            '\n' => escaped.push_str("\u{1}n"),
            other => escaped.push(other),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_are_maildir_plus_plus_in_modified_utf7() {
        assert_eq!(folder_path("INBOX").unwrap(), "");
        assert_eq!(folder_path("Work").unwrap(), ".Work");
        assert_eq!(folder_path("Work/2024").unwrap(), ".Work.2024");
        assert_eq!(folder_path("INBOX/Bills").unwrap(), ".INBOX.Bills");
        assert_eq!(folder_path("Entwürfe").unwrap(), ".Entw&APw-rfe");
        assert_eq!(folder_path("Tom & Jerry").unwrap(), ".Tom &- Jerry");
        // A dot in a name is no hierarchy: listescape's \2e.
        assert_eq!(folder_path("v1.2/notes").unwrap(), ".v1\\2e2.notes");
        assert_eq!(folder_path("~home").unwrap(), ".\\7ehome");
        assert_eq!(folder_path("a\\b").unwrap(), ".a\\5cb");
        assert!(folder_path(&"x".repeat(300)).is_err());
    }

    #[test]
    fn flag_letters_are_sorted_with_keywords_after() {
        assert_eq!(info(Flags::default(), 0, 0), ":2,");
        let all = Flags::SEEN.union(Flags::ANSWERED).union(Flags::FLAGGED).union(Flags::DELETED).union(Flags::DRAFT);
        assert_eq!(info(all, 0, 0), ":2,DFRST");
        assert_eq!(info(Flags::SEEN, 0b101, 3), ":2,Sac");
        // Bits of keywords the mailbox does not define, or past z, are not letters.
        assert_eq!(info(Flags::SEEN, 0b1000, 3), ":2,S");
        assert_eq!(info(Flags::default(), 1 << 26 | 1 << 25, 30), ":2,z");
    }

    #[test]
    fn subscription_levels_are_tab_separated() {
        let dir = std::env::temp_dir().join(format!("roost-export-subs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        write_subscriptions(&dir, &["INBOX".into(), "Work/2024".into(), "Entwürfe".into()]).unwrap();
        let text = std::fs::read_to_string(dir.join("subscriptions")).unwrap();
        assert_eq!(text, "V\t2\n\nINBOX\nWork\t2024\nEntw&APw-rfe\n");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn our_file_names_give_their_uid_whatever_the_flags() {
        assert_eq!(uid_of("1577872800.V7U3.roost,S=5,W=5:2,S", 7), Some(3));
        assert_eq!(uid_of("1577872800.V7U3.roost,S=5,W=5", 7), Some(3));
        assert_eq!(uid_of("0.V7U42.roost:2,FSab", 7), Some(42));
        // Another UIDVALIDITY, or a name we did not write: none.
        assert_eq!(uid_of("1577872800.V8U3.roost,S=5,W=5:2,S", 7), None);
        assert_eq!(uid_of("1276528487.M364837P9451.kurkku,S=1355,W=1394:2,", 7), None);
        assert_eq!(uid_of("1.V7Ux.roost:2,", 7), None);
    }
}
