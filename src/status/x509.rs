//! Just enough of an X.509 certificate (RFC 5280) for `roost status` and
//! `roost setup`: the subject's common name, the validity dates and the
//! subject alternative names (DNS names and IP addresses).
//!
//! A small DER walker instead of a crate: the server only ever needs these
//! few fields of its own certificate, and an X.509 crate would add tens of
//! kilobytes to every ARM binary. It never trusts a length: every element
//! is checked to fit inside its parent, so arbitrary bytes give an error,
//! never a panic (a proptest below says so). It checks no signature and
//! decides nothing about trust: it reads what the file says.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::util::datetime::days_from_civil;

/// What `roost status` shows of a certificate.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CertInfo {
    /// The subject's CN, if it has one.
    pub common_name: Option<String>,
    /// Unix seconds.
    pub not_before: i64,
    pub not_after: i64,
    /// subjectAltName dNSName entries.
    pub dns_names: Vec<String>,
    /// subjectAltName iPAddress entries.
    pub ip_addresses: Vec<IpAddr>,
    /// Issuer and subject are the same name (a self-signed certificate,
    /// as roost makes; Let's Encrypt's are not).
    pub self_issued: bool,
}

impl CertInfo {
    /// Every name a client may check it against, DNS names then addresses.
    pub fn names(&self) -> Vec<String> {
        let mut names = self.dns_names.clone();
        names.extend(self.ip_addresses.iter().map(IpAddr::to_string));
        names
    }

    /// Whether a client connecting by `name` (a host name or an address)
    /// finds it among the subject alternative names. RFC 6125 §6.4.1:
    /// host names compare without regard to case; wildcards are not
    /// looked at (roost never makes them).
    pub fn covers(&self, name: &str) -> bool {
        match name.parse::<IpAddr>() {
            Ok(ip) => self.ip_addresses.contains(&ip),
            Err(_) => self.dns_names.iter().any(|known| known.eq_ignore_ascii_case(name)),
        }
    }
}

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const INTEGER: u8 = 0x02;
const OID: u8 = 0x06;
const OCTET_STRING: u8 = 0x04;
const BOOLEAN: u8 = 0x01;
const UTC_TIME: u8 = 0x17;
const GENERALIZED_TIME: u8 = 0x18;
/// `[0] EXPLICIT Version` and `[3] EXPLICIT Extensions` in TBSCertificate.
const VERSION_TAG: u8 = 0xA0;
const EXTENSIONS_TAG: u8 = 0xA3;
/// GeneralName's `[2] dNSName` and `[7] iPAddress` (implicit, primitive).
const DNS_NAME_TAG: u8 = 0x82;
const IP_ADDRESS_TAG: u8 = 0x87;
/// id-at-commonName (2.5.4.3) and id-ce-subjectAltName (2.5.29.17).
const COMMON_NAME: &[u8] = &[0x55, 0x04, 0x03];
const SUBJECT_ALT_NAME: &[u8] = &[0x55, 0x1D, 0x11];

/// A reader over DER elements (tag, length, value), one after another.
struct Der<'a> {
    rest: &'a [u8],
}

impl<'a> Der<'a> {
    fn new(bytes: &'a [u8]) -> Der<'a> {
        Der { rest: bytes }
    }

    fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    fn peek_tag(&self) -> Option<u8> {
        self.rest.first().copied()
    }

    /// The next element: (tag, contents).
    fn next(&mut self) -> Result<(u8, &'a [u8]), String> {
        let [tag, first, rest @ ..] = self.rest else {
            return Err("truncated element".into());
        };
        // Tag numbers above 30 take more bytes; no field read here uses one.
        if tag & 0x1F == 0x1F {
            return Err("unexpected long-form tag".into());
        }
        let (length, rest) = if first & 0x80 == 0 {
            (usize::from(*first), rest)
        } else {
            // DER: definite lengths only, in at most 4 bytes here.
            let count = usize::from(first & 0x7F);
            if count == 0 || count > 4 || rest.len() < count {
                return Err("bad length".into());
            }
            let length = rest[..count].iter().fold(0usize, |sum, byte| (sum << 8) | usize::from(*byte));
            (length, &rest[count..])
        };
        if length > rest.len() {
            return Err("element longer than its container".into());
        }
        let (contents, rest) = rest.split_at(length);
        self.rest = rest;
        Ok((*tag, contents))
    }

    /// The next element, which must have tag `want`: its contents.
    fn expect(&mut self, want: u8, what: &str) -> Result<&'a [u8], String> {
        let (tag, contents) = self.next()?;
        if tag != want {
            return Err(format!("{what}: expected tag {want:#04x}, found {tag:#04x}"));
        }
        Ok(contents)
    }
}

/// Reads the fields of a DER certificate.
pub fn parse(der: &[u8]) -> Result<CertInfo, String> {
    let certificate = Der::new(der).expect(SEQUENCE, "certificate")?;
    let mut tbs = Der::new(Der::new(certificate).expect(SEQUENCE, "tbsCertificate")?);
    if tbs.peek_tag() == Some(VERSION_TAG) {
        tbs.next()?;
    }
    tbs.expect(INTEGER, "serialNumber")?;
    tbs.expect(SEQUENCE, "signature")?;
    let issuer = tbs.expect(SEQUENCE, "issuer")?;
    let mut validity = Der::new(tbs.expect(SEQUENCE, "validity")?);
    let not_before = time(validity.next()?)?;
    let not_after = time(validity.next()?)?;
    let subject = tbs.expect(SEQUENCE, "subject")?;
    tbs.expect(SEQUENCE, "subjectPublicKeyInfo")?;
    let mut info = CertInfo {
        common_name: common_name(subject)?,
        not_before,
        not_after,
        self_issued: issuer == subject,
        ..CertInfo::default()
    };
    // Optional issuerUniqueID [1], subjectUniqueID [2], then extensions [3].
    while !tbs.is_empty() {
        let (tag, contents) = tbs.next()?;
        if tag == EXTENSIONS_TAG {
            let mut extensions = Der::new(Der::new(contents).expect(SEQUENCE, "extensions")?);
            while !extensions.is_empty() {
                let mut extension = Der::new(extensions.expect(SEQUENCE, "extension")?);
                let id = extension.expect(OID, "extnID")?;
                if extension.peek_tag() == Some(BOOLEAN) {
                    extension.next()?;
                }
                let value = extension.expect(OCTET_STRING, "extnValue")?;
                if id == SUBJECT_ALT_NAME {
                    alt_names(value, &mut info)?;
                }
            }
        }
    }
    Ok(info)
}

/// Reads the first certificate of a PEM file.
pub fn read_pem(path: &std::path::Path) -> Result<CertInfo, String> {
    use rustls_pki_types::pem::PemObject;
    let first = rustls_pki_types::CertificateDer::pem_file_iter(path)
        .map_err(|error| format!("cannot read {}: {error}", path.display()))?
        .next()
        .ok_or_else(|| format!("{} holds no certificate", path.display()))?
        .map_err(|error| format!("{} is not a PEM certificate: {error}", path.display()))?;
    parse(first.as_ref()).map_err(|problem| format!("{}: {problem}", path.display()))
}

/// The CN in a Name (SEQUENCE OF SET OF AttributeTypeAndValue).
fn common_name(name: &[u8]) -> Result<Option<String>, String> {
    let mut sets = Der::new(name);
    while !sets.is_empty() {
        let mut attributes = Der::new(sets.expect(SET, "name")?);
        while !attributes.is_empty() {
            let mut attribute = Der::new(attributes.expect(SEQUENCE, "attribute")?);
            let id = attribute.expect(OID, "attribute type")?;
            let (_, value) = attribute.next()?;
            if id == COMMON_NAME {
                return Ok(Some(String::from_utf8_lossy(value).into_owned()));
            }
        }
    }
    Ok(None)
}

/// subjectAltName: a SEQUENCE of GeneralName; DNS names and IP addresses kept.
fn alt_names(value: &[u8], info: &mut CertInfo) -> Result<(), String> {
    let mut names = Der::new(Der::new(value).expect(SEQUENCE, "subjectAltName")?);
    while !names.is_empty() {
        match names.next()? {
            (DNS_NAME_TAG, name) => info.dns_names.push(String::from_utf8_lossy(name).into_owned()),
            (IP_ADDRESS_TAG, bytes) => {
                if let Ok(four) = <[u8; 4]>::try_from(bytes) {
                    info.ip_addresses.push(IpAddr::V4(Ipv4Addr::from(four)));
                } else if let Ok(sixteen) = <[u8; 16]>::try_from(bytes) {
                    info.ip_addresses.push(IpAddr::V6(Ipv6Addr::from(sixteen)));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// UTCTime (`YYMMDDHHMMSSZ`) or GeneralizedTime (`YYYYMMDDHHMMSSZ`) as
/// unix seconds. RFC 5280 §4.1.2.5: UTCTime years 50..99 are 19YY, 00..49
/// are 20YY; both forms are in UTC ("Z") with seconds.
fn time((tag, text): (u8, &[u8])) -> Result<i64, String> {
    let digits = match (tag, text) {
        (UTC_TIME, [digits @ .., b'Z']) if digits.len() == 12 => digits,
        (GENERALIZED_TIME, [digits @ .., b'Z']) if digits.len() == 14 => digits,
        _ => return Err("validity: not a UTCTime or GeneralizedTime in UTC".into()),
    };
    if !digits.iter().all(u8::is_ascii_digit) {
        return Err("validity: not a date".into());
    }
    let number = |bytes: &[u8]| bytes.iter().fold(0i64, |sum, digit| sum * 10 + i64::from(digit - b'0'));
    let (year, rest) = if tag == UTC_TIME {
        let short = number(&digits[..2]);
        (if short >= 50 { 1900 + short } else { 2000 + short }, &digits[2..])
    } else {
        (number(&digits[..4]), &digits[4..])
    };
    let [month, day, hour, minute, second] = [0, 2, 4, 6, 8].map(|at| number(&rest[at..at + 2]));
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 {
        return Err("validity: not a date".into());
    }
    let days = days_from_civil(year, month as u32, day as u32);
    Ok(days * 86_400 + hour * 3600 + minute * 60 + second)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn made(names: &[&str]) -> Vec<u8> {
        let names: Vec<String> = names.iter().map(|name| (*name).to_string()).collect();
        let mut params = rcgen::CertificateParams::new(names.clone()).unwrap();
        let mut subject = rcgen::DistinguishedName::new();
        subject.push(rcgen::DnType::CommonName, names[0].as_str());
        subject.push(rcgen::DnType::OrganizationName, "roost mail server");
        params.distinguished_name = subject;
        params.not_before = rcgen::date_time_ymd(2026, 12, 6);
        params.not_after = rcgen::date_time_ymd(2053, 1, 1);
        let key = rcgen::KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().der().to_vec()
    }

    #[test]
    fn reads_what_rcgen_writes() {
        let der = made(&["pi", "pi.local", "localhost", "192.168.1.20", "fd00::2"]);
        let info = parse(&der).unwrap();
        assert_eq!(info.common_name.as_deref(), Some("pi"));
        assert_eq!(info.dns_names, ["pi", "pi.local", "localhost"]);
        let addresses: Vec<IpAddr> = vec!["192.168.1.20".parse().unwrap(), "fd00::2".parse().unwrap()];
        assert_eq!(info.ip_addresses, addresses);
        // 2026-12-06 00:00:00 UTC and 2053-01-01 (a GeneralizedTime: after 2049).
        assert_eq!(info.not_before, 1_796_515_200);
        assert_eq!(info.not_after, days_from_civil(2053, 1, 1) * 86_400);
        assert!(info.self_issued);
        assert!(info.covers("PI.local") && info.covers("192.168.1.20") && info.covers("fd00::2"));
        assert!(!info.covers("other.local") && !info.covers("192.168.1.21"));
    }

    /// A certificate another tool made (OpenSSL: `openssl req -x509
    /// -newkey ec ... -days 825 -addext subjectAltName=...`), the fuzz
    /// target's seed.
    #[test]
    fn reads_what_openssl_writes() {
        let info = parse(include_bytes!("../../fuzz/seeds/certificate/self-signed.der")).unwrap();
        assert_eq!(info.common_name.as_deref(), Some("pi"));
        assert_eq!(info.dns_names, ["pi", "pi.local"]);
        let addresses: Vec<IpAddr> = vec!["192.168.1.20".parse().unwrap(), "fd00::2".parse().unwrap()];
        assert_eq!(info.ip_addresses, addresses);
        assert_eq!(info.not_after - info.not_before, 825 * 86_400);
        assert!(info.self_issued);
    }

    #[test]
    fn times_in_both_forms() {
        assert_eq!(time((UTC_TIME, b"700101000000Z")), Ok(0));
        assert_eq!(time((UTC_TIME, b"491231235959Z")), Ok(days_from_civil(2049, 12, 31) * 86_400 + 86_399));
        assert_eq!(time((GENERALIZED_TIME, b"20500101000000Z")), Ok(days_from_civil(2050, 1, 1) * 86_400));
        for bad in [&b"7001010000Z"[..], b"700101000000", b"701301000000Z", b"70010100000aZ"] {
            assert!(time((UTC_TIME, bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn truncated_and_lying_lengths_are_errors() {
        let der = made(&["pi"]);
        for cut in [0, 1, 2, 10, der.len() / 2, der.len() - 1] {
            assert!(parse(&der[..cut]).is_err(), "cut at {cut}");
        }
        assert!(parse(&[0x30, 0x84, 0xFF, 0xFF, 0xFF, 0xFF]).is_err());
        assert!(parse(&[0x30, 0x80, 0x00, 0x00]).is_err());
    }

    proptest! {
        #[test]
        fn never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse(&bytes);
        }

        /// A real certificate with bytes changed still parses or fails cleanly.
        #[test]
        fn never_panics_on_a_damaged_certificate(changes in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8)) {
            let mut der = made(&["pi", "10.0.0.1"]);
            for (at, byte) in changes {
                let at = at % der.len();
                der[at] = byte;
            }
            let _ = parse(&der);
        }
    }
}
