-- SPDX-License-Identifier: GPL-3.0-or-later
-- naslab/search/random.lua - random search: query uniformly drawn cells the
-- run has not queried yet until the budget is spent. The baseline every
-- other recipe is measured against (regret, sample-efficiency gain).
return {
  doc = "random search: uniform cells, no repeats",
  defaults = {},
  run = function(ctx)
    while not ctx:done() do
      local a = ctx:sample()
      -- a cell already queried costs nothing and teaches nothing: draw again
      -- (a bounded number of times, so a tiny space cannot loop forever)
      for _ = 1, 1000 do
        if not ctx:seen(a) then break end
        a = ctx:sample()
      end
      if ctx:seen(a) then break end -- every cell of the domain is known
      ctx:query(a)
    end
  end,
}
