//! LIST-EXTENDED (RFC 5258), LIST-STATUS (RFC 5819) and the SPECIAL-USE
//! selection and return options (RFC 6154 §3), against the real server.
//! The RFC 5258 §5 examples are adapted to roost's default mailboxes
//! (INBOX, Archive, Drafts, Junk, Sent, Trash; all subscribed).

mod common;

use common::*;

const DEFAULTS: [&str; 6] = [
    "* LIST (\\HasNoChildren) \"/\" \"INBOX\"",
    "* LIST (\\HasNoChildren \\Archive) \"/\" \"Archive\"",
    "* LIST (\\HasNoChildren \\Drafts) \"/\" \"Drafts\"",
    "* LIST (\\HasNoChildren \\Junk) \"/\" \"Junk\"",
    "* LIST (\\HasNoChildren \\Sent) \"/\" \"Sent\"",
    "* LIST (\\HasNoChildren \\Trash) \"/\" \"Trash\"",
];

#[test]
fn capabilities_name_the_list_extensions() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    let untagged = client.ok("CAPABILITY");
    let words: Vec<&str> = untagged[0].split_whitespace().collect();
    for capability in ["LIST-EXTENDED", "LIST-STATUS", "SPECIAL-USE", "STATUS=SIZE", "CHILDREN"] {
        assert!(words.contains(&capability), "{capability} missing from {words:?}");
    }
}

#[test]
fn plain_list_and_empty_options_answer_alike() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    assert_eq!(client.ok("LIST \"\" *"), DEFAULTS);
    // RFC 5258 §3: empty selection options, REMOTE (no remote mailboxes
    // here) and an empty RETURN list change nothing.
    assert_eq!(client.ok("LIST () \"\" *"), DEFAULTS);
    assert_eq!(client.ok("LIST (REMOTE) \"\" % RETURN ()"), DEFAULTS);
    assert_eq!(client.ok("LIST \"\" * RETURN (CHILDREN)"), DEFAULTS);
    assert_eq!(client.ok("LIST \"\" * RETURN (SPECIAL-USE)"), DEFAULTS);
    assert_eq!(client.ok("LIST \"\" \"\""), ["* LIST (\\Noselect) \"/\" \"\""]);
}

#[test]
fn several_patterns_list_each_mailbox_once() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    client.ok("CREATE Sent/2024");
    // RFC 5258 §5 example 3 style: a list of patterns.
    assert_eq!(
        client.ok("LIST \"\" (\"INBOX\" \"S*\" \"Sent\" \"%/2024\")"),
        [
            "* LIST (\\HasNoChildren) \"/\" \"INBOX\"",
            "* LIST (\\HasChildren \\Sent) \"/\" \"Sent\"",
            "* LIST (\\HasNoChildren) \"/\" \"Sent/2024\"",
        ]
    );
    assert_eq!(client.ok("LIST \"Sent/\" (\"%\" \"nothing\")"), ["* LIST (\\HasNoChildren) \"/\" \"Sent/2024\""]);
}

#[test]
fn subscribed_selection_lists_subscriptions_with_nonexistent_ones() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    client.ok("UNSUBSCRIBE Junk");
    client.ok("SUBSCRIBE Gone");
    client.ok("CREATE Fruit/Banana");
    client.ok("SUBSCRIBE Fruit/Banana");
    // RFC 5258 §5 example 2, adapted.
    assert_eq!(
        client.ok("LIST (SUBSCRIBED) \"\" \"*\""),
        [
            "* LIST (\\Subscribed \\HasNoChildren) \"/\" \"INBOX\"",
            "* LIST (\\Subscribed \\HasNoChildren \\Archive) \"/\" \"Archive\"",
            "* LIST (\\Subscribed \\HasNoChildren \\Drafts) \"/\" \"Drafts\"",
            "* LIST (\\Subscribed \\HasNoChildren) \"/\" \"Fruit/Banana\"",
            "* LIST (\\NonExistent \\Subscribed) \"/\" \"Gone\"",
            "* LIST (\\Subscribed \\HasNoChildren \\Sent) \"/\" \"Sent\"",
            "* LIST (\\Subscribed \\HasNoChildren \\Trash) \"/\" \"Trash\"",
        ]
    );
    // RETURN (SUBSCRIBED) marks subscriptions among all mailboxes.
    assert_eq!(
        client.ok("LIST \"\" \"%\" RETURN (SUBSCRIBED)"),
        [
            "* LIST (\\Subscribed \\HasNoChildren) \"/\" \"INBOX\"",
            "* LIST (\\Subscribed \\HasNoChildren \\Archive) \"/\" \"Archive\"",
            "* LIST (\\Subscribed \\HasNoChildren \\Drafts) \"/\" \"Drafts\"",
            "* LIST (\\HasChildren) \"/\" \"Fruit\"",
            "* LIST (\\HasNoChildren \\Junk) \"/\" \"Junk\"",
            "* LIST (\\Subscribed \\HasNoChildren \\Sent) \"/\" \"Sent\"",
            "* LIST (\\Subscribed \\HasNoChildren \\Trash) \"/\" \"Trash\"",
        ]
    );
    // The plain LSUB of old clients is unchanged.
    let lsub = client.ok("LSUB \"\" \"*\"");
    assert!(lsub.contains(&"* LSUB (\\Noselect) \"/\" \"Gone\"".to_string()), "{lsub:?}");
    assert!(lsub.contains(&"* LSUB () \"/\" \"Fruit/Banana\"".to_string()), "{lsub:?}");
}

#[test]
fn recursivematch_reports_parents_of_subscribed_children() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    for name in ["Foo", "Foo/Bar", "Baz", "Baz/Bar", "Tofu"] {
        client.ok(&format!("CREATE {name}"));
    }
    for name in ["INBOX", "Archive", "Drafts", "Junk", "Sent", "Trash"] {
        client.ok(&format!("UNSUBSCRIBE {name}"));
    }
    client.ok("SUBSCRIBE Foo/Bar");
    client.ok("SUBSCRIBE Baz");
    client.ok("SUBSCRIBE Baz/Bar");
    client.ok("SUBSCRIBE qux/bar");
    // RFC 5258 §5 example 9, adapted: a parent matching the pattern with a
    // subscribed descendant gets CHILDINFO, subscribed or not, existing or not.
    assert_eq!(
        client.ok("LIST (SUBSCRIBED RECURSIVEMATCH) \"\" \"%\" RETURN (CHILDREN)"),
        [
            "* LIST (\\Subscribed \\HasChildren) \"/\" \"Baz\" (\"CHILDINFO\" (\"SUBSCRIBED\"))",
            "* LIST (\\HasChildren) \"/\" \"Foo\" (\"CHILDINFO\" (\"SUBSCRIBED\"))",
            "* LIST (\\NonExistent) \"/\" \"qux\" (\"CHILDINFO\" (\"SUBSCRIBED\"))",
        ]
    );
    // Without RECURSIVEMATCH only the subscriptions that match.
    assert_eq!(client.ok("LIST (SUBSCRIBED) \"\" \"%\""), ["* LIST (\\Subscribed \\HasChildren) \"/\" \"Baz\""]);
    // With `*` the children match too, and their parents still say so.
    assert_eq!(
        client.ok("LIST (RECURSIVEMATCH SUBSCRIBED) \"\" \"*\""),
        [
            "* LIST (\\Subscribed \\HasChildren) \"/\" \"Baz\" (\"CHILDINFO\" (\"SUBSCRIBED\"))",
            "* LIST (\\Subscribed \\HasNoChildren) \"/\" \"Baz/Bar\"",
            "* LIST (\\HasChildren) \"/\" \"Foo\" (\"CHILDINFO\" (\"SUBSCRIBED\"))",
            "* LIST (\\Subscribed \\HasNoChildren) \"/\" \"Foo/Bar\"",
            "* LIST (\\NonExistent) \"/\" \"qux\" (\"CHILDINFO\" (\"SUBSCRIBED\"))",
            "* LIST (\\NonExistent \\Subscribed) \"/\" \"qux/bar\"",
        ]
    );
}

#[test]
fn malformed_or_unknown_options_are_bad() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    // RFC 5258 §3: RECURSIVEMATCH alone (or with REMOTE only) is BAD.
    client.bad("LIST (RECURSIVEMATCH) \"\" \"%\"");
    client.bad("LIST (REMOTE RECURSIVEMATCH) \"\" \"%\"");
    client.bad("LIST (SPECIAL-USE RECURSIVEMATCH) \"\" \"%\"");
    client.bad("LIST (FROBNICATE) \"\" \"%\"");
    client.bad("LIST \"\" \"%\" RETURN (FROBNICATE)");
    client.bad("LIST \"\" \"%\" RETURN (STATUS (MESSAGES BOGUS))");
    client.bad("LIST \"\" ()");
    client.bad("LSUB (SUBSCRIBED) \"\" \"%\"");
    // The session goes on.
    assert_eq!(client.ok("LIST \"\" INBOX"), ["* LIST (\\HasNoChildren) \"/\" \"INBOX\""]);
}

#[test]
fn special_use_selection_and_return() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    client.ok("CREATE Projects");
    client.ok("UNSUBSCRIBE Junk");
    // RFC 6154 §3: only mailboxes with a special use.
    assert_eq!(
        client.ok("LIST (SPECIAL-USE) \"\" \"*\" RETURN (SPECIAL-USE)"),
        [
            "* LIST (\\HasNoChildren \\Archive) \"/\" \"Archive\"",
            "* LIST (\\HasNoChildren \\Drafts) \"/\" \"Drafts\"",
            "* LIST (\\HasNoChildren \\Junk) \"/\" \"Junk\"",
            "* LIST (\\HasNoChildren \\Sent) \"/\" \"Sent\"",
            "* LIST (\\HasNoChildren \\Trash) \"/\" \"Trash\"",
        ]
    );
    // Combined with SUBSCRIBED: both must hold.
    assert_eq!(
        client.ok("LIST (SUBSCRIBED SPECIAL-USE) \"\" \"*\""),
        [
            "* LIST (\\Subscribed \\HasNoChildren \\Archive) \"/\" \"Archive\"",
            "* LIST (\\Subscribed \\HasNoChildren \\Drafts) \"/\" \"Drafts\"",
            "* LIST (\\Subscribed \\HasNoChildren \\Sent) \"/\" \"Sent\"",
            "* LIST (\\Subscribed \\HasNoChildren \\Trash) \"/\" \"Trash\"",
        ]
    );
    assert_eq!(client.ok("LIST (SPECIAL-USE) \"\" \"P*\""), Vec::<String>::new());
}

#[test]
fn list_status_follows_each_selectable_mailbox() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    client.append_ok("INBOX", &message("one", "first"));
    client.append_ok("INBOX", &message("two", "second"));
    client.ok("CREATE Old/Keep");
    client.ok("DELETE Old");
    client.ok("SUBSCRIBE Gone");
    let size: usize = message("one", "first").len() + message("two", "second").len();
    let untagged = client.ok("LIST \"\" (INBOX \"Old*\" Gone Trash) RETURN (STATUS (MESSAGES UNSEEN SIZE DELETED))");
    assert_eq!(
        untagged,
        [
            "* LIST (\\HasNoChildren) \"/\" \"INBOX\"".to_string(),
            format!("* STATUS \"INBOX\" (MESSAGES 2 UNSEEN 2 SIZE {size} DELETED 0)"),
            // RFC 5819: no STATUS for a mailbox that cannot be selected.
            "* LIST (\\Noselect \\HasChildren) \"/\" \"Old\"".to_string(),
            "* LIST (\\HasNoChildren) \"/\" \"Old/Keep\"".to_string(),
            "* STATUS \"Old/Keep\" (MESSAGES 0 UNSEEN 0 SIZE 0 DELETED 0)".to_string(),
            "* LIST (\\HasNoChildren \\Trash) \"/\" \"Trash\"".to_string(),
            "* STATUS \"Trash\" (MESSAGES 0 UNSEEN 0 SIZE 0 DELETED 0)".to_string(),
        ]
    );
    // With SUBSCRIBED selection a \NonExistent name gets no STATUS either.
    let untagged = client.ok("LIST (SUBSCRIBED) \"\" Gone RETURN (STATUS (MESSAGES))");
    assert_eq!(untagged, ["* LIST (\\NonExistent \\Subscribed) \"/\" \"Gone\""]);
    // IMAP4rev1 sessions may ask for RECENT; the selected mailbox is included.
    client.ok("SELECT INBOX");
    let untagged = client.ok("LIST \"\" INBOX RETURN (STATUS (RECENT MESSAGES))");
    assert_eq!(untagged[1], "* STATUS \"INBOX\" (RECENT 2 MESSAGES 2)");
}
