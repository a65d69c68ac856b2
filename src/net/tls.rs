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

/// Writes a self-signed certificate and key for `hostnames` unless both
/// files exist already. Its subject is the first name (what a phone shows
/// when it asks whether to trust it); names that are IP addresses become
/// IP address entries.
pub fn ensure_self_signed(cert: &Path, key: &Path, hostnames: &[String]) -> Result<bool, String> {
    if cert.exists() && key.exists() {
        return Ok(false);
    }
    let mut params = rcgen::CertificateParams::new(hostnames.to_vec())
        .map_err(|error| format!("cannot generate a certificate: {error}"))?;
    let mut subject = rcgen::DistinguishedName::new();
    subject.push(rcgen::DnType::CommonName, hostnames.first().map_or("roost", String::as_str));
    subject.push(rcgen::DnType::OrganizationName, "roost mail server");
    params.distinguished_name = subject;
    let signing_key = rcgen::KeyPair::generate().map_err(|error| format!("cannot generate a key: {error}"))?;
    let generated =
        params.self_signed(&signing_key).map_err(|error| format!("cannot generate a certificate: {error}"))?;
    if let Some(dir) = cert.parent() {
        std::fs::create_dir_all(dir).map_err(|error| format!("cannot create {}: {error}", dir.display()))?;
    }
    write_private(key, signing_key.serialize_pem().as_bytes())?;
    std::fs::write(cert, generated.pem()).map_err(|error| format!("cannot write {}: {error}", cert.display()))?;
    Ok(true)
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

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), String> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(|error| format!("cannot write {}: {error}", path.display()))?;
    file.write_all(bytes).map_err(|error| format!("cannot write {}: {error}", path.display()))
}
