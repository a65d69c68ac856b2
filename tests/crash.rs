//! Durability: nothing is answered OK until it is committed durably.
//!
//! A client appends messages and changes flags while the server is killed
//! with SIGKILL at a random moment; after every restart each acknowledged
//! message must be there, byte for byte, with its last acknowledged flags.
//! The randomness comes from a seeded xorshift generator: the seed is
//! printed, and `ROOST_CRASH_SEED=<seed>` replays the same workload.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::*;

/// Kill/restart rounds in the main durability test.
const ROUNDS: usize = 6;

// ---------------------------------------------------------------------------
// The seed of the run's generator (common::Rng), so failures can be replayed.

fn seed() -> u64 {
    match std::env::var("ROOST_CRASH_SEED") {
        Ok(text) => text.trim().parse().expect("ROOST_CRASH_SEED must be an integer"),
        Err(_) => std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64,
    }
}

// ---------------------------------------------------------------------------
// A byte-exact IMAP client that reports a dead server as an error instead of
// panicking (the harness client panics, and decodes literals lossily).

struct Response {
    /// The response's lines with each literal replaced by `{n}`.
    text: String,
    literals: Vec<Vec<u8>>,
}

struct Raw {
    reader: BufReader<TcpStream>,
    tag: u32,
}

fn protocol(text: String) -> std::io::Error {
    std::io::Error::other(text)
}

impl Raw {
    fn connect(port: u16) -> std::io::Result<Raw> {
        let stream = TcpStream::connect(("127.0.0.1", port))?;
        stream.set_read_timeout(Some(IO_TIMEOUT))?;
        stream.set_write_timeout(Some(IO_TIMEOUT))?;
        stream.set_nodelay(true)?;
        let mut client = Raw { reader: BufReader::new(stream), tag: 0 };
        let greeting = client.line()?;
        if !greeting.starts_with(b"* OK") {
            return Err(protocol(format!("greeting: {}", String::from_utf8_lossy(&greeting))));
        }
        Ok(client)
    }

    fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        let stream = self.reader.get_mut();
        stream.write_all(bytes)?;
        stream.flush()
    }

    fn line(&mut self) -> std::io::Result<Vec<u8>> {
        let mut line = Vec::new();
        if self.reader.read_until(b'\n', &mut line)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        if !line.ends_with(b"\r\n") {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        line.truncate(line.len() - 2);
        Ok(line)
    }

    fn response(&mut self) -> std::io::Result<Response> {
        let mut response = Response { text: String::new(), literals: Vec::new() };
        loop {
            let line = self.line()?;
            let text = String::from_utf8_lossy(&line).into_owned();
            response.text.push_str(&text);
            let Some(length) = literal_length(&text) else { return Ok(response) };
            let mut literal = vec![0u8; length];
            self.reader.read_exact(&mut literal)?;
            response.literals.push(literal);
        }
    }

    fn next_tag(&mut self) -> String {
        self.tag += 1;
        format!("c{}", self.tag)
    }

    fn until_tagged(&mut self, tag: &str) -> std::io::Result<(Vec<Response>, String)> {
        let prefix = format!("{tag} ");
        let mut untagged = Vec::new();
        loop {
            let response = self.response()?;
            if let Some(rest) = response.text.strip_prefix(&prefix) {
                return Ok((untagged, rest.to_string()));
            }
            untagged.push(response);
        }
    }

    fn command(&mut self, command: &str) -> std::io::Result<(Vec<Response>, String)> {
        let tag = self.next_tag();
        self.write(format!("{tag} {command}\r\n").as_bytes())?;
        self.until_tagged(&tag)
    }

    /// A command that must succeed; anything else is an error.
    fn ok(&mut self, command: &str) -> std::io::Result<Vec<Response>> {
        let (untagged, tagged) = self.command(command)?;
        if !tagged.starts_with("OK") {
            return Err(protocol(format!("{command:?} gave {tagged:?}")));
        }
        Ok(untagged)
    }

    /// APPEND to INBOX with a synchronizing literal; returns the tagged text.
    fn append(&mut self, message: &[u8]) -> std::io::Result<String> {
        let tag = self.next_tag();
        self.write(format!("{tag} APPEND INBOX {{{}}}\r\n", message.len()).as_bytes())?;
        loop {
            let response = self.response()?;
            if response.text.starts_with('+') {
                break;
            }
            if let Some(rest) = response.text.strip_prefix(&format!("{tag} ")) {
                return Ok(rest.to_string());
            }
        }
        self.write(message)?;
        self.write(b"\r\n")?;
        Ok(self.until_tagged(&tag)?.1)
    }
}

// ---------------------------------------------------------------------------
// What the server has acknowledged.

type FlagSet = BTreeSet<String>;

#[derive(Clone, Debug)]
enum Pending {
    Append(Vec<u8>),
    Store { uid: u32, after: FlagSet },
}

#[derive(Default)]
struct Model {
    /// UID → (bytes, flags) for every acknowledged message.
    messages: BTreeMap<u32, (Vec<u8>, FlagSet)>,
    /// The command sent whose answer never came, if any.
    pending: Option<Pending>,
    /// Numbers the distinct messages.
    next_message: u64,
    acknowledged_appends: usize,
    acknowledged_stores: usize,
}

impl Model {
    fn highest_uid(&self) -> u32 {
        self.messages.keys().next_back().copied().unwrap_or(0)
    }
}

/// Flags as compared: lower-case (flags match case-insensitively), without
/// \Recent, which the server manages.
fn normalize<'a>(flags: impl IntoIterator<Item = &'a str>) -> FlagSet {
    flags.into_iter().map(str::to_ascii_lowercase).filter(|flag| flag != "\\recent").collect()
}

/// The flags of a FETCH response's `FLAGS (...)`, normalized. This
/// harness keeps literals out of `text` (they may be any bytes), so it
/// reads with the kit's text-level fetch_flags/fetch_uid, not the typed
/// reader, which wants the literals inline.
fn fetched_flags(text: &str) -> Option<FlagSet> {
    fetch_flags(text).map(|flags| normalize(flags.iter().map(String::as_str)))
}

fn fetched_uid(text: &str) -> Option<u32> {
    fetch_uid(text)
}

/// A distinct message: small most of the time, sometimes over 300 KB so it
/// spans many store writes; sometimes with 8-bit bytes.
fn make_message(rng: &mut Rng, seed: u64, number: u64) -> Vec<u8> {
    let size = match rng.below(8) {
        0 => rng.range(300_000, 700_000),
        1 | 2 => rng.range(5_000, 60_000),
        _ => rng.range(50, 2_000),
    } as usize;
    let eight_bit = rng.below(4) == 0;
    let mut message = format!(
        "From: Bob <bob@example.org>\r\nTo: Alice <alice@example.org>\r\nSubject: crash {seed} message {number}\r\n\
         Message-ID: <crash-{seed}-{number}@example.org>\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset={}\r\n\r\n",
        if eight_bit { "iso-8859-1\r\nContent-Transfer-Encoding: 8bit" } else { "us-ascii" }
    )
    .into_bytes();
    while message.len() < size {
        let length = rng.range(0, 120) as usize;
        for _ in 0..length {
            let byte = if eight_bit && rng.below(10) == 0 {
                rng.range(0xA0, 0x100) as u8
            } else {
                rng.range(0x20, 0x7F) as u8
            };
            message.push(byte);
        }
        message.extend_from_slice(b"\r\n");
    }
    message
}

const STORES: &[(&str, &[&str])] = &[
    ("+FLAGS", &["\\Flagged"]),
    ("-FLAGS", &["\\Flagged"]),
    ("+FLAGS", &["$Work"]),
    ("-FLAGS", &["$Work"]),
    ("+FLAGS", &["\\Seen", "todo"]),
    ("-FLAGS", &["todo", "\\Flagged"]),
    ("+FLAGS", &["\\Answered", "Project_X", "$Label3"]),
    ("-FLAGS", &["\\Seen", "$Label3"]),
    ("FLAGS", &["\\Draft", "$Work"]),
];

/// How a workload round ended.
enum End {
    /// The connection died (the server was killed): expected.
    Disconnected(std::io::Error),
    /// The server answered something wrong while alive.
    Failed(String),
}

/// Appends and flag changes until the connection dies, recording every
/// acknowledgement in `model`.
fn workload(port: u16, model: &mut Model, rng: &mut Rng, seed: u64) -> End {
    let failed = |text: String| End::Failed(text);
    let mut client = match Raw::connect(port) {
        Ok(client) => client,
        Err(error) => return End::Disconnected(error),
    };
    for command in ["LOGIN alice secret", "SELECT INBOX"] {
        match client.command(command) {
            Ok((_, tagged)) if tagged.starts_with("OK") => {}
            Ok((_, tagged)) => return failed(format!("{command} gave {tagged}")),
            Err(error) => return End::Disconnected(error),
        }
    }
    loop {
        if model.messages.is_empty() || rng.below(100) < 45 {
            model.next_message += 1;
            let message = make_message(rng, seed, model.next_message);
            model.pending = Some(Pending::Append(message.clone()));
            let tagged = match client.append(&message) {
                Ok(tagged) => tagged,
                Err(error) => return End::Disconnected(error),
            };
            if !tagged.starts_with("OK") {
                return failed(format!("APPEND of {} bytes gave {tagged}", message.len()));
            }
            let (_, uid) = appenduid(&tagged);
            if uid <= model.highest_uid() {
                return failed(format!("APPENDUID {uid} is not above {}", model.highest_uid()));
            }
            model.messages.insert(uid, (message, FlagSet::new()));
            model.acknowledged_appends += 1;
        } else {
            let uid = *model.messages.keys().nth(rng.index(model.messages.len())).unwrap();
            let (action, flags) = *rng.pick(STORES);
            let before = &model.messages[&uid].1;
            let named = normalize(flags.iter().copied());
            let after: FlagSet = match action {
                "+FLAGS" => before.union(&named).cloned().collect(),
                "-FLAGS" => before.difference(&named).cloned().collect(),
                _ => named,
            };
            model.pending = Some(Pending::Store { uid, after: after.clone() });
            let command = format!("UID STORE {uid} {action} ({})", flags.join(" "));
            let (untagged, tagged) = match client.command(&command) {
                Ok(answer) => answer,
                Err(error) => return End::Disconnected(error),
            };
            if !tagged.starts_with("OK") {
                return failed(format!("{command} gave {tagged}"));
            }
            let reported = untagged.iter().find(|response| fetched_uid(&response.text) == Some(uid));
            match reported.and_then(|response| fetched_flags(&response.text)) {
                Some(flags) if flags == after => {}
                _ => {
                    let texts: Vec<&str> = untagged.iter().map(|response| response.text.as_str()).collect();
                    return failed(format!("{command} expected flags {after:?}, the server said {texts:?}"));
                }
            }
            model.messages.get_mut(&uid).unwrap().1 = after;
            model.acknowledged_stores += 1;
        }
        model.pending = None;
    }
}

/// Where two byte strings first differ, for a readable failure.
fn first_difference(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).position(|(x, y)| x != y).unwrap_or(a.len().min(b.len()))
}

/// Checks the restarted server against `model`, adopts the outcome of the
/// command that was in flight, and appends a probe message.
fn verify(server: &Server, model: &mut Model, context: &str) {
    let mut client = Raw::connect(server.imap_port).unwrap_or_else(|error| panic!("{context}: connect: {error}"));
    let run = |client: &mut Raw, command: &str| {
        client.ok(command).unwrap_or_else(|error| panic!("{context}: {command}: {error}"))
    };
    run(&mut client, "LOGIN alice secret");
    let selected = run(&mut client, "SELECT INBOX");
    let exists: usize = selected
        .iter()
        .find_map(|response| response.text.strip_suffix(" EXISTS")?.strip_prefix("* ")?.parse().ok())
        .unwrap_or_else(|| panic!("{context}: no EXISTS in SELECT"));
    let mut found: Vec<(u32, FlagSet, Vec<u8>)> = Vec::new();
    if exists > 0 {
        let fetched = run(&mut client, "UID FETCH 1:* (UID FLAGS BODY.PEEK[])");
        for (index, mut response) in fetched.into_iter().enumerate() {
            let text = &response.text;
            assert!(text.starts_with(&format!("* {} FETCH (", index + 1)), "{context}: unexpected response {text}");
            let uid = fetched_uid(text).unwrap_or_else(|| panic!("{context}: no UID in {text}"));
            let flags = fetched_flags(text).unwrap_or_else(|| panic!("{context}: no FLAGS in {text}"));
            assert_eq!(response.literals.len(), 1, "{context}: one BODY[] literal expected in {text}");
            found.push((uid, flags, response.literals.remove(0)));
        }
    }
    assert_eq!(found.len(), exists, "{context}: FETCH 1:* answered {} of {exists} messages", found.len());
    for pair in found.windows(2) {
        assert!(pair[0].0 < pair[1].0, "{context}: UIDs do not ascend: {} then {}", pair[0].0, pair[1].0);
    }

    let pending = model.pending.take();
    let mut present = BTreeSet::new();
    for (uid, flags, body) in found {
        present.insert(uid);
        match model.messages.get_mut(&uid) {
            Some((expected, expected_flags)) => {
                assert!(
                    body == *expected,
                    "{context}: UID {uid} has {} bytes, differing from the acknowledged {} bytes at offset {}",
                    body.len(),
                    expected.len(),
                    first_difference(&body, expected)
                );
                let in_flight = match &pending {
                    Some(Pending::Store { uid: pending_uid, after }) if *pending_uid == uid => Some(after),
                    _ => None,
                };
                if flags != *expected_flags {
                    assert!(
                        in_flight == Some(&flags),
                        "{context}: UID {uid} has flags {flags:?}, the last acknowledged were {expected_flags:?} \
                         (unacknowledged STORE: {in_flight:?})"
                    );
                    // The unanswered STORE was applied: it is the state now.
                    *expected_flags = flags;
                }
            }
            None => {
                // Only the unanswered APPEND may have survived, above every acknowledged UID.
                let Some(Pending::Append(message)) = &pending else {
                    panic!("{context}: UID {uid} ({} bytes) was never acknowledged", body.len())
                };
                assert!(body == *message, "{context}: unknown UID {uid} is not the unanswered APPEND");
                assert!(
                    uid > model.highest_uid(),
                    "{context}: unanswered APPEND got UID {uid} below acknowledged ones"
                );
                model.messages.insert(uid, (body, flags));
            }
        }
    }
    let missing: Vec<u32> = model.messages.keys().filter(|uid| !present.contains(uid)).copied().collect();
    assert!(missing.is_empty(), "{context}: acknowledged UIDs lost: {missing:?}");

    model.next_message += 1;
    let probe = message(&format!("probe-{}", model.next_message), "after the restart");
    let tagged = client.append(&probe).unwrap_or_else(|error| panic!("{context}: probe APPEND: {error}"));
    assert!(tagged.starts_with("OK"), "{context}: probe APPEND gave {tagged}");
    let (_, uid) = appenduid(&tagged);
    assert!(uid > model.highest_uid(), "{context}: new APPEND got UID {uid}, not above {}", model.highest_uid());
    model.messages.insert(uid, (probe, FlagSet::new()));
    let _ = client.command("LOGOUT");
}

fn check_online(server: &Server, context: &str) {
    let (ok, stdout, stderr) = run_cli(&["check", "--config", &server.config_arg()], None);
    assert!(ok && stdout.contains("no damage found"), "{context}: roost check: {stdout}{stderr}");
}

fn crash_options() -> Options {
    // Small store writes: a 300 KB message takes about twenty of them.
    Options { extra_limits: "append_chunk = 16000".into(), ..Options::default() }
}

#[test]
fn acknowledged_writes_survive_sigkill() {
    let seed = seed();
    eprintln!("crash test seed {seed} (replay with ROOST_CRASH_SEED={seed})");
    let mut rng = Rng::new(seed);
    let mut server = Server::start_with(crash_options());
    let mut model = Model::default();
    let started = Instant::now();
    for round in 1..=ROUNDS {
        let context = format!("seed {seed}, round {round}");
        let port = server.imap_port;
        let mut worker_rng = Rng::new(rng.next());
        let mut worker_model = std::mem::take(&mut model);
        let worker = std::thread::spawn(move || {
            let end = workload(port, &mut worker_model, &mut worker_rng, seed);
            (worker_model, end)
        });
        // Mostly mid-stream, sometimes right at the start.
        let delay = if rng.below(5) == 0 { rng.range(0, 60) } else { rng.range(150, 1500) };
        std::thread::sleep(Duration::from_millis(delay));
        server.kill();
        let (returned, end) = worker.join().expect("workload thread panicked");
        model = returned;
        match end {
            End::Disconnected(error) => eprintln!(
                "{context}: killed after {delay} ms ({error}); so far {} APPEND and {} STORE acknowledged, \
                 in flight: {}",
                model.acknowledged_appends,
                model.acknowledged_stores,
                match &model.pending {
                    None => "nothing".to_string(),
                    Some(Pending::Append(message)) => format!("APPEND of {} bytes", message.len()),
                    Some(Pending::Store { uid, .. }) => format!("STORE on UID {uid}"),
                }
            ),
            End::Failed(text) => panic!("{context}: {text}"),
        }
        server.spawn();
        verify(&server, &mut model, &context);
        check_online(&server, &context);
    }
    eprintln!("{} rounds in {:?}", ROUNDS, started.elapsed());
    assert!(
        model.acknowledged_appends >= 5 && model.acknowledged_stores >= 5,
        "seed {seed}: the workload hardly ran ({} APPEND, {} STORE acknowledged)",
        model.acknowledged_appends,
        model.acknowledged_stores
    );
    // A clean stop at the end leaves a file that checks clean offline.
    assert!(server.stop().success(), "seed {seed}: SIGTERM exit status");
    let (ok, stdout, stderr) = run_cli(&["check", "--config", &server.config_arg()], None);
    assert!(ok && stdout.contains("no damage found"), "seed {seed}: offline check: {stdout}{stderr}");
}

/// Some acknowledged mail, for the offline-check tests.
fn write_some_mail(server: &Server) {
    let mut client = server.alice_inbox();
    for number in 0..3 {
        client.append_ok("INBOX", &message(&format!("offline-{number}"), "kept"));
    }
    client.ok("UID STORE 1:* +FLAGS (\\Flagged $Work)");
}

fn summary_counts(stdout: &str) -> &str {
    stdout.lines().next().unwrap_or("")
}

#[test]
fn check_after_sigkill_needs_repair_then_repairs() {
    let mut server = Server::start();
    write_some_mail(&server);
    server.kill();
    let config = server.config_arg();

    let (ok, stdout, stderr) = run_cli(&["check", "--config", &config], None);
    assert!(!ok, "check of an uncleanly closed file must fail: {stdout}{stderr}");
    assert!(stderr.contains("not closed cleanly"), "{stderr}");
    assert!(stderr.contains("--repair"), "the message should point at the fix: {stderr}");

    let (ok, stdout, stderr) = run_cli(&["check", "--repair", "--config", &config], None);
    assert!(ok, "check --repair: {stdout}{stderr}");
    assert!(stdout.contains("no damage found"), "{stdout}");
    assert!(summary_counts(&stdout).contains("2 user(s)"), "{stdout}");
    assert!(summary_counts(&stdout).contains("3 message(s)"), "{stdout}");

    // Repaired and closed cleanly: a read-only check now succeeds.
    let (ok, stdout, stderr) = run_cli(&["check", "--config", &config], None);
    assert!(ok && stdout.contains("no damage found"), "{stdout}{stderr}");

    server.spawn();
    let mut client = server.alice_inbox();
    let untagged = client.ok("UID FETCH 1:* (FLAGS)");
    assert_eq!(untagged.len(), 3, "{untagged:?}");
    assert!(
        untagged.iter().all(|line| flags_in_fetch(line).is_superset(&flags(&["\\Flagged", "$Work"]))),
        "{untagged:?}"
    );
}

#[test]
fn check_after_clean_stop_is_read_only_and_clean() {
    let mut server = Server::start();
    write_some_mail(&server);
    let status = server.stop();
    assert!(status.success(), "SIGTERM should stop roost cleanly: {status:?}");
    // The log is read by another thread: give it a moment to see the last line.
    let deadline = Instant::now() + IO_TIMEOUT;
    while !server.log_text().contains("stopped") {
        assert!(Instant::now() < deadline, "no \"stopped\" in the log:\n{}", server.log_text());
        std::thread::sleep(Duration::from_millis(10));
    }
    let database = server.data_dir().join("roost.redb");
    let before = std::fs::read(&database).unwrap();

    let (ok, stdout, stderr) = run_cli(&["check", "--config", &server.config_arg()], None);
    assert!(ok, "check after a clean stop: {stdout}{stderr}");
    assert!(stdout.contains("no damage found"), "{stdout}");
    assert!(summary_counts(&stdout).contains("3 message(s)"), "{stdout}");
    assert!(std::fs::read(&database).unwrap() == before, "a check without --repair must not write the file");
}
