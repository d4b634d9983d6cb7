-- SPDX-License-Identifier: GPL-3.0-or-later
-- Lab 4: multi-objective search and Pareto fronts.
--
-- Question: a device needs small networks. Which cells are worth keeping
-- when both accuracy and FLOPs count, and how much of the true front does a
-- multi-objective search find with 100 queries, compared with a search that
-- only looks at accuracy?
--
-- naslab's own benchmark (1,000 NAS-Bench-201 cells on Fashion-MNIST):
-- objectives test_acc (maximise) and flops (minimise). The Pareto pane of
-- the workbench shows the points and the front as they come in.
local b = nl.bench.load()
local cells = b:archs()
local sense = { "max", "min" }
local function point(a) return { b:query(a, "test_acc"), b:query(a, "flops") / 1e6 } end

-- 1. The true front of the table.
local all = {}
for i, a in ipairs(cells) do all[i] = point(a) end
local front = nl.pareto.front(all, sense)
table.sort(front, function(i, j) return all[i][2] < all[j][2] end)
local ref = { 70, 0 }
for _, p in ipairs(all) do ref[2] = math.max(ref[2], p[2]) end
ref[2] = ref[2] * 1.05
local hv_true = nl.pareto.hypervolume(all, ref, sense)
print(string.format("the table's front: %d of %d cells, hypervolume %.2f", #front, #cells, hv_true))
for _, i in ipairs(front) do
  print(string.format("  %6.2f%%  %6.2f MFLOPs  %s", all[i][1], all[i][2], tostring(cells[i])))
end
nl.emit("pareto.clear")
nl.emit("pareto.points", { x = (function() local x = {} for i, p in ipairs(all) do x[i] = p[2] end return x end)(),
                           y = b:column("test_acc"), series = "table" })

-- 2. Two searches with 100 queries each, 10 runs: one keeps the best
-- accuracy (single objective), the other keeps the non-dominated set
-- (multi-objective: sample parents from the current front, mutate).
local function search(multi, seed)
  local rng, seen, pts, archs = nl.rng(seed), {}, {}, {}
  local function try(a)
    local k = tostring(a)
    if seen[k] or not pcall(b.query, b, a, "test_acc") then return end
    seen[k] = true
    archs[#archs + 1], pts[#pts + 1] = a, point(a)
  end
  while #pts < 20 do try(cells[rng:int(1, #cells)]) end
  local guard = 0
  while #pts < 100 and guard < 100000 do
    guard = guard + 1
    local parent
    if multi then
      local f = nl.pareto.front(pts, sense)
      parent = archs[f[rng:int(1, #f)]]
    else
      local best = 1
      for i = 2, #pts do if pts[i][1] > pts[best][1] then best = i end end
      parent = archs[best]
    end
    try(parent:mutate(rng):canonical())
    if guard % 10 == 0 then try(cells[rng:int(1, #cells)]) end -- keep exploring
  end
  return nl.pareto.hypervolume(pts, ref, sense), #nl.pareto.front(pts, sense)
end

for _, multi in ipairs { false, true } do
  local hv, n = 0, 0
  for s = 1, 10 do
    local h, f = search(multi, s)
    hv, n = hv + h, n + f
  end
  print(string.format("%-16s mean hypervolume %.2f (%.1f%% of the table's), mean front size %.1f",
                      multi and "multi-objective" or "accuracy only", hv / 10, 100 * hv / 10 / hv_true, n / 10))
end
-- Observe: the front is short and the cheapest cells on it are very cheap;
-- the accuracy-only search spends its queries near the most accurate cells
-- and covers less of the front. Try other objectives: params instead of
-- flops, or train_seconds (the cost of training a cell).
