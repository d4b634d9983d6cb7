-- SPDX-License-Identifier: GPL-3.0-or-later
-- test_pareto.lua - the nl.pareto table: front, ranks, crowding and
-- hypervolume on tables of rows and on tensors, senses, and exact error messages.
local t = require "tap"
local P = nl.pareto

local function same(a, b)
  if #a ~= #b then return false end
  for i = 1, #a do if a[i] ~= b[i] then return false end end
  return true
end

-- front
local pts = { { 1, 5 }, { 2, 3 }, { 3, 4 }, { 4, 1 } }
local idx, rows = P.front(pts)
t.ok(same(idx, { 1, 2, 4 }), "front: indices of the non-dominated points, minimising")
t.ok(#rows == 3 and rows[1] == pts[1] and rows[2] == pts[2] and rows[3] == pts[4],
  "front: second result holds the very row tables")
t.ok(same((P.front(pts, "max")), { 1, 3, 4 }), "front: \"max\" applies to every objective")
local nas = { { 0.90, 300 }, { 0.85, 200 }, { 0.80, 250 }, { 0.95, 500 }, { 0.70, 100 } }
t.ok(same((P.front(nas, { "max", "min" })), { 1, 2, 4, 5 }), "front: accuracy maximised, flops minimised")
t.ok(same((P.front(nas)), { 5 }), "front: default minimises accuracy too")
t.ok(same((P.front({ { 1, 1 }, { 1, 1 }, { 2, 0 }, { 2, 1 } })), { 1, 2, 3 }),
  "front: equal points do not dominate each other")
local e1, e2 = P.front({})
t.ok(#e1 == 0 and #e2 == 0, "front of no points is empty")
t.ok(same((P.front({ { 3 }, { 1 }, { 2 }, { 1 } })), { 2, 4 }), "front in one objective: the minima")

-- ranks
local r, nf = P.ranks({ { 1, 5 }, { 2, 3 }, { 3, 4 }, { 4, 1 }, { 5, 5 }, { 2, 3 } })
t.ok(same(r, { 1, 1, 2, 1, 3, 1 }), "ranks: 1-based front numbers")
t.is(nf, 3, "ranks: second result is the number of fronts")
local r0, nf0 = P.ranks({})
t.ok(#r0 == 0 and nf0 == 0, "ranks of no points")

-- ranks against an independent O(n^2) peeling in Lua, 3 and 4 objectives, with ties
local function dominates(a, b, sense)
  local strict = false
  for j = 1, #a do
    local x, y = a[j], b[j]
    if sense[j] == "max" then x, y = -x, -y end
    if x > y then return false end
    if x < y then strict = true end
  end
  return strict
end
local function peel(ps, sense)
  local rank, left, f = {}, #ps, 0
  while left > 0 do
    f = f + 1
    local cur = {}
    for i = 1, #ps do
      if not rank[i] then
        local dom = false
        for j = 1, #ps do
          if j ~= i and (not rank[j] or rank[j] == f) and dominates(ps[j], ps[i], sense) then dom = true break end
        end
        if not dom then cur[#cur + 1] = i end
      end
    end
    for _, i in ipairs(cur) do rank[i] = f end
    left = left - #cur
  end
  return rank, f
end
local rng = nl.rng(5)
for m = 2, 5 do
  local ps, sense = {}, {}
  for j = 1, m do sense[j] = (j % 2 == 0) and "max" or "min" end
  for i = 1, 250 do
    local row = {}
    for j = 1, m do row[j] = math.floor(rng:uniform() * 5) end
    ps[i] = row
  end
  local want, wf = peel(ps, sense)
  local got, gf = P.ranks(ps, sense)
  t.ok(same(got, want) and gf == wf, ("ranks in %d objectives match a brute-force peeling (%d fronts)"):format(m, wf))
end

-- crowding: fronts {A,B,C,D} and {E,F}, G alone (see test_pareto.c)
local cd = P.crowding({ { 1, 5 }, { 4, 2 }, { 6, 6 }, { 2, 3 }, { 5, 1 }, { 7, 5 }, { 9, 9 } })
t.ok(cd[1] == math.huge and cd[5] == math.huge, "crowding: boundary points are math.huge")
t.near(cd[4], 1.5, 1e-15, "crowding: B")
t.near(cd[2], 1.25, 1e-15, "crowding: C")
t.ok(cd[3] == math.huge and cd[6] == math.huge and cd[7] == math.huge, "crowding: fronts of 1-2 points")
local cm = P.crowding({ { 0.9, 3 }, { 0.8, 2 }, { 0.7, 1 }, { 0.6, 0.5 }, { 0.6, 2 } }, { "max", "min" })
t.near(cm[2], (0.9 - 0.7) / 0.3 + (3 - 1) / 2.5, 1e-12, "crowding with senses: per-front (front 1 of 4 points)")
t.ok(cm[5] == math.huge, "crowding with senses: the dominated point is alone in front 2")

-- hypervolume
t.near(P.hypervolume({ { 1, 3 }, { 2, 2 }, { 3, 1 } }, { 4, 4 }), 6, 1e-12, "hypervolume 2-d staircase")
t.near(P.hypervolume({ { 1, 3 }, { 2, 2 }, { 3, 1 }, { 3, 3 }, { 5, 0 }, { 4, 1 } }, { 4, 4 }), 6, 1e-12,
  "hypervolume ignores dominated points and points not better than the reference")
t.near(P.hypervolume({ { 0.9, 3 }, { 0.8, 2 }, { 0.7, 1 } }, { 0.5, 4 }, { "max", "min" }), 0.9, 1e-12,
  "hypervolume with accuracy maximised")
t.near(P.hypervolume({ { 0, 0, 1 }, { 1, 1, 0 } }, { 2, 2, 2 }), 5, 1e-12, "hypervolume 3-d")
t.near(P.hypervolume({ { 1, 1, 1, 1 }, { 0, 2, 2, 2 } }, { 3, 3, 3, 3 }, "min"), 16 + 3 - 2, 1e-12,
  "hypervolume 4-d: 16 + 3 - overlap 2")
t.is(P.hypervolume({}, { 1, 1 }), 0, "hypervolume of no points is 0")
t.is(P.hypervolume({ { 2, 2 } }, { 1, 1 }), 0, "hypervolume of points beyond the reference is 0")

-- tensors
local T = nl.tensor({ { 1, 5 }, { 2, 3 }, { 3, 4 }, { 4, 1 } })
local ti, trows = P.front(T)
t.ok(same(ti, { 1, 2, 4 }), "front of a 2-d tensor")
t.ok(same(trows[2], { 2, 3 }), "front of a tensor returns new row tables")
local TT = nl.tensor({ { 1, 2, 3, 4 }, { 5, 3, 4, 1 } }):t()
t.ok(same((P.ranks(TT)), { 1, 1, 2, 1 }), "ranks of a transposed (strided) tensor")
t.near(P.hypervolume(nl.tensor({ { 1, 3 }, { 2, 2 }, { 3, 1 } }), { 4, 4 }), 6, 1e-6, "hypervolume of a tensor")

-- errors (each call kept out of tail position so the message can name the function)
t.error_is(function() local r = P.front(5) return r end,
  "bad argument #1 to 'front' (table of rows or 2-d tensor expected, got number)", "points must be a table")
t.error_is(function() local r = P.front({ { 1, 2, 3 }, { 1, 2, 3 }, { 1, 2 } }) return r end,
  "bad argument #1 to 'front' (row 3 has 2 values, row 1 has 3)", "rows of different lengths")
t.error_is(function() local r = P.ranks({ { 1, 2 }, 7 }) return r end,
  "bad argument #1 to 'ranks' (row 2 is a number, not a table)", "a row that is not a table")
t.error_is(function() local r = P.ranks({ { 1, "x" } }) return r end,
  "bad argument #1 to 'ranks' (row 1 value 2 is a string, not a number)", "a value that is not a number")
t.error_is(function() local r = P.front({ { 1, 2 }, { 0 / 0, 1 } }) return r end,
  "bad argument #1 to 'front' (row 2 value 1 is NaN)", "NaN")
t.error_is(function() local r = P.front({ {} }) return r end,
  "bad argument #1 to 'front' (row 1 has no values)", "empty rows")
t.error_is(function() local r = P.hypervolume({ { 1, math.huge } }, { 2, 2 }) return r end,
  "bad argument #1 to 'hypervolume' (row 1 value 2 is infinite)", "hypervolume needs finite values")
t.error_is(function() local r = P.crowding({ { 1, -math.huge } }) return r end,
  "bad argument #1 to 'crowding' (row 1 value 2 is infinite)", "crowding needs finite values")
t.error_is(function() local r = P.front(pts, "up") return r end,
  "bad argument #2 to 'front' (sense must be \"min\" or \"max\", got \"up\")", "bad sense string")
t.error_is(function() local r = P.front(pts, { "max", "min", "min" }) return r end,
  "bad argument #2 to 'front' (sense has 3 entries, points have 2 objectives)", "sense of the wrong length")
t.error_is(function() local r = P.ranks(pts, { "max", 3 }) return r end,
  "bad argument #2 to 'ranks' (sense[2] must be \"min\" or \"max\", got a number)", "sense entry not a string")
t.error_is(function() local r = P.ranks(pts, { "max", "maximise" }) return r end,
  "bad argument #2 to 'ranks' (sense[2] must be \"min\" or \"max\", got \"maximise\")", "sense entry misspelt")
t.error_is(function() local r = P.front(pts, true) return r end,
  "bad argument #2 to 'front' (nil, \"min\", \"max\" or table of them expected, got boolean)", "sense of a bad type")
t.error_is(function() local r = P.hypervolume(pts, { 5, 5, 5 }) return r end,
  "bad argument #2 to 'hypervolume' (reference point has 3 values, points have 2 objectives)",
  "reference of the wrong length")
t.error_is(function() local r = P.hypervolume(pts, { 5, "x" }) return r end,
  "bad argument #2 to 'hypervolume' (element 2 is a string, not a number)", "reference value not a number")
t.error_is(function() local r = P.hypervolume(pts, { 5, 0 / 0 }) return r end,
  "bad argument #2 to 'hypervolume' (reference value 2 is not finite)", "reference value NaN")
t.error_is(function() local r = P.hypervolume({}, {}) return r end,
  "bad argument #2 to 'hypervolume' (reference point is empty)", "empty reference")
t.error_is(function() local r = P.hypervolume(pts, { 5, 5 }, "best") return r end,
  "bad argument #3 to 'hypervolume' (sense must be \"min\" or \"max\", got \"best\")", "hypervolume sense is argument 3")
t.error_is(function() local r = P.front(nl.tensor({ 1, 2, 3 })) return r end,
  "bad argument #1 to 'front' (expected a 2-d tensor, got 1 dimensions)", "1-d tensor")

t.done()
