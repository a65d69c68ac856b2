//! One file per IMAP command (or tight family), each reading like
//! Dovecot's `cmd-*.c`: arguments → state → one store operation →
//! changes → tagged reply.
//!
//! A command file uses no other command's file: what several commands
//! share lives below them (`imap::fetch`, `imap::search`,
//! `imap::list_line`, `imap::status_line`, `imap::session::*`).
//!
//! | command | file |
//! |---|---|
//! | CAPABILITY, NOOP, CHECK, LOGOUT, NAMESPACE | `imap/session/mod.rs` (`dispatch`: a line each, no state) |
//! | ID | `id.rs` |
//! | STARTTLS | `starttls.rs` |
//! | LOGIN, AUTHENTICATE | `login.rs` |
//! | ENABLE | `enable.rs` |
//! | COMPRESS | `compress.rs` |
//! | SELECT, EXAMINE | `select.rs` |
//! | CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE | `mailbox.rs` |
//! | LIST, LSUB | `list.rs` |
//! | STATUS | `status.rs` |
//! | APPEND (MULTIAPPEND, CATENATE), REPLACE, UID REPLACE | `append.rs` |
//! | IDLE | `idle.rs` |
//! | NOTIFY | `notify.rs` |
//! | CLOSE, UNSELECT | `close.rs` |
//! | EXPUNGE, UID EXPUNGE | `expunge.rs` |
//! | SEARCH, UID SEARCH | `search.rs` |
//! | SORT, UID SORT | `sort.rs` |
//! | THREAD, UID THREAD | `thread.rs` |
//! | CANCELUPDATE | `context.rs` |
//! | FETCH, UID FETCH | `fetch.rs` |
//! | STORE, UID STORE | `store.rs` |
//! | COPY, MOVE, UID COPY, UID MOVE | `copy_move.rs` |
//! | SETACL, DELETEACL, GETACL, LISTRIGHTS, MYRIGHTS | `acl.rs` |
//! | GETQUOTA, GETQUOTAROOT, SETQUOTA | `quota.rs` |
//!
//! `uidonly.rs` is not a command: it says which commands UIDONLY refuses
//! (RFC 9586), asked by dispatch.

pub mod acl;
pub mod append;
pub mod close;
pub mod compress;
pub mod context;
pub mod copy_move;
pub mod enable;
pub mod expunge;
pub mod fetch;
pub mod id;
pub mod idle;
pub mod list;
pub mod login;
pub mod mailbox;
pub mod notify;
pub mod quota;
pub mod search;
pub mod select;
pub mod sort;
pub mod starttls;
pub mod status;
pub mod store;
pub mod thread;
pub mod uidonly;
