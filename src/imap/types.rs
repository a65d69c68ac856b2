//! Typed IMAP commands, as the parser produces them and handlers take them.

use crate::imap::sort::SortCriterion;
use crate::imap::thread::ThreadAlgorithm;
use crate::mail::rights::{Identifier, RightsChange};
use crate::mail::{FlagAction, Flags};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Command {
    pub tag: String,
    pub body: CommandBody,
}

/// A mailbox name as sent (modified UTF-7, or UTF-8 once enabled); the
/// session decodes it.
pub type MailboxArgument = Vec<u8>;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CommandBody {
    // Any state.
    Capability,
    Noop,
    Logout,
    /// RFC 5465.
    Notify(NotifyArgument),
    /// RFC 2971: NIL or field/value pairs.
    Id(Option<Vec<(String, Option<String>)>>),
    // Not authenticated.
    StartTls,
    Login {
        user: Vec<u8>,
        password: Vec<u8>,
    },
    /// `initial` is the SASL-IR response (RFC 4959), still base64; `Some(empty)` for "=".
    Authenticate {
        mechanism: String,
        initial: Option<Vec<u8>>,
    },
    // Authenticated.
    Select(SelectArguments),
    Create {
        mailbox: MailboxArgument,
    },
    Delete {
        mailbox: MailboxArgument,
    },
    Rename {
        from: MailboxArgument,
        to: MailboxArgument,
    },
    Subscribe {
        mailbox: MailboxArgument,
        subscribed: bool,
    },
    /// LIST, or LSUB when `subscribed_only`. `options` is Some for the
    /// extended form of LIST (RFC 5258): selection options, a pattern
    /// list or return options.
    List(ListArguments),
    Status {
        mailbox: MailboxArgument,
        items: Vec<StatusItem>,
    },
    Namespace,
    Enable {
        capabilities: Vec<String>,
    },
    // RFC 4314 ACL (issue 15): `parse::acl`, handled by `command::acl`.
    /// SETACL (RFC 4314 §3.1).
    SetAcl(SetAclArguments),
    /// DELETEACL (RFC 4314 §3.2).
    DeleteAcl {
        mailbox: MailboxArgument,
        identifier: Identifier,
    },
    /// GETACL (RFC 4314 §3.3).
    GetAcl {
        mailbox: MailboxArgument,
    },
    /// LISTRIGHTS (RFC 4314 §3.4).
    ListRights {
        mailbox: MailboxArgument,
        identifier: Identifier,
    },
    /// MYRIGHTS (RFC 4314 §3.5).
    MyRights {
        mailbox: MailboxArgument,
    },
    // RFC 9208 QUOTA (issue 16): `parse::quota`, handled by `command::quota`.
    /// GETQUOTA (RFC 9208 §4.1.1).
    GetQuota {
        root: Vec<u8>,
    },
    /// GETQUOTAROOT (RFC 9208 §4.1.2).
    GetQuotaRoot {
        mailbox: MailboxArgument,
    },
    /// SETQUOTA (RFC 9208 §4.1.3): (resource name upper-cased, limit).
    SetQuota {
        root: Vec<u8>,
        limits: Vec<(String, u64)>,
    },
    // Selected.
    Check,
    Close,
    Unselect,
    Idle,
    /// EXPUNGE, or UID EXPUNGE with its set (RFC 4315).
    Expunge {
        uids: Option<SequenceSet>,
    },
    Search(SearchArguments),
    /// RFC 5267 §4.3.5: stop the updates of these searches (their tags).
    CancelUpdate {
        tags: Vec<String>,
    },
    /// SORT (RFC 5256), with ESORT's RETURN options (RFC 5267).
    Sort(SortArguments),
    /// THREAD (RFC 5256).
    Thread(ThreadArguments),
    Fetch(FetchArguments),
    Store(StoreArguments),
    /// COPY, or MOVE when `remove` (RFC 6851).
    Copy(CopyArguments),
    /// RFC 4978 COMPRESS: the mechanism as sent, upper-cased (only
    /// DEFLATE exists; others are answered BAD by the command).
    Compress {
        mechanism: String,
    },
}

/// SELECT, or EXAMINE when `read_only`: what the parser read, taken whole
/// by `command::select` (every command with more than two arguments has
/// such a struct).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SelectArguments {
    pub mailbox: MailboxArgument,
    pub read_only: bool,
    pub parameters: SelectParameters,
}

/// SETACL (RFC 4314 §3.1): grant, add or remove `identifier`'s rights on
/// `mailbox`. Waits for its handler (issue 15), as the variants after it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(not(test), allow(dead_code))]
pub struct SetAclArguments {
    pub mailbox: MailboxArgument,
    pub identifier: Identifier,
    pub change: RightsChange,
}

/// LIST, or LSUB when `subscribed_only`. `options` is Some for the
/// extended form of LIST (RFC 5258): selection options, a pattern
/// list or return options.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListArguments {
    pub reference: Vec<u8>,
    pub patterns: Vec<Vec<u8>>,
    pub subscribed_only: bool,
    pub options: Option<ListOptions>,
}

/// SEARCH and UID SEARCH (`uid`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchArguments {
    pub uid: bool,
    /// `RETURN (...)` (RFC 4731, RFC 5182): answer with ESEARCH.
    pub ret: Option<SearchReturn>,
    pub charset: Option<String>,
    pub key: SearchKey,
}

/// SORT (RFC 5256), with ESORT's RETURN options (RFC 5267).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SortArguments {
    pub uid: bool,
    pub ret: Option<SearchReturn>,
    pub criteria: Vec<SortCriterion>,
    pub charset: String,
    pub key: SearchKey,
}

/// THREAD (RFC 5256).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ThreadArguments {
    pub uid: bool,
    pub algorithm: ThreadAlgorithm,
    pub charset: String,
    pub key: SearchKey,
}

/// FETCH and UID FETCH (`uid`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FetchArguments {
    pub uid: bool,
    pub set: SequenceSet,
    pub items: Vec<FetchItem>,
    pub modifiers: FetchModifiers,
}

/// STORE and UID STORE (`uid`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreArguments {
    pub uid: bool,
    pub set: SequenceSet,
    pub action: FlagAction,
    pub silent: bool,
    pub flags: Vec<Flag>,
    /// RFC 7162 §3.1.3 `(UNCHANGEDSINCE n)`.
    pub unchanged_since: Option<u64>,
}

/// COPY, or MOVE when `remove` (RFC 6851).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CopyArguments {
    pub uid: bool,
    pub set: SequenceSet,
    pub mailbox: MailboxArgument,
    pub remove: bool,
}

/// RFC 5465 NOTIFY: `None` is NOTIFY NONE.
pub type NotifyArgument = Option<NotifySet>;

/// NOTIFY SET [STATUS] event-groups.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotifySet {
    pub status: bool,
    pub groups: Vec<NotifyGroup>,
}

/// `(filter events)`; `events` None is the NONE event list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotifyGroup {
    pub filter: NotifyFilter,
    pub events: Option<NotifyEvents>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NotifyFilter {
    Selected,
    SelectedDelayed,
    Inboxes,
    Personal,
    Subscribed,
    Subtree(Vec<MailboxArgument>),
    Mailboxes(Vec<MailboxArgument>),
}

impl NotifyFilter {
    pub fn is_selected(&self) -> bool {
        matches!(self, NotifyFilter::Selected | NotifyFilter::SelectedDelayed)
    }
}

/// The events of one group. `unsupported` keeps the names of events this
/// server does not implement (answered with NO [BADEVENT]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NotifyEvents {
    pub message_new: bool,
    /// MessageNew's fetch attributes (selected mailbox only).
    pub fetch: Vec<FetchItem>,
    pub message_expunge: bool,
    pub flag_change: bool,
    pub mailbox_name: bool,
    pub subscription_change: bool,
    pub unsupported: Vec<String>,
}

impl CommandBody {
    /// The command's name, for messages and logs.
    pub fn name(&self) -> &'static str {
        match self {
            CommandBody::Capability => "CAPABILITY",
            CommandBody::Noop => "NOOP",
            CommandBody::Logout => "LOGOUT",
            CommandBody::Notify(_) => "NOTIFY",
            CommandBody::Id(_) => "ID",
            CommandBody::StartTls => "STARTTLS",
            CommandBody::Login { .. } => "LOGIN",
            CommandBody::Authenticate { .. } => "AUTHENTICATE",
            CommandBody::Select(SelectArguments { read_only: false, .. }) => "SELECT",
            CommandBody::Select(SelectArguments { read_only: true, .. }) => "EXAMINE",
            CommandBody::Create { .. } => "CREATE",
            CommandBody::Delete { .. } => "DELETE",
            CommandBody::Rename { .. } => "RENAME",
            CommandBody::Subscribe { subscribed: true, .. } => "SUBSCRIBE",
            CommandBody::Subscribe { subscribed: false, .. } => "UNSUBSCRIBE",
            CommandBody::List(ListArguments { subscribed_only: false, .. }) => "LIST",
            CommandBody::List(ListArguments { subscribed_only: true, .. }) => "LSUB",
            CommandBody::Status { .. } => "STATUS",
            CommandBody::Namespace => "NAMESPACE",
            CommandBody::Enable { .. } => "ENABLE",
            CommandBody::SetAcl(_) => "SETACL",
            CommandBody::DeleteAcl { .. } => "DELETEACL",
            CommandBody::GetAcl { .. } => "GETACL",
            CommandBody::ListRights { .. } => "LISTRIGHTS",
            CommandBody::MyRights { .. } => "MYRIGHTS",
            CommandBody::GetQuota { .. } => "GETQUOTA",
            CommandBody::GetQuotaRoot { .. } => "GETQUOTAROOT",
            CommandBody::SetQuota { .. } => "SETQUOTA",
            CommandBody::Check => "CHECK",
            CommandBody::Close => "CLOSE",
            CommandBody::Unselect => "UNSELECT",
            CommandBody::Idle => "IDLE",
            CommandBody::Expunge { .. } => "EXPUNGE",
            CommandBody::Search(_) => "SEARCH",
            CommandBody::Sort(_) => "SORT",
            CommandBody::CancelUpdate { .. } => "CANCELUPDATE",
            CommandBody::Thread(_) => "THREAD",
            CommandBody::Fetch(_) => "FETCH",
            CommandBody::Store(_) => "STORE",
            CommandBody::Copy(CopyArguments { remove: false, .. }) => "COPY",
            CommandBody::Copy(CopyArguments { remove: true, .. }) => "MOVE",
            CommandBody::Compress { .. } => "COMPRESS",
        }
    }
}

/// SELECT / EXAMINE parameters (RFC 4466 §2.1; RFC 7162 §3.1.8, §3.2.5).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SelectParameters {
    pub condstore: bool,
    pub qresync: Option<Qresync>,
}

/// `QRESYNC (uidvalidity modseq [known-uids] [(known-sequences known-uids)])`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Qresync {
    pub uid_validity: u32,
    pub modseq: u64,
    pub known_uids: Option<SequenceSet>,
    /// seq-match-data: message sequence numbers and the UIDs the client
    /// believes they have, pair by pair.
    pub sequence_match: Option<(SequenceSet, SequenceSet)>,
}

/// FETCH modifiers (RFC 4466 §2.4; RFC 7162 §3.1.4.1, §3.2.6).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FetchModifiers {
    pub changed_since: Option<u64>,
    pub vanished: bool,
    /// RFC 9394 §3.3: UID FETCH answers only this window of the messages
    /// its set names.
    pub partial: Option<PartialRange>,
}

/// One end of a sequence range: a number or `*` (the largest in use).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SequenceNumber {
    Value(u32),
    Star,
    /// `$`, the saved search result (RFC 5182). The parser only makes it
    /// as a whole range, `(Saved, Saved)`.
    Saved,
}

/// The result options of `SEARCH RETURN (...)`: RFC 4731's MIN, MAX,
/// COUNT and ALL, and RFC 5182's SAVE. `RETURN ()` means ALL.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SearchReturn {
    pub min: bool,
    pub max: bool,
    pub count: bool,
    pub all: bool,
    pub save: bool,
    /// RFC 9394 PARTIAL (which supersedes RFC 5267 §4.4's): one window of
    /// the results.
    pub partial: Option<PartialRange>,
    /// RFC 5267 §4.3 UPDATE: keep the search live (ADDTO / REMOVEFROM).
    pub update: bool,
    /// RFC 5267 §4.2 CONTEXT: a hint that roost accepts and ignores.
    pub context: bool,
}

/// RFC 9394 §4 partial-range: a window of a result list, 1-based, its ends
/// in ascending order (`5:3` is `3:5`). `First(1, 10)`: the first ten
/// results; `Last(1, 10)`: the last ten (`-1:-10`), -1 being the last.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PartialRange {
    First(u32, u32),
    Last(u32, u32),
}

impl PartialRange {
    /// The 0-based indexes of a list of `len` results that the window
    /// covers (empty when it lies wholly outside the list).
    pub fn indexes(self, len: usize) -> std::ops::Range<usize> {
        let (low, high) = match self {
            PartialRange::First(low, high) | PartialRange::Last(low, high) => (low as usize, high as usize),
        };
        if low > len {
            return 0..0;
        }
        let high = high.min(len);
        match self {
            PartialRange::First(..) => low - 1..high,
            PartialRange::Last(..) => len - high..len - low + 1,
        }
    }
}

impl std::fmt::Display for PartialRange {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PartialRange::First(low, high) => write!(formatter, "{low}:{high}"),
            PartialRange::Last(low, high) => write!(formatter, "-{low}:-{high}"),
        }
    }
}

/// A sequence set as sent: ranges in the client's order, ends unordered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SequenceSet(pub Vec<(SequenceNumber, SequenceNumber)>);

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Flag {
    System(Flags),
    /// `\Recent` may be named (in SEARCH) but never stored.
    Recent,
    Keyword(String),
}

/// The options of an extended LIST (RFC 5258 §3, RFC 5819, RFC 6154 §3).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListOptions {
    /// Selection: only subscribed names (which implies RETURN (SUBSCRIBED)).
    pub subscribed: bool,
    /// Selection: REMOTE, accepted; roost has no remote mailboxes.
    pub remote: bool,
    /// Selection: parents of matches that only their children match.
    pub recursive_match: bool,
    /// Selection: only mailboxes with a special-use attribute.
    pub special_use: bool,
    /// Return: the \Subscribed attribute.
    pub return_subscribed: bool,
    /// Return: \HasChildren / \HasNoChildren (roost always sends them).
    pub return_children: bool,
    /// Return: special-use attributes (roost always sends them).
    pub return_special_use: bool,
    /// Return: a STATUS response after each selectable mailbox (RFC 5819).
    pub status: Option<Vec<StatusItem>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusItem {
    Messages,
    Recent,
    UidNext,
    UidValidity,
    Unseen,
    /// RFC 9051 / RFC 8438 STATUS=SIZE.
    Size,
    Deleted,
    /// RFC 7162 §3.1.6.
    HighestModseq,
    /// RFC 8474 §4.3: `MAILBOXID (id)`.
    MailboxId,
    /// RFC 9208 §4.2: the bytes of the \Deleted messages.
    DeletedStorage,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SectionText {
    Header,
    HeaderFields { not: bool, fields: Vec<String> },
    Text,
    Mime,
}

/// `BODY[1.2.HEADER]` is part `[1, 2]` with text `Header`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Section {
    pub part: Vec<u32>,
    pub text: Option<SectionText>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FetchItem {
    Flags,
    Uid,
    InternalDate,
    Rfc822Size,
    Envelope,
    BodyStructure,
    /// BODY without a section: the non-extensible BODYSTRUCTURE.
    Body,
    /// RFC822, RFC822.HEADER, RFC822.TEXT: answered under their own names.
    Rfc822,
    Rfc822Header,
    Rfc822Text,
    /// BODY[...] / BODY.PEEK[...] and, with `binary`, BINARY[...] (RFC 3516).
    Section {
        section: Section,
        peek: bool,
        partial: Option<(u32, u32)>,
        binary: bool,
    },
    BinarySize {
        part: Vec<u32>,
    },
    /// RFC 7162 §3.1.4.2: `MODSEQ (n)`.
    Modseq,
    /// RFC 8474 §5.1: `EMAILID (id)`.
    EmailId,
    /// RFC 8474 §5.2: `THREADID (id)` or `THREADID NIL`.
    ThreadId,
    /// RFC 8514 §3: `SAVEDATE "date-time"` or `SAVEDATE NIL`.
    SaveDate,
    /// RFC 8970 §4: `PREVIEW`, and with `lazy` `PREVIEW (LAZY)`: NIL may
    /// answer for a message whose preview is not at hand.
    Preview {
        lazy: bool,
    },
}

impl FetchItem {
    /// Whether fetching this item sets \Seen (RFC 3501 §6.4.5).
    pub fn sets_seen(&self) -> bool {
        matches!(self, FetchItem::Rfc822 | FetchItem::Rfc822Text | FetchItem::Section { peek: false, .. })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DateField {
    /// INTERNALDATE: BEFORE, ON, SINCE.
    Internal,
    /// The Date header: SENTBEFORE, SENTON, SENTSINCE.
    Sent,
    /// RFC 8514 save date: SAVEDBEFORE, SAVEDON, SAVEDSINCE.
    Saved,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DateRelation {
    Before,
    On,
    Since,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SearchKey {
    All,
    And(Vec<SearchKey>),
    Or(Box<SearchKey>, Box<SearchKey>),
    Not(Box<SearchKey>),
    Sequence(SequenceSet),
    Uid(SequenceSet),
    /// A system flag, set (`true`) or not set.
    Flag(Flags, bool),
    Keyword(String, bool),
    Recent(bool),
    /// NEW: \Recent and not \Seen.
    New,
    Date {
        field: DateField,
        relation: DateRelation,
        days: i64,
    },
    Larger(u64),
    Smaller(u64),
    /// HEADER field value; FROM, TO, CC, BCC and SUBJECT are header keys.
    Header {
        field: String,
        value: Vec<u8>,
    },
    Body(Vec<u8>),
    Text(Vec<u8>),
    /// RFC 7162 §3.1.5: modseq at least this (the optional entry name and
    /// type are accepted and ignored: roost keeps one modseq per message).
    Modseq(u64),
    /// RFC 8474 §6: EMAILID objectid.
    EmailId(String),
    /// RFC 8474 §6: THREADID objectid.
    ThreadId(String),
    /// RFC 8514 §4.3 SAVEDATESUPPORTED: every message, where the mailbox
    /// keeps save dates (every roost mailbox does).
    SaveDateSupported,
}
