//! A deterministic corpus of realistic mail: plain text, HTML,
//! multipart/alternative, attachments, forwarded message/rfc822, encoded
//! non-ASCII headers, threads, sizes from 1 KiB to several MiB with a long
//! tail. The same seed always gives the same bytes.

pub use crate::rng::Rng;

/// How message sizes are drawn.
#[derive(Clone, Copy, Debug)]
pub enum Sizes {
    /// 1 KiB to 8 MiB with a long tail: what a household receives.
    Mixed,
    /// Capped at 256 KiB, for the 100,000-message mailbox (about 13 KiB on
    /// average, so two servers' copies fit this machine's disk).
    Mailbox,
    /// 128 KiB to 2 MiB (about 700 KiB on average): few messages for a
    /// gigabyte, the mailbox that scenario 12 searches.
    Big,
}

const WORDS: &[&str] = &[
    "the",
    "family",
    "weekend",
    "photos",
    "dinner",
    "garden",
    "school",
    "meeting",
    "tomorrow",
    "invoice",
    "holiday",
    "train",
    "ticket",
    "birthday",
    "party",
    "please",
    "thanks",
    "recipe",
    "soup",
    "bread",
    "bike",
    "repair",
    "doctor",
    "appointment",
    "insurance",
    "letter",
    "package",
    "delivery",
    "weather",
    "rain",
    "sunny",
    "mountain",
    "lake",
    "children",
    "homework",
    "football",
    "concert",
    "music",
    "piano",
    "lesson",
    "neighbour",
    "street",
    "market",
    "cheese",
    "coffee",
    "morning",
    "evening",
    "week",
    "month",
    "year",
    "plan",
    "trip",
    "hotel",
    "booking",
    "confirm",
    "and",
    "with",
    "for",
    "about",
    "from",
    "this",
    "that",
    "will",
    "can",
    "our",
    "your",
    "we",
    "you",
    "they",
    "is",
    "are",
    "was",
    "have",
    "has",
    "not",
    "but",
    "also",
    "just",
    "very",
    "much",
    "some",
    "all",
    "when",
    "where",
    "what",
    "Grüße",
    "schön",
    "Straße",
    "Mädchen",
    "café",
    "crème",
    "déjà",
    "naïve",
    "señor",
    "mañana",
    "smörgåsbord",
];

const FIRST_NAMES: &[&str] = &[
    "Anna", "Ben", "Clara", "David", "Emma", "Finn", "Greta", "Hugo", "Ida", "Jonas", "Léa", "Zoë", "Jürgen", "Søren",
];
const LAST_NAMES: &[&str] = &["Miller", "Schmidt", "Dubois", "García", "Nowak", "Jensen", "Rossi", "Müller", "Öztürk"];

pub struct Corpus {
    seed: u64,
}

/// Every this-many messages come from Grandma Rose about holiday photos,
/// so the header searches have a known answer.
pub const MARKER_EVERY: u64 = 1000;

/// A word no other message has: the first text part of every message
/// whose number is [`RARE_AT`] modulo [`RARE_EVERY`] starts with it
/// (20 messages in 100,000, 4 in 20,000), for the full-text search
/// scenario. Planted after the message is drawn, so no other message
/// changes.
pub const RARE_WORD: &str = "kumquat";
pub const RARE_EVERY: u64 = 5000;
pub const RARE_AT: u64 = 13;

impl Corpus {
    pub fn new(seed: u64) -> Corpus {
        Corpus { seed }
    }

    fn rng(&self, index: u64) -> Rng {
        let mut rng = Rng::from_state(self.seed ^ index.wrapping_mul(0x9e37_79b9_7f4a_7c15).wrapping_add(1));
        rng.next();
        rng
    }

    pub fn size_of(&self, index: u64, sizes: Sizes) -> usize {
        let mut rng = self.rng(index);
        let roll = rng.unit();
        let (low, high) = match sizes {
            Sizes::Mixed if roll < 0.55 => (1 << 10, 8 << 10),
            Sizes::Mixed if roll < 0.85 => (8 << 10, 64 << 10),
            Sizes::Mixed if roll < 0.97 => (64 << 10, 1 << 20),
            Sizes::Mixed => (1 << 20, 8 << 20),
            Sizes::Mailbox if roll < 0.75 => (1 << 10, 6 << 10),
            Sizes::Mailbox if roll < 0.97 => (6 << 10, 48 << 10),
            Sizes::Mailbox => (48 << 10, 256 << 10),
            Sizes::Big => (128 << 10, 2 << 20),
        };
        // Log-uniform inside the band: small sizes more common.
        let ratio = high as f64 / low as f64;
        (low as f64 * ratio.powf(rng.unit())) as usize
    }

    /// Message number `index`, about `size_of(index)` bytes, CRLF line ends.
    pub fn message(&self, index: u64, sizes: Sizes) -> Vec<u8> {
        let target = self.size_of(index, sizes);
        let mut rng = self.rng(index.wrapping_add(0x5151));
        let marker = index % MARKER_EVERY == 7;
        let mut out = Vec::with_capacity(target + 2048);
        headers(&mut rng, index, marker, &mut out);
        let kind = rng.below(100);
        let body_budget = target.saturating_sub(out.len()).max(200);
        match kind {
            0..=39 => plain_body(&mut rng, body_budget, &mut out),
            40..=59 => alternative_body(&mut rng, body_budget, &mut out),
            60..=69 => html_body(&mut rng, body_budget, &mut out),
            70..=93 => attachment_body(&mut rng, body_budget, &mut out),
            _ => forward_body(&mut rng, body_budget, index, &mut out),
        }
        if index % RARE_EVERY == RARE_AT {
            plant_rare_word(&mut out);
        }
        out
    }
}

/// Puts [`RARE_WORD`] and a space at the start of the first text part.
fn plant_rare_word(message: &mut Vec<u8>) {
    let find = |from: usize, what: &[u8]| {
        message[from..].windows(what.len()).position(|window| window == what).map(|at| from + at)
    };
    let Some(part) = find(0, b"Content-Type: text/") else { return };
    let Some(blank) = find(part, b"\r\n\r\n") else { return };
    let at = blank + 4;
    message.splice(at..at, format!("{RARE_WORD} ").into_bytes());
}

fn person(rng: &mut Rng) -> (String, String) {
    let first = *rng.pick(FIRST_NAMES);
    let last = *rng.pick(LAST_NAMES);
    let address = format!("{}.{}@example.org", ascii_only(first), ascii_only(last)).to_lowercase();
    (format!("{first} {last}"), address)
}

fn ascii_only(text: &str) -> String {
    text.chars().filter(char::is_ascii_alphabetic).collect()
}

/// RFC 2047 encoded word when the text is not ASCII.
fn encode_word(rng: &mut Rng, text: &str) -> String {
    if text.is_ascii() {
        return text.to_string();
    }
    if rng.below(2) == 0 {
        format!("=?UTF-8?B?{}?=", base64(text.as_bytes()))
    } else {
        let mut encoded = String::from("=?UTF-8?Q?");
        for byte in text.bytes() {
            match byte {
                b' ' => encoded.push('_'),
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' => encoded.push(byte as char),
                _ => encoded.push_str(&format!("={byte:02X}")),
            }
        }
        encoded.push_str("?=");
        encoded
    }
}

pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let value =
            (chunk[0] as u32) << 16 | (*chunk.get(1).unwrap_or(&0) as u32) << 8 | *chunk.get(2).unwrap_or(&0) as u32;
        for position in 0..4 {
            if position <= chunk.len() {
                out.push(ALPHABET[(value >> (18 - 6 * position) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn sentence(rng: &mut Rng, words: usize) -> String {
    let mut text = String::new();
    for index in 0..words {
        let word = *rng.pick(WORDS);
        if index == 0 {
            let mut chars = word.chars();
            if let Some(first) = chars.next() {
                text.extend(first.to_uppercase());
                text.push_str(chars.as_str());
            }
        } else {
            text.push(' ');
            text.push_str(word);
        }
    }
    text.push('.');
    text
}

fn headers(rng: &mut Rng, index: u64, marker: bool, out: &mut Vec<u8>) {
    let (from_name, from_address) =
        if marker { ("Grandma Rose".to_string(), "rose@family.example".to_string()) } else { person(rng) };
    let (to_name, to_address) = person(rng);
    let words = 3 + rng.below(6) as usize;
    let subject =
        if marker { format!("Rosegarden holiday photos, part {}", index / MARKER_EVERY) } else { sentence(rng, words) };
    let day = 1 + rng.below(28);
    let month = *rng.pick(&["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]);
    let year = 2015 + rng.below(11);
    let hour = rng.below(24);
    let minute = rng.below(60);
    let zone = *rng.pick(&["+0000", "+0100", "+0200", "-0500", "-0800", "+0530"]);
    for hop in 0..1 + rng.below(3) {
        out.extend_from_slice(
            format!(
                "Received: from mx{hop}.example.net (mx{hop}.example.net [192.0.2.{}])\r\n\tby home.example with ESMTPS id {:x}\r\n\tfor <{to_address}>; {day} {month} {year} {hour:02}:{minute:02}:{:02} {zone}\r\n",
                rng.below(250),
                rng.next(),
                rng.below(60)
            )
            .as_bytes(),
        );
    }
    out.extend_from_slice(format!("From: {} <{from_address}>\r\n", encode_word(rng, &from_name)).as_bytes());
    out.extend_from_slice(format!("To: {} <{to_address}>\r\n", encode_word(rng, &to_name)).as_bytes());
    if rng.below(4) == 0 {
        let (cc_name, cc_address) = person(rng);
        out.extend_from_slice(format!("Cc: {} <{cc_address}>\r\n", encode_word(rng, &cc_name)).as_bytes());
    }
    out.extend_from_slice(format!("Subject: {}\r\n", encode_word(rng, &subject)).as_bytes());
    out.extend_from_slice(format!("Date: {day} {month} {year} {hour:02}:{minute:02}:00 {zone}\r\n").as_bytes());
    out.extend_from_slice(format!("Message-ID: <{index}.{:x}@example.org>\r\n", rng.next()).as_bytes());
    if index > 0 && rng.below(3) == 0 {
        let parent = rng.below(index);
        out.extend_from_slice(
            format!("In-Reply-To: <{parent}@example.org>\r\nReferences: <{parent}@example.org>\r\n").as_bytes(),
        );
    }
    if rng.below(5) == 0 {
        out.extend_from_slice(b"List-Id: Neighbourhood news <news.street.example>\r\n");
    }
    out.extend_from_slice(b"MIME-Version: 1.0\r\n");
}

/// Text lines of up to 76 characters until `budget` bytes.
fn text_lines(rng: &mut Rng, budget: usize, out: &mut Vec<u8>) {
    let end = out.len() + budget;
    let mut line = String::new();
    while out.len() < end {
        let word = *rng.pick(WORDS);
        if line.len() + word.len() + 1 > 76 {
            out.extend_from_slice(line.as_bytes());
            out.extend_from_slice(b"\r\n");
            line.clear();
            if rng.below(8) == 0 {
                out.extend_from_slice(b"\r\n");
            }
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    out.extend_from_slice(line.as_bytes());
    out.extend_from_slice(b"\r\n");
}

fn plain_body(rng: &mut Rng, budget: usize, out: &mut Vec<u8>) {
    out.extend_from_slice(b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n");
    text_lines(rng, budget, out);
}

fn html_part(rng: &mut Rng, budget: usize, out: &mut Vec<u8>) {
    out.extend_from_slice(b"<html><body>\r\n");
    let end = out.len() + budget;
    while out.len() < end {
        let words = 8 + rng.below(20) as usize;
        out.extend_from_slice(format!("<p>{}</p>\r\n", sentence(rng, words)).as_bytes());
    }
    out.extend_from_slice(b"</body></html>\r\n");
}

fn html_body(rng: &mut Rng, budget: usize, out: &mut Vec<u8>) {
    out.extend_from_slice(b"Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n");
    html_part(rng, budget, out);
}

fn boundary(rng: &mut Rng) -> String {
    format!("=_boundary_{:016x}", rng.next())
}

fn alternative_body(rng: &mut Rng, budget: usize, out: &mut Vec<u8>) {
    let boundary = boundary(rng);
    out.extend_from_slice(format!("Content-Type: multipart/alternative; boundary=\"{boundary}\"\r\n\r\n").as_bytes());
    out.extend_from_slice(format!("--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n").as_bytes());
    text_lines(rng, budget / 3, out);
    out.extend_from_slice(format!("--{boundary}\r\nContent-Type: text/html; charset=utf-8\r\n\r\n").as_bytes());
    html_part(rng, budget * 2 / 3, out);
    out.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
}

fn attachment_body(rng: &mut Rng, budget: usize, out: &mut Vec<u8>) {
    let boundary = boundary(rng);
    out.extend_from_slice(format!("Content-Type: multipart/mixed; boundary=\"{boundary}\"\r\n\r\n").as_bytes());
    out.extend_from_slice(format!("--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n").as_bytes());
    let greeting = 300 + rng.below(1500) as usize;
    text_lines(rng, greeting, out);
    let (name, kind) = *rng.pick(&[
        ("photo.jpg", "image/jpeg"),
        ("report.pdf", "application/pdf"),
        ("Übersicht.pdf", "application/pdf"),
    ]);
    let encoded_name = if name.is_ascii() { name.to_string() } else { format!("utf-8''{}", percent(name)) };
    let parameter = if name.is_ascii() { format!("filename=\"{name}\"") } else { format!("filename*={encoded_name}") };
    out.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Type: {kind}\r\nContent-Disposition: attachment; {parameter}\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        )
        .as_bytes(),
    );
    // Base64 grows data by 4/3: draw raw bytes for the remaining budget.
    let raw_length = budget.saturating_sub(out.len().min(budget)) * 3 / 4;
    let mut raw = Vec::with_capacity(raw_length);
    while raw.len() < raw_length {
        raw.extend_from_slice(&rng.next().to_le_bytes());
    }
    raw.truncate(raw_length);
    let encoded = base64(&raw);
    for line in encoded.as_bytes().chunks(76) {
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
}

fn percent(text: &str) -> String {
    text.bytes()
        .map(|byte| {
            if byte.is_ascii_alphanumeric() || byte == b'.' {
                (byte as char).to_string()
            } else {
                format!("%{byte:02X}")
            }
        })
        .collect()
}

fn forward_body(rng: &mut Rng, budget: usize, index: u64, out: &mut Vec<u8>) {
    let boundary = boundary(rng);
    out.extend_from_slice(format!("Content-Type: multipart/mixed; boundary=\"{boundary}\"\r\n\r\n").as_bytes());
    out.extend_from_slice(
        format!("--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSee below.\r\n").as_bytes(),
    );
    out.extend_from_slice(format!("--{boundary}\r\nContent-Type: message/rfc822\r\n\r\n").as_bytes());
    headers(rng, index.wrapping_add(1_000_000_000), false, out);
    plain_body(rng, budget.saturating_sub(600), out);
    out.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
}
