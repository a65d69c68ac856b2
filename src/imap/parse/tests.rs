use super::*;
use crate::imap::types::SequenceNumber::{Saved, Star, Value};
use crate::imap::types::{
    DateField, DateRelation, FetchItem, ListOptions, SearchKey, SearchReturn, Section, SectionText,
};
use proptest::prelude::*;

fn parse(text: &str) -> CommandBody {
    parse_command(text.as_bytes()).unwrap_or_else(|error| panic!("{text:?}: {error:?}")).body
}

fn parse_error(text: &[u8]) -> ParseError {
    parse_command(text).expect_err("should not parse")
}

#[test]
fn simple_commands() {
    assert_eq!(parse("a1 CAPABILITY"), CommandBody::Capability);
    assert_eq!(parse("a1 noop"), CommandBody::Noop);
    assert_eq!(parse("x LOGOUT"), CommandBody::Logout);
    assert_eq!(parse("x starttls"), CommandBody::StartTls);
    assert_eq!(parse("x NAMESPACE"), CommandBody::Namespace);
    assert_eq!(parse("x UNSELECT"), CommandBody::Unselect);
}

#[test]
fn login_with_atoms_quoted_strings_and_literals() {
    assert_eq!(
        parse("a LOGIN alice secret"),
        CommandBody::Login { user: b"alice".to_vec(), password: b"secret".to_vec() }
    );
    assert_eq!(
        parse(r#"a LOGIN "alice" "p\"a\\ss word""#),
        CommandBody::Login { user: b"alice".to_vec(), password: br#"p"a\ss word"#.to_vec() }
    );
    assert_eq!(
        parse("a LOGIN {5}\r\nalice {6+}\r\nse cr\x01"),
        CommandBody::Login { user: b"alice".to_vec(), password: b"se cr\x01".to_vec() }
    );
}

#[test]
fn tags_and_errors_carry_the_tag() {
    let error = parse_error(b"t1 FROB");
    assert_eq!(error.tag.as_deref(), Some("t1"));
    assert!(error.message.contains("unknown command"));
    assert_eq!(parse_error(b"+tag NOOP").tag, None);
    assert_eq!(parse_error(b"").tag, None);
    assert_eq!(parse_error(b"NOOP").tag, None);
    assert_eq!(parse_error(b"a NOOP extra").tag.as_deref(), Some("a"));
    assert!(parse_error(b"a LOGIN \"open").message.contains("unterminated"));
    assert!(parse_error(b"a LOGIN {10}\r\nshort x").message.contains("shorter"));
}

#[test]
fn authenticate_with_and_without_initial_response() {
    assert_eq!(parse("a AUTHENTICATE plain"), CommandBody::Authenticate { mechanism: "PLAIN".into(), initial: None });
    assert_eq!(
        parse("a AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA=="),
        CommandBody::Authenticate { mechanism: "PLAIN".into(), initial: Some(b"AGFsaWNlAHNlY3JldA==".to_vec()) }
    );
    assert_eq!(
        parse("a AUTHENTICATE PLAIN ="),
        CommandBody::Authenticate { mechanism: "PLAIN".into(), initial: Some(Vec::new()) }
    );
}

#[test]
fn mailbox_commands() {
    assert_eq!(
        parse("a SELECT INBOX"),
        CommandBody::Select(SelectArguments {
            mailbox: b"INBOX".to_vec(),
            read_only: false,
            parameters: SelectParameters::default()
        })
    );
    assert_eq!(
        parse("a EXAMINE \"Sent Items\""),
        CommandBody::Select(SelectArguments {
            mailbox: b"Sent Items".to_vec(),
            read_only: true,
            parameters: SelectParameters::default()
        })
    );
    assert_eq!(parse("a RENAME a b/c"), CommandBody::Rename { from: b"a".to_vec(), to: b"b/c".to_vec() });
    assert_eq!(
        parse("a LIST \"\" %"),
        CommandBody::List(ListArguments {
            reference: Vec::new(),
            patterns: vec![b"%".to_vec()],
            subscribed_only: false,
            options: None
        })
    );
    assert_eq!(
        parse("a LSUB \"\" \"*\""),
        CommandBody::List(ListArguments {
            reference: Vec::new(),
            patterns: vec![b"*".to_vec()],
            subscribed_only: true,
            options: None
        })
    );
    assert_eq!(
        parse("a STATUS INBOX (MESSAGES UIDNEXT unseen)"),
        CommandBody::Status {
            mailbox: b"INBOX".to_vec(),
            items: vec![StatusItem::Messages, StatusItem::UidNext, StatusItem::Unseen]
        }
    );
    assert!(parse_command(b"a STATUS INBOX ()").is_err());
    assert!(parse_command(b"a STATUS INBOX (BOGUS)").is_err());
}

fn list_options(text: &str) -> (Vec<Vec<u8>>, Option<ListOptions>) {
    match parse(text) {
        CommandBody::List(ListArguments { patterns, options, subscribed_only: false, .. }) => (patterns, options),
        other => panic!("{text:?}: {other:?}"),
    }
}

#[test]
fn list_extended_selection_and_return_options() {
    // RFC 5258 §5 examples, adapted.
    let (patterns, options) = list_options("A02 LIST (SUBSCRIBED) \"\" \"*\"");
    assert_eq!(patterns, vec![b"*".to_vec()]);
    let expected = ListOptions { subscribed: true, return_subscribed: true, ..ListOptions::default() };
    assert_eq!(options, Some(expected));
    let (_, options) = list_options("A03 LIST () \"\" \"%\" RETURN (CHILDREN)");
    assert_eq!(options, Some(ListOptions { return_children: true, ..ListOptions::default() }));
    let (_, options) = list_options("A04 LIST (REMOTE) \"\" \"%\" RETURN (CHILDREN)");
    assert_eq!(options, Some(ListOptions { remote: true, return_children: true, ..ListOptions::default() }));
    let (_, options) = list_options("C04 list (subscribed recursivematch) \"\" % return (children subscribed)");
    let options = options.unwrap();
    assert!(options.subscribed && options.recursive_match && options.return_children && options.return_subscribed);
    let (patterns, options) = list_options("BBB LIST \"\" (\"INBOX\" \"Drafts\" \"Sent/%\")");
    assert_eq!(patterns, vec![b"INBOX".to_vec(), b"Drafts".to_vec(), b"Sent/%".to_vec()]);
    assert_eq!(options, Some(ListOptions::default()), "a pattern list makes the LIST extended");
    // RFC 5819 and RFC 6154.
    let (_, options) = list_options("A LIST \"\" % RETURN (STATUS (MESSAGES UNSEEN SIZE) SPECIAL-USE)");
    let options = options.unwrap();
    assert_eq!(options.status, Some(vec![StatusItem::Messages, StatusItem::Unseen, StatusItem::Size]));
    assert!(options.return_special_use);
    let (_, options) = list_options("A LIST (SPECIAL-USE) \"\" *");
    assert!(options.unwrap().special_use);
    let (_, options) = list_options("A LIST \"\" % RETURN ()");
    assert_eq!(options, Some(ListOptions::default()));
    assert_eq!(list_options("A LIST \"\" {1}\r\n%").1, None);
}

#[test]
fn list_extended_errors() {
    for bad in [
        &b"A LIST (RECURSIVEMATCH) \"\" %"[..],
        b"A LIST (REMOTE RECURSIVEMATCH) \"\" %",
        b"A LIST (SPECIAL-USE RECURSIVEMATCH) \"\" %",
        b"A LIST (BOGUS) \"\" %",
        b"A LIST () \"\" % RETURN (BOGUS)",
        b"A LIST \"\" % RETURN (STATUS (MESSAGES) STATUS (UNSEEN))",
        b"A LIST \"\" % RETURN (STATUS ())",
        b"A LIST \"\" % RETURN STATUS",
        b"A LIST \"\" % RETURNS ()",
        b"A LIST \"\" ()",
        b"A LIST \"\" (% ",
        b"A LIST (SUBSCRIBED \"\" %",
        b"A LIST (SUBSCRIBED)\"\" %",
        b"A LSUB (SUBSCRIBED) \"\" %",
        b"A LSUB \"\" (%)",
    ] {
        assert!(parse_command(bad).is_err(), "{}", String::from_utf8_lossy(bad));
    }
    let many = format!("A LIST \"\" ({})", vec!["%"; 65].join(" "));
    assert!(parse_command(many.as_bytes()).unwrap_err().message.contains("too many"));
}

#[test]
fn id_and_enable() {
    assert_eq!(parse("a ID NIL"), CommandBody::Id(None));
    assert_eq!(
        parse("a ID (\"name\" \"mutt\" \"version\" NIL)"),
        CommandBody::Id(Some(vec![("name".into(), Some("mutt".into())), ("version".into(), None)]))
    );
    assert_eq!(
        parse("a ENABLE condstore Foo"),
        CommandBody::Enable { capabilities: vec!["CONDSTORE".into(), "FOO".into()] }
    );
    assert!(parse_command(b"a ENABLE").is_err());
}

#[test]
fn sequence_sets() {
    let CommandBody::Fetch(FetchArguments { set, .. }) = parse("a FETCH 1,3:5,*,7:* FLAGS") else { panic!() };
    assert_eq!(set.0, vec![(Value(1), Value(1)), (Value(3), Value(5)), (Star, Star), (Value(7), Star)]);
    assert!(parse_command(b"a FETCH 0 FLAGS").is_err());
    assert!(parse_command(b"a FETCH 1, FLAGS").is_err());
    assert!(parse_command(b"a FETCH 99999999999 FLAGS").is_err());
}

#[test]
fn fetch_items_and_macros() {
    let CommandBody::Fetch(FetchArguments { items, uid, .. }) =
        parse("a UID FETCH 1:* (FLAGS UID RFC822.SIZE INTERNALDATE)")
    else {
        panic!()
    };
    assert!(uid);
    assert_eq!(items, vec![FetchItem::Flags, FetchItem::Uid, FetchItem::Rfc822Size, FetchItem::InternalDate]);
    let CommandBody::Fetch(FetchArguments { items, .. }) = parse("a FETCH 1 fast") else { panic!() };
    assert_eq!(items.len(), 3);
    let CommandBody::Fetch(FetchArguments { items, .. }) = parse("a FETCH 1 FULL") else { panic!() };
    assert_eq!(items.len(), 5);
    let CommandBody::Fetch(FetchArguments { items, .. }) =
        parse("a FETCH 1 (RFC822 RFC822.HEADER RFC822.TEXT BODY BODYSTRUCTURE ENVELOPE)")
    else {
        panic!()
    };
    assert_eq!(
        items,
        vec![
            FetchItem::Rfc822,
            FetchItem::Rfc822Header,
            FetchItem::Rfc822Text,
            FetchItem::Body,
            FetchItem::BodyStructure,
            FetchItem::Envelope
        ]
    );
}

#[test]
fn fetch_sections() {
    let section = |text: &str| {
        let CommandBody::Fetch(FetchArguments { mut items, .. }) = parse(&format!("a FETCH 1 {text}")) else {
            panic!()
        };
        items.remove(0)
    };
    assert_eq!(
        section("BODY[]"),
        FetchItem::Section { section: Section::default(), peek: false, partial: None, binary: false }
    );
    assert_eq!(
        section("BODY.PEEK[HEADER]<0.100>"),
        FetchItem::Section {
            section: Section { part: vec![], text: Some(SectionText::Header) },
            peek: true,
            partial: Some((0, 100)),
            binary: false
        }
    );
    assert_eq!(
        section("body.peek[header.fields (From To \"Subject\")]"),
        FetchItem::Section {
            section: Section {
                part: vec![],
                text: Some(SectionText::HeaderFields {
                    not: false,
                    fields: vec!["From".into(), "To".into(), "Subject".into()]
                })
            },
            peek: true,
            partial: None,
            binary: false
        }
    );
    assert_eq!(
        section("BODY[1.2.HEADER.FIELDS.NOT (X-Spam)]"),
        FetchItem::Section {
            section: Section {
                part: vec![1, 2],
                text: Some(SectionText::HeaderFields { not: true, fields: vec!["X-Spam".into()] })
            },
            peek: false,
            partial: None,
            binary: false
        }
    );
    assert_eq!(
        section("BODY[3.MIME]"),
        FetchItem::Section {
            section: Section { part: vec![3], text: Some(SectionText::Mime) },
            peek: false,
            partial: None,
            binary: false
        }
    );
    assert_eq!(
        section("BINARY.PEEK[1.2]<5.10>"),
        FetchItem::Section {
            section: Section { part: vec![1, 2], text: None },
            peek: true,
            partial: Some((5, 10)),
            binary: true
        }
    );
    assert_eq!(section("BINARY.SIZE[2]"), FetchItem::BinarySize { part: vec![2] });
    for bad in
        ["BODY[MIME]", "BODY[0]", "BODY[1.]", "BODY[HEADER.FIELDS ()]", "BODY[]<1.0>", "BODY[TEXT", "BODY[1.BOGUS]"]
    {
        assert!(parse_command(format!("a FETCH 1 {bad}").as_bytes()).is_err(), "{bad}");
    }
}

#[test]
fn store_forms() {
    assert_eq!(
        parse("a STORE 1:3 +FLAGS.SILENT (\\Seen $Junk)"),
        CommandBody::Store(StoreArguments {
            uid: false,
            set: SequenceSet(vec![(Value(1), Value(3))]),
            action: FlagAction::Add,
            silent: true,
            flags: vec![Flag::System(Flags::SEEN), Flag::Keyword("$Junk".into())],
            unchanged_since: None,
        })
    );
    assert_eq!(
        parse("a UID STORE 5 -FLAGS \\Deleted \\Flagged"),
        CommandBody::Store(StoreArguments {
            uid: true,
            set: SequenceSet(vec![(Value(5), Value(5))]),
            action: FlagAction::Remove,
            silent: false,
            flags: vec![Flag::System(Flags::DELETED), Flag::System(Flags::FLAGGED)],
            unchanged_since: None,
        })
    );
    assert_eq!(
        parse("a STORE 1 FLAGS ()"),
        CommandBody::Store(StoreArguments {
            uid: false,
            set: SequenceSet(vec![(Value(1), Value(1))]),
            action: FlagAction::Replace,
            silent: false,
            flags: vec![],
            unchanged_since: None,
        })
    );
    assert!(parse_command(b"a STORE 1 FLAGS (\\Bogus)").is_err());
    assert!(parse_command(b"a STORE 1 +FLAGS (\\*)").is_err());
}

#[test]
fn copy_move_expunge() {
    assert_eq!(
        parse("a UID MOVE 1:* Trash"),
        CommandBody::Copy(CopyArguments {
            uid: true,
            set: SequenceSet(vec![(Value(1), Star)]),
            mailbox: b"Trash".to_vec(),
            remove: true
        })
    );
    assert_eq!(
        parse("a UID EXPUNGE 3,5"),
        CommandBody::Expunge { uids: Some(SequenceSet(vec![(Value(3), Value(3)), (Value(5), Value(5))])) }
    );
    assert_eq!(parse("a EXPUNGE"), CommandBody::Expunge { uids: None });
}

#[test]
fn search_return_options_and_saved_result() {
    let CommandBody::Search(SearchArguments { ret, key, .. }) = parse("a SEARCH RETURN (MIN COUNT save) UNSEEN") else {
        panic!()
    };
    assert_eq!(ret, Some(SearchReturn { min: true, count: true, save: true, ..SearchReturn::default() }));
    assert_eq!(key, SearchKey::Flag(Flags::SEEN, false));
    // RFC 4731: RETURN () is ALL.
    let CommandBody::Search(SearchArguments { ret, charset, .. }) = parse("a UID SEARCH RETURN () CHARSET UTF-8 ALL")
    else {
        panic!()
    };
    assert_eq!(ret, Some(SearchReturn { all: true, ..SearchReturn::default() }));
    assert_eq!(charset.as_deref(), Some("UTF-8"));
    let CommandBody::Search(SearchArguments { key, .. }) = parse("a SEARCH $ UID $,7") else { panic!() };
    assert_eq!(
        key,
        SearchKey::And(vec![
            SearchKey::Sequence(SequenceSet(vec![(Saved, Saved)])),
            SearchKey::Uid(SequenceSet(vec![(Saved, Saved), (Value(7), Value(7))])),
        ])
    );
    assert_eq!(
        parse("a FETCH $ FLAGS"),
        CommandBody::Fetch(FetchArguments {
            uid: false,
            set: SequenceSet(vec![(Saved, Saved)]),
            items: vec![FetchItem::Flags],
            modifiers: FetchModifiers::default()
        })
    );
    parse_error(b"a SEARCH RETURN (BOGUS) ALL\r\n");
    parse_error(b"a SEARCH RETURN (MIN ALL\r\n");
    parse_error(b"a FETCH 1:$ FLAGS\r\n");
    parse_error(b"a FETCH $:3 FLAGS\r\n");
}

#[test]
fn search_programs() {
    let CommandBody::Search(SearchArguments { charset, key, uid, ret: None }) =
        parse("a UID SEARCH CHARSET UTF-8 OR FROM alice (SUBJECT \"hi there\" UNSEEN) NOT DELETED 1:5")
    else {
        panic!()
    };
    assert!(uid);
    assert_eq!(charset.as_deref(), Some("UTF-8"));
    assert_eq!(
        key,
        SearchKey::And(vec![
            SearchKey::Or(
                Box::new(SearchKey::Header { field: "FROM".into(), value: b"alice".to_vec() }),
                Box::new(SearchKey::And(vec![
                    SearchKey::Header { field: "SUBJECT".into(), value: b"hi there".to_vec() },
                    SearchKey::Flag(Flags::SEEN, false)
                ]))
            ),
            SearchKey::Not(Box::new(SearchKey::Flag(Flags::DELETED, true))),
            SearchKey::Sequence(SequenceSet(vec![(Value(1), Value(5))]))
        ])
    );
    let CommandBody::Search(SearchArguments { key, .. }) =
        parse("a SEARCH SINCE 1-Feb-1994 LARGER 100 KEYWORD $Junk HEADER X-Foo \"\"")
    else {
        panic!()
    };
    let SearchKey::And(keys) = key else { panic!() };
    assert_eq!(keys[0], SearchKey::Date { field: DateField::Internal, relation: DateRelation::Since, days: 8797 });
    assert_eq!(keys[1], SearchKey::Larger(100));
    assert_eq!(keys[2], SearchKey::Keyword("$Junk".into(), true));
    assert_eq!(keys[3], SearchKey::Header { field: "X-FOO".into(), value: Vec::new() });
    for bad in [
        "a SEARCH",
        "a SEARCH FROM",
        "a SEARCH BEFORE 30-Feb-2020",
        "a SEARCH (ALL",
        "a SEARCH OR ALL",
        "a SEARCH BOGUS",
    ] {
        assert!(parse_command(bad.as_bytes()).is_err(), "{bad}");
    }
    let deep = format!("a SEARCH {}ALL", "NOT ".repeat(200));
    assert!(parse_command(deep.as_bytes()).unwrap_err().message.contains("deeply"));
}

/// The whole-message literal an APPEND line ends with.
fn literal_message(line: &AppendLine) -> AppendMessage {
    match line.events.as_slice() {
        [AppendEvent::Message(message)] => message.clone(),
        other => panic!("not one message literal: {other:?}"),
    }
}

#[test]
fn append_prefixes() {
    let (tag, mailbox, line, _) =
        append_prefix(b"A003 APPEND saved-messages (\\Seen) \"17-Jul-1996 02:44:25 -0700\" {310}").unwrap().unwrap();
    let message = literal_message(&line);
    assert_eq!((tag.as_str(), mailbox.as_slice()), ("A003", &b"saved-messages"[..]));
    assert_eq!(message.flags, vec![Flag::System(Flags::SEEN)]);
    assert_eq!(message.length, 310);
    assert!(!message.non_synchronizing);
    assert!(!message.binary);
    assert!(message.date.is_some());
    let message = literal_message(&append_prefix(b"a APPEND INBOX {12+}").unwrap().unwrap().2);
    assert!(message.non_synchronizing && !message.binary);
    // RFC 3516 literal8.
    let message = literal_message(&append_prefix(b"a APPEND INBOX (\\Seen) ~{7}").unwrap().unwrap().2);
    assert_eq!((message.length, message.non_synchronizing, message.binary), (7, false, true));
    let message = literal_message(&append_prefix(b"a APPEND INBOX ~{7+}").unwrap().unwrap().2);
    assert!(message.non_synchronizing && message.binary);
    let message =
        literal_message(&append_prefix(b"a APPEND INBOX \"17-Jul-1996 02:44:25 -0700\" ~{310}").unwrap().unwrap().2);
    assert!(message.binary && message.date.is_some());
    // MULTIAPPEND: each later message says for itself.
    let mut parser = Parser::new(b" (\\Seen) ~{9+}");
    let message = parser.sp().and_then(|()| append_message(&mut parser)).unwrap();
    assert!(message.binary && message.non_synchronizing);
    let mut parser = Parser::new(b" {9}");
    let message = parser.sp().and_then(|()| append_message(&mut parser)).unwrap();
    assert!(!message.binary);
    // RFC 6855 §4: UTF8 (literal8); the `)` comes after the bytes.
    let message = literal_message(&append_prefix(b"a APPEND INBOX (\\Seen) UTF8 (~{7+}").unwrap().unwrap().2);
    assert!(message.utf8 && message.binary && message.non_synchronizing && message.length == 7);
    let message = literal_message(&append_prefix(b"a APPEND INBOX utf8 (~{7}").unwrap().unwrap().2);
    assert!(message.utf8);
    assert!(!literal_message(&append_prefix(b"a APPEND INBOX ~{7}").unwrap().unwrap().2).utf8);
    assert!(append_prefix(b"a APPEND INBOX UTF8 ({7}").unwrap().is_err(), "UTF8 takes a literal8");
    assert!(append_prefix(b"a APPEND INBOX UTF8 ~{7}").unwrap().is_err());
    assert!(append_prefix(b"a APPEND INBOX ~ {7}").unwrap().is_err());
    assert!(append_prefix(b"a APPEND INBOX ~~{7}").unwrap().is_err());
    // REPLACE and UID REPLACE (RFC 8508): the number, then as APPEND.
    let (_, mailbox, line, replacing) = append_prefix(b"a REPLACE 3 Drafts (\\Draft) {7+}").unwrap().unwrap();
    let message = literal_message(&line);
    assert_eq!(mailbox, b"Drafts");
    assert!(message.non_synchronizing && message.flags == vec![Flag::System(Flags::DRAFT)]);
    assert_eq!(replacing, Some(Replacing { uid: false, number: SequenceNumber::Value(3) }));
    let (_, _, _, replacing) = append_prefix(b"a uid replace * Sent ~{7}").unwrap().unwrap();
    assert_eq!(replacing, Some(Replacing { uid: true, number: SequenceNumber::Star }));
    assert!(append_prefix(b"a APPEND INBOX {3}").unwrap().unwrap().3.is_none());
    assert!(append_prefix(b"a REPLACE 0 Drafts {7}").unwrap().is_err());
    assert!(append_prefix(b"a REPLACE 1:2 Drafts {7}").unwrap().is_err());
    assert!(append_prefix(b"a REPLACE Drafts {7}").unwrap().is_err());
    assert!(append_prefix(b"a UID FETCH 1 BODY[]").is_none());
    // The mailbox literal comes first: not yet the message.
    assert!(append_prefix(b"a APPEND {5}").is_none());
    let (_, mailbox, _, _) = append_prefix(b"a APPEND {5}\r\nINBOX {3}").unwrap().unwrap();
    assert_eq!(mailbox, b"INBOX");
    assert!(append_prefix(b"a FETCH 1 BODY[]").is_none());
    assert!(append_prefix(b"a APPEND INBOX (\\Bogus) {3}").unwrap().is_err());
    assert!(append_prefix(b"a APPEND INBOX").unwrap().is_err());
    // RFC 4469: a CATENATE of URLs only is a whole APPEND on one line.
    let (_, _, line, _) = append_prefix(b"a APPEND INBOX CATENATE (URL \"/INBOX/;UID=1\")").unwrap().unwrap();
    assert_eq!(line.events.last(), Some(&AppendEvent::End));
    assert!(append_prefix(b"a APPEND INBOX CATENATE (URL)").unwrap().is_err());
}

#[test]
fn trailing_literals() {
    assert_eq!(trailing_literal(b"a LOGIN {5}"), Some((5, false)));
    assert_eq!(trailing_literal(b"a APPEND x {123+}"), Some((123, true)));
    assert_eq!(trailing_literal(b"a LOGIN \"}\""), None);
    assert_eq!(trailing_literal(b"a X {}"), None);
    assert_eq!(trailing_literal(b"a X {99999999999999999999}"), None);
}

fn values(ranges: &[(u32, u32)]) -> SequenceSet {
    SequenceSet(ranges.iter().map(|&(low, high)| (Value(low), Value(high))).collect())
}

#[test]
fn condstore_syntax() {
    let CommandBody::Select(SelectArguments { parameters, read_only, .. }) = parse("a EXAMINE INBOX (CONDSTORE)")
    else {
        panic!()
    };
    assert!(read_only);
    assert_eq!(parameters, SelectParameters { condstore: true, qresync: None });
    assert_eq!(
        parse("a FETCH 1:* (FLAGS MODSEQ) (CHANGEDSINCE 12345)"),
        CommandBody::Fetch(FetchArguments {
            uid: false,
            set: SequenceSet(vec![(Value(1), Star)]),
            items: vec![FetchItem::Flags, FetchItem::Modseq],
            modifiers: FetchModifiers { changed_since: Some(12345), vanished: false, partial: None },
        })
    );
    let CommandBody::Fetch(FetchArguments { modifiers, items, .. }) =
        parse("a UID FETCH 1:* FLAGS (changedsince 7 vanished)")
    else {
        panic!()
    };
    assert_eq!(items, vec![FetchItem::Flags]);
    assert_eq!(modifiers, FetchModifiers { changed_since: Some(7), vanished: true, partial: None });
    assert_eq!(
        parse("a UID STORE 2,4 (UNCHANGEDSINCE 0) +FLAGS.SILENT (\\Deleted)"),
        CommandBody::Store(StoreArguments {
            uid: true,
            set: values(&[(2, 2), (4, 4)]),
            action: FlagAction::Add,
            silent: true,
            flags: vec![Flag::System(Flags::DELETED)],
            unchanged_since: Some(0),
        })
    );
    let CommandBody::Status { items, .. } = parse("a STATUS INBOX (MESSAGES HIGHESTMODSEQ)") else { panic!() };
    assert_eq!(items, vec![StatusItem::Messages, StatusItem::HighestModseq]);
    let CommandBody::Search(SearchArguments { key, .. }) = parse("a SEARCH MODSEQ \"/flags/\\\\draft\" all 620162338")
    else {
        panic!()
    };
    assert_eq!(key, SearchKey::Modseq(620162338));
    let CommandBody::Search(SearchArguments { key, .. }) = parse("a SEARCH OR NOT MODSEQ 5 MODSEQ 0") else { panic!() };
    assert_eq!(
        key,
        SearchKey::Or(Box::new(SearchKey::Not(Box::new(SearchKey::Modseq(5)))), Box::new(SearchKey::Modseq(0)))
    );
    // 2^63 - 1 is the largest mod-sequence (RFC 7162 §7).
    assert!(parse_command(b"a FETCH 1 FLAGS (CHANGEDSINCE 9223372036854775807)").is_ok());
    for bad in [
        &b"a FETCH 1 FLAGS (CHANGEDSINCE 9223372036854775808)"[..],
        b"a FETCH 1 FLAGS (CHANGEDSINCE)",
        b"a FETCH 1 FLAGS (CHANGEDSINCE 1 CHANGEDSINCE 2)",
        b"a FETCH 1 FLAGS (BOGUS)",
        b"a FETCH 1 FLAGS ()",
        b"a STORE 1 (UNCHANGEDSINCE) FLAGS ()",
        b"a STORE 1 (BOGUS 1) FLAGS ()",
        b"a STORE 1 (UNCHANGEDSINCE 1 FLAGS ()",
        b"a SEARCH MODSEQ",
        b"a SEARCH MODSEQ \"/flags/\\\\seen\" mine 3",
        b"a SEARCH MODSEQ \"/other\" all 3",
        b"a SELECT INBOX (BOGUS)",
        b"a SELECT INBOX ()",
        b"a STATUS INBOX (LOWESTMODSEQ)",
    ] {
        assert!(parse_command(bad).is_err(), "{}", String::from_utf8_lossy(bad));
    }
}

#[test]
fn qresync_syntax() {
    let qresync = |text: &str| {
        let CommandBody::Select(SelectArguments { parameters, .. }) = parse(text) else { panic!() };
        parameters.qresync.expect("QRESYNC parameter")
    };
    assert_eq!(
        qresync("a SELECT INBOX (QRESYNC (67890007 20050715194045000))"),
        Qresync { uid_validity: 67890007, modseq: 20050715194045000, known_uids: None, sequence_match: None }
    );
    assert_eq!(
        qresync("a SELECT INBOX (QRESYNC (67890007 90060115194045000 41:211,214:541))"),
        Qresync {
            uid_validity: 67890007,
            modseq: 90060115194045000,
            known_uids: Some(values(&[(41, 211), (214, 541)])),
            sequence_match: None,
        }
    );
    assert_eq!(
        qresync("a EXAMINE INBOX (QRESYNC (67890007 90060115194045000 1:29997 (5000,7500,9000,9990:9999 15000,22500,27000,29970,29973,29976,29979,29982,29985,29988,29991,29994,29997)))"),
        Qresync {
            uid_validity: 67890007,
            modseq: 90060115194045000,
            known_uids: Some(values(&[(1, 29997)])),
            sequence_match: Some((
                values(&[(5000, 5000), (7500, 7500), (9000, 9000), (9990, 9999)]),
                values(&[
                    (15000, 15000), (22500, 22500), (27000, 27000), (29970, 29970), (29973, 29973), (29976, 29976),
                    (29979, 29979), (29982, 29982), (29985, 29985), (29988, 29988), (29991, 29991), (29994, 29994),
                    (29997, 29997)
                ]),
            )),
        }
    );
    // Sequence match data without known UIDs, and both parameters at once.
    let CommandBody::Select(SelectArguments { parameters, .. }) =
        parse("a SELECT INBOX (CONDSTORE QRESYNC (1 2 (1:2 5:6)))")
    else {
        panic!()
    };
    assert!(parameters.condstore);
    assert_eq!(parameters.qresync.unwrap().sequence_match, Some((values(&[(1, 2)]), values(&[(5, 6)]))));
    for bad in [
        &b"a SELECT INBOX (QRESYNC)"[..],
        b"a SELECT INBOX (QRESYNC ())",
        b"a SELECT INBOX (QRESYNC (0 5))",
        b"a SELECT INBOX (QRESYNC (1))",
        b"a SELECT INBOX (QRESYNC (1 5 1:*))",
        b"a SELECT INBOX (QRESYNC (1 5 $))",
        b"a SELECT INBOX (QRESYNC (1 5 1:3 (1:3)))",
        b"a SELECT INBOX (QRESYNC (1 5 1:3 (1:3 4:6))",
        b"a SELECT INBOX (QRESYNC (1 5) QRESYNC (1 5))",
        b"a SELECT INBOX (QRESYNC (1 5 ))",
    ] {
        assert!(parse_command(bad).is_err(), "{}", String::from_utf8_lossy(bad));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn arbitrary_bytes_never_panic(input in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = parse_command(&input);
        let _ = append_prefix(&input);
        let _ = trailing_literal(&input);
        let _ = tag_and_name(&input);
    }

    #[test]
    fn imap_looking_text_never_panics(
        words in proptest::collection::vec(
            prop_oneof![
                Just("a".to_string()), Just("UID".to_string()), Just("FETCH".to_string()), Just("SEARCH".to_string()),
                Just("STORE".to_string()), Just("BODY[".to_string()), Just("]".to_string()), Just("(".to_string()),
                Just(")".to_string()), Just("{3}\r\nabc".to_string()), Just("\"q\"".to_string()), Just("1:*".to_string()),
                Just("NOT".to_string()), Just("OR".to_string()), Just("HEADER.FIELDS".to_string()), Just("<0.5>".to_string()),
                Just("+FLAGS".to_string()), Just("\\Seen".to_string()), Just("1.2".to_string()), Just("APPEND".to_string()),
                Just("MODSEQ".to_string()), Just("(CHANGEDSINCE".to_string()), Just("VANISHED)".to_string()),
                Just("(UNCHANGEDSINCE".to_string()), Just("(QRESYNC".to_string()), Just("(CONDSTORE)".to_string()),
                Just("SELECT".to_string()), Just("9223372036854775808".to_string()), Just("HIGHESTMODSEQ".to_string()),
                "[a-zA-Z0-9.:*]{0,6}",
            ],
            0..16
        )
    ) {
        let text = words.join(" ");
        let _ = parse_command(text.as_bytes());
        let _ = append_prefix(text.as_bytes());
    }

    /// APPEND lines with or without flags, a date, `~` and `+`: the message
    /// is a literal8 exactly when `~` came, and the rest reads the same.
    #[test]
    fn append_literal8_flag(
        flags in prop_oneof![Just(""), Just("(\\Seen) "), Just("(\\Flagged $Work) "), Just("() ")],
        date in prop_oneof![Just(""), Just("\"17-Jul-1996 02:44:25 -0700\" ")],
        tilde in any::<bool>(),
        plus in any::<bool>(),
        length in 1u64..u64::from(u32::MAX) * 4,
    ) {
        let tilde_text = if tilde { "~" } else { "" };
        let plus_text = if plus { "+" } else { "" };
        let line = format!("a APPEND INBOX {flags}{date}{tilde_text}{{{length}{plus_text}}}");
        let (_, mailbox, parsed, _) = append_prefix(line.as_bytes()).unwrap().unwrap();
        let message = literal_message(&parsed);
        prop_assert_eq!(mailbox, b"INBOX".to_vec());
        prop_assert_eq!((message.binary, message.non_synchronizing, message.length), (tilde, plus, length));
        prop_assert_eq!(message.date.is_some(), !date.is_empty());
        // A MULTIAPPEND follow-on line reads the same.
        let rest = format!(" {flags}{date}{tilde_text}{{{length}{plus_text}}}");
        let mut parser = Parser::new(rest.as_bytes());
        let next = parser.sp().and_then(|()| append_message(&mut parser)).unwrap();
        prop_assert_eq!(next, message);
    }

    /// Search programs built from real search keys, RETURN options, sort
    /// criteria and THREAD algorithms, with junk mixed in: never a panic,
    /// and a well-formed program (all words from the grammar, balanced)
    /// parses.
    #[test]
    fn search_programs_never_panic(
        words in proptest::collection::vec(
            prop_oneof![
                Just("ALL"), Just("ANSWERED"), Just("UNSEEN"), Just("NEW"), Just("OLD"), Just("RECENT"),
                Just("FROM alice"), Just("SUBJECT \"hi there\""), Just("HEADER X-A b"), Just("BODY {3}\r\nabc"),
                Just("TEXT \"\""), Just("KEYWORD $Junk"), Just("BEFORE 1-Feb-2024"), Just("SENTON 31-Dec-1999"),
                Just("LARGER 10"), Just("SMALLER 4294967296"), Just("UID 1:*"), Just("1,3:5"), Just("$"), Just("$,2"),
                Just("NOT"), Just("OR"), Just("("), Just(")"), Just("CHARSET UTF-8"), Just("RETURN (MIN SAVE)"),
                Just("RETURN ()"), Just("(REVERSE DATE SUBJECT)"), Just("REFERENCES"), Just("UTF-8"), Just("*:$"),
                Just("\u{e9}"), Just("{99999999999}"), Just("~{2}"), Just("\"unterminated"),
                Just("MODSEQ 5"), Just("MODSEQ \"/flags/\\\\seen\" all 7"), Just("MODSEQ \"/flags/x\" priv"),
                Just("MODSEQ 99999999999999999999"),
            ],
            0..14
        ),
        command in prop_oneof![Just("SEARCH"), Just("UID SEARCH"), Just("SORT"), Just("UID THREAD"), Just("THREAD")],
    ) {
        let text = format!("t {command} {}", words.join(" "));
        let _ = parse_command(text.as_bytes());
    }

    #[test]
    fn well_formed_search_keys_parse(
        keys in proptest::collection::vec(
            prop_oneof![
                Just("ALL".to_string()), Just("FLAGGED".to_string()), Just("FROM \"a b\"".to_string()),
                Just("NOT SEEN".to_string()), Just("OR DELETED DRAFT".to_string()), Just("(UID 2:4 LARGER 3)".to_string()),
                Just("$".to_string()), Just("SINCE 29-Feb-2024".to_string()), "[1-9][0-9]{0,3}(:[1-9*])?",
            ],
            1..8
        )
    ) {
        let text = format!("t UID SEARCH RETURN (COUNT) CHARSET UTF-8 {}", keys.join(" "));
        prop_assert!(parse_command(text.as_bytes()).is_ok(), "{}", text);
    }

    /// LIST with selection options, pattern lists and RETURN options in
    /// any order, with junk: never a panic; the well-formed ones parse.
    #[test]
    fn list_commands_never_panic(
        selection in proptest::collection::vec(
            prop_oneof![Just("SUBSCRIBED"), Just("REMOTE"), Just("RECURSIVEMATCH"), Just("SPECIAL-USE"), Just("X"), Just("(")],
            0..5
        ),
        patterns in proptest::collection::vec(
            prop_oneof![Just("%"), Just("*"), Just("\"\""), Just("INBOX"), Just("{2}\r\na*"), Just("\"a b/%\""), Just(")")],
            0..4
        ),
        returns in proptest::collection::vec(
            prop_oneof![
                Just("SUBSCRIBED"), Just("CHILDREN"), Just("SPECIAL-USE"), Just("STATUS (MESSAGES SIZE DELETED)"),
                Just("STATUS ("), Just("STATUS"), Just("RECENT"), Just(")"),
            ],
            0..4
        ),
        with_selection in any::<bool>(),
        with_return in any::<bool>(),
    ) {
        let mut text = String::from("t LIST ");
        if with_selection {
            text.push_str(&format!("({}) ", selection.join(" ")));
        }
        text.push_str("\"\" ");
        text.push_str(&match patterns.len() {
            1 => patterns[0].to_string(),
            _ => format!("({})", patterns.join(" ")),
        });
        if with_return {
            text.push_str(&format!(" RETURN ({})", returns.join(" ")));
        }
        let parsed = parse_command(text.as_bytes());
        let clean = |words: &[&str], bad: &[&str]| words.iter().all(|word| !bad.contains(word));
        let well_formed = clean(&selection, &["X", "("])
            && (!selection.contains(&"RECURSIVEMATCH") || selection.contains(&"SUBSCRIBED") || !with_selection)
            && !patterns.is_empty()
            && clean(&patterns, &[")"])
            && clean(&returns, &["STATUS (", "STATUS", "RECENT", ")"])
            && returns.iter().filter(|word| word.starts_with("STATUS")).count() <= 1;
        if well_formed {
            prop_assert!(parsed.is_ok(), "{}: {:?}", text, parsed);
        }
    }

    /// SELECT parameters and FETCH / STORE modifiers built from RFC 7162
    /// pieces with junk mixed in: never a panic.
    #[test]
    fn condstore_commands_never_panic(
        words in proptest::collection::vec(
            prop_oneof![
                Just("("), Just(")"), Just("CONDSTORE"), Just("QRESYNC"), Just("CHANGEDSINCE"), Just("VANISHED"),
                Just("UNCHANGEDSINCE"), Just("1"), Just("0"), Just("1:*"), Just("5,7:9"), Just("$"), Just(""),
                Just("18446744073709551616"), Just("9223372036854775807"), Just("+FLAGS"), Just("(\\Seen)"),
                Just("MODSEQ"), Just("{2}\r\nab"),
            ],
            0..16
        ),
        command in prop_oneof![
            Just("SELECT INBOX "), Just("EXAMINE x "), Just("FETCH 1 FLAGS "), Just("UID FETCH 1:* (FLAGS) "),
            Just("STORE 1 "), Just("UID STORE 1 "), Just("STATUS x "), Just("SEARCH "),
        ],
    ) {
        let text = format!("t {command}{}", words.join(" "));
        let _ = parse_command(text.as_bytes());
    }

    /// Well-formed QRESYNC parameters parse to what was sent.
    #[test]
    fn well_formed_qresync_parses(
        uid_validity in 1u32..,
        modseq in 0u64..=i64::MAX as u64,
        known in proptest::option::of(proptest::collection::vec((1u32..100_000, 0u32..50), 1..5)),
        matched in proptest::option::of((1u32..100_000, 1u32..100_000)),
    ) {
        let set_text = |ranges: &[(u32, u32)]| {
            ranges.iter().map(|(low, high)| format!("{low}:{high}")).collect::<Vec<_>>().join(",")
        };
        let known_ranges: Option<Vec<(u32, u32)>> =
            known.map(|ranges| ranges.into_iter().map(|(low, length)| (low, low + length)).collect());
        let mut text = format!("t SELECT INBOX (QRESYNC ({uid_validity} {modseq}");
        if let Some(ranges) = &known_ranges {
            text.push_str(&format!(" {}", set_text(ranges)));
        }
        if let Some((sequence, uid)) = matched {
            text.push_str(&format!(" ({sequence} {uid})"));
        }
        text.push_str("))");
        let CommandBody::Select(SelectArguments { parameters, .. }) = parse_command(text.as_bytes()).unwrap().body else {
            panic!()
        };
        let expected = Qresync {
            uid_validity,
            modseq,
            known_uids: known_ranges.as_deref().map(values),
            sequence_match: matched.map(|(sequence, uid)| (values(&[(sequence, sequence)]), values(&[(uid, uid)]))),
        };
        prop_assert_eq!(parameters.qresync, Some(expected));
    }

    /// CHANGEDSINCE and UNCHANGEDSINCE take every mod-sequence up to 2^63 - 1.
    #[test]
    fn mod_sequences_round_trip(modseq in 0u64..=i64::MAX as u64, vanished: bool) {
        let text = format!("t UID FETCH 1:* (FLAGS) (CHANGEDSINCE {modseq}{})", if vanished { " VANISHED" } else { "" });
        let CommandBody::Fetch(FetchArguments { modifiers, .. }) = parse_command(text.as_bytes()).unwrap().body else { panic!() };
        prop_assert_eq!(modifiers, FetchModifiers { changed_since: Some(modseq), vanished, partial: None });
        let text = format!("t STORE 1 (UNCHANGEDSINCE {modseq}) FLAGS (\\Seen)");
        let CommandBody::Store(StoreArguments { unchanged_since, .. }) = parse_command(text.as_bytes()).unwrap().body else {
            panic!()
        };
        prop_assert_eq!(unchanged_since, Some(modseq));
    }

    #[test]
    fn quoted_strings_round_trip(value in "[ -~]{0,40}") {
        let quoted = format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""));
        let command = format!("a LOGIN {quoted} {quoted}");
        let CommandBody::Login { user, .. } = parse_command(command.as_bytes()).unwrap().body else { panic!() };
        prop_assert_eq!(user, value.as_bytes().to_vec());
    }
}

#[test]
fn notify_commands() {
    use crate::imap::types::{NotifyEvents, NotifyFilter, NotifyGroup, NotifySet};
    assert_eq!(parse("t NOTIFY NONE"), CommandBody::Notify(None));
    let body = parse(
        "t notify set status (selected (MessageNew (UID BODY.PEEK[HEADER]) MessageExpunge FlagChange)) \
         (SUBTREE (INBOX \"a b\") (MailboxName SubscriptionChange MessageNew MessageExpunge)) (MAILBOXES x NONE)",
    );
    let expected = NotifySet {
        status: true,
        groups: vec![
            NotifyGroup {
                filter: NotifyFilter::Selected,
                events: Some(NotifyEvents {
                    message_new: true,
                    fetch: vec![
                        FetchItem::Uid,
                        FetchItem::Section {
                            section: Section { part: vec![], text: Some(SectionText::Header) },
                            peek: true,
                            partial: None,
                            binary: false,
                        },
                    ],
                    message_expunge: true,
                    flag_change: true,
                    ..Default::default()
                }),
            },
            NotifyGroup {
                filter: NotifyFilter::Subtree(vec![b"INBOX".to_vec(), b"a b".to_vec()]),
                events: Some(NotifyEvents {
                    message_new: true,
                    message_expunge: true,
                    mailbox_name: true,
                    subscription_change: true,
                    ..Default::default()
                }),
            },
            NotifyGroup { filter: NotifyFilter::Mailboxes(vec![b"x".to_vec()]), events: None },
        ],
    };
    assert_eq!(body, CommandBody::Notify(Some(expected)));
    // Unsupported and unknown events parse; the handler answers NO [BADEVENT].
    let CommandBody::Notify(Some(set)) = parse("t NOTIFY SET (PERSONAL (MailboxMetadataChange Foo))") else { panic!() };
    assert_eq!(set.groups[0].events.as_ref().unwrap().unsupported, ["MailboxMetadataChange", "Foo"]);
    for bad in [
        "t NOTIFY",
        "t NOTIFY SET",
        "t NOTIFY SET STATUS",
        "t NOTIFY SET (PERSONAL ())",
        "t NOTIFY SET (PERSONAL (MessageNew))",
        "t NOTIFY SET (PERSONAL (MessageExpunge FlagChange))",
        "t NOTIFY SET (INBOXES (FlagChange))",
        "t NOTIFY SET (INBOXES (AnnotationChange))",
        "t NOTIFY SET (INBOXES (MessageNew (UID) MessageExpunge))",
        "t NOTIFY SET (SELECTED (MailboxName))",
        "t NOTIFY SET (SELECTED (MessageNew MessageExpunge)) (SELECTED (MessageNew MessageExpunge))",
        "t NOTIFY SET (SELECTED NONE) (SELECTED-DELAYED NONE)",
        "t NOTIFY SET (SUBTREE () NONE)",
        "t NOTIFY SET (PERSONAL NONE) ",
        "t NOTIFY SET (PERSONAL NONE)(INBOXES NONE)",
        "t NOTIFY NONE NONE",
    ] {
        parse_error(bad.as_bytes());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    /// NOTIFY built from its grammar's words with junk mixed in: never a
    /// panic; a group list made only of well-formed groups parses.
    #[test]
    fn notify_commands_never_panic(
        groups in proptest::collection::vec(
            prop_oneof![
                Just("(PERSONAL (MessageNew MessageExpunge))"), Just("(INBOXES NONE)"),
                Just("(SUBSCRIBED (MailboxName SubscriptionChange))"), Just("(SUBTREE \"a\" (MessageNew MessageExpunge FlagChange))"),
                Just("(MAILBOXES (x {1}\r\ny) (MailboxName))"), Just("(PERSONAL (MessageNew))"), Just("(SELECTED"),
                Just("(SELECTED-DELAYED (MessageNew (UID FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)]) MessageExpunge))"),
                Just("(SELECTED (MailboxName))"), Just("(MAILBOXES () NONE)"), Just(")"), Just("(PERSONAL (Foo))"),
                Just("(PERSONAL (MessageNew (UID) MessageExpunge))"), Just("(PERSONAL"), Just("NONE"),
                Just("(SUBTREE x"), Just("\""), Just("(SELECTED NONE)"), Just("(INBOXES (FlagChange))"),
            ],
            0..6
        ),
        status in any::<bool>(),
    ) {
        let text = format!("t NOTIFY SET{} {}", if status { " STATUS" } else { "" }, groups.join(" "));
        let parsed = parse_command(text.as_bytes());
        let good = [
            "(PERSONAL (MessageNew MessageExpunge))", "(INBOXES NONE)", "(SUBSCRIBED (MailboxName SubscriptionChange))",
            "(SUBTREE \"a\" (MessageNew MessageExpunge FlagChange))", "(MAILBOXES (x {1}\r\ny) (MailboxName))",
            "(PERSONAL (Foo))",
        ];
        if !groups.is_empty() && groups.iter().all(|group| good.contains(group)) {
            prop_assert!(parsed.is_ok(), "{}", text);
        }
        let selected = groups.iter().filter(|group| group.starts_with("(SELECTED")).count();
        if selected > 1 {
            prop_assert!(parsed.is_err(), "{}", text);
        }
    }
}

// RFC 8474 OBJECTID and RFC 8514 SAVEDATE.

#[test]
fn object_id_and_save_date_items_and_keys() {
    let CommandBody::Fetch(FetchArguments { items, .. }) = parse("a UID FETCH 1:* (EMAILID threadid SaveDate FLAGS)")
    else {
        panic!()
    };
    assert_eq!(items, vec![FetchItem::EmailId, FetchItem::ThreadId, FetchItem::SaveDate, FetchItem::Flags]);
    let CommandBody::Fetch(FetchArguments { items, .. }) = parse("a FETCH 1 SAVEDATE") else { panic!() };
    assert_eq!(items, vec![FetchItem::SaveDate]);
    let CommandBody::Status { items, .. } = parse("a STATUS INBOX (MAILBOXID MESSAGES)") else { panic!() };
    assert_eq!(items, vec![StatusItem::MailboxId, StatusItem::Messages]);
    let (_, options) = list_options("A LIST \"\" % RETURN (STATUS (MAILBOXID))");
    assert_eq!(options.unwrap().status, Some(vec![StatusItem::MailboxId]));
    let CommandBody::Search(SearchArguments { key, .. }) =
        parse("a SEARCH EMAILID E1f THREADID T_a-9 SAVEDATESUPPORTED")
    else {
        panic!()
    };
    assert_eq!(
        key,
        SearchKey::And(vec![
            SearchKey::EmailId("E1f".into()),
            SearchKey::ThreadId("T_a-9".into()),
            SearchKey::SaveDateSupported,
        ])
    );
    for (text, relation) in
        [("SAVEDBEFORE", DateRelation::Before), ("savedon", DateRelation::On), ("SAVEDSINCE", DateRelation::Since)]
    {
        let CommandBody::Search(SearchArguments { key, .. }) = parse(&format!("a SEARCH {text} 1-Feb-2024")) else {
            panic!()
        };
        let SearchKey::Date { field, relation: found, .. } = key else { panic!("{key:?}") };
        assert_eq!((field, found), (DateField::Saved, relation));
    }
    // Longer names are not these items; objectids are 1-255 of [A-Za-z0-9_-].
    for bad in [
        &b"a FETCH 1 (EMAILIDS)"[..],
        b"a FETCH 1 (SAVEDATE.PEEK)",
        b"a FETCH 1 THREADID[]",
        b"a SEARCH EMAILID",
        b"a SEARCH EMAILID a.b",
        b"a SEARCH EMAILID \"E1\"",
        b"a SEARCH THREADID (T1)",
        b"a SEARCH SAVEDON",
        b"a SEARCH SAVEDSINCE 32-Jan-2024",
        b"a SEARCH SAVEDATESUPPORTED2",
        b"a STATUS INBOX (MAILBOXIDS)",
    ] {
        assert!(parse_command(bad).is_err(), "{}", String::from_utf8_lossy(bad));
    }
    let long = format!("a SEARCH EMAILID {}", "x".repeat(256));
    assert!(parse_command(long.as_bytes()).is_err());
    let longest = format!("a SEARCH EMAILID {}", "x".repeat(255));
    assert!(parse_command(longest.as_bytes()).is_ok());
}

proptest! {
    /// EMAILID/THREADID take exactly the RFC 8474 objectid alphabet and
    /// length; anything else is an error, never a panic.
    #[test]
    fn object_ids_parse_exactly_the_grammar(
        id in "[A-Za-z0-9_.\\-]{0,260}",
        key in prop_oneof![Just("EMAILID"), Just("THREADID")],
    ) {
        let text = format!("t UID SEARCH {key} {id}");
        let valid = (1..=255).contains(&id.len()) && !id.contains('.');
        match parse_command(text.as_bytes()) {
            Ok(command) => {
                prop_assert!(valid, "{}", text);
                let CommandBody::Search(SearchArguments { key: parsed, .. }) = command.body else { panic!() };
                let expected = if key == "EMAILID" { SearchKey::EmailId(id.clone()) } else { SearchKey::ThreadId(id.clone()) };
                prop_assert_eq!(parsed, expected);
            }
            Err(_) => prop_assert!(!valid, "{}", text),
        }
    }

    /// The new FETCH items, search keys and status item mixed with old ones
    /// and junk: never a panic; the well-formed lists parse.
    #[test]
    fn object_id_and_save_date_words_never_panic(
        items in proptest::collection::vec(
            prop_oneof![Just("EMAILID"), Just("THREADID"), Just("SAVEDATE"), Just("FLAGS"), Just("UID"), Just("MODSEQ")],
            1..6
        ),
        keys in proptest::collection::vec(
            prop_oneof![
                Just("EMAILID E1"), Just("THREADID T-1"), Just("SAVEDATESUPPORTED"), Just("SAVEDBEFORE 1-Jan-2000"),
                Just("SAVEDON 29-Feb-2024"), Just("SAVEDSINCE 31-Dec-1999"), Just("NOT SAVEDATESUPPORTED"),
                Just("OR EMAILID a THREADID b"), Just("ALL"),
            ],
            1..6
        ),
        junk in proptest::collection::vec(
            prop_oneof![Just("EMAILID"), Just("SAVEDON"), Just("("), Just(")"), Just("MAILBOXID"), Just("\"\""), Just("x.y")],
            0..4
        ),
    ) {
        let fetch = format!("t FETCH 1:* ({})", items.join(" "));
        prop_assert!(parse_command(fetch.as_bytes()).is_ok(), "{}", fetch);
        let search = format!("t SEARCH {}", keys.join(" "));
        prop_assert!(parse_command(search.as_bytes()).is_ok(), "{}", search);
        let status = "t STATUS INBOX (MAILBOXID UIDNEXT)";
        prop_assert!(parse_command(status.as_bytes()).is_ok());
        for text in [format!("{fetch} {}", junk.join(" ")), format!("{search} {}", junk.join(" "))] {
            let _ = parse_command(text.as_bytes());
        }
    }
}

#[test]
fn compress_command() {
    // RFC 4978 §5: the mechanism is an atom, any case.
    assert_eq!(parse("a COMPRESS DEFLATE"), CommandBody::Compress { mechanism: "DEFLATE".into() });
    assert_eq!(parse("a compress deflate"), CommandBody::Compress { mechanism: "DEFLATE".into() });
    assert_eq!(parse("a COMPRESS X-LZ4"), CommandBody::Compress { mechanism: "X-LZ4".into() });
    parse_error(b"a COMPRESS");
    parse_error(b"a COMPRESS ");
    parse_error(b"a COMPRESS DEFLATE extra");
    parse_error(b"a COMPRESS \"DEFLATE\"");
}

proptest! {
    #[test]
    fn compress_takes_any_atom(mechanism in "[A-Za-z0-9][A-Za-z0-9._-]{0,20}") {
        let body = parse(&format!("t COMPRESS {mechanism}"));
        prop_assert_eq!(body, CommandBody::Compress { mechanism: mechanism.to_ascii_uppercase() });
    }

    #[test]
    fn compress_with_junk_never_panics(tail in proptest::collection::vec(any::<u8>(), 0..40)) {
        let mut line = b"t COMPRESS ".to_vec();
        line.extend_from_slice(&tail);
        let _ = parse_command(&line);
    }
}

proptest! {
    /// REPLACE / UID REPLACE (RFC 8508) and APPEND's UTF8 form (RFC 6855
    /// §4) built from their grammar: every generated line parses to what it
    /// says (number, mailbox, flags, literal kind and length).
    #[test]
    fn replace_and_utf8_appends_round_trip(
        uid: bool,
        number in prop_oneof![Just(None), (1u32..=u32::MAX).prop_map(Some)],
        mailbox in "[A-Za-z][A-Za-z0-9]{0,12}",
        seen: bool,
        utf8: bool,
        binary: bool,
        plus: bool,
        length in 1u32..100_000,
    ) {
        let number_text = number.map_or("*".to_string(), |number| number.to_string());
        let flags = if seen { "(\\Seen) " } else { "" };
        let plus_text = if plus { "+" } else { "" };
        let literal = if utf8 {
            format!("UTF8 (~{{{length}{plus_text}}}")
        } else if binary {
            format!("~{{{length}{plus_text}}}")
        } else {
            format!("{{{length}{plus_text}}}")
        };
        let line = format!("t {}REPLACE {number_text} {mailbox} {flags}{literal}", if uid { "UID " } else { "" });
        let (_, parsed_mailbox, parsed_line, replacing) = append_prefix(line.as_bytes()).unwrap().unwrap();
        let message = literal_message(&parsed_line);
        prop_assert_eq!(parsed_mailbox, mailbox.into_bytes());
        let expected_number = number.map_or(SequenceNumber::Star, SequenceNumber::Value);
        prop_assert_eq!(replacing, Some(Replacing { uid, number: expected_number }));
        prop_assert_eq!(message.utf8, utf8);
        prop_assert_eq!(message.binary, utf8 || binary);
        prop_assert_eq!(message.non_synchronizing, plus);
        prop_assert_eq!(message.length, u64::from(length));
        prop_assert_eq!(message.flags.is_empty(), !seen);
    }
}
