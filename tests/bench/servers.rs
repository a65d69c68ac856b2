//! The servers under test: roost (the release binary) and a private
//! Dovecot instance (tests/bench/dovecot.sh), with their memory read from
//! /proc and summed over every process they run.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub const USER: &str = "alice";
pub const PASSWORD: &str = "correct horse battery staple";

/// Memory of a server, summed over its processes, in KiB.
#[derive(Clone, Copy, Debug, Default)]
pub struct Memory {
    pub rss: u64,
    pub pss: u64,
    /// Private pages: memory that would be freed if the processes exited.
    pub uss: u64,
    pub processes: u64,
}

impl std::ops::Sub for Memory {
    type Output = Memory;
    fn sub(self, other: Memory) -> Memory {
        Memory {
            rss: self.rss.saturating_sub(other.rss),
            pss: self.pss.saturating_sub(other.pss),
            uss: self.uss.saturating_sub(other.uss),
            processes: self.processes,
        }
    }
}

fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    let after = &stat[stat.rfind(')')? + 2..];
    after.split_whitespace().nth(1)?.parse().ok()
}

/// `root` and all its descendants.
pub fn process_tree(root: u32) -> Vec<u32> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            if let Some(pid) = entry.file_name().to_str().and_then(|name| name.parse::<u32>().ok()) {
                if let Some(parent) = parent_of(pid) {
                    children.entry(parent).or_default().push(pid);
                }
            }
        }
    }
    let mut tree = vec![root];
    let mut index = 0;
    while index < tree.len() {
        if let Some(kids) = children.get(&tree[index]) {
            tree.extend(kids);
        }
        index += 1;
    }
    tree
}

/// CPU time the processes `pids` used, in seconds: user and system time
/// of each, plus that of its children it has reaped (Dovecot's master
/// reaps its login and auth processes, so their time stays counted after
/// they exit). Linux counts in USER_HZ, 100 a second.
pub fn cpu_seconds(pids: &[u32]) -> f64 {
    let mut ticks = 0u64;
    for pid in pids {
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
        // Fields after the command name: state is field 3; utime, stime,
        // cutime and cstime are fields 14 to 17.
        let Some(after) = stat.rfind(')').map(|index| &stat[index + 2..]) else { continue };
        let fields: Vec<&str> = after.split_whitespace().collect();
        for field in fields.get(11..15).unwrap_or(&[]) {
            ticks += field.parse::<u64>().unwrap_or(0);
        }
    }
    ticks as f64 / 100.0
}

pub fn memory_of(pids: &[u32]) -> Memory {
    let mut total = Memory::default();
    for pid in pids {
        let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")) else { continue };
        total.processes += 1;
        for line in text.lines() {
            let mut words = line.split_whitespace();
            let (Some(name), Some(value)) = (words.next(), words.next().and_then(|value| value.parse::<u64>().ok()))
            else {
                continue;
            };
            match name {
                "Rss:" => total.rss += value,
                "Pss:" => total.pss += value,
                "Private_Clean:" | "Private_Dirty:" => total.uss += value,
                _ => {}
            }
        }
    }
    total
}

/// How [`Server::roost_with`] sets roost up.
pub struct RoostSetup<'a> {
    /// Lines appended to the config's [limits] table.
    pub limits: &'a str,
    /// LMTP on a free loopback TCP port.
    pub lmtp: bool,
    /// The board's own connection limits (total, per user, per address)
    /// instead of the lifted ones the footprint scenarios need.
    pub board_limits: bool,
    /// Keep the data of an earlier run in the same directory, if there is
    /// one (its users exist already).
    pub keep: bool,
}

/// Apparent size of the files under `path`, directories included.
pub fn tree_bytes(path: &Path) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(path) else { return 0 };
    if !meta.is_dir() {
        return meta.len();
    }
    let entries = std::fs::read_dir(path).map(|entries| entries.flatten().collect::<Vec<_>>()).unwrap_or_default();
    meta.len() + entries.iter().map(|entry| tree_bytes(&entry.path())).sum::<u64>()
}

/// VmRSS and VmHWM (KiB) from /proc/PID/status, summed over `pids`.
/// Cheaper to read than smaps_rollup, so it can be sampled often.
pub fn rss_and_peak(pids: &[u32]) -> (u64, u64) {
    let (mut rss, mut peak) = (0, 0);
    for pid in pids {
        let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/status")) else { continue };
        for line in text.lines() {
            let value = || line.split_whitespace().nth(1).and_then(|value| value.parse::<u64>().ok()).unwrap_or(0);
            if line.starts_with("VmRSS:") {
                rss += value();
            } else if line.starts_with("VmHWM:") {
                peak += value();
            }
        }
    }
    (rss, peak)
}

/// Resets the peak resident size (VmHWM) of `pids` to their current one
/// (proc(5): writing 5 to clear_refs), so the next reading is the peak
/// since now. Needs root for other users' processes, as Dovecot's are.
pub fn reset_peak(pids: &[u32]) {
    for pid in pids {
        let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
    }
}

pub enum Kind {
    Roost {
        binary: PathBuf,
        config: PathBuf,
        child: Option<Child>,
    },
    /// `env`: variables for dovecot.sh (DOVECOT_FTS), kept for restarts.
    Dovecot {
        script: PathBuf,
        master: u32,
        env: Vec<(String, String)>,
    },
}

pub struct Server {
    pub name: &'static str,
    pub imap: SocketAddr,
    pub imaps: SocketAddr,
    /// LMTP over TCP, when the server was started with it.
    pub lmtp: Option<SocketAddr>,
    pub dir: PathBuf,
    /// roost's `login failed from` log lines so far (password checks that
    /// failed); Dovecot's are not read.
    pub failed_logins: std::sync::Arc<std::sync::atomic::AtomicU64>,
    kind: Kind,
}

impl Server {
    /// Starts roost from `binary` with a fresh data directory in `dir`.
    /// `limits` is appended to its [limits] table. With `lmtp`, LMTP
    /// listens on a free loopback port (and on no unix socket).
    pub fn roost(binary: &Path, dir: &Path, limits: &str, lmtp: bool) -> Server {
        Server::roost_with(binary, dir, &RoostSetup { limits, lmtp, board_limits: false, keep: false })
    }

    /// Starts roost as `setup` says.
    pub fn roost_with(binary: &Path, dir: &Path, setup: &RoostSetup) -> Server {
        // For experiments: more [limits] lines from the environment.
        let limits =
            format!("{}\n{}", setup.limits, std::env::var("ROOST_BENCH_LIMITS").unwrap_or_default().replace(';', "\n"));
        // Data from an earlier run is kept only when asked for and there.
        let kept = setup.keep && dir.join("data").join("roost.redb").exists();
        if !kept {
            let _ = std::fs::remove_dir_all(dir);
        }
        std::fs::create_dir_all(dir).expect("bench directory");
        let config = dir.join("roost.toml");
        // LMTP only when asked for: the other scenarios run roost as before.
        let lmtp = setup.lmtp.then(|| SocketAddr::from(([127, 0, 0, 1], free_port())));
        let lmtp_table =
            lmtp.map(|address| format!("[lmtp]\nsocket = \"\"\nlisten = [\"{address}\"]\n")).unwrap_or_default();
        // Thousands of connections from one address and one user need the
        // board's connection limits lifted; the attack scenarios measure
        // the board's own.
        let connections = if setup.board_limits {
            ""
        } else {
            "max_connections = 20000\nmax_connections_per_user = 20000\nmax_connections_per_ip = 20000\n"
        };
        std::fs::write(
            &config,
            format!(
                "data_dir = \"{}\"\nlog_level = \"info\"\n[imap]\nlisten = [\"127.0.0.1:0\"]\nlisten_tls = [\"127.0.0.1:0\"]\n[limits]\n{connections}{limits}\n{lmtp_table}",
                dir.join("data").display()
            ),
        )
        .expect("config");
        let users: &[&str] = if kept { &[] } else { &[USER, "bob"] };
        for user in users {
            let mut add = Command::new(binary)
                .args(["user", "add", user, "--config", config.to_str().unwrap()])
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .spawn()
                .expect("roost user add");
            use std::io::Write;
            add.stdin.take().unwrap().write_all(format!("{PASSWORD}\n").as_bytes()).unwrap();
            assert!(add.wait().unwrap().success(), "roost user add failed");
        }
        let mut server = Server {
            name: "roost",
            imap: "127.0.0.1:0".parse().unwrap(),
            imaps: "127.0.0.1:0".parse().unwrap(),
            lmtp,
            dir: dir.to_path_buf(),
            failed_logins: Default::default(),
            kind: Kind::Roost { binary: binary.to_path_buf(), config, child: None },
        };
        server.start();
        server
    }

    /// Starts a private Dovecot in `dir`; with `lmtp`, its LMTP service
    /// listens on a free loopback port too.
    pub fn dovecot(script: &Path, dir: &Path, lmtp: bool) -> Server {
        Server::dovecot_with(script, dir, lmtp, false)
    }

    /// As [`Server::dovecot`]; with `keep`, the mail of an earlier run in
    /// `dir` is kept.
    pub fn dovecot_with(script: &Path, dir: &Path, lmtp: bool, keep: bool) -> Server {
        Server::dovecot_env(script, dir, lmtp, keep, &[])
    }

    /// As [`Server::dovecot_with`], with variables for dovecot.sh (e.g.
    /// `DOVECOT_FTS=xapian`), also used when it is restarted.
    pub fn dovecot_env(script: &Path, dir: &Path, lmtp: bool, keep: bool, env: &[(&str, &str)]) -> Server {
        let env: Vec<(String, String)> =
            env.iter().map(|(name, value)| (name.to_string(), value.to_string())).collect();
        if !keep {
            let _ = std::fs::remove_dir_all(dir);
        }
        std::fs::create_dir_all(dir).expect("bench directory");
        let users = dir.join("users");
        // The same argon2id cost as roost's generic board, so a login costs
        // both servers the same.
        let hash = argon2id(PASSWORD, 19456, 2);
        std::fs::write(&users, format!("{USER} {PASSWORD} {{ARGON2ID}}{hash}\nbob {PASSWORD} {{ARGON2ID}}{hash}\n"))
            .unwrap();
        let (imap, imaps) = (free_port(), free_port());
        let lmtp = lmtp.then(free_port);
        let output = dovecot_script(script)
            .envs(env.iter().map(|(name, value)| (name, value)))
            .args(["start", dir.join("instance").to_str().unwrap(), &imap.to_string(), &imaps.to_string()])
            .arg(&users)
            .args(lmtp.map(|port| port.to_string()))
            .stderr(Stdio::inherit())
            .output()
            .expect("run dovecot.sh");
        assert!(output.status.success(), "dovecot.sh start failed");
        let master: u32 = String::from_utf8_lossy(&output.stdout)
            .lines()
            .last()
            .and_then(|line| line.trim().parse().ok())
            .expect("dovecot.sh prints the master PID");
        Server {
            name: "dovecot",
            imap: format!("127.0.0.1:{imap}").parse().unwrap(),
            imaps: format!("127.0.0.1:{imaps}").parse().unwrap(),
            lmtp: lmtp.map(|port| SocketAddr::from(([127, 0, 0, 1], port))),
            dir: dir.to_path_buf(),
            failed_logins: Default::default(),
            kind: Kind::Dovecot { script: script.to_path_buf(), master, env },
        }
    }

    fn start(&mut self) {
        let Kind::Roost { binary, config, child } = &mut self.kind else {
            let Kind::Dovecot { script, master, env } = &mut self.kind else { unreachable!() };
            let output = dovecot_script(script)
                .envs(env.iter().map(|(name, value)| (name, value)))
                .args(["start", self.dir.join("instance").to_str().unwrap()])
                .args([self.imap.port().to_string(), self.imaps.port().to_string()])
                .arg(self.dir.join("users"))
                .args(self.lmtp.map(|address| address.port().to_string()))
                .stderr(Stdio::inherit())
                .output()
                .expect("run dovecot.sh");
            assert!(output.status.success(), "dovecot.sh start failed");
            *master = String::from_utf8_lossy(&output.stdout)
                .lines()
                .last()
                .and_then(|line| line.trim().parse().ok())
                .unwrap();
            return;
        };
        let ports_file = self.dir.join("ports");
        let _ = std::fs::remove_file(&ports_file);
        let mut process = Command::new(&*binary)
            .args(["serve", "--config", config.to_str().unwrap(), "--ports-file", ports_file.to_str().unwrap()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start roost");
        let stderr = process.stderr.take().unwrap();
        let failed_logins = self.failed_logins.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains("login failed from ") {
                    failed_logins.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                if line.contains("ERROR") || line.contains("panicked") {
                    eprintln!("roost: {line}");
                }
            }
        });
        // `serve --ports-file`: the ports the kernel chose, once bound.
        let deadline = std::time::Instant::now() + Duration::from_secs(120);
        let ports = loop {
            if let Ok(text) = std::fs::read_to_string(&ports_file) {
                break text;
            }
            assert!(process.try_wait().unwrap().is_none(), "roost exited at start");
            assert!(std::time::Instant::now() < deadline, "roost did not start");
            std::thread::sleep(Duration::from_millis(20));
        };
        let address = |kind: &str| -> SocketAddr {
            ports
                .lines()
                .find_map(|line| line.strip_prefix(kind)?.strip_prefix(' ')?.parse().ok())
                .unwrap_or_else(|| panic!("no {kind} line in the ports file"))
        };
        self.imap = address("imap");
        self.imaps = address("imaps");
        *child = Some(process);
        if let Some(address) = self.lmtp {
            // The port was chosen here: wait until roost accepts on it.
            let deadline = std::time::Instant::now() + Duration::from_secs(30);
            while std::net::TcpStream::connect(address).is_err() {
                assert!(std::time::Instant::now() < deadline, "roost does not accept LMTP on {address}");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }

    pub fn pids(&self) -> Vec<u32> {
        match &self.kind {
            Kind::Roost { child: Some(child), .. } => vec![child.id()],
            Kind::Roost { .. } => Vec::new(),
            Kind::Dovecot { master, .. } => process_tree(*master),
        }
    }

    /// roost's binary and config file (None for Dovecot), for its CLI.
    pub fn roost_cli(&self) -> Option<(&Path, &Path)> {
        match &self.kind {
            Kind::Roost { binary, config, .. } => Some((binary, config)),
            Kind::Dovecot { .. } => None,
        }
    }

    /// Dovecot's generated config file, for doveadm.
    pub fn dovecot_conf(&self) -> PathBuf {
        self.dir.join("instance").join("dovecot.conf")
    }

    pub fn memory(&self) -> Memory {
        memory_of(&self.pids())
    }

    /// The bytes the server keeps `user`'s mail in: roost's one database
    /// file (every user's), Dovecot's maildir of that user with its index
    /// files (apparent sizes, as `du -sb` counts them).
    pub fn data_bytes(&self, user: &str) -> u64 {
        match &self.kind {
            Kind::Roost { .. } => {
                std::fs::metadata(self.dir.join("data").join("roost.redb")).map_or(0, |meta| meta.len())
            }
            Kind::Dovecot { .. } => tree_bytes(&self.dir.join("instance").join("mail").join(user)),
        }
    }

    /// A clean stop and a fresh start on the same data.
    pub fn restart(&mut self) {
        self.stop();
        match &mut self.kind {
            Kind::Roost { .. } => self.start(),
            Kind::Dovecot { .. } => self.start(),
        }
    }

    pub fn stop(&mut self) {
        match &mut self.kind {
            Kind::Roost { child, .. } => {
                if let Some(mut process) = child.take() {
                    let _ = Command::new("kill").args(["-TERM", &process.id().to_string()]).status();
                    let _ = process.wait();
                }
            }
            Kind::Dovecot { script, master, .. } => {
                // Stopped once: a second stop (from Drop) has nothing to do.
                if std::mem::take(master) != 0 {
                    let _ = dovecot_script(script).args(["stop", self.dir.join("instance").to_str().unwrap()]).status();
                }
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A PHC argon2id string, as roost stores it.
pub fn argon2id(password: &str, memory_kib: u32, iterations: u32) -> String {
    let salt: [u8; 16] = *b"roost-bench-salt";
    let params = argon2::Params::new(memory_kib, iterations, 1, Some(32)).expect("argon2 parameters");
    let mut hash = [0u8; 32];
    let mut memory = vec![argon2::Block::default(); params.block_count()];
    argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
        .hash_password_into_with_memory(password.as_bytes(), &salt, &mut hash, &mut memory)
        .expect("argon2");
    let unpadded = |bytes: &[u8]| crate::corpus::base64(bytes).trim_end_matches('=').to_string();
    format!("$argon2id$v=19$m={memory_kib},t={iterations},p=1${}${}", unpadded(&salt), unpadded(&hash))
}

fn dovecot_script(script: &Path) -> Command {
    let mut command = Command::new("bash");
    // Debian's default: one login process per connection ("security" mode).
    command
        .arg(script)
        .env("DOVECOT_LOGIN_MODE", std::env::var("DOVECOT_LOGIN_MODE").unwrap_or_else(|_| "security".into()));
    command
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().unwrap().port()
}
