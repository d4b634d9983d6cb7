-- SPDX-License-Identifier: GPL-3.0-or-later
-- naslab/search/mdenas.lua - MDENAS, multinomial distribution learning
-- (Zheng et al., ICCV 2019; the update of MAC-AutoML/XNAS CategoricalMDENAS,
-- ALGORITHMS.md 6b). Every edge e of the NB201 cell keeps a distribution
-- theta[e] over the five operations (uniform at first), and per operation
-- N (epochs it was sampled) and A (the value of the last cell it was in).
-- Each epoch samples one cell from theta, gets its value, updates N and A on
-- every edge, then moves probability with the pairwise rule: for ops i < j,
-- when N_i >= N_j and A_i < A_j, alpha goes from i to j (all of theta_i when
-- theta_i <= alpha), and symmetrically; the total stays 1. An op trained
-- less that scored higher gains. Pairs are visited in order and each move
-- sees the moves before it, as XNAS does.
--
-- What an epoch is depends on the oracle. Tabular (bench, fn): one query,
-- the value the oracle gives. Supernet (oracle.supernet): the sampled cell
-- is trained one epoch on the shared weights (sn:train with arch = the cell
-- and the options in `train`, which must hold data; its seed is drawn from
-- the run's rng), then evaluated with sn:eval, which is the oracle's query.
-- A cell sampled again costs no query (the budget counts distinct cells):
-- a tabular oracle repeats its value; a supernet has moved on, so the cell
-- is evaluated again outside the budget (the query log keeps its first
-- value, and a seconds budget counts only evaluations, not training).
--
-- Length: `epochs`, or as many epochs as the query budget when 0 (a
-- seconds-only budget needs epochs); the run stops early when the budget is
-- spent. A is -inf before an op is first sampled, which is the reference's
-- 0 for values >= 0 and keeps the rule sane for negative ones.
--
-- The answer: result.final = { arch, value, queried } is the argmax of
-- theta per edge -- or, when the oracle answers only part of the space (the
-- embedded 1,000-cell benchmark), the most probable cell it can answer,
-- since sampling is then restricted to those cells too (a cell's
-- probability is the product of its edges' theta, renormalised over the
-- domain). With final = true (default) the last query of a counted budget
-- is kept for that cell, so result.best, which is always a queried cell,
-- can be it; result.final.queried tells. Otherwise its value is told when
-- the oracle can tell it without cost: a tabular benchmark's entry (looked
-- up, not charged) or the supernet's evaluation with the final weights;
-- an oracle.fn or oracle.train value is not computed (value nil). With a
-- supernet the final value is always a fresh evaluation with the final
-- weights. result.theta[e][k] is the last theta (ops in result.ops order),
-- result.epochs the epochs run. Event per epoch: search.mdenas { epoch,
-- arch (sampled), value, argmax (the cell final would be now), entropy (of
-- theta, nats summed over the 6 edges; 6 ln 5 = 9.66 when uniform), and
-- with a supernet loss (the epoch's training loss) }.
local nl = require "naslab"

local OPS = { "none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3" }
local K, E = #OPS, 6
local OPI = {}
for k, n in ipairs(OPS) do OPI[n] = k end

local function cellstr(ops)
  local n = {}
  for e = 1, E do n[e] = OPS[ops[e]] end
  return string.format("|%s~0|+|%s~0|%s~1|+|%s~0|%s~1|%s~2|", table.unpack(n))
end

-- The op index (1..K) of every edge of a cell, in string order.
local function cellops(a)
  local ops = {}
  for name in tostring(a):gmatch("|([%w_]+)~%d") do ops[#ops + 1] = OPI[name] end
  if #ops ~= E then error(string.format("mdenas: %s is not an NB201 cell", tostring(a)), 0) end
  return ops
end

-- One edge's update: theta, N, A are lists over the K ops; theta changes
-- in place (and is returned).
local function update(theta, N, A, alpha)
  local n = #theta
  for i = 1, n do
    for j = i + 1, n do
      if N[i] >= N[j] and A[i] < A[j] then
        if theta[i] > alpha then
          theta[i], theta[j] = theta[i] - alpha, theta[j] + alpha
        else
          theta[j], theta[i] = theta[j] + theta[i], 0
        end
      end
      if N[i] <= N[j] and A[i] > A[j] then
        if theta[j] > alpha then
          theta[j], theta[i] = theta[j] - alpha, theta[i] + alpha
        else
          theta[i], theta[j] = theta[i] + theta[j], 0
        end
      end
    end
  end
  return theta
end

local function entropy(theta)
  local h = 0
  for e = 1, #theta do
    local s = 0
    for k = 1, #theta[e] do s = s + theta[e][k] end
    for k = 1, #theta[e] do
      local p = theta[e][k] / s
      if p > 0 then h = h - p * math.log(p) end
    end
  end
  return h
end

local function run(ctx)
  local o = ctx.opts
  if not (o.alpha > 0 and o.alpha < 1) then
    error(string.format("mdenas: alpha must be in (0, 1), got %s", o.alpha), 0)
  end
  if math.type(o.epochs) ~= "integer" and o.epochs ~= math.floor(o.epochs) or o.epochs < 0 then
    error(string.format("mdenas: epochs must be an integer >= 0, got %s", o.epochs), 0)
  end
  local counted = ctx:remaining() < math.huge
  local epochs = math.tointeger(o.epochs)
  if epochs == 0 then
    if not counted then error("mdenas: with a seconds budget only, give epochs (the number of epochs to run)", 0) end
    epochs = ctx:remaining()
  end
  local sn = ctx.oracle.kind == "supernet" and ctx.oracle.supernet or nil
  if not sn and next(o.train) ~= nil then
    error(string.format("mdenas: train is for a supernet oracle (this one is %s)", tostring(ctx.oracle.kind)), 0)
  end
  if sn then
    if o.train.data == nil then error("mdenas: a supernet oracle needs train = { data = <training set>, ... }", 0) end
    for _, k in ipairs { "arch", "epochs", "seed" } do
      if o.train[k] ~= nil then error(string.format("mdenas: train.%s is set by the recipe", k), 0) end
    end
  end

  local theta, N, A = {}, {}, {}
  for e = 1, E do
    theta[e], N[e], A[e] = {}, {}, {}
    for k = 1, K do theta[e][k], N[e][k], A[e][k] = 1 / K, 0, -math.huge end
  end

  -- The oracle's domain when it answers only part of the space: sampling
  -- and the argmax are restricted to it.
  local dom, domops
  if ctx.oracle.contains then
    local d = ctx:domain()
    if #d < ctx.space:size() then
      dom, domops = d, {}
      for i, a in ipairs(d) do domops[i] = cellops(a) end
    end
  end
  local function prob(ops)
    local p = 1
    for e = 1, E do p = p * theta[e][ops[e]] end
    return p
  end

  local function sample()
    if dom then
      local w, tot = {}, 0
      for i = 1, #dom do w[i] = prob(domops[i]); tot = tot + w[i] end
      local u = ctx.rng:uniform() * tot
      local c = 0
      for i = 1, #dom do
        c = c + w[i]
        if u < c then return dom[i], domops[i] end
      end
      for i = #dom, 1, -1 do if w[i] > 0 then return dom[i], domops[i] end end
      local i = ctx.rng:int(#dom) -- theta gives no domain cell any mass
      return dom[i], domops[i]
    end
    local ops = {}
    for e = 1, E do
      local s = 0
      for k = 1, K do s = s + theta[e][k] end
      local u, c = ctx.rng:uniform() * s, 0
      for k = 1, K do
        c = c + theta[e][k]
        if u < c then ops[e] = k; break end
      end
      if not ops[e] then
        for k = K, 1, -1 do if theta[e][k] > 0 then ops[e] = k; break end end
      end
    end
    return ctx.space:parse(cellstr(ops)), ops
  end

  local function argmax()
    if dom then
      local bi, bp = 1, -1
      for i = 1, #dom do
        local p = prob(domops[i])
        if p > bp then bi, bp = i, p end
      end
      return dom[bi]
    end
    local ops = {}
    for e = 1, E do
      local b = 1
      for k = 2, K do if theta[e][k] > theta[e][b] then b = k end end
      ops[e] = b
    end
    return ctx.space:parse(cellstr(ops))
  end

  local reserve = (o.final and counted) and 1 or 0
  local epoch = 0
  while epoch < epochs and not ctx:done() and ctx:remaining() > reserve do
    epoch = epoch + 1
    local a, ops = sample()
    local fields = { algo = "mdenas", epoch = epoch, arch = tostring(a) }
    local value
    if sn then
      local t = {}
      for k, v in pairs(o.train) do t[k] = v end
      t.arch, t.epochs, t.seed = a, 1, ctx.rng:int(1, 2 ^ 31 - 1)
      fields.loss = sn:train(t).loss
      if ctx:seen(a) then value = ctx.oracle.query(a) else value = ctx:query(a) end
    else
      value = ctx:query(a)
    end
    for e = 1, E do
      N[e][ops[e]] = N[e][ops[e]] + 1
      A[e][ops[e]] = value
      update(theta[e], N[e], A[e], o.alpha)
    end
    fields.value, fields.argmax, fields.entropy = value, tostring(argmax()), entropy(theta)
    ctx:emit("search.mdenas", fields)
  end

  local final = argmax()
  local fin = { arch = final, queried = false }
  if o.final and not ctx:seen(final) and not ctx:done() then
    fin.value = ctx:query(final)
  elseif sn or ctx.oracle.kind == "bench" then
    fin.value = ctx.oracle.query(final)
  end
  fin.queried = ctx:seen(final) ~= nil
  if fin.value == nil then fin.value = ctx:seen(final) end
  ctx.result = { theta = theta, ops = { table.unpack(OPS) }, final = fin, epochs = epoch }
end

return {
  doc = "MDENAS (Zheng et al. 2019): a distribution over each edge's ops, learnt from pairwise epoch/value comparisons",
  defaults = { alpha = 0.01, epochs = 0, final = true, train = {} },
  run = run,
  update = update,
  entropy = entropy,
}
