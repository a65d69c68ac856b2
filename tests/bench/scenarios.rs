//! The benchmark scenarios. Each runs against one server and returns its
//! figures; `main` runs it against every server and compares.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::client::{self, Client, Reply};
use crate::corpus::{Corpus, Rng, Sizes, MARKER_EVERY};
use crate::servers::{Memory, Server, PASSWORD, USER};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Better {
    Lower,
    Higher,
}

#[derive(Clone, Debug)]
pub struct Figure {
    pub scenario: u32,
    pub name: String,
    pub unit: &'static str,
    pub better: Better,
    pub value: f64,
    /// roost's target (issue 11): the value must not exceed it.
    pub target: Option<f64>,
}

pub fn figure(scenario: u32, name: impl Into<String>, unit: &'static str, better: Better, value: f64) -> Figure {
    Figure { scenario, name: name.into(), unit, better, value, target: None }
}

impl Figure {
    /// With roost's target: at most `limit`.
    pub fn at_most(mut self, limit: f64) -> Figure {
        self.target = Some(limit);
        self
    }
}

pub fn percentile(samples: &mut [f64], fraction: f64) -> f64 {
    if samples.is_empty() {
        return f64::NAN;
    }
    samples.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let index = ((samples.len() - 1) as f64 * fraction).round() as usize;
    samples[index]
}

pub fn milliseconds(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

pub async fn settle(seconds: f64) {
    smol::Timer::after(Duration::from_secs_f64(seconds)).await;
}

pub async fn connect(address: SocketAddr, tls: bool) -> io::Result<Client> {
    Client::connect(address, tls.then(client::tls_config)).await
}

pub async fn logged_in(server: &Server, mailbox: Option<&str>) -> io::Result<Client> {
    let mut client = connect(server.imap, false).await?;
    client.login(USER, PASSWORD).await?;
    if let Some(mailbox) = mailbox {
        client.ok(&format!("SELECT {mailbox}")).await?;
    }
    Ok(client)
}

/// Scenario 1: memory of N idle, logged-in connections with INBOX selected.
pub async fn idle_connections(server: &Server, count: usize, tls: bool) -> io::Result<Vec<Figure>> {
    idle_connections_with(server, count, tls, false).await
}

/// Scenario 1, or 18 with `compress`: each connection sends COMPRESS
/// DEFLATE (RFC 4978) after login and SELECTs compressed.
pub async fn idle_connections_with(
    server: &Server,
    count: usize,
    tls: bool,
    compress: bool,
) -> io::Result<Vec<Figure>> {
    let address = if tls { server.imaps } else { server.imap };
    let scenario = if compress { 18 } else { 1 };
    let label =
        format!("{count} idle {}{}", if tls { "TLS" } else { "plain" }, if compress { " COMPRESS" } else { "" });
    // Warm up: the first login loads what every later one shares.
    connect(address, tls).await?.logout().await;
    let mut warm = connect(address, tls).await?;
    warm.login(USER, PASSWORD).await?;
    warm.ok("SELECT INBOX").await?;
    warm.logout().await;
    settle(1.0).await;
    let before = server.memory();
    let mut clients = Vec::with_capacity(count);
    let executor = smol::LocalExecutor::new();
    executor
        .run(async {
            for wave in (0..count).collect::<Vec<_>>().chunks(64) {
                let tasks: Vec<_> = wave
                    .iter()
                    .map(|_| {
                        executor.spawn(async move {
                            let mut client = connect(address, tls).await?;
                            client.login(USER, PASSWORD).await?;
                            if compress {
                                client.compress().await?;
                            }
                            client.ok("SELECT INBOX").await?;
                            io::Result::Ok(client)
                        })
                    })
                    .collect();
                for task in tasks {
                    clients.push(task.await?);
                }
            }
            io::Result::Ok(())
        })
        .await?;
    settle(2.0).await;
    let during = server.memory();
    // The connections are still open here; measure, then close them.
    drop(clients);
    settle(3.0).await;
    let after = server.memory();
    let grown = during - before;
    let per = |value: u64| value as f64 / count as f64;
    Ok(vec![
        figure(scenario, format!("{label}: PSS per connection"), "KiB", Better::Lower, per(grown.pss)),
        figure(scenario, format!("{label}: USS per connection"), "KiB", Better::Lower, per(grown.uss)),
        figure(scenario, format!("{label}: RSS per connection"), "KiB", Better::Lower, per(grown.rss)),
        figure(scenario, format!("{label}: server RSS before"), "MiB", Better::Lower, before.rss as f64 / 1024.0),
        figure(scenario, format!("{label}: server RSS during"), "MiB", Better::Lower, during.rss as f64 / 1024.0),
        figure(scenario, format!("{label}: server RSS after"), "MiB", Better::Lower, after.rss as f64 / 1024.0),
    ])
}

/// Fills `mailbox` with `count` corpus messages over `parallel`
/// connections, in MULTIAPPENDs of `batch`. Every 50th message is
/// \Flagged. Returns the bytes appended.
pub async fn populate(
    server: &Server,
    mailbox: &str,
    count: u64,
    sizes: Sizes,
    parallel: u64,
    batch: u64,
) -> io::Result<u64> {
    let corpus = Arc::new(Corpus::new(7));
    let mut creator = logged_in(server, None).await?;
    let _ = creator.command(&format!("CREATE {mailbox}")).await?;
    creator.logout().await;
    let bytes = std::cell::Cell::new(0u64);
    let executor = smol::LocalExecutor::new();
    executor
        .run(async {
            let tasks: Vec<_> = (0..parallel)
                .map(|worker| {
                    let corpus = corpus.clone();
                    let bytes = &bytes;
                    executor.spawn(async move {
                        let mut client = logged_in(server, None).await?;
                        let mut index = worker * batch;
                        while index < count {
                            let last = (index + batch).min(count);
                            let messages: Vec<(bool, Vec<u8>)> =
                                (index..last).map(|number| (number % 50 == 0, corpus.message(number, sizes))).collect();
                            bytes.set(
                                bytes.get() + messages.iter().map(|(_, message)| message.len() as u64).sum::<u64>(),
                            );
                            append_flagged(&mut client, mailbox, &messages).await?;
                            index += parallel * batch;
                        }
                        client.logout().await;
                        io::Result::Ok(())
                    })
                })
                .collect();
            for task in tasks {
                task.await?;
            }
            io::Result::Ok(())
        })
        .await?;
    Ok(bytes.get())
}

/// MULTIAPPEND with a \Flagged flag where asked.
async fn append_flagged(client: &mut Client, mailbox: &str, messages: &[(bool, Vec<u8>)]) -> io::Result<Reply> {
    let mut command = format!("APPEND {mailbox}").into_bytes();
    let tag = "pop";
    let mut first = true;
    for (flagged, message) in messages {
        if first {
            client.send(format!("{tag} ").as_bytes()).await?;
            first = false;
        }
        if *flagged {
            command.extend_from_slice(b" (\\Flagged)");
        }
        command.extend_from_slice(format!(" {{{}+}}\r\n", message.len()).as_bytes());
        client.send(&command).await?;
        command.clear();
        client.send(message).await?;
    }
    client.send(b"\r\n").await?;
    let reply = client.wait_for(tag).await?;
    if !reply.ok() {
        return Err(io::Error::other(format!("APPEND: {}", String::from_utf8_lossy(&reply.status))));
    }
    Ok(reply)
}

/// Scenario 2: memory of the idle server after a restart, with the big
/// mailbox on disk.
pub async fn idle_server(server: &mut Server) -> io::Result<Vec<Figure>> {
    server.restart();
    settle(3.0).await;
    let memory = server.memory();
    Ok(vec![
        figure(2, "idle server, 100k-message mailbox: RSS", "MiB", Better::Lower, memory.rss as f64 / 1024.0),
        figure(2, "idle server, 100k-message mailbox: PSS", "MiB", Better::Lower, memory.pss as f64 / 1024.0),
        figure(2, "idle server: processes", "", Better::Lower, memory.processes as f64),
    ])
}

/// Scenario 3: durable APPEND throughput.
pub async fn append_throughput(server: &Server, clients: u64, per_client: u64) -> io::Result<Vec<Figure>> {
    let mailbox = format!("append{clients}");
    let corpus = Arc::new(Corpus::new(3));
    let mut creator = logged_in(server, None).await?;
    creator.ok(&format!("CREATE {mailbox}")).await?;
    creator.logout().await;
    let bytes = std::cell::Cell::new(0u64);
    let executor = smol::LocalExecutor::new();
    let start = Instant::now();
    executor
        .run(async {
            let tasks: Vec<_> = (0..clients)
                .map(|worker| {
                    let corpus = corpus.clone();
                    let (mailbox, bytes) = (&mailbox, &bytes);
                    executor.spawn(async move {
                        let mut client = logged_in(server, None).await?;
                        for number in 0..per_client {
                            let message = corpus.message(worker * 1_000_000 + number, Sizes::Mixed);
                            bytes.set(bytes.get() + message.len() as u64);
                            client.append(mailbox, &[&message]).await?;
                        }
                        client.logout().await;
                        io::Result::Ok(())
                    })
                })
                .collect();
            for task in tasks {
                task.await?;
            }
            io::Result::Ok(())
        })
        .await?;
    let seconds = start.elapsed().as_secs_f64();
    let messages = (clients * per_client) as f64;
    Ok(vec![
        figure(3, format!("APPEND, {clients} client(s): messages/s"), "msg/s", Better::Higher, messages / seconds),
        figure(
            3,
            format!("APPEND, {clients} client(s): MiB/s"),
            "MiB/s",
            Better::Higher,
            bytes.get() as f64 / seconds / 1048576.0,
        ),
    ])
}

pub const FIRST_SYNC: &str =
    "UID FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE BODY.PEEK[HEADER.FIELDS (FROM TO CC SUBJECT DATE MESSAGE-ID)])";

/// Scenario 4: what mbsync and Thunderbird do on first contact.
pub async fn first_sync(server: &Server, mailbox: &str, expected: u64) -> io::Result<Vec<Figure>> {
    let mut seconds = Vec::new();
    let mut rates = Vec::new();
    for _ in 0..3 {
        let mut client = logged_in(server, Some(mailbox)).await?;
        client.keep_untagged = false;
        let received = client.received;
        let start = Instant::now();
        client.ok(FIRST_SYNC).await?;
        let elapsed = start.elapsed().as_secs_f64();
        seconds.push(elapsed);
        rates.push((client.received - received) as f64 / elapsed / 1048576.0);
        client.logout().await;
    }
    let _ = expected;
    Ok(vec![
        figure(
            4,
            format!("first sync of {expected} messages: seconds (median of 3)"),
            "s",
            Better::Lower,
            percentile(&mut seconds, 0.5),
        ),
        figure(4, "first sync: MiB/s", "MiB/s", Better::Higher, percentile(&mut rates, 0.5)),
    ])
}

/// Scenario 18 (RFC 4978): the first sync of scenario 4, without and with
/// COMPRESS DEFLATE: seconds and bytes received on the socket (inside TLS
/// this would be the same bytes encrypted), median of 3 each.
pub async fn compressed_sync(server: &Server, mailbox: &str, expected: u64) -> io::Result<Vec<Figure>> {
    let mut figures = Vec::new();
    for compress in [false, true] {
        let mut seconds = Vec::new();
        let mut wire = Vec::new();
        for _ in 0..3 {
            let mut client = logged_in(server, None).await?;
            if compress {
                client.compress().await?;
            }
            client.ok(&format!("SELECT {mailbox}")).await?;
            client.keep_untagged = false;
            let received = client.wire_received();
            let start = Instant::now();
            client.ok(FIRST_SYNC).await?;
            seconds.push(start.elapsed().as_secs_f64());
            wire.push((client.wire_received() - received) as f64 / 1024.0);
            client.logout().await;
        }
        let how = if compress { "COMPRESS" } else { "uncompressed" };
        figures.push(figure(
            18,
            format!("first sync of {expected} messages, {how}: seconds (median of 3)"),
            "s",
            Better::Lower,
            percentile(&mut seconds, 0.5),
        ));
        figures.push(figure(
            18,
            format!("first sync, {how}: KiB received"),
            "KiB",
            Better::Lower,
            percentile(&mut wire, 0.5),
        ));
    }
    Ok(figures)
}

async fn timed(client: &mut Client, command: &str, repeat: usize) -> io::Result<(f64, Reply)> {
    let mut samples = Vec::new();
    let mut last = None;
    for _ in 0..repeat {
        let start = Instant::now();
        let reply = client.ok(command).await?;
        samples.push(milliseconds(start.elapsed()));
        last = Some(reply);
    }
    Ok((percentile(&mut samples, 0.5), last.expect("repeated at least once")))
}

/// Scenario 5: SELECT and SEARCH latency on the big mailbox.
pub async fn select_and_search(server: &Server, mailbox: &str, count: u64) -> io::Result<Vec<Figure>> {
    let mut client = logged_in(server, None).await?;
    let (select, _) = timed(&mut client, &format!("SELECT {mailbox}"), 100).await?;
    let mut figures = vec![figure(5, "SELECT of the 100k mailbox (median of 100)", "ms", Better::Lower, select)];
    let expected_marked = count.div_ceil(MARKER_EVERY);
    for (name, command, expected) in [
        ("UID SEARCH FROM", "UID SEARCH FROM rose@family.example", Some(expected_marked)),
        ("UID SEARCH SUBJECT", "UID SEARCH SUBJECT rosegarden", Some(expected_marked)),
        ("UID SEARCH FLAGGED", "UID SEARCH FLAGGED", Some(count.div_ceil(50))),
        ("UID SEARCH UNSEEN", "UID SEARCH UNSEEN", None),
    ] {
        let (median, reply) = timed(&mut client, command, 5).await?;
        let found = client::search_numbers(&reply).len() as u64;
        if let Some(expected) = expected {
            if found != expected {
                return Err(io::Error::other(format!("{command}: {found} results, expected {expected}")));
            }
        }
        figures.push(figure(5, format!("{name} (median of 5)"), "ms", Better::Lower, median));
    }
    client.logout().await;
    Ok(figures)
}

/// A message of exactly `size` bytes: a header and a base64-looking body.
pub fn big_message(size: usize, seed: u64) -> Vec<u8> {
    let mut rng = Rng::from_state(seed);
    let mut message = format!(
        "From: Sender <sender@example.org>\r\nTo: alice@example.org\r\nSubject: big {seed}\r\nMIME-Version: 1.0\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    )
    .into_bytes();
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    while message.len() < size {
        let line = (size - message.len()).min(78);
        if line < 2 {
            message.push(b'A');
            continue;
        }
        for _ in 0..line - 2 {
            message.push(ALPHABET[rng.below(64) as usize]);
        }
        message.extend_from_slice(b"\r\n");
    }
    message.truncate(size);
    message
}

/// Scenario 6: NOOP latency while another client appends 20 MiB messages
/// for `seconds` (a message under way is finished).
///
/// The appending client runs on its own thread, with its messages made
/// beforehand, so the prober is never held up by the load generator itself.
pub async fn stall(server: &Server, seconds: f64) -> io::Result<Vec<Figure>> {
    let mut creator = logged_in(server, None).await?;
    let _ = creator.command("CREATE stall").await?;
    creator.logout().await;
    let bodies = [big_message(20 << 20, 1), big_message(20 << 20, 2)];
    let done = AtomicBool::new(false);
    let mut latencies = Vec::new();
    let (written, probed) = std::thread::scope(|scope| {
        let writer = scope.spawn(|| {
            let result = smol::block_on(async {
                let mut client = logged_in(server, None).await?;
                let start = Instant::now();
                let mut number = 0;
                while start.elapsed().as_secs_f64() < seconds {
                    client.append("stall", &[&bodies[number % 2]]).await?;
                    number += 1;
                }
                client.logout().await;
                io::Result::Ok(())
            });
            done.store(true, Ordering::Relaxed);
            result
        });
        let probed = smol::block_on(async {
            let mut client = logged_in(server, Some("INBOX")).await?;
            while !done.load(Ordering::Relaxed) {
                let start = Instant::now();
                client.ok("NOOP").await?;
                latencies.push(milliseconds(start.elapsed()));
                smol::Timer::after(Duration::from_millis(10)).await;
            }
            client.logout().await;
            io::Result::Ok(())
        });
        (writer.join().expect("the appending thread"), probed)
    });
    written?;
    probed?;
    let maximum = latencies.iter().cloned().fold(0.0, f64::max);
    Ok(vec![
        figure(6, "NOOP every 10 ms during 20 MiB APPENDs: samples", "", Better::Higher, latencies.len() as f64),
        figure(6, "NOOP during 20 MiB APPENDs: p50", "ms", Better::Lower, percentile(&mut latencies, 0.5)),
        figure(6, "NOOP during 20 MiB APPENDs: p99", "ms", Better::Lower, percentile(&mut latencies, 0.99)),
        figure(6, "NOOP during 20 MiB APPENDs: max", "ms", Better::Lower, maximum),
    ])
}

/// Samples a server's memory every few milliseconds until stopped.
struct Sampler {
    stop: Arc<AtomicBool>,
    peak: Arc<Mutex<Memory>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Sampler {
    fn start(pids: impl Fn() -> Vec<u32> + Send + 'static) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let peak = Arc::new(Mutex::new(Memory::default()));
        let (thread_stop, thread_peak) = (stop.clone(), peak.clone());
        let thread = std::thread::spawn(move || {
            while !thread_stop.load(Ordering::Relaxed) {
                let memory = crate::servers::memory_of(&pids());
                let mut peak = thread_peak.lock().unwrap();
                peak.rss = peak.rss.max(memory.rss);
                peak.pss = peak.pss.max(memory.pss);
                peak.uss = peak.uss.max(memory.uss);
                drop(peak);
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        Sampler { stop, peak, thread: Some(thread) }
    }

    fn finish(mut self) -> Memory {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        *self.peak.lock().unwrap()
    }
}

/// Scenario 7: peak memory growth for a 25 MiB APPEND and a FETCH of it.
pub async fn big_message_memory(server: &Server) -> io::Result<Vec<Figure>> {
    let message = big_message(25 << 20, 25);
    let mut client = logged_in(server, Some("INBOX")).await?;
    client.keep_untagged = false;
    settle(1.0).await;
    let baseline = server.memory();
    let pids = server.pids();
    let is_dovecot = server.name == "dovecot";
    let root = pids.first().copied().unwrap_or(0);
    let sampler = Sampler::start(move || if is_dovecot { crate::servers::process_tree(root) } else { vec![root] });
    let reply = client.append("INBOX", &[&message]).await?;
    let uid = String::from_utf8_lossy(&reply.status)
        .split("APPENDUID ")
        .nth(1)
        .and_then(|rest| rest.split([' ', ']']).nth(1))
        .and_then(|uid| uid.parse::<u32>().ok())
        .unwrap_or(0);
    let received = client.received;
    let fetch = if uid > 0 { format!("UID FETCH {uid} BODY.PEEK[]") } else { "FETCH * BODY.PEEK[]".into() };
    client.ok(&fetch).await?;
    let fetched = client.received - received;
    let peak = sampler.finish();
    client.logout().await;
    if fetched < message.len() as u64 {
        return Err(io::Error::other(format!("fetched {fetched} bytes of a {} byte message", message.len())));
    }
    let grown = peak - baseline;
    Ok(vec![
        figure(7, "25 MiB APPEND + FETCH: peak RSS growth", "MiB", Better::Lower, grown.rss as f64 / 1024.0),
        figure(7, "25 MiB APPEND + FETCH: peak PSS growth", "MiB", Better::Lower, grown.pss as f64 / 1024.0),
    ])
}

/// Scenario 8: login latency and logins per second.
pub async fn logins(server: &Server, parallel: usize, seconds: f64) -> io::Result<Vec<Figure>> {
    let mut samples = Vec::new();
    for _ in 0..20 {
        let mut client = connect(server.imap, false).await?;
        let start = Instant::now();
        client.login(USER, PASSWORD).await?;
        samples.push(milliseconds(start.elapsed()));
        client.logout().await;
    }
    let count = std::cell::Cell::new(0u64);
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let executor = smol::LocalExecutor::new();
    let count = &count;
    let start = Instant::now();
    executor
        .run(async {
            let tasks: Vec<_> = (0..parallel)
                .map(|_| {
                    executor.spawn(async move {
                        while Instant::now() < deadline {
                            let mut client = connect(server.imap, false).await?;
                            client.login(USER, PASSWORD).await?;
                            count.set(count.get() + 1);
                            client.logout().await;
                        }
                        io::Result::Ok(())
                    })
                })
                .collect();
            for task in tasks {
                task.await?;
            }
            io::Result::Ok(())
        })
        .await?;
    let rate = count.get() as f64 / start.elapsed().as_secs_f64();
    Ok(vec![
        figure(8, "LOGIN latency (median of 20)", "ms", Better::Lower, percentile(&mut samples, 0.5)),
        figure(8, format!("logins/s with {parallel} clients"), "login/s", Better::Higher, rate),
    ])
}

/// Scenario 9: imaptest's default session, looped by `clients` clients.
pub async fn mixed(server: &Server, clients: usize, seconds: f64, mailbox: &str) -> io::Result<Vec<Figure>> {
    let corpus = Arc::new(Corpus::new(9));
    let samples = MixedSamples::default();
    let errors = std::cell::Cell::new(0u64);
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let executor = smol::LocalExecutor::new();
    let samples = &samples;
    let errors = &errors;
    let start = Instant::now();
    executor
        .run(async {
            let tasks: Vec<_> = (0..clients)
                .map(|worker| {
                    let corpus = corpus.clone();
                    executor.spawn(async move {
                        let mut rng = Rng::from_state(1000 + worker as u64);
                        let mut appended = 0u64;
                        while Instant::now() < deadline {
                            if let Err(error) =
                                mixed_session(server, mailbox, &mut rng, &corpus, worker, &mut appended, samples).await
                            {
                                errors.set(errors.get() + 1);
                                if errors.get() < 5 {
                                    eprintln!("{}: mixed session error: {error}", server.name);
                                }
                            }
                        }
                    })
                })
                .collect();
            for task in tasks {
                task.await;
            }
        })
        .await;
    let elapsed = start.elapsed().as_secs_f64();
    drop(executor);
    // LOGIN (argon2id at the same cost in both servers) is timed apart:
    // with many clients its queue sets the overall p99.
    let mut others = samples.commands.take();
    let mut samples = [others.clone(), samples.logins.take()].concat();
    let commands = samples.len() as f64;
    Ok(vec![
        figure(
            9,
            format!("mixed workload, {clients} clients: commands/s"),
            "cmd/s",
            Better::Higher,
            commands / elapsed,
        ),
        figure(
            9,
            format!("mixed workload, {clients} clients: p99 latency"),
            "ms",
            Better::Lower,
            percentile(&mut samples, 0.99),
        ),
        figure(
            9,
            format!("mixed workload, {clients} clients: p99 latency, LOGIN excluded"),
            "ms",
            Better::Lower,
            percentile(&mut others, 0.99),
        ),
        figure(
            9,
            format!("mixed workload, {clients} clients: failed sessions"),
            "",
            Better::Lower,
            errors.get() as f64,
        ),
    ])
}

/// Latencies of the mixed workload, in ms: LOGIN apart from the rest.
#[derive(Default)]
struct MixedSamples {
    commands: std::cell::RefCell<Vec<f64>>,
    logins: std::cell::RefCell<Vec<f64>>,
}

/// Sequence-number bookkeeping from untagged EXISTS/EXPUNGE.
fn track(exists: &mut u32, reply: &Reply) {
    for line in &reply.untagged {
        let text = String::from_utf8_lossy(line);
        let mut words = text.split_whitespace().skip(1);
        if let (Some(number), Some(kind)) = (words.next().and_then(|n| n.parse::<u32>().ok()), words.next()) {
            match kind {
                "EXISTS" => *exists = number,
                "EXPUNGE" => *exists = exists.saturating_sub(1),
                _ => {}
            }
        }
    }
}

async fn mixed_session(
    server: &Server,
    mailbox: &str,
    rng: &mut Rng,
    corpus: &Corpus,
    worker: usize,
    appended: &mut u64,
    samples: &MixedSamples,
) -> io::Result<()> {
    let (latencies, logins) = (&samples.commands, &samples.logins);
    let mut client = connect(server.imap, false).await?;
    let mut exists = 0u32;
    macro_rules! run {
        ($command:expr) => {{
            let start = Instant::now();
            let command: String = $command.into();
            let reply = client.command(&command).await?;
            latencies.borrow_mut().push(milliseconds(start.elapsed()));
            track(&mut exists, &reply);
            reply
        }};
    }
    let start = Instant::now();
    client.command(&format!("LOGIN {USER} \"{PASSWORD}\"")).await?;
    logins.borrow_mut().push(milliseconds(start.elapsed()));
    if rng.below(100) < 50 {
        run!("LIST \"\" *");
    }
    if rng.below(100) < 50 {
        run!(format!("STATUS {mailbox} (MESSAGES UNSEEN RECENT)"));
    }
    run!(format!("SELECT {mailbox}"));
    if exists > 0 {
        let first = 1 + rng.below(exists as u64) as u32;
        let last = (first + 99).min(exists);
        let fields =
            ["UID", "FLAGS", "INTERNALDATE", "RFC822.SIZE", "BODY.PEEK[HEADER.FIELDS (From To Subject Message-ID)]"];
        let chosen: Vec<&str> = fields.iter().copied().filter(|_| rng.below(2) == 0).collect();
        let chosen = if chosen.is_empty() { vec!["FLAGS"] } else { chosen };
        run!(format!("FETCH {first}:{last} ({})", chosen.join(" ")));
        loop {
            let message = 1 + rng.below(exists as u64) as u32;
            run!(format!("FETCH {message} BODY.PEEK[]"));
            if rng.below(100) >= 30 {
                break;
            }
        }
        if rng.below(100) < 33 {
            let message = 1 + rng.below(exists as u64) as u32;
            run!(format!("COPY {message} {mailbox}"));
        }
        if exists > 0 && rng.below(100) < 50 {
            let first = 1 + rng.below(exists as u64) as u32;
            let last = (first + 9).min(exists);
            let flag = *rng.pick(&["\\Seen", "\\Flagged", "\\Answered", "$Label1"]);
            let sign = if rng.below(2) == 0 { '+' } else { '-' };
            run!(format!("STORE {first}:{last} {sign}FLAGS ({flag})"));
        }
        if exists > 0 {
            let message = 1 + rng.below(exists as u64) as u32;
            run!(format!("STORE {message} +FLAGS (\\Deleted)"));
        }
        run!("EXPUNGE");
    }
    loop {
        *appended += 1;
        let message = corpus.message(worker as u64 * 10_000_000 + *appended, Sizes::Mailbox);
        let start = Instant::now();
        let reply = client.append(mailbox, &[&message]).await?;
        latencies.borrow_mut().push(milliseconds(start.elapsed()));
        track(&mut exists, &reply);
        if rng.below(100) >= 5 {
            break;
        }
    }
    let start = Instant::now();
    client.logout().await;
    latencies.borrow_mut().push(milliseconds(start.elapsed()));
    Ok(())
}

/// The `* n EXISTS` number of a response line, if it is one.
fn exists_number(line: &[u8]) -> Option<u32> {
    let text = std::str::from_utf8(line).ok()?;
    let mut words = text.split_whitespace();
    match (words.next(), words.next(), words.next()) {
        (Some("*"), Some(number), Some(kind)) if kind.eq_ignore_ascii_case("EXISTS") => number.parse().ok(),
        _ => None,
    }
}

/// A small message for the LMTP deliveries, with a line that needs dot-stuffing.
fn wake_up_message(number: usize) -> Vec<u8> {
    format!(
        "From: Sender <sender@example.org>\r\nTo: {USER}@example.org\r\nSubject: wake-up {number}\r\nMessage-ID: <wake-up-{number}@bench.example>\r\nDate: Mon, 1 Jan 2024 12:00:00 +0000\r\n\r\nA new message for the idling clients.\r\n.a line that starts with a dot\r\n-- \r\nbench\r\n"
    )
    .into_bytes()
}

/// An LMTP session on a thread of its own, so that its timings are not
/// held up by the executor waking the idling connections: it delivers
/// message n when sent n, and answers with the timing; it ends (with QUIT)
/// when the sender is dropped.
fn deliverer(
    address: SocketAddr,
) -> (smol::channel::Sender<usize>, smol::channel::Receiver<io::Result<crate::lmtp::Delivered>>) {
    let (requests, jobs) = smol::channel::unbounded::<usize>();
    let (results, answers) = smol::channel::unbounded();
    std::thread::spawn(move || {
        smol::block_on(async move {
            let mut lmtp = match crate::lmtp::Lmtp::connect(address).await {
                Ok(lmtp) => lmtp,
                Err(error) => {
                    let _ = results.send(Err(error)).await;
                    return;
                }
            };
            while let Ok(number) = jobs.recv().await {
                let result = lmtp.deliver(USER, &wake_up_message(number)).await;
                let failed = result.is_err();
                if results.send(result).await.is_err() || failed {
                    return;
                }
            }
            lmtp.quit().await;
        })
    });
    (requests, answers)
}

/// Scenario 10: `count` connections LOGIN, SELECT INBOX and IDLE; the
/// server's memory per idling connection; then `deliveries` messages over
/// LMTP, one at a time, each timed from its final `.` to the first and the
/// last idling connection reading `* n EXISTS`, and to the LMTP 250.
///
/// Every idling connection is read by its own task on one executor: the
/// time a reading is taken includes the bench's own wake-up of up to
/// `count` tasks (the same for both servers). The LMTP client runs on a
/// thread of its own.
pub async fn idle_wakeup(server: &Server, count: usize, deliveries: usize) -> io::Result<Vec<Figure>> {
    let lmtp_address = server.lmtp.ok_or_else(|| io::Error::other("the server was started without LMTP"))?;
    let label = format!("{count} IDLE");
    // Warm up: a login, and a delivery (Dovecot starts its lmtp process,
    // both servers open the mailbox for delivery once).
    let mut warm = logged_in(server, Some("INBOX")).await?;
    let mut lmtp = crate::lmtp::Lmtp::connect(lmtp_address).await?;
    lmtp.deliver(USER, &wake_up_message(0)).await?;
    lmtp.quit().await;
    warm.ok("NOOP").await?;
    warm.logout().await;
    settle(1.0).await;
    let before = server.memory();

    let executor = smol::LocalExecutor::new();
    let (sender, receiver) = smol::channel::unbounded::<io::Result<(u32, Instant)>>();
    let mut samples: [Vec<f64>; 3] = Default::default();
    let mut during = Memory::default();
    executor
        .run(async {
            // Connect in waves, as scenario 1 does; each connection is
            // idling before the next wave starts.
            let mut clients = Vec::with_capacity(count);
            for wave in (0..count).collect::<Vec<_>>().chunks(64) {
                let tasks: Vec<_> = wave
                    .iter()
                    .map(|_| {
                        executor.spawn(async move {
                            let mut client = connect(server.imap, false).await?;
                            client.login(USER, PASSWORD).await?;
                            let reply = client.ok("SELECT INBOX").await?;
                            let mut exists = 0;
                            track(&mut exists, &reply);
                            client.idle().await?;
                            io::Result::Ok((client, exists))
                        })
                    })
                    .collect();
                for task in tasks {
                    clients.push(task.await?);
                }
            }
            settle(2.0).await;
            during = server.memory();
            let first = clients.first().map_or(0, |(_, exists)| *exists);
            if clients.iter().any(|(_, exists)| *exists != first) {
                return Err(io::Error::other("the idling connections disagree on the INBOX size"));
            }
            // From here on every connection is read by a task of its own;
            // the tasks end with the executor.
            for (mut client, _) in clients {
                let sender = sender.clone();
                executor
                    .spawn(async move {
                        loop {
                            let result = client.read_response().await;
                            let now = Instant::now();
                            let arrival = match result {
                                Ok(line) => match exists_number(&line) {
                                    Some(number) => Ok((number, now)),
                                    None => continue,
                                },
                                Err(error) => Err(error),
                            };
                            let failed = arrival.is_err();
                            if sender.send(arrival).await.is_err() || failed {
                                break;
                            }
                        }
                    })
                    .detach();
            }
            let (requests, deliverer) = deliverer(lmtp_address);
            for delivery in 1..=deliveries {
                let expected = first + delivery as u32;
                requests.send(delivery).await.map_err(|_| io::Error::other("the LMTP thread ended"))?;
                let done = deliverer.recv().await.map_err(|_| io::Error::other("the LMTP thread ended"))??;
                samples[2].push(milliseconds(done.accepted - done.dot));
                let deadline = Instant::now() + Duration::from_secs(90);
                let (mut seen, mut earliest, mut latest) = (0, None::<Instant>, None::<Instant>);
                while seen < count {
                    let next = smol::future::or(async { Some(receiver.recv().await) }, async {
                        smol::Timer::at(deadline).await;
                        None
                    })
                    .await;
                    let Some(Ok(arrival)) = next else {
                        return Err(io::Error::other(format!(
                            "delivery {delivery}: {seen} of {count} idling connections saw it within 90 s"
                        )));
                    };
                    let (number, at) = arrival.map_err(|error| io::Error::other(format!("idling client: {error}")))?;
                    if number != expected {
                        return Err(io::Error::other(format!(
                            "delivery {delivery}: * {number} EXISTS, expected {expected}"
                        )));
                    }
                    seen += 1;
                    earliest = Some(earliest.map_or(at, |earliest| earliest.min(at)));
                    latest = Some(latest.map_or(at, |latest| latest.max(at)));
                }
                let since_dot = |at: Option<Instant>| milliseconds(at.unwrap().saturating_duration_since(done.dot));
                samples[0].push(since_dot(earliest));
                samples[1].push(since_dot(latest));
            }
            io::Result::Ok(())
        })
        .await?;
    // Dropping the executor drops the reading tasks and closes their connections.
    drop(executor);
    let grown = during - before;
    let per = |value: u64| value as f64 / count as f64;
    let [mut first, mut last, mut accepted] = samples;
    let runs = format!("{deliveries} deliveries");
    let mut figures = vec![
        figure(10, format!("{label}: PSS per connection"), "KiB", Better::Lower, per(grown.pss)),
        figure(10, format!("{label}: USS per connection"), "KiB", Better::Lower, per(grown.uss)),
        figure(10, format!("{label}: RSS per connection"), "KiB", Better::Lower, per(grown.rss)),
        figure(10, format!("{label}: server RSS during"), "MiB", Better::Lower, during.rss as f64 / 1024.0),
    ];
    for (what, samples) in [("first EXISTS", &mut first), ("last EXISTS", &mut last), ("LMTP 250", &mut accepted)] {
        for (name, fraction) in [("p50", 0.5), ("p99", 0.99)] {
            let value = percentile(samples, fraction);
            figures.push(figure(10, format!("LMTP to {label}, {runs}: {what} {name}"), "ms", Better::Lower, value));
        }
    }
    Ok(figures)
}

/// Scenario 19 (issue 13): a phone listing a mailbox with a line of each
/// message. With PREVIEW (RFC 8970) the server sends at most 256
/// characters per message; without it a client fetches the start of the
/// first part and makes its own (`BODY.PEEK[1]<0.512>`, the brief's
/// stand-in for what clients fetch). Time and bytes received for each
/// over `count` messages: the first PREVIEW (a server that computes
/// previews when first asked pays then; roost made them at delivery), the
/// median of the next three, LAZY, and the body fetch. A server without
/// PREVIEW gets its draft-era `SNIPPET (LAZY=FUZZY)` if it offers that.
pub async fn preview_listing(server: &Server, mailbox: &str, count: u64) -> io::Result<Vec<Figure>> {
    let mut client = logged_in(server, None).await?;
    let capabilities = client.ok("CAPABILITY").await?;
    let words: Vec<String> = capabilities
        .untagged
        .iter()
        .flat_map(|line| String::from_utf8_lossy(line).split_whitespace().map(str::to_string).collect::<Vec<_>>())
        .collect();
    let has = |name: &str| words.iter().any(|word| word.eq_ignore_ascii_case(name));
    let (item, lazy) = if has("PREVIEW") {
        ("PREVIEW", Some("PREVIEW (LAZY)"))
    } else if has("SNIPPET=FUZZY") {
        ("SNIPPET (LAZY=FUZZY)", None)
    } else {
        ("", None)
    };
    client.ok(&format!("SELECT {mailbox}")).await?;
    client.keep_untagged = false;
    let label = format!("{count} messages");
    let mut figures = Vec::new();
    // One FETCH 1:* of `items`: (seconds, KiB received).
    async fn listing(client: &mut Client, items: &str) -> io::Result<(f64, f64)> {
        let received = client.received;
        let start = Instant::now();
        client.ok(&format!("FETCH 1:* (UID {items})")).await?;
        Ok((start.elapsed().as_secs_f64(), (client.received - received) as f64 / 1024.0))
    }
    let median_of_3 = |runs: &mut Vec<f64>| percentile(runs, 0.5);
    if item.is_empty() {
        eprintln!("scenario 19: the server offers neither PREVIEW nor SNIPPET");
    } else {
        let short = item.split(' ').next().unwrap_or(item);
        let (first, kib) = listing(&mut client, item).await?;
        figures.push(figure(19, format!("{short} listing of {label}: first FETCH"), "s", Better::Lower, first));
        let mut runs = Vec::new();
        for _ in 0..3 {
            runs.push(listing(&mut client, item).await?.0);
        }
        figures.push(figure(
            19,
            format!("{short} listing of {label}: later (median of 3)"),
            "s",
            Better::Lower,
            median_of_3(&mut runs),
        ));
        figures.push(figure(19, format!("{short} listing of {label}: received"), "KiB", Better::Lower, kib));
        if let Some(lazy) = lazy {
            let mut runs = Vec::new();
            for _ in 0..3 {
                runs.push(listing(&mut client, lazy).await?.0);
            }
            figures.push(figure(
                19,
                format!("PREVIEW (LAZY) listing of {label}: median of 3"),
                "s",
                Better::Lower,
                median_of_3(&mut runs),
            ));
        }
    }
    let body = "BODY.PEEK[1]<0.512>";
    let mut runs = Vec::new();
    let mut kib = 0.0;
    for _ in 0..3 {
        let (seconds, received) = listing(&mut client, body).await?;
        runs.push(seconds);
        kib = received;
    }
    figures.push(figure(
        19,
        format!("{body} listing of {label}: median of 3"),
        "s",
        Better::Lower,
        median_of_3(&mut runs),
    ));
    figures.push(figure(19, format!("{body} listing of {label}: received"), "KiB", Better::Lower, kib));
    client.logout().await;
    Ok(figures)
}
