//! Export then import (issue 16): what `roost export` writes, `roost
//! import` reads back identically — every mailbox, message bytes, flags,
//! keywords and internal dates — for both formats, and importing the same
//! export again stores nothing twice.

mod common;

use std::collections::BTreeMap;

use common::*;

/// Alice's mail: nested and non-ASCII mailbox names, every system flag
/// but \Recent, keywords, internal dates from several zones, a body with
/// "From " lines (mbox quoting) and bare 8-bit UTF-8 text.
fn seed(server: &Server) {
    let mut alice = server.login("alice", "secret");
    for name in ["Work", "Work/Reports", "Caf&AOk-", "Old.Letters"] {
        alice.ok(&format!("CREATE \"{name}\""));
    }
    let messages: [(&str, &str, &str, String); 6] = [
        ("INBOX", "(\\Seen)", "17-Jul-1996 02:44:25 -0700", String::from_utf8(message("hello", "first")).unwrap()),
        (
            "INBOX",
            "(\\Flagged $Forwarded Project)",
            " 7-Jul-2020 23:05:00 +0130",
            String::from_utf8(message("kw", "keywords")).unwrap(),
        ),
        (
            "INBOX",
            "()",
            "01-Jan-2025 00:00:00 +0000",
            "Subject: quoting\r\n\r\nFrom the start\r\n>From quoted once\r\n>>From twice\r\nFrom \r\n".to_string(),
        ),
        (
            "Work/Reports",
            "(\\Answered \\Draft)",
            "29-Feb-2024 12:00:00 +0000",
            String::from_utf8(message("report", "numbers")).unwrap(),
        ),
        (
            "Caf&AOk-",
            "(\\Seen \\Deleted)",
            "31-Dec-1999 23:59:59 -1200",
            "Subject: caf\u{e9}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nna\u{ef}ve caf\u{e9}\r\n".to_string(),
        ),
        (
            "Old.Letters",
            "(Important)",
            "02-Mar-2001 10:00:00 +0000",
            String::from_utf8(message("old", "letter")).unwrap(),
        ),
    ];
    for (mailbox, flags, date, text) in messages {
        let (_, tagged) = alice.append(mailbox, &format!("{flags} \"{date}\""), text.as_bytes());
        assert!(tagged.contains("OK"), "APPEND {mailbox}: {tagged}");
    }
    alice.shutdown();
}

/// An INTERNALDATE ("17-Jul-1996 02:44:25 -0700") as unix seconds: an
/// export keeps the moment, not the zone it was written in (a Maildir
/// file's mtime, an mbox From_ line, have none).
fn unix_time(text: &str) -> i64 {
    let text = text.trim();
    let (date, rest) = text.split_once(' ').unwrap();
    let (time, zone) = rest.split_once(' ').unwrap();
    let mut parts = date.split('-');
    let day: i64 = parts.next().unwrap().trim().parse().unwrap();
    let month_name = parts.next().unwrap();
    let month = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        .iter()
        .position(|name| *name == month_name)
        .unwrap() as i64
        + 1;
    let year: i64 = parts.next().unwrap().parse().unwrap();
    let clock: Vec<i64> = time.split(':').map(|part| part.parse().unwrap()).collect();
    // Days from the civil date (Howard Hinnant's algorithm).
    let (y, m) = if month <= 2 { (year - 1, month + 9) } else { (year, month - 3) };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let sign = if zone.starts_with('-') { -1 } else { 1 };
    let offset = sign * (zone[1..3].parse::<i64>().unwrap() * 3600 + zone[3..5].parse::<i64>().unwrap() * 60);
    days * 86_400 + clock[0] * 3600 + clock[1] * 60 + clock[2] - offset
}

/// Mailbox → [(bytes, flags, internal date)] of `user`, in UID order.
fn contents(server: &Server, user: &str, password: &str) -> BTreeMap<String, Vec<(String, String, i64)>> {
    let mut client = server.login(user, password);
    let listed = client.ok("LIST \"\" *");
    let mut all = BTreeMap::new();
    for line in listed {
        let name = line.rsplit_once(" \"/\" ").map(|(_, name)| name.trim_matches('"').to_string()).unwrap();
        if line.contains("\\Noselect") || name.starts_with("Shared") || name.starts_with("Family") {
            continue;
        }
        client.ok(&format!("EXAMINE \"{name}\""));
        let mut messages = Vec::new();
        for response in
            client.ok("FETCH 1:* (FLAGS INTERNALDATE BODY.PEEK[])").iter().filter(|line| line.contains(" FETCH "))
        {
            let mut flags: Vec<_> = flags_in_fetch(response).into_iter().filter(|flag| flag != "\\Recent").collect();
            flags.sort();
            messages.push((item(response, "BODY[]"), flags.join(" "), unix_time(&item(response, "INTERNALDATE"))));
        }
        all.insert(name, messages);
    }
    client.shutdown();
    all
}

fn round_trip(format: &str) {
    let server = Server::start_with(Options { users: vec![("alice", "secret"), ("bob", "b0b")], ..Default::default() });
    seed(&server);
    let dir = TempDir::new("export");
    let target = dir.0.join("out");
    let config = server.config_arg();
    let target_text = target.display().to_string();
    let (ok, _, stderr) = run_cli(&["export", "--config", &config, "--user", "alice", format, &target_text], None);
    assert!(ok, "export: {stderr}");
    let (ok, stdout, stderr) = run_cli(&["import", "--config", &config, "--user", "bob", format, &target_text], None);
    assert!(ok, "import: {stdout} {stderr}");
    let mut expected = contents(&server, "alice", "secret");
    let imported = contents(&server, "bob", "b0b");
    // Bob's own empty special-use mailboxes exist whether or not they were exported.
    expected.retain(|_, messages| !messages.is_empty());
    let imported_nonempty: BTreeMap<_, _> =
        imported.clone().into_iter().filter(|(_, messages)| !messages.is_empty()).collect();
    assert_eq!(imported_nonempty, expected, "{format}");
    // Again: nothing stored twice.
    let (ok, stdout, stderr) = run_cli(&["import", "--config", &config, "--user", "bob", format, &target_text], None);
    assert!(ok, "import again: {stdout} {stderr}");
    assert_eq!(contents(&server, "bob", "b0b"), imported, "{format}: the second import changed something");
}

#[test]
fn maildir_export_imports_back_identically() {
    round_trip("--maildir");
}

#[test]
fn mbox_export_imports_back_identically() {
    round_trip("--mbox");
}
