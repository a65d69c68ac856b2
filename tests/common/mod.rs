//! Shared harness for the integration tests: runs the real `roost` binary
//! on ephemeral loopback ports with a temporary data directory, and speaks
//! raw IMAP to it over TCP, TLS and STARTTLS.
//!
//! Assertions read answers with the typed reader in `responses.rs`
//! (`client.run_ok(..).one("ESEARCH")`, `Status::parse(&tagged).code()`,
//! `status_items("INBOX")`, the FETCH item parser below) rather than
//! searching reply text for a substring; `contains` on raw text is left for
//! what is raw text: a BAD's reason, log lines, CLI output, message bodies.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddrV4, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[path = "rng.rs"]
mod rng;
#[allow(unused_imports)]
pub use rng::Rng;
#[path = "responses.rs"]
mod responses;
#[allow(unused_imports)]
pub use responses::{parse_one, values, Code, Esearch, Listed, Reply, Responses, Status, Untagged};

pub const BINARY: &str = env!("CARGO_BIN_EXE_roost");
/// Long enough for a slow CI machine, short enough that a hang fails.
pub const IO_TIMEOUT: Duration = Duration::from_secs(20);

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A temporary directory, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(label: &str) -> TempDir {
        let base = std::env::var_os("CARGO_TARGET_TMPDIR").map(PathBuf::from).unwrap_or_else(std::env::temp_dir);
        let path =
            base.join(format!("roost-{label}-{}-{}", std::process::id(), COUNTER.fetch_add(1, Ordering::SeqCst)));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Settings a test may change; cheap argon2 and a short failure delay keep
/// the suite fast.
#[derive(Clone)]
pub struct Options {
    pub extra_limits: String,
    pub extra_imap: String,
    /// Whole tables added at the end of the file (e.g. `[lmtp]`).
    pub extra_tables: String,
    pub users: Vec<(&'static str, &'static str)>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            extra_limits: String::new(),
            extra_imap: String::new(),
            extra_tables: String::new(),
            users: vec![("alice", "secret"), ("bob", "hunter2")],
        }
    }
}

pub struct Server {
    pub dir: TempDir,
    pub config: PathBuf,
    pub child: Option<Child>,
    pub imap_port: u16,
    pub imaps_port: u16,
    /// The LMTP TCP port, when `[lmtp] listen` is configured.
    pub lmtp_port: Option<u16>,
    /// Everything the server wrote to stderr so far.
    pub log: Arc<std::sync::Mutex<String>>,
}

pub fn config_text(dir: &Path, options: &Options) -> String {
    format!(
        r#"data_dir = "{}"
log_level = "debug"
[imap]
listen = ["127.0.0.1:0"]
listen_tls = ["127.0.0.1:0"]
{}
[limits]
argon2_memory_kib = 64
argon2_iterations = 1
auth_failure_delay = 10
min_password_length = 1
{}
{}
"#,
        dir.join("data").display(),
        options.extra_imap,
        options.extra_limits,
        options.extra_tables
    )
}

/// Runs `roost` with arguments, optional stdin; returns (success, stdout, stderr).
pub fn run_cli(arguments: &[&str], stdin: Option<&str>) -> (bool, String, String) {
    let mut child = Command::new(BINARY)
        .args(arguments)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run roost");
    {
        let mut input = child.stdin.take().unwrap();
        if let Some(text) = stdin {
            input.write_all(text.as_bytes()).unwrap();
        }
    }
    let output = child.wait_with_output().unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

impl Server {
    /// Waits until the server's log holds `needle`; returns the log.
    /// Panics (with the log) after [`IO_TIMEOUT`].
    pub fn wait_for_log(&self, needle: &str) -> String {
        self.wait_for_log_count(needle, 1)
    }

    /// Waits until the server's log holds `needle` `count` times.
    pub fn wait_for_log_count(&self, needle: &str, count: usize) -> String {
        let deadline = std::time::Instant::now() + IO_TIMEOUT;
        loop {
            let log = self.log_text();
            if log.matches(needle).count() >= count {
                return log;
            }
            assert!(std::time::Instant::now() < deadline, "no {count} × {needle:?} in the server log:\n{log}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// A plain IMAP client from 127.0.0.`last`, greeting read.
    pub fn client_from(&self, last: u8) -> Client {
        greeted_from(loopback(last), self.imap_port)
    }

    /// One LOGIN (user and password quoted, so any password goes) from
    /// 127.0.0.`last` on a connection of its own: the tagged answer. A
    /// session that got in logs out.
    pub fn login_from(&self, last: u8, user: &str, password: &str) -> String {
        let mut client = self.client_from(last);
        let (_, tagged) = client.command(&format!("LOGIN \"{user}\" \"{password}\""));
        if tagged.starts_with("OK") {
            client.ok("LOGOUT");
        }
        tagged
    }

    pub fn start() -> Server {
        Server::start_with(Options::default())
    }

    pub fn start_with(options: Options) -> Server {
        Server::start_with_env(options, &[])
    }

    /// [`Server::start_with`], the server run with `env` added to its
    /// environment (`NOTIFY_SOCKET`, `CREDENTIALS_DIRECTORY`, ...).
    pub fn start_with_env(options: Options, env: &[(&str, &std::ffi::OsStr)]) -> Server {
        let dir = TempDir::new("server");
        let config = dir.0.join("roost.toml");
        std::fs::write(&config, config_text(&dir.0, &options)).unwrap();
        let config_arg = config.to_str().unwrap().to_string();
        for (user, password) in &options.users {
            let (ok, _, stderr) =
                run_cli(&["user", "add", user, "--config", &config_arg], Some(&format!("{password}\n")));
            assert!(ok, "user add {user}: {stderr}");
        }
        let mut server = Server::unstarted(dir, config);
        server.spawn_with_env(env);
        server
    }

    /// A server for `dir` and `config`, not started yet.
    pub fn unstarted(dir: TempDir, config: PathBuf) -> Server {
        Server {
            dir,
            config,
            child: None,
            imap_port: 0,
            imaps_port: 0,
            lmtp_port: None,
            log: Arc::new(std::sync::Mutex::new(String::new())),
        }
    }

    pub fn config_arg(&self) -> String {
        self.config.to_str().unwrap().to_string()
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.0.join("data")
    }

    /// Starts the binary and waits for it to write its ports file
    /// (`serve --ports-file`: the ports the kernel chose for port 0).
    pub fn spawn(&mut self) {
        self.spawn_with_env(&[]);
    }

    /// [`Server::spawn`] with `env` added to the server's environment.
    pub fn spawn_with_env(&mut self, env: &[(&str, &std::ffi::OsStr)]) {
        let ports_file = self.dir.0.join("ports");
        let _ = std::fs::remove_file(&ports_file);
        let mut child = Command::new(BINARY)
            .args(["serve", "--config", &self.config_arg(), "--ports-file", ports_file.to_str().unwrap()])
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start roost serve");
        let stderr = child.stderr.take().unwrap();
        let log = self.log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                log.lock().unwrap().push_str(&format!("{line}\n"));
            }
        });
        let deadline = std::time::Instant::now() + IO_TIMEOUT;
        let ports = loop {
            if let Ok(text) = std::fs::read_to_string(&ports_file) {
                break text;
            }
            let exited = child.try_wait().unwrap().is_some();
            assert!(
                !exited && std::time::Instant::now() < deadline,
                "roost did not start; its log:\n{}",
                self.log.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(10));
        };
        let port = |kind: &str| {
            ports.lines().find_map(|line| {
                let (name, address) = line.split_once(' ')?;
                (name == kind).then(|| address.parse::<std::net::SocketAddr>().ok().map(|address| address.port()))?
            })
        };
        self.imap_port = port("imap").expect("an imap line in the ports file");
        self.imaps_port = port("imaps").expect("an imaps line in the ports file");
        self.lmtp_port = port("lmtp");
        self.child = Some(child);
    }

    /// SIGKILL: the server gets no chance to clean up.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM and wait: a clean stop.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("running");
        let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
        child.wait().unwrap()
    }

    /// Stops this server, copies its data directory (sockets left out) to a
    /// new one, and starts both: two servers with the same users,
    /// mailboxes, UIDVALIDITYs, ids and counters, for tests that compare
    /// what one client sees in two worlds that differ only in what the
    /// test then changes in one of them (tests/acl_property.rs).
    pub fn fork(&mut self) -> Server {
        self.stop();
        let dir = TempDir::new("fork");
        let data = dir.0.join("data");
        copy_tree(&self.data_dir(), &data);
        let config = dir.0.join("roost.toml");
        let text = std::fs::read_to_string(&self.config).unwrap();
        let text = text.replace(&self.data_dir().display().to_string(), &data.display().to_string());
        std::fs::write(&config, text).unwrap();
        let mut twin = Server::unstarted(dir, config);
        self.spawn();
        twin.spawn();
        twin
    }

    /// The LMTP Unix socket (the default place, in the data directory).
    pub fn lmtp_socket(&self) -> PathBuf {
        self.data_dir().join("lmtp.sock")
    }

    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// The server process's peak resident memory (VmHWM), in KiB.
    pub fn peak_memory_kib(&self) -> u64 {
        vm_hwm_kib(self.child.as_ref().expect("server running").id())
    }

    pub fn log_text(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// A plain TCP connection to the STARTTLS port, greeting read.
    pub fn connect(&self) -> Client {
        let stream = TcpStream::connect(("127.0.0.1", self.imap_port)).unwrap();
        let mut client = Client::new(Transport::Plain(stream));
        let greeting = client.read_line();
        assert!(greeting.starts_with("* OK"), "greeting: {greeting}");
        client
    }

    /// An implicit-TLS connection to the IMAPS port, greeting read.
    pub fn connect_tls(&self) -> Client {
        let stream = TcpStream::connect(("127.0.0.1", self.imaps_port)).unwrap();
        stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        let tls = rustls::StreamOwned::new(self.tls_client(), stream);
        let mut client = Client::new(Transport::Tls(Box::new(tls)));
        let greeting = client.read_line();
        assert!(greeting.starts_with("* OK"), "greeting: {greeting}");
        client
    }

    /// A client that trusts this server's self-signed certificate.
    pub fn tls_client(&self) -> rustls::ClientConnection {
        self.tls_client_for("localhost")
    }

    /// A TLS client that trusts only the server's own certificate and
    /// checks it for `name` (a host name or an IP address).
    pub fn tls_client_for(&self, name: &str) -> rustls::ClientConnection {
        tls_client_trusting_for(&self.data_dir().join("tls").join("cert.pem"), name)
    }

    /// A logged-in client (plain TCP over loopback, where LOGIN is allowed).
    pub fn login(&self, user: &str, password: &str) -> Client {
        let mut client = self.connect();
        client.ok(&format!("LOGIN {user} {password}"));
        client
    }

    /// `roost share WORDS...` against this server (through its control
    /// socket); (success, stdout, stderr).
    pub fn share_cli(&self, words: &[&str]) -> (bool, String, String) {
        // Options first, then `--`: rights like `-w` would read as options.
        let config = self.config_arg();
        let mut all = vec!["share"];
        all.extend(words.first());
        all.extend_from_slice(&["--config", &config]);
        all.extend(words.iter().skip(1).filter(|word| word.starts_with("--")));
        all.push("--");
        all.extend(words.iter().skip(1).filter(|word| !word.starts_with("--")));
        run_cli(&all, None)
    }

    /// `roost share WORDS...`, which must succeed; its output.
    pub fn share(&self, words: &[&str]) -> String {
        let (ok, stdout, stderr) = self.share_cli(words);
        assert!(ok, "roost share {}: {stderr}", words.join(" "));
        stdout
    }

    /// Logged in as alice with INBOX selected.
    pub fn alice_inbox(&self) -> Client {
        let mut client = self.login("alice", "secret");
        client.ok("SELECT INBOX");
        client
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

pub enum Transport {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
    /// Placeholder while STARTTLS swaps the stream.
    None,
}

impl Read for Transport {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Transport::Plain(stream) => stream.read(buffer),
            Transport::Tls(stream) => stream.read(buffer),
            Transport::None => Ok(0),
        }
    }
}

impl Write for Transport {
    fn write(&mut self, buffer: &[u8]) -> std::io::Result<usize> {
        match self {
            Transport::Plain(stream) => stream.write(buffer),
            Transport::Tls(stream) => stream.write(buffer),
            Transport::None => Ok(0),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Transport::Plain(stream) => stream.flush(),
            Transport::Tls(stream) => stream.flush(),
            Transport::None => Ok(()),
        }
    }
}

/// A response line with its literals inline, as text.
pub type Response = String;

pub struct Client {
    reader: BufReader<Transport>,
    tag: usize,
}

impl Client {
    pub fn new(transport: Transport) -> Client {
        if let Transport::Plain(stream) = &transport {
            stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
            stream.set_nodelay(true).unwrap();
        }
        Client { reader: BufReader::new(transport), tag: 0 }
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        let transport = self.reader.get_mut();
        transport.write_all(bytes).unwrap();
        transport.flush().unwrap();
    }

    pub fn send(&mut self, line: &str) {
        self.send_raw(format!("{line}\r\n").as_bytes());
    }

    /// One raw line (without CRLF); panics on timeout or EOF.
    pub fn read_line(&mut self) -> String {
        read_line_from(&mut self.reader)
    }

    /// Reads until EOF or error; returns what came.
    pub fn read_to_end(&mut self) -> String {
        let mut rest = Vec::new();
        let _ = self.reader.read_to_end(&mut rest);
        String::from_utf8_lossy(&rest).into_owned()
    }

    /// One response: a line plus any literals it announces, joined.
    pub fn read_response(&mut self) -> Response {
        read_response_from(&mut self.reader)
    }

    pub fn next_tag(&mut self) -> String {
        self.tag += 1;
        format!("t{}", self.tag)
    }

    /// Sends a tagged command; returns (untagged responses, tagged line).
    pub fn command(&mut self, command: &str) -> (Vec<Response>, Response) {
        let tag = self.next_tag();
        self.send(&format!("{tag} {command}"));
        self.until_tagged(&tag)
    }

    /// Sends bytes; false if the connection is gone (the server closed it).
    pub fn try_send_raw(&mut self, bytes: &[u8]) -> bool {
        let transport = self.reader.get_mut();
        transport.write_all(bytes).and_then(|_| transport.flush()).is_ok()
    }

    /// As [`Client::until_tagged`], but a connection the server closes
    /// (after a BYE) ends the answer instead of failing the test: the
    /// untagged responses that came, and no tagged reply.
    pub fn try_until_tagged(&mut self, tag: &str) -> (Vec<Response>, Option<Response>) {
        let mut untagged = Vec::new();
        while let Some(response) = try_read_response_from(&mut self.reader) {
            if let Some(tagged) = response.strip_prefix(tag).and_then(|rest| rest.strip_prefix(' ')) {
                return (untagged, Some(tagged.to_string()));
            }
            untagged.push(response);
        }
        (untagged, None)
    }

    pub fn until_tagged(&mut self, tag: &str) -> (Vec<Response>, Response) {
        let mut untagged = Vec::new();
        loop {
            let response = self.read_response();
            if response.starts_with(&format!("{tag} ")) {
                return (untagged, response[tag.len() + 1..].to_string());
            }
            untagged.push(response);
        }
    }

    /// Sends a tagged command; returns its responses read, the tagged
    /// reply last (see [`Responses::tagged`] and [`Client::last_tag`]).
    pub fn run(&mut self, command: &str) -> Responses {
        let tag = self.next_tag();
        self.send(&format!("{tag} {command}"));
        let (untagged, tagged) = self.until_tagged(&tag);
        let mut responses = Responses::of(&untagged);
        responses.0.push(parse_one(&format!("{tag} {tagged}")));
        responses
    }

    /// The tag of the last command sent.
    pub fn last_tag(&self) -> String {
        format!("t{}", self.tag)
    }

    /// Runs a command that must succeed; returns its responses read.
    pub fn run_ok(&mut self, command: &str) -> Responses {
        let responses = self.run(command);
        let tagged = responses.tagged(&self.last_tag());
        assert!(tagged.is("OK"), "{command:?} gave {responses:#?}");
        responses
    }

    /// Runs a command that must succeed; returns its untagged responses.
    pub fn ok(&mut self, command: &str) -> Vec<Response> {
        let (untagged, tagged) = self.command(command);
        assert!(tagged.starts_with("OK"), "{command:?} gave {tagged:?} after {untagged:#?}");
        untagged
    }

    /// Runs a command that must fail with NO; returns the tagged text.
    pub fn no(&mut self, command: &str) -> String {
        let (untagged, tagged) = self.command(command);
        assert!(tagged.starts_with("NO"), "{command:?} gave {tagged:?} after {untagged:#?}");
        tagged
    }

    /// Runs a command that must fail with BAD; returns the tagged text.
    pub fn bad(&mut self, command: &str) -> String {
        let (untagged, tagged) = self.command(command);
        assert!(tagged.starts_with("BAD"), "{command:?} gave {tagged:?} after {untagged:#?}");
        tagged
    }

    /// APPEND with a synchronizing literal: waits for the continuation.
    pub fn append(&mut self, mailbox: &str, extra: &str, message: &[u8]) -> (Vec<Response>, Response) {
        let tag = self.next_tag();
        let space = if extra.is_empty() { "" } else { " " };
        self.send(&format!("{tag} APPEND {mailbox}{space}{extra} {{{}}}", message.len()));
        let continuation = self.read_line();
        if !continuation.starts_with('+') {
            return (Vec::new(), continuation[tag.len() + 1..].to_string());
        }
        self.send_raw(message);
        self.send_raw(b"\r\n");
        self.until_tagged(&tag)
    }

    /// APPEND that must succeed; returns the UID from APPENDUID.
    pub fn append_ok(&mut self, mailbox: &str, message: &[u8]) -> u32 {
        let (untagged, tagged) = self.append(mailbox, "", message);
        assert!(tagged.starts_with("OK"), "APPEND gave {tagged:?} after {untagged:?}");
        appenduid(&tagged).1
    }

    /// Switches to TLS after a successful STARTTLS.
    pub fn starttls(&mut self, server: &Server) {
        self.ok("STARTTLS");
        let transport = std::mem::replace(self.reader.get_mut(), Transport::None);
        let Transport::Plain(stream) = transport else { panic!("not plain") };
        let tls = rustls::StreamOwned::new(server.tls_client(), stream);
        self.reader = BufReader::new(Transport::Tls(Box::new(tls)));
    }

    /// The underlying stream (for tests that swap it themselves).
    pub fn transport(&mut self) -> &mut Transport {
        self.reader.get_mut()
    }

    pub fn shutdown(&mut self) {
        if let Transport::Plain(stream) = self.reader.get_mut() {
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
    }
}

/// Copies the files and directories under `from` to `to` (sockets and
/// other special files are left out: a server binds its own).
/// A TLS client for `localhost` that trusts the certificates in the PEM
/// file `cert_path` and nothing else.
pub fn tls_client_trusting(cert_path: &Path) -> rustls::ClientConnection {
    tls_client_trusting_for(cert_path, "localhost")
}

/// A TLS client that trusts only the certificate(s) in `cert_path` and
/// checks the server's for `name` (a host name or an IP address).
pub fn tls_client_trusting_for(cert_path: &Path, name: &str) -> rustls::ClientConnection {
    let mut roots = rustls::RootCertStore::empty();
    use rustls_pki_types::pem::PemObject;
    for cert in rustls_pki_types::CertificateDer::pem_file_iter(cert_path).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = rustls_pki_types::ServerName::try_from(name.to_string()).unwrap();
    rustls::ClientConnection::new(Arc::new(config), name).unwrap()
}

pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let kind = entry.file_type().unwrap();
        if kind.is_dir() {
            copy_tree(&entry.path(), &to.join(entry.file_name()));
        } else if kind.is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

/// One response from `reader` as [`read_response_from`] reads it, or None
/// when the server closed the connection (or reset it) first; panics on
/// a timeout, which is a hang.
pub fn try_read_response_from(reader: &mut impl BufRead) -> Option<Response> {
    let mut response = String::new();
    loop {
        let mut line = Vec::new();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) => return None,
            Ok(_) => {}
            Err(error)
                if error.kind() == std::io::ErrorKind::WouldBlock || error.kind() == std::io::ErrorKind::TimedOut =>
            {
                panic!("no answer from the server within {IO_TIMEOUT:?}")
            }
            Err(_) => return None,
        }
        while line.last().is_some_and(|&byte| byte == b'\n' || byte == b'\r') {
            line.pop();
        }
        response.push_str(&String::from_utf8_lossy(&line));
        let Some(length) = literal_length(&response) else { return Some(response) };
        let mut bytes = vec![0u8; length];
        reader.read_exact(&mut bytes).ok()?;
        response.push_str("\r\n");
        response.push_str(&String::from_utf8_lossy(&bytes));
    }
}

/// One raw line from `reader` (without CRLF); panics on timeout or EOF.
/// Shared by [`Client`] and clients over other streams (COMPRESS).
pub fn read_line_from(reader: &mut impl BufRead) -> String {
    let mut line = Vec::new();
    let count = reader.read_until(b'\n', &mut line).expect("read from server");
    assert!(count > 0, "server closed the connection");
    while line.last().is_some_and(|&byte| byte == b'\n' || byte == b'\r') {
        line.pop();
    }
    String::from_utf8_lossy(&line).into_owned()
}

/// One response from `reader`: a line plus any literals it announces,
/// joined (literals decoded lossily).
pub fn read_response_from(reader: &mut impl BufRead) -> Response {
    let mut response = read_line_from(reader);
    while let Some(length) = literal_length(&response) {
        let mut bytes = vec![0u8; length];
        reader.read_exact(&mut bytes).expect("read literal");
        response.push_str("\r\n");
        response.push_str(&String::from_utf8_lossy(&bytes));
        response.push_str(&read_line_from(reader));
    }
    response
}

/// `{n}` at the end of a response line.
pub fn literal_length(line: &str) -> Option<usize> {
    let body = line.strip_suffix('}')?;
    let open = body.rfind('{')?;
    body[open + 1..].trim_end_matches('+').parse().ok()
}

/// (uidvalidity, uid) from `OK [APPENDUID v n] ...` (the first UID when
/// the code gives a range, RFC 4315 §3).
pub fn appenduid(tagged: &str) -> (u32, u32) {
    let status = Status::parse(tagged);
    let code = status.code_named("APPENDUID").unwrap_or_else(|| panic!("no APPENDUID in {tagged:?}"));
    let words = code.values();
    assert_eq!(words.len(), 2, "APPENDUID is a UIDVALIDITY and a UID set: {tagged:?}");
    let uid = words[1].split([':', ',']).next().unwrap().parse().unwrap();
    (words[0].parse().unwrap(), uid)
}

/// The status part of a response: an untagged status response
/// (`* OK [CODE] text`) or a tagged reply without its tag (`OK [CODE] text`,
/// as [`Client::command`] returns it); none for other untagged responses.
pub fn status_part(response: &str) -> Option<Status> {
    match parse_one(response) {
        Reply::Untagged(untagged) if ["OK", "NO", "BAD", "BYE", "PREAUTH"].iter().any(|name| untagged.is(name)) => {
            Some(untagged.status())
        }
        Reply::Untagged(_) | Reply::Continuation(_) => None,
        Reply::Tagged { .. } => Some(Status::parse(response)),
    }
}

/// Starts IDLE on `client` and waits for the continuation; answers the tag.
pub fn idle(client: &mut Client) -> String {
    let tag = client.next_tag();
    client.send(&format!("{tag} IDLE"));
    let line = client.read_line();
    assert!(line.starts_with("+ "), "{line}");
    tag
}

/// Ends IDLE; returns the untagged lines that came before the OK.
pub fn done(client: &mut Client, tag: &str) -> Vec<Response> {
    client.send("DONE");
    let (untagged, tagged) = client.until_tagged(tag);
    assert!(tagged.starts_with("OK"), "{tagged}");
    untagged
}

/// A small well-formed message.
pub fn message(subject: &str, body: &str) -> Vec<u8> {
    format!(
        "From: Bob Example <bob@example.org>\r\nTo: Alice <alice@example.org>\r\nSubject: {subject}\r\nDate: Wed, 17 Jul 1996 02:44:25 -0700\r\nMessage-ID: <{subject}@example.org>\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

/// The numbers of the one `* SEARCH` response.
pub fn search_result(responses: &[Response]) -> Vec<u32> {
    Responses::of(responses).one("SEARCH").numbers()
}

/// The peak resident memory (VmHWM, Linux) of process `pid`, in KiB.
pub fn vm_hwm_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|line| line.starts_with("VmHWM:")).expect("VmHWM");
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// 127.0.0.`last`: attack-style tests connect from any address of 127/8
/// (127.0.0.1 is in the default never_limit; the others are strangers).
pub fn loopback(last: u8) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 0, last)
}

/// A TCP connection from `source` to `port` on 127.0.0.1 (std cannot bind
/// a client socket to a source address before connecting).
pub fn tcp_from(source: Ipv4Addr, port: u16) -> TcpStream {
    use rustix::net::{AddressFamily, SocketType};
    let socket = rustix::net::socket(AddressFamily::INET, SocketType::STREAM, None).unwrap();
    rustix::net::bind(&socket, &SocketAddrV4::new(source, 0)).unwrap();
    rustix::net::connect(&socket, &SocketAddrV4::new(loopback(1), port)).unwrap();
    let stream = TcpStream::from(socket);
    stream.set_nodelay(true).unwrap();
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    stream
}

/// A client from `source` whose greeting was `* OK`.
pub fn greeted_from(source: Ipv4Addr, port: u16) -> Client {
    let mut client = Client::new(Transport::Plain(tcp_from(source, port)));
    let greeting = client.read_line();
    assert!(greeting.starts_with("* OK"), "{source}: {greeting}");
    client
}

/// Base64 with padding (RFC 4648), for SASL responses and the like: the
/// crate the server uses, so one coder for both sides.
pub fn base64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A server with `limits` added to its `[limits]` table.
pub fn with_limits(limits: &str) -> Server {
    Server::start_with(Options { extra_limits: limits.into(), ..Default::default() })
}

/// The number in the response code `[CODE n]` (HIGHESTMODSEQ, UIDNEXT,
/// UIDVALIDITY...) of the status responses among `responses` (untagged
/// ones, or a tagged reply without its tag); panics if it came twice.
pub fn code_number(responses: &[Response], code: &str) -> Option<u64> {
    let found: Vec<u64> =
        responses.iter().filter_map(|response| status_part(response)?.code_named(code).map(Code::number)).collect();
    assert!(found.len() <= 1, "{code} came {} times in {responses:#?}", found.len());
    found.first().copied()
}

/// The `* n FETCH (...)` responses among `responses`.
pub fn fetch_lines(responses: &[Response]) -> Vec<&Response> {
    responses.iter().filter(|line| line.starts_with("* ") && line.contains(" FETCH (")).collect()
}

/// The FLAGS of a `* n FETCH (...)` line, if it has them.
pub fn fetch_flags(line: &str) -> Option<BTreeSet<String>> {
    let start = line.find("FLAGS (")? + "FLAGS (".len();
    let end = start + line[start..].find(')')?;
    Some(line[start..end].split_whitespace().map(str::to_string).collect())
}

/// The FLAGS of a FETCH response read typed (literals inline); panics
/// if it is not a FETCH response with FLAGS.
pub fn flags_in_fetch(response: &str) -> BTreeSet<String> {
    flag_set(&item(response, "FLAGS"))
}

/// The UID item of a `* n FETCH (...)` line, if it has one (not a word
/// that merely ends in "UID", such as EMAILID's neighbours).
pub fn fetch_uid(line: &str) -> Option<u32> {
    let body = &line[line.find(" FETCH (")? + " FETCH (".len()..];
    let mut offset = 0;
    while let Some(found) = body[offset..].find("UID ") {
        let at = offset + found;
        if at == 0 || body.as_bytes()[at - 1] == b' ' {
            let digits: String = body[at + 4..].chars().take_while(char::is_ascii_digit).collect();
            return digits.parse().ok();
        }
        offset = at + 4;
    }
    None
}

// ---------------------------------------------------------------------------
// Reading responses: a small FETCH response parser and the answers of the
// message commands, shared by the message-level suites.
// ---------------------------------------------------------------------------

/// A message with these header fields, in order, and this body.
pub fn mail(headers: &[(&str, &str)], body: &str) -> Vec<u8> {
    let mut text = String::new();
    for (name, value) in headers {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    text.push_str("\r\n");
    text.push_str(body);
    text.into_bytes()
}

/// `count` small distinct messages.
pub fn numbered(count: usize) -> Vec<Vec<u8>> {
    (1..=count).map(|number| message(&format!("m{number}"), &format!("body {number}"))).collect()
}

/// Alice, logged in, with `messages` appended to INBOX and INBOX selected
/// such that none of them is \Recent in this session: another session
/// selects INBOX first, takes the \Recent flags, and still watches the
/// mailbox when this one selects it. Returns the client and the UIDs.
pub fn settled(server: &Server, messages: &[Vec<u8>]) -> (Client, Vec<u32>) {
    let mut client = server.login("alice", "secret");
    let uids = messages.iter().map(|message| client.append_ok("INBOX", message)).collect();
    let mut first = server.login("alice", "secret");
    let untagged = first.ok("SELECT INBOX");
    assert!(untagged.contains(&format!("* {} RECENT", messages.len())), "{untagged:?}");
    let untagged = client.ok("SELECT INBOX");
    assert!(untagged.contains(&format!("* {} EXISTS", messages.len())), "{untagged:?}");
    assert!(untagged.contains(&"* 0 RECENT".to_string()), "{untagged:?}");
    first.ok("LOGOUT");
    (client, uids)
}

/// One value of a response, starting at byte `start`: a literal's contents,
/// a quoted string unquoted, a parenthesised list as sent, or an atom.
/// Returns the value and the position after it.
pub fn parse_value(text: &str, start: usize) -> (String, usize) {
    let bytes = text.as_bytes();
    match bytes[start] {
        // RFC 3516 §4.2: a literal8 (BINARY) reads like a literal.
        b'~' if bytes.get(start + 1) == Some(&b'{') => parse_value(text, start + 1),
        b'{' => {
            let close = start + text[start..].find('}').expect("literal end");
            let length: usize = text[start + 1..close].trim_end_matches('+').parse().expect("literal length");
            let body = close + 3; // "}\r\n"
            (text[body..body + length].to_string(), body + length)
        }
        b'"' => {
            // Bytes, not chars: a UTF-8 string (RFC 6855) stays UTF-8.
            let mut value = Vec::new();
            let mut position = start + 1;
            loop {
                match bytes[position] {
                    b'\\' => {
                        value.push(bytes[position + 1]);
                        position += 2;
                    }
                    b'"' => return (String::from_utf8_lossy(&value).into_owned(), position + 1),
                    byte => {
                        value.push(byte);
                        position += 1;
                    }
                }
            }
        }
        b'(' => {
            let mut depth = 0;
            let mut position = start;
            let mut quoted = false;
            loop {
                match bytes[position] {
                    b'\\' if quoted => position += 1,
                    b'"' => quoted = !quoted,
                    b'(' if !quoted => depth += 1,
                    b')' if !quoted => {
                        depth -= 1;
                        if depth == 0 {
                            return (text[start..=position].to_string(), position + 1);
                        }
                    }
                    _ => {}
                }
                position += 1;
            }
        }
        _ => {
            let end = text[start..].find([' ', ')']).map_or(text.len(), |offset| start + offset);
            (text[start..end].to_string(), end)
        }
    }
}

/// The (name, value) pairs of a `* n FETCH (...)` response.
pub fn fetch_items(response: &str) -> Vec<(String, String)> {
    fetch_item_spans(response).into_iter().map(|(name, value, _)| (name, value)).collect()
}

/// [`fetch_items`] with where each value starts in `response` (to tell
/// the atom NIL from the string "NIL").
/// A UIDFETCH response (RFC 9586 §3.3) reads the same way.
pub fn fetch_item_spans(response: &str) -> Vec<(String, String, usize)> {
    let (open, name) = [" FETCH (", " UIDFETCH ("]
        .iter()
        .find_map(|name| Some((response.find(name)?, name.len())))
        .unwrap_or_else(|| panic!("not a FETCH response: {response:?}"));
    let bytes = response.as_bytes();
    let mut position = open + name;
    let mut items = Vec::new();
    while bytes[position] != b')' {
        let start = position;
        while bytes[position] != b' ' {
            if bytes[position] == b'[' {
                while bytes[position] != b']' {
                    position += 1;
                }
            }
            position += 1;
        }
        let name = response[start..position].to_string();
        let (value, next) = parse_value(response, position + 1);
        items.push((name, value, position + 1));
        position = next;
        if bytes[position] == b' ' {
            position += 1;
        }
    }
    assert_eq!(position, response.len() - 1, "text after the FETCH list: {response:?}");
    items
}

pub fn try_item(response: &str, name: &str) -> Option<String> {
    fetch_items(response).into_iter().find(|(found, _)| found.eq_ignore_ascii_case(name)).map(|(_, value)| value)
}

/// The value of FETCH item `name` in `response`.
pub fn item(response: &str, name: &str) -> String {
    try_item(response, name).unwrap_or_else(|| panic!("no {name} in {response:?}"))
}

/// The names of the items of a FETCH response, upper-cased.
pub fn item_names(response: &str) -> Vec<String> {
    fetch_items(response).into_iter().map(|(name, _)| name.to_ascii_uppercase()).collect()
}

/// `(\Seen $x)` as a set.
pub fn flag_set(list: &str) -> BTreeSet<String> {
    let inner = list.strip_prefix('(').and_then(|list| list.strip_suffix(')')).expect("a flag list");
    inner.split_whitespace().map(str::to_string).collect()
}

pub fn flags(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|name| name.to_string()).collect()
}

/// The FETCH responses among `untagged`, by sequence number.
pub fn fetches(untagged: &[Response]) -> Vec<(u32, &Response)> {
    untagged
        .iter()
        .filter(|response| response.starts_with("* ") && response.contains(" FETCH ("))
        .map(|response| (response[2..].split(' ').next().unwrap().parse().unwrap(), response))
        .collect()
}

/// The one FETCH response for sequence number `sequence`.
pub fn fetch_of(untagged: &[Response], sequence: u32) -> &Response {
    let found: Vec<&Response> =
        fetches(untagged).into_iter().filter(|(number, _)| *number == sequence).map(|(_, found)| found).collect();
    assert_eq!(found.len(), 1, "one FETCH for {sequence} in {untagged:#?}");
    found[0]
}

/// The flags the server reports for message `sequence` (read without side effects).
pub fn flags_of(client: &mut Client, sequence: u32) -> BTreeSet<String> {
    let untagged = client.ok(&format!("FETCH {sequence} FLAGS"));
    flag_set(&item(fetch_of(&untagged, sequence), "FLAGS"))
}

/// A STATUS item of a mailbox (`mailbox` as sent: an atom or quoted).
pub fn status(client: &mut Client, mailbox: &str, name: &str) -> u32 {
    let items = client.run_ok(&format!("STATUS {mailbox} ({name})")).status_items(mailbox);
    assert_eq!(items.len(), 1, "only {name} asked: {items:?}");
    let value = items.get(&name.to_ascii_uppercase()).unwrap_or_else(|| panic!("no {name} in {items:?}"));
    (*value).try_into().unwrap()
}

/// The one ESEARCH answer of `command`, with no SEARCH beside it, checked
/// to name the command's tag (RFC 4731 §3.1).
pub fn esearch(client: &mut Client, command: &str) -> Esearch {
    let responses = client.run_ok(command);
    assert!(responses.untagged("SEARCH").is_empty(), "{command}: no SEARCH response with RETURN: {responses:?}");
    let esearch = responses.one("ESEARCH").esearch();
    assert_eq!(esearch.tag, Some(client.last_tag()), "{command}: {responses:?}");
    esearch
}

/// The capabilities of a CAPABILITY command's one answer.
pub fn capabilities(client: &mut Client) -> BTreeSet<String> {
    capability_set(&client.ok("CAPABILITY"))
}

/// The capabilities of the one `* CAPABILITY` response among `untagged`.
pub fn capability_set(untagged: &[Response]) -> BTreeSet<String> {
    Responses::of(untagged).one("CAPABILITY").data.split_whitespace().map(str::to_string).collect()
}

/// The sorted numbers of a SEARCH command's answer.
pub fn search(client: &mut Client, criteria: &str) -> Vec<u32> {
    let untagged = client.ok(&format!("SEARCH {criteria}"));
    let mut numbers = search_result(&untagged);
    numbers.sort_unstable();
    numbers
}

pub fn uid_search(client: &mut Client, criteria: &str) -> Vec<u32> {
    let untagged = client.ok(&format!("UID SEARCH {criteria}"));
    let mut numbers = search_result(&untagged);
    numbers.sort_unstable();
    numbers
}

/// `[COPYUID v src dst]` (RFC 4315 §3) of a tagged reply or an untagged
/// `* OK`, as its three words.
pub fn copyuid(text: &str) -> (u32, String, String) {
    let status = status_part(text).unwrap_or_else(|| panic!("not a status response: {text:?}"));
    let words = status.code_named("COPYUID").unwrap_or_else(|| panic!("no COPYUID in {text:?}")).values();
    assert_eq!(words.len(), 3, "{text}");
    (words[0].parse().unwrap(), words[1].clone(), words[2].clone())
}

/// The flags of the one `* FLAGS` response among `untagged` (the
/// mailbox's defined flags, RFC 9051 §7.3.5).
pub fn defined_flags(untagged: &[Response]) -> BTreeSet<String> {
    flag_set(&Responses::of(untagged).one("FLAGS").data)
}

/// The UIDVALIDITY a SELECT or EXAMINE reported (exactly once).
pub fn uidvalidity(untagged: &[Response]) -> u32 {
    let code = Responses::of(untagged).code("UIDVALIDITY").unwrap_or_else(|| panic!("no UIDVALIDITY in {untagged:#?}"));
    code.number().try_into().unwrap()
}

/// The UIDs of all messages, in sequence order.
pub fn all_uids(client: &mut Client) -> Vec<u32> {
    let untagged = client.ok("FETCH 1:* UID");
    let mut found: Vec<(u32, u32)> = fetches(&untagged)
        .into_iter()
        .map(|(sequence, response)| (sequence, item(response, "UID").parse().unwrap()))
        .collect();
    found.sort_unstable();
    found.into_iter().map(|(_, uid)| uid).collect()
}

/// Asserts that the server sends nothing for a while.
pub fn assert_silent(client: &mut Client) {
    let Transport::Plain(stream) = client.transport() else { panic!("plain connections only") };
    stream.set_read_timeout(Some(Duration::from_millis(400))).unwrap();
    let mut byte = [0u8; 64];
    let read = stream.read(&mut byte);
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    match read {
        Ok(count) => panic!("unexpected: {:?}", String::from_utf8_lossy(&byte[..count])),
        Err(error) => {
            assert!(matches!(error.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut), "{error}")
        }
    }
}
