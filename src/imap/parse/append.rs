//! APPEND's arguments as a stream of events (RFC 3501 §6.3.11, MULTIAPPEND
//! RFC 3502, CATENATE RFC 4469 §5).
//!
//! An APPEND is not parsed whole: each literal that holds message data
//! (the message itself, or a CATENATE `TEXT` part) streams to the store,
//! so a line ends at such a literal and the command goes on in the line
//! after its bytes. The parser reads one line at a time from an
//! [`AppendState`] (where the grammar stood when the last line ended) and
//! reports what the line holds as [`AppendEvent`]s; a literal always ends
//! a line and is the line's last event.
//!
//! ```text
//! append-message = [SP flag-list] [SP date-time] SP append-data
//! append-data    = literal / literal8 / "UTF8" SP "(" literal8 ")"
//!                / "CATENATE" SP "(" cat-part *(SP cat-part) ")"
//! cat-part       = "TEXT" SP (literal / literal8) / "URL" SP astring
//! ```
//!
//! `TEXT` with a literal8 is not in RFC 4469 §5 (`TEXT SP literal`); it is
//! taken as Dovecot takes it, since APPEND's message data may be a literal8
//! (RFC 3516 §4.4). A `URL` given as a literal (it is an astring) is read inline by
//! the command, like any short argument (Dovecot 2.2 once refused it).

use super::{AppendMessage, Parser, Result};
use crate::imap::types::{Flag, Section};
use crate::util::datetime::DateTime;

/// Where the APPEND grammar stands at the start of a line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppendState {
    /// Before a message's `[flags] [date-time] append-data`.
    Message,
    /// Inside `CATENATE (`: a cat-part comes next.
    Part,
    /// After a cat-part: ` cat-part` or `)`.
    AfterPart,
    /// After a message: ` append-message` (MULTIAPPEND) or the end.
    AfterMessage,
    /// After the bytes of `UTF8 (~{n}`: its `)`.
    Utf8Close,
}

/// A literal announced at the end of a line: its bytes follow the CRLF.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Literal {
    pub length: u64,
    /// `{n+}`: the client sends the bytes without waiting (RFC 7888).
    pub non_synchronizing: bool,
    /// `~{n}` (literal8, RFC 3516 §4.4).
    pub binary: bool,
}

/// What a line of an APPEND holds, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AppendEvent {
    /// A message whose data is one literal, which ends the line.
    Message(AppendMessage),
    /// `[flags] [date-time] CATENATE (`: a message made of the parts that
    /// follow (RFC 4469).
    Catenate { flags: Vec<Flag>, date: Option<DateTime> },
    /// `URL "..."` (or an atom).
    Url(Vec<u8>),
    /// `URL {n}`: the URL is this literal, which ends the line.
    UrlLiteral(Literal),
    /// `TEXT {n}` or `TEXT ~{n}`: a part's bytes, which end the line.
    Text(Literal),
    /// The `)` that ends a CATENATE.
    CatenateEnd,
    /// The command is complete.
    End,
}

/// One line's events, and the state the next line starts in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppendLine {
    pub events: Vec<AppendEvent>,
    pub state: AppendState,
}

/// Parses the rest of a line from `state` on. On success the events end
/// with a literal (whose bytes come next) or with [`AppendEvent::End`].
pub fn append_line(parser: &mut Parser, mut state: AppendState) -> Result<AppendLine> {
    let mut events = Vec::new();
    loop {
        match state {
            AppendState::Message => {
                let event = message_start(parser)?;
                state = match &event {
                    AppendEvent::Message(message) if message.utf8 => AppendState::Utf8Close,
                    AppendEvent::Message(_) => AppendState::AfterMessage,
                    _ => AppendState::Part,
                };
                let literal = matches!(event, AppendEvent::Message(_));
                events.push(event);
                if literal {
                    return Ok(AppendLine { events, state });
                }
            }
            AppendState::Part => {
                state = AppendState::AfterPart;
                if parser.try_keyword("TEXT ") {
                    events.push(AppendEvent::Text(literal(parser)?));
                    return Ok(AppendLine { events, state });
                }
                if !parser.try_keyword("URL ") {
                    return Err("expected TEXT or URL in CATENATE".into());
                }
                if parser.peek() == Some(b'{') {
                    let url = literal(parser)?;
                    if url.binary {
                        return Err("a URL cannot be a literal8".into());
                    }
                    events.push(AppendEvent::UrlLiteral(url));
                    return Ok(AppendLine { events, state });
                }
                events.push(AppendEvent::Url(parser.astring()?));
            }
            AppendState::AfterPart => {
                if parser.try_byte(b')') {
                    events.push(AppendEvent::CatenateEnd);
                    state = AppendState::AfterMessage;
                } else {
                    parser.sp()?;
                    state = AppendState::Part;
                }
            }
            AppendState::AfterMessage => {
                if parser.at_end() {
                    events.push(AppendEvent::End);
                    return Ok(AppendLine { events, state });
                }
                parser.sp()?;
                state = AppendState::Message;
            }
            AppendState::Utf8Close => {
                parser.byte(b')').map_err(|_| "expected ')' after the UTF8 literal".to_string())?;
                state = AppendState::AfterMessage;
            }
        }
    }
}

/// `[flags] [date-time]` and either `CATENATE (` or the message literal.
fn message_start(parser: &mut Parser) -> Result<AppendEvent> {
    let start = parser.position;
    let (flags, date) = super::flags_and_date(parser)?;
    if parser.try_keyword("CATENATE (") {
        return Ok(AppendEvent::Catenate { flags, date });
    }
    parser.position = start;
    Ok(AppendEvent::Message(super::append_message(parser)?))
}

/// `{n}`, `{n+}`, `~{n}` or `~{n+}`, which must end the line.
fn literal(parser: &mut Parser) -> Result<Literal> {
    let binary = parser.try_byte(b'~');
    parser.byte(b'{').map_err(|_| "expected a literal".to_string())?;
    let length = parser.number64()?;
    let non_synchronizing = parser.try_byte(b'+');
    parser.byte(b'}')?;
    parser.expect_end()?;
    Ok(Literal { length, non_synchronizing, binary })
}

/// The section of an IMAP URL (RFC 5092 `;SECTION=`, percent-decoded),
/// read by the FETCH section grammar.
pub fn url_section(text: &[u8]) -> Result<Section> {
    let mut input = text.to_vec();
    input.push(b']');
    let mut parser = Parser::new(&input);
    let section = super::fetch::section(&mut parser)?;
    parser.byte(b']')?;
    parser.expect_end()?;
    if section.part.is_empty() && section.text.is_none() {
        return Err("empty section".into());
    }
    Ok(section)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::imap::types::SectionText;
    use crate::mail::Flags;
    use proptest::prelude::*;

    fn line(text: &str, state: AppendState) -> Result<AppendLine> {
        append_line(&mut Parser::new(text.as_bytes()), state)
    }

    fn lit(length: u64, non_synchronizing: bool, binary: bool) -> Literal {
        Literal { length, non_synchronizing, binary }
    }

    #[test]
    fn catenate_lines() {
        // RFC 4469 Appendix A's first example, line by line.
        let first = line(
            "(\\Seen) CATENATE (URL \"/Drafts;UIDVALIDITY=385759045/;UID=20/;section=HEADER\" TEXT {42}",
            AppendState::Message,
        )
        .unwrap();
        assert_eq!(
            first.events,
            vec![
                AppendEvent::Catenate { flags: vec![Flag::System(Flags::SEEN)], date: None },
                AppendEvent::Url(b"/Drafts;UIDVALIDITY=385759045/;UID=20/;section=HEADER".to_vec()),
                AppendEvent::Text(lit(42, false, false)),
            ]
        );
        assert_eq!(first.state, AppendState::AfterPart);
        let second =
            line(" URL \"/Drafts;UIDVALIDITY=385759045/;UID=20/;section=1.MIME\" URL x TEXT {42+}", first.state)
                .unwrap();
        assert_eq!(second.events.len(), 3);
        assert_eq!(second.events[2], AppendEvent::Text(lit(42, true, false)));
        let last = line(")", second.state).unwrap();
        assert_eq!(last.events, vec![AppendEvent::CatenateEnd, AppendEvent::End]);
    }

    #[test]
    fn catenate_without_literals_and_multiappend() {
        let all = line(
            "CATENATE (URL /INBOX/;UID=1) (\\Flagged) CATENATE (URL \"/INBOX/;UID=2\" TEXT ~{5}",
            AppendState::Message,
        )
        .unwrap();
        assert_eq!(
            all.events,
            vec![
                AppendEvent::Catenate { flags: vec![], date: None },
                AppendEvent::Url(b"/INBOX/;UID=1".to_vec()),
                AppendEvent::CatenateEnd,
                AppendEvent::Catenate { flags: vec![Flag::System(Flags::FLAGGED)], date: None },
                AppendEvent::Url(b"/INBOX/;UID=2".to_vec()),
                AppendEvent::Text(lit(5, false, true)),
            ]
        );
        // A plain message after a CATENATE one, on the same line.
        let mixed = line("catenate (url /INBOX/;UID=1) {3+}", AppendState::Message).unwrap();
        assert!(matches!(
            mixed.events[3],
            AppendEvent::Message(AppendMessage { length: 3, non_synchronizing: true, .. })
        ));
        assert_eq!(mixed.state, AppendState::AfterMessage);
        // A URL as a literal is read inline by the caller.
        let url = line("CATENATE (URL {20+}", AppendState::Message).unwrap();
        assert_eq!(url.events[1], AppendEvent::UrlLiteral(lit(20, true, false)));
        assert_eq!(url.state, AppendState::AfterPart);
        // After a plain message, the next line may start another.
        let next = line(" \"17-Jul-1996 02:44:25 -0700\" CATENATE (TEXT {0}", AppendState::AfterMessage).unwrap();
        assert!(matches!(&next.events[0], AppendEvent::Catenate { date: Some(_), .. }));
        assert_eq!(line("", AppendState::AfterMessage).unwrap().events, vec![AppendEvent::End]);
        assert_eq!(line(")", AppendState::Utf8Close).unwrap().events, vec![AppendEvent::End]);
    }

    #[test]
    fn bad_catenate_lines() {
        for (text, state) in [
            ("CATENATE ()", AppendState::Message),
            ("CATENATE (URL)", AppendState::Message),
            ("CATENATE (URL /a/;UID=1", AppendState::Message),
            ("CATENATE (URL /a/;UID=1 )", AppendState::Message),
            ("CATENATE (TEXT \"abc\")", AppendState::Message),
            ("CATENATE (TEXT {3} )", AppendState::Message),
            ("CATENATE (URL ~{3}", AppendState::Message),
            ("CATENATE (BODY /a/;UID=1)", AppendState::Message),
            ("CATENATE URL /a/;UID=1", AppendState::Message),
            ("CATENATE (URL /a/;UID=1))", AppendState::Message),
            ("CATENATE (URL /a/;UID=1) x", AppendState::Message),
            ("x", AppendState::AfterPart),
            ("", AppendState::AfterPart),
            ("", AppendState::Part),
            (" )", AppendState::AfterPart),
            ("x", AppendState::Utf8Close),
            (" ", AppendState::AfterMessage),
        ] {
            assert!(line(text, state).is_err(), "{text:?} in {state:?}");
        }
    }

    #[test]
    fn url_sections() {
        assert_eq!(url_section(b"TEXT").unwrap(), Section { part: vec![], text: Some(SectionText::Text) });
        assert_eq!(url_section(b"1.2").unwrap(), Section { part: vec![1, 2], text: None });
        assert_eq!(url_section(b"3.header").unwrap().text, Some(SectionText::Header));
        for bad in [&b""[..], b"MIME", b"0", b"1.", b"TEXT]", b"1 ", b"HEADER.FIELDS ()"] {
            assert!(url_section(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }

    fn part() -> impl Strategy<Value = (String, Option<AppendEvent>)> {
        prop_oneof![
            ("[A-Za-z0-9/;=.]{1,20}")
                .prop_map(|url| (format!("URL \"{url}\""), Some(AppendEvent::Url(url.into_bytes())))),
            (0u64..1 << 40, any::<bool>(), any::<bool>()).prop_map(|(length, plus, tilde)| {
                let text = format!("TEXT {}{{{length}{}}}", if tilde { "~" } else { "" }, if plus { "+" } else { "" });
                (text, Some(AppendEvent::Text(lit(length, plus, tilde))))
            }),
        ]
    }

    proptest! {
        /// A CATENATE split at its literals, as a client sends it, reads
        /// back as the parts in order, whatever they are.
        #[test]
        fn catenate_round_trip(parts in proptest::collection::vec(part(), 1..8)) {
            let mut lines = vec![String::from("CATENATE (")];
            let mut expected = vec![AppendEvent::Catenate { flags: vec![], date: None }];
            for (index, (text, event)) in parts.iter().enumerate() {
                if index > 0 {
                    lines.last_mut().unwrap().push(' ');
                }
                lines.last_mut().unwrap().push_str(text);
                expected.extend(event.clone());
                if text.starts_with("TEXT") {
                    lines.push(String::new());
                }
            }
            lines.last_mut().unwrap().push(')');
            expected.extend([AppendEvent::CatenateEnd, AppendEvent::End]);
            let mut state = AppendState::Message;
            let mut events = Vec::new();
            for text in &lines {
                let parsed = line(text, state).map_err(|error| TestCaseError::fail(format!("{text:?}: {error}")))?;
                state = parsed.state;
                events.extend(parsed.events);
            }
            prop_assert_eq!(events, expected);
        }

        #[test]
        fn any_line_in_any_state_never_panics(text in proptest::collection::vec(
            prop_oneof![Just("CATENATE"), Just("("), Just(")"), Just(" "), Just("TEXT"), Just("URL"), Just("{5}"),
                        Just("~{5+}"), Just("\"/INBOX/;UID=1\""), Just("(\\Seen)"), Just("UTF8"), Just("x")], 0..12),
            state in prop_oneof![Just(AppendState::Message), Just(AppendState::Part), Just(AppendState::AfterPart),
                                 Just(AppendState::AfterMessage), Just(AppendState::Utf8Close)]) {
            let _ = line(&text.concat(), state);
        }
    }
}
