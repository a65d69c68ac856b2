//! What the rights on the selected mailbox allow, and rights that change
//! while a session has it selected (RFC 4314 §5.1.1, §5.2; spec §1.8, §1.9).
//!
//! SELECT answers READ-WRITE when the user holds any right that changes
//! something in the mailbox, and READ-ONLY otherwise. RFC 4314 §5.2 names
//! `i e w t`; roost counts `s` too, as Dovecot does: \Seen is private
//! here, but a reader with `lrs` whose client believed the mailbox
//! read-only would never mark anything read (spec open question Q2). So a
//! READ-ONLY mailbox from rights is one where no STORE could succeed, and
//! it behaves exactly like an EXAMINEd one.
//!
//! PERMANENTFLAGS lists only what the rights let the user change (§5.1.1:
//! "MUST accurately reflect the current user's rights"): \Seen with `s`,
//! \Deleted with `t`, the other flags, keywords and `\*` with `w`.
//!
//! Rights changed under a session: every committed rights change bumps a
//! counter in the hub ([`crate::store::Hub::acl_generation`]). Before each
//! command, and in IDLE and NOTIFY's waits (the hub wakes the mailbox's
//! idlers on a change to its ACL), a session whose counter is behind looks
//! its rights up again ([`Session::recheck_rights`], one lookup):
//! - `r` gone: `* BYE [NOPERM]` and the connection ends, before the
//!   command runs (§5.1.1 "MAY send BYE"; the issue asks for it at the
//!   latest on the next command);
//! - other rights changed: PERMANENTFLAGS again when it changed, and
//!   `* OK [READ-ONLY]`/`[READ-WRITE]` when that changed (RFC 3501 §7.1);
//!   later commands check the new rights.
//!
//! A deleted mailbox is left to `sync`, which says "deleted" (its hub
//! state knows), not "withdrawn".

use super::{Session, State};
use crate::imap::namespace;
use crate::imap::view::View;
use crate::mail::rights::Rights;

/// SELECT answers READ-WRITE with any one of these (see the module docs:
/// RFC 4314 §5.2's `i e w t`, and `s`).
pub const READ_WRITE: Rights = Rights::READ_WRITE_ANY.union(Rights::KEEP_SEEN);

/// Said, as the connection ends, to a session whose user lost `r` on the
/// selected mailbox (RFC 5530 §3 NOPERM in a BYE: resp-text allows it).
pub const WITHDRAWN: &[u8] = b"* BYE [NOPERM] Access to the selected mailbox was withdrawn\r\n";

/// Whether `rights` make SELECT READ-WRITE.
pub fn read_write(rights: Rights) -> bool {
    rights.intersects(READ_WRITE)
}

/// The rights whose flags a view may change: none in a read-only one.
pub fn settable(read_only: bool, rights: Rights) -> Rights {
    if read_only {
        Rights::NONE
    } else {
        rights
    }
}

/// `* OK [PERMANENTFLAGS (...)]` for a user who may change what
/// `settable` allows (RFC 4314 §5.1.1), in a mailbox defining `keywords`.
pub fn permanent_flags_line(keywords: &[String], settable: Rights) -> String {
    let mut flags = Vec::new();
    if settable.contains(Rights::WRITE) {
        flags.extend(["\\Answered", "\\Flagged"]);
    }
    if settable.contains(Rights::DELETE_MESSAGES) {
        flags.push("\\Deleted");
    }
    if settable.contains(Rights::KEEP_SEEN) {
        flags.push("\\Seen");
    }
    if settable.contains(Rights::WRITE) {
        flags.push("\\Draft");
        flags.extend(keywords.iter().map(String::as_str));
        // `\*`: clients may create keywords, until the mailbox holds the most it can.
        if keywords.len() < crate::store::MAX_KEYWORDS {
            flags.push("\\*");
        }
    }
    if flags.is_empty() {
        // RFC 3501 §6.3.2's wording for EXAMINE, which this is like.
        return "* OK [PERMANENTFLAGS ()] No permanent flags permitted\r\n".to_string();
    }
    format!("* OK [PERMANENTFLAGS ({})] Flags permitted\r\n", flags.join(" "))
}

/// FLAGS (every flag the mailbox defines: it describes the mailbox, not
/// the rights) and PERMANENTFLAGS (what `settable` allows).
pub fn flags_lines(keywords: &[String], settable: Rights) -> String {
    let mut lines = crate::imap::encode::flags_lines(keywords);
    let start = lines.find("* OK [PERMANENTFLAGS").unwrap_or(lines.len());
    lines.truncate(start);
    lines.push_str(&permanent_flags_line(keywords, settable));
    lines
}

/// [`flags_lines`] for a session's view of its mailbox, which defines
/// `keywords` now: what a new keyword's FLAGS announcement sends (sync,
/// FETCH), so it repeats the user's own PERMANENTFLAGS, not everyone's.
pub fn view_flags_lines(keywords: &[String], view: &View) -> String {
    flags_lines(keywords, settable(view.read_only, view.access.rights))
}

impl Session {
    /// Looks the selected mailbox's rights up again if any rights changed
    /// since they were (see the module docs); may end the session (state
    /// Logout, a BYE written).
    pub fn recheck_rights(&mut self) {
        let generation = self.server.store.hub().borrow().acl_generation();
        if generation == self.rights_generation {
            return;
        }
        self.rights_generation = generation;
        let State::Selected(user, view) = &mut self.state else { return };
        if view.access.owner == user.id {
            // The owner holds every right, always (store::acl).
            return;
        }
        let deleted = self.server.store.hub().borrow().get(view.mailbox).is_none_or(|state| state.deleted);
        if deleted {
            // `sync` says so, with the BYE of a deleted mailbox.
            return;
        }
        let looked_up = self
            .server
            .store
            .read()
            .and_then(|reader| namespace::rights(&reader, user.id, view.access.owner, view.access.id));
        let rights = match looked_up {
            Ok(rights) => rights,
            Err(error) => {
                // The rights stay as they were; the next change tries again.
                log::error!("{}: rights of mailbox {}: {error}", user.name, view.mailbox);
                return;
            }
        };
        if !rights.contains(Rights::SELECT) {
            self.conn.write(WITHDRAWN);
            self.state = State::Logout;
            return;
        }
        if rights == view.access.rights {
            return;
        }
        let before = permanent_flags_line(&view.keywords, settable(view.read_only, view.access.rights));
        let was_read_only = view.read_only;
        view.access.rights = rights;
        view.read_only = self.examined || !read_write(rights);
        let after = permanent_flags_line(&view.keywords, settable(view.read_only, rights));
        if after != before {
            // RFC 4314 §5.1.1: SHOULD send PERMANENTFLAGS again when it changed.
            self.conn.write(after.as_bytes());
        }
        if view.read_only != was_read_only {
            // RFC 3501 §7.1: READ-ONLY also says access changed while selected.
            let line: &[u8] = if view.read_only {
                b"* OK [READ-ONLY] Access to this mailbox is now read-only\r\n"
            } else {
                b"* OK [READ-WRITE] Access to this mailbox is now read-write\r\n"
            };
            self.conn.write(line);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rights(text: &str) -> Rights {
        Rights::parse(text.as_bytes()).unwrap()
    }

    #[test]
    fn permanent_flags_follow_the_rights() {
        let keywords = vec!["$Junk".to_string()];
        let all = crate::imap::encode::flags_lines(&keywords);
        assert!(all.ends_with(&permanent_flags_line(&keywords, Rights::ALL)), "{all}");
        assert_eq!(
            permanent_flags_line(&keywords, rights("lrs")),
            "* OK [PERMANENTFLAGS (\\Seen)] Flags permitted\r\n"
        );
        assert_eq!(
            permanent_flags_line(&keywords, rights("lrst")),
            "* OK [PERMANENTFLAGS (\\Deleted \\Seen)] Flags permitted\r\n"
        );
        assert_eq!(
            permanent_flags_line(&keywords, rights("lr")),
            "* OK [PERMANENTFLAGS ()] No permanent flags permitted\r\n"
        );
        assert!(permanent_flags_line(&keywords, rights("lrw")).contains("(\\Answered \\Flagged \\Draft $Junk \\*)"));
    }

    #[test]
    fn read_write_counts_seen_as_dovecot_does() {
        assert!(!read_write(rights("lr")));
        assert!(!read_write(rights("lrkxa")));
        for right in ["s", "w", "i", "t", "e"] {
            assert!(read_write(rights(&format!("lr{right}"))), "{right}");
        }
    }
}
