//! Property (issue 18): over a real socket, for random messages (words of
//! a small alphabet with non-ASCII letters that fold in odd ways, random
//! transfer encodings, charsets, RFC 2047 headers, multiparts and attached
//! messages) and random needles (substrings of a message's text, re-cased,
//! and absent words), SEARCH BODY, TEXT and HEADER answer the same with
//! the full-text index as with `search_index = false` (the scan).
//!
//! One pair of servers for the whole test; every case appends its
//! messages to both (the mailbox grows) and compares its needles over the
//! whole mailbox; every fourth case runs `roost reindex --wait` first, so
//! searches see the index complete, half built and mixed. Bounded: 64
//! cases from a fixed seed (`ROOST_FTS_CASES` for more), shrinking at most
//! 32 steps.

mod common;

use common::*;
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};

#[path = "common/fts_twins.rs"]
mod twins;
use twins::*;

/// Pieces words are made of: ASCII, and letters whose fold is not one
/// letter to one letter (ß → ss, İ → i, ﬁ → fi, the Kelvin sign → k,
/// final sigma, combining accents).
const PIECES: &[&str] = &[
    "a", "b", "ab", "x", "yz", "ss", "ß", "é", "e\u{301}", "İ", "i", "ı", "K", "\u{212A}", "k", "ﬁ", "fi", "σ", "ς",
    "Σ", "ö", "Ö", "ä", "0", "7", "-",
];

fn word() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(PIECES), 1..6).prop_map(|pieces| pieces.concat())
}

/// Words with spaces, and now and then a line break.
fn text() -> impl Strategy<Value = String> {
    prop::collection::vec((word(), 0u8..10), 1..24).prop_map(|words| {
        let mut out = String::new();
        for (word, separator) in words {
            if !out.is_empty() {
                out.push_str(if separator == 0 { "\r\n" } else { " " });
            }
            out.push_str(&word);
        }
        out
    })
}

#[derive(Debug, Clone, Copy)]
enum Encoding {
    Raw,
    QuotedPrintable(usize),
    Base64,
}

#[derive(Debug, Clone, Copy)]
enum Charset {
    Utf8,
    Latin1,
    Absent,
}

#[derive(Debug, Clone)]
struct Part {
    text: String,
    encoding: Encoding,
    charset: Charset,
    /// Inside a message/rfc822 part, with a header of its own.
    attached: bool,
}

#[derive(Debug, Clone)]
struct Message {
    subject: String,
    /// How the subject is written: raw UTF-8, B, or Q (UTF-8 or Latin-1).
    subject_form: u8,
    words: String,
    parts: Vec<Part>,
    multipart: bool,
}

fn part() -> impl Strategy<Value = Part> {
    let encoding =
        prop_oneof![Just(Encoding::Raw), (4usize..40).prop_map(Encoding::QuotedPrintable), Just(Encoding::Base64)];
    let charset = prop_oneof![Just(Charset::Utf8), Just(Charset::Latin1), Just(Charset::Absent)];
    (text(), encoding, charset, prop::bool::weighted(0.2)).prop_map(|(text, encoding, charset, attached)| Part {
        text,
        encoding,
        charset,
        attached,
    })
}

fn message() -> impl Strategy<Value = Message> {
    (text(), 0u8..5, text(), prop::collection::vec(part(), 1..4), any::<bool>()).prop_map(
        |(subject, subject_form, words, parts, multipart)| Message {
            subject: subject.replace("\r\n", " "),
            subject_form,
            words: words.replace("\r\n", " "),
            multipart: multipart || parts.len() > 1,
            parts,
        },
    )
}

/// One needle: from which message's which text, where, how long, how
/// re-cased; or (when `absent`) a random word.
#[derive(Debug, Clone)]
struct NeedleSpec {
    message: Index,
    text: Index,
    start: Index,
    length: usize,
    case_bits: u64,
    absent: Option<String>,
}

fn needle() -> impl Strategy<Value = NeedleSpec> {
    (any::<Index>(), any::<Index>(), any::<Index>(), 1usize..10, any::<u64>(), prop::option::weighted(0.2, word()))
        .prop_map(|(message, text, start, length, case_bits, absent)| NeedleSpec {
            message,
            text,
            start,
            length,
            case_bits,
            absent,
        })
}

fn encode_part(part: &Part) -> Vec<u8> {
    let charset = match part.charset {
        Charset::Latin1 if is_latin1(&part.text) => Charset::Latin1,
        Charset::Latin1 => Charset::Utf8,
        other => other,
    };
    let bytes = match charset {
        Charset::Latin1 => latin1(&part.text),
        _ => part.text.as_bytes().to_vec(),
    };
    let content_type = match charset {
        Charset::Utf8 => "text/plain; charset=utf-8",
        Charset::Latin1 => "text/plain; charset=iso-8859-1",
        Charset::Absent => "text/plain",
    };
    let (encoding, body) = match part.encoding {
        Encoding::Raw => ("8bit", bytes),
        Encoding::QuotedPrintable(width) => ("quoted-printable", quoted_printable(&bytes, width)),
        Encoding::Base64 => ("base64", wrap76(&base64(&bytes)).into_bytes()),
    };
    let entity = entity(&[("Content-Type", content_type), ("Content-Transfer-Encoding", encoding)], &body);
    if part.attached {
        let inner = [b"Subject: attached\r\nX-Words: inner\r\n".as_slice(), &entity].concat();
        [b"Content-Type: message/rfc822\r\n\r\n".as_slice(), &inner].concat()
    } else {
        entity
    }
}

fn build(message: &Message) -> Vec<u8> {
    let subject = match message.subject_form {
        0 => message.subject.clone(),
        1 => encoded_word(&message.subject, "UTF-8", true),
        2 => encoded_word(&message.subject, "UTF-8", false),
        _ if is_latin1(&message.subject) => encoded_word(&message.subject, "ISO-8859-1", message.subject_form == 3),
        _ => encoded_word(&message.subject, "UTF-8", true),
    };
    let mut out = format!("Subject: {subject}\r\nX-Words: {}\r\nMIME-Version: 1.0\r\n", message.words).into_bytes();
    if message.multipart {
        let parts: Vec<Vec<u8>> = message.parts.iter().map(encode_part).collect();
        out.extend(multipart_entity("mixed", "p", &parts));
    } else {
        out.extend(encode_part(&message.parts[0]));
    }
    out
}

/// The needle `spec` names in `messages` (never a line break, a quote or
/// a backslash: it is sent as a quoted string).
fn needle_text(spec: &NeedleSpec, messages: &[Message]) -> String {
    if let Some(word) = &spec.absent {
        return format!("{word}q");
    }
    let message = spec.message.get(messages);
    let mut texts = vec![&message.subject, &message.words];
    texts.extend(message.parts.iter().map(|part| &part.text));
    let text: Vec<char> = spec.text.get(&texts).chars().collect();
    let start = spec.start.index(text.len());
    let end = (start + spec.length).min(text.len());
    let mut needle = String::new();
    for (offset, character) in text[start..end].iter().enumerate() {
        if *character == '\r' || *character == '\n' {
            break;
        }
        if spec.case_bits >> (offset % 64) & 1 == 1 {
            needle.extend(character.to_uppercase());
        } else {
            needle.extend(character.to_lowercase());
        }
    }
    needle
}

#[test]
fn index_answers_random_needles_as_the_scan() {
    let started = std::time::Instant::now();
    let cases = std::env::var("ROOST_FTS_CASES").ok().and_then(|cases| cases.parse().ok()).unwrap_or(64);
    let mut twins = Twins::start(&[]);
    twins.select("INBOX");
    let twins = std::cell::RefCell::new(twins);
    let config = Config { cases, max_shrink_iters: 32, failure_persistence: None, ..Config::default() };
    let mut runner = TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha));
    let strategy = (prop::collection::vec(message(), 1..4), prop::collection::vec(needle(), 3..7), 0u8..4);
    let compared = std::cell::Cell::new(0usize);
    let result = runner.run(&strategy, |(messages, needles, reindex_now)| {
        let mut twins = twins.borrow_mut();
        let built: Vec<Vec<u8>> = messages.iter().map(build).collect();
        twins.append_all("INBOX", &built);
        if reindex_now == 0 {
            reindex(&twins.indexed, &[]);
        }
        for spec in &needles {
            let needle = quote(&needle_text(spec, &messages));
            for key in ["BODY", "TEXT", "HEADER Subject", "HEADER X-Words"] {
                compared.set(compared.get() + 1);
                twins
                    .compare(&format!("UID SEARCH CHARSET UTF-8 {key} {needle}"))
                    .map_err(|difference| TestCaseError::fail(format!("{difference}\nmessages: {built:?}")))?;
            }
        }
        Ok(())
    });
    let twins = twins.into_inner();
    let compared = compared.get();
    if let Err(error) = result {
        panic!("{error}");
    }
    // The index was used (not every search scanned).
    let log = twins.indexed.log_text();
    let narrowed = log.matches("candidate message(s)").count();
    assert!(narrowed > compared / 10, "only {narrowed} of {compared} searches were narrowed by the index");
    check_clean(&twins.indexed);
    println!("{cases} cases, {compared} searches compared ({narrowed} narrowed) in {:.1?}", started.elapsed());
}
