-- SPDX-License-Identifier: GPL-3.0-or-later
-- nl.predictor: the registry, argument errors with their exact messages, and
-- fit / predict / save / load on a synthetic target that a working predictor
-- must rank almost perfectly (the number of conv3x3 edges, then conv1x1).
local t = require "tap"

local kinds = {}
for i, k in ipairs(nl.predictors()) do kinds[i] = k.name end
t.is(table.concat(kinds, ","), "renas,mlp", "nl.predictors() lists the registry")
t.error_is(function() nl.predictor("xgb") end,
  "bad argument #1 to 'predictor' (unknown predictor 'xgb' (known: renas, mlp))", "unknown kind")
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
  local p = nl.predictor(k, { seed = 1, epochs = k == "renas" and 60 or 300, loss = k == "mlp" and "pairwise" or nil,
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
t.done()
