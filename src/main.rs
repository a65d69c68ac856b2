//! roost: an IMAP server for a household, built for Raspberry Pi-class
//! boards. See README.md.

mod alert;
mod auth;
mod config;
mod control;
mod imap;
mod lmtp;
mod mail;
mod mime;
mod net;
mod server;
mod store;
mod util;

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use argh::FromArgs;

use crate::config::{Board, Config, Overrides, BOARDS};

/// `println!` for the CLI's answers, except that a reader gone away
/// (`roost boards | head`) ends the command quietly instead of a panic
/// about a broken pipe (Rust ignores SIGPIPE, which the server needs).
macro_rules! say {
    ($($arg:tt)*) => {{
        if writeln!(std::io::stdout(), $($arg)*).is_err() {
            std::process::exit(0);
        }
    }};
}
use crate::store::{Op, StoreError};

/// roost: your family's mail, on a small board at home.
#[derive(FromArgs)]
struct Roost {
    #[argh(subcommand)]
    command: Command,
}

#[derive(FromArgs)]
#[argh(subcommand)]
enum Command {
    Serve(Serve),
    User(UserCommand),
    Ban(BanCommand),
    Check(Check),
    Deliver(Deliver),
    Boards(Boards),
    Fingerprint(Fingerprint),
}

#[derive(FromArgs)]
#[argh(subcommand, name = "fingerprint")]
/// Show the TLS certificate's SHA-256 fingerprint, to compare with what a
/// phone shows when it asks whether to trust the server (makes the
/// self-signed certificate first if there is none yet).
struct Fingerprint {
    /// configuration file
    #[argh(option)]
    config: Option<PathBuf>,
    /// data directory
    #[argh(option)]
    data: Option<PathBuf>,
}

/// Where the configuration comes from (shared by every command).
#[derive(FromArgs)]
#[argh(subcommand, name = "serve")]
/// Run the IMAP server.
struct Serve {
    /// configuration file (TOML); defaults apply without one
    #[argh(option)]
    config: Option<PathBuf>,
    /// board profile (see `roost boards`), overriding the file
    #[argh(option)]
    board: Option<String>,
    /// data directory, overriding the file (default ./roost-data)
    #[argh(option)]
    data: Option<PathBuf>,
}

#[derive(FromArgs)]
#[argh(subcommand, name = "user")]
/// Add, remove and list users, and change passwords.
struct UserCommand {
    #[argh(subcommand)]
    action: UserAction,
}

#[derive(FromArgs)]
#[argh(subcommand)]
enum UserAction {
    Add(UserAdd),
    Passwd(UserPasswd),
    Del(UserDel),
    List(UserList),
    Device(DeviceCommand),
    DeviceOnly(UserDeviceOnly),
    Log(UserLog),
}

#[derive(FromArgs)]
#[argh(subcommand, name = "device")]
/// Device passwords: one generated password per phone or computer, shown
/// once, revocable alone.
struct DeviceCommand {
    #[argh(subcommand)]
    action: DeviceAction,
}

#[derive(FromArgs)]
#[argh(subcommand)]
enum DeviceAction {
    Add(DeviceAdd),
    List(DeviceList),
    Del(DeviceDel),
}

#[derive(FromArgs)]
#[argh(subcommand, name = "add")]
/// Make a device password for a user and show it (once).
struct DeviceAdd {
    /// user name
    #[argh(positional)]
    name: String,
    /// the device, e.g. "Alice's iPhone" (at most 64 characters)
    #[argh(positional)]
    device: String,
    /// configuration file
    #[argh(option)]
    config: Option<PathBuf>,
    /// data directory
    #[argh(option)]
    data: Option<PathBuf>,
}

#[derive(FromArgs)]
#[argh(subcommand, name = "list")]
/// List a user's device passwords: created, last used, from where.
struct DeviceList {
    /// user name
    #[argh(positional)]
    name: String,
    /// configuration file
    #[argh(option)]
    config: Option<PathBuf>,
    /// data directory
    #[argh(option)]
    data: Option<PathBuf>,
}

#[derive(FromArgs)]
#[argh(subcommand, name = "del")]
/// Delete a device password: the next login with it is refused.
struct DeviceDel {
    /// user name
    #[argh(positional)]
    name: String,
    /// the device's name, as `device list` shows it
    #[argh(positional)]
    device: String,
    /// configuration file
    #[argh(option)]
    config: Option<PathBuf>,
    /// data directory
    #[argh(option)]
    data: Option<PathBuf>,
}

#[derive(FromArgs)]
#[argh(subcommand, name = "device-only")]
/// Let only device passwords log a user in over IMAP (on), or the main
/// password too (off).
struct UserDeviceOnly {
    /// user name
    #[argh(positional)]
    name: String,
    /// on or off
    #[argh(positional)]
    setting: String,
    /// configuration file
    #[argh(option)]
    config: Option<PathBuf>,
    /// data directory
    #[argh(option)]
    data: Option<PathBuf>,
}

#[derive(FromArgs)]
#[argh(subcommand, name = "log")]
/// Show a user's login history, newest first (times in UTC).
struct UserLog {
    /// user name
    #[argh(positional)]
    name: String,
    /// configuration file
    #[argh(option)]
    config: Option<PathBuf>,
    /// data directory
    #[argh(option)]
    data: Option<PathBuf>,
}

#[derive(FromArgs)]
#[argh(subcommand, name = "add")]
/// Add a user; the password is read from a prompt, or from stdin.
struct UserAdd {
    /// user name (letters, digits, . _ - @ +)
    #[argh(positional)]
    name: String,
    /// accept a password shorter than min_password_length
    #[argh(switch)]
    force: bool,
    /// configuration file
    #[argh(option)]
    config: Option<PathBuf>,
    /// data directory
    #[argh(option)]
    data: Option<PathBuf>,
}

#[derive(FromArgs)]
#[argh(subcommand, name = "passwd")]
/// Change a user's password (prompt, or stdin).
struct UserPasswd {
    /// user name
    #[argh(positional)]
    name: String,
    /// accept a password shorter than min_password_length
    #[argh(switch)]
    force: bool,
    /// configuration file
    #[argh(option)]
    config: Option<PathBuf>,
    /// data directory
    #[argh(option)]
    data: Option<PathBuf>,
}

#[derive(FromArgs)]
#[argh(subcommand, name = "del")]
/// Delete a user and all of their mail (asks to type the name first).
struct UserDel {
    /// user name
    #[argh(positional)]
    name: String,
    /// delete without asking (scripts)
    #[argh(switch)]
    yes: bool,
    /// configuration file
    #[argh(option)]
    config: Option<PathBuf>,
    /// data directory
    #[argh(option)]
    data: Option<PathBuf>,
}

#[derive(FromArgs)]
#[argh(subcommand, name = "list")]
/// List users.
struct UserList {
    /// configuration file
    #[argh(option)]
    config: Option<PathBuf>,
    /// data directory
    #[argh(option)]
    data: Option<PathBuf>,
}

#[derive(FromArgs)]
#[argh(subcommand, name = "ban")]
/// List, add and lift bans of addresses (through the running server).
struct BanCommand {
    #[argh(subcommand)]
    action: BanAction,
}

#[derive(FromArgs)]
#[argh(subcommand)]
enum BanAction {
    List(BanList),
    Add(BanAdd),
    Del(BanDel),
}

#[derive(FromArgs)]
#[argh(subcommand, name = "list")]
/// List bans: address, until when, how many in a row, why.
struct BanList {
    /// configuration file
    #[argh(option)]
    config: Option<PathBuf>,
    /// data directory
    #[argh(option)]
    data: Option<PathBuf>,
}

#[derive(FromArgs)]
#[argh(subcommand, name = "add")]
/// Ban an address (an IPv6 address bans its /64) or a range like
/// 198.51.100.0/24, never_ban or not.
struct BanAdd {
    /// the address or CIDR range
    #[argh(positional)]
    address: String,
    /// how long: seconds, or 30m, 12h, 7d (default: as long as an
    /// automatic ban, ban_seconds doubling on each repeat)
    #[argh(option, long = "for")]
    duration: Option<String>,
    /// configuration file
    #[argh(option)]
    config: Option<PathBuf>,
    /// data directory
    #[argh(option)]
    data: Option<PathBuf>,
}

#[derive(FromArgs)]
#[argh(subcommand, name = "del")]
/// Lift the ban of an address or range at once, and forget its repeats.
struct BanDel {
    /// the address or CIDR range, as `ban list` shows it
    #[argh(positional)]
    address: String,
    /// configuration file
    #[argh(option)]
    config: Option<PathBuf>,
    /// data directory
    #[argh(option)]
    data: Option<PathBuf>,
}

#[derive(FromArgs)]
#[argh(subcommand, name = "check")]
/// Verify the database; exits non-zero if it is damaged.
struct Check {
    /// when no server runs and the file was not closed cleanly (power cut,
    /// kill -9), let redb repair it first (this writes to the file)
    #[argh(switch)]
    repair: bool,
    /// configuration file
    #[argh(option)]
    config: Option<PathBuf>,
    /// data directory
    #[argh(option)]
    data: Option<PathBuf>,
}

#[derive(FromArgs)]
#[argh(subcommand, name = "deliver")]
/// Deliver one message from stdin to a user's INBOX, through the running
/// server's LMTP socket (for MTAs that pipe mail to a command). Exit codes
/// follow sysexits.h: 0 delivered, 67 no such user, 73 message too big,
/// 75 try again later (server not running, temporary failure), 64 usage.
struct Deliver {
    /// the recipient: a user name or one of their addresses
    #[argh(option)]
    user: String,
    /// envelope sender (Return-Path); default: the null sender <>
    #[argh(option, short = 'f')]
    from: Option<String>,
    /// configuration file
    #[argh(option)]
    config: Option<PathBuf>,
    /// data directory
    #[argh(option)]
    data: Option<PathBuf>,
}

#[derive(FromArgs)]
#[argh(subcommand, name = "boards")]
/// List the board profiles built into this binary.
struct Boards {}

fn load(config: &Option<PathBuf>, board: Option<String>, data: &Option<PathBuf>) -> Result<Config, String> {
    Config::load(config.as_deref(), Overrides { board, data_dir: data.clone() }).map_err(|error| error.to_string())
}

fn main() -> ExitCode {
    let arguments: Vec<String> = std::env::args().collect();
    let roost = match parse_arguments(&arguments) {
        Ok(roost) => roost,
        Err(code) => return code,
    };
    let result = match roost.command {
        Command::Serve(arguments) => load(&arguments.config, arguments.board, &arguments.data).and_then(|config| {
            init_logging(config.log_level);
            server::serve(config)
        }),
        Command::User(user) => {
            init_logging(log::LevelFilter::Warn);
            match user.action {
                UserAction::Add(arguments) => load(&arguments.config, None, &arguments.data)
                    .and_then(|config| set_password(&config, &arguments.name, true, arguments.force)),
                UserAction::Passwd(arguments) => load(&arguments.config, None, &arguments.data)
                    .and_then(|config| set_password(&config, &arguments.name, false, arguments.force)),
                UserAction::Del(arguments) => load(&arguments.config, None, &arguments.data)
                    .and_then(|config| delete_user(&config, &arguments.name, arguments.yes)),
                UserAction::List(arguments) => {
                    load(&arguments.config, None, &arguments.data).and_then(|config| list_users(&config))
                }
                UserAction::Device(device) => match device.action {
                    DeviceAction::Add(arguments) => load(&arguments.config, None, &arguments.data)
                        .and_then(|config| add_device(&config, &arguments.name, &arguments.device)),
                    DeviceAction::List(arguments) => load(&arguments.config, None, &arguments.data)
                        .and_then(|config| show(&config, &arguments.name, "device-list", control::devices_text)),
                    DeviceAction::Del(arguments) => load(&arguments.config, None, &arguments.data)
                        .and_then(|config| delete_device(&config, &arguments.name, &arguments.device)),
                },
                UserAction::DeviceOnly(arguments) => load(&arguments.config, None, &arguments.data)
                    .and_then(|config| device_only(&config, &arguments.name, &arguments.setting)),
                UserAction::Log(arguments) => load(&arguments.config, None, &arguments.data)
                    .and_then(|config| show(&config, &arguments.name, "user-log", control::history_text)),
            }
        }
        Command::Ban(ban) => {
            init_logging(log::LevelFilter::Warn);
            match ban.action {
                BanAction::List(arguments) => load(&arguments.config, None, &arguments.data)
                    .and_then(|config| ban_request(&config, &["ban-list"])),
                BanAction::Add(arguments) => load(&arguments.config, None, &arguments.data).and_then(|config| {
                    let target = auth::ban::parse_target(&arguments.address)?.to_string();
                    match &arguments.duration {
                        Some(duration) => {
                            let seconds = auth::ban::parse_duration(duration)?.to_string();
                            ban_request(&config, &["ban-add", &target, &seconds])
                        }
                        None => ban_request(&config, &["ban-add", &target]),
                    }
                }),
                BanAction::Del(arguments) => load(&arguments.config, None, &arguments.data).and_then(|config| {
                    let target = auth::ban::parse_target(&arguments.address)?.to_string();
                    ban_request(&config, &["ban-del", &target])
                }),
            }
        }
        Command::Check(arguments) => {
            init_logging(log::LevelFilter::Warn);
            load(&arguments.config, None, &arguments.data).and_then(|config| check(&config, arguments.repair))
        }
        Command::Deliver(arguments) => {
            init_logging(log::LevelFilter::Warn);
            return deliver(arguments);
        }
        Command::Fingerprint(arguments) => {
            init_logging(log::LevelFilter::Warn);
            load(&arguments.config, None, &arguments.data).and_then(|config| {
                server::create_data_dir(&config)?;
                let (cert, _) = server::tls_paths(&config)?;
                say!("{}  {}", net::tls::fingerprint(&cert)?, cert.display());
                Ok(())
            })
        }
        Command::Boards(_) => {
            for (name, _) in BOARDS {
                match Board::named(name) {
                    Ok(board) => say!("{name:12} {}", board.description),
                    Err(error) => say!("{name:12} (broken: {error})"),
                }
            }
            Ok(())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("roost: {message}");
            ExitCode::FAILURE
        }
    }
}

/// argh's parsing, with sysexits' EX_USAGE for `roost deliver`: an MTA
/// reads its exit code, and a broken command line will not mend by retrying.
fn parse_arguments(arguments: &[String]) -> Result<Roost, ExitCode> {
    let command = arguments
        .first()
        .and_then(|path| std::path::Path::new(path).file_name())
        .and_then(|name| name.to_str())
        .unwrap_or("roost");
    let rest: Vec<&str> = arguments.iter().skip(1).map(String::as_str).collect();
    Roost::from_args(&[command], &rest).map_err(|early| match early.status {
        Ok(()) => {
            print!("{}", early.output);
            ExitCode::SUCCESS
        }
        Err(()) => {
            eprint!("{}", early.output);
            if rest.first() == Some(&"deliver") {
                ExitCode::from(lmtp::deliver::EX_USAGE)
            } else {
                ExitCode::FAILURE
            }
        }
    })
}

/// `roost deliver`: stdin to the running server's LMTP socket.
fn deliver(arguments: Deliver) -> ExitCode {
    let result = load(&arguments.config, None, &arguments.data)
        .map_err(|message| lmtp::deliver::Failure { code: lmtp::deliver::EX_CONFIG, message })
        .and_then(|config| {
            let Some(socket) = &config.lmtp_socket else {
                return Err(lmtp::deliver::Failure {
                    code: lmtp::deliver::EX_USAGE,
                    message: "the LMTP socket is turned off ([lmtp] socket = \"\")".into(),
                });
            };
            let from = arguments.from.as_deref().unwrap_or("");
            lmtp::deliver::deliver(socket, from, &arguments.user, std::io::stdin().lock())
        });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("roost deliver: {}", failure.message);
            ExitCode::from(failure.code)
        }
    }
}

fn init_logging(level: log::LevelFilter) {
    // rustls warns on every connection whose client sends an IP address as
    // its TLS server name (phones set up with the Pi's address do): noise,
    // not news. Its errors still show.
    let _ = simple_logger::SimpleLogger::new()
        .with_level(level)
        .with_module_level("rustls", log::LevelFilter::Error.min(level))
        .env()
        .init();
}

/// Runs a write on the running server (through its control socket) or,
/// when none runs, on the database directly.
fn write(config: &Config, words: &[&str], op: Op) -> Result<String, String> {
    let socket = config.control_socket();
    if control::server_running(&socket) {
        return control::request(&socket, words);
    }
    server::create_data_dir(config)?;
    store::run_offline(&config.database_path(), config.limits.cache_size, config.limits.min_free_disk, async |store| {
        store.execute(op).await.map(|_| String::new())
    })
    .map_err(|error| offline_error(config, error))
}

fn offline_error(config: &Config, error: StoreError) -> String {
    match error {
        StoreError::Locked => format!(
            "{} is held by a running roost whose control socket {} does not answer",
            config.database_path().display(),
            config.control_socket().display()
        ),
        other => other.to_string(),
    }
}

fn set_password(config: &Config, name: &str, new_user: bool, force: bool) -> Result<(), String> {
    let name = auth::normalize_user_name(name)?;
    let password = read_password(&name, new_user)?;
    let minimum = config.limits.min_password_length;
    if password.chars().count() < minimum && !force {
        return Err(format!(
            "a password needs at least {minimum} characters (a few words are easy to type on a phone and hard to guess); --force takes a shorter one"
        ));
    }
    let hash = auth::hash_password(password.as_bytes(), auth::Cost::from_limits(&config.limits))?;
    let (words, op) = if new_user {
        (["user-add", &name, &hash], Op::AddUser { name: name.clone(), password_hash: hash.clone() })
    } else {
        (["user-passwd", &name, &hash], Op::SetPassword { name: name.clone(), password_hash: hash.clone() })
    };
    write(config, &words, op)?;
    if new_user {
        say!("user {name} added, with INBOX, Archive, Drafts, Junk, Sent and Trash");
    } else {
        say!("password of {name} changed");
    }
    Ok(())
}

fn delete_user(config: &Config, name: &str, yes: bool) -> Result<(), String> {
    let name = auth::normalize_user_name(name)?;
    if !yes {
        // Everything the user has goes, with no way back: the name must be
        // typed (or given as the first line of stdin), or --yes passed.
        let stdin = std::io::stdin();
        if stdin.is_terminal() {
            eprint!("Delete user {name} and all of their mail? This cannot be undone. Type the user name to confirm: ");
            let _ = std::io::stderr().flush();
        }
        let mut line = String::new();
        stdin.lock().read_line(&mut line).map_err(|error| format!("cannot read the confirmation: {error}"))?;
        if line.trim() != name {
            return Err(format!("user {name} not deleted: type the user name to confirm, or pass --yes"));
        }
    }
    write(config, &["user-del", &name], Op::DeleteUser { name: name.clone() })?;
    say!("user {name} deleted");
    Ok(())
}

fn add_device(config: &Config, name: &str, device: &str) -> Result<(), String> {
    let name = auth::normalize_user_name(name)?;
    let device = auth::device::check_name(device)?;
    let password = auth::device::generate()?;
    let record = auth::device::record(&password, util::datetime::DateTime::now().unix)?;
    let words = ["device-add", &name, &auth::device::encode_name(&device), &auth::device::encode_record(&record)];
    write(config, &words, Op::AddDevice { user: name.clone(), device: device.clone(), record })?;
    say!("device password for {name} on {device:?}:");
    say!();
    say!("    {password}");
    say!();
    say!("Type it in that device's mail settings as the password (in place of {name}'s own);");
    say!("capitals and dashes do not matter. It is shown only this once: roost keeps only a hash.");
    say!("`roost user device del {name} {device:?}` revokes it.");
    Ok(())
}

fn delete_device(config: &Config, name: &str, device: &str) -> Result<(), String> {
    let name = auth::normalize_user_name(name)?;
    let device = auth::device::check_name(device)?;
    let words = ["device-del", &name, &auth::device::encode_name(&device)];
    write(config, &words, Op::DeleteDevice { user: name.clone(), device: device.clone() })?;
    say!("device password {device:?} of {name} deleted: the next login with it is refused");
    Ok(())
}

fn device_only(config: &Config, name: &str, setting: &str) -> Result<(), String> {
    let name = auth::normalize_user_name(name)?;
    let on = match setting {
        "on" => true,
        "off" => false,
        other => return Err(format!("device-only takes on or off, not {other:?}")),
    };
    write(config, &["device-only", &name, setting], Op::SetDeviceOnly { user: name.clone(), on })?;
    if on {
        say!("{name} now logs in over IMAP with device passwords only (the main password is refused there)");
        let devices = show_text(config, &name, "device-list", control::devices_text)?;
        if devices.starts_with("no device passwords") {
            say!("{name} has no device password yet: add one with `roost user device add {name} NAME`");
        }
    } else {
        say!("{name}'s main password logs in over IMAP again");
    }
    Ok(())
}

/// Prints what a read-only request answers (through the running server,
/// or from the file when none runs).
fn show(
    config: &Config,
    name: &str,
    request: &str,
    read: fn(&store::Reader, &str) -> Result<String, StoreError>,
) -> Result<(), String> {
    let name = auth::normalize_user_name(name)?;
    say!("{}", show_text(config, &name, request, read)?);
    Ok(())
}

fn show_text(
    config: &Config,
    name: &str,
    request: &str,
    read: fn(&store::Reader, &str) -> Result<String, StoreError>,
) -> Result<String, String> {
    let socket = config.control_socket();
    if control::server_running(&socket) {
        return control::request(&socket, &[request, name]);
    }
    if !config.database_path().exists() {
        return Err(StoreError::NoSuchUser.to_string());
    }
    store::run_offline(&config.database_path(), config.limits.cache_size, 0, async |store| read(&store.read()?, name))
        .map_err(|error| offline_error(config, error))
}

fn list_users(config: &Config) -> Result<(), String> {
    let socket = config.control_socket();
    let names = if control::server_running(&socket) {
        control::request(&socket, &["user-list"])?
    } else if !config.database_path().exists() {
        String::new()
    } else {
        store::run_offline(&config.database_path(), config.limits.cache_size, 0, async |store| {
            let users = store.read()?.users()?;
            Ok(users.into_iter().map(|(name, _)| name).collect::<Vec<_>>().join("\n"))
        })
        .map_err(|error| offline_error(config, error))?
    };
    if !names.is_empty() {
        say!("{names}");
    }
    Ok(())
}

/// Bans live in the running server (it checks them at every connect), so
/// `roost ban` needs it running.
fn ban_request(config: &Config, words: &[&str]) -> Result<(), String> {
    let socket = config.control_socket();
    if !control::server_running(&socket) {
        return Err(format!("the server is not running (no answer on {}); bans are kept by it", socket.display()));
    }
    say!("{}", control::request(&socket, words)?);
    Ok(())
}

fn check(config: &Config, repair: bool) -> Result<(), String> {
    let socket = config.control_socket();
    if control::server_running(&socket) {
        let text = control::request(&socket, &["check"])?;
        say!("{text}");
        return if text.ends_with("DAMAGED") { Err("the database is damaged".into()) } else { Ok(()) };
    }
    let path = config.database_path();
    if !path.exists() {
        return Err(format!("no database at {}", path.display()));
    }
    let report = store::check_offline(&path, config.limits.cache_size, repair).map_err(|error| match error {
        StoreError::Locked => "the database is held by another roost process".to_string(),
        StoreError::NeedsRepair => format!(
            "{} was not closed cleanly (power cut or kill); run `roost check --repair`, \
             or start `roost serve`, which repairs it in a moment",
            path.display()
        ),
        other => other.to_string(),
    })?;
    say!("{}", report.summary());
    if report.is_clean() {
        Ok(())
    } else {
        Err("the database is damaged".into())
    }
}

/// Reads a password: twice at a terminal prompt (without echo), or the
/// first line of stdin when piped.
fn read_password(name: &str, confirm: bool) -> Result<String, String> {
    let stdin = std::io::stdin();
    let password = if stdin.is_terminal() {
        let first = prompt(&format!("password for {name}: "))?;
        if confirm {
            let second = prompt("again: ")?;
            if first != second {
                return Err("the passwords differ".into());
            }
        }
        first
    } else {
        let mut line = String::new();
        stdin.lock().read_line(&mut line).map_err(|error| format!("cannot read the password: {error}"))?;
        line.trim_end_matches(['\r', '\n']).to_string()
    };
    if password.is_empty() {
        return Err("the password is empty".into());
    }
    Ok(password)
}

fn prompt(text: &str) -> Result<String, String> {
    let stty = |argument: &str| {
        std::process::Command::new("stty").arg(argument).stdin(std::process::Stdio::inherit()).status()
    };
    eprint!("{text}");
    let _ = std::io::stderr().flush();
    let hidden = stty("-echo").is_ok_and(|status| status.success());
    let mut line = String::new();
    let read = std::io::stdin().lock().read_line(&mut line);
    if hidden {
        let _ = stty("echo");
        eprintln!();
    }
    read.map_err(|error| format!("cannot read the password: {error}"))?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}
