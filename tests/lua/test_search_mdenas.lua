-- SPDX-License-Identifier: GPL-3.0-or-later
-- The mdenas search recipe: its update rule against hand-worked examples,
-- option errors, the distribution on synthetic oracles (the best op of an
-- edge whose comparisons carry no noise wins on every seed; with all six
-- edges mattering it beats chance), determinism by seed, the budget, the
-- final cell and the events; on the embedded 1,000-cell benchmark sampling
-- stays inside it. With Fashion-MNIST installed: sn:train{arch = ...}
-- trains exactly that cell's path (read back from the saved checkpoints),
-- and a short MDENAS run on a supernet oracle.
local t = require "tap"
local M = require "naslab.search.mdenas"
nl.search.register("mdenas", M)

local OPS = { "none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3" }
local OPI = {}
for k, n in ipairs(OPS) do OPI[n] = k end
local function ops(a)
  local r = {}
  for name in tostring(a):gmatch("|([%w_]+)~%d") do r[#r + 1] = OPI[name] end
  return r
end
local function close(x, y) return math.abs(x - y) < 1e-12 end
local function same_list(x, y)
  if #x ~= #y then return false end
  for i = 1, #x do if not close(x[i], y[i]) then return false end end
  return true
end

-- The update rule ------------------------------------------------------------
-- Pairs (1,2), (1,3), (2,3), alpha 0.01. (1,2): N1 3 >= N2 1 and A1 70 < A2 90,
-- so 0.01 goes from op 1 to op 2: 0.59, 0.405. (1,3): A1 70 > A3 60 but N1 3 >
-- N3 2: no move. (2,3): N2 1 <= N3 2 and A2 90 > A3 60, so op 2 takes from op
-- 3, which holds 0.005 <= alpha: all of it, 0.41 and 0.
local th = M.update({ 0.6, 0.395, 0.005 }, { 3, 1, 2 }, { 70, 90, 60 }, 0.01)
t.ok(same_list(th, { 0.59, 0.41, 0 }), "update: a move of alpha, no move, and theta_3 <= alpha moved whole: "
  .. table.concat(th, " "))
-- Equal counts: the lower value gives (N1 = N2 satisfies both tests, only
-- one value order holds); an op never sampled (A = -inf) neither gives nor
-- takes.
th = M.update({ 1 / 3, 1 / 3, 1 / 3 }, { 1, 1, 0 }, { 50, 60, -math.huge }, 0.01)
t.ok(same_list(th, { 1 / 3 - 0.01, 1 / 3 + 0.01, 1 / 3 }), "update: equal counts, the lower value gives alpha")
-- The move is sequential: (1,2) empties op 1 (0.004 <= alpha) into op 2, so
-- (1,3) finds theta_1 = 0 and moves that 0; (2,3): equal counts, A2 20 < A3
-- 30, op 2 gives 0.01: 0, 0.494, 0.506.
th = M.update({ 0.004, 0.5, 0.496 }, { 5, 1, 1 }, { 10, 20, 30 }, 0.01)
t.ok(same_list(th, { 0, 0.494, 0.506 }), "update: pairs in order, each sees the moves before it")
-- Five ops, alpha 0.05: op 1, trained less and scoring higher, takes alpha
-- from ops 2 and 3 (paper form: +2 alpha); (2,3): equal counts, op 2 lower,
-- gives alpha to op 3; ops 4 and 5 never sampled: untouched.
th = M.update({ 0.2, 0.2, 0.2, 0.2, 0.2 }, { 1, 4, 4, 0, 0 }, { 95, 80, 85, -math.huge, -math.huge }, 0.05)
t.ok(same_list(th, { 0.3, 0.1, 0.2, 0.2, 0.2 }), "update: five ops: " .. table.concat(th, " "))
t.near(M.entropy({ { 0.2, 0.2, 0.2, 0.2, 0.2 }, { 1, 0, 0, 0, 0 } }), math.log(5), 1e-12,
  "entropy: ln 5 for a uniform edge, 0 for a certain one")

-- Options ----------------------------------------------------------------------
local sp = nl.space("nb201")
local best = { 4, 3, 5, 4, 2, 3 }
local function matches(a)
  local m = 0
  for e, k in ipairs(ops(a)) do if k == best[e] then m = m + 1 end end
  return m
end
local fm = nl.search.oracle.fn(sp, matches, "matches")
t.error_is(function() nl.search.run("mdenas", { oracle = fm, alpha = 1.5 }) end,
  "mdenas: alpha must be in (0, 1), got 1.5", "alpha out of range")
t.error_is(function() nl.search.run("mdenas", { oracle = fm, epochs = -1 }) end,
  "mdenas: epochs must be an integer >= 0, got -1", "negative epochs")
t.error_is(function() nl.search.run("mdenas", { oracle = fm, seconds = 10 }) end,
  "mdenas: with a seconds budget only, give epochs (the number of epochs to run)", "seconds budget without epochs")
t.error_like(function() nl.search.run("mdenas", { oracle = fm, train = 3 }) end,
  "option 'train' of mdenas must be a table, got number", "train must be a table", true)
t.error_is(function() nl.search.run("mdenas", { oracle = fm, train = { lr = 0.1 } }) end,
  "mdenas: train is for a supernet oracle (this one is fn)", "train without a supernet")

-- One edge matters, without noise: its best op wins on every seed ------------
local w = { 0.3, 0.1, 0.5, 0.9, 0.2 } -- edge 1's ops; nor_conv_3x3 best, skip worst
local edge1 = nl.search.oracle.fn(sp, function(a) return w[ops(a)[1]] end, "edge1")
local won, lost, conserved = 0, 0, true
for seed = 1, 10 do
  local r = nl.search.run("mdenas", { oracle = edge1, budget = 200, seed = seed })
  if ops(r.final.arch)[1] == 4 then won = won + 1 end
  local th1 = r.theta[1]
  if th1[2] < math.max(th1[1], th1[3], th1[4], th1[5]) then lost = lost + 1 end
  for e = 1, 6 do
    local s = 0
    for k = 1, 5 do
      s = s + r.theta[e][k]
      if r.theta[e][k] < 0 then conserved = false end
    end
    if math.abs(s - 1) > 1e-9 then conserved = false end
  end
end
t.is(won, 10, "edge 1's best op is the argmax on 10 of 10 seeds")
t.is(lost, 10, "and its worst op is not (10 of 10)")
t.ok(conserved, "theta stays a distribution on every edge (>= 0, sums to 1)")

-- Six edges matter: every cell's value counts its edges holding the best op.
-- Each edge's comparisons then carry the other edges' noise, and the rule
-- only settles on an order (ops sampled more score higher), so not every
-- edge ends right; it must still beat the one in five of chance clearly.
local right, full = 0, 0
for seed = 1, 10 do
  local r = nl.search.run("mdenas", { oracle = fm, budget = 3000, seed = seed, alpha = 0.02 })
  local m = matches(r.final.arch)
  right = right + m
  if m == 6 then full = full + 1 end
end
t.ok(right / 60 >= 0.5, string.format("six noisy edges: %.0f%% of the edges end on their best op (chance 20%%), "
  .. "%d of 10 runs on the whole best cell", 100 * right / 60, full))

-- Determinism, the budget, the final cell, the events -----------------------
local tmp = os.getenv("TMPDIR") or "/tmp"
local dir = string.format("%s/naslab-mdenas-%d-%d", tmp, os.time(), math.random(1 << 30))
local r1 = nl.search.run("mdenas", { oracle = fm, budget = 60, seed = 5, dir = dir })
local r2 = nl.search.run("mdenas", { oracle = fm, budget = 60, seed = 5 })
local r3 = nl.search.run("mdenas", { oracle = fm, budget = 60, seed = 6 })
local same = #r1.history == #r2.history
for i, h in ipairs(r1.history) do
  if tostring(h.arch) ~= tostring(r2.history[i].arch) then same = false end
end
for e = 1, 6 do if not same_list(r1.theta[e], r2.theta[e]) then same = false end end
t.ok(same, "the same seed gives the same queries and theta")
local differ = false
for i, h in ipairs(r1.history) do
  if not r3.history[i] or tostring(h.arch) ~= tostring(r3.history[i].arch) then differ = true end
end
t.ok(differ, "another seed, other queries")
t.ok(r1.queries <= 60 and r1.epochs <= 60 and r1.epochs >= r1.queries - 1,
  string.format("the budget holds: %d queries, %d epochs", r1.queries, r1.epochs))
t.is(r1.final.value, matches(r1.final.arch), "final.value is the oracle's value of the final cell")
t.ok(r1.final.queried and r1.best.value >= r1.final.value, "final = true: the final cell was queried, best >= it")
local events, last = 0, nil
nl.run.replay(dir, function(ev) if ev.name == "search.mdenas" then events = events + 1; last = ev end end)
t.is(events, r1.epochs, "one search.mdenas event per epoch")
t.ok(last and last.epoch == r1.epochs and type(last.entropy) == "number" and last.entropy < 6 * math.log(5)
  and sp:parse(last.argmax) ~= nil, "the last event: its epoch, the entropy of theta, the argmax cell")
os.remove(dir .. "/queries.tsv")
os.remove(dir .. "/events.jsonl")
os.remove(dir)
local nf = nl.search.run("mdenas", { oracle = fm, budget = 40, seed = 5, final = false })
t.ok(nf.epochs == 40 or nf.queries == 40, "final = false: the whole budget goes to epochs")
t.is(nf.final.value, nil, "and an oracle.fn's value of an unqueried final cell is not computed")
local ep = nl.search.run("mdenas", { oracle = fm, budget = 1000, seed = 5, epochs = 25 })
t.is(ep.epochs, 25, "epochs bounds the run below the budget")

-- The embedded benchmark answers 1,000 cells: MDENAS samples among them -------
local b = assert(nl.bench.load())
local ob = nl.search.oracle.bench(b, "test_acc")
local rb = nl.search.run("mdenas", { oracle = ob, budget = 50, seed = 1, final = false })
t.ok(rb.queries > 0 and ob.contains(rb.final.arch), "embedded benchmark: the final cell is one of its cells")
t.is(rb.final.value, b:query(rb.final.arch, "test_acc"), "and its value is looked up in the table")

-- sn:train{arch = ...} and a supernet oracle (Fashion-MNIST) -----------------
local fmdir = nl.data.fashion_mnist_dir()
local f = io.open(fmdir .. "/train-labels-idx1-ubyte.gz", "rb")
if not f then
  t.diag("skipping the supernet: " .. fmdir .. " has no Fashion-MNIST")
  t.done()
end
f:close()
local tr, va = assert(nl.data.fashion_mnist{ split = "train", limit = 384, valid = 128, seed = 0, pad = 2,
                                             normalize = true })
tr, va = tr:downsample(2), va:downsample(2)

-- The params of a checkpoint (checkpoint.h's format), name -> raw bytes.
local function params_of(path)
  local fh = assert(io.open(path, "rb"))
  local s = fh:read("a")
  fh:close()
  assert(s:sub(1, 8) == "NLCKPT\0\0", "not a checkpoint")
  local _, count, pos = string.unpack("<I4I4", s, 9)
  local out = {}
  for _ = 1, count do
    local typ, nlen
    typ, nlen, pos = string.unpack("<I4I4", s, pos)
    local name = s:sub(pos, pos + nlen - 1)
    local plen
    plen, pos = string.unpack("<I8", s, pos + nlen)
    if typ == 1 then out[name] = s:sub(pos, pos + plen - 1) end
    pos = pos + plen + 4
  end
  return out
end

-- No dead edge: an op whose output reaches nothing gets no gradient, and only
-- weight decay would move its conv weights.
local CELL = "|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"
local ck0, ck1, ck2 = dir .. "-0.ckpt", dir .. "-1.ckpt", dir .. "-2.ckpt"
local sn = nl.supernet{ data = tr, C = 4, N = 1, seed = 3, threads = 1 }
assert(sn:save(ck0))
local nb101 = nl.space("nb101"):spec({ { 0, 1 }, { 0, 0 } }, { "input", "output" })
t.error_is(function() sn:train{ data = tr, arch = nb101 } end,
  "bad argument #1 to 'train' (arch must be an nb201 cell, got an nb101 arch)", "sn:train: an nb101 arch is refused")
t.error_like(function() sn:train{ data = tr, arch = "|conv~0|" } end,
  "bad argument #1 to 'train' (arch: bad nb201 cell", "sn:train: a bad cell string is refused", true)
sn:train{ data = tr, arch = CELL, epochs = 1, seed = 4 }
assert(sn:save(ck1))
local p0, p1 = params_of(ck0), params_of(ck1)
-- edge e (0..5) of CELL: conv3x3, conv1x1, -, -, conv3x3, conv1x1
local want = { [0] = "3x3", [1] = "1x1", [4] = "3x3", [5] = "1x1" }
local bad_moves, n_conv, shared_moved = {}, 0, p0["stem.w"] ~= p1["stem.w"] and p0["head.fc.w"] ~= p1["head.fc.w"]
for name, v in pairs(p0) do
  local e, k = name:match("^cell%d+%.e(%d)%.conv(%dx%d)%.")
  if e then
    n_conv = n_conv + 1
    local on = want[tonumber(e)] == k
    if (v ~= p1[name]) ~= on then bad_moves[#bad_moves + 1] = name end
  end
end
table.sort(bad_moves)
t.ok(n_conv > 0 and #bad_moves == 0, string.format("sn:train{arch}: of %d conv tensors, exactly the cell's moved%s",
  n_conv, #bad_moves > 0 and (" (wrong: " .. table.concat(bad_moves, ", ") .. ")") or ""))
t.ok(shared_moved, "and the shared stem and head moved")
local sn2 = nl.supernet{ data = tr, C = 4, N = 1, seed = 3, threads = 1 }
sn2:train{ data = tr, arch = sp:parse(CELL), epochs = 1, seed = 4 }
assert(sn2:save(ck2))
local p2, eq = params_of(ck2), true
for name, v in pairs(p1) do if p2[name] ~= v then eq = false end end
t.ok(eq, "a naslab.Arch and its string train the same bits")
os.remove(ck0)
os.remove(ck1)
os.remove(ck2)
sn2:close()

-- budget 4: three epochs, and the last query kept for the final cell
local function super_run(seed)
  local s = nl.supernet{ data = tr, C = 4, N = 1, seed = 1, threads = 1 }
  local o = nl.search.oracle.supernet(s, { data = va, calib = tr, calib_batches = 2, batch = 64 })
  local r = nl.search.run("mdenas", { oracle = o, budget = 4, seed = seed, train = { data = tr, batch = 64 } })
  s:close()
  return r
end
t.error_is(function()
  nl.search.run("mdenas", { oracle = nl.search.oracle.supernet(sn, { data = va }), budget = 2 })
end, "mdenas: a supernet oracle needs train = { data = <training set>, ... }", "a supernet oracle needs train.data")
t.error_is(function()
  nl.search.run("mdenas", { oracle = nl.search.oracle.supernet(sn, { data = va }), budget = 2,
                            train = { data = tr, epochs = 2 } })
end, "mdenas: train.epochs is set by the recipe", "train.epochs is the recipe's")
sn:close()
local s1, s2 = super_run(7), super_run(7)
t.ok(s1.epochs == 3 and s1.queries >= 3 and s1.queries <= 4 and s1.final.queried and type(s1.final.value) == "number"
  and s1.final.value >= 0 and s1.final.value <= 100,
  string.format("supernet oracle: %d epochs, %d queries, final %s at %.1f%%", s1.epochs,
  s1.queries, tostring(s1.final.arch), s1.final.value or -1))
local sameq = #s1.history == #s2.history
for i, h in ipairs(s1.history) do
  if not s2.history[i] or tostring(h.arch) ~= tostring(s2.history[i].arch) or h.value ~= s2.history[i].value then
    sameq = false
  end
end
t.ok(sameq and s1.final.value == s2.final.value, "supernet oracle: the same seed gives the same bits")
t.done()
