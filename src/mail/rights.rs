//! Access rights and identifiers of IMAP ACL (RFC 4314): the words the
//! ACL commands (`imap::parse::acl`, `imap::acl_line`), the store's ACL
//! tables and every command that checks a right share (issue 15). Like
//! the rest of `mail` it sits below both IMAP and the store, and it may
//! use nothing but `mail` itself: it knows no grammar (quoting, astrings)
//! and no storage.
//!
//! Not wired yet: no command checks a right and ACL is not advertised;
//! the items the handlers will use are tested here and wait for them.
//!
//! # Rights (RFC 4314 §2, §2.1)
//!
//! [`Rights`] is a set of the eleven standard rights `l r s w i p k x t e
//! a`. Its text form is a string of their letters; the canonical writer
//! ([`Rights`]'s `Display`) puts them in §2.1's order, `lrswipkxtea`.
//! Parsing ([`Rights::parse`]) is strict, as §3.1 asks: an uppercase
//! letter or a right roost does not know (another letter; a digit, which
//! §2 reserves for site-defined rights, of which roost has none) is an
//! error, answered BAD by the commands. A right given twice is no error.
//!
//! RFC 4314 §2.1 defines no "all" or "none" forms (and could not: `all`
//! already reads as `a` and `l`): none is the empty string, all is
//! `lrswipkxtea`.
//!
//! # The obsolete `c` and `d` (RFC 4314 §2.1.1)
//!
//! RFC 2086's `c` and `d` are virtual rights. §2.1.1 allows two readings
//! and roost takes the first, the one the RFC's own examples use (§2.1.1,
//! §3.1: `+cda` becomes `cdakxet`): `c` ("create") is `k` and `x`, `d`
//! ("delete") is `e` and `t`. So a client's `c` or `d` is read as all of
//! its members ([`Rights::OBSOLETE_CREATE`], [`Rights::OBSOLETE_DELETE`]),
//! and every MYRIGHTS or ACL response adds `c` when any of `k x` is in the
//! set and `d` when any of `e t` is ([`Rights::reported`]), after the
//! real rights. Clients must ignore both in responses (§2.1.1 (*)), so
//! [`Rights::reported`]'s text does not parse back to the same set; the
//! canonical writer's does, and is the form to store and to show in the
//! command line.
//!
//! # Identifiers (RFC 4314 §2, §3)
//!
//! An [`Identifier`] is a UTF-8 string naming who an ACL entry is for: a
//! user (the name as the client sent it; the handler matches it to a
//! login name), `anyone` (everyone, RFC 4314 §2) or `authenticated`
//! (every logged-in user: not in RFC 4314, which leaves identifiers other
//! than `anyone` and user names to the implementation; Dovecot's name for
//! it, and roost has no anonymous login, so the two differ only in name).
//! Both special names are matched exactly, as written; user names are
//! lowercase in roost, so the names `anyone` and `authenticated` must not
//! be given to users.
//!
//! A leading `-` makes a negative entry (§2): its rights are taken away
//! from whoever the rest of the identifier matches, even when another
//! entry grants them. roost will support them (so does Dovecot); the rule
//! this vocabulary is made for, to be applied where ACLs are evaluated:
//! a user's rights on a mailbox are the union of the entries for the
//! user, `authenticated` and `anyone`, less the union of the negative
//! entries for the same three, plus [`Rights::OWNER`] for the mailbox's
//! owner, which no entry takes away. Negative entries cost one more
//! subtraction and let a parent write "the family may read this, but not
//! the youngest" without listing every other name.
//!
//! §3 asks servers to prepare identifiers with SASLprep and to answer BAD
//! when that fails or leaves nothing. roost has no stringprep tables; it
//! refuses what SASLprep would refuse of the names roost can have: an
//! empty name, control characters and bytes that are not UTF-8. User
//! names are ASCII (`auth::normalize_user_name`), so nothing more is lost.
//!
//! # What each command needs (RFC 4314 §4)
//!
//! The associated consts after the rights are §4's table, read with the
//! text after it (which §4 calls the primary reference); the UID form of
//! a command needs what the command needs. Where the issue (15) and the
//! RFC differ, the RFC is followed and the const's doc says so:
//!
//! | command | right | on |
//! |---|---|---|
//! | LIST, LSUB | [`Rights::LIST`] `l` | each mailbox listed; without it the mailbox is left out, never a NO |
//! | SUBSCRIBE, UNSUBSCRIBE | none | roost's SUBSCRIBE takes any name (RFC 3501 §6.3.6), so §4 asks for nothing |
//! | CREATE | [`Rights::CREATE`] `k` | the nearest existing parent, not the new name |
//! | DELETE | [`Rights::DELETE`] `x` | the mailbox |
//! | RENAME | [`Rights::DELETE`] `x`, [`Rights::CREATE`] `k` | the old name; the new name's parent |
//! | SELECT, EXAMINE, STATUS | [`Rights::SELECT`], [`Rights::STATUS`] `r` | the mailbox |
//! | FETCH | none (`r` came with SELECT) | an implied \Seen is set only with `s`, silently |
//! | STORE | [`Rights::STORE_SEEN`] `s`, [`Rights::STORE_DELETED`] `t`, [`Rights::STORE_OTHER`] `w` | per flag; a NO only when no flag asked for may change |
//! | APPEND, COPY, MOVE | [`Rights::APPEND`] `i` | the target; its flags kept per `s t w` ([`Rights::settable_flags`]), never a NO for them |
//! | MOVE | [`Rights::MOVE_SOURCE`] `e` | the source: the messages leave it as by EXPUNGE; the \Deleted of RFC 6851's COPY-STORE-EXPUNGE is never seen, so `t` is not asked for (Dovecot asks the same) |
//! | EXPUNGE, CLOSE | [`Rights::EXPUNGE`] `e` | the selected mailbox; CLOSE without it closes, OK, without expunging |
//! | SETACL, DELETEACL, GETACL, LISTRIGHTS | [`Rights::ADMIN`] `a` | the mailbox |
//! | MYRIGHTS | any of [`Rights::MYRIGHTS_ANY`] `l r i k x a` | the mailbox |
//!
//! SELECT answers READ-WRITE when the user has any of
//! [`Rights::READ_WRITE_ANY`] `i e w t`, else READ-ONLY (§5.2). `s` is
//! left out because every reader keeps their own \Seen in roost, so it is
//! not a "shared flag right"; §5.2's first example answers READ-ONLY to
//! `lrs` the same way. `p` (post) is not enforced by IMAP (§2.1).
//!
//! # LISTRIGHTS (RFC 4314 §3.7)
//!
//! roost ties no rights together: the store keeps a set per identifier,
//! so any combination can be granted, and LISTRIGHTS lists each right as
//! its own group (like §3.4's second example). What may be granted
//! depends on who ([`grantable`]): a mailbox's owner always has `l` and
//! `a` (§2 allows rights always granted to the owner; §3.4's first
//! example answers `la` for one), so they can neither lose their own
//! mailbox from view nor their power to undo a mistake. `anyone` and
//! `authenticated` may not be granted `a`: in a household that would let
//! every child change who reads a parent's mailbox (§6 asks clients to
//! warn about exactly that); a named user may. Negative entries may name
//! every right, as they only take away.

use std::fmt;

use super::Flags;

/// A set of RFC 4314 §2.1 rights (see the module docs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Rights(u16);

/// Each right and its letter, in RFC 4314 §2.1's order (the canonical one).
const LETTERS: [(Rights, u8); 11] = [
    (Rights::LOOKUP, b'l'),
    (Rights::READ, b'r'),
    (Rights::KEEP_SEEN, b's'),
    (Rights::WRITE, b'w'),
    (Rights::INSERT, b'i'),
    (Rights::POST, b'p'),
    (Rights::CREATE_MAILBOXES, b'k'),
    (Rights::DELETE_MAILBOX, b'x'),
    (Rights::DELETE_MESSAGES, b't'),
    (Rights::EXPUNGE, b'e'),
    (Rights::ADMINISTER, b'a'),
];

impl Rights {
    pub const NONE: Rights = Rights(0);
    /// `l`: the mailbox is visible to LIST and LSUB.
    pub const LOOKUP: Rights = Rights(1);
    /// `r`: SELECT, EXAMINE and STATUS the mailbox.
    pub const READ: Rights = Rights(1 << 1);
    /// `s`: keep \Seen across sessions (STORE it, have FETCH, APPEND and
    /// COPY set it).
    pub const KEEP_SEEN: Rights = Rights(1 << 2);
    /// `w`: set and clear flags other than \Seen and \Deleted, keywords
    /// included.
    pub const WRITE: Rights = Rights(1 << 3);
    /// `i`: APPEND and COPY into the mailbox.
    pub const INSERT: Rights = Rights(1 << 4);
    /// `p`: send mail to the mailbox's submission address; not enforced
    /// by IMAP.
    pub const POST: Rights = Rights(1 << 5);
    /// `k`: create mailboxes below this one (CREATE, RENAME's new parent).
    pub const CREATE_MAILBOXES: Rights = Rights(1 << 6);
    /// `x`: DELETE the mailbox, RENAME it away.
    pub const DELETE_MAILBOX: Rights = Rights(1 << 7);
    /// `t`: set and clear \Deleted.
    pub const DELETE_MESSAGES: Rights = Rights(1 << 8);
    /// `e`: EXPUNGE, and CLOSE's expunge.
    pub const EXPUNGE: Rights = Rights(1 << 9);
    /// `a`: administer: SETACL, DELETEACL, GETACL, LISTRIGHTS.
    pub const ADMINISTER: Rights = Rights(1 << 10);
    /// The eleven rights.
    pub const ALL: Rights = Rights((1 << 11) - 1);

    /// `c` (RFC 4314 §2.1.1): RFC 2086's "create", read as `k` and `x`.
    pub const OBSOLETE_CREATE: Rights = Rights::CREATE_MAILBOXES.union(Rights::DELETE_MAILBOX);
    /// `d` (RFC 4314 §2.1.1): RFC 2086's "delete", read as `e` and `t`.
    pub const OBSOLETE_DELETE: Rights = Rights::EXPUNGE.union(Rights::DELETE_MESSAGES);

    /// What a mailbox's owner always has (RFC 4314 §2 allows it): the
    /// mailbox stays in their LIST and they can always set its ACL back.
    pub const OWNER: Rights = Rights::LOOKUP.union(Rights::ADMINISTER);

    /// LIST and LSUB, for each mailbox listed (RFC 4314 §4). Without it
    /// the mailbox is left out, never answered NO. §4 asks for it in LSUB
    /// only where SUBSCRIBE checks that the mailbox exists, which roost's
    /// does not: a subscribed name without `l` is listed as if nothing
    /// existed under it.
    pub const LIST: Rights = Rights::LOOKUP;
    /// CREATE, on the nearest existing parent of the new name, and
    /// RENAME, on the new name's parent (RFC 4314 §4; issue 15 says `k`
    /// without saying where).
    pub const CREATE: Rights = Rights::CREATE_MAILBOXES;
    /// DELETE, and RENAME on the old name (RFC 4314 §4; issue 15 does
    /// not name RENAME). roost deletes a mailbox with its messages, so
    /// `r e t` (§4's "?") are not needed.
    pub const DELETE: Rights = Rights::DELETE_MAILBOX;
    /// SELECT and EXAMINE (RFC 4314 §4). Every selected-state command then
    /// has `r` (§4's note), and FETCH needs nothing more: an implied
    /// \Seen is set only with [`Rights::STORE_SEEN`], silently (§4).
    pub const SELECT: Rights = Rights::READ;
    /// STATUS (RFC 4314 §4).
    pub const STATUS: Rights = Rights::READ;
    /// STORE of \Seen, and \Seen kept by APPEND, COPY, MOVE and set by
    /// FETCH (RFC 4314 §4). Every reader has their own \Seen (issue 15).
    pub const STORE_SEEN: Rights = Rights::KEEP_SEEN;
    /// STORE of \Deleted, and \Deleted kept by APPEND, COPY and MOVE.
    pub const STORE_DELETED: Rights = Rights::DELETE_MESSAGES;
    /// STORE of every other flag and keyword, kept the same way. A STORE
    /// that may change at least one of the flags it names changes those
    /// and answers OK (§4: clients handle a NO badly).
    pub const STORE_OTHER: Rights = Rights::WRITE;
    /// APPEND, COPY and MOVE, on the target. Flags the user may not set
    /// there are dropped, never refused (§4, [`Rights::settable_flags`]).
    pub const APPEND: Rights = Rights::INSERT;
    /// MOVE, on the source: the messages leave it as by EXPUNGE. RFC
    /// 6851's COPY, STORE \Deleted, EXPUNGE never shows the \Deleted, so
    /// `t` is not asked for (issue 15 names only the target's `i`).
    pub const MOVE_SOURCE: Rights = Rights::EXPUNGE;
    /// SETACL, DELETEACL, GETACL and LISTRIGHTS (RFC 4314 §4; issue 15
    /// names only SETACL).
    pub const ADMIN: Rights = Rights::ADMINISTER;
    /// MYRIGHTS needs any one of these (RFC 4314 §4's "Any"), see
    /// [`Rights::intersects`].
    pub const MYRIGHTS_ANY: Rights = Rights::LOOKUP
        .union(Rights::READ)
        .union(Rights::INSERT)
        .union(Rights::CREATE_MAILBOXES)
        .union(Rights::DELETE_MAILBOX)
        .union(Rights::ADMINISTER);
    /// SELECT answers READ-WRITE with any one of these, else READ-ONLY
    /// (RFC 4314 §5.2; why `s` is not here: see the module docs).
    pub const READ_WRITE_ANY: Rights =
        Rights::INSERT.union(Rights::EXPUNGE).union(Rights::WRITE).union(Rights::DELETE_MESSAGES);

    /// The rights as the store keeps them: bit n is the n-th right of
    /// RFC 4314 §2.1's order (`l` bit 0 … `a` bit 10). This layout is on
    /// disk (`store::acl`'s tables): never reorder it.
    pub const fn bits(self) -> u16 {
        self.0
    }

    /// The rights of stored `bits`; bits above 10 name no right and are dropped.
    pub const fn from_bits(bits: u16) -> Rights {
        Rights(bits & Rights::ALL.0)
    }

    pub const fn union(self, other: Rights) -> Rights {
        Rights(self.0 | other.0)
    }

    pub const fn intersection(self, other: Rights) -> Rights {
        Rights(self.0 & other.0)
    }

    pub const fn difference(self, other: Rights) -> Rights {
        Rights(self.0 & !other.0)
    }

    pub const fn contains(self, other: Rights) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether any right of `other` is in the set.
    pub const fn intersects(self, other: Rights) -> bool {
        self.0 & other.0 != 0
    }

    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The rights of a rights string (RFC 4314 §7 `rights`, an astring's
    /// content): see the module docs for what is refused and how `c` and
    /// `d` are read.
    pub fn parse(text: &[u8]) -> Result<Rights, RightsError> {
        let mut rights = Rights::NONE;
        for &byte in text {
            rights = rights.union(match byte {
                b'c' => Rights::OBSOLETE_CREATE,
                b'd' => Rights::OBSOLETE_DELETE,
                // RFC 4314 §2: "uppercase rights are not allowed".
                b'A'..=b'Z' => return Err(RightsError::Uppercase(byte)),
                _ => match LETTERS.iter().find(|&&(_, letter)| letter == byte) {
                    Some(&(right, _)) => right,
                    // RFC 4314 §3.1: an unrecognized right MUST NOT be ignored.
                    None => return Err(RightsError::Unknown(byte)),
                },
            });
        }
        Ok(rights)
    }

    /// The set as MYRIGHTS and ACL answer it: the canonical letters, then
    /// `c` and `d` where RFC 4314 §2.1.1 requires them (module docs).
    pub fn reported(self) -> Reported {
        Reported(self)
    }

    /// The system flags these rights let a user set or clear (RFC 4314
    /// §4): \Seen with `s`, \Deleted with `t`, the others with `w`, which
    /// keywords need too ([`Rights::STORE_OTHER`]).
    pub fn settable_flags(self) -> Flags {
        let mut flags = Flags::default();
        if self.contains(Rights::STORE_SEEN) {
            flags = flags.union(Flags::SEEN);
        }
        if self.contains(Rights::STORE_DELETED) {
            flags = flags.union(Flags::DELETED);
        }
        if self.contains(Rights::STORE_OTHER) {
            flags = flags.union(Flags::ANSWERED).union(Flags::FLAGGED).union(Flags::DRAFT);
        }
        flags
    }
}

/// The canonical text: the letters in RFC 4314 §2.1's order, no `c` or `d`.
impl fmt::Display for Rights {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        for &(right, letter) in &LETTERS {
            if self.contains(right) {
                write!(formatter, "{}", letter as char)?;
            }
        }
        Ok(())
    }
}

/// [`Rights::reported`]: the canonical letters, then the virtual `c` and `d`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reported(Rights);

impl fmt::Display for Reported {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Reported(rights) = *self;
        write!(formatter, "{rights}")?;
        // RFC 4314 §2.1.1: "When any of the "create" member rights is set ..."
        if rights.intersects(Rights::OBSOLETE_CREATE) {
            formatter.write_str("c")?;
        }
        if rights.intersects(Rights::OBSOLETE_DELETE) {
            formatter.write_str("d")?;
        }
        Ok(())
    }
}

/// Why a rights string was refused (answered BAD, RFC 4314 §3.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RightsError {
    /// An uppercase letter (RFC 4314 §2).
    Uppercase(u8),
    /// A byte that is no right roost knows: another lowercase letter, a
    /// digit (site-defined rights; roost defines none), anything else.
    Unknown(u8),
}

impl fmt::Display for RightsError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            RightsError::Uppercase(byte) => {
                write!(formatter, "uppercase rights are not allowed: {} (RFC 4314 section 2)", byte as char)
            }
            RightsError::Unknown(byte) if byte.is_ascii_graphic() => {
                write!(formatter, "the {} right is not supported (rights: lrswipkxtea, and c d)", byte as char)
            }
            RightsError::Unknown(byte) => write!(formatter, "byte 0x{byte:02X} is not a right"),
        }
    }
}

/// SETACL's third argument (RFC 4314 §3.1, `mod-rights`): a leading `+`
/// adds the rights to the identifier's, `-` removes them, and without
/// either they replace them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RightsChange {
    Replace(Rights),
    Add(Rights),
    Remove(Rights),
}

impl RightsChange {
    pub fn parse(text: &[u8]) -> Result<RightsChange, RightsError> {
        Ok(match text.split_first() {
            Some((b'+', rest)) => RightsChange::Add(Rights::parse(rest)?),
            Some((b'-', rest)) => RightsChange::Remove(Rights::parse(rest)?),
            _ => RightsChange::Replace(Rights::parse(text)?),
        })
    }

    /// The rights an identifier has after the change, from `current`.
    pub fn apply(self, current: Rights) -> Rights {
        match self {
            RightsChange::Replace(rights) => rights,
            RightsChange::Add(rights) => current.union(rights),
            RightsChange::Remove(rights) => current.difference(rights),
        }
    }
}

impl fmt::Display for RightsChange {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RightsChange::Replace(rights) => write!(formatter, "{rights}"),
            RightsChange::Add(rights) => write!(formatter, "+{rights}"),
            RightsChange::Remove(rights) => write!(formatter, "-{rights}"),
        }
    }
}

/// Whom an identifier names (module docs).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Subject {
    /// `anyone` (RFC 4314 §2): everyone.
    Anyone,
    /// `authenticated`: every logged-in user (roost's, as Dovecot's).
    Authenticated,
    /// A user, by the name as sent.
    User(String),
}

/// An ACL identifier (RFC 4314 §2): a subject, or with `negative` (a
/// leading `-`) the rights taken away from that subject.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Identifier {
    pub negative: bool,
    pub subject: Subject,
}

impl Identifier {
    /// An identifier's text (an astring's content, RFC 4314 §7). It
    /// writes back ([`Identifier`]'s `Display`) to exactly these bytes,
    /// which LISTRIGHTS needs (§3.4: it answers the identifier in the
    /// form the client sent).
    pub fn parse(text: &[u8]) -> Result<Identifier, IdentifierError> {
        let text = std::str::from_utf8(text).map_err(|_| IdentifierError::NotUtf8)?;
        let (negative, name) = match text.strip_prefix('-') {
            Some(name) => (true, name),
            None => (false, text),
        };
        // RFC 4314 §3: BAD when the prepared identifier is empty.
        if name.is_empty() {
            return Err(IdentifierError::Empty);
        }
        // SASLprep prohibits control characters (RFC 4013 §2.3).
        if name.chars().any(char::is_control) {
            return Err(IdentifierError::Control);
        }
        // `-` marks a negative entry (§2); a name may not start with one.
        if name.starts_with('-') {
            return Err(IdentifierError::DoubleNegative);
        }
        let subject = match name {
            "anyone" => Subject::Anyone,
            "authenticated" => Subject::Authenticated,
            user => Subject::User(user.to_string()),
        };
        Ok(Identifier { negative, subject })
    }
}

impl fmt::Display for Identifier {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.negative {
            formatter.write_str("-")?;
        }
        formatter.write_str(match &self.subject {
            Subject::Anyone => "anyone",
            Subject::Authenticated => "authenticated",
            Subject::User(name) => name,
        })
    }
}

/// Why an identifier was refused (answered BAD, RFC 4314 §3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdentifierError {
    NotUtf8,
    Empty,
    Control,
    DoubleNegative,
}

impl fmt::Display for IdentifierError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            IdentifierError::NotUtf8 => "an identifier is UTF-8 (RFC 4314 section 2)",
            IdentifierError::Empty => "empty identifier (RFC 4314 section 3)",
            IdentifierError::Control => "an identifier may not hold control characters (RFC 4314 section 3, SASLprep)",
            IdentifierError::DoubleNegative => "an identifier may not start with a second -",
        })
    }
}

/// What LISTRIGHTS answers for an identifier on a mailbox (RFC 4314
/// §3.7): the rights it always has, and those it may be granted, each
/// right its own group (roost ties none; module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Grantable {
    pub required: Rights,
    pub optional: Rights,
}

impl Grantable {
    /// The rights an entry for this identifier holds once `rights` are
    /// asked for: `rights` and the required ones, or, when `rights` hold
    /// some that may not be granted, those (SETACL refuses them rather
    /// than store less than it was told).
    pub fn admit(self, rights: Rights) -> Result<Rights, Rights> {
        let refused = rights.difference(self.required.union(self.optional));
        if refused.is_empty() {
            Ok(rights.union(self.required))
        } else {
            Err(refused)
        }
    }
}

/// What `identifier` may be granted on a mailbox; `owner` says whether it
/// names the mailbox's owner (a public mailbox has none). See the module
/// docs for why.
pub fn grantable(identifier: &Identifier, owner: bool) -> Grantable {
    let (required, optional) = match identifier.subject {
        // A negative entry only takes away: any right may be named.
        _ if identifier.negative => (Rights::NONE, Rights::ALL),
        Subject::User(_) if owner => (Rights::OWNER, Rights::ALL.difference(Rights::OWNER)),
        Subject::User(_) => (Rights::NONE, Rights::ALL),
        Subject::Anyone | Subject::Authenticated => (Rights::NONE, Rights::ALL.difference(Rights::ADMINISTER)),
    };
    Grantable { required, optional }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn rights(text: &str) -> Rights {
        Rights::parse(text.as_bytes()).unwrap()
    }

    #[test]
    fn every_right_has_its_letter_and_its_bit() {
        let mut all = Rights::NONE;
        for (right, letter) in LETTERS {
            assert_eq!(rights(&(letter as char).to_string()), right);
            assert_eq!(right.to_string(), (letter as char).to_string());
            assert!(!all.intersects(right), "two rights share a bit");
            all = all.union(right);
        }
        assert_eq!(all, Rights::ALL);
        assert_eq!(Rights::ALL.to_string(), "lrswipkxtea");
        assert_eq!(Rights::NONE.to_string(), "");
    }

    #[test]
    fn canonical_order_whatever_the_order_given() {
        assert_eq!(rights("aetxkpiwsrl").to_string(), "lrswipkxtea");
        assert_eq!(rights("ral").to_string(), "lra");
        // A right given twice is no error (RFC 4314 §2.1.1 says so of c/d and their members).
        assert_eq!(rights("llrrl").to_string(), "lr");
        assert_eq!(rights(""), Rights::NONE);
    }

    #[test]
    fn obsolete_c_and_d_are_read_as_their_members() {
        // RFC 4314 §2.1.1 (the reading its §3.1 example uses): c = kx, d = et.
        assert_eq!(rights("c"), Rights::CREATE_MAILBOXES.union(Rights::DELETE_MAILBOX));
        assert_eq!(rights("d"), Rights::EXPUNGE.union(Rights::DELETE_MESSAGES));
        assert_eq!(rights("lrswicda").to_string(), "lrswikxtea");
        assert_eq!(rights("dt"), rights("d"));
        assert_eq!(rights("lrswida").to_string(), "lrswitea");
    }

    #[test]
    fn reported_rights_add_c_and_d_when_a_member_is_there() {
        assert_eq!(rights("k").reported().to_string(), "kc");
        assert_eq!(rights("x").reported().to_string(), "xc");
        assert_eq!(rights("t").reported().to_string(), "td");
        assert_eq!(rights("e").reported().to_string(), "ed");
        assert_eq!(rights("lrswi").reported().to_string(), "lrswi");
        assert_eq!(Rights::ALL.reported().to_string(), "lrswipkxteacd");
        assert_eq!(Rights::NONE.reported().to_string(), "");
        // RFC 4314 §2.1.1's example: "lrswikda" is answered with k's c and d.
        assert_eq!(rights("lrswikda").reported().to_string(), "lrswikteacd");
    }

    #[test]
    fn refused_rights_say_why() {
        // RFC 4314 §3.1's examples: "lrQswicda" and "lrqswicda".
        assert_eq!(Rights::parse(b"lrQswicda"), Err(RightsError::Uppercase(b'Q')));
        assert_eq!(Rights::parse(b"lrqswicda"), Err(RightsError::Unknown(b'q')));
        assert_eq!(Rights::parse(b"lr0"), Err(RightsError::Unknown(b'0')));
        assert_eq!(Rights::parse(b"l r"), Err(RightsError::Unknown(b' ')));
        assert_eq!(Rights::parse("lé".as_bytes()), Err(RightsError::Unknown(0xC3)));
        // No "all" or "none" words: RFC 4314 defines none, and "all"
        // already means `a` and `l`.
        assert_eq!(Rights::parse(b"all"), Ok(Rights::ADMINISTER.union(Rights::LOOKUP)));
        assert_eq!(Rights::parse(b"none"), Err(RightsError::Unknown(b'n')));
        assert_eq!(
            RightsError::Uppercase(b'Q').to_string(),
            "uppercase rights are not allowed: Q (RFC 4314 section 2)"
        );
        assert_eq!(
            RightsError::Unknown(b'q').to_string(),
            "the q right is not supported (rights: lrswipkxtea, and c d)"
        );
        assert_eq!(RightsError::Unknown(0xC3).to_string(), "byte 0xC3 is not a right");
    }

    #[test]
    fn set_operations() {
        let lr = rights("lr");
        let rw = rights("rw");
        assert_eq!(lr.union(rw), rights("lrw"));
        assert_eq!(lr.intersection(rw), rights("r"));
        assert_eq!(lr.difference(rw), rights("l"));
        assert!(lr.contains(rights("l")) && lr.contains(Rights::NONE) && !lr.contains(rw));
        assert!(lr.intersects(rw) && !lr.intersects(rights("w")));
        assert!(Rights::NONE.is_empty() && !lr.is_empty());
    }

    #[test]
    fn modifiers_add_remove_replace() {
        // RFC 4314 §3.1's example: Chris lrswi, then +cda.
        let chris = rights("lrswi");
        let change = RightsChange::parse(b"+cda").unwrap();
        assert_eq!(change, RightsChange::Add(rights("kxeta")));
        assert_eq!(change.apply(chris).to_string(), "lrswikxtea");
        assert_eq!(RightsChange::parse(b"-w").unwrap().apply(chris).to_string(), "lrsi");
        assert_eq!(RightsChange::parse(b"lr").unwrap().apply(chris).to_string(), "lr");
        // Removing what is not there, adding what is: no change, no error.
        assert_eq!(RightsChange::parse(b"-a").unwrap().apply(chris), chris);
        assert_eq!(RightsChange::parse(b"+l").unwrap().apply(chris), chris);
        // "zero or more rights characters" after the sign.
        assert_eq!(RightsChange::parse(b"+").unwrap(), RightsChange::Add(Rights::NONE));
        assert_eq!(RightsChange::parse(b"-").unwrap(), RightsChange::Remove(Rights::NONE));
        assert_eq!(RightsChange::parse(b"").unwrap(), RightsChange::Replace(Rights::NONE));
        assert_eq!(RightsChange::parse(b"").unwrap().apply(chris), Rights::NONE);
        // One sign only, at the start.
        assert_eq!(RightsChange::parse(b"+-l"), Err(RightsError::Unknown(b'-')));
        assert_eq!(RightsChange::parse(b"l+r"), Err(RightsError::Unknown(b'+')));
        assert_eq!(RightsChange::parse(b"+L"), Err(RightsError::Uppercase(b'L')));
        assert_eq!(RightsChange::Add(rights("al")).to_string(), "+la");
        assert_eq!(RightsChange::Remove(rights("w")).to_string(), "-w");
        assert_eq!(RightsChange::Replace(Rights::NONE).to_string(), "");
    }

    #[test]
    fn identifiers() {
        let parse = |text: &str| Identifier::parse(text.as_bytes());
        let user = |name: &str| Subject::User(name.into());
        assert_eq!(parse("anyone"), Ok(Identifier { negative: false, subject: Subject::Anyone }));
        assert_eq!(parse("authenticated"), Ok(Identifier { negative: false, subject: Subject::Authenticated }));
        assert_eq!(parse("bob"), Ok(Identifier { negative: false, subject: user("bob") }));
        assert_eq!(parse("-bob"), Ok(Identifier { negative: true, subject: user("bob") }));
        assert_eq!(parse("-anyone"), Ok(Identifier { negative: true, subject: Subject::Anyone }));
        // Special names are matched as written; the rest is a user's name as sent.
        assert_eq!(parse("Anyone"), Ok(Identifier { negative: false, subject: user("Anyone") }));
        assert_eq!(parse("anyone2"), Ok(Identifier { negative: false, subject: user("anyone2") }));
        assert_eq!(parse("Élodie"), Ok(Identifier { negative: false, subject: user("Élodie") }));
        assert_eq!(parse("$team"), Ok(Identifier { negative: false, subject: user("$team") }));
        assert_eq!(parse(""), Err(IdentifierError::Empty));
        assert_eq!(parse("-"), Err(IdentifierError::Empty));
        assert_eq!(parse("--bob"), Err(IdentifierError::DoubleNegative));
        assert_eq!(parse("bob\u{7}"), Err(IdentifierError::Control));
        assert_eq!(parse("bo\tb"), Err(IdentifierError::Control));
        assert_eq!(parse("bob\u{85}"), Err(IdentifierError::Control));
        assert_eq!(Identifier::parse(b"b\xffb"), Err(IdentifierError::NotUtf8));
        for text in ["anyone", "-authenticated", "bob", "-Élodie", "b-o-b", "two words"] {
            assert_eq!(parse(text).unwrap().to_string(), text);
        }
        assert_eq!(IdentifierError::Empty.to_string(), "empty identifier (RFC 4314 section 3)");
    }

    #[test]
    fn command_table_follows_rfc_4314_section_4() {
        assert_eq!(Rights::LIST.to_string(), "l");
        assert_eq!(Rights::CREATE.to_string(), "k");
        assert_eq!(Rights::DELETE.to_string(), "x");
        assert_eq!(Rights::SELECT.to_string(), "r");
        assert_eq!(Rights::STATUS.to_string(), "r");
        assert_eq!(Rights::STORE_SEEN.to_string(), "s");
        assert_eq!(Rights::STORE_DELETED.to_string(), "t");
        assert_eq!(Rights::STORE_OTHER.to_string(), "w");
        assert_eq!(Rights::APPEND.to_string(), "i");
        assert_eq!(Rights::MOVE_SOURCE.to_string(), "e");
        assert_eq!(Rights::EXPUNGE.to_string(), "e");
        assert_eq!(Rights::ADMIN.to_string(), "a");
        assert_eq!(Rights::MYRIGHTS_ANY.to_string(), "lrikxa");
        assert_eq!(Rights::READ_WRITE_ANY.to_string(), "wite");
        assert_eq!(Rights::OWNER.to_string(), "la");
        // RFC 4314 §5.2's examples: lrs is READ-ONLY, rit and rset READ-WRITE.
        assert!(!rights("lrs").intersects(Rights::READ_WRITE_ANY));
        assert!(rights("rit").intersects(Rights::READ_WRITE_ANY));
        assert!(rights("rset").intersects(Rights::READ_WRITE_ANY));
    }

    #[test]
    fn flags_each_right_lets_a_user_set() {
        // RFC 4314 §4's COPY example: with "rwis", \Deleted is lost; with "rsti", \Answered and \Draft.
        let rwis = rights("rwis").settable_flags();
        assert!(rwis.contains(Flags::SEEN) && rwis.contains(Flags::ANSWERED) && rwis.contains(Flags::DRAFT));
        assert!(!rwis.contains(Flags::DELETED));
        let rsti = rights("rsti").settable_flags();
        assert_eq!(rsti, Flags::SEEN.union(Flags::DELETED));
        assert_eq!(rights("lrikxpae").settable_flags(), Flags::default());
        assert_eq!(rights("w").settable_flags(), Flags::ANSWERED.union(Flags::FLAGGED).union(Flags::DRAFT));
    }

    #[test]
    fn what_listrights_offers() {
        let parse = |text: &str| Identifier::parse(text.as_bytes()).unwrap();
        // The owner: "la" always, the rest one by one (RFC 4314 §3.4's first example).
        let owner = grantable(&parse("alice"), true);
        assert_eq!((owner.required.to_string(), owner.optional.to_string()), ("la".into(), "rswipkxte".into()));
        let bob = grantable(&parse("bob"), false);
        assert_eq!((bob.required, bob.optional), (Rights::NONE, Rights::ALL));
        for everyone in ["anyone", "authenticated"] {
            let offer = grantable(&parse(everyone), false);
            assert_eq!((offer.required, offer.optional.to_string()), (Rights::NONE, "lrswipkxte".into()));
        }
        // A negative entry, even on the owner's name, takes away only.
        let negative = grantable(&parse("-alice"), true);
        assert_eq!((negative.required, negative.optional), (Rights::NONE, Rights::ALL));
        // SETACL through the offer: the owner keeps l and a; `a` is refused to anyone.
        assert_eq!(owner.admit(rights("r")), Ok(rights("lra")));
        assert_eq!(owner.admit(Rights::NONE), Ok(Rights::OWNER));
        assert_eq!(grantable(&parse("anyone"), false).admit(rights("lra")), Err(rights("a")));
        assert_eq!(bob.admit(rights("lra")), Ok(rights("lra")));
    }

    fn any_rights() -> impl Strategy<Value = Rights> {
        (0..=Rights::ALL.0).prop_map(Rights)
    }

    proptest! {
        /// The canonical text parses back to the same set, in §2.1's order.
        #[test]
        fn canonical_text_round_trips(rights in any_rights()) {
            let text = rights.to_string();
            prop_assert_eq!(Rights::parse(text.as_bytes()), Ok(rights));
            let order: Vec<usize> =
                text.bytes().map(|byte| LETTERS.iter().position(|&(_, letter)| letter == byte).unwrap()).collect();
            prop_assert!(order.windows(2).all(|pair| pair[0] < pair[1]));
        }

        /// A reported set, read as clients must (ignoring c and d), is the set.
        #[test]
        fn reported_text_without_c_and_d_is_the_set(rights in any_rights()) {
            let text: Vec<u8> = rights.reported().to_string().bytes().filter(|&byte| byte != b'c' && byte != b'd').collect();
            prop_assert_eq!(Rights::parse(&text), Ok(rights));
        }

        #[test]
        fn changes_round_trip_and_apply(rights in any_rights(), current in any_rights(), sign in 0..3u8) {
            let change = match sign {
                0 => RightsChange::Replace(rights),
                1 => RightsChange::Add(rights),
                _ => RightsChange::Remove(rights),
            };
            prop_assert_eq!(RightsChange::parse(change.to_string().as_bytes()), Ok(change));
            let after = change.apply(current);
            match change {
                RightsChange::Replace(_) => prop_assert_eq!(after, rights),
                RightsChange::Add(_) => prop_assert!(after.contains(rights) && after.contains(current)),
                RightsChange::Remove(_) => prop_assert!(!after.intersects(rights) && current.contains(after)),
            }
        }

        /// Whatever the bytes, parsing answers (no panic), and what parses
        /// writes back to text that parses to the same value.
        #[test]
        fn any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..24)) {
            if let Ok(rights) = Rights::parse(&bytes) {
                prop_assert_eq!(Rights::parse(rights.to_string().as_bytes()), Ok(rights));
            }
            if let Ok(identifier) = Identifier::parse(&bytes) {
                prop_assert_eq!(identifier.to_string().into_bytes(), bytes);
            }
        }

        #[test]
        fn identifiers_round_trip(name in "-?[a-z0-9._@+-]{1,20}|-?\\PC{1,12}") {
            if let Ok(identifier) = Identifier::parse(name.as_bytes()) {
                prop_assert_eq!(identifier.to_string(), name);
            }
        }
    }
}
