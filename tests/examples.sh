#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Every example in examples/ runs under make check, so documentation cannot
# rot: each must exit 0, and where examples/NAME.expected exists its output
# must match it exactly. The lab scripts (lab*.lua) run in the --lab sandbox.
. "$(dirname "$0")/prompt/tap.sh"
for f in "$top_srcdir"/examples/*.lua; do
    name=$(basename "$f" .lua)
    mode=
    case $name in lab*) mode=--lab ;; esac # the labs run as a teacher hands them out
    (cd "$top_srcdir/examples" && "$NASLAB" $mode "$f") >"$tmp/$name.out" 2>"$tmp/$name.err"
    rc=$?
    [ $rc -eq 0 ] || diag <"$tmp/$name.err"
    ok $rc "example $name runs"
    if [ -f "$top_srcdir/examples/$name.expected" ]; then
        diff -u "$top_srcdir/examples/$name.expected" "$tmp/$name.out" >"$tmp/$name.diff"
        rc=$?
        [ $rc -eq 0 ] || diag <"$tmp/$name.diff"
        ok $rc "example $name prints what examples/$name.expected says"
    fi
done
done_testing
