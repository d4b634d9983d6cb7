-- SPDX-License-Identifier: GPL-3.0-or-later
-- SMEM-NAS (lua/naslab/search/smem.lua) and its classifier nl.pairclf: the
-- NSGA-II pieces on a point set worked out by hand, fronts and
-- hypervolumes by hand, the recipe reaching the known front of a synthetic
-- NB201 oracle, determinism by seed, events, the mbv3 space with a
-- synthetic oracle, errors naming the option, and (with NASLAB_SHARED) the
-- real NB201 table against random search.
local t = require "tap"
local smem = require "naslab.search.smem"
local known = false
for _, r in ipairs(nl.search.list()) do known = known or r.name == "smem" end
if not known then nl.search.register("smem", smem) end
local nsga2 = smem.nsga2

-- ---------------------------------------------------------------- NSGA-II by hand
-- Seven points, score maximised and objective minimised:
--   P1 (5, 1)  P2 (4, 0)  P3 (3, 2)  P4 (6, 4)  P5 (2, 3)  P6 (6, 5)  P7 (4.5, 3)
-- Front 1: P1, P2, P4 (none beats another in both). Without them, front 2:
-- P3, P7, P6 (P3 has the smaller objective, P7 and P6 the larger scores).
-- Front 3: P5 (P3 and P7 dominate it).
-- Crowding in front 1: by score P2 4 < P1 5 < P4 6, range 2, P1 gets
-- (6 - 4)/2 = 1; by objective P2 0 < P1 1 < P4 4, range 4, P1 gets
-- (4 - 0)/4 = 1: P1 = 2, the ends P2 and P4 infinite. Front 2 likewise:
-- P7 = (6 - 3)/3 + (5 - 2)/3 = 2, P3 and P6 infinite. P5 alone: infinite.
-- NSGA-II order: rank, then crowding (infinite first), then index:
--   P2, P4, P1 | P3, P6, P7 | P5.
local function points()
  local raw = { { 5, 1 }, { 4, 0 }, { 3, 2 }, { 6, 4 }, { 2, 3 }, { 6, 5 }, { 4.5, 3 } }
  local pop = {}
  for i, f in ipairs(raw) do pop[i] = { name = "P" .. i, f = f } end
  return pop
end
local SENSE = { "max", "min" }
local pop = points()
local order = nsga2.sort(pop, SENSE)
local names = {}
for i, k in ipairs(order) do names[i] = pop[k].name end
t.is(table.concat(names, " "), "P2 P4 P1 P3 P6 P7 P5", "sort: fronts, then crowding, then index")
t.is(table.concat({ pop[1].rank, pop[2].rank, pop[3].rank, pop[4].rank, pop[5].rank, pop[6].rank, pop[7].rank }, ","),
  "1,1,2,1,3,2,2", "ranks")
t.near(pop[1].crowding, 2, 1e-12, "crowding of P1 (inner point of front 1)")
t.near(pop[7].crowding, 2, 1e-12, "crowding of P7 (inner point of front 2)")
t.ok(pop[2].crowding == math.huge and pop[4].crowding == math.huge and pop[5].crowding == math.huge,
  "crowding of the ends and of a lone point is infinite")

local function sel(n)
  local s = nsga2.select(points(), n, SENSE)
  local out = {}
  for i, p in ipairs(s) do out[i] = p.name end
  return table.concat(out, " ")
end
t.is(sel(3), "P2 P4 P1", "select 3: exactly front 1")
t.is(sel(5), "P2 P4 P1 P3 P6", "select 5: front 2 cut by crowding, its ends kept, P7 dropped")
t.is(sel(6), "P2 P4 P1 P3 P6 P7", "select 6: fronts 1 and 2, not P5")

-- Tournaments with scripted draws: rank first, then crowding, a full tie
-- to the first drawn.
local function scripted(seq)
  local k = 0
  return { int = function(_, n) k = k + 1; assert(seq[k] <= n); return seq[k] end }
end
pop = points()
nsga2.sort(pop, SENSE)
t.is(nsga2.tournament(pop, scripted { 3, 1 }).name, "P1", "tournament P3 v P1: the lower rank wins")
t.is(nsga2.tournament(pop, scripted { 7, 3 }).name, "P3", "tournament P7 v P3: same rank, the larger crowding wins")
t.is(nsga2.tournament(pop, scripted { 6, 3 }).name, "P6", "tournament P6 v P3: a full tie goes to the first drawn")

-- ---------------------------------------------------------------- fronts and hypervolume by hand
-- Box accuracy 0..10, objective 0..100: (8, 20) -> (0.8, 0.2), (5, 0) ->
-- (0.5, 0); with the reference (0, 1) they dominate 0.8*0.8 + 0.5*0.2 =
-- 0.74 of the unit square. (4, 50) is dominated by (5, 0) and adds nothing.
local box = { acc_min = 0, acc_max = 10, obj_min = 0, obj_max = 100 }
local recs = { { value = 8, objective = 20 }, { value = 4, objective = 50 }, { value = 5, objective = 0 },
               { value = 5, objective = 0 } }
local fr = smem.front_of(recs)
t.is(#fr, 2, "front_of: the two non-dominated points, duplicates once")
t.ok(fr[1].value == 5 and fr[2].value == 8, "front_of: in objective order")
t.near(smem.hv(recs, box), 0.74, 1e-12, "hv of the hand-worked set")
t.is(smem.hv({}, box), 0, "hv of nothing")

-- ---------------------------------------------------------------- pairclf
local sp = nl.space("nb201")
do
  -- A value linear in the one-hot encoding: the classifier learns its order.
  local rng = nl.rng(5)
  local archs, ys = {}, {}
  for i = 1, 40 do
    archs[i] = sp:sample(rng)
    local s = tostring(archs[i])
    local _, c3 = s:gsub("nor_conv_3x3", "")
    local _, nn = s:gsub("none", "")
    ys[i] = 2 * c3 - 3 * nn + 0.01 * i
  end
  local X = sp:encode(archs, "onehot")
  local c = nl.pairclf { hidden = 8, epochs = 200, seed = 1 }
  t.is(tostring(c), "naslab.PairClf: MLP, 8 hidden, not fitted", "tostring")
  t.error_is(function() c:wins(X, X) end, "the classifier is not fitted: call fit(X, y) first", "wins before fit")
  local loss = c:fit(X, ys)
  t.ok(loss < 0.35, "fit: training loss " .. loss .. " below 0.35 (log 2 = 0.69 at the start)")
  local w = c:wins(X, X)
  local best, worst = 1, 1
  for i = 2, #ys do
    if ys[i] > ys[best] then best = i end
    if ys[i] < ys[worst] then worst = i end
  end
  t.ok(w[best] > 30 and w[worst] < 10, string.format("the best cell wins %g of 40, the worst %g", w[best], w[worst]))
  local p = c:prob(X, X)
  t.is(table.concat(p:shape(), "x"), "40x40", "prob: one probability per pair")
  local soft = c:wins(X, X, true)
  local sum = 0
  for j = 1, 40 do sum = sum + p[best][j] end
  t.near(soft[best], sum, 1e-4, "soft wins are the row sums of prob")
  t.error_is(function() c:fit(X, { 1, 2 }) end, "bad argument #2 to 'fit' (2 targets for 40 rows)", "fit: length mismatch")
  t.error_like(function() nl.pairclf { hiden = 3 } end, "unknown option 'hiden'", "pairclf: unknown option")
  t.error_is(function() nl.pairclf { hidden = -1 } end, "hidden must be an integer in 0..4096, got -1", "pairclf: bad hidden")
end

-- ---------------------------------------------------------------- the recipe on a synthetic oracle
-- Value: 2 per 3x3 convolution, 1 per 1x1 convolution, minus 1 per
-- "none"; objective: params. Every cell of the space is enumerated for the
-- true front: 13 points, k 1x1 convolutions and no "none" (value k), then
-- 3x3 in place of 1x1 one edge at a time (values 7..12). The search must
-- find every point of it within 120 queries.
local function synth(a)
  local s = tostring(a)
  local _, c3 = s:gsub("nor_conv_3x3", "")
  local _, c1 = s:gsub("nor_conv_1x1", "")
  local _, nn = s:gsub("none", "")
  return 2 * c3 + c1 - nn
end
local all = {}
for a in sp:iter() do all[#all + 1] = { arch = a, value = synth(a), objective = a:params() } end
local truth = smem.front_of(all)
local tbox = { acc_min = math.huge, acc_max = -math.huge, obj_min = math.huge, obj_max = -math.huge }
for _, r in ipairs(all) do
  tbox.acc_min, tbox.acc_max = math.min(tbox.acc_min, r.value), math.max(tbox.acc_max, r.value)
  tbox.obj_min, tbox.obj_max = math.min(tbox.obj_min, r.objective), math.max(tbox.obj_max, r.objective)
end
local true_hv = smem.hv(truth, tbox)
t.diag(string.format("synthetic NB201: true front of %d points, hv %.4f", #truth, true_hv))

local oracle = nl.search.oracle.fn(sp, synth, "synthetic")
local function run(seed, budget, extra)
  local o = { oracle = oracle, budget = budget, seed = seed }
  for k, v in pairs(extra or {}) do o[k] = v end
  return nl.search.run("smem", o)
end
local function front_ratio(history)
  local rs = {}
  for i, h in ipairs(history) do rs[i] = { value = h.value, objective = h.arch:params() } end
  return smem.hv(smem.front_of(rs), tbox) / true_hv
end

t.is(#truth, 13, "the synthetic front has 13 points")
local r1 = run(1, 120)
t.is(r1.queries, 120, "the budget is spent")
t.near(front_ratio(r1.history), 1, 1e-12, "seed 1, 120 queries: every point of the true front found")
local r_arch = run(1, 120, { reference = "archive" })
t.ok(front_ratio(r_arch.history) < 1, string.format("(counting wins against the archive alone does not: %.4f)",
  front_ratio(r_arch.history)))
local rnd = nl.search.run("random", { oracle = oracle, budget = 120, seed = 1 })
t.ok(front_ratio(rnd.history) < 0.999, string.format("(random search with as many queries does not: %.4f)",
  front_ratio(rnd.history)))
t.ok(#r1.front >= 1 and r1.front[1].arch and r1.front[1].value and r1.front[1].objective,
  "result.front holds {arch, value, objective}")
local mono = true
for i = 2, #r1.hv_history do mono = mono and r1.hv_history[i].hv >= r1.hv_history[i - 1].hv end
t.ok(#r1.hv_history == r1.generations + 1 and mono, "hv_history: one entry a generation (and the start), never falling")
t.is(r1.hv_history[#r1.hv_history].hv, r1.hv, "result.hv is the last of hv_history")
t.is(r1.hv_ratio, nil, "no hv_ratio without a table")

-- Determinism: the same seed asks the same cells in the same order.
local r1b = run(1, 120)
local same = #r1b.history == #r1.history
for i, h in ipairs(r1.history) do same = same and tostring(r1b.history[i].arch) == tostring(h.arch) end
t.ok(same, "the same seed gives the same history")
local r2 = run(2, 120)
local differ = false
for i, h in ipairs(r1.history) do differ = differ or tostring(r2.history[i].arch) ~= tostring(h.arch) end
t.ok(differ, "another seed gives another history")

-- Options change the search and still work: soft scores, the logistic
-- classifier, the surrogate-only vice population.
for _, extra in ipairs { { score = "soft" }, { hidden = 0 }, { vice_criterion = "surrogate" }, { reference = "archive" } } do
  local k, v = next(extra)
  local r = run(3, 60, extra)
  t.ok(r.queries == 60 and #r.front > 0, string.format("%s = %s runs", k, tostring(v)))
end

-- Events: a run directory records, per generation, pareto.clear,
-- pareto.points of every queried cell (the pane highlights the front) and
-- search.front.
do
  local dir = os.tmpname()
  os.remove(dir)
  local r = run(4, 40, { dir = dir })
  local got = {}
  nl.run.replay(dir, function(ev) got[ev.name] = got[ev.name] or {}; table.insert(got[ev.name], ev) end)
  os.execute("rm -rf '" .. dir .. "'")
  local fronts = got["search.front"] or {}
  t.is(#fronts, r.generations + 1, "one search.front event a generation")
  t.is(#(got["pareto.clear"] or {}), #fronts, "as many pareto.clear")
  local last, lp = fronts[#fronts], got["pareto.points"] and got["pareto.points"][#got["pareto.points"]]
  t.ok(last and last.hv == r.hv and last.front_size == #r.front and last.generation == r.generations,
    "search.front carries generation, hv and front_size")
  local hit = 0
  if lp then
    for _, f in ipairs(r.front) do
      for i = 1, #lp.x do
        if lp.x[i] == f.objective and lp.y[i] == f.value then hit = hit + 1; break end
      end
    end
  end
  t.ok(lp and #lp.x == r.queries and #lp.y == r.queries and hit == #r.front,
    string.format("pareto.points carries all %d queried cells (x objectives, y accuracies), the front among them",
                  r.queries))
end

-- ---------------------------------------------------------------- mbv3, MAdds
do
  local mb = nl.space("mbv3")
  -- a smooth synthetic accuracy that grows with depth, kernel and
  -- expansion (the integer encoding's mean) with diminishing returns
  local function acc(a)
    local e = a:encode("int")
    local s = 0
    for i = 1, e:numel() do s = s + e[i] end
    return 80 - 400 / (s / e:numel() + 4)
  end
  local o = nl.search.oracle.fn(mb, acc, "synthetic mbv3")
  local r = nl.search.run("smem", { oracle = o, budget = 60, seed = 1, objective = "flops" })
  t.is(r.queries, 60, "mbv3: the budget is spent")
  local ok = #r.front > 0
  for _, p in ipairs(r.front) do ok = ok and p.objective == p.arch:flops() end
  t.ok(ok, "mbv3: the front's objective is a:flops() (MAdds)")
  local rr = nl.search.run("random", { oracle = o, budget = 60, seed = 1 })
  local rs = {}
  for i, h in ipairs(rr.history) do rs[i] = { value = h.value, objective = h.arch:flops() } end
  local hv_random = smem.hv(smem.front_of(rs), r.box)
  t.diag(string.format("mbv3: smem hv %.4f, random %.4f (box of smem's first answers)", r.hv, hv_random))
end

-- ---------------------------------------------------------------- errors
t.error_is(function() run(1, 30, { vice_criterion = "novel" }) end,
  "smem: vice_criterion must be \"novelty\" or \"surrogate\", got \"novel\"", "a bad vice_criterion is named")
t.error_is(function() run(1, 30, { reference = "all" }) end,
  "smem: reference must be \"archive\" or \"union\", got \"all\"", "a bad reference is named")
t.error_is(function() run(1, 30, { score = "count" }) end, "smem: score must be \"wins\" or \"soft\", got \"count\"",
  "a bad score is named")
t.error_is(function() run(1, 30, { population = 1 }) end, "smem: population must be an integer >= 2, got 1",
  "a bad population is named")
t.error_is(function() run(1, 30, { objective = "lat_pixel3_ms" }) end,
  "smem: objective 'lat_pixel3_ms' is not \"params\" or \"flops\": give objective_bench, the path of a table with "
  .. "a 'lat_pixel3_ms' column", "a column objective without a table asks for objective_bench")
t.error_like(function() run(1, 30, { objective = "lat", objective_bench = "/nonexistent/x.csv" }) end,
  "^smem: objective_bench: cannot open '/nonexistent/x.csv'", "an unreadable objective_bench is named")

-- ---------------------------------------------------------------- the real table
local shared = os.getenv("NASLAB_SHARED")
local path = shared and shared .. "/data/nb201.csv"
local fh = path and io.open(path)
if not fh then
  t.diag("skipping the real NAS-Bench-201 table: " .. (path and path .. " is not readable" or "NASLAB_SHARED is not set"))
  t.done()
end
fh:close()
local b = nl.search.oracle.bench(path, "c10_test", { cost = false })
local tf = smem.true_front(b, "params")
t.is(#tf.front, 13, "NB201 c10_test v params: a true front of 13 distinct points")
local sr, rr = {}, {}
for s = 1, 5 do
  sr[s] = nl.search.run("smem", { oracle = b, budget = 100, seed = s }).hv_ratio
  local h = nl.search.run("random", { oracle = b, budget = 100, seed = s }).history
  local recs = {}
  for i, q in ipairs(h) do recs[i] = { value = q.value, objective = q.arch:params() } end
  rr[s] = smem.hv_ratio(recs, b, "params")
end
table.sort(sr)
table.sort(rr)
t.ok(sr[3] >= 0.98, string.format("NB201, 100 queries, 5 seeds: median hv ratio %.4f >= 0.98", sr[3]))
t.ok(sr[3] > rr[3], string.format("... and above random search's %.4f", rr[3]))
t.done()
