//! The administration commands behind the CLI (`roost user ...`, `roost
//! ban ...`, `roost check`, `roost export`, `roost deliver`, `roost
//! fingerprint`, `roost client-profile`, `roost boards`, `roost serve`): what `src/main.rs`
//! calls once argh has parsed the command line.
//!
//! A command that changes data goes through the running server's control
//! socket (`control`) when one answers, and opens the database
//! itself only when none runs (the store allows one process).
//!
//! May use: every layer below it (`config`, `auth`, `store`, `control`,
//! `lmtp::deliver`, `net::tls`, `server`). Nothing in the crate uses it.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::config::{Board, Config, Overrides, BOARDS};
use crate::store::{Op, StoreError};
use crate::{auth, control, lmtp, server, store, util};

/// sysexits.h's EX_USAGE, which `roost deliver` returns for a broken
/// command line (an MTA reads the exit code).
pub use crate::lmtp::deliver::EX_USAGE;

/// What `roost client-profile` is asked for.
pub use crate::client_profile::Request as ClientProfileRequest;

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

/// The configuration: the file (if any), then `--board` and `--data`.
pub fn load(config: &Option<PathBuf>, board: Option<String>, data: &Option<PathBuf>) -> Result<Config, String> {
    let installed = Path::new(INSTALLED_CONFIG);
    let config = default_config(config.as_deref(), data.as_deref(), installed.is_file().then_some(installed));
    let config =
        Config::load(config, Overrides { board, data_dir: data.clone() }).map_err(|error| error.to_string())?;
    // A command that opens the store offline keeps (or drops) the search
    // index as the server would: the store reconciles it on opening.
    crate::store::fts::set_search_index(config.limits.search_index);
    Ok(config)
}

/// Where the package and `roost setup` put the configuration.
pub const INSTALLED_CONFIG: &str = "/etc/roost/roost.toml";

/// The configuration file a command reads: the one given, else the
/// installed one when it exists and no `--data` says otherwise (so on a Pi
/// `sudo roost user add alice` finds the service's configuration, as
/// `doveadm` finds Dovecot's), else none (the built-in defaults:
/// `./roost-data`, loopback ports).
fn default_config<'a>(given: Option<&'a Path>, data: Option<&Path>, installed: Option<&'a Path>) -> Option<&'a Path> {
    match (given, data) {
        (Some(path), _) => Some(path),
        (None, None) => installed,
        (None, Some(_)) => None,
    }
}

/// `roost serve`: runs the server until SIGTERM or SIGINT.
pub fn serve(
    config: &Option<PathBuf>,
    board: Option<String>,
    data: &Option<PathBuf>,
    ports_file: Option<&std::path::Path>,
) -> Result<(), String> {
    let config = load(config, board, data)?;
    init_logging(config.log_level);
    server::serve(config, ports_file)
}

/// Logging for the commands other than `serve`: warnings and errors only.
pub fn init_command_logging() {
    init_logging(log::LevelFilter::Warn);
}

/// `roost fingerprint`: the certificate's SHA-256 (made first if missing).
pub fn fingerprint(config: &Config) -> Result<(), String> {
    server::create_data_dir(config)?;
    let (cert, _) = server::tls_paths(config)?;
    say!("{}  {}", crate::net::tls::fingerprint(&cert)?, cert.display());
    Ok(())
}

/// What `roost setup` was told (see `crate::setup`).
pub use crate::setup::Options as SetupOptions;

/// `roost setup`: first run on the LAN (see `crate::setup`).
pub fn setup(options: SetupOptions) -> Result<(), String> {
    crate::setup::run(options)
}

/// `roost status`: 0 running, 3 not running, 4 unknown (LSB's codes).
pub fn status(config: &Option<PathBuf>, data: &Option<PathBuf>) -> ExitCode {
    match load(config, None, data).and_then(|config| crate::status::run(&config)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(crate::status::EXIT_NOT_RUNNING),
        Err(message) => {
            eprintln!("roost: {message}");
            ExitCode::from(crate::status::EXIT_UNKNOWN)
        }
    }
}

/// `roost boards`: the profiles built into this binary.
pub fn boards() -> Result<(), String> {
    for (name, _) in BOARDS {
        match Board::named(name) {
            Ok(board) => say!("{name:12} {}", board.description),
            Err(error) => say!("{name:12} (broken: {error})"),
        }
    }
    Ok(())
}

/// `roost ban list`.
pub fn ban_list(config: &Config) -> Result<(), String> {
    ban_request(config, &["ban-list"])
}

/// `roost ban add ADDRESS [--for DURATION]`.
pub fn ban_add(config: &Config, address: &str, duration: Option<&str>) -> Result<(), String> {
    let target = auth::ban::parse_target(address)?.to_string();
    match duration {
        Some(duration) => {
            let seconds = auth::ban::parse_duration(duration)?.to_string();
            ban_request(config, &["ban-add", &target, &seconds])
        }
        None => ban_request(config, &["ban-add", &target]),
    }
}

/// `roost reindex [--user NAME] [--wait]`: queues stored mail for the
/// search index, through the running server (which indexes it in the
/// background, resuming after a restart); with `wait`, shows the count
/// going down until none waits. With no server running, the mail is
/// queued in the file and indexed once the server starts.
pub fn reindex(config: &Config, user: Option<&str>, wait: bool) -> Result<(), String> {
    if !config.limits.search_index {
        return Err("the search index is off (board or [limits] search_index = false): nothing to build".into());
    }
    let user = user.map(auth::normalize_user_name).transpose()?;
    let socket = config.control_socket();
    if !control::server_running(&socket) {
        let path = config.database_path();
        if !path.exists() {
            return Err(format!("no database at {}", path.display()));
        }
        let waiting = store::run_offline(&path, config.limits.cache_size, 0, async |store| {
            let id = match &user {
                Some(name) => Some(store.read()?.user(name)?.ok_or(StoreError::NoSuchUser)?.id),
                None => None,
            };
            store.execute(Op::FtsEnqueue { user: id }).await?;
            Ok(store.read()?.fts_counts()?.0)
        })
        .map_err(|error| offline_error(config, error))?;
        say!("{waiting} message(s) queued; the server indexes them when it starts");
        return Ok(());
    }
    let waiting = control::request(&socket, &["reindex", user.as_deref().unwrap_or("*")])?;
    say!("{waiting} message(s) waiting for the search index");
    if !wait {
        say!("the server indexes them in the background (`roost status` shows how many still wait)");
        return Ok(());
    }
    let mut last = waiting;
    loop {
        std::thread::sleep(std::time::Duration::from_millis(500));
        let now = control::request(&socket, &["reindex-waiting"])?;
        if now == "0" {
            say!("search index complete");
            return Ok(());
        }
        if now != last {
            say!("{now} waiting");
            last = now;
        }
    }
}

/// `roost ban del ADDRESS`.
pub fn ban_del(config: &Config, address: &str) -> Result<(), String> {
    let target = auth::ban::parse_target(address)?.to_string();
    ban_request(config, &["ban-del", &target])
}

/// `roost user device list NAME`.
pub fn list_devices(config: &Config, name: &str) -> Result<(), String> {
    show(config, name, "device-list", control::devices_text)
}

/// `roost user log NAME`.
pub fn user_log(config: &Config, name: &str) -> Result<(), String> {
    show(config, name, "user-log", control::history_text)
}

/// What `roost user quota` was asked to change.
pub struct QuotaChange<'a> {
    pub storage: Option<&'a str>,
    pub messages: Option<u64>,
    /// The limits not given go back to the `[quota]` defaults.
    pub default: bool,
}

/// `roost user quota NAME [--storage SIZE] [--messages N] [--default]`:
/// shows the user's usage and limits, after changing them if asked.
pub fn user_quota(config: &Config, name: &str, change: &QuotaChange) -> Result<(), String> {
    use store::quota::Setting;
    let name = auth::normalize_user_name(name)?;
    let unchanged = if change.default { Setting::Default } else { Setting::Keep };
    let storage = match change.storage {
        Some(text) => Setting::To(store::quota::parse_size(text).map_err(|problem| format!("--storage: {problem}"))?),
        None => unchanged,
    };
    let messages = change.messages.map_or(unchanged, Setting::To);
    let setting = storage != Setting::Keep || messages != Setting::Keep;
    let socket = config.control_socket();
    let text = if control::server_running(&socket) {
        if setting {
            let (storage, messages) = (control::quota::word(storage), control::quota::word(messages));
            control::request(&socket, &["quota-set", &name, &storage, &messages])?
        } else {
            control::request(&socket, &["quota-show", &name])?
        }
    } else {
        if !config.database_path().exists() {
            return Err(StoreError::NoSuchUser.to_string());
        }
        let settings = config.quota.settings.clone();
        store::quota::configure(settings.clone());
        let reserve = if setting { config.limits.min_free_disk } else { 0 };
        store::run_offline(&config.database_path(), config.limits.cache_size, reserve, async |store| {
            if setting {
                store.execute(Op::SetQuota { name: name.clone(), storage, messages }).await?;
            }
            Ok(control::quota::show(&store.read()?, &name, &settings))
        })
        .map_err(|error| offline_error(config, error))??
    };
    say!("{text}");
    Ok(())
}

/// `roost deliver`: stdin to the running server's LMTP socket.
pub fn deliver(
    config: &Option<PathBuf>,
    data: &Option<PathBuf>,
    user: Option<&str>,
    mailbox: Option<&str>,
    from: Option<&str>,
) -> ExitCode {
    let result = load(config, None, data)
        .map_err(|message| lmtp::deliver::Failure { code: lmtp::deliver::EX_CONFIG, message })
        .and_then(|config| {
            let Some(socket) = &config.lmtp_socket else {
                return Err(lmtp::deliver::Failure {
                    code: lmtp::deliver::EX_USAGE,
                    message: "the LMTP socket is turned off ([lmtp] socket = \"\")".into(),
                });
            };
            lmtp::deliver::deliver(socket, from, user, mailbox, std::io::stdin().lock())
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
    store::set_ballast_size(config.limits.disk_ballast);
    store::run_offline(&config.database_path(), config.limits.cache_size, config.limits.min_free_disk, async |store| {
        store.execute(op).await.map(|()| String::new())
    })
    .map_err(|error| offline_error(config, error))
}

/// When the control socket exists but this user may not open it (a
/// running server's, in its 0700 data directory): what to do instead.
fn control_denied(config: &Config) -> Option<String> {
    let socket = config.control_socket();
    let error = std::os::unix::net::UnixStream::connect(&socket).err()?;
    (error.kind() == std::io::ErrorKind::PermissionDenied).then(|| {
        format!(
            "permission denied on the control socket {} ({error}): run this as the server's user \
             (`sudo -u roost roost ...`) or as root",
            socket.display()
        )
    })
}

fn offline_error(config: &Config, error: StoreError) -> String {
    if let Some(denied) = control_denied(config) {
        return denied;
    }
    match error {
        StoreError::Locked => format!(
            "{} is held by a running roost whose control socket {} does not answer",
            config.database_path().display(),
            config.control_socket().display()
        ),
        other => other.to_string(),
    }
}

/// `roost user add NAME` (`new_user`) and `roost user passwd NAME`.
pub fn set_password(config: &Config, name: &str, new_user: bool, force: bool) -> Result<(), String> {
    let name = auth::normalize_user_name(name)?;
    // RFC 4314 §2: in an ACL, `anyone` (and roost's `authenticated`) name
    // everybody and a leading `-` a negative right, so no user may be
    // called so. Only new names are refused: a login never is.
    if new_user && (name == "anyone" || name == "authenticated" || name.starts_with('-')) {
        return Err(format!(
            "{name:?} cannot be a user name: shared-folder rights use it (anyone, authenticated, or a leading -)"
        ));
    }
    let password = read_password(&name, new_user)?;
    store_password(config, &name, new_user, force, &password)
}

/// The rest of [`set_password`], once the password is read (also `roost
/// setup`'s first user). `name` is normalised.
pub(crate) fn store_password(
    config: &Config,
    name: &str,
    new_user: bool,
    force: bool,
    password: &str,
) -> Result<(), String> {
    let name = name.to_string();
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

/// `roost user del NAME`.
pub fn delete_user(config: &Config, name: &str, yes: bool) -> Result<(), String> {
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

/// `roost user device add NAME DEVICE`.
pub fn add_device(config: &Config, name: &str, device: &str) -> Result<(), String> {
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

/// `roost user device del NAME DEVICE`.
pub fn delete_device(config: &Config, name: &str, device: &str) -> Result<(), String> {
    let name = auth::normalize_user_name(name)?;
    let device = auth::device::check_name(device)?;
    let words = ["device-del", &name, &auth::device::encode_name(&device)];
    write(config, &words, Op::DeleteDevice { user: name.clone(), device: device.clone() })?;
    say!("device password {device:?} of {name} deleted: the next login with it is refused");
    Ok(())
}

/// `roost user device-only NAME on|off`.
pub fn device_only(config: &Config, name: &str, setting: &str) -> Result<(), String> {
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

/// `roost user list`.
pub fn list_users(config: &Config) -> Result<(), String> {
    let names = user_names(config)?;
    if !names.is_empty() {
        say!("{}", names.join("\n"));
    }
    Ok(())
}

/// The users' names, from the running server or from the file when none runs.
pub(crate) fn user_names(config: &Config) -> Result<Vec<String>, String> {
    let socket = config.control_socket();
    // Not "no users": the data directory is closed to this user.
    if let Some(denied) = control_denied(config) {
        return Err(denied);
    }
    if control::server_running(&socket) {
        let text = control::request(&socket, &["user-list"])?;
        Ok(text.lines().filter(|line| !line.is_empty()).map(str::to_string).collect())
    } else if !config.database_path().exists() {
        Ok(Vec::new())
    } else {
        store::run_offline(&config.database_path(), config.limits.cache_size, 0, async |store| {
            let users = store.read()?.users()?;
            Ok(users.into_iter().map(|(name, _)| name).collect())
        })
        .map_err(|error| offline_error(config, error))
    }
}

/// `roost client-profile NAME`: the Apple profile and Thunderbird's
/// autoconfig for a user (see `crate::client_profile`).
pub fn client_profile(config: &Config, request: &crate::client_profile::Request) -> Result<(), String> {
    server::create_data_dir(config)?;
    let users = user_names(config)?;
    say!("{}", crate::client_profile::run(config, request, &users)?);
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

/// `roost share list`.
pub fn share_list(config: &Config) -> Result<(), String> {
    running_request(config, &["share-list"], "shares are changed")
}

/// `roost share add [--public] [OWNER] MAILBOX WHO RIGHTS` (`add`) and
/// `roost share del [--public] [OWNER] MAILBOX WHO`.
pub fn share_set(config: &Config, public: bool, words: &[String], add: bool) -> Result<(), String> {
    let wanted = usize::from(!public) + 2 + usize::from(add);
    if words.len() != wanted {
        let usage = match (public, add) {
            (false, true) => "OWNER MAILBOX WHO RIGHTS",
            (true, true) => "--public MAILBOX WHO RIGHTS",
            (false, false) => "OWNER MAILBOX WHO",
            (true, false) => "--public MAILBOX WHO",
        };
        return Err(format!("expected {usage}"));
    }
    let (owner, rest) = if public {
        (control::share::PUBLIC.to_string(), words)
    } else {
        (auth::normalize_user_name(&words[0])?, &words[1..])
    };
    // Family/Bills and Bills both name the public Bills.
    let mailbox = if public {
        rest[0].strip_prefix(crate::imap::namespace::PUBLIC).and_then(|name| name.strip_prefix('/')).unwrap_or(&rest[0])
    } else {
        &rest[0]
    };
    let mailbox = crate::util::base64::encode_unpadded(mailbox.as_bytes());
    let mut request =
        vec![if add { "share-set" } else { "share-del" }, owner.as_str(), mailbox.as_str(), rest[1].as_str()];
    if add {
        request.push(rest[2].as_str());
    }
    running_request(config, &request, "shares are changed")
}

/// `roost public create NAME [--for WHO:RIGHTS]...`: `Family/NAME`, with
/// the configured default ACL changed by each `--for`.
pub fn public_create(config: &Config, name: &str, grants: &[String]) -> Result<(), String> {
    // Checked here too, so a typo is reported before the request goes out.
    crate::config::parse_grants(&grants.join(" "))?;
    let name = public_name(name)?;
    let mut request = vec!["public-create", name.as_str()];
    request.extend(grants.iter().map(String::as_str));
    running_request(config, &request, "public mailboxes are created")
}

/// `roost public del NAME`.
pub fn public_delete(config: &Config, name: &str) -> Result<(), String> {
    let name = public_name(name)?;
    running_request(config, &["public-del", &name], "public mailboxes are deleted")
}

/// `roost public list`.
pub fn public_list(config: &Config) -> Result<(), String> {
    running_request(config, &["public-list"], "public mailboxes are listed")
}

/// A public mailbox's name for a request: `Family/Bills` and `Bills` alike.
fn public_name(name: &str) -> Result<String, String> {
    let name =
        name.strip_prefix(crate::imap::namespace::PUBLIC).and_then(|rest| rest.strip_prefix('/')).unwrap_or(name);
    if name.is_empty() {
        return Err("a public mailbox needs a name".into());
    }
    Ok(crate::util::base64::encode_unpadded(name.as_bytes()))
}

/// A request only the running server answers: says so when none runs.
fn running_request(config: &Config, words: &[&str], what: &str) -> Result<(), String> {
    let socket = config.control_socket();
    if !control::server_running(&socket) {
        return Err(format!("the server is not running (no answer on {}); {what} through it", socket.display()));
    }
    say!("{}", control::request(&socket, words)?);
    Ok(())
}

/// `roost import --user USER (--maildir DIR | --mbox PATH) [--into NAME]`
/// (see `crate::import`).
pub fn import(
    config: &Config,
    user: &str,
    maildir: Option<PathBuf>,
    mbox: Option<PathBuf>,
    into: Option<String>,
) -> Result<(), String> {
    let source = match (maildir, mbox) {
        (Some(path), None) => crate::import::Source::Maildir(path),
        (None, Some(path)) => crate::import::Source::Mbox(path),
        _ => return Err("give one of --maildir DIR and --mbox FILE_OR_DIR".into()),
    };
    say!("{}", crate::import::run(config, user, source, into.as_deref())?);
    Ok(())
}

/// `roost export --user NAME --maildir DIR | --mbox DIR`: through the
/// running server (its export thread), or from the file when none runs.
pub fn export(config: &Config, user: &str, maildir: Option<PathBuf>, mbox: Option<PathBuf>) -> Result<(), String> {
    let user = auth::normalize_user_name(user)?;
    let (format, dir) = match (maildir, mbox) {
        (Some(dir), None) => (crate::export::Format::Maildir, dir),
        (None, Some(dir)) => (crate::export::Format::Mbox, dir),
        _ => return Err("give one of --maildir DIR and --mbox DIR".into()),
    };
    // The server may run in another directory: it is handed an absolute path.
    let dir = std::path::absolute(&dir).map_err(|error| format!("{}: {error}", dir.display()))?;
    let socket = config.control_socket();
    if control::server_running(&socket) {
        let encoded = util::base64::encode_unpadded(dir.as_os_str().as_encoded_bytes());
        say!("{}", control::request(&socket, &["export", &user, format.word(), &encoded])?);
        return Ok(());
    }
    if !config.database_path().exists() {
        return Err(format!("no database at {}", config.database_path().display()));
    }
    let summary =
        store::run_offline(&config.database_path(), config.limits.cache_size, 0, async |store| Ok(store.snapshot()))
            .map_err(|error| offline_error(config, error))
            .and_then(|snapshot| crate::export::run(snapshot, &user, &dir, format))?;
    say!("{}", summary.text(&user, &dir, format));
    Ok(())
}

/// `roost check [--repair]`.
pub fn check(config: &Config, repair: bool) -> Result<(), String> {
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
        StoreError::OtherLayout(_) => format!(
            "{} was written by an older roost, in a layout this one moves it out of when it opens it for \
             writing: run `roost check --repair`, or start `roost serve`, which does it in a moment",
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

/// `roost backup [DEST]`: through the running server, or from the file
/// when none runs (see `store::backup`). DEST defaults to `[backup] dir`.
pub fn backup(config: &Config, dest: Option<&std::path::Path>) -> Result<(), String> {
    let dest = match (dest, &config.backup.dir) {
        (Some(dest), _) => {
            // A trailing slash means a directory: never a file of that name.
            if dest.as_os_str().to_string_lossy().ends_with('/') {
                crate::backup::require_directory(dest)?;
            }
            dest
        }
        (None, Some(dir)) => {
            crate::backup::require_directory(dir)?;
            dir
        }
        (None, None) => {
            return Err("where to? give a file or directory, or set [backup] dir in the configuration".into())
        }
    };
    let dest = std::path::absolute(dest).map_err(|error| format!("{}: {error}", dest.display()))?;
    let socket = config.control_socket();
    if control::server_running(&socket) {
        let words = control::backup::request_words(&dest);
        say!("{}", control::request(&socket, &[words[0].as_str(), words[1].as_str()])?);
        return Ok(());
    }
    let path = config.database_path();
    if !path.exists() {
        return Err(format!("no database at {}", path.display()));
    }
    let dest = crate::backup::destination(&dest, util::datetime::DateTime::now().unix)?;
    let backup = store::backup::backup_offline(&path, &dest, config.limits.cache_size)
        .map_err(|error| stopped_error(config, error))?;
    say!("{}", backup.summary());
    Ok(())
}

/// `roost restore SRC`: only with the server stopped.
pub fn restore(config: &Config, source: &std::path::Path) -> Result<(), String> {
    let socket = config.control_socket();
    if control::server_running(&socket) {
        return Err(format!(
            "the server is running (it answers on {}): stop it first (e.g. `systemctl stop roost`), restore, then start it",
            socket.display()
        ));
    }
    server::create_data_dir(config)?;
    let live = config.database_path();
    let stamp = crate::backup::stamp(util::datetime::DateTime::now().unix);
    let restored = store::backup::restore(source, &live, config.limits.cache_size, &stamp)
        .map_err(|error| stopped_error(config, error))?;
    say!("restored {} from {}: {}", live.display(), source.display(), restored.report.summary().replace('\n', "; "));
    match restored.kept {
        Some(kept) => say!("the database it replaced is kept as {} (delete it once all is well)", kept.display()),
        None => say!("there was no database before"),
    }
    Ok(())
}

/// [`offline_error`], and a file needing repair named as `roost check` does.
fn stopped_error(config: &Config, error: StoreError) -> String {
    match error {
        StoreError::NeedsRepair => format!(
            "{} was not closed cleanly (power cut or kill); run `roost check --repair` first",
            config.database_path().display()
        ),
        other => offline_error(config, other),
    }
}

/// Reads a password: twice at a terminal prompt (without echo), or the
/// first line of stdin when piped.
pub(crate) fn read_password(name: &str, confirm: bool) -> Result<String, String> {
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

pub(crate) fn prompt(text: &str) -> Result<String, String> {
    let stty = |argument: &str| {
        std::process::Command::new("stty").arg(argument).stdin(std::process::Stdio::inherit()).status()
    };
    // Echo off before the prompt shows: a password typed or pasted the
    // moment the prompt appears must not be echoed.
    let hidden = stty("-echo").is_ok_and(|status| status.success());
    eprint!("{text}");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    let read = std::io::stdin().lock().read_line(&mut line);
    if hidden {
        let _ = stty("echo");
        eprintln!();
    }
    read.map_err(|error| format!("cannot read the password: {error}"))?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_installed_configuration_is_the_default_unless_told_otherwise() {
        let installed = Path::new(INSTALLED_CONFIG);
        let given = Some(Path::new("/tmp/mine.toml"));
        let data = Some(Path::new("/tmp/data"));
        assert_eq!(default_config(given, None, Some(installed)), given);
        assert_eq!(default_config(given, data, Some(installed)), given);
        assert_eq!(default_config(None, None, Some(installed)), Some(installed));
        // --data alone: a scratch server of one's own, not the service's settings.
        assert_eq!(default_config(None, data, Some(installed)), None);
        assert_eq!(default_config(None, None, None), None);
    }
}
