//! The DATA stream: RFC 5321 §4.5.2 dot-stuffing undone as bytes pass,
//! and the end marker (a line holding only `.`) found, whatever pieces the
//! network cuts the stream into. Lines may be of any length: nothing here
//! keeps a line.

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum State {
    /// At the start of a line.
    #[default]
    LineStart,
    /// A line began with `.` (not yet passed on).
    Dot,
    /// A line began with `.` and CR.
    DotCr,
    /// Inside a line.
    Middle,
}

#[derive(Default)]
pub struct Unstuffer {
    state: State,
}

impl Unstuffer {
    /// Appends the message bytes of `input` to `out`. Returns how many
    /// bytes of `input` were used and whether the end marker was among
    /// them; bytes after the marker are not used (the client may have
    /// pipelined its next command).
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> (usize, bool) {
        for (at, &byte) in input.iter().enumerate() {
            self.state = match (self.state, byte) {
                (State::LineStart, b'.') => State::Dot,
                // A bare LF ends a line too: the store mends it to CRLF.
                (State::Dot | State::DotCr, b'\n') => {
                    self.state = State::LineStart;
                    return (at + 1, true);
                }
                (State::Dot, b'\r') => State::DotCr,
                (State::DotCr, other) => {
                    // ".\r" then more: the dot was stuffing, the CR is text.
                    out.push(b'\r');
                    self.pass(other, out)
                }
                // RFC 5321 §4.5.2: the first dot of a line is dropped.
                (State::Dot | State::LineStart | State::Middle, other) => self.pass(other, out),
            };
        }
        (input.len(), false)
    }

    fn pass(&self, byte: u8, out: &mut Vec<u8>) -> State {
        out.push(byte);
        if byte == b'\n' {
            State::LineStart
        } else {
            State::Middle
        }
    }
}

/// Dot-stuffs `input` for sending (the client side, `roost deliver`):
/// `at_line_start` carries the state from one piece to the next.
pub fn stuff(input: &[u8], at_line_start: &mut bool, out: &mut Vec<u8>) {
    for &byte in input {
        if *at_line_start && byte == b'.' {
            out.push(b'.');
        }
        out.push(byte);
        *at_line_start = byte == b'\n';
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `input` in pieces of `piece` bytes; returns the message and
    /// what followed the marker (None: no marker).
    fn unstuff(input: &[u8], piece: usize) -> (Vec<u8>, Option<Vec<u8>>) {
        let mut unstuffer = Unstuffer::default();
        let mut out = Vec::new();
        let mut offset = 0;
        while offset < input.len() {
            let end = (offset + piece).min(input.len());
            let (used, done) = unstuffer.feed(&input[offset..end], &mut out);
            offset += used;
            if done {
                return (out, Some(input[offset..].to_vec()));
            }
        }
        (out, None)
    }

    #[test]
    fn stuffed_lines_and_the_end_marker() {
        let input = b"Subject: x\r\n\r\n..leading dot\r\n...\r\n.\r\nQUIT\r\n";
        for piece in 1..=input.len() {
            let (message, rest) = unstuff(input, piece);
            assert_eq!(message, b"Subject: x\r\n\r\n.leading dot\r\n..\r\n", "piece {piece}");
            assert_eq!(rest.as_deref(), Some(&b"QUIT\r\n"[..]), "piece {piece}");
        }
    }

    #[test]
    fn an_empty_message_and_bare_line_ends() {
        assert_eq!(unstuff(b".\r\n", 1), (Vec::new(), Some(Vec::new())));
        assert_eq!(unstuff(b"a\n.\nb", 2), (b"a\n".to_vec(), Some(b"b".to_vec())));
        // A dot inside a line, or ".x" at a line start, is no marker.
        assert_eq!(unstuff(b"a.\r\n.x\r\n", 3), (b"a.\r\nx\r\n".to_vec(), None));
        assert_eq!(unstuff(b".\rx\r\n.\r\n", 1), (b"\rx\r\n".to_vec(), Some(Vec::new())));
    }

    proptest::proptest! {
        #[test]
        fn stuffing_then_unstuffing_gives_the_text_back(
            text in proptest::collection::vec(proptest::sample::select(vec![b'.', b'a', b'\r', b'\n']), 0..200),
            piece in 1usize..17,
        ) {
            // What `roost deliver` sends: CRLF line ends, stuffed, then the marker.
            let mut crlf = Vec::new();
            crate::store::incoming::LineEnds::default().mend(&text, &mut crlf);
            if !crlf.ends_with(b"\r\n") {
                crlf.extend_from_slice(b"\r\n");
            }
            let mut sent = Vec::new();
            let mut at_line_start = true;
            stuff(&crlf, &mut at_line_start, &mut sent);
            sent.extend_from_slice(b".\r\nNOOP\r\n");
            let (message, rest) = unstuff(&sent, piece);
            proptest::prop_assert_eq!(message, crlf);
            proptest::prop_assert_eq!(rest, Some(b"NOOP\r\n".to_vec()));
        }
    }
}
