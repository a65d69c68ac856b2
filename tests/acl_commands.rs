//! SETACL, DELETEACL, GETACL, LISTRIGHTS and MYRIGHTS (RFC 4314 §3) over
//! a real socket, with the family: mom and dad (parents) and tom (child).
//! Responses are compared byte for byte.

mod common;

use common::*;

fn family() -> Server {
    Server::start_with(Options { users: vec![("mom", "m0m"), ("dad", "d4d"), ("tom", "t0m")], ..Default::default() })
}

/// GETACL's one untagged line.
fn acl(client: &mut Client, mailbox: &str) -> String {
    let untagged = client.ok(&format!("GETACL {mailbox}"));
    assert_eq!(untagged.len(), 1, "{untagged:?}");
    untagged[0].clone()
}

/// The tagged answer, without its tag, and the untagged lines before it.
fn answer(client: &mut Client, command: &str) -> (Vec<String>, String) {
    client.command(command)
}

#[test]
fn setacl_adds_removes_and_replaces_with_c_and_d_as_rfc_4314_shows() {
    let server = family();
    let mut mom = server.login("mom", "m0m");
    mom.ok("CREATE Bills");
    // A new mailbox: only its owner, with every right (and c, d: RFC 4314 §2.1.1).
    assert_eq!(acl(&mut mom, "Bills"), "* ACL \"Bills\" mom lrswipkxteacd");
    // RFC 4314 §2.1.1's example: "lrswida" reads back with d's members (e t).
    mom.ok("SETACL Bills dad lrswida");
    assert_eq!(acl(&mut mom, "Bills"), "* ACL \"Bills\" mom lrswipkxteacd dad lrswitead");
    // §3.1's example: "+cda" adds k x (c), e t (d) and a.
    mom.ok("SETACL Bills dad +cda");
    assert_eq!(acl(&mut mom, "Bills"), "* ACL \"Bills\" mom lrswipkxteacd dad lrswikxteacd");
    mom.ok("SETACL Bills dad -c");
    assert_eq!(acl(&mut mom, "Bills"), "* ACL \"Bills\" mom lrswipkxteacd dad lrswitead");
    mom.ok("SETACL Bills dad -da");
    assert_eq!(acl(&mut mom, "Bills"), "* ACL \"Bills\" mom lrswipkxteacd dad lrswi");
    // Without a sign the rights are replaced; quoted and literal forms too.
    mom.ok("SETACL Bills dad \"lr\"");
    mom.ok("SETACL Bills {3+}\r\ntom {2+}\r\nlr");
    mom.ok("SETACL Bills authenticated l");
    mom.ok("SETACL Bills anyone p");
    assert_eq!(acl(&mut mom, "Bills"), "* ACL \"Bills\" mom lrswipkxteacd dad lr tom lr authenticated l anyone p");
    // An empty replacement leaves no entry; DELETEACL of no entry is no error.
    mom.ok("SETACL Bills tom \"\"");
    mom.ok("DELETEACL Bills anyone");
    mom.ok("DELETEACL Bills anyone");
    assert_eq!(acl(&mut mom, "Bills"), "* ACL \"Bills\" mom lrswipkxteacd dad lr authenticated l");
    // Each command's tagged text.
    let (_, tagged) = answer(&mut mom, "SETACL Bills dad +s");
    assert_eq!(tagged, "OK SETACL completed");
    let (_, tagged) = answer(&mut mom, "DELETEACL Bills dad");
    assert_eq!(tagged, "OK DELETEACL completed");
}

#[test]
fn unknown_and_uppercase_rights_are_bad_and_change_nothing() {
    let server = family();
    let mut mom = server.login("mom", "m0m");
    mom.ok("CREATE Bills");
    mom.ok("SETACL Bills dad lr");
    // RFC 4314 §3.1's own examples: both MUST be BAD.
    assert_eq!(
        mom.bad("SETACL Bills dad lrQswicda"),
        "BAD Error in IMAP command: uppercase rights are not allowed: Q (RFC 4314 section 2)"
    );
    assert_eq!(
        mom.bad("SETACL Bills dad +lrqswicda"),
        "BAD Error in IMAP command: the q right is not supported (rights: lrswipkxtea, and c d)"
    );
    assert!(mom.bad("SETACL Bills dad l0").contains("the 0 right is not supported"));
    // An identifier no user can have (RFC 4314 §3: BAD); an empty one.
    assert_eq!(
        mom.bad("SETACL Bills \"two words\" lr"),
        "BAD \"two words\" is not a user name: a user name may contain letters, digits and . _ - @ + only"
    );
    assert!(mom.bad("SETACL Bills \"\" lr").contains("empty identifier"));
    assert_eq!(acl(&mut mom, "Bills"), "* ACL \"Bills\" mom lrswipkxteacd dad lr");
}

#[test]
fn identifiers_users_normalized_unknown_refused_anyone_never_administers() {
    let server = family();
    let mut mom = server.login("mom", "m0m");
    mom.ok("CREATE Bills");
    // Normalized as LOGIN is (user names are lower case).
    mom.ok("SETACL Bills DAD lr");
    assert_eq!(acl(&mut mom, "Bills"), "* ACL \"Bills\" mom lrswipkxteacd dad lr");
    // A valid name that is no user: nothing is stored for a later "grandma".
    assert_eq!(mom.no("SETACL Bills grandma lr"), "NO [NONEXISTENT] No such user");
    assert_eq!(mom.no("DELETEACL Bills grandma"), "NO [NONEXISTENT] No such user");
    assert_eq!(mom.no("LISTRIGHTS Bills grandma"), "NO [NONEXISTENT] No such user");
    // `a` for everyone would let every child change who reads mom's mail.
    assert_eq!(mom.no("SETACL Bills anyone lra"), "NO [CANNOT] The \"a\" right cannot be granted to anyone");
    assert_eq!(
        mom.no("SETACL Bills authenticated +a"),
        "NO [CANNOT] The \"a\" right cannot be granted to authenticated"
    );
    assert_eq!(acl(&mut mom, "Bills"), "* ACL \"Bills\" mom lrswipkxteacd dad lr");
    // LISTRIGHTS (RFC 4314 §3.4): the identifier echoed as sent, the
    // rights it always has, then each right it may be given.
    assert_eq!(mom.ok("LISTRIGHTS Bills Dad"), ["* LISTRIGHTS \"Bills\" Dad \"\" l r s w i p k x t e a c d"]);
    assert_eq!(mom.ok("LISTRIGHTS Bills anyone"), ["* LISTRIGHTS \"Bills\" anyone \"\" l r s w i p k x t e c d"]);
    assert_eq!(
        mom.ok("LISTRIGHTS Bills authenticated"),
        ["* LISTRIGHTS \"Bills\" authenticated \"\" l r s w i p k x t e c d"]
    );
    assert_eq!(mom.ok("LISTRIGHTS Bills -tom"), ["* LISTRIGHTS \"Bills\" -tom \"\" l r s w i p k x t e a c d"]);
}

#[test]
fn negative_entries_take_rights_away_from_one_user() {
    let server = family();
    let mut mom = server.login("mom", "m0m");
    mom.ok("CREATE School");
    mom.ok("SETACL School authenticated lrs");
    mom.ok("SETACL School -tom rs");
    assert_eq!(acl(&mut mom, "School"), "* ACL \"School\" mom lrswipkxteacd -tom rs authenticated lrs");
    let mut dad = server.login("dad", "d4d");
    let mut tom = server.login("tom", "t0m");
    assert_eq!(dad.ok("MYRIGHTS Shared/mom/School"), ["* MYRIGHTS \"Shared/mom/School\" lrs"]);
    assert_eq!(tom.ok("MYRIGHTS Shared/mom/School"), ["* MYRIGHTS \"Shared/mom/School\" l"]);
    dad.ok("EXAMINE Shared/mom/School");
    assert!(tom.no("EXAMINE Shared/mom/School").starts_with("NO [NOPERM]"));
    // A positive and a negative entry for one user are separate entries.
    mom.ok("SETACL School tom +w");
    assert_eq!(acl(&mut mom, "School"), "* ACL \"School\" mom lrswipkxteacd tom w -tom rs authenticated lrs");
    mom.ok("DELETEACL School -tom");
    assert_eq!(acl(&mut mom, "School"), "* ACL \"School\" mom lrswipkxteacd tom w authenticated lrs");
    assert_eq!(tom.ok("MYRIGHTS Shared/mom/School"), ["* MYRIGHTS \"Shared/mom/School\" lrsw"]);
    tom.ok("EXAMINE Shared/mom/School");
}

#[test]
fn the_owner_keeps_every_right() {
    let server = family();
    let mut mom = server.login("mom", "m0m");
    mom.ok("CREATE Bills");
    mom.ok("SETACL Bills dad lr");
    // What leaves the owner every right is OK and changes nothing (a
    // client saving its whole ACL back sends exactly this).
    let (_, tagged) = answer(&mut mom, "SETACL Bills mom lrswipkxtea");
    assert_eq!(tagged, "OK SETACL completed (the owner keeps every right)");
    mom.ok("SETACL Bills mom +cd");
    mom.ok("SETACL Bills Mom \"+\"");
    mom.ok("SETACL Bills -mom \"\"");
    mom.ok("SETACL Bills -mom -w");
    let (_, tagged) = answer(&mut mom, "DELETEACL Bills mom");
    assert_eq!(tagged, "OK DELETEACL completed (the owner keeps every right)");
    // What would take a right away is refused, not claimed done.
    for command in ["SETACL Bills mom -x", "SETACL Bills mom lr", "SETACL Bills mom \"\"", "SETACL Bills -mom a"] {
        assert_eq!(mom.no(command), "NO [CANNOT] The owner of a mailbox always has every right on it", "{command}");
    }
    assert_eq!(acl(&mut mom, "Bills"), "* ACL \"Bills\" mom lrswipkxteacd dad lr");
    assert_eq!(mom.ok("MYRIGHTS Bills"), ["* MYRIGHTS \"Bills\" lrswipkxteacd"]);
    // LISTRIGHTS never offers what SETACL would refuse: all are required.
    assert_eq!(mom.ok("LISTRIGHTS Bills mom"), ["* LISTRIGHTS \"Bills\" mom lrswipkxtea c d"]);
    // dad, given `a`, administers mom's Bills, but cannot lower mom either.
    mom.ok("SETACL Bills dad +a");
    let mut dad = server.login("dad", "d4d");
    assert_eq!(
        dad.no("SETACL Shared/mom/Bills mom lr"),
        "NO [CANNOT] The owner of a mailbox always has every right on it"
    );
    dad.ok("SETACL Shared/mom/Bills tom lrs");
    assert_eq!(acl(&mut dad, "Shared/mom/Bills"), "* ACL \"Shared/mom/Bills\" mom lrswipkxteacd dad lra tom lrs");
    assert_eq!(dad.ok("LISTRIGHTS Shared/mom/Bills mom"), ["* LISTRIGHTS \"Shared/mom/Bills\" mom lrswipkxtea c d"]);
}

#[test]
fn hidden_mailboxes_answer_exactly_as_missing_ones() {
    let server = family();
    let mut mom = server.login("mom", "m0m");
    mom.ok("CREATE Diary");
    mom.ok("CREATE Letters");
    // `p` alone does not make a mailbox visible (RFC 4314 §4: MYRIGHTS
    // needs one of l r i k x a).
    mom.ok("SETACL Letters dad p");
    let mut dad = server.login("dad", "d4d");
    for hidden in ["Shared/mom/Diary", "Shared/mom/Letters"] {
        for command in [
            "GETACL {}",
            "MYRIGHTS {}",
            "SETACL {} dad lr",
            "SETACL {} grandma lr",
            "DELETEACL {} dad",
            "LISTRIGHTS {} anyone",
        ] {
            let seen = answer(&mut dad, &command.replace("{}", hidden));
            let missing = answer(&mut dad, &command.replace("{}", "Shared/mom/Never"));
            assert_eq!(seen, missing, "{command} on {hidden}");
            assert_eq!(seen, (vec![], "NO [NONEXISTENT] Mailbox does not exist".to_string()));
        }
    }
    // RFC 4314 §6's example: GETACL on a mailbox of another user's.
    let (_, tagged) = answer(&mut dad, "GETACL Shared/mom/Diary");
    assert_eq!(tagged, "NO [NONEXISTENT] Mailbox does not exist");
    // Nothing was changed by dad's attempts.
    assert_eq!(acl(&mut mom, "Diary"), "* ACL \"Diary\" mom lrswipkxteacd");
    assert_eq!(acl(&mut mom, "Letters"), "* ACL \"Letters\" mom lrswipkxteacd dad p");
}

#[test]
fn administering_needs_the_a_right() {
    let server = family();
    let mut mom = server.login("mom", "m0m");
    mom.ok("CREATE Bills");
    mom.ok("SETACL Bills dad lrswi");
    let mut dad = server.login("dad", "d4d");
    assert_eq!(dad.ok("MYRIGHTS Shared/mom/Bills"), ["* MYRIGHTS \"Shared/mom/Bills\" lrswi"]);
    let refusal = "NO [NOPERM] You may not administer this mailbox (no \"a\" right)";
    for command in [
        "GETACL Shared/mom/Bills",
        "SETACL Shared/mom/Bills dad +a",
        "SETACL Shared/mom/Bills grandma lr",
        "DELETEACL Shared/mom/Bills dad",
        "LISTRIGHTS Shared/mom/Bills tom",
    ] {
        assert_eq!(dad.no(command), refusal, "{command}");
    }
    assert_eq!(acl(&mut mom, "Bills"), "* ACL \"Bills\" mom lrswipkxteacd dad lrswi");
    // With `a`, dad may; MYRIGHTS works with any of l r i k x a: here i alone.
    mom.ok("SETACL Bills tom i");
    let mut tom = server.login("tom", "t0m");
    assert_eq!(tom.ok("MYRIGHTS Shared/mom/Bills"), ["* MYRIGHTS \"Shared/mom/Bills\" i"]);
    assert_eq!(tom.no("GETACL Shared/mom/Bills"), refusal);
    mom.ok("SETACL Bills dad +a");
    dad.ok("DELETEACL Shared/mom/Bills tom");
    assert_eq!(tom.no("MYRIGHTS Shared/mom/Bills"), "NO [NONEXISTENT] Mailbox does not exist");
}

#[test]
fn a_grant_works_at_once_for_the_grantee() {
    let server = family();
    let mut mom = server.login("mom", "m0m");
    mom.ok("CREATE Bills");
    let mut dad = server.login("dad", "d4d");
    assert_eq!(dad.no("SELECT Shared/mom/Bills"), "NO [NONEXISTENT] Mailbox does not exist");
    mom.ok("SETACL Bills dad lr");
    dad.ok("SELECT Shared/mom/Bills");
    dad.ok("UNSELECT");
    mom.ok("SETACL Bills dad -r");
    assert!(dad.no("SELECT Shared/mom/Bills").starts_with("NO [NOPERM]"));
    mom.ok("DELETEACL Bills dad");
    assert_eq!(dad.no("SELECT Shared/mom/Bills"), "NO [NONEXISTENT] Mailbox does not exist");
    assert_eq!(dad.no("MYRIGHTS Shared/mom/Bills"), "NO [NONEXISTENT] Mailbox does not exist");
}

#[test]
fn an_acknowledged_setacl_survives_kill_9() {
    let mut server = family();
    let mut mom = server.login("mom", "m0m");
    mom.ok("CREATE Bills");
    mom.ok("SETACL Bills dad lrs");
    mom.ok("SETACL Bills -tom r");
    mom.ok("SETACL Bills authenticated l");
    // No LOGOUT, no clean stop: the OK came after the commit.
    server.kill();
    server.spawn();
    let mut mom = server.login("mom", "m0m");
    assert_eq!(acl(&mut mom, "Bills"), "* ACL \"Bills\" mom lrswipkxteacd dad lrs -tom r authenticated l");
    mom.ok("DELETEACL Bills dad");
    server.kill();
    server.spawn();
    let mut mom = server.login("mom", "m0m");
    assert_eq!(acl(&mut mom, "Bills"), "* ACL \"Bills\" mom lrswipkxteacd -tom r authenticated l");
    let mut dad = server.login("dad", "d4d");
    assert_eq!(dad.ok("MYRIGHTS Shared/mom/Bills"), ["* MYRIGHTS \"Shared/mom/Bills\" l"]);
}

#[test]
fn mailbox_names_go_out_as_the_session_speaks_them() {
    let server = family();
    let mut mom = server.login("mom", "m0m");
    mom.ok("CREATE Entw&APw-rfe");
    mom.ok("SETACL Entw&APw-rfe dad lr");
    assert_eq!(acl(&mut mom, "Entw&APw-rfe"), "* ACL \"Entw&APw-rfe\" mom lrswipkxteacd dad lr");
    let mut dad = server.login("dad", "d4d");
    dad.ok("ENABLE UTF8=ACCEPT");
    assert_eq!(dad.ok("MYRIGHTS \"Shared/mom/Entwürfe\""), ["* MYRIGHTS \"Shared/mom/Entwürfe\" lr"]);
}

#[test]
fn deleting_a_user_removes_their_entries_and_a_new_namesake_inherits_nothing() {
    let server = family();
    let mut mom = server.login("mom", "m0m");
    mom.ok("CREATE Bills");
    mom.ok("SETACL Bills dad lrs");
    mom.ok("SETACL Bills -dad w");
    mom.ok("SETACL Bills tom lr");
    let config = server.config_arg();
    let (ok, _, stderr) = run_cli(&["user", "del", "dad", "--yes", "--config", &config], None);
    assert!(ok, "{stderr}");
    // RFC 4314 §3.3's list no longer names dad (spec §1.10).
    assert_eq!(acl(&mut mom, "Bills"), "* ACL \"Bills\" mom lrswipkxteacd tom lr");
    assert_eq!(mom.no("SETACL Bills dad lr"), "NO [NONEXISTENT] No such user");
    let (ok, _, stderr) = run_cli(&["user", "add", "dad", "--config", &config], Some("d4d\n"));
    assert!(ok, "{stderr}");
    let mut dad = server.login("dad", "d4d");
    assert_eq!(dad.no("MYRIGHTS Shared/mom/Bills"), "NO [NONEXISTENT] Mailbox does not exist");
    assert_eq!(acl(&mut mom, "Bills"), "* ACL \"Bills\" mom lrswipkxteacd tom lr");
}
