//! Login history: per user, bounded, in the store; what `roost user log` shows.
//!
//! Every login of an existing user, successful or not, becomes a
//! [`LoginEntry`]: time, address, device (the device password's name, or
//! the name the client gave in an ID command before logging in), TLS or
//! not, and the outcome with its reason ([`FailureReason`]). Unknown user
//! names get nothing: a stranger's guesses must not create rows.
//!
//! Webmail logs in again on every click (thousands of cached logins a
//! second at most), so a login must not cost an fsync, nor even a write
//! each:
//! - entries go to the store as operations that are not durable before
//!   the answer ([`Op::RecordLogin`] is committed with the next group);
//! - the store counts a login into a recent alike entry (same outcome,
//!   address, device and TLS within the hour) instead of adding one, and
//!   drops the oldest beyond the board's `login_history`;
//! - before that, the [`Recorder`] here counts repeated successes in
//!   memory: the first of a kind is written at once, the next ones alike
//!   within [`BATCH`] only add to a count that goes out with the next one
//!   after it (or when the history is read). A crash loses at most that
//!   count; failures are always written (they are slowed by argon2 and the
//!   failure delay anyway).
//!
//! Times are stored as unix seconds and shown in UTC.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::store::{DeviceRecord, DeviceSource, LoginEntry, LoginOutcome, Op, Store};
use crate::util::datetime::{civil_from_days, DateTime};

/// How long alike successes are only counted in memory.
const BATCH: Duration = Duration::from_secs(60);
/// Kinds of recent success remembered; beyond it the oldest counts are
/// written out.
const MAX_PENDING: usize = 1024;

/// What names an alike login: user, outcome, address, device, TLS.
#[derive(Clone, PartialEq, Eq, Hash)]
struct Kind {
    user: u32,
    address: String,
    device: String,
    device_source: DeviceSource,
    tls: bool,
}

struct Pending {
    written: Instant,
    /// Logins counted since, not yet written.
    count: u32,
    first: i64,
    last: i64,
}

#[derive(Default)]
pub struct Recorder {
    pending: HashMap<Kind, Pending>,
    /// (user, device) → when its last use was written, and from where.
    devices: HashMap<(u32, String), (Instant, String)>,
}

/// The entry for one login now.
pub fn entry(outcome: LoginOutcome, ip: IpAddr, device: Option<&str>, client: Option<&str>, tls: bool) -> LoginEntry {
    let now = DateTime::now().unix;
    let (device, device_source) = match (device, client) {
        (Some(device), _) => (device.to_string(), DeviceSource::Password),
        (None, Some(client)) => (client.to_string(), DeviceSource::ClientId),
        (None, None) => (String::new(), DeviceSource::None),
    };
    LoginEntry { first: now, last: now, count: 1, outcome, address: ip.to_string(), device, device_source, tls }
}

impl Recorder {
    /// Records `entry` for `user` (who exists), keeping `keep` entries.
    pub fn record(&mut self, store: &Store, user: u32, entry: LoginEntry, keep: u32) {
        if entry.outcome != LoginOutcome::Success {
            store.submit(Op::RecordLogin { user, entry, keep });
            return;
        }
        let kind = Kind {
            user,
            address: entry.address.clone(),
            device: entry.device.clone(),
            device_source: entry.device_source,
            tls: entry.tls,
        };
        if let Some(pending) = self.pending.get_mut(&kind) {
            if pending.written.elapsed() < BATCH {
                pending.count += 1;
                pending.last = entry.last;
                pending.first = pending.first.min(entry.first);
                return;
            }
        }
        // Written now, with whatever was counted since the last write.
        let mut entry = entry;
        if let Some(pending) = self.pending.remove(&kind) {
            entry.count += pending.count;
            entry.first = if pending.count > 0 { pending.first } else { entry.first };
        }
        if self.pending.len() >= MAX_PENDING {
            self.flush(store, None, keep);
        }
        let now = entry.last;
        store.submit(Op::RecordLogin { user, entry, keep });
        self.pending.insert(kind, Pending { written: Instant::now(), count: 0, first: now, last: now });
    }

    /// Notes that `user` logged in with device password `device` from `ip`
    /// (its "last used" in `roost user device list`): written at once for
    /// a new address, else at most once per [`BATCH`].
    pub fn device_used(&mut self, store: &Store, user: u32, device: &str, ip: IpAddr) {
        let address = ip.to_string();
        let key = (user, device.to_string());
        if self.devices.get(&key).is_some_and(|(written, last)| written.elapsed() < BATCH && *last == address) {
            return;
        }
        if self.devices.len() >= MAX_PENDING {
            self.devices.retain(|_, (written, _)| written.elapsed() < BATCH);
            if self.devices.len() >= MAX_PENDING {
                self.devices.clear();
            }
        }
        let when = DateTime::now().unix;
        store.submit(Op::DeviceUsed { user, device: device.to_string(), when, address: address.clone() });
        self.devices.insert(key, (Instant::now(), address));
    }

    /// Writes out the counts held in memory (of `user`, or all).
    fn flush(&mut self, store: &Store, user: Option<u32>, keep: u32) {
        for op in self.take(user, keep) {
            store.submit(op);
        }
    }

    /// The writes of the counts held in memory (of `user`, or all), for a
    /// caller that waits for them: before the history is read, so it shows
    /// every login.
    pub fn take(&mut self, user: Option<u32>, keep: u32) -> Vec<Op> {
        let kinds: Vec<Kind> =
            self.pending.keys().filter(|kind| user.is_none_or(|user| kind.user == user)).cloned().collect();
        let mut ops = Vec::new();
        for kind in kinds {
            let Some(pending) = self.pending.remove(&kind) else { continue };
            if pending.count == 0 {
                continue;
            }
            let entry = LoginEntry {
                first: pending.first,
                last: pending.last,
                count: pending.count,
                outcome: LoginOutcome::Success,
                address: kind.address.clone(),
                device: kind.device.clone(),
                device_source: kind.device_source,
                tls: kind.tls,
            };
            ops.push(Op::RecordLogin { user: kind.user, entry, keep });
        }
        ops
    }
}

/// "2026-12-06 07:01 UTC"; "never" for 0.
pub fn format_time(unix: i64) -> String {
    if unix == 0 {
        return "never".into();
    }
    let (year, month, day) = civil_from_days(unix.div_euclid(86_400));
    let second = unix.rem_euclid(86_400);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02} UTC", second / 3600, second % 3600 / 60)
}

/// The history as `roost user log` prints it, newest first.
pub fn history_text(entries: &[LoginEntry]) -> String {
    if entries.is_empty() {
        return "no logins recorded".into();
    }
    let mut text = format!(
        "{:<20}  {:>5}  {:<39}  {:<5}  {:<28}  {}",
        "last (UTC)", "times", "address", "tls", "device", "result"
    );
    for entry in entries {
        let device = match entry.device_source {
            DeviceSource::None => "-".to_string(),
            DeviceSource::Password => format!("{:?}", entry.device),
            DeviceSource::ClientId => format!("client {:?}", entry.device),
        };
        let result = match entry.outcome {
            LoginOutcome::Success => "ok".to_string(),
            LoginOutcome::Failure(reason) => format!("refused: {}", reason.describe()),
        };
        let times = if entry.count > 1 {
            format!("{} since {}", entry.count, format_time(entry.first).trim_end_matches(" UTC"))
        } else {
            "1".into()
        };
        text.push_str(&format!(
            "\n{:<20}  {:>5}  {:<39}  {:<5}  {:<28}  {}",
            format_time(entry.last),
            times,
            entry.address,
            if entry.tls { "yes" } else { "no" },
            device,
            result
        ));
    }
    text
}

/// The devices as `roost user device list` prints them.
pub fn devices_text(devices: &[(String, DeviceRecord)], device_only: bool) -> String {
    let mut text = String::new();
    if devices.is_empty() {
        text.push_str("no device passwords");
    } else {
        text.push_str(&format!("{:<30}  {:<20}  {:<20}  {}", "device", "created", "last used", "last address"));
        for (name, record) in devices {
            text.push_str(&format!(
                "\n{:<30}  {:<20}  {:<20}  {}",
                format!("{name:?}"),
                format_time(record.created),
                format_time(record.last_used),
                if record.last_address.is_empty() { "-" } else { &record.last_address }
            ));
        }
    }
    text.push_str(if device_only {
        "\ndevice passwords only: the main password does not log in over IMAP"
    } else {
        "\nthe main password logs in over IMAP too (roost user device-only NAME on to stop that)"
    });
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::FailureReason;

    #[test]
    fn times_read_in_utc() {
        assert_eq!(format_time(0), "never");
        assert_eq!(format_time(1_796_540_485), "2026-12-06 07:01 UTC");
        assert_eq!(format_time(86_399), "1970-01-01 23:59 UTC");
    }

    #[test]
    fn entries_say_what_happened() {
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        let mut ok = entry(LoginOutcome::Success, ip, Some("Alice's iPhone"), Some("K-9"), true);
        assert_eq!((ok.device.as_str(), ok.device_source), ("Alice's iPhone", DeviceSource::Password));
        ok.count = 3;
        ok.first -= 600;
        let id = entry(LoginOutcome::Failure(FailureReason::DeviceOnly), ip, None, Some("Thunderbird"), false);
        assert_eq!(id.device_source, DeviceSource::ClientId);
        let text = history_text(&[ok, id]);
        assert!(text.contains("\"Alice's iPhone\""), "{text}");
        assert!(text.contains("3 since"), "{text}");
        assert!(text.contains("client \"Thunderbird\""), "{text}");
        assert!(text.contains("refused: main password refused: device passwords only"), "{text}");
        assert_eq!(history_text(&[]), "no logins recorded");
    }
}
