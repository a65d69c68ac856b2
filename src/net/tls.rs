//! TLS: certificates from PEM files (Let's Encrypt or our own self-signed
//! pair), rustls with the `ring` provider.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use futures_rustls::TlsAcceptor;
use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// Serves TLS from a certificate and key on disk, reloading them when the
/// files change (a renewed Let's Encrypt certificate is picked up without
/// a restart).
pub struct Certificates {
    cert: PathBuf,
    key: PathBuf,
    loaded: RefCell<(Option<SystemTime>, TlsAcceptor)>,
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|metadata| metadata.modified()).ok()
}

fn build(cert: &Path, key: &Path) -> Result<TlsAcceptor, String> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|error| format!("cannot read {}: {error}", cert.display()))?
        .collect::<Result<_, _>>()
        .map_err(|error| format!("{} is not a PEM certificate chain: {error}", cert.display()))?;
    if chain.is_empty() {
        return Err(format!("{} holds no certificate", cert.display()));
    }
    let private_key = PrivateKeyDer::from_pem_file(key)
        .map_err(|error| format!("cannot read a private key from {}: {error}", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| format!("TLS setup failed: {error}"))?
        .with_no_client_auth()
        .with_single_cert(chain, private_key)
        .map_err(|error| format!("{} and {} do not make a usable pair: {error}", cert.display(), key.display()))?;
    // Sessions are short and many; resumption saves phones a round trip.
    config.session_storage = rustls::server::ServerSessionMemoryCache::new(256);
    Ok(TlsAcceptor::from(Arc::new(config)))
}

impl Certificates {
    pub fn load(cert: &Path, key: &Path) -> Result<Certificates, String> {
        let acceptor = build(cert, key)?;
        Ok(Certificates {
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
            loaded: RefCell::new((modified(cert).max(modified(key)), acceptor)),
        })
    }

    /// The acceptor for a new connection, rebuilt first if the files changed.
    pub fn acceptor(&self) -> TlsAcceptor {
        let stamp = modified(&self.cert).max(modified(&self.key));
        let mut loaded = self.loaded.borrow_mut();
        if stamp != loaded.0 {
            match build(&self.cert, &self.key) {
                Ok(acceptor) => {
                    log::info!("reloaded TLS certificate {}", self.cert.display());
                    *loaded = (stamp, acceptor);
                }
                // Half-written during renewal, most likely: keep serving the old pair.
                Err(problem) => log::warn!("keeping the previous certificate: {problem}"),
            }
        }
        loaded.1.clone()
    }
}

/// How long a server certificate roost issues lasts, in days. Apple's
/// devices refuse a TLS server certificate valid for more than 825 days
/// (their rule since iOS 13 / macOS 10.15), even one the user trusts.
const LEAF_DAYS: i64 = 800;
/// A server certificate this close to its end is replaced (at start and
/// twice a day by the running server).
pub const RENEW_BEFORE_DAYS: i64 = 30;
/// The household's own certificate authority lasts 20 years: phones trust
/// it once (the `.mobileconfig` from `roost client-profile` installs it),
/// and the server certificates it signs come and go without them noticing.
const AUTHORITY_DAYS: i64 = 20 * 365;
const ORGANIZATION: &str = "roost mail server";

/// The authority's files beside the server certificate: `ca.pem` (what
/// phones install as a trusted root) and `ca.key` (never leaves the data
/// directory).
pub fn authority_paths(cert: &Path) -> (PathBuf, PathBuf) {
    let dir = cert.parent().unwrap_or(Path::new("."));
    (dir.join("ca.pem"), dir.join("ca.key"))
}

/// Writes a certificate and key for `hostnames` unless both files exist
/// already: a server certificate signed by the household's own authority
/// (made here too, the first time). Why not one self-signed certificate,
/// as before: iOS and macOS offer "full trust" only to a certificate
/// authority (basicConstraints CA:true), and TLS clients (rustls, Firefox,
/// Apple's) refuse a CA certificate as the server's own; and Apple's
/// 825-day limit would otherwise mean asking every phone to trust a new
/// certificate every two years. Its subject is the first name (what a
/// phone shows when it asks whether to trust it); names that are IP
/// addresses become IP address entries. An authority already there is
/// reused, so a certificate made again for new names is still trusted by
/// the phones that trusted the old one.
pub fn ensure_self_signed(cert: &Path, key: &Path, hostnames: &[String]) -> Result<bool, String> {
    if cert.exists() && key.exists() {
        return Ok(false);
    }
    if let Some(dir) = cert.parent() {
        std::fs::create_dir_all(dir).map_err(|error| format!("cannot create {}: {error}", dir.display()))?;
    }
    issue(cert, key, hostnames, unix_now())?;
    Ok(true)
}

/// Replaces the server certificate when roost's own authority issued it
/// and it ends within [`RENEW_BEFORE_DAYS`] (of `now`, Unix seconds). A
/// certificate without `ca.pem`/`ca.key` beside it (made by roost before
/// it had an authority, or put there by hand) is left alone. Blocking
/// file I/O and key generation: call it off the executor.
pub fn renew_if_due(cert: &Path, key: &Path, hostnames: &[String], now: i64) -> Result<bool, String> {
    let (authority_cert, authority_key) = authority_paths(cert);
    if !authority_cert.exists() || !authority_key.exists() {
        return Ok(false);
    }
    let info = crate::status::x509::read_pem(cert)?;
    if info.not_after - now > RENEW_BEFORE_DAYS * SECONDS_PER_DAY {
        return Ok(false);
    }
    issue(cert, key, hostnames, now)?;
    Ok(true)
}

const SECONDS_PER_DAY: i64 = 86_400;

fn unix_now() -> i64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_secs() as i64)
}

/// Sets a certificate to last from midnight UTC the day before `now`'s
/// to midnight `days` days after it.
fn validity(params: &mut rcgen::CertificateParams, now: i64, days: i64) {
    let midnight = |offset: i64| {
        let (year, month, date) = crate::util::datetime::civil_from_days(now.div_euclid(SECONDS_PER_DAY) + offset);
        rcgen::date_time_ymd(year as i32, month as u8, date as u8)
    };
    params.not_before = midnight(-1);
    params.not_after = midnight(days);
}

fn serial() -> Result<rcgen::SerialNumber, String> {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 16];
    ring::rand::SystemRandom::new().fill(&mut bytes).map_err(|_| "no randomness for a serial number".to_string())?;
    // Positive (RFC 5280 §4.1.2.2), at most 20 bytes.
    bytes[0] &= 0x7f;
    Ok(rcgen::SerialNumber::from_slice(&bytes))
}

/// The file beside `ca.pem` listing the names the authority was made for,
/// one per line: what its name constraints permit besides the defaults.
fn authority_names_path(cert: &Path) -> PathBuf {
    authority_paths(cert).0.with_file_name("ca.names")
}

/// Home-network addresses any roost authority may vouch for: private,
/// shared (CGNAT, VPNs like Tailscale), loopback and link-local ranges.
fn private_ranges() -> Vec<(std::net::IpAddr, u8)> {
    [
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "fc00::/7",
        "fe80::/10",
        "::1/128",
    ]
    .iter()
    .map(|range| {
        let (address, bits) = range.split_once('/').expect("a prefix");
        (address.parse().expect("an address"), bits.parse().expect("a length"))
    })
    .collect()
}

fn in_range(address: std::net::IpAddr, (network, bits): (std::net::IpAddr, u8)) -> bool {
    match (address, network) {
        (std::net::IpAddr::V4(address), std::net::IpAddr::V4(network)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            u32::from(address) & mask == u32::from(network) & mask
        }
        (std::net::IpAddr::V6(address), std::net::IpAddr::V6(network)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            u128::from(address) & mask == u128::from(network) & mask
        }
        _ => false,
    }
}

/// Whether an authority made for `made_for` may vouch for `name`: a DNS
/// name equal to one of them, `localhost`, `local`, or below one of them
/// (RFC 5280 §4.2.1.10: a dNSName constraint covers its subdomains); an
/// address among them or in a home-network range.
pub fn authority_permits(made_for: &[String], name: &str) -> bool {
    if let Ok(address) = name.parse::<std::net::IpAddr>() {
        return private_ranges().into_iter().any(|range| in_range(address, range))
            || made_for.iter().any(|known| known.parse::<std::net::IpAddr>() == Ok(address));
    }
    let name = name.to_ascii_lowercase();
    made_for
        .iter()
        .map(String::as_str)
        .chain(["local", "localhost"])
        .filter(|known| known.parse::<std::net::IpAddr>().is_err())
        .any(|known| {
            let known = known.to_ascii_lowercase();
            name == known || name.ends_with(&format!(".{known}"))
        })
}

/// RFC 5280 §4.2.1.10 name constraints for the authority: it can vouch for
/// this machine's names, `.local` names and home-network addresses only.
/// Phones install it as a trusted root; if its key ever leaked (a stolen
/// SD card, a backup left around), it could not be used to impersonate a
/// bank or a mail provider to them.
fn name_constraints(made_for: &[String]) -> rcgen::NameConstraints {
    let mut permitted: Vec<rcgen::GeneralSubtree> = Vec::new();
    for name in made_for.iter().map(String::as_str).chain(["local", "localhost"]) {
        match name.parse::<std::net::IpAddr>() {
            Ok(address) if !private_ranges().into_iter().any(|range| in_range(address, range)) => {
                let bits = if address.is_ipv4() { 32 } else { 128 };
                permitted.push(rcgen::GeneralSubtree::IpAddress(rcgen::CidrSubnet::from_addr_prefix(address, bits)));
            }
            Ok(_) => {}
            Err(_) => permitted.push(rcgen::GeneralSubtree::DnsName(name.to_ascii_lowercase())),
        }
    }
    for (network, bits) in private_ranges() {
        permitted.push(rcgen::GeneralSubtree::IpAddress(rcgen::CidrSubnet::from_addr_prefix(network, bits)));
    }
    rcgen::NameConstraints { permitted_subtrees: permitted, excluded_subtrees: Vec::new() }
}

fn authority_params(common_name: &str, now: i64) -> Result<rcgen::CertificateParams, String> {
    let mut params = rcgen::CertificateParams::default();
    let mut subject = rcgen::DistinguishedName::new();
    subject.push(rcgen::DnType::CommonName, common_name);
    subject.push(rcgen::DnType::OrganizationName, ORGANIZATION);
    params.distinguished_name = subject;
    // It signs server certificates and nothing below them.
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Constrained(0));
    params.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign, rcgen::KeyUsagePurpose::CrlSign];
    validity(&mut params, now, AUTHORITY_DAYS);
    params.serial_number = Some(serial()?);
    Ok(params)
}

/// The authority's key and signing parameters, made and written the first
/// time. Its name says whose it is: "roost on HOST", as a phone's list of
/// trusted certificates shows it.
fn authority(
    cert: &Path,
    hostnames: &[String],
    now: i64,
) -> Result<(rcgen::KeyPair, rcgen::CertificateParams), String> {
    let (authority_cert, authority_key) = authority_paths(cert);
    // Written names, key, then certificate (below): a start killed in
    // between leaves no certificate, and the next makes the set anew. A
    // set missing its names file otherwise (by hand, or a power cut that
    // reordered the renames) is replaced too, the old kept as .old.
    let complete = authority_cert.exists() && authority_key.exists() && authority_names_path(cert).exists();
    if !complete && authority_cert.exists() {
        log::warn!(
            "the certificate authority {} is incomplete (its key or names file is missing): making a new one \
             (the old is kept as .old); phones that installed the old one need the new profile \
             (`roost client-profile`)",
            authority_cert.display()
        );
        keep_as_old(cert);
    }
    if complete {
        let pem = std::fs::read_to_string(&authority_key)
            .map_err(|error| format!("cannot read {}: {error}", authority_key.display()))?;
        let signing_key = rcgen::KeyPair::from_pem(&pem)
            .map_err(|error| format!("{} is not a usable key: {error}", authority_key.display()))?;
        let info = crate::status::x509::read_pem(&authority_cert)?;
        let common_name = info.common_name.ok_or_else(|| format!("{} has no common name", authority_cert.display()))?;
        let made_for: Vec<String> = std::fs::read_to_string(authority_names_path(cert))
            .map_err(|error| format!("cannot read {}: {error}", authority_names_path(cert).display()))?
            .lines()
            .map(str::to_string)
            .collect();
        let outside: Vec<&String> = hostnames.iter().filter(|name| !authority_permits(&made_for, name)).collect();
        if outside.is_empty() {
            // Only the subject name and the key identifier (from the key)
            // go into what it signs: the same name and key sign as before.
            return Ok((signing_key, authority_params(&common_name, now)?));
        }
        // A name its constraints leave out would make every client refuse
        // the whole certificate: a new authority, and phones trust it anew.
        log::warn!(
            "the certificate authority {} cannot vouch for {}: making a new one (the old is kept as .old); \
             phones that installed the old one need the new profile (`roost client-profile`)",
            authority_cert.display(),
            outside.iter().map(|name| name.as_str()).collect::<Vec<_>>().join(", ")
        );
        keep_as_old(cert);
    }
    let host = hostnames.iter().find(|name| name.parse::<std::net::IpAddr>().is_err()).map_or("home", String::as_str);
    let mut params = authority_params(&format!("roost on {host}"), now)?;
    params.name_constraints = Some(name_constraints(hostnames));
    let signing_key = rcgen::KeyPair::generate().map_err(|error| format!("cannot generate a key: {error}"))?;
    let made = params.self_signed(&signing_key).map_err(|error| format!("cannot make a certificate: {error}"))?;
    let mut names = hostnames.join("\n");
    names.push('\n');
    write_atomically(&authority_names_path(cert), names.as_bytes(), 0o644)?;
    write_atomically(&authority_key, signing_key.serialize_pem().as_bytes(), 0o600)?;
    write_atomically(&authority_cert, made.pem().as_bytes(), 0o644)?;
    log::info!("made the household's certificate authority {}", authority_cert.display());
    Ok((signing_key, params))
}

/// Renames the authority's files (certificate, key, names) to NAME.old.
fn keep_as_old(cert: &Path) {
    let (authority_cert, authority_key) = authority_paths(cert);
    for path in [authority_cert, authority_key, authority_names_path(cert)] {
        let mut old = path.clone().into_os_string();
        old.push(".old");
        let _ = std::fs::rename(&path, old);
    }
}

/// Issues a server certificate for `hostnames` and writes it (followed by
/// the authority's, the chain a client is sent) and its new key, each
/// through a temporary file and a rename: the running server reloads the
/// pair when it sees them change and keeps the old pair while they do not
/// match yet.
fn issue(cert: &Path, key: &Path, hostnames: &[String], now: i64) -> Result<(), String> {
    let (authority_key, authority) = authority(cert, hostnames, now)?;
    let mut params = rcgen::CertificateParams::new(hostnames.to_vec())
        .map_err(|error| format!("cannot generate a certificate: {error}"))?;
    let mut subject = rcgen::DistinguishedName::new();
    subject.push(rcgen::DnType::CommonName, hostnames.first().map_or("roost", String::as_str));
    subject.push(rcgen::DnType::OrganizationName, ORGANIZATION);
    params.distinguished_name = subject;
    params.is_ca = rcgen::IsCa::ExplicitNoCa;
    params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    validity(&mut params, now, LEAF_DAYS);
    params.serial_number = Some(serial()?);
    let signing_key = rcgen::KeyPair::generate().map_err(|error| format!("cannot generate a key: {error}"))?;
    let issuer = rcgen::Issuer::new(authority, &authority_key);
    let made =
        params.signed_by(&signing_key, &issuer).map_err(|error| format!("cannot make a certificate: {error}"))?;
    let (authority_cert, _) = authority_paths(cert);
    let chain = std::fs::read_to_string(&authority_cert)
        .map_err(|error| format!("cannot read {}: {error}", authority_cert.display()))?;
    write_atomically(key, signing_key.serialize_pem().as_bytes(), 0o600)?;
    write_atomically(cert, format!("{}{chain}", made.pem()).as_bytes(), 0o644)?;
    Ok(())
}

/// The SHA-256 fingerprint of the first certificate in `cert` (the
/// server's own), as phones and `openssl x509 -fingerprint -sha256` show
/// it: 32 hex pairs joined by colons.
pub fn fingerprint(cert: &Path) -> Result<String, String> {
    let first = CertificateDer::pem_file_iter(cert)
        .map_err(|error| format!("cannot read {}: {error}", cert.display()))?
        .next()
        .ok_or_else(|| format!("{} holds no certificate", cert.display()))?
        .map_err(|error| format!("{} is not a PEM certificate: {error}", cert.display()))?;
    let digest = ring::digest::digest(&ring::digest::SHA256, first.as_ref());
    Ok(digest.as_ref().iter().map(|byte| format!("{byte:02X}")).collect::<Vec<_>>().join(":"))
}

/// Writes `bytes` to a temporary file beside `path` with `mode`, syncs it
/// and renames it over `path`: a reader sees the old file or the new one.
fn write_atomically(path: &Path, bytes: &[u8], mode: u32) -> Result<(), String> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    // The process id in the name: `roost fingerprint` run while the
    // server renews writes its own temporary file, not the same one.
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(format!(".new-{}", std::process::id()));
    let temporary = PathBuf::from(temporary);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&temporary)
        .map_err(|error| format!("cannot write {}: {error}", temporary.display()))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|error| format!("cannot write {}: {error}", temporary.display()))?;
    std::fs::rename(&temporary, path).map_err(|error| format!("cannot write {}: {error}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::x509::read_pem;
    use rustls::client::danger::ServerCertVerifier;

    fn scratch(label: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("roost-tls-{label}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn names() -> Vec<String> {
        vec!["pi.example".into(), "pi.local".into(), "192.168.1.20".into()]
    }

    /// Verifies `cert`'s chain for `name` trusting only `authority`, at `now`.
    fn verify(cert: &Path, authority: &Path, name: &str, now: i64) -> Result<(), String> {
        let mut roots = rustls::RootCertStore::empty();
        for found in CertificateDer::pem_file_iter(authority).unwrap() {
            roots.add(found.unwrap()).unwrap();
        }
        let chain: Vec<CertificateDer<'static>> =
            CertificateDer::pem_file_iter(cert).unwrap().collect::<Result<_, _>>().unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier =
            rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider).build().unwrap();
        let name = rustls_pki_types::ServerName::try_from(name.to_string()).unwrap();
        let time = rustls_pki_types::UnixTime::since_unix_epoch(std::time::Duration::from_secs(now as u64));
        verifier
            .verify_server_cert(&chain[0], &chain[1..], &name, &[], time)
            .map(|_| ())
            .map_err(|error| error.to_string())
    }

    #[test]
    fn the_server_certificate_is_signed_by_the_households_authority() {
        let dir = scratch("issue");
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        assert!(ensure_self_signed(&cert, &key, &names()).unwrap());
        assert!(!ensure_self_signed(&cert, &key, &names()).unwrap(), "an existing pair is kept");
        let (authority, authority_key) = authority_paths(&cert);
        assert!(authority_key.exists());
        let now = unix_now();
        for name in ["pi.example", "pi.local", "192.168.1.20"] {
            verify(&cert, &authority, name, now).unwrap();
        }
        assert!(verify(&cert, &authority, "elsewhere.example", now).is_err());
        // A phone trusting the server certificate alone, or another
        // authority, is not enough: the chain must end at ours.
        let other = scratch("issue-other");
        ensure_self_signed(&other.join("cert.pem"), &other.join("key.pem"), &names()).unwrap();
        assert!(verify(&cert, &other.join("ca.pem"), "pi.local", now).is_err());

        let leaf = read_pem(&cert).unwrap();
        assert!(!leaf.self_issued);
        assert!(leaf.not_after - leaf.not_before <= 825 * SECONDS_PER_DAY, "Apple's limit");
        assert!(leaf.not_before <= now && now < leaf.not_after);
        let root = read_pem(&authority).unwrap();
        assert!(root.self_issued);
        assert_eq!(root.common_name.as_deref(), Some("roost on pi.example"));
        assert!(root.not_after - now > 19 * 365 * SECONDS_PER_DAY);
        // rustls refuses a CA certificate as the server's own; ours is not one.
        let pem = std::fs::read_to_string(&cert).unwrap();
        assert_eq!(pem.matches("BEGIN CERTIFICATE").count(), 2, "the chain: server certificate, then the authority");
        let _ = std::fs::remove_dir_all(&dir);
        let _ = std::fs::remove_dir_all(&other);
    }

    #[test]
    fn a_certificate_near_its_end_is_renewed_under_the_same_authority() {
        let dir = scratch("renew");
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        ensure_self_signed(&cert, &key, &names()).unwrap();
        let (authority, _) = authority_paths(&cert);
        let authority_before = std::fs::read(&authority).unwrap();
        let before = read_pem(&cert).unwrap();
        let key_before = std::fs::read(&key).unwrap();
        assert!(!renew_if_due(&cert, &key, &names(), unix_now()).unwrap(), "not due yet");
        assert_eq!(read_pem(&cert).unwrap(), before);

        // Twenty days before its end (as if the server had run that long).
        let later = before.not_after - 20 * SECONDS_PER_DAY;
        assert!(renew_if_due(&cert, &key, &names(), later).unwrap());
        let after = read_pem(&cert).unwrap();
        assert!(after.not_after > before.not_after);
        assert_ne!(std::fs::read(&key).unwrap(), key_before, "a new key");
        assert_eq!(std::fs::read(&authority).unwrap(), authority_before, "the authority phones trust stays");
        verify(&cert, &authority, "pi.local", later).unwrap();
        // The renewed pair loads.
        Certificates::load(&cert, &key).unwrap();

        // A pair without the authority beside it (made by roost before it
        // had one, or put there by hand) is never replaced.
        std::fs::remove_file(&authority).unwrap();
        assert!(!renew_if_due(&cert, &key, &names(), after.not_after).unwrap());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_new_certificate_for_new_names_keeps_the_authority_while_it_may_vouch_for_them() {
        let dir = scratch("names");
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        ensure_self_signed(&cert, &key, &names()).unwrap();
        let (authority, _) = authority_paths(&cert);
        let authority_before = std::fs::read(&authority).unwrap();
        // A new .local name and a new home address: the same authority.
        std::fs::remove_file(&cert).unwrap();
        let inside = vec!["kitchen.local".to_string(), "mail.pi.example".to_string(), "10.1.2.3".to_string()];
        ensure_self_signed(&cert, &key, &inside).unwrap();
        assert_eq!(std::fs::read(&authority).unwrap(), authority_before);
        for name in &inside {
            verify(&cert, &authority, name, unix_now()).unwrap();
        }
        // A name its constraints leave out: a new authority (the old kept).
        std::fs::remove_file(&cert).unwrap();
        let outside = vec!["mail.home.arpa".to_string(), "203.0.113.7".to_string()];
        ensure_self_signed(&cert, &key, &outside).unwrap();
        assert_ne!(std::fs::read(&authority).unwrap(), authority_before);
        assert_eq!(std::fs::read(dir.join("ca.pem.old")).unwrap(), authority_before);
        for name in &outside {
            verify(&cert, &authority, name, unix_now()).unwrap();
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn an_authority_left_incomplete_by_a_kill_is_made_anew() {
        let dir = scratch("incomplete");
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        ensure_self_signed(&cert, &key, &names()).unwrap();
        let (authority, _) = authority_paths(&cert);
        let before = std::fs::read(&authority).unwrap();
        // What a start killed mid-way through the old write order left.
        std::fs::remove_file(authority_names_path(&cert)).unwrap();
        std::fs::remove_file(&cert).unwrap();
        ensure_self_signed(&cert, &key, &names()).unwrap();
        assert_ne!(std::fs::read(&authority).unwrap(), before);
        assert_eq!(std::fs::read(dir.join("ca.pem.old")).unwrap(), before);
        verify(&cert, &authority, &names()[0], unix_now()).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_authority_cannot_vouch_for_anyone_else() {
        let dir = scratch("constraints");
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        ensure_self_signed(&cert, &key, &names()).unwrap();
        let now = unix_now();
        // Its key, stolen, signing a certificate for a bank: clients that
        // trust the authority still refuse it (RFC 5280 name constraints;
        // webpki, as rustls uses it, enforces them).
        let (authority_key, authority_signing) = authority(&cert, &names(), now).unwrap();
        let issuer = rcgen::Issuer::new(authority_signing, &authority_key);
        for forged_name in ["www.bank.example", "198.51.100.1"] {
            let params = rcgen::CertificateParams::new(vec![forged_name.to_string()]).unwrap();
            let forged_key = rcgen::KeyPair::generate().unwrap();
            let forged = params.signed_by(&forged_key, &issuer).unwrap();
            let forged_file = dir.join("forged.pem");
            std::fs::write(&forged_file, forged.pem()).unwrap();
            let refused = verify(&forged_file, &authority_paths(&cert).0, forged_name, now);
            assert!(refused.is_err(), "{forged_name} was accepted");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn what_an_authority_may_vouch_for() {
        let made_for = vec!["pi".to_string(), "pi.local".to_string(), "203.0.113.7".to_string()];
        for yes in [
            "pi",
            "PI",
            "mail.pi",
            "kitchen.local",
            "localhost",
            "192.168.1.20",
            "10.0.0.1",
            "fd00::2",
            "::1",
            "203.0.113.7",
            "100.101.1.2",
        ] {
            assert!(authority_permits(&made_for, yes), "{yes}");
        }
        for no in ["pie", "pi.example", "local.example", "8.8.8.8", "203.0.113.8", "2001:db8::1", "172.32.0.1"] {
            assert!(!authority_permits(&made_for, no), "{no}");
        }
    }
}
