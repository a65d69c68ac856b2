//! The vocabulary of mail that every layer shares: message flags and how
//! a STORE changes them, and the access rights of shared mailboxes
//! ([`rights`]: RFC 4314's rights and identifiers, and what each command
//! needs). It sits below both the IMAP layer (which parses and writes
//! them) and the store (which keeps them), so neither imports the other
//! for its words (issue 14; Dovecot's `lib-mail/mail-types.h` plays this
//! part). Dates are `util::datetime`, addresses `mime::address`, both
//! below IMAP and the store already.

pub mod rights;

/// Message flags as bits; `\Recent` is a session property, not stored.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flags(pub u8);

impl Flags {
    pub const SEEN: Flags = Flags(1);
    pub const ANSWERED: Flags = Flags(2);
    pub const FLAGGED: Flags = Flags(4);
    pub const DELETED: Flags = Flags(8);
    pub const DRAFT: Flags = Flags(16);

    pub fn contains(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }

    pub fn union(self, other: Flags) -> Flags {
        Flags(self.0 | other.0)
    }

    pub fn difference(self, other: Flags) -> Flags {
        Flags(self.0 & !other.0)
    }
}

/// How STORE changes flags (RFC 3501 §6.4.6): `+FLAGS`, `-FLAGS`, `FLAGS`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlagAction {
    Add,
    Remove,
    Replace,
}
