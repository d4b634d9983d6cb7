-- SPDX-License-Identifier: GPL-3.0-or-later
-- naslab/search/init.lua - nl.search: the framework the search recipes run
-- in (issue 6). A recipe is one Lua file in this directory (random.lua,
-- rea.lua, ...) that returns { doc = "...", defaults = {...}, run = fn };
-- fn(ctx) asks ctx for cells and queries them until ctx:done(). Everything
-- the recipe needs goes through ctx:
--
--   ctx.space, ctx.opts (the recipe's defaults overlaid by the caller's),
--   ctx.rng (nl.rng(seed): every random draw of a run comes from it, so a
--   run is a function of its seed and the answers it gets),
--   ctx:query(a) -> value, metrics    (one oracle query; budgeted)
--   ctx:done(), ctx:remaining()       (the budget)
--   ctx:sample(), ctx:mutate(a), ctx:crossover(a, b), ctx:domain()
--                                      (cells the oracle can answer)
--   ctx:seen(a) -> value or nil       (already queried?)
--   ctx:best() -> arch, value         (best so far)
--   ctx:emit(name, fields)            (events for the charts and the run)
--
-- An oracle answers queries: a tabular benchmark (nl.search.oracle.bench:
-- the value of a metric, simulated training seconds from the benchmark's
-- cost model), real training (oracle.train), a supernet (oracle.supernet),
-- or any Lua function (oracle.fn). Values are maximised.
--
-- With opts.dir, every answered query is appended to DIR/queries.tsv as it
-- arrives (and the events to DIR/events.jsonl). nl.search.run with the same
-- dir and resume = true runs the recipe again from the start with the same
-- seed, answering the queries the log holds from the log instead of the
-- oracle; since a recipe is a function of its seed and its answers, it
-- reaches the state it was stopped in and goes on, and the run ends as an
-- uninterrupted run would have.
local nl = require "naslab"

local M = {}

-- Argument errors are raised as tables and turned into "bad argument #n to
-- 'fn' (...)" at the caller's level.
local ARGERR = {}
local function bad(fmt, ...) error(setmetatable({ msg = string.format(fmt, ...) }, ARGERR), 0) end
M.bad = bad

local function guard(fname, argn, f, ...)
  local res = table.pack(pcall(f, ...))
  if res[1] then return table.unpack(res, 2, res.n) end
  local e = res[2]
  if getmetatable(e) == ARGERR then error(string.format("bad argument #%d to '%s' (%s)", argn, fname, e.msg), 3) end
  error(e, 0)
end
M.guard = guard

local function isint(v)
  return math.type(v) == "integer" or (math.type(v) == "float" and v == math.floor(v) and math.abs(v) < 2 ^ 53)
end
M.isint = isint

local function typename(v)
  local mt = getmetatable(v)
  if type(v) == "userdata" and type(mt) == "table" and mt.__name then return mt.__name end
  return type(v)
end

-- ---------------------------------------------------------------- registry

-- The recipes that ship with naslab, loaded on first use from
-- lua/naslab/search/NAME.lua.
local BUILTIN = { "random", "rea", "renas", "naswot", "mdenas", "smem" }
local registry = {}

-- nl.search.register(name, recipe): add (or replace) a recipe. recipe.run is
-- function(ctx); recipe.doc a one-line description; recipe.defaults its
-- options (every option a caller may give must have a default here).
function M.register(name, recipe)
  return guard("register", 2, function()
    if type(name) ~= "string" or not name:match("^[%a_][%w_]*$") then
      bad("the name must be an identifier string, got %s", type(name) == "string" and ("'" .. name .. "'") or type(name))
    end
    if type(recipe) ~= "table" or type(recipe.run) ~= "function" then bad("a recipe is a table with a run function") end
    if recipe.defaults ~= nil and type(recipe.defaults) ~= "table" then bad("recipe.defaults must be a table") end
    registry[name] = { name = name, run = recipe.run, doc = recipe.doc or "", defaults = recipe.defaults or {},
                       multi = recipe.multi }
    return registry[name]
  end)
end

local function lookup(name)
  if registry[name] then return registry[name] end
  for _, b in ipairs(BUILTIN) do
    if b == name then
      local ok, r = pcall(require, "naslab.search." .. name)
      if not ok then error(r, 0) end
      return M.register(name, r)
    end
  end
  return nil
end

-- nl.search.list(): every recipe (built in and registered) as
-- { name =, doc = } in name order.
function M.list()
  local names, seen = {}, {}
  for _, b in ipairs(BUILTIN) do
    if not seen[b] and lookup(b) then names[#names + 1] = b; seen[b] = true end
  end
  for n in pairs(registry) do
    if not seen[n] then names[#names + 1] = n; seen[n] = true end
  end
  table.sort(names)
  local out = {}
  for i, n in ipairs(names) do out[i] = { name = n, doc = registry[n].doc } end
  return out
end

local function known_names()
  local t = {}
  for _, r in ipairs(M.list()) do t[#t + 1] = r.name end
  return table.concat(t, ", ")
end

-- ---------------------------------------------------------------- oracles

M.oracle = {}

local Oracle = {}
Oracle.__index = Oracle
Oracle.__name = "naslab.Oracle"

function Oracle:__tostring()
  return string.format("oracle %s on %s", self.name, self.space:name())
end

-- nl.search.oracle.bench(b [, metric [, opts]]): answers with the value of
-- `metric` in a tabular benchmark (b: a naslab.Bench, a path or name for
-- nl.bench.load, or nil for the embedded default; metric: default c10_test,
-- else test_acc) and b:cost(a) simulated training seconds. Only the cells
-- of the benchmark can be queried: ctx:sample() and ctx:mutate() keep to
-- them. opts.cost = false charges 0 seconds.
function M.oracle.bench(b, metric, opts)
  return guard("bench", 1, function()
    if b == nil or type(b) == "string" then
      local bb, msg = nl.bench.load(b)
      if not bb then bad("%s", msg) end
      b = bb
    elseif typename(b) ~= "naslab.Bench" then
      bad("expected a naslab.Bench, a path or a name, got %s", typename(b))
    end
    local metrics, set = b:metrics(), {}
    for _, m in ipairs(metrics) do set[m] = true end
    if metric == nil then
      metric = set.c10_test and "c10_test" or set.test_acc and "test_acc" or nil
      if not metric then bad("no metric given and %s has neither c10_test nor test_acc", b:path()) end
    elseif type(metric) ~= "string" then
      bad("metric must be a string, got %s", type(metric))
    elseif not set[metric] then
      bad("unknown metric '%s' in %s (known: %s)", metric, b:path(), table.concat(metrics, ", "))
    end
    opts = opts or {}
    local cost = opts.cost ~= false
    local archs = b:archs()
    local values = b:column(metric)
    local index = {}
    for i, a in ipairs(archs) do index[tostring(a)] = i end
    local o = setmetatable({
      name = string.format("%s:%s", b:path():match("[^/]*$"), metric),
      kind = "bench",
      bench = b,
      metric = metric,
      space = b:space(),
      archs = archs,
      values = values,
      index = index,
    }, Oracle)
    function o.query(a)
      local i = index[tostring(a)]
      if not i then error(string.format("oracle %s: cell %s is not in the benchmark", o.name, tostring(a)), 0) end
      return values[i], cost and b:cost(a) or 0
    end
    function o.contains(a) return index[tostring(a)] ~= nil end
    return o
  end)
end

-- nl.search.oracle.fn(space, f [, name]): f(a) returns the value (higher is
-- better) and optionally the seconds the query cost; any cell of the space
-- can be queried.
function M.oracle.fn(space, f, name)
  return guard("fn", 1, function()
    if type(space) == "string" then space = nl.space(space) end
    if typename(space) ~= "naslab.Space" then bad("expected a naslab.Space or a space name, got %s", typename(space)) end
    if type(f) ~= "function" then bad("the oracle function must be a function, got %s", type(f)) end
    local o = setmetatable({ name = name or "function", kind = "fn", space = space }, Oracle)
    function o.query(a)
      local v, s = f(a)
      if type(v) ~= "number" or v ~= v then
        error(string.format("oracle %s: the function returned %s for %s, not a number", o.name, tostring(v), tostring(a)), 0)
      end
      return v, type(s) == "number" and s or 0
    end
    return o
  end)
end

-- nl.search.oracle.train(opts): real training. opts are nl.train's (data,
-- valid or test, epochs, C, N, ...); the value is the accuracy nl.train
-- returns (on valid when given), the seconds its measured training time.
function M.oracle.train(topts)
  return guard("train", 1, function()
    if type(topts) ~= "table" then bad("expected a table of nl.train options, got %s", type(topts)) end
    if topts.arch ~= nil then bad("opts.arch is set by each query") end
    local o = setmetatable({ name = "train", kind = "train", space = nl.space("nb201") }, Oracle)
    function o.query(a)
      local t = {}
      for k, v in pairs(topts) do t[k] = v end
      t.arch = a
      local t0 = nl.clock()
      local r = nl.train(t)
      return r.acc, r.seconds or (nl.clock() - t0)
    end
    return o
  end)
end

-- nl.search.oracle.supernet(sn, eopts): the accuracy a trained supernet
-- gives a cell with inherited weights, sn:eval(a, eopts) (eopts: data,
-- calib, calib_batches, batch, seed as sn:eval takes them); the seconds are
-- the evaluation's wall time.
function M.oracle.supernet(sn, eopts)
  return guard("supernet", 1, function()
    if typename(sn) ~= "naslab.Supernet" then bad("expected a naslab.Supernet, got %s", typename(sn)) end
    if type(eopts) ~= "table" or eopts.data == nil then bad("expected the options of sn:eval, with data, as argument 2") end
    local o = setmetatable({ name = "supernet", kind = "supernet", space = nl.space("nb201"), supernet = sn }, Oracle)
    function o.query(a)
      local t0 = nl.clock()
      local acc = sn:eval(a, eopts)
      if type(acc) == "table" then acc = acc.acc end
      return acc, nl.clock() - t0
    end
    return o
  end)
end

local function check_oracle(o)
  if getmetatable(o) ~= Oracle then
    if type(o) == "table" and type(o.query) == "function" and o.space then return setmetatable(o, Oracle) end
    bad("oracle must be made by nl.search.oracle.bench/fn/train/supernet (or have query and space), got %s", typename(o))
  end
  return o
end

-- ---------------------------------------------------------------- the run log

local LOG = "queries.tsv"

local function log_header(algo, seed, oracle)
  return string.format("# naslab search %s seed=%d oracle=%s space=%s", algo, seed, oracle.name, oracle.space:name())
end

-- The queries of an earlier run in dir (each { arch =, value =, seconds = }),
-- checked to belong to the same recipe, seed and oracle; a last line cut
-- short by a kill is dropped.
local function read_log(path, header)
  local f = io.open(path, "r")
  if not f then return {} end
  local text = f:read("a")
  f:close()
  local out, lineno = {}, 0
  for line, nl_ in text:gmatch("([^\n]*)(\n?)") do
    if line == "" and nl_ == "" then break end
    lineno = lineno + 1
    if nl_ == "" then break end -- a line without its newline: the write was cut short
    if lineno == 1 then
      if line ~= header then
        error(string.format("%s:1: the log is of another run (%s), not of this one (%s)", path, line, header), 0)
      end
    elseif lineno > 2 then
      local q, arch, value, seconds = line:match("^(%d+)\t([^\t]+)\t([^\t]+)\t([^\t]+)$")
      value, seconds = tonumber(value), tonumber(seconds)
      if not q or not value or not seconds or tonumber(q) ~= #out + 1 then
        error(string.format("%s:%d: malformed query line", path, lineno), 0)
      end
      out[#out + 1] = { arch = arch, value = value, seconds = seconds }
    end
  end
  return out
end

-- ---------------------------------------------------------------- the context

local Ctx = {}
Ctx.__index = Ctx

local STOP = setmetatable({}, { __tostring = function() return "search budget exhausted" end })

function Ctx:done()
  if self.budget and self.n >= self.budget then return true end
  if self.seconds_budget and self.seconds >= self.seconds_budget then return true end
  return false
end

-- Queries left (math.huge when only a time budget is set).
function Ctx:remaining()
  if not self.budget then return math.huge end
  return self.budget - self.n
end

function Ctx:seen(a)
  local h = self.by_arch[tostring(a)]
  return h and h.value or nil
end

function Ctx:best()
  if not self.best_rec then return nil end
  return self.best_rec.arch, self.best_rec.value
end

function Ctx:emit(name, fields)
  fields = fields or {}
  if fields.run == nil then fields.run = self.label end
  nl.emit(name, fields)
end

-- One query. A cell queried before is answered from the history without
-- counting again. Past the budget the recipe is stopped (the error is caught
-- by nl.search.run).
function Ctx:query(a)
  local key = tostring(a)
  local h = self.by_arch[key]
  if h then
    -- a recipe that only asks for known cells would never spend its budget
    self.repeats = (self.repeats or 0) + 1
    if self.repeats > 100000 then
      error(string.format("%s: 100,000 queries in a row asked for cells already queried; the recipe does not "
        .. "move on (%d of its budget spent)", self.algo, self.n), 0)
    end
    return h.value, h
  end
  self.repeats = 0
  if self:done() then error(STOP, 0) end
  local value, seconds
  local k = self.n + 1
  local logged = self.replay[k]
  if logged then
    if logged.arch ~= key then
      error(string.format("resume: query %d of the log is %s but the recipe asked for %s (the options or the recipe "
        .. "changed since the run was stopped)", k, logged.arch, key), 0)
    end
    value, seconds = logged.value, logged.seconds
  else
    value, seconds = self.oracle.query(a)
    if self.logf then
      self.logf:write(string.format("%d\t%s\t%.17g\t%.17g\n", k, key, value, seconds))
      self.logf:flush()
    end
  end
  self.n = k
  self.seconds = self.seconds + seconds
  h = { n = k, arch = a, value = value, seconds = self.seconds }
  self.history[k] = h
  self.by_arch[key] = h
  if not self.best_rec or value > self.best_rec.value then self.best_rec = h end
  h.best = self.best_rec.value
  if not logged or self.emit_replayed then
    self:emit("search.query", { algo = self.algo, query = k, seconds = self.seconds, value = value,
                                best = self.best_rec.value, arch = key })
  end
  return value, h
end

-- Uniform cell of the oracle's domain.
function Ctx:sample()
  if self.oracle.archs then return self.oracle.archs[self.rng:int(#self.oracle.archs)] end
  return self.space:sample(self.rng)
end

-- A mutation of a that the oracle can answer (or its canonical form, when
-- the oracle holds that). When the oracle knows only
-- part of the space (naslab's own benchmark holds 1,000 of the 15,625 NB201
-- cells) a random mutation rarely lands in it; after 10 tries an NB201 cell
-- moves instead to one of the domain's cells not queried yet that differ
-- from it on the fewest edges (other spaces: a uniform cell of the domain).
local function nb201_ops(a)
  local t = {}
  for op in tostring(a):gmatch("([%w_]+)~%d") do t[#t + 1] = op end
  return t
end

function Ctx:mutate(a)
  for _ = 1, 10 do
    local m = a:mutate(self.rng)
    if not self.oracle.contains or self.oracle.contains(m) then return m end
    -- tables of canonical cells (the embedded benchmark) hold the mutant's
    -- canonical form, which computes the same function
    if m.canonical then
      m = m:canonical()
      if self.oracle.contains(m) then return m end
    end
  end
  if self.space:name() ~= "nb201" then return self:sample() end
  local dom = self:domain()
  if not self.dom_ops then
    self.dom_ops, self.dom_keys = {}, {}
    for i, d in ipairs(dom) do self.dom_ops[i], self.dom_keys[i] = nb201_ops(d), tostring(d) end
  end
  local mine, best, near, keys = nb201_ops(a), math.huge, {}, self.dom_keys
  for i, ops in ipairs(self.dom_ops) do
    local d = 0
    for e = 1, #mine do if ops[e] ~= mine[e] then d = d + 1 end end
    if d > 0 and d <= best and not self.by_arch[keys[i]] then
      if d < best then best, near = d, { i } elseif d == best then near[#near + 1] = i end
    end
  end
  if #near == 0 then return self:sample() end
  return dom[near[self.rng:int(#near)]]
end

function Ctx:crossover(a, b)
  for _ = 1, 100 do
    local c = a:crossover(b, self.rng)
    if not self.oracle.contains or self.oracle.contains(c) then return c end
  end
  return self:sample()
end

function Ctx:contains(a)
  return not self.oracle.contains or self.oracle.contains(a)
end

-- Every cell the oracle can answer, as a list (the benchmark's cells, or
-- the whole space; nb101's 423,624 are built on first use).
function Ctx:domain()
  if self.oracle.archs then return self.oracle.archs end
  if not self.space_all then
    local all = {}
    for a in self.space:iter() do all[#all + 1] = a end
    self.space_all = all
  end
  return self.space_all
end

-- ---------------------------------------------------------------- run

local RUN_KNOWN = { space = true, oracle = true, budget = true, seconds = true, seed = true, dir = true,
                    resume = true, label = true, quiet = true }

local function check_opts(name, recipe, opts)
  local merged = {}
  for k, v in pairs(recipe.defaults) do merged[k] = v end
  for k, v in pairs(opts) do
    if not RUN_KNOWN[k] then
      if recipe.defaults[k] == nil then
        local keys = {}
        for kk in pairs(recipe.defaults) do keys[#keys + 1] = kk end
        table.sort(keys)
        bad("unknown option '%s' for %s (its options: %s; and space, oracle, budget, seconds, seed, dir, resume, label)",
            tostring(k), name, #keys > 0 and table.concat(keys, ", ") or "none")
      end
      if type(v) ~= type(recipe.defaults[k]) then
        bad("option '%s' of %s must be a %s, got %s", k, name, type(recipe.defaults[k]), type(v))
      end
    end
    merged[k] = v
  end
  return merged
end

-- nl.search.run(name, opts): run recipe `name`. opts: oracle (default: the
-- embedded benchmark's test_acc), budget (queries; default 100), seconds
-- (simulated seconds), seed (default 0), dir (run directory: log and
-- events), resume (continue the log in dir), label (the run's name in
-- events; default the seed), and the recipe's own options. Returns
-- { algo, seed, queries, seconds, best = { arch, value, query },
-- history = { { n, arch, value, seconds, best }, ... }, dir }.
function M.run(name, opts)
  local recipe = guard("run", 1, function()
    if type(name) ~= "string" then bad("expected a recipe name, got %s", type(name)) end
    local r = lookup(name)
    if not r then bad("unknown search '%s' (known: %s)", name, known_names()) end
    return r
  end)
  local ctx = guard("run", 2, function()
    if opts == nil then opts = {} end
    if type(opts) ~= "table" then bad("expected a table of options, got %s", type(opts)) end
    local o = check_opts(name, recipe, opts)
    local oracle = o.oracle
    if oracle == nil then oracle = M.oracle.bench() else oracle = check_oracle(oracle) end
    if o.space ~= nil then
      local sp = type(o.space) == "string" and nl.space(o.space) or o.space
      if sp:name() ~= oracle.space:name() then
        bad("space %s does not match the oracle's space %s", sp:name(), oracle.space:name())
      end
    end
    local budget = o.budget
    if budget == nil and o.seconds == nil then budget = 100 end
    if budget ~= nil and (not isint(budget) or budget < 1) then bad("budget must be an integer >= 1, got %s", tostring(budget)) end
    if o.seconds ~= nil and (type(o.seconds) ~= "number" or not (o.seconds > 0)) then
      bad("seconds must be a number > 0, got %s", tostring(o.seconds))
    end
    local seed = o.seed or 0
    if not isint(seed) or seed < 0 then bad("seed must be an integer >= 0, got %s", tostring(seed)) end
    seed = math.tointeger(seed)
    if o.dir ~= nil and type(o.dir) ~= "string" then bad("dir must be a path, got %s", type(o.dir)) end
    if o.dir ~= nil and not (io and io.open) then bad("dir needs file access, which the --lab sandbox does not give") end
    if o.resume and not o.dir then bad("resume needs dir, the directory of the run to resume") end
    return setmetatable({
      algo = name, opts = o, oracle = oracle, space = oracle.space, rng = nl.rng(seed), seed = seed,
      budget = budget and math.tointeger(budget), seconds_budget = o.seconds, n = 0, seconds = 0,
      history = {}, by_arch = {}, replay = {}, label = o.label or seed,
    }, Ctx)
  end)

  -- The run directory: the query log and the events.
  local opened_run = false
  if ctx.opts.dir then
    local dir = ctx.opts.dir
    local header = log_header(name, ctx.seed, ctx.oracle)
    local path = dir .. "/" .. LOG
    if ctx.opts.resume then
      ctx.replay = read_log(path, header)
    else
      local f = io.open(path, "r")
      if f then
        f:close()
        error(string.format("%s exists: give resume = true to continue that run, or another dir", path), 2)
      end
    end
    if not nl.run.dir() then
      local ok, msg = nl.run.open(dir)
      if not ok then error(msg, 2) end
      opened_run = true
    end
    -- Rewrite the log without a cut-short last line, then append to it.
    local tmp = path .. ".tmp"
    local f, msg = io.open(tmp, "w")
    if not f then error(msg, 2) end
    f:write(header, "\n", "query\tarch\tvalue\tseconds\n")
    for i, q in ipairs(ctx.replay) do f:write(string.format("%d\t%s\t%.17g\t%.17g\n", i, q.arch, q.value, q.seconds)) end
    f:close()
    local ok, rmsg = os.rename(tmp, path)
    if not ok then error(rmsg, 2) end
    ctx.logf = io.open(path, "a")
  end

  local t0 = nl.clock()
  local ok, err = pcall(recipe.run, ctx)
  if ctx.logf then ctx.logf:close() end
  if opened_run then nl.run.close() end
  if not ok and err ~= STOP then error(err, 0) end
  local res = {
    algo = name, seed = ctx.seed, queries = ctx.n, seconds = ctx.seconds, wall = nl.clock() - t0,
    history = ctx.history, dir = ctx.opts.dir, label = ctx.label,
  }
  if ctx.best_rec then res.best = { arch = ctx.best_rec.arch, value = ctx.best_rec.value, query = ctx.best_rec.n } end
  if ctx.result then
    for k, v in pairs(ctx.result) do if res[k] == nil then res[k] = v end end
  end
  ctx:emit("search.done", { algo = name, queries = ctx.n, best = res.best and res.best.value or 0 / 0 })
  return res
end

-- nl.search.sweep{algos=, seeds=, budget=, oracle=, dir=, top=, levels=,
-- quiet=}: lua/naslab/search/sweep.lua.
function M.sweep(opts)
  return require("naslab.search.sweep")(M, opts)
end

M.Ctx = Ctx
return M
