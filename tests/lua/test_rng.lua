-- SPDX-License-Identifier: GPL-3.0-or-later
-- nl.rng: determinism, ranges, argument errors.
local t = require "tap"

local a, b = nl.rng(7), nl.rng(7)
local same = true
for _ = 1, 100 do same = same and a:uniform() == b:uniform() end
t.ok(same, "same seed, same sequence")
t.is(select(1, nl.rng(123):seed()), 123, "seed() reports the seed")
t.ok(tostring(nl.rng(5)) == "rng(seed=5, stream=0)", "tostring")
local r = nl.rng(1)
local okr = true
for _ = 1, 1000 do
  local v = r:int(3, 5); okr = okr and v >= 3 and v <= 5 and math.type(v) == "integer"
end
t.ok(okr, "int(lo, hi) inclusive integers")
for _ = 1, 1000 do local v = r:int(6); okr = okr and v >= 1 and v <= 6 end
t.ok(okr, "int(n) in 1..n")
local u = r:uniform(2, 4); t.ok(u >= 2 and u < 4, "uniform(a, b)")
local p = r:permutation(50); table.sort(p)
local perm = #p == 50
for i = 1, 50 do perm = perm and p[i] == i end
t.ok(perm, "permutation(n) holds 1..n")
local c = r:choice({ "x", "y", "z" }, 2)
t.ok(#c == 2 and c[1] ~= c[2], "choice(t, k) without replacement")
local s = r:shuffle({ 1, 2, 3, 4 }); table.sort(s)
t.is(table.concat(s, ","), "1,2,3,4", "shuffle keeps the elements")
local c1 = r:clone(); t.is(c1:uniform(), r:uniform(), "clone continues identically")
local child = r:split(); t.ok(child:uniform() ~= r:uniform(), "split gives another stream")
local s1 = nl.rng(9, 1):uniform(); t.ok(s1 ~= nl.rng(9, 0):uniform(), "streams differ")
nl.seed(11); local d1 = nl.rng(11):uniform()
t.ok(d1 == nl.rng(11):uniform(), "nl.seed reseeds the default")
t.error_is(function() nl.rng(1.5) end, "bad argument #1 to 'rng' (seed must be an integer)", "float seed")
t.error_is(function() nl.rng("x") end, "bad argument #1 to 'rng' (integer expected, got string)", "string seed")
t.error_is(function() r:int(5, 4) end, "bad argument #2 to 'int' (interval is empty)", "empty interval")
t.error_is(function() r:choice({}) end, "bad argument #1 to 'choice' (table is empty)", "empty choice")
t.error_is(function() r.uniform(42) end, "bad argument #1 to 'uniform' (naslab.Rng expected, got number)", "wrong self")
t.done()
