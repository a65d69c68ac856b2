//! What an online backup costs (issue 16): `roost backup` of a store of
//! --mb MiB (default 1024) while the household uses the server.
//!
//! `cargo build --release && cargo bench --bench backup -- [--mb 1024] [--keep]`
//!
//! Fills a roost (the release binary) with distinct messages of mixed
//! sizes (kept in target/bench-work/backup between runs with --keep), then
//! runs two phases of equal length, each with a bystander session sending
//! NOOP every 10 ms (latency recorded) and a "household" session that
//! APPENDs a 20 KiB message, sets \Seen and \Deleted on an older one and
//! EXPUNGEs, in a loop (changes that free pages):
//! 1. during `roost backup` (through the control socket of the running
//!    server): backup MiB/s, its time extrapolated to 10 GiB, NOOP
//!    latencies, the live file's growth (redb cannot reuse pages freed
//!    while the backup's snapshot is held);
//! 2. the same load without a backup, for as long: the baseline.
//!
//! The store is compacted first (backed up and restored), so that the live
//! file's growth in each phase (disk blocks: see `allocated`) is what that
//! phase added. Prints a table.
//! The backup file is removed at the end, the store too
//! unless --keep.

// servers.rs uses corpus.rs (base64 of argon2 hashes), which uses rng.rs;
// most of them is for imap_load.
#[allow(dead_code)]
#[path = "corpus.rs"]
mod corpus;
#[path = "../common/rng.rs"]
mod rng;
#[allow(dead_code)]
#[path = "servers.rs"]
mod servers;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use argh::FromArgs;

use servers::{RoostSetup, Server, PASSWORD, USER};

/// roost backup: throughput and what it costs the running server.
#[derive(FromArgs)]
struct Options {
    /// size of the store in MiB (default 1024)
    #[argh(option, default = "1024")]
    mb: u64,
    /// the roost binary (default target/release/roost)
    #[argh(option, default = "PathBuf::from(\"target/release/roost\")")]
    roost: PathBuf,
    /// keep the store in target/bench-work/backup for the next run
    #[argh(switch)]
    keep: bool,
    /// ignored (cargo bench passes it)
    #[argh(switch)]
    bench: bool,
}

/// A blocking IMAP client: tagged commands, literals in responses skipped.
struct Client {
    reader: BufReader<TcpStream>,
    tag: u64,
}

impl Client {
    fn login(address: SocketAddr) -> Client {
        let stream = TcpStream::connect(address).expect("connect");
        stream.set_nodelay(true).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
        let mut client = Client { reader: BufReader::new(stream), tag: 0 };
        client.line();
        client.command(&format!("LOGIN {USER} \"{PASSWORD}\""));
        client.command("SELECT INBOX");
        client
    }

    /// One line; a literal it announces is read and dropped.
    fn line(&mut self) -> String {
        let mut line = String::new();
        self.reader.read_line(&mut line).expect("read");
        assert!(!line.is_empty(), "the server closed the connection");
        if let Some(length) = line.trim_end().strip_suffix('}').and_then(|rest| rest.rsplit_once('{')) {
            if let Ok(length) = length.1.parse::<u64>() {
                std::io::copy(&mut (&mut self.reader).take(length), &mut std::io::sink()).unwrap();
                return line + &self.line();
            }
        }
        line
    }

    /// Sends a command, reads to its tagged reply (which must be OK).
    fn command(&mut self, command: &str) -> Vec<String> {
        self.tag += 1;
        let tag = format!("b{}", self.tag);
        self.reader.get_mut().write_all(format!("{tag} {command}\r\n").as_bytes()).unwrap();
        self.until(&tag, command)
    }

    fn until(&mut self, tag: &str, command: &str) -> Vec<String> {
        let mut lines = Vec::new();
        loop {
            let line = self.line();
            if let Some(rest) = line.strip_prefix(tag).and_then(|rest| rest.strip_prefix(' ')) {
                assert!(rest.starts_with("OK"), "{command}: {rest}");
                return lines;
            }
            lines.push(line);
        }
    }

    /// APPEND with LITERAL+ (RFC 7888); the UID from APPENDUID.
    fn append(&mut self, message: &[u8]) -> u32 {
        self.tag += 1;
        let tag = format!("b{}", self.tag);
        let stream = self.reader.get_mut();
        stream.write_all(format!("{tag} APPEND INBOX {{{}+}}\r\n", message.len()).as_bytes()).unwrap();
        stream.write_all(message).unwrap();
        stream.write_all(b"\r\n").unwrap();
        let mut uid = 0;
        loop {
            let line = self.line();
            if let Some(rest) = line.strip_prefix(&tag).and_then(|rest| rest.strip_prefix(' ')) {
                assert!(rest.starts_with("OK"), "APPEND: {rest}");
                if let Some(code) = rest.split("APPENDUID ").nth(1) {
                    uid = code.split([' ', ']']).nth(1).and_then(|uid| uid.parse().ok()).unwrap_or(0);
                }
                return uid;
            }
        }
    }
}

/// xorshift64*: distinct message bodies (single-instance storage would
/// store identical ones once).
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// A message of about `size` bytes: headers and lines of base64-like text.
fn message(random: &mut Random, index: u64, size: usize) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut text = format!(
        "From: Bench <bench@example.org>\r\nTo: {USER}@example.org\r\nSubject: message {index}\r\nDate: Sun, 6 Dec 2026 03:00:00 +0000\r\nMessage-ID: <{index}.{}@bench>\r\nContent-Type: text/plain\r\n\r\n",
        random.next()
    )
    .into_bytes();
    while text.len() < size {
        for _ in 0..76 {
            text.push(ALPHABET[(random.next() % 64) as usize]);
        }
        text.extend_from_slice(b"\r\n");
    }
    text
}

/// Sizes of a household's mail: mostly small, a few with attachments.
fn size_of(index: u64) -> usize {
    match index % 20 {
        0 => 2 << 20,
        1..=3 => 300 << 10,
        4..=9 => 40 << 10,
        _ => 8 << 10,
    }
}

fn fill(server: &Server, mb: u64) {
    let target = mb << 20;
    let started = Instant::now();
    let address = server.imap;
    // Four sessions at once: the store thread commits them in groups.
    let writers: Vec<_> = (0..4u64)
        .map(|writer| {
            std::thread::spawn(move || {
                let mut client = Client::login(address);
                let mut random = Random(0x9E37_79B9_7F4A_7C15 ^ (writer + 1));
                let (mut index, mut bytes) = (writer, 0u64);
                while bytes < target / 4 {
                    let message = message(&mut random, index, size_of(index));
                    bytes += message.len() as u64;
                    client.append(&message);
                    index += 4;
                }
            })
        })
        .collect();
    for writer in writers {
        writer.join().unwrap();
    }
    eprintln!("filled {mb} MiB in {:.0} s", started.elapsed().as_secs_f64());
}

/// What one phase measured.
struct Phase {
    seconds: f64,
    noops: Vec<Duration>,
    growth: u64,
    changes: u64,
}

/// Runs the bystander and the household for as long as `work` runs (or
/// `seconds`, when `work` returns at once).
fn phase(server: &Server, seconds: Option<f64>, work: impl FnOnce()) -> Phase {
    let stop = Arc::new(AtomicBool::new(false));
    let address = server.imap;
    let bystander = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut client = Client::login(address);
            let mut latencies = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let sent = Instant::now();
                client.command("NOOP");
                latencies.push(sent.elapsed());
                std::thread::sleep(Duration::from_millis(10));
            }
            latencies
        })
    };
    let household = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut client = Client::login(address);
            // Distinct from every other run's: identical bytes would be stored once.
            let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
            let mut random = Random(seed | 1);
            let mut changes = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let uid = client.append(&message(&mut random, 1_000_000 + changes, 20 << 10));
                client.command(&format!("UID STORE {uid} +FLAGS.SILENT (\\Seen \\Deleted)"));
                client.command(&format!("UID EXPUNGE {uid}"));
                changes += 1;
            }
            changes
        })
    };
    let before = allocated(server);
    let started = Instant::now();
    work();
    if let Some(seconds) = seconds {
        std::thread::sleep(Duration::from_secs_f64(seconds).saturating_sub(started.elapsed()));
    }
    let seconds = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let mut noops = bystander.join().unwrap();
    let changes = household.join().unwrap();
    let growth = allocated(server).saturating_sub(before);
    noops.sort();
    Phase { seconds, noops, growth, changes }
}

/// Disk blocks the live file holds. Not its length: redb extends a file
/// in large steps that stay sparse until written (a restored 1.1 GiB file
/// measured 2.2 GiB long after its first commit, 1.1 GiB on disk), so
/// pages newly written show here while pages reused in place do not.
fn allocated(server: &Server) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(server.dir.join("data").join("roost.redb")).map_or(0, |meta| meta.blocks() * 512)
}

fn percentile(sorted: &[Duration], fraction: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() as f64 * fraction).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[index].as_secs_f64() * 1000.0
}

fn main() {
    let options: Options = argh::from_env();
    let _ = options.bench;
    let dir = PathBuf::from("target/bench-work/backup");
    let setup = RoostSetup { limits: "", lmtp: false, board_limits: false, keep: true };
    let mut server = Server::roost_with(&options.roost, &dir, &setup);
    let have = server.data_bytes(USER);
    if have < options.mb << 20 {
        fill(&server, options.mb - (have >> 20));
    }
    let dest = dir.join("backup.redb");
    let _ = std::fs::remove_file(&dest);
    let config = dir.join("roost.toml");
    let roost = |words: &[&str]| {
        let result = std::process::Command::new(&options.roost)
            .args(words)
            .args(["--config", config.to_str().unwrap()])
            .output()
            .expect("run roost");
        let output = String::from_utf8_lossy(&result.stdout).into_owned() + &String::from_utf8_lossy(&result.stderr);
        assert!(result.status.success(), "roost {words:?}: {output}");
        output
    };
    // The live file compacted first (a backup restored: written fresh in
    // key order), so that its growth during the phases is what they add,
    // not absorbed by free pages a long-lived file has.
    roost(&["backup", dest.to_str().unwrap()]);
    server.stop();
    let restored = roost(&["restore", dest.to_str().unwrap()]);
    if let Some(kept) = restored.split("kept as ").nth(1).and_then(|rest| rest.split(' ').next()) {
        std::fs::remove_file(kept).expect("remove the replaced database");
    }
    std::fs::remove_file(&dest).unwrap();
    server.restart();
    let (store, store_on_disk) = (server.data_bytes(USER), allocated(&server));

    let mut output = String::new();
    let during = phase(&server, None, || output = roost(&["backup", dest.to_str().unwrap()]));
    let backup_bytes = std::fs::metadata(&dest).map_or(0, |meta| meta.len());
    let baseline = phase(&server, Some(during.seconds), || {});
    server.stop();
    let _ = std::fs::remove_file(&dest);
    if !options.keep {
        let _ = std::fs::remove_dir_all(&dir);
    }

    let mib = |bytes: u64| bytes as f64 / f64::from(1 << 20);
    let rate = mib(backup_bytes) / during.seconds;
    println!("roost backup {}", output.trim());
    println!();
    println!("| | during the backup | baseline (same load, no backup) |");
    println!("|---|---|---|");
    println!(
        "| store (live file, compacted: length / on disk) | {:.0} / {:.0} MiB | |",
        mib(store),
        mib(store_on_disk)
    );
    println!("| backup file | {:.0} MiB | |", mib(backup_bytes));
    println!("| time (CLI, wall) | {:.1} s | {:.1} s |", during.seconds, baseline.seconds);
    println!("| throughput (backup MiB / s) | {rate:.1} MiB/s | |");
    println!("| 10 GiB at that rate | {:.1} min | |", 10240.0 / rate / 60.0);
    for (label, fraction) in [("p50", 0.5), ("p99", 0.99), ("max", 1.0)] {
        println!(
            "| bystander NOOP {label} | {:.2} ms | {:.2} ms |",
            percentile(&during.noops, fraction),
            percentile(&baseline.noops, fraction)
        );
    }
    println!("| NOOPs | {} | {} |", during.noops.len(), baseline.noops.len());
    println!("| household APPEND+STORE+EXPUNGE rounds | {} | {} |", during.changes, baseline.changes);
    println!("| live file growth (blocks on disk) | {:.1} MiB | {:.1} MiB |", mib(during.growth), mib(baseline.growth));
}
