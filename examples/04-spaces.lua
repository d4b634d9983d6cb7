-- SPDX-License-Identifier: GPL-3.0-or-later
-- The three search spaces: parse, count, encode, mutate.
local nb201 = nl.space("nb201")
local a = nb201:parse("|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|")
print("nb201 cells:", nb201:size(), "distinct functions:", nb201:distinct())
print("index", a:index(), "params", a:params(), "MACs", a:flops())
print("100-class head params", a:params { classes = 100 })
print("onehot encoding shape", table.concat(a:encode("onehot"):shape(), "x"),
  "renas", table.concat(a:encode("renas"):shape(), "x"))
local b = a:mutate(nl.rng(3))
print("a mutant:", b)

-- NAS-Bench-101: a cell from its adjacency matrix and ops; the official hash.
local nb101 = nl.space("nb101")
local c = nb101:spec({
  { 0, 1, 0, 0, 1, 1, 0 },
  { 0, 0, 1, 0, 0, 0, 0 },
  { 0, 0, 0, 1, 0, 0, 1 },
  { 0, 0, 0, 0, 0, 1, 0 },
  { 0, 0, 0, 0, 0, 1, 0 },
  { 0, 0, 0, 0, 0, 0, 1 },
  { 0, 0, 0, 0, 0, 0, 0 },
}, { "input", "conv3x3-bn-relu", "maxpool3x3", "conv3x3-bn-relu", "conv3x3-bn-relu", "conv1x1-bn-relu", "output" })
print("nb101 hash", c:hash(), "params", c:params(), "FLOPs", c:flops())

-- MobileNetV3 (OFA): a random subnet and its cost at its resolution.
local m = nl.space("mbv3"):sample(nl.rng(5))
print(m)
print(string.format("MAdds %.1fM, params %.2fM", m:flops() / 1e6, m:params() / 1e6))
