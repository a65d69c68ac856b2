//! CREATE, DELETE, RENAME (RFC 3501 §6.3.3-6.3.5), SUBSCRIBE and UNSUBSCRIBE.
//!
//! Names resolve through `imap::namespace` (`session::mailbox_arg`), with
//! RFC 4314 §4's rights: DELETE `x`; RENAME `x` on the old name and `k`
//! on the new one's parent, within one owner's tree; CREATE `k` on the
//! nearest existing parent outside the personal namespace, the new
//! mailbox going into the parent's owner's tree with the parent's ACL.
//! SUBSCRIBE and UNSUBSCRIBE take any name and check nothing (§4: `l`
//! only where SUBSCRIBE checks that the mailbox exists; roost's does not).

use std::io;

use crate::imap::code::{describe, Code};
use crate::imap::namespace::{self, Name};
use crate::imap::session::mailbox_arg::{self, name_or_no, Missing, Refused, Role};
use crate::imap::session::{Replied, Session, Status};
use crate::mail::rights::Rights;
use crate::store::{Op, Reader, StoreError, INBOX};

pub async fn create(session: &mut Session, tag: &str, user: u32, raw: &[u8]) -> io::Result<()> {
    let Ok(name) = name_or_no(session, tag, raw, Role::New) else { return Ok(()) };
    if name == INBOX {
        return session.finish(tag, Status::No, Some(Code::AlreadyExists), "INBOX always exists").await;
    }
    let Ok((owner, name)) = new_place(session, tag, user, &name, None) else { return Ok(()) };
    // In the owner's tree (a child of a shared mailbox is the parent's
    // owner's), with the parent's ACL (RFC 4314 §4).
    match session.server.store.create_child(owner, name).await {
        Ok(mailbox) => {
            // RFC 8474 §4.1: CREATE's tagged OK names the new mailbox's id.
            let code = format!("MAILBOXID ({})", crate::imap::object_id::mailbox_id(mailbox));
            session.finish(tag, Status::Ok, Some(Code::Data(code)), "CREATE completed").await
        }
        Err(error) => session.store_failed(tag, error, false).await,
    }
}

pub async fn delete(session: &mut Session, tag: &str, _user: u32, raw: &[u8]) -> io::Result<()> {
    let Ok(name) = name_or_no(session, tag, raw, Role::Existing) else { return Ok(()) };
    // RFC 4314 §4: DELETE needs `x`.
    let access = match mailbox_arg::access(session, &name, Rights::DELETE, Missing::NonExistent) {
        Ok(access) => access,
        Err(refused) => return session.no_after_sync(tag, refused).await.map(drop),
    };
    let op = Op::DeleteMailbox { user: access.owner, name: mailbox_arg::store_name(&name).to_string() };
    match session.server.store.execute(op).await {
        Ok(()) => {
            // Deleting the selected mailbox closes it first, as Dovecot
            // does, instead of cutting this session off like the others.
            let selected = session.view().is_some_and(|view| view.mailbox == access.id);
            if selected {
                session.deselect();
            }
            session.finish(tag, Status::Ok, None, "DELETE completed").await
        }
        Err(error) => session.store_failed(tag, error, false).await,
    }
}

pub async fn rename(session: &mut Session, tag: &str, user: u32, from: &[u8], to: &[u8]) -> io::Result<()> {
    let Ok(from) = name_or_no(session, tag, from, Role::Existing) else { return Ok(()) };
    let Ok(to) = name_or_no(session, tag, to, Role::New) else { return Ok(()) };
    // RFC 4314 §4: `x` on the old name, `k` on the new one's parent; the
    // ACL stays with the mailbox (its id does not change).
    let access = match mailbox_arg::access(session, &from, Rights::DELETE, Missing::NonExistent) {
        Ok(access) => access,
        Err(refused) => return session.no_after_sync(tag, refused).await.map(drop),
    };
    let Ok((owner, to)) = new_place(session, tag, user, &to, Some(access.owner)) else { return Ok(()) };
    let op = Op::RenameMailbox { user: owner, from: mailbox_arg::store_name(&from).to_string(), to };
    match session.server.store.execute(op).await {
        Ok(()) => session.finish(tag, Status::Ok, None, "RENAME completed").await,
        Err(error) => session.store_failed(tag, error, false).await,
    }
}

/// Where a mailbox `name` would be made (CREATE, RENAME's new name), if
/// the user may make it: its owner and the owner's name for it. In the
/// personal namespace always; elsewhere with `k` on the nearest existing
/// parent (RFC 4314 §4), which must be visible: a hidden parent, an
/// unknown user and a namespace level all get the same `[CANNOT]` (Rule
/// V). `owner`: the owner it must have (RENAME stays within one).
fn new_place(
    session: &mut Session,
    tag: &str,
    user: u32,
    name: &str,
    owner: Option<u32>,
) -> Result<(u32, String), Replied> {
    let found = session.server.store.read().and_then(|reader| place(&reader, user, name, owner));
    match found {
        Ok(Ok(place)) => Ok(place),
        Ok(Err(refused)) => Err(session.no(tag, refused)),
        Err(error) => {
            let (code, text) = describe(&error, false);
            Err(session.tagged(tag, Status::No, Some(code), &text))
        }
    }
}

fn place(
    reader: &Reader,
    user: u32,
    name: &str,
    owner: Option<u32>,
) -> Result<Result<(u32, String), Refused>, StoreError> {
    let outside = || Refused {
        code: Code::Cannot,
        text: "Outside your own mailboxes, new mailboxes go only inside one you have the \"k\" right on".into(),
    };
    let Name::Mailbox { owner: found, name: inner } = namespace::parse(reader, user, name)? else {
        return Ok(Err(match owner {
            Some(_) => another_owner(),
            None => outside(),
        }));
    };
    if owner.is_some_and(|owner| owner != found) {
        return Ok(Err(another_owner()));
    }
    if found == user {
        return Ok(Ok((found, inner)));
    }
    // The nearest existing parent the user can see decides: a hidden one
    // is passed over as a missing one would be (Rule V; the property test
    // found `break` here answering CANNOT where a missing parent got
    // NOPERM).
    for (end, _) in inner.rmatch_indices('/') {
        let Some(parent) = reader.mailbox_id(found, &inner[..end])? else { continue };
        let rights = namespace::rights(reader, user, found, parent)?;
        if !rights.intersects(namespace::VISIBLE) {
            continue;
        }
        if !rights.contains(Rights::CREATE) {
            return Ok(Err(Refused { code: Code::NoPerm, text: mailbox_arg::refusal_text(Rights::CREATE) }));
        }
        return Ok(Ok((found, inner)));
    }
    Ok(Err(outside()))
}

/// RENAME between owners or namespaces (spec §1.7).
fn another_owner() -> Refused {
    Refused { code: Code::Cannot, text: "Cannot move a mailbox to another owner".into() }
}

pub async fn subscribe(session: &mut Session, tag: &str, user: u32, raw: &[u8], subscribed: bool) -> io::Result<()> {
    let role = if subscribed { Role::New } else { Role::Existing };
    let Ok(name) = name_or_no(session, tag, raw, role) else { return Ok(()) };
    let op = Op::Subscribe { user, name, subscribed };
    let done = if subscribed { "SUBSCRIBE completed" } else { "UNSUBSCRIBE completed" };
    match session.server.store.execute(op).await {
        Ok(()) => session.finish(tag, Status::Ok, None, done).await,
        Err(error) => session.store_failed(tag, error, false).await,
    }
}
