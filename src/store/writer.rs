//! The store thread: the one writer, committing in groups.
//!
//! A durable commit is an fsync, milliseconds to tens of milliseconds on an
//! SD card, so it must never run on the session executor. This thread takes
//! one request, then everything else already queued, applies them all in one
//! write transaction, commits once, and hands every result back together.
//! While it waits for the disk, new requests queue up and form the next group.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::Arc;

use redb::{Database, Durability};
use smol::channel::{Receiver, Sender};

use super::acl;
use super::ballast::Ballast;
use super::ops::{self, Tables};
use super::schema;
use super::{Answer, Change, Committed, Op, Pending, Reply, Request, StoreError};

/// Free bytes below which a delete releases the ballast rather than risk
/// redb meeting ENOSPC: 128 times the most a measured delete commit took
/// in new blocks (8 KiB, see [`super::ballast`]).
pub(super) const DELETE_ROOM: u64 = 1 << 20;

/// Requests applied in one transaction at most; bounds the latency one
/// group adds to the next.
const MAX_GROUP: usize = 256;

pub(super) fn open_database(path: &Path, cache_bytes: usize) -> Result<Database, StoreError> {
    prepare(redb::Builder::new().set_cache_size(cache_bytes).create(path)?)
}

/// Creates missing tables, checks the schema version and drops unfinished
/// uploads.
pub(super) fn prepare(database: Database) -> Result<Database, StoreError> {
    let transaction = database.begin_write()?;
    // A file from before `store::rows`: its small tables move to the new
    // layout in this same transaction (all or nothing).
    let moved = super::migrate::run(&transaction)?;
    if moved.tables > 0 {
        log::info!("moved {} table(s), {} row(s), to this roost's layout", moved.tables, moved.rows);
    }
    {
        // Creating every table up front lets read transactions open them
        // unconditionally.
        let mut tables = Tables::open(&transaction)?;
        let version = tables.meta.get("schema_version")?.map(|value| value.value());
        match version {
            None => {
                tables.meta.insert("schema_version", schema::SCHEMA_VERSION)?;
            }
            Some(schema::SCHEMA_VERSION) => {}
            Some(other) => {
                return Err(StoreError::Corrupt(format!(
                    "database schema version {other} is not supported by this roost (expects {})",
                    schema::SCHEMA_VERSION
                )))
            }
        }
        // Blobs whose message never arrived: the client vanished mid-APPEND,
        // or the server stopped. Nothing acknowledged refers to them.
        let pending: Vec<u64> =
            tables.pending.iter()?.map(|entry| entry.map(|(blob, _)| blob.value())).collect::<Result<_, _>>()?;
        if !pending.is_empty() {
            log::info!("discarding {} unfinished message upload(s)", pending.len());
        }
        ops::discard_blobs(&mut tables, &pending)?;
        // Quota usage of a database from before quotas, counted once.
        super::quota::prepare(&mut tables)?;
        // The full-text index as this process keeps it (or not).
        let queued = super::fts::reconcile(&mut tables)?;
        if queued > 0 {
            log::info!("queued {queued} stored message(s) for the search index");
        }
    }
    let mut transaction = transaction;
    transaction.set_quick_repair(true);
    transaction.commit()?;
    Ok(database)
}

/// How many bytes are free where the database lives.
pub(crate) type FreeSpace = Box<dyn Fn() -> u64 + Send>;

/// Free space of the filesystem holding `path` (statvfs), as an unprivileged
/// process may use it.
pub(super) fn filesystem_free_space(path: &Path) -> FreeSpace {
    let directory = path.parent().map_or_else(|| ".".into(), Path::to_path_buf);
    Box::new(move || match rustix::fs::statvfs(&directory) {
        Ok(stats) => stats.f_bavail.saturating_mul(stats.f_frsize),
        // Unknown: do not refuse work over a failed query.
        Err(_) => u64::MAX,
    })
}

/// What the store thread knows across groups.
struct Writer {
    database: Arc<Database>,
    committed: Sender<Committed>,
    free_space: FreeSpace,
    /// Bytes of disk kept free: operations that add data are refused below
    /// it, everything else below a quarter of it (enough to delete mail).
    reserve: u64,
    /// Set after a storage error: redb refuses every further operation
    /// until the file is reopened, so the server must restart.
    failed: Option<String>,
    /// The room deletes get on a full disk (see [`super::ballast`]).
    ballast: Option<Ballast>,
}

pub(super) fn run(
    database: Arc<Database>,
    requests: Receiver<Request>,
    committed: Sender<Committed>,
    free_space: FreeSpace,
    reserve: u64,
    ballast: Option<Ballast>,
) {
    let mut writer = Writer { database, committed, free_space, reserve, failed: None, ballast };
    while let Ok(first) = requests.recv_blocking() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match requests.try_recv() {
                Ok(request) => group.push(request),
                Err(_) => break,
            }
        }
        // The watchdog's pings (`Store::ping`) need no transaction: they are
        // answered once the requests that came with them are committed.
        let (pings, mut group): (Vec<Request>, Vec<Request>) =
            group.into_iter().partition(|request| matches!(request, Request::Ping { .. }));
        while !group.is_empty() {
            group = writer.commit_group(group);
        }
        if !pings.is_empty() {
            writer.answer_pings(pings);
        }
    }
}

impl Request {
    /// Applies the operation, keeping its answer in its reply; returns
    /// whether it succeeded (the error, for the writer to act on).
    fn apply(&mut self, tables: &mut Tables, changes: &mut Vec<Change>) -> Result<(), StoreError> {
        let applied = self.apply_operation(tables, changes);
        // Quota warnings raised where the operation kept its mailbox records.
        changes.append(&mut tables.quota_changes);
        applied
    }

    fn apply_operation(&mut self, tables: &mut Tables, changes: &mut Vec<Change>) -> Result<(), StoreError> {
        match self {
            Request::Op { op, reply } => keep(reply, ops::apply(tables, op, changes)),
            Request::CreateMailbox { user, name, special_use, inherit: false, reply } => {
                keep(reply, ops::create(tables, *user, name, *special_use, changes))
            }
            Request::CreateMailbox { user, name, inherit: true, reply, .. } => {
                keep(reply, ops::create_inheriting(tables, *user, name, changes))
            }
            Request::WriteBlob { blob, first_chunk, data, reply } => {
                keep(reply, ops::write_blob(tables, *blob, *first_chunk, data))
            }
            Request::Append { mailbox, messages, reply } => {
                keep(reply, ops::append(tables, *mailbox, messages, changes))
            }
            Request::Replace { mailbox, message, from, uid, reply } => {
                keep(reply, ops::replace(tables, *mailbox, message, *from, *uid, changes))
            }
            Request::Deliver { message, mailboxes, enforce, reply } => {
                keep(reply, ops::deliver(tables, message, mailboxes, *enforce, changes))
            }
            Request::SetFlags { mailbox, uids, change, reply } => {
                keep(reply, ops::store_flags(tables, *mailbox, uids, change, changes))
            }
            Request::Copy { from, to, uids, remove, keep: kept, reply } => {
                keep(reply, ops::copy(tables, *from, *to, uids, *remove, *kept, changes))
            }
            Request::Expunge { mailbox, uids, reply } => {
                keep(reply, ops::expunge_deleted(tables, *mailbox, uids.as_ref(), changes))
            }
            Request::Expire { mailbox, uids, before, reply } => {
                keep(reply, super::retention::expire(tables, *mailbox, uids, *before, changes))
            }
            Request::SetRights { mailbox, change, reply } => {
                let result = acl::set_rights(tables, *mailbox, change, changes);
                if result.is_ok() {
                    // Sessions with the mailbox selected check their rights again.
                    changes.push(Change::Rights { mailbox: Some(*mailbox) });
                }
                keep(reply, result)
            }
            Request::CreatePublicMailbox { name, special_use, entries, reply } => {
                keep(reply, acl::create_public(tables, name, *special_use, entries, changes))
            }
            Request::SetFlagsAs { mailbox, uids, change, rights, reply } => {
                keep(reply, acl::store_flags_as(tables, *mailbox, uids, change, *rights, changes))
            }
            Request::SetPrivateSeen { mailbox, user, uids, seen, reply } => {
                keep(reply, acl::set_private_seen(tables, *mailbox, *user, uids, *seen, changes))
            }
            Request::Import { mailbox, messages, reply } => {
                keep(reply, super::import::apply(tables, *mailbox, messages, changes))
            }
            // `run` answers pings outside any transaction.
            Request::Ping { reply } => keep(reply, Ok(())),
        }
    }

    /// The reply, whatever its answer's type.
    fn reply(&mut self) -> &mut dyn Pending {
        match self {
            Request::Op { reply, .. } => reply,
            Request::CreateMailbox { reply, .. } | Request::WriteBlob { reply, .. } => reply,
            Request::Append { reply, .. } | Request::Replace { reply, .. } => reply,
            Request::Deliver { reply, .. } => reply,
            Request::SetFlags { reply, .. } | Request::SetFlagsAs { reply, .. } => reply,
            Request::Copy { reply, .. } => reply,
            Request::Expunge { reply, .. } | Request::Expire { reply, .. } => reply,
            Request::SetRights { reply, .. } => reply,
            Request::CreatePublicMailbox { reply, .. } => reply,
            Request::SetPrivateSeen { reply, .. } => reply,
            Request::Import { reply, .. } => reply,
            Request::Ping { reply } => reply,
        }
    }

    /// Whether the caller is told of success only after an fsync. Blob
    /// chunks are not: their message is acknowledged by the durable APPEND
    /// that follows them, and an unfinished blob is discarded at start-up.
    fn needs_durability(&self) -> bool {
        match self {
            Request::Op { op, .. } => op.needs_durability(),
            Request::WriteBlob { .. } | Request::Ping { .. } => false,
            Request::CreateMailbox { .. }
            | Request::Append { .. }
            | Request::Replace { .. }
            | Request::Deliver { .. }
            | Request::SetFlags { .. }
            | Request::SetFlagsAs { .. }
            | Request::Copy { .. }
            | Request::Expunge { .. }
            | Request::Expire { .. }
            | Request::SetRights { .. }
            | Request::CreatePublicMailbox { .. }
            | Request::SetPrivateSeen { .. }
            | Request::Import { .. } => true,
        }
    }

    /// A rough upper bound of the disk space the operation writes.
    fn estimated_bytes(&self) -> u64 {
        const OVERHEAD: u64 = 64 * 1024;
        match self {
            Request::WriteBlob { data, .. } => data.len() as u64 + data.len() as u64 / 8 + OVERHEAD,
            Request::Copy { uids, .. } => {
                uids.0.iter().map(|(low, high)| u64::from(high - low + 1) * 256).sum::<u64>() + OVERHEAD
            }
            _ => OVERHEAD,
        }
    }

    /// Whether the operation deletes mail, or is the step a client takes
    /// to delete (STORE +FLAGS \Deleted before EXPUNGE; MOVE, which is how
    /// most clients delete, into Trash: it copies records, never bytes).
    /// On a disk too full for anything else these may use the ballast's
    /// room (see [`super::ballast`]), so a full disk can always be emptied.
    fn frees(&self) -> bool {
        match self {
            Request::Expunge { .. } | Request::Expire { .. } | Request::Copy { remove: true, .. } => true,
            Request::Op { op: Op::DeleteMailbox { .. } | Op::DeleteUser { .. } | Op::DiscardBlobs { .. }, .. } => true,
            Request::SetFlags { change, .. } | Request::SetFlagsAs { change, .. } => {
                change.flags.contains(super::Flags::DELETED) && change.action != super::FlagAction::Remove
            }
            _ => false,
        }
    }

    /// Whether the operation adds data (and so waits for the full reserve).
    fn grows(&self) -> bool {
        matches!(
            self,
            Request::WriteBlob { .. }
                | Request::Append { .. }
                | Request::Replace { .. }
                | Request::Deliver { .. }
                | Request::Import { .. }
                | Request::Copy { remove: false, .. }
                | Request::Op { op: Op::AddUser { .. } | Op::RenameMailbox { .. } | Op::FtsSegment { .. }, .. }
                | Request::CreateMailbox { .. }
                | Request::CreatePublicMailbox { .. }
        )
    }
}

/// Keeps `result` as the answer of `reply`; returns whether it succeeded.
fn keep<T>(reply: &mut Reply<T>, result: Result<T, StoreError>) -> Result<(), StoreError> {
    let status = result.as_ref().map(|_| ()).map_err(StoreError::clone);
    reply.result = Some(result);
    status
}

impl Writer {
    fn answer_pings(&self, pings: Vec<Request>) {
        let mut answers = Vec::with_capacity(pings.len());
        for mut ping in pings {
            if let Request::Ping { reply } = &mut ping {
                reply.result = Some(Ok(()));
            }
            answers.extend(ping.reply().answer());
        }
        let _ = self.committed.send_blocking(Committed { answers, changes: Vec::new(), failed: None });
    }

    fn reply_all(&self, group: Vec<Request>, error: StoreError) {
        let answers = failed_answers(group, &error);
        let _ = self.committed.send_blocking(Committed { answers, changes: Vec::new(), failed: None });
    }

    /// A storage error poisons the database: answer everyone, and tell the
    /// server once, so it stops and a restart reopens (and repairs) the file.
    fn fail(&mut self, group: Vec<Request>, error: StoreError) {
        log::error!("store: {error}");
        let first = self.failed.is_none();
        if first {
            self.failed = Some(error.to_string());
        }
        let answers = failed_answers(group, &error);
        let failed = first.then(|| error.to_string());
        let _ = self.committed.send_blocking(Committed { answers, changes: Vec::new(), failed });
    }

    /// Applies and commits `group`. A request that panics is answered with
    /// an error and the transaction is abandoned; the requests that did not
    /// panic are returned to be applied again in a fresh transaction.
    fn commit_group(&mut self, mut group: Vec<Request>) -> Vec<Request> {
        if let Some(failure) = &self.failed {
            let error = StoreError::Io(format!("storage failed earlier ({failure}); restart roost"));
            self.reply_all(group, error);
            return Vec::new();
        }
        let database = self.database.clone();
        let mut transaction = match database.begin_write() {
            Ok(transaction) => transaction,
            Err(error) => {
                self.fail(group, error.into());
                return Vec::new();
            }
        };
        let mut free = (self.free_space)();
        let mut changes = Vec::new();
        let mut durable = false;
        {
            let mut tables = match Tables::open(&transaction) {
                Ok(tables) => tables,
                Err(error) => {
                    self.fail(group, error);
                    return Vec::new();
                }
            };
            for index in 0..group.len() {
                let request = &mut group[index];
                let needed = request.estimated_bytes();
                let floor = if request.grows() { self.reserve } else { self.reserve / 4 };
                if free < floor.saturating_add(needed) && !(request.frees() && self.room_to_delete(&mut free, needed)) {
                    // Refused before redb could hit ENOSPC, which would
                    // poison the whole database.
                    request.reply().fail(StoreError::NoSpace);
                    continue;
                }
                free = free.saturating_sub(needed);
                let applied = catch_unwind(AssertUnwindSafe(|| request.apply(&mut tables, &mut changes)));
                match applied {
                    Ok(Err(error @ (StoreError::Io(_) | StoreError::DiskFull(_)))) => {
                        // The transaction may hold part of this operation: drop it all.
                        drop(tables);
                        transaction.abort().ok();
                        self.fail(group, error);
                        return Vec::new();
                    }
                    Ok(status) => durable |= status.is_ok() && request.needs_durability(),
                    Err(panic) => {
                        let what = panic_message(&panic);
                        log::error!("store: operation panicked ({what}); retrying the rest of its group");
                        drop(tables);
                        transaction.abort().ok();
                        let culprit = group.remove(index);
                        let answers = failed_answers(vec![culprit], &StoreError::Bug(what));
                        if !answers.is_empty() {
                            let _ =
                                self.committed.send_blocking(Committed { answers, changes: Vec::new(), failed: None });
                        }
                        return group;
                    }
                }
            }
        }
        // Quick-repair keeps the allocator state in every commit, so reopening
        // after a power cut takes milliseconds instead of a walk of the file.
        transaction.set_quick_repair(true);
        let durability = if durable { Durability::Immediate } else { Durability::None };
        if let Err(error) = transaction.set_durability(durability) {
            log::error!("store: cannot set durability: {error}");
        }
        if let Err(error) = transaction.commit() {
            self.fail(group, error.into());
            return Vec::new();
        }
        let answers = group.iter_mut().filter_map(|request| request.reply().answer()).collect();
        let _ = self.committed.send_blocking(Committed { answers, changes, failed: None });
        if let Some(ballast) = &self.ballast {
            if ballast.missing() > 0 {
                ballast.refill_later((self.free_space)(), self.reserve);
            }
        }
        Vec::new()
    }

    /// Whether a delete needing `needed` bytes may run on a disk below the
    /// delete floor: it may while [`DELETE_ROOM`] is free, releasing the
    /// ballast first if need be (`free` then counts its room). What deletes
    /// write mostly lands on pages redb freed before, so the ballast's room
    /// lasts for many of them.
    fn room_to_delete(&mut self, free: &mut u64, needed: u64) -> bool {
        let room = needed.max(DELETE_ROOM);
        if *free < room {
            if let Some(ballast) = &self.ballast {
                if ballast.release() > 0 {
                    *free = (self.free_space)();
                }
            }
        }
        *free >= room
    }
}

/// `error` as the answer of every request of `group`.
fn failed_answers(group: Vec<Request>, error: &StoreError) -> Vec<Answer> {
    let mut answers = Vec::with_capacity(group.len());
    for mut request in group {
        let reply = request.reply();
        reply.fail(error.clone());
        answers.extend(reply.answer());
    }
    answers
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(text) = panic.downcast_ref::<&str>() {
        (*text).to_string()
    } else if let Some(text) = panic.downcast_ref::<String>() {
        text.clone()
    } else {
        "unknown panic".to_string()
    }
}
