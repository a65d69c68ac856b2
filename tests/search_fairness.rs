//! SEARCH, SORT, THREAD and ESEARCH on a shared server (issue 11): the
//! header read is capped, big answers go out through the bounded write
//! buffer, a search of big messages pauses for other sessions, and a
//! worker job that panics fails only its own command.

mod common;

use common::*;

/// Sends one MULTIAPPEND of `messages` to INBOX (one commit, quick even
/// for thousands of messages).
fn multiappend(client: &mut Client, messages: &[Vec<u8>]) {
    let tag = client.next_tag();
    let mut command = format!("{tag} APPEND INBOX").into_bytes();
    for message in messages {
        command.extend_from_slice(format!(" {{{}+}}\r\n", message.len()).as_bytes());
        command.extend_from_slice(message);
    }
    command.extend_from_slice(b"\r\n");
    client.send_raw(&command);
    let (_, tagged) = client.until_tagged(&tag);
    assert!(tagged.starts_with("OK"), "{tagged}");
}

/// The numbers of the one `* SEARCH` line.
fn searched(client: &mut Client, command: &str) -> Vec<u32> {
    search_result(&client.ok(command))
}

/// Waits (bounded) until the server's log holds `count` lines with `text`.
fn log_lines(server: &Server, text: &str, count: usize) -> Vec<String> {
    for _ in 0..200 {
        let lines: Vec<String> =
            server.log_text().lines().filter(|line| line.contains(text)).map(String::from).collect();
        if lines.len() >= count {
            return lines;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("fewer than {count} log lines with {text:?}:\n{}", server.log_text());
}

/// Bytes of a header the server searches (the documented cap).
const HEADER_SEARCHED: usize = 64 * 1024;

/// A message whose header is 12 MiB: the search reads its first 64 KiB
/// only. Fields inside are found, fields beyond count as absent, a field
/// across the limit is searched up to it; the body is searched whole; and
/// the server's peak memory does not grow by the header's size.
#[test]
fn a_header_beyond_the_cap_is_searched_up_to_the_cap() {
    let mut server = Server::start();
    let mut client = server.login("alice", "secret");
    let mut header = String::from("From: Early Sender <early@example.org>\r\nX-Early: insideword\r\n");
    let mut filler = 0;
    while header.len() < HEADER_SEARCHED - 400 {
        header.push_str(&format!("X-Filler-{filler}: {}\r\n", "f".repeat(90)));
        filler += 1;
    }
    // A field that starts inside the limit and ends beyond it.
    let straddle = format!("X-Straddle: headword {} tailword\r\n", "s".repeat(600));
    let head_at = header.len() + straddle.find("headword").unwrap();
    let tail_at = header.len() + straddle.find("tailword").unwrap();
    assert!(head_at + 8 < HEADER_SEARCHED && tail_at > HEADER_SEARCHED);
    header.push_str(&straddle);
    let line = format!("X-Filler: {}\r\n", "g".repeat(1000));
    while header.len() < 12 << 20 {
        header.push_str(&line);
    }
    header.push_str("X-Late: lateword\r\nSubject: late subject\r\n\r\n");
    let big = format!("{header}The body holds bodyword.\r\n");
    client.append_ok("INBOX", big.as_bytes());
    client.append_ok("INBOX", &message("an ordinary one", "nothing here"));
    // A fresh process, so its peak memory is that of the searches alone.
    drop(client);
    server.restart();
    let mut client = server.login("alice", "secret");
    client.ok("SELECT INBOX");
    let before = server.peak_memory_kib();

    assert_eq!(searched(&mut client, "SEARCH FROM early@example.org"), [1]);
    assert_eq!(searched(&mut client, "SEARCH HEADER X-Early insideword"), [1]);
    assert_eq!(searched(&mut client, "SEARCH HEADER X-Straddle headword"), [1]);
    assert_eq!(searched(&mut client, "SEARCH HEADER X-Straddle tailword"), Vec::<u32>::new());
    assert_eq!(searched(&mut client, "SEARCH HEADER X-Late lateword"), Vec::<u32>::new());
    assert_eq!(searched(&mut client, "SEARCH HEADER X-Late \"\""), Vec::<u32>::new());
    assert_eq!(searched(&mut client, "SEARCH NOT HEADER X-Late lateword"), [1, 2]);
    assert_eq!(searched(&mut client, "SEARCH SUBJECT late"), Vec::<u32>::new());
    assert_eq!(searched(&mut client, "SEARCH TEXT insideword"), [1]);
    assert_eq!(searched(&mut client, "SEARCH TEXT lateword"), Vec::<u32>::new());
    assert_eq!(searched(&mut client, "SEARCH TEXT bodyword"), [1]);
    assert_eq!(searched(&mut client, "SEARCH BODY bodyword"), [1]);
    // No Date within the limit: "very old".
    assert_eq!(searched(&mut client, "SEARCH SENTBEFORE 1-Jan-1990 FROM early"), [1]);
    let sorted = client.run_ok("SORT (SUBJECT) UTF-8 ALL");
    assert_eq!(sorted.one("SORT").numbers(), [1, 2], "no Subject within the limit sorts first");

    let grown = server.peak_memory_kib().saturating_sub(before);
    assert!(grown < 4 * 1024, "peak memory grew by {grown} KiB searching a 12 MiB header");
}

/// With a 512-byte write buffer, SORT, THREAD, ESEARCH ALL and plain
/// SEARCH answers of thousands of numbers are sent as the buffer fills:
/// the connection's output buffer never grows anywhere near the answer's
/// size (the server logs its peak when the connection closes).
#[test]
fn huge_answers_go_out_through_the_write_buffer() {
    let options = Options { extra_limits: "write_buffer = 512\n".into(), ..Options::default() };
    let server = Server::start_with(options);
    let mut client = server.login("alice", "secret");
    const COUNT: u32 = 2500;
    // One thread: each message answers the one before it.
    let messages: Vec<Vec<u8>> = (1..=COUNT)
        .map(|number| {
            let parent = if number > 1 { format!("In-Reply-To: <m{}@x>\r\n", number - 1) } else { String::new() };
            // Sent a second apart, in order.
            let date = format!("Mon, 1 Jan 2024 10:{:02}:{:02} +0000", number / 60, number % 60);
            format!("Subject: chain\r\nMessage-ID: <m{number}@x>\r\n{parent}Date: {date}\r\n\r\nbody\r\n").into_bytes()
        })
        .collect();
    multiappend(&mut client, &messages);
    client.ok("SELECT INBOX");
    client.ok("STORE 1:* FLAGS.SILENT (\\Flagged)");
    // Every other message unflagged: ESEARCH ALL has no ranges to join.
    let odd: Vec<String> = (1..=COUNT).filter(|number| number % 2 == 0).map(|number| number.to_string()).collect();
    client.ok(&format!("STORE {} -FLAGS.SILENT (\\Flagged)", odd.join(",")));

    let everyone: Vec<u32> = (1..=COUNT).collect();
    let untagged = client.ok("SORT (REVERSE DATE) UTF-8 ALL");
    let sorted: Vec<u32> = untagged[0]["* SORT ".len()..].split(' ').map(|number| number.parse().unwrap()).collect();
    assert!(sorted.iter().rev().eq(everyone.iter()), "not in REVERSE DATE order: {:?}...", &sorted[..20]);
    assert!(untagged[0].len() > 8 * 1024);

    let untagged = client.ok("THREAD REFERENCES UTF-8 ALL");
    let numbers: Vec<String> = everyone.iter().map(u32::to_string).collect();
    assert!(untagged[0] == format!("* THREAD ({})", numbers.join(" ")), "{}...", &untagged[0][..100]);

    let untagged = client.ok("SEARCH RETURN (ALL) FLAGGED");
    let odd: Vec<String> = (1..=COUNT).filter(|number| number % 2 == 1).map(|number| number.to_string()).collect();
    assert!(untagged[0].starts_with("* ESEARCH (TAG "), "{}", &untagged[0][..100]);
    assert!(untagged[0].ends_with(&format!(") ALL {}", odd.join(","))), "ESEARCH ALL lists every flagged message");

    // Plain SEARCH streams, dropping its snapshot for each flush.
    assert!(searched(&mut client, "SEARCH SUBJECT chain") == everyone, "SEARCH SUBJECT missed messages");
    assert_eq!(searched(&mut client, "UID SEARCH FLAGGED").len(), COUNT as usize / 2);
    client.ok("LOGOUT");

    let closed = log_lines(&server, "peak output buffer", 1);
    let peak = closed
        .iter()
        .map(|line| {
            line.split("peak output buffer ").nth(1).unwrap().split(' ').next().unwrap().parse::<usize>().unwrap()
        })
        .max()
        .unwrap();
    assert!(peak <= 4096, "the output buffer grew to {peak} bytes with a 512-byte write buffer");
}

/// Text messages of 1 MiB: a TEXT search pauses for other sessions (the
/// server logs its pauses) and both sessions get correct answers; a word
/// across a 64 KiB piece boundary, or in base64, is found; and cheap keys
/// decide before any body is read.
#[test]
fn a_search_of_big_messages_shares_the_thread() {
    let server = Server::start();
    let mut alice = server.login("alice", "secret");
    let line = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do\r\n";
    let mut messages = Vec::new();
    for number in 1..=6 {
        let header = format!("Subject: big {number}\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n");
        let mut body = String::new();
        if number == 4 {
            // "crossword" starts 4 bytes before the first piece boundary.
            while body.len() < 65536 - 4 - line.len() {
                body.push_str(line);
            }
            body.push_str(&" ".repeat(65536 - 4 - body.len()));
            body.push_str("crossword\r\n");
        }
        while body.len() < 1 << 20 {
            body.push_str(line);
        }
        messages.push(format!("{header}{body}").into_bytes());
    }
    let encoded = common_base64(b"the encoded secretword is here\r\n");
    messages.push(
        format!(
            "Subject: encoded\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n{encoded}\r\n"
        )
        .into_bytes(),
    );
    multiappend(&mut alice, &messages);
    alice.ok("SELECT INBOX");
    alice.ok("STORE 2 +FLAGS.SILENT (\\Seen)");

    let mut bob = server.login("bob", "hunter2");
    bob.append_ok("INBOX", &message("for bob", "bob's body"));
    bob.ok("SELECT INBOX");

    // Alice's search runs while Bob works; both answers are right.
    let tag = alice.next_tag();
    alice.send(&format!("{tag} SEARCH TEXT absentword"));
    let fetched = bob.ok("FETCH 1 (BODY.PEEK[TEXT])");
    assert!(fetched[0].contains("bob's body"), "{fetched:?}");
    bob.ok("NOOP");
    assert_eq!(searched(&mut bob, "SEARCH TEXT bob"), [1]);
    let (untagged, tagged) = alice.until_tagged(&tag);
    assert!(tagged.starts_with("OK"), "{tagged}");
    assert_eq!(search_result(&untagged), Vec::<u32>::new());

    assert_eq!(searched(&mut alice, "SEARCH TEXT crossword"), [4]);
    assert_eq!(searched(&mut alice, "SEARCH BODY crossword"), [4]);
    assert_eq!(searched(&mut alice, "SEARCH TEXT secretword"), [7]);
    assert_eq!(searched(&mut alice, "SEARCH SEEN TEXT crossword"), Vec::<u32>::new());
    assert_eq!(searched(&mut alice, "SEARCH TEXT crossword SEEN"), Vec::<u32>::new());
    assert_eq!(searched(&mut alice, "SEARCH OR SEEN TEXT crossword"), [2, 4]);
    assert_eq!(searched(&mut alice, "SEARCH OR TEXT crossword SEEN"), [2, 4]);
    assert_eq!(searched(&mut alice, "SEARCH NOT TEXT crossword"), [1, 2, 3, 5, 6, 7]);
    assert_eq!(searched(&mut alice, "SEARCH UNSEEN NOT BODY lorem"), [7]);
    assert_eq!(searched(&mut alice, "SEARCH OR BODY crossword TEXT secretword"), [4, 7]);

    // Megabytes of text take more than a stretch: the scan paused.
    let scans = log_lines(&server, "search scan:", 1);
    let paused = scans.iter().any(|line| {
        let pauses: u32 = line.split("search scan: ").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
        pauses > 0
    });
    assert!(paused, "no search paused: {scans:#?}");
}

/// Base64 of `bytes`, in 76-column lines.
fn common_base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for group in bytes.chunks(3) {
        let value =
            group.iter().enumerate().fold(0u32, |value, (index, &byte)| value | (byte as u32) << (16 - 8 * index));
        for index in 0..4 {
            if index <= group.len() {
                out.push(ALPHABET[(value >> (18 - 6 * index) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out.as_bytes().chunks(76).map(|line| String::from_utf8_lossy(line).into_owned()).collect::<Vec<_>>().join("\r\n")
}

/// A SORT whose worker job panics (debug builds have a subject that makes
/// it) fails with NO [SERVERBUG]; the session, the pool and the server go
/// on.
#[test]
fn a_worker_job_that_panics_fails_only_its_command() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    client.append_ok("INBOX", &message("roost test: panic in a worker job", "boom"));
    client.append_ok("INBOX", &message("an ordinary subject", "fine"));
    client.ok("SELECT INBOX");
    let tagged = client.no("SORT (SUBJECT) UTF-8 ALL");
    assert!(Status::parse(&tagged).code().is("SERVERBUG"), "{tagged}");
    log_lines(&server, "a worker job panicked", 1);

    // The same session goes on; SORT without subjects runs no panicking job.
    client.ok("NOOP");
    assert_eq!(client.run_ok("SORT (SIZE) UTF-8 ALL").one("SORT").numbers(), [2, 1]);
    // The pool still runs jobs: a THREAD of more messages than are
    // threaded inline.
    let messages: Vec<Vec<u8>> =
        (0..2100).map(|number| format!("Subject: t{}\r\n\r\nx\r\n", number % 3).into_bytes()).collect();
    multiappend(&mut client, &messages);
    client.ok("NOOP");
    let threads = client.run_ok("THREAD ORDEREDSUBJECT UTF-8 ALL");
    assert_eq!(values(&threads.one("THREAD").data).len(), 5, "five subjects, five threads: {threads:?}");
    // Another session is served as ever.
    let mut other = server.login("bob", "hunter2");
    other.ok("SELECT INBOX");
    other.ok("NOOP");
}
