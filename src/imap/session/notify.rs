//! NOTIFY (RFC 5465), the engine: unsolicited news of the selected mailbox and of the
//! user's other mailboxes, between commands and during IDLE.
//!
//! A NOTIFY session registers its user in the hub, whose per-user event
//! wakes it on every committed change of that user's mail, mailboxes or
//! subscriptions. On waking it works out what changed itself:
//!
//! - the selected mailbox (SELECTED / SELECTED-DELAYED) through the same
//!   `sync` every command ends with: EXISTS, EXPUNGE or VANISHED (held back
//!   with SELECTED-DELAYED until a command may report them), FETCH (UID
//!   FLAGS) for FlagChange, then FETCH of MessageNew's attributes;
//! - other mailboxes by comparing a small snapshot (per watched mailbox its
//!   STATUS counters; per mailbox of the user its name; the subscriptions)
//!   with the store, and sending STATUS and LIST responses for what differs.
//!
//! The state is boxed in the session and exists only once NOTIFY SET was
//! given; sessions that never use NOTIFY carry one empty pointer.
//!
//! No read snapshot is held across a write to the client (issue 11): the
//! selected mailbox's news go through `sync` and FETCH's `respond`, which
//! re-open theirs in steps; the comparison of other mailboxes reads its
//! records, drops the reader, and only then writes its responses.
//!
//! Choices where RFC 5465 leaves room (as Dovecot does, unless noted):
//! - changes this session made itself are reported too (the RFC says SHOULD
//!   omit; a snapshot cannot tell them from concurrent ones without risking
//!   to lose the latter). For the selected mailbox the usual rules hold:
//!   the client's own STORE is not echoed, its own EXPUNGE answered once,
//!   and messages it added itself (APPEND, COPY, MOVE) get no MessageNew
//!   FETCH (§5.2).
//! - a mailbox matching several event groups gets the union of their events;
//!   the selected mailbox gets only what the SELECTED group asks for.
//! - STATUS for another mailbox: MESSAGES UIDNEXT (and UNSEEN when it
//!   changed) for new and expunged messages; UNSEEN for flag changes, plus
//!   UIDVALIDITY and HIGHESTMODSEQ when CONDSTORE is enabled; HIGHESTMODSEQ
//!   with every STATUS once CONDSTORE is enabled. A mailbox that appears
//!   (created, or deleted and created again) gets a full STATUS with its new
//!   UIDVALIDITY.
//! - NOTIFY SET STATUS: MESSAGES UIDNEXT UIDVALIDITY UNSEEN [HIGHESTMODSEQ]
//!   for every non-selected mailbox with message events.
//! - without a SELECTED group the selected mailbox is reported only at
//!   commands, as without NOTIFY.
//! - INBOXES is INBOX: LMTP delivers nowhere else.
//!
//! # Other users' mailboxes (issue 15, spec §3.3)
//!
//! The comparison covers the user's tree (`imap::visible`): their own
//! mailboxes and those of others they hold `l` on, by visible names.
//! - `PERSONAL` is the personal namespace only (RFC 5465 §6); `SUBTREE
//!   Shared`, `SUBTREE Family`, `MAILBOXES Shared/mom/Bills` and
//!   `SUBSCRIBED` (whose rows hold visible names) reach the others.
//! - Events need `l` and `r` (RFC 5465 §5). A mailbox without `l` is not
//!   in the tree, so it is ignored silently; one with `l` but not `r` gets
//!   `LIST (\NoAccess)` at NOTIFY SET and when `r` goes, and no STATUS.
//! - Rights that change are MailboxName news (spec §1.9 item 4): gaining
//!   `l` is the mailbox appearing (`LIST` with its attributes, as for a
//!   CREATE), losing it is `LIST (\NonExistent)` (RFC 5465 §5.4's MUST).
//!   Decision: these go to every group watching the name, not only to
//!   those asking for MailboxName, since a client watching a mailbox for
//!   messages must learn why its news stopped.
//! - STATUS is computed for the listener: UNSEEN their own
//!   (`Reader::private_unseen` where they are not the owner).
//! - Waking: a change of an owner's mail wakes that owner's NOTIFY
//!   sessions (`Change::User`). A session also follows, in the hub, the
//!   owners its groups name (`Shared/alice/...` alice, `Family/...` the
//!   household, `Shared` everyone), those of its subscribed shared names
//!   and the selected mailbox's owner (`Hub::follow`), recomputed at each
//!   comparison; a rights change wakes the grantee (`set_rights` names
//!   them) and the owner, which those following the owner hear too.
//!
//! The command (`command::notify`) sets this state up; IDLE
//! (`command::idle`) and the command loop report through [`listen`] and
//! [`report`]; APPEND, COPY and MOVE note the session's own messages with
//! [`own_messages`]. It may use the session, the sync, the FETCH engine
//! (`imap::fetch`) and the store's reads, never a command.

use std::collections::{BTreeSet, HashMap};
use std::io;
use std::rc::Rc;

use crate::imap::encode;
use crate::imap::fetch;
use crate::imap::namespace::{self, Place};
use crate::imap::session::{Session, State, SyncMode};
use crate::imap::types::{FetchItem, NotifyEvents};
use crate::imap::visible::Tree;
use crate::mail::rights::Rights;
use crate::store::{MailboxRecord, Store, StoreError, DELIMITER, INBOX, PUBLIC_OWNER};

pub struct Notify {
    pub(crate) user: u32,
    /// The SELECTED / SELECTED-DELAYED group, if it asks for events.
    pub(crate) selected: Option<Selected>,
    /// The other groups that ask for events.
    pub(crate) groups: Vec<(Filter, NotifyEvents)>,
    /// Every mailbox the user sees (`imap::visible`) as last seen: id →
    /// (visible name, \Noselect, readable: they hold `r`).
    pub(crate) mailboxes: HashMap<u64, (String, bool, bool)>,
    /// The subscriptions as last seen (kept only if some filter or event
    /// needs them).
    pub(crate) subscriptions: BTreeSet<String>,
    pub(crate) track_subscriptions: bool,
    /// The counters last reported (or known) of the watched mailboxes.
    pub(crate) counts: HashMap<u64, Counts>,
    /// MessageNew's attributes were sent up to this UID of this mailbox.
    pub(crate) fetched: (u64, u32),
    /// UIDs this session itself added to `fetched.0` since (APPEND, COPY,
    /// MOVE): RFC 5465 §5.2, no MessageNew FETCH for them.
    pub(crate) own: Vec<std::ops::RangeInclusive<u32>>,
    pub(crate) watch: UserWatch,
}

pub(crate) struct Selected {
    pub(crate) delayed: bool,
    pub(crate) events: NotifyEvents,
}

pub(crate) enum Filter {
    Inboxes,
    Personal,
    Subscribed,
    Subtree(Vec<String>),
    Mailboxes(Vec<String>),
}

impl Filter {
    fn matches(&self, name: &str, subscriptions: &BTreeSet<String>) -> bool {
        match self {
            Filter::Inboxes => name == INBOX,
            // RFC 5465 §6: the personal namespace only (spec §3.3).
            Filter::Personal => namespace::place(name) == Place::Personal,
            Filter::Subscribed => subscriptions.contains(name),
            Filter::Subtree(roots) => roots.iter().any(|root| {
                name == root || (name.starts_with(root.as_str()) && name[root.len()..].starts_with(DELIMITER))
            }),
            Filter::Mailboxes(names) => names.iter().any(|wanted| wanted == name),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Counts {
    uid_validity: u32,
    messages: u32,
    uid_next: u32,
    unseen: u32,
    modseq: u64,
}

impl Counts {
    fn of(record: &MailboxRecord) -> Counts {
        Counts {
            uid_validity: record.uid_validity,
            messages: record.messages,
            uid_next: record.uid_next,
            unseen: record.unseen,
            modseq: record.highest_modseq,
        }
    }
}

/// Keeps the user registered in the hub while the NOTIFY state lives,
/// with the other owners whose changes wake the session too.
pub(crate) struct UserWatch {
    pub(crate) store: Rc<Store>,
    pub(crate) user: u32,
    pub(crate) follows: BTreeSet<Option<u32>>,
}

impl UserWatch {
    /// Follows exactly `owners` from now on (see [`owners`]).
    fn follow(&mut self, owners: BTreeSet<Option<u32>>) {
        if owners == self.follows {
            return;
        }
        let Ok(mut hub) = self.store.hub().try_borrow_mut() else { return };
        for &owner in self.follows.difference(&owners) {
            hub.unfollow(self.user, owner);
        }
        for &owner in owners.difference(&self.follows) {
            hub.follow(self.user, owner);
        }
        self.follows = owners;
    }
}

impl Drop for UserWatch {
    fn drop(&mut self) {
        if let Ok(mut hub) = self.store.hub().try_borrow_mut() {
            for &owner in &self.follows {
                hub.unfollow(self.user, owner);
            }
            hub.unwatch_user(self.user);
        }
    }
}

/// What the events of the groups matching one name ask for.
#[derive(Clone, Copy, Default)]
struct Wanted {
    messages: bool,
    flags: bool,
    names: bool,
    subscriptions: bool,
}

impl Wanted {
    fn any(self) -> bool {
        self.messages || self.flags || self.names || self.subscriptions
    }
}

impl Notify {
    fn wanted(&self, name: &str, subscriptions: &BTreeSet<String>) -> Wanted {
        let mut wanted = Wanted::default();
        for (filter, events) in &self.groups {
            if filter.matches(name, subscriptions) {
                wanted.messages |= events.message_new;
                wanted.flags |= events.flag_change;
                wanted.names |= events.mailbox_name;
                wanted.subscriptions |= events.subscription_change;
            }
        }
        wanted
    }
}

/// A listener for the next change of the NOTIFY session's user.
pub fn listen(session: &Session) -> Option<event_listener::EventListener> {
    let notify = session.notify.as_ref()?;
    session.server.store.hub().borrow().listen_user(notify.user)
}

/// Sends what changed since the last report. `idle`: within IDLE, where
/// expunges may always be reported.
pub async fn report(session: &mut Session, idle: bool) -> io::Result<()> {
    let Some(notify) = &session.notify else { return Ok(()) };
    let selected = notify
        .selected
        .as_ref()
        .filter(|selected| selected.events.message_new)
        .map(|selected| (selected.delayed, selected.events.flag_change, selected.events.fetch.clone()));
    if let (Some((delayed, flags, items)), State::Selected(..)) = (selected, &session.state) {
        let saved = (session.sync_mode, session.uid_command);
        session.sync_mode = if delayed && !idle { SyncMode::NoExpunge } else { SyncMode::Full };
        // RFC 5465 §5.1: the FETCH of a flag change carries the UID.
        session.uid_command = true;
        let synced = session.sync_selected(flags).await;
        (session.sync_mode, session.uid_command) = saved;
        synced?;
        if matches!(session.state, State::Logout) {
            return Ok(());
        }
        if !items.is_empty() {
            fetch_new(session, &items).await?;
        }
    }
    if let Err(error) = compare(session, Pass::Report) {
        log::error!("NOTIFY: {error}");
    }
    Ok(())
}

/// Notes messages this session added to `mailbox` itself, so that NOTIFY
/// does not send MessageNew's FETCH for them (RFC 5465 §5.2: SHOULD NOT).
pub fn own_messages(session: &mut Session, mailbox: u64, uids: std::ops::RangeInclusive<u32>) {
    let Some(notify) = session.notify.as_mut() else { return };
    let fetches = notify.selected.as_ref().is_some_and(|selected| !selected.events.fetch.is_empty());
    if fetches && notify.fetched.0 == mailbox {
        notify.own.push(uids);
    }
}

/// RFC 5465 §5.2: an unsolicited FETCH of MessageNew's attributes for each
/// message new since the last one (but the session's own).
async fn fetch_new(session: &mut Session, items: &[FetchItem]) -> io::Result<()> {
    let (Some(notify), Some(view)) = (session.notify.as_ref(), session.view()) else { return Ok(()) };
    let top = view.uids.last().copied().unwrap_or(0);
    let (mailbox, done) = notify.fetched;
    let current = view.mailbox;
    let start = view.uids.partition_point(|&uid| uid <= done);
    // Index ranges of the new messages, leaving out the session's own.
    let mut ranges: Vec<std::ops::Range<usize>> = Vec::new();
    for (index, uid) in view.uids.iter().enumerate().skip(start) {
        if notify.own.iter().any(|own| own.contains(uid)) {
            continue;
        }
        match ranges.last_mut() {
            Some(last) if last.end == index => last.end = index + 1,
            _ => ranges.push(index..index + 1),
        }
    }
    if mailbox != current || top <= done {
        // Newly selected: what SELECT reported is not new.
        let done = if mailbox == current { done.max(top) } else { top };
        if let Some(notify) = session.notify.as_mut() {
            notify.fetched = (current, done);
            notify.own.clear();
        }
        return Ok(());
    }
    let mailbox = current;
    if !ranges.is_empty() {
        if let Err(error) = fetch::respond(session, &ranges, items, None, None).await? {
            log::error!("NOTIFY fetch: {error}");
        }
    }
    if let Some(notify) = session.notify.as_mut() {
        notify.fetched = (mailbox, top);
        notify.own.retain(|own| *own.end() > top);
    }
    Ok(())
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pass {
    /// NOTIFY SET: take the state, say nothing.
    Baseline,
    /// NOTIFY SET STATUS: take the state, send STATUS for watched mailboxes.
    InitialStatus,
    /// Later: send what changed.
    Report,
}

/// Compares the store with the snapshot, writes the LIST and STATUS
/// responses a `pass` calls for and takes the new snapshot.
pub(crate) fn compare(session: &mut Session, pass: Pass) -> Result<(), StoreError> {
    let Some(mut notify) = session.notify.take() else { return Ok(()) };
    let result = compare_with(session, &mut notify, pass);
    session.notify = Some(notify);
    result
}

/// A mailbox the NOTIFY user sees, as compared: by its visible name, with
/// its record (counters the user's own) and whether they may read it.
struct Watched {
    name: String,
    id: u64,
    record: MailboxRecord,
    readable: bool,
}

/// The mailboxes the user sees (`imap::visible`: their own, and those of
/// others they hold `l` on), with their records, and their subscriptions.
/// UNSEEN is the user's own (spec §3.3: STATUS computed for the
/// listener); it is counted only for the mailboxes some group watches.
/// The mailboxes, subscriptions and namespace levels the user sees.
type Seen = (Vec<Watched>, BTreeSet<String>, Vec<String>);

fn watched(session: &Session, notify: &Notify) -> Result<Seen, StoreError> {
    let reader = session.server.store.read()?;
    let tree = Tree::read(&reader, notify.user, notify.track_subscriptions)?;
    let subscriptions: BTreeSet<String> = tree.subscriptions.into_iter().collect();
    let mut records = Vec::with_capacity(tree.mailboxes.len());
    for (name, seen) in tree.mailboxes {
        let Some(mut record) = reader.mailbox(seen.id)? else { continue };
        let readable = seen.rights.contains(Rights::STATUS);
        let wanted = notify.wanted(&name, &subscriptions);
        let counted = readable && (wanted.messages || wanted.flags) && !record.noselect;
        if counted {
            // The listener's own HIGHESTMODSEQ (spec §3.2): another user's
            // private \Seen moves the mailbox's counter, not this, so it
            // sends nothing here.
            record.highest_modseq = reader.highest_modseq_for(seen.id, notify.user)?;
        }
        if seen.owner != notify.user {
            // RFC 6154 attributes only in the personal namespace (spec §2.3).
            record.special_use = None;
            if counted {
                record.unseen = reader.private_unseen(seen.id, notify.user)?;
            }
        }
        records.push(Watched { name, id: seen.id, record, readable });
    }
    let levels = tree.levels.into_iter().collect();
    Ok((records, subscriptions, levels))
}

/// The owners whose changes may concern this NOTIFY session besides the
/// user's own (None: every user): those its groups name (`Shared/alice/...`,
/// `Family/...`, `Shared` itself), those of its subscribed shared names,
/// and the selected mailbox's. The hub then wakes the session on their
/// changes too (`Hub::follow`).
fn owners(session: &Session, notify: &Notify, subscriptions: &BTreeSet<String>) -> BTreeSet<Option<u32>> {
    let mut owners = BTreeSet::new();
    let mut names: Vec<&str> = Vec::new();
    for (filter, _) in &notify.groups {
        match filter {
            Filter::Subtree(list) | Filter::Mailboxes(list) => names.extend(list.iter().map(String::as_str)),
            Filter::Subscribed => names.extend(subscriptions.iter().map(String::as_str)),
            Filter::Inboxes | Filter::Personal => {}
        }
    }
    let users = session.server.store.read().and_then(|reader| namespace::user_names(&reader)).unwrap_or_default();
    for name in names {
        match namespace::place(name) {
            Place::Personal => {}
            Place::Public => {
                owners.insert(Some(PUBLIC_OWNER));
            }
            Place::Shared => {
                let rest = name[namespace::SHARED.len()..].trim_start_matches(DELIMITER);
                let owner = rest.split(DELIMITER).next().unwrap_or("");
                if owner.is_empty() {
                    owners.insert(None);
                } else if let Some((id, _)) = users.iter().find(|(_, known)| known == owner) {
                    owners.insert(Some(*id));
                }
            }
        }
    }
    if let Some(view) = session.view().filter(|view| view.access.owner != notify.user) {
        owners.insert(Some(view.access.owner));
    }
    owners
}

fn compare_with(session: &mut Session, notify: &mut Notify, pass: Pass) -> Result<(), StoreError> {
    let (records, subscriptions, levels) = watched(session, notify)?;
    let owners = owners(session, notify, &subscriptions);
    notify.watch.follow(owners);
    let mut names: BTreeSet<&str> = records.iter().map(|watched| watched.name.as_str()).collect();
    names.extend(levels.iter().map(String::as_str));
    let by_name: HashMap<&str, &MailboxRecord> =
        records.iter().map(|watched| (watched.name.as_str(), &watched.record)).collect();
    let utf8 = session.utf8_names();
    let condstore = session.condstore;
    let selected = session.view().map(|view| view.mailbox);
    let mut lines: Vec<(String, Vec<u8>)> = Vec::new();
    let attributes = |name: &str, subscribed: bool| -> String {
        let mut attributes = Vec::new();
        match by_name.get(name) {
            None => attributes.push("\\NonExistent"),
            Some(record) if record.noselect => attributes.push("\\Noselect"),
            Some(_) => {}
        }
        if subscribed {
            attributes.push("\\Subscribed");
        }
        let prefix = format!("{name}{DELIMITER}");
        let children = names.range(prefix.as_str()..).next().is_some_and(|next| next.starts_with(&prefix));
        if children {
            attributes.push("\\HasChildren");
        } else if by_name.contains_key(name) {
            attributes.push("\\HasNoChildren");
        }
        if let Some(special_use) = by_name.get(name).and_then(|record| record.special_use) {
            attributes.push(special_use.attribute());
        }
        attributes.join(" ")
    };
    let list_line = |name: &str, attributes: &str, old: Option<&str>| -> Vec<u8> {
        let mut line = format!("* LIST ({attributes}) \"{DELIMITER}\" ").into_bytes();
        encode::mailbox_for(&mut line, name, utf8);
        if let Some(old) = old {
            line.extend_from_slice(b" (\"OLDNAME\" (");
            encode::mailbox_for(&mut line, old, utf8);
            line.extend_from_slice(b"))");
        }
        line.extend_from_slice(b"\r\n");
        line
    };
    // A mailbox of another's that appears or disappears for the user
    // because of their rights (spec §1.9 item 4) is reported to every
    // group watching it, not only to those asking for MailboxName: RFC
    // 5465 §5.4 counts losing `l` as the mailbox being deleted (a MUST),
    // and a client watching it for messages must learn why they stopped.
    let told = |wanted: Wanted, name: &str| wanted.names || (namespace::place(name) != Place::Personal && wanted.any());
    let report = pass == Pass::Report;
    // RFC 5465 §5.4 MailboxName: created, deleted, renamed.
    if report {
        for Watched { name, id, record, readable } in &records {
            match notify.mailboxes.get(id) {
                Some((old, _, _)) if old != name => {
                    let wanted =
                        notify.wanted(name, &subscriptions).names || notify.wanted(old, &notify.subscriptions).names;
                    if wanted {
                        lines.push((name.clone(), list_line(name, &attributes(name, false), Some(old))));
                    }
                }
                Some((_, noselect, _)) if *noselect != record.noselect => {
                    if notify.wanted(name, &subscriptions).names {
                        lines.push((name.clone(), list_line(name, &attributes(name, false), None)));
                    }
                }
                Some((_, _, was_readable)) if was_readable != readable => {
                    // RFC 5465 §3 and §5.9: `l` without `r` is \NoAccess;
                    // monitoring stops, and starts again once `r` is back.
                    if told(notify.wanted(name, &subscriptions), name) {
                        let attributes = if *readable { attributes(name, false) } else { "\\NoAccess".to_string() };
                        lines.push((name.clone(), list_line(name, &attributes, None)));
                    }
                }
                Some(_) => {}
                None => {
                    if told(notify.wanted(name, &subscriptions), name) {
                        lines.push((name.clone(), list_line(name, &attributes(name, false), None)));
                    }
                }
            }
        }
        let current: std::collections::HashSet<u64> = records.iter().map(|watched| watched.id).collect();
        for (id, (old, _, _)) in &notify.mailboxes {
            if !current.contains(id)
                && !names.contains(old.as_str())
                && told(notify.wanted(old, &notify.subscriptions), old)
            {
                lines.push((old.clone(), list_line(old, "\\NonExistent", None)));
            }
        }
        // RFC 5465 §5.5 SubscriptionChange: \Subscribed if and only if subscribed now.
        if notify.track_subscriptions {
            for name in subscriptions.symmetric_difference(&notify.subscriptions) {
                let now = subscriptions.contains(name);
                let wanted = notify.wanted(name, &subscriptions).subscriptions
                    || notify.wanted(name, &notify.subscriptions).subscriptions;
                if wanted {
                    lines.push((name.clone(), list_line(name, &attributes(name, now), None)));
                }
            }
        }
    } else {
        // RFC 5465 §3: a watched mailbox the user may see but not read.
        for Watched { name, record, readable, .. } in &records {
            let wanted = notify.wanted(name, &subscriptions);
            if !readable && !record.noselect && (wanted.messages || wanted.flags) {
                lines.push((name.clone(), list_line(name, "\\NoAccess", None)));
            }
        }
    }
    // STATUS of the watched mailboxes (RFC 5465 §5.1-5.3); no event of a
    // mailbox the user may not read (RFC 5465 §5: `l` and `r`).
    let mut counts = HashMap::new();
    let mut statuses: Vec<(String, Vec<u8>)> = Vec::new();
    for Watched { name, id, record, readable } in &records {
        let wanted = notify.wanted(name, &subscriptions);
        if record.noselect || !readable || !(wanted.messages || wanted.flags) {
            continue;
        }
        // `record.highest_modseq` is the listener's own (`watched`).
        let now = Counts::of(record);
        counts.insert(*id, now);
        if Some(*id) == selected {
            // Reported as the selected mailbox (or not at all): kept current
            // so that it is compared from here once it is closed.
            continue;
        }
        let full = ["MESSAGES", "UIDNEXT", "UIDVALIDITY", "UNSEEN"];
        let items: Vec<&str> = match (pass, notify.counts.get(id)) {
            (Pass::Baseline, _) => continue,
            (Pass::InitialStatus, _) => full.to_vec(),
            (Pass::Report, Some(old)) if old.uid_validity == now.uid_validity => {
                let messages = wanted.messages && (old.messages != now.messages || old.uid_next != now.uid_next);
                let mut items = Vec::new();
                if messages {
                    items.extend(["MESSAGES", "UIDNEXT"]);
                }
                if wanted.flags && condstore && old.modseq != now.modseq {
                    items.push("UIDVALIDITY");
                }
                if old.unseen != now.unseen && (messages || wanted.flags) {
                    items.push("UNSEEN");
                }
                if items.is_empty() && !(wanted.flags && condstore && old.modseq != now.modseq) {
                    continue;
                }
                items
            }
            (Pass::Report, Some(_)) => full.to_vec(),
            (Pass::Report, None) => {
                // New to the watch: a mailbox that appeared (created, or
                // deleted and created again: a new UIDVALIDITY) is reported;
                // one that only came to match a filter is not.
                let appeared = notify.mailboxes.get(id).is_none_or(|(_, noselect, readable)| *noselect || !readable);
                if !appeared {
                    continue;
                }
                full.to_vec()
            }
        };
        let mut line = b"* STATUS ".to_vec();
        encode::mailbox_for(&mut line, name, utf8);
        line.extend_from_slice(b" (");
        for item in &items {
            let value: u64 = match *item {
                "MESSAGES" => now.messages.into(),
                "UIDNEXT" => now.uid_next.into(),
                "UIDVALIDITY" => now.uid_validity.into(),
                _ => now.unseen.into(),
            };
            line.extend_from_slice(item.as_bytes());
            line.push(b' ');
            encode::number(&mut line, value);
            line.push(b' ');
        }
        if condstore {
            line.extend_from_slice(b"HIGHESTMODSEQ ");
            encode::number(&mut line, now.modseq);
        } else {
            line.pop();
        }
        line.extend_from_slice(b")\r\n");
        statuses.push((name.clone(), line));
    }
    lines.sort_by(|left, right| left.0.cmp(&right.0));
    let out = session.conn.out();
    for (_, line) in lines.iter().chain(&statuses) {
        out.extend_from_slice(line);
    }
    notify.counts = counts;
    notify.mailboxes = records
        .into_iter()
        .map(|Watched { name, id, record, readable }| (id, (name, record.noselect, readable)))
        .collect();
    notify.subscriptions = subscriptions;
    Ok(())
}
