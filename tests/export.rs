//! `roost export` (issue 16, item 5): a user's mailboxes as a Maildir++
//! tree Dovecot reads as it is, or as mbox files; exporting again writes
//! only what changed. Dovecot itself reads the tree in
//! tests/interop/dovecot_export.sh.

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use common::*;

/// `roost export --user alice --FORMAT DIR`; (success, stdout, stderr).
fn export(server: &Server, format: &str, dir: &Path) -> (bool, String, String) {
    let config = server.config_arg();
    run_cli(&["export", "--user", "alice", &format!("--{format}"), dir.to_str().unwrap(), "--config", &config], None)
}

fn export_ok(server: &Server, format: &str, dir: &Path) -> String {
    let (ok, stdout, stderr) = export(server, format, dir);
    assert!(ok, "roost export: {stderr}");
    stdout
}

fn status(client: &mut Client, mailbox: &str) -> BTreeMap<String, u64> {
    let untagged = client.ok(&format!("STATUS \"{mailbox}\" (UIDVALIDITY UIDNEXT MESSAGES)"));
    Responses::of(&untagged).one("STATUS").status_items()
}

/// A message with `lines` of body (CRLF), a From-line among them.
fn letter(subject: &str) -> Vec<u8> {
    message(subject, &format!("Hello,\r\nFrom here on: {subject}.\r\n>From quoted\r\nBye"))
}

/// The files of a Maildir folder's `cur/`: name → (inode, mtime).
fn files(folder: &Path) -> BTreeMap<String, (u64, i64)> {
    std::fs::read_dir(folder.join("cur"))
        .unwrap()
        .map(|entry| {
            let entry = entry.unwrap();
            let meta = entry.metadata().unwrap();
            (entry.file_name().into_string().unwrap(), (meta.ino(), meta.mtime()))
        })
        .collect()
}

/// A Maildir file name's parts: (stem, S=, W=, flag letters).
fn parts(name: &str) -> (String, u64, u64, String) {
    let (base, info) = name.split_once(":2,").expect("a :2, info");
    let mut fields = base.split(',');
    let stem = fields.next().unwrap().to_string();
    let (mut size, mut vsize) = (0, 0);
    for field in fields {
        if let Some(value) = field.strip_prefix("S=") {
            size = value.parse().unwrap();
        }
        if let Some(value) = field.strip_prefix("W=") {
            vsize = value.parse().unwrap();
        }
    }
    (stem, size, vsize, info.to_string())
}

/// `dovecot-uidlist`: (header fields, uid → file name).
fn uidlist(folder: &Path) -> (Vec<String>, BTreeMap<u32, String>) {
    let text = std::fs::read_to_string(folder.join("dovecot-uidlist")).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap().split(' ').map(String::from).collect();
    let records = lines
        .map(|line| {
            let (uid, name) = line.split_once(" :").unwrap();
            (uid.parse().unwrap(), name.to_string())
        })
        .collect();
    (header, records)
}

/// The number before `label` in an export's summary.
fn count(summary: &str, label: &str) -> u64 {
    let end = summary.find(label).unwrap_or_else(|| panic!("{label:?} in {summary}"));
    summary[..end].trim_end().rsplit(' ').next().unwrap().parse().unwrap()
}

fn export_dir(server: &Server, name: &str) -> PathBuf {
    server.dir.0.join(name)
}

/// Alice's mail for the tests: INBOX with two messages (one \Seen with an
/// old internal date, one \Flagged with a keyword), `Work/2024` with one,
/// `v1.2` (a dot in the name) with one; `Work/2024` subscribed.
fn alice_mail(server: &Server) -> Client {
    let mut alice = server.login("alice", "secret");
    let (_, tagged) = alice.append("INBOX", "(\\Seen) \"01-Jan-2020 10:00:00 +0000\"", &letter("one"));
    assert!(tagged.starts_with("OK"), "{tagged}");
    let (_, tagged) = alice.append("INBOX", "(\\Flagged $Work) \"15-Mar-2021 08:30:00 +0100\"", &letter("two"));
    assert!(tagged.starts_with("OK"), "{tagged}");
    alice.ok("CREATE Work/2024");
    alice.ok("SUBSCRIBE Work/2024");
    alice.append_ok("Work/2024", &letter("three"));
    alice.ok("CREATE v1.2");
    alice.append_ok("v1.2", &letter("four"));
    alice
}

#[test]
fn maildir_export_has_dovecots_names_flags_keywords_uids_and_dates() {
    let server = Server::start();
    let mut alice = alice_mail(&server);
    let inbox = status(&mut alice, "INBOX");
    alice.ok("SELECT INBOX");
    let dir = export_dir(&server, "maildir");
    let summary = export_ok(&server, "maildir", &dir);
    assert!(summary.contains("4 message(s) written"), "{summary}");

    // INBOX: the directory itself, messages in cur/ with flag letters.
    let inbox_files = files(&dir);
    assert_eq!(inbox_files.len(), 2, "{inbox_files:?}");
    let (header, records) = uidlist(&dir);
    assert_eq!(header, ["3", &format!("V{}", inbox["UIDVALIDITY"]), &format!("N{}", inbox["UIDNEXT"])]);
    assert_eq!(records.len(), 2);
    let keywords = std::fs::read_to_string(dir.join("dovecot-keywords")).unwrap();
    let letter_of = |keyword: &str| {
        let line = keywords.lines().find(|line| line.ends_with(&format!(" {keyword}"))).expect("keyword listed");
        char::from(b'a' + line.split(' ').next().unwrap().parse::<u8>().unwrap())
    };
    let expected =
        [("one", "S".to_string(), 1_577_872_800), ("two", format!("F{}", letter_of("$Work")), 1_615_793_400)];
    for ((uid, name), (subject, flags, date)) in records.iter().zip(expected) {
        assert!(inbox_files.contains_key(name), "uidlist names {name}, cur/ has {inbox_files:?}");
        let (stem, size, vsize, info) = parts(name);
        assert_eq!(info, flags, "{name}");
        assert!(stem.contains(&format!("U{uid}")), "{name}");
        let bytes = std::fs::read(dir.join("cur").join(name)).unwrap();
        assert_eq!(bytes, letter(subject), "the stored bytes, unchanged");
        assert_eq!((size, vsize), (bytes.len() as u64, bytes.len() as u64), "CRLF message: S = W = size");
        assert_eq!(inbox_files[name].1, date, "mtime is the internal date");
        // The bytes IMAP gives for that UID are the file's.
        let fetched = alice.ok(&format!("UID FETCH {uid} BODY.PEEK[]"));
        assert!(fetched.concat().contains(&String::from_utf8(bytes).unwrap()));
    }

    // Other mailboxes: .Name, hierarchy with dots, a dot in a name escaped.
    for (folder, subject) in [(".Work.2024", "three"), (".v1\\2e2", "four")] {
        let path = dir.join(folder);
        assert!(path.join("maildirfolder").exists(), "{folder} is a Maildir++ folder");
        let found = files(&path);
        assert_eq!(found.len(), 1, "{folder}: {found:?}");
        let name = found.keys().next().unwrap();
        assert_eq!(std::fs::read(path.join("cur").join(name)).unwrap(), letter(subject));
        assert_eq!(parts(name).3, "", "no flags");
    }
    let subscriptions = std::fs::read_to_string(dir.join("subscriptions")).unwrap();
    assert!(subscriptions.starts_with("V\t2\n\n"), "{subscriptions:?}");
    assert!(subscriptions.lines().any(|line| line == "Work\t2024"), "{subscriptions:?}");
    // Only alice's mail: bob's mailboxes are not there.
    assert!(!dir.join(".bob").exists());
}

#[test]
fn a_second_maildir_export_writes_only_what_changed() {
    let server = Server::start();
    let mut alice = alice_mail(&server);
    alice.ok("CREATE Gone");
    alice.append_ok("Gone", &letter("five"));
    let dir = export_dir(&server, "maildir");
    let mailboxes = count(&export_ok(&server, "maildir", &dir), "mailbox(es),");
    let inbox_before = files(&dir);
    let work_before = files(&dir.join(".Work.2024"));
    let renamed_before = files(&dir.join(".v1\\2e2"));

    // Nothing changed: nothing written, every mailbox skipped.
    let summary = export_ok(&server, "maildir", &dir);
    assert_eq!((count(&summary, "mailbox(es),"), count(&summary, "unchanged")), (mailboxes, mailboxes), "{summary}");
    assert_eq!(files(&dir), inbox_before);

    // A reader of the tree moved a file to new/ with other flags, and put
    // a file of its own: the first is found by its name's stem, the other
    // is no message of roost's and goes.
    let (moved, _) = inbox_before.iter().find(|(name, _)| parts(name).0.contains("U2.")).unwrap();
    let elsewhere = format!("{}:2,T", moved.split(':').next().unwrap());
    std::fs::rename(dir.join("cur").join(moved), dir.join("new").join(&elsewhere)).unwrap();
    std::fs::write(dir.join("cur").join("1276528487.M364837P9451.host,S=4:2,S"), b"x\r\n\r\n").unwrap();

    // One flag change, one new message, one expunge in INBOX; a renamed
    // and a deleted mailbox.
    alice.ok("SELECT INBOX");
    alice.ok("UID STORE 2 +FLAGS (\\Seen)");
    alice.ok("UID STORE 1 +FLAGS (\\Deleted)");
    alice.ok("EXPUNGE");
    let new_uid = alice.append_ok("INBOX", &letter("six"));
    alice.ok("RENAME v1.2 Old");
    alice.ok("DELETE Gone");
    let summary = export_ok(&server, "maildir", &dir);
    assert!(
        summary.contains("1 message(s) written, 1 renamed (flags), 2 removed; 1 mailbox(es) renamed, 1 removed"),
        "{summary}"
    );
    // INBOX and the renamed mailbox were looked at, the others not.
    let expected = (mailboxes - 1, mailboxes - 3);
    assert_eq!((count(&summary, "mailbox(es),"), count(&summary, "unchanged")), expected, "{summary}");

    let inbox_after = files(&dir);
    assert_eq!(inbox_after.len(), 2, "{inbox_after:?}");
    let (_, records) = uidlist(&dir);
    assert_eq!(records.keys().copied().collect::<Vec<_>>(), [2, new_uid], "expunged UID 1 is gone");
    let (old_name, (old_inode, old_mtime)) =
        inbox_before.iter().find(|(name, _)| parts(name).0.contains("U2.")).map(|(n, m)| (n.clone(), *m)).unwrap();
    let new_name = &records[&2];
    assert_eq!(parts(new_name).0, parts(&old_name).0, "same file, renamed");
    assert!(parts(new_name).3.contains('S'), "{new_name}");
    assert_eq!(inbox_after[new_name], (old_inode, old_mtime), "renamed, not written again");
    // Untouched mailboxes: same files, same inodes.
    assert_eq!(files(&dir.join(".Work.2024")), work_before);
    // A renamed mailbox's folder is moved, its files kept.
    assert!(!dir.join(".v1\\2e2").exists());
    assert_eq!(files(&dir.join(".Old")), renamed_before);
    assert!(!dir.join(".Gone").exists(), "a deleted mailbox's folder is removed");
}

#[test]
fn mbox_export_reads_back_and_is_rewritten_only_when_changed() {
    let server = Server::start();
    let mut alice = alice_mail(&server);
    alice.ok("SELECT INBOX");
    // A line that is a From_ line once quoted must come back as it was.
    let tricky = b"Subject: tricky\r\n\r\nFrom the start\r\n>>From deep\r\nno end".to_vec();
    alice.append_ok("INBOX", &tricky);
    let inbox = status(&mut alice, "INBOX");
    let dir = export_dir(&server, "mbox");
    export_ok(&server, "mbox", &dir);

    let text = std::fs::read_to_string(dir.join("INBOX")).unwrap();
    let messages = parse_mbox(&text);
    assert_eq!(messages.len(), 3, "{text}");
    let (from_line, headers, _) = &messages[0];
    assert_eq!(from_line, "From MAILER-DAEMON Wed Jan  1 10:00:00 2020");
    let base = format!("X-IMAPbase: {} {} $Work", inbox["UIDVALIDITY"], inbox["UIDNEXT"] - 1);
    assert!(headers.contains(&base), "{headers:?}");
    assert!(headers.contains(&"Status: RO".to_string()), "{headers:?}");
    assert!(headers.contains(&"X-UID: 1".to_string()), "{headers:?}");
    let (_, headers, _) = &messages[1];
    assert!(headers.contains(&"Status: O".to_string()), "{headers:?}");
    assert!(headers.contains(&"X-Status: F".to_string()), "{headers:?}");
    assert!(headers.contains(&"X-Keywords: $Work".to_string()), "{headers:?}");
    assert!(!headers.iter().any(|line| line.starts_with("X-IMAPbase")), "only on the first message");
    // Bytes back: the header lines without ours, then the body, with LF ends.
    for ((_, headers, body), original) in messages.iter().zip([letter("one"), letter("two"), tricky]) {
        let ours = ["Status:", "X-Status:", "X-Keywords:", "X-UID:", "X-IMAPbase:"];
        let theirs: Vec<&String> = headers.iter().filter(|line| !ours.iter().any(|o| line.starts_with(o))).collect();
        let mut rebuilt = theirs.iter().map(|line| format!("{line}\n")).collect::<String>();
        if let Some(body) = body {
            rebuilt.push('\n');
            rebuilt.push_str(body);
        }
        let mut expected = String::from_utf8(original).unwrap().replace("\r\n", "\n");
        if !expected.ends_with('\n') {
            expected.push('\n');
        }
        assert_eq!(rebuilt, expected);
    }
    assert!(dir.join("Work.sbd").join("2024").is_file());
    assert!(dir.join("v1.2").is_file());

    // Again without changes: no file is written again.
    let inode = |path: &Path| std::fs::metadata(path).unwrap().ino();
    let (inbox_inode, work_inode) = (inode(&dir.join("INBOX")), inode(&dir.join("Work.sbd/2024")));
    let summary = export_ok(&server, "mbox", &dir);
    assert!(summary.contains("0 message(s) written"), "{summary}");
    assert_eq!(inode(&dir.join("INBOX")), inbox_inode);
    // One flag change in INBOX: INBOX alone is rewritten.
    alice.ok("UID STORE 2 +FLAGS (\\Answered)");
    alice.ok("DELETE v1.2");
    let summary = export_ok(&server, "mbox", &dir);
    assert!(summary.contains("3 message(s) written"), "{summary}");
    assert!(summary.contains("1 removed"), "{summary}");
    assert_ne!(inode(&dir.join("INBOX")), inbox_inode);
    assert_eq!(inode(&dir.join("Work.sbd/2024")), work_inode);
    assert!(!dir.join("v1.2").exists());
    let text = std::fs::read_to_string(dir.join("INBOX")).unwrap();
    assert!(parse_mbox(&text)[1].1.contains(&"X-Status: AF".to_string()));
}

/// An mboxrd file's messages: (From_ line, header lines, body), one `>`
/// taken off every quoted From line, the blank line after each removed.
fn parse_mbox(text: &str) -> Vec<(String, Vec<String>, Option<String>)> {
    let mut messages = Vec::new();
    let mut current: Vec<&str> = Vec::new();
    let mut from_line = String::new();
    let mut flush = |from_line: &str, lines: &mut Vec<&str>| {
        if lines.is_empty() && from_line.is_empty() {
            return;
        }
        assert_eq!(lines.pop(), Some(""), "a blank line ends each message");
        let unquoted: Vec<String> = lines
            .iter()
            .map(|line| {
                let start = line.find(|c| c != '>').unwrap_or(line.len());
                if start > 0 && line[start..].starts_with("From ") {
                    line[1..].to_string()
                } else {
                    line.to_string()
                }
            })
            .collect();
        let split = unquoted.iter().position(String::is_empty);
        let headers = unquoted[..split.unwrap_or(unquoted.len())].to_vec();
        let body = split.map(|at| unquoted[at + 1..].iter().map(|line| format!("{line}\n")).collect());
        messages.push((from_line.to_string(), headers, body));
        lines.clear();
    };
    for line in text.split_inclusive('\n') {
        let line = line.strip_suffix('\n').expect("every line ends with LF");
        if line.starts_with("From ") {
            flush(&from_line, &mut current);
            from_line = line.to_string();
        } else {
            current.push(line);
        }
    }
    flush(&from_line, &mut current);
    messages
}

#[test]
fn export_works_with_the_server_stopped_and_refuses_what_it_must_not_touch() {
    let mut server = Server::start();
    alice_mail(&server).ok("LOGOUT");
    server.stop();
    let dir = export_dir(&server, "offline");
    let summary = export_ok(&server, "maildir", &dir);
    assert!(summary.contains("4 message(s) written"), "{summary}");
    assert_eq!(files(&dir).len(), 2);

    // A directory with other files in it is not an export: left alone.
    let foreign = export_dir(&server, "foreign");
    std::fs::create_dir_all(foreign.join("cur")).unwrap();
    std::fs::write(foreign.join("cur").join("mine"), b"keep me").unwrap();
    let (ok, _, stderr) = export(&server, "maildir", &foreign);
    assert!(!ok && stderr.contains("is not empty and holds no roost export"), "{stderr}");
    assert_eq!(std::fs::read(foreign.join("cur").join("mine")).unwrap(), b"keep me");
    // The other format into the same directory, or another user, is refused.
    let (ok, _, stderr) = export(&server, "mbox", &dir);
    assert!(!ok && stderr.contains("holds a maildir export"), "{stderr}");
    let config = server.config_arg();
    let (ok, _, stderr) =
        run_cli(&["export", "--user", "bob", "--maildir", dir.to_str().unwrap(), "--config", &config], None);
    assert!(!ok && stderr.contains("holds the export of user alice"), "{stderr}");
    let nowhere = export_dir(&server, "nobody");
    let (ok, _, stderr) =
        run_cli(&["export", "--user", "nobody", "--maildir", nowhere.to_str().unwrap(), "--config", &config], None);
    assert!(!ok && stderr.contains("no user \"nobody\""), "{stderr}");
    assert!(!nowhere.exists(), "nothing made for a user who does not exist");
    let (ok, _, stderr) = run_cli(&["export", "--user", "alice", "--config", &config], None);
    assert!(!ok && stderr.contains("one of --maildir DIR and --mbox DIR"), "{stderr}");
}
