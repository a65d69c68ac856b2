//! Typed reads over one redb read transaction (a consistent snapshot).
//!
//! [`Reader`] is one snapshot, for work that does not wait on a client
//! while it reads. [`Snapshot`] is for work that writes to a socket as it
//! goes: it is closed before every wait and re-opened on demand, so a
//! client that stops reading never holds the database's old pages (see
//! its docs for why that matters with redb).

use std::sync::Arc;

use redb::{Database, ReadOnlyTable, ReadTransaction, ReadableDatabase, ReadableTable};

use super::rows::Opens;
use super::schema::{
    BanRecord, BlobRecord, DeviceRecord, LoginEntry, MailboxRecord, MessageRecord, PreviewRecord, UserRecord,
    UserSettings, ALERTS_SENT, BANS, BLOBS, BLOB_CHUNKS, CHANGES, CHUNK_SIZE, DEVICES, EXPUNGED, FLAG_INDEX,
    KNOWN_ADDRESSES, KNOWN_DEVICES, LOGIN_HISTORY, MAILBOXES, MAILBOX_INFO, MESSAGES, PENDING_BLOBS, PREVIEWS,
    SAVE_DATES, SUBSCRIPTIONS, SUMMARIES, USERS, USER_SETTINGS,
};
use super::StoreError;
use crate::mime::structure::{Structure, StructureParser};

/// What [`Reader::known_logins`] finds: (address or device name, unix time).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KnownLogins {
    pub addresses: Vec<(String, u64)>,
    pub devices: Vec<(String, u64)>,
}

pub struct Reader {
    transaction: ReadTransaction,
}

impl Reader {
    pub(super) fn new(transaction: ReadTransaction) -> Reader {
        Reader { transaction }
    }

    pub(super) fn table<D: Opens>(&self, definition: D) -> Result<D::Table, StoreError> {
        Ok(definition.open_read(&self.transaction)?)
    }

    /// [`Reader::table`], or None for a table the database does not have
    /// yet: one written by an older roost and not opened by this one's
    /// server since (`roost check` reads such a file without writing).
    pub(super) fn table_if_any<D: Opens>(&self, definition: D) -> Result<Option<D::Table>, StoreError> {
        match definition.open_read(&self.transaction) {
            Ok(table) => Ok(Some(table)),
            Err(redb::TableError::TableDoesNotExist(_)) => Ok(None),
            Err(error) => Err(error.into()),
        }
    }

    pub fn user(&self, name: &str) -> Result<Option<UserRecord>, StoreError> {
        match self.table(USERS)?.get(name)? {
            Some(bytes) => Ok(Some(UserRecord::decode(bytes.value())?)),
            None => Ok(None),
        }
    }

    /// The addresses (see [`KNOWN_ADDRESSES`]) and devices `user` logged in
    /// from lately, each with the unix time of its latest login.
    pub fn known_logins(&self, user: u32) -> Result<KnownLogins, StoreError> {
        let mut known = KnownLogins::default();
        for (definition, into) in [(KNOWN_ADDRESSES, &mut known.addresses), (KNOWN_DEVICES, &mut known.devices)] {
            for entry in self.table(definition)?.range((user, "")..(user + 1, ""))? {
                let (key, time) = entry?;
                into.push((key.value().1.to_string(), time.value()));
            }
        }
        Ok(known)
    }

    /// When an alert of `kind` was last sent to `user` (unix seconds).
    pub fn alert_sent(&self, user: u32, kind: u8) -> Result<Option<u64>, StoreError> {
        Ok(self.table(ALERTS_SENT)?.get((user, kind))?.map(|time| time.value()))
    }

    /// Every user, by name.
    pub fn users(&self) -> Result<Vec<(String, UserRecord)>, StoreError> {
        let mut users = Vec::new();
        for entry in self.table(USERS)?.iter()? {
            let (name, bytes) = entry?;
            users.push((name.value().to_string(), UserRecord::decode(bytes.value())?));
        }
        Ok(users)
    }

    /// Every ban kept (see `auth::ban`), by address.
    pub fn bans(&self) -> Result<Vec<(String, BanRecord)>, StoreError> {
        let mut bans = Vec::new();
        for entry in self.table(BANS)?.iter()? {
            let (address, bytes) = entry?;
            bans.push((address.value().to_string(), BanRecord::decode(bytes.value())?));
        }
        Ok(bans)
    }

    /// A user's device passwords, by name.
    pub fn devices(&self, user: u32) -> Result<Vec<(String, DeviceRecord)>, StoreError> {
        let mut devices = Vec::new();
        for entry in self.table(DEVICES)?.range((user, "")..(user + 1, ""))? {
            let (key, bytes) = entry?;
            devices.push((key.value().1.to_string(), DeviceRecord::decode(bytes.value())?));
        }
        Ok(devices)
    }

    pub fn user_settings(&self, user: u32) -> Result<UserSettings, StoreError> {
        match self.table(USER_SETTINGS)?.get(user)? {
            Some(bytes) => UserSettings::decode(bytes.value()),
            None => Ok(UserSettings::default()),
        }
    }

    /// A user's login history, newest first.
    pub fn login_history(&self, user: u32) -> Result<Vec<LoginEntry>, StoreError> {
        let mut entries = Vec::new();
        for entry in self.table(LOGIN_HISTORY)?.range((user, 0)..=(user, u64::MAX))?.rev() {
            entries.push(LoginEntry::decode(entry?.1.value())?);
        }
        Ok(entries)
    }

    pub fn mailbox_id(&self, user: u32, name: &str) -> Result<Option<u64>, StoreError> {
        Ok(self.table(MAILBOXES)?.get((user, name))?.map(|id| id.value()))
    }

    pub fn mailbox(&self, id: u64) -> Result<Option<MailboxRecord>, StoreError> {
        match self.table(MAILBOX_INFO)?.get(id)? {
            Some(bytes) => Ok(Some(MailboxRecord::decode(bytes.value())?)),
            None => Ok(None),
        }
    }

    /// A user's mailboxes, sorted by name.
    pub fn mailboxes(&self, user: u32) -> Result<Vec<(String, u64)>, StoreError> {
        let mut found = Vec::new();
        for entry in self.table(MAILBOXES)?.range((user, "")..(user + 1, ""))? {
            let (key, id) = entry?;
            found.push((key.value().1.to_string(), id.value()));
        }
        Ok(found)
    }

    /// Every mailbox of every user: (id, record).
    pub fn all_mailboxes(&self) -> Result<Vec<(u64, MailboxRecord)>, StoreError> {
        let mut found = Vec::new();
        for entry in self.table(MAILBOX_INFO)?.iter()? {
            let (id, bytes) = entry?;
            found.push((id.value(), MailboxRecord::decode(bytes.value())?));
        }
        Ok(found)
    }

    /// Names the user subscribed to, sorted.
    pub fn subscriptions(&self, user: u32) -> Result<Vec<String>, StoreError> {
        let mut found = Vec::new();
        for entry in self.table(SUBSCRIPTIONS)?.range((user, "")..(user + 1, ""))? {
            let (key, _) = entry?;
            found.push(key.value().1.to_string());
        }
        Ok(found)
    }

    pub fn messages(&self) -> Result<MessageTable, StoreError> {
        Ok(MessageTable { table: self.table(MESSAGES)? })
    }

    /// (modseq, uid) of messages changed after `modseq`, oldest first.
    pub fn changes_since(&self, mailbox: u64, modseq: u64) -> Result<Vec<(u64, u32)>, StoreError> {
        let mut found = Vec::new();
        let table = self.table(CHANGES)?;
        for entry in table.range((mailbox, modseq + 1, 0)..=(mailbox, u64::MAX, u32::MAX))? {
            let (key, _) = entry?;
            let (_, modseq, uid) = key.value();
            found.push((modseq, uid));
        }
        Ok(found)
    }

    /// Rows of the change index from `(modseq, uid)` on, in index order:
    /// (modseq, uid) of each message's latest change. Long walks read a
    /// batch, close their snapshot and go on from the key after the last.
    pub fn changes_from(
        &self,
        mailbox: u64,
        (modseq, uid): (u64, u32),
    ) -> Result<impl Iterator<Item = Result<(u64, u32), StoreError>>, StoreError> {
        let range = self.table(CHANGES)?.range((mailbox, modseq, uid)..=(mailbox, u64::MAX, u32::MAX))?;
        Ok(range.map(|entry| {
            let (_, modseq, uid) = entry?.0.value();
            Ok((modseq, uid))
        }))
    }

    /// Rows of the expunge history from `(modseq, uid)` on, like [`Reader::changes_from`].
    pub fn expunged_from(
        &self,
        mailbox: u64,
        (modseq, uid): (u64, u32),
    ) -> Result<impl Iterator<Item = Result<(u64, u32), StoreError>>, StoreError> {
        let range = self.table(EXPUNGED)?.range((mailbox, modseq, uid)..=(mailbox, u64::MAX, u32::MAX))?;
        Ok(range.map(|entry| {
            let (_, modseq, uid) = entry?.0.value();
            Ok((modseq, uid))
        }))
    }

    /// Rows of the change index for one mailbox (for the integrity check).
    pub fn change_index(&self, mailbox: u64) -> Result<Vec<(u64, u32)>, StoreError> {
        self.changes_since(mailbox, 0).map(|mut rows| {
            // changes_since starts above modseq 0; modseq 0 is never used.
            rows.sort_unstable();
            rows
        })
    }

    pub fn blob(&self, id: u64) -> Result<Option<BlobRecord>, StoreError> {
        match self.table(BLOBS)?.get(id)? {
            Some(bytes) => Ok(Some(BlobRecord::decode(bytes.value())?)),
            None => Ok(None),
        }
    }

    /// Every blob: (id, record).
    pub fn all_blobs(&self) -> Result<Vec<(u64, BlobRecord)>, StoreError> {
        let mut found = Vec::new();
        for entry in self.table(BLOBS)?.iter()? {
            let (id, bytes) = entry?;
            found.push((id.value(), BlobRecord::decode(bytes.value())?));
        }
        Ok(found)
    }

    /// UIDs in `low..=high` of `mailbox` meeting an indexed flag condition
    /// (see `schema::INDEXED_FLAGS`), ascending, read as they are needed.
    pub fn flag_index(
        &self,
        mailbox: u64,
        condition: u8,
        low: u32,
        high: u32,
    ) -> Result<impl Iterator<Item = Result<u32, StoreError>>, StoreError> {
        let range = self.table(FLAG_INDEX)?.range((mailbox, condition, low)..=(mailbox, condition, high))?;
        Ok(range.map(|entry| Ok(entry?.0.value().2)))
    }

    /// Header summaries of `mailbox`'s messages `low..=high`, in one scan.
    pub fn summaries(&self, mailbox: u64, low: u32, high: u32) -> Result<SummaryCursor, StoreError> {
        let range = self.table(SUMMARIES)?.range((mailbox, low)..=(mailbox, high))?;
        Ok(SummaryCursor { range, current: None })
    }

    /// Save dates (RFC 8514) of `mailbox`'s messages `low..=high`, in one scan.
    pub fn save_dates(&self, mailbox: u64, low: u32, high: u32) -> Result<SaveDateCursor, StoreError> {
        let range = self.table(SAVE_DATES)?.range((mailbox, low)..=(mailbox, high))?;
        Ok(SaveDateCursor { range, current: None })
    }

    /// UIDs of `mailbox` that have a save date row, ascending.
    pub fn save_date_uids(&self, mailbox: u64) -> Result<Vec<u32>, StoreError> {
        let mut uids = Vec::new();
        for entry in self.table(SAVE_DATES)?.range((mailbox, 0)..=(mailbox, u32::MAX))? {
            uids.push(entry?.0.value().1);
        }
        Ok(uids)
    }

    /// UIDs of `mailbox` that have a header summary row, ascending.
    pub fn summary_uids(&self, mailbox: u64) -> Result<Vec<u32>, StoreError> {
        let mut uids = Vec::new();
        for entry in self.table(SUMMARIES)?.range((mailbox, 0)..=(mailbox, u32::MAX))? {
            uids.push(entry?.0.value().1);
        }
        Ok(uids)
    }

    pub fn blobs(&self) -> Result<BlobTable, StoreError> {
        Ok(BlobTable { table: self.table(BLOBS)? })
    }

    pub fn chunks(&self) -> Result<ChunkReader, StoreError> {
        Ok(ChunkReader { table: self.table(BLOB_CHUNKS)? })
    }

    /// Blob ids that have chunks, with their chunk count and byte total.
    pub fn chunk_summary(&self) -> Result<Vec<(u64, u32, u64)>, StoreError> {
        let mut summary: Vec<(u64, u32, u64)> = Vec::new();
        for entry in self.table(BLOB_CHUNKS)?.iter()? {
            let (key, value) = entry?;
            let (blob, _) = key.value();
            let length = value.value().len() as u64;
            match summary.last_mut() {
                Some(last) if last.0 == blob => {
                    last.1 += 1;
                    last.2 += length;
                }
                _ => summary.push((blob, 1, length)),
            }
        }
        Ok(summary)
    }

    pub fn pending_blobs(&self) -> Result<u64, StoreError> {
        Ok(self.table(PENDING_BLOBS)?.len()?)
    }
}

/// The messages table, open for the length of one command.
pub struct MessageTable {
    table: ReadOnlyTable<(u64, u32), &'static [u8]>,
}

impl MessageTable {
    pub fn get(&self, mailbox: u64, uid: u32) -> Result<Option<MessageRecord>, StoreError> {
        match self.table.get((mailbox, uid))? {
            Some(bytes) => Ok(Some(MessageRecord::decode(bytes.value())?)),
            None => Ok(None),
        }
    }

    /// Messages with `low <= uid <= high`, ascending.
    pub fn range(
        &self,
        mailbox: u64,
        low: u32,
        high: u32,
    ) -> Result<impl Iterator<Item = Result<(u32, MessageRecord), StoreError>>, StoreError> {
        let range = self.table.range((mailbox, low)..=(mailbox, high))?;
        Ok(range.map(|entry| {
            let (key, value) = entry?;
            Ok((key.value().1, MessageRecord::decode(value.value())?))
        }))
    }

    /// Reads `mailbox`'s records with UIDs `low..=high` in one scan, for
    /// callers that visit UIDs in ascending order (see [`MessageCursor`]).
    pub fn cursor(&self, mailbox: u64, low: u32, high: u32) -> Result<MessageCursor, StoreError> {
        Ok(MessageCursor { range: self.table.range((mailbox, low)..=(mailbox, high))?, peeked: None })
    }

    /// Appends at most `limit` UIDs of `mailbox` from `start` on to `out`;
    /// returns where the next batch starts, None at the end.
    pub fn uids_from(
        &self,
        mailbox: u64,
        start: u32,
        limit: usize,
        out: &mut Vec<u32>,
    ) -> Result<Option<u32>, StoreError> {
        for (taken, entry) in self.table.range((mailbox, start)..=(mailbox, u32::MAX))?.enumerate() {
            let uid = entry?.0.value().1;
            if taken == limit {
                return Ok(Some(uid));
            }
            out.push(uid);
        }
        Ok(None)
    }

    /// Every UID in `mailbox`, ascending.
    pub fn uids(&self, mailbox: u64) -> Result<Vec<u32>, StoreError> {
        let mut uids = Vec::new();
        for entry in self.table.range((mailbox, 0)..=(mailbox, u32::MAX))? {
            let (key, _) = entry?;
            uids.push(key.value().1);
        }
        Ok(uids)
    }
}

/// Records of one mailbox in ascending UID order: a FETCH or SEARCH of many
/// messages reads each leaf page once instead of one B-tree descent per
/// message.
pub struct MessageCursor {
    range: redb::Range<'static, (u64, u32), &'static [u8]>,
    peeked: Option<(u32, MessageRecord)>,
}

impl MessageCursor {
    /// The record of `uid`, if it exists. UIDs must be asked for in
    /// ascending order; records skipped over are never returned.
    pub fn find(&mut self, uid: u32) -> Result<Option<MessageRecord>, StoreError> {
        loop {
            let (found, record) = match self.peeked.take() {
                Some(entry) => entry,
                None => match self.range.next() {
                    Some(entry) => {
                        let (key, value) = entry?;
                        (key.value().1, MessageRecord::decode(value.value())?)
                    }
                    None => return Ok(None),
                },
            };
            if found == uid {
                return Ok(Some(record));
            }
            if found > uid {
                self.peeked = Some((found, record));
                return Ok(None);
            }
        }
    }
}

/// Header summaries in ascending UID order, like [`MessageCursor`].
pub struct SummaryCursor {
    range: redb::Range<'static, (u64, u32), &'static [u8]>,
    current: Option<(u32, redb::AccessGuard<'static, &'static [u8]>)>,
}

impl SummaryCursor {
    /// The summary of `uid`, if it has one. UIDs must ascend.
    pub fn find(&mut self, uid: u32) -> Result<Option<&[u8]>, StoreError> {
        while self.current.as_ref().is_none_or(|(found, _)| *found < uid) {
            if let Some(entry) = self.range.next() {
                let (key, value) = entry?;
                self.current = Some((key.value().1, value));
            } else {
                self.current = None;
                return Ok(None);
            }
        }
        Ok(self.current.as_ref().filter(|(found, _)| *found == uid).map(|(_, value)| value.value()))
    }
}

/// Save dates in ascending UID order, like [`SummaryCursor`]: the same UID
/// may be asked again (SEARCH SAVEDSINCE x SAVEDBEFORE y asks twice).
pub struct SaveDateCursor {
    range: super::rows::Range<'static, (u64, u32), i64>,
    current: Option<(u32, i64)>,
}

impl SaveDateCursor {
    /// The save date (unix seconds) of `uid`, if it has one: a message
    /// stored by a roost from before save dates has none. UIDs must not
    /// go down.
    pub fn find(&mut self, uid: u32) -> Result<Option<i64>, StoreError> {
        while self.current.is_none_or(|(found, _)| found < uid) {
            if let Some(entry) = self.range.next() {
                let (key, value) = entry?;
                self.current = Some((key.value().1, value.value()));
            } else {
                self.current = None;
                return Ok(None);
            }
        }
        Ok(self.current.filter(|(found, _)| *found == uid).map(|(_, saved)| saved))
    }
}

/// The blob records, open for the length of one command.
pub struct BlobTable {
    table: ReadOnlyTable<u64, &'static [u8]>,
}

impl BlobTable {
    /// Blob records for a walk over many messages. Blob ids grow with UIDs
    /// (messages are numbered as they arrive), so the walk mostly reads the
    /// table forward, each leaf page once, even with a small page cache.
    pub fn cursor(&self) -> BlobCursor<'_> {
        BlobCursor { table: Held::Borrowed(self), walk: BlobWalk::default(), current: BlobRecord::default() }
    }

    /// A cursor that owns the table (kept in a [`Snapshot`]).
    fn into_cursor(self) -> BlobCursor<'static> {
        BlobCursor { table: Held::Owned(self), walk: BlobWalk::default(), current: BlobRecord::default() }
    }
}

/// A table a cursor borrows, or owns.
enum Held<'a, T> {
    Borrowed(&'a T),
    Owned(T),
}

impl<T> std::ops::Deref for Held<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        match self {
            Held::Borrowed(table) => table,
            Held::Owned(table) => table,
        }
    }
}

/// A forward walk over a table keyed by blob id (blob ids grow with UIDs,
/// so a scan in UID order reads each leaf page once instead of one B-tree
/// descent a message). Shared by [`BlobCursor`] and `PreviewCursor`.
#[derive(Default)]
struct BlobWalk {
    range: Option<redb::Range<'static, u64, &'static [u8]>>,
    /// The next row of the walk, not read yet.
    peeked: Option<(u64, redb::AccessGuard<'static, &'static [u8]>)>,
}

impl BlobWalk {
    /// The row of `key`: along the walk when it lies ahead, else (behind
    /// the walk: a copied message; or absent) looked up directly.
    fn find(
        &mut self,
        table: &ReadOnlyTable<u64, &'static [u8]>,
        key: u64,
    ) -> Result<Option<redb::AccessGuard<'static, &'static [u8]>>, StoreError> {
        if self.peeked.as_ref().is_some_and(|(id, _)| *id > key) {
            return Ok(table.get(key)?);
        }
        if self.range.is_none() {
            self.range = Some(table.range(key..)?);
        }
        loop {
            let (id, value) = match self.peeked.take() {
                Some(entry) => entry,
                None => {
                    if let Some(entry) = self.range.as_mut().and_then(Iterator::next) {
                        let (found, value) = entry?;
                        (found.value(), value)
                    } else {
                        self.range = None;
                        return Ok(table.get(key)?);
                    }
                }
            };
            if id == key {
                return Ok(Some(value));
            }
            if id > key {
                self.peeked = Some((id, value));
                return Ok(table.get(key)?);
            }
            // Far ahead of the walk: start a new one there instead of
            // reading every row in between.
            if key - id > 64 {
                self.range = Some(table.range(key..)?);
            }
        }
    }
}

pub struct BlobCursor<'a> {
    table: Held<'a, BlobTable>,
    walk: BlobWalk,
    /// The record last asked for; its buffers are reused.
    current: BlobRecord,
}

impl BlobCursor<'_> {
    /// The record of `blob`, decoded into a buffer the cursor reuses.
    pub fn get(&mut self, blob: u64) -> Result<&BlobRecord, StoreError> {
        match self.walk.find(&self.table.table, blob)? {
            Some(value) => BlobRecord::decode_into(value.value(), &mut self.current)?,
            None => return Err(StoreError::Corrupt(format!("a message refers to missing blob {blob}"))),
        }
        Ok(&self.current)
    }

    /// The record the last `get` returned.
    pub fn get_loaded(&self) -> Result<&BlobRecord, StoreError> {
        Ok(&self.current)
    }
}

/// The previews of a walk over many messages, read forward like
/// [`BlobCursor`]: a FETCH PREVIEW of 10,000 messages reads each leaf page
/// once instead of one B-tree descent each.
struct PreviewCursor {
    table: ReadOnlyTable<u64, &'static [u8]>,
    walk: BlobWalk,
}

impl PreviewCursor {
    /// The preview of `blob`; None when it has none.
    fn get(&mut self, blob: u64) -> Result<Option<String>, StoreError> {
        match self.walk.find(&self.table, blob)? {
            Some(value) => Ok(Some(PreviewRecord::decode(value.value())?.text)),
            None => Ok(None),
        }
    }
}

/// Reads byte ranges of stored messages, touching only the chunks that
/// hold them.
/// Bytes of a blob read at a time when streaming through it (searching,
/// decoding, re-parsing): large enough that the B-tree walk per piece is
/// cheap, small enough that a session never holds much of a message.
pub const PIECE: u64 = 64 * 1024;

pub struct ChunkReader {
    table: ReadOnlyTable<(u64, u32), &'static [u8]>,
}

impl ChunkReader {
    /// Appends bytes `start..end` of `blob` to `out`.
    /// Reads bytes `start..end` of a blob [`PIECE`] bytes at a time, handing
    /// each piece (and whether it is the last) to `visit`, which returns
    /// false to stop. Ok(false): `visit` stopped it. One piece is held at a
    /// time, whatever the blob's size.
    pub fn pieces(
        &self,
        blob: u64,
        start: u64,
        end: u64,
        mut visit: impl FnMut(&[u8], bool) -> bool,
    ) -> Result<bool, StoreError> {
        let mut piece = Vec::new();
        let mut position = start;
        while position < end {
            let until = (position + PIECE).min(end);
            piece.clear();
            self.read(blob, position, until, &mut piece)?;
            if !visit(&piece, until == end) {
                return Ok(false);
            }
            position = until;
        }
        Ok(true)
    }

    pub fn read(&self, blob: u64, start: u64, end: u64, out: &mut Vec<u8>) -> Result<(), StoreError> {
        if start >= end {
            return Ok(());
        }
        let chunk_size = CHUNK_SIZE as u64;
        let first = (start / chunk_size) as u32;
        let last = ((end - 1) / chunk_size) as u32;
        let mut expected = first;
        for entry in self.table.range((blob, first)..=(blob, last))? {
            let (key, value) = entry?;
            let index = key.value().1;
            if index != expected {
                return Err(StoreError::Corrupt(format!("blob {blob} is missing chunk {expected}")));
            }
            expected += 1;
            let bytes = value.value();
            let chunk_start = u64::from(index) * chunk_size;
            let from = start.saturating_sub(chunk_start).min(bytes.len() as u64) as usize;
            let to = (end - chunk_start).min(bytes.len() as u64) as usize;
            out.extend_from_slice(&bytes[from..to]);
        }
        if expected != last + 1 {
            return Err(StoreError::Corrupt(format!("blob {blob} is missing chunk {expected}")));
        }
        Ok(())
    }
}

/// The key after `(modseq, uid)` in a (modseq, uid) index, where a batched
/// walk goes on; None after the last possible key.
pub fn key_after((modseq, uid): (u64, u32)) -> Option<(u64, u32)> {
    match uid.checked_add(1) {
        Some(next) => Some((modseq, next)),
        None => modseq.checked_add(1).map(|next| (next, 0)),
    }
}

/// Fills `batch` (cleared first) with at most `limit` of `rows` of a
/// (modseq, uid) index; answers where the next batch starts, None once
/// this one reached the end.
fn fill_batch(
    rows: impl Iterator<Item = Result<(u64, u32), StoreError>>,
    limit: usize,
    batch: &mut Vec<(u64, u32)>,
) -> Result<Option<(u64, u32)>, StoreError> {
    batch.clear();
    for row in rows.take(limit) {
        batch.push(row?);
    }
    Ok(batch.last().copied().filter(|_| batch.len() == limit).and_then(key_after))
}

/// A read snapshot for work that writes to a socket as it goes (FETCH,
/// sync, STORE's answers, QRESYNC): opened on demand, closed by the caller
/// before every wait, and opened again — a newer snapshot — when the work
/// goes on.
///
/// redb reuses the pages a commit frees only once every snapshot older
/// than that commit has closed, so a snapshot held while a client does
/// not read (a flush that blocks) would make every later write grow the
/// file. Everything read through this type (tables, cursors, record
/// guards) lives inside it: [`Snapshot::close`] drops all of it, and the
/// borrow checker keeps callers from holding a borrowed record across it.
///
/// Between two snapshots the mailbox may change. Callers go by UID and
/// ask again: a message gone is absent from the next snapshot (the
/// caller handles it as an expunge), and message bytes never change
/// while a message exists, so a read that goes on in a new snapshot
/// continues the same bytes — or finds the blob freed ([`Snapshot::read`]).
pub struct Snapshot {
    db: Arc<Database>,
    open: Option<Open>,
    /// Times a snapshot was opened (a new one after each close).
    opened: u64,
}

struct Open {
    reader: Reader,
    messages: Option<MessageTable>,
    chunks: Option<ChunkReader>,
    blobs: Option<BlobCursor<'static>>,
    records: Option<Walk<MessageCursor>>,
    summaries: Option<Walk<SummaryCursor>>,
    save_dates: Option<Walk<SaveDateCursor>>,
    previews: Option<PreviewCursor>,
    private: Option<super::rows::ReadRows<(u64, u32, u32), u64>>,
    /// A reader's own rows (store::acl) scanned beside `records`, by user
    /// (boxed: a snapshot lives in the futures of most commands).
    private_rows: Option<Box<(u32, Walk<super::acl::PrivateCursor>)>>,
}

/// A scan of one mailbox's rows in ascending UID order, up to `until`.
struct Walk<C> {
    mailbox: u64,
    /// UIDs below this were asked for already (a cursor only goes forward).
    next: u32,
    until: u32,
    cursor: C,
}

impl<C> Walk<C> {
    fn serves(&self, mailbox: u64, uid: u32) -> bool {
        self.mailbox == mailbox && self.next <= uid && uid <= self.until
    }
}

impl Snapshot {
    pub(super) fn new(db: Arc<Database>) -> Snapshot {
        Snapshot { db, open: None, opened: 0 }
    }

    fn open(&mut self) -> Result<&mut Open, StoreError> {
        if self.open.is_none() {
            let reader = Reader::new(self.db.begin_read()?);
            self.open = Some(Open {
                reader,
                messages: None,
                chunks: None,
                blobs: None,
                records: None,
                summaries: None,
                save_dates: None,
                previews: None,
                private: None,
                private_rows: None,
            });
            self.opened += 1;
        }
        Ok(self.open.as_mut().expect("just opened"))
    }

    /// Drops the snapshot and everything read through it. Call before any
    /// wait: a flush, a yield.
    pub fn close(&mut self) {
        self.open = None;
    }

    /// How many snapshots were opened so far.
    #[cfg(test)]
    pub fn generation(&self) -> u64 {
        self.opened
    }

    /// The current snapshot's reader, for reads the helpers below do not
    /// cover. What it returns must be dropped before [`Snapshot::close`].
    pub fn reader(&mut self) -> Result<&Reader, StoreError> {
        Ok(&self.open()?.reader)
    }

    /// The record of `uid` in `mailbox`. Asked in ascending UID order up
    /// to `until`, the records are read in one scan (each leaf page once);
    /// any other order starts a new scan.
    pub fn message(&mut self, mailbox: u64, uid: u32, until: u32) -> Result<Option<MessageRecord>, StoreError> {
        let open = self.open()?;
        if !open.records.as_ref().is_some_and(|walk| walk.serves(mailbox, uid)) {
            if open.messages.is_none() {
                open.messages = Some(open.reader.messages()?);
            }
            let messages = open.messages.as_ref().expect("just opened");
            let until = until.max(uid);
            open.records = Some(Walk { mailbox, next: uid, until, cursor: messages.cursor(mailbox, uid, until)? });
        }
        let walk = open.records.as_mut().expect("just made");
        walk.next = uid.saturating_add(1);
        walk.cursor.find(uid)
    }

    /// The record of `uid` in `mailbox`, by one lookup.
    pub fn message_at(&mut self, mailbox: u64, uid: u32) -> Result<Option<MessageRecord>, StoreError> {
        let open = self.open()?;
        if open.messages.is_none() {
            open.messages = Some(open.reader.messages()?);
        }
        open.messages.as_ref().expect("just opened").get(mailbox, uid)
    }

    /// The record of `uid` in `mailbox` as `reader` sees it: with their
    /// own \Seen and modseq (`store::acl`) when they keep them apart from
    /// the record (None: the owner, who sees the record as it is). Read
    /// like [`Snapshot::message`], plus one lookup for the reader's state.
    pub fn message_as(
        &mut self,
        mailbox: u64,
        uid: u32,
        until: u32,
        reader: Option<u32>,
    ) -> Result<Option<MessageRecord>, StoreError> {
        let Some(record) = self.message(mailbox, uid, until)? else { return Ok(None) };
        let Some(user) = reader else { return Ok(Some(record)) };
        // The reader's rows in one scan too, as the records: a lookup per
        // message made a walk over a big mailbox about 2.6 times as slow.
        let open = self.open()?;
        if !open.private_rows.as_deref().is_some_and(|(walker, walk)| *walker == user && walk.serves(mailbox, uid)) {
            let until = until.max(uid);
            let cursor = open.reader.private_cursor(mailbox, user, uid, until)?;
            open.private_rows = Some(Box::new((user, Walk { mailbox, next: uid, until, cursor })));
        }
        let (_, walk) = &mut **open.private_rows.as_mut().expect("just made");
        walk.next = uid.saturating_add(1);
        Ok(Some(walk.cursor.find(uid)?.apply(record)))
    }

    /// [`Snapshot::message_at`] as `reader` sees it (see [`Snapshot::message_as`]).
    pub fn message_at_as(
        &mut self,
        mailbox: u64,
        uid: u32,
        reader: Option<u32>,
    ) -> Result<Option<MessageRecord>, StoreError> {
        let Some(record) = self.message_at(mailbox, uid)? else { return Ok(None) };
        self.personal(mailbox, uid, record, reader).map(Some)
    }

    fn personal(
        &mut self,
        mailbox: u64,
        uid: u32,
        record: MessageRecord,
        reader: Option<u32>,
    ) -> Result<MessageRecord, StoreError> {
        let Some(user) = reader else { return Ok(record) };
        let open = self.open()?;
        if open.private.is_none() {
            open.private = Some(open.reader.table(super::schema::PRIVATE_FLAGS)?);
        }
        let table = open.private.as_ref().expect("just opened");
        let value = table.get((mailbox, user, uid))?.map(|value| value.value());
        Ok(super::acl::PrivateFlags::decode(value).apply(record))
    }

    /// The header summary of `uid`, scanned like [`Snapshot::message`].
    pub fn summary(&mut self, mailbox: u64, uid: u32, until: u32) -> Result<Option<&[u8]>, StoreError> {
        let open = self.open()?;
        if !open.summaries.as_ref().is_some_and(|walk| walk.serves(mailbox, uid)) {
            let until = until.max(uid);
            let cursor = open.reader.summaries(mailbox, uid, until)?;
            open.summaries = Some(Walk { mailbox, next: uid, until, cursor });
        }
        let walk = open.summaries.as_mut().expect("just made");
        walk.next = uid.saturating_add(1);
        walk.cursor.find(uid)
    }

    /// The save date of `uid` (RFC 8514), scanned like [`Snapshot::message`].
    pub fn save_date(&mut self, mailbox: u64, uid: u32, until: u32) -> Result<Option<i64>, StoreError> {
        let open = self.open()?;
        if !open.save_dates.as_ref().is_some_and(|walk| walk.serves(mailbox, uid)) {
            let until = until.max(uid);
            let cursor = open.reader.save_dates(mailbox, uid, until)?;
            open.save_dates = Some(Walk { mailbox, next: uid, until, cursor });
        }
        let walk = open.save_dates.as_mut().expect("just made");
        walk.next = uid.saturating_add(1);
        walk.cursor.find(uid)
    }

    /// The blob record `blob` (read in one forward walk, see
    /// [`BlobTable::cursor`]), with the chunks to read its bytes.
    pub fn blob(&mut self, blob: u64) -> Result<(&BlobRecord, &ChunkReader), StoreError> {
        let open = self.open()?;
        if open.blobs.is_none() {
            open.blobs = Some(open.reader.blobs()?.into_cursor());
        }
        if open.chunks.is_none() {
            open.chunks = Some(open.reader.chunks()?);
        }
        let record = open.blobs.as_mut().expect("just opened").get(blob)?;
        Ok((record, open.chunks.as_ref().expect("just opened")))
    }

    /// The preview stored for `blob`; None when none was (a message
    /// stored by a roost without previews).
    pub fn preview(&mut self, blob: u64) -> Result<Option<String>, StoreError> {
        let open = self.open()?;
        if open.previews.is_none() {
            open.previews = Some(PreviewCursor { table: open.reader.table(PREVIEWS)?, walk: BlobWalk::default() });
        }
        open.previews.as_mut().expect("just opened").get(blob)
    }

    /// Reads the next rows, at most `limit`, of a (modseq, uid) index of
    /// `mailbox` from `start` on into `batch` (cleared first): the change
    /// index, or with `expunged` the expunge history. Returns where the
    /// next batch starts; None once this one reached the end. Long walks
    /// read a batch, pause (closing the snapshot), and go on from there.
    pub fn index_batch(
        &mut self,
        mailbox: u64,
        expunged: bool,
        start: (u64, u32),
        limit: usize,
        batch: &mut Vec<(u64, u32)>,
    ) -> Result<Option<(u64, u32)>, StoreError> {
        let reader = self.reader()?;
        if expunged {
            fill_batch(reader.expunged_from(mailbox, start)?, limit, batch)
        } else {
            fill_batch(reader.changes_from(mailbox, start)?, limit, batch)
        }
    }

    /// Like [`Snapshot::index_batch`] over `user`'s own change index of
    /// `mailbox` (their private \Seen changes, `store::acl`).
    pub fn private_batch(
        &mut self,
        mailbox: u64,
        user: u32,
        start: (u64, u32),
        limit: usize,
        batch: &mut Vec<(u64, u32)>,
    ) -> Result<Option<(u64, u32)>, StoreError> {
        let reader = self.reader()?;
        fill_batch(reader.private_changes_from(mailbox, user, start)?, limit, batch)
    }

    /// Appends bytes `start..end` of `blob` to `out`. Ok(false): the blob
    /// no longer exists — every message holding it was expunged since an
    /// earlier snapshot found it — and nothing was appended.
    pub fn read(&mut self, blob: u64, start: u64, end: u64, out: &mut Vec<u8>) -> Result<bool, StoreError> {
        let open = self.open()?;
        if open.chunks.is_none() {
            open.chunks = Some(open.reader.chunks()?);
        }
        let length = out.len();
        match open.chunks.as_ref().expect("just opened").read(blob, start, end, out) {
            Ok(()) => Ok(true),
            Err(error) => {
                out.truncate(length);
                // A blob's record and chunks go in one transaction: no
                // record means freed, not damaged.
                match open.reader.blob(blob)? {
                    None => Ok(false),
                    Some(_) => Err(error),
                }
            }
        }
    }
}

/// The message's structure as stored at delivery; for a message stored
/// before roost kept structures (or with a damaged one), computed again
/// by streaming the message through the parser.
pub fn structure_of(record: &MessageRecord, blob: &BlobRecord, chunks: &ChunkReader) -> Result<Structure, StoreError> {
    if let Some(structure) = Structure::decode(&blob.structure) {
        return Ok(structure);
    }
    let mut parser = StructureParser::new();
    chunks.pieces(record.blob, 0, record.size, |piece, _| {
        parser.feed(piece);
        true
    })?;
    Ok(parser.finish())
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::store::{FlagAction, FlagChange, Flags, NewMessage, Op, Store, UidSet, INBOX};
    use crate::util::datetime::DateTime;

    #[test]
    fn keys_after_go_to_the_next_uid_then_the_next_modseq() {
        assert_eq!(key_after((5, 7)), Some((5, 8)));
        assert_eq!(key_after((5, u32::MAX)), Some((6, 0)));
        assert_eq!(key_after((u64::MAX, u32::MAX)), None);
    }

    /// Runs `test` on a store in a fresh temporary file that holds user
    /// alice, with her INBOX's id; the file goes afterwards.
    pub(in crate::store) fn with_alice_inbox<F: std::future::Future<Output = ()>>(
        label: &str,
        test: impl FnOnce(std::rc::Rc<Store>, u64) -> F,
    ) {
        let directory = std::env::temp_dir().join(format!("roost-{label}-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&directory);
        let path = directory.join("db.redb");
        let _ = std::fs::remove_file(&path);
        let (store, pump) = Store::open(&path, 1 << 20, 0).unwrap();
        let executor = smol::LocalExecutor::new();
        executor.spawn(pump).detach();
        smol::block_on(executor.run(async {
            store.execute(Op::AddUser { name: "alice".into(), password_hash: "x".into() }).await.unwrap();
            let inbox = {
                let reader = store.read().unwrap();
                let user = reader.user("alice").unwrap().unwrap();
                reader.mailbox_id(user.id, INBOX).unwrap().unwrap()
            };
            test(store.clone(), inbox).await;
        }));
        drop(store);
        let _ = std::fs::remove_dir_all(&directory);
    }

    /// Previews are found in any order of asking (a forward walk, blobs
    /// behind it, blobs without one), and go with the blob's last message.
    #[test]
    fn previews_in_any_order_and_freed_with_the_blob() {
        with_alice_inbox("previews", |store, inbox| async move {
            // Every third message is stored without a preview (as by an
            // older roost).
            let mut blobs = Vec::new();
            for number in 0..200u32 {
                let data = format!("Subject: {number}\r\n\r\n{number}\r\n").into_bytes();
                let size = data.len() as u64;
                let blob = store.write_blob(None, 0, data).await.unwrap();
                blobs.push(blob);
                let message = NewMessage {
                    blob,
                    size,
                    header_size: size - 5,
                    structure: Vec::new(),
                    summary: None,
                    preview: (number % 3 != 0).then(|| format!("text {number}")),
                    flags: Flags::default(),
                    keywords: Vec::new(),
                    internal_date: DateTime::now(),
                };
                store.append(inbox, vec![message]).await.unwrap();
            }
            let expected = |number: usize| (number % 3 != 0).then(|| format!("text {number}"));
            let mut snapshot = store.snapshot();
            let mut order: Vec<usize> = (0..200).collect();
            order.extend([150, 3, 4, 199, 0, 100, 101, 1, 198]);
            order.extend((0..200).rev());
            for number in order {
                assert_eq!(snapshot.preview(blobs[number]).unwrap(), expected(number), "message {number}");
            }
            assert_eq!(snapshot.preview(blobs[199] + 1000).unwrap(), None);
            snapshot.close();
            // The last reference gone, the preview goes too.
            let deleted = FlagChange {
                action: FlagAction::Add,
                flags: Flags::DELETED,
                keywords: Vec::new(),
                unchanged_since: None,
            };
            store.set_flags(inbox, UidSet(vec![(2, 2)]), deleted).await.unwrap();
            store.expunge(inbox, None).await.unwrap();
            assert_eq!(snapshot.preview(blobs[1]).unwrap(), None);
            assert_eq!(snapshot.preview(blobs[2]).unwrap(), expected(2));
        });
    }

    /// A snapshot sees one state until it is closed; the next read sees
    /// the newer one, and bytes freed meanwhile are reported as gone.
    #[test]
    fn a_reopened_snapshot_sees_expunges_and_freed_bytes() {
        with_alice_inbox("snapshot", |store, inbox| async move {
            let mut blobs = Vec::new();
            for text in
                [&b"Subject: one\r\n\r\n1\r\n"[..], b"Subject: two\r\n\r\n2\r\n", b"Subject: three\r\n\r\n3\r\n"]
            {
                let data = text.to_vec();
                let blob = store.write_blob(None, 0, data).await.unwrap();
                blobs.push(blob);
                let message = NewMessage {
                    blob,
                    size: text.len() as u64,
                    header_size: text.len() as u64 - 3,
                    structure: Vec::new(),
                    summary: None,
                    preview: None,
                    flags: Flags::default(),
                    keywords: Vec::new(),
                    internal_date: DateTime::now(),
                };
                store.append(inbox, vec![message]).await.unwrap();
            }
            let mut snapshot = store.snapshot();
            assert!(snapshot.message(inbox, 1, 3).unwrap().is_some());
            let mut bytes = Vec::new();
            assert!(snapshot.read(blobs[1], 0, 5, &mut bytes).unwrap());
            assert_eq!(bytes, b"Subje");
            let deleted = FlagChange {
                action: FlagAction::Add,
                flags: Flags::DELETED,
                keywords: Vec::new(),
                unchanged_since: None,
            };
            store.set_flags(inbox, UidSet(vec![(2, 2)]), deleted).await.unwrap();
            store.expunge(inbox, None).await.unwrap();
            // Still the old state: the snapshot is open.
            assert!(snapshot.message(inbox, 2, 3).unwrap().is_some());
            assert_eq!(snapshot.generation(), 1);
            snapshot.close();
            // The next read opens a new snapshot, where message 2 is gone.
            assert!(snapshot.message(inbox, 2, 3).unwrap().is_none());
            assert_eq!(snapshot.generation(), 2);
            assert!(snapshot.message(inbox, 3, 3).unwrap().is_some());
            let mut bytes = b"kept".to_vec();
            assert!(!snapshot.read(blobs[1], 5, 10, &mut bytes).unwrap());
            assert_eq!(bytes, b"kept");
            assert!(snapshot.read(blobs[2], 0, 5, &mut bytes).unwrap());
            let (record, _) = snapshot.blob(blobs[0]).unwrap();
            assert_eq!(record.references, 1);
        });
    }
}
