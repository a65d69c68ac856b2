#!/usr/bin/env bash
# A private Dovecot instance for comparing roost with Dovecot
# (Debian 12's dovecot-imapd and dovecot-lmtpd), living entirely inside
# one directory.
# It never reads /etc/dovecot and never starts the system service.
#
#   dovecot.sh install
#       Installs dovecot-core + dovecot-imapd + dovecot-lmtpd +
#       dovecot-fts-xapian (Debian's Xapian full-text search plugin, used
#       only when DOVECOT_FTS=xapian) with apt if any of them is missing, and makes sure the system's dovecot service
#       is neither running nor enabled. Idempotent. Needs root.
#   dovecot.sh start DIR IMAP_PORT IMAPS_PORT USERS_FILE [LMTP_PORT]
#       USERS_FILE: lines "name password [{SCHEME}hash]" (blank lines and
#       #-comments are skipped; the password is the rest of the line).
#       Writes DIR/dovecot.conf, DIR/passwd, DIR/cert.pem, DIR/key.pem,
#       starts Dovecot on 127.0.0.1:IMAP_PORT (STARTTLS) and
#       127.0.0.1:IMAPS_PORT (TLS), and LMTP on 127.0.0.1:LMTP_PORT when
#       given (same passwd-file and userdb, same maildirs), waits until a
#       LOGIN of the first user works on both IMAP ports (and LHLO is
#       answered on the LMTP port), and prints the master PID on stdout.
#       Mail: DIR/mail/USER (maildir), log: DIR/dovecot.log, runtime
#       sockets: DIR/run, state: DIR/state.
#   dovecot.sh stop DIR
#       Stops that instance and waits until all of its processes are gone.
#   dovecot.sh pids DIR
#       Prints the PIDs of that instance (master and descendants), one a line.
#
# Environment (all optional):
#   DOVECOT_PASS_SCHEME  SHA512-CRYPT (default) or PLAIN. SHA512-CRYPT is
#                        Debian's `doveadm pw` default and costs a few ms
#                        per LOGIN (5000 rounds); roost uses argon2id, which is
#                        far more expensive, so login-rate numbers must say
#                        which scheme was used.
#   DOVECOT_LOGIN_MODE   performance (default) or security.
#                        performance: Dovecot's documented "high-performance"
#                        login mode (imap-login service_count = 0, a few
#                        long-lived login processes, each serving many
#                        clients; this is what Dovecot recommends for many
#                        connections). security: Debian's default
#                        (service_count = 1, one imap-login process per
#                        pre-login and per TLS connection, which stays
#                        alive as the TLS proxy for the whole session).
#                        Either way every logged-in session has its own
#                        `imap` process (service imap client_limit = 1,
#                        Dovecot's default).
#   DOVECOT_MAX_CONN     connections to size limits for (default 6000).
#   DOVECOT_USER         system user owning the mail (default dovebench).
#   DOVECOT_FTS          none (default) or xapian: with xapian, every service
#                        loads mail_plugins = fts fts_xapian with
#                        fts = xapian, fts_xapian = partial=3 full=20
#                        verbose=0, fts_autoindex = yes (new mail is queued
#                        to Dovecot's indexer as it arrives) and
#                        fts_enforced = yes (SEARCH BODY/TEXT always answer
#                        from the index, indexing what is missing first).
#                        The index lives in the user's home,
#                        DIR/mail/USER/xapian-indexes; build it with
#                        `doveadm -c DIR/dovecot.conf index -u USER MAILBOX`.
#
# Dovecot defaults that matter for a fair comparison, all left at Debian
# 12's (Dovecot 2.3.19) values -- none of them is set in the generated file:
#   mail_fsync = optimized   before APPEND is answered OK the message file
#                            is fsync()ed, the maildir's new/ directory and
#                            dovecot-uidlist fdatasync()ed (seen with strace
#                            on 2.3.19.1), so an acknowledged message survives
#                            a power cut; the index files (dovecot.index*)
#                            are not synced on every change (they can be
#                            rebuilt from the maildir).
#   mail_nfs_storage = no, mail_nfs_index = no, mmap_disable = no,
#   lock_method = fcntl, maildir_very_dirty_syncs = no,
#   maildir_copy_with_hardlinks = yes, maildir_stat_dirs = no
#   Index/cache files: dovecot.index, dovecot.index.log, dovecot.index.cache
#                      are kept inside each maildir (no INDEX=/CONTROL= and
#                      no memory-only indexes), dovecot-uidlist beside them;
#                      mail_cache_min_mail_count = 0, mail_cache_fields and
#                      mail_always_cache_fields at their defaults.
#   mail_plugins = zlib imap_zlib for IMAP only (COMPRESS=DEFLATE, scenario
#                      18; mail is stored uncompressed), no quota, no FTS; imap_hibernate_timeout
#                      = 0 (idle sessions are not hibernated);
#   IDLE: each idling imap process watches its maildir with inotify and
#                      reports new mail once a change is noticed (Dovecot
#                      waits up to 0.5 s for more changes first);
#                      imap_idle_notify_interval = 2 min only sets how often
#                      "* OK Still here" is sent. A process that gets no
#                      inotify instance (the kernel's
#                      fs.inotify.max_user_instances, 128 by default, counts
#                      per user: every imap process runs as DOVECOT_USER)
#                      polls instead, every mailbox_idle_check_interval =
#                      30 s. The benchmark leaves that kernel limit alone.
#   auth_cache_size = 0 (no auth cache); auth_failure_delay = 2 s.
#   ssl_min_protocol = TLSv1.2, default cipher list; the key is RSA 2048.
# The only deliberate departures from a stock Debian install are loopback
# listeners on the given ports, plaintext auth allowed (loopback benchmark),
# a passwd-file instead of PAM, maildir under DIR, LMTP on a loopback TCP
# port instead of a unix socket (only when a port is given), the five special-use
# mailboxes beside INBOX auto-created and subscribed (like roost), the
# login mode above (performance by default), instance_name = dovebench
# (processes show as dovecot-dovebench/...), and process/client limits
# raised so thousands of concurrent connections fit.
set -euo pipefail

PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

die() {
    echo "dovecot.sh: $*" >&2
    exit 1
}
say() {
    echo "dovecot.sh: $*" >&2
}

MAIL_USER=${DOVECOT_USER:-dovebench}
MAX_CONN=${DOVECOT_MAX_CONN:-6000}
FTS=${DOVECOT_FTS:-none}
PASS_SCHEME=${DOVECOT_PASS_SCHEME:-SHA512-CRYPT}
LOGIN_MODE=${DOVECOT_LOGIN_MODE:-performance}

# ---------------------------------------------------------------- install

disable_system_service() {
    # Never leave Debian's own dovecot service enabled or running.
    # (systemctl disable/mask also work when systemd is not running, as in
    # a container: they only manage the symlinks.)
    if command -v systemctl >/dev/null 2>&1; then
        if [ -d /run/systemd/system ]; then
            systemctl stop dovecot.socket dovecot.service >/dev/null 2>&1 || true
        fi
        systemctl disable dovecot.service dovecot.socket >/dev/null 2>&1 || true
        systemctl mask dovecot.service dovecot.socket >/dev/null 2>&1 || true
    fi
    if [ -e /etc/init.d/dovecot ] && command -v update-rc.d >/dev/null 2>&1; then
        update-rc.d dovecot disable >/dev/null 2>&1 || true
    fi
    # A system instance that got started anyway (its pid file is in the
    # default base_dir): stop it by PID, after checking it is dovecot.
    local pidfile=/run/dovecot/master.pid pid
    if [ -r "$pidfile" ]; then
        pid=$(cat "$pidfile" 2>/dev/null || true)
        if [[ "$pid" =~ ^[0-9]+$ ]] && [ "$(cat "/proc/$pid/comm" 2>/dev/null || true)" = dovecot ]; then
            say "stopping the system dovecot (pid $pid)"
            kill -TERM "$pid" 2>/dev/null || true
            for _ in $(seq 100); do
                [ -d "/proc/$pid" ] || break
                sleep 0.1
            done
        fi
    fi
}

cmd_install() {
    [ "$(id -u)" = 0 ] || die "install needs root"
    if ! command -v dovecot >/dev/null 2>&1 || ! [ -x /usr/lib/dovecot/imap ] || ! [ -x /usr/lib/dovecot/lmtp ] ||
        ! dpkg-query -W -f='${Status}' dovecot-fts-xapian 2>/dev/null | grep -q 'ok installed'; then
        # Keep the package's postinst from starting the service. Docker
        # images already ship a policy-rc.d that denies everything; only add
        # (and later remove) one if there is none.
        local made_policy=""
        if [ ! -e /usr/sbin/policy-rc.d ]; then
            printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
            chmod 755 /usr/sbin/policy-rc.d
            made_policy=1
            trap 'rm -f /usr/sbin/policy-rc.d' EXIT
        fi
        local apt=(apt-get -o DPkg::Lock::Timeout=600 -y -q)
        if ! DEBIAN_FRONTEND=noninteractive "${apt[@]}" install --no-install-recommends dovecot-core dovecot-imapd dovecot-lmtpd dovecot-fts-xapian; then
            DEBIAN_FRONTEND=noninteractive "${apt[@]}" update
            DEBIAN_FRONTEND=noninteractive "${apt[@]}" install --no-install-recommends dovecot-core dovecot-imapd dovecot-lmtpd dovecot-fts-xapian
        fi
        if [ -n "$made_policy" ]; then
            rm -f /usr/sbin/policy-rc.d
            trap - EXIT
        fi
    fi
    disable_system_service
    ensure_users
    say "installed: $(dovecot --version)"
}

# Creates the unprivileged owner of the benchmark mail (idempotent) and
# checks that Debian's dovecot/dovenull users exist.
ensure_users() {
    if ! getent passwd "$MAIL_USER" >/dev/null; then
        useradd --system --user-group --no-create-home --home-dir /nonexistent \
            --shell /usr/sbin/nologin "$MAIL_USER"
    fi
    getent passwd dovecot >/dev/null || die "user dovecot missing (is dovecot-core installed?)"
    getent passwd dovenull >/dev/null || die "user dovenull missing (is dovecot-core installed?)"
}

# ---------------------------------------------------------------- helpers

# Absolute, symlink-free path of DIR ($2 = create to make it first).
absdir() {
    [ -n "${1:-}" ] || die "DIR missing"
    if [ "${2:-}" = create ]; then mkdir -p "$1"; fi
    [ -d "$1" ] || die "no such directory: $1"
    (cd "$1" && pwd -P)
}

# PID of the running master of the instance in $1, or nothing.
master_pid() {
    local pidfile="$1/run/master.pid" pid
    [ -r "$pidfile" ] || return 0
    pid=$(cat "$pidfile" 2>/dev/null || true)
    [[ "$pid" =~ ^[0-9]+$ ]] || return 0
    [ "$(cat "/proc/$pid/comm" 2>/dev/null || true)" = dovecot ] || return 0
    # It must be this instance's master: its command line names our config.
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$1/dovecot.conf" || return 0
    echo "$pid"
}

# The master and all of its descendants, one PID a line. Zombies (exited,
# not yet reaped by whoever inherited them) are left out.
tree_pids() {
    local root="$1"
    ps -e -o pid=,ppid=,stat= | awk -v root="$root" '
        $3 ~ /^Z/ { next }
        { kids[$2] = kids[$2] " " $1; seen[$1] = 1 }
        END {
            if (!(root in seen)) exit
            queue[0] = root; n = 1
            for (i = 0; i < n; i++) {
                print queue[i]
                k = split(kids[queue[i]], c, " ")
                for (j = 1; j <= k; j++) queue[n++] = c[j]
            }
        }'
}

# Probes a LOGIN as user $3 with password $4 on 127.0.0.1 port $1 (plain,
# $2 = plain) or with TLS ($2 = tls).
probe_login() {
    python3 - "$@" <<'EOF'
import imaplib, ssl, sys
port, mode, user, password = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
try:
    if mode == "tls":
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        c = imaplib.IMAP4_SSL("127.0.0.1", port, ssl_context=ctx, timeout=5)
    else:
        c = imaplib.IMAP4("127.0.0.1", port, timeout=5)
    c.login(user, password)
    c.logout()
except Exception as e:
    print(f"probe {mode}:{port}: {e!r}", file=sys.stderr)
    sys.exit(1)
EOF
}

# Probes LMTP on 127.0.0.1 port $1: the greeting and LHLO must be answered.
probe_lmtp() {
    python3 - "$@" <<'EOF'
import smtplib, sys
port = int(sys.argv[1])
try:
    c = smtplib.LMTP("127.0.0.1", port, timeout=5)
    code, _ = c.ehlo()
    c.quit()
    if code != 250:
        raise Exception(f"LHLO answered {code}")
except Exception as e:
    print(f"probe lmtp:{port}: {e!r}", file=sys.stderr)
    sys.exit(1)
EOF
}

# ---------------------------------------------------------------- start

write_config() {
    local dir="$1" imap_port="$2" imaps_port="$3" uid="$4" gid="$5" lmtp_port="${6:-}"
    local dh_line="" login_block protocols=imap lmtp_block=""
    if [ -n "$lmtp_port" ]; then
        # LMTP delivers with the same userdb (and checks the recipient with
        # the same passdb) into the same maildirs the IMAP side reads.
        protocols="imap lmtp"
        # process_limit: Debian's default (default_process_limit is raised
        # above for the imap processes, and auth's client_limit must cover
        # every service that talks to it).
        lmtp_block="service lmtp {
  process_limit = 100
  inet_listener lmtp {
    address = 127.0.0.1
    port = $lmtp_port
  }
}"
    fi
    if [ -r /usr/share/dovecot/dh.pem ]; then
        dh_line="ssl_dh = </usr/share/dovecot/dh.pem"
    fi
    case "$LOGIN_MODE" in
    performance)
        # Long-lived login processes, each serving up to client_limit
        # clients (TLS proxying included); one per core kept ready.
        login_block="  service_count = 0
  process_min_avail = $(nproc)
  process_limit = 64
  client_limit = $MAX_CONN
  vsz_limit = 1G"
        ;;
    security)
        # Debian's default: one login process per connection.
        login_block="  service_count = 1
  process_limit = $MAX_CONN
  client_limit = 1"
        ;;
    *) die "DOVECOT_LOGIN_MODE must be performance or security" ;;
    esac
    local client_limit=$((MAX_CONN * 2 + 100))
    local fts_block=""
    case "$FTS" in
    none) ;;
    xapian)
        # Debian's dovecot-fts-xapian 1.5.5: words and their substrings of
        # 3 to 20 characters are indexed (partial=3 full=20).
        fts_block="mail_plugins = \$mail_plugins fts fts_xapian
plugin {
  fts = xapian
  fts_xapian = partial=3 full=20 verbose=0
  fts_autoindex = yes
  fts_enforced = yes
}"
        ;;
    *) die "DOVECOT_FTS must be none or xapian" ;;
    esac
    cat >"$dir/dovecot.conf" <<EOF
# Generated by tests/bench/dovecot.sh: a standalone benchmark instance.
# Nothing is included from /etc/dovecot. Durability-related settings
# (mail_fsync, index files, locking) are deliberately left at Dovecot's
# defaults; see the comments at the top of dovecot.sh.
protocols = $protocols
listen = 127.0.0.1
base_dir = $dir/run
state_dir = $dir/state
instance_name = dovebench
log_path = $dir/dovecot.log
info_log_path = $dir/dovecot.log
debug_log_path = $dir/dovecot.log

default_internal_user = dovecot
default_login_user = dovenull
mail_uid = $uid
mail_gid = $gid
first_valid_uid = $uid
last_valid_uid = $uid
first_valid_gid = $gid
last_valid_gid = $gid

ssl = yes
ssl_cert = <$dir/cert.pem
ssl_key = <$dir/key.pem
$dh_line

disable_plaintext_auth = no
auth_mechanisms = plain login
passdb {
  driver = passwd-file
  args = scheme=$PASS_SCHEME username_format=%u $dir/passwd
}
userdb {
  driver = static
  args = uid=$uid gid=$gid home=$dir/mail/%u
}

mail_location = maildir:$dir/mail/%u
$fts_block
namespace inbox {
  inbox = yes
  mailbox Drafts {
    auto = subscribe
    special_use = \\Drafts
  }
  mailbox Sent {
    auto = subscribe
    special_use = \\Sent
  }
  mailbox Trash {
    auto = subscribe
    special_use = \\Trash
  }
  mailbox Junk {
    auto = subscribe
    special_use = \\Junk
  }
  mailbox Archive {
    auto = subscribe
    special_use = \\Archive
  }
}

# Limits sized for $MAX_CONN concurrent logged-in connections.
mail_max_userip_connections = 10000
protocol imap {
  mail_max_userip_connections = 10000
  # COMPRESS=DEFLATE (RFC 4978) for scenario 18: imap_zlib needs zlib.
  mail_plugins = \$mail_plugins zlib imap_zlib
}
default_process_limit = $MAX_CONN
default_client_limit = $client_limit

service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $imap_port
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = $imaps_port
    ssl = yes
  }
$login_block
}
service imap {
  process_limit = $MAX_CONN
}
service anvil {
  client_limit = $client_limit
}
service auth {
  client_limit = $client_limit
}
service stats {
  client_limit = $client_limit
}
$lmtp_block
EOF
}

cmd_start() {
    [ $# = 4 ] || [ $# = 5 ] || die "usage: dovecot.sh start DIR IMAP_PORT IMAPS_PORT USERS_FILE [LMTP_PORT]"
    [ "$(id -u)" = 0 ] || die "start needs root (Dovecot's master runs as root)"
    local dir imap_port="$2" imaps_port="$3" users_file="$4" lmtp_port="${5:-}"
    [[ "$imap_port" =~ ^[0-9]+$ && "$imaps_port" =~ ^[0-9]+$ ]] || die "ports must be numbers"
    [[ -z "$lmtp_port" || "$lmtp_port" =~ ^[0-9]+$ ]] || die "ports must be numbers"
    [ -r "$users_file" ] || die "cannot read $users_file"
    command -v dovecot >/dev/null 2>&1 || die "dovecot is not installed; run: dovecot.sh install"
    dir=$(absdir "$1" create)
    [ ${#dir} -le 60 ] || die "DIR path too long for Dovecot's unix sockets: $dir"
    [ -z "$(master_pid "$dir")" ] || die "an instance is already running in $dir"
    ensure_users

    local uid gid
    uid=$(id -u "$MAIL_USER")
    gid=$(id -g "$MAIL_USER")

    # Dovecot's unprivileged processes must reach DIR: every directory on
    # the way must be searchable by others.
    local p="$dir"
    while [ "$p" != / ]; do
        [ "$(stat -c %A "$p" | cut -c10)" != - ] || {
            if [ "$p" = "$dir" ]; then chmod o+x "$p"; else die "$p is not searchable by others (chmod o+x it)"; fi
        }
        p=$(dirname "$p")
    done

    mkdir -p "$dir/run" "$dir/state" "$dir/mail"
    chown "$uid:$gid" "$dir/mail"
    chmod 0700 "$dir/mail"

    # Users: passwd-file "user:{SCHEME}hash::::::" lines.
    local first_user="" first_pass="" line name pass hash prehashed
    : >"$dir/passwd.new"
    while IFS= read -r line || [ -n "$line" ]; do
        line=${line%$'\r'}
        [[ "$line" =~ ^[[:space:]]*(#|$) ]] && continue
        # An optional third column holds a ready "{SCHEME}hash" (the
        # benchmark gives Dovecot the same argon2id hashes roost uses).
        prehashed=""
        if [[ "$line" =~ [[:space:]](\{[A-Z0-9-]+\}[^[:space:]]+)[[:space:]]*$ ]]; then
            prehashed=${BASH_REMATCH[1]}
            line=${line%"$prehashed"}
            line=${line%"${line##*[![:space:]]}"}
        fi
        name=$(sed -E 's/^[[:space:]]*([^[:space:]]+).*/\1/' <<<"$line")
        pass=$(sed -E 's/^[[:space:]]*[^[:space:]]+[[:space:]]+//' <<<"$line")
        [ "$name" != "$line" ] && [ -n "$pass" ] && [ "$pass" != "$line" ] || die "bad line in $users_file: $line"
        [[ "$name" != *:* ]] || die "user name with ':' in $users_file"
        case "$PASS_SCHEME" in
        SHA512-CRYPT) hash=$(printf '%s\n' "$pass" | openssl passwd -6 -stdin) ;;
        PLAIN)
            [[ "$pass" != *:* ]] || die "PLAIN scheme cannot store a password with ':'"
            hash="$pass"
            ;;
        *) die "DOVECOT_PASS_SCHEME must be SHA512-CRYPT or PLAIN" ;;
        esac
        if [ -n "$prehashed" ]; then
            printf '%s:%s::::::\n' "$name" "$prehashed" >>"$dir/passwd.new"
        else
            printf '%s:{%s}%s::::::\n' "$name" "$PASS_SCHEME" "$hash" >>"$dir/passwd.new"
        fi
        if [ -z "$first_user" ]; then
            first_user=$name
            first_pass=$pass
        fi
    done <"$users_file"
    [ -n "$first_user" ] || die "no users in $users_file"
    chown root:dovecot "$dir/passwd.new"
    chmod 0640 "$dir/passwd.new"
    mv -f "$dir/passwd.new" "$dir/passwd"

    if [ ! -s "$dir/cert.pem" ] || [ ! -s "$dir/key.pem" ]; then
        openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj /CN=localhost \
            -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
            -keyout "$dir/key.pem" -out "$dir/cert.pem" >/dev/null 2>&1 || die "openssl failed"
        chmod 0600 "$dir/key.pem"
    fi

    write_config "$dir" "$imap_port" "$imaps_port" "$uid" "$gid" "$lmtp_port"
    doveconf -c "$dir/dovecot.conf" -n >/dev/null || die "invalid configuration: $dir/dovecot.conf"

    # Room for thousands of sockets: the limit is inherited by every
    # Dovecot process.
    rm -f "$dir/run/master.pid"
    local log_start
    log_start=$(($(stat -c %s "$dir/dovecot.log" 2>/dev/null || echo 0) + 1))
    (
        ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
        nofile=$(ulimit -n)
        if [ "$nofile" != unlimited ] && [ "$nofile" -lt $((MAX_CONN * 3)) ]; then
            say "warning: open-file limit $nofile may be too low for $MAX_CONN connections"
        fi
        exec dovecot -c "$dir/dovecot.conf" </dev/null >>"$dir/dovecot.log" 2>&1
    ) || die "dovecot failed to start; see $dir/dovecot.log"

    local deadline=$((SECONDS + 30)) pid="" ok=""
    while [ $SECONDS -lt $deadline ]; do
        pid=$(master_pid "$dir")
        if [ -n "$pid" ] &&
            probe_login "$imap_port" plain "$first_user" "$first_pass" 2>/dev/null &&
            probe_login "$imaps_port" tls "$first_user" "$first_pass" 2>/dev/null &&
            { [ -z "$lmtp_port" ] || probe_lmtp "$lmtp_port" 2>/dev/null; }; then
            ok=1
            break
        fi
        sleep 0.2
    done
    if [ -z "$ok" ]; then
        probe_login "$imap_port" plain "$first_user" "$first_pass" || true
        probe_login "$imaps_port" tls "$first_user" "$first_pass" || true
        [ -z "$lmtp_port" ] || probe_lmtp "$lmtp_port" || true
        tail -n 20 "$dir/dovecot.log" >&2 || true
        [ -z "$pid" ] || cmd_stop "$dir" || true
        die "dovecot did not come up on ports $imap_port/$imaps_port${lmtp_port:+/$lmtp_port}"
    fi
    # Startup warnings (limits too low and the like) deserve attention.
    tail -c "+$log_start" "$dir/dovecot.log" | grep -iE 'warning|error' | tail -n 5 >&2 || true
    echo "$pid"
}

# ---------------------------------------------------------------- stop/pids

cmd_stop() {
    [ $# = 1 ] || die "usage: dovecot.sh stop DIR"
    local dir pid pids left
    dir=$(absdir "$1")
    pid=$(master_pid "$dir")
    if [ -z "$pid" ]; then
        say "no instance running in $dir"
        return 0
    fi
    pids=$(tree_pids "$pid")
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + 60))
    while :; do
        left=""
        for p in $pids; do
            if [ -d "/proc/$p" ] && [ "$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null)" != Z ]; then
                left="$left $p"
            fi
        done
        [ -n "$left" ] || break
        if [ $SECONDS -ge $deadline ]; then
            say "still running after 60 s, sending SIGKILL to:$left"
            # shellcheck disable=SC2086
            kill -KILL $left 2>/dev/null || true
            deadline=$((SECONDS + 10))
        fi
        sleep 0.1
    done
    # Children the master forked after we listed them are gone with it
    # (shutdown_clients = yes); check anyway.
    left=$(tree_pids "$pid")
    [ -z "$left" ] || die "processes left: $left"
    rm -f "$dir/run/master.pid"
}

cmd_pids() {
    [ $# = 1 ] || die "usage: dovecot.sh pids DIR"
    local dir pid
    dir=$(absdir "$1")
    pid=$(master_pid "$dir")
    [ -n "$pid" ] || return 0
    tree_pids "$pid"
}

case "${1:-}" in
install)
    shift
    cmd_install "$@"
    ;;
start)
    shift
    cmd_start "$@"
    ;;
stop)
    shift
    cmd_stop "$@"
    ;;
pids)
    shift
    cmd_pids "$@"
    ;;
*)
    sed -n '2,25p' "$0" >&2
    exit 2
    ;;
esac
