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

use redb::{Database, Durability, ReadableTable};
use smol::channel::{Receiver, Sender};

use super::ops::{self, Tables};
use super::schema;
use super::{Committed, Request, StoreError};

/// Requests applied in one transaction at most; bounds the latency one
/// group adds to the next.
const MAX_GROUP: usize = 256;

pub(super) fn open_database(path: &Path, cache_bytes: usize) -> Result<Database, StoreError> {
    let database = redb::Builder::new().set_cache_size(cache_bytes).create(path)?;
    let transaction = database.begin_write()?;
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
    }
    let mut transaction = transaction;
    transaction.set_quick_repair(true);
    transaction.commit()?;
    Ok(database)
}

pub(super) fn run(database: Arc<Database>, requests: Receiver<Request>, committed: Sender<Committed>) {
    while let Ok(first) = requests.recv_blocking() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match requests.try_recv() {
                Ok(request) => group.push(request),
                Err(_) => break,
            }
        }
        while !group.is_empty() {
            group = commit_group(&database, group, &committed);
        }
    }
}

/// Applies and commits `group`. A request that panics is answered with an
/// error and the transaction is abandoned; the requests that did not panic
/// are returned to be applied again in a fresh transaction.
fn commit_group(database: &Database, group: Vec<Request>, committed: &Sender<Committed>) -> Vec<Request> {
    let fail_all = |group: Vec<Request>, error: StoreError| {
        log::error!("store: {error}");
        let replies = group.into_iter().map(|request| (request.reply, Err(error.clone()))).collect();
        let _ = committed.send_blocking(Committed { replies, changes: Vec::new() });
    };

    let mut transaction = match database.begin_write() {
        Ok(transaction) => transaction,
        Err(error) => {
            fail_all(group, error.into());
            return Vec::new();
        }
    };
    let mut results = Vec::with_capacity(group.len());
    let mut changes = Vec::new();
    let mut durable = false;
    {
        let mut tables = match Tables::open(&transaction) {
            Ok(tables) => tables,
            Err(error) => {
                fail_all(group, error);
                return Vec::new();
            }
        };
        for (index, request) in group.iter().enumerate() {
            let applied = catch_unwind(AssertUnwindSafe(|| ops::apply(&mut tables, &request.op, &mut changes)));
            match applied {
                Ok(Err(StoreError::Io(error))) => {
                    // The transaction may hold part of this operation: drop it all.
                    drop(tables);
                    transaction.abort().ok();
                    fail_all(group, StoreError::Io(error));
                    return Vec::new();
                }
                Ok(result) => {
                    durable |= result.is_ok() && request.op.needs_durability();
                    results.push(result);
                }
                Err(panic) => {
                    let what = panic_message(&panic);
                    log::error!("store: operation panicked ({what}); retrying the rest of its group");
                    drop(tables);
                    transaction.abort().ok();
                    let mut group = group;
                    let culprit = group.remove(index);
                    if let Some(reply) = culprit.reply {
                        let replies = vec![(Some(reply), Err(StoreError::Bug(what)))];
                        let _ = committed.send_blocking(Committed { replies, changes: Vec::new() });
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
        fail_all(group, error.into());
        return Vec::new();
    }
    let replies = group.into_iter().map(|request| request.reply).zip(results).collect();
    let _ = committed.send_blocking(Committed { replies, changes });
    Vec::new()
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
