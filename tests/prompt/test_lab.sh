#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Lab mode: the sandbox takes away what a handed-out script must not use, and
# the memory cap and instruction budget stop a runaway script with a message
# that names the limit.
. "$(dirname "$0")/tap.sh"

"$NASLAB" --lab -e 'print(io.open, io.read, os.execute, os.exit, os.remove, debug, package.loadlib, package.cpath)' >"$tmp/out" 2>&1
[ "$(cat "$tmp/out")" = "$(printf 'nil\tnil\tnil\tnil\tnil\tnil\tnil\t')" ]; ok $? "no io.open/read, os.execute/exit/remove, debug, loadlib, C path"
"$NASLAB" --lab -e 'io.write("w\n"); print(os.clock() >= 0, math.pi > 3, nl.version)' >"$tmp/out" 2>&1
[ "$(cat "$tmp/out")" = "$(printf 'w\ntrue\ttrue\t0.1.0')" ]; ok $? "io.write, os.clock, math and nl stay"
"$NASLAB" --lab -e 'assert(load(string.dump(function() end)))' >"$tmp/out" 2>&1
[ $? -eq 1 ] && grep -q "attempt to load a binary chunk" "$tmp/out"; ok $? "binary chunks are refused"
"$NASLAB" --lab-steps 100000 -e 'while true do end' >"$tmp/out" 2>&1
[ $? -eq 1 ] && grep -q "lab: the instruction budget of 100000 instructions is used up (--lab-steps)" "$tmp/out"
ok $? "the instruction budget stops an endless loop, naming the limit"
"$NASLAB" --lab-mem 16 -e 'local t = {} for i = 1, 1e7 do t[i] = ("x"):rep(10) .. i end' >"$tmp/out" 2>&1
[ $? -eq 1 ] && grep -q "lab: the memory limit of 16 MiB for Lua is reached (--lab-mem)" "$tmp/out"
ok $? "the memory cap stops a hungry script, naming the limit"
printf 'x = 1\nwhile true do end\nx + 1\n' | "$NASLAB" --lab-steps 100000 >"$tmp/out" 2>"$tmp/err"
[ "$(cat "$tmp/out")" = 2 ] && grep -q "used up" "$tmp/err"; ok $? "the budget is per entry: the session goes on"
"$NASLAB" --lab-mem 0 -e 1 >"$tmp/out" 2>&1
[ $? -eq 2 ] && grep -q -- "--lab-mem needs a positive whole number, got '0'" "$tmp/out"; ok $? "a bad limit is a usage error"
"$NASLAB" --lab -e 'print(#nl.bench.load())' >"$tmp/out" 2>&1
[ "$(cat "$tmp/out")" = 1000 ]; ok $? "a lab script reads the embedded benchmark"
done_testing
