#!/bin/sh
# make demo: start the throwaway mail stack, send a DKIM-signed message through Postfix
# with STARTTLS + AUTH using missive, show what was delivered, read it back over POP3
# (checking the signature) and IMAP (which files it into Archive), stop the stack.
set -eu
LUA=${1:-lua5.4}
BUILD=${BUILD:-build/lua5.4}
cd "$(dirname "$0")/.."
dir=$(mktemp -d /tmp/missive-demo.XXXXXX)
cleanup() { bash spec/support/mailstack.sh stop "$dir" >/dev/null 2>&1 || true; rm -rf "$dir"; }
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
# Another stack (a test run) may hold the default ports: take the first free offset.
n=0
until MAILSTACK_INSTANCE=$n bash spec/support/mailstack.sh start "$dir" </dev/null >/dev/null 2>&1
do
    n=$((n + 1))
    [ $n -lt 10 ] || { echo "demo: could not start the mail stack (see $dir/log)" >&2; exit 1; }
done
. "$dir/mailstack.env"
export LUA_PATH="./lua/?.lua;./lua/?/init.lua;;" LUA_CPATH="$BUILD/?.so;;"
export SMTP_HOST=localhost SMTP_PORT=$MAILSTACK_SUBMISSION_PORT SMTP_CAFILE=$MAILSTACK_CA
export POP3_HOST=localhost POP3_PORT=$MAILSTACK_POP3S_PORT POP3_CAFILE=$MAILSTACK_CA
export IMAP_HOST=localhost IMAP_PORT=${MAILSTACK_IMAPS_PORT:-} IMAP_CAFILE=$MAILSTACK_CA
# a throwaway DKIM key; read.lua is handed its record (no DNS here)
openssl genrsa -out "$dir/dkim.pem" 2048 2>/dev/null
export DKIM_KEY=$dir/dkim.pem DKIM_DOMAIN=localhost DKIM_SELECTOR=demo
DKIM_RECORD="v=DKIM1; k=rsa; p=$(openssl rsa -in "$dir/dkim.pem" -pubout -outform DER \
    2>/dev/null | base64 | tr -d '\n')"
export DKIM_RECORD
echo "== mail stack up: Postfix submission on port $SMTP_PORT, Dovecot POP3S on $POP3_PORT"
echo "== sending with missive (examples/send.lua)"
"$LUA" examples/send.lua
echo "== delivered to bob's Maildir:"
i=0
while [ -z "$(ls "$MAILSTACK_MAILDIR_BASE/bob/new" 2>/dev/null)" ] && [ $i -lt 100 ]; do
    sleep 0.1; i=$((i + 1))
done
cat "$MAILSTACK_MAILDIR_BASE"/bob/new/*
if [ -f examples/read.lua ] && "$LUA" -e 'require "missive.pop3"' 2>/dev/null; then
    echo "== reading it back over POP3 with implicit TLS (examples/read.lua)"
    POP3_USER=bob POP3_PASSWORD=secret "$LUA" examples/read.lua
fi
if [ -n "$IMAP_PORT" ]; then
    echo "== reading it over IMAP with implicit TLS, filing it into Archive (examples/imap.lua)"
    IMAP_USER=bob IMAP_PASSWORD=secret "$LUA" examples/imap.lua
fi
echo "== done"
