#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# The command line: options, scripts with arguments, exit statuses.
. "$(dirname "$0")/tap.sh"

"$NASLAB" --version >"$tmp/out"; rc=$?
[ $rc -eq 0 ] && grep -qx 'naslab 0\.1\.0' "$tmp/out"; ok $? "--version"
"$NASLAB" --help >"$tmp/out"; rc=$?
[ $rc -eq 0 ] && grep -q '^usage: naslab' "$tmp/out"; ok $? "--help"
# --help and the manual page list the same options
missing=""
for o in $(grep -o -- '--[a-z][a-z-]*' "$tmp/out" | sort -u); do
    grep -q -- "$(printf '%s' "$o" | sed 's/-/\\\\-/g')" "$top_srcdir/man/naslab.1" || missing="$missing $o"
done
[ -z "$missing" ]; ok $? "every option of --help is in naslab(1)${missing:+ (missing:$missing)}"
"$NASLAB" --bogus >"$tmp/out" 2>"$tmp/err"; rc=$?
[ $rc -eq 2 ] && grep -q "unknown option '--bogus'" "$tmp/err"; ok $? "unknown long option: exit 2, named"
"$NASLAB" -x 2>"$tmp/err"; rc=$?
[ $rc -eq 2 ] && grep -q "unknown option '-x'" "$tmp/err"; ok $? "unknown short option: exit 2, named"
"$NASLAB" -e 2>"$tmp/err"; rc=$?
[ $rc -eq 2 ] && grep -q "option -e needs a Lua chunk" "$tmp/err"; ok $? "-e without chunk: exit 2"

[ "$("$NASLAB" -e 'print(1 + 2)' -e 'print(nl.version)')" = "$(printf '3\n0.1.0')" ]; ok $? "-e chunks run in order"

cat >"$tmp/s.lua" <<'LUA'
local a, b = ...
print(arg[0]:match("s%.lua$") ~= nil, arg[1], arg[2], a, b, #arg)
LUA
[ "$("$NASLAB" "$tmp/s.lua" x y)" = "$(printf 'true\tx\ty\tx\ty\t2')" ]; ok $? "script gets arg and ... like lua"
[ "$("$NASLAB" -e 'z = 7' "$tmp/s.lua" --plain)" = "$(printf 'true\t--plain\tnil\t--plain\tnil\t1')" ]; ok $? "options after the script belong to the script"

cat >"$tmp/bad.lua" <<'LUA'
local function inner() error("bad thing") end
inner()
LUA
"$NASLAB" "$tmp/bad.lua" >"$tmp/out" 2>"$tmp/err"; rc=$?
[ $rc -eq 1 ]; ok $? "script error: exit 1"
grep -q 'bad.lua:1: bad thing' "$tmp/err" && grep -q 'stack traceback' "$tmp/err"; ok $? "script error: message and traceback on stderr"
"$NASLAB" "$tmp/missing.lua" 2>"$tmp/err"; rc=$?
[ $rc -eq 1 ] && grep -q 'cannot open .*missing.lua' "$tmp/err"; ok $? "missing script named, exit 1"
printf 'x = 1 +\n' >"$tmp/syn.lua"
"$NASLAB" "$tmp/syn.lua" 2>"$tmp/err"; rc=$?
[ $rc -eq 1 ] && grep -q 'syn.lua:2: unexpected symbol near <eof>' "$tmp/err"; ok $? "script syntax error named, exit 1"

echo 'print("from stdin", ...)' | "$NASLAB" - a >"$tmp/out"; rc=$?
[ $rc -eq 0 ] && [ "$(cat "$tmp/out")" = "$(printf 'from stdin\ta')" ]; ok $? "'-' runs stdin as a script"

echo 'v = 10' >"$tmp/i.lua"
[ "$(echo 'v * 2' | "$NASLAB" -i "$tmp/i.lua")" = "20" ]; ok $? "-i opens the prompt after the script"
[ "$(echo 'v' | "$NASLAB" -e 'v = 5' -i)" = "5" ]; ok $? "-i after -e"
"$NASLAB" -e 'os.exit(3)'; rc=$?
[ $rc -eq 3 ]; ok $? "os.exit status passes through"
done_testing
