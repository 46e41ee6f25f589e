#!/bin/sh
# spec/support/opendkim_verify.sh MESSAGE ZONE - verifies the DKIM signatures of MESSAGE
# with OpenDKIM's library (opendkim-testmsg, Debian opendkim-tools), a verifier
# independent of missive's and of Python's dkim package.
#
# libopendkim asks the system resolver for the key, with no way to hand it a record.  So
# the check runs in network and mount namespaces of its own (root, unshare(1)): only a
# loopback interface, /etc/resolv.conf bound to "nameserver 127.0.0.1", and
# spec/support/dns_server.py answering on 127.0.0.1:53 from ZONE ("name TXT" lines).
# Nothing outside the namespace is asked or changed.
#
# Prints "ok", or "fail: <what opendkim-testmsg said>"; exit status 2 when the check
# cannot run here (no opendkim-testmsg, no unshare permission).  With --probe only says
# whether it can (exit status 0 or 2).
set -u
here=$(cd "$(dirname "$0")" && pwd)
command -v opendkim-testmsg >/dev/null 2>&1 || [ -x /usr/sbin/opendkim-testmsg ] || {
    echo "no opendkim-testmsg (Debian opendkim-tools)"; exit 2; }
PATH=$PATH:/usr/sbin:/sbin
unshare --net --mount true 2>/dev/null || { echo "unshare --net --mount not permitted"; exit 2; }
[ "${1:-}" = --probe ] && exit 0
msg=$1 zone=$2
exec unshare --net --mount sh -s "$msg" "$zone" "$here" <<'INNER'
msg=$1 zone=$2 here=$3
ip link set lo up || exit 2
tmp=$(mktemp -d) || exit 2
trap 'kill $dns 2>/dev/null; rm -rf "$tmp"' EXIT
echo "nameserver 127.0.0.1" > "$tmp/resolv.conf"
mount --bind "$tmp/resolv.conf" /etc/resolv.conf || exit 2
python3 "$here/dns_server.py" "$zone" 53 > "$tmp/port" 2>"$tmp/dns.err" &
dns=$!
i=0
while [ ! -s "$tmp/port" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
[ -s "$tmp/port" ] || { echo "fail: the DNS server did not start: $(cat "$tmp/dns.err")"; exit 1; }
out=$(opendkim-testmsg < "$msg" 2>&1)
rc=$?
if [ $rc -eq 0 ] && [ -z "$out" ]; then echo ok; else echo "fail: ($rc) $out"; exit 1; fi
INNER
