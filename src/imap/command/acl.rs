//! SETACL, DELETEACL, GETACL, LISTRIGHTS and MYRIGHTS (RFC 4314 §3).
//!
//! Each reads like the other commands: the mailbox argument resolved
//! through the namespaces (`imap::namespace::lookup`, Rule V: a mailbox
//! the user may not see answers exactly as a name never created, RFC
//! 4314 §6), the right the command needs checked (§4: `a` for the first
//! four, any of `l r i k x a` for MYRIGHTS, which Rule V already is),
//! one store operation, the response (`imap::acl_line`), the tagged reply.
//!
//! Checks come in an order that leaks nothing: the arguments' syntax
//! (BAD, the same whatever the mailbox), then the mailbox (missing and
//! hidden alike), then `a` (`NO [NOPERM]`), and only then whether a named
//! user exists, so that a user without `a` cannot probe for user names.
//!
//! # Decisions (issue 15)
//!
//! - Rights combine as the store combines them: the union of the user's,
//!   `authenticated`'s and `anyone`'s entries, less the negative entries
//!   of the same three (`Reader::rights_of`).
//! - Negative identifiers (`-tom`) are accepted (RFC 4314 §2 allows them
//!   and the store keeps them): `SETACL Family/News -tom r` lets every
//!   child but tom read. GETACL shows them as entries of their own after
//!   the positive one; DELETEACL `-tom` removes only the negative one.
//! - A user name is normalized as LOGIN normalizes it (lower case); one
//!   that LOGIN could never accept is BAD (RFC 4314 §3: identifiers that
//!   fail preparation MUST be refused with BAD). A valid name that is not
//!   a user is `NO [NONEXISTENT] No such user`: RFC 5530's code for
//!   "something that does not exist", and nothing is stored for a name
//!   that a user created later would inherit.
//! - The owner holds every right on their own mailboxes, always, and has
//!   no stored entry (`StoreError::OwnerRights`). A change naming the
//!   owner that leaves them every right (`+...`, a replacement with every
//!   right, DELETEACL) is answered OK and changes nothing: that is what a
//!   client that saves a whole ACL back (Thunderbird's Sharing tab) sends.
//!   A change that would take a right away is `NO [CANNOT]`: answering OK
//!   would claim a change that did not happen. GETACL lists the owner
//!   first with every right; LISTRIGHTS for the owner lists every right as
//!   required, so it never offers what SETACL would refuse.
//! - `anyone` and `authenticated` may not be granted `a`
//!   (`mail::rights::grantable`): `NO [CANNOT]`, and LISTRIGHTS does not
//!   offer it.
//! - No side effects on other entries, so no unsolicited ACL responses
//!   (§5.1.1). A change is durable before its OK (`Store::set_rights`
//!   awaits the commit); sessions using the mailbox see it at once.

use std::io;

use crate::imap::acl_line;
use crate::imap::code::{describe, Code};
use crate::imap::namespace::{self, Access, Lookup};
use crate::imap::session::mailbox_arg::{name_or_no, Role};
use crate::imap::session::{Replied, Session, Status};
use crate::mail::rights::{grantable, Grantable, Identifier as Named, Rights, RightsChange as Modifier, Subject};
use crate::store::{Identifier, RightsChange, StoreError, PUBLIC_OWNER};

/// RFC 4314 §6, Rule N: the mailbox is visible, the `a` right is missing.
const NO_ADMIN: &str = "You may not administer this mailbox (no \"a\" right)";
/// The owner's rights cannot be lowered (see the module docs).
const OWNER_KEEPS_ALL: &str = "The owner of a mailbox always has every right on it";

/// SETACL (RFC 4314 §3.1).
pub async fn set(
    session: &mut Session,
    tag: &str,
    user: u32,
    raw: &[u8],
    who: Named,
    change: Modifier,
) -> io::Result<()> {
    let Ok(who) = prepared(session, tag, who) else { return Ok(()) };
    let Ok((_, access)) = administered(session, tag, user, raw) else { return Ok(()) };
    let Ok(target) = stored_identifier(session, tag, &who, access.owner) else { return Ok(()) };
    let Some(identifier) = target else {
        // The owner: every right, always; "-owner" can take none away.
        let keeps_all = match (who.negative, change) {
            (false, Modifier::Add(_)) | (true, Modifier::Remove(_)) => true,
            (false, Modifier::Replace(rights)) => rights == Rights::ALL,
            (false, Modifier::Remove(rights)) | (true, Modifier::Replace(rights) | Modifier::Add(rights)) => {
                rights.is_empty()
            }
        };
        return if keeps_all {
            session.finish(tag, Status::Ok, None, "SETACL completed (the owner keeps every right)").await
        } else {
            session.finish(tag, Status::No, Some(Code::Cannot), OWNER_KEEPS_ALL).await
        };
    };
    let asked = match change {
        Modifier::Replace(rights) | Modifier::Add(rights) => rights,
        // Taking away is always allowed.
        Modifier::Remove(_) => Rights::NONE,
    };
    if let Err(refused) = grantable(&who, false).admit(asked) {
        let text = format!("The \"{refused}\" right cannot be granted to {who}");
        return session.finish(tag, Status::No, Some(Code::Cannot), &text).await;
    }
    let change = RightsChange { identifier, negative: who.negative, modifier: change };
    match session.server.store.set_rights(access.id, change).await {
        Ok(_) => session.finish(tag, Status::Ok, None, "SETACL completed").await,
        Err(error) => refused(session, tag, error).await,
    }
}

/// DELETEACL (RFC 4314 §3.2). An identifier without an entry is no error.
pub async fn delete(session: &mut Session, tag: &str, user: u32, raw: &[u8], who: Named) -> io::Result<()> {
    let Ok(who) = prepared(session, tag, who) else { return Ok(()) };
    let Ok((_, access)) = administered(session, tag, user, raw) else { return Ok(()) };
    let Ok(target) = stored_identifier(session, tag, &who, access.owner) else { return Ok(()) };
    let Some(identifier) = target else {
        // The owner has no stored entry; their implied one stays.
        return session.finish(tag, Status::Ok, None, "DELETEACL completed (the owner keeps every right)").await;
    };
    match session.server.store.set_rights(access.id, RightsChange::delete(identifier, who.negative)).await {
        Ok(_) => session.finish(tag, Status::Ok, None, "DELETEACL completed").await,
        Err(error) => refused(session, tag, error).await,
    }
}

/// GETACL (RFC 4314 §3.3): the owner's implied entry first, then each
/// stored one (users, `authenticated`, `anyone`), a negative one after
/// its positive one.
pub async fn get(session: &mut Session, tag: &str, user: u32, raw: &[u8]) -> io::Result<()> {
    let Ok((name, access)) = administered(session, tag, user, raw) else { return Ok(()) };
    let read = session.server.store.read().and_then(|reader| {
        let acl = reader.acl(access.id)?.ok_or(StoreError::NoSuchMailbox)?;
        Ok((acl, namespace::user_names(&reader)?))
    });
    let (acl, names) = match read {
        Ok(found) => found,
        Err(error) => return refused(session, tag, error).await,
    };
    let user_name = |id: u32| namespace::name_of(&names, id).map(str::to_string);
    let mut entries = Vec::with_capacity(acl.entries.len() + 1);
    if acl.owner != PUBLIC_OWNER {
        if let Some(owner) = user_name(acl.owner) {
            entries.push((Named { negative: false, subject: Subject::User(owner) }, Rights::ALL));
        }
    }
    for entry in &acl.entries {
        let subject = match entry.identifier {
            Identifier::Anyone => Subject::Anyone,
            Identifier::Authenticated => Subject::Authenticated,
            // A user deleted meanwhile: their entries went with them.
            Identifier::User(id) => match user_name(id) {
                Some(name) => Subject::User(name),
                None => continue,
            },
        };
        if !entry.granted.is_empty() {
            entries.push((Named { negative: false, subject: subject.clone() }, entry.granted));
        }
        if !entry.denied.is_empty() {
            entries.push((Named { negative: true, subject }, entry.denied));
        }
    }
    let utf8 = session.utf8_names();
    acl_line::acl(session.conn.out(), &name, utf8, &entries);
    session.finish(tag, Status::Ok, None, "GETACL completed").await
}

/// LISTRIGHTS (RFC 4314 §3.4): the identifier echoed as sent.
pub async fn list(session: &mut Session, tag: &str, user: u32, raw: &[u8], who: Named) -> io::Result<()> {
    let Ok(prepared_who) = prepared(session, tag, who.clone()) else { return Ok(()) };
    let Ok((name, access)) = administered(session, tag, user, raw) else { return Ok(()) };
    let Ok(target) = stored_identifier(session, tag, &prepared_who, access.owner) else { return Ok(()) };
    let offer = match target {
        // The owner always holds every right (module docs).
        None => Grantable { required: Rights::ALL, optional: Rights::NONE },
        Some(_) => grantable(&prepared_who, false),
    };
    let utf8 = session.utf8_names();
    acl_line::list_rights(session.conn.out(), &name, utf8, &who, offer);
    session.finish(tag, Status::Ok, None, "LISTRIGHTS completed").await
}

/// MYRIGHTS (RFC 4314 §3.5): any of `l r i k x a`, which is exactly what
/// makes the mailbox visible, so a found mailbox always answers.
pub async fn mine(session: &mut Session, tag: &str, user: u32, raw: &[u8]) -> io::Result<()> {
    let Ok((name, access)) = visible(session, tag, user, raw) else { return Ok(()) };
    let utf8 = session.utf8_names();
    acl_line::my_rights(session.conn.out(), &name, utf8, access.rights);
    session.finish(tag, Status::Ok, None, "MYRIGHTS completed").await
}

/// The identifier with its user name normalized as LOGIN normalizes it;
/// a name no user can have is BAD (RFC 4314 §3).
fn prepared(session: &mut Session, tag: &str, who: Named) -> Result<Named, Replied> {
    let Subject::User(name) = &who.subject else { return Ok(who) };
    match crate::auth::normalize_user_name(name) {
        Ok(normalized) => Ok(Named { negative: who.negative, subject: Subject::User(normalized) }),
        Err(text) => Err(session.tagged(tag, Status::Bad, None, &format!("{name:?} is not a user name: {text}"))),
    }
}

/// The mailbox `raw` names, if `user` can see it (Rule V); otherwise the
/// command is answered as for a name never created.
fn visible(session: &mut Session, tag: &str, user: u32, raw: &[u8]) -> Result<(String, Access), Replied> {
    let name = name_or_no(session, tag, raw, Role::Existing)?;
    let found = session.server.store.read().and_then(|reader| namespace::lookup(&reader, user, &name));
    match found {
        Ok(Lookup::Found(access)) => Ok((name, access)),
        // A level is no mailbox; answered as SELECT answers it.
        Ok(Lookup::Missing | Lookup::Level) => Err(no(session, tag, &StoreError::NoSuchMailbox)),
        Err(error) => Err(no(session, tag, &error)),
    }
}

/// [`visible`], and the `a` right held there (RFC 4314 §4).
fn administered(session: &mut Session, tag: &str, user: u32, raw: &[u8]) -> Result<(String, Access), Replied> {
    let (name, access) = visible(session, tag, user, raw)?;
    if !access.rights.contains(Rights::ADMIN) {
        return Err(session.tagged(tag, Status::No, Some(Code::NoPerm), NO_ADMIN));
    }
    Ok((name, access))
}

/// The store's identifier for `who` on a mailbox owned by `owner`: None
/// for the owner themselves; a user name that names no user is answered
/// `NO [NONEXISTENT]`.
fn stored_identifier(session: &mut Session, tag: &str, who: &Named, owner: u32) -> Result<Option<Identifier>, Replied> {
    let name = match &who.subject {
        Subject::Anyone => return Ok(Some(Identifier::Anyone)),
        Subject::Authenticated => return Ok(Some(Identifier::Authenticated)),
        Subject::User(name) => name,
    };
    match session.server.store.read().and_then(|reader| reader.user(name)) {
        Ok(Some(record)) if record.id == owner => Ok(None),
        Ok(Some(record)) => Ok(Some(Identifier::User(record.id))),
        Ok(None) => Err(session.tagged(tag, Status::No, Some(Code::NonExistent), "No such user")),
        Err(error) => Err(no(session, tag, &error)),
    }
}

/// A store error as a tagged NO, now (no sync: the helpers above answer
/// before anything changed).
fn no(session: &mut Session, tag: &str, error: &StoreError) -> Replied {
    let (code, text) = describe(error, false);
    session.tagged(tag, Status::No, Some(code), &text)
}

/// A store operation's refusal, after the session's sync.
async fn refused(session: &mut Session, tag: &str, error: StoreError) -> io::Result<()> {
    match error {
        // The user was deleted between the check and the change.
        StoreError::NoSuchUser => session.finish(tag, Status::No, Some(Code::NonExistent), "No such user").await,
        StoreError::OwnerRights => session.finish(tag, Status::No, Some(Code::Cannot), OWNER_KEEPS_ALL).await,
        error => session.store_failed(tag, error, false).await,
    }
}
