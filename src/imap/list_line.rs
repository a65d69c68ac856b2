//! The LIST response line of one mailbox, shared by LIST (`command::list`)
//! and by SELECT/EXAMINE, which send it in IMAP4rev2 (`command::select`):
//! its attributes (\HasChildren or \HasNoChildren, the special use) and
//! its name. It may use the session (for the store) and `imap::encode`,
//! never a command.

use std::collections::BTreeSet;

use crate::imap::encode;
use crate::imap::session::Session;
use crate::store::{StoreError, DELIMITER};

/// `* LIST (attributes) "/" name` for one existing mailbox: what SELECT
/// and EXAMINE send in IMAP4rev2 (RFC 9051 §6.3.2), with UTF-8 names.
pub fn mailbox_line(session: &Session, user: u32, name: &str) -> Result<Vec<u8>, StoreError> {
    let reader = session.server.store.read()?;
    let id = reader.mailbox_id(user, name)?.ok_or(StoreError::NoSuchMailbox)?;
    let record = reader.mailbox(id)?.ok_or(StoreError::NoSuchMailbox)?;
    let mailboxes = reader.mailboxes(user)?;
    let names: BTreeSet<&str> = mailboxes.iter().map(|(name, _)| name.as_str()).collect();
    let mut attributes = vec![if has_children(&names, name) { "\\HasChildren" } else { "\\HasNoChildren" }];
    if let Some(special_use) = record.special_use {
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
