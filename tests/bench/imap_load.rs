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
#[path = "lmtp.rs"]
mod lmtp;
#[path = "scenarios.rs"]
mod scenarios;
#[path = "servers.rs"]
mod servers;

use std::io;
use std::path::PathBuf;

use argh::FromArgs;

use scenarios::{Better, Figure};
use servers::Server;

/// Footprint and speed of roost, side by side with Dovecot.
#[derive(FromArgs)]
#[argh(note = "Scenarios: 1 memory of idle connections (--idle), 2 idle server with a big mailbox, \
3 APPEND throughput, 4 first sync, 5 SELECT and SEARCH, 6 NOOP latency during big APPENDs, \
7 memory of a 25 MiB APPEND + FETCH, 8 logins, 9 mixed workload, \
10 LMTP delivery to IDLE wake-up latency and memory per IDLE connection (--idlers, --deliveries).")]
struct Options {
    /// scenarios to run, comma-separated (default: 1,2,3,4,5,6,7,8,9,10)
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
    /// messages in the big mailbox of scenarios 2, 4 and 5 (default: 100000)
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
    if scenarios.iter().any(|scenario| [2, 4, 5].contains(scenario)) {
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
    let rows = roost.or(dovecot).cloned().unwrap_or_default();
    println!("| # | figure | unit | roost | Dovecot | ratio |");
    println!("|---|---|---|---:|---:|---:|");
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
        println!(
            "| {} | {} | {} | {} | {} | {} |",
            row.scenario,
            row.name,
            row.unit,
            show(ours),
            show(theirs),
            compared
        );
    }
    println!("\nratio > 1: roost is better (smaller for memory and latency, larger for throughput)");
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
                "    {{\"scenario\": {}, \"name\": \"{}\", \"unit\": \"{}\", \"better\": \"{}\", \"value\": {}}}{comma}\n",
                figure.scenario,
                figure.name.replace('"', "\\\""),
                figure.unit,
                if figure.better == Better::Higher { "higher" } else { "lower" },
                if figure.value.is_finite() { format!("{}", figure.value) } else { "null".into() }
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
