//! roost's command line: argh parses it, and each command calls into the
//! library ([`roost::admin`]). See README.md, and `src/lib.rs` for the
//! layers.

use std::path::PathBuf;
use std::process::ExitCode;

use argh::FromArgs;

/// On static musl builds, Doug Lea's allocator instead of musl's own
/// (measured per idle TLS connection: cross/README.md).
#[cfg(target_env = "musl")]
#[global_allocator]
static ALLOCATOR: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;
use roost::admin;

/// roost: your family's mail, on a small board at home.
#[derive(FromArgs)]
struct Roost {
    /// print roost's version and exit
    #[argh(switch)]
    version: bool,
    #[argh(subcommand)]
    command: Option<Command>,
}

#[derive(FromArgs)]
#[argh(subcommand)]
enum Command {
    Serve(Serve),
    User(UserCommand),
    Ban(BanCommand),
    Share(ShareCommand),
    Public(PublicCommand),
    Check(Check),
    Backup(Backup),
    Restore(Restore),
    Import(Import),
    Export(Export),
    Deliver(Deliver),
    Boards(Boards),
    Fingerprint(Fingerprint),
    Setup(Setup),
    Status(Status),
    ClientProfile(ClientProfile),
    Reindex(Reindex),
}

#[derive(FromArgs)]
#[argh(subcommand, name = "reindex")]
/// Build the search index for mail already stored (new mail is indexed as
/// it arrives): queues it, and the running server indexes it in the
/// background, resuming after a restart.
struct Reindex {
    /// only this user's mail
    #[argh(option)]
    user: Option<String>,
    /// wait until every message is indexed, showing how many remain
    #[argh(switch)]
    wait: bool,
    /// configuration file (default /etc/roost/roost.toml if it exists)
    #[argh(option)]
    config: Option<PathBuf>,
    /// data directory
    #[argh(option)]
    data: Option<PathBuf>,
}

#[derive(FromArgs)]
#[argh(subcommand, name = "setup")]
/// First run on the LAN: detect the board, write the configuration
/// (IMAP on ports 143 and 993 of every address), make the certificate for
/// this machine's names and addresses, add the first user, and print what
/// to type into each phone. Asks at a terminal; --yes and the options
/// below for scripts. Keeps an existing configuration unless --force.
struct Setup {
    /// configuration file to write (default /etc/roost/roost.toml)
    #[argh(option, default = "PathBuf::from(\"/etc/roost/roost.toml\")")]
    config: PathBuf,
    /// data directory (default /var/lib/roost)
    #[argh(option)]
    data: Option<PathBuf>,
    /// board profile (default: detected; `roost boards` lists them)
    #[argh(option)]
    board: Option<String>,
    /// this machine's name (default: its host name); NAME.local is added
    #[argh(option)]
    hostname: Option<String>,
    /// the first user to add (none if not given and not asked)
    #[argh(option)]
    user: Option<String>,
    /// read the first user's password from the first line of this file
    #[argh(option)]
    password_file: Option<PathBuf>,
    /// read the first user's password from the first line of stdin
    #[argh(switch)]
    password_stdin: bool,
    /// ask nothing: take the detected and given values
    #[argh(switch)]
    yes: bool,
    /// replace an existing configuration file (the old one is kept as .old)
    #[argh(switch)]
    force: bool,
    /// make a new certificate even if the current one covers every name
    #[argh(switch)]
    new_certificate: bool,
    /// the file naming the board (default /proc/device-tree/model)
    #[argh(option, default = "PathBuf::from(\"/proc/device-tree/model\")")]
    model_file: PathBuf,
    /// IMAP (STARTTLS) port (default 143)
    #[argh(option, default = "143")]
    imap_port: u16,
    /// IMAP over TLS port (default 993)
    #[argh(option, default = "993")]
    imaps_port: u16,
    /// who owns the data directory's files when run as root (default:
    /// roost, when the data directory is /var/lib/roost)
    #[argh(option)]
    owner: Option<String>,
    /// where to write the systemd drop-in with the board's MemoryMax
    /// (default /etc/systemd/system/roost.service.d when run as root with
    /// the default --config)
    #[argh(option)]
    systemd_dropin: Option<PathBuf>,
}

#[derive(FromArgs)]
#[argh(subcommand, name = "status")]
/// Show whether the server runs and how it is doing: version, board,
/// listeners, certificate expiry, users, storage, mail delivered today,
/// recent failed logins and bans. Exit code 0 running, 3 not running.
struct Status {
    /// configuration file (default /etc/roost/roost.toml if it exists)
    #[argh(option)]
    config: Option<PathBuf>,
    /// data directory
    #[argh(option)]
    data: Option<PathBuf>,
}

#[derive(FromArgs)]
#[argh(subcommand, name = "fingerprint")]
/// Show the TLS certificate's SHA-256 fingerprint, to compare with what a
/// phone shows when it asks whether to trust the server (makes the
/// self-signed certificate first if there is none yet).
struct Fingerprint {
    /// configuration file (default /etc/roost/roost.toml if it exists)
    #[argh(option)]
    config: Option<PathBuf>,
    /// data directory
    #[argh(option)]
    data: Option<PathBuf>,
}

#[derive(FromArgs)]
#[argh(subcommand, name = "client-profile")]
/// Write the files that set a user's devices up: NAME.mobileconfig
/// (iPhone, iPad, Mac: the mail account and the server's certificate)
/// and config-v1.1.xml (Thunderbird's autoconfig); print the settings to
/// type on Android.
struct ClientProfile {
    /// the user
    #[argh(positional)]
    name: String,
    /// where the files go (default: the current directory)
    #[argh(option, default = "PathBuf::from(\".\")")]
    out: PathBuf,
    /// the name or address devices reach the server by (default: NAME.local
    /// or another name of the certificate)
    #[argh(option)]
    host: Option<String>,
    /// the IMAPS port devices connect to (default: the server's listen_tls port)
    #[argh(option)]
    port: Option<u16>,
    /// the user's email address (default: the user name when it is one)
    #[argh(option)]
    email: Option<String>,
    /// the outgoing (SMTP) server: your provider's, or a Postfix relay
    /// (roost does not send mail; default: --host, with a warning)
    #[argh(option)]
    smtp_host: Option<String>,
    /// the outgoing server's port (default 587, STARTTLS; 465 is SSL/TLS)
    #[argh(option)]
    smtp_port: Option<u16>,
    /// the outgoing server's login (default: the email address)
    #[argh(option)]
    smtp_user: Option<String>,
    /// configuration file (default /etc/roost/roost.toml if it exists)
    #[argh(option)]
    config: Option<PathBuf>,
    /// data directory
    #[argh(option)]
    data: Option<PathBuf>,
}

#[derive(FromArgs)]
#[argh(subcommand, name = "serve")]
/// Run the IMAP server.
struct Serve {
    /// configuration file (TOML; default /etc/roost/roost.toml if it
    /// exists and --data is not given, else built-in defaults)
    #[argh(option)]
    config: Option<PathBuf>,
    /// board profile (see `roost boards`), overriding the file
    #[argh(option)]
    board: Option<String>,
    /// data directory, overriding the file (default ./roost-data)
    #[argh(option)]
    data: Option<PathBuf>,
    /// write the addresses listened on to this file once bound, one
    /// "imap|imaps|lmtp ADDRESS" line each (for scripts using port 0)
    #[argh(option)]
    ports_file: Option<PathBuf>,
}

#[derive(FromArgs)]
#[argh(subcommand, name = "user")]
/// Add, remove and list users, and change passwords.
struct UserCommand {
    #[argh(subcommand)]
    action: UserAction,
}

#[derive(FromArgs)]
#[argh(subcommand)]
enum UserAction {
    Add(UserAdd),
    Passwd(UserPasswd),
    Del(UserDel),
    List(UserList),
    Device(DeviceCommand),
    DeviceOnly(UserDeviceOnly),
    Log(UserLog),
    Quota(UserQuota),
}

#[derive(FromArgs)]
#[argh(subcommand, name = "device")]
/// Device passwords: one generated password per phone or computer, shown
/// once, revocable alone.
struct DeviceCommand {
    #[argh(subcommand)]
    action: DeviceAction,
}

#[derive(FromArgs)]
#[argh(subcommand)]
enum DeviceAction {
    Add(DeviceAdd),
    List(DeviceList),
    Del(DeviceDel),
}

#[derive(FromArgs)]
#[argh(subcommand, name = "add")]
/// Make a device password for a user and show it (once).
struct DeviceAdd {
    /// user name
    #[argh(positional)]
    name: String,
    /// the device, e.g. "Alice's iPhone" (at most 64 characters)
    #[argh(positional)]
    device: String,
    /// configuration file (default /etc/roost/roost.toml if it exists)
    #[argh(option)]
    config: Option<PathBuf>,
    /// data directory
    #[argh(option)]
    data: Option<PathBuf>,
}

#[derive(FromArgs)]
#[argh(subcommand, name = "list")]
/// List a user's device passwords: created, last used, from where.
struct DeviceList {
    /// user name
    #[argh(positional)]
    name: String,
    /// configuration file (default /etc/roost/roost.toml if it exists)
    #[argh(option)]
    config: Option<PathBuf>,
    /// data directory
    #[argh(option)]
    data: Option<PathBuf>,
}

#[derive(FromArgs)]
#[argh(subcommand, name = "del")]
/// Delete a device password: the next login with it is refused.
struct DeviceDel {
    /// user name
    #[argh(positional)]
    name: String,
    /// the device's name, as `device list` shows it
    #[argh(positional)]
    device: String,
    /// configuration file (default /etc/roost/roost.toml if it exists)
    #[argh(option)]
    config: Option<PathBuf>,
    /// data directory
    #[argh(option)]
    data: Option<PathBuf>,
}

#[derive(FromArgs)]
#[argh(subcommand, name = "device-only")]
/// Let only device passwords log a user in over IMAP (on), or the main
/// password too (off).
struct UserDeviceOnly {
    /// user name
    #[argh(positional)]
    name: String,
    /// on or off
    #[argh(positional)]
    setting: String,
    /// configuration file (default /etc/roost/roost.toml if it exists)
    #[argh(option)]
    config: Option<PathBuf>,
    /// data directory
    #[argh(option)]
    data: Option<PathBuf>,
}

#[derive(FromArgs)]
#[argh(subcommand, name = "quota")]
/// Show a user's mail usage and quota limits, or set their own limits.
struct UserQuota {
    /// user name
    #[argh(positional)]
    name: String,
    /// storage limit for this user: bytes, or with a unit ("500M", "2G"); 0: none
    #[argh(option)]
    storage: Option<String>,
    /// message limit for this user; 0: none
    #[argh(option)]
    messages: Option<u64>,
    /// back to the [quota] defaults for the limits not given here
    #[argh(switch)]
    default: bool,
    /// configuration file (default /etc/roost/roost.toml if it exists)
    #[argh(option)]
    config: Option<PathBuf>,
    /// data directory
    #[argh(option)]
    data: Option<PathBuf>,
}

#[derive(FromArgs)]
#[argh(subcommand, name = "log")]
/// Show a user's login history, newest first (times in UTC).
struct UserLog {
    /// user name
    #[argh(positional)]
    name: String,
    /// configuration file (default /etc/roost/roost.toml if it exists)
    #[argh(option)]
    config: Option<PathBuf>,
    /// data directory
    #[argh(option)]
    data: Option<PathBuf>,
}

#[derive(FromArgs)]
#[argh(subcommand, name = "add")]
/// Add a user; the password is read from a prompt, or from stdin.
struct UserAdd {
    /// user name (letters, digits, . _ - @ +)
    #[argh(positional)]
    name: String,
    /// accept a password shorter than min_password_length
    #[argh(switch)]
    force: bool,
    /// configuration file (default /etc/roost/roost.toml if it exists)
    #[argh(option)]
    config: Option<PathBuf>,
    /// data directory
    #[argh(option)]
    data: Option<PathBuf>,
}

#[derive(FromArgs)]
#[argh(subcommand, name = "passwd")]
/// Change a user's password (prompt, or stdin).
struct UserPasswd {
    /// user name
    #[argh(positional)]
    name: String,
    /// accept a password shorter than min_password_length
    #[argh(switch)]
    force: bool,
    /// configuration file (default /etc/roost/roost.toml if it exists)
    #[argh(option)]
    config: Option<PathBuf>,
    /// data directory
    #[argh(option)]
    data: Option<PathBuf>,
}

#[derive(FromArgs)]
#[argh(subcommand, name = "del")]
/// Delete a user and all of their mail (asks to type the name first).
struct UserDel {
    /// user name
    #[argh(positional)]
    name: String,
    /// delete without asking (scripts)
    #[argh(switch)]
    yes: bool,
    /// configuration file (default /etc/roost/roost.toml if it exists)
    #[argh(option)]
    config: Option<PathBuf>,
    /// data directory
    #[argh(option)]
    data: Option<PathBuf>,
}

#[derive(FromArgs)]
#[argh(subcommand, name = "list")]
/// List users.
struct UserList {
    /// configuration file (default /etc/roost/roost.toml if it exists)
    #[argh(option)]
    config: Option<PathBuf>,
    /// data directory
    #[argh(option)]
    data: Option<PathBuf>,
}

#[derive(FromArgs)]
#[argh(subcommand, name = "ban")]
/// List, add and lift bans of addresses (through the running server).
struct BanCommand {
    #[argh(subcommand)]
    action: BanAction,
}

#[derive(FromArgs)]
#[argh(subcommand)]
enum BanAction {
    List(BanList),
    Add(BanAdd),
    Del(BanDel),
}

#[derive(FromArgs)]
#[argh(subcommand, name = "list")]
/// List bans: address, until when, how many in a row, why.
struct BanList {
    /// configuration file (default /etc/roost/roost.toml if it exists)
    #[argh(option)]
    config: Option<PathBuf>,
    /// data directory
    #[argh(option)]
    data: Option<PathBuf>,
}

#[derive(FromArgs)]
#[argh(subcommand, name = "add")]
/// Ban an address (an IPv6 address bans its /64) or a range like
/// 198.51.100.0/24, never_ban or not.
struct BanAdd {
    /// the address or CIDR range
    #[argh(positional)]
    address: String,
    /// how long: seconds, or 30m, 12h, 7d (default: as long as an
    /// automatic ban, ban_seconds doubling on each repeat)
    #[argh(option, long = "for")]
    duration: Option<String>,
    /// configuration file (default /etc/roost/roost.toml if it exists)
    #[argh(option)]
    config: Option<PathBuf>,
    /// data directory
    #[argh(option)]
    data: Option<PathBuf>,
}

#[derive(FromArgs)]
#[argh(subcommand, name = "del")]
/// Lift the ban of an address or range at once, and forget its repeats.
struct BanDel {
    /// the address or CIDR range, as `ban list` shows it
    #[argh(positional)]
    address: String,
    /// configuration file (default /etc/roost/roost.toml if it exists)
    #[argh(option)]
    config: Option<PathBuf>,
    /// data directory
    #[argh(option)]
    data: Option<PathBuf>,
}

#[derive(FromArgs)]
#[argh(subcommand, name = "share")]
/// Share mailboxes: list, set and remove who may do what (RFC 4314
/// rights), through the running server.
struct ShareCommand {
    #[argh(subcommand)]
    action: ShareAction,
}

#[derive(FromArgs)]
#[argh(subcommand)]
enum ShareAction {
    List(ShareList),
    Add(ShareAdd),
    Del(ShareDel),
}

#[derive(FromArgs)]
#[argh(subcommand, name = "list")]
/// List every shared mailbox with who may do what.
struct ShareList {
    /// configuration file (default /etc/roost/roost.toml if it exists)
    #[argh(option)]
    config: Option<PathBuf>,
    /// data directory
    #[argh(option)]
    data: Option<PathBuf>,
}

#[derive(FromArgs)]
#[argh(subcommand, name = "add")]
/// Give rights: `roost share add alice Bills bob lrswi` (bob may list,
/// read, keep his \Seen, write flags and insert into alice's Bills);
/// `+w` adds, `-w` takes away, otherwise the rights are replaced. WHO is
/// a user, `authenticated` or `anyone`. With --public: `roost share add
/// --public Bills tom lrs` for the household's Family/Bills. To take
/// rights away put `--` first: `roost share add -- alice Bills bob -w`.
struct ShareAdd {
    /// OWNER MAILBOX WHO RIGHTS (without OWNER with --public)
    #[argh(positional)]
    words: Vec<String>,
    /// a public (Family/) mailbox: no OWNER
    #[argh(switch)]
    public: bool,
    /// configuration file (default /etc/roost/roost.toml if it exists)
    #[argh(option)]
    config: Option<PathBuf>,
    /// data directory
    #[argh(option)]
    data: Option<PathBuf>,
}

#[derive(FromArgs)]
#[argh(subcommand, name = "del")]
/// Remove WHO's entry from a mailbox's rights: `roost share del alice
/// Bills bob`.
struct ShareDel {
    /// OWNER MAILBOX WHO (without OWNER with --public)
    #[argh(positional)]
    words: Vec<String>,
    /// a public (Family/) mailbox: no OWNER
    #[argh(switch)]
    public: bool,
    /// configuration file (default /etc/roost/roost.toml if it exists)
    #[argh(option)]
    config: Option<PathBuf>,
    /// data directory
    #[argh(option)]
    data: Option<PathBuf>,
}

#[derive(FromArgs)]
#[argh(subcommand, name = "public")]
/// The household's mailboxes (Family/NAME, owned by nobody): create, list
/// and delete them, through the running server.
struct PublicCommand {
    #[argh(subcommand)]
    action: PublicAction,
}

#[derive(FromArgs)]
#[argh(subcommand)]
enum PublicAction {
    Create(PublicCreate),
    List(PublicList),
    Del(PublicDel),
}

#[derive(FromArgs)]
#[argh(subcommand, name = "create")]
/// Create Family/NAME with the default rights ([acl]
/// public_default_rights, default "authenticated:lrs"); each --for
/// WHO:RIGHTS replaces WHO's entry (`--for mom:lrswipkxtea --for
/// anyone:p`; `--for authenticated:` drops it).
struct PublicCreate {
    /// the mailbox's name (Bills or Family/Bills)
    #[argh(positional)]
    name: String,
    /// WHO:RIGHTS, WHO a user, authenticated or anyone (may repeat)
    #[argh(option, long = "for")]
    grant: Vec<String>,
    /// configuration file (default /etc/roost/roost.toml if it exists)
    #[argh(option)]
    config: Option<PathBuf>,
    /// data directory
    #[argh(option)]
    data: Option<PathBuf>,
}

#[derive(FromArgs)]
#[argh(subcommand, name = "list")]
/// List the public mailboxes with who may do what.
struct PublicList {
    /// configuration file (default /etc/roost/roost.toml if it exists)
    #[argh(option)]
    config: Option<PathBuf>,
    /// data directory
    #[argh(option)]
    data: Option<PathBuf>,
}

#[derive(FromArgs)]
#[argh(subcommand, name = "del")]
/// Delete Family/NAME with its messages and rights.
struct PublicDel {
    /// the mailbox's name (Bills or Family/Bills)
    #[argh(positional)]
    name: String,
    /// configuration file (default /etc/roost/roost.toml if it exists)
    #[argh(option)]
    config: Option<PathBuf>,
    /// data directory
    #[argh(option)]
    data: Option<PathBuf>,
}

#[derive(FromArgs)]
#[argh(subcommand, name = "import")]
/// Import mail from a Maildir (Dovecot, Courier) or from mbox files (one
/// file, Google Takeout's, or a directory as Thunderbird's local folders
/// keep them), keeping flags, keywords and dates. Importing the same
/// source again stores nothing twice. Works with the server running or
/// stopped.
struct Import {
    /// the user whose mailboxes receive the mail
    #[argh(option)]
    user: String,
    /// a Maildir: its cur/ and new/ go to INBOX, its .A.B folders to A/B
    #[argh(option)]
    maildir: Option<PathBuf>,
    /// an mbox file, or a directory of them (Thunderbird: Name, Name.sbd/Child)
    #[argh(option)]
    mbox: Option<PathBuf>,
    /// for an mbox file: the mailbox (default: named like the file);
    /// otherwise a prefix every mailbox goes under
    #[argh(option)]
    into: Option<String>,
    /// configuration file (default /etc/roost/roost.toml if it exists)
    #[argh(option)]
    config: Option<PathBuf>,
    /// data directory
    #[argh(option)]
    data: Option<PathBuf>,
}

#[derive(FromArgs)]
#[argh(subcommand, name = "check")]
/// Verify the database; exits non-zero if it is damaged.
struct Check {
    /// when no server runs and the file was not closed cleanly (power cut,
    /// kill -9), let the store repair it first (this writes to the file)
    #[argh(switch)]
    repair: bool,
    /// configuration file (default /etc/roost/roost.toml if it exists)
    #[argh(option)]
    config: Option<PathBuf>,
    /// data directory
    #[argh(option)]
    data: Option<PathBuf>,
}

#[derive(FromArgs)]
#[argh(subcommand, name = "backup")]
/// Make a consistent, verified copy of the database, while the server runs
/// or not. DEST is a new file, or a directory (the copy gets a dated name
/// in it); without DEST, [backup] dir.
struct Backup {
    /// where the copy goes
    #[argh(positional)]
    dest: Option<PathBuf>,
    /// configuration file (default /etc/roost/roost.toml if it exists)
    #[argh(option)]
    config: Option<PathBuf>,
    /// data directory
    #[argh(option)]
    data: Option<PathBuf>,
}

#[derive(FromArgs)]
#[argh(subcommand, name = "restore")]
/// Put a backup back in place of the database (the server must be
/// stopped). The backup is verified first; the current database is kept
/// beside it under another name, not deleted.
struct Restore {
    /// the backup file
    #[argh(positional)]
    source: PathBuf,
    /// configuration file (default /etc/roost/roost.toml if it exists)
    #[argh(option)]
    config: Option<PathBuf>,
    /// data directory
    #[argh(option)]
    data: Option<PathBuf>,
}

#[derive(FromArgs)]
#[argh(subcommand, name = "export")]
/// Write a user's mailboxes as a Maildir++ tree that Dovecot reads as it
/// is (UIDs, flags and keywords kept) or as mbox files. Exporting again
/// into the same directory writes only what changed since.
struct Export {
    /// the user whose mailboxes are exported
    #[argh(option)]
    user: String,
    /// write a Maildir++ tree into this directory (new, empty, or an earlier export)
    #[argh(option)]
    maildir: Option<PathBuf>,
    /// write one mbox file per mailbox into this directory
    #[argh(option)]
    mbox: Option<PathBuf>,
    /// configuration file (default /etc/roost/roost.toml if it exists)
    #[argh(option)]
    config: Option<PathBuf>,
    /// data directory
    #[argh(option)]
    data: Option<PathBuf>,
}

#[derive(FromArgs)]
#[argh(subcommand, name = "deliver")]
/// Deliver one message from stdin to a user's INBOX, or with --mailbox to
/// a shared or public mailbox that grants anyone the p right, through the
/// running server's LMTP socket (for MTAs that pipe mail to a command;
/// a leading mbox "From " line is dropped).
/// Exit codes follow sysexits.h: 0 delivered, 67 no such user or
/// mailbox, 77 the mailbox does not take mail (no p right), 73 message too
/// big, 75 try again later (server not running, temporary failure), 64
/// usage.
struct Deliver {
    /// the recipient: a user name or one of their addresses
    #[argh(option)]
    user: Option<String>,
    /// a mailbox instead of the INBOX: Family/NAME or Shared/USER/NAME,
    /// or with --user that user's mailbox NAME
    #[argh(option)]
    mailbox: Option<String>,
    /// envelope sender (Return-Path); default: the message's own
    /// Return-Path field (taken out: the server writes one), else <>
    #[argh(option, short = 'f')]
    from: Option<String>,
    /// configuration file (default /etc/roost/roost.toml if it exists)
    #[argh(option)]
    config: Option<PathBuf>,
    /// data directory
    #[argh(option)]
    data: Option<PathBuf>,
}

#[derive(FromArgs)]
#[argh(subcommand, name = "boards")]
/// List the board profiles built into this binary.
struct Boards {}

fn main() -> ExitCode {
    let arguments: Vec<String> = std::env::args().collect();
    let roost = match parse_arguments(&arguments) {
        Ok(roost) => roost,
        Err(code) => return code,
    };
    if roost.version {
        println!("roost {}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    let Some(command) = roost.command else {
        eprintln!("no command given; `roost --help` lists them (`roost serve` runs the server)");
        return ExitCode::FAILURE;
    };
    let result =
        match command {
            Command::Serve(arguments) => {
                admin::serve(&arguments.config, arguments.board, &arguments.data, arguments.ports_file.as_deref())
            }
            Command::User(user) => {
                admin::init_command_logging();
                match user.action {
                    UserAction::Add(arguments) => admin::load(&arguments.config, None, &arguments.data)
                        .and_then(|config| admin::set_password(&config, &arguments.name, true, arguments.force)),
                    UserAction::Passwd(arguments) => admin::load(&arguments.config, None, &arguments.data)
                        .and_then(|config| admin::set_password(&config, &arguments.name, false, arguments.force)),
                    UserAction::Del(arguments) => admin::load(&arguments.config, None, &arguments.data)
                        .and_then(|config| admin::delete_user(&config, &arguments.name, arguments.yes)),
                    UserAction::List(arguments) => admin::load(&arguments.config, None, &arguments.data)
                        .and_then(|config| admin::list_users(&config)),
                    UserAction::Device(device) => match device.action {
                        DeviceAction::Add(arguments) => admin::load(&arguments.config, None, &arguments.data)
                            .and_then(|config| admin::add_device(&config, &arguments.name, &arguments.device)),
                        DeviceAction::List(arguments) => admin::load(&arguments.config, None, &arguments.data)
                            .and_then(|config| admin::list_devices(&config, &arguments.name)),
                        DeviceAction::Del(arguments) => admin::load(&arguments.config, None, &arguments.data)
                            .and_then(|config| admin::delete_device(&config, &arguments.name, &arguments.device)),
                    },
                    UserAction::DeviceOnly(arguments) => admin::load(&arguments.config, None, &arguments.data)
                        .and_then(|config| admin::device_only(&config, &arguments.name, &arguments.setting)),
                    UserAction::Log(arguments) => admin::load(&arguments.config, None, &arguments.data)
                        .and_then(|config| admin::user_log(&config, &arguments.name)),
                    UserAction::Quota(arguments) => {
                        admin::load(&arguments.config, None, &arguments.data).and_then(|config| {
                            let limits = admin::QuotaChange {
                                storage: arguments.storage.as_deref(),
                                messages: arguments.messages,
                                default: arguments.default,
                            };
                            admin::user_quota(&config, &arguments.name, &limits)
                        })
                    }
                }
            }
            Command::Ban(ban) => {
                admin::init_command_logging();
                match ban.action {
                    BanAction::List(arguments) => admin::load(&arguments.config, None, &arguments.data)
                        .and_then(|config| admin::ban_list(&config)),
                    BanAction::Add(arguments) => admin::load(&arguments.config, None, &arguments.data)
                        .and_then(|config| admin::ban_add(&config, &arguments.address, arguments.duration.as_deref())),
                    BanAction::Del(arguments) => admin::load(&arguments.config, None, &arguments.data)
                        .and_then(|config| admin::ban_del(&config, &arguments.address)),
                }
            }
            Command::Share(share) => {
                admin::init_command_logging();
                match share.action {
                    ShareAction::List(arguments) => admin::load(&arguments.config, None, &arguments.data)
                        .and_then(|config| admin::share_list(&config)),
                    ShareAction::Add(arguments) => admin::load(&arguments.config, None, &arguments.data)
                        .and_then(|config| admin::share_set(&config, arguments.public, &arguments.words, true)),
                    ShareAction::Del(arguments) => admin::load(&arguments.config, None, &arguments.data)
                        .and_then(|config| admin::share_set(&config, arguments.public, &arguments.words, false)),
                }
            }
            Command::Public(public) => {
                admin::init_command_logging();
                match public.action {
                    PublicAction::Create(arguments) => admin::load(&arguments.config, None, &arguments.data)
                        .and_then(|config| admin::public_create(&config, &arguments.name, &arguments.grant)),
                    PublicAction::List(arguments) => admin::load(&arguments.config, None, &arguments.data)
                        .and_then(|config| admin::public_list(&config)),
                    PublicAction::Del(arguments) => admin::load(&arguments.config, None, &arguments.data)
                        .and_then(|config| admin::public_delete(&config, &arguments.name)),
                }
            }
            Command::Reindex(arguments) => {
                admin::init_command_logging();
                admin::load(&arguments.config, None, &arguments.data)
                    .and_then(|config| admin::reindex(&config, arguments.user.as_deref(), arguments.wait))
            }
            Command::Check(arguments) => {
                admin::init_command_logging();
                admin::load(&arguments.config, None, &arguments.data)
                    .and_then(|config| admin::check(&config, arguments.repair))
            }
            Command::Backup(arguments) => {
                admin::init_command_logging();
                admin::load(&arguments.config, None, &arguments.data)
                    .and_then(|config| admin::backup(&config, arguments.dest.as_deref()))
            }
            Command::Restore(arguments) => {
                admin::init_command_logging();
                admin::load(&arguments.config, None, &arguments.data)
                    .and_then(|config| admin::restore(&config, &arguments.source))
            }
            Command::Import(import) => {
                admin::init_command_logging();
                admin::load(&import.config, None, &import.data)
                    .and_then(|config| admin::import(&config, &import.user, import.maildir, import.mbox, import.into))
            }
            Command::Export(arguments) => {
                admin::init_command_logging();
                admin::load(&arguments.config, None, &arguments.data)
                    .and_then(|config| admin::export(&config, &arguments.user, arguments.maildir, arguments.mbox))
            }
            Command::Deliver(arguments) => {
                admin::init_command_logging();
                return admin::deliver(
                    &arguments.config,
                    &arguments.data,
                    arguments.user.as_deref(),
                    arguments.mailbox.as_deref(),
                    arguments.from.as_deref(),
                );
            }
            Command::Fingerprint(arguments) => {
                admin::init_command_logging();
                admin::load(&arguments.config, None, &arguments.data).and_then(|config| admin::fingerprint(&config))
            }
            Command::ClientProfile(arguments) => {
                admin::init_command_logging();
                let request = admin::ClientProfileRequest {
                    user: arguments.name,
                    out: arguments.out,
                    host: arguments.host,
                    port: arguments.port,
                    email: arguments.email,
                    smtp_host: arguments.smtp_host,
                    smtp_port: arguments.smtp_port,
                    smtp_user: arguments.smtp_user,
                };
                admin::load(&arguments.config, None, &arguments.data)
                    .and_then(|config| admin::client_profile(&config, &request))
            }
            Command::Boards(_) => admin::boards(),
            Command::Setup(arguments) => {
                admin::init_command_logging();
                admin::setup(admin::SetupOptions {
                    config: arguments.config,
                    data: arguments.data,
                    board: arguments.board,
                    hostname: arguments.hostname,
                    user: arguments.user,
                    password_file: arguments.password_file,
                    password_stdin: arguments.password_stdin,
                    yes: arguments.yes,
                    force: arguments.force,
                    new_certificate: arguments.new_certificate,
                    model_file: arguments.model_file,
                    imap_port: arguments.imap_port,
                    imaps_port: arguments.imaps_port,
                    owner: arguments.owner,
                    systemd_dropin: arguments.systemd_dropin,
                })
            }
            Command::Status(arguments) => {
                admin::init_command_logging();
                return admin::status(&arguments.config, &arguments.data);
            }
        };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("roost: {message}");
            ExitCode::FAILURE
        }
    }
}

/// argh's parsing, with sysexits' EX_USAGE for `roost deliver`: an MTA
/// reads its exit code, and a broken command line will not mend by retrying.
fn parse_arguments(arguments: &[String]) -> Result<Roost, ExitCode> {
    let command = arguments
        .first()
        .and_then(|path| std::path::Path::new(path).file_name())
        .and_then(|name| name.to_str())
        .unwrap_or("roost");
    let rest: Vec<&str> = arguments.iter().skip(1).map(String::as_str).collect();
    Roost::from_args(&[command], &rest).map_err(|early| {
        if let Ok(()) = early.status {
            print!("{}", early.output);
            ExitCode::SUCCESS
        } else {
            eprint!("{}", early.output);
            if rest.first() == Some(&"deliver") {
                ExitCode::from(admin::EX_USAGE)
            } else {
                ExitCode::FAILURE
            }
        }
    })
}
