-- SPDX-License-Identifier: GPL-3.0-or-later
-- nl.proxy and nl.proxies: the listing, argument errors with their exact
-- messages, then (when Debian's dataset-fashion-mnist is installed) scores on
-- Fashion-MNIST minibatches: params and flops against naslab's own
-- benchmark, determinism, strings and naslab.Arch alike, the all-none cell.
local t = require "tap"

local top = os.getenv("top_srcdir")
if not top then
  local src = debug and debug.getinfo(1, "S").source or "@./tests/lua/x.lua"
  top = src:match("^@(.*)/tests/lua/[^/]*$") or "."
end
local CELL = "|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|none~2|"
local NONE = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"

local names = {}
for i, p in ipairs(nl.proxies()) do
  names[i] = p.name
  t.ok(type(p.title) == "string" and #p.title > 10 and type(p.uses_batch) == "boolean", "nl.proxies()[" .. i .. "]: "
    .. p.name .. " has a title and uses_batch")
end
t.is(table.concat(names, ","), "naswot,synflow,grad_norm,snip,params,flops", "nl.proxies() names, in order")

t.error_is(function() nl.proxy("nope", CELL) end,
  "bad argument #1 to 'proxy' (unknown proxy 'nope' (known: naswot, synflow, grad_norm, snip, params, flops))",
  "unknown proxy lists the known ones")
t.error_is(function() nl.proxy() end, "bad argument #1 to 'proxy' (string expected, got no value)", "no name")
t.error_is(function() nl.proxy("naswot", 42) end,
  "bad argument #2 to 'proxy' (an nb201 cell (naslab.Arch or string) expected, got number)", "arch of the wrong type")
t.error_like(function() nl.proxy("naswot", "|conv~0|") end, "bad argument #2 to 'proxy' (bad nb201 cell at character 2",
  "bad cell string", true)
t.error_is(function() nl.proxy("naswot", nl.space("nb101"):spec({ { 0, 1 }, { 0, 0 } }, { "input", "output" })) end,
  "bad argument #2 to 'proxy' (expected an nb201 arch, got an nb101 arch)", "nb101 arch")
t.error_is(function() nl.proxy("naswot", CELL, {}) end,
  "bad argument #3 to 'proxy' (a data set (naslab.Dataset) expected, got table)", "data of the wrong type")
local fixture = assert(nl.data.idx{ images = top .. "/tests/data/idx_images.idx.gz", labels = top .. "/tests/data/idx_labels.idx" })
t.error_is(function() nl.proxy("naswot", CELL, fixture) end,
  "bad argument #3 to 'proxy' (images must be square, got 2x3)", "non-square images")

local fmdir = nl.data.fashion_mnist_dir()
local f = io.open(fmdir .. "/train-labels-idx1-ubyte.gz", "rb")
if not f then
  t.diag("skipping scores: " .. fmdir .. " has no Fashion-MNIST")
  t.done()
end
f:close()

-- The benchmark's recipe (data/README.md): normalised, padded to 32, 2x2 means.
local tr = assert(nl.data.fashion_mnist{ split = "train", limit = 300, seed = 0, pad = 2, normalize = true }):downsample(2)
local raw = assert(nl.data.fashion_mnist{ split = "test", limit = 10, normalize = true }):downsample(2)
t.error_is(function() nl.proxy("naswot", CELL, raw) end,
  "bad argument #3 to 'proxy' (image size 14 is not a multiple of 4 (pad or downsample it))", "14x14 images")
t.error_is(function() nl.proxy("naswot", CELL, tr, { batch = 500 }) end,
  "bad argument #4 to 'proxy' (batch 500 is larger than the data (300 examples))", "batch larger than the data")
t.error_is(function() nl.proxy("naswot", CELL, tr, { batch = 1 }) end,
  "bad argument #4 to 'proxy' (batch must be an integer in 2..1048576, got 1)", "batch 1")
t.error_like(function() nl.proxy("naswot", CELL, tr, { bacth = 64 }) end,
  "bad argument #4 to 'proxy' (unknown option 'bacth' (known: batch, seed, C, N, classes, threads)", "unknown option", true)
t.ok(nl.proxy("params", CELL, tr, { batch = 500 }) > 0, "params reads no minibatch: any batch is accepted")

-- params and flops of C=8, N=2 at 16x16 are the columns of naslab's own benchmark.
local b = assert(nl.bench.load())
local archs = b:archs()
local same_p, same_f = 0, 0
for i = 1, 20 do
  local a = archs[i * 37]
  if nl.proxy("params", a, tr, { C = 8, N = 2 }) == b:query(a, "params") then same_p = same_p + 1 end
  if nl.proxy("flops", a, tr, { C = 8, N = 2 }) == b:query(a, "flops") then same_f = same_f + 1 end
end
t.is(same_p, 20, "params equals the benchmark's params column for 20 of its cells")
t.is(same_f, 20, "flops equals the benchmark's flops column for 20 of its cells")

local O = { C = 4, N = 1, batch = 64, threads = 1, seed = 3 }
for _, n in ipairs(names) do
  local v1 = nl.proxy(n, CELL, tr, O)
  local v2 = nl.proxy(n, nl.space("nb201"):parse(CELL), tr, O)
  t.ok(v1 == v2 and v1 == v1 and v1 > -math.huge and v1 < math.huge,
    string.format("%s: finite, the same for a string and a naslab.Arch, and repeatable (%.6g)", n, v1))
end
local o2 = { C = 4, N = 1, batch = 64, threads = 1, seed = 4 }
t.ok(nl.proxy("naswot", CELL, tr, O) ~= nl.proxy("naswot", CELL, tr, o2), "naswot: another seed, another score")
t.is(nl.proxy("naswot", NONE, tr, O), -math.huge, "all-none cell: naswot is -inf (K is singular)")
t.is(nl.proxy("synflow", NONE, tr, O), 0, "all-none cell: synflow is 0")
local conv = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
t.ok(nl.proxy("naswot", conv, tr, O) > nl.proxy("naswot", NONE, tr, O), "naswot ranks all-conv above all-none")
t.done()
