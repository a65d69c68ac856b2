//! What `roost import` adds to the store: messages appended as APPEND
//! appends them, each with a digest that remembers it was imported, so
//! importing the same source again stores nothing twice.
//!
//! The digest is SHA-256 over the source's date for the message (`From `
//! line or `Date:` for mbox, the file's time for Maildir; nothing when the
//! source has none) and the message's bytes as stored (line ends CRLF):
//! the same mail with the same date from a Maildir and from an mbox export
//! of it is the same import. Rows live in [`IMPORTED`] per mailbox, are
//! written only here, and go when the mailbox goes.
//!
//! Decision: a message the user deleted after importing it stays deleted
//! when the same source is imported again (its row stays): a migration is
//! often run twice (a trial run, then the switch), and mail deleted in
//! between was deleted on purpose. Importing into another mailbox
//! (`--into`) brings it back.

use super::ops::{self, Tables};
use super::schema::IMPORTED;
use super::{Change, NewMessage, Reader, StoreError};

/// A message for [`super::Store::import`]: its blob written (pending),
/// and its digest (see the module docs).
#[derive(Clone, Debug)]
pub struct ImportMessage {
    pub message: NewMessage,
    pub digest: [u8; 32],
}

/// What became of one imported message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Imported {
    /// Added with this UID.
    Added(u32),
    /// An import added it before, with this UID (it may have been
    /// expunged since); its blob is discarded.
    Present(u32),
}

/// Applies one import batch: checks come first (in `ops::append`), so a
/// refusal writes nothing.
pub(super) fn apply(
    tables: &mut Tables,
    mailbox: u64,
    messages: &[ImportMessage],
    changes: &mut Vec<Change>,
) -> Result<Vec<Imported>, StoreError> {
    // Per message: Ok(uid) known from an earlier import, or Err(index)
    // among those added now (a second copy in one batch is the first).
    let mut outcomes: Vec<Result<u32, usize>> = Vec::with_capacity(messages.len());
    let mut adding: Vec<NewMessage> = Vec::new();
    let mut added_digests: Vec<&[u8; 32]> = Vec::new();
    let mut duplicates = Vec::new();
    for message in messages {
        if let Some(uid) = tables.imported.get((mailbox, &message.digest[..]))?.map(|uid| uid.value()) {
            outcomes.push(Ok(uid));
            duplicates.push(message.message.blob);
        } else if let Some(index) = added_digests.iter().position(|digest| **digest == message.digest) {
            outcomes.push(Err(index));
            duplicates.push(message.message.blob);
        } else {
            outcomes.push(Err(adding.len()));
            adding.push(message.message.clone());
            added_digests.push(&message.digest);
        }
    }
    let first_uid = if adding.is_empty() { 0 } else { ops::append(tables, mailbox, &adding, changes)?.first_uid };
    ops::discard_blobs(tables, &duplicates)?;
    for (index, digest) in added_digests.iter().enumerate() {
        tables.imported.insert((mailbox, &digest[..]), first_uid + index as u32)?;
    }
    let mut seen = vec![false; adding.len()];
    let answers = outcomes
        .into_iter()
        .map(|outcome| match outcome {
            Ok(uid) => Imported::Present(uid),
            Err(index) if !seen[index] => {
                seen[index] = true;
                Imported::Added(first_uid + index as u32)
            }
            Err(index) => Imported::Present(first_uid + index as u32),
        })
        .collect();
    Ok(answers)
}

/// Forgets the imports into `mailbox` (deleted).
pub(super) fn forget_mailbox(tables: &mut Tables, mailbox: u64) -> Result<(), StoreError> {
    tables.imported.retain_in((mailbox, &[][..])..=(mailbox, &[0xff; 33][..]), |_, _| false)?;
    Ok(())
}

impl Reader {
    /// The UID an import gave the message of `digest` in `mailbox`, if one did.
    pub fn imported(&self, mailbox: u64, digest: &[u8; 32]) -> Result<Option<u32>, StoreError> {
        let Some(table) = self.table_if_any(IMPORTED)? else { return Ok(None) };
        Ok(table.get((mailbox, &digest[..]))?.map(|uid| uid.value()))
    }
}
