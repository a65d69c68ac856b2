//! roost: an IMAP server for a household, built for Raspberry Pi-class
//! boards (512 MiB to 8 GiB of RAM, an SD card or a USB disk).
//!
//! This library is the whole server; `src/main.rs` is a thin argh command
//! line over [`admin`]. The layers are private modules, so what one layer
//! may name of another is what the compiler lets it name: the only public
//! items are [`admin`] (what the CLI calls), [`Config`] and a hidden
//! [`fuzzing`] facade for the fuzz targets in `fuzz/`.
//!
//! # Layers
//!
//! Bytes come in at the top and go down; a layer uses the layers below it,
//! never one above.
//!
//! ```text
//!  main.rs (argh) ─► admin                 one CLI command, then exit
//!    import ─► mailfile                      `roost import`: Maildir/mbox read in the CLI, sent to control::import
//!    setup, status                           `roost setup` (first run: board, config, certificate, first user)
//!                                            and `roost status` (asks control::status, or reads the files)
//!    client_profile                          `roost client-profile`: Apple profile and Thunderbird autoconfig files
//!  server                                  listeners, connection limits, the executor
//!  ├─ imap::session ─► imap::command::*    IMAP state machine; one handler per command
//!  │    imap::{fetch, search}               engines the commands share: FETCH responses; the search
//!  │                                        scan, evaluator, ESEARCH and live searches
//!  │    imap::session::{sync, qresync,      what commands share of a session: change reports,
//!  │      notify, condstore, mailbox_arg}   VANISHED (EARLIER), NOTIFY, enabling CONDSTORE, mailbox arguments
//!  │    imap::{parse, encode, types, view}  IMAP grammar, mailbox views (UIDs only); LIST and STATUS lines
//!  ├─ lmtp                                  mail in (RFC 2033), over Unix or TCP sockets
//!  ├─ control                               CLI requests to a running server (import: streamed frames)
//!  ├─ export                                `roost export`: Maildir++ and mbox files, on a thread of its own
//!  ├─ alert                                 notices delivered into a user's INBOX
//!  ├─ backup                                `roost backup` requests and the [backup] schedule
//!  ├─ quota_warning                         quota warnings the store raises, sent as notices
//!  ├─ retention                             Trash and Junk empty themselves (a timer, batches of expunges)
//!  ├─ auth                                  argon2 threads, bans, device passwords
//!  └─ systemd                               sd_notify: READY, STOPPING, the watchdog (it pings the store thread)
//!  store                                   typed operations and reads; the only code that opens the database
//!  mime                                    header fields, the streaming structure pass, decoding
//!  net                                     TCP, TLS (rustls), Unix sockets, DEFLATE
//!  mail                                    the shared vocabulary: flags, flag changes, ACL rights
//!  config, util                            board profiles and limits; small codecs
//! ```
//!
//! No command file imports another: what several commands share lives
//! below them, in the FETCH engine (`imap::fetch`), the search engine
//! (`imap::search`), the LIST and STATUS lines (`imap::list_line`,
//! `imap::status_line`) and the session's shared parts (`imap::session::*`
//! besides the connection loop). The session and the commands depend on
//! each other by design: the session dispatches to a command, and the
//! commands and engines take the `Session` (its connection, view and
//! reply helpers). Known exceptions to "only downwards", left for their
//! own change (issue 14, item 2): `auth::protect`, `alert`,
//! `quota_warning`, `retention`, `backup` and `lmtp` reach up to
//! `server::Server` for the shared server state; `config` validates
//! against `store::CHUNK_SIZE`, `store::quota::parse_size`, `net::lan` and
//! `auth::normalize_user_name`. The words IMAP and the store share (flags,
//! how STORE changes them, ACL rights and identifiers) live in `mail`, below both; ENVELOPE/BODYSTRUCTURE syntax is `imap::render`;
//! the work budget every long command uses is `imap::pace`; a message's
//! MIME structure is read (or parsed again) by `store::structure_of`.
//!
//! # Rules every layer keeps
//!
//! - **One thread for every session.** All IMAP and LMTP sessions run on
//!   one `smol::LocalExecutor`; nothing may block it. Durable commits (an
//!   fsync: milliseconds to tens of milliseconds on an SD card) happen on
//!   the one store thread, which groups every change that arrives during a
//!   commit into the next one; password hashing runs on the board's few
//!   `auth_threads`. Long work (SEARCH over a big mailbox, LIST patterns,
//!   FETCH of many messages) is budgeted by what it costs and yields when
//!   the budget is spent.
//! - **No snapshot across a socket write.** A read transaction held while a
//!   client does not read would keep the database from reusing every page
//!   freed after it, and the file would grow with each write. Work that
//!   reads while it writes to a client closes its snapshot before a write
//!   that may block and opens a new one after; a client that does not
//!   drain its output within the write timeout is disconnected.
//! - **Memory bounded by the board profile.** Every buffer, queue, cache
//!   and count has its bound in `boards/*.toml` (read into
//!   `config::Limits`), not in a constant scattered through the code:
//!   line and literal sizes, connections per address, the database's page
//!   cache, argon2's memory. Literals and message bodies stream in chunks;
//!   no message is ever held whole.
//! - **Durable before acknowledged.** The tagged OK of a command that
//!   changes mail and LMTP's 250 are sent only after the transaction that
//!   holds the change has been committed durably: a `kill -9` at any moment
//!   loses nothing that was acknowledged.
//! - **Bad input gets an answer.** A clear `BAD` or `NO` with a reason (and
//!   a response code where one fits), never a panic, a silent success or a
//!   dropped connection without `BYE`.
//! - **No `unsafe`** outside the two places that need it, each allowed by
//!   name: `auth`'s argon2 work memory (an anonymous mapping, returned to
//!   the kernel after each hash) and `util::heap` (glibc's `malloc_trim`).
//!
//! # Dependencies and why
//!
//! | crate | role |
//! |---|---|
//! | smol, async-signal, event-listener | the executor, timers and channels; SIGTERM as a stream; wake-ups of idling sessions |
//! | futures-rustls, rustls (`ring` only), rustls-pki-types, rcgen | TLS on 993 and STARTTLS; PEM files; the self-signed certificate at first start |
//! | ring | randomness for salts, SHA-256 for blob hashes (already there through rustls) |
//! | redb | the store: one file, one writer |
//! | argon2 | password hashes, into memory we map ourselves |
//! | rustix | statvfs for the free-space reserve, anonymous mappings (already in smol's tree) |
//! | encoding_rs | charsets for SEARCH and RFC 2047 words, with a streaming decoder |
//! | unicode-normalization | NFC mailbox names, NFD for SEARCH's case fold |
//! | miniz_oxide | COMPRESS=DEFLATE (RFC 4978): pure Rust, one bounded inflater per session |
//! | heapless | fixed-size buffers where the bound is static |
//! | base64 | strict standard base64 for SASL, password hashes, modified UTF-7 (already there through rcgen) |
//! | argh, log, simple_logger | the command line; logging to stderr (the journal) |
//!
//! Tests only: proptest, and imap-codec, the independent response parser
//! `tests/fuzz_session.rs` checks every response against (never linked into
//! the server).
//!
//! The MIME parser is roost's own (no mail-parser): it streams over stored
//! chunks in bounded memory and its ENVELOPE and BODYSTRUCTURE match
//! Dovecot's byte for byte (`tests/mime/compare.sh`). So are the IMAP
//! command parser and response encoder: literals stream to the store, and
//! the grammar covers IMAP4rev2, CONDSTORE and QRESYNC.
#![deny(unsafe_code)]
// Clippy's pedantic group is on (issue 14), as redb does, less these
// lints, each for a reason that holds across the crate. Integration tests
// and the fuzz crate are separate crates and keep the default set.
#![warn(clippy::pedantic)]
#![allow(
    // Prose docs name IMAP grammar words (ENVELOPE, IMAP4rev2, BODY.PEEK)
    // and RFC sections; backticks on each would make them read as code.
    clippy::doc_markdown,
    // Every cast between u64, u32 and usize was reviewed for 32-bit ARM
    // (issue 14): sizes and counts are bounded by the board's limits far
    // below 2^32, UIDs and modseqs keep their RFC widths, and stored
    // u64 lengths are bounded by the literal limit before they become
    // usize. A `try_from` at each would add error paths no input reaches.
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap,
    // Not a published library: its API is the CLI's and the fuzz targets'.
    clippy::missing_errors_doc,
    clippy::missing_panics_doc,
    clippy::must_use_candidate,
    // A handler follows its RFC section's steps in order; cutting it into
    // pieces to fit 100 lines would hide that order.
    clippy::too_many_lines,
    // Names the RFCs use side by side (`uid`/`uids`, `from`/`form`).
    clippy::similar_names,
    // A session's switches (CONDSTORE, QRESYNC, UTF8=ACCEPT, IMAP4rev2,
    // UIDONLY...) are independent protocol states, not one state machine.
    clippy::struct_excessive_bools,
    // Arms are kept apart where each has its own RFC reason.
    clippy::match_same_arms,
    // Short response texts are built with format!; the output buffer that
    // matters for memory is the connection's, which they are copied into.
    clippy::format_push_string,
    // Families of functions keep one signature so call sites read alike:
    // handlers are async and return io::Result even when one branch needs
    // neither; errors are taken by value where they end their journey.
    clippy::unused_async,
    clippy::unnecessary_wraps,
    clippy::needless_pass_by_value,
    clippy::unused_self,
    // "not asked", "asked, absent", "asked, present" (PREVIEW, structure
    // fields, the argon2 queue's turn) are three states on purpose.
    clippy::option_option,
    clippy::struct_field_names,
    // Unix times, modseqs and sizes in tests read as they appear in logs.
    clippy::unreadable_literal
)]
// Unit tests build expected texts with format! over iterators, declare
// their helpers where used, and print measured rates as floats.
#![cfg_attr(test, allow(clippy::format_collect, clippy::items_after_statements, clippy::cast_precision_loss))]

pub mod admin;
mod alert;
mod auth;
mod backup;
mod client_profile;
mod config;
mod control;
mod export;
mod fts;
#[doc(hidden)]
pub mod fuzzing;
mod imap;
mod import;
mod lmtp;
mod mail;
mod mailfile;
mod mime;
mod net;
mod quota_warning;
mod retention;
mod server;
mod setup;
mod status;
mod store;
mod systemd;
mod util;

pub use config::Config;
