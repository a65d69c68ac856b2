//! STATUS (RFC 3501 §6.3.10; SIZE and DELETED from RFC 9051 / RFC 8438).

use std::io;

use crate::imap::command::mailbox::name_or_bad;
use crate::imap::encode;
use crate::imap::session::{Session, Status};
use crate::imap::types::StatusItem;
use crate::store::{MailboxRecord, StoreError};

pub async fn run(session: &mut Session, tag: &str, raw: &[u8], items: &[StatusItem]) -> io::Result<()> {
    let Some(name) = name_or_bad(session, tag, raw) else { return Ok(()) };
    let Some(user) = session.user().map(|user| user.id) else { return Ok(()) };
    let (record, recent) = match read(session, user, &name) {
        Ok(found) => found,
        Err(error) => return session.store_failed(tag, error, false).await,
    };
    if items.contains(&StatusItem::HighestModseq) {
        // RFC 7162 §3.1: a CONDSTORE enabling command.
        crate::imap::command::enable::condstore(session);
    }
    let out = session.conn.out();
    out.extend_from_slice(b"* STATUS ");
    encode::mailbox(out, &name);
    out.extend_from_slice(b" (");
    for (index, item) in items.iter().enumerate() {
        if index > 0 {
            out.push(b' ');
        }
        let (label, value): (&str, u64) = match item {
            StatusItem::Messages => ("MESSAGES", record.messages.into()),
            StatusItem::Recent => ("RECENT", recent),
            StatusItem::UidNext => ("UIDNEXT", record.uid_next.into()),
            StatusItem::UidValidity => ("UIDVALIDITY", record.uid_validity.into()),
            StatusItem::Unseen => ("UNSEEN", record.unseen.into()),
            StatusItem::Size => ("SIZE", record.size),
            StatusItem::Deleted => ("DELETED", record.deleted.into()),
            StatusItem::HighestModseq => ("HIGHESTMODSEQ", record.highest_modseq),
        };
        out.extend_from_slice(label.as_bytes());
        out.push(b' ');
        encode::number(out, value);
    }
    out.extend_from_slice(b")\r\n");
    session.finish(tag, Status::Ok, None, "STATUS completed").await
}

/// The mailbox's record and how many of its messages are still \Recent.
fn read(session: &Session, user: u32, name: &str) -> Result<(MailboxRecord, u64), StoreError> {
    let store = &session.server.store;
    let reader = store.read()?;
    let id = reader.mailbox_id(user, name)?.ok_or(StoreError::NoSuchMailbox)?;
    let record = reader.mailbox(id)?.ok_or(StoreError::NoSuchMailbox)?;
    if record.noselect {
        return Err(StoreError::NotSelectable);
    }
    // A watched mailbox may have handed out \Recent since the record was written.
    let first_recent = store.hub().borrow().get(id).map_or(record.first_recent_uid, |state| state.first_recent_uid);
    let mut recent = reader.messages()?.range(id, first_recent, u32::MAX)?.count() as u64;
    // RFC 3501 §6.3.10 counts messages with \Recent set: in the selected
    // mailbox, this session's own \Recent messages count too.
    if let Some(view) = session.view().filter(|view| view.mailbox == id) {
        recent += view.recent_count() as u64;
    }
    Ok((record, recent))
}
