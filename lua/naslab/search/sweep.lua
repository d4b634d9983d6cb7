-- SPDX-License-Identifier: GPL-3.0-or-later
-- naslab/search/sweep.lua - nl.search.sweep: several recipes, many seeds,
-- one oracle and budget; how fast each finds good cells. For every recipe
-- and every query count q it reports the median and quartiles over seeds of
-- the regret (the oracle's optimum minus the best value found within q
-- queries), the median number of queries to reach the top `top` cells, and
-- the sample-efficiency gain over random search (Mauch et al. 2020): at a
-- level L, gain(L) = mean over seeds of the queries random search needs to
-- reach L divided by the same mean for the recipe (a run that never reaches
-- L counts as budget + 1 queries, so gains past what random reaches within
-- the budget are lower bounds). Results go to a table printed with :print(),
-- to events (search.query per query, search.sweep per recipe) and, with dir,
-- to DIR/runs.csv and DIR/summary.csv (res:save(dir) exports them anywhere).
return function(S, opts)
  local nl = require "naslab"
  local bad, guard, isint = S.bad, S.guard, S.isint

  local cfg = guard("sweep", 1, function()
    if type(opts) ~= "table" then bad("expected a table of options, got %s", type(opts)) end
    local known = { algos = true, seeds = true, budget = true, oracle = true, dir = true, top = true, quiet = true,
                    levels = true }
    for k in pairs(opts) do
      if not known[k] then bad("unknown option '%s' (known: algos, seeds, budget, oracle, dir, top, levels, quiet)", tostring(k)) end
    end
    local algos = opts.algos or { "random", "rea", "renas" }
    if type(algos) ~= "table" or #algos == 0 then bad("algos must be a non-empty list of recipe names or tables") end
    local list, labels = {}, {}
    for i, a in ipairs(algos) do
      local e = {}
      if type(a) == "string" then
        e.name, e.opts = a, {}
      elseif type(a) == "table" and type(a[1]) == "string" then
        e.name, e.opts = a[1], {}
        for k, v in pairs(a) do if k ~= 1 and k ~= "label" then e.opts[k] = v end end
        e.label = a.label
      else
        bad("algos[%d] must be a recipe name or a table { name, option = value, ... }", i)
      end
      e.label = e.label or e.name
      if labels[e.label] then bad("algos[%d]: label '%s' is used twice (give label = ...)", i, e.label) end
      labels[e.label] = true
      list[#list + 1] = e
    end
    local seeds = opts.seeds or 30
    if type(seeds) == "number" then
      if not isint(seeds) or seeds < 1 then bad("seeds must be a count >= 1 or a list, got %s", tostring(seeds)) end
      local t = {}
      for i = 1, math.tointeger(seeds) do t[i] = i end
      seeds = t
    elseif type(seeds) ~= "table" or #seeds == 0 then
      bad("seeds must be a count or a non-empty list of seeds")
    end
    local budget = opts.budget or 100
    if not isint(budget) or budget < 1 then bad("budget must be an integer >= 1, got %s", tostring(budget)) end
    local oracle = opts.oracle or S.oracle.bench()
    if opts.dir ~= nil and type(opts.dir) ~= "string" then bad("dir must be a path, got %s", type(opts.dir)) end
    if opts.dir ~= nil and not (io and io.open) then bad("dir needs file access, which the --lab sandbox does not give") end
    local top = opts.top or 0.001
    if type(top) ~= "number" or top <= 0 then bad("top must be a count >= 1 or a fraction in (0, 1), got %s", tostring(top)) end
    return { algos = list, seeds = seeds, budget = math.tointeger(budget), oracle = oracle, dir = opts.dir,
             top = top, quiet = opts.quiet, levels = opts.levels }
  end)

  -- The optimum and the top-cell threshold, from the table when the oracle
  -- has one, else from what the runs find.
  local oracle, budget = cfg.oracle, cfg.budget
  local optimum, threshold, ntop
  if oracle.values then
    local v = {}
    for i, x in ipairs(oracle.values) do v[i] = x end
    table.sort(v, function(a, b) return a > b end)
    optimum = v[1]
    ntop = cfg.top >= 1 and math.tointeger(cfg.top) or math.max(1, math.floor(cfg.top * #v + 0.5))
    threshold = v[math.min(ntop, #v)]
  end

  local t0 = nl.clock()
  local runs = {} -- label -> list of { seed, curve = best after q queries, hit = queries to the threshold }
  for _, e in ipairs(cfg.algos) do
    local mine = {}
    local te = nl.clock()
    for _, seed in ipairs(cfg.seeds) do
      local o = {}
      for k, v in pairs(e.opts) do o[k] = v end
      o.oracle, o.budget, o.seed, o.label = oracle, budget, seed, e.label .. "/" .. seed
      local r = S.run(e.name, o)
      local curve, best = {}, -math.huge
      for q = 1, budget do
        local h = r.history[q]
        if h and h.value > best then best = h.value end
        curve[q] = best
      end
      local hit
      if threshold then
        for q = 1, budget do
          if curve[q] >= threshold then hit = q; break end
        end
      end
      mine[#mine + 1] = { seed = seed, curve = curve, hit = hit, history = r.history, best = r.best }
    end
    runs[e.label] = mine
    if not cfg.quiet then
      io.stderr:write(string.format("sweep: %s, %d seeds, %.1f s\n", e.label, #cfg.seeds, nl.clock() - te))
    end
  end
  if not optimum then
    optimum = -math.huge
    for _, mine in pairs(runs) do
      for _, r in ipairs(mine) do optimum = math.max(optimum, r.curve[budget]) end
    end
  end

  local function quantile(sorted, p) -- linear interpolation, as numpy's default
    local n = #sorted
    if n == 0 then return 0 / 0 end
    local h = (n - 1) * p + 1
    local lo = math.floor(h)
    local hi = math.min(lo + 1, n)
    return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo])
  end

  local res = { optimum = optimum, threshold = threshold, top = ntop, budget = budget, seeds = cfg.seeds,
                algos = {}, runs = runs, seconds = 0, oracle = oracle.name }
  for _, e in ipairs(cfg.algos) do
    local mine = runs[e.label]
    local s = { label = e.label, name = e.name, median = {}, q1 = {}, q3 = {} }
    for q = 1, budget do
      local reg = {}
      for i, r in ipairs(mine) do reg[i] = optimum - r.curve[q] end
      table.sort(reg)
      s.median[q], s.q1[q], s.q3[q] = quantile(reg, 0.5), quantile(reg, 0.25), quantile(reg, 0.75)
    end
    if threshold then
      local hits, reached = {}, 0
      for i, r in ipairs(mine) do
        hits[i] = r.hit or (budget + 1)
        if r.hit then reached = reached + 1 end
      end
      table.sort(hits)
      s.hits, s.reached = hits, reached
      local m = quantile(hits, 0.5)
      s.median_hit = m <= budget and m or nil -- nil: more than half the runs never got there
    end
    res.algos[#res.algos + 1] = s
    nl.emit("search.sweep", { algo = e.label, seeds = #mine, median_regret = s.median[budget],
                              median_hit = s.median_hit or 0 / 0 })
  end

  -- Sample-efficiency gain over random search at levels of the value.
  local rs = runs.random
  if rs then
    local levels = cfg.levels
    if not levels and oracle.values then
      local v = {}
      for i, x in ipairs(oracle.values) do v[i] = x end
      table.sort(v, function(a, b) return a > b end)
      levels = {}
      for _, f in ipairs { 0.05, 0.01, 0.005, 0.001 } do levels[#levels + 1] = v[math.max(1, math.floor(f * #v + 0.5))] end
    end
    if levels then
      local function mean_n(mine, L)
        local sum = 0
        for _, r in ipairs(mine) do
          local n = budget + 1
          for q = 1, budget do
            if r.curve[q] >= L then n = q; break end
          end
          sum = sum + n
        end
        return sum / #mine
      end
      res.levels = levels
      for _, s in ipairs(res.algos) do
        s.gain = {}
        for i, L in ipairs(levels) do s.gain[i] = mean_n(rs, L) / mean_n(runs[s.label], L) end
      end
    end
  end
  res.seconds = nl.clock() - t0

  local function csv_write(path, lines)
    local tmp = path .. ".tmp"
    local f, msg = io.open(tmp, "w")
    if not f then return nil, msg end
    f:write(table.concat(lines, "\n"), "\n")
    f:close()
    local ok, rmsg = os.rename(tmp, path)
    if not ok then return nil, rmsg end
    return true
  end

  -- res:save(dir): DIR/runs.csv (one line per query of every run) and
  -- DIR/summary.csv (median and quartiles of regret per recipe and query).
  function res:save(dir)
    os.execute(string.format("mkdir -p '%s'", dir:gsub("'", "'\\''")))
    local lines = { "algo,seed,query,arch,value,best,regret" }
    for _, e in ipairs(cfg.algos) do
      for _, r in ipairs(runs[e.label]) do
        for q, h in ipairs(r.history) do
          lines[#lines + 1] = string.format("%s,%d,%d,%s,%.17g,%.17g,%.17g", e.label, r.seed, q, tostring(h.arch),
                                            h.value, r.curve[q], optimum - r.curve[q])
        end
      end
    end
    local ok, msg = csv_write(dir .. "/runs.csv", lines)
    if not ok then return nil, msg end
    lines = { "algo,query,median_regret,q1_regret,q3_regret" }
    for _, s in ipairs(self.algos) do
      for q = 1, budget do
        lines[#lines + 1] = string.format("%s,%d,%.17g,%.17g,%.17g", s.label, q, s.median[q], s.q1[q], s.q3[q])
      end
    end
    return csv_write(dir .. "/summary.csv", lines)
  end

  -- res:print([queries]): the table, regret median (q1-q3) at some query
  -- counts, the median queries to the top cells, the gain over random.
  function res:print(qs)
    qs = qs or {}
    if #qs == 0 then
      for _, q in ipairs { 10, 20, 50, 100, 200, 500, 1000 } do if q <= budget then qs[#qs + 1] = q end end
      if qs[#qs] ~= budget then qs[#qs + 1] = budget end
    end
    local out = {}
    out[#out + 1] = string.format("sweep on %s: %d seeds, budget %d, optimum %.4g%s, %.1f s", self.oracle, #self.seeds,
                                  budget, optimum, threshold and string.format(", top %d at >= %.4g", ntop, threshold) or "",
                                  self.seconds)
    local head = string.format("%-14s", "regret at q")
    for _, q in ipairs(qs) do head = head .. string.format(" %18d", q) end
    if threshold then head = head .. string.format(" %14s", "q to top " .. ntop) end
    out[#out + 1] = head
    for _, s in ipairs(self.algos) do
      local line = string.format("%-14s", s.label)
      for _, q in ipairs(qs) do
        line = line .. string.format(" %18s", string.format("%.3f (%.3f-%.3f)", s.median[q], s.q1[q], s.q3[q]))
      end
      if threshold then
        line = line .. string.format(" %14s", s.median_hit and string.format("%d (%d/%d)", math.floor(s.median_hit + 0.5),
          s.reached, #self.seeds) or string.format(">%d (%d/%d)", budget, s.reached, #self.seeds))
      end
      out[#out + 1] = line
    end
    if self.levels then
      local g = string.format("%-14s", "gain at value")
      for _, L in ipairs(self.levels) do g = g .. string.format(" %10.4g", L) end
      out[#out + 1] = g
      for _, s in ipairs(self.algos) do
        local line = string.format("%-14s", s.label)
        for i = 1, #self.levels do line = line .. string.format(" %10.2f", s.gain[i]) end
        out[#out + 1] = line
      end
    end
    local text = table.concat(out, "\n")
    print(text)
    return text
  end

  if cfg.dir then
    local ok, msg = res:save(cfg.dir)
    if not ok then error(msg, 2) end
  end
  return res
end
