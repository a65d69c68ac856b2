//! Before login: what strangers can hold and make the server do. Pre-auth
//! connection caps (per address across 127/8, in total, the oldest closed
//! for a newcomer), never_limit, the pre-auth command cap, the fair and
//! bounded password queue, flood logs summarised, and no hashing at start.
//!
//! Attack traffic comes from 127.0.0.2 and up (every address of 127/8
//! reaches the loopback listener); 127.0.0.1 is in the default never_limit.

mod common;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use common::*;

/// A client from `source`; its greeting is not read.
fn ungreeted_from(source: Ipv4Addr, port: u16) -> Client {
    Client::new(Transport::Plain(tcp_from(source, port)))
}

/// Everything until the server closes the connection.
fn rest(client: &mut Client) -> String {
    client.read_to_end()
}

#[test]
fn a_slow_flood_from_many_addresses_cannot_keep_a_real_user_out() {
    let server = with_limits("max_preauth_connections = 24\nmax_preauth_per_ip = 4\nmax_connections_per_ip = 10");
    let port = server.imap_port;
    let stop = Arc::new(AtomicBool::new(false));
    let refused = Arc::new(AtomicUsize::new(0));
    // Twelve addresses, each keeping up to four connections that send a
    // byte now and then and never log in; a connection the server closes
    // is replaced a moment later (48 wanted, 24 pre-auth slots).
    let flood: Vec<_> = (2..14u8)
        .map(|last| {
            let (stop, refused) = (stop.clone(), refused.clone());
            std::thread::spawn(move || {
                let mut held: Vec<TcpStream> = Vec::new();
                let mut connects = 0;
                while !stop.load(Ordering::SeqCst) && connects < 400 {
                    held.retain_mut(|stream| {
                        // Closed by the server (BYE then EOF) or still held.
                        stream.set_read_timeout(Some(Duration::from_millis(1))).unwrap();
                        let mut buffer = [0u8; 256];
                        let mut open = !matches!(stream.read(&mut buffer), Ok(0));
                        open &= stream.write_all(b"x").is_ok();
                        open
                    });
                    if held.len() < 4 {
                        connects += 1;
                        let mut stream = tcp_from(loopback(last), port);
                        stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
                        let mut greeting = [0u8; 4];
                        if stream.read_exact(&mut greeting).is_ok() && &greeting == b"* OK" {
                            held.push(stream);
                        } else {
                            refused.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            })
        })
        .collect();
    // Let the flood fill the pre-auth slots.
    std::thread::sleep(Duration::from_secs(2));
    // The real user from an address of its own gets in and logs in.
    let mut user = greeted_from(loopback(200), port);
    user.ok("LOGIN alice secret");
    user.ok("SELECT INBOX");
    stop.store(true, Ordering::SeqCst);
    for thread in flood {
        thread.join().unwrap();
    }
    user.ok("LOGOUT");
    let log = server.log_text();
    assert!(log.contains("closed the oldest connection waiting to log in"), "the slots were full:\n{log}");
}

#[test]
fn the_oldest_preauth_connection_is_closed_for_a_newcomer() {
    let server = with_limits("max_preauth_connections = 3\nmax_preauth_per_ip = 2");
    let port = server.imap_port;
    let mut first = greeted_from(loopback(2), port);
    let mut second = greeted_from(loopback(3), port);
    let mut third = greeted_from(loopback(4), port);
    // The slots are full: the newcomer gets in, the oldest is told why and closed.
    let mut fourth = greeted_from(loopback(5), port);
    let closed = rest(&mut first);
    assert!(closed.starts_with("* BYE [UNAVAILABLE]"), "{closed:?}");
    second.ok("NOOP");
    // A newcomer whose own address is at its pre-auth cap is refused
    // instead: one address cannot push the others out.
    let mut fifth = greeted_from(loopback(5), port); // closes `second`
    assert!(rest(&mut second).starts_with("* BYE"));
    let mut sixth = ungreeted_from(loopback(5), port);
    let refused = rest(&mut sixth);
    assert!(refused.starts_with("* BYE [UNAVAILABLE]"), "{refused:?}");
    third.ok("NOOP");
    // A session that logs in leaves the pre-auth count and is never
    // closed to make room.
    third.ok("LOGIN alice secret");
    let _seventh = greeted_from(loopback(6), port); // a free slot: nobody closed
    fourth.ok("NOOP");
    let _eighth = greeted_from(loopback(7), port); // full again: `fourth` goes
    assert!(rest(&mut fourth).starts_with("* BYE"));
    third.ok("SELECT INBOX");
    fifth.ok("NOOP");
}

#[test]
fn per_address_caps_hold_across_127_8_and_never_limit_is_exempt() {
    let server = with_limits("max_connections_per_ip = 3\nmax_preauth_per_ip = 2\nmax_preauth_connections = 100");
    let port = server.imap_port;
    let mut first = greeted_from(loopback(2), port);
    let mut second = greeted_from(loopback(2), port);
    // 127.0.0.2 is a client like any other: two waiting to log in at most.
    let mut third = ungreeted_from(loopback(2), port);
    assert!(third.read_line().starts_with("* BYE"));
    // Another address of 127/8 has its own count.
    let _other = greeted_from(loopback(3), port);
    // Logged in, they leave the pre-auth count but not the address's.
    first.ok("LOGIN alice secret");
    second.ok("LOGIN bob hunter2");
    let _fourth = greeted_from(loopback(2), port);
    let mut fifth = ungreeted_from(loopback(2), port);
    let line = fifth.read_line();
    assert!(line.starts_with("* BYE [UNAVAILABLE] Too many connections from your address"), "{line}");
    // The implicit-TLS port counts too: closed without a word.
    let mut tls = ungreeted_from(loopback(2), server.imaps_port);
    assert_eq!(rest(&mut tls), "");
    // 127.0.0.1 (the default never_limit) has no per-address limit.
    let local: Vec<Client> = (0..8).map(|_| server.connect()).collect();
    assert_eq!(local.len(), 8);
}

#[test]
fn never_limit_takes_prefixes() {
    let server = with_limits("max_preauth_per_ip = 1\nnever_limit = [\"127.0.0.8/29\"]");
    let port = server.imap_port;
    // 127.0.0.8 to .15 are exempt, .16 is not.
    let exempt: Vec<Client> = (0..4).map(|_| greeted_from(loopback(9), port)).collect();
    assert_eq!(exempt.len(), 4);
    let _one = greeted_from(loopback(16), port);
    assert!(ungreeted_from(loopback(16), port).read_line().starts_with("* BYE"));
    // And 127.0.0.1 is no longer exempt when the list leaves it out.
    let _local = server.connect();
    assert!(ungreeted_from(loopback(1), port).read_line().starts_with("* BYE"));
}

#[test]
fn a_preauth_literal_over_the_cap_is_refused_before_it_is_read() {
    let server = with_limits("preauth_line_length = 8192");
    let mut client = server.connect();
    // Synchronizing: no continuation is offered, the session goes on.
    client.send("t1 LOGIN alice {60000}");
    let line = client.read_line();
    assert!(line.starts_with("t1 BAD [TOOBIG]"), "no '+' for a literal over the pre-auth cap: {line}");
    // A pre-auth APPEND is no way around it.
    client.send("t2 APPEND INBOX {60000}");
    let line = client.read_line();
    assert!(line.starts_with("t2 BAD [TOOBIG]"), "{line}");
    // Small literals still work before login.
    client.send("t3 LOGIN {5}");
    assert!(client.read_line().starts_with('+'));
    client.send_raw(b"alice {6}\r\n");
    assert!(client.read_line().starts_with('+'));
    client.send_raw(b"secret\r\n");
    let (_, tagged) = client.until_tagged("t3");
    assert!(tagged.starts_with("OK"), "{tagged}");
    // Logged in, the board's line_length applies again.
    client.send("t4 SEARCH SUBJECT {60000}");
    assert!(client.read_line().starts_with('+'), "logged in: line_length, not the pre-auth cap");
    client.send_raw(&[b'a'; 60000]);
    client.send_raw(b"\r\n");
    let (_, tagged) = client.until_tagged("t4");
    assert!(tagged.starts_with("BAD") || tagged.starts_with("NO") || tagged.starts_with("OK"), "{tagged}");

    // Non-synchronizing (RFC 7888 §4): its bytes are on their way, so BAD
    // and BYE.
    let mut client = server.connect();
    client.send("t1 LOGIN alice {60000+}");
    let closed = rest(&mut client);
    assert!(closed.starts_with("t1 BAD [TOOBIG]") && closed.contains("* BYE"), "{closed:?}");
}

/// Replaces the harness's cheap argon2 cost in the config file.
fn set_argon2(server: &mut Server, cost: &str) {
    let text = std::fs::read_to_string(&server.config).unwrap();
    let text = text.replace("argon2_memory_kib = 64\nargon2_iterations = 1\n", cost);
    std::fs::write(&server.config, text).unwrap();
}

#[test]
fn excess_password_checks_are_answered_at_once_with_unavailable() {
    let mut server = with_limits("auth_threads = 1\nauth_queue = 6\nauth_queue_per_ip = 2\nmax_preauth_per_ip = 20");
    server.stop();
    // A cost that takes a while, so that checks queue: carol's hash and
    // the decoy for unknown users are made with it.
    set_argon2(&mut server, "argon2_memory_kib = 16384\nargon2_iterations = 2\n");
    let (ok, _, stderr) = run_cli(&["user", "add", "carol", "--config", &server.config_arg()], Some("pass\n"));
    assert!(ok, "{stderr}");
    server.spawn();
    let port = server.imap_port;

    // Twelve wrong passwords at once from one address.
    let count = 12;
    let barrier = Arc::new(Barrier::new(count + 1));
    let guesses: Vec<_> = (0..count)
        .map(|index| {
            let barrier = barrier.clone();
            let mut client = greeted_from(loopback(2), port);
            std::thread::spawn(move || {
                barrier.wait();
                let user = if index % 2 == 0 { "carol" } else { "nosuchuser" };
                let (_, tagged) = client.command(&format!("LOGIN {user} wrong{index}"));
                tagged
            })
        })
        .collect();
    barrier.wait();
    // Meanwhile another address's login is checked in its own turn.
    let mut family = greeted_from(loopback(3), port);
    family.ok("LOGIN carol pass");
    let answers: Vec<String> = guesses.into_iter().map(|thread| thread.join().unwrap()).collect();
    let busy = answers.iter().filter(|tagged| tagged.starts_with("NO [UNAVAILABLE]")).count();
    let failed = answers.iter().filter(|tagged| tagged.starts_with("NO [AUTHENTICATIONFAILED]")).count();
    assert_eq!(busy + failed, count, "{answers:#?}");
    // One being checked and two waiting at most from one address (one
    // more if the first check ended before the last guess was read).
    assert!((1..=4).contains(&failed), "{answers:#?}");
    assert!(busy >= count - 4, "{answers:#?}");
    assert!(answers.iter().any(|tagged| tagged.contains("retry")), "{answers:#?}");
    // Refused checks are not failed logins: each real failure is logged,
    // and only those.
    let log = server.log_text();
    assert_eq!(log.matches("login failed from ").count(), failed, "{log}");
}

#[test]
fn a_flood_of_refused_connections_is_summarised_in_the_log() {
    let server = with_limits("max_preauth_per_ip = 1");
    let port = server.imap_port;
    let _held = greeted_from(loopback(2), port);
    let _held_too = greeted_from(loopback(3), port);
    for last in [2, 3] {
        for _ in 0..100 {
            let line = ungreeted_from(loopback(last), port).read_line();
            assert!(line.starts_with("* BYE"), "{line}");
        }
    }
    // Failed logins are never summarised away.
    let mut client = greeted_from(loopback(4), port);
    for index in 0..3 {
        client.no(&format!("LOGIN alice wrong{index}"));
    }
    client.ok("LOGIN alice secret");
    let log = server.log_text();
    let refused = |address: &str| log.matches(&format!("refused connection from {address}:")).count();
    assert_eq!((refused("127.0.0.2"), refused("127.0.0.3")), (1, 1), "one line per address, then a count:\n{log}");
    assert_eq!(log.matches("login failed from 127.0.0.4: user \"alice\"").count(), 3, "{log}");
}

/// Waits (bounded) until every `roost-auth` thread of `pid` has been
/// asleep for several looks in a row.
fn wait_until_auth_threads_sleep(pid: u32) {
    let deadline = std::time::Instant::now() + IO_TIMEOUT;
    let mut asleep_looks = 0;
    while asleep_looks < 5 {
        assert!(std::time::Instant::now() < deadline, "the password threads never went to sleep");
        let mut threads = 0;
        let mut asleep = true;
        for task in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap().flatten() {
            let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
            if comm.trim() != "roost-auth" {
                continue;
            }
            threads += 1;
            let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
            // The state follows the command name in parentheses.
            let state = stat.rsplit(')').next().unwrap_or("").split_whitespace().next().unwrap_or("");
            asleep &= state == "S";
        }
        asleep_looks = if threads > 0 && asleep { asleep_looks + 1 } else { 0 };
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn nothing_is_hashed_at_start_with_the_generic_boards_cost() {
    let mut server = Server::start();
    server.stop();
    // The generic board's own argon2 cost (19 MiB, 2 passes, 2 threads).
    set_argon2(&mut server, "");
    server.spawn();
    // Wait until it serves.
    let mut client = server.connect();
    client.ok("NOOP");
    let pid = server.child.as_ref().unwrap().id();
    // Work done at start on the password threads would still be running:
    // measure once they all sleep.
    wait_until_auth_threads_sleep(pid);
    let at_start = vm_hwm_kib(pid);
    // One hash at the board's cost maps 19 MiB: a decoy hashed at start
    // (one per auth thread: 44 MiB before) would show here. The tests run
    // the debug binary, larger at start than the release one (which the
    // README's figure, under 12 MiB, is for) and growing with the code
    // (16.6 MiB once the ACL commands joined): 24 MiB leaves it room and
    // still sits well below one decoy's 19 MiB on top of it.
    assert!(at_start < 24 * 1024, "VmHWM {at_start} KiB at start");
    // The decoy still costs a real hash: an unknown user's check maps it.
    let tagged = client.no("LOGIN nosuchuser whatever");
    assert!(tagged.starts_with("NO [AUTHENTICATIONFAILED]"), "{tagged}");
    let after = vm_hwm_kib(pid);
    assert!(after > at_start + 16 * 1024, "the decoy check hashed at the board's cost: {at_start} -> {after} KiB");
}
