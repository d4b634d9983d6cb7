# SPDX-License-Identifier: GPL-3.0-or-later
# tap.sh - TAP helpers for the shell tests (sourced). NASLAB names the binary.
tap_n=0
tap_failed=0
ok() { # ok STATUS NAME
    tap_n=$((tap_n + 1))
    if [ "$1" -eq 0 ]; then echo "ok $tap_n - $2"; else echo "not ok $tap_n - $2"; tap_failed=$((tap_failed + 1)); fi
}
diag() { sed 's/^/# /'; }
wait_for() { # wait_for FILE PATTERN: poll up to 30 s until FILE has a line matching PATTERN
    i=0
    while [ $i -lt 300 ]; do
        grep -q "$2" "$1" 2>/dev/null && return 0
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}
done_testing() { echo "1..$tap_n"; [ "$tap_failed" -eq 0 ]; }
NASLAB=${NASLAB:-naslab}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
