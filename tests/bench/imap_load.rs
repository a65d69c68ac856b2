//! roost's footprint and speed benchmark, side by side with Dovecot.
//!
//! `cargo bench --bench imap_load -- [options]` (see `--help`). It starts
//! roost (the release binary) and a private Dovecot instance
//! (tests/bench/dovecot.sh), runs every scenario against each in the same
//! run, prints a table and writes JSON. tests/bench/run.sh installs
//! Dovecot and builds roost first.

#[path = "client.rs"]
mod client;
#[path = "corpus.rs"]
mod corpus;
#[path = "fts_bench.rs"]
mod fts_bench;
#[path = "hostile.rs"]
mod hostile;
#[path = "lmtp.rs"]
mod lmtp;
#[path = "../common/rng.rs"]
mod rng;
#[path = "scenarios.rs"]
mod scenarios;
#[path = "servers.rs"]
mod servers;

use std::io;
use std::path::PathBuf;

use std::time::Duration;

use argh::FromArgs;

use scenarios::{Better, Figure};
use servers::{RoostSetup, Server};

/// Footprint and speed of roost, side by side with Dovecot.
#[derive(FromArgs)]
#[argh(note = "Scenarios: 1 memory of idle connections (--idle), 2 idle server with a big mailbox, \
3 APPEND throughput, 4 first sync, 5 SELECT and SEARCH, 6 NOOP latency during big APPENDs, \
7 memory of a 25 MiB APPEND + FETCH, 8 logins, 9 mixed workload, \
10 LMTP delivery to IDLE wake-up latency and memory per IDLE connection (--idlers, --deliveries). \
Attacks (issue 11), each with a bystander from 127.0.0.200 that sends NOOP every 10 ms and logs in once a \
second, the server's RSS and VmHWM before, at peak and after, and roost's targets in the table; the server runs \
with the generic board's own connection limits: 11 LIST with 60 patterns of 1000 characters over 1000 \
mailboxes, 12 SEARCH TEXT and BODY over a 1 GiB mailbox (--search-mb; kept between runs, --fresh), \
13 FETCH 1:* with a client that stops reading while another session sends 3000 STOREs (data file growth), \
14 1000 slow pre-auth connections from 12 addresses, 15 2000 wrong passwords from 5 addresses, \
16 500 pre-auth LOGIN literals of 60 KiB; phases last --phase seconds. \
17 bans (issue 12, no bystander): guessing from 5 addresses until refused, then 10,000 connect+LOGIN attempts \
from them (Dovecot: 1000, CPU time scaled), with the server's CPU time. \
18 COMPRESS=DEFLATE (RFC 4978): memory of --idle idle compressed connections, plain and TLS (compare \
scenario 1), and scenario 4's first sync without and with COMPRESS (seconds, KiB received); \
e.g. --scenarios 1,18 --idle 200 --messages 2000. \
19 (only when named) a mailbox of 10,000 messages listed with FETCH 1:* (UID PREVIEW) against \
FETCH 1:* (UID BODY.PEEK[1]<0.512>): time and KiB received (--quick: 1000 messages). \
20 (only when named; issue 18) full-text search on a mailbox of --messages messages: UID SEARCH BODY and TEXT \
for a rare word, a common word, a non-ASCII word and 2 characters, without an index (roost: search_index = false; \
Dovecot: no plugin) and indexed (roost: after `roost reindex --wait`; Dovecot: fts-xapian after `doveadm index`), \
the index build's time, memory and a bystander's NOOP latency, index size, APPEND 1 and 10 clients without and \
with the index; Dovecot's maildir and its complete Xapian index are kept in --work between runs (--fresh, --rebuild). \
Quick attack run, under a minute for roost: --quick --servers roost --scenarios 11,12,13,14,15,16,17.")]
struct Options {
    /// scenarios to run, comma-separated (default: 1,2,3,4,5,6,7,8,9,10;
    /// the attacks 11-17 run only when named)
    #[argh(option, default = "String::from(\"1,2,3,4,5,6,7,8,9,10\")")]
    scenarios: String,
    /// servers, comma-separated: roost, dovecot (default: both)
    #[argh(option, default = "String::from(\"roost,dovecot\")")]
    servers: String,
    /// idle connection counts for scenario 1 (default: 100,1000,5000)
    #[argh(option, default = "String::from(\"100,1000,5000\")")]
    idle: String,
    /// idling connections for scenario 10, LMTP delivery to IDLE wake-up
    /// (default: 1000; with --quick 100)
    #[argh(option)]
    idlers: Option<usize>,
    /// LMTP deliveries timed in scenario 10 (default: 30; with --quick 5)
    #[argh(option)]
    deliveries: Option<usize>,
    /// seconds each attack of scenarios 11-16 lasts (default: 15; with
    /// --quick 3)
    #[argh(option)]
    phase: Option<f64>,
    /// size in MiB of the mailbox scenario 12 searches (default: 1024;
    /// with --quick 64)
    #[argh(option)]
    search_mb: Option<u64>,
    /// make the data of scenarios 11, 12 and 20 (Dovecot's) again even if
    /// an earlier run left it
    #[argh(switch)]
    fresh: bool,
    /// scenario 20: build (and time) Dovecot's Xapian index again even if
    /// an earlier run left a complete one
    #[argh(switch)]
    rebuild: bool,
    /// messages in the big mailbox of scenarios 2, 4, 5 and 20 (default:
    /// 100000)
    #[argh(option, default = "100_000")]
    messages: u64,
    /// a small, quick run (CI): fewer messages and shorter loads
    #[argh(switch)]
    quick: bool,
    /// the roost binary (default: target/release/roost)
    #[argh(option, default = "PathBuf::from(\"target/release/roost\")")]
    roost: PathBuf,
    /// working directory for data (default: target/bench-work)
    #[argh(option, default = "PathBuf::from(\"target/bench-work\")")]
    work: PathBuf,
    /// where to write the JSON results (default: target/bench-results.json)
    #[argh(option, default = "PathBuf::from(\"target/bench-results.json\")")]
    json: PathBuf,
}

fn main() {
    // `cargo bench` passes --bench to harness-less targets; it is not ours.
    let arguments: Vec<String> = std::env::args().skip(1).filter(|argument| argument != "--bench").collect();
    let arguments: Vec<&str> = arguments.iter().map(String::as_str).collect();
    let options = match Options::from_args(&["imap_load"], &arguments) {
        Ok(options) => options,
        Err(early) => {
            println!("{}", early.output);
            std::process::exit(if early.status.is_ok() { 0 } else { 2 });
        }
    };
    raise_file_limit();
    let scenarios: Vec<u32> = options.scenarios.split(',').filter_map(|item| item.trim().parse().ok()).collect();
    let mut results: Vec<(&'static str, Vec<Figure>)> = Vec::new();
    for name in options.servers.split(',').map(str::trim) {
        let name: &'static str = match name {
            "roost" => "roost",
            "dovecot" => "dovecot",
            other => {
                eprintln!("unknown server {other:?}");
                std::process::exit(2);
            }
        };
        eprintln!("==== {name} ====");
        match run_server(name, &options, &scenarios) {
            Ok(figures) => results.push((name, figures)),
            Err(error) => {
                eprintln!("{name}: benchmark failed: {error}");
                std::process::exit(1);
            }
        }
    }
    print_table(&results);
    write_json(&options.json, &results);
}

fn raise_file_limit() {
    // 5000 connections need twice as many descriptors between us and the server.
    let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile);
    let wanted = limit.maximum.unwrap_or(1 << 20).min(1 << 20);
    let raised = rustix::process::Rlimit { current: Some(wanted), maximum: limit.maximum };
    let _ = rustix::process::setrlimit(rustix::process::Resource::Nofile, raised);
}

/// A fresh server; with `lmtp`, also listening for LMTP on loopback TCP.
fn start(name: &str, options: &Options, limits: &str, lmtp: bool) -> Server {
    let dir = options.work.join(name);
    match name {
        "roost" => Server::roost(&options.roost, &dir, limits, lmtp),
        _ => Server::dovecot(&PathBuf::from("tests/bench/dovecot.sh"), &dir, lmtp),
    }
}

fn run_server(name: &'static str, options: &Options, scenarios: &[u32]) -> io::Result<Vec<Figure>> {
    let mut figures = Vec::new();
    let quick = options.quick;
    let messages = if quick { options.messages.min(2000) } else { options.messages };
    let progress = |text: &str| eprintln!("[{name}] {text}");

    if scenarios.contains(&1) {
        // Logins are not what this scenario measures: a cheap password
        // hash keeps 5000 logins from taking minutes (scenario 8 uses the
        // board's real cost).
        for count in options.idle.split(',').filter_map(|count| count.trim().parse::<usize>().ok()) {
            for tls in [false, true] {
                progress(&format!("scenario 1: {count} idle connections, TLS {tls}"));
                // A fresh server each time: memory freed by an earlier round
                // and reused by this one would hide this round's cost.
                let server = start(name, options, CHEAP_LOGINS, false);
                figures.extend(smol::block_on(scenarios::idle_connections(&server, count, tls))?);
            }
        }
    }

    if scenarios.contains(&18) {
        for count in options.idle.split(',').filter_map(|count| count.trim().parse::<usize>().ok()) {
            for tls in [false, true] {
                progress(&format!("scenario 18: {count} idle COMPRESS connections, TLS {tls}"));
                let server = start(name, options, CHEAP_LOGINS, false);
                figures.extend(smol::block_on(scenarios::idle_connections_with(&server, count, tls, true))?);
            }
        }
    }

    let mut server = start(name, options, "", false);
    if scenarios.contains(&3) {
        for (clients, per_client) in [(1, if quick { 20 } else { 300 }), (10, if quick { 10 } else { 100 })] {
            progress(&format!("scenario 3: APPEND with {clients} client(s)"));
            figures.extend(smol::block_on(scenarios::append_throughput(&server, clients, per_client))?);
        }
    }
    if scenarios.contains(&6) {
        progress("scenario 6: NOOP latency during 20 MiB APPENDs");
        figures.extend(smol::block_on(scenarios::stall(&server, if quick { 1.0 } else { 10.0 }))?);
    }
    if scenarios.contains(&7) {
        progress("scenario 7: 25 MiB APPEND + FETCH memory");
        figures.extend(smol::block_on(scenarios::big_message_memory(&server))?);
    }
    if scenarios.contains(&8) {
        progress("scenario 8: logins");
        figures.extend(smol::block_on(scenarios::logins(&server, 10, if quick { 2.0 } else { 10.0 }))?);
    }
    if scenarios.iter().any(|scenario| [2, 4, 5, 18].contains(scenario)) {
        progress(&format!("filling a mailbox with {messages} messages"));
        let start = std::time::Instant::now();
        let bytes = smol::block_on(scenarios::populate(&server, "big", messages, corpus::Sizes::Mailbox, 8, 50))?;
        progress(&format!("filled: {:.0} MiB in {:.0} s", bytes as f64 / 1048576.0, start.elapsed().as_secs_f64()));
        if scenarios.contains(&2) {
            progress("scenario 2: idle server");
            figures.extend(smol::block_on(scenarios::idle_server(&mut server))?);
        }
        if scenarios.contains(&4) {
            progress("scenario 4: first sync");
            figures.extend(smol::block_on(scenarios::first_sync(&server, "big", messages))?);
        }
        if scenarios.contains(&18) {
            progress("scenario 18: first sync without and with COMPRESS");
            figures.extend(smol::block_on(scenarios::compressed_sync(&server, "big", messages))?);
        }
        if scenarios.contains(&5) {
            progress("scenario 5: SELECT and SEARCH");
            figures.extend(smol::block_on(scenarios::select_and_search(&server, "big", messages))?);
        }
    }
    if scenarios.contains(&9) {
        progress("scenario 9: mixed workload");
        smol::block_on(scenarios::populate(&server, "mixed", 1000, corpus::Sizes::Mailbox, 4, 50))?;
        for clients in [10, 50] {
            figures.extend(smol::block_on(scenarios::mixed(
                &server,
                clients,
                if quick { 5.0 } else { 30.0 },
                "mixed",
            ))?);
        }
    }
    if scenarios.contains(&19) {
        // Only when named: 10,000 messages to put in first.
        let count = if quick { 1000 } else { 10_000 };
        progress(&format!("scenario 19: PREVIEW listing of {count} messages vs their first part"));
        smol::block_on(scenarios::populate(&server, "previews", count, corpus::Sizes::Mailbox, 8, 50))?;
        figures.extend(smol::block_on(scenarios::preview_listing(&server, "previews", count))?);
    }
    server.stop();
    drop(server);

    if scenarios.contains(&10) {
        let idlers = options.idlers.unwrap_or(if quick { 100 } else { 1000 });
        let deliveries = options.deliveries.unwrap_or(if quick { 5 } else { 30 });
        progress(&format!("scenario 10: LMTP delivery to {idlers} IDLE connections, {deliveries} deliveries"));
        // A fresh server, as in scenario 1, for the memory per idling
        // connection; logins are not measured here either.
        let server = start(name, options, CHEAP_LOGINS, true);
        figures.extend(smol::block_on(scenarios::idle_wakeup(&server, idlers, deliveries))?);
    }
    if scenarios.contains(&20) {
        let settings = fts_bench::Options {
            roost: &options.roost,
            work: &options.work,
            messages,
            quick,
            fresh: options.fresh,
            rebuild: options.rebuild,
        };
        figures.extend(if name == "roost" { fts_bench::roost(&settings)? } else { fts_bench::dovecot(&settings)? });
    }
    let attacks: Vec<u32> = scenarios.iter().copied().filter(|scenario| (11..=17).contains(scenario)).collect();
    if !attacks.is_empty() {
        let settings = hostile::Settings::new(quick, options.phase, options.search_mb);
        figures.extend(run_attacks(name, options, &settings, &attacks)?);
    }
    Ok(figures)
}

/// A server for the attack scenarios: roost with the generic board's own
/// limits (connections included), Dovecot as always; with `keep`, on the
/// data an earlier run left in `dir`.
fn start_attacked(name: &str, options: &Options, dir: &std::path::Path, keep: bool) -> Server {
    match name {
        "roost" => {
            Server::roost_with(&options.roost, dir, &RoostSetup { limits: "", lmtp: false, board_limits: true, keep })
        }
        _ => Server::dovecot_with(&PathBuf::from("tests/bench/dovecot.sh"), dir, false, keep),
    }
}

/// Where the data of scenarios 11 and 12 is kept between runs: one
/// directory per data set, and for roost per binary (an old and a new
/// roost side by side need not share a database file). Short names:
/// Dovecot's socket paths must stay under 108 bytes.
fn kept_dir(name: &str, options: &Options, settings: &hostile::Settings) -> PathBuf {
    let set = settings.data_set();
    match name {
        "roost" => {
            use std::hash::{Hash, Hasher};
            let binary = std::fs::canonicalize(&options.roost).unwrap_or_else(|_| options.roost.clone());
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            binary.hash(&mut hasher);
            options.work.join(format!("rk-{:08x}-{set}", hasher.finish() as u32))
        }
        _ => options.work.join(format!("dk-{set}")),
    }
}

/// Scenarios 11-16 (see hostile.rs): 13-16 on a fresh server, whose
/// memory at start is measured first; 11 and 12 on kept data.
fn run_attacks(
    name: &'static str,
    options: &Options,
    settings: &hostile::Settings,
    attacks: &[u32],
) -> io::Result<Vec<Figure>> {
    let progress = |text: &str| eprintln!("[{name}] {text}");
    let mut figures = Vec::new();
    type Attack = fn(&Server, &hostile::Settings) -> io::Result<Vec<Figure>>;
    let fresh: [(u32, &str, Attack); 5] = [
        (13, "a stalled reader during 3000 STOREs", hostile::stalled_reader),
        (14, "slow pre-auth connections", hostile::slow_preauth),
        (15, "password guessing", hostile::guessing),
        (16, "pre-auth literals of 60 KiB", hostile::preauth_literals),
        (17, "bans: guessing until refused, then attempts from banned addresses", hostile::bans),
    ];
    progress("attacks: a fresh server with the board's connection limits");
    let server = start_attacked(name, options, &options.work.join(format!("{name}-attacked")), false);
    // Work the server starts in the background (roost's password threads) is done by then.
    figures.extend(hostile::start_memory(&server, attacks[0], Duration::from_secs(2)));
    for (number, what, attack) in fresh {
        if attacks.contains(&number) {
            progress(&format!("scenario {number}: {what}"));
            figures.extend(attack(&server, settings)?);
        }
    }
    drop(server);
    let kept: [(u32, &str, Attack); 2] = [
        (11, "LIST with long patterns over many mailboxes", hostile::list_flood),
        (12, "SEARCH TEXT and BODY over a big mailbox", hostile::search_flood),
    ];
    if kept.iter().any(|(number, _, _)| attacks.contains(number)) {
        let dir = kept_dir(name, options, settings);
        if options.fresh {
            let _ = std::fs::remove_dir_all(&dir);
        }
        progress(&format!("attacks on kept data in {}", dir.display()));
        let server = start_attacked(name, options, &dir, true);
        for (number, what, attack) in kept {
            if attacks.contains(&number) {
                progress(&format!("scenario {number}: {what}"));
                figures.extend(attack(&server, settings)?);
            }
        }
    }
    Ok(figures)
}

/// [limits] lines for scenarios that open many connections without
/// measuring logins: a cheap password hash (roost only; Dovecot's users
/// file always has the board's cost).
const CHEAP_LOGINS: &str = "argon2_memory_kib = 64\nargon2_iterations = 1";

/// How much better roost is: > 1 means roost wins.
fn ratio(better: Better, roost: f64, dovecot: f64) -> f64 {
    match better {
        Better::Higher => roost / dovecot,
        Better::Lower => dovecot / roost,
    }
}

fn print_table(results: &[(&str, Vec<Figure>)]) {
    let roost = results.iter().find(|(name, _)| *name == "roost").map(|(_, figures)| figures);
    let dovecot = results.iter().find(|(name, _)| *name == "dovecot").map(|(_, figures)| figures);
    // roost's rows, then any only Dovecot has (scenario 20 without an
    // index in the roost binary).
    let mut rows = roost.or(dovecot).cloned().unwrap_or_default();
    if let (Some(_), Some(theirs)) = (roost, dovecot) {
        let extra: Vec<Figure> =
            theirs.iter().filter(|figure| !rows.iter().any(|row| row.name == figure.name)).cloned().collect();
        rows.extend(extra);
    }
    // The attack scenarios carry roost's targets (issue 11): one more column.
    let targets = rows.iter().any(|row| row.target.is_some());
    if targets {
        println!("| # | figure | unit | roost | Dovecot | ratio | roost target |");
        println!("|---|---|---|---:|---:|---:|---|");
    } else {
        println!("| # | figure | unit | roost | Dovecot | ratio |");
        println!("|---|---|---|---:|---:|---:|");
    }
    for row in rows {
        let value = |figures: Option<&Vec<Figure>>| {
            figures.and_then(|figures| figures.iter().find(|figure| figure.name == row.name)).map(|figure| figure.value)
        };
        let (ours, theirs) = (value(roost), value(dovecot));
        let show = |value: Option<f64>| value.map_or("-".to_string(), format_value);
        let compared = match (ours, theirs) {
            (Some(ours), Some(theirs)) if ours > 0.0 && theirs > 0.0 => {
                format!("{:.2}", ratio(row.better, ours, theirs))
            }
            _ => "-".into(),
        };
        let target = if targets { format!(" {} |", verdict(row.target, ours)) } else { String::new() };
        println!(
            "| {} | {} | {} | {} | {} | {} |{target}",
            row.scenario,
            row.name,
            row.unit,
            show(ours),
            show(theirs),
            compared
        );
    }
    println!("\nratio > 1: roost is better (smaller for memory and latency, larger for throughput)");
    if targets {
        println!("roost target: at most this value; \"missed ×N\": roost's figure is N times the target");
    }
}

/// roost's figure against its target: "≤ 20 met" or "≤ 20 missed ×3.1".
fn verdict(target: Option<f64>, value: Option<f64>) -> String {
    let Some(target) = target else { return String::new() };
    let limit =
        if target.fract() == 0.0 { format!("≤ {target:.0}") } else { format!("≤ {}", format_value(target)) };
    match value {
        None => limit,
        Some(value) if value <= target => format!("{limit} met"),
        Some(value) if target > 0.0 && value.is_finite() => format!("{limit} missed ×{:.1}", value / target),
        Some(_) => format!("{limit} missed"),
    }
}

fn format_value(value: f64) -> String {
    if value.abs() >= 100.0 {
        format!("{value:.0}")
    } else if value.abs() >= 10.0 {
        format!("{value:.1}")
    } else if value.abs() >= 0.1 || value == 0.0 {
        format!("{value:.2}")
    } else {
        format!("{value:.3}")
    }
}

fn write_json(path: &PathBuf, results: &[(&str, Vec<Figure>)]) {
    let mut json = String::from("{\n");
    for (index, (name, figures)) in results.iter().enumerate() {
        json.push_str(&format!("  \"{name}\": [\n"));
        for (position, figure) in figures.iter().enumerate() {
            let comma = if position + 1 < figures.len() { "," } else { "" };
            json.push_str(&format!(
                "    {{\"scenario\": {}, \"name\": \"{}\", \"unit\": \"{}\", \"better\": \"{}\", \"value\": {}, \"target\": {}}}{comma}\n",
                figure.scenario,
                figure.name.replace('"', "\\\""),
                figure.unit,
                if figure.better == Better::Higher { "higher" } else { "lower" },
                if figure.value.is_finite() { format!("{}", figure.value) } else { "null".into() },
                figure.target.map_or("null".into(), |target| format!("{target}"))
            ));
        }
        json.push_str(if index + 1 < results.len() { "  ],\n" } else { "  ]\n" });
    }
    json.push_str("}\n");
    if let Some(parent) = path.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    match std::fs::write(path, json) {
        Ok(()) => eprintln!("results written to {}", path.display()),
        Err(error) => eprintln!("cannot write {}: {error}", path.display()),
    }
}
