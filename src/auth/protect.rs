//! Account protection against guessing from many addresses.
//!
//! Per-address limits (the fair password queue, bans) stop one address;
//! a botnet spreads its guesses over thousands. So failures are also
//! counted per account name, but only those from addresses the account has
//! never logged in from (its *known* addresses, kept in the store, see
//! below). Past `lock_failures` of them within `lock_window` seconds the
//! name is locked for `lock_seconds`: a login to it from an unknown
//! address is then refused without checking the password, while its known
//! addresses, and those in `never_limit` (the machine itself, the LAN if
//! the admin put it there), log in as before. So a botnet can neither
//! lock the family out nor keep guessing: it gets about `lock_failures`
//! guesses per `lock_window + lock_seconds`, whatever its size.
//!
//! Decisions:
//! - A refused login is answered exactly like a wrong password (same text,
//!   after the same `auth_failure_delay`, the same `login failed` log line
//!   with "account locked" inside its parentheses), not with `UNAVAILABLE`:
//!   a guesser cannot tell that its guesses go unchecked, and the right
//!   password guessed during a lock is refused and crossed off its list.
//!   The cost: a family member on a new address (a hotel) during a lock is
//!   told "wrong password"; the log and the lock alert say why.
//! - Names are counted whether or not such a user exists (the normalised
//!   name), with the same thresholds: an unknown name locks, and is then
//!   refused, exactly like a real one, so nothing tells which users exist.
//! - The count is a leaky bucket: it drains `lock_failures` per
//!   `lock_window`, so a name locks after `lock_failures` failures in
//!   quick succession, and never when they come slower than that rate.
//!   Refusals during a lock do not count; when the lock ends the count
//!   starts from zero. A lock is not lifted by a successful login (else a
//!   family's webmail, logging in on every click, would keep resetting a
//!   guesser's count).
//! - Memory is bounded by `lock_accounts` names (about 150 bytes each):
//!   when full, finished counts go first, then the name idle longest that
//!   is not locked. Pushing a name out takes `lock_accounts` failures for
//!   other names, every one of them a checked (hashed, delayed) login.
//!
//! Known addresses: every successful login records its address (its
//! [`limit_key`]: an IPv6 address by its /64) with the time, in the store
//! (`KNOWN_ADDRESSES`, the 32 most recent per user), and the device
//! password's name when one was used (`KNOWN_DEVICES`). The write is not
//! durable on its own (no fsync) and happens only when the address or
//! device is new to the account or was last written over an hour ago; a
//! bounded map in memory remembers what was written lately, so webmail
//! logging in on every click costs neither a read nor a write. The same
//! record tells the alerts (`crate::alert`) when an account logs in from a
//! new address or device.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::alert::{Alert, Kind};
use crate::config::Limits;
use crate::server::Server;
use crate::store::{KnownLogins, Op};
use crate::util::address::limit_key;
use crate::util::datetime::DateTime;

/// How often a login from one address (or device) is written again.
const RECORD_EVERY: Duration = Duration::from_secs(3600);
/// (user, address or device) pairs remembered as lately written.
const RECORDED_MAX: usize = 4096;

/// Whether a login may have its password checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gate {
    Open,
    /// Refused without checking: the name is locked and the address is unknown to it.
    Locked,
}

struct Account {
    /// Failures in the bucket, draining `lock_failures` per window.
    level: f64,
    updated: Instant,
    locked_until: Option<Instant>,
}

/// What was lately written to the store as a known login.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Recorded {
    Address(IpAddr),
    Device(String),
}

/// Per-name failure counts and locks, plus what was lately recorded.
pub struct Protection {
    failures: u32,
    window: Duration,
    lock: Duration,
    capacity: usize,
    accounts: HashMap<String, Account>,
    recorded: HashMap<(u32, Recorded), Instant>,
}

impl Protection {
    pub fn new(limits: &Limits) -> Protection {
        Protection {
            failures: limits.lock_failures,
            window: Duration::from_secs(limits.lock_window.max(1)),
            lock: Duration::from_secs(limits.lock_seconds),
            capacity: limits.lock_accounts.max(1),
            accounts: HashMap::new(),
            recorded: HashMap::new(),
        }
    }

    fn enabled(&self) -> bool {
        self.failures > 0
    }

    /// Whether `name` is locked at `now` (a lock that ran out is forgotten,
    /// its count with it).
    fn is_locked(&mut self, name: &str, now: Instant) -> bool {
        let Some(account) = self.accounts.get(name) else { return false };
        match account.locked_until {
            Some(until) if now < until => true,
            Some(_) => {
                self.accounts.remove(name);
                false
            }
            None => false,
        }
    }

    /// Counts a failure for `name`; true when it is the one that locks it.
    fn count_failure(&mut self, name: &str, now: Instant) -> bool {
        if self.is_locked(name, now) {
            return false;
        }
        if !self.accounts.contains_key(name) && self.accounts.len() >= self.capacity {
            self.make_room(now);
        }
        let rate = f64::from(self.failures) / self.window.as_secs_f64();
        let account =
            self.accounts.entry(name.to_string()).or_insert(Account { level: 0.0, updated: now, locked_until: None });
        let drained = now.saturating_duration_since(account.updated).as_secs_f64() * rate;
        account.level = (account.level - drained).max(0.0) + 1.0;
        account.updated = now;
        // Locked once more than lock_failures - 1 failures are outstanding:
        // lock_failures in quick succession, each drained a little.
        if account.level > f64::from(self.failures.saturating_sub(1)) {
            account.locked_until = Some(now + self.lock);
            return true;
        }
        false
    }

    /// Drops counts that drained away; if none did, the name idle longest
    /// that is not locked (or, all being locked, the one whose lock ends first).
    fn make_room(&mut self, now: Instant) {
        let rate = f64::from(self.failures) / self.window.as_secs_f64();
        self.accounts.retain(|_, account| match account.locked_until {
            Some(until) => now < until,
            None => account.level - now.saturating_duration_since(account.updated).as_secs_f64() * rate > 0.0,
        });
        if self.accounts.len() < self.capacity {
            return;
        }
        let victim = self
            .accounts
            .iter()
            .min_by_key(|(_, account)| (account.locked_until.is_some(), account.locked_until, account.updated))
            .map(|(name, _)| name.clone());
        if let Some(victim) = victim {
            self.accounts.remove(&victim);
        }
    }

    fn recorded_lately(&self, user: u32, what: &Recorded, now: Instant) -> bool {
        self.recorded.get(&(user, what.clone())).is_some_and(|when| now.saturating_duration_since(*when) < RECORD_EVERY)
    }

    /// Whether a login of `user` was recorded lately, in memory: the
    /// store may not have it yet (its write is not waited for), and the
    /// next login must not take itself for the account's first.
    fn recorded_any(&self, user: u32) -> bool {
        self.recorded.keys().any(|(recorded, _)| *recorded == user)
    }

    fn note_recorded(&mut self, user: u32, what: Recorded, now: Instant) {
        if self.recorded.len() >= RECORDED_MAX {
            self.recorded.retain(|_, when| now.saturating_duration_since(*when) < RECORD_EVERY);
            if self.recorded.len() >= RECORDED_MAX {
                self.recorded.clear();
            }
        }
        self.recorded.insert((user, what), now);
    }

    #[cfg(test)]
    fn watched(&self) -> usize {
        self.accounts.len()
    }
}

/// Whether `user` (None: no such user) has logged in from `ip` before, or
/// `ip` is in `never_limit` (treated as known).
fn known_address(server: &Server, user: Option<u32>, ip: IpAddr) -> bool {
    if server.config.limits.never_limit.contains(ip) {
        return true;
    }
    let Some(user) = user else { return false };
    let key = limit_key(ip);
    if server.protect.borrow().recorded_lately(user, &Recorded::Address(key), Instant::now()) {
        return true;
    }
    match server.store.read().and_then(|reader| reader.known_logins(user)) {
        Ok(known) => {
            let text = key.to_string();
            known.addresses.iter().any(|(address, _)| *address == text)
        }
        Err(error) => {
            log::error!("cannot read the known addresses of user {user}: {error}");
            false
        }
    }
}

/// Before a password is checked: may a login to `name` (the normalised
/// name; `user` its id if such a user exists) from `ip` be checked?
pub fn check(server: &Server, name: &str, user: Option<u32>, ip: IpAddr) -> Gate {
    {
        let mut protection = server.protect.borrow_mut();
        if !protection.enabled() || !protection.is_locked(name, Instant::now()) {
            return Gate::Open;
        }
    }
    if known_address(server, user, ip) {
        Gate::Open
    } else {
        Gate::Locked
    }
}

/// A login to `name` from `ip` failed (a wrong password, or refused by
/// the lock, which does not count again).
pub fn failed(server: &Server, name: &str, user: Option<u32>, ip: IpAddr) {
    let enabled = server.protect.borrow().enabled();
    if !enabled || known_address(server, user, ip) {
        // A family member mistyping at home is no attack.
        return;
    }
    let now = Instant::now();
    let locked = server.protect.borrow_mut().count_failure(name, now);
    if !locked {
        return;
    }
    let (failures, seconds) = {
        let protection = server.protect.borrow();
        (protection.failures, protection.lock.as_secs())
    };
    log::warn!(
        "account {name:?} locked for {seconds} s against new addresses: {failures} failed logins from addresses it never logged in from, the last from {ip}"
    );
    if let Some(user) = user {
        let at = DateTime::now();
        let until = at.unix.max(0) as u64 + seconds;
        server.alerts.raise(Alert::new(Kind::Locked, user, name, ip, at).until(until).failures(failures));
    }
}

/// A login of `user` (`name`) from `ip` succeeded, with the password of
/// `device` if one was used: records the address and device as known (see
/// the module documentation) and raises a new-address or new-device alert.
pub fn succeeded(server: &Server, user: u32, name: &str, ip: IpAddr, device: Option<&str>) {
    let now = Instant::now();
    let key = limit_key(ip);
    let address = Recorded::Address(key);
    let device_key = device.map(|device| Recorded::Device(device.to_string()));
    {
        let protection = server.protect.borrow();
        let fresh = |what: &Recorded| protection.recorded_lately(user, what, now);
        if fresh(&address) && device_key.as_ref().is_none_or(fresh) {
            return;
        }
    }
    let known = match server.store.read().and_then(|reader| reader.known_logins(user)) {
        Ok(known) => known,
        Err(error) => {
            log::error!("cannot read the known addresses of user {name}: {error}");
            return;
        }
    };
    let at = DateTime::now();
    let unix = at.unix.max(0) as u64;
    let text = key.to_string();
    let mut news = News::of(&known, &text, device, unix);
    news.first_ever &= !server.protect.borrow().recorded_any(user);
    if news.write {
        server.store.submit(Op::RecordKnownLogin { user, address: text, device: device.map(str::to_string), at: unix });
    }
    {
        let mut protection = server.protect.borrow_mut();
        protection.note_recorded(user, address, now);
        if let Some(device_key) = device_key {
            protection.note_recorded(user, device_key, now);
        }
    }
    // Not for the account's very first login (nothing to compare with:
    // the one who set it up), nor for an address from never_limit.
    if news.first_ever {
        return;
    }
    if let (true, Some(device)) = (news.new_device, device) {
        server.alerts.raise(Alert::new(Kind::NewDevice, user, name, ip, at).device(device));
    } else if news.new_address && device.is_none() && !server.config.limits.never_limit.contains(ip) {
        // A known device's password from a new address (a phone on mobile
        // data) is no news: the device is known.
        server.alerts.raise(Alert::new(Kind::NewAddress, user, name, ip, at));
    }
}

/// What a successful login adds to what the store knows.
#[derive(Debug, PartialEq, Eq)]
struct News {
    first_ever: bool,
    new_address: bool,
    new_device: bool,
    /// The store must be written (something new, or last written an hour ago).
    write: bool,
}

impl News {
    fn of(known: &KnownLogins, address: &str, device: Option<&str>, now: u64) -> News {
        let age = |list: &[(String, u64)], what: &str| {
            list.iter().find(|(name, _)| name == what).map(|(_, time)| now.saturating_sub(*time))
        };
        let address_age = age(&known.addresses, address);
        let device_age = device.map(|device| age(&known.devices, device));
        let stale = |age: Option<u64>| age.is_none_or(|age| age >= RECORD_EVERY.as_secs());
        News {
            first_ever: known.addresses.is_empty() && known.devices.is_empty(),
            new_address: address_age.is_none(),
            new_device: matches!(device_age, Some(None)),
            write: stale(address_age) || device_age.is_some_and(stale),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn protection(failures: u32, window: u64, lock: u64, capacity: usize) -> Protection {
        let mut limits = crate::config::Board::named("generic").unwrap().limits;
        limits.lock_failures = failures;
        limits.lock_window = window;
        limits.lock_seconds = lock;
        limits.lock_accounts = capacity;
        Protection::new(&limits)
    }

    #[test]
    fn a_burst_locks_and_the_lock_runs_out() {
        let mut protection = protection(3, 60, 30, 16);
        let start = Instant::now();
        assert!(!protection.count_failure("alice", start));
        assert!(!protection.count_failure("alice", start));
        assert!(!protection.is_locked("alice", start));
        assert!(protection.count_failure("alice", start), "the third failure locks");
        assert!(protection.is_locked("alice", start + Duration::from_secs(29)));
        // Failures during the lock neither lock again nor lengthen it.
        assert!(!protection.count_failure("alice", start + Duration::from_secs(10)));
        assert!(!protection.is_locked("bob", start));
        assert!(!protection.is_locked("alice", start + Duration::from_secs(30)));
        // After the lock the count starts from zero.
        let later = start + Duration::from_secs(31);
        assert!(!protection.count_failure("alice", later));
        assert!(!protection.count_failure("alice", later));
        assert!(protection.count_failure("alice", later));
    }

    #[test]
    fn failures_slower_than_the_rate_never_lock() {
        // 3 per 60 s drain one every 20 s: one failure every 25 s never adds up.
        let mut protection = protection(3, 60, 30, 16);
        let start = Instant::now();
        for step in 0..100 {
            assert!(!protection.count_failure("alice", start + Duration::from_secs(25 * step)));
        }
        // One every 10 s does.
        let start = start + Duration::from_secs(10_000);
        let locked = (0..10).any(|step| protection.count_failure("alice", start + Duration::from_secs(10 * step)));
        assert!(locked);
    }

    #[test]
    fn memory_is_bounded_and_locked_names_are_kept() {
        let mut protection = protection(2, 3600, 3600, 8);
        let start = Instant::now();
        protection.count_failure("alice", start);
        assert!(protection.count_failure("alice", start));
        for index in 0..1000 {
            protection.count_failure(&format!("name{index}"), start + Duration::from_millis(index));
            assert!(protection.watched() <= 8);
        }
        assert!(protection.is_locked("alice", start + Duration::from_secs(1)), "a locked name is not pushed out");
        // Off: nothing is counted.
        let mut off = protection_off();
        assert!(!off.enabled());
        assert!(!off.is_locked("alice", start));
    }

    fn protection_off() -> Protection {
        protection(0, 900, 900, 8)
    }

    #[test]
    fn news_of_a_login() {
        let known = KnownLogins {
            addresses: vec![("192.0.2.1".into(), 1000), ("192.0.2.2".into(), 5000)],
            devices: vec![("phone".into(), 5000)],
        };
        let news = News::of(&known, "192.0.2.2", None, 5100);
        assert_eq!(news, News { first_ever: false, new_address: false, new_device: false, write: false });
        // Known, but written over an hour ago: written again, no alert.
        let news = News::of(&known, "192.0.2.1", None, 5100);
        assert_eq!(news, News { first_ever: false, new_address: false, new_device: false, write: true });
        let news = News::of(&known, "192.0.2.3", Some("phone"), 5100);
        assert_eq!(news, News { first_ever: false, new_address: true, new_device: false, write: true });
        let news = News::of(&known, "192.0.2.2", Some("laptop"), 5100);
        assert_eq!(news, News { first_ever: false, new_address: false, new_device: true, write: true });
        let news = News::of(&KnownLogins::default(), "192.0.2.2", Some("laptop"), 5100);
        assert_eq!(news, News { first_ever: true, new_address: true, new_device: true, write: true });
    }
}
