//! LIST and LSUB (RFC 3501 §6.3.8, §6.3.9), with the CHILDREN (RFC 3348)
//! and SPECIAL-USE (RFC 6154) attributes.

use std::collections::BTreeSet;
use std::io;

use crate::imap::encode;
use crate::imap::session::{Session, Status};
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
    pattern: &[u8],
    subscribed_only: bool,
) -> io::Result<()> {
    let command = if subscribed_only { "LSUB" } else { "LIST" };
    if pattern.is_empty() {
        // RFC 3501: an empty pattern asks for the delimiter and the root.
        let line = format!("* {command} (\\Noselect) \"{DELIMITER}\" \"\"\r\n");
        session.conn.write(line.as_bytes());
        return session.finish(tag, Status::Ok, None, &format!("{command} completed")).await;
    }
    let decoded =
        mutf7::decode(reference).and_then(|reference| mutf7::decode(pattern).map(|pattern| reference + &pattern));
    let full_pattern: Vec<char> = match decoded {
        Ok(text) if text.len() <= MAX_PATTERN => text.chars().collect(),
        Ok(_) => {
            session.tagged(tag, Status::Bad, None, "Pattern too long");
            return Ok(());
        }
        Err(error) => {
            session.tagged(tag, Status::Bad, None, &format!("Pattern is not valid modified UTF-7: {error}"));
            return Ok(());
        }
    };
    let Some(user) = session.user().map(|user| user.id) else { return Ok(()) };
    let listed = match list(session, user, &full_pattern, subscribed_only) {
        Ok(listed) => listed,
        Err(error) => return session.store_failed(tag, error, false).await,
    };
    for (attributes, name) in listed {
        let out = session.conn.out();
        out.extend_from_slice(format!("* {command} ({attributes}) \"{DELIMITER}\" ").as_bytes());
        encode::mailbox(out, &name);
        out.extend_from_slice(b"\r\n");
        session.conn.flush_if_full().await?;
    }
    session.finish(tag, Status::Ok, None, &format!("{command} completed")).await
}

/// (attributes, name) of every mailbox (or subscription) matching, INBOX first.
fn list(
    session: &Session,
    user: u32,
    pattern: &[char],
    subscribed_only: bool,
) -> Result<Vec<(String, String)>, StoreError> {
    let reader = session.server.store.read()?;
    let mailboxes = reader.mailboxes(user)?;
    let names: BTreeSet<&str> = mailboxes.iter().map(|(name, _)| name.as_str()).collect();
    let has_children = |name: &str| {
        let prefix = format!("{name}{DELIMITER}");
        names.range(prefix.as_str()..).next().is_some_and(|next| next.starts_with(&prefix))
    };
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
                    listed.push((attributes.to_string(), name.clone()));
                }
                continue;
            }
            // RFC 3501 §6.3.9: when `%` stops short of a subscribed child,
            // its unsubscribed parent is listed as \Noselect.
            for (index, _) in name.match_indices(DELIMITER) {
                let parent = &name[..index];
                if !subscribed.contains(parent) && matches_name(pattern, parent) && seen.insert(parent.to_string()) {
                    listed.push(("\\Noselect".to_string(), parent.to_string()));
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
            attributes.push(if has_children(name) { "\\HasChildren" } else { "\\HasNoChildren" });
            if let Some(special_use) = record.special_use {
                attributes.push(special_use.attribute());
            }
            listed.push((attributes.join(" "), name.clone()));
        }
    }
    // INBOX first, then by name, as clients show them.
    listed.sort_by(|(_, left), (_, right)| (left != INBOX, left).cmp(&(right != INBOX, right)));
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
