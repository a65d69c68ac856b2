//! The STATUS response of one mailbox (RFC 3501 §7.2.4, with RFC 9051's,
//! RFC 8438's and RFC 8474's items): what the session may ask for, reading
//! the counters, writing the line. Shared by STATUS (`command::status`)
//! and LIST ... RETURN (STATUS) (RFC 5819, `command::list`). It may use
//! the session, `imap::encode` and the store's reads, never a command.

use crate::imap::encode;
use crate::imap::session::Session;
use crate::imap::types::StatusItem;
use crate::store::{MailboxRecord, StoreError};

/// Why `items` cannot be asked for in this session, if they cannot:
/// RFC 9051 has no RECENT status item (its grammar leaves it out).
pub fn refused_item(session: &Session, items: &[StatusItem]) -> Option<&'static str> {
    (session.imap4rev2 && items.contains(&StatusItem::Recent))
        .then_some("STATUS RECENT is not part of IMAP4rev2 (RFC 9051)")
}

/// What [`read`] counts beside the record, when the items ask for it.
#[derive(Clone, Copy, Debug, Default)]
pub struct Counted {
    /// Messages still \Recent.
    pub recent: u64,
    /// RFC 9208 §4.2 DELETED-STORAGE: bytes of the \Deleted messages,
    /// kept by the store as they come and go (`store::quota`).
    pub deleted_storage: u64,
}

/// `* STATUS name (item value ...)` of mailbox `id`.
pub fn write(
    session: &mut Session,
    name: &str,
    id: u64,
    record: &MailboxRecord,
    counted: Counted,
    items: &[StatusItem],
) {
    let utf8 = session.utf8_names();
    let out = session.conn.out();
    out.extend_from_slice(b"* STATUS ");
    encode::mailbox_for(out, name, utf8);
    out.extend_from_slice(b" (");
    for (index, item) in items.iter().enumerate() {
        if index > 0 {
            out.push(b' ');
        }
        if *item == StatusItem::MailboxId {
            // RFC 8474 §4.3: the only status item that is not a number.
            out.extend_from_slice(b"MAILBOXID (");
            out.extend_from_slice(crate::imap::object_id::mailbox_id(id).as_bytes());
            out.push(b')');
            continue;
        }
        let (label, value): (&str, u64) = match item {
            StatusItem::Messages => ("MESSAGES", record.messages.into()),
            StatusItem::Recent => ("RECENT", counted.recent),
            StatusItem::UidNext => ("UIDNEXT", record.uid_next.into()),
            StatusItem::UidValidity => ("UIDVALIDITY", record.uid_validity.into()),
            StatusItem::Unseen => ("UNSEEN", record.unseen.into()),
            // RFC 8438: the sum of RFC822.SIZE, kept as a counter by the store.
            StatusItem::Size => ("SIZE", record.size),
            StatusItem::Deleted => ("DELETED", record.deleted.into()),
            StatusItem::HighestModseq => ("HIGHESTMODSEQ", record.highest_modseq),
            StatusItem::DeletedStorage => ("DELETED-STORAGE", counted.deleted_storage),
            StatusItem::MailboxId => continue,
        };
        out.extend_from_slice(label.as_bytes());
        out.push(b' ');
        encode::number(out, value);
    }
    out.extend_from_slice(b")\r\n");
}

/// The mailbox's record as `user` sees it, and how many of its messages
/// are still \Recent (counted only when `items` ask for it: it reads the
/// recent messages).
///
/// MESSAGES, UIDNEXT, UIDVALIDITY, SIZE and MAILBOXID are the same for
/// every user (spec §2.6). UNSEEN is the user's own (RFC 4314 §5.2,
/// spec §3.4): the record's count for the owner, whose \Seen is the
/// message's flag; every other reader keeps theirs privately, so theirs is
/// the messages less their private \Seen rows (one walk of those rows,
/// at most the mailbox's size; done only when UNSEEN is asked for).
pub fn read(
    session: &Session,
    user: u32,
    id: u64,
    items: &[StatusItem],
) -> Result<(MailboxRecord, Counted), StoreError> {
    let store = &session.server.store;
    let reader = store.read()?;
    let mut record = reader.mailbox(id)?.ok_or(StoreError::NoSuchMailbox)?;
    if record.noselect {
        return Err(StoreError::NotSelectable);
    }
    if record.user_id != user && items.contains(&StatusItem::Unseen) {
        record.unseen = reader.private_unseen(id, user)?;
    }
    // HIGHESTMODSEQ is the user's own (spec §3.2): the mailbox's shared
    // modseq or the user's own latest private change, whichever is
    // higher; others' private \Seen changes never raise it. The counter
    // itself stays in `highest_modseq` for the \Recent count below.
    let own_modseq =
        if items.contains(&StatusItem::HighestModseq) { Some(reader.highest_modseq_for(id, user)?) } else { None };
    let with_own = |mut record: MailboxRecord| {
        if let Some(modseq) = own_modseq {
            record.highest_modseq = modseq;
        }
        record
    };
    let deleted_storage = if items.contains(&StatusItem::DeletedStorage) { reader.deleted_storage(id)? } else { 0 };
    if !items.contains(&StatusItem::Recent) {
        return Ok((with_own(record), Counted { recent: 0, deleted_storage }));
    }
    // A watched mailbox may have handed out \Recent since the record was written.
    let (first_recent, in_hub) = match store.hub().borrow().get(id) {
        // The hub's UID list, when it shows the same state as this
        // snapshot, counts them by a binary search instead of a walk over
        // every message not yet seen (LIST-STATUS asks for each mailbox).
        Some(state) => {
            let same = state.modseq == record.highest_modseq;
            let count =
                same.then(|| state.uids.len() - state.uids.partition_point(|&uid| uid < state.first_recent_uid));
            (state.first_recent_uid, count)
        }
        None => (record.first_recent_uid, None),
    };
    let mut recent = match in_hub {
        Some(count) => count as u64,
        None => reader.messages()?.range(id, first_recent, u32::MAX)?.count() as u64,
    };
    // RFC 3501 §6.3.10 counts messages with \Recent set: in the selected
    // mailbox, this session's own \Recent messages count too.
    if let Some(view) = session.view().filter(|view| view.mailbox == id) {
        recent += u64::from(view.recent_count());
    }
    Ok((with_own(record), Counted { recent, deleted_storage }))
}
