-- SPDX-License-Identifier: GPL-3.0-or-later
-- nl.predictor: the registry, argument errors with their exact messages, and
-- fit / predict / save / load on a synthetic target that a working predictor
-- must rank almost perfectly (the number of conv3x3 edges, then conv1x1).
local t = require "tap"

local kinds = {}
for i, k in ipairs(nl.predictors()) do kinds[i] = k.name end
t.is(table.concat(kinds, ","), "renas,mlp,gbdt,ensemble", "nl.predictors() lists the registry")
t.error_is(function() nl.predictor("xgb") end,
  "bad argument #1 to 'predictor' (unknown predictor 'xgb' (known: renas, mlp, gbdt, ensemble))", "unknown kind")
t.error_like(function() nl.predictor("mlp", { epoch = 3 }) end,
  "bad argument #2 to 'predictor' (unknown option 'epoch' (known: seed,", "unknown option", true)
local p0 = nl.predictor("mlp")
t.error_is(function() p0:predict({ "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|" }) end, "mlp: predict before fit",
  "predict before fit")

local sp = nl.space("nb201")
local rng = nl.rng(7)
local function target(a)
  local s, n3, n1 = tostring(a), 0, 0
  for _ in s:gmatch("nor_conv_3x3") do n3 = n3 + 1 end
  for _ in s:gmatch("nor_conv_1x1") do n1 = n1 + 1 end
  return n3 + 0.1 * n1
end
local tr, ys, te, yt = {}, {}, {}, {}
for i = 1, 200 do tr[i] = sp:sample(rng); ys[i] = target(tr[i]) end
for i = 1, 300 do te[i] = sp:sample(rng); yt[i] = target(te[i]) end

t.error_is(function() nl.predictor("mlp"):fit(tr, { 1, 2 }) end,
  "bad argument #2 to 'fit' (2 targets for 200 architectures)", "length mismatch")
local bad = {}
for i = 1, 200 do bad[i] = ys[i] end
bad[5] = 0 / 0
t.error_like(function() nl.predictor("mlp"):fit(tr, bad) end, "bad argument #2 to 'fit' (", "a NaN target", true)
t.error_like(function() nl.predictor("mlp"):fit({ sp:sample(rng), nl.space("mbv3"):sample(rng) }, { 1, 2 }) end,
  "bad argument #1 to 'fit' (archs[2] is an mbv3 arch, the predictor's space is nb201)", "mixed spaces", true)

for _, k in ipairs{ "renas", "mlp" } do
  local epochs = 0
  -- canonical = false: the target counts convs on dead edges too.
  local p = nl.predictor(k, { seed = 1, epochs = k == "renas" and 60 or 300, loss = k == "mlp" and "pairwise" or nil,
                              canonical = false,
                              progress = function(ev) epochs = ev.epoch end })
  t.ok(p:fit(tr, ys) == p, k .. ": fit returns the predictor")
  t.is(epochs, k == "renas" and 60 or 300, k .. ": progress once per epoch")
  local s = p:predict(te)
  local tau = nl.stats.kendall(s, yt)
  t.ok(tau > 0.9, string.format("%s ranks a synthetic target: tau %.3f on 300 unseen cells", k, tau))
  local path = os.tmpname()
  t.ok(p:save(path), k .. ": save")
  local q = nl.predictor(k, { space = "nb201" }):load(path)
  local s2 = q:predict(te)
  local same = true
  for i = 1, #s do same = same and s[i] == s2[i] end
  t.ok(same, k .. ": a loaded predictor predicts the same, bit for bit")
  os.remove(path)
end

-- canonical: equivalent cells (a conv on a dead edge, nodes 1 and 2 swapped)
-- get one score when it is on (renas's default), and it survives save/load.
local eq = { "|nor_conv_3x3~0|+|none~0|none~1|+|none~0|nor_conv_3x3~1|none~2|",
             "|nor_conv_3x3~0|+|nor_conv_1x1~0|none~1|+|none~0|nor_conv_3x3~1|none~2|",
             "|none~0|+|nor_conv_3x3~0|none~1|+|none~0|none~1|nor_conv_3x3~2|" }
t.is(tostring(sp:parse(eq[1]):canonical()), eq[3], "the three cells are equivalent (node swap)")
t.is(tostring(sp:parse(eq[2]):canonical()), eq[3], "(dead edge)")
t.error_is(function() nl.predictor("renas", { canonical = 1 }) end,
  "bad argument #2 to 'predictor' (canonical must be a boolean, got number)", "canonical must be a boolean")
local function scores(p) local s = p:predict(eq) return s[1], s[2], s[3] end
local pc = nl.predictor("renas", { seed = 2, epochs = 5 }):fit(tr, ys)
local c1, c2, c3 = scores(pc)
t.ok(c1 == c2 and c1 == c3, "renas (canonical by default): equivalent cells score the same")
local pr = nl.predictor("renas", { seed = 2, epochs = 5, canonical = false }):fit(tr, ys)
local r1, r2, r3 = scores(pr)
t.ok(r1 ~= r2 and r1 ~= r3, "canonical = false: the cells as written score differently")
local cpath = os.tmpname()
pc:save(cpath)
local l1, l2, l3 = scores(nl.predictor("renas", { space = "nb201", canonical = false }):load(cpath))
t.ok(l1 == c1 and l2 == c2 and l3 == c3, "a loaded predictor keeps the file's canonical setting")
os.remove(cpath)
local m1, m2 = scores(nl.predictor("mlp", { seed = 2, epochs = 20, canonical = true }):fit(tr, ys))
t.ok(m1 == m2, "mlp takes the option too")

-- gbdt and ensemble: options, errors, fit / predict / save / load.
local function perr(opts, msg, name)
  t.error_is(function() nl.predictor("gbdt", opts) end, "bad argument #2 to 'predictor' (" .. msg .. ")", name)
end
perr({ trees = 0 }, "trees must be an integer in 1..100000, got 0", "gbdt: trees 0")
perr({ depth = 17 }, "depth must be an integer in 1..16, got 17", "gbdt: depth 17")
perr({ min_leaf = 0 }, "min_leaf must be an integer in 1..1073741824, got 0", "gbdt: min_leaf 0")
perr({ subsample = 0 }, "subsample must be a number in (0, 1], got 0", "gbdt: subsample 0")
perr({ subsample = "all" }, "subsample must be a number in (0, 1], got 'all'", "gbdt: subsample not a number")
perr({ members = "gbdt" }, "members must be a list of predictor names", "members not a list")
perr({ members = {} }, "members must list 1..8 predictor names, got 0", "members empty")
perr({ members = { "gbdt", 3 } }, "members[2] must be a predictor name, got 3", "members[2] not a name")
perr({ members = { "xgb" } }, "members[1]: unknown predictor 'xgb' (known: renas, mlp, gbdt, ensemble)",
  "members: unknown kind")
perr({ tree = 3 }, "unknown option 'tree' (known: seed, threads, encoding, loss, epochs, batch, lr, weight_decay, "
  .. "hidden, layers, trees, depth, min_leaf, subsample, members, canonical, space, progress)", "gbdt: unknown option")
t.error_is(function() nl.predictor("ensemble", { members = { "gbdt", "gbdt" } }):fit(tr, ys) end,
  "ensemble: members[2]: 'gbdt' is listed twice", "ensemble: a member twice")
t.error_is(function() nl.predictor("gbdt", { lr = 0 }):fit(tr, ys) end, "gbdt: lr must be finite and > 0 (got 0)",
  "gbdt: lr 0 (checked in C)")
t.error_is(function() nl.predictor("gbdt"):fit(tr, { 1, 2 }) end,
  "bad argument #2 to 'fit' (2 targets for 200 architectures)", "gbdt: length mismatch")
t.error_is(function() nl.predictor("gbdt"):fit({}, {}) end, "bad argument #1 to 'fit' (no architectures)",
  "gbdt: empty set")
t.error_is(function() nl.predictor("gbdt"):fit({ tr[1] }, { 1 }) end,
  "bad argument #2 to 'fit' (gbdt: fit needs at least 2 architectures (got 1))", "gbdt: one architecture")
t.error_is(function() nl.predictor("ensemble", { members = { "gbdt" } }):fit(tr, bad) end,
  "bad argument #2 to 'fit' (ys[5] is NaN)", "ensemble: a NaN target")

-- The target is additive over the edges: depth-2 trees and a linear mlp hold it.
for _, spec in ipairs{ { "gbdt", { depth = 2 } }, { "gbdt", { depth = 2, loss = "pairwise" } },
                       { "ensemble", { members = { "gbdt", "mlp" }, depth = 2, layers = 0, lr = 0.05 } } } do
  local k, o = spec[1], spec[2]
  local name = k .. (o.loss and " " .. o.loss or "")
  local events, last = 0, nil
  o.seed = 3
  o.progress = function(ev) events = events + 1; last = ev end
  local p = nl.predictor(k, o)
  t.ok(p:fit(tr, ys) == p, name .. ": fit returns the predictor")
  if k == "gbdt" then
    t.ok(events == 50 and last.epoch == 500 and last.epochs == 500, name .. ": progress every 10 trees")
  else
    t.ok(last.member == "mlp" and last.epoch == 300, name .. ": progress events name the member")
  end
  local s = p:predict(te)
  local tau = nl.stats.kendall(s, yt)
  t.ok(tau > 0.9, string.format("%s ranks a synthetic target: tau %.3f on 300 unseen cells", name, tau))
  local path = os.tmpname()
  t.ok(p:save(path), name .. ": save")
  local q = nl.predictor(k, { space = "nb201", depth = 2, layers = 0 }):load(path)
  local s2 = q:predict(te)
  local same = true
  for i = 1, #s do same = same and s[i] == s2[i] end
  t.ok(same, name .. ": a loaded predictor predicts the same, bit for bit")
  os.remove(path)
end
-- The default members (renas, mlp, gbdt), briefly trained: one file holds all three.
local pe = nl.predictor("ensemble", { seed = 4, epochs = 2, trees = 10 }):fit(tr, ys)
local epath = os.tmpname()
t.ok(pe:save(epath), "ensemble of renas, mlp, gbdt: save")
local se, se2 = pe:predict(te), nl.predictor("ensemble", { space = "nb201", trees = 10 }):load(epath):predict(te)
local same = #se == #se2
for i = 1, #se do same = same and se[i] == se2[i] end
t.ok(same, "ensemble of renas, mlp, gbdt: a loaded ensemble predicts the same, bit for bit")
os.remove(epath)
local missing = os.tmpname()
os.remove(missing)
local ok_, msg = nl.predictor("gbdt", { space = "nb201" }):load(missing)
t.ok(ok_ == nil and msg == "gbdt: checkpoint " .. missing .. ": cannot open: No such file or directory",
  "gbdt: a missing file returns nil, message")
-- Scoring a whole space: with canonical forms (renas's default) each class
-- of equivalent cells is scored once, and every member gets that score; a
-- cell scored on its own (no classes) agrees to float rounding.
do
  local all = {}
  for a in sp:iter() do all[#all + 1] = a end
  local r = nl.rng(11)
  local xs, yv = {}, {}
  for i = 1, 60 do xs[i] = all[r:int(#all)]; yv[i] = xs[i]:params() / 1e6 end
  local p = nl.predictor("renas", { seed = 2, epochs = 3 }):fit(xs, yv)
  local s = p:predict(all)
  local class, split, classes = {}, 0, 0
  for i, a in ipairs(all) do
    local k = tostring(a:canonical())
    if class[k] == nil then class[k] = s[i]; classes = classes + 1
    elseif class[k] ~= s[i] then split = split + 1 end
  end
  t.ok(classes == 8765 and split == 0, string.format("renas on all 15,625 cells: one score per class (%d classes, %d split)",
       classes, split))
  local worst = 0
  for i = 1, #all, 251 do
    local one = p:predict({ all[i] })[1]
    worst = math.max(worst, math.abs(one - s[i]) / math.max(1e-6, math.abs(s[i])))
  end
  t.ok(worst < 1e-4, string.format("each class's score is the cell's own, to float rounding (worst relative %.1e)", worst))
end
t.done()
