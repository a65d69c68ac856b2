//! Access control (RFC 4314) and per-user \Seen: the store's side.
//!
//! Issue 15 (family folders). The IMAP side of per-user \Seen is in the
//! selected-state reads and writes (`imap::view`, `imap::session::sync`,
//! FETCH, STORE, SEARCH, QRESYNC), which read a message as its user sees
//! it ([`PrivateFlags::apply`], `Snapshot::message_as`).
//!
//! # Rights
//!
//! The tables hold `mail::rights::Rights`, the one rights type IMAP uses
//! too: a 16-bit mask of the eleven RFC 4314 §2.1 rights in the RFC's
//! order (`l r s w i p k x t e a` are bits 0 to 10). That layout is on
//! disk; the store only needs the bits.
//!
//! # Tables and keys
//!
//! [`ACL`](super::schema::ACL) is keyed by (mailbox id, identifier), so a
//! mailbox's list is one range read; [`ACL_GRANTEES`](super::schema::ACL_GRANTEES)
//! holds the same pairs the other way round, so "which mailboxes are
//! shared with user X, with `authenticated`, with `anyone`" is three range
//! reads, not a scan of every mailbox (LIST in the shared namespace). An
//! identifier is a `u32`: a user id, or one of two reserved values for
//! `anyone` and `authenticated` ([`Identifier`]). User ids never reach the
//! reserved range (`add_user` refuses to hand one out), so the key needs no
//! tag byte and no name: a user renamed or deleted is found by id.
//!
//! Negative rights (RFC 4314 §2: "-fred") are stored. They cost nothing in
//! space: one row per (mailbox, identifier) holds both the granted mask
//! (low 16 bits) and the negative mask (high 16 bits), and GETACL can show
//! them as two entries. [`Reader::rights_of`] subtracts them, as the RFC
//! describes: a user's rights are the union of what their entry,
//! `authenticated` and `anyone` grant, less the union of what the same
//! entries deny.
//!
//! # The owner
//!
//! A mailbox's owner is its record's `user_id` and never has a row: the
//! owner holds every right, always, so they cannot lock themselves out of
//! their own mailbox (RFC 4314 §2 advises that the owner keep `a`). A
//! change that names the owner is refused ([`StoreError::OwnerRights`]),
//! not silently ignored.
//!
//! # Public mailboxes
//!
//! The household's mailboxes (`Family/Bills`) belong to a reserved owner,
//! [`PUBLIC_OWNER`], a user id that is not a
//! login user (no row in `users`, no INBOX). Its mailboxes live in the same
//! `mailboxes` and `mailbox_info` tables under that id, so no record
//! changes its encoding and every existing operation (APPEND, EXPUNGE,
//! RENAME, DELETE, `roost check`) works on them unchanged. A flag in the
//! mailbox record was the other choice: it would have needed a second
//! record version, and the mailbox would still have needed some owner id
//! for its name's key. The public owner needs no creation step: its first
//! mailbox is its first row. [`Store::create_public_mailbox`](super::Store::create_public_mailbox) creates one
//! with its default ACL in one transaction.
//!
//! # Per-user \Seen
//!
//! Each reader of a mailbox they do not own keeps their own \Seen (Dovecot
//! calls these private flags; its `INDEXPVT` keeps, per user, an index
//! holding only UIDs and the private flags). Here the owner's \Seen stays
//! the message's own flag (so the owner's STATUS counters and flag index
//! work as today); every other user's \Seen is a row (mailbox, user, uid)
//! in [`PRIVATE_SEEN`](super::schema::PRIVATE_SEEN). For a public mailbox,
//! whose owner never reads, everyone's \Seen is private. Other flags and
//! keywords stay shared.
//!
//! CONDSTORE (RFC 7162 §3.1) per user (the spec's §3.2, roost's own
//! design: Dovecot's documentation does not say how its private flags
//! reach HIGHESTMODSEQ). The mailbox keeps one modseq counter
//! (`highest_modseq`): shared changes and private \Seen changes both take
//! its next value, so every modseq is unique and grows. A private change
//! does not touch the message record, its modseq or the shared change
//! index [`CHANGES`](super::schema::CHANGES); it goes to the user's own
//! rows:
//! - [`PRIVATE_FLAGS`](super::schema::PRIVATE_FLAGS) (mailbox, user, uid)
//!   → the modseq of their latest change there, with a bit for "\Seen",
//!   so FETCH reads a message's private state in one lookup;
//! - [`PRIVATE_CHANGES`](super::schema::PRIVATE_CHANGES) (mailbox, user,
//!   modseq, uid), the same rows by modseq: the user's own change index;
//! - [`PRIVATE_SEEN`](super::schema::PRIVATE_SEEN) keeps one row per
//!   message that is \Seen for them, so their unseen count is a count of
//!   rows ([`Reader::private_unseen`]).
//!
//! A message's modseq for user U is the larger of the record's and U's
//! private one ([`PrivateFlags::apply`]); U's HIGHESTMODSEQ is the larger
//! of the highest shared modseq and U's highest private one
//! ([`Reader::highest_modseq_for`]). Other users' private changes never
//! raise it: U sees gaps, which RFC 7162 allows (modseqs need only grow).
//! The highest shared modseq is the counter unless private changes came
//! last; [`SHARED_MODSEQ`](super::schema::SHARED_MODSEQ) keeps it then,
//! written only by private changes and stamped with the counter value it
//! belongs to, so no shared write path has to maintain it. The hub keeps
//! the same number per watched mailbox (`Change::Flags { private_to }`).
//!
//! Why not one modseq sequence shared by everyone (what this module did
//! first): then bob reading alice's Bills moved her HIGHESTMODSEQ and made
//! her clients refetch flags (issue 15 asks that each user's resync see
//! exactly the changes visible to them). Why not a counter per reader: a
//! shared change would then need a modseq in every reader's sequence.
//!
//! A STORE by a reader ([`Store::set_flags_as`](super::Store::set_flags_as)) is one transaction:
//! UNCHANGEDSINCE compares the reader's modseq; the flags they may change
//! in the record (`w`, `t`, RFC 4314 §4) go there, keeping the owner's
//! \Seen; their \Seen (`s`) goes to their rows, at the same modseq as the
//! shared part when there is one (one modseq per command, as for the
//! owner).
//!
//! COPY and MOVE out of a shared mailbox do not carry a reader's private
//! \Seen along: the copy takes the message's shared flags, less the
//! record's \Seen whenever the target has another owner than the source
//! (that \Seen is the source owner's, so another mailbox's readers must
//! not see it: `ops::copy`). APPEND into someone else's mailbox must
//! likewise leave \Seen out of the record (`imap::namespace::Access::record_flags`);
//! the appender's own \Seen is not set there.
//!
//! Rows go with their message (expunge), their mailbox (delete) and their
//! user (delete). Revoking a user's rights keeps their rows: given back the
//! right, they find their \Seen as they left it.

use super::ops::{Settable, Tables};
use super::schema::{
    Flags, MailboxRecord, MessageRecord, SpecialUse, ANYONE, AUTHENTICATED, PRIVATE_SEEN_BIT, PUBLIC_OWNER,
    RESERVED_IDS,
};
use super::{Change, FlagAction, FlagChange, Reader, StoreError, Stored, UidSet};

/// The rights the tables hold are `mail::rights::Rights`, the one rights
/// type IMAP uses too; its bit layout (`l` bit 0 … `a` bit 10, RFC 4314
/// §2.1 order) is what the tables store.
pub use crate::mail::rights::Rights;
/// SETACL's rights argument (RFC 4314 §3.1), as the IMAP layer parses it.
pub use crate::mail::rights::RightsChange as Modifier;

/// Who an ACL entry names (RFC 4314 §2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Identifier {
    User(u32),
    /// `authenticated`: every logged-in user.
    Authenticated,
    /// `anyone`: everyone, anonymous included.
    Anyone,
}

impl Identifier {
    /// The identifier's key in the ACL tables.
    pub(super) fn key(self) -> u32 {
        match self {
            Identifier::User(id) => id,
            Identifier::Authenticated => AUTHENTICATED,
            Identifier::Anyone => ANYONE,
        }
    }

    /// The identifier a key stands for; None for a reserved id that names
    /// no identifier (damage).
    pub(super) fn from_key(key: u32) -> Option<Identifier> {
        match key {
            ANYONE => Some(Identifier::Anyone),
            AUTHENTICATED => Some(Identifier::Authenticated),
            id if id < RESERVED_IDS => Some(Identifier::User(id)),
            _ => None,
        }
    }
}

/// One identifier's row of a mailbox's ACL: the rights it grants and, as
/// the entry "-identifier", the rights it takes away.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AclEntry {
    pub identifier: Identifier,
    pub granted: Rights,
    pub denied: Rights,
}

impl AclEntry {
    fn value(self) -> u32 {
        u32::from(self.granted.bits()) | u32::from(self.denied.bits()) << 16
    }

    fn from_value(identifier: Identifier, value: u32) -> AclEntry {
        AclEntry {
            identifier,
            granted: Rights::from_bits(value as u16),
            denied: Rights::from_bits((value >> 16) as u16),
        }
    }
}

/// A mailbox's ACL: its owner (who holds every right and has no entry)
/// and its entries, by identifier (users by id, then `authenticated`,
/// then `anyone`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Acl {
    pub owner: u32,
    pub entries: Vec<AclEntry>,
}

/// A change to one ACL entry (SETACL, DELETEACL). The store applies the
/// modifier itself, inside its transaction, so two sessions adding rights
/// at once both keep theirs (RFC 4314 §3.1: "+" adds, "-" removes, neither
/// replaces).
#[derive(Clone, Copy, Debug)]
pub struct RightsChange {
    pub identifier: Identifier,
    /// Changes the negative entry ("-identifier") rather than the granted one.
    pub negative: bool,
    /// SETACL's rights argument: replace, `+` add or `-` remove.
    pub modifier: Modifier,
}

impl RightsChange {
    /// DELETEACL: the entry (granted or negative) removed.
    pub fn delete(identifier: Identifier, negative: bool) -> RightsChange {
        RightsChange { identifier, negative, modifier: Modifier::Replace(Rights::NONE) }
    }
}

/// Whether `user` is a login user: every one has an INBOX (it cannot be
/// deleted), the reserved ids have none.
fn user_exists(tables: &Tables, user: u32) -> Result<bool, StoreError> {
    Ok(user < RESERVED_IDS && tables.mailboxes.get((user, super::INBOX))?.is_some())
}

/// SETACL / DELETEACL: applies `change` to `mailbox`'s entry; answers the
/// entry as it now is (both masks empty: the row is gone).
pub(super) fn set_rights(
    tables: &mut Tables,
    mailbox: u64,
    change: &RightsChange,
    changes: &mut Vec<Change>,
) -> Result<AclEntry, StoreError> {
    let record = tables.mailbox(mailbox)?;
    if let Identifier::User(user) = change.identifier {
        if user == record.user_id {
            return Err(StoreError::OwnerRights);
        }
        if !user_exists(tables, user)? {
            return Err(StoreError::NoSuchUser);
        }
    }
    let key = change.identifier.key();
    let old = tables.acl.get((mailbox, key))?.map_or(0, |value| value.value());
    let mut entry = AclEntry::from_value(change.identifier, old);
    let side = if change.negative { &mut entry.denied } else { &mut entry.granted };
    *side = change.modifier.apply(*side);
    write_entry(tables, mailbox, entry)?;
    changes.push(Change::User { user: record.user_id });
    if let Identifier::User(user) = change.identifier {
        // The grantee's NOTIFY sessions learn that their view changed.
        changes.push(Change::User { user });
    }
    Ok(entry)
}

/// Writes (or, when empty, removes) `entry` in both ACL tables.
fn write_entry(tables: &mut Tables, mailbox: u64, entry: AclEntry) -> Result<(), StoreError> {
    let key = entry.identifier.key();
    if entry.value() == 0 {
        tables.acl.remove((mailbox, key))?;
        tables.acl_grantees.remove((key, mailbox))?;
    } else {
        tables.acl.insert((mailbox, key), entry.value())?;
        tables.acl_grantees.insert((key, mailbox), ())?;
    }
    Ok(())
}

/// Creates public mailbox `name` (owned by the household) with `entries`
/// as its ACL; answers its id.
pub(super) fn create_public(
    tables: &mut Tables,
    name: &str,
    special_use: Option<SpecialUse>,
    entries: &[AclEntry],
    changes: &mut Vec<Change>,
) -> Result<u64, StoreError> {
    for (index, entry) in entries.iter().enumerate() {
        if let Identifier::User(user) = entry.identifier {
            if !user_exists(tables, user)? {
                return Err(StoreError::NoSuchUser);
            }
        }
        if entries[..index].iter().any(|earlier| earlier.identifier == entry.identifier) {
            return Err(StoreError::Bug(format!("{:?} named twice in one ACL", entry.identifier)));
        }
    }
    let id = super::ops::create(tables, PUBLIC_OWNER, name, special_use, changes)?;
    for entry in entries {
        write_entry(tables, id, *entry)?;
        if let Identifier::User(user) = entry.identifier {
            changes.push(Change::User { user });
        }
    }
    Ok(id)
}

/// Gives mailbox `to` a copy of `from`'s ACL entries (a new child
/// inheriting its parent's, RFC 4314 §4).
pub(super) fn copy_acl(tables: &mut Tables, from: u64, to: u64, changes: &mut Vec<Change>) -> Result<(), StoreError> {
    let mut entries = Vec::new();
    for row in tables.acl.range((from, 0)..=(from, u32::MAX))? {
        let (key, value) = row?;
        if let Some(identifier) = Identifier::from_key(key.value().1) {
            entries.push(AclEntry::from_value(identifier, value.value()));
        }
    }
    for entry in entries {
        write_entry(tables, to, entry)?;
        if let Identifier::User(user) = entry.identifier {
            // The grantee's NOTIFY sessions learn of a mailbox they now see.
            changes.push(Change::User { user });
        }
    }
    Ok(())
}

/// Removes every ACL entry of `mailbox` (deleted, or its id given up).
pub(super) fn forget_mailbox(tables: &mut Tables, mailbox: u64) -> Result<(), StoreError> {
    let mut keys = Vec::new();
    for row in tables.acl.range((mailbox, 0)..=(mailbox, u32::MAX))? {
        keys.push(row?.0.value().1);
    }
    for key in keys {
        tables.acl.remove((mailbox, key))?;
        tables.acl_grantees.remove((key, mailbox))?;
    }
    forget_private_seen(tables, mailbox, None)
}

/// Removes every ACL entry naming `user` and every private \Seen of theirs.
pub(super) fn forget_user(tables: &mut Tables, user: u32) -> Result<(), StoreError> {
    let mut mailboxes = Vec::new();
    for row in tables.acl_grantees.range((user, 0)..=(user, u64::MAX))? {
        mailboxes.push(row?.0.value().1);
    }
    for mailbox in mailboxes {
        tables.acl.remove((mailbox, user))?;
    }
    tables.acl_grantees.retain_in((user, 0)..=(user, u64::MAX), |_, ()| false)?;
    let mut seen_in = Vec::new();
    for row in tables.private_seen_mailboxes.range((user, 0)..=(user, u64::MAX))? {
        seen_in.push(row?.0.value().1);
    }
    for mailbox in seen_in {
        forget_reader(tables, mailbox, user)?;
    }
    tables.private_seen_mailboxes.retain_in((user, 0)..=(user, u64::MAX), |_, ()| false)?;
    Ok(())
}

/// Removes every private row of `user` in `mailbox` (not the per-user table's).
fn forget_reader(tables: &mut Tables, mailbox: u64, user: u32) -> Result<(), StoreError> {
    tables.private_seen.retain_in((mailbox, user, 0)..=(mailbox, user, u32::MAX), |_, ()| false)?;
    tables.private_flags.retain_in((mailbox, user, 0)..=(mailbox, user, u32::MAX), |_, _| false)?;
    let all = (mailbox, user, 0, 0)..=(mailbox, user, u64::MAX, u32::MAX);
    tables.private_changes.retain_in(all, |_, ()| false)?;
    Ok(())
}

/// The users with private rows in `mailbox`: one seek per reader, not a
/// walk over their rows.
fn readers(table: &super::rows::Rows<(u64, u32, u32), u64>, mailbox: u64) -> Result<Vec<u32>, StoreError> {
    let mut found = Vec::new();
    let mut from = 0u32;
    loop {
        let next = table.range((mailbox, from, 0)..=(mailbox, u32::MAX, u32::MAX))?.next();
        let Some(row) = next else { break };
        let user = row?.0.value().1;
        found.push(user);
        match user.checked_add(1) {
            Some(after) => from = after,
            None => break,
        }
    }
    Ok(found)
}

/// Removes the private rows of `uids` of `mailbox` (every row of the
/// mailbox when None: it is deleted), keeping the per-user table exact.
pub(super) fn forget_private_seen(tables: &mut Tables, mailbox: u64, uids: Option<&[u32]>) -> Result<(), StoreError> {
    for user in readers(&tables.private_flags, mailbox)? {
        match uids {
            None => forget_reader(tables, mailbox, user)?,
            Some(uids) => {
                for &uid in uids {
                    let old = tables.private_flags.remove((mailbox, user, uid))?.map(|value| value.value());
                    if let Some(old) = old {
                        tables.private_changes.remove((mailbox, user, old & !PRIVATE_SEEN_BIT, uid))?;
                        tables.private_seen.remove((mailbox, user, uid))?;
                    }
                }
            }
        }
        if tables.private_flags.range((mailbox, user, 0)..=(mailbox, user, u32::MAX))?.next().is_none() {
            tables.private_seen_mailboxes.remove((user, mailbox))?;
        }
    }
    if uids.is_none() {
        tables.shared_modseq.remove(mailbox)?;
    }
    Ok(())
}

/// One user's own state of one message of a mailbox they do not own.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PrivateFlags {
    /// The message is \Seen for them.
    pub seen: bool,
    /// The modseq of their latest change of it; 0: they never changed it.
    pub modseq: u64,
}

impl PrivateFlags {
    pub(super) fn decode(value: Option<u64>) -> PrivateFlags {
        match value {
            Some(value) => PrivateFlags { seen: value & PRIVATE_SEEN_BIT != 0, modseq: value & !PRIVATE_SEEN_BIT },
            None => PrivateFlags::default(),
        }
    }

    fn encode(self) -> u64 {
        self.modseq | if self.seen { PRIVATE_SEEN_BIT } else { 0 }
    }

    /// The message `record` as this user sees it: their own \Seen in
    /// place of the record's (the owner's), and the larger of the two
    /// modseqs (spec §3.2).
    pub fn apply(self, record: MessageRecord) -> MessageRecord {
        let flags = record.flags.difference(Flags::SEEN);
        MessageRecord {
            flags: if self.seen { flags.union(Flags::SEEN) } else { flags },
            modseq: record.modseq.max(self.modseq),
            ..record
        }
    }
}

/// The highest modseq of a shared change of a mailbox whose record is
/// `record`, given its [`SHARED_MODSEQ`](super::schema::SHARED_MODSEQ) row.
pub(super) fn shared_modseq(row: Option<(u64, u64)>, record: &MailboxRecord) -> u64 {
    match row {
        Some((shared, counter)) if counter == record.highest_modseq => shared,
        _ => record.highest_modseq,
    }
}

/// Takes the mailbox's next modseq for a private change: the counter
/// moves on, the highest shared modseq stays where it was.
fn take_private_modseq(tables: &mut Tables, mailbox: u64, record: &mut MailboxRecord) -> Result<u64, StoreError> {
    let row = tables.shared_modseq.get(mailbox)?.map(|value| value.value());
    let shared = shared_modseq(row, record);
    let modseq = record.highest_modseq + 1;
    record.highest_modseq = modseq;
    tables.shared_modseq.insert(mailbox, (shared, modseq))?;
    tables.mailbox_info.insert(mailbox, record.encode().as_slice())?;
    Ok(modseq)
}

/// Records `user`'s \Seen (`seen`) on `uids` of `mailbox` at `modseq`.
fn write_private(
    tables: &mut Tables,
    mailbox: u64,
    user: u32,
    uids: &[u32],
    seen: bool,
    modseq: u64,
) -> Result<(), StoreError> {
    for &uid in uids {
        let old = tables.private_flags.get((mailbox, user, uid))?.map(|value| value.value());
        if let Some(old) = old {
            tables.private_changes.remove((mailbox, user, old & !PRIVATE_SEEN_BIT, uid))?;
        }
        tables.private_flags.insert((mailbox, user, uid), PrivateFlags { seen, modseq }.encode())?;
        tables.private_changes.insert((mailbox, user, modseq, uid), ())?;
        if seen {
            tables.private_seen.insert((mailbox, user, uid), ())?;
        } else {
            tables.private_seen.remove((mailbox, user, uid))?;
        }
    }
    if !uids.is_empty() {
        tables.private_seen_mailboxes.insert((user, mailbox), ())?;
    }
    Ok(())
}

/// The mailbox `user` may keep a private \Seen in (one they do not own,
/// they being a user): its record.
fn reader_mailbox(tables: &Tables, mailbox: u64, user: u32) -> Result<MailboxRecord, StoreError> {
    let record = tables.selectable_mailbox(mailbox)?;
    if user == record.user_id {
        // The owner's \Seen is the message's own flag (`Store::set_flags`).
        return Err(StoreError::OwnerRights);
    }
    if !user_exists(tables, user)? {
        return Err(StoreError::NoSuchUser);
    }
    Ok(record)
}

/// Sets (or clears) `user`'s own \Seen on the messages `uids` of
/// `mailbox`, a mailbox `user` does not own: a FETCH of a body. The change
/// takes the mailbox's next modseq, seen by `user` alone (module docs).
pub(super) fn set_private_seen(
    tables: &mut Tables,
    mailbox: u64,
    user: u32,
    uids: &UidSet,
    seen: bool,
    changes: &mut Vec<Change>,
) -> Result<Stored, StoreError> {
    let mut record = reader_mailbox(tables, mailbox, user)?;
    let mut targets = Vec::new();
    for (uid, _) in tables.messages_in(mailbox, uids)? {
        if tables.private_seen.get((mailbox, user, uid))?.is_some() != seen {
            targets.push(uid);
        }
    }
    if targets.is_empty() {
        return Ok(Stored { modseq: record.highest_modseq, changed: 0, modified: Vec::new() });
    }
    let modseq = take_private_modseq(tables, mailbox, &mut record)?;
    write_private(tables, mailbox, user, &targets, seen, modseq)?;
    changes.push(Change::Flags { mailbox, modseq, keywords: None, private_to: Some(user) });
    // Only the reader's own NOTIFY sessions: nobody else saw anything change.
    changes.push(Change::User { user });
    Ok(Stored { modseq, changed: targets.len() as u32, modified: Vec::new() })
}

/// What a reader (not the owner) may change with STORE (RFC 4314 §4):
/// the system flags of the message record (`t` for \Deleted, `w` for the
/// others; never \Seen, which is the owner's there), the keywords (`w`)
/// and their own \Seen (`s`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReaderRights {
    pub user: u32,
    pub flags: Flags,
    pub keywords: bool,
    pub seen: bool,
}

/// STORE by `rights.user` in `mailbox`, which they do not own: see the
/// module docs. The flags they may not change are left alone.
pub(super) fn store_flags_as(
    tables: &mut Tables,
    mailbox: u64,
    uids: &UidSet,
    change: &FlagChange,
    rights: ReaderRights,
    changes: &mut Vec<Change>,
) -> Result<Stored, StoreError> {
    let user = rights.user;
    let before = reader_mailbox(tables, mailbox, user)?;
    let mut passing = Vec::new();
    let mut modified = Vec::new();
    for (uid, message) in tables.messages_in(mailbox, uids)? {
        let private = PrivateFlags::decode(tables.private_flags.get((mailbox, user, uid))?.map(|value| value.value()));
        // RFC 7162 §3.1.3 with the user's own modseq (spec §3.2): another
        // reader's \Seen does not make this STORE fail.
        if change.unchanged_since.is_some_and(|limit| private.apply(message).modseq > limit) {
            modified.push(uid);
            continue;
        }
        passing.push((uid, private.seen));
    }
    let settable = Settable { flags: rights.flags.difference(Flags::SEEN), keywords: rights.keywords };
    let shared = FlagChange { unchanged_since: None, ..change.clone() };
    let passing_set = UidSet::from_sorted(passing.iter().map(|&(uid, _)| uid));
    let touches_record = settable.keywords || settable.flags != Flags::default();
    let stored = if touches_record && !passing.is_empty() {
        super::ops::store_flags_within(tables, mailbox, &passing_set, &shared, settable, changes)?
    } else {
        Stored { modseq: before.highest_modseq, changed: 0, modified: Vec::new() }
    };
    let mut modseq = stored.modseq;
    let mut changed = stored.changed;
    let wanted = match change.action {
        FlagAction::Add => change.flags.contains(Flags::SEEN).then_some(true),
        FlagAction::Remove => change.flags.contains(Flags::SEEN).then_some(false),
        FlagAction::Replace => Some(change.flags.contains(Flags::SEEN)),
    };
    if let (true, Some(seen)) = (rights.seen, wanted) {
        let targets: Vec<u32> = passing.iter().filter(|&&(_, was)| was != seen).map(|&(uid, _)| uid).collect();
        if !targets.is_empty() {
            let mut record = tables.mailbox(mailbox)?;
            if record.highest_modseq == before.highest_modseq {
                // Nothing shared changed: a modseq of the user's own.
                modseq = take_private_modseq(tables, mailbox, &mut record)?;
                changes.push(Change::Flags { mailbox, modseq, keywords: None, private_to: Some(user) });
            } else {
                // The shared part took one already: the same modseq, so the
                // command has one (reported by the shared change's sync).
                modseq = record.highest_modseq;
            }
            write_private(tables, mailbox, user, &targets, seen, modseq)?;
            changes.push(Change::User { user });
            changed = changed.max(targets.len() as u32);
        }
    }
    Ok(Stored { modseq, changed, modified })
}

/// Rows of a table keyed (mailbox, id, x) and of its index keyed (id,
/// mailbox), as `roost check` reads them.
type RowPairs = (Vec<(u64, u32, u32)>, Vec<(u32, u64)>);

impl Reader {
    /// `mailbox`'s ACL; None if there is no such mailbox.
    pub fn acl(&self, mailbox: u64) -> Result<Option<Acl>, StoreError> {
        let Some(record) = self.mailbox(mailbox)? else { return Ok(None) };
        let mut entries = Vec::new();
        for row in self.table(super::schema::ACL)?.range((mailbox, 0)..=(mailbox, u32::MAX))? {
            let (key, value) = row?;
            let key = key.value().1;
            let identifier = Identifier::from_key(key)
                .ok_or_else(|| StoreError::Corrupt(format!("mailbox {mailbox}: ACL names reserved id {key}")))?;
            entries.push(AclEntry::from_value(identifier, value.value()));
        }
        Ok(Some(Acl { owner: record.user_id, entries }))
    }

    /// What `user` (logged in) may do on `mailbox` (MYRIGHTS, and every
    /// command's check): every right for the owner; for anyone else, the
    /// rights their entry, `authenticated` and `anyone` grant, less those
    /// the same entries deny (RFC 4314 §2). None if there is no such mailbox.
    pub fn rights_of(&self, user: u32, mailbox: u64) -> Result<Option<Rights>, StoreError> {
        let Some(record) = self.mailbox(mailbox)? else { return Ok(None) };
        if record.user_id == user {
            return Ok(Some(Rights::ALL));
        }
        self.granted_to(user, mailbox).map(Some)
    }

    /// What the ACL entries of `mailbox` give `user` (not its owner).
    fn granted_to(&self, user: u32, mailbox: u64) -> Result<Rights, StoreError> {
        let table = self.table(super::schema::ACL)?;
        let (mut granted, mut denied) = (Rights::NONE, Rights::NONE);
        for key in [user, AUTHENTICATED, ANYONE] {
            if let Some(value) = table.get((mailbox, key))? {
                let entry = AclEntry::from_value(Identifier::Anyone, value.value());
                granted = granted.union(entry.granted);
                denied = denied.union(entry.denied);
            }
        }
        Ok(granted.difference(denied))
    }

    /// The mailboxes of others on which `user` holds any right through the
    /// ACLs (their own entry, `authenticated` or `anyone`), with those
    /// rights, by mailbox id. Three range reads of the grantee index and
    /// one lookup per candidate; the caller keeps those with `l` for LIST.
    pub fn shared_with(&self, user: u32) -> Result<Vec<(u64, Rights)>, StoreError> {
        let mut found = Vec::new();
        for mailbox in self.shared_candidates(user)? {
            // Their own mailbox (an `anyone` entry on it) is not shared with them.
            if self.mailbox(mailbox)?.is_none_or(|record| record.user_id == user) {
                continue;
            }
            let rights = self.granted_to(user, mailbox)?;
            if !rights.is_empty() {
                found.push((mailbox, rights));
            }
        }
        Ok(found)
    }

    /// The mailboxes whose ACL names `user`, `authenticated` or `anyone`,
    /// ascending and without repeats: the three range reads of
    /// [`Reader::shared_with`], for callers that look the candidates up
    /// in steps of their own (LIST paces them; `rights_of` each).
    pub fn shared_candidates(&self, user: u32) -> Result<Vec<u64>, StoreError> {
        let grantees = self.table(super::schema::ACL_GRANTEES)?;
        let mut candidates = Vec::new();
        for key in [user, AUTHENTICATED, ANYONE] {
            for row in grantees.range((key, 0)..=(key, u64::MAX))? {
                candidates.push(row?.0.value().1);
            }
        }
        candidates.sort_unstable();
        candidates.dedup();
        Ok(candidates)
    }

    /// The UIDs from `low` to `high` of `mailbox` that are \Seen for
    /// `user` privately (a mailbox they do not own), ascending.
    pub fn private_seen(&self, mailbox: u64, user: u32, low: u32, high: u32) -> Result<Vec<u32>, StoreError> {
        let mut uids = Vec::new();
        for row in self.table(super::schema::PRIVATE_SEEN)?.range((mailbox, user, low)..=(mailbox, user, high))? {
            uids.push(row?.0.value().2);
        }
        Ok(uids)
    }

    /// How many of `mailbox`'s messages are unseen for `user`, who keeps
    /// their \Seen privately there (not the owner): its messages less
    /// their rows (rows go with their messages, so each is a message that
    /// exists). One walk of the user's rows: at most the mailbox's size.
    pub fn private_unseen(&self, mailbox: u64, user: u32) -> Result<u32, StoreError> {
        let Some(record) = self.mailbox(mailbox)? else { return Err(StoreError::NoSuchMailbox) };
        let table = self.table(super::schema::PRIVATE_SEEN)?;
        let seen = table.range((mailbox, user, 0)..=(mailbox, user, u32::MAX))?.count();
        Ok(record.messages.saturating_sub(u32::try_from(seen).unwrap_or(u32::MAX)))
    }

    /// `user`'s own state of message `uid` of `mailbox` (a mailbox they
    /// do not own; nothing for one they never changed).
    #[cfg(test)] // FETCH reads through `Snapshot`; the store tests through this
    pub fn private_flags(&self, mailbox: u64, user: u32, uid: u32) -> Result<PrivateFlags, StoreError> {
        let table = self.table(super::schema::PRIVATE_FLAGS)?;
        Ok(PrivateFlags::decode(table.get((mailbox, user, uid))?.map(|value| value.value())))
    }

    /// A cursor over `user`'s own rows of `mailbox`'s messages
    /// `low..=high`, for walks in ascending UID order (SEARCH).
    pub fn private_cursor(&self, mailbox: u64, user: u32, low: u32, high: u32) -> Result<PrivateCursor, StoreError> {
        let table = self.table(super::schema::PRIVATE_FLAGS)?;
        Ok(PrivateCursor { range: table.range((mailbox, user, low)..=(mailbox, user, high))?, current: None })
    }

    /// Rows of `user`'s own change index of `mailbox` from `(modseq, uid)`
    /// on, like [`Reader::changes_from`].
    pub fn private_changes_from(
        &self,
        mailbox: u64,
        user: u32,
        (modseq, uid): (u64, u32),
    ) -> Result<impl Iterator<Item = Result<(u64, u32), StoreError>>, StoreError> {
        let table = self.table(super::schema::PRIVATE_CHANGES)?;
        let range = table.range((mailbox, user, modseq, uid)..=(mailbox, user, u64::MAX, u32::MAX))?;
        Ok(range.map(|entry| {
            let (_, _, modseq, uid) = entry?.0.value();
            Ok((modseq, uid))
        }))
    }

    /// The highest modseq of `user`'s own changes in `mailbox` up to
    /// `until` (0: none).
    pub fn highest_private_modseq(&self, mailbox: u64, user: u32, until: u64) -> Result<u64, StoreError> {
        let table = self.table(super::schema::PRIVATE_CHANGES)?;
        let last = table.range((mailbox, user, 0, 0)..=(mailbox, user, until, u32::MAX))?.next_back();
        Ok(match last {
            Some(row) => row?.0.value().2,
            None => 0,
        })
    }

    /// The highest modseq of a change every user of `mailbox` (record
    /// `record`) sees: its counter, unless private changes came last.
    pub fn shared_modseq(&self, mailbox: u64, record: &MailboxRecord) -> Result<u64, StoreError> {
        let row = self.table(super::schema::SHARED_MODSEQ)?.get(mailbox)?.map(|value| value.value());
        Ok(shared_modseq(row, record))
    }

    /// HIGHESTMODSEQ of `mailbox` for `user` (STATUS, SELECT, NOTIFY): the
    /// highest shared modseq, or their own highest private one if larger
    /// (module docs). For the owner, the highest shared modseq: readers'
    /// private changes are theirs alone.
    pub fn highest_modseq_for(&self, mailbox: u64, user: u32) -> Result<u64, StoreError> {
        let record = self.mailbox(mailbox)?.ok_or(StoreError::NoSuchMailbox)?;
        let shared = self.shared_modseq(mailbox, &record)?;
        Ok(shared.max(self.highest_private_modseq(mailbox, user, u64::MAX)?))
    }

    /// The mailboxes that have ACL entries, ascending (`roost share list`).
    pub fn mailboxes_with_acl(&self) -> Result<Vec<u64>, StoreError> {
        let mut found: Vec<u64> = Vec::new();
        for row in self.table(super::schema::ACL)?.iter()? {
            let mailbox = row?.0.value().0;
            if found.last() != Some(&mailbox) {
                found.push(mailbox);
            }
        }
        Ok(found)
    }

    /// Every row of the ACL tables, for `roost check`: (mailbox, key,
    /// value) and (key, mailbox).
    pub(super) fn acl_rows(&self) -> Result<RowPairs, StoreError> {
        let mut forward = Vec::new();
        if let Some(table) = self.table_if_any(super::schema::ACL)? {
            for row in table.iter()? {
                let (key, value) = row?;
                let (mailbox, identifier) = key.value();
                forward.push((mailbox, identifier, value.value()));
            }
        }
        let mut reverse = Vec::new();
        if let Some(table) = self.table_if_any(super::schema::ACL_GRANTEES)? {
            for row in table.iter()? {
                reverse.push(row?.0.value());
            }
        }
        Ok((forward, reverse))
    }

    /// Every private \Seen row and every (user, mailbox) of the per-user
    /// table, for `roost check`.
    pub(super) fn private_seen_rows(&self) -> Result<RowPairs, StoreError> {
        let mut rows = Vec::new();
        if let Some(table) = self.table_if_any(super::schema::PRIVATE_SEEN)? {
            for row in table.iter()? {
                rows.push(row?.0.value());
            }
        }
        let mut by_user = Vec::new();
        if let Some(table) = self.table_if_any(super::schema::PRIVATE_SEEN_MAILBOXES)? {
            for row in table.iter()? {
                by_user.push(row?.0.value());
            }
        }
        Ok((rows, by_user))
    }

    /// Every row of the private flags and of the private change index,
    /// and every shared-modseq row, for `roost check`.
    pub(super) fn private_change_rows(&self) -> Result<PrivateRows, StoreError> {
        let mut flags = Vec::new();
        if let Some(table) = self.table_if_any(super::schema::PRIVATE_FLAGS)? {
            for row in table.iter()? {
                let (key, value) = row?;
                let (mailbox, user, uid) = key.value();
                flags.push((mailbox, user, uid, PrivateFlags::decode(Some(value.value()))));
            }
        }
        let mut changes = Vec::new();
        if let Some(table) = self.table_if_any(super::schema::PRIVATE_CHANGES)? {
            for row in table.iter()? {
                changes.push(row?.0.value());
            }
        }
        let mut shared = Vec::new();
        if let Some(table) = self.table_if_any(super::schema::SHARED_MODSEQ)? {
            for row in table.iter()? {
                let (key, value) = row?;
                shared.push((key.value(), value.value()));
            }
        }
        Ok(PrivateRows { flags, changes, shared })
    }
}

/// What [`Reader::private_change_rows`] reads.
pub(super) struct PrivateRows {
    pub flags: Vec<(u64, u32, u32, PrivateFlags)>,
    pub changes: Vec<(u64, u32, u64, u32)>,
    pub shared: Vec<(u64, (u64, u64))>,
}

/// One user's private rows of one mailbox in ascending UID order, like
/// the message cursor: a SEARCH of every message reads each page once.
pub struct PrivateCursor {
    range: super::rows::Range<'static, (u64, u32, u32), u64>,
    current: Option<(u32, u64)>,
}

impl PrivateCursor {
    /// The user's state of `uid`. UIDs must not go down.
    pub fn find(&mut self, uid: u32) -> Result<PrivateFlags, StoreError> {
        while self.current.is_none_or(|(found, _)| found < uid) {
            let Some(entry) = self.range.next() else {
                self.current = None;
                return Ok(PrivateFlags::default());
            };
            let (key, value) = entry?;
            self.current = Some((key.value().2, value.value()));
        }
        Ok(PrivateFlags::decode(self.current.filter(|(found, _)| *found == uid).map(|(_, value)| value)))
    }
}
