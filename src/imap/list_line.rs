//! The LIST response line of one mailbox, shared by LIST (`command::list`)
//! and by SELECT/EXAMINE, which send it in IMAP4rev2 (`command::select`):
//! its attributes (\HasChildren or \HasNoChildren, the special use) and
//! its name. It may use the session (for the store) and `imap::encode`,
//! never a command.

use std::collections::BTreeSet;

use crate::imap::encode;
use crate::imap::session::Session;
use crate::imap::visible::Tree;
use crate::store::{StoreError, DELIMITER};

/// `* LIST (attributes) "/" name` for one existing mailbox: what SELECT
/// and EXAMINE send in IMAP4rev2 (RFC 9051 §6.3.2), with UTF-8 names.
/// `name` is the name the user sees; the attributes come from their tree
/// (`imap::visible`), so \HasChildren counts only children they may see,
/// and a mailbox outside their personal namespace has no special use.
pub fn mailbox_line(session: &Session, user: u32, name: &str) -> Result<Vec<u8>, StoreError> {
    let reader = session.server.store.read()?;
    let tree = Tree::read(&reader, user, false)?;
    let seen = tree.mailboxes.get(name).ok_or(StoreError::NoSuchMailbox)?;
    let special_use = match seen.shown {
        Some(shown) => shown.special_use,
        None => reader.mailbox(seen.id)?.ok_or(StoreError::NoSuchMailbox)?.special_use,
    };
    drop(reader);
    let names = tree.names();
    let mut attributes = vec![if has_children(&names, name) { "\\HasChildren" } else { "\\HasNoChildren" }];
    if let Some(special_use) = special_use {
        attributes.push(special_use.attribute());
    }
    let mut line = format!("* LIST ({}) \"{DELIMITER}\" ", attributes.join(" ")).into_bytes();
    encode::mailbox_utf8(&mut line, name);
    line.extend_from_slice(b"\r\n");
    Ok(line)
}

/// Whether any name in `names` lies below `name`.
pub fn has_children(names: &BTreeSet<&str>, name: &str) -> bool {
    let prefix = format!("{name}{DELIMITER}");
    names.range(prefix.as_str()..).next().is_some_and(|next| next.starts_with(&prefix))
}
