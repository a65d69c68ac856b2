//! `roost client-profile`: the Apple configuration profile and
//! Thunderbird's autoconfig file, checked as XML by a small parser below
//! (no python3 or plutil in `cargo test`), against the real binary and
//! the certificate the running server presents over TLS.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::*;

/// DER bytes as one PEM certificate.
fn pem_certificate(der: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut text = String::new();
    for chunk in der.chunks(3) {
        let bits =
            chunk.iter().enumerate().fold(0u32, |acc, (index, &byte)| acc | (u32::from(byte) << (16 - 8 * index)));
        for index in 0..4 {
            text.push(if index <= chunk.len() {
                ALPHABET[(bits >> (18 - 6 * index)) as usize & 63] as char
            } else {
                '='
            });
        }
    }
    let lines: Vec<&str> = text.as_bytes().chunks(64).map(|line| std::str::from_utf8(line).unwrap()).collect();
    format!("-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n", lines.join("\n"))
}

/// An XML element: name, attributes, children, and its text (entities decoded).
#[derive(Debug, Clone)]
struct Element {
    name: String,
    attributes: BTreeMap<String, String>,
    children: Vec<Element>,
    text: String,
}

impl Element {
    fn child(&self, name: &str) -> &Element {
        self.children.iter().find(|child| child.name == name).unwrap_or_else(|| panic!("no <{name}> in {self:?}"))
    }
}

/// A strict little XML reader: one root element after an optional
/// declaration and DOCTYPE; every tag closed in order; attribute values
/// quoted; only the five named entities and numeric references; no bare
/// `<` or `&` in text. Panics (the test fails) on anything else.
fn parse_xml(text: &str) -> Element {
    let mut rest = text.trim_start();
    if let Some(after) = rest.strip_prefix("<?xml") {
        rest = after[after.find("?>").expect("declaration ends") + 2..].trim_start();
    }
    if let Some(after) = rest.strip_prefix("<!DOCTYPE") {
        rest = after[after.find('>').expect("DOCTYPE ends") + 1..].trim_start();
    }
    let (root, after) = element(rest);
    assert!(after.trim().is_empty(), "text after the root element: {after:?}");
    root
}

fn decode(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find(['&', '<']) {
        out.push_str(&rest[..at]);
        assert!(rest[at..].starts_with('&'), "bare < in text {text:?}");
        let end = rest[at..].find(';').expect("entity ends with ;") + at;
        let entity = &rest[at + 1..end];
        let decoded = match entity {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            _ if entity.starts_with("#x") => char::from_u32(u32::from_str_radix(&entity[2..], 16).unwrap()).unwrap(),
            _ if entity.starts_with('#') => char::from_u32(entity[1..].parse().unwrap()).unwrap(),
            _ => panic!("unknown entity &{entity}; in {text:?}"),
        };
        out.push(decoded);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

fn element(text: &str) -> (Element, &str) {
    let text = text.strip_prefix('<').unwrap_or_else(|| panic!("expected a tag at {text:?}"));
    let end = text.find('>').expect("tag ends");
    let (inside, self_closing) = match text[..end].strip_suffix('/') {
        Some(inside) => (inside, true),
        None => (&text[..end], false),
    };
    let name_end = inside.find(char::is_whitespace).unwrap_or(inside.len());
    let name = inside[..name_end].to_string();
    assert!(!name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || "-_:.".contains(c)), "{name:?}");
    let mut attributes = BTreeMap::new();
    let mut rest = inside[name_end..].trim_start();
    while !rest.is_empty() {
        let equals = rest.find('=').expect("attribute has =");
        let key = rest[..equals].trim().to_string();
        let quoted = &rest[equals + 1..];
        assert!(quoted.starts_with('"'), "attribute {key} not quoted");
        let close = quoted[1..].find('"').expect("attribute value ends") + 1;
        attributes.insert(key, decode(&quoted[1..close]));
        rest = quoted[close + 1..].trim_start();
    }
    let mut node = Element { name, attributes, children: Vec::new(), text: String::new() };
    let mut rest = &text[end + 1..];
    if self_closing {
        return (node, rest);
    }
    loop {
        let next = rest.find('<').expect("element closes");
        node.text.push_str(&decode(&rest[..next]));
        rest = &rest[next..];
        if let Some(after) = rest.strip_prefix("</") {
            let close = after.find('>').expect("closing tag ends");
            assert_eq!(&after[..close], node.name, "tags closed out of order");
            return (node, &after[close + 1..]);
        }
        let (child, after) = element(rest);
        node.children.push(child);
        rest = after;
    }
}

/// A property list value.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    Dict(BTreeMap<String, Value>),
    Array(Vec<Value>),
    String(String),
    Integer(i64),
    Bool(bool),
    Data(Vec<u8>),
}

impl Value {
    fn get(&self, key: &str) -> &Value {
        match self {
            Value::Dict(map) => map.get(key).unwrap_or_else(|| panic!("no key {key} in {map:?}")),
            other => panic!("not a dict: {other:?}"),
        }
    }

    fn has(&self, key: &str) -> bool {
        matches!(self, Value::Dict(map) if map.contains_key(key))
    }

    fn string(&self, key: &str) -> &str {
        match self.get(key) {
            Value::String(text) => text,
            other => panic!("{key} is not a string: {other:?}"),
        }
    }

    fn integer(&self, key: &str) -> i64 {
        match self.get(key) {
            Value::Integer(value) => *value,
            other => panic!("{key} is not an integer: {other:?}"),
        }
    }

    fn items(&self, key: &str) -> &[Value] {
        match self.get(key) {
            Value::Array(items) => items,
            other => panic!("{key} is not an array: {other:?}"),
        }
    }
}

/// Apple's plist DTD: dict children alternate <key> and a value.
fn plist_value(element: &Element) -> Value {
    match element.name.as_str() {
        "dict" => {
            assert_eq!(element.children.len() % 2, 0, "a dict holds key/value pairs");
            let mut map = BTreeMap::new();
            for pair in element.children.chunks(2) {
                assert_eq!(pair[0].name, "key", "{pair:?}");
                let previous = map.insert(pair[0].text.clone(), plist_value(&pair[1]));
                assert!(previous.is_none(), "key {} twice", pair[0].text);
            }
            Value::Dict(map)
        }
        "array" => Value::Array(element.children.iter().map(plist_value).collect()),
        "string" => Value::String(element.text.clone()),
        "integer" => Value::Integer(element.text.trim().parse().expect("an integer")),
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        "data" => {
            let compact: String = element.text.chars().filter(|c| !c.is_whitespace()).collect();
            use base64::Engine;
            Value::Data(base64::engine::general_purpose::STANDARD.decode(compact).expect("base64 data"))
        }
        other => panic!("<{other}> is not a plist value"),
    }
}

fn read_plist(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap();
    let root = parse_xml(&text);
    assert_eq!(root.name, "plist");
    assert_eq!(root.attributes.get("version").map(String::as_str), Some("1.0"));
    assert_eq!(root.children.len(), 1);
    plist_value(&root.children[0])
}

fn profile_cli(server: &Server, out: &Path, user: &str, extra: &[&str]) -> (bool, String, String) {
    let config = server.config_arg();
    let port = server.imaps_port.to_string();
    let mut arguments = vec!["client-profile", user, "--config", &config, "--out", out.to_str().unwrap()];
    arguments.extend_from_slice(&["--host", "localhost", "--port", &port]);
    arguments.extend_from_slice(extra);
    run_cli(&arguments, None)
}

fn payload<'a>(profile: &'a Value, kind: &str) -> &'a Value {
    profile
        .items("PayloadContent")
        .iter()
        .find(|item| item.string("PayloadType") == kind)
        .unwrap_or_else(|| panic!("no {kind} payload"))
}

fn uuids(profile: &Value) -> Vec<String> {
    let mut all = vec![profile.string("PayloadUUID").to_string()];
    all.extend(profile.items("PayloadContent").iter().map(|item| item.string("PayloadUUID").to_string()));
    all
}

#[test]
fn the_profile_carries_the_account_and_the_certificate_the_server_presents() {
    let server = Server::start();
    let out = TempDir::new("profiles");
    let extra = [
        "--email",
        "alice@home.example",
        "--smtp-host",
        "smtp.provider.example",
        "--smtp-port",
        "465",
        "--smtp-user",
        "a<b>&\"c'd",
    ];
    let (ok, stdout, stderr) = profile_cli(&server, &out.0, "Alice", &extra);
    assert!(ok, "{stderr}");
    let profile = read_plist(&out.0.join("alice.mobileconfig"));
    assert_eq!(profile.string("PayloadType"), "Configuration");
    assert_eq!(profile.integer("PayloadVersion"), 1);
    let mail = payload(&profile, "com.apple.mail.managed");
    assert_eq!(mail.string("EmailAccountType"), "EmailTypeIMAP");
    assert_eq!(mail.string("EmailAddress"), "alice@home.example");
    assert_eq!(mail.string("IncomingMailServerHostName"), "localhost");
    assert_eq!(mail.integer("IncomingMailServerPortNumber"), i64::from(server.imaps_port));
    assert_eq!(mail.get("IncomingMailServerUseSSL"), &Value::Bool(true));
    assert_eq!(mail.string("IncomingMailServerUsername"), "alice");
    assert_eq!(mail.string("OutgoingMailServerHostName"), "smtp.provider.example");
    assert_eq!(mail.integer("OutgoingMailServerPortNumber"), 465);
    // Escaped on the way out, the same text on the way back in.
    assert_eq!(mail.string("OutgoingMailServerUsername"), "a<b>&\"c'd");
    // No password in the file: the device asks for it.
    assert!(!mail.has("IncomingPassword") && !mail.has("OutgoingPassword"), "{mail:?}");

    // The certificate payload holds the root of the very chain the server
    // presents: roost's own authority, a CA (what iOS can fully trust),
    // and trusting it alone verifies the server's certificate.
    let Value::Data(der) = payload(&profile, "com.apple.security.root").get("PayloadContent").clone() else {
        panic!("the certificate is not <data>");
    };
    let mut client = server.connect_tls();
    let presented: Vec<Vec<u8>> = match client.transport() {
        Transport::Tls(stream) => {
            stream.conn.peer_certificates().expect("a certificate").iter().map(|cert| cert.as_ref().to_vec()).collect()
        }
        _ => unreachable!(),
    };
    assert_eq!(presented.len(), 2, "the server's certificate, then the authority");
    assert_eq!(&der, presented.last().unwrap());
    assert_ne!(der, presented[0]);
    // Basic constraints (OID 2.5.29.19) with cA = BOOLEAN TRUE within the
    // next few bytes (an optional critical flag, the OCTET STRING, the SEQUENCE).
    assert!(der.windows(14).any(|window| window[..5] == [0x06, 0x03, 0x55, 0x1d, 0x13]
        && window[5..].windows(3).any(|boolean| boolean == [0x01, 0x01, 0xff])));
    let authority_file = server.data_dir().join("authority-from-profile.pem");
    std::fs::write(&authority_file, pem_certificate(&der)).unwrap();
    let stream = std::net::TcpStream::connect(("127.0.0.1", server.imaps_port)).unwrap();
    stream.set_read_timeout(Some(std::time::Duration::from_secs(30))).unwrap();
    let tls = rustls::StreamOwned::new(tls_client_trusting_for(&authority_file, "localhost"), stream);
    let mut trusting_only_the_profile = Client::new(Transport::Tls(Box::new(tls)));
    let greeting = trusting_only_the_profile.read_line();
    assert!(greeting.starts_with("* OK"), "{greeting}");
    drop(trusting_only_the_profile);
    // And the fingerprint printed for Android is that certificate's.
    let (ok, fingerprint, stderr) = run_cli(&["fingerprint", "--config", &server.config_arg()], None);
    assert!(ok, "{stderr}");
    let fingerprint = fingerprint.split_whitespace().next().unwrap();
    assert!(stdout.contains(fingerprint), "{stdout}");
    assert!(
        stdout.contains(&format!("server localhost, port {}, security SSL/TLS, user name alice", server.imaps_port))
    );

    let autoconfig = parse_xml(&std::fs::read_to_string(out.0.join("config-v1.1.xml")).unwrap());
    assert_eq!(autoconfig.name, "clientConfig");
    let provider = autoconfig.child("emailProvider");
    assert_eq!(provider.attributes["id"], "home.example");
    let incoming = provider.child("incomingServer");
    assert_eq!(incoming.attributes["type"], "imap");
    assert_eq!(incoming.child("hostname").text, "localhost");
    assert_eq!(incoming.child("port").text, server.imaps_port.to_string());
    assert_eq!(incoming.child("socketType").text, "SSL");
    assert_eq!(incoming.child("username").text, "%EMAILLOCALPART%");
    let outgoing = provider.child("outgoingServer");
    assert_eq!(outgoing.child("hostname").text, "smtp.provider.example");
    assert_eq!(outgoing.child("socketType").text, "SSL");
    assert_eq!(outgoing.child("username").text, "a<b>&\"c'd");
}

#[test]
fn identifiers_are_stable_across_runs_and_differ_between_users() {
    let mut server = Server::start();
    let (first, second, other) = (TempDir::new("one"), TempDir::new("two"), TempDir::new("bob"));
    let (ok, _, stderr) = profile_cli(&server, &first.0, "alice", &[]);
    assert!(ok, "{stderr}");
    // With the server stopped the command reads the users from the file.
    server.stop();
    let (ok, stdout, stderr) = profile_cli(&server, &second.0, "alice", &[]);
    assert!(ok, "{stderr}");
    // No outgoing server given: the files name this one, and say so.
    assert!(stdout.contains("no --smtp-host"), "{stdout}");
    let (ok, _, stderr) = profile_cli(&server, &other.0, "bob", &[]);
    assert!(ok, "{stderr}");
    let one = read_plist(&first.0.join("alice.mobileconfig"));
    let two = read_plist(&second.0.join("alice.mobileconfig"));
    let bob = read_plist(&other.0.join("bob.mobileconfig"));
    assert_eq!(uuids(&one), uuids(&two));
    assert_eq!(one.string("PayloadIdentifier"), two.string("PayloadIdentifier"));
    assert_eq!(one, two, "the same request makes the same profile");
    let mut all = uuids(&one);
    all.extend(uuids(&bob));
    let count = all.len();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), count, "every payload of every profile has its own UUID");
    assert_eq!(payload(&one, "com.apple.mail.managed").string("OutgoingMailServerHostName"), "localhost");
    assert!(!payload(&one, "com.apple.mail.managed").has("EmailAddress"));
}

#[test]
fn unknown_users_and_bad_values_are_refused() {
    let mut server = Server::start();
    let out = TempDir::new("refused");
    let (ok, _, stderr) = profile_cli(&server, &out.0, "carol", &[]);
    assert!(!ok);
    assert!(stderr.contains("there is no user carol"), "{stderr}");
    let (ok, _, stderr) = profile_cli(&server, &out.0, "alice", &["--email", "alice at home"]);
    assert!(!ok);
    assert!(stderr.contains("is not an email address"), "{stderr}");
    let (ok, _, stderr) = profile_cli(&server, &out.0, "alice", &["--smtp-host", "smtp <x>"]);
    assert!(!ok);
    assert!(stderr.contains("is not a host name"), "{stderr}");
    server.stop();
    let (ok, _, stderr) = profile_cli(&server, &out.0, "carol", &[]);
    assert!(!ok);
    assert!(stderr.contains("there is no user carol"), "{stderr}");
    assert!(std::fs::read_dir(&out.0).unwrap().next().is_none(), "nothing written for a refused request");
}

/// A user the data directory is closed to (not roost, not root) is told
/// so, not shown "no user": the server's control socket is in there.
#[test]
fn a_data_directory_closed_to_the_user_is_named() {
    let server = Server::start();
    let out = TempDir::new("closed");
    let config = server.config_arg();
    let arguments = ["client-profile", "alice", "--config", &config, "--out", out.0.to_str().unwrap()];
    let output = if rustix::process::getuid().is_root() {
        // Root opens everything: run the command as nobody, whom the
        // data directory (0700, root's) keeps out.
        let wrapper = ["--reuid=65534", "--regid=65534", "--clear-groups", "--", BINARY];
        std::process::Command::new("setpriv").args(wrapper).args(arguments).output().unwrap()
    } else {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(server.data_dir(), std::fs::Permissions::from_mode(0o000)).unwrap();
        let output = std::process::Command::new(BINARY).args(arguments).output().unwrap();
        std::fs::set_permissions(server.data_dir(), std::fs::Permissions::from_mode(0o700)).unwrap();
        output
    };
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    let expected =
        format!("permission denied on the control socket {}", server.data_dir().join("control.sock").display());
    assert!(stderr.contains(&expected), "{stderr}");
    assert!(!stderr.contains("there is no user"), "{stderr}");
}
