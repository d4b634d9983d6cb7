#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# A search stopped by Ctrl-C (SIGINT) and one killed with SIGKILL, each run
# again with resume = true on its run directory, end with exactly the
# queries of an uninterrupted run (the logs compared byte for byte), and the
# oracle is asked only for the queries the log does not hold.
. "$(dirname "$0")/tap.sh"

cat >"$tmp/run.lua" <<'LUA'
local dir, resume = arg[1], arg[2] == "resume"
local sp = nl.space("nb201")
local asked = 0
-- a slow synthetic oracle (2 ms a query) so that signals land mid-run
local o = nl.search.oracle.fn(sp, function(a)
  asked = asked + 1
  local t = nl.clock()
  while nl.clock() - t < 0.002 do end
  local s, n3 = tostring(a:canonical()), 0
  for _ in s:gmatch("nor_conv_3x3") do n3 = n3 + 1 end
  io.stderr:write("query\n")
  return 80 + 2 * n3 + (a:index() % 97) * 0.001
end, "synthetic")
local r = nl.search.run("rea", { oracle = o, budget = 400, seed = 5, dir = dir, resume = resume })
print(string.format("queries %d best %.17g asked %d", r.queries, r.best.value, asked))
LUA

"$NASLAB" "$tmp/run.lua" "$tmp/a" >"$tmp/a.out" 2>/dev/null
ok $? "an uninterrupted run"

for sig in INT KILL; do
    d="$tmp/$sig"
    "$NASLAB" "$tmp/run.lua" "$d" >/dev/null 2>"$tmp/$sig.err" &
    pid=$!
    wait_for "$tmp/$sig.err" "^query" && sleep 0.3
    kill -$sig $pid 2>/dev/null
    wait $pid
    rc=$?
    [ $rc -ne 0 ]; ok $? "SIG$sig stops the run (exit $rc)"
    n=$(grep -c '^[0-9]' "$d/queries.tsv")
    [ "$n" -gt 0 ] && [ "$n" -lt 400 ]; ok $? "SIG$sig: the log holds the $n queries answered before it"
    "$NASLAB" "$tmp/run.lua" "$d" resume >"$tmp/$sig.out" 2>/dev/null
    ok $? "SIG$sig: the run resumes"
    cmp -s "$tmp/a/queries.tsv" "$d/queries.tsv"
    ok $? "SIG$sig: the resumed log equals the uninterrupted run's, byte for byte"
    want=$((400 - n))
    grep -q "asked $want\$" "$tmp/$sig.out" || diag <"$tmp/$sig.out"
    grep -q "asked $want\$" "$tmp/$sig.out"
    ok $? "SIG$sig: only the $want queries after the log went to the oracle"
    [ "$(sed 's/ asked.*//' "$tmp/$sig.out")" = "$(sed 's/ asked.*//' "$tmp/a.out")" ]
    ok $? "SIG$sig: same best value as the uninterrupted run"
done
done_testing
