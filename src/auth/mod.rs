//! Passwords: argon2id hashes in PHC string form, verified on a thread of
//! their own.
//!
//! A verification costs the board's argon2 memory (19 MiB at the default
//! cost) and tens to hundreds of milliseconds of CPU on a Pi. Running it on
//! the session executor would stall every other connection, and running
//! several at once would multiply the memory, so one thread verifies one
//! password at a time into one reused buffer.

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
    let mut memory = Vec::new();
    let hash = compute(password, &salt, cost, &mut memory)?;
    Ok(format!(
        "$argon2id$v=19$m={},t={},p={}${}${}",
        cost.memory_kib,
        cost.iterations,
        cost.parallelism,
        base64::encode_unpadded(&salt),
        base64::encode_unpadded(&hash)
    ))
}

fn compute(password: &[u8], salt: &[u8], cost: Cost, memory: &mut Vec<Block>) -> Result<Vec<u8>, String> {
    let params = cost.params()?;
    let blocks = params.block_count();
    if memory.len() < blocks {
        memory.resize(blocks, Block::default());
    }
    let mut hash = vec![0u8; HASH_LENGTH];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into_with_memory(password, salt, &mut hash, &mut memory[..blocks])
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

fn verify_with(password: &[u8], phc: &str, memory: &mut Vec<Block>) -> bool {
    let Some(parsed) = parse_phc(phc) else {
        log::error!("a stored password hash is not an argon2id PHC string");
        return false;
    };
    match compute(password, &parsed.salt, parsed.cost, memory) {
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

/// Handle to the verification thread.
pub struct Verifier {
    jobs: Sender<Job>,
}

impl Verifier {
    pub fn start(cost: Cost) -> std::io::Result<Verifier> {
        let (jobs, incoming) = channel::unbounded::<Job>();
        // A hash of a random password at the board's cost, for unknown users.
        let decoy = hash_password(b"roost decoy password", cost).ok();
        std::thread::Builder::new().name("roost-auth".into()).spawn(move || {
            let mut memory = Vec::new();
            while let Ok(job) = incoming.recv_blocking() {
                let verified = match (&job.phc, &decoy) {
                    (Some(phc), _) => verify_with(&job.password, phc, &mut memory),
                    (None, Some(decoy)) => {
                        verify_with(&job.password, decoy, &mut memory);
                        false
                    }
                    (None, None) => false,
                };
                let _ = job.reply.try_send(verified);
            }
        })?;
        Ok(Verifier { jobs })
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
        let mut memory = Vec::new();
        assert!(verify_with(b"correct horse", &phc, &mut memory));
        assert!(!verify_with(b"correct horsf", &phc, &mut memory));
        assert!(!verify_with(b"", &phc, &mut memory));
        // Two hashes of one password differ (random salt).
        assert_ne!(phc, hash_password(b"correct horse", CHEAP).unwrap());
    }

    #[test]
    fn verifier_thread_answers() {
        let verifier = Verifier::start(CHEAP).unwrap();
        let phc = hash_password(b"secret", CHEAP).unwrap();
        smol::block_on(async {
            assert!(verifier.verify(b"secret".to_vec(), Some(phc.clone())).await);
            assert!(!verifier.verify(b"wrong".to_vec(), Some(phc)).await);
            assert!(!verifier.verify(b"secret".to_vec(), None).await);
        });
    }

    #[test]
    fn malformed_hashes_never_verify() {
        let mut memory = Vec::new();
        for phc in [
            "",
            "plain",
            "$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaA",
            "$argon2id$v=19$m=99999999,t=1,p=1$c2FsdHNhbHQ$aGFzaA",
            "$argon2id$v=19$m=64,t=1$c2FsdHNhbHQ$aGFzaA$extra",
        ] {
            assert!(!verify_with(b"x", phc, &mut memory), "{phc}");
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
