//! Client addresses as the limits see them.
//!
//! One household, one attacker or one ISP customer is one IPv4 address but
//! a whole IPv6 /64 (SLAAC and privacy extensions give every device many
//! addresses inside its /64, and an attacker with one /64 has 2^64 of
//! them). So every per-address limit (connections, pre-auth connections,
//! password checks, log summaries) is keyed by [`limit_key`]: an IPv4
//! address as itself (an IPv4-mapped IPv6 address, which a dual-stack
//! socket reports for an IPv4 peer, counts as its IPv4 address), an IPv6
//! address by its /64.
//!
//! [`Prefixes`] is the `never_limit` list: plain addresses or CIDR prefixes
//! whose clients no connection limit applies to.

use std::net::{IpAddr, Ipv6Addr};

/// The key a per-address limit counts `ip` under.
pub fn limit_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                IpAddr::V4(v4)
            } else {
                let bits = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(Ipv6Addr::from(bits))
            }
        }
    }
}

/// One address or CIDR prefix, e.g. `127.0.0.1`, `192.168.1.0/24`, `fd00::/8`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Prefix {
    network: IpAddr,
    length: u8,
}

impl Prefix {
    pub fn parse(text: &str) -> Result<Prefix, String> {
        let (address, length) = match text.split_once('/') {
            Some((address, length)) => (address, Some(length)),
            None => (text, None),
        };
        let network: IpAddr = address
            .trim()
            .parse()
            .map_err(|_| format!("{text:?} is not an address or a prefix like \"192.168.1.0/24\""))?;
        let bits = if network.is_ipv4() { 32 } else { 128 };
        let length = match length {
            None => bits,
            Some(length) => match length.trim().parse::<u8>() {
                Ok(length) if length <= bits => length,
                _ => return Err(format!("{text:?}: the prefix length must be 0 to {bits}")),
            },
        };
        // An IPv4-mapped network is written as its IPv4 form, so one rule matches both.
        let (network, length) = match network {
            IpAddr::V6(v6) if length >= 96 && v6.to_ipv4_mapped().is_some() => {
                (IpAddr::V4(v6.to_ipv4_mapped().expect("checked")), length - 96)
            }
            _ => (network, length),
        };
        Ok(Prefix { network, length })
    }

    /// The prefix a per-address limit counts `ip` under ([`limit_key`]):
    /// an IPv4 address as itself (/32), an IPv6 address's /64.
    pub fn of_key(ip: IpAddr) -> Prefix {
        match limit_key(ip) {
            key @ IpAddr::V4(_) => Prefix { network: key, length: 32 },
            key @ IpAddr::V6(_) => Prefix { network: key, length: 64 },
        }
    }

    /// The same prefix with the bits past its length cleared, so that
    /// `10.0.0.7/8` and `10.0.0.0/8` compare (and hash) alike.
    pub fn masked(self) -> Prefix {
        let network = match self.network {
            IpAddr::V4(v4) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.length)).unwrap_or(0);
                IpAddr::V4((u32::from(v4) & mask).into())
            }
            IpAddr::V6(v6) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.length)).unwrap_or(0);
                IpAddr::V6((u128::from(v6) & mask).into())
            }
        };
        Prefix { network, length: self.length }
    }

    pub fn network(&self) -> IpAddr {
        self.network
    }

    /// Whether the prefix is one address (/32, /128).
    pub fn is_single(&self) -> bool {
        self.length == if self.network.is_ipv4() { 32 } else { 128 }
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            IpAddr::V4(_) => ip,
        };
        match (self.network, ip) {
            (IpAddr::V4(network), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.length)).unwrap_or(0);
                u32::from(network) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(network), IpAddr::V6(ip)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.length)).unwrap_or(0);
                u128::from(network) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// A single address as itself, a wider prefix as `network/length`: the
/// form [`Prefix::parse`] reads back.
impl std::fmt::Display for Prefix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.is_single() {
            write!(f, "{}", self.network)
        } else {
            write!(f, "{}/{}", self.network, self.length)
        }
    }
}

/// A list of prefixes (the `never_limit` setting).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Prefixes(pub Vec<Prefix>);

impl Prefixes {
    pub fn parse<S: AsRef<str>>(texts: &[S]) -> Result<Prefixes, String> {
        texts.iter().map(|text| Prefix::parse(text.as_ref())).collect::<Result<_, _>>().map(Prefixes)
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|prefix| prefix.contains(ip))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn ipv6_counts_per_64_and_mapped_ipv4_as_ipv4() {
        assert_eq!(limit_key(ip("2001:db8:1:2:aaaa::1")), ip("2001:db8:1:2::"));
        assert_eq!(limit_key(ip("2001:db8:1:2:ffff:ffff:ffff:ffff")), ip("2001:db8:1:2::"));
        assert_ne!(limit_key(ip("2001:db8:1:3::1")), limit_key(ip("2001:db8:1:2::1")));
        assert_eq!(limit_key(ip("::ffff:192.0.2.7")), ip("192.0.2.7"));
        assert_eq!(limit_key(ip("192.0.2.7")), ip("192.0.2.7"));
        // Every address of 127/8 is its own key: loopback is not one client.
        assert_ne!(limit_key(ip("127.0.0.2")), limit_key(ip("127.0.0.3")));
        assert_eq!(limit_key(ip("::1")), ip("::"));
    }

    #[test]
    fn prefixes_match_addresses_and_cidr_ranges() {
        let list = Prefixes::parse(&["127.0.0.1", "::1", "192.168.1.0/24", "fd00::/8"]).unwrap();
        assert!(list.contains(ip("127.0.0.1")));
        assert!(list.contains(ip("::ffff:127.0.0.1")));
        assert!(!list.contains(ip("127.0.0.2")));
        assert!(list.contains(ip("::1")));
        assert!(!list.contains(ip("::2")));
        assert!(list.contains(ip("192.168.1.0")));
        assert!(list.contains(ip("192.168.1.255")));
        assert!(!list.contains(ip("192.168.2.1")));
        assert!(list.contains(ip("fdab::1")));
        assert!(!list.contains(ip("fe80::1")));
        assert!(Prefixes::parse(&["0.0.0.0/0"]).unwrap().contains(ip("8.8.8.8")));
        assert!(!Prefixes::parse(&["0.0.0.0/0"]).unwrap().contains(ip("2001:db8::1")));
        assert!(Prefixes::parse(&["::ffff:10.0.0.0/104"]).unwrap().contains(ip("10.1.2.3")));
        assert!(Prefixes::default().0.is_empty() && !Prefixes::default().contains(ip("127.0.0.1")));
    }

    #[test]
    fn keys_masks_and_display() {
        assert_eq!(Prefix::of_key(ip("192.0.2.7")).to_string(), "192.0.2.7");
        assert_eq!(Prefix::of_key(ip("::ffff:192.0.2.7")).to_string(), "192.0.2.7");
        assert_eq!(Prefix::of_key(ip("2001:db8:1:2:3::4")).to_string(), "2001:db8:1:2::/64");
        let range = Prefix::parse("10.1.2.3/8").unwrap();
        assert_ne!(range, Prefix::parse("10.0.0.0/8").unwrap());
        assert_eq!(range.masked(), Prefix::parse("10.0.0.0/8").unwrap());
        assert_eq!(range.masked().to_string(), "10.0.0.0/8");
        assert_eq!(Prefix::parse("::/0").unwrap().masked().to_string(), "::/0");
        assert!(Prefix::parse("::1").unwrap().is_single());
    }

    #[test]
    fn bad_prefixes_are_refused() {
        for text in ["", "localhost", "10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/x", "10.0.0.1/8/8"] {
            assert!(Prefix::parse(text).is_err(), "{text}");
        }
    }

    proptest! {
        #[test]
        fn an_address_is_in_its_own_prefixes(bits in any::<u32>(), length in 0u8..=32) {
            let address = std::net::Ipv4Addr::from(bits);
            let prefix = Prefix::parse(&format!("{address}/{length}")).unwrap();
            prop_assert!(prefix.contains(IpAddr::V4(address)));
            // The address with the first bit past the prefix flipped is inside
            // too; with a bit inside the prefix flipped, outside.
            if length < 32 {
                let inside = bits ^ (1 << (31 - length));
                prop_assert!(prefix.contains(IpAddr::V4(inside.into())));
            }
            if length > 0 {
                let outside = bits ^ (1 << (32 - length));
                prop_assert!(!prefix.contains(IpAddr::V4(outside.into())));
            }
        }

        #[test]
        fn a_masked_prefix_reads_back_from_its_text(bits in any::<u128>(), length in 0u8..=128, v4 in any::<bool>()) {
            let text = if v4 {
                format!("{}/{}", std::net::Ipv4Addr::from(bits as u32), length % 33)
            } else {
                format!("{}/{}", Ipv6Addr::from(bits), length)
            };
            let prefix = Prefix::parse(&text).unwrap().masked();
            prop_assert_eq!(Prefix::parse(&prefix.to_string()).unwrap().masked(), prefix);
        }

        #[test]
        fn every_address_of_a_64_has_one_key(high in any::<u64>(), low in any::<u64>(), other in any::<u64>()) {
            let a = Ipv6Addr::from((u128::from(high) << 64) | u128::from(low));
            let b = Ipv6Addr::from((u128::from(high) << 64) | u128::from(other));
            prop_assume!(a.to_ipv4_mapped().is_none() && b.to_ipv4_mapped().is_none());
            prop_assert_eq!(limit_key(IpAddr::V6(a)), limit_key(IpAddr::V6(b)));
        }
    }
}
