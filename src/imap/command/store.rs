//! STORE and UID STORE (RFC 3501 §6.4.6), with CONDSTORE's UNCHANGEDSINCE
//! and MODSEQ (RFC 7162 §3.1.3).
//!
//! The change itself is one store operation. The answers (a FETCH per
//! message) are written like FETCH's ([`crate::imap::pace::Pace`]): read by UID from
//! a snapshot that is closed before each flush or yield, the next message
//! read from a new one; a message expunged meanwhile is left out. The
//! yields come from a time slice, not a count of messages.

use std::io;

use crate::imap::code::Code;
use crate::imap::encode;
use crate::imap::session::{Selected, Status};
use crate::imap::types::{Flag, StoreArguments};
use crate::imap::view::View;
use crate::mail::rights::Rights;
use crate::mail::{FlagAction, Flags};
use crate::store::{FlagChange, ReaderRights, Stored};

pub async fn run(mut session: Selected<'_>, tag: &str, arguments: StoreArguments) -> io::Result<()> {
    let StoreArguments { uid, set, action, silent, flags, unchanged_since } = arguments;
    let store = session.server.store.clone();
    if session.refuse_if_read_only(tag) {
        return Ok(());
    }
    let Ok(ranges) = session.resolve_or_bad(tag, &set, uid) else { return Ok(()) };
    if unchanged_since.is_some() {
        // RFC 7162 §3.1: a CONDSTORE enabling command.
        crate::imap::session::condstore::condstore(&mut session);
    }
    let condstore = session.condstore;
    let view = session.view_mut();
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
    let rights = view.access.rights;
    if let Err(missing) = permitted(rights, action, system, !keywords.is_empty()) {
        // RFC 4314 §4: STORE fails only when none of the flags named may
        // be changed; the others are left alone silently (below).
        let text = format!("You may not change these flags (no \"{missing}\" right)");
        session.tagged(tag, Status::No, Some(Code::NoPerm), &text);
        return Ok(());
    }
    if ranges.is_empty() {
        return session.finish(tag, Status::Ok, None, "STORE completed").await;
    }
    let targets = view.uid_set(&ranges);
    let change = FlagChange { action, flags: system, keywords, unchanged_since };
    let stored = match view.private_user() {
        // A reader: their \Seen is their own, the rest as their rights allow.
        Some(user) => {
            let rights = ReaderRights {
                user,
                // \Seen is theirs, not the record's (the owner's).
                flags: rights.settable_flags().difference(Flags::SEEN),
                keywords: rights.contains(Rights::STORE_OTHER),
                seen: rights.contains(Rights::STORE_SEEN),
            };
            // Boxed: the session's future would outgrow clippy's bound.
            Box::pin(store.set_flags_as(view.mailbox, targets.clone(), change, rights)).await
        }
        None => store.set_flags(view.mailbox, targets.clone(), change).await,
    };
    let (stored_modseq, modified) = match stored {
        Ok(Stored { modseq, modified, .. }) => {
            view.own_modseqs.push(modseq);
            (modseq, modified)
        }
        Err(error) => return session.store_failed(tag, error, false).await,
    };
    // The keyword list may have grown: FLAGS goes out before FETCHes use it.
    // (For UID STORE this may also report expunges, renumbering the view:
    // the answers below go by UID, not by the indexes resolved above.)
    let Ok(mut session) = session.sync().await? else { return Ok(()) };
    // RFC 7162 §3.1.3: with CONDSTORE enabled even .SILENT reports the new
    // modseq of each message this STORE changed.
    if !silent || condstore {
        let (view, conn) = session.view_and_conn();
        let mut pace = crate::imap::pace::Pace::new(&store);
        for &(low, high) in &targets.0 {
            for message_uid in low..=high {
                pace.pause(conn).await?;
                if modified.binary_search(&message_uid).is_ok() {
                    continue;
                }
                let Some(index) = view.index_of(message_uid) else { continue };
                let reader = view.private_user();
                let Ok(Some(message)) = pace.snapshot.message_as(view.mailbox, message_uid, high, reader) else {
                    continue;
                };
                // Changed since by another session with a keyword not
                // announced yet: the next sync reports it (View::knows_keywords).
                if !view.knows_keywords(&message) {
                    continue;
                }
                if silent {
                    if message.modseq == stored_modseq {
                        write_modseq(conn.out(), view, index, message_uid, message.modseq);
                    }
                } else {
                    // UID STORE answers carry the UID: clients match them by
                    // UID, not by sequence number (as Dovecot's cmd-store.c notes).
                    view.write_flags(conn.out(), index, message_uid, &message, uid, condstore);
                }
            }
        }
    }
    if modified.is_empty() {
        return session.finish(tag, Status::Ok, None, "STORE completed").await;
    }
    // RFC 7162 §3.1.3: the messages changed since UNCHANGEDSINCE, by
    // sequence number (UID for UID STORE); the rest was stored.
    let Ok(mut session) = session.sync().await? else { return Ok(()) };
    let view = session.view();
    let numbers: Vec<u32> = if uid {
        modified
    } else {
        modified.iter().filter_map(|&found| view.index_of(found)).map(|index| index as u32 + 1).collect()
    };
    if numbers.is_empty() {
        session.tagged(tag, Status::Ok, None, "STORE completed");
        return Ok(());
    }
    let mut code = b"MODIFIED ".to_vec();
    encode::uid_set(&mut code, &numbers);
    session.tagged(
        tag,
        Status::Ok,
        Some(Code::Data(String::from_utf8_lossy(&code).into_owned())),
        "Conditional STORE failed",
    );
    Ok(())
}

/// `* n FETCH (UID u MODSEQ (m))`: a .SILENT STORE's answer under
/// CONDSTORE; `* u UIDFETCH (MODSEQ (m))` under UIDONLY.
fn write_modseq(out: &mut Vec<u8>, view: &View, index: usize, uid: u32, modseq: u64) {
    view.fetch_start(out, index, uid);
    if !view.uid_only {
        out.extend_from_slice(b"UID ");
        encode::number(out, uid);
        out.push(b' ');
    }
    out.extend_from_slice(b"MODSEQ (");
    encode::number(out, modseq);
    out.extend_from_slice(b"))\r\n");
}

/// Whether a STORE of `flags` (and keywords, if `keywords`) may change
/// anything (RFC 4314 §4: it "SHOULD NOT fail if the user has rights to
/// modify at least one flag"); Err names a right that would allow it.
/// FLAGS with an empty list clears every flag: any of `s t w` will do.
fn permitted(rights: Rights, action: FlagAction, flags: Flags, keywords: bool) -> Result<(), char> {
    let needs = [
        (flags.contains(Flags::SEEN), Rights::STORE_SEEN, 's'),
        (flags.contains(Flags::DELETED), Rights::STORE_DELETED, 't'),
        (
            keywords || flags.difference(Flags::SEEN).difference(Flags::DELETED) != Flags::default(),
            Rights::STORE_OTHER,
            'w',
        ),
    ];
    let named: Vec<_> = needs.iter().filter(|(named, _, _)| *named).collect();
    if named.is_empty() {
        let any = needs.iter().any(|(_, right, _)| rights.contains(*right));
        return if action != FlagAction::Replace || any { Ok(()) } else { Err('w') };
    }
    match named.iter().find(|(_, right, _)| rights.contains(*right)) {
        Some(_) => Ok(()),
        None => Err(named[0].2),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_needs_one_right_for_a_named_flag() {
        let lrs = Rights::parse(b"lrs").unwrap();
        let lrw = Rights::parse(b"lrw").unwrap();
        let seen_flagged = Flags::SEEN.union(Flags::FLAGGED);
        assert_eq!(permitted(lrs, FlagAction::Add, seen_flagged, false), Ok(()));
        assert_eq!(permitted(lrs, FlagAction::Add, Flags::FLAGGED, false), Err('w'));
        assert_eq!(permitted(lrs, FlagAction::Add, Flags::default(), true), Err('w'));
        assert_eq!(permitted(lrw, FlagAction::Add, Flags::DELETED, false), Err('t'));
        assert_eq!(permitted(lrw, FlagAction::Remove, Flags::SEEN, false), Err('s'));
        assert_eq!(permitted(Rights::parse(b"lr").unwrap(), FlagAction::Replace, Flags::default(), false), Err('w'));
        assert_eq!(permitted(lrs, FlagAction::Replace, Flags::default(), false), Ok(()));
        assert_eq!(permitted(Rights::ALL, FlagAction::Replace, Flags::DRAFT, true), Ok(()));
    }
}
