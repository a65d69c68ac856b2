//! CLOSE (RFC 3501 §6.4.2) and UNSELECT (RFC 3691).

use std::io;

use crate::imap::code::describe;
use crate::imap::session::{Session, Status};

/// Expunges \Deleted messages silently (unless read-only), then deselects.
pub async fn close(session: &mut Session, tag: &str) -> io::Result<()> {
    let Some(view) = session.view() else { return Ok(()) };
    if !view.read_only {
        if let Err(error) = session.server.store.expunge(view.mailbox, None).await {
            // RFC 3501: CLOSE sends no EXPUNGE responses, so no sync either;
            // the mailbox stays selected and the failure is reported.
            let (code, text) = describe(&error, false);
            session.tagged(tag, Status::No, Some(code), &text);
            return Ok(());
        }
    }
    session.deselect();
    session.tagged(tag, Status::Ok, None, "CLOSE completed");
    Ok(())
}

pub async fn unselect(session: &mut Session, tag: &str) -> io::Result<()> {
    session.deselect();
    session.tagged(tag, Status::Ok, None, "UNSELECT completed");
    Ok(())
}
