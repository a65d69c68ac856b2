//! The mbox side of `roost export`: one mboxrd file per mailbox.
//!
//! - Files: INBOX is `DIR/INBOX`; mailbox `A/B` is `DIR/A.sbd/B`, the
//!   layout Thunderbird's local folders use (a folder that has both
//!   messages and children is a file beside a `.sbd` directory, which a
//!   plain `A/B` path could not be). Names are written as they are
//!   (UTF-8); a name with a control character or a level that is `.` or
//!   `..` is not exported (reported).
//! - Messages: a `From MAILER-DAEMON <date>` line, the date the internal
//!   date in UTC in asctime form (what Dovecot's mbox reads as the
//!   received date), then the message with CRLF line ends written as LF
//!   (mbox is a Unix format; bare CRs and LFs are left as they are),
//!   mboxrd quoting (a line that reads `From ` after any number of `>`
//!   gets one more `>`, in the header and the body alike, so a reader
//!   takes exactly one off), and a blank line after each message.
//! - Flags, keywords and UIDs as Dovecot's mbox driver reads them, added at
//!   the end of each message's header: `Status: O` plus `R` for \Seen,
//!   `X-Status:` with `A` \Answered, `F` \Flagged, `T` \Draft, `D`
//!   \Deleted, `X-Keywords:` the keyword names, `X-UID:` the UID, and on
//!   the first message `X-IMAPbase: <uidvalidity> <last uid> <keywords>`,
//!   so Dovecot keeps roost's UIDs and UIDVALIDITY (it hides these headers
//!   from IMAP clients).
//!
//! An mbox cannot be changed in place cheaply, so a mailbox that changed
//! since the last export (see the module docs of [`super`]) has its file
//! written again, to a hidden temporary beside it, then renamed over it.

use std::io::Write;
use std::path::Path;

use super::{io_error, temporary_beside, Mailbox, Source, Summary};
use crate::store::{Flags, MessageRecord};
use crate::util::datetime::{civil_from_days, DateTime};

/// Bytes of one line held at most before it is written on (a message may
/// be one 25 MiB line).
const LINE_LIMIT: usize = 64 * 1024;

/// The file (relative to the export directory) of mailbox `name`.
pub fn file_path(name: &str) -> Result<String, String> {
    if name.chars().any(char::is_control) {
        return Err("it has a control character".into());
    }
    let levels: Vec<&str> = name.split(crate::store::DELIMITER).collect();
    if levels.iter().any(|level| level.is_empty() || *level == "." || *level == "..") {
        return Err("a level of it cannot be a file name".into());
    }
    if levels.iter().any(|level| level.len() + ".sbd".len() > 255) {
        return Err("a level of it is too long for a file name".into());
    }
    let (last, parents) = levels.split_last().expect("split gives one level at least");
    let mut path = String::new();
    for level in parents {
        path.push_str(level);
        path.push_str(".sbd/");
    }
    path.push_str(last);
    Ok(path)
}

/// Exports one mailbox into the file `path`.
pub fn export(source: &mut Source, mailbox: &Mailbox, path: &Path, summary: &mut Summary) -> Result<(), String> {
    let record = &mailbox.record;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|error| io_error("cannot create", parent, error))?;
    }
    let temporary = temporary_beside(path);
    let file = std::fs::File::create(&temporary).map_err(|error| io_error("cannot create", &temporary, error))?;
    let mut writer = Writer::new(std::io::BufWriter::with_capacity(64 * 1024, &file));
    let mut base = Some(format!("X-IMAPbase: {} {}", record.uid_validity, record.uid_next.saturating_sub(1)));
    for keyword in &record.keywords {
        if let Some(base) = &mut base {
            base.push(' ');
            base.push_str(keyword);
        }
    }
    let mut written = 0;
    source.walk(mailbox.id, record.uid_next, |source, uid, message| {
        let mut headers = base.clone().into_iter().collect::<Vec<_>>();
        headers.extend(flag_headers(uid, message, &record.keywords));
        writer.begin(message.internal_date, headers);
        let found = source.message(message, |piece| writer.feed(piece))?;
        writer.end(found).map_err(|error| io_error("cannot write", &temporary, error))?;
        if found {
            base = None;
            written += 1;
        }
        Ok(())
    })?;
    writer.out.flush().map_err(|error| io_error("cannot write", &temporary, error))?;
    drop(writer);
    drop(file);
    std::fs::rename(&temporary, path).map_err(|error| io_error("cannot rename into", path, error))?;
    summary.written += written;
    Ok(())
}

/// Dovecot's flag, keyword and UID headers for one message.
fn flag_headers(uid: u32, message: &MessageRecord, keywords: &[String]) -> Vec<String> {
    let mut headers = Vec::new();
    // RFC-less but universal: O = old (not \Recent), R = read.
    let mut status = String::from("Status: ");
    if message.flags.contains(Flags::SEEN) {
        status.push('R');
    }
    status.push('O');
    headers.push(status);
    let mut extra = String::new();
    for (letter, flag) in [('A', Flags::ANSWERED), ('F', Flags::FLAGGED), ('T', Flags::DRAFT), ('D', Flags::DELETED)] {
        if message.flags.contains(flag) {
            extra.push(letter);
        }
    }
    if !extra.is_empty() {
        headers.push(format!("X-Status: {extra}"));
    }
    let names: Vec<&str> = keywords
        .iter()
        .enumerate()
        .filter(|(index, _)| *index < 64 && message.keywords & (1 << index) != 0)
        .map(|(_, keyword)| keyword.as_str())
        .collect();
    if !names.is_empty() {
        headers.push(format!("X-Keywords: {}", names.join(" ")));
    }
    headers.push(format!("X-UID: {uid}"));
    headers
}

/// The `From ` line's date: asctime in UTC (`Thu Nov  3 09:05:01 2022`).
pub fn asctime(date: DateTime) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let days = date.unix.div_euclid(86_400);
    let seconds = date.unix.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{} {} {day:2} {:02}:{:02}:{:02} {year}",
        DAYS[days.rem_euclid(7) as usize],
        MONTHS[(month - 1) as usize],
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    )
}

/// Writes messages into an mbox: From lines, quoting, line ends, and the
/// flag headers put before the blank line that ends each header.
pub struct Writer<W: Write> {
    pub out: W,
    line: Vec<u8>,
    /// The line being held started mid-line (a piece of a long line was
    /// written already): not a candidate for quoting or the header's end.
    continued: bool,
    /// Headers still to add (before the header's end).
    headers: Option<Vec<String>>,
    /// The message's `From ` line, written with its first bytes (a
    /// message expunged before it was read leaves nothing behind).
    from_line: Option<String>,
    /// The first write error (later writes are skipped).
    failed: Option<std::io::Error>,
}

impl<W: Write> Writer<W> {
    pub fn new(out: W) -> Writer<W> {
        Writer { out, line: Vec::new(), continued: false, headers: None, from_line: None, failed: None }
    }

    /// Starts a message received at `date`, with `headers` to add.
    pub fn begin(&mut self, date: DateTime, headers: Vec<String>) {
        self.line.clear();
        self.continued = false;
        self.headers = Some(headers);
        self.from_line = Some(format!("From MAILER-DAEMON {}\n", asctime(date)));
    }

    fn write_from_line(&mut self) {
        if let Some(line) = self.from_line.take() {
            self.write(line.as_bytes());
        }
    }

    pub fn feed(&mut self, mut bytes: &[u8]) -> std::io::Result<()> {
        self.write_from_line();
        while let Some(end) = bytes.iter().position(|&byte| byte == b'\n') {
            self.line.extend_from_slice(&bytes[..=end]);
            self.finish_line();
            bytes = &bytes[end + 1..];
        }
        self.line.extend_from_slice(bytes);
        // A CR at the end may be half of a CRLF: keep it for the next piece.
        if self.line.len() > LINE_LIMIT && self.line.last() != Some(&b'\r') {
            let line = std::mem::take(&mut self.line);
            self.write_line_start(&line);
            self.write(&line);
            self.continued = true;
        }
        match &self.failed {
            Some(error) => Err(std::io::Error::new(error.kind(), error.to_string())),
            None => Ok(()),
        }
    }

    /// Ends the message: a last line without a line end gets one, the
    /// headers go in if the message had no header end, and a blank line
    /// separates it from the next. `found` false: the message was gone
    /// before any of it was read, and nothing of it is written.
    pub fn end(&mut self, found: bool) -> std::io::Result<()> {
        if !found {
            self.from_line = None;
            self.headers = None;
            self.line.clear();
            return Ok(());
        }
        self.write_from_line();
        if !self.line.is_empty() {
            self.line.push(b'\n');
            self.finish_line();
        }
        if let Some(headers) = self.headers.take() {
            self.write_headers(&headers);
        }
        self.write(b"\n");
        match self.failed.take() {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }

    /// One whole line (ending in LF) held in `self.line`.
    fn finish_line(&mut self) {
        let mut line = std::mem::take(&mut self.line);
        let mut content = &line[..line.len() - 1];
        if let Some(stripped) = content.strip_suffix(b"\r") {
            content = stripped;
        }
        if !self.continued && content.is_empty() {
            if let Some(headers) = self.headers.take() {
                self.write_headers(&headers);
            }
        }
        self.write_line_start(content);
        self.write(content);
        self.write(b"\n");
        self.continued = false;
        line.clear();
        self.line = line;
    }

    /// mboxrd: `>` before a line that reads `From ` after its `>`s.
    fn write_line_start(&mut self, content: &[u8]) {
        if !self.continued && is_from_line(content) {
            self.write(b">");
        }
    }

    fn write_headers(&mut self, headers: &[String]) {
        for header in headers {
            self.write(header.as_bytes());
            self.write(b"\n");
        }
    }

    fn write(&mut self, bytes: &[u8]) {
        if self.failed.is_none() {
            if let Err(error) = self.out.write_all(bytes) {
                self.failed = Some(error);
            }
        }
    }
}

/// Whether a line needs mboxrd quoting: `>*From `.
pub fn is_from_line(content: &[u8]) -> bool {
    let start = content.iter().position(|&byte| byte != b'>').unwrap_or(content.len());
    content[start..].starts_with(b"From ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mbox_of(messages: &[(&[u8], Vec<String>)]) -> String {
        let mut writer = Writer::new(Vec::new());
        for (bytes, headers) in messages {
            writer.begin(DateTime { unix: 1_000_000_000, offset_minutes: 120 }, headers.clone());
            // Fed in tiny pieces: line ends split across pieces must not matter.
            for piece in bytes.chunks(3) {
                writer.feed(piece).unwrap();
            }
            writer.end(true).unwrap();
        }
        String::from_utf8(writer.out).unwrap()
    }

    #[test]
    fn from_lines_are_quoted_mboxrd_style_and_crlf_becomes_lf() {
        let text = mbox_of(&[(
            b"Subject: hi\r\n\r\nFrom me\r\n>From you\r\n>>From them\r\nFrom: not a from line\r\nFromage\r\n",
            vec!["X-UID: 4".into()],
        )]);
        assert_eq!(
            text,
            "From MAILER-DAEMON Sun Sep  9 01:46:40 2001\nSubject: hi\nX-UID: 4\n\n>From me\n>>From you\n>>>From them\nFrom: not a from line\nFromage\n\n"
        );
    }

    #[test]
    fn headers_go_in_even_without_a_body_and_a_last_line_gets_its_end() {
        let text = mbox_of(&[(b"Subject: a", vec!["Status: O".into()]), (b"Subject: b\n\nbody", vec![])]);
        assert_eq!(
            text,
            "From MAILER-DAEMON Sun Sep  9 01:46:40 2001\nSubject: a\nStatus: O\n\nFrom MAILER-DAEMON Sun Sep  9 01:46:40 2001\nSubject: b\n\nbody\n\n"
        );
    }

    #[test]
    fn a_long_line_is_written_on_without_being_held_whole() {
        let mut message = b"Subject: x\r\n\r\n".to_vec();
        message.extend(std::iter::repeat_n(b'a', 3 * LINE_LIMIT));
        message.extend_from_slice(b"\r\nFrom end\r\n");
        let mut writer = Writer::new(Vec::new());
        writer.begin(DateTime { unix: 0, offset_minutes: 0 }, vec![]);
        for piece in message.chunks(4000) {
            writer.feed(piece).unwrap();
            assert!(writer.line.len() <= LINE_LIMIT + 4000);
        }
        writer.end(true).unwrap();
        let text = String::from_utf8(writer.out).unwrap();
        assert!(text.starts_with("From MAILER-DAEMON Thu Jan  1 00:00:00 1970\nSubject: x\n\naaa"), "{}", &text[..80]);
        assert!(text.ends_with(&format!("{}\n>From end\n\n", "a".repeat(10))));
        assert_eq!(text.matches('a').count(), 3 * LINE_LIMIT + 1);
    }

    #[test]
    fn paths_use_sbd_folders() {
        assert_eq!(file_path("INBOX").unwrap(), "INBOX");
        assert_eq!(file_path("Work/2024/Q1").unwrap(), "Work.sbd/2024.sbd/Q1");
        assert_eq!(file_path("Entwürfe").unwrap(), "Entwürfe");
        assert!(file_path("a/../b").is_err());
        assert!(file_path("bad\nname").is_err());
    }

    #[test]
    fn flag_headers_say_what_dovecot_reads() {
        let message = MessageRecord {
            blob: 1,
            internal_date: DateTime { unix: 0, offset_minutes: 0 },
            size: 1,
            flags: Flags::SEEN.union(Flags::FLAGGED).union(Flags::ANSWERED),
            keywords: 0b10,
            modseq: 1,
        };
        let headers = flag_headers(7, &message, &["$Junk".into(), "$Work".into()]);
        assert_eq!(headers, ["Status: RO", "X-Status: AF", "X-Keywords: $Work", "X-UID: 7"]);
    }

    proptest::proptest! {
        /// Unquoting (one `>` off every `>*From ` line) gives back the
        /// message's lines, whatever they hold and however it is split.
        #[test]
        fn quoting_round_trips(lines in proptest::collection::vec("(>{0,3}(From )?[a-zA-Z ]{0,8})", 0..12), split in 1usize..50) {
            let mut message = b"Subject: t\n\n".to_vec();
            for line in &lines {
                message.extend_from_slice(line.as_bytes());
                message.push(b'\n');
            }
            let mut writer = Writer::new(Vec::new());
            writer.begin(DateTime { unix: 0, offset_minutes: 0 }, vec![]);
            for piece in message.chunks(split) {
                writer.feed(piece).unwrap();
            }
            writer.end(true).unwrap();
            let text = String::from_utf8(writer.out).unwrap();
            let body: Vec<&str> = text.lines().skip(3).collect();
            let unquoted: Vec<String> = body[..body.len() - 1]
                .iter()
                .map(|line| if is_from_line(line.as_bytes()) { line[1..].to_string() } else { line.to_string() })
                .collect();
            proptest::prop_assert_eq!(unquoted, lines);
        }
    }
}
