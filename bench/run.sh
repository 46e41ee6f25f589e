#!/bin/sh
# bench/run.sh [LUA] - missive side by side with its peers, on loopback, in one run.
# Run by `make bench` (BUILD=build/lua5.4).  Every figure is the median of several
# runs; results go to bench/results/raw.tsv, then bench/report.lua prints the table and
# writes bench/results/latest.md.  Never part of `make test`; asserts no timing.
# Knobs: BENCH_RUNS (5), BENCH_QUICK=1 (smaller counts),
# BENCH_ONLY="smtp pop3 imap mime mem sess hdr dkim" (hdr: header parsing growth,
# bench/mime_headers.lua; imap: needs node + npm and mbsync, bench/imap_*).
set -u
LUA=${1:-lua5.4}
BUILD=${BUILD:-build/lua5.4}
cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)
RUNS=${BENCH_RUNS:-5}
ONLY=${BENCH_ONLY:-"smtp pop3 imap mime mem sess hdr dkim"}
PY=$(python3 -c 'import sys; print(sys.executable)')   # resolve the pyenv shim once
export LUA_PATH="$ROOT/?.lua;$ROOT/lua/?.lua;$ROOT/lua/?/init.lua;;"
export LUA_CPATH="$ROOT/$BUILD/?.so;;"
OUT=bench/results
mkdir -p "$OUT"
RAW=$OUT/raw.tsv
: > "$RAW"
WORK=$(mktemp -d /tmp/missive-bench.XXXXXX)
chmod 755 "$WORK"
SINK_PIDS=""
cleanup() {
    for p in $SINK_PIDS; do kill "$p" 2>/dev/null; done
    [ -f "$WORK/stack/mailstack.env" ] && MAILSTACK_INSTANCE=9 bash spec/support/mailstack.sh stop "$WORK/stack" >/dev/null 2>&1
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

rec() { printf '%s\t%s\n' "$1" "$2" >> "$RAW"; printf '  %-40s %s\n' "$1" "$2"; }
# Runs a command that prints "key<TAB>value" lines; records them.
run() { "$@" 2>>"$WORK/errors.log" | while IFS="$(printf '\t')" read -r k v; do rec "$k" "$v"; done; }
now() { date +%s.%N; }
# median of the numbers on stdin
med() { sort -g | awk '{a[NR]=$1} END {if (NR==0) exit; if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

rec meta.date "$(date -u '+%Y-%m-%d %H:%M UTC')"
rec meta.machine "$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(uname -r)"
rec meta.lua "$LUA"
rec meta.load "$(cut -d' ' -f1-3 /proc/loadavg)"

# The node peers (imapflow, nodemailer) go into the bench's own node_modules (under build/,
# never global), at pinned versions unless BENCH_IMAPFLOW / BENCH_NODEMAILER say otherwise.
# All at once: `npm install --no-save` removes what it was not named.
FLOWV=${BENCH_IMAPFLOW:-2.10.2}; NMV=${BENCH_NODEMAILER:-10.6.1}
NODEDIR=$ROOT/build/bench-node
node_peer() { node -p "require('$NODEDIR/node_modules/$1/package.json').version" 2>/dev/null; }
node_peers() {
    command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || return 0
    [ "$(node_peer imapflow)" = "$FLOWV" ] && [ "$(node_peer nodemailer)" = "$NMV" ] && return 0
    mkdir -p "$NODEDIR"
    npm install --prefix "$NODEDIR" --no-save --no-audit --no-fund "imapflow@$FLOWV" \
        "nodemailer@$NMV" >/dev/null 2>>"$WORK/errors.log" || true
}
QUICK=${BENCH_QUICK:-0}
N10K=2000; N1M=50; NCURL=500
[ "$QUICK" = 1 ] && { N10K=500; N1M=10; NCURL=100; }

# The throwaway mail stack (instance 9): Dovecot for POP3 and IMAP, its CA and server
# certificate for every TLS terminator below.  The IMAP rows read their own users' mailboxes.
STACK=0
case " $ONLY " in *" smtp "*|*" pop3 "*|*" mem "*|*" sess "*|*" imap "*)
    if MAILSTACK_INSTANCE=9 MAILSTACK_USERS="alice:secret bob:secret imap:secret imapbig:secret imapempty:secret" \
        bash spec/support/mailstack.sh start "$WORK/stack" >/dev/null 2>>"$WORK/errors.log"; then
        . "$WORK/stack/mailstack.env"; STACK=1
        CERT="$MAILSTACK_DIR/tls/server.crt"; KEY="$MAILSTACK_DIR/tls/server.key"
    else
        echo "  mail stack did not start (see errors): TLS, POP3 and memory rows skipped"
    fi
;; esac

# ------------------------------------------------------------------- SMTP
SP=${BENCH_SINK_PORT:-12925}; SNP=$((SP + 1)); STP=$((SP + 2)); STNP=$((SP + 3))
case " $ONLY " in *" smtp "*|*" mem "*|*" dkim "*)
/usr/sbin/smtp-sink -u nobody 127.0.0.1:$SP 1000 >/dev/null 2>&1 & SINK_PIDS="$SINK_PIDS $!"
/usr/sbin/smtp-sink -p -u nobody 127.0.0.1:$SNP 1000 >/dev/null 2>&1 & SINK_PIDS="$SINK_PIDS $!"
# smtp-sink has no TLS: stunnel4 terminates implicit TLS in front of both sinks
TLSOK=0
if [ $STACK = 1 ] && command -v stunnel4 >/dev/null 2>&1; then
    cat > "$WORK/stunnel.conf" <<EOC
foreground = yes
pid =
debug = 2
[pipe]
accept = 127.0.0.1:$STP
connect = 127.0.0.1:$SP
cert = $CERT
key = $KEY
[nopipe]
accept = 127.0.0.1:$STNP
connect = 127.0.0.1:$SNP
cert = $CERT
key = $KEY
EOC
    stunnel4 "$WORK/stunnel.conf" >/dev/null 2>>"$WORK/errors.log" & SINK_PIDS="$SINK_PIDS $!"
    TLSOK=1
fi
sleep 0.3
;; esac
case " $ONLY " in *" smtp "*)
echo "SMTP to smtp-sink (loopback, one session, median of $RUNS)"
${CC:-cc} -O2 -std=c99 -D_POSIX_C_SOURCE=200809L -o "$WORK/smtp_floor" bench/smtp_floor.c \
    2>>"$WORK/errors.log" || echo "  bench/smtp_floor.c did not build: its column is n/a"
for spec in "pipe $SP plain" "nopipe $SNP plain" "pipe $STP tls" "nopipe $STNP tls"; do
    set -- $spec; tag=$1; port=$2; tr=$3
    [ $tr = tls ] && [ $TLSOK = 0 ] && continue
    ca=""; k="$tag"; [ $tr = tls ] && { ca="$MAILSTACK_CA"; k="tls.$tag"; }
    for sz in 10k 1m; do
        if [ $sz = 10k ]; then n=$N10K; bytes=10240; else n=$N1M; bytes=1048576; fi
        run $PY bench/smtp_peers.py raw 127.0.0.1 $port $n $bytes $RUNS "smtp.$k.$sz.raw" $ca
        # the smallest client that follows the protocol (waits for the 354): plain only
        [ $tr = plain ] && [ -x "$WORK/smtp_floor" ] && \
            run "$WORK/smtp_floor" 127.0.0.1 $port $n $bytes $RUNS "smtp.$k.$sz.floor" $tag
        run $LUA bench/smtp_missive.lua 127.0.0.1 $port $n $bytes $RUNS "smtp.$k.$sz.missive" string $ca
        run $LUA bench/smtp_missive.lua 127.0.0.1 $port $n $bytes $RUNS "smtp.$k.$sz.missive-batch" batch $ca
        run $LUA bench/smtp_missive.lua 127.0.0.1 $port $n $bytes $RUNS "smtp.$k.$sz.missive-src" source $ca
        run $PY bench/smtp_peers.py smtplib 127.0.0.1 $port $n $bytes $RUNS "smtp.$k.$sz.smtplib" $ca
        if [ $tr = plain ]; then
            # LuaSocket stalls ~40 ms per message (delayed ACK): fewer messages, same rate
            nl=100; [ $sz = 1m ] && nl=10
            run $LUA bench/smtp_luasocket.lua 127.0.0.1 $port $nl $bytes $RUNS "smtp.$k.$sz.luasocket"
            # smtp-source: -d keeps one session, it waits for each reply (no pipelining)
            for _ in $(seq "$RUNS"); do
                t0=$(now)
                /usr/sbin/smtp-source -s 1 -d -m $n -l $bytes -f a@example.org -t b@example.org 127.0.0.1:$port >/dev/null 2>&1
                t1=$(now)
                echo "$n $t0 $t1" | awk '{print $1/($3-$2)}'
            done | med | { read -r v; rec "smtp.$k.$sz.smtp-source" "$v"; }
        fi
        # curl: one invocation, $nc uploads over one reused connection
        nc=$NCURL; [ $sz = 1m ] && nc=$N1M
        scheme=smtp; [ $tr = tls ] && scheme=smtps
        $LUA -e "local C=require'bench.common'; io.open('$WORK/msg.eml','wb'):write(C.message($bytes)):close()"
        { for i in $(seq $nc); do printf 'url = "%s://localhost:%s"\nupload-file = "%s"\n' $scheme $port "$WORK/msg.eml"; done; } > "$WORK/curl.cfg"
        for _ in $(seq "$RUNS"); do
            t0=$(now)
            curl -s --resolve localhost:$port:127.0.0.1 ${ca:+--cacert "$ca"} \
                --mail-from a@example.org --mail-rcpt b@example.org -K "$WORK/curl.cfg" >/dev/null 2>>"$WORK/errors.log"
            t1=$(now)
            echo "$nc $t0 $t1" | awk '{print $1/($3-$2)}'
        done | med | { read -r v; rec "smtp.$k.$sz.curl" "$v"; }
    done
done
;; esac

# ------------------------------------------------------------------- POP3
MB="${MAILSTACK_MAILDIR_BASE:-}"
n10=1000; [ "$QUICK" = 1 ] && n10=200
case " $ONLY " in *" pop3 "*)
echo "POP3 from Dovecot: $n10 x 10 KB + 10 x 5 MB, connect + login + list + retrieve all"
if [ $STACK = 1 ]; then
    $PY bench/fill_maildir.py "$MB/bob" $n10 10240
    $PY bench/fill_maildir.py "$MB/bob" 10 $((5 * 1048576)) 5000
    chown -R 5000:5000 "$MB"
    for mode in "plain $MAILSTACK_POP3_PORT none" "tls $MAILSTACK_POP3S_PORT implicit"; do
        set -- $mode; tag=$1; port=$2; tls=$3
        run $PY bench/pop3_peers.py raw 127.0.0.1 $port $tls "$MAILSTACK_CA" $RUNS "pop3.$tag.raw"
        run $LUA bench/pop3_missive.lua 127.0.0.1 $port $tls "$MAILSTACK_CA" $RUNS "pop3.$tag.missive"
        run $PY bench/pop3_peers.py poplib 127.0.0.1 $port $tls "$MAILSTACK_CA" $RUNS "pop3.$tag.poplib"
        scheme=pop3; [ $tag = tls ] && scheme=pop3s
        { printf 'url = "%s://localhost:%s/"\n' $scheme $port
          for i in $(seq $((n10 + 10))); do printf 'url = "%s://localhost:%s/%d"\n' $scheme $port $i; done
        } > "$WORK/pop3curl.cfg"
        for _ in $(seq "$RUNS"); do
            t0=$(now)
            curl -s --resolve localhost:$port:127.0.0.1 --cacert "$MAILSTACK_CA" -u bob:secret \
                -K "$WORK/pop3curl.cfg" >/dev/null 2>>"$WORK/errors.log"
            t1=$(now)
            echo "$t0 $t1" | awk '{print $2-$1}'
        done | med | { read -r v; rec "pop3.$tag.curl" "$v"; }
    done
fi
;; esac

# ------------------------------------------------------------------- IMAP
case " $ONLY " in *" imap "*)
ni=1000; [ "$QUICK" = 1 ] && ni=200
IMEMMB=${BENCH_MEM_MB:-200}; [ "$QUICK" = 1 ] && IMEMMB=50
echo "IMAP from Dovecot: $ni x 10 KB + 10 x 5 MB, connect + login + list + fetch all (s)"
node_peers
FLOW=0
have=$(node_peer imapflow)
[ -n "$have" ] && { FLOW=1; rec meta.imapflow "$have (node $(node --version))"; }
[ $FLOW = 1 ] || echo "  imapflow not installed (needs node and npm): its columns are n/a"
MBSYNC=0
command -v mbsync >/dev/null 2>&1 && { MBSYNC=1; rec meta.mbsync "$(mbsync -v)"; }
[ $MBSYNC = 1 ] || echo "  mbsync not installed (Debian isync): its column is n/a"
rec meta.python "$($PY -c 'import sys; print(sys.version.split()[0])')"
rec meta.imapmb "$IMEMMB"
if [ $STACK = 1 ] && [ -n "${MAILSTACK_IMAP_PORT:-}" ]; then
    # the maildir written directly, then one untimed pass lets Dovecot index it
    $PY bench/fill_maildir.py "$MB/imap" $ni 10240
    $PY bench/fill_maildir.py "$MB/imap" 10 $((5 * 1048576)) 5000
    chown -R 5000:5000 "$MB"
    run $PY bench/imap_peers.py index 127.0.0.1 "$MAILSTACK_IMAP_PORT" none - imap 1 -
    export NODE_PATH="$NODEDIR/node_modules"
    for mode in "plain $MAILSTACK_IMAP_PORT none" "tls $MAILSTACK_IMAPS_PORT implicit"; do
        set -- $mode; tag=$1; port=$2; tls=$3; k="imap.$tag"
        args="127.0.0.1 $port $tls $MAILSTACK_CA imap $RUNS"
        run $LUA bench/imap_missive.lua fetch $args "$k.missive"
        run $PY bench/imap_peers.py single $args "$k.imaplib-single"
        run $PY bench/imap_peers.py each $args "$k.imaplib-each"
        run $PY bench/imap_peers.py single-raw $args "$k.imaplib-raw"
        if [ $FLOW = 1 ]; then
            run node bench/imap_imapflow.js fetch $args "$k.imapflow"
            run node bench/imap_imapflow.js fetch-nocompress $args "$k.imapflow-nocompress"
        fi
        [ $MBSYNC = 1 ] && run $PY bench/imap_mbsync.py sync $args "$k.mbsync" "$WORK"
    done
    echo "IMAP: peak RSS growth fetching a $IMEMMB MB message into a file (kB)"
    # imapbig's mailbox holds only the big message (UID 1); imapempty's nothing
    $PY bench/fill_maildir.py "$MB/imapbig" 1 $((IMEMMB * 1048576))
    chown -R 5000:5000 "$MB"
    run $PY bench/imap_peers.py index 127.0.0.1 "$MAILSTACK_IMAP_PORT" none - imapbig 1 -
    run $LUA bench/imap_missive.lua mem 127.0.0.1 "$MAILSTACK_IMAP_PORT" imapbig "$WORK/out.eml"
    run $PY bench/imap_peers.py mem 127.0.0.1 "$MAILSTACK_IMAP_PORT" imapbig "$WORK/out.eml"
    [ $FLOW = 1 ] && run node bench/imap_imapflow.js mem 127.0.0.1 "$MAILSTACK_IMAP_PORT" \
        imapbig "$WORK/out.eml"
    [ $MBSYNC = 1 ] && run $PY bench/imap_mbsync.py mem 127.0.0.1 "$MAILSTACK_IMAP_PORT" \
        imapbig "$WORK"
    rm -f "$WORK/out.eml"
elif [ $STACK = 1 ]; then
    echo "  Dovecot has no IMAP here (Debian dovecot-imapd): IMAP rows skipped"
fi
;; esac

# ------------------------------------------------------------------- memory
case " $ONLY " in *" mem "*)
MEMMB=${BENCH_MEM_MB:-200}; [ "$QUICK" = 1 ] && MEMMB=50
echo "Memory: peak RSS growth streaming a $MEMMB MB message (kB)"
rec meta.memmb "$MEMMB"
head -c $((MEMMB * 1048576)) /dev/urandom > "$WORK/big.bin"
for who in "$LUA bench/mem_missive.lua" "$PY bench/mem_py.py"; do
    run $who send 127.0.0.1 $SP "$WORK/big.bin"
done
if [ $STACK = 1 ]; then
    # alice's mailbox holds only the big message
    $PY bench/fill_maildir.py "$MB/alice" 1 $((MEMMB * 1048576))
    chown -R 5000:5000 "$MB"
    for who in "$LUA bench/mem_missive.lua" "$PY bench/mem_py.py"; do
        run $who retrieve 127.0.0.1 "$MAILSTACK_POP3_PORT" 1 "$WORK/out.eml"
        rm -f "$WORK/out.eml"
    done
fi
rm -f "$WORK/big.bin"
# parsing a 32 MB windows-1252 text body, in a fresh process (growth and x the body)
run $LUA bench/mem_parse.lua 32 windows-1252
;; esac

# ------------------------------------------------------------------- idle TLS sessions
case " $ONLY " in *" sess "*)
NSESS=${BENCH_SESSIONS:-1000}; [ "$QUICK" = 1 ] && NSESS=200
if [ $STACK = 1 ]; then
    echo "RSS per idle TLS session ($NSESS sessions, implicit TLS, kB per session)"
    rec meta.nsess "$NSESS"
    TP=$((SP + 4))
    $PY bench/tls_server.py $TP "$CERT" "$KEY" > "$WORK/tls_server.out" 2>>"$WORK/errors.log" & SINK_PIDS="$SINK_PIDS $!"
    for _ in $(seq 50); do grep -q ready "$WORK/tls_server.out" 2>/dev/null && break; sleep 0.1; done
    # cafile = the one test CA, and = the system bundle plus the test CA (each session
    # then parses the whole bundle)
    cat /etc/ssl/certs/ca-certificates.crt "$MAILSTACK_CA" > "$WORK/bundle.crt"
    run $LUA bench/sessions_missive.lua $TP "$MAILSTACK_CA" $NSESS sess.missive
    # the same count of plain sessions: what missive holds without TLS
    $PY bench/tls_server.py $((TP + 1)) - - > "$WORK/plain_server.out" 2>>"$WORK/errors.log" & SINK_PIDS="$SINK_PIDS $!"
    for _ in $(seq 50); do grep -q ready "$WORK/plain_server.out" 2>/dev/null && break; sleep 0.1; done
    run $LUA bench/sessions_missive.lua $((TP + 1)) - $NSESS sess.missive-plain
    run $LUA bench/sessions_missive.lua $TP "$WORK/bundle.crt" $NSESS sess.missive-bundle
    run $PY bench/sessions_py.py $TP "$MAILSTACK_CA" $NSESS sess.python
    run $PY bench/sessions_py.py $TP "$WORK/bundle.crt" $NSESS sess.python-bundle
fi
;; esac
# ------------------------------------------------------------------- MIME
case " $ONLY " in *" mime "*)
echo "MIME codecs (MB/s of raw input) and 50 MB messages (s)"
run $LUA bench/mime_codecs.lua missive
run $LUA bench/mime_codecs.lua luasocket
run $PY bench/mime_py.py 8000000 $RUNS
# one call on a fresh 1..128 MiB input, beside Python (1..16 MiB with BENCH_QUICK)
if [ "$QUICK" = 1 ]; then run $LUA bench/codec_sizes.lua 3 1 4 16
else run $LUA bench/codec_sizes.lua 3; fi
run $LUA bench/mime_msg.lua "$WORK" $RUNS
run $PY bench/mime_msg.py "$WORK" 1
;; esac

# ------------------------------------------------------------------- header parsing growth
case " $ONLY " in *" hdr "*)
HDRKB=4096; [ "$QUICK" = 1 ] && HDRKB=1024
echo "Header parsing: pathological shapes at 64 KB .. $HDRKB KB (s; growth per doubling)"
run $LUA bench/mime_headers.lua $HDRKB 3
;; esac

# ------------------------------------------------------------------- DKIM signing
case " $ONLY " in *" dkim "*)
echo "DKIM signing and verifying, RSA-2048, relaxed/relaxed (per second, a message as bytes)"
run $LUA bench/dkim_missive.lua "$WORK" $RUNS
# dkimpy is Debian's python3-dkim: the system Python has it, a pyenv one may not
DKPY=""
for p in "$PY" /usr/bin/python3; do
    "$p" -c 'import dkim' 2>/dev/null && { DKPY=$p; break; }
done
if [ -n "$DKPY" ]; then run "$DKPY" bench/dkim_py.py "$WORK" $RUNS
else echo "  (no python3 with the dkim package: python3-dkim)"; fi
node_peers
have=$(node_peer nodemailer)
if [ -n "$have" ]; then
    rec meta.nodemailer "$have (node $(node --version))"
    NODE_PATH="$NODEDIR/node_modules" run node bench/dkim_node.js "$WORK" $RUNS
else echo "  nodemailer not installed (needs node and npm): its column is n/a"; fi
# What signing costs send_batch: 10 KB messages to the pipelining sink, unsigned and then
# signed by the session's dkim option, in the same run as the signing rate above.
nd=2000; [ "$QUICK" = 1 ] && nd=500
run $LUA bench/smtp_missive.lua 127.0.0.1 $SP $nd 10240 $RUNS "dkim.batch.plain" batch
run $LUA bench/smtp_missive.lua 127.0.0.1 $SP $nd 10240 $RUNS "dkim.batch.signed" \
    "batch-dkim=$WORK/key.pem"
;; esac

$LUA bench/report.lua "$RAW" "$OUT/latest.md"
[ -s "$WORK/errors.log" ] && { echo "stderr of the runs (last lines):"; tail -5 "$WORK/errors.log"; }
exit 0
