-- SPDX-License-Identifier: GPL-3.0-or-later
-- naslab/search/naswot.lua - NASWOT search (Mellor et al., ICML 2021,
-- ALGORITHMS.md 6a): draw `candidates` cells uniformly from the oracle's
-- domain (ctx:sample(), with repeats, as search.py draws them), score each
-- untrained network with nl.proxy("naswot", ...) -- log|det K| of the
-- binary ReLU codes over one minibatch -- and query only the `topk`
-- best-scored distinct cells (1 by default: the argmax, one query), best
-- score first, while the budget lasts.
--
-- The scoring is the expensive part, and it is not counted by the budget
-- (it is no query): about 0.03 s of one core per cell for the C = 8, N = 2
-- network at 16x16, so the default 100 candidates take some 3 s, and a
-- C = 16, N = 5 network at 32x32 many times that. A cell drawn twice is
-- scored once.
--
-- `proxy` holds nl.proxy's options, with the recipe's defaults for the
-- network of naslab's own benchmark (data/README.md): C = 8, N = 2, batch =
-- 128, seed = 0 (which fixes the weights and the minibatch), threads = 1
-- (scores are bit-exact for a thread count); proxy.data is the data set
-- whose images feed it, by default the benchmark's 5,000 training images
-- (Fashion-MNIST, shuffled with seed 0, normalised, padded to 32, 2x2
-- means), loaded on first use. The weights and the minibatch are the same
-- for every candidate, as in the reference, so the run's seed only changes
-- which cells are drawn.
--
-- result.scores: { arch, score } for every candidate, in the order drawn;
-- result.chosen: { arch, score, value } of the argmax (value its query).
-- Event per candidate: search.naswot { candidate, arch, score, best_score }.
local nl = require "naslab"

local embedded -- the benchmark's training images, once loaded

local function recipe_data()
  if not embedded then
    local tr, why = nl.data.fashion_mnist{ split = "train", limit = 6000, valid = 1000, seed = 0, pad = 2,
                                           normalize = true }
    if not tr then error("naswot: " .. why .. " (or give proxy = { data = <a data set> })", 0) end
    embedded = tr:downsample(2)
  end
  return embedded
end

local PROXY_DEFAULTS = { C = 8, N = 2, batch = 128, seed = 0, threads = 1 }

local function isint(v) return math.type(v) == "integer" or (type(v) == "number" and v == math.floor(v)) end

return {
  doc = "NASWOT (Mellor et al. 2021): score uniform cells untrained with log|det K|, query the best-scored",
  defaults = { candidates = 100, topk = 1, proxy = {} },
  run = function(ctx)
    local o = ctx.opts
    for _, k in ipairs { "candidates", "topk" } do
      if not isint(o[k]) or o[k] < 1 then
        error(string.format("naswot: %s must be an integer >= 1, got %s", k, tostring(o[k])), 0)
      end
    end
    local popts = {}
    for k, v in pairs(PROXY_DEFAULTS) do popts[k] = v end
    for k, v in pairs(o.proxy) do if k ~= "data" then popts[k] = v end end
    local data = o.proxy.data or recipe_data()

    local scores, memo, best = {}, {}, -math.huge
    for i = 1, math.tointeger(o.candidates) do
      local a = ctx:sample()
      local key = tostring(a)
      local s = memo[key]
      if not s then
        s = nl.proxy("naswot", a, data, popts)
        if s ~= s then s = -math.huge end -- NaN ranks last
        memo[key] = s
      end
      scores[i] = { arch = a, score = s }
      if s > best then best = s end
      ctx:emit("search.naswot", { algo = "naswot", candidate = i, arch = key, score = s, best_score = best })
    end

    local order = {}
    for i = 1, #scores do order[i] = i end
    table.sort(order, function(i, j)
      if scores[i].score ~= scores[j].score then return scores[i].score > scores[j].score end
      return i < j
    end)
    local asked, done = 0, {}
    for _, i in ipairs(order) do
      if asked >= o.topk or ctx:done() then break end
      local key = tostring(scores[i].arch)
      if not done[key] then
        done[key] = true
        ctx:query(scores[i].arch)
        asked = asked + 1
      end
    end
    local c = scores[order[1]]
    ctx.result = { scores = scores, chosen = { arch = c.arch, score = c.score, value = ctx:seen(c.arch) } }
  end,
}
