-- SPDX-License-Identifier: GPL-3.0-or-later
-- naslab/eval.lua - nl.eval: how well performance predictors rank a tabular
-- benchmark (issue 5; the protocol of ALGORITHMS.md section 7). For every
-- training-set size and seed, nl.eval.predictor samples training cells with
-- nl.rng(seed), fits each predictor kind on them, predicts the other cells
-- (or a subsample of them) and measures Kendall tau-b, Spearman rho and
-- top-k precision against the benchmark's values with nl.stats. Written in
-- Lua so that users can read it and change it; the work is done by the C
-- predictors and statistics it calls.
local nl = require "naslab"

local M = {}

-- Argument errors are raised as tables inside the harness and turned into
-- "bad argument #1 to 'predictor' (...)" at the caller's level.
local ARGERR = {}
local function bad(fmt, ...) error(setmetatable({ msg = string.format(fmt, ...) }, ARGERR), 0) end

local KNOWN = { "bench", "metric", "predictor", "opts", "sizes", "seeds", "test", "topk", "canonical", "progress" }

local function isint(v)
  return math.type(v) == "integer" or (math.type(v) == "float" and v == math.floor(v) and math.abs(v) < 2 ^ 53)
end

local function shown(v)
  if type(v) == "string" then return string.format("'%s'", v) end
  return tostring(v)
end

local function sequence(v, what)
  if type(v) ~= "table" then bad("%s must be a list, got %s", what, type(v)) end
  local n = #v
  for k in pairs(v) do
    if not (math.type(k) == "integer" and k >= 1 and k <= n) then bad("%s must be a list (found key %s)", what, shown(k)) end
  end
  return n
end

-- The bench: a naslab.Bench, a path or name for nl.bench.load, or nil for
-- the embedded default. Returns nil, message when loading fails.
local function open_bench(b)
  if b == nil or type(b) == "string" then return nl.bench.load(b) end
  local mt = getmetatable(b)
  if type(b) ~= "userdata" or type(mt) ~= "table" or mt.__name ~= "naslab.Bench" then
    bad("bench must be a naslab.Bench, a path or a name, got %s", type(b))
  end
  return b
end

local function choose_metric(b, metric)
  local known = b:metrics()
  local set = {}
  for _, m in ipairs(known) do set[m] = true end
  if metric == nil then
    for _, m in ipairs{ "c10_test", "test_acc" } do
      if set[m] then return m end
    end
    bad("no metric given and %s has neither c10_test nor test_acc (known: %s)", b:path(), table.concat(known, ", "))
  end
  if type(metric) ~= "string" then bad("metric must be a string, got %s", type(metric)) end
  if not set[metric] then bad("unknown metric '%s' (known: %s)", metric, table.concat(known, ", ")) end
  return metric
end

local function choose_kinds(p)
  local known, names = {}, {}
  for _, k in ipairs(nl.predictors()) do known[k.name] = true; names[#names + 1] = k.name end
  local list
  if p == nil then list = { "renas" }
  elseif type(p) == "string" then list = { p }
  elseif type(p) == "table" then
    if sequence(p, "predictor") == 0 then bad("predictor is an empty list") end
    list = p
  else bad("predictor must be a kind or a list of kinds, got %s", type(p)) end
  local seen, out = {}, {}
  for i, k in ipairs(list) do
    if type(k) ~= "string" then bad("predictor[%d] must be a string, got %s", i, type(k)) end
    if not known[k] then bad("unknown predictor '%s' (known: %s)", k, table.concat(names, ", ")) end
    if seen[k] then bad("predictor '%s' is listed twice", k) end
    seen[k] = true
    out[#out + 1] = k
  end
  return out, known
end

-- opts: options shared by every kind, or a table of per-kind tables
-- ({renas = {...}, mlp = {...}}). Returns kind -> options table.
local function choose_opts(opts, kinds, known)
  local per = {}
  if opts == nil then
    for _, k in ipairs(kinds) do per[k] = {} end
    return per
  end
  if type(opts) ~= "table" then bad("opts must be a table, got %s", type(opts)) end
  local kindkeys, other = {}, {}
  for k, v in pairs(opts) do
    if type(k) == "string" and known[k] and type(v) == "table" then kindkeys[#kindkeys + 1] = k
    else other[#other + 1] = tostring(k) end
  end
  table.sort(kindkeys)
  table.sort(other)
  if #kindkeys > 0 and #other > 0 then
    bad("opts mixes per-kind tables (%s) with shared options (%s)", table.concat(kindkeys, ", "), table.concat(other, ", "))
  end
  local listed = {}
  for _, k in ipairs(kinds) do listed[k] = true end
  for _, k in ipairs(kindkeys) do
    if not listed[k] then bad("opts.%s is given but %s is not among the predictors", k, k) end
  end
  for _, k in ipairs(kinds) do
    local src = #kindkeys > 0 and (opts[k] or {}) or opts
    if src.seed ~= nil then
      bad("opts%s.seed cannot be set: each run seeds its predictor with the run's seed", #kindkeys > 0 and ("." .. k) or "")
    end
    local copy = {}
    for key, v in pairs(src) do copy[key] = v end
    per[k] = copy
  end
  return per
end

local function choose_sizes(sizes, n)
  if sizes == nil then sizes = { 0.01, 0.1 } end
  if type(sizes) == "number" then sizes = { sizes } end
  if sequence(sizes, "sizes") == 0 then bad("sizes is an empty list") end
  local out, seen = {}, {}
  for i, s in ipairs(sizes) do
    if type(s) ~= "number" or s ~= s then bad("sizes[%d] must be a number, got %s", i, type(s)) end
    local m
    if s > 0 and s < 1 then
      m = math.floor(s * n)
      if m < 2 then bad("sizes[%d] = %s gives %d training cells of %d; at least 2 are needed", i, tostring(s), m, n) end
    elseif isint(s) and s >= 2 then
      m = math.tointeger(s)
      if m > n - 2 then
        bad("sizes[%d] = %d is larger than the bench allows (%d cells with values; at most %d leave 2 to test)", i, m, n, n - 2)
      end
    else
      bad("sizes[%d] must be an integer >= 2 or a fraction in (0, 1), got %s", i, tostring(s))
    end
    if seen[m] then bad("sizes[%d] repeats the training-set size %d", i, m) end
    seen[m] = true
    out[#out + 1] = m
  end
  return out
end

local function choose_seeds(seeds)
  if seeds == nil then seeds = 20 end
  if type(seeds) == "number" then
    if not isint(seeds) or seeds < 1 then bad("seeds must be a count >= 1 or a list of integer seeds, got %s", tostring(seeds)) end
    local out = {}
    for i = 1, math.tointeger(seeds) do out[i] = i end
    return out
  end
  if type(seeds) ~= "table" then bad("seeds must be a count or a list of integer seeds, got %s", type(seeds)) end
  if sequence(seeds, "seeds") == 0 then bad("seeds is an empty list") end
  local out, seen = {}, {}
  for i, s in ipairs(seeds) do
    if not isint(s) or s < 0 then bad("seeds[%d] must be an integer >= 0, got %s", i, shown(s)) end
    s = math.tointeger(s)
    if seen[s] then bad("seeds[%d] repeats seed %d", i, s) end
    seen[s] = true
    out[#out + 1] = s
  end
  return out
end

-- nl.eval.split(n, size, seed [, test]): the training and test positions
-- (1..n) of one run: a permutation of 1..n drawn from nl.rng(seed); its
-- first `size` entries train, the next `test` (default: all the others) test.
-- The same seed gives the same permutation for every size, so smaller
-- training sets are prefixes of larger ones.
function M.split(n, size, seed, test)
  local perm = nl.rng(seed):permutation(n)
  local tr, te = {}, {}
  for i = 1, size do tr[i] = perm[i] end
  local last = test and (size + test) or n
  for i = size + 1, last do te[#te + 1] = perm[i] end
  return tr, te
end

local function mean_sd(v)
  local n = #v
  if n == 0 then return 0 / 0, 0 / 0 end
  local m = 0
  for _, x in ipairs(v) do m = m + x end
  m = m / n
  if n < 2 then return m, 0 / 0 end
  local s = 0
  for _, x in ipairs(v) do s = s + (x - m) * (x - m) end
  return m, math.sqrt(s / (n - 1))
end

local Result = {}
Result.__index = Result

local function num(v, fmt, width)
  if v ~= v then return string.rep(" ", width - 1) .. "-" end
  return string.format("%" .. width .. fmt, v)
end

-- res:format(): the summary as a text table, one line per (kind, size).
function Result:format()
  local lines = {}
  lines[#lines + 1] = string.format("%s, %s: %d cells, test = %s%s%s", self.bench, self.metric, self.cells,
    self.test and (self.test .. " of the rest") or "all the rest", self.canonical and ", canonical cells" or "",
    self.stopped and " (stopped early)" or "")
  -- "tau (mean ± sd)" is 15 characters wide on screen (± is two bytes).
  local head = string.format("%-9s %6s %6s  %s %6s", "kind", "size", "seeds", "tau (mean ± sd)", "rho")
  for _, k in ipairs(self.topk) do head = head .. string.format(" %6s", "top" .. k) end
  lines[#lines + 1] = head .. string.format(" %8s", "fit s")
  for _, s in ipairs(self.summary) do
    local l = string.format("%-9s %6d %6d  %s ± %s %s", s.kind, s.size, s.seeds, num(s.tau_mean, ".3f", 7),
      num(s.tau_sd, ".3f", 5), num(s.rho_mean, ".3f", 6))
    for _, k in ipairs(self.topk) do l = l .. " " .. num(s["top" .. k .. "_mean"], ".2f", 6) end
    lines[#lines + 1] = l .. " " .. num(s.fit_mean, ".2f", 8)
  end
  return table.concat(lines, "\n")
end

-- res:print([file]): write res:format() and a newline to file (io.stdout).
function Result:print(f)
  f = f or io.stdout
  f:write(self:format(), "\n")
  return self
end

Result.__tostring = Result.format

local function summarise(res)
  local groups, order = {}, {}
  for _, r in ipairs(res.runs) do
    local key = r.kind .. "\0" .. r.size
    local g = groups[key]
    if not g then
      g = { kind = r.kind, size = r.size, rows = {} }
      groups[key] = g
      order[#order + 1] = g
    end
    g.rows[#g.rows + 1] = r
  end
  local out = {}
  for _, g in ipairs(order) do
    local s = { kind = g.kind, size = g.size, seeds = #g.rows }
    local function col(f)
      local v = {}
      for i, r in ipairs(g.rows) do v[i] = r[f] end
      return v
    end
    s.tau_mean, s.tau_sd = mean_sd(col("tau"))
    s.rho_mean, s.rho_sd = mean_sd(col("rho"))
    for _, k in ipairs(res.topk) do
      s["top" .. k .. "_mean"], s["top" .. k .. "_sd"] = mean_sd(col("top" .. k))
    end
    s.fit_mean, s.fit_sd = mean_sd(col("fit_seconds"))
    s.predict_mean = (mean_sd(col("predict_seconds")))
    out[#out + 1] = s
  end
  return out
end

local function run(o)
  if type(o) ~= "table" then bad("table expected, got %s", type(o)) end
  local knownset = {}
  for _, k in ipairs(KNOWN) do knownset[k] = true end
  for k in pairs(o) do
    if not knownset[k] then bad("unknown option %s (known: %s)", shown(k), table.concat(KNOWN, ", ")) end
  end
  if o.progress ~= nil and type(o.progress) ~= "function" then
    bad("progress must be a function, got %s", type(o.progress))
  end
  if o.canonical ~= nil and type(o.canonical) ~= "boolean" then
    bad("canonical must be a boolean, got %s", type(o.canonical))
  end
  local kinds, known = choose_kinds(o.predictor)
  local per = choose_opts(o.opts, kinds, known)
  local seeds = choose_seeds(o.seeds)
  local b, why = open_bench(o.bench)
  if not b then return nil, why end
  local metric = choose_metric(b, o.metric)

  -- The cells that have a value of the metric (NaN marks a missing one).
  local all, col = b:archs(), b:column(metric)
  local archs, ys, rows = {}, {}, {}
  for i, y in ipairs(col) do
    if y == y then
      archs[#archs + 1] = o.canonical and all[i]:canonical() or all[i]
      ys[#ys + 1] = y
      rows[#rows + 1] = i
    end
  end
  local n = #ys
  if n < 4 then bad("%s has only %d cells with a value of %s; at least 4 are needed", b:path(), n, metric) end
  local sizes = choose_sizes(o.sizes, n)
  local maxsize = math.max(table.unpack(sizes))
  local test = o.test
  if test ~= nil then
    if not isint(test) or test < 2 then bad("test must be an integer >= 2 (cells to test on), got %s", shown(test)) end
    test = math.tointeger(test)
    if test > n - maxsize then
      bad("test = %d is more than the %d cells left beside the largest training set (%d of %d)", test, n - maxsize, maxsize, n)
    end
  end
  local mintest = test or (n - maxsize)
  local topk = o.topk == nil and { 10, 50 } or o.topk
  if type(topk) == "number" then topk = { topk } end
  sequence(topk, "topk")
  for i, k in ipairs(topk) do
    if not isint(k) or k < 1 then bad("topk[%d] must be an integer >= 1, got %s", i, shown(k)) end
    if k > mintest then bad("topk[%d] = %d is more than the %d test cells", i, k, mintest) end
  end
  -- Every kind's options are checked once before any work.
  for _, k in ipairs(kinds) do
    local okp, err = pcall(nl.predictor, k, per[k])
    if not okp then
      local inner = tostring(err):match("^bad argument #%d+ to '[^']*' %((.*)%)$") or tostring(err)
      bad("opts for %s: %s", k, inner)
    end
  end

  local res = setmetatable({ bench = b:path(), metric = metric, cells = n, kinds = kinds, sizes = sizes,
                             seeds = seeds, test = test, topk = topk, canonical = o.canonical or false,
                             runs = {} }, Result)
  local total, done = #sizes * #seeds * #kinds, 0
  local clock = nl.clock
  for _, size in ipairs(sizes) do
    for _, seed in ipairs(seeds) do
      local tr, te = M.split(n, size, seed, test)
      local tra, try, tea, tey, trrows = {}, {}, {}, {}, {}
      for i, c in ipairs(tr) do tra[i] = archs[c]; try[i] = ys[c]; trrows[i] = rows[c] end
      for i, c in ipairs(te) do tea[i] = archs[c]; tey[i] = ys[c] end
      for _, kind in ipairs(kinds) do
        local po = {}
        for key, v in pairs(per[kind]) do po[key] = v end
        po.seed = seed
        local p = nl.predictor(kind, po)
        local t0 = clock()
        p:fit(tra, try)
        local t1 = clock()
        local s = p:predict(tea)
        local t2 = clock()
        p:close()
        local row = { kind = kind, size = size, seed = seed, n_train = #tr, n_test = #te, train = trrows,
                      tau = nl.stats.kendall(s, tey), rho = nl.stats.spearman(s, tey),
                      fit_seconds = t1 - t0, predict_seconds = t2 - t1 }
        for _, k in ipairs(topk) do row["top" .. k] = nl.stats.topk(s, tey, k) end
        res.runs[#res.runs + 1] = row
        done = done + 1
        local fields = { run = done, runs = total }
        for key, v in pairs(row) do if key ~= "train" then fields[key] = v end end
        if nl.emit then
          -- To the event stream: the workbench's ranking pane draws this
          -- run's predicted against true values; a run directory records both.
          nl.emit("eval.run", fields)
          nl.emit("rank", { ["true"] = tey, pred = s })
        end
        if o.progress then
          local ev = { name = "eval.run" }
          for key, v in pairs(fields) do ev[key] = v end
          if o.progress(ev) == "stop" then res.stopped = true end
        end
        if res.stopped then break end
      end
      if res.stopped then break end
    end
    if res.stopped then break end
  end
  if b ~= o.bench then b:close() end -- opened here from a path or name
  res.summary = summarise(res)
  if nl.emit then
    for _, s in ipairs(res.summary) do nl.emit("eval.summary", s) end
  end
  if o.progress then
    o.progress({ name = "eval.summary", runs = #res.runs, stopped = res.stopped or false, summary = res.summary })
  end
  return res
end

-- nl.eval.predictor{bench=, metric=, predictor=, opts=, sizes=, seeds=,
-- test=, topk=, canonical=, progress=}: see man naslab(1). Returns the
-- result table (runs: one row per kind, size and seed, its training cells
-- as `train`, row numbers of b:archs(); summary: mean and sample sd per kind
-- and size; res:print() prints the summary), or nil and a message when the
-- bench cannot be loaded. The split works on the cells that have a value of
-- the metric, numbered 1..n in file order.
function M.predictor(o)
  local okr, res, why = pcall(run, o)
  if okr then
    if res == nil then return nil, why end
    return res
  end
  if getmetatable(res) == ARGERR then error("bad argument #1 to 'predictor' (" .. res.msg .. ")", 2) end
  error(res, 0)
end

return M
