//! `roost deliver`: one message from stdin to a user's INBOX (or, with
//! `--mailbox`, to a shared or public mailbox that grants `anyone` the
//! `p` right: `lmtp::route`), for MTAs that pipe mail to a command. It speaks LMTP to the running server's
//! socket (only the server may open the database), streaming stdin
//! with dot-stuffing; nothing is held whole.
//!
//! Exit codes follow sysexits.h, which MTAs read: a temporary failure
//! (75) makes them keep the message and retry, anything else in 64..78
//! makes them bounce it.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use super::data::stuff;

/// sysexits.h codes.
pub const EX_USAGE: u8 = 64;
/// An empty message: nothing to deliver.
pub const EX_DATAERR: u8 = 65;
pub const EX_NOUSER: u8 = 67;
pub const EX_UNAVAILABLE: u8 = 69;
/// A message larger than the server takes. EX_CANTCREAT ("cannot create
/// output file") rather than EX_DATAERR: the message is not malformed, the
/// mailbox cannot take it, and MTAs report 73 in the mailbox-status class
/// (X.2.x, where RFC 3463 puts X.2.3 "message length exceeds
/// administrative limit"), not as a data format error.
pub const EX_CANTCREAT: u8 = 73;
pub const EX_IOERR: u8 = 74;
pub const EX_TEMPFAIL: u8 = 75;
/// The mailbox does not take mail: it does not grant `anyone` the `p`
/// right (LMTP's 550 5.7.1).
pub const EX_NOPERM: u8 = 77;
/// The configuration does not load: MTAs treat 78 as temporary (Postfix:
/// 4.3.5), so mail waits while the administrator fixes it.
pub const EX_CONFIG: u8 = 78;

/// Why a delivery did not happen: the exit code and what to tell the user.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub message: String,
}

fn fail(code: u8, message: impl Into<String>) -> Failure {
    Failure { code, message: message.into() }
}

/// Connection trouble mid-way: the server may be restarting; try later.
fn trouble(error: std::io::Error) -> Failure {
    fail(EX_TEMPFAIL, format!("connection to the server failed: {error}"))
}

/// Longest reply line we read.
const MAX_REPLY: u64 = 4096;
/// How long to wait for the server at any step (it answers DATA after a
/// durable commit: milliseconds, or seconds on a slow SD card).
const TIMEOUT: Duration = Duration::from_secs(300);

struct Reply {
    code: u16,
    text: String,
}

impl Reply {
    /// The exit code for a refusal (anything but 2xx/3xx).
    fn failure(&self, what: &str) -> Failure {
        let code = match self.code {
            400..=499 => EX_TEMPFAIL,
            550 | 551 | 553 if what == "RCPT" && self.text.starts_with("5.1.") => EX_NOUSER,
            // The mailbox went away, or lost its `p`, between RCPT and DATA.
            550 if self.text.starts_with("5.1.1") => EX_NOUSER,
            550 if self.text.starts_with("5.7.1") => EX_NOPERM,
            552 => EX_CANTCREAT,
            _ => EX_UNAVAILABLE,
        };
        fail(code, format!("the server refused {what}: {} {}", self.code, self.text))
    }
}

struct Client {
    reader: BufReader<UnixStream>,
    writer: std::io::BufWriter<UnixStream>,
}

impl Client {
    fn reply(&mut self) -> Result<Reply, Failure> {
        loop {
            let mut line = String::new();
            let read = (&mut self.reader).take(MAX_REPLY).read_line(&mut line).map_err(trouble)?;
            if read == 0 {
                return Err(fail(EX_TEMPFAIL, "the server closed the connection"));
            }
            let line = line.trim_end();
            let code = line.get(..3).and_then(|code| code.parse::<u16>().ok());
            let Some(code) = code else {
                return Err(fail(EX_TEMPFAIL, format!("unexpected answer from the server: {line:?}")));
            };
            // "250-..." continues, "250 ..." ends a reply.
            if line.as_bytes().get(3) != Some(&b'-') {
                return Ok(Reply { code, text: line.get(4..).unwrap_or("").to_string() });
            }
        }
    }

    fn command(&mut self, line: &str, what: &str, expected: u16) -> Result<(), Failure> {
        self.writer.write_all(format!("{line}\r\n").as_bytes()).map_err(trouble)?;
        self.writer.flush().map_err(trouble)?;
        let reply = self.reply()?;
        if reply.code != expected {
            return Err(reply.failure(what));
        }
        Ok(())
    }
}

/// Whether `text` can go between angle brackets in an LMTP command.
fn plain_address(text: &str) -> bool {
    text.len() <= 256 && text.bytes().all(|byte| byte.is_ascii_graphic() && byte != b'<' && byte != b'>')
}

/// The RCPT line for `user`'s INBOX, or with `mailbox`: a public or
/// shared mailbox (`Family/Bills`, `Shared/mom/School`: `user` not
/// needed) or, with `user`, that user's mailbox of that name.
fn recipient(user: Option<&str>, mailbox: Option<&str>) -> Result<String, Failure> {
    let user = user.unwrap_or("");
    if !user.is_empty() && !plain_address(user) {
        return Err(fail(EX_USAGE, format!("{user:?} is not a user name or address")));
    }
    let Some(mailbox) = mailbox else {
        if user.is_empty() {
            return Err(fail(EX_USAGE, "--user or --mailbox is needed"));
        }
        return Ok(format!("RCPT TO:<{user}>"));
    };
    let mailbox = mailbox.trim_end_matches('/');
    let named = ["Family/", "Shared/"].iter().any(|prefix| mailbox.starts_with(prefix));
    if mailbox.is_empty() || (user.is_empty() && !named) {
        return Err(fail(
            EX_USAGE,
            format!("--mailbox {mailbox:?}: without --user name Family/NAME or Shared/USER/NAME"),
        ));
    }
    let encoded = crate::util::base64::encode_unpadded(mailbox.as_bytes());
    Ok(format!("RCPT TO:<{user}> X-MAILBOX={encoded}"))
}

/// Delivers the message read from `input` to `user` (or `mailbox`, see
/// [`recipient`]), as sent by `from` (empty: the null sender `<>`),
/// through the LMTP socket at `socket`.
pub fn deliver(
    socket: &Path,
    from: &str,
    user: Option<&str>,
    mailbox: Option<&str>,
    input: impl Read,
) -> Result<(), Failure> {
    // MTAs pass the sender bare or in brackets ("<>" for bounces).
    let from = from.strip_prefix('<').and_then(|inner| inner.strip_suffix('>')).unwrap_or(from);
    let rcpt = recipient(user, mailbox)?;
    if !plain_address(from) {
        return Err(fail(EX_USAGE, format!("{from:?} is not a sender address")));
    }
    let stream = UnixStream::connect(socket).map_err(|error| {
        fail(
            EX_TEMPFAIL,
            format!("cannot reach the running server at {} ({error}); is `roost serve` running?", socket.display()),
        )
    })?;
    stream.set_read_timeout(Some(TIMEOUT)).map_err(trouble)?;
    stream.set_write_timeout(Some(TIMEOUT)).map_err(trouble)?;
    let mut client = Client {
        reader: BufReader::new(stream.try_clone().map_err(trouble)?),
        writer: std::io::BufWriter::new(stream),
    };
    let greeting = client.reply()?;
    if greeting.code != 220 {
        return Err(greeting.failure("the connection"));
    }
    client.command("LHLO localhost", "LHLO", 250)?;
    client.command(&format!("MAIL FROM:<{from}>"), "MAIL", 250)?;
    client.command(&rcpt, "RCPT", 250)?;
    client.command("DATA", "DATA", 354)?;
    send_message(&mut client.writer, input)?;
    let reply = client.reply()?;
    if reply.code != 250 {
        return Err(reply.failure("the message"));
    }
    let _ = client.command("QUIT", "QUIT", 221);
    Ok(())
}

/// Streams `input`, dot-stuffed, then the end marker.
fn send_message(writer: &mut impl Write, mut input: impl Read) -> Result<(), Failure> {
    let mut buffer = vec![0u8; 64 * 1024];
    let mut out = Vec::with_capacity(buffer.len() + 1024);
    let mut at_line_start = true;
    let mut empty = true;
    loop {
        let count = match input.read(&mut buffer) {
            Ok(0) => break,
            Ok(count) => count,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
            // Nothing is stored: the server drops a message whose end never came.
            Err(error) => return Err(fail(EX_IOERR, format!("cannot read the message from stdin: {error}"))),
        };
        empty = false;
        out.clear();
        stuff(&buffer[..count], &mut at_line_start, &mut out);
        writer.write_all(&out).map_err(trouble)?;
    }
    if empty {
        return Err(fail(EX_DATAERR, "the message on stdin is empty"));
    }
    let end: &[u8] = if at_line_start { b".\r\n" } else { b"\r\n.\r\n" };
    writer.write_all(end).map_err(trouble)?;
    writer.flush().map_err(trouble)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(code: u16, text: &str) -> Reply {
        Reply { code, text: text.into() }
    }

    #[test]
    fn refusals_map_to_sysexits() {
        assert_eq!(reply(550, "5.1.1 <x> User unknown").failure("RCPT").code, EX_NOUSER);
        assert_eq!(reply(451, "4.3.0 later").failure("the message").code, EX_TEMPFAIL);
        assert_eq!(reply(452, "4.3.1 full").failure("the message").code, EX_TEMPFAIL);
        assert_eq!(reply(421, "4.3.2 stopping").failure("MAIL").code, EX_TEMPFAIL);
        assert_eq!(reply(552, "5.3.4 too big").failure("the message").code, EX_CANTCREAT);
        assert_eq!(reply(552, "5.3.4 too big").failure("MAIL").code, EX_CANTCREAT);
        assert_eq!(reply(501, "5.1.7 bad").failure("MAIL").code, EX_UNAVAILABLE);
        assert_eq!(reply(550, "5.1.1 <> No such mailbox").failure("RCPT").code, EX_NOUSER);
        assert_eq!(reply(550, "5.1.1 <> No such mailbox").failure("the message").code, EX_NOUSER);
        assert_eq!(reply(550, "5.7.1 <> Mailbox does not accept mail").failure("RCPT").code, EX_NOPERM);
        assert_eq!(reply(550, "5.7.1 <> Mailbox does not accept mail").failure("the message").code, EX_NOPERM);
    }

    #[test]
    fn recipients_name_a_user_or_a_mailbox() {
        assert_eq!(recipient(Some("mom"), None).unwrap(), "RCPT TO:<mom>");
        assert_eq!(recipient(None, Some("Family/Bills")).unwrap(), "RCPT TO:<> X-MAILBOX=RmFtaWx5L0JpbGxz");
        assert_eq!(recipient(Some("mom"), Some("School")).unwrap(), "RCPT TO:<mom> X-MAILBOX=U2Nob29s");
        assert_eq!(recipient(None, None).unwrap_err().code, EX_USAGE);
        assert_eq!(recipient(None, Some("School")).unwrap_err().code, EX_USAGE);
        assert_eq!(recipient(Some("m m"), Some("School")).unwrap_err().code, EX_USAGE);
        assert_eq!(recipient(None, Some("/")).unwrap_err().code, EX_USAGE);
    }

    #[test]
    fn the_message_is_stuffed_and_ended() {
        let mut sent = Vec::new();
        send_message(&mut sent, &b"Subject: x\n\n.hidden\nlast"[..]).unwrap();
        assert_eq!(sent, b"Subject: x\n\n..hidden\nlast\r\n.\r\n");
        let mut sent = Vec::new();
        send_message(&mut sent, &b"a\r\n"[..]).unwrap();
        assert_eq!(sent, b"a\r\n.\r\n");
        assert_eq!(send_message(&mut Vec::new(), &b""[..]).unwrap_err().code, EX_DATAERR);
    }
}
