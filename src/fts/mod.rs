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
//! is far above what mail text reaches (see the report's measurements).

mod postings;
mod trigram;

pub use postings::{decode, encode, intersect, union, Decode, Intersection, Union};
pub use trigram::{needle_trigrams, trigram, Indexed, Trigrams};

#[cfg(test)]
mod measure;
#[cfg(test)]
mod tests;
