//! The ACL commands' arguments (RFC 4314 §3.1–§3.5, grammar in §7):
//!
//! ```text
//! setacl     = "SETACL" SP mailbox SP identifier SP mod-rights
//! deleteacl  = "DELETEACL" SP mailbox SP identifier
//! getacl     = "GETACL" SP mailbox
//! listrights = "LISTRIGHTS" SP mailbox SP identifier
//! myrights   = "MYRIGHTS" SP mailbox
//! identifier = astring        mod-rights = astring
//! ```
//!
//! Each argument is an astring (quoted and literal forms included); what
//! its text means is `mail::rights`' ([`Identifier::parse`],
//! [`RightsChange::parse`]), and a refusal there (an uppercase or unknown
//! right, an empty identifier: RFC 4314 §3, §3.1) is a parse error, so a
//! tagged BAD. It uses the parser's primitives and `mail::rights`, nothing
//! else. The handlers are `imap::command::acl`.

use super::{Parser, Result};
use crate::imap::types::{CommandBody, SetAclArguments};
use crate::mail::rights::{Identifier, RightsChange};

/// The five ACL command names (RFC 4314 §7 `command-auth =/`), upper-case.
#[cfg(test)]
const NAMES: [&[u8]; 5] = [b"SETACL", b"DELETEACL", b"GETACL", b"LISTRIGHTS", b"MYRIGHTS"];

/// The arguments of ACL command `name` (upper-cased, one of the five),
/// after the name.
pub fn acl_command(parser: &mut Parser, name: &[u8]) -> Result<CommandBody> {
    parser.sp()?;
    let mailbox = parser.mailbox()?;
    Ok(match name {
        b"SETACL" => {
            parser.sp()?;
            let identifier = identifier(parser)?;
            parser.sp()?;
            let text = parser.astring()?;
            let change = RightsChange::parse(&text).map_err(|error| error.to_string())?;
            CommandBody::SetAcl(SetAclArguments { mailbox, identifier, change })
        }
        b"DELETEACL" => {
            parser.sp()?;
            CommandBody::DeleteAcl { mailbox, identifier: identifier(parser)? }
        }
        b"LISTRIGHTS" => {
            parser.sp()?;
            CommandBody::ListRights { mailbox, identifier: identifier(parser)? }
        }
        b"GETACL" => CommandBody::GetAcl { mailbox },
        _ => CommandBody::MyRights { mailbox },
    })
}

/// `identifier = astring` (RFC 4314 §7).
fn identifier(parser: &mut Parser) -> Result<Identifier> {
    let text = parser.astring()?;
    Identifier::parse(&text).map_err(|error| error.to_string())
}

#[cfg(test)]
mod tests {
    use crate::imap::encode;
    use crate::imap::parse::parse_command;
    use crate::imap::types::{CommandBody, SetAclArguments};
    use crate::mail::rights::{Identifier, Rights, RightsChange, Subject};
    use proptest::prelude::*;

    fn parsed(line: &str) -> CommandBody {
        parse_command(line.as_bytes()).unwrap_or_else(|error| panic!("{line:?}: {error:?}")).body
    }

    fn error(line: &[u8]) -> String {
        let error = parse_command(line).unwrap_err();
        assert_eq!(error.tag.as_deref(), Some("a"), "{line:?}");
        error.message
    }

    fn user(name: &str) -> Identifier {
        Identifier { negative: false, subject: Subject::User(name.into()) }
    }

    fn rights(text: &str) -> Rights {
        Rights::parse(text.as_bytes()).unwrap()
    }

    #[test]
    fn each_command_parses() {
        assert_eq!(
            parsed("a SETACL INBOX/Drafts Chris +cda"),
            CommandBody::SetAcl(SetAclArguments {
                mailbox: b"INBOX/Drafts".to_vec(),
                identifier: user("Chris"),
                change: RightsChange::Add(rights("kxeta")),
            })
        );
        assert_eq!(
            parsed("a DELETEACL INBOX Fred"),
            CommandBody::DeleteAcl { mailbox: b"INBOX".to_vec(), identifier: user("Fred") }
        );
        assert_eq!(parsed("a GETACL INBOX"), CommandBody::GetAcl { mailbox: b"INBOX".to_vec() });
        assert_eq!(
            parsed("a LISTRIGHTS ~/Mail/saved smith"),
            CommandBody::ListRights { mailbox: b"~/Mail/saved".to_vec(), identifier: user("smith") }
        );
        assert_eq!(parsed("a MYRIGHTS INBOX"), CommandBody::MyRights { mailbox: b"INBOX".to_vec() });
    }

    #[test]
    fn names_are_case_insensitive_and_bodies_name_themselves() {
        // RFC 4314 §2.1.1's and §3's examples: "SeTacl", "getAcl", "DeleteAcl", "listrights".
        for (line, name) in [
            ("a SeTacl INBOX/Drafts David lrswida", "SETACL"),
            ("a getAcl INBOX/Drafts", "GETACL"),
            ("a DeleteAcl INBOX Fred", "DELETEACL"),
            ("a listrights archive/imap anyone", "LISTRIGHTS"),
            ("a myrights INBOX", "MYRIGHTS"),
        ] {
            assert_eq!(parsed(line).name(), name);
        }
        // Longer or shorter names are not ACL commands.
        assert_eq!(error(b"a SETACLS INBOX"), "unknown command SETACLS");
        assert_eq!(error(b"a ACL INBOX"), "unknown command ACL");
    }

    #[test]
    fn rights_and_identifiers_in_every_form() {
        let CommandBody::SetAcl(arguments) = parsed("a SETACL Bills anyone lr") else { panic!() };
        assert_eq!(arguments.identifier, Identifier { negative: false, subject: Subject::Anyone });
        assert_eq!(arguments.change, RightsChange::Replace(rights("lr")));
        let CommandBody::SetAcl(arguments) = parsed("a SETACL Bills -bob -w") else { panic!() };
        assert_eq!(arguments.identifier, Identifier { negative: true, subject: Subject::User("bob".into()) });
        assert_eq!(arguments.change, RightsChange::Remove(rights("w")));
        let CommandBody::SetAcl(arguments) = parsed("a SETACL Bills authenticated \"\"") else { panic!() };
        assert_eq!(arguments.identifier, Identifier { negative: false, subject: Subject::Authenticated });
        assert_eq!(arguments.change, RightsChange::Replace(Rights::NONE));
        // Quoted and literal mailboxes, identifiers and rights.
        let CommandBody::SetAcl(arguments) = parsed("a SETACL \"Family/Bills 2024\" \"Élodie\" {3}\r\n+li") else {
            panic!()
        };
        assert_eq!(arguments.mailbox, b"Family/Bills 2024");
        assert_eq!(arguments.identifier, user("Élodie"));
        assert_eq!(arguments.change, RightsChange::Add(rights("li")));
        assert_eq!(
            parsed("a LISTRIGHTS {5+}\r\nBills {3}\r\nbob"),
            CommandBody::ListRights { mailbox: b"Bills".to_vec(), identifier: user("bob") }
        );
        assert_eq!(parsed("a GETACL {0}\r\n"), CommandBody::GetAcl { mailbox: Vec::new() });
    }

    #[test]
    fn bad_arguments_say_why() {
        // RFC 4314 §3.1's examples.
        assert_eq!(
            error(b"a SETACL INBOX/Drafts John lrQswicda"),
            "uppercase rights are not allowed: Q (RFC 4314 section 2)"
        );
        assert_eq!(
            error(b"a SETACL INBOX/Drafts John lrqswicda"),
            "the q right is not supported (rights: lrswipkxtea, and c d)"
        );
        assert_eq!(error(b"a SETACL INBOX John +-l"), "the - right is not supported (rights: lrswipkxtea, and c d)");
        // RFC 4314 §3: an empty identifier is BAD.
        assert_eq!(error(b"a SETACL INBOX \"\" lr"), "empty identifier (RFC 4314 section 3)");
        assert_eq!(error(b"a DELETEACL INBOX -"), "empty identifier (RFC 4314 section 3)");
        assert!(error(b"a LISTRIGHTS INBOX \"b\xffb\"").contains("UTF-8"));
        assert!(error(b"a LISTRIGHTS INBOX {4}\r\nb\tob").contains("control"));
        // Missing and extra arguments.
        for line in [
            &b"a SETACL"[..],
            b"a SETACL INBOX",
            b"a SETACL INBOX bob",
            b"a SETACL INBOX bob ",
            b"a DELETEACL INBOX",
            b"a GETACL",
            b"a GETACL ",
            b"a LISTRIGHTS INBOX",
            b"a MYRIGHTS",
        ] {
            assert!(!error(line).is_empty(), "{line:?}");
        }
        for line in [
            &b"a GETACL INBOX extra"[..],
            b"a MYRIGHTS INBOX bob",
            b"a SETACL INBOX bob lr w",
            b"a DELETEACL INBOX bob lr",
        ] {
            assert!(error(line).starts_with("unexpected text at the end"), "{line:?}");
        }
        // Two spaces, a bare parenthesis, a short literal.
        assert_eq!(error(b"a GETACL  INBOX"), "expected an atom or a string");
        assert_eq!(error(b"a SETACL INBOX (bob) lr"), "expected an atom or a string");
        assert_eq!(error(b"a MYRIGHTS {9}\r\nINBOX"), "literal shorter than announced");
    }

    /// A command argument as a client may send it: atom, quoted or literal.
    fn argument(out: &mut Vec<u8>, value: &[u8], form: u8) {
        match form {
            0 => encode::astring(out, value),
            1 => encode::string(out, value),
            _ => {
                encode::literal_header(out, value.len() as u64);
                out.extend_from_slice(value);
            }
        }
    }

    fn any_rights() -> impl Strategy<Value = Rights> {
        any::<u16>().prop_map(from_bits)
    }

    /// A set from bits, through the letters (the type keeps its bits private).
    fn from_bits(bits: u16) -> Rights {
        let letters: String = "lrswipkxtea"
            .chars()
            .enumerate()
            .filter(|(index, _)| bits & (1 << index) != 0)
            .map(|(_, letter)| letter)
            .collect();
        Rights::parse(letters.as_bytes()).unwrap()
    }

    fn any_identifier() -> impl Strategy<Value = Identifier> {
        let subject = prop_oneof![
            Just(Subject::Anyone),
            Just(Subject::Authenticated),
            "[a-z0-9._@+][a-z0-9._@+-]{0,15}".prop_map(Subject::User),
            "[^-\\p{Cc}][^\\p{Cc}]{0,8}".prop_map(Subject::User),
        ]
        .prop_filter(
            "the special names are not users",
            |subject| !matches!(subject, Subject::User(name) if name == "anyone" || name == "authenticated"),
        );
        (any::<bool>(), subject).prop_map(|(negative, subject)| Identifier { negative, subject })
    }

    fn any_change() -> impl Strategy<Value = RightsChange> {
        (any_rights(), 0..3u8).prop_map(|(rights, sign)| match sign {
            0 => RightsChange::Replace(rights),
            1 => RightsChange::Add(rights),
            _ => RightsChange::Remove(rights),
        })
    }

    proptest! {
        /// Every command line, its arguments in any of their forms, parses
        /// to the command it was written from.
        #[test]
        fn command_lines_round_trip(
            mailbox in proptest::collection::vec(any::<u8>(), 0..20),
            identifier in any_identifier(),
            change in any_change(),
            forms in (0..3u8, 0..3u8, 0..3u8),
            which in 0..5u8,
        ) {
            let (name, expected) = match which {
                0 => ("SETACL", CommandBody::SetAcl(SetAclArguments { mailbox: mailbox.clone(), identifier: identifier.clone(), change })),
                1 => ("DELETEACL", CommandBody::DeleteAcl { mailbox: mailbox.clone(), identifier: identifier.clone() }),
                2 => ("GETACL", CommandBody::GetAcl { mailbox: mailbox.clone() }),
                3 => ("LISTRIGHTS", CommandBody::ListRights { mailbox: mailbox.clone(), identifier: identifier.clone() }),
                _ => ("MYRIGHTS", CommandBody::MyRights { mailbox: mailbox.clone() }),
            };
            let mut line = format!("t1 {name} ").into_bytes();
            argument(&mut line, &mailbox, forms.0);
            if matches!(which, 0 | 1 | 3) {
                line.push(b' ');
                argument(&mut line, identifier.to_string().as_bytes(), forms.1);
            }
            if which == 0 {
                line.push(b' ');
                argument(&mut line, change.to_string().as_bytes(), forms.2);
            }
            let command = parse_command(&line).map_err(|error| TestCaseError::fail(format!("{line:?}: {error:?}")))?;
            prop_assert_eq!(command.tag, "t1");
            prop_assert_eq!(command.body, expected);
        }

        /// Whatever follows an ACL command's name, the parser answers: a
        /// command, or an error with a reason and the tag.
        #[test]
        fn any_arguments(which in 0..5usize, rest in proptest::collection::vec(any::<u8>(), 0..40)) {
            let mut line = format!("t1 {}", String::from_utf8_lossy(super::NAMES[which])).into_bytes();
            line.extend_from_slice(&rest);
            match parse_command(&line) {
                Ok(command) => prop_assert_eq!(command.body.name().as_bytes(), super::NAMES[which]),
                Err(error) => {
                    prop_assert_eq!(error.tag.as_deref(), Some("t1"));
                    prop_assert!(!error.message.is_empty());
                }
            }
        }
    }
}
