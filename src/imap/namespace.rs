//! Namespaces (RFC 2342): the names a user sees, and the mailboxes they
//! stand for.
//!
//! Three namespaces, all with the separator `/`:
//! - personal, prefix `""`: the user's own mailboxes, named as the store
//!   keys them (user id, name);
//! - other users, prefix `Shared/`: `Shared/<owner>/<owner's name>`, the
//!   mailboxes other users share with this one (RFC 2342 §5: the level
//!   after the prefix is the user name);
//! - public, prefix `Family/`: `Family/<name>`, the household's mailboxes,
//!   kept in the store under the reserved owner
//!   [`PUBLIC_OWNER`](crate::store::PUBLIC_OWNER).
//!
//! `Shared`, `Shared/<owner>` and `Family` are levels, never mailboxes.
//! The prefixes are fixed (not configured): they cost nothing and every
//! client learns them from NAMESPACE. A personal mailbox that was named
//! `Shared` or `Family` before the namespaces existed is hidden by them.
//!
//! Visibility (RFC 4314 §6, RFC 5530 §5): a mailbox exists for a user who
//! holds at least one of `l r i k x a` on it; for anyone else every
//! command answers as for a name that does not exist, byte for byte.
//! [`lookup`] is that rule, in one place.

use crate::mail::rights::Rights;
use crate::store::{Reader, StoreError, PUBLIC_OWNER};

/// The other users' namespace's root level.
pub const SHARED: &str = "Shared";
/// The public (household) namespace's root level.
pub const PUBLIC: &str = "Family";

/// NAMESPACE's answer (RFC 2342 §5): personal, other users', shared.
pub const NAMESPACE_LINE: &str = "* NAMESPACE ((\"\" \"/\")) ((\"Shared/\" \"/\")) ((\"Family/\" \"/\"))\r\n";

/// The rights any one of which makes a mailbox exist for a user (RFC
/// 4314 §4: those with which MYRIGHTS answers).
pub const VISIBLE: Rights = Rights::MYRIGHTS_ANY;

/// What a name a user typed stands for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Name {
    /// A mailbox name (existing or not) in some namespace: whose, and the
    /// name the store keys it by.
    Mailbox { owner: u32, name: String },
    /// `Shared`, `Shared/<user>` or `Family`: a level of the namespaces,
    /// never a mailbox.
    Level,
    /// A name in the shared namespace that can name nothing: an unknown
    /// user, or the user's own name (their mailboxes are personal).
    Nothing,
}

/// Where a name lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    Personal,
    Shared,
    Public,
}

/// Which namespace `name` (decoded, INBOX folded) belongs to, by prefix
/// alone.
pub fn place(name: &str) -> Place {
    if level_of(name, SHARED).is_some() {
        Place::Shared
    } else if level_of(name, PUBLIC).is_some() {
        Place::Public
    } else {
        Place::Personal
    }
}

/// `Some("")` for `root` itself, `Some(rest)` for `root/rest`, None
/// otherwise. Prefixes match exactly (case counts, as in Dovecot).
fn level_of<'a>(name: &'a str, root: &str) -> Option<&'a str> {
    let rest = name.strip_prefix(root)?;
    if rest.is_empty() {
        Some("")
    } else {
        rest.strip_prefix('/')
    }
}

/// What `name` stands for to `user`.
pub fn parse(reader: &Reader, user: u32, name: &str) -> Result<Name, StoreError> {
    if let Some(rest) = level_of(name, SHARED) {
        let (owner_name, inner) = match rest.split_once('/') {
            Some((owner_name, inner)) => (owner_name, Some(inner)),
            None => (rest, None),
        };
        if owner_name.is_empty() {
            return Ok(if inner.is_none() { Name::Level } else { Name::Nothing });
        }
        let Some(owner) = reader.user(owner_name)? else { return Ok(Name::Nothing) };
        if owner.id == user {
            return Ok(Name::Nothing);
        }
        return Ok(match inner {
            None => Name::Level,
            Some("") => Name::Nothing,
            Some(inner) => Name::Mailbox { owner: owner.id, name: inner.to_string() },
        });
    }
    if let Some(rest) = level_of(name, PUBLIC) {
        return Ok(if rest.is_empty() {
            Name::Level
        } else {
            Name::Mailbox { owner: PUBLIC_OWNER, name: rest.to_string() }
        });
    }
    Ok(Name::Mailbox { owner: user, name: name.to_string() })
}

/// A mailbox a user can see, and what they may do there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Access {
    pub id: u64,
    pub owner: u32,
    pub rights: Rights,
}

impl Access {
    /// Whether the user keeps their \Seen apart from the message's flag
    /// (every reader who is not the owner; everyone in a public mailbox).
    pub fn private_seen(&self, user: u32) -> bool {
        self.owner != user
    }

    /// The system flags `user` may put into this mailbox's message records
    /// (APPEND, COPY, STORE): what their rights allow (RFC 4314 §4), less
    /// \Seen unless they own it (a reader's \Seen is their own, and the
    /// record's is the owner's: store::acl).
    pub fn record_flags(&self, user: u32) -> crate::mail::Flags {
        let settable = self.rights.settable_flags();
        if self.private_seen(user) {
            settable.difference(crate::mail::Flags::SEEN)
        } else {
            settable
        }
    }
}

/// What looking a name up found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// A mailbox the user can see (they hold one of `l r i k x a`).
    Found(Access),
    /// No mailbox the user can see: missing, hidden from them, or a name
    /// that names nothing. Every command answers it as it answers a name
    /// that was never created.
    Missing,
    /// A namespace level (`Shared`, `Shared/alice`, `Family`) that is
    /// listed for the user: "not a mailbox", not "no such mailbox".
    Level,
}

/// Looks `name` up for `user`: Rule V in one place.
pub fn lookup(reader: &Reader, user: u32, name: &str) -> Result<Lookup, StoreError> {
    match parse(reader, user, name)? {
        Name::Nothing => Ok(Lookup::Missing),
        Name::Level => Ok(if level_visible(reader, user, name)? { Lookup::Level } else { Lookup::Missing }),
        Name::Mailbox { owner, name } => {
            let Some(id) = reader.mailbox_id(owner, &name)? else { return Ok(Lookup::Missing) };
            let rights = if owner == user { Rights::ALL } else { reader.rights_of(user, id)?.unwrap_or(Rights::NONE) };
            if rights.intersects(VISIBLE) {
                Ok(Lookup::Found(Access { id, owner, rights }))
            } else {
                Ok(Lookup::Missing)
            }
        }
    }
}

/// The rights `user` holds on mailbox `id` (owned by `owner`).
pub fn rights(reader: &Reader, user: u32, owner: u32, id: u64) -> Result<Rights, StoreError> {
    if owner == user {
        Ok(Rights::ALL)
    } else {
        Ok(reader.rights_of(user, id)?.unwrap_or(Rights::NONE))
    }
}

/// Whether a namespace level (`Shared`, `Shared/<owner>`, `Family`) is
/// listed for `user`: something they may `l` lies under it (RFC 2342 §5:
/// no user names of users who granted nothing).
fn level_visible(reader: &Reader, user: u32, name: &str) -> Result<bool, StoreError> {
    let owner = match level_of(name, SHARED) {
        Some("") => None,
        Some(owner_name) => match reader.user(owner_name)? {
            Some(record) => Some(record.id),
            None => return Ok(false),
        },
        None => Some(PUBLIC_OWNER),
    };
    for (id, rights) in reader.shared_with(user)? {
        if !rights.contains(Rights::LOOKUP) {
            continue;
        }
        let Some(record) = reader.mailbox(id)? else { continue };
        let in_tree = match owner {
            None => record.user_id != PUBLIC_OWNER,
            Some(owner) => record.user_id == owner,
        };
        if in_tree {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The name `user` sees for `owner`'s mailbox `name`; `owner_name` is the
/// owner's user name (unused for the user's own and public mailboxes).
pub fn visible_name(user: u32, owner: u32, owner_name: &str, name: &str) -> String {
    if owner == user {
        name.to_string()
    } else if owner == PUBLIC_OWNER {
        format!("{PUBLIC}/{name}")
    } else {
        format!("{SHARED}/{owner_name}/{name}")
    }
}

/// User names by id (a household has a handful of users: one read of the
/// users table), for [`visible_name`].
pub fn user_names(reader: &Reader) -> Result<Vec<(u32, String)>, StoreError> {
    let mut names: Vec<(u32, String)> = reader.users()?.into_iter().map(|(name, record)| (record.id, name)).collect();
    names.sort_unstable();
    Ok(names)
}

/// The name of user `id` in `names` (from [`user_names`]).
pub fn name_of(names: &[(u32, String)], id: u32) -> Option<&str> {
    names.binary_search_by_key(&id, |(user, _)| *user).ok().map(|index| names[index].1.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_follow_the_prefix_exactly() {
        assert_eq!(place("Shared"), Place::Shared);
        assert_eq!(place("Shared/alice/Bills"), Place::Shared);
        assert_eq!(place("SharedThings"), Place::Personal);
        assert_eq!(place("shared/alice"), Place::Personal);
        assert_eq!(place("Family"), Place::Public);
        assert_eq!(place("Family/Bills"), Place::Public);
        assert_eq!(place("Familyish"), Place::Personal);
        assert_eq!(place("INBOX"), Place::Personal);
    }

    #[test]
    fn visible_names_put_the_prefix_before_the_owner() {
        assert_eq!(visible_name(1, 1, "bob", "Work"), "Work");
        assert_eq!(visible_name(1, 2, "alice", "Bills/2026"), "Shared/alice/Bills/2026");
        assert_eq!(visible_name(1, PUBLIC_OWNER, "", "Bills"), "Family/Bills");
    }
}
