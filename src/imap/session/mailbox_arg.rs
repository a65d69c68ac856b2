//! A mailbox argument decoded as the session speaks (modified UTF-7, or
//! UTF-8 once enabled), or the command answered NO: shared by every
//! command that names a mailbox (CREATE, DELETE, RENAME, SUBSCRIBE,
//! SELECT, STATUS, COPY, MOVE), like [`Selected::resolve_or_bad`](crate::imap::session::Selected::resolve_or_bad) for
//! sets. It may use the session, `imap::mailbox_name` and `imap::code`.
//!
//! Every command that names a mailbox resolves the name here, through
//! `imap::namespace` ([`access`]): personal, `Shared/<owner>/...` or
//! `Family/...`, with the rights the command needs checked in the same
//! step, so no command can forget Rule V (a hidden mailbox answers as a
//! missing one, byte for byte) or answer NOPERM for one it should hide.

use crate::imap::code::{describe, Code};
use crate::imap::mailbox_name;
use crate::imap::namespace::{self, Access, Lookup, Place};
use crate::imap::session::{Replied, Session, Status};
use crate::mail::rights::Rights;
use crate::store::StoreError;

/// What a mailbox argument names: a mailbox that should exist, or one
/// about to be made.
#[derive(Clone, Copy)]
pub enum Role {
    Existing,
    New,
}

/// Decodes a mailbox argument, answering NO for one that is not a
/// mailbox name (not valid modified UTF-7, control characters, empty
/// levels, too long). Not BAD: the argument is a valid astring, and RFC
/// 3501 §7.1 keeps BAD for commands that are not understood. No mailbox
/// has such a name, so one that should exist is `[NONEXISTENT]` (RFC
/// 5530) and one to be made `[CANNOT]`, as Dovecot answers.
pub fn name_or_no(session: &mut Session, tag: &str, raw: &[u8], role: Role) -> Result<String, Replied> {
    match mailbox_name::decode_for(raw, session.utf8_names()) {
        Ok(name) => Ok(name),
        Err(text) => {
            let code = match role {
                Role::Existing => Code::NonExistent,
                Role::New => Code::Cannot,
            };
            Err(session.tagged(tag, Status::No, Some(code), &text))
        }
    }
}

/// What a command answers for a name that stands for no mailbox the user
/// can see (missing, hidden from them, or naming nothing).
#[derive(Clone, Copy)]
pub enum Missing {
    /// `[NONEXISTENT]`: SELECT, DELETE, RENAME's old name, ...
    NonExistent,
    /// `[TRYCREATE]` (RFC 3501 §6.3.11): the target of APPEND, COPY, MOVE.
    TryCreate,
}

/// Why a command may not use a mailbox: the code and text of its NO.
#[derive(Debug)]
pub struct Refused {
    pub code: Code,
    pub text: String,
}

/// The mailbox `name` (decoded) stands for, if the logged-in user may do
/// what `need` guards there: Rule V and Rule N (RFC 4314 §6, RFC 5530 §3)
/// in one place.
/// - a mailbox the user cannot see (none of `l r i k x a`), a missing one
///   and a name that names nothing get the same bytes, `missing`'s;
/// - a namespace level the user sees listed (`Shared/mom`) is `[CANNOT]`,
///   "not a mailbox";
/// - a visible mailbox without a right of `need` is `[NOPERM]`, naming it.
pub fn access(session: &Session, name: &str, need: Rights, missing: Missing) -> Result<Access, Refused> {
    let Some(user) = session.user().map(|user| user.id) else {
        return Err(Refused { code: Code::ServerBug, text: "Not logged in".into() });
    };
    let store = &session.server.store;
    let absent = || {
        let (code, text) = describe(&StoreError::NoSuchMailbox, matches!(missing, Missing::TryCreate));
        Refused { code, text }
    };
    match store.read().and_then(|reader| namespace::lookup(&reader, user, name)) {
        Ok(Lookup::Found(access)) if access.rights.contains(need) => Ok(access),
        Ok(Lookup::Found(_)) => Err(Refused { code: Code::NoPerm, text: refusal_text(need) }),
        Ok(Lookup::Missing) => Err(absent()),
        Ok(Lookup::Level) => Err(Refused { code: Code::Cannot, text: format!("{name} is not a mailbox") }),
        Err(error) => {
            let (code, text) = describe(&error, false);
            Err(Refused { code, text })
        }
    }
}

/// [`access`], answering the command's NO itself.
pub fn access_or_no(
    session: &mut Session,
    tag: &str,
    name: &str,
    need: Rights,
    missing: Missing,
) -> Result<Access, Replied> {
    access(session, name, need, missing).map_err(|refused| session.no(tag, refused))
}

/// The text of a `[NOPERM]` refusal, naming the right that is missing
/// (spec §1.6 Rule N).
pub fn refusal_text(need: Rights) -> String {
    let doing = match need {
        Rights::READ => "read this mailbox",
        Rights::INSERT => "add messages to this mailbox",
        Rights::DELETE_MAILBOX => "delete or rename this mailbox",
        Rights::CREATE_MAILBOXES => "create mailboxes here",
        Rights::EXPUNGE => "expunge in this mailbox",
        _ => "do this here",
    };
    format!("You may not {doing} (no \"{need}\" right)")
}

/// The name the owner's store keys a mailbox by: `name` without its
/// namespace's prefix (`Shared/mom/Bills` → `Bills`, `Family/News` →
/// `News`). Only for a name [`access`] found.
pub fn store_name(name: &str) -> &str {
    match namespace::place(name) {
        Place::Personal => name,
        Place::Shared => name.splitn(3, '/').nth(2).unwrap_or(""),
        Place::Public => name.split_once('/').map_or("", |(_, rest)| rest),
    }
}

impl Session {
    /// A tagged NO with `refused`'s code and text.
    pub fn no(&mut self, tag: &str, refused: Refused) -> Replied {
        self.tagged(tag, Status::No, Some(refused.code), &refused.text)
    }

    /// [`Session::no`] after telling the client what changed, as a failed
    /// store operation is answered ([`Session::failed`]).
    pub async fn no_after_sync(&mut self, tag: &str, refused: Refused) -> std::io::Result<Replied> {
        self.sync().await?;
        Ok(self.no(tag, refused))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_names_drop_the_namespace_prefix() {
        assert_eq!(store_name("Bills/2026"), "Bills/2026");
        assert_eq!(store_name("Shared/mom/Bills/2026"), "Bills/2026");
        assert_eq!(store_name("Family/News"), "News");
        assert_eq!(refusal_text(Rights::EXPUNGE), "You may not expunge in this mailbox (no \"e\" right)");
    }

    #[test]
    fn the_store_names_the_shared_root_as_the_namespaces_do() {
        // User deletion drops others' `Shared/<user>/...` subscriptions by it.
        assert_eq!(crate::store::SHARED_ROOT, namespace::SHARED);
    }
}
