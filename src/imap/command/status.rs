//! STATUS (RFC 3501 §6.3.10; SIZE and DELETED from RFC 9051 / RFC 8438;
//! MAILBOXID from RFC 8474). The response itself is written by
//! `imap::status_line`, which LIST-STATUS (RFC 5819) shares.
//!
//! The name resolves through the namespaces (`imap::namespace::lookup`):
//! a mailbox the user cannot see answers exactly as one never created
//! (RFC 4314 §6, RFC 5530 §5); one they see without `r` gets `NO
//! [NOPERM]` (RFC 4314 §4: STATUS needs `r`); a namespace level that is
//! listed for them (`Shared`, `Shared/alice`, `Family`) gets `NO
//! [CANNOT]`, as it is not a mailbox (spec §2.2). The counters are the
//! user's own where they differ (`status_line::read`).

use std::io;

use crate::imap::code::Code;
use crate::imap::namespace::{self, Lookup};
use crate::imap::session::mailbox_arg::{name_or_no, Role};
use crate::imap::session::{Session, Status};
use crate::imap::status_line::{read, refused_item, write};
use crate::imap::types::StatusItem;
use crate::mail::rights::Rights;
use crate::store::StoreError;

pub async fn run(session: &mut Session, tag: &str, user: u32, raw: &[u8], items: &[StatusItem]) -> io::Result<()> {
    if let Some(text) = refused_item(session, items) {
        session.tagged(tag, Status::Bad, None, text);
        return Ok(());
    }
    let Ok(name) = name_or_no(session, tag, raw, Role::Existing) else { return Ok(()) };
    let found = session.server.store.read().and_then(|reader| namespace::lookup(&reader, user, &name));
    let id = match found {
        Ok(Lookup::Found(access)) if access.rights.contains(Rights::STATUS) => access.id,
        Ok(Lookup::Found(_)) => {
            let text = "You may not read this mailbox (no \"r\" right)";
            session.tagged(tag, Status::No, Some(Code::NoPerm), text);
            return Ok(());
        }
        Ok(Lookup::Level) => {
            let text = format!("{name} is not a mailbox");
            session.tagged(tag, Status::No, Some(Code::Cannot), &text);
            return Ok(());
        }
        // Hidden or missing: the same bytes.
        Ok(Lookup::Missing) => return session.store_failed(tag, StoreError::NoSuchMailbox, false).await,
        Err(error) => return session.store_failed(tag, error, false).await,
    };
    let (record, counted) = match read(session, user, id, items) {
        Ok(found) => found,
        Err(error) => return session.store_failed(tag, error, false).await,
    };
    if items.contains(&StatusItem::HighestModseq) {
        // RFC 7162 §3.1: a CONDSTORE enabling command.
        crate::imap::session::condstore::condstore(session);
    }
    write(session, &name, id, &record, counted, items);
    session.finish(tag, Status::Ok, None, "STATUS completed").await
}
