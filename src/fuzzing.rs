//! Entry points for the fuzz targets in `fuzz/` (cargo-fuzz, libFuzzer):
//! one function per target, taking the fuzzer's bytes. Not an API: the
//! layers stay private, and this facade is the one door the targets use.
//!
//! Each function runs the code under test on the input and checks what
//! must hold whatever the input: no panic, and where a property is cheap to
//! state, the property (the same answer whatever the chunking, an encoding
//! that decodes back to what was encoded). A broken property panics, which
//! libFuzzer reports as a crash.
//!
//! Inputs that feed a streaming parser in pieces start with the chunking:
//! one byte `n` (taken modulo 16), then `n` bytes, each one chunk's length
//! minus one (cycled); the rest is the data.

use crate::config::{Config, Overrides};
use crate::imap::parse;
use crate::imap::render;
use crate::lmtp;
use crate::mail::rights::{Identifier, Rights, RightsChange};
use crate::mime::charset::CharsetDecoder;
use crate::mime::decode::{decode_header_value, Decoder, TransferEncoding};
use crate::mime::matcher::{self, Matcher};
use crate::mime::structure::{Structure, StructureParser};
use crate::util::datetime::{self, DateTime};
use crate::util::mutf7;

/// Splits `data` into the chunk lengths it starts with (see the module
/// docs): `(lengths, rest)`. Lengths are 1 to 256.
fn chunking(data: &[u8]) -> (Vec<usize>, &[u8]) {
    let Some((&count, rest)) = data.split_first() else { return (vec![usize::MAX], data) };
    let count = usize::from(count % 16).min(rest.len());
    let (sizes, rest) = rest.split_at(count);
    let sizes: Vec<usize> = sizes.iter().map(|&size| usize::from(size) + 1).collect();
    (if sizes.is_empty() { vec![usize::MAX] } else { sizes }, rest)
}

/// `data` cut into the lengths `sizes` gives, cycled.
fn pieces<'a>(sizes: &'a [usize], mut data: &'a [u8]) -> impl Iterator<Item = &'a [u8]> + 'a {
    let mut next = sizes.iter().cycle();
    std::iter::from_fn(move || {
        if data.is_empty() {
            return None;
        }
        let length = (*next.next()?).min(data.len());
        let (piece, rest) = data.split_at(length);
        data = rest;
        Some(piece)
    })
}

/// The IMAP command parser: a whole command (literals inline, as the
/// session hands it over), and the helpers that look at a line before it
/// is complete (APPEND's prefix, the trailing literal, tag and name).
pub fn imap_command(data: &[u8]) {
    match parse::parse_command(data) {
        Ok(command) => assert!(!command.tag.is_empty(), "a command parsed with an empty tag"),
        Err(error) => assert!(!error.message.is_empty(), "a parse error without a reason"),
    }
    if let Some((tag, name)) = parse::tag_and_name(data) {
        assert!(!tag.is_empty() && !name.is_empty());
    }
    let _ = parse::append_prefix(data);
    let _ = parse::trailing_literal(data);
}

/// The streaming MIME structure pass: the same structure whatever the
/// chunking; its stored form decodes to itself; and ENVELOPE and
/// BODYSTRUCTURE render for every part.
pub fn mime_structure(data: &[u8]) {
    let (sizes, message) = chunking(data);
    let mut whole = StructureParser::new();
    whole.feed(message);
    let whole = whole.finish();
    let mut chunked = StructureParser::new();
    for piece in pieces(&sizes, message) {
        chunked.feed(piece);
    }
    let chunked = chunked.finish();
    assert_eq!(whole, chunked, "the structure depends on the chunking");
    let root = &whole.parts[0];
    assert_eq!(root.body_end, message.len() as u64, "the root does not end at the message's end");
    for part in &whole.parts {
        assert!(part.header_start <= part.body_start && part.body_start <= part.body_end);
        assert!(part.body_end <= message.len() as u64);
    }
    let stored = whole.encode();
    assert_eq!(Structure::decode(&stored).as_ref(), Some(&whole), "the stored form does not decode to itself");
    let mut out = Vec::new();
    for index in 0..whole.parts.len() {
        out.clear();
        render::body_structure(&mut out, &whole, index, true);
        render::body_structure(&mut out, &whole, index, false);
        if let Some(envelope) = whole.envelope(index) {
            render::envelope(&mut out, envelope);
        }
    }
    // A damaged stored form is refused, never a panic.
    let _ = Structure::decode(message);
}

/// Content decoding: RFC 2047 header words, transfer encodings (base64,
/// quoted-printable) and charsets, streamed in any chunking. The first
/// byte after the chunking picks the transfer encoding and a charset
/// label length; the label follows.
pub fn mime_decoding(data: &[u8]) {
    let _ = decode_header_value(data);
    let (sizes, rest) = chunking(data);
    let Some((&selector, rest)) = rest.split_first() else { return };
    let encoding = match selector % 4 {
        0 => TransferEncoding::Identity,
        1 => TransferEncoding::Base64,
        2 => TransferEncoding::QuotedPrintable,
        _ => TransferEncoding::Unknown,
    };
    let label_length = usize::from(selector >> 2).min(rest.len());
    let (label, content) = rest.split_at(label_length);
    let _ = TransferEncoding::from_header(Some(label));

    let decode = |pieces: &mut dyn Iterator<Item = &[u8]>| {
        let mut decoder = Decoder::new(encoding);
        let mut bytes = Vec::new();
        for piece in pieces {
            decoder.feed(piece, &mut bytes);
        }
        decoder.finish(&mut bytes);
        (bytes, decoder.is_damaged())
    };
    let whole = decode(&mut std::iter::once(content));
    let chunked = decode(&mut pieces(&sizes, content));
    assert_eq!(whole, chunked, "the transfer decoding depends on the chunking");

    let text = |pieces: &mut dyn Iterator<Item = &[u8]>| {
        let mut decoder = CharsetDecoder::for_label(label).unwrap_or_else(CharsetDecoder::lenient_utf8);
        let mut text = String::new();
        for piece in pieces {
            decoder.feed(piece, &mut text);
        }
        decoder.finish(&mut text);
        text
    };
    let bytes = &whole.0;
    assert_eq!(
        text(&mut std::iter::once(bytes.as_slice())),
        text(&mut pieces(&sizes, bytes)),
        "the charset decoding depends on the chunking"
    );
}

/// The LMTP command parser, and DATA's dot-unstuffing in any chunking.
pub fn lmtp_command(data: &[u8]) {
    if let Err(error) = lmtp::parse::parse(data) {
        assert!((400..600).contains(&error.code), "LMTP error code {} is not a 4xx or 5xx", error.code);
    }
    let (sizes, stream) = chunking(data);
    let unstuff = |pieces: &mut dyn Iterator<Item = &[u8]>| {
        let mut unstuffer = lmtp::data::Unstuffer::default();
        let mut out = Vec::new();
        let mut used = 0;
        for piece in pieces {
            let (taken, end) = unstuffer.feed(piece, &mut out);
            used += taken;
            if end {
                return (out, Some(used));
            }
        }
        (out, None)
    };
    let whole = unstuff(&mut std::iter::once(stream));
    assert_eq!(whole, unstuff(&mut pieces(&sizes, stream)), "DATA's end depends on the chunking");
    // What `roost deliver` stuffs, the server unstuffs back.
    if whole.1.is_none() {
        let mut stuffed = Vec::new();
        let mut at_line_start = true;
        lmtp::data::stuff(stream, &mut at_line_start, &mut stuffed);
        let (back, end) = unstuff(&mut std::iter::once(stuffed.as_slice()));
        assert!(end.is_none() && back == stream, "stuffing does not unstuff back");
    }
}

/// The configuration file parser (the TOML subset, then every key's
/// checks), with no overrides.
pub fn config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = Config::parse("fuzz.toml", text, Overrides::default());
}

/// Modified UTF-7 (RFC 3501 §5.1.3): any name encodes and decodes back,
/// and a decoded wire name encodes to the same wire bytes (the decoder
/// accepts only the one canonical form).
pub fn mutf7(data: &[u8]) {
    if let Ok(name) = mutf7::decode(data) {
        assert_eq!(mutf7::encode(&name).as_bytes(), data, "a decoded name encodes differently");
    }
    let name = String::from_utf8_lossy(data);
    assert_eq!(
        mutf7::decode(mutf7::encode(&name).as_bytes()).as_deref(),
        Ok(&*name),
        "an encoded name decodes differently"
    );
}

/// ACL rights, SETACL's rights changes and identifiers (RFC 4314): what
/// parses writes back (the canonical writers) to text that parses to the
/// same value; an identifier writes back to exactly its bytes, as
/// LISTRIGHTS echoes it (§3.4). The ACL commands themselves go through
/// `imap_command`, whose parser reads them.
pub fn acl(data: &[u8]) {
    if let Ok(rights) = Rights::parse(data) {
        assert_eq!(Rights::parse(rights.to_string().as_bytes()), Ok(rights), "rights written differently");
    }
    if let Ok(change) = RightsChange::parse(data) {
        assert_eq!(RightsChange::parse(change.to_string().as_bytes()), Ok(change), "a change written differently");
    }
    if let Ok(identifier) = Identifier::parse(data) {
        assert_eq!(identifier.to_string().as_bytes(), data, "an identifier written differently");
    }
}

/// The date parsers: IMAP date-time (APPEND), IMAP date (SEARCH), and
/// RFC 5322 dates (SENTBEFORE and SORT's DATE); what they accept prints
/// and parses back to the same moment.
pub fn dates(data: &[u8]) {
    let mut printed = Vec::new();
    if let Some(date) = DateTime::parse_imap(data) {
        date.write_imap(&mut printed);
        assert_eq!(DateTime::parse_imap(&printed), Some(date), "INTERNALDATE does not round-trip");
    }
    let _ = datetime::parse_imap_date(data);
    if let Some(date) = DateTime::parse_rfc5322(data) {
        let printed = date.to_rfc5322();
        let again = DateTime::parse_rfc5322(printed.as_bytes());
        assert_eq!(again.map(|again| again.unix), Some(date.unix), "a Date header does not round-trip: {printed}");
        // FETCH INTERNALDATE of any stored date: only years 0 to 9999
        // print as RFC 3501's date-time, and none may panic.
        let mut internal_date = Vec::new();
        date.write_imap(&mut internal_date);
    }
}

/// SEARCH's text matching (the case fold and the streaming matcher that
/// BODY, TEXT and the header keys use), on a fixed message's text: found
/// or not does not depend on how the text is cut, and agrees with a
/// search of the folded text. The input is the chunking, then the needle.
///
/// The whole SEARCH evaluator (`imap::search`) needs a store
/// snapshot and a mailbox view, so it is not reached from here.
pub fn search_match(data: &[u8]) {
    const MESSAGE: &str = "From: Ærøskøbing Fähre <faehre@example.org>\r\nSubject: Straße, ΣΊΣΥΦΟΣ, ǅemal, \u{1e9e}\r\n\r\nThe ﬁrst ship leaves at 09:15; İstanbul, Å (A\u{30a}), 한국어, 🦀.\r\n";
    let (sizes, needle) = chunking(data);
    let needle = String::from_utf8_lossy(needle);
    let whole = matcher::contains(MESSAGE, &needle);
    assert_eq!(
        whole,
        matcher::fold(MESSAGE).contains(&matcher::fold(&needle)),
        "the matcher disagrees with a search of the folded text"
    );
    let mut matcher = Matcher::new(&needle);
    let mut found = false;
    for_each_text_piece(&sizes, MESSAGE, |piece| found = matcher.feed(piece));
    assert_eq!(found || needle.is_empty(), whole, "the match depends on the chunking");
}

/// Hands `text` to `feed` in the lengths `sizes` gives, cycled, each
/// piece stretched to the next character boundary.
fn for_each_text_piece(sizes: &[usize], text: &str, mut feed: impl FnMut(&str)) {
    let mut rest = text;
    let mut cut = sizes.iter().cycle();
    while !rest.is_empty() {
        let mut at = (*cut.next().unwrap_or(&1)).min(rest.len());
        while !rest.is_char_boundary(at) {
            at += 1;
        }
        let (piece, after) = rest.split_at(at);
        feed(piece);
        rest = after;
    }
}

/// The search index (`fts`): the trigrams of any text, fed in any pieces,
/// hold every trigram of any needle the matcher finds in it (so the index
/// never rules out a match), and a stored segment row of any bytes is read
/// without a panic. Input: the chunking, then the needle, a zero byte, and
/// the text (both read as UTF-8, lossily).
pub fn search_index(data: &[u8]) {
    let _ = crate::fts::segment::unpack(data);
    let _ = crate::fts::segment::find(data, (0, 0x8000_0000));
    let (sizes, rest) = chunking(data);
    let split = rest.iter().position(|&byte| byte == 0).unwrap_or(rest.len());
    let needle = String::from_utf8_lossy(&rest[..split]);
    let text = String::from_utf8_lossy(rest.get(split + 1..).unwrap_or_default());
    let mut trigrams = crate::fts::Trigrams::new(1 << 16);
    for_each_text_piece(&sizes, &text, |piece| trigrams.feed(piece));
    let held = trigrams.finish();
    if let (Some(wanted), crate::fts::Indexed::Trigrams(held)) = (crate::fts::needle_trigrams(&needle), held) {
        if matcher::contains(&text, &needle) {
            assert!(
                wanted.iter().all(|trigram| held.binary_search(trigram).is_ok()),
                "the index would rule out a match"
            );
        }
    }
}

/// The mbox splitter (`mailfile::mbox`), `Content-Length` counting on:
/// any bytes split without a panic,
/// each message's size is what it handed out, the message read again
/// from its offset (the import's second pass) is the same, and messages
/// built from the input's lines, quoted, split back to themselves.
pub fn mbox_split(data: &[u8]) {
    use crate::mailfile::mbox::{ends_message, Probe};
    use crate::mailfile::mbox::{quote, Mbox};
    let probe = || -> Probe {
        let file = data.to_vec();
        Box::new(move |offset| {
            let at = usize::try_from(offset).unwrap_or(usize::MAX);
            at <= file.len() && ends_message(&file[at..file.len().min(at + 7)])
        })
    };
    let mut mbox = Mbox::new(data).with_probe(probe());
    while let Ok(true) = mbox.next_message() {
        let (offset, date) = (mbox.message_offset(), mbox.meta().separator_date);
        let mut first = Vec::new();
        while mbox.read(&mut first).unwrap_or(false) {}
        assert_eq!(mbox.meta().size, first.len() as u64, "size differs from the bytes handed out");
        let mut again = Mbox::resume(&data[offset as usize..], offset, date, Some(probe()));
        let mut second = Vec::new();
        while again.read(&mut second).unwrap_or(false) {}
        assert_eq!(first, second, "the second pass read another message");
    }
    // Quote → split → the same message (one with a header, LF lines).
    let mut message = b"Subject: fuzz\n\n".to_vec();
    for line in data.split(|&byte| byte == b'\n') {
        let line: Vec<u8> = line.iter().copied().filter(|&byte| byte != b'\r').collect();
        message.extend_from_slice(&line);
        message.push(b'\n');
    }
    let mut file = b"From fuzz@example.org Sat Jan  3 01:05:34 1996\n".to_vec();
    file.extend_from_slice(&quote(&message));
    file.push(b'\n');
    let mut mbox = Mbox::new(&file[..]);
    assert!(matches!(mbox.next_message(), Ok(true)));
    let mut back = Vec::new();
    while mbox.read(&mut back).unwrap_or(false) {}
    assert_eq!(back, message, "a quoted message did not split back to itself");
    assert!(matches!(mbox.next_message(), Ok(false)), "one quoted message split in two");
}

/// Maildir file and folder names (`mailfile::maildir`): no panic, and a
/// name's info letters read back as the flags written.
pub fn maildir_name(data: &[u8]) {
    use crate::mailfile::maildir;
    let text = String::from_utf8_lossy(data);
    let parsed = maildir::parse_file_name(&text, true);
    assert!(text.starts_with(&parsed.base), "the base is not the start of the name");
    let _ = maildir::folder_name(&text);
    let _ = maildir::parse_uidlist(&text);
    let _ = maildir::Keywords::parse(&text).of(&parsed);
}

/// The certificate reader of `roost status` and `roost setup`: any bytes
/// give fields or an error, never a panic; what it reads is consistent
/// (every name it lists, it covers).
pub fn certificate(data: &[u8]) {
    if let Ok(info) = crate::status::x509::parse(data) {
        // A dNSName that reads as an address is no address entry: left out.
        let names = info.dns_names.iter().filter(|name| name.parse::<std::net::IpAddr>().is_err()).cloned();
        for name in names.chain(info.ip_addresses.iter().map(ToString::to_string)) {
            assert!(info.covers(&name), "{name} listed, not covered");
        }
    }
}
