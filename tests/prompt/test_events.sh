#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Events without a terminal: a script's run is recorded, a headless replay
# redraws it and saves the same SVG twice, pipes get no progress noise, and a
# terminal's stderr gets one progress line per event.
. "$(dirname "$0")/tap.sh"

cat >"$tmp/rec.lua" <<'EOF2'
nl.run.open(arg[1])
for i = 1, 30 do
  nl.emit("search.query", { run = 1, query = i, best = 90 + math.log(i) })
  nl.emit("search.query", { run = 2, query = i, best = 89 + math.sqrt(i) / 2 })
  nl.emit("pareto.point", { x = i * 1.5, y = 80 + (i * 7 % 11) })
end
nl.emit("rank", { ["true"] = { 1, 2, 3, 4, 5 }, pred = { 2, 1, 3, 5, 4 } })
print(nl.run.close())
EOF2
"$NASLAB" "$tmp/rec.lua" "$tmp/run" >"$tmp/out" 2>"$tmp/err"
[ "$(cat "$tmp/out")" = 91 ]; ok $? "a script records its run (91 events)"
[ ! -s "$tmp/err" ]; ok $? "no progress noise when stderr is not a terminal"
[ "$(wc -l <"$tmp/run/events.jsonl")" -eq 91 ]; ok $? "events.jsonl has one line per event"

for k in 1 2; do
    "$NASLAB" --replay "$tmp/run" -e "assert(nl.plot.save('pareto', '$tmp/front$k.svg')); assert(nl.plot.save('search', '$tmp/search$k.svg')); assert(nl.plot.save('ranking', '$tmp/rank$k.csv'))" \
        >"$tmp/out$k" 2>&1
    ok $? "headless replay $k saves the charts"
done
cmp -s "$tmp/front1.svg" "$tmp/front2.svg" && cmp -s "$tmp/search1.svg" "$tmp/search2.svg"
ok $? "the same SVG twice"
grep -q '<svg' "$tmp/front1.svg"; ok $? "it is an SVG"
[ "$(grep -c . "$tmp/rank1.csv")" -ge 5 ]; ok $? "the ranking pane's data as CSV"
"$NASLAB" --replay "$tmp/nope" -e 'print(1)' >"$tmp/out" 2>"$tmp/err"
[ $? -eq 1 ] && grep -q "nope/events.jsonl" "$tmp/err"; ok $? "replaying a missing run fails and names the file"

if command -v script >/dev/null 2>&1; then
    TERM=xterm timeout 60 script -qec "$NASLAB -e 'nl.emit(\"train.epoch\", {epoch = 1, epochs = 3, loss = 0.5})'" /dev/null \
        >"$tmp/tty" 2>&1
    grep '\[train.epoch\]' "$tmp/tty" | grep ' epoch=1' | grep ' epochs=3' | grep -q ' loss=0.5'
    ok $? "on a terminal, one progress line per event"
fi
done_testing
