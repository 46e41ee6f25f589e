#!/bin/sh
# tools/deps.sh - make sure the Debian packages a task needs are installed.
#
#   sh tools/deps.sh build|test|demo|bench
#
# Everything present: silent, exit 0 (one dpkg-query call).  Something missing:
# as root, `apt-get update` (skipped with MISSIVE_APT_UPDATED=1) and a
# non-interactive install; otherwise print the exact command to run and exit 1.
# Package lists are space-separated words, split on purpose (no glob chars):
# shellcheck disable=SC2086,SC2116
set -eu

BUILD_PKGS="gcc make pkg-config lua5.4 liblua5.4-dev libmbedtls-dev libidn2-dev libsodium-dev
            ca-certificates"
TEST_PKGS="$BUILD_PKGS lua-busted lua-socket lua-sec lua-check postfix dovecot-core
           lua5.1 liblua5.1-0-dev lua5.2 liblua5.2-dev lua5.3 liblua5.3-dev
           luajit2 libluajit2-5.1-dev nginx libnginx-mod-http-lua lua-resty-core
           dovecot-pop3d dovecot-imapd openssl python3 luarocks clang libclang-rt-14-dev
           valgrind python3-dkim python3-nacl opendkim-tools iproute2"
# bench peers (DESIGN.md): smtp-source comes with postfix, smtplib and imaplib with python3;
# mbsync is isync; imapflow is installed by bench/run.sh with npm into build/bench-node.
BENCH_PKGS="$TEST_PKGS curl stunnel4 isync nodejs"
# Debian packages npm apart from nodejs; a nodejs from elsewhere (NodeSource) brings its own
command -v npm >/dev/null 2>&1 || BENCH_PKGS="$BENCH_PKGS npm"

case "${1:-}" in
    build) want=$BUILD_PKGS ;;
    test|demo) want=$TEST_PKGS ;;
    bench) want=$BENCH_PKGS ;;
    *) echo "usage: sh tools/deps.sh build|test|demo|bench" >&2; exit 2 ;;
esac

if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "deps: no dpkg-query: not a Debian system; install the equivalents of:" >&2
    echo "  $(echo $want)" >&2
    exit 1
fi

# "ii" = installed and configured; packages dpkg never heard of are not listed.
installed=$(dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' $want 2>/dev/null \
            | awk '$1 == "ii" { print $2 }') || true
installed=" $(echo $installed) "
missing=""
for p in $want; do
    case "$installed" in
        *" $p "*) ;;
        *) missing="$missing $p" ;;
    esac
done
[ -z "$missing" ] && exit 0
missing=${missing# }

preseed=""
case " $missing " in
    *" postfix "*)
        # postfix asks which mail setup to configure: none, the stack brings its own
        preseed="echo 'postfix postfix/main_mailer_type select No configuration' | debconf-set-selections && " ;;
esac
cmd="apt-get update && ${preseed}DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing"

if [ "$(id -u)" != 0 ]; then
    echo "deps: missing packages: $missing" >&2
    echo "deps: as root, run:" >&2
    echo "  $cmd" >&2
    exit 1
fi

echo "deps: installing $missing" >&2
# .ci/run has just done it
[ "${MISSIVE_APT_UPDATED:-0}" = 1 ] || apt-get update </dev/null
if [ -n "$preseed" ]; then
    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
fi
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing </dev/null
