#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# The curses workbench in a real terminal: naslab runs inside tmux, keys go in
# with send-keys, the screen comes back with capture-pane; every wait is a
# bounded poll of the screen, never a fixed sleep.
. "$(dirname "$0")/tap.sh"

if ! command -v tmux >/dev/null 2>&1; then
    echo "1..0 # SKIP tmux is not installed (Debian package tmux)"
    exit 0
fi
sock="naslab-test-$$"
tm() { tmux -L "$sock" "$@"; }
trap 'tm kill-server 2>/dev/null; rm -rf "$tmp"' EXIT
screen() { tm capture-pane -p -t wb; }
# until_screen ERE [SECONDS]: poll the screen (default 30 s)
# a value alone on a line of the log pane: between its borders
V='(│|\|)'
until_screen() {
    i=0 n=$(( ${2:-30} * 10 ))
    while [ $i -lt $n ]; do
        screen >"$tmp/screen" 2>/dev/null && grep -E -q -- "$1" "$tmp/screen" && return 0
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}
mkdir -p "$tmp/state"
# a shell runs naslab, then records the terminal modes it left behind (the
# shell ignores the Ctrl-C sent to the terminal for naslab)
cat >"$tmp/run.sh" <<EOF
trap '' INT
XDG_STATE_HOME="$tmp/state" LANG=C.UTF-8 LC_ALL=C.UTF-8 TERM=xterm-256color "$NASLAB"
echo "naslab exited \$?"
stty -a >"$tmp/stty"
echo "stty saved"
sleep 600
EOF
tm new-session -d -s wb -x 120 -y 36 "sh $tmp/run.sh"

until_screen 'nl>'; ok $? "the workbench opens with the prompt"
grep -q 'F1 help' "$tmp/screen"; ok $? "a status line with key hints"
grep -q 'ranking' "$tmp/screen" && grep -q 'pareto' "$tmp/screen" && grep -q 'search' "$tmp/screen" &&
    grep -q 'log' "$tmp/screen"
ok $? "the panes are drawn (ranking, pareto, search, log)"

tm send-keys -t wb '6*7' Enter
until_screen "${V}42 +${V}"; ok $? "an expression is evaluated and its value shown in the log"

# a job that plots for a few seconds; keys typed meanwhile are echoed at once
tm send-keys -t wb 'for i = 1, 150 do nl.plot.line{pane = "demo", x = i, y = math.sqrt(i)}; local t = os.clock(); while os.clock() - t < 0.03 do end end; print("plotted")' Enter
until_screen 'job:' 10; ok $? "the status line shows the running job"
tm send-keys -t wb 'typed_during_job = 1'
until_screen 'nl> typed_during_job = 1' 5; ok $? "the prompt echoes keys while the job runs"
until_screen 'demo' 10; ok $? "the job's own pane appears while it runs"
until_screen 'plotted' 60; ok $? "the job finishes"
tm send-keys -t wb Enter
tm send-keys -t wb 'typed_during_job + 1' Enter
until_screen "${V}2 +${V}" 10; ok $? "the line typed during the job ran after it"

# Ctrl-C cancels a job; the prompt works after, state kept
tm send-keys -t wb 'kept = 41; while true do end' Enter
until_screen 'job:' 10
tm send-keys -t wb C-c
until_screen 'interrupted!' 10; ok $? "Ctrl-C cancels the running job"
tm send-keys -t wb 'kept + 1' Enter
until_screen "${V}42 +${V}.*" 10 && [ "$(grep -E -c "${V}42 +${V}" "$tmp/screen")" -ge 2 ]; ok $? "the prompt works after Ctrl-C, state kept"

# Tab completion inside curses
tm send-keys -t wb 'nl.vers' Tab
until_screen 'nl> nl.version' 5; ok $? "Tab completes in the workbench"
tm send-keys -t wb C-u

# F1 help and back
tm send-keys -t wb F1
until_screen 'this help' 5; ok $? "F1 shows the help"
tm send-keys -t wb x
i=0; while [ $i -lt 50 ] && screen | grep -q 'this help'; do sleep 0.1; i=$((i + 1)); done
screen | grep -q 'this help'; [ $? -ne 0 ]; ok $? "any key closes the help"

# resizing reflows everything
tm resize-window -t wb -x 90 -y 28
i=0
while [ $i -lt 100 ]; do
    screen >"$tmp/screen"
    [ "$(wc -l <"$tmp/screen")" -le 28 ] && grep -q 'nl>' "$tmp/screen" &&
        [ "$(awk '{ if (length($0) > m) m = length($0) } END { print m + 0 }' "$tmp/screen")" -le 90 ] && break
    sleep 0.1
    i=$((i + 1))
done
grep -q 'nl>' "$tmp/screen" && grep -q 'ranking' "$tmp/screen"; ok $? "after a resize the panes and prompt are drawn again"
tm send-keys -t wb '1+2' Enter
until_screen "${V}3 +${V}" 10; ok $? "the prompt works after a resize"

# quitting restores the terminal
tm send-keys -t wb C-d
until_screen "stty saved" 10; st=$?; [ $st -eq 0 ] || screen | diag; ok $st "Ctrl-D quits"
grep -q 'naslab exited 0' "$tmp/screen"; ok $? "exit status 0"
grep -q ' icanon' "$tmp/stty" && grep -q ' echo ' "$tmp/stty"; ok $? "the terminal modes are restored (icanon, echo)"
grep -qx '6\*7' "$tmp/state/naslab/history"; ok $? "history is kept in the workbench too"
done_testing
