//! The stored form of a message's MIME structure ([`Structure`], made by
//! `mime::structure`'s parser at delivery), kept in the blob record beside
//! the other record codecs (issue 14: the parser is MIME's, the bytes on
//! disk are the store's). A version byte, then LEB128 numbers and
//! length-prefixed byte strings; every read is bounds-checked and a
//! damaged record decodes to `None` (FETCH then parses the message again).

use crate::mime::address::Address;
use crate::mime::structure::{count_descendants, Content, Envelope, Kind, Part, Structure, MAX_PARTS};

/// Stored form version.
const VERSION: u8 = 1;

impl Structure {
    /// The stored form: a version byte, then LEB128 numbers and
    /// length-prefixed byte strings (little-endian throughout).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![VERSION];
        put_number(&mut out, self.parts.len() as u64);
        for part in &self.parts {
            put_number(&mut out, part.header_start);
            put_number(&mut out, part.body_start - part.header_start);
            put_number(&mut out, part.body_end - part.body_start);
            put_number(&mut out, part.lines);
            out.push(match part.kind {
                Kind::Text => 0,
                Kind::Multipart => 1,
                Kind::Message => 2,
                Kind::Other => 3,
            });
            put_number(&mut out, u64::from(part.children));
            let content = &part.content;
            put_optional(&mut out, content.media_type.as_ref());
            put_optional(&mut out, content.subtype.as_ref());
            put_parameters(&mut out, &content.params);
            put_optional(&mut out, content.id.as_ref());
            put_optional(&mut out, content.description.as_ref());
            put_optional(&mut out, content.encoding.as_ref());
            put_optional(&mut out, content.md5.as_ref());
            put_optional(&mut out, content.disposition.as_ref());
            put_parameters(&mut out, &content.disposition_params);
            put_number(&mut out, content.language.len() as u64);
            for tag in &content.language {
                put_bytes(&mut out, tag);
            }
            put_optional(&mut out, content.location.as_ref());
            match &part.envelope {
                None => out.push(0),
                Some(envelope) => {
                    out.push(1);
                    put_optional(&mut out, envelope.date.as_ref());
                    put_optional(&mut out, envelope.subject.as_ref());
                    for list in [
                        &envelope.from,
                        &envelope.sender,
                        &envelope.reply_to,
                        &envelope.to,
                        &envelope.cc,
                        &envelope.bcc,
                    ] {
                        put_addresses(&mut out, list.as_ref());
                    }
                    put_optional(&mut out, envelope.in_reply_to.as_ref());
                    put_optional(&mut out, envelope.message_id.as_ref());
                }
            }
        }
        out
    }

    /// Reads the stored form; None if it is damaged or of another version.
    pub fn decode(bytes: &[u8]) -> Option<Structure> {
        let mut reader = Reader { bytes, at: 0 };
        if reader.byte()? != VERSION {
            return None;
        }
        let count = reader.count()?;
        if count == 0 || count > MAX_PARTS {
            return None;
        }
        let mut parts = Vec::with_capacity(count);
        for _ in 0..count {
            let header_start = reader.number()?;
            let body_start = header_start.checked_add(reader.number()?)?;
            let body_end = body_start.checked_add(reader.number()?)?;
            let lines = reader.number()?;
            let kind = match reader.byte()? {
                0 => Kind::Text,
                1 => Kind::Multipart,
                2 => Kind::Message,
                3 => Kind::Other,
                _ => return None,
            };
            let children = u32::try_from(reader.number()?).ok()?;
            let allowed = match kind {
                Kind::Multipart => true,
                Kind::Message => children <= 1,
                _ => children == 0,
            };
            if !allowed {
                return None;
            }
            let content = Content {
                media_type: reader.optional()?,
                subtype: reader.optional()?,
                params: reader.parameters()?,
                id: reader.optional()?,
                description: reader.optional()?,
                encoding: reader.optional()?,
                md5: reader.optional()?,
                disposition: reader.optional()?,
                disposition_params: reader.parameters()?,
                language: {
                    let count = reader.count()?;
                    let mut tags = Vec::with_capacity(count);
                    for _ in 0..count {
                        tags.push(reader.bytes()?);
                    }
                    tags
                },
                location: reader.optional()?,
            };
            let envelope = match reader.byte()? {
                0 => None,
                1 => Some(Box::new(Envelope {
                    date: reader.optional()?,
                    subject: reader.optional()?,
                    from: reader.addresses()?,
                    sender: reader.addresses()?,
                    reply_to: reader.addresses()?,
                    to: reader.addresses()?,
                    cc: reader.addresses()?,
                    bcc: reader.addresses()?,
                    in_reply_to: reader.optional()?,
                    message_id: reader.optional()?,
                })),
                _ => return None,
            };
            parts.push(Part {
                header_start,
                body_start,
                body_end,
                lines,
                kind,
                children,
                descendants: 0,
                content,
                envelope,
            });
        }
        if reader.at != bytes.len() || !count_descendants(&mut parts) {
            return None;
        }
        Some(Structure { parts })
    }
}

fn put_number(out: &mut Vec<u8>, mut value: u64) {
    loop {
        let low = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(low);
            return;
        }
        out.push(low | 0x80);
    }
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_number(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// 0 for None, length + 1 then the bytes for Some.
fn put_optional(out: &mut Vec<u8>, value: Option<&Vec<u8>>) {
    match value {
        None => out.push(0),
        Some(bytes) => {
            put_number(out, bytes.len() as u64 + 1);
            out.extend_from_slice(bytes);
        }
    }
}

fn put_parameters(out: &mut Vec<u8>, parameters: &[(Vec<u8>, Vec<u8>)]) {
    put_number(out, parameters.len() as u64);
    for (name, value) in parameters {
        put_bytes(out, name);
        put_bytes(out, value);
    }
}

fn put_addresses(out: &mut Vec<u8>, list: Option<&Vec<Address>>) {
    match list {
        None => out.push(0),
        Some(list) => {
            put_number(out, list.len() as u64 + 1);
            for address in list {
                put_optional(out, address.name.as_ref());
                put_optional(out, address.route.as_ref());
                put_optional(out, address.mailbox.as_ref());
                put_optional(out, address.host.as_ref());
            }
        }
    }
}

/// Reads the stored form; every method returns None on damage.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn byte(&mut self) -> Option<u8> {
        let byte = *self.bytes.get(self.at)?;
        self.at += 1;
        Some(byte)
    }

    fn number(&mut self) -> Option<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.byte()?;
            let bits = u64::from(byte & 0x7f);
            if shift == 63 && bits > 1 {
                return None;
            }
            value |= bits << shift;
            if byte & 0x80 == 0 {
                return Some(value);
            }
        }
        None
    }

    /// A count of items that each take at least one byte: never more than
    /// the bytes left, so damage cannot make a huge allocation.
    fn count(&mut self) -> Option<usize> {
        let count = usize::try_from(self.number()?).ok()?;
        (count <= self.bytes.len() - self.at).then_some(count)
    }

    fn take(&mut self, length: usize) -> Option<Vec<u8>> {
        let end = self.at.checked_add(length)?;
        let bytes = self.bytes.get(self.at..end)?.to_vec();
        self.at = end;
        Some(bytes)
    }

    fn bytes(&mut self) -> Option<Vec<u8>> {
        let length = usize::try_from(self.number()?).ok()?;
        self.take(length)
    }

    fn optional(&mut self) -> Option<Option<Vec<u8>>> {
        match usize::try_from(self.number()?).ok()? {
            0 => Some(None),
            length => Some(Some(self.take(length - 1)?)),
        }
    }

    fn parameters(&mut self) -> Option<Vec<(Vec<u8>, Vec<u8>)>> {
        let count = self.count()?;
        let mut out = Vec::with_capacity(count);
        for _ in 0..count {
            out.push((self.bytes()?, self.bytes()?));
        }
        Some(out)
    }

    fn addresses(&mut self) -> Option<Option<Vec<Address>>> {
        let count = match usize::try_from(self.number()?).ok()? {
            0 => return Some(None),
            count => count - 1,
        };
        if count > self.bytes.len() - self.at {
            return None;
        }
        let mut list = Vec::with_capacity(count);
        for _ in 0..count {
            list.push(Address {
                name: self.optional()?,
                route: self.optional()?,
                mailbox: self.optional()?,
                host: self.optional()?,
            });
        }
        Some(Some(list))
    }
}

#[cfg(test)]
mod tests {
    use crate::mime::structure::{Structure, StructureParser};

    const NESTED: &[u8] = b"From: a@x\r\nSubject: nested\r\nContent-Type: multipart/mixed; boundary=o\r\n\r\n--o\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nhello\r\n--o\r\nContent-Type: multipart/alternative; boundary=i\r\n\r\n--i\r\n\r\ntext\r\n--i\r\nContent-Type: text/html\r\n\r\n<p>html</p>\r\n--i--\r\n--o\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\nbody\r\n--o--\r\n";

    fn parse(message: &[u8]) -> Structure {
        let mut parser = StructureParser::new();
        parser.feed(message);
        parser.finish()
    }

    #[test]
    fn round_trips_and_rejects_damage() {
        let structure = parse(NESTED);
        assert!(structure.parts.len() >= 6, "{structure:?}");
        let bytes = structure.encode();
        assert_eq!(Structure::decode(&bytes), Some(structure));
        assert_eq!(Structure::decode(&[]), None);
        // Another version.
        assert_eq!(Structure::decode(&[2]), None);
        for cut in 0..bytes.len() {
            assert_eq!(Structure::decode(&bytes[..cut]), None, "cut at {cut}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(Structure::decode(&longer), None);
    }

    proptest::proptest! {
        /// Damaged bytes decode to None or to a structure that can be used.
        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
            if let Some(structure) = Structure::decode(&bytes) {
                let _ = structure.section(&[1, 2, 1]);
                proptest::prop_assert_eq!(Structure::decode(&structure.encode()), Some(structure.clone()));
            }
        }
    }
}
