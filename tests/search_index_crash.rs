//! kill -9 during delivery (issue 18): a client APPENDs in a loop (some
//! messages large enough that the kill lands mid-literal) while the
//! server, keeping the full-text index, is killed with SIGKILL, in one
//! round while a `roost reindex` is indexing. After every kill `roost
//! check --repair` (offline) must be clean: no stored message neither indexed nor
//! waiting, every list and sample right. Restarted, `roost reindex
//! --wait` completes and check is clean again. At the end the same data
//! directory, copied and started with `search_index = false`, answers
//! every search as the indexed server does.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;

#[path = "common/fts_twins.rs"]
mod twins;
use twins::*;

const ROUNDS: usize = 4;

/// The body of message `number` of round `round`: words the searches look
/// for, and for every fifth message ~200 KiB of filler.
fn crash_message(round: usize, number: usize, rng: &mut Rng) -> Vec<u8> {
    let words = ["rosegarden", "zeppelin", "Straße", "café", "quokka", "ﬁle", "\u{212A}elvin"];
    let mut body = format!("Round crash{round} message {number}: {} and {}\r\n", rng.pick(&words), rng.pick(&words));
    if number % 5 == 4 {
        for line in 0..3000 {
            body.push_str(&format!("filler line {line} of message {number}, crash{round}, words words words\r\n"));
        }
    }
    let subject = format!("crash {round}.{number} {}", rng.pick(&words));
    let mut message = mail(&[("Subject", &subject), ("X-Round", &format!("round-{round}"))], &body);
    if number % 3 == 0 {
        // A quoted-printable part as well.
        message = multipart(
            &subject,
            "mixed",
            &[
                entity(&[("Content-Type", "text/plain; charset=utf-8")], body.as_bytes()),
                entity(
                    &[("Content-Type", "text/plain; charset=utf-8"), ("Content-Transfer-Encoding", "quoted-printable")],
                    &quoted_printable(format!("qp crash{round} zeppelin Straße {number}").as_bytes(), 9),
                ),
            ],
        );
    }
    message
}

/// APPENDs (LITERAL+) until the server goes away or `stop` is set;
/// returns how many were acknowledged.
fn append_until_gone(port: u16, round: usize, seed: u64, stop: Arc<AtomicBool>, acknowledged: Arc<AtomicUsize>) {
    let mut rng = Rng::new(seed);
    let Ok(stream) = TcpStream::connect(("127.0.0.1", port)) else { return };
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    let mut read_tagged = |reader: &mut BufReader<TcpStream>, tag: &str| -> Option<String> {
        loop {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return None,
                Ok(_) if line.starts_with(&format!("{tag} ")) => return Some(line.clone()),
                Ok(_) => {}
            }
        }
    };
    let _ = read_tagged(&mut reader, "*");
    if writer.write_all(b"l LOGIN alice secret\r\n").is_err() || read_tagged(&mut reader, "l").is_none() {
        return;
    }
    for number in 0..2000 {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let message = crash_message(round, number, &mut rng);
        let tag = format!("a{number}");
        let mut command = format!("{tag} APPEND INBOX {{{}+}}\r\n", message.len()).into_bytes();
        command.extend_from_slice(&message);
        command.extend_from_slice(b"\r\n");
        if writer.write_all(&command).is_err() {
            return;
        }
        match read_tagged(&mut reader, &tag) {
            Some(tagged) if tagged.starts_with(&format!("{tag} OK")) => {
                acknowledged.fetch_add(1, Ordering::Relaxed);
            }
            Some(tagged) => panic!("APPEND failed: {tagged}"),
            None => return,
        }
    }
}

/// `roost check --repair` with the server stopped (the file was not
/// closed: redb repairs it first, as `roost serve` would): must pass; its
/// index line.
fn check_offline(server: &Server) -> String {
    let (ok, out, err) = run_cli(&["check", "--repair", "--config", &server.config_arg()], None);
    let out = format!("{out}{err}");
    assert!(ok, "roost check after a kill failed:\n{out}");
    out.lines().find(|line| line.starts_with("search index:")).unwrap_or_else(|| panic!("{out}")).to_string()
}

#[test]
fn kill_during_delivery_leaves_index_and_messages_agreeing() {
    let started = Instant::now();
    let seed = std::env::var("ROOST_FTS_CRASH_SEED").ok().and_then(|seed| seed.parse().ok()).unwrap_or(18);
    let mut rng = Rng::new(seed);
    let mut server = Server::start();
    let mut acknowledged_total = 0;
    for round in 0..ROUNDS {
        let stop = Arc::new(AtomicBool::new(false));
        let acknowledged = Arc::new(AtomicUsize::new(0));
        let appender = {
            let (port, stop, acknowledged, seed) = (server.imap_port, stop.clone(), acknowledged.clone(), rng.next());
            std::thread::spawn(move || append_until_gone(port, round, seed, stop, acknowledged))
        };
        // Let some mail arrive, then (in odd rounds) start indexing it,
        // then kill the server mid-stream.
        let deadline = Instant::now() + Duration::from_secs(10);
        while acknowledged.load(Ordering::Relaxed) < 8 + round * 4 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        if round % 2 == 1 {
            let (ok, out, err) = run_cli(&["reindex", "--config", &server.config_arg()], None);
            assert!(ok, "{out} {err}");
            std::thread::sleep(Duration::from_millis(rng.range(0, 150)));
        } else {
            std::thread::sleep(Duration::from_millis(rng.range(0, 300)));
        }
        server.kill();
        stop.store(true, Ordering::Relaxed);
        appender.join().unwrap();
        let count = acknowledged.load(Ordering::Relaxed);
        assert!(count >= 8, "round {round}: only {count} APPENDs before the kill");
        acknowledged_total += count;
        let line = check_offline(&server);
        println!("round {round}: {count} acknowledged, killed; {line}");
        server.spawn();
        // Every acknowledged message is there.
        let mut client = server.alice_inbox();
        let exists = all_uids(&mut client).len();
        assert!(exists >= acknowledged_total, "{exists} messages, {acknowledged_total} acknowledged");
        client.ok("LOGOUT");
        reindex(&server, &[]);
        let out = check_clean(&server);
        assert!(out.contains(", 0 waiting, "), "{out}");
    }
    // The same data, started with the index off, answers as the index does.
    server.stop();
    let dir = TempDir::new("fts-crash-scan");
    copy_tree(&server.data_dir(), &dir.0.join("data"));
    let config = dir.0.join("roost.toml");
    std::fs::write(&config, config_text(&dir.0, &Options { extra_limits: INDEX_OFF.into(), ..Default::default() }))
        .unwrap();
    let mut scanned = Server::unstarted(dir, config);
    scanned.spawn();
    server.spawn();
    let on = server.alice_inbox();
    let off = scanned.alice_inbox();
    let mut twins = Twins { indexed: server, scanned, on, off, appended: 0 };
    let mut searches = Vec::new();
    for needle in
        ["rosegarden", "zeppelin", "straße", "STRASSE", "café", "quokka", "file", "kelvin", "filler line 2999"]
    {
        searches.push(format!("UID SEARCH CHARSET UTF-8 BODY {}", quote(needle)));
        searches.push(format!("UID SEARCH CHARSET UTF-8 TEXT {}", quote(needle)));
    }
    for round in 0..ROUNDS {
        searches.push(format!("UID SEARCH BODY crash{round}"));
        searches.push(format!("UID SEARCH TEXT \"crash {round}.\""));
        searches.push(format!("UID SEARCH HEADER X-Round round-{round}"));
        searches.push(format!("UID SEARCH RETURN (COUNT MIN MAX) BODY \"qp crash{round}\""));
    }
    searches.push("UID SORT (SUBJECT) UTF-8 BODY zeppelin".into());
    let log_start = twins.indexed.log_text().len();
    twins.compare_all(&searches);
    let narrowed = twins.indexed.log_text()[log_start..].matches("candidate message(s)").count();
    assert!(narrowed >= searches.len() / 2, "the index narrowed only {narrowed} searches");
    check_clean(&twins.indexed);
    println!("{ROUNDS} rounds, {acknowledged_total} messages acknowledged, in {:.1?}", started.elapsed());
}
