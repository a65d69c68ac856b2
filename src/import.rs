//! `roost import`: mail from a Maildir (Dovecot, Courier) or mbox files
//! (one file, or a directory of them as Thunderbird's local folders keep
//! them) into a user's mailboxes, keeping flags, keywords and internal
//! dates. The file formats are read by [`crate::mailfile`]; this module
//! walks the source, reads each message twice (once for its digest, once
//! to send it) and hands it to the store's side
//! ([`crate::control::import::Importer`]): over the control socket when a
//! server runs (the CLI reads the files, the server never opens them), on
//! the database directly when none does.
//!
//! Decisions:
//! - Mailbox names: a Maildir's own `cur`/`new` are INBOX, its `.A.B`
//!   folders `A/B`. An mbox FILE goes to `--into MAILBOX`, else to the
//!   mailbox named like the file (`Sent.mbox` → `Sent`, `inbox` → INBOX).
//!   An mbox DIRECTORY is a tree: file `Name` is mailbox `Name` (`inbox`
//!   or `Inbox` at the top is INBOX), `Name.sbd/Child` is `Name/Child`
//!   (Thunderbird's local folders; what `roost export --mbox` writes), a
//!   plain directory `Name/Child` is `Name/Child` (Dovecot's and mutt's
//!   mbox trees), `Name.mbox/mbox` is `Name` (Apple Mail). A level on disk
//!   that is strict modified UTF-7 (Dovecot's `Caf&AOk-`) is decoded; any
//!   other (Thunderbird's UTF-8, `R&D`) is taken as it is. `.msf` indexes,
//!   Thunderbird's other files, dot files and `roost export`'s state are
//!   skipped. With `--into PREFIX`, every mailbox of a Maildir or a
//!   directory goes under `PREFIX/` (INBOX too, as `PREFIX/INBOX`). Names
//!   in the shared or public namespace (`Shared/…`, `Family/…`) are
//!   refused. Mailboxes the import creates are subscribed (clients that
//!   list only subscribed folders show them); existing ones are left as
//!   they are.
//! - Internal dates: Maildir: the file's modification time (Dovecot sets
//!   it to the received date); mbox: the `From ` line's date, else
//!   `Date:`, else now.
//! - Line ends become CRLF as APPEND makes them (`store::incoming`).
//! - Twice is once: each message's digest (see `store::import`) is asked
//!   for first, so a message imported before is neither sent nor stored
//!   again; a message deleted after its import stays deleted.
//! - A refusal by the store (over quota, disk full) stops the import with
//!   what got in and where it stopped; the same command later goes on
//!   where it stopped (what is in is skipped). A broken file (empty, not
//!   mail, not an mbox) is reported and skipped; the rest goes on. A file
//!   cut in the middle of a message is imported as it is, with a warning.
//! - Batches of [`BATCH_MESSAGES`] messages (or [`BATCH_BYTES`]) share one
//!   durable commit: an fsync per message would set the pace on an SD card.
//! - The board's APPENDLIMIT (`literal_size`) does not apply: it guards a
//!   client's upload, and an import streams in bounded pieces whatever a
//!   message's size. Keywords count against the mailbox's 64 as APPEND's
//!   do; a keyword that is no IMAP atom is left out, with a warning.
//!
//! Measured (`tests/bench/import.sh`, release build, x86 VM with 2 cores
//! shared by other builds, load ~9; 10,000 messages, 225 MiB mbox):
//! server stopped 13.4 s (747 msgs/s), server running 14.8 s (674
//! msgs/s; server peak RSS 12 MiB, CLI 6 MiB), the same file again (all
//! skipped) 2.5 s; `doveadm import` of the same file into a Maildir
//! 46.6 s (215 msgs/s).

use std::fs::File;
use std::io::{BufRead, BufReader, IsTerminal, Read, Seek, SeekFrom, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::control::import::{self as remote, Finished, Importer, BATCH_BYTES, BATCH_MESSAGES, MAX_DATA};
use crate::mailfile::{maildir, mbox};
use crate::store::import::Imported;
use crate::store::incoming::LineEnds;
use crate::store::StoreError;
use crate::util::datetime::DateTime;

/// What to import.
pub enum Source {
    Maildir(PathBuf),
    Mbox(PathBuf),
}

/// One mailbox's worth of source.
#[derive(Debug)]
enum Unit {
    /// A Maildir folder (its `cur` and `new`).
    Maildir { mailbox: String, path: PathBuf },
    /// An mbox file.
    Mbox { mailbox: String, path: PathBuf },
}

/// What happened, for the summary.
#[derive(Default)]
struct Summary {
    imported: u64,
    skipped: u64,
    failed: Vec<String>,
    warnings: Vec<String>,
}

/// The store's side, through the socket or direct.
trait Sink {
    async fn mailbox(&mut self, name: &str) -> Result<u64, String>;
    async fn has(&mut self, mailbox: u64, digest: &[u8; 32]) -> Result<Option<u32>, String>;
    async fn data(&mut self, bytes: &[u8]) -> Result<(), String>;
    async fn end(&mut self, finished: Finished) -> Result<(), String>;
    async fn commit(&mut self) -> Result<Vec<Imported>, String>;
}

struct Direct<'a>(Importer<'a>);

impl Sink for Direct<'_> {
    async fn mailbox(&mut self, name: &str) -> Result<u64, String> {
        self.0.mailbox(name).await
    }
    async fn has(&mut self, mailbox: u64, digest: &[u8; 32]) -> Result<Option<u32>, String> {
        self.0.has(mailbox, digest)
    }
    async fn data(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.0.data(bytes).await;
        Ok(())
    }
    async fn end(&mut self, finished: Finished) -> Result<(), String> {
        self.0.end(finished).await
    }
    async fn commit(&mut self) -> Result<Vec<Imported>, String> {
        self.0.commit().await.map_err(|error| error.to_string())
    }
}

/// The control socket, with blocking I/O (this is the CLI process).
struct Socket {
    reader: BufReader<UnixStream>,
    writer: std::io::BufWriter<UnixStream>,
}

impl Socket {
    fn connect(path: &Path, user: &str) -> Result<Socket, String> {
        let stream = UnixStream::connect(path)
            .map_err(|error| format!("cannot reach the running server at {}: {error}", path.display()))?;
        let writer = stream.try_clone().map_err(|error| format!("control socket: {error}"))?;
        let mut socket = Socket { reader: BufReader::new(stream), writer: std::io::BufWriter::new(writer) };
        socket.send(format!("import {user}\n").as_bytes())?;
        socket.answer()?;
        Ok(socket)
    }

    fn send(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.writer.write_all(bytes).map_err(|error| format!("control socket: {error}"))
    }

    /// The server's answer line, after `ok` (or its error).
    fn answer(&mut self) -> Result<String, String> {
        self.writer.flush().map_err(|error| format!("control socket: {error}"))?;
        let mut line = String::new();
        self.reader.read_line(&mut line).map_err(|error| format!("control socket: {error}"))?;
        let line = line.trim_end();
        if let Some(error) = line.strip_prefix("error: ") {
            return Err(error.to_string());
        }
        if line.is_empty() {
            return Err("the server closed the control connection".into());
        }
        Ok(line.strip_prefix("ok").map_or(line, str::trim_start).to_string())
    }
}

impl Sink for Socket {
    async fn mailbox(&mut self, name: &str) -> Result<u64, String> {
        self.send(format!("mailbox {}\n", crate::util::base64::encode_unpadded(name.as_bytes())).as_bytes())?;
        let answer = self.answer()?;
        answer.parse().map_err(|_| format!("unexpected answer {answer:?}"))
    }
    async fn has(&mut self, mailbox: u64, digest: &[u8; 32]) -> Result<Option<u32>, String> {
        self.send(format!("have {mailbox} {}\n", remote::hex(digest)).as_bytes())?;
        let answer = self.answer()?;
        match answer.strip_prefix("yes ") {
            Some(uid) => Ok(uid.parse().ok()),
            None => Ok(None),
        }
    }
    async fn data(&mut self, bytes: &[u8]) -> Result<(), String> {
        for piece in bytes.chunks(MAX_DATA) {
            self.send(format!("data {}\n", piece.len()).as_bytes())?;
            self.send(piece)?;
        }
        Ok(())
    }
    async fn end(&mut self, finished: Finished) -> Result<(), String> {
        self.send(remote::end_frame(&finished).as_bytes())
    }
    async fn commit(&mut self) -> Result<Vec<Imported>, String> {
        self.send(b"commit\n")?;
        let answer = self.answer()?;
        answer
            .split_whitespace()
            .map(|word| match word.split_once(':') {
                Some(("added", uid)) => uid.parse().map(Imported::Added).map_err(|_| ()),
                Some(("present", uid)) => uid.parse().map(Imported::Present).map_err(|_| ()),
                _ => Err(()),
            })
            .collect::<Result<_, _>>()
            .map_err(|()| format!("unexpected answer {answer:?}"))
    }
}

/// `roost import --user USER (--maildir DIR | --mbox PATH) [--into NAME]`.
pub fn run(config: &Config, user: &str, source: Source, into: Option<&str>) -> Result<String, String> {
    let user = crate::auth::normalize_user_name(user)?;
    let units = plan(&source, into)?;
    let socket = config.control_socket();
    let mut summary = Summary::default();
    let stopped = if crate::control::server_running(&socket) {
        let mut sink = Socket::connect(&socket, &user)?;
        smol::block_on(import_all(&units, &mut sink, &mut summary))
    } else {
        if !config.database_path().exists() {
            return Err(format!("no database at {}: no user {user:?}", config.database_path().display()));
        }
        let (limits, path) = (&config.limits, config.database_path());
        let summary = &mut summary;
        let outcome = crate::store::run_offline(&path, limits.cache_size, limits.min_free_disk, async |store| {
            let importer = Importer::new(store, &user, limits.append_chunk).map_err(StoreError::Bug)?;
            Ok(import_all(&units, &mut Direct(importer), summary).await)
        });
        match outcome {
            Ok(stopped) => stopped,
            Err(StoreError::Bug(text)) => return Err(text),
            Err(StoreError::Locked) => {
                return Err(format!(
                    "{} is held by a running roost whose control socket does not answer",
                    config.database_path().display()
                ))
            }
            Err(error) => return Err(error.to_string()),
        }
    };
    let mut text = format!(
        "{user}: imported {}, skipped {} (already there), failed {}",
        summary.imported,
        summary.skipped,
        summary.failed.len()
    );
    for warning in &summary.warnings {
        text.push_str(&format!("\nwarning: {warning}"));
    }
    for failure in &summary.failed {
        text.push_str(&format!("\nfailed: {failure}"));
    }
    match stopped {
        Some(why) => Err(format!("{text}\nstopped: {why}")),
        None if !summary.failed.is_empty() => Err(format!("{text}\nsome messages were not imported (listed above)")),
        None => Ok(text),
    }
}

/// The mailboxes a source fills, parents before children.
fn plan(source: &Source, into: Option<&str>) -> Result<Vec<Unit>, String> {
    let under = |name: String| match into {
        Some(prefix) => format!("{}/{name}", prefix.trim_end_matches('/')),
        None => name,
    };
    let mut units = match source {
        Source::Maildir(path) => {
            if !path.join("cur").is_dir() && !path.join("new").is_dir() {
                return Err(format!("{} is not a Maildir (no cur/ or new/ in it)", path.display()));
            }
            let mut units = vec![Unit::Maildir { mailbox: under("INBOX".into()), path: path.clone() }];
            for (name, entry) in sorted_entries(path)? {
                let Some(folder) = maildir::folder_name(&name) else { continue };
                if entry.join("cur").is_dir() || entry.join("new").is_dir() {
                    units.push(Unit::Maildir { mailbox: under(folder), path: entry });
                }
            }
            units
        }
        Source::Mbox(path) if path.is_dir() => {
            let mut units = Vec::new();
            mbox_directory(path, None, &under, &mut units)?;
            units
        }
        Source::Mbox(path) => {
            let mailbox = match into {
                Some(name) => name.to_string(),
                None => mailbox_of_file(path)?,
            };
            File::open(path).map_err(|error| format!("{}: {error}", path.display()))?;
            vec![Unit::Mbox { mailbox, path: path.clone() }]
        }
    };
    let name = |unit: &Unit| match unit {
        Unit::Maildir { mailbox, .. } | Unit::Mbox { mailbox, .. } => mailbox.clone(),
    };
    units.sort_by_key(name);
    Ok(units)
}

/// A directory's entries, by name (names that are not UTF-8 skipped).
fn sorted_entries(path: &Path) -> Result<Vec<(String, PathBuf)>, String> {
    let entries = std::fs::read_dir(path).map_err(|error| format!("{}: {error}", path.display()))?;
    let mut names: Vec<(String, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| Some((entry.file_name().into_string().ok()?, entry.path())))
        .collect();
    names.sort();
    Ok(names)
}

/// Files Thunderbird keeps beside its mbox files that are not mail.
const NOT_MBOX: [&str; 9] = [".msf", ".dat", ".html", ".json", ".sqlite", ".js", ".log", ".bak", ".txt"];

/// `roost export`'s own files beside the mailboxes (its state, lock and
/// moving area).
const EXPORT_FILES: &str = "roost-export.";

/// Thunderbird's local folders (see the module docs).
fn mbox_directory(
    path: &Path,
    parent: Option<&str>,
    under: &dyn Fn(String) -> String,
    units: &mut Vec<Unit>,
) -> Result<(), String> {
    let child = |name: &str| {
        let name = crate::mailfile::maildir::level_name(name);
        match parent {
            Some(parent) => format!("{parent}/{name}"),
            // Dovecot's `inbox`, Thunderbird's `Inbox`: INBOX, also under --into.
            None if name.eq_ignore_ascii_case(crate::store::INBOX) => crate::store::INBOX.to_string(),
            None => name,
        }
    };
    for (name, entry) in sorted_entries(path)? {
        if name.starts_with('.') {
            continue;
        }
        if entry.is_dir() {
            if let Some(folder) = name.strip_suffix(".sbd") {
                mbox_directory(&entry, Some(&child(folder)), under, units)?;
            } else if let Some(folder) = name.strip_suffix(".mbox").filter(|_| entry.join("mbox").is_file()) {
                units.push(Unit::Mbox { mailbox: under(child(folder)), path: entry.join("mbox") });
            } else if !name.starts_with(EXPORT_FILES) {
                // Dovecot's and mutt's mbox trees: `A/B` is a plain directory.
                mbox_directory(&entry, Some(&child(&name)), under, units)?;
            }
            continue;
        }
        if name.starts_with(EXPORT_FILES)
            || NOT_MBOX.iter().any(|extension| name.to_ascii_lowercase().ends_with(extension))
        {
            continue;
        }
        let folder = name.strip_suffix(".mbox").unwrap_or(&name);
        units.push(Unit::Mbox { mailbox: under(child(folder)), path: entry });
    }
    Ok(())
}

fn mailbox_of_file(path: &Path) -> Result<String, String> {
    let name =
        path.file_name().and_then(|name| name.to_str()).ok_or("the mbox file's name is not UTF-8; use --into")?;
    let name = name.strip_suffix(".mbox").or_else(|| name.strip_suffix(".mbx")).unwrap_or(name);
    Ok(name.to_string())
}

/// The queue of messages waiting for the next commit.
#[derive(Default)]
struct Batch {
    /// Where each came from, for the report.
    origins: Vec<String>,
    bytes: u64,
}

/// Imports every unit; Some(why) if the store stopped it.
async fn import_all(units: &[Unit], sink: &mut impl Sink, summary: &mut Summary) -> Option<String> {
    for unit in units {
        let before = (summary.imported, summary.skipped, summary.failed.len());
        let result = match unit {
            Unit::Maildir { mailbox, path } => import_maildir(mailbox, path, sink, summary).await,
            Unit::Mbox { mailbox, path } => import_mbox(mailbox, path, sink, summary).await,
        };
        let (Unit::Maildir { mailbox, .. } | Unit::Mbox { mailbox, .. }) = unit;
        if std::io::stderr().is_terminal() {
            eprint!("\r");
        }
        eprintln!(
            "{mailbox}: imported {}, skipped {}, failed {}",
            summary.imported - before.0,
            summary.skipped - before.1,
            summary.failed.len() - before.2
        );
        if let Err(why) = result {
            return Some(why);
        }
    }
    None
}

/// A message read once: its digest, and its size as stored.
struct Digested {
    digest: [u8; 32],
    size: u64,
}

/// The digest `store::import` keeps: SHA-256 over the source's date (if
/// any) and the SHA-256 of the bytes as stored (CRLF line ends). The
/// bytes' own hash comes first, so an mbox message's date may come from
/// its header, read with the bytes.
struct Digester {
    context: ring::digest::Context,
    lines: LineEnds,
    mended: Vec<u8>,
    size: u64,
    first: Vec<u8>,
}

impl Digester {
    fn new() -> Digester {
        let context = ring::digest::Context::new(&ring::digest::SHA256);
        Digester { context, lines: LineEnds::default(), mended: Vec::new(), size: 0, first: Vec::new() }
    }

    fn feed(&mut self, bytes: &[u8]) {
        if self.first.len() < 256 {
            self.first.extend_from_slice(&bytes[..bytes.len().min(256 - self.first.len())]);
        }
        self.mended.clear();
        self.lines.mend(bytes, &mut self.mended);
        self.size += self.mended.len() as u64;
        self.context.update(&self.mended);
    }

    /// The digest, or why this is no message.
    fn finish(self, date: Option<DateTime>) -> Result<Digested, String> {
        if self.size == 0 {
            return Err("empty".into());
        }
        if !starts_like_mail(&self.first) {
            let shown: String = String::from_utf8_lossy(&self.first[..self.first.len().min(40)]).into();
            return Err(format!("not a mail message (it starts with {shown:?}, not a header field)"));
        }
        let mut outer = ring::digest::Context::new(&ring::digest::SHA256);
        match date {
            Some(date) => outer.update(format!("{} {}\n", date.unix, date.offset_minutes).as_bytes()),
            None => outer.update(b"-\n"),
        }
        outer.update(self.context.finish().as_ref());
        let mut digest = [0u8; 32];
        digest.copy_from_slice(outer.finish().as_ref());
        Ok(Digested { digest, size: self.size })
    }
}

/// Whether a message starts with a header field (`Name:`), as RFC 5322
/// §2.1 has it; a binary or text file dropped into a Maildir does not.
fn starts_like_mail(first: &[u8]) -> bool {
    let name_end = first.iter().position(|&byte| byte == b':');
    match name_end {
        Some(end) if end > 0 => first[..end].iter().all(|&byte| byte > 0x20 && byte < 0x7f),
        _ => false,
    }
}

/// Where a message's bytes are read again to be sent.
enum Content<'a> {
    File(&'a Path),
    /// The message of an mbox file at `offset` (see `Mbox::resume`).
    Mbox {
        file: &'a mut File,
        offset: u64,
        separator_date: Option<DateTime>,
    },
}

/// Sends one message unless an import stored it before; commits when the
/// batch is full.
async fn offer(
    sink: &mut impl Sink,
    digested: Digested,
    finished: Finished,
    content: Content<'_>,
    origin: String,
    batch: &mut Batch,
    summary: &mut Summary,
) -> Result<(), String> {
    if sink.has(finished.mailbox, &digested.digest).await?.is_some() {
        summary.skipped += 1;
        return Ok(());
    }
    if let Err(error) = send(content, sink).await {
        // Half a message is on its way: it cannot be taken back, so the
        // import stops (its blob is discarded when the connection ends).
        return Err(match error.strip_prefix("source: ") {
            Some(error) => format!("{origin} could not be read again: {error}"),
            None => format!("at {origin}: {error}"),
        });
    }
    sink.end(finished).await.map_err(|error| format!("at {origin}: {error}"))?;
    batch.origins.push(origin);
    batch.bytes += digested.size;
    if batch.origins.len() >= BATCH_MESSAGES || batch.bytes >= BATCH_BYTES {
        commit(sink, batch, summary).await?;
    }
    Ok(())
}

/// Streams a message's bytes to the sink, a piece at a time. Errors
/// reading the source start with `source: `.
async fn send(content: Content<'_>, sink: &mut impl Sink) -> Result<(), String> {
    let source = |error: std::io::Error| format!("source: {error}");
    match content {
        Content::File(path) => {
            let mut file = File::open(path).map_err(source)?;
            let mut buffer = vec![0u8; 64 * 1024];
            loop {
                let read = file.read(&mut buffer).map_err(source)?;
                if read == 0 {
                    return Ok(());
                }
                sink.data(&buffer[..read]).await?;
            }
        }
        Content::Mbox { file, offset, separator_date } => {
            file.seek(SeekFrom::Start(offset)).map_err(source)?;
            let probe = probe(file).map_err(source)?;
            let reader = BufReader::with_capacity(64 * 1024, file);
            let mut reader = mbox::Mbox::resume(reader, offset, separator_date, Some(probe));
            let mut piece = Vec::new();
            loop {
                piece.clear();
                if !reader.read(&mut piece).map_err(source)? {
                    return Ok(());
                }
                sink.data(&piece).await?;
            }
        }
    }
}

async fn commit(sink: &mut impl Sink, batch: &mut Batch, summary: &mut Summary) -> Result<(), String> {
    if batch.origins.is_empty() {
        return Ok(());
    }
    let first = batch.origins[0].clone();
    let count = batch.origins.len();
    let outcomes = sink.commit().await.map_err(|error| {
        format!(
            "{error}; {} message(s) were imported before it; the {count} from {first} on were not stored \
             (run the same import again once there is room: what is in is skipped)",
            summary.imported
        )
    })?;
    for outcome in outcomes {
        match outcome {
            Imported::Added(_) => summary.imported += 1,
            Imported::Present(_) => summary.skipped += 1,
        }
    }
    *batch = Batch::default();
    if std::io::stderr().is_terminal() {
        // A big mbox is one mailbox: show that it moves.
        eprint!("\r{} imported, {} skipped so far ", summary.imported, summary.skipped);
    }
    Ok(())
}

/// One Maildir folder: its files in `dovecot-uidlist` order (then by time
/// and name).
async fn import_maildir(name: &str, path: &Path, sink: &mut impl Sink, summary: &mut Summary) -> Result<(), String> {
    let keywords = std::fs::read_to_string(path.join("dovecot-keywords"))
        .map(|text| maildir::Keywords::parse(&text))
        .unwrap_or_default();
    let uids: std::collections::HashMap<String, u32> = std::fs::read_to_string(path.join("dovecot-uidlist"))
        .map(|text| maildir::parse_uidlist(&text).into_iter().collect())
        .unwrap_or_default();
    let mut files = Vec::new();
    // Dovecot keeps flags on a file still in new/ (`doveadm save` then
    // `flags add`), so the info is read there too.
    for (directory, with_info) in [("cur", true), ("new", true)] {
        let Ok(entries) = sorted_entries(&path.join(directory)) else { continue };
        for (file_name, file) in entries {
            if file_name.starts_with('.') {
                continue;
            }
            let parsed = maildir::parse_file_name(&file_name, with_info);
            let metadata = match std::fs::metadata(&file) {
                Ok(metadata) if metadata.is_file() => metadata,
                Ok(_) => continue,
                Err(error) => {
                    summary.failed.push(format!("{}: {error}", file.display()));
                    continue;
                }
            };
            let mtime = metadata
                .modified()
                .ok()
                .and_then(|time| time.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(DateTime::now().unix, |since| since.as_secs() as i64);
            let uid = uids.get(&parsed.base).copied().unwrap_or(u32::MAX);
            files.push((uid, mtime, file, parsed));
        }
    }
    files.sort_by(|a, b| (a.0, a.1, &a.2).cmp(&(b.0, b.1, &b.2)));
    let mailbox = sink.mailbox(name).await?;
    let mut batch = Batch::default();
    for (_, mtime, file, parsed) in files {
        let origin = file.display().to_string();
        let date = DateTime { unix: mtime, offset_minutes: 0 };
        let digested = match digest_file(&file, date) {
            Ok(digested) => digested,
            Err(why) => {
                summary.failed.push(format!("{origin}: {why}"));
                continue;
            }
        };
        let finished =
            Finished { mailbox, digest: digested.digest, flags: parsed.flags, date, keywords: keywords.of(&parsed) };
        offer(sink, digested, finished, Content::File(&file), origin, &mut batch, summary).await?;
    }
    commit(sink, &mut batch, summary).await
}

fn digest_file(path: &Path, date: DateTime) -> Result<Digested, String> {
    let mut file = File::open(path).map_err(|error| error.to_string())?;
    let mut digester = Digester::new();
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let read = file.read(&mut buffer).map_err(|error| error.to_string())?;
        if read == 0 {
            break;
        }
        digester.feed(&buffer[..read]);
    }
    digester.finish(Some(date))
}

/// Looks into `file` (a handle of its own, read with `pread`) where a
/// `Content-Length` says a message ends (see `mailfile::mbox`).
fn probe(file: &File) -> std::io::Result<mbox::Probe> {
    use std::os::unix::fs::FileExt;
    let file = file.try_clone()?;
    Ok(Box::new(move |offset| {
        let mut bytes = [0u8; 7];
        let mut read = 0;
        while read < bytes.len() {
            match file.read_at(&mut bytes[read..], offset + read as u64) {
                Ok(0) => break,
                Ok(count) => read += count,
                Err(_) => return false,
            }
        }
        let length = file.metadata().map_or(0, |metadata| metadata.len());
        offset <= length && mbox::ends_message(&bytes[..read])
    }))
}

/// One mbox file: each message read for its digest, then (unless an
/// import stored it) read again from its offset and sent.
async fn import_mbox(name: &str, path: &Path, sink: &mut impl Sink, summary: &mut Summary) -> Result<(), String> {
    let origin = path.display().to_string();
    let open = || File::open(path).map_err(|error| format!("{origin}: {error}"));
    let mut reader = match open().and_then(|file| Ok((probe(&file).map_err(|error| error.to_string())?, file))) {
        Ok((probe, file)) => mbox::Mbox::new(BufReader::with_capacity(64 * 1024, file)).with_probe(probe),
        Err(why) => {
            summary.failed.push(why);
            return Ok(());
        }
    };
    let mut again = match open() {
        Ok(file) => file,
        Err(why) => {
            summary.failed.push(why);
            return Ok(());
        }
    };
    let first = match reader.next_message() {
        Ok(first) => first,
        Err(error) => {
            summary.failed.push(format!("{origin}: {error}"));
            return Ok(());
        }
    };
    let mailbox = sink.mailbox(name).await?;
    if !first {
        summary.warnings.push(format!("{origin}: empty (mailbox {name} made, with nothing in it)"));
        return Ok(());
    }
    let mut batch = Batch::default();
    let mut index = 0u64;
    let mut piece = Vec::new();
    loop {
        index += 1;
        let at = format!("{origin}, message {index}");
        let offset = reader.message_offset();
        let separator_date = reader.meta().separator_date;
        // Pass one: the digest, and what the separator and header say.
        let mut digester = Digester::new();
        loop {
            piece.clear();
            match reader.read(&mut piece) {
                Ok(true) => digester.feed(&piece),
                Ok(false) => break,
                Err(error) => {
                    summary.failed.push(format!("{at}: {error}"));
                    return commit(sink, &mut batch, summary).await;
                }
            }
        }
        let meta = reader.meta().clone();
        if !meta.bad_keywords.is_empty() {
            summary.warnings.push(format!("{at}: keywords left out (not IMAP atoms): {:?}", meta.bad_keywords));
        }
        if meta.unterminated || !meta.header_ended {
            let part = if meta.header_ended { "body" } else { "header" };
            summary.warnings.push(format!("{at}: the file ends inside its {part}: imported as it is, perhaps cut"));
        }
        match digester.finish(meta.source_date()) {
            Err(why) => summary.failed.push(format!("{at}: {why}")),
            Ok(digested) => {
                let finished = Finished {
                    mailbox,
                    digest: digested.digest,
                    flags: meta.flags,
                    date: meta.source_date().unwrap_or_else(DateTime::now),
                    keywords: meta.keywords.clone(),
                };
                let content = Content::Mbox { file: &mut again, offset, separator_date };
                offer(sink, digested, finished, content, at.clone(), &mut batch, summary).await?;
            }
        }
        match reader.next_message() {
            Ok(true) => {}
            Ok(false) => break,
            Err(error) => {
                summary.failed.push(format!("{origin}: after message {index}: {error}"));
                break;
            }
        }
    }
    commit(sink, &mut batch, summary).await
}
