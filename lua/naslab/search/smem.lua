-- SPDX-License-Identifier: GPL-3.0-or-later
-- naslab/search/smem.lua - SMEM-NAS (Xue et al. 2024, arXiv 2407.15600;
-- ALGORITHMS.md section 4): multi-objective search that maximises the
-- oracle's value (accuracy) and minimises a second objective known without
-- a query (params, flops, or a column such as a measured latency).
--
-- Only the abstract of the paper could be checked; the design follows it and
-- the NSGANetV2 lineage it builds on:
--   * The surrogate predicts ranking, not accuracy: a binary classifier on
--     ordered pairs of queried cells, concat(enc(x_i), enc(x_j)) ->
--     1[acc_i > acc_j] (nl.pairclf: a small MLP, or logistic regression with
--     hidden = 0). A cell's score is its number of wins against the archive
--     of queried cells: predicted for a new cell, counted from the true
--     values for a queried one (the same scale). The score takes the place
--     of accuracy in NSGA-II. Wins are counted against the archive and the
--     population being sorted (reference = "union", the default; ALGORITHMS.md
--     allows "the rest of the population"), or against the archive alone
--     (reference = "archive": then a queried cell's score is its true wins).
--     Against the archive alone two candidates tie wherever the archive has
--     no cell between them, and the cheaper one then hides the better one:
--     on NB201 (params, 100 queries) the union reaches all 13 points of a
--     synthetic front that the archive reference never completes, and a
--     median front-box ratio of 0.957 against 0.945 over 30 seeds
--     (bench/smem_hv.lua).
--     score = "soft" sums the win probabilities instead of counting them.
--   * NSGA-II (Deb et al. 2002): non-dominated sorting, crowding distance,
--     binary tournaments on (rank, crowding), crossover and mutation,
--     environmental selection of the best half of parents + offspring.
--   * Two populations. The main one runs NSGA-II on (score, objective). The
--     vice one keeps diversity under a relaxed criterion (vice_criterion):
--     "novelty" runs NSGA-II on (score, distance to the archive), so it
--     explores cells unlike those queried, whatever they cost; "surrogate"
--     keeps the best-scored cells, ignoring cost. Every `exchange`
--     generations each population offers its `migrants` best to the other.
--   * A generation: refit the classifier on the archive, run `steps` NSGA-II
--     generations of both populations on the surrogate (free), then query
--     the best unqueried members, `main_queries` from main and
--     `vice_queries` from vice.
--
-- Hypervolume. Both objectives are mapped to [0, 1] by a box: the ranges of
-- the whole table for a tabular oracle (accuracy of every cell, objective
-- of every cell), so the reference point (0, 1) is (worst accuracy of the
-- table, largest objective of the table); otherwise the ranges of the
-- `init` first answers. That box makes even random search reach about 0.99
-- of the true front's hypervolume on NB201 (bench/smem_hv.lua), so
-- hv_ratio also offers ref = "front": the box of the true Pareto front
-- itself (its worst accuracy and largest objective as reference), which
-- tells methods apart. The module's functions (objective, box, hv,
-- true_front, hv_ratio, front_of, nsga2) are what bench/smem_hv.lua and the
-- tests use: require "naslab.search.smem".
--
-- Events, once per generation: "pareto.clear" and "pareto.points" {x =
-- objectives, y = accuracies} of every queried cell, "search.front"
-- {generation, queries, hv, front_size}. The result adds front ({arch,
-- value, objective} in objective order), hv (last), hv_history ({generation,
-- queries, hv}), generations, box (the box hv is measured in: acc_min,
-- acc_max, obj_min, obj_max) and, for a tabular oracle, hv_ratio (against
-- the true front, table box).
local nl = require "naslab"

local M = {}

-- ---------------------------------------------------------------- objectives

local bench_cache = setmetatable({}, { __mode = "v" })

local function load_bench(path, optname)
  if bench_cache[path] then return bench_cache[path] end
  local b, msg = nl.bench.load(path)
  if not b then error(string.format("smem: %s: %s", optname, msg), 0) end
  bench_cache[path] = b
  return b
end

-- smem.objective(name, oracle [, bench_path]) -> f(a): the second objective
-- (minimised). name "params" or "flops" computes it from the cell; any other
-- name is a column of the table at bench_path or, without one, of the
-- oracle's own table. Values are cached by cell.
function M.objective(name, oracle, bench_path)
  local f
  if name == "params" then
    f = function(a) return a:params() end
  elseif name == "flops" then
    f = function(a) return a:flops() end
  else
    local b
    if bench_path and bench_path ~= "" then
      b = load_bench(bench_path, "objective_bench")
    elseif oracle and oracle.bench then
      b = oracle.bench
    else
      error(string.format("smem: objective '%s' is not \"params\" or \"flops\": give objective_bench, the path of a "
        .. "table with a '%s' column", name, name), 0)
    end
    local has = false
    for _, m in ipairs(b:metrics()) do has = has or m == name end
    if not has then
      error(string.format("smem: objective '%s' is not a column of %s (its columns: %s)", name, b:path(),
        table.concat(b:metrics(), ", ")), 0)
    end
    local col, index = b:column(name), {}
    for i, a in ipairs(b:archs()) do index[tostring(a)] = i end
    f = function(a)
      local i = index[tostring(a)]
      if not i then error(string.format("smem: cell %s is not in %s (objective '%s')", tostring(a), b:path(), name), 0) end
      return col[i]
    end
  end
  local cache = {}
  return function(a)
    local k = tostring(a)
    local v = cache[k]
    if v == nil then v = f(a); cache[k] = v end
    return v
  end
end

-- ---------------------------------------------------------------- fronts and hypervolume

-- smem.front_of(recs): the non-dominated records of a list of { value =,
-- objective = [, arch =] } (value maximised, objective minimised), in
-- objective order; duplicates of a point are kept once.
function M.front_of(recs)
  if #recs == 0 then return {} end
  local pts = {}
  for i, r in ipairs(recs) do pts[i] = { r.value, r.objective } end
  local idx = nl.pareto.front(pts, { "max", "min" })
  local out, seen = {}, {}
  for _, i in ipairs(idx) do
    local k = string.format("%.17g %.17g", recs[i].value, recs[i].objective)
    if not seen[k] then seen[k] = true; out[#out + 1] = recs[i] end
  end
  table.sort(out, function(a, b)
    if a.objective ~= b.objective then return a.objective < b.objective end
    return a.value > b.value
  end)
  return out
end

-- smem.hv(recs, box): the hypervolume of the records in the box's
-- normalised coordinates, accuracy (value - acc_min) / (acc_max - acc_min)
-- maximised and objective (objective - obj_min) / (obj_max - obj_min)
-- minimised, with reference point (0, 1): the unit square is the most any
-- set can reach. Records outside the box count nothing.
function M.hv(recs, box)
  local da, dobj = box.acc_max - box.acc_min, box.obj_max - box.obj_min
  if not (da > 0 and dobj > 0) then error("smem: the box is empty (every cell has the same accuracy or objective)", 0) end
  local pts = {}
  for _, r in ipairs(recs) do
    pts[#pts + 1] = { (r.value - box.acc_min) / da, (r.objective - box.obj_min) / dobj }
  end
  if #pts == 0 then return 0 end
  return nl.pareto.hypervolume(pts, { 0, 1 }, { "max", "min" })
end

-- The whole table of a tabular oracle as records, its true front and both
-- boxes, cached per oracle and objective (30 seeds share one).
local truth_cache = setmetatable({}, { __mode = "k" })

-- smem.true_front(oracle, objective [, bench_path]) -> { front =, table_box =,
-- front_box = }: the Pareto front of every cell the tabular oracle knows
-- (front: records { arch, value, objective }), the box of the table's ranges
-- and the box of the front's own ranges.
function M.true_front(oracle, objective, bench_path)
  if not (oracle and oracle.archs and oracle.values) then
    error("smem: the true front needs a tabular oracle (nl.search.oracle.bench)", 0)
  end
  local key = objective .. "\0" .. (bench_path or "")
  truth_cache[oracle] = truth_cache[oracle] or {}
  local t = truth_cache[oracle][key]
  if t then return t end
  local f = M.objective(objective, oracle, bench_path)
  local recs = {}
  local box = { acc_min = math.huge, acc_max = -math.huge, obj_min = math.huge, obj_max = -math.huge }
  for i, a in ipairs(oracle.archs) do
    local r = { arch = a, value = oracle.values[i], objective = f(a) }
    recs[i] = r
    box.acc_min, box.acc_max = math.min(box.acc_min, r.value), math.max(box.acc_max, r.value)
    box.obj_min, box.obj_max = math.min(box.obj_min, r.objective), math.max(box.obj_max, r.objective)
  end
  local front = M.front_of(recs)
  local fbox = { acc_min = math.huge, acc_max = -math.huge, obj_min = math.huge, obj_max = -math.huge }
  for _, r in ipairs(front) do
    fbox.acc_min, fbox.acc_max = math.min(fbox.acc_min, r.value), math.max(fbox.acc_max, r.value)
    fbox.obj_min, fbox.obj_max = math.min(fbox.obj_min, r.objective), math.max(fbox.obj_max, r.objective)
  end
  t = { front = front, table_box = box, front_box = fbox }
  truth_cache[oracle][key] = t
  return t
end

-- smem.hv_ratio(recs, oracle, objective [, bench_path [, ref]]) -> ratio,
-- hv, true_hv: the hypervolume of the records' front over that of the true
-- front, both in one box: ref "table" (default; the table's ranges) or
-- "front" (the true front's ranges: its worst accuracy and largest
-- objective are the reference point, so only cells close to the front
-- count).
function M.hv_ratio(recs, oracle, objective, bench_path, ref)
  local t = M.true_front(oracle, objective, bench_path)
  ref = ref or "table"
  local box = ref == "table" and t.table_box or ref == "front" and t.front_box
  if not box then error(string.format("smem: ref must be \"table\" or \"front\", got %s", tostring(ref)), 0) end
  local hv, true_hv = M.hv(M.front_of(recs), box), M.hv(t.front, box)
  return hv / true_hv, hv, true_hv
end

-- ---------------------------------------------------------------- NSGA-II

-- The NSGA-II pieces, on individuals whose field f is their objective
-- vector and a sense list saying which objectives are maximised.
local nsga2 = {}
M.nsga2 = nsga2

-- nsga2.sort(pop, sense): sets each individual's rank (1 = non-dominated)
-- and crowding (within its front) and returns the indices in NSGA-II order:
-- rank ascending, then crowding descending, then index (so ties are
-- resolved the same way every run).
function nsga2.sort(pop, sense)
  local pts = {}
  for i, p in ipairs(pop) do pts[i] = p.f end
  local rank = nl.pareto.ranks(pts, sense)
  local crowd = nl.pareto.crowding(pts, sense)
  local order = {}
  for i, p in ipairs(pop) do
    p.rank, p.crowding = rank[i], crowd[i]
    order[i] = i
  end
  table.sort(order, function(i, j)
    local a, b = pop[i], pop[j]
    if a.rank ~= b.rank then return a.rank < b.rank end
    if a.crowding ~= b.crowding then return a.crowding > b.crowding end
    return i < j
  end)
  return order
end

-- a is preferred to b: lower rank, or the same rank and larger crowding.
function nsga2.better(a, b)
  if a.rank ~= b.rank then return a.rank < b.rank end
  return a.crowding > b.crowding
end

-- nsga2.tournament(pop, rng): binary tournament of two members drawn at
-- random (with replacement); a tie goes to the first drawn.
function nsga2.tournament(pop, rng)
  local a, b = pop[rng:int(#pop)], pop[rng:int(#pop)]
  if nsga2.better(b, a) then return b end
  return a
end

-- nsga2.select(pop, n, sense): environmental selection, the n first of
-- nsga2.sort: whole fronts in order, the last one cut by crowding. Returns
-- the survivors (with rank and crowding set by the sort over pop).
function nsga2.select(pop, n, sense)
  local order, out = nsga2.sort(pop, sense), {}
  for k = 1, math.min(n, #order) do out[k] = pop[order[k]] end
  return out
end

-- ---------------------------------------------------------------- the recipe

local function check_opts(o)
  local function int(k, lo)
    if math.type(o[k]) ~= "integer" and not (type(o[k]) == "number" and o[k] == math.floor(o[k])) or o[k] < lo then
      error(string.format("smem: %s must be an integer >= %d, got %s", k, lo, tostring(o[k])), 0)
    end
    o[k] = math.tointeger(o[k])
  end
  int("init", 2); int("population", 2); int("vice", 2); int("steps", 1); int("main_queries", 1)
  int("vice_queries", 0); int("exchange", 1); int("migrants", 0); int("hidden", 0); int("epochs", 1)
  if o.vice_criterion ~= "novelty" and o.vice_criterion ~= "surrogate" then
    error(string.format("smem: vice_criterion must be \"novelty\" or \"surrogate\", got %q", o.vice_criterion), 0)
  end
  if o.reference ~= "archive" and o.reference ~= "union" then
    error(string.format("smem: reference must be \"archive\" or \"union\", got %q", o.reference), 0)
  end
  if o.score ~= "wins" and o.score ~= "soft" then
    error(string.format("smem: score must be \"wins\" or \"soft\", got %q", o.score), 0)
  end
  if not (o.crossover >= 0 and o.crossover <= 1) then
    error(string.format("smem: crossover must be a probability in [0, 1], got %s", tostring(o.crossover)), 0)
  end
end

local function run(ctx)
  local o = ctx.opts
  check_opts(o)
  local sp, rng = ctx.space, ctx.rng
  local objective = M.objective(o.objective, ctx.oracle, o.objective_bench)
  local tabular = ctx.oracle.archs ~= nil and ctx.oracle.values ~= nil

  -- The archive: every queried cell, with its value and objective.
  local archive, X_archive, X_archive_archs = {}, nil, {}
  local function ask(a)
    local v = ctx:query(a)
    archive[#archive + 1] = { arch = a, value = v, objective = objective(a) }
  end
  local function unseen_sample()
    local a = ctx:sample()
    for _ = 1, 1000 do
      if not ctx:seen(a) then return a end
      a = ctx:sample()
    end
    return nil -- the domain is (nearly) all queried
  end

  -- 1. uniform cells to start from
  while #archive < o.init and not ctx:done() do
    local a = unseen_sample()
    if not a then break end
    ask(a)
  end
  if #archive < 2 then return end

  -- The box the search's own hypervolume is measured in (see the header).
  local box
  if tabular then
    box = M.true_front(ctx.oracle, o.objective, o.objective_bench).table_box
  else
    box = { acc_min = math.huge, acc_max = -math.huge, obj_min = math.huge, obj_max = -math.huge }
    for _, r in ipairs(archive) do
      box.acc_min, box.acc_max = math.min(box.acc_min, r.value), math.max(box.acc_max, r.value)
      box.obj_min, box.obj_max = math.min(box.obj_min, r.objective), math.max(box.obj_max, r.objective)
    end
    if box.acc_max == box.acc_min then box.acc_max = box.acc_min + 1 end
    if box.obj_max == box.obj_min then box.obj_max = box.obj_min + 1 end
  end

  -- Scoring. A queried cell's score is its true number of wins against the
  -- archive; another cell's is the classifier's prediction of it.
  local clf
  local function fit()
    local ys, archs = {}, {}
    for i, r in ipairs(archive) do ys[i], archs[i] = r.value, r.arch end
    X_archive, X_archive_archs = sp:encode(archs, o.encoding), archs
    clf = nil
    local distinct = false
    for i = 2, #ys do distinct = distinct or ys[i] ~= ys[1] end
    if not distinct then return end -- nothing to learn an order from yet: scores stay 0
    clf = nl.pairclf { hidden = o.hidden, epochs = o.epochs, lr = o.lr, weight_decay = o.weight_decay,
                       seed = rng:int(0, 2 ^ 31 - 1) }
    clf:fit(X_archive, ys)
  end
  local sorted_values
  local function true_wins(v)
    -- number of archive values below v (binary search in the sorted values)
    local lo, hi = 1, #sorted_values + 1
    while lo < hi do
      local mid = (lo + hi) // 2
      if sorted_values[mid] < v then lo = mid + 1 else hi = mid end
    end
    return lo - 1
  end
  -- Fills ind.score (and, with novelty, ind.novelty) for a list of individuals.
  -- With reference = "union" every score is predicted, against the archive
  -- and the list itself (a population with its offspring): where the
  -- archive holds no cell between two candidates, their wins against it
  -- tie, and only comparing them with each other tells them apart.
  local function score(list, novelty)
    local todo, archs = {}, {}
    for _, ind in ipairs(list) do
      local v = ctx:seen(ind.arch)
      if v and o.reference == "archive" then
        ind.score = true_wins(v)
      else
        todo[#todo + 1] = ind
      end
      archs[#archs + 1] = ind.arch
    end
    if #todo > 0 then
      if clf then
        local ta = {}
        for i, ind in ipairs(todo) do ta[i] = ind.arch end
        local ref = X_archive
        if o.reference == "union" then ref = sp:encode(table.move(archs, 1, #archs, #X_archive_archs + 1,
          table.move(X_archive_archs, 1, #X_archive_archs, 1, {})), o.encoding) end
        local w = clf:wins(sp:encode(ta, o.encoding), ref, o.score == "soft")
        for i, ind in ipairs(todo) do ind.score = w[i] end
      else
        for _, ind in ipairs(todo) do ind.score = 0 end
      end
    end
    if novelty and #list > 0 then
      -- squared distance to the nearest archive cell: for 0/1 encodings the
      -- number of positions that differ, |x|^2 + |a|^2 - 2 x.a
      local X = sp:encode(archs, o.encoding)
      local dot = X:matmul(X_archive:t()):totable()
      local xn, an = (X * X):sum(2):totable(), (X_archive * X_archive):sum(2):totable()
      for i, ind in ipairs(list) do
        local best = math.huge
        for j = 1, #an do
          local d = xn[i] + an[j] - 2 * dot[i][j]
          if d < best then best = d end
        end
        ind.novelty = math.max(0, best)
      end
    end
  end

  -- The objective vectors of the two populations.
  local NOVEL = o.vice_criterion == "novelty"
  local MAIN_SENSE = { "max", "min" }
  local function main_f(ind) ind.f = { ind.score, ind.objective } end
  local VICE_SENSE = NOVEL and { "max", "max" } or { "max" }
  local function vice_f(ind) ind.f = NOVEL and { ind.score, ind.novelty } or { ind.score } end

  local function individual(a) return { arch = a, key = tostring(a), objective = objective(a) } end

  -- A population starts with the archive's cells (the uniform initial
  -- sample) and is topped up with uniform cells.
  local function new_population(n)
    local pop, keys = {}, {}
    for _, r in ipairs(archive) do
      if #pop >= n then break end
      local ind = individual(r.arch)
      if not keys[ind.key] then keys[ind.key] = true; pop[#pop + 1] = ind end
    end
    for _ = 1, 50 * n do
      if #pop >= n then break end
      local ind = individual(ctx:sample())
      if not keys[ind.key] then keys[ind.key] = true; pop[#pop + 1] = ind end
    end
    return pop
  end

  -- One NSGA-II generation on the surrogate: len(pop) offspring by
  -- tournament, crossover and mutation (cells new to the population), then
  -- environmental selection of parents + offspring.
  local function generation(pop, setf, sense, novelty)
    nsga2.sort(pop, sense) -- ranks and crowding for the tournaments
    local keys, kids = {}, {}
    for _, p in ipairs(pop) do keys[p.key] = true end
    for _ = 1, 4 * #pop do
      if #kids >= #pop then break end
      local p1, p2 = nsga2.tournament(pop, rng), nsga2.tournament(pop, rng)
      local c = p1.arch
      if rng:uniform() < o.crossover then c = ctx:crossover(p1.arch, p2.arch) end
      c = ctx:mutate(c)
      local ind = individual(c)
      if not keys[ind.key] then keys[ind.key] = true; kids[#kids + 1] = ind end
    end
    local all = {}
    for _, p in ipairs(pop) do all[#all + 1] = p end
    for _, k in ipairs(kids) do all[#all + 1] = k end
    if o.reference == "union" then score(all, novelty) else score(kids, novelty) end
    for _, k in ipairs(all) do setf(k) end
    return nsga2.select(all, #pop, sense)
  end

  -- Rescores a population after a refit (the archive and classifier changed).
  local function rescore(pop, setf, novelty)
    score(pop, novelty)
    for _, p in ipairs(pop) do setf(p) end
  end

  -- Moves the `migrants` best of `from` into `to` (cells it lacks); the next
  -- environmental selection of `to` decides whether they stay.
  local function offer(from, from_sense, to)
    local have = {}
    for _, p in ipairs(to) do have[p.key] = true end
    local moved = 0
    for _, i in ipairs(nsga2.sort(from, from_sense)) do
      if moved >= o.migrants then break end
      local p = from[i]
      if not have[p.key] then
        to[#to + 1] = { arch = p.arch, key = p.key, objective = p.objective }
        moved = moved + 1
      end
    end
  end

  -- The `k` best unqueried members of a population, in NSGA-II order.
  local function pick(pop, sense, k, chosen)
    local out = {}
    for _, i in ipairs(nsga2.sort(pop, sense)) do
      if #out >= k then break end
      local p = pop[i]
      if not ctx:seen(p.arch) and not chosen[p.key] then chosen[p.key] = true; out[#out + 1] = p.arch end
    end
    return out
  end

  local hv_history = {}
  local function report(gen)
    local front = M.front_of(archive)
    -- every queried cell: the Pareto pane draws them all and highlights
    -- the front itself
    local xs, ys = {}, {}
    for i, r in ipairs(archive) do xs[i], ys[i] = r.objective, r.value end
    local hv = M.hv(front, box)
    hv_history[#hv_history + 1] = { generation = gen, queries = ctx.n, hv = hv }
    ctx:emit("pareto.clear", {})
    ctx:emit("pareto.points", { x = xs, y = ys })
    ctx:emit("search.front", { algo = "smem", generation = gen, queries = ctx.n, hv = hv, front_size = #front })
    return front, hv
  end

  -- 2. generations
  local main, vice
  local gen = 0
  local front, hv = report(gen)
  while not ctx:done() do
    gen = gen + 1
    sorted_values = {}
    for i, r in ipairs(archive) do sorted_values[i] = r.value end
    table.sort(sorted_values)
    fit()
    if not main then
      main, vice = new_population(o.population), new_population(o.vice)
    end
    rescore(main, main_f)
    rescore(vice, vice_f, NOVEL)
    if o.migrants > 0 and gen % o.exchange == 0 then
      local main_before = table.move(main, 1, #main, 1, {})
      offer(vice, VICE_SENSE, main)
      offer(main_before, MAIN_SENSE, vice)
      rescore(main, main_f)
      rescore(vice, vice_f, NOVEL)
      main = nsga2.select(main, o.population, MAIN_SENSE)
      vice = nsga2.select(vice, o.vice, VICE_SENSE)
    end
    for _ = 1, o.steps do
      main = generation(main, main_f, MAIN_SENSE)
      vice = generation(vice, vice_f, VICE_SENSE, NOVEL)
    end
    local chosen = {}
    local asks = pick(main, MAIN_SENSE, o.main_queries, chosen)
    for _, a in ipairs(pick(vice, VICE_SENSE, o.vice_queries, chosen)) do asks[#asks + 1] = a end
    if #asks == 0 then -- both populations are all queried: a uniform cell keeps the search moving
      local a = unseen_sample()
      if not a then break end
      asks[1] = a
    end
    for _, a in ipairs(asks) do
      if ctx:done() then break end
      ask(a)
    end
    front, hv = report(gen)
  end

  local out = {}
  for i, r in ipairs(front) do out[i] = { arch = r.arch, value = r.value, objective = r.objective } end
  ctx.result = { front = out, hv = hv, hv_history = hv_history, generations = gen, box = box }
  if tabular then ctx.result.hv_ratio = M.hv_ratio(archive, ctx.oracle, o.objective, o.objective_bench) end
end

M.doc = "SMEM-NAS: NSGA-II on a pairwise-comparison surrogate with main and vice populations (accuracy vs a cost)"
M.multi = true
M.defaults = {
  objective = "params", objective_bench = "",
  init = 20, population = 40, vice = 20, steps = 5, main_queries = 4, vice_queries = 2,
  exchange = 2, migrants = 4, vice_criterion = "novelty", crossover = 0.9,
  encoding = "onehot", score = "wins", reference = "union", hidden = 16, epochs = 60, lr = 0.03, weight_decay = 1e-4,
}
M.run = run
return M
