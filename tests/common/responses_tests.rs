//! Tests of the response reader (`responses.rs`), on fixed transcripts:
//! run once, by `tests/kit.rs`, not by every suite that includes `common`.

use crate::common::*;

#[test]
fn a_transcript_splits_into_tagged_untagged_and_continuation() {
    let text = "* 3 EXISTS\r\n* OK [UIDVALIDITY 17] UIDs valid\r\n+ go ahead\r\n\
                * 1 FETCH (UID 4 BODY[] {5}\r\nab)\r\n FLAGS (\\Seen))\r\nt1 OK [READ-WRITE] SELECT completed\r\n";
    let responses = Responses::transcript(text);
    assert_eq!(responses.0.len(), 5, "{responses:#?}");
    assert_eq!(responses.numbered("EXISTS"), [3]);
    assert_eq!(responses.code("UIDVALIDITY").unwrap().number(), 17);
    assert_eq!(responses.0[2], Reply::Continuation("go ahead".into()));
    let fetch = responses.fetch(1);
    assert_eq!(fetch.fetch_item("BODY[]").as_deref(), Some("ab)\r\n"), "a literal may hold ) and CRLF");
    assert_eq!(fetch.fetch_item("FLAGS").as_deref(), Some("(\\Seen)"));
    let tagged = responses.tagged("t1");
    assert!(tagged.is("OK") && tagged.code().is("READ-WRITE") && tagged.code().data.is_empty(), "{tagged:?}");
    assert_eq!(tagged.text, "SELECT completed");
}

#[test]
fn a_literal_at_the_end_of_the_transcript_is_kept_whole() {
    let responses = Responses::transcript("* 2 FETCH (BODY[TEXT] {4}\r\n\r\n\r\n)");
    assert_eq!(responses.fetch(2).fetch_item("BODY[TEXT]").as_deref(), Some("\r\n\r\n"));
    // A literal the transcript cut short (the server closed) ends it.
    let responses = Responses::transcript("* 2 FETCH (BODY[] {40}\r\nshort");
    assert_eq!(responses.0.len(), 1, "{responses:#?}");
    assert_eq!(responses.untagged("FETCH")[0].number, Some(2));
    let responses = Responses::transcript("* 2 FETCH (BODY[] {40}");
    assert_eq!(responses.0.len(), 1, "a literal announced last: {responses:#?}");
}

#[test]
fn codes_with_lists_strings_and_brackets() {
    let status = Status::parse("OK [PERMANENTFLAGS (\\Seen \\*)] limited");
    assert_eq!(status.code().name, "PERMANENTFLAGS");
    assert_eq!(status.code().values(), ["(\\Seen \\*)"]);
    assert_eq!(status.text, "limited");
    let status = Status::parse("NO [BADCHARSET (\"a]b\" UTF-8)] no");
    assert_eq!(status.code().values(), ["(\"a]b\" UTF-8)"], "a ] inside a list does not close the code");
    let status = Status::parse("NO [X-NAME \"a]b\"] no");
    assert_eq!((status.code().values(), status.text.as_str()), (vec!["a]b".to_string()], "no"), "nor inside a string");
    let status = Status::parse("BAD [TOOBIG] line too long");
    assert!(status.is("bad") && status.code_named("TOOBIG").is_some() && status.code_named("ALERT").is_none());
    let status = Status::parse("OK [COPYUID 9 1:2 7:8] done");
    assert_eq!(status.code().values(), ["9", "1:2", "7:8"]);
    let status = Status::parse("NO no such mailbox [really]");
    assert_eq!(status.code, None, "brackets in the text are not a code");
    assert_eq!(status.text, "no such mailbox [really]");
}

#[test]
fn untagged_data_read_as_status_esearch_and_list() {
    let responses = Responses::of(&[
        "* STATUS \"Work Mail\" (MESSAGES 3 UIDNEXT 9)".to_string(),
        "* STATUS {5}\r\nINBOX (UNSEEN 0)".to_string(),
        "* ESEARCH (TAG \"t7\") UID MIN 3 ALL 3:5,9 COUNT 4".to_string(),
        "* ESEARCH (TAG \"t8\")".to_string(),
        "* LIST (\\HasNoChildren \\Sent) \"/\" Sent (\"CHILDINFO\" (\"SUBSCRIBED\"))".to_string(),
        "* SEARCH 2 5 11".to_string(),
        "* BYE going".to_string(),
    ]);
    let work = responses.status_items("Work Mail");
    assert_eq!(work.get("MESSAGES"), Some(&3));
    assert_eq!(work.get("UIDNEXT"), Some(&9));
    assert_eq!(responses.status_items("INBOX").get("UNSEEN"), Some(&0), "a mailbox name sent as a literal");
    let esearch = responses.untagged("ESEARCH")[0].esearch();
    assert_eq!(esearch.tag.as_deref(), Some("t7"));
    assert!(esearch.uid);
    assert_eq!(esearch.item("all"), Some("3:5,9"));
    assert_eq!(esearch.items.len(), 3);
    let empty = responses.untagged("ESEARCH")[1].esearch();
    assert!(!empty.uid && empty.items.is_empty() && empty.tag.as_deref() == Some("t8"));
    let listed = responses.one("LIST").list();
    assert_eq!(listed.attributes, ["\\HasNoChildren", "\\Sent"]);
    assert_eq!((listed.delimiter.as_str(), listed.name.as_str()), ("/", "Sent"));
    assert_eq!(listed.extended, ["(\"CHILDINFO\" (\"SUBSCRIBED\"))"]);
    assert_eq!(responses.one("SEARCH").numbers(), [2, 5, 11]);
    assert!(responses.one("BYE").status().is("BYE") && responses.one("BYE").status().text == "going");
}

#[test]
fn an_nstring_tells_nil_from_the_string_nil() {
    let responses = Responses::of(&[
        "* 1 FETCH (PREVIEW NIL)".to_string(),
        "* 2 FETCH (PREVIEW \"NIL\")".to_string(),
        "* 3 FETCH (PREVIEW {5}\r\ncaf\u{e9})".to_string(),
    ]);
    assert_eq!(responses.fetch(1).fetch_nstring("PREVIEW"), None);
    let binary = Responses::of(&["* 2 FETCH (BINARY[1] ~{3}\r\na)b FLAGS ())".to_string()]);
    assert_eq!(binary.fetch(2).fetch_item("BINARY[1]").as_deref(), Some("a)b"), "a literal8 (RFC 3516)");
    assert_eq!(responses.fetch(2).fetch_nstring("PREVIEW").as_deref(), Some("NIL"));
    assert_eq!(responses.fetch(3).fetch_nstring("PREVIEW").as_deref(), Some("caf\u{e9}"), "UTF-8 in a literal");
    let quoted = Responses::of(&["* 4 FETCH (PREVIEW \"caf\u{e9} \\\"x\\\"\")".to_string()]);
    assert_eq!(quoted.fetch(4).fetch_nstring("PREVIEW").as_deref(), Some("caf\u{e9} \"x\""), "UTF-8 quoted (RFC 6855)");
}

#[test]
fn lookups_that_find_nothing_or_too_much_say_so() {
    let responses = Responses::of(&["* 1 EXPUNGE".to_string(), "* 1 EXPUNGE".to_string()]);
    assert_eq!(responses.numbered("EXPUNGE"), [1, 1]);
    assert!(responses.untagged("EXISTS").is_empty());
    assert_eq!(responses.code("UIDNEXT"), None);
    assert!(std::panic::catch_unwind(|| responses.one("EXPUNGE").clone()).is_err());
    assert!(std::panic::catch_unwind(|| responses.tagged("t1").clone()).is_err());
}
