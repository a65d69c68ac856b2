//! STORE and UID STORE (RFC 3501 §6.4.6).

use std::io;

use crate::imap::session::{Session, State, Status};
use crate::imap::types::{Flag, SequenceSet};
use crate::store::{FlagAction, Flags, Op};

pub async fn run(
    session: &mut Session,
    tag: &str,
    uid: bool,
    set: SequenceSet,
    action: FlagAction,
    silent: bool,
    flags: Vec<Flag>,
) -> io::Result<()> {
    let store = session.server.store.clone();
    if session.refuse_if_read_only(tag) {
        return Ok(());
    }
    let Some(ranges) = session.resolve_or_bad(tag, &set, uid) else { return Ok(()) };
    let State::Selected(_, view) = &mut session.state else { return Ok(()) };
    let mut system = Flags::default();
    let mut keywords = Vec::new();
    for flag in flags {
        match flag {
            Flag::System(flag) => system = system.union(flag),
            // RFC 3501 §2.3.2: \Recent cannot be set or cleared by a client.
            Flag::Recent => {}
            Flag::Keyword(keyword) => keywords.push(keyword),
        }
    }
    if ranges.is_empty() {
        return session.finish(tag, Status::Ok, None, "STORE completed").await;
    }
    let targets = view.uid_set(&ranges);
    let op = Op::Store { mailbox: view.mailbox, uids: targets.clone(), action, flags: system, keywords };
    match store.execute(op).await {
        Ok(crate::store::Outcome::Stored { modseq, .. }) => view.own_modseqs.push(modseq),
        Ok(_) => {}
        Err(error) => return session.store_failed(tag, error, false).await,
    }
    // The keyword list may have grown: FLAGS goes out before FETCHes use it.
    // (For UID STORE this may also report expunges, renumbering the view:
    // the answers below go by UID, not by the indexes resolved above.)
    session.sync().await?;
    if !silent {
        let State::Selected(_, view) = &session.state else { return Ok(()) };
        let reader = store.read();
        let messages = reader.as_ref().ok().and_then(|reader| reader.messages().ok());
        if let Some(messages) = messages {
            let uids = targets.0.iter().flat_map(|&(low, high)| low..=high);
            for message_uid in uids {
                let Some(index) = view.index_of(message_uid) else { continue };
                let Ok(Some(message)) = messages.get(view.mailbox, message_uid) else { continue };
                // UID STORE answers carry the UID: clients match them by
                // UID, not by sequence number (as Dovecot's cmd-store.c notes).
                view.write_flags(session.conn.out(), index, message_uid, &message, uid);
                session.conn.flush_if_full().await?;
            }
        }
    }
    session.finish(tag, Status::Ok, None, "STORE completed").await
}
