-- SPDX-License-Identifier: GPL-3.0-or-later
-- test_tensor.lua - the Lua face of nl.tensor: constructors, 1-based indexing
-- and views that share memory, operators with broadcasting, matmul against a
-- triple loop in Lua, reductions against direct loops, printing, and the exact
-- error messages.
local t = require "tap"
local nl = require "naslab"
local T = nl.tensor

local function shape_is(x, want, name)
  return t.is(table.concat(x:shape(), "x"), want, name)
end

-- Largest |x - y| over two tensors of the same shape, read element by element.
local function maxdiff(x, y)
  local a, b = x:reshape(-1), y:reshape(-1)
  local d = 0
  for i = 1, #a do d = math.max(d, math.abs(a[i] - b[i])) end
  return d
end

-- constructors ---------------------------------------------------------
local a = T{{1, 2, 3}, {4, 5, 6}}
shape_is(a, "2x3", "nested table shape")
t.is(a:dim(), 2, "dim")
t.is(a:numel(), 6, "numel")
t.is(#a, 2, "# is the size of dimension 1")
t.is(a:size(2), 3, "size(2)")
t.is(a:get(2, 3), 6.0, "get(2, 3)")
t.ok(T.is(a) and not T.is({}), "nl.tensor.is")
t.is(tostring(a), "tensor[2x3]{{1, 2, 3}, {4, 5, 6}}", "tostring")
t.is(tostring(T{0.5, -2, 1e-7}), "tensor[3]{0.5, -2, 1e-07}", "tostring of a vector")
t.is(tostring(T.zeros(2, 0)), "tensor[2x0]{{}, {}}", "tostring of an empty tensor")
t.is(tostring(T.zeros(2, 3)), "tensor[2x3]{{0, 0, 0}, {0, 0, 0}}", "zeros(2, 3)")
t.is(tostring(T.zeros{3}), "tensor[3]{0, 0, 0}", "zeros{3}")
t.is(tostring(T(2, 2)), "tensor[2x2]{{0, 0}, {0, 0}}", "nl.tensor(2, 2) is zeros")
t.is(tostring(T.ones(1, 2)), "tensor[1x2]{{1, 1}}", "ones")
t.is(tostring(T.full({2}, 7)), "tensor[2]{7, 7}", "full(shape, v)")
t.is(tostring(T.full(2, 1, 3.5)), "tensor[2x1]{{3.5}, {3.5}}", "full(n1, n2, v)")
t.is(tostring(T.arange(4)), "tensor[4]{0, 1, 2, 3}", "arange(n)")
t.is(tostring(T.arange(1, 2, 0.25)), "tensor[4]{1, 1.25, 1.5, 1.75}", "arange(a, b, step)")
t.is(tostring(T.arange(3, 1)), "tensor[0]{}", "empty arange")
local big = T.arange(2000):reshape(20, 100)
local small = tostring(big:slice(1, 1, 2)) -- 200 elements
t.ok(small:find("{0, 1, 2, 3, 4, 5,", 1, true) and not small:find("...", 1, true)
     and small:sub(-20) == "196, 197, 198, 199}}", "small tensors print whole")
t.ok(tostring(big):find("{0, 1, 2, ..., 97, 98, 99}, {100", 1, true) ~= nil, "big tensors elide columns")
t.ok(tostring(big):find("}, ..., {1700", 1, true) ~= nil, "big tensors elide rows")
t.ok(#tostring(T.zeros(4, 4, 4, 4, 4, 4)) < 4000, "a 6-d tensor prints in a few lines")

local c = T(a)
c[1][1] = 100
t.is(a:get(1, 1), 1.0, "nl.tensor(t) copies")
local rows = a:totable()
t.is(#rows, 2, "totable rows")
t.is(rows[2][3], 6.0, "totable element")

local r1 = T.randn({500}, nl.rng(7))
local r2 = T.randn(500, nl.rng(7))
t.ok(r1:equal(r2), "randn with the same seed repeats")
t.ok(math.abs(r1:mean()) < 0.2, "randn mean near 0")
local sq = (r1 - r1:mean()) * (r1 - r1:mean())
t.ok(math.abs(math.sqrt(sq:mean()) - 1) < 0.15, "randn std near 1")
local u = T.rand(3, 100, nl.rng(1))
t.ok(u:min() >= 0 and u:max() < 1, "rand in [0, 1)")
t.ok(not T.rand(10):equal(T.rand(10)), "default rng advances")

-- indexing and views -----------------------------------------------------
local m = T{{1, 2, 3}, {4, 5, 6}, {7, 8, 9}}
local row = m[2]
t.is(tostring(row), "tensor[3]{4, 5, 6}", "m[2] is a row")
t.is(m[2][3], 6.0, "m[2][3]")
t.is(m[-1][-1], 9.0, "negative indices count from the end")
row[1] = 40
t.is(m:get(2, 1), 40.0, "writes through a row view")
m[3] = 0
t.is(tostring(m[3]), "tensor[3]{0, 0, 0}", "m[i] = number fills the row")
m[3] = T{7, 8, 9}
t.is(m:get(3, 2), 8.0, "m[i] = tensor copies the row")
m:set(1, 1, -1)
t.is(m[1][1], -1.0, "set")
t.is(m:set(1, 1, 1), m, "set returns the tensor")

local col = m:slice(2, 2, 3)
shape_is(col, "3x2", "slice(2, 2, 3) is inclusive")
t.is(tostring(col), "tensor[3x2]{{2, 3}, {5, 6}, {8, 9}}", "slice values")
t.ok(not col:is_contiguous(), "column slice is not contiguous")
col:fill(0)
t.is(tostring(m), "tensor[3x3]{{1, 0, 0}, {40, 0, 0}, {7, 0, 0}}", "fill through a slice")
t.is(tostring(T.arange(10):slice(1, 2, -1, 3)), "tensor[3]{1, 4, 7}", "slice with a step and a negative end")
t.is(tostring(T.arange(4):slice(1, 3, 2)), "tensor[0]{}", "empty slice")
t.is(tostring(T.arange(6):reshape(2, 3):select(2, 3)), "tensor[2]{2, 5}", "select a column")

local b = T.arange(6):reshape(2, 3)
local bt = b:t()
shape_is(bt, "3x2", "t()")
t.is(tostring(bt), "tensor[3x2]{{0, 3}, {1, 4}, {2, 5}}", "transpose values")
t.ok(bt:transpose():equal(b), "transpose() of 2-d is t()")
bt[1][2] = 30
t.is(b:get(2, 1), 30.0, "transpose shares storage")
local p = T.arange(24):reshape(2, 3, 4):permute(3, 1, 2)
shape_is(p, "4x2x3", "permute")
t.is(p:get(4, 2, 3), 23.0, "permute element")
t.ok(T.arange(24):reshape(2, 3, 4):transpose(1, 3):equal(T.arange(24):reshape(2, 3, 4):permute{3, 2, 1}),
     "transpose(1, 3) is permute{3, 2, 1}")

local flat = T.arange(6)
local v = flat:view(2, -1)
shape_is(v, "2x3", "view with -1")
v[2][1] = 99
t.is(flat[4], 99.0, "view shares storage")
local rs = flat:reshape{3, 2}
rs[1][1] = -7
t.is(flat[1], -7.0, "reshape of a contiguous tensor is a view")
local rt = bt:reshape(6)
rt[1] = 1000
t.ok(bt[1][1] ~= 1000, "reshape of a transpose is a copy")
t.is(tostring(bt:contiguous():view(6)), "tensor[6]{0, 30, 1, 4, 2, 5}", "contiguous, then view")
local cl = b:clone()
cl:fill(5)
t.ok(b:sum() ~= 30, "clone is independent")
local dst = T.zeros(3, 2)
t.is(dst:copy(bt), dst, "copy returns the tensor")
t.ok(dst:equal(bt), "copy from a transposed view")

-- arithmetic ------------------------------------------------------------
local x = T{{1, 2, 3}, {4, 5, 6}}
local y = T{10, 20, 30}
t.is(tostring(x + y), "tensor[2x3]{{11, 22, 33}, {14, 25, 36}}", "add with broadcasting")
t.is(tostring(x - T{{1}, {2}}), "tensor[2x3]{{0, 1, 2}, {2, 3, 4}}", "sub with a column")
t.is(tostring(x * 2), "tensor[2x3]{{2, 4, 6}, {8, 10, 12}}", "tensor * number")
t.is(tostring(1 - x), "tensor[2x3]{{0, -1, -2}, {-3, -4, -5}}", "number - tensor")
t.is(tostring(12 / x), "tensor[2x3]{{12, 6, 4}, {3, 2.4, 2}}", "number / tensor")
t.is(tostring(x / y), "tensor[2x3]{{0.1, 0.1, 0.1}, {0.4, 0.25, 0.2}}", "div")
t.is(tostring(-x), "tensor[2x3]{{-1, -2, -3}, {-4, -5, -6}}", "unary minus")
t.is(tostring(T{{1}, {2}} * T{1, 10}), "tensor[2x2]{{1, 10}, {2, 20}}", "outer product by broadcasting")

local funcs = {
  exp = math.exp, log = math.log, sqrt = math.sqrt, abs = math.abs, neg = function(z) return -z end,
  relu = function(z) return z > 0 and z or 0 end,
  tanh = function(z) return (math.exp(z) - math.exp(-z)) / (math.exp(z) + math.exp(-z)) end,
  sigmoid = function(z) return 1 / (1 + math.exp(-z)) end,
}
local pos = T{0.25, 1, 2.5, 7}
local mixed = T{-3, -0.5, 0, 0.5, 3}
for name, f in pairs(funcs) do
  local src = (name == "log" or name == "sqrt") and pos or mixed
  local got, err = src[name](src), 0
  for i = 1, #src do err = math.max(err, math.abs(got[i] - f(src[i])) / math.max(1, math.abs(f(src[i])))) end
  t.ok(err < 1e-6, name .. " matches math." .. name)
end

-- matmul ----------------------------------------------------------------
local rng = nl.rng(42)
local function lua_matmul(A, B)
  local n1, k, n2 = A:size(1), A:size(2), B:size(2)
  local out = T.zeros(n1, n2)
  for i = 1, n1 do
    for j = 1, n2 do
      local s = 0
      for q = 1, k do s = s + A:get(i, q) * B:get(q, j) end
      out:set(i, j, s)
    end
  end
  return out
end
local worst = 0
for trial = 1, 30 do
  local n1, k, n2 = rng:int(1, 9), rng:int(1, 9), rng:int(1, 9)
  if trial % 5 == 0 then n1 = 1 end
  local A = trial % 2 == 0 and T.randn({k, n1}, rng):t() or T.randn({n1, k}, rng)
  local B = trial % 3 == 0 and T.randn({n2, k}, rng):t() or T.randn({k, n2}, rng)
  if trial % 7 == 0 then B = T.randn({k, 2 * n2}, rng):slice(2, 1, -1, 2) end
  worst = math.max(worst, maxdiff(A:matmul(B), lua_matmul(A, B)))
end
t.ok(worst < 1e-5, "matmul matches a Lua triple loop on 30 random cases (transposed, sliced, 1xN)")
local A = T{{1, 2}, {3, 4}, {5, 6}}
t.is(tostring(T.matmul(A, T{{1, 0}, {0, 1}})), tostring(A), "nl.tensor.matmul with the identity")
t.is(tostring(A:matmul(T{1, 1})), "tensor[3]{3, 7, 11}", "matrix @ vector")
t.is(tostring(T{1, 1, 1}:matmul(A)), "tensor[2]{9, 12}", "vector @ matrix")
t.is(T{1, 2, 3}:matmul(T{4, 5, 6}), 32.0, "vector @ vector is the dot product")
local bA, bB = T.randn({3, 2, 4}, rng), T.randn({3, 4, 5}, rng)
local bO = bA:matmul(bB)
shape_is(bO, "3x2x5", "batched matmul shape")
t.ok(maxdiff(bO[2], lua_matmul(bA[2], bB[2])) < 1e-5, "batched matmul entry 2")

-- reductions --------------------------------------------------------------
local R = T.randn({4, 5}, rng)
local s, s1, s2 = 0, {}, {}
local mx, amx = -math.huge, 0
for i = 1, 4 do
  for j = 1, 5 do
    local e = R:get(i, j)
    s = s + e
    s1[j] = (s1[j] or 0) + e
    s2[i] = (s2[i] or 0) + e
    if e > mx then mx, amx = e, (i - 1) * 5 + j end
  end
end
t.near(R:sum(), s, 1e-9, "sum")
t.near(R:mean(), s / 20, 1e-9, "mean")
t.is(R:max(), mx, "max")
t.is(R:argmax(), amx, "argmax is the 1-based row-major position")
local cs, rsum = R:sum(1), R:sum(2)
shape_is(cs, "5", "sum(1) drops dimension 1")
local e1, e2 = 0, 0
for j = 1, 5 do e1 = math.max(e1, math.abs(cs[j] - s1[j])) end
for i = 1, 4 do e2 = math.max(e2, math.abs(rsum[i] - s2[i])) end
t.ok(e1 < 1e-5 and e2 < 1e-5, "sum along each dimension matches loops")
t.ok(maxdiff(R:mean(2), rsum / 5) < 1e-6, "mean(2)")
local vals, idx = T{{3, 9, 1}, {7, 2, 8}}:max(2)
t.is(tostring(vals), "tensor[2]{9, 8}", "max(2) values")
t.is(tostring(idx), "tensor[2]{2, 3}", "max(2) 1-based positions")
t.is(tostring(T{{3, 9, 1}, {7, 2, 8}}:argmin(1)), "tensor[3]{1, 2, 1}", "argmin(1)")
local v1, i1 = T{4, 1, 6}:min(1)
t.ok(v1 == 1 and i1 == 2, "min(1) of a vector gives value and position")
t.is(T{1, 2, 3}:sum(1), 6.0, "sum(1) of a vector is a number")
t.ok(T{1, 2}:allclose(T{1, 2 + 1e-7}), "allclose")
t.ok(not T{1, 2}:allclose(T{1, 2.1}), "not allclose")
t.ok(not T{1, 2}:equal(T{{1, 2}}), "different shapes are not equal")

-- closing -----------------------------------------------------------------
local Z
do
  local z <close> = T.zeros(2)
  Z = z
end
t.is(tostring(Z), "tensor (closed)", "a closed tensor prints as closed")
t.error_is(function() return Z:sum() end, "attempt to use a closed tensor", "using a closed tensor")
Z = nil

-- errors --------------------------------------------------------------------
t.error_is(function() return nl.tensor{{1, 2}, {3}} end,
  "bad argument #1 to 'tensor' (element [2] has length 1, expected 2)", "ragged rows")
t.error_is(function() return nl.tensor{{1, 2}, {3, "x"}} end,
  "bad argument #1 to 'tensor' (element [2][2] is a string, not a number)", "non-number element")
t.error_is(function() return nl.tensor{{1, 2}, 3} end,
  "bad argument #1 to 'tensor' (element [2] is a number, not a table)", "mixed nesting")
t.error_is(function() return nl.tensor("x") end,
  "bad argument #1 to 'tensor' (table, sizes or naslab.Tensor expected, got string)", "bad constructor argument")
t.error_is(function() return T.zeros(2, -1) end,
  "bad argument #2 to 'zeros' (size must be a non-negative integer)", "negative size")
t.error_is(function() return T.zeros{2, 1.5} end,
  "bad argument #1 to 'zeros' (size 2 must be a non-negative integer)", "fractional size in a table")
t.error_is(function() return T.zeros() end,
  "bad argument #1 to 'zeros' (shape (sizes or a table of sizes) expected, got no value)", "no shape")
t.error_is(function() return T.zeros(1, 1, 1, 1, 1, 1, 1, 1, 1) end,
  "bad argument #9 to 'zeros' (a tensor has at most 8 dimensions)", "too many dimensions")
t.error_is(function() return a[3] end,
  "bad argument #2 to 'index' (index 3 out of range for dimension 1 of size 2)", "index out of range")
t.error_is(function() return a:get(1, 4) end,
  "bad argument #2 to 'get' (index 4 out of range for dimension 2 of size 3)", "get out of range")
t.error_is(function() return a:get(1) end,
  "bad argument #2 to 'get' (expected 2 indices for a 2-d tensor, got 1)", "get with too few indices")
t.error_is(function() a[1] = "x" end,
  "bad argument #3 to 'newindex' (number or naslab.Tensor expected, got string)", "assigning a string")
t.error_is(function() a[1] = T{1, 2} end,
  "bad argument #3 to 'newindex' (shapes [3] and [2] differ)", "assigning a row of the wrong shape")
t.error_is(function() return a + T{1, 2, 3, 4} end,
  "bad argument #2 to 'add' (shapes [2,3] and [4] do not broadcast)", "broadcast mismatch")
t.error_is(function() return a * "2" end,
  "bad argument #2 to 'mul' (number or naslab.Tensor expected, got string)", "arithmetic with a string")
t.error_is(function() return a:matmul(a) end,
  "bad argument #1 to 'matmul' (shapes [2,3] and [2,3] cannot be multiplied)", "matmul mismatch")
t.error_is(function() return T.matmul(a, T.zeros(2, 2, 2)) end,
  "bad argument #2 to 'matmul' (matmul needs 1-d or 2-d tensors (or two 3-d), got [2,3] and [2,2,2])",
  "matmul of 2-d and 3-d")
t.error_is(function() return a:sum(3) end,
  "bad argument #1 to 'sum' (dimension 3 out of range for a 2-d tensor)", "sum along a bad dimension")
t.error_is(function() return a:slice(1, 1, 3) end,
  "bad argument #3 to 'slice' (index 3 out of range for dimension 1 of size 2)", "slice past the end")
t.error_is(function() return a:reshape(4, 2) end,
  "bad argument #1 to 'reshape' (cannot reshape [2,3] into [4,2])", "reshape to a wrong size")
t.error_is(function() return a:t():view(6) end,
  "bad argument #1 to 'view' (view of a non-contiguous tensor [3,2] (use reshape or contiguous))",
  "view of a transpose")
t.error_is(function() return T.zeros(2, 2, 2):t() end,
  "calling 't' on bad self (expected a 2-d tensor, got 3 dimensions)", "t() of a 3-d tensor")
t.error_is(function() return T.zeros(0):max() end,
  "calling 'max' on bad self (max of an empty tensor)", "max of an empty tensor")
t.error_is(function() return a:permute(1, 1) end,
  "bad argument #1 to 'permute' (1..2 in some order expected)", "bad permutation")
t.error_is(function() return T.arange(1, 2, 0) end,
  "bad argument #3 to 'arange' (step must be a non-zero finite number)", "arange with step 0")
t.error_is(function() return T.randn(2, "x") end,
  "bad argument #2 to 'randn' (naslab.Rng expected, got string)", "randn with a bad rng")

t.done()
