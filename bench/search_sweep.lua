-- SPDX-License-Identifier: GPL-3.0-or-later
-- bench/search_sweep.lua - the search recipes on the real NAS-Bench-201
-- table (CIFAR-10 c10_test as the oracle's value): nl.search.sweep over
-- seeds 1..S with a budget of B queries; prints the regret table, the median
-- number of queries to a top-0.1% cell (the 16 best of 15,625), the
-- sample-efficiency gain over random search, and the wall time. Random
-- search and regularised evolution are the peers measured in the same run.
--
--   naslab bench/search_sweep.lua [--seeds S] [--budget B] [--algos LIST] [--nb201 CSV] [--dir DIR]
--
-- LIST is comma-separated; an entry is a recipe name or name:key=value:...
-- (e.g. renas:candidates=smart:epochs=50). Default:
-- random,rea,renas,renas:candidates=random,renas:candidates=smart.
-- The table defaults to $NASLAB_SHARED/data/nb201.csv (../shared/data).
local opts = { seeds = 30, budget = 100,
               algos = "random,rea,renas,renas:candidates=random,renas:candidates=smart" }
local i = 1
while i <= #arg do
  local a, v = arg[i], arg[i + 1]
  if a == "--seeds" and tonumber(v) then opts.seeds = math.tointeger(tonumber(v))
  elseif a == "--budget" and tonumber(v) then opts.budget = math.tointeger(tonumber(v))
  elseif a == "--algos" and v then opts.algos = v
  elseif a == "--nb201" and v then opts.nb201 = v
  elseif a == "--dir" and v then opts.dir = v
  else
    io.stderr:write("usage: naslab bench/search_sweep.lua [--seeds S] [--budget B] [--algos LIST] [--nb201 CSV] [--dir DIR]\n")
    os.exit(2)
  end
  i = i + 2
end
local path = opts.nb201 or ((os.getenv("NASLAB_SHARED") or "../shared") .. "/data/nb201.csv")
local f = io.open(path)
if not f then
  print("skipping: the NAS-Bench-201 table " .. path .. " is not readable (give --nb201 CSV)")
  return
end
f:close()
local algos = {}
for entry in opts.algos:gmatch("[^,]+") do
  local parts = {}
  for p in entry:gmatch("[^:]+") do parts[#parts + 1] = p end
  local e = { parts[1], label = entry }
  for j = 2, #parts do
    local k, v = parts[j]:match("^([%w_]+)=(.*)$")
    if not k then error("bad --algos entry " .. entry) end
    e[k] = tonumber(v) and (math.tointeger(tonumber(v)) or tonumber(v)) or v
  end
  algos[#algos + 1] = e
end
local o = nl.search.oracle.bench(path, "c10_test")
local r = nl.search.sweep { oracle = o, seeds = opts.seeds, budget = opts.budget, algos = algos, dir = opts.dir }
r:print()
