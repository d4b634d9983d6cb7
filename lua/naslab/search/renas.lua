-- SPDX-License-Identifier: GPL-3.0-or-later
-- naslab/search/renas.lua - predictor-guided search (ReNAS as a drop-in
-- evaluator, ALGORITHMS.md sections 1 and 3): query `init` uniform cells;
-- then, until the budget is spent, fit the predictor on every queried cell,
-- score a candidate set with it and query the `topk` best-scored cells not
-- queried yet. The candidate set is chosen by `candidates`, the three
-- policies of Efficient Sampling for Predictor-Based NAS (Mauch et al.
-- 2020):
--   "full"    every cell of the oracle's domain (all 15,625 NB201 cells);
--   "random"  `subset` cells drawn uniformly, afresh each round;
--   "smart"   `subset` cells around the incumbents: mutations (one to three
--             edges) of the `parents` best cells queried so far.
-- The predictor is any nl.predictor kind ("renas" by default; "gbdt" and
-- "mlp" fit in milliseconds), seeded from the run's rng each round, so a
-- run is a function of its seed and answers. The scores of the last round
-- and the candidate-set sizes are in the result (scored, rounds).
return {
  doc = "predictor-guided search: fit a predictor, score a candidate set (full, random or smart), query the top-k",
  defaults = { predictor = "renas", candidates = "full", init = 10, topk = 5, subset = 1000, parents = 10,
               epochs = 0, threads = 1 },
  run = function(ctx)
    local o = ctx.opts
    local policies = { full = true, random = true, smart = true }
    if not policies[o.candidates] then
      error(string.format("renas: candidates must be \"full\", \"random\" or \"smart\", got %q", o.candidates), 0)
    end
    for _, k in ipairs { "init", "topk", "subset", "parents" } do
      if not (math.type(o[k]) == "integer" or o[k] == math.floor(o[k])) or o[k] < 1 then
        error(string.format("renas: %s must be an integer >= 1, got %s", k, tostring(o[k])), 0)
      end
    end
    local popts = { threads = o.threads }
    if o.epochs > 0 then popts.epochs = math.tointeger(o.epochs) end

    -- 1. uniform cells to start from
    local archs, ys = {}, {}
    local function ask(a)
      local v = ctx:query(a)
      archs[#archs + 1], ys[#ys + 1] = a, v
    end
    while #archs < o.init and not ctx:done() do
      local a = ctx:sample()
      for _ = 1, 100 do
        if not ctx:seen(a) then break end
        a = ctx:sample()
      end
      ask(a)
    end

    -- the candidate set of one round, without cells already queried
    local function candidates()
      local S = {}
      if o.candidates == "full" then
        for _, a in ipairs(ctx:domain()) do
          if not ctx:seen(a) then S[#S + 1] = a end
        end
        return S
      end
      local picked = {}
      local function add(a)
        local k = tostring(a)
        if not picked[k] and not ctx:seen(a) then picked[k] = true; S[#S + 1] = a end
      end
      -- at most the cells not queried yet; give up after 200 draws in a row
      -- that add nothing (a small or partial domain runs out of new cells)
      local want, stale = math.min(o.subset, #ctx:domain() - ctx.n), 0
      local function fill(draw)
        while #S < want and stale < 200 do
          local before = #S
          add(draw())
          stale = #S > before and 0 or stale + 1
        end
      end
      if o.candidates == "random" then
        fill(function() return ctx:sample() end)
        return S
      end
      -- smart: mutations of the best queried cells, best parents first
      local order = {}
      for i = 1, #archs do order[i] = i end
      table.sort(order, function(i, j) if ys[i] ~= ys[j] then return ys[i] > ys[j] end return i < j end)
      local parents = {}
      for i = 1, math.min(o.parents, #order) do parents[i] = archs[order[i]] end
      fill(function()
        local a = parents[ctx.rng:int(#parents)]
        for _ = 1, ctx.rng:int(3) do a = ctx:mutate(a) end
        return a
      end)
      return S
    end

    -- 2. rounds: fit, score, query the top-k
    local rounds = {}
    while not ctx:done() do
      popts.seed = ctx.rng:int(0, 2 ^ 31 - 1)
      local p = nl.predictor(o.predictor, popts)
      p:fit(archs, ys)
      local S = candidates()
      if #S == 0 then break end -- the whole domain is known
      local scores = p:predict(S)
      local order = {}
      for i = 1, #S do order[i] = i end
      table.sort(order, function(i, j) if scores[i] ~= scores[j] then return scores[i] > scores[j] end return i < j end)
      local asked = 0
      for _, i in ipairs(order) do
        if asked >= o.topk or ctx:done() then break end
        if not ctx:seen(S[i]) then
          ask(S[i])
          asked = asked + 1
        end
      end
      rounds[#rounds + 1] = { fitted = #archs - asked, candidates = #S }
      ctx:emit("search.round", { algo = "renas", round = #rounds, fitted = #archs - asked, candidates = #S,
                                 best = select(2, ctx:best()) })
      if asked == 0 then break end
    end
    ctx.result = { rounds = rounds }
  end,
}
