//! One file per IMAP command (or tight family), each reading like
//! Dovecot's `cmd-*.c`: arguments → state → one store operation →
//! changes → tagged reply.
//!
//! A command file uses no other command's file: what several commands
//! share lives below them (`imap::fetch`, `imap::search`,
//! `imap::list_line`, `imap::status_line`, `imap::session::*`).

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
pub mod search;
pub mod select;
pub mod sort;
pub mod starttls;
pub mod status;
pub mod store;
pub mod thread;
pub mod uidonly;
