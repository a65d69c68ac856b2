//! `roost public` on the server's side: the household's mailboxes
//! (`Family/NAME`, owned by `PUBLIC_OWNER`) created with their ACL,
//! listed and deleted by the administrator, who acts with no rights check.
//!
//! Request words: `public-create NAME [WHO:RIGHTS ...]`, `public-del
//! NAME`, `public-list`. NAME is base64 (a name may hold spaces), without
//! the `Family/` prefix. A new mailbox's ACL is the running server's
//! `[acl] public_default_rights`, each WHO:RIGHTS given replacing (or
//! adding) WHO's entry; `WHO:` with no rights drops it. Nobody is
//! subscribed: clients that show only subscribed folders need the user to
//! subscribe (the CLI says so).

use super::share::{entries_text, failed};
use crate::config::{parse_grants, Grant};
use crate::imap::namespace;
use crate::mail::rights::Subject;
use crate::server::Server;
use crate::store::{AclEntry, Identifier, Op, Reader, Rights, PUBLIC_OWNER};

/// The public mailbox name a request word holds (base64 of UTF-8), made
/// canonical as IMAP names are.
fn name_of(word: &str) -> Result<String, String> {
    let name = crate::util::base64::decode_unpadded(word.as_bytes())
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or("bad mailbox name encoding")?;
    crate::imap::mailbox_name::decode_for(name.as_bytes(), true)
}

/// The store's entries for `grants`: one per identifier, its positive
/// and negative rights together; users must exist.
fn entries_of(reader: &Reader, grants: &[Grant]) -> Result<Vec<AclEntry>, String> {
    let mut entries: Vec<AclEntry> = Vec::new();
    for grant in grants {
        let identifier = match &grant.who.subject {
            Subject::Anyone => Identifier::Anyone,
            Subject::Authenticated => Identifier::Authenticated,
            Subject::User(name) => {
                Identifier::User(reader.user(name).map_err(failed)?.ok_or_else(|| format!("no user {name:?}"))?.id)
            }
        };
        let at = if let Some(at) = entries.iter().position(|entry| entry.identifier == identifier) {
            at
        } else {
            entries.push(AclEntry { identifier, granted: Rights::NONE, denied: Rights::NONE });
            entries.len() - 1
        };
        let entry = &mut entries[at];
        if grant.who.negative {
            entry.denied = grant.rights;
        } else {
            entry.granted = grant.rights;
        }
    }
    entries.retain(|entry| !entry.granted.is_empty() || !entry.denied.is_empty());
    Ok(entries)
}

/// `public-create`: the mailbox and its ACL in one transaction, durable
/// before the answer.
pub async fn create(server: &Server, name: &str, overrides: &[&str]) -> Result<String, String> {
    let name = name_of(name)?;
    let mut grants = server.config.public_default_rights.clone();
    for grant in parse_grants(&overrides.join(" "))? {
        grants.retain(|earlier| earlier.who != grant.who);
        grants.push(grant);
    }
    let entries = {
        let reader = server.store.read().map_err(failed)?;
        entries_of(&reader, &grants)?
    };
    let shown = format!("{}/{name}", namespace::PUBLIC);
    let id =
        server.store.create_public_mailbox(name, None, entries).await.map_err(|error| format!("{shown}: {error}"))?;
    // The ACL as stored (users, then authenticated, then anyone).
    let reader = server.store.read().map_err(failed)?;
    let names = namespace::user_names(&reader).map_err(failed)?;
    let acl = reader.acl(id).map_err(failed)?.map(|acl| entries_text(&names, &acl.entries)).unwrap_or_default();
    log::info!("public mailbox {shown} created: {acl}");
    Ok(format!(
        "created {shown}: {acl}\nnobody is subscribed to it: clients that show only subscribed folders list it once the user subscribes"
    ))
}

/// `public-del`: the mailbox, its messages and its ACL.
pub async fn delete(server: &Server, name: &str) -> Result<String, String> {
    let name = name_of(name)?;
    let shown = format!("{}/{name}", namespace::PUBLIC);
    let op = Op::DeleteMailbox { user: PUBLIC_OWNER, name };
    server.store.execute(op).await.map_err(|error| format!("{shown}: {error}"))?;
    log::info!("public mailbox {shown} deleted");
    Ok(format!("deleted {shown}"))
}

/// `public-list`: each public mailbox with its ACL.
pub fn list(server: &Server) -> Result<String, String> {
    let reader = server.store.read().map_err(failed)?;
    let names = namespace::user_names(&reader).map_err(failed)?;
    let mut lines = Vec::new();
    for (name, id) in reader.mailboxes(PUBLIC_OWNER).map_err(failed)? {
        let Some(acl) = reader.acl(id).map_err(failed)? else { continue };
        lines.push(format!("{}/{name}: {}", namespace::PUBLIC, entries_text(&names, &acl.entries)));
    }
    if lines.is_empty() {
        return Ok("no public mailboxes".into());
    }
    Ok(lines.join("\n"))
}
