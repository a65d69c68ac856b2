//! The untagged responses of the ACL commands (RFC 4314 §3.6–§3.8, §7):
//!
//! ```text
//! acl-data        = "ACL" SP mailbox *(SP identifier SP rights)
//! listrights-data = "LISTRIGHTS" SP mailbox SP identifier SP rights *(SP rights)
//! myrights-data   = "MYRIGHTS" SP mailbox SP rights
//! ```
//!
//! Each writer appends one line to `out` (the connection's buffer, for
//! the handlers); mailbox names go out as the session speaks them (UTF-8
//! or modified UTF-7, `utf8`), identifiers and rights as astrings, all
//! through `imap::encode`. Rights in ACL and MYRIGHTS carry the virtual
//! `c` and `d` of RFC 4314 §2.1.1 (`Rights::reported`); LISTRIGHTS lists
//! them as groups of their own, as §2.1.1 says for rights that are not
//! tied. It may use `imap::encode` and `mail::rights`, nothing else.
//!
//! The GETACL, LISTRIGHTS and MYRIGHTS handlers (`command::acl`) call these.

use crate::imap::encode;
use crate::mail::rights::{Grantable, Identifier, Rights};

/// `* ACL mailbox identifier rights ...` (RFC 4314 §3.6): GETACL's answer,
/// one pair per entry, none for an empty ACL.
pub fn acl(out: &mut Vec<u8>, mailbox: &str, utf8: bool, entries: &[(Identifier, Rights)]) {
    start(out, b"ACL", mailbox, utf8);
    for (identifier, rights) in entries {
        out.push(b' ');
        encode::astring(out, identifier.to_string().as_bytes());
        out.push(b' ');
        encode::astring(out, rights.reported().to_string().as_bytes());
    }
    out.extend_from_slice(b"\r\n");
}

/// `* LISTRIGHTS mailbox identifier required optional ...` (RFC 4314
/// §3.7): `identifier` as the client sent it (§3.4), the rights it always
/// has (possibly `""`), then each right it may be granted as a group of
/// its own, `c` and `d` last when any of their members is offered.
pub fn list_rights(out: &mut Vec<u8>, mailbox: &str, utf8: bool, identifier: &Identifier, offer: Grantable) {
    start(out, b"LISTRIGHTS", mailbox, utf8);
    out.push(b' ');
    encode::astring(out, identifier.to_string().as_bytes());
    out.push(b' ');
    encode::astring(out, offer.required.to_string().as_bytes());
    // §3.7: a right listed once only, so the required ones are not offered.
    let optional = offer.optional.difference(offer.required);
    for letter in optional.to_string().bytes() {
        out.extend_from_slice(&[b' ', letter]);
    }
    // §2.1.1: c and d when any member "can be granted"; by themselves,
    // as roost ties none of their members to another right.
    let grantable = offer.required.union(optional);
    if grantable.intersects(Rights::OBSOLETE_CREATE) {
        out.extend_from_slice(b" c");
    }
    if grantable.intersects(Rights::OBSOLETE_DELETE) {
        out.extend_from_slice(b" d");
    }
    out.extend_from_slice(b"\r\n");
}

/// `* MYRIGHTS mailbox rights` (RFC 4314 §3.8).
pub fn my_rights(out: &mut Vec<u8>, mailbox: &str, utf8: bool, rights: Rights) {
    start(out, b"MYRIGHTS", mailbox, utf8);
    out.push(b' ');
    encode::astring(out, rights.reported().to_string().as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// `* NAME mailbox`.
fn start(out: &mut Vec<u8>, name: &[u8], mailbox: &str, utf8: bool) {
    out.extend_from_slice(b"* ");
    out.extend_from_slice(name);
    out.push(b' ');
    encode::mailbox_for(out, mailbox, utf8);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::imap::parse::Parser;
    use crate::mail::rights::{grantable, Subject};
    use proptest::prelude::*;

    fn identifier(text: &str) -> Identifier {
        Identifier::parse(text.as_bytes()).unwrap()
    }

    fn rights(text: &str) -> Rights {
        Rights::parse(text.as_bytes()).unwrap()
    }

    fn written(write: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut out = Vec::new();
        write(&mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn acl_lines() {
        let entries = [(identifier("Fred"), rights("rwipslxetad")), (identifier("-Fred"), rights("wetd"))];
        assert_eq!(
            written(|out| acl(out, "INBOX", false, &entries)),
            "* ACL \"INBOX\" Fred lrswipxteacd -Fred wted\r\n"
        );
        assert_eq!(written(|out| acl(out, "INBOX", false, &[])), "* ACL \"INBOX\"\r\n");
        // An entry with no rights, the special identifiers, a name to quote.
        let entries = [
            (identifier("anyone"), Rights::NONE),
            (identifier("authenticated"), rights("lr")),
            (identifier("two words"), rights("k")),
            (identifier("nil"), rights("l")),
        ];
        assert_eq!(
            written(|out| acl(out, "Family/Bills", false, &entries)),
            "* ACL \"Family/Bills\" anyone \"\" authenticated lr \"two words\" kc \"nil\" l\r\n"
        );
    }

    #[test]
    fn mailbox_names_as_the_session_speaks() {
        let entries = [(identifier("Élodie"), rights("lr"))];
        assert_eq!(written(|out| acl(out, "Entwürfe", false, &entries)), "* ACL \"Entw&APw-rfe\" {7}\r\nÉlodie lr\r\n");
        assert_eq!(written(|out| my_rights(out, "Entwürfe", true, rights("lr"))), "* MYRIGHTS \"Entwürfe\" lr\r\n");
    }

    #[test]
    fn my_rights_lines() {
        // RFC 4314 §3.5's example "rwiptsldaex", written canonically with c and d.
        assert_eq!(
            written(|out| my_rights(out, "INBOX", false, rights("rwiptsldaex"))),
            "* MYRIGHTS \"INBOX\" lrswipxteacd\r\n"
        );
        assert_eq!(written(|out| my_rights(out, "INBOX", false, Rights::NONE)), "* MYRIGHTS \"INBOX\" \"\"\r\n");
        assert_eq!(written(|out| my_rights(out, "INBOX", false, rights("lrs"))), "* MYRIGHTS \"INBOX\" lrs\r\n");
    }

    #[test]
    fn list_rights_lines() {
        // The owner: `la` always (RFC 4314 §3.4's first example), the rest each on its own.
        let owner = identifier("smith");
        assert_eq!(
            written(|out| list_rights(out, "~/Mail/saved", false, &owner, grantable(&owner, true))),
            "* LISTRIGHTS \"~/Mail/saved\" smith la r s w i p k x t e c d\r\n"
        );
        // anyone: nothing always, everything but `a` (§3.4's second example has `a` too).
        let anyone = identifier("anyone");
        assert_eq!(
            written(|out| list_rights(out, "archive/imap", false, &anyone, grantable(&anyone, false))),
            "* LISTRIGHTS \"archive/imap\" anyone \"\" l r s w i p k x t e c d\r\n"
        );
        let bob = identifier("-bob");
        assert_eq!(
            written(|out| list_rights(out, "Bills", false, &bob, grantable(&bob, false))),
            "* LISTRIGHTS \"Bills\" -bob \"\" l r s w i p k x t e a c d\r\n"
        );
        // c and d only where a member may be granted, once each.
        let offer = Grantable { required: rights("k"), optional: rights("lrk") };
        assert_eq!(written(|out| list_rights(out, "X", false, &bob, offer)), "* LISTRIGHTS \"X\" -bob k l r c\r\n");
        let offer = Grantable { required: Rights::NONE, optional: rights("lt") };
        assert_eq!(written(|out| list_rights(out, "X", false, &bob, offer)), "* LISTRIGHTS \"X\" -bob \"\" l t d\r\n");
    }

    /// The words of a response line after `* NAME `, read back with the
    /// command parser's astring (quoted strings and literals included).
    fn words(line: &[u8], name: &str) -> Vec<Vec<u8>> {
        let prefix = format!("* {name} ");
        let body = line.strip_prefix(prefix.as_bytes()).unwrap().strip_suffix(b"\r\n").unwrap();
        let mut parser = Parser::new(body);
        let mut words = vec![parser.astring().unwrap()];
        while !parser.at_end() {
            parser.sp().unwrap();
            words.push(parser.astring().unwrap());
        }
        words
    }

    /// A rights word read as RFC 4314 §2.1.1 (*) tells clients to: c and d ignored.
    fn client_rights(word: &[u8]) -> Rights {
        let real: Vec<u8> = word.iter().copied().filter(|&byte| byte != b'c' && byte != b'd').collect();
        Rights::parse(&real).unwrap()
    }

    fn any_rights() -> impl Strategy<Value = Rights> {
        proptest::sample::subsequence(b"lrswipkxtea".to_vec(), 0..=11)
            .prop_map(|letters| Rights::parse(&letters).unwrap())
    }

    fn any_identifier() -> impl Strategy<Value = Identifier> {
        "-?([a-z0-9._@+]{1,12}|[^-\\p{Cc}][^\\p{Cc}]{0,6})"
            .prop_filter_map("parses", |text| Identifier::parse(text.as_bytes()).ok())
    }

    proptest! {
        /// An ACL line reads back, word by word, as the entries written.
        #[test]
        fn acl_lines_read_back(
            mailbox in "[^\\p{Cc}]{0,12}",
            entries in proptest::collection::vec((any_identifier(), any_rights()), 0..5),
        ) {
            let line = written(|out| acl(out, &mailbox, true, &entries));
            let words = words(line.as_bytes(), "ACL");
            prop_assert_eq!(&words[0], mailbox.as_bytes());
            prop_assert_eq!(words.len(), 1 + 2 * entries.len());
            for (pair, (identifier, rights)) in words[1..].chunks(2).zip(&entries) {
                prop_assert_eq!(&Identifier::parse(&pair[0]).unwrap(), identifier);
                prop_assert_eq!(client_rights(&pair[1]), *rights);
            }
        }

        /// MYRIGHTS reads back the same way.
        #[test]
        fn my_rights_lines_read_back(mailbox in "[^\\p{Cc}]{0,12}", rights in any_rights()) {
            let line = written(|out| my_rights(out, &mailbox, true, rights));
            let words = words(line.as_bytes(), "MYRIGHTS");
            prop_assert_eq!(words.len(), 2);
            prop_assert_eq!(&words[0], mailbox.as_bytes());
            prop_assert_eq!(client_rights(&words[1]), rights);
        }

        /// LISTRIGHTS: the identifier as given, the required rights, then
        /// each grantable right once (RFC 4314 §3.7), c and d aside.
        #[test]
        fn list_rights_lines_read_back(identifier in any_identifier(), owner in any::<bool>()) {
            let offer = grantable(&identifier, owner);
            let line = written(|out| list_rights(out, "Bills", false, &identifier, offer));
            let words = words(line.as_bytes(), "LISTRIGHTS");
            prop_assert_eq!(&words[1], &identifier.to_string().into_bytes());
            prop_assert_eq!(Rights::parse(&words[2]).unwrap(), offer.required);
            let mut seen = offer.required;
            for word in &words[3..] {
                prop_assert_eq!(word.len(), 1);
                if word[0] == b'c' || word[0] == b'd' {
                    continue;
                }
                let right = Rights::parse(word).unwrap();
                prop_assert!(!seen.intersects(right), "{:?} listed twice", word);
                seen = seen.union(right);
            }
            prop_assert_eq!(seen, offer.required.union(offer.optional));
            let owner_keeps = owner && !identifier.negative && matches!(identifier.subject, Subject::User(_));
            prop_assert_eq!(offer.required.contains(Rights::OWNER), owner_keeps);
        }
    }
}
