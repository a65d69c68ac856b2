//! IDLE (RFC 2177) over real connections: every change another session
//! makes reaches an idling session as it happens, DONE ends it, keep-alives
//! come at the configured interval, and shutdown says BYE.

mod common;

use common::*;

#[test]
fn idle_is_advertised_and_ends_with_done() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    assert!(capabilities(&mut client).contains("IDLE"));
    // In the authenticated state too (RFC 2177 allows it; nothing to report).
    let tag = idle(&mut client);
    assert!(done(&mut client, &tag).is_empty());
    client.ok("SELECT INBOX");
    let tag = idle(&mut client);
    assert!(done(&mut client, &tag).is_empty());
    // Anything but DONE ends IDLE with BAD; the session goes on.
    let tag = idle(&mut client);
    client.send("NOOP");
    let (_, tagged) = client.until_tagged(&tag);
    assert!(tagged.starts_with("BAD"), "{tagged}");
    client.ok("NOOP");
    // Not allowed before login.
    let mut anonymous = server.connect();
    assert!(anonymous.bad("IDLE").contains("not allowed"));
}

#[test]
fn changes_by_other_sessions_arrive_while_idling() {
    let server = Server::start();
    let mut phone = server.login("alice", "secret");
    let mut laptop = server.login("alice", "secret");
    let mut tablet = server.login("alice", "secret");
    laptop.append_ok("INBOX", &message("first", "one"));
    phone.ok("SELECT INBOX");
    laptop.ok("SELECT INBOX");

    let tag = idle(&mut phone);
    // New mail: EXISTS and RECENT (the phone selected first and is the only
    // session woken by the tablet's append, so both messages are \Recent in
    // its session).
    tablet.append_ok("INBOX", &message("second", "two"));
    assert_eq!(phone.read_line(), "* 2 EXISTS");
    assert_eq!(phone.read_line(), "* 2 RECENT");
    assert!(laptop.ok("NOOP").contains(&"* 2 EXISTS".to_string()));
    // A flag change: FETCH FLAGS.
    laptop.ok("STORE 1 +FLAGS.SILENT (\\Seen)");
    assert_eq!(phone.read_line(), "* 1 FETCH (FLAGS (\\Seen \\Recent))");
    // A new keyword: FLAGS first, then the FETCH.
    laptop.ok("STORE 2 +FLAGS.SILENT ($Important)");
    let flags = phone.read_line();
    assert!(defined_flags(std::slice::from_ref(&flags)).contains("$Important"), "{flags}");
    let permanent = phone.read_line();
    assert!(permanent.starts_with("* OK [PERMANENTFLAGS"), "{permanent}");
    assert_eq!(phone.read_line(), "* 2 FETCH (FLAGS (\\Recent $Important))");
    // An expunge: EXPUNGE.
    laptop.ok("STORE 1 +FLAGS.SILENT (\\Deleted)");
    assert_eq!(phone.read_line(), "* 1 FETCH (FLAGS (\\Deleted \\Seen \\Recent))");
    laptop.ok("EXPUNGE");
    assert_eq!(phone.read_line(), "* 1 EXPUNGE");
    // A move out of the mailbox: EXPUNGE too.
    laptop.ok("CREATE Old");
    laptop.ok("MOVE 1 Old");
    assert_eq!(phone.read_line(), "* 1 EXPUNGE");
    assert!(done(&mut phone, &tag).is_empty(), "everything was told while idling");
    phone.ok("NOOP");
    let status = laptop.ok("STATUS Old (MESSAGES)");
    assert_eq!(status, ["* STATUS \"Old\" (MESSAGES 1)"]);
}

#[test]
fn many_sessions_idle_on_one_mailbox_and_all_wake() {
    let server = Server::start();
    let mut sessions: Vec<(Client, String)> = (0..8)
        .map(|_| {
            let mut client = server.login("alice", "secret");
            client.ok("SELECT INBOX");
            let tag = idle(&mut client);
            (client, tag)
        })
        .collect();
    let mut writer = server.login("alice", "secret");
    writer.append_ok("INBOX", &message("hello", "all"));
    for (client, tag) in &mut sessions {
        assert_eq!(client.read_line(), "* 1 EXISTS");
        let recent = client.read_line();
        assert!(recent == "* 1 RECENT" || recent == "* 0 RECENT", "{recent}");
        done(client, tag);
    }
}

#[test]
fn keepalive_lines_at_the_configured_interval() {
    let server = Server::start_with(Options { extra_limits: "idle_keepalive = 1".into(), ..Options::default() });
    let mut client = server.login("alice", "secret");
    client.ok("SELECT INBOX");
    let tag = idle(&mut client);
    assert_eq!(client.read_line(), "* OK Still here");
    assert_eq!(client.read_line(), "* OK Still here");
    done(&mut client, &tag);
}

#[test]
fn idle_ends_at_the_idle_timeout_and_at_shutdown() {
    let server = Server::start_with(Options {
        extra_limits: "idle_timeout = 2\nidle_keepalive = 1".into(),
        ..Options::default()
    });
    let mut client = server.login("alice", "secret");
    client.ok("SELECT INBOX");
    idle(&mut client);
    // Keep-alives do not make a silent client active: the deadline holds.
    let rest = client.read_to_end();
    assert!(rest.contains("* OK Still here"), "{rest}");
    assert!(rest.contains("* BYE Autologout"), "{rest}");

    let mut server = Server::start();
    let mut client = server.login("alice", "secret");
    client.ok("SELECT INBOX");
    idle(&mut client);
    server.stop();
    assert!(client.read_to_end().contains("* BYE Server shutting down"));
}

#[test]
fn done_split_around_a_change_still_ends_idle() {
    let server = Server::start();
    let mut idler = server.login("alice", "secret");
    let mut other = server.login("alice", "secret");
    idler.ok("SELECT INBOX");

    // `DONE\r`, a change, then `\n`: the change is reported while the line
    // is incomplete, and the line still ends IDLE.
    let tag = idle(&mut idler);
    idler.send_raw(b"DONE\r");
    // Not a timing assert: only gives the server the time to read the
    // partial line before the change lands (the case that went wrong).
    std::thread::sleep(std::time::Duration::from_millis(200));
    other.append_ok("INBOX", &message("first", "one"));
    assert_eq!(idler.read_line(), "* 1 EXISTS");
    assert_eq!(idler.read_line(), "* 1 RECENT");
    idler.send_raw(b"\n");
    let (untagged, tagged) = idler.until_tagged(&tag);
    assert!(tagged.starts_with("OK"), "{tagged} after {untagged:?}");
    idler.ok("NOOP");

    // `DO`, a change, `NE\r\n`.
    let tag = idle(&mut idler);
    idler.send_raw(b"DO");
    std::thread::sleep(std::time::Duration::from_millis(200));
    other.append_ok("INBOX", &message("second", "two"));
    assert_eq!(idler.read_line(), "* 2 EXISTS");
    assert_eq!(idler.read_line(), "* 2 RECENT");
    idler.send_raw(b"NE\r\n");
    let (untagged, tagged) = idler.until_tagged(&tag);
    assert!(tagged.starts_with("OK"), "{tagged} after {untagged:?}");

    // A split line that is not DONE is still answered BAD, and a pipelined
    // command after DONE is still run.
    let tag = idle(&mut idler);
    idler.send_raw(b"DON");
    std::thread::sleep(std::time::Duration::from_millis(200));
    other.ok("SELECT INBOX");
    other.ok("STORE 1 +FLAGS.SILENT (\\Seen)");
    assert_eq!(idler.read_line(), "* 1 FETCH (FLAGS (\\Seen \\Recent))");
    idler.send_raw(b"X\r\n");
    let (_, tagged) = idler.until_tagged(&tag);
    assert!(tagged.starts_with("BAD"), "{tagged}");
    let tag = idle(&mut idler);
    let next = idler.next_tag();
    idler.send_raw(format!("DONE\r\n{next} NOOP\r\n").as_bytes());
    let (_, tagged) = idler.until_tagged(&tag);
    assert!(tagged.starts_with("OK"), "{tagged}");
    let (_, tagged) = idler.until_tagged(&next);
    assert!(tagged.starts_with("OK"), "{tagged}");
}
