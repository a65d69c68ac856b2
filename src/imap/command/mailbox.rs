//! CREATE, DELETE, RENAME (RFC 3501 §6.3.3-6.3.5), SUBSCRIBE and UNSUBSCRIBE.

use std::io;

use crate::imap::code::Code;
use crate::imap::session::mailbox_arg::{name_or_no, Role};
use crate::imap::session::{Session, Status};
use crate::store::{Op, INBOX};

pub async fn create(session: &mut Session, tag: &str, user: u32, raw: &[u8]) -> io::Result<()> {
    let Ok(name) = name_or_no(session, tag, raw, Role::New) else { return Ok(()) };
    if name == INBOX {
        return session.finish(tag, Status::No, Some(Code::AlreadyExists), "INBOX always exists").await;
    }
    match session.server.store.create_mailbox(user, name, None).await {
        Ok(mailbox) => {
            // RFC 8474 §4.1: CREATE's tagged OK names the new mailbox's id.
            let code = format!("MAILBOXID ({})", crate::imap::object_id::mailbox_id(mailbox));
            session.finish(tag, Status::Ok, Some(Code::Data(code)), "CREATE completed").await
        }
        Err(error) => session.store_failed(tag, error, false).await,
    }
}

pub async fn delete(session: &mut Session, tag: &str, user: u32, raw: &[u8]) -> io::Result<()> {
    let Ok(name) = name_or_no(session, tag, raw, Role::Existing) else { return Ok(()) };
    let id = session.server.store.read().and_then(|reader| reader.mailbox_id(user, &name)).ok().flatten();
    let op = Op::DeleteMailbox { user, name };
    match session.server.store.execute(op).await {
        Ok(()) => {
            // Deleting the selected mailbox closes it first, as Dovecot
            // does, instead of cutting this session off like the others.
            let selected = session.view().is_some_and(|view| Some(view.mailbox) == id);
            if selected {
                session.deselect();
            }
            session.finish(tag, Status::Ok, None, "DELETE completed").await
        }
        Err(error) => session.store_failed(tag, error, false).await,
    }
}

pub async fn rename(session: &mut Session, tag: &str, user: u32, from: &[u8], to: &[u8]) -> io::Result<()> {
    let Ok(from) = name_or_no(session, tag, from, Role::Existing) else { return Ok(()) };
    let Ok(to) = name_or_no(session, tag, to, Role::New) else { return Ok(()) };
    let op = Op::RenameMailbox { user, from, to: to.clone() };
    match session.server.store.execute(op).await {
        Ok(()) => session.finish(tag, Status::Ok, None, "RENAME completed").await,
        Err(error) => session.store_failed(tag, error, false).await,
    }
}

pub async fn subscribe(session: &mut Session, tag: &str, user: u32, raw: &[u8], subscribed: bool) -> io::Result<()> {
    let role = if subscribed { Role::New } else { Role::Existing };
    let Ok(name) = name_or_no(session, tag, raw, role) else { return Ok(()) };
    let op = Op::Subscribe { user, name, subscribed };
    let done = if subscribed { "SUBSCRIBE completed" } else { "UNSUBSCRIBE completed" };
    match session.server.store.execute(op).await {
        Ok(()) => session.finish(tag, Status::Ok, None, done).await,
        Err(error) => session.store_failed(tag, error, false).await,
    }
}
