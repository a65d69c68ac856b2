//! SEARCH extensions over a real connection: ESEARCH result options
//! (RFC 4731) and the saved search result `$` (RFC 5182).

mod common;

use common::*;

/// Alice with `count` messages "m1".."mN" in INBOX, selected; every third
/// one (m3, m6, ...) flagged. Returns the client and the UIDs.
fn flagged_mailbox(server: &Server, count: usize) -> (Client, Vec<u32>) {
    let mut client = server.login("alice", "secret");
    let uids: Vec<u32> = (1..=count)
        .map(|number| client.append_ok("INBOX", &message(&format!("m{number}"), &format!("body {number}"))))
        .collect();
    client.ok("SELECT INBOX");
    client.ok("STORE 3:* +FLAGS.SILENT (\\Flagged)");
    client.ok("STORE 1:2,4:5,7:8 -FLAGS.SILENT (\\Flagged)");
    (client, uids)
}

#[test]
fn esearch_result_options() {
    let server = Server::start();
    let (mut client, uids) = flagged_mailbox(&server, 9);
    let capabilities = capabilities(&mut client);
    assert!(capabilities.contains("ESEARCH") && capabilities.contains("SEARCHRES"), "{capabilities:?}");

    // esearch() checks the ESEARCH names the command's tag.
    assert_eq!(esearch(&mut client, "SEARCH RETURN (MIN MAX COUNT) FLAGGED").data(), "MIN 3 MAX 9 COUNT 3");
    // RETURN () is ALL; ranges come compressed.
    assert_eq!(esearch(&mut client, "SEARCH RETURN () NOT 4:5").data(), "ALL 1:3,6:9");
    // UID SEARCH answers with UIDs and says UID.
    let line = esearch(&mut client, "UID SEARCH RETURN (ALL COUNT) FLAGGED");
    assert_eq!(line.data(), format!("UID COUNT 3 ALL {},{},{}", uids[2], uids[5], uids[8]));
    // Nothing matched: only COUNT 0 (RFC 4731 §3.1 leaves MIN, MAX, ALL out).
    assert_eq!(esearch(&mut client, "SEARCH RETURN (MIN MAX ALL COUNT) SUBJECT nowhere").data(), "COUNT 0");
    let line = esearch(&mut client, "SEARCH RETURN (MIN) SUBJECT nowhere");
    assert!(!line.uid && line.items.is_empty(), "no data at all: {line:?}");
    // Plain SEARCH is unchanged.
    assert_eq!(search_result(&client.ok("SEARCH FLAGGED")), [3, 6, 9]);
    client.bad("SEARCH RETURN (FIRST) ALL");
    client.bad("SEARCH RETURN MIN ALL");
}

#[test]
fn saved_search_result() {
    let server = Server::start();
    let (mut client, uids) = flagged_mailbox(&server, 9);
    // Nothing saved yet: $ is empty.
    assert!(client.ok("FETCH $ FLAGS").is_empty());
    // SAVE alone: no ESEARCH answer (RFC 5182 §2.4).
    let untagged = client.ok("SEARCH RETURN (SAVE) FLAGGED");
    assert!(untagged.is_empty(), "{untagged:?}");
    let fetched = client.ok("FETCH $ (UID)");
    assert_eq!(fetched.len(), 3, "{fetched:?}");
    let numbers: Vec<u32> = fetches(&fetched).into_iter().map(|(number, _)| number).collect();
    assert_eq!(numbers, [3, 6, 9], "{fetched:?}");
    // $ inside SEARCH, and with other set elements.
    assert_eq!(search_result(&client.ok("SEARCH $ SUBJECT m6")), [6]);
    assert_eq!(search_result(&client.ok("SEARCH 1,$")), [1, 3, 6, 9]);
    assert_eq!(search_result(&client.ok("UID SEARCH UID $")), [uids[2], uids[5], uids[8]]);
    // STORE and COPY take it too.
    client.ok("STORE $ +FLAGS.SILENT (\\Seen)");
    assert_eq!(search_result(&client.ok("SEARCH SEEN")), [3, 6, 9]);
    client.ok("CREATE Saved");
    client.ok("UID COPY $ Saved");
    assert_eq!(status(&mut client, "Saved", "MESSAGES"), 3);

    // SAVE with MIN and MAX keeps just those two (RFC 5182 §2.4).
    client.ok("SEARCH RETURN (SAVE MIN MAX) ALL");
    assert_eq!(search_result(&client.ok("SEARCH $")), [1, 9]);
    // With COUNT as well, every match is kept, and ESEARCH is sent.
    assert_eq!(esearch(&mut client, "SEARCH RETURN (SAVE MIN COUNT) 2:4").data(), "MIN 2 COUNT 3");
    assert_eq!(search_result(&client.ok("SEARCH $")), [2, 3, 4]);

    // An expunged message leaves $; the others renumber.
    client.ok("STORE 2 +FLAGS.SILENT (\\Deleted)");
    client.ok("EXPUNGE");
    assert_eq!(search_result(&client.ok("SEARCH $")), [2, 3]);
    // A failed SAVE empties $ (RFC 5182 §2.1).
    client.no("SEARCH RETURN (SAVE) CHARSET KOI8-NOPE SUBJECT x");
    assert!(search_result(&client.ok("SEARCH $")).is_empty());
    // A new SELECT starts with $ empty.
    client.ok("SEARCH RETURN (SAVE) ALL");
    client.ok("SELECT INBOX");
    assert!(search_result(&client.ok("SEARCH $")).is_empty());
}

/// Five messages for SORT and THREAD: a reply pair, an older message, a
/// reply whose parent is missing, and an RFC 2047 encoded subject.
fn threads_mailbox(server: &Server) -> Client {
    let mut client = server.login("alice", "secret");
    let messages = [
        "Message-ID: <a@x>\r\nFrom: Zed <zed@x>\r\nSubject: Hello\r\nDate: Mon, 1 Jan 2024 10:00:00 +0000\r\n\r\none\r\n",
        "Message-ID: <b@x>\r\nIn-Reply-To: <a@x>\r\nReferences: <a@x>\r\nFrom: alice@x\r\nSubject: Re: Hello\r\nDate: Tue, 2 Jan 2024 10:00:00 +0000\r\n\r\ntwo two\r\n",
        "Message-ID: <c@x>\r\nFrom: \"Bob B\" <bob@x>\r\nSubject: Other\r\nDate: Sun, 1 Jan 2023 10:00:00 +0000\r\n\r\nthree three three\r\n",
        "Message-ID: <d@x>\r\nReferences: <missing@x>\r\nFrom: carol@x\r\nSubject: Re: Lost\r\nDate: Wed, 3 Jan 2024 10:00:00 +0000\r\n\r\n4\r\n",
        "Message-ID: <e@x>\r\nFrom: =?UTF-8?Q?=C3=89mile?= <emile@x>\r\nSubject: =?UTF-8?Q?=C3=89t=C3=A9?=\r\nDate: Thu, 4 Jan 2024 10:00:00 +0000\r\n\r\nfive\r\n",
    ];
    for message in messages {
        client.append_ok("INBOX", message.as_bytes());
    }
    client.ok("SELECT INBOX");
    client
}

#[test]
fn sort_criteria() {
    let server = Server::start();
    let mut client = threads_mailbox(&server);
    let capabilities = capabilities(&mut client);
    for capability in ["SORT", "SORT=DISPLAY", "ESORT", "THREAD=ORDEREDSUBJECT", "THREAD=REFERENCES"] {
        assert!(capabilities.contains(capability), "{capability}: {capabilities:?}");
    }
    for (criteria, expected) in [
        ("(ARRIVAL)", "1 2 3 4 5"),
        ("(DATE)", "3 1 2 4 5"),
        ("(REVERSE DATE)", "5 4 2 1 3"),
        // Base subjects (RFC 5256 §2.1), the encoded one decoded: ÉTÉ sorts with E.
        ("(SUBJECT)", "5 1 2 4 3"),
        ("(SUBJECT REVERSE DATE)", "5 2 1 4 3"),
        ("(FROM)", "2 3 4 5 1"),
        // RFC 5957: display names where there are some.
        ("(DISPLAYFROM)", "2 3 4 5 1"),
    ] {
        let untagged = client.ok(&format!("SORT {criteria} UTF-8 ALL"));
        assert_eq!(untagged, [format!("* SORT {expected}")], "SORT {criteria}");
    }
    // SIZE: by RFC822.SIZE, ties by sequence number.
    let mut sizes: Vec<(u64, u32)> = client
        .ok("FETCH 1:* RFC822.SIZE")
        .iter()
        .map(|line| {
            let words: Vec<&str> = line.split([' ', ')']).collect();
            (words[4].parse().unwrap(), words[1].parse().unwrap())
        })
        .collect();
    sizes.sort();
    let expected: Vec<String> = sizes.iter().map(|(_, sequence)| sequence.to_string()).collect();
    assert_eq!(client.ok("SORT (SIZE) UTF-8 ALL"), [format!("* SORT {}", expected.join(" "))]);
    // The search keys narrow, UID SORT answers with UIDs.
    assert_eq!(client.ok("SORT (REVERSE DATE) UTF-8 NOT 2:3"), ["* SORT 5 4 1"]);
    let uids = client.ok("UID SORT (DATE) US-ASCII 1:2");
    assert_eq!(uids.len(), 1);
    // ESORT (RFC 5267): MIN and MAX in sort order, ALL in sort order.
    let line = client.ok("SORT RETURN (MIN MAX COUNT ALL) (DATE) UTF-8 ALL");
    assert_eq!(line.len(), 1, "{line:?}");
    assert!(line[0].ends_with(") MIN 3 MAX 5 COUNT 5 ALL 3,1:2,4:5"), "{line:?}");
    client.bad("SORT (NOSUCH) UTF-8 ALL");
    client.bad("SORT DATE UTF-8 ALL");
    client.bad("SORT (DATE) ALL");
    assert!(Status::parse(&client.no("SORT (DATE) X-NO-SUCH ALL")).code().is("BADCHARSET"));
    // A mailer's "unknown" label is not a charset a search can be in.
    assert!(Status::parse(&client.no("SEARCH CHARSET X-UNKNOWN ALL")).code().is("BADCHARSET"));
}

/// Issue 13, fault 9: SORT compared strings with a fold of its own (upper
/// case, Latin-1 accents only), SEARCH with another. Now one fold: what
/// SEARCH finds equal sorts as equal, and accents of any script sort with
/// their base letter (Dovecot's i;unicode-casemap decomposes them too).
#[test]
fn sort_and_search_fold_alike() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    for subject in [
        "Pisa",
        // "Ōsaka": O with macron (U+014C), outside Latin-1.
        "=?UTF-8?Q?=C5=8Csaka?=",
        "Nara",
        // "Ōsaka" again, decomposed: O and a combining macron.
        "=?UTF-8?Q?O=CC=84SAKA?=",
    ] {
        client.append_ok("INBOX", &message(subject, "x"));
    }
    client.ok("SELECT INBOX");
    // Before: "* SORT 3 4 1 2" (the precomposed Ō after every ASCII
    // letter, apart from its decomposed spelling).
    assert_eq!(client.ok("SORT (SUBJECT) UTF-8 ALL"), ["* SORT 3 2 4 1"]);
    assert_eq!(search_result(&client.ok("SEARCH CHARSET UTF-8 SUBJECT \"\u{14c}saka\"")), [2, 4]);
    // ORDEREDSUBJECT threads by the same key: the two spellings are one subject.
    assert_eq!(client.ok("THREAD ORDEREDSUBJECT UTF-8 ALL"), ["* THREAD (1)(2 4)(3)"]);
}

#[test]
fn thread_algorithms() {
    let server = Server::start();
    let mut client = threads_mailbox(&server);
    // Threads in order of their first message's date; the reply whose
    // parent is missing stands alone (its dummy parent is pruned).
    assert_eq!(client.ok("THREAD REFERENCES UTF-8 ALL"), ["* THREAD (3)(1 2)(4)(5)"]);
    assert_eq!(client.ok("THREAD ORDEREDSUBJECT UTF-8 ALL"), ["* THREAD (3)(1 2)(4)(5)"]);
    assert_eq!(client.ok("THREAD REFERENCES UTF-8 1:2,4"), ["* THREAD (1 2)(4)"]);
    let uids = client.ok("UID THREAD REFERENCES UTF-8 ALL");
    assert!(uids[0].starts_with("* THREAD ("), "{uids:?}");
    // RFC 5256 §5: thread-data = "THREAD" [SP 1*thread-list], no trailing space.
    assert_eq!(client.ok("THREAD REFERENCES UTF-8 SUBJECT nothing"), ["* THREAD"]);
    client.bad("THREAD NOSUCH UTF-8 ALL");
}

#[test]
fn search_decodes_headers_and_bodies() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    let messages: [&[u8]; 4] = [
        // An RFC 2047 subject and display name.
        b"From: =?ISO-8859-1?Q?J=F6rg?= <j@x>\r\nSubject: =?UTF-8?B?R3LDvMOfZSBhdXMgTcO8bmNoZW4=?=\r\n\r\nhallo\r\n",
        // A quoted-printable body in ISO-8859-1, with a soft line break.
        b"Subject: qp\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nsch=F6ne Stra=\r\n=DFe\r\n",
        // base64 inside a multipart, and an attachment that is not text.
        b"Subject: b64\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\nRWluIGdyb8OfZXMgSGF1cw==\r\n--x\r\nContent-Type: application/octet-stream\r\n\r\nsecret words\r\n--x--\r\n",
        // KOI8-R text.
        b"Subject: koi\r\nContent-Type: text/plain; charset=koi8-r\r\n\r\n\xf0\xd2\xc9\xd7\xc5\xd4\r\n",
    ];
    for message in messages {
        client.append_ok("INBOX", message);
    }
    client.ok("SELECT INBOX");
    let utf8 = |client: &mut Client, key: &str, needle: &str| {
        let tag = client.next_tag();
        let mut command = format!("{tag} SEARCH CHARSET UTF-8 {key} {{{}+}}\r\n", needle.len()).into_bytes();
        command.extend_from_slice(needle.as_bytes());
        command.extend_from_slice(b"\r\n");
        client.send_raw(&command);
        let (untagged, tagged) = client.until_tagged(&tag);
        assert!(tagged.starts_with("OK"), "{key} {needle}: {tagged}");
        search_result(&untagged)
    };
    assert_eq!(utf8(&mut client, "SUBJECT", "MÜNCHEN"), [1]);
    assert_eq!(utf8(&mut client, "FROM", "jörg"), [1]);
    assert_eq!(utf8(&mut client, "BODY", "schöne straße"), [2]);
    // RFC 5051's full case folding makes ß and ss equal (Dovecot keeps them apart).
    assert_eq!(utf8(&mut client, "BODY", "GROSSES"), [3]);
    assert_eq!(utf8(&mut client, "BODY", "großes haus"), [3]);
    assert_eq!(utf8(&mut client, "TEXT", "Привет"), [4]);
    assert_eq!(utf8(&mut client, "BODY", "привет"), [4]);
    // Encoded text is not found in its encoded form, and non-text parts
    // are not searched.
    assert!(search_result(&client.ok("SEARCH BODY RWluIGdyb8")).is_empty());
    assert!(search_result(&client.ok("SEARCH BODY \"secret words\"")).is_empty());
    // A needle in another charset is decoded first: ö in ISO-8859-1.
    let tag = client.next_tag();
    let mut command = format!("{tag} SEARCH CHARSET ISO-8859-1 BODY {{5+}}\r\n").into_bytes();
    command.extend_from_slice(b"sch\xf6n\r\n");
    client.send_raw(&command);
    let (untagged, tagged) = client.until_tagged(&tag);
    assert!(tagged.starts_with("OK"), "{tagged}");
    assert_eq!(search_result(&untagged), [2]);
}

/// SORT and THREAD of more messages than are handled inline go to a
/// blocking thread; the answer is the same, and another session is served
/// meanwhile.
#[test]
fn large_sort_and_thread() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    const COUNT: usize = 2500;
    // One MULTIAPPEND with non-synchronizing literals: one commit.
    let tag = client.next_tag();
    let mut command = format!("{tag} APPEND INBOX").into_bytes();
    for number in 0..COUNT {
        // Subjects cycle through 50 values; sizes grow with the number.
        let body = "x".repeat(number % 97);
        let text = format!("Subject: s{:02}\r\nMessage-ID: <m{number:05}@x>\r\n\r\n{body}\r\n", number % 50);
        command.extend_from_slice(format!(" {{{}+}}\r\n", text.len()).as_bytes());
        command.extend_from_slice(text.as_bytes());
    }
    command.extend_from_slice(b"\r\n");
    client.send_raw(&command);
    let (_, tagged) = client.until_tagged(&tag);
    assert!(Status::parse(&tagged).is("OK"), "{tagged}");
    client.ok("SELECT INBOX");

    let sorted = client.run_ok("SORT (SUBJECT REVERSE SIZE) UTF-8 ALL");
    let numbers: Vec<usize> = sorted.one("SORT").numbers().into_iter().map(|number| number as usize).collect();
    assert_eq!(numbers.len(), COUNT);
    let key = |sequence: usize| {
        let number = sequence - 1;
        (number % 50, std::cmp::Reverse(number % 97), sequence)
    };
    assert!(numbers.windows(2).all(|pair| key(pair[0]) < key(pair[1])), "not in SUBJECT, REVERSE SIZE order");

    let threads = client.run_ok("THREAD ORDEREDSUBJECT UTF-8 ALL");
    let threads = [threads.one("THREAD").data.clone()];
    // 50 subjects, so 50 top-level threads, holding every message once.
    let (mut depth, mut top) = (0, 0);
    for byte in threads[0].bytes() {
        match byte {
            b'(' if depth == 0 => (depth, top) = (1, top + 1),
            b'(' => depth += 1,
            b')' => depth -= 1,
            _ => {}
        }
    }
    assert_eq!(top, 50, "{}", &threads[0][..200]);
    let mut listed: Vec<usize> =
        threads[0].split(|c: char| !c.is_ascii_digit()).filter(|n| !n.is_empty()).map(|n| n.parse().unwrap()).collect();
    listed.sort_unstable();
    assert_eq!(listed, (1..=COUNT).collect::<Vec<_>>());

    // A second session is answered while the first sorts.
    let mut other = server.login("alice", "secret");
    let tag = client.next_tag();
    client.send(&format!("{tag} SORT (SUBJECT) UTF-8 ALL"));
    other.ok("NOOP");
    let (untagged, tagged) = client.until_tagged(&tag);
    assert!(Status::parse(&tagged).is("OK"), "{tagged}");
    assert_eq!(Responses::of(&untagged).one("SORT").numbers().len(), COUNT, "{untagged:?}");
}
