//! The redb tables and the records kept in them.
//!
//! The one place that knows the on-disk shape. Keys are fixed-width integers
//! (or a user id and a name) so related rows sit together in the B-trees:
//! every message of a mailbox, every chunk of a blob, every mailbox of a user.
//!
//! The small tables are [`Def`]s: redb stores them as bytes to bytes and
//! `store::rows` gives them their types (one compiled B-tree for all of
//! them instead of one per type pair; see there). The big ones, the mail
//! itself, stay redb's own typed tables: [`MESSAGES`], [`SUMMARIES`] and
//! [`BLOB_CHUNKS`] share one type pair, [`MAILBOX_INFO`], [`BLOBS`] and
//! [`PREVIEWS`] another. A file from before that split is moved once when
//! it is opened for writing (`store::migrate`).

use redb::TableDefinition;

pub use super::rows::Def;

use super::codec::{Decoder, Encoder};
use super::StoreError;
use crate::util::datetime::DateTime;

/// Counters and settings: "schema_version", "next_user_id", "next_mailbox_id",
/// "next_blob_id", "last_uid_validity".
pub const META: Def<&str, u64> = Def::new("meta");
/// User name (lower case) → [`UserRecord`].
pub const USERS: Def<&str, &[u8]> = Def::new("users");
/// (user id, mailbox name) → mailbox id.
pub const MAILBOXES: Def<(u32, &str), u64> = Def::new("mailboxes");
/// Mailbox id → [`MailboxRecord`].
pub const MAILBOX_INFO: TableDefinition<u64, &[u8]> = TableDefinition::new("mailbox_info");
/// (user id, mailbox name) → (); a subscription may name a mailbox that does not exist.
pub const SUBSCRIPTIONS: Def<(u32, &str), ()> = Def::new("subscriptions");
/// (mailbox id, uid) → [`MessageRecord`].
pub const MESSAGES: TableDefinition<(u64, u32), &[u8]> = TableDefinition::new("messages");
/// (mailbox id, modseq, uid) → (): the latest change of every message, for
/// finding what changed since a modseq without scanning the mailbox.
pub const CHANGES: Def<(u64, u64, u32), ()> = Def::new("changes");
/// (mailbox id, modseq, uid) → (): expunged messages, a bounded history.
pub const EXPUNGED: Def<(u64, u64, u32), ()> = Def::new("expunged");
/// (mailbox id, flag condition, uid) → (): the messages on the rare side of
/// each system flag ([`INDEXED_FLAGS`]), so SEARCH UNSEEN or FLAGGED and
/// SELECT's first unseen message need not read every message.
pub const FLAG_INDEX: Def<(u64, u8, u32), ()> = Def::new("flag_index");

/// The indexed conditions: (code, flag, whether set). \Seen is indexed
/// where it is missing: unread mail is the few, read mail the many.
pub const INDEXED_FLAGS: [(u8, Flags, bool); 5] = [
    (0, Flags::SEEN, false),
    (1, Flags::ANSWERED, true),
    (2, Flags::FLAGGED, true),
    (3, Flags::DELETED, true),
    (4, Flags::DRAFT, true),
];

/// The index code of "`flag` is `set`", if that condition is indexed.
pub fn indexed_condition(flag: Flags, set: bool) -> Option<u8> {
    INDEXED_FLAGS.iter().find(|(_, indexed, wanted)| *indexed == flag && *wanted == set).map(|(code, _, _)| *code)
}

/// (mailbox id, uid) → the message's header summary
/// (`mime::header::Summary`): the lines of the fields clients list and
/// search, kept in mailbox order so a walk over a mailbox reads them in
/// sequence. Missing when the header was too long to summarise.
pub const SUMMARIES: TableDefinition<(u64, u32), &[u8]> = TableDefinition::new("summaries");

/// (mailbox id, uid) → unix seconds the message was saved into that
/// mailbox: APPEND, delivery, or the COPY or MOVE that put it there (RFC
/// 8514 SAVEDATE). A message stored by a roost from before save dates has
/// no row (FETCH SAVEDATE answers NIL for it).
///
/// Kept beside [`MESSAGES`] rather than as a second version of
/// [`MessageRecord`]. Measured on 100,000 messages (`save_date_cost` in
/// `store/tests.rs`, compacted files): the table costs 20.5 bytes a
/// message, a record 8 bytes wider 8.2, and a scan of every record (what
/// FETCH FLAGS reads) took the same time either way, within noise (7-13
/// ms). The table still wins: the record every FETCH, SEARCH and STORE
/// decodes keeps its one encoding (no two versions to decode, no record
/// rewritten to a new version by a flag change), only a FETCH or SEARCH
/// that asks for save dates reads them, and an older roost opening the
/// file ignores the table instead of failing on records it cannot decode.
pub const SAVE_DATES: Def<(u64, u32), i64> = Def::new("save_dates");

/// Blob id → [`PreviewRecord`]: the message's RFC 8970 preview, computed
/// at delivery. A table of its own rather than a field of [`BlobRecord`]:
/// records written by an older roost stay as they are (a missing row
/// means "not computed", told apart from an empty preview), FETCH of
/// structures does not read the text, and PREVIEW reads 10,000 of them
/// from a small table. Removed with the blob's last reference.
pub const PREVIEWS: TableDefinition<u64, &[u8]> = TableDefinition::new("previews");
/// Blob id → [`BlobRecord`].
pub const BLOBS: TableDefinition<u64, &[u8]> = TableDefinition::new("blobs");
/// (blob id, chunk number) → at most [`CHUNK_SIZE`] bytes of the message.
pub const BLOB_CHUNKS: TableDefinition<(u64, u32), &[u8]> = TableDefinition::new("blob_chunks");
/// Blob id → unix time: blobs being written whose message is not stored yet.
/// Left over after a crash or a dropped connection; removed at start-up.
pub const PENDING_BLOBS: Def<u64, i64> = Def::new("pending_blobs");

/// Blob id → (): stored messages waiting for the full-text indexer
/// (`store::fts`), written in the transaction that stores the message.
pub const FTS_QUEUE: Def<u64, ()> = Def::new("fts_queue");
/// Blob id → (): messages the indexer could not index (more distinct
/// trigrams than the cap, or unreadable): candidates of every search.
pub const FTS_UNINDEXED: Def<u64, ()> = Def::new("fts_unindexed");
/// Segment id → (bytes of its lists, its blob ids encoded as a posting
/// list): the segments of the full-text index.
pub const FTS_SEGMENTS: Def<u64, (u64, &[u8])> = Def::new("fts_segments");
/// (segment id, stream kind, trigram) → blob ids (a posting list of
/// `fts::postings`): which of the segment's messages hold the trigram in
/// their bodies (kind 0) or headers (kind 1).
pub const FTS_POSTINGS: Def<(u64, u8, u32), &[u8]> = Def::new("fts_postings");

/// Banned address or prefix (as `auth::ban` writes it: "192.0.2.7",
/// "2001:db8:1:2::/64", "198.51.100.0/24") → [`BanRecord`]. Ended bans stay
/// a while, so a repeat gets a longer one.
pub const BANS: Def<&str, &[u8]> = Def::new("bans");
/// (user id, device name) → [`DeviceRecord`]: a user's device passwords
/// (see `auth::device`).
pub const DEVICES: Def<(u32, &str), &[u8]> = Def::new("devices");
/// User id → [`UserSettings`]; missing means every setting at its default.
pub const USER_SETTINGS: Def<u32, &[u8]> = Def::new("user_settings");
/// (user id, sequence) → [`LoginEntry`]: a user's login history, oldest
/// first, at most the board's `login_history` entries per user.
pub const LOGIN_HISTORY: Def<(u32, u64), &[u8]> = Def::new("login_history");
/// (user id, address) → unix time of the latest successful login from it
/// (recorded at most hourly): the addresses an account is known to log in
/// from, for account protection and new-address alerts (`auth::protect`).
/// The address is the text of its `util::address::limit_key` (IPv6: the
/// /64). At most [`KNOWN_PER_USER`] per user, the least recent dropped.
/// The value is a bare time, not a versioned record: nothing else is kept.
pub const KNOWN_ADDRESSES: Def<(u32, &str), u64> = Def::new("known_addresses");
/// (user id, device name) → unix time of the latest successful login with
/// that device's password, as [`KNOWN_ADDRESSES`].
pub const KNOWN_DEVICES: Def<(u32, &str), u64> = Def::new("known_devices");
/// (user id, alert kind) → unix time that kind of alert was last delivered
/// to the user (`crate::alert`), so a restart does not send another at once.
pub const ALERTS_SENT: Def<(u32, u8), u64> = Def::new("alerts_sent");
/// (mailbox id, identifier) → rights: a mailbox's access control list
/// (RFC 4314). The identifier is a user id, or [`ANYONE`] or
/// [`AUTHENTICATED`] (see `store::acl`). The value is a bare `u32`, not a
/// versioned record: the granted rights in its low 16 bits and the
/// negative rights (RFC 4314 §2, "-name") in its high 16, each a mask of
/// `l r s w i p k x t e a` in bits 0 to 10. A row with both halves empty
/// is never kept. The mailbox's owner has no row: it holds every right.
pub const ACL: Def<(u64, u32), u32> = Def::new("acl");
/// (identifier, mailbox id) → (): [`ACL`] read the other way, so the
/// mailboxes shared with a user (or with `anyone`, `authenticated`) are a
/// range read. A row here exactly when [`ACL`] has the pair.
pub const ACL_GRANTEES: Def<(u32, u64), ()> = Def::new("acl_grantees");
/// (mailbox id, user id, uid) → (): message `uid` is \Seen for that user,
/// who is not the mailbox's owner (per-user \Seen, see `store::acl`).
pub const PRIVATE_SEEN: Def<(u64, u32, u32), ()> = Def::new("private_seen");
/// (user id, mailbox id) → (): the user has at least one [`PRIVATE_FLAGS`]
/// row in that mailbox (exactly then; every [`PRIVATE_SEEN`] row has one),
/// so deleting a user finds their rows without a scan.
pub const PRIVATE_SEEN_MAILBOXES: Def<(u32, u64), ()> = Def::new("private_seen_mailboxes");
/// (mailbox id, user id, uid) → the modseq of the user's latest change of
/// their own \Seen on that message, with [`PRIVATE_SEEN_BIT`] set while it
/// is \Seen for them: one lookup gives a FETCH both. A row exists once the
/// user changed their \Seen there (and goes with the message). The value
/// is a bare `u64`, not a versioned record: RFC 7162 modseqs fit 63 bits.
pub const PRIVATE_FLAGS: Def<(u64, u32, u32), u64> = Def::new("private_flags");
/// (mailbox id, user id, modseq, uid) → (): [`PRIVATE_FLAGS`] by modseq,
/// one row per row there: each user's own [`CHANGES`], for CHANGEDSINCE,
/// QRESYNC and the sync of their other sessions.
pub const PRIVATE_CHANGES: Def<(u64, u32, u64, u32), ()> = Def::new("private_changes");
/// Mailbox id → (highest shared modseq, the mailbox's modseq counter when
/// the row was written). Private changes take modseqs from the mailbox's
/// one counter (`highest_modseq`), so the highest modseq every reader sees
/// (shared flags, appends, expunges) falls behind it. The row is written
/// by private changes only and holds while the counter is still at its
/// second value; once a shared change moved the counter on, the counter is
/// the shared highest again (no row: the same). See `store::acl`.
pub const SHARED_MODSEQ: Def<u64, (u64, u64)> = Def::new("shared_modseq");
/// (mailbox id, SHA-256 of the stored bytes and the source's date) → the
/// UID `roost import` gave the message (see `store::import`). Written by
/// imports only; the rows go with their mailbox.
pub const IMPORTED: Def<(u64, &[u8]), u32> = Def::new("imported");
/// Set in a [`PRIVATE_FLAGS`] value while the message is \Seen for the user.
pub const PRIVATE_SEEN_BIT: u64 = 1 << 63;
/// Owner id → (bytes, messages): the sum of RFC822.SIZE and the number
/// of messages over every mailbox the owner has (RFC 9208 STORAGE and
/// MESSAGE usage; [`PUBLIC_OWNER`] for the household's mailboxes). Kept
/// in step with [`MailboxRecord`]'s `size` and `messages` in the same
/// transactions (`store::quota`); built from the records once, when a
/// database from before quotas is opened for writing.
pub const QUOTA_USAGE: Def<u32, (u64, u64)> = Def::new("quota_usage");
/// User id → (storage bytes, messages): that user's own limits, set by
/// SETQUOTA or `roost user quota`; [`QUOTA_DEFAULT`] in a place means
/// the `[quota]` default for it, 0 no limit. No row: both defaults.
pub const QUOTA_LIMITS: Def<u32, (u64, u64)> = Def::new("quota_limits");
/// User id → the highest `[quota] warn` level (percent) the user was
/// warned of and is still at or above: a warning is sent once per upward
/// crossing, and falling below a level lowers it (re-arms the warning).
pub const QUOTA_WARNED: Def<u32, u8> = Def::new("quota_warned");
/// Mailbox id → the sum of RFC822.SIZE of its \Deleted messages, for
/// STATUS DELETED-STORAGE (RFC 9208 §4.2): what an EXPUNGE would free.
/// Kept in step with the flag index (`Tables::index_flags`); no row: 0.
/// A table of its own, not a field of [`MailboxRecord`], so the record
/// keeps its encoding; built from the flag index once for a database
/// from before it (`store::quota::prepare`).
pub const DELETED_SIZES: Def<u64, u64> = Def::new("deleted_sizes");
/// In a [`QUOTA_LIMITS`] row: this limit follows the `[quota]` default.
pub const QUOTA_DEFAULT: u64 = u64::MAX;
/// The identifier `anyone` in [`ACL`] (RFC 4314 §2).
pub const ANYONE: u32 = u32::MAX;
/// The identifier `authenticated` in [`ACL`] (RFC 4314 §2).
pub const AUTHENTICATED: u32 = u32::MAX - 1;
/// The owner of the household's public mailboxes (`Family/…`): a user id
/// no login user has, whose mailboxes sit in the ordinary tables.
pub const PUBLIC_OWNER: u32 = u32::MAX - 2;
/// User ids from here up are reserved ([`ANYONE`], [`AUTHENTICATED`],
/// [`PUBLIC_OWNER`] and room for more): never given to a login user.
pub const RESERVED_IDS: u32 = u32::MAX - 15;
/// Known addresses (and, apart, known devices) kept per user.
pub const KNOWN_PER_USER: usize = 32;

pub const SCHEMA_VERSION: u64 = 1;

/// Bytes per blob chunk. redb stores a value of up to about 4 KiB inside a
/// shared leaf page (about 1.02× the data); a larger one takes pages of its
/// own and rounds up to 8 KiB (1.5×). 4000 bytes plus the 12-byte key and
/// the leaf's own bookkeeping fit one 4 KiB page.
pub const CHUNK_SIZE: usize = 4000;

pub use crate::mail::Flags;

/// RFC 6154 special-use attributes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpecialUse {
    All,
    Archive,
    Drafts,
    Flagged,
    Junk,
    Sent,
    Trash,
}

impl SpecialUse {
    pub const EVERY: [SpecialUse; 7] = [
        SpecialUse::All,
        SpecialUse::Archive,
        SpecialUse::Drafts,
        SpecialUse::Flagged,
        SpecialUse::Junk,
        SpecialUse::Sent,
        SpecialUse::Trash,
    ];

    pub fn attribute(self) -> &'static str {
        match self {
            SpecialUse::All => "\\All",
            SpecialUse::Archive => "\\Archive",
            SpecialUse::Drafts => "\\Drafts",
            SpecialUse::Flagged => "\\Flagged",
            SpecialUse::Junk => "\\Junk",
            SpecialUse::Sent => "\\Sent",
            SpecialUse::Trash => "\\Trash",
        }
    }

    fn code(self) -> u8 {
        match self {
            SpecialUse::All => 1,
            SpecialUse::Archive => 2,
            SpecialUse::Drafts => 3,
            SpecialUse::Flagged => 4,
            SpecialUse::Junk => 5,
            SpecialUse::Sent => 6,
            SpecialUse::Trash => 7,
        }
    }

    fn from_code(code: u8) -> Option<SpecialUse> {
        SpecialUse::EVERY.into_iter().find(|use_| use_.code() == code)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserRecord {
    pub id: u32,
    /// PHC string, argon2id.
    pub password_hash: String,
}

impl UserRecord {
    const VERSION: u8 = 1;

    pub fn encode(&self) -> Vec<u8> {
        let mut encoder = Encoder::new(Self::VERSION);
        encoder.u32(self.id).str(&self.password_hash);
        encoder.finish()
    }

    pub fn decode(bytes: &[u8]) -> Result<UserRecord, StoreError> {
        let mut decoder = Decoder::new(bytes, Self::VERSION, "user")?;
        Ok(UserRecord { id: decoder.u32()?, password_hash: decoder.string()? })
    }
}

/// A ban of an address (see `auth::ban`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BanRecord {
    /// Unix seconds the ban ends.
    pub until: u64,
    /// How many times in a row the address was banned (this one included).
    pub bans: u32,
    /// Why, in words ("10 failed logins within 900 s", "roost ban add").
    pub reason: String,
}

impl BanRecord {
    const VERSION: u8 = 1;

    pub fn encode(&self) -> Vec<u8> {
        let mut encoder = Encoder::new(Self::VERSION);
        encoder.u64(self.until).u32(self.bans).str(&self.reason);
        encoder.finish()
    }

    pub fn decode(bytes: &[u8]) -> Result<BanRecord, StoreError> {
        let mut decoder = Decoder::new(bytes, Self::VERSION, "ban")?;
        Ok(BanRecord { until: decoder.u64()?, bans: decoder.u32()?, reason: decoder.string()? })
    }
}

/// One device password: only a salted SHA-256 of it is kept (see
/// `auth::device` for why not argon2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceRecord {
    pub salt: Vec<u8>,
    pub hash: Vec<u8>,
    /// Unix seconds.
    pub created: i64,
    /// Unix seconds of the last login with it; 0: never used.
    pub last_used: i64,
    /// The address of that login (empty: never used).
    pub last_address: String,
}

impl DeviceRecord {
    const VERSION: u8 = 1;

    pub fn encode(&self) -> Vec<u8> {
        let mut encoder = Encoder::new(Self::VERSION);
        encoder.bytes(&self.salt).bytes(&self.hash).i64(self.created).i64(self.last_used).str(&self.last_address);
        encoder.finish()
    }

    pub fn decode(bytes: &[u8]) -> Result<DeviceRecord, StoreError> {
        let mut decoder = Decoder::new(bytes, Self::VERSION, "device")?;
        Ok(DeviceRecord {
            salt: decoder.bytes()?.to_vec(),
            hash: decoder.bytes()?.to_vec(),
            created: decoder.i64()?,
            last_used: decoder.i64()?,
            last_address: decoder.string()?,
        })
    }
}

/// Per-user settings kept apart from [`UserRecord`], whose encoding stays as it is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserSettings {
    /// Only device passwords log in over IMAP; the main password is refused there.
    pub device_only: bool,
}

impl UserSettings {
    const VERSION: u8 = 1;

    pub fn encode(&self) -> Vec<u8> {
        let mut encoder = Encoder::new(Self::VERSION);
        encoder.u8(u8::from(self.device_only));
        encoder.finish()
    }

    pub fn decode(bytes: &[u8]) -> Result<UserSettings, StoreError> {
        let mut decoder = Decoder::new(bytes, Self::VERSION, "user settings")?;
        Ok(UserSettings { device_only: decoder.u8()? != 0 })
    }
}

/// Why a login of an existing user was refused. Stored as a code: new
/// reasons take new codes, and a code this build does not know reads back
/// as [`FailureReason::Other`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FailureReason {
    WrongPassword,
    /// The main password was right, but this user logs in over IMAP with
    /// device passwords only.
    DeviceOnly,
    /// The password was right, from an address this user's rules refuse.
    AddressRefused,
    /// The account or the address is locked or banned for now.
    Locked,
    Other(u8),
}

impl FailureReason {
    pub fn code(self) -> u8 {
        match self {
            FailureReason::WrongPassword => 1,
            FailureReason::DeviceOnly => 2,
            FailureReason::AddressRefused => 3,
            FailureReason::Locked => 4,
            FailureReason::Other(code) => code,
        }
    }

    pub fn from_code(code: u8) -> FailureReason {
        match code {
            1 => FailureReason::WrongPassword,
            2 => FailureReason::DeviceOnly,
            3 => FailureReason::AddressRefused,
            4 => FailureReason::Locked,
            other => FailureReason::Other(other),
        }
    }

    /// In plain words, for `roost user log` and the log.
    pub fn describe(self) -> String {
        match self {
            FailureReason::WrongPassword => "wrong password".into(),
            FailureReason::DeviceOnly => "main password refused: device passwords only".into(),
            FailureReason::AddressRefused => "right password, address not allowed".into(),
            FailureReason::Locked => "locked or banned".into(),
            FailureReason::Other(code) => format!("refused (reason {code})"),
        }
    }
}

/// How a login ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LoginOutcome {
    Success,
    Failure(FailureReason),
}

impl LoginOutcome {
    fn code(self) -> u8 {
        match self {
            LoginOutcome::Success => 0,
            LoginOutcome::Failure(reason) => reason.code(),
        }
    }

    fn from_code(code: u8) -> LoginOutcome {
        match code {
            0 => LoginOutcome::Success,
            other => LoginOutcome::Failure(FailureReason::from_code(other)),
        }
    }
}

/// What named the device that logged in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DeviceSource {
    /// Nothing: the main password, and no ID command before the login.
    None,
    /// The name of the device password used.
    Password,
    /// The name the client gave in an ID command (RFC 2971) before logging in.
    ClientId,
}

/// One line of a user's login history: `count` logins alike (same outcome,
/// address, device and TLS) from `first` to `last` (unix seconds).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoginEntry {
    pub first: i64,
    pub last: i64,
    pub count: u32,
    pub outcome: LoginOutcome,
    pub address: String,
    pub device: String,
    pub device_source: DeviceSource,
    pub tls: bool,
}

impl LoginEntry {
    const VERSION: u8 = 1;

    /// Whether `other` is the same kind of login (and may be counted in this entry).
    pub fn alike(&self, other: &LoginEntry) -> bool {
        self.outcome == other.outcome
            && self.address == other.address
            && self.device == other.device
            && self.device_source == other.device_source
            && self.tls == other.tls
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut encoder = Encoder::new(Self::VERSION);
        let source = match self.device_source {
            DeviceSource::None => 0,
            DeviceSource::Password => 1,
            DeviceSource::ClientId => 2,
        };
        encoder
            .i64(self.first)
            .i64(self.last)
            .u32(self.count)
            .u8(self.outcome.code())
            .str(&self.address)
            .str(&self.device)
            .u8(source)
            .u8(u8::from(self.tls));
        encoder.finish()
    }

    pub fn decode(bytes: &[u8]) -> Result<LoginEntry, StoreError> {
        let mut decoder = Decoder::new(bytes, Self::VERSION, "login history")?;
        Ok(LoginEntry {
            first: decoder.i64()?,
            last: decoder.i64()?,
            count: decoder.u32()?,
            outcome: LoginOutcome::from_code(decoder.u8()?),
            address: decoder.string()?,
            device: decoder.string()?,
            device_source: match decoder.u8()? {
                1 => DeviceSource::Password,
                2 => DeviceSource::ClientId,
                _ => DeviceSource::None,
            },
            tls: decoder.u8()? != 0,
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MailboxRecord {
    pub user_id: u32,
    pub name: String,
    pub uid_validity: u32,
    pub uid_next: u32,
    pub highest_modseq: u64,
    /// Messages at or above this UID have not been shown to any session
    /// yet: they are \Recent for the next session that selects the mailbox.
    pub first_recent_uid: u32,
    pub special_use: Option<SpecialUse>,
    /// A name kept only because it has children (RFC 3501 DELETE).
    pub noselect: bool,
    pub messages: u32,
    pub unseen: u32,
    pub deleted: u32,
    pub size: u64,
    /// Expunges at or below this modseq are no longer in the history.
    pub expunge_floor: u64,
    pub expunge_history: u32,
    /// Keywords in use; a message stores them as bits, in this order.
    pub keywords: Vec<String>,
}

impl MailboxRecord {
    const VERSION: u8 = 1;

    pub fn encode(&self) -> Vec<u8> {
        let mut encoder = Encoder::new(Self::VERSION);
        encoder
            .u32(self.user_id)
            .str(&self.name)
            .u32(self.uid_validity)
            .u32(self.uid_next)
            .u64(self.highest_modseq)
            .u32(self.first_recent_uid)
            .u8(self.special_use.map_or(0, SpecialUse::code))
            .u8(u8::from(self.noselect))
            .u32(self.messages)
            .u32(self.unseen)
            .u32(self.deleted)
            .u64(self.size)
            .u64(self.expunge_floor)
            .u32(self.expunge_history)
            .u16(self.keywords.len() as u16);
        for keyword in &self.keywords {
            encoder.str(keyword);
        }
        encoder.finish()
    }

    pub fn decode(bytes: &[u8]) -> Result<MailboxRecord, StoreError> {
        let mut decoder = Decoder::new(bytes, Self::VERSION, "mailbox")?;
        let mut record = MailboxRecord {
            user_id: decoder.u32()?,
            name: decoder.string()?,
            uid_validity: decoder.u32()?,
            uid_next: decoder.u32()?,
            highest_modseq: decoder.u64()?,
            first_recent_uid: decoder.u32()?,
            special_use: SpecialUse::from_code(decoder.u8()?),
            noselect: decoder.u8()? != 0,
            messages: decoder.u32()?,
            unseen: decoder.u32()?,
            deleted: decoder.u32()?,
            size: decoder.u64()?,
            expunge_floor: decoder.u64()?,
            expunge_history: decoder.u32()?,
            keywords: Vec::new(),
        };
        let count = decoder.u16()?;
        for _ in 0..count {
            record.keywords.push(decoder.string()?);
        }
        Ok(record)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MessageRecord {
    pub blob: u64,
    pub internal_date: DateTime,
    pub size: u64,
    pub flags: Flags,
    /// Bit i set: the message has keyword i of its mailbox.
    pub keywords: u64,
    pub modseq: u64,
}

impl MessageRecord {
    const VERSION: u8 = 1;

    pub fn encode(&self) -> Vec<u8> {
        let mut encoder = Encoder::new(Self::VERSION);
        encoder
            .u64(self.blob)
            .i64(self.internal_date.unix)
            .i16(self.internal_date.offset_minutes)
            .u64(self.size)
            .u8(self.flags.0)
            .u64(self.keywords)
            .u64(self.modseq);
        encoder.finish()
    }

    pub fn decode(bytes: &[u8]) -> Result<MessageRecord, StoreError> {
        let mut decoder = Decoder::new(bytes, Self::VERSION, "message")?;
        Ok(MessageRecord {
            blob: decoder.u64()?,
            internal_date: DateTime { unix: decoder.i64()?, offset_minutes: decoder.i16()? },
            size: decoder.u64()?,
            flags: Flags(decoder.u8()?),
            keywords: decoder.u64()?,
            modseq: decoder.u64()?,
        })
    }
}

/// What is known about a stored message's bytes, computed once when it
/// was received.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct BlobRecord {
    /// Messages (in any mailbox, of any user) that point at this blob.
    pub references: u32,
    pub size: u64,
    /// Length of the header, including the blank line that ends it.
    pub header_size: u64,
    /// The MIME structure, as written by the `mime` layer (empty until then).
    pub structure: Vec<u8>,
}

impl BlobRecord {
    const VERSION: u8 = 1;

    pub fn chunks(&self) -> u32 {
        self.size.div_ceil(CHUNK_SIZE as u64) as u32
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut encoder = Encoder::new(Self::VERSION);
        encoder.u32(self.references).u64(self.size).u64(self.header_size).bytes(&self.structure);
        encoder.finish()
    }

    pub fn decode(bytes: &[u8]) -> Result<BlobRecord, StoreError> {
        let mut record = BlobRecord::default();
        BlobRecord::decode_into(bytes, &mut record)?;
        Ok(record)
    }

    /// Decodes into `into`, reusing its buffers (walks over many messages
    /// decode one record per message).
    pub fn decode_into(bytes: &[u8], into: &mut BlobRecord) -> Result<(), StoreError> {
        let mut decoder = Decoder::new(bytes, Self::VERSION, "blob")?;
        into.references = decoder.u32()?;
        into.size = decoder.u64()?;
        into.header_size = decoder.u64()?;
        let structure = decoder.bytes()?;
        into.structure.clear();
        into.structure.extend_from_slice(structure);
        Ok(())
    }
}

/// A message's preview (`mime::preview`): at most 256 characters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PreviewRecord {
    pub text: String,
}

impl PreviewRecord {
    const VERSION: u8 = 1;

    pub fn encode(&self) -> Vec<u8> {
        let mut encoder = Encoder::new(Self::VERSION);
        encoder.str(&self.text);
        encoder.finish()
    }

    pub fn decode(bytes: &[u8]) -> Result<PreviewRecord, StoreError> {
        let mut decoder = Decoder::new(bytes, Self::VERSION, "preview")?;
        Ok(PreviewRecord { text: decoder.string()? })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip() {
        let mailbox = MailboxRecord {
            user_id: 3,
            name: "Archive/2024".into(),
            uid_validity: 1_700_000_000,
            uid_next: 42,
            highest_modseq: 99,
            first_recent_uid: 40,
            special_use: Some(SpecialUse::Archive),
            noselect: false,
            messages: 41,
            unseen: 2,
            deleted: 1,
            size: 123_456,
            expunge_floor: 0,
            expunge_history: 3,
            keywords: vec!["$Forwarded".into(), "$Junk".into()],
        };
        assert_eq!(MailboxRecord::decode(&mailbox.encode()).unwrap(), mailbox);

        let message = MessageRecord {
            blob: 77,
            internal_date: DateTime { unix: 1_000_000, offset_minutes: -420 },
            size: 5000,
            flags: Flags::SEEN.union(Flags::FLAGGED),
            keywords: 0b10,
            modseq: 12,
        };
        assert_eq!(MessageRecord::decode(&message.encode()).unwrap(), message);

        let blob = BlobRecord { references: 2, size: 9000, header_size: 300, structure: vec![1, 2] };
        assert_eq!(BlobRecord::decode(&blob.encode()).unwrap(), blob);
        let preview = PreviewRecord { text: "Héllo, world".into() };
        assert_eq!(PreviewRecord::decode(&preview.encode()).unwrap(), preview);
        assert_eq!(blob.chunks(), 3);

        let user = UserRecord { id: 9, password_hash: "$argon2id$v=19$...".into() };
        assert_eq!(UserRecord::decode(&user.encode()).unwrap(), user);

        let ban = BanRecord { until: 1_800_000_000, bans: 3, reason: "10 failed logins within 900 s".into() };
        assert_eq!(BanRecord::decode(&ban.encode()).unwrap(), ban);
        let device = DeviceRecord {
            salt: vec![7; 16],
            hash: vec![9; 32],
            created: 1_700_000_000,
            last_used: 0,
            last_address: String::new(),
        };
        assert_eq!(DeviceRecord::decode(&device.encode()).unwrap(), device);
        for device_only in [false, true] {
            let settings = UserSettings { device_only };
            assert_eq!(UserSettings::decode(&settings.encode()).unwrap(), settings);
        }
        for (outcome, device_source) in [
            (LoginOutcome::Success, DeviceSource::Password),
            (LoginOutcome::Failure(FailureReason::WrongPassword), DeviceSource::None),
            (LoginOutcome::Failure(FailureReason::DeviceOnly), DeviceSource::ClientId),
            (LoginOutcome::Failure(FailureReason::AddressRefused), DeviceSource::None),
            (LoginOutcome::Failure(FailureReason::Locked), DeviceSource::None),
            (LoginOutcome::Failure(FailureReason::Other(77)), DeviceSource::None),
        ] {
            let entry = LoginEntry {
                first: 10,
                last: 20,
                count: 3,
                outcome,
                address: "192.0.2.7".into(),
                device: "Alice's iPhone".into(),
                device_source,
                tls: true,
            };
            assert_eq!(LoginEntry::decode(&entry.encode()).unwrap(), entry);
        }
        // Damage is reported, not half-read.
        assert!(LoginEntry::decode(&[1, 2, 3]).is_err());
        assert!(DeviceRecord::decode(&[]).is_err());
    }

    #[test]
    fn flags_algebra() {
        let flags = Flags::SEEN.union(Flags::DELETED);
        assert!(flags.contains(Flags::SEEN));
        assert!(!flags.contains(Flags::DRAFT));
        assert_eq!(flags.difference(Flags::SEEN), Flags::DELETED);
        assert_eq!(Flags::default(), Flags(0));
    }
}
