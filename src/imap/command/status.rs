//! STATUS (RFC 3501 §6.3.10; SIZE and DELETED from RFC 9051 / RFC 8438;
//! MAILBOXID from RFC 8474). The response itself is written by
//! `imap::status_line`, which LIST-STATUS (RFC 5819) shares.

use std::io;

use crate::imap::session::mailbox_arg::{name_or_no, Role};
use crate::imap::session::{Session, Status};
use crate::imap::status_line::{read, refused_item, write};
use crate::imap::types::StatusItem;
use crate::store::StoreError;

pub async fn run(session: &mut Session, tag: &str, user: u32, raw: &[u8], items: &[StatusItem]) -> io::Result<()> {
    if let Some(text) = refused_item(session, items) {
        session.tagged(tag, Status::Bad, None, text);
        return Ok(());
    }
    let Ok(name) = name_or_no(session, tag, raw, Role::Existing) else { return Ok(()) };
    let id = match session.server.store.read().and_then(|reader| reader.mailbox_id(user, &name)) {
        Ok(Some(id)) => id,
        Ok(None) => return session.store_failed(tag, StoreError::NoSuchMailbox, false).await,
        Err(error) => return session.store_failed(tag, error, false).await,
    };
    let (record, recent) = match read(session, id, items) {
        Ok(found) => found,
        Err(error) => return session.store_failed(tag, error, false).await,
    };
    if items.contains(&StatusItem::HighestModseq) {
        // RFC 7162 §3.1: a CONDSTORE enabling command.
        crate::imap::session::condstore::condstore(session);
    }
    write(session, &name, id, &record, recent, items);
    session.finish(tag, Status::Ok, None, "STATUS completed").await
}
