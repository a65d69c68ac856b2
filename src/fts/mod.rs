//! The full-text index of SEARCH BODY, TEXT and header keys (issue 18):
//! trigrams of the folded text SEARCH reads ([`trigram`], [`walk`]),
//! posting lists of blob ids ([`postings`]) gathered into write-once
//! segments ([`segment`]) by a background indexer ([`indexer`]); the
//! tables are `store::fts`'s, the search side is `imap::search::narrow`.
//!
//! # Exact semantics
//!
//! SEARCH BODY/TEXT (and header keys) match substrings after the fold of
//! [`crate::mime::matcher`]. If a needle's folded text is found in a
//! stream of folded text, every three consecutive folded characters of the
//! needle (its trigrams) are three consecutive characters of that stream.
//! So a message whose trigram set lacks one of the needle's trigrams cannot
//! match: the index gives *candidates*, and the scan's matcher verifies
//! them, so results stay identical to the scan. A needle of fewer than
//! three folded characters has no trigram ([`needle_trigrams`] says None)
//! and is searched by scanning.
//!
//! This holds only if the index sees the same character streams the
//! matcher is fed, with a stream boundary wherever the matcher starts
//! afresh (a trigram that straddles two streams only adds candidates; a
//! stream the index misses loses matches). The streams, as
//! `imap::search::eval` feeds them today:
//!
//! - **BODY**: for every part of the message's structure, in order, that
//!   is `Kind::Text` with no children and a non-empty body, one stream: the
//!   bytes `body_start..body_end` (clamped to the stored size), undone from
//!   their Content-Transfer-Encoding and then decoded from the part's
//!   `charset` parameter (lenient UTF-8 when absent or unknown). The
//!   matcher is reset at every part, so a match never straddles two parts.
//!   Line ends stay as decoded (`\r\n` is two characters of the stream);
//!   no white space is collapsed. Non-text parts, multipart preambles and
//!   epilogues are not in any stream.
//! - **TEXT**: the BODY streams, and before them the header streams of
//!   the message's own header (its first `HEADER_SEARCHED` = 64 KiB) and
//!   of every part after the root (each part's `header_start..body_start`,
//!   at most 64 KiB), as `header::fields` reads them: for each field, its
//!   *name* is one stream (as UTF-8, lossily) and its *value* another.
//!   The value is first read by `eval::join_folds`: the final line end
//!   dropped, each line break with all the spaces and tabs after it read
//!   as one space ("folds read as one space"); then, unless it is ASCII
//!   without `=?`, decoded by `decode::decode_header_value` (RFC 2047).
//!   ASCII values are compared by bytes there, which is the same as the
//!   fold for ASCII text (the fold of an ASCII character is its ASCII
//!   lower case).
//! - **Header keys** (HEADER, FROM, SUBJECT...): the values of the named
//!   field, one stream each, as for TEXT. Fields in the header summary
//!   (`header::SUMMARY_FIELDS`) are read from the summary, and address
//!   fields are also matched against their addresses written as
//!   `Name <mailbox@host>, ...` (`eval::Needle::in_addresses`): that
//!   rendering is NOT in the header streams above, so header keys on
//!   summary fields must keep scanning the summary (they are cheap: the
//!   summary is a few hundred bytes per message); only fields outside the
//!   summary may use the header trigrams, which hold all of the message's
//!   own header values.
//!
//! A needle is folded as the matcher folds it, after the SEARCH command's
//! CHARSET decoding (`eval::Needle::text`): [`needle_trigrams`] takes that
//! decoded text.
//!
//! # Bounded memory
//!
//! [`Trigrams`] keeps at most its `cap` distinct trigrams. One more, and it
//! drops its set and is *over*: the message is then recorded as unindexed
//! and is a candidate for every needle (scanned, as today). The board
//! profile would set the cap; 2^16 (a set of about 0.5 MiB while indexing)
//! is far above what mail text reaches (measured below).
//!
//! # Measured (2026-12-07, `measure.rs`, run by hand)
//!
//! Distinct trigrams per message, mean (max): tests/mime's corpus 341
//! (1,521); the bench's corpus 936 (1,516); text-only prose slices of
//! /usr/share/doc, 20,000 messages, 1,704 (17,169). Postings, delta-varint
//! encoded, per (trigram, body or header): 9.0 % of the mail (bench), 17.0 %
//! (prose, the worst case: no attachments). One redb row per trigram or per
//! block of ids adds enough per-row overhead and page slack to reach 29-37 %
//! on the prose: too close to issue 18's 30 %. Indexing ran at 26-35 MB/s of
//! mail on one x86-64 core. A rare long word still gives false candidates
//! ("rosegarden": 71 candidates, 0 matches in 4,000 messages): the matcher
//! verifies every candidate.
//!
//! # The index as built
//!
//! - **Per stored blob** (blobs are shared by APPEND, LMTP and COPY/MOVE),
//!   not per copy: a search maps candidate blobs to messages while it walks
//!   the mailbox's records, which it reads anyway, so an id of deleted mail
//!   (or of another user's) is never an answer.
//! - **Exact at every moment.** A blob's queue row (`FTS_QUEUE`) is written
//!   in the transaction that stores it; blobs over the cap go to
//!   `FTS_UNINDEXED`; both are candidates for every needle. A segment and
//!   the removal of its blobs' queue rows commit together. So a half-built
//!   index, a crash, or a board that just turned the index on, still give
//!   the scan's answers.
//! - **The indexer** ([`indexer`]) wakes after deliveries (once the mail
//!   has settled for 20 s) or at once for `roost reindex`, reads waiting
//!   blobs on the worker pool through [`walk::index_blob`] (1 MiB of mail a
//!   job), accumulates a [`segment::Builder`] up to the board's
//!   `search_index_memory`, and hands the finished segment to the store
//!   thread, durably. Small segments merge (8 or more in a row); after a
//!   reindex and hourly, a segment most of whose entries are dead (deleted
//!   mail, or mail indexed again later) is rewritten without them.
//! - **Storage**: lists of a segment are packed into rows of at most
//!   [`segment::BLOCK`] bytes, keyed by their first list's (kind, trigram):
//!   a redb row per list took four times the lists' bytes of file.
//! - **Searching**: for each needle of three or more folded characters,
//!   up to 12 of its trigrams are looked up in every segment (BODY: body
//!   lists; TEXT: body or header lists; header keys on fields outside the
//!   summary: header lists), intersected per segment and united, with the
//!   waiting and unindexed blobs; on the worker pool, since the lookups
//!   grow with the number of segments. Over 131,072 candidates (a common
//!   word), the search scans. The scan then verifies only candidates, so
//!   results are the scan's.
//! - The index's format and `char::UNICODE_VERSION` are kept in META; when
//!   they change, or the board turns the index on, everything is queued
//!   again at start-up; turned off, the tables are emptied.
//!
//! Measured (x86-64, release, 2026-12-07; a synthetic worst case: 100,000
//! messages of 300-1,200 words drawn from 20,000 random letter strings,
//! 535 MB; 2 cores shared with other builds): reindex 23-43 s, server
//! VmHWM 29-32 MB, a bystander's NOOP every 10 ms meanwhile p50 0.06 ms,
//! p99 2.9 ms, max 19 ms; lists 271 MB, 324 MB of file (61 % of the mail:
//! random strings have far more distinct trigrams than language; text-only
//! prose measured 17 % in lists, see above). `UID SEARCH BODY` of a word
//! in 10 messages 21-25 ms (the scan: seconds), an absent word 20-22 ms
//! (mostly the walk over 100,000 records), a word in 1,031 messages
//! 47-60 ms, a 2-letter needle scans (1.4-1.6 s).

pub mod indexer;
mod postings;
pub mod segment;
mod trigram;
pub mod walk;

#[cfg(test)]
pub use postings::intersect;
pub use postings::{decode, encode};
#[cfg(test)]
pub use trigram::trigram;
pub use trigram::{needle_trigrams, Indexed, Trigrams};

/// A job for the worker pool with its answer boxed (see [`on_worker`]).
type Job = Box<dyn FnOnce() -> Box<dyn std::any::Any + Send> + Send>;

/// Runs `job` on the worker pool (`util::pool`). Every job of the index
/// goes through one copy of the pool's machinery, its answer boxed: a
/// copy per answer type cost kilobytes each of the ARM binaries, which
/// issue 17 keeps under 4 MiB.
pub(crate) async fn on_worker<T: Send + 'static>(
    job: impl FnOnce() -> T + Send + 'static,
) -> Result<T, crate::store::StoreError> {
    let answer = run_boxed(Box::new(move || Box::new(job()))).await?;
    answer.downcast::<T>().map(|answer| *answer).map_err(|_| crate::store::StoreError::Bug("worker answer".into()))
}

async fn run_boxed(job: Job) -> Result<Box<dyn std::any::Any + Send>, crate::store::StoreError> {
    crate::util::pool::run(job).await.map_err(|error| crate::store::StoreError::Bug(error.to_string()))
}

#[cfg(test)]
mod measure;
#[cfg(test)]
mod tests;
