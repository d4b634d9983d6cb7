-- SPDX-License-Identifier: GPL-3.0-or-later
-- bench/gbdt_tau.lua - Kendall tau of the tree and ensemble predictors on the
-- real NAS-Bench-201 table: for each training-set size and seed, draw that
-- many random cells (nl.rng(seed):permutation), fit, predict every other
-- cell, and report tau-b against the metric (mean, sd, min, max over seeds)
-- with the mean fit time (CPU seconds, os.clock: every kind here runs on one
-- thread) and the predict time for all held-out cells.
--
--   naslab bench/gbdt_tau.lua [sizes [seeds [predictors [metric [csv]]]]]
--
-- sizes: comma-separated (default 156,1562); seeds: n for 1..n, or a range
-- "a-b" (default 5);
-- predictors: comma-separated specs kind[:key=value...], e.g.
-- "gbdt,gbdt:loss=pairwise,ensemble" (the default) or "gbdt:encoding=path:depth=4";
-- metric: c10_test; csv: $NASLAB_SHARED/data/nb201.csv (../shared/data).
local sizes = {}
local s0, s1 = (arg[2] or "5"):match("^(%d+)-(%d+)$")
s0, s1 = math.tointeger(tonumber(s0 or 1)), math.tointeger(tonumber(s1 or arg[2] or 5))
for s in (arg[1] or "156,1562"):gmatch("[^,]+") do sizes[#sizes + 1] = math.tointeger(tonumber(s)) end
local specs = arg[3] or "gbdt,gbdt:loss=pairwise,ensemble"
local metric = arg[4] or "c10_test"
local shared = os.getenv("NASLAB_SHARED") or "../shared"
local b = assert(nl.bench.load(arg[5] or (shared .. "/data/nb201.csv")))

local archs = b:archs()
local ys = {}
for i, a in ipairs(archs) do ys[i] = b:query(a, metric) end

-- "gbdt:loss=pairwise:depth=4" -> "gbdt", { loss = "pairwise", depth = 4 }
local function parse(spec)
  local kind, opts = spec:match("^([^:]+)"), {}
  for k, v in spec:gmatch(":([%w_]+)=([^:]+)") do
    if k == "members" then
      local m = {}
      for name in v:gmatch("[^+]+") do m[#m + 1] = name end
      opts[k] = m
    else
      opts[k] = math.tointeger(tonumber(v)) or tonumber(v) or v
    end
  end
  return kind, opts
end

local function stats(x)
  local m, lo, hi = 0, math.huge, -math.huge
  for _, v in ipairs(x) do m = m + v; lo = math.min(lo, v); hi = math.max(hi, v) end
  m = m / #x
  local s = 0
  for _, v in ipairs(x) do s = s + (v - m) ^ 2 end
  return m, #x > 1 and math.sqrt(s / (#x - 1)) or 0, lo, hi
end

print(string.format("%s, metric %s, %d cells, seeds %d..%d", b:path(), metric, #archs, s0, s1))
print(string.format("%-40s %6s %7s %6s %7s %7s %8s %9s", "predictor", "train", "tau", "sd", "min", "max", "fit s",
                    "predict s"))
for _, n in ipairs(sizes) do
  for spec in specs:gmatch("[^,]+") do
    local taus, fit, pred = {}, 0, 0
    for seed = s0, s1 do
      local perm = nl.rng(seed):permutation(#archs)
      local tr, ytr, te, yte = {}, {}, {}, {}
      for i, k in ipairs(perm) do
        if i <= n then tr[#tr + 1] = archs[k]; ytr[#ytr + 1] = ys[k]
        else te[#te + 1] = archs[k]; yte[#yte + 1] = ys[k] end
      end
      local kind, opts = parse(spec)
      opts.seed = seed
      local p = nl.predictor(kind, opts)
      local t0 = os.clock()
      p:fit(tr, ytr)
      local t1 = os.clock()
      local s = p:predict(te)
      local t2 = os.clock()
      fit, pred = fit + (t1 - t0), pred + (t2 - t1)
      taus[#taus + 1] = nl.stats.kendall(s, yte)
      p:close()
    end
    local m, sd, lo, hi = stats(taus)
    print(string.format("%-40s %6d %7.4f %6.4f %7.4f %7.4f %8.2f %9.3f", spec, n, m, sd, lo, hi, fit / #taus,
                        pred / #taus))
    io.stdout:flush()
  end
end
