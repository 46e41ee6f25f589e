#!/bin/sh
# tools/checklist-audit.sh - which items of doc/CHECKLIST.md have no spec yet.
#
#   sh tools/checklist-audit.sh [-q]
#
# An item counts as covered when "CHECKLIST <n>" appears in spec/ or ctest/ (fuzz
# targets assert items too, but a spec must name them).  Lists are understood:
# "CHECKLIST 16 17 19", "CHECKLIST 16, 17, 19", "CHECKLIST 42-55" (a range).  Prints "missing: 3 12 13 ..." (or "missing: none")
# and exits 1 when any item is missing.  -q prints only the numbers.
set -u
cd "$(dirname "$0")/.." || exit 1
# The items are the numbered lines of doc/CHECKLIST.md ("61. ..."); the highest is max.
max=$(grep -oE '^[0-9]+\. ' doc/CHECKLIST.md 2>/dev/null | tr -d '. ' | sort -n | tail -n 1)
[ -n "$max" ] || { echo "checklist-audit: doc/CHECKLIST.md has no numbered items" >&2; exit 2; }
quiet=0
[ "${1:-}" = "-q" ] && quiet=1

covered=$(grep -rhoE 'CHECKLIST[: ]+[0-9]+([ ,]*(-|–|and|to)?[ ,]*[0-9]+)*' \
            spec ctest 2>/dev/null |
    sed -E 's/^CHECKLIST[: ]+//; s/ *(–|to) */-/g; s/ *- */-/g; s/and/ /g; s/,/ /g' |
    tr ' ' '\n' |
    awk -F- 'NF == 1 && $1 != "" { print $1 }
             NF == 2 && $1 != "" && $2 != "" { for (i = $1; i <= $2; i++) print i }' |
    sort -n -u)

missing=""
i=1
while [ "$i" -le "$max" ]; do
    if ! printf '%s\n' "$covered" | grep -qx "$i"; then missing="$missing $i"; fi
    i=$((i + 1))
done
missing=${missing# }

if [ "$quiet" = 1 ]; then
    [ -n "$missing" ] && echo "$missing"
else
    echo "missing: ${missing:-none}"
fi
[ -z "$missing" ]
