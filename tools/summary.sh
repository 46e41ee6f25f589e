#!/bin/sh
# tools/summary.sh TOTALS CTEST_COUNTS: adds the per-Lua spec counts ("lua passed failed
# skipped" lines) and the C unit test counts, prints one line per Lua and the closing
# "N passed, N failed[, N skipped]", and fails when anything failed or nothing ran.
totals=$1 ctest=$2
[ -s "$totals" ] || { echo "summary: no spec run reported"; echo "0 passed, 1 failed"; exit 1; }
c_pass=0 c_fail=0
[ -s "$ctest" ] && read -r c_pass c_fail <"$ctest"
awk -v cp="$c_pass" -v cf="$c_fail" '
    { printf "  %-16s %5d passed, %d failed, %d skipped\n", $1, $2, $3, $4
      p += $2; f += $3; s += $4 }
    END {
      printf "  %-16s %5d passed, %d failed\n", "C", cp, cf
      p += cp; f += cf
      if (s > 0) printf "%d passed, %d failed, %d skipped\n", p, f, s
      else printf "%d passed, %d failed\n", p, f
      exit (f > 0) }' "$totals"
