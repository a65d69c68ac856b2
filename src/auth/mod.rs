//! Passwords: argon2id hashes in PHC string form, verified on a thread of
//! their own.
//!
//! A verification costs the board's argon2 memory (19 MiB at the default
//! cost) and tens to hundreds of milliseconds of CPU on a Pi. Running it on
//! the session executor would stall every other connection. A few threads
//! (the board's `auth_threads`: one on a single-core Pi) verify one
//! password each at a time, bounding the memory. Work memory is an anonymous mapping made for
//! each hash and unmapped after it: from the heap, glibc would keep those
//! 19 MiB for the life of the process after the first login.
//!
//! Checks wait in a [`FairQueue`]: round robin between addresses, one
//! check per address at a time, bounded; what does not fit is answered
//! at once ([`Verdict::Busy`]) without hashing.
//!
//! Unknown users are verified against a decoy PHC string at the board's
//! cost ([`decoy`]), built from fixed bytes rather than by hashing: nothing
//! is hashed at start-up (hashing one per thread made VmHWM 44 MiB before
//! any login with the generic board).
//!
//! Beside the main password: device passwords ([`device`]: generated,
//! checked with a salted SHA-256 before argon2, never cached) and the
//! per-user login history ([`history`]: bounded, coalesced, never an fsync
//! per login).

use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

pub mod ban;
mod cache;
pub mod device;
pub mod history;
pub mod protect;

pub use cache::LoginCache;
pub use protect::Protection;

use argon2::{Algorithm, Argon2, Block, Params, Version};
use ring::rand::{SecureRandom, SystemRandom};
use smol::channel::{self, Sender};

use crate::config::Limits;
use crate::util::address::limit_key;
use crate::util::base64;

const SALT_LENGTH: usize = 16;
const HASH_LENGTH: usize = 32;
/// A stored hash asking for more memory than this is refused rather than
/// letting a damaged record allocate without bound (KiB).
const MAX_MEMORY_KIB: u32 = 1 << 21;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cost {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Cost {
    pub fn from_limits(limits: &Limits) -> Cost {
        Cost {
            memory_kib: limits.argon2_memory_kib,
            iterations: limits.argon2_iterations,
            parallelism: limits.argon2_parallelism,
        }
    }

    fn params(self) -> Result<Params, String> {
        Params::new(self.memory_kib, self.iterations, self.parallelism, Some(HASH_LENGTH))
            .map_err(|problem| format!("bad argon2 cost: {problem}"))
    }
}

/// Hashes `password` at `cost` into a PHC string:
/// `$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`.
pub fn hash_password(password: &[u8], cost: Cost) -> Result<String, String> {
    let mut salt = [0u8; SALT_LENGTH];
    SystemRandom::new().fill(&mut salt).map_err(|_| "no randomness available".to_string())?;
    let hash = compute(password, &salt, cost)?;
    Ok(format!(
        "$argon2id$v=19$m={},t={},p={}${}${}",
        cost.memory_kib,
        cost.iterations,
        cost.parallelism,
        base64::encode_unpadded(&salt),
        base64::encode_unpadded(&hash)
    ))
}

/// argon2's work memory for one hash: mapped on creation, unmapped on drop.
struct WorkMemory {
    start: std::ptr::NonNull<Block>,
    blocks: usize,
}

// mmap and munmap, and the slice over the mapping: the only way to get
// argon2 memory that is returned to the kernel after each hash (glibc would
// keep heap pages for the life of the process). See each SAFETY note.
#[allow(unsafe_code)]
impl WorkMemory {
    fn new(blocks: usize) -> Result<WorkMemory, String> {
        let length = blocks.max(1) * std::mem::size_of::<Block>();
        // SAFETY: asks the kernel for a fresh private mapping at an address
        // of its choosing; nothing else refers to that memory.
        let start = unsafe {
            rustix::mm::mmap_anonymous(
                std::ptr::null_mut(),
                length,
                rustix::mm::ProtFlags::READ | rustix::mm::ProtFlags::WRITE,
                rustix::mm::MapFlags::PRIVATE,
            )
        }
        .map_err(|error| format!("cannot map {length} bytes for argon2: {error}"))?;
        let start = std::ptr::NonNull::new(start.cast::<Block>()).ok_or("mmap returned null")?;
        Ok(WorkMemory { start, blocks: blocks.max(1) })
    }

    fn blocks(&mut self) -> &mut [Block] {
        // SAFETY: the mapping is page-aligned (Block needs 64), zero-filled
        // (a valid Block is any bit pattern), `blocks` long, and borrowed
        // mutably through `self` only.
        unsafe { std::slice::from_raw_parts_mut(self.start.as_ptr(), self.blocks) }
    }
}

#[allow(unsafe_code)]
impl Drop for WorkMemory {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping made in `new`; the slice
        // borrowed from it cannot outlive `self`.
        let _ = unsafe { rustix::mm::munmap(self.start.as_ptr().cast(), self.blocks * std::mem::size_of::<Block>()) };
    }
}

fn compute(password: &[u8], salt: &[u8], cost: Cost) -> Result<Vec<u8>, String> {
    compute_in(&mut None, password, salt, cost)
}

/// Hashes in `memory`, mapping it first when it is missing or of another
/// size. argon2 writes every block before it reads one, so memory left from
/// an earlier hash changes nothing but the page faults saved.
fn compute_in(memory: &mut Option<WorkMemory>, password: &[u8], salt: &[u8], cost: Cost) -> Result<Vec<u8>, String> {
    let params = cost.params()?;
    if memory.as_ref().is_none_or(|memory| memory.blocks != params.block_count().max(1)) {
        *memory = None;
        *memory = Some(WorkMemory::new(params.block_count())?);
    }
    let blocks = memory.as_mut().expect("mapped above").blocks();
    let mut hash = vec![0u8; HASH_LENGTH];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into_with_memory(password, salt, &mut hash, blocks)
        .map_err(|problem| format!("argon2 failed: {problem}"))?;
    Ok(hash)
}

/// The parts of a PHC argon2id string.
struct Parsed {
    cost: Cost,
    salt: Vec<u8>,
    hash: Vec<u8>,
}

fn parse_phc(phc: &str) -> Option<Parsed> {
    let mut fields = phc.split('$');
    if !fields.next()?.is_empty() || fields.next()? != "argon2id" || fields.next()? != "v=19" {
        return None;
    }
    let mut cost = Cost { memory_kib: 0, iterations: 0, parallelism: 0 };
    for parameter in fields.next()?.split(',') {
        let (name, value) = parameter.split_once('=')?;
        let value: u32 = value.parse().ok()?;
        match name {
            "m" => cost.memory_kib = value,
            "t" => cost.iterations = value,
            "p" => cost.parallelism = value,
            _ => return None,
        }
    }
    let salt = base64::decode_unpadded(fields.next()?.as_bytes())?;
    let hash = base64::decode_unpadded(fields.next()?.as_bytes())?;
    if fields.next().is_some() || cost.memory_kib > MAX_MEMORY_KIB || hash.is_empty() {
        return None;
    }
    Some(Parsed { cost, salt, hash })
}

/// Compares without an early exit, so timing tells nothing of where a guess differs.
fn equal_in_constant_time(left: &[u8], right: &[u8]) -> bool {
    left.len() == right.len() && left.iter().zip(right).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

#[cfg(test)]
fn verify_with(password: &[u8], phc: &str) -> bool {
    verify_in(&mut None, password, phc)
}

fn verify_in(memory: &mut Option<WorkMemory>, password: &[u8], phc: &str) -> bool {
    let Some(parsed) = parse_phc(phc) else {
        log::error!("a stored password hash is not an argon2id PHC string");
        return false;
    };
    match compute_in(memory, password, &parsed.salt, parsed.cost) {
        Ok(hash) => equal_in_constant_time(&hash, &parsed.hash),
        Err(problem) => {
            log::error!("password verification failed: {problem}");
            false
        }
    }
}

struct Job {
    password: Vec<u8>,
    /// None: the user does not exist; hash anyway so the answer takes as long.
    phc: Option<String>,
    reply: Sender<bool>,
}

/// How long a verification thread keeps its work memory without a login.
const KEEP_MEMORY: Duration = Duration::from_millis(500);

/// Password checks waiting for a verification thread, served fairly.
///
/// One attacker's guesses must not delay a family member's login, so the
/// queue is not first come, first served: every address (its
/// [`limit_key`]: IPv6 by /64) has its own short line, and the threads take
/// one check from each address in turn (round robin). An address never has
/// more than one check being verified at once: while one of its checks
/// runs, the address is out of the rotation. A line holds at most
/// `per_address` checks (a mail client logs in on a few connections at
/// once; refusing those would break real clients) and all lines together
/// at most `capacity`: [`FairQueue::push`] refuses the rest, and they are
/// answered at once, without hashing.
pub struct FairQueue<K, T> {
    lines: HashMap<K, VecDeque<T>>,
    /// Addresses with a waiting check and none being verified, in turn order.
    ready: VecDeque<K>,
    /// Addresses with a check being verified.
    busy: HashSet<K>,
    waiting: usize,
    capacity: usize,
    per_address: usize,
}

impl<K: Copy + Eq + Hash, T> FairQueue<K, T> {
    pub fn new(capacity: usize, per_address: usize) -> FairQueue<K, T> {
        FairQueue {
            lines: HashMap::new(),
            ready: VecDeque::new(),
            busy: HashSet::new(),
            waiting: 0,
            capacity: capacity.max(1),
            per_address: per_address.max(1),
        }
    }

    /// Queues `item` for `key`, or gives it back when the queue or the
    /// key's line is full.
    pub fn push(&mut self, key: K, item: T) -> Result<(), T> {
        let queued = self.lines.get(&key).map_or(0, VecDeque::len);
        if self.waiting >= self.capacity || queued >= self.per_address {
            return Err(item);
        }
        self.push_unbounded(key, item);
        Ok(())
    }

    /// Queues `item` for `key` whatever the bounds: for checks the admin
    /// exempted from limits (`never_limit`), bounded by the connections.
    pub fn push_unbounded(&mut self, key: K, item: T) {
        let queued = self.lines.get(&key).map_or(0, VecDeque::len);
        if queued == 0 && !self.busy.contains(&key) {
            self.ready.push_back(key);
        }
        self.lines.entry(key).or_default().push_back(item);
        self.waiting += 1;
    }

    /// The next check to verify: the first of the next address in turn.
    /// Its address stays out of turn until [`FairQueue::done`].
    pub fn pop(&mut self) -> Option<(K, T)> {
        let key = self.ready.pop_front()?;
        let line = self.lines.get_mut(&key).expect("a ready address has a line");
        let item = line.pop_front().expect("a ready address has a waiting check");
        if line.is_empty() {
            self.lines.remove(&key);
        }
        self.waiting -= 1;
        self.busy.insert(key);
        Some((key, item))
    }

    /// The check of `key` taken by [`FairQueue::pop`] is over: the address
    /// takes its turn again, at the back, if it has more waiting.
    pub fn done(&mut self, key: K) {
        self.busy.remove(&key);
        if self.lines.contains_key(&key) {
            self.ready.push_back(key);
        }
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.waiting
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.waiting == 0
    }
}

/// Whose turn a check waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Turn {
    /// An address (its [`limit_key`]): one check at a time, a short line.
    Address(IpAddr),
    /// A check from an address in `never_limit` (the machine itself by
    /// default: webmail, the family's LAN if the admin says so): a turn of
    /// its own, never refused, so such logins use every thread and never
    /// get UNAVAILABLE. Strangers still wait behind at most one check each.
    Exempt(u64),
}

struct Queue {
    checks: FairQueue<Turn, Job>,
    /// The number of the next exempt check's turn.
    exempt: u64,
    /// The server is gone: threads end.
    closed: bool,
}

struct Shared {
    queue: Mutex<Queue>,
    /// Signalled when a check becomes ready or the queue closes.
    wake: Condvar,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The next check; `Some(None)` when `holding` memory and none came
    /// within [`KEEP_MEMORY`]; `None` when the server is gone.
    fn next(&self, holding: bool) -> Option<Option<(Turn, Job)>> {
        let mut queue = self.lock();
        let deadline = std::time::Instant::now() + KEEP_MEMORY;
        loop {
            if queue.closed {
                return None;
            }
            if let Some(check) = queue.checks.pop() {
                return Some(Some(check));
            }
            if holding {
                let left = deadline.saturating_duration_since(std::time::Instant::now());
                if left.is_zero() {
                    return Some(None);
                }
                queue = self.wake.wait_timeout(queue, left).unwrap_or_else(std::sync::PoisonError::into_inner).0;
            } else {
                queue = self.wake.wait(queue).unwrap_or_else(std::sync::PoisonError::into_inner);
            }
        }
    }

    fn done(&self, key: Turn) {
        self.lock().checks.done(key);
        // The address may have another check waiting, for any thread.
        self.wake.notify_one();
    }
}

/// What a password check found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Verified,
    Failed,
    /// Not checked: the queue (or the address's line in it) is full.
    Busy,
}

/// A PHC string at `cost` that no password matches (its hash is not the
/// hash of anything we know), built without hashing: verifying against it
/// costs what verifying a real user's password costs, since argon2's work
/// depends only on the cost parameters. Unknown users are checked against
/// it, so their answer takes as long as a known user's.
fn decoy(cost: Cost) -> String {
    format!(
        "$argon2id$v=19$m={},t={},p={}${}${}",
        cost.memory_kib,
        cost.iterations,
        cost.parallelism,
        base64::encode_unpadded(b"roost decoy salt"),
        base64::encode_unpadded(&[0x5a; HASH_LENGTH])
    )
}

/// Handle to the verification threads.
pub struct Verifier {
    shared: Arc<Shared>,
}

impl Drop for Verifier {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.wake.notify_all();
    }
}

impl Verifier {
    /// `threads` verify at once; `capacity` checks wait in all, at most
    /// `per_address` of them from one address.
    pub fn start(cost: Cost, threads: u32, capacity: usize, per_address: usize) -> std::io::Result<Verifier> {
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue { checks: FairQueue::new(capacity, per_address), exempt: 0, closed: false }),
            wake: Condvar::new(),
        });
        for _ in 0..threads.max(1) {
            Self::spawn_thread(cost, shared.clone())?;
        }
        Ok(Verifier { shared })
    }

    fn spawn_thread(cost: Cost, shared: Arc<Shared>) -> std::io::Result<()> {
        std::thread::Builder::new().name("roost-auth".into()).spawn(move || {
            let decoy = decoy(cost);
            // The work memory stays mapped while logins keep coming (a
            // household's devices reconnecting at once, a mail client's
            // parallel connections), saving the page faults of mapping it
            // anew, and goes back to the kernel once they stop.
            let mut memory = None;
            while let Some(check) = shared.next(memory.is_some()) {
                let Some((key, job)) = check else {
                    memory = None;
                    continue;
                };
                // The client went away while its check waited: nobody to answer.
                if !job.reply.is_closed() {
                    // One line per hash: what tests count to prove a login was refused without one.
                    log::debug!("password check: hashing (argon2id)");
                    let verified = if let Some(phc) = &job.phc {
                        verify_in(&mut memory, &job.password, phc)
                    } else {
                        verify_in(&mut memory, &job.password, &decoy);
                        false
                    };
                    let _ = job.reply.try_send(verified);
                }
                shared.done(key);
            }
        })?;
        Ok(())
    }

    /// Whether `password` matches `phc` (None: no such user, always
    /// Failed), checked in `address`'s turn; Busy at once, without
    /// hashing, when the queue has no room for it. An `exempt` address
    /// (`never_limit`) is never Busy and takes a turn per check.
    pub async fn verify(&self, address: IpAddr, exempt: bool, password: Vec<u8>, phc: Option<String>) -> Verdict {
        let (reply, answer) = channel::bounded(1);
        let job = Job { password, phc, reply };
        {
            let mut queue = self.shared.lock();
            if exempt {
                let turn = Turn::Exempt(queue.exempt);
                queue.exempt = queue.exempt.wrapping_add(1);
                queue.checks.push_unbounded(turn, job);
            } else if queue.checks.push(Turn::Address(limit_key(address)), job).is_err() {
                return Verdict::Busy;
            }
        }
        self.shared.wake.notify_one();
        match answer.recv().await {
            Ok(true) => Verdict::Verified,
            _ => Verdict::Failed,
        }
    }
}

/// User names: what a family types on a phone. Lower case, so "Alice" and
/// "alice" are one account.
pub fn normalize_user_name(name: &str) -> Result<String, String> {
    let name = name.trim().to_lowercase();
    if name.is_empty() || name.len() > 64 {
        return Err("a user name has 1 to 64 characters".into());
    }
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || "._-@+".contains(c)) {
        return Err("a user name may contain letters, digits and . _ - @ + only".into());
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHEAP: Cost = Cost { memory_kib: 64, iterations: 1, parallelism: 1 };

    #[test]
    fn hash_then_verify() {
        let phc = hash_password(b"correct horse", CHEAP).unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=64,t=1,p=1$"));
        assert!(verify_with(b"correct horse", &phc));
        assert!(!verify_with(b"correct horsf", &phc));
        assert!(!verify_with(b"", &phc));
        // Two hashes of one password differ (random salt).
        assert_ne!(phc, hash_password(b"correct horse", CHEAP).unwrap());
    }

    /// The tests that read this process's RSS run one at a time.
    static MEASURING: std::sync::Mutex<()> = std::sync::Mutex::new(());

    fn resident_kib() -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        status
            .lines()
            .find(|line| line.starts_with("VmRSS:"))
            .and_then(|line| line.split_whitespace().nth(1)?.parse().ok())
            .unwrap_or(0)
    }

    #[test]
    fn work_memory_goes_back_to_the_kernel() {
        let _alone = MEASURING.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let before = resident_kib();
        // The generic board's 19 MiB, twice: none of it may stay resident
        // (a buffer kept for the next login would).
        let cost = Cost { memory_kib: 19 * 1024, iterations: 1, parallelism: 1 };
        let phc = hash_password(b"x", cost).unwrap();
        assert!(verify_with(b"x", &phc));
        let after = resident_kib();
        assert!(after < before + 8 * 1024, "RSS grew from {before} KiB to {after} KiB");
    }

    #[test]
    fn verifier_keeps_work_memory_only_while_logins_come() {
        let _alone = MEASURING.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let cost = Cost { memory_kib: 24 * 1024, iterations: 1, parallelism: 1 };
        let phc = hash_password(b"x", cost).unwrap();
        let verifier = Verifier::start(cost, 1, 8, 2).unwrap();
        let here = IpAddr::from([192, 0, 2, 1]);
        smol::block_on(async {
            assert_eq!(verifier.verify(here, false, b"x".to_vec(), Some(phc.clone())).await, Verdict::Verified);
            let holding = resident_kib();
            assert_eq!(verifier.verify(here, false, b"x".to_vec(), Some(phc.clone())).await, Verdict::Verified);
            std::thread::sleep(KEEP_MEMORY * 3);
            let released = resident_kib();
            assert!(released + 16 * 1024 < holding, "RSS {holding} KiB while holding, {released} KiB after");
        });
    }

    #[test]
    fn verifier_thread_answers() {
        let verifier = Verifier::start(CHEAP, 2, 8, 2).unwrap();
        let phc = hash_password(b"secret", CHEAP).unwrap();
        let here = IpAddr::from([192, 0, 2, 1]);
        smol::block_on(async {
            assert_eq!(verifier.verify(here, false, b"secret".to_vec(), Some(phc.clone())).await, Verdict::Verified);
            assert_eq!(verifier.verify(here, false, b"wrong".to_vec(), Some(phc)).await, Verdict::Failed);
            assert_eq!(verifier.verify(here, false, b"secret".to_vec(), None).await, Verdict::Failed);
        });
    }

    #[test]
    fn the_decoy_costs_what_the_board_says_and_matches_nothing() {
        let cost = Cost { memory_kib: 19456, iterations: 2, parallelism: 1 };
        let phc = decoy(cost);
        let parsed = parse_phc(&phc).expect("a valid PHC string");
        assert_eq!(parsed.cost, cost);
        assert_eq!(parsed.hash.len(), HASH_LENGTH);
        assert!(!verify_with(b"", &decoy(CHEAP)));
        assert!(!verify_with(b"roost decoy password", &decoy(CHEAP)));
    }

    #[test]
    fn the_fair_queue_takes_addresses_in_turn() {
        let mut queue = FairQueue::new(100, 3);
        // A stranger queues three guesses, then a family member one login.
        for guess in 1..=3 {
            queue.push('s', guess).unwrap();
        }
        queue.push('f', 10).unwrap();
        queue.push('g', 20).unwrap();
        assert_eq!(queue.pop(), Some(('s', 1)));
        // While the stranger's first guess is verified, the others go first
        // and the stranger's second guess is not handed out.
        assert_eq!(queue.pop(), Some(('f', 10)));
        assert_eq!(queue.pop(), Some(('g', 20)));
        assert_eq!(queue.pop(), None);
        queue.done('f');
        queue.done('s');
        assert_eq!(queue.pop(), Some(('s', 2)));
        queue.push('f', 11).unwrap();
        queue.done('s');
        // Round robin: f waited while s was busy, so f before s's third.
        assert_eq!(queue.pop(), Some(('f', 11)));
        assert_eq!(queue.pop(), Some(('s', 3)));
        assert!(queue.is_empty());
    }

    #[test]
    fn the_fair_queue_is_bounded_per_address_and_in_all() {
        let mut queue = FairQueue::new(5, 2);
        assert_eq!(queue.push('a', 1), Ok(()));
        assert_eq!(queue.push('a', 2), Ok(()));
        assert_eq!(queue.push('a', 3), Err(3), "a's line holds two");
        assert_eq!(queue.push('b', 1), Ok(()));
        assert_eq!(queue.push('c', 1), Ok(()));
        assert_eq!(queue.push('d', 1), Ok(()));
        assert_eq!(queue.len(), 5);
        assert_eq!(queue.push('e', 1), Err(1), "five wait in all");
        // A check taken out makes room; the address being verified may
        // queue behind it again up to its line's bound.
        assert_eq!(queue.pop(), Some(('a', 1)));
        assert_eq!(queue.push('a', 3), Ok(()));
        assert_eq!(queue.push('a', 4), Err(4));
    }

    #[test]
    fn exempt_addresses_are_never_refused() {
        // A queue with room for one check in all: strangers beyond it get
        // Busy; checks from a never_limit address all wait their turn.
        let verifier = Verifier::start(CHEAP, 1, 1, 1).unwrap();
        let phc = hash_password(b"secret", CHEAP).unwrap();
        let here: IpAddr = "127.0.0.1".parse().unwrap();
        smol::block_on(async {
            let checks: Vec<_> =
                (0..20).map(|_| verifier.verify(here, true, b"secret".to_vec(), Some(phc.clone()))).collect();
            for verdict in futures_join(checks).await {
                assert_eq!(verdict, Verdict::Verified);
            }
        });
    }

    /// Runs the futures concurrently (they all queue before any answer).
    async fn futures_join<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
        let executor = smol::LocalExecutor::new();
        let tasks: Vec<_> = futures.into_iter().map(|future| executor.spawn(future)).collect();
        executor
            .run(async {
                let mut outputs = Vec::new();
                for task in tasks {
                    outputs.push(task.await);
                }
                outputs
            })
            .await
    }

    #[test]
    fn malformed_hashes_never_verify() {
        for phc in [
            "",
            "plain",
            "$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaA",
            "$argon2id$v=19$m=99999999,t=1,p=1$c2FsdHNhbHQ$aGFzaA",
            "$argon2id$v=19$m=64,t=1$c2FsdHNhbHQ$aGFzaA$extra",
        ] {
            assert!(!verify_with(b"x", phc), "{phc}");
        }
    }

    #[test]
    fn user_names() {
        assert_eq!(normalize_user_name(" Alice ").unwrap(), "alice");
        assert_eq!(normalize_user_name("bob.smith@home").unwrap(), "bob.smith@home");
        assert!(normalize_user_name("").is_err());
        assert!(normalize_user_name("a b").is_err());
        assert!(normalize_user_name("ünï").is_err());
    }
}
