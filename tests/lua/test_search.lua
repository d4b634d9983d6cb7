-- SPDX-License-Identifier: GPL-3.0-or-later
-- nl.search: the framework (registry, options, budgets in queries and
-- seconds, repeats, events, the run log and resume), the random, rea and
-- renas recipes on a synthetic NAS-Bench-201 table where the optimum is
-- known, and nl.search.sweep's statistics and files.
local t = require "tap"

local sp = nl.space("nb201")
local tmp = os.getenv("TMPDIR") or "/tmp"
local dir = string.format("%s/naslab-search-%d-%d", tmp, os.time(), math.random(1 << 30))
os.execute("mkdir -p '" .. dir .. "'")

-- The synthetic benchmark: every cell, acc grows with its live 3x3 and 1x1
-- convolutions, plus a small index term so values rarely tie.
local function target(a)
  local s, n3, n1 = tostring(a:canonical()), 0, 0
  for _ in s:gmatch("nor_conv_3x3") do n3 = n3 + 1 end
  for _ in s:gmatch("nor_conv_1x1") do n1 = n1 + 1 end
  return 80 + 2 * n3 + 0.5 * n1 + (a:index() % 97) * 0.001
end
local csv = dir .. "/synth.csv"
local optimum, values = -math.huge, {}
do
  local f = assert(io.open(csv, "w"))
  f:write("arch,acc,train_seconds\n")
  for a in sp:iter() do
    local v = target(a)
    values[#values + 1] = v
    optimum = math.max(optimum, v)
    f:write(string.format("%s,%.6f,%d\n", tostring(a), v, 10 + a:index() % 5))
  end
  f:close()
end
local b = assert(nl.bench.load(csv))
local o = nl.search.oracle.bench(b, "acc")
t.is(tostring(o), "oracle synth.csv:acc on nb201", "a bench oracle names its file and metric")

-- registry --------------------------------------------------------------
local names = {}
for _, r in ipairs(nl.search.list()) do
  names[r.name] = true
  if type(r.doc) ~= "string" or r.doc == "" then t.ok(false, r.name .. " has no doc") end
end
t.ok(names.random and names.rea and names.renas, "the registry lists random, rea and renas")
t.error_is(function() nl.search.run("nope", {}) end,
           "bad argument #1 to 'run' (unknown search 'nope' (known: ", "an unknown recipe names the known ones")
t.error_like(function() nl.search.run("rea", { oracle = o, populaton = 5 }) end,
             "bad argument #2 to 'run' %(unknown option 'populaton' for rea %(its options: population, sample;",
             "a misspelt option is named with the recipe's options")
t.error_is(function() nl.search.run("rea", { oracle = o, population = "5" }) end,
           "bad argument #2 to 'run' (option 'population' of rea must be a number, got string)", "option types")
t.error_is(function() nl.search.run("random", { oracle = o, budget = 0 }) end,
           "bad argument #2 to 'run' (budget must be an integer >= 1, got 0)", "budget checked")
t.error_is(function() nl.search.run("random", { oracle = o, resume = true }) end,
           "bad argument #2 to 'run' (resume needs dir, the directory of the run to resume)", "resume needs dir")
t.error_is(function() nl.search.run("random", { oracle = o, space = "nb101" }) end,
           "bad argument #2 to 'run' (space nb101 does not match the oracle's space nb201)", "space mismatch")
t.error_like(function() nl.search.oracle.bench(b, "c10_test") end,
             "bad argument #1 to 'bench' %(unknown metric 'c10_test' in .*synth.csv %(known: acc, train_seconds%)%)",
             "an unknown metric is named with the known ones")
nl.search.register("boom", { run = function(ctx) ctx:query(ctx:sample()); error("recipe failed") end })
t.error_like(function() nl.search.run("boom", { oracle = o }) end, "recipe failed", "a recipe's error propagates")

-- random: budget, no repeats, best-so-far --------------------------------
local r = nl.search.run("random", { oracle = o, budget = 50, seed = 3 })
local seen, rep, mono, maxv = {}, false, true, -math.huge
for i, h in ipairs(r.history) do
  local k = tostring(h.arch)
  if seen[k] then rep = true end
  seen[k] = true
  maxv = math.max(maxv, h.value)
  if h.best ~= maxv or h.n ~= i then mono = false end
  if h.value ~= target(h.arch) then mono = false end
end
t.ok(r.queries == 50 and #r.history == 50, "random spends exactly the budget: " .. r.queries)
t.ok(not rep, "random never queries a cell twice")
t.ok(mono, "history: values from the oracle, numbered, best-so-far the running maximum")
t.is(r.best.value, maxv, "best is the best queried value")
local want_s = 0
for _, h in ipairs(r.history) do want_s = want_s + (10 + h.arch:index() % 5) end
t.is(r.seconds, want_s, "simulated seconds add the benchmark's train_seconds")
local r2 = nl.search.run("random", { oracle = o, budget = 50, seed = 3 })
local same = true
for i = 1, 50 do if tostring(r2.history[i].arch) ~= tostring(r.history[i].arch) then same = false end end
t.ok(same, "same seed, same run")
r2 = nl.search.run("random", { oracle = o, budget = 50, seed = 4 })
same = true
for i = 1, 50 do if tostring(r2.history[i].arch) ~= tostring(r.history[i].arch) then same = false end end
t.ok(not same, "another seed, another run")

-- a budget in simulated seconds
local fo = nl.search.oracle.fn(sp, function(a) return target(a), 10 end, "ten seconds")
r = nl.search.run("random", { oracle = fo, seconds = 95, seed = 1 })
t.ok(r.queries == 10 and r.seconds == 100, "seconds = 95 at 10 s per query stops after the query that passes it: "
     .. r.queries)
t.error_like(function()
  nl.search.run("random", { oracle = nl.search.oracle.fn(sp, function() return "x" end), budget = 2 })
end, "oracle function: the function returned x for ", "an oracle function must return a number")

-- a recipe that only repeats known cells is stopped
nl.search.register("stuck", { run = function(ctx)
  local a = ctx:sample()
  while true do ctx:query(a) end
end })
t.error_like(function() nl.search.run("stuck", { oracle = o, budget = 5 }) end,
             "stuck: 100,000 queries in a row asked for cells already queried", "a recipe that does not move on")

-- rea and renas find the optimum of the synthetic table -------------------
local function regret(name, opts, seeds)
  local out = {}
  for s = 1, seeds do
    opts.oracle, opts.seed = o, s
    out[s] = optimum - nl.search.run(name, opts).best.value
  end
  table.sort(out)
  return out[(seeds + 1) // 2]
end
local rr = regret("random", { budget = 150 }, 5)
local re = regret("rea", { budget = 150 }, 5)
t.ok(re < rr, string.format("rea beats random on the synthetic table: median regret %.3f < %.3f", re, rr))
local r60 = regret("random", { budget = 60 }, 3)
local pol_regret = {}
for _, pol in ipairs { "full", "random", "smart" } do
  local rg = regret("renas", { budget = 60, predictor = "gbdt", candidates = pol, subset = 500 }, 3)
  pol_regret[pol] = rg
  t.ok(rg < r60, string.format("renas (gbdt, %s candidates) beats random search at 60 queries: median regret %.3f < %.3f",
                               pol, rg, r60))
end
t.ok(pol_regret.full < 0.1 and pol_regret.smart < 0.1,
     string.format("full and smart candidate sets reach the optimum within 0.1 (%.3f, %.3f)", pol_regret.full, pol_regret.smart))
r = nl.search.run("renas", { oracle = o, budget = 30, predictor = "gbdt", candidates = "random", subset = 300,
                             init = 10, topk = 5, seed = 2 })
local sizes_ok = #r.rounds == 4
for _, rd in ipairs(r.rounds) do if rd.candidates ~= 300 then sizes_ok = false end end
t.ok(sizes_ok, "renas random candidates: 4 rounds of 300 fresh cells after 10 initial (" .. #r.rounds .. " rounds)")
t.is(r.rounds[1].fitted, 10, "the first round fits the initial cells")
t.error_like(function() nl.search.run("renas", { oracle = o, candidates = "all" }) end,
             'renas: candidates must be "full", "random" or "smart", got "all"', "renas checks its policy")

-- resume: a run stopped at query 37 goes on to the uninterrupted result ---
-- (a function oracle over the whole space, as the stopped run uses: a bench
-- oracle would draw its cells from the table's list instead)
local full = nl.search.run("rea", { oracle = nl.search.oracle.fn(sp, o.query, "synth.csv:acc"), budget = 80, seed = 9 })
local rdir = dir .. "/run1"
local calls = 0
local failing = nl.search.oracle.fn(sp, function(a)
  calls = calls + 1
  if calls == 37 then error("interrupted!") end
  return o.query(a)
end, "synth.csv:acc")
t.error_like(function() nl.search.run("rea", { oracle = failing, budget = 80, seed = 9, dir = rdir }) end,
             "interrupted!", "the run stops at query 37")
local n_logged = 0
for line in io.lines(rdir .. "/queries.tsv") do if line:match("^%d") then n_logged = n_logged + 1 end end
t.is(n_logged, 36, "the log holds the 36 answered queries")
t.error_like(function() nl.search.run("rea", { oracle = failing, budget = 80, seed = 9, dir = rdir }) end,
             "queries.tsv exists: give resume = true", "a second run into the same dir is refused")
-- a kill in the middle of a write leaves a line without its newline
local lf = assert(io.open(rdir .. "/queries.tsv", "a"))
lf:write("37\t|nor_conv")
lf:close()
calls = 0
local counting = nl.search.oracle.fn(sp, function(a) calls = calls + 1; return o.query(a) end, "synth.csv:acc")
local resumed = nl.search.run("rea", { oracle = counting, budget = 80, seed = 9, dir = rdir, resume = true })
same = #resumed.history == #full.history
for i, h in ipairs(full.history) do
  local g = resumed.history[i]
  if not g or tostring(g.arch) ~= tostring(h.arch) or g.value ~= h.value then same = false end
end
t.ok(same, "the resumed run has the uninterrupted run's 80 queries")
t.is(calls, 44, "only the 44 queries after the log went to the oracle")
local ev = 0
nl.run.replay(rdir, function(e) if e.name == "search.query" then ev = ev + 1 end end)
t.is(ev, 80, "events.jsonl holds one search.query per query across both parts")
t.error_like(function() nl.search.run("rea", { oracle = counting, budget = 80, seed = 10, dir = rdir, resume = true }) end,
             "queries.tsv:1: the log is of another run", "resume with another seed is refused")
t.error_like(function() nl.search.run("random", { oracle = counting, budget = 80, seed = 9, dir = rdir, resume = true }) end,
             "queries.tsv:1: the log is of another run", "resume with another recipe is refused")
t.error_like(function()
  nl.search.run("rea", { oracle = counting, budget = 80, seed = 9, population = 30, dir = rdir, resume = true })
end, "resume: query %d+ of the log is .* but the recipe asked for", "resume with other options is caught")

-- sweep -------------------------------------------------------------------
local sdir = dir .. "/sweep"
local sw = nl.search.sweep { oracle = o, seeds = 4, budget = 30, algos = { "random", { "rea", population = 10, label = "rea10" } },
                             dir = sdir, top = 16, quiet = true }
t.is(sw.optimum, optimum, "the sweep's optimum is the table's")
local q = 20
local regs = {}
for i, run in ipairs(sw.runs.rea10) do regs[i] = optimum - run.curve[q] end
table.sort(regs)
t.near(sw.algos[2].median[q], (regs[2] + regs[3]) / 2, 1e-12, "median regret at q=20 over 4 seeds")
t.near(sw.algos[2].q1[q], regs[1] + 0.75 * (regs[2] - regs[1]), 1e-12, "first quartile (linear interpolation)")
local r1 = nl.search.run("rea", { oracle = o, budget = 30, seed = 1, population = 10 })
t.is(sw.runs.rea10[1].curve[30], r1.best.value, "a sweep run is nl.search.run with that seed and options")
local gains_one = true
for _, g in ipairs(sw.algos[1].gain) do if g ~= 1 then gains_one = false end end
t.ok(gains_one and #sw.levels == 4, "random's gain over itself is 1 at every level")
local lines = 0
for _ in io.lines(sdir .. "/runs.csv") do lines = lines + 1 end
t.is(lines, 1 + 2 * 4 * 30, "runs.csv: a header and one line per query of every run")
lines = 0
for _ in io.lines(sdir .. "/summary.csv") do lines = lines + 1 end
t.is(lines, 1 + 2 * 30, "summary.csv: a header and one line per recipe and query count")
local real_print = print
print = function() end -- keep the table out of the TAP stream
local text = sw:print()
print = real_print
t.ok(text:find("rea10", 1, true) and text:find("q to top 16", 1, true), "the printed table names the recipes")
t.error_is(function() nl.search.sweep { oracle = o, algos = { "random", "random" } } end,
           "bad argument #1 to 'sweep' (algos[2]: label 'random' is used twice (give label = ...))", "duplicate labels")

os.execute("rm -rf '" .. dir .. "'")
t.done()
