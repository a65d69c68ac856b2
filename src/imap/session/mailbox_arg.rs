//! A mailbox argument decoded as the session speaks (modified UTF-7, or
//! UTF-8 once enabled), or the command answered NO: shared by every
//! command that names a mailbox (CREATE, DELETE, RENAME, SUBSCRIBE,
//! SELECT, STATUS, COPY, MOVE), like [`Selected::resolve_or_bad`](crate::imap::session::Selected::resolve_or_bad) for
//! sets. It may use the session, `imap::mailbox_name` and `imap::code`.

use crate::imap::code::Code;
use crate::imap::mailbox_name;
use crate::imap::session::{Replied, Session, Status};

/// What a mailbox argument names: a mailbox that should exist, or one
/// about to be made.
#[derive(Clone, Copy)]
pub enum Role {
    Existing,
    New,
}

/// Decodes a mailbox argument, answering NO for one that is not a
/// mailbox name (not valid modified UTF-7, control characters, empty
/// levels, too long). Not BAD: the argument is a valid astring, and RFC
/// 3501 §7.1 keeps BAD for commands that are not understood. No mailbox
/// has such a name, so one that should exist is `[NONEXISTENT]` (RFC
/// 5530) and one to be made `[CANNOT]`, as Dovecot answers.
pub fn name_or_no(session: &mut Session, tag: &str, raw: &[u8], role: Role) -> Result<String, Replied> {
    match mailbox_name::decode_for(raw, session.utf8_names()) {
        Ok(name) => Ok(name),
        Err(text) => {
            let code = match role {
                Role::Existing => Code::NonExistent,
                Role::New => Code::Cannot,
            };
            Err(session.tagged(tag, Status::No, Some(code), &text))
        }
    }
}
