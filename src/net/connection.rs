//! A buffered connection: bounded line reads, literal streaming and
//! batched writes.
//!
//! The buffers are sized by the board profile and released while the
//! connection waits for its next command, so an idle connection holds
//! little more than its socket.
//!
//! Writes have their own timeout (the board's `write_timeout`, short,
//! apart from the idle timeout of 30 minutes and more): a client that does
//! not take one buffer of output within it is disconnected, logged at
//! info. Its socket buffers are full by then, so the `* BYE` it is sent is
//! best effort, and closing does not wait for it a second time.
//!
//! After COMPRESS (RFC 4978) the buffers hold plain protocol bytes as
//! before: reads inflate into the input buffer, and each flush deflates
//! the output buffer and ends with a sync flush (see [`super::compress`]).

use std::io;
use std::time::{Duration, Instant};

use smol::io::{AsyncReadExt, AsyncWriteExt};

use super::compress::{Deflate, Slot};
use super::Stream;

/// How a line read ended.
#[derive(Debug, PartialEq, Eq)]
pub enum LineStatus {
    /// The whole line (without CRLF) was appended.
    Complete,
    /// The line exceeded the limit: the first part was kept, the rest read
    /// and dropped; `tail` holds the line's last bytes (to see whether it
    /// announced a literal).
    TooLong { tail: heapless::Vec<u8, 32> },
}

pub struct Connection {
    pub stream: Stream,
    input: Vec<u8>,
    start: usize,
    end: usize,
    output: Vec<u8>,
    read_size: usize,
    write_limit: usize,
    write_timeout: Duration,
    /// A flush timed out: the client stopped reading, and closing must not
    /// wait for it again.
    stalled: bool,
    /// Longest wait for the client's next bytes, wherever it is in a command.
    idle: Duration,
    /// A point after which no read waits (the login deadline).
    deadline: Option<Instant>,
    /// The most the output buffer ever held (its capacity), logged at
    /// debug level when the connection goes: tests check that a huge
    /// answer went out through a bounded buffer.
    peak_output: usize,
    /// COMPRESS=DEFLATE, once active (boxed: most connections never use it).
    deflate: Option<Box<Deflate>>,
}

impl Drop for Connection {
    fn drop(&mut self) {
        log::debug!("connection closed; peak output buffer {} bytes", self.peak_output.max(self.output.capacity()));
    }
}

fn eof() -> io::Error {
    io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed by the client")
}

impl Connection {
    pub fn new(stream: Stream, read_size: usize, write_limit: usize, write_timeout: Duration) -> Connection {
        Connection {
            stream,
            input: Vec::new(),
            start: 0,
            end: 0,
            output: Vec::new(),
            read_size,
            write_limit,
            write_timeout,
            stalled: false,
            // Until the caller sets its read limits.
            idle: write_timeout,
            deadline: None,
            peak_output: 0,
            deflate: None,
        }
    }

    /// Every later read fails with `TimedOut` if the client sends nothing
    /// for `idle`, or once `deadline` has passed.
    pub fn set_read_limits(&mut self, idle: Duration, deadline: Option<Instant>) {
        self.idle = idle;
        self.deadline = deadline;
    }

    /// When a read starting now must give up.
    fn read_limit(&self) -> Instant {
        let limit = Instant::now() + self.idle;
        self.deadline.map_or(limit, |deadline| limit.min(deadline))
    }

    /// Reads from the socket within the read limits.
    async fn read_socket(stream: &mut Stream, buffer: &mut [u8], limit: Instant) -> io::Result<usize> {
        let read = stream.read(buffer);
        let timeout = async {
            smol::Timer::at(limit).await;
            Err(io::Error::new(io::ErrorKind::TimedOut, "client sent nothing in time"))
        };
        smol::future::or(read, timeout).await
    }

    /// Reads plain bytes into `buffer`: from the socket, or through the
    /// inflater once compression is on. 0 means the client closed.
    async fn read_plain(
        stream: &mut Stream,
        deflate: Option<&mut Deflate>,
        buffer: &mut [u8],
        limit: Instant,
    ) -> io::Result<usize> {
        let Some(deflate) = deflate else {
            return Self::read_socket(stream, buffer, limit).await;
        };
        loop {
            let count = deflate.inflate_into(buffer)?;
            if count > 0 {
                return Ok(count);
            }
            // The compressed bytes land in `buffer` first and move to the
            // inflater's input, so a waiting session (over TLS the input
            // buffer is there while it waits) holds no second buffer.
            // Cancel-safe: nothing is read until the socket has bytes.
            let count = Self::read_socket(stream, buffer, limit).await?;
            if count == 0 {
                return Ok(0);
            }
            deflate.push(&buffer[..count]);
        }
    }

    /// Starts COMPRESS=DEFLATE (RFC 4978 §3): the tagged OK must already
    /// be flushed uncompressed; whatever the client pipelined after the
    /// command is compressed and goes to the inflater.
    pub fn start_deflate(&mut self, slot: Slot, level: u8) {
        let pipelined = &self.input[self.start..self.end];
        self.deflate = Some(Box::new(Deflate::new(slot, pipelined, level)));
        self.start = 0;
        self.end = 0;
    }

    pub fn is_compressed(&self) -> bool {
        self.deflate.is_some()
    }

    fn buffered(&self) -> &[u8] {
        &self.input[self.start..self.end]
    }

    /// Reads more bytes into the input buffer.
    async fn fill(&mut self) -> io::Result<()> {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
        if self.input.is_empty() && !self.deflate.as_ref().is_some_and(|deflate| deflate.has_buffered()) {
            // An idle connection holds no read buffer: wait until the
            // socket has data, then allocate. (Over TLS, rustls may hold
            // decrypted bytes the socket no longer shows, so read at once.)
            let limit = self.read_limit();
            let readable = async {
                match &self.stream {
                    Stream::Plain(tcp) => tcp.readable().await,
                    Stream::Unix(unix) => unix.readable().await,
                    _ => Ok(()),
                }
            };
            let timeout = async {
                smol::Timer::at(limit).await;
                Err(io::Error::new(io::ErrorKind::TimedOut, "client sent nothing in time"))
            };
            smol::future::or(readable, timeout).await?;
        }
        if self.input.len() < self.read_size {
            self.input.resize(self.read_size, 0);
        }
        if self.end == self.input.len() {
            self.input.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        let limit = self.read_limit();
        let buffer = &mut self.input[self.end..];
        let count = Self::read_plain(&mut self.stream, self.deflate.as_deref_mut(), buffer, limit).await?;
        if count == 0 {
            return Err(eof());
        }
        self.end += count;
        Ok(())
    }

    /// Appends the next line, without its line ending, to `into`, keeping
    /// `into` at most `max` bytes long.
    pub async fn read_line(&mut self, into: &mut Vec<u8>, max: usize) -> io::Result<LineStatus> {
        // Only bytes of this line may be trimmed: `into` may end with a
        // literal's bytes, CR included.
        let start = into.len();
        let mut overflow = false;
        let mut tail: heapless::Vec<u8, 32> = heapless::Vec::new();
        loop {
            let available = self.buffered();
            let (piece, found_end) = match available.iter().position(|&byte| byte == b'\n') {
                Some(position) => (&available[..position], true),
                None => (available, false),
            };
            let taken = piece.len() + usize::from(found_end);
            let room = max.saturating_sub(into.len());
            if !overflow && piece.len() <= room {
                into.extend_from_slice(piece);
            } else {
                if !overflow {
                    into.extend_from_slice(&piece[..room]);
                    overflow = true;
                }
                for &byte in piece {
                    if tail.is_full() {
                        tail.remove(0);
                    }
                    let _ = tail.push(byte);
                }
            }
            self.start += taken;
            if found_end {
                // IMAP lines end in CRLF; a bare LF is accepted too.
                if overflow {
                    if tail.last() == Some(&b'\r') {
                        tail.pop();
                    }
                    return Ok(LineStatus::TooLong { tail });
                }
                if into.len() > start && into.last() == Some(&b'\r') {
                    into.pop();
                }
                return Ok(LineStatus::Complete);
            }
            self.fill().await?;
        }
    }

    /// Appends exactly `count` bytes to `into`.
    pub async fn read_exact_into(&mut self, count: usize, into: &mut Vec<u8>) -> io::Result<()> {
        let mut remaining = count;
        while remaining > 0 {
            if self.start == self.end {
                self.fill().await?;
            }
            let take = remaining.min(self.end - self.start);
            into.extend_from_slice(&self.input[self.start..self.start + take]);
            self.start += take;
            remaining -= take;
        }
        Ok(())
    }

    /// Appends between 1 and `max` bytes to `into`: what is buffered, or
    /// one read straight from the socket into `into`.
    pub async fn read_some(&mut self, max: usize, into: &mut Vec<u8>) -> io::Result<usize> {
        if self.start < self.end {
            let take = max.min(self.end - self.start);
            into.extend_from_slice(&self.input[self.start..self.start + take]);
            self.start += take;
            return Ok(take);
        }
        let old = into.len();
        into.resize(old + max, 0);
        let limit = self.read_limit();
        let deflate = self.deflate.as_deref_mut();
        let result = Self::read_plain(&mut self.stream, deflate, &mut into[old..], limit).await;
        let count = *result.as_ref().unwrap_or(&0);
        into.truncate(old + count);
        match result {
            Ok(0) => Err(eof()),
            Ok(count) => Ok(count),
            Err(error) => Err(error),
        }
    }

    /// The bytes received and not yet taken, reading more first if there
    /// are none; take them with [`Connection::consume`]. A protocol that
    /// ends a stream with a marker (LMTP's `.`) reads this way, so that
    /// whatever the client pipelined after the marker stays buffered.
    pub async fn peek(&mut self) -> io::Result<&[u8]> {
        if self.start == self.end {
            self.fill().await?;
        }
        Ok(self.buffered())
    }

    /// Waits until the client has sent bytes not yet taken. Cancel-safe:
    /// bytes read before a cancellation stay buffered for the next read.
    pub async fn wait_input(&mut self) -> io::Result<()> {
        if self.start == self.end {
            self.fill().await?;
        }
        Ok(())
    }

    /// Waits until a whole line is buffered, or `max` bytes (at most the
    /// read buffer) without a line end, so that a [`Connection::read_line`]
    /// right after finds its line end or its overflow without waiting.
    /// Cancel-safe like [`Connection::wait_input`]: a line arriving in
    /// pieces stays buffered across cancellations (IDLE races this against
    /// mailbox changes; `read_line` itself keeps its partial line in its
    /// caller's vector, which a cancellation leaves half-trimmed).
    pub async fn wait_line(&mut self, max: usize) -> io::Result<()> {
        loop {
            let buffered = self.buffered();
            if buffered.contains(&b'\n') || buffered.len() >= max.min(self.read_size) {
                return Ok(());
            }
            self.fill().await?;
        }
    }

    /// Whether the client has sent bytes not yet taken (pipelined commands).
    pub fn has_input(&self) -> bool {
        self.start < self.end
    }

    /// Takes `count` bytes of what [`Connection::peek`] showed.
    pub fn consume(&mut self, count: usize) {
        self.start = (self.start + count).min(self.end);
    }

    /// Reads and drops `count` bytes.
    pub async fn skip(&mut self, count: u64) -> io::Result<()> {
        let mut remaining = count;
        while remaining > 0 {
            if self.start == self.end {
                self.fill().await?;
            }
            let take = remaining.min((self.end - self.start) as u64) as usize;
            self.start += take;
            remaining -= take as u64;
        }
        Ok(())
    }

    /// Drops whatever the client sent ahead (RFC 3501 §6.2.1: nothing sent
    /// before the TLS negotiation may be taken as after it).
    pub fn discard_input(&mut self) {
        self.start = 0;
        self.end = 0;
    }

    /// The response buffer, for encoders to write into.
    pub fn out(&mut self) -> &mut Vec<u8> {
        &mut self.output
    }

    pub fn write(&mut self, bytes: &[u8]) {
        self.output.extend_from_slice(bytes);
    }

    /// Flushes once the buffer holds a board-sized batch.
    pub async fn flush_if_full(&mut self) -> io::Result<()> {
        if self.output.len() >= self.write_limit {
            self.flush().await?;
        }
        Ok(())
    }

    pub fn write_limit(&self) -> usize {
        self.write_limit
    }

    /// Sends everything buffered. A client that stops reading is cut off
    /// after the write timeout rather than holding its session forever.
    pub async fn flush(&mut self) -> io::Result<()> {
        if self.output.is_empty() {
            return Ok(());
        }
        if self.stalled {
            return Err(stopped_reading());
        }
        let write_timeout = self.write_timeout;
        let (stream, output, chunk) = (&mut self.stream, &self.output, self.write_limit);
        let deflate = self.deflate.as_deref_mut();
        let send = async {
            match deflate {
                None => stream.write_all(output).await?,
                Some(deflate) => {
                    // RFC 4978 §4: a sync flush ends every batch, so the
                    // client gets all of it now (IDLE's keep-alives too).
                    let mut rest = &output[..];
                    loop {
                        let (taken, done) = deflate.compress(rest, chunk)?;
                        rest = &rest[taken..];
                        stream.write_all(deflate.compressed()).await?;
                        if done {
                            break;
                        }
                    }
                }
            }
            stream.flush().await?;
            io::Result::Ok(true)
        };
        let timeout = async {
            smol::Timer::after(write_timeout).await;
            Ok(false)
        };
        if !smol::future::or(send, timeout).await? {
            self.stalled = true;
            log::info!(
                "{}: did not read its output for {} s; disconnecting",
                peer_of(&self.stream),
                self.write_timeout.as_secs()
            );
            return Err(stopped_reading());
        }
        self.output.clear();
        Ok(())
    }

    /// Returns the buffers' memory while the connection waits for a command.
    pub fn release_buffers(&mut self) {
        if self.start == self.end {
            self.input = Vec::new();
            self.start = 0;
            self.end = 0;
        }
        if self.output.is_empty() {
            self.peak_output = self.peak_output.max(self.output.capacity());
            self.output = Vec::new();
            // Everything sent ended with a sync flush: the compressor can go.
            if let Some(deflate) = &mut self.deflate {
                deflate.release();
            }
        }
    }

    /// Sends what is left and closes, each within the write timeout. After
    /// a write timeout, one attempt that does not wait sends `* BYE` (the
    /// client's buffers are full: it rarely gets through) and the socket is
    /// dropped.
    pub async fn close(&mut self) {
        if self.stalled {
            // Whatever was queued (cut mid-response) cannot go out now.
            self.output.clear();
            if self.deflate.is_some() {
                // The compressed stream was cut mid-batch: nothing more
                // written now could be decoded.
                return;
            }
            let bye = b"\r\n* BYE Output not read in time\r\n";
            let _ = smol::future::poll_once(self.stream.write(bye)).await;
            let _ = smol::future::poll_once(self.stream.flush()).await;
            return;
        }
        let _ = self.flush().await;
        let timeout = self.write_timeout;
        let _ = smol::future::or(async { self.stream.close().await }, async {
            smol::Timer::after(timeout).await;
            Ok(())
        })
        .await;
    }
}

fn stopped_reading() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "client stopped reading")
}

/// The client's address, for logs.
fn peer_of(stream: &Stream) -> String {
    let address = match stream {
        Stream::Plain(tcp) => tcp.get_ref().peer_addr(),
        Stream::Tls(tls) => tls.get_ref().0.get_ref().peer_addr(),
        Stream::Unix(_) => return "local client".into(),
        Stream::Closed => return "closed connection".into(),
    };
    address.map_or_else(|_| "unknown peer".into(), |address| address.to_string())
}
