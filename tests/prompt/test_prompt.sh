#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# The prompt as a user meets it: piped input (no terminal codes) and a real
# pseudo-terminal (readline: completion, history), run as a subprocess.
. "$(dirname "$0")/tap.sh"

# expressions print their values, statements print nothing
printf '1+1\nlocal x = 3\n"ab" .. "c"\n{1, 2}\nnil\n' | "$NASLAB" >"$tmp/out" 2>"$tmp/err"
printf '2\nabc\n{1, 2}\nnil\n' | cmp -s - "$tmp/out"; ok $? "expressions print their values"
[ ! -s "$tmp/err" ]; ok $? "no stderr output for good input"
if grep -q "$(printf '\033')" "$tmp/out"; then ok 1 "piped output has no terminal codes"; else ok 0 "piped output has no terminal codes"; fi

# an incomplete statement continues on the next line
printf 'function f(a)\n  return a * 2\nend\nf(21)\nx = {\n1,\n}\n#x\n' | "$NASLAB" >"$tmp/out" 2>&1
printf '42\n1\n' | cmp -s - "$tmp/out"; ok $? "multi-line continuation"

# a runtime error shows a traceback and the session goes on, with state kept
printf 'y = 5\nlocal function g() error("boom") end g()\ny + 1\n' | "$NASLAB" >"$tmp/out" 2>"$tmp/err"
rc=$?
grep -q '^naslab: stdin:1: boom$' "$tmp/err"; ok $? "error message on stderr"
grep -q 'stack traceback:' "$tmp/err"; ok $? "error has a traceback"
[ "$(cat "$tmp/out")" = "6" ]; ok $? "state kept after the error"
[ $rc -eq 1 ]; ok $? "exit status 1 when an entry failed"

# a syntax error is reported, input ending inside a chunk is reported
printf 'x = = 1\nfor i = 1, 2 do\n' | "$NASLAB" >"$tmp/out" 2>"$tmp/err"
grep -q "unexpected symbol near '='" "$tmp/err"; ok $? "syntax error reported"
grep -q "'end' expected near <eof>" "$tmp/err"; ok $? "unfinished chunk at end of input reported"

# Ctrl-C during a long loop returns to the prompt with all state kept
# (timeout forwards the signal to naslab and bounds the test if it hangs)
mkfifo "$tmp/in"
timeout 60 "$NASLAB" <"$tmp/in" >"$tmp/out" 2>"$tmp/err" &
pid=$!
exec 3>"$tmp/in"
echo 'kept = 41' >&3
echo 'print("looping"); io.stdout:flush(); while true do end' >&3
wait_for "$tmp/out" looping
sleep 0.2
kill -INT $pid
echo 'kept + 1' >&3
exec 3>&-
wait $pid
grep -q 'interrupted!' "$tmp/err"; ok $? "SIGINT stops a running loop with 'interrupted!'"
[ "$(cat "$tmp/out")" = "$(printf 'looping\n42')" ]; ok $? "the prompt goes on after SIGINT, state kept"

# Ctrl-C also stops a long C loop: building the NB101 table (seconds of C)
mkfifo "$tmp/in2"
timeout 60 "$NASLAB" <"$tmp/in2" >"$tmp/out" 2>"$tmp/err" &
pid=$!
exec 3>"$tmp/in2"
echo 'sp = nl.space("nb101")' >&3
echo 'print("sampling"); io.stdout:flush(); a = sp:sample()' >&3
wait_for "$tmp/out" sampling
sleep 0.2
kill -INT $pid
echo 'a == nil, sp:size()' >&3
exec 3>&-
wait $pid
grep -q 'interrupted!' "$tmp/err"; ok $? "SIGINT stops a C loop with 'interrupted!'"
[ "$(cat "$tmp/out")" = "$(printf 'sampling\ntrue\t423624')" ]; ok $? "the prompt goes on after stopping a C loop"

# a real terminal: readline, Tab completion of globals, fields and methods, history
if command -v script >/dev/null 2>&1; then
    mkdir -p "$tmp/state"
    printf 'nl.vers\t\nr = nl.rng(3)\nr:perm\t(3)\n' |
        XDG_STATE_HOME="$tmp/state" TERM=xterm timeout 60 script -qec "$NASLAB --plain" /dev/null >"$tmp/tty" 2>&1
    tr -d '\r' <"$tmp/tty" >"$tmp/tty2"
    grep -q 'nl> nl.version$' "$tmp/tty2"; ok $? "Tab completes a table field (nl.vers -> nl.version)"
    grep -q '0\.1\.0' "$tmp/tty2"; ok $? "the completed line runs"
    grep -q 'nl> r:permutation(3)$' "$tmp/tty2"; ok $? "Tab completes a userdata method (r:perm -> r:permutation)"
    grep -qx 'nl.version' "$tmp/state/naslab/history"; ok $? "history saved in \$XDG_STATE_HOME/naslab/history"
    grep -q 'nl> ' "$tmp/tty2"; ok $? "the prompt is shown on a terminal"

    # Ctrl-C typed at the prompt, at a continuation line, and during a loop
    (printf 'abc'; sleep 1.5; printf '\003'; sleep 0.3; printf 'for i = 1, 3 do\n'; sleep 0.3
     printf '\003'; sleep 0.3; printf 'while true do end\n'; sleep 1; printf '\003'; sleep 0.3
     printf 'nl.version .. "!"\n'; sleep 0.3) |
        XDG_STATE_HOME="$tmp/state" TERM=xterm timeout 60 script -qec "$NASLAB --plain" /dev/null >"$tmp/tty" 2>&1
    tr -d '\r' <"$tmp/tty" | sed 's/\x1b\[?2004[hl]//g' >"$tmp/tty2"
    grep -q '^nl> abc^C$' "$tmp/tty2"; ok $? "Ctrl-C at the prompt clears the line"
    grep -q '^\.\.> ^C$' "$tmp/tty2"; ok $? "Ctrl-C at a continuation line drops the chunk"
    grep -q 'interrupted!' "$tmp/tty2"; ok $? "Ctrl-C stops a running loop on a terminal"
    grep -q '^0\.1\.0!$' "$tmp/tty2"; ok $? "the prompt works after the interrupts"
else
    echo "# script(1) not found: terminal tests skipped"
fi
done_testing
