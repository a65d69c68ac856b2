//! RFC 4314 rights in every command that names or changes a mailbox
//! (issue 15; spec §1.6-§1.10), with mom, dad and tom: mom shares, dad
//! and tom use what she shares through `Shared/mom/...`. Rights are set
//! with `roost share` through the running server.

mod common;

use common::*;

fn family() -> Server {
    Server::start_with(Options { users: vec![("mom", "m0m"), ("dad", "d4d"), ("tom", "t0m")], ..Default::default() })
}

/// The family, mom having created `mailboxes` (each with one message when
/// `with_message`), and mom and dad logged in.
fn mom_shares(mailboxes: &[&str], with_message: bool) -> (Server, Client, Client) {
    let server = family();
    let mut mom = server.login("mom", "m0m");
    for mailbox in mailboxes {
        mom.ok(&format!("CREATE {mailbox}"));
        if with_message {
            mom.append_ok(mailbox, MESSAGE);
        }
    }
    let dad = server.login("dad", "d4d");
    (server, mom, dad)
}

const MESSAGE: &[u8] = b"From: mom@home\r\nSubject: bill\r\n\r\nPay it.\r\n";

/// Sets dad's rights on mom's `mailbox` to exactly `rights` ("" for none).
fn grant(server: &Server, mailbox: &str, rights: &str) {
    if rights.is_empty() {
        let (ok, _, stderr) = server.share_cli(&["del", "mom", mailbox, "dad"]);
        assert!(ok || stderr.contains("no entry"), "{stderr}");
    } else {
        server.share(&["add", "mom", mailbox, "dad", rights]);
    }
}

/// The tagged reply without its tag's status word (what Rule V compares).
fn text(tagged: &str) -> &str {
    tagged.split_once(' ').map_or(tagged, |(_, rest)| rest)
}

/// One row of the rights table: a command dad runs, the right it needs
/// (added to `base` for the allowed run), and how a name never created
/// answers (what a hidden mailbox must answer too).
struct Case<'a> {
    command: &'a str,
    /// The same command on a name never created; None for commands that
    /// need the mailbox selected (a hidden one cannot be).
    missing: Option<&'a str>,
    right: &'a str,
    base: &'a str,
    /// Which of mom's mailboxes the rights are set on.
    on: &'a str,
    /// Selected by dad before the command, if any.
    select: Option<&'a str>,
    /// Run before every attempt (results ignored): puts back what an
    /// allowed run changed.
    prepare: Prepare,
}

type Prepare = fn(&mut Client, &mut Client);

/// A [`Case`] as the table writes it, in the field order.
type Row<'a> = (&'a str, Option<&'a str>, &'a str, &'a str, &'a str, Option<&'a str>, Prepare);

fn nothing(_: &mut Client, _: &mut Client) {}

fn dad_has_a_message(_: &mut Client, dad: &mut Client) {
    dad.ok("SELECT INBOX");
    dad.append_ok("INBOX", MESSAGE);
}

fn mom_has_old(mom: &mut Client, _: &mut Client) {
    mom.command("CREATE Bills/Old");
}

fn mom_has_no_new(mom: &mut Client, _: &mut Client) {
    mom.command("DELETE Bills/New");
}

#[test]
fn each_right_allows_its_commands_and_its_absence_refuses_them() {
    let (server, mut mom, mut dad) = mom_shares(&["Bills"], true);
    let literal = |mailbox: &str| {
        // The client adds the CRLF that ends the command after the literal.
        format!("APPEND {mailbox} {{{}+}}\r\n{}", MESSAGE.len(), String::from_utf8_lossy(MESSAGE))
    };
    let (append, append_missing) = (literal("Shared/mom/Bills"), literal("Shared/mom/Nothing"));
    let selected = Some("SELECT Shared/mom/Bills");
    // (command, the same on a name never created, right, base rights, on, selected first, prepare)
    let table: [Row; 17] = [
        (&append, Some(&append_missing), "i", "lr", "Bills", None, nothing),
        (
            "STATUS Shared/mom/Bills (MESSAGES)",
            Some("STATUS Shared/mom/Nothing (MESSAGES)"),
            "r",
            "l",
            "Bills",
            None,
            nothing,
        ),
        ("GETACL Shared/mom/Bills", Some("GETACL Shared/mom/Nothing"), "a", "lr", "Bills", None, nothing),
        ("SETACL Shared/mom/Bills tom lr", Some("SETACL Shared/mom/Nothing tom lr"), "a", "lr", "Bills", None, nothing),
        ("DELETEACL Shared/mom/Bills tom", Some("DELETEACL Shared/mom/Nothing tom"), "a", "lr", "Bills", None, nothing),
        (
            "LISTRIGHTS Shared/mom/Bills tom",
            Some("LISTRIGHTS Shared/mom/Nothing tom"),
            "a",
            "lr",
            "Bills",
            None,
            nothing,
        ),
        // `i` makes the SELECT read-write, so STORE meets the flag rights.
        ("STORE 1 +FLAGS (\\Flagged)", None, "w", "lri", "Bills", selected, nothing),
        ("STORE 1 +FLAGS (\\Deleted)", None, "t", "lri", "Bills", selected, nothing),
        ("STORE 1 +FLAGS (\\Seen)", None, "s", "lri", "Bills", selected, nothing),
        ("SELECT Shared/mom/Bills", Some("SELECT Shared/mom/Nothing"), "r", "l", "Bills", None, nothing),
        ("EXAMINE Shared/mom/Bills", Some("EXAMINE Shared/mom/Nothing"), "r", "l", "Bills", None, nothing),
        ("COPY 1 Shared/mom/Bills", Some("COPY 1 Shared/mom/Nothing"), "i", "lr", "Bills", None, dad_has_a_message),
        ("MOVE 1 Shared/mom/Bills", Some("MOVE 1 Shared/mom/Nothing"), "i", "lr", "Bills", None, dad_has_a_message),
        (
            "DELETE Shared/mom/Bills/Old",
            Some("DELETE Shared/mom/Bills/Nothing"),
            "x",
            "lr",
            "Bills/Old",
            None,
            mom_has_old,
        ),
        (
            "CREATE Shared/mom/Bills/New",
            Some("CREATE Shared/mom/Nothing/New"),
            "k",
            "lr",
            "Bills",
            None,
            mom_has_no_new,
        ),
        ("EXPUNGE", None, "e", "lrw", "Bills", Some("SELECT Shared/mom/Bills"), nothing),
        ("UID EXPUNGE 1:*", None, "e", "lrw", "Bills", Some("SELECT Shared/mom/Bills"), nothing),
    ];
    let cases = table.map(|(command, missing, right, base, on, select, prepare)| Case {
        command,
        missing,
        right,
        base,
        on,
        select,
        prepare,
    });
    for case in &cases {
        let allowed = format!("{}{}", case.base, case.right);
        for (rights, expect_ok) in [(allowed.as_str(), true), (case.base, false)] {
            (case.prepare)(&mut mom, &mut dad);
            grant(&server, case.on, rights);
            if let Some(select) = case.select {
                dad.ok(select);
            }
            let (untagged, tagged) = dad.command(case.command);
            if expect_ok {
                assert!(tagged.starts_with("OK"), "{} with {rights}: {tagged} after {untagged:?}", case.command);
            } else {
                let right = format!("(no \"{}\" right)", case.right);
                assert!(
                    tagged.starts_with("NO [NOPERM]") && tagged.contains(&right),
                    "{} with {rights}: {tagged}",
                    case.command
                );
            }
            dad.command("UNSELECT");
        }
        // Rule V: with none of `l r i k x a` the mailbox is hidden, and the
        // answer is byte for byte a missing name's.
        if let Some(missing) = case.missing {
            (case.prepare)(&mut mom, &mut dad);
            grant(&server, case.on, "p");
            let (_, hidden) = dad.command(case.command);
            (case.prepare)(&mut mom, &mut dad);
            let (_, absent) = dad.command(missing);
            assert!(hidden.starts_with("NO"), "{}: {hidden}", case.command);
            assert_eq!(text(&hidden), text(&absent), "{} hidden vs {missing}", case.command);
            dad.command("UNSELECT");
        }
        grant(&server, case.on, "");
    }
}

#[test]
fn a_namespace_level_is_not_a_mailbox_and_an_unlisted_one_is_missing() {
    let (server, _mom, mut dad) = mom_shares(&["Bills"], false);
    let unlisted = dad.no("SELECT Shared/mom");
    assert_eq!(text(&unlisted), text(&dad.no("SELECT Shared/nobody")));
    assert!(unlisted.contains("[NONEXISTENT]"), "{unlisted}");
    grant(&server, "Bills", "lr");
    let level = dad.no("SELECT Shared/mom");
    assert!(level.starts_with("NO [CANNOT] Shared/mom is not a mailbox"), "{level}");
    let (_, append) = dad.append("Shared/mom", "", MESSAGE);
    assert!(append.starts_with("NO [CANNOT]"), "{append}");
    // CREATE outside one's own tree needs a parent with `k`: a level, an
    // unknown user and a hidden parent answer alike.
    let at_top = dad.no("CREATE Shared/mom/Top");
    assert!(at_top.starts_with("NO [CANNOT]"), "{at_top}");
    assert_eq!(text(&at_top), text(&dad.no("CREATE Shared/nobody/Top")));
    assert_eq!(text(&at_top), text(&dad.no("CREATE Shared/mom")));
    assert_eq!(text(&at_top), text(&dad.no("CREATE Family/Top")));
}

#[test]
fn append_and_copy_keep_only_the_flags_the_rights_allow() {
    let (server, mut mom, mut dad) = mom_shares(&["Bills"], false);
    dad.ok("SELECT INBOX");
    let flags = "(\\Answered \\Deleted \\Draft $Forwarded)";
    // RFC 4314 §4's example: `rwis` drops \Deleted; `rsti` drops
    // \Answered, $Forwarded and \Draft.
    for (rights, kept, dropped) in [
        ("lrwis", &["\\Answered", "\\Draft", "$Forwarded"][..], &["\\Deleted"][..]),
        ("lrsti", &["\\Deleted"][..], &["\\Answered", "\\Draft", "$Forwarded"][..]),
    ] {
        grant(&server, "Bills", rights);
        let (_, appended) = dad.append("Shared/mom/Bills", flags, MESSAGE);
        assert!(appended.starts_with("OK"), "{rights}: {appended}");
        let uid = dad.append_ok("INBOX", MESSAGE);
        dad.ok(&format!("UID STORE {uid} FLAGS {flags}"));
        dad.ok(&format!("UID COPY {uid} Shared/mom/Bills"));
        mom.ok("SELECT Bills");
        let fetched = mom.ok("FETCH 1:* FLAGS").join("\n");
        let last_two: Vec<&str> = fetched.lines().rev().take(2).collect();
        for line in last_two {
            for flag in kept {
                assert!(line.contains(flag), "{rights}: {flag} lost: {line}");
            }
            for flag in dropped {
                assert!(!line.contains(flag), "{rights}: {flag} kept: {line}");
            }
        }
        mom.ok("UNSELECT");
    }
}

#[test]
fn a_drop_box_learns_no_uids() {
    let (server, _mom, mut dad) = mom_shares(&["Drop"], false);
    dad.ok("SELECT INBOX");
    let uid = dad.append_ok("INBOX", MESSAGE);
    grant(&server, "Drop", "li");
    let (_, appended) = dad.append("Shared/mom/Drop", "", MESSAGE);
    assert!(appended.starts_with("OK") && !appended.contains("APPENDUID"), "{appended}");
    let (_, copied) = dad.command(&format!("UID COPY {uid} Shared/mom/Drop"));
    assert!(copied.starts_with("OK") && !copied.contains("COPYUID"), "{copied}");
    grant(&server, "Drop", "lri");
    let (_, appended) = dad.append("Shared/mom/Drop", "", MESSAGE);
    assert!(appended.contains("[APPENDUID "), "{appended}");
    let (_, copied) = dad.command(&format!("UID COPY {uid} Shared/mom/Drop"));
    assert!(copied.contains("[COPYUID "), "{copied}");
}

#[test]
fn move_needs_expunge_on_the_source_and_changes_nothing_without_it() {
    let (server, _mom, mut dad) = mom_shares(&["Bills"], true);
    grant(&server, "Bills", "lrwi");
    dad.ok("SELECT Shared/mom/Bills");
    let refused = dad.no("MOVE 1 INBOX");
    assert!(refused.starts_with("NO [NOPERM]") && refused.contains("\"e\""), "{refused}");
    let status = dad.ok("STATUS INBOX (MESSAGES)").join("");
    assert!(status.contains("MESSAGES 0"), "nothing was copied: {status}");
    // REPLACE expunges in the selected mailbox too (RFC 8508).
    let tag = dad.next_tag();
    dad.send(&format!("{tag} REPLACE 1 Shared/mom/Bills {{{}}}", MESSAGE.len()));
    let answer = dad.read_line();
    assert!(answer.starts_with(&format!("{tag} NO [NOPERM]")), "{answer}");
    grant(&server, "Bills", "lrwie");
    dad.ok("MOVE 1 INBOX");
}

#[test]
fn close_without_expunge_right_closes_and_keeps_the_deleted_messages() {
    let (server, mut mom, mut dad) = mom_shares(&["Bills"], true);
    mom.ok("SELECT Bills");
    mom.ok("STORE 1 +FLAGS (\\Deleted)");
    mom.ok("UNSELECT");
    grant(&server, "Bills", "lrw");
    dad.ok("SELECT Shared/mom/Bills");
    dad.ok("CLOSE");
    assert!(mom.ok("STATUS Bills (MESSAGES)").join("").contains("MESSAGES 1"));
    grant(&server, "Bills", "lrwe");
    dad.ok("SELECT Shared/mom/Bills");
    dad.ok("CLOSE");
    assert!(mom.ok("STATUS Bills (MESSAGES)").join("").contains("MESSAGES 0"));
}

#[test]
fn select_is_read_only_without_a_changing_right_and_permanentflags_follow_the_rights() {
    let (server, mut mom, mut dad) = mom_shares(&["Bills"], false);
    let cases = [
        ("lr", "READ-ONLY", "()"),
        // Dovecot's choice (spec Q2): `s` alone makes it READ-WRITE.
        ("lrs", "READ-WRITE", "(\\Seen)"),
        ("lrt", "READ-WRITE", "(\\Deleted)"),
        ("lre", "READ-WRITE", "()"),
        ("lri", "READ-WRITE", "()"),
        ("lrw", "READ-WRITE", "(\\Answered \\Flagged \\Draft \\*)"),
        ("lrswt", "READ-WRITE", "(\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)"),
    ];
    for (rights, mode, permanent) in cases {
        grant(&server, "Bills", rights);
        let (untagged, tagged) = dad.command("SELECT Shared/mom/Bills");
        assert!(tagged.starts_with(&format!("OK [{mode}]")), "{rights}: {tagged}");
        let expected = format!("* OK [PERMANENTFLAGS {permanent}]");
        assert!(untagged.iter().any(|line| line.starts_with(&expected)), "{rights}: {untagged:#?}");
    }
    // EXAMINE stays read-only whatever the rights.
    let (untagged, tagged) = dad.command("EXAMINE Shared/mom/Bills");
    assert!(tagged.starts_with("OK [READ-ONLY]"), "{tagged}");
    assert!(untagged.iter().any(|line| line.starts_with("* OK [PERMANENTFLAGS ()]")), "{untagged:#?}");
    // The owner's SELECT is as it always was.
    let (untagged, tagged) = mom.command("SELECT Bills");
    assert!(tagged.starts_with("OK [READ-WRITE]"), "{tagged}");
    assert!(
        untagged
            .iter()
            .any(|line| line.starts_with("* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)]")),
        "{untagged:#?}"
    );
}

#[test]
fn create_under_a_shared_mailbox_lands_in_the_owners_tree_with_its_acl() {
    let (server, mut mom, mut dad) = mom_shares(&["Bills"], false);
    server.share(&["add", "mom", "Bills", "tom", "lr"]);
    grant(&server, "Bills", "lrk");
    dad.ok("CREATE Shared/mom/Bills/2026/Water");
    let listed = mom.ok("LIST \"\" Bills/*").join("\n");
    assert!(listed.contains("Bills/2026/Water"), "{listed}");
    let acl = server.share(&["list"]);
    for made in ["Bills/2026", "Bills/2026/Water"] {
        let line =
            acl.lines().find(|line| line.starts_with(&format!("mom {made}:"))).unwrap_or_else(|| panic!("{acl}"));
        assert!(line.contains("dad lrk") && line.contains("tom lr"), "{line}");
    }
    dad.ok("SELECT Shared/mom/Bills/2026/Water");
    // Nothing went into dad's own tree.
    assert!(dad.no("SELECT Bills/2026/Water").contains("[NONEXISTENT]"));
}

#[test]
fn rename_needs_x_on_the_old_name_and_k_on_the_new_parent_within_one_owner() {
    let (server, mut mom, mut dad) = mom_shares(&["Bills/Old", "Archive/Bills"], false);
    grant(&server, "Bills/Old", "lr");
    grant(&server, "Archive", "lrk");
    let refused = dad.no("RENAME Shared/mom/Bills/Old Shared/mom/Archive/Old");
    assert!(refused.starts_with("NO [NOPERM]") && refused.contains("\"x\""), "{refused}");
    grant(&server, "Bills/Old", "lrx");
    grant(&server, "Archive", "lr");
    let refused = dad.no("RENAME Shared/mom/Bills/Old Shared/mom/Archive/Old");
    assert!(refused.starts_with("NO [NOPERM]") && refused.contains("\"k\""), "{refused}");
    let refused = dad.no("RENAME Shared/mom/Bills/Old Mine");
    assert!(refused.starts_with("NO [CANNOT] Cannot move a mailbox to another owner"), "{refused}");
    grant(&server, "Archive", "lrk");
    dad.ok("RENAME Shared/mom/Bills/Old Shared/mom/Archive/Old");
    let listed = mom.ok("LIST \"\" Archive/*").join("\n");
    assert!(listed.contains("Archive/Old"), "{listed}");
    // The ACL went with the mailbox.
    assert!(server.share(&["list"]).contains("mom Archive/Old: dad lrx"));
    // DELETE needs x as well, and SUBSCRIBE checks nothing.
    dad.ok("SUBSCRIBE Shared/mom/Archive/Old");
    dad.ok("SUBSCRIBE Shared/nobody/Whatever");
    dad.ok("DELETE Shared/mom/Archive/Old");
}

/// Reads lines until EOF; the lines.
fn rest(client: &mut Client) -> String {
    client.read_to_end()
}

#[test]
fn losing_read_while_idling_ends_the_session_at_once() {
    let (server, _mom, mut dad) = mom_shares(&["Bills"], false);
    grant(&server, "Bills", "lrs");
    dad.ok("SELECT Shared/mom/Bills");
    dad.send("i1 IDLE");
    assert!(dad.read_line().starts_with('+'));
    grant(&server, "Bills", "l");
    // No DONE sent: the BYE comes by itself.
    let line = dad.read_line();
    assert_eq!(line, "* BYE [NOPERM] Access to the selected mailbox was withdrawn");
    assert_eq!(rest(&mut dad), "");
}

#[test]
fn losing_read_while_busy_ends_the_session_before_the_next_command() {
    let (server, _mom, mut dad) = mom_shares(&["Bills"], true);
    grant(&server, "Bills", "lrs");
    dad.ok("SELECT Shared/mom/Bills");
    grant(&server, "Bills", "");
    dad.send("f1 FETCH 1 BODY.PEEK[]");
    let answer = rest(&mut dad);
    assert_eq!(answer, "* BYE [NOPERM] Access to the selected mailbox was withdrawn\r\n", "the FETCH did not run");
    // Another session of dad's, with something else selected, goes on.
    let mut other = server.login("dad", "d4d");
    other.ok("SELECT INBOX");
    grant(&server, "Bills", "lr");
    other.ok("NOOP");
}

#[test]
fn rights_changed_while_selected_count_from_the_next_command() {
    let (server, _mom, mut dad) = mom_shares(&["Bills"], false);
    grant(&server, "Bills", "lrwte");
    dad.ok("SELECT Shared/mom/Bills");
    dad.ok("EXPUNGE");
    // Only `e` gone: PERMANENTFLAGS are the same, so not sent again.
    server.share(&["add", "mom", "Bills", "dad", "-e"]);
    let (untagged, tagged) = dad.command("EXPUNGE");
    assert!(tagged.starts_with("NO [NOPERM] You may not expunge"), "{tagged}");
    assert!(untagged.iter().all(|line| !line.contains("PERMANENTFLAGS")), "{untagged:#?}");
    // `w` gone: new PERMANENTFLAGS, still READ-WRITE.
    server.share(&["add", "mom", "Bills", "dad", "-w"]);
    let untagged = dad.ok("NOOP");
    assert!(untagged.contains(&"* OK [PERMANENTFLAGS (\\Deleted)] Flags permitted".to_string()), "{untagged:#?}");
    assert!(untagged.iter().all(|line| !line.contains("READ-")), "{untagged:#?}");
    // Nothing of `i e w t s` left: READ-ONLY.
    server.share(&["add", "mom", "Bills", "dad", "-t"]);
    let untagged = dad.ok("NOOP");
    assert!(untagged.iter().any(|line| line.starts_with("* OK [PERMANENTFLAGS ()]")), "{untagged:#?}");
    assert!(untagged.iter().any(|line| line.starts_with("* OK [READ-ONLY]")), "{untagged:#?}");
    // And back.
    server.share(&["add", "mom", "Bills", "dad", "+w"]);
    let untagged = dad.ok("NOOP");
    assert!(untagged.iter().any(|line| line.starts_with("* OK [READ-WRITE]")), "{untagged:#?}");
    // An idling session is told at once.
    dad.send("i1 IDLE");
    assert!(dad.read_line().starts_with('+'));
    server.share(&["add", "mom", "Bills", "dad", "+s"]);
    let line = dad.read_line();
    assert!(line.starts_with("* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Seen \\Draft \\*)]"), "{line}");
    dad.send("DONE");
    let (_, tagged) = dad.until_tagged("i1");
    assert!(tagged.starts_with("OK"), "{tagged}");
}

#[test]
fn deleting_a_user_removes_their_rights_subscriptions_and_selected_sessions() {
    let server = family();
    let mut dad = server.login("dad", "d4d");
    dad.ok("CREATE Stuff");
    let mut mom = server.login("mom", "m0m");
    mom.ok("CREATE Bills");
    grant(&server, "Bills", "lr");
    server.share(&["add", "dad", "Stuff", "tom", "lr"]);
    let mut tom = server.login("tom", "t0m");
    tom.ok("SUBSCRIBE Shared/dad/Stuff");
    tom.ok("SUBSCRIBE Shared/dadaist/Thing");
    let mut watching = server.login("tom", "t0m");
    watching.ok("SELECT Shared/dad/Stuff");
    let subscribed = tom.ok("LSUB \"\" *").join("\n");
    assert!(subscribed.contains("Shared/dad/Stuff"), "{subscribed}");
    let config = server.config_arg();
    let (ok, _, stderr) = run_cli(&["user", "del", "dad", "--config", &config], Some("dad\n"));
    assert!(ok, "{stderr}");
    let subscribed = tom.ok("LSUB \"\" *").join("\n");
    assert!(!subscribed.contains("Shared/dad/"), "{subscribed}");
    assert!(subscribed.contains("Shared/dadaist/Thing"), "only dad's went: {subscribed}");
    assert!(!server.share(&["list"]).contains("dad"));
    watching.send("n1 NOOP");
    let answer = rest(&mut watching);
    assert!(answer.starts_with("* BYE Selected mailbox was deleted"), "{answer}");
    // A new dad inherits nothing.
    let (ok, _, stderr) = run_cli(&["user", "add", "dad", "--config", &config], Some("n3w\n"));
    assert!(ok, "{stderr}");
    let mut new_dad = server.login("dad", "n3w");
    let refused = new_dad.no("SELECT Shared/mom/Bills");
    assert!(refused.contains("[NONEXISTENT]"), "{refused}");
}

#[test]
fn catenate_urls_need_read_on_their_mailbox_and_hidden_ones_are_missing() {
    let (server, _mom, mut dad) = mom_shares(&["Bills"], true);
    let catenate = |dad: &mut Client, mailbox: &str| {
        let (_, tagged) = dad.command(&format!("APPEND INBOX CATENATE (URL /Shared/mom/{mailbox}/;UID=1)"));
        tagged
    };
    grant(&server, "Bills", "l");
    let refused = catenate(&mut dad, "Bills");
    assert!(refused.starts_with("NO [BADURL ") && refused.contains("(no \"r\" right)"), "{refused}");
    grant(&server, "Bills", "p");
    let hidden = catenate(&mut dad, "Bills");
    let missing = catenate(&mut dad, "Nothing");
    assert_eq!(hidden.replace("Bills", "Nothing"), missing);
    grant(&server, "Bills", "lr");
    let copied = catenate(&mut dad, "Bills");
    assert!(copied.starts_with("OK"), "{copied}");
}
