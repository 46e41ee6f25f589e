#!/bin/sh
# fuzz/run.sh - run libFuzzer targets for a while each, from their seed corpora.
#
#   FUZZ_BUILD=build/fuzz sh fuzz/run.sh SECONDS target...
#
# New inputs go to $FUZZ_BUILD/corpus/<target> (the seeds in fuzz/corpus/<target>
# stay as committed); a crash is written to $FUZZ_BUILD/crashes/<target>/ and makes
# the run fail.  fuzz/<target>.dict is used when present, else the family's
# (fuzz_smtp_* -> fuzz/smtp.dict, fuzz_pop3_* -> fuzz/pop3.dict; MIME, header and
# address targets -> fuzz/mime.dict).  One summary line per target:
# "fuzz_x: N execs in S s, ok|CRASH".  FUZZ_JOBS=n runs n workers per target.
set -u
cd "$(dirname "$0")/.." || exit 1
secs=${1:-60}
[ $# -gt 0 ] && shift
build=${FUZZ_BUILD:-build/fuzz}
status=0
for t in "$@"; do
    bin=$build/$t
    [ -x "$bin" ] || { echo "$t: not built ($bin)" >&2; status=1; continue; }
    corpus=$build/corpus/$t
    crashes=$build/crashes/$t
    mkdir -p "$corpus" "$crashes" "fuzz/corpus/$t"
    set --
    fam=$(echo "$t" | sed 's/^fuzz_//; s/_.*//')
    case $fam in mime|rfc2047|rfc2231|addr|uu) fam=mime ;; esac
    if [ -f "fuzz/$t.dict" ]; then set -- -dict="fuzz/$t.dict"
    elif [ -f "fuzz/$fam.dict" ]; then set -- -dict="fuzz/$fam.dict"; fi
    # Header decoders get inputs large enough to show super-linear work (CHECKLIST 64).
    maxlen=65536
    case $t in fuzz_rfc2047|fuzz_addr) maxlen=1048576 ;; esac
    log=$build/$t.log
    UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
    "$bin" "$@" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
        -max_len="$maxlen" -print_final_stats=1 -artifact_prefix="$crashes/" \
        "$corpus" "fuzz/corpus/$t" >"$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    if [ "$rc" -eq 0 ]; then
        echo "$t: ${execs:-?} execs in ${secs} s, ok"
    else
        echo "$t: ${execs:-?} execs, CRASH (rc $rc), see $log and $crashes/"
        grep -m 3 -E 'ERROR|runtime error|invariant failed' "$log" | sed 's/^/    /'
        status=1
    fi
done
exit $status
