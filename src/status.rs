//! `roost status`: how the server is doing, in one screen.
//!
//! With the server running, the CLI asks it (`control::status`: what only
//! the running server knows — its listeners, deliveries today, recent
//! failed logins, bans); stopped, it shows what the configuration and the
//! database tell and says "not running". Both print the text
//! [`render`] makes from [`Facts`], one `key: value` line each (lists
//! indented under their line), so people and scripts read the same thing.
//!
//! Exit codes follow LSB's `status` action (as `systemctl status` does):
//! 0 running, 3 not running, 4 the status could not be told (a broken
//! configuration, say).
//!
//! "Today" is the local day: the CLI finds its time zone's offset with
//! `date +%z` (the C library reads `/etc/localtime` and `TZ`; roost has no
//! zone database of its own) and sends the unix time of local midnight;
//! without `date`, UTC, and the line says so.
//!
//! The certificate's dates and names are read by a small DER walker
//! ([`x509`]); a certificate within 30 days of its end gets a warning line.

pub mod x509;

use std::path::PathBuf;

use crate::config::{Board, Config};
use crate::store::{human_bytes, BanRecord, DiskUsage};
use crate::{control, store};

/// Days before the certificate's end when `roost status` warns.
const EXPIRY_WARNING_DAYS: i64 = 30;

/// LSB exit codes of `status`.
pub const EXIT_NOT_RUNNING: u8 = 3;
pub const EXIT_UNKNOWN: u8 = 4;

/// A failed login, as `roost status` lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub time: i64,
    pub ip: std::net::IpAddr,
    pub user: String,
}

/// What only the running server knows.
pub struct Running {
    pub started: i64,
    pub delivered_today: u64,
    /// Local midnight, or the start if that was later.
    pub counted_since: i64,
    /// Newest first.
    pub failures: Vec<Failure>,
}

/// What the files say: read off the executor when the server asks.
pub struct FileFacts {
    /// The certificate's path, what it says, and its SHA-256 fingerprint.
    pub certificate: Result<(PathBuf, x509::CertInfo, String), String>,
    pub disk: Result<DiskUsage, String>,
    pub database_size: Option<u64>,
    /// roost's own authority signed the certificate (`ca.pem` beside it,
    /// src/net/tls.rs): it renews by itself.
    pub own_authority: bool,
}

/// Everything `roost status` shows.
pub struct Facts {
    pub version: String,
    pub board: String,
    pub running: Option<Running>,
    /// `KIND ADDRESS` lines (the ports file's form).
    pub listeners: Vec<String>,
    pub users: Vec<String>,
    pub bans: Vec<(String, BanRecord)>,
    pub files: FileFacts,
    pub now: i64,
    /// The full-text index: messages waiting for it and left unindexed
    /// (None: not kept).
    pub search_index: Option<(u64, u64)>,
}

/// The search index's line of `roost status`.
pub fn search_index_line(index: Option<(u64, u64)>) -> String {
    match index {
        None => "search index: off (searches of text read every message)".into(),
        Some((waiting, unindexed)) => {
            let mut line = format!("search index: {waiting} message(s) waiting");
            if unindexed > 0 {
                line.push_str(&format!(", {unindexed} searched by scanning (too many distinct words)"));
            }
            line
        }
    }
}

/// What the store says of its search index, for [`Facts::search_index`].
pub fn search_index_facts(reader: &store::Reader) -> Result<Option<(u64, u64)>, store::StoreError> {
    if !reader.fts_kept()? {
        return Ok(None);
    }
    reader.fts_counts().map(Some)
}

/// Reads the certificate at `certificate` and how full the disk is.
pub fn file_facts(config: &Config, certificate: Result<PathBuf, String>) -> FileFacts {
    let certificate = certificate.and_then(|path| {
        let info = x509::read_pem(&path)?;
        let fingerprint = crate::net::tls::fingerprint(&path)?;
        Ok((path, info, fingerprint))
    });
    let database = config.database_path();
    let own_authority = certificate
        .as_ref()
        .is_ok_and(|(path, info, _)| !info.self_issued && crate::net::tls::authority_paths(path).0.exists());
    FileFacts {
        own_authority,
        certificate,
        disk: store::disk_usage(&config.data_dir).map_err(|error| format!("{}: {error}", config.data_dir.display())),
        database_size: std::fs::metadata(&database).ok().map(|metadata| metadata.len()),
    }
}

/// The lines `roost status` prints.
pub fn render(facts: &Facts) -> String {
    let mut lines = Vec::new();
    let time = crate::auth::history::format_time;
    match &facts.running {
        Some(running) => lines.push(format!("roost {}: running since {}", facts.version, time(running.started))),
        None => lines.push(format!("roost {}: not running", facts.version)),
    }
    let description = Board::named(&facts.board).map(|board| board.description).unwrap_or_default();
    lines.push(format!("board: {} ({description})", facts.board));
    let how = if facts.running.is_some() { "" } else { " (configured)" };
    for listener in &facts.listeners {
        let kind = match listener.split(' ').next() {
            Some("imap") => " (IMAP, STARTTLS)",
            Some("imaps") => " (IMAP over TLS)",
            Some("lmtp") => " (LMTP, TCP)",
            Some("lmtp-socket") => " (LMTP)",
            _ => "",
        };
        lines.push(format!("listening: {listener}{kind}{how}"));
    }
    match &facts.files.certificate {
        Ok((path, info, fingerprint)) => {
            let own = facts.files.own_authority;
            let issued = match (info.self_issued, own) {
                (true, _) => "self-signed",
                (false, true) => "signed by roost's own authority (ca.pem beside it), renewed by itself",
                (false, false) => "issued by a CA",
            };
            lines.push(format!("certificate: {}, {issued}, for {}", path.display(), info.names().join(", ")));
            let left = (info.not_after - facts.now).div_euclid(86_400);
            lines.push(format!("certificate expires: {} ({left} days left)", time(info.not_after)));
            if info.not_after <= facts.now {
                lines.push(format!(
                    "WARNING: the certificate expired on {}: phones will refuse it",
                    time(info.not_after)
                ));
            } else if left < EXPIRY_WARNING_DAYS {
                let what = if own { "roost renews it twice a day: see the log for why it did not" } else { "renew it" };
                lines.push(format!("WARNING: the certificate expires in {left} days: {what}"));
            }
            lines.push(format!("certificate SHA-256: {fingerprint}"));
        }
        Err(problem) => lines.push(format!("certificate: {problem}")),
    }
    if facts.users.is_empty() {
        lines.push("users: 0 (add one with `roost user add NAME`)".into());
    } else {
        lines.push(format!("users: {} ({})", facts.users.len(), facts.users.join(", ")));
    }
    lines.push(search_index_line(facts.search_index));
    let database = facts.files.database_size.map_or("none yet".to_string(), human_bytes);
    match &facts.files.disk {
        Ok(disk) => lines.push(format!("storage: database {database}; disk {disk}")),
        Err(problem) => lines.push(format!("storage: database {database}; disk: {problem}")),
    }
    if let Some(running) = &facts.running {
        let since = if running.counted_since == running.started {
            format!("since the server started, {}", time(running.started))
        } else {
            "since local midnight".to_string()
        };
        lines.push(format!("delivered today: {} ({since})", running.delivered_today));
        lines.push(format!("login failures: {} lately (newest first)", running.failures.len()));
        for failure in &running.failures {
            lines.push(format!("  {} from {}: user {:?}", time(failure.time), failure.ip, failure.user));
        }
    } else {
        lines.push("delivered today: unknown (counted by the running server)".into());
        lines
            .push("login failures: unknown (kept by the running server; `roost user log NAME` has each user's)".into());
    }
    let now = u64::try_from(facts.now).unwrap_or(0);
    let current: Vec<&(String, BanRecord)> = facts.bans.iter().filter(|(_, ban)| ban.until > now).collect();
    lines.push(format!("bans: {} in force", current.len()));
    for (address, ban) in current {
        let left = ban.until - now;
        lines.push(format!(
            "  {address} until {} ({left} s left, ban {}): {}",
            crate::auth::ban::date(ban.until),
            ban.bans,
            ban.reason
        ));
    }
    lines.join("\n")
}

/// The listeners a stopped server would open, in the ports file's form.
fn configured_listeners(config: &Config) -> Vec<String> {
    let mut lines = Vec::new();
    for (kind, addresses) in
        [("imap", &config.imap_listen), ("imaps", &config.imaps_listen), ("lmtp", &config.lmtp_listen)]
    {
        lines.extend(addresses.iter().map(|address| format!("{kind} {address}")));
    }
    if let Some(socket) = &config.lmtp_socket {
        lines.push(format!("lmtp-socket {}", socket.display()));
    }
    lines
}

/// `roost status`: prints the status; Ok(true) when the server runs.
pub fn run(config: &Config) -> Result<bool, String> {
    let socket = config.control_socket();
    let now = crate::util::datetime::DateTime::now().unix;
    // `control::server_running`, but a user who may not reach the socket
    // (the data directory is the service user's alone, 0700) must not
    // read "not running".
    let running = match std::os::unix::net::UnixStream::connect(&socket) {
        Ok(_) => true,
        Err(error) if error.kind() == std::io::ErrorKind::PermissionDenied => {
            return Err(format!(
                "cannot reach {}: {error} (the data directory is the service's: try `sudo roost status`)",
                socket.display()
            ));
        }
        Err(_) => false,
    };
    if running {
        let (midnight, zone) = local_midnight(now);
        let text = control::request(&socket, &["status", &midnight.to_string()])?;
        print(&text);
        if let Some(zone) = zone {
            print(&format!("(local time: {zone})"));
        }
        return Ok(true);
    }
    let path = config.database_path();
    let (users, bans, search_index) = if path.exists() {
        store::run_offline(&path, config.limits.cache_size, 0, async |store| {
            let reader = store.read()?;
            let users = reader.users()?.into_iter().map(|(name, _)| name).collect();
            Ok((users, reader.bans()?, search_index_facts(&reader)?))
        })
        .map_err(|error| format!("cannot read {}: {error}", path.display()))?
    } else {
        (Vec::new(), Vec::new(), None)
    };
    let certificate = match &config.tls_cert {
        Some(cert) => cert.clone(),
        None => config.data_dir.join("tls").join("cert.pem"),
    };
    let certificate = if certificate.exists() {
        Ok(certificate)
    } else {
        Err(format!("none yet at {} (made at the first start)", certificate.display()))
    };
    let facts = Facts {
        version: env!("CARGO_PKG_VERSION").to_string(),
        board: config.board.clone(),
        running: None,
        listeners: configured_listeners(config),
        users,
        bans,
        files: file_facts(config, certificate),
        now,
        search_index,
    };
    print(&render(&facts));
    print(&format!("(no answer on {}: start it with `systemctl start roost`)", socket.display()));
    Ok(false)
}

fn print(text: &str) {
    use std::io::Write;
    // A reader gone away (`roost status | head`) is no error.
    let _ = writeln!(std::io::stdout(), "{text}");
}

/// Unix seconds of local midnight today, and a note when the zone is not
/// known (then it is UTC's).
fn local_midnight(now: i64) -> (i64, Option<&'static str>) {
    let offset = std::process::Command::new("date")
        .arg("+%z")
        .stderr(std::process::Stdio::null())
        .output()
        .ok()
        .and_then(|output| parse_offset(String::from_utf8_lossy(&output.stdout).trim()));
    match offset {
        Some(minutes) => (midnight(now, minutes), None),
        None => (midnight(now, 0), Some("unknown, UTC used")),
    }
}

/// `+0530` → 330 minutes east of UTC.
fn parse_offset(text: &str) -> Option<i64> {
    let (sign, digits) = match text.as_bytes() {
        [b'+', rest @ ..] => (1, rest),
        [b'-', rest @ ..] => (-1, rest),
        _ => return None,
    };
    if digits.len() != 4 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let number = |bytes: &[u8]| bytes.iter().fold(0i64, |sum, digit| sum * 10 + i64::from(digit - b'0'));
    Some(sign * (number(&digits[..2]) * 60 + number(&digits[2..])))
}

/// The unix time of midnight of the local day holding `now`, for a zone
/// `offset` minutes east of UTC.
fn midnight(now: i64, offset: i64) -> i64 {
    let local = now + offset * 60;
    local.div_euclid(86_400) * 86_400 - offset * 60
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_and_midnights() {
        assert_eq!(parse_offset("+0000"), Some(0));
        assert_eq!(parse_offset("+0530"), Some(330));
        assert_eq!(parse_offset("-0800"), Some(-480));
        assert_eq!(parse_offset("0800"), None);
        assert_eq!(parse_offset("+08"), None);
        let day = 86_400;
        let noon = 20_000 * day + day / 2;
        assert_eq!(midnight(noon, 0), 20_000 * day);
        // 12:00 UTC is 17:30 in India: its midnight was 18:30 UTC the day before.
        assert_eq!(midnight(noon, 330), 20_000 * day - 330 * 60);
        // 01:00 UTC is 17:00 the day before in California.
        assert_eq!(midnight(20_000 * day + 3600, -480), 19_999 * day + 480 * 60);
    }

    #[test]
    fn render_warns_before_expiry_and_lists_bans_in_force() {
        let now = 1_800_000_000;
        let info = x509::CertInfo {
            common_name: Some("pi".into()),
            not_before: now - 86_400,
            not_after: now + 10 * 86_400,
            dns_names: vec!["pi.local".into()],
            ip_addresses: vec!["192.168.1.20".parse().unwrap()],
            self_issued: true,
        };
        let ban = |until: u64| BanRecord { until, bans: 1, reason: "10 failed logins".into() };
        let facts = Facts {
            version: "9.9".into(),
            board: "rpi-zero".into(),
            running: None,
            listeners: vec!["imaps [::]:993".into()],
            users: vec!["alice".into()],
            bans: vec![("192.0.2.1".into(), ban(now as u64 + 60)), ("192.0.2.2".into(), ban(now as u64 - 60))],
            files: FileFacts {
                certificate: Ok((PathBuf::from("/x/cert.pem"), info, "AA:BB".into())),
                disk: Err("no disk".into()),
                database_size: None,
                own_authority: false,
            },
            now,
            search_index: Some((3, 0)),
        };
        let text = render(&facts);
        assert!(text.starts_with("roost 9.9: not running\nboard: rpi-zero (Raspberry Pi Zero"), "{text}");
        assert!(text.contains("listening: imaps [::]:993 (IMAP over TLS) (configured)"), "{text}");
        assert!(text.contains("for pi.local, 192.168.1.20"), "{text}");
        assert!(text.contains("(10 days left)\nWARNING: the certificate expires in 10 days"), "{text}");
        assert!(text.contains("bans: 1 in force\n  192.0.2.1 until"), "{text}");
        assert!(!text.contains("192.0.2.2"), "{text}");
    }
}
