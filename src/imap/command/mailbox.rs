//! CREATE, DELETE, RENAME (RFC 3501 §6.3.3-6.3.5), SUBSCRIBE and UNSUBSCRIBE.

use std::io;

use crate::imap::code::Code;
use crate::imap::mailbox_name;
use crate::imap::session::{Replied, Session, Status};
use crate::store::{Op, Outcome, INBOX};

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

pub async fn create(session: &mut Session, tag: &str, user: u32, raw: &[u8]) -> io::Result<()> {
    let Ok(name) = name_or_no(session, tag, raw, Role::New) else { return Ok(()) };
    if name == INBOX {
        return session.finish(tag, Status::No, Some(Code::AlreadyExists), "INBOX always exists").await;
    }
    let op = Op::CreateMailbox { user, name, special_use: None };
    match session.server.store.execute(op).await {
        Ok(Outcome::Created { mailbox }) => {
            // RFC 8474 §4.1: CREATE's tagged OK names the new mailbox's id.
            let code = format!("MAILBOXID ({})", crate::imap::object_id::mailbox_id(mailbox));
            session.finish(tag, Status::Ok, Some(Code::Data(code)), "CREATE completed").await
        }
        Ok(other) => session.unexpected(tag, "CREATE", other).await,
        Err(error) => session.store_failed(tag, error, false).await,
    }
}

pub async fn delete(session: &mut Session, tag: &str, user: u32, raw: &[u8]) -> io::Result<()> {
    let Ok(name) = name_or_no(session, tag, raw, Role::Existing) else { return Ok(()) };
    let id = session.server.store.read().and_then(|reader| reader.mailbox_id(user, &name)).ok().flatten();
    let op = Op::DeleteMailbox { user, name };
    match session.server.store.execute(op).await {
        Ok(Outcome::Done) => {
            // Deleting the selected mailbox closes it first, as Dovecot
            // does, instead of cutting this session off like the others.
            let selected = session.view().is_some_and(|view| Some(view.mailbox) == id);
            if selected {
                session.deselect();
            }
            session.finish(tag, Status::Ok, None, "DELETE completed").await
        }
        Ok(other) => session.unexpected(tag, "DELETE", other).await,
        Err(error) => session.store_failed(tag, error, false).await,
    }
}

pub async fn rename(session: &mut Session, tag: &str, user: u32, from: &[u8], to: &[u8]) -> io::Result<()> {
    let Ok(from) = name_or_no(session, tag, from, Role::Existing) else { return Ok(()) };
    let Ok(to) = name_or_no(session, tag, to, Role::New) else { return Ok(()) };
    let op = Op::RenameMailbox { user, from, to: to.clone() };
    match session.server.store.execute(op).await {
        Ok(Outcome::Done) => session.finish(tag, Status::Ok, None, "RENAME completed").await,
        Ok(other) => session.unexpected(tag, "RENAME", other).await,
        Err(error) => session.store_failed(tag, error, false).await,
    }
}

pub async fn subscribe(session: &mut Session, tag: &str, user: u32, raw: &[u8], subscribed: bool) -> io::Result<()> {
    let role = if subscribed { Role::New } else { Role::Existing };
    let Ok(name) = name_or_no(session, tag, raw, role) else { return Ok(()) };
    let op = Op::Subscribe { user, name, subscribed };
    let done = if subscribed { "SUBSCRIBE completed" } else { "UNSUBSCRIBE completed" };
    match session.server.store.execute(op).await {
        Ok(Outcome::Done) => session.finish(tag, Status::Ok, None, done).await,
        Ok(other) => session.unexpected(tag, "SUBSCRIBE", other).await,
        Err(error) => session.store_failed(tag, error, false).await,
    }
}
