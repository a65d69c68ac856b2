//! The household's mailboxes and mail into them (issue 15): `roost public
//! create|list|del` through the running server, checked with GETACL over
//! IMAP; LMTP routes (`[[lmtp.route]]`) and `roost deliver --mailbox`
//! into public and shared mailboxes, which need `p` for `anyone`.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};

use common::*;

const ROUTES: &str = "[[lmtp.route]]\naddress = \"bills@home.example\"\nmailbox = \"Family/Bills\"\n\
                      [[lmtp.route]]\naddress = \"school\"\nmailbox = \"Shared/mom/School\"\n\
                      [[lmtp.route]]\naddress = \"nothing@home.example\"\nmailbox = \"Family/Nothing\"\n";

fn family_with(extra_tables: &str) -> Server {
    Server::start_with(Options {
        users: vec![("mom", "m0m"), ("dad", "d4d"), ("tom", "t0m")],
        extra_tables: extra_tables.into(),
        ..Default::default()
    })
}

/// `roost public WORDS...`: (success, stdout, stderr).
fn public(server: &Server, words: &[&str]) -> (bool, String, String) {
    let config = server.config_arg();
    let mut arguments = vec!["public"];
    arguments.extend_from_slice(words);
    arguments.extend_from_slice(&["--config", &config]);
    run_cli(&arguments, None)
}

/// `roost public WORDS...`, which must succeed: its output.
fn public_ok(server: &Server, words: &[&str]) -> String {
    let (ok, stdout, stderr) = public(server, words);
    assert!(ok, "roost public {}: {stderr}", words.join(" "));
    stdout
}

/// GETACL's one line.
fn acl(client: &mut Client, mailbox: &str) -> String {
    let untagged = client.ok(&format!("GETACL {mailbox}"));
    assert_eq!(untagged.len(), 1, "{untagged:?}");
    untagged[0].clone()
}

/// One LMTP conversation over the Unix socket: each line sent in turn
/// (a line "." ends DATA and reads as many replies as `recipients`); the
/// last line of each reply.
fn lmtp(server: &Server, lines: &[&str], recipients: usize) -> Vec<String> {
    let stream = UnixStream::connect(server.lmtp_socket()).unwrap();
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    let mut read_reply = || loop {
        let mut line = String::new();
        assert!(reader.read_line(&mut line).unwrap() > 0, "the server closed the connection");
        if line.as_bytes().get(3) != Some(&b'-') {
            return line.trim_end().to_string();
        }
    };
    let greeting = read_reply();
    assert!(greeting.starts_with("220 "), "{greeting}");
    let mut replies = Vec::new();
    let mut in_data = false;
    for line in lines {
        writer.write_all(format!("{line}\r\n").as_bytes()).unwrap();
        match *line {
            "." if in_data => {
                replies.extend((0..recipients).map(|_| read_reply()));
                in_data = false;
            }
            _ if in_data => {}
            _ => {
                replies.push(read_reply());
                in_data = *line == "DATA";
            }
        }
    }
    replies
}

/// A whole LMTP transaction to `to`: the replies after LHLO and MAIL.
fn send_to(server: &Server, to: &[&str], subject: &str) -> Vec<String> {
    let mut lines = vec!["LHLO test.example".to_string(), "MAIL FROM:<school@example.org>".to_string()];
    lines.extend(to.iter().map(|address| format!("RCPT TO:<{address}>")));
    let accepted = lmtp(server, &lines.iter().map(String::as_str).collect::<Vec<_>>(), 0);
    let refused = accepted.iter().skip(2).any(|reply| !reply.starts_with("250"));
    if refused {
        return accepted[2..].to_vec();
    }
    let subject = format!("Subject: {subject}");
    lines.extend(["DATA".to_string(), subject, String::new(), "hello".into(), ".".into()]);
    let replies = lmtp(server, &lines.iter().map(String::as_str).collect::<Vec<_>>(), to.len());
    replies[2 + to.len() + 1..].to_vec()
}

/// `roost deliver ARGUMENTS` with a small message: its exit code and stderr.
fn deliver(server: &Server, arguments: &[&str]) -> (i32, String) {
    let mut child = Command::new(BINARY)
        .arg("deliver")
        .args(arguments)
        .args(["--config", &server.config_arg()])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let _ = child.stdin.take().unwrap().write_all(b"Subject: piped\n\nhello\n");
    let output = child.wait_with_output().unwrap();
    (output.status.code().unwrap_or(-1), String::from_utf8_lossy(&output.stderr).into_owned())
}

/// The messages of a mailbox `client` selects, and the stored flags of
/// its first (\Recent, a session's, left out).
fn selected(client: &mut Client, mailbox: &str) -> (u32, Option<String>) {
    let untagged = client.ok(&format!("EXAMINE {mailbox}"));
    let exists = untagged.iter().find_map(|line| line.strip_prefix("* ")?.strip_suffix(" EXISTS")?.parse().ok());
    let exists = exists.expect("an EXISTS line");
    let flags = (exists > 0).then(|| {
        let fetched = client.ok("FETCH 1 (FLAGS)");
        let flags = fetch_items(fetch_of(&fetched, 1)).into_iter().find(|(name, _)| name == "FLAGS").unwrap().1;
        flags.replace("\\Recent", "").replace("( ", "(").replace(" )", ")")
    });
    client.ok("CLOSE");
    (exists, flags)
}

#[test]
fn public_create_gives_the_default_rights_and_for_replaces_entries() {
    let server = family_with("");
    // The default ([acl] public_default_rights unset): authenticated lrs.
    let created = public_ok(&server, &["create", "Bills"]);
    assert!(created.contains("created Family/Bills: authenticated lrs"), "{created}");
    assert!(created.contains("nobody is subscribed"), "{created}");
    let output = public_ok(
        &server,
        &["create", "Family/Newsletter", "--for", "Mom:lrswipkxtea", "--for", "dad:lrswicd", "--for", "anyone:p"],
    );
    assert!(output.contains("created Family/Newsletter: mom lrswipkxtea, dad lrswikxte, authenticated lrs, anyone p"));
    // `WHO:` drops WHO's entry of the default.
    public_ok(&server, &["create", "Secret", "--for", "authenticated:", "--for", "mom:lra", "--for", "-tom:l"]);
    let mut mom = server.login("mom", "m0m");
    assert_eq!(
        acl(&mut mom, "Family/Newsletter"),
        "* ACL \"Family/Newsletter\" mom lrswipkxteacd dad lrswikxtecd authenticated lrs anyone p"
    );
    assert_eq!(acl(&mut mom, "Family/Secret"), "* ACL \"Family/Secret\" mom lra -tom l");
    // No owner: nobody has what the ACL does not give.
    assert_eq!(mom.no("GETACL Family/Bills"), "NO [NOPERM] You may not administer this mailbox (no \"a\" right)");
    let mut tom = server.login("tom", "t0m");
    assert_eq!(tom.ok("MYRIGHTS Family/Bills"), ["* MYRIGHTS \"Family/Bills\" lrs"]);
    assert_eq!(tom.no("MYRIGHTS Family/Secret"), tom.no("MYRIGHTS Family/Never"));
    let list = public_ok(&server, &["list"]);
    assert!(list.contains("Family/Bills: authenticated lrs"), "{list}");
    assert!(list.contains("Family/Secret: mom lra, -tom l"), "{list}");
    // Mom administers Newsletter over IMAP: no owner row to keep.
    mom.ok("SETACL Family/Newsletter tom lr");
    mom.ok("DELETEACL Family/Newsletter authenticated");
    assert_eq!(
        acl(&mut mom, "Family/Newsletter"),
        "* ACL \"Family/Newsletter\" mom lrswipkxteacd dad lrswikxtecd tom lr anyone p"
    );
    // Refusals say why, and create nothing.
    for (words, expected) in [
        (&["create", "Bills"][..], "Family/Bills: mailbox already exists"),
        (&["create", "Chores", "--for", "grandma:lr"], "no user \"grandma\""),
        (&["create", "Chores", "--for", "anyone:lra"], "the \"a\" right cannot be granted to anyone"),
        (&["create", "Chores", "--for", "tom"], "is not WHO:RIGHTS"),
        (&["create", "Chores", "--for", "tom:lrQ"], "uppercase rights are not allowed"),
        (&["del", "Chores"], "Family/Chores: mailbox does not exist"),
    ] {
        let (ok, _, stderr) = public(&server, words);
        assert!(!ok && stderr.contains(expected), "roost public {}: {stderr}", words.join(" "));
    }
    assert!(!public_ok(&server, &["list"]).contains("Chores"));
    // Deleted: gone for everyone.
    public_ok(&server, &["del", "Family/Bills"]);
    assert_eq!(tom.no("MYRIGHTS Family/Bills"), "NO [NONEXISTENT] Mailbox does not exist");
    assert!(!public_ok(&server, &["list"]).contains("Family/Bills"));
}

#[test]
fn the_configured_default_rights_apply() {
    let server = family_with("[acl]\npublic_default_rights = \"authenticated:lr anyone:p dad:lrswipkxtea\"\n");
    public_ok(&server, &["create", "Chores"]);
    let mut dad = server.login("dad", "d4d");
    assert_eq!(acl(&mut dad, "Family/Chores"), "* ACL \"Family/Chores\" dad lrswipkxteacd authenticated lr anyone p");
    // The command needs the running server.
    let mut server = server;
    server.stop();
    let (ok, _, stderr) = public(&server, &["create", "Other"]);
    assert!(!ok && stderr.contains("the server is not running"), "{stderr}");
}

#[test]
fn lmtp_routes_deliver_into_mailboxes_that_grant_anyone_p() {
    let server = family_with(ROUTES);
    public_ok(&server, &["create", "Bills", "--for", "anyone:p"]);
    let mut mom = server.login("mom", "m0m");
    mom.ok("CREATE School");
    // Routed (case and +detail do not matter), before any user match.
    assert_eq!(
        send_to(&server, &["Bills+March@Home.Example"], "gas"),
        ["250 2.0.0 <Bills+March@Home.Example> Delivered"]
    );
    // Readers see it, unseen: it came with no flags.
    let mut dad = server.login("dad", "d4d");
    assert_eq!(selected(&mut dad, "Family/Bills"), (1, Some("()".into())));
    assert_eq!(selected(&mut mom, "Family/Bills"), (1, Some("()".into())));
    // mom's School does not take mail until she grants anyone p.
    assert_eq!(
        send_to(&server, &["school@home.example"], "trip"),
        ["550 5.7.1 <school@home.example> Mailbox does not accept mail"]
    );
    assert_eq!(send_to(&server, &["nothing@home.example"], "x"), ["550 5.1.1 <nothing@home.example> No such mailbox"]);
    // p for someone else is not p for anyone (LMTP has no login).
    mom.ok("SETACL School authenticated p");
    assert_eq!(send_to(&server, &["school@x"], "trip"), ["550 5.7.1 <school@x> Mailbox does not accept mail"]);
    mom.ok("SETACL School anyone p");
    assert_eq!(
        send_to(&server, &["school@x", "dad"], "trip"),
        ["250 2.0.0 <school@x> Delivered", "250 2.0.0 <dad> Delivered"]
    );
    assert_eq!(selected(&mut mom, "School").0, 1);
    assert_eq!(selected(&mut dad, "INBOX").0, 1);
    // A negative anyone entry takes p away again.
    mom.ok("SETACL School -anyone p");
    assert_eq!(send_to(&server, &["school@x"], "trip"), ["550 5.7.1 <school@x> Mailbox does not accept mail"]);
}

#[test]
fn the_p_right_is_checked_again_at_data() {
    let server = family_with(ROUTES);
    public_ok(&server, &["create", "Bills", "--for", "anyone:p", "--for", "mom:lra"]);
    let stream = UnixStream::connect(server.lmtp_socket()).unwrap();
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    let mut say = |line: &str| {
        writer.write_all(format!("{line}\r\n").as_bytes()).unwrap();
    };
    let mut last_line = || loop {
        let mut line = String::new();
        assert!(reader.read_line(&mut line).unwrap() > 0);
        if line.as_bytes().get(3) != Some(&b'-') {
            return line.trim_end().to_string();
        }
    };
    assert!(last_line().starts_with("220"));
    say("LHLO test.example");
    assert!(last_line().starts_with("250 SIZE"));
    say("MAIL FROM:<>");
    assert!(last_line().starts_with("250"));
    say("RCPT TO:<bills@home.example>");
    say("RCPT TO:<tom>");
    assert_eq!(last_line(), "250 2.1.5 Recipient OK");
    assert_eq!(last_line(), "250 2.1.5 Recipient OK");
    // Between RCPT and DATA, mom (who administers Bills) takes p away.
    let mut mom = server.login("mom", "m0m");
    mom.ok("DELETEACL Family/Bills anyone");
    say("DATA");
    assert!(last_line().starts_with("354"));
    say("Subject: late\r\n\r\nhello\r\n.");
    assert_eq!(last_line(), "550 5.7.1 <bills@home.example> Mailbox does not accept mail");
    assert_eq!(last_line(), "250 2.0.0 <tom> Delivered");
    assert_eq!(selected(&mut mom, "Family/Bills").0, 0);
    let mut tom = server.login("tom", "t0m");
    assert_eq!(selected(&mut tom, "INBOX").0, 1);
}

#[test]
fn roost_deliver_mailbox_exit_codes() {
    let server = family_with("");
    public_ok(&server, &["create", "Bills", "--for", "anyone:p"]);
    public_ok(&server, &["create", "Private"]);
    let mut mom = server.login("mom", "m0m");
    mom.ok("CREATE School");
    let (code, stderr) = deliver(&server, &["--mailbox", "Family/Bills"]);
    assert_eq!(code, 0, "{stderr}");
    let mut tom = server.login("tom", "t0m");
    assert_eq!(selected(&mut tom, "Family/Bills"), (1, Some("()".into())));
    let (code, stderr) = deliver(&server, &["--mailbox", "Family/Nothing"]);
    assert_eq!((code, stderr.contains("No such mailbox")), (67, true), "{stderr}");
    let (code, stderr) = deliver(&server, &["--mailbox", "Family/Private"]);
    assert_eq!((code, stderr.contains("Mailbox does not accept mail")), (77, true), "{stderr}");
    // A user's own mailbox: the same rule, her consent.
    let (code, stderr) = deliver(&server, &["--user", "mom", "--mailbox", "School"]);
    assert_eq!(code, 77, "{stderr}");
    let (code, stderr) = deliver(&server, &["--mailbox", "Shared/mom/School"]);
    assert_eq!(code, 77, "{stderr}");
    mom.ok("SETACL School anyone p");
    assert_eq!(deliver(&server, &["--user", "mom", "--mailbox", "School"]).0, 0);
    assert_eq!(deliver(&server, &["--mailbox", "Shared/mom/School"]).0, 0);
    assert_eq!(selected(&mut mom, "School").0, 2);
    assert_eq!(deliver(&server, &["--user", "nobody", "--mailbox", "School"]).0, 67);
    assert_eq!(deliver(&server, &["--user", "mom", "--mailbox", "Nothing"]).0, 67);
    // Without --user a mailbox must name its namespace.
    let (code, stderr) = deliver(&server, &["--mailbox", "School"]);
    assert_eq!(code, 64, "{stderr}");
    // Delivered into the public mailbox without a Delivered-To (no address).
    tom.ok("EXAMINE Family/Bills");
    let header = tom.ok("FETCH 1 (BODY.PEEK[HEADER])").join("\n");
    assert!(header.contains("Return-Path: <>") && !header.contains("Delivered-To"), "{header}");
}
