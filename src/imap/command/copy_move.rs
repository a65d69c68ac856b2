//! COPY, MOVE and their UID forms (RFC 3501 §6.4.7, RFC 6851, with
//! COPYUID from RFC 4315).
//!
//! Rights (RFC 4314 §4, spec §1.7): `i` on the target (which resolves
//! through `imap::namespace`; a hidden one is `[TRYCREATE]` like a missing
//! one), and for MOVE `e` on the source, both checked before anything is
//! done. The copies keep only the flags the user may set in the target
//! (`Store::copy_keeping`); without `r` there, no COPYUID.
//!
//! One store operation; no snapshot is held while answering (the target's
//! id is read and the reader dropped first), and MOVE's expunges are
//! reported by `sync`, which paces itself (see `Session::sync_selected`).

use std::io;

use crate::imap::code::{describe, Code};
use crate::imap::encode;
use crate::imap::session::mailbox_arg::{self, name_or_no, Missing, Role};
use crate::imap::session::{Selected, Status};
use crate::imap::types::CopyArguments;
use crate::mail::rights::Rights;
use crate::store::{Copied, KeptFlags};

pub async fn run(mut session: Selected<'_>, tag: &str, arguments: CopyArguments) -> io::Result<()> {
    let CopyArguments { uid, set, mailbox: raw, remove } = arguments;
    let command = if remove { "MOVE" } else { "COPY" };
    let Ok(name) = name_or_no(&mut session, tag, &raw, Role::Existing) else { return Ok(()) };
    if remove && session.refuse_if_read_only(tag) {
        return Ok(());
    }
    // RFC 4314 §4 (spec §1.7): MOVE needs `e` on the source as well as
    // `i` on the target, both checked before anything is done. Not `t`:
    // the \Deleted step of a move is never seen (Dovecot checks the same two).
    if remove && !session.view().access.rights.contains(Rights::MOVE_SOURCE) {
        session.tagged(tag, Status::No, Some(Code::NoPerm), &mailbox_arg::refusal_text(Rights::MOVE_SOURCE));
        return Ok(());
    }
    let Ok(ranges) = session.resolve_or_bad(tag, &set, uid) else { return Ok(()) };
    let target = match mailbox_arg::access(&session, &name, Rights::APPEND, Missing::TryCreate) {
        Ok(target) => target,
        Err(refused) => {
            session.no_after_sync(tag, refused).await?;
            return Ok(());
        }
    };
    if ranges.is_empty() {
        return session.finish(tag, Status::Ok, None, &format!("{command} completed")).await;
    }
    let view = session.view();
    let store = session.server.store.clone();
    // RFC 4314 §4: the copies keep only the flags the user may set there.
    // The store drops the record's \Seen across owners itself (ops::copy).
    // The copier's own \Seen goes with the copies where `s` lets them keep
    // it (their private rows, or the record when the target is theirs).
    let copier = Some(session.user().id).filter(|_| target.rights.contains(Rights::KEEP_SEEN));
    let keep = KeptFlags {
        flags: target.rights.settable_flags(),
        keywords: target.rights.contains(Rights::STORE_OTHER),
        copier,
    };
    let copied = store.copy_keeping(view.mailbox, target.id, view.uid_set(&ranges), remove, keep).await;
    let target_rights = target.rights;
    let target = target.id;
    let (uid_validity, source, first_uid) = match copied {
        Ok(Copied { uid_validity, source, first_uid }) => {
            if !source.is_empty() {
                let last_uid = first_uid + source.len() as u32 - 1;
                crate::imap::session::notify::own_messages(&mut session, target, first_uid..=last_uid);
            }
            (uid_validity, source, first_uid)
        }
        Err(error) => {
            let (code, text) = describe(&error, true);
            return session.finish(tag, Status::No, Some(code), &text).await;
        }
    };
    // Spec §1.7: no COPYUID without `r` on the target (a drop box does
    // not learn the UIDs it cannot read).
    let code = if source.is_empty() || !target_rights.contains(Rights::READ) {
        None
    } else {
        let mut code = format!("COPYUID {uid_validity} ").into_bytes();
        encode::uid_set(&mut code, &source);
        code.push(b' ');
        let last_uid = first_uid + source.len() as u32 - 1;
        let destination: Vec<u32> = (first_uid..=last_uid).collect();
        encode::uid_set(&mut code, &destination);
        Some(String::from_utf8_lossy(&code).into_owned())
    };
    if remove {
        // RFC 6851 §4.3: COPYUID goes in an untagged OK before the EXPUNGEs.
        if let Some(code) = &code {
            session.conn.write(format!("* OK [{code}] Moved\r\n").as_bytes());
        }
        return super::expunge::finish_removal(session, tag, "MOVE completed").await;
    }
    session.finish(tag, Status::Ok, code.map(Code::Data), "COPY completed").await
}
