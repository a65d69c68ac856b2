//! `roost share` on the server's side: ACL entries set, removed and
//! listed by the administrator (RFC 4314's rights, the same store
//! operations SETACL and DELETEACL use). The administrator acts with no
//! rights check: they could read the database file anyway.
//!
//! Request words: `share-set OWNER MAILBOX IDENTIFIER RIGHTS`,
//! `share-del OWNER MAILBOX IDENTIFIER`, `share-list`. OWNER is a user
//! name, or `-` for the household's public mailboxes; MAILBOX is base64
//! (a name may hold spaces); RIGHTS is SETACL's argument (`lrs`, `+w`,
//! `-x`).

use crate::imap::namespace;
use crate::mail::rights::{Identifier as Named, RightsChange as Modifier, Subject};
use crate::server::Server;
use crate::store::{AclEntry, Identifier, Reader, RightsChange, StoreError, PUBLIC_OWNER};

/// The word for the public owner.
pub const PUBLIC: &str = "-";

pub fn failed(error: StoreError) -> String {
    error.to_string()
}

/// The mailbox id of `owner`'s `mailbox`, or why not.
fn mailbox_of(reader: &Reader, owner: &str, mailbox: &str) -> Result<(u64, u32), String> {
    let owner_id = if owner == PUBLIC {
        PUBLIC_OWNER
    } else {
        reader.user(owner).map_err(failed)?.ok_or_else(|| format!("no user {owner:?}"))?.id
    };
    let name = crate::util::base64::decode_unpadded(mailbox.as_bytes())
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or("bad mailbox name encoding")?;
    let id = reader.mailbox_id(owner_id, &name).map_err(failed)?.ok_or_else(|| {
        let whose = if owner == PUBLIC { "the household".to_string() } else { owner.to_string() };
        format!("{whose} has no mailbox {name:?}")
    })?;
    Ok((id, owner_id))
}

/// The stored identifier for `text` (`anyone`, `authenticated`, a user
/// name, each perhaps negative with a leading `-`).
fn identifier_of(reader: &Reader, text: &str) -> Result<(Identifier, bool), String> {
    let named = Named::parse(text.as_bytes()).map_err(|error| error.to_string())?;
    let identifier = match named.subject {
        Subject::Anyone => Identifier::Anyone,
        Subject::Authenticated => Identifier::Authenticated,
        Subject::User(name) => {
            let name = crate::auth::normalize_user_name(&name)?;
            Identifier::User(reader.user(&name).map_err(failed)?.ok_or_else(|| format!("no user {name:?}"))?.id)
        }
    };
    Ok((identifier, named.negative))
}

/// `share-set` and `share-del`: one entry changed, durably, before the
/// answer; sessions using the mailbox see the new rights at their next
/// command.
pub async fn change(
    server: &Server,
    owner: &str,
    mailbox: &str,
    identifier: &str,
    rights: Option<&str>,
) -> Result<String, String> {
    let (id, identifier, negative) = {
        let reader = server.store.read().map_err(failed)?;
        let (id, _) = mailbox_of(&reader, owner, mailbox)?;
        let (identifier, negative) = identifier_of(&reader, identifier)?;
        (id, identifier, negative)
    };
    let change = match rights {
        Some(text) => {
            let modifier = Modifier::parse(text.as_bytes()).map_err(|error| format!("{text:?}: {error}"))?;
            RightsChange { identifier, negative, modifier }
        }
        None => RightsChange::delete(identifier, negative),
    };
    let entry = server.store.set_rights(id, change).await.map_err(failed)?;
    let now = if negative { entry.denied } else { entry.granted };
    Ok(format!("now: {now}"))
}

/// An ACL's entries as the administrator reads them: `dad lrs, -tom r,
/// authenticated l` (`names` from `namespace::user_names`).
pub fn entries_text(names: &[(u32, String)], entries: &[AclEntry]) -> String {
    let mut texts = Vec::new();
    for entry in entries {
        let who = match entry.identifier {
            Identifier::Anyone => "anyone".to_string(),
            Identifier::Authenticated => "authenticated".to_string(),
            Identifier::User(user) => namespace::name_of(names, user).unwrap_or("?").to_string(),
        };
        if !entry.granted.is_empty() {
            texts.push(format!("{who} {}", entry.granted));
        }
        if !entry.denied.is_empty() {
            texts.push(format!("-{who} {}", entry.denied));
        }
    }
    if texts.is_empty() {
        return "nobody".into();
    }
    texts.join(", ")
}

/// `share-list`: every mailbox with an ACL, one line each, as the
/// administrator names it (`alice Bills`, `- Family/Bills` for public
/// ones), with its entries.
pub fn list(server: &Server) -> Result<String, String> {
    let reader = server.store.read().map_err(failed)?;
    let names = namespace::user_names(&reader).map_err(failed)?;
    let mut lines = Vec::new();
    for id in reader.mailboxes_with_acl().map_err(failed)? {
        let Some(acl) = reader.acl(id).map_err(failed)? else { continue };
        let Some(record) = reader.mailbox(id).map_err(failed)? else { continue };
        let place = if acl.owner == PUBLIC_OWNER {
            format!("{}/{}", namespace::PUBLIC, record.name)
        } else {
            format!("{} {}", namespace::name_of(&names, acl.owner).unwrap_or("?"), record.name)
        };
        lines.push(format!("{place}: {}", entries_text(&names, &acl.entries)));
    }
    if lines.is_empty() {
        return Ok("nothing is shared".into());
    }
    Ok(lines.join("\n"))
}
