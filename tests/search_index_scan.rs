//! The full-text index (issue 18) against the scan, over a real socket:
//! the same messages in two servers, one keeping the index (complete,
//! then half built) and one with `search_index = false` (every SEARCH
//! BODY/TEXT scans: the reference answer), and every SEARCH, UID SEARCH,
//! ESEARCH, SEARCHRES, SORT and THREAD answer compared byte for byte.
//! Then the index kept right through EXPUNGE, MOVE, COPY (to another
//! user's shared mailbox too) and `roost user del`; `roost reindex`,
//! `roost status` and `roost check` from the command line.
//!
//! The property test of random messages and needles is in
//! tests/search_index_property.rs, the kill -9 test in
//! tests/search_index_crash.rs, the tests/mime corpus in
//! tests/mime/compare_index.sh.

mod common;

use common::*;

#[path = "common/fts_twins.rs"]
mod twins;
use twins::*;

/// The messages of the comparison: a few dozen kinds, each built for one
/// way the index could see other text than the scan.
fn kinds() -> Vec<Vec<u8>> {
    let mut all: Vec<Vec<u8>> = Vec::new();
    let plain =
        |subject: &str, body: &str| raw(&[("Subject", subject), ("X-Mailer", "Plain Mailer 1.0")], body.as_bytes());
    all.push(plain("rosegarden plain", "The rosegarden is in bloom.\r\nSecond line."));
    all.push(plain("short", "ab"));
    all.push(plain("empty body", ""));
    all.push(plain("case", "ROSEGARDEN IN CAPITALS and MiXeD RoSeGaRdEn"));
    // Quoted-printable: a word across a soft line break, a UTF-8 character
    // split across one, and an encoded space at the end of a line.
    all.push(part_message(
        "qp soft breaks",
        "text/plain; charset=utf-8",
        "quoted-printable",
        b"Rose=\r\ngarden under a soft break, caf=C3=\r\n=A9 split, Stra=C3=9Fe=\r\n and tail=20\r\nnext",
    ));
    all.push(part_message(
        "qp latin1",
        "text/plain; charset=iso-8859-1",
        "quoted-printable",
        b"Cr=E8me br=FBl=E9e f=FCr alle, Stra=DFe",
    ));
    all.push(part_message(
        "base64 utf8",
        "text/plain; charset=utf-8",
        "base64",
        wrap76(&base64("Base64 hides the word zeppelin and Ärger über Öl, ﬁle, \u{212A}elvin".as_bytes())).as_bytes(),
    ));
    all.push(part_message(
        "base64 latin1",
        "text/plain; charset=iso-8859-1",
        "base64",
        base64(&latin1("Déjà vu, garçon, smørrebrød, Straße")).as_bytes(),
    ));
    all.push(part_message(
        "latin1 8bit",
        "text/plain; charset=ISO-8859-1",
        "8bit",
        &latin1("Ein Grüß aus Köln: Straße, café"),
    ));
    all.push(part_message(
        "windows-1252",
        "text/plain; charset=windows-1252",
        "8bit",
        b"Price: 5 \x80 \x93quoted\x94 na\xefve",
    ));
    all.push(part_message("koi8-r", "text/plain; charset=koi8-r", "8bit", b"\xf0\xd2\xc9\xd7\xc5\xd4 \xcd\xc9\xd2"));
    all.push(part_message(
        "unknown charset",
        "text/plain; charset=x-no-such-charset",
        "8bit",
        "naïve bytes café".as_bytes(),
    ));
    all.push(part_message(
        "no charset utf8",
        "text/plain",
        "8bit",
        "İstanbul, ıstakoz, ΣΊΣΥΦΟΣ σίσυφος, ﬁnal ﬂow".as_bytes(),
    ));
    all.push(plain("turkish", "İSTANBUL and istanbul and İstanbul; \u{212A}ELVIN \u{212A}elvin kelvin"));
    all.push(plain("ligatures", "The ﬁle was ﬁne; the ﬄuent oﬃce. Masse Maße MASSE"));
    all.push(plain("combining", "cafe\u{301} (decomposed) and caf\u{e9} (composed), A\u{30a}ngstro\u{308}m"));
    all.push(plain("greek", "ΌΣΟΣ όσος ΟΣΟΣ; Straße STRASSE"));
    // RFC 2047 headers: B and Q, UTF-8 and Latin-1, adjacent words joined.
    all.push(raw(
        &[
            ("Subject", "=?UTF-8?B?R3LDvMOfZSBhdXMgS8O2bG4=?= =?ISO-8859-1?Q?Cr=E8me_br=FBl=E9e?="),
            ("From", "=?UTF-8?Q?J=C3=B6rg_M=C3=BCller?= <joerg@example.org>"),
            ("X-Mailer", "=?UTF-8?B?TWFpbGVyIMOcYmVy?="),
        ],
        b"rfc 2047 headers only",
    ));
    // A folded header: folds read as one space.
    all.push(raw(
        &[("Subject", "folded\r\n   subject line\r\n\tcontinues"), ("X-Mailer", "Folded\r\n Mailer\r\n  3000")],
        b"folded headers",
    ));
    all.push(raw(&[("Subject", "no mailer"), ("X-Other", "zeppelin in a header")], b"the field is X-Other"));
    // message/rfc822 attachment: its header and its text are streams.
    let inner = raw(
        &[("Subject", "inner subject zanzibar"), ("From", "inner@example.org"), ("X-Mailer", "Inner Mailer")],
        b"Inner body mentions the rosegarden and quokka.",
    );
    all.push(multipart(
        "attached message",
        "mixed",
        &[
            entity(&[("Content-Type", "text/plain; charset=utf-8")], b"Outer text: see attached."),
            entity(&[("Content-Type", "message/rfc822")], &inner),
        ],
    ));
    // Alternative text and HTML, a part header (TEXT reads it), an
    // attachment that is not text (never searched), preamble/epilogue.
    all.push(multipart(
        "alternative",
        "alternative",
        &[
            entity(&[("Content-Type", "text/plain; charset=utf-8")], "Plain wombat text".as_bytes()),
            entity(
                &[("Content-Type", "text/html; charset=utf-8"), ("Content-Description", "description with narwhal")],
                b"<p>HTML <b>wom</b>bat and narwhal</p>",
            ),
        ],
    ));
    all.push(multipart(
        "binary attachment",
        "mixed",
        &[
            entity(&[("Content-Type", "text/plain")], b"see the attachment"),
            entity(
                &[("Content-Type", "application/octet-stream"), ("Content-Transfer-Encoding", "base64")],
                base64(b"the attachment says rosegarden and zeppelin").as_bytes(),
            ),
            entity(&[("Content-Type", "image/png")], b"rosegarden raw in an image part"),
        ],
    ));
    let mut with_preamble = multipart(
        "preamble",
        "mixed",
        &[
            entity(&[("Content-Type", "text/plain")], b"part one: ocelot"),
            entity(&[("Content-Type", "text/plain")], b"part two"),
        ],
    );
    // Text where a multipart's preamble would be: the boundary line comes
    // after it (see `multipart`), so this is the preamble.
    let at = find(&with_preamble, b"--b-").unwrap();
    with_preamble.splice(at..at, b"preamble mentions platypus\r\n".iter().copied());
    with_preamble.extend_from_slice(b"epilogue mentions platypus too\r\n");
    all.push(with_preamble);
    // A needle across two parts matches in neither.
    all.push(multipart(
        "across parts",
        "mixed",
        &[
            entity(&[("Content-Type", "text/plain")], b"the end of one is mar"),
            entity(&[("Content-Type", "text/plain")], b"mot beginning the next"),
        ],
    ));
    // LF-only line ends, and a nested multipart.
    all.push(b"Subject: lf only\nX-Mailer: LF Mailer\n\nline one with kookaburra\nline two\n".to_vec());
    all.push(multipart(
        "nested",
        "mixed",
        &[multipart_entity(
            "alternative",
            "inner",
            &[
                entity(
                    &[("Content-Type", "text/plain; charset=utf-8"), ("Content-Transfer-Encoding", "quoted-printable")],
                    b"nested qp axol=\r\notl",
                ),
                entity(&[("Content-Type", "text/html")], b"<i>nested html axolotl</i>"),
            ],
        )],
    ));
    // Broken encodings: both sides read them the same lenient way.
    all.push(part_message("broken base64", "text/plain", "base64", b"cm9zZWdhcmRlbg=!!=bad*base64"));
    all.push(part_message("broken qp", "text/plain", "quoted-printable", b"bad =ZZ escape and =\r\nrose=3garden =E"));
    all.push(part_message("unknown cte", "text/plain", "x-uuencode", b"rosegarden under an unknown encoding"));
    // A header larger than the 64 KiB the scan reads: the needle at its end.
    let long_value = format!("{} farawayword", "filler ".repeat(10_000));
    all.push(raw(
        &[("Subject", "long header"), ("X-Long", &long_value), ("X-Mailer", "After Long")],
        b"long header body",
    ));
    // A long body with many distinct trigrams (over the index's cap: left
    // unindexed and a candidate for every needle).
    let mut noisy = String::new();
    let alphabet: Vec<char> =
        "abcdefghijklmnopqrstuvwxyz0123456789абвгдежзийклмнопрстуфхцчшщъыьэюяαβγδεζηθικλμνξοπρστυφχψω"
            .chars()
            .collect();
    let mut rng = Rng::new(18);
    for index in 0..75_000 {
        noisy.push(alphabet[rng.below(alphabet.len() as u64) as usize]);
        if index % 70 == 69 {
            noisy.push_str("\r\n");
        }
    }
    noisy.push_str(" needle-in-noise rosegarden");
    all.push(raw(&[("Subject", "noisy"), ("Content-Type", "text/plain; charset=utf-8")], noisy.as_bytes()));
    // Duplicates of the ordinary ones so narrowing has something to cut.
    for index in 0..12 {
        all.push(plain(&format!("filler {index}"), &format!("Nothing to see here, number {index}. Ordinary words.")));
    }
    all
}

/// The searches compared, and whether the index should narrow them
/// (a needle of 3+ folded characters under a key it serves).
fn searches() -> Vec<String> {
    let mut all = Vec::new();
    let needles = [
        "rosegarden",
        "ROSEGARDEN",
        "rose",
        "garden under",
        "café",
        "cafe\u{301}",
        "CAFÉ",
        "straße",
        "STRASSE",
        "sse",
        "ss",
        "ß",
        "é",
        "ab",
        "a",
        "zeppelin",
        "ärger über",
        "ÄRGER",
        "ﬁle",
        "file",
        "FILE",
        "ﬃ",
        "ffi",
        "kelvin",
        "\u{212A}elvin",
        "KELVIN",
        "İstanbul",
        "istanbul",
        "ISTANBUL",
        "ıstakoz",
        "σίσυφος",
        "ΣΊΣΥΦΟΣ",
        "όσος",
        "ΟΣΟΣ",
        "crème brûlée",
        "CRÈME",
        "déjà vu",
        "smørrebrød",
        "grüß",
        "köln",
        "€",
        "5 €",
        "\u{201c}quoted\u{201d}",
        "naïve",
        "привет",
        "мир",
        "quokka",
        "zanzibar",
        "inner mailer",
        "wombat",
        "narwhal",
        "platypus",
        "ocelot",
        "marmot",
        "kookaburra",
        "axolotl",
        "farawayword",
        "needle-in-noise",
        "jörg",
        "müller",
        "mailer über",
        "folded subject line continues",
        "folded mailer 3000",
        "mailer",
        "ordinary words",
        "number 1",
        "ångström",
        "absentwordxyz",
        "tail ",
        "\u{0307}",
        "i\u{307}stanbul",
    ];
    for needle in needles {
        let quoted = quote(needle);
        for key in ["BODY", "TEXT"] {
            all.push(format!("UID SEARCH CHARSET UTF-8 {key} {quoted}"));
        }
    }
    for needle in ["rosegarden", "zeppelin", "wombat", "ab", "kelvin", "ordinary"] {
        all.push(format!("SEARCH BODY {needle}"));
        all.push(format!("SEARCH TEXT {needle}"));
        all.push(format!("UID SEARCH NOT BODY {needle}"));
        all.push(format!("UID SEARCH OR BODY {needle} SUBJECT plain"));
        all.push(format!("UID SEARCH BODY {needle} NOT TEXT zeppelin"));
        all.push(format!("UID SEARCH OR TEXT {needle} NOT BODY rose"));
        all.push(format!("UID SEARCH RETURN (MIN MAX COUNT ALL) BODY {needle}"));
        all.push(format!("SEARCH RETURN (COUNT) TEXT {needle}"));
        all.push(format!("UID SORT (SUBJECT) UTF-8 BODY {needle}"));
        all.push(format!("SORT (REVERSE ARRIVAL) UTF-8 TEXT {needle}"));
        all.push(format!("UID THREAD REFERENCES UTF-8 BODY {needle}"));
        all.push(format!("THREAD ORDEREDSUBJECT UTF-8 OR BODY {needle} TEXT garden"));
        all.push(format!("SEARCH RETURN (SAVE) BODY {needle}"));
        all.push("UID SEARCH $".to_string());
        all.push("UID SEARCH $ TEXT plain".to_string());
    }
    for (field, needle) in [
        ("X-Mailer", "mailer"),
        ("X-Mailer", "plain mailer"),
        ("X-Mailer", "Mailer Über"),
        ("X-Mailer", "inner"),
        ("X-Mailer", "folded mailer"),
        ("X-Mailer", "lf mailer"),
        ("X-Mailer", "after long"),
        ("X-Mailer", ""),
        ("X-Mailer", "ma"),
        ("X-Other", "zeppelin"),
        ("X-Long", "farawayword"),
        ("X-Long", "filler"),
        ("Content-Description", "narwhal"),
        ("Subject", "rosegarden"),
        ("Subject", "grüße"),
        ("Subject", "crème"),
        ("Subject", "folded subject"),
        ("Subject", "zanzibar"),
        ("From", "jörg"),
        ("From", "joerg@example"),
        ("From", "inner@"),
        ("Content-Type", "octet"),
    ] {
        all.push(format!("UID SEARCH CHARSET UTF-8 HEADER {field} {}", quote(needle)));
    }
    for key in ["SUBJECT", "FROM", "TO", "CC", "BCC"] {
        for needle in ["rosegarden", "jörg", "example.org", "zanzibar", "crème"] {
            all.push(format!("UID SEARCH CHARSET UTF-8 {key} {}", quote(needle)));
        }
    }
    all.push("UID SEARCH CHARSET UTF-8 OR OR BODY quokka HEADER X-Mailer inner NOT TEXT rosegarden".to_string());
    all.push("UID SEARCH CHARSET UTF-8 NOT OR BODY \"straße\" HEADER X-Mailer plain".to_string());
    all.push("UID SEARCH CHARSET UTF-8 BODY rose BODY garden TEXT bloom".to_string());
    all.push("SEARCH 1:10 BODY rosegarden".to_string());
    all.push("UID SEARCH UID 5:* TEXT mailer".to_string());
    all.push("SEARCH LARGER 1000 BODY rosegarden".to_string());
    all
}

/// Answers without ESEARCH's `(TAG "..")`, to compare two runs.
fn untagged(answers: &[Vec<String>]) -> Vec<Vec<String>> {
    let strip = |line: &String| match (line.find("(TAG \""), line.find("\") ")) {
        (Some(start), Some(end)) if start < end => format!("{}{}", &line[..start], &line[end + 3..]),
        _ => line.clone(),
    };
    answers.iter().map(|answer| answer.iter().map(strip).collect()).collect()
}

#[test]
fn index_answers_every_search_as_the_scan() {
    let started = std::time::Instant::now();
    let mut twins = Twins::start(&[]);
    let messages = kinds();
    twins.append_all("INBOX", &messages);
    twins.select("INBOX");
    // Half built: every message waits (the indexer settles for 20 s).
    // (The indexer would start 20 s after the last arrival: the
    // comparison below may outlast that, so the state is checked first.)
    let check = check_clean(&twins.indexed);
    assert!(check.contains("search index: 0 message(s) in 0 segment(s) "), "{check}");
    assert!(check.contains(&format!(", {} waiting, 0 unindexed", messages.len())), "{check}");
    let before = twins.compare_all(&searches());
    // Complete.
    reindex(&twins.indexed, &[]);
    let check = check_clean(&twins.indexed);
    // (The count is of segment listings: the indexer may have run on its
    // own already, and a reindex lists the messages again; see
    // `check_counts_each_message_once`.)
    assert!(check.contains(" message(s) in "), "{check}");
    assert!(check.contains(", 0 waiting, 1 unindexed"), "the noisy message is over the cap: {check}");
    let log_start = twins.indexed.log_text().len();
    let after = twins.compare_all(&searches());
    assert!(untagged(&before) == untagged(&after), "answers changed once indexed");
    let log = twins.indexed.log_text()[log_start..].to_string();
    let narrowed = log.matches("search index: ").count();
    let candidates = log.matches("candidate message(s)").count();
    assert!(candidates > 100, "the index narrowed only {candidates} of {narrowed} needles:\n{log}");
    // Mixed: some more arrive (waiting) while the rest is indexed.
    let more: Vec<Vec<u8>> = messages.iter().step_by(3).cloned().collect();
    twins.append_all("INBOX", &more);
    twins.compare_all(&searches());
    reindex(&twins.indexed, &[]);
    twins.compare_all(&searches());
    check_clean(&twins.indexed);
    println!("{} searches compared 4 times in {:.1?}", searches().len(), started.elapsed());
}

#[test]
fn index_kept_right_through_expunge_move_copy_and_user_del() {
    let mut twins = Twins::start(&[("carol", "c4r0l")]);
    let messages = kinds();
    let shortlist = [
        "UID SEARCH CHARSET UTF-8 BODY rosegarden",
        "UID SEARCH CHARSET UTF-8 TEXT zeppelin",
        "UID SEARCH CHARSET UTF-8 BODY \"straße\"",
        "UID SEARCH CHARSET UTF-8 TEXT quokka",
        "UID SEARCH CHARSET UTF-8 BODY ordinary",
        "UID SEARCH CHARSET UTF-8 HEADER X-Mailer mailer",
        "UID SEARCH CHARSET UTF-8 BODY wombat",
        "UID SEARCH CHARSET UTF-8 TEXT needle-in-noise",
        "UID SEARCH CHARSET UTF-8 NOT BODY number",
        "UID SORT (SUBJECT) UTF-8 BODY ordinary",
        "UID SEARCH RETURN (MIN MAX COUNT ALL) TEXT rosegarden",
    ];
    let shortlist: Vec<String> = shortlist.iter().map(|search| search.to_string()).collect();
    // Bob shares a mailbox with alice; carol has mail of her own.
    for server in [&twins.indexed, &twins.scanned] {
        let mut bob = server.login("bob", "hunter2");
        bob.ok("CREATE Box");
        bob.ok("SETACL Box alice lrswipkxte");
        let mut carol = server.login("carol", "c4r0l");
        for message in &messages[..10] {
            carol.append_ok("INBOX", message);
        }
    }
    twins.run_both("CREATE Keep");
    twins.append_all("INBOX", &messages);
    reindex(&twins.indexed, &[]);
    check_clean(&twins.indexed);
    twins.select("INBOX");
    twins.compare_all(&shortlist);
    // COPY within alice's mailboxes and to bob's shared one: the copies
    // share the stored message, so the index has nothing new to learn.
    twins.run_both("UID COPY 1:10 Keep");
    twins.run_both("UID COPY 5:15 Shared/bob/Box");
    check_clean(&twins.indexed);
    for mailbox in ["Keep", "Shared/bob/Box", "INBOX"] {
        twins.select(mailbox);
        twins.compare_all(&shortlist);
    }
    // EXPUNGE (some of whose messages have copies elsewhere), MOVE.
    twins.run_both("UID STORE 1:3,8,20:25 +FLAGS.SILENT (\\Deleted)");
    twins.run_both("EXPUNGE");
    twins.run_both("UID MOVE 9:12,26:28 Keep");
    for mailbox in ["INBOX", "Keep", "Shared/bob/Box"] {
        twins.select(mailbox);
        twins.compare_all(&shortlist);
    }
    check_clean(&twins.indexed);
    // Mail arriving after the deletions (new stored ids), indexed.
    twins.select("INBOX");
    twins.append_all("INBOX", &messages[..12]);
    reindex(&twins.indexed, &[]);
    check_clean(&twins.indexed);
    twins.compare_all(&shortlist);
    // Delete mail whose only copy is in Keep, and the mailbox itself.
    twins.select("Keep");
    twins.run_both("UID STORE 1:* +FLAGS.SILENT (\\Deleted)");
    twins.run_both("UID EXPUNGE 1:*");
    twins.run_both("UNSELECT");
    twins.run_both("DELETE Keep");
    check_clean(&twins.indexed);
    twins.select("INBOX");
    twins.compare_all(&shortlist);
    // roost user del: alice goes; what she copied to bob's mailbox stays
    // (bob owns it), carol's mail is untouched.
    twins.logout();
    for server in [&twins.indexed, &twins.scanned] {
        let config = server.config_arg();
        let (ok, out, err) = run_cli(&["user", "del", "alice", "--yes", "--config", &config], None);
        assert!(ok, "user del: {out} {err}");
    }
    check_clean(&twins.indexed);
    for (user, password, mailbox) in [("bob", "hunter2", "Box"), ("carol", "c4r0l", "INBOX")] {
        twins.login(user, password);
        twins.select(mailbox);
        twins.compare_all(&shortlist);
        twins.logout();
    }
    // More mail, reindex of one user and of all, and a compare again.
    twins.login("carol", "c4r0l");
    twins.append_all("INBOX", &messages[10..20]);
    twins.select("INBOX");
    reindex(&twins.indexed, &["--user", "carol"]);
    check_clean(&twins.indexed);
    twins.compare_all(&shortlist);
    reindex(&twins.indexed, &[]);
    twins.compare_all(&shortlist);
    let check = check_clean(&twins.indexed);
    assert!(check.contains(", 0 waiting, "), "{check}");
}

#[test]
fn reindex_status_and_check_from_the_command_line() {
    // The index off: reindex says so and fails.
    let off = Server::start_with(Options { extra_limits: "search_index = false".into(), ..Default::default() });
    let (ok, out, err) = run_cli(&["reindex", "--config", &off.config_arg(), "--wait"], None);
    assert!(!ok, "reindex with the index off succeeded: {out} {err}");
    assert!(err.contains("search index is off"), "{out} {err}");
    let (ok, out, err) = run_cli(&["status", "--config", &off.config_arg()], None);
    assert!(ok, "{out} {err}");
    assert!(out.contains("search index: off"), "{out}");
    // The index on: waiting messages show in status, an unknown user
    // fails clearly, and a reindex empties the queue.
    let server = Server::start();
    let mut client = server.alice_inbox();
    for message in numbered(5) {
        client.append_ok("INBOX", &message);
    }
    let (ok, out, err) = run_cli(&["status", "--config", &server.config_arg()], None);
    assert!(ok, "{out} {err}");
    assert!(out.contains("search index: 5 message(s) waiting"), "{out}");
    let (ok, out, err) = run_cli(&["reindex", "--config", &server.config_arg(), "--user", "nosuchuser"], None);
    assert!(!ok, "reindex of an unknown user succeeded: {out} {err}");
    let said = format!("{out} {err}").to_lowercase();
    assert!(said.contains("nosuchuser") || said.contains("no such user"), "{out} {err}");
    let out = reindex(&server, &["--user", "alice"]);
    assert!(out.contains("search index complete"), "{out}");
    let (ok, out, err) = run_cli(&["status", "--config", &server.config_arg()], None);
    assert!(ok, "{out} {err}");
    assert!(out.contains("search index: 0 message(s) waiting"), "{out}");
    let check = check_clean(&server);
    assert!(check.contains("search index: 5 message(s) in 1 segment(s) "), "{check}");
    assert!(check.contains(", 0 waiting, 0 unindexed"), "{check}");
    // Offline: indexing is the server's work; reindex says to start it.
    let mut server = server;
    server.stop();
    let (ok, out, err) = run_cli(&["reindex", "--config", &server.config_arg()], None);
    assert!(!ok, "reindex without a server succeeded: {out} {err}");
    assert!(format!("{out} {err}").contains("not running"), "{out} {err}");
    server.spawn();
    let out = reindex(&server, &[]);
    assert!(out.contains("search index complete"), "{out}");
    check_clean(&server);
}

/// `roost check`'s "N message(s) in S segment(s)".
fn indexed_count(check: &str) -> u64 {
    let line = check.lines().find(|line| line.starts_with("search index: ")).unwrap_or_else(|| panic!("{check}"));
    line["search index: ".len()..].split(' ').next().unwrap().parse().unwrap_or_else(|_| panic!("{line}"))
}

/// A reindex of mail already indexed must not leave it listed twice: a
/// reindex of everyone starts from nothing, one of a user is followed by a
/// compaction of the segments it superseded (this found the duplicates
/// in the first version).
#[test]
fn check_counts_each_message_once() {
    let server = Server::start();
    let mut client = server.alice_inbox();
    for message in numbered(20) {
        client.append_ok("INBOX", &message);
    }
    reindex(&server, &[]);
    assert_eq!(indexed_count(&check_clean(&server)), 20);
    reindex(&server, &[]);
    reindex(&server, &["--user", "alice"]);
    let check = check_clean(&server);
    assert_eq!(indexed_count(&check), 20, "20 messages stored: {check}");
}

/// Mail that keeps arriving less than 20 s apart is indexed all the same,
/// at most a minute after it began (the first version waited for 20 s of
/// quiet, forever).
#[test]
fn a_steady_stream_of_mail_is_indexed_within_a_minute() {
    let server = Server::start();
    let mut client = server.alice_inbox();
    for message in numbered(300) {
        client.append_ok("INBOX", &message);
    }
    let waiting = |server: &Server| -> u64 {
        let (ok, out, err) = run_cli(&["status", "--config", &server.config_arg()], None);
        assert!(ok, "{out} {err}");
        let line = out.lines().find(|line| line.contains("search index: ")).unwrap_or_else(|| panic!("{out}"));
        let after = &line[line.find("search index: ").unwrap() + "search index: ".len()..];
        after.split(' ').next().unwrap().parse().unwrap_or_else(|_| panic!("{line}"))
    };
    let started = std::time::Instant::now();
    let mut lowest = u64::MAX;
    // One more message every 2 s for 80 s: never 20 s of quiet.
    for number in 0..40 {
        client.append_ok("INBOX", &message(&format!("trickle {number}"), "more mail"));
        lowest = lowest.min(waiting(&server));
        if lowest < 256 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_secs(2));
    }
    assert!(lowest < 256, "{lowest} messages still waited {:.0?} after 300 arrived", started.elapsed());
}

/// The decoded byte offset in `encoded` (a QP or base64 body) at which
/// encoded byte `at` lies.
fn decoded_offset(encoded: &[u8], at: usize, base64: bool) -> usize {
    let mut decoded = 0;
    let mut sextets = 0;
    let mut index = 0;
    while index < at.min(encoded.len()) {
        match encoded[index] {
            b'\r' | b'\n' => index += 1,
            b'=' if !base64 && encoded.get(index + 1) == Some(&b'\r') => index += 3,
            b'=' if !base64 => {
                decoded += 1;
                index += 3;
            }
            _ if base64 => {
                sextets += 1;
                decoded = sextets * 3 / 4;
                index += 1;
            }
            _ => {
                decoded += 1;
                index += 1;
            }
        }
    }
    decoded
}

/// The scan reads a text part 64 KiB of encoded bytes at a time and the
/// index collects trigrams across the same pieces: needles that straddle
/// a piece boundary (in QP with soft breaks and encoded UTF-8, base64 and
/// raw 8-bit UTF-8 bodies of ~200 KiB) must be found by both.
#[test]
fn needles_across_piece_boundaries() {
    const PIECE: usize = 64 * 1024;
    let mut twins = Twins::start(&[]);
    let mut text = String::new();
    for word in 0..16_000 {
        text.push_str(&format!("w{word:05}{} ", ["é", "ß", "x", "ﬁ", "Ö"][word % 5]));
    }
    let bytes = text.as_bytes();
    let mut messages = Vec::new();
    let mut needles = Vec::new();
    for (encoding, body) in [
        ("quoted-printable", quoted_printable(bytes, 60)),
        ("base64", wrap76(&base64(bytes)).into_bytes()),
        ("8bit", bytes.to_vec()),
    ] {
        let mut boundary = PIECE;
        while boundary < body.len() {
            let decoded = match encoding {
                "8bit" => boundary,
                _ => decoded_offset(&body, boundary, encoding == "base64"),
            };
            // The character at that byte (or the one it is inside).
            let at = text.char_indices().take_while(|(offset, _)| *offset <= decoded).count();
            let chars: Vec<char> = text.chars().collect();
            for length in [3, 4, 7] {
                for start in at.saturating_sub(length + 2)..=at + 2 {
                    let needle: String = chars[start..start + length].iter().collect();
                    needles.push(needle.to_uppercase());
                }
            }
            boundary += PIECE;
        }
        messages.push(part_message(&format!("pieces {encoding}"), "text/plain; charset=utf-8", encoding, &body));
    }
    for index in 0..10 {
        messages.push(message(&format!("other {index}"), "w00001 and unrelated words"));
    }
    twins.append_all("INBOX", &messages);
    twins.select("INBOX");
    reindex(&twins.indexed, &[]);
    needles.sort();
    needles.dedup();
    let commands: Vec<String> = needles
        .iter()
        .flat_map(|needle| {
            let quoted = quote(needle);
            [format!("UID SEARCH CHARSET UTF-8 BODY {quoted}"), format!("UID SEARCH CHARSET UTF-8 TEXT {quoted}")]
        })
        .collect();
    let answers = twins.compare_all(&commands);
    // Every needle is in the text: the scan finds it in all three.
    for (command, answer) in commands.iter().zip(&answers) {
        assert!(answer[0].starts_with("* SEARCH 1 2 3"), "{command}: {answer:?}");
    }
    println!("{} needles across piece boundaries", needles.len());
}

/// Delivers `message` over LMTP (the Unix socket) to `recipients`; every
/// recipient must get it.
fn lmtp_deliver(server: &Server, recipients: &[&str], message: &[u8]) {
    use std::io::{BufRead, BufReader, Write};
    let stream = std::os::unix::net::UnixStream::connect(server.lmtp_socket()).expect("the LMTP socket");
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    let reply = |reader: &mut BufReader<std::os::unix::net::UnixStream>| {
        let mut last;
        loop {
            last = String::new();
            reader.read_line(&mut last).unwrap();
            if last.as_bytes().get(3) != Some(&b'-') {
                return last;
            }
        }
    };
    let expect = |writer: &mut std::os::unix::net::UnixStream, reader: &mut _, line: &str, code: &str| {
        if !line.is_empty() {
            writer.write_all(format!("{line}\r\n").as_bytes()).unwrap();
        }
        let answer = reply(reader);
        assert!(answer.starts_with(code), "{line:?} gave {answer:?}");
    };
    expect(&mut writer, &mut reader, "", "220");
    expect(&mut writer, &mut reader, "LHLO test.example", "250");
    expect(&mut writer, &mut reader, "MAIL FROM:<sender@example.org>", "250");
    for recipient in recipients {
        expect(&mut writer, &mut reader, &format!("RCPT TO:<{recipient}>"), "250");
    }
    expect(&mut writer, &mut reader, "DATA", "354");
    let mut data = Vec::new();
    for line in message.split_inclusive(|&byte| byte == b'\n') {
        if line.starts_with(b".") {
            data.push(b'.');
        }
        data.extend_from_slice(line);
    }
    if !data.ends_with(b"\r\n") {
        data.extend_from_slice(b"\r\n");
    }
    data.extend_from_slice(b".\r\n");
    writer.write_all(&data).unwrap();
    for _ in recipients {
        let answer = reply(&mut reader);
        assert!(answer.starts_with("250"), "DATA gave {answer:?}");
    }
}

/// Mail delivered over LMTP (one message to two users: one stored
/// message or two) waits for the index from the delivering transaction
/// and is then searched through it as the scan searches it.
#[test]
fn lmtp_delivery_is_indexed_and_answers_as_the_scan() {
    let mut twins = Twins::start(&[]);
    let messages: Vec<Vec<u8>> = kinds().into_iter().filter(|message| message.len() < 20_000).take(24).collect();
    for server in [&twins.indexed, &twins.scanned] {
        for message in &messages {
            lmtp_deliver(server, &["alice", "bob"], message);
        }
    }
    let check = check_clean(&twins.indexed);
    assert!(check.contains("0 message(s) in 0 segment(s)"), "{check}");
    let (ok, out, err) = run_cli(&["status", "--config", &twins.indexed.config_arg()], None);
    assert!(ok && !out.contains("search index: 0 message(s) waiting"), "{out} {err}");
    let commands: Vec<String> = searches().into_iter().filter(|search| search.contains("UID SEARCH CHARSET")).collect();
    for (user, password) in [("alice", "secret"), ("bob", "hunter2")] {
        twins.login(user, password);
        twins.select("INBOX");
        twins.compare_all(&commands);
    }
    reindex(&twins.indexed, &[]);
    let log_start = twins.indexed.log_text().len();
    for (user, password) in [("alice", "secret"), ("bob", "hunter2")] {
        twins.login(user, password);
        twins.select("INBOX");
        twins.compare_all(&commands);
    }
    assert!(twins.indexed.log_text()[log_start..].contains("candidate message(s)"));
    check_clean(&twins.indexed);
}

/// RFC 5267 live searches (CONTEXT=SEARCH/SORT) and RFC 9394 PARTIAL with
/// BODY/TEXT keys: the first answer and the updates that new mail (some
/// of it indexed already: COPY of indexed messages; some waiting: APPEND)
/// brings answer as the scan's.
#[test]
fn live_searches_and_partial_answer_as_the_scan() {
    let mut twins = Twins::start(&[]);
    let messages = kinds();
    twins.append_all("INBOX", &messages[..30]);
    twins.run_both("CREATE Other");
    twins.append_all("Other", &messages[..30]);
    reindex(&twins.indexed, &[]);
    twins.select("INBOX");
    let commands: Vec<String> = [
        "UID SEARCH RETURN (UPDATE) CHARSET UTF-8 BODY rosegarden",
        "SEARCH RETURN (UPDATE COUNT) CHARSET UTF-8 TEXT \"straße\"",
        "UID SORT RETURN (UPDATE ALL) (SUBJECT) UTF-8 BODY zeppelin",
        "UID SEARCH RETURN (PARTIAL 1:3) CHARSET UTF-8 BODY rosegarden",
        "UID SEARCH RETURN (PARTIAL -1:-2) CHARSET UTF-8 TEXT mailer",
    ]
    .iter()
    .map(|command| command.to_string())
    .collect();
    twins.compare_all(&commands);
    // New mail from another session: copies of indexed messages, and
    // new messages waiting for the indexer.
    for server in [&twins.indexed, &twins.scanned] {
        let mut other = server.login("alice", "secret");
        other.ok("SELECT Other");
        other.ok("UID COPY 1:12 INBOX");
        for message in &messages[30..] {
            other.append_ok("INBOX", message);
        }
        other.ok("LOGOUT");
    }
    let noop = twins.compare_all(&["NOOP".to_string()]);
    assert!(noop[0].iter().filter(|line| line.contains("ADDTO")).count() >= 2, "{noop:?}");
    twins.compare_all(&commands[3..]);
    twins.run_both("UID STORE 1:5 +FLAGS.SILENT (\\Deleted)");
    twins.compare_all(&["EXPUNGE".to_string(), "NOOP".to_string()]);
    twins.compare_all(&commands[3..]);
}
