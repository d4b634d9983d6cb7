-- SPDX-License-Identifier: GPL-3.0-or-later
-- Lab 1: search spaces and encodings.
--
-- Question: NAS-Bench-201 has 5^6 = 15,625 cells. How many of them are
-- really different networks, and what does an encoding see of a cell?
--
-- Run:  naslab examples/lab1-spaces.lua     (headless, a few seconds)
--   or  dofile("examples/lab1-spaces.lua") at the workbench prompt.
local sp = nl.space("nb201")
print(string.format("NAS-Bench-201: %d cells, %d distinct networks", sp:size(), sp:distinct()))

-- 1. Dead edges. An edge into a node that no path reaches, or out of a node
-- whose output is never used, computes nothing. The canonical form writes
-- such edges as `none`. Look at these two cells: what is the difference?
local a = sp:parse("|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|")
local b = sp:parse("|avg_pool_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|")
print("a  =", a, "\n   canonical", a:canonical())
print("b  =", b, "\n   canonical", b:canonical())
print("a and b are the same network:", tostring(a:canonical()) == tostring(b:canonical()))

-- 2. How many cells fall into each class? Count the class sizes.
local size = {}
for c in sp:iter() do
  local k = tostring(c:canonical())
  size[k] = (size[k] or 0) + 1
end
local hist = {}
for _, n in pairs(size) do hist[n] = (hist[n] or 0) + 1 end
local ks = {}
for n in pairs(hist) do ks[#ks + 1] = n end
table.sort(ks)
print("cells per distinct network: how many networks have that many cells")
for _, n in ipairs(ks) do io.write(string.format("  %4d: %d\n", n, hist[n])) end

-- 3. Encodings: what a predictor sees. One-hot gives an edge-by-op table;
-- the path encoding lists which input-to-output paths exist with which ops;
-- ReNAS's tensor adds per-edge FLOPs and parameters.
local c = sp:parse("|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|")
local function nonzeros(t)
  local n = 0
  for _, v in ipairs(t:totable()) do if v ~= 0 then n = n + 1 end end
  return n
end
for _, e in ipairs { "onehot", "path", "renas" } do
  local t = c:encode(e)
  print(string.format("%-6s shape %-8s nonzeros %d", e, table.concat(t:shape(), "x"), nonzeros(t)))
end

-- 4. Cost: parameters and FLOPs of the benchmark network (C=16, N=5, 32x32).
local best_p, worst_p = math.huge, 0
for cell in sp:iter() do
  local p = cell:params()
  best_p, worst_p = math.min(best_p, p), math.max(worst_p, p)
end
print(string.format("parameters range from %.3fM to %.3fM", best_p / 1e6, worst_p / 1e6))
-- Observe: 15,625 strings name 8,765 networks, and a handful of degenerate
-- networks have hundreds of names each. A search or a predictor that ignores
-- this wastes queries on duplicates and sees "different" cells with one
-- accuracy.
