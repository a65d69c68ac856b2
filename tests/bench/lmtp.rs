//! A small LMTP client (RFC 2033) for the delivery scenario: one session,
//! one recipient per message, plain TCP on loopback.

use std::io;
use std::net::{SocketAddr, TcpStream};
use std::time::Instant;

use smol::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use smol::Async;

pub struct Lmtp {
    stream: BufReader<Async<TcpStream>>,
}

/// When the final `.` of a delivery went out and when its 250 came back.
pub struct Delivered {
    pub dot: Instant,
    pub accepted: Instant,
}

fn other(text: impl Into<String>) -> io::Error {
    io::Error::other(text.into())
}

impl Lmtp {
    /// Connects, reads the 220 greeting and says LHLO.
    pub async fn connect(address: SocketAddr) -> io::Result<Lmtp> {
        let tcp = Async::<TcpStream>::connect(address).await?;
        tcp.get_ref().set_nodelay(true)?;
        let mut lmtp = Lmtp { stream: BufReader::new(tcp) };
        lmtp.expect(220, "greeting").await?;
        lmtp.send(b"LHLO bench.localhost\r\n").await?;
        lmtp.expect(250, "LHLO").await?;
        Ok(lmtp)
    }

    async fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.get_mut().write_all(bytes).await?;
        self.stream.get_mut().flush().await
    }

    /// One reply (all its `NNN-` continuation lines and the final `NNN `
    /// line); its code must be `code`.
    async fn expect(&mut self, code: u16, what: &str) -> io::Result<()> {
        let mut text = String::new();
        loop {
            let mut line = String::new();
            if self.stream.read_line(&mut line).await? == 0 {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, format!("LMTP {what}: connection closed")));
            }
            text.push_str(&line);
            if line.len() < 4 || line.as_bytes()[3] != b'-' {
                break;
            }
        }
        if text.get(..3).and_then(|digits| digits.parse::<u16>().ok()) != Some(code) {
            return Err(other(format!("LMTP {what}: {}", text.trim_end())));
        }
        Ok(())
    }

    /// Delivers `message` (CRLF lines) from the null sender to `recipient`.
    pub async fn deliver(&mut self, recipient: &str, message: &[u8]) -> io::Result<Delivered> {
        self.send(b"MAIL FROM:<>\r\n").await?;
        self.expect(250, "MAIL FROM").await?;
        self.send(format!("RCPT TO:<{recipient}>\r\n").as_bytes()).await?;
        self.expect(250, "RCPT TO").await?;
        self.send(b"DATA\r\n").await?;
        self.expect(354, "DATA").await?;
        self.send(&dot_stuffed(message)).await?;
        let dot = Instant::now();
        self.send(b".\r\n").await?;
        // LMTP answers once per accepted recipient: here, once.
        self.expect(250, "end of DATA").await?;
        Ok(Delivered { dot, accepted: Instant::now() })
    }

    pub async fn quit(mut self) {
        let _ = self.send(b"QUIT\r\n").await;
        let _ = self.expect(221, "QUIT").await;
    }
}

/// The message with every line that starts with `.` given one more, and a
/// CRLF at the end if it lacks one (the final `.` line is not included).
pub fn dot_stuffed(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 16);
    for line in message.split_inclusive(|&byte| byte == b'\n') {
        if line.starts_with(b".") {
            out.push(b'.');
        }
        out.extend_from_slice(line);
    }
    if !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out
}
