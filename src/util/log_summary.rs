//! Log lines that survive floods.
//!
//! A flood of refused connections once wrote 30,118 lines in 5 s; under
//! journald's rate limit the lines that matter (failed logins) were then
//! dropped with them. Repeated events of one kind from one address are
//! therefore summarised: the first in an interval is logged as it comes,
//! the rest are counted and reported as one line ("N more ... from ADDR in
//! the last 60 s") when the interval ends. The table is bounded: once it
//! holds [`MAX_ENTRIES`] addresses, events of new addresses are only
//! counted, under one global line.
//!
//! Failed logins never go through here: each is logged on its own.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// How long repeats are gathered before their summary line.
pub const INTERVAL: Duration = Duration::from_secs(60);
/// Addresses remembered per interval (about 64 bytes each).
pub const MAX_ENTRIES: usize = 1024;

/// What happened; the text completes "N more {kind} from ADDR".
pub type Kind = &'static str;

pub struct LogSummary {
    started: Instant,
    /// (kind, address) → repeats after the first line.
    repeats: HashMap<(Kind, IpAddr), u64>,
    /// kind → events not logged because the table was full.
    overflow: HashMap<Kind, u64>,
    max_entries: usize,
}

impl Default for LogSummary {
    fn default() -> LogSummary {
        LogSummary::with_capacity(MAX_ENTRIES)
    }
}

impl LogSummary {
    pub fn with_capacity(max_entries: usize) -> LogSummary {
        LogSummary { started: Instant::now(), repeats: HashMap::new(), overflow: HashMap::new(), max_entries }
    }

    /// Counts one event; returns true when its line should be logged now
    /// (the first of its kind from `address` in this interval). Ends the
    /// interval first if it is over, so a quiet server needs no timer.
    pub fn note(&mut self, kind: Kind, address: IpAddr) -> bool {
        self.note_at(kind, address, Instant::now())
    }

    fn note_at(&mut self, kind: Kind, address: IpAddr, now: Instant) -> bool {
        if now.duration_since(self.started) >= INTERVAL {
            self.flush_at(now);
        }
        if let Some(count) = self.repeats.get_mut(&(kind, address)) {
            *count += 1;
            return false;
        }
        if self.repeats.len() >= self.max_entries {
            *self.overflow.entry(kind).or_default() += 1;
            return false;
        }
        self.repeats.insert((kind, address), 0);
        true
    }

    /// Ends the interval if it is over: logs its summary lines.
    pub fn tick(&mut self) {
        if self.started.elapsed() >= INTERVAL {
            self.flush_at(Instant::now());
        }
    }

    /// Ends the interval now (the server is stopping): logs its summary lines.
    pub fn flush(&mut self) {
        self.flush_at(Instant::now());
    }

    fn flush_at(&mut self, now: Instant) {
        for line in self.summary_lines(now) {
            log::warn!("{line}");
        }
        self.repeats = HashMap::new();
        self.overflow = HashMap::new();
        self.started = now;
    }

    fn summary_lines(&self, now: Instant) -> Vec<String> {
        let seconds = now.duration_since(self.started).as_secs().max(1);
        let mut lines: Vec<String> = self
            .repeats
            .iter()
            .filter(|(_, &count)| count > 0)
            .map(|((kind, address), count)| format!("{count} more {kind} from {address} in the last {seconds} s"))
            .collect();
        lines.extend(self.overflow.iter().map(|(kind, count)| {
            format!("{count} more {kind} in the last {seconds} s from addresses not listed (summary table full)")
        }));
        lines.sort();
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn the_first_is_logged_the_rest_counted() {
        let start = Instant::now();
        let mut summary = LogSummary::with_capacity(2);
        summary.started = start;
        assert!(summary.note_at("refused connections", ip("192.0.2.1"), start));
        for _ in 0..9 {
            assert!(!summary.note_at("refused connections", ip("192.0.2.1"), start));
        }
        // Another kind from the same address has a line of its own.
        assert!(summary.note_at("oldest dropped", ip("192.0.2.1"), start));
        // The table is full: a third address is only counted.
        assert!(!summary.note_at("refused connections", ip("192.0.2.3"), start));
        assert!(!summary.note_at("refused connections", ip("192.0.2.4"), start));
        let lines = summary.summary_lines(start + INTERVAL);
        assert_eq!(
            lines,
            vec![
                "2 more refused connections in the last 60 s from addresses not listed (summary table full)",
                "9 more refused connections from 192.0.2.1 in the last 60 s",
            ]
        );
        // The next interval starts afresh.
        assert!(summary.note_at("refused connections", ip("192.0.2.1"), start + INTERVAL));
        assert_eq!(summary.repeats.len(), 1);
        assert!(summary.overflow.is_empty());
    }
}
