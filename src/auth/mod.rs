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

use argon2::{Algorithm, Argon2, Block, Params, Version};
use ring::rand::{SecureRandom, SystemRandom};
use smol::channel::{self, Sender};

use crate::config::Limits;
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
const KEEP_MEMORY: std::time::Duration = std::time::Duration::from_millis(500);

/// The next job; `Some(None)` when `holding` memory and none came within
/// [`KEEP_MEMORY`]; `None` when the server is gone.
fn next_job(incoming: &channel::Receiver<Job>, holding: bool) -> Option<Option<Job>> {
    if !holding {
        return incoming.recv_blocking().ok().map(Some);
    }
    smol::block_on(smol::future::or(async { incoming.recv().await.ok().map(Some) }, async {
        smol::Timer::after(KEEP_MEMORY).await;
        Some(None)
    }))
}

/// Handle to the verification thread.
pub struct Verifier {
    jobs: Sender<Job>,
}

impl Verifier {
    pub fn start(cost: Cost, threads: u32) -> std::io::Result<Verifier> {
        let (jobs, incoming) = channel::unbounded::<Job>();
        for _ in 0..threads.max(1) {
            let incoming = incoming.clone();
            Self::spawn_thread(cost, incoming)?;
        }
        Ok(Verifier { jobs })
    }

    fn spawn_thread(cost: Cost, incoming: channel::Receiver<Job>) -> std::io::Result<()> {
        std::thread::Builder::new().name("roost-auth".into()).spawn(move || {
            // A hash at the board's cost, so an unknown user is answered
            // after the same work as a known one. Made here, off the path
            // of start-up and of the first login.
            let decoy = hash_password(b"roost decoy password", cost).ok();
            // The work memory stays mapped while logins keep coming (a
            // household's devices reconnecting at once, a mail client's
            // parallel connections), saving the page faults of mapping it
            // anew, and goes back to the kernel once they stop.
            let mut memory = None;
            while let Some(job) = next_job(&incoming, memory.is_some()) {
                let Some(job) = job else {
                    memory = None;
                    continue;
                };
                let verified = match (&job.phc, &decoy) {
                    (Some(phc), _) => verify_in(&mut memory, &job.password, phc),
                    (None, Some(decoy)) => {
                        verify_in(&mut memory, &job.password, decoy);
                        false
                    }
                    (None, None) => false,
                };
                let _ = job.reply.try_send(verified);
            }
        })?;
        Ok(())
    }

    /// Whether `password` matches `phc` (None: no such user, always false).
    pub async fn verify(&self, password: Vec<u8>, phc: Option<String>) -> bool {
        let (reply, answer) = channel::bounded(1);
        if self.jobs.try_send(Job { password, phc, reply }).is_err() {
            return false;
        }
        answer.recv().await.unwrap_or(false)
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
        let _alone = MEASURING.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
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
        let _alone = MEASURING.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let cost = Cost { memory_kib: 24 * 1024, iterations: 1, parallelism: 1 };
        let phc = hash_password(b"x", cost).unwrap();
        let verifier = Verifier::start(cost, 1).unwrap();
        smol::block_on(async {
            assert!(verifier.verify(b"x".to_vec(), Some(phc.clone())).await);
            let holding = resident_kib();
            assert!(verifier.verify(b"x".to_vec(), Some(phc.clone())).await);
            std::thread::sleep(KEEP_MEMORY * 3);
            let released = resident_kib();
            assert!(released + 16 * 1024 < holding, "RSS {holding} KiB while holding, {released} KiB after");
        });
    }

    #[test]
    fn verifier_thread_answers() {
        let verifier = Verifier::start(CHEAP, 2).unwrap();
        let phc = hash_password(b"secret", CHEAP).unwrap();
        smol::block_on(async {
            assert!(verifier.verify(b"secret".to_vec(), Some(phc.clone())).await);
            assert!(!verifier.verify(b"wrong".to_vec(), Some(phc)).await);
            assert!(!verifier.verify(b"secret".to_vec(), None).await);
        });
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
