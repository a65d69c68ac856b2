//! A small pool of worker threads for CPU work that must not run on the
//! session executor: SORT's sort and THREAD's tree building (tens of
//! milliseconds on 100,000 messages).
//!
//! Why not `smol::unblock`: its pool grows to 500 threads, so a burst of
//! big SORTs on a 512 MiB board would start hundreds of threads, each with
//! its own stack and its own copy of a sort's input. This pool has as many
//! threads as the board profile's `workers` (1 on a Pi Zero, 2 elsewhere),
//! started on first use (a server that never sorts a big mailbox starts
//! none), and a bounded queue: a session whose job finds the queue full
//! waits for room, asynchronously, without holding the executor.
//!
//! A job that panics does not take its thread with it: the panic is caught,
//! logged, and answered to the job's own session as [`JobError::Panicked`]
//! (the command then fails with `NO [SERVERBUG]`); every other job and
//! session goes on.
//!
//! ```ignore
//! let sorted = pool::run(move || { inputs.sort(); inputs }).await?;
//! ```

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Mutex, OnceLock};

use smol::channel::{self, Receiver, Sender};

/// Jobs waiting for a thread, per thread: a short queue, so waiting jobs
/// (and the data they carry) stay few.
const QUEUED_PER_WORKER: usize = 4;

type Job = Box<dyn FnOnce() + Send>;

struct Pool {
    size: usize,
    jobs: Sender<Job>,
    queue: Receiver<Job>,
    /// Threads started so far (they start on demand, up to `size`).
    started: Mutex<usize>,
}

static POOL: OnceLock<Pool> = OnceLock::new();

/// Why a job gave no answer.
#[derive(Debug, PartialEq, Eq)]
pub enum JobError {
    /// The job panicked (a bug); the pool goes on.
    Panicked,
    /// No worker thread could be started (out of threads or memory).
    Unavailable,
}

impl std::fmt::Display for JobError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(match self {
            JobError::Panicked => "internal error in a worker job",
            JobError::Unavailable => "no worker thread available",
        })
    }
}

/// Sets the number of worker threads (the board's `workers`). Called once
/// at start-up, before any job; later calls are ignored. Without it, the
/// pool has one thread.
pub fn configure(workers: usize) {
    let _ = POOL.set(Pool::new(workers));
}

fn pool() -> &'static Pool {
    POOL.get_or_init(|| Pool::new(1))
}

impl Pool {
    fn new(workers: usize) -> Pool {
        let size = workers.max(1);
        let (jobs, queue) = channel::bounded(size * QUEUED_PER_WORKER);
        Pool { size, jobs, queue, started: Mutex::new(0) }
    }

    /// Starts one more thread if fewer than `size` run. Err: none could be
    /// started and none runs.
    fn grow(&self) -> Result<(), JobError> {
        let mut started = self.started.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if *started >= self.size {
            return Ok(());
        }
        let queue = self.queue.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("roost-worker-{}", *started))
            // Sorting and threading need little stack; the default 2 MiB
            // is address space only, but keep it modest on 32-bit boards.
            .stack_size(512 * 1024)
            .spawn(move || {
                while let Ok(job) = queue.recv_blocking() {
                    job();
                }
            });
        match spawned {
            Ok(_) => {
                *started += 1;
                Ok(())
            }
            Err(error) if *started == 0 => {
                log::error!("cannot start a worker thread: {error}");
                Err(JobError::Unavailable)
            }
            Err(error) => {
                log::warn!("cannot start another worker thread ({error}); going on with {}", *started);
                Ok(())
            }
        }
    }
}

/// Runs `job` on a worker thread and waits (asynchronously) for its
/// result. Waits for room first if the queue is full.
pub async fn run<T: Send + 'static>(job: impl FnOnce() -> T + Send + 'static) -> Result<T, JobError> {
    let pool = pool();
    pool.grow()?;
    let (answer, answered) = channel::bounded(1);
    let wrapped: Job = Box::new(move || {
        let result = catch_unwind(AssertUnwindSafe(job)).map_err(|panic| {
            let text = panic
                .downcast_ref::<&str>()
                .map(std::string::ToString::to_string)
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            log::error!("a worker job panicked: {text}");
            JobError::Panicked
        });
        // The session may have gone meanwhile: nobody to answer.
        let _ = answer.try_send(result);
    });
    pool.jobs.send(wrapped).await.map_err(|_| JobError::Unavailable)?;
    answered.recv().await.unwrap_or(Err(JobError::Unavailable))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_jobs_and_survives_a_panic() {
        smol::block_on(async {
            assert_eq!(run(|| 6 * 7).await, Ok(42));
            let panicked = run(|| -> u32 { panic!("a bug in a job") }).await;
            assert_eq!(panicked, Err(JobError::Panicked));
            // The thread that ran the panicking job still serves.
            let results: Vec<_> = (0..20).map(|number| run(move || number * 2)).collect();
            for (number, result) in results.into_iter().enumerate() {
                assert_eq!(result.await, Ok(number * 2));
            }
        });
    }

    #[test]
    fn a_full_queue_makes_the_caller_wait_not_fail() {
        let pool = Pool::new(1);
        assert_eq!(pool.size, 1);
        // More jobs than the queue holds, all submitted at once.
        smol::block_on(async {
            let jobs: Vec<_> = (0..(QUEUED_PER_WORKER * 4)).map(|number| run(move || number)).collect();
            let total: usize = futures_total(jobs).await;
            assert_eq!(total, (0..QUEUED_PER_WORKER * 4).sum());
        });
    }

    async fn futures_total(jobs: Vec<impl std::future::Future<Output = Result<usize, JobError>>>) -> usize {
        let executor = smol::LocalExecutor::new();
        let tasks: Vec<_> = jobs.into_iter().map(|job| executor.spawn(job)).collect();
        executor
            .run(async {
                let mut total = 0;
                for task in tasks {
                    total += task.await.unwrap();
                }
                total
            })
            .await
    }
}
