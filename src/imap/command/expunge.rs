//! EXPUNGE and UID EXPUNGE (RFC 3501 §6.4.3, RFC 4315 §2.1).
//!
//! One store operation; the EXPUNGE (or VANISHED) responses come from
//! `sync`, which yields on a time slice and holds no snapshot while it
//! writes (see `Session::sync_selected`).

use std::io;

use crate::imap::code::Code;
use crate::imap::session::mailbox_arg;
use crate::imap::session::{Selected, Status};
use crate::imap::types::SequenceSet;
use crate::mail::rights::Rights;
use crate::store::Expunged;

pub async fn run(mut session: Selected<'_>, tag: &str, uids: Option<SequenceSet>) -> io::Result<()> {
    if session.refuse_if_read_only(tag) {
        return Ok(());
    }
    // RFC 4314 §4: EXPUNGE needs `e`.
    if !session.view().access.rights.contains(Rights::EXPUNGE) {
        session.tagged(tag, Status::No, Some(Code::NoPerm), &mailbox_arg::refusal_text(Rights::EXPUNGE));
        return Ok(());
    }
    let uids = match uids {
        None => None,
        Some(set) => {
            let Ok(ranges) = session.resolve_or_bad(tag, &set, true) else { return Ok(()) };
            if ranges.is_empty() {
                return session.finish(tag, Status::Ok, None, "EXPUNGE completed").await;
            }
            Some(session.view().uid_set(&ranges))
        }
    };
    let mailbox = session.view().mailbox;
    match session.server.store.expunge(mailbox, uids).await {
        // The EXPUNGE responses come from the sync before the tagged reply.
        Ok(Expunged { .. }) => finish_removal(session, tag, "EXPUNGE completed").await,
        Err(error) => session.store_failed(tag, error, false).await,
    }
}

/// The tagged OK of a command that removed messages (EXPUNGE, MOVE), after
/// the sync that reports them. As Dovecot does, a QRESYNC client also gets
/// the mailbox's new HIGHESTMODSEQ: VANISHED carries none (RFC 7162 §3.2.10).
pub async fn finish_removal(session: Selected<'_>, tag: &str, text: &str) -> io::Result<()> {
    if !session.qresync {
        return session.finish(tag, Status::Ok, None, text).await;
    }
    let Ok(mut session) = session.sync().await? else { return Ok(()) };
    let modseq = session.view().highest_modseq();
    session.tagged(tag, Status::Ok, Some(Code::Data(format!("HIGHESTMODSEQ {modseq}"))), text);
    Ok(())
}
