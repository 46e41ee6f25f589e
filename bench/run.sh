#!/bin/sh
# bench/run.sh [LUA] - missive side by side with its peers, on loopback, in one run.
# Run by `make bench` (BUILD=build/lua5.4).  Every figure is the median of several
# runs; results go to bench/results/raw.tsv, then bench/report.lua prints the table and
# writes bench/results/latest.md.  Never part of `make test`; asserts no timing.
# Knobs: BENCH_RUNS (3), BENCH_QUICK=1 (smaller counts), BENCH_ONLY="smtp pop3 mime mem".
set -u
LUA=${1:-lua5.4}
BUILD=${BUILD:-build/lua5.4}
cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)
RUNS=${BENCH_RUNS:-3}
ONLY=${BENCH_ONLY:-"smtp pop3 mime mem"}
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

QUICK=${BENCH_QUICK:-0}
N10K=2000; N1M=50; NCURL=500
[ "$QUICK" = 1 ] && { N10K=500; N1M=10; NCURL=100; }

# ------------------------------------------------------------------- SMTP
case " $ONLY " in *" smtp "*)
echo "SMTP to smtp-sink (loopback, one session, median of $RUNS)"
SP=${BENCH_SINK_PORT:-12925}; SNP=$((SP + 1))
/usr/sbin/smtp-sink -u nobody 127.0.0.1:$SP 1000 >/dev/null 2>&1 & SINK_PIDS="$SINK_PIDS $!"
/usr/sbin/smtp-sink -p -u nobody 127.0.0.1:$SNP 1000 >/dev/null 2>&1 & SINK_PIDS="$SINK_PIDS $!"
sleep 0.3
for spec in "pipe $SP" "nopipe $SNP"; do
    set -- $spec; tag=$1; port=$2
    for sz in 10k 1m; do
        if [ $sz = 10k ]; then n=$N10K; bytes=10240; else n=$N1M; bytes=1048576; fi
        run $PY bench/smtp_peers.py raw 127.0.0.1 $port $n $bytes $RUNS "smtp.$tag.$sz.raw"
        run $LUA bench/smtp_missive.lua 127.0.0.1 $port $n $bytes $RUNS "smtp.$tag.$sz.missive"
        run $LUA bench/smtp_missive.lua 127.0.0.1 $port $n $bytes $RUNS "smtp.$tag.$sz.missive-src" source
        run $PY bench/smtp_peers.py smtplib 127.0.0.1 $port $n $bytes $RUNS "smtp.$tag.$sz.smtplib"
        # LuaSocket stalls ~40 ms per message (delayed ACK): fewer messages, same rate
        nl=100; [ $sz = 1m ] && nl=10
        run $LUA bench/smtp_luasocket.lua 127.0.0.1 $port $nl $bytes $RUNS "smtp.$tag.$sz.luasocket"
        # smtp-source: -d keeps one session, it waits for each reply (no pipelining)
        for _ in $(seq "$RUNS"); do
            t0=$(now)
            /usr/sbin/smtp-source -s 1 -d -m $n -l $bytes -f a@example.org -t b@example.org 127.0.0.1:$port >/dev/null 2>&1
            t1=$(now)
            echo "$n $t0 $t1" | awk '{print $1/($3-$2)}'
        done | med | { read -r v; rec "smtp.$tag.$sz.smtp-source" "$v"; }
        # curl: one invocation, $nc uploads over one reused connection
        nc=$NCURL; [ $sz = 1m ] && nc=$N1M
        $LUA -e "local C=require'bench.common'; io.open('$WORK/msg.eml','wb'):write(C.message($bytes)):close()"
        { for i in $(seq $nc); do printf 'url = "smtp://127.0.0.1:%s"\nupload-file = "%s"\n' $port "$WORK/msg.eml"; done; } > "$WORK/curl.cfg"
        for _ in $(seq "$RUNS"); do
            t0=$(now)
            curl -s --mail-from a@example.org --mail-rcpt b@example.org -K "$WORK/curl.cfg" >/dev/null 2>>"$WORK/errors.log"
            t1=$(now)
            echo "$nc $t0 $t1" | awk '{print $1/($3-$2)}'
        done | med | { read -r v; rec "smtp.$tag.$sz.curl" "$v"; }
    done
done
;; esac

# ------------------------------------------------------------------- POP3
case " $ONLY " in *" pop3 "*)
echo "POP3 from Dovecot: 1000 x 10 KB + 10 x 5 MB, connect + login + list + retrieve all"
if MAILSTACK_INSTANCE=9 bash spec/support/mailstack.sh start "$WORK/stack" >/dev/null 2>>"$WORK/errors.log"; then
    . "$WORK/stack/mailstack.env"
    MB="$MAILSTACK_MAILDIR_BASE"
    n10=1000; [ "$QUICK" = 1 ] && n10=200
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
else
    echo "  mail stack did not start (see errors): POP3 skipped"
fi
;; esac

# ------------------------------------------------------------------- MIME
case " $ONLY " in *" mime "*)
echo "MIME codecs (MB/s of raw input) and 50 MB messages (s)"
run $LUA bench/mime_codecs.lua missive
run $LUA bench/mime_codecs.lua luasocket
run $PY bench/mime_py.py 8000000 $RUNS
run $LUA bench/mime_msg.lua "$WORK" $RUNS
run $PY bench/mime_msg.py "$WORK" 1
;; esac

$LUA bench/report.lua "$RAW" "$OUT/latest.md"
[ -s "$WORK/errors.log" ] && { echo "stderr of the runs (last lines):"; tail -5 "$WORK/errors.log"; }
exit 0
