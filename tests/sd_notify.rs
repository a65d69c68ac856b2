//! systemd integration, end to end with the real binary: `Type=notify`'s
//! messages (READY=1 once the IMAP port answers, WATCHDOG=1 while the
//! store thread answers, STOPPING=1 at SIGTERM) to a path and to an
//! abstract socket, TLS keys handed over by `LoadCredential=` (through
//! `$CREDENTIALS_DIRECTORY`), and a journal left free of spurious control
//! socket warnings by the CLI. (tests/notify.rs is IMAP's NOTIFY.)

mod common;

use std::ffi::OsStr;
use std::os::unix::net::UnixDatagram;

use common::*;

/// The messages systemd would receive, read as they come.
struct Systemd {
    socket: UnixDatagram,
    /// `NOTIFY_SOCKET`'s value for the server.
    address: String,
    _dir: Option<TempDir>,
}

impl Systemd {
    /// A socket file in a temporary directory.
    fn at_path() -> Systemd {
        let dir = TempDir::new("sd-notify");
        let path = dir.0.join("notify");
        let socket = UnixDatagram::bind(&path).unwrap();
        socket.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        Systemd { socket, address: path.to_str().unwrap().to_string(), _dir: Some(dir) }
    }

    /// A name in the abstract namespace (`@name`), as systemd in a
    /// container or a user manager may pass.
    fn abstract_name() -> Systemd {
        use std::os::linux::net::SocketAddrExt;
        let name = format!("roost-test-notify-{}", std::process::id());
        let address = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let socket = UnixDatagram::bind_addr(&address).unwrap();
        socket.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        Systemd { socket, address: format!("@{name}"), _dir: None }
    }

    /// The next message; fails the test after [`IO_TIMEOUT`] without one.
    fn next(&self) -> String {
        let mut buffer = [0u8; 4096];
        let length = self.socket.recv(&mut buffer).expect("a message for systemd in time");
        String::from_utf8_lossy(&buffer[..length]).into_owned()
    }

    /// Messages until one that starts with `key` (it last).
    fn until(&self, key: &str) -> Vec<String> {
        let mut seen = Vec::new();
        loop {
            let message = self.next();
            let done = message.starts_with(key);
            seen.push(message);
            if done {
                return seen;
            }
        }
    }

    fn start_server(&self, watchdog_usec: Option<&str>) -> Server {
        let mut env = vec![("NOTIFY_SOCKET", OsStr::new(&self.address))];
        if let Some(usec) = watchdog_usec {
            env.push(("WATCHDOG_USEC", OsStr::new(usec)));
        }
        Server::start_with_env(Options::default(), &env)
    }
}

#[test]
fn ready_watchdog_and_stopping_reach_systemd() {
    let systemd = Systemd::at_path();
    let mut server = systemd.start_server(Some("200000"));
    let before_ready = systemd.until("READY=1");
    // The database existed (the harness added users first): start-up
    // asked for time to open it before saying it was ready.
    assert!(before_ready[0].starts_with("EXTEND_TIMEOUT_USEC="), "{before_ready:?}");
    let ready = before_ready.last().unwrap();
    let status = ready.lines().find_map(|line| line.strip_prefix("STATUS=")).expect("a STATUS line");
    assert!(status.contains(&format!("127.0.0.1:{} (STARTTLS)", server.imap_port)), "{status}");
    assert!(status.contains(&format!("127.0.0.1:{} (TLS)", server.imaps_port)), "{status}");
    assert!(status.ends_with("2 users"), "{status}");
    // Ready means answering.
    let mut client = server.connect();
    client.ok("NOOP");
    // WATCHDOG_USEC=200000: a ping every 100 ms, each after the store
    // thread answered.
    for _ in 0..3 {
        assert_eq!(systemd.until("WATCHDOG=1").last().unwrap(), "WATCHDOG=1");
    }
    assert!(server.stop().success());
    let last = systemd.until("STOPPING=1");
    assert_eq!(last.last().unwrap().lines().next(), Some("STOPPING=1"), "{last:?}");
}

#[test]
fn an_abstract_notify_socket_works_too() {
    let systemd = Systemd::abstract_name();
    let mut server = systemd.start_server(None);
    let messages = systemd.until("READY=1");
    // No WATCHDOG_USEC, no watchdog.
    assert!(messages.iter().all(|message| !message.contains("WATCHDOG")), "{messages:?}");
    server.login("alice", "secret").ok("LOGOUT");
    assert!(server.stop().success());
    let messages = systemd.until("STOPPING=1");
    assert!(messages.iter().all(|message| !message.contains("WATCHDOG")), "{messages:?}");
}

/// `LoadCredential=tls-cert:...` and `tls-key:...`: systemd copies them
/// into `$CREDENTIALS_DIRECTORY`, and a TLS client sees that certificate
/// (not a self-signed one made in the data directory).
#[test]
fn a_tls_client_sees_the_certificate_handed_over_by_systemd() {
    let source = TempDir::new("credential-source");
    let (ok, _, stderr) = run_cli(&["fingerprint", "--data", source.0.to_str().unwrap()], None);
    assert!(ok, "{stderr}");
    let credentials = TempDir::new("credentials");
    std::fs::copy(source.0.join("tls/cert.pem"), credentials.0.join("tls-cert")).unwrap();
    std::fs::copy(source.0.join("tls/key.pem"), credentials.0.join("tls-key")).unwrap();
    let server = Server::start_with_env(Options::default(), &[("CREDENTIALS_DIRECTORY", credentials.0.as_os_str())]);

    let cert_path = credentials.0.join("tls-cert");
    let stream = std::net::TcpStream::connect(("127.0.0.1", server.imaps_port)).unwrap();
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    // A client that trusts that certificate alone: the handshake succeeds.
    let tls = rustls::StreamOwned::new(tls_client_trusting(&cert_path), stream);
    let mut client = Client::new(Transport::Tls(Box::new(tls)));
    let greeting = client.read_line();
    assert!(greeting.starts_with("* OK"), "{greeting}");
    // And it is the one served.
    use rustls_pki_types::pem::PemObject;
    let expected = rustls_pki_types::CertificateDer::from_pem_file(&cert_path).unwrap();
    let Transport::Tls(tls) = client.transport() else { unreachable!("a TLS client") };
    assert_eq!(tls.conn.peer_certificates().unwrap()[0], expected);
    assert!(!server.data_dir().join("tls/cert.pem").exists(), "a self-signed certificate was made anyway");
}

/// Issue 17: every `roost user ...` against a running server left
/// "control request failed: Broken pipe" in its log (the CLI's "is a
/// server running?" probe hangs up without a request). Every command
/// that goes through the control socket leaves the journal clean.
#[test]
fn cli_commands_leave_no_warning_in_the_servers_log() {
    let server = Server::start();
    let config = server.config_arg();
    let commands: &[(&[&str], Option<&str>)] = &[
        (&["user", "add", "carol"], Some("first password\n")),
        (&["user", "passwd", "carol"], Some("second password\n")),
        (&["user", "list"], None),
        (&["user", "log", "carol"], None),
        (&["user", "device", "add", "carol", "phone"], None),
        (&["user", "device", "list", "carol"], None),
        (&["user", "device-only", "carol", "on"], None),
        (&["user", "device-only", "carol", "off"], None),
        (&["user", "device", "del", "carol", "phone"], None),
        (&["user", "quota", "carol"], None),
        (&["user", "del", "carol", "--yes"], None),
        (&["ban", "list"], None),
        (&["check"], None),
    ];
    for (words, stdin) in commands {
        let mut arguments = words.to_vec();
        arguments.extend(["--config", &config]);
        let (ok, stdout, stderr) = run_cli(&arguments, *stdin);
        assert!(ok, "roost {words:?}: {stdout}{stderr}");
    }
    // The last request's log line is there: so are all the earlier ones.
    server.wait_for_log("user carol deleted");
    // A request the CLI does not wait out would still be logged: give a
    // late warning the time a whole command takes.
    let (ok, _, _) = run_cli(&["user", "list", "--config", &config], None);
    assert!(ok);
    let log = server.log_text();
    assert!(!log.contains("control request failed"), "{log}");
    assert!(!log.contains("Broken pipe"), "{log}");
}
