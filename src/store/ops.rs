//! Store operations, applied inside the store thread's write transaction.
//!
//! Every operation checks everything that can fail for a logical reason
//! (missing mailbox, name taken, too many keywords) before it changes a
//! single row, so an error never leaves half an operation in a transaction
//! that other operations of the same group will commit. The only errors
//! after the first write are storage errors, and those abandon the group.

use redb::{ReadableTable, Table, WriteTransaction};

use super::rows::Rows;

use super::quota::{Admission, Usage};
use super::schema::{
    BlobRecord, DeviceRecord, Flags, LoginEntry, MailboxRecord, MessageRecord, PreviewRecord, SpecialUse, UserRecord,
    UserSettings, ACL, ACL_GRANTEES, ALERTS_SENT, BANS, BLOBS, BLOB_CHUNKS, CHANGES, CHUNK_SIZE, DELETED_SIZES,
    DEVICES, EXPUNGED, FLAG_INDEX, INDEXED_FLAGS, KNOWN_ADDRESSES, KNOWN_DEVICES, KNOWN_PER_USER, LOGIN_HISTORY,
    MAILBOXES, MAILBOX_INFO, MESSAGES, META, PENDING_BLOBS, PREVIEWS, PRIVATE_CHANGES, PRIVATE_FLAGS, PRIVATE_SEEN,
    PRIVATE_SEEN_MAILBOXES, QUOTA_LIMITS, QUOTA_USAGE, QUOTA_WARNED, RESERVED_IDS, SAVE_DATES, SHARED_MODSEQ,
    SUBSCRIPTIONS, SUMMARIES, USERS, USER_SETTINGS,
};
// `roost import`'s table (see `store::import`).
use super::schema::IMPORTED;
use super::schema::{FTS_POSTINGS, FTS_QUEUE, FTS_SEGMENTS, FTS_UNINDEXED};
use super::{
    Appended, Change, Copied, Delivered, Expunged, FlagAction, FlagChange, KeptFlags, NewMessage, Op, StoreError,
    Stored, UidSet, MAX_DEVICES, MAX_KEYWORDS, MAX_MAILBOXES,
};
use crate::util::datetime::DateTime;

pub const INBOX: &str = "INBOX";
pub const DELIMITER: char = '/';
/// The other users' namespace's root as subscriptions name it; the same as
/// `imap::namespace::SHARED` (a test holds them equal).
pub const SHARED_ROOT: &str = "Shared";

/// The mailboxes every new user starts with (RFC 6154 roles).
const DEFAULT_MAILBOXES: [(&str, Option<SpecialUse>); 6] = [
    (INBOX, None),
    ("Archive", Some(SpecialUse::Archive)),
    ("Drafts", Some(SpecialUse::Drafts)),
    ("Junk", Some(SpecialUse::Junk)),
    ("Sent", Some(SpecialUse::Sent)),
    ("Trash", Some(SpecialUse::Trash)),
];

pub(super) struct Tables<'txn> {
    pub meta: Rows<'txn, &'static str, u64>,
    pub users: Rows<'txn, &'static str, &'static [u8]>,
    pub mailboxes: Rows<'txn, (u32, &'static str), u64>,
    pub mailbox_info: Table<'txn, u64, &'static [u8]>,
    pub subscriptions: Rows<'txn, (u32, &'static str), ()>,
    pub messages: Table<'txn, (u64, u32), &'static [u8]>,
    pub changes: Rows<'txn, (u64, u64, u32), ()>,
    pub flag_index: Rows<'txn, (u64, u8, u32), ()>,
    pub summaries: Table<'txn, (u64, u32), &'static [u8]>,
    pub save_dates: Rows<'txn, (u64, u32), i64>,
    pub expunged: Rows<'txn, (u64, u64, u32), ()>,
    pub blobs: Table<'txn, u64, &'static [u8]>,
    pub previews: Table<'txn, u64, &'static [u8]>,
    pub chunks: Table<'txn, (u64, u32), &'static [u8]>,
    pub pending: Rows<'txn, u64, i64>,
    pub bans: Rows<'txn, &'static str, &'static [u8]>,
    pub devices: Rows<'txn, (u32, &'static str), &'static [u8]>,
    pub user_settings: Rows<'txn, u32, &'static [u8]>,
    pub login_history: Rows<'txn, (u32, u64), &'static [u8]>,
    pub known_addresses: Rows<'txn, (u32, &'static str), u64>,
    pub known_devices: Rows<'txn, (u32, &'static str), u64>,
    pub alerts_sent: Rows<'txn, (u32, u8), u64>,
    pub acl: Rows<'txn, (u64, u32), u32>,
    pub acl_grantees: Rows<'txn, (u32, u64), ()>,
    pub private_seen: Rows<'txn, (u64, u32, u32), ()>,
    pub private_seen_mailboxes: Rows<'txn, (u32, u64), ()>,
    pub private_flags: Rows<'txn, (u64, u32, u32), u64>,
    pub private_changes: Rows<'txn, (u64, u32, u64, u32), ()>,
    pub shared_modseq: Rows<'txn, u64, (u64, u64)>,
    pub quota_usage: Rows<'txn, u32, (u64, u64)>,
    pub quota_limits: Rows<'txn, u32, (u64, u64)>,
    pub quota_warned: Rows<'txn, u32, u8>,
    pub deleted_sizes: Rows<'txn, u64, u64>,
    /// Quota warnings due (`store::quota`), raised where no change list
    /// is at hand (`save_mailbox`); the store thread moves them to the
    /// commit's changes after each operation.
    pub quota_changes: Vec<Change>,
    pub imported: Rows<'txn, (u64, &'static [u8]), u32>,
    pub fts_queue: Rows<'txn, u64, ()>,
    pub fts_unindexed: Rows<'txn, u64, ()>,
    pub fts_segments: Rows<'txn, u64, (u64, &'static [u8])>,
    pub fts_postings: Rows<'txn, (u64, u8, u32), &'static [u8]>,
}

impl<'txn> Tables<'txn> {
    pub fn open(transaction: &'txn WriteTransaction) -> Result<Tables<'txn>, StoreError> {
        Ok(Tables {
            meta: META.open(transaction)?,
            users: USERS.open(transaction)?,
            mailboxes: MAILBOXES.open(transaction)?,
            mailbox_info: transaction.open_table(MAILBOX_INFO)?,
            subscriptions: SUBSCRIPTIONS.open(transaction)?,
            messages: transaction.open_table(MESSAGES)?,
            changes: CHANGES.open(transaction)?,
            flag_index: FLAG_INDEX.open(transaction)?,
            summaries: transaction.open_table(SUMMARIES)?,
            save_dates: SAVE_DATES.open(transaction)?,
            expunged: EXPUNGED.open(transaction)?,
            blobs: transaction.open_table(BLOBS)?,
            previews: transaction.open_table(PREVIEWS)?,
            chunks: transaction.open_table(BLOB_CHUNKS)?,
            pending: PENDING_BLOBS.open(transaction)?,
            bans: BANS.open(transaction)?,
            devices: DEVICES.open(transaction)?,
            user_settings: USER_SETTINGS.open(transaction)?,
            login_history: LOGIN_HISTORY.open(transaction)?,
            known_addresses: KNOWN_ADDRESSES.open(transaction)?,
            known_devices: KNOWN_DEVICES.open(transaction)?,
            alerts_sent: ALERTS_SENT.open(transaction)?,
            acl: ACL.open(transaction)?,
            acl_grantees: ACL_GRANTEES.open(transaction)?,
            private_seen: PRIVATE_SEEN.open(transaction)?,
            private_seen_mailboxes: PRIVATE_SEEN_MAILBOXES.open(transaction)?,
            private_flags: PRIVATE_FLAGS.open(transaction)?,
            private_changes: PRIVATE_CHANGES.open(transaction)?,
            shared_modseq: SHARED_MODSEQ.open(transaction)?,
            quota_usage: QUOTA_USAGE.open(transaction)?,
            quota_limits: QUOTA_LIMITS.open(transaction)?,
            quota_warned: QUOTA_WARNED.open(transaction)?,
            deleted_sizes: DELETED_SIZES.open(transaction)?,
            quota_changes: Vec::new(),
            imported: IMPORTED.open(transaction)?,
            fts_queue: FTS_QUEUE.open(transaction)?,
            fts_unindexed: FTS_UNINDEXED.open(transaction)?,
            fts_segments: FTS_SEGMENTS.open(transaction)?,
            fts_postings: FTS_POSTINGS.open(transaction)?,
        })
    }

    pub(super) fn next_counter(&mut self, key: &str) -> Result<u64, StoreError> {
        let next = self.meta.get(key)?.map_or(1, |value| value.value());
        self.meta.insert(key, next + 1)?;
        Ok(next)
    }

    /// RFC 3501 §2.3.1.1: a name re-created after a DELETE must get a new
    /// UIDVALIDITY. Seconds since the epoch, but never reused or going back.
    fn next_uid_validity(&mut self) -> Result<u32, StoreError> {
        let last = self.meta.get("last_uid_validity")?.map_or(0, |value| value.value());
        let now = DateTime::now().unix.clamp(1, i64::from(u32::MAX)) as u64;
        let next = now.max(last + 1).min(u64::from(u32::MAX));
        self.meta.insert("last_uid_validity", next)?;
        Ok(next as u32)
    }

    fn user(&self, name: &str) -> Result<UserRecord, StoreError> {
        match self.users.get(name)? {
            Some(bytes) => UserRecord::decode(bytes.value()),
            None => Err(StoreError::NoSuchUser),
        }
    }

    fn mailbox_id(&self, user: u32, name: &str) -> Result<Option<u64>, StoreError> {
        Ok(self.mailboxes.get((user, name))?.map(|id| id.value()))
    }

    pub(super) fn mailbox(&self, id: u64) -> Result<MailboxRecord, StoreError> {
        match self.mailbox_info.get(id)? {
            Some(bytes) => MailboxRecord::decode(bytes.value()),
            None => Err(StoreError::NoSuchMailbox),
        }
    }

    pub(super) fn selectable_mailbox(&self, id: u64) -> Result<MailboxRecord, StoreError> {
        let record = self.mailbox(id)?;
        if record.noselect {
            return Err(StoreError::NotSelectable);
        }
        Ok(record)
    }

    /// Writes a mailbox record, and the change of its message count and
    /// size to its owner's quota usage (`store::quota`).
    fn save_mailbox(&mut self, id: u64, record: &MailboxRecord) -> Result<(), StoreError> {
        let old =
            self.mailbox_info.insert(id, record.encode().as_slice())?.map(|old| MailboxRecord::decode(old.value()));
        let old = old.transpose()?;
        let mut warnings = std::mem::take(&mut self.quota_changes);
        let accounted = super::quota::account(self, old.as_ref(), Some(record), &mut warnings);
        self.quota_changes = warnings;
        accounted
    }

    /// Removes a mailbox record, taking what it held off its owner's usage.
    fn drop_mailbox(&mut self, id: u64) -> Result<(), StoreError> {
        let old = self.mailbox_info.remove(id)?.map(|old| MailboxRecord::decode(old.value()));
        let old = old.transpose()?;
        let mut warnings = std::mem::take(&mut self.quota_changes);
        let accounted = super::quota::account(self, old.as_ref(), None, &mut warnings);
        self.quota_changes = warnings;
        accounted
    }

    /// Keeps the flag index (and the size of the \Deleted messages) in
    /// step with a message of `size` bytes whose flags went from `old` to
    /// `new` (None: the message did not exist / no longer does).
    fn index_flags(
        &mut self,
        mailbox: u64,
        uid: u32,
        old: Option<Flags>,
        new: Option<Flags>,
        size: u64,
    ) -> Result<(), StoreError> {
        let deleted = |flags: Option<Flags>| flags.is_some_and(|flags| flags.contains(Flags::DELETED));
        if deleted(old) != deleted(new) {
            super::quota::count_deleted(self, mailbox, size, deleted(new))?;
        }
        for (code, flag, set) in INDEXED_FLAGS {
            let was = old.is_some_and(|flags| flags.contains(flag) == set);
            let is = new.is_some_and(|flags| flags.contains(flag) == set);
            if was && !is {
                self.flag_index.remove((mailbox, code, uid))?;
            } else if is && !was {
                self.flag_index.insert((mailbox, code, uid), ())?;
            }
        }
        Ok(())
    }

    fn save_message(&mut self, mailbox: u64, uid: u32, record: &MessageRecord) -> Result<(), StoreError> {
        self.messages.insert((mailbox, uid), record.encode().as_slice())?;
        Ok(())
    }

    /// Names (with ids) of `name`'s descendants.
    fn children(&self, user: u32, name: &str) -> Result<Vec<(String, u64)>, StoreError> {
        let low = format!("{name}{DELIMITER}");
        // '0' is the character after '/', so this range holds exactly "name/...".
        let high = format!("{name}0");
        let mut found = Vec::new();
        for entry in self.mailboxes.range((user, low.as_str())..(user, high.as_str()))? {
            let (key, id) = entry?;
            found.push((key.value().1.to_string(), id.value()));
        }
        Ok(found)
    }

    fn mailbox_count(&self, user: u32) -> Result<usize, StoreError> {
        Ok(self.mailboxes.range((user, "")..(user + 1, ""))?.count())
    }

    pub(super) fn messages_in(&self, mailbox: u64, uids: &UidSet) -> Result<Vec<(u32, MessageRecord)>, StoreError> {
        let mut found = Vec::new();
        for &(low, high) in &uids.0 {
            for entry in self.messages.range((mailbox, low)..=(mailbox, high))? {
                let (key, value) = entry?;
                found.push((key.value().1, MessageRecord::decode(value.value())?));
            }
        }
        Ok(found)
    }

    fn all_messages(&self, mailbox: u64) -> Result<Vec<(u32, MessageRecord)>, StoreError> {
        self.messages_in(mailbox, &UidSet(vec![(0, u32::MAX)]))
    }

    fn add_blob_reference(&mut self, blob: u64) -> Result<(), StoreError> {
        let mut record = match self.blobs.get(blob)? {
            Some(bytes) => BlobRecord::decode(bytes.value())?,
            None => return Err(StoreError::Corrupt(format!("message refers to missing blob {blob}"))),
        };
        record.references += 1;
        self.blobs.insert(blob, record.encode().as_slice())?;
        Ok(())
    }

    /// Keeps the preview computed at delivery beside the new blob.
    fn save_preview(&mut self, message: &NewMessage) -> Result<(), StoreError> {
        if let Some(text) = &message.preview {
            self.previews.insert(message.blob, PreviewRecord { text: text.clone() }.encode().as_slice())?;
        }
        Ok(())
    }

    /// Drops one reference; the last one removes the bytes (and preview).
    fn release_blob(&mut self, blob: u64) -> Result<(), StoreError> {
        let mut record = match self.blobs.get(blob)? {
            Some(bytes) => BlobRecord::decode(bytes.value())?,
            None => return Err(StoreError::Corrupt(format!("message refers to missing blob {blob}"))),
        };
        if record.references > 1 {
            record.references -= 1;
            self.blobs.insert(blob, record.encode().as_slice())?;
        } else {
            self.blobs.remove(blob)?;
            super::fts::released(self, blob)?;
            self.previews.remove(blob)?;
            self.chunks.retain_in((blob, 0)..=(blob, u32::MAX), |_, _| false)?;
        }
        Ok(())
    }
}

/// Keyword names → bits of `mailbox`, defining new keywords when `define`.
/// Returns the bits and whether the mailbox's keyword list grew.
fn keyword_bits(mailbox: &mut MailboxRecord, keywords: &[String], define: bool) -> Result<(u64, bool), StoreError> {
    let mut bits = 0u64;
    let mut grew = false;
    for keyword in keywords {
        // RFC 3501 §2.3.2: flags and keywords are case-insensitive.
        let position = mailbox.keywords.iter().position(|known| known.eq_ignore_ascii_case(keyword));
        let index = match position {
            Some(index) => index,
            None if define => {
                if mailbox.keywords.len() >= MAX_KEYWORDS {
                    return Err(StoreError::TooManyKeywords);
                }
                mailbox.keywords.push(keyword.clone());
                grew = true;
                mailbox.keywords.len() - 1
            }
            None => continue,
        };
        bits |= 1 << index;
    }
    Ok((bits, grew))
}

/// Keyword bits of `from` → bits of `to` (defining what `to` lacks).
fn translate_keywords(bits: u64, from: &MailboxRecord, to: &mut MailboxRecord) -> Result<(u64, bool), StoreError> {
    let names: Vec<String> = from
        .keywords
        .iter()
        .enumerate()
        .filter(|(index, _)| bits & (1 << index) != 0)
        .map(|(_, name)| name.clone())
        .collect();
    keyword_bits(to, &names, true)
}

fn parents(name: &str) -> impl Iterator<Item = &str> {
    name.match_indices(DELIMITER).map(move |(index, _)| &name[..index]).filter(|parent| !parent.is_empty())
}

fn count_in(mailbox: &mut MailboxRecord, message: &MessageRecord, sign: i64) {
    let apply = |counter: &mut u32| *counter = (i64::from(*counter) + sign).max(0) as u32;
    apply(&mut mailbox.messages);
    if !message.flags.contains(Flags::SEEN) {
        apply(&mut mailbox.unseen);
    }
    if message.flags.contains(Flags::DELETED) {
        apply(&mut mailbox.deleted);
    }
    mailbox.size = (mailbox.size as i64 + sign * message.size as i64).max(0) as u64;
}

/// Applies an operation that answers nothing but success; those that answer
/// more have a function each below (`create`, `append`, `copy`, ...).
pub(super) fn apply(tables: &mut Tables, op: &Op, changes: &mut Vec<Change>) -> Result<(), StoreError> {
    match op {
        Op::AddUser { name, password_hash } => add_user(tables, name, password_hash),
        Op::SetPassword { name, password_hash } => {
            let mut user = tables.user(name)?;
            user.password_hash.clone_from(password_hash);
            tables.users.insert(name.as_str(), user.encode().as_slice())?;
            Ok(())
        }
        Op::DeleteUser { name } => delete_user(tables, name, changes),
        Op::AddDevice { user, device, record } => {
            let id = tables.user(user)?.id;
            if tables.devices.get((id, device.as_str()))?.is_some() {
                return Err(StoreError::DeviceExists);
            }
            if tables.devices.range((id, "")..(id + 1, ""))?.count() >= MAX_DEVICES {
                return Err(StoreError::TooManyDevices);
            }
            tables.devices.insert((id, device.as_str()), record.encode().as_slice())?;
            Ok(())
        }
        Op::DeleteDevice { user, device } => {
            let id = tables.user(user)?.id;
            match tables.devices.remove((id, device.as_str()))? {
                Some(_) => Ok(()),
                None => Err(StoreError::NoSuchDevice),
            }
        }
        Op::SetDeviceOnly { user, on } => {
            let id = tables.user(user)?.id;
            let settings = UserSettings { device_only: *on };
            tables.user_settings.insert(id, settings.encode().as_slice())?;
            Ok(())
        }
        Op::DeviceUsed { user, device, when, address } => {
            // The device may have been deleted since the login: nothing to note then.
            let found = tables.devices.get((*user, device.as_str()))?.map(|bytes| DeviceRecord::decode(bytes.value()));
            if let Some(record) = found {
                let mut record = record?;
                record.last_used = record.last_used.max(*when);
                record.last_address.clone_from(address);
                tables.devices.insert((*user, device.as_str()), record.encode().as_slice())?;
            }
            Ok(())
        }
        Op::RecordLogin { user, entry, keep } => record_login(tables, *user, entry, *keep),
        Op::DeleteMailbox { user, name } => {
            delete_mailbox(tables, *user, name, changes)?;
            changes.push(Change::User { user: *user });
            Ok(())
        }
        Op::RenameMailbox { user, from, to } => {
            rename_mailbox(tables, *user, from, to, changes)?;
            changes.push(Change::User { user: *user });
            Ok(())
        }
        Op::Subscribe { user, name, subscribed } => {
            if *subscribed {
                tables.subscriptions.insert((*user, name.as_str()), ())?;
            } else {
                tables.subscriptions.remove((*user, name.as_str()))?;
            }
            changes.push(Change::User { user: *user });
            Ok(())
        }
        Op::DiscardBlobs { blobs } => {
            discard_blobs(tables, blobs)?;
            Ok(())
        }
        Op::SetBan { address, ban } => {
            tables.bans.insert(address.as_str(), ban.encode().as_slice())?;
            Ok(())
        }
        Op::DeleteBans { addresses } => {
            for address in addresses {
                tables.bans.remove(address.as_str())?;
            }
            Ok(())
        }
        Op::RecordKnownLogin { user, address, device, at } => {
            record_known(&mut tables.known_addresses, *user, address, *at)?;
            if let Some(device) = device {
                record_known(&mut tables.known_devices, *user, device, *at)?;
            }
            Ok(())
        }
        Op::SetQuota { name, storage, messages } => {
            let id = tables.user(name)?.id;
            super::quota::set_limits(tables, id, *storage, *messages, changes)
        }
        Op::RecordAlert { user, kind, at } => {
            tables.alerts_sent.insert((*user, *kind), *at)?;
            Ok(())
        }
        #[cfg(test)]
        Op::Panic => panic!("deliberate panic in the store thread"),
        Op::FtsSegment { segment, replacing } => super::fts::write_segment(tables, segment, replacing),
        Op::FtsEnqueue { user } => super::fts::enqueue(tables, *user).map(|_| ()),
        Op::SetFirstRecent { mailbox, uid } => {
            let mut record = tables.mailbox(*mailbox)?;
            if *uid > record.first_recent_uid {
                record.first_recent_uid = *uid;
                tables.save_mailbox(*mailbox, &record)?;
            }
            Ok(())
        }
    }
}

/// CREATE: `name` (and any missing parents) for `user`; the new id.
pub(super) fn create(
    tables: &mut Tables,
    user: u32,
    name: &str,
    special_use: Option<SpecialUse>,
    changes: &mut Vec<Change>,
) -> Result<u64, StoreError> {
    let mailbox = create_mailbox(tables, user, name, special_use)?;
    changes.push(Change::User { user });
    Ok(mailbox)
}

/// CREATE of `owner`'s `name` where each mailbox made (`name` and any
/// missing parents) takes the ACL of the nearest parent that existed
/// before (RFC 4314 §4: "SHOULD" copy the parent's ACL), so a child of a
/// shared mailbox is shared alike; the new id.
pub(super) fn create_inheriting(
    tables: &mut Tables,
    owner: u32,
    name: &str,
    changes: &mut Vec<Change>,
) -> Result<u64, StoreError> {
    let mut parent = None;
    let mut made = vec![name.to_string()];
    for ancestor in parents(name).collect::<Vec<_>>().into_iter().rev() {
        match tables.mailbox_id(owner, ancestor)? {
            Some(id) => {
                parent = Some(id);
                break;
            }
            None => made.push(ancestor.to_string()),
        }
    }
    let mailbox = create(tables, owner, name, None, changes)?;
    if let Some(parent) = parent {
        for made in made {
            if let Some(id) = tables.mailbox_id(owner, &made)? {
                super::acl::copy_acl(tables, parent, id, changes)?;
            }
        }
    }
    Ok(mailbox)
}

/// REPLACE (RFC 8508): `message` appended to `mailbox`, then message `uid`
/// of `from` expunged whatever its flags (if it is still there).
pub(super) fn replace(
    tables: &mut Tables,
    mailbox: u64,
    message: &NewMessage,
    from: u64,
    uid: u32,
    changes: &mut Vec<Change>,
) -> Result<Appended, StoreError> {
    // Judged by what it adds once the old message is gone: replacing a
    // draft with one of the same size never goes over the quota.
    let owner = tables.selectable_mailbox(mailbox)?.user_id;
    let old_owner = tables.mailbox(from).map(|record| record.user_id).ok();
    let old_size = tables.messages_in(from, &UidSet(vec![(uid, uid)]))?.first().map(|(_, old)| old.size);
    let new = Usage { bytes: message.size, messages: 1 };
    let (add, household) = match (old_owner, old_size) {
        (Some(old_owner), Some(old_size)) => {
            let net = Usage { bytes: message.size.saturating_sub(old_size), messages: 0 };
            (if old_owner == owner { net } else { new }, net)
        }
        _ => (new, new),
    };
    Admission::default().admit(tables, owner, add, household)?;
    let appended = append_admitted(tables, mailbox, std::slice::from_ref(message), changes)?;
    // Read after the append: `from` may be the same mailbox.
    let record = tables.selectable_mailbox(from)?;
    let doomed = tables.messages_in(from, &UidSet(vec![(uid, uid)]))?;
    expunge(tables, from, record, &doomed, changes)?;
    Ok(appended)
}

/// EXPUNGE: removes the \Deleted messages of `mailbox` (only those in
/// `uids`, if given).
pub(super) fn expunge_deleted(
    tables: &mut Tables,
    mailbox: u64,
    uids: Option<&UidSet>,
    changes: &mut Vec<Change>,
) -> Result<Expunged, StoreError> {
    let record = tables.selectable_mailbox(mailbox)?;
    if record.deleted == 0 {
        return Ok(Expunged { uids: Vec::new() });
    }
    let candidates = match uids {
        Some(uids) => tables.messages_in(mailbox, uids)?,
        None => tables.all_messages(mailbox)?,
    };
    let doomed: Vec<(u32, MessageRecord)> =
        candidates.into_iter().filter(|(_, message)| message.flags.contains(Flags::DELETED)).collect();
    let uids = expunge(tables, mailbox, record, &doomed, changes)?;
    Ok(Expunged { uids })
}

/// Notes that `user` logged in from (or with) `what` at `at`, keeping the
/// [`KNOWN_PER_USER`] most recent.
fn record_known(table: &mut Rows<(u32, &'static str), u64>, user: u32, what: &str, at: u64) -> Result<(), StoreError> {
    table.insert((user, what), at)?;
    let mut known = Vec::new();
    for entry in table.range((user, "")..(user + 1, ""))? {
        let (key, time) = entry?;
        known.push((time.value(), key.value().1.to_string()));
    }
    if known.len() > KNOWN_PER_USER {
        known.sort();
        for (_, stale) in &known[..known.len() - KNOWN_PER_USER] {
            table.remove((user, stale.as_str()))?;
        }
    }
    Ok(())
}

fn add_user(tables: &mut Tables, name: &str, password_hash: &str) -> Result<(), StoreError> {
    if tables.users.get(name)?.is_some() {
        return Err(StoreError::UserExists);
    }
    let id = tables.next_counter("next_user_id")?;
    // The ids from RESERVED_IDS up name `anyone`, `authenticated` and the
    // household's public mailboxes (see `store::acl`): never a login user.
    let id = u32::try_from(id).ok().filter(|&id| id < RESERVED_IDS).ok_or(StoreError::TooManyUsers)?;
    let record = UserRecord { id, password_hash: password_hash.to_string() };
    tables.users.insert(name, record.encode().as_slice())?;
    for (mailbox, special_use) in DEFAULT_MAILBOXES {
        create_mailbox(tables, id, mailbox, special_use)?;
        tables.subscriptions.insert((id, mailbox), ())?;
    }
    Ok(())
}

fn delete_user(tables: &mut Tables, name: &str, changes: &mut Vec<Change>) -> Result<(), StoreError> {
    let user = tables.user(name)?;
    let mut mailboxes = Vec::new();
    for entry in tables.mailboxes.range((user.id, "")..(user.id + 1, ""))? {
        let (key, id) = entry?;
        mailboxes.push((key.value().1.to_string(), id.value()));
    }
    for (mailbox_name, id) in mailboxes {
        remove_all_messages(tables, id)?;
        super::acl::forget_mailbox(tables, id)?;
        tables.drop_mailbox(id)?;
        tables.mailboxes.remove((user.id, mailbox_name.as_str()))?;
        changes.push(Change::Deleted { mailbox: id });
    }
    tables.subscriptions.retain_in((user.id, "")..(user.id + 1, ""), |_, ()| false)?;
    tables.devices.retain_in((user.id, "")..(user.id + 1, ""), |_, _| false)?;
    tables.user_settings.remove(user.id)?;
    tables.login_history.retain_in((user.id, 0)..=(user.id, u64::MAX), |_, _| false)?;
    tables.known_addresses.retain_in((user.id, "")..(user.id + 1, ""), |_, _| false)?;
    tables.known_devices.retain_in((user.id, "")..(user.id + 1, ""), |_, _| false)?;
    tables.alerts_sent.retain_in((user.id, 0)..=(user.id, u8::MAX), |_, _| false)?;
    super::quota::forget_user(tables, user.id)?;
    // Their entries in others' ACLs and their own \Seen in others' mailboxes.
    super::acl::forget_user(tables, user.id)?;
    changes.push(Change::Rights { mailbox: None });
    // Others' subscriptions to their mailboxes (`Shared/<name>/...`): a
    // dangling one would look like a mailbox that broke. A household has
    // few subscriptions: one pass over them.
    let level = format!("{SHARED_ROOT}/{name}");
    let mut dangling = Vec::new();
    for entry in tables.subscriptions.iter()? {
        let (key, _) = entry?;
        let (subscriber, subscribed) = key.value();
        if subscribed.strip_prefix(level.as_str()).is_some_and(|rest| rest.is_empty() || rest.starts_with(DELIMITER)) {
            dangling.push((subscriber, subscribed.to_string()));
        }
    }
    for (subscriber, subscribed) in dangling {
        tables.subscriptions.remove((subscriber, subscribed.as_str()))?;
        changes.push(Change::User { user: subscriber });
    }
    tables.users.remove(name)?;
    Ok(())
}

/// Entries of the history looked at for one alike to a new login.
const HISTORY_MERGE_WINDOW: usize = 8;
/// Seconds within which alike logins share one history entry.
const HISTORY_MERGE_SECONDS: i64 = 3600;

/// Adds `entry` to `user`'s login history: counted into a recent alike
/// entry (same outcome, address, device, TLS, within the hour) when there
/// is one, else appended; the oldest entries beyond `keep` go. A user who
/// no longer exists gets nothing (the login raced a `user del`).
fn record_login(tables: &mut Tables, user: u32, entry: &LoginEntry, keep: u32) -> Result<(), StoreError> {
    // Every user has an INBOX (it cannot be deleted): none, no user.
    if tables.mailbox_id(user, INBOX)?.is_none() {
        return Ok(());
    }
    let mut merged = None;
    let mut newest = None;
    for (index, row) in tables.login_history.range((user, 0)..=(user, u64::MAX))?.rev().enumerate() {
        let (key, value) = row?;
        let sequence = key.value().1;
        newest = newest.or(Some(sequence));
        if index < HISTORY_MERGE_WINDOW && merged.is_none() {
            let existing = LoginEntry::decode(value.value())?;
            if existing.alike(entry) && entry.last.saturating_sub(existing.last) < HISTORY_MERGE_SECONDS {
                merged = Some((sequence, existing));
            }
        }
        if index >= HISTORY_MERGE_WINDOW {
            break;
        }
    }
    if let Some((sequence, mut existing)) = merged {
        existing.count = existing.count.saturating_add(entry.count);
        existing.last = existing.last.max(entry.last);
        existing.first = existing.first.min(entry.first);
        tables.login_history.insert((user, sequence), existing.encode().as_slice())?;
        return Ok(());
    }
    let sequence = newest.map_or(0, |newest| newest + 1);
    tables.login_history.insert((user, sequence), entry.encode().as_slice())?;
    // Sequences are contiguous (only the oldest are ever removed), so the
    // first key tells how many there are.
    let oldest = match tables.login_history.range((user, 0)..=(user, u64::MAX))?.next() {
        Some(first) => Some(first?.0.value().1),
        None => None,
    };
    if let Some(oldest) = oldest {
        let keep = u64::from(keep.max(1));
        let count = sequence - oldest + 1;
        if count > keep {
            let cut = oldest + (count - keep);
            tables.login_history.retain_in((user, oldest)..(user, cut), |_, _| false)?;
        }
    }
    Ok(())
}

/// Creates `name` and any missing parents. A \Noselect placeholder of that
/// name becomes a real mailbox.
fn create_mailbox(
    tables: &mut Tables,
    user: u32,
    name: &str,
    special_use: Option<SpecialUse>,
) -> Result<u64, StoreError> {
    if let Some(id) = tables.mailbox_id(user, name)? {
        if !tables.mailbox(id)?.noselect {
            return Err(StoreError::MailboxExists);
        }
        // The placeholder a DELETE left (a name with children) made into a
        // mailbox again: a new mailbox, so a new id. RFC 8474 §4.1: a
        // mailbox created after a DELETE of the same name gets a new
        // MAILBOXID; RFC 3501 §2.3.1.1: and a new UIDVALIDITY.
        super::acl::forget_mailbox(tables, id)?;
        tables.drop_mailbox(id)?;
        tables.mailboxes.remove((user, name))?;
        return insert_mailbox(tables, user, name, special_use);
    }
    let missing: Vec<&str> =
        parents(name).filter(|parent| !matches!(tables.mailbox_id(user, parent), Ok(Some(_)))).collect();
    if tables.mailbox_count(user)? + missing.len() + 1 > MAX_MAILBOXES {
        return Err(StoreError::TooManyMailboxes);
    }
    for parent in missing {
        insert_mailbox(tables, user, parent, None)?;
    }
    insert_mailbox(tables, user, name, special_use)
}

fn insert_mailbox(
    tables: &mut Tables,
    user: u32,
    name: &str,
    special_use: Option<SpecialUse>,
) -> Result<u64, StoreError> {
    let id = tables.next_counter("next_mailbox_id")?;
    let record = MailboxRecord {
        user_id: user,
        name: name.to_string(),
        uid_validity: tables.next_uid_validity()?,
        uid_next: 1,
        highest_modseq: 1,
        first_recent_uid: 1,
        special_use,
        noselect: false,
        messages: 0,
        unseen: 0,
        deleted: 0,
        size: 0,
        expunge_floor: 0,
        expunge_history: 0,
        keywords: Vec::new(),
    };
    tables.mailboxes.insert((user, name), id)?;
    tables.save_mailbox(id, &record)?;
    Ok(id)
}

fn remove_all_messages(tables: &mut Tables, mailbox: u64) -> Result<(), StoreError> {
    for (_, message) in tables.all_messages(mailbox)? {
        tables.release_blob(message.blob)?;
    }
    tables.messages.retain_in((mailbox, 0)..=(mailbox, u32::MAX), |_, _| false)?;
    tables.flag_index.retain_in((mailbox, 0, 0)..=(mailbox, u8::MAX, u32::MAX), |_, ()| false)?;
    tables.deleted_sizes.remove(mailbox)?;
    tables.summaries.retain_in((mailbox, 0)..=(mailbox, u32::MAX), |_, _| false)?;
    tables.save_dates.retain_in((mailbox, 0)..=(mailbox, u32::MAX), |_, _| false)?;
    tables.changes.retain_in((mailbox, 0, 0)..=(mailbox, u64::MAX, u32::MAX), |_, ()| false)?;
    tables.expunged.retain_in((mailbox, 0, 0)..=(mailbox, u64::MAX, u32::MAX), |_, ()| false)?;
    super::import::forget_mailbox(tables, mailbox)?;
    Ok(())
}

fn delete_mailbox(tables: &mut Tables, user: u32, name: &str, changes: &mut Vec<Change>) -> Result<(), StoreError> {
    if name == INBOX {
        return Err(StoreError::CannotDeleteInbox);
    }
    let id = tables.mailbox_id(user, name)?.ok_or(StoreError::NoSuchMailbox)?;
    let mut record = tables.mailbox(id)?;
    let has_children = !tables.children(user, name)?.is_empty();
    if has_children && record.noselect {
        return Err(StoreError::HasChildren);
    }
    remove_all_messages(tables, id)?;
    // RFC 4314 §3: the ACL goes with the mailbox. A placeholder left for
    // its children is not the mailbox any more (its id changes meaning).
    super::acl::forget_mailbox(tables, id)?;
    changes.push(Change::Deleted { mailbox: id });
    if has_children {
        // RFC 3501 §6.3.4: the messages go, the name stays as \Noselect.
        // The id changes meaning, so sessions that had it selected are told
        // it was deleted, and a later CREATE gets a new UIDVALIDITY.
        let placeholder = MailboxRecord {
            noselect: true,
            messages: 0,
            unseen: 0,
            deleted: 0,
            size: 0,
            keywords: Vec::new(),
            special_use: None,
            expunge_history: 0,
            expunge_floor: record.highest_modseq,
            ..record.clone()
        };
        record = placeholder;
        tables.save_mailbox(id, &record)?;
    } else {
        tables.drop_mailbox(id)?;
        tables.mailboxes.remove((user, name))?;
        remove_empty_placeholders(tables, user, name)?;
    }
    Ok(())
}

/// Removes \Noselect parents of `name` left without children.
fn remove_empty_placeholders(tables: &mut Tables, user: u32, name: &str) -> Result<(), StoreError> {
    let ancestors: Vec<String> = parents(name).map(str::to_string).collect();
    for parent in ancestors.iter().rev() {
        let Some(id) = tables.mailbox_id(user, parent)? else { continue };
        if !tables.mailbox(id)?.noselect || !tables.children(user, parent)?.is_empty() {
            break;
        }
        super::acl::forget_mailbox(tables, id)?;
        tables.drop_mailbox(id)?;
        tables.mailboxes.remove((user, parent.as_str()))?;
    }
    Ok(())
}

fn rename_mailbox(
    tables: &mut Tables,
    user: u32,
    from: &str,
    to: &str,
    changes: &mut Vec<Change>,
) -> Result<(), StoreError> {
    let from_id = tables.mailbox_id(user, from)?.ok_or(StoreError::NoSuchMailbox)?;
    if from == to || tables.mailbox_id(user, to)?.is_some() {
        return Err(StoreError::MailboxExists);
    }
    if to.starts_with(from) && to[from.len()..].starts_with(DELIMITER) {
        return Err(StoreError::RenameIntoChild);
    }
    if from == INBOX {
        // RFC 3501 §6.3.5: renaming INBOX moves its messages to a new
        // mailbox and leaves INBOX empty; INBOX's children stay where they are.
        let to_id = create_mailbox(tables, user, to, None)?;
        let all = UidSet(vec![(1, u32::MAX)]);
        copy(tables, from_id, to_id, &all, true, KeptFlags::ALL, changes)?;
        return Ok(());
    }
    let mut moving = vec![(from.to_string(), from_id)];
    moving.extend(tables.children(user, from)?);
    let renamed: Vec<(String, String, u64)> =
        moving.into_iter().map(|(old, id)| (format!("{to}{}", &old[from.len()..]), old, id)).collect();
    for (new, _, _) in &renamed {
        if tables.mailbox_id(user, new)?.is_some() {
            return Err(StoreError::MailboxExists);
        }
    }
    let missing: Vec<String> = parents(to)
        .filter(|parent| !matches!(tables.mailbox_id(user, parent), Ok(Some(_))))
        .map(str::to_string)
        .collect();
    if tables.mailbox_count(user)? + missing.len() > MAX_MAILBOXES {
        return Err(StoreError::TooManyMailboxes);
    }
    for parent in &missing {
        insert_mailbox(tables, user, parent, None)?;
    }
    for (new, old, id) in &renamed {
        tables.mailboxes.remove((user, old.as_str()))?;
        tables.mailboxes.insert((user, new.as_str()), *id)?;
        let mut record = tables.mailbox(*id)?;
        record.name.clone_from(new);
        tables.save_mailbox(*id, &record)?;
        // Subscriptions follow the mailbox, as users expect.
        if tables.subscriptions.remove((user, old.as_str()))?.is_some() {
            tables.subscriptions.insert((user, new.as_str()), ())?;
        }
    }
    remove_empty_placeholders(tables, user, from)?;
    Ok(())
}

pub(super) fn write_blob(
    tables: &mut Tables,
    blob: Option<u64>,
    first_chunk: u32,
    data: &[u8],
) -> Result<u64, StoreError> {
    let id = if let Some(id) = blob {
        if tables.pending.get(id)?.is_none() {
            return Err(StoreError::NoSuchBlob);
        }
        id
    } else {
        let id = tables.next_counter("next_blob_id")?;
        tables.pending.insert(id, DateTime::now().unix)?;
        id
    };
    for (index, piece) in data.chunks(CHUNK_SIZE).enumerate() {
        tables.chunks.insert((id, first_chunk + index as u32), piece)?;
    }
    Ok(id)
}

pub(super) fn discard_blobs(tables: &mut Tables, blobs: &[u64]) -> Result<(), StoreError> {
    for &blob in blobs {
        if tables.pending.remove(blob)?.is_some() {
            tables.chunks.retain_in((blob, 0)..=(blob, u32::MAX), |_, _| false)?;
        }
    }
    Ok(())
}

pub(super) fn append(
    tables: &mut Tables,
    mailbox: u64,
    messages: &[NewMessage],
    changes: &mut Vec<Change>,
) -> Result<Appended, StoreError> {
    let owner = tables.selectable_mailbox(mailbox)?.user_id;
    let add = Usage { bytes: messages.iter().map(|message| message.size).sum(), messages: messages.len() as u64 };
    // RFC 9208 §4.2: an APPEND (MULTIAPPEND: all its messages) that would
    // go over a limit is refused whole, before anything is written.
    Admission::default().admit(tables, owner, add, add)?;
    append_admitted(tables, mailbox, messages, changes)
}

/// [`append`] once the quota let it in.
fn append_admitted(
    tables: &mut Tables,
    mailbox: u64,
    messages: &[NewMessage],
    changes: &mut Vec<Change>,
) -> Result<Appended, StoreError> {
    let mut record = tables.selectable_mailbox(mailbox)?;
    for message in messages {
        if tables.pending.get(message.blob)?.is_none() {
            return Err(StoreError::NoSuchBlob);
        }
    }
    let mut grew = false;
    let mut bits = Vec::with_capacity(messages.len());
    for message in messages {
        let (keywords, defined) = keyword_bits(&mut record, &message.keywords, true)?;
        grew |= defined;
        bits.push(keywords);
    }
    let mut stored = Vec::with_capacity(messages.len());
    for (message, keywords) in messages.iter().zip(bits) {
        let blob = BlobRecord {
            references: 1,
            size: message.size,
            header_size: message.header_size,
            structure: message.structure.clone(),
        };
        tables.blobs.insert(message.blob, blob.encode().as_slice())?;
        tables.save_preview(message)?;
        tables.pending.remove(message.blob)?;
        super::fts::stored(tables, message.blob)?;
        stored.push((
            MessageRecord {
                blob: message.blob,
                internal_date: message.internal_date,
                size: message.size,
                flags: message.flags,
                keywords,
                modseq: 0,
            },
            message.summary.clone(),
        ));
    }
    let (first_uid, last_uid) = add_messages(tables, mailbox, &mut record, stored, grew, changes)?;
    Ok(Appended { uid_validity: record.uid_validity, first_uid, last_uid })
}

/// LMTP: one blob for every recipient, so a message to the whole family
/// takes its space once. Every check comes before the first write.
/// With `enforce`, each mailbox whose owner (or the household) it would
/// take over quota is left out and listed in [`Delivered::refused`]; if
/// that leaves none, the first refusal is the error. Without, the quota
/// is not asked (alerts and quota warnings: `Store::deliver_notice`).
pub(super) fn deliver(
    tables: &mut Tables,
    message: &NewMessage,
    mailboxes: &[u64],
    enforce: bool,
    changes: &mut Vec<Change>,
) -> Result<Delivered, StoreError> {
    if mailboxes.is_empty() {
        return Err(StoreError::Bug("a delivery without mailboxes".into()));
    }
    let mut records = Vec::with_capacity(mailboxes.len());
    for (index, &mailbox) in mailboxes.iter().enumerate() {
        if mailboxes[..index].contains(&mailbox) {
            return Err(StoreError::Bug(format!("mailbox {mailbox} named twice in one delivery")));
        }
        records.push(tables.selectable_mailbox(mailbox)?);
    }
    if tables.pending.get(message.blob)?.is_none() {
        return Err(StoreError::NoSuchBlob);
    }
    let mut refused = Vec::new();
    if enforce {
        let mut admission = Admission::default();
        let add = Usage { bytes: message.size, messages: 1 };
        let mut kept = Vec::with_capacity(records.len());
        let mut first_refusal = None;
        for (&mailbox, record) in mailboxes.iter().zip(records) {
            match admission.admit(tables, record.user_id, add, add) {
                Ok(()) => kept.push((mailbox, record)),
                Err(StoreError::OverQuota(reason)) => {
                    first_refusal.get_or_insert_with(|| StoreError::OverQuota(reason.clone()));
                    refused.push((mailbox, reason));
                }
                Err(other) => return Err(other),
            }
        }
        if kept.is_empty() {
            return Err(first_refusal.unwrap_or_else(|| StoreError::Bug("a delivery refused without reason".into())));
        }
        let (admitted, admitted_records): (Vec<u64>, Vec<MailboxRecord>) = kept.into_iter().unzip();
        return deliver_admitted(tables, message, &admitted, admitted_records, refused, changes);
    }
    deliver_admitted(tables, message, mailboxes, records, refused, changes)
}

/// [`deliver`] to the mailboxes the quota let in.
fn deliver_admitted(
    tables: &mut Tables,
    message: &NewMessage,
    mailboxes: &[u64],
    records: Vec<MailboxRecord>,
    refused: Vec<(u64, String)>,
    changes: &mut Vec<Change>,
) -> Result<Delivered, StoreError> {
    let blob = BlobRecord {
        references: mailboxes.len() as u32,
        size: message.size,
        header_size: message.header_size,
        structure: message.structure.clone(),
    };
    tables.blobs.insert(message.blob, blob.encode().as_slice())?;
    tables.save_preview(message)?;
    tables.pending.remove(message.blob)?;
    super::fts::stored(tables, message.blob)?;
    let mut uids = Vec::with_capacity(mailboxes.len());
    for (&mailbox, mut record) in mailboxes.iter().zip(records) {
        let stored = MessageRecord {
            blob: message.blob,
            internal_date: message.internal_date,
            size: message.size,
            flags: message.flags,
            keywords: 0,
            modseq: 0,
        };
        let (uid, _) =
            add_messages(tables, mailbox, &mut record, vec![(stored, message.summary.clone())], false, changes)?;
        uids.push(uid);
    }
    Ok(Delivered { uids, refused })
}

/// Gives `messages` (with their header summaries) the next UIDs of
/// `mailbox` and one new modseq, and reports them (with the keyword list,
/// if it `grew`). Their blobs must already count them. Returns the first
/// and last UID.
fn add_messages(
    tables: &mut Tables,
    mailbox: u64,
    record: &mut MailboxRecord,
    messages: Vec<(MessageRecord, Option<Vec<u8>>)>,
    grew: bool,
    changes: &mut Vec<Change>,
) -> Result<(u32, u32), StoreError> {
    let modseq = record.highest_modseq + 1;
    let first_uid = record.uid_next;
    let last_uid = first_uid + messages.len() as u32 - 1;
    // RFC 8514 §3: the moment the message was saved into this mailbox; a
    // copy or a moved message gets its own.
    let saved = DateTime::now().unix;
    for (uid, (message, summary)) in (first_uid..=last_uid).zip(messages) {
        let message = MessageRecord { modseq, ..message };
        tables.save_message(mailbox, uid, &message)?;
        tables.save_dates.insert((mailbox, uid), saved)?;
        if let Some(summary) = summary {
            tables.summaries.insert((mailbox, uid), summary.as_slice())?;
        }
        tables.index_flags(mailbox, uid, None, Some(message.flags), message.size)?;
        tables.changes.insert((mailbox, modseq, uid), ())?;
        count_in(record, &message, 1);
    }
    record.uid_next = last_uid + 1;
    record.highest_modseq = modseq;
    tables.save_mailbox(mailbox, record)?;
    changes.push(Change::Appended { mailbox, first_uid, last_uid, modseq });
    changes.push(Change::User { user: record.user_id });
    if grew {
        changes.push(Change::Flags { mailbox, modseq, keywords: Some(record.keywords.clone()), private_to: None });
    }
    Ok((first_uid, last_uid))
}

pub(super) fn store_flags(
    tables: &mut Tables,
    mailbox: u64,
    uids: &UidSet,
    change: &FlagChange,
    changes: &mut Vec<Change>,
) -> Result<Stored, StoreError> {
    store_flags_within(tables, mailbox, uids, change, Settable::EVERY, changes)
}

/// What a flag change may touch in the message records: the system flags
/// and whether the keywords (RFC 4314 §4: `w`, `t`, and \Seen that is the
/// owner's); the rest keeps its value, whatever the change says.
#[derive(Clone, Copy, Debug)]
pub(super) struct Settable {
    pub flags: Flags,
    pub keywords: bool,
}

impl Settable {
    pub const EVERY: Settable = Settable { flags: Flags(0xff), keywords: true };
}

/// [`store_flags`] touching only what `settable` allows.
pub(super) fn store_flags_within(
    tables: &mut Tables,
    mailbox: u64,
    uids: &UidSet,
    change: &FlagChange,
    settable: Settable,
    changes: &mut Vec<Change>,
) -> Result<Stored, StoreError> {
    let FlagChange { action, flags, ref keywords, unchanged_since } = *change;
    let keywords: &[String] = if settable.keywords { keywords } else { &[] };
    let flags = Flags(flags.0 & settable.flags.0);
    let kept = Flags(!settable.flags.0);
    let mut record = tables.selectable_mailbox(mailbox)?;
    let targets = tables.messages_in(mailbox, uids)?;
    let mut modified = Vec::new();
    if targets.is_empty() {
        return Ok(Stored { modseq: record.highest_modseq, changed: 0, modified });
    }
    let (bits, grew) = keyword_bits(&mut record, keywords, action != FlagAction::Remove)?;
    let modseq = record.highest_modseq + 1;
    let mut changed = 0;
    for (uid, mut message) in targets {
        // RFC 7162 §3.1.3: changed since the client's UNCHANGEDSINCE (in
        // this transaction, so no other change can slip in between): refused.
        if unchanged_since.is_some_and(|limit| message.modseq > limit) {
            modified.push(uid);
            continue;
        }
        let (new_flags, new_keywords) = match action {
            FlagAction::Add => (message.flags.union(flags), message.keywords | bits),
            FlagAction::Remove => (message.flags.difference(flags), message.keywords & !bits),
            FlagAction::Replace => {
                (Flags(message.flags.0 & kept.0).union(flags), if settable.keywords { bits } else { message.keywords })
            }
        };
        if new_flags == message.flags && new_keywords == message.keywords {
            continue;
        }
        count_in(&mut record, &message, -1);
        tables.changes.remove((mailbox, message.modseq, uid))?;
        tables.index_flags(mailbox, uid, Some(message.flags), Some(new_flags), message.size)?;
        message.flags = new_flags;
        message.keywords = new_keywords;
        message.modseq = modseq;
        count_in(&mut record, &message, 1);
        tables.save_message(mailbox, uid, &message)?;
        tables.changes.insert((mailbox, modseq, uid), ())?;
        changed += 1;
    }
    if changed == 0 && !grew {
        return Ok(Stored { modseq: record.highest_modseq, changed, modified });
    }
    record.highest_modseq = modseq;
    tables.save_mailbox(mailbox, &record)?;
    let keywords = grew.then(|| record.keywords.clone());
    changes.push(Change::Flags { mailbox, modseq, keywords, private_to: None });
    changes.push(Change::User { user: record.user_id });
    Ok(Stored { modseq, changed, modified })
}

pub(super) fn copy(
    tables: &mut Tables,
    from: u64,
    to: u64,
    uids: &UidSet,
    remove: bool,
    keep: KeptFlags,
    changes: &mut Vec<Change>,
) -> Result<Copied, StoreError> {
    let source = tables.selectable_mailbox(from)?;
    let mut target = tables.selectable_mailbox(to)?;
    let messages = tables.messages_in(from, uids)?;
    if messages.is_empty() {
        return Ok(Copied { uid_validity: target.uid_validity, source: Vec::new(), first_uid: target.uid_next });
    }
    // A MOVE within one owner's mailboxes changes no usage: never refused.
    if !(remove && source.user_id == target.user_id) {
        let add =
            Usage { bytes: messages.iter().map(|(_, message)| message.size).sum(), messages: messages.len() as u64 };
        // A MOVE to another owner leaves the household's total as it was.
        let household = if remove { Usage::default() } else { add };
        Admission::default().admit(tables, target.user_id, add, household)?;
    }
    let mut grew = false;
    let mut bits = Vec::with_capacity(messages.len());
    for (_, message) in &messages {
        let kept = if keep.keywords { message.keywords } else { 0 };
        let (keywords, defined) = translate_keywords(kept, &source, &mut target)?;
        grew |= defined;
        bits.push(keywords);
    }
    let mut copies = Vec::with_capacity(messages.len());
    // Indexes of the copies whose copier's own \Seen goes to their private rows.
    let mut private_seen = Vec::new();
    for (index, ((uid, message), keywords)) in messages.iter().zip(bits).enumerate() {
        tables.add_blob_reference(message.blob)?;
        let summary = tables.summaries.get((from, *uid))?.map(|summary| summary.value().to_vec());
        let kept = Flags(message.flags.0 & keep.flags.0);
        // The record's \Seen is its owner's (store::acl): a copy into
        // someone else's mailbox (or a public one) does not carry it; the
        // copier's own \Seen (the record's in their own mailbox, else their
        // private row) goes with it as theirs there.
        let mut flags = if source.user_id == target.user_id { kept } else { kept.difference(Flags::SEEN) };
        // Unless the record carries it (the owner copying within their own
        // tree), the copier's \Seen is read as theirs in the source and
        // written as theirs in the target.
        match keep.copier {
            Some(copier) if copier != source.user_id || source.user_id != target.user_id => {
                let seen = if source.user_id == copier {
                    message.flags.contains(Flags::SEEN)
                } else {
                    tables.private_seen.get((from, copier, *uid))?.is_some()
                };
                if seen && copier == target.user_id {
                    flags = flags.union(Flags::SEEN);
                } else if seen {
                    private_seen.push(index as u32);
                }
            }
            _ => {}
        }
        copies.push((MessageRecord { flags, keywords, ..*message }, summary));
    }
    let (first_uid, _) = add_messages(tables, to, &mut target, copies, grew, changes)?;
    if let (Some(copier), false) = (keep.copier, private_seen.is_empty()) {
        let uids = UidSet::from_sorted(private_seen.iter().map(|index| first_uid + index));
        super::acl::set_private_seen(tables, to, copier, &uids, true, changes)?;
    }
    if remove {
        // Reloaded: when moving within one mailbox the record just changed.
        let source = tables.mailbox(from)?;
        expunge(tables, from, source, &messages, changes)?;
    }
    let source_uids = messages.iter().map(|(uid, _)| *uid).collect();
    Ok(Copied { uid_validity: target.uid_validity, source: source_uids, first_uid })
}

/// Removes `doomed` from `mailbox`, remembering them in the expunge history.
pub(super) fn expunge(
    tables: &mut Tables,
    mailbox: u64,
    mut record: MailboxRecord,
    doomed: &[(u32, MessageRecord)],
    changes: &mut Vec<Change>,
) -> Result<Vec<u32>, StoreError> {
    if doomed.is_empty() {
        return Ok(Vec::new());
    }
    let modseq = record.highest_modseq + 1;
    for (uid, message) in doomed {
        tables.messages.remove((mailbox, *uid))?;
        tables.summaries.remove((mailbox, *uid))?;
        tables.save_dates.remove((mailbox, *uid))?;
        tables.index_flags(mailbox, *uid, Some(message.flags), None, message.size)?;
        tables.changes.remove((mailbox, message.modseq, *uid))?;
        tables.expunged.insert((mailbox, modseq, *uid), ())?;
        tables.release_blob(message.blob)?;
        count_in(&mut record, message, -1);
    }
    let uids: Vec<u32> = doomed.iter().map(|(uid, _)| *uid).collect();
    super::acl::forget_private_seen(tables, mailbox, Some(&uids))?;
    record.highest_modseq = modseq;
    record.expunge_history += doomed.len() as u32;
    let limit = super::expunge_history();
    if record.expunge_history > limit {
        // Forget the oldest; a client resynchronising from before the floor
        // is told about expunges the long way (RFC 7162 §3.2.5.2 allows it).
        let excess = (record.expunge_history - limit) as usize;
        let oldest: Vec<(u64, u32)> = tables
            .expunged
            .range((mailbox, 0, 0)..=(mailbox, u64::MAX, u32::MAX))?
            .take(excess)
            .map(|entry| entry.map(|(key, _)| (key.value().1, key.value().2)))
            .collect::<Result<_, _>>()?;
        for (old_modseq, uid) in oldest {
            tables.expunged.remove((mailbox, old_modseq, uid))?;
            record.expunge_floor = record.expunge_floor.max(old_modseq);
        }
        record.expunge_history = limit;
    }
    tables.save_mailbox(mailbox, &record)?;
    changes.push(Change::Expunged { mailbox, uids: uids.clone(), modseq });
    changes.push(Change::User { user: record.user_id });
    Ok(uids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parents_of_nested_names() {
        assert_eq!(parents("a/b/c").collect::<Vec<_>>(), vec!["a", "a/b"]);
        assert_eq!(parents("top").count(), 0);
    }

    #[test]
    fn keywords_are_case_insensitive_and_bounded() {
        let mut mailbox = MailboxRecord {
            user_id: 1,
            name: "x".into(),
            uid_validity: 1,
            uid_next: 1,
            highest_modseq: 1,
            first_recent_uid: 1,
            special_use: None,
            noselect: false,
            messages: 0,
            unseen: 0,
            deleted: 0,
            size: 0,
            expunge_floor: 0,
            expunge_history: 0,
            keywords: vec!["$Junk".into()],
        };
        let (bits, grew) = keyword_bits(&mut mailbox, &["$junk".into(), "Work".into()], true).unwrap();
        assert_eq!((bits, grew), (0b11, true));
        let (bits, grew) = keyword_bits(&mut mailbox, &["other".into()], false).unwrap();
        assert_eq!((bits, grew), (0, false));
        let many: Vec<String> = (0..70).map(|index| format!("k{index}")).collect();
        assert_eq!(keyword_bits(&mut mailbox, &many, true), Err(StoreError::TooManyKeywords));
    }
}
