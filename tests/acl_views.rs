//! What each of three users (mom, dad, tom) sees of the shared namespace
//! (issue 15, spec §2): NAMESPACE, LIST and LSUB at each level, the LIST
//! extensions (SUBSCRIBED, CHILDREN, SPECIAL-USE, STATUS), STATUS, and
//! NOTIFY and IDLE across users, against the real server. Rights are
//! granted with `roost share` through the running server.
//!
//! The public (`Family/`) tree needs a public mailbox, which only `roost
//! public create` (not on this branch yet) makes through a real path; it
//! is covered by `imap::visible`'s unit test until then.

mod common;

use common::*;

fn family() -> Server {
    Server::start_with(Options { users: vec![("mom", "m0m"), ("dad", "d4d"), ("tom", "t0m")], ..Default::default() })
}

/// The fixture of spec §6.1, the personal part: mom owns `Bills` (dad:
/// everything), `Bills/2026` (dad: `lr`), `Diary` (nobody), `School`
/// (dad `lr`, tom `lrs`); her `Sent` is shared with dad (`lr`) to show
/// that special use stays home.
fn fixture() -> Server {
    let server = family();
    let mut mom = server.login("mom", "m0m");
    for name in ["Bills", "Bills/2026", "Diary", "School"] {
        mom.ok(&format!("CREATE {name}"));
    }
    server.share(&["add", "mom", "Bills", "dad", "lrswipkxtea"]);
    server.share(&["add", "mom", "Bills/2026", "dad", "lr"]);
    server.share(&["add", "mom", "School", "dad", "lr"]);
    server.share(&["add", "mom", "School", "tom", "lrs"]);
    server.share(&["add", "mom", "Sent", "dad", "lr"]);
    server
}

/// The untagged lines of `command`, which must succeed.
fn lines(client: &mut Client, command: &str) -> Vec<String> {
    client.ok(command)
}

/// The tagged reply of `command` without its tag.
fn tagged(client: &mut Client, command: &str) -> String {
    client.command(command).1
}

#[test]
fn namespace_announces_the_three_namespaces_to_everyone() {
    let server = fixture();
    for (user, password) in [("mom", "m0m"), ("dad", "d4d"), ("tom", "t0m")] {
        let mut client = server.login(user, password);
        assert_eq!(
            lines(&mut client, "NAMESPACE"),
            ["* NAMESPACE ((\"\" \"/\")) ((\"Shared/\" \"/\")) ((\"Family/\" \"/\"))"]
        );
    }
}

#[test]
fn list_shows_each_user_what_they_may_look_up() {
    let server = fixture();
    let (mut mom, mut dad, mut tom) =
        (server.login("mom", "m0m"), server.login("dad", "d4d"), server.login("tom", "t0m"));
    let level = "* LIST (\\Noselect \\HasChildren) \"/\" \"Shared\"";
    // `%`: the level appears beside their own mailboxes, for those with something shared.
    assert!(lines(&mut dad, "LIST \"\" %").contains(&level.to_string()));
    assert!(lines(&mut tom, "LIST \"\" %").contains(&level.to_string()));
    assert!(!lines(&mut mom, "LIST \"\" *").iter().any(|line| line.contains("Shared")));
    // No Family level: nothing public is visible.
    assert!(!lines(&mut dad, "LIST \"\" *").iter().any(|line| line.contains("Family")));
    assert_eq!(lines(&mut dad, "LIST \"\" Shared/%"), ["* LIST (\\Noselect \\HasChildren) \"/\" \"Shared/mom\""]);
    assert_eq!(
        lines(&mut dad, "LIST \"\" Shared/mom/%"),
        [
            "* LIST (\\HasChildren) \"/\" \"Shared/mom/Bills\"",
            "* LIST (\\HasNoChildren) \"/\" \"Shared/mom/School\"",
            // Her \Sent is not dad's (spec §2.3).
            "* LIST (\\HasNoChildren) \"/\" \"Shared/mom/Sent\"",
        ]
    );
    assert_eq!(lines(&mut tom, "LIST \"\" Shared/mom/%"), ["* LIST (\\HasNoChildren) \"/\" \"Shared/mom/School\""]);
    // `*` includes the Shared tree (spec §2.2), levels and all.
    let everything = lines(&mut tom, "LIST \"\" *");
    let shared: Vec<&String> = everything.iter().filter(|line| line.contains("Shared")).collect();
    assert_eq!(
        shared,
        [
            "* LIST (\\Noselect \\HasChildren) \"/\" \"Shared\"",
            "* LIST (\\Noselect \\HasChildren) \"/\" \"Shared/mom\"",
            "* LIST (\\HasNoChildren) \"/\" \"Shared/mom/School\"",
        ]
    );
    let dads = lines(&mut dad, "LIST \"\" Shared/mom/*");
    assert!(dads.contains(&"* LIST (\\HasNoChildren) \"/\" \"Shared/mom/Bills/2026\"".to_string()), "{dads:?}");
    assert!(!dads.iter().any(|line| line.contains("Diary") || line.contains("INBOX")), "{dads:?}");
    // Her INBOX is Shared/mom/INBOX, whose case counts (spec §2.2).
    server.share(&["add", "mom", "INBOX", "tom", "lr"]);
    assert_eq!(lines(&mut tom, "LIST \"\" Shared/mom/INBOX"), ["* LIST (\\HasNoChildren) \"/\" \"Shared/mom/INBOX\""]);
    assert!(lines(&mut tom, "LIST \"\" Shared/mom/inbox").is_empty());
    server.share(&["del", "mom", "INBOX", "tom"]);
    // Once mom revokes School, tom sees no Shared at all.
    server.share(&["del", "mom", "School", "tom"]);
    let everything = lines(&mut tom, "LIST \"\" *");
    assert!(!everything.iter().any(|line| line.contains("Shared")), "{everything:?}");
    assert!(lines(&mut tom, "LIST \"\" Shared/%").is_empty());
}

#[test]
fn a_parent_without_l_looks_like_a_parent_that_does_not_exist() {
    let server = fixture();
    server.share(&["add", "mom", "Bills/2026", "tom", "lr"]);
    let mut tom = server.login("tom", "t0m");
    // RFC 3501 §6.3.8: `%` stops at the level above the visible child.
    assert_eq!(
        lines(&mut tom, "LIST \"\" Shared/mom/%"),
        [
            "* LIST (\\Noselect \\HasChildren) \"/\" \"Shared/mom/Bills\"",
            "* LIST (\\HasNoChildren) \"/\" \"Shared/mom/School\"",
        ]
    );
    // RFC 4314 §4's example: under `*` the child is listed, the parent not.
    let everything = lines(&mut tom, "LIST \"\" Shared/*");
    assert!(everything.contains(&"* LIST (\\HasNoChildren) \"/\" \"Shared/mom/Bills/2026\"".to_string()));
    assert!(!everything.iter().any(|line| line.ends_with("\"Shared/mom/Bills\"")), "{everything:?}");
    // The extended LIST draws the same line for it.
    let extended = lines(&mut tom, "LIST () \"\" Shared/mom/% RETURN (CHILDREN)");
    assert!(extended.contains(&"* LIST (\\Noselect \\HasChildren) \"/\" \"Shared/mom/Bills\"".to_string()));
    // And STATUS answers it as a missing name, byte for byte.
    let hidden = tagged(&mut tom, "STATUS Shared/mom/Bills (MESSAGES)");
    assert_eq!(hidden, tagged(&mut tom, "STATUS Shared/mom/Nothing (MESSAGES)"));
    assert!(hidden.starts_with("NO [NONEXISTENT]"), "{hidden}");
}

#[test]
fn subscriptions_to_shared_names() {
    let server = fixture();
    let mut dad = server.login("dad", "d4d");
    for name in ["Shared/mom/Bills", "Shared/mom/Diary", "Shared/mom/Nothing"] {
        dad.ok(&format!("SUBSCRIBE {name}"));
    }
    // A subscribed name dad cannot see is a subscribed name with no mailbox.
    assert_eq!(
        lines(&mut dad, "LSUB \"\" Shared/*"),
        [
            "* LSUB () \"/\" \"Shared/mom/Bills\"",
            "* LSUB (\\Noselect) \"/\" \"Shared/mom/Diary\"",
            "* LSUB (\\Noselect) \"/\" \"Shared/mom/Nothing\"",
        ]
    );
    // `%` stops at the unsubscribed level above (RFC 3501 §6.3.9).
    assert_eq!(lines(&mut dad, "LSUB \"\" Shared/%"), ["* LSUB (\\Noselect) \"/\" \"Shared/mom\""]);
    assert_eq!(
        lines(&mut dad, "LIST (SUBSCRIBED) \"\" Shared/*"),
        [
            "* LIST (\\Subscribed \\HasChildren) \"/\" \"Shared/mom/Bills\"",
            "* LIST (\\NonExistent \\Subscribed) \"/\" \"Shared/mom/Diary\"",
            "* LIST (\\NonExistent \\Subscribed) \"/\" \"Shared/mom/Nothing\"",
        ]
    );
    // RECURSIVEMATCH: the level above the subscriptions, with CHILDINFO.
    assert_eq!(
        lines(&mut dad, "LIST (SUBSCRIBED RECURSIVEMATCH) \"\" Shared/%"),
        ["* LIST (\\Noselect \\HasChildren) \"/\" \"Shared/mom\" (\"CHILDINFO\" (\"SUBSCRIBED\"))"]
    );
    // RETURN (SUBSCRIBED) over the whole tree.
    let returned = lines(&mut dad, "LIST \"\" Shared/mom/% RETURN (SUBSCRIBED)");
    assert!(returned.contains(&"* LIST (\\Subscribed \\HasChildren) \"/\" \"Shared/mom/Bills\"".to_string()));
    assert!(returned.contains(&"* LIST (\\HasNoChildren) \"/\" \"Shared/mom/School\"".to_string()));
}

#[test]
fn list_status_and_special_use_in_the_shared_namespace() {
    let server = fixture();
    let mut mom = server.login("mom", "m0m");
    mom.ok("CREATE Letters");
    server.share(&["add", "mom", "Letters", "dad", "l"]);
    mom.append_ok("School", &message("one", "1"));
    mom.append_ok("School", &message("two", "2"));
    let mut dad = server.login("dad", "d4d");
    let listed = lines(&mut dad, "LIST \"\" Shared/mom/% RETURN (CHILDREN SPECIAL-USE STATUS (MESSAGES UNSEEN))");
    assert_eq!(
        listed,
        [
            "* LIST (\\HasChildren) \"/\" \"Shared/mom/Bills\"",
            "* STATUS \"Shared/mom/Bills\" (MESSAGES 0 UNSEEN 0)",
            // `l` without `r`: listed, no STATUS (RFC 4314 §4, spec §2.3).
            "* LIST (\\HasNoChildren) \"/\" \"Shared/mom/Letters\"",
            "* LIST (\\HasNoChildren) \"/\" \"Shared/mom/School\"",
            "* STATUS \"Shared/mom/School\" (MESSAGES 2 UNSEEN 2)",
            "* LIST (\\HasNoChildren) \"/\" \"Shared/mom/Sent\"",
            "* STATUS \"Shared/mom/Sent\" (MESSAGES 0 UNSEEN 0)",
        ]
    );
    // SPECIAL-USE selects only dad's own.
    let special = lines(&mut dad, "LIST (SPECIAL-USE) \"\" *");
    assert!(special.iter().all(|line| !line.contains("Shared")), "{special:?}");
    assert!(special.contains(&"* LIST (\\HasNoChildren \\Sent) \"/\" \"Sent\"".to_string()), "{special:?}");
    let everything = lines(&mut dad, "LIST \"\" *");
    assert!(
        everything
            .iter()
            .filter(|line| line.contains("Shared"))
            .all(|line| !line.contains("\\Sent") && !line.contains("\\Trash")),
        "{everything:?}"
    );
    // UNSEEN is each reader's own: mom's \Seen is hers alone.
    mom.ok("SELECT School");
    mom.ok("STORE 1 +FLAGS (\\Seen)");
    assert_eq!(lines(&mut mom, "STATUS School (MESSAGES UNSEEN)"), ["* STATUS \"School\" (MESSAGES 2 UNSEEN 1)"]);
    assert_eq!(
        lines(&mut dad, "STATUS Shared/mom/School (MESSAGES UNSEEN)"),
        ["* STATUS \"Shared/mom/School\" (MESSAGES 2 UNSEEN 2)"]
    );
}

#[test]
fn status_per_user() {
    let server = fixture();
    let mut mom = server.login("mom", "m0m");
    mom.append_ok("School", &message("one", "1"));
    let (mut dad, mut tom) = (server.login("dad", "d4d"), server.login("tom", "t0m"));
    let school = lines(&mut tom, "STATUS Shared/mom/School (MESSAGES UIDNEXT UNSEEN SIZE MAILBOXID)");
    let mine = lines(&mut mom, "STATUS School (MESSAGES UIDNEXT UNSEEN SIZE MAILBOXID)");
    assert_eq!(school[0].replace("Shared/mom/School", "School"), mine[0], "the same mailbox, the same counters");
    // tom cannot see Bills: the bytes of a missing name.
    let hidden = tagged(&mut tom, "STATUS Shared/mom/Bills (MESSAGES)");
    assert_eq!(hidden, tagged(&mut tom, "STATUS Shared/mom/Nothing (MESSAGES)"));
    assert_eq!(tagged(&mut tom, "STATUS Shared/mom/Diary (MESSAGES)"), hidden);
    assert!(hidden.starts_with("NO [NONEXISTENT]"), "{hidden}");
    // `l` without `r`: NOPERM (RFC 4314 §4: STATUS needs `r`).
    server.share(&["add", "mom", "Diary", "tom", "l"]);
    assert!(tagged(&mut tom, "STATUS Shared/mom/Diary (MESSAGES)").starts_with("NO [NOPERM]"));
    // A listed level is not a mailbox; an unlisted one does not exist.
    assert!(tagged(&mut dad, "STATUS Shared (MESSAGES)").starts_with("NO [CANNOT]"));
    assert!(tagged(&mut dad, "STATUS Shared/mom (MESSAGES)").starts_with("NO [CANNOT]"));
    let missing = tagged(&mut dad, "STATUS Nothing (MESSAGES)");
    assert_eq!(tagged(&mut dad, "STATUS Family (MESSAGES)"), missing);
    assert_eq!(tagged(&mut mom, "STATUS Shared (MESSAGES)"), missing, "mom has nothing shared with her");
    assert_eq!(tagged(&mut dad, "STATUS Shared/tom (MESSAGES)"), missing);
}

#[test]
fn notify_across_users() {
    let server = fixture();
    let mut mom = server.login("mom", "m0m");
    let mut dad = server.login("dad", "d4d");
    // Dad watches mom's mailbox by its shared name; mom's append reaches him.
    dad.ok("NOTIFY SET (MAILBOXES Shared/mom/Bills (MessageNew MessageExpunge))");
    mom.append_ok("Bills", &message("gas", "due"));
    assert_eq!(dad.read_line(), "* STATUS \"Shared/mom/Bills\" (MESSAGES 1 UIDNEXT 2 UNSEEN 1)");
    // Mom watches her own on her laptop; dad's expunge there reaches her.
    let mut laptop = server.login("mom", "m0m");
    laptop.ok("NOTIFY SET (MAILBOXES Bills (MessageNew MessageExpunge))");
    let mut phone = server.login("dad", "d4d");
    phone.ok("SELECT Shared/mom/Bills");
    phone.ok("STORE 1 +FLAGS (\\Deleted)");
    phone.ok("EXPUNGE");
    assert_eq!(laptop.read_line(), "* STATUS \"Bills\" (MESSAGES 0 UIDNEXT 2 UNSEEN 0)");
    assert_eq!(dad.read_line(), "* STATUS \"Shared/mom/Bills\" (MESSAGES 0 UIDNEXT 2 UNSEEN 0)");
    // Losing `l` is the mailbox being deleted (RFC 5465 §5.4, spec §1.9).
    server.share(&["del", "mom", "Bills", "dad"]);
    assert_eq!(dad.read_line(), "* LIST (\\NonExistent) \"/\" \"Shared/mom/Bills\"");
    mom.append_ok("Bills", &message("hidden", "x"));
    assert_silent(&mut dad);
    // `l` back without `r`: it exists again, but dad may not read it.
    server.share(&["add", "mom", "Bills", "dad", "l"]);
    assert_eq!(dad.read_line(), "* LIST (\\HasChildren) \"/\" \"Shared/mom/Bills\"");
    mom.append_ok("Bills", &message("still hidden", "x"));
    assert_silent(&mut dad);
    // `r` too: monitoring starts again, from a full STATUS.
    server.share(&["add", "mom", "Bills", "dad", "+r"]);
    assert_eq!(dad.read_line(), "* LIST (\\HasChildren) \"/\" \"Shared/mom/Bills\"");
    let line = dad.read_line();
    assert!(line.starts_with("* STATUS \"Shared/mom/Bills\" (MESSAGES 2 UIDNEXT 4 UIDVALIDITY "), "{line}");
    // Losing `r` but not `l`: \NoAccess (RFC 5465 §3).
    server.share(&["add", "mom", "Bills", "dad", "-r"]);
    assert_eq!(dad.read_line(), "* LIST (\\NoAccess) \"/\" \"Shared/mom/Bills\"");
}

#[test]
fn notify_filters_and_the_shared_namespace() {
    let server = fixture();
    let mut mom = server.login("mom", "m0m");
    let (mut dad, mut tom) = (server.login("dad", "d4d"), server.login("tom", "t0m"));
    // `l` without `r` on a watched mailbox: \NoAccess at NOTIFY SET.
    mom.ok("CREATE Letters");
    server.share(&["add", "mom", "Letters", "tom", "l"]);
    let set = lines(&mut tom, "NOTIFY SET (SUBTREE Shared (MessageNew MessageExpunge))");
    assert_eq!(set, ["* LIST (\\NoAccess) \"/\" \"Shared/mom/Letters\""]);
    // A mailbox tom cannot see is ignored silently; one he can is watched.
    mom.append_ok("Bills", &message("bill", "x"));
    assert_silent(&mut tom);
    mom.append_ok("School", &message("trip", "x"));
    assert_eq!(tom.read_line(), "* STATUS \"Shared/mom/School\" (MESSAGES 1 UIDNEXT 2 UNSEEN 1)");
    // PERSONAL is the personal namespace only (RFC 5465 §6).
    dad.ok("NOTIFY SET (PERSONAL (MessageNew MessageExpunge))");
    mom.append_ok("School", &message("again", "x"));
    assert_silent(&mut dad);
    // SUBSCRIBED includes shared subscriptions.
    dad.ok("SUBSCRIBE Shared/mom/School");
    dad.ok("NOTIFY SET (SUBSCRIBED (MessageNew MessageExpunge))");
    mom.append_ok("School", &message("third", "x"));
    assert_eq!(dad.read_line(), "* STATUS \"Shared/mom/School\" (MESSAGES 3 UIDNEXT 4 UNSEEN 3)");
}

#[test]
fn idle_across_users() {
    let server = fixture();
    let mut mom = server.login("mom", "m0m");
    let mut dad = server.login("dad", "d4d");
    dad.ok("SELECT Shared/mom/Bills");
    let tag = dad.next_tag();
    dad.send(&format!("{tag} IDLE"));
    assert!(dad.read_line().starts_with("+ "));
    mom.append_ok("Bills", &message("gas", "due"));
    // Arrives while dad sends nothing: the hub is keyed by mailbox id.
    assert_eq!(dad.read_line(), "* 1 EXISTS");
    dad.send("DONE");
    let (_, done) = dad.until_tagged(&tag);
    assert!(done.starts_with("OK"), "{done}");
}

#[test]
fn imap4rev2_select_lists_the_mailbox_as_the_user_sees_it() {
    let server = fixture();
    server.share(&["add", "mom", "Bills", "tom", "lr"]);
    let (mut dad, mut tom) = (server.login("dad", "d4d"), server.login("tom", "t0m"));
    for client in [&mut dad, &mut tom] {
        client.ok("ENABLE IMAP4rev2");
    }
    // RFC 9051 §6.3.2: a LIST response for the selected mailbox.
    let dads = lines(&mut dad, "SELECT Shared/mom/Bills");
    assert!(dads.contains(&"* LIST (\\HasChildren) \"/\" \"Shared/mom/Bills\"".to_string()), "{dads:?}");
    // Bills/2026 is hidden from tom: no \HasChildren gives it away.
    let toms = lines(&mut tom, "SELECT Shared/mom/Bills");
    assert!(toms.contains(&"* LIST (\\HasNoChildren) \"/\" \"Shared/mom/Bills\"".to_string()), "{toms:?}");
    // Her \Sent is not dad's.
    let sent = lines(&mut dad, "EXAMINE Shared/mom/Sent");
    assert!(sent.contains(&"* LIST (\\HasNoChildren) \"/\" \"Shared/mom/Sent\"".to_string()), "{sent:?}");
}
