//! LMTP command lines (RFC 2033, with RFC 5321's grammar for the commands
//! it shares with SMTP), parsed into typed commands. The session never
//! sees raw bytes.

/// What the client asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Lhlo {
        host: String,
    },
    /// HELO or EHLO: RFC 2033 §4.1 forbids accepting them on LMTP.
    Helo,
    Mail {
        from: String,
        size: Option<u64>,
    },
    Rcpt {
        to: String,
        /// roost's own `X-MAILBOX=` parameter (`roost deliver --mailbox`):
        /// the mailbox, decoded from base64 (`lmtp::route`).
        mailbox: Option<String>,
    },
    Data,
    Rset,
    Noop,
    Quit,
    Vrfy,
    /// A verb we do not implement (STARTTLS, AUTH, BDAT, ...).
    Unknown {
        verb: String,
    },
}

/// Why a line is not a command we can run, with its reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub code: u16,
    pub enhanced: &'static str,
    pub text: String,
}

fn syntax(text: impl Into<String>) -> Error {
    // RFC 3463 X.5.2: syntax error.
    Error { code: 501, enhanced: "5.5.2", text: text.into() }
}

fn bad_address(text: impl Into<String>) -> Error {
    // RFC 3463 X.1.7 / X.1.3: bad sender / destination mailbox syntax.
    Error { code: 501, enhanced: "5.1.7", text: text.into() }
}

fn bad_parameter(text: impl Into<String>) -> Error {
    // RFC 5321 §4.1.1.11: 555 for parameters not recognized.
    Error { code: 555, enhanced: "5.5.4", text: text.into() }
}

/// Parses one command line (without its CRLF).
pub fn parse(line: &[u8]) -> Result<Command, Error> {
    let Ok(line) = std::str::from_utf8(line) else {
        return Err(syntax("Command line is not text"));
    };
    if line.bytes().any(|byte| byte < 0x20 && byte != b'\t' || byte == 0x7f) {
        return Err(syntax("Control characters in the command line"));
    }
    let (verb, rest) = match line.find(' ') {
        Some(at) => (&line[..at], &line[at + 1..]),
        None => (line, ""),
    };
    let no_arguments = |command: Command| {
        if rest.trim().is_empty() {
            Ok(command)
        } else {
            Err(syntax(format!("{} takes no arguments", verb.to_ascii_uppercase())))
        }
    };
    match verb.to_ascii_uppercase().as_str() {
        "LHLO" => {
            let host = rest.trim();
            if host.is_empty() || host.contains(' ') {
                return Err(syntax("Syntax: LHLO hostname"));
            }
            Ok(Command::Lhlo { host: host.to_string() })
        }
        "HELO" | "EHLO" => Ok(Command::Helo),
        "MAIL" => mail(rest),
        "RCPT" => rcpt(rest),
        "DATA" => no_arguments(Command::Data),
        "RSET" => no_arguments(Command::Rset),
        // RFC 5321 §4.1.1.9: NOOP may carry a string, which is ignored.
        "NOOP" => Ok(Command::Noop),
        "QUIT" => no_arguments(Command::Quit),
        "VRFY" => Ok(Command::Vrfy),
        "" => Err(Error { code: 500, enhanced: "5.5.2", text: "Empty command line".into() }),
        _ => Ok(Command::Unknown { verb: verb.chars().take(16).collect() }),
    }
}

/// `FROM:<path> [SIZE=n] [BODY=7BIT|8BITMIME]`.
fn mail(rest: &str) -> Result<Command, Error> {
    let Some(path) = strip_keyword(rest, "FROM:") else {
        return Err(syntax("Syntax: MAIL FROM:<address>"));
    };
    let (from, parameters) = path_and_parameters(path)?;
    let mut size = None;
    for parameter in parameters.split(' ').filter(|word| !word.is_empty()) {
        let (key, value) = parameter.split_once('=').unwrap_or((parameter, ""));
        match key.to_ascii_uppercase().as_str() {
            // RFC 1870: the size the client declares.
            "SIZE" => match value.parse::<u64>() {
                Ok(declared) if value.bytes().all(|byte| byte.is_ascii_digit()) => size = Some(declared),
                _ => return Err(bad_parameter("SIZE needs a number")),
            },
            // RFC 6152: 8BITMIME needs nothing of us; the bytes are stored as sent.
            "BODY" if value.eq_ignore_ascii_case("7BIT") || value.eq_ignore_ascii_case("8BITMIME") => {}
            "BODY" => return Err(bad_parameter("BODY must be 7BIT or 8BITMIME")),
            _ => return Err(bad_parameter(format!("Parameter {key} not supported"))),
        }
    }
    Ok(Command::Mail { from, size })
}

/// `TO:<address> [X-MAILBOX=base64]`: the one parameter offered is
/// roost's own (RFC 5321 §4.1.2: a keyword starting with X is local),
/// which `roost deliver --mailbox` sends: the mailbox's name as UTF-8 in
/// unpadded base64 (a name may hold spaces and any letter). With it the
/// address may be empty (`<>`, a public mailbox) or a user (whose
/// personal mailbox it names).
fn rcpt(rest: &str) -> Result<Command, Error> {
    let Some(path) = strip_keyword(rest, "TO:") else {
        return Err(syntax("Syntax: RCPT TO:<address>"));
    };
    let (to, parameters) = path_and_parameters(path)?;
    let mut mailbox = None;
    for parameter in parameters.split(' ').filter(|word| !word.is_empty()) {
        let (key, value) = parameter.split_once('=').unwrap_or((parameter, ""));
        if !key.eq_ignore_ascii_case("X-MAILBOX") || mailbox.is_some() {
            return Err(bad_parameter(format!("Parameter {key} not supported")));
        }
        let name = crate::util::base64::decode_unpadded(value.as_bytes())
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .filter(|name| !name.is_empty())
            .ok_or_else(|| bad_parameter("X-MAILBOX needs a mailbox name in unpadded base64"))?;
        mailbox = Some(name);
    }
    if to.is_empty() && mailbox.is_none() {
        return Err(Error { code: 501, enhanced: "5.1.3", text: "A recipient address is needed".into() });
    }
    Ok(Command::Rcpt { to, mailbox })
}

fn strip_keyword<'a>(text: &'a str, keyword: &str) -> Option<&'a str> {
    let head = text.get(..keyword.len())?;
    // Many clients write "MAIL FROM: <a@b>"; accept the space (as Postfix does).
    head.eq_ignore_ascii_case(keyword).then(|| text[keyword.len()..].trim_start())
}

/// `<address>` and what follows it. A source route (`<@a,@b:user@c>`) is
/// dropped (RFC 5321 §4.1.1.3 says to ignore it).
fn path_and_parameters(text: &str) -> Result<(String, &str), Error> {
    let Some(inner) = text.strip_prefix('<') else {
        return Err(bad_address("The address must be in angle brackets"));
    };
    let Some(end) = inner.find('>') else {
        return Err(bad_address("Missing '>' after the address"));
    };
    let mut address = &inner[..end];
    let rest = &inner[end + 1..];
    if !rest.is_empty() && !rest.starts_with(' ') {
        return Err(bad_address("Unexpected text after the address"));
    }
    if address.starts_with('@') {
        match address.find(':') {
            Some(colon) => address = &address[colon + 1..],
            None => return Err(bad_address("Bad source route")),
        }
    }
    // No SMTPUTF8 offered: addresses are printable ASCII, and nothing in
    // them can break the Return-Path or Delivered-To line we write.
    if address.len() > 256 || !address.bytes().all(|byte| byte.is_ascii_graphic()) || address.contains('<') {
        return Err(bad_address("Bad address syntax"));
    }
    Ok((address.to_string(), rest.trim_start()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(line: &str) -> Command {
        parse(line.as_bytes()).unwrap_or_else(|error| panic!("{line:?}: {error:?}"))
    }

    fn error(line: &str) -> Error {
        parse(line.as_bytes()).expect_err(line)
    }

    #[test]
    fn commands_and_their_arguments() {
        assert_eq!(ok("LHLO mx.example.org"), Command::Lhlo { host: "mx.example.org".into() });
        assert_eq!(ok("lhlo x"), Command::Lhlo { host: "x".into() });
        assert_eq!(ok("EHLO x"), Command::Helo);
        assert_eq!(ok("MAIL FROM:<>"), Command::Mail { from: String::new(), size: None });
        assert_eq!(
            ok("mail from:<Bob@Example.org> SIZE=1234 BODY=8BITMIME"),
            Command::Mail { from: "Bob@Example.org".into(), size: Some(1234) }
        );
        assert_eq!(ok("MAIL FROM: <a@b> body=7bit"), Command::Mail { from: "a@b".into(), size: None });
        assert_eq!(
            ok("RCPT TO:<alice+lists@example.org>"),
            Command::Rcpt { to: "alice+lists@example.org".into(), mailbox: None }
        );
        assert_eq!(
            ok("RCPT TO:<@relay.example,@other:alice@example.org>"),
            Command::Rcpt { to: "alice@example.org".into(), mailbox: None }
        );
        // `roost deliver --mailbox`: "Family/Bills" and "School" in base64.
        assert_eq!(
            ok("RCPT TO:<> X-MAILBOX=RmFtaWx5L0JpbGxz"),
            Command::Rcpt { to: String::new(), mailbox: Some("Family/Bills".into()) }
        );
        assert_eq!(
            ok("RCPT TO:<mom> x-mailbox=U2Nob29s"),
            Command::Rcpt { to: "mom".into(), mailbox: Some("School".into()) }
        );
        assert_eq!(ok("DATA"), Command::Data);
        assert_eq!(ok("rset"), Command::Rset);
        assert_eq!(ok("NOOP anything"), Command::Noop);
        assert_eq!(ok("QUIT"), Command::Quit);
        assert_eq!(ok("VRFY alice"), Command::Vrfy);
        assert_eq!(ok("STARTTLS"), Command::Unknown { verb: "STARTTLS".into() });
    }

    #[test]
    fn mistakes_get_the_right_codes() {
        assert_eq!(error("LHLO").code, 501);
        assert_eq!(error("MAIL alice").code, 501);
        assert_eq!(error("MAIL FROM:alice@example.org").enhanced, "5.1.7");
        assert_eq!(error("MAIL FROM:<a@b").enhanced, "5.1.7");
        assert_eq!(error("MAIL FROM:<a@b>SIZE=1").enhanced, "5.1.7");
        assert_eq!(error("MAIL FROM:<a@b> SIZE=big").code, 555);
        assert_eq!(error("MAIL FROM:<a@b> SIZE=-1").code, 555);
        assert_eq!(error("MAIL FROM:<a@b> BODY=BINARYMIME").code, 555);
        assert_eq!(error("MAIL FROM:<a@b> SMTPUTF8").code, 555);
        assert_eq!(error("RCPT TO:<a@b> NOTIFY=NEVER").code, 555);
        assert_eq!(error("RCPT TO:<>").enhanced, "5.1.3");
        assert_eq!(error("RCPT TO:<> X-MAILBOX=").code, 555);
        assert_eq!(error("RCPT TO:<> X-MAILBOX=!!").code, 555);
        assert_eq!(error("RCPT TO:<a> X-MAILBOX=U2Nob29s X-MAILBOX=U2Nob29s").code, 555);
        assert_eq!(error("RCPT TO:<a b@c>").enhanced, "5.1.7");
        assert_eq!(error("RCPT TO:<caf\u{e9}@example.org>").enhanced, "5.1.7");
        assert_eq!(error("DATA now").code, 501);
        assert_eq!(error("").code, 500);
        assert_eq!(parse(b"NOOP \r\x00").unwrap_err().code, 501);
        assert_eq!(parse(b"\xff\xfe").unwrap_err().code, 501);
    }

    proptest::proptest! {
        #[test]
        fn any_line_parses_or_fails_without_panicking(line in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
            let _ = parse(&line);
        }

        #[test]
        fn command_like_lines_never_panic(
            verb in proptest::sample::select(vec!["MAIL FROM:", "RCPT TO:", "LHLO ", "mail from: ", "rcpt to:"]),
            rest in "[<>@:,=a-zA-Z0-9 .+\\-\u{e9}]{0,80}",
        ) {
            let line = format!("{verb}{rest}");
            if let Ok(Command::Mail { from, .. } | Command::Rcpt { to: from, .. }) = parse(line.as_bytes()) {
                proptest::prop_assert!(from.bytes().all(|byte| byte.is_ascii_graphic()));
            }
        }
    }
}
