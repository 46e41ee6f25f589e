#!/bin/sh
# tools/run-specs.sh - run the busted specs and print one summary line.
#
#   BUILD=build/lua5.4 sh tools/run-specs.sh LUA [busted args...]
#
# LUA is the interpreter busted runs under (default lua5.4).  Without busted
# args the whole spec/ tree runs; with them they are passed on as they are
# (e.g. `--exclude-tags=integration spec/support_spec.lua`).
# package.path gets ./lua/?.lua ./lua/?/init.lua ./spec/?.lua, package.cpath
# $BUILD/?.so, so `require "missive.core"` loads $BUILD/missive/core.so.
# C unit test counts from $BUILD/ctest.counts ("passed failed") are added in.
# The last line is always "N passed, N failed[, N skipped]" (errors count as
# failed); the exit status is non-zero when anything failed.
# The shared mail stack (spec/support/stack.lua) lives in a temp dir made here,
# and is stopped from a trap even if busted dies.
set -u

LUA=${1:-lua5.4}
[ $# -gt 0 ] && shift
BUILD=${BUILD:-build/lua5.4}
cd "$(dirname "$0")/.." || exit 1

busted=$(command -v busted || true)
if [ -z "$busted" ]; then
    echo "run-specs: busted not found (sh tools/deps.sh test)" >&2
    echo "0 passed, 1 failed"
    exit 1
fi

counts=$(mktemp /tmp/missive-counts.XXXXXX) || exit 1
stack_dir=$(mktemp -d /tmp/missive-stack.XXXXXX) || exit 1
cleanup() {
    if [ -f "$stack_dir/mailstack.env" ]; then
        bash spec/support/mailstack.sh stop "$stack_dir" >/dev/null 2>&1 || true
    fi
    if [ "${MISSIVE_KEEP_STACK:-0}" = 1 ] && [ -f "$stack_dir/mailstack.env" ]; then
        echo "run-specs: mail stack logs kept in $stack_dir/log" >&2
    else
        rm -rf "$stack_dir"
    fi
    rm -f "$counts"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

export MISSIVE_STACK_DIR="$stack_dir" MISSIVE_SPEC_COUNTS="$counts"
export MISSIVE_SPEC_LUA="$LUA"

[ $# -eq 0 ] && set -- spec
# Same as `busted --lua="$LUA" ...`, minus its bug: --lua re-runs busted through
# a shell with the arguments unquoted, so the ';' in --lpath split the command.
"$LUA" "$busted" \
    --lpath='./lua/?.lua;./lua/?/init.lua;./spec/?.lua' \
    --cpath="$BUILD/?.so" \
    -o spec/support/busted_output.lua "$@" </dev/null
rc=$?

passed=0 failed=0 skipped=0
if [ -s "$counts" ]; then
    read -r b_pass b_fail b_err b_pend <"$counts"
    passed=$b_pass
    failed=$((b_fail + b_err))
    skipped=$b_pend
    if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then
        echo "run-specs: busted exited with status $rc" >&2
        failed=1
    fi
else
    echo "run-specs: busted reported no results (exit status $rc)" >&2
    failed=1
fi

# Part of a matrix run: hand the counts to the caller, who adds the C tests once.
if [ -n "${MISSIVE_TOTALS:-}" ]; then
    label=${MISSIVE_LABEL:-$LUA}
    echo "$label $passed $failed $skipped" >>"$MISSIVE_TOTALS"
    echo "$label: $passed passed, $failed failed, $skipped skipped"
    [ "$failed" -eq 0 ]
    exit
fi

if [ -s "$BUILD/ctest.counts" ]; then
    read -r c_pass c_fail <"$BUILD/ctest.counts"
    passed=$((passed + ${c_pass:-0}))
    failed=$((failed + ${c_fail:-0}))
fi

if [ "$skipped" -gt 0 ]; then
    echo "$passed passed, $failed failed, $skipped skipped"
else
    echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
