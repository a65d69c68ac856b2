//! Measurements for the report, by hand (ignored in CI): trigrams per
//! message and the size of an index over a directory of messages.
//!
//! ```sh
//! FTS_CORPUS=/tmp/mime:/tmp/bench cargo test --lib fts::measure -- --ignored --nocapture
//! ```
//!
//! The streams are the scan's (see the module docs) read from the whole
//! message in memory, with one approximation: header values are unfolded
//! with `header::unfold` (line breaks dropped, the white space after them
//! kept) rather than `eval::join_folds` (private to the search engine),
//! which changes a few trigrams around folds and none of the sizes.

use std::collections::HashMap;

use super::{decode, encode, intersect, needle_trigrams, Indexed, Trigrams};
use crate::mime::charset::CharsetDecoder;
use crate::mime::decode::{decode_header_value, Decoder, TransferEncoding};
use crate::mime::header;
use crate::mime::matcher::Matcher;
use crate::mime::structure::{Kind, StructureParser};

const HEADER_SEARCHED: usize = 64 * 1024;
const PIECE: usize = 64 * 1024;
const CAP: usize = 1 << 16;

/// What the scan's walk over a message feeds: text of a stream, or its end.
trait Sink {
    fn feed(&mut self, text: &str);
    fn end_stream(&mut self);
}

impl Sink for Trigrams {
    fn feed(&mut self, text: &str) {
        Trigrams::feed(self, text);
    }
    fn end_stream(&mut self) {
        Trigrams::end_stream(self);
    }
}

/// The scan's matcher as a sink: reset at every stream, as the scan does.
struct Scan {
    matcher: Matcher,
    found: bool,
}

impl Sink for Scan {
    fn feed(&mut self, text: &str) {
        self.found |= self.matcher.feed(text);
    }
    fn end_stream(&mut self) {
        self.matcher.reset();
    }
}

fn header_streams(bytes: &[u8], out: &mut impl Sink) {
    for field in header::fields(bytes) {
        out.feed(&String::from_utf8_lossy(field.name));
        out.end_stream();
        let value = header::unfold(field.value);
        let plain = value.is_ascii() && !value.windows(2).any(|pair| pair == b"=?");
        if plain {
            out.feed(std::str::from_utf8(&value).unwrap_or_default());
        } else {
            out.feed(&decode_header_value(&value));
        }
        out.end_stream();
    }
}

/// Walks the message's streams (see the module docs): headers (the
/// message's own and its parts') to `head`, text bodies to `body`.
fn walk(bytes: &[u8], body: &mut impl Sink, head: &mut impl Sink) {
    let mut parser = StructureParser::new();
    parser.feed(bytes);
    let structure = parser.finish();
    let size = bytes.len();
    let header_end = structure.parts.first().map_or(size, |root| root.body_start as usize).min(size);
    header_streams(&bytes[..header_end.min(HEADER_SEARCHED)], head);
    for (index, part) in structure.parts.iter().enumerate() {
        let start = (part.header_start as usize).min(size);
        if index > 0 {
            let end = (part.body_start as usize).min(size).min(start + HEADER_SEARCHED);
            header_streams(&bytes[start..end.max(start)], head);
        }
        if part.kind != Kind::Text || part.children != 0 {
            continue;
        }
        let (start, end) = ((part.body_start as usize).min(size), (part.body_end as usize).min(size));
        if start >= end {
            continue;
        }
        let label = part.content.params.iter().find(|(name, _)| name.eq_ignore_ascii_case(b"charset"));
        let mut charset =
            label.and_then(|(_, value)| CharsetDecoder::for_label(value)).unwrap_or_else(CharsetDecoder::lenient_utf8);
        let mut decoder = Decoder::new(TransferEncoding::from_header(part.content.encoding.as_deref()));
        let (mut decoded, mut text) = (Vec::new(), String::new());
        for piece in bytes[start..end].chunks(PIECE) {
            decoded.clear();
            text.clear();
            decoder.feed(piece, &mut decoded);
            charset.feed(&decoded, &mut text);
            body.feed(&text);
        }
        decoded.clear();
        text.clear();
        decoder.finish(&mut decoded);
        charset.feed(&decoded, &mut text);
        charset.finish(&mut text);
        body.feed(&text);
        body.end_stream();
    }
}

/// The message's body and header trigrams.
fn index_message(bytes: &[u8]) -> (Indexed, Indexed) {
    let (mut body, mut head) = (Trigrams::new(CAP), Trigrams::new(CAP));
    walk(bytes, &mut body, &mut head);
    (body.finish(), head.finish())
}

/// Whether BODY `needle` matches the message, as the scan decides.
fn body_matches(bytes: &[u8], needle: &str) -> bool {
    struct Nothing;
    impl Sink for Nothing {
        fn feed(&mut self, _: &str) {}
        fn end_stream(&mut self) {}
    }
    let mut scan = Scan { matcher: Matcher::new(needle), found: false };
    walk(bytes, &mut scan, &mut Nothing);
    scan.found
}

fn varint_len(value: u64) -> usize {
    (64 - value.max(1).leading_zeros() as usize).div_ceil(7)
}

#[derive(Default)]
struct Tally {
    messages: usize,
    mail_bytes: usize,
    unindexed: usize,
    /// Distinct trigrams per message: body, header, both together.
    body: Vec<usize>,
    head: Vec<usize>,
    both: Vec<usize>,
    /// Forward rows: each message's sorted trigram list, delta-encoded.
    forward_bytes: usize,
    /// Inverted: trigram (with a body/header bit) to message ids.
    postings: HashMap<(u32, bool), Vec<u64>>,
}

fn percentile(values: &[usize], fraction: f64) -> usize {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    sorted.get(((sorted.len() as f64 - 1.0) * fraction) as usize).copied().unwrap_or(0)
}

fn report(name: &str, tally: &Tally) {
    let mean = |values: &[usize]| values.iter().sum::<usize>() as f64 / values.len().max(1) as f64;
    let mail = tally.mail_bytes as f64;
    println!(
        "== {name}: {} messages, {:.1} MB of mail, {} unindexed (over {CAP})",
        tally.messages,
        mail / 1e6,
        tally.unindexed
    );
    for (kind, values) in [("body", &tally.body), ("header", &tally.head), ("body+header", &tally.both)] {
        println!(
            "  distinct trigrams per message, {kind}: mean {:.0}, median {}, p90 {}, p99 {}, max {}",
            mean(values),
            percentile(values, 0.5),
            percentile(values, 0.9),
            percentile(values, 0.99),
            percentile(values, 1.0)
        );
    }
    let pairs: usize = tally.postings.values().map(Vec::len).sum();
    let keys = tally.postings.len();
    let mut encoded = 0usize;
    let mut bytes = Vec::new();
    for ids in tally.postings.values() {
        bytes.clear();
        encode(ids, &mut bytes);
        encoded += bytes.len();
    }
    println!("  (message, trigram) pairs: {pairs}; distinct keys: {keys}; encoded postings: {:.2} MB ({:.1} % of mail, {:.2} B/pair)", encoded as f64 / 1e6, 100.0 * encoded as f64 / mail, encoded as f64 / pairs.max(1) as f64);
    // Rows of at most `block` ids keyed (trigram u32, kind u8, first id u64):
    // 13 key bytes, and about 16 bytes of redb leaf overhead per entry (its
    // offsets and lengths), before page slack.
    for block in [64usize, 256, 1024, 4096] {
        let rows: usize = tally.postings.values().map(|ids| ids.len().div_ceil(block)).sum();
        let total = encoded + rows * (13 + 16);
        println!("  rows of <= {block} ids: {rows} rows, {:.2} MB with keys and entry overhead ({:.1} % of mail; x1.5 page slack: {:.1} %)", total as f64 / 1e6, 100.0 * total as f64 / mail, 150.0 * total as f64 / mail);
    }
    println!(
        "  forward rows (blob -> sorted trigrams, delta varint): {:.2} MB ({:.1} % of mail)",
        tally.forward_bytes as f64 / 1e6,
        100.0 * tally.forward_bytes as f64 / mail
    );
}

fn add(tally: &mut Tally, id: u64, bytes: &[u8]) {
    let (body, head) = index_message(bytes);
    tally.messages += 1;
    tally.mail_bytes += bytes.len();
    let (Indexed::Trigrams(body), Indexed::Trigrams(head)) = (body, head) else {
        tally.unindexed += 1;
        return;
    };
    let mut both: Vec<u32> = body.iter().chain(&head).copied().collect();
    both.sort_unstable();
    both.dedup();
    tally.body.push(body.len());
    tally.head.push(head.len());
    tally.both.push(both.len());
    for (trigrams, is_body) in [(&body, true), (&head, false)] {
        let mut previous = None;
        for &trigram in trigrams {
            tally.forward_bytes +=
                varint_len(previous.map_or(u64::from(trigram), |before: u32| u64::from(trigram - before - 1)));
            previous = Some(trigram);
            tally.postings.entry((trigram, is_body)).or_default().push(id);
        }
    }
}

/// BODY needles: candidates from the body postings against the scan's
/// matches over the same messages (candidates must include every match).
fn selectivity(files: &[std::path::PathBuf], tally: &Tally) {
    let needles = std::env::var("FTS_NEEDLES")
        .unwrap_or_else(|_| "the,weekend,rosegarden,Grüße,STRASSE,mañana,copyright,kernel,xylophone,zq".to_string());
    for needle in needles.split(',') {
        let Some(wanted) = needle_trigrams(needle) else {
            println!("  BODY {needle:?}: under three folded characters, scanned");
            continue;
        };
        let mut encodings = Vec::new();
        for trigram in &wanted {
            let mut bytes = Vec::new();
            encode(tally.postings.get(&(*trigram, true)).map_or(&[][..], Vec::as_slice), &mut bytes);
            encodings.push(bytes);
        }
        let candidates: Vec<u64> = intersect(encodings.iter().map(|bytes| decode(bytes)).collect()).collect();
        let mut matches = 0;
        for &id in &candidates {
            let bytes = std::fs::read(&files[id as usize - 1]).expect("message");
            if body_matches(&bytes, needle) {
                matches += 1;
            }
        }
        // Every match must be a candidate: check the others too (slow, so
        // on a sample of every tenth message).
        for (index, path) in files.iter().enumerate().step_by(10) {
            let id = index as u64 + 1;
            if candidates.binary_search(&id).is_err() {
                let bytes = std::fs::read(path).expect("message");
                assert!(!body_matches(&bytes, needle), "{needle:?} in message {id} was not a candidate");
            }
        }
        println!("  BODY {needle:?}: {} candidates, {matches} matches", candidates.len());
    }
}

#[test]
#[ignore = "a measurement over FTS_CORPUS, for the report"]
fn trigram_counts_and_index_size() {
    let Ok(corpora) = std::env::var("FTS_CORPUS") else {
        println!("FTS_CORPUS=dir[:dir...] not set");
        return;
    };
    for directory in corpora.split(':') {
        let mut files: Vec<_> = std::fs::read_dir(directory)
            .expect("corpus directory")
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|path| path.extension().is_some_and(|extension| extension == "eml"))
            .collect();
        files.sort();
        let mut tally = Tally::default();
        let mut indexing = std::time::Duration::ZERO;
        for (id, path) in files.iter().enumerate() {
            let bytes = std::fs::read(path).expect("message");
            let started = std::time::Instant::now();
            add(&mut tally, id as u64 + 1, &bytes);
            indexing += started.elapsed();
        }
        report(directory, &tally);
        println!(
            "  walking and collecting (with this test's inversion): {:.2} s, {:.1} MB/s of mail",
            indexing.as_secs_f64(),
            tally.mail_bytes as f64 / 1e6 / indexing.as_secs_f64()
        );
        selectivity(&files, &tally);
    }
}
