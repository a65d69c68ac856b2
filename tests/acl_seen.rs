//! Per-user \Seen and per-user modseqs in a shared mailbox (issue 15,
//! spec §3): mom owns Bills; dad and tom read it as Shared/mom/Bills.
//! Each reader's \Seen is their own, guarded by `s`; the other flags are
//! shared, guarded by `w` and `t`; a reader's private change reaches their
//! own other sessions and nobody else's, not even as a modseq.

mod common;

use common::*;

fn family() -> Server {
    Server::start_with(Options { users: vec![("mom", "m0m"), ("dad", "d4d"), ("tom", "t0m")], ..Default::default() })
}

const BILLS: &str = "Shared/mom/Bills";

/// mom's Bills with `count` messages, none \Recent any more (a session
/// of mom's selected it once), shared with each (user, rights).
fn bills(server: &Server, count: usize, shares: &[(&str, &str)]) {
    let mut mom = server.login("mom", "m0m");
    mom.ok("CREATE Bills");
    for index in 1..=count {
        mom.append_ok("Bills", &message(&format!("bill{index}"), "Please pay."));
    }
    mom.ok("SELECT Bills");
    mom.ok("LOGOUT");
    for (user, rights) in shares {
        server.share(&["add", "mom", "Bills", user, rights]);
    }
}

/// A session of `user` with `mailbox` selected (QRESYNC and CONDSTORE enabled).
fn reader(server: &Server, user: &str, password: &str, mailbox: &str) -> Client {
    let mut client = server.login(user, password);
    client.ok("ENABLE QRESYNC");
    client.ok(&format!("SELECT {mailbox}"));
    client
}

fn highest_modseq(untagged: &[Response]) -> u64 {
    code_number(untagged, "HIGHESTMODSEQ").expect("HIGHESTMODSEQ")
}

/// The flags `client` is shown for message `sequence`, after a NOOP has
/// taken what other sessions changed (so the FETCH asked for is the only one).
fn seen_flags(client: &mut Client, sequence: u32) -> std::collections::BTreeSet<String> {
    client.ok("NOOP");
    flags_of(client, sequence)
}

#[test]
fn a_readers_seen_is_their_own_and_reaches_only_their_sessions() {
    let server = family();
    bills(&server, 3, &[("dad", "lrswite"), ("tom", "lrs")]);
    let mut mom = reader(&server, "mom", "m0m", "Bills");
    let mom_highest = highest_modseq(&mom.ok("SELECT Bills"));
    let mut laptop = reader(&server, "dad", "d4d", BILLS);
    let mut phone = reader(&server, "dad", "d4d", BILLS);

    // RFC 3501 §6.4.5: BODY[] sets \Seen, dad's own.
    let fetched = phone.ok("FETCH 1 BODY[]");
    assert!(flags_in_fetch(fetch_of(&fetched, 1)).contains("\\Seen"), "{fetched:#?}");
    assert_eq!(seen_flags(&mut phone, 1), flags(&["\\Seen"]));

    // mom: no FETCH at her next command, her \Seen unchanged, and her
    // HIGHESTMODSEQ did not move.
    let noop = mom.ok("NOOP");
    assert!(fetch_lines(&noop).is_empty(), "{noop:#?}");
    assert_eq!(seen_flags(&mut mom, 1), flags(&[]));
    assert_eq!(highest_modseq(&mom.ok("SELECT Bills")), mom_highest);
    assert_eq!(search(&mut mom, "UNSEEN"), [1, 2, 3]);

    // dad's other session hears of it, with his modseq.
    let noop = laptop.ok("NOOP");
    let line = fetch_of(&noop, 1);
    assert_eq!(flags_in_fetch(line), flags(&["\\Seen"]));
    let modseq: u64 = item(line, "MODSEQ").trim_matches(['(', ')']).parse().unwrap();
    assert!(modseq > mom_highest, "{line}");
    assert_eq!(search(&mut laptop, "SEEN"), [1]);
    assert_eq!(search(&mut laptop, "UNSEEN"), [2, 3]);
    let found = laptop.ok(&format!("SEARCH MODSEQ {modseq}"));
    assert!(found.contains(&format!("* SEARCH 1 (MODSEQ {modseq})")), "{found:#?}");
    // A new session of dad's: \Seen, and the first unseen is his.
    let mut desktop = server.login("dad", "d4d");
    let selected = desktop.ok(&format!("SELECT {BILLS}"));
    assert_eq!(code_number(&selected, "UNSEEN"), Some(2));
    assert_eq!(highest_modseq(&selected), modseq);
    assert_eq!(seen_flags(&mut desktop, 1), flags(&["\\Seen"]));

    // tom, who holds `s` too, has not read it.
    let mut tom = reader(&server, "tom", "t0m", BILLS);
    assert_eq!(seen_flags(&mut tom, 1), flags(&[]));
    assert_eq!(search(&mut tom, "UNSEEN"), [1, 2, 3]);
    assert_eq!(code_number(&tom.ok(&format!("SELECT {BILLS}")), "UNSEEN"), Some(1));

    // mom's own \Seen is the message's flag; dad's view keeps his own.
    mom.ok("STORE 2 +FLAGS (\\Seen)");
    assert_eq!(seen_flags(&mut desktop, 2), flags(&[]));
    assert_eq!(seen_flags(&mut mom, 1), flags(&[]));
}

#[test]
fn without_s_a_fetch_sets_no_seen_and_does_not_fail() {
    let server = family();
    bills(&server, 1, &[("tom", "lr")]);
    let mut tom = reader(&server, "tom", "t0m", BILLS);
    let fetched = tom.ok("FETCH 1 BODY[]");
    assert!(fetch_of(&fetched, 1).contains("Please pay."), "{fetched:#?}");
    assert!(fetch_flags(fetch_of(&fetched, 1)).is_none_or(|flags| !flags.contains("\\Seen")), "{fetched:#?}");
    assert_eq!(seen_flags(&mut tom, 1), flags(&[]));
    assert_eq!(search(&mut tom, "SEEN"), Vec::<u32>::new());
}

#[test]
fn store_by_a_reader_changes_what_their_rights_allow() {
    let server = family();
    // tom's `i` only makes the mailbox READ-WRITE for him (RFC 4314 §5.2):
    // his STORE then meets the per-flag rights, not READ-ONLY.
    bills(&server, 2, &[("dad", "lrsw"), ("tom", "lrsi")]);
    let mut mom = reader(&server, "mom", "m0m", "Bills");
    let mut dad = reader(&server, "dad", "d4d", BILLS);
    // \Deleted needs `t`: dropped silently, the rest stored (RFC 4314 §4).
    let stored = dad.ok("STORE 1 +FLAGS (\\Seen \\Flagged \\Deleted $Paid)");
    assert_eq!(flags_in_fetch(fetch_of(&stored, 1)), flags(&["\\Seen", "\\Flagged", "$Paid"]));
    // mom sees the shared part only.
    assert_eq!(seen_flags(&mut mom, 1), flags(&["\\Flagged", "$Paid"]));
    // Nothing named may be changed: NO [NOPERM], nothing stored.
    let refused = dad.no("STORE 1 +FLAGS (\\Deleted)");
    assert!(refused.contains("[NOPERM]") && refused.contains("\"t\""), "{refused}");
    let mut tom = reader(&server, "tom", "t0m", BILLS);
    let refused = tom.no("STORE 2 +FLAGS (\\Flagged $Paid)");
    assert!(refused.contains("[NOPERM]") && refused.contains("\"w\""), "{refused}");
    assert_eq!(seen_flags(&mut mom, 2), flags(&[]));
    // tom may keep his own \Seen.
    tom.ok("STORE 2 +FLAGS (\\Seen \\Flagged)");
    assert_eq!(seen_flags(&mut tom, 2), flags(&["\\Seen"]));
    assert_eq!(seen_flags(&mut dad, 2), flags(&[]));
    // FLAGS (...) by dad keeps mom's \Seen in the record and tom's own.
    mom.ok("STORE 2 +FLAGS (\\Seen)");
    dad.ok("STORE 2 FLAGS (\\Draft)");
    assert_eq!(seen_flags(&mut mom, 2), flags(&["\\Seen", "\\Draft"]));
    assert_eq!(seen_flags(&mut dad, 2), flags(&["\\Draft"]));
    assert_eq!(seen_flags(&mut tom, 2), flags(&["\\Seen", "\\Draft"]));
}

#[test]
fn each_users_resync_sees_exactly_the_changes_visible_to_them() {
    let server = family();
    bills(&server, 4, &[("dad", "lrswipkxtea"), ("tom", "lrsi")]);
    // dad remembers where he was.
    let mut dad = server.login("dad", "d4d");
    dad.ok("ENABLE QRESYNC");
    let selected = dad.ok(&format!("SELECT {BILLS}"));
    let (validity, remembered) = (uidvalidity(&selected), highest_modseq(&selected));
    dad.ok("LOGOUT");

    let mut mom = reader(&server, "mom", "m0m", "Bills");
    mom.ok("STORE 1 +FLAGS (\\Flagged)");
    let mom_highest = highest_modseq(&mom.ok("SELECT Bills"));
    let mut tom = reader(&server, "tom", "t0m", BILLS);
    tom.ok("FETCH 2 BODY[]");
    let mut phone = reader(&server, "dad", "d4d", BILLS);
    phone.ok("FETCH 3 BODY[]");
    // The readers' \Seen did not move mom's HIGHESTMODSEQ.
    assert_eq!(highest_modseq(&mom.ok("SELECT Bills")), mom_highest);
    mom.ok("STORE 4 +FLAGS (\\Deleted)");
    mom.ok("EXPUNGE");

    let mut dad = server.login("dad", "d4d");
    dad.ok("ENABLE QRESYNC");
    let resync = dad.ok(&format!("SELECT {BILLS} (QRESYNC ({validity} {remembered}))"));
    let vanished: Vec<&Response> = resync.iter().filter(|line| line.starts_with("* VANISHED")).collect();
    assert_eq!(vanished, ["* VANISHED (EARLIER) 4"], "{resync:#?}");
    let mut reported: Vec<(u32, Vec<String>)> = fetch_lines(&resync)
        .into_iter()
        .map(|line| (fetch_uid(line).unwrap(), flags_in_fetch(line).into_iter().collect()))
        .collect();
    reported.sort();
    // mom's flag and dad's own read; not tom's read of 2.
    assert_eq!(reported, [(1, vec!["\\Flagged".to_string()]), (3, vec!["\\Seen".to_string()])], "{resync:#?}");
    let now = highest_modseq(&resync);
    assert!(now > remembered, "{resync:#?}");
    for line in fetch_lines(&resync) {
        let modseq: u64 = item(line, "MODSEQ").trim_matches(['(', ')']).parse().unwrap();
        assert!(remembered < modseq && modseq <= now, "{line} against {now}");
    }
    // CHANGEDSINCE agrees.
    let changed = dad.ok(&format!("UID FETCH 1:* (FLAGS) (CHANGEDSINCE {remembered})"));
    let mut uids: Vec<u32> = fetch_lines(&changed).into_iter().map(|line| fetch_uid(line).unwrap()).collect();
    uids.sort_unstable();
    assert_eq!(uids, [1, 3], "{changed:#?}");

    // UNCHANGEDSINCE compares dad's own modseq: tom's \Seen on 2 after
    // dad looked does not block dad's STORE.
    let fetched = dad.ok("UID FETCH 2 (MODSEQ)");
    let known: u64 = item(fetched[0].as_str(), "MODSEQ").trim_matches(['(', ')']).parse().unwrap();
    tom.ok("STORE 2 -FLAGS (\\Seen)");
    let (untagged, tagged) = dad.command(&format!("UID STORE 2 (UNCHANGEDSINCE {known}) +FLAGS (\\Answered)"));
    assert!(tagged.starts_with("OK") && !tagged.contains("MODIFIED"), "{tagged} after {untagged:#?}");
    assert_eq!(seen_flags(&mut mom, 2), flags(&["\\Answered"]));
    // dad's own \Seen after that point does block it.
    let fetched = dad.ok("UID FETCH 3 (MODSEQ)");
    let known: u64 = item(fetched[0].as_str(), "MODSEQ").trim_matches(['(', ')']).parse().unwrap();
    phone.ok("STORE 3 -FLAGS (\\Seen)");
    let (_, tagged) = dad.command(&format!("UID STORE 3 (UNCHANGEDSINCE {known}) +FLAGS (\\Answered)"));
    assert!(tagged.contains("[MODIFIED 3]"), "{tagged}");
}

#[test]
fn an_idling_owner_hears_shared_flags_and_never_a_readers_seen() {
    let server = family();
    bills(&server, 2, &[("dad", "lrswite")]);
    let mut mom = reader(&server, "mom", "m0m", "Bills");
    let mut phone = reader(&server, "dad", "d4d", BILLS);
    let mut dad = reader(&server, "dad", "d4d", BILLS);
    let mom_idle = idle(&mut mom);
    let phone_idle = idle(&mut phone);

    dad.ok("STORE 1 +FLAGS (\\Flagged)");
    let line = mom.read_line();
    assert!(line.starts_with("* 1 FETCH (") && line.contains("FLAGS (\\Flagged)"), "{line}");
    let line = phone.read_line();
    assert!(line.starts_with("* 1 FETCH (") && line.contains("FLAGS (\\Flagged)"), "{line}");

    // dad's \Seen: his phone hears of it, mom hears nothing; the next line
    // she gets is the shared change that follows it.
    dad.ok("STORE 2 +FLAGS (\\Seen)");
    let line = phone.read_line();
    assert!(line.starts_with("* 2 FETCH (") && line.contains("FLAGS (\\Seen)"), "{line}");
    dad.ok("STORE 2 +FLAGS (\\Answered)");
    let line = mom.read_line();
    assert!(line.starts_with("* 2 FETCH (") && line.contains("FLAGS (\\Answered)"), "{line}");
    let line = phone.read_line();
    assert!(line.starts_with("* 2 FETCH ("), "{line}");
    assert_eq!(fetch_flags(&line), Some(flags(&["\\Seen", "\\Answered"])), "{line}");
    assert!(done(&mut mom, &mom_idle).is_empty());
    assert!(done(&mut phone, &phone_idle).is_empty());
}

/// A reader with `s` keeps their own \Seen on what they APPEND or COPY
/// into another's mailbox (RFC 4314 §4), and takes it along when they
/// copy out of it; the owner's \Seen never travels with them.
#[test]
fn appended_and_copied_mail_keeps_the_copiers_own_seen() {
    let server = family();
    bills(&server, 2, &[("dad", "lrswi")]);
    // Mom has read her second bill; dad has read neither.
    let mut mom = reader(&server, "mom", "m0m", "Bills");
    mom.ok("STORE 2 +FLAGS (\\Seen)");
    let mut dad = server.login("dad", "d4d");
    let (_, appended) = dad.append(BILLS, "(\\Seen \\Flagged)", &message("bill3", "Paid."));
    assert!(appended.starts_with("OK"), "{appended}");
    dad.ok("SELECT INBOX");
    dad.append_ok("INBOX", &message("receipt", "Thanks."));
    dad.ok("STORE 1 +FLAGS (\\Seen)");
    dad.ok(&format!("COPY 1 {BILLS}"));
    // In Bills: dad's own \Seen on both, mom's on neither.
    dad.ok(&format!("SELECT {BILLS}"));
    assert!(flags_of(&mut dad, 3).contains("\\Seen") && flags_of(&mut dad, 3).contains("\\Flagged"));
    assert!(flags_of(&mut dad, 4).contains("\\Seen"));
    assert!(!flags_of(&mut dad, 2).contains("\\Seen"), "mom's \\Seen is hers");
    assert!(!seen_flags(&mut mom, 3).contains("\\Seen") && seen_flags(&mut mom, 3).contains("\\Flagged"));
    assert!(!seen_flags(&mut mom, 4).contains("\\Seen"));
    // Out of Bills into dad's own: his \Seen goes along, mom's does not.
    dad.ok("STORE 1 +FLAGS (\\Seen)");
    dad.ok("COPY 1:2 INBOX");
    dad.ok("SELECT INBOX");
    assert!(flags_of(&mut dad, 2).contains("\\Seen"), "dad had read bill1");
    assert!(!flags_of(&mut dad, 3).contains("\\Seen"), "only mom had read bill2");
}
