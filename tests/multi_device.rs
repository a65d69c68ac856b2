//! A family's devices on one mailbox at once: a phone, a laptop and a
//! tablet of the same user append, flag, unflag, expunge and move
//! concurrently. Each device keeps its own copy of the mailbox the way a
//! real client does — only from what the server tells it (EXISTS, EXPUNGE,
//! FETCH) — and at the end every copy must equal the server's state, and
//! all the devices must agree with each other.

mod common;

use std::collections::BTreeSet;

use common::*;

/// What a device believes about one message (by sequence position).
#[derive(Clone, Debug, Default, PartialEq)]
struct Known {
    uid: Option<u32>,
    flags: Option<BTreeSet<String>>,
}

struct Device {
    name: &'static str,
    client: Client,
    mailbox: Vec<Known>,
    random: Rng,
    /// EXPUNGE and FETCH responses learned (the test must see many).
    told: usize,
}

impl Device {
    fn new(server: &Server, name: &'static str, seed: u64) -> Device {
        let client = server.login("alice", "secret");
        let mut device = Device { name, client, mailbox: Vec::new(), random: Rng::new(seed), told: 0 };
        let (untagged, tagged) = device.client.command("SELECT INBOX");
        assert!(tagged.starts_with("OK"), "{tagged}");
        device.learn(&untagged);
        device.fill();
        device
    }

    fn next(&mut self, below: u64) -> u64 {
        // The same run every time for a seed.
        self.random.next() % below
    }

    /// Applies what the server said to the device's copy.
    fn learn(&mut self, responses: &[Response]) {
        for response in responses {
            let words: Vec<&str> = response.splitn(4, ' ').collect();
            if words.len() < 3 || words[0] != "*" {
                continue;
            }
            let Ok(number) = words[1].parse::<usize>() else { continue };
            self.told += 1;
            match words[2] {
                "EXISTS" => {
                    assert!(
                        number >= self.mailbox.len(),
                        "{}: EXISTS {number} shrinks {}",
                        self.name,
                        self.mailbox.len()
                    );
                    self.mailbox.resize(number, Known::default());
                }
                "EXPUNGE" => {
                    assert!(number >= 1 && number <= self.mailbox.len(), "{}: {response}", self.name);
                    self.mailbox.remove(number - 1);
                }
                "FETCH" => {
                    assert!(number >= 1 && number <= self.mailbox.len(), "{}: {response}", self.name);
                    let known = &mut self.mailbox[number - 1];
                    if let Some(uid) = fetch_uid(response) {
                        assert!(known.uid.is_none_or(|old| old == uid), "{}: UID changed: {response}", self.name);
                        known.uid = Some(uid);
                    }
                    if let Some(flags) = fetch_flags(response) {
                        known.flags = Some(flags);
                    }
                }
                _ => {}
            }
        }
    }

    /// Like a client after EXISTS: asks for what it does not know yet.
    fn fill(&mut self) {
        if let Some(first) = self.mailbox.iter().position(|known| known.uid.is_none() || known.flags.is_none()) {
            let command = format!("FETCH {}:* (UID FLAGS)", first + 1);
            self.run(&command);
        }
    }

    fn run(&mut self, command: &str) -> Response {
        let (untagged, tagged) = self.client.command(command);
        assert!(!tagged.starts_with("BAD"), "{}: {command}: {tagged}", self.name);
        self.learn(&untagged);
        tagged
    }

    /// One random change, as a person on this device would make it.
    fn act(&mut self, step: usize) {
        let count = self.mailbox.len() as u64;
        let choice = self.next(10);
        let flag = ["\\Seen", "\\Flagged", "$Work", "\\Answered"][self.next(4) as usize];
        if count == 0 || choice < 2 {
            let body = format!("from {} at step {step}", self.name);
            let (untagged, tagged) = self.client.append("INBOX", "", &message(&format!("{} {step}", self.name), &body));
            assert!(tagged.starts_with("OK"), "{tagged}");
            self.learn(&untagged);
        } else {
            let sequence = self.next(count) + 1;
            match choice {
                2..=4 => {
                    self.run(&format!("STORE {sequence} +FLAGS ({flag})"));
                }
                5 => {
                    self.run(&format!("STORE {sequence} -FLAGS ({flag})"));
                }
                6 => {
                    if let Some(uid) = self.mailbox[sequence as usize - 1].uid {
                        self.run(&format!("UID STORE {uid} +FLAGS.SILENT (\\Deleted)"));
                        self.run(&format!("UID EXPUNGE {uid}"));
                    }
                }
                7 => {
                    self.run(&format!("MOVE {sequence} Old"));
                }
                8 => {
                    self.run(&format!("COPY {sequence} Old"));
                }
                _ => {
                    self.run("NOOP");
                }
            }
        }
        self.fill();
    }

    /// The server's state, fetched fresh: (UID, flags) in order.
    fn truth(&mut self) -> Vec<(u32, BTreeSet<String>)> {
        let (untagged, tagged) = self.client.command("UID FETCH 1:* (FLAGS)");
        assert!(tagged.starts_with("OK"), "{tagged}");
        // The answer may carry news too; learn it, then compare.
        self.learn(&untagged);
        state_of(&untagged)
    }
}

fn state_of(fetched: &[Response]) -> Vec<(u32, BTreeSet<String>)> {
    fetched
        .iter()
        .filter(|line| line.contains(" FETCH "))
        .map(|line| (fetch_uid(line).expect("UID"), fetch_flags(line).expect("FLAGS")))
        .collect()
}

fn state_without_recent(state: &[(u32, BTreeSet<String>)]) -> Vec<(u32, BTreeSet<String>)> {
    state
        .iter()
        .map(|(uid, flags)| (*uid, flags.iter().filter(|flag| *flag != "\\Recent").cloned().collect()))
        .collect()
}

#[test]
fn three_devices_changing_one_mailbox_converge() {
    let server = Server::start();
    let mut setup = server.login("alice", "secret");
    setup.ok("CREATE Old");
    for number in 0..10 {
        setup.append_ok("INBOX", &message(&format!("seed {number}"), "seed"));
    }
    let names = ["phone", "laptop", "tablet"];
    let devices: Vec<Device> =
        names.iter().enumerate().map(|(index, name)| Device::new(&server, name, 0x9e37_79b9 + index as u64)).collect();
    let devices: Vec<Device> = std::thread::scope(|scope| {
        let running: Vec<_> = devices
            .into_iter()
            .map(|mut device| {
                scope.spawn(move || {
                    for step in 0..150 {
                        device.act(step);
                    }
                    device
                })
            })
            .collect();
        running.into_iter().map(|handle| handle.join().expect("device thread")).collect()
    });
    let told: usize = devices.iter().map(|device| device.told).sum();
    assert!(told > 300, "the devices were told only {told} things");
    let mut states = Vec::new();
    for mut device in devices {
        // Whatever the others did last reaches this device with its next command.
        device.run("NOOP");
        device.fill();
        let truth = device.truth();
        let believed: Vec<(u32, BTreeSet<String>)> = device
            .mailbox
            .iter()
            .map(|known| (known.uid.expect("every UID known"), known.flags.clone().expect("every flag set known")))
            .collect();
        assert_eq!(believed, truth, "{}: its copy differs from the server", device.name);
        states.push((device.name, state_without_recent(&truth)));
    }
    assert!(!states[0].1.is_empty());
    for (name, state) in &states[1..] {
        assert_eq!(state, &states[0].1, "{name} and {} disagree", states[0].0);
    }
    // And a device that was away sees the same on its return.
    let mut away = server.login("alice", "secret");
    away.ok("SELECT INBOX");
    assert_eq!(state_without_recent(&state_of(&away.ok("UID FETCH 1:* (FLAGS)"))), states[0].1);
}
