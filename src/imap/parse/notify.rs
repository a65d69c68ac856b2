//! NOTIFY (RFC 5465 §8): `NOTIFY NONE` / `NOTIFY SET [STATUS] event-groups`,
//! with the rules §5 and §6.1 put on the events (a tagged BAD when broken).

use super::{fetch, Parser, Result};
use crate::imap::types::{CommandBody, NotifyEvents, NotifyFilter, NotifyGroup, NotifySet};

/// Event groups and mailbox names one NOTIFY may name.
const MAX_GROUPS: usize = 64;
const MAX_NAMES: usize = 1000;

/// After the command name.
pub fn notify(parser: &mut Parser) -> Result<CommandBody> {
    parser.sp()?;
    let word = parser.atom()?.to_ascii_uppercase();
    match word.as_slice() {
        b"NONE" => Ok(CommandBody::Notify(None)),
        b"SET" => {
            parser.sp()?;
            let status = parser.try_keyword("STATUS ");
            let mut groups = Vec::new();
            loop {
                if groups.len() == MAX_GROUPS {
                    return Err("too many event groups".into());
                }
                groups.push(group(parser)?);
                if !parser.try_byte(b' ') {
                    break;
                }
            }
            check(&groups)?;
            Ok(CommandBody::Notify(Some(NotifySet { status, groups })))
        }
        _ => Err("expected NOTIFY SET or NOTIFY NONE".into()),
    }
}

/// `(filter-mailboxes SP events)`.
fn group(parser: &mut Parser) -> Result<NotifyGroup> {
    parser.byte(b'(')?;
    let word = parser.atom()?.to_ascii_uppercase();
    let filter = match word.as_slice() {
        b"SELECTED" => NotifyFilter::Selected,
        b"SELECTED-DELAYED" => NotifyFilter::SelectedDelayed,
        b"INBOXES" => NotifyFilter::Inboxes,
        b"PERSONAL" => NotifyFilter::Personal,
        b"SUBSCRIBED" => NotifyFilter::Subscribed,
        b"SUBTREE" => {
            parser.sp()?;
            NotifyFilter::Subtree(mailboxes(parser)?)
        }
        b"MAILBOXES" => {
            parser.sp()?;
            NotifyFilter::Mailboxes(mailboxes(parser)?)
        }
        _ => return Err(format!("unknown NOTIFY mailbox filter {}", String::from_utf8_lossy(&word))),
    };
    parser.sp()?;
    let events = if parser.try_byte(b'(') {
        Some(events(parser, filter.is_selected())?)
    } else {
        let word = parser.atom()?;
        if !word.eq_ignore_ascii_case(b"NONE") {
            return Err("expected a list of events or NONE".into());
        }
        None
    };
    parser.byte(b')')?;
    Ok(NotifyGroup { filter, events })
}

/// one-or-more-mailbox: `mailbox` or `(mailbox *(SP mailbox))`.
fn mailboxes(parser: &mut Parser) -> Result<Vec<Vec<u8>>> {
    if !parser.try_byte(b'(') {
        return Ok(vec![parser.mailbox()?]);
    }
    let mut names = Vec::new();
    loop {
        if names.len() == MAX_NAMES {
            return Err("too many mailbox names".into());
        }
        names.push(parser.mailbox()?);
        if parser.try_byte(b')') {
            return Ok(names);
        }
        parser.sp()?;
    }
}

/// The events after `(`, up to and including `)`, and §5's rules on them.
fn events(parser: &mut Parser, selected: bool) -> Result<NotifyEvents> {
    let mut events = NotifyEvents::default();
    loop {
        let word = parser.atom()?;
        let upper = word.to_ascii_uppercase();
        let mut message_event = true;
        match upper.as_slice() {
            b"MESSAGENEW" => {
                events.message_new = true;
                if parser.rest().starts_with(b" (") {
                    parser.sp()?;
                    if !selected {
                        return Err(
                            "MessageNew fetch attributes are only allowed with SELECTED or SELECTED-DELAYED".into()
                        );
                    }
                    events.fetch = fetch::fetch_items(parser)?;
                }
            }
            b"MESSAGEEXPUNGE" => events.message_expunge = true,
            b"FLAGCHANGE" => events.flag_change = true,
            b"ANNOTATIONCHANGE" => events.unsupported.push("AnnotationChange".into()),
            b"MAILBOXNAME" => {
                events.mailbox_name = true;
                message_event = false;
            }
            b"SUBSCRIPTIONCHANGE" => {
                events.subscription_change = true;
                message_event = false;
            }
            b"MAILBOXMETADATACHANGE" | b"SERVERMETADATACHANGE" => {
                events.unsupported.push(String::from_utf8_lossy(word).into_owned());
                message_event = false;
            }
            // event-ext: an event this server does not know (NO [BADEVENT]).
            _ => events.unsupported.push(String::from_utf8_lossy(word).into_owned()),
        }
        if selected && !message_event {
            return Err(format!(
                "{} cannot be used with SELECTED or SELECTED-DELAYED (RFC 5465 section 6.1)",
                String::from_utf8_lossy(word)
            ));
        }
        if parser.try_byte(b')') {
            break;
        }
        parser.sp()?;
    }
    if events.message_new != events.message_expunge {
        return Err("MessageNew and MessageExpunge must be given together (RFC 5465 section 5)".into());
    }
    let annotation = events.unsupported.iter().any(|name| name == "AnnotationChange");
    if (events.flag_change || annotation) && !events.message_new {
        return Err("FlagChange and AnnotationChange need MessageNew and MessageExpunge (RFC 5465 section 5)".into());
    }
    Ok(events)
}

/// RFC 5465 §6.1: one of SELECTED and SELECTED-DELAYED, once.
fn check(groups: &[NotifyGroup]) -> Result<()> {
    if groups.iter().filter(|group| group.filter.is_selected()).count() > 1 {
        return Err("only one SELECTED or SELECTED-DELAYED filter may be given (RFC 5465 section 6.1)".into());
    }
    Ok(())
}
