//! Automatic bans: an address that keeps failing to log in is shut out
//! for a while, before any TLS handshake or password check.
//!
//! Failed logins (a wrong password or an unknown user, by LOGIN or
//! AUTHENTICATE) are counted per address as the limits see it
//! ([`Prefix::of_key`]: an IPv4 address, an IPv6 /64) over a sliding
//! window (`ban_window` seconds). The `ban_failures`-th failure within the
//! window bans the address for `ban_seconds`; each later ban of the same
//! address doubles the time, up to `ban_max_seconds`. A ban is remembered
//! for `ban_max_seconds` after it ends, so an address that comes back
//! within a day (at the defaults) gets the longer ban; after that it
//! starts afresh. Addresses in `never_ban` (the machine itself by default,
//! the family's LAN when the admin adds it) are never banned
//! automatically: a phone with an old saved password must not lock the
//! house out. `roost ban add` bans whatever it is told, `never_ban`
//! included; `roost ban del` lifts a ban and forgets its repeats.
//!
//! Only what needs a password counts: LMTP has no login and is never
//! banned; a check the password queue refused unchecked (`Busy`) is not a
//! failure.
//!
//! Memory is bounded by `ban_tracked`: at most that many addresses have
//! failures counted (the one whose last failure is oldest is forgotten
//! first) and at most that many bans are held (the one ending first goes).
//! An address costs about 100 bytes plus 4 per counted failure.
//!
//! This module is the bookkeeping only, with the time passed in, so it can
//! be tested without waiting. `crate::server::Server` owns the [`Bans`],
//! checks them at accept and at LOGIN, logs, and keeps them in the store (the
//! `bans` table) so they survive a restart.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::IpAddr;

use crate::config::Limits;
use crate::store::BanRecord;
use crate::util::address::{Prefix, Prefixes};

/// Accounts remembered per tracked address, for the alert that tells a
/// user their account was being tried.
const MAX_ACCOUNTS: usize = 8;

/// What the board says about bans.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// Failures within `window` that ban (0: no automatic bans).
    pub failures: u32,
    /// Seconds failures are counted over.
    pub window: u64,
    /// Seconds of a first ban; each repeat doubles it.
    pub first: u64,
    /// The longest ban, and how long a ban is remembered after it ends.
    pub max: u64,
    /// Addresses tracked at most, and bans held at most.
    pub tracked: usize,
    pub never_ban: Prefixes,
}

impl Settings {
    pub fn from_limits(limits: &Limits) -> Settings {
        Settings {
            failures: limits.ban_failures,
            window: limits.ban_window,
            first: limits.ban_seconds,
            max: limits.ban_max_seconds,
            tracked: limits.ban_tracked.max(1),
            never_ban: limits.never_ban.clone(),
        }
    }

    /// The length of ban number `count` (1: the first).
    fn length(&self, count: u32) -> u64 {
        let doublings = count.saturating_sub(1).min(32);
        self.first.saturating_mul(1u64 << doublings).min(self.max.max(self.first))
    }
}

/// A ban just begun by a failed login.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BanEvent {
    /// What is banned: the address's [`Prefix::of_key`].
    pub address: Prefix,
    /// Unix seconds.
    pub until: u64,
    /// This is the address's ban number `bans` (1: its first).
    pub bans: u32,
    /// Existing accounts (user ids) it tried while its failures were
    /// counted, at most a few: whom an alert may tell.
    pub accounts: Vec<u32>,
}

/// Failures of one address within the window.
struct Tracked {
    /// Unix seconds of each failure, oldest first, at most `failures`.
    failures: VecDeque<u32>,
    accounts: Vec<u32>,
    /// Its key in [`Bans::order`].
    order: u64,
}

/// The ban list and the failure counters.
pub struct Bans {
    settings: Settings,
    /// Active bans, and ended ones still remembered for their count.
    bans: HashMap<Prefix, BanRecord>,
    /// Banned prefixes that are not one address's key (a CIDR range given
    /// to `roost ban add`): few, checked one by one.
    wide: Vec<Prefix>,
    tracked: HashMap<Prefix, Tracked>,
    /// Tracked addresses by the time of their last failure (a counter
    /// that grows), oldest first: who is forgotten when the table is full.
    order: BTreeMap<u64, Prefix>,
    next_order: u64,
    /// Bans dropped from memory since last asked: to delete from the store.
    forgotten: Vec<Prefix>,
}

/// Unix seconds `unix` for people and logs: "Sun, 6 Dec 2026 08:00:00 +0000".
pub fn date(unix: u64) -> String {
    crate::util::datetime::DateTime { unix: i64::try_from(unix).unwrap_or(i64::MAX), offset_minutes: 0 }.to_rfc5322()
}

/// An address or prefix as `roost ban add|del` takes it: an address alone
/// means its key (an IPv6 address its /64, which is what bans and limits
/// count), `network/length` the range.
pub fn parse_target(text: &str) -> Result<Prefix, String> {
    if text.contains('/') {
        return Prefix::parse(text).map(Prefix::masked);
    }
    let ip: IpAddr =
        text.trim().parse().map_err(|_| format!("{text:?} is not an address or a prefix like \"192.0.2.0/24\""))?;
    Ok(Prefix::of_key(ip))
}

/// A length of time as `roost ban add --for` takes it: seconds, or a
/// number followed by s, m, h or d ("90", "30m", "12h", "7d").
pub fn parse_duration(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let (number, unit) = match text.char_indices().last() {
        Some((index, unit)) if unit.is_ascii_alphabetic() => (&text[..index], unit.to_ascii_lowercase()),
        _ => (text, 's'),
    };
    let scale = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86400,
        _ => return Err(format!("{text:?}: use seconds, or a number with s, m, h or d (\"12h\")")),
    };
    let number: u64 =
        number.parse().map_err(|_| format!("{text:?}: use seconds, or a number with s, m, h or d (\"12h\")"))?;
    match number.checked_mul(scale) {
        Some(seconds) if seconds > 0 => Ok(seconds),
        _ => Err(format!("{text:?}: must be more than 0 and not absurdly long")),
    }
}

/// Whether `prefix` is the shape of an address's key (IPv4 /32, IPv6 /64),
/// found by a hash lookup; anything else is a wide ban.
fn is_key(prefix: &Prefix) -> bool {
    *prefix == Prefix::of_key(prefix.network())
}

fn to_u32(seconds: u64) -> u32 {
    u32::try_from(seconds).unwrap_or(u32::MAX)
}

impl Bans {
    pub fn new(settings: Settings) -> Bans {
        Bans {
            settings,
            bans: HashMap::new(),
            wide: Vec::new(),
            tracked: HashMap::new(),
            order: BTreeMap::new(),
            next_order: 0,
            forgotten: Vec::new(),
        }
    }

    /// Takes in the bans kept in the store; those no longer worth remembering
    /// are left out and reported by [`Bans::take_forgotten`].
    pub fn load(&mut self, bans: impl IntoIterator<Item = (Prefix, BanRecord)>, now: u64) {
        for (prefix, ban) in bans {
            self.insert(prefix.masked(), ban);
        }
        self.sweep(now);
    }

    fn insert(&mut self, prefix: Prefix, ban: BanRecord) {
        if !is_key(&prefix) && !self.wide.contains(&prefix) {
            self.wide.push(prefix);
        }
        self.bans.insert(prefix, ban);
    }

    fn remove(&mut self, prefix: &Prefix) -> Option<BanRecord> {
        self.wide.retain(|wide| wide != prefix);
        self.bans.remove(prefix)
    }

    /// The ban that shuts `ip` out at `now`, if any.
    pub fn banned(&self, ip: IpAddr, now: u64) -> Option<&BanRecord> {
        let active = |ban: &&BanRecord| ban.until > now;
        if let Some(ban) = self.bans.get(&Prefix::of_key(ip)).filter(active) {
            return Some(ban);
        }
        self.wide.iter().filter(|wide| wide.contains(ip)).filter_map(|wide| self.bans.get(wide)).find(active)
    }

    /// Counts a failed login from `ip` at `now`; `account`: the existing
    /// user it tried, if any. Returns the ban it begins, if it does.
    pub fn failed(&mut self, ip: IpAddr, account: Option<u32>, now: u64) -> Option<BanEvent> {
        let threshold = self.settings.failures as usize;
        if threshold == 0 || self.settings.never_ban.contains(ip) || self.banned(ip, now).is_some() {
            return None;
        }
        let key = Prefix::of_key(ip);
        let order = self.next_order;
        self.next_order += 1;
        if !self.tracked.contains_key(&key) && self.tracked.len() >= self.settings.tracked {
            if let Some((_, oldest)) = self.order.pop_first() {
                self.tracked.remove(&oldest);
            }
        }
        let tracked = self.tracked.entry(key).or_insert_with(|| Tracked {
            failures: VecDeque::with_capacity(threshold.min(64)),
            accounts: Vec::new(),
            order,
        });
        self.order.remove(&tracked.order);
        tracked.order = order;
        self.order.insert(order, key);
        let start = to_u32(now.saturating_sub(self.settings.window));
        while tracked.failures.front().is_some_and(|&failure| failure <= start && self.settings.window > 0) {
            tracked.failures.pop_front();
        }
        if tracked.failures.len() >= threshold {
            tracked.failures.pop_front();
        }
        tracked.failures.push_back(to_u32(now));
        if let Some(account) = account {
            if !tracked.accounts.contains(&account) && tracked.accounts.len() < MAX_ACCOUNTS {
                tracked.accounts.push(account);
            }
        }
        if tracked.failures.len() < threshold {
            return None;
        }
        let tracked = self.tracked.remove(&key).expect("just updated");
        self.order.remove(&tracked.order);
        let reason = format!("{threshold} failed logins within {} s", self.settings.window);
        let ban = self.ban(key, None, reason, now);
        Some(BanEvent { address: key, until: ban.until, bans: ban.bans, accounts: tracked.accounts })
    }

    /// Bans `prefix` from `now` for `seconds`, or, without, for as long as
    /// its repeat count says (the first ban's length, doubled per repeat).
    pub fn ban(&mut self, prefix: Prefix, seconds: Option<u64>, reason: String, now: u64) -> BanRecord {
        let prefix = prefix.masked();
        let remembered = self.bans.get(&prefix).filter(|ban| ban.until.saturating_add(self.settings.max) > now);
        let bans = remembered.map_or(1, |ban| ban.bans.saturating_add(1));
        let seconds = seconds.unwrap_or_else(|| self.settings.length(bans));
        let ban = BanRecord { until: now.saturating_add(seconds), bans, reason };
        self.insert(prefix, ban.clone());
        // A ban is counted no longer: its failures led to it.
        if let Some(tracked) = self.tracked.remove(&prefix) {
            self.order.remove(&tracked.order);
        }
        while self.bans.len() > self.settings.tracked {
            // The one that ends first (and is least worth remembering) goes.
            let Some(first) = self.bans.iter().filter(|(key, _)| **key != prefix).min_by_key(|(_, ban)| ban.until)
            else {
                break;
            };
            let first = *first.0;
            self.remove(&first);
            self.forgotten.push(first);
        }
        ban
    }

    /// Lifts the ban on `prefix` and forgets its repeats and failures;
    /// false if there was none.
    pub fn lift(&mut self, prefix: Prefix) -> bool {
        let prefix = prefix.masked();
        if let Some(tracked) = self.tracked.remove(&prefix) {
            self.order.remove(&tracked.order);
        }
        self.remove(&prefix).is_some()
    }

    /// Every ban held (remembered ones included), the soonest to end first.
    pub fn list(&self) -> Vec<(Prefix, BanRecord)> {
        let mut bans: Vec<(Prefix, BanRecord)> = self.bans.iter().map(|(key, ban)| (*key, ban.clone())).collect();
        bans.sort_by_key(|(key, ban)| (ban.until, key.to_string()));
        bans
    }

    /// Forgets ended bans past their memory, and failures past the window.
    pub fn sweep(&mut self, now: u64) {
        let memory = self.settings.max;
        let done: Vec<Prefix> =
            self.bans.iter().filter(|(_, ban)| ban.until.saturating_add(memory) <= now).map(|(key, _)| *key).collect();
        for key in done {
            self.remove(&key);
            self.forgotten.push(key);
        }
        let start = to_u32(now.saturating_sub(self.settings.window));
        let stale: Vec<(u64, Prefix)> = self
            .tracked
            .iter()
            .filter(|(_, tracked)| tracked.failures.back().is_none_or(|&last| last <= start))
            .map(|(key, tracked)| (tracked.order, *key))
            .collect();
        for (order, key) in stale {
            self.tracked.remove(&key);
            self.order.remove(&order);
        }
    }

    /// Bans dropped from memory since the last call: to delete from the store.
    pub fn take_forgotten(&mut self) -> Vec<Prefix> {
        std::mem::take(&mut self.forgotten)
    }

    #[cfg(test)]
    fn tracked_len(&self) -> usize {
        self.tracked.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn settings() -> Settings {
        Settings {
            failures: 3,
            window: 100,
            first: 60,
            max: 500,
            tracked: 4,
            never_ban: Prefixes::parse(&["127.0.0.1", "::1"]).unwrap(),
        }
    }

    #[test]
    fn the_threshold_within_the_window_bans() {
        let mut bans = Bans::new(settings());
        let here = ip("192.0.2.7");
        assert_eq!(bans.failed(here, Some(4), 1000), None);
        assert_eq!(bans.failed(here, None, 1050), None);
        let event = bans.failed(here, Some(4), 1099).expect("third failure within 100 s bans");
        assert_eq!(event, BanEvent { address: Prefix::of_key(here), until: 1159, bans: 1, accounts: vec![4] });
        assert_eq!(bans.banned(here, 1100).map(|ban| ban.until), Some(1159));
        assert!(bans.banned(here, 1159).is_none(), "over at its end");
        assert!(bans.banned(ip("192.0.2.8"), 1100).is_none());
        assert_eq!(bans.tracked_len(), 0, "a banned address is no longer counted");
    }

    #[test]
    fn failures_slide_out_of_the_window() {
        let mut bans = Bans::new(settings());
        let here = ip("192.0.2.7");
        // Two every 60 s never make three within 100 s.
        for step in 0..20 {
            assert_eq!(bans.failed(here, None, 1000 + step * 60), None, "step {step}");
        }
        assert!(bans.failed(here, None, 1000 + 19 * 60 + 1).is_some());
    }

    #[test]
    fn repeats_double_up_to_the_maximum_and_are_forgotten_later() {
        let mut bans = Bans::new(settings());
        let here = ip("2001:db8:1:2::7");
        let mut now = 1000;
        let mut lengths = Vec::new();
        for _ in 0..5 {
            let event = (0..3).find_map(|_| bans.failed(here, None, now)).expect("banned");
            lengths.push(event.until - now);
            now = event.until + 1;
        }
        assert_eq!(lengths, vec![60, 120, 240, 480, 500]);
        // Another address of the same /64 is the same key.
        assert!(bans.banned(ip("2001:db8:1:2::99"), now - 2).is_some());
        // Remembered until `max` after the ban ends, then a first ban again.
        now += 500;
        bans.sweep(now);
        assert_eq!(bans.take_forgotten(), vec![Prefix::of_key(here)]);
        let event = (0..3).find_map(|_| bans.failed(here, None, now)).unwrap();
        assert_eq!((event.bans, event.until - now), (1, 60));
    }

    #[test]
    fn never_ban_is_exempt_from_automatic_bans_only() {
        let mut bans = Bans::new(settings());
        let home = ip("127.0.0.1");
        for _ in 0..10 {
            assert_eq!(bans.failed(home, None, 1000), None);
        }
        assert_eq!(bans.tracked_len(), 0);
        bans.ban(Prefix::of_key(home), Some(10), "by hand".into(), 1000);
        assert!(bans.banned(home, 1005).is_some());
    }

    #[test]
    fn tracking_is_bounded_and_forgets_the_oldest() {
        let mut bans = Bans::new(settings());
        for last in 1..=10u8 {
            bans.failed(IpAddr::from([192, 0, 2, last]), None, 1000 + u64::from(last));
            bans.failed(IpAddr::from([192, 0, 2, last]), None, 1000 + u64::from(last));
        }
        assert_eq!(bans.tracked_len(), 4);
        // 192.0.2.10 is still counted (two failures): one more bans it;
        // 192.0.2.1 was forgotten, so one more is its first again.
        assert!(bans.failed(ip("192.0.2.10"), None, 1020).is_some());
        assert!(bans.failed(ip("192.0.2.1"), None, 1020).is_none());
    }

    #[test]
    fn bans_are_bounded_and_the_soonest_to_end_goes() {
        let mut bans = Bans::new(settings());
        for last in 1..=6u8 {
            bans.ban(Prefix::of_key(IpAddr::from([192, 0, 2, last])), Some(100 + u64::from(last)), "x".into(), 0);
        }
        assert_eq!(bans.list().len(), 4);
        let forgotten: Vec<String> = bans.take_forgotten().iter().map(Prefix::to_string).collect();
        assert_eq!(forgotten, vec!["192.0.2.1", "192.0.2.2"]);
    }

    #[test]
    fn wide_bans_cover_their_range_and_lift() {
        let mut bans = Bans::new(settings());
        let range = Prefix::parse("198.51.100.77/24").unwrap();
        bans.ban(range, Some(100), "by hand".into(), 0);
        assert!(bans.banned(ip("198.51.100.1"), 50).is_some());
        assert!(bans.banned(ip("::ffff:198.51.100.200"), 50).is_some());
        assert!(bans.banned(ip("198.51.101.1"), 50).is_none());
        assert_eq!(bans.list()[0].0.to_string(), "198.51.100.0/24");
        assert!(bans.lift(Prefix::parse("198.51.100.0/24").unwrap()));
        assert!(bans.banned(ip("198.51.100.1"), 50).is_none());
        assert!(!bans.lift(range));
    }

    #[test]
    fn lifting_forgets_the_repeats() {
        let mut bans = Bans::new(settings());
        let here = ip("192.0.2.7");
        (0..3).find_map(|_| bans.failed(here, None, 1000)).unwrap();
        assert!(bans.lift(Prefix::of_key(here)));
        let event = (0..3).find_map(|_| bans.failed(here, None, 1001)).unwrap();
        assert_eq!(event.bans, 1);
    }

    #[test]
    fn loading_keeps_what_is_worth_remembering() {
        let mut bans = Bans::new(settings());
        let record = |until, count| BanRecord { until, bans: count, reason: "r".into() };
        let a = Prefix::parse("192.0.2.1").unwrap();
        let b = Prefix::parse("192.0.2.2").unwrap();
        let c = Prefix::parse("10.0.0.0/8").unwrap();
        bans.load([(a, record(2000, 1)), (b, record(100, 3)), (c, record(5000, 1))], 1000);
        assert_eq!(bans.take_forgotten(), vec![b], "ended 900 s ago, remembered 500 s");
        assert!(bans.banned(ip("192.0.2.1"), 1000).is_some());
        assert!(bans.banned(ip("10.9.9.9"), 1000).is_some());
    }

    #[test]
    fn targets_and_durations() {
        assert_eq!(parse_target("192.0.2.7").unwrap().to_string(), "192.0.2.7");
        assert_eq!(parse_target("2001:db8:1:2::7").unwrap().to_string(), "2001:db8:1:2::/64");
        assert_eq!(parse_target("198.51.100.9/24").unwrap().to_string(), "198.51.100.0/24");
        assert!(parse_target("example.org").is_err());
        assert!(parse_target("10.0.0.0/40").is_err());
        assert_eq!(parse_duration("90").unwrap(), 90);
        assert_eq!(parse_duration("30m").unwrap(), 1800);
        assert_eq!(parse_duration("12H").unwrap(), 43200);
        assert_eq!(parse_duration("7d").unwrap(), 604800);
        for bad in ["", "0", "h", "5w", "-5", "1.5h", "99999999999999999999d"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    proptest! {
        /// However failures come, exactly the threshold-th one within the
        /// window bans, and never one before.
        #[test]
        fn the_ban_comes_exactly_at_the_threshold(gaps in proptest::collection::vec(0u64..80, 1..40)) {
            let mut bans = Bans::new(settings());
            let here = ip("192.0.2.7");
            let mut now = 10_000;
            let mut times: Vec<u64> = Vec::new();
            for gap in gaps {
                now += gap;
                times.push(now);
                let recent = times.iter().filter(|&&time| time + 100 > now).count();
                let banned = bans.failed(here, None, now).is_some();
                prop_assert_eq!(banned, recent >= 3, "times {:?}", times);
                if banned {
                    break;
                }
            }
        }
    }
}
