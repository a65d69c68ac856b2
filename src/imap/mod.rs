//! The IMAP protocol: grammar (`parse`, `encode`, `types`), the session
//! state machine, and one handler per command.

pub mod acl_line;
pub mod code;
pub mod command;
pub mod encode;
pub mod fetch;
pub mod list_line;
pub mod mailbox_name;
pub mod namespace;
pub mod object_id;
pub mod pace;
pub mod parse;
pub mod render;
pub mod search;
pub mod session;
pub mod sort;
pub mod status_line;
pub mod thread;
pub mod types;
pub mod url;
pub mod view;
pub mod visible;
