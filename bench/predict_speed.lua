-- SPDX-License-Identifier: GPL-3.0-or-later
-- bench/predict_speed.lua - how long a fitted predictor takes to score a
-- whole search space at once: all 15,625 NAS-Bench-201 cells and all
-- 423,624 NAS-Bench-101 cells (encoding included; the arch list is built
-- before the clock starts), and how long ReNAS takes to fit 424 cells.
-- Wall time (nl.clock), best of 3 (of 1 when a run takes over 5 s); the fit targets are synthetic (the
-- parameter count), since only the time is measured here.
--
--   naslab bench/predict_speed.lua [THREADS]
local threads = math.tointeger(tonumber(arg[1] or "2"))
local function best_of(n, f) -- best of n runs; one when a run takes over 5 s
  local best = math.huge
  for _ = 1, n do
    local t = nl.clock()
    f()
    best = math.min(best, nl.clock() - t)
    if best > 5 then break end
  end
  return best
end

local function space_archs(name)
  local sp, all = nl.space(name), {}
  for a in sp:iter() do all[#all + 1] = a end
  return all
end

print(string.format("naslab %s, %d thread(s), wall seconds, best of 3", nl.version, threads))
print(string.format("%-6s %-9s %10s %12s %14s", "space", "kind", "cells", "fit s", "predict all s"))
for _, name in ipairs { "nb201", "nb101" } do
  local all = space_archs(name)
  local r = nl.rng(1)
  local train, y = {}, {}
  for i = 1, 424 do
    train[i] = all[r:int(1, #all)]
    y[i] = train[i]:params() / 1e6 + r:normal(0, 0.01)
  end
  for _, kind in ipairs { "renas", "mlp", "gbdt" } do
    local p = nl.predictor(kind, { seed = 1, threads = threads })
    local fit = best_of(kind == "renas" and 1 or 3, function() p:fit(train, y) end)
    local pred = best_of(3, function() p:predict(all) end)
    print(string.format("%-6s %-9s %10d %12.3f %14.3f", name, kind, #all, fit, pred))
  end
end
