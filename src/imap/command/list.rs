//! LIST and LSUB (RFC 3501 §6.3.8, §6.3.9), with the CHILDREN (RFC 3348)
//! and SPECIAL-USE (RFC 6154) attributes, and the extended LIST of
//! RFC 5258 / RFC 9051 §6.3.9 with LIST-STATUS (RFC 5819).

use std::collections::{BTreeMap, BTreeSet};
use std::io;

use crate::imap::command::status;
use crate::imap::encode;
use crate::imap::mailbox_name;
use crate::imap::session::{Session, Status};
use crate::imap::types::ListOptions;
use crate::store::{StoreError, DELIMITER, INBOX};
use crate::util::mutf7;

/// Longest pattern accepted; matching is quadratic in it.
const MAX_PATTERN: usize = 1024;

/// Whether `name` matches `pattern`: `*` matches anything, `%` anything
/// but the hierarchy delimiter (RFC 3501 §6.3.8). The first
/// `case_insensitive` characters of the name compare without case. Dynamic
/// programming, so no pattern can make it backtrack exponentially.
pub fn matches(pattern: &[char], name: &[char], case_insensitive: usize) -> bool {
    // reachable[j]: the pattern consumed so far can match name[..j].
    let mut reachable = vec![false; name.len() + 1];
    reachable[0] = true;
    for &token in pattern {
        let mut next = vec![false; name.len() + 1];
        match token {
            '*' | '%' => {
                let mut open = false;
                for j in 0..=name.len() {
                    if reachable[j] {
                        open = true;
                    }
                    next[j] = open;
                    if token == '%' && j < name.len() && name[j] == DELIMITER {
                        // `%` cannot carry a match past a delimiter.
                        open = false;
                    }
                }
            }
            literal => {
                for j in 0..name.len() {
                    let equal = name[j] == literal || (j < case_insensitive && name[j].eq_ignore_ascii_case(&literal));
                    if reachable[j] && equal {
                        next[j + 1] = true;
                    }
                }
            }
        }
        reachable = next;
    }
    reachable[name.len()]
}

/// Like [`matches`], with the INBOX of a name matched case-insensitively
/// (RFC 3501 §5.1), so "inbox", "Inbox/%" and "inb*" all find INBOX.
fn matches_name(pattern: &[char], name: &str) -> bool {
    let name_chars: Vec<char> = name.chars().collect();
    let is_inbox = name == INBOX || name.starts_with("INBOX/");
    matches(pattern, &name_chars, if is_inbox { INBOX.len() } else { 0 })
}

pub async fn run(
    session: &mut Session,
    tag: &str,
    reference: &[u8],
    patterns: &[Vec<u8>],
    subscribed_only: bool,
    options: Option<ListOptions>,
) -> io::Result<()> {
    let command = if subscribed_only { "LSUB" } else { "LIST" };
    if let Some(text) = options.as_ref().and_then(|options| status::refused_item(session, options.status.as_deref()?)) {
        session.tagged(tag, Status::Bad, None, text);
        return Ok(());
    }
    if let [pattern] = patterns {
        if pattern.is_empty() {
            // RFC 3501: an empty pattern asks for the delimiter and the root.
            let line = format!("* {command} (\\Noselect) \"{DELIMITER}\" \"\"\r\n");
            session.conn.write(line.as_bytes());
            return session.finish(tag, Status::Ok, None, &format!("{command} completed")).await;
        }
    }
    let utf8 = session.imap4rev2;
    let decode = |bytes: &[u8]| -> Result<String, String> {
        if utf8 {
            // RFC 9051 §5.1: UTF-8 names once IMAP4rev2 is enabled.
            String::from_utf8(bytes.to_vec()).map_err(|_| "Pattern is not valid UTF-8".to_string())
        } else {
            mutf7::decode(bytes).map_err(|error| format!("Pattern is not valid modified UTF-7: {error}"))
        }
        .map(mailbox_name::nfc)
    };
    let mut full_patterns = Vec::with_capacity(patterns.len());
    for pattern in patterns {
        match decode(reference).and_then(|reference| decode(pattern).map(|pattern| reference + &pattern)) {
            Ok(text) if text.len() <= MAX_PATTERN => full_patterns.push(text.chars().collect::<Vec<char>>()),
            Ok(_) => {
                session.tagged(tag, Status::Bad, None, "Pattern too long");
                return Ok(());
            }
            Err(text) => {
                session.tagged(tag, Status::Bad, None, &text);
                return Ok(());
            }
        }
    }
    let Some(user) = session.user().map(|user| user.id) else { return Ok(()) };
    let listed = match &options {
        None => list(session, user, &full_patterns[0], subscribed_only),
        Some(options) => list_extended(session, user, &full_patterns, options),
    };
    let listed = match listed {
        Ok(listed) => listed,
        Err(error) => return session.store_failed(tag, error, false).await,
    };
    let status_items = options.as_ref().and_then(|options| options.status.as_deref());
    for entry in listed {
        let out = session.conn.out();
        out.extend_from_slice(format!("* {command} ({}) \"{DELIMITER}\" ", entry.attributes).as_bytes());
        encode::mailbox_for(out, &entry.name, utf8);
        if entry.child_info {
            // RFC 5258 §4: a descendant meets the selection criteria.
            out.extend_from_slice(b" (\"CHILDINFO\" (\"SUBSCRIBED\"))");
        }
        out.extend_from_slice(b"\r\n");
        if let (Some(items), Some(id)) = (status_items, entry.selectable) {
            // RFC 5819 §2: STATUS right after the LIST of each selectable
            // mailbox; one whose status cannot be read is left without.
            if let Ok((record, recent)) = status::read(session, id, items) {
                status::write(session, &entry.name, &record, recent, items);
            }
        }
        session.conn.flush_if_full().await?;
    }
    session.finish(tag, Status::Ok, None, &format!("{command} completed")).await
}

/// One LIST or LSUB response to send.
struct Listed {
    attributes: String,
    name: String,
    /// The mailbox id, if it can be selected (LIST-STATUS answers for it).
    selectable: Option<u64>,
    child_info: bool,
}

impl Listed {
    fn new(attributes: String, name: String) -> Listed {
        Listed { attributes, name, selectable: None, child_info: false }
    }
}

/// Whether `name` matches any of `patterns`.
fn matches_any(patterns: &[Vec<char>], name: &str) -> bool {
    patterns.iter().any(|pattern| matches_name(pattern, name))
}

/// INBOX first, then by name, as clients show them.
fn sort(listed: &mut [Listed]) {
    listed.sort_by(|left, right| (left.name != INBOX, &left.name).cmp(&(right.name != INBOX, &right.name)));
}

/// (attributes, name) of every mailbox (or subscription) matching, INBOX
/// first: the LIST and LSUB of RFC 3501, unchanged for IMAP4rev1 clients.
fn list(session: &Session, user: u32, pattern: &[char], subscribed_only: bool) -> Result<Vec<Listed>, StoreError> {
    let reader = session.server.store.read()?;
    let mailboxes = reader.mailboxes(user)?;
    let names: BTreeSet<&str> = mailboxes.iter().map(|(name, _)| name.as_str()).collect();
    let mut listed = Vec::new();
    if subscribed_only {
        let subscriptions = reader.subscriptions(user)?;
        let subscribed: BTreeSet<&str> = subscriptions.iter().map(String::as_str).collect();
        let mut seen = BTreeSet::new();
        for name in &subscriptions {
            let selectable = names.contains(name.as_str());
            if matches_name(pattern, name) {
                if seen.insert(name.clone()) {
                    let attributes = if selectable { "" } else { "\\Noselect" };
                    listed.push(Listed::new(attributes.to_string(), name.clone()));
                }
                continue;
            }
            // RFC 3501 §6.3.9: when `%` stops short of a subscribed child,
            // its unsubscribed parent is listed as \Noselect.
            for (index, _) in name.match_indices(DELIMITER) {
                let parent = &name[..index];
                if !subscribed.contains(parent) && matches_name(pattern, parent) && seen.insert(parent.to_string()) {
                    listed.push(Listed::new("\\Noselect".to_string(), parent.to_string()));
                }
            }
        }
    } else {
        for (name, id) in &mailboxes {
            if !matches_name(pattern, name) {
                continue;
            }
            let Some(record) = reader.mailbox(*id)? else { continue };
            let mut attributes = Vec::new();
            if record.noselect {
                attributes.push("\\Noselect");
            }
            attributes.push(if has_children(&names, name) { "\\HasChildren" } else { "\\HasNoChildren" });
            if let Some(special_use) = record.special_use {
                attributes.push(special_use.attribute());
            }
            listed.push(Listed::new(attributes.join(" "), name.clone()));
        }
    }
    sort(&mut listed);
    Ok(listed)
}

/// `* LIST (attributes) "/" name` for one existing mailbox: what SELECT
/// and EXAMINE send in IMAP4rev2 (RFC 9051 §6.3.2), with UTF-8 names.
pub fn mailbox_line(session: &Session, user: u32, name: &str) -> Result<Vec<u8>, StoreError> {
    let reader = session.server.store.read()?;
    let id = reader.mailbox_id(user, name)?.ok_or(StoreError::NoSuchMailbox)?;
    let record = reader.mailbox(id)?.ok_or(StoreError::NoSuchMailbox)?;
    let mailboxes = reader.mailboxes(user)?;
    let names: BTreeSet<&str> = mailboxes.iter().map(|(name, _)| name.as_str()).collect();
    let mut attributes = vec![if has_children(&names, name) { "\\HasChildren" } else { "\\HasNoChildren" }];
    if let Some(special_use) = record.special_use {
        attributes.push(special_use.attribute());
    }
    let mut line = format!("* LIST ({}) \"{DELIMITER}\" ", attributes.join(" ")).into_bytes();
    encode::mailbox_utf8(&mut line, name);
    line.extend_from_slice(b"\r\n");
    Ok(line)
}

/// Whether any name in `names` lies below `name`.
fn has_children(names: &BTreeSet<&str>, name: &str) -> bool {
    let prefix = format!("{name}{DELIMITER}");
    names.range(prefix.as_str()..).next().is_some_and(|next| next.starts_with(&prefix))
}

/// The extended LIST of RFC 5258 (RFC 9051 §6.3.9): selection by
/// subscription and special use, \NonExistent for subscribed names that
/// are not mailboxes, \Subscribed on request, CHILDINFO with RECURSIVEMATCH.
/// \HasChildren / \HasNoChildren and special-use attributes always go out,
/// as in plain LIST (RFC 5258 §3.4 and RFC 6154 §2 allow that).
fn list_extended(
    session: &Session,
    user: u32,
    patterns: &[Vec<char>],
    options: &ListOptions,
) -> Result<Vec<Listed>, StoreError> {
    let reader = session.server.store.read()?;
    let mailboxes = reader.mailboxes(user)?;
    let names: BTreeSet<&str> = mailboxes.iter().map(|(name, _)| name.as_str()).collect();
    let subscriptions = reader.subscriptions(user)?;
    let subscribed: BTreeSet<&str> = subscriptions.iter().map(String::as_str).collect();
    // Only the mailboxes that may be listed are read.
    let mut records = BTreeMap::new();
    for (name, id) in &mailboxes {
        let wanted = !options.subscribed || subscribed.contains(name.as_str()) || options.recursive_match;
        if wanted {
            if let Some(record) = reader.mailbox(*id)? {
                records.insert(name.as_str(), (*id, record));
            }
        }
    }
    let selected = |name: &str| {
        let special_use = records.get(name).is_some_and(|(_, record)| record.special_use.is_some());
        let exists = records.contains_key(name);
        (if options.subscribed { subscribed.contains(name) } else { exists }) && (!options.special_use || special_use)
    };
    // The names that could be listed: mailboxes, and subscriptions when
    // selecting by them (with their parents for RECURSIVEMATCH).
    let mut candidates: BTreeSet<&str> = names.clone();
    let mut selected_parents: BTreeSet<&str> = BTreeSet::new();
    if options.subscribed {
        candidates.extend(subscribed.iter().copied());
    }
    if options.recursive_match {
        for name in candidates.iter().copied().filter(|name| selected(name)).collect::<Vec<_>>() {
            for (index, _) in name.match_indices(DELIMITER) {
                selected_parents.insert(&name[..index]);
            }
        }
        candidates.extend(selected_parents.iter().copied());
    }
    let mut listed = Vec::new();
    for name in candidates {
        if !matches_any(patterns, name) {
            continue;
        }
        let child_info = selected_parents.contains(name);
        if !selected(name) && !child_info {
            continue;
        }
        let mut attributes = Vec::new();
        let record = records.get(name);
        match record {
            // RFC 5258 §3.4: \NonExistent (which implies \Noselect).
            None => attributes.push("\\NonExistent"),
            Some((_, record)) if record.noselect => attributes.push("\\Noselect"),
            Some(_) => {}
        }
        if options.return_subscribed && subscribed.contains(name) {
            attributes.push("\\Subscribed");
        }
        if has_children(&names, name) {
            attributes.push("\\HasChildren");
        } else if record.is_some() {
            attributes.push("\\HasNoChildren");
        }
        if let Some(special_use) = record.and_then(|(_, record)| record.special_use) {
            attributes.push(special_use.attribute());
        }
        let selectable = record.filter(|(_, record)| !record.noselect).map(|(id, _)| *id);
        listed.push(Listed { attributes: attributes.join(" "), name: name.to_string(), selectable, child_info });
    }
    sort(&mut listed);
    Ok(listed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(pattern: &str, name: &str) -> bool {
        matches_name(&pattern.chars().collect::<Vec<_>>(), name)
    }

    #[test]
    fn wildcards() {
        assert!(check("*", "a/b/c"));
        assert!(check("%", "a"));
        assert!(!check("%", "a/b"));
        assert!(check("a/%", "a/b"));
        assert!(!check("a/%", "a/b/c"));
        assert!(check("a/*", "a/b/c"));
        assert!(check("a*c", "a/b/c"));
        assert!(!check("a%c", "a/b/c"));
        assert!(check("%/%", "a/b"));
        assert!(check("Arch%", "Archive"));
        assert!(!check("arch%", "Archive"));
        assert!(check("", "") && !check("", "a"));
    }

    #[test]
    fn inbox_is_case_insensitive() {
        assert!(check("inbox", "INBOX"));
        assert!(check("Inbox/%", "INBOX/Work"));
        assert!(check("inb*", "INBOX"));
        assert!(!check("inbox", "Inbox2"));
        assert!(!check("arch*", "Archive"), "only INBOX folds case");
    }

    #[test]
    fn hostile_patterns_are_answered() {
        // Exponential with backtracking; quadratic here, so this returns.
        let pattern: Vec<char> = "*%".repeat(500).chars().collect();
        let name: Vec<char> = "a/".repeat(250).chars().chain(['b']).collect();
        assert!(matches(&pattern, &name, 0));
        let pattern: Vec<char> = "%a".repeat(300).chars().collect();
        assert!(!matches(&pattern, &name, 0));
    }
}
