//! What one user sees of the three namespaces (RFC 2342, `imap::namespace`):
//! the tree LIST, LSUB, NOTIFY and SELECT's LIST line all answer from.
//!
//! - Their own mailboxes, by their own names. A personal mailbox named
//!   `Shared` or `Family` (or below them) is hidden by the namespaces.
//! - Every other mailbox they hold `l` on (RFC 4314 §4: LIST needs `l`),
//!   by its visible name (`Shared/<owner>/<name>`, `Family/<name>`), with
//!   the rights they hold there.
//! - The namespace levels `Shared`, `Shared/<owner>` and `Family`, only
//!   when something visible lies under them (RFC 2342 §5/§7: no user
//!   names of users who granted nothing). They are never mailboxes.
//!
//! A mailbox without `l` is simply absent from the tree. Its visible
//! children then have a parent that is not in the tree, exactly as a
//! mailbox that never existed, so every line drawn from the tree (LIST's
//! `\Noselect` parent, \HasChildren) is the same for a hidden parent as
//! for a missing one (RFC 4314 §4's LIST example, spec §2.2).
//!
//! The candidates from other users come from the ACL grantee index
//! ([`Reader::shared_candidates`]: three range reads), then one lookup
//! each. [`Tree::start`] and [`Tree::add_candidate`] split that so that
//! LIST can pace the lookups on its time budget (`command::list`), with a
//! new read transaction after each yield; [`Tree::read`] does it all in
//! one snapshot, for the short, non-writing callers (NOTIFY's comparison,
//! SELECT's LIST line). It may use the store's reads and
//! `imap::namespace`, never the session or a command.

use std::collections::{BTreeMap, BTreeSet};

use crate::imap::namespace::{self, Place};
use crate::mail::rights::Rights;
use crate::store::{Reader, SpecialUse, StoreError, DELIMITER, PUBLIC_OWNER};

/// What LIST shows of a mailbox's record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shown {
    pub noselect: bool,
    /// RFC 6154 attributes only in the personal namespace (spec §2.3: so
    /// that another user's \Trash never becomes this user's).
    pub special_use: Option<SpecialUse>,
}

/// One mailbox the user sees, under the name they see it by.
#[derive(Clone, Debug)]
pub struct Seen {
    pub id: u64,
    pub owner: u32,
    pub rights: Rights,
    /// Its record's attributes, once read: shared ones are read when
    /// looked up; personal ones only when listed (`command::list`).
    pub shown: Option<Shown>,
}

/// What one user sees: mailboxes by visible name, the namespace levels
/// with something under them, and (when asked for) their subscriptions.
#[derive(Default)]
pub struct Tree {
    pub user: u32,
    pub mailboxes: BTreeMap<String, Seen>,
    pub levels: BTreeSet<String>,
    pub subscriptions: Vec<String>,
}

/// What [`Tree::add_candidate`] needs between its steps.
pub struct Pending {
    /// Mailboxes of others whose ACL names the user, `authenticated` or `anyone`.
    pub candidates: Vec<u64>,
    /// User names by id, for the visible names.
    names: Vec<(u32, String)>,
}

impl Tree {
    /// The user's own mailboxes (records not read) and subscriptions, and
    /// the candidates from other users to look up next.
    pub fn start(reader: &Reader, user: u32, subscriptions: bool) -> Result<(Tree, Pending), StoreError> {
        let mut tree = Tree { user, ..Tree::default() };
        for (name, id) in reader.mailboxes(user)? {
            // Hidden by the namespaces (see `imap::namespace`).
            if namespace::place(&name) == Place::Personal {
                tree.mailboxes.insert(name, Seen { id, owner: user, rights: Rights::ALL, shown: None });
            }
        }
        if subscriptions {
            tree.subscriptions = reader.subscriptions(user)?;
        }
        let pending = Pending { candidates: reader.shared_candidates(user)?, names: namespace::user_names(reader)? };
        Ok((tree, pending))
    }

    /// Looks up one candidate: added if it is another's (or the
    /// household's) and the user holds `l` on it.
    pub fn add_candidate(&mut self, reader: &Reader, pending: &Pending, id: u64) -> Result<(), StoreError> {
        let Some(record) = reader.mailbox(id)? else { return Ok(()) };
        if record.user_id == self.user {
            return Ok(());
        }
        let rights = reader.rights_of(self.user, id)?.unwrap_or(Rights::NONE);
        if !rights.contains(Rights::LIST) {
            return Ok(());
        }
        let owner_name = if record.user_id == PUBLIC_OWNER {
            ""
        } else {
            match namespace::name_of(&pending.names, record.user_id) {
                Some(name) => name,
                // Its owner is being deleted: nobody sees it any more.
                None => return Ok(()),
            }
        };
        let name = namespace::visible_name(self.user, record.user_id, owner_name, &record.name);
        if record.user_id == PUBLIC_OWNER {
            self.levels.insert(namespace::PUBLIC.to_string());
        } else {
            self.levels.insert(namespace::SHARED.to_string());
            self.levels.insert(format!("{}{DELIMITER}{owner_name}", namespace::SHARED));
        }
        let shown = Shown { noselect: record.noselect, special_use: None };
        self.mailboxes.insert(name, Seen { id, owner: record.user_id, rights, shown: Some(shown) });
        Ok(())
    }

    /// The whole tree from one snapshot.
    pub fn read(reader: &Reader, user: u32, subscriptions: bool) -> Result<Tree, StoreError> {
        let (mut tree, pending) = Tree::start(reader, user, subscriptions)?;
        for &id in &pending.candidates {
            tree.add_candidate(reader, &pending, id)?;
        }
        Ok(tree)
    }

    /// Every name that stands for something: mailboxes and levels.
    pub fn names(&self) -> BTreeSet<&str> {
        self.mailboxes.keys().map(String::as_str).chain(self.levels.iter().map(String::as_str)).collect()
    }

    /// The proper parents of `name` that are in neither the mailboxes nor
    /// the levels: hidden, or never created (the same to the user).
    pub fn gaps<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        name.match_indices(DELIMITER)
            .map(move |(index, _)| &name[..index])
            .filter(move |parent| !self.mailboxes.contains_key(*parent) && !self.levels.contains(*parent))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::rights::RightsChange as Modifier;
    use crate::store::{AclEntry, Identifier, Op, RightsChange, Store};

    fn rights(letters: &str) -> Rights {
        Rights::parse(letters.as_bytes()).unwrap()
    }

    /// The trees of mom, dad and tom over mom's `Bills`, `Bills/2026`
    /// (dad: `l`), `Diary` and `Sent` (\Sent, tom: `lr`), and the
    /// household's `Newsletter` (`authenticated`: `lr`): the public tree
    /// is covered here because no command creates a public mailbox yet
    /// (`roost public create` comes with the ACL commands).
    #[test]
    fn each_user_sees_their_own_tree() {
        let directory = std::env::temp_dir().join(format!("roost-visible-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&directory);
        std::fs::create_dir_all(&directory).unwrap();
        let (store, pump) = Store::open(&directory.join("db.redb"), 1 << 20, 0).unwrap();
        let executor = smol::LocalExecutor::new();
        executor.spawn(pump).detach();
        smol::block_on(executor.run(async {
            let mut ids = Vec::new();
            for name in ["mom", "dad", "tom"] {
                store.execute(Op::AddUser { name: name.into(), password_hash: "x".into() }).await.unwrap();
                ids.push(store.read().unwrap().user(name).unwrap().unwrap().id);
            }
            let (mom, dad, tom) = (ids[0], ids[1], ids[2]);
            let grant = |id: u64, who: u32, letters: &str| {
                let change = RightsChange {
                    identifier: Identifier::User(who),
                    negative: false,
                    modifier: Modifier::Replace(rights(letters)),
                };
                let store: &Store = &store;
                async move { store.set_rights(id, change).await.unwrap() }
            };
            store.create_mailbox(mom, "Bills".into(), None).await.unwrap();
            let bills_2026 = store.create_mailbox(mom, "Bills/2026".into(), None).await.unwrap();
            store.create_mailbox(mom, "Diary".into(), None).await.unwrap();
            let sent = store.create_mailbox(mom, "Sent".into(), Some(SpecialUse::Sent)).await;
            let sent = match sent {
                Ok(id) => id,
                // Made at user creation.
                Err(_) => store.read().unwrap().mailbox_id(mom, "Sent").unwrap().unwrap(),
            };
            grant(bills_2026, dad, "l").await;
            grant(sent, tom, "lr").await;
            let everyone =
                AclEntry { identifier: Identifier::Authenticated, granted: rights("lr"), denied: Rights::NONE };
            store.create_public_mailbox("Newsletter".into(), None, vec![everyone]).await.unwrap();
            let reader = store.read().unwrap();

            let dads = Tree::read(&reader, dad, false).unwrap();
            let names: Vec<&str> = dads.mailboxes.keys().map(String::as_str).collect();
            assert!(names.contains(&"Shared/mom/Bills/2026") && names.contains(&"Family/Newsletter"), "{names:?}");
            assert!(!names.iter().any(|name| *name == "Shared/mom/Bills" || name.contains("Diary")), "{names:?}");
            let levels: Vec<&str> = dads.levels.iter().map(String::as_str).collect();
            assert_eq!(levels, ["Family", "Shared", "Shared/mom"]);
            // The hidden parent is a gap, as a missing one would be.
            assert_eq!(dads.gaps("Shared/mom/Bills/2026").collect::<Vec<_>>(), ["Shared/mom/Bills"]);
            assert_eq!(dads.mailboxes["Shared/mom/Bills/2026"].rights, rights("l"));

            let toms = Tree::read(&reader, tom, false).unwrap();
            let seen = &toms.mailboxes["Shared/mom/Sent"];
            // No special use outside the personal namespace.
            assert_eq!(seen.shown.unwrap().special_use, None);
            assert_eq!(seen.owner, mom);
            assert!(toms.mailboxes.contains_key("Family/Newsletter"));

            // Mom sees her own names, the household's, and no Shared level.
            let moms = Tree::read(&reader, mom, false).unwrap();
            assert!(moms.mailboxes.contains_key("Bills/2026") && moms.mailboxes.contains_key("Family/Newsletter"));
            assert!(!moms.levels.contains("Shared"));
        }));
        drop(store);
        let _ = std::fs::remove_dir_all(&directory);
    }

    #[test]
    fn gaps_are_the_parents_not_in_the_tree() {
        let mut tree = Tree { user: 1, ..Tree::default() };
        let seen = Seen { id: 9, owner: 2, rights: Rights::LIST, shown: None };
        tree.mailboxes.insert("Shared/mom/Bills/2026".into(), seen);
        tree.levels.extend(["Shared".to_string(), "Shared/mom".to_string()]);
        let gaps: Vec<&str> = tree.gaps("Shared/mom/Bills/2026").collect();
        assert_eq!(gaps, ["Shared/mom/Bills"]);
        assert!(tree.names().contains("Shared/mom"));
    }
}
