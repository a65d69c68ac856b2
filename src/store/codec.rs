//! Byte layout of the records kept in redb values.
//!
//! Records are small and fixed in shape, so they are written by hand as
//! little-endian fields behind a one-byte version: no serde, no surprises in
//! size on ARM, and a record that does not decode is reported as damage
//! instead of being half-read.

use super::StoreError;

/// Appends fields to a byte vector.
#[derive(Default)]
pub struct Encoder {
    bytes: Vec<u8>,
}

impl Encoder {
    pub fn new(version: u8) -> Encoder {
        let mut bytes = Vec::with_capacity(64);
        bytes.push(version);
        Encoder { bytes }
    }

    pub fn u8(&mut self, value: u8) -> &mut Self {
        self.bytes.push(value);
        self
    }

    pub fn u16(&mut self, value: u16) -> &mut Self {
        self.bytes.extend_from_slice(&value.to_le_bytes());
        self
    }

    pub fn u32(&mut self, value: u32) -> &mut Self {
        self.bytes.extend_from_slice(&value.to_le_bytes());
        self
    }

    pub fn u64(&mut self, value: u64) -> &mut Self {
        self.bytes.extend_from_slice(&value.to_le_bytes());
        self
    }

    pub fn i64(&mut self, value: i64) -> &mut Self {
        self.bytes.extend_from_slice(&value.to_le_bytes());
        self
    }

    pub fn i16(&mut self, value: i16) -> &mut Self {
        self.bytes.extend_from_slice(&value.to_le_bytes());
        self
    }

    /// A length-prefixed byte string.
    pub fn bytes(&mut self, value: &[u8]) -> &mut Self {
        self.u32(value.len() as u32);
        self.bytes.extend_from_slice(value);
        self
    }

    pub fn str(&mut self, value: &str) -> &mut Self {
        self.bytes(value.as_bytes())
    }

    pub fn finish(self) -> Vec<u8> {
        self.bytes
    }
}

/// Reads fields written by [`Encoder`]; every read is bounds-checked.
pub struct Decoder<'a> {
    bytes: &'a [u8],
    what: &'static str,
}

impl<'a> Decoder<'a> {
    /// Checks the version byte; `what` names the record in damage reports.
    pub fn new(bytes: &'a [u8], version: u8, what: &'static str) -> Result<Decoder<'a>, StoreError> {
        match bytes.split_first() {
            Some((&found, rest)) if found == version => Ok(Decoder { bytes: rest, what }),
            _ => Err(StoreError::Corrupt(format!("{what}: unknown record version"))),
        }
    }

    fn take(&mut self, count: usize) -> Result<&'a [u8], StoreError> {
        if self.bytes.len() < count {
            return Err(StoreError::Corrupt(format!("{}: record too short", self.what)));
        }
        let (head, tail) = self.bytes.split_at(count);
        self.bytes = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], StoreError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    pub fn u8(&mut self) -> Result<u8, StoreError> {
        Ok(self.take(1)?[0])
    }

    pub fn u16(&mut self) -> Result<u16, StoreError> {
        Ok(u16::from_le_bytes(self.array()?))
    }

    pub fn u32(&mut self) -> Result<u32, StoreError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    pub fn u64(&mut self) -> Result<u64, StoreError> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    pub fn i64(&mut self) -> Result<i64, StoreError> {
        Ok(i64::from_le_bytes(self.array()?))
    }

    pub fn i16(&mut self) -> Result<i16, StoreError> {
        Ok(i16::from_le_bytes(self.array()?))
    }

    pub fn bytes(&mut self) -> Result<&'a [u8], StoreError> {
        let length = self.u32()? as usize;
        self.take(length)
    }

    pub fn string(&mut self) -> Result<String, StoreError> {
        let what = self.what;
        let bytes = self.bytes()?;
        String::from_utf8(bytes.to_vec()).map_err(|_| StoreError::Corrupt(format!("{what}: text is not UTF-8")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_round_trip() {
        let mut encoder = Encoder::new(3);
        encoder.u8(7).u16(513).u32(70_000).u64(u64::MAX).i64(-5).i16(-120).str("Sent/Ünïcode").bytes(b"");
        let bytes = encoder.finish();
        let mut decoder = Decoder::new(&bytes, 3, "test").unwrap();
        assert_eq!(decoder.u8().unwrap(), 7);
        assert_eq!(decoder.u16().unwrap(), 513);
        assert_eq!(decoder.u32().unwrap(), 70_000);
        assert_eq!(decoder.u64().unwrap(), u64::MAX);
        assert_eq!(decoder.i64().unwrap(), -5);
        assert_eq!(decoder.i16().unwrap(), -120);
        assert_eq!(decoder.string().unwrap(), "Sent/Ünïcode");
        assert_eq!(decoder.bytes().unwrap(), b"");
    }

    #[test]
    fn damage_is_reported_not_panicked() {
        assert!(Decoder::new(&[], 1, "test").is_err());
        assert!(Decoder::new(&[2], 1, "test").is_err());
        let mut decoder = Decoder::new(&[1, 5, 0], 1, "test").unwrap();
        assert!(decoder.u32().is_err());
        let mut decoder = Decoder::new(&[1, 9, 0, 0, 0, b'a'], 1, "test").unwrap();
        assert!(decoder.bytes().is_err());
    }
}
