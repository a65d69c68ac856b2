//! `roost deliver`: one message from stdin to a user's INBOX (or, with
//! `--mailbox`, to a shared or public mailbox that grants `anyone` the
//! `p` right: `lmtp::route`), for MTAs that pipe mail to a command. It speaks LMTP to the running server's
//! socket (only the server may open the database), streaming stdin
//! with dot-stuffing; nothing is held whole.
//!
//! Exit codes follow sysexits.h, which MTAs read: a temporary failure
//! (75) makes them keep the message and retry, anything else in 64..78
//! makes them bounce it.
//!
//! What MTAs hand a command, and what is done with it (as dovecot-lda
//! does, issue 17):
//! - Postfix's local(8) (`mailbox_command`) and others start the message
//!   with an mbox separator line, `From sender date`: not a header field,
//!   so it is dropped, never stored.
//! - They also prepend a `Return-Path:` field, and the server adds its own
//!   from MAIL FROM: so deliver takes the message's Return-Path out, and
//!   uses its address as the envelope sender when `-f` is not given. The
//!   stored message has one Return-Path, the server's.
//!
//! Both are found in the message's head, read before connecting and held
//! up to [`MAX_HEAD`] bytes (a header beyond that passes through as is);
//! the rest still streams.
//!
//! A socket the command may not open (it runs as another user than the
//! server's group allows: Postfix's `mailbox_command` runs as the
//! recipient) is named as a permission problem, not as a server that is
//! not running.

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
/// [`recipient`]), as sent by `from` (None: the message's Return-Path,
/// else the null sender `<>`), through the LMTP socket at `socket`.
pub fn deliver(
    socket: &Path,
    from: Option<&str>,
    user: Option<&str>,
    mailbox: Option<&str>,
    mut input: impl Read,
) -> Result<(), Failure> {
    let rcpt = recipient(user, mailbox)?;
    let from = match from {
        Some(from) => {
            let from = bare(from);
            if !plain_address(from) {
                return Err(fail(EX_USAGE, format!("{from:?} is not a sender address")));
            }
            Some(from.to_string())
        }
        None => None,
    };
    let head = read_head(&mut input)?;
    if head.bytes.is_empty() && head.ended {
        return Err(fail(EX_DATAERR, "the message on stdin is empty"));
    }
    // The message's own Return-Path, when it holds one address and -f
    // did not name the sender.
    let found = head.return_path.as_deref().map(bare).filter(|address| plain_address(address));
    let from = from.or(found.map(str::to_string)).unwrap_or_default();
    let stream = UnixStream::connect(socket).map_err(|error| unreachable(socket, &error))?;
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
    send_message(&mut client.writer, std::io::Cursor::new(head.bytes).chain(input))?;
    let reply = client.reply()?;
    if reply.code != 250 {
        return Err(reply.failure("the message"));
    }
    let _ = client.command("QUIT", "QUIT", 221);
    Ok(())
}

/// MTAs pass addresses bare or in brackets ("<>" for bounces).
fn bare(address: &str) -> &str {
    let address = address.trim();
    address.strip_prefix('<').and_then(|inner| inner.strip_suffix('>')).unwrap_or(address)
}

/// Why the socket did not open, in words that point at the fix.
fn unreachable(socket: &Path, error: &std::io::Error) -> Failure {
    let place = socket.display();
    if error.kind() == std::io::ErrorKind::PermissionDenied {
        let uid = rustix::process::getuid().as_raw();
        // Temporary: the MTA keeps the mail while the administrator fixes
        // the permissions, as it does for a configuration error.
        return fail(
            EX_TEMPFAIL,
            format!(
                "permission denied on the LMTP socket {place} ({error}): roost deliver runs as uid {uid}, which may not \
                 open it; run it as user roost or as a member of group roost, with the socket's directories open to \
                 that group (Postfix: a pipe transport with user=roost in master.cf; mailbox_command runs as the \
                 recipient and cannot reach it)"
            ),
        );
    }
    fail(EX_TEMPFAIL, format!("cannot reach the running server at {place} ({error}); is `roost serve` running?"))
}

/// The most of a message's head read before connecting (to find an mbox
/// `From ` line and a Return-Path field): a header block is a few KiB.
pub const MAX_HEAD: usize = 64 * 1024;

/// The start of the message, as it will be sent.
struct Head {
    /// Without the mbox `From ` line and the Return-Path fields.
    bytes: Vec<u8>,
    /// The first Return-Path field's value, unfolded and trimmed.
    return_path: Option<String>,
    /// The input ended within the head.
    ended: bool,
}

/// Reads up to the end of the header block (or [`MAX_HEAD`] bytes, or the
/// end of the input) and takes out what [`deliver`] must not pass on.
fn read_head(input: &mut impl Read) -> Result<Head, Failure> {
    let mut bytes = Vec::with_capacity(4096);
    let mut ended = false;
    let mut chunk = [0u8; 4096];
    while bytes.len() < MAX_HEAD && !header_ends(&bytes) {
        let wanted = chunk.len().min(MAX_HEAD - bytes.len());
        match input.read(&mut chunk[..wanted]) {
            Ok(0) => {
                ended = true;
                break;
            }
            Ok(count) => bytes.extend_from_slice(&chunk[..count]),
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            // Nothing is stored: nothing was sent yet.
            Err(error) => return Err(fail(EX_IOERR, format!("cannot read the message from stdin: {error}"))),
        }
    }
    let (bytes, return_path) = clean_head(&bytes, ended);
    Ok(Head { bytes, return_path, ended })
}

/// Whether `bytes` hold the empty line that ends a header block.
fn header_ends(bytes: &[u8]) -> bool {
    bytes.starts_with(b"\n")
        || bytes.starts_with(b"\r\n")
        || bytes.windows(2).any(|pair| pair == b"\n\n")
        || bytes.windows(3).any(|three| three == b"\n\r\n")
}

/// `head` without a leading mbox `From ` line and without its Return-Path
/// fields (with their folded lines), and the first Return-Path's value.
/// Only whole lines of the header block are looked at; the rest is kept
/// as it is. `ended`: the input ends with `head`, so a last line without
/// a line break is whole.
fn clean_head(head: &[u8], ended: bool) -> (Vec<u8>, Option<String>) {
    let mut out = Vec::with_capacity(head.len());
    let mut return_path: Option<String> = None;
    let mut rest = head;
    let mut first = true;
    // Inside a Return-Path field (its folded lines go too); `collecting`:
    // the first one, whose value is kept.
    let (mut dropping, mut collecting) = (false, false);
    loop {
        let line_end = rest.iter().position(|&byte| byte == b'\n').map(|at| at + 1);
        let Some(length) = line_end.or((ended && !rest.is_empty()).then_some(rest.len())) else { break };
        let line = &rest[..length];
        let content = line.strip_suffix(b"\n").unwrap_or(line);
        let content = content.strip_suffix(b"\r").unwrap_or(content);
        if content.is_empty() {
            // The header block ends: the body is not looked at.
            break;
        }
        let folded = matches!(content.first(), Some(b' ' | b'\t'));
        if first && mbox_separator(content) {
            // Not a header field: the mbox format's line before a message.
        } else if folded && dropping {
            if let (true, Some(value)) = (collecting, &mut return_path) {
                value.push_str(&String::from_utf8_lossy(content));
            }
        } else if let Some(value) = field_value(content, b"return-path") {
            dropping = true;
            collecting = return_path.is_none();
            if collecting {
                return_path = Some(String::from_utf8_lossy(value).into_owned());
            }
        } else {
            (dropping, collecting) = (false, false);
            out.extend_from_slice(line);
        }
        first = false;
        rest = &rest[length..];
    }
    out.extend_from_slice(rest);
    (out, return_path.map(|value| value.trim().to_string()))
}

/// `From sender date`: mbox's separator. RFC 5322 §4.5 still reads
/// `From :` (spaces before the colon) as the From field: that one stays.
fn mbox_separator(line: &[u8]) -> bool {
    line.strip_prefix(b"From ").is_some_and(|rest| !rest.trim_ascii_start().starts_with(b":"))
}

/// The value of `line` if it is the header field `name` (lower case),
/// spaces before the colon allowed (RFC 5322 §4.5.3's obsolete syntax).
fn field_value<'a>(line: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    let colon = line.iter().position(|&byte| byte == b':')?;
    line[..colon].trim_ascii_end().eq_ignore_ascii_case(name).then(|| &line[colon + 1..])
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

    fn cleaned(head: &str, ended: bool) -> (String, Option<String>) {
        let (bytes, return_path) = clean_head(head.as_bytes(), ended);
        (String::from_utf8(bytes).unwrap(), return_path)
    }

    #[test]
    fn the_mbox_line_and_return_paths_are_taken_out_of_the_header_only() {
        let postfix = "From bob@example.org  Sun Dec  6 20:42:36 2026\nReturn-Path: <bob@example.org>\n\
                       X-Original-To: alice\nDelivered-To: alice@home.example\nSubject: hi\n\n\
                       From the body\nReturn-Path: <kept@example.org>\n";
        let expected = "X-Original-To: alice\nDelivered-To: alice@home.example\nSubject: hi\n\n\
                        From the body\nReturn-Path: <kept@example.org>\n";
        assert_eq!(cleaned(postfix, true), (expected.to_string(), Some("<bob@example.org>".into())));
        // Folded, CRLF, twice, any case: all go; the first value is kept.
        let folded = "return-PATH :\r\n <a@example.org>\r\nReturn-Path: <b@example.org>\r\n\tmore\r\nX: y\r\n\r\nbody";
        assert_eq!(cleaned(folded, true), ("X: y\r\n\r\nbody".to_string(), Some("<a@example.org>".into())));
        // "From :" is the From field in RFC 5322's obsolete syntax, and a
        // From line later than the first is not a separator.
        assert_eq!(cleaned("From : bob\nSubject: x\n\n", true).0, "From : bob\nSubject: x\n\n");
        assert_eq!(cleaned("Subject: x\nFrom bob\n\n", true).0, "Subject: x\nFrom bob\n\n");
        // A line not read to its end yet is passed on untouched.
        assert_eq!(cleaned("Subject: x\nReturn-Path: <a@ex", false), ("Subject: x\nReturn-Path: <a@ex".into(), None));
        assert_eq!(cleaned("Return-Path: <a@example.org>", true), (String::new(), Some("<a@example.org>".into())));
        assert_eq!(cleaned("From x Sun Dec 6\n", true), (String::new(), None));
    }

    #[test]
    fn the_head_is_read_to_the_blank_line_and_no_further_than_needed() {
        let mut input = &b"Return-Path: <a@example.org>\nSubject: x\n\nbody"[..];
        let head = read_head(&mut input).unwrap();
        assert_eq!(head.return_path.as_deref(), Some("<a@example.org>"));
        assert!(String::from_utf8(head.bytes).unwrap().starts_with("Subject: x\n\n"));
        let big = format!("Subject: {}\n\nbody", "x".repeat(MAX_HEAD * 2));
        let mut input = big.as_bytes();
        let head = read_head(&mut input).unwrap();
        assert_eq!(head.bytes.len(), MAX_HEAD);
        assert!(!head.ended);
        assert_eq!(input.len(), big.len() - MAX_HEAD, "the rest is left to stream");
        let head = read_head(&mut &b""[..]).unwrap();
        assert!(head.bytes.is_empty() && head.ended);
    }

    #[test]
    fn a_socket_the_user_may_not_open_is_named_as_a_permission_problem() {
        let socket = Path::new("/run/roost/lmtp.sock");
        let denied = unreachable(socket, &std::io::Error::from(std::io::ErrorKind::PermissionDenied));
        assert_eq!(denied.code, EX_TEMPFAIL);
        assert!(
            denied.message.contains("permission denied on the LMTP socket /run/roost/lmtp.sock"),
            "{}",
            denied.message
        );
        assert!(denied.message.contains("group roost") && !denied.message.contains("running?"), "{}", denied.message);
        let missing = unreachable(socket, &std::io::Error::from(std::io::ErrorKind::NotFound));
        assert!(missing.message.contains("is `roost serve` running?"), "{}", missing.message);
    }

    proptest::proptest! {
        /// Whatever the bytes: no panic, nothing added, the body (after
        /// the first empty line) untouched, and a head with neither an
        /// mbox line nor a Return-Path passed on as it is.
        #[test]
        fn cleaning_only_removes_header_lines(
            head in proptest::collection::vec(proptest::prop_oneof![
                proptest::strategy::Just(b'\n'), proptest::strategy::Just(b'\r'), proptest::strategy::Just(b' '),
                proptest::strategy::Just(b':'), proptest::strategy::Just(b'R'), proptest::strategy::Just(b'F'),
                proptest::num::u8::ANY,
            ], 0..200),
            prefix in proptest::prop_oneof![
                proptest::strategy::Just(&b""[..]), proptest::strategy::Just(&b"From x\n"[..]),
                proptest::strategy::Just(&b"Return-Path: <a@b>\n"[..]), proptest::strategy::Just(&b"From : y\n"[..]),
            ],
            ended: bool,
        ) {
            let input = [prefix, &head].concat();
            let (out, _) = clean_head(&input, ended);
            proptest::prop_assert!(out.len() <= input.len());
            let body = input.windows(2).position(|pair| pair == b"\n\n").map(|at| &input[at + 2..]);
            if let Some(body) = body {
                proptest::prop_assert!(out.ends_with(body));
            }
            let lower = input.to_ascii_lowercase();
            if !input.starts_with(b"From ") && !lower.windows(11).any(|word| word == b"return-path") {
                proptest::prop_assert_eq!(out, input);
            }
        }
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
