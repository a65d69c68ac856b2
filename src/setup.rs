//! `roost setup`: the first run on the LAN, in one command.
//!
//! 1. **Board.** Read from `/proc/device-tree/model` ([`detect_board`]):
//!    the profiles are sized by RAM, so a Pi 1 (ARMv6, 256–512 MiB, one
//!    core) takes `rpi-zero` and a Pi 2 (ARMv7, 1 GiB) takes `rpi3` (same
//!    RAM; its four slower cores only make logins slower, which the
//!    argon2 cost of rpi3 still keeps under a second). Anything else is
//!    `generic`, and setup says so. The packaged `roost.toml` names rpi4
//!    for every board; setup writes the one it runs on.
//! 2. **Configuration.** IMAP on 143 (STARTTLS) and 993 (TLS) of every
//!    address. On Linux a socket on `[::]` takes IPv4 too (unless
//!    `net.ipv6.bindv6only` is set, then both are written), but on a host
//!    without IPv6 (`ipv6.disable=1`) it cannot be opened and the server
//!    would not start: setup tries to open one and writes `0.0.0.0` alone
//!    when it fails. LMTP stays local (a Unix socket; no TCP). The file is
//!    written to a temporary name and renamed (a power cut leaves the old
//!    file or the new, never half of one), mode 0640, group roost when run
//!    as root. An existing file is kept unless `--force` (the old one is
//!    then kept as `.old`), and setup prints what it would change; the
//!    example the packages install (`systemd/roost.toml`, embedded) is
//!    replaced without `--force` as long as nobody edited it.
//! 3. **Certificate.** The server's own code makes it
//!    (`server::tls_paths`), for the machine's name, `NAME.local` (what
//!    phones find by mDNS), localhost and the LAN addresses (`net::lan`),
//!    all written into `[tls]`. An existing certificate is kept when it
//!    covers every one of them (phones that trusted it keep trusting it);
//!    when a name or address is missing, or with `--new-certificate`, the
//!    old pair is moved aside (`.old`) and a new one made. A configured
//!    `[tls] cert` (Let's Encrypt) is left alone.
//! 4. **First user**, through `admin::store_password` (the code of `roost
//!    user add`): the password is asked twice without echo at a terminal,
//!    or read from `--password-file` or `--password-stdin`. An existing
//!    user is kept as is.
//! 5. **Ownership.** Run as root for the service's data directory
//!    (`/var/lib/roost`), every file setup made there would be root's, and
//!    the service (user roost) could not open its own database: the
//!    classic first-run failure. So the data directory's tree is given to
//!    user roost (`--owner` names another). When that user does not exist
//!    yet, setup says so and leaves the files root's: systemd's
//!    `StateDirectory=` gives the directory to the service user at start
//!    only when the directory itself is not already the user's.
//! 6. **What to type into each phone**, with the certificate's SHA-256
//!    fingerprint, and the next steps.
//!
//! Run twice with the same answers, it changes nothing.

use std::io::{BufRead, IsTerminal, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use crate::config::{Board, Config, Overrides};
use crate::status::x509;
use crate::{admin, auth, server};

/// The service's data directory (systemd's `StateDirectory=roost`).
const SERVICE_DATA: &str = "/var/lib/roost";
/// The service's LMTP socket (`RuntimeDirectory=roost`, group roost).
const SERVICE_LMTP_SOCKET: &str = "/run/roost/lmtp.sock";
/// The service's user.
const SERVICE_USER: &str = "roost";

/// What `roost setup` was told on the command line.
pub struct Options {
    pub config: PathBuf,
    pub data: Option<PathBuf>,
    pub board: Option<String>,
    pub hostname: Option<String>,
    pub user: Option<String>,
    pub password_file: Option<PathBuf>,
    pub password_stdin: bool,
    pub yes: bool,
    pub force: bool,
    pub new_certificate: bool,
    pub model_file: PathBuf,
    pub imap_port: u16,
    pub imaps_port: u16,
    pub owner: Option<String>,
    /// Where to write the systemd drop-in with the board's MemoryMax
    /// (default: /etc/systemd/system/roost.service.d when run as root for
    /// the service's configuration file).
    pub systemd_dropin: Option<PathBuf>,
}

/// The board profile for a `/proc/device-tree/model` text, and why.
pub fn detect_board(model: Option<&str>) -> (&'static str, String) {
    let Some(model) = model else {
        return ("generic", "no board model found (not a Raspberry Pi?): the generic profile".into());
    };
    // Longest prefixes first: "Raspberry Pi Zero 2" before "Raspberry Pi Zero".
    let table: &[(&str, &str, &str)] = &[
        ("Raspberry Pi 5", "rpi5", ""),
        ("Raspberry Pi Compute Module 5", "rpi5", ""),
        ("Raspberry Pi 500", "rpi5", ""),
        ("Raspberry Pi 4", "rpi4", ""),
        ("Raspberry Pi 400", "rpi4", ""),
        ("Raspberry Pi Compute Module 4", "rpi4", ""),
        ("Raspberry Pi Zero 2", "rpi-zero2w", ""),
        ("Raspberry Pi Zero", "rpi-zero", ""),
        ("Raspberry Pi 3", "rpi3", ""),
        ("Raspberry Pi Compute Module 3", "rpi3", ""),
        ("Raspberry Pi 2", "rpi3", " (a Pi 2 has the Pi 3's 1 GiB of RAM, which the profile is sized by)"),
        ("Raspberry Pi Model", "rpi-zero", " (a Pi 1: ARMv6, one core, 512 MiB at most, like a Zero)"),
        ("Raspberry Pi Compute Module", "rpi-zero", " (the first Compute Module is a Pi 1)"),
    ];
    let found = table.iter().filter(|(prefix, _, _)| model.starts_with(prefix)).max_by_key(|(prefix, _, _)| {
        // "Raspberry Pi 4" must not take "Raspberry Pi 400" from its own entry,
        // nor "Raspberry Pi 5" the "Raspberry Pi 500": the longest prefix wins.
        prefix.len()
    });
    match found {
        Some((_, board, note)) => (board, format!("detected {model:?}{note}")),
        None => ("generic", format!("{model:?} is no board roost knows: the generic profile")),
    }
}

/// The model text: `/proc/device-tree/model` ends with a NUL.
fn read_model(path: &Path) -> Option<String> {
    let text = std::fs::read(path).ok()?;
    let text = String::from_utf8_lossy(&text).trim_matches(|c: char| c == '\0' || c.is_whitespace()).to_string();
    (!text.is_empty()).then_some(text)
}

/// The addresses to listen on: `[::]` takes IPv4 too on Linux unless
/// `bindv6only` is set; without IPv6 only `0.0.0.0` can be opened.
fn listen_hosts() -> Vec<&'static str> {
    if std::net::TcpListener::bind("[::]:0").is_err() {
        return vec!["0.0.0.0"];
    }
    let v6only = std::fs::read_to_string("/proc/sys/net/ipv6/bindv6only").is_ok_and(|text| text.trim() == "1");
    if v6only {
        vec!["0.0.0.0", "[::]"]
    } else {
        vec!["[::]"]
    }
}

/// What goes into the configuration file.
struct Plan {
    model: Option<String>,
    board: String,
    data: PathBuf,
    hosts: Vec<&'static str>,
    imap_port: u16,
    imaps_port: u16,
    hostnames: Vec<String>,
    addresses: Vec<IpAddr>,
    lmtp_socket: PathBuf,
}

/// A TOML basic string; setup refuses what would need escapes.
fn quoted(text: &str) -> Result<String, String> {
    if text.chars().any(|c| c == '"' || c == '\\' || c.is_control()) {
        return Err(format!("{text:?}: quotes, backslashes and control characters are not taken here"));
    }
    Ok(format!("\"{text}\""))
}

fn list(items: impl IntoIterator<Item = String>) -> Result<String, String> {
    let quoted: Result<Vec<String>, String> = items.into_iter().map(|item| quoted(&item)).collect();
    Ok(format!("[{}]", quoted?.join(", ")))
}

/// The configuration file's text. Nothing in it changes from one run to
/// the next with the same answers (no date), so a second run finds it
/// unchanged.
fn config_text(plan: &Plan) -> Result<String, String> {
    let machine = plan.model.as_deref().map_or(String::new(), |model| format!(" ({model})"));
    let listen = |port: u16| list(plan.hosts.iter().map(|host| format!("{host}:{port}")));
    Ok(format!(
        r#"# roost's configuration, written by `roost setup` for this machine{machine}.
# Every setting is optional; README.md lists them all. `roost setup` keeps
# this file unless given --force; edit it freely.

# Where the mail lives.
data_dir = {data}
# Memory and connection limits for this board (`roost boards` lists them).
board = {board}
log_level = "info"

[imap]
# IMAP with STARTTLS and IMAP over TLS on every address of this machine
# ("[::]" takes IPv4 and IPv6 both on Linux; "0.0.0.0" is IPv4 only).
listen = {imap}
listen_tls = {imaps}
# Passwords only over TLS, except from this machine itself.
plaintext_auth = "loopback"

[tls]
# The self-signed certificate is made for these names and addresses; run
# `roost setup --force` after changing the machine's name or address. For
# a certificate of your own, set cert and key (PEM files).
hostnames = {hostnames}
addresses = {addresses}

[lmtp]
# Mail from the local MTA (Postfix...) over a Unix socket; LMTP over TCP
# has no authentication and stays off.
socket = {socket}
"#,
        data = quoted(&plan.data.display().to_string())?,
        board = quoted(&plan.board)?,
        imap = listen(plan.imap_port)?,
        imaps = listen(plan.imaps_port)?,
        hostnames = list(plan.hostnames.iter().cloned())?,
        addresses = list(plan.addresses.iter().map(IpAddr::to_string))?,
        socket = quoted(&plan.lmtp_socket.display().to_string())?,
    ))
}

/// `say!` of `admin`, for setup's own lines.
fn say(text: &str) {
    if writeln!(std::io::stdout(), "{text}").is_err() {
        std::process::exit(0);
    }
}

/// Asks at the terminal; an empty answer takes `default`.
fn ask(question: &str, default: &str) -> Result<String, String> {
    eprint!("{question} [{default}]: ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).map_err(|error| format!("cannot read the answer: {error}"))?;
    let answer = line.trim();
    Ok(if answer.is_empty() { default.to_string() } else { answer.to_string() })
}

/// A user and group id, from `/etc/passwd` (roost has no libc binding;
/// the user roost is a local system user, never one from NSS).
fn lookup_user(name: &str) -> Option<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        match fields[..] {
            [user, _, uid, gid, ..] if user == name => Some((uid.parse().ok()?, gid.parse().ok()?)),
            _ => None,
        }
    })
}

fn running_as_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// Writes `text` to `path` through a temporary file and a rename, mode
/// 0640, group `group` when given.
fn write_atomically(path: &Path, text: &str, group: Option<u32>) -> Result<(), String> {
    use std::os::unix::fs::OpenOptionsExt;
    let failed = |error: std::io::Error| format!("cannot write {}: {error}", path.display());
    let dir = path.parent().filter(|dir| !dir.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|error| format!("cannot create {}: {error}", dir.display()))?;
    let name = path.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
    let temporary = dir.join(format!(".{name}.setup-{}", std::process::id()));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o640)
        .open(&temporary)
        .map_err(failed)?;
    let written = file.write_all(text.as_bytes()).and_then(|()| file.sync_all());
    let owned = match group {
        Some(gid) => std::os::unix::fs::chown(&temporary, Some(0), Some(gid)),
        None => Ok(()),
    };
    if let Err(error) = written.and(owned).and_then(|()| std::fs::rename(&temporary, path)) {
        let _ = std::fs::remove_file(&temporary);
        return Err(failed(error));
    }
    // The rename is durable once the directory is.
    if let Ok(directory) = std::fs::File::open(dir) {
        let _ = directory.sync_all();
    }
    Ok(())
}

/// The lines of `new` not in `old` (`+`) and of `old` not in `new` (`-`).
fn changes(old: &str, new: &str) -> Vec<String> {
    let removed = old.lines().filter(|line| !new.lines().any(|other| other == *line)).map(|line| format!("- {line}"));
    let added = new.lines().filter(|line| !old.lines().any(|other| other == *line)).map(|line| format!("+ {line}"));
    removed.chain(added).collect()
}

/// The example configuration the packages install as /etc/roost/roost.toml
/// (board rpi4 for every Pi): setup replaces it without --force while it
/// is unedited, since nobody chose what it says.
const SHIPPED: &str = include_str!("../systemd/roost.toml");

/// Writes the configuration unless one is there (then says what would change).
fn write_config(path: &Path, text: &str, force: bool, group: Option<u32>) -> Result<(), String> {
    match std::fs::read_to_string(path) {
        Ok(old) if old == text => {
            say(&format!("configuration: {} is already this (unchanged)", path.display()));
            return Ok(());
        }
        Ok(old) if !force && old != SHIPPED => {
            say(&format!("configuration: {} exists and is kept; setup would change:", path.display()));
            for line in changes(&old, text) {
                say(&format!("    {line}"));
            }
            say("  (`roost setup --force` writes it, keeping the old file as .old)");
            return Ok(());
        }
        Ok(_) => {
            let mut old = path.as_os_str().to_owned();
            old.push(".old");
            std::fs::copy(path, &old).map_err(|error| format!("cannot keep {}: {error}", path.display()))?;
            say(&format!("configuration: replaced {} (the old one is {})", path.display(), Path::new(&old).display()));
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            say(&format!("configuration: wrote {}", path.display()));
        }
        Err(error) => return Err(format!("cannot read {}: {error}", path.display())),
    }
    write_atomically(path, text, group)
}

/// Makes (or keeps) the certificate; returns its path.
fn certificate(config: &Config, renew: bool) -> Result<PathBuf, String> {
    if let Some(cert) = &config.tls_cert {
        say(&format!("certificate: {} (configured in [tls]; left alone)", cert.display()));
        return Ok(cert.clone());
    }
    let tls = config.data_dir.join("tls");
    let (cert, key) = (tls.join("cert.pem"), tls.join("key.pem"));
    let mut wanted = config.tls_hostnames.clone();
    wanted.extend(config.tls_addresses.iter().map(IpAddr::to_string));
    if cert.exists() && key.exists() {
        let missing: Vec<String> = match x509::read_pem(&cert) {
            Ok(info) => wanted.iter().filter(|name| !info.covers(name)).cloned().collect(),
            Err(problem) => vec![format!("(unreadable: {problem})")],
        };
        if missing.is_empty() && !renew {
            say(&format!("certificate: kept {} (it covers {})", cert.display(), wanted.join(", ")));
            return Ok(cert);
        }
        for path in [&cert, &key] {
            let mut old = path.as_os_str().to_owned();
            old.push(".old");
            std::fs::rename(path, &old).map_err(|error| format!("cannot move {} aside: {error}", path.display()))?;
        }
        let why = if missing.is_empty() {
            "--new-certificate".to_string()
        } else {
            format!("the old one did not cover {}", missing.join(", "))
        };
        say(&format!(
            "certificate: making a new one ({why}; the old pair is kept as .old): phones that trusted the old one ask again"
        ));
    }
    let (cert, _) = server::tls_paths(config)?;
    say(&format!("certificate: {} for {}", cert.display(), wanted.join(", ")));
    Ok(cert)
}

/// Adds the first user unless they exist.
fn first_user(config: &Config, options: &Options, interactive: bool) -> Result<Option<String>, String> {
    let name = match (&options.user, interactive) {
        (Some(name), _) => name.clone(),
        (None, true) => ask("First user's name (empty: none now)", "")?,
        (None, false) => String::new(),
    };
    if name.is_empty() {
        say("user: none added (`roost user add NAME` adds one)");
        return Ok(None);
    }
    let name = auth::normalize_user_name(&name)?;
    if admin::user_names(config)?.contains(&name) {
        say(&format!("user: {name} exists (kept, password unchanged; `roost user passwd {name}` changes it)"));
        return Ok(Some(name));
    }
    let password = match &options.password_file {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|error| format!("{}: {error}", path.display()))?;
            let line = text.lines().next().unwrap_or_default().to_string();
            if line.is_empty() {
                return Err(format!("{}: the first line (the password) is empty", path.display()));
            }
            line
        }
        // At a terminal: asked twice without echo; piped: the first line.
        None if options.password_stdin || interactive => admin::read_password(&name, true)?,
        None => {
            return Err(format!(
            "user {name}: give the password with --password-file FILE or --password-stdin (or run setup at a terminal)"
        ))
        }
    };
    admin::store_password(config, &name, true, false, &password)?;
    Ok(Some(name))
}

/// Gives the data directory's tree to `owner` (root only).
fn give_data_to(config: &Config, config_path: &Path, owner: &str) -> Result<(), String> {
    let Some((uid, gid)) = lookup_user(owner) else {
        say(&format!(
            "ownership: user {owner} does not exist yet, so the files in {data} and {file} stay root's: create it \
             (the package does; or `systemd-sysusers`), then `chown -R {owner}:{owner} {data}` and \
             `chgrp {owner} {file}` before starting the server",
            data = config.data_dir.display(),
            file = config_path.display()
        ));
        return Ok(());
    };
    let chown = |path: &Path| {
        std::os::unix::fs::lchown(path, Some(uid), Some(gid))
            .map_err(|error| format!("cannot give {} to {owner}: {error}", path.display()))
    };
    chown(&config.data_dir)?;
    // Two levels at most: the data directory and its tls/ (server::create_data_dir's layout).
    for folder in [config.data_dir.clone(), config.data_dir.join("tls")] {
        let Ok(entries) = std::fs::read_dir(&folder) else { continue };
        for entry in entries.flatten() {
            chown(&entry.path())?;
        }
    }
    say(&format!("ownership: {} and its files belong to {owner}", config.data_dir.display()));
    Ok(())
}

/// `roost setup`.
pub fn run(options: Options) -> Result<(), String> {
    let interactive = std::io::stdin().is_terminal() && !options.yes;
    let model = read_model(&options.model_file);
    let mut board = if let Some(board) = &options.board {
        say(&format!("board: {board} (as given)"));
        board.clone()
    } else {
        let (board, why) = detect_board(model.as_deref());
        say(&format!("board: {board} ({why})"));
        board.to_string()
    };
    if interactive {
        board = ask("Board profile (`roost boards` lists them)", &board)?;
    }
    Board::named(&board).map_err(|error| error.to_string())?;

    let machine = match &options.hostname {
        Some(name) => name.clone(),
        None => std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default().trim().to_string(),
    };
    let machine = if interactive { ask("This machine's name", &machine)? } else { machine };
    let hostnames = crate::config::hostnames_for(&machine);
    if hostnames.len() == 1 {
        return Err(format!("{machine:?} cannot name this machine: give --hostname NAME (letters, digits, - and .)"));
    }
    let data = options.data.clone().unwrap_or_else(|| PathBuf::from(SERVICE_DATA));
    let data = std::path::absolute(&data).map_err(|error| format!("{}: {error}", data.display()))?;
    let service = data == Path::new(SERVICE_DATA);
    let plan = Plan {
        model: model.clone(),
        board,
        lmtp_socket: if service { PathBuf::from(SERVICE_LMTP_SOCKET) } else { data.join("lmtp.sock") },
        data,
        hosts: listen_hosts(),
        imap_port: options.imap_port,
        imaps_port: options.imaps_port,
        hostnames,
        addresses: crate::net::lan::addresses(),
    };
    let owner = options.owner.clone().or_else(|| service.then(|| SERVICE_USER.to_string()));
    let root = running_as_root();
    // The service (user roost) reads the file through its group.
    let group = if root { owner.as_deref().and_then(lookup_user).map(|(_, gid)| gid) } else { None };
    write_config(&options.config, &config_text(&plan)?, options.force, group)?;

    // From here on, what the file says (it may be the kept one).
    let config = Config::load(Some(&options.config), Overrides::default()).map_err(|error| error.to_string())?;
    if config.data_dir != plan.data {
        say(&format!("note: {} keeps data_dir {}", options.config.display(), config.data_dir.display()));
    }
    server::create_data_dir(&config)?;
    let cert = certificate(&config, options.new_certificate)?;
    let user = first_user(&config, &options, interactive)?;
    match (&owner, root) {
        (Some(owner), true) => give_data_to(&config, &options.config, owner)?,
        (Some(owner), false) => say(&format!(
            "ownership: not run as root, so the files are yours; the service runs as {owner} (run setup as root)"
        )),
        (None, _) => {}
    }
    memory_cap(&config, &options, root)?;
    phone_text(&config, user.as_deref(), &cert, &options.config);
    Ok(())
}

/// The unit's configuration file, and where its drop-ins go.
const SERVICE_CONFIG: &str = "/etc/roost/roost.toml";
const SERVICE_DROPIN: &str = "/etc/systemd/system/roost.service.d";

/// The `MemoryMax` a board profile names on its `# systemd MemoryMax: …`
/// line (measured peaks and the rule are in the boards' comments).
pub fn memory_max(board_text: &str) -> Option<&str> {
    board_text.lines().find_map(|line| line.strip_prefix("# systemd MemoryMax:")).map(str::trim)
}

/// Writes `roost.service.d/memory.conf` with the board's `MemoryMax`: the
/// unit carries the smallest board's (128M), which would starve a Pi 5's
/// file cache. Only for the service's own configuration file (run as
/// root), or where `--systemd-dropin` says.
fn memory_cap(config: &Config, options: &Options, root: bool) -> Result<(), String> {
    let dir = match &options.systemd_dropin {
        Some(dir) => dir.clone(),
        None if root && options.config == Path::new(SERVICE_CONFIG) && Path::new("/etc/systemd/system").is_dir() => {
            PathBuf::from(SERVICE_DROPIN)
        }
        None => return Ok(()),
    };
    let text = crate::config::BOARDS.iter().find(|(name, _)| *name == config.board).map(|(_, text)| *text);
    let Some(cap) = text.and_then(memory_max) else {
        return Ok(());
    };
    std::fs::create_dir_all(&dir).map_err(|error| format!("cannot create {}: {error}", dir.display()))?;
    let path = dir.join("memory.conf");
    let body = format!(
        "# Written by `roost setup` for the board profile {}: roost's memory cap\n\
         # (see the board's comments, `roost boards`). Change it with `systemctl edit roost`.\n\
         [Service]\nMemoryMax={cap}\n",
        config.board
    );
    if std::fs::read_to_string(&path).ok().as_deref() == Some(body.as_str()) {
        say(&format!("systemd: {} already sets MemoryMax={cap}", path.display()));
        return Ok(());
    }
    write_atomically(&path, &body, None)?;
    // A drop-in holds no secret: readable by all, as the unit it amends
    // (`systemctl cat` as any user), whatever the caller's umask.
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o644))
        .map_err(|error| format!("cannot make {} readable: {error}", path.display()))?;
    say(&format!(
        "systemd: MemoryMax={cap} for {} in {} (`systemctl daemon-reload` reads it)",
        config.board,
        path.display()
    ));
    Ok(())
}

/// What to type into each phone, and what to do next.
fn phone_text(config: &Config, user: Option<&str>, cert: &Path, config_path: &Path) {
    let name = config
        .tls_hostnames
        .iter()
        .find(|name| name.to_ascii_lowercase().ends_with(".local"))
        .or(config.tls_hostnames.first());
    let port = config.imaps_listen.first().map_or(993, std::net::SocketAddr::port);
    say("");
    say("On each phone, tablet or computer, add a mail account (\"Other\" / IMAP, manual setup):");
    if let Some(name) = name {
        say(&format!("  Incoming mail server (IMAP): {name}"));
    }
    for address in &config.tls_addresses {
        say(&format!("    or by address:             {address}"));
    }
    say(&format!("  Port:                        {port}, security SSL/TLS (not STARTTLS)"));
    match user {
        Some(user) => say(&format!("  User name:                   {user}")),
        None => say("  User name:                   the name given to `roost user add`"),
    }
    say("  Password:                    that user's password");
    say("  Outgoing mail (SMTP):        your mail provider's; roost does not send mail");
    match crate::net::tls::fingerprint(cert) {
        Ok(fingerprint) => {
            say("The certificate is self-signed, so the phone asks whether to trust it. Trust it only if");
            say("the SHA-256 fingerprint it shows (\"details\", \"more\") is this one:");
            say(&format!("  {fingerprint}"));
        }
        Err(problem) => say(&format!("(certificate fingerprint: {problem})")),
    }
    say("");
    say("Next:");
    let custom = config_path != Path::new("/etc/roost/roost.toml");
    let with = if custom { format!(" --config {}", config_path.display()) } else { String::new() };
    // Run with sudo, the next commands need it too (the data directory is the service's).
    let sudo = if running_as_root() && std::env::var_os("SUDO_USER").is_some() { "sudo " } else { "" };
    say(&format!(
        "  {sudo}systemctl daemon-reload && {sudo}systemctl restart roost   start the server with this configuration"
    ));
    say(&format!("  {sudo}roost status{with}   check that it runs"));
    if let Some(user) = user {
        say(&format!(
            "  {sudo}roost client-profile {user}{with}   a file that sets up an iPhone, iPad, Mac or Thunderbird in one tap"
        ));
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_board_names_its_memory_cap() {
        for (name, text) in crate::config::BOARDS {
            let cap = memory_max(text).unwrap_or_else(|| panic!("boards/{name}.toml has no systemd MemoryMax line"));
            assert!(cap.ends_with('M') || cap.ends_with('G'), "{name}: {cap}");
        }
        assert_eq!(memory_max("# systemd MemoryMax: 512M\nx = 1\n"), Some("512M"));
    }

    use super::*;

    #[test]
    fn boards_from_models() {
        let cases = [
            ("Raspberry Pi Zero W Rev 1.1", "rpi-zero"),
            ("Raspberry Pi Zero Rev 1.3", "rpi-zero"),
            ("Raspberry Pi Zero 2 W Rev 1.0", "rpi-zero2w"),
            ("Raspberry Pi 3 Model B Plus Rev 1.3", "rpi3"),
            ("Raspberry Pi 3 Model A Plus Rev 1.0", "rpi3"),
            ("Raspberry Pi 4 Model B Rev 1.4", "rpi4"),
            ("Raspberry Pi 400 Rev 1.0", "rpi4"),
            ("Raspberry Pi Compute Module 4 Rev 1.0", "rpi4"),
            ("Raspberry Pi Compute Module 3 Plus Rev 1.0", "rpi3"),
            ("Raspberry Pi 5 Model B Rev 1.0", "rpi5"),
            ("Raspberry Pi 500 Rev 1.0", "rpi5"),
            ("Raspberry Pi Model B Rev 2", "rpi-zero"),
            ("Raspberry Pi Model B Plus Rev 1.2", "rpi-zero"),
            ("Raspberry Pi Compute Module Rev 1.0", "rpi-zero"),
            ("Raspberry Pi 2 Model B Rev 1.1", "rpi3"),
            ("Pine64 RockPro64", "generic"),
        ];
        for (model, board) in cases {
            assert_eq!(detect_board(Some(model)).0, board, "{model}");
            Board::named(board).unwrap();
        }
        let (board, why) = detect_board(None);
        assert_eq!(board, "generic");
        assert!(why.contains("generic"));
    }

    #[test]
    fn model_file_ends_with_a_nul() {
        let path = std::env::temp_dir().join(format!("roost-model-{}", std::process::id()));
        std::fs::write(&path, b"Raspberry Pi 4 Model B Rev 1.4\0").unwrap();
        assert_eq!(read_model(&path).as_deref(), Some("Raspberry Pi 4 Model B Rev 1.4"));
        std::fs::remove_file(&path).unwrap();
        assert_eq!(read_model(&path), None);
    }

    #[test]
    fn the_written_configuration_loads_as_planned() {
        let plan = Plan {
            model: Some("Raspberry Pi Zero W Rev 1.1".into()),
            board: "rpi-zero".into(),
            data: PathBuf::from("/var/lib/roost"),
            hosts: vec!["0.0.0.0", "[::]"],
            imap_port: 143,
            imaps_port: 993,
            hostnames: crate::config::hostnames_for("pi"),
            addresses: vec!["192.168.1.20".parse().unwrap(), "fd00::2".parse().unwrap()],
            lmtp_socket: PathBuf::from(SERVICE_LMTP_SOCKET),
        };
        let text = config_text(&plan).unwrap();
        let config = Config::parse("setup", &text, Overrides::default()).unwrap();
        assert_eq!(config.board, "rpi-zero");
        assert_eq!(config.imaps_listen, vec!["0.0.0.0:993".parse().unwrap(), "[::]:993".parse().unwrap()]);
        assert_eq!(config.imap_listen.len(), 2);
        assert_eq!(config.tls_hostnames, ["pi", "pi.local", "localhost"]);
        assert_eq!(config.tls_addresses, plan.addresses);
        assert_eq!(config.lmtp_socket, Some(PathBuf::from(SERVICE_LMTP_SOCKET)));
        assert!(config.lmtp_listen.is_empty());
        assert_eq!(config_text(&plan).unwrap(), text, "the same answers make the same file");
        let bad = Plan { data: PathBuf::from("/a\"b"), ..plan };
        assert!(config_text(&bad).is_err());
    }

    #[test]
    fn changes_list_lines_removed_and_added() {
        assert_eq!(changes("a\nb\nc\n", "a\nc\nd\n"), ["- b", "+ d"]);
        assert!(changes("a\n", "a\n").is_empty());
    }

    #[test]
    fn passwd_lookup() {
        assert_eq!(lookup_user("root"), Some((0, 0)));
        assert_eq!(lookup_user("no-such-user-here"), None);
    }
}
