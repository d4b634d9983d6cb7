-- SPDX-License-Identifier: GPL-3.0-or-later
-- naslab/search/rea.lua - regularised (aging) evolution, Real et al., AAAI
-- 2019: a population of `population` cells, first drawn uniformly; then
-- each step draws `sample` members at random, mutates the best of them
-- (one edge operation changed), queries the child, appends it and removes
-- the oldest member. Aging rather than killing the worst keeps the
-- population moving and is what makes the method robust to noisy values.
return {
  doc = "regularised evolution (Real et al. 2019): tournament, mutate, age out the oldest",
  defaults = { population = 20, sample = 5 },
  run = function(ctx)
    local P, S = ctx.opts.population, ctx.opts.sample
    if P < 2 or S < 1 or S > P then
      error(string.format("rea: need population >= 2 and 1 <= sample <= population (got %d, %d)", P, S), 0)
    end
    local pop = {} -- a queue of { arch, value }, oldest first
    while #pop < P and not ctx:done() do
      local a = ctx:sample()
      for _ = 1, 100 do
        if not ctx:seen(a) then break end
        a = ctx:sample()
      end
      pop[#pop + 1] = { arch = a, value = ctx:query(a) }
    end
    while not ctx:done() do
      local parent
      for _, m in ipairs(ctx.rng:choice(pop, S)) do
        if not parent or m.value > parent.value then parent = m end
      end
      local child = ctx:mutate(parent.arch)
      for _ = 1, 50 do -- prefer a child not queried yet
        if not ctx:seen(child) then break end
        child = ctx:mutate(parent.arch)
      end
      -- A parent whose every neighbour is known (small or partial spaces)
      -- would make the loop spin on free repeat queries: explore instead.
      for _ = 1, 100 do
        if not ctx:seen(child) then break end
        child = ctx:sample()
      end
      pop[#pop + 1] = { arch = child, value = ctx:query(child) }
      table.remove(pop, 1)
      ctx:emit("search.population", { algo = "rea", size = #pop, best = select(2, ctx:best()) })
    end
  end,
}
