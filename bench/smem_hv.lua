-- SPDX-License-Identifier: GPL-3.0-or-later
-- bench/smem_hv.lua - issue 6's SMEM-NAS target on the real NAS-Bench-201
-- table: accuracy (c10_test) against a second objective, B queries, S
-- seeds; the hypervolume of the queried cells' front over that of the true
-- front of all 15,625 cells, per seed, with the median and quartiles, for
-- SMEM-NAS and for random search (the peer, measured in the same run), and
-- the wall time. Target: median ratio >= 0.98 with params, 100 queries.
--
-- Two reference points (lua/naslab/search/smem.lua): "table" normalises
-- both objectives by the table's ranges, reference (worst accuracy, largest
-- objective) - the target's; "front" uses the true front's own ranges, so
-- only cells near the front count, which tells methods apart.
--
--   naslab bench/smem_hv.lua [--seeds S] [--budget B] [--objective NAME[,NAME...]]
--                            [--score wins|soft] [--nb201 CSV] [--latency CSV]
--
-- NAME: params, flops, or a column of the latency table (default
-- "params,lat_pixel3_ms"). The tables default to
-- $NASLAB_SHARED/data/nb201.csv and nb201_latency.csv (../shared/data).
local smem = require "naslab.search.smem"
local known = false
for _, r in ipairs(nl.search.list()) do known = known or r.name == "smem" end
if not known then nl.search.register("smem", smem) end

local opts = { seeds = 30, budget = 100, objective = "params,lat_pixel3_ms", score = "wins" }
local i = 1
while i <= #arg do
  local a, v = arg[i], arg[i + 1]
  if a == "--seeds" and tonumber(v) then opts.seeds = math.tointeger(tonumber(v))
  elseif a == "--budget" and tonumber(v) then opts.budget = math.tointeger(tonumber(v))
  elseif a == "--objective" and v then opts.objective = v
  elseif a == "--score" and (v == "wins" or v == "soft") then opts.score = v
  elseif a == "--nb201" and v then opts.nb201 = v
  elseif a == "--latency" and v then opts.latency = v
  else
    io.stderr:write("usage: naslab bench/smem_hv.lua [--seeds S] [--budget B] [--objective NAME[,NAME...]] "
      .. "[--score wins|soft] [--nb201 CSV] [--latency CSV]\n")
    os.exit(2)
  end
  i = i + 2
end
local shared = (os.getenv("NASLAB_SHARED") or "../shared") .. "/data/"
local path = opts.nb201 or (shared .. "nb201.csv")
local f = io.open(path)
if not f then
  print("skipping: the NAS-Bench-201 table " .. path .. " is not readable (give --nb201 CSV)")
  return
end
f:close()
local latency = opts.latency or (shared .. "nb201_latency.csv")

local oracle = nl.search.oracle.bench(path, "c10_test", { cost = false })

-- median and quartiles (linear interpolation between order statistics)
local function quart(t)
  local s = table.move(t, 1, #t, 1, {})
  table.sort(s)
  local function at(p)
    local x = 1 + (#s - 1) * p
    local lo = math.floor(x)
    return s[lo] + (s[math.min(lo + 1, #s)] - s[lo]) * (x - lo)
  end
  return at(0.5), at(0.25), at(0.75)
end

local function measure(algo, objective, bench_path)
  local fobj = smem.objective(objective, oracle, bench_path)
  local res = { table = {}, front = {}, wall = 0 }
  for s = 1, opts.seeds do
    local ro = { oracle = oracle, budget = opts.budget, seed = s, label = algo .. " " .. s }
    if algo == "smem" then ro.objective, ro.objective_bench, ro.score = objective, bench_path or "", opts.score end
    local t0 = nl.clock()
    local r = nl.search.run(algo, ro)
    res.wall = res.wall + (nl.clock() - t0)
    local recs = {}
    for k, h in ipairs(r.history) do recs[k] = { value = h.value, objective = fobj(h.arch) } end
    res.table[s] = smem.hv_ratio(recs, oracle, objective, bench_path, "table")
    res.front[s] = smem.hv_ratio(recs, oracle, objective, bench_path, "front")
  end
  return res
end

for name in opts.objective:gmatch("[^,]+") do
  local bench_path
  if name ~= "params" and name ~= "flops" then
    local lf = io.open(latency)
    if not lf then
      print("skipping " .. name .. ": the latency table " .. latency .. " is not readable (give --latency CSV)")
      goto next
    end
    lf:close()
    bench_path = latency
  end
  do
    local t = smem.true_front(oracle, name, bench_path)
    print(string.format("NB201 c10_test vs %s: %d queries, %d seeds, score %s; true front %d cells", name,
      opts.budget, opts.seeds, opts.score, #t.front))
    local sm, rs = measure("smem", name, bench_path), measure("random", name, bench_path)
    print("seed  smem/table  random/table  smem/front  random/front")
    for s = 1, opts.seeds do
      print(string.format("%4d  %10.4f  %12.4f  %10.4f  %12.4f", s, sm.table[s], rs.table[s], sm.front[s], rs.front[s]))
    end
    for _, ref in ipairs { "table", "front" } do
      local m1, q1, q3 = quart(sm[ref])
      local m2, r1, r3 = quart(rs[ref])
      print(string.format("HV ratio, ref %-5s  smem median %.4f [%.4f, %.4f]   random median %.4f [%.4f, %.4f]", ref,
        m1, q1, q3, m2, r1, r3))
    end
    local m = quart(sm.table)
    print(string.format("target (median table ratio >= 0.98): %s", m >= 0.98 and "met" or "NOT met"))
    print(string.format("wall: smem %.1f s (%.2f s a run), random %.2f s", sm.wall, sm.wall / opts.seeds, rs.wall))
    print()
  end
  ::next::
end
