//! SEARCH and UID SEARCH (RFC 3501 §6.4.4): every key, charsets, case
//! folding. Extensions (ESEARCH, SEARCHRES, SORT, THREAD) are in
//! search_extensions.rs.

mod common;

use common::*;

// ---------------------------------------------------------------------------
// SEARCH
// ---------------------------------------------------------------------------

#[test]
fn search_all_sequence_and_uid_sets() {
    let server = Server::start();
    let (mut client, uids) = settled(&server, &numbered(6));
    client.ok(r"STORE 2 +FLAGS.SILENT (\Deleted)");
    client.ok("EXPUNGE");
    // Now sequence numbers 1..5 are UIDs uids[0], uids[2..6].
    let live = [uids[0], uids[2], uids[3], uids[4], uids[5]];
    assert_eq!(search(&mut client, "ALL"), [1, 2, 3, 4, 5]);
    assert_eq!(uid_search(&mut client, "ALL"), live);
    assert_eq!(search(&mut client, "2:3"), [2, 3]);
    assert_eq!(search(&mut client, "*"), [5]);
    assert_eq!(search(&mut client, "4:*"), [4, 5]);
    assert_eq!(search(&mut client, "1,3,5"), [1, 3, 5]);
    assert_eq!(uid_search(&mut client, "2:3"), [uids[2], uids[3]], "UID SEARCH answers with UIDs");
    assert_eq!(search(&mut client, &format!("UID {}:{}", uids[1], uids[3])), [2, 3]);
    assert_eq!(uid_search(&mut client, &format!("UID {}", uids[1])), Vec::<u32>::new());
    assert_eq!(uid_search(&mut client, "UID 1000:*"), [uids[5]]);
    assert_eq!(search(&mut client, "uid 1:* 1:2"), [1, 2], "keys AND together");
    client.bad("SEARCH");
    client.bad("SEARCH NOSUCHKEY");
    // Sequence numbers past the end match nothing (as in Dovecot).
    assert_eq!(search(&mut client, "6"), Vec::<u32>::new());
    assert_eq!(search(&mut client, "4:10"), [4, 5]);
}

#[test]
fn search_flags() {
    let server = Server::start();
    let (mut client, _) = settled(&server, &numbered(6));
    client.ok(r"STORE 1 FLAGS.SILENT (\Seen)");
    client.ok(r"STORE 2 FLAGS.SILENT (\Answered)");
    client.ok(r"STORE 3 FLAGS.SILENT (\Deleted)");
    client.ok(r"STORE 4 FLAGS.SILENT (\Flagged)");
    client.ok(r"STORE 5 FLAGS.SILENT (\Draft)");
    client.ok(r"STORE 6 FLAGS.SILENT (\Seen \Flagged)");
    for (key, expected) in [
        ("SEEN", &[1, 6][..]),
        ("UNSEEN", &[2, 3, 4, 5]),
        ("ANSWERED", &[2]),
        ("UNANSWERED", &[1, 3, 4, 5, 6]),
        ("DELETED", &[3]),
        ("UNDELETED", &[1, 2, 4, 5, 6]),
        ("FLAGGED", &[4, 6]),
        ("UNFLAGGED", &[1, 2, 3, 5]),
        ("DRAFT", &[5]),
        ("UNDRAFT", &[1, 2, 3, 4, 6]),
        ("seen flagged", &[6]),
        ("unseen unflagged undraft", &[2, 3]),
    ] {
        assert_eq!(search(&mut client, key), expected, "SEARCH {key}");
    }
}

#[test]
fn search_new_old_recent() {
    let server = Server::start();
    let (mut client, _) = settled(&server, &numbered(2));
    // Two more arrive while the mailbox is selected: \Recent in this session.
    client.append_ok("INBOX", &message("m3", "three"));
    client.append_ok("INBOX", &message("m4", "four"));
    client.ok("NOOP");
    client.ok(r"STORE 1,3 +FLAGS.SILENT (\Seen)");
    assert_eq!(search(&mut client, "RECENT"), [3, 4]);
    assert_eq!(search(&mut client, "OLD"), [1, 2]);
    assert_eq!(search(&mut client, "NEW"), [4], "NEW is RECENT UNSEEN");
    assert_eq!(search(&mut client, "NOT NEW"), [1, 2, 3]);
    assert_eq!(search(&mut client, "OLD UNSEEN"), [2]);
    // Another session sees none of them as recent.
    let mut other = server.login("alice", "secret");
    other.ok("SELECT INBOX");
    assert_eq!(search(&mut other, "RECENT"), Vec::<u32>::new());
    assert_eq!(search(&mut other, "NEW"), Vec::<u32>::new());
    assert_eq!(search(&mut other, "OLD"), [1, 2, 3, 4]);
}

#[test]
fn search_keywords() {
    let server = Server::start();
    let (mut client, _) = settled(&server, &numbered(3));
    client.ok("STORE 1 +FLAGS.SILENT ($Work)");
    client.ok("STORE 2 +FLAGS.SILENT ($Work $Home)");
    assert_eq!(search(&mut client, "KEYWORD $Work"), [1, 2]);
    assert_eq!(search(&mut client, "KEYWORD $Home"), [2]);
    assert_eq!(search(&mut client, "UNKEYWORD $Work"), [3]);
    assert_eq!(search(&mut client, "UNKEYWORD $Home"), [1, 3]);
    // A keyword the mailbox has never seen: no message has it.
    assert_eq!(search(&mut client, "KEYWORD $Never"), Vec::<u32>::new());
    assert_eq!(search(&mut client, "UNKEYWORD $Never"), [1, 2, 3]);
    assert_eq!(search(&mut client, "KEYWORD $Work UNKEYWORD $Home"), [1]);
}

#[test]
fn search_internal_dates() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    for date in ["01-Jan-2020 12:00:00 +0000", "15-Jun-2021 12:00:00 +0200", "31-Dec-2022 12:00:00 -0500"] {
        let (_, tagged) = client.append("INBOX", &format!("\"{date}\""), &message("dated", "x"));
        assert!(tagged.starts_with("OK"), "{tagged}");
    }
    // Late in the day at a western offset: the day is the one written (RFC
    // 3501 §6.4.4 "disregarding time and timezone").
    let (_, tagged) = client.append("INBOX", "\"10-Mar-2023 23:30:00 -0800\"", &message("late", "x"));
    assert!(tagged.starts_with("OK"), "{tagged}");
    client.ok("SELECT INBOX");
    for (key, expected) in [
        ("BEFORE 15-Jun-2021", &[1][..]),
        ("ON 15-Jun-2021", &[2]),
        ("SINCE 15-Jun-2021", &[2, 3, 4]),
        ("BEFORE 1-Jan-2020", &[]),
        ("SINCE 1-Jan-2020", &[1, 2, 3, 4]),
        ("ON 31-DEC-2022", &[3]),
        ("SINCE \"16-Jun-2021\"", &[3, 4]),
        ("SINCE 1-Jan-2021 BEFORE 1-Jan-2022", &[2]),
        ("ON 10-Mar-2023", &[4]),
        ("ON 11-Mar-2023", &[]),
    ] {
        assert_eq!(search(&mut client, key), expected, "SEARCH {key}");
    }
    client.bad("SEARCH BEFORE 32-Jan-2020");
    client.bad("SEARCH ON 2020-01-01");
}

#[test]
fn search_sent_dates() {
    let server = Server::start();
    let messages = [
        mail(&[("Subject", "a"), ("Date", "Mon, 3 Feb 2014 08:00:00 +0000")], "x\r\n"),
        mail(&[("Subject", "b"), ("Date", "Tue, 04 Mar 2014 12:00:00 +0100")], "x\r\n"),
        // In UTC this is already 5 Apr; the sender's date is 4 Apr.
        mail(&[("Subject", "c"), ("Date", "Fri, 4 Apr 2014 23:30:00 -0700")], "x\r\n"),
    ];
    let (mut client, _) = settled(&server, &messages);
    for (key, expected) in [
        ("SENTBEFORE 4-Mar-2014", &[1][..]),
        ("SENTON 4-Mar-2014", &[2]),
        ("SENTSINCE 4-Mar-2014", &[2, 3]),
        ("SENTON 4-Apr-2014", &[3]),
        ("SENTON 5-Apr-2014", &[]),
        ("SENTSINCE 1-Jan-2014", &[1, 2, 3]),
        ("SENTBEFORE 3-Feb-2014", &[]),
        // Internal dates are today's, not the Date header's.
        ("BEFORE 1-Jan-2015", &[]),
    ] {
        assert_eq!(search(&mut client, key), expected, "SEARCH {key}");
    }
}

#[test]
fn search_sizes() {
    let server = Server::start();
    let messages = [
        mail(&[("Subject", "s")], "x"),
        mail(&[("Subject", "m")], &"y".repeat(100)),
        mail(&[("Subject", "l")], &"z".repeat(5000)),
    ];
    let sizes: Vec<usize> = messages.iter().map(Vec::len).collect();
    let (mut client, _) = settled(&server, &messages);
    assert_eq!(search(&mut client, &format!("LARGER {}", sizes[1])), [3], "strictly larger");
    assert_eq!(search(&mut client, &format!("LARGER {}", sizes[1] - 1)), [2, 3]);
    assert_eq!(search(&mut client, &format!("SMALLER {}", sizes[1])), [1], "strictly smaller");
    assert_eq!(search(&mut client, &format!("SMALLER {}", sizes[1] + 1)), [1, 2]);
    assert_eq!(search(&mut client, "LARGER 0"), [1, 2, 3]);
    assert_eq!(search(&mut client, "SMALLER 1"), Vec::<u32>::new());
    assert_eq!(search(&mut client, &format!("LARGER {} SMALLER {}", sizes[0], sizes[2])), [2]);
    client.bad("SEARCH LARGER x");
}

/// Messages for the header, body and text searches.
fn header_messages() -> Vec<Vec<u8>> {
    vec![
        mail(
            &[
                ("From", "Bob Example <bob@example.org>"),
                ("To", "Alice <alice@example.org>"),
                ("Cc", "carol@example.net"),
                ("Subject", "Quarterly Report"),
            ],
            "The numbers are in.\r\n",
        ),
        mail(
            &[
                ("From", "dave@example.com"),
                ("To", "Eve <eve@example.com>"),
                ("Bcc", "frank@example.org"),
                ("Subject", "lunch?"),
                ("X-Priority", "1 (Highest)"),
            ],
            "Pizza at noon.\r\n",
        ),
        mail(
            &[
                ("From", "alice@example.org"),
                ("To", "bob@example.org"),
                ("Subject", "Meeting\r\n about the budget"),
                ("X-Priority", ""),
            ],
            "Bring the Budget spreadsheet.\r\n",
        ),
    ]
}

#[test]
fn search_header_keys() {
    let server = Server::start();
    let (mut client, _) = settled(&server, &header_messages());
    for (key, expected) in [
        ("FROM bob", &[1][..]),
        ("FROM \"BOB EXAMPLE\"", &[1]),
        ("FROM example.com", &[2]),
        ("TO eve", &[2]),
        ("TO \"bob@\"", &[3]),
        ("CC CAROL", &[1]),
        ("CC eve", &[]),
        ("BCC Frank", &[2]),
        ("SUBJECT report", &[1]),
        ("SUBJECT \"quarterly report\"", &[1]),
        // A folded field is searched unfolded.
        ("SUBJECT \"Meeting about\"", &[3]),
        ("SUBJECT nothing", &[]),
        ("HEADER X-Priority highest", &[2]),
        ("HEADER x-priority \"\"", &[2, 3]),
        ("HEADER Cc \"\"", &[1]),
        ("HEADER X-Absent \"\"", &[]),
        ("HEADER Subject lunch", &[2]),
    ] {
        assert_eq!(search(&mut client, key), expected, "SEARCH {key}");
    }
    // A search string as a literal (LITERAL+).
    client.send_raw(b"L1 SEARCH FROM {3+}\r\nDAV\r\n");
    let (untagged, tagged) = client.until_tagged("L1");
    assert!(tagged.starts_with("OK"), "{tagged}");
    assert_eq!(search_result(&untagged), [2]);
    // And with a synchronizing literal.
    client.send("L2 SEARCH SUBJECT {6}");
    assert!(client.read_line().starts_with("+ "));
    client.send("BUDGET");
    let (untagged, tagged) = client.until_tagged("L2");
    assert!(tagged.starts_with("OK"), "{tagged}");
    assert_eq!(search_result(&untagged), [3]);
    client.bad("SEARCH HEADER \"Bad:Name\" x");
}

#[test]
fn search_body_and_text() {
    let server = Server::start();
    let mut messages = header_messages();
    // A needle across the 64 KiB boundary where a body is read in pieces.
    let header = "Subject: long\r\n\r\n";
    let mut long = header.to_string();
    long.push_str(&"a".repeat(65536 - 3));
    long.push_str("NEEDLE");
    long.push_str(&"b".repeat(100));
    messages.push(long.into_bytes());
    let (mut client, _) = settled(&server, &messages);
    for (key, expected) in [
        ("BODY budget", &[3][..]),
        ("BODY PIZZA", &[2]),
        ("BODY quarterly", &[]),
        ("BODY \"Subject\"", &[]),
        ("TEXT quarterly", &[1]),
        ("TEXT budget", &[3]),
        ("TEXT example.com", &[2]),
        ("TEXT \"numbers are\"", &[1]),
        ("BODY needle", &[4]),
        ("TEXT needle", &[4]),
        ("BODY \"\"", &[1, 2, 3, 4]),
        ("BODY absent", &[]),
    ] {
        assert_eq!(search(&mut client, key), expected, "SEARCH {key}");
    }
}

#[test]
fn search_or_not_and_parentheses() {
    let server = Server::start();
    let (mut client, _) = settled(&server, &numbered(5));
    client.ok(r"STORE 1 FLAGS.SILENT (\Seen)");
    client.ok(r"STORE 2 FLAGS.SILENT (\Flagged)");
    client.ok(r"STORE 3 FLAGS.SILENT (\Seen \Flagged)");
    client.ok(r"STORE 4 FLAGS.SILENT (\Draft)");
    for (key, expected) in [
        ("OR SEEN FLAGGED", &[1, 2, 3][..]),
        ("NOT SEEN", &[2, 4, 5]),
        ("(SEEN FLAGGED)", &[3]),
        ("OR (SEEN FLAGGED) DRAFT", &[3, 4]),
        ("NOT (OR SEEN FLAGGED)", &[4, 5]),
        ("NOT NOT SEEN", &[1, 3]),
        ("OR OR SEEN DRAFT 5", &[1, 3, 4, 5]),
        ("NOT 1:3", &[4, 5]),
        ("((SEEN) (NOT FLAGGED))", &[1]),
        ("OR SUBJECT m2 SUBJECT m5", &[2, 5]),
        ("NOT SUBJECT m", &[]),
    ] {
        assert_eq!(search(&mut client, key), expected, "SEARCH {key}");
    }
    client.bad("SEARCH OR SEEN");
    client.bad("SEARCH (SEEN");
    client.bad("SEARCH NOT");
}

#[test]
fn search_charsets() {
    let server = Server::start();
    let messages =
        [mail(&[("Subject", "caf\u{e9} cr\u{e8}me")], "x\r\n"), mail(&[("Subject", "plain")], "na\u{ef}ve\r\n")];
    let (mut client, _) = settled(&server, &messages);
    assert_eq!(search(&mut client, "CHARSET UTF-8 ALL"), [1, 2]);
    assert_eq!(search(&mut client, "CHARSET US-ASCII SUBJECT plain"), [2]);
    assert_eq!(search(&mut client, "charset utf-8 SUBJECT caf"), [1]);
    let mut command = b"u1 SEARCH CHARSET UTF-8 SUBJECT {6+}\r\n".to_vec();
    command.extend_from_slice("cr\u{e8}me".as_bytes());
    command.extend_from_slice(b" BODY {6+}\r\n");
    command.extend_from_slice("na\u{ef}ve".as_bytes());
    command.extend_from_slice(b"\r\n");
    client.send_raw(&command);
    let (untagged, tagged) = client.until_tagged("u1");
    assert!(tagged.starts_with("OK"), "{tagged}");
    assert_eq!(search_result(&untagged), Vec::<u32>::new(), "the two keys AND");
    let mut command = b"u2 SEARCH CHARSET UTF-8 BODY {6+}\r\n".to_vec();
    command.extend_from_slice("na\u{ef}ve".as_bytes());
    command.extend_from_slice(b"\r\n");
    client.send_raw(&command);
    let (untagged, tagged) = client.until_tagged("u2");
    assert!(tagged.starts_with("OK"), "{tagged}");
    assert_eq!(search_result(&untagged), [2]);
    // RFC 3501 §6.4.4: an unsupported charset is NO [BADCHARSET].
    let refused = client.no("SEARCH CHARSET X-NO-SUCH-CHARSET ALL");
    assert!(refused.starts_with("NO [BADCHARSET"), "{refused}");
    let refused = client.no("UID SEARCH CHARSET KLINGON SUBJECT x");
    assert!(refused.starts_with("NO [BADCHARSET"), "{refused}");
    // Other charsets are known: the search string is decoded from them.
    assert_eq!(search(&mut client, "CHARSET ISO-8859-1 SUBJECT plain"), [2]);
    client.ok("NOOP");
}

#[test]

fn search_is_case_insensitive_beyond_ascii() {
    // RFC 3501 §6.4.4: "In all search keys that use strings, a message
    // matches the key if the string is a substring of the field. The
    // matching is case-insensitive." Dovecot folds with i;unicode-casemap.
    let server = Server::start();
    let messages = [mail(&[("Subject", "Cr\u{e8}me br\u{fb}l\u{e9}e")], "\u{c9}T\u{c9}\r\n")];
    let (mut client, _) = settled(&server, &messages);
    let mut command = b"u1 SEARCH CHARSET UTF-8 SUBJECT {6+}\r\n".to_vec();
    command.extend_from_slice("CR\u{c8}ME".as_bytes());
    command.extend_from_slice(b"\r\n");
    client.send_raw(&command);
    let (untagged, tagged) = client.until_tagged("u1");
    assert!(tagged.starts_with("OK"), "{tagged}");
    assert_eq!(search_result(&untagged), [1], "SUBJECT CR\u{c8}ME matches Cr\u{e8}me");
    let mut command = b"u2 SEARCH CHARSET UTF-8 BODY {5+}\r\n".to_vec();
    command.extend_from_slice("\u{e9}t\u{e9}".as_bytes());
    command.extend_from_slice(b"\r\n");
    client.send_raw(&command);
    let (untagged, tagged) = client.until_tagged("u2");
    assert!(tagged.starts_with("OK"), "{tagged}");
    assert_eq!(search_result(&untagged), [1], "BODY \u{e9}t\u{e9} matches \u{c9}T\u{c9}");
}
