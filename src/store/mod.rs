//! The store: every user's mail in one redb file.
//!
//! The only code that opens a redb transaction. Above this module, mail is
//! typed operations (a method per write, [`Op`] for those that answer
//! nothing) and typed reads ([`Reader`]); nothing else knows redb exists.
//!
//! Each write answers its own type: [`Store::append`] an [`Appended`],
//! [`Store::copy`] a [`Copied`], [`Store::set_flags`] a [`Stored`],
//! [`Store::expunge`] an [`Expunged`], [`Store::create_mailbox`] the new
//! id, [`Store::execute`] `()`. A caller cannot be handed another
//! operation's answer, so it has no arm for one. The pairing is made by
//! type, not checked at run time: each variant of the private `Request`
//! holds an operation's arguments together with a `Reply<T>` of that
//! operation's answer type, and the store thread applies a variant with
//! the one function that returns that `T`. One shared answer enum
//! converted inside the store would also have spared the callers their
//! fallback arms, but a wrong answer would then be a run-time bug in that
//! conversion; here it does not compile. Behind the variant, the store
//! thread handles every reply alike (`Pending`): an answer kept until the
//! group's commit decides whether it stands or becomes the group's error.
//!
//! Writes go to one store thread ([`writer`]) that commits in groups: every
//! operation that arrives while a commit is flushing joins the next
//! transaction, and each caller is answered only when its change is durable.
//! Reads open a read transaction on the caller's thread. Work that writes
//! to a client while it reads uses a [`Snapshot`], which it closes before
//! each socket write that may block and re-opens after: a read transaction
//! left open while a client does not read would keep redb from reusing
//! any page freed after it, and the file would grow with every write.
//!
//! Access control (RFC 4314 ACLs), the household's public mailboxes and
//! per-user \Seen (with per-user modseqs) are stored here too, with their
//! decisions written in [`acl`].
//!
//! Deleting mail works even when the disk is completely full: the store
//! thread then gives back a ballast file's blocks first ([`ballast`], which
//! also says why the room cannot be kept inside redb's own file), and
//! [`disk_usage`] tells how full the disk is. Old messages in Trash and
//! Junk are found and expunged in batches ([`retention`]).
//!
//! Answers travel back through one ordered channel to [`hub::pump`], which
//! runs on the session executor: it applies each commit's changes to the
//! shared mailbox views in commit order and only then wakes the callers, so
//! a session that receives its answer already sees its own change.

pub mod acl;
pub mod backup;
mod ballast;
pub mod check;
mod codec;
pub mod fts;
pub mod hub;
pub mod import;
pub mod incoming;
mod migrate;
mod ops;
pub mod quota;
mod reader;
mod retention;
mod rows;
mod schema;
mod structure_codec;
mod writer;

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;

use redb::{Database, ReadableDatabase};
use smol::channel::{self, Receiver, Sender};

#[cfg(test)]
pub use acl::{Acl, Modifier};
pub use acl::{AclEntry, Identifier, Rights, RightsChange};
pub use ballast::{log_disk_usage, set_ballast_size};
// For `roost status` (issue 17), which reports how full the disk is.
pub use acl::{PrivateCursor, ReaderRights};
#[allow(unused_imports)]
pub use ballast::{disk_usage, human_bytes, DiskUsage, BALLAST_FILE};
pub use hub::{Hub, Preloaded};
#[cfg(test)]
pub use ops::SHARED_ROOT;
pub use ops::{DELIMITER, INBOX};
pub use reader::{
    structure_of, BlobCursor, ChunkReader, KnownLogins, MessageCursor, Reader, SaveDateCursor, Snapshot, SummaryCursor,
    PIECE,
};
pub use schema::{
    indexed_condition, BanRecord, BlobRecord, DeviceRecord, DeviceSource, FailureReason, Flags, LoginEntry,
    LoginOutcome, MailboxRecord, MessageRecord, SpecialUse, UserRecord, CHUNK_SIZE,
};
#[cfg_attr(not(test), allow(unused_imports))]
pub use schema::{PUBLIC_OWNER, RESERVED_IDS};

use crate::util::datetime::DateTime;

/// Passes on the answer of an operation that stored new mail, telling
/// the search indexer (`fts::indexer`) that messages wait for it.
fn stored<T>(answer: Result<T, StoreError>) -> Result<T, StoreError> {
    if answer.is_ok() {
        crate::fts::indexer::wake(false);
    }
    answer
}

/// The database file's name in the data directory.
pub const DATABASE_FILE: &str = "roost.redb";

/// Most keywords one mailbox can define (a message keeps them as 64 bits).
pub const MAX_KEYWORDS: usize = 64;
/// Most mailboxes one user can have.
pub const MAX_MAILBOXES: usize = 10_000;
/// Device passwords one user may have: a login hashes the password once
/// per device (a salted SHA-256 each), so the bound keeps that cheap.
pub const MAX_DEVICES: usize = 32;
/// Expunged UIDs remembered per mailbox, for clients that resynchronise,
/// unless the board says otherwise ([`set_expunge_history`]).
pub const EXPUNGE_HISTORY: u32 = 100_000;

static EXPUNGE_HISTORY_LIMIT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(EXPUNGE_HISTORY);

/// Sets how many expunged UIDs each mailbox remembers (the board's
/// `expunge_history`). Process-wide: the one store of a server follows it.
/// UIDs read between yields when a SELECT loads a mailbox's UID list (about
/// half a millisecond of reading on the bench machine).
pub const PRELOAD_BATCH: usize = 4096;

pub fn set_expunge_history(limit: u32) {
    EXPUNGE_HISTORY_LIMIT.store(limit.max(1), std::sync::atomic::Ordering::Relaxed);
}

fn expunge_history() -> u32 {
    EXPUNGE_HISTORY_LIMIT.load(std::sync::atomic::Ordering::Relaxed)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    NoSuchUser,
    UserExists,
    NoSuchMailbox,
    MailboxExists,
    /// RFC 3501 DELETE: a \Noselect name with children cannot be deleted.
    HasChildren,
    CannotDeleteInbox,
    /// The mailbox is only a \Noselect placeholder.
    NotSelectable,
    /// RENAME of a mailbox into its own subtree.
    RenameIntoChild,
    TooManyKeywords,
    TooManyMailboxes,
    /// A device password of that name exists for this user.
    DeviceExists,
    NoSuchDevice,
    /// The user has [`MAX_DEVICES`] device passwords already.
    TooManyDevices,
    /// A blob being written has vanished (aborted, or the server restarted).
    NoSuchBlob,
    /// The database file is held by another roost process.
    Locked,
    /// The file was not closed cleanly and a read-only open cannot repair it.
    NeedsRepair,
    /// A read-only open of a file whose tables another roost version laid
    /// out (`store::migrate`): the table named.
    OtherLayout(String),
    /// Refused: the disk is nearly full (the board's `min_free_disk`).
    NoSpace,
    /// A record that does not decode, or counters that disagree.
    Corrupt(String),
    /// The disk or the database engine failed; nothing of the operation was kept.
    Io(String),
    /// The disk filled up under the database engine (ENOSPC, EDQUOT: the
    /// `min_free_disk` reserve did not hold, e.g. another program filled
    /// the disk): a storage failure like [`StoreError::Io`], which the
    /// store thread treats the same, but told to clients as a full disk.
    DiskFull(String),
    /// A bug in roost caught at run time; nothing of the operation was kept.
    Bug(String),
    /// An ACL change (or a private \Seen) naming the mailbox's owner, who
    /// holds every right always (RFC 4314 §2; see [`acl`]).
    OwnerRights,
    /// Every user id below the reserved ones is taken.
    TooManyUsers,
    /// Refused: it would take an owner (or the household) over a quota
    /// limit (RFC 9208); the reason in plain words (see [`quota`]).
    OverQuota(String),
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::NoSuchUser => write!(f, "no such user"),
            StoreError::UserExists => write!(f, "user already exists"),
            StoreError::NoSuchMailbox => write!(f, "mailbox does not exist"),
            StoreError::MailboxExists => write!(f, "mailbox already exists"),
            StoreError::HasChildren => write!(f, "mailbox has children; delete them first"),
            StoreError::CannotDeleteInbox => write!(f, "INBOX cannot be deleted"),
            StoreError::NotSelectable => write!(f, "mailbox is not selectable (\\Noselect)"),
            StoreError::RenameIntoChild => write!(f, "cannot rename a mailbox into itself"),
            StoreError::TooManyKeywords => write!(f, "too many keywords in this mailbox"),
            StoreError::TooManyMailboxes => write!(f, "too many mailboxes"),
            StoreError::DeviceExists => write!(f, "this user already has a device password of that name"),
            StoreError::NoSuchDevice => write!(f, "this user has no device password of that name"),
            StoreError::TooManyDevices => write!(f, "this user has {MAX_DEVICES} device passwords already"),
            StoreError::NoSuchBlob => write!(f, "message upload was abandoned"),
            StoreError::Locked => write!(f, "the database is in use by another roost process"),
            StoreError::NeedsRepair => write!(f, "the database was not closed cleanly and needs a repair"),
            StoreError::OtherLayout(table) => write!(
                f,
                "the database's table {table} is laid out by another roost version (this roost moves an older \
                 file to its own layout when it opens it for writing, and cannot read a newer one)"
            ),
            StoreError::NoSpace => write!(f, "not enough disk space"),
            StoreError::Corrupt(what) => write!(f, "database damage: {what}"),
            StoreError::Io(what) => write!(f, "storage failure: {what}"),
            StoreError::DiskFull(what) => write!(f, "storage failure, disk full: {what}"),
            StoreError::Bug(what) => write!(f, "internal error: {what}"),
            StoreError::TooManyUsers => write!(f, "no user id is left"),
            StoreError::OwnerRights => write!(f, "the owner of a mailbox always has every right on it"),
            StoreError::OverQuota(reason) => write!(f, "over quota: {reason}"),
        }
    }
}

impl std::error::Error for StoreError {}

/// Whether an I/O error says the disk (or the user's disk quota) is full:
/// decided by the error's kind, never by its text.
fn is_disk_full(error: &std::io::Error) -> bool {
    error.kind() == std::io::ErrorKind::StorageFull
        || error.kind() == std::io::ErrorKind::QuotaExceeded
        || matches!(error.raw_os_error(), Some(code) if code == rustix::io::Errno::NOSPC.raw_os_error()
            || code == rustix::io::Errno::DQUOT.raw_os_error())
}

impl StoreError {
    /// An I/O failure, as [`StoreError::DiskFull`] when the disk is full.
    fn from_io(io: Option<&std::io::Error>, text: String) -> StoreError {
        match io {
            Some(io) if is_disk_full(io) => StoreError::DiskFull(text),
            _ => StoreError::Io(text),
        }
    }
}

/// The I/O error inside a redb error, when there is one.
fn storage_io(error: &redb::StorageError) -> Option<&std::io::Error> {
    match error {
        redb::StorageError::Io(io) => Some(io),
        _ => None,
    }
}

impl From<std::io::Error> for StoreError {
    fn from(error: std::io::Error) -> StoreError {
        StoreError::from_io(Some(&error), error.to_string())
    }
}

impl From<redb::StorageError> for StoreError {
    fn from(error: redb::StorageError) -> StoreError {
        StoreError::from_io(storage_io(&error), error.to_string())
    }
}

macro_rules! redb_errors {
    ($($error:ident),*) => {$(
        impl From<redb::$error> for StoreError {
            fn from(error: redb::$error) -> StoreError {
                let io = match &error {
                    redb::$error::Storage(storage) => storage_io(storage),
                    _ => None,
                };
                StoreError::from_io(io, error.to_string())
            }
        }
    )*};
}
redb_errors!(TransactionError, CommitError);

impl From<redb::TableError> for StoreError {
    fn from(error: redb::TableError) -> StoreError {
        match error {
            // Opened read-only (`roost check`, a backup's check) before
            // any roost of this version opened it for writing.
            redb::TableError::TableTypeMismatch { table, .. } => StoreError::OtherLayout(table),
            redb::TableError::Storage(storage) => storage.into(),
            other => StoreError::from_io(None, other.to_string()),
        }
    }
}

impl From<redb::DatabaseError> for StoreError {
    fn from(error: redb::DatabaseError) -> StoreError {
        match error {
            redb::DatabaseError::DatabaseAlreadyOpen => StoreError::Locked,
            redb::DatabaseError::RepairAborted => StoreError::NeedsRepair,
            other => StoreError::Io(other.to_string()),
        }
    }
}

/// Sorted, disjoint, inclusive UID ranges.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UidSet(pub Vec<(u32, u32)>);

impl UidSet {
    /// Builds a set from UIDs in ascending order, merging runs.
    pub fn from_sorted(uids: impl IntoIterator<Item = u32>) -> UidSet {
        let mut ranges: Vec<(u32, u32)> = Vec::new();
        for uid in uids {
            match ranges.last_mut() {
                Some(last) if last.1.checked_add(1) == Some(uid) => last.1 = uid,
                _ => ranges.push((uid, uid)),
            }
        }
        UidSet(ranges)
    }
}

pub use crate::mail::FlagAction;

#[derive(Clone, Debug)]
pub struct NewMessage {
    pub blob: u64,
    pub size: u64,
    pub header_size: u64,
    pub structure: Vec<u8>,
    pub summary: Option<Vec<u8>>,
    /// The RFC 8970 preview (`mime::preview`), computed as it arrived.
    pub preview: Option<String>,
    pub flags: Flags,
    pub keywords: Vec<String>,
    pub internal_date: DateTime,
}

/// What a STORE (or a FETCH that sets \Seen) does to the flags of each
/// message it names.
#[derive(Clone, Debug)]
pub struct FlagChange {
    pub action: FlagAction,
    pub flags: Flags,
    pub keywords: Vec<String>,
    /// RFC 7162 UNCHANGEDSINCE: messages whose modseq is above it are
    /// left alone and listed in [`Stored`]'s `modified`.
    pub unchanged_since: Option<u64>,
}

/// A change to the store that answers nothing but success or failure
/// ([`Store::execute`], or [`Store::submit`] when nobody waits). The
/// changes that answer more each have their own method on [`Store`].
/// Mailboxes are named by id: callers resolve names with a [`Reader`],
/// and every operation checks again that its mailboxes still exist, since
/// another session may have deleted them in between.
#[derive(Clone, Debug)]
pub enum Op {
    AddUser {
        name: String,
        password_hash: String,
    },
    SetPassword {
        name: String,
        password_hash: String,
    },
    DeleteUser {
        name: String,
    },
    /// A new device password of user `user` (see `auth::device`).
    AddDevice {
        user: String,
        device: String,
        record: DeviceRecord,
    },
    DeleteDevice {
        user: String,
        device: String,
    },
    /// Whether only device passwords log `user` in over IMAP.
    SetDeviceOnly {
        user: String,
        on: bool,
    },
    /// A login with device password `device` of user id `user` at `when`
    /// (unix seconds) from `address`; not durable before the answer.
    DeviceUsed {
        user: u32,
        device: String,
        when: i64,
        address: String,
    },
    /// A login (or refusal) for the history of user id `user`, which keeps
    /// at most `keep` entries; not durable before the answer.
    RecordLogin {
        user: u32,
        entry: LoginEntry,
        keep: u32,
    },
    DeleteMailbox {
        user: u32,
        name: String,
    },
    RenameMailbox {
        user: u32,
        from: String,
        to: String,
    },
    Subscribe {
        user: u32,
        name: String,
        subscribed: bool,
    },
    DiscardBlobs {
        blobs: Vec<u64>,
    },
    /// Records that messages below `uid` have been shown as \Recent.
    SetFirstRecent {
        mailbox: u64,
        uid: u32,
    },
    /// Bans an address (or prefix), or updates its ban (see `auth::ban`).
    SetBan {
        address: String,
        ban: BanRecord,
    },
    /// Forgets the bans of these addresses (lifted, or past remembering).
    DeleteBans {
        addresses: Vec<String>,
    },
    /// A successful login of `user` from `address` (the text of its
    /// `limit_key`), with `device`'s password if one was used, at `at`
    /// (unix seconds): see `auth::protect`. Not durable on its own.
    RecordKnownLogin {
        user: u32,
        address: String,
        device: Option<String>,
        at: u64,
    },
    /// An alert of `kind` was sent to `user` at `at` (see `crate::alert`).
    /// Sets user `name`'s own quota limits (`roost user quota`, SETQUOTA).
    SetQuota {
        name: String,
        storage: quota::Setting,
        messages: quota::Setting,
    },
    RecordAlert {
        user: u32,
        kind: u8,
        at: u64,
    },
    /// A segment of the full-text index, built by the indexer
    /// (`fts::indexer`); `replacing` the segments it merges, if any (see
    /// [`fts`]). Not durable on its own: its blobs stay queued until it
    /// is, so a crash loses only indexing work.
    FtsSegment {
        segment: Box<crate::fts::segment::Segment>,
        replacing: Vec<u64>,
    },
    /// `roost reindex`: queues every stored message of user id `user`
    /// (of everyone when None) for the full-text indexer.
    FtsEnqueue {
        user: Option<u32>,
    },
    /// Panics inside the store thread (tests of its isolation).
    #[cfg(test)]
    Panic,
}

impl Op {
    /// Whether the caller is told of success only after an fsync (the
    /// operations with answers of their own: [`Request::needs_durability`]).
    fn needs_durability(&self) -> bool {
        // A login's traces (history, a device's last use, known addresses)
        // and alert times are not worth an fsync each: webmail logs in on
        // every click. They are committed with the next group, durably
        // whenever that group holds mail; a crash loses at most the last
        // few (an alert more or fewer, a history count).
        !matches!(
            self,
            Op::DiscardBlobs { .. }
                | Op::SetFirstRecent { .. }
                | Op::DeviceUsed { .. }
                | Op::RecordLogin { .. }
                | Op::RecordKnownLogin { .. }
                | Op::RecordAlert { .. }
                | Op::FtsSegment { .. }
        )
    }
}

/// The flags a copy keeps ([`Store::copy_keeping`]): the system flags in
/// `flags`, and the keywords when `keywords`; and whose own \Seen the
/// copies carry across owners (`copier`: the user copying, when they may
/// keep a \Seen in the target, RFC 4314 `s`; see `ops::copy`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeptFlags {
    pub flags: Flags,
    pub keywords: bool,
    pub copier: Option<u32>,
}

impl KeptFlags {
    pub const ALL: KeptFlags = KeptFlags { flags: Flags(u8::MAX), keywords: true, copier: None };
}

/// Messages added to a mailbox ([`Store::append`], [`Store::replace`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Appended {
    pub uid_validity: u32,
    pub first_uid: u32,
    pub last_uid: u32,
}

/// Flags changed ([`Store::set_flags`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stored {
    /// The mailbox's modseq after the change (unchanged if nothing changed).
    pub modseq: u64,
    pub changed: u32,
    /// UIDs refused by UNCHANGEDSINCE, ascending.
    pub modified: Vec<u32>,
}

/// Messages copied or moved ([`Store::copy`]): `source` holds the source
/// UIDs that existed, ascending; they became `first_uid..` in the target,
/// in the same order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Copied {
    pub uid_validity: u32,
    pub source: Vec<u32>,
    pub first_uid: u32,
}

/// A message delivered ([`Store::deliver`]): the UID it got in each
/// mailbox, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivered {
    pub uids: Vec<u32>,
    /// The mailboxes left out because the quota refused them, each with
    /// the reason (the UIDs above are those of the others, in order).
    pub refused: Vec<(u64, String)>,
}

/// Messages expunged ([`Store::expunge`]), ascending.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expunged {
    pub uids: Vec<u32>,
}

/// What a committed transaction changed, for the sessions that watch a mailbox.
#[derive(Clone, Debug)]
pub enum Change {
    Appended {
        mailbox: u64,
        first_uid: u32,
        last_uid: u32,
        modseq: u64,
    },
    Expunged {
        mailbox: u64,
        uids: Vec<u32>,
        modseq: u64,
    },
    /// Flags changed; `keywords` is the new keyword list when it grew.
    /// `private_to`: only that user's own \Seen changed (see [`acl`]):
    /// the modseq is theirs alone, other users' sessions report nothing.
    Flags {
        mailbox: u64,
        modseq: u64,
        keywords: Option<Vec<String>>,
        private_to: Option<u32>,
    },
    Deleted {
        mailbox: u64,
    },
    /// Something of `user`'s changed: a mailbox's messages or flags, its
    /// mailboxes or subscriptions. Wakes that user's NOTIFY sessions (RFC
    /// 5465), which work out what changed themselves.
    User {
        user: u32,
    },
    /// Someone's rights changed (SETACL, DELETEACL, `roost share`, a user
    /// deleted): on `mailbox`, or anywhere (None). Sessions check the
    /// rights of their selected mailbox again (RFC 4314 §5.1.1, see
    /// `imap::session::rights`); the hub counts these.
    Rights {
        mailbox: Option<u64>,
    },
    /// `user`'s use of their quota reached the `[quota] warn` level
    /// `percent` (once per upward crossing, see [`quota`]).
    QuotaWarning {
        user: u32,
        percent: u8,
    },
}

/// A change on its way to the store thread, with the reply its caller
/// waits on. Each variant pairs an operation with a [`Reply`] of that
/// operation's answer type (see the module documentation).
enum Request {
    /// An operation that answers nothing but success or failure.
    Op {
        op: Op,
        reply: Reply<()>,
    },
    /// A mailbox (CREATE): answers its id, for RFC 8474 MAILBOXID. With
    /// `inherit`, each mailbox made takes the ACL of the nearest parent
    /// that existed before (RFC 4314 §4: CREATE SHOULD copy it).
    CreateMailbox {
        user: u32,
        name: String,
        special_use: Option<SpecialUse>,
        inherit: bool,
        reply: Reply<u64>,
    },
    /// Adds chunks to a blob being received (`blob: None` starts one);
    /// answers the blob's id. `data` holds whole chunks, except at the end
    /// of the message.
    WriteBlob {
        blob: Option<u64>,
        first_chunk: u32,
        data: Vec<u8>,
        reply: Reply<u64>,
    },
    Append {
        mailbox: u64,
        messages: Vec<NewMessage>,
        reply: Reply<Appended>,
    },
    /// REPLACE (RFC 8508): `message` appended to `mailbox` and message `uid`
    /// of mailbox `from` expunged (whatever its flags), in one transaction.
    /// The old message being gone already (another session expunged it)
    /// does not stop the append.
    Replace {
        mailbox: u64,
        message: NewMessage,
        from: u64,
        uid: u32,
        reply: Reply<Appended>,
    },
    /// One delivered message, stored once and added to each of `mailboxes`
    /// (distinct): its blob counts one reference per mailbox.
    Deliver {
        message: NewMessage,
        mailboxes: Vec<u64>,
        /// Whether the quota may refuse mailboxes (not for notices).
        enforce: bool,
        reply: Reply<Delivered>,
    },
    SetFlags {
        mailbox: u64,
        uids: UidSet,
        change: FlagChange,
        reply: Reply<Stored>,
    },
    Copy {
        from: u64,
        to: u64,
        uids: UidSet,
        remove: bool,
        keep: KeptFlags,
        reply: Reply<Copied>,
    },
    /// Expunges the \Deleted messages (only those in `uids`, if given).
    Expunge {
        mailbox: u64,
        uids: Option<UidSet>,
        reply: Reply<Expunged>,
    },
    /// Retention: expunges the messages `uids` of `mailbox` that arrived
    /// before `before` (unix seconds), whatever their flags.
    Expire {
        mailbox: u64,
        uids: UidSet,
        before: i64,
        reply: Reply<Expunged>,
    },
    /// SETACL / DELETEACL: answers the entry as it is after the change.
    SetRights {
        mailbox: u64,
        change: RightsChange,
        reply: Reply<AclEntry>,
    },
    /// A mailbox of the household's (`Family/…`) with its default ACL.
    CreatePublicMailbox {
        name: String,
        special_use: Option<SpecialUse>,
        entries: Vec<AclEntry>,
        reply: Reply<u64>,
    },
    /// STORE by a user in a mailbox they do not own (see [`acl`]).
    SetFlagsAs {
        mailbox: u64,
        uids: UidSet,
        change: FlagChange,
        rights: ReaderRights,
        reply: Reply<Stored>,
    },
    /// `roost import`: messages added to `mailbox` unless an import put
    /// them there before (see [`import`]).
    Import {
        mailbox: u64,
        messages: Vec<import::ImportMessage>,
        reply: Reply<Vec<import::Imported>>,
    },
    /// Sets or clears one user's own \Seen in a mailbox they do not own.
    SetPrivateSeen {
        mailbox: u64,
        user: u32,
        uids: UidSet,
        seen: bool,
        reply: Reply<Stored>,
    },
    /// The watchdog's question (see [`Store::ping`]): no transaction.
    Ping {
        reply: Reply<()>,
    },
}

/// Where one operation's answer goes: its caller's channel (none when
/// nobody waits) and, once the store thread has an answer, that answer,
/// kept until the transaction's fate is known.
struct Reply<T> {
    caller: Option<Sender<Result<T, StoreError>>>,
    result: Option<Result<T, StoreError>>,
}

impl<T> Reply<T> {
    fn to(caller: Option<Sender<Result<T, StoreError>>>) -> Reply<T> {
        Reply { caller, result: None }
    }
}

/// An answer ready to be handed to its caller, whatever its type.
type Answer = Box<dyn FnOnce() + Send>;

/// The store thread's side of a [`Reply`], whatever its answer's type.
trait Pending {
    /// Makes `error` the answer (refused, or the transaction was lost).
    fn fail(&mut self, error: StoreError);
    /// The answer, ready to hand over (none when nobody waits).
    fn answer(&mut self) -> Option<Answer>;
}

impl<T: Send + 'static> Pending for Reply<T> {
    fn fail(&mut self, error: StoreError) {
        self.result = Some(Err(error));
    }

    fn answer(&mut self) -> Option<Answer> {
        let caller = self.caller.take()?;
        // Every request gets an answer before its group is answered; a
        // missing one would be a bug of the store thread, said as one.
        let result = self.result.take().unwrap_or_else(|| Err(StoreError::Bug("the store kept no answer".into())));
        Some(Box::new(move || {
            let _ = caller.try_send(result);
        }))
    }
}

/// One commit's answers, in the order the operations were applied.
struct Committed {
    answers: Vec<Answer>,
    changes: Vec<Change>,
    /// Set once, when storage fails for good (see [`Store::failed`]).
    failed: Option<String>,
}

/// The handle sessions use: typed writes through the store thread, typed
/// reads on the calling thread, and the shared mailbox views.
pub struct Store {
    db: Arc<Database>,
    requests: Sender<Request>,
    hub: Rc<RefCell<Hub>>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// Closed by the pump when storage has failed for good.
    failure: Receiver<()>,
    /// Backups being copied ([`Store::backup`]): told to stop and waited
    /// for when the store closes, so the database closes cleanly.
    backups: RefCell<Vec<std::thread::JoinHandle<()>>>,
    cancel_backups: Arc<std::sync::atomic::AtomicBool>,
}

impl Drop for Store {
    /// Lets the store thread finish what is queued, then waits for it, so
    /// the database is closed cleanly (no repair at the next open).
    fn drop(&mut self) {
        self.cancel_backups.store(true, std::sync::atomic::Ordering::Relaxed);
        for backup in self.backups.get_mut().drain(..) {
            let _ = backup.join();
        }
        self.requests.close();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Runs on the session executor for as long as the store lives; see the
/// module documentation.
pub type Pump = std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>;

impl Store {
    /// Opens (creating if needed) the database and starts the store thread.
    /// The returned [`Pump`] must be spawned on the executor that uses the store.
    /// `reserve`: bytes of disk kept free (see [`StoreError::NoSpace`]).
    pub fn open(path: &Path, cache_bytes: usize, reserve: u64) -> Result<(Rc<Store>, Pump), StoreError> {
        let free_space = writer::filesystem_free_space(path);
        let size = ballast::ballast_size();
        // No reserve (a read-only command): no ballast made either.
        let ballast = (size > 0 && reserve > 0).then(|| ballast::Ballast::beside(path, size));
        if let Some(ballast) = &ballast {
            // Opening commits too (the schema check, quick-repair's
            // allocator state): on a full disk it needs the ballast's room,
            // or neither the server nor an offline `user del` could start.
            if free_space() < writer::DELETE_ROOM {
                ballast.release();
            }
        }
        let database = writer::open_database(path, cache_bytes)?;
        if let Some(ballast) = &ballast {
            ballast.fill_now(free_space(), reserve);
        }
        Store::start(database, free_space, reserve, ballast)
    }

    /// A store over any redb backend (tests use one that runs out of space).
    #[cfg(test)]
    pub fn open_with_backend(
        backend: impl redb::StorageBackend,
        free_space: writer::FreeSpace,
        reserve: u64,
    ) -> Result<(Rc<Store>, Pump), StoreError> {
        Store::open_with_ballast(backend, free_space, reserve, None)
    }

    /// [`Store::open_with_backend`] with a ballast (see [`ballast`]).
    #[cfg(test)]
    fn open_with_ballast(
        backend: impl redb::StorageBackend,
        free_space: writer::FreeSpace,
        reserve: u64,
        ballast: Option<ballast::Ballast>,
    ) -> Result<(Rc<Store>, Pump), StoreError> {
        let database = redb::Builder::new().set_cache_size(1 << 20).create_with_backend(backend)?;
        if let Some(ballast) = &ballast {
            ballast.fill_now(free_space(), reserve);
        }
        Store::start(writer::prepare(database)?, free_space, reserve, ballast)
    }

    fn start(
        database: Database,
        free_space: writer::FreeSpace,
        reserve: u64,
        ballast: Option<ballast::Ballast>,
    ) -> Result<(Rc<Store>, Pump), StoreError> {
        let db = Arc::new(database);
        let (requests, incoming) = channel::unbounded::<Request>();
        let (committed, answers) = channel::unbounded::<Committed>();
        let thread_db = db.clone();
        let thread = std::thread::Builder::new()
            .name("roost-store".into())
            .spawn(move || writer::run(thread_db, incoming, committed, free_space, reserve, ballast))
            .map_err(|error| StoreError::Io(format!("cannot start the store thread: {error}")))?;
        let hub = Rc::new(RefCell::new(Hub::default()));
        let (failed, failure) = channel::bounded(1);
        let pump = Box::pin(run_pump(hub.clone(), answers, failed));
        let store = Store {
            db,
            requests,
            hub,
            thread: Some(thread),
            failure,
            backups: RefCell::default(),
            cancel_backups: Arc::default(),
        };
        Ok((Rc::new(store), pump))
    }

    /// Applies one operation; returns once it is committed (durably, for
    /// every operation that changes mail).
    pub async fn execute(&self, op: Op) -> Result<(), StoreError> {
        self.call(|reply| Request::Op { op, reply }).await
    }

    /// Queues an operation whose outcome nobody waits for.
    pub fn submit(&self, op: Op) {
        let _ = self.requests.try_send(Request::Op { op, reply: Reply::to(None) });
    }

    /// Creates mailbox `name` of user `user`; answers its id. (CREATE uses
    /// [`Store::create_child`], which also copies the parent's ACL.)
    // Store tests make mailboxes with it; IMAP's CREATE takes `create_child`.
    #[cfg(test)]
    pub async fn create_mailbox(
        &self,
        user: u32,
        name: String,
        special_use: Option<SpecialUse>,
    ) -> Result<u64, StoreError> {
        self.call(|reply| Request::CreateMailbox { user, name, special_use, inherit: false, reply }).await
    }

    /// CREATE of `owner`'s mailbox `name` (and any missing parents), each
    /// new one with the ACL of the nearest parent that existed (RFC 4314
    /// §4), in one transaction; answers its id.
    pub async fn create_child(&self, owner: u32, name: String) -> Result<u64, StoreError> {
        self.call(|reply| Request::CreateMailbox { user: owner, name, special_use: None, inherit: true, reply }).await
    }

    /// Adds `data` to blob `blob` from chunk `first_chunk` on (`None`
    /// starts a new blob); answers the blob's id. Not durable before the
    /// answer: the APPEND or delivery that uses the blob is.
    pub async fn write_blob(&self, blob: Option<u64>, first_chunk: u32, data: Vec<u8>) -> Result<u64, StoreError> {
        self.call(|reply| Request::WriteBlob { blob, first_chunk, data, reply }).await
    }

    /// Adds `messages` (their blobs written) to `mailbox`, in order.
    pub async fn append(&self, mailbox: u64, messages: Vec<NewMessage>) -> Result<Appended, StoreError> {
        stored(self.call(|reply| Request::Append { mailbox, messages, reply }).await)
    }

    /// REPLACE (RFC 8508): `message` added to `mailbox` and message `uid` of
    /// mailbox `from` expunged, in one transaction.
    pub async fn replace(
        &self,
        mailbox: u64,
        message: NewMessage,
        from: u64,
        uid: u32,
    ) -> Result<Appended, StoreError> {
        stored(self.call(|reply| Request::Replace { mailbox, message, from, uid, reply }).await)
    }

    /// Delivers one message to each of `mailboxes` (distinct), storing it
    /// once; a mailbox the quota refuses is left out and listed in
    /// [`Delivered::refused`] (all refused: [`StoreError::OverQuota`]).
    pub async fn deliver(&self, message: NewMessage, mailboxes: Vec<u64>) -> Result<Delivered, StoreError> {
        stored(self.call(|reply| Request::Deliver { message, mailboxes, enforce: true, reply }).await)
    }

    /// [`Store::deliver`] past any quota: alerts and quota warnings, which
    /// a full mailbox must still receive.
    pub async fn deliver_notice(&self, message: NewMessage, mailboxes: Vec<u64>) -> Result<Delivered, StoreError> {
        stored(self.call(|reply| Request::Deliver { message, mailboxes, enforce: false, reply }).await)
    }

    /// Changes the flags of the messages `uids` of `mailbox`.
    pub async fn set_flags(&self, mailbox: u64, uids: UidSet, change: FlagChange) -> Result<Stored, StoreError> {
        self.call(|reply| Request::SetFlags { mailbox, uids, change, reply }).await
    }

    /// Copies the messages `uids` of `from` into `to`; with `remove`,
    /// expunges them from `from` in the same transaction (MOVE).
    #[cfg(test)]
    pub async fn copy(&self, from: u64, to: u64, uids: UidSet, remove: bool) -> Result<Copied, StoreError> {
        self.copy_keeping(from, to, uids, remove, KeptFlags::ALL).await
    }

    /// [`Store::copy`], the copies keeping only the flags `keep` names
    /// (RFC 4314 §4: those the user may set in the target).
    pub async fn copy_keeping(
        &self,
        from: u64,
        to: u64,
        uids: UidSet,
        remove: bool,
        keep: KeptFlags,
    ) -> Result<Copied, StoreError> {
        self.call(|reply| Request::Copy { from, to, uids, remove, keep, reply }).await
    }

    /// Expunges the \Deleted messages of `mailbox` (only those in `uids`, if given).
    pub async fn expunge(&self, mailbox: u64, uids: Option<UidSet>) -> Result<Expunged, StoreError> {
        self.call(|reply| Request::Expunge { mailbox, uids, reply }).await
    }

    /// Changes one entry of `mailbox`'s ACL (SETACL, or DELETEACL with
    /// [`RightsChange::delete`]); answers the entry as it now is. Refuses
    /// an entry for the owner ([`StoreError::OwnerRights`]) and a user id
    /// that names no user.
    pub async fn set_rights(&self, mailbox: u64, change: RightsChange) -> Result<AclEntry, StoreError> {
        self.call(|reply| Request::SetRights { mailbox, change, reply }).await
    }

    /// Creates the household's mailbox `name` (owned by
    /// [`PUBLIC_OWNER`]) with `entries` as its ACL,
    /// in one transaction; answers its id.
    pub async fn create_public_mailbox(
        &self,
        name: String,
        special_use: Option<SpecialUse>,
        entries: Vec<AclEntry>,
    ) -> Result<u64, StoreError> {
        self.call(|reply| Request::CreatePublicMailbox { name, special_use, entries, reply }).await
    }

    /// STORE by `rights.user` on the messages `uids` of `mailbox`, which
    /// they do not own: their \Seen is their own, the other flags shared,
    /// each changed only as `rights` allow; UNCHANGEDSINCE compares their
    /// own modseq (see [`acl`]). One transaction.
    pub async fn set_flags_as(
        &self,
        mailbox: u64,
        uids: UidSet,
        change: FlagChange,
        rights: ReaderRights,
    ) -> Result<Stored, StoreError> {
        self.call(|reply| Request::SetFlagsAs { mailbox, uids, change, rights, reply }).await
    }

    /// Sets (`seen`) or clears `user`'s own \Seen on the messages `uids`
    /// of `mailbox`, which `user` does not own (see [`acl`]).
    pub async fn set_private_seen(
        &self,
        mailbox: u64,
        user: u32,
        uids: UidSet,
        seen: bool,
    ) -> Result<Stored, StoreError> {
        self.call(|reply| Request::SetPrivateSeen { mailbox, user, uids, seen, reply }).await
    }

    /// `roost import`: adds each of `messages` (blobs written) to `mailbox`
    /// unless an import added it before; answers, in order, what became
    /// of each (see [`import`]).
    pub async fn import(
        &self,
        mailbox: u64,
        messages: Vec<import::ImportMessage>,
    ) -> Result<Vec<import::Imported>, StoreError> {
        stored(self.call(|reply| Request::Import { mailbox, messages, reply }).await)
    }

    /// Sends the request `make` builds around a reply of the answer type
    /// `T` its variant fixes, and waits for that answer.
    async fn call<T>(&self, make: impl FnOnce(Reply<T>) -> Request) -> Result<T, StoreError> {
        let (caller, answer) = channel::bounded(1);
        self.requests
            .try_send(make(Reply::to(Some(caller))))
            .map_err(|_| StoreError::Io("the store thread has stopped".into()))?;
        answer.recv().await.unwrap_or_else(|_| Err(StoreError::Io("the store thread has stopped".into())))
    }

    /// Answers once the store thread has committed what was queued before
    /// it, without a transaction of its own; the answer comes back through
    /// the pump like every other. systemd's watchdog (`crate::systemd`)
    /// pings only after it: a dead or stuck store thread, or a stuck
    /// executor, stops the pings, for the cost of a channel round trip.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.call(|reply| Request::Ping { reply }).await
    }

    pub fn read(&self) -> Result<Reader, StoreError> {
        Ok(Reader::new(self.db.begin_read()?))
    }

    /// Reads `mailbox`'s UID list for a SELECT when the hub does not hold
    /// it, [`PRELOAD_BATCH`] UIDs at a time with a yield between batches:
    /// loading 100,000 UIDs in one go held the thread for about 15 ms. One
    /// snapshot serves every batch (no socket write happens meanwhile);
    /// [`Hub::watch`] takes the list only if nothing changed the mailbox
    /// since, and loads it again at once otherwise. None: the hub already
    /// holds the mailbox, or it does not exist (watch says so).
    pub async fn preload(&self, mailbox: u64) -> Result<Option<Preloaded>, StoreError> {
        self.preload_in(mailbox, PRELOAD_BATCH).await
    }

    async fn preload_in(&self, mailbox: u64, batch: usize) -> Result<Option<Preloaded>, StoreError> {
        if self.hub.borrow().get(mailbox).is_some() {
            return Ok(None);
        }
        let reader = self.read()?;
        let Some(record) = reader.mailbox(mailbox)? else { return Ok(None) };
        let messages = reader.messages()?;
        let mut uids = Vec::with_capacity(record.messages as usize);
        let mut next = Some(0);
        while let Some(start) = next {
            next = messages.uids_from(mailbox, start, batch, &mut uids)?;
            if next.is_some() {
                smol::future::yield_now().await;
            }
        }
        Ok(Some(Preloaded { mailbox, modseq: record.highest_modseq, uids }))
    }

    /// A snapshot opened on demand and closed before each wait, for work
    /// that writes to a client as it reads (see [`Snapshot`]).
    pub fn snapshot(&self) -> Snapshot {
        Snapshot::new(self.db.clone())
    }

    pub fn hub(&self) -> &RefCell<Hub> {
        &self.hub
    }

    /// Resolves if storage fails for good (an I/O error: redb refuses all
    /// further work until the file is reopened). The server then stops, so
    /// that a restart reopens and repairs the file.
    pub async fn failed(&self) {
        let _ = self.failure.recv().await;
    }

    /// Verifies the whole database (`roost check` while the server runs).
    /// A full walk, so it runs on a helper thread, not the session executor.
    pub async fn check(&self) -> Result<check::Report, StoreError> {
        let database = self.database();
        smol::unblock(move || check_database(&database)).await
    }

    /// `roost backup` while the server runs: a copy of the database as it
    /// is now (one snapshot, taken before this returns its future) into
    /// the new file `dest`, on a thread of its own (see [`backup`]).
    pub fn backup(&self, dest: PathBuf) -> impl std::future::Future<Output = Result<backup::Backup, StoreError>> {
        let (done, result) = channel::bounded(1);
        let started = self.db.begin_read().map_err(StoreError::from).and_then(|snapshot| {
            let cancel = self.cancel_backups.clone();
            std::thread::Builder::new()
                .name("roost-backup".into())
                .spawn(move || {
                    let _ = done.send_blocking(backup::copy_snapshot(snapshot, &dest, &cancel));
                })
                .map_err(|error| StoreError::Io(format!("cannot start the backup thread: {error}")))
        });
        let started = started.map(|thread| {
            let mut backups = self.backups.borrow_mut();
            backups.retain(|thread| !thread.is_finished());
            backups.push(thread);
        });
        async move {
            started?;
            result
                .recv()
                .await
                .unwrap_or_else(|_| Err(StoreError::Bug("the backup thread ended without an answer".into())))
        }
    }

    /// The database handle itself: store-internal (and its tests') only,
    /// so that no redb type is visible above `src/store/`.
    pub(in crate::store) fn database(&self) -> Arc<Database> {
        self.db.clone()
    }
}

async fn run_pump(hub: Rc<RefCell<Hub>>, answers: Receiver<Committed>, failed: Sender<()>) {
    let mut failed = Some(failed);
    while let Ok(committed) = answers.recv().await {
        if committed.failed.is_some() {
            // Closing the channel wakes whoever waits in `Store::failed`.
            failed.take();
        }
        hub.borrow_mut().apply(&committed.changes);
        for answer in committed.answers {
            answer();
        }
        hub.borrow().notify(&committed.changes);
    }
}

/// Opens the database for a one-off command (the CLI, when no server runs):
/// the same store thread and pump, driven by a small executor of its own.
pub fn run_offline<T>(
    path: &Path,
    cache_bytes: usize,
    reserve: u64,
    work: impl AsyncFnOnce(&Store) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let (store, pump) = Store::open(path, cache_bytes, reserve)?;
    let executor = smol::LocalExecutor::new();
    executor.spawn(pump).detach();
    smol::block_on(executor.run(work(&store)))
}

/// Verifies a database through an open handle (the server's, on a helper thread).
pub(in crate::store) fn check_database(database: &Database) -> Result<check::Report, StoreError> {
    check::run(&Reader::new(database.begin_read()?))
}

/// Verifies a database that no server holds: read-only, or, with
/// `repair`, opened for writing first so redb can repair an unclean close.
pub fn check_offline(path: &Path, cache_bytes: usize, repair: bool) -> Result<check::Report, StoreError> {
    if repair {
        let db = redb::Builder::new().set_cache_size(cache_bytes).open(path)?;
        // A file an older roost wrote moves to this one's layout first.
        migrate::upgrade(&db)?;
        // Quota usage is derived data: recounted rather than reported.
        quota::repair(&db)?;
        return check_database(&db);
    }
    let db = redb::Builder::new().set_cache_size(cache_bytes).open_read_only(path)?;
    let transaction = db.begin_read()?;
    check::run(&Reader::new(transaction))
}

#[cfg(test)]
mod acl_tests;
#[cfg(test)]
mod tests;
