//! The machine's own addresses on its networks, for the self-signed
//! certificate: a phone set up with `192.168.1.20` instead of a name checks
//! that address against the certificate's IP address entries.
//!
//! Read from `/proc/net/fib_trie` (IPv4: the `host LOCAL` entries) and
//! `/proc/net/if_inet6` (IPv6), which need no privileges and no extra
//! crate. Left out: loopback (`localhost` is named already), link-local
//! addresses (they need an interface scope a certificate cannot carry)
//! and temporary IPv6 privacy addresses (they change within a day, the
//! certificate is made once).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// This machine's addresses, as [`from_fib_trie`] and [`from_if_inet6`]
/// find them; empty where /proc is not there.
pub fn addresses() -> Vec<IpAddr> {
    let mut found = from_fib_trie(&std::fs::read_to_string("/proc/net/fib_trie").unwrap_or_default());
    found.extend(from_if_inet6(&std::fs::read_to_string("/proc/net/if_inet6").unwrap_or_default()));
    found
}

/// The IPv4 addresses of the machine in a `/proc/net/fib_trie` dump: an
/// address line (`|-- 192.168.1.20`) followed by `/32 host LOCAL`. Each
/// once, in the order met (the dump lists the Main and Local tables).
pub fn from_fib_trie(text: &str) -> Vec<IpAddr> {
    let mut found = Vec::new();
    let mut last: Option<Ipv4Addr> = None;
    for line in text.lines() {
        let line = line.trim();
        if let Some(address) = line.strip_prefix("|-- ") {
            last = address.trim().parse().ok();
        } else if line.starts_with("/32 host LOCAL") {
            if let Some(address) = last.take() {
                let ip = IpAddr::V4(address);
                if !address.is_loopback() && !address.is_link_local() && !found.contains(&ip) {
                    found.push(ip);
                }
            }
        }
    }
    found
}

/// The IPv6 addresses in `/proc/net/if_inet6` lines (32 hex digits, the
/// interface index, prefix length, scope and flags in hex, the name) of
/// global scope (0, which includes unique local `fd..` addresses) and not
/// temporary (flag 0x01).
pub fn from_if_inet6(text: &str) -> Vec<IpAddr> {
    let mut found = Vec::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [hex, _, _, scope, flags, ..] = fields[..] else { continue };
        let (Ok(bits), Ok(scope), Ok(flags)) =
            (u128::from_str_radix(hex, 16), u8::from_str_radix(scope, 16), u8::from_str_radix(flags, 16))
        else {
            continue;
        };
        if hex.len() != 32 || scope != 0 || flags & 0x01 != 0 {
            continue;
        }
        let ip = IpAddr::V6(Ipv6Addr::from(bits));
        if !found.contains(&ip) {
            found.push(ip);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_host_entries_except_loopback() {
        let dump = "Main:
  +-- 0.0.0.0/0 3 0 5
     |-- 0.0.0.0
        /0 universe UNICAST
     +-- 127.0.0.0/8 2 0 2
           |-- 127.0.0.1
              /32 host LOCAL
     +-- 192.168.1.0/24 2 0 2
           |-- 192.168.1.0
              /24 link UNICAST
           |-- 192.168.1.20
              /32 host LOCAL
        |-- 192.168.1.255
           /32 link BROADCAST
     |-- 169.254.3.4
        /32 host LOCAL
Local:
           |-- 192.168.1.20
              /32 host LOCAL
           |-- 10.8.0.1
              /32 host LOCAL
";
        let expected: Vec<IpAddr> = vec!["192.168.1.20".parse().unwrap(), "10.8.0.1".parse().unwrap()];
        assert_eq!(from_fib_trie(dump), expected);
        assert!(from_fib_trie("").is_empty());
        assert!(from_fib_trie("|-- not-an-address\n/32 host LOCAL").is_empty());
    }

    #[test]
    fn ipv6_global_and_unique_local_but_not_temporary() {
        let lines = "00000000000000000000000000000001 01 80 10 80       lo
fd000000000000000000000000000002 04 40 00 82     eth0
fe8000000000000000fc00fffe000001 04 40 20 80     eth0
20010db8000000000000000000000005 04 40 00 01     eth0
20010db8000000000000000000000006 04 40 00 80     eth0
garbage line
";
        let expected: Vec<IpAddr> = vec!["fd00::2".parse().unwrap(), "2001:db8::6".parse().unwrap()];
        assert_eq!(from_if_inet6(lines), expected);
    }

    #[test]
    fn this_machine_answers_without_loopback() {
        for ip in addresses() {
            assert!(!ip.is_loopback(), "{ip}");
        }
    }
}
