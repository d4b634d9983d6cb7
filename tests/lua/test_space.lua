-- SPDX-License-Identifier: GPL-3.0-or-later
-- test_space.lua - the Lua face of search spaces: nl.space/nl.spaces, parsing
-- and printing, 0-based at/index, iteration, random operators, costs against
-- published NAS-Bench-201 figures, encodings as tensors, and the exact error
-- messages.
local t = require "tap"
local nl = require "naslab"

-- registry --------------------------------------------------------------
t.is(table.concat(nl.spaces(), ","), "nb201,nb101,mbv3", "nl.spaces lists the registry")
t.error_is(function() nl.space("foo") end,
  "bad argument #1 to 'space' (unknown space 'foo' (known: nb201, nb101, mbv3))", "unknown space")

local sp = nl.space("nb201")
t.is(sp:name(), "nb201", "name")
t.is(sp:size(), 15625, "size")
t.ok(math.type(sp:size()) == "integer", "size is an integer")
t.ok(sp == nl.space("nb201"), "spaces compare equal")
t.is(table.concat(sp:encodings(), ","), "onehot,path,renas,renas_onehot", "encodings")

-- text ------------------------------------------------------------------
local readme = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"
local a = sp:parse(readme)
t.is(tostring(a), readme, "tostring prints the cell string")
t.is(a:index(), 11791, "index: base-5 digits 3,3,4,1,3,1")
t.ok(sp:at(11791) == a, "at(index) is the same cell (0-based)")
t.ok(sp:at(0) == sp:parse("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"), "at(0) is the empty cell")
t.is(sp:at(15624):index(), 15624, "last index")
t.ok(a:space() == sp, "a:space()")
t.error_is(function() sp:parse("|conv~0|") end,
  "bad argument #1 to 'parse' (bad nb201 cell at character 2: expected an operation (none, skip_connect, "
  .. "nor_conv_1x1, nor_conv_3x3, avg_pool_3x3), found 'conv')", "parse error names the position")
t.error_is(function() sp:parse("|none~0|+|none~0|none~1|+|none~0|none~1|none~2") end,
  "bad argument #1 to 'parse' (bad nb201 cell at character 47: expected '|', found end of string)",
  "truncated string")
t.error_is(function() sp:at(15625) end,
  "bad argument #1 to 'at' (nb201 index 15625 out of range 0..15624)", "at out of range")

-- iteration -------------------------------------------------------------
local n, ordered = 0, true
for c in sp:iter() do
  if c:index() ~= n then ordered = false end
  n = n + 1
end
t.is(n, 15625, "iter visits every cell")
t.ok(ordered, "iter runs in index order")
t.error_is(function() nl.space("mbv3"):iter() end, "space mbv3 cannot be enumerated", "mbv3 has no iter")

-- random operators --------------------------------------------------------
local function digits(x)
  local d, i = {}, x:index()
  for e = 6, 1, -1 do d[e] = i % 5; i = i // 5 end
  return d
end
local r = nl.rng(5)
local one_change = true
for _ = 1, 500 do
  local x = sp:sample(r)
  local y = x:mutate(r)
  local dx, dy, k = digits(x), digits(y), 0
  for e = 1, 6 do if dx[e] ~= dy[e] then k = k + 1 end end
  if k ~= 1 then one_change = false end
end
t.ok(one_change, "mutate changes exactly one edge")
local s1, s2 = {}, {}
local r1, r2 = nl.rng(77), nl.rng(77)
for i = 1, 20 do s1[i] = sp:sample(r1):index(); s2[i] = sp:sample(r2):index() end
t.is(table.concat(s1, ","), table.concat(s2, ","), "same seed, same samples")
local p, q = sp:at(0), sp:at(15624)
local c1 = sp:crossover(p, q, nl.rng(3))
local c2 = p:crossover(q, nl.rng(3))
t.ok(c1 == c2, "sp:crossover and a:crossover agree")
local only = true
for _, d in ipairs(digits(c1)) do if d ~= 0 and d ~= 4 then only = false end end
t.ok(only, "crossover takes each edge from a parent")
t.error_is(function() sp:crossover(p, nl.space("mbv3"):sample(r)) end,
  "bad argument #2 to 'crossover' (expected an nb201 arch, got an mbv3 arch)", "crossover across spaces")

-- canonical forms ---------------------------------------------------------
local x = sp:parse("|nor_conv_3x3~0|+|nor_conv_1x1~0|none~1|+|none~0|skip_connect~1|avg_pool_3x3~2|")
local y = sp:parse("|nor_conv_1x1~0|+|nor_conv_3x3~0|none~1|+|none~0|avg_pool_3x3~1|skip_connect~2|")
t.ok(x ~= y and x:canonical() == y:canonical(), "node swap maps to one canonical form")
t.is(sp:distinct(), 8765, "distinct cells (as counted independently in tests/test_nb201.c)")

-- costs (published figures, see tests/test_nb201.c) --------------------------
local z = sp:parse("|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|")
t.is(z:params(), 129306, "params of benchmark idx 0")
t.is(z:flops(), 15647370, "FLOPs of benchmark idx 0 (15.64737 M)")
t.is(z:flops{classes = 100}, 15653220, "CIFAR-100 head (15.65322 M)")
t.is(z:flops{classes = 120, resolution = 16}, 3919480, "ImageNet16-120 (3.91948 M)")
t.is(z:params{classes = 100}, 129306 + 90 * 65, "params with 100 classes")
t.error_is(function() z:params{foo = 1} end,
  "bad argument #1 to 'params' (unknown option 'foo' (known: classes, C, N, resolution, width))", "unknown option")
t.error_is(function() z:flops{classes = 0} end,
  "bad argument #1 to 'flops' (option 'classes' must be a positive integer)", "bad option value")

-- encodings ---------------------------------------------------------------
local e = a:encode("onehot")
t.is(table.concat(e:shape(), "x"), "30", "onehot shape")
t.is(e[4], 1.0, "edge 1 is nor_conv_3x3 (index 3, Lua position 4)")
t.is(e:sum(), 6.0, "six ones")
t.is(table.concat(a:encode("path"):shape(), "x"), "155", "path shape")
t.is(a:encode("path"):sum(), 4.0, "four paths")
local rn = a:encode("renas")
t.is(table.concat(rn:shape(), "x"), "31x4x4", "renas shape")
t.is(rn:get(1, 1, 2), 4.0, "T[0][1] = nor_conv_3x3 + 1")
t.is(rn:get(2, 1, 2), 2359296, "F_1[0][1] = 2,359,296 MACs (raw count)")
local ro = a:encode("renas_onehot")
t.is(table.concat(ro:shape(), "x"), "35x4x4", "renas_onehot shape")
t.is(ro:get(4, 1, 2), 1.0, "channel of nor_conv_3x3 (op 3) marks edge 1<-0")
t.is(ro:get(6, 1, 2), 2359296, "then the cost channels of renas")
t.error_is(function() a:encode("bogus") end,
  "bad argument #1 to 'encode' (unknown nb201 encoding 'bogus' (known: onehot, path, renas, renas_onehot))",
  "unknown encoding")
local all = {}
for c in sp:iter() do all[#all + 1] = c end
local big = sp:encode(all, "onehot")
t.is(table.concat(big:shape(), "x"), "15625x30", "batched encoding of the whole space")
t.is(big:sum(), 15625 * 6.0, "one op per edge per cell")
t.is(big:get(11792, 4), 1.0, "row 11792 is cell 11791")
t.error_is(function() sp:encode({a, 5}, "onehot") end,
  "bad argument #1 to 'encode' (element 2 is not an nb201 arch)", "batch with a non-arch")

-- nb101-only methods ------------------------------------------------------
t.error_is(function() a:hash() end, "hash is defined for nb101 cells only", "hash on nb201")
t.error_is(function() sp:spec({{0}}, {"input"}) end, "spec is defined for nb101 only", "spec on nb201")

-- mbv3 --------------------------------------------------------------------
local mb = nl.space("mbv3")
t.ok(mb:size() > 5e20 and mb:size() < 5.5e20, "mbv3 size 25 * 7371^5")
local s = "r160:d2,3,4,2,3:k3,5,7,7,7,3,5,3,3,5,7,5,7,3:e3,4,6,6,6,3,4,3,4,6,6,3,4,6"
local m = mb:parse(s)
t.is(tostring(m), s, "mbv3 round trip")
local big3 = mb:parse("r224:d4,4,4,4,4:k7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7:e6,6,6,6,6,6,6,6,6,6,6,6,6,6,6,6,6,6,6,6")
t.is(big3:params(), 7664760, "largest OFA subnet params")
t.is(big3:flops(), 566170656, "largest OFA subnet MAdds")
t.ok(big3:flops{resolution = 128} < big3:flops(), "resolution option")
t.ok(big3:params{width = 1.2} > big3:params(), "width 1.2 is larger")
t.error_is(function() mb:parse("r224:d2,5") end,
  "bad argument #1 to 'parse' (bad mbv3 arch at character 9: expected depth 2, 3 or 4, found '5')", "mbv3 parse error")
t.is(table.concat(m:encode("int"):shape(), "x"), "46", "mbv3 int shape")
t.is(m:encode("int")[1], 160.0, "int encoding starts with the resolution")
t.is(m:encode("onehot"):sum(), 29.0, "onehot: 14 k + 14 e + resolution")
local rr = nl.rng(9)
local ms = {}
for i = 1, 50 do ms[i] = mb:sample(rr) end
local ok_rt = true
for i = 1, 50 do if mb:parse(tostring(ms[i])) ~= ms[i] then ok_rt = false end end
t.ok(ok_rt, "sampled subnets round-trip")
t.is(table.concat(mb:encode(ms, "onehot"):shape(), "x"), "50x145", "batched mbv3 onehot")
t.ok(ms[1]:mutate(rr) ~= ms[1], "mutation gives a different subnet")
t.error_is(function() ms[1]:index() end, "space mbv3 has no index", "mbv3 has no index")

t.done()
