//! The full-text index (issue 18) over a real socket: searches answer the
//! same with the index complete, half built, and off; `roost reindex`
//! and `roost check` through the running server.

mod common;

use common::*;

/// Runs `roost reindex --wait` against `server`.
fn reindex(server: &Server, extra: &[&str]) -> String {
    let config = server.config_arg();
    let mut arguments = vec!["reindex", "--config", config.as_str(), "--wait"];
    arguments.extend_from_slice(extra);
    let (ok, out, err) = run_cli(&arguments, None);
    assert!(ok, "reindex failed: {out} {err}");
    out
}

fn uids(client: &mut Client, command: &str) -> Vec<u32> {
    search_result(&client.ok(command))
}

#[test]
fn index_answers_as_the_scan_does() {
    let server = Server::start();
    let mut client = server.alice_inbox();
    let mut messages = Vec::new();
    for index in 0..40 {
        let body = match index % 4 {
            0 => format!("Rosegarden number {index}\r\nplain text body"),
            1 => format!("Nothing here but the usual words, {index}"),
            2 => "Crème brûlée für alle, Straße\r\n".to_string(),
            _ => format!("a rare zebra-{index} appears"),
        };
        messages.push(mail(&[("Subject", &format!("message {index}")), ("X-Tracker", &format!("tr{index}"))], &body));
    }
    for message in &messages {
        client.append_ok("INBOX", message);
    }
    let searches = [
        "UID SEARCH BODY rosegarden",
        "UID SEARCH BODY ROSEGARDEN",
        "UID SEARCH TEXT \"usual words\"",
        "UID SEARCH CHARSET UTF-8 BODY \"brûlée\"",
        "UID SEARCH CHARSET UTF-8 BODY \"STRASSE\"",
        "UID SEARCH BODY zebra-3",
        "UID SEARCH BODY zq",
        "UID SEARCH TEXT \"message 1\"",
        "UID SEARCH HEADER X-Tracker tr2",
        "UID SEARCH NOT BODY zebra",
        "UID SEARCH CHARSET UTF-8 OR BODY zebra BODY \"crème\"",
        "UID SEARCH BODY absentword",
    ];
    // Before the indexer ran: every message waits, so every one is a
    // candidate and verified by the scan.
    let before: Vec<Vec<u32>> = searches.iter().map(|search| uids(&mut client, search)).collect();
    let out = reindex(&server, &[]);
    assert!(out.contains("search index complete"), "{out}");
    let log_before = server.log_text().len();
    let after: Vec<Vec<u32>> = searches.iter().map(|search| uids(&mut client, search)).collect();
    assert_eq!(before, after);
    // The index narrowed them: "rosegarden" is in 10 messages' bodies.
    let log = server.log_text()[log_before..].to_string();
    assert!(log.contains("search index: 10 candidate message(s)"), "{log}");
    assert_eq!(after[0].len(), 10);
    assert_eq!(after[3].len(), 10);
    assert_eq!(after[4].len(), 10, "ß folds to ss");
    assert!(after[11].is_empty());
    let (ok, out, err) = run_cli(&["check", "--config", &server.config_arg()], None);
    assert!(ok, "{out} {err}");
    assert!(out.contains("search index: 40 message(s) in"), "{out}");
}
