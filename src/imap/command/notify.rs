//! NOTIFY (RFC 5465): the command. NOTIFY NONE drops the session's NOTIFY
//! state; NOTIFY SET checks the events (BADEVENT for those not supported,
//! BAD for a SELECTED group whose FETCH would set \Seen), reads the event
//! groups into filters, registers the user in the hub and takes the first
//! snapshot (with STATUS responses for NOTIFY SET STATUS).
//!
//! What is reported afterwards, and when, is the session's NOTIFY engine
//! (`imap::session::notify`), which IDLE and the command loop share; its
//! docs give the choices where RFC 5465 leaves room.

use std::collections::{BTreeSet, HashMap};
use std::io;

use crate::imap::code::Code;
use crate::imap::mailbox_name;
use crate::imap::session::notify::{compare, Filter, Notify, Pass, Selected, UserWatch};
use crate::imap::session::{Session, Status};
use crate::imap::types::{FetchItem, NotifyFilter, NotifySet};

/// The events this server supports, for `NO [BADEVENT (...)]`.
const SUPPORTED: &str = "MessageNew MessageExpunge FlagChange MailboxName SubscriptionChange";

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
        crate::imap::session::condstore::condstore(session);
    }
    let store = session.server.store.clone();
    store.hub().borrow_mut().watch_user(user);
    let watch = UserWatch { store, user, follows: BTreeSet::new() };
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
        watch,
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
