//! Shared state of the mailboxes that sessions have selected.
//!
//! Lives on the session executor. For each watched mailbox it keeps the
//! UIDs in it as of the last commit the pump applied, behind an `Rc`:
//! sessions that are up to date share one list, and a session that has not
//! yet told its client about a change keeps the older list alive until it
//! does (copy-on-write). So memory grows with the number of distinct
//! versions in use, not with the number of sessions.
//!
//! Changes are applied in commit order, and only those newer than what the
//! state was loaded from (a mailbox's modseq grows with every change), so a
//! state loaded from a snapshot never applies a change twice.

use std::collections::HashMap;
use std::rc::Rc;

use super::{Change, Reader, StoreError};

#[derive(Debug)]
pub struct MailboxState {
    watchers: u32,
    /// When its last watcher left (for keeping recently used ones).
    released: u64,
    pub uid_validity: u32,
    pub uids: Rc<Vec<u32>>,
    pub uid_next: u32,
    pub modseq: u64,
    /// The highest modseq of a change every user sees (all but private
    /// \Seen changes, see `store::acl`): at most `modseq`.
    pub shared_modseq: u64,
    pub keywords: Rc<Vec<String>>,
    /// Messages at or above this UID have not been \Recent in any session.
    pub first_recent_uid: u32,
    /// Deleted (or turned into a \Noselect placeholder) since it was watched.
    pub deleted: bool,
    /// Notified whenever a change to this mailbox is applied (IDLE waits
    /// on it: a listener is all an idling session holds besides its view).
    pub changed: event_listener::Event,
}

#[derive(Default)]
pub struct Hub {
    mailboxes: HashMap<u64, MailboxState>,
    /// First-recent UIDs handed out, kept after the last watcher leaves:
    /// the write that records them is not awaited, and a state reloaded
    /// before it lands must not give the same messages \Recent again.
    claimed_recent: HashMap<u64, u32>,
    /// Bytes of UID lists kept for mailboxes no session watches, so the
    /// next SELECT of a recently used mailbox need not reload them (the pump
    /// keeps them current like the others).
    keep_bytes: usize,
    releases: u64,
    /// Users some NOTIFY session watches (RFC 5465): how many sessions, and
    /// the event that wakes them on any change of the user's mail.
    users: HashMap<u32, (u32, event_listener::Event)>,
    /// How many rights changes were applied ([`Change::Rights`]): a
    /// session whose selected mailbox's rights were computed at an older
    /// value computes them again (RFC 4314 §5.1.1). One counter for the
    /// whole server: ACL changes are rare in a household, and a session
    /// that checks for nothing pays one lookup.
    acl_generation: u64,
    /// Users whose NOTIFY sessions also watch mailboxes of other owners
    /// (shared with them, or the household's): by owner (None: every
    /// user), the watching users and how many of their sessions do. A
    /// change of an owner's then wakes those users' sessions too, which
    /// work out for themselves what of it they may see (`imap::session::notify`).
    follows: HashMap<Option<u32>, HashMap<u32, u32>>,
    /// Quota warnings committed and not yet sent (user, percent level),
    /// and the event that wakes the task sending them (`crate::quota_warning`).
    quota_warnings: Vec<(u32, u8)>,
    quota_event: event_listener::Event,
}

/// A mailbox's UID list read ahead of [`Hub::watch`] by
/// [`crate::store::Store::preload`], in steps that let other sessions run,
/// from a snapshot at `modseq`.
pub struct Preloaded {
    pub(super) mailbox: u64,
    pub(super) modseq: u64,
    pub(super) uids: Vec<u32>,
}

impl Hub {
    /// Starts watching `mailbox`, loading it from `reader` if no one else
    /// watches it. The load is synchronous on purpose: while it runs the pump
    /// cannot, so no change can slip between the snapshot and the state.
    /// A `preloaded` UID list is taken instead when `reader` shows the
    /// mailbox at the modseq it was read at: nothing was appended or
    /// expunged since (every such change takes a new modseq), so no change
    /// the pump applied while it was read is missing from it.
    pub fn watch(
        &mut self,
        mailbox: u64,
        reader: &Reader,
        preloaded: Option<Preloaded>,
    ) -> Result<&MailboxState, StoreError> {
        if let std::collections::hash_map::Entry::Vacant(entry) = self.mailboxes.entry(mailbox) {
            let record = reader.mailbox(mailbox)?.ok_or(StoreError::NoSuchMailbox)?;
            if record.noselect {
                return Err(StoreError::NotSelectable);
            }
            let uids = match preloaded {
                Some(preloaded) if preloaded.mailbox == mailbox && preloaded.modseq == record.highest_modseq => {
                    preloaded.uids
                }
                _ => reader.messages()?.uids(mailbox)?,
            };
            entry.insert(MailboxState {
                watchers: 0,
                released: 0,
                uid_validity: record.uid_validity,
                uids: Rc::new(uids),
                uid_next: record.uid_next,
                modseq: record.highest_modseq,
                shared_modseq: reader.shared_modseq(mailbox, &record)?,
                keywords: Rc::new(record.keywords),
                first_recent_uid: record.first_recent_uid.max(self.claimed_recent.get(&mailbox).copied().unwrap_or(0)),
                deleted: false,
                changed: event_listener::Event::new(),
            });
        }
        let state = self.mailboxes.get_mut(&mailbox).expect("inserted above");
        state.watchers += 1;
        Ok(state)
    }

    pub fn unwatch(&mut self, mailbox: u64) {
        self.releases += 1;
        if let Some(state) = self.mailboxes.get_mut(&mailbox) {
            state.watchers -= 1;
            state.released = self.releases;
            if state.watchers == 0 && state.deleted {
                self.mailboxes.remove(&mailbox);
            }
        }
        self.trim();
    }

    /// How many bytes of unwatched UID lists to keep.
    pub fn keep(&mut self, bytes: usize) {
        self.keep_bytes = bytes;
        self.trim();
    }

    /// Drops the least recently released unwatched states beyond the budget.
    fn trim(&mut self) {
        let bytes = |state: &MailboxState| state.uids.len() * std::mem::size_of::<u32>();
        let mut kept: usize = self.mailboxes.values().filter(|state| state.watchers == 0).map(bytes).sum();
        while kept > self.keep_bytes {
            let oldest = self
                .mailboxes
                .iter()
                .filter(|(_, state)| state.watchers == 0)
                .min_by_key(|(_, state)| state.released)
                .map(|(id, state)| (*id, bytes(state)));
            let Some((id, size)) = oldest else { break };
            self.mailboxes.remove(&id);
            kept -= size;
        }
    }

    pub fn get(&self, mailbox: u64) -> Option<&MailboxState> {
        self.mailboxes.get(&mailbox)
    }

    /// RFC 3501 §2.3.2: a message is \Recent in the first session told of it.
    /// Hands the caller every message not yet shown as recent, as an
    /// inclusive UID range, and returns the new first-recent UID to persist.
    pub fn claim_recent(&mut self, mailbox: u64) -> Option<((u32, u32), u32)> {
        let state = self.mailboxes.get_mut(&mailbox)?;
        if state.first_recent_uid >= state.uid_next {
            return None;
        }
        let claimed = (state.first_recent_uid, state.uid_next - 1);
        state.first_recent_uid = state.uid_next;
        self.claimed_recent.insert(mailbox, state.uid_next);
        Some((claimed, state.uid_next))
    }

    /// A NOTIFY session starts watching everything of `user`'s.
    pub fn watch_user(&mut self, user: u32) {
        self.users.entry(user).or_insert_with(|| (0, event_listener::Event::new())).0 += 1;
    }

    pub fn unwatch_user(&mut self, user: u32) {
        if let Some(entry) = self.users.get_mut(&user) {
            entry.0 -= 1;
            if entry.0 == 0 {
                self.users.remove(&user);
            }
        }
    }

    /// A NOTIFY session of `user` starts watching `owner`'s mailboxes too
    /// (None: every user's).
    pub fn follow(&mut self, user: u32, owner: Option<u32>) {
        *self.follows.entry(owner).or_default().entry(user).or_insert(0) += 1;
    }

    pub fn unfollow(&mut self, user: u32, owner: Option<u32>) {
        let Some(users) = self.follows.get_mut(&owner) else { return };
        if let Some(count) = users.get_mut(&user) {
            *count -= 1;
            if *count == 0 {
                users.remove(&user);
            }
        }
        if users.is_empty() {
            self.follows.remove(&owner);
        }
    }

    /// A listener woken by the next change of `user`'s (if watched).
    pub fn listen_user(&self, user: u32) -> Option<event_listener::EventListener> {
        self.users.get(&user).map(|(_, event)| event.listen())
    }

    /// The count of rights changes applied so far (see the field).
    pub fn acl_generation(&self) -> u64 {
        self.acl_generation
    }

    pub(super) fn apply(&mut self, changes: &[Change]) {
        for change in changes {
            self.apply_one(change);
        }
    }

    /// Wakes the sessions waiting for news of the mailboxes `changes`
    /// touched (IDLE). Called after the committing callers got their
    /// answers, so an LMTP `250` or a tagged `OK` is not queued behind a
    /// thousand idling sessions writing their `EXISTS`.
    pub(super) fn notify(&self, changes: &[Change]) {
        for change in changes {
            let mailbox = match change {
                Change::Appended { mailbox, .. }
                | Change::Expunged { mailbox, .. }
                | Change::Flags { mailbox, .. }
                | Change::Deleted { mailbox } => mailbox,
                Change::User { user } => {
                    if let Some((_, event)) = self.users.get(user) {
                        event.notify(usize::MAX);
                    }
                    let followers = [Some(*user), None].into_iter().filter_map(|owner| self.follows.get(&owner));
                    for follower in followers.flat_map(HashMap::keys).filter(|follower| *follower != user) {
                        if let Some((_, event)) = self.users.get(follower) {
                            event.notify(usize::MAX);
                        }
                    }
                    continue;
                }
                // Idling sessions on the mailbox check their rights again.
                Change::Rights { mailbox: Some(mailbox) } => mailbox,
                Change::Rights { mailbox: None } => continue,
                Change::QuotaWarning { .. } => {
                    self.quota_event.notify(usize::MAX);
                    continue;
                }
            };
            if let Some(state) = self.mailboxes.get(mailbox) {
                state.changed.notify(usize::MAX);
            }
        }
    }

    fn apply_one(&mut self, change: &Change) {
        match change {
            Change::Appended { mailbox, first_uid, last_uid, modseq } => {
                if let Some(state) = self.fresh(*mailbox, *modseq) {
                    Rc::make_mut(&mut state.uids).extend(*first_uid..=*last_uid);
                    state.uid_next = state.uid_next.max(last_uid + 1);
                    state.modseq = *modseq;
                    state.shared_modseq = *modseq;
                }
            }
            Change::Expunged { mailbox, uids, modseq } => {
                if let Some(state) = self.fresh(*mailbox, *modseq) {
                    // Both lists are ascending: one merge pass.
                    let mut doomed = uids.iter().peekable();
                    Rc::make_mut(&mut state.uids).retain(|uid| {
                        while doomed.next_if(|&&gone| gone < *uid).is_some() {}
                        doomed.next_if_eq(&uid).is_none()
                    });
                    state.modseq = *modseq;
                    state.shared_modseq = *modseq;
                }
            }
            Change::Flags { mailbox, modseq, keywords, private_to } => {
                // An APPEND reports new keywords with the modseq of the
                // append itself, so keywords are taken at an equal modseq.
                let Some(state) = self.mailboxes.get_mut(mailbox) else { return };
                if *modseq < state.modseq {
                    return;
                }
                if let Some(keywords) = keywords {
                    state.keywords = Rc::new(keywords.clone());
                }
                state.modseq = *modseq;
                if private_to.is_none() {
                    state.shared_modseq = *modseq;
                }
            }
            Change::User { .. } => {}
            Change::QuotaWarning { user, percent } => self.quota_warnings.push((*user, *percent)),
            Change::Rights { .. } => self.acl_generation += 1,
            Change::Deleted { mailbox } => {
                self.claimed_recent.remove(mailbox);
                if let Some(state) = self.mailboxes.get_mut(mailbox) {
                    state.deleted = true;
                    if state.watchers == 0 {
                        self.mailboxes.remove(mailbox);
                    }
                }
            }
        }
    }

    /// The quota warnings committed since the last call (see [`Change::QuotaWarning`]).
    pub fn take_quota_warnings(&mut self) -> Vec<(u32, u8)> {
        std::mem::take(&mut self.quota_warnings)
    }

    /// Notified when a quota warning is committed; listen before taking.
    pub fn quota_warned(&self) -> event_listener::EventListener {
        self.quota_event.listen()
    }

    fn fresh(&mut self, mailbox: u64, modseq: u64) -> Option<&mut MailboxState> {
        self.mailboxes.get_mut(&mailbox).filter(|state| modseq > state.modseq)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(uids: Vec<u32>, modseq: u64) -> MailboxState {
        MailboxState {
            watchers: 1,
            released: 0,
            uid_validity: 1,
            uid_next: uids.last().map_or(1, |last| last + 1),
            uids: Rc::new(uids),
            modseq,
            shared_modseq: modseq,
            keywords: Rc::new(Vec::new()),
            first_recent_uid: 1,
            deleted: false,
            changed: event_listener::Event::new(),
        }
    }

    #[test]
    fn changes_apply_once_and_in_order() {
        let mut hub = Hub::default();
        hub.mailboxes.insert(7, state(vec![1, 2, 3, 5], 10));
        let shared = hub.get(7).unwrap().uids.clone();
        hub.apply(&[
            // Already in the snapshot: ignored.
            Change::Appended { mailbox: 7, first_uid: 5, last_uid: 5, modseq: 10 },
            Change::Appended { mailbox: 7, first_uid: 6, last_uid: 7, modseq: 11 },
            Change::Expunged { mailbox: 7, uids: vec![2, 5, 6], modseq: 12 },
            Change::Expunged { mailbox: 8, uids: vec![1], modseq: 12 },
        ]);
        let now = hub.get(7).unwrap();
        assert_eq!(*now.uids, vec![1, 3, 7]);
        assert_eq!((now.uid_next, now.modseq), (8, 12));
        // The session still holding the old list sees it unchanged.
        assert_eq!(*shared, vec![1, 2, 3, 5]);
    }

    #[test]
    fn recent_is_claimed_once() {
        let mut hub = Hub::default();
        hub.mailboxes.insert(1, state(vec![1, 2, 3], 4));
        assert_eq!(hub.claim_recent(1), Some(((1, 3), 4)));
        assert_eq!(hub.claim_recent(1), None);
        hub.apply(&[Change::Appended { mailbox: 1, first_uid: 4, last_uid: 4, modseq: 5 }]);
        assert_eq!(hub.claim_recent(1), Some(((4, 4), 5)));
    }

    #[test]
    fn a_claim_outlives_the_last_watcher() {
        let mut hub = Hub::default();
        hub.mailboxes.insert(1, state(vec![1, 2, 3], 4));
        assert_eq!(hub.claim_recent(1), Some(((1, 3), 4)));
        hub.unwatch(1);
        // Reloaded from a record that does not know of the claim yet.
        assert_eq!(hub.claimed_recent.get(&1), Some(&4));
    }

    #[test]
    fn private_changes_leave_the_shared_modseq() {
        let mut hub = Hub::default();
        hub.mailboxes.insert(1, state(vec![1], 4));
        hub.apply(&[Change::Flags { mailbox: 1, modseq: 5, keywords: None, private_to: Some(9) }]);
        let now = hub.get(1).unwrap();
        assert_eq!((now.modseq, now.shared_modseq), (5, 4));
        hub.apply(&[Change::Flags { mailbox: 1, modseq: 6, keywords: None, private_to: None }]);
        let now = hub.get(1).unwrap();
        assert_eq!((now.modseq, now.shared_modseq), (6, 6));
    }

    #[test]
    fn keywords_and_deletion() {
        let mut hub = Hub::default();
        hub.mailboxes.insert(1, state(vec![1], 4));
        hub.apply(&[
            Change::Appended { mailbox: 1, first_uid: 2, last_uid: 2, modseq: 5 },
            Change::Flags { mailbox: 1, modseq: 5, keywords: Some(vec!["$Junk".into()]), private_to: None },
        ]);
        assert_eq!(*hub.get(1).unwrap().keywords, vec!["$Junk".to_string()]);
        hub.apply(&[Change::Deleted { mailbox: 1 }]);
        assert!(hub.get(1).unwrap().deleted);
        hub.unwatch(1);
        assert!(hub.get(1).is_none(), "a deleted mailbox is never kept");
    }

    #[test]
    fn a_change_of_an_owner_wakes_the_users_who_follow_them() {
        let mut hub = Hub::default();
        hub.watch_user(1);
        hub.watch_user(2);
        hub.watch_user(3);
        hub.follow(2, Some(1));
        hub.follow(3, None);
        let woken = |listener: &mut event_listener::EventListener| {
            smol::future::block_on(smol::future::poll_once(listener)).is_some()
        };
        let (mut two, mut three) = (hub.listen_user(2).unwrap(), hub.listen_user(3).unwrap());
        hub.notify(&[Change::User { user: 1 }]);
        assert!(woken(&mut two), "follows user 1");
        assert!(woken(&mut three), "follows everyone");
        hub.unfollow(2, Some(1));
        let mut two = hub.listen_user(2).unwrap();
        hub.notify(&[Change::User { user: 1 }]);
        assert!(!woken(&mut two), "no longer follows");
        assert!(!hub.follows.contains_key(&Some(1)));
    }

    #[test]
    fn recently_used_states_are_kept_within_the_budget() {
        let mut hub = Hub::default();
        hub.keep(3 * 4);
        hub.mailboxes.insert(1, state(vec![1, 2], 4));
        hub.mailboxes.insert(2, state(vec![1, 2], 4));
        hub.unwatch(1);
        assert!(hub.get(1).is_some(), "kept: 8 bytes of 12");
        hub.apply(&[Change::Appended { mailbox: 1, first_uid: 3, last_uid: 3, modseq: 5 }]);
        assert_eq!(*hub.get(1).unwrap().uids, vec![1, 2, 3], "kept current");
        hub.unwatch(2);
        assert!(hub.get(1).is_none(), "the older one goes over budget");
        assert!(hub.get(2).is_some());
    }

    #[test]
    fn rights_changes_are_counted_and_wake_the_mailbox() {
        let mut hub = Hub::default();
        hub.mailboxes.insert(1, state(vec![1], 4));
        let listener = hub.get(1).unwrap().changed.listen();
        let changes = [Change::Rights { mailbox: Some(1) }, Change::Rights { mailbox: None }];
        hub.apply(&changes);
        hub.notify(&changes);
        assert_eq!(hub.acl_generation(), 2);
        // Woken: the listener resolves at once.
        assert!(smol::future::block_on(smol::future::or(
            async {
                listener.await;
                true
            },
            async { false }
        )));
    }
}
