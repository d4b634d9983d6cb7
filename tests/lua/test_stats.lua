-- SPDX-License-Identifier: GPL-3.0-or-later
-- test_stats.lua - the Lua face of nl.stats: values against references
-- computed here in plain Lua, tensors as input, NaN for undefined values, and
-- the exact error messages.
local t = require "tap"
local nl = require "naslab"
local S = nl.stats

-- Reference tau by looking at every pair.
local function ref_kendall(x, y, variant)
  local c, d, tx, ty, p = 0, 0, 0, 0, 0
  for i = 1, #x do
    for j = i + 1, #x do
      local s = (x[i] - x[j]) * (y[i] - y[j])
      p = p + 1
      if s > 0 then c = c + 1 elseif s < 0 then d = d + 1 end
      if x[i] == x[j] then tx = tx + 1 end
      if y[i] == y[j] then ty = ty + 1 end
    end
  end
  if variant == "a" then return (c - d) / p end
  return (c - d) / math.sqrt((p - tx) * (p - ty))
end

local function ref_rank(x)
  local r = {}
  for i = 1, #x do
    local less, eq = 0, 0
    for j = 1, #x do
      if x[j] < x[i] then less = less + 1 elseif x[j] == x[i] then eq = eq + 1 end
    end
    r[i] = 1 + less + (eq - 1) / 2
  end
  return r
end

local function ref_pearson(x, y)
  local n, mx, my = #x, 0, 0
  for i = 1, n do mx, my = mx + x[i], my + y[i] end
  mx, my = mx / n, my / n
  local sxy, sxx, syy = 0, 0, 0
  for i = 1, n do
    sxy = sxy + (x[i] - mx) * (y[i] - my)
    sxx = sxx + (x[i] - mx) ^ 2
    syy = syy + (y[i] - my) ^ 2
  end
  return sxy / math.sqrt(sxx * syy)
end

-- Known values (scipy's documentation examples, checked by hand in test_stats.c).
t.near(S.kendall({ 12, 2, 1, 12, 2 }, { 1, 4, 7, 1, 0 }), -math.sqrt(2) / 3, 1e-15, "kendall textbook tau-b")
t.near(S.kendall({ 12, 2, 1, 12, 2 }, { 1, 4, 7, 1, 0 }, "a"), -0.4, 1e-15, "kendall textbook tau-a")
t.near(S.kendall({ 12, 2, 1, 12, 2 }, { 1, 4, 7, 1, 0 }, "b"), -math.sqrt(2) / 3, 1e-15, "variant 'b' is the default")
t.near(S.spearman({ 1, 2, 3, 4, 5 }, { 5, 6, 7, 8, 7 }), 0.8207826816681233, 1e-15, "spearman textbook")
t.near(S.pearson({ 1, 2, 3, 4, 5 }, { 10, 9, 2.5, 6, 4 }), -0.7426106572325057, 1e-15, "pearson textbook")
t.is(table.concat(S.rank({ 30, 10, 20, 10, 30, 30 }), ","), "5.0,1.5,3.0,1.5,5.0,5.0", "rank gives average ranks")
t.near(S.topk({ 9, 8, 7, 1, 0 }, { 5, 0, 4, 3, 1 }, 3), 2 / 3, 1e-15, "topk")
t.near(S.topk({ 9, 5, 5, 1 }, { 8, 7, 1, 0 }, 2), 0.75, 1e-15, "topk counts a boundary tie by expectation")
local g = (3 + 1 + 1 / math.log(5, 2)) / (3 + 2 / math.log(3, 2) + 0.5)
t.near(S.ndcg({ 4, 2, 3, 1 }, { 3, 2, 0, 1 }), g, 1e-15, "ndcg with k = #x by default")
t.near(S.ndcg({ 4, 2, 3, 1 }, { 3, 2, 0, 1 }, 2), 3 / (3 + 2 / math.log(3, 2)), 1e-15, "ndcg@2")

-- Random data with many ties against the references.
local rng = nl.rng(5)
local worst = { kb = 0, ka = 0, sp = 0, pe = 0 }
for _, n in ipairs { 2, 3, 5, 30, 200 } do
  for _, m in ipairs { 2, 5, 50 } do
    local x, y = {}, {}
    for i = 1, n do
      x[i] = rng:int(0, m - 1)
      y[i] = (x[i] + rng:int(0, m)) % m + 0.5
    end
    local rb = ref_kendall(x, y, "b")
    if rb == rb then
      worst.kb = math.max(worst.kb, math.abs(S.kendall(x, y) - rb))
      local rs = ref_pearson(ref_rank(x), ref_rank(y))
      worst.sp = math.max(worst.sp, math.abs(S.spearman(x, y) - rs))
      worst.pe = math.max(worst.pe, math.abs(S.pearson(x, y) - ref_pearson(x, y)))
    end
    worst.ka = math.max(worst.ka, math.abs(S.kendall(x, y, "a") - ref_kendall(x, y, "a")))
  end
end
t.ok(worst.kb <= 1e-12, "tau-b matches pair counting (worst " .. worst.kb .. ")")
t.ok(worst.ka <= 1e-12, "tau-a matches pair counting (worst " .. worst.ka .. ")")
t.ok(worst.sp <= 1e-12, "spearman = pearson of counted ranks (worst " .. worst.sp .. ")")
t.ok(worst.pe <= 1e-12, "pearson matches the formula (worst " .. worst.pe .. ")")

-- Tensors are accepted wherever lists are.
local tx, ty = nl.tensor { 12, 2, 1, 12, 2 }, nl.tensor { 1, 4, 7, 1, 0 }
t.near(S.kendall(tx, ty), -math.sqrt(2) / 3, 1e-15, "kendall of tensors")
t.near(S.kendall(tx, { 1, 4, 7, 1, 0 }), -math.sqrt(2) / 3, 1e-15, "a tensor and a list mix")
t.is(table.concat(S.rank(nl.tensor { 3, 1, 2 }), ","), "3.0,1.0,2.0", "rank of a tensor")

-- Undefined values are NaN, not errors.
local v = S.kendall({ 1, 1, 1 }, { 1, 2, 3 })
t.ok(v ~= v, "tau-b of a constant list is NaN")
t.is(S.kendall({ 1, 1, 1 }, { 1, 2, 3 }, "a"), 0.0, "tau-a of a constant list is 0")
v = S.spearman({ 2, 2 }, { 1, 2 })
t.ok(v ~= v, "spearman of a constant list is NaN")
v = S.ndcg({ 1, 2 }, { 0, 0 })
t.ok(v ~= v, "ndcg with all gains 0 is NaN")

-- Errors name the argument at fault.
local nan = 0 / 0
t.error_is(function() S.kendall({ 1, 2, 3, 4, 5 }, { 1, 2, 3, 4 }) end,
  "bad argument #2 to 'kendall' (y has 4 values but x has 5)", "length mismatch")
t.error_is(function() S.kendall({}, {}) end, "bad argument #1 to 'kendall' (x is empty)", "empty")
t.error_is(function() S.kendall({ 1 }, { 1 }) end,
  "bad argument #1 to 'kendall' (kendall needs at least 2 values, got 1)", "one value")
t.error_is(function() S.kendall({ 1, nan, 3 }, { 1, 2, 3 }) end, "bad argument #1 to 'kendall' (x[2] is NaN)", "NaN in x")
t.error_is(function() S.spearman({ 1, 2, 3 }, { 1, 2, nan }) end, "bad argument #2 to 'spearman' (y[3] is NaN)", "NaN in y")
t.error_is(function() S.kendall({ 1, 2 }, { 1, 2 }, "c") end, "bad argument #3 to 'kendall' (invalid option 'c')",
  "bad variant")
t.error_is(function() S.kendall({ 1, "a" }, { 1, 2 }) end,
  "bad argument #1 to 'kendall' (element 2 is a string, not a number)", "non-number element")
t.error_is(function() S.pearson(5, { 1 }) end, "bad argument #1 to 'pearson' (list of numbers expected, got number)",
  "not a list")
t.error_is(function() S.pearson({ 1, math.huge }, { 1, 2 }) end, "bad argument #1 to 'pearson' (x[2] is infinite)",
  "pearson refuses infinity")
t.error_is(function() S.rank({}) end, "bad argument #1 to 'rank' (x is empty)", "rank of nothing")
t.error_is(function() S.topk({ 1, 2, 3 }, { 1, 2, 3 }, 0) end, "bad argument #3 to 'topk' (k must be in 1..3, got 0)",
  "topk k = 0")
t.error_is(function() S.topk({ 1, 2, 3 }, { 1, 2, 3 }, 4) end, "bad argument #3 to 'topk' (k must be in 1..3, got 4)",
  "topk k > n")
t.error_is(function() S.topk({ 1, 2, 3 }, { 1, 2, 3 }) end,
  "bad argument #3 to 'topk' (number expected, got no value)", "topk needs k")
t.error_is(function() S.topk({ 1, 2, 3 }, { 1, 2, 3 }, 1.5) end,
  "bad argument #3 to 'topk' (number has no integer representation)", "topk k not an integer")
t.error_is(function() S.ndcg({ 1, 2 }, { 1, -1 }) end, "bad argument #2 to 'ndcg' (y[2] is negative)", "ndcg negative gain")
t.error_is(function() S.ndcg({ 1, 2 }, { 1, 2 }, 3) end, "bad argument #3 to 'ndcg' (k must be in 1..2, got 3)", "ndcg k")
t.error_is(function() S.ndcg({ 1, 2 }, { 1 }, 1) end, "bad argument #2 to 'ndcg' (y has 1 values but x has 2)",
  "ndcg length mismatch")
t.error_is(function() S.kendall(nl.tensor { { 1, 2 } }, { 1, 2 }) end,
  "bad argument #1 to 'kendall' (expected a 1-d tensor, got 2 dimensions)", "2-d tensor")
t.done()
