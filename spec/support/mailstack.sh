#!/usr/bin/env bash
# mailstack.sh - throwaway Postfix + Dovecot (+ optional nginx/lua) mail stack
# on loopback only, fully contained in one directory. No systemd, no /etc.
#
#   mailstack.sh start  DIR    generate CA+cert, write configs, start daemons
#   mailstack.sh stop   DIR    stop daemons started from DIR (by PID), verify none left
#   mailstack.sh status DIR    show PIDs, listeners and leftover processes
#   mailstack.sh env    DIR    print the shell-sourceable env file (DIR/mailstack.env)
#
# Must run as root (Postfix master and Dovecot master need it).
# Adopted from the team's shared tool; the nginx probe module it installs lives
# next to it in nginx/smtp_probe.lua (resolved relative to this script).
#
# Environment knobs (all optional):
#   MAILSTACK_INSTANCE=N     shift every port by 100*N (N=0..400), collision-free
#                            between instances, so parallel stacks can coexist
#   MAILSTACK_SMTP_PORT / _SMTPS_PORT / _SUBMISSION_PORT / _POP3_PORT /
#   MAILSTACK_POP3S_PORT / _IMAP_PORT / _IMAPS_PORT / _HTTP_PORT   override single ports
#                            (IMAP listens only when dovecot-imapd is installed)
#   MAILSTACK_USERS="alice:secret bob:secret"   POP3/SASL users (domain localhost)
#   MAILSTACK_UID=5000 MAILSTACK_GID=5000       owner of the Maildirs (numeric,
#                            needs no /etc/passwd entry)
#   MAILSTACK_NGINX=1        also start nginx+lua on 127.0.0.1:HTTP_PORT
#   MAILSTACK_IPV6=1         also listen on ::1
#   MAILSTACK_KEYTYPE=ec|rsa key type of the throwaway CA/server cert (default ec)
#   MAILSTACK_SAN=DNS:localhost   subjectAltName of the server cert.  Default has
#                            no IP entries, so verifying against the name
#                            "127.0.0.1" is a hostname mismatch with every
#                            mbedTLS version (2.28 ignores IP SANs, 3.x checks them)
#                            Two more implicit-TLS SMTP listeners present other
#                            leaves of the same CA: SMTPS_IP_PORT IP:127.0.0.1 and
#                            IP:::1, SMTPS_DNSIP_PORT DNS:127.0.0.1 only (a name
#                            spelling an address, which must not match one)
#   MAILSTACK_TLS_DIR=path   reuse ca.crt/server.crt/server.key (and server-ip.*,
#                            server-dnsip.* when there) from there
#   MAILSTACK_LUA_PATH / MAILSTACK_LUA_CPATH   prepended to lua_package_(c)path
#   MAILSTACK_POSTFIX_CHECK=1  let "postfix start" run its full integrity checks
#   MAILSTACK_GRACEFUL_STOP=1  let dovecot's master finish its 1 s exit sleep
#   MAILSTACK_STOP_TIMEOUT_MS=5000  after this, leftover PIDs get SIGKILL
#   MAILSTACK_DEBUG=1        per-phase start timings on stderr
set -euo pipefail

PROG=${0##*/}
die() { echo "$PROG: $*" >&2; exit 1; }
now_ms() { date +%s%3N; }
# MAILSTACK_DEBUG=1: per-phase timings on stderr
phase() { [ "${MAILSTACK_DEBUG:-0}" = 1 ] && echo "  [$(( $(now_ms) - T0 )) ms] $*" >&2; return 0; }

POSTFIX=/usr/sbin/postfix
POSTFIX_MASTER=/usr/lib/postfix/sbin/master
DOVECOT=/usr/sbin/dovecot
NGINX=/usr/sbin/nginx
NGINX_MODDIR=/usr/lib/nginx/modules

setup_vars() {
    [ $# -ge 1 ] || die "usage: $PROG start|stop|status|env DIR"
    mkdir -p -- "$1"
    D=$(realpath -- "$1")
    case "$D" in *[[:space:]\"\'\\\$\`]*) die "DIR must not contain spaces/quotes: $D";; esac
    [ "$D" != / ] || die "refusing DIR=/"
    local n=${MAILSTACK_INSTANCE:-0} off
    [[ $n =~ ^[0-9]+$ ]] || die "MAILSTACK_INSTANCE must be a number"
    off=$((n * 100))
    SMTP_PORT=${MAILSTACK_SMTP_PORT:-$((12525 + off))}
    SMTPS_PORT=${MAILSTACK_SMTPS_PORT:-$((12465 + off))}
    SMTPS_IP_PORT=${MAILSTACK_SMTPS_IP_PORT:-$((12466 + off))}
    SMTPS_DNSIP_PORT=${MAILSTACK_SMTPS_DNSIP_PORT:-$((12467 + off))}
    SUBMISSION_PORT=${MAILSTACK_SUBMISSION_PORT:-$((12587 + off))}
    POP3_PORT=${MAILSTACK_POP3_PORT:-$((11110 + off))}
    POP3S_PORT=${MAILSTACK_POP3S_PORT:-$((11995 + off))}
    IMAP_PORT= IMAPS_PORT=
    if [ -x /usr/lib/dovecot/imap ]; then
        IMAP_PORT=${MAILSTACK_IMAP_PORT:-$((11143 + off))}
        IMAPS_PORT=${MAILSTACK_IMAPS_PORT:-$((11993 + off))}
    fi
    HTTP_PORT=${MAILSTACK_HTTP_PORT:-$((18080 + off))}
    USERS=${MAILSTACK_USERS:-alice:secret bob:secret}
    MUID=${MAILSTACK_UID:-5000}
    MGID=${MAILSTACK_GID:-5000}
    WITH_NGINX=${MAILSTACK_NGINX:-0}
    IPV6=${MAILSTACK_IPV6:-0}
    KEYTYPE=${MAILSTACK_KEYTYPE:-ec}
    PF_CONF=$D/postfix/etc
    PF_SPOOL=$D/postfix/spool
    PF_DATA=$D/postfix/data
    DC_CONF=$D/dovecot/dovecot.conf
    DC_RUN=$D/dovecot/run
    NG_DIR=$D/nginx
    PF_PIDFILE=$PF_SPOOL/pid/master.pid
    DC_PIDFILE=$DC_RUN/master.pid
    NG_PIDFILE=$NG_DIR/nginx.pid
}

# ---------------------------------------------------------------- helpers
# alive = exists and is not a zombie.  NB: in this sandbox PID 1 reaps orphaned
# zombies only every ~1.5 s, so "kill -0" alone would report dead daemons alive.
pid_alive() {
    [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null || return 1
    local st
    st=$(cut -d')' -f2 "/proc/$1/stat" 2>/dev/null | awk '{print $1}')
    [ -n "$st" ] && [ "$st" != Z ]
}
read_pid() { [ -s "$1" ] && awk 'NR==1{print $1}' "$1" || true; }

# PID from pidfile, only if it is alive AND its executable is the expected one
# (guards against recycled PIDs).
owned_pid() { # pidfile exe
    local p exe
    p=$(read_pid "$1")
    [ -n "$p" ] && pid_alive "$p" || return 0
    exe=$(readlink "/proc/$p/exe" 2>/dev/null || true)
    [ "$exe" = "$2" ] && echo "$p"
    return 0
}

descendants() { # pid -> all descendant pids (recursive)
    local p c
    for p in "$@"; do
        for c in $(cat /proc/"$p"/task/*/children 2>/dev/null); do
            echo "$c"; descendants "$c"
        done
    done
}

# Daemon processes whose cwd or root lies inside $D (Postfix daemons chdir to the
# queue dir, Dovecot login processes chroot into DIR/dovecot/run/login, nginx
# workers keep the prefix as cwd).  Only our daemon executables count: a user's
# shell or test runner that merely sits in DIR is never reported (or killed).
procs_in_dir() {
    local p exe
    for p in $(find /proc -mindepth 2 -maxdepth 2 \( -name cwd -o -name root \) \
                 \( -lname "$D" -o -lname "$D/*" \) 2>/dev/null | cut -d/ -f3 | sort -un); do
        [ "$p" = $$ ] && continue
        pid_alive "$p" || continue
        exe=$(readlink "/proc/$p/exe" 2>/dev/null || true)
        case "$exe" in
            /usr/lib/postfix/sbin/*|/usr/sbin/dovecot|/usr/lib/dovecot/*|/usr/sbin/nginx) echo "$p" ;;
        esac
    done
    return 0
}

# is anything LISTENing on TCP port $1 (any address)?  Reads /proc/net/tcp{,6}
# instead of connecting, so readiness polling leaves no noise in the daemon logs
# and never pokes somebody else's service.
port_busy() {
    local hex f
    hex=$(printf '%04X' "$1")
    for f in /proc/net/tcp /proc/net/tcp6; do
        [ -r "$f" ] || continue
        # fields: sl local_address rem_address st ...; st 0A = LISTEN
        while read -r _ local _ st _; do
            [ "$st" = 0A ] && [ "${local##*:}" = "$hex" ] && return 0
        done <"$f"
    done
    return 1
}

wait_ports() { # timeout_ms port...
    local deadline=$(( $(now_ms) + $1 )); shift
    local p
    for p in "$@"; do
        until port_busy "$p"; do
            [ "$(now_ms)" -lt "$deadline" ] || return 1
            sleep 0.01
        done
    done
}

# ---------------------------------------------------------------- TLS
gen_tls() {
    local t=$D/tls f
    [ -s "$t/server.crt" ] && [ -s "$t/server.key" ] && [ -s "$t/ca.crt" ] && return 0
    mkdir -p "$t"; chmod 755 "$t"
    if [ -n "${MAILSTACK_TLS_DIR:-}" ]; then
        # reuse a CA/cert made by an earlier stack (saves ~100-300 ms per start)
        for f in ca.crt server.crt server.key; do
            [ -s "$MAILSTACK_TLS_DIR/$f" ] || die "MAILSTACK_TLS_DIR lacks $f"
        done
        cp "$MAILSTACK_TLS_DIR"/{ca.crt,server.crt,server.key} "$t/"
        for f in server-ip.crt server-ip.key server-dnsip.crt server-dnsip.key; do
            [ -s "$MAILSTACK_TLS_DIR/$f" ] && cp "$MAILSTACK_TLS_DIR/$f" "$t/"
        done
    else
        local newkey
        case "$KEYTYPE" in
            ec)  newkey=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1) ;;
            rsa) newkey=(-newkey rsa:2048) ;;
            *)   die "MAILSTACK_KEYTYPE must be ec or rsa" ;;
        esac
        (
            umask 077
            openssl req -x509 "${newkey[@]}" -nodes -days 30 \
                -keyout "$t/ca.key" -out "$t/ca.crt" \
                -subj "/O=mailstack/CN=mailstack throwaway CA $(basename "$D")" \
                -addext "basicConstraints=critical,CA:TRUE" \
                -addext "keyUsage=critical,keyCertSign,cRLSign" 2>"$t/openssl.err"
            # OpenSSL 3: "req -x509 -CA" issues the leaf directly (no CSR/x509 step)
            openssl req -x509 "${newkey[@]}" -nodes -days 30 \
                -CA "$t/ca.crt" -CAkey "$t/ca.key" \
                -keyout "$t/server.key" -out "$t/server.crt" \
                -subj "/O=mailstack/CN=localhost" \
                -addext "basicConstraints=critical,CA:FALSE" \
                -addext "keyUsage=critical,digitalSignature,keyEncipherment" \
                -addext "extendedKeyUsage=serverAuth" \
                -addext "subjectAltName=${MAILSTACK_SAN:-DNS:localhost}" 2>>"$t/openssl.err"
            # leaf NAME CN SAN: the other listeners' certificates, same CA
            leaf() {
                openssl req -x509 "${newkey[@]}" -nodes -days 30 \
                    -CA "$t/ca.crt" -CAkey "$t/ca.key" \
                    -keyout "$t/$1.key" -out "$t/$1.crt" -subj "/O=mailstack/CN=$2" \
                    -addext "basicConstraints=critical,CA:FALSE" \
                    -addext "keyUsage=critical,digitalSignature,keyEncipherment" \
                    -addext "extendedKeyUsage=serverAuth" \
                    -addext "subjectAltName=$3" 2>>"$t/openssl.err"
            }
            leaf server-ip mailstack-ip "IP:127.0.0.1,IP:::1"
            leaf server-dnsip 127.0.0.1 "DNS:127.0.0.1"
        ) || { cat "$t/openssl.err" >&2; die "openssl failed"; }
        rm -f "$t/openssl.err"
    fi
    cat "$t/server.crt" "$t/ca.crt" >"$t/fullchain.crt"
    chmod 644 "$t/ca.crt" "$t/server.crt" "$t/fullchain.crt"
    chmod 600 "$t/server.key"; [ -f "$t/ca.key" ] && chmod 600 "$t/ca.key"
    for f in server-ip server-dnsip; do
        [ -f "$t/$f.key" ] && chmod 600 "$t/$f.key" && chmod 644 "$t/$f.crt"
    done
    return 0
}

# ---------------------------------------------------------------- users/mail
write_users() {
    local u name pass
    mkdir -p "$D/mail" "$D/dovecot"
    chown "$MUID:$MGID" "$D/mail"; chmod 750 "$D/mail"
    : >"$D/dovecot/users.tmp"; : >"$PF_CONF/vmailbox.tmp"
    for u in $USERS; do
        name=${u%%:*}; pass=${u#*:}
        # passwd-file: user:password:uid:gid:(gecos):home:(shell):extra
        echo "$name:{PLAIN}$pass:$MUID:$MGID::$D/mail/$name::" >>"$D/dovecot/users.tmp"
        echo "$name@localhost $name/" >>"$PF_CONF/vmailbox.tmp"
        install -d -o "$MUID" -g "$MGID" -m 700 \
            "$D/mail/$name" "$D/mail/$name/cur" "$D/mail/$name/new" "$D/mail/$name/tmp"
    done
    # a recipient Postfix accepts and then bounces (transport_maps below: local(8),
    # which knows no such Unix user): the DSN it writes comes back to the sender
    echo "nomailbox@localhost nomailbox/" >>"$PF_CONF/vmailbox.tmp"
    mv "$D/dovecot/users.tmp" "$D/dovecot/users"
    mv "$PF_CONF/vmailbox.tmp" "$PF_CONF/vmailbox"
    # auth process (user dovecot) reads it; contains throwaway plaintext passwords
    chown root:dovecot "$D/dovecot/users"; chmod 640 "$D/dovecot/users"
}

# ---------------------------------------------------------------- dovecot
write_dovecot() {
    # fresh base_dir on every start: stale sockets from an earlier run (e.g. the
    # disabled anvil-auth-penalty listener below) make auth retry connect() for 5 s
    rm -rf "$DC_RUN"
    mkdir -p "$D/dovecot/state" "$DC_RUN"
    local listen=127.0.0.1
    [ "$IPV6" = 1 ] && listen="127.0.0.1, ::1"
    local protocols=pop3
    [ -n "$IMAP_PORT" ] && protocols="pop3 imap"
    cat >"$DC_CONF" <<EOF
# generated by mailstack.sh - do not edit, regenerated on every start
protocols = $protocols
listen = $listen
instance_name = mailstack-$(printf %s "$D" | md5sum | cut -c1-10)
base_dir = $DC_RUN
state_dir = $D/dovecot/state
log_path = $D/log/dovecot.log
info_log_path = $D/log/dovecot.log
verbose_proctitle = yes
auth_verbose = yes

ssl = yes
ssl_cert = <$D/tls/server.crt
ssl_key = <$D/tls/server.key
ssl_min_protocol = TLSv1.2

# tests want to exercise AUTH over plain TCP too
disable_plaintext_auth = no
auth_mechanisms = plain login cram-md5 apop
first_valid_uid = 100
mail_location = maildir:~
login_greeting = mailstack POP3 ready

passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%n $D/dovecot/users
}
userdb {
  driver = passwd-file
  args = username_format=%n $D/dovecot/users
}

service pop3-login {
  inet_listener pop3 {
    port = $POP3_PORT
  }
  inet_listener pop3s {
    port = $POP3S_PORT
    ssl = yes
  }
}
# GOTCHA for test suites: by default every failed AUTH is answered after 2 s and
# anvil adds a per-IP penalty doubling up to 15 s that then also delays *successful*
# logins from 127.0.0.1 (one bad-password test made later tests take 8-18 s).
auth_failure_delay = 0
service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
# SASL for Postfix smtpd (smtpd_sasl_type = dovecot)
service auth {
  unix_listener auth-postfix {
    mode = 0660
    user = postfix
    group = postfix
  }
}
EOF
    [ -n "$IMAP_PORT" ] || return 0
    # IMAP: STARTTLS on IMAP_PORT, implicit TLS on IMAPS_PORT; the special-use
    # folders (RFC 6154) exist and are subscribed from the first login on; COMPRESS
    # (RFC 4978) when the imap_zlib plugin is installed.
    local zlib=""
    [ -e /usr/lib/dovecot/modules/lib30_imap_zlib_plugin.so ] \
        && zlib='mail_plugins = $mail_plugins zlib imap_zlib'
    cat >>"$DC_CONF" <<EOF
service imap-login {
  inet_listener imap {
    port = $IMAP_PORT
  }
  inet_listener imaps {
    port = $IMAPS_PORT
    ssl = yes
  }
}
protocol imap {
  login_greeting = mailstack IMAP ready
  $zlib
}
namespace inbox {
  inbox = yes
  separator = /
  mailbox Sent {
    special_use = \\Sent
    auto = subscribe
  }
  mailbox Drafts {
    special_use = \\Drafts
    auto = subscribe
  }
  mailbox Trash {
    special_use = \\Trash
    auto = subscribe
  }
  mailbox Junk {
    special_use = \\Junk
    auto = subscribe
  }
  mailbox Archive {
    special_use = \\Archive
    auto = subscribe
  }
}
EOF
}

# ---------------------------------------------------------------- postfix
write_postfix() {
    mkdir -p "$PF_CONF" "$D/log"
    local ifaces=127.0.0.1 protos=ipv4 nets=127.0.0.0/8
    if [ "$IPV6" = 1 ]; then ifaces="127.0.0.1, [::1]"; protos=all; nets="127.0.0.0/8 [::1]/128"; fi
    cat >"$PF_CONF/main.cf" <<EOF
# generated by mailstack.sh - do not edit, regenerated on every start
compatibility_level = 3.6
queue_directory = $PF_SPOOL
data_directory = $PF_DATA
mail_owner = postfix
setgid_group = postdrop
syslog_name = mailstack-postfix
maillog_file = $D/log/maillog
maillog_file_prefixes = $D/log

myhostname = localhost
mydomain = localhost
myorigin = localhost
mydestination =
inet_interfaces = $ifaces
inet_protocols = $protos
mynetworks = $nets
smtpd_banner = \$myhostname ESMTP mailstack
biff = no
append_dot_mydomain = no
recipient_delimiter = +

# all mail for @localhost goes to Maildirs that Dovecot serves
virtual_mailbox_domains = localhost
virtual_mailbox_base = $D/mail
virtual_mailbox_maps = texthash:$PF_CONF/vmailbox
virtual_uid_maps = static:$MUID
virtual_gid_maps = static:$MGID
virtual_minimum_uid = 100
# never deliver anything off this box
local_transport = error:5.1.1 mailstack: local(8) delivery disabled
alias_maps =
alias_database =
local_recipient_maps =
default_transport = discard:mailstack: external delivery disabled
relay_transport = discard:mailstack: external delivery disabled

smtpd_tls_cert_file = $D/tls/server.crt
smtpd_tls_key_file = $D/tls/server.key
smtpd_tls_security_level = may
smtpd_tls_loglevel = 1
smtpd_tls_received_header = yes
smtp_tls_security_level = none

smtpd_sasl_auth_enable = yes
smtpd_sasl_type = dovecot
smtpd_sasl_path = $DC_RUN/auth-postfix
smtpd_tls_auth_only = no
smtpd_relay_restrictions = permit_sasl_authenticated, reject_unauth_destination

# fast, deterministic test behaviour
smtpd_peername_lookup = no
smtpd_error_sleep_time = 0
in_flow_delay = 0
message_size_limit = 52428800
virtual_mailbox_limit = 0
delay_warning_time = 0
transport_maps = texthash:$PF_CONF/transport
mailbox_size_limit = 0
EOF
    echo "nomailbox@localhost local:" >"$PF_CONF/transport"
    cat >"$PF_CONF/master.cf" <<EOF
# generated by mailstack.sh.  All services chroot=n (no chroot jail to populate).
# service            type  private unpriv chroot wakeup maxproc command
127.0.0.1:$SMTP_PORT inet  n       -      n      -      -       smtpd
127.0.0.1:$SMTPS_PORT inet n       -      n      -      -       smtpd
  -o syslog_name=mailstack-postfix/smtps
  -o smtpd_tls_wrappermode=yes
  -o smtpd_client_restrictions=permit_sasl_authenticated,reject
127.0.0.1:$SUBMISSION_PORT inet n  -      n      -      -       smtpd
  -o syslog_name=mailstack-postfix/submission
  -o smtpd_tls_security_level=encrypt
  -o smtpd_tls_auth_only=yes
  -o smtpd_client_restrictions=permit_sasl_authenticated,reject
EOF
    local leaf port
    for leaf in ip:$SMTPS_IP_PORT dnsip:$SMTPS_DNSIP_PORT; do
        port=${leaf#*:}; leaf=${leaf%%:*}
        [ -s "$D/tls/server-$leaf.crt" ] || continue
        cat >>"$PF_CONF/master.cf" <<EOF
127.0.0.1:$port inet n       -      n      -      -       smtpd
  -o syslog_name=mailstack-postfix/smtps-$leaf
  -o smtpd_tls_wrappermode=yes
  -o smtpd_tls_cert_file=$D/tls/server-$leaf.crt
  -o smtpd_tls_key_file=$D/tls/server-$leaf.key
EOF
    done
    if [ "$IPV6" = 1 ]; then
        cat >>"$PF_CONF/master.cf" <<EOF
[::1]:$SMTP_PORT     inet  n       -      n      -      -       smtpd
[::1]:$SMTPS_PORT    inet  n       -      n      -      -       smtpd
  -o syslog_name=mailstack-postfix/smtps
  -o smtpd_tls_wrappermode=yes
  -o smtpd_client_restrictions=permit_sasl_authenticated,reject
EOF
    fi
    cat >>"$PF_CONF/master.cf" <<'EOF'
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
    chmod 644 "$PF_CONF/main.cf" "$PF_CONF/master.cf" "$PF_CONF/vmailbox" "$PF_CONF/transport"
    # GOTCHA: Postfix re-reads "hot" files (mtime within the last ~1-2 s) and sleeps
    # 300 ms per retry "to let them cool down" (dict_load_file) -> 1.5-2 s extra
    # startup for main.cf, and the same again in every daemon opening texthash:
    # vmailbox.  Backdate the generated files.
    touch -d "@$(( $(date +%s) - 60 ))" "$PF_CONF/main.cf" "$PF_CONF/master.cf" "$PF_CONF/vmailbox" \
        "$PF_CONF/transport"
}

# ---------------------------------------------------------------- nginx
write_nginx() {
    mkdir -p "$NG_DIR"/{logs,tmp,lua}
    local here
    here=$(dirname "$(realpath "$0")")
    cp "$here/nginx/smtp_probe.lua" "$NG_DIR/lua/"
    local listen6="" lua_path lua_cpath
    [ "$IPV6" = 1 ] && listen6="listen [::1]:$HTTP_PORT;"
    lua_path="$NG_DIR/lua/?.lua;${MAILSTACK_LUA_PATH:+$MAILSTACK_LUA_PATH;};"
    lua_cpath="${MAILSTACK_LUA_CPATH:-};;"
    cat >"$NG_DIR/nginx.conf" <<EOF
# generated by mailstack.sh
load_module $NGINX_MODDIR/ndk_http_module.so;
load_module $NGINX_MODDIR/ngx_http_lua_module.so;
worker_processes 1;
pid $NG_PIDFILE;
error_log $NG_DIR/logs/error.log warn;
events { worker_connections 256; }
http {
    access_log $NG_DIR/logs/access.log;
    client_body_temp_path $NG_DIR/tmp/body;
    proxy_temp_path       $NG_DIR/tmp/proxy;
    fastcgi_temp_path     $NG_DIR/tmp/fastcgi;
    uwsgi_temp_path       $NG_DIR/tmp/uwsgi;
    scgi_temp_path        $NG_DIR/tmp/scgi;
    default_type text/plain;

    # ";;" = append LuaJIT's default path (where Debian's lua-resty-core lives)
    lua_package_path  "$lua_path";
    lua_package_cpath "$lua_cpath";
    # for cosocket sslhandshake(verify=true) against the throwaway CA
    lua_ssl_trusted_certificate $D/tls/ca.crt;
    lua_ssl_verify_depth 2;

    server {
        listen 127.0.0.1:$HTTP_PORT;
        $listen6
        # 127.0.0.1:$SMTP_PORT plain EHLO/QUIT, returns the EHLO reply
        location = /smtp/ehlo {
            content_by_lua_block { require("smtp_probe").ehlo("127.0.0.1", $SMTP_PORT) }
        }
        # EHLO, STARTTLS, cosocket sslhandshake (verify against CA), EHLO, AUTH PLAIN
        location = /smtp/starttls {
            content_by_lua_block { require("smtp_probe").starttls("127.0.0.1", $SMTP_PORT, "alice", "secret") }
        }
        # implicit TLS POP3: USER/PASS/STAT
        location = /pop3/stat {
            content_by_lua_block { require("smtp_probe").pop3s_stat("127.0.0.1", $POP3S_PORT, "alice", "secret") }
        }
        location = /luainfo {
            content_by_lua_block {
                ngx.say("nginx ", ngx.var.nginx_version, ", ngx_lua ", ngx.config.ngx_lua_version,
                        ", ", jit and jit.version or _VERSION,
                        ", resty.core loaded: ", tostring(package.loaded["resty.core"] ~= nil))
                ngx.say("package.path  = ", package.path)
                ngx.say("package.cpath = ", package.cpath)
            }
        }
        # require() an arbitrary Lua/C module: /require?m=name
        location = /require {
            content_by_lua_block {
                local name = ngx.var.arg_m or "cjson"
                local ok, mod = pcall(require, name)
                if not ok then ngx.status = 500; ngx.say("require failed: ", mod); return end
                if type(mod) == "table" and mod.hello then ngx.say(mod.hello()) else ngx.say(tostring(mod)) end
            }
        }
    }
}
EOF
}

write_env() {
    cat >"$D/mailstack.env" <<EOF
MAILSTACK_DIR=$D
MAILSTACK_HOST=127.0.0.1
MAILSTACK_SMTP_PORT=$SMTP_PORT
MAILSTACK_SMTPS_PORT=$SMTPS_PORT
MAILSTACK_SMTPS_IP_PORT=$( [ -s "$D/tls/server-ip.crt" ] && echo "$SMTPS_IP_PORT" )
MAILSTACK_SMTPS_DNSIP_PORT=$( [ -s "$D/tls/server-dnsip.crt" ] && echo "$SMTPS_DNSIP_PORT" )
MAILSTACK_SUBMISSION_PORT=$SUBMISSION_PORT
MAILSTACK_POP3_PORT=$POP3_PORT
MAILSTACK_POP3S_PORT=$POP3S_PORT
MAILSTACK_IMAP_PORT=$IMAP_PORT
MAILSTACK_IMAPS_PORT=$IMAPS_PORT
MAILSTACK_HTTP_PORT=$( [ "$WITH_NGINX" = 1 ] && echo "$HTTP_PORT" )
MAILSTACK_CA=$D/tls/ca.crt
MAILSTACK_MAILDIR_BASE=$D/mail
MAILSTACK_USERS="$USERS"
MAILSTACK_MAILLOG=$D/log/maillog
MAILSTACK_DOVECOT_LOG=$D/log/dovecot.log
EOF
}

# ---------------------------------------------------------------- commands
# a failed start must not leave half a stack running
start_fail() { cmd_stop >/dev/null 2>&1 || true; die "$@"; }

cmd_start() {
    [ "$(id -u)" = 0 ] || die "must run as root (Postfix/Dovecot masters need it)"
    local t0 t1 p
    t0=$(now_ms); T0=$t0
    if [ -n "$(owned_pid "$PF_PIDFILE" "$POSTFIX_MASTER")$(owned_pid "$DC_PIDFILE" "$DOVECOT")$(owned_pid "$NG_PIDFILE" "$NGINX")" ]; then
        die "a stack is already running from $D (use: $PROG stop $D)"
    fi
    local ports="$SMTP_PORT $SMTPS_PORT $SUBMISSION_PORT $POP3_PORT $POP3S_PORT $IMAP_PORT $IMAPS_PORT"
    [ "$WITH_NGINX" = 1 ] && ports="$ports $HTTP_PORT"
    local extra_ports="$SMTPS_IP_PORT $SMTPS_DNSIP_PORT"
    for p in $ports $extra_ports; do
        port_busy "$p" && die "port 127.0.0.1:$p already in use (set MAILSTACK_INSTANCE=N to shift ports)"
    done
    # daemons run as postfix/dovecot/dovenull/uid $MUID: they must traverse DIR
    # (mktemp -d creates 0700 dirs -> "Permission denied" in every daemon)
    chmod 755 "$D"
    mkdir -p "$D/log"; chmod 755 "$D/log"
    gen_tls
    [ -s "$D/tls/server-ip.crt" ] && ports="$ports $SMTPS_IP_PORT"
    [ -s "$D/tls/server-dnsip.crt" ] && ports="$ports $SMTPS_DNSIP_PORT"
    phase tls
    # queue_directory must exist before "postfix start" (it chdir()s there first)
    mkdir -p "$PF_CONF" "$PF_SPOOL"; chmod 755 "$D/postfix" "$PF_CONF" "$PF_SPOOL"
    if [ "${MAILSTACK_POSTFIX_CHECK:-0}" != 1 ]; then
        # Create the queue tree exactly as /etc/postfix/postfix-files wants it and
        # drop the "quick-start" marker, so postfix-script skips check-fatal
        # (post-install create-missing: ~20 postconf forks) and check-warn.
        # Saves ~250 ms per start.  MAILSTACK_POSTFIX_CHECK=1 = full checks.
        install -d -o postfix -g root -m 700 "$PF_DATA" \
            "$PF_SPOOL"/{active,bounce,corrupt,defer,deferred,flush,hold,incoming,private,saved,trace}
        install -d -o postfix -g postdrop -m 730 "$PF_SPOOL/maildrop"
        install -d -o postfix -g postdrop -m 710 "$PF_SPOOL/public"
        install -d -o root -g root -m 755 "$PF_SPOOL/pid"
        : >"$PF_SPOOL/quick-start"
    fi
    write_users
    write_dovecot
    write_postfix
    write_env
    phase configs

    # Dovecot first, so Postfix's SASL socket exists when smtpd starts
    # NB: dovecot master keeps the stderr it was started with open forever -> a caller
    # capturing our output through a pipe would hang; give it a file instead.
    "$DOVECOT" -c "$DC_CONF" </dev/null >>"$D/log/dovecot.stderr" 2>&1 \
        || { cat "$D/log/dovecot.stderr" >&2; die "dovecot failed to start, see $D/log/dovecot.log"; }
    phase dovecot

    # "postfix start" -> postfix-script (checks skipped if quick-start exists) ->
    # "master -w", which returns once the master daemon has initialised.
    if ! "$POSTFIX" -c "$PF_CONF" start </dev/null >"$D/log/postfix-start.log" 2>&1; then
        cat "$D/log/postfix-start.log" >&2; tail -3 "$D/log/maillog" >&2 || true
        start_fail "postfix failed to start, see $D/log/maillog"
    fi
    phase postfix
    if [ "$WITH_NGINX" = 1 ]; then
        write_nginx
        "$NGINX" -p "$NG_DIR" -c "$NG_DIR/nginx.conf" -e "$NG_DIR/logs/error.log" \
            </dev/null >>"$NG_DIR/logs/stderr.log" 2>&1 \
            || { cat "$NG_DIR/logs/stderr.log" >&2; start_fail "nginx failed to start, see $NG_DIR/logs/error.log"; }
        phase nginx
    fi
    wait_ports 10000 $ports || start_fail "daemons did not open all ports ($ports) within 10s; see $D/log"
    phase ports
    t1=$(now_ms)
    cat <<EOF
mailstack up in $((t1 - t0)) ms  (DIR=$D)
  SMTP  127.0.0.1:$SMTP_PORT (STARTTLS, AUTH)   SMTPS 127.0.0.1:$SMTPS_PORT (implicit TLS, AUTH required)
  SUBMISSION 127.0.0.1:$SUBMISSION_PORT (STARTTLS + AUTH required)
  POP3  127.0.0.1:$POP3_PORT (STLS)             POP3S 127.0.0.1:$POP3S_PORT
EOF
    [ -n "$IMAP_PORT" ] && echo "  IMAP  127.0.0.1:$IMAP_PORT (STARTTLS)         IMAPS 127.0.0.1:$IMAPS_PORT"
    [ "$WITH_NGINX" = 1 ] && echo "  HTTP  127.0.0.1:$HTTP_PORT (nginx + lua cosocket probes)"
    echo "  users: $USERS   CA: $D/tls/ca.crt   env: $D/mailstack.env"
}

# Stop all masters in parallel: SIGTERM each master PID, then wait until the
# master and every descendant it had are gone.  Only PIDs read from our own
# pidfiles (exe verified) and their descendants are ever signalled.
cmd_stop() {
    local t0 pf dc ng left p all dc_kids deadline dc_quiet=""
    t0=$(now_ms)
    ng=$(owned_pid "$NG_PIDFILE" "$NGINX")
    pf=$(owned_pid "$PF_PIDFILE" "$POSTFIX_MASTER")
    dc=$(owned_pid "$DC_PIDFILE" "$DOVECOT")
    all="$ng $pf $dc $(descendants $ng $pf $dc)"
    dc_kids=$(descendants $dc)
    for p in $ng $pf $dc; do kill -TERM "$p" 2>/dev/null || true; done
    deadline=$(( $(now_ms) + ${MAILSTACK_STOP_TIMEOUT_MS:-5000} ))
    while :; do
        left=""
        for p in $all; do pid_alive "$p" && left="$left $p"; done
        [ -z "$left" ] && break
        # Dovecot's master, once its services are gone, SIGQUITs its "log" child and
        # then sleep(1)s unconditionally; log exits when master finally closes its
        # fds -> every stop costs ~1.1 s.  When only the log child is left there is
        # nothing more to do: SIGKILL the master (log then sees EOF and exits).
        # MAILSTACK_GRACEFUL_STOP=1 disables this shortcut.
        if [ -n "$dc" ] && [ "${MAILSTACK_GRACEFUL_STOP:-0}" != 1 ] && pid_alive "$dc"; then
            local kid_alive=""
            for p in $dc_kids; do
                pid_alive "$p" && [ "$(cat /proc/"$p"/comm 2>/dev/null)" != log ] && kid_alive=1
            done
            if [ -z "$kid_alive" ]; then
                if [ -z "$dc_quiet" ]; then dc_quiet=$(now_ms)
                elif [ $(( $(now_ms) - dc_quiet )) -ge 50 ]; then kill -KILL "$dc" 2>/dev/null || true
                fi
            fi
        fi
        if [ "$(now_ms)" -ge "$deadline" ]; then
            echo "$PROG: SIGKILL to leftover pids:$left" >&2
            for p in $left; do kill -KILL "$p" 2>/dev/null || true; done
            sleep 0.05
            break
        fi
        sleep 0.01
    done
    # safety net: anything still living with cwd/root inside DIR was started by us
    # (Postfix daemons chdir to the queue dir, Dovecot login processes chroot into
    # DIR/dovecot/run/login, nginx workers run with cwd = prefix)
    left=$(procs_in_dir | tr '\n' ' ')
    if [ -n "${left// /}" ]; then
        echo "$PROG: leftover processes in $D: $left -> SIGKILL" >&2
        for p in $left; do kill -KILL "$p" 2>/dev/null || true; done
        sleep 0.05
        left=$(procs_in_dir | tr '\n' ' ')
        [ -z "${left// /}" ] || die "processes still alive: $left"
    fi
    rm -f "$NG_PIDFILE" "$DC_PIDFILE" "$PF_PIDFILE"
    echo "mailstack stopped in $(( $(now_ms) - t0 )) ms (postfix=${pf:--} dovecot=${dc:--} nginx=${ng:--}); no processes left in $D"
}

cmd_status() {
    local pf dc ng
    pf=$(owned_pid "$PF_PIDFILE" "$POSTFIX_MASTER")
    dc=$(owned_pid "$DC_PIDFILE" "$DOVECOT")
    ng=$(owned_pid "$NG_PIDFILE" "$NGINX")
    echo "postfix master: ${pf:-not running}"
    echo "dovecot master: ${dc:-not running}"
    echo "nginx master:   ${ng:-not running}"
    echo "processes inside $D: $(procs_in_dir | tr '\n' ' ')"
    if command -v ss >/dev/null; then
        local pids
        # shellcheck disable=SC2046,SC2086  # intended word splitting of PID lists
        pids=$(printf '%s\n' $pf $dc $ng $(descendants $pf $dc $ng) | sort -u | paste -sd'|')
        [ -n "$pids" ] && ss -ltnpH | grep -E "pid=($pids)," || true
    fi
    [ -n "$pf$dc" ]
}

case "${1:-}" in
    start)  shift; setup_vars "$@"; cmd_start ;;
    stop)   shift; setup_vars "$@"; cmd_stop ;;
    status) shift; setup_vars "$@"; cmd_status ;;
    env)    shift; setup_vars "$@"; cat "$D/mailstack.env" ;;
    *) die "usage: $PROG start|stop|status|env DIR" ;;
esac
