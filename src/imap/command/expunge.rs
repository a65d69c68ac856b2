//! EXPUNGE and UID EXPUNGE (RFC 3501 §6.4.3, RFC 4315 §2.1).

use std::io;

use crate::imap::session::{Session, Status};
use crate::imap::types::SequenceSet;
use crate::store::Op;

pub async fn run(session: &mut Session, tag: &str, uids: Option<SequenceSet>) -> io::Result<()> {
    let Some(view) = session.view() else { return Ok(()) };
    if view.read_only {
        session.tagged(tag, Status::No, Some("READ-ONLY"), "Mailbox is read-only");
        return Ok(());
    }
    let uids = match uids {
        None => None,
        Some(set) => match view.resolve(&set, true) {
            Ok(ranges) if ranges.is_empty() => return session.finish(tag, Status::Ok, None, "EXPUNGE completed").await,
            Ok(ranges) => Some(view.uid_set(&ranges)),
            Err(text) => {
                session.tagged(tag, Status::Bad, None, text);
                return Ok(());
            }
        },
    };
    let op = Op::Expunge { mailbox: view.mailbox, uids };
    match session.server.store.execute(op).await {
        // The EXPUNGE responses come from the sync before the tagged reply.
        Ok(_) => session.finish(tag, Status::Ok, None, "EXPUNGE completed").await,
        Err(error) => session.store_failed(tag, error, false).await,
    }
}
