//! `roost client-profile NAME`: the files that set a phone or a laptop up
//! in one tap (issue 17, item 5).
//!
//! - `NAME.mobileconfig`: an Apple configuration profile (an XML property
//!   list) for iPhone, iPad and Mac. It carries two payloads: the mail
//!   account (`com.apple.mail.managed`: IMAP over TLS to this server, the
//!   user name, the address if known, no password — the device asks for
//!   it while installing) and, when roost made its own certificate, the
//!   authority that signed it (`ca.pem`, "roost on HOST") as a trusted
//!   root (`com.apple.security.root`, the DER bytes) so Mail accepts the
//!   server's certificate, and the ones that renew it later. iOS still wants full trust turned on by
//!   hand (Settings → General → About → Certificate Trust Settings); the
//!   README says so.
//! - `config-v1.1.xml`: Thunderbird's autoconfig file (the `clientConfig`
//!   format Thunderbird, Thunderbird for Android and FairEmail read), to
//!   import or to serve at `autoconfig.DOMAIN/mail/config-v1.1.xml`.
//!
//! Android has no profile format: the command prints the settings to type
//! and the certificate's fingerprint to compare.
//!
//! Decisions:
//! - roost does not send mail, but Apple's Mail payload requires an
//!   outgoing server (`OutgoingMailServerHostName`), and Thunderbird's
//!   autoconfig wants one too. `--smtp-host` (the provider's, or a Postfix
//!   relay) names it. Without it the files name this server on port 587,
//!   which works only if a Postfix relay runs there; the command says so
//!   in a warning, and the phone's outgoing server can be changed in its
//!   settings later.
//! - Identifiers are stable: every PayloadUUID is a UUID made from a
//!   SHA-256 of the host, the user and the payload's role, so installing a
//!   profile made again for the same user and server replaces the old one
//!   instead of adding a second account.
//! - The profile is not signed (signing needs a certificate Apple's
//!   devices trust, which a home server does not have): iOS shows it as
//!   "Unverified", which is expected.
//! - The certificate is the root of the chain the server serves: the
//!   authority beside the file `roost fingerprint` reads (made first if
//!   missing, as the server would). A
//!   certificate set in `[tls]` (Let's Encrypt and the like) is trusted
//!   already and is not put in the profile.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;

use crate::config::Config;

/// The submission port (RFC 6409) when `--smtp-port` is not given.
const SUBMISSION_PORT: u16 = 587;

/// What `roost client-profile` was asked for.
pub struct Request {
    pub user: String,
    pub out: PathBuf,
    /// The name phones connect to (default: see `default_host`).
    pub host: Option<String>,
    /// The IMAPS port phones connect to (default: the server's first
    /// `[imap] listen_tls` port).
    pub port: Option<u16>,
    /// The user's email address (default: the user name if it is one).
    pub email: Option<String>,
    pub smtp_host: Option<String>,
    pub smtp_port: Option<u16>,
    pub smtp_user: Option<String>,
}

/// Everything the two files say.
#[derive(Clone, Debug)]
pub struct Account {
    pub user: String,
    pub email: Option<String>,
    pub host: String,
    pub port: u16,
    pub smtp: Outgoing,
    /// The certificate (DER) to install as a trusted root: roost's own
    /// authority, which signs the server's certificate.
    pub certificate: Option<Vec<u8>>,
}

/// The outgoing (SMTP) server the files name.
#[derive(Clone, Debug)]
pub struct Outgoing {
    pub host: String,
    pub port: u16,
    /// None: the device asks (Apple) or uses the address (Thunderbird).
    pub user: Option<String>,
}

impl Outgoing {
    /// RFC 8314 §3.3: 465 is implicit TLS; other ports start in the clear
    /// and upgrade with STARTTLS (RFC 3207).
    fn implicit_tls(&self) -> bool {
        self.port == 465
    }
}

/// Writes both files for `request` and returns what to print: where they
/// are and how to get them onto each kind of device.
pub fn run(config: &Config, request: &Request, users: &[String]) -> Result<String, String> {
    let user = crate::auth::normalize_user_name(&request.user)?;
    if !users.contains(&user) {
        return Err(format!(
            "there is no user {user} (`roost user list` shows them; `roost user add {user}` adds one)"
        ));
    }
    let email = match &request.email {
        Some(email) => Some(check_email(email)?),
        None => user.contains('@').then(|| user.clone()),
    };
    let host = match &request.host {
        Some(host) => check_host(host)?,
        None => default_host(config)
            .ok_or("no name or address of this machine is known: give the one phones reach it by with --host")?,
    };
    let port = match request.port {
        Some(port) => port,
        None => config.imaps_listen.first().map(std::net::SocketAddr::port).ok_or(
            "the server has no implicit-TLS listener ([imap] listen_tls): phones need one; set it, or give --port",
        )?,
    };
    let mut notes = Vec::new();
    if request.port.is_none() && config.imaps_listen.iter().all(|address| address.ip().is_loopback()) {
        notes.push(format!(
            "the server listens for IMAPS on loopback only ({}): phones cannot reach it until [imap] listen_tls names \
             the LAN (e.g. [\"0.0.0.0:{port}\", \"[::]:{port}\"]; `roost setup` writes that)",
            list(&config.imaps_listen)
        ));
    }
    if !certificate_names(config).iter().any(|name| name.eq_ignore_ascii_case(&host)) && config.tls_cert.is_none() {
        notes.push(format!(
            "{host} is not among the names roost's certificate was made for ({}): devices will refuse it; add it to \
             [tls] hostnames or addresses, remove {}, restart roost and run this again",
            certificate_names(config).join(", "),
            config.data_dir.join("tls").display()
        ));
    }
    let smtp_host = if let Some(smtp) = &request.smtp_host {
        check_host(smtp)?
    } else {
        notes.push(format!(
            "no --smtp-host: the files name {host} port {SUBMISSION_PORT} as the outgoing server, but roost does not \
             send mail; unless a Postfix relay runs there, sending fails until you give your provider's SMTP server \
             (--smtp-host smtp.example.net) or change it in the phone's settings"
        ));
        host.clone()
    };
    let smtp = Outgoing {
        host: smtp_host,
        port: request.smtp_port.unwrap_or(SUBMISSION_PORT),
        user: request.smtp_user.clone().or_else(|| email.clone()),
    };
    let (cert_path, _) = crate::server::tls_paths(config)?;
    let fingerprint = crate::net::tls::fingerprint(&cert_path)?;
    let certificate = if config.tls_cert.is_none() {
        // roost's own authority when it has one (src/net/tls.rs): what iOS
        // can give full trust to, and what stays when the server
        // certificate is renewed. A pair from an older roost is one
        // self-signed certificate, not an authority: iOS lists it under
        // the profile but offers no full trust for it.
        let (authority, _) = crate::net::tls::authority_paths(&cert_path);
        if authority.exists() {
            Some(first_certificate(&authority)?)
        } else {
            notes.push(format!(
                "{} was made by an older roost: it is not a certificate authority, so iPhones and Macs cannot give                  it full trust; `roost setup --new-certificate` makes one they can (phones then ask once more)",
                cert_path.display()
            ));
            Some(first_certificate(&cert_path)?)
        }
    } else {
        notes.push(format!(
            "the certificate set in [tls] ({}) is not put in the profile: devices trust it when a public authority \
             signed it",
            cert_path.display()
        ));
        None
    };
    let account = Account { user: user.clone(), email, host, port, smtp, certificate };

    std::fs::create_dir_all(&request.out)
        .map_err(|error| format!("cannot create {}: {error}", request.out.display()))?;
    let profile = request.out.join(format!("{user}.mobileconfig"));
    write(&profile, &mobileconfig(&account))?;
    let thunderbird = request.out.join("config-v1.1.xml");
    write(&thunderbird, &autoconfig(&account))?;
    Ok(instructions(&account, &profile, &thunderbird, &fingerprint, &notes))
}

/// The name phones reach the server by, from the names in its
/// certificate: `NAME.local` first (mDNS: iPhones, Macs and most Linux
/// machines resolve it without a DNS server), then another name that is
/// not `localhost`, then the first LAN address.
pub fn default_host(config: &Config) -> Option<String> {
    let names = &config.tls_hostnames;
    names
        .iter()
        .find(|name| name.to_ascii_lowercase().ends_with(".local"))
        .or_else(|| names.iter().find(|name| *name != "localhost"))
        .cloned()
        .or_else(|| config.tls_addresses.iter().find(|address| !address.is_loopback()).map(ToString::to_string))
}

/// What roost's self-made certificate covers.
fn certificate_names(config: &Config) -> Vec<String> {
    let mut names = config.tls_hostnames.clone();
    names.extend(config.tls_addresses.iter().map(ToString::to_string));
    names
}

fn list(addresses: &[std::net::SocketAddr]) -> String {
    addresses.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}

/// A host name or IP address, as phones take it.
fn check_host(host: &str) -> Result<String, String> {
    let host = host.trim();
    let plain = host.bytes().all(|byte| byte.is_ascii_alphanumeric() || b".-:_".contains(&byte));
    if host.is_empty() || host.len() > 253 || !plain {
        return Err(format!("{host:?} is not a host name or address"));
    }
    Ok(host.to_string())
}

/// An address of the form local@domain (no spaces or brackets).
fn check_email(email: &str) -> Result<String, String> {
    let email = email.trim();
    let valid = email.len() <= 254
        && email.rsplit_once('@').is_some_and(|(local, domain)| !local.is_empty() && !domain.is_empty())
        && email.chars().all(|c| !c.is_whitespace() && !c.is_control() && !"<>\"(),;[]\\".contains(c));
    if !valid {
        return Err(format!("{email:?} is not an email address (name@example.org)"));
    }
    Ok(email.to_string())
}

/// The subject's common name of a DER certificate (what iOS lists it by).
fn certificate_common_name(der: &[u8]) -> Option<String> {
    crate::status::x509::parse(der).ok()?.common_name
}

/// The first certificate in a PEM file.
fn first_certificate(path: &Path) -> Result<Vec<u8>, String> {
    let first = CertificateDer::pem_file_iter(path)
        .map_err(|error| format!("cannot read {}: {error}", path.display()))?
        .next()
        .ok_or_else(|| format!("{} holds no certificate", path.display()))?
        .map_err(|error| format!("{} is not a PEM certificate: {error}", path.display()))?;
    Ok(first.as_ref().to_vec())
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|error| format!("cannot write {}: {error}", path.display()))
}

/// A stable UUID for `role` in the profile of `user` on `host`: the first
/// 16 bytes of a SHA-256, marked as an RFC 9562 version 8 (custom) UUID.
pub fn stable_uuid(host: &str, user: &str, role: &str) -> String {
    let mut context = ring::digest::Context::new(&ring::digest::SHA256);
    for part in ["roost client profile", &host.to_ascii_lowercase(), user, role] {
        context.update(part.as_bytes());
        context.update(b"\0");
    }
    let digest = context.finish();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest.as_ref()[..16]);
    // RFC 9562 §5.8: version 8 in the high nibble of byte 6, variant 10 in
    // the two high bits of byte 8.
    bytes[6] = (bytes[6] & 0x0f) | 0x80;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex = bytes.iter().fold(String::with_capacity(32), |mut hex, byte| {
        let _ = write!(hex, "{byte:02X}");
        hex
    });
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}

/// Text for XML character data and attribute values (XML 1.0 §2.4: `<`
/// and `&` must be escaped; `>` and quotes too, so one function serves
/// both places). Control characters XML cannot carry at all are dropped.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 §2.2: only tab, LF and CR below U+0020.
            c if c < ' ' && !matches!(c, '\t' | '\n' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

/// A property list written as text, one key and value per call.
struct Plist {
    text: String,
    depth: usize,
}

impl Plist {
    fn line(&mut self, line: &str) {
        for _ in 0..self.depth {
            self.text.push('\t');
        }
        self.text.push_str(line);
        self.text.push('\n');
    }

    fn string(&mut self, key: &str, value: &str) {
        self.line(&format!("<key>{}</key>", escape(key)));
        self.line(&format!("<string>{}</string>", escape(value)));
    }

    fn integer(&mut self, key: &str, value: u64) {
        self.line(&format!("<key>{}</key>", escape(key)));
        self.line(&format!("<integer>{value}</integer>"));
    }

    fn boolean(&mut self, key: &str, value: bool) {
        self.line(&format!("<key>{}</key>", escape(key)));
        self.line(if value { "<true/>" } else { "<false/>" });
    }

    /// `<data>`: base64 in lines of 52 characters, as Apple's tools write it.
    fn data(&mut self, key: &str, bytes: &[u8]) {
        self.line(&format!("<key>{}</key>", escape(key)));
        self.line("<data>");
        let encoded = crate::util::base64::encode(bytes);
        for chunk in encoded.as_bytes().chunks(52) {
            self.line(&String::from_utf8_lossy(chunk));
        }
        self.line("</data>");
    }

    fn open(&mut self, tag: &str) {
        self.line(&format!("<{tag}>"));
        self.depth += 1;
    }

    fn close(&mut self, tag: &str) {
        self.depth -= 1;
        self.line(&format!("</{tag}>"));
    }

    /// The keys every payload carries.
    fn payload(&mut self, kind: &str, identifier: &str, uuid: &str, name: &str) {
        self.string("PayloadType", kind);
        self.integer("PayloadVersion", 1);
        self.string("PayloadIdentifier", identifier);
        self.string("PayloadUUID", uuid);
        self.string("PayloadDisplayName", name);
    }
}

/// The Apple configuration profile (unsigned XML property list).
pub fn mobileconfig(account: &Account) -> String {
    let (host, user) = (account.host.as_str(), account.user.as_str());
    let profile_uuid = stable_uuid(host, user, "profile");
    // Reverse-DNS style, as Apple asks; the UUID keeps users and servers apart.
    let identifier = format!("roost.profile.{}", profile_uuid.to_ascii_lowercase());
    let mut plist = Plist {
        text: String::from(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \
             \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n<plist version=\"1.0\">\n",
        ),
        depth: 0,
    };
    plist.open("dict");
    plist.line("<key>PayloadContent</key>");
    plist.open("array");

    plist.open("dict");
    let description = format!("Mail on {host}");
    plist.payload(
        "com.apple.mail.managed",
        &format!("{identifier}.mail"),
        &stable_uuid(host, user, "mail"),
        &format!("{description} ({user})"),
    );
    plist.string("EmailAccountDescription", &description);
    plist.string("EmailAccountType", "EmailTypeIMAP");
    // Absent, the device asks for it while installing the profile.
    if let Some(email) = &account.email {
        plist.string("EmailAddress", email);
    }
    plist.string("IncomingMailServerAuthentication", "EmailAuthPassword");
    plist.string("IncomingMailServerHostName", host);
    plist.integer("IncomingMailServerPortNumber", u64::from(account.port));
    plist.boolean("IncomingMailServerUseSSL", true);
    plist.string("IncomingMailServerUsername", user);
    plist.string("OutgoingMailServerAuthentication", "EmailAuthPassword");
    plist.string("OutgoingMailServerHostName", &account.smtp.host);
    plist.integer("OutgoingMailServerPortNumber", u64::from(account.smtp.port));
    // On a port other than 465 the device upgrades with STARTTLS.
    plist.boolean("OutgoingMailServerUseSSL", true);
    if let Some(smtp_user) = &account.smtp.user {
        plist.string("OutgoingMailServerUsername", smtp_user);
    }
    plist.boolean("OutgoingPasswordSameAsIncomingPassword", false);
    plist.close("dict");

    if let Some(certificate) = &account.certificate {
        plist.open("dict");
        plist.payload(
            "com.apple.security.root",
            &format!("{identifier}.certificate"),
            &stable_uuid(host, user, "certificate"),
            &format!("roost certificate for {host}"),
        );
        plist.string("PayloadCertificateFileName", &format!("{host}.cer"));
        plist.data("PayloadContent", certificate);
        plist.close("dict");
    }
    plist.close("array");

    plist.string(
        "PayloadDescription",
        &format!("The mail account of {user} on the home server {host} (roost), and the server's certificate."),
    );
    plist.string("PayloadDisplayName", &format!("Mail: {user} on {host}"));
    plist.string("PayloadIdentifier", &identifier);
    plist.string("PayloadOrganization", "roost");
    plist.boolean("PayloadRemovalDisallowed", false);
    plist.string("PayloadType", "Configuration");
    plist.string("PayloadUUID", &profile_uuid);
    plist.integer("PayloadVersion", 1);
    plist.close("dict");
    plist.text.push_str("</plist>\n");
    plist.text
}

/// Thunderbird's autoconfig (`clientConfig` version 1.1). The user name
/// is written as Thunderbird's placeholder when it is the address or its
/// local part, so one file served for a domain fits the whole family.
pub fn autoconfig(account: &Account) -> String {
    let (local, domain) = match account.email.as_deref().and_then(|email| email.rsplit_once('@')) {
        Some((local, domain)) => (Some(local), domain.to_string()),
        None => (None, account.host.clone()),
    };
    let username = if account.email.as_deref() == Some(account.user.as_str()) {
        "%EMAILADDRESS%".to_string()
    } else if local == Some(account.user.as_str()) {
        "%EMAILLOCALPART%".to_string()
    } else {
        escape(&account.user)
    };
    let smtp_user = match &account.smtp.user {
        Some(user) if account.email.as_deref() == Some(user.as_str()) => "%EMAILADDRESS%".to_string(),
        Some(user) => escape(user),
        None => "%EMAILADDRESS%".to_string(),
    };
    let smtp_socket = if account.smtp.implicit_tls() { "SSL" } else { "STARTTLS" };
    let mut text = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<clientConfig version=\"1.1\">\n");
    let domain = escape(&domain);
    let host = escape(&account.host);
    let _ = write!(
        text,
        "  <emailProvider id=\"{domain}\">\n    <domain>{domain}</domain>\n    <displayName>Mail on {host} (roost)</displayName>\n    \
         <displayShortName>{host}</displayShortName>\n    <incomingServer type=\"imap\">\n      <hostname>{host}</hostname>\n      \
         <port>{}</port>\n      <socketType>SSL</socketType>\n      <authentication>password-cleartext</authentication>\n      \
         <username>{username}</username>\n    </incomingServer>\n    <outgoingServer type=\"smtp\">\n      \
         <hostname>{}</hostname>\n      <port>{}</port>\n      <socketType>{smtp_socket}</socketType>\n      \
         <authentication>password-cleartext</authentication>\n      <username>{smtp_user}</username>\n    </outgoingServer>\n  \
         </emailProvider>\n</clientConfig>\n",
        account.port,
        escape(&account.smtp.host),
        account.smtp.port,
    );
    text
}

/// What the command prints: the files, and what to do with them.
fn instructions(account: &Account, profile: &Path, thunderbird: &Path, fingerprint: &str, notes: &[String]) -> String {
    let (host, port, user) = (&account.host, account.port, &account.user);
    let file = profile.file_name().map_or_else(String::new, |name| name.to_string_lossy().into_owned());
    let smtp = &account.smtp;
    let smtp_security = if smtp.implicit_tls() { "SSL/TLS" } else { "STARTTLS" };
    let smtp_user = smtp.user.as_deref().unwrap_or("(your provider's login)");
    let mut text = String::new();
    let _ = writeln!(text, "wrote {} (iPhone, iPad, Mac)", profile.display());
    let _ = writeln!(text, "wrote {} (Thunderbird)", thunderbird.display());
    let _ = writeln!(text);
    let _ = writeln!(
        text,
        "iPhone, iPad: send {file} to the device (AirDrop, or as a mail attachment opened in Apple Mail, or a web \
         page opened in Safari), then Settings → General → VPN & Device Management → {file} → Install. It is not \
         signed, so iOS calls it \"Unverified\": that is expected. It asks for {user}'s password (or a device \
         password: `roost user device add {user} \"iPhone\"`)."
    );
    if account.certificate.is_some() {
        let _ = writeln!(
            text,
            "Then turn on trust for it: Settings → General → About → Certificate Trust Settings → the switch beside \
             \"{}\".",
            certificate_common_name(account.certificate.as_deref().unwrap_or_default()).unwrap_or_else(|| host.clone())
        );
    }
    let _ = writeln!(text, "Mac: double-click {file}, then System Settings → Privacy & Security → Profiles → Install.");
    let _ = writeln!(
        text,
        "Thunderbird: serve config-v1.1.xml at http://autoconfig.DOMAIN/mail/config-v1.1.xml, or type the settings \
         below (Thunderbird's \"Configure manually\")."
    );
    let _ = writeln!(text);
    let _ = writeln!(text, "Android (K-9 Mail, Thunderbird for Android, FairEmail) and anything else, by hand:");
    let _ = writeln!(text, "  incoming: IMAP, server {host}, port {port}, security SSL/TLS, user name {user}");
    let _ = writeln!(
        text,
        "  outgoing: SMTP, server {}, port {}, security {smtp_security}, user name {smtp_user}",
        smtp.host, smtp.port
    );
    let _ = writeln!(text, "  the app shows the server's certificate: accept it only if its SHA-256 fingerprint is");
    let _ = write!(text, "    {fingerprint}");
    for note in notes {
        let _ = write!(text, "\n\nwarning: {note}");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account() -> Account {
        Account {
            user: "alice".into(),
            email: Some("alice@home.example".into()),
            host: "pi.local".into(),
            port: 993,
            smtp: Outgoing { host: "smtp.provider.example".into(), port: 465, user: Some("alice@home.example".into()) },
            certificate: Some(vec![0x30, 0x82, 1, 2, 3]),
        }
    }

    #[test]
    fn uuids_are_stable_well_formed_and_distinct() {
        let one = stable_uuid("pi.local", "alice", "mail");
        assert_eq!(one, stable_uuid("PI.local", "alice", "mail"));
        assert_ne!(one, stable_uuid("pi.local", "bob", "mail"));
        assert_ne!(one, stable_uuid("pi.local", "alice", "certificate"));
        assert_ne!(one, stable_uuid("pi", "alice", "mail"));
        let groups: Vec<&str> = one.split('-').collect();
        assert_eq!(groups.iter().map(|group| group.len()).collect::<Vec<_>>(), [8, 4, 4, 4, 12]);
        assert!(groups[2].starts_with('8'), "{one}");
        assert!(matches!(groups[3].as_bytes()[0], b'8' | b'9' | b'A' | b'B'), "{one}");
    }

    #[test]
    fn escaping_covers_markup_and_drops_what_xml_cannot_hold() {
        assert_eq!(escape("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&apos;");
        assert_eq!(escape("x\u{1}y\tz"), "xy\tz");
    }

    #[test]
    fn autoconfig_uses_placeholders_only_where_they_fit() {
        let text = autoconfig(&account());
        assert!(text.contains("<username>%EMAILLOCALPART%</username>"), "{text}");
        assert!(text.contains("<socketType>SSL</socketType>\n      <authentication>password-cleartext</authentication>\n      <username>%EMAILADDRESS%"), "{text}");
        let mut other = account();
        other.user = "mum".into();
        other.smtp.port = 587;
        other.smtp.user = Some("mum+family@provider.example".into());
        let text = autoconfig(&other);
        assert!(text.contains("<username>mum</username>"), "{text}");
        assert!(text.contains("<socketType>STARTTLS</socketType>"), "{text}");
        assert!(text.contains("<username>mum+family@provider.example</username>"), "{text}");
        other.email = None;
        assert!(autoconfig(&other).contains("<emailProvider id=\"pi.local\">"));
    }

    #[test]
    fn the_profile_names_both_servers_and_carries_the_certificate() {
        let text = mobileconfig(&account());
        for expected in [
            "<string>com.apple.mail.managed</string>",
            "<string>com.apple.security.root</string>",
            "<key>IncomingMailServerHostName</key>\n\t\t\t<string>pi.local</string>",
            "<key>OutgoingMailServerHostName</key>\n\t\t\t<string>smtp.provider.example</string>",
            "<key>EmailAddress</key>\n\t\t\t<string>alice@home.example</string>",
            "<data>\n\t\t\tMIIBAgM=\n\t\t\t</data>",
        ] {
            assert!(text.contains(expected), "{expected:?} missing from\n{text}");
        }
        let mut bare = account();
        bare.email = None;
        bare.certificate = None;
        let text = mobileconfig(&bare);
        assert!(!text.contains("EmailAddress") && !text.contains("com.apple.security.root"), "{text}");
    }

    #[test]
    fn hosts_and_addresses_are_checked() {
        assert_eq!(check_host(" pi.local ").unwrap(), "pi.local");
        assert!(check_host("fe80::1").is_ok());
        assert!(check_host("a b").is_err());
        assert!(check_host("<x>").is_err());
        assert!(check_email("alice@home.example").is_ok());
        assert!(check_email("alice").is_err());
        assert!(check_email("a <b@c>").is_err());
        assert!(check_email("@c").is_err());
    }
}
