//! Full-text index groundwork (issue 18): trigrams of the folded text
//! SEARCH reads, and posting lists of ids. Pure and self-contained: no
//! storage yet, nothing calls it outside its tests.
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
//! # The design the index should take (not built)
//!
//! - Per stored blob (blobs are shared by APPEND, LMTP and COPY/MOVE), not
//!   per copy; a search maps candidates to messages while it walks the
//!   records it reads anyway.
//! - `FTS_QUEUE` (blob id → ()) written in the transaction that stores the
//!   blob (not a watermark: blob ids are taken at the first chunk but become
//!   messages in any order); `FTS_UNINDEXED` for blobs over the cap. A blob
//!   in either is always a candidate, so a half-built index is exact.
//!   `roost reindex` enqueues existing blobs, resumable by construction.
//! - A background indexer drains the queue in batches through the scan's
//!   own walk (factor `ContentSearch::step` in `imap::search::eval` into one
//!   walker with two sinks, the matcher and [`Trigrams`], and share
//!   `join_folds`, so the two cannot drift), budgeted like the scan, and
//!   hands each batch to the store thread, which writes it as one
//!   write-once segment (packed rows of about 16 KiB: a directory of
//!   trigram keys, then their lists) and removes the queue rows in the same
//!   transaction. Small segments merge in the background. Delivery gains one
//!   tiny row and no folding: indexing while a message streams in would see
//!   a part's last bytes before the structure pass knows where the part ends
//!   (`tests::part_ends_change_decoded_tails`).
//! - Candidates: BODY, the intersection of the needle's body postings;
//!   TEXT, that united with the intersection of its header postings; header
//!   keys only for fields outside the header summary (the summary's address
//!   fields also match a rendering no stream holds). Under three folded
//!   characters, or when the shortest list is most of the mailbox: scan.
//! - Store `char::UNICODE_VERSION` (and unicode-normalization's version)
//!   with the index and reindex when they change: the fold follows them.
//!   Trigram values are a stored format (`tests::trigram_values_are_fixed`).

pub mod indexer;
mod postings;
pub mod segment;
mod trigram;
pub mod walk;

pub use postings::{decode, encode, intersect, Decode};
#[cfg(test)]
pub use trigram::trigram;
pub use trigram::{needle_trigrams, Indexed, Trigrams};

#[cfg(test)]
mod measure;
#[cfg(test)]
mod tests;
