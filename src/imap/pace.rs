//! The pace of long work that writes to a client as it reads the store
//! (FETCH, the sync's change reports, QRESYNC's VANISHED, STORE's
//! answers, CATENATE's URL copies): a read snapshot that is closed before
//! every write that may block and every yield, and a time slice after
//! which the work yields to the other sessions. See `imap::fetch`'s
//! module docs for why.

use std::io;
use std::time::{Duration, Instant};

use crate::net::Connection;
use crate::store::{Snapshot, Store};

/// Work done on the executor between two yields to the other sessions.
/// About a millisecond: long enough that yielding costs little, short
/// enough that a bystander's NOOP is not noticeably delayed.
const SLICE: Duration = Duration::from_millis(1);

/// The slice's clock is read once every this many small pieces of work,
/// or sooner once this many bytes of output were produced since
/// (rendering costs about in proportion to what it writes): reading the
/// clock is a system call on boards without a vDSO clock (the Pi Zero).
const CHECK_EVERY: u32 = 8;
/// See [`CHECK_EVERY`].
const CHECK_AFTER_BYTES: usize = 2048;

/// The pace of long work that writes to a client as it reads the store:
/// its [`Snapshot`] and its time slice.
pub(crate) struct Pace {
    pub snapshot: Snapshot,
    slice_start: Instant,
    /// Pauses since the clock was last read, and the output's length then.
    unchecked: u32,
    output_then: usize,
}

impl Pace {
    pub fn new(store: &Store) -> Pace {
        Pace { snapshot: store.snapshot(), slice_start: Instant::now(), unchecked: 0, output_then: 0 }
    }

    /// Whether this slice of work is spent, reading the clock only after
    /// enough work to be worth it.
    fn spent(&mut self, output: usize) -> bool {
        self.unchecked += 1;
        if self.unchecked < CHECK_EVERY && output < self.output_then + CHECK_AFTER_BYTES {
            return false;
        }
        self.unchecked = 0;
        self.output_then = output;
        self.slice_start.elapsed() >= SLICE
    }

    /// Call between small pieces of work (a message's answer, a line):
    /// sends the output once the buffer is full, and yields once the slice
    /// is spent. Both may wait, so the snapshot is closed first; the next
    /// read opens a new one.
    pub async fn pause(&mut self, conn: &mut Connection) -> io::Result<()> {
        let full = conn.out().len() >= conn.write_limit();
        let spent = self.spent(conn.out().len());
        if !full && !spent {
            return Ok(());
        }
        self.snapshot.close();
        if full {
            conn.flush().await?;
            self.output_then = 0;
        }
        if spent {
            smol::future::yield_now().await;
            self.slice_start = Instant::now();
        }
        Ok(())
    }

    /// [`Pace::pause`] after a piece of work that may itself take a good
    /// part of a slice (decoding 64 KiB): the clock is read this time.
    pub async fn pause_checked(&mut self, conn: &mut Connection) -> io::Result<()> {
        self.unchecked = CHECK_EVERY;
        self.pause(conn).await
    }
}
