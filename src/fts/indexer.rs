//! The background indexer: drains the store's queue of messages waiting
//! for the index (`store::fts`), reading and folding them on the worker
//! pool ([`crate::util::pool`]) a bounded slice at a time, and hands each
//! finished segment to the store thread. Then merges small segments, and
//! now and then rewrites segments most of whose mail is deleted.
//!
//! Nothing of it runs long on the executor: each job reads at most
//! [`JOB_BYTES`] of mail (one message more when a message is bigger),
//! which is tens of milliseconds of one core on a Pi; the executor only
//! opens snapshots and passes the segment being built to and fro. Jobs
//! share the pool with SORT and THREAD, which wait at most one job.
//!
//! Memory: the segment being built holds at most the board's
//! `search_index_memory` bytes (lists and their overhead, counted by
//! [`Builder::bytes`]) plus one message's trigram sets (at most [`CAP`]
//! each); a merge holds the lists of the segments it merges, which the
//! planner keeps under the same bound.
//!
//! It wakes when a message arrives (delivery pokes it through [`wake`])
//! but works only after [`SETTLE`] without new mail (at most
//! [`MOST_DEFERRED`] after the first), so a burst of mail is stored at
//! full speed and makes one segment, not one each; a steady trickle is
//! indexed a minute behind; `roost reindex` wakes it at once.

use std::cell::RefCell;
use std::rc::Weak;
use std::time::{Duration, Instant};

use smol::channel::{self, Sender};

use super::segment::{self, Builder, Segment};
use super::walk::index_blob;
use crate::server::Server;
use crate::store::{Op, Reader, StoreError};

/// Most distinct trigrams kept for one message (per kind of stream); over
/// it the message is left unindexed (see [`super::Trigrams`]).
pub const CAP: usize = 1 << 16;

/// Bytes of mail one pool job reads at most (about 30 ms of an x86 core).
const JOB_BYTES: u64 = 1 << 20;

/// Waiting messages read from the queue per job.
const BATCH: usize = 256;

/// Quiet time before the indexer works on mail that arrived.
const SETTLE: Duration = Duration::from_secs(20);

/// Longest the indexer waits for quiet once mail has arrived. Not a
/// count of deliveries: starting after 256 of them made a burst of
/// APPENDs 23-44 % slower (bench scenario 20), indexing beside it.
const MOST_DEFERRED: Duration = Duration::from_secs(60);

/// Segments under half the memory bound merge once this many have
/// gathered (so a search reads at most about this many small ones).
const FANOUT: usize = 8;

/// How often segments are checked for deleted mail.
const COMPACT_EVERY: Duration = Duration::from_secs(3600);

thread_local! {
    static WAKE: RefCell<Option<Sender<bool>>> = const { RefCell::new(None) };
}

/// Tells the indexer that messages wait: `now` (a reindex) or after
/// [`SETTLE`] of quiet (a delivery).
pub fn wake(now: bool) {
    WAKE.with(|wake| {
        if let Some(sender) = &*wake.borrow() {
            let _ = sender.try_send(now);
        }
    });
}

/// Runs for as long as the server does (when the board keeps the index).
pub async fn run(server: Weak<Server>, memory: usize) {
    let (sender, receiver) = channel::bounded(64);
    WAKE.with(|wake| *wake.borrow_mut() = Some(sender));
    let mut last_compaction = Instant::now();
    // Whatever waits from before the start (a reindex, an upgrade).
    let mut due = true;
    // After a reindex, the entries it superseded are dropped at once.
    let mut reindexed = false;
    loop {
        if due {
            let Some(server) = server.upgrade() else { return };
            let compact = reindexed || last_compaction.elapsed() >= COMPACT_EVERY;
            if compact {
                last_compaction = Instant::now();
            }
            if let Err(error) = pass(&server, memory, compact).await {
                log::warn!("search index: {error}");
            }
        }
        // Sleep until woken; then, unless told to go now, until quiet.
        let Ok(now) = smol::future::or(receiver.recv(), async {
            smol::Timer::after(COMPACT_EVERY).await;
            Ok(false)
        })
        .await
        else {
            return;
        };
        due = true;
        reindexed = now;
        if !now {
            // Deliveries meanwhile join this pass and push it back (a
            // burst of APPENDs keeps the cores to itself), but never more
            // than [`MOST_DEFERRED`]: a steady trickle is indexed too.
            let latest = Instant::now() + MOST_DEFERRED;
            let mut deadline = Instant::now() + SETTLE;
            loop {
                let settled = smol::future::or(async { receiver.recv().await.ok() }, async {
                    smol::Timer::at(deadline).await;
                    None
                })
                .await;
                if settled == Some(false) {
                    deadline = (Instant::now() + SETTLE).min(latest);
                }
                if settled == Some(true) {
                    reindexed = true;
                }
                if settled != Some(false) {
                    break;
                }
            }
        }
    }
}

/// Indexes everything waiting, then merges what should be merged.
async fn pass(server: &Server, memory: usize, compact: bool) -> Result<(), StoreError> {
    let mut builder = Builder::new();
    let mut after = 0;
    loop {
        let reader = server.store.read()?;
        let waiting = reader.fts_waiting(after, BATCH)?;
        let Some(&last) = waiting.last() else { break };
        let (built, next) = super::on_worker(move || index_some(&reader, waiting, builder, memory)).await??;
        builder = built;
        after = next.unwrap_or(last + 1);
        if builder.bytes() >= memory {
            flush(server, std::mem::take(&mut builder)).await?;
        }
    }
    if !builder.is_empty() {
        flush(server, builder).await?;
    }
    loop {
        let reader = server.store.read()?;
        let planned = super::on_worker(move || plan_merge(&reader, memory, compact)).await??;
        let Some((replacing, segment)) = planned else { break };
        let merged = replacing.len();
        server.store.execute(Op::FtsSegment { segment: Box::new(segment), replacing }).await?;
        log::debug!("search index: merged {merged} segment(s)");
    }
    Ok(())
}

async fn flush(server: &Server, builder: Builder) -> Result<(), StoreError> {
    let count = builder.len();
    let segment = super::on_worker(move || builder.finish()).await?;
    server.store.execute(Op::FtsSegment { segment: Box::new(segment), replacing: Vec::new() }).await?;
    log::debug!("search index: indexed {count} message(s)");
    Ok(())
}

/// On a worker: indexes `waiting` (ascending) into `builder` until
/// [`JOB_BYTES`] are read or the builder is full. Answers the builder and
/// the blob to go on from (None: every one of `waiting` was done).
fn index_some(
    reader: &Reader,
    waiting: Vec<u64>,
    mut builder: Builder,
    memory: usize,
) -> Result<(Builder, Option<u64>), StoreError> {
    let chunks = reader.chunks()?;
    let mut read = 0;
    for &id in &waiting {
        if read >= JOB_BYTES || builder.bytes() >= memory {
            return Ok((builder, Some(id)));
        }
        // Gone meanwhile (its queue row went with it in a later commit).
        let Some(record) = reader.blob(id)? else { continue };
        // A panic (a decoder's bug on some message) must not lose the
        // batch, nor come back at every pass: that message stays unindexed.
        let read_it = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            index_blob(&chunks, id, &record, CAP, &mut read).map_err(|error| error.to_string())
        }));
        match read_it.unwrap_or_else(|_| Err("the indexer panicked on it".into())) {
            Ok(text) => builder.add(id, text),
            Err(error) => {
                log::warn!("search index: message blob {id} left unindexed (searched by scanning): {error}");
                builder.add_unindexed(id);
            }
        }
    }
    Ok((builder, None))
}

/// On a worker: the next merge to make, if any: [`FANOUT`] or more small
/// segments in a row (fewer bytes together than `memory`), or, with
/// `compact`, one most of whose entries are dead: deleted mail, or mail
/// indexed again in a later segment (`roost reindex --user`). Answers the
/// segments replaced and the merged one, which keeps only live entries.
pub(crate) fn plan_merge(
    reader: &Reader,
    memory: usize,
    compact: bool,
) -> Result<Option<(Vec<u64>, Segment)>, StoreError> {
    let segments = reader.fts_segments()?;
    // The newest segment holding each blob: the one whose entries count.
    // (Sorted vectors, not maps: fewer generic copies in the binary.)
    let mut newest: Vec<(u64, u64)> =
        segments.iter().flat_map(|segment| segment.blobs.iter().map(|&blob| (blob, segment.id))).collect();
    newest.sort_unstable();
    newest.dedup_by(|later, earlier| {
        // Keeps the last of each blob's run: the highest segment id.
        let same = later.0 == earlier.0;
        if same {
            earlier.1 = later.1;
        }
        same
    });
    let live = |segment: u64, blob: u64| -> Result<bool, StoreError> {
        let at = newest.binary_search_by_key(&blob, |&(blob, _)| blob);
        Ok(at.is_ok_and(|at| newest[at].1 == segment) && reader.blob(blob)?.is_some())
    };
    let small = (memory / 2) as u64;
    let mut chosen = Vec::new();
    let mut run = Vec::new();
    let mut bytes = 0;
    for segment in &segments {
        let small_enough = segment.bytes < small;
        if !small_enough || bytes + segment.bytes > memory as u64 {
            if run.len() >= FANOUT {
                break;
            }
            run.clear();
            bytes = 0;
            if !small_enough {
                continue;
            }
        }
        run.push(segment);
        bytes += segment.bytes;
    }
    if run.len() >= FANOUT {
        chosen = run;
    } else if compact {
        for segment in &segments {
            let mut alive = 0;
            for &blob in &segment.blobs {
                alive += usize::from(live(segment.id, blob)?);
            }
            if alive * 2 < segment.blobs.len() {
                chosen = vec![segment];
                break;
            }
        }
    }
    if chosen.is_empty() {
        return Ok(None);
    }
    let mut kept = Vec::new();
    let mut blobs = Vec::new();
    let mut lists = Vec::new();
    for segment in &chosen {
        for &blob in &segment.blobs {
            if live(segment.id, blob)? {
                kept.push(blob);
            }
        }
        blobs.extend_from_slice(&segment.blobs);
        lists.push(reader.fts_lists(segment.id)?);
    }
    kept.sort_unstable();
    let ids = chosen.iter().map(|segment| segment.id).collect();
    match segment::merge(lists, blobs, |blob| kept.binary_search(&blob).is_ok()) {
        Some(merged) => Ok(Some((ids, merged))),
        None => Err(StoreError::Corrupt("a search index list is damaged (run `roost reindex`)".into())),
    }
}
