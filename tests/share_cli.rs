//! `roost share list|add|del`: ACL entries set by the administrator
//! through the running server (issue 15), with clear errors for what
//! cannot be done.

mod common;

use common::*;

fn family() -> Server {
    Server::start_with(Options { users: vec![("mom", "m0m"), ("dad", "d4d"), ("tom", "t0m")], ..Default::default() })
}

#[test]
fn share_add_list_and_del_change_the_acl() {
    let server = family();
    let mut mom = server.login("mom", "m0m");
    mom.ok("CREATE Bills");
    mom.ok("CREATE \"Old Letters\"");
    assert!(server.share(&["list"]).contains("nothing is shared"));
    assert!(server.share(&["add", "mom", "Bills", "dad", "lrswi"]).contains("now: lrswi"));
    assert!(server.share(&["add", "mom", "Bills", "dad", "+te"]).contains("now: lrswite"));
    assert!(server.share(&["add", "mom", "Bills", "authenticated", "lr"]).contains("now: lr"));
    assert!(server.share(&["add", "mom", "Old Letters", "tom", "lrs"]).contains("now: lrs"));
    // `c` and `d` are the obsolete rights, stored as k x and t e.
    assert!(server.share(&["add", "mom", "Bills", "tom", "lrc"]).contains("now: lrkx"));
    let list = server.share(&["list"]);
    assert!(
        list.contains("mom Bills: tom lrkx, authenticated lr, dad lrswite")
            || list.contains("mom Bills: dad lrswite, tom lrkx, authenticated lr"),
        "{list}"
    );
    assert!(list.contains("mom Old Letters: tom lrs"), "{list}");
    server.share(&["del", "mom", "Bills", "tom"]);
    server.share(&["add", "mom", "Bills", "dad", "-swite"]);
    let list = server.share(&["list"]);
    assert!(list.contains("mom Bills: dad lr, authenticated lr"), "{list}");
    assert!(!list.contains("tom lrkx"), "{list}");
    // The CLI's "is a server running?" probe is no failed request.
    assert!(!server.log_text().contains("control request failed"), "{}", server.log_text());
}

#[test]
fn share_refuses_what_it_cannot_do_and_says_why() {
    let server = family();
    server.login("mom", "m0m").ok("CREATE Bills");
    let cases: [(&[&str], &str); 7] = [
        (&["add", "mom", "Nothing", "dad", "lr"], "mom has no mailbox \"Nothing\""),
        (&["add", "nobody", "Bills", "dad", "lr"], "no user \"nobody\""),
        (&["add", "mom", "Bills", "nobody", "lr"], "no user \"nobody\""),
        (&["add", "mom", "Bills", "mom", "lr"], "the owner of a mailbox always has every right"),
        (&["add", "mom", "Bills", "dad", "lrQ"], "\"lrQ\""),
        (&["add", "mom", "Bills", "dad"], "expected OWNER MAILBOX WHO RIGHTS"),
        (&["add", "--public", "Bills", "dad", "lr"], "the household has no mailbox \"Bills\""),
    ];
    for (words, expected) in cases {
        let (ok, _, stderr) = server.share_cli(words);
        assert!(!ok && stderr.contains(expected), "roost share {}: {stderr}", words.join(" "));
    }
    // Nothing was stored by the refusals.
    assert!(server.share(&["list"]).contains("nothing is shared"));
}

#[test]
fn share_needs_the_running_server() {
    let mut server = family();
    server.stop();
    let (ok, _, stderr) = server.share_cli(&["list"]);
    assert!(!ok && stderr.contains("the server is not running"), "{stderr}");
}

#[test]
fn a_shared_mailbox_is_selected_by_its_shared_name_with_the_read_right() {
    let server = family();
    server.login("mom", "m0m").ok("CREATE Bills");
    let mut dad = server.login("dad", "d4d");
    // Not shared: exactly what a name never created gets (RFC 4314 §6).
    let hidden = dad.no("SELECT Shared/mom/Bills");
    let missing = dad.no("SELECT Shared/mom/Nothing");
    assert_eq!(hidden.split_once(' ').unwrap().1, missing.split_once(' ').unwrap().1);
    assert!(hidden.contains("[NONEXISTENT]"), "{hidden}");
    server.share(&["add", "mom", "Bills", "dad", "l"]);
    let refused = dad.no("SELECT Shared/mom/Bills");
    assert!(refused.contains("[NOPERM]"), "{refused}");
    server.share(&["add", "mom", "Bills", "dad", "+r"]);
    dad.ok("SELECT Shared/mom/Bills");
    // Dad's own names are not under Shared/dad/.
    assert!(dad.no("SELECT Shared/dad/INBOX").contains("[NONEXISTENT]"));
}
