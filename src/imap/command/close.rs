//! CLOSE (RFC 3501 §6.4.2) and UNSELECT (RFC 3691).

use std::io;

use crate::imap::code::describe;
use crate::imap::session::{Selected, Status};
use crate::mail::rights::Rights;

/// Expunges \Deleted messages silently (unless read-only, or the user
/// lacks `e`), then deselects.
pub async fn close(mut session: Selected<'_>, tag: &str) -> io::Result<()> {
    let view = session.view();
    // RFC 4314 §4: without `e` CLOSE closes without expunging, and succeeds.
    if !view.read_only && view.access.rights.contains(Rights::EXPUNGE) {
        if let Err(error) = session.server.store.expunge(view.mailbox, None).await {
            // RFC 3501: CLOSE sends no EXPUNGE responses, so no sync either;
            // the mailbox stays selected and the failure is reported.
            let (code, text) = describe(&error, false);
            session.tagged(tag, Status::No, Some(code), &text);
            return Ok(());
        }
    }
    let session = session.deselect();
    session.tagged(tag, Status::Ok, None, "CLOSE completed");
    Ok(())
}

pub async fn unselect(session: Selected<'_>, tag: &str) -> io::Result<()> {
    let session = session.deselect();
    session.tagged(tag, Status::Ok, None, "UNSELECT completed");
    Ok(())
}
