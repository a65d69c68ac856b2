//! NOTIFY (RFC 5465): unsolicited news of the selected mailbox and of the
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

use std::collections::{BTreeSet, HashMap};
use std::io;
use std::rc::Rc;

use crate::imap::code::Code;
use crate::imap::command::fetch;
use crate::imap::encode;
use crate::imap::mailbox_name;
use crate::imap::session::{Session, State, Status, SyncMode};
use crate::imap::types::{FetchItem, NotifyEvents, NotifyFilter, NotifySet};
use crate::store::{MailboxRecord, Store, StoreError, DELIMITER, INBOX};

/// The events this server supports, for `NO [BADEVENT (...)]`.
const SUPPORTED: &str = "MessageNew MessageExpunge FlagChange MailboxName SubscriptionChange";

pub struct Notify {
    user: u32,
    /// The SELECTED / SELECTED-DELAYED group, if it asks for events.
    selected: Option<Selected>,
    /// The other groups that ask for events.
    groups: Vec<(Filter, NotifyEvents)>,
    /// Every mailbox of the user as last seen: id → (name, \Noselect).
    mailboxes: HashMap<u64, (String, bool)>,
    /// The subscriptions as last seen (kept only if some filter or event
    /// needs them).
    subscriptions: BTreeSet<String>,
    track_subscriptions: bool,
    /// The counters last reported (or known) of the watched mailboxes.
    counts: HashMap<u64, Counts>,
    /// MessageNew's attributes were sent up to this UID of this mailbox.
    fetched: (u64, u32),
    /// UIDs this session itself added to `fetched.0` since (APPEND, COPY,
    /// MOVE): RFC 5465 §5.2, no MessageNew FETCH for them.
    own: Vec<std::ops::RangeInclusive<u32>>,
    _watch: UserWatch,
}

struct Selected {
    delayed: bool,
    events: NotifyEvents,
}

enum Filter {
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
            Filter::Personal => true,
            Filter::Subscribed => subscriptions.contains(name),
            Filter::Subtree(roots) => roots.iter().any(|root| {
                name == root || (name.starts_with(root.as_str()) && name[root.len()..].starts_with(DELIMITER))
            }),
            Filter::Mailboxes(names) => names.iter().any(|wanted| wanted == name),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Counts {
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

/// Keeps the user registered in the hub while the NOTIFY state lives.
struct UserWatch {
    store: Rc<Store>,
    user: u32,
}

impl Drop for UserWatch {
    fn drop(&mut self) {
        if let Ok(mut hub) = self.store.hub().try_borrow_mut() {
            hub.unwatch_user(self.user);
        }
    }
}

/// What the events of the groups matching one name ask for.
#[derive(Default)]
struct Wanted {
    messages: bool,
    flags: bool,
    names: bool,
    subscriptions: bool,
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

pub async fn run(session: &mut Session, tag: &str, user: u32, argument: Option<NotifySet>) -> io::Result<()> {
    let Some(set) = argument else {
        session.notify = None;
        return session.finish(tag, Status::Ok, None, "NOTIFY completed").await;
    };
    if set.groups.iter().any(|group| group.events.as_ref().is_some_and(|events| !events.unsupported.is_empty())) {
        let code = format!("BADEVENT ({SUPPORTED})");
        return session.finish(tag, Status::No, Some(Code::Data(code)), "Unsupported NOTIFY event").await;
    }
    let mut selected = None;
    let mut groups = Vec::new();
    let mut track_subscriptions = false;
    for group in set.groups {
        let Some(events) = group.events else { continue };
        let filter = match group.filter {
            NotifyFilter::Selected | NotifyFilter::SelectedDelayed => {
                if events.fetch.iter().any(FetchItem::sets_seen) {
                    let text = "NOTIFY MessageNew cannot fetch items that set \\Seen (use BODY.PEEK)";
                    session.tagged(tag, Status::Bad, None, text);
                    return Ok(());
                }
                let delayed = group.filter == NotifyFilter::SelectedDelayed;
                selected = Some(Selected { delayed, events });
                continue;
            }
            NotifyFilter::Inboxes => Filter::Inboxes,
            NotifyFilter::Personal => Filter::Personal,
            NotifyFilter::Subscribed => {
                track_subscriptions = true;
                Filter::Subscribed
            }
            ref filter @ (NotifyFilter::Subtree(ref raw) | NotifyFilter::Mailboxes(ref raw)) => {
                let mut names = Vec::with_capacity(raw.len());
                for raw in raw {
                    match mailbox_name::decode_for(raw, session.utf8_names()) {
                        Ok(name) => names.push(name),
                        Err(text) => {
                            session.tagged(tag, Status::Bad, None, &text);
                            return Ok(());
                        }
                    }
                }
                if matches!(filter, NotifyFilter::Subtree(_)) {
                    Filter::Subtree(names)
                } else {
                    Filter::Mailboxes(names)
                }
            }
        };
        track_subscriptions |= events.subscription_change;
        groups.push((filter, events));
    }
    if selected.as_ref().is_some_and(|selected| selected.events.fetch.contains(&FetchItem::Modseq)) {
        // RFC 7162 §3.1: asking for MODSEQ enables CONDSTORE.
        crate::imap::command::enable::condstore(session);
    }
    let store = session.server.store.clone();
    store.hub().borrow_mut().watch_user(user);
    let watch = UserWatch { store, user };
    let fetched = match session.view() {
        Some(view) => (view.mailbox, view.uids.last().copied().unwrap_or(0)),
        None => (0, 0),
    };
    let notify = Notify {
        user,
        selected,
        groups,
        mailboxes: HashMap::new(),
        subscriptions: BTreeSet::new(),
        track_subscriptions,
        counts: HashMap::new(),
        fetched,
        own: Vec::new(),
        _watch: watch,
    };
    // Replaces any earlier NOTIFY: what it had not reported yet is dropped.
    session.notify = Some(Box::new(notify));
    if let Err(error) = compare(session, if set.status { Pass::InitialStatus } else { Pass::Baseline }) {
        session.notify = None;
        return session.store_failed(tag, error, false).await;
    }
    // RFC 5465 §3.1: a successful NOTIFY SET is also an implicit NOOP.
    session.finish(tag, Status::Ok, None, "NOTIFY completed").await
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
enum Pass {
    /// NOTIFY SET: take the state, say nothing.
    Baseline,
    /// NOTIFY SET STATUS: take the state, send STATUS for watched mailboxes.
    InitialStatus,
    /// Later: send what changed.
    Report,
}

/// Compares the store with the snapshot, writes the LIST and STATUS
/// responses a `pass` calls for and takes the new snapshot.
fn compare(session: &mut Session, pass: Pass) -> Result<(), StoreError> {
    let Some(mut notify) = session.notify.take() else { return Ok(()) };
    let result = compare_with(session, &mut notify, pass);
    session.notify = Some(notify);
    result
}

fn compare_with(session: &mut Session, notify: &mut Notify, pass: Pass) -> Result<(), StoreError> {
    let reader = session.server.store.read()?;
    let mut records = Vec::new();
    for (name, id) in reader.mailboxes(notify.user)? {
        if let Some(record) = reader.mailbox(id)? {
            records.push((name, id, record));
        }
    }
    let subscriptions: BTreeSet<String> = if notify.track_subscriptions {
        reader.subscriptions(notify.user)?.into_iter().collect()
    } else {
        BTreeSet::new()
    };
    drop(reader);
    let names: BTreeSet<&str> = records.iter().map(|(name, _, _)| name.as_str()).collect();
    let by_name: HashMap<&str, &MailboxRecord> =
        records.iter().map(|(name, _, record)| (name.as_str(), record)).collect();
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
    let report = pass == Pass::Report;
    // RFC 5465 §5.4 MailboxName: created, deleted, renamed.
    if report {
        for (name, id, record) in &records {
            match notify.mailboxes.get(id) {
                Some((old, _)) if old != name => {
                    let wanted =
                        notify.wanted(name, &subscriptions).names || notify.wanted(old, &notify.subscriptions).names;
                    if wanted {
                        lines.push((name.clone(), list_line(name, &attributes(name, false), Some(old))));
                    }
                }
                Some((_, noselect)) if *noselect != record.noselect => {
                    if notify.wanted(name, &subscriptions).names {
                        lines.push((name.clone(), list_line(name, &attributes(name, false), None)));
                    }
                }
                Some(_) => {}
                None => {
                    if notify.wanted(name, &subscriptions).names {
                        lines.push((name.clone(), list_line(name, &attributes(name, false), None)));
                    }
                }
            }
        }
        let current: std::collections::HashSet<u64> = records.iter().map(|(_, id, _)| *id).collect();
        for (id, (old, _)) in &notify.mailboxes {
            if !current.contains(id) && !names.contains(old.as_str()) && notify.wanted(old, &notify.subscriptions).names
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
    }
    // STATUS of the watched mailboxes (RFC 5465 §5.1-5.3).
    let mut counts = HashMap::new();
    let mut statuses: Vec<(String, Vec<u8>)> = Vec::new();
    for (name, id, record) in &records {
        let wanted = notify.wanted(name, &subscriptions);
        if record.noselect || !(wanted.messages || wanted.flags) {
            continue;
        }
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
                let appeared = notify.mailboxes.get(id).is_none_or(|(_, noselect)| *noselect);
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
    notify.mailboxes = records.into_iter().map(|(name, id, record)| (id, (name, record.noselect))).collect();
    notify.subscriptions = subscriptions;
    Ok(())
}
