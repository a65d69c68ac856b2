//! Configuration: a board profile (limits tuned to the hardware) plus an
//! optional config file that can override any of it.
//!
//! Every board profile under `boards/` is compiled into the binary, so a
//! flashed roost needs no files besides its own to start.
//!
//! Family folders (issue 15) add two settings, the same on every board
//! (they cost no memory):
//! - `[acl] public_default_rights`: the ACL `roost public create` gives a
//!   new `Family/` mailbox, as `WHO:RIGHTS` entries separated by spaces
//!   (WHO a user, `anyone`, `authenticated`, or any of them with a leading
//!   `-` for a negative entry; RIGHTS RFC 4314 letters, `c` and `d`
//!   included). Default `"authenticated:lrs"`: every family member may
//!   list and read it and keep their own \Seen; nobody may file into it
//!   until the admin says so (`--for`, `roost share add --public`).
//!   Checked at start: a typo must not create mailboxes with other rights.
//! - `[[lmtp.route]]`, one table per route, `address` and `mailbox`: LMTP
//!   delivers mail for that address into that mailbox (`Family/Bills`,
//!   or `Shared/mom/School` for mom's School), when the mailbox grants
//!   `anyone` the `p` right (`lmtp::session`). An address with `@`
//!   matches that address; one without, that local part at any domain;
//!   both case-insensitively, after a recipient's `+detail` is dropped.

pub mod toml;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use self::toml::Value;
use crate::mail::rights::{grantable, Identifier, Rights, Subject};
use crate::util::address::Prefixes;

/// The board profiles, embedded: (name, file text).
pub const BOARDS: &[(&str, &str)] = &[
    ("generic", include_str!("../../boards/generic.toml")),
    ("rpi-zero", include_str!("../../boards/rpi-zero.toml")),
    ("rpi-zero2w", include_str!("../../boards/rpi-zero2w.toml")),
    ("rpi3", include_str!("../../boards/rpi3.toml")),
    ("rpi4", include_str!("../../boards/rpi4.toml")),
    ("rpi5", include_str!("../../boards/rpi5.toml")),
];

/// Resource limits. Every per-connection buffer and every cap the server
/// enforces comes from here, never from a constant in the code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    pub max_connections: usize,
    pub max_connections_per_user: usize,
    pub max_connections_per_ip: usize,
    /// Connections not logged in yet, in all (the rest of max_connections
    /// is kept for logged-in sessions) and from one address (IPv6: one /64).
    pub max_preauth_connections: usize,
    pub max_preauth_per_ip: usize,
    /// Longest command (line plus literals) before logging in: what a
    /// stranger can make the server buffer.
    pub preauth_line_length: usize,
    /// Clients no connection limit applies to (addresses or CIDR prefixes).
    pub never_limit: Prefixes,
    /// Longest command line, literals of non-APPEND commands included.
    pub line_length: usize,
    /// Largest message accepted (advertised as APPENDLIMIT).
    pub literal_size: u64,
    /// Bytes read from a socket at a time.
    pub read_buffer: usize,
    /// Bytes of responses gathered before a write to the socket.
    pub write_buffer: usize,
    /// Bytes of an incoming message handed to the store at a time.
    pub append_chunk: usize,
    /// The database's page cache.
    pub cache_size: usize,
    /// Bytes of UID lists kept for mailboxes no session has selected, so
    /// selecting a recently used mailbox again is immediate.
    pub mailbox_cache: usize,
    pub argon2_memory_kib: u32,
    pub argon2_iterations: u32,
    pub argon2_parallelism: u32,
    /// Passwords verified at once (each takes argon2_memory_kib while it
    /// runs, returned after).
    pub auth_threads: u32,
    /// Password checks waiting for a thread, in all and from one address.
    pub auth_queue: usize,
    pub auth_queue_per_ip: usize,
    /// Threads for CPU work taken off the session executor (SORT's sort,
    /// THREAD's tree); see `util::pool`.
    pub workers: u32,
    /// Seconds a verified login is remembered, so a client logging in again
    /// with the same password skips argon2 (0: never); see `auth::LoginCache`.
    pub auth_cache_seconds: u64,
    /// Logins remembered at most (48 bytes each).
    pub auth_cache_entries: usize,
    /// Shortest password `roost user add|passwd` accepts without --force.
    pub min_password_length: usize,
    /// Seconds a connection may take to log in.
    pub login_timeout: u64,
    /// The shortest the login deadline becomes when pre-auth slots are scarce.
    pub min_login_timeout: u64,
    /// Seconds a TLS handshake may take (port 993 and STARTTLS).
    pub tls_handshake_timeout: u64,
    /// Seconds of silence before a logged-in client is logged out
    /// (RFC 3501 §5.4: at least 30 minutes).
    pub idle_timeout: u64,
    /// Seconds a client may take to read one write buffer of output; one
    /// that does not is disconnected (it holds no snapshot meanwhile, but
    /// its session and buffers).
    pub write_timeout: u64,
    /// Seconds between `* OK Still here` lines to an idling client (0: none),
    /// so NAT routers and phones' radios do not drop a quiet connection.
    pub idle_keepalive: u64,
    /// Sessions that may use COMPRESS=DEFLATE (RFC 4978) at once (0: not
    /// offered). Each holds a 42 KiB inflater while compressed, and 312 KiB
    /// more while a response is going out (src/net/compress.rs).
    pub max_compressed_connections: usize,
    /// DEFLATE level for what the server sends compressed, 1 (fastest) to
    /// 9; memory is the same at every level.
    pub compress_level: u8,
    /// Searches a session may keep live at once (RFC 5267 RETURN (UPDATE);
    /// at least 1). Each keeps its matches, at most 8 bytes a message of
    /// the selected mailbox (src/imap/command/context.rs).
    pub search_updates: usize,
    /// Milliseconds before a failed login is answered.
    pub auth_failure_delay: u64,
    /// Failed logins from one address (IPv6: one /64) within `ban_window`
    /// seconds that ban it (0: no automatic bans); see `auth::ban`.
    pub ban_failures: u32,
    pub ban_window: u64,
    /// Seconds of a first ban, doubled on each repeat up to
    /// `ban_max_seconds` (also how long an ended ban is remembered).
    pub ban_seconds: u64,
    pub ban_max_seconds: u64,
    /// Addresses whose failures are counted at most, and bans held at most.
    pub ban_tracked: usize,
    /// Addresses and CIDR prefixes never banned automatically.
    pub never_ban: Prefixes,
    /// Bytes of disk kept free: below it, new mail is refused (OVERQUOTA)
    /// before the database could run out of space mid-commit.
    pub min_free_disk: u64,
    /// Bytes of disk held in a ballast file beside the database, released
    /// so that deleting mail works when the disk is completely full (see
    /// `store::ballast`); 0: none.
    pub disk_ballast: u64,
    /// Expunged UIDs remembered per mailbox for QRESYNC (RFC 7162).
    pub expunge_history: u32,
    /// Entries of login history kept per user (`auth::history`).
    pub login_history: u32,
    /// Account protection (`auth::protect`): failed logins for one account
    /// name, from addresses it never logged in from, within `lock_window`
    /// seconds that lock it against such addresses for `lock_seconds`
    /// (0 failures: off). At most `lock_accounts` names are watched at once.
    pub lock_failures: u32,
    pub lock_window: u64,
    pub lock_seconds: u64,
    pub lock_accounts: usize,
    /// Whether the full-text index of SEARCH BODY/TEXT is kept (`fts`).
    pub search_index: bool,
    /// Bytes of memory the indexer's segment being built may hold.
    pub search_index_memory: usize,
}

/// Notices delivered into users' INBOXes (`crate::alert`): the `[alerts]` table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Alerts {
    /// On unless `enabled = false`.
    pub enabled: bool,
    /// A user who gets a copy of every alert (the one who runs the server).
    pub admin: Option<String>,
}

/// Scheduled backups (`crate::backup`): the `[backup]` table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Backups {
    /// Where scheduled backups go, and `roost backup` without a
    /// destination (a USB disk's mount point, say). None: not set.
    pub dir: Option<PathBuf>,
    /// Seconds between scheduled backups ("1d", "12h", "30m", "2s");
    /// None (the default, or "off"): no schedule.
    pub every: Option<u64>,
    /// Scheduled backups kept in `dir`; older ones are removed once a new
    /// one is verified. Default 7.
    pub keep: usize,
}

impl Default for Backups {
    fn default() -> Backups {
        Backups { dir: None, every: None, keep: 7 }
    }
}

/// The `[quota]` table (RFC 9208, `store::quota`). Not in the board
/// profiles: how much mail a family keeps depends on the disk (an SD
/// card of 16 GB or a USB disk of 2 TB), which no board profile knows,
/// and `[limits] min_free_disk` already keeps the disk itself from
/// filling; so every limit is off (0) until the administrator sets one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Quota {
    /// `storage`, `messages`, `household_storage`, `household_messages`
    /// and `warn` (default `[80, 95]`), as the store enforces them.
    pub settings: crate::store::quota::Settings,
    /// `lmtp_over_quota`: "permanent" (552 5.2.2, the default: the MTA
    /// bounces at once and the sender learns it) or "temporary" (452
    /// 4.2.2: the MTA keeps retrying while the user makes room).
    pub lmtp_permanent: bool,
    /// Users allowed SETQUOTA (default: `[alerts] admin`, if set).
    pub admins: Vec<String>,
}

impl Quota {
    fn parse(section: &mut Section, alert_admin: Option<&String>) -> Result<Quota, ConfigError> {
        let mut size = |key: &'static str| -> Result<u64, ConfigError> {
            match section.value(key) {
                None => Ok(0),
                Some(Value::Integer(number)) if *number >= 0 => Ok(*number as u64),
                Some(Value::String(text)) => crate::store::quota::parse_size(text)
                    .map_err(|problem| error(format!("{}: {problem}", section.place(key)))),
                Some(_) => {
                    Err(error(format!("{}: expected a size like \"2G\" or \"500M\" (0: no limit)", section.place(key))))
                }
            }
        };
        let storage = size("storage")?;
        let household_storage = size("household_storage")?;
        let messages = section.integer("messages")?.unwrap_or(0);
        let household_messages = section.integer("household_messages")?.unwrap_or(0);
        let warn = match section.value("warn") {
            None => vec![80, 95],
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| match item {
                    Value::Integer(level) if (1..=100).contains(level) => Ok(*level as u8),
                    _ => Err(error(format!("{}: expected percentages from 1 to 100", section.place("warn")))),
                })
                .collect::<Result<Vec<u8>, _>>()?,
            Some(_) => return Err(error(format!("{}: expected an array like [80, 95]", section.place("warn")))),
        };
        let lmtp_permanent = match section.string("lmtp_over_quota")?.as_deref() {
            None | Some("permanent") => true,
            Some("temporary") => false,
            Some(other) => {
                return Err(error(format!(
                    "{}: {other:?}; use \"permanent\" (552 5.2.2) or \"temporary\" (452 4.2.2)",
                    section.place("lmtp_over_quota")
                )))
            }
        };
        let admins = match section.strings("admins")? {
            None => alert_admin.into_iter().cloned().collect(),
            Some(names) => names
                .iter()
                .map(|name| {
                    crate::auth::normalize_user_name(name)
                        .map_err(|problem| error(format!("{}: {problem}", section.place("admins"))))
                })
                .collect::<Result<Vec<_>, _>>()?,
        };
        let settings = crate::store::quota::Settings { storage, messages, household_storage, household_messages, warn };
        Ok(Quota { settings, lmtp_permanent, admins })
    }
}

/// Who may send a password over a connection without TLS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlaintextAuth {
    /// Only over loopback (the default): LAN clients must use TLS.
    Loopback,
    Never,
    Always,
}

/// The `[access]` table: which addresses may connect to IMAP at all.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Access {
    /// When not empty, only these addresses and prefixes may connect.
    pub allow: Prefixes,
    /// These may not connect, even when `allow` lists them.
    pub deny: Prefixes,
}

impl Access {
    /// Whether a client at `ip` may connect (checked at accept, before TLS).
    pub fn admits(&self, ip: std::net::IpAddr) -> bool {
        !self.deny.contains(ip) && (self.allow.0.is_empty() || self.allow.contains(ip))
    }
}

/// Tables a config file may have. `[access.…]` sub-tables are for rules
/// of their own (per user, say): each is accepted here only once its
/// parser exists; an unknown one is refused like any unknown table.
fn known_table(name: &str) -> bool {
    ["", "imap", "tls", "lmtp", "limits", "access", "alerts", "acl", "backup", "quota", "retention"].contains(&name)
        || route_index(name).is_some()
}

/// N of the table `lmtp.route[N]` (the N-th `[[lmtp.route]]`).
fn route_index(table: &str) -> Option<usize> {
    table.strip_prefix("lmtp.route[")?.strip_suffix(']')?.parse().ok()
}

/// One entry of an ACL given in the config or on the command line:
/// `WHO:RIGHTS` (see the module docs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    pub who: Identifier,
    pub rights: Rights,
}

/// The ACL entries of `text`, `WHO:RIGHTS` separated by spaces. User
/// names are normalized as logins are; `anyone` and `authenticated` may
/// not have `a` (as SETACL refuses it, `mail::rights::grantable`); an
/// identifier given twice is an error.
pub fn parse_grants(text: &str) -> Result<Vec<Grant>, String> {
    let mut grants: Vec<Grant> = Vec::new();
    for word in text.split_whitespace() {
        let Some((who, rights)) = word.rsplit_once(':') else {
            return Err(format!("{word:?} is not WHO:RIGHTS (e.g. \"authenticated:lrs\")"));
        };
        let mut who = Identifier::parse(who.as_bytes()).map_err(|problem| format!("{word:?}: {problem}"))?;
        if let Subject::User(name) = &who.subject {
            who.subject = Subject::User(
                crate::auth::normalize_user_name(name).map_err(|problem| format!("{word:?}: {problem}"))?,
            );
        }
        let rights = Rights::parse(rights.as_bytes()).map_err(|problem| format!("{word:?}: {problem}"))?;
        if let Err(refused) = grantable(&who, false).admit(rights) {
            return Err(format!("{word:?}: the \"{refused}\" right cannot be granted to {who}"));
        }
        if grants.iter().any(|grant| grant.who == who) {
            return Err(format!("{who} is given twice"));
        }
        grants.push(Grant { who, rights });
    }
    Ok(grants)
}

/// `[[lmtp.route]]`: mail for `address` goes to `mailbox`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    /// Lower case; with `@` a whole address, without it a local part.
    pub address: String,
    /// As the administrator names it: `Family/NAME` or `Shared/USER/NAME`.
    pub mailbox: String,
}

impl Route {
    /// Checks and normalizes one route (see the module docs).
    fn new(address: &str, mailbox: &str) -> Result<Route, String> {
        let address = address.trim().to_lowercase();
        let local = address.split('@').next().unwrap_or("");
        if local.is_empty() || address.len() > 256 || !address.bytes().all(|byte| byte.is_ascii_graphic()) {
            return Err(format!("address {address:?} is not an address like \"bills@home.example\" or \"bills\""));
        }
        if address.contains(['<', '>']) || address.matches('@').count() > 1 {
            return Err(format!("address {address:?} is not an address like \"bills@home.example\""));
        }
        if local.contains('+') {
            // Recipients are matched with their +detail dropped.
            return Err(format!(
                "address {address:?}: no '+' in a route's local part (a +detail is dropped before matching)"
            ));
        }
        let shape = "mailbox must be \"Family/NAME\" or \"Shared/USER/NAME\"";
        if let Some(name) = mailbox.strip_prefix("Family/") {
            if name.is_empty() {
                return Err(format!("{mailbox:?}: {shape}"));
            }
        } else if let Some(rest) = mailbox.strip_prefix("Shared/") {
            let (user, name) = rest.split_once('/').ok_or_else(|| format!("{mailbox:?}: {shape}"))?;
            crate::auth::normalize_user_name(user).map_err(|problem| format!("{mailbox:?}: {problem}"))?;
            if name.is_empty() {
                return Err(format!("{mailbox:?}: {shape}"));
            }
        } else {
            return Err(format!("{mailbox:?}: {shape}"));
        }
        Ok(Route { address, mailbox: mailbox.to_string() })
    }
}

#[derive(Clone, Debug)]
pub struct Config {
    pub data_dir: PathBuf,
    pub board: String,
    pub log_level: log::LevelFilter,
    /// IMAP with STARTTLS.
    pub imap_listen: Vec<SocketAddr>,
    /// IMAP over implicit TLS.
    pub imaps_listen: Vec<SocketAddr>,
    pub plaintext_auth: PlaintextAuth,
    /// Certificate chain and key (PEM). Unset: a self-signed pair in the data directory.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// Names put in the self-signed certificate.
    pub tls_hostnames: Vec<String>,
    /// Addresses put in the self-signed certificate (default: the
    /// machine's own, see `net::lan`).
    pub tls_addresses: Vec<std::net::IpAddr>,
    /// LMTP on a Unix socket (None: off). Default `<data_dir>/lmtp.sock`.
    pub lmtp_socket: Option<PathBuf>,
    /// LMTP over TCP (off unless set: LMTP has no authentication).
    pub lmtp_listen: Vec<SocketAddr>,
    /// `[[lmtp.route]]`: addresses delivered into shared or public mailboxes.
    pub lmtp_routes: Vec<Route>,
    /// `[acl] public_default_rights`: the ACL of a new `Family/` mailbox.
    pub public_default_rights: Vec<Grant>,
    /// Global address rules for IMAP (`[access]`).
    pub access: Access,
    pub alerts: Alerts,
    /// `[backup]`.
    pub backup: Backups,
    pub quota: Quota,
    pub limits: Limits,
    /// Per-user address rules (`[access.user.NAME]`), by user name; applied at login.
    pub user_access: BTreeMap<String, UserAccess>,
    /// `[retention]` and `[retention.user.NAME]`: see `crate::retention`.
    pub retention: crate::retention::Retention,
}

/// Where one user may log in from: `[access.user.NAME]` `allow` / `deny`
/// (addresses or CIDR prefixes). A `deny` match refuses; otherwise a
/// non-empty `allow` must match. No table: from anywhere.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserAccess {
    pub allow: Prefixes,
    pub deny: Prefixes,
}

impl UserAccess {
    pub fn allows(&self, ip: std::net::IpAddr) -> bool {
        !self.deny.contains(ip) && (self.allow.0.is_empty() || self.allow.contains(ip))
    }
}

/// The tables holding per-user address rules: `[access.user.NAME]`. The
/// config parser takes bare keys only, so NAME is letters, digits, `_` and
/// `-` (a user name with `.`, `@` or `+` cannot have rules yet).
const USER_ACCESS_PREFIX: &str = "access.user.";

/// The tables holding per-user retention ages: `[retention.user.NAME]`.
const USER_RETENTION_PREFIX: &str = "retention.user.";

#[derive(Debug)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

fn error(text: impl Into<String>) -> ConfigError {
    ConfigError(text.into())
}

/// The 1-based line of `[table]` (or, with `key`, of `key = ` inside it),
/// so a misspelt name is reported where it is. The parser has already
/// accepted the text, so a simple scan is enough.
fn line_of(text: &str, table: &str, key: Option<&str>) -> Option<usize> {
    let mut current = "";
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if let Some(header) = line.strip_prefix('[') {
            current = header.split(']').next().unwrap_or("").trim();
            if key.is_none() && current == table {
                return Some(index + 1);
            }
            continue;
        }
        if let Some(key) = key {
            let names_key = line.strip_prefix(key).is_some_and(|rest| rest.trim_start().starts_with('='));
            if current == table && names_key {
                return Some(index + 1);
            }
        }
    }
    None
}

/// Typed access to one table of a parsed file; remembers which keys were
/// read so unknown (misspelt) keys can be reported.
struct Section<'a> {
    file: &'a str,
    text: &'a str,
    name: &'a str,
    values: Option<&'a BTreeMap<String, Value>>,
    read: Vec<&'static str>,
}

impl<'a> Section<'a> {
    fn new(file: &'a str, text: &'a str, document: &'a toml::Document, name: &'a str) -> Section<'a> {
        Section { file, text, name, values: document.tables.get(name), read: Vec::new() }
    }

    fn place(&self, key: &str) -> String {
        let line = line_of(self.text, self.name, Some(key)).map(|line| format!("line {line}: ")).unwrap_or_default();
        if self.name.is_empty() {
            format!("{}: {line}{key}", self.file)
        } else if route_index(self.name).is_some() {
            format!("{} {key}", self.label())
        } else {
            format!("{}: {line}[{}] {key}", self.file, self.name)
        }
    }

    /// The file and the table, for a message about the whole table.
    fn label(&self) -> String {
        section_label(self.file, self.name)
    }

    fn value(&mut self, key: &'static str) -> Option<&'a Value> {
        self.read.push(key);
        self.values.and_then(|values| values.get(key))
    }

    fn string(&mut self, key: &'static str) -> Result<Option<String>, ConfigError> {
        match self.value(key) {
            None => Ok(None),
            Some(Value::String(text)) => Ok(Some(text.clone())),
            Some(other) => Err(error(format!("{}: expected a string, found {}", self.place(key), other.type_name()))),
        }
    }

    fn integer(&mut self, key: &'static str) -> Result<Option<u64>, ConfigError> {
        match self.value(key) {
            None => Ok(None),
            Some(Value::Integer(number)) if *number >= 0 => Ok(Some(*number as u64)),
            Some(Value::Integer(_)) => Err(error(format!("{}: must not be negative", self.place(key)))),
            Some(other) => Err(error(format!("{}: expected an integer, found {}", self.place(key), other.type_name()))),
        }
    }

    fn boolean(&mut self, key: &'static str) -> Result<Option<bool>, ConfigError> {
        match self.value(key) {
            None => Ok(None),
            Some(Value::Bool(value)) => Ok(Some(*value)),
            Some(other) => {
                Err(error(format!("{}: expected true or false, found {}", self.place(key), other.type_name())))
            }
        }
    }

    fn strings(&mut self, key: &'static str) -> Result<Option<Vec<String>>, ConfigError> {
        match self.value(key) {
            None => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| match item {
                    Value::String(text) => Ok(text.clone()),
                    other => Err(error(format!("{}: expected strings, found {}", self.place(key), other.type_name()))),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(other) => Err(error(format!("{}: expected an array, found {}", self.place(key), other.type_name()))),
        }
    }

    fn addresses(&mut self, key: &'static str) -> Result<Option<Vec<SocketAddr>>, ConfigError> {
        let Some(texts) = self.strings(key)? else { return Ok(None) };
        texts
            .iter()
            .map(|text| {
                text.parse::<SocketAddr>().map_err(|_| {
                    error(format!(
                        "{}: {text:?} is not an address like \"0.0.0.0:993\" or \"[::]:993\"",
                        self.place(key)
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    /// Fails on keys nobody asked for: a typo must not be silently ignored.
    fn finish(self) -> Result<(), ConfigError> {
        if let Some(values) = self.values {
            if let Some(unknown) = values.keys().find(|key| !self.read.contains(&key.as_str())) {
                return Err(error(format!("{}: unknown setting", self.place(unknown))));
            }
        }
        Ok(())
    }
}

/// `file: [table]`, or `file: [[lmtp.route]] #N` for the N-th (from 1) route.
fn section_label(file: &str, table: &str) -> String {
    match route_index(table) {
        Some(index) => format!("{file}: [[lmtp.route]] #{}", index + 1),
        None => format!("{file}: [{table}]"),
    }
}

impl Limits {
    /// Reads the `[limits]` table over `self`: a board sets every key, a
    /// config file any of them.
    fn apply(&mut self, file: &str, text: &str, document: &toml::Document, complete: bool) -> Result<(), ConfigError> {
        let mut section = Section::new(file, text, document, "limits");
        macro_rules! limit {
            ($key:ident, $type:ty) => {
                match section.integer(stringify!($key))? {
                    Some(value) => {
                        self.$key = <$type>::try_from(value)
                            .map_err(|_| error(format!("{}: too large", section.place(stringify!($key)))))?;
                    }
                    None if complete => return Err(error(format!("{}: missing", section.place(stringify!($key))))),
                    None => {}
                }
            };
        }
        limit!(max_connections, usize);
        limit!(max_connections_per_user, usize);
        limit!(max_connections_per_ip, usize);
        limit!(max_preauth_connections, usize);
        limit!(max_preauth_per_ip, usize);
        limit!(preauth_line_length, usize);
        match section.strings("never_limit")? {
            Some(texts) => {
                self.never_limit = Prefixes::parse(&texts)
                    .map_err(|problem| error(format!("{}: {problem}", section.place("never_limit"))))?;
            }
            None if complete => return Err(error(format!("{}: missing", section.place("never_limit")))),
            None => {}
        }
        limit!(line_length, usize);
        limit!(literal_size, u64);
        limit!(read_buffer, usize);
        limit!(write_buffer, usize);
        limit!(append_chunk, usize);
        limit!(cache_size, usize);
        limit!(mailbox_cache, usize);
        limit!(argon2_memory_kib, u32);
        limit!(argon2_iterations, u32);
        limit!(argon2_parallelism, u32);
        limit!(auth_threads, u32);
        limit!(auth_queue, usize);
        limit!(auth_queue_per_ip, usize);
        limit!(workers, u32);
        limit!(auth_cache_seconds, u64);
        limit!(auth_cache_entries, usize);
        limit!(min_password_length, usize);
        limit!(login_timeout, u64);
        limit!(min_login_timeout, u64);
        limit!(tls_handshake_timeout, u64);
        limit!(idle_timeout, u64);
        limit!(write_timeout, u64);
        limit!(idle_keepalive, u64);
        limit!(max_compressed_connections, usize);
        limit!(compress_level, u8);
        limit!(search_updates, usize);
        limit!(auth_failure_delay, u64);
        limit!(ban_failures, u32);
        limit!(ban_window, u64);
        limit!(ban_seconds, u64);
        limit!(ban_max_seconds, u64);
        limit!(ban_tracked, usize);
        match section.strings("never_ban")? {
            Some(texts) => {
                self.never_ban = Prefixes::parse(&texts)
                    .map_err(|problem| error(format!("{}: {problem}", section.place("never_ban"))))?;
            }
            None if complete => return Err(error(format!("{}: missing", section.place("never_ban")))),
            None => {}
        }
        limit!(min_free_disk, u64);
        limit!(disk_ballast, u64);
        limit!(expunge_history, u32);
        limit!(login_history, u32);
        limit!(lock_failures, u32);
        limit!(lock_window, u64);
        limit!(lock_seconds, u64);
        limit!(lock_accounts, usize);
        match section.boolean("search_index")? {
            Some(on) => self.search_index = on,
            None if complete => return Err(error(format!("{}: missing", section.place("search_index")))),
            None => {}
        }
        limit!(search_index_memory, usize);
        section.finish()?;
        self.validate().map_err(|text| error(format!("{file}: [limits] {text}")))
    }

    fn validate(&self) -> Result<(), String> {
        let at_least = |name: &str, value: u64, minimum: u64| {
            if value < minimum {
                Err(format!("{name} must be at least {minimum}"))
            } else {
                Ok(())
            }
        };
        at_least("max_connections", self.max_connections as u64, 1)?;
        at_least("max_connections_per_user", self.max_connections_per_user as u64, 1)?;
        at_least("max_connections_per_ip", self.max_connections_per_ip as u64, 1)?;
        at_least("max_preauth_connections", self.max_preauth_connections as u64, 1)?;
        at_least("max_preauth_per_ip", self.max_preauth_per_ip as u64, 1)?;
        if self.max_preauth_connections > self.max_connections {
            return Err(format!(
                "max_preauth_connections ({}) must not exceed max_connections ({}): it is the part of them strangers may hold",
                self.max_preauth_connections, self.max_connections
            ));
        }
        at_least("auth_queue", self.auth_queue as u64, 1)?;
        at_least("auth_queue_per_ip", self.auth_queue_per_ip as u64, 1)?;
        at_least("tls_handshake_timeout", self.tls_handshake_timeout, 1)?;
        at_least("min_login_timeout", self.min_login_timeout, 1)?;
        // RFC 7162 §4 asks clients to keep lines under 8192 octets; servers
        // must take at least that.
        at_least("line_length", self.line_length as u64, 8192)?;
        // A LOGIN with a 255-byte user name and password as literals fits in 1 KiB.
        at_least("preauth_line_length", self.preauth_line_length as u64, 1024)?;
        if self.preauth_line_length > self.line_length {
            return Err("preauth_line_length must not exceed line_length".into());
        }
        at_least("literal_size", self.literal_size, 1024)?;
        at_least("read_buffer", self.read_buffer as u64, 512)?;
        at_least("write_buffer", self.write_buffer as u64, 512)?;
        at_least("append_chunk", self.append_chunk as u64, crate::store::CHUNK_SIZE as u64)?;
        at_least("cache_size", self.cache_size as u64, 256 * 1024)?;
        at_least("argon2_iterations", u64::from(self.argon2_iterations), 1)?;
        at_least("argon2_parallelism", u64::from(self.argon2_parallelism), 1)?;
        at_least("auth_threads", u64::from(self.auth_threads), 1)?;
        at_least("workers", u64::from(self.workers), 1)?;
        at_least("argon2_memory_kib", u64::from(self.argon2_memory_kib), 8 * u64::from(self.argon2_parallelism))?;
        at_least("login_timeout", self.login_timeout, 1)?;
        at_least("idle_timeout", self.idle_timeout, 1)?;
        at_least("write_timeout", self.write_timeout, 1)?;
        if !(1..=9).contains(&self.compress_level) {
            return Err("compress_level must be from 1 to 9".into());
        }
        at_least("expunge_history", u64::from(self.expunge_history), 1)?;
        at_least("search_index_memory", self.search_index_memory as u64, 256 * 1024)?;
        // Also when ban_failures = 0: `roost ban add` uses ban_seconds.
        at_least("ban_window", self.ban_window, 1)?;
        at_least("ban_seconds", self.ban_seconds, 1)?;
        at_least("ban_tracked", self.ban_tracked as u64, 1)?;
        if self.ban_max_seconds < self.ban_seconds {
            return Err("ban_max_seconds must be at least ban_seconds".into());
        }
        at_least("login_history", u64::from(self.login_history), 1)?;
        // RFC 5267 §4.3.1: at least one live search per session.
        at_least("search_updates", self.search_updates as u64, 1)?;
        if self.lock_failures > 0 {
            at_least("lock_window", self.lock_window, 1)?;
            at_least("lock_seconds", self.lock_seconds, 1)?;
            at_least("lock_accounts", self.lock_accounts as u64, 1)?;
        }
        Ok(())
    }

    fn zero() -> Limits {
        Limits {
            max_connections: 0,
            max_connections_per_user: 0,
            max_connections_per_ip: 0,
            max_preauth_connections: 0,
            max_preauth_per_ip: 0,
            preauth_line_length: 0,
            never_limit: Prefixes::default(),
            line_length: 0,
            literal_size: 0,
            read_buffer: 0,
            write_buffer: 0,
            append_chunk: 0,
            cache_size: 0,
            mailbox_cache: 0,
            argon2_memory_kib: 0,
            argon2_iterations: 0,
            argon2_parallelism: 0,
            auth_threads: 0,
            auth_queue: 0,
            auth_queue_per_ip: 0,
            workers: 0,
            auth_cache_seconds: 0,
            auth_cache_entries: 0,
            min_password_length: 0,
            login_timeout: 0,
            min_login_timeout: 0,
            tls_handshake_timeout: 0,
            idle_timeout: 0,
            write_timeout: 0,
            idle_keepalive: 0,
            max_compressed_connections: 0,
            compress_level: 0,
            search_updates: 0,
            auth_failure_delay: 0,
            ban_failures: 0,
            ban_window: 0,
            ban_seconds: 0,
            ban_max_seconds: 0,
            ban_tracked: 0,
            never_ban: Prefixes::default(),
            min_free_disk: 0,
            disk_ballast: 0,
            expunge_history: 0,
            login_history: 0,
            lock_failures: 0,
            lock_window: 0,
            lock_seconds: 0,
            lock_accounts: 0,
            search_index: false,
            search_index_memory: 0,
        }
    }
}

/// The names a self-signed certificate is made for when none are
/// configured: the machine's name, the name mDNS gives it on the LAN
/// (`raspberrypi.local`), and localhost.
fn default_hostnames() -> Vec<String> {
    hostnames_for(std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default().trim())
}

/// The names for a machine called `machine` (`roost setup` writes them):
/// it, `machine.local` when it has no dot, and localhost.
pub fn hostnames_for(machine: &str) -> Vec<String> {
    let mut names = Vec::new();
    if !machine.is_empty()
        && machine != "localhost"
        && machine.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
    {
        names.push(machine.to_string());
        if !machine.contains('.') {
            names.push(format!("{machine}.local"));
        }
    }
    names.push("localhost".into());
    names
}

/// A board profile: its description and its limits.
#[derive(Clone, Debug)]
pub struct Board {
    pub description: String,
    pub limits: Limits,
}

impl Board {
    pub fn named(name: &str) -> Result<Board, ConfigError> {
        let (_, text) = BOARDS.iter().find(|(board, _)| *board == name).ok_or_else(|| {
            let known: Vec<&str> = BOARDS.iter().map(|(board, _)| *board).collect();
            error(format!("unknown board {name:?}; known boards: {}", known.join(", ")))
        })?;
        let file = format!("boards/{name}.toml");
        let document = toml::parse(text).map_err(|problem| error(format!("{file}: {problem}")))?;
        let mut top = Section::new(&file, text, &document, "");
        let description = top.string("description")?.unwrap_or_default();
        let declared = top.string("name")?;
        top.finish()?;
        if declared.as_deref() != Some(name) {
            return Err(error(format!("{file}: name must be {name:?}")));
        }
        let mut limits = Limits::zero();
        limits.apply(&file, text, &document, true)?;
        Ok(Board { description, limits })
    }
}

/// What the command line says, which wins over the file.
#[derive(Default)]
pub struct Overrides {
    pub board: Option<String>,
    pub data_dir: Option<PathBuf>,
}

impl Config {
    /// Loads `file` (if given) over the defaults, then the command-line overrides.
    pub fn load(file: Option<&Path>, overrides: Overrides) -> Result<Config, ConfigError> {
        let (name, text) = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|problem| error(format!("cannot read {}: {problem}", path.display())))?;
                (path.display().to_string(), text)
            }
            None => ("(defaults)".to_string(), String::new()),
        };
        Config::parse(&name, &text, overrides)
    }

    pub fn parse(name: &str, text: &str, overrides: Overrides) -> Result<Config, ConfigError> {
        let document = toml::parse(text).map_err(|problem| error(format!("{name}: {problem}")))?;
        for table in document.tables.keys() {
            let per_user = [USER_ACCESS_PREFIX, USER_RETENTION_PREFIX]
                .iter()
                .any(|prefix| table.strip_prefix(prefix).is_some_and(|user| !user.contains('.')));
            if !known_table(table) && !per_user {
                let line = line_of(text, table, None).map(|line| format!("line {line}: ")).unwrap_or_default();
                return Err(error(format!("{name}: {line}unknown table [{table}]")));
            }
        }
        let mut top = Section::new(name, text, &document, "");
        let board_name = overrides.board.or(top.string("board")?).unwrap_or_else(|| "generic".into());
        let data_dir = match overrides.data_dir {
            Some(dir) => dir,
            None => PathBuf::from(top.string("data_dir")?.unwrap_or_else(|| "./roost-data".into())),
        };
        let log_level = match top.string("log_level")?.as_deref() {
            None => log::LevelFilter::Info,
            Some(level) => level
                .parse()
                .map_err(|_| error(format!("{name}: log_level must be error, warn, info, debug or trace")))?,
        };
        top.finish()?;

        let mut imap = Section::new(name, text, &document, "imap");
        let imap_listen = imap.addresses("listen")?.unwrap_or_else(|| vec!["127.0.0.1:1143".parse().unwrap()]);
        let imaps_listen = imap.addresses("listen_tls")?.unwrap_or_else(|| vec!["127.0.0.1:1993".parse().unwrap()]);
        let plaintext_auth = match imap.string("plaintext_auth")?.as_deref() {
            None | Some("loopback") => PlaintextAuth::Loopback,
            Some("never") => PlaintextAuth::Never,
            Some("always") => PlaintextAuth::Always,
            Some(other) => {
                return Err(error(format!(
                    "{name}: [imap] plaintext_auth is {other:?}; use \"loopback\", \"never\" or \"always\""
                )))
            }
        };
        imap.finish()?;

        let mut tls = Section::new(name, text, &document, "tls");
        let tls_cert = tls.string("cert")?.map(PathBuf::from);
        let tls_key = tls.string("key")?.map(PathBuf::from);
        let tls_hostnames = tls.strings("hostnames")?.unwrap_or_else(default_hostnames);
        let tls_addresses = match tls.strings("addresses")? {
            None => crate::net::lan::addresses(),
            Some(texts) => texts
                .iter()
                .map(|text| {
                    text.trim()
                        .parse()
                        .map_err(|_| error(format!("{}: {text:?} is not an IP address", tls.place("addresses"))))
                })
                .collect::<Result<Vec<_>, _>>()?,
        };
        tls.finish()?;
        if tls_cert.is_some() != tls_key.is_some() {
            return Err(error(format!("{name}: [tls] needs both cert and key, or neither")));
        }

        let mut lmtp = Section::new(name, text, &document, "lmtp");
        // An empty string turns the socket off (TCP only, or no LMTP at all).
        let lmtp_socket = match lmtp.string("socket")? {
            None => Some(data_dir.join("lmtp.sock")),
            Some(path) if path.is_empty() => None,
            Some(path) => Some(PathBuf::from(path)),
        };
        let lmtp_listen = lmtp.addresses("listen")?.unwrap_or_default();
        lmtp.finish()?;
        let mut route_tables: Vec<(usize, &String)> =
            document.tables.keys().filter_map(|table| Some((route_index(table)?, table))).collect();
        route_tables.sort_unstable();
        let mut lmtp_routes: Vec<Route> = Vec::with_capacity(route_tables.len());
        for (_, table) in route_tables {
            let mut section = Section::new(name, text, &document, table);
            let address = section.string("address")?;
            let mailbox = section.string("mailbox")?;
            let (Some(address), Some(mailbox)) = (address, mailbox) else {
                return Err(error(format!("{}: needs both address and mailbox", section.label())));
            };
            let route =
                Route::new(&address, &mailbox).map_err(|problem| error(format!("{}: {problem}", section.label())))?;
            section.finish()?;
            if lmtp_routes.iter().any(|earlier| earlier.address == route.address) {
                return Err(error(format!(
                    "{}: address {:?} is routed twice",
                    section_label(name, table),
                    route.address
                )));
            }
            lmtp_routes.push(route);
        }

        let mut acl = Section::new(name, text, &document, "acl");
        let public_default_rights = match acl.string("public_default_rights")? {
            None => parse_grants("authenticated:lrs").map_err(error)?,
            Some(text) => parse_grants(&text)
                .map_err(|problem| error(format!("{}: {problem}", acl.place("public_default_rights"))))?,
        };
        acl.finish()?;

        let mut rules = Section::new(name, text, &document, "access");
        let mut prefixes = |key: &'static str| -> Result<Prefixes, ConfigError> {
            let texts = rules.strings(key)?.unwrap_or_default();
            Prefixes::parse(&texts).map_err(|problem| error(format!("{}: {problem}", rules.place(key))))
        };
        let access = Access { allow: prefixes("allow")?, deny: prefixes("deny")? };
        rules.finish()?;
        let mut user_access = BTreeMap::new();
        for table in document.tables.keys() {
            let Some(user) = table.strip_prefix(USER_ACCESS_PREFIX) else { continue };
            let mut section = Section::new(name, text, &document, table);
            let mut prefixes = |key: &'static str| -> Result<Prefixes, ConfigError> {
                let texts = section.strings(key)?.unwrap_or_default();
                Prefixes::parse(&texts).map_err(|problem| error(format!("{}: {problem}", section.place(key))))
            };
            let rules = UserAccess { allow: prefixes("allow")?, deny: prefixes("deny")? };
            section.finish()?;
            user_access.insert(user.to_ascii_lowercase(), rules);
        }
        let mut alerts = Section::new(name, text, &document, "alerts");
        let alerts_enabled = alerts.boolean("enabled")?.unwrap_or(true);
        let alert_admin = match alerts.string("admin")? {
            None => None,
            Some(admin) if admin.is_empty() => None,
            Some(admin) => Some(
                crate::auth::normalize_user_name(&admin)
                    .map_err(|problem| error(format!("{}: {problem}", alerts.place("admin"))))?,
            ),
        };
        alerts.finish()?;
        let mut quota_section = Section::new(name, text, &document, "quota");
        let quota = Quota::parse(&mut quota_section, alert_admin.as_ref())?;
        quota_section.finish()?;

        let mut section = Section::new(name, text, &document, "backup");
        let backup_dir = section.string("dir")?.filter(|dir| !dir.is_empty()).map(PathBuf::from);
        let every = match section.string("every")?.as_deref() {
            None | Some("off") => None,
            Some(text) => Some(
                crate::auth::ban::parse_duration(text)
                    .map_err(|problem| error(format!("{}: {problem}", section.place("every"))))?,
            ),
        };
        let keep = match section.integer("keep")? {
            None => Backups::default().keep,
            Some(0) => return Err(error(format!("{}: keep at least 1", section.place("keep")))),
            Some(keep) => usize::try_from(keep).unwrap_or(usize::MAX),
        };
        if every.is_some() && backup_dir.is_none() {
            return Err(error(format!("{}: needs dir, where the backups go", section.place("every"))));
        }
        section.finish()?;
        let backup = Backups { dir: backup_dir, every, keep };

        let retention = parse_retention(name, text, &document)?;

        let board = Board::named(&board_name)?;
        let mut limits = board.limits;
        limits.apply(name, text, &document, false)?;
        Ok(Config {
            data_dir,
            board: board_name,
            log_level,
            imap_listen,
            imaps_listen,
            plaintext_auth,
            tls_cert,
            tls_key,
            tls_hostnames,
            tls_addresses,
            lmtp_socket,
            lmtp_listen,
            lmtp_routes,
            public_default_rights,
            access,
            alerts: Alerts { enabled: alerts_enabled, admin: alert_admin },
            backup,
            quota,
            limits,
            user_access,
            retention,
        })
    }

    /// Whether `user`'s address rules let a login from `ip` in.
    pub fn user_allowed(&self, user: &str, ip: std::net::IpAddr) -> bool {
        self.user_access.get(user).is_none_or(|rules| rules.allows(ip))
    }

    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join(crate::store::DATABASE_FILE)
    }

    pub fn control_socket(&self) -> PathBuf {
        self.data_dir.join("control.sock")
    }
}

/// `[retention]` and every `[retention.user.NAME]` (see `crate::retention`).
fn parse_retention(
    name: &str,
    text: &str,
    document: &toml::Document,
) -> Result<crate::retention::Retention, ConfigError> {
    use crate::retention::{parse_duration, Ages, Retention, KINDS};
    fn ages(section: &mut Section) -> Result<Ages, ConfigError> {
        let mut values = Vec::with_capacity(KINDS.len());
        for (key, _) in KINDS {
            values.push((key, section.string(key)?));
        }
        Ages::parse(&values).map_err(|(key, problem)| error(format!("{}: {problem}", section.place(key))))
    }
    let mut retention = Retention::default();
    let mut section = Section::new(name, text, document, "retention");
    let household = ages(&mut section)?;
    for (index, age) in household.0.iter().enumerate() {
        if age.is_some() {
            retention.household.0[index] = *age;
        }
    }
    if let Some(every) = section.string("every")? {
        let every =
            parse_duration(&every).map_err(|problem| error(format!("{}: {problem}", section.place("every"))))?;
        retention.every = every.map(std::time::Duration::from_secs);
    }
    if let Some(batch) = section.integer("batch")? {
        if !(1..=10_000).contains(&batch) {
            return Err(error(format!("{}: must be from 1 to 10000", section.place("batch"))));
        }
        retention.batch = batch as usize;
    }
    section.finish()?;
    for table in document.tables.keys() {
        let Some(user) = table.strip_prefix(USER_RETENTION_PREFIX) else { continue };
        let mut section = Section::new(name, text, document, table);
        let ages = ages(&mut section)?;
        section.finish()?;
        retention.users.insert(user.to_ascii_lowercase(), ages);
    }
    Ok(retention)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_embedded_board_loads() {
        for (name, _) in BOARDS {
            let board = Board::named(name).unwrap_or_else(|problem| panic!("{name}: {problem}"));
            assert!(board.limits.validate().is_ok(), "{name}");
            assert!(!board.description.is_empty(), "{name}");
        }
    }

    #[test]
    fn defaults_without_a_file() {
        let config = Config::parse("(defaults)", "", Overrides::default()).unwrap();
        assert_eq!(config.board, "generic");
        assert_eq!(config.data_dir, PathBuf::from("./roost-data"));
        assert_eq!(config.imap_listen, vec!["127.0.0.1:1143".parse().unwrap()]);
        assert_eq!(config.imaps_listen, vec!["127.0.0.1:1993".parse().unwrap()]);
        assert_eq!(config.plaintext_auth, PlaintextAuth::Loopback);
        assert_eq!(config.lmtp_socket, Some(PathBuf::from("./roost-data/lmtp.sock")));
        assert!(config.lmtp_listen.is_empty());
        assert_eq!(config.alerts, Alerts { enabled: true, admin: None });
        assert_eq!(config.limits, Board::named("generic").unwrap().limits);
        assert_eq!(config.limits.never_limit, Prefixes::parse(&["127.0.0.1", "::1"]).unwrap());
    }

    #[test]
    fn public_default_rights_and_lmtp_routes() {
        let config = Config::parse("(defaults)", "", Overrides::default()).unwrap();
        let authenticated = Identifier::parse(b"authenticated").unwrap();
        assert_eq!(
            config.public_default_rights,
            vec![Grant { who: authenticated, rights: Rights::parse(b"lrs").unwrap() }]
        );
        assert!(config.lmtp_routes.is_empty());
        let text = "[acl]\npublic_default_rights = \"authenticated:lrs  anyone:p Mom:lrswicda -tom:s\"\n\
                    [[lmtp.route]]\naddress = \"Bills@Home.example\"\nmailbox = \"Family/Bills\"\n\
                    [[lmtp.route]]\naddress = \"school\"\nmailbox = \"Shared/mom/School\"\n";
        let config = Config::parse("test.toml", text, Overrides::default()).unwrap();
        let text: Vec<String> =
            config.public_default_rights.iter().map(|grant| format!("{}:{}", grant.who, grant.rights)).collect();
        assert_eq!(text, ["authenticated:lrs", "anyone:p", "mom:lrswikxtea", "-tom:s"]);
        assert_eq!(
            config.lmtp_routes,
            [
                Route { address: "bills@home.example".into(), mailbox: "Family/Bills".into() },
                Route { address: "school".into(), mailbox: "Shared/mom/School".into() },
            ]
        );
        // Both may be empty: no default rights (nobody sees a new mailbox
        // until given rights), no routes.
        let config = Config::parse("test.toml", "[acl]\npublic_default_rights = \"\"", Overrides::default()).unwrap();
        assert!(config.public_default_rights.is_empty());
    }

    #[test]
    fn bad_default_rights_and_routes_are_refused_at_start() {
        let route = |address: &str, mailbox: &str| {
            format!("[[lmtp.route]]\naddress = \"{address}\"\nmailbox = \"{mailbox}\"\n")
        };
        for (text, expected) in [
            ("[acl]\npublic_default_rights = \"authenticated\"".to_string(), "is not WHO:RIGHTS"),
            ("[acl]\npublic_default_rights = \"authenticated:lrQ\"".into(), "uppercase rights are not allowed: Q"),
            ("[acl]\npublic_default_rights = \"anyone:lra\"".into(), "the \"a\" right cannot be granted to anyone"),
            ("[acl]\npublic_default_rights = \"dad:lr Dad:r\"".into(), "dad is given twice"),
            ("[acl]\npublic_default_rights = \"da d:lr\"".into(), "is not WHO:RIGHTS"),
            ("[acl]\npublic_default_rights = \"b/b:lr\"".into(), "a user name may contain"),
            ("[acl]\npublic_default_rights = 3".into(), "line 2: [acl] public_default_rights: expected a string"),
            ("[acl]\ndefault_rights = \"\"".into(), "[acl] default_rights: unknown setting"),
            (route("bills@x", "Bills"), "[[lmtp.route]] #1: \"Bills\": mailbox must be"),
            (route("bills@x", "Family/"), "mailbox must be"),
            (route("bills@x", "Shared/mom"), "mailbox must be"),
            (route("bills@x", "Shared/m m/X"), "a user name may contain"),
            (route("bills+x@x", "Family/B"), "no '+' in a route's local part"),
            (route("@x", "Family/B"), "is not an address"),
            (route("a b", "Family/B"), "is not an address"),
            (route("a@b@c", "Family/B"), "is not an address"),
            (
                route("bills", "Family/B") + &route("Bills", "Family/C"),
                "[[lmtp.route]] #2: address \"bills\" is routed twice",
            ),
            ("[[lmtp.route]]\naddress = \"bills\"".into(), "[[lmtp.route]] #1: needs both address and mailbox"),
            (route("bills", "Family/B") + "folder = \"x\"\n", "[[lmtp.route]] #1 folder: unknown setting"),
            ("[[lmtp.routes]]\naddress = \"x\"".into(), "unknown table [lmtp.routes[0]]"),
        ] {
            let problem = Config::parse("test.toml", &text, Overrides::default()).unwrap_err().to_string();
            assert!(problem.contains(expected), "{text:?} gave {problem:?}, expected {expected:?}");
        }
    }

    #[test]
    fn per_user_address_rules() {
        let text = "[access.user.alice]\nallow = [\"192.168.1.0/24\"]\n[access.user.Bob]\ndeny = [\"203.0.113.0/24\", \"::1\"]\n";
        let config = Config::parse("test.toml", text, Overrides::default()).unwrap();
        let ip = |text: &str| text.parse().unwrap();
        assert!(config.user_allowed("alice", ip("192.168.1.20")));
        assert!(!config.user_allowed("alice", ip("192.168.2.20")));
        assert!(!config.user_allowed("alice", ip("::ffff:10.0.0.1")));
        // Names are matched in lower case, as user names are stored.
        assert!(!config.user_allowed("bob", ip("203.0.113.9")));
        assert!(!config.user_allowed("bob", ip("::1")));
        assert!(config.user_allowed("bob", ip("192.168.1.20")));
        // No rules: from anywhere.
        assert!(config.user_allowed("carol", ip("203.0.113.9")));
        // Deny wins over allow.
        let both = "[access.user.dave]\nallow = [\"10.0.0.0/8\"]\ndeny = [\"10.0.0.66\"]";
        let config = Config::parse("test.toml", both, Overrides::default()).unwrap();
        assert!(config.user_allowed("dave", ip("10.0.0.65")));
        assert!(!config.user_allowed("dave", ip("10.0.0.66")));
        for (text, fragment) in [
            (
                "[access.user.alice]\nallow = [\"nope\"]",
                "line 2: [access.user.alice] allow: \"nope\" is not an address",
            ),
            ("[access.user.alice]\nalow = []", "line 2: [access.user.alice] alow: unknown setting"),
            ("[access.user.alice.x]\nallow = []", "unknown table [access.user.alice.x]"),
            ("[access.user.alice]\nallow = \"10.0.0.1\"", "expected an array"),
        ] {
            let problem = Config::parse("test.toml", text, Overrides::default()).unwrap_err().to_string();
            assert!(problem.contains(fragment), "{text}: {problem}");
        }
    }

    #[test]
    fn never_limit_takes_addresses_and_prefixes() {
        let text = "[limits]\nnever_limit = [\"192.168.1.0/24\", \"fd00::/8\"]";
        let config = Config::parse("test.toml", text, Overrides::default()).unwrap();
        assert!(config.limits.never_limit.contains("192.168.1.77".parse().unwrap()));
        assert!(!config.limits.never_limit.contains("127.0.0.1".parse().unwrap()));
        let config = Config::parse("test.toml", "[limits]\nnever_limit = []", Overrides::default()).unwrap();
        assert!(config.limits.never_limit.0.is_empty());
    }

    #[test]
    fn access_rules_allow_and_deny() {
        let config = Config::parse("(defaults)", "", Overrides::default()).unwrap();
        assert_eq!(config.access, Access::default());
        assert!(config.access.admits("203.0.113.9".parse().unwrap()), "everyone by default");
        let text = "[access]\nallow = [\"192.168.1.0/24\", \"127.0.0.1\"]\ndeny = [\"192.168.1.66\"]";
        let access = Config::parse("test.toml", text, Overrides::default()).unwrap().access;
        assert!(access.admits("192.168.1.7".parse().unwrap()));
        assert!(access.admits("127.0.0.1".parse().unwrap()));
        assert!(!access.admits("192.168.1.66".parse().unwrap()), "deny wins over allow");
        assert!(!access.admits("203.0.113.9".parse().unwrap()), "outside allow");
        let access = Config::parse("t", "[access]\ndeny = [\"10.0.0.0/8\"]", Overrides::default()).unwrap().access;
        assert!(!access.admits("10.1.2.3".parse().unwrap()));
        assert!(access.admits("11.1.2.3".parse().unwrap()));
    }

    #[test]
    fn ban_settings_and_never_ban() {
        let generic = Board::named("generic").unwrap().limits;
        assert_eq!((generic.ban_failures, generic.ban_window, generic.ban_seconds), (10, 900, 3600));
        assert_eq!(generic.ban_max_seconds, 86400);
        assert_eq!(generic.never_ban, Prefixes::parse(&["127.0.0.1", "::1"]).unwrap());
        let text = "[limits]\nban_failures = 0\nnever_ban = [\"192.168.0.0/16\"]";
        let limits = Config::parse("test.toml", text, Overrides::default()).unwrap().limits;
        assert_eq!(limits.ban_failures, 0);
        assert!(limits.never_ban.contains("192.168.4.4".parse().unwrap()));
    }

    #[test]
    fn file_overrides_board_and_command_line_overrides_file() {
        let text = r#"
            board = "rpi4"
            data_dir = "/var/lib/roost"
            [imap]
            listen = ["0.0.0.0:143"]
            listen_tls = []
            plaintext_auth = "never"
            [limits]
            line_length = 10000
        "#;
        let overrides = Overrides { board: Some("rpi3".into()), data_dir: None };
        let config = Config::parse("test.toml", text, overrides).unwrap();
        assert_eq!(config.board, "rpi3");
        assert_eq!(config.data_dir, PathBuf::from("/var/lib/roost"));
        assert_eq!(config.imaps_listen, Vec::<SocketAddr>::new());
        assert_eq!(config.plaintext_auth, PlaintextAuth::Never);
        assert_eq!(config.limits.line_length, 10000);
        assert_eq!(config.limits.cache_size, Board::named("rpi3").unwrap().limits.cache_size);
    }

    #[test]
    fn the_shipped_example_config_loads() {
        let text = include_str!("../../systemd/roost.toml");
        let config = Config::parse("systemd/roost.toml", text, Overrides::default()).unwrap();
        assert_eq!(config.board, "rpi4");
        assert_eq!(config.imaps_listen, vec!["0.0.0.0:993".parse().unwrap()]);
        assert_eq!(config.lmtp_socket, Some(PathBuf::from("/run/roost/lmtp.sock")));
        assert!(config.lmtp_listen.is_empty());
    }

    #[test]
    fn lmtp_socket_and_listeners() {
        let text = "data_dir = \"/srv/mail\"\n[lmtp]\nsocket = \"\"\nlisten = [\"127.0.0.1:24\"]";
        let config = Config::parse("test.toml", text, Overrides::default()).unwrap();
        assert_eq!(config.lmtp_socket, None);
        assert_eq!(config.lmtp_listen, vec!["127.0.0.1:24".parse().unwrap()]);
        let config = Config::parse("test.toml", "data_dir = \"/srv/mail\"", Overrides::default()).unwrap();
        assert_eq!(config.lmtp_socket, Some(PathBuf::from("/srv/mail/lmtp.sock")));
    }

    #[test]
    fn backups_are_off_by_default_and_scheduled_with_dir_every_keep() {
        let config = Config::parse("test.toml", "", Overrides::default()).unwrap();
        assert_eq!(config.backup, Backups { dir: None, every: None, keep: 7 });
        let text = "[backup]\ndir = \"/mnt/usb\"\nevery = \"12h\"\nkeep = 3";
        let config = Config::parse("test.toml", text, Overrides::default()).unwrap();
        assert_eq!(config.backup, Backups { dir: Some("/mnt/usb".into()), every: Some(43200), keep: 3 });
        let config = Config::parse("test.toml", "[backup]\nevery = \"off\"", Overrides::default()).unwrap();
        assert_eq!(config.backup.every, None);
        for (text, expected) in [
            ("[backup]\nevery = \"1d\"", "needs dir"),
            ("[backup]\ndir = \"/b\"\nevery = \"daily\"", "[backup] every"),
            ("[backup]\ndir = \"/b\"\nkeep = 0", "keep at least 1"),
            ("[backup]\nwhen = 3", "when"),
        ] {
            let problem = Config::parse("test.toml", text, Overrides::default()).unwrap_err().0;
            assert!(problem.contains(expected), "{text}: {problem}");
        }
    }

    #[test]
    fn quota_defaults_are_off_and_sizes_take_units() {
        let config = Config::parse("test.toml", "", Overrides::default()).unwrap();
        assert_eq!(config.quota.settings.storage, 0);
        assert_eq!(config.quota.settings.warn, vec![80, 95]);
        assert!(config.quota.lmtp_permanent);
        assert!(config.quota.admins.is_empty());
        let text = "[alerts]\nadmin = \"Dad\"\n[quota]\nstorage = \"2G\"\nmessages = 5000\nhousehold_storage = 1048576\nwarn = [90]\nlmtp_over_quota = \"temporary\"";
        let config = Config::parse("test.toml", text, Overrides::default()).unwrap();
        assert_eq!(config.quota.settings.storage, 2 << 30);
        assert_eq!(config.quota.settings.messages, 5000);
        assert_eq!(config.quota.settings.household_storage, 1 << 20);
        assert_eq!(config.quota.settings.warn, vec![90]);
        assert!(!config.quota.lmtp_permanent);
        assert_eq!(config.quota.admins, vec!["dad".to_string()]);
        for (text, problem) in [
            ("[quota]\nstorage = \"2X\"", "unknown unit"),
            ("[quota]\nwarn = [0]", "percentages"),
            ("[quota]\nlmtp_over_quota = \"later\"", "permanent"),
            ("[quota]\nstorag = 1", "unknown setting"),
        ] {
            let found = Config::parse("test.toml", text, Overrides::default()).unwrap_err().0;
            assert!(found.contains(problem), "{text}: {found}");
        }
    }

    #[test]
    fn alerts_can_be_turned_off_and_copied_to_an_admin() {
        let text = "[alerts]\nenabled = false\nadmin = \"Dad\"";
        let config = Config::parse("test.toml", text, Overrides::default()).unwrap();
        assert_eq!(config.alerts, Alerts { enabled: false, admin: Some("dad".into()) });
        let config = Config::parse("test.toml", "[alerts]\nadmin = \"\"", Overrides::default()).unwrap();
        assert_eq!(config.alerts, Alerts { enabled: true, admin: None });
    }

    #[test]
    fn mistakes_are_reported_clearly() {
        let cases = [
            ("colour = 1", "unknown setting"),
            ("[imap]\nlisten = [\"nowhere\"]", "not an address"),
            ("[limits]\nline_length = 100", "at least 8192"),
            ("[limits]\nline_length = \"big\"", "expected an integer"),
            ("[tls]\ncert = \"a.pem\"", "both cert and key"),
            ("board = \"toaster\"", "unknown board"),
            ("[smtp]\nport = 25", "line 1: unknown table [smtp]"),
            ("log_level = \"info\"\n[imap]\nlisten = []\nlisen_tls = []", "line 4: [imap] lisen_tls: unknown setting"),
            ("[imap]\nplaintext_auth = \"sometimes\"", "plaintext_auth"),
            ("[lmtp]\nlisten = [\"localhost\"]", "not an address"),
            ("[lmtp]\nport = 24", "[lmtp] port: unknown setting"),
            (
                "[limits]\nnever_limit = [\"127.0.0.1\", \"10.0.0.0/40\"]",
                "line 2: [limits] never_limit: \"10.0.0.0/40\"",
            ),
            (
                "[limits]\n\nnever_limit = [\"localhost\"]",
                "line 3: [limits] never_limit: \"localhost\" is not an address",
            ),
            ("[limits]\nnever_limit = \"127.0.0.1\"", "expected an array"),
            ("[alerts]\nenabled = \"yes\"", "line 2: [alerts] enabled: expected true or false"),
            ("[alerts]\nadmin = \"a b\"", "[alerts] admin: a user name may contain"),
            ("[limits]\nlock_failures = 5\nlock_seconds = 0", "lock_seconds must be at least 1"),
            ("[limits]\ncompress_level = 0", "compress_level must be from 1 to 9"),
            ("[limits]\ncompress_level = 10", "compress_level must be from 1 to 9"),
            ("[limits]\nmax_connections = 10", "max_preauth_connections (250) must not exceed max_connections (10)"),
            ("[access]\nallow = [\"192.168.1.0/33\"]", "line 2: [access] allow: \"192.168.1.0/33\""),
            ("[access]\ndeny = \"10.0.0.1\"", "[access] deny: expected an array"),
            ("[access]\nalow = []", "line 2: [access] alow: unknown setting"),
            ("[access.users.alice]\nallow = []", "line 1: unknown table [access.users.alice]"),
            ("[limits]\nban_seconds = 100\nban_max_seconds = 10", "ban_max_seconds must be at least ban_seconds"),
            ("[limits]\nnever_ban = [\"home\"]", "[limits] never_ban: \"home\" is not an address"),
        ];
        for (text, expected) in cases {
            let problem = Config::parse("test.toml", text, Overrides::default()).unwrap_err().0;
            assert!(problem.contains(expected), "{text:?} gave {problem:?}");
        }
    }
}
