//! `roost setup`, run as a script would (`--yes`, a fake board model
//! file, ports 0 so the test needs no privileges): the board it picks, the
//! configuration it writes being one `roost serve` starts with, the first
//! user logging in over TLS, the certificate covering the machine's names
//! and addresses (checked by rustls's own name verification) and matching
//! the fingerprint printed for the phones, a second run changing nothing,
//! and ownership given to the service user when run as root.

mod common;

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

const MODEL_ZERO_W: &[u8] = b"Raspberry Pi Zero W Rev 1.1\0";

/// A directory with a model file, a password file, and where setup writes.
struct Place {
    dir: TempDir,
}

impl Place {
    fn new(model: &[u8]) -> Place {
        let dir = TempDir::new("setup");
        std::fs::write(dir.0.join("model"), model).unwrap();
        std::fs::write(dir.0.join("password"), "correct horse battery\n").unwrap();
        Place { dir }
    }

    fn config(&self) -> PathBuf {
        self.dir.0.join("etc").join("roost.toml")
    }

    fn data(&self) -> PathBuf {
        // Where the harness's Server looks (`data_dir()`: DIR/data).
        self.dir.0.join("data")
    }

    /// `roost setup --yes ...` with `extra` arguments: (success, stdout, stderr).
    fn setup(&self, extra: &[&str]) -> (bool, String, String) {
        let config = self.config().display().to_string();
        let data = self.data().display().to_string();
        let model = self.dir.0.join("model").display().to_string();
        let mut arguments = vec![
            "setup",
            "--yes",
            "--config",
            &config,
            "--data",
            &data,
            "--model-file",
            &model,
            "--imap-port",
            "0",
            "--imaps-port",
            "0",
        ];
        arguments.extend_from_slice(extra);
        run_cli(&arguments, None)
    }

    /// `roost serve` on the configuration setup wrote.
    fn serve(self) -> Server {
        let config = self.config();
        let mut server = Server {
            dir: self.dir,
            config,
            child: None,
            imap_port: 0,
            imaps_port: 0,
            lmtp_port: None,
            log: Default::default(),
        };
        server.spawn();
        server
    }
}

/// A TLS handshake with the server's port 993 (here: its ephemeral port)
/// that trusts only the server's own certificate and checks it for
/// `name`, as a phone that was told to trust it does; the SHA-256 of the
/// certificate the server presented.
fn handshake_as(server: &Server, name: &str) -> Result<String, String> {
    let mut connection = server.tls_client_for(name);
    let mut stream = TcpStream::connect(("127.0.0.1", server.imaps_port)).unwrap();
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    while connection.is_handshaking() {
        connection.complete_io(&mut stream).map_err(|error| error.to_string())?;
    }
    let presented = connection.peer_certificates().unwrap()[0].clone();
    let digest = ring::digest::digest(&ring::digest::SHA256, presented.as_ref());
    Ok(digest.as_ref().iter().map(|byte| format!("{byte:02X}")).collect::<Vec<_>>().join(":"))
}

/// The fingerprint line setup printed for the phones (32 hex pairs).
fn printed_fingerprint(stdout: &str) -> String {
    stdout
        .lines()
        .map(str::trim)
        .find(|line| line.len() == 95 && line.split(':').all(|pair| pair.len() == 2))
        .unwrap_or_else(|| panic!("no fingerprint in:\n{stdout}"))
        .to_string()
}

fn mtime(path: &Path) -> std::time::SystemTime {
    std::fs::metadata(path).unwrap().modified().unwrap()
}

#[test]
fn a_pi_zero_is_set_up_and_its_first_user_logs_in_over_tls() {
    let place = Place::new(MODEL_ZERO_W);
    let password = place.dir.0.join("password").display().to_string();
    let dropin = place.dir.0.join("roost.service.d");
    let dropin_arg = dropin.display().to_string();
    let (ok, stdout, stderr) = place.setup(&[
        "--hostname",
        "testpi",
        "--user",
        "Alice",
        "--password-file",
        &password,
        "--systemd-dropin",
        &dropin_arg,
    ]);
    assert!(ok, "setup failed: {stderr}\n{stdout}");
    assert!(stdout.contains("board: rpi-zero (detected \"Raspberry Pi Zero W Rev 1.1\")"), "{stdout}");
    // The board's memory cap, for systemd.
    let memory = std::fs::read_to_string(dropin.join("memory.conf")).unwrap();
    assert!(memory.contains("[Service]\nMemoryMax=128M\n"), "{memory}");
    let text = std::fs::read_to_string(place.config()).unwrap();
    assert!(text.contains("board = \"rpi-zero\""), "{text}");
    assert!(text.contains("hostnames = [\"testpi\", \"testpi.local\", \"localhost\"]"), "{text}");
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(place.config()).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640, "the configuration is not for everyone's eyes");
    }
    assert!(stdout.contains("Incoming mail server (IMAP): testpi.local"), "{stdout}");
    assert!(stdout.contains("User name:                   alice"), "{stdout}");
    let fingerprint = printed_fingerprint(&stdout);
    let addresses: Vec<String> = stdout
        .lines()
        .filter_map(|line| line.trim().strip_prefix("or by address:"))
        .map(|address| address.trim().to_string())
        .collect();

    let server = place.serve();
    // The first user logs in over TLS with the password given.
    let mut client = server.connect_tls();
    client.ok("LOGIN alice \"correct horse battery\"");
    client.ok("SELECT INBOX");
    client.ok("LOGOUT");
    // The certificate the server presents is the one whose fingerprint
    // the phones were told, and it is valid for every name they may use.
    for name in ["testpi.local", "testpi", "localhost"].iter().map(|name| name.to_string()).chain(addresses) {
        assert_eq!(handshake_as(&server, &name), Ok(fingerprint.clone()), "as {name}");
    }
    let refused = handshake_as(&server, "elsewhere.local");
    assert!(refused.as_ref().is_err_and(|error| error.contains("not valid for name")), "{refused:?}");
}

#[test]
fn a_second_run_changes_nothing_and_force_replaces_the_file() {
    let place = Place::new(b"Raspberry Pi 4 Model B Rev 1.4\0");
    let password = place.dir.0.join("password").display().to_string();
    let first = ["--hostname", "testpi", "--user", "alice", "--password-file", &password];
    let (ok, stdout, stderr) = place.setup(&first);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("board: rpi4"), "{stdout}");
    let cert = place.data().join("tls").join("cert.pem");
    let (config_before, cert_before) = (std::fs::read(place.config()).unwrap(), std::fs::read(&cert).unwrap());
    let times = (mtime(&place.config()), mtime(&cert));
    let fingerprint = printed_fingerprint(&stdout);

    let (ok, stdout, stderr) = place.setup(&first);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("is already this (unchanged)"), "{stdout}");
    assert!(stdout.contains("certificate: kept"), "{stdout}");
    assert!(stdout.contains("user: alice exists (kept"), "{stdout}");
    assert_eq!(std::fs::read(place.config()).unwrap(), config_before);
    assert_eq!(std::fs::read(&cert).unwrap(), cert_before);
    assert_eq!((mtime(&place.config()), mtime(&cert)), times, "nothing was rewritten");
    assert_eq!(printed_fingerprint(&stdout), fingerprint);

    // Another name without --force: the file is kept, the change shown.
    let (ok, stdout, _) = place.setup(&["--hostname", "newname"]);
    assert!(ok);
    assert!(stdout.contains("exists and is kept; setup would change:"), "{stdout}");
    assert!(stdout.contains("+ hostnames = [\"newname\", \"newname.local\", \"localhost\"]"), "{stdout}");
    assert_eq!(std::fs::read(place.config()).unwrap(), config_before);
    assert_eq!(std::fs::read(&cert).unwrap(), cert_before);

    // With --force: the file is replaced (the old one kept), and the
    // certificate, which does not cover the new name, is made again.
    let (ok, stdout, stderr) = place.setup(&["--hostname", "newname", "--force"]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("configuration: replaced"), "{stdout}");
    assert!(stdout.contains("the old one did not cover newname"), "{stdout}");
    let mut old = place.config().into_os_string();
    old.push(".old");
    assert_eq!(std::fs::read(&old).unwrap(), config_before);
    assert_ne!(std::fs::read(&cert).unwrap(), cert_before);
    assert_ne!(printed_fingerprint(&stdout), fingerprint);
    assert!(place.data().join("tls").join("cert.pem.old").exists());
    // The replaced file still starts a server, and alice is still there.
    let server = place.serve();
    let mut client = server.connect_tls();
    client.ok("LOGIN alice \"correct horse battery\"");
    assert_eq!(handshake_as(&server, "newname.local").map(|_| ()), Ok(()));
}

/// The packages install systemd/roost.toml (board rpi4 for every Pi) as
/// /etc/roost/roost.toml: setup replaces it while unedited, keeps it once
/// edited.
#[test]
fn the_packaged_example_is_replaced_but_an_edited_one_kept() {
    let shipped = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/systemd/roost.toml")).unwrap();
    let place = Place::new(MODEL_ZERO_W);
    std::fs::create_dir_all(place.config().parent().unwrap()).unwrap();
    std::fs::write(place.config(), &shipped).unwrap();
    let (ok, stdout, stderr) = place.setup(&["--hostname", "pi"]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("configuration: replaced"), "{stdout}");
    assert!(std::fs::read_to_string(place.config()).unwrap().contains("board = \"rpi-zero\""));

    let edited = Place::new(MODEL_ZERO_W);
    std::fs::create_dir_all(edited.config().parent().unwrap()).unwrap();
    // Edited, and pointed at the test's own data directory: the shipped
    // /var/lib/roost is the real service's (setup makes the certificate
    // in the data directory the kept file names).
    let data = format!("data_dir = \"{}\"", edited.data().display());
    let text = shipped
        .replace("log_level = \"info\"", "log_level = \"debug\"")
        .replace("data_dir = \"/var/lib/roost\"", &data);
    assert_ne!(text, shipped);
    assert!(text.contains(&data), "the shipped file names no data_dir = \"/var/lib/roost\"");
    std::fs::write(edited.config(), &text).unwrap();
    let (ok, stdout, stderr) = edited.setup(&["--hostname", "pi"]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("- board = \"rpi4\"") && stdout.contains("+ board = \"rpi-zero\""), "{stdout}");
    assert_eq!(std::fs::read_to_string(edited.config()).unwrap(), text);
}

#[test]
fn unknown_boards_get_the_generic_profile_and_say_so() {
    let place = Place::new(b"Pine64 RockPro64 v2.1\0");
    let (ok, stdout, stderr) = place.setup(&["--hostname", "box"]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("board: generic (\"Pine64 RockPro64 v2.1\" is no board roost knows"), "{stdout}");
    assert!(stdout.contains("user: none added"), "{stdout}");
    assert!(std::fs::read_to_string(place.config()).unwrap().contains("board = \"generic\""));

    // No model file at all (a PC): generic too.
    std::fs::remove_file(place.dir.0.join("model")).unwrap();
    let (ok, stdout, _) = place.setup(&["--hostname", "box"]);
    assert!(ok);
    assert!(stdout.contains("board: generic (no board model found"), "{stdout}");
}

#[test]
fn bad_answers_are_refused_with_a_reason() {
    let place = Place::new(MODEL_ZERO_W);
    let (ok, _, stderr) = place.setup(&["--board", "rpi9"]);
    assert!(!ok);
    assert!(stderr.contains("unknown board \"rpi9\""), "{stderr}");
    let (ok, _, stderr) = place.setup(&["--hostname", "bad name!"]);
    assert!(!ok);
    assert!(stderr.contains("cannot name this machine"), "{stderr}");
    // A user but no way to give the password, and no terminal to ask at.
    let (ok, _, stderr) = place.setup(&["--hostname", "pi", "--user", "alice"]);
    assert!(!ok);
    assert!(stderr.contains("--password-file FILE or --password-stdin"), "{stderr}");
    // --password-stdin takes the first line of stdin.
    let config = place.config().display().to_string();
    let (ok, stdout, stderr) = run_cli(
        &[
            "setup",
            "--yes",
            "--config",
            &config,
            "--data",
            &place.data().display().to_string(),
            "--model-file",
            &place.dir.0.join("model").display().to_string(),
            "--hostname",
            "pi",
            "--user",
            "bob",
            "--password-stdin",
            "--imap-port",
            "0",
            "--imaps-port",
            "0",
        ],
        Some("a long enough password\n"),
    );
    assert!(ok, "{stderr}");
    assert!(stdout.contains("user bob added"), "{stdout}");
}

/// Run as root, the data directory's files are given to the service's
/// user (here `nobody`, which every Debian has; the real one is roost),
/// and the configuration to its group. Skipped when not root.
#[test]
fn as_root_the_data_belongs_to_the_service_user() {
    use std::os::unix::fs::MetadataExt;
    let root = Command::new("id").arg("-u").output().map(|output| output.stdout == b"0\n").unwrap_or(false);
    let nobody = std::fs::read_to_string("/etc/passwd").unwrap_or_default().lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        (fields.first() == Some(&"nobody"))
            .then(|| (fields[2].parse::<u32>().unwrap(), fields[3].parse::<u32>().unwrap()))
    });
    let (true, Some((uid, gid))) = (root, nobody) else {
        eprintln!("skipped: needs root and a user nobody");
        return;
    };
    let place = Place::new(MODEL_ZERO_W);
    let password = place.dir.0.join("password").display().to_string();
    let (ok, stdout, stderr) =
        place.setup(&["--hostname", "pi", "--user", "alice", "--password-file", &password, "--owner", "nobody"]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("belong to nobody"), "{stdout}");
    let data = place.data();
    for path in
        [data.clone(), data.join("roost.redb"), data.join("tls"), data.join("tls/cert.pem"), data.join("tls/key.pem")]
    {
        let metadata = std::fs::metadata(&path).unwrap();
        assert_eq!((metadata.uid(), metadata.gid()), (uid, gid), "{}", path.display());
    }
    let config = std::fs::metadata(place.config()).unwrap();
    assert_eq!((config.uid(), config.gid()), (0, gid), "root's file, readable by the service's group");
    // Without --owner, a data directory other than /var/lib/roost stays root's.
    let other = Place::new(MODEL_ZERO_W);
    let (ok, _, _) = other.setup(&["--hostname", "pi"]);
    assert!(ok);
    assert_eq!(std::fs::metadata(other.data()).unwrap().uid(), 0);
    // A service user that does not exist yet: said, with what to run.
    let (ok, stdout, _) = other.setup(&["--hostname", "pi", "--owner", "no-such-user-here"]);
    assert!(ok);
    assert!(stdout.contains("user no-such-user-here does not exist yet"), "{stdout}");
    assert!(stdout.contains("`chown -R no-such-user-here:no-such-user-here "), "{stdout}");
}
