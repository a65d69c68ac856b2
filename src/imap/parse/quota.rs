//! The QUOTA commands' arguments (RFC 9208 §4.1, grammar in §6):
//!
//! ```text
//! getquota      = "GETQUOTA" SP quota-root-name
//! getquotaroot  = "GETQUOTAROOT" SP mailbox
//! setquota      = "SETQUOTA" SP quota-root-name SP setquota-list
//! setquota-list = "(" [setquota-resource *(SP setquota-resource)] ")"
//! setquota-resource = resource-name SP resource-limit
//! quota-root-name   = astring        resource-limit = number64
//! resource-name = "STORAGE" / "MESSAGE" / "MAILBOX" /
//!                 "ANNOTATION-STORAGE" / resource-name-ext (an atom)
//! ```
//!
//! Resource names are case-insensitive and kept upper-cased; which of
//! them roost supports is the handler's business (`command::quota`), so a
//! resource it does not know is a NO there, not a BAD here. A quota root
//! name is bytes (it may be a mailbox-like name such as `Shared/bob`).

use super::{Parser, Result};
use crate::imap::types::CommandBody;

/// Resources one SETQUOTA may list at most: RFC 9208 names four, and a
/// longer list is no client's doing.
const MAX_RESOURCES: usize = 16;

/// The arguments of QUOTA command `name` (upper-cased: GETQUOTA,
/// GETQUOTAROOT or SETQUOTA), after the name.
pub fn quota_command(parser: &mut Parser, name: &[u8]) -> Result<CommandBody> {
    parser.sp()?;
    Ok(match name {
        b"GETQUOTAROOT" => CommandBody::GetQuotaRoot { mailbox: parser.mailbox()? },
        b"GETQUOTA" => CommandBody::GetQuota { root: parser.astring()? },
        _ => {
            let root = parser.astring()?;
            parser.sp()?;
            CommandBody::SetQuota { root, limits: setquota_list(parser)? }
        }
    })
}

/// `setquota-list`: (resource name upper-cased, limit) pairs, in order.
fn setquota_list(parser: &mut Parser) -> Result<Vec<(String, u64)>> {
    parser.byte(b'(')?;
    let mut limits: Vec<(String, u64)> = Vec::new();
    if parser.try_byte(b')') {
        return Ok(limits);
    }
    loop {
        let name = String::from_utf8_lossy(parser.atom()?).to_ascii_uppercase();
        parser.sp()?;
        let limit = parser.number64()?;
        if limits.iter().any(|(known, _)| *known == name) {
            return Err(format!("resource {name} is named twice"));
        }
        if limits.len() == MAX_RESOURCES {
            return Err("too many resources".into());
        }
        limits.push((name, limit));
        if parser.try_byte(b')') {
            return Ok(limits);
        }
        parser.sp()?;
    }
}

#[cfg(test)]
mod tests {
    use crate::imap::parse::parse_command;
    use crate::imap::types::{CommandBody, StatusItem};
    use proptest::prelude::*;

    fn parsed(line: &str) -> CommandBody {
        parse_command(line.as_bytes()).unwrap_or_else(|error| panic!("{line:?}: {error:?}")).body
    }

    fn refused(line: &str) -> String {
        let error = parse_command(line.as_bytes()).unwrap_err();
        assert_eq!(error.tag.as_deref(), Some("a"), "{line:?}");
        error.message
    }

    #[test]
    fn each_command_parses() {
        // RFC 9208 §4.1's examples.
        assert_eq!(parsed("a GETQUOTA \"\""), CommandBody::GetQuota { root: Vec::new() });
        assert_eq!(parsed("a getquotaroot INBOX"), CommandBody::GetQuotaRoot { mailbox: b"INBOX".to_vec() });
        assert_eq!(
            parsed("a SETQUOTA \"\" (STORAGE 512)"),
            CommandBody::SetQuota { root: Vec::new(), limits: vec![("STORAGE".into(), 512)] }
        );
        assert_eq!(
            parsed("a SetQuota Shared/bob (storage 1024 Message 100)"),
            CommandBody::SetQuota {
                root: b"Shared/bob".to_vec(),
                limits: vec![("STORAGE".into(), 1024), ("MESSAGE".into(), 100)]
            }
        );
        assert_eq!(parsed("a SETQUOTA \"\" ()"), CommandBody::SetQuota { root: Vec::new(), limits: Vec::new() });
        assert_eq!(parsed("a GETQUOTA household").name(), "GETQUOTA");
        assert_eq!(parsed("a GETQUOTAROOT x").name(), "GETQUOTAROOT");
        assert_eq!(parsed("a SETQUOTA x ()").name(), "SETQUOTA");
        // RFC 9208 §4.2: the STATUS item QUOTA=RES-STORAGE brings.
        assert_eq!(
            parsed("a STATUS INBOX (deleted-storage DELETED)"),
            CommandBody::Status {
                mailbox: b"INBOX".to_vec(),
                items: vec![StatusItem::DeletedStorage, StatusItem::Deleted]
            }
        );
    }

    #[test]
    fn malformed_arguments_are_refused_with_a_reason() {
        for line in [
            "a GETQUOTA",
            "a GETQUOTAROOT",
            "a SETQUOTA \"\"",
            "a SETQUOTA \"\" STORAGE 5",
            "a SETQUOTA \"\" (STORAGE)",
            "a SETQUOTA \"\" (STORAGE x)",
            "a SETQUOTA \"\" (STORAGE 5",
            "a SETQUOTA \"\" (STORAGE 5 STORAGE 6)",
            "a SETQUOTA \"\" (STORAGE 99999999999999999999)",
            "a SETQUOTA \"\" (STORAGE 5) extra",
            "a GETQUOTA \"\" extra",
        ] {
            assert!(!refused(line).is_empty(), "{line}");
        }
    }

    proptest! {
        /// Any list of distinct resources and limits comes back as written.
        #[test]
        fn setquota_lists_round_trip(
            root in "[A-Za-z0-9/]{0,12}",
            resources in proptest::collection::btree_map("[A-Z][A-Z-]{0,10}", any::<u64>(), 0..5),
        ) {
            let list: Vec<String> = resources.iter().map(|(name, limit)| format!("{name} {limit}")).collect();
            let line = format!("a SETQUOTA \"{root}\" ({})", list.join(" "));
            let expected: Vec<(String, u64)> = resources.into_iter().collect();
            prop_assert_eq!(parsed(&line), CommandBody::SetQuota { root: root.into_bytes(), limits: expected });
        }

        /// No input makes the parser panic; a refusal always says why.
        #[test]
        fn any_quota_line_parses_or_is_refused(tail in proptest::collection::vec(any::<u8>(), 0..40), which in 0..3usize) {
            let name = ["GETQUOTA ", "GETQUOTAROOT ", "SETQUOTA "][which];
            let mut line = format!("a {name}").into_bytes();
            line.extend(tail);
            if let Err(error) = parse_command(&line) {
                prop_assert!(!error.message.is_empty());
            }
        }
    }
}
