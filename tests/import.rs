//! `roost import` (issue 16, item 5): Maildir and mbox sources into a
//! user's mailboxes with flags, keywords and dates, through the running
//! server and with it stopped; importing twice stores nothing twice;
//! broken input is reported and loses nothing else.

mod common;

use std::path::Path;
use std::time::{Duration, SystemTime};

use common::*;

/// `roost import WORDS... --config` against `server`'s configuration.
fn import(server: &Server, words: &[&str]) -> (bool, String, String) {
    let config = server.config_arg();
    let mut all = vec!["import", "--config", config.as_str()];
    all.extend_from_slice(words);
    run_cli(&all, None)
}

fn import_ok(server: &Server, words: &[&str]) -> String {
    let (ok, stdout, stderr) = import(server, words);
    assert!(ok, "roost import {}: {stdout}\n{stderr}", words.join(" "));
    stdout
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

/// Writes a file with its modification time set to `unix`.
fn write_at(path: &Path, bytes: &[u8], unix: u64) {
    write(path, bytes);
    let file = std::fs::File::options().write(true).open(path).unwrap();
    file.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(unix)).unwrap();
}

/// Each message of `mailbox` as FETCH gives it (FLAGS, INTERNALDATE,
/// RFC822.SIZE and the whole message, inline).
fn messages(client: &mut Client, mailbox: &str) -> Vec<String> {
    client.ok(&format!("SELECT \"{mailbox}\""));
    client
        .ok("FETCH 1:* (FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])")
        .into_iter()
        .filter(|line| line.contains("FETCH"))
        .collect()
}

fn count(client: &mut Client, mailbox: &str) -> usize {
    let status = client.ok(&format!("STATUS \"{mailbox}\" (MESSAGES)"));
    let line = status.iter().find(|line| line.contains("MESSAGES")).expect("STATUS line");
    line.rsplit("MESSAGES ").next().unwrap().trim_end_matches(')').parse().unwrap()
}

/// A Dovecot-style Maildir: flags and keyword letters in the names, the
/// keyword names in dovecot-keywords, a file in new/, a folder whose
/// name is modified UTF-7, and two files that are not mail.
fn dovecot_maildir(root: &Path) {
    write(&root.join("dovecot-keywords"), b"0 $Junk\n1 work\n");
    write(&root.join("dovecot-uidlist"), b"3 V1700000000 N4\n1 :1700000002.b\n2 :1700000001.a\n");
    write_at(
        &root.join("cur/1700000001.a:2,FSa"),
        b"Subject: flagged\nFrom: a@example.org\n\nline one\nline two\n",
        1_600_000_000,
    );
    write_at(&root.join("cur/1700000002.b:2,RSb"), b"Subject: answered\r\n\r\nbody\r\n", 1_500_000_000);
    write_at(&root.join("new/1700000003.c"), b"Subject: new\n\nunread\n", 1_650_000_000);
    write(&root.join("tmp/1700000004.d"), b"Subject: half written\n\n");
    write_at(&root.join(".Lists.Caf&AOk-/cur/1700000005.e:2,S"), b"Subject: in a folder\n\nx\n", 1_400_000_000);
    write(&root.join(".Lists.Caf&AOk-/dovecot-keywords"), b"");
    write(&root.join("cur/1700000006.empty:2,S"), b"");
    write(&root.join("cur/1700000007.binary:2,S"), b"\x7fELF\x02\x01\x01\x00binary");
}

#[test]
fn maildir_keeps_flags_keywords_dates_and_folders() {
    let server = Server::start();
    let source = TempDir::new("maildir");
    dovecot_maildir(&source.0);
    let (ok, stdout, stderr) = import(&server, &["--user", "alice", "--maildir", source.0.to_str().unwrap()]);
    // The two broken files fail, are named, and cost nothing else.
    assert!(!ok, "{stdout}\n{stderr}");
    assert!(stderr.contains("imported 4, skipped 0 (already there), failed 2"), "{stderr}");
    assert!(stderr.contains("1700000006.empty:2,S: empty"), "{stderr}");
    assert!(stderr.contains("1700000007.binary:2,S: not a mail message"), "{stderr}");
    let mut client = server.login("alice", "secret");
    let inbox = messages(&mut client, "INBOX");
    assert_eq!(inbox.len(), 3, "{inbox:#?}");
    // dovecot-uidlist order: b (UID 1 there) before a.
    assert!(inbox[0].contains("Subject: answered"), "{inbox:#?}");
    assert!(inbox[0].contains("\\Answered") && inbox[0].contains("\\Seen") && inbox[0].contains("work"));
    assert!(!inbox[0].contains("$Junk"), "{}", inbox[0]);
    assert!(inbox[0].contains("INTERNALDATE \"14-Jul-2017 02:40:00 +0000\""), "{}", inbox[0]);
    assert!(inbox[1].contains("Subject: flagged") && inbox[1].contains("\\Flagged") && inbox[1].contains("$Junk"));
    assert!(inbox[1].contains("INTERNALDATE \"13-Sep-2020 12:26:40 +0000\""), "{}", inbox[1]);
    // Bare LF made CRLF, as APPEND makes it.
    assert!(inbox[1].contains("line one\r\nline two\r\n"), "{}", inbox[1]);
    assert!(inbox[1].contains("RFC822.SIZE 61"), "{}", inbox[1]);
    assert!(inbox[2].contains("Subject: new") && inbox[2].contains("FLAGS (\\Recent)"), "{}", inbox[2]);
    let folder = messages(&mut client, "Lists/Caf&AOk-");
    assert_eq!(folder.len(), 1);
    assert!(folder[0].contains("\\Seen") && folder[0].contains("Subject: in a folder"));
    // tmp/ is not mail yet.
    assert!(!inbox.iter().any(|message| message.contains("half written")));
}

#[test]
fn importing_twice_stores_nothing_twice_and_deleted_mail_stays_deleted() {
    let mut server = Server::start();
    let source = TempDir::new("maildir-twice");
    dovecot_maildir(&source.0);
    std::fs::remove_file(source.0.join("cur/1700000006.empty:2,S")).unwrap();
    std::fs::remove_file(source.0.join("cur/1700000007.binary:2,S")).unwrap();
    let path = source.0.to_str().unwrap();
    // First with the server stopped (the database directly) ...
    server.stop();
    let first = import_ok(&server, &["--user", "alice", "--maildir", path]);
    assert!(first.contains("imported 4, skipped 0"), "{first}");
    server.spawn();
    // ... then through the running server: the same digests.
    let second = import_ok(&server, &["--user", "alice", "--maildir", path]);
    assert!(second.contains("imported 0, skipped 4"), "{second}");
    let mut client = server.login("alice", "secret");
    assert_eq!(count(&mut client, "INBOX"), 3);
    assert_eq!(count(&mut client, "Lists/Caf&AOk-"), 1);
    // A deleted message is not brought back by the next import.
    client.ok("SELECT INBOX");
    client.ok("STORE 1 +FLAGS (\\Deleted)");
    client.ok("EXPUNGE");
    // One more message in the source is all the next import adds.
    write_at(&source.0.join("cur/1700000008.f:2,"), b"Subject: later\n\nnew mail\n", 1_700_000_000);
    let third = import_ok(&server, &["--user", "alice", "--maildir", path]);
    assert!(third.contains("imported 1, skipped 4"), "{third}");
    assert_eq!(count(&mut client, "INBOX"), 3);
    // Into another mailbox, everything is new there.
    let elsewhere = import_ok(&server, &["--user", "alice", "--maildir", path, "--into", "Old"]);
    assert!(elsewhere.contains("imported 5, skipped 0"), "{elsewhere}");
    assert_eq!(count(&mut client, "Old/INBOX"), 4);
    assert_eq!(count(&mut client, "Old/Lists/Caf&AOk-"), 1);
    // A deleted mailbox forgets its imports: made again, it fills again.
    client.ok("DELETE Old/INBOX");
    let refilled = import_ok(&server, &["--user", "alice", "--maildir", path, "--into", "Old"]);
    assert!(refilled.contains("imported 4, skipped 1"), "{refilled}");
    assert_eq!(count(&mut client, "Old/INBOX"), 4);
}

/// An mbox as Dovecot, mutt and Google Takeout write them: mboxrd
/// quoting, state headers, LF and CRLF, a message without any date.
const MBOX: &[u8] = b"From alice@example.org Sat Jan  3 01:05:34 1996\n\
Date: Fri, 2 Jan 1996 10:00:00 +0100\n\
Status: RO\n\
X-Status: AF\n\
X-Keywords: $Junk work\n\
X-UID: 7\n\
Content-Length: 99\n\
Subject: quoted\n\
\n\
From the start of a line\n\
>From already quoted once\n\
the end\n\
\n\
From 1685367394417834567@xxx Mon May 29 14:38:21 +0000 2023\r\n\
X-Gmail-Labels: Inbox\r\n\
Subject: takeout\r\n\
\r\n\
crlf body\r\n\
\r\n\
From nobody\n\
Subject: no date at all\n\
\n\
undated\n\
\n\
From nobody\n\
Date: Tue, 4 Feb 2020 05:06:07 -0800\n\
Subject: date header only\n\
\n\
dated by its header\n";

#[test]
fn mbox_unquotes_reads_state_and_dates_with_the_server_stopped() {
    let mut server = Server::start();
    let source = TempDir::new("mbox");
    let file = source.0.join("Takeout.mbox");
    // Each body line starting "From " or ">From " is quoted once more.
    let quoted = String::from_utf8_lossy(MBOX)
        .replace("\nFrom the start", "\n>From the start")
        .replace("\n>From already", "\n>>From already");
    write(&file, quoted.as_bytes());
    server.stop();
    let before = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs() as i64;
    let out = import_ok(&server, &["--user", "alice", "--mbox", file.to_str().unwrap()]);
    assert!(out.contains("imported 4, skipped 0"), "{out}");
    server.spawn();
    let mut client = server.login("alice", "secret");
    // The file's stem names the mailbox.
    let all = messages(&mut client, "Takeout");
    assert_eq!(all.len(), 4, "{all:#?}");
    let first = &all[0];
    assert!(first.contains("From the start of a line\r\n>From already quoted once\r\nthe end\r\n"), "{first}");
    for removed in ["Status:", "X-Status:", "X-Keywords:", "X-UID:", "Content-Length:"] {
        assert!(!first.contains(removed), "{removed} kept: {first}");
    }
    assert!(first.contains("\\Seen") && first.contains("\\Answered") && first.contains("\\Flagged"), "{first}");
    assert!(first.contains("$Junk") && first.contains("work"), "{first}");
    // The From line's date wins over Date:.
    assert!(first.contains("INTERNALDATE \" 3-Jan-1996 01:05:34 +0000\""), "{first}");
    assert!(all[1].contains("INTERNALDATE \"29-May-2023 14:38:21 +0000\"") && all[1].contains("crlf body\r\n"));
    assert!(all[1].contains("X-Gmail-Labels: Inbox"), "{}", all[1]);
    assert!(all[1].contains("FLAGS (\\Recent)"), "{}", all[1]);
    // No date anywhere: now.
    let undated = &all[2];
    assert!(undated.contains("no date at all"), "{undated}");
    let year = undated.split("INTERNALDATE \"").nth(1).unwrap()[7..11].parse::<i64>().unwrap();
    assert!(year >= 1970 + before / 31_557_600 - 1, "{undated}");
    assert!(all[3].contains("INTERNALDATE \" 4-Feb-2020 05:06:07 -0800\""), "{}", all[3]);
    // Nothing twice, also for the undated one.
    client.shutdown();
    let again = import_ok(&server, &["--user", "alice", "--mbox", file.to_str().unwrap()]);
    assert!(again.contains("imported 0, skipped 4"), "{again}");
}

#[test]
fn thunderbird_local_folders_become_a_tree() {
    let server = Server::start();
    let source = TempDir::new("thunderbird");
    let root = &source.0;
    let message = |subject: &str| {
        format!("From - Sat Jan  3 01:05:34 1996\nX-Mozilla-Status: 0001\nSubject: {subject}\n\nbody\n\n")
    };
    write(&root.join("Inbox"), message("in the inbox").as_bytes());
    write(&root.join("Inbox.msf"), b"// <!-- <mdb:mork:z v=\"1.4\"/> -->");
    write(&root.join("Archives"), message("archived").as_bytes());
    write(&root.join("Archives.sbd/2023"), format!("{}{}", message("one"), message("two")).as_bytes());
    write(&root.join("Archives.sbd/2023.msf"), b"index");
    write(&root.join("Templates"), b"");
    write(&root.join("popstate.dat"), b"# POP3 State File");
    write(&root.join("notes"), b"This is not mail.\n");
    // Dovecot's mbox tree (a plain directory) and `roost export`'s state.
    write(&root.join("Lists/rust"), message("plain directory").as_bytes());
    write(&root.join("roost-export.state"), b"state of an export\n");
    let (ok, stdout, stderr) = import(&server, &["--user", "alice", "--mbox", root.to_str().unwrap()]);
    assert!(!ok, "{stdout}{stderr}");
    assert!(stderr.contains("imported 5, skipped 0 (already there), failed 1"), "{stderr}");
    assert!(stderr.contains("notes: not an mbox file"), "{stderr}");
    assert!(!stderr.contains("roost-export.state"), "{stderr}");
    assert!(stderr.contains("Templates: empty"), "{stderr}");
    let mut client = server.login("alice", "secret");
    assert_eq!(count(&mut client, "INBOX"), 1);
    assert_eq!(count(&mut client, "Archives"), 1);
    assert_eq!(count(&mut client, "Archives/2023"), 2);
    assert_eq!(count(&mut client, "Templates"), 0);
    assert_eq!(count(&mut client, "Lists/rust"), 1);
    let list = client.ok("LIST \"\" *").join("\n");
    assert!(!list.contains("msf") && !list.contains("notes") && !list.contains("popstate"), "{list}");
    let subscribed = client.ok("LSUB \"\" *").join("\n");
    assert!(subscribed.contains("Archives/2023") && subscribed.contains("Templates"), "{subscribed}");
    // Thunderbird's read bit is \Seen.
    assert!(messages(&mut client, "Archives/2023")[0].contains("\\Seen"));
}

#[test]
fn an_mbox_file_goes_where_into_says_and_bad_input_is_refused_clearly() {
    let server = Server::start();
    let source = TempDir::new("mbox-into");
    let file = source.0.join("anything");
    write(&file, b"From x Sat Jan  3 01:05:34 1996\nSubject: cut\n\nhalf a li");
    let (ok, stdout, stderr) =
        import(&server, &["--user", "alice", "--mbox", file.to_str().unwrap(), "--into", "Saved/Old"]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("imported 1") && stdout.contains("the file ends inside its body"), "{stdout}");
    let mut client = server.login("alice", "secret");
    assert!(messages(&mut client, "Saved/Old")[0].contains("half a li"));
    // The same message twice in one file (one batch) is stored once.
    let twice = source.0.join("twice");
    let one = b"From x Sat Jan  3 01:05:34 1996\nSubject: same\n\nbody\n\n";
    write(&twice, &[&one[..], &one[..]].concat());
    let out = import_ok(&server, &["--user", "alice", "--mbox", twice.to_str().unwrap()]);
    assert!(out.contains("imported 1, skipped 1"), "{out}");
    assert_eq!(count(&mut client, "twice"), 1);
    let cases: [(&[&str], &str); 5] = [
        (&["--user", "nobody", "--mbox", file.to_str().unwrap()], "no user \"nobody\""),
        (&["--user", "alice"], "give one of --maildir DIR and --mbox FILE_OR_DIR"),
        (&["--user", "alice", "--maildir", source.0.to_str().unwrap()], "is not a Maildir"),
        (&["--user", "alice", "--mbox", "/nonexistent/file"], "/nonexistent/file"),
        (
            &["--user", "alice", "--mbox", file.to_str().unwrap(), "--into", "Shared/bob/x"],
            "shared or public namespace",
        ),
    ];
    for (words, expected) in cases {
        let (ok, _, stderr) = import(&server, words);
        assert!(!ok && stderr.contains(expected), "roost import {}: {stderr}", words.join(" "));
    }
}

#[test]
fn a_refusal_by_the_store_stops_the_import_and_says_how_far_it_got() {
    let mut server = Server::start();
    let source = TempDir::new("mbox-full");
    let file = source.0.join("inbox");
    write(&file, MBOX);
    let path = file.to_str().unwrap();
    server.stop();
    // A disk "full" below the reserve: the store refuses to grow (as it
    // refuses over-quota mail), so the first message is refused.
    let config = std::fs::read_to_string(&server.config).unwrap();
    let full = config.replace("[limits]\n", "[limits]\nmin_free_disk = 1000000000000000000\n");
    std::fs::write(&server.config, &full).unwrap();
    let (ok, stdout, stderr) = import(&server, &["--user", "alice", "--mbox", path]);
    assert!(!ok, "{stdout}");
    assert!(stderr.contains("imported 0, skipped 0 (already there), failed 0"), "{stderr}");
    assert!(stderr.contains("stopped: at ") && stderr.contains("not enough disk space"), "{stderr}");
    // With room again, the same command imports everything, once.
    std::fs::write(&server.config, &config).unwrap();
    let out = import_ok(&server, &["--user", "alice", "--mbox", path]);
    assert!(out.contains("imported 4, skipped 0"), "{out}");
    server.spawn();
    let mut client = server.login("alice", "secret");
    assert_eq!(count(&mut client, "INBOX"), 4);
    server.stop();
    let check = run_cli(&["check", "--config", &server.config_arg()], None);
    assert!(check.0, "{}{}", check.1, check.2);
}

#[test]
fn a_refusal_through_the_running_server_is_told_with_its_reason() {
    let mut server = Server::start();
    let source = TempDir::new("mbox-full-running");
    let file = source.0.join("inbox");
    write(&file, MBOX);
    server.stop();
    let config = std::fs::read_to_string(&server.config).unwrap();
    let full = config.replace("[limits]\n", "[limits]\nmin_free_disk = 1000000000000000000\n");
    std::fs::write(&server.config, &full).unwrap();
    server.spawn();
    let (ok, stdout, stderr) = import(&server, &["--user", "alice", "--mbox", file.to_str().unwrap()]);
    assert!(!ok, "{stdout}");
    assert!(stderr.contains("stopped: ") && stderr.contains("not enough disk space"), "{stderr}");
    assert!(!stderr.contains("Broken pipe"), "{stderr}");
    let mut client = server.login("alice", "secret");
    assert_eq!(count(&mut client, "INBOX"), 0);
}
